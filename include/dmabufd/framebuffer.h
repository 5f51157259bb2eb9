/* SPDX-License-Identifier: MIT */
/**
 * libdmabufd framebuffers: multi-plane image buffers described by a DRM
 * fourcc and format modifier, and CPU-access bracketing for mapped buffers.
 *
 * A framebuffer is one buffer (one fd) holding every plane, as GBM's
 * single-fd layout: plane i starts at offsets[i] bytes into the fd and has
 * pitches[i] bytes per row. The fields map directly onto
 *
 *   drmModeAddFB2WithModifiers(drm_fd, fb.width, fb.height, fb.fourcc,
 *                              handles, fb.pitches, fb.offsets, modifiers,
 *                              &fb_id, DRM_MODE_FB_MODIFIERS)
 *
 * (handles[i] = the GEM handle of fb.fd for i < fb.num_planes, modifiers[i]
 * = fb.modifier), and onto EGL_EXT_image_dma_buf_import(_modifiers):
 *
 *   EGL_WIDTH fb.width, EGL_HEIGHT fb.height,
 *   EGL_LINUX_DRM_FOURCC_EXT fb.fourcc,
 *   EGL_DMA_BUF_PLANEn_FD_EXT fb.fd,
 *   EGL_DMA_BUF_PLANEn_OFFSET_EXT fb.offsets[n],
 *   EGL_DMA_BUF_PLANEn_PITCH_EXT fb.pitches[n],
 *   EGL_DMA_BUF_PLANEn_MODIFIER_LO/HI_EXT fb.modifier & 0xffffffff / >> 32
 *
 * Fourcc and modifier codes are libdrm's (<drm_fourcc.h>). The supported
 * formats, the layout rules and the alignment table are in
 * docs/FRAMEBUFFERS.md.
 */
#ifndef DMABUFD_FRAMEBUFFER_H
#define DMABUFD_FRAMEBUFFER_H

#include <stdint.h>

#include <dmabufd/dmabufd.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most planes a framebuffer can have (as DRM's AddFB2: 4). */
#define DMABUFD_FB_MAX_PLANES 4
/** Largest width and height accepted, in pixels. */
#define DMABUFD_FB_MAX_DIMENSION 16384u

/**
 * enum dmabufd_usage - what a framebuffer will be used for.
 *
 * The daemon derives the stride, plane-offset and height alignment from
 * the union of the bits (the alignment table in docs/FRAMEBUFFERS.md,
 * overridable in the daemon's configuration). At least one bit must be
 * set; unknown bits are refused with -EINVAL.
 */
enum dmabufd_usage {
	DMABUFD_USAGE_SCANOUT = 1u << 0,      /**< display controller reads it */
	DMABUFD_USAGE_RENDER = 1u << 1,       /**< GPU render target */
	DMABUFD_USAGE_TEXTURE = 1u << 2,      /**< GPU samples from it */
	DMABUFD_USAGE_VIDEO_DECODE = 1u << 3, /**< video decoder writes it */
	DMABUFD_USAGE_VIDEO_ENCODE = 1u << 4, /**< video encoder reads it */
	DMABUFD_USAGE_CAMERA = 1u << 5,       /**< camera / ISP writes it */
	DMABUFD_USAGE_CPU_READ = 1u << 6,     /**< CPU reads it through mmap */
	DMABUFD_USAGE_CPU_WRITE = 1u << 7,    /**< CPU writes it through mmap */
};
/** Number of usage bits (bit numbers 0 .. DMABUFD_USAGE_COUNT - 1). */
#define DMABUFD_USAGE_COUNT 8
#define DMABUFD_USAGE_ALL ((1u << DMABUFD_USAGE_COUNT) - 1)

/**
 * struct dmabufd_framebuffer - a framebuffer handed to this client.
 * @id: daemon-wide buffer id (dmabufd_release() takes it)
 * @fd: one fd holding all planes; owned by the caller, close() it
 * @width: pixels, as requested
 * @height: pixels, as requested (rows beyond it, if the usage needed
 *          height alignment, are padding inside each plane)
 * @fourcc: DRM_FORMAT_* code
 * @modifier: DRM_FORMAT_MOD_* code (DRM_FORMAT_MOD_LINEAR unless the
 *            backend declared another)
 * @num_planes: 1 .. DMABUFD_FB_MAX_PLANES; entries beyond it are zero
 * @offsets: bytes from the start of @fd to plane i's first pixel
 * @pitches: bytes per row of plane i (the stride)
 * @sizes: bytes of plane i (pitches[i] * rows of plane i)
 * @size: bytes of the whole buffer, a multiple of the page size
 */
struct dmabufd_framebuffer {
	uint64_t id;
	int fd;
	uint32_t width, height, fourcc;
	uint64_t modifier;
	uint32_t num_planes;
	uint32_t offsets[DMABUFD_FB_MAX_PLANES], pitches[DMABUFD_FB_MAX_PLANES];
	uint64_t sizes[DMABUFD_FB_MAX_PLANES];
	uint64_t size;
};

