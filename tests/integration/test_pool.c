/* SPDX-License-Identifier: MIT */
/*
 * Pre-zeroed pools against the real daemon:
 * - no stale data: every buffer reads all zeroes, also while the former
 *   owner of a released buffer keeps writing through its mapping;
 * - the budget holds: Stats pooled <= budget, used + pooled <= capacity;
 * - the pool gives its memory back when a real request needs the room;
 * - size classes are learned from requests.
 * Each case starts its own daemon.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

struct pool_fig {
	uint64_t used, pooled, capacity, hits, misses;
};

static struct pool_fig stats(int sock)
{
	static uint64_t id = 1000;
	Dmabufd__Reply *r = raw_stats(sock, id++);
	struct pool_fig f;

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_STATS);
	f = (struct pool_fig){ r->stats->used, r->stats->pooled, r->stats->capacity,
			       r->stats->pool_hits, r->stats->pool_misses };
	dmabufd__reply__free_unpacked(r, NULL);
	return f;
}

/* Waits (up to 10 s) until Stats pooled reaches @want bytes. */
static struct pool_fig wait_pooled(int sock, uint64_t want)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct pool_fig f = { 0 };

	for (int i = 0; i < 1000; i++) {
		f = stats(sock);
		if (f.pooled >= want)
			break;
		nanosleep(&ts, NULL);
	}
	return f;
}

/* Allocates @size bytes; returns the buffer id, the fd in *ret_fd. */
static uint64_t alloc(int sock, uint64_t size, int *ret_fd)
{
	static uint64_t id = 1;
	Dmabufd__Reply *r = raw_alloc(sock, id++, size, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "pool",
				      ret_fd);
	uint64_t bid;

	assert_non_null(r);
	if (r->error)
		fprintf(stderr, "alloc %llu: %d %s\n", (unsigned long long)size, r->error, r->reason);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_ALLOC);
	assert_true(*ret_fd >= 0);
	bid = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	return bid;
}

static void release(int sock, uint64_t bid)
{
	Dmabufd__Reply *r = raw_release(sock, 900000 + bid, bid);

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
}

static void start(struct daemon_proc *d, const char *const *args, int *ret_sock)
{
	int err = daemon_start(d, args);

	if (err < 0)
		fprintf(stderr, "cannot start dmabufd: %s\n", strerror(-err));
	assert_int_equal(err, 0);
	*ret_sock = raw_connect_hello(d->socket);
	assert_true(*ret_sock >= 0);
}

static void stop(struct daemon_proc *d, int sock)
{
	close(sock);
	assert_int_equal(daemon_stop(d), 0);
	rmdir(d->dir);
}

/*
 * Allocate, check all zeroes, write a pattern, release: many times. The
 * former owner keeps its mapping of every released buffer and scribbles on
 * it after the release; no later buffer may ever show that.
 */
static void test_no_stale_data(void **state)
{
	const char *args[] = { "--capacity", "64M", "--pool-budget", "8M", "--pool-classes",
			       "64K,8K", NULL };
	const uint64_t sizes[] = { 64 * KiB, 8 * KiB };
	enum { ROUNDS = 300, KEEP = 16 };
	uint8_t *kept[KEEP] = { 0 };
	uint64_t kept_size[KEEP] = { 0 };
	struct daemon_proc d;
	struct pool_fig f0, f1;
	int sock;

	(void)state;
	start(&d, args, &sock);
	f0 = wait_pooled(sock, 4 * MiB + 512 * KiB); /* 64 of each class */
	assert_true(f0.pooled > 0);

	for (int i = 0; i < ROUNDS; i++) {
		uint64_t size = sizes[i % 2];
		int fd = -1;
		uint64_t bid = alloc(sock, size, &fd);
		uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		assert_true(p != MAP_FAILED);
		for (uint64_t off = 0; off < size; off++)
			if (p[off] != 0) {
				fprintf(stderr, "round %d: byte %llu of a new buffer is 0x%02x\n", i,
					(unsigned long long)off, p[off]);
				fail();
			}
		memset(p, 0xa5, size);
		close(fd);
		release(sock, bid);
		/* The former owner still writes through its mapping. */
		memset(p, 0x5a, size);
		if (kept[i % KEEP]) {
			memset(kept[i % KEEP], 0x3c, kept_size[i % KEEP]);
			munmap(kept[i % KEEP], kept_size[i % KEEP]);
		}
		kept[i % KEEP] = p;
		kept_size[i % KEEP] = size;
	}
	for (int i = 0; i < KEEP; i++)
		if (kept[i])
			munmap(kept[i], kept_size[i]);
	f1 = stats(sock);
	/* The test exercised pooled buffers, not just fresh ones. */
	assert_true(f1.hits - f0.hits > ROUNDS / 4);
	assert_int_equal(f1.used, 0);
	stop(&d, sock);
}

