/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd against a scripted fake daemon on the other end of a
 * socketpair(AF_UNIX, SOCK_SEQPACKET). Request ids are deterministic (Hello
 * is 1, then 2, 3, ...), so replies are queued on the socket before the
 * call that reads them; no threads. The requests the library sent are read
 * back and checked afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/framebuffer.h"
#include "libdmabufd/internal.h"
#include "dmabufd.pb-c.h"
#include "wire.h"

struct fake {
	int daemon;                 /* the fake daemon's end */
	struct dmabufd_client *c;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int make_memfd(void)
{
	int fd = memfd_create("test-buffer", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	return fd;
}

/* Sends @r with @nfds copies of fresh memfds (closed here after sending). */
static void send_reply_fds(int sock, Dmabufd__Reply *r, size_t nfds)
{
	uint8_t buf[DMABUFD_MAX_MESSAGE];
	int fds[DMABUFD_MAX_FDS];
	size_t len = dmabufd__reply__get_packed_size(r);

	assert_true(len <= sizeof(buf));
	dmabufd__reply__pack(r, buf);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = make_memfd();
	assert_int_equal(wire_send(sock, buf, len, fds, nfds), 0);
	wire_close_fds(fds, nfds);
}

static void send_error(int sock, uint64_t id, int error, const char *reason, size_t nfds)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;

	r.id = id;
	r.error = error;
	r.reason = (char *)reason;
	send_reply_fds(sock, &r, nfds);
}

static void send_hello(int sock, uint64_t id, uint32_t version, uint32_t max_buffers)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__HelloReply h = DMABUFD__HELLO_REPLY__INIT;

	h.version = version;
	h.backend = "memfd";
	h.attributes = 1;
	h.region_size = 1 << 30;
	h.page_size = 4096;
	h.max_message = DMABUFD_MAX_MESSAGE;
	h.max_buffers = max_buffers;
	h.max_alloc = 1 << 28;
	r.id = id;
	r.body_case = DMABUFD__REPLY__BODY_HELLO;
	r.hello = &h;
	send_reply_fds(sock, &r, 0);
}

static void send_alloc(int sock, uint64_t id, uint64_t buffer_id, uint64_t size, size_t nfds)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__AllocReply a = DMABUFD__ALLOC_REPLY__INIT;

	a.buffer_id = buffer_id;
	a.size = size;
	a.offset = 4096 * buffer_id;
	r.id = id;
	r.body_case = DMABUFD__REPLY__BODY_ALLOC;
	r.alloc = &a;
	send_reply_fds(sock, &r, nfds);
}

static void send_stats(int sock, uint64_t id, uint32_t buffers, size_t nfds)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__StatsReply s = DMABUFD__STATS_REPLY__INIT;

	s.backend = "memfd";
	s.capacity = 1 << 30;
	s.used = 8192;
	s.buffers = buffers;
	s.page_size = 4096;
	s.pooled = 1 << 20;
	s.pool_hits = 17;
	s.config_reload_failures = 2;
	r.id = id;
	r.body_case = DMABUFD__REPLY__BODY_STATS;
	r.stats = &s;
	send_reply_fds(sock, &r, nfds);
}

/* A Stats reply with the kernel's attribute-transition count @n (@present). */
static void send_stats_kernel(int sock, uint64_t id, bool present, uint64_t n)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__StatsReply s = DMABUFD__STATS_REPLY__INIT;

	s.backend = "kmod";
	s.page_size = 4096;
	s.transitions = 1234;
	if (present) {
		s.kernel_counter_case = DMABUFD__STATS_REPLY__KERNEL_COUNTER_KERNEL_ATTR_TRANSITIONS;
		s.kernel_attr_transitions = n;
	}
	r.id = id;
	r.body_case = DMABUFD__REPLY__BODY_STATS;
	r.stats = &s;
	send_reply_fds(sock, &r, 0);
}

/* A List page with ids @first..@first+@n-1. */
static void send_list(int sock, uint64_t id, uint64_t first, size_t n, bool more)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__ListReply l = DMABUFD__LIST_REPLY__INIT;
	Dmabufd__BufferInfo infos[8], *ptrs[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		dmabufd__buffer_info__init(&infos[i]);
		infos[i].buffer_id = first + i;
		infos[i].size = 4096;
		infos[i].attribute = DMABUFD__ATTRIBUTE__ATTRIBUTE_WRITECOMBINE;
		infos[i].owner_pid = 42;
		infos[i].owner_comm = "a-very-long-command-name";
		infos[i].label = "frame";
		ptrs[i] = &infos[i];
	}
	l.n_buffers = n;
	l.buffers = ptrs;
	l.more = more;
	r.id = id;
	r.body_case = DMABUFD__REPLY__BODY_LIST;
	r.list = &l;
	send_reply_fds(sock, &r, 0);
}

/* Reads the next request the library sent; NULL if none is queued. */
static Dmabufd__Request *read_request(int sock)
{
	uint8_t buf[DMABUFD_MAX_MESSAGE];
	ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && errno == EAGAIN)
		return NULL;
	assert_true(n > 0);
	Dmabufd__Request *req = dmabufd__request__unpack(NULL, (size_t)n, buf);
	assert_non_null(req);
	return req;
}

