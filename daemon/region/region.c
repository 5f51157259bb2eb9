/* SPDX-License-Identifier: MIT */
/*
 * Region allocator and cache-attribute ledger: placement policy and the
 * public API. Design and bounds in region.h and docs/REGION.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "region_internal.h"

/* ---- placement search --------------------------------------------------- */

struct fitq {
	uint64_t need;  /* prune subtrees whose maxlen < need */
	uint32_t k, align;
	int budget;     /* < 0: unlimited */
	uint64_t limit; /* fit_high: the run must end at or below */
	const struct tnode *found;
};

/* Whether the first-fit descents look at @n: it exists, its subtree holds
 * a long enough node, and the budget of visits is not spent (one taken). */
static inline bool fit_enter(const struct tnode *n, struct fitq *q)
{
	if (!n || n->maxlen < q->need)
		return false;
	t_prefetch_kids(n);
	return !(q->budget >= 0 && q->budget-- == 0);
}

static bool fit_low(const struct tnode *n, struct fitq *q, uint32_t *pos)
{
	if (!fit_enter(n, q))
		return false;
	if (fit_low(n->l, q, pos))
		return true;
	if (n->len >= q->need) {
		uint64_t p = align_up(n->key, q->align);
		if (p + q->k <= (uint64_t)n->key + n->len) {
			*pos = (uint32_t)p;
			q->found = n;
			return true;
		}
	}
	return fit_low(n->r, q, pos);
}

static bool fit_high(const struct tnode *n, struct fitq *q, uint32_t *pos)
{
	if (!fit_enter(n, q))
		return false;
	if (n->key >= q->limit) /* this node and its right subtree lie above */
		return fit_high(n->l, q, pos);
	if (fit_high(n->r, q, pos))
		return true;
	if (n->len >= q->need) {
		uint64_t e = (uint64_t)n->key + n->len;
		if (e > q->limit)
			e = q->limit;
		uint64_t p = align_down(e - q->k, q->align);
		if (e >= q->k && p >= n->key) {
			*pos = (uint32_t)p;
			q->found = n;
			return true;
		}
	}
	return fit_high(n->l, q, pos);
}

/* Best fit among the first q->budget fitting nodes from the top: the
 * smallest node that fits (ties: the highest). Visits O(budget * log n). */
struct bestq {
	uint32_t k, align;
	uint64_t floor; /* candidates must start at or above */
	int cands, visits;
	const struct tnode *best;
	uint32_t best_pos;
};

static void fit_high_best(const struct tnode *n, struct bestq *q)
{
	if (!n || n->maxlen < q->k || q->cands <= 0 || q->visits-- <= 0)
		return;
	t_prefetch_kids(n);
	fit_high_best(n->r, q);
	if (q->cands <= 0)
		return;
	if (n->len >= q->k) {
		uint64_t e = (uint64_t)n->key + n->len;
		uint64_t p = align_down(e - q->k, q->align);
		if (p >= n->key && p >= q->floor) {
			q->cands--;
			if (!q->best || n->len < q->best->len) {
				q->best = n;
				q->best_pos = (uint32_t)p;
			}
		}
	}
	fit_high_best(n->l, q);
}

/* Fast O(log n) pass with npages + align - 1 (every candidate fits), then an
 * exact pass (budget < 0: unlimited). */
static bool search_below(const struct tnode *root, uint32_t k, uint32_t align, bool high,
			 int exact_budget, uint64_t limit, uint32_t *pos,
			 const struct tnode **ret_node)
{
	struct fitq q = {.need = (uint64_t)k + align - 1, .k = k, .align = align, .budget = -1,
			 .limit = limit};
	bool ok = false;

	if (q.need <= UINT32_MAX && (high ? fit_high(root, &q, pos) : fit_low(root, &q, pos)))
		ok = true;
	else if (align > 1 && exact_budget != 0) {
		q.need = k;
		q.budget = exact_budget;
		ok = high ? fit_high(root, &q, pos) : fit_low(root, &q, pos);
	}
	if (ok && ret_node)
		*ret_node = q.found;
	return ok;
}

