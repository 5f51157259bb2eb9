/* SPDX-License-Identifier: MIT */
/*
 * A bump allocator for protobuf-c unpacking, to keep malloc off the
 * request path: a request is decoded into a fixed buffer instead of
 * several malloc() calls, and "freed" by resetting the arena. Blocks that do not fit come from malloc()
 * and are freed on reset, so any valid message still decodes.
 */
#ifndef DMABUFD_ARENA_H
#define DMABUFD_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define ARENA_BYTES 16384u

struct arena {
	ProtobufCAllocator allocator;  /* pass &arena.allocator to *_unpack() */
	size_t used;                   /* bytes of @buf handed out */
	void *overflow;                /* malloc'ed blocks, linked through their first word */
	bool failed;                   /* an allocation failed since the last reset */
	_Alignas(max_align_t) uint8_t buf[ARENA_BYTES];
};

/** arena_init() - ready @a for use (allocations are max_align_t aligned). */
void arena_init(struct arena *a);

/** arena_allocator() - @a's allocator, initialising a zeroed (static) @a. */
ProtobufCAllocator *arena_allocator(struct arena *a);

/**
 * arena_failed() - did an allocation fail since the last arena_reset()?
 * protobuf-c's *_unpack() returns NULL both for malformed input and when
 * its allocator fails; after a NULL unpack, true means out of memory
 * (answer -ENOMEM, not a protocol error), false means malformed input
 * (-EBADMSG). docs/RELIABILITY.md, "Fault injection".
 */
bool arena_failed(const struct arena *a);

/** arena_reset() - release everything allocated since the last reset. */
void arena_reset(struct arena *a);

#endif
