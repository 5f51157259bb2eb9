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
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "macros.h"
#include "wire.h"

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

void copy_string(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void set_reason(struct dmabufd_client *c, const char *reason)
{
	copy_string(c->reason, sizeof(c->reason), reason);
}

int call_begin(struct dmabufd_client *c)
{
	if (!c)
		return -EINVAL;
	c->reason[0] = '\0';
	return 0;
}

void copy_sized(void *dst, size_t dst_size, const void *src, size_t src_size)
{
	memcpy(dst, src, dst_size < src_size ? dst_size : src_size);
	if (dst_size > src_size)
		memset((char *)dst + src_size, 0, dst_size - src_size);
}

int local_error(struct dmabufd_client *c, int error, const char *reason)
{
	set_reason(c, reason);
	return error;
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

void pending_append(struct dmabufd_client *c, struct pending *p)
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
int parse_alloc(const Dmabufd__AllocReply *a, uint64_t min_size, int fd,
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
 * Receives one datagram into c->rx and its fds into @fds.
 * Return: its length (> 0); 0 when none is queued (only when !@block);
 * negative errno: poll(2) failed, or the connection failed (pending
 * requests have been failed, *ran += callbacks run).
 */
static long receive(struct dmabufd_client *c, bool block, int *fds, size_t *nfds,
		    unsigned *wire_flags, int *ran)
{
	long n;
	int r;

	if (!block) {
		r = wait_socket(c->sock, POLLIN, false);
		if (r <= 0)
			return r;
	}
	/*
	 * Blocking: receive at once (one system call per reply: a reply's
	 * latency is the request's) and poll only when the application made
	 * the socket O_NONBLOCK.
	 */
	for (;;) {
		n = wire_recv(c->sock, c->rx, DMABUFD_MAX_MESSAGE, fds, DMABUFD_MAX_FDS, nfds,
			      wire_flags);
		if (n != -EAGAIN)
			break;
		if (!block)
			return 0; /* O_NONBLOCK socket: spurious wakeup */
		r = wait_socket(c->sock, POLLIN, true);
		if (r < 0)
			return r;
	}
	if (n <= 0) {
		int error = n == 0 ? -ECONNRESET : (int)n;

		*ran += fail_connection(c, error);
		return error;
	}
	if (*wire_flags & WIRE_TRUNCATED) {
		wire_close_fds(fds, *nfds);
		log_debug("libdmabufd: datagram of %ld bytes exceeds %u", n, DMABUFD_MAX_MESSAGE);
		*ran += fail_connection(c, -EPROTO);
		return -EPROTO;
	}
	return n;
}

/*
 * Handles a reply no pending request waits for, and frees it: a failed
 * dmabufd_release_async() is counted; a refusal of the connection itself
 * (id 0 before Hello was answered) or anything else fails the connection.
 * Return: 1, or the negative errno the connection failed with.
 */
static int handle_unmatched(struct dmabufd_client *c, Dmabufd__Reply *reply, int *fds,
			    size_t nfds, unsigned wire_flags, int *ran)
{
	bool refusal = reply->error < 0 && reply->error >= -ERRNO_MAX;
	int error = -EPROTO;

	if (reply->body_case == DMABUFD__REPLY__BODY_RELEASE_FAILED && reply->id != 0 &&
	    reply->id < c->next_id && refusal && nfds == 0 &&
	    !(wire_flags & WIRE_FDS_TRUNCATED)) {
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
	if (reply->id == 0 && refusal && c->info.version == 0) {
		/* The daemon refused the connection itself ([access] policy,
		 * too many clients) before Hello: fail with its errno. */
		error = reply->error;
		c->refused = true;
		log_debug("libdmabufd: connection refused: %s (%s)", strerror(-error),
			  reply->reason);
	} else {
		log_debug("libdmabufd: reply id %llu matches no request (error %d: %s)",
			  (unsigned long long)reply->id, (int)reply->error, reply->reason);
	}
	wire_close_fds(fds, nfds);
	if (reply->error < 0)
		set_reason(c, reply->reason);
	dmabufd__reply__free_unpacked(reply, NULL);
	*ran += fail_connection(c, error);
	return error;
}

/* Runs the callback of an asynchronous Alloc; frees @p and @reply. */
static void complete_async(struct dmabufd_client *c, struct pending *p, Dmabufd__Reply *reply,
			   int error, int fd)
{
	struct dmabufd_buffer buf;

	if (!error) {
		error = parse_alloc(reply->alloc, p->min_size, fd, &buf);
		if (error)
			close(fd);
	}
	run_callback(c, p, error, error ? NULL : &buf, reply->reason);
	dmabufd__reply__free_unpacked(reply, NULL);
	pending_free(p);
}

int read_one(struct dmabufd_client *c, bool block, int *ran)
{
	int fds[DMABUFD_MAX_FDS];
	size_t nfds = 0;
	unsigned wire_flags = 0;
	Dmabufd__Reply *reply;
	struct pending *p;
	int fd = -1, error;
	long n;

	if (c->dead)
		return c->dead;
	n = receive(c, block, fds, &nfds, &wire_flags, ran);
	if (n <= 0)
		return (int)n;
	reply = dmabufd__reply__unpack(NULL, (size_t)n, c->rx);
	if (!reply) {
		wire_close_fds(fds, nfds);
		log_debug("libdmabufd: datagram of %ld bytes is not a Reply", n);
		*ran += fail_connection(c, -EPROTO);
		return -EPROTO;
	}
	p = reply->id ? pending_find(c, reply->id) : NULL;
	if (!p)
		return handle_unmatched(c, reply, fds, nfds, wire_flags, ran);
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
	complete_async(c, p, reply, error, fd);
	(*ran)++;
	return 1;
}

/* Packs and sends @req under a fresh id. Return: the id (> 0) or -errno. */
int send_request(struct dmabufd_client *c, Dmabufd__Request *req, uint64_t *ret_id)
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
int transact(struct dmabufd_client *c, Dmabufd__Request *req,
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
	if (p->reply && p->reply->error < 0)
		c->refused = true;
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
		c->refused = true;
		set_reason(c, reply->reason);
	}
	dmabufd__reply__free_unpacked(reply, NULL);
	return error;
}

/*
 * Why the calling thread's latest dmabufd_connect() failed, for
 * dmabufd_last_reason(NULL): no connection outlives the failure to hold it.
 */
static _Thread_local char connect_reason[DMABUFD_REASON_MAX];

/*
 * Keeps the reason of @c's failed Hello for dmabufd_last_reason(NULL). A
 * refusal by the daemon always leaves one, so that callers can tell it
 * from a socket that could not be opened.
 */
static void keep_connect_reason(const struct dmabufd_client *c, int error)
{
	if (c->reason[0])
		copy_string(connect_reason, sizeof(connect_reason), c->reason);
	else if (c->refused)
		snprintf(connect_reason, sizeof(connect_reason),
			 "dmabufd refused the connection without a reason (%s)", strerror(-error));
}

/* Takes what Hello's reply says into c->info. Return: 0, -EPROTO, -EPROTONOSUPPORT. */
static int take_hello(struct dmabufd_client *c, const Dmabufd__HelloReply *h)
{
	if (!h)
		return -EPROTO;
	if (h->version != DMABUFD_PROTOCOL_VERSION) {
		log_debug("libdmabufd: daemon speaks protocol %u, we speak %u", h->version,
			  DMABUFD_PROTOCOL_VERSION);
		snprintf(c->reason, sizeof(c->reason), "dmabufd speaks protocol %u, this library %u",
			 h->version, DMABUFD_PROTOCOL_VERSION);
		return -EPROTONOSUPPORT;
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
	c->async_limit = c->info.max_buffers ? c->info.max_buffers : DMABUFD_ASYNC_DEFAULT_LIMIT;
	if (c->async_limit > DMABUFD_ASYNC_MAX_LIMIT)
		c->async_limit = DMABUFD_ASYNC_MAX_LIMIT;
	return 0;
}

/* Says Hello on @c. Return: 0, or the negative errno the connection failed with. */
static int say_hello(struct dmabufd_client *c, const char *client_name)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Hello hello = DMABUFD__HELLO__INIT;
	Dmabufd__Reply *reply = NULL;
	char name[CLIENT_NAME_MAX + 1];
	int r;

	copy_string(name, sizeof(name), client_name ? client_name : program_invocation_short_name);
	hello.version = DMABUFD_PROTOCOL_VERSION;
	hello.client_name = name;
	req.body_case = DMABUFD__REQUEST__BODY_HELLO;
	req.hello = &hello;
	r = transact(c, &req, DMABUFD__REPLY__BODY_HELLO, false, &reply, NULL);
	if (r == -EPIPE || r == -ECONNRESET)
		r = read_refusal(c, r);
	if (r < 0)
		return r;
	r = take_hello(c, reply->hello);
	dmabufd__reply__free_unpacked(reply, NULL);
	return r;
}

int dmabufd_connect_fd(int sock, const char *client_name, struct dmabufd_client **ret)
{
	struct dmabufd_client *c;
	int r;

	connect_reason[0] = '\0';
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
	r = say_hello(c, client_name);
	if (r < 0) {
		log_debug("libdmabufd: Hello failed: %s (%s)", strerror(-r), c->reason);
		keep_connect_reason(c, r);
		client_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

DMABUFD_EXPORT int dmabufd_connect(const char *path, struct dmabufd_client **ret)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int sock = -1;
	size_t len;

	connect_reason[0] = '\0';
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

DMABUFD_EXPORT int dmabufd_get_info_sized(struct dmabufd_client *client,
					  struct dmabufd_info *ret, size_t size)
{
	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (size < DMABUFD_INFO_SIZE_VER0)
		return local_error(client, -EINVAL, "struct dmabufd_info size too small");
	copy_sized(ret, size, &client->info, sizeof(client->info));
	return 0;
}

DMABUFD_EXPORT int dmabufd_get_info(struct dmabufd_client *client, struct dmabufd_info *ret)
{
	return dmabufd_get_info_sized(client, ret, DMABUFD_INFO_SIZE_VER0);
}

DMABUFD_EXPORT const char *dmabufd_last_reason(struct dmabufd_client *client)
{
	return client ? client->reason : connect_reason;
}

DMABUFD_EXPORT int dmabufd_get_fd(struct dmabufd_client *client)
{
	if (call_begin(client) < 0)
		return -EINVAL;
	return client->sock;
}

DMABUFD_EXPORT int dmabufd_dispatch(struct dmabufd_client *client)
{
	int ran = 0;

	if (call_begin(client) < 0)
		return -EINVAL;
	for (;;) {
		int r = read_one(client, false, &ran);

		if (r < 0)
			return r;
		if (r == 0)
			return ran;
	}
}

int transact_ack(struct dmabufd_client *c, Dmabufd__Request *req)
{
	Dmabufd__Reply *reply = NULL;
	int r = transact(c, req, DMABUFD__REPLY__BODY__NOT_SET, false, &reply, NULL);

	if (r < 0)
		return r;
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}
