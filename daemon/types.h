/* SPDX-License-Identifier: MIT */
/*
 * The daemon's shared types: the server, its active backends, its clients,
 * the sharing records and the limits. Types only, no prototypes: every
 * daemon module includes this header and the headers of the modules it
 * calls, so no module needs another's header for a type, and the include
 * graph stays without cycles. A buffer (struct buffer) is the registry's
 * entry (registry.h): the backends see it without seeing the server.
 */
#ifndef DMABUFD_TYPES_H
#define DMABUFD_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "backend/probe.h"
#include "config.h"
#include "fb_layout.h"
#include "policy.h"
#include "registry.h"

struct event_base;
struct event;
struct dmabufd_region;

/* Limits on everything a client controls. */
struct server_limits {
	uint32_t max_clients;          /* connected clients */
	uint32_t max_buffers;          /* live buffers per client */
	uint32_t max_queued_replies;   /* stop reading a client past this */
	uint32_t max_queued_bytes;     /* ... or past this many reply bytes */
	uint32_t max_protocol_errors;  /* malformed datagrams before disconnect */
	uint32_t read_budget;          /* datagrams handled per wake-up (one
					* answered request ends the wake-up) */
	uint64_t max_alloc;            /* bytes, one allocation; 0 = capacity */
	/* connections ([limits], limit.c) */
	uint32_t hello_timeout_ms;     /* a connection without Hello is closed then */
	uint32_t max_connections_per_uid; /* administrators excepted */
	uint32_t admin_connections;    /* of max_clients, kept for administrators */
};

#define SERVER_LIMITS_DEFAULT                                                  \
	((struct server_limits){                                               \
		.max_clients = 256,                                            \
		.max_buffers = 1024,                                           \
		.max_queued_replies = 64,                                      \
		.max_queued_bytes = 1u << 20,                                  \
		.max_protocol_errors = 16,                                     \
		.read_budget = 32,                                             \
		.max_alloc = 0,                                                \
		.hello_timeout_ms = 5000,                                      \
		.max_connections_per_uid = 32,                                 \
		.admin_connections = 4,                                        \
	})

/*
 * Every live buffer holds one of the daemon's fds: the buffers together
 * may hold at most @budget, what RLIMIT_NOFILE leaves after @reserve
 * (connections and the daemon's own fds; limit.c).
 */
struct fd_budget {
	uint64_t nofile;               /* RLIMIT_NOFILE at start (soft = hard) */
	uint32_t reserve;              /* fds never handed to buffers */
	uint32_t budget;               /* live buffers in all; UINT32_MAX: unset */
	uint32_t per_uid;              /* live buffers one uid owns */
};

/* Room for the reason text of one refusal (reply.h, reasonf()). */
#define REASON_MAX 160u

/*
 * Where a refusal's reason text is written. Each client has its own: its
 * requests are answered one at a time, and the text lives until the
 * refusal is packed into the reply.
 */
struct reason {
	char text[REASON_MAX];
};

/* ---- sharing (share.c; docs/SHARING.md) ---------------------------------- */

#define SHARE_TOKEN_BYTES 16u   /* 128 bits from getrandom(2) */

/*
 * One process's import of one buffer. Its client is the connection that
 * imported it, or NULL for an import restored after a restart whose
 * process has not connected again (fdstore.c watches that process).
 */
struct import {
	TAILQ_ENTRY(import) buffer_link;  /* buffer->importers, oldest first */
	TAILQ_ENTRY(import) client_link;  /* client->imports, or the orphan list */
	struct buffer *buffer;
	struct client *client;
	uint64_t imported_usec;           /* CLOCK_REALTIME, µs */
	/* the importing process, kept for a restart (fdstore.c) */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	uint64_t start;                   /* /proc/<pid>/stat field 22; 0 = unknown */
	uint32_t store_slot;              /* 1 + slot in the state memfd; 0 = not stored */
};
TAILQ_HEAD(import_list, import);

/* A live share token. */
struct share_token {
	TAILQ_ENTRY(share_token) link;    /* server->tokens */
	uint8_t secret[SHARE_TOKEN_BYTES];
	struct buffer *buffer;
	struct client *creator;
	bool single_use;
	uint64_t expires_mono_usec;       /* CLOCK_MONOTONIC, µs */
	uint64_t expires_usec;            /* CLOCK_REALTIME, µs (reported) */
	uint32_t nuids, ngids, npids;
	uint32_t *ids;                    /* uids, then gids, then pids */
};
TAILQ_HEAD(share_token_list, share_token);

struct share_counters {
	uint64_t imports_total;
	uint64_t owner_transfers;
	uint64_t quota_refusals;
	uint64_t access_refusals;
	uint64_t config_reloads;
	uint64_t config_reload_failures; /* refused reloads: old config kept */
};

