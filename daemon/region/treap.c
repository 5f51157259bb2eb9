/* SPDX-License-Identifier: MIT */
/*
 * Intrusive treaps of the region allocator: one implementation for every
 * tree, parameterised by augmentation and parent links (treap.h).
 */
#include <stddef.h>

#include "treap.h"

/* Deepest path the iterative descents record; deeper (never seen: the
 * expected depth is ~2 ln n) falls back to recursion. */
#define PATH_MAX_DEPTH 192

static inline struct tnode **up_of(struct tnode *n, ptrdiff_t up)
{
	return (struct tnode **)(void *)((char *)n + up);
}

/* Recomputes maxlen from @x towards the root (along @path[0..n) backwards,
 * or the parent links at @up from @x) and stops at the first node whose
 * maxlen is unchanged: the ones above cannot change then. */
static void fix_path(struct tnode **path, unsigned n)
{
	while (n > 0) {
		struct tnode *x = path[--n];
		uint32_t old = x->maxlen;
		t_update(x);
		if (x->maxlen == old)
			break;
	}
}

void treap_link_fix(struct tnode *x, ptrdiff_t up)
{
	for (; x; x = *up_of(x, up)) {
		uint32_t old = x->maxlen;
		t_update(x);
		if (x->maxlen == old)
			break;
	}
}

void treap_link_grow(struct tnode *x, uint32_t len, ptrdiff_t up)
{
	for (; x && x->maxlen < len; x = *up_of(x, up))
		x->maxlen = len;
}

/* Where @n goes by priority: the link to the first node of lower priority.
 * On the way down an ancestor's maxlen can only grow to n->len (if @aug; no
 * need to read its children). */
static struct tnode **insert_point(struct tnode **root, const struct tnode *n, bool aug,
				   struct tnode **ret_parent)
{
	struct tnode **at = root, *parent = NULL;

	while (*at && (*at)->prio >= n->prio) {
		struct tnode *t = *at;
		t_prefetch_kids(t);
		if (aug && t->maxlen < n->len)
			t->maxlen = n->len;
		parent = t;
		at = n->key < t->key ? &t->l : &t->r;
	}
	*ret_parent = parent;
	return at;
}

struct tnode *treap_find_le(struct tnode *n, uint32_t key)
{
	struct tnode *best = NULL;

	while (n) {
		t_prefetch_kids(n);
		if (n->key <= key) {
			best = n;
			n = n->r;
		} else {
			n = n->l;
		}
	}
	return best;
}

struct tnode *treap_find_eq(struct tnode *n, uint32_t key)
{
	while (n && n->key != key) {
		t_prefetch_kids(n);
		n = key < n->key ? n->l : n->r;
	}
	return n;
}

/* ---- augmented, no parent links: recursive split/merge ------------------ */

static void split_aug(struct tnode *t, uint32_t key, struct tnode **a, struct tnode **b)
{
	if (!t) {
		*a = *b = NULL;
		return;
	}
	if (t->key < key) {
		split_aug(t->r, key, &t->r, b);
		*a = t;
	} else {
		split_aug(t->l, key, a, &t->l);
		*b = t;
	}
	t_update(t);
}

static struct tnode *merge_aug(struct tnode *a, struct tnode *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = merge_aug(a->r, b);
		t_update(a);
		return a;
	}
	b->l = merge_aug(a, b->l);
	t_update(b);
	return b;
}

/* Only the nodes split below the insertion point are recomputed. */
void treap_insert(struct tnode **root, struct tnode *n)
{
	struct tnode *parent, **at = insert_point(root, n, true, &parent);

	split_aug(*at, n->key, &n->l, &n->r);
	t_update(n);
	*at = n;
}

static void erase_rec(struct tnode **root, uint32_t key)
{
	struct tnode *t = *root;

	if (!t)
		return;
	if (t->key == key) {
		*root = merge_aug(t->l, t->r);
		return;
	}
	erase_rec(key < t->key ? &t->l : &t->r, key);
	t_update(t);
}

