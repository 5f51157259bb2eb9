/* SPDX-License-Identifier: MIT */
#include "arena.h"

#include <stdlib.h>

#define ARENA_ALIGN _Alignof(max_align_t)

static void *arena_alloc(void *data, size_t size)
{
	struct arena *a = data;
	size_t need = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	void **block;

	if (size <= ARENA_BYTES && need <= ARENA_BYTES - a->used) {
		void *p = a->buf + a->used;

		a->used += need;
		return p;
	}
	/* Too big for what is left: a malloc'ed block with a link word in front. */
	if (size > SIZE_MAX - ARENA_ALIGN) {
		a->failed = true;
		return NULL;
	}
	block = malloc(ARENA_ALIGN + size);
	if (!block) {
		a->failed = true;
		return NULL;
	}
	*block = a->overflow;
	a->overflow = block;
	return (uint8_t *)block + ARENA_ALIGN;
}

static void arena_free(void *data, void *p)
{
	/* Everything goes at arena_reset(). */
	(void)data;
	(void)p;
}

void arena_init(struct arena *a)
{
	a->allocator.alloc = arena_alloc;
	a->allocator.free = arena_free;
	a->allocator.allocator_data = a;
	a->used = 0;
	a->overflow = NULL;
	a->failed = false;
}

ProtobufCAllocator *arena_allocator(struct arena *a)
{
	if (!a->allocator.alloc)
		arena_init(a);
	return &a->allocator;
}

void arena_reset(struct arena *a)
{
	while (a->overflow) {
		void **block = a->overflow;

		a->overflow = *block;
		free(block);
	}
	a->used = 0;
	a->failed = false;
}

bool arena_failed(const struct arena *a)
{
	return a->failed;
}
