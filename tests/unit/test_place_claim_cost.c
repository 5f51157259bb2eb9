/* SPDX-License-Identifier: MIT */
/* sb_place() on a backend that reports occupancy (daemon/placement.c,
 * docs/REGION.md "Claim cost"), with a fake backend whose snapshot is a
 * table: the policy's window is kept when it is cheap (and only its
 * granules are read), left for a free window when it is lent, and kept
 * when the snapshot fails or the request is below a granule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "placement.h"
#include "placement_cost.h"
#include "region.h"

#define PAGE 4096u
#define NPAGES 64u
#define GRANULE 4u

/* The fake backend: a snapshot table and a record of what was asked. */
static struct {
	struct backend base;
	struct placement_granule g[NPAGES / GRANULE];
	int fail;              /* occupancy() returns this when non-zero */
	unsigned calls;
	uint64_t first[4], npages[4];
} fake;

static int fake_occupancy(struct backend *b, uint64_t first, uint64_t npages,
			  struct placement_granule **ret_g, uint32_t *ret_n)
{
	const uint32_t n = (uint32_t)((npages + GRANULE - 1) / GRANULE);
	struct placement_granule *g;

	(void)b;
	if (fake.calls < 4) {
		fake.first[fake.calls] = first;
		fake.npages[fake.calls] = npages;
	}
	fake.calls++;
	if (fake.fail)
		return fake.fail;
	assert_int_equal(first % GRANULE, 0);
	assert_true(first + npages <= NPAGES);
	g = calloc(n, sizeof(*g));
	assert_non_null(g);
	memcpy(g, &fake.g[first / GRANULE], n * sizeof(*g));
	*ret_g = g;
	*ret_n = n;
	return 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake-kmod",
	.occupancy = fake_occupancy,
};

static struct server_backend sb;

static int setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.base.ops = &fake_ops;
	for (unsigned i = 0; i < NPAGES / GRANULE; i++)
		fake.g[i].free = GRANULE;
	sb = (struct server_backend){
		.backend = &fake.base,
		.caps = { .name = "fake-kmod", .contiguous = true, .page_size = PAGE,
			  .region_size = (uint64_t)NPAGES * PAGE, .attributes = 7,
			  .claim_granule_pages = GRANULE },
	};
	assert_int_equal(sb_region_init(&sb), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dmabufd_region_destroy(sb.region);
	return 0;
}

/* Where the policy alone puts 8 pinned cached pages in an empty region. */
static uint32_t policy_offset(void)
{
	uint32_t off;

	assert_int_equal(dmabufd_region_find(sb.region, 8, 1, DMABUFD_ATTR_CACHED, false, &off), 0);
	return off;
}

static void lend(uint32_t offset, uint32_t npages)
{
	for (uint32_t p = offset; p < offset + npages; p += GRANULE) {
		fake.g[p / GRANULE].free = 0;
		fake.g[p / GRANULE].copy = GRANULE;
	}
}

static void test_cheap_policy_window_kept(void **state)
{
	const uint32_t pol = policy_offset();
	uint64_t off = 1;

	(void)state;
	lend(0, 16); /* lent pages elsewhere do not matter */
	assert_int_equal(sb_place(&sb, 8 * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off), 0);
	assert_int_equal(off, (uint64_t)pol * PAGE);
	/* only the policy window's two granules were read */
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.first[0], pol / GRANULE * GRANULE);
	assert_int_equal(fake.npages[0], 8);
	assert_int_equal(dmabufd_region_lookup(sb.region, pol, NULL), 0);
}

static void test_lent_policy_window_left(void **state)
{
	const uint32_t pol = policy_offset();
	struct dmabufd_region_allocation a;
	uint64_t off = 1;

	(void)state;
	/* everything lent but granules 4 and 5 (pages 16..23) */
	lend(0, NPAGES);
	fake.g[4] = (struct placement_granule){ .free = GRANULE };
	fake.g[5] = (struct placement_granule){ .free = GRANULE };
	assert_int_equal(sb_place(&sb, 8 * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off), 0);
	assert_int_equal(off, 16 * PAGE);
	assert_true(pol != 16);
	/* the window first, then the whole region */
	assert_int_equal(fake.calls, 2);
	assert_int_equal(fake.first[1], 0);
	assert_int_equal(fake.npages[1], NPAGES);
	/* recorded as the allocation asked for */
	assert_int_equal(dmabufd_region_lookup(sb.region, 16, &a), 0);
	assert_int_equal(a.npages, 8);
	assert_false(a.movable);
	assert_int_equal(a.attribute, DMABUFD_ATTR_CACHED);
	assert_int_equal(dmabufd_region_lookup(sb.region, pol, NULL), -ENOENT);
	/* the next one cannot have that window again */
	off = 1;
	assert_int_equal(sb_place(&sb, 8 * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off), 0);
	assert_true(off != 16 * PAGE);
}

static void test_small_saving_kept(void **state)
{
	const uint32_t pol = policy_offset();
	uint64_t off = 1;

	(void)state;
	/* the policy window has one page to copy: under a granule of copies */
	fake.g[pol / GRANULE] = (struct placement_granule){ .free = GRANULE - 1, .copy = 1 };
	assert_int_equal(sb_place(&sb, 8 * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off), 0);
	assert_int_equal(off, (uint64_t)pol * PAGE);
	assert_int_equal(fake.calls, 1);
}

static void test_snapshot_failure_falls_back(void **state)
{
	const uint32_t pol = policy_offset();
	uint64_t off = 1;

	(void)state;
	lend(0, NPAGES);
	fake.g[0] = (struct placement_granule){ .free = GRANULE };
	fake.g[1] = (struct placement_granule){ .free = GRANULE };
	fake.fail = -ENOTTY; /* an older module */
	assert_int_equal(sb_place(&sb, 8 * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off), 0);
	assert_int_equal(off, (uint64_t)pol * PAGE);
	assert_int_equal(fake.calls, 1);
}

static void test_below_granule_not_asked(void **state)
{
	uint64_t off = 1;

	(void)state;
	lend(0, NPAGES);
	assert_int_equal(sb_place(&sb, (GRANULE - 1) * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off),
			 0);
	assert_int_equal(fake.calls, 0);
}

static void test_no_room_not_asked(void **state)
{
	uint64_t off = 1;

	(void)state;
	assert_int_equal(sb_place(&sb, (NPAGES + 4) * PAGE, 0, DMABUFD_ATTR_CACHED, false, &off),
			 -EINVAL);
	assert_int_equal(fake.calls, 0);
	assert_int_equal(off, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cheap_policy_window_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lent_policy_window_left, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_saving_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_failure_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_below_granule_not_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room_not_asked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
