/* SPDX-License-Identifier: MIT */
/*
 * The udmabuf backend: the daemon owns one memfd region of opts->capacity
 * bytes (hugetlb-backed when MFD_HUGETLB works, i.e. huge pages are
 * reserved; shmem otherwise), sealed with F_SEAL_SHRINK as udmabuf requires
 * (drivers/dma-buf/udmabuf.c: check_memfd_seals() wants F_SEAL_SHRINK and
 * refuses F_SEAL_WRITE). Each buffer is the range the server placed it at,
 * turned into a dma-buf with UDMABUF_CREATE (<linux/udmabuf.h>) and named
 * with DMA_BUF_SET_NAME. CACHED only; not physically contiguous.
 *
 * With huge pages the region's page size (caps.page_size, placement and
 * rounding granularity) is the huge page size, so buffers never share one.
 *
 * Reuse and lifetime: udmabuf pins the memfd's pages (memfd_pin_folios() in
 * 6.11+, page references before). At release the range is punched out of
 * the memfd (fallocate FALLOC_FL_PUNCH_HOLE), and again before each create,
 * so a reused range gets fresh zeroed pages and no stale data leaks into
 * the next owner. A client that kept its udmabuf fd (or a mapping) after
 * release still sees the old pages: the server then holds the range and
 * its charge until the dma-buf has no reference but the daemon's
 * (buffer.c, held buffers), so they are not reused meanwhile. Nothing can
 * revoke a udmabuf (kmod can). Migration is not offered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/udmabuf.h>

#include "backend.h"
#include "log.h"
#include "macros.h"
#include "probe.h"
#include "registry.h"

#define UDMABUF_DEFAULT_CAPACITY (256ull << 20)
#define HUGE_DEFAULT (2ull << 20)

struct udmabuf_backend {
	struct backend base;
	int dev_fd;       /* /dev/udmabuf */
	int memfd;        /* the region */
	bool hugetlb;
	uint64_t capacity;
	uint32_t page_size;
	uint64_t pool_budget; /* bytes the server keeps made ahead (kpool.c) */
};

static void udmabuf_destroy(struct backend *b)
{
	struct udmabuf_backend *u;

	if (!b)
		return;
	u = container_of(b, struct udmabuf_backend, base);
	if (u->memfd >= 0)
		close(u->memfd);
	if (u->dev_fd >= 0)
		close(u->dev_fd);
	free(u);
}

/* The default huge page size in bytes (/proc/meminfo "Hugepagesize:"), or 0. */
static uint64_t huge_page_size(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? (uint64_t)kb << 10 : 0;
}

