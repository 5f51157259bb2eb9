/* SPDX-License-Identifier: MIT */
/*
 * Index of the live allocations by first page (region_internal.h, struct
 * region_index): open addressing with linear probing.
 */
#include <errno.h>
#include <stdlib.h>

#include "region_internal.h"

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

void region_ix_put(struct region_index *x, struct seg *s)
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
struct seg *region_ix_find(const struct region_index *x, uint32_t key)
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
void region_ix_erase(struct region_index *x, struct seg *s)
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
int region_ix_reserve(struct dmabufd_region *r, uint64_t need)
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
			region_ix_put(&nx, s);
	free(x->slot);
	*x = nx;
	return 0;
}

/* Every entry of the offset index is a live allocation, tagged with its
 * distance from its home slot, with no empty slot in between. */
int region_ix_check(const struct region_index *x)
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
