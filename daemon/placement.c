/* SPDX-License-Identifier: MIT */
/*
 * Placement of buffers in the region: the bridge between the server (bytes,
 * struct buffer) and the region allocator (pages, offsets). Every backend's
 * buffers are placed, so capacity, fragmentation and attributes are visible
 * on every backend (docs/REGION.md). Compaction executes a plan move by
 * move through the backend's migrate() op and commits each move to the
 * allocator only once the backend succeeded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

#include "attr.h"
#include "clock.h"
#include "log.h"
#include "macros.h"
#include "placement_cost.h"
#include "region.h"
#include "reply.h"

static uint32_t to_pages(const struct server_backend *sb, uint64_t bytes)
{
	return (uint32_t)(bytes / sb->caps.page_size);
}

int sb_region_init(struct server_backend *sb)
{
	struct dmabufd_region_options opts = {
		.initial_attribute = DMABUFD_ATTR_CACHED,
		.page_size = sb->caps.page_size,
	};
	uint64_t npages = sb->caps.page_size ? sb->caps.region_size / sb->caps.page_size : 0;

	if (npages == 0 || npages > DMABUFD_REGION_MAX_PAGES)
		return -EINVAL;
	return dmabufd_region_create((uint32_t)npages, &opts, &sb->region);
}

/* Buffers sorted by offset, to find the owner of a planned move. */
static int cmp_offset(const void *a, const void *b)
{
	const struct buffer *x = *(struct buffer *const *)a, *y = *(struct buffer *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The index of the first entry of @sorted at or after @offset (0..n). */
static size_t lower_bound(struct buffer **sorted, size_t n, uint64_t offset)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid]->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Entry @i of @sorted got a new offset: slide it to its place so the array
 * stays ordered (O(n) moves of pointers, instead of sorting again). Live
 * buffers never overlap, so offsets are distinct.
 */
static void resort_one(struct buffer **sorted, size_t n, size_t i)
{
	struct buffer *b = sorted[i];
	size_t j;

	memmove(&sorted[i], &sorted[i + 1], (n - i - 1) * sizeof(*sorted));
	j = lower_bound(sorted, n - 1, b->offset);
	memmove(&sorted[j + 1], &sorted[j], (n - 1 - j) * sizeof(*sorted));
	sorted[j] = b;
}

/*
 * Runs @plan: for each move, the backend relocates the buffer, then the
 * allocator commits it. Stops at the first failure (earlier moves stay
 * done: each left the region consistent).
 */
static int execute_plan(struct server_backend *sb, const struct dmabufd_region_plan *plan,
			struct server_compact_result *res)
{
	struct server *s = sb->server;
	const uint64_t page = sb->caps.page_size;
	struct buffer **sorted, *b;
	size_t n = 0;
	int err = 0;

	if (plan->n_moves == 0)
		return 0;
	if (!sb->backend->ops->migrate)
		return -EOPNOTSUPP;
	sorted = malloc(sizeof(*sorted) * (s->registry.count ? s->registry.count : 1));
	if (!sorted)
		return -ENOMEM;
	/* Only this backend's buffers live in its region. */
	TAILQ_FOREACH(b, &s->registry.order, order_link)
		if (buffer_home(s, b) == sb)
			sorted[n++] = b;
	qsort(sorted, n, sizeof(*sorted), cmp_offset);

	for (size_t i = 0; i < plan->n_moves; i++) {
		const struct dmabufd_region_move *m = &plan->moves[i];

		size_t at = lower_bound(sorted, n, (uint64_t)m->old_offset * page);

		b = at < n && sorted[at]->offset == (uint64_t)m->old_offset * page ? sorted[at] : NULL;
		if (!b && sb->caps.deferred_release) {
			/* released, waiting for the backend's release event */
			err = -EBUSY;
			break;
		}
		if (!b) {
			err = -EUCLEAN; /* the registry and the region disagree */
			log_error("compaction: no buffer at page %u", m->old_offset);
			break;
		}
		err = sb->backend->ops->migrate(sb->backend, b, (uint64_t)m->new_offset * page);
		if (err < 0) {
			log_info("compaction: buffer %llu could not move: %s",
				 (unsigned long long)b->id, strerror(-err));
			break;
		}
		err = dmabufd_region_apply_move(sb->region, m);
		if (err < 0) {
			log_error("compaction: region refused a move the backend made: %s",
				  strerror(-err));
			break;
		}
		b->offset = (uint64_t)m->new_offset * page;
		/* Keep @sorted ordered: the moved entry may now sit elsewhere. */
		resort_one(sorted, n, at);
		res->moves++;
		res->bytes_moved += (uint64_t)m->npages * page;
	}
	s->counters.compaction_moves += res->moves;
	s->counters.compaction_bytes += res->bytes_moved;
	free(sorted);
	return err;
}

/*
 * An occupancy snapshot of the granules [first, first + n) of @sb's region
 * as a cost map of the whole region (the other granules cost nothing).
 * Return: 0 and *@ret (placement_cost_map_finish() it); negative errno.
 */
static int claim_cost_map(struct server_backend *sb, uint32_t first, uint32_t n,
			  struct placement_cost_map *ret)
{
	const uint32_t granule = sb->caps.claim_granule_pages;
	const uint32_t npages = to_pages(sb, sb->caps.region_size);
	const uint32_t total = (uint32_t)(((uint64_t)npages + granule - 1) / granule);
	const uint64_t last_page = (uint64_t)(first + n) * granule;
	_cleanup_free_ struct placement_granule *got = NULL, *all = NULL;
	uint32_t ngot;
	int err;

	err = sb->backend->ops->occupancy(sb->backend, (uint64_t)first * granule,
					  (last_page < npages ? last_page : npages) -
						  (uint64_t)first * granule,
					  &got, &ngot);
	if (err < 0)
		return err;
	if (ngot != n)
		return -EPROTO;
	if (n == total)
		return placement_cost_map_init(ret, granule, npages, got, n);
	all = calloc(total, sizeof(*all));
	if (!all)
		return -ENOMEM;
	memcpy(&all[first], got, n * sizeof(*got));
	return placement_cost_map_init(ret, granule, npages, all, total);
}

/*
 * Claim cost (docs/REGION.md, "Claim cost"): on a backend whose free pages
 * the kernel lends out (kmod), the window the policy chooses may be full
 * of page cache that the claim must migrate while a window elsewhere is
 * nearly free. The policy's window is weighed first, by a snapshot of its
 * own granules; only when no window could save enough over it
 * (placement_cost_worth_moving() against a free one) is that the end.
 * Otherwise a snapshot of the whole region finds the cheapest free window,
 * which is claimed when it saves enough. Requests below one granule are
 * left to the policy: no window of theirs can save that much.
 * Return: true and *@ret_offset when it placed the buffer; false when the
 * policy should (no snapshot, no room, or no saving worth a change).
 */
static bool place_by_claim_cost(struct server_backend *sb, uint32_t npages, uint32_t align,
				enum dmabufd_attribute attribute, bool movable,
				uint32_t *ret_offset)
{
	const uint32_t granule = sb->caps.claim_granule_pages;
	const uint32_t total = (uint32_t)((sb->caps.region_size / sb->caps.page_size + granule - 1) /
					  (granule ? granule : 1));
	struct placement_cost_map map;
	uint32_t policy_off, best_off = 0, first, last;
	uint64_t policy_cost, best_cost = 0, t0;
	bool whole = false, moved = false;
	int err;

	if (!granule || !sb->backend->ops->occupancy || npages < granule)
		return false;
	if (dmabufd_region_find(sb->region, npages, align, attribute, movable, &policy_off) < 0)
		return false; /* no room: the caller compacts */
	t0 = monotonic_usec();
	first = policy_off / granule;
	last = (uint32_t)(((uint64_t)policy_off + npages - 1) / granule);
	err = claim_cost_map(sb, first, last - first + 1, &map);
	if (err == 0) {
		policy_cost = placement_window_cost(&map, policy_off, npages);
		if (placement_cost_worth_moving(&map, policy_cost, 0)) {
			placement_cost_map_finish(&map);
			whole = true;
			err = claim_cost_map(sb, 0, total, &map);
		}
	}
	if (err < 0) {
		log_debug("%s: no occupancy snapshot (%s): placing by policy", sb->caps.name,
			  strerror(-err));
		return false;
	}
	policy_cost = placement_window_cost(&map, policy_off, npages);
	if (whole &&
	    placement_cheapest_window(sb->region, &map, npages, align, &best_off, &best_cost) == 0 &&
	    placement_cost_worth_moving(&map, policy_cost, best_cost) &&
	    dmabufd_region_claim(sb->region, best_off, npages, align, attribute, movable) == 0) {
		*ret_offset = best_off;
		moved = true;
	}
	log_debug("%s: %u pages at page %u, claim cost %llu (policy: page %u, cost %llu; %s snapshot %llu us)",
		  sb->caps.name, npages, moved ? best_off : policy_off,
		  (unsigned long long)(moved ? best_cost : policy_cost), policy_off,
		  (unsigned long long)policy_cost, whole ? "window and region" : "window",
		  (unsigned long long)(monotonic_usec() - t0));
	placement_cost_map_finish(&map);
	return moved;
}

int sb_place(struct server_backend *sb, uint64_t size, uint64_t alignment,
	     enum dmabufd_attribute attribute, bool movable, uint64_t *ret_offset)
{
	const uint32_t npages = to_pages(sb, size);
	const uint32_t align = alignment ? to_pages(sb, alignment) : 1;
	struct dmabufd_region_plan *plan = NULL;
	struct server_compact_result res = { 0 };
	uint32_t off;
	int err;

	if (place_by_claim_cost(sb, npages, align, attribute, movable, &off)) {
		*ret_offset = (uint64_t)off * sb->caps.page_size;
		return 0;
	}
	err = dmabufd_region_alloc(sb->region, npages, align, attribute, movable, &off);
	if (err == -ENOSPC && sb->backend->ops->migrate &&
	    dmabufd_region_plan_for(sb->region, npages, align, attribute, movable, &plan) == 0) {
		/* Fragmented: move movable buffers to open a hole (DESIGN.md). */
		err = execute_plan(sb, plan, &res);
		log_info("%s: compaction for %u pages: %llu moves, %llu bytes moved%s",
			 sb->caps.name, npages, (unsigned long long)res.moves,
			 (unsigned long long)res.bytes_moved, err < 0 ? " (incomplete)" : "");
		dmabufd_region_plan_destroy(plan);
		err = dmabufd_region_alloc(sb->region, npages, align, attribute, movable, &off);
	}
	if (err < 0)
		return err;
	*ret_offset = (uint64_t)off * sb->caps.page_size;
	return 0;
}

void sb_unplace(struct server_backend *sb, uint64_t offset)
{
	int err = dmabufd_region_unplace(sb->region, to_pages(sb, offset));

	if (err < 0)
		log_error("region of %s: no allocation at byte offset %llu: %s", sb->caps.name,
			  (unsigned long long)offset, strerror(-err));
}

int sb_place_restored(struct server_backend *sb, struct buffer *b)
{
	const bool movable = b->flags & DMABUFD_ALLOC_MOVABLE;

	b->home = sb;
	if (b->offset % sb->caps.page_size == 0 && b->size <= sb->caps.region_size &&
	    b->offset <= sb->caps.region_size - b->size &&
	    dmabufd_region_claim(sb->region, to_pages(sb, b->offset), to_pages(sb, b->size), 1,
				 b->attribute, movable) == 0)
		return 0;
	/* The recorded place is gone or invalid: a memfd can live anywhere. */
	if (sb->caps.contiguous)
		return -EBUSY;
	return sb_place(sb, b->size, 0, b->attribute, movable, &b->offset);
}

int sb_compact(struct server_backend *sb, struct server_compact_result *ret)
{
	struct dmabufd_region_plan *plan = NULL;
	struct server_compact_result res = { 0 };
	struct dmabufd_region_stats before, after;
	int err;

	if (!sb->backend->ops->migrate)
		return -EOPNOTSUPP;
	dmabufd_region_stats(sb->region, &before);
	err = dmabufd_region_plan_compact(sb->region, &plan);
	if (err < 0)
		return err;
	res.planned_moves = plan->n_moves;
	res.planned_bytes = plan->bytes_moved;
	err = execute_plan(sb, plan, &res);
	dmabufd_region_plan_destroy(plan);
	dmabufd_region_stats(sb->region, &after);
	res.largest_free_before = (uint64_t)before.largest_free_run * sb->caps.page_size;
	res.largest_free_after = (uint64_t)after.largest_free_run * sb->caps.page_size;
	log_info("%s: compaction: %llu of %llu moves, %llu bytes moved; largest free run %llu -> %llu bytes",
		 sb->caps.name, (unsigned long long)res.moves, (unsigned long long)res.planned_moves,
		 (unsigned long long)res.bytes_moved, (unsigned long long)res.largest_free_before,
		 (unsigned long long)res.largest_free_after);
	*ret = res;
	return err == -EBUSY ? 0 : err; /* busy buffers stay; the rest moved */
}

int server_compact(struct server *s, struct server_compact_result *ret)
{
	struct server_compact_result sum = { 0 };
	bool any = false;
	int err = 0;

	for (unsigned i = 0; i < s->nbackends && err == 0; i++) {
		struct server_compact_result r;

		if (!s->backends[i].backend->ops->migrate)
			continue;
		err = sb_compact(&s->backends[i], &r);
		if (err < 0)
			break;
		any = true;
		sum.planned_moves += r.planned_moves;
		sum.planned_bytes += r.planned_bytes;
		sum.moves += r.moves;
		sum.bytes_moved += r.bytes_moved;
		if (r.largest_free_before > sum.largest_free_before)
			sum.largest_free_before = r.largest_free_before;
		if (r.largest_free_after > sum.largest_free_after)
			sum.largest_free_after = r.largest_free_after;
	}
	if (err < 0)
		return err;
	if (!any)
		return -EOPNOTSUPP;
	s->counters.compactions++;
	*ret = sum;
	return 0;
}

/* Which attribute a request names, for reasons. */
/*
 * Routing (docs/BACKENDS.md "Several backends at once"): the
 * request's constraints against each active backend's caps, in probe order.
 * Free space is not looked at here: a backend that satisfies the request
 * but has no room is handled by the caller's fall-through.
 */
int server_route(const struct server *s, const struct route_request *req,
		 unsigned ret_idx[SERVER_MAX_BACKENDS], unsigned *ret_n, struct reason *ret_reason)
{
	const bool contiguous = req->flags & DMABUFD_ALLOC_CONTIGUOUS;
	unsigned idx[SERVER_MAX_BACKENDS], n = 0;
	bool any_attr = false, any_contig = false;

	for (unsigned i = 0; i < s->nbackends; i++) {
		const struct backend_caps *c = &s->backends[i].caps;
		const uint64_t page = c->page_size;
		uint64_t size;

		if (!(c->attributes & (1u << req->attribute)))
			continue;
		any_attr = true;
		if (contiguous && !c->contiguous)
			continue;
		any_contig = true;
		if (page == 0 || req->size > UINT64_MAX - (page - 1))
			continue;
		size = (req->size + page - 1) / page * page;
		if (size > c->region_size || req->alignment > c->region_size)
			continue;
		idx[n++] = i;
	}
	if (n) {
		memcpy(ret_idx, idx, n * sizeof(idx[0]));
		*ret_n = n;
		return 0;
	}
	if (s->nbackends == 1) { /* the wording a single backend always gave */
		const char *name = s->backends[0].caps.name;

		if (!any_attr)
			reasonf(ret_reason, "the %s backend cannot provide %s memory", name,
				attr_name(req->attribute));
		else if (!any_contig)
			reasonf(ret_reason, "the %s backend cannot provide physically contiguous memory%s",
				name, req->contiguous_from_device ?
					" (a named device has no IOMMU: no iommu_group)" : "");
		else
			reasonf(ret_reason, "%llu bytes do not fit in the %s backend's capacity",
				(unsigned long long)req->size, name);
		return any_contig ? -E2BIG : -EOPNOTSUPP;
	}
	if (!any_attr)
		reasonf(ret_reason, "no active backend can provide %s memory", attr_name(req->attribute));
	else if (!any_contig)
		reasonf(ret_reason, "no active backend that gives %s memory can provide physically contiguous memory%s",
			attr_name(req->attribute),
			req->contiguous_from_device ? " (a named device has no IOMMU: no iommu_group)" : "");
	else
		reasonf(ret_reason, "%llu bytes do not fit in any active backend that satisfies the request",
			(unsigned long long)req->size);
	return any_contig ? -E2BIG : -EOPNOTSUPP;
}

uint64_t server_page_size(const struct server *s)
{
	uint64_t page = s->backends[0].caps.page_size;

	for (unsigned i = 1; i < s->nbackends; i++)
		if (s->backends[i].caps.page_size < page)
			page = s->backends[i].caps.page_size;
	return page;
}

uint64_t server_capacity(const struct server *s)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < s->nbackends; i++)
		sum += s->backends[i].caps.region_size;
	return sum;
}

uint64_t sb_round(const struct server_backend *sb, uint64_t size)
{
	const uint64_t page = sb->caps.page_size;

	return (size + page - 1) / page * page;
}

uint64_t sb_used(const struct server_backend *sb, uint32_t *ret_buffers)
{
	struct server *s = sb->server;
	const struct buffer *b;
	uint64_t used = 0;
	uint32_t n = 0;

	if (s->nbackends == 1) {
		if (ret_buffers)
			*ret_buffers = (uint32_t)s->registry.count;
		return s->used;
	}
	TAILQ_FOREACH(b, &s->registry.order, order_link)
		if (buffer_home(s, b) == sb) {
			used += b->size;
			n++;
		}
	if (ret_buffers)
		*ret_buffers = n;
	return used;
}