/* For a forked child: blocking read, no cmocka asserts. */
static Dmabufd__Request *read_request_blocking_for_child(int sock)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	ssize_t n = recv(sock, buf, sizeof(buf), 0);

	return n > 0 ? dmabufd__request__unpack(NULL, (size_t)n, buf) : NULL;
}

static void expect_request(int sock, uint64_t id, Dmabufd__Request__BodyCase body)
{
	Dmabufd__Request *req = read_request(sock);

	assert_non_null(req);
	assert_int_equal(req->id, id);
	assert_int_equal(req->body_case, body);
	dmabufd__request__free_unpacked(req, NULL);
}

static void expect_no_request(int sock)
{
	assert_null(read_request(sock));
}

static void fake_open(struct fake *f, uint32_t max_buffers)
{
	int sv[2];
	Dmabufd__Request *req;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f->daemon = sv[0];
	send_hello(f->daemon, 1, DMABUFD_PROTOCOL_VERSION, max_buffers);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &f->c), 0);
	assert_non_null(f->c);
	req = read_request(f->daemon);
	assert_non_null(req);
	assert_int_equal(req->id, 1);
	assert_int_equal(req->body_case, DMABUFD__REQUEST__BODY_HELLO);
	assert_int_equal(req->hello->version, DMABUFD_PROTOCOL_VERSION);
	assert_string_equal(req->hello->client_name, "unit");
	dmabufd__request__free_unpacked(req, NULL);
}

static void fake_close(struct fake *f)
{
	dmabufd_disconnect(f->c);
	f->c = NULL;
	if (f->daemon >= 0)
		close(f->daemon);
	f->daemon = -1;
}

/* ---- Hello ------------------------------------------------------------- */

static void test_hello_info(void **state)
{
	struct fake f;
	struct dmabufd_info info;

	fake_open(&f, 8);
	assert_int_equal(dmabufd_get_info(f.c, &info), 0);
	assert_int_equal(info.version, DMABUFD_PROTOCOL_VERSION);
	assert_string_equal(info.backend, "memfd");
	assert_int_equal(info.page_size, 4096);
	assert_int_equal(info.max_buffers, 8);
	assert_int_equal(info.max_alloc, 1 << 28);
	assert_int_equal(info.dmabuf, 0);
	assert_true(dmabufd_get_fd(f.c) >= 0);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	assert_int_equal(dmabufd_get_info(f.c, NULL), -EINVAL);
	fake_close(&f);
}

static void test_hello_version_mismatch(void **state)
{
	struct dmabufd_client *sentinel = (struct dmabufd_client *)0x1;
	struct dmabufd_client *c = sentinel;
	int sv[2], before = count_fds();

	/* The daemon answers with another version. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_hello(sv[0], 1, DMABUFD_PROTOCOL_VERSION + 1, 8);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EPROTONOSUPPORT);
	assert_ptr_equal(c, sentinel);
	close(sv[0]);

	/* The daemon refuses our version itself. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_error(sv[0], 1, -EPROTONOSUPPORT, "version 1 unknown", 0);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EPROTONOSUPPORT);
	assert_ptr_equal(c, sentinel);
	close(sv[0]);

	/* The socket was closed on failure: no fd left behind. */
	assert_int_equal(count_fds(), before);
}

static void test_hello_hangup(void **state)
{
	struct dmabufd_client *c = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	shutdown(sv[0], SHUT_WR);
	assert_int_equal(dmabufd_connect_fd(sv[1], NULL, &c), -ECONNRESET);
	assert_null(c);
	close(sv[0]);
}

/* ---- Alloc ------------------------------------------------------------- */

