/* SPDX-License-Identifier: MIT */
/*
 * CPU-access bracketing for mapped buffers: DMA_BUF_IOCTL_SYNC.
 *
 * Direction bits (include/uapi/linux/dma-buf.h, struct dma_buf_sync):
 *   DMA_BUF_SYNC_READ  (1)  the CPU reads  -> exporter sees DMA_FROM_DEVICE
 *   DMA_BUF_SYNC_WRITE (2)  the CPU writes -> exporter sees DMA_TO_DEVICE
 *   DMA_BUF_SYNC_RW    (3)  both           -> DMA_BIDIRECTIONAL
 *   DMA_BUF_SYNC_START (0)  begin of a session: it is *zero*, so it cannot
 *                           be tested with '&' and "flags = START" alone is
 *                           refused by the kernel (no direction)
 *   DMA_BUF_SYNC_END   (4)  end of a session
 * START and END take the same read/write bits (the uapi doc: "the client
 * should call DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_END and the same
 * read/write flags"). dma_buf_ioctl() (drivers/dma-buf/dma-buf.c) refuses
 * flags outside DMA_BUF_SYNC_VALID_FLAGS_MASK and a zero direction with
 * -EINVAL; the ioctl "can fail with -EAGAIN or -EINTR, in which case it
 * must be restarted" (same file, DOC: cpu access).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <linux/dma-buf.h>

#include <dmabufd/dmabufd.h>
#include <dmabufd/framebuffer.h>

/*
 * Restarts after EINTR/EAGAIN before giving up with that error: the kernel
 * asks for restarts, but an exporter that never stops answering EAGAIN
 * must not hang the caller.
 */
#define CPU_ACCESS_MAX_RETRIES 1024

/*
 * A non-dma-buf fd that is a memfd: F_GET_SEALS works only on shmem and
 * hugetlbfs files (memfds, and plain tmpfs files, which are the same cached,
 * device-less memory). Clobbers errno.
 */
static int is_memfd(int fd)
{
	return fcntl(fd, F_GET_SEALS) >= 0;
}

/*
 * sync_ioctl() - issue DMA_BUF_IOCTL_SYNC with START or END and @access.
 * @fd: dma-buf or memfd
 * @access: DMABUFD_CPU_* bits, already validated nonzero and known
 * @end: false for DMA_BUF_SYNC_START, true for DMA_BUF_SYNC_END
 *
 * Return: 0; 0 for a memfd (documented no-op); -ENOTTY for another kind
 * of fd; -EINTR/-EAGAIN after CPU_ACCESS_MAX_RETRIES restarts; other
 * negative errno from the ioctl.
 */
static int sync_ioctl(int fd, unsigned int access, int end)
{
	struct dma_buf_sync sync = { .flags = end ? DMA_BUF_SYNC_END : DMA_BUF_SYNC_START };

	if (access & DMABUFD_CPU_READ)
		sync.flags |= DMA_BUF_SYNC_READ;
	if (access & DMABUFD_CPU_WRITE)
		sync.flags |= DMA_BUF_SYNC_WRITE;

	for (unsigned int tries = 0;; tries++) {
		if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) == 0)
			return 0;
		int e = errno;
		if ((e == EINTR || e == EAGAIN) && tries < CPU_ACCESS_MAX_RETRIES)
			continue;
		if (e == ENOTTY)
			return is_memfd(fd) ? 0 : -ENOTTY;
		return e > 0 ? -e : -EIO;
	}
}

static int cpu_access(int fd, unsigned int access, int end)
{
	if (access == 0 || (access & ~(unsigned int)DMABUFD_CPU_RW))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	return sync_ioctl(fd, access, end);
}

DMABUFD_EXPORT int dmabufd_cpu_access_begin(int fd, unsigned int access)
{
	return cpu_access(fd, access, 0);
}

DMABUFD_EXPORT int dmabufd_cpu_access_end(int fd, unsigned int access)
{
	return cpu_access(fd, access, 1);
}

/*
 * The kernel's default fault-around window (mm/memory.c: fault_around_bytes,
 * 64 KiB, tunable in debugfs): a read fault on a file mapping whose vm_ops
 * have map_pages (shmem has) also maps the pages of the window around the
 * faulting address that are already in the page cache and up to date
 * (do_fault_around() -> filemap_map_pages()), writable in a shared writable
 * mapping of shmem (no write notification). So one read per window maps a
 * populated memfd about 16 pages per fault.
 */
#define MAP_PREFAULT_WINDOW 65536u
#define MAP_PAGE 4096u

#ifndef MADV_POPULATE_READ /* Linux 5.14, include/uapi/asm-generic/mman-common.h */
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/*
 * Reads one byte per MAP_PREFAULT_WINDOW-aligned window of [@p, @p + @size),
 * then one byte per page: the window pass leaves a few pages out (measured
 * on Linux 6.18: 2-14 of 256 per MiB, always), and the page pass maps those
 * (a read fault each) and costs a load for the others. The caller
 * guarantees the whole range is backed (no SIGBUS).
 */
static void prefault_read(const volatile uint8_t *p, uint64_t size)
{
	uintptr_t start = (uintptr_t)p, end = start + size;
	uintptr_t a = start & ~(uintptr_t)(MAP_PREFAULT_WINDOW - 1);

	for (; a < end; a += MAP_PREFAULT_WINDOW)
		(void)*(const volatile uint8_t *)(a < start ? start : a);
	for (a = start; a < end; a += MAP_PAGE)
		(void)*(const volatile uint8_t *)a;
}

DMABUFD_EXPORT int dmabufd_map(int fd, uint64_t size, int prot, uint32_t flags, void **ret)
{
	struct stat st;
	bool read_prefault = false;
	void *p;
	int seals;

	if (!ret || size == 0 || size > SIZE_MAX || flags != 0 ||
	    (prot & ~(PROT_READ | PROT_WRITE)) != 0 || prot == 0)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	/*
	 * A memfd whose size cannot shrink (F_SEAL_SHRINK, as every memfd the
	 * daemon hands out) and whose pages can be read: map it plainly and
	 * read one byte per fault-around window. Anything else (a dma-buf, an
	 * unsealed memfd, a write-only mapping): MAP_POPULATE, which never
	 * raises SIGBUS and maps what the exporter lets it (a dma-buf heap
	 * maps every page at mmap time anyway; VM_PFNMAP mappings are skipped).
	 */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_SHRINK) && (prot & PROT_READ)) {
		if (fstat(fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size < size)
			return -EINVAL;
		read_prefault = true;
	}
	p = mmap(NULL, (size_t)size, prot, MAP_SHARED | (read_prefault ? 0 : MAP_POPULATE), fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (read_prefault) {
		unsigned char first = 1;

		/*
		 * A buffer that did not come from the pool has no pages yet
		 * (mincore(2) reports the first page absent from the page
		 * cache): read faults would allocate them one page per fault,
		 * so let MADV_POPULATE_WRITE/READ (Linux 5.14) allocate them in
		 * one call instead; on an older kernel the pages fault on first
		 * touch as with mmap(2). mincore reports every page resident
		 * when the caller may not ask, so that case takes the reads.
		 */
		if (mincore(p, MAP_PAGE, &first) == 0 && !(first & 1))
			(void)madvise(p, (size_t)size,
				      (prot & PROT_WRITE) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
		else
			prefault_read(p, size);
	}
	*ret = p;
	return 0;
}
