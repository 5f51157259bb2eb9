/* SPDX-License-Identifier: MIT */
/*
 * Pools of placed buffers (daemon/kpool.c) on the host: a fake backend
 * whose buffers live at placements (memfds; prepare()/commit(), no
 * deferred release, like udmabuf; the kmod path runs in the VM,
 * tests/vm/kpool-e2e.sh), the real server on a socket, a libdmabufd client
 * in a child process:
 * - a miss teaches the (size, attribute) class and the worker fills it;
 *   the next request is a hit (Stats), at a placement the fake backend
 *   made, and a request of another attribute is not served from it;
 * - a movable request is never served from the pool;
 * - the pool gives its room back: the whole region can be allocated
 *   while the pool holds buffers;
 * - afterwards the region holds exactly the pooled buffers (audit clean),
 *   and every buffer the backend made was released once the server is
 *   finished;
 * - kpool_teach() (the configured classes): without any request the worker
 *   fills the taught classes to the budget, the first request of a taught
 *   class is a hit, and a class the backend cannot make (attribute, size 0,
 *   beyond the budget or the region) is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dmabufd/dmabufd.h"
#include "fake_backend.h"
#include "kpool.h"
#include "placement.h"
#include "region.h"
#include "server.h"

#define MiB (1ull << 20)
#define CAPACITY (8 * MiB)
#define BUDGET (2 * MiB)

/* A fake backend of CAPACITY bytes, pool budget BUDGET, offering @attributes. */
static struct fake_backend *fake_new(uint32_t attributes)
{
	return fake_backend_new(&(struct fake_backend_options){
		.attributes = attributes,
		.contiguous = true,
		.region_size = CAPACITY,
		.placed_pool_budget = BUDGET,
	});
}

/* ---- the client (child process) ------------------------------------------ */

static int failures;

#define EXPECT(cond, ...)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "child: line %d: %s: ", __LINE__, #cond);    \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			failures++;                                                  \
		}                                                                    \
	} while (0)

static struct dmabufd_stats stats(struct dmabufd_client *c)
{
	struct dmabufd_stats st;

	memset(&st, 0, sizeof(st));
	EXPECT(dmabufd_stats_sized(c, &st, sizeof(st)) == 0, "stats");
	return st;
}

/* Waits (≤ 5 s) until the pool holds @bytes. */
static bool wait_pooled(struct dmabufd_client *c, uint64_t bytes)
{
	for (int i = 0; i < 500; i++) {
		if (stats(c).pooled >= bytes)
			return true;
		usleep(10000);
	}
	return false;
}

