/* SPDX-License-Identifier: MIT */
/*
 * A fake backend for the unit tests of the server: a struct backend_ops
 * implementation over memfds, without a kernel, with caps the test chooses
 * and counts of what the server asked of it. Each buffer is a memfd of the
 * requested size; its placement is the server's bookkeeping only, and
 * release() frees it at once (no deferred release, no revoke, no events).
 */
#ifndef DMABUFD_TEST_FAKE_BACKEND_H
#define DMABUFD_TEST_FAKE_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

struct event_base;

/* What fake_backend_new() makes. */
struct fake_backend_options {
	const char *name;       /* caps.name, also List's backend; NULL: "fake" */
	uint32_t attributes;    /* bit (1 << enum dmabufd_attribute) */
	bool contiguous;        /* caps.contiguous */
	uint64_t region_size;   /* bytes, caps.region_size (capacity); page_size is 4096 */
	/*
	 * bytes, caps.placed_pool_budget; 0: none. Non-zero also offers
	 * prepare() and commit(), which the server's pool of placed buffers
	 * (daemon/kpool.c) needs.
	 */
	uint64_t placed_pool_budget;
	/*
	 * caps.migration and a migrate() that always succeeds (the contents
	 * stay in the memfd). Without it migrate() is NULL: the server then
	 * neither compacts the region on -ENOSPC nor includes the backend in
	 * Compact.
	 */
	bool migration;
};

/*
 * A fake backend. The counters are atomic: prepare() runs on the server's
 * pool worker, the rest on the event loop.
 */
struct fake_backend {
	struct backend base;    /* hand &base to server_init()/server_add_backend() */
	struct backend_caps caps; /* what get_caps() answers; the test may change it */
	struct backend_ops ops; /* base.ops: the ops the options chose */
	atomic_uint made;       /* buffers made: successful alloc() and prepare() */
	atomic_uint nprepared;  /* prepare() calls */
	atomic_uint releases;   /* release() calls */
};

/*
 * fake_backend_new() - a fake backend as @opts says (dma-bufs, page size
 * 4096, counters 0). Fails the running cmocka test when out of memory.
 * Its destroy() (server_finish()) frees it; free() one never handed to a
 * server.
 * Return: the backend.
 */
struct fake_backend *fake_backend_new(const struct fake_backend_options *opts);

/*
 * fake_serve_child() - fork a client process that runs @child(@arg) and
 * _exit()s with its return value, and run @base's event loop (the server
 * under test) until the child has exited (SIGCHLD). Fails the running
 * cmocka test unless the child exited 0.
 */
void fake_serve_child(struct event_base *base, int (*child)(void *arg), void *arg);

#endif