static void test_alloc_ok(void **state)
{
	struct fake f;
	struct dmabufd_buffer buf;
	Dmabufd__Request *req;
	struct stat st;

	fake_open(&f, 8);
	send_alloc(f.daemon, 2, 7, 8192, 1);
	assert_int_equal(dmabufd_alloc(f.c, 5000, 8192, DMABUFD_ATTR_WRITECOMBINE,
				       DMABUFD_ALLOC_MOVABLE, "cam0", &buf), 0);
	assert_int_equal(buf.id, 7);
	assert_int_equal(buf.size, 8192);
	assert_int_equal(buf.offset, 4096 * 7);
	assert_int_equal(fstat(buf.fd, &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_true(fcntl(buf.fd, F_GETFD) & FD_CLOEXEC);
	close(buf.fd);

	req = read_request(f.daemon);
	assert_non_null(req);
	assert_int_equal(req->id, 2);
	assert_int_equal(req->body_case, DMABUFD__REQUEST__BODY_ALLOC);
	assert_int_equal(req->alloc->size, 5000);
	assert_int_equal(req->alloc->alignment, 8192);
	assert_int_equal(req->alloc->attribute, DMABUFD__ATTRIBUTE__ATTRIBUTE_WRITECOMBINE);
	assert_int_equal(req->alloc->flags, DMABUFD_ALLOC_MOVABLE);
	assert_string_equal(req->alloc->label, "cam0");
	dmabufd__request__free_unpacked(req, NULL);
	fake_close(&f);
}

static void test_error_reply_propagates(void **state)
{
	struct fake f;
	struct dmabufd_buffer buf, orig;
	struct dmabufd_stats st, st_orig;

	fake_open(&f, 8);
	memset(&buf, 0xab, sizeof(buf));
	orig = buf;
	send_error(f.daemon, 2, -ENOSPC, "region full: 4096 of 1073741824 bytes free", 0);
	assert_int_equal(dmabufd_alloc(f.c, 1 << 20, 0, DMABUFD_ATTR_CACHED, 0, NULL, &buf),
			 -ENOSPC);
	assert_string_equal(dmabufd_last_reason(f.c), "region full: 4096 of 1073741824 bytes free");
	assert_memory_equal(&buf, &orig, sizeof(buf));

	memset(&st, 0xcd, sizeof(st));
	st_orig = st;
	send_error(f.daemon, 3, -EACCES, "policy", 0);
	assert_int_equal(dmabufd_stats(f.c, &st), -EACCES);
	assert_string_equal(dmabufd_last_reason(f.c), "policy");
	assert_memory_equal(&st, &st_orig, sizeof(st));

	send_error(f.daemon, 4, -ENOENT, "no buffer 9 owned by you", 0);
	assert_int_equal(dmabufd_release(f.c, 9), -ENOENT);

	/* A later success clears the reason. */
	send_stats(f.daemon, 5, 3, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(st.buffers, 3);
	assert_string_equal(dmabufd_last_reason(f.c), "");

	/* Reply.error that is not a negative errno is malformed. */
	send_error(f.daemon, 6, 12, "positive", 0);
	assert_int_equal(dmabufd_release(f.c, 9), -EPROTO);
	fake_close(&f);
}

static void test_alloc_local_validation(void **state)
{
	struct fake f;
	struct dmabufd_buffer buf, orig;
	char label[DMABUFD_LABEL_MAX + 2];

	fake_open(&f, 8);
	memset(&buf, 0x5a, sizeof(buf));
	orig = buf;
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0'; /* 64 bytes */

	assert_int_equal(dmabufd_alloc(f.c, 0, 0, 0, 0, NULL, &buf), -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, UINT64_MAX, 0, 0, 0, NULL, &buf), -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 3 << 12, 0, 0, NULL, &buf), -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 2048, 0, 0, NULL, &buf), -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, (enum dmabufd_attribute)3, 0, NULL, &buf),
			 -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 1u << 7, NULL, &buf), -EINVAL);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, label, &buf), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "label longer than DMABUFD_LABEL_MAX bytes");
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(dmabufd_alloc_async(f.c, 0, 0, 0, 0, NULL, NULL, NULL), -EINVAL);
	assert_memory_equal(&buf, &orig, sizeof(buf));
	assert_string_equal(dmabufd_last_reason(f.c), "");
	expect_no_request(f.daemon);

	/* 63 bytes is fine. */
	label[DMABUFD_LABEL_MAX] = '\0';
	send_alloc(f.daemon, 2, 1, 4096, 1);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, label, &buf), 0);
	close(buf.fd);
	fake_close(&f);
}

static void test_alloc_reply_without_fd(void **state)
{
	struct fake f;
	struct dmabufd_buffer buf, orig;
	struct dmabufd_stats st;

	fake_open(&f, 8);
	memset(&buf, 0x11, sizeof(buf));
	orig = buf;
	send_alloc(f.daemon, 2, 3, 4096, 0);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -EPROTO);
	assert_memory_equal(&buf, &orig, sizeof(buf));
	assert_string_equal(dmabufd_last_reason(f.c), "");

	/* An Alloc reply smaller than asked for, or with id 0, is malformed too. */
	send_alloc(f.daemon, 3, 4, 4096, 1);
	assert_int_equal(dmabufd_alloc(f.c, 8192, 0, 0, 0, NULL, &buf), -EPROTO);
	send_alloc(f.daemon, 4, 0, 4096, 1);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -EPROTO);
	assert_memory_equal(&buf, &orig, sizeof(buf));

	/* The connection is still usable. */
	send_stats(f.daemon, 5, 1, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	fake_close(&f);
}

static void test_unexpected_fds_closed(void **state)
{
	struct fake f;
	struct dmabufd_buffer buf;
	struct dmabufd_stats st;
	int before;

	fake_open(&f, 8);
	before = count_fds();

	/* Stats reply with two fds. */
	send_stats(f.daemon, 2, 1, 2);
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	assert_int_equal(count_fds(), before);

	/* Alloc reply with two fds. */
	send_alloc(f.daemon, 3, 1, 4096, 2);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -EPROTO);
	assert_int_equal(count_fds(), before);

	/* Error reply with an fd. */
	send_error(f.daemon, 4, -ENOSPC, "full", 1);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -EPROTO);
	assert_int_equal(count_fds(), before);

	/* Release reply (no body expected) with an fd. */
	send_error(f.daemon, 5, 0, "", 1);
	assert_int_equal(dmabufd_release(f.c, 1), -EPROTO);
	assert_int_equal(count_fds(), before);

	/* Reply whose body does not match the request. */
	send_stats(f.daemon, 6, 1, 0);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -EPROTO);

	/* Still usable afterwards. */
	send_stats(f.daemon, 7, 1, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(count_fds(), before);
	fake_close(&f);
}

static void test_malformed_reply(void **state)
{
	struct fake f;
	struct dmabufd_stats st, orig;
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12 };
	int fd, before;

	fake_open(&f, 8);
	memset(&st, 0x77, sizeof(st));
	orig = st;
	before = count_fds();
	fd = make_memfd();
	assert_int_equal(wire_send(f.daemon, garbage, sizeof(garbage), &fd, 1), 0);
	close(fd);
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	assert_memory_equal(&st, &orig, sizeof(st));
	assert_int_equal(count_fds(), before);
	/* The connection cannot be trusted any more. */
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	assert_int_equal(dmabufd_dispatch(f.c), -EPROTO);
	fake_close(&f);
}

