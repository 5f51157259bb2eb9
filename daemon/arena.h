/* SPDX-License-Identifier: MIT */
/*
 * A bump allocator for protobuf-c unpacking (issue 10): a request is
 * decoded into a fixed buffer instead of several malloc() calls, and
 * "freed" by resetting the arena. Blocks that do not fit come from malloc()
 * and are freed on reset, so any valid message still decodes.
 */
#ifndef DMABUFD_ARENA_H
#define DMABUFD_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define ARENA_BYTES 16384u

struct arena {
	ProtobufCAllocator allocator;  /* pass &arena.allocator to *_unpack() */
	size_t used;                   /* bytes of @buf handed out */
	void *overflow;                /* malloc'ed blocks, linked through their first word */
	_Alignas(max_align_t) uint8_t buf[ARENA_BYTES];
};

/** arena_init() - ready @a for use (allocations are max_align_t aligned). */
void arena_init(struct arena *a);

/** arena_allocator() - @a's allocator, initialising a zeroed (static) @a. */
ProtobufCAllocator *arena_allocator(struct arena *a);

/** arena_reset() - release everything allocated since the last reset. */
void arena_reset(struct arena *a);

#endif
