/* SPDX-License-Identifier: MIT */
/*
 * Compaction planner. Plans are computed on a snapshot of the segments and
 * validated move by move on a clone of the region with
 * dmabufd_region_apply_move(), so every plan handed out is executable in
 * order. See region.h and docs/REGION.md ("Compaction").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "region_internal.h"

#define WINDOW_TRIES 32
#define BUBBLE_STEP_BUDGET (1u << 18) /* segments visited per plan_for */

struct sn {
	uint32_t off, len;
	uint8_t state, movable, align_log2, attr;
};

static inline uint64_t sn_end(const struct sn *s)
{
	return (uint64_t)s->off + s->len;
}

static inline bool sn_blocking(const struct sn *s)
{
	return s->state == DMABUFD_REGION_RESERVED ||
	       (s->state == DMABUFD_REGION_USED && !s->movable);
}

static struct sn *snapshot(const struct dmabufd_region *r, size_t *ret_m)
{
	size_t m = 0, i = 0;
	for (const struct seg *s = r->head; s; s = s->next)
		m++;
	struct sn *v = calloc(m, sizeof(*v));
	if (!v)
		return NULL;
	for (const struct seg *s = r->head; s; s = s->next, i++)
		v[i] = (struct sn){s->t.key, s->t.len, s->state, s->movable, s->align_log2, s->attr};
	*ret_m = m;
	return v;
}

/* A plan under construction, validated on a clone. */
struct builder {
	struct dmabufd_region *c;
	struct dmabufd_region_move *moves;
	size_t n, cap;
	uint64_t pages;
};

static int builder_init(struct builder *b, const struct dmabufd_region *r)
{
	*b = (struct builder){0};
	b->c = region_clone(r);
	return b->c ? 0 : -ENOMEM;
}

static void builder_finish(struct builder *b)
{
	dmabufd_region_destroy(b->c);
	free(b->moves);
	*b = (struct builder){0};
}

/* Applies a move to the clone and records it. -EUCLEAN/-EBUSY if invalid. */
static int builder_move(struct builder *b, uint32_t from, uint32_t to, uint32_t len)
{
	struct dmabufd_region_move mv = {from, to, len};
	int ret;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct dmabufd_region_move *x = realloc(b->moves, cap * sizeof(*x));
		if (!x)
			return -ENOMEM;
		b->moves = x;
		b->cap = cap;
	}
	ret = dmabufd_region_apply_move(b->c, &mv);
	if (ret < 0)
		return ret;
	b->moves[b->n++] = mv;
	b->pages += len;
	return 0;
}

static int builder_take(struct builder *b, const struct dmabufd_region *r, bool has_target,
			uint32_t target, struct dmabufd_region_plan **ret)
{
	struct dmabufd_region_plan *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->n_moves = b->n;
	p->moves = TAKE_PTR(b->moves);
	p->pages_moved = b->pages;
	p->bytes_moved = b->pages * r->page_size;
	p->has_target = has_target;
	p->target_offset = target;
	*ret = p;
	return 0;
}

void dmabufd_region_plan_destroy(struct dmabufd_region_plan *p)
{
	if (!p)
		return;
	free(p->moves);
	free(p);
}

/* ---- bubble: slide movables from a hole towards one end ----------------- */

struct bubble {
	bool found;
	bool up;
	size_t hole;   /* index of the starting segment */
	uint64_t cost; /* pages */
};

/* Simulates sliding from segment @h (down: the bubble rises; up: it sinks)
 * until a run admits (k, align). Returns cost or UINT64_MAX. If @b is not
 * NULL, emits the moves into it. */
static uint64_t bubble_run(const struct sn *v, size_t m, uint32_t npages_total, size_t h, bool up,
			   uint32_t k, uint32_t align, uint64_t best, unsigned *steps,
			   struct builder *b, int *err)
{
	uint64_t cost = 0;