static void test_unknown_reply_id(void **state)
{
	struct fake f;
	struct dmabufd_stats st;

	fake_open(&f, 8);
	send_stats(f.daemon, 99, 1, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	fake_close(&f);
}

/* ---- async ------------------------------------------------------------- */

struct cb_log {
	int calls;
	int order[8];
	int errors[8];
	uint64_t ids[8];
	bool fd_ok[8];
	int call_stats;            /* the callback makes a blocking call */
	int stats_result;
};

/* userdata for record_cb. */
struct cb_arg {
	struct cb_log *log;
	int tag;
};

static void record_cb(struct dmabufd_client *client, int error,
		      const struct dmabufd_buffer *buffer, void *userdata)
{
	const struct cb_arg *arg = userdata;
	struct cb_log *log = arg->log;
	int tag = arg->tag;
	int i = log->calls++;

	assert_true(i < 8);
	log->order[i] = tag;
	log->errors[i] = error;
	if (error == 0) {
		assert_non_null(buffer);
		log->ids[i] = buffer->id;
		log->fd_ok[i] = fcntl(buffer->fd, F_GETFD) >= 0;
		close(buffer->fd);
	} else {
		assert_null(buffer);
	}
	if (log->call_stats) {
		struct dmabufd_stats st;

		log->call_stats = 0;
		log->stats_result = dmabufd_stats(client, &st);
	}
}

static void test_async_dispatch_out_of_order(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 }, b = { &log, 2 };
	int before;

	fake_open(&f, 8);
	before = count_fds();
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, "a", record_cb, &a), 0);
	assert_int_equal(dmabufd_alloc_async(f.c, 8192, 0, 0, 0, "b", record_cb, &b), 0);
	expect_request(f.daemon, 2, DMABUFD__REQUEST__BODY_ALLOC);
	expect_request(f.daemon, 3, DMABUFD__REQUEST__BODY_ALLOC);

	/* Nothing arrived yet: dispatch does not block and runs nothing. */
	assert_int_equal(dmabufd_dispatch(f.c), 0);
	assert_int_equal(log.calls, 0);

	/* The second request's reply first. */
	send_alloc(f.daemon, 3, 20, 8192, 1);
	send_alloc(f.daemon, 2, 10, 4096, 1);
	assert_int_equal(dmabufd_dispatch(f.c), 2);
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.order[0], 2);
	assert_int_equal(log.ids[0], 20);
	assert_int_equal(log.order[1], 1);
	assert_int_equal(log.ids[1], 10);
	assert_int_equal(log.errors[0], 0);
	assert_true(log.fd_ok[0] && log.fd_ok[1]);
	assert_int_equal(count_fds(), before);
	assert_int_equal(dmabufd_dispatch(f.c), 0);
	fake_close(&f);
}

static void test_async_error_reason(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 };

	fake_open(&f, 8);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	send_error(f.daemon, 2, -EDQUOT, "quota", 0);
	assert_int_equal(dmabufd_dispatch(f.c), 1);
	assert_int_equal(log.errors[0], -EDQUOT);
	assert_string_equal(dmabufd_last_reason(f.c), "quota");
	fake_close(&f);
}

static void test_blocking_call_dispatches_earlier_replies(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 }, b = { &log, 2 };
	struct dmabufd_stats st;

	fake_open(&f, 8);
	/* async 2, then blocking stats 3: the async reply arrives first. */
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	send_alloc(f.daemon, 2, 10, 4096, 1);
	send_stats(f.daemon, 3, 1, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.ids[0], 10);

	/* async 4, then blocking stats 5 answered before the async one. */
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &b), 0);
	send_stats(f.daemon, 5, 2, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(st.buffers, 2);
	assert_int_equal(log.calls, 1);
	send_alloc(f.daemon, 4, 11, 4096, 1);
	assert_int_equal(dmabufd_dispatch(f.c), 1);
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.ids[1], 11);
	fake_close(&f);
}

static void test_callback_makes_blocking_call(void **state)
{
	struct fake f;
	struct cb_log log = { .call_stats = 1, .stats_result = 1 };
	struct cb_arg a = { &log, 1 };

	fake_open(&f, 8);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	send_alloc(f.daemon, 2, 10, 4096, 1);
	send_stats(f.daemon, 3, 1, 0); /* for the stats the callback sends */
	assert_int_equal(dmabufd_dispatch(f.c), 1);
	assert_int_equal(log.stats_result, 0);
	expect_request(f.daemon, 2, DMABUFD__REQUEST__BODY_ALLOC);
	expect_request(f.daemon, 3, DMABUFD__REQUEST__BODY_STATS);
	fake_close(&f);
}

static void test_disconnect_aborts_pending(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 }, b = { &log, 2 };

	fake_open(&f, 8);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &b), 0);
	dmabufd_disconnect(f.c);
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.errors[0], -ECONNABORTED);
	assert_int_equal(log.errors[1], -ECONNABORTED);
	assert_int_equal(log.order[0], 1);
	close(f.daemon);
	dmabufd_disconnect(NULL);
}

