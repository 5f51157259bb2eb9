/* SPDX-License-Identifier: MIT */
/*
 * Region allocator and cache-attribute ledger. Design and bounds in region.h
 * and docs/REGION.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "region_internal.h"


/* ---- treap ------------------------------------------------------------ */

static uint32_t rnd(struct dmabufd_region *r)
{
	/* xorshift64*: deterministic priorities, no global state */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint32_t)((r->rng * 2685821657736338717ull) >> 32);
}

/* Starts loading both children of @n. The maxlen-pruned searches read a
 * child to test its maxlen and often go on to the other one, and the key
 * descents take either: issued together, the two loads overlap instead of
 * waiting one after the other (the cost of a descent is its cache misses;
 * docs/REGION.md, "Per-operation cost"). Reads nothing, changes nothing. */
static inline void t_prefetch_kids(const struct tnode *n)
{
	__builtin_prefetch(n->l);
	__builtin_prefetch(n->r);
}

static inline uint32_t t_maxlen(const struct tnode *n)
{
	return n ? n->maxlen : 0;
}

static inline void t_update(struct tnode *n)
{
	uint32_t m = n->len;
	if (t_maxlen(n->l) > m)
		m = n->l->maxlen;
	if (t_maxlen(n->r) > m)
		m = n->r->maxlen;
	n->maxlen = m;
}

static void t_split(struct tnode *t, uint32_t key, struct tnode **a, struct tnode **b)
{
	if (!t) {
		*a = *b = NULL;
		return;
	}
	if (t->key < key) {
		t_split(t->r, key, &t->r, b);
		*a = t;
	} else {
		t_split(t->l, key, a, &t->l);
		*b = t;
	}
	t_update(t);
}

static struct tnode *t_merge(struct tnode *a, struct tnode *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = t_merge(a->r, b);
		t_update(a);
		return a;
	}
	b->l = t_merge(a, b->l);
	t_update(b);
	return b;
}

/* Inserts @n. On the way down an ancestor's maxlen can only grow to
 * n->len (no need to read its children); only the nodes split below the
 * insertion point are recomputed. */
static void t_insert(struct tnode **root, struct tnode *n)
{
	struct tnode **at = root;

	while (*at && (*at)->prio >= n->prio) {
		struct tnode *t = *at;
		t_prefetch_kids(t);
		if (t->maxlen < n->len)
			t->maxlen = n->len;
		at = n->key < t->key ? &t->l : &t->r;
	}
	t_split(*at, n->key, &n->l, &n->r);
	t_update(n);
	*at = n;
}

static void t_erase_rec(struct tnode **root, uint32_t key)
{
	struct tnode *t = *root;

	if (!t)
		return;
	if (t->key == key) {
		*root = t_merge(t->l, t->r);
		return;
	}
	t_erase_rec(key < t->key ? &t->l : &t->r, key);
	t_update(t);
}

/* Removes the node with @key (which must be present), then recomputes
 * maxlen bottom-up on its path, stopping at the first ancestor whose maxlen
 * is unchanged (the ones above cannot change then). */
static void t_erase(struct tnode **root, uint32_t key)
{
	struct tnode *path[192];
	struct tnode **at = root;
	unsigned n = 0;

	while (*at && (*at)->key != key) {
		if (n == sizeof(path) / sizeof(path[0])) {
			t_erase_rec(root, key); /* nothing changed yet */
			return;
		}
		path[n++] = *at;
		t_prefetch_kids(*at);
		at = key < (*at)->key ? &(*at)->l : &(*at)->r;
	}
	if (!*at)
		return;
	*at = t_merge((*at)->l, (*at)->r);
	while (n > 0) {
		struct tnode *x = path[--n];
		uint32_t old = x->maxlen;
		t_update(x);
		if (x->maxlen == old)
			break;
	}
}

/* The same for the trees that are not augmented (segments by offset, pinned
 * allocations): no maxlen upkeep, so an update touches only the nodes on
 * the path, not their children (fewer cache misses in the largest tree). */
static void t_split_p(struct tnode *t, uint32_t key, struct tnode **a, struct tnode **b)
{
	while (t) {
		if (t->key < key) {
			*a = t;
			a = &t->r;
			t = t->r;
		} else {
			*b = t;
			b = &t->l;
			t = t->l;
		}
	}
	*a = *b = NULL;
}

static struct tnode *t_merge_p(struct tnode *a, struct tnode *b)
{
	struct tnode *root = NULL, **at = &root;

	while (a && b) {
		if (a->prio > b->prio) {
			*at = a;
			at = &a->r;
			a = a->r;
		} else {
			*at = b;
			at = &b->l;
			b = b->l;
		}
	}
	*at = a ? a : b;
	return root;
}

static void t_insert_p(struct tnode **root, struct tnode *n)
{
	struct tnode **at = root;

	while (*at && (*at)->prio >= n->prio) {
		t_prefetch_kids(*at);
		at = n->key < (*at)->key ? &(*at)->l : &(*at)->r;
	}
	t_split_p(*at, n->key, &n->l, &n->r);
	*at = n;
}

/* Removes the node with @key (which must be present). */
static void t_erase_p(struct tnode **root, uint32_t key)
{
	struct tnode **at = root;

	while (*at && (*at)->key != key) {
		t_prefetch_kids(*at);
		at = key < (*at)->key ? &(*at)->l : &(*at)->r;
	}
	if (*at)
		*at = t_merge_p((*at)->l, (*at)->r);
}

static void t_touch_rec(struct tnode *t, uint32_t key)
{
	if (!t)
		return;
	if (key < t->key)
		t_touch_rec(t->l, key);
	else if (key > t->key)
		t_touch_rec(t->r, key);
	t_update(t);
}

/* Recomputes maxlen on the path to @key after its len shrank; stops as soon
 * as a node's maxlen is unchanged (its ancestors cannot change then). */