/* Merges the node's children in its place, then recomputes maxlen on its
 * path bottom-up until unchanged. */
void treap_erase(struct tnode **root, uint32_t key)
{
	struct tnode *path[PATH_MAX_DEPTH];
	struct tnode **at = root;
	unsigned n = 0;

	while (*at && (*at)->key != key) {
		if (n == PATH_MAX_DEPTH) {
			erase_rec(root, key); /* nothing changed yet */
			return;
		}
		path[n++] = *at;
		t_prefetch_kids(*at);
		at = key < (*at)->key ? &(*at)->l : &(*at)->r;
	}
	if (!*at)
		return;
	*at = merge_aug((*at)->l, (*at)->r);
	fix_path(path, n);
}

static void touch_rec(struct tnode *t, uint32_t key)
{
	if (!t)
		return;
	if (key < t->key)
		touch_rec(t->l, key);
	else if (key > t->key)
		touch_rec(t->r, key);
	t_update(t);
}

/* Recomputes maxlen on the path to @key after its len shrank. */
static void touch(struct tnode *t, uint32_t key)
{
	struct tnode *path[PATH_MAX_DEPTH];
	unsigned n = 0;

	for (; t; t = key < t->key ? t->l : t->r) {
		if (n == PATH_MAX_DEPTH) {
			touch_rec(path[0], key);
			return;
		}
		path[n++] = t;
		t_prefetch_kids(t);
		if (key == t->key)
			break;
	}
	fix_path(path, n);
}

/* If @x's own maxlen, recomputed from its children, is unchanged, no
 * ancestor's can change and nothing else is read. */
void treap_shrunk(struct tnode *root, struct tnode *x)
{
	uint32_t old = x->maxlen;

	t_update(x);
	if (x->maxlen != old) {
		x->maxlen = old; /* so that touch() sees the change at x */
		touch(root, x->key);
	}
}

void treap_grow(struct tnode *t, uint32_t key, uint32_t len)
{
	while (t) {
		t_prefetch_kids(t);
		if (t->maxlen < len)
			t->maxlen = len;
		if (key == t->key)
			return;
		t = key < t->key ? t->l : t->r;
	}
}

/* ---- iterative split/merge, optional parent links and maxima ------------ */

/* Recomputes maxlen from @t up to (not including) @stop. */
static void update_chain(struct tnode *t, struct tnode *stop, ptrdiff_t up)
{
	for (; t != stop; t = *up_of(t, up))
		t_update(t);
}

/* Splits @t at n->key into n->l (keys below) and n->r, top-down, giving
 * every node its new parent (if @up); returns the deepest node of each side
 * (n if that side is empty), from which the maxima are recomputed. */
static void split_walk(struct tnode *t, struct tnode *n, ptrdiff_t up, struct tnode **ret_pa,
		       struct tnode **ret_pb)
{
	struct tnode **a = &n->l, **b = &n->r, *pa = n, *pb = n;

	while (t) {
		if (t->key < n->key) {
			*a = t;
			if (up)
				*up_of(t, up) = pa;
			pa = t;
			a = &t->r;
			t = t->r;
		} else {
			*b = t;
			if (up)
				*up_of(t, up) = pb;
			pb = t;
			b = &t->l;
			t = t->l;
		}
	}
	*a = *b = NULL;
	*ret_pa = pa;
	*ret_pb = pb;
}

void treap_link_insert(struct tnode **root, struct tnode *n, ptrdiff_t up, bool aug)
{
	struct tnode *parent, *pa, *pb, **at = insert_point(root, n, aug, &parent);

	split_walk(*at, n, up, &pa, &pb);
	if (aug) {
		update_chain(pa, n, up);
		update_chain(pb, n, up);
		t_update(n);
	}
	if (up)
		*up_of(n, up) = parent;
	*at = n;
}

/* Merges @a (keys below) and @b into *@slot, top-down, giving every node
 * its new parent (if @up; the first one @parent); returns the deepest node
 * merged (@parent if none). */
