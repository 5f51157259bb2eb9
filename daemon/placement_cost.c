/* SPDX-License-Identifier: MIT */
/*
 * Claim cost of the region's windows: see placement_cost.h and
 * docs/REGION.md, "Claim cost".
 */
#include <errno.h>
#include <stdlib.h>

#include "placement_cost.h"

int placement_cost_map_init(struct placement_cost_map *m, uint32_t granule_pages,
			    uint32_t npages, const struct placement_granule *g, uint32_t n)
{
	uint64_t *cost;
	uint32_t *busy;

	if (granule_pages == 0 || granule_pages > PLACEMENT_MAX_GRANULE || npages == 0 ||
	    n != (uint32_t)(((uint64_t)npages + granule_pages - 1) / granule_pages))
		return -EINVAL;
	cost = malloc(sizeof(*cost) * ((size_t)n + 1));
	busy = malloc(sizeof(*busy) * ((size_t)n + 1));
	if (!cost || !busy) {
		free(cost);
		free(busy);
		return -ENOMEM;
	}
	cost[0] = 0;
	busy[0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t start = (uint64_t)i * granule_pages;
		const uint64_t len = start + granule_pages < npages ? granule_pages : npages - start;
		uint64_t c = (uint64_t)g[i].copy * PLACEMENT_COST_COPY +
			     (uint64_t)g[i].reclaim * PLACEMENT_COST_RECLAIM;

		/* Scaled to a whole granule: the short last one at the same density. */
		cost[i + 1] = cost[i] + c * granule_pages / len;
		busy[i + 1] = busy[i] + (g[i].busy != 0);
	}
	*m = (struct placement_cost_map){
		.granule_pages = granule_pages,
		.npages = npages,
		.n = n,
		.cost = cost,
		.busy = busy,
	};
	return 0;
}

void placement_cost_map_finish(struct placement_cost_map *m)
{
	free(m->cost);
	free(m->busy);
	*m = (struct placement_cost_map){ 0 };
}

uint64_t placement_window_cost(const struct placement_cost_map *m, uint32_t offset,
			       uint32_t npages)
{
	const uint32_t g = m->granule_pages;
	uint32_t first, last, busy;
	uint64_t cost;

	if (npages == 0 || offset >= m->npages || npages > m->npages - offset)
		return UINT64_MAX;
	first = offset / g;
	last = (uint32_t)(((uint64_t)offset + npages - 1) / g);
	/* Each granule's cost (of g pages) times the pages of it the window covers. */
	if (first == last) {
		cost = (m->cost[first + 1] - m->cost[first]) * npages;
	} else {
		cost = (m->cost[first + 1] - m->cost[first]) * ((first + 1) * g - offset);
		cost += (m->cost[last] - m->cost[first + 1]) * g;
		cost += (m->cost[last + 1] - m->cost[last]) * (offset + npages - last * g);
	}
	busy = m->busy[last + 1] - m->busy[first];
	if (busy > PLACEMENT_BUSY_SATURATION)
		busy = PLACEMENT_BUSY_SATURATION;
	return cost + (uint64_t)busy * PLACEMENT_COST_BUSY;
}

/* The search's state across the free runs of the region. */
struct cheapest {
	const struct placement_cost_map *m;
	uint32_t npages, align;
	uint64_t run_start, run_end;   /* the free run being gathered */
	bool found;
	uint32_t offset;
	uint64_t cost;
};

static void consider(struct cheapest *c, uint64_t lo, uint64_t hi, uint64_t start)
{
	uint64_t cost;

	if (start < lo || start > hi)
		return;
	cost = placement_window_cost(c->m, (uint32_t)start, c->npages);
	if (!c->found || cost < c->cost || (cost == c->cost && start < c->offset)) {
		c->found = true;
		c->cost = cost;
		c->offset = (uint32_t)start;
	}
}

/* @start rounded both ways to the alignment, each if inside [lo, hi]. */
static void consider_aligned(struct cheapest *c, uint64_t lo, uint64_t hi, uint64_t start)
{
	const uint64_t down = start / c->align * c->align;

	consider(c, lo, hi, down);
	if (down != start)
		consider(c, lo, hi, down + c->align);
}

/* Every corner of the cost inside the free run [run_start, run_end). */
static void consider_run(struct cheapest *c)
{
	const uint64_t g = c->m->granule_pages, a = c->run_start, b = c->run_end;
	uint64_t lo, hi;

	if (b - a < c->npages)
		return;
	lo = (a + c->align - 1) / c->align * c->align;
	hi = (b - c->npages) / c->align * c->align;
	if (lo > hi)
		return;
	consider(c, lo, hi, lo);
	consider(c, lo, hi, hi);
	/* A window's start or end on a granule boundary. */
	for (uint64_t k = (a + g - 1) / g * g; k <= b; k += g) {
		consider_aligned(c, lo, hi, k);
		if (k >= c->npages)
			consider_aligned(c, lo, hi, k - c->npages);
	}
}

static int walk_segment(const struct dmabufd_region_extent *e, void *userdata)
{
	struct cheapest *c = userdata;

	if (e->state == DMABUFD_REGION_FREE) {
		if (c->run_end != e->offset)
			c->run_start = e->offset; /* a new run */
		c->run_end = (uint64_t)e->offset + e->npages;
		return 0;
	}
	consider_run(c);
	c->run_start = c->run_end = UINT64_MAX;
	return 0;
}

int placement_cheapest_window(const struct dmabufd_region *r, const struct placement_cost_map *m,
			      uint32_t npages, uint32_t align_pages, uint32_t *ret_offset,
			      uint64_t *ret_cost)
{
	struct dmabufd_region_stats st;
	struct cheapest c = {
		.m = m,
		.npages = npages,
		.align = align_pages,
		.run_start = UINT64_MAX,
		.run_end = UINT64_MAX,
	};

	dmabufd_region_stats(r, &st);
	if (npages == 0 || align_pages == 0 || (align_pages & (align_pages - 1)) ||
	    m->npages != st.npages)
		return -EINVAL;
	dmabufd_region_walk(r, walk_segment, &c);
	if (c.run_end != UINT64_MAX)
		consider_run(&c);
	if (!c.found)
		return -ENOSPC;
	*ret_offset = c.offset;
	*ret_cost = c.cost;
	return 0;
}

bool placement_cost_worth_moving(const struct placement_cost_map *m, uint64_t policy,
				 uint64_t best)
{
	/* A granule of page copies, in window-cost units (times granule_pages). */
	const uint64_t min_saving = (uint64_t)m->granule_pages * m->granule_pages *
				    PLACEMENT_COST_COPY;

	if (best >= policy)
		return false;
	return policy - best >= policy / 8 && policy - best >= min_saving;
}