/* ---- connections (server.c, reply.c) ------------------------------------- */

struct outmsg; /* a queued reply (reply.c) */
struct client;

/*
 * A uid's share of the daemon's time (server.c): the uid's connections
 * with a request waiting, served in turn, one request per turn, and the
 * service time it had, on the scheduler's virtual clock.
 */
struct flow {
	LIST_ENTRY(flow) link;       /* server.flows */
	uid_t uid;
	uint32_t refs;               /* its connections, and the scheduler while serving one */
	uint64_t vtime;              /* ns of service on the virtual clock */
	TAILQ_HEAD(, client) ready;  /* connections with a request waiting, in turn */
};

struct client {
	TAILQ_ENTRY(client) link;
	struct server *server;
	int fd;
	struct event *ev_read;
	struct event *ev_write;
	struct event *ev_hello;  /* the Hello deadline; NULL once Hello is done */
	struct ucred cred;
	char comm[16];
	bool hello_done;
	bool hello_expired;   /* the deadline passed: closed at its next turn */
	bool closing;         /* disconnected; its buffers are released over its turns */
	bool reading;         /* ev_read is armed */
	bool ready;           /* in flow->ready: a request waits for its turn */
	struct flow *flow;    /* its uid's share of the daemon's time */
	TAILQ_ENTRY(client) ready_link;
	uint32_t protocol_errors;
	struct buffer_list buffers;
	uint32_t nbuffers;
	STAILQ_HEAD(, outmsg) outq;
	uint32_t noutq;
	size_t outq_bytes;
	uint32_t queued_fds;  /* fds held by queued replies (dups: daemon fds) */
	uint64_t nreplies;    /* replies sent or queued (client_queue_reply()) */
	struct reason reason; /* text of the refusal being answered */
	/* policy and sharing */
	uint64_t serial;      /* client id in Usage replies, never reused */
	gid_t *groups;        /* supplementary groups (SO_PEERGROUPS) */
	size_t ngroups;
	struct usage usage;   /* owned (charged) and imported bytes */
	struct import_list imports;
	uint32_t nimports;
	uint32_t ntokens;     /* live tokens this client created */
};

/* ---- the server ---------------------------------------------------------- */

struct server_counters {
	uint64_t allocs_total;
	uint64_t allocs_failed;
	uint64_t releases_total;
	uint64_t compactions;        /* Compact requests served */
	uint64_t compaction_moves;   /* buffers relocated (on request or on -ENOSPC) */
	uint64_t compaction_bytes;   /* bytes relocated */
};

/* What a compaction did (server_compact()). */
struct server_compact_result {
	uint64_t planned_moves;
	uint64_t planned_bytes;
	uint64_t moves;               /* done */
	uint64_t bytes_moved;         /* done */
	uint64_t largest_free_before; /* bytes */
	uint64_t largest_free_after;  /* bytes */
};

/* Most backends active at once: kmod, dma-heap, udmabuf, memfd. */
#define SERVER_MAX_BACKENDS 4

/*
 * One active backend (docs/BACKENDS.md, "Several backends at once"). Each
 * has its own region (placement and attribute ledger view, placement.c);
 * every buffer records the one that made it (buffer.home) and release,
 * migrate, revoke, pool figures and release events go to that one.
 */
struct server_backend {
	struct server *server;
	unsigned index;             /* in server.backends[], probe order */
	struct backend *backend;    /* owned */
	struct backend_caps caps;
	struct dmabufd_region *region;
	struct event *ev;           /* deferred release: the event fd watcher, or NULL */
	/* deferred release: handle the backend's pending events now (set by
	 * backend/events.c at start, so that buffer.c need not call it by name) */
	void (*poll_events)(struct server_backend *sb);
	struct kpool *kpool;        /* placed buffers made ahead (kpool.h), or NULL */
	/* caps.parking: hands a parked released extent to the pool
	 * (kpool_offer_parked(), set while the pool runs, so that
	 * backend/events.c need not call it by name), or NULL */
	bool (*offer_parked)(struct server_backend *sb, uint64_t offset, uint64_t size,
			     enum dmabufd_attribute attribute);
	uint32_t orphans;           /* live buffers adopted at start-up, owner unknown */
	uint64_t allocs;            /* buffers made here since start */
	uint64_t fallthroughs;      /* of those, after an earlier backend had no room */
};

/*
 * Called as a buffer is released, before it leaves the registry
 * (buffer.c; share.c and fdstore.c register one each).
 */
typedef void buffer_release_hook(struct server *s, struct buffer *b);
#define SERVER_MAX_RELEASE_HOOKS 4

