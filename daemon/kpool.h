/* SPDX-License-Identifier: MIT */
/*
 * Pools of placed buffers (kpool.c): for a backend whose buffers live at a
 * placement in its region (kmod, caps.placed_pool_budget > 0), buffers of
 * the (size, attribute) classes clients ask for (a miss teaches the class),
 * or the configuration names (kpool_teach() at start), are made ahead of need at
 * placements the server chose, by a worker thread, and handed out without
 * the backend's cost on the request path (for kmod: the claim, the zeroing
 * and the attribute transition of DMABUFD_REGION_IOC_EXPORT).
 *
 * Rules:
 * - A pooled buffer is an allocation in the backend's region like any
 *   other (pinned, of its class's attribute): the ledger always describes
 *   the pages as they are. Handing it out passes that allocation to the
 *   new buffer; nothing is placed twice.
 * - A pooled buffer is handed out once, zeroed, and never comes back as
 *   a buffer: the backend made it for nobody (no mapping, no other fd).
 * - With a parking backend (caps.parking: kmod whose module parks), a
 *   released pinned buffer's pages stay the backend's in their attribute
 *   (kpool_offer_parked()): while its class has room (ready, parked and
 *   being made below the class's depth, and the budget), the placement
 *   stays allocated and becomes the placement of the class's next fill,
 *   which reuses the pages (zeroing only: no claim, no attribute
 *   transition); otherwise the pages are unparked and the placement freed,
 *   as for any release. Fresh placements fill a class that has ready
 *   buffers only up to one short of its depth: the last place is for a
 *   released extent, so that at steady state every release comes back.
 * - Pooled and parked bytes, with the one being made, never exceed the
 *   budget, and the pool never fills fresh placements into the region's
 *   last budget's worth of free pages; a request that finds no room
 *   drains the pool (kpool_drain(), parked extents included) and is placed
 *   again.
 * - Under memory pressure (MemAvailable below 5% of MemTotal, or the
 *   memory PSI "some" avg10 at 10% or more, checked once a second) the pool
 *   is drained, parked extents unparked, so that its pages go back to the
 *   kernel for movable allocations, and it is neither refilled nor takes
 *   parked extents for 10 s after the last sign of pressure.
 * - Event-loop thread only, except the worker, which only calls the
 *   backend's prepare().
 */
#ifndef DMABUFD_KPOOL_H
#define DMABUFD_KPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "types.h"

struct kpool;

/**
 * kpool_create() - start the pool of @sb (budget caps.placed_pool_budget
 * bytes) and its worker thread.
 * Return: 0 and *@ret; -EINVAL (no budget, or the backend has no
 * prepare()/commit()); -ENOMEM; negative errno of eventfd/pthread_create.
 */
int kpool_create(struct server_backend *sb, struct kpool **ret);

/** kpool_destroy() - stop the worker and close every pooled buffer; NULL ok. */
void kpool_destroy(struct kpool *kp);

/**
 * kpool_take() - a pooled buffer for @req (size, attribute, alignment,
 * flags; a MOVABLE request is never served: pooled buffers are pinned).
 * On success req->offset is its placement, already in the region, and
 * *@ret_fd the daemon's reference, recorded by the backend as if alloc()
 * had made it. A miss teaches the pool the class and wakes the worker.
 * Return: 0; -ENOENT (none ready).
 */
int kpool_take(struct kpool *kp, struct backend_alloc *req, int *ret_fd);

/**
 * kpool_drain() - give every pooled buffer back to the backend now (its
 * placement is freed when the backend reports the pages free, which for
 * kmod happens before this returns), and unpark every parked extent the
 * pool kept (placement freed at once); the extents the given-back buffers
 * leave parked are unparked too.
 * Return: bytes drained.
 */
uint64_t kpool_drain(struct kpool *kp);

/**
 * kpool_teach() - learn the class (@size, @attribute) as a miss would,
 * without a request, and start filling it: for the configured classes at
 * start. A taught class is then like a learnt one (replaced when
 * KPOOL_MAX_CLASSES more recently requested classes come).
 * @size: bytes, rounded up to the backend's page size
 * Return: 0; -EINVAL (@size 0, or larger than the region or the budget);
 * -EOPNOTSUPP (the backend does not make @attribute).
 */
int kpool_teach(struct kpool *kp, uint64_t size, enum dmabufd_attribute attribute);

/**
 * kpool_offer_parked() - the backend parked a released buffer's pages,
 * [@offset, @offset + @size) bytes in @attribute, whose placement is still
 * allocated (backend/events.c). Kept for the next fill of the class of
 * (@size, @attribute) if it has room (kpool.h rules) and the pool is
 * neither draining nor under pressure.
 * Return: true (the pool owns the extent and its placement now); false
 * (the caller unparks the pages and frees the placement).
 */
bool kpool_offer_parked(struct kpool *kp, uint64_t offset, uint64_t size,
			enum dmabufd_attribute attribute);

/** kpool_get_stats() - pooled bytes, hits, misses. */
void kpool_get_stats(const struct kpool *kp, struct backend_pool_stats *ret);

#endif