	if (!up) {
		uint64_t cursor = v[h].off;
		for (size_t i = h;;) {
			if (steps && ++*steps > BUBBLE_STEP_BUDGET)
				return UINT64_MAX;
			while (i < m && v[i].state == DMABUFD_REGION_FREE)
				i++;
			uint64_t limit = i < m ? v[i].off : npages_total;
			if (align_up(cursor, align) + k <= limit)
				return cost;
			if (i == m)
				return UINT64_MAX;
			if (sn_blocking(&v[i])) {
				/* jump over a pinned/reserved segment; the pages
				 * below it stay a hole */
				cursor = sn_end(&v[i]);
				i++;
				continue;
			}
			uint32_t al = 1u << v[i].align_log2;
			uint64_t p = align_up(cursor, al);
			if (p < v[i].off) {
				cost += v[i].len;
				if (b && (*err = builder_move(b, v[i].off, (uint32_t)p, v[i].len)) < 0)
					return UINT64_MAX;
				cursor = p + v[i].len;
			} else {
				cursor = sn_end(&v[i]);
			}
			if (cost >= best)
				return UINT64_MAX;
			i++;
		}
	}
	uint64_t cursor = sn_end(&v[h]);
	for (size_t i = h + 1; i-- > 0;) {
		if (steps && ++*steps > BUBBLE_STEP_BUDGET)
			return UINT64_MAX;
		while (i != SIZE_MAX && v[i].state == DMABUFD_REGION_FREE)
			i--;
		uint64_t limit = i != SIZE_MAX ? sn_end(&v[i]) : 0;
		if (cursor >= k && align_down(cursor - k, align) >= limit)
			return cost;
		if (i == SIZE_MAX)
			return UINT64_MAX;
		if (sn_blocking(&v[i])) {
			cursor = v[i].off;
			continue;
		}
		uint32_t al = 1u << v[i].align_log2;
		uint64_t p = align_down(cursor - v[i].len, al);
		if (p > v[i].off) {
			cost += v[i].len;
			if (b && (*err = builder_move(b, v[i].off, (uint32_t)p, v[i].len)) < 0)
				return UINT64_MAX;
			cursor = p;
		} else {
			cursor = v[i].off;
		}
		if (cost >= best)
			return UINT64_MAX;
	}
	return UINT64_MAX;
}

static struct bubble best_bubble(const struct sn *v, size_t m, uint32_t n, uint32_t k,
				 uint32_t align)
{
	struct bubble best = {.cost = UINT64_MAX};
	unsigned steps = 0;

	for (int dir = 0; dir < 2; dir++) {
		for (size_t h = 0; h < m; h++) {
			if (v[h].state != DMABUFD_REGION_FREE)
				continue;
			/* start at the edge of a maximal free run */
			if (!dir && h > 0 && v[h - 1].state == DMABUFD_REGION_FREE)
				continue;
			if (dir && h + 1 < m && v[h + 1].state == DMABUFD_REGION_FREE)
				continue;
			uint64_t c = bubble_run(v, m, n, h, dir, k, align, best.cost, &steps, NULL,
						NULL);
			if (c < best.cost)
				best = (struct bubble){true, dir, h, c};
		}
	}
	return best;
}

/* ---- window eviction ---------------------------------------------------- */

struct cand {
	uint32_t s;
	uint64_t cost;
};

static int cand_cmp_low(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return x->s < y->s ? -1 : x->s > y->s;
}

static int cand_cmp_high(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return x->s > y->s ? -1 : x->s < y->s;
}

static int u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int sn_len_desc(const void *a, const void *b)
{
	const struct sn *x = a, *y = b;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Index of the segment containing @page. */
static size_t sn_find(const struct sn *v, size_t m, uint64_t page)
{
	size_t lo = 0, hi = m;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].off <= page)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Cheap pre-check before cloning: first-fit-decreasing of the window's
 * movables into the free runs outside it (alignment ignored). */
static bool window_ffd(const struct sn *v, size_t m, uint32_t s, uint32_t k, uint64_t *holes,
		       struct sn *ev)
{
	uint64_t e = (uint64_t)s + k;
	size_t nh = 0, ne = 0;

	for (size_t i = 0; i < m;) {
		if (v[i].state != DMABUFD_REGION_FREE) {
			if (v[i].state == DMABUFD_REGION_USED && v[i].movable && sn_end(&v[i]) > s &&
			    v[i].off < e)
				ev[ne++] = v[i];
			i++;
			continue;
		}
		uint64_t a = v[i].off, z;
		while (i < m && v[i].state == DMABUFD_REGION_FREE)
			i++;
		z = i < m ? v[i].off : sn_end(&v[m - 1]);
		if (a < s)
			holes[nh++] = (z < s ? z : s) - a;
		if (z > e)
			holes[nh++] = z - (a > e ? a : e);
	}
	qsort(ev, ne, sizeof(*ev), sn_len_desc);
	for (size_t i = 0; i < ne; i++) {
		size_t h = 0;
		while (h < nh && holes[h] < ev[i].len)
			h++;
		if (h == nh)
			return false;
		holes[h] -= ev[i].len;
	}
	return true;
}

/* Tries to evict the movables of window [s, s+k) into holes elsewhere.
 * 0 on success (moves in @b), -ENOSPC if they do not fit, <0 on error. */
