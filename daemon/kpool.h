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
 * - A pooled buffer is handed out once, zeroed, and never comes back: the
 *   backend made it for nobody (no mapping, no other fd) and a released
 *   buffer's pages go back to the region as for any release.
 * - Pooled bytes never exceed the budget, and the pool never fills into
 *   the region's last budget's worth of free pages; a request that finds
 *   no room drains the pool (kpool_drain()) and is placed again.
 * - Under memory pressure (MemAvailable below 5% of MemTotal, or the
 *   memory PSI "some" avg10 at 10% or more, checked once a second) the pool
 *   is drained, so that its pages go back to the kernel for movable
 *   allocations, and it is not refilled for 10 s after the last sign of
 *   pressure.
 * - Event-loop thread only, except the worker, which only calls the
 *   backend's prepare().
 */
#ifndef DMABUFD_KPOOL_H
#define DMABUFD_KPOOL_H

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
 * kmod happens before this returns).
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

/** kpool_get_stats() - pooled bytes, hits, misses. */
void kpool_get_stats(const struct kpool *kp, struct backend_pool_stats *ret);

#endif
