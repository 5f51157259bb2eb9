/* SPDX-License-Identifier: MIT */
/*
 * dmabufd_release_async() (docs/PERFORMANCE.md "Release without
 * waiting"): against the real daemon, a release without a reply frees the
 * buffer (Stats counts it), a refused one is reported through
 * dmabufd_release_failures() and leaves the connection and every other
 * buffer alone, and a client that sends many refused releases without
 * reading does not deadlock. Against a scripted fake daemon on a
 * socketpair: the wire shape (Release.flags), the fallback to a blocking
 * Release when the daemon does not offer it, and a release_failed reply
 * naming a request that was never sent failing the connection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "libdmabufd/internal.h"
#include "dmabufd.pb-c.h"
#include "harness.h"
#include "wire.h"

/* ---- the real daemon */

static struct daemon_proc d;

static int setup(void **state)
{
	(void)state;
	return daemon_start(&d, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return daemon_stop(&d) == 0 ? 0 : -1;
}

static void alloc_closed(struct dmabufd_client *c, struct dmabufd_buffer *b)
{
	assert_int_equal(dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_CACHED, 0, "async", b), 0);
	close(b->fd);
}

static void test_frees_the_buffer(void **state)
{
	struct dmabufd_client *c;
	struct dmabufd_buffer b[3];
	struct dmabufd_stats st0, st;
	uint64_t failures = 99, id = 99;
	int error = 99;

	(void)state;
	assert_int_equal(dmabufd_connect(d.socket, &c), 0);
	assert_int_equal(dmabufd_stats(c, &st0), 0);
	for (int i = 0; i < 3; i++)
		alloc_closed(c, &b[i]);
	assert_int_equal(dmabufd_stats(c, &st), 0);
	assert_int_equal(st.buffers, st0.buffers + 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(dmabufd_release_async(c, b[i].id), 0);
	/* Requests are served in order: Stats sees the three releases. */
	assert_int_equal(dmabufd_stats(c, &st), 0);
	assert_int_equal(st.buffers, st0.buffers);
	assert_int_equal(st.used, st0.used);
	assert_int_equal(st.releases_total, st0.releases_total + 3);
	assert_int_equal(dmabufd_release_failures(c, &failures, &id, &error), 0);
	assert_int_equal(failures, 0);
	assert_int_equal(id, 0);
	assert_int_equal(error, 0);
	/* The ids are gone: a blocking release of one is refused. */
	assert_int_equal(dmabufd_release(c, b[0].id), -ENOENT);
	dmabufd_disconnect(c);
}

static void test_failure_reported(void **state)
{
	struct dmabufd_client *c, *other;
	struct dmabufd_buffer mine, theirs;
	struct dmabufd_stats st0, st;
	uint64_t failures, id;
	int error;

	(void)state;
	assert_int_equal(dmabufd_connect(d.socket, &c), 0);
	assert_int_equal(dmabufd_connect(d.socket, &other), 0);
	alloc_closed(c, &mine);
	alloc_closed(other, &theirs);
	assert_int_equal(dmabufd_stats(c, &st0), 0);

	/* Unknown id: sent fine, refused by the daemon, counted here. */
	assert_int_equal(dmabufd_release_async(c, 0x7fffffff), 0);
	assert_int_equal(dmabufd_stats(c, &st), 0); /* the connection lives on */
	assert_int_equal(dmabufd_release_failures(c, &failures, &id, &error), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(id, 0x7fffffff);
	assert_int_equal(error, -ENOENT);
	assert_int_equal(st.buffers, st0.buffers);
	assert_int_equal(st.releases_total, st0.releases_total);

	/* Another client's buffer looks like a missing one, and stays. */
	assert_int_equal(dmabufd_release_async(c, theirs.id), 0);
	/* A double release: the second one fails. */
	assert_int_equal(dmabufd_release_async(c, mine.id), 0);
	assert_int_equal(dmabufd_release_async(c, mine.id), 0);
	assert_int_equal(dmabufd_stats(c, &st), 0);
	assert_int_equal(dmabufd_release_failures(c, &failures, &id, &error), 0);
	assert_int_equal(failures, 3);
	assert_int_equal(id, mine.id);
	assert_int_equal(error, -ENOENT);
	assert_int_equal(st.buffers, st0.buffers - 1);
	assert_int_equal(st.releases_total, st0.releases_total + 1);
	/* The other client still owns its buffer. */
	assert_int_equal(dmabufd_release(other, theirs.id), 0);
	dmabufd_disconnect(other);
	dmabufd_disconnect(c);
}

/*
 * Far more refused releases than the daemon queues replies for (64) and
 * the socket holds, without any blocking call in between: the library
 * reads the answers as it goes, so nothing blocks for good.
 */
static void test_many_failures_no_deadlock(void **state)
{
	struct dmabufd_client *c;
	struct dmabufd_stats st;
	uint64_t failures;

	(void)state;
	alarm(60); /* a deadlock fails the test instead of hanging it */
	assert_int_equal(dmabufd_connect(d.socket, &c), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(dmabufd_release_async(c, 0x70000000u + (unsigned)i), 0);
	assert_int_equal(dmabufd_stats(c, &st), 0);
	assert_int_equal(dmabufd_release_failures(c, &failures, NULL, NULL), 0);
	assert_int_equal(failures, 1000);
	dmabufd_disconnect(c);
	alarm(0);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_int_equal(dmabufd_release_async(NULL, 1), -EINVAL);
	assert_int_equal(dmabufd_release_failures(NULL, NULL, NULL, NULL), -EINVAL);
}

/* ---- a scripted fake daemon (request ids: Hello 1, then 2, 3, ...) */

static void send_reply(int sock, const Dmabufd__Reply *r)
{
	uint8_t buf[1024];
	size_t len = dmabufd__reply__get_packed_size(r);

	assert_true(len > 0 && len <= sizeof(buf));
	dmabufd__reply__pack(r, buf);
	assert_int_equal(wire_send(sock, buf, len, NULL, 0), 0);
}

static void send_hello(int sock, bool no_reply)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__HelloReply h = DMABUFD__HELLO_REPLY__INIT;

	h.version = DMABUFD_PROTOCOL_VERSION;
	h.backend = "memfd";
	h.page_size = 4096;
	h.max_message = DMABUFD_MAX_MESSAGE;
	h.max_buffers = 16;
	h.release_no_reply = no_reply;
	r.id = 1;
	r.body_case = DMABUFD__REPLY__BODY_HELLO;
	r.hello = &h;
	send_reply(sock, &r);
}

/* Reads the next request the library sent; checks it is a Release. */
static Dmabufd__Request *read_release(int sock, uint64_t want_id)
{
	uint8_t buf[1024];
	long n = wire_recv(sock, buf, sizeof(buf), NULL, 0, NULL, NULL);
	Dmabufd__Request *q;

	assert_true(n > 0);
	q = dmabufd__request__unpack(NULL, (size_t)n, buf);
	assert_non_null(q);
	assert_int_equal(q->id, want_id);
	assert_int_equal(q->body_case, DMABUFD__REQUEST__BODY_RELEASE);
	return q;
}

static void skip_request(int sock)
{
	uint8_t buf[1024];

	assert_true(wire_recv(sock, buf, sizeof(buf), NULL, 0, NULL, NULL) > 0);
}

static struct dmabufd_client *fake_connect(int sv[2], bool no_reply)
{
	struct dmabufd_client *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	send_hello(sv[0], no_reply);
	assert_int_equal(dmabufd_connect_fd(sv[1], "fake", &c), 0);
	skip_request(sv[0]); /* Hello */
	return c;
}

static void test_wire_flags(void **state)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__ReleaseFailed rf = DMABUFD__RELEASE_FAILED__INIT;
	struct dmabufd_client *c;
	Dmabufd__Request *q;
	uint64_t failures, id;
	int sv[2], error;

	(void)state;
	c = fake_connect(sv, true);
	/* Sent at once, flagged, and nothing is waited for. */
	assert_int_equal(dmabufd_release_async(c, 7), 0);
	q = read_release(sv[0], 2);
	assert_int_equal(q->release->buffer_id, 7);
	assert_int_equal(q->release->flags, DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY);
	dmabufd__request__free_unpacked(q, NULL);
	/* Its failure arrives before the next call's reply and is counted. */
	rf.buffer_id = 7;
	r.id = 2;
	r.error = -ENOENT;
	r.reason = "this client owns no buffer 7";
	r.body_case = DMABUFD__REPLY__BODY_RELEASE_FAILED;
	r.release_failed = &rf;
	send_reply(sv[0], &r);
	r = (Dmabufd__Reply)DMABUFD__REPLY__INIT;
	r.id = 3;
	send_reply(sv[0], &r); /* the blocking Release below */
	assert_int_equal(dmabufd_release(c, 8), 0);
	assert_int_equal(dmabufd_release_failures(c, &failures, &id, &error), 0);
	assert_int_equal(failures, 1);
	assert_int_equal(id, 7);
	assert_int_equal(error, -ENOENT);
	/* The blocking Release carries no flags. */
	q = read_release(sv[0], 3);
	assert_int_equal(q->release->flags, 0);
	dmabufd__request__free_unpacked(q, NULL);
	dmabufd_disconnect(c);
	close(sv[0]);
}

/* A daemon without RELEASE_NO_REPLY: a blocking Release, its result returned. */
static void test_fallback_old_daemon(void **state)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	struct dmabufd_client *c;
	Dmabufd__Request *q;
	uint64_t failures;
	int sv[2];

	(void)state;
	c = fake_connect(sv, false);
	r.id = 2;
	r.error = -ENOENT;
	r.reason = "no such buffer";
	send_reply(sv[0], &r);
	assert_int_equal(dmabufd_release_async(c, 9), -ENOENT);
	q = read_release(sv[0], 2);
	assert_int_equal(q->release->buffer_id, 9);
	assert_int_equal(q->release->flags, 0);
	dmabufd__request__free_unpacked(q, NULL);
	assert_int_equal(dmabufd_release_failures(c, &failures, NULL, NULL), 0);
	assert_int_equal(failures, 0);
	dmabufd_disconnect(c);
	close(sv[0]);
}

