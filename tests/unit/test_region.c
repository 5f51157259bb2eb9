/* SPDX-License-Identifier: MIT */
/* Region allocator: API contract, placement policy, attribute ledger,
 * reservations, moves and compaction planner on constructed layouts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"
#include "region_fuzz_step.h"

#define C DMABUFD_ATTR_CACHED
#define WC DMABUFD_ATTR_WRITECOMBINE
#define UC DMABUFD_ATTR_UNCACHED

static void audit_ok(struct dmabufd_region *r)
{
	char why[256];
	int ret = dmabufd_region_audit(r, why, sizeof(why));
	if (ret)
		fail_msg("audit: %s", why);
}

static struct dmabufd_region *mk(uint32_t n, uint32_t flags)
{
	struct dmabufd_region_options o = {.flags = flags};
	struct dmabufd_region *r = NULL;
	assert_int_equal(dmabufd_region_create(n, &o, &r), 0);
	assert_non_null(r);
	audit_ok(r);
	return r;
}

static void test_create_args(void **state)
{
	struct dmabufd_region *r = (void *)0x1;
	struct dmabufd_region_options o = {0};

	assert_int_equal(dmabufd_region_create(0, NULL, &r), -EINVAL);
	assert_int_equal(dmabufd_region_create(DMABUFD_REGION_MAX_PAGES + 1u, NULL, &r), -EINVAL);
	o.initial_attribute = 3;
	assert_int_equal(dmabufd_region_create(16, &o, &r), -EINVAL);
	o = (struct dmabufd_region_options){.page_size = 4095};
	assert_int_equal(dmabufd_region_create(16, &o, &r), -EINVAL);
	o = (struct dmabufd_region_options){.flags = 1u << 7};
	assert_int_equal(dmabufd_region_create(16, &o, &r), -EINVAL);
	assert_ptr_equal(r, (void *)0x1); /* untouched on failure */
	dmabufd_region_destroy(NULL);

	/* 2^22 pages (16 GiB of 4 KiB pages): the largest region the design
	 * targets must be created, with no per-page bookkeeping */
	assert_int_equal(dmabufd_region_create(1u << 22, NULL, &r), 0);
	struct dmabufd_region_stats st;
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.free_pages, 1u << 22);
	assert_int_equal(st.largest_free_run, 1u << 22);
	assert_int_equal(st.free_pages_attr[C], 1u << 22);
	dmabufd_region_destroy(r);
}