/*
 * What the fd store (fdstore.c) records besides buffers, told by share.c:
 * an owner or charge changed, an import began or ended, and a buffer
 * passed to an importer whose process has not connected since a restart
 * (it becomes that process's orphan). NULL members: nothing to record.
 */
struct store_hooks {
	void (*buffer_changed)(struct server *s, struct buffer *b);
	void (*import_added)(struct server *s, struct import *im);
	void (*import_removed)(struct server *s, struct import *im);
	void (*orphan_owned)(struct server *s, struct buffer *b);
};

/*
 * A released buffer that another process may still hold (buffer.c): its
 * placement stays claimed and its bytes stay charged to @uid and @gid
 * until the last reference is gone — the module's release event (kmod),
 * or the dma-buf's file count falling to the daemon's own reference
 * (dma-heap, udmabuf; polled).
 */
struct held_buffer {
	TAILQ_ENTRY(held_buffer) link;    /* server->held */
	struct server_backend *home;
	uint64_t id;
	uint64_t offset;                  /* bytes, placement in the region */
	uint64_t size;                    /* bytes */
	enum dmabufd_attribute attribute;
	uid_t uid;
	gid_t gid;
	int fd;                           /* the daemon's reference (polled), or -1 */
	uint64_t seq;                     /* order of holding (quick first check) */
};
TAILQ_HEAD(held_list, held_buffer);

struct server {
	struct event_base *base;
	int listen_fd;
	struct event *ev_listen;
	struct event *ev_accept_retry;
	char *socket_path;          /* unlinked at exit when owned */
	bool owns_socket_path;
	/*
	 * Active backends in probe order; backends[0] is the primary (its
	 * name and page size are the top-level Hello and Stats figures; the
	 * fd store serves it: memfd, which is only ever active alone).
	 */
	struct server_backend backends[SERVER_MAX_BACKENDS];
	unsigned nbackends;
	struct probe_report probe;  /* backends tried at start */
	struct registry registry;
	struct server_limits limits;
	uint64_t config_max_alloc;  /* limits.max_alloc as given (0: largest capacity) */
	TAILQ_HEAD(, client) clients;
	uint32_t nclients;
	TAILQ_HEAD(, client) closing; /* disconnected, still releasing buffers */
	/* fair shares of the daemon's time (server.c) */
	LIST_HEAD(, flow) flows;    /* one per connected uid */
	struct flow accept_flow;    /* new connections: one share for all of them */
	bool accept_ready;          /* the listening socket has peers waiting */
	struct event *ev_sched;     /* serves the next turn (a zero timeout) */
	uint64_t vclock;            /* ns: the virtual time of the turn last served */
	uint64_t used;              /* bytes held by live buffers */
	struct fb_align_rules fb_rules; /* framebuffer alignment by usage */
	struct server_counters counters;
	buffer_release_hook *release_hooks[SERVER_MAX_RELEASE_HOOKS];
	unsigned nrelease_hooks;
	const struct store_hooks *store; /* fdstore.c, or NULL */
	struct held_list held;      /* released, still referenced elsewhere */
	uint32_t nheld;
	uint64_t held_bytes;
	struct event *ev_held;      /* polls the held dma-bufs' file counts */
	struct event *ev_held_quick; /* first check of new ones, just after */
	uint64_t held_seq;          /* last held_buffer.seq given */
	uint64_t held_quick_seq;    /* held_buffer.seq up to which checked once */
	bool stopping;              /* releases keep contents (buffer_stopping()) */
	/* configuration, policy, accounting, sharing */
	struct config config;       /* running; config.policy is the policy */
	bool config_applied;        /* server_apply_config() ran once */
	const struct config_source *config_source; /* for reloads; may be NULL */
	struct ledger ledger;       /* per-uid and per-gid accounts */
	struct share_token_list tokens;
	uint32_t ntokens;
	uint64_t tokens_next_expiry; /* CLOCK_MONOTONIC µs; no token expires earlier */
	uint32_t nimports;
	uint64_t next_client_serial;
	struct share_counters share_counters;
	char refusal[REASON_MAX];   /* reason of the last refused peer */
	/* fds and connections (limit.c) */
	struct fd_budget fd_budget;
	uint32_t queued_fds;        /* fds held by every client's queued replies */
	int spare_fd;               /* closed to accept (and refuse) when out of fds */
	uint64_t refusals_logged_usec; /* CLOCK_MONOTONIC µs: refusals are logged once a second */
	uint64_t refusals_unlogged;
	/* deferred-release backends (kmod; backend/events.c) */
	uint32_t backend_orphans;   /* live buffers adopted at start-up, all backends */
};

/** buffer_home() - the active backend that made @b (the primary if unset). */
static inline struct server_backend *buffer_home(struct server *s, const struct buffer *b)
{
	return b->home ? b->home : &s->backends[0];
}

#endif
