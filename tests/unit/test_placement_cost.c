/* SPDX-License-Identifier: MIT */
/* Claim cost of the region's windows (daemon/placement_cost.c) with fake
 * occupancy maps: window costs, the cheapest window among the free runs
 * the region allocator allows (checked against a brute force over every
 * aligned start), busy granules, and the rule that leaves the policy's
 * choice only for a real saving. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "placement_cost.h"

#define C DMABUFD_ATTR_CACHED
#define WC DMABUFD_ATTR_WRITECOMBINE

static struct dmabufd_region *mk(uint32_t n)
{
	struct dmabufd_region *r = NULL;

	assert_int_equal(dmabufd_region_create(n, NULL, &r), 0);
	return r;
}

/* A map of @n granules of @g pages over @npages pages with the given copy counts. */
static void mkmap(struct placement_cost_map *m, uint32_t g, uint32_t npages,
		  const uint32_t *copy, const uint32_t *busy, uint32_t n)
{
	struct placement_granule gr[64] = { 0 };

	assert_true(n <= 64);
	for (uint32_t i = 0; i < n; i++) {
		gr[i].copy = copy ? copy[i] : 0;
		gr[i].busy = busy ? busy[i] : 0;
	}
	assert_int_equal(placement_cost_map_init(m, g, npages, gr, n), 0);
}

static void test_map_args(void **state)
{
	struct placement_granule gr[4] = { 0 };
	struct placement_cost_map m = { .granule_pages = 7 };

	(void)state;
	assert_int_equal(placement_cost_map_init(&m, 0, 16, gr, 4), -EINVAL);
	assert_int_equal(placement_cost_map_init(&m, 4, 0, gr, 0), -EINVAL);
	assert_int_equal(placement_cost_map_init(&m, 4, 16, gr, 3), -EINVAL);
	assert_int_equal(placement_cost_map_init(&m, 4, 17, gr, 4), -EINVAL); /* needs 5 */
	assert_int_equal(m.granule_pages, 7); /* untouched on failure */
	assert_int_equal(placement_cost_map_init(&m, 4, 14, gr, 4), 0);     /* short last */
	assert_int_equal(m.n, 4);
	placement_cost_map_finish(&m);
	assert_null(m.cost);
	placement_cost_map_finish(&m); /* a zeroed map is fine */
}

static void test_window_cost(void **state)
{
	/* granules of 4 pages: 4, 0, 2, 0 pages to copy */
	const uint32_t copy[] = { 4, 0, 2, 0 };
	struct placement_cost_map m;

	(void)state;
	mkmap(&m, 4, 16, copy, NULL, 4);
	assert_int_equal(placement_window_cost(&m, 0, 4), 4 * 4 * PLACEMENT_COST_COPY);
	assert_int_equal(placement_window_cost(&m, 4, 4), 0);
	/* half of granule 0 and half of granule 1: in proportion */
	assert_int_equal(placement_window_cost(&m, 2, 4), 4 * 2 * PLACEMENT_COST_COPY);
	assert_int_equal(placement_window_cost(&m, 4, 8), 4 * 2 * PLACEMENT_COST_COPY);
	assert_int_equal(placement_window_cost(&m, 0, 16), 4 * 6 * PLACEMENT_COST_COPY);
	assert_int_equal(placement_window_cost(&m, 1, 1), 4 * 1 * PLACEMENT_COST_COPY);
	assert_int_equal(placement_window_cost(&m, 12, 4), 0);
	/* outside the map */
	assert_true(placement_window_cost(&m, 13, 4) == UINT64_MAX);
	assert_true(placement_window_cost(&m, 16, 1) == UINT64_MAX);
	assert_true(placement_window_cost(&m, 0, 0) == UINT64_MAX);
	placement_cost_map_finish(&m);
}

static void test_reclaim_cheaper_than_copy(void **state)
{
	struct placement_granule gr[2] = { { .reclaim = 4 }, { .copy = 4 } };
	struct placement_cost_map m;

	(void)state;
	assert_int_equal(placement_cost_map_init(&m, 4, 8, gr, 2), 0);
	assert_int_equal(placement_window_cost(&m, 0, 4), 4 * 4 * PLACEMENT_COST_RECLAIM);
	assert_int_equal(placement_window_cost(&m, 4, 4), 4 * 4 * PLACEMENT_COST_COPY);
	assert_true(PLACEMENT_COST_RECLAIM < PLACEMENT_COST_COPY);
	placement_cost_map_finish(&m);
}

static void test_busy_whole_granule(void **state)
{
	/* one busy page in granule 1 makes every window touching it costly */
	const uint32_t busy[] = { 0, 1, 0, 0 };
	struct placement_cost_map m;

	(void)state;
	mkmap(&m, 4, 16, NULL, busy, 4);
	assert_int_equal(placement_window_cost(&m, 0, 4), 0);
	assert_true(placement_window_cost(&m, 3, 2) == PLACEMENT_COST_BUSY);
	assert_true(placement_window_cost(&m, 7, 1) == PLACEMENT_COST_BUSY);
	assert_int_equal(placement_window_cost(&m, 8, 8), 0);
	placement_cost_map_finish(&m);
}

