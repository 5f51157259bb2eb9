/* SPDX-License-Identifier: MIT */
/* Private to the files of daemon/region/ (which include macros.h first:
 * seg_of_t() and seg_of_f() use container_of()). */
#ifndef DMABUFD_DAEMON_REGION_INTERNAL_H
#define DMABUFD_DAEMON_REGION_INTERNAL_H

#include <stddef.h>

#include "region.h"
#include "treap.h"

/* A segment of the partition of [0, npages). The segment tree is not
 * augmented, so t.maxlen is never used: the four one-byte fields live in
 * its place (an anonymous struct overlaying t up to it), which leaves room
 * in the 96-byte slot for the two parent links. */
struct seg {
	union {
		struct tnode t;    /* in region->segs (t.maxlen unused) */
		struct {
			uint8_t t_head_[offsetof(struct tnode, maxlen)];
			uint8_t state;      /* enum dmabufd_region_state */
			uint8_t attr;       /* enum dmabufd_attribute */
			uint8_t movable;    /* USED only */
			uint8_t align_log2; /* USED only */
		};
	};
	struct tnode f;            /* FREE: in region->fa[attr]; pinned USED:
	                              in region->pinned */
	struct seg *prev, *next;   /* address order */
	struct tnode *up;          /* parent of t in region->segs (NULL: root) */
	struct tnode *fup;         /* FREE: parent of f in region->fa[attr]
	                              (NULL: root); unused otherwise */
};

/* A maximal run of free pages (any attributes). */
struct run {
	struct tnode t;
};

/* Node slab (slab.c): chunks of fixed-size slots and a free list, so that
 * nodes are reserved before an operation changes anything (no operation
 * fails half-way on ENOMEM) and no treap node straddles a cache line. */
struct region_slab {
	void *free;       /* free slots, linked through their first word */
	void *chunks;     /* chunks, linked through their first word */
	uint32_t nfree, nchunks;
};

/* Index of the live allocations by first page (index.c): open addressing
 * with linear probing. A slot holds a segment pointer (segments are 32-byte
 * aligned) whose low 5 bits are its distance from its home slot (31: 31 or
 * more, then the segment is read), so that a lookup reads a segment only
 * for keys that share its home slot, and an erase moves entries back
 * without reading any. At most 3/4 full; grows by doubling, never shrinks
 * (like the slabs, it holds the peak). */
struct region_index {
	uintptr_t *slot;
	uint32_t mask;    /* capacity - 1 (capacity a power of two; 0: none) */
	uint32_t n;       /* entries */
	unsigned bits;    /* log2(capacity) */
};

struct dmabufd_region {
	uint32_t npages;
	uint32_t page_size;
	uint32_t flags;
	uint32_t initial_attr;
	uint64_t rng;
	struct tnode *segs;                       /* all segments */
	struct tnode *fa[DMABUFD_REGION_N_ATTR];  /* free extents per attribute */
	struct tnode *runs;                       /* maximal free runs */
	struct tnode *pinned;                     /* pinned allocations (seg.f) */
	uint32_t pinned_min;                      /* first page of the lowest one
	                                             (valid while n_pinned > 0) */
	struct seg *head;
	/* counters */
	uint32_t free_pages, reserved_pages, n_free_extents, n_runs;
	uint32_t n_alloc, n_pinned, n_movable, pinned_pages, movable_pages;
	uint32_t used_pages[DMABUFD_REGION_N_ATTR];
	uint32_t free_pages_attr[DMABUFD_REGION_N_ATTR];
	uint64_t transitions, transition_events, moves, pages_moved;
	struct region_slab segslab, runslab;
	struct region_index index;                /* USED segments by offset */
};

#define seg_of_t(n) container_of(n, struct seg, t)
#define seg_of_f(n) container_of(n, struct seg, f)

static inline uint64_t seg_end(const struct seg *s)
{
	return (uint64_t)s->t.key + s->t.len;
}

/* Slot sizes of the node slabs (slab.c), in bytes. */
#define REGION_SEG_SLOT 96 /* sizeof(struct seg) rounded up to 32 */
#define REGION_RUN_SLOT 32

static inline uint64_t align_up(uint64_t x, uint32_t a)
{
	return (x + a - 1) & ~(uint64_t)(a - 1);
}

static inline uint64_t align_down(uint64_t x, uint32_t a)
{
	return x & ~(uint64_t)(a - 1);
}

/* ---- trees of segments (treap.h) ---------------------------------------- */

/* Offsets of the parent links from the nodes they belong to. */
#define SEG_T_UP ((ptrdiff_t)offsetof(struct seg, up) - (ptrdiff_t)offsetof(struct seg, t))
#define SEG_F_UP ((ptrdiff_t)offsetof(struct seg, fup) - (ptrdiff_t)offsetof(struct seg, f))

/* Inserts @n into the segment tree right after @prev in offset order (NULL:
 * as the first segment). Call before linking @n into the list: @prev's list
 * successor (or the head) is @n's in-order successor. The segment tree keeps
 * parent links so that this, and segt_erase(), need no descent from the
 * root; no placement depends on its shape (it answers lookups by offset). */
static inline void segt_insert_after(struct dmabufd_region *r, struct seg *prev, struct seg *n)
{
	struct seg *succ = prev ? prev->next : r->head;

	treap_rot_insert(&r->segs, &n->t, prev ? &prev->t : NULL, succ ? &succ->t : NULL,
			 SEG_T_UP);
}

