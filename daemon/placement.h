/* SPDX-License-Identifier: MIT */
/*
 * Placement of buffers in each active backend's region (placement.c):
 * bytes and struct buffer on this side, pages and offsets on the region
 * allocator's; routing of a request to the backends that can serve it;
 * compaction. Offsets and sizes in bytes, page multiples.
 */
#ifndef DMABUFD_PLACEMENT_H
#define DMABUFD_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "types.h"

/* What a request needs from a backend (server_route()). */
struct route_request {
	uint64_t size;              /* bytes, before rounding to the backend's page */
	uint64_t alignment;         /* bytes, 0 or a power of two */
	enum dmabufd_attribute attribute;
	uint32_t flags;             /* DMABUFD_ALLOC_*, CONTIGUOUS included when a device needs it */
	bool contiguous_from_device; /* CONTIGUOUS came from a device without IOMMU (reasons) */
};

/**
 * server_route() - the active backends that satisfy @req, in probe order
 * (docs/BACKENDS.md, "Several backends at once"). A backend satisfies a
 * request when it offers the attribute, gives physically contiguous memory
 * if DMABUFD_ALLOC_CONTIGUOUS is set, and the size rounded up to its page
 * (and the alignment) fit in its capacity.
 * @ret_idx: receives up to SERVER_MAX_BACKENDS indexes into s->backends
 * @ret_n: how many (at least 1)
 * @ret_reason: on failure, the reason text (with one backend active, the
 *              wording single-backend daemons always gave)
 * Pure: looks at caps only, never at free space.
 * Return: 0; -EOPNOTSUPP (no active backend offers the attribute, or
 * contiguity when needed); -E2BIG (some satisfy the attribute and
 * contiguity, but the size or alignment exceeds each one's capacity).
 * Outputs untouched on failure except @ret_reason.
 */
int server_route(const struct server *s, const struct route_request *req,
		 unsigned ret_idx[SERVER_MAX_BACKENDS], unsigned *ret_n, struct reason *ret_reason);

/*
 * sb_region_init() - create @sb's region allocator over caps.region_size.
 * Return: 0, -EINVAL (empty or larger than DMABUFD_REGION_MAX_PAGES), -ENOMEM.
 *
 * sb_place() - choose the offset of a new buffer; when the region is
 * too fragmented, runs a compaction plan through the backend's migrate() op
 * first. Return: 0 and *ret_offset; -ENOSPC; -EINVAL; -ENOMEM.
 *
 * sb_unplace() - free a buffer's placement.
 *
 * sb_place_restored() - claim the recorded placement of a buffer
 * restored after a restart, or (non-contiguous backends) place it anew.
 * Return: 0; -EBUSY/-ENOSPC when it cannot be placed.
 *
 * sb_compact() - run a full compaction plan on @sb.
 * Return: as server_compact().
 *
 * Each works on one active backend, and only sees that backend's buffers.
 */
int sb_region_init(struct server_backend *sb);
int sb_place(struct server_backend *sb, uint64_t size, uint64_t alignment,
	     enum dmabufd_attribute attribute, bool movable, uint64_t *ret_offset);
void sb_unplace(struct server_backend *sb, uint64_t offset);
int sb_place_restored(struct server_backend *sb, struct buffer *b);
int sb_compact(struct server_backend *sb, struct server_compact_result *ret);

/**
 * server_compact() - run a full compaction plan (dmabufctl compact) on
 * every active backend that can migrate; *ret sums them (largest free runs:
 * the largest over those backends).
 * Return: 0 and *ret; -EOPNOTSUPP (no active backend can migrate); -ENOMEM;
 * -EUCLEAN (registry and region disagree: a bug, logged).
 */
int server_compact(struct server *s, struct server_compact_result *ret);

/** server_page_size() - the smallest placement granularity of the active backends (bytes). */
uint64_t server_page_size(const struct server *s);

/** server_capacity() - bytes all active backends manage. */
uint64_t server_capacity(const struct server *s);

/** sb_round() - @size rounded up to @sb's page (server_route() checked it cannot overflow). */
uint64_t sb_round(const struct server_backend *sb, uint64_t size);

/**
 * sb_used() - bytes held by live buffers @sb made (a walk of the registry
 * unless it is the only backend); *@ret_buffers (may be NULL) gets their
 * number.
 */
uint64_t sb_used(const struct server_backend *sb, uint32_t *ret_buffers);

#endif
