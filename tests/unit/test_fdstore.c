/* SPDX-License-Identifier: MIT */
/*
 * The fd store's pieces that need no service manager: the state format's
 * checksum, and that without $NOTIFY_SOCKET the store stays disabled,
 * closes every fd it was handed and leaves the server untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fdstore.h"
#include "fdstore_restore.h"
#include "server.h"

static void test_crc32_vector(void **state)
{
	/* The CRC-32 check value (zlib crc32("123456789")). */
	assert_int_equal(fdstore_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(fdstore_crc32("", 0), 0);
}

static void test_disabled_without_manager(void **state)
{
	struct event_base *base = event_base_new();
	struct backend *backend;
	struct server s;
	int fds[2], orig[2];
	char *names[2] = { strdup("state"), strdup("buf-1") };

	assert_non_null(base);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(memfd_backend_ops.create(NULL, &backend), 0);
	assert_int_equal(server_init(&s, base, backend, NULL), 0);
	for (int i = 0; i < 2; i++) {
		orig[i] = fds[i] = memfd_create("t", MFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(fdstore_setup(&s, FDSTORE_DEFAULT_MAX, fds, names, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fds[i], -1);
		assert_int_equal(fcntl(orig[i], F_GETFD), -1);
		assert_int_equal(errno, EBADF);
	}
	assert_int_equal(fdstore_orphan_count(), 0);
	assert_int_equal(s.registry.count, 0);
	assert_int_equal(s.used, 0);
	fdstore_finish(&s);
	server_finish(&s);
	event_base_free(base);
	free(names[0]);
	free(names[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_vector),
		cmocka_unit_test(test_disabled_without_manager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
