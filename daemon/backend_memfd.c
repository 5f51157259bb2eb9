/* SPDX-License-Identifier: MIT */
/*
 * The memfd backend, the embedded default: each buffer is a memfd of the
 * page-aligned size, sealed against shrink/grow and further sealing
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, memfd_create(2)), so that a
 * client can neither truncate it under another mapper (SIGBUS) nor grow it
 * past its accounting. CACHED only; not physically contiguous; no dma-buf.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "macros.h"
#include "registry.h"

#define MEMFD_DEFAULT_CAPACITY (256ull << 20)

struct memfd_backend {
	struct backend base;
	uint64_t capacity;
	uint32_t page_size;
};

static int memfd_create_backend(const struct backend_options *opts, struct backend **ret)
{
	struct memfd_backend *m = calloc(1, sizeof(*m));
	long page = sysconf(_SC_PAGESIZE);

	if (!m)
		return -ENOMEM;
	m->base.ops = &memfd_backend_ops;
	m->page_size = page > 0 ? (uint32_t)page : 4096;
	m->capacity = opts && opts->capacity ? opts->capacity : MEMFD_DEFAULT_CAPACITY;
	m->capacity -= m->capacity % m->page_size;
	if (m->capacity == 0) {
		free(m);
		return -EINVAL;
	}
	*ret = &m->base;
	return 0;
}

static void memfd_destroy(struct backend *b)
{
	free(b);
}

static void memfd_get_caps(struct backend *b, struct backend_caps *ret)
{
	struct memfd_backend *m = container_of(b, struct memfd_backend, base);

	*ret = (struct backend_caps){
		.name = "memfd",
		.attributes = 1u << DMABUFD_ATTR_CACHED,
		.contiguous = false,
		.migration = false,
		.dmabuf = false,
		.region_size = m->capacity,
		.page_size = m->page_size,
	};
}

static int memfd_alloc(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		       const char **ret_reason)
{
	_cleanup_close_ int fd = -1;
	const char *name = req->label && req->label[0] ? req->label : "dmabufd";

	if (req->attribute != DMABUFD_ATTR_CACHED) {
		*ret_reason = "the memfd backend only provides cached memory";
		return -EOPNOTSUPP;
	}
	if (req->flags & DMABUFD_ALLOC_CONTIGUOUS) {
		*ret_reason = "the memfd backend cannot provide contiguous memory";
		return -EOPNOTSUPP;
	}
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		*ret_reason = "memfd_create failed";
		return negative_errno();
	}
	if (ftruncate(fd, (off_t)req->size) < 0) {
		*ret_reason = "ftruncate of the memfd failed";
		return negative_errno();
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		*ret_reason = "sealing the memfd failed";
		return negative_errno();
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void memfd_release(struct backend *b, struct buffer *buf)
{
	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

/* A memfd has no physical placement: moving it is bookkeeping only. */
static int memfd_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	return 0;
}

const struct backend_ops memfd_backend_ops = {
	.name = "memfd",
	.create = memfd_create_backend,
	.destroy = memfd_destroy,
	.get_caps = memfd_get_caps,
	.alloc = memfd_alloc,
	.release = memfd_release,
	.migrate = memfd_migrate,
};