static inline void segt_erase(struct dmabufd_region *r, struct seg *s)
{
	treap_rot_erase(&r->segs, &s->t, SEG_T_UP);
}

/* The free-extent trees (region->fa[]) keep parent links too (seg.fup), so
 * that a known extent is erased, and a change of its length is carried to
 * the subtree maxima, by walking up from the node with early exit. */
static inline void fat_insert(struct tnode **root, struct tnode *n)
{
	treap_link_insert(root, n, SEG_F_UP, true);
}

/* After @x shrank or its key moved in place. */
static inline void fat_shrunk(struct tnode *x)
{
	treap_link_fix(x, SEG_F_UP);
}

/* After @x grew to @len. */
static inline void fat_grow(struct tnode *x, uint32_t len)
{
	treap_link_grow(x, len, SEG_F_UP);
}

static inline void fa_insert(struct dmabufd_region *r, struct seg *s)
{
	s->f.key = s->t.key;
	s->f.len = s->t.len;
	fat_insert(&r->fa[s->attr], &s->f);
	r->n_free_extents++;
}

/* The pinned allocations (seg.f), neither augmented nor linked. */
static inline void pinned_insert(struct dmabufd_region *r, struct seg *s)
{
	treap_link_insert(&r->pinned, &s->f, TREAP_NO_UP, false);
}

static inline void list_insert_after(struct seg *s, struct seg *n)
{
	n->prev = s;
	n->next = s->next;
	if (s->next)
		s->next->prev = n;
	s->next = n;
}

/* ---- slab.c -------------------------------------------------------------- */

/* Bytes the region holds: the struct and every slab chunk (nodes in use,
 * free slots kept for reuse, chunk headers). */
size_t region_memory_bytes(const struct dmabufd_region *r);
/* Makes sure @nseg segment and @nrun run nodes can be taken without
 * failing; 0 or -ENOMEM. */
int region_spares(struct dmabufd_region *r, unsigned nseg, unsigned nrun);
/* Takes a zeroed node with fresh priorities (a spare must be there). */
struct seg *region_get_seg(struct dmabufd_region *r);
struct run *region_get_run(struct dmabufd_region *r);
void region_put_seg(struct dmabufd_region *r, struct seg *s);
void region_put_run(struct dmabufd_region *r, struct run *n);
void region_slab_finish(struct region_slab *sl);

/* ---- index.c ------------------------------------------------------------- */

void region_ix_put(struct region_index *x, struct seg *s);
/* The live allocation starting at @key, or NULL. O(1) expected. */
struct seg *region_ix_find(const struct region_index *x, uint32_t key);
/* Removes @s (which must be present). */
void region_ix_erase(struct region_index *x, struct seg *s);
/* Makes room for @need entries; changes nothing on -ENOMEM. */
int region_ix_reserve(struct dmabufd_region *r, uint64_t need);
/* Audit: 0 if every entry is a live allocation correctly tagged, else -1. */
int region_ix_check(const struct region_index *x);

/* ---- segments.c ---------------------------------------------------------- */

/* Where a placement was found, so that carving can skip a descent: the
 * free run holding it, or the free extent holding its first page. */
struct region_hint {
	const struct tnode *run;
	const struct tnode *extent;
};

struct seg *region_seg_at(const struct dmabufd_region *r, uint32_t page);
/* True if [pos, pos+k) is entirely free (in one maximal free run). */
bool region_range_free(const struct dmabufd_region *r, uint32_t pos, uint32_t k);
/* Splits a FREE or RESERVED segment at @at (strictly inside); returns the
 * right part. Needs one spare seg. */
struct seg *region_seg_split(struct dmabufd_region *r, struct seg *s, uint32_t at);
/* Takes the free range [pos, pos+k) out of the free indexes (@h: where
 * place() found it, or NULL); returns its first segment, state USED, for
 * region_make_used(). Needs 2 spare segs and 1 spare run. */
struct seg *region_carve(struct dmabufd_region *r, uint32_t pos, uint32_t k,
			 const struct region_hint *h);
/* Turns the carved segments starting at @first into one allocation. */
void region_make_used(struct dmabufd_region *r, struct seg *first, uint32_t k,
		      enum dmabufd_attribute attr, bool movable, uint32_t align);
/* Makes a USED or RESERVED segment free (keeping its attribute) and merges.
 * Needs 1 spare run. */
void region_release(struct dmabufd_region *r, struct seg *s);
/* The lowest pinned allocation's first page (0 if there is none). */
uint32_t region_pinned_leftmost(const struct dmabufd_region *r);

/* ---- region.c, audit.c --------------------------------------------------- */

/* An empty region structure (no segment yet); NULL on ENOMEM. */
struct dmabufd_region *region_new(uint32_t npages, uint32_t page_size, uint32_t flags,
				  uint32_t attr);
struct dmabufd_region *region_clone(const struct dmabufd_region *r);
/* Placement search (policy of dmabufd_region_alloc()); 0 or -ENOSPC. */
int region_place(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
		 enum dmabufd_attribute attr, bool movable, uint32_t *ret_pos);
bool region_valid_args(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
		       enum dmabufd_attribute attr);

#endif
