/* SPDX-License-Identifier: MIT */
/*
 * The dma-heap backend: buffers are allocated from /dev/dma_heap/<name> with
 * DMA_HEAP_IOCTL_ALLOC (<linux/dma-heap.h>, Documentation/userspace-api/
 * dma-buf-heaps.rst) and are real dma-bufs, named with DMA_BUF_SET_NAME.
 *
 * Heaps are discovered by listing /dev/dma_heap. A heap is contiguous when
 * it is a CMA heap: "linux,cma", "reserved", "default_cma_region" (the
 * names drivers/dma-buf/heaps/cma_heap.c registers the default CMA area
 * under), or one named in opts->heaps_contiguous; others ("system") are not.
 * Heap memory is CACHED unless the heap is configured as write-combine or
 * uncached (opts->heaps_writecombine / heaps_uncached, e.g. a vendor's
 * "system-uncached" heap): the upstream heaps only give cached memory.
 *
 * The region here is bookkeeping: heap pages come from the kernel, not from
 * a range the daemon owns, so placement (and migration) only account for
 * capacity. A CONTIGUOUS request goes to a contiguous heap or fails with
 * -EOPNOTSUPP.
 *
 * With --pool-budget, CACHED non-contiguous requests are served from a
 * pre-zeroed pool (pool.h: zeroing off the request path) when the heap they go to is not
 * contiguous (the "system" heap): a dma-heap buffer's pages are allocated
 * and zeroed by the kernel inside DMA_HEAP_IOCTL_ALLOC (system_heap.c
 * allocates with __GFP_ZERO) and its mmap maps them all, so the pool's
 * worker thread just allocates ahead; the request path takes a ready fd
 * and names it with DMA_BUF_SET_NAME after the request's label (pooled
 * buffers are named "dmabufd-pool" until then). A pooled fd is handed out
 * once and never reused: a released one is only closed (by the worker),
 * since its former owner may still map it. CMA heaps are never pooled (CMA
 * is scarce); their buffers and the write-combine/uncached heaps' are
 * charged to the pool (pool_charge()) so that live + pooled stays within
 * the capacity.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/dma-heap.h>

#include "backend.h"
#include "log.h"
#include "macros.h"
#include "pool.h"
#include "probe.h"
#include "registry.h"

#define DMAHEAP_DEFAULT_CAPACITY (256ull << 20)
#define DMAHEAP_MAX_HEAPS 16

struct heap {
	char name[64];
	int fd;
	bool contiguous;
	uint32_t attributes; /* bit (1 << enum dmabufd_attribute) */
};

struct dmaheap_backend {
	struct backend base;
	uint64_t capacity;
	uint32_t page_size;
	struct heap heaps[DMAHEAP_MAX_HEAPS];
	size_t nheaps;
	struct pool *pool;        /* NULL without --pool-budget or a poolable heap */
	const struct heap *pool_heap; /* the heap the pool allocates from */
};

