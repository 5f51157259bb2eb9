/* SPDX-License-Identifier: MIT */
/*
 * GstDmabufdAllocator: a GstDmaBufAllocator whose memories are dmabufd
 * buffers.
 *
 * Every memory is one dmabufd_alloc() (or, for frames, one buffer laid out
 * by the pool) wrapped with gst_dmabuf_allocator_alloc_with_flags(), so
 * gst_is_dmabuf_memory() is TRUE and downstream elements see ordinary
 * dma-buf GstMemory. When the last reference to the memory goes, the
 * buffer is released in the daemon (dmabufd_release()) and the fd closed.
 *
 * On the memfd backend the fd is a sealed memfd, not a dma-buf: mapping it
 * works (GstFdAllocator mmaps the fd), DMA_BUF_IOCTL_SYNC is refused by the
 * kernel with ENOTTY (harmless: memfd pages are ordinary cached memory),
 * and a device importer (EGL, KMS, V4L2 DMABUF) cannot import it. See
 * docs/GSTREAMER.md.
 *
 * Threads: the allocator owns one dmabufd connection and serialises every
 * call on it with a mutex, so memories can be allocated and freed from any
 * streaming thread.
 */
#ifndef GST_DMABUFD_ALLOCATOR_H
#define GST_DMABUFD_ALLOCATOR_H

#include <gst/allocators/allocators.h>
#include <gst/gst.h>

#include <dmabufd/dmabufd.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABUFD_ALLOCATOR (gst_dmabufd_allocator_get_type())
G_DECLARE_FINAL_TYPE(GstDmabufdAllocator, gst_dmabufd_allocator, GST, DMABUFD_ALLOCATOR,
		     GstDmaBufAllocator)

/** Name under which a default instance can be found with gst_allocator_find(). */
#define GST_ALLOCATOR_DMABUFD "dmabufd"

/**
 * gst_dmabufd_allocator_new() - connect to dmabufd and make an allocator.
 * @socket_path: the daemon's socket; NULL uses $DMABUFD_SOCKET, else
 *               DMABUFD_DEFAULT_SOCKET
 * @attribute: cache attribute requested for every buffer
 * @ret: receives a new reference on success
 *
 * Return: 0, or a negative errno from dmabufd_connect() (-ENOENT,
 * -ECONNREFUSED: no daemon; -EACCES; -EPROTONOSUPPORT; -ENOMEM ...).
 */
int gst_dmabufd_allocator_new(const gchar *socket_path, enum dmabufd_attribute attribute,
			      GstAllocator **ret);

/** The daemon's Hello reply (backend name, dmabuf flag, limits). */
const struct dmabufd_info *gst_dmabufd_allocator_get_info(GstDmabufdAllocator *self);

/**
 * gst_dmabufd_allocator_alloc_buffer() - one dmabufd buffer as a GstMemory.
 * @size: bytes, > 0 (rounded up to whole pages by the daemon; the memory's
 *        size is @size, its maxsize the page-rounded size)
 * @label: label shown by "dmabufctl list" (at most DMABUFD_LABEL_MAX bytes,
 *         longer labels are truncated), or NULL
 * @ret: receives the memory (one reference) on success
 *
 * Return: 0, or a negative errno from dmabufd_alloc() (-ENOSPC, -EMFILE,
 * -EDQUOT, -E2BIG, -EOPNOTSUPP, -ECONNRESET ...), or -ENOMEM.
 */
int gst_dmabufd_allocator_alloc_buffer(GstDmabufdAllocator *self, gsize size,
				       const gchar *label, GstMemory **ret);

/**
 * gst_dmabufd_allocator_wrap() - wrap a buffer already allocated on this
 * allocator's connection (e.g. by dmabufd_alloc_framebuffer()).
 * @id: the daemon's buffer id (released when the memory is freed)
 * @fd: the buffer's fd; ownership passes to the memory, also on failure
 * @size: bytes the memory exposes
 * @maxsize: bytes of the buffer (>= @size)
 *
 * Return: the memory, or NULL (then @fd is closed and @id released).
 */
GstMemory *gst_dmabufd_allocator_wrap(GstDmabufdAllocator *self, guint64 id, int fd,
				      gsize size, gsize maxsize);

/**
 * gst_dmabufd_allocator_lock() / _unlock() - exclusive use of the
 * connection, for requests the allocator does not wrap itself
 * (dmabufd_alloc_framebuffer()); returns the connection.
 */
struct dmabufd_client *gst_dmabufd_allocator_lock(GstDmabufdAllocator *self);
void gst_dmabufd_allocator_unlock(GstDmabufdAllocator *self);

/** Attribute every buffer of this allocator is allocated with. */
enum dmabufd_attribute gst_dmabufd_allocator_get_attribute(GstDmabufdAllocator *self);

/**
 * gst_dmabufd_allocator_set_element() - the element that reports this
 * allocator's failed requests (the sink that made it).
 * @element: the element, held as a weak reference; NULL: none
 */
void gst_dmabufd_allocator_set_element(GstDmabufdAllocator *self, GstElement *element);

/**
 * gst_dmabufd_allocator_post_refusal() - post a failed request as an ERROR
 * message of the element set with gst_dmabufd_allocator_set_element(), with
 * the daemon's reason in the message text (and log it).
 * @what: what was asked ("buffer", "framebuffer")
 * @size: bytes asked
 * @err: the request's negative errno
 * @reason: dmabufd_last_reason() right after the request, or NULL/"" (a
 *          local failure)
 *
 * Call it without holding the connection (gst_dmabufd_allocator_lock()):
 * posting runs the bus's sync handlers in this thread.
 */
void gst_dmabufd_allocator_post_refusal(GstDmabufdAllocator *self, const gchar *what,
					gsize size, int err, const gchar *reason);

/**
 * gst_dmabufd_memory_get_id() - is @mem (or its parent) a dmabufd buffer?
 * @ret_id: receives the daemon's buffer id, or NULL
 * Return: TRUE if @mem was made by a GstDmabufdAllocator.
 */
gboolean gst_dmabufd_memory_get_id(GstMemory *mem, guint64 *ret_id);

G_END_DECLS

#endif
