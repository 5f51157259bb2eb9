/* SPDX-License-Identifier: MIT */
/*
 * The backend interface: what materialises a placed buffer as a file
 * descriptor. The server never knows which backend it talks to; a backend
 * is a table of function pointers (DESIGN.md, "Backends").
 *
 * A backend that cannot honour a requested attribute or contiguity answers
 * -EOPNOTSUPP; it never silently downgrades (DESIGN.md).
 */
#ifndef DMABUFD_BACKEND_H
#define DMABUFD_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "dmabufd/dmabufd.h"

struct buffer;
struct placement_granule;

/* What a backend can do; reported in Hello and Stats. */
struct backend_caps {
	const char *name;       /* "memfd", "kmod", ... */
	uint32_t attributes;    /* bit (1 << enum dmabufd_attribute) */
	bool contiguous;        /* physically contiguous buffers */
	bool migration;         /* can relocate movable buffers */
	bool dmabuf;            /* fds are dma-bufs */
	uint64_t region_size;   /* bytes the backend manages (capacity) */
	uint32_t page_size;     /* bytes */
	/*
	 * deferred_release (kmod): a buffer's pages stay in use after
	 * release() until every fd/mmap/attachment of it is gone, which the
	 * backend reports through handle_events(). The server then keeps the
	 * placement at release and unplaces it on the event (backend/events.c).
	 */
	bool deferred_release;
	/* Revoke (docs/SHARING.md) takes a buffer's memory back from every
	 * holder: kmod with a module offering DMABUFD_REGION_CAP_REVOKE. */
	bool revocation;
	/*
	 * placed_pool_budget (kmod): bytes of buffers the server keeps made
	 * ahead of need at placements of its own (daemon/kpool.c), through
	 * prepare() and commit(); 0: none. A backend whose buffers live at a
	 * placement cannot pool them itself, since only the server places.
	 */
	uint64_t placed_pool_budget;
	/*
	 * claim_granule_pages (kmod with a module offering OCCUPANCY): the
	 * region's free pages are lent to the kernel, and occupancy() says
	 * per granule of this many pages what a claim would have to move
	 * (placement_cost.h); 0: no occupancy().
	 */
	uint32_t claim_granule_pages;
	/*
	 * parking (kmod with a pool budget and a module offering
	 * DMABUFD_REGION_CAP_PARK): a released pinned buffer's pages may stay
	 * the backend's, in their attribute, reported through
	 * backend_sink.parked(); the server then either makes a buffer at
	 * that placement again (the backend reuses the pages: no claim, no
	 * attribute change) or calls unpark().
	 */
	bool parking;
};

/* A live buffer the backend found at start-up that this daemon did not make. */
struct backend_live_buffer {
	uint64_t offset;        /* bytes inside the region */
	uint64_t size;          /* bytes */
	enum dmabufd_attribute attribute;
	uint32_t flags;         /* DMABUFD_ALLOC_* (MOVABLE) */
	const char *label;
};

/* Callbacks of the server for events-capable backends (backend/events.c). */
struct backend_sink {
	void *ctx;
	/*
	 * released() - the pages of [offset, offset+size) bytes are free again.
	 * @orphan: the buffer adopt() returned for it, or NULL for a buffer the
	 * server already released.
	 */
	void (*released)(void *ctx, uint64_t offset, uint64_t size, struct buffer *orphan);
	/*
	 * parked() - as released(), but the pages of [offset, offset+size)
	 * bytes stay the backend's, in @attribute (caps.parking): the server
	 * keeps the placement and makes it the placement of a new buffer of
	 * that size and attribute, or gives the pages back with unpark() and
	 * frees the placement.
	 */
	void (*parked)(void *ctx, uint64_t offset, uint64_t size, enum dmabufd_attribute attribute,
		       struct buffer *orphan);
	/*
	 * adopt() - start-up: claim the placement of @lb and register it as an
	 * orphan (owner unknown). Return: the buffer, or NULL when it could
	 * not be claimed (the backend then forgets it).
	 */
	struct buffer *(*adopt)(void *ctx, const struct backend_live_buffer *lb);
	/*
	 * unusable() - start-up: [offset, offset+size) bytes hold frames no
	 * buffer can ever use (firmware-reserved, holes); the server reserves
	 * them in the region for good.
	 */
	void (*unusable)(void *ctx, uint64_t offset, uint64_t size);
};