/* Placement of k pages inside the maximal free run that holds the largest
 * free extent in @attr, overlapping that extent as much as the run allows. */
static bool largest_cover(const struct dmabufd_region *r, uint32_t k, uint32_t align,
			  enum dmabufd_attribute attr, uint32_t *ret_pos)
{
	const struct tnode *e = r->fa[attr];

	/* the lowest-addressed of the largest (independent of tree shape) */
	while (e) {
		if (t_maxlen(e->l) == e->maxlen)
			e = e->l;
		else if (e->len == e->maxlen)
			break;
		else
			e = e->r;
	}
	if (!e)
		return false;
	const struct tnode *run = treap_find_le(r->runs, e->key);
	if (!run || run->len < k)
		return false;
	uint64_t lo = run->key, hi = (uint64_t)run->key + run->len - k;
	uint64_t p = align_down(e->key < hi ? e->key : hi, align);
	if (p < lo)
		p = align_up(lo, align);
	if (p > hi)
		return false;
	*ret_pos = (uint32_t)p;
	return true;
}

static int place(const struct dmabufd_region *r, uint32_t k, uint32_t align,
		 enum dmabufd_attribute attr, bool movable, uint32_t *ret_pos, struct region_hint *h)
{
	const struct tnode *node = NULL;

	bool blind = r->flags & DMABUFD_REGION_ATTR_BLIND;
	bool sep = !(r->flags & DMABUFD_REGION_NO_KIND_SEPARATION);
	bool zones = !blind && !(r->flags & DMABUFD_REGION_NO_ATTR_ZONES);
	uint32_t pos, any;

	if (!movable && sep) {
		/* Pinned: as high as possible. A free extent already in the
		 * attribute is taken only if it is near the highest fit, so
		 * that pinned buffers do not pepper the movable part. */
		const struct tnode *any_node = NULL;
		if (!search_below(r->runs, k, align, true, -1, UINT64_MAX, &any, &any_node))
			return -ENOSPC;
		if (!blind && search_below(r->fa[attr], k, align, true, 64, UINT64_MAX, &pos, &node) &&
		    (uint64_t)pos + r->npages / 64 >= any) {
			*ret_pos = pos;
			h->extent = node;
			return 0;
		}
		/* among the few highest holes that fit, the tightest: pinned
		 * buffers are not moved by compaction, so slivers between
		 * them would be lost for good */
		struct bestq q = {.k = k, .align = align, .cands = 4, .visits = 32,
				  .floor = any > r->npages / 64 ? any - r->npages / 64 : 0};
		fit_high_best(r->runs, &q);
		*ret_pos = q.best ? q.best_pos : any;
		h->run = q.best ? q.best : any_node;
		return 0;
	}
	/* Movable: cached from the bottom up, write-combine and uncached from
	 * the top down (below the pinned ones), so that each attribute keeps
	 * its own part of the region and a freed buffer's pages are reused in
	 * the same attribute. */
	bool high = zones && movable && attr != DMABUFD_ATTR_CACHED;
	/* "the top" for them is the lowest pinned allocation: they must not
	 * take the holes between pinned buffers (nor leave holes there) */
	uint64_t floor = UINT64_MAX;
	if (high && sep && r->pinned)
		floor = r->pinned_min;
	if (!blind && search_below(r->fa[attr], k, align, high, 64, floor, &pos, &node)) {
		*ret_pos = pos;
		h->extent = node;
		return 0;
	}
	/* Then a free extent in the attribute above that floor (among or
	 * above pinned buffers): one that admits the request is no sliver,
	 * and without this step one pinned buffer placed low (e.g. below the
	 * write-combine frames while the region fills) would shut every
	 * extent above it out of reach for as long as it lives, so that each
	 * frame transitions pages below it instead (on the media mix of
	 * regionsim that was 95 % of all transitions). */
	if (!blind && floor != UINT64_MAX &&
	    search_below(r->fa[attr], k, align, high, 64, UINT64_MAX, &pos, &node)) {
		*ret_pos = pos;
		h->extent = node;
		return 0;
	}
	if (high && floor != UINT64_MAX &&
	    search_below(r->runs, k, align, true, -1, floor, &pos, &node)) {
		*ret_pos = pos;
		h->run = node;
		return 0;
	}
	/* No extent in the attribute fits: cover the largest one, extended
	 * into the free pages around it, so that only the difference is
	 * transitioned and the attribute's free pages are not split. */
	if (!blind && largest_cover(r, k, align, attr, &pos)) {
		*ret_pos = pos;
		return 0;
	}
	if (search_below(r->runs, k, align, high, -1, UINT64_MAX, &pos, &node)) {
		*ret_pos = pos;
		h->run = node;
		return 0;
	}
	return -ENOSPC;
}

