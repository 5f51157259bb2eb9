/* SPDX-License-Identifier: MIT */
/*
 * Connection handling: accept (server_listen.c) → SO_PEERCRED → non-blocking reads of whole
 * datagrams, each uid in turn (the fair scheduler below) → one handler per
 * request (requests.c) → replies queued and flushed, waiting for
 * writability on EAGAIN (reply.c; the seatd request path). Also the
 * server's set-up, backends and teardown; its configuration is in
 * server_config.c.
 */
#include "server.h"
#include "server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend/events.h"
#include "buffer.h"
#include "dmabufd.pb-c.h"
#include "fdstore.h"
#include "kpool.h"
#include "limit.h"
#include "log.h"
#include "macros.h"
#include "placement.h"
#include "region.h"
#include "reply.h"
#include "requests.h"
#include "sd.h"
#include "share.h"
#include "utf8.h"
#include "wire.h"

/*
 * The most one turn is charged, in ns: a single long request (a large
 * allocation, a compaction) puts its uid behind the others by at most
 * this much, not for as long again as it took.
 */
#define TURN_MAX_CHARGE (10 * 1000 * 1000)

/*
 * Buffers of a disconnected client released per turn of its uid. A client
 * may hold thousands (its fd budget share); releasing them all in one go
 * (a hole punched, an fd closed, each) kept every other uid waiting for
 * milliseconds.
 */
#define CLOSE_BUDGET 64

static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_write_cb(evutil_socket_t fd, short what, void *arg);
static void server_sched_cb(evutil_socket_t fd, short what, void *arg);

/*
 * A backend's module events (kmod: adopt an earlier daemon's buffers, watch
 * release events), then its pool of placed buffers: after the rebuild, so
 * that the pool places around what is already there.
 */
static int sb_start(struct server_backend *sb)
{
	int err = sb_events_init(sb);

	if (err < 0 || !sb->caps.placed_pool_budget)
		return err;
	return kpool_create(sb, &sb->kpool);
}

/* The reverse of sb_start(); the pool's buffers' release events still come in. */
static void sb_stop(struct server_backend *sb)
{
	kpool_destroy(sb->kpool);
	sb->kpool = NULL;
	sb_events_finish(sb);
}

int server_init(struct server *s, struct event_base *base, struct backend *backend,
		const struct server_limits *limits)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->listen_fd = -1;
	LIST_INIT(&s->flows);
	TAILQ_INIT(&s->accept_flow.ready);
	s->ev_sched = evtimer_new(base, server_sched_cb, s);
	if (!s->ev_sched)
		return -ENOMEM;
	s->limits = limits ? *limits : SERVER_LIMITS_DEFAULT;
	s->fd_budget = FD_BUDGET_UNSET;
	s->spare_fd = -1;
	TAILQ_INIT(&s->clients);
	TAILQ_INIT(&s->closing);
	s->fb_rules = fb_align_rules_default;
	s->backends[0] = (struct server_backend){ .server = s, .backend = backend };
	backend->ops->get_caps(backend, &s->backends[0].caps);
	s->nbackends = 1;
	s->config_max_alloc = s->limits.max_alloc;
	if (s->limits.max_alloc == 0 || s->limits.max_alloc > s->backends[0].caps.region_size)
		s->limits.max_alloc = s->backends[0].caps.region_size;
	buffer_init(s);
	share_init(s); /* the first release hook: it cannot fail */
	ledger_init(&s->ledger);
	TAILQ_INIT(&s->tokens);
	s->tokens_next_expiry = UINT64_MAX;
	s->config.policy = policy_new_default();
	if (!s->config.policy) {
		event_free(TAKE_PTR(s->ev_sched));
		return -ENOMEM;
	}
	s->config.max_clients = s->limits.max_clients;
	s->config.max_buffers = s->limits.max_buffers;
	err = registry_init(&s->registry);
	if (err < 0) {
		policy_free(TAKE_PTR(s->config.policy));
		event_free(TAKE_PTR(s->ev_sched));
		return err;
	}
	err = sb_region_init(&s->backends[0]);
	if (err < 0) {
		registry_finish(&s->registry);
		policy_free(TAKE_PTR(s->config.policy));
		event_free(TAKE_PTR(s->ev_sched));
		return err;
	}
	/* kmod: adopt buffers of an earlier daemon, watch release events. */
	err = sb_start(&s->backends[0]);
	if (err < 0) {
		sb_stop(&s->backends[0]);
		dmabufd_region_destroy(s->backends[0].region);
		registry_finish(&s->registry);
		policy_free(TAKE_PTR(s->config.policy));
		event_free(TAKE_PTR(s->ev_sched));
		return err;
	}
	/* Given up to accept() and refuse a client when the daemon is out of fds. */
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 0;
}