/* Options given to a backend at creation (from the command line/config). */
struct backend_options {
	uint64_t capacity;      /* bytes; 0 = the backend's default */
	/* dma-heap: comma-separated heap names (NULL = none) configured as
	 * contiguous (CMA), write-combine or uncached: the kernel does not
	 * say which heap gives what. */
	const char *heaps_contiguous;
	const char *heaps_writecombine;
	const char *heaps_uncached;
	/* Pre-zeroed pools (daemon/pool.h); budget 0 disables them. */
	uint64_t pool_budget;   /* bytes */
	uint64_t pool_classes[8]; /* bytes; POOL_MAX_CLASSES entries */
	unsigned pool_nclasses; /* 0 = learn size classes from requests */
};

/* Pool figures for Stats (all zero for a backend without a pool). */
struct backend_pool_stats {
	uint64_t pooled;        /* bytes held ready, counted against capacity */
	uint64_t hits;          /* allocations served from the pool */
	uint64_t misses;        /* allocations the pool could not serve */
};

/* One allocation, already validated and placed by the server. */
struct backend_alloc {
	uint64_t size;          /* bytes, a multiple of page_size, > 0 */
	uint64_t offset;        /* bytes, placement inside the region */
	uint64_t alignment;     /* bytes, 0 or a power of two (placement) */
	enum dmabufd_attribute attribute;
	uint32_t flags;         /* DMABUFD_ALLOC_* */
	const char *label;      /* NUL-terminated, may be "" */
};

struct backend;