int region_place(const struct dmabufd_region *r, uint32_t k, uint32_t align,
		 enum dmabufd_attribute attr, bool movable, uint32_t *ret_pos)
{
	struct region_hint h = {0};
	return place(r, k, align, attr, movable, ret_pos, &h);
}

/* ---- public ------------------------------------------------------------- */

static bool is_pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

bool region_valid_args(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
		       enum dmabufd_attribute attr)
{
	return npages >= 1 && npages <= r->npages && is_pow2(align) &&
	       align <= DMABUFD_REGION_MAX_ALIGN && (unsigned)attr < DMABUFD_REGION_N_ATTR;
}

struct dmabufd_region *region_new(uint32_t npages, uint32_t page_size, uint32_t flags,
					 uint32_t attr)
{
	struct dmabufd_region *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->npages = npages;
	r->page_size = page_size;
	r->flags = flags;
	r->initial_attr = attr;
	r->rng = 0x9e3779b97f4a7c15ull ^ npages;
	return r;
}

int dmabufd_region_create(uint32_t npages, const struct dmabufd_region_options *opts,
			  struct dmabufd_region **ret)
{
	struct dmabufd_region_options o = {0};

	if (opts)
		o = *opts;
	if (o.page_size == 0)
		o.page_size = 4096;
	if (npages == 0 || npages > DMABUFD_REGION_MAX_PAGES ||
	    o.initial_attribute >= DMABUFD_REGION_N_ATTR || !is_pow2(o.page_size) ||
	    (o.flags & ~DMABUFD_REGION_FLAGS_ALL))
		return -EINVAL;

	struct dmabufd_region *r = region_new(npages, o.page_size, o.flags, o.initial_attribute);
	if (!r)
		return -ENOMEM;
	if (region_spares(r, 1, 1) < 0) {
		dmabufd_region_destroy(r);
		return -ENOMEM;
	}
	struct seg *s = region_get_seg(r);
	s->t.key = 0;
	s->t.len = npages;
	s->state = DMABUFD_REGION_FREE;
	s->attr = (uint8_t)o.initial_attribute;
	segt_insert_after(r, NULL, s);
	r->head = s;
	fa_insert(r, s);
	struct run *n = region_get_run(r);
	n->t.key = 0;
	n->t.len = npages;
	treap_insert(&r->runs, &n->t);
	r->n_runs = 1;
	r->free_pages = npages;
	r->free_pages_attr[o.initial_attribute] = npages;
	*ret = r;
	return 0;
}

void dmabufd_region_destroy(struct dmabufd_region *r)
{
	if (!r)
		return;
	region_slab_finish(&r->segslab);
	region_slab_finish(&r->runslab);
	free(r->index.slot);
	free(r);
}

/* Makes [pos, pos+k) (free) one live allocation; @h as region_carve().
 * Reserves what it needs first: 0, or -ENOMEM with nothing changed. */
static int place_at(struct dmabufd_region *r, uint32_t pos, uint32_t k, uint32_t align,
		    enum dmabufd_attribute attr, bool movable, const struct region_hint *h)
{
	int ret = region_spares(r, 2, 1);

