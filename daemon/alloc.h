/* SPDX-License-Identifier: MIT */
/* The requests that make and end buffers (alloc.c). */
#ifndef DMABUFD_ALLOC_H
#define DMABUFD_ALLOC_H

#include <stdint.h>

#include "dmabufd.pb-c.h"
#include "types.h"

/**
 * handle_alloc() - Alloc: validate, choose the backends that can serve
 * it, place and materialise the buffer in the first that has room, record
 * it and reply with its fd. Every failure is a refusal that changes
 * nothing.
 */
void handle_alloc(struct client *c, uint64_t id, const Dmabufd__Alloc *req);

/**
 * handle_alloc_framebuffer() - AllocFramebuffer: the plane layout
 * (fb_layout.h), then an Alloc of its size whose reply carries the planes.
 */
void handle_alloc_framebuffer(struct client *c, uint64_t id, const Dmabufd__AllocFramebuffer *req);

/**
 * handle_release() - Release: the owner ends its buffer (or hands it to
 * the earliest importer); an importer ends its import.
 */
void handle_release(struct client *c, uint64_t id, const Dmabufd__Release *req);

#endif