static void test_alloc_free_lookup(void **state)
{
	struct dmabufd_region *r = mk(64, 0);
	uint32_t off = 777, a, b;
	struct dmabufd_region_allocation al;

	assert_int_equal(dmabufd_region_alloc(r, 0, 1, C, true, &off), -EINVAL);
	assert_int_equal(dmabufd_region_alloc(r, 65, 1, C, true, &off), -EINVAL);
	assert_int_equal(dmabufd_region_alloc(r, 1, 3, C, true, &off), -EINVAL);
	assert_int_equal(dmabufd_region_alloc(r, 1, 1, 3, true, &off), -EINVAL);
	assert_int_equal(off, 777);

	/* no power-of-two rounding: 3 pages take 3 pages, the tail stays free */
	assert_int_equal(dmabufd_region_alloc(r, 3, 1, C, true, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(dmabufd_region_alloc(r, 1, 1, C, true, &b), 0);
	assert_int_equal(b, 3);
	assert_int_equal(dmabufd_region_lookup(r, a, &al), 0);
	assert_int_equal(al.npages, 3);
	assert_int_equal(al.align_pages, 1);
	assert_true(al.movable);
	assert_int_equal(al.attribute, C);
	assert_int_equal(dmabufd_region_lookup(r, 1, NULL), -ENOENT);
	assert_int_equal(dmabufd_region_unplace(r, 1), -ENOENT);
	assert_int_equal(dmabufd_region_unplace(r, 10), -ENOENT);
	assert_int_equal(dmabufd_region_unplace(r, a), 0);
	assert_int_equal(dmabufd_region_unplace(r, a), -ENOENT);
	audit_ok(r);

	/* alignment honoured, exact fit found although smaller than k+align-1 */
	assert_int_equal(dmabufd_region_alloc(r, 4, 4, C, true, &a), 0);
	assert_int_equal(a % 4, 0);
	assert_int_equal(a, 4);
	assert_int_equal(dmabufd_region_alloc(r, 56, 8, C, true, &a), 0);
	assert_int_equal(a, 8);
	assert_int_equal(dmabufd_region_alloc(r, 1, 1, C, true, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(dmabufd_region_alloc(r, 2, 2, C, true, &a), -ENOSPC);
	assert_int_equal(dmabufd_region_alloc(r, 2, 1, C, true, &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(dmabufd_region_alloc(r, 1, 1, C, true, &a), -ENOSPC);
	struct dmabufd_region_stats st;
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.free_pages, 0);
	assert_int_equal(st.n_allocations, 5);
	assert_int_equal(st.fragmentation_permille, 0);
	audit_ok(r);
	dmabufd_region_destroy(r);
}

static void test_kinds_apart(void **state)
{
	struct dmabufd_region *r = mk(1024, 0);
	uint32_t a, b, c;

	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, true, &a), 0);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, false, &b), 0);
	assert_int_equal(dmabufd_region_alloc(r, 10, 4, C, false, &c), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1014);
	assert_int_equal(c, 1004); /* highest aligned fit below 1014 */
	struct dmabufd_region_stats st;
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.n_pinned, 2);
	assert_int_equal(st.n_movable, 1);
	assert_int_equal(st.pinned_pages, 20);
	assert_int_equal(st.movable_pages, 10);
	audit_ok(r);
	dmabufd_region_destroy(r);

	/* attribute zones: movable write-combine/uncached from the top down,
	 * below the pinned ones; cached from the bottom up */
	r = mk(1024, 0);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, false, &b), 0);
	assert_int_equal(b, 1014);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, WC, true, &a), 0);
	assert_int_equal(a, 1004);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, true, &c), 0);
	assert_int_equal(c, 0);
	/* a pinned request takes the highest fit, not a far-away extent in its
	 * attribute (which would pepper the movable part) */
	assert_int_equal(dmabufd_region_alloc(r, 5, 1, WC, false, &b), 0);
	assert_int_equal(b, 999);
	audit_ok(r);
	dmabufd_region_destroy(r);

	/* benchmark variant: no separation */
	r = mk(1024, DMABUFD_REGION_NO_KIND_SEPARATION);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, false, &b), 0);
	assert_int_equal(b, 0);
	dmabufd_region_destroy(r);
}

/* A movable write-combine request takes a free extent already in its
 * attribute even above the lowest pinned allocation (no transition), rather
 * than transitioning pages below it; and the lowest pinned allocation is
 * tracked as pinned buffers come and go (audit checks it). */
static void test_wc_above_lowest_pinned(void **state)
{
	struct dmabufd_region *r = mk(1024, 0);
	struct dmabufd_region_stats st;
	uint32_t p1, p2, f, a, b;

	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, false, &p1), 0);
	assert_int_equal(p1, 1014);
	assert_int_equal(dmabufd_region_alloc(r, 100, 1, WC, true, &f), 0);
	assert_int_equal(f, 914);
	/* the pinned part is full: the next pinned buffer lands below the
	 * frame, which lowers the floor of the write-combine zone to 904 */
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, false, &p2), 0);
	assert_int_equal(p2, 904);
	audit_ok(r);
	assert_int_equal(dmabufd_region_unplace(r, f), 0); /* [914, 1014) free, WC */
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 100);
	assert_int_equal(dmabufd_region_alloc(r, 50, 1, WC, true, &a), 0);
	assert_int_equal(a, 964); /* not 854, below the floor, in cached pages */
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 100);
	audit_ok(r);
	/* the low pinned buffer goes: the floor is 1014 again, and the rest
	 * of the write-combine extent, now below it, comes first */
	assert_int_equal(dmabufd_region_unplace(r, p2), 0);
	audit_ok(r);
	assert_int_equal(dmabufd_region_alloc(r, 40, 1, WC, true, &b), 0);
	assert_int_equal(b, 924);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 100);
	assert_int_equal(dmabufd_region_unplace(r, p1), 0);
	audit_ok(r);
	dmabufd_region_destroy(r);
}

