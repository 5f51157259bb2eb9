/* SPDX-License-Identifier: MIT */
/*
 * The socket server: accepts clients on a SOCK_SEQPACKET Unix socket,
 * reads one request per datagram, dispatches it, queues the reply.
 * Single-threaded on a libevent base.
 */
#ifndef DMABUFD_SERVER_H
#define DMABUFD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "backend/backend.h"
#include "config.h"
#include "fb_layout.h"
#include "policy.h"
#include "backend/probe.h"
#include "region.h"
#include "registry.h"
#include "share.h"

struct event_base;
struct event;

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
	})

struct outmsg {
	STAILQ_ENTRY(outmsg) link;
	int fd;          /* -1, or an fd to pass with SCM_RIGHTS (owned) */
	size_t len;
	uint8_t data[];
};

struct client {
	TAILQ_ENTRY(client) link;
	struct server *server;
	int fd;
	struct event *ev_read;
	struct event *ev_write;
	struct ucred cred;
	char comm[16];
	bool hello_done;
	bool reading;         /* ev_read is armed */
	uint32_t protocol_errors;
	struct buffer_list buffers;
	uint32_t nbuffers;
	STAILQ_HEAD(, outmsg) outq;
	uint32_t noutq;
	size_t outq_bytes;
	uint64_t nreplies;    /* replies sent or queued (client_queue_reply()) */
	/* policy and sharing (issue 6) */
	uint64_t serial;      /* client id in Usage replies, never reused */
	gid_t *groups;        /* supplementary groups (SO_PEERGROUPS) */
	size_t ngroups;
	struct usage usage;   /* owned (charged) and imported bytes */
	struct import_list imports;
	uint32_t nimports;
	uint32_t ntokens;     /* live tokens this client created */
};

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

/* Most backends active at once (issue 5: kmod, dma-heap, udmabuf, memfd). */
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
	uint32_t orphans;           /* live buffers adopted at start-up, owner unknown */
	uint64_t allocs;            /* buffers made here since start */
	uint64_t fallthroughs;      /* of those, after an earlier backend had no room */
};

struct server {
	struct event_base *base;
	int listen_fd;
	struct event *ev_listen;
	struct event *ev_accept_retry;
	char *socket_path;          /* unlinked at exit when owned */
	bool owns_socket_path;
	/*
	 * Active backends in probe order (issue 5); backends[0] is the primary.
	 * backend, caps and region below are aliases of backends[0] for the
	 * code that knows one backend (fd store: memfd, which is only ever
	 * active alone; the top-level Hello/Stats figures).
	 */
	struct server_backend backends[SERVER_MAX_BACKENDS];
	unsigned nbackends;
	struct backend *backend;
	struct backend_caps caps;
	struct probe_report probe;  /* backends tried at start (issue 5) */
	struct registry registry;
	struct server_limits limits;
	uint64_t config_max_alloc;  /* limits.max_alloc as given (0: largest capacity) */
	TAILQ_HEAD(, client) clients;
	uint32_t nclients;
	uint64_t used;              /* bytes held by live buffers */
	struct dmabufd_region *region; /* placement of every buffer (placement.c) */
	struct fb_align_rules fb_rules; /* framebuffer alignment by usage */
	struct server_counters counters;
	/* configuration, policy, accounting, sharing (issue 6) */
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
	char refusal[160];          /* reason of the last refused peer */
	/* deferred-release backends (kmod; backend/events.c) */
	uint32_t backend_orphans;   /* live buffers adopted at start-up, all backends */
};

/** buffer_home() - the active backend that made @b (the primary if unset). */
static inline struct server_backend *buffer_home(struct server *s, const struct buffer *b)
{
	return b->home ? b->home : &s->backends[0];
}

/**
 * server_init() - set up a server around an already-created backend.
 * @base: the event loop
 * @backend: owned by the server from now on (destroyed by server_finish)
 * Return: 0, -ENOMEM.
 */
int server_init(struct server *s, struct event_base *base, struct backend *backend,
		const struct server_limits *limits);

/**
 * server_add_backend() - make @backend active too, after those already
 * active (issue 5, several backends at once): it gets its own region and,
 * if it has deferred release, its events are watched (and its live buffers
 * adopted). Call after server_init(), before serving.
 * @backend: owned by the server on success; untouched on failure
 * Return: 0; -ENOSPC (SERVER_MAX_BACKENDS active already); -EINVAL (its
 * region cannot be created); -ENOMEM; negative errno of its rebuild().
 */
int server_add_backend(struct server *s, struct backend *backend);

/* What a request needs from a backend (server_route()). */
struct route_request {
	uint64_t size;              /* bytes, before rounding to the backend's page */
	uint64_t alignment;         /* bytes, 0 or a power of two */
	enum dmabufd_attribute attribute;
	uint32_t flags;             /* DMABUFD_ALLOC_*, CONTIGUOUS included when a device needs it */
	bool contiguous_from_device; /* CONTIGUOUS came from a device without IOMMU (reasons) */
};