static void test_daemon_hangup(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 };
	struct dmabufd_buffer buf;
	int before;

	fake_open(&f, 8);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	close(f.daemon);
	f.daemon = -1;
	assert_int_equal(dmabufd_dispatch(f.c), -ECONNRESET);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.errors[0], -ECONNRESET);
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, &buf), -ECONNRESET);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a),
			 -ECONNRESET);
	/* The fd stays valid for the event loop until disconnect. */
	before = count_fds();
	assert_true(fcntl(dmabufd_get_fd(f.c), F_GETFD) >= 0);
	fake_close(&f);
	assert_int_equal(count_fds(), before - 1);
	assert_int_equal(log.calls, 1); /* not called twice */
}

static void test_inflight_limit(void **state)
{
	struct fake f;
	struct cb_log log = { 0 };
	struct cb_arg a = { &log, 1 };

	fake_open(&f, 2); /* max_buffers = 2 */
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), -EBUSY);
	send_alloc(f.daemon, 2, 1, 4096, 1);
	assert_int_equal(dmabufd_dispatch(f.c), 1);
	assert_int_equal(dmabufd_alloc_async(f.c, 4096, 0, 0, 0, NULL, record_cb, &a), 0);
	fake_close(&f);
	assert_int_equal(log.calls, 3);
}

/* The application may set O_NONBLOCK on dmabufd_get_fd() for its event loop. */
static void test_nonblocking_fd(void **state)
{
	struct fake f;
	struct dmabufd_stats st;
	int fd, status;
	pid_t pid;

	fake_open(&f, 8);
	fd = dmabufd_get_fd(f.c);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(dmabufd_dispatch(f.c), 0);

	/* The reply is sent only after the request arrived: the call must wait. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		Dmabufd__Request *req = read_request_blocking_for_child(f.daemon);

		if (!req || req->body_case != DMABUFD__REQUEST__BODY_STATS)
			_exit(1);
		send_stats(f.daemon, req->id, 5, 0);
		_exit(0);
	}
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(st.buffers, 5);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fake_close(&f);
}

/* ---- list --------------------------------------------------------------- */

static void test_list_pages(void **state)
{
	struct fake f;
	struct dmabufd_buffer_info *rows = NULL;
	Dmabufd__Request *req;
	size_t n = 0;

	fake_open(&f, 8);
	send_list(f.daemon, 2, 1, 3, true);
	send_list(f.daemon, 3, 4, 2, false);
	assert_int_equal(dmabufd_list(f.c, &rows, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rows[i].id, i + 1);
	assert_int_equal(rows[0].attribute, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(rows[0].owner_pid, 42);
	assert_string_equal(rows[0].owner_comm, "a-very-long-com"); /* 15 bytes + NUL */
	assert_string_equal(rows[4].label, "frame");
	dmabufd_list_free(rows);

	req = read_request(f.daemon);
	assert_non_null(req);
	assert_int_equal(req->list->start_after, 0);
	dmabufd__request__free_unpacked(req, NULL);
	req = read_request(f.daemon);
	assert_non_null(req);
	assert_int_equal(req->list->start_after, 3);
	dmabufd__request__free_unpacked(req, NULL);

	/* Empty list: a non-NULL array of 0 entries. */
	rows = NULL;
	send_list(f.daemon, 4, 0, 0, false);
	assert_int_equal(dmabufd_list(f.c, &rows, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(rows);
	dmabufd_list_free(rows);
	dmabufd_list_free(NULL);
	fake_close(&f);
}

static void test_list_malformed(void **state)
{
	struct fake f;
	struct dmabufd_buffer_info *rows = (void *)0x1;
	size_t n = 77;

	fake_open(&f, 8);
	/* "more" with an empty page would never end. */
	send_list(f.daemon, 2, 0, 0, true);
	assert_int_equal(dmabufd_list(f.c, &rows, &n), -EPROTO);
	/* Ids that do not advance. */
	send_list(f.daemon, 3, 5, 2, true);
	send_list(f.daemon, 4, 5, 1, false);
	assert_int_equal(dmabufd_list(f.c, &rows, &n), -EPROTO);
	assert_ptr_equal(rows, (void *)0x1);
	assert_int_equal(n, 77);
	fake_close(&f);
}

/* ---- misc --------------------------------------------------------------- */

static void test_attribute_names(void **state)
{
	enum dmabufd_attribute a = DMABUFD_ATTR_UNCACHED;

	assert_int_equal(dmabufd_attribute_from_string("wc", &a), 0);
	assert_int_equal(a, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(dmabufd_attribute_from_string("UC", &a), 0);
	assert_int_equal(a, DMABUFD_ATTR_UNCACHED);
	assert_int_equal(dmabufd_attribute_from_string("wb", &a), 0);
	assert_int_equal(a, DMABUFD_ATTR_CACHED);
	assert_int_equal(dmabufd_attribute_from_string("bogus", &a), -EINVAL);
	assert_int_equal(a, DMABUFD_ATTR_CACHED);
	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_CACHED), "cached");
	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_WRITECOMBINE), "wc");
	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_UNCACHED), "uncached");
	assert_string_equal(dmabufd_attribute_name((enum dmabufd_attribute)9), "unknown");
}

static int log_calls;

static void count_log(int level, const char *fmt, va_list ap, void *userdata)
{
	assert_int_equal(level, 7);
	assert_ptr_equal(userdata, &log_calls);
	log_calls++;
}