/**
 * dmabufd_alloc_framebuffer() - allocate a framebuffer (blocking).
 * @client: connection from dmabufd_connect()
 * @width: pixels, 1 .. DMABUFD_FB_MAX_DIMENSION (the daemon may set a
 *         lower limit, and per-usage limits)
 * @height: pixels, 1 .. DMABUFD_FB_MAX_DIMENSION (likewise)
 * @fourcc: DRM_FORMAT_* from <drm_fourcc.h>; one of the formats listed in
 *          docs/FRAMEBUFFERS.md
 * @modifier: DRM_FORMAT_MOD_LINEAR, or a modifier the backend declares
 * @usage: DMABUFD_USAGE_* bits, at least one
 * @attribute: cache attribute of the buffer's pages
 * @flags: DMABUFD_ALLOC_* bits
 * @label: NUL-terminated, at most DMABUFD_LABEL_MAX bytes, or NULL
 * @ret: receives the layout and the fd (owned by the caller)
 *
 * The layout is computed by the daemon from the format table and the
 * alignment rules of @usage; the reply carries num_planes and per plane
 * offset, pitch and size, plus one fd.
 *
 * Return: 0; -EINVAL (width or height 0 or above INT32_MAX, unknown
 * fourcc, DRM_FORMAT_MOD_INVALID, no or unknown usage bits, unknown flag
 * or attribute, label too long); -EOPNOTSUPP (modifier not declared by the
 * backend, a usage that cannot take this format or size, attribute or
 * CONTIGUOUS not honoured by the backend); -E2BIG (width or height above
 * the limit, a layout whose arithmetic overflows or exceeds the size
 * limit, larger than max_alloc); -ENOSPC, -EMFILE, -EDQUOT, -ENOMEM and
 * connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_alloc_framebuffer(struct dmabufd_client *client, uint32_t width,
					     uint32_t height, uint32_t fourcc, uint64_t modifier,
					     uint32_t usage, enum dmabufd_attribute attribute,
					     uint32_t flags, const char *label,
					     struct dmabufd_framebuffer *ret);

/**
 * enum dmabufd_cpu_access - direction of a CPU access session.
 *
 * READ: the CPU will read data a device wrote (caches are invalidated at
 * begin). WRITE: the CPU will write data a device will read (caches are
 * written back at end). A read-modify-write (blending, partial updates)
 * reads too: use DMABUFD_CPU_RW, never WRITE alone.
 */
enum dmabufd_cpu_access {
	DMABUFD_CPU_READ = 1u << 0,
	DMABUFD_CPU_WRITE = 1u << 1,
	DMABUFD_CPU_RW = DMABUFD_CPU_READ | DMABUFD_CPU_WRITE,
};

/**
 * dmabufd_cpu_access_begin() - start a CPU access session on a mapped buffer.
 * @fd: the buffer's fd (a dma-buf, or a sealed memfd from the memfd backend)
 * @access: DMABUFD_CPU_READ, DMABUFD_CPU_WRITE or DMABUFD_CPU_RW
 *
 * Issues DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_START | READ/WRITE/RW
 * (<linux/dma-buf.h>): the exporter waits for the device work fenced on
 * the buffer and does the cache maintenance the direction needs
 * (dma_buf_begin_cpu_access()). Must be called before touching the mmap,
 * and paired with dmabufd_cpu_access_end() with the same @access — the
 * uapi header requires "the same read/write flags" for START and END.
 *
 * It is issued for every dma-buf whatever its cache attribute: kernel doc
 * (drivers/dma-buf/dma-buf.c, "DOC: cpu access", rendered in
 * Documentation/driver-api/dma-buf.rst) says "it is always required to
 * use SYNC_START and SYNC_END ... Userspace cannot rely on coherent access,
 * even when there are systems where it just works". For CACHED memory the
 * exporter does cache maintenance; for WRITECOMBINE/UNCACHED memory it
 * still waits on implicit fences at START and, at END, the exporter is
 * where a write-combine buffer flush / ordering barrier belongs. Skipping
 * it is never correct for a dma-buf.
 *
 * The only no-op: @fd is not a dma-buf but a memfd (the memfd backend's
 * sealed memfd). The ioctl fails with ENOTTY and F_GET_SEALS succeeds; the
 * function then returns 0 without doing anything, because memfd pages are
 * ordinary cached memory that no device accesses, so there is neither
 * cache maintenance nor a fence to wait for.
 *
 * Retries the ioctl on EINTR and EAGAIN (the kernel doc: "can fail with
 * -EAGAIN or -EINTR, in which case it must be restarted"), up to 1024
 * times in a row, then returns that error.
 *
 * Return: 0; -EINVAL (@access 0 or with unknown bits, or the exporter
 * refused the direction); -EBADF (@fd is not an open fd); -ENOTTY (@fd
 * is neither a dma-buf nor a memfd); -EINTR/-EAGAIN (still failing after
 * 1024 restarts); other negative errno from the
 * exporter's begin_cpu_access (e.g. -ENOMEM, -EIO).
 */
DMABUFD_EXPORT int dmabufd_cpu_access_begin(int fd, unsigned int access);

/**
 * dmabufd_cpu_access_end() - end a CPU access session.
 * @fd: as dmabufd_cpu_access_begin()
 * @access: the same bits that were passed to dmabufd_cpu_access_begin()
 *
 * Issues DMA_BUF_IOCTL_SYNC with DMA_BUF_SYNC_END | READ/WRITE/RW. After
 * a WRITE or RW session this is what makes the CPU's writes visible to
 * devices (cache write-back on CACHED memory); submit device work that
 * reads the buffer only after it returned. Same memfd no-op, retry rule
 * and errors as dmabufd_cpu_access_begin().
 */
DMABUFD_EXPORT int dmabufd_cpu_access_end(int fd, unsigned int access);

#ifdef __cplusplus
}
#endif

#endif
