/* SPDX-License-Identifier: MIT */
/*
 * The pool's bookkeeping (daemon/pool.c) with a fake factory: the pool
 * fills to its targets within budget and capacity, hands each fd out once,
 * gives room back to requests, and learns classes (the class lists are
 * parsed by config_parse_pool_classes(): test_config_pool.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/pool.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

/* The factory: /dev/null fds stand in for buffers. */
static int fake_make(uint64_t size, void *userdata, int *ret_fd)
{
	int fd = dup(*(int *)userdata);

	(void)size;
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static struct pool_stats wait_pooled(struct pool *p, uint64_t want)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct pool_stats st;

	for (int i = 0; i < 2000; i++) {
		pool_get_stats(p, &st);
		if (st.pooled >= want)
			break;
		nanosleep(&ts, NULL);
	}
	return st;
}

static void test_fill_take_evict(void **state)
{
	int devnull = *(int *)*state;
	struct pool_config cfg = {
		.budget = 1 * MiB, .capacity = 2 * MiB, .classes = { 256 * KiB }, .nclasses = 1,
	};
	struct pool *p = NULL;
	struct pool_stats st;
	int fds[4], fd = -1;

	assert_int_equal(pool_create(&cfg, fake_make, &devnull, &p), 0);
	st = wait_pooled(p, 1 * MiB);
	assert_int_equal(st.pooled, 1 * MiB); /* 4 of 256K: the whole budget */

	/* Hits hand out distinct fds, each once. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pool_get(p, 256 * KiB, &fds[i]), 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(fds[i], fds[j]);
	}
	/* A size that is not a class (and, configured, not learned) misses. */
	assert_int_equal(pool_get(p, 12 * KiB, &fd), -ENOENT);
	pool_put(p, 12 * KiB, -1);
	for (int i = 0; i < 4; i++)
		pool_put(p, 256 * KiB, fds[i]);
	st = wait_pooled(p, 1 * MiB);
	assert_int_equal(st.pooled, 1 * MiB);
	assert_true(st.hits >= 4);

	/* 1.5M live + 1M pooled > 2M capacity: the pool gives room back. */
	assert_int_equal(pool_get(p, 1536 * KiB, &fd), -ENOENT);
	pool_get_stats(p, &st);
	assert_true(st.pooled <= 512 * KiB);
	assert_true(st.evicted >= 512 * KiB);
	pool_put(p, 1536 * KiB, -1);
	st = wait_pooled(p, 1 * MiB);
	assert_int_equal(st.pooled, 1 * MiB);
	pool_destroy(p);
}

static void test_learns(void **state)
{
	int devnull = *(int *)*state;
	struct pool_config cfg = { .budget = 1 * MiB, .capacity = 8 * MiB };
	struct pool *p = NULL;
	struct pool_stats st;
	int fd = -1;

	assert_int_equal(pool_create(&cfg, fake_make, &devnull, &p), 0);
	/* A size is learned on its second miss in a row. */
	assert_int_equal(pool_get(p, 64 * KiB, &fd), -ENOENT);
	pool_put(p, 64 * KiB, -1);
	assert_int_equal(pool_get(p, 128 * KiB, &fd), -ENOENT);
	pool_put(p, 128 * KiB, -1);
	nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	pool_get_stats(p, &st); /* nothing learned: stays empty */
	assert_int_equal(st.pooled, 0);
	assert_int_equal(pool_get(p, 64 * KiB, &fd), -ENOENT);
	pool_put(p, 64 * KiB, -1);
	assert_int_equal(pool_get(p, 64 * KiB, &fd), -ENOENT); /* learns 64K */
	pool_put(p, 64 * KiB, -1);
	st = wait_pooled(p, 64 * KiB);
	assert_true(st.pooled >= 64 * KiB);
	assert_int_equal(pool_get(p, 64 * KiB, &fd), 0);
	assert_true(fd >= 0);
	pool_put(p, 64 * KiB, fd);
	/* Larger than the budget: never a class. */
	assert_int_equal(pool_get(p, 2 * MiB, &fd), -ENOENT);
	pool_put(p, 2 * MiB, -1);
	pool_destroy(p);
	pool_destroy(NULL);
}

static void test_create_refuses(void **state)
{
	int devnull = *(int *)*state;
	struct pool_config cfg = { .budget = 0, .capacity = 8 * MiB };
	struct pool *p = NULL;

	assert_int_equal(pool_create(&cfg, fake_make, &devnull, &p), -EINVAL);
	assert_null(p);
}

static int setup(void **state)
{
	static int devnull;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*state = &devnull;
	return devnull < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	close(*(int *)*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_take_evict),
		cmocka_unit_test(test_learns),
		cmocka_unit_test(test_create_refuses),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