static void test_cheapest_skips_allocations(void **state)
{
	/* the cheapest granule (3) is taken by a buffer: the next cheapest wins */
	const uint32_t copy[] = { 4, 1, 3, 0 };
	struct dmabufd_region *r = mk(16);
	struct placement_cost_map m;
	uint32_t off = 99;
	uint64_t cost = 99;

	(void)state;
	mkmap(&m, 4, 16, copy, NULL, 4);
	assert_int_equal(dmabufd_region_claim(r, 12, 4, 1, C, false), 0);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), 0);
	assert_int_equal(off, 4);
	assert_int_equal(cost, 4 * 1 * PLACEMENT_COST_COPY);
	/* with the buffer gone, granule 3 */
	assert_int_equal(dmabufd_region_unplace(r, 12), 0);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), 0);
	assert_int_equal(off, 12);
	assert_int_equal(cost, 0);
	placement_cost_map_finish(&m);
	dmabufd_region_destroy(r);
}

static void test_cheapest_alignment_and_reserved(void **state)
{
	const uint32_t copy[] = { 4, 0, 2, 0 };
	struct dmabufd_region *r = mk(16);
	struct placement_cost_map m;
	uint32_t off = 99;
	uint64_t cost = 99;

	(void)state;
	mkmap(&m, 4, 16, copy, NULL, 4);
	/* aligned to 8: only 0 and 8 qualify; 8 costs 2 copies, 0 four */
	assert_int_equal(placement_cheapest_window(r, &m, 4, 8, &off, &cost), 0);
	assert_int_equal(off, 8);
	/* unaligned: a free granule */
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), 0);
	assert_int_equal(off, 4);
	assert_int_equal(cost, 0);
	/* reserved pages are never in a window */
	assert_int_equal(dmabufd_region_reserve(r, 4, 4), 0);
	assert_int_equal(dmabufd_region_reserve(r, 12, 4), 0);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), 0);
	assert_int_equal(off, 8);
	assert_int_equal(cost, 4 * 2 * PLACEMENT_COST_COPY);
	/* no free run of 5 pages left */
	off = 77;
	assert_int_equal(placement_cheapest_window(r, &m, 5, 1, &off, &cost), -ENOSPC);
	assert_int_equal(off, 77);
	placement_cost_map_finish(&m);
	dmabufd_region_destroy(r);
}

static void test_cheapest_avoids_busy(void **state)
{
	/* granule 1 holds a busy page; 2 costs two copies: busy is worse */
	const uint32_t copy[] = { 4, 0, 2, 4 };
	const uint32_t busy[] = { 0, 1, 0, 0 };
	struct dmabufd_region *r = mk(16);
	struct placement_cost_map m;
	uint32_t off = 99;
	uint64_t cost = 99;

	(void)state;
	mkmap(&m, 4, 16, copy, busy, 4);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), 0);
	assert_int_equal(off, 8);
	assert_true(cost < PLACEMENT_COST_BUSY);
	placement_cost_map_finish(&m);
	dmabufd_region_destroy(r);
}

static void test_cheapest_args(void **state)
{
	struct dmabufd_region *r = mk(16);
	struct placement_cost_map m;
	uint32_t off;
	uint64_t cost;

	(void)state;
	mkmap(&m, 4, 12, NULL, NULL, 3); /* does not cover the region */
	assert_int_equal(placement_cheapest_window(r, &m, 4, 1, &off, &cost), -EINVAL);
	placement_cost_map_finish(&m);
	mkmap(&m, 4, 16, NULL, NULL, 4);
	assert_int_equal(placement_cheapest_window(r, &m, 0, 1, &off, &cost), -EINVAL);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 3, &off, &cost), -EINVAL);
	assert_int_equal(placement_cheapest_window(r, &m, 4, 0, &off, &cost), -EINVAL);
	assert_int_equal(placement_cheapest_window(r, &m, 17, 1, &off, &cost), -ENOSPC);
	placement_cost_map_finish(&m);
	dmabufd_region_destroy(r);
}

/* Is [off, off + n) free in @r (every page in a FREE segment)? */
static bool window_free(const struct dmabufd_region *r, uint32_t off, uint32_t n)
{
	for (uint32_t p = off; p < off + n;) {
		struct dmabufd_region_extent e;

		assert_int_equal(dmabufd_region_extent_at(r, p, &e), 0);
		if (e.state != DMABUFD_REGION_FREE)
			return false;
		p = e.offset + e.npages;
	}
	return true;
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)((*s >> 33) % n);
}

