/* SPDX-License-Identifier: MIT */
/*
 * Randomized test of the region allocator against a brute-force reference
 * model (one owner and one attribute per page). 1,000,000 operations across
 * 100 seeds in the normal build, audit() and a page-by-page comparison with
 * the model after every operation. Under AddressSanitizer the count is
 * reduced to 250,000 (same seeds, fewer operations each) to keep the unit
 * suite under a minute; DMABUFD_REGION_RANDOM_OPS in the environment
 * overrides the total.
 *
 * Checked after every operation: no overlap, alignment honoured, every
 * live page has its allocation's attribute (so no page changed attribute
 * while it belonged to a live buffer), transitions counted exactly, free /
 * largest-run totals, -ENOSPC only when no aligned free run exists, moves
 * never touch pinned buffers.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "region.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_OPS 250000u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_OPS 250000u
#endif
#endif
#ifndef DEFAULT_OPS
#define DEFAULT_OPS 1000000u
#endif
#define SEEDS 100u

struct live {
	uint32_t off, len, align;
	uint8_t attr, movable;
};

struct model {
	uint32_t n;
	int64_t *owner; /* 0 free, -1 reserved, offset + 1 of the allocation */
	uint8_t *attr;
	struct live *live;
	size_t nlive;
	uint64_t transitions;
	uint64_t rng;
	struct dmabufd_region *r;
	uint64_t plans, plan_moves, enospc_checked;
};

static uint64_t rnd(struct model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static uint32_t below(struct model *m, uint32_t n)
{
	return (uint32_t)(rnd(m) % n);
}

static bool model_fits(const struct model *m, uint32_t k, uint32_t align)
{
	uint32_t run = 0;
	/* scan: run of free pages ending at i; a fit ends at i if the aligned
	 * start i + 1 - k is inside the run */
	for (uint32_t i = 0; i < m->n; i++) {
		run = m->owner[i] == 0 ? run + 1 : 0;
		if (run >= k && ((i + 1 - k) & (align - 1)) == 0)
			return true;
	}
	return false;
}

static void model_take(struct model *m, uint32_t off, uint32_t k, uint32_t align, uint8_t attr,
		       uint8_t movable)
{
	for (uint32_t i = off; i < off + k; i++) {
		assert_int_equal(m->owner[i], 0);
		if (m->attr[i] != attr)
			m->transitions++;
		m->attr[i] = attr;
		m->owner[i] = (int64_t)off + 1;
	}
	m->live[m->nlive++] = (struct live){off, k, align, attr, movable};
}

static size_t model_find(const struct model *m, uint32_t off)
{
	for (size_t i = 0; i < m->nlive; i++)
		if (m->live[i].off == off)
			return i;
	return SIZE_MAX;
}

static void model_release(struct model *m, size_t idx)
{
	struct live l = m->live[idx];
	for (uint32_t i = l.off; i < l.off + l.len; i++)
		m->owner[i] = 0;
	m->live[idx] = m->live[--m->nlive];
}

/* Checks a move against the model and applies it to both. */
static void do_move(struct model *m, const struct dmabufd_region_move *mv)
{
	size_t idx = model_find(m, mv->old_offset);
	assert_int_not_equal(idx, SIZE_MAX);
	struct live l = m->live[idx];
	assert_true(l.movable); /* pinned buffers are never moved */
	assert_int_equal(l.len, mv->npages);
	assert_int_equal(mv->new_offset % l.align, 0);
	assert_true((uint64_t)mv->new_offset + l.len <= m->n);
	for (uint32_t i = mv->new_offset; i < mv->new_offset + l.len; i++)
		assert_true(m->owner[i] == 0 || m->owner[i] == (int64_t)l.off + 1);
	assert_int_equal(dmabufd_region_apply_move(m->r, mv), 0);
	model_release(m, idx);
	model_take(m, mv->new_offset, l.len, l.align, l.attr, l.movable);
	m->plan_moves++;
}

struct cmpctx {
	struct model *m;
	uint32_t pos;
};

static int cmp_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	struct cmpctx *c = userdata;
	struct model *m = c->m;

	assert_int_equal(e->offset, c->pos);
	assert_true(e->npages >= 1);
	for (uint32_t i = e->offset; i < e->offset + e->npages; i++) {
		assert_int_equal(m->attr[i], e->attribute);
		switch (e->state) {
		case DMABUFD_REGION_FREE:
			assert_int_equal(m->owner[i], 0);
			break;
		case DMABUFD_REGION_RESERVED:
			assert_int_equal(m->owner[i], -1);
			break;
		default:
			assert_int_equal(m->owner[i], (int64_t)e->offset + 1);
		}
	}
	if (e->state == DMABUFD_REGION_USED) {
		size_t idx = model_find(m, e->offset);
		assert_int_not_equal(idx, SIZE_MAX);
		assert_int_equal(m->live[idx].len, e->npages);
		assert_int_equal(m->live[idx].attr, e->attribute);
		assert_int_equal(m->live[idx].movable, e->movable);
		assert_int_equal(m->live[idx].align, e->align_pages);
		assert_int_equal(e->offset % e->align_pages, 0);
	}
	c->pos = e->offset + e->npages;
	return 0;
}