static void test_attribute_ledger(void **state)
{
	struct dmabufd_region *r = mk(100, DMABUFD_REGION_NO_ATTR_ZONES);
	struct dmabufd_region_stats st;
	struct dmabufd_region_extent e;
	uint32_t a, b, c;

	assert_int_equal(dmabufd_region_alloc(r, 10, 1, WC, true, &a), 0);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 10);
	assert_int_equal(st.transition_events, 1);
	assert_int_equal(st.used_pages[WC], 10);
	assert_int_equal(dmabufd_region_alloc(r, 10, 1, C, true, &b), 0);
	assert_int_equal(b, 10);
	assert_int_equal(dmabufd_region_unplace(r, a), 0);
	/* freed pages keep their attribute */
	assert_int_equal(dmabufd_region_extent_at(r, 3, &e), 0);
	assert_int_equal(e.state, DMABUFD_REGION_FREE);
	assert_int_equal(e.attribute, WC);
	assert_int_equal(e.offset, 0);
	assert_int_equal(e.npages, 10);
	assert_int_equal(dmabufd_region_extent_at(r, 100, &e), -EINVAL);
	/* a cached request avoids the write-combine hole */
	assert_int_equal(dmabufd_region_alloc(r, 5, 1, C, true, &c), 0);
	assert_int_equal(c, 20);
	/* a write-combine request reuses it without a transition */
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, WC, true, &a), 0);
	assert_int_equal(a, 0);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 10);
	assert_int_equal(st.free_pages_attr[WC], 2);
	/* a request spanning attributes transitions only the differing pages */
	assert_int_equal(dmabufd_region_unplace(r, b), 0);      /* 10..19 cached free */
	assert_int_equal(dmabufd_region_alloc(r, 12, 1, UC, true, &c), 0); /* none UC: any run */
	assert_int_equal(c, 8);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.transitions, 22);
	assert_int_equal(st.transition_events, 3);
	assert_int_equal(dmabufd_region_extent_at(r, 19, &e), 0);
	assert_int_equal(e.state, DMABUFD_REGION_USED);
	assert_int_equal(e.attribute, UC);
	assert_int_equal(e.offset, 8);
	audit_ok(r);

	/* attribute-blind variant: same request sequence, first fit only */
	struct dmabufd_region *bl = mk(100, DMABUFD_REGION_ATTR_BLIND);
	assert_int_equal(dmabufd_region_alloc(bl, 10, 1, WC, true, &a), 0);
	assert_int_equal(dmabufd_region_alloc(bl, 10, 1, C, true, &b), 0);
	assert_int_equal(dmabufd_region_unplace(bl, a), 0);
	assert_int_equal(dmabufd_region_alloc(bl, 5, 1, C, true, &c), 0);
	assert_int_equal(c, 0);
	dmabufd_region_stats(bl, &st);
	assert_int_equal(st.transitions, 15);
	audit_ok(bl);
	dmabufd_region_destroy(bl);
	dmabufd_region_destroy(r);
}

