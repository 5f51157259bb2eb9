/* SPDX-License-Identifier: MIT */
/*
 * Region allocator: clone (the planner validates its plans on one) and
 * audit of every invariant (tests and fuzzing).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macros.h"
#include "region_internal.h"

/* ---- clone (planner) ---------------------------------------------------- */

static int clone_runs(struct dmabufd_region *c, const struct tnode *n)
{
	for (; n; n = n->r) {
		int ret = clone_runs(c, n->l);
		if (ret < 0)
			return ret;
		if (region_spares(c, 0, 1) < 0)
			return -ENOMEM;
		struct run *x = region_get_run(c);
		x->t.key = n->key;
		x->t.len = n->len;
		treap_insert(&c->runs, &x->t);
	}
	return 0;
}

struct dmabufd_region *region_clone(const struct dmabufd_region *r)
{
	struct dmabufd_region *c = region_new(r->npages, r->page_size, r->flags, r->initial_attr);
	struct seg *tail = NULL;

	if (!c)
		return NULL;
	for (const struct seg *s = r->head; s; s = s->next) {
		if (region_spares(c, 1, 0) < 0)
			goto fail;
		struct seg *n = region_get_seg(c);
		n->t.key = s->t.key;
		n->t.len = s->t.len;
		n->state = s->state;
		n->attr = s->attr;
		n->movable = s->movable;
		n->align_log2 = s->align_log2;
		segt_insert_after(c, tail, n);
		if (s->state == DMABUFD_REGION_FREE ||
		    (s->state == DMABUFD_REGION_USED && !s->movable)) {
			n->f.key = n->t.key;
			n->f.len = n->t.len;
			if (s->state == DMABUFD_REGION_FREE)
				fat_insert(&c->fa[n->attr], &n->f);
			else
				pinned_insert(c, n);
		}
		if (tail)
			list_insert_after(tail, n);
		else
			c->head = n;
		tail = n;
	}
	if (clone_runs(c, r->runs) < 0 || region_ix_reserve(c, r->n_alloc) < 0)
		goto fail;
	c->free_pages = r->free_pages;
	c->reserved_pages = r->reserved_pages;
	c->n_free_extents = r->n_free_extents;
	c->n_runs = r->n_runs;
	c->n_alloc = r->n_alloc;
	c->n_pinned = r->n_pinned;
	c->n_movable = r->n_movable;
	c->pinned_pages = r->pinned_pages;
	c->pinned_min = r->pinned_min;
	c->movable_pages = r->movable_pages;
	memcpy(c->used_pages, r->used_pages, sizeof(c->used_pages));
	memcpy(c->free_pages_attr, r->free_pages_attr, sizeof(c->free_pages_attr));
	c->transitions = r->transitions;
	c->transition_events = r->transition_events;
	c->moves = r->moves;
	c->pages_moved = r->pages_moved;
	return c;
fail:
	dmabufd_region_destroy(c);
	return NULL;
}

/* ---- audit -------------------------------------------------------------- */