static void test_log_handler(void **state)
{
	struct fake f;
	struct dmabufd_stats st;

	dmabufd_set_log_handler(count_log, &log_calls);
	fake_open(&f, 8);
	send_stats(f.daemon, 2, 1, 2); /* unexpected fds: logged */
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	assert_true(log_calls > 0);
	dmabufd_set_log_handler(NULL, NULL);
	log_calls = 0;
	send_stats(f.daemon, 3, 1, 2);
	assert_int_equal(dmabufd_stats(f.c, &st), -EPROTO);
	assert_int_equal(log_calls, 0);
	fake_close(&f);
}

static void test_connect_paths(void **state)
{
	struct dmabufd_client *c = NULL;
	char dir[] = "/tmp/dmabufd-test-XXXXXX", path[128], longpath[200];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lsock, status;
	pid_t pid;

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(dmabufd_connect(longpath, &c), -ENAMETOOLONG);
	assert_int_equal(dmabufd_connect("/nonexistent/dmabufd.sock", &c), -ENOENT);
	assert_null(c);

	/* $DMABUFD_SOCKET is used when no path is given. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	strcpy(addr.sun_path, path);
	lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lsock >= 0);
	assert_int_equal(bind(lsock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lsock, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		Dmabufd__Request *req;

		if (s < 0)
			_exit(1);
		req = read_request_blocking_for_child(s);
		if (!req || req->body_case != DMABUFD__REQUEST__BODY_HELLO)
			_exit(2);
		send_hello(s, req->id, DMABUFD_PROTOCOL_VERSION, 4);
		_exit(0);
	}
	assert_int_equal(setenv("DMABUFD_SOCKET", path, 1), 0);
	assert_int_equal(dmabufd_connect(NULL, &c), 0);
	unsetenv("DMABUFD_SOCKET");
	assert_non_null(c);
	dmabufd_disconnect(c);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lsock);
	unlink(path);
	rmdir(dir);
}

/*
 * Every call starts with an empty reason: a local failure never leaves
 * the daemon's reason of an earlier request readable, and names its own
 * where it has one.
 */
static void test_reason_cleared_on_every_call(void **state)
{
	static const char daemon_reason[] = "quota: uid 1000 holds 64 MiB of 64 MiB";
	struct fake f;
	struct dmabufd_buffer buf;
	struct dmabufd_token tok;
	struct dmabufd_account *acc;
	struct dmabufd_info info;
	uint64_t id = 2;
	size_t n;

	fake_open(&f, 8);
#define DAEMON_REFUSES()                                                                 \
	do {                                                                             \
		send_error(f.daemon, id++, -EDQUOT, daemon_reason, 0);                   \
		assert_int_equal(dmabufd_release(f.c, 7), -EDQUOT);                      \
		assert_string_equal(dmabufd_last_reason(f.c), daemon_reason);            \
	} while (0)

	DAEMON_REFUSES();
	assert_int_equal(dmabufd_alloc(f.c, 0, 0, 0, 0, NULL, &buf), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "size 0");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_alloc(f.c, 4096, 0, 0, 0, NULL, NULL), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_alloc_framebuffer(f.c, 0, 1, 0, 0, 1, 0, 0, NULL, NULL), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_accounting(f.c, (enum dmabufd_account_kind)9, &acc, &n), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "unknown accounting table");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_list(f.c, NULL, NULL), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_share(f.c, 1, NULL, 1u << 9, 0, &tok), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "unknown share flags");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_import(f.c, NULL, &buf, NULL), -EINVAL);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_get_info(f.c, &info), 0);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_true(dmabufd_get_fd(f.c) >= 0);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_dispatch(f.c), 0);
	assert_string_equal(dmabufd_last_reason(f.c), "");
	DAEMON_REFUSES();
	assert_int_equal(dmabufd_release_failures(f.c, NULL, NULL, NULL), 0);
	assert_string_equal(dmabufd_last_reason(f.c), "");
#undef DAEMON_REFUSES
	fake_close(&f);
}

/*
 * A refused connection leaves no client to ask: dmabufd_last_reason(NULL)
 * has the daemon's reason (never empty for a refusal), "" after a
 * successful connect.
 */
static void test_connect_refusal_reason(void **state)
{
	struct dmabufd_client *c = NULL;
	struct fake f;
	int sv[2];

	/* The access policy refuses before Hello is answered (reply id 0). */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_error(sv[0], 0, -EACCES, "uid 1000 is not admitted by [access]", 0);
	close(sv[0]);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EACCES);
	assert_null(c);
	assert_string_equal(dmabufd_last_reason(NULL), "uid 1000 is not admitted by [access]");

	/* A refusal without a reason still says it was the daemon's. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_error(sv[0], 0, -EACCES, "", 0);
	close(sv[0]);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EACCES);
	assert_string_equal(dmabufd_last_reason(NULL),
			    "dmabufd refused the connection without a reason (Permission denied)");

	/* Hello answered with an error carries its reason too. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_error(sv[0], 1, -EUSERS, "too many clients (64)", 0);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EUSERS);
	assert_string_equal(dmabufd_last_reason(NULL), "too many clients (64)");
	close(sv[0]);

	/* A version mismatch found here gets a local reason. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_hello(sv[0], 1, DMABUFD_PROTOCOL_VERSION + 1, 8);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EPROTONOSUPPORT);
	assert_non_null(strstr(dmabufd_last_reason(NULL), "dmabufd speaks protocol"));
	close(sv[0]);

	/* A socket that cannot be opened leaves "" (the errno says it all). */
	assert_int_equal(dmabufd_connect("/nonexistent/dmabufd.sock", &c), -ENOENT);
	assert_string_equal(dmabufd_last_reason(NULL), "");

	/* Any later connect starts clean. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_error(sv[0], 0, -EACCES, "refused", 0);
	close(sv[0]);
	assert_int_equal(dmabufd_connect_fd(sv[1], "unit", &c), -EACCES);
	fake_open(&f, 8);
	assert_string_equal(dmabufd_last_reason(NULL), "");
	fake_close(&f);
}

/* ---- structs that grow ---------------------------------------------------- */

