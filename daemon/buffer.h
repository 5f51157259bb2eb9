/* SPDX-License-Identifier: MIT */
/*
 * Buffer lifecycle: a materialised buffer is recorded (registry, owner,
 * bytes in use), released (hooks, registry, backend, placement) or, when
 * it never reached the registry, unmade. Modules that keep records naming
 * a buffer (share.c, fdstore.c) register a release hook instead of being
 * called from here by name.
 */
#ifndef DMABUFD_BUFFER_H
#define DMABUFD_BUFFER_H

#include "types.h"

/** buffer_init() - no held buffers yet (before any release). */
void buffer_init(struct server *s);

/** buffer_finish() - forget the held buffers (the daemon is stopping). */
void buffer_finish(struct server *s);

/**
 * buffer_stopping() - the daemon is stopping: from now on a release drops
 * the daemon's references but never discards contents (a client, or the
 * next instance through the fd store, may go on using them).
 */
void buffer_stopping(struct server *s);

/**
 * buffer_held_released() - the backend of @sb reports [@offset, +size)
 * free (kmod's release event): if a held buffer sits there, its charge
 * ends and it is forgotten. The caller unplaces the range.
 * Return: true when a held buffer was there.
 */
bool buffer_held_released(struct server *s, struct server_backend *sb, uint64_t offset);

/**
 * buffer_held_sweep() - end every polled held buffer (dma-heap, udmabuf)
 * whose dma-buf only the daemon references any more: closed, unplaced,
 * uncharged. Runs every second while there are some.
 * Return: how many ended.
 */
unsigned buffer_held_sweep(struct server *s);

/**
 * buffer_held_sweep_refused() - an Alloc was refused for room or quota:
 * buffer_held_sweep() now (at most every 100 ms), so that a client that
 * just closed its last reference gets the room back without waiting for
 * the next poll. Return: how many ended (0: retrying is pointless).
 */
unsigned buffer_held_sweep_refused(struct server *s);

/**
 * buffer_on_release() - call @hook for every buffer released from now on,
 * after the hooks registered before it. Registering a hook twice is a
 * no-op. Return: 0, or -ENOSPC (SERVER_MAX_RELEASE_HOOKS registered).
 */
int buffer_on_release(struct server *s, buffer_release_hook *hook);

/**
 * buffer_record() - make the materialised, charged @b live: give it its
 * id, put it on its owner's list and count its bytes.
 * Return: 0, or -ENOMEM (registry full; nothing changed).
 */
int buffer_record(struct server *s, struct buffer *b);

/**
 * buffer_release() - the end of a live buffer: the release hooks, its
 * owner's list, the registry, the backend and the placement (unless the
 * backend defers it); counts the release and frees @b.
 *
 * On a dma-buf backend, if another process may still hold the buffer, it
 * is held (struct held_buffer): its placement stays claimed and its charge
 * stays with its charged uid and gid until the last reference is gone
 * (docs/THREAT_MODEL.md, "Released buffers kept by a client").
 */
void buffer_release(struct server *s, struct buffer *b);

/**
 * buffer_unmake() - undo a materialised buffer that never reached the
 * registry: release it in its backend and free its placement (unless
 * deferred). @b itself is not freed.
 */
void buffer_unmake(struct server *s, struct buffer *b);

#endif
