/* SPDX-License-Identifier: MIT */
/*
 * Pre-zeroed buffer pools: an Alloc should not wait for the kernel to zero
 * its pages.
 *
 * The kernel zeroes every new page on the thread that first touches it. A
 * pool moves that work off the request path: a worker thread makes buffers
 * of common size classes ahead of time (a backend callback creates one fd
 * and populates every page, zeroed by the kernel), and the request path
 * takes one out in O(1) under a mutex.
 *
 * Rules:
 * - A pooled fd is handed out once and never comes back: a released buffer
 *   may still be mapped by its former owner, so reusing it would leak that
 *   owner's data or let it scribble on the next owner's buffer. Released
 *   fds are closed by the worker (freeing a large memfd's pages takes
 *   milliseconds that the event loop should not spend).
 * - Pooled bytes count against the backend's capacity: live + pooled <=
 *   capacity at all times. A request that needs the room evicts pooled
 *   buffers (largest class first) before it is materialised, so the pool
 *   never makes a request fail. Pooled bytes are also bounded by the budget.
 * - The worker touches nothing but the pool's own state (struct pool: its
 *   mutex-protected classes, atomic counters and close ring) and the fds it
 *   creates or is given to close. It runs 10 nice levels below the daemon
 *   (at the clients' priority when the daemon runs at Nice=-10), and the
 *   event loop never waits for it (pool.c).
 *
 * Size classes are exact buffer sizes (bytes, page multiples): configured
 * ([pool] classes or --pool-classes, the cached ones), or learned from requests that missed twice in a row (at most
 * POOL_MAX_CLASSES, the least recently requested one is replaced).
 */
#ifndef DMABUFD_POOL_H
#define DMABUFD_POOL_H

#include <stdbool.h>
#include <stdint.h>

#define POOL_MAX_CLASSES 8u
#define POOL_MAX_DEPTH 64u  /* buffers per class */

struct pool;

/*
 * Makes one populated, zeroed buffer of @size bytes; runs on the worker
 * thread. Return: 0 and *ret_fd (O_CLOEXEC), or a negative errno.
 */
typedef int (*pool_make_fn)(uint64_t size, void *userdata, int *ret_fd);

struct pool_config {
	uint64_t budget;     /* bytes the pool may hold; must be > 0 */
	uint64_t capacity;   /* bytes, the backend's capacity (live + pooled <= it) */
	uint64_t classes[POOL_MAX_CLASSES]; /* bytes, page multiples */
	unsigned nclasses;   /* configured classes; 0 = learn from requests */
	bool learn;          /* also learn classes from missed requests */
};

struct pool_stats {
	uint64_t pooled;     /* bytes held ready */
	uint64_t hits;       /* requests served from the pool */
	uint64_t misses;     /* requests the pool could not serve */
	uint64_t evicted;    /* bytes returned to make room for requests */
};

/**
 * pool_create() - start a pool and its worker thread.
 * @cfg: budget, capacity, classes (copied)
 * @make: buffer factory run on the worker; @userdata is passed to it
 * Return: 0 and *ret; -EINVAL (budget 0); -ENOMEM; negative errno from
 * pthread_create(3).
 */
int pool_create(const struct pool_config *cfg, pool_make_fn make, void *userdata,
		struct pool **ret);

/** pool_destroy() - stop the worker, close every pooled fd; accepts NULL. */
void pool_destroy(struct pool *p);

/**
 * pool_get() - charge @size bytes (a page multiple) to the live total and
 * take a pooled buffer of exactly that size if one is ready.
 * Evicts pooled buffers as needed so that live + pooled <= capacity.
 * Return: 0 and *ret_fd (the caller owns it); -ENOENT on a miss (the size
 * is still charged: the caller materialises the buffer itself, and calls
 * pool_put() if that fails).
 */
int pool_get(struct pool *p, uint64_t size, int *ret_fd);

/**
 * pool_charge() - charge @size bytes (a page multiple) to the live total
 * for a buffer the pool does not serve (a backend whose pool covers only
 * some of its requests, e.g. the dma-heap backend's CMA heaps), evicting
 * pooled buffers as needed so that live + pooled <= capacity. Release it
 * with pool_put() like any other. Does not count as a hit or a miss.
 */
void pool_charge(struct pool *p, uint64_t size);

/**
 * pool_put() - uncharge @size bytes (charged by pool_get() or
 * pool_charge()); @fd (or -1) is closed by the worker. Never reuses @fd.
 * Uncharging more than is charged leaves the live total at 0 (never wraps).
 */
void pool_put(struct pool *p, uint64_t size, int fd);

/** pool_get_stats() - the figures shown in Stats. */
void pool_get_stats(struct pool *p, struct pool_stats *ret);

#endif