/*
 * struct dmabufd_stats as the first release (symbol version DMABUFD_0) laid
 * it out, field for field: what a program built then passes.
 */
struct stats_ver0 {
	char backend[32];
	uint64_t capacity, used;
	uint32_t buffers, clients;
	uint64_t allocs_total, allocs_failed, releases_total, free_pages, largest_free_pages;
	uint32_t fragmentation_permille;
	uint64_t transitions;
	uint32_t pinned_buffers, movable_buffers, page_size, tokens, imports;
	uint64_t imports_total, owner_transfers, quota_refusals, access_refusals, config_reloads;
	uint64_t compactions, compaction_moves, compaction_bytes;
	uint32_t orphaned_buffers;
	uint32_t num_probe;
	struct dmabufd_probe_entry probe[DMABUFD_MAX_PROBE];
	uint32_t num_backends;
	struct dmabufd_backend_stats backends[DMABUFD_MAX_BACKENDS];
};
_Static_assert(sizeof(struct stats_ver0) == DMABUFD_STATS_SIZE_VER0,
	       "DMABUFD_STATS_SIZE_VER0 is the first layout's size");
_Static_assert(sizeof(struct stats_ver0) < sizeof(struct dmabufd_stats),
	       "the test needs a struct that has grown since");

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* An older program's smaller struct is filled and never written past its end. */
static void test_stats_older_caller(void **state)
{
	struct {
		struct stats_ver0 s;
		unsigned char guard[256];
	} old;
	struct stats_ver0 orig;
	struct fake f;

	fake_open(&f, 8);
	/* dmabufd_stats(), the DMABUFD_0 symbol such a program calls. */
	memset(&old, 0xee, sizeof(old));
	send_stats(f.daemon, 2, 3, 0);
	assert_int_equal(dmabufd_stats(f.c, (struct dmabufd_stats *)&old.s), 0);
	assert_string_equal(old.s.backend, "memfd");
	assert_int_equal(old.s.buffers, 3);
	assert_int_equal(old.s.page_size, 4096);
	assert_int_equal(old.s.num_backends, 0);
	assert_true(all_bytes(old.guard, sizeof(old.guard), 0xee));

	/* dmabufd_stats_sized() with the old size, as a rebuilt old program would. */
	memset(&old, 0xee, sizeof(old));
	send_stats(f.daemon, 3, 4, 0);
	assert_int_equal(dmabufd_stats_sized(f.c, (struct dmabufd_stats *)&old.s, sizeof(old.s)),
			 0);
	assert_int_equal(old.s.buffers, 4);
	assert_true(all_bytes(old.guard, sizeof(old.guard), 0xee));

	/* Smaller than the first layout: refused, nothing written or sent. */
	memset(&old, 0xee, sizeof(old));
	orig = old.s;
	assert_int_equal(dmabufd_stats_sized(f.c, (struct dmabufd_stats *)&old.s,
					     sizeof(old.s) - 8), -EINVAL);
	assert_memory_equal(&old.s, &orig, sizeof(orig));
	assert_string_equal(dmabufd_last_reason(f.c), "struct dmabufd_stats size too small");
	expect_request(f.daemon, 2, DMABUFD__REQUEST__BODY_STATS);
	expect_request(f.daemon, 3, DMABUFD__REQUEST__BODY_STATS);
	expect_no_request(f.daemon);
	fake_close(&f);
}

/* A newer program's larger struct: the fields this library knows, zeroes after. */
static void test_stats_newer_caller(void **state)
{
	struct {
		struct dmabufd_stats s;
		uint64_t future[4];
	} big;
	struct dmabufd_stats st;
	struct fake f;

	fake_open(&f, 8);
	memset(&big, 0xee, sizeof(big));
	send_stats(f.daemon, 2, 5, 0);
	assert_int_equal(dmabufd_stats_sized(f.c, &big.s, sizeof(big)), 0);
	assert_int_equal(big.s.buffers, 5);
	assert_int_equal(big.s.pooled, 1 << 20);
	assert_int_equal(big.s.pool_hits, 17);
	assert_int_equal(big.s.pool_misses, 0);
	assert_int_equal(big.s.config_reload_failures, 2);
	assert_true(all_bytes((const unsigned char *)big.future, sizeof(big.future), 0));

	/* The unsized call fills the first layout only: later fields stay as they were. */
	memset(&st, 0xee, sizeof(st));
	send_stats(f.daemon, 3, 6, 0);
	assert_int_equal(dmabufd_stats(f.c, &st), 0);
	assert_int_equal(st.buffers, 6);
	assert_true(all_bytes((const unsigned char *)&st + DMABUFD_STATS_SIZE_VER0,
			      sizeof(st) - DMABUFD_STATS_SIZE_VER0, 0xee));
	fake_close(&f);
}

