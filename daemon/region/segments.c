/* SPDX-License-Identifier: MIT */
/*
 * Segments of the region allocator: the partition of [0, npages) into live
 * allocations, reserved ranges and free extents of one attribute, kept in
 * address order in a list and a treap, with the free extents per attribute,
 * the maximal free runs and the pinned allocations in their own treaps.
 * Carving a placement out of them and releasing it back.
 */
#include <stddef.h>
#include <stdint.h>

#include "macros.h"
#include "region_internal.h"

static void fa_erase(struct dmabufd_region *r, struct seg *s)
{
	treap_link_erase(&r->fa[s->attr], &s->f, SEG_F_UP, true);
	r->n_free_extents--;
}

static void list_unlink(struct dmabufd_region *r, struct seg *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		r->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* Splits a FREE or RESERVED segment at @at (strictly inside); returns the
 * right part. Needs one spare seg. */
struct seg *region_seg_split(struct dmabufd_region *r, struct seg *s, uint32_t at)
{
	struct seg *n = region_get_seg(r);
	uint64_t e = seg_end(s);

	n->state = s->state;
	n->attr = s->attr;
	n->t.key = at;
	n->t.len = (uint32_t)(e - at);
	s->t.len = at - s->t.key;
	if (s->state == DMABUFD_REGION_FREE) {
		/* shrinks on the right: key unchanged, fix maxlen in place */
		s->f.len = s->t.len;
		fat_shrunk(&s->f);
		fa_insert(r, n);
	}
	segt_insert_after(r, s, n);
	list_insert_after(s, n);
	return n;
}

struct seg *region_seg_at(const struct dmabufd_region *r, uint32_t page)
{
	return seg_of_t(treap_find_le(r->segs, page));
}

/* True if [pos, pos+k) is entirely free (in one maximal free run). */
bool region_range_free(const struct dmabufd_region *r, uint32_t pos, uint32_t k)
{
	struct tnode *n = treap_find_le(r->runs, pos);

	return n && (uint64_t)n->key + n->len >= (uint64_t)pos + k;
}

/* The segment holding free page @pos of the free run that ends at @re.
 * Pinned allocations go to the top of a run: the live allocation starting
 * at @re (offset index, O(1) expected) and a few steps back along the list
 * usually find it; else a descent of the segment tree. */
static struct seg *seg_in_run(const struct dmabufd_region *r, uint32_t pos, uint64_t re)
{
	struct seg *s = re < r->npages ? region_ix_find(&r->index, (uint32_t)re) : NULL;

	for (unsigned i = 0; s && i < 4; i++) {
		s = s->prev;
		if (s->t.key <= pos)
			return s;
	}
	return region_seg_at(r, pos);
}

/* Takes the free range [pos, pos+k) out of the free indexes; returns its
 * first segment. The covered segments are left with state USED and the free
 * counters decremented; the caller finishes them. Needs 2 spare segs and 1
 * spare run. Keys are moved in place where the order allows it (a free
 * extent or run that loses its head keeps its node), which saves a delete
 * and an insert per tree on the common path. */
struct seg *region_carve(struct dmabufd_region *r, uint32_t pos, uint32_t k,
			 const struct region_hint *h)
{
	struct tnode *rn = h && h->run ? (struct tnode *)(uintptr_t)h->run
				       : treap_find_le(r->runs, pos);
	uint32_t ra = rn->key;
	uint64_t re = (uint64_t)rn->key + rn->len, end = (uint64_t)pos + k;

	if (ra == pos && re == end) {
		treap_erase(&r->runs, ra);
		r->n_runs--;
		region_put_run(r, container_of(rn, struct run, t));
	} else if (ra == pos) {
		rn->key = (uint32_t)end;
		rn->len = (uint32_t)(re - end);
		treap_shrunk(r->runs, rn);
	} else {
		rn->len = pos - ra;
		treap_shrunk(r->runs, rn);
		if (re > end) {
			struct run *n = region_get_run(r);
			n->t.key = (uint32_t)end;
			n->t.len = (uint32_t)(re - end);
			treap_insert(&r->runs, &n->t);
			r->n_runs++;
		}
	}

	struct seg *s = h && h->extent ? seg_of_f((struct tnode *)(uintptr_t)h->extent)
				       : seg_in_run(r, pos, re);
	struct seg *first = NULL;
	if (s->t.key < pos) {
		/* s keeps [a, pos); u = [pos, min(e, end)) is carved out */
		uint64_t e = seg_end(s);
		struct seg *u = region_get_seg(r);
		u->t.key = pos;
		u->t.len = (uint32_t)((e < end ? e : end) - pos);
		u->attr = s->attr;
		u->state = DMABUFD_REGION_USED;
		s->t.len = pos - s->t.key;
		s->f.len = s->t.len;
		fat_shrunk(&s->f);
		segt_insert_after(r, s, u);
		list_insert_after(s, u);
		r->free_pages -= u->t.len;
		r->free_pages_attr[u->attr] -= u->t.len;
		if (e > end) {
			struct seg *rest = region_get_seg(r);
			rest->t.key = (uint32_t)end;
			rest->t.len = (uint32_t)(e - end);
			rest->attr = u->attr;
			rest->state = DMABUFD_REGION_FREE;
			segt_insert_after(r, u, rest);
			list_insert_after(u, rest);
			fa_insert(r, rest);
		}
		if (e >= end)
			return u;
		first = u;
		s = u->next;
	}
	for (;;) {
		if (seg_end(s) > end) {
			/* a new node u takes [a, end); s keeps [end, e') in place */
			struct seg *u = region_get_seg(r);
			u->t.key = s->t.key;
			u->t.len = (uint32_t)(end - s->t.key);
			u->attr = s->attr;
			u->state = DMABUFD_REGION_USED;
			s->t.key = (uint32_t)end;
			s->t.len -= u->t.len;
			s->f.key = s->t.key;
			s->f.len = s->t.len;
			fat_shrunk(&s->f);
			segt_insert_after(r, s->prev, u);
			if (s->prev)
				list_insert_after(s->prev, u);
			else {
				u->next = s;
				s->prev = u;
				r->head = u;
			}
			r->free_pages -= u->t.len;
			r->free_pages_attr[u->attr] -= u->t.len;
			return first ? first : u;
		}
		fa_erase(r, s);
		r->free_pages -= s->t.len;
		r->free_pages_attr[s->attr] -= s->t.len;
		s->state = DMABUFD_REGION_USED;
		if (!first)
			first = s;
		if (seg_end(s) == end)
			return first;
		s = s->next;
	}
}

static unsigned log2u(uint32_t x)
{
	return 31u - (unsigned)__builtin_clz(x);
}

/* Turns the carved segments starting at @first into one allocation. */
void region_make_used(struct dmabufd_region *r, struct seg *first, uint32_t k,
		      enum dmabufd_attribute attr, bool movable, uint32_t align)
{
	uint64_t end = (uint64_t)first->t.key + k;
	struct seg *s, *nx;

	for (s = first; s && s->t.key < end; s = nx) {
		nx = s->next;
		if (s->attr != attr) {
			r->transitions += s->t.len;
			r->transition_events++;
		}
		if (s != first) {
			segt_erase(r, s);
			list_unlink(r, s);
			region_put_seg(r, s);
		}
	}
	first->t.len = k;
	first->attr = (uint8_t)attr;
	first->state = DMABUFD_REGION_USED;
	first->movable = movable;
	first->align_log2 = (uint8_t)log2u(align);
	region_ix_put(&r->index, first);
	r->n_alloc++;
	r->used_pages[attr] += k;
	if (movable) {
		r->n_movable++;
		r->movable_pages += k;
	} else {
		r->n_pinned++;
		r->pinned_pages += k;
		first->f.key = first->t.key;
		first->f.len = k;
		pinned_insert(r, first);
		if (r->n_pinned == 1 || first->f.key < r->pinned_min)
			r->pinned_min = first->f.key;
	}
}

/* The lowest pinned allocation's first page (0 if there is none). */
uint32_t region_pinned_leftmost(const struct dmabufd_region *r)
{
	const struct tnode *x = r->pinned;

	if (!x)
		return 0;
	while (x->l)
		x = x->l;
	return x->key;
}

/* Makes a USED or RESERVED segment free (keeping its attribute) and merges.
 * Needs 1 spare run. */
void region_release(struct dmabufd_region *r, struct seg *s)
{
	uint32_t a = s->t.key, len = s->t.len;
	uint64_t e = seg_end(s);

	if (s->state == DMABUFD_REGION_USED) {
		region_ix_erase(&r->index, s);
		r->n_alloc--;
		r->used_pages[s->attr] -= len;
		if (s->movable) {
			r->n_movable--;
			r->movable_pages -= len;
		} else {
			r->n_pinned--;
			r->pinned_pages -= len;
			treap_link_erase(&r->pinned, &s->f, TREAP_NO_UP, false);
			if (s->f.key == r->pinned_min)
				r->pinned_min = region_pinned_leftmost(r);
		}
	} else {
		r->reserved_pages -= len;
	}
	s->state = DMABUFD_REGION_FREE;
	s->movable = 0;
	s->align_log2 = 0;
	r->free_pages += len;
	r->free_pages_attr[s->attr] += len;

	/* maximal free runs */
	struct tnode *left = NULL, *right = NULL;
	if (s->prev && s->prev->state == DMABUFD_REGION_FREE)
		left = treap_find_le(r->runs, a - 1);
	if (s->next && s->next->state == DMABUFD_REGION_FREE)
		right = treap_find_eq(r->runs, (uint32_t)e);
	if (left && right) {
		treap_erase(&r->runs, right->key);
		r->n_runs--;
		left->len += len + right->len;
		treap_grow(r->runs, left->key, left->len);
		region_put_run(r, container_of(right, struct run, t));
	} else if (left) {
		left->len += len;
		treap_grow(r->runs, left->key, left->len);
	} else if (right) {
		/* grows to the left over [a, e): order preserved, key in place */
		right->key = a;
		right->len += len;
		treap_grow(r->runs, a, right->len);
	} else {
		struct run *n = region_get_run(r);
		n->t.key = a;
		n->t.len = len;
		treap_insert(&r->runs, &n->t);
		r->n_runs++;
	}

	/* free extents of one attribute */
	struct seg *p = s->prev, *n = s->next;
	bool merge_p = p && p->state == DMABUFD_REGION_FREE && p->attr == s->attr;
	bool merge_n = n && n->state == DMABUFD_REGION_FREE && n->attr == s->attr;
	if (merge_p) {
		p->t.len += s->t.len;
		segt_erase(r, s);
		list_unlink(r, s);
		region_put_seg(r, s);
		if (merge_n) {
			p->t.len += n->t.len;
			fa_erase(r, n);
			segt_erase(r, n);
			list_unlink(r, n);
			region_put_seg(r, n);
		}
		p->f.len = p->t.len;
		fat_grow(&p->f, p->f.len);
	} else if (merge_n) {
		/* n grows to the left over s: s leaves, n's key moves in place */
		uint32_t nk = s->t.key;
		n->t.len += s->t.len;
		segt_erase(r, s);
		list_unlink(r, s);
		region_put_seg(r, s);
		n->t.key = nk;
		n->f.key = nk;
		n->f.len = n->t.len;
		fat_grow(&n->f, n->f.len);
	} else {
		fa_insert(r, s);
	}
}
