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
 */
void buffer_release(struct server *s, struct buffer *b);

/**
 * buffer_unmake() - undo a materialised buffer that never reached the
 * registry: release it in its backend and free its placement (unless
 * deferred). @b itself is not freed.
 */
void buffer_unmake(struct server *s, struct buffer *b);

#endif