int server_add_backend(struct server *s, struct backend *backend)
{
	struct server_backend *sb;
	int err;

	if (s->nbackends == SERVER_MAX_BACKENDS)
		return -ENOSPC;
	sb = &s->backends[s->nbackends];
	*sb = (struct server_backend){ .server = s, .index = s->nbackends, .backend = backend };
	backend->ops->get_caps(backend, &sb->caps);
	err = sb_region_init(sb);
	if (err < 0) {
		memset(sb, 0, sizeof(*sb));
		return err;
	}
	s->nbackends++;
	err = sb_start(sb);
	if (err < 0) {
		sb_stop(sb);
		dmabufd_region_destroy(sb->region);
		s->nbackends--;
		memset(sb, 0, sizeof(*sb));
		return err;
	}
	/* The largest single Alloc: the largest capacity unless configured lower. */
	if (sb->caps.region_size > s->limits.max_alloc)
		s->limits.max_alloc = s->config_max_alloc && s->config_max_alloc < sb->caps.region_size ?
					      s->config_max_alloc : sb->caps.region_size;
	return 0;
}

static void read_comm(pid_t pid, char comm[16])
{
	char path[64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	strcpy(comm, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, 15);
	if (n <= 0) {
		strcpy(comm, "?");
		return;
	}
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	/* Any process may name itself anything (PR_SET_NAME); List echoes it. */
	utf8_scrub(comm);
}

/* ---- fair shares of the daemon's time ------------------------------------ */

/*
 * The daemon serves one request at a time. Served in the order they
 * arrive, a uid with many connections, or with a client in a tight loop,
 * would have most of that time and everyone else would wait behind its
 * requests. Instead a readable connection only joins its uid's flow
 * (client_read_cb()), and each turn serves one request of the flow with
 * the least service time (start-time fair queueing: a flow's virtual
 * time grows by the nanoseconds its requests took, and a flow that
 * becomes busy starts at the virtual time of the turn in progress, so
 * that idle time is not saved up). A uid with 32 connections has the
 * share of a uid with one; its connections take turns; the requests of
 * one connection are read in order. New connections are one more flow
 * (their uid is known only once they are accepted). Work a uid causes
 * besides its requests is a turn too (closing a connection past its Hello
 * deadline) or charged to it (parking a readable connection until its
 * turn), so that no burst of it runs in one round of the loop while the
 * other uids wait. Between two turns
 * the event loop polls again (the turn is a zero timeout, and timeouts
 * run after the readable fds were seen), so a request that arrives
 * during a turn is in its flow before the next turn is chosen. When no
 * flow has a request waiting, the first connection found readable in a
 * round of the loop is served at once (a lone client pays no extra round
 * before its reply); the others of that round wait for their turns.
 */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* @uid's flow, one more reference; NULL when out of memory. */
static struct flow *flow_get(struct server *s, uid_t uid)
{
	struct flow *f;

	LIST_FOREACH(f, &s->flows, link) {
		if (f->uid == uid) {
			f->refs++;
			return f;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->uid = uid;
	f->refs = 1;
	f->vtime = s->vclock;
	TAILQ_INIT(&f->ready);
	LIST_INSERT_HEAD(&s->flows, f, link);
	return f;
}

static void flow_unref(struct flow *f)
{
	if (--f->refs > 0)
		return;
	LIST_REMOVE(f, link);
	free(f);
}

void flow_wake(struct server *s, struct flow *f, bool was_idle)
{
	static const struct timeval now = { 0, 0 };

	if (was_idle && f->vtime < s->vclock)
		f->vtime = s->vclock;
	if (!evtimer_pending(s->ev_sched, NULL))
		evtimer_add(s->ev_sched, &now);
}

/* The flow whose turn is next: the least virtual time; NULL when all are idle. */
static struct flow *sched_next(struct server *s)
{
	struct flow *best = s->accept_ready ? &s->accept_flow : NULL, *f;

	LIST_FOREACH(f, &s->flows, link)
		if (!TAILQ_EMPTY(&f->ready) && (!best || f->vtime < best->vtime))
			best = f;
	return best;
}

static void client_serve(struct client *c);
static void client_update_reading(struct client *c);

static void flow_charge(struct flow *f, uint64_t t0)
{
	uint64_t ns = now_ns() - t0;

	f->vtime += ns < TURN_MAX_CHARGE ? ns : TURN_MAX_CHARGE;
}

/* One turn: one request of the next flow (or its accepts), charged to it. */
static void server_sched_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct server *s = arg;
	struct flow *f = sched_next(s);
	uint64_t t0 = now_ns();

	if (!f)
		return;
	s->vclock = f->vtime;
	if (f == &s->accept_flow) {
		s->accept_ready = false;
		server_accept(s);
		flow_charge(f, t0);
	} else {
		struct client *c = TAILQ_FIRST(&f->ready);

		TAILQ_REMOVE(&f->ready, c, ready_link);
		c->ready = false;
		f->refs++; /* the client may go, and the flow with it */
		client_serve(c);
		flow_charge(f, t0);
		flow_unref(f);
	}
	if (sched_next(s) && !evtimer_pending(s->ev_sched, NULL))
		evtimer_add(s->ev_sched, &now);
}

/* @c waits for its uid's turn: joins its flow's ready connections, not watched meanwhile. */
static void client_make_ready(struct client *c)
{
	struct flow *f = c->flow;
	bool was_idle = TAILQ_EMPTY(&f->ready);

	if (c->ready)
		return;
	c->ready = true;
	TAILQ_INSERT_TAIL(&f->ready, c, ready_link);
	client_update_reading(c);
	flow_wake(c->server, f, was_idle);
}

/*
 * No Hello by the deadline: the connection only held a slot. It is closed
 * in its uid's next turn (client_serve()), not here: the deadlines of
 * connections opened together expire together, and closing them all in one
 * round of the loop would keep every other uid waiting meanwhile; as turns,
 * the closes are charged to the uid that opened them.
 */
static void client_hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	c->hello_expired = true;
	client_make_ready(c);
}

/* @c's deadline passed without a Hello (client_hello_timeout_cb()): closes it. */
static void client_expire(struct client *c)
{
	log_debug("client pid %d (%s): no Hello within %u ms; disconnecting", (int)c->cred.pid,
		  c->comm, c->server->limits.hello_timeout_ms);
	if (c->noutq == 0) /* else the Reply would jump the queue */
		server_send_refusal(c->fd, -ETIMEDOUT,
				    "no Hello before the deadline ([limits] hello-timeout)");
	client_destroy(c);
}

int server_adopt_client(struct server *s, int fd)
{
	socklen_t len = sizeof(struct ucred);
	struct client *c = calloc(1, sizeof(*c));
	const struct timeval hello_deadline = {
		.tv_sec = s->limits.hello_timeout_ms / 1000,
		.tv_usec = (suseconds_t)(s->limits.hello_timeout_ms % 1000) * 1000,
	};
	int err;

	if (!c)
		return -ENOMEM;
	c->server = s;
	c->fd = fd;
	TAILQ_INIT(&c->buffers);
	TAILQ_INIT(&c->imports);
	STAILQ_INIT(&c->outq);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		err = negative_errno();
		free(c);
		return err;
	}
	err = peer_groups(fd, &c->groups, &c->ngroups);
	if (err < 0 && err != -ENOPROTOOPT) {
		free(c);
		return err;
	}
	err = server_admit_peer(s, c->cred.uid, c->cred.gid, c->groups, c->ngroups, s->refusal,
				sizeof(s->refusal));
	if (err == 0)
		err = limits_admit_connection(s, c->cred.uid, s->refusal, sizeof(s->refusal));
	if (err < 0) {
		free(c->groups);
		free(c);
		return err;
	}
	c->flow = flow_get(s, c->cred.uid);
	if (!c->flow) {
		free(c->groups);
		free(c);
		return -ENOMEM;
	}
	c->serial = ++s->next_client_serial;
	read_comm(c->cred.pid, c->comm);
	c->ev_read = event_new(s->base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
	c->ev_write = event_new(s->base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
	c->ev_hello = evtimer_new(s->base, client_hello_timeout_cb, c);
	if (!c->ev_read || !c->ev_write || !c->ev_hello || event_add(c->ev_read, NULL) < 0 ||
	    evtimer_add(c->ev_hello, &hello_deadline) < 0) {
		if (c->ev_read)
			event_free(c->ev_read);
		if (c->ev_write)
			event_free(c->ev_write);
		if (c->ev_hello)
			event_free(c->ev_hello);
		flow_unref(c->flow);
		free(c->groups);
		free(c);
		return -ENOMEM;
	}
	c->reading = true;
	TAILQ_INSERT_TAIL(&s->clients, c, link);
	s->nclients++;
	fdstore_client_connected(s, c); /* it may own buffers restored after a restart */
	service_status_changed();
	log_debug("client connected: pid %d uid %u gid %u comm %s", (int)c->cred.pid,
		  (unsigned)c->cred.uid, (unsigned)c->cred.gid, c->comm);
	return 0;
}

/*
 * The connection of @c ends: it leaves the clients (its slot is free, it
 * no longer counts for its uid), its socket and events go, and importers
 * take over its shared buffers; the rest of its buffers stay its own until
 * released (client_destroy()).
 */
static void client_disconnect(struct client *c)
{
	struct server *s = c->server;

	log_debug("client disconnected: pid %d, %u buffers returned", (int)c->cred.pid,
		  c->nbuffers);
	share_client_gone(s, c); /* importers take over shared buffers */
	reply_queue_clear(c);
	event_free(c->ev_read);
	event_free(c->ev_write);
	if (c->ev_hello)
		event_free(c->ev_hello);
	c->ev_hello = NULL;
	close(c->fd);
	c->fd = -1;
	c->reading = false;
	c->closing = true;
	TAILQ_REMOVE(&s->clients, c, link);
	TAILQ_INSERT_TAIL(&s->closing, c, link);
	s->nclients--;
	service_status_changed();
}

void client_destroy(struct client *c)
{
	struct server *s = c->server;
	uint32_t budget = s->stopping ? UINT32_MAX : CLOSE_BUDGET;
	struct buffer *b;

	if (!c->closing)
		client_disconnect(c);
	while (budget-- > 0 && (b = TAILQ_FIRST(&c->buffers)))
		buffer_release(s, b);
	if (!TAILQ_EMPTY(&c->buffers)) {
		client_make_ready(c); /* the rest in its uid's next turn */
		return;
	}
	if (c->ready)
		TAILQ_REMOVE(&c->flow->ready, c, ready_link);
	flow_unref(c->flow);
	TAILQ_REMOVE(&s->closing, c, link);
	free(c->groups);
	free(c);
}

/* Is the reply queue of @c at its limits (a client that does not read)? */
static bool client_outq_full(const struct client *c)
{
	const struct server_limits *l = &c->server->limits;

	return c->noutq >= l->max_queued_replies || c->outq_bytes >= l->max_queued_bytes;
}

/*
 * Reading is armed while the reply queue is below its limits and no
 * request of @c waits for its turn.
 */
static void client_update_reading(struct client *c)
{
	bool want = !c->ready && !client_outq_full(c);

	if (c->closing)
		return; /* no socket any more */

	if (!want && c->reading) {
		event_del(c->ev_read);
		c->reading = false;
	} else if (want && !c->reading) {
		event_add(c->ev_read, NULL);
		c->reading = true;
	}
}

/*
 * Readable: the connection waits for its uid's turn (server_sched_cb()),
 * not watched meanwhile (the event is level-triggered and would come back
 * at every round of the loop), watched again after its turn.
 */
static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct client *c = arg;
	struct server *s = c->server;
	struct flow *f = c->flow;
	uint64_t t0 = now_ns();

	if (c->ready)
		return;
	if (!evtimer_pending(s->ev_sched, NULL) && !sched_next(s)) {
		/*
		 * Nobody waits and no turn is due: served now. The zero
		 * timeout ends the round: the other connections found
		 * readable in it wait for their turns.
		 */
		evtimer_add(s->ev_sched, &now);
		if (f->vtime < s->vclock)
			f->vtime = s->vclock;
		s->vclock = f->vtime;
		f->refs++;
		client_serve(c);
		flow_charge(f, t0);
		flow_unref(f);
		return;
	}
	/*
	 * Not watching the connection until its turn costs a system call
	 * (epoll_ctl), as watching it again does in the turn: charged to its
	 * uid like the turn itself.
	 */
	client_make_ready(c);
	flow_charge(f, t0);
}

/* @c's turn: reads and handles its next request. */
static void client_serve(struct client *c)
{
	struct server *s = c->server;
	/* Exactly the limit: a longer datagram reads as truncated (MSG_TRUNC). */
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	LOG_CONTEXT_SCOPE(); /* journal fields of everything logged below */

	log_context_push("CLIENT_PID=%d", (int)c->cred.pid);
	log_context_push("CLIENT_UID=%u", (unsigned)c->cred.uid);
	log_context_push("CLIENT_COMM=%s", c->comm);

	if (c->closing) {
		client_destroy(c); /* the next of its buffers */
		return;
	}
	if (c->hello_expired) {
		client_expire(c);
		return;
	}

	/*
	 * A turn ends after the first request that was answered. A client
	 * waiting for that reply has sent nothing more, so another recvmsg
	 * would only find the socket empty (one system call per request
	 * saved); a client that pipelines waits for its next turn.
	 * Requests that need no reply (a Release with RELEASE_NO_REPLY) are
	 * followed by the next one within the same turn (read_budget).
	 */
	for (uint32_t i = 0; i < s->limits.read_budget && !client_outq_full(c); i++) {
		int fds[DMABUFD_MAX_FDS];
		size_t nfds = 0;
		unsigned flags = 0;
		uint64_t replies = c->nreplies;
		long n = wire_recv(c->fd, buf, sizeof(buf), fds, DMABUFD_MAX_FDS, &nfds, &flags);

		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			/* An empty datagram reads as EOF but may carry fds. */
			wire_close_fds(fds, nfds);
			if (n < 0 && n != -ECONNRESET)
				log_debug("client pid %d: read: %s", (int)c->cred.pid, strerror((int)-n));
			client_destroy(c);
			return;
		}
		client_handle_datagram(c, buf, (size_t)n, fds, nfds, flags);
		if (c->hello_done && c->ev_hello) {
			event_free(c->ev_hello);
			c->ev_hello = NULL;
		}
		if (c->protocol_errors > s->limits.max_protocol_errors) {
			log_warn("client pid %d: %u malformed requests; disconnecting",
				 (int)c->cred.pid, c->protocol_errors);
			client_destroy(c);
			return;
		}
		if (client_flush(c) < 0) {
			client_destroy(c);
			return;
		}
		if (c->nreplies != replies)
			break;
	}
	client_update_reading(c);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	if (client_flush(c) < 0) {
		client_destroy(c);
		return;
	}
	client_update_reading(c);
}

