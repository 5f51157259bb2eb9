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
#include <stdint.h>
#include <sys/ioctl.h>

#include <linux/dma-buf.h>

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