static void test_reserve(void **state)
{
	struct dmabufd_region *r = mk(64, 0);
	struct dmabufd_region_stats st;
	uint32_t a, b;

	assert_int_equal(dmabufd_region_reserve(r, 0, 0), -EINVAL);
	assert_int_equal(dmabufd_region_reserve(r, 60, 5), -EINVAL);
	assert_int_equal(dmabufd_region_reserve(r, 0, 8), 0);
	assert_int_equal(dmabufd_region_reserve(r, 4, 8), -EBUSY);
	assert_int_equal(dmabufd_region_alloc(r, 4, 1, C, true, &a), 0);
	assert_int_equal(a, 8);
	assert_int_equal(dmabufd_region_reserve(r, 8, 1), -EBUSY);
	assert_int_equal(dmabufd_region_claim(r, 2, 1, 1, C, true), -EBUSY);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.reserved_pages, 8);
	assert_int_equal(st.free_pages, 52);
	assert_int_equal(dmabufd_region_unreserve(r, 6, 4), -EINVAL); /* 8, 9 are used */
	assert_int_equal(dmabufd_region_unreserve(r, 2, 2), 0);          /* partial */
	audit_ok(r);
	assert_int_equal(dmabufd_region_alloc(r, 2, 1, C, true, &b), 0);
	assert_int_equal(b, 2);
	assert_int_equal(dmabufd_region_unreserve(r, 0, 2), 0);
	assert_int_equal(dmabufd_region_unreserve(r, 4, 4), 0);
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.reserved_pages, 0);
	assert_int_equal(st.free_pages, 58);
	/* claim at a fixed place (daemon restart) */
	assert_int_equal(dmabufd_region_claim(r, 40, 8, 8, WC, false), 0);
	assert_int_equal(dmabufd_region_claim(r, 41, 1, 2, WC, false), -EINVAL);
	assert_int_equal(dmabufd_region_claim(r, 63, 2, 1, WC, false), -EINVAL);
	assert_int_equal(dmabufd_region_claim(r, 44, 1, 1, WC, false), -EBUSY);
	audit_ok(r);
	dmabufd_region_destroy(r);
}

static void test_apply_move_errors(void **state)
{
	struct dmabufd_region *r = mk(64, DMABUFD_REGION_NO_ATTR_ZONES);
	uint32_t a, p, c;

	assert_int_equal(dmabufd_region_alloc(r, 4, 4, WC, true, &a), 0);  /* 0..3 */
	assert_int_equal(dmabufd_region_alloc(r, 4, 1, C, true, &c), 0);   /* 4..7 */
	assert_int_equal(dmabufd_region_alloc(r, 4, 1, C, false, &p), 0);  /* 60..63 */
	struct dmabufd_region_move m = {5, 16, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -ENOENT);
	m = (struct dmabufd_region_move){p, 16, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -EPERM);
	m = (struct dmabufd_region_move){a, 18, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -EINVAL);      /* misaligned */
	m = (struct dmabufd_region_move){a, 16, 3};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -EINVAL);      /* wrong size */
	m = (struct dmabufd_region_move){a, 4, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -EBUSY);
	m = (struct dmabufd_region_move){a, 60, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), -EBUSY);
	audit_ok(r);
	/* overlapping move of its own pages (memmove semantics) */
	m = (struct dmabufd_region_move){c, 6, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), 0);
	assert_int_equal(dmabufd_region_lookup(r, 6, NULL), 0);
	m = (struct dmabufd_region_move){a, 12, 4};
	assert_int_equal(dmabufd_region_apply_move(r, &m), 0);
	struct dmabufd_region_allocation al;
	assert_int_equal(dmabufd_region_lookup(r, 12, &al), 0);
	assert_int_equal(al.attribute, WC);
	assert_int_equal(al.align_pages, 4);
	struct dmabufd_region_stats st;
	dmabufd_region_stats(r, &st);
	assert_int_equal(st.moves, 2);
	assert_int_equal(st.pages_moved, 8);
	/* WC pages 0..3 stayed WC when vacated; 12..15 were transitioned */
	assert_int_equal(st.transitions, 8);
	assert_int_equal(st.free_pages_attr[WC], 4);
	audit_ok(r);
	dmabufd_region_destroy(r);
}

/* 16 movable 4-page buffers at 0..63 of a 72-page region, every other freed:
 * 32 free pages in 4-page holes + an 8-page tail taken by a pinned buffer.
 * An 8-page request fails; one 4-page move opens a hole. */
