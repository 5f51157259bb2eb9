/* SPDX-License-Identifier: MIT */
/*
 * Node slabs of the region allocator: chunks of fixed-size slots and a free
 * list, so that nodes are reserved before an operation changes anything
 * and no operation fails half-way on ENOMEM.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "region_internal.h"

static uint32_t rnd(struct dmabufd_region *r)
{
	/* xorshift64*: deterministic priorities, no global state */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint32_t)((r->rng * 2685821657736338717ull) >> 32);
}

/* ---- node slabs (so that no operation fails half-way on ENOMEM) --------- */

/* Nodes come from per-region chunks of fixed-size slots, aligned so that no
 * treap node (struct tnode, 32 bytes) straddles a 32-byte boundary: a
 * descent reads one cache line per node, never two (an 88-byte segment from
 * malloc would put its free-extent node across two lines three times in
 * four).
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

/* Chunks come from malloc (so that fault injection reaches them), over-allocated by SLAB_HDR - 1 bytes and
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

void region_slab_finish(struct region_slab *sl)
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

int region_spares(struct dmabufd_region *r, unsigned nseg, unsigned nrun)
{
	while (r->segslab.nfree < nseg)
		if (slab_grow(&r->segslab, SEG_SLOT) < 0)
			return -ENOMEM;
	while (r->runslab.nfree < nrun)
		if (slab_grow(&r->runslab, RUN_SLOT) < 0)
			return -ENOMEM;
	return 0;
}

struct seg *region_get_seg(struct dmabufd_region *r)
{
	struct seg *s = slab_get(&r->segslab);

	memset(s, 0, sizeof(*s));
	s->t.prio = rnd(r);
	s->f.prio = rnd(r);
	return s;
}

void region_put_seg(struct dmabufd_region *r, struct seg *s)
{
	slab_put(&r->segslab, s);
}

struct run *region_get_run(struct dmabufd_region *r)
{
	struct run *n = slab_get(&r->runslab);

	memset(n, 0, sizeof(*n));
	n->t.prio = rnd(r);
	return n;
}

void region_put_run(struct dmabufd_region *r, struct run *n)
{
	slab_put(&r->runslab, n);
}