static void t_touch(struct tnode *t, uint32_t key)
{
	struct tnode *path[192];
	unsigned n = 0;

	for (; t; t = key < t->key ? t->l : t->r) {
		if (n == sizeof(path) / sizeof(path[0])) {
			t_touch_rec(path[0], key);
			return;
		}
		path[n++] = t;
		t_prefetch_kids(t);
		if (key == t->key)
			break;
	}
	while (n > 0) {
		struct tnode *x = path[--n];
		uint32_t old = x->maxlen;
		t_update(x);
		if (x->maxlen == old)
			break;
	}
}

/* After node @x (in the tree @root) shrank or its key moved in place: if
 * its own maxlen, recomputed from its children, is unchanged, no ancestor's
 * can change and nothing else is read; else as t_touch(). */
static void t_shrunk(struct tnode *root, struct tnode *x)
{
	uint32_t old = x->maxlen;

	t_update(x);
	if (x->maxlen != old) {
		x->maxlen = old; /* so that t_touch() sees the change at x */
		t_touch(root, x->key);
	}
}

/* After the node with @key grew to @len: raise maxlen along the path. */
static void t_grow(struct tnode *t, uint32_t key, uint32_t len)
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

struct tnode *region_t_find_le(struct tnode *n, uint32_t key)
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

static struct tnode *t_find_eq(struct tnode *n, uint32_t key)
{
	while (n && n->key != key) {
		t_prefetch_kids(n);
		n = key < n->key ? n->l : n->r;
	}
	return n;
}

/* ---- placement search --------------------------------------------------- */

struct fitq {
	uint64_t need;  /* prune subtrees whose maxlen < need */
	uint32_t k, align;
	int budget;     /* < 0: unlimited */
	uint64_t limit; /* fit_high: the run must end at or below */
	const struct tnode *found;
};

static inline uint64_t align_up(uint64_t x, uint32_t a)
{
	return (x + a - 1) & ~(uint64_t)(a - 1);
}

static inline uint64_t align_down(uint64_t x, uint32_t a)
{
	return x & ~(uint64_t)(a - 1);
}