struct backend_ops {
	const char *name;
	/*
	 * create() - probe and set up the backend.
	 * Return: 0 and *ret; -ENODEV when the backend's device/feature is
	 * absent; -ENOMEM; other negative errno.
	 */
	int (*create)(const struct backend_options *opts, struct backend **ret);
	/* destroy() - tear down; accepts NULL. Every buffer was released. */
	void (*destroy)(struct backend *b);
	void (*get_caps)(struct backend *b, struct backend_caps *ret);
	/*
	 * alloc() - materialise a buffer.
	 * @ret_fd: receives the daemon's reference (O_CLOEXEC); the server
	 *          sends a copy of it to the client
	 * @ret_reason: on failure, a static string explaining it (may be NULL)
	 * Return: 0; -EOPNOTSUPP (attribute/flag not honoured); -ENOMEM;
	 * -EBUSY (the placement cannot be used; the server may place
	 * elsewhere); other negative errno.
	 */
	int (*alloc)(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		     const char **ret_reason);
	/*
	 * prepare() - optional (with commit(); NULL: alloc() only). alloc()'s
	 * first half: make the buffer of @req at req->offset without recording
	 * it anywhere in the backend, so that it may run on another thread
	 * than every other op (the server's pool worker, daemon/kpool.c).
	 * @ret_fd: the daemon's reference
	 * @ret_handle: the backend's name for it, for commit()
	 * @ret_reason: as alloc()'s (may stay NULL)
	 * Return: as alloc().
	 *
	 * commit() - event-loop thread: record what prepare() made, as alloc()
	 * would have. Return: 0; -ENOMEM (then the caller closes @fd).
	 */
	int (*prepare)(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		       uint64_t *ret_handle, const char **ret_reason);
	int (*commit)(struct backend *b, const struct backend_alloc *req, int fd, uint64_t handle);
	/*
	 * release() - the daemon drops its reference to @buf (owner released
	 * it or is gone). Closes buf->fd. With buf->discard the contents are
	 * no one's any more and may be discarded (memfd empties the file);
	 * without it (the daemon is stopping) they must stay. Cannot fail.
	 */
	void (*release)(struct backend *b, struct buffer *buf);
	/*
	 * migrate() - relocate a movable buffer's pages to @new_offset (bytes
	 * inside the region) while keeping its contents and its fds; on
	 * success the server commits the move to the region allocator. NULL:
	 * the backend cannot relocate buffers (compaction is then refused).
	 * The memfd backend's placement is bookkeeping only, so it succeeds.
	 * Return: 0; -EBUSY (a device has it attached; try later); other
	 * negative errno. The buffer is unchanged on failure.
	 */
	int (*migrate)(struct backend *b, struct buffer *buf, uint64_t new_offset);
	/*
	 * revoke() - optional (NULL: the backend cannot revoke, and Revoke
	 * answers -EOPNOTSUPP; memfd is such a backend, since a memfd stays
	 * valid memory in every process that holds it).
	 * Cut every CPU mapping and device attachment of @buf, the owner's
	 * and every importer's alike: afterwards mmap() and faults on any fd
	 * of the buffer give SIGBUS/-ENODEV, new attachments fail, and the
	 * pages may be reused by the region once the backend reports them
	 * free. The server then releases @buf as usual (release() is still
	 * called). docs/SHARING.md, "Revocation".
	 * @ret_reason: on failure, a static string (may be NULL)
	 * Return: 0; -EBUSY (a device still has the buffer mapped for DMA and
	 * the backend cannot fence it); other negative errno. On failure
	 * nothing changed.
	 */
	int (*revoke)(struct backend *b, struct buffer *buf, const char **ret_reason);
	/*
	 * occupancy() - optional, for caps.claim_granule_pages backends: a
	 * snapshot of what the kernel keeps in pages [@first, @first +
	 * @npages) of the region now, one entry per granule of
	 * caps.claim_granule_pages pages from @first (a multiple of it); the
	 * last one may be short.
	 * @ret_g: receives a malloc'd array of ceil(@npages / granule)
	 *         entries (the caller frees it)
	 * @ret_n: receives its length
	 * Return: 0; -EINVAL (a range outside the region, @first unaligned);
	 * -ENOMEM; other negative errno (the caller places as if every page
	 * were free). Outputs untouched on failure.
	 */
	int (*occupancy)(struct backend *b, uint64_t first, uint64_t npages,
			 struct placement_granule **ret_g, uint32_t *ret_n);
	/*
	 * unpark() - with caps.parking: the parked pages of [offset,
	 * offset+size) bytes go back to the system; the caller frees the
	 * placement. Return: 0; negative errno (the pages then stay the
	 * backend's until it is destroyed; the placement may still be freed:
	 * the backend refuses to make a buffer over them, -EBUSY).
	 */
	int (*unpark)(struct backend *b, uint64_t offset, uint64_t size);
	/* get_pool_stats() - optional (NULL: no pool). Cannot fail. */
	void (*get_pool_stats)(struct backend *b, struct backend_pool_stats *ret);
	/*
	 * get_attr_transitions() - optional (NULL: the backend has no such
	 * counter; only kmod changes the kernel's linear map). The kernel's
	 * count of linear-map cache-attribute changes of the backend's pages
	 * since the module was loaded (kmod: DMABUFD_REGION_IOC_INFO
	 * attr_transitions; each set_memory_wc/uc and the matching
	 * set_memory_wb count one each), for Stats.
	 * Return: 0 and *ret; negative errno of the query.
	 */
	int (*get_attr_transitions)(struct backend *b, uint64_t *ret);
	/*
	 * Optional (NULL for memfd), for caps.deferred_release backends:
	 * event_fd() - an fd the server polls for readability; -1 if none.
	 * handle_events() - read what is pending (non-blocking) and report
	 * each released range through @sink->released().
	 * rebuild() - at start-up, report every live buffer made by an
	 * earlier daemon through @sink->adopt(). Return: 0 or negative errno.
	 */
	int (*event_fd)(struct backend *b);
	void (*handle_events)(struct backend *b, const struct backend_sink *sink);
	int (*rebuild)(struct backend *b, const struct backend_sink *sink);
};

struct backend {
	const struct backend_ops *ops;
};

extern const struct backend_ops memfd_backend_ops;
extern const struct backend_ops dmaheap_backend_ops;  /* backend/dmaheap.c */
extern const struct backend_ops udmabuf_backend_ops;  /* backend/udmabuf.c */
extern const struct backend_ops kmod_backend_ops;

/**
 * backend_find() - the backend ops table named @name ("memfd", ...).
 * Return: the table, or NULL if no backend has that name.
 */
const struct backend_ops *backend_find(const char *name);

#endif