/* A sealed region of @size bytes; hugetlb first when @huge is nonzero. */
static int region_memfd(uint64_t size, uint64_t huge, bool *ret_huge)
{
	int fd = -1;

	if (huge && size % huge == 0) {
		fd = memfd_create("dmabufd-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
		/* Reserve now: without free huge pages fallocate fails, fall back. */
		if (fd >= 0 && (ftruncate(fd, (off_t)size) < 0 ||
				fallocate(fd, 0, 0, (off_t)size) < 0)) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0) {
			/* Give the pages back; they are faulted in again per buffer. */
			(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size);
			*ret_huge = true;
		}
	}
	if (fd < 0) {
		fd = memfd_create("dmabufd-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)size) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		*ret_huge = false;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int udmabuf_create_backend(const struct backend_options *opts, struct backend **ret)
{
	char path[512];
	struct udmabuf_backend *u;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t hsize;
	bool huge = false;
	int fd;

	if (!probe_path(path, sizeof(path), "/dev/udmabuf"))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	u = calloc(1, sizeof(*u));
	if (!u) {
		close(fd);
		return -ENOMEM;
	}
	u->base.ops = &udmabuf_backend_ops;
	u->dev_fd = fd;
	u->memfd = -1;
	u->page_size = page > 0 ? (uint32_t)page : 4096;
	u->pool_budget = opts ? opts->pool_budget : 0;
	u->capacity = opts && opts->capacity ? opts->capacity : UDMABUF_DEFAULT_CAPACITY;
	u->capacity -= u->capacity % u->page_size;
	if (u->capacity == 0) {
		udmabuf_destroy(&u->base);
		return -EINVAL;
	}
	/*
	 * With huge pages the placement granularity is the huge page: punching
	 * a buffer's range then drops whole pages from the memfd, so a stale
	 * holder keeps its own page while the next owner gets a fresh one.
	 * Inside a shared huge page a punch only zeroes in place, and a stale
	 * holder would see the next owner's data.
	 */
	hsize = huge_page_size();
	if (hsize > UINT32_MAX || hsize < u->page_size)
		hsize = 0;
	fd = region_memfd(u->capacity, hsize, &huge);
	if (fd < 0) {
		udmabuf_destroy(&u->base);
		return fd;
	}
	u->memfd = fd;
	u->hugetlb = huge;
	if (huge)
		u->page_size = (uint32_t)hsize;
	log_info("udmabuf: %llu-byte %s region", (unsigned long long)u->capacity,
		 huge ? "hugetlb" : "shmem");
	*ret = &u->base;
	return 0;
}

static void udmabuf_get_caps(struct backend *b, struct backend_caps *ret)
{
	struct udmabuf_backend *u = container_of(b, struct udmabuf_backend, base);

	*ret = (struct backend_caps){
		.name = "udmabuf",
		.attributes = 1u << DMABUFD_ATTR_CACHED,
		.contiguous = false,
		.migration = false,
		.dmabuf = true,
		.region_size = u->capacity,
		.page_size = u->page_size,
		.placed_pool_budget = u->pool_budget,
	};
}

/*
 * Drop the pages of [@offset, @offset + @size) from the region; the next
 * fault or pin gets zeroed pages. (On hugetlb ranges are whole huge pages,
 * see udmabuf_create_backend().)
 */
static int punch(struct udmabuf_backend *u, uint64_t offset, uint64_t size)
{
	if (fallocate(u->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)size) < 0)
		return -errno;
	return 0;
}

static int udmabuf_alloc(struct backend *b, const struct backend_alloc *req, int *ret_fd,
			 const char **ret_reason)
{
	struct udmabuf_backend *u = container_of(b, struct udmabuf_backend, base);
	struct udmabuf_create create = {
		.memfd = (uint32_t)u->memfd,
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = req->offset,
		.size = req->size,
	};
	int fd, err;

	if (req->attribute != DMABUFD_ATTR_CACHED) {
		*ret_reason = "the udmabuf backend only provides cached memory";
		return -EOPNOTSUPP;
	}
	if (req->flags & DMABUFD_ALLOC_CONTIGUOUS) {
		*ret_reason = "the udmabuf backend cannot provide contiguous memory";
		return -EOPNOTSUPP;
	}
	if (req->offset > u->capacity || req->size > u->capacity - req->offset) {
		*ret_reason = "placement outside the udmabuf region";
		return -EINVAL;
	}
	err = punch(u, req->offset, req->size);
	if (err < 0) {
		*ret_reason = "cannot clear the range before reuse (fallocate PUNCH_HOLE)";
		return err;
	}
	/*
	 * hugetlb: allocate the (zeroed) huge pages now. UDMABUF_CREATE on a
	 * hole of a hugetlb memfd fails with -ENOMEM on 6.12 (memfd_pin_folios()
	 * allocates only from reserved huge pages, and a punched range has
	 * given its reservation back); fallocate takes them from the free pool.
	 */
	if (u->hugetlb && fallocate(u->memfd, 0, (off_t)req->offset, (off_t)req->size) < 0) {
		err = errno == ENOSPC ? -ENOMEM : -errno;
		*ret_reason = "no free huge pages for the buffer (fallocate of the hugetlb region)";
		return err;
	}
	/* UDMABUF_CREATE: memfd, page-aligned offset/size in bytes; returns a dma-buf fd. */
	fd = ioctl(u->dev_fd, UDMABUF_CREATE, &create);
	if (fd < 0) {
		*ret_reason = "UDMABUF_CREATE failed";
		return -errno;
	}
	(void)dmabuf_set_name(fd, req->label && req->label[0] ? req->label : "dmabufd");
	*ret_fd = fd;
	return 0;
}

/*
 * The server's pool (kpool.c) makes buffers ahead on its worker thread:
 * alloc() is only system calls on the backend's fds, so it serves as
 * prepare(); there is nothing to record.
 */
static int udmabuf_prepare(struct backend *b, const struct backend_alloc *req, int *ret_fd,
			   uint64_t *ret_handle, const char **ret_reason)
{
	*ret_handle = 0;
	return udmabuf_alloc(b, req, ret_fd, ret_reason);
}

static int udmabuf_commit(struct backend *b, const struct backend_alloc *req, int fd,
			  uint64_t handle)
{
	return 0;
}

static void udmabuf_release(struct backend *b, struct buffer *buf)
{
	struct udmabuf_backend *u = container_of(b, struct udmabuf_backend, base);

	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
	if (punch(u, buf->offset, buf->size) < 0)
		log_warn("udmabuf: cannot punch [%llu, +%llu) at release; cleared at reuse",
			 (unsigned long long)buf->offset, (unsigned long long)buf->size);
}

const struct backend_ops udmabuf_backend_ops = {
	.name = "udmabuf",
	.create = udmabuf_create_backend,
	.destroy = udmabuf_destroy,
	.get_caps = udmabuf_get_caps,
	.alloc = udmabuf_alloc,
	.prepare = udmabuf_prepare,
	.commit = udmabuf_commit,
	.release = udmabuf_release,
};
