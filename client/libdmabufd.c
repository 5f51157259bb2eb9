/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd: the client side of the dmabufd wire protocol
 * (proto/dmabufd.proto) behind the API in include/dmabufd/dmabufd.h.
 *
 * Every request, blocking or not, becomes a struct pending on the
 * connection's list, keyed by the request id (1, 2, 3, ... per connection;
 * Hello is 1, 0 is never used because the daemon answers an unreadable
 * request with id 0). Every datagram that arrives is matched to its pending
 * entry: an asynchronous one runs its callback, a blocking one is marked
 * done and keeps the unpacked reply for the caller that waits on it. A
 * blocking call therefore dispatches the callbacks of replies that overtake
 * its own, and a callback may itself make a blocking call.
 *
 * Two kinds of failure:
 *  - a reply that unpacks and names a known request but has the wrong shape
 *    (wrong body, missing fd, unexpected fds) fails that request with
 *    -EPROTO; its fds are closed; the connection stays usable;
 *  - a datagram that cannot be attributed (truncated, not a Reply, unknown
 *    id) or a failing socket makes the connection dead: every pending
 *    request fails with that error (-EPROTO, -ECONNRESET, ...) and so does
 *    every later call. The socket stays open until dmabufd_disconnect() so
 *    that an event loop watching dmabufd_get_fd() never sees a reused fd.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-internal.h"
#include "dmabufd/framebuffer.h"
#include "dmabufd.pb-c.h"
#include "fb_layout.h"
#include "log.h"
#include "macros.h"
#include "wire.h"

/* Requests are small (the longest strings are 64 bytes): a stack buffer. */
#define REQUEST_MAX 1024u
/* Hello.client_name limit from proto/dmabufd.proto. */
#define CLIENT_NAME_MAX 64u
/* Largest errno value the library accepts in Reply.error (Linux MAX_ERRNO). */
#define ERRNO_MAX 4095

struct pending {
	struct pending *next;
	uint64_t id;
	Dmabufd__Reply__BodyCase expect; /* body of a successful reply */
	bool want_fd;                    /* a successful reply carries one fd */
	bool sync;
	/* asynchronous Alloc */
	dmabufd_alloc_cb cb;
	void *userdata;
	uint64_t min_size;               /* bytes the reply must cover */
	/* blocking call: filled in when the reply arrived */
	bool done;
	int error;
	Dmabufd__Reply *reply;           /* owned; NULL if the error was local */
	int fd;                          /* owned; -1 if none */
};

struct dmabufd_client {
	int sock;
	uint64_t next_id;
	int dead;                        /* 0, or the error every call now returns */
	struct pending *pending;         /* oldest first */
	unsigned n_async;
	unsigned async_limit;
	struct dmabufd_info info;
	char reason[DMABUFD_REASON_MAX];
	uint8_t *rx;                     /* DMABUFD_MAX_MESSAGE bytes */
	/* dmabufd_release_async() (issue 10) */
	bool release_no_reply;           /* the daemon offers RELEASE_NO_REPLY */
	uint64_t release_failures;       /* failures the daemon reported */
	uint64_t release_failed_id;      /* buffer id of the latest one */
	int release_failed_error;        /* its negative errno */
	unsigned releases_unread;        /* sent since the replies were last all read */
};

/*
 * dmabufd_release_async() reads what has arrived after this many releases
 * without a read: a failure is answered, and a client that never read would
 * fill the daemon's reply queue (limits.max_queued_replies, 64), which
 * stops the daemon reading it, until its own sends block: a deadlock.
 */
#define RELEASE_ASYNC_DRAIN 16u

/* ---- logging ---------------------------------------------------------- */

static dmabufd_log_fn app_log_fn;
static void *app_log_userdata;

static void log_forward(enum log_level level, const char *fmt, va_list ap, void *userdata)
{
	if (app_log_fn)
		app_log_fn((int)level, fmt, ap, app_log_userdata);
}

DMABUFD_EXPORT void dmabufd_set_log_handler(dmabufd_log_fn fn, void *userdata)
{
	app_log_fn = fn;
	app_log_userdata = userdata;
	log_set_sink(fn ? log_forward : NULL, NULL, LOG_LEVEL_DEBUG);
}

/* ---- small helpers ---------------------------------------------------- */

static void copy_string(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void set_reason(struct dmabufd_client *c, const char *reason)
{
	copy_string(c->reason, sizeof(c->reason), reason);
}

static const char *body_name(Dmabufd__Reply__BodyCase body)
{
	switch (body) {
	case DMABUFD__REPLY__BODY_HELLO:
		return "Hello";
	case DMABUFD__REPLY__BODY_ALLOC:
		return "Alloc";
	case DMABUFD__REPLY__BODY_LIST:
		return "List";
	case DMABUFD__REPLY__BODY_STATS:
		return "Stats";
	case DMABUFD__REPLY__BODY_SHARE:
		return "Share";
	case DMABUFD__REPLY__BODY_IMPORT:
		return "Import";
	case DMABUFD__REPLY__BODY_ACCOUNTING:
		return "Accounting";
	case DMABUFD__REPLY__BODY_RELEASE_FAILED:
		return "ReleaseFailed";
	default:
		return "none";
	}
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	if (p->reply)
		dmabufd__reply__free_unpacked(p->reply, NULL);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static void pending_unlink(struct dmabufd_client *c, struct pending *p)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			if (!p->sync)
				c->n_async--;
			return;
		}
	}
}

static void pending_append(struct dmabufd_client *c, struct pending *p)
{
	struct pending **pp = &c->pending;

	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
	if (!p->sync)
		c->n_async++;
}

