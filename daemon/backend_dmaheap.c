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
#include "macros.h"
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

static void dmaheap_destroy(struct backend *b)
{
	struct dmaheap_backend *h;

	if (!b)
		return;
	h = container_of(b, struct dmaheap_backend, base);
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
	struct dma_heap_allocation_data data = {
		.len = req->size,
		.fd_flags = O_RDWR | O_CLOEXEC,
		.heap_flags = 0,
	};
	struct heap *hp = pick_heap(h, req);

	if (!hp) {
		*ret_reason = (req->flags & DMABUFD_ALLOC_CONTIGUOUS) ?
				      "no contiguous (CMA) dma-heap offers this attribute" :
				      "no dma-heap offers this attribute";
		return -EOPNOTSUPP;
	}
	/* DMA_HEAP_IOCTL_ALLOC: len bytes; fd_flags O_RDWR|O_CLOEXEC; heap_flags 0. */
	if (ioctl(hp->fd, DMA_HEAP_IOCTL_ALLOC, &data) < 0) {
		*ret_reason = "DMA_HEAP_IOCTL_ALLOC failed";
		return -errno;
	}
	/* A failed name is cosmetic (bufinfo shows no owner); keep the buffer. */
	(void)dmabuf_set_name((int)data.fd, req->label && req->label[0] ? req->label : "dmabufd");
	*ret_fd = (int)data.fd;
	return 0;
}

static void dmaheap_release(struct backend *b, struct buffer *buf)
{
	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

/* Heap pages are not in a range the daemon owns: moving is bookkeeping. */
static int dmaheap_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	return 0;
}

const struct backend_ops dmaheap_backend_ops = {
	.name = "dma-heap",
	.create = dmaheap_create,
	.destroy = dmaheap_destroy,
	.get_caps = dmaheap_get_caps,
	.alloc = dmaheap_alloc,
	.release = dmaheap_release,
	.migrate = dmaheap_migrate,
};