/* Is @name one of the comma-separated names in @list? */
static bool name_in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && *p == ' ') {
			p++;
			n--;
		}
		while (n && p[n - 1] == ' ')
			n--;
		if (n == len && memcmp(p, name, len) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

static struct heap *pick_heap(struct dmaheap_backend *h, const struct backend_alloc *req);

/* DMA_HEAP_IOCTL_ALLOC of @size bytes on @hp: len; fd_flags O_RDWR|O_CLOEXEC; heap_flags 0. */
static int heap_alloc(const struct heap *hp, uint64_t size, int *ret_fd)
{
	struct dma_heap_allocation_data data = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
		.heap_flags = 0,
	};

	if (ioctl(hp->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0)
		return negative_errno();
	*ret_fd = (int)data.fd;
	return 0;
}

/*
 * The pool's factory (worker thread): one buffer of @size bytes from the
 * pool's heap (@userdata), its pages allocated and zeroed by the kernel in
 * the ioctl. Named "dmabufd-pool" until it is handed out. Reads only the
 * heap's fd, which is fixed from dmaheap_create() to pool_destroy().
 */
static int dmaheap_make_pooled(uint64_t size, void *userdata, int *ret_fd)
{
	int err = heap_alloc(userdata, size, ret_fd);

	if (err == 0)
		(void)dmabuf_set_name(*ret_fd, "dmabufd-pool");
	return err;
}

/*
 * Starts the pool for CACHED non-contiguous requests when the heap they go
 * to is not contiguous. Return: 0 (also when there is nothing to pool);
 * negative errno of pool_create().
 */
static int dmaheap_pool_start(struct dmaheap_backend *h, const struct backend_options *opts)
{
	const struct backend_alloc probe_req = { .attribute = DMABUFD_ATTR_CACHED };
	struct pool_config pc = {
		.budget = opts->pool_budget,
		.capacity = h->capacity,
		.nclasses = opts->pool_nclasses,
	};
	const struct heap *hp = pick_heap(h, &probe_req);
	int err;

	if (!hp || hp->contiguous) {
		log_warn("dma-heap: --pool-budget ignored: no non-contiguous cached heap to pool");
		return 0;
	}
	for (unsigned i = 0; i < pc.nclasses && i < POOL_MAX_CLASSES; i++)
		pc.classes[i] = opts->pool_classes[i];
	err = pool_create(&pc, dmaheap_make_pooled, (void *)hp, &h->pool);
	if (err < 0)
		return err;
	h->pool_heap = hp;
	log_info("dma-heap: pre-zeroed pool of up to %llu bytes on heap %s",
		 (unsigned long long)pc.budget, hp->name);
	return 0;
}

static void dmaheap_destroy(struct backend *b)
{
	struct dmaheap_backend *h;

	if (!b)
		return;
	h = container_of(b, struct dmaheap_backend, base);
	pool_destroy(h->pool); /* stops the worker before the heap fds close */
	for (size_t i = 0; i < h->nheaps; i++)
		close(h->heaps[i].fd);
	free(h);
}

static int dmaheap_create(const struct backend_options *opts, struct backend **ret)
{
	char dirpath[512], path[600];
	struct dmaheap_backend *h;
	struct dirent *de;
	long page = sysconf(_SC_PAGESIZE);
	DIR *dir;

	if (!probe_path(dirpath, sizeof(dirpath), "/dev/dma_heap"))
		return -ENAMETOOLONG;
	dir = opendir(dirpath);
	if (!dir)
		return errno == ENOENT ? -ENODEV : -errno;
	h = calloc(1, sizeof(*h));
	if (!h) {
		closedir(dir);
		return -ENOMEM;
	}
	h->base.ops = &dmaheap_backend_ops;
	h->page_size = page > 0 ? (uint32_t)page : 4096;
	while ((de = readdir(dir)) && h->nheaps < DMAHEAP_MAX_HEAPS) {
		struct heap *hp = &h->heaps[h->nheaps];
		size_t len = strlen(de->d_name);
		int fd;

		if (de->d_name[0] == '.' || len >= sizeof(hp->name) ||
		    strlen(dirpath) + 1 + len >= sizeof(path))
			continue;
		memcpy(path, dirpath, strlen(dirpath));
		path[strlen(dirpath)] = '/';
		memcpy(path + strlen(dirpath) + 1, de->d_name, len + 1);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		memcpy(hp->name, de->d_name, len + 1);
		hp->fd = fd;
		hp->contiguous = strcmp(de->d_name, "linux,cma") == 0 ||
				 strcmp(de->d_name, "reserved") == 0 ||
				 strcmp(de->d_name, "default_cma_region") == 0 ||
				 name_in_list(opts ? opts->heaps_contiguous : NULL, de->d_name);
		hp->attributes = 1u << DMABUFD_ATTR_CACHED;
		if (opts && name_in_list(opts->heaps_writecombine, de->d_name))
			hp->attributes = 1u << DMABUFD_ATTR_WRITECOMBINE;
		if (opts && name_in_list(opts->heaps_uncached, de->d_name))
			hp->attributes = 1u << DMABUFD_ATTR_UNCACHED;
		h->nheaps++;
	}
	closedir(dir);
	if (h->nheaps == 0) {
		free(h);
		return -ENODEV;
	}
	h->capacity = opts && opts->capacity ? opts->capacity : DMAHEAP_DEFAULT_CAPACITY;
	h->capacity -= h->capacity % h->page_size;
	if (h->capacity == 0) {
		dmaheap_destroy(&h->base);
		return -EINVAL;
	}
	if (opts && opts->pool_budget) {
		int err = dmaheap_pool_start(h, opts);

		if (err < 0) {
			dmaheap_destroy(&h->base);
			return err;
		}
	}
	*ret = &h->base;
	return 0;
}

static void dmaheap_get_caps(struct backend *b, struct backend_caps *ret)
{
	struct dmaheap_backend *h = container_of(b, struct dmaheap_backend, base);
	struct backend_caps caps = {
		.name = "dma-heap",
		.migration = false,
		.dmabuf = true,
		.region_size = h->capacity,
		.page_size = h->page_size,
	};

	for (size_t i = 0; i < h->nheaps; i++) {
		caps.attributes |= h->heaps[i].attributes;
		caps.contiguous |= h->heaps[i].contiguous;
	}
	*ret = caps;
}

/*
 * The heap for @req: the attribute must match; a CONTIGUOUS request takes a
 * contiguous heap; otherwise a non-contiguous heap is preferred (CMA is
 * scarce), "system" first.
 */
static struct heap *pick_heap(struct dmaheap_backend *h, const struct backend_alloc *req)
{
	const bool contig = req->flags & DMABUFD_ALLOC_CONTIGUOUS;
	struct heap *best = NULL;

	for (size_t i = 0; i < h->nheaps; i++) {
		struct heap *hp = &h->heaps[i];

		if (!(hp->attributes & (1u << req->attribute)))
			continue;
		if (contig && !hp->contiguous)
			continue;
		if (!best || (!contig && best->contiguous && !hp->contiguous) ||
		    (best->contiguous == hp->contiguous && strcmp(hp->name, "system") == 0))
			best = hp;
	}
	return best;
}

static int dmaheap_alloc(struct backend *b, const struct backend_alloc *req, int *ret_fd,
			 const char **ret_reason)
{
	struct dmaheap_backend *h = container_of(b, struct dmaheap_backend, base);
	const char *label = req->label && req->label[0] ? req->label : "dmabufd";
	struct heap *hp = pick_heap(h, req);
	int fd = -1, err;

	if (!hp) {
		*ret_reason = (req->flags & DMABUFD_ALLOC_CONTIGUOUS) ?
				      "no contiguous (CMA) dma-heap offers this attribute" :
				      "no dma-heap offers this attribute";
		return -EOPNOTSUPP;
	}
	if (h->pool) {
		/* The pool's heap serves exactly the CACHED non-contiguous requests. */
		if (hp == h->pool_heap) {
			if (pool_get(h->pool, req->size, &fd) == 0)
				goto named;
		} else {
			pool_charge(h->pool, req->size);
		}
	}
	err = heap_alloc(hp, req->size, &fd);
	if (err < 0) {
		*ret_reason = "DMA_HEAP_IOCTL_ALLOC failed";
		if (h->pool)
			pool_put(h->pool, req->size, -1);
		return err;
	}
named:
	/*
	 * A failed name is cosmetic (bufinfo shows no owner, or "dmabufd-pool"
	 * for a pooled one); keep the buffer. Never attached yet, so even
	 * kernels before 5.15 (-EBUSY once attached) take it.
	 */
	(void)dmabuf_set_name(fd, label);
	*ret_fd = fd;
	return 0;
}

static void dmaheap_release(struct backend *b, struct buffer *buf)
{
	struct dmaheap_backend *h = container_of(b, struct dmaheap_backend, base);

	if (h->pool)
		pool_put(h->pool, buf->size, buf->fd); /* closed by the worker, never reused */
	else if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

/* Heap pages are not in a range the daemon owns: moving is bookkeeping. */
static int dmaheap_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	return 0;
}

static void dmaheap_get_pool_stats(struct backend *b, struct backend_pool_stats *ret)
{
	struct dmaheap_backend *h = container_of(b, struct dmaheap_backend, base);
	struct pool_stats ps = { 0 };

	if (h->pool)
		pool_get_stats(h->pool, &ps);
	*ret = (struct backend_pool_stats){
		.pooled = ps.pooled,
		.hits = ps.hits,
		.misses = ps.misses,
	};
}

const struct backend_ops dmaheap_backend_ops = {
	.name = "dma-heap",
	.create = dmaheap_create,
	.destroy = dmaheap_destroy,
	.get_caps = dmaheap_get_caps,
	.alloc = dmaheap_alloc,
	.release = dmaheap_release,
	.migrate = dmaheap_migrate,
	.get_pool_stats = dmaheap_get_pool_stats,
};