static struct pending *pending_find(struct dmabufd_client *c, uint64_t id)
{
	for (struct pending *p = c->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/*
 * Runs an async Alloc callback. The reason the daemon gave is readable from
 * the callback through dmabufd_last_reason().
 */
static void run_callback(struct dmabufd_client *c, struct pending *p, int error,
			 const struct dmabufd_buffer *buffer, const char *reason)
{
	set_reason(c, error ? reason : "");
	p->cb(c, error, buffer, p->userdata);
}

/*
 * Marks the connection dead with @error and fails every pending request.
 * Returns the number of callbacks run.
 */
static int fail_connection(struct dmabufd_client *c, int error)
{
	struct pending *list;
	int ran = 0;

	if (c->dead)
		return 0;
	log_debug("libdmabufd: connection failed: %s", strerror(-error));
	c->dead = error;
	shutdown(c->sock, SHUT_RDWR);

	/* Detach the whole list first: callbacks may call back into us. */
	list = c->pending;
	c->pending = NULL;
	c->n_async = 0;
	while (list) {
		struct pending *p = list;

		list = p->next;
		p->next = NULL;
		if (p->sync) {
			/* Its waiter frees it. */
			p->done = true;
			p->error = error;
		} else {
			run_callback(c, p, error, NULL, "");
			pending_free(p);
			ran++;
		}
	}
	return ran;
}

/*
 * Checks a reply against what its request expects. On success returns 0 and
 * moves the fd (if one is expected) to *ret_fd; on failure closes all fds.
 */
static int check_reply(const struct pending *p, const Dmabufd__Reply *reply, int *fds,
		       size_t nfds, unsigned wire_flags, int *ret_fd)
{
	int error;

	if (reply->error > 0 || reply->error < -ERRNO_MAX) {
		error = -EPROTO;
		log_debug("libdmabufd: reply %llu: error %d is not a negative errno",
			  (unsigned long long)reply->id, (int)reply->error);
	} else if (reply->error < 0) {
		/* A refusal carries no fds. */
		error = (nfds || (wire_flags & WIRE_FDS_TRUNCATED)) ? -EPROTO : reply->error;
	} else if (reply->body_case != p->expect) {
		error = -EPROTO;
		log_debug("libdmabufd: reply %llu: body %s, expected %s",
			  (unsigned long long)reply->id, body_name(reply->body_case),
			  body_name(p->expect));
	} else if (wire_flags & WIRE_FDS_TRUNCATED) {
		error = -EPROTO;
	} else if (p->want_fd ? nfds != 1 : nfds != 0) {
		error = -EPROTO;
		log_debug("libdmabufd: reply %llu: %zu fds, expected %d",
			  (unsigned long long)reply->id, nfds, p->want_fd ? 1 : 0);
	} else {
		if (p->want_fd)
			*ret_fd = fds[0];
		return 0;
	}
	wire_close_fds(fds, nfds);
	return error;
}

/* Fills a struct dmabufd_buffer from a checked Alloc reply. */
static int parse_alloc(const Dmabufd__AllocReply *a, uint64_t min_size, int fd,
		       struct dmabufd_buffer *ret)
{
	if (!a || a->buffer_id == 0 || a->size < min_size)
		return -EPROTO;
	*ret = (struct dmabufd_buffer){
		.id = a->buffer_id, .fd = fd, .size = a->size, .offset = a->offset,
	};
	return 0;
}

/*
 * Waits until @sock is ready for @events (@block), or checks it (!@block).
 * The socket is blocking unless the application set O_NONBLOCK on
 * dmabufd_get_fd(); polling first makes both work.
 * Return: 1 ready, 0 not ready (only when !@block), negative errno.
 */
static int wait_socket(int sock, short events, bool block)
{
	struct pollfd pfd = { .fd = sock, .events = events };
	int r;

	do
		r = poll(&pfd, 1, block ? -1 : 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? negative_errno() : r > 0;
}

/*
 * Reads one datagram and hands it to its request. @block: wait for one.
 * Return: 1 when a datagram was handled (*ran += callbacks run), 0 when
 * none was queued (only when !@block), negative errno when the connection
 * failed (pending requests have been failed).
 */
static int read_one(struct dmabufd_client *c, bool block, int *ran)
{
	int fds[DMABUFD_MAX_FDS];
	size_t nfds = 0;
	unsigned wire_flags = 0;
	Dmabufd__Reply *reply;
	struct pending *p;
	int fd = -1, error, r;
	long n;

	if (c->dead)
		return c->dead;
	if (!block) {
		r = wait_socket(c->sock, POLLIN, false);
		if (r <= 0)
			return r;
	}
	/*
	 * Blocking: receive at once (one system call per reply, issue 10) and
	 * poll only when the application made the socket O_NONBLOCK.
	 */
	for (;;) {
		n = wire_recv(c->sock, c->rx, DMABUFD_MAX_MESSAGE, fds, DMABUFD_MAX_FDS, &nfds,
			      &wire_flags);
		if (n != -EAGAIN)
			break;
		if (!block)
			return 0; /* O_NONBLOCK socket: spurious wakeup */
		r = wait_socket(c->sock, POLLIN, true);
		if (r < 0)
			return r;
	}
	if (n <= 0) {
		error = n == 0 ? -ECONNRESET : (int)n;
		*ran += fail_connection(c, error);
		return error;
	}
	if (wire_flags & WIRE_TRUNCATED) {
		wire_close_fds(fds, nfds);
		log_debug("libdmabufd: datagram of %ld bytes exceeds %u", n, DMABUFD_MAX_MESSAGE);
		*ran += fail_connection(c, -EPROTO);
		return -EPROTO;
	}
	reply = dmabufd__reply__unpack(NULL, (size_t)n, c->rx);
	if (!reply) {
		wire_close_fds(fds, nfds);
		log_debug("libdmabufd: datagram of %ld bytes is not a Reply", n);
		*ran += fail_connection(c, -EPROTO);
		return -EPROTO;
	}
	p = reply->id ? pending_find(c, reply->id) : NULL;
	if (!p && reply->body_case == DMABUFD__REPLY__BODY_RELEASE_FAILED &&
	    reply->id != 0 && reply->id < c->next_id && reply->error < 0 &&
	    reply->error >= -ERRNO_MAX && nfds == 0 && !(wire_flags & WIRE_FDS_TRUNCATED)) {
		/* A dmabufd_release_async() failed: no call waits for it. */
		c->release_failures++;
		c->release_failed_id = reply->release_failed->buffer_id;
		c->release_failed_error = reply->error;
		log_debug("libdmabufd: release of buffer %llu (request %llu) failed: %s (%s)",
			  (unsigned long long)c->release_failed_id,
			  (unsigned long long)reply->id, strerror(-reply->error), reply->reason);
		dmabufd__reply__free_unpacked(reply, NULL);
		return 1;
	}
	if (!p && reply->id == 0 && reply->error < 0 && reply->error >= -ERRNO_MAX &&
	    c->info.version == 0) {
		/* The daemon refused the connection itself ([access] policy,
		 * too many clients) before Hello: fail with its errno. */
		error = reply->error;
		log_debug("libdmabufd: connection refused: %s (%s)", strerror(-error),
			  reply->reason);
		wire_close_fds(fds, nfds);
		set_reason(c, reply->reason);
		dmabufd__reply__free_unpacked(reply, NULL);
		*ran += fail_connection(c, error);
		return error;
	}
	if (!p) {
		log_debug("libdmabufd: reply id %llu matches no request (error %d: %s)",
			  (unsigned long long)reply->id, (int)reply->error, reply->reason);
		wire_close_fds(fds, nfds);
		if (reply->error < 0)
			set_reason(c, reply->reason);
		dmabufd__reply__free_unpacked(reply, NULL);
		*ran += fail_connection(c, -EPROTO);
		return -EPROTO;
	}
	pending_unlink(c, p);
	error = check_reply(p, reply, fds, nfds, wire_flags, &fd);
	log_debug("libdmabufd: reply %llu: %d", (unsigned long long)reply->id, error);

	if (p->sync) {
		p->done = true;
		p->error = error;
		p->reply = reply;
		p->fd = fd;
		return 1;
	}

	/* Asynchronous Alloc. */
	{
		struct dmabufd_buffer buf;

		if (!error) {
			error = parse_alloc(reply->alloc, p->min_size, fd, &buf);
			if (error) {
				close(fd);
				fd = -1;
			}
		}
		run_callback(c, p, error, error ? NULL : &buf, reply->reason);
		dmabufd__reply__free_unpacked(reply, NULL);
		pending_free(p);
		(*ran)++;
	}
	return 1;
}

/* Packs and sends @req under a fresh id. Return: the id (> 0) or -errno. */
static int send_request(struct dmabufd_client *c, Dmabufd__Request *req, uint64_t *ret_id)
{
	uint8_t buf[REQUEST_MAX];
	size_t len;
	int r;

	req->id = c->next_id;
	len = dmabufd__request__get_packed_size(req);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	dmabufd__request__pack(req, buf);
	while ((r = wire_send(c->sock, buf, len, NULL, 0)) == -EAGAIN) {
		/* O_NONBLOCK socket with a full queue: wait for room. */
		r = wait_socket(c->sock, POLLOUT, true);
		if (r < 0)
			break;
	}
	if (r < 0) {
		log_debug("libdmabufd: sending request %llu: %s",
			  (unsigned long long)req->id, strerror(-r));
		if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
			fail_connection(c, r);
		return r;
	}
	c->next_id++;
	*ret_id = req->id;
	return 0;
}

/*
 * Sends @req and waits for its reply, running callbacks of other replies
 * that arrive first. On success *ret_reply (owned by the caller) and
 * *ret_fd (when @want_fd) are set. Sets c->reason for the caller.
 */
static int transact(struct dmabufd_client *c, Dmabufd__Request *req,
		    Dmabufd__Reply__BodyCase expect, bool want_fd,
		    Dmabufd__Reply **ret_reply, int *ret_fd)
{
	struct pending *p;
	int r, ran = 0;

	c->reason[0] = '\0';
	if (c->dead)
		return c->dead;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->expect = expect;
	p->want_fd = want_fd;
	p->sync = true;
	p->fd = -1;

	r = send_request(c, req, &p->id);
	if (r < 0) {
		free(p);
		return r;
	}
	pending_append(c, p);

	while (!p->done) {
		int e = read_one(c, true, &ran);

		if (e < 0 && !p->done) {
			/* poll(2) failed; the connection itself may still be fine. */
			pending_unlink(c, p);
			p->done = true;
			p->error = e;
		}
	}

	/* Replies come in order: every earlier one has been read. */
	if (p->reply)
		c->releases_unread = 0;
	r = p->error;
	if (r < 0) {
		if (p->reply || !c->reason[0]) /* keep a connection refusal's reason */
			set_reason(c, p->reply && p->reply->error < 0 ? p->reply->reason : "");
		pending_free(p);
		return r;
	}
	c->reason[0] = '\0';
	*ret_reply = TAKE_PTR(p->reply);
	if (ret_fd)
		*ret_fd = TAKE_FD(p->fd);
	pending_free(p);
	return 0;
}

/* ---- connection ------------------------------------------------------- */

static void client_free(struct dmabufd_client *c)
{
	if (!c)
		return;
	if (c->sock >= 0)
		close(c->sock);
	free(c->rx);
	free(c);
}

/*
 * The daemon may refuse a peer ([access], too many clients) with one Reply
 * (id 0) and close the socket before our Hello is sent: sending then fails
 * with EPIPE while the refusal is still queued for us. Return its errno,
 * or @error when there is none.
 */
static int read_refusal(struct dmabufd_client *c, int error)
{
	int fds[DMABUFD_MAX_FDS];
	size_t nfds = 0;
	unsigned flags = 0;
	Dmabufd__Reply *reply;
	long n = wire_recv(c->sock, c->rx, DMABUFD_MAX_MESSAGE, fds, DMABUFD_MAX_FDS, &nfds,
			   &flags);

	if (n <= 0)
		return error;
	wire_close_fds(fds, nfds);
	if (flags & WIRE_TRUNCATED)
		return error;
	reply = dmabufd__reply__unpack(NULL, (size_t)n, c->rx);
	if (!reply)
		return error;
	if (reply->id == 0 && reply->error < 0 && reply->error >= -ERRNO_MAX) {
		error = reply->error;
		set_reason(c, reply->reason);
	}
	dmabufd__reply__free_unpacked(reply, NULL);
	return error;
}

int dmabufd_connect_fd(int sock, const char *client_name, struct dmabufd_client **ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Hello hello = DMABUFD__HELLO__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__HelloReply *h;
	struct dmabufd_client *c;
	char name[CLIENT_NAME_MAX + 1];
	int r;

	if (sock < 0 || !ret) {
		if (sock >= 0)
			close(sock);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(sock);
		return -ENOMEM;
	}
	c->sock = sock;
	c->next_id = 1;
	c->rx = malloc(DMABUFD_MAX_MESSAGE);
	if (!c->rx) {
		client_free(c);
		return -ENOMEM;
	}

	copy_string(name, sizeof(name), client_name ? client_name : program_invocation_short_name);
	hello.version = DMABUFD_PROTOCOL_VERSION;
	hello.client_name = name;
	req.body_case = DMABUFD__REQUEST__BODY_HELLO;
	req.hello = &hello;
	r = transact(c, &req, DMABUFD__REPLY__BODY_HELLO, false, &reply, NULL);
	if (r == -EPIPE || r == -ECONNRESET)
		r = read_refusal(c, r);
	if (r < 0) {
		log_debug("libdmabufd: Hello refused: %s (%s)", strerror(-r), c->reason);
		client_free(c);
		return r;
	}
	h = reply->hello;
	if (!h) {
		r = -EPROTO;
	} else if (h->version != DMABUFD_PROTOCOL_VERSION) {
		log_debug("libdmabufd: daemon speaks protocol %u, we speak %u", h->version,
			  DMABUFD_PROTOCOL_VERSION);
		r = -EPROTONOSUPPORT;
	}
	if (r < 0) {
		dmabufd__reply__free_unpacked(reply, NULL);
		client_free(c);
		return r;
	}
	c->info.version = h->version;
	copy_string(c->info.backend, sizeof(c->info.backend), h->backend);
	c->info.attributes = h->attributes;
	c->info.contiguous = !!h->contiguous;
	c->info.migration = !!h->migration;
	c->info.revocation = !!h->revocation;
	c->info.dmabuf = !!h->dmabuf;
	c->info.region_size = h->region_size;
	c->info.page_size = h->page_size;
	c->info.max_message = h->max_message;
	c->info.max_buffers = h->max_buffers;
	c->info.max_alloc = h->max_alloc;
	c->release_no_reply = h->release_no_reply;
	dmabufd__reply__free_unpacked(reply, NULL);

	c->async_limit = c->info.max_buffers ? c->info.max_buffers : DMABUFD_ASYNC_DEFAULT_LIMIT;
	if (c->async_limit > DMABUFD_ASYNC_MAX_LIMIT)
		c->async_limit = DMABUFD_ASYNC_MAX_LIMIT;
	*ret = c;
	return 0;
}

DMABUFD_EXPORT int dmabufd_connect(const char *path, struct dmabufd_client **ret)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int sock = -1;
	size_t len;

	if (!ret)
		return -EINVAL;
	if (!path || !*path)
		path = secure_getenv("DMABUFD_SOCKET");
	if (!path || !*path)
		path = DMABUFD_DEFAULT_SOCKET;
	len = strlen(path);
	if (len >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, len + 1);

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return negative_errno();
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = negative_errno();

		log_debug("libdmabufd: connect(%s): %s", path, strerror(-r));
		return r;
	}
	return dmabufd_connect_fd(TAKE_FD(sock), NULL, ret);
}

DMABUFD_EXPORT void dmabufd_disconnect(struct dmabufd_client *client)
{
	if (!client)
		return;
	fail_connection(client, -ECONNABORTED);
	client_free(client);
}

DMABUFD_EXPORT int dmabufd_get_info(struct dmabufd_client *client, struct dmabufd_info *ret)
{
	if (!client || !ret)
		return -EINVAL;
	*ret = client->info;
	return 0;
}

DMABUFD_EXPORT const char *dmabufd_last_reason(struct dmabufd_client *client)
{
	return client ? client->reason : "";
}

DMABUFD_EXPORT int dmabufd_get_fd(struct dmabufd_client *client)
{
	return client ? client->sock : -EINVAL;
}

DMABUFD_EXPORT int dmabufd_dispatch(struct dmabufd_client *client)
{
	int ran = 0;

	if (!client)
		return -EINVAL;
	for (;;) {
		int r = read_one(client, false, &ran);

		if (r < 0)
			return r;
		if (r == 0)
			return ran;
	}
}

/* ---- requests --------------------------------------------------------- */

/* Local validation of Alloc arguments (the daemon checks them again). */
static int check_alloc_args(const struct dmabufd_client *c, uint64_t size, uint64_t alignment,
			    enum dmabufd_attribute attribute, uint32_t flags, const char *label)
{
	uint64_t page = c->info.page_size ? c->info.page_size : 4096;