static int child(void *arg)
{
	const char *sock = arg;
	struct dmabufd_client *c = NULL;
	struct dmabufd_buffer b[16];
	struct dmabufd_stats st;
	unsigned n = 0;
	int r;

	if (dmabufd_connect(sock, &c) < 0)
		return 2;
	/* A miss teaches the class; the worker fills it up to the budget. */
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_WRITECOMBINE, DMABUFD_ALLOC_CONTIGUOUS, "a", &b[0]);
	EXPECT(r == 0, "first alloc: %d", r);
	st = stats(c);
	EXPECT(st.pool_misses == 1 && st.pool_hits == 0, "misses %llu hits %llu",
	       (unsigned long long)st.pool_misses, (unsigned long long)st.pool_hits);
	EXPECT(wait_pooled(c, BUDGET), "the pool fills to its budget");
	/* A hit: at a placement prepare() made. */
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_WRITECOMBINE, DMABUFD_ALLOC_CONTIGUOUS, "b", &b[1]);
	EXPECT(r == 0, "second alloc: %d", r);
	st = stats(c);
	EXPECT(st.pool_hits == 1, "hits %llu", (unsigned long long)st.pool_hits);
	/* Another attribute and a movable request are not served from it. */
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS, "c", &b[2]);
	EXPECT(r == 0, "cached alloc: %d", r);
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_WRITECOMBINE,
			  DMABUFD_ALLOC_CONTIGUOUS | DMABUFD_ALLOC_MOVABLE, "d", &b[3]);
	EXPECT(r == 0, "movable alloc: %d", r);
	st = stats(c);
	EXPECT(st.pool_hits == 1, "hits %llu after the cached and movable requests",
	       (unsigned long long)st.pool_hits);
	for (int i = 0; i < 4; i++) {
		close(b[i].fd);
		EXPECT(dmabufd_release(c, b[i].id) == 0, "release %d", i);
	}
	/* The whole region, while the pool holds buffers: it gives its room back. */
	EXPECT(wait_pooled(c, MiB), "the pool refills");
	for (n = 0; n < CAPACITY / MiB; n++) {
		r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_UNCACHED, DMABUFD_ALLOC_CONTIGUOUS, "f",
				  &b[n]);
		EXPECT(r == 0, "alloc %u of %llu: %d (%s)", n, (unsigned long long)(CAPACITY / MiB), r,
		       dmabufd_last_reason(c));
		if (r < 0)
			break;
	}
	st = stats(c);
	EXPECT(st.used == (uint64_t)n * MiB && st.pooled == 0, "used %llu pooled %llu",
	       (unsigned long long)st.used, (unsigned long long)st.pooled);
	for (unsigned i = 0; i < n; i++) {
		close(b[i].fd);
		dmabufd_release(c, b[i].id);
	}
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