static int try_window(const struct dmabufd_region *r, const struct sn *v, size_t m, uint32_t s,
		      uint32_t k, struct builder *b)
{
	uint64_t e = (uint64_t)s + k;
	size_t i0 = sn_find(v, m, s), j0 = sn_find(v, m, e - 1), ne = 0;
	struct sn *ev;
	int ret;

	ret = builder_init(b, r);
	if (ret < 0)
		return ret;
	ev = calloc(j0 - i0 + 1, sizeof(*ev));
	if (!ev) {
		builder_finish(b);
		return -ENOMEM;
	}
	for (size_t i = i0; i <= j0; i++) {
		uint64_t a = v[i].off > s ? v[i].off : s, z = sn_end(&v[i]) < e ? sn_end(&v[i]) : e;
		if (v[i].state == DMABUFD_REGION_FREE) {
			ret = dmabufd_region_reserve(b->c, (uint32_t)a, (uint32_t)(z - a));
			if (ret < 0)
				goto out;
		} else if (v[i].state == DMABUFD_REGION_USED && v[i].movable) {
			ev[ne++] = v[i];
		}
	}
	qsort(ev, ne, sizeof(*ev), sn_len_desc);
	for (size_t i = 0; i < ne; i++) {
		uint32_t p;
		ret = region_place(b->c, ev[i].len, 1u << ev[i].align_log2,
				   (enum dmabufd_attribute)ev[i].attr, true, &p);
		if (ret < 0)
			goto out;
		ret = builder_move(b, ev[i].off, p, ev[i].len);
		if (ret < 0)
			goto out;
		uint64_t a = ev[i].off > s ? ev[i].off : s;
		uint64_t z = sn_end(&ev[i]) < e ? sn_end(&ev[i]) : e;
		ret = dmabufd_region_reserve(b->c, (uint32_t)a, (uint32_t)(z - a));
		if (ret < 0)
			goto out;
	}
	ret = dmabufd_region_unreserve(b->c, s, k);
out:
	free(ev);
	if (ret < 0)
		builder_finish(b);
	return ret;
}

/* ---- public ------------------------------------------------------------- */

static int empty_plan(const struct dmabufd_region *r, bool has_target, uint32_t target,
		      struct dmabufd_region_plan **ret)
{
	struct builder b = {0};
	return builder_take(&b, r, has_target, target, ret);
}

/* Window eviction candidates: the starts where the cost (movable pages in
 * the window) can change, the windows without a blocking segment whose
 * cost is below @best, sorted (lowest first for a movable request, else
 * highest). 0 or -ENOMEM. */
static int window_cands(const struct dmabufd_region *r, const struct sn *v, size_t m,
			uint32_t npages, uint32_t align, bool movable, uint64_t best,
			struct cand **ret_cands, size_t *ret_n)
{
	uint32_t *starts = calloc(2 * m + 1, sizeof(*starts));
	uint64_t *mov = calloc(m + 1, sizeof(*mov));
	uint32_t *blk = calloc(m + 1, sizeof(*blk));
	struct cand *cands = NULL;
	size_t nc = 0, ncand = 0;

	if (!starts || !mov || !blk)
		goto out;
	for (size_t i = 0; i < m; i++) {
		mov[i + 1] = mov[i] + (v[i].state == DMABUFD_REGION_USED && v[i].movable ? v[i].len : 0);
		blk[i + 1] = blk[i] + sn_blocking(&v[i]);
	}
	starts[nc++] = 0;
	for (size_t i = 0; i < m; i++) {
		uint64_t c1 = align_up(sn_end(&v[i]), align);
		uint64_t c2 = (uint64_t)v[i].off + 1 >= npages ? align_up(v[i].off + 1 - npages, align)
							      : 0;
		if (c1 + npages <= r->npages)
			starts[nc++] = (uint32_t)c1;
		if (c2 + npages <= r->npages)
			starts[nc++] = (uint32_t)c2;
	}
	qsort(starts, nc, sizeof(*starts), u32cmp);
	cands = calloc(nc ? nc : 1, sizeof(*cands));
	if (!cands)
		goto out;
	for (size_t i = 0; i < nc; i++) {
		if (i && starts[i] == starts[i - 1])
			continue;
		uint32_t s = starts[i];
		size_t i0 = sn_find(v, m, s), j0 = sn_find(v, m, (uint64_t)s + npages - 1);
		if (blk[j0 + 1] - blk[i0])
			continue;
		uint64_t c = mov[j0 + 1] - mov[i0];
		if (c < best)
			cands[ncand++] = (struct cand){s, c};
	}
	qsort(cands, ncand, sizeof(*cands), movable ? cand_cmp_low : cand_cmp_high);
	*ret_cands = cands;
	*ret_n = ncand;
out:
	free(starts);
	free(mov);
	free(blk);
	return cands ? 0 : -ENOMEM;
}

