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

#include "log.h"
#include "server.h"

static uint32_t to_pages(const struct server *s, uint64_t bytes)
{
	return (uint32_t)(bytes / s->caps.page_size);
}

int server_region_init(struct server *s)
{
	struct dmabufd_region_options opts = {
		.initial_attribute = DMABUFD_ATTR_CACHED,
		.page_size = s->caps.page_size,
	};
	uint64_t npages = s->caps.region_size / s->caps.page_size;

	if (npages == 0 || npages > DMABUFD_REGION_MAX_PAGES)
		return -EINVAL;
	return dmabufd_region_create((uint32_t)npages, &opts, &s->region);
}

/* Buffers sorted by offset, to find the owner of a planned move. */
static int cmp_offset(const void *a, const void *b)
{
	const struct buffer *x = *(struct buffer *const *)a, *y = *(struct buffer *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static struct buffer *find_at(struct buffer **sorted, size_t n, uint64_t offset)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid]->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sorted[lo]->offset == offset ? sorted[lo] : NULL;
}

/*
 * Runs @plan: for each move, the backend relocates the buffer, then the
 * allocator commits it. Stops at the first failure (earlier moves stay
 * done: each left the region consistent).
 */
static int execute_plan(struct server *s, const struct dmabufd_region_plan *plan,
			struct server_compact_result *res)
{
	const uint64_t page = s->caps.page_size;
	struct buffer **sorted, *b;
	size_t n = 0;
	int err = 0;

	if (plan->n_moves == 0)
		return 0;
	if (!s->backend->ops->migrate)
		return -EOPNOTSUPP;
	sorted = malloc(sizeof(*sorted) * (s->registry.count ? s->registry.count : 1));
	if (!sorted)
		return -ENOMEM;
	TAILQ_FOREACH(b, &s->registry.order, order_link)
		sorted[n++] = b;
	qsort(sorted, n, sizeof(*sorted), cmp_offset);

	for (size_t i = 0; i < plan->n_moves; i++) {
		const struct dmabufd_region_move *m = &plan->moves[i];

		b = find_at(sorted, n, (uint64_t)m->old_offset * page);
		if (!b && s->caps.deferred_release) {
			/* released, waiting for the backend's release event */
			err = -EBUSY;
			break;
		}
		if (!b) {
			err = -EUCLEAN; /* the registry and the region disagree */
			log_error("compaction: no buffer at page %u", m->old_offset);
			break;
		}
		err = s->backend->ops->migrate(s->backend, b, (uint64_t)m->new_offset * page);
		if (err < 0) {
			log_info("compaction: buffer %llu could not move: %s",
				 (unsigned long long)b->id, strerror(-err));
			break;
		}
		err = dmabufd_region_apply_move(s->region, m);
		if (err < 0) {
			log_error("compaction: region refused a move the backend made: %s",
				  strerror(-err));
			break;
		}
		b->offset = (uint64_t)m->new_offset * page;
		/* Keep @sorted ordered: the moved entry may now sit elsewhere. */
		qsort(sorted, n, sizeof(*sorted), cmp_offset);
		res->moves++;
		res->bytes_moved += (uint64_t)m->npages * page;
	}
	s->counters.compaction_moves += res->moves;
	s->counters.compaction_bytes += res->bytes_moved;
	free(sorted);
	return err;
}

int server_place(struct server *s, uint64_t size, uint64_t alignment,
		 enum dmabufd_attribute attribute, bool movable, uint64_t *ret_offset)
{
	const uint32_t npages = to_pages(s, size);
	const uint32_t align = alignment ? to_pages(s, alignment) : 1;
	struct dmabufd_region_plan *plan = NULL;
	struct server_compact_result res = { 0 };
	uint32_t off;
	int err;

	err = dmabufd_region_alloc(s->region, npages, align, attribute, movable, &off);
	if (err == -ENOSPC && s->backend->ops->migrate &&
	    dmabufd_region_plan_for(s->region, npages, align, attribute, movable, &plan) == 0) {
		/* Fragmented: move movable buffers to open a hole (DESIGN.md). */
		err = execute_plan(s, plan, &res);
		log_info("compaction for %u pages: %llu moves, %llu bytes moved%s", npages,
			 (unsigned long long)res.moves, (unsigned long long)res.bytes_moved,
			 err < 0 ? " (incomplete)" : "");
		dmabufd_region_plan_free(plan);
		err = dmabufd_region_alloc(s->region, npages, align, attribute, movable, &off);
	}
	if (err < 0)
		return err;
	*ret_offset = (uint64_t)off * s->caps.page_size;
	return 0;
}

void server_unplace(struct server *s, uint64_t offset)
{
	int err = dmabufd_region_free(s->region, to_pages(s, offset));

	if (err < 0)
		log_error("region: no allocation at byte offset %llu: %s",
			  (unsigned long long)offset, strerror(-err));
}

int server_place_restored(struct server *s, struct buffer *b)
{
	const bool movable = b->flags & DMABUFD_ALLOC_MOVABLE;
	int err;

	if (b->offset % s->caps.page_size == 0 && b->size <= s->caps.region_size &&
	    b->offset <= s->caps.region_size - b->size &&
	    dmabufd_region_claim(s->region, to_pages(s, b->offset), to_pages(s, b->size), 1,
				 b->attribute, movable) == 0)
		return 0;
	/* The recorded place is gone or invalid: a memfd can live anywhere. */
	if (s->caps.contiguous)
		return -EBUSY;
	err = server_place(s, b->size, 0, b->attribute, movable, &b->offset);
	return err;
}

int server_compact(struct server *s, struct server_compact_result *ret)
{
	struct dmabufd_region_plan *plan = NULL;
	struct server_compact_result res = { 0 };
	struct dmabufd_region_stats before, after;
	int err;

	if (!s->backend->ops->migrate)
		return -EOPNOTSUPP;
	dmabufd_region_stats(s->region, &before);
	err = dmabufd_region_plan_compact(s->region, &plan);
	if (err < 0)
		return err;
	res.planned_moves = plan->n_moves;
	res.planned_bytes = plan->bytes_moved;
	err = execute_plan(s, plan, &res);
	dmabufd_region_plan_free(plan);
	dmabufd_region_stats(s->region, &after);
	res.largest_free_before = (uint64_t)before.largest_free_run * s->caps.page_size;
	res.largest_free_after = (uint64_t)after.largest_free_run * s->caps.page_size;
	s->counters.compactions++;
	log_info("compaction: %llu of %llu moves, %llu bytes moved; largest free run %llu -> %llu bytes",
		 (unsigned long long)res.moves, (unsigned long long)res.planned_moves,
		 (unsigned long long)res.bytes_moved, (unsigned long long)res.largest_free_before,
		 (unsigned long long)res.largest_free_after);
	*ret = res;
	return err == -EBUSY ? 0 : err; /* busy buffers stay; the rest moved */
}