static void test_plan_for_minimal(void **state)
{
	struct dmabufd_region *r = mk(72, 0);
	uint32_t off[16], pin, x;
	struct dmabufd_region_plan *plan = NULL;

	for (int i = 0; i < 16; i++)
		assert_int_equal(dmabufd_region_alloc(r, 4, 1, C, true, &off[i]), 0);
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, WC, false, &pin), 0);
	assert_int_equal(pin, 64);
	for (int i = 0; i < 16; i += 2)
		assert_int_equal(dmabufd_region_unplace(r, off[i]), 0);
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, C, true, &x), -ENOSPC);
	assert_int_equal(dmabufd_region_plan_for(r, 8, 1, C, true, &plan), 0);
	assert_true(plan->has_target);
	assert_int_equal(plan->n_moves, 1);
	assert_int_equal(plan->pages_moved, 4);
	assert_int_equal(plan->bytes_moved, 4 * 4096);
	assert_int_not_equal(plan->moves[0].old_offset, pin);
	/* the region is untouched by planning */
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, C, true, &x), -ENOSPC);
	assert_int_equal(dmabufd_region_apply_plan(r, plan), 0);
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, C, true, &x), 0);
	assert_int_equal(x, plan->target_offset);
	assert_int_equal(dmabufd_region_lookup(r, pin, NULL), 0);
	audit_ok(r);
	dmabufd_region_plan_destroy(plan);

	/* an aligned request: 16 pages aligned to 16 */
	assert_int_equal(dmabufd_region_alloc(r, 16, 16, C, true, &x), -ENOSPC);
	assert_int_equal(dmabufd_region_plan_for(r, 16, 16, C, true, &plan), 0);
	assert_true(plan->pages_moved <= 16 + 2 * 3);
	assert_int_equal(dmabufd_region_apply_plan(r, plan), 0);
	assert_int_equal(dmabufd_region_alloc(r, 16, 16, C, true, &x), 0);
	assert_int_equal(x % 16, 0);
	assert_int_equal(dmabufd_region_lookup(r, pin, NULL), 0);
	audit_ok(r);
	dmabufd_region_plan_destroy(plan);
	dmabufd_region_plan_destroy(NULL);
	dmabufd_region_destroy(r);
}

/* Holes separated by pinned buffers: nothing can open 8 pages. */
static void test_plan_for_pinned_blocks(void **state)
{
	struct dmabufd_region *r = mk(64, DMABUFD_REGION_NO_KIND_SEPARATION);
	struct dmabufd_region_plan *plan = (void *)0x1;
	uint32_t off[16], x;

	for (int i = 0; i < 16; i++)
		assert_int_equal(dmabufd_region_alloc(r, 4, 1, C, i % 2 == 1, &off[i]), 0);
	for (int i = 1; i < 16; i += 4)
		assert_int_equal(dmabufd_region_unplace(r, off[i]), 0);
	/* layout: P _ P M P _ P M ... : holes and movables all between pinned */
	assert_int_equal(dmabufd_region_alloc(r, 8, 1, C, true, &x), -ENOSPC);
	assert_int_equal(dmabufd_region_plan_for(r, 8, 1, C, true, &plan), -ENOSPC);
	assert_ptr_equal(plan, (void *)0x1);
	/* more free pages than the region has: refused cheaply */
	assert_int_equal(dmabufd_region_plan_for(r, 40, 1, C, true, &plan), -ENOSPC);
	assert_int_equal(dmabufd_region_plan_for(r, 0, 1, C, true, &plan), -EINVAL);
	dmabufd_region_destroy(r);
}

static void test_plan_compact(void **state)
{
	struct dmabufd_region *r = mk(256, DMABUFD_REGION_NO_ATTR_ZONES);
	struct dmabufd_region_plan *plan = NULL;
	struct dmabufd_region_stats st;
	uint32_t off[40], pin;

	for (int i = 0; i < 40; i++)
		assert_int_equal(dmabufd_region_alloc(r, 1 + i % 5, 1, i % 3, true,
						      &off[i]),
				 0);
	assert_int_equal(dmabufd_region_alloc(r, 7, 1, UC, false, &pin), 0);
	for (int i = 0; i < 40; i += 3)
		assert_int_equal(dmabufd_region_unplace(r, off[i]), 0);
	dmabufd_region_stats(r, &st);
	assert_true(st.largest_free_run < st.free_pages);
	assert_true(st.fragmentation_permille > 0);
	assert_int_equal(dmabufd_region_plan_compact(r, &plan), 0);
	assert_false(plan->has_target);
	assert_true(plan->n_moves > 0);
	uint64_t sum = 0;
	for (size_t i = 0; i < plan->n_moves; i++) {
		assert_true(plan->moves[i].new_offset < plan->moves[i].old_offset);
		assert_int_not_equal(plan->moves[i].old_offset, pin);
		sum += plan->moves[i].npages;
	}
	assert_int_equal(sum, plan->pages_moved);
	assert_true(plan->pages_moved <= st.movable_pages);
	uint64_t tr = st.transitions;
	assert_int_equal(dmabufd_region_apply_plan(r, plan), 0);
	dmabufd_region_stats(r, &st);
	/* one free run left below the pinned buffer */
	assert_int_equal(st.largest_free_run, st.free_pages);
	assert_int_equal(st.fragmentation_permille, 0);
	assert_int_equal(dmabufd_region_lookup(r, pin, NULL), 0);
	assert_true(st.transitions >= tr);
	audit_ok(r);
	dmabufd_region_plan_destroy(plan);

	/* compacting a compact region moves nothing */
	assert_int_equal(dmabufd_region_plan_compact(r, &plan), 0);
	assert_int_equal(plan->n_moves, 0);
	assert_int_equal(plan->bytes_moved, 0);
	dmabufd_region_plan_destroy(plan);
	dmabufd_region_destroy(r);
}