/* The corners searched are enough: the same minimum as every aligned start. */
static void test_cheapest_matches_brute_force(void **state)
{
	uint64_t seed = 42;

	(void)state;
	for (int iter = 0; iter < 400; iter++) {
		const uint32_t g = 1 + rnd(&seed, 16), n = 1 + rnd(&seed, 4 * g);
		const uint32_t npages = g * (1 + rnd(&seed, 12)) + rnd(&seed, g);
		const uint32_t align = 1u << rnd(&seed, 4);
		const uint32_t ng = (npages + g - 1) / g;
		struct placement_granule gr[64] = { 0 };
		struct dmabufd_region *r = mk(npages);
		struct placement_cost_map m;
		uint64_t best = UINT64_MAX, cost = 0;
		uint32_t off = 0;
		int ret;

		for (uint32_t i = 0; i < ng && i < 64; i++) {
			gr[i].copy = rnd(&seed, g + 1);
			gr[i].reclaim = rnd(&seed, g + 1 - gr[i].copy);
			gr[i].busy = rnd(&seed, 10) == 0;
		}
		assert_true(ng <= 64);
		assert_int_equal(placement_cost_map_init(&m, g, npages, gr, ng), 0);
		/* a few buffers and reservations */
		for (int k = rnd(&seed, 5); k > 0; k--) {
			uint32_t o = rnd(&seed, npages), len = 1 + rnd(&seed, 2 * g);

			if (o + len > npages)
				continue;
			if (rnd(&seed, 2))
				(void)dmabufd_region_claim(r, o, len, 1, rnd(&seed, 2) ? C : WC, false);
			else
				(void)dmabufd_region_reserve(r, o, len);
		}
		for (uint32_t s = 0; s + n <= npages; s += align)
			if (window_free(r, s, n)) {
				uint64_t c = placement_window_cost(&m, s, n);

				if (c < best)
					best = c;
			}
		ret = placement_cheapest_window(r, &m, n, align, &off, &cost);
		if (best == UINT64_MAX) {
			assert_int_equal(ret, -ENOSPC);
		} else {
			assert_int_equal(ret, 0);
			assert_true(cost == best);
			assert_int_equal(off % align, 0);
			assert_true(window_free(r, off, n));
			assert_true(placement_window_cost(&m, off, n) == cost);
		}
		placement_cost_map_finish(&m);
		dmabufd_region_destroy(r);
	}
}

static void test_worth_moving(void **state)
{
	const uint64_t g = 512, copies = g * PLACEMENT_COST_COPY * g; /* a granule of copies */
	struct placement_cost_map m;

	(void)state;
	mkmap(&m, 512, 1024, NULL, NULL, 2);
	assert_false(placement_cost_worth_moving(&m, 0, 0));       /* nothing lent */
	assert_false(placement_cost_worth_moving(&m, 100, 100));
	assert_false(placement_cost_worth_moving(&m, 100, 200));
	/* a saving below one granule of copies: noise */
	assert_false(placement_cost_worth_moving(&m, copies * 100, copies * 100 - 1));
	assert_false(placement_cost_worth_moving(&m, copies / 2, 0));
	/* a granule of copies, but under an eighth of the cost */
	assert_false(placement_cost_worth_moving(&m, copies * 100, copies * 99));
	/* both */
	assert_true(placement_cost_worth_moving(&m, copies * 100, copies * 80));
	assert_true(placement_cost_worth_moving(&m, copies, 0));
	assert_true(placement_cost_worth_moving(&m, PLACEMENT_COST_BUSY, copies * 8));
	placement_cost_map_finish(&m);
}

/* The largest sums stay exact: a 2^31-page region all to copy, busy everywhere. */
static void test_no_overflow(void **state)
{
	const uint32_t g = PLACEMENT_MAX_GRANULE, npages = DMABUFD_REGION_MAX_PAGES;
	const uint32_t n = npages / g;
	struct placement_granule *gr = calloc(n, sizeof(*gr));
	struct placement_cost_map m;
	uint64_t c;

	(void)state;
	assert_non_null(gr);
	for (uint32_t i = 0; i < n; i++)
		gr[i] = (struct placement_granule){ .copy = g, .busy = 1 };
	assert_int_equal(placement_cost_map_init(&m, g + 1, npages, gr, n), -EINVAL);
	assert_int_equal(placement_cost_map_init(&m, g, npages, gr, n), 0);
	c = placement_window_cost(&m, 0, npages);
	assert_true(c == (uint64_t)npages * PLACEMENT_COST_COPY * g +
			 PLACEMENT_BUSY_SATURATION * PLACEMENT_COST_BUSY);
	assert_true(c < UINT64_MAX);
	placement_cost_map_finish(&m);
	free(gr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_args),
		cmocka_unit_test(test_window_cost),
		cmocka_unit_test(test_reclaim_cheaper_than_copy),
		cmocka_unit_test(test_busy_whole_granule),
		cmocka_unit_test(test_cheapest_skips_allocations),
		cmocka_unit_test(test_cheapest_alignment_and_reserved),
		cmocka_unit_test(test_cheapest_avoids_busy),
		cmocka_unit_test(test_cheapest_args),
		cmocka_unit_test(test_cheapest_matches_brute_force),
		cmocka_unit_test(test_worth_moving),
		cmocka_unit_test(test_no_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