static void check(struct model *m)
{
	char why[256];
	struct dmabufd_region_stats st;
	uint32_t freep = 0, run = 0, largest = 0, resv = 0;

	if (dmabufd_region_audit(m->r, why, sizeof(why)))
		fail_msg("audit: %s", why);
	struct cmpctx c = {m, 0};
	assert_int_equal(dmabufd_region_walk(m->r, cmp_cb, &c), 0);
	assert_int_equal(c.pos, m->n);
	for (uint32_t i = 0; i < m->n; i++) {
		run = m->owner[i] == 0 ? run + 1 : 0;
		freep += m->owner[i] == 0;
		resv += m->owner[i] == -1;
		if (run > largest)
			largest = run;
	}
	dmabufd_region_stats(m->r, &st);
	assert_int_equal(st.free_pages, freep);
	assert_int_equal(st.reserved_pages, resv);
	assert_int_equal(st.largest_free_run, largest);
	assert_int_equal(st.transitions, m->transitions);
	assert_int_equal(st.n_allocations, m->nlive);
}

static uint32_t rand_size(struct model *m)
{
	switch (below(m, 4)) {
	case 0:
		return 1;
	case 1:
		return 1 + below(m, 8);
	case 2:
		return 1 + below(m, m->n / 8 + 1);
	default:
		return 1 + below(m, m->n / 3 + 1);
	}
}