static void test_fuzz_step(void **state)
{
	struct dmabufd_region *r = mk(300, 0);
	uint8_t data[4096];
	uint64_t x = 88172645463325252ull;
	size_t used;

	for (size_t i = 0; i < sizeof(data); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		data[i] = (uint8_t)x;
	}
	assert_int_equal(region_fuzz_step(r, data, 0, &used), -ENODATA);
	for (size_t off = 0; off < sizeof(data);) {
		assert_int_equal(region_fuzz_step(r, data + off, sizeof(data) - off, &used), 0);
		assert_true(used >= 1);
		off += used;
	}
	audit_ok(r);
	dmabufd_region_destroy(r);
}

/* Movable-only fragmented regions (alignment 1): whenever at least k pages
 * are free, plan_for must find a plan, it must make the request succeed,
 * and it must move no more than the full compaction plan would. */
static void test_plan_for_random(void **state)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	unsigned planned = 0;

	for (int round = 0; round < 300; round++) {
		struct dmabufd_region *r = mk(200 + round, 0);
		uint32_t offs[512], n = 0, o;
		for (;;) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (dmabufd_region_alloc(r, 1 + x % 12, 1, x % 3, true, &o) < 0)
				break;
			offs[n++] = o;
		}
		for (uint32_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 3 == 0)
				assert_int_equal(dmabufd_region_unplace(r, offs[i]), 0);
		}
		struct dmabufd_region_stats st;
		dmabufd_region_stats(r, &st);
		uint32_t k = st.largest_free_run + 1 + (uint32_t)(x % 8);
		if (k > st.free_pages) {
			dmabufd_region_destroy(r);
			continue;
		}
		struct dmabufd_region_plan *plan = NULL, *full = NULL;
		assert_int_equal(dmabufd_region_alloc(r, k, 1, C, true, &o), -ENOSPC);
		assert_int_equal(dmabufd_region_plan_for(r, k, 1, C, true, &plan), 0);
		assert_int_equal(dmabufd_region_plan_compact(r, &full), 0);
		assert_true(plan->pages_moved <= full->pages_moved);
		assert_true(plan->pages_moved <= st.movable_pages);
		assert_int_equal(dmabufd_region_apply_plan(r, plan), 0);
		assert_int_equal(dmabufd_region_alloc(r, k, 1, C, true, &o), 0);
		assert_int_equal(o, plan->target_offset);
		audit_ok(r);
		planned++;
		dmabufd_region_plan_destroy(plan);
		dmabufd_region_plan_destroy(full);
		dmabufd_region_destroy(r);
	}
	assert_true(planned > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_alloc_free_lookup),
		cmocka_unit_test(test_kinds_apart),
		cmocka_unit_test(test_wc_above_lowest_pinned),
		cmocka_unit_test(test_attribute_ledger),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_apply_move_errors),
		cmocka_unit_test(test_plan_for_minimal),
		cmocka_unit_test(test_plan_for_pinned_blocks),
		cmocka_unit_test(test_plan_compact),
		cmocka_unit_test(test_plan_for_random),
		cmocka_unit_test(test_fuzz_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