/* Tries the cheapest WINDOW_TRIES candidate windows that first-fit
 * decreasing can empty; on success @wb holds the plan (its cost below
 * *@best, which is updated). 0 (whether or not a window worked) or a
 * negative errno. */
static int plan_windows(const struct dmabufd_region *r, const struct sn *v, size_t m,
			uint32_t npages, const struct cand *cands, size_t ncand, uint64_t *best,
			struct builder *wb)
{
	uint64_t *holes = calloc(m + 2, sizeof(*holes));
	struct sn *ev = calloc(m + 1, sizeof(*ev));
	int ret = 0;

	if (!holes || !ev) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, tries = 0; i < ncand && tries < WINDOW_TRIES && cands[i].cost < *best;
	     i++) {
		if (!window_ffd(v, m, cands[i].s, npages, holes, ev))
			continue;
		tries++;
		ret = try_window(r, v, m, cands[i].s, npages, wb);
		if (ret == 0) {
			*best = wb->pages;
			break;
		}
		if (ret != -ENOSPC && ret != -EBUSY)
			goto out;
		ret = 0;
	}
out:
	free(holes);
	free(ev);
	return ret;
}

int dmabufd_region_plan_for(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
			    enum dmabufd_attribute attr, bool movable,
			    struct dmabufd_region_plan **ret_plan)
{
	struct builder b = {0}, wb = {0};
	struct cand *cands = NULL;
	size_t m = 0, ncand = 0;
	struct sn *v = NULL;
	uint32_t pos;
	int ret, err = 0;

	if (!region_valid_args(r, npages, align, attr))
		return -EINVAL;
	if (region_place(r, npages, align, attr, movable, &pos) == 0)
		return empty_plan(r, true, pos, ret_plan);
	if (r->free_pages < npages)
		return -ENOSPC;
	v = snapshot(r, &m);
	if (!v)
		return -ENOMEM;

	/* (b) cheapest bubble, both directions, from every hole */
	struct bubble bb = best_bubble(v, m, r->npages, npages, align);
	uint64_t best = bb.found ? bb.cost : UINT64_MAX;

	/* (a) window eviction, if cheaper */
	ret = window_cands(r, v, m, npages, align, movable, best, &cands, &ncand);
	if (ret == 0)
		ret = plan_windows(r, v, m, npages, cands, ncand, &best, &wb);
	if (ret < 0)
		goto out;

	if (wb.c) {
		b = wb;
		wb = (struct builder){0};
	} else if (bb.found) {
		ret = builder_init(&b, r);
		if (ret < 0)
			goto out;
		(void)bubble_run(v, m, r->npages, bb.hole, bb.up, npages, align, UINT64_MAX, NULL, &b,
				 &err);
		if (err < 0) {
			ret = err == -ENOMEM ? -ENOMEM : -ENOSPC;
			goto out;
		}
	} else {
		ret = -ENOSPC;
		goto out;
	}
	/* The plan is only good if the request now fits under the normal policy. */
	ret = region_place(b.c, npages, align, attr, movable, &pos);
	if (ret < 0)
		goto out;
	ret = builder_take(&b, r, true, pos, ret_plan);
out:
	builder_finish(&b);
	builder_finish(&wb);
	free(cands);
	free(v);
	return ret;
}

int dmabufd_region_plan_compact(const struct dmabufd_region *r, struct dmabufd_region_plan **ret)
{
	struct builder b;
	size_t m;
	struct sn *v;
	uint64_t cursor = 0;
	int err;

	v = snapshot(r, &m);
	if (!v)
		return -ENOMEM;
	err = builder_init(&b, r);
	if (err < 0)
		goto out;
	/* Lisp-2 sliding: movables keep their order; the cursor never passes a
	 * pinned allocation or a reserved page, so each destination is free
	 * apart from the allocation's own old pages. */
	for (size_t i = 0; i < m; i++) {
		if (v[i].state == DMABUFD_REGION_FREE)
			continue;
		if (sn_blocking(&v[i])) {
			if (sn_end(&v[i]) > cursor)
				cursor = sn_end(&v[i]);
			continue;
		}
		uint64_t p = align_up(cursor, 1u << v[i].align_log2);
		if (p < v[i].off) {
			err = builder_move(&b, v[i].off, (uint32_t)p, v[i].len);
			if (err < 0)
				goto out;
			cursor = p + v[i].len;
		} else {
			cursor = sn_end(&v[i]);
		}
	}
	err = builder_take(&b, r, false, 0, ret);
out:
	builder_finish(&b);
	free(v);
	return err;
}