/**
 * server_route() - the active backends that satisfy @req, in probe order
 * (docs/BACKENDS.md, "Several backends at once"). A backend satisfies a
 * request when it offers the attribute, gives physically contiguous memory
 * if DMABUFD_ALLOC_CONTIGUOUS is set, and the size rounded up to its page
 * (and the alignment) fit in its capacity.
 * @ret_idx: receives up to SERVER_MAX_BACKENDS indexes into s->backends
 * @ret_n: how many (at least 1)
 * @ret_reason: on failure, reasonf() text (with one backend active, the
 *              wording single-backend daemons always gave)
 * Pure: looks at caps only, never at free space.
 * Return: 0; -EOPNOTSUPP (no active backend offers the attribute, or
 * contiguity when needed); -E2BIG (some satisfy the attribute and
 * contiguity, but the size or alignment exceeds each one's capacity).
 * Outputs untouched on failure except @ret_reason.
 */
int server_route(const struct server *s, const struct route_request *req,
		 unsigned ret_idx[SERVER_MAX_BACKENDS], unsigned *ret_n, const char **ret_reason);

/**
 * server_listen_path() - create, bind and listen on @path.
 * Refuses to clobber: an existing non-socket at @path gives -EEXIST; a
 * socket a live daemon answers on gives -EADDRINUSE; a stale socket is
 * replaced. @mode is the socket file's mode (e.g. 0660).
 * Return: 0, -ENAMETOOLONG, -EEXIST, -EADDRINUSE, other negative errno.
 */
int server_listen_path(struct server *s, const char *path, mode_t mode);

/**
 * server_listen_fd() - serve on an already-listening socket (socket
 * activation). Return: 0, -ENOTSOCK/-EINVAL when @fd is not a listening
 * SOCK_SEQPACKET AF_UNIX socket, -ENOMEM.
 */
int server_listen_fd(struct server *s, int fd);

/**
 * server_adopt_client() - serve a connected SOCK_SEQPACKET socket as a new
 * client (accept() calls this; tests and fuzz targets pass one end of a
 * socketpair). The peer's credentials come from SO_PEERCRED. @fd must be
 * non-blocking; on success the server owns it.
 * The access policy ([access]) is checked here: a refused peer gives
 * -EACCES and s->refusal holds the reason to send it.
 * Return: 0; -EACCES; -ENOMEM; negative errno from getsockopt(2) (@fd
 * untouched on every failure).
 */
int server_adopt_client(struct server *s, int fd);

/** server_finish() - disconnect everyone, release every buffer, free all. */
void server_finish(struct server *s);

/*
 * Placement (placement.c). Offsets and sizes in bytes, page multiples.
 *
 * server_region_init() - create the region allocator over caps.region_size.
 * Return: 0, -EINVAL (empty or larger than DMABUFD_REGION_MAX_PAGES), -ENOMEM.
 *
 * server_place() - choose the offset of a new buffer; when the region is
 * too fragmented, runs a compaction plan through the backend's migrate() op
 * first. Return: 0 and *ret_offset; -ENOSPC; -EINVAL; -ENOMEM.
 *
 * server_unplace() - free a buffer's placement.
 *
 * server_place_restored() - claim the recorded placement of a buffer
 * restored after a restart, or (non-contiguous backends) place it anew.
 * Return: 0; -EBUSY/-ENOSPC when it cannot be placed.
 *
 * server_compact() - run a full compaction plan (dmabufctl compact) on
 * every active backend that can migrate; *ret sums them (largest free runs:
 * the largest over those backends).
 * Return: 0 and *ret; -EOPNOTSUPP (no active backend can migrate); -ENOMEM;
 * -EUCLEAN (registry and region disagree: a bug, logged).
 *
 * The server_* forms work on the primary backend (backends[0]); the sb_*
 * forms on one active backend, and only see that backend's buffers.
 */
int server_region_init(struct server *s);
int server_place(struct server *s, uint64_t size, uint64_t alignment,
		 enum dmabufd_attribute attribute, bool movable, uint64_t *ret_offset);
void server_unplace(struct server *s, uint64_t offset);
int server_place_restored(struct server *s, struct buffer *b);
int server_compact(struct server *s, struct server_compact_result *ret);
int sb_region_init(struct server_backend *sb);
int sb_place(struct server_backend *sb, uint64_t size, uint64_t alignment,
	     enum dmabufd_attribute attribute, bool movable, uint64_t *ret_offset);
void sb_unplace(struct server_backend *sb, uint64_t offset);
int sb_place_restored(struct server_backend *sb, struct buffer *b);
int sb_compact(struct server_backend *sb, struct server_compact_result *ret);

/*
 * Deferred-release backends (backend/events.c): server_backend_events_init()
 * adopts the backend's live buffers (rebuild) and watches its event fd;
 * called by server_init(). Return: 0; -ENOMEM; negative errno of rebuild.
 * server_backend_events_finish() stops watching and frees orphans.
 */
int server_backend_events_init(struct server *s);
void server_backend_events_finish(struct server *s);
/* The same for one active backend (server_add_backend()). */
int sb_events_init(struct server_backend *sb);
void sb_events_finish(struct server_backend *sb);

/* Internal, shared by server.c and requests.c. */
void client_destroy(struct client *c);
int client_queue_reply(struct client *c, const void *reply_msg, int fd);
void client_handle_datagram(struct client *c, const uint8_t *data, size_t len,
			    int *fds, size_t nfds, unsigned wire_flags);
void server_release_buffer(struct server *s, struct buffer *b);
/* Undo a materialised buffer that never reached the registry: release it
 * in its backend and free its placement (unless deferred). */
void server_unmake_buffer(struct server *s, struct buffer *b);
void reply_error(struct client *c, uint64_t id, int error, const char *reason);
const char *reasonf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t realtime_usec(void);

#endif