static bool fit_low(const struct tnode *n, struct fitq *q, uint32_t *pos)
{
	if (!n || n->maxlen < q->need)
		return false;
	t_prefetch_kids(n);
	if (q->budget >= 0 && q->budget-- == 0)
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
	if (!n || n->maxlen < q->need)
		return false;
	t_prefetch_kids(n);
	if (q->budget >= 0 && q->budget-- == 0)
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
	const struct tnode *run = region_t_find_le(r->runs, e->key);
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

/* Where a placement was found, so that carve() can skip a descent: the
 * free run holding it, or the free extent holding its first page. */
struct hint {
	const struct tnode *run;
	const struct tnode *extent;
};

static int place(const struct dmabufd_region *r, uint32_t k, uint32_t align,
		 enum dmabufd_attribute attr, bool movable, uint32_t *ret_pos, struct hint *h)
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
	 * frame transitions pages below it instead (third pass: 95 % of the
	 * media mix's transitions). */
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
	struct hint h = {0};
	return place(r, k, align, attr, movable, ret_pos, &h);
}

/* ---- node slabs (so that no operation fails half-way on ENOMEM) --------- */

/* Nodes come from per-region chunks of fixed-size slots, aligned so that no
 * treap node (struct tnode, 32 bytes) straddles a 32-byte boundary: a
 * descent reads one cache line per node, never two (a malloc'd 88-byte
 * segment put its free-extent node across two lines three times in four).
 * Freed nodes go back to the slab's free list and are reused; memory is
 * returned when the region is destroyed, so the bookkeeping is the peak
 * node count (bounded by 2 * live allocations + reserved ranges + 1). */
#define SLAB_HDR 64 /* chunk header (struct chunk_hdr), one cache line */
#define SEG_SLOT REGION_SEG_SLOT
#define RUN_SLOT REGION_RUN_SLOT

_Static_assert(sizeof(struct tnode) == 32, "treap node is 32 bytes");
_Static_assert(offsetof(struct seg, f) == 32, "free-extent node on its own 32 bytes");
_Static_assert(sizeof(struct seg) <= SEG_SLOT, "segment slot");
_Static_assert(offsetof(struct seg, state) == offsetof(struct tnode, maxlen),
	       "segment fields overlay t.maxlen only");
_Static_assert(sizeof(struct run) <= RUN_SLOT, "run slot");

struct slot {
	struct slot *next;
};

/* Chunk @i holds 2^min(i, 12) slots: 1, 2, 4, ... 4,096, so that a small
 * region holds little and a large one allocates rarely. */
static size_t slab_chunk_slots(unsigned i)
{
	return (size_t)1 << (i < 12 ? i : 12);
}

static size_t slab_chunk_bytes(unsigned i, size_t slot)
{
	return SLAB_HDR + slab_chunk_slots(i) * slot;
}

/* Chunks come from malloc (so that fault injection reaches them, as it
 * reached the nodes before), over-allocated by SLAB_HDR - 1 bytes and
 * aligned by hand; the header keeps the link and malloc's pointer. */
struct chunk_hdr {
	struct chunk_hdr *next;
	void *raw;
};
_Static_assert(sizeof(struct chunk_hdr) <= SLAB_HDR, "chunk header");

static int slab_grow(struct region_slab *sl, size_t slot)
{
	size_t n = slab_chunk_slots(sl->nchunks);
	char *raw = malloc(slab_chunk_bytes(sl->nchunks, slot) + SLAB_HDR - 1);

	if (!raw)
		return -ENOMEM;
	char *c = (char *)(((uintptr_t)raw + SLAB_HDR - 1) & ~(uintptr_t)(SLAB_HDR - 1));
	struct chunk_hdr *h = (struct chunk_hdr *)(void *)c;
	h->next = sl->chunks;
	h->raw = raw;
	sl->chunks = h;
	sl->nchunks++;
	/* link the slots so that the first one is handed out first */
	for (size_t i = n; i-- > 0;) {
		struct slot *x = (struct slot *)(void *)(c + SLAB_HDR + i * slot);
		x->next = sl->free;
		sl->free = x;
	}
	sl->nfree += (uint32_t)n;
	return 0;
}

size_t region_memory_bytes(const struct dmabufd_region *r)
{
	size_t b = sizeof(*r);

	for (unsigned i = 0; i < r->segslab.nchunks; i++)
		b += slab_chunk_bytes(i, SEG_SLOT) + SLAB_HDR - 1;
	for (unsigned i = 0; i < r->runslab.nchunks; i++)
		b += slab_chunk_bytes(i, RUN_SLOT) + SLAB_HDR - 1;
	if (r->index.slot)
		b += ((size_t)r->index.mask + 1) * sizeof(*r->index.slot);
	return b;
}

static void slab_destroy(struct region_slab *sl)
{
	for (struct chunk_hdr *c = sl->chunks, *nx; c; c = nx) {
		nx = c->next;
		free(c->raw);
	}
	*sl = (struct region_slab){0};
}

static void *slab_get(struct region_slab *sl)
{
	struct slot *x = sl->free;

	sl->free = x->next;
	sl->nfree--;
	return x;
}

static void slab_put(struct region_slab *sl, void *p)
{
	struct slot *x = p;

	x->next = sl->free;
	sl->free = x;
	sl->nfree++;
}

static int ensure_spares(struct dmabufd_region *r, unsigned nseg, unsigned nrun)
{
	while (r->segslab.nfree < nseg)
		if (slab_grow(&r->segslab, SEG_SLOT) < 0)
			return -ENOMEM;
	while (r->runslab.nfree < nrun)
		if (slab_grow(&r->runslab, RUN_SLOT) < 0)
			return -ENOMEM;
	return 0;
}

static struct seg *get_seg(struct dmabufd_region *r)
{
	struct seg *s = slab_get(&r->segslab);

	memset(s, 0, sizeof(*s));
	s->t.prio = rnd(r);
	s->f.prio = rnd(r);
	return s;
}

static void put_seg(struct dmabufd_region *r, struct seg *s)
{
	slab_put(&r->segslab, s);
}

static struct run *get_run(struct dmabufd_region *r)
{
	struct run *n = slab_get(&r->runslab);

	memset(n, 0, sizeof(*n));
	n->t.prio = rnd(r);
	return n;
}

static void put_run(struct dmabufd_region *r, struct run *n)
{
	slab_put(&r->runslab, n);
}

/* ---- index of the live allocations by offset ----------------------------- */

#define IX_DIST 31u /* low bits of a slot: distance from home, */
#ifndef IX_SAT
#define IX_SAT 31u  /* saturating here (a test build lowers it) */
#endif

_Static_assert(REGION_SEG_SLOT % 32 == 0, "segments 32-byte aligned (index tags)");

static inline uint32_t ix_home(const struct region_index *x, uint32_t key)
{
	return (uint32_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> (64 - x->bits));
}

static inline struct seg *ix_seg(uintptr_t v)
{
	return (struct seg *)(v & ~(uintptr_t)IX_DIST);
}

/* Home slot of the entry in slot @i. */
static inline uint32_t ix_home_of(const struct region_index *x, uint32_t i)
{
	uintptr_t v = x->slot[i];

	if ((v & IX_DIST) < IX_SAT)
		return (i - (uint32_t)(v & IX_DIST)) & x->mask;
	return ix_home(x, ix_seg(v)->t.key);
}

static void ix_put(struct region_index *x, struct seg *s)
{
	uint32_t i = ix_home(x, s->t.key), d = 0;

	while (x->slot[i]) {
		i = (i + 1) & x->mask;
		d++;
	}
	x->slot[i] = (uintptr_t)s | (d < IX_SAT ? d : IX_SAT);
	x->n++;
}

/* The live allocation starting at @key, or NULL. O(1) expected. */
static struct seg *ix_find(const struct region_index *x, uint32_t key)
{
	uint32_t i, d;
	uintptr_t v;

	if (!x->slot)
		return NULL;
	for (i = ix_home(x, key), d = 0; (v = x->slot[i]); i = (i + 1) & x->mask, d++) {
		uint32_t vd = (uint32_t)(v & IX_DIST);
		if ((vd < IX_SAT ? vd == d : d >= IX_SAT) && ix_seg(v)->t.key == key)
			return ix_seg(v);
	}
	return NULL;
}

/* Removes @s (which must be present); entries after it move back into the
 * hole where their home allows (linear probing deletion, no tombstones). */
static void ix_erase(struct region_index *x, struct seg *s)
{
	uint32_t i = ix_home(x, s->t.key), j;

	while (ix_seg(x->slot[i]) != s)
		i = (i + 1) & x->mask;
	for (j = (i + 1) & x->mask; x->slot[j]; j = (j + 1) & x->mask) {
		uint32_t h = ix_home_of(x, j);
		/* movable to the hole i unless its home lies in (i, j] */
		if (((j - h) & x->mask) >= ((j - i) & x->mask)) {
			uint32_t d = (i - h) & x->mask;
			x->slot[i] = (uintptr_t)ix_seg(x->slot[j]) | (d < IX_SAT ? d : IX_SAT);
			i = j;
		}
	}
	x->slot[i] = 0;
	x->n--;
}

/* Makes room for @need entries (at most 3/4 full), rebuilding the table
 * from the segment list when it grows. Changes nothing on -ENOMEM. */
static int ix_reserve(struct dmabufd_region *r, uint64_t need)
{
	struct region_index *x = &r->index, nx = {0};
	unsigned bits = 4;

	if (x->slot && need <= (uint64_t)(x->mask + 1) / 4 * 3)
		return 0;
	while (((uint64_t)1 << bits) / 4 * 3 < need)
		bits++;
	nx.bits = bits;
	nx.mask = (uint32_t)(((uint64_t)1 << bits) - 1);
	nx.slot = calloc((size_t)1 << bits, sizeof(*nx.slot));
	if (!nx.slot)
		return -ENOMEM;
	for (struct seg *s = r->head; s; s = s->next)
		if (s->state == DMABUFD_REGION_USED)
			ix_put(&nx, s);
	free(x->slot);
	*x = nx;
	return 0;
}

/* ---- segments ----------------------------------------------------------- */

/* The free-extent trees (region->fa[]) keep parent links too (seg.fup), so
 * that a known extent is erased, and a change of its length is carried to
 * the subtree maxima, by walking up from the node with early exit instead
 * of descending from the root. Their shape, which the placement searches'
 * budgets depend on, is exactly the one t_insert()/t_erase() give: insert
 * descends by priority and splits as t_insert() does, erase merges the
 * children as t_merge() does; only the links and the maxlen upkeep are
 * done differently. */
#define fa_up(n) (seg_of_f(n)->fup)

/* t_insert() with parent links. */
static void fat_insert(struct tnode **root, struct tnode *n)
{
	struct tnode **at = root, *parent = NULL, *t, **a, **b, *pa, *pb;

	while (*at && (*at)->prio >= n->prio) {
		t = *at;
		t_prefetch_kids(t);
		if (t->maxlen < n->len)
			t->maxlen = n->len;
		parent = t;
		at = n->key < t->key ? &t->l : &t->r;
	}
	/* split *at at n->key into n->l and n->r, as t_split() */
	t = *at;
	a = &n->l;
	b = &n->r;
	pa = pb = n;
	while (t) {
		if (t->key < n->key) {
			*a = t;
			fa_up(t) = pa;
			pa = t;
			a = &t->r;
			t = t->r;
		} else {
			*b = t;
			fa_up(t) = pb;
			pb = t;
			b = &t->l;
			t = t->l;
		}
	}
	*a = *b = NULL;
	for (t = pa; t != n; t = fa_up(t))
		t_update(t);
	for (t = pb; t != n; t = fa_up(t))
		t_update(t);
	t_update(n);
	fa_up(n) = parent;
	*at = n;
}

/* Removes @x: its children are merged in its place as t_merge() does, the
 * merged nodes' maxima are recomputed, then the ancestors' until one is
 * unchanged. */
static void fat_erase(struct tnode **root, struct tnode *x)
{
	struct tnode *up = fa_up(x), *a = x->l, *b = x->r, *parent = up, *t;
	struct tnode **slot = !up ? root : up->l == x ? &up->l : &up->r;

	while (a && b) {
		if (a->prio > b->prio) {
			*slot = a;
			fa_up(a) = parent;
			parent = a;
			slot = &a->r;
			a = a->r;
		} else {
			*slot = b;
			fa_up(b) = parent;
			parent = b;
			slot = &b->l;
			b = b->l;
		}
	}
	t = a ? a : b;
	*slot = t;
	if (t)
		fa_up(t) = parent;
	for (t = parent; t != up; t = fa_up(t))
		t_update(t);
	for (; t; t = fa_up(t)) {
		uint32_t old = t->maxlen;
		t_update(t);
		if (t->maxlen == old)
			break;
	}
}

/* After @x shrank or its key moved in place: recompute maxima from @x up
 * until one is unchanged (as t_shrunk()). */
static void fat_shrunk(struct tnode *x)
{
	for (; x; x = fa_up(x)) {
		uint32_t old = x->maxlen;
		t_update(x);
		if (x->maxlen == old)
			break;
	}
}

/* After @x grew to @len: raise maxima from @x up (as t_grow()). */
static void fat_grow(struct tnode *x, uint32_t len)
{
	for (; x && x->maxlen < len; x = fa_up(x))
		x->maxlen = len;
}

static void fa_insert(struct dmabufd_region *r, struct seg *s)
{
	s->f.key = s->t.key;
	s->f.len = s->t.len;
	fat_insert(&r->fa[s->attr], &s->f);
	r->n_free_extents++;
}

static void fa_erase(struct dmabufd_region *r, struct seg *s)
{
	fat_erase(&r->fa[s->attr], &s->f);
	r->n_free_extents--;
}

static void list_insert_after(struct seg *s, struct seg *n)
{
	n->prev = s;
	n->next = s->next;
	if (s->next)
		s->next->prev = n;
	s->next = n;
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

/* The segment tree (region->segs) keeps parent links (seg.up), so that a
 * segment is inserted next to a known neighbour, and a known segment is
 * erased, without a descent from the root: the new node is hung as a leaf
 * beside its list neighbour and rotated up by priority, an erased node is
 * rotated down until it has at most one child and then spliced out. Both
 * take O(1) expected rotations in a treap (the expected length of the spines
 * involved is below 2), against a cold descent of ~2 ln m nodes before. No
 * placement depends on this tree's shape (it answers lookups by offset). */
#define seg_up(n) (seg_of_t(n)->up)

/* Rotates @x above its parent. */
static void segt_rotate_up(struct dmabufd_region *r, struct tnode *x)
{
	struct tnode *p = seg_up(x), *g = seg_up(p);

	if (p->l == x) {
		p->l = x->r;
		if (x->r)
			seg_up(x->r) = p;
		x->r = p;
	} else {
		p->r = x->l;
		if (x->l)
			seg_up(x->l) = p;
		x->l = p;
	}
	seg_up(p) = x;
	seg_up(x) = g;
	if (!g)
		r->segs = x;
	else if (g->l == p)
		g->l = x;
	else
		g->r = x;
}

/* Inserts @n into the segment tree right after @prev in offset order (NULL:
 * as the first segment). Call before linking @n into the list: @prev's list
 * successor (or the head) is @n's in-order successor. */
static void segt_insert_after(struct dmabufd_region *r, struct seg *prev, struct seg *n)
{
	struct seg *succ = prev ? prev->next : r->head;

	n->t.l = n->t.r = NULL;
	if (prev && !prev->t.r) {
		prev->t.r = &n->t;
		n->up = &prev->t;
	} else if (succ) {
		/* the leftmost node of prev's right subtree (or of the tree) */
		succ->t.l = &n->t;
		n->up = &succ->t;
	} else {
		r->segs = &n->t;
		n->up = NULL;
		return;
	}
	while (n->up && n->up->prio < n->t.prio)
		segt_rotate_up(r, &n->t);
}

/* Removes @s from the segment tree. */
static void segt_erase(struct dmabufd_region *r, struct seg *s)
{
	struct tnode *x = &s->t, *c;

	while (x->l && x->r)
		segt_rotate_up(r, x->l->prio > x->r->prio ? x->l : x->r);
	c = x->l ? x->l : x->r;
	if (c)
		seg_up(c) = s->up;
	if (!s->up)
		r->segs = c;
	else if (s->up->l == x)
		s->up->l = c;
	else
		s->up->r = c;
}

/* Splits a FREE or RESERVED segment at @at (strictly inside); returns the
 * right part. Needs one spare seg. */
static struct seg *seg_split(struct dmabufd_region *r, struct seg *s, uint32_t at)
{
	struct seg *n = get_seg(r);
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

static struct seg *seg_at(const struct dmabufd_region *r, uint32_t page)
{
	return seg_of_t(region_t_find_le(r->segs, page));
}

/* True if [pos, pos+k) is entirely free (in one maximal free run). */
static bool range_free(const struct dmabufd_region *r, uint32_t pos, uint32_t k)
{
	struct tnode *n = region_t_find_le(r->runs, pos);

	return n && (uint64_t)n->key + n->len >= (uint64_t)pos + k;
}

/* The segment holding free page @pos of the free run that ends at @re.
 * Pinned allocations go to the top of a run: the live allocation starting
 * at @re (offset index, O(1) expected) and a few steps back along the list
 * usually find it; else a descent of the segment tree. */
static struct seg *seg_in_run(const struct dmabufd_region *r, uint32_t pos, uint64_t re)
{
	struct seg *s = re < r->npages ? ix_find(&r->index, (uint32_t)re) : NULL;

	for (unsigned i = 0; s && i < 4; i++) {
		s = s->prev;
		if (s->t.key <= pos)
			return s;
	}
	return seg_at(r, pos);
}

/* Takes the free range [pos, pos+k) out of the free indexes; returns its
 * first segment. The covered segments are left with state USED and the free
 * counters decremented; the caller finishes them. Needs 2 spare segs and 1
 * spare run. Keys are moved in place where the order allows it (a free
 * extent or run that loses its head keeps its node), which saves a delete
 * and an insert per tree on the common path. */
static struct seg *carve_hint(struct dmabufd_region *r, uint32_t pos, uint32_t k,
			       const struct hint *h)
{
	struct tnode *rn = h && h->run ? (struct tnode *)(uintptr_t)h->run
				       : region_t_find_le(r->runs, pos);
	uint32_t ra = rn->key;
	uint64_t re = (uint64_t)rn->key + rn->len, end = (uint64_t)pos + k;

	if (ra == pos && re == end) {
		t_erase(&r->runs, ra);
		r->n_runs--;
		put_run(r, container_of(rn, struct run, t));
	} else if (ra == pos) {
		rn->key = (uint32_t)end;
		rn->len = (uint32_t)(re - end);
		t_shrunk(r->runs, rn);
	} else {
		rn->len = pos - ra;
		t_shrunk(r->runs, rn);
		if (re > end) {
			struct run *n = get_run(r);
			n->t.key = (uint32_t)end;
			n->t.len = (uint32_t)(re - end);
			t_insert(&r->runs, &n->t);
			r->n_runs++;
		}
	}

	struct seg *s = h && h->extent ? seg_of_f((struct tnode *)(uintptr_t)h->extent)
				       : seg_in_run(r, pos, re);
	struct seg *first = NULL;
	if (s->t.key < pos) {
		/* s keeps [a, pos); u = [pos, min(e, end)) is carved out */
		uint64_t e = seg_end(s);
		struct seg *u = get_seg(r);
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
			struct seg *rest = get_seg(r);
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
			struct seg *u = get_seg(r);
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

static struct seg *carve(struct dmabufd_region *r, uint32_t pos, uint32_t k)
{
	return carve_hint(r, pos, k, NULL);
}

static unsigned log2u(uint32_t x)
{
	return 31u - (unsigned)__builtin_clz(x);
}

/* Turns the carved segments starting at @first into one allocation. */
static void make_used(struct dmabufd_region *r, struct seg *first, uint32_t k,
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
			put_seg(r, s);
		}
	}
	first->t.len = k;
	first->attr = (uint8_t)attr;
	first->state = DMABUFD_REGION_USED;
	first->movable = movable;
	first->align_log2 = (uint8_t)log2u(align);
	ix_put(&r->index, first);
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
		t_insert_p(&r->pinned, &first->f);
		if (r->n_pinned == 1 || first->f.key < r->pinned_min)
			r->pinned_min = first->f.key;
	}
}

/* The lowest pinned allocation's first page (0 if there is none). */
static uint32_t pinned_leftmost(const struct dmabufd_region *r)
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
static void release(struct dmabufd_region *r, struct seg *s)
{
	uint32_t a = s->t.key, len = s->t.len;
	uint64_t e = seg_end(s);

	if (s->state == DMABUFD_REGION_USED) {
		ix_erase(&r->index, s);
		r->n_alloc--;
		r->used_pages[s->attr] -= len;
		if (s->movable) {
			r->n_movable--;
			r->movable_pages -= len;
		} else {
			r->n_pinned--;
			r->pinned_pages -= len;
			t_erase_p(&r->pinned, s->f.key);
			if (s->f.key == r->pinned_min)
				r->pinned_min = pinned_leftmost(r);
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
		left = region_t_find_le(r->runs, a - 1);
	if (s->next && s->next->state == DMABUFD_REGION_FREE)
		right = t_find_eq(r->runs, (uint32_t)e);
	if (left && right) {
		t_erase(&r->runs, right->key);
		r->n_runs--;
		left->len += len + right->len;
		t_grow(r->runs, left->key, left->len);
		put_run(r, container_of(right, struct run, t));
	} else if (left) {
		left->len += len;
		t_grow(r->runs, left->key, left->len);
	} else if (right) {
		/* grows to the left over [a, e): order preserved, key in place */
		right->key = a;
		right->len += len;
		t_grow(r->runs, a, right->len);
	} else {
		struct run *n = get_run(r);
		n->t.key = a;
		n->t.len = len;
		t_insert(&r->runs, &n->t);
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
		put_seg(r, s);
		if (merge_n) {
			p->t.len += n->t.len;
			fa_erase(r, n);
			segt_erase(r, n);
			list_unlink(r, n);
			put_seg(r, n);
		}
		p->f.len = p->t.len;
		fat_grow(&p->f, p->f.len);
	} else if (merge_n) {
		/* n grows to the left over s: s leaves, n's key moves in place */
		uint32_t nk = s->t.key;
		n->t.len += s->t.len;
		segt_erase(r, s);
		list_unlink(r, s);
		put_seg(r, s);
		n->t.key = nk;
		n->f.key = nk;
		n->f.len = n->t.len;
		fat_grow(&n->f, n->f.len);
	} else {
		fa_insert(r, s);
	}
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

static struct dmabufd_region *region_new(uint32_t npages, uint32_t page_size, uint32_t flags,
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
	if (ensure_spares(r, 1, 1) < 0) {
		dmabufd_region_destroy(r);
		return -ENOMEM;
	}
	struct seg *s = get_seg(r);
	s->t.key = 0;
	s->t.len = npages;
	s->state = DMABUFD_REGION_FREE;
	s->attr = (uint8_t)o.initial_attribute;
	segt_insert_after(r, NULL, s);
	r->head = s;
	fa_insert(r, s);
	struct run *n = get_run(r);
	n->t.key = 0;
	n->t.len = npages;
	t_insert(&r->runs, &n->t);
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
	slab_destroy(&r->segslab);
	slab_destroy(&r->runslab);
	free(r->index.slot);
	free(r);
}

int dmabufd_region_alloc(struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			 enum dmabufd_attribute attribute, bool movable, uint32_t *ret_offset)
{
	uint32_t pos;
	int ret;

	if (!region_valid_args(r, npages, align_pages, attribute))
		return -EINVAL;
	struct hint h = {0};
	ret = place(r, npages, align_pages, attribute, movable, &pos, &h);
	if (ret < 0)
		return ret;
	ret = ensure_spares(r, 2, 1);
	if (ret == 0)
		ret = ix_reserve(r, (uint64_t)r->n_alloc + 1);
	if (ret < 0)
		return ret;
	make_used(r, carve_hint(r, pos, npages, &h), npages, attribute, movable, align_pages);
	*ret_offset = pos;
	return 0;
}

int dmabufd_region_claim(struct dmabufd_region *r, uint32_t offset, uint32_t npages,
			 uint32_t align_pages, enum dmabufd_attribute attribute, bool movable)
{
	int ret;

	if (!region_valid_args(r, npages, align_pages, attribute) ||
	    (offset & (align_pages - 1)) || (uint64_t)offset + npages > r->npages)
		return -EINVAL;
	if (!range_free(r, offset, npages))
		return -EBUSY;
	ret = ensure_spares(r, 2, 1);
	if (ret == 0)
		ret = ix_reserve(r, (uint64_t)r->n_alloc + 1);
	if (ret < 0)
		return ret;
	make_used(r, carve(r, offset, npages), npages, attribute, movable, align_pages);
	return 0;
}

int dmabufd_region_free(struct dmabufd_region *r, uint32_t offset)
{
	struct seg *s = ix_find(&r->index, offset);
	int ret;

	if (!s)
		return -ENOENT;
	ret = ensure_spares(r, 0, 1);
	if (ret < 0)
		return ret;
	release(r, s);
	return 0;
}

int dmabufd_region_lookup(const struct dmabufd_region *r, uint32_t offset,
			  struct dmabufd_region_allocation *ret)
{
	const struct seg *s = ix_find(&r->index, offset);

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
	fill_extent(seg_at(r, page), ret);
	return 0;
}

int dmabufd_region_reserve(struct dmabufd_region *r, uint32_t offset, uint32_t npages)
{
	int ret;

	if (npages == 0 || (uint64_t)offset + npages > r->npages)
		return -EINVAL;
	if (!range_free(r, offset, npages))
		return -EBUSY;
	ret = ensure_spares(r, 2, 1);
	if (ret < 0)
		return ret;
	struct seg *s = carve(r, offset, npages);
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
	for (s = seg_at(r, offset); s && s->t.key < end; s = s->next)
		if (s->state != DMABUFD_REGION_RESERVED)
			return -EINVAL;
	ret = ensure_spares(r, 2, 1);
	if (ret < 0)
		return ret;
	s = seg_at(r, offset);
	if (s->t.key < offset)
		s = seg_split(r, s, offset);
	for (;;) {
		if (seg_end(s) > end)
			seg_split(r, s, (uint32_t)end);
		struct seg *nx = s->next;
		bool last = seg_end(s) == end;
		release(r, s);
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
	struct seg *s = ix_find(&r->index, m->old_offset);
	int ret;

	if (!s)
		return -ENOENT;
	if (!s->movable)
		return -EPERM;
	uint32_t align = 1u << s->align_log2, k = s->t.len;
	uint64_t end = (uint64_t)m->new_offset + k;
	if (m->npages != k || (m->new_offset & (align - 1)) || end > r->npages)
		return -EINVAL;
	for (struct seg *d = seg_at(r, m->new_offset); d && d->t.key < end; d = d->next)
		if (d != s && d->state != DMABUFD_REGION_FREE)
			return -EBUSY;
	ret = ensure_spares(r, 2, 2); /* release may take a run, carve another */
	if (ret == 0)
		ret = ix_reserve(r, r->n_alloc);
	if (ret < 0)
		return ret;
	enum dmabufd_attribute attr = (enum dmabufd_attribute)s->attr;
	release(r, s);
	make_used(r, carve(r, m->new_offset, k), k, attr, true, align);
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

/* ---- clone (planner) ---------------------------------------------------- */

static int clone_runs(struct dmabufd_region *c, const struct tnode *n)
{
	for (; n; n = n->r) {
		int ret = clone_runs(c, n->l);
		if (ret < 0)
			return ret;
		if (ensure_spares(c, 0, 1) < 0)
			return -ENOMEM;
		struct run *x = get_run(c);
		x->t.key = n->key;
		x->t.len = n->len;
		t_insert(&c->runs, &x->t);
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
		if (ensure_spares(c, 1, 0) < 0)
			goto fail;
		struct seg *n = get_seg(c);
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
				t_insert_p(&c->pinned, &n->f);
		}
		if (tail)
			list_insert_after(tail, n);
		else
			c->head = n;
		tail = n;
	}
	if (clone_runs(c, r->runs) < 0 || ix_reserve(c, r->n_alloc) < 0)
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

/* Checks BST order within [lo, hi), heap order and (if @aug) maxlen. */
static int check_tree(const struct tnode *n, uint64_t lo, uint64_t hi, uint32_t maxprio, bool aug,
		      size_t *count)
{
	if (!n)
		return 0;
	if (n->key < lo || n->key >= hi || n->prio > maxprio)
		return -1;
	if (aug) {
		uint32_t m = n->len;
		if (t_maxlen(n->l) > m)
			m = n->l->maxlen;
		if (t_maxlen(n->r) > m)
			m = n->r->maxlen;
		if (m != n->maxlen)
			return -1;
	}
	(*count)++;
	if (check_tree(n->l, lo, n->key, n->prio, aug, count) < 0)
		return -1;
	return check_tree(n->r, (uint64_t)n->key + 1, hi, n->prio, aug, count);
}

/* Every entry of the offset index is a live allocation, tagged with its
 * distance from its home slot, with no empty slot in between. */
static int check_index(const struct region_index *x)
{
	size_t n = 0;

	for (uint32_t i = 0; x->slot && i <= x->mask; i++) {
		uintptr_t v = x->slot[i];
		if (!v)
			continue;
		const struct seg *s = ix_seg(v);
		uint32_t d = (i - ix_home(x, s->t.key)) & x->mask;
		if (s->state != DMABUFD_REGION_USED || (v & IX_DIST) != (d < IX_SAT ? d : IX_SAT))
			return -1;
		for (uint32_t j = 1; j <= d; j++)
			if (!x->slot[(i - j) & x->mask])
				return -1;
		n++;
	}
	return n == x->n ? 0 : -1;
}

int dmabufd_region_audit(const struct dmabufd_region *r, char *buf, size_t len)
{
	struct auditctx a = {buf, len};
	size_t nseg = 0, nfree[DMABUFD_REGION_N_ATTR] = {0}, nruns = 0, cnt;
	uint64_t pos = 0, used[DMABUFD_REGION_N_ATTR] = {0}, fpa[DMABUFD_REGION_N_ATTR] = {0};
	uint64_t freep = 0, resv = 0, pinp = 0, movp = 0, run_start = 0, largest = 0;
	uint32_t npin = 0, nmov = 0;
	const struct seg *prev = NULL;

	if (buf && len)
		buf[0] = '\0';
	for (const struct seg *s = r->head; s; prev = s, s = s->next) {
		nseg++;
		if (s->prev != prev)
			return bad(&a, "segment %u: broken back link", s->t.key);
		if (s->t.key != pos || s->t.len == 0)
			return bad(&a, "segment at %u len %u: expected start %" PRIu64, s->t.key,
				   s->t.len, pos);
		if (s->attr >= DMABUFD_REGION_N_ATTR || s->state > DMABUFD_REGION_RESERVED)
			return bad(&a, "segment %u: bad attribute/state", s->t.key);
		if (t_find_eq(r->segs, s->t.key) != &s->t)
			return bad(&a, "segment %u: not indexed", s->t.key);
		if (s->up ? s->up->l != &s->t && s->up->r != &s->t : r->segs != &s->t)
			return bad(&a, "segment %u: broken parent link", s->t.key);
		if ((s->t.l && seg_up(s->t.l) != &s->t) || (s->t.r && seg_up(s->t.r) != &s->t))
			return bad(&a, "segment %u: child's parent link broken", s->t.key);
		bool was_free = prev && prev->state == DMABUFD_REGION_FREE;
		switch (s->state) {
		case DMABUFD_REGION_FREE:
			if (was_free && prev->attr == s->attr)
				return bad(&a, "free extents %u and %u of one attribute not merged",
					   prev->t.key, s->t.key);
			if (s->f.key != s->t.key || s->f.len != s->t.len ||
			    t_find_eq(r->fa[s->attr], s->t.key) != &s->f)
				return bad(&a, "free extent %u: not indexed under its attribute",
					   s->t.key);
			if (s->fup ? s->fup->l != &s->f && s->fup->r != &s->f
				   : r->fa[s->attr] != &s->f)
				return bad(&a, "free extent %u: broken parent link", s->t.key);
			if ((s->f.l && fa_up(s->f.l) != &s->f) || (s->f.r && fa_up(s->f.r) != &s->f))
				return bad(&a, "free extent %u: child's parent link broken", s->t.key);
			if (!was_free)
				run_start = s->t.key;
			nfree[s->attr]++;
			freep += s->t.len;
			fpa[s->attr] += s->t.len;
			break;
		case DMABUFD_REGION_USED:
			if (ix_find(&r->index, s->t.key) != s)
				return bad(&a, "allocation %u: not in the offset index", s->t.key);
			if (s->t.key & ((1u << s->align_log2) - 1))
				return bad(&a, "allocation %u: misaligned (align %u)", s->t.key,
					   1u << s->align_log2);
			used[s->attr] += s->t.len;
			if (s->movable) {
				nmov++;
				movp += s->t.len;
			} else {
				npin++;
				pinp += s->t.len;
				if (s->f.key != s->t.key || t_find_eq(r->pinned, s->t.key) != &s->f)
					return bad(&a, "pinned allocation %u: not indexed", s->t.key);
			}
			break;
		default:
			resv += s->t.len;
			break;
		}
		bool is_free = s->state == DMABUFD_REGION_FREE;
		bool next_free = s->next && s->next->state == DMABUFD_REGION_FREE;
		if (is_free && !next_free) {
			uint64_t rl = seg_end(s) - run_start;
			const struct tnode *rn = t_find_eq(r->runs, (uint32_t)run_start);
			if (!rn || rn->len != rl)
				return bad(&a, "free run %" PRIu64 "+%" PRIu64 " not indexed",
					   run_start, rl);
			nruns++;
			if (rl > largest)
				largest = rl;
		}
		pos = seg_end(s);
	}
	if (pos != r->npages)
		return bad(&a, "segments cover %" PRIu64 " of %u pages", pos, r->npages);
	if (check_index(&r->index) < 0 || r->index.n != r->n_alloc)
		return bad(&a, "offset index inconsistent (%u entries, %u allocations)",
			   r->index.n, r->n_alloc);
	cnt = 0;
	if (check_tree(r->segs, 0, UINT64_MAX, UINT32_MAX, false, &cnt) < 0 || cnt != nseg)
		return bad(&a, "segment tree inconsistent (%zu nodes, %zu segments)", cnt, nseg);
	size_t total_free = 0;
	for (unsigned i = 0; i < DMABUFD_REGION_N_ATTR; i++) {
		cnt = 0;
		if (check_tree(r->fa[i], 0, UINT64_MAX, UINT32_MAX, true, &cnt) < 0 ||
		    cnt != nfree[i])
			return bad(&a, "free tree of attribute %u inconsistent", i);
		total_free += cnt;
		if (fpa[i] != r->free_pages_attr[i] || used[i] != r->used_pages[i])
			return bad(&a, "attribute %u totals: free %" PRIu64 "/%u used %" PRIu64
				       "/%u",
				   i, fpa[i], r->free_pages_attr[i], used[i], r->used_pages[i]);
	}
	cnt = 0;
	if (check_tree(r->pinned, 0, UINT64_MAX, UINT32_MAX, false, &cnt) < 0 || cnt != npin)
		return bad(&a, "pinned tree inconsistent (%zu nodes, %u pinned)", cnt, npin);
	if (npin && r->pinned_min != pinned_leftmost(r))
		return bad(&a, "lowest pinned allocation %u, expected %u", r->pinned_min,
			   pinned_leftmost(r));
	cnt = 0;
	if (check_tree(r->runs, 0, UINT64_MAX, UINT32_MAX, true, &cnt) < 0 || cnt != nruns ||
	    cnt != r->n_runs)
		return bad(&a, "free-run tree inconsistent (%zu nodes, %zu runs)", cnt, nruns);
	if (t_maxlen(r->runs) != largest)
		return bad(&a, "largest free run %u, expected %" PRIu64, t_maxlen(r->runs), largest);
	if (total_free != r->n_free_extents || freep != r->free_pages || resv != r->reserved_pages ||
	    npin != r->n_pinned || nmov != r->n_movable || pinp != r->pinned_pages ||
	    movp != r->movable_pages || npin + nmov != r->n_alloc)
		return bad(&a, "counters do not add up");
	if (freep + resv + pinp + movp != r->npages ||
	    used[0] + used[1] + used[2] != pinp + movp)
		return bad(&a, "free + reserved + used != %u pages", r->npages);
	return 0;
}

/* ---- fuzz entry --------------------------------------------------------- */

static int nth_alloc_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	uint32_t *st = userdata; /* [0] = countdown, [1] = result offset */
	if (e->state != DMABUFD_REGION_USED)
		return 0;
	if (st[0]-- == 0) {
		st[1] = e->offset;
		return 1;
	}
	return 0;
}

static uint32_t rd32(const uint8_t *d, size_t n, size_t *off)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v = v << 8 | (*off < n ? d[(*off)++] : 0);
	return v;
}

int dmabufd_region_fuzz_step(struct dmabufd_region *r, const uint8_t *data, size_t size,
			     size_t *ret_consumed)
{
	size_t off = 0;
	int ret = 0;

	if (size == 0)
		return -ENODATA;
	uint8_t op = data[off++];
	uint32_t a = rd32(data, size, &off), b = rd32(data, size, &off);
	uint32_t npages = 1 + a % (r->npages < 4096 ? r->npages : 4096);
	uint32_t align = 1u << ((b >> 8) % 12);
	enum dmabufd_attribute attr = (enum dmabufd_attribute)((b & 0xff) % 3);
	bool movable = (op >> 4) & 1;
	uint32_t off32;
	struct dmabufd_region_plan *plan = NULL;

	switch (op & 7) {
	case 0:
	case 1:
		(void)dmabufd_region_alloc(r, npages, align, attr, movable, &off32);
		break;
	case 2:
		(void)dmabufd_region_claim(r, b % r->npages, npages, 1, attr, movable);
		break;
	case 3:
	case 4: {
		uint32_t st[2] = {a % (r->n_alloc ? r->n_alloc : 1), 0};
		if (r->n_alloc && dmabufd_region_walk(r, nth_alloc_cb, st))
			ret = dmabufd_region_free(r, st[1]) == 0 ? 0 : -EUCLEAN;
		break;
	}
	case 5:
		if (op & 0x80)
			(void)dmabufd_region_unreserve(r, b % r->npages, 1 + a % 64);
		else
			(void)dmabufd_region_reserve(r, b % r->npages, 1 + a % 64);
		break;
	case 6:
		if (dmabufd_region_plan_for(r, npages, align, attr, movable, &plan) == 0) {
			if (dmabufd_region_apply_plan(r, plan) < 0 ||
			    (plan->has_target &&
			     dmabufd_region_alloc(r, npages, align, attr, movable, &off32) < 0))
				ret = -EUCLEAN;
		}
		break;
	default:
		if (dmabufd_region_plan_compact(r, &plan) == 0 && dmabufd_region_apply_plan(r, plan) < 0)
			ret = -EUCLEAN;
		break;
	}
	dmabufd_region_plan_free(plan);
	*ret_consumed = off < size ? off : size;
	if (ret == 0)
		ret = dmabufd_region_audit(r, NULL, 0);
	return ret;
}
