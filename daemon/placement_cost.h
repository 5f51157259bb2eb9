/* SPDX-License-Identifier: MIT */
/*
 * What a claim of a window of the region costs the kernel (placement_cost.c,
 * docs/REGION.md "Claim cost"): a physically contiguous backend whose free
 * pages the kernel lends to the page allocator (kmod: the region lives in
 * ZONE_MOVABLE) must migrate whatever lives in the window it claims. The
 * region allocator knows only its own buffers; this map, built from a
 * snapshot of the kernel's occupancy (DMABUFD_REGION_IOC_OCCUPANCY), lets
 * the placement pick, among the windows the allocator allows, the one that
 * moves the fewest pages. Pure: no I/O, no allocation but the map's own.
 * Offsets and lengths in region pages.
 */
#ifndef DMABUFD_PLACEMENT_COST_H
#define DMABUFD_PLACEMENT_COST_H

#include <stdbool.h>
#include <stdint.h>

#include "region.h"

/* Pages of one granule by what a claim does with them (the backend's snapshot). */
struct placement_granule {
	uint32_t free;      /* taken as they are */
	uint32_t reclaim;   /* clean file page cache: dropped, not copied */
	uint32_t copy;      /* movable pages that must be migrated (copied) */
	uint32_t busy;      /* pages the kernel cannot take (reserved, pinned, unmovable) */
	uint32_t claimed;   /* the backend's own buffers */
};

/*
 * Cost units: a page copy is 4, a page dropped from the page cache 1 (no
 * copy, but the rmap walk and the free), a free page 0. A window's cost is
 * exact, with no rounding: each granule's cost times the pages of it the
 * window covers, so in units of 1/granule_pages (the kernel migrates only
 * the window's pages of a granule; the map does not know which, so it
 * takes them in proportion). A granule holding a busy page adds
 * PLACEMENT_COST_BUSY to every window that touches it (saturating at
 * PLACEMENT_BUSY_SATURATION granules): the kernel isolates whole
 * pageblocks, and a claim over such a page fails (-EBUSY), often after
 * migrating part of the window for nothing. No sum can overflow: at most
 * 2^31 pages of cost 4, times PLACEMENT_MAX_GRANULE, stays below 2^53.
 */
#define PLACEMENT_COST_COPY        4u
#define PLACEMENT_COST_RECLAIM     1u
#define PLACEMENT_COST_BUSY        (UINT64_C(1) << 54)
#define PLACEMENT_BUSY_SATURATION  511u
#define PLACEMENT_MAX_GRANULE      (1u << 20)  /* pages */

/* The cost of every granule of a region, as prefix sums. */
struct placement_cost_map {
	uint32_t granule_pages;  /* pages per granule, >= 1 */
	uint32_t npages;         /* region pages covered: granule i is [i * g, min((i + 1) * g, npages)) */
	uint32_t n;              /* granules, ceil(npages / granule_pages) */
	uint64_t *cost;          /* n + 1 prefix sums of the granules' copy and reclaim costs
	                            (a short last granule scaled to a whole one) */
	uint32_t *busy;          /* n + 1 prefix sums of the granules holding a busy page */
};

/**
 * placement_cost_map_init() - build @m from @n granule counts.
 * @granule_pages: pages per granule, 1..PLACEMENT_MAX_GRANULE.
 * @npages: region pages; @n must be ceil(@npages / @granule_pages).
 * @g: @n entries, granule i covering pages [i * granule_pages, ...).
 * Return: 0; -EINVAL (granule or region empty, granule too large, @n does
 * not match); -ENOMEM.
 * @m is untouched on failure; free with placement_cost_map_finish().
 */
int placement_cost_map_init(struct placement_cost_map *m, uint32_t granule_pages,
			    uint32_t npages, const struct placement_granule *g, uint32_t n);

/** placement_cost_map_finish() - free @m's arrays; a zeroed map is fine. */
void placement_cost_map_finish(struct placement_cost_map *m);

/**
 * placement_window_cost() - cost of claiming [@offset, @offset + @npages),
 * in the units above (times granule_pages). The window must lie in the
 * map (else UINT64_MAX).
 */
uint64_t placement_window_cost(const struct placement_cost_map *m, uint32_t offset,
			       uint32_t npages);

/**
 * placement_cheapest_window() - the cheapest window of @npages pages,
 * aligned to @align_pages, among the free runs of @r (free pages whatever
 * their attribute; reserved pages and allocations are never in a window).
 * The cost is piecewise linear in the window's start, with corners where
 * either end crosses a granule boundary, so only those starts (rounded to
 * the alignment both ways) and the ends of each run are evaluated: O(free
 * runs + granules) windows. Ties go to the lowest offset.
 * @ret_offset, @ret_cost: the window and its placement_window_cost().
 * Return: 0; -EINVAL (npages 0, bad alignment, the map does not cover @r);
 * -ENOSPC (no free run admits the request). Outputs untouched on failure.
 */
int placement_cheapest_window(const struct dmabufd_region *r, const struct placement_cost_map *m,
			      uint32_t npages, uint32_t align_pages, uint32_t *ret_offset,
			      uint64_t *ret_cost);

/**
 * placement_cost_worth_moving() - whether a window of cost @best should
 * replace the allocator's choice, of cost @policy (placement_window_cost()
 * of each): it must save at least an eighth of the policy's cost and a
 * granule's worth of page copies, so that the allocator's layout
 * (docs/REGION.md, "Placement policy") is left only for a saving the
 * kernel will feel, never for noise in the snapshot.
 */
bool placement_cost_worth_moving(const struct placement_cost_map *m, uint64_t policy,
				 uint64_t best);

#endif
