/* SPDX-License-Identifier: MIT */
/* Framing over a socketpair: datagram boundaries, fds, truncation, limits. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"

static int sp[2];

static int setup(void **state)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp);
}

static int teardown(void **state)
{
	close(sp[0]);
	close(sp[1]);
	return 0;
}

static void test_roundtrip_keeps_boundaries(void **state)
{
	char buf[64];
	size_t nfds = 99;
	unsigned flags = 99;

	assert_int_equal(wire_send(sp[0], "hello", 5, NULL, 0), 0);
	assert_int_equal(wire_send(sp[0], "dmabufd!", 8, NULL, 0), 0);
	assert_int_equal(wire_recv(sp[1], buf, sizeof(buf), NULL, 0, &nfds, &flags), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(nfds, 0);
	assert_int_equal(flags, 0);
	assert_int_equal(wire_recv(sp[1], buf, sizeof(buf), NULL, 0, &nfds, &flags), 8);
	assert_memory_equal(buf, "dmabufd!", 8);
}

static void test_fd_passing(void **state)
{
	int fds[2], got[DMABUFD_MAX_FDS];
	struct stat a, b;
	char buf[16];
	size_t nfds = 0;
	unsigned flags = 0;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(wire_send(sp[0], "x", 1, fds, 2), 0);
	assert_int_equal(wire_recv(sp[1], buf, sizeof(buf), got, DMABUFD_MAX_FDS, &nfds, &flags), 1);
	assert_int_equal(nfds, 2);
	assert_int_equal(flags, 0);
	/* same files, new descriptors, close-on-exec */
	fstat(fds[0], &a);
	fstat(got[0], &b);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_true(got[0] != fds[0]);
	assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
	wire_close_fds(got, nfds);
	wire_close_fds(fds, 2);
}

static void test_too_many_fds_are_closed_and_flagged(void **state)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got[1] = { -1 };
	int many[DMABUFD_MAX_FDS];
	char buf[16];
	size_t nfds = 0;
	unsigned flags = 0;

	for (size_t i = 0; i < DMABUFD_MAX_FDS; i++)
		many[i] = fd;
	assert_int_equal(wire_send(sp[0], "y", 1, many, DMABUFD_MAX_FDS), 0);
	assert_int_equal(wire_recv(sp[1], buf, sizeof(buf), got, 1, &nfds, &flags), 1);
	assert_int_equal(nfds, 1);
	assert_true(flags & WIRE_FDS_TRUNCATED);
	wire_close_fds(got, nfds);
	close(fd);
}

static void test_truncated_datagram_reports_real_length(void **state)
{
	char big[1000], small[10];
	unsigned flags = 0;

	memset(big, 'z', sizeof(big));
	assert_int_equal(wire_send(sp[0], big, sizeof(big), NULL, 0), 0);
	assert_int_equal(wire_recv(sp[1], small, sizeof(small), NULL, 0, NULL, &flags), 1000);
	assert_true(flags & WIRE_TRUNCATED);
	/* the rest of that datagram is gone; the next one is intact */
	assert_int_equal(wire_send(sp[0], "ok", 2, NULL, 0), 0);
	assert_int_equal(wire_recv(sp[1], small, sizeof(small), NULL, 0, NULL, &flags), 2);
	assert_int_equal(flags, 0);
}

static void test_send_limits(void **state)
{
	static char huge[DMABUFD_MAX_MESSAGE + 1];
	int fds[DMABUFD_MAX_FDS + 1] = { 0 };

	assert_int_equal(wire_send(sp[0], huge, sizeof(huge), NULL, 0), -EMSGSIZE);
	assert_int_equal(wire_send(sp[0], huge, 0, NULL, 0), -EMSGSIZE);
	assert_int_equal(wire_send(sp[0], "a", 1, fds, DMABUFD_MAX_FDS + 1), -EMSGSIZE);
	assert_int_equal(wire_send(sp[0], huge, DMABUFD_MAX_MESSAGE, NULL, 0), 0);
	assert_int_equal(wire_recv(sp[1], huge, sizeof(huge), NULL, 0, NULL, NULL),
			 DMABUFD_MAX_MESSAGE);
}

static void test_eof_and_eagain_and_epipe(void **state)
{
	int p[2];
	char buf[8];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p), 0);
	assert_int_equal(wire_recv(p[0], buf, sizeof(buf), NULL, 0, NULL, NULL), -EAGAIN);
	close(p[1]);
	assert_int_equal(wire_recv(p[0], buf, sizeof(buf), NULL, 0, NULL, NULL), 0);
	/* no SIGPIPE: the test process would die if it were raised */
	assert_int_equal(wire_send(p[0], "a", 1, NULL, 0), -EPIPE);
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_keeps_boundaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_fds_are_closed_and_flagged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_datagram_reports_real_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_limits, setup, teardown),
		cmocka_unit_test(test_eof_and_eagain_and_epipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