	if (size == 0 || size > UINT64_MAX - (page - 1))
		return -EINVAL;
	if (alignment && ((alignment & (alignment - 1)) || alignment < page))
		return -EINVAL;
	if ((unsigned)attribute > DMABUFD_ATTR_UNCACHED)
		return -EINVAL;
	if (flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL)
		return -EINVAL;
	if (label && strnlen(label, DMABUFD_LABEL_MAX + 1) > DMABUFD_LABEL_MAX)
		return -EINVAL;
	return 0;
}

static void fill_alloc(Dmabufd__Request *req, Dmabufd__Alloc *a, uint64_t size,
		       uint64_t alignment, enum dmabufd_attribute attribute, uint32_t flags,
		       const char *label)
{
	a->size = size;
	a->alignment = alignment;
	a->attribute = (Dmabufd__Attribute)attribute;
	a->flags = flags;
	a->label = (char *)(label ? label : "");
	req->body_case = DMABUFD__REQUEST__BODY_ALLOC;
	req->alloc = a;
}

DMABUFD_EXPORT int dmabufd_alloc(struct dmabufd_client *client, uint64_t size,
				 uint64_t alignment, enum dmabufd_attribute attribute,
				 uint32_t flags, const char *label, struct dmabufd_buffer *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	Dmabufd__Reply *reply = NULL;
	struct dmabufd_buffer buf;
	int fd = -1, r;

	if (!client || !ret)
		return -EINVAL;
	client->reason[0] = '\0';
	r = check_alloc_args(client, size, alignment, attribute, flags, label);
	if (r < 0)
		return r;
	fill_alloc(&req, &a, size, alignment, attribute, flags, label);
	r = transact(client, &req, DMABUFD__REPLY__BODY_ALLOC, true, &reply, &fd);
	if (r < 0)
		return r;
	r = parse_alloc(reply->alloc, size, fd, &buf);
	dmabufd__reply__free_unpacked(reply, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret = buf;
	return 0;
}

DMABUFD_EXPORT int dmabufd_alloc_devices(struct dmabufd_client *client, uint64_t size,
					 uint64_t alignment, enum dmabufd_attribute attribute,
					 uint32_t flags, const char *label,
					 const char *const *devices, uint32_t num_devices,
					 struct dmabufd_buffer *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	Dmabufd__Reply *reply = NULL;
	struct dmabufd_buffer buf;
	int fd = -1, r;

	if (!client || !ret || num_devices > DMABUFD_MAX_DEVICES || (num_devices && !devices))
		return -EINVAL;
	for (uint32_t i = 0; i < num_devices; i++)
		if (!devices[i] || strnlen(devices[i], 256) > 255)
			return -EINVAL;
	client->reason[0] = '\0';
	r = check_alloc_args(client, size, alignment, attribute, flags, label);
	if (r < 0)
		return r;
	fill_alloc(&req, &a, size, alignment, attribute, flags, label);
	a.n_devices = num_devices;
	a.devices = (char **)devices;
	r = transact(client, &req, DMABUFD__REPLY__BODY_ALLOC, true, &reply, &fd);
	if (r < 0)
		return r;
	r = parse_alloc(reply->alloc, size, fd, &buf);
	dmabufd__reply__free_unpacked(reply, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret = buf;
	return 0;
}

DMABUFD_EXPORT int dmabufd_alloc_framebuffer(struct dmabufd_client *client, uint32_t width,
					     uint32_t height, uint32_t fourcc, uint64_t modifier,
					     uint32_t usage, enum dmabufd_attribute attribute,
					     uint32_t flags, const char *label,
					     struct dmabufd_framebuffer *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__AllocFramebuffer a = DMABUFD__ALLOC_FRAMEBUFFER__INIT;
	Dmabufd__AllocFramebufferReply *fr;
	Dmabufd__Reply *reply = NULL;
	struct fb_layout layout = { 0 };
	int fd = -1, r;

	if (!client || !ret)
		return -EINVAL;
	client->reason[0] = '\0';
	if (width == 0 || height == 0 || usage == 0 || (unsigned)attribute > DMABUFD_ATTR_UNCACHED ||
	    (flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL) ||
	    (label && strnlen(label, DMABUFD_LABEL_MAX + 1) > DMABUFD_LABEL_MAX))
		return -EINVAL;
	a.width = width;
	a.height = height;
	a.fourcc = fourcc;
	a.modifier = modifier;
	a.usage = usage;
	a.attribute = (Dmabufd__Attribute)attribute;
	a.flags = flags;
	a.label = (char *)(label ? label : "");
	req.body_case = DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER;
	req.alloc_framebuffer = &a;
	r = transact(client, &req, DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER, true, &reply, &fd);
	if (r < 0)
		return r;

	/* Never trust the layout: it must describe what was asked, inside the fd. */
	fr = reply->alloc_framebuffer;
	r = -EPROTO;
	if (fr && fr->buffer_id && fr->n_planes >= 1 && fr->n_planes <= FB_MAX_PLANES &&
	    fr->width == width && fr->height == height && fr->fourcc == fourcc &&
	    fr->modifier == modifier) {
		layout.width = fr->width;
		layout.height = fr->height;
		layout.fourcc = fr->fourcc;
		layout.modifier = fr->modifier;
		layout.num_planes = (uint32_t)fr->n_planes;
		layout.size = fr->size;
		for (size_t i = 0; i < fr->n_planes; i++) {
			layout.offsets[i] = fr->planes[i]->offset;
			layout.pitches[i] = fr->planes[i]->pitch;
			layout.sizes[i] = fr->planes[i]->size;
		}
		r = fb_layout_validate(&layout);
	}
	if (r < 0) {
		log_debug("libdmabufd: reply %llu: malformed framebuffer layout",
			  (unsigned long long)reply->id);
		dmabufd__reply__free_unpacked(reply, NULL);
		close(fd);
		return -EPROTO;
	}
	fb_layout_to_framebuffer(&layout, fr->buffer_id, fd, ret);
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_alloc_async(struct dmabufd_client *client, uint64_t size,
				       uint64_t alignment, enum dmabufd_attribute attribute,
				       uint32_t flags, const char *label, dmabufd_alloc_cb cb,
				       void *userdata)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	struct pending *p;
	int r;

	if (!client || !cb)
		return -EINVAL;
	client->reason[0] = '\0';
	r = check_alloc_args(client, size, alignment, attribute, flags, label);
	if (r < 0)
		return r;
	if (client->dead)
		return client->dead;
	if (client->n_async >= client->async_limit)
		return -EBUSY;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->expect = DMABUFD__REPLY__BODY_ALLOC;
	p->want_fd = true;
	p->cb = cb;
	p->userdata = userdata;
	p->min_size = size;
	p->fd = -1;
	fill_alloc(&req, &a, size, alignment, attribute, flags, label);
	r = send_request(client, &req, &p->id);
	if (r < 0) {
		free(p);
		return r;
	}
	pending_append(client, p);
	return 0;
}

DMABUFD_EXPORT int dmabufd_release(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;
	Dmabufd__Reply *reply = NULL;
	int r;

	if (!client)
		return -EINVAL;
	rel.buffer_id = id;
	req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
	req.release = &rel;
	r = transact(client, &req, DMABUFD__REPLY__BODY__NOT_SET, false, &reply, NULL);
	if (r < 0)
		return r;
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_release_async(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;
	uint64_t sent;

	if (!client)
		return -EINVAL;
	/* A daemon without RELEASE_NO_REPLY would answer: wait for it. */
	if (!client->release_no_reply)
		return dmabufd_release(client, id);
	client->reason[0] = '\0';
	if (client->dead)
		return client->dead;
	if (++client->releases_unread > RELEASE_ASYNC_DRAIN) {
		int ran = 0, r;

		while ((r = read_one(client, false, &ran)) == 1)
			;
		if (r < 0)
			return r;
		client->releases_unread = 1;
	}
	rel.buffer_id = id;
	rel.flags = DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY;
	req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
	req.release = &rel;
	return send_request(client, &req, &sent);
}

DMABUFD_EXPORT int dmabufd_release_failures(struct dmabufd_client *client, uint64_t *ret_count,
					    uint64_t *ret_id, int *ret_error)
{
	if (!client)
		return -EINVAL;
	if (ret_count)
		*ret_count = client->release_failures;
	if (ret_id)
		*ret_id = client->release_failed_id;
	if (ret_error)
		*ret_error = client->release_failed_error;
	return 0;
}

static void fill_info(struct dmabufd_buffer_info *d, const Dmabufd__BufferInfo *s)
{
	memset(d, 0, sizeof(*d));
	d->id = s->buffer_id;
	d->size = s->size;
	d->attribute = (enum dmabufd_attribute)s->attribute;
	d->flags = s->flags;
	d->owner_pid = s->owner_pid;
	d->owner_uid = s->owner_uid;
	d->owner_gid = s->owner_gid;
	copy_string(d->owner_comm, sizeof(d->owner_comm), s->owner_comm);
	copy_string(d->label, sizeof(d->label), s->label);
	d->created_usec = s->created_usec;
	d->offset = s->offset;
	d->n_importers = s->n_importers > UINT32_MAX ? UINT32_MAX : (uint32_t)s->n_importers;
	for (size_t i = 0; i < s->n_importers && i < DMABUFD_LIST_IMPORTERS; i++) {
		const Dmabufd__ImporterInfo *ii = s->importers[i];

		d->importers[i].pid = ii->pid;
		d->importers[i].uid = ii->uid;
		d->importers[i].gid = ii->gid;
		copy_string(d->importers[i].comm, sizeof(d->importers[i].comm), ii->comm);
		d->importers[i].imported_usec = ii->imported_usec;
	}
	d->tokens = s->tokens;
	d->owner_transfers = s->owner_transfers;
	copy_string(d->backend, sizeof(d->backend), s->backend); /* issue 5 */
}

/*
 * Admits one page of a paged listing (List, Accounting) into @rows: a page
 * that claims more but is empty would loop forever (-EPROTO), the total is
 * bounded by @max (-E2BIG), and the array grows by doubling from @initial
 * entries of @elem bytes (-ENOMEM). On success *rows has room for @n more
 * entries after @count.
 */
static int page_admit(void **rows, size_t *cap, size_t count, size_t n, bool more,
		      size_t max, size_t initial, size_t elem)
{
	size_t ncap;
	void *grown;

	if (more && n == 0)
		return -EPROTO;
	if (count + n > max)
		return -E2BIG;
	if (count + n <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : initial;
	while (ncap < count + n)
		ncap *= 2;
	grown = reallocarray(*rows, ncap, elem);
	if (!grown)
		return -ENOMEM;
	*rows = grown;
	*cap = ncap;
	return 0;
}

DMABUFD_EXPORT int dmabufd_list(struct dmabufd_client *client, struct dmabufd_buffer_info **ret,
				size_t *ret_count)
{
	_cleanup_free_ struct dmabufd_buffer_info *rows = NULL;
	size_t count = 0, cap = 0;
	uint64_t after = 0;
	bool more = true;

	if (!client || !ret || !ret_count)
		return -EINVAL;
	while (more) {
		Dmabufd__Request req = DMABUFD__REQUEST__INIT;
		Dmabufd__List l = DMABUFD__LIST__INIT;
		Dmabufd__Reply *reply = NULL;
		const Dmabufd__ListReply *lr;
		int r = 0;

		l.start_after = after;
		l.max_entries = 0; /* the daemon's page size */
		req.body_case = DMABUFD__REQUEST__BODY_LIST;
		req.list = &l;
		r = transact(client, &req, DMABUFD__REPLY__BODY_LIST, false, &reply, NULL);
		if (r < 0)
			return r;
		lr = reply->list;
		more = lr->more;
		r = page_admit((void **)&rows, &cap, count, lr->n_buffers, more,
			       DMABUFD_LIST_MAX_ENTRIES, 64, sizeof(*rows));
		for (size_t i = 0; r == 0 && i < lr->n_buffers; i++) {
			/* Ids come in ascending order, after the cursor. */
			if (lr->buffers[i]->buffer_id <= after) {
				r = -EPROTO;
				break;
			}
			after = lr->buffers[i]->buffer_id;
			fill_info(&rows[count++], lr->buffers[i]);
		}
		dmabufd__reply__free_unpacked(reply, NULL);
		if (r < 0)
			return r;
	}
	if (!rows) {
		/* Never hand out NULL for an empty list. */
		rows = calloc(1, sizeof(*rows));
		if (!rows)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(rows);
	*ret_count = count;
	return 0;
}

DMABUFD_EXPORT void dmabufd_list_free(struct dmabufd_buffer_info *list)
{
	free(list);
}

DMABUFD_EXPORT int dmabufd_stats(struct dmabufd_client *client, struct dmabufd_stats *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats s = DMABUFD__STATS__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__StatsReply *sr;
	struct dmabufd_stats st = { 0 };
	int r;

	if (!client || !ret)
		return -EINVAL;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &s;
	r = transact(client, &req, DMABUFD__REPLY__BODY_STATS, false, &reply, NULL);
	if (r < 0)
		return r;
	sr = reply->stats;
	copy_string(st.backend, sizeof(st.backend), sr->backend);
	st.capacity = sr->capacity;
	st.used = sr->used;
	st.buffers = sr->buffers;
	st.clients = sr->clients;
	st.allocs_total = sr->allocs_total;
	st.allocs_failed = sr->allocs_failed;
	st.releases_total = sr->releases_total;
	st.free_pages = sr->free_pages;
	st.largest_free_pages = sr->largest_free_pages;
	st.fragmentation_permille = sr->fragmentation_permille;
	st.transitions = sr->transitions;
	st.pinned_buffers = sr->pinned_buffers;
	st.movable_buffers = sr->movable_buffers;
	st.page_size = sr->page_size;
	st.tokens = sr->tokens;
	st.imports = sr->imports;
	st.imports_total = sr->imports_total;
	st.owner_transfers = sr->owner_transfers;
	st.quota_refusals = sr->quota_refusals;
	st.access_refusals = sr->access_refusals;
	st.config_reloads = sr->config_reloads;
	st.compactions = sr->compactions;
	st.compaction_moves = sr->compaction_moves;
	st.compaction_bytes = sr->compaction_bytes;
	st.orphaned_buffers = sr->orphaned_buffers;
	for (size_t i = 0; i < sr->n_probe && i < DMABUFD_MAX_PROBE; i++) {
		struct dmabufd_probe_entry *e = &st.probe[st.num_probe++];

		copy_string(e->backend, sizeof(e->backend), sr->probe[i]->backend);
		copy_string(e->reason, sizeof(e->reason), sr->probe[i]->reason);
		e->present = sr->probe[i]->present;
		e->chosen = sr->probe[i]->chosen;
	}
	for (size_t i = 0; i < sr->n_backends && i < DMABUFD_MAX_BACKENDS; i++) { /* issue 5 */
		const Dmabufd__BackendInfo *bi = sr->backends[i];
		struct dmabufd_backend_stats *e = &st.backends[st.num_backends++];

		copy_string(e->name, sizeof(e->name), bi->name);
		e->attributes = bi->attributes;
		e->contiguous = bi->contiguous;
		e->migration = bi->migration;
		e->revocation = bi->revocation;
		e->dmabuf = bi->dmabuf;
		e->capacity = bi->capacity;
		e->page_size = bi->page_size;
		e->used = bi->used;
		e->buffers = bi->buffers;
		e->free_pages = bi->free_pages;
		e->largest_free_pages = bi->largest_free_pages;
		e->allocs = bi->allocs;
		e->fallthroughs = bi->fallthroughs;
	}
	dmabufd__reply__free_unpacked(reply, NULL);
	*ret = st;
	return 0;
}

/* ---- attributes ------------------------------------------------------- */

DMABUFD_EXPORT const char *dmabufd_attribute_name(enum dmabufd_attribute attribute)
{
	switch (attribute) {
	case DMABUFD_ATTR_CACHED:
		return "cached";
	case DMABUFD_ATTR_WRITECOMBINE:
		return "wc";
	case DMABUFD_ATTR_UNCACHED:
		return "uncached";
	}
	return "unknown";
}

DMABUFD_EXPORT int dmabufd_attribute_from_string(const char *s, enum dmabufd_attribute *ret)
{
	static const struct {
		const char *name;
		enum dmabufd_attribute attr;
	} names[] = {
		{ "cached", DMABUFD_ATTR_CACHED },       { "wb", DMABUFD_ATTR_CACHED },
		{ "wc", DMABUFD_ATTR_WRITECOMBINE },     { "writecombine", DMABUFD_ATTR_WRITECOMBINE },
		{ "write-combine", DMABUFD_ATTR_WRITECOMBINE },
		{ "uc", DMABUFD_ATTR_UNCACHED },         { "uncached", DMABUFD_ATTR_UNCACHED },
	};

	if (!s || !ret)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*ret = names[i].attr;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- sharing (docs/SHARING.md) ---------------------------------------- */

/* Most share targets a request may carry: 128 packed uint32s fit REQUEST_MAX
 * (the daemon caps [share] max-targets-per-token at 128 too). */
#define SHARE_TARGETS_MAX 128u
/* Most rows dmabufd_accounting() accumulates. */
#define ACCOUNTING_MAX_ENTRIES (1u << 20)

DMABUFD_EXPORT int dmabufd_share(struct dmabufd_client *client, uint64_t id,
				 const struct dmabufd_share_targets *who, uint32_t flags,
				 uint32_t expiry_sec, struct dmabufd_token *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Share sh = DMABUFD__SHARE__INIT;
	Dmabufd__Reply *reply = NULL;
	_cleanup_free_ uint32_t *uids = NULL, *gids = NULL;
	_cleanup_free_ int32_t *pids = NULL;
	struct dmabufd_token tok = { 0 };
	int r;

	if (!client || !ret || (flags & ~(uint32_t)DMABUFD_SHARE_SINGLE_USE))
		return -EINVAL;
	client->reason[0] = '\0';
	if (who) {
		if ((who->n_uids && !who->uids) || (who->n_gids && !who->gids) ||
		    (who->n_pids && !who->pids) ||
		    who->n_uids + who->n_gids + who->n_pids > SHARE_TARGETS_MAX)
			return -EINVAL;
		/* The wire's integer widths differ from uid_t/gid_t/pid_t's in name only. */
		uids = calloc(who->n_uids + 1, sizeof(*uids));
		gids = calloc(who->n_gids + 1, sizeof(*gids));
		pids = calloc(who->n_pids + 1, sizeof(*pids));
		if (!uids || !gids || !pids)
			return -ENOMEM;
		for (size_t i = 0; i < who->n_uids; i++)
			uids[i] = who->uids[i];
		for (size_t i = 0; i < who->n_gids; i++)
			gids[i] = who->gids[i];
		for (size_t i = 0; i < who->n_pids; i++)
			pids[i] = who->pids[i];
		sh.uids = uids;
		sh.n_uids = who->n_uids;
		sh.gids = gids;
		sh.n_gids = who->n_gids;
		sh.pids = pids;
		sh.n_pids = who->n_pids;
	}
	sh.buffer_id = id;
	sh.single_use = !!(flags & DMABUFD_SHARE_SINGLE_USE);
	sh.expiry_sec = expiry_sec;
	req.body_case = DMABUFD__REQUEST__BODY_SHARE;
	req.share = &sh;
	r = transact(client, &req, DMABUFD__REPLY__BODY_SHARE, false, &reply, NULL);
	if (r < 0)
		return r;
	if (!reply->share || reply->share->token.len != DMABUFD_TOKEN_SIZE) {
		dmabufd__reply__free_unpacked(reply, NULL);
		return -EPROTO;
	}
	memcpy(tok.bytes, reply->share->token.data, DMABUFD_TOKEN_SIZE);
	tok.expires_usec = reply->share->expires_usec;
	dmabufd__reply__free_unpacked(reply, NULL);
	*ret = tok;
	return 0;
}

DMABUFD_EXPORT int dmabufd_import(struct dmabufd_client *client,
				  const uint8_t token[DMABUFD_TOKEN_SIZE],
				  struct dmabufd_buffer *ret, struct dmabufd_import_info *ret_info)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Import im = DMABUFD__IMPORT__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__ImportReply *ir;
	int fd = -1, r;

	if (!client || !token || !ret)
		return -EINVAL;
	client->reason[0] = '\0';
	im.token.data = (uint8_t *)token;
	im.token.len = DMABUFD_TOKEN_SIZE;
	req.body_case = DMABUFD__REQUEST__BODY_IMPORT;
	req.import = &im;
	r = transact(client, &req, DMABUFD__REPLY__BODY_IMPORT, true, &reply, &fd);
	if (r < 0)
		return r;
	ir = reply->import;
	if (!ir || ir->buffer_id == 0 || ir->size == 0) {
		dmabufd__reply__free_unpacked(reply, NULL);
		close(fd);
		return -EPROTO;
	}
	*ret = (struct dmabufd_buffer){
		.id = ir->buffer_id, .fd = fd, .size = ir->size, .offset = ir->offset,
	};
	if (ret_info)
		*ret_info = (struct dmabufd_import_info){
			.attribute = (enum dmabufd_attribute)ir->attribute,
			.flags = ir->flags,
			.owner_pid = ir->owner_pid,
			.owner_uid = ir->owner_uid,
		};
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_unshare(struct dmabufd_client *client,
				   const uint8_t token[DMABUFD_TOKEN_SIZE])
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Unshare un = DMABUFD__UNSHARE__INIT;
	Dmabufd__Reply *reply = NULL;
	int r;

	if (!client || !token)
		return -EINVAL;
	un.token.data = (uint8_t *)token;
	un.token.len = DMABUFD_TOKEN_SIZE;
	req.body_case = DMABUFD__REQUEST__BODY_UNSHARE;
	req.unshare = &un;
	r = transact(client, &req, DMABUFD__REPLY__BODY__NOT_SET, false, &reply, NULL);
	if (r < 0)
		return r;
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_compact(struct dmabufd_client *client,
				   struct dmabufd_compact_result *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Compact cp = DMABUFD__COMPACT__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__CompactReply *cr;
	int r;

	if (!client || !ret)
		return -EINVAL;
	req.body_case = DMABUFD__REQUEST__BODY_COMPACT;
	req.compact = &cp;
	r = transact(client, &req, DMABUFD__REPLY__BODY_COMPACT, false, &reply, NULL);
	if (r < 0)
		return r;
	cr = reply->compact;
	*ret = (struct dmabufd_compact_result){
		.planned_moves = cr->planned_moves,
		.planned_bytes = cr->planned_bytes,
		.moves = cr->moves,
		.bytes_moved = cr->bytes_moved,
		.largest_free_before = cr->largest_free_before,
		.largest_free_after = cr->largest_free_after,
	};
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_revoke(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Revoke rv = DMABUFD__REVOKE__INIT;
	Dmabufd__Reply *reply = NULL;
	int r;

	if (!client)
		return -EINVAL;
	rv.buffer_id = id;
	req.body_case = DMABUFD__REQUEST__BODY_REVOKE;
	req.revoke = &rv;
	r = transact(client, &req, DMABUFD__REPLY__BODY__NOT_SET, false, &reply, NULL);
	if (r < 0)
		return r;
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_token_to_string(const uint8_t token[DMABUFD_TOKEN_SIZE],
					   char buf[DMABUFD_TOKEN_STRING_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	if (!token || !buf)
		return -EINVAL;
	for (unsigned i = 0; i < DMABUFD_TOKEN_SIZE; i++) {
		buf[2 * i] = hex[token[i] >> 4];
		buf[2 * i + 1] = hex[token[i] & 15];
	}
	buf[2 * DMABUFD_TOKEN_SIZE] = '\0';
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

DMABUFD_EXPORT int dmabufd_token_from_string(const char *s, uint8_t ret[DMABUFD_TOKEN_SIZE])
{
	uint8_t tok[DMABUFD_TOKEN_SIZE];

	if (!s || !ret || strlen(s) != 2 * DMABUFD_TOKEN_SIZE)
		return -EINVAL;
	for (unsigned i = 0; i < DMABUFD_TOKEN_SIZE; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		tok[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, tok, sizeof(tok));
	return 0;
}

static void fill_usage_row(struct dmabufd_account *d, const Dmabufd__AccountingEntry *e)
{
	memset(d, 0, sizeof(*d));
	d->key = e->key;
	d->pid = e->pid;
	d->uid = e->uid;
	d->gid = e->gid;
	copy_string(d->comm, sizeof(d->comm), e->comm);
	d->owned_bytes = e->owned_bytes;
	d->owned_buffers = e->owned_buffers;
	d->imported_bytes = e->imported_bytes;
	d->imported_buffers = e->imported_buffers;
	for (size_t a = 0; a < 3 && a < e->n_owned_bytes_by_attribute; a++)
		d->owned_by_attribute[a] = e->owned_bytes_by_attribute[a];
	for (size_t a = 0; a < 3 && a < e->n_imported_bytes_by_attribute; a++)
		d->imported_by_attribute[a] = e->imported_bytes_by_attribute[a];
	d->tokens = e->tokens;
}

DMABUFD_EXPORT int dmabufd_accounting(struct dmabufd_client *client, enum dmabufd_account_kind kind,
				 struct dmabufd_account **ret, size_t *ret_count)
{
	_cleanup_free_ struct dmabufd_account *rows = NULL;
	size_t count = 0, cap = 0;
	uint64_t after = 0;
	bool more = true;

	if (!client || !ret || !ret_count || (unsigned)kind > DMABUFD_ACCOUNT_GIDS)
		return -EINVAL;
	while (more) {
		Dmabufd__Request req = DMABUFD__REQUEST__INIT;
		Dmabufd__Accounting u = DMABUFD__ACCOUNTING__INIT;
		Dmabufd__Reply *reply = NULL;
		const Dmabufd__AccountingReply *ur;
		int r = 0;

		u.kind = (Dmabufd__AccountingKind)kind;
		u.start_after = after;
		req.body_case = DMABUFD__REQUEST__BODY_ACCOUNTING;
		req.accounting = &u;
		r = transact(client, &req, DMABUFD__REPLY__BODY_ACCOUNTING, false, &reply, NULL);
		if (r < 0)
			return r;
		ur = reply->accounting;
		more = ur->more;
		r = page_admit((void **)&rows, &cap, count, ur->n_entries, more,
			       ACCOUNTING_MAX_ENTRIES, 32, sizeof(*rows));
		for (size_t i = 0; r == 0 && i < ur->n_entries; i++) {
			if (ur->entries[i]->key <= after) {
				r = -EPROTO;
				break;
			}
			after = ur->entries[i]->key;
			fill_usage_row(&rows[count++], ur->entries[i]);
		}
		dmabufd__reply__free_unpacked(reply, NULL);
		if (r < 0)
			return r;
	}
	if (!rows) {
		rows = calloc(1, sizeof(*rows));
		if (!rows)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(rows);
	*ret_count = count;
	return 0;
}

DMABUFD_EXPORT void dmabufd_accounting_free(struct dmabufd_account *accounts)
{
	free(accounts);
}
