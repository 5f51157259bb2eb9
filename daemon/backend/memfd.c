/* SPDX-License-Identifier: MIT */
/*
 * The memfd backend, the embedded default: each buffer is a memfd of the
 * page-aligned size, sealed against shrink/grow and further sealing
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, memfd_create(2)), so that a
 * client can neither truncate it under another mapper (SIGBUS) nor grow it
 * past its accounting. CACHED only; not physically contiguous; no dma-buf.
 *
 * With --pool-budget, buffers come from a pre-zeroed pool (pool.h): a worker
 * thread creates memfds of the common sizes and writes zeroes to every page
 * (pwrite(2), no mapping), so the client's first write maps an already
 * zeroed page instead of allocating and clearing one. A memfd is handed out once:
 * a released one may still be mapped by its former owner, so it is only
 * ever closed (by the worker: freeing a large memfd's pages is slow), never
 * reused. At release every page is punched out of the memfd (memfd_release()),
 * whoever else still holds it. Pooled memfds are named "dmabufd-pool" instead of the request's
 * label (a memfd's name is fixed at creation); the registry keeps the label.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "macros.h"
#include "pool.h"
#include "registry.h"

#define MEMFD_DEFAULT_CAPACITY (256ull << 20)

struct memfd_backend {
	struct backend base;
	uint64_t capacity;
	uint32_t page_size;
	struct pool *pool;      /* NULL when --pool-budget is 0 */
};

/* Seals every memfd buffer gets: no shrink (SIGBUS), no grow, no unsealing. */
#define MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/*
 * The pool's factory (worker thread): a sealed memfd of @size bytes whose
 * pages are all allocated, zeroed and up to date. Writing zeroes with
 * pwrite(2) does that without a mapping in the daemon (an mmap/munmap
 * would take the daemon's mmap lock and send TLB-shootdown IPIs to the CPU
 * running the event loop). Touches no daemon state.
 */
static int memfd_make_populated(uint64_t size, void *userdata, int *ret_fd)
{
	static const uint8_t zeroes[64 << 10];
	_cleanup_close_ int fd = -1;

	(void)userdata;
	fd = memfd_create("dmabufd-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return negative_errno();
	if (ftruncate(fd, (off_t)size) < 0)
		return negative_errno();
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < sizeof(zeroes) ? (size_t)(size - off) : sizeof(zeroes);
		ssize_t w = pwrite(fd, zeroes, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? negative_errno() : -EIO;
		off += (uint64_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, MEMFD_SEALS) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

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
	if (opts && opts->pool_budget) {
		struct pool_config pc = {
			.budget = opts->pool_budget,
			.capacity = m->capacity,
			.nclasses = opts->pool_nclasses,
		};
		int err;

		for (unsigned i = 0; i < pc.nclasses && i < POOL_MAX_CLASSES; i++)
			pc.classes[i] = opts->pool_classes[i];
		err = pool_create(&pc, memfd_make_populated, m, &m->pool);
		if (err < 0) {
			free(m);
			return err;
		}
	}
	*ret = &m->base;
	return 0;
}

static void memfd_destroy(struct backend *b)
{
	if (!b)
		return;
	pool_destroy(container_of(b, struct memfd_backend, base)->pool);
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
	struct memfd_backend *m = container_of(b, struct memfd_backend, base);
	_cleanup_close_ int fd = -1;
	const char *name = req->label && req->label[0] ? req->label : "dmabufd";
	int err;

	if (req->attribute != DMABUFD_ATTR_CACHED) {
		*ret_reason = "the memfd backend only provides cached memory";
		return -EOPNOTSUPP;
	}
	if (req->flags & DMABUFD_ALLOC_CONTIGUOUS) {
		*ret_reason = "the memfd backend cannot provide contiguous memory";
		return -EOPNOTSUPP;
	}
	if (m->pool && pool_get(m->pool, req->size, ret_fd) == 0)
		return 0;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		*ret_reason = "memfd_create failed";
		err = negative_errno();
		goto fail;
	}
	if (ftruncate(fd, (off_t)req->size) < 0) {
		*ret_reason = "ftruncate of the memfd failed";
		err = negative_errno();
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, MEMFD_SEALS) < 0) {
		*ret_reason = "sealing the memfd failed";
		err = negative_errno();
		goto fail;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;

fail:
	if (m->pool)
		pool_put(m->pool, req->size, -1);
	return err;
}

static void memfd_release(struct backend *b, struct buffer *buf)
{
	struct memfd_backend *m = container_of(b, struct memfd_backend, base);

	/*
	 * Empty the file first: a process that kept an fd or a mapping of a
	 * released buffer must not keep its pages outside every quota, and
	 * nothing tells the daemon when a memfd's last reference goes. Every
	 * page is freed and every mapping of it zapped (the seals allow a
	 * hole: no F_SEAL_WRITE); the file keeps its size, and a page written
	 * into it again is new memory charged by the kernel to the writer's
	 * memory cgroup, like a memfd it made itself. Not when the daemon is
	 * stopping (buf->discard false): clients and the next instance keep
	 * their buffers.
	 */
	if (buf->discard && buf->fd >= 0 &&
	    fallocate(buf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)buf->size) < 0)
		log_warn("memfd: cannot empty buffer %llu at release: %s",
			 (unsigned long long)buf->id, strerror(errno));
	if (m->pool)
		pool_put(m->pool, buf->size, buf->fd); /* closed by the worker */
	else if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

/* A memfd has no physical placement: moving it is bookkeeping only. */
static int memfd_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	return 0;
}

static void memfd_get_pool_stats(struct backend *b, struct backend_pool_stats *ret)
{
	struct memfd_backend *m = container_of(b, struct memfd_backend, base);
	struct pool_stats ps = { 0 };

	if (m->pool)
		pool_get_stats(m->pool, &ps);
	*ret = (struct backend_pool_stats){
		.pooled = ps.pooled,
		.hits = ps.hits,
		.misses = ps.misses,
	};
}

const struct backend_ops memfd_backend_ops = {
	.name = "memfd",
	.create = memfd_create_backend,
	.destroy = memfd_destroy,
	.get_caps = memfd_get_caps,
	.alloc = memfd_alloc,
	.release = memfd_release,
	.migrate = memfd_migrate,
	.get_pool_stats = memfd_get_pool_stats,
};