/* release_failed for a request never sent: the connection is broken. */
static void test_unsolicited_failure(void **state)
{
	Dmabufd__Reply r = DMABUFD__REPLY__INIT;
	Dmabufd__ReleaseFailed rf = DMABUFD__RELEASE_FAILED__INIT;
	struct dmabufd_client *c;
	struct dmabufd_stats st;
	uint64_t failures;
	int sv[2];

	(void)state;
	c = fake_connect(sv, true);
	rf.buffer_id = 5;
	r.id = 40; /* never sent */
	r.error = -ENOENT;
	r.reason = "";
	r.body_case = DMABUFD__REPLY__BODY_RELEASE_FAILED;
	r.release_failed = &rf;
	send_reply(sv[0], &r);
	assert_int_equal(dmabufd_stats(c, &st), -EPROTO);
	assert_int_equal(dmabufd_release_failures(c, &failures, NULL, NULL), 0);
	assert_int_equal(failures, 0);
	assert_int_equal(dmabufd_release_async(c, 5), -EPROTO);
	dmabufd_disconnect(c);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest daemon_tests[] = {
		cmocka_unit_test(test_frees_the_buffer),
		cmocka_unit_test(test_failure_reported),
		cmocka_unit_test(test_many_failures_no_deadlock),
		cmocka_unit_test(test_bad_arguments),
	};
	const struct CMUnitTest fake_tests[] = {
		cmocka_unit_test(test_wire_flags),
		cmocka_unit_test(test_fallback_old_daemon),
		cmocka_unit_test(test_unsolicited_failure),
	};
	int failed = cmocka_run_group_tests_name("daemon", daemon_tests, setup, teardown);

	return failed + cmocka_run_group_tests_name("fake daemon", fake_tests, NULL, NULL);
}