/* The pool fills to its budget and never past it (nor past the capacity). */
static void test_budget_respected(void **state)
{
	const char *args[] = { "--capacity", "16M", "--pool-budget", "1M", "--pool-classes",
			       "256K,96K", NULL };
	struct daemon_proc d;
	struct pool_fig f;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int sock;

	(void)state;
	start(&d, args, &sock);
	f = wait_pooled(sock, 512 * KiB);
	assert_true(f.pooled >= 512 * KiB);
	for (int i = 0; i < 25; i++) {
		int fd = -1;
		uint64_t bid;

		f = stats(sock);
		assert_true(f.pooled <= 1 * MiB);
		assert_true(f.used + f.pooled <= f.capacity);
		bid = alloc(sock, i % 2 ? 256 * KiB : 96 * KiB, &fd);
		close(fd);
		if (i % 3)
			release(sock, bid);
		nanosleep(&ts, NULL);
	}
	f = stats(sock);
	assert_true(f.pooled <= 1 * MiB);
	assert_true(f.used + f.pooled <= f.capacity);
	stop(&d, sock);
}

/*
 * A request that needs the pool's room gets it: with 4M capacity and a
 * full 2M pool, 3M (then the last 1M) can still be allocated.
 */
static void test_pool_returns_memory(void **state)
{
	const char *args[] = { "--capacity", "4M", "--pool-budget", "2M", "--pool-classes", "512K",
			       NULL };
	struct daemon_proc d;
	struct pool_fig f;
	int sock, fd1 = -1, fd2 = -1;
	uint64_t b1, b2;

	(void)state;
	start(&d, args, &sock);
	f = wait_pooled(sock, 2 * MiB);
	assert_int_equal(f.pooled, 2 * MiB);

	b1 = alloc(sock, 3 * MiB, &fd1);
	f = stats(sock);
	assert_int_equal(f.used, 3 * MiB);
	assert_true(f.pooled <= 1 * MiB);
	assert_true(f.used + f.pooled <= f.capacity);

	b2 = alloc(sock, 1 * MiB, &fd2);
	f = stats(sock);
	assert_int_equal(f.used, 4 * MiB);
	assert_int_equal(f.pooled, 0);

	close(fd1);
	close(fd2);
	release(sock, b1);
	release(sock, b2);
	/* With the room back, the pool refills. */
	f = wait_pooled(sock, 2 * MiB);
	assert_int_equal(f.pooled, 2 * MiB);
	stop(&d, sock);
}

/* Without --pool-classes, a size asked for twice in a row becomes a class. */
static void test_learns_classes(void **state)
{
	const char *args[] = { "--capacity", "64M", "--pool-budget", "4M", NULL };
	struct daemon_proc d;
	struct pool_fig f0, f1;
	int sock, fd = -1;
	uint64_t bid;

	(void)state;
	start(&d, args, &sock);
	f0 = stats(sock);
	assert_int_equal(f0.pooled, 0);
	for (int i = 0; i < 2; i++) { /* learned on the second miss in a row */
		bid = alloc(sock, 192 * KiB, &fd);
		close(fd);
		release(sock, bid);
	}
	f0 = wait_pooled(sock, 192 * KiB);
	assert_true(f0.pooled >= 192 * KiB);
	bid = alloc(sock, 192 * KiB, &fd);
	close(fd);
	release(sock, bid);
	f1 = stats(sock);
	assert_int_equal(f1.hits, f0.hits + 1);
	stop(&d, sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_stale_data),
		cmocka_unit_test(test_budget_respected),
		cmocka_unit_test(test_pool_returns_memory),
		cmocka_unit_test(test_learns_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