void server_finish(struct server *s)
{
	struct client *c;

	buffer_stopping(s);
	while ((c = TAILQ_FIRST(&s->clients)))
		client_destroy(c);
	while ((c = TAILQ_FIRST(&s->closing)))
		client_destroy(c);
	if (s->ev_sched)
		event_free(s->ev_sched);
	if (s->ev_listen)
		event_free(s->ev_listen);
	if (s->ev_accept_retry)
		event_free(s->ev_accept_retry);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	if (s->owns_socket_path && s->socket_path)
		unlink(s->socket_path);
	free(s->socket_path);
	buffer_finish(s); /* released buffers still held elsewhere */
	for (unsigned i = 0; i < s->nbackends; i++)
		sb_stop(&s->backends[i]); /* kmod orphans */
	registry_finish(&s->registry);
	ledger_finish(&s->ledger);
	config_finish(&s->config);
	for (unsigned i = 0; i < s->nbackends; i++) {
		dmabufd_region_destroy(s->backends[i].region);
		s->backends[i].backend->ops->destroy(s->backends[i].backend);
	}
	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	s->spare_fd = -1;
}

void server_format_status(char *buf, size_t len, void *ctx)
{
	const struct server *s = ctx;
	const struct backend_caps *caps = &s->backends[0].caps;

	snprintf(buf, len,
		 "backend %s: %zu buffers (%zu orphaned), %" PRIu64 "/%" PRIu64 " bytes, %u clients",
		 caps->name, s->registry.count, fdstore_orphan_count(), s->used,
		 caps->region_size, s->nclients);
}