static void op_alloc(struct model *m)
{
	uint32_t k = rand_size(m), align = 1u << (below(m, 3) ? 0 : below(m, 6));
	uint8_t attr = (uint8_t)(below(m, 4) == 0 ? below(m, 3) : (below(m, 2) ? 0 : 1));
	uint8_t movable = below(m, 10) < 7;
	uint32_t off = UINT32_MAX;
	int ret = dmabufd_region_alloc(m->r, k, align, attr, movable, &off);

	if (k > m->n) {
		assert_int_equal(ret, -EINVAL);
		return;
	}
	if (ret == 0) {
		assert_int_equal(off % align, 0);
		assert_true((uint64_t)off + k <= m->n);
		model_take(m, off, k, align, attr, movable);
		return;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(off, UINT32_MAX);
	assert_false(model_fits(m, k, align));
	m->enospc_checked++;
	if (below(m, 2))
		return;
	struct dmabufd_region_plan *plan = NULL;
	ret = dmabufd_region_plan_for(m->r, k, align, attr, movable, &plan);
	if (ret == -ENOSPC)
		return;
	assert_int_equal(ret, 0);
	assert_true(plan->has_target);
	uint32_t movable_pages = 0;
	for (size_t i = 0; i < m->nlive; i++)
		movable_pages += m->live[i].movable ? m->live[i].len : 0;
	assert_true(plan->pages_moved <= movable_pages);
	uint64_t sum = 0;
	for (size_t i = 0; i < plan->n_moves; i++) {
		do_move(m, &plan->moves[i]);
		sum += plan->moves[i].npages;
		check(m);
	}
	assert_int_equal(sum, plan->pages_moved);
	ret = dmabufd_region_alloc(m->r, k, align, attr, movable, &off);
	assert_int_equal(ret, 0);
	assert_int_equal(off, plan->target_offset);
	model_take(m, off, k, align, attr, movable);
	m->plans++;
	dmabufd_region_plan_destroy(plan);
}

static void op_compact(struct model *m)
{
	struct dmabufd_region_plan *plan = NULL;
	assert_int_equal(dmabufd_region_plan_compact(m->r, &plan), 0);
	assert_false(plan->has_target);
	for (size_t i = 0; i < plan->n_moves; i++)
		do_move(m, &plan->moves[i]);
	dmabufd_region_plan_destroy(plan);
}

static void op_reserve(struct model *m, bool un)
{
	uint32_t off = below(m, m->n), k = 1 + below(m, 8);
	bool in = (uint64_t)off + k <= m->n, all_free = in, all_resv = in;

	for (uint32_t i = off; in && i < off + k; i++) {
		all_free &= m->owner[i] == 0;
		all_resv &= m->owner[i] == -1;
	}
	if (un) {
		int ret = dmabufd_region_unreserve(m->r, off, k);
		assert_int_equal(ret, all_resv ? 0 : -EINVAL);
		for (uint32_t i = off; ret == 0 && i < off + k; i++)
			m->owner[i] = 0;
	} else {
		int ret = dmabufd_region_reserve(m->r, off, k);
		assert_int_equal(ret, !in ? -EINVAL : all_free ? 0 : -EBUSY);
		for (uint32_t i = off; ret == 0 && i < off + k; i++)
			m->owner[i] = -1;
	}
}

static void op_claim(struct model *m)
{
	uint32_t align = 1u << below(m, 3), k = 1 + below(m, 6);
	uint32_t off = below(m, m->n) & ~(align - 1);
	uint8_t attr = (uint8_t)below(m, 3), movable = (uint8_t)below(m, 2);
	bool in = (uint64_t)off + k <= m->n, all_free = in;

	for (uint32_t i = off; in && i < off + k; i++)
		all_free &= m->owner[i] == 0;
	int ret = dmabufd_region_claim(m->r, off, k, align, attr, movable);
	assert_int_equal(ret, !in ? -EINVAL : all_free ? 0 : -EBUSY);
	if (ret == 0)
		model_take(m, off, k, align, attr, movable);
}

static void op_free(struct model *m)
{
	if (m->nlive == 0 || below(m, 20) == 0) {
		uint32_t off = below(m, m->n);
		bool live = model_find(m, off) != SIZE_MAX;
		if (!live)
			assert_int_equal(dmabufd_region_unplace(m->r, off), -ENOENT);
		return;
	}
	size_t idx = below(m, (uint32_t)m->nlive);
	assert_int_equal(dmabufd_region_unplace(m->r, m->live[idx].off), 0);
	model_release(m, idx);
}

static void run_seed(uint32_t seed, uint32_t ops, uint64_t *totals)
{
	static const uint32_t sizes[] = {1, 7, 37, 64, 100, 128, 256, 300, 512, 700};
	struct model m = {.rng = 0x2545F4914F6CDD1Dull ^ ((uint64_t)seed * 0x9E3779B97F4A7C15ull)};
	struct dmabufd_region_options o = {.initial_attribute = seed % 3};

	m.n = sizes[seed % (sizeof(sizes) / sizeof(sizes[0]))];
	m.owner = calloc(m.n, sizeof(*m.owner));
	m.attr = calloc(m.n, 1);
	m.live = calloc(m.n, sizeof(*m.live));
	assert_non_null(m.owner);
	assert_non_null(m.attr);
	assert_non_null(m.live);
	memset(m.attr, (int)o.initial_attribute, m.n);
	assert_int_equal(dmabufd_region_create(m.n, &o, &m.r), 0);
	/* alternate load levels: phases that fill and phases that drain */
	for (uint32_t i = 0; i < ops; i++) {
		bool filling = (i / 500) % 2 == 0;
		uint32_t x = below(&m, 100);
		if (x < (filling ? 55u : 30u))
			op_alloc(&m);
		else if (x < 88)
			op_free(&m);
		else if (x < 92)
			op_reserve(&m, false);
		else if (x < 96)
			op_reserve(&m, true);
		else if (x < 99)
			op_claim(&m);
		else
			op_compact(&m);
		check(&m);
	}
	totals[0] += m.plans;
	totals[1] += m.plan_moves;
	totals[2] += m.enospc_checked;
	totals[3] += m.transitions;
	dmabufd_region_destroy(m.r);
	free(m.owner);
	free(m.attr);
	free(m.live);
}

static void test_random_vs_model(void **state)
{
	uint32_t total = DEFAULT_OPS;
	const char *env = getenv("DMABUFD_REGION_RANDOM_OPS");
	uint64_t totals[4] = {0};

	if (env && *env)
		total = (uint32_t)strtoul(env, NULL, 10);
	for (uint32_t seed = 0; seed < SEEDS; seed++)
		run_seed(seed, total / SEEDS, totals);
	printf("# %u ops over %u seeds: %" PRIu64 " plans applied (%" PRIu64
	       " moves), %" PRIu64 " -ENOSPC verified, %" PRIu64 " transitions\n",
	       total / SEEDS * SEEDS, SEEDS, totals[0], totals[1], totals[2], totals[3]);
	/* the run must have exercised the interesting paths */
	assert_true(totals[0] > 0);
	assert_true(totals[2] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_vs_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