static struct tnode *merge_walk(struct tnode **slot, struct tnode *a, struct tnode *b,
				struct tnode *parent, ptrdiff_t up)
{
	struct tnode *t;

	while (a && b) {
		t = a->prio > b->prio ? a : b;
		*slot = t;
		if (up)
			*up_of(t, up) = parent;
		parent = t;
		if (t == a) {
			slot = &a->r;
			a = a->r;
		} else {
			slot = &b->l;
			b = b->l;
		}
	}
	t = a ? a : b;
	*slot = t;
	if (t && up)
		*up_of(t, up) = parent;
	return parent;
}

/* The merged nodes' maxima are recomputed, then the ancestors' until one is
 * unchanged. Without parent links the slot of @x is found by a descent. */
void treap_link_erase(struct tnode **root, struct tnode *x, ptrdiff_t up, bool aug)
{
	struct tnode *parent = up ? *up_of(x, up) : NULL, **slot = root, *last;

	if (parent)
		slot = parent->l == x ? &parent->l : &parent->r;
	else if (!up)
		while (*slot != x) {
			t_prefetch_kids(*slot);
			slot = x->key < (*slot)->key ? &(*slot)->l : &(*slot)->r;
		}
	last = merge_walk(slot, x->l, x->r, parent, up);
	if (aug) {
		update_chain(last, parent, up);
		treap_link_fix(parent, up);
	}
}

/* ---- rotations, parent links, not augmented ------------------------------ */

/* Rotates @x above its parent. */
static void rotate_up(struct tnode **root, struct tnode *x, ptrdiff_t up)
{
	struct tnode *p = *up_of(x, up), *g = *up_of(p, up);

	if (p->l == x) {
		p->l = x->r;
		if (x->r)
			*up_of(x->r, up) = p;
		x->r = p;
	} else {
		p->r = x->l;
		if (x->l)
			*up_of(x->l, up) = p;
		x->l = p;
	}
	*up_of(p, up) = x;
	*up_of(x, up) = g;
	if (!g)
		*root = x;
	else if (g->l == p)
		g->l = x;
	else
		g->r = x;
}

/* @n hangs as @prev's right child if it has none, else as the left child of
 * @succ (then the leftmost node of prev's right subtree, or of the tree). */
void treap_rot_insert(struct tnode **root, struct tnode *n, struct tnode *prev,
		      struct tnode *succ, ptrdiff_t up)
{
	n->l = n->r = NULL;
	if (prev && !prev->r) {
		prev->r = n;
		*up_of(n, up) = prev;
	} else if (succ) {
		succ->l = n;
		*up_of(n, up) = succ;
	} else {
		*root = n;
		*up_of(n, up) = NULL;
		return;
	}
	while (*up_of(n, up) && (*up_of(n, up))->prio < n->prio)
		rotate_up(root, n, up);
}

void treap_rot_erase(struct tnode **root, struct tnode *x, ptrdiff_t up)
{
	struct tnode *c, *p;

	while (x->l && x->r)
		rotate_up(root, x->l->prio > x->r->prio ? x->l : x->r, up);
	c = x->l ? x->l : x->r;
	p = *up_of(x, up);
	if (c)
		*up_of(c, up) = p;
	if (!p)
		*root = c;
	else if (p->l == x)
		p->l = c;
	else
		p->r = c;
}

int treap_check(const struct tnode *n, uint64_t lo, uint64_t hi, uint32_t maxprio, bool aug,
		size_t *count)
{
	if (!n)
		return 0;
	if (n->key < lo || n->key >= hi || n->prio > maxprio)
		return -1;
	if (aug && t_maxlen_of(n) != n->maxlen)
		return -1;
	(*count)++;
	if (treap_check(n->l, lo, n->key, n->prio, aug, count) < 0)
		return -1;
	return treap_check(n->r, (uint64_t)n->key + 1, hi, n->prio, aug, count);
}