/*
 * The kernel's count keeps its presence: 0 sent is "no change" (has = 1),
 * nothing sent is "no count" (has = 0, value 0); the ledger's stays apart.
 */
static void test_stats_kernel_transitions(void **state)
{
	struct dmabufd_stats st;
	struct fake f;

	fake_open(&f, 8);
	memset(&st, 0xee, sizeof(st));
	send_stats_kernel(f.daemon, 2, true, 0);
	assert_int_equal(dmabufd_stats_sized(f.c, &st, sizeof(st)), 0);
	assert_int_equal(st.has_kernel_attr_transitions, 1);
	assert_int_equal(st.kernel_attr_transitions, 0);
	assert_int_equal(st.transitions, 1234);

	memset(&st, 0xee, sizeof(st));
	send_stats_kernel(f.daemon, 3, true, 1ull << 40);
	assert_int_equal(dmabufd_stats_sized(f.c, &st, sizeof(st)), 0);
	assert_int_equal(st.has_kernel_attr_transitions, 1);
	assert_int_equal(st.kernel_attr_transitions, 1ull << 40);

	memset(&st, 0xee, sizeof(st));
	send_stats_kernel(f.daemon, 4, false, 99);
	assert_int_equal(dmabufd_stats_sized(f.c, &st, sizeof(st)), 0);
	assert_int_equal(st.has_kernel_attr_transitions, 0);
	assert_int_equal(st.kernel_attr_transitions, 0);
	assert_int_equal(st.transitions, 1234);
	fake_close(&f);
}

/* List rows at the caller's stride, larger or smaller than the library's. */
static void test_list_sized_rows(void **state)
{
	struct row_newer {
		struct dmabufd_buffer_info info;
		uint64_t future;
	} *rows = NULL;
	struct dmabufd_info info;
	struct fake f;
	size_t n = 0;

	fake_open(&f, 8);
	send_list(f.daemon, 2, 10, 3, false);
	assert_int_equal(dmabufd_list_sized(f.c, (struct dmabufd_buffer_info **)&rows, &n,
					    sizeof(*rows)), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(rows[i].info.id, 10 + i);
		assert_string_equal(rows[i].info.label, "frame");
		assert_int_equal(rows[i].future, 0);
	}
	dmabufd_list_free(&rows[0].info);
	assert_int_equal(dmabufd_list_sized(f.c, (struct dmabufd_buffer_info **)&rows, &n,
					    DMABUFD_BUFFER_INFO_SIZE_VER0 - 1), -EINVAL);

	/* The other sized calls refuse a size below their first layout alike. */
	assert_int_equal(dmabufd_accounting_sized(f.c, DMABUFD_ACCOUNT_CLIENTS,
						  (struct dmabufd_account **)&rows, &n,
						  DMABUFD_ACCOUNT_SIZE_VER0 - 1), -EINVAL);
	assert_int_equal(dmabufd_compact_sized(f.c, (struct dmabufd_compact_result *)&info,
					       DMABUFD_COMPACT_RESULT_SIZE_VER0 - 1), -EINVAL);
	expect_request(f.daemon, 2, DMABUFD__REQUEST__BODY_LIST);
	expect_no_request(f.daemon);

	/* Hello's info, sized the same way. */
	assert_int_equal(dmabufd_get_info_sized(f.c, &info, sizeof(info)), 0);
	assert_int_equal(info.max_buffers, 8);
	assert_int_equal(dmabufd_get_info_sized(f.c, &info, 4), -EINVAL);
	fake_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_info),
		cmocka_unit_test(test_hello_version_mismatch),
		cmocka_unit_test(test_hello_hangup),
		cmocka_unit_test(test_alloc_ok),
		cmocka_unit_test(test_error_reply_propagates),
		cmocka_unit_test(test_alloc_local_validation),
		cmocka_unit_test(test_alloc_reply_without_fd),
		cmocka_unit_test(test_unexpected_fds_closed),
		cmocka_unit_test(test_malformed_reply),
		cmocka_unit_test(test_unknown_reply_id),
		cmocka_unit_test(test_async_dispatch_out_of_order),
		cmocka_unit_test(test_async_error_reason),
		cmocka_unit_test(test_blocking_call_dispatches_earlier_replies),
		cmocka_unit_test(test_callback_makes_blocking_call),
		cmocka_unit_test(test_disconnect_aborts_pending),
		cmocka_unit_test(test_daemon_hangup),
		cmocka_unit_test(test_inflight_limit),
		cmocka_unit_test(test_nonblocking_fd),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_list_malformed),
		cmocka_unit_test(test_attribute_names),
		cmocka_unit_test(test_log_handler),
		cmocka_unit_test(test_connect_paths),
		cmocka_unit_test(test_reason_cleared_on_every_call),
		cmocka_unit_test(test_connect_refusal_reason),
		cmocka_unit_test(test_stats_older_caller),
		cmocka_unit_test(test_stats_newer_caller),
		cmocka_unit_test(test_stats_kernel_transitions),
		cmocka_unit_test(test_list_sized_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