struct auditctx {
	char *buf;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static int bad(struct auditctx *a, const char *fmt, ...)
{
	if (a->buf && a->len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(a->buf, a->len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

/* Totals gathered by the walk over the segments, checked against the
 * counters and the trees afterwards. */
struct audit_sums {
	size_t nseg, nfree[DMABUFD_REGION_N_ATTR], nruns;
	uint64_t used[DMABUFD_REGION_N_ATTR], fpa[DMABUFD_REGION_N_ATTR];
	uint64_t freep, resv, pinp, movp, run_start, largest;
	uint32_t npin, nmov;
};

static bool linked_to(const struct tnode *n, const struct tnode *up, const struct tnode *root)
{
	return up ? up->l == n || up->r == n : root == n;
}

static int audit_free(struct auditctx *a, const struct dmabufd_region *r, const struct seg *s,
		      const struct seg *prev, struct audit_sums *v)
{
	bool was_free = prev && prev->state == DMABUFD_REGION_FREE;

	if (was_free && prev->attr == s->attr)
		return bad(a, "free extents %u and %u of one attribute not merged", prev->t.key,
			   s->t.key);
	if (s->f.key != s->t.key || s->f.len != s->t.len ||
	    treap_find_eq(r->fa[s->attr], s->t.key) != &s->f)
		return bad(a, "free extent %u: not indexed under its attribute", s->t.key);
	if (!linked_to(&s->f, s->fup, r->fa[s->attr]))
		return bad(a, "free extent %u: broken parent link", s->t.key);
	if ((s->f.l && seg_of_f(s->f.l)->fup != &s->f) || (s->f.r && seg_of_f(s->f.r)->fup != &s->f))
		return bad(a, "free extent %u: child's parent link broken", s->t.key);
	if (!was_free)
		v->run_start = s->t.key;
	v->nfree[s->attr]++;
	v->freep += s->t.len;
	v->fpa[s->attr] += s->t.len;
	return 0;
}

static int audit_used(struct auditctx *a, const struct dmabufd_region *r, const struct seg *s,
		      struct audit_sums *v)
{
	if (region_ix_find(&r->index, s->t.key) != s)
		return bad(a, "allocation %u: not in the offset index", s->t.key);
	if (s->t.key & ((1u << s->align_log2) - 1))
		return bad(a, "allocation %u: misaligned (align %u)", s->t.key, 1u << s->align_log2);
	v->used[s->attr] += s->t.len;
	if (s->movable) {
		v->nmov++;
		v->movp += s->t.len;
		return 0;
	}
	v->npin++;
	v->pinp += s->t.len;
	if (s->f.key != s->t.key || treap_find_eq(r->pinned, s->t.key) != &s->f)
		return bad(a, "pinned allocation %u: not indexed", s->t.key);
	return 0;
}

/* One segment: its links, its trees, its share of the totals; at the end
 * of a maximal free run, the run's node. */
static int audit_segment(struct auditctx *a, const struct dmabufd_region *r, const struct seg *s,
			 const struct seg *prev, uint64_t pos, struct audit_sums *v)
{
	int ret = 0;

	if (s->prev != prev)
		return bad(a, "segment %u: broken back link", s->t.key);
	if (s->t.key != pos || s->t.len == 0)
		return bad(a, "segment at %u len %u: expected start %" PRIu64, s->t.key, s->t.len,
			   pos);
	if (s->attr >= DMABUFD_REGION_N_ATTR || s->state > DMABUFD_REGION_RESERVED)
		return bad(a, "segment %u: bad attribute/state", s->t.key);
	if (treap_find_eq(r->segs, s->t.key) != &s->t)
		return bad(a, "segment %u: not indexed", s->t.key);
	if (!linked_to(&s->t, s->up, r->segs))
		return bad(a, "segment %u: broken parent link", s->t.key);
	if ((s->t.l && seg_of_t(s->t.l)->up != &s->t) || (s->t.r && seg_of_t(s->t.r)->up != &s->t))
		return bad(a, "segment %u: child's parent link broken", s->t.key);
	if (s->state == DMABUFD_REGION_FREE)
		ret = audit_free(a, r, s, prev, v);
	else if (s->state == DMABUFD_REGION_USED)
		ret = audit_used(a, r, s, v);
	else
		v->resv += s->t.len;
	if (ret < 0)
		return ret;
	if (s->state == DMABUFD_REGION_FREE &&
	    !(s->next && s->next->state == DMABUFD_REGION_FREE)) {
		uint64_t rl = seg_end(s) - v->run_start;
		const struct tnode *rn = treap_find_eq(r->runs, (uint32_t)v->run_start);
		if (!rn || rn->len != rl)
			return bad(a, "free run %" PRIu64 "+%" PRIu64 " not indexed", v->run_start,
				   rl);
		v->nruns++;
		if (rl > v->largest)
			v->largest = rl;
	}
	return 0;
}

/* The trees' shapes and sizes, the per-attribute totals. */
static int audit_trees(struct auditctx *a, const struct dmabufd_region *r,
		       const struct audit_sums *v, size_t *ret_total_free)
{
	size_t cnt = 0, total_free = 0;

	if (treap_check(r->segs, 0, UINT64_MAX, UINT32_MAX, false, &cnt) < 0 || cnt != v->nseg)
		return bad(a, "segment tree inconsistent (%zu nodes, %zu segments)", cnt, v->nseg);
	for (unsigned i = 0; i < DMABUFD_REGION_N_ATTR; i++) {
		cnt = 0;
		if (treap_check(r->fa[i], 0, UINT64_MAX, UINT32_MAX, true, &cnt) < 0 ||
		    cnt != v->nfree[i])
			return bad(a, "free tree of attribute %u inconsistent", i);
		total_free += cnt;
		if (v->fpa[i] != r->free_pages_attr[i] || v->used[i] != r->used_pages[i])
			return bad(a, "attribute %u totals: free %" PRIu64 "/%u used %" PRIu64
				      "/%u",
				   i, v->fpa[i], r->free_pages_attr[i], v->used[i], r->used_pages[i]);
	}
	cnt = 0;
	if (treap_check(r->pinned, 0, UINT64_MAX, UINT32_MAX, false, &cnt) < 0 || cnt != v->npin)
		return bad(a, "pinned tree inconsistent (%zu nodes, %u pinned)", cnt, v->npin);
	if (v->npin && r->pinned_min != region_pinned_leftmost(r))
		return bad(a, "lowest pinned allocation %u, expected %u", r->pinned_min,
			   region_pinned_leftmost(r));
	cnt = 0;
	if (treap_check(r->runs, 0, UINT64_MAX, UINT32_MAX, true, &cnt) < 0 || cnt != v->nruns ||
	    cnt != r->n_runs)
		return bad(a, "free-run tree inconsistent (%zu nodes, %zu runs)", cnt, v->nruns);
	if (t_maxlen(r->runs) != v->largest)
		return bad(a, "largest free run %u, expected %" PRIu64, t_maxlen(r->runs),
			   v->largest);
	*ret_total_free = total_free;
	return 0;
}

int dmabufd_region_audit(const struct dmabufd_region *r, char *buf, size_t len)
{
	struct auditctx a = {buf, len};
	struct audit_sums v = {0};
	const struct seg *prev = NULL;
	uint64_t pos = 0;
	size_t total_free = 0;
	int ret;

	if (buf && len)
		buf[0] = '\0';
	for (const struct seg *s = r->head; s; prev = s, s = s->next) {
		v.nseg++;
		ret = audit_segment(&a, r, s, prev, pos, &v);
		if (ret < 0)
			return ret;
		pos = seg_end(s);
	}
	if (pos != r->npages)
		return bad(&a, "segments cover %" PRIu64 " of %u pages", pos, r->npages);
	if (region_ix_check(&r->index) < 0 || r->index.n != r->n_alloc)
		return bad(&a, "offset index inconsistent (%u entries, %u allocations)", r->index.n,
			   r->n_alloc);
	ret = audit_trees(&a, r, &v, &total_free);
	if (ret < 0)
		return ret;
	if (total_free != r->n_free_extents || v.freep != r->free_pages ||
	    v.resv != r->reserved_pages || v.npin != r->n_pinned || v.nmov != r->n_movable ||
	    v.pinp != r->pinned_pages || v.movp != r->movable_pages || v.npin + v.nmov != r->n_alloc)
		return bad(&a, "counters do not add up");
	if (v.freep + v.resv + v.pinp + v.movp != r->npages ||
	    v.used[0] + v.used[1] + v.used[2] != v.pinp + v.movp)
		return bad(&a, "free + reserved + used != %u pages", r->npages);
	return 0;
}