	if (ret == 0)
		ret = region_ix_reserve(r, (uint64_t)r->n_alloc + 1);
	if (ret < 0)
		return ret;
	region_make_used(r, region_carve(r, pos, k, h), k, attr, movable, align);
	return 0;
}

int dmabufd_region_alloc(struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			 enum dmabufd_attribute attribute, bool movable, uint32_t *ret_offset)
{
	uint32_t pos;
	int ret;

	if (!region_valid_args(r, npages, align_pages, attribute))
		return -EINVAL;
	struct region_hint h = {0};
	ret = place(r, npages, align_pages, attribute, movable, &pos, &h);
	if (ret < 0)
		return ret;
	ret = place_at(r, pos, npages, align_pages, attribute, movable, &h);
	if (ret < 0)
		return ret;
	*ret_offset = pos;
	return 0;
}

int dmabufd_region_find(const struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			enum dmabufd_attribute attribute, bool movable, uint32_t *ret_offset)
{
	struct region_hint h = {0};

	if (!region_valid_args(r, npages, align_pages, attribute))
		return -EINVAL;
	return place(r, npages, align_pages, attribute, movable, ret_offset, &h);
}

int dmabufd_region_claim(struct dmabufd_region *r, uint32_t offset, uint32_t npages,
			 uint32_t align_pages, enum dmabufd_attribute attribute, bool movable)
{
	if (!region_valid_args(r, npages, align_pages, attribute) ||
	    (offset & (align_pages - 1)) || (uint64_t)offset + npages > r->npages)
		return -EINVAL;
	if (!region_range_free(r, offset, npages))
		return -EBUSY;
	return place_at(r, offset, npages, align_pages, attribute, movable, NULL);
}

int dmabufd_region_unplace(struct dmabufd_region *r, uint32_t offset)
{
	struct seg *s = region_ix_find(&r->index, offset);
	int ret;

	if (!s)
		return -ENOENT;
	ret = region_spares(r, 0, 1);
	if (ret < 0)
		return ret;
	region_release(r, s);
	return 0;
}

int dmabufd_region_lookup(const struct dmabufd_region *r, uint32_t offset,
			  struct dmabufd_region_allocation *ret)
{
	const struct seg *s = region_ix_find(&r->index, offset);

	if (!s)
		return -ENOENT;
	if (ret) {
		*ret = (struct dmabufd_region_allocation){
			.offset = s->t.key,
			.npages = s->t.len,
			.align_pages = 1u << s->align_log2,
			.attribute = (enum dmabufd_attribute)s->attr,
			.movable = s->movable,
		};
	}
	return 0;
}

static void fill_extent(const struct seg *s, struct dmabufd_region_extent *e)
{
	*e = (struct dmabufd_region_extent){
		.offset = s->t.key,
		.npages = s->t.len,
		.attribute = (enum dmabufd_attribute)s->attr,
		.state = (enum dmabufd_region_state)s->state,
		.movable = s->movable,
		.align_pages = s->state == DMABUFD_REGION_USED ? 1u << s->align_log2 : 0,
	};
}

int dmabufd_region_extent_at(const struct dmabufd_region *r, uint32_t page,
			     struct dmabufd_region_extent *ret)
{
	if (page >= r->npages)
		return -EINVAL;
	fill_extent(region_seg_at(r, page), ret);
	return 0;
}

int dmabufd_region_reserve(struct dmabufd_region *r, uint32_t offset, uint32_t npages)
{
	int ret;

	if (npages == 0 || (uint64_t)offset + npages > r->npages)
		return -EINVAL;
	if (!region_range_free(r, offset, npages))
		return -EBUSY;
	ret = region_spares(r, 2, 1);
	if (ret < 0)
		return ret;
	struct seg *s = region_carve(r, offset, npages, NULL);
	uint64_t end = (uint64_t)offset + npages;
	for (; s && s->t.key < end; s = s->next) {
		s->state = DMABUFD_REGION_RESERVED;
		r->reserved_pages += s->t.len;
	}
	return 0;
}

