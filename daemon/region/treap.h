/* SPDX-License-Identifier: MIT */
/*
 * Intrusive treaps keyed by first page (treap.c), the one tree module of the
 * region allocator. Every tree of the region is a treap of struct tnode with
 * random priorities; they differ in two independent properties:
 *  - augmented: maxlen holds the largest len in the subtree, so that the
 *    placement searches prune by length (free extents, free runs); the
 *    others never read maxlen (segments, pinned allocations);
 *  - parent links: the enclosing struct holds a parent pointer at a fixed
 *    offset from the node (the segment tree and the free-extent trees, whose
 *    96-byte slot has room for it), so that a known node is erased, and a
 *    change of its length carried to the subtree maxima, by walking up from
 *    it instead of descending from the root; the 32-byte free-run slot has
 *    no room for one, and the pinned tree needs none.
 * For the same keys and priorities every operation leaves the same shape
 * (insert descends by priority and splits, erase merges the children, as
 * the textbook split/merge treap), which the budgets of the placement
 * searches depend on; only how links and maxima are maintained differs.
 */
#ifndef DMABUFD_REGION_TREAP_H
#define DMABUFD_REGION_TREAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Treap node, intrusive. key = first page, len = pages, maxlen = largest len
 * in the subtree (augmented trees only), prio = heap priority (max at the
 * root). */
struct tnode {
	struct tnode *l, *r;
	uint32_t key, len, maxlen, prio;
};

/* @up argument of the linked operations: the byte offset from a node to its
 * parent pointer in the enclosing struct, or TREAP_NO_UP (never a valid
 * offset: a node's first field is its left link). */
#define TREAP_NO_UP ((ptrdiff_t)0)

/* Starts loading both children of @n. The maxlen-pruned searches read a
 * child to test its maxlen and often go on to the other one, and the key
 * descents take either: issued together, the two loads overlap instead of
 * waiting one after the other (the cost of a descent is its cache misses;
 * docs/notes/region-history.md, "Per-operation cost"). Reads nothing, changes nothing. */
static inline void t_prefetch_kids(const struct tnode *n)
{
	__builtin_prefetch(n->l);
	__builtin_prefetch(n->r);
}

static inline uint32_t t_maxlen(const struct tnode *n)
{
	return n ? n->maxlen : 0;
}

/* maxlen of @n recomputed from its own len and its children's maxima. */
static inline uint32_t t_maxlen_of(const struct tnode *n)
{
	uint32_t m = n->len;
	if (t_maxlen(n->l) > m)
		m = n->l->maxlen;
	if (t_maxlen(n->r) > m)
		m = n->r->maxlen;
	return m;
}

static inline void t_update(struct tnode *n)
{
	n->maxlen = t_maxlen_of(n);
}

/* Lookups (any tree). */
struct tnode *treap_find_le(struct tnode *n, uint32_t key);
struct tnode *treap_find_eq(struct tnode *n, uint32_t key);

/* Augmented tree without parent links (the maximal free runs). Erase needs
 * @key present; shrunk: @x shrank or its key moved in place (order kept);
 * grow: the node with @key grew to @len. */
void treap_insert(struct tnode **root, struct tnode *n);
void treap_erase(struct tnode **root, uint32_t key);
void treap_shrunk(struct tnode *root, struct tnode *x);
void treap_grow(struct tnode *root, uint32_t key, uint32_t len);

/* Trees with parent links at @up (augmented if @aug: the free extents), or
 * neither (TREAP_NO_UP, !aug: the pinned allocations). @x must be in the
 * tree. fix: @x shrank or its key moved in place; grow: @x grew to @len
 * (both need parent links). */
void treap_link_insert(struct tnode **root, struct tnode *n, ptrdiff_t up, bool aug);
void treap_link_erase(struct tnode **root, struct tnode *x, ptrdiff_t up, bool aug);
void treap_link_fix(struct tnode *x, ptrdiff_t up);
void treap_link_grow(struct tnode *x, uint32_t len, ptrdiff_t up);

/* Not augmented, with parent links, by rotation (the segments): @n goes
 * between its in-order neighbours @prev and @succ (either NULL at an end)
 * as a leaf and rotates up by priority; erase rotates @x down until it has
 * at most one child and splices it out. O(1) expected rotations each. */
void treap_rot_insert(struct tnode **root, struct tnode *n, struct tnode *prev,
		      struct tnode *succ, ptrdiff_t up);
void treap_rot_erase(struct tnode **root, struct tnode *x, ptrdiff_t up);

/* Audit: BST order within [lo, hi), heap order below @maxprio and (if @aug)
 * maxlen; counts the nodes into @count. 0 or -1. */
int treap_check(const struct tnode *n, uint64_t lo, uint64_t hi, uint32_t maxprio, bool aug,
		size_t *count);

#endif