static void test_kpool_server(void **state)
{
	struct event_base *base = event_base_new();
	struct fake_backend *f = fake_new((1u << DMABUFD_ATTR_CACHED) |
					  (1u << DMABUFD_ATTR_WRITECOMBINE) |
					  (1u << DMABUFD_ATTR_UNCACHED));
	struct dmabufd_region_stats rs;
	struct backend_pool_stats ps;
	char dir[] = "/tmp/test_kpool.XXXXXX", sock[64];
	struct server s;

	assert_non_null(base);
	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	assert_int_equal(server_init(&s, base, &f->base, NULL), 0);
	assert_non_null(s.backends[0].kpool);
	assert_int_equal(server_listen_path(&s, sock, 0600), 0);
	fake_serve_child(base, child, sock);
	for (int i = 0; i < 50 && s.registry.count; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(s.registry.count, 0);
	/* Let the worker finish what it was making; then the region holds the pool only. */
	for (int i = 0; i < 200; i++) {
		kpool_get_stats(s.backends[0].kpool, &ps);
		if (ps.pooled == BUDGET)
			break;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	kpool_get_stats(s.backends[0].kpool, &ps);
	assert_int_equal(ps.pooled, BUDGET);
	assert_true(ps.hits >= 1); /* the second alloc (the region fill: by timing) */
	/* hits and the pool now: all made by prepare(), on the worker */
	assert_true(atomic_load(&f->nprepared) >= ps.hits + BUDGET / MiB);
	dmabufd_region_stats(s.backends[0].region, &rs);
	assert_int_equal(rs.free_pages, (CAPACITY - BUDGET) / 4096);
	assert_int_equal(rs.n_allocations, BUDGET / MiB);
	assert_int_equal(dmabufd_region_audit(s.backends[0].region, NULL, 0), 0);
	/* server_finish() drains the pool: every buffer made is released. */
	{
		unsigned made;

		kpool_destroy(s.backends[0].kpool);
		s.backends[0].kpool = NULL;
		made = atomic_load(&f->made);
		assert_int_equal(f->releases, made);
		dmabufd_region_stats(s.backends[0].region, &rs);
		assert_int_equal(rs.free_pages, CAPACITY / 4096);
	}
	server_finish(&s);
	event_base_free(base);
	{
		char cmd[100];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* Runs the event loop until the pool holds @bytes (≤ 5 s). */
static void loop_until_pooled(struct event_base *base, struct kpool *kp, uint64_t bytes)
{
	struct backend_pool_stats ps;

	for (int i = 0; i < 500; i++) {
		kpool_get_stats(kp, &ps);
		if (ps.pooled >= bytes)
			return;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	fail_msg("the pool holds %llu bytes, not %llu", (unsigned long long)ps.pooled,
		 (unsigned long long)bytes);
}

static void test_kpool_teach(void **state)
{
	struct event_base *base = event_base_new();
	/* No uncached: that class is refused. */
	struct fake_backend *f = fake_new((1u << DMABUFD_ATTR_CACHED) |
					  (1u << DMABUFD_ATTR_WRITECOMBINE));
	struct backend_alloc req = { .size = MiB, .attribute = DMABUFD_ATTR_WRITECOMBINE,
				     .flags = DMABUFD_ALLOC_CONTIGUOUS };
	struct dmabufd_region_stats rs;
	struct backend_pool_stats ps;
	struct server_backend *sb;
	struct buffer taken;
	struct kpool *kp;
	struct server s;
	int fd = -1;

	assert_non_null(base);
	assert_int_equal(server_init(&s, base, &f->base, NULL), 0);
	sb = &s.backends[0];
	kp = sb->kpool;
	assert_non_null(kp);
	assert_int_equal(kpool_teach(kp, MiB, DMABUFD_ATTR_UNCACHED), -EOPNOTSUPP);
	assert_int_equal(kpool_teach(kp, MiB, (enum dmabufd_attribute)7), -EOPNOTSUPP);
	assert_int_equal(kpool_teach(kp, 0, DMABUFD_ATTR_CACHED), -EINVAL);
	assert_int_equal(kpool_teach(kp, BUDGET + 1, DMABUFD_ATTR_CACHED), -EINVAL);
	assert_int_equal(kpool_teach(kp, CAPACITY + 4096, DMABUFD_ATTR_CACHED), -EINVAL);
	assert_int_equal(atomic_load(&f->nprepared), 0);

	/* Two classes, half the budget each: 1 WC MiB (rounded up), 2 cached 512 KiB. */
	assert_int_equal(kpool_teach(kp, MiB - 100, DMABUFD_ATTR_WRITECOMBINE), 0);
	assert_int_equal(kpool_teach(kp, MiB / 2, DMABUFD_ATTR_CACHED), 0);
	loop_until_pooled(base, kp, BUDGET);
	kpool_get_stats(kp, &ps);
	assert_int_equal(ps.pooled, BUDGET);
	assert_int_equal(ps.hits + ps.misses, 0); /* no request taught them */
	assert_int_equal(atomic_load(&f->nprepared), 3);
	dmabufd_region_stats(sb->region, &rs);
	assert_int_equal(rs.used_pages[DMABUFD_ATTR_WRITECOMBINE], MiB / 4096);
	assert_int_equal(rs.used_pages[DMABUFD_ATTR_CACHED], MiB / 4096);
	assert_int_equal(dmabufd_region_audit(sb->region, NULL, 0), 0);

	/* The first request of a taught class is a hit. */
	assert_int_equal(kpool_take(kp, &req, &fd), 0);
	assert_true(fd >= 0);
	kpool_get_stats(kp, &ps);
	assert_int_equal(ps.hits, 1);
	assert_int_equal(ps.misses, 0);
	/* Give it back as kpool.c does for a buffer nobody took. */
	taken = (struct buffer){ .fd = fd, .offset = req.offset, .size = req.size };
	f->base.ops->release(&f->base, &taken);
	sb_unplace(sb, req.offset);

	kpool_destroy(kp);
	sb->kpool = NULL;
	assert_int_equal(f->releases, atomic_load(&f->made));
	dmabufd_region_stats(sb->region, &rs);
	assert_int_equal(rs.free_pages, CAPACITY / 4096);
	server_finish(&s);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kpool_server),
		cmocka_unit_test(test_kpool_teach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