int dmabufd_region_unreserve(struct dmabufd_region *r, uint32_t offset, uint32_t npages)
{
	uint64_t end = (uint64_t)offset + npages;
	struct seg *s;
	int ret;

	if (npages == 0 || end > r->npages)
		return -EINVAL;
	for (s = region_seg_at(r, offset); s && s->t.key < end; s = s->next)
		if (s->state != DMABUFD_REGION_RESERVED)
			return -EINVAL;
	ret = region_spares(r, 2, 1);
	if (ret < 0)
		return ret;
	s = region_seg_at(r, offset);
	if (s->t.key < offset)
		s = region_seg_split(r, s, offset);
	for (;;) {
		if (seg_end(s) > end)
			region_seg_split(r, s, (uint32_t)end);
		struct seg *nx = s->next;
		bool last = seg_end(s) == end;
		region_release(r, s);
		if (last)
			break;
		s = nx;
	}
	return 0;
}

void dmabufd_region_stats(const struct dmabufd_region *r, struct dmabufd_region_stats *ret)
{
	uint32_t largest = t_maxlen(r->runs);

	*ret = (struct dmabufd_region_stats){
		.npages = r->npages,
		.free_pages = r->free_pages,
		.largest_free_run = largest,
		.fragmentation_permille =
			r->free_pages ? (uint32_t)((uint64_t)(r->free_pages - largest) * 1000 /
						   r->free_pages)
				      : 0,
		.reserved_pages = r->reserved_pages,
		.n_free_extents = r->n_free_extents,
		.n_allocations = r->n_alloc,
		.n_pinned = r->n_pinned,
		.n_movable = r->n_movable,
		.pinned_pages = r->pinned_pages,
		.movable_pages = r->movable_pages,
		.transitions = r->transitions,
		.transition_events = r->transition_events,
		.moves = r->moves,
		.pages_moved = r->pages_moved,
	};
	memcpy(ret->used_pages, r->used_pages, sizeof(ret->used_pages));
	memcpy(ret->free_pages_attr, r->free_pages_attr, sizeof(ret->free_pages_attr));
}

int dmabufd_region_walk(const struct dmabufd_region *r,
			int (*cb)(const struct dmabufd_region_extent *e, void *userdata),
			void *userdata)
{
	for (const struct seg *s = r->head; s; s = s->next) {
		struct dmabufd_region_extent e;
		fill_extent(s, &e);
		int ret = cb(&e, userdata);
		if (ret)
			return ret;
	}
	return 0;
}

int dmabufd_region_apply_move(struct dmabufd_region *r, const struct dmabufd_region_move *m)
{
	struct seg *s = region_ix_find(&r->index, m->old_offset);
	int ret;

	if (!s)
		return -ENOENT;
	if (!s->movable)
		return -EPERM;
	uint32_t align = 1u << s->align_log2, k = s->t.len;
	uint64_t end = (uint64_t)m->new_offset + k;
	if (m->npages != k || (m->new_offset & (align - 1)) || end > r->npages)
		return -EINVAL;
	for (struct seg *d = region_seg_at(r, m->new_offset); d && d->t.key < end; d = d->next)
		if (d != s && d->state != DMABUFD_REGION_FREE)
			return -EBUSY;
	ret = region_spares(r, 2, 2); /* release may take a run, carve another */
	if (ret == 0)
		ret = region_ix_reserve(r, r->n_alloc);
	if (ret < 0)
		return ret;
	enum dmabufd_attribute attr = (enum dmabufd_attribute)s->attr;
	region_release(r, s);
	region_make_used(r, region_carve(r, m->new_offset, k, NULL), k, attr, true, align);
	r->moves++;
	r->pages_moved += k;
	return 0;
}

int dmabufd_region_apply_plan(struct dmabufd_region *r, const struct dmabufd_region_plan *p)
{
	for (size_t i = 0; i < p->n_moves; i++) {
		int ret = dmabufd_region_apply_move(r, &p->moves[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}
