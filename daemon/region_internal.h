/* SPDX-License-Identifier: MIT */
/* Private to region.c and region_plan.c. */
#ifndef DMABUFD_DAEMON_REGION_INTERNAL_H
#define DMABUFD_DAEMON_REGION_INTERNAL_H

#include <stddef.h>

#include "region.h"

/* Treap node, intrusive. key = first page, len = pages, maxlen = largest len
 * in the subtree (maintained only in the free-extent and free-run trees). */
struct tnode {
	struct tnode *l, *r;
	uint32_t key, len, maxlen, prio;
};

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

/* Node slab (region.c): chunks of fixed-size slots and a free list, so that
 * nodes are reserved before an operation changes anything (no operation
 * fails half-way on ENOMEM) and no treap node straddles a cache line. */
struct region_slab {
	void *free;       /* free slots, linked through their first word */
	void *chunks;     /* chunks, linked through their first word */
	uint32_t nfree, nchunks;
};

/* Index of the live allocations by first page (region.c): open addressing
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

/* Slot sizes of the node slabs (region.c), in bytes. */
#define REGION_SEG_SLOT 96 /* sizeof(struct seg) rounded up to 32 */
#define REGION_RUN_SLOT 32

/* Bytes the region holds: the struct and every slab chunk (nodes in use,
 * free slots kept for reuse, chunk headers). */
size_t region_memory_bytes(const struct dmabufd_region *r);

struct tnode *region_t_find_le(struct tnode *n, uint32_t key);
struct dmabufd_region *region_clone(const struct dmabufd_region *r);
/* Placement search (policy of dmabufd_region_alloc()); 0 or -ENOSPC. */
int region_place(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
		 enum dmabufd_attribute attr, bool movable, uint32_t *ret_pos);
bool region_valid_args(const struct dmabufd_region *r, uint32_t npages, uint32_t align,
		       enum dmabufd_attribute attr);

#endif
