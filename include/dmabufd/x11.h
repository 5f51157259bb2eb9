/* SPDX-License-Identifier: MIT */
/**
 * libdmabufd-x11 - dmabufd framebuffers as X11 MIT-SHM segments.
 *
 * An X server (1.15 or later, MIT-SHM 1.2) can map a buffer fd that a
 * client sends with ShmAttachFd: the server fstat()s the fd, refuses a
 * zero st_size with BadMatch, and mmap(MAP_SHARED)s st_size bytes from
 * offset 0, read-only or read-write. A dmabufd buffer fd (a sealed memfd,
 * or a dma-buf) is such an fd. This library allocates a framebuffer from
 * dmabufd, maps it in the client, attaches it to an xcb connection as an
 * SHM segment, and presents from it (ShmPutImage, SHM pixmaps) or reads
 * into it (ShmGetImage); docs/X11.md.
 *
 * Pixel layout: one plane of 32-bit little-endian pixels, DRM_FORMAT_XRGB8888
 * (X depth 24) or DRM_FORMAT_ARGB8888 (X depth 32), row i at
 * offsets[0] + i * pitches[0] bytes into the buffer. The pitch comes from
 * the daemon's framebuffer layout code (docs/FRAMEBUFFERS.md) and may be
 * larger than width * 4: an X SHM pixmap has no pitch of its own (it is
 * PixmapBytePad(width)), so dmabufd_x11_image_create_pixmap() makes it
 * pitches[0] / 4 pixels wide, and the columns beyond @width are padding.
 *
 * Order of teardown: free the SHM pixmap, detach (ShmDetach), then release
 * the buffer in the daemon and unmap/close it; dmabufd_x11_image_destroy()
 * does all of it. Releasing while attached is allowed: the X server's
 * mapping keeps the memory alive until it detaches.
 *
 * Errors: negative errno, ret_* untouched on failure. Where the X server
 * or the daemon said why, dmabufd_x11_image_reason() (image functions) or
 * the @ret_reason argument of dmabufd_x11_connect() gives a short
 * explanation; for a refused allocation, dmabufd_last_reason() of the
 * client connection. The library never prints.
 *
 * Threads: an image is used with one xcb connection and one dmabufd
 * connection, and is not thread-safe; serialise calls as for those.
 */
#ifndef DMABUFD_X11_H
#define DMABUFD_X11_H

#include <stdint.h>

#include <xcb/xcb.h>
#include <xcb/shm.h>

#include <dmabufd/dmabufd.h>
#include <dmabufd/framebuffer.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dmabufd_x11_image;

/** Longest reason text, in bytes, including the terminating NUL. */
#define DMABUFD_X11_REASON_SIZE 160

/**
 * dmabufd_x11_connect() - connect to an X server and check that its image
 * format fits dmabufd framebuffers (ZPixmap depth 24 at 32 bits per pixel,
 * 32-bit scanline pad, little-endian image byte order). MIT-SHM is checked
 * by dmabufd_x11_image_attach(), so that a program can still present
 * without it (plain PutImage).
 * @display: display name as for xcb_connect() (":1"), or NULL for $DISPLAY
 * @ret_conn: receives the connection (xcb_disconnect() it)
 * @ret_screen: receives the screen number of @display, or NULL
 * @ret_reason: DMABUFD_X11_REASON_SIZE bytes for an explanation on failure,
 *              or NULL
 *
 * Return: 0; -EINVAL (@ret_conn NULL, an unparsable display name, or
 * @display NULL with $DISPLAY unset or empty);
 * -ECONNREFUSED (no X server answers on @display, or it refused the
 * connection); -ENXIO (@display names a screen the server does not have);
 * -EOPNOTSUPP (depth 24 is not 32 bits per pixel with a 32-bit pad, or the
 * server's images are big-endian); -ENOMEM; -EPROTO (another xcb
 * connection error).
 */
DMABUFD_EXPORT int dmabufd_x11_connect(const char *display, xcb_connection_t **ret_conn,
				       int *ret_screen, char *ret_reason);

/**
 * dmabufd_x11_image_alloc() - allocate a framebuffer for X11 and map it.
 * @client: dmabufd connection (must outlive the image)
 * @width: pixels, 1 .. 32767 (X11 image and pixmap sizes are 16 bit)
 * @height: pixels, 1 .. 32767
 * @fourcc: DRM_FORMAT_XRGB8888 (X depth 24) or DRM_FORMAT_ARGB8888 (depth 32)
 * @attribute: cache attribute of the pages; DMABUFD_ATTR_WRITECOMBINE is
 *             what a display client normally wants (the CPU writes whole
 *             lines, nobody reads them back through its mapping)
 * @label: shown by dmabufctl list, at most DMABUFD_LABEL_MAX bytes, or NULL
 *         (then "x11")
 * @ret: receives the image; destroy it with dmabufd_x11_image_destroy()
 *
 * Allocates with dmabufd_alloc_framebuffer() (usage SCANOUT | CPU_READ |
 * CPU_WRITE, modifier LINEAR), then maps all of it read-write with
 * dmabufd_map(). Writing through the mapping of a dma-buf must be bracketed
 * by dmabufd_cpu_access_begin()/_end() on dmabufd_x11_image_fd().
 *
 * Return: 0; -EINVAL (@client or @ret NULL, width or height 0 or above
 * 32767, another fourcc, bad label); -EOPNOTSUPP (the daemon's backend
 * cannot give @attribute, e.g. write-combine on the memfd backend:
 * dmabufd_last_reason(@client) says why); -EPROTO (the daemon's layout is
 * not one plane of 4-byte pixels at a pitch divisible by 4); other errors of
 * dmabufd_alloc_framebuffer() and dmabufd_map(); -ENOMEM. On failure the
 * buffer, if it was allocated, is released again.
 */
DMABUFD_EXPORT int dmabufd_x11_image_alloc(struct dmabufd_client *client, uint32_t width,
					   uint32_t height, uint32_t fourcc,
					   enum dmabufd_attribute attribute, const char *label,
					   struct dmabufd_x11_image **ret);

/**
 * dmabufd_x11_image_attach() - attach the image's buffer to an X server as
 * an MIT-SHM segment (ShmAttachFd).
 * @image: an image that is not attached
 * @conn: xcb connection to the server (must outlive the attachment); the
 *        server must be on this machine (fd passing over a Unix socket)
 * @read_only: nonzero: the server maps the buffer read-only, so it can
 *             present from it (ShmPutImage) but a request that would
 *             write into it (ShmGetImage) fails with BadAccess, and so does
 *             ShmCreatePixmap
 *
 * Checks MIT-SHM >= 1.2 (xcb_shm_query_version), sends a duplicate of the
 * buffer fd (libxcb closes the fd it sends) and waits for the server's
 * answer, so that on success the server has the buffer mapped.
 *
 * Return: 0; -EINVAL (@image or @conn NULL); -EBUSY (already attached);
 * -EOPNOTSUPP (no MIT-SHM or older than 1.2; reason set); -EIO (the server
 * refused the attach, e.g. BadMatch for an fd it cannot fstat/mmap; reason
 * gives the X error); -EPIPE (@conn has failed); -EPROTO (no reply to
 * ShmQueryVersion and no error); -EMFILE and other errors of
 * fcntl(F_DUPFD_CLOEXEC).
 */
DMABUFD_EXPORT int dmabufd_x11_image_attach(struct dmabufd_x11_image *image,
					    xcb_connection_t *conn, int read_only);

/**
 * dmabufd_x11_image_create_pixmap() - an SHM pixmap over the whole buffer.
 * @image: an attached image
 * @drawable: a drawable on the screen the pixmap is for (its root window)
 * @ret: receives the pixmap id; it is pitches[0] / 4 pixels wide (columns
 *       from @width on are the pitch padding) and @height pixels high, of
 *       the image's depth. Freed by dmabufd_x11_image_detach(); at most one
 *       pixmap per image.
 *
 * Drawing into the pixmap (CopyArea to it, PolyFillRectangle...) writes the
 * buffer through the server's mapping; CopyArea from it presents the
 * buffer. Waits for the server's answer.
 *
 * Return: 0; -EINVAL (NULL argument); -ENOTCONN (not attached); -EBUSY
 * (the image already has a pixmap); -EOPNOTSUPP (the server does not offer
 * shared pixmaps); -EACCES (attached read-only: the server answers
 * BadAccess, it makes SHM pixmaps only on writable segments); -EIO (the server
 * refused, reason set: e.g. BadMatch when the depth is not one of the
 * screen's); -EPIPE (connection failed).
 */
DMABUFD_EXPORT int dmabufd_x11_image_create_pixmap(struct dmabufd_x11_image *image,
						   xcb_drawable_t drawable, xcb_pixmap_t *ret);

/**
 * dmabufd_x11_image_put() - present a rectangle of the buffer (ShmPutImage).
 * @image: an attached image
 * @drawable: destination, of the image's depth
 * @gc: graphics context for @drawable
 * @src_x, @src_y: top-left pixel of the rectangle in the image
 * @width, @height: pixels of the rectangle, >= 1
 * @dst_x, @dst_y: where it goes in @drawable, pixels
 *
 * The server reads rows of pitches[0] bytes starting at offsets[0] (total
 * width pitches[0] / 4 pixels). Asynchronous, as any xcb request: it is
 * queued in the connection's output buffer and sent by xcb_flush() or the
 * next reply wait; no completion event is asked. The server reads the buffer
 * when it handles the request, so do not overwrite the rectangle before a
 * later reply (e.g. xcb_get_input_focus) proves it was handled. An X error
 * arrives through the connection's event queue. Make CPU writes to a
 * dma-buf visible first (dmabufd_cpu_access_end()).
 *
 * Return: 0; -EINVAL (NULL image, width or height 0); -ENOTCONN (not
 * attached); -ERANGE (the rectangle does not fit the image: the buffer is
 * too small for it; reason says by how much); -EPIPE (the connection has
 * failed).
 */
DMABUFD_EXPORT int dmabufd_x11_image_put(struct dmabufd_x11_image *image,
					 xcb_drawable_t drawable, xcb_gcontext_t gc,
					 uint32_t src_x, uint32_t src_y, uint32_t width,
					 uint32_t height, int16_t dst_x, int16_t dst_y);

/**
 * dmabufd_x11_image_get() - read a rectangle of a drawable into the buffer
 * (ShmGetImage, ZPixmap, all planes); the X server writes through its own
 * mapping.
 * @image: an image attached read-write
 * @drawable: source, of the image's depth
 * @x, @y: top-left pixel in @drawable
 * @width, @height: pixels, >= 1; pixel (i, j) of the rectangle lands at
 *                  pixel (i, j) of the image (offsets[0] + j * pitches[0] +
 *                  i * 4 bytes)
 *
 * One request when @width is pitches[0] / 4 (the server writes whole rows),
 * else one per row. Waits for every reply: on return the pixels are in
 * the buffer (for a dma-buf, begin a CPU READ access before reading them).
 *
 * Return: 0; -EINVAL (NULL image, width or height 0); -ENOTCONN (not
 * attached); -ERANGE (the rectangle does not fit the image; reason set);
 * -EACCES (attached read-only: the server answered BadAccess); -EIO (another
 * X error, e.g. BadMatch for a rectangle outside @drawable or another depth;
 * reason set); -EPROTO (a reply of the wrong size); -EPIPE (connection
 * failed); -ENOMEM.
 */
DMABUFD_EXPORT int dmabufd_x11_image_get(struct dmabufd_x11_image *image,
					 xcb_drawable_t drawable, int16_t x, int16_t y,
					 uint32_t width, uint32_t height);

/**
 * dmabufd_x11_image_detach() - free the SHM pixmap, detach the segment
 * (ShmDetach), and wait until the server has handled both.
 * @image: an image; a no-op (0) when not attached
 *
 * The X server unmaps the buffer when the segment has no users left: after
 * this returns, unless a pixmap the server still references (e.g. a window
 * background) holds it.
 *
 * Return: 0; -EINVAL (@image NULL); -EPIPE (the connection failed: the
 * server dropped the client's resources, the image counts as detached).
 */
DMABUFD_EXPORT int dmabufd_x11_image_detach(struct dmabufd_x11_image *image);

/**
 * dmabufd_x11_image_release() - end the client's ownership of the buffer
 * in the daemon (dmabufd_release()), keeping the mapping and fd.
 * @image: an image; may still be attached (the server's mapping keeps the
 *         memory valid until detach, but the daemon no longer charges it)
 *
 * Return: 0; -EINVAL (@image NULL); -EALREADY (already released); errors of
 * dmabufd_release().
 */
DMABUFD_EXPORT int dmabufd_x11_image_release(struct dmabufd_x11_image *image);

/**
 * dmabufd_x11_image_destroy() - detach, release, unmap, close, free.
 * @image: an image, or NULL (no-op)
 *
 * Errors on the way are ignored (a failed connection has already dropped
 * what it held).
 */
DMABUFD_EXPORT void dmabufd_x11_image_destroy(struct dmabufd_x11_image *image);

/**
 * dmabufd_x11_image_framebuffer() - the layout: width, height, fourcc,
 * offsets[0], pitches[0] (bytes), size (bytes), id and fd.
 * Return: owned by @image, valid until it is destroyed; NULL if @image is NULL.
 */
DMABUFD_EXPORT const struct dmabufd_framebuffer *
dmabufd_x11_image_framebuffer(const struct dmabufd_x11_image *image);

/**
 * dmabufd_x11_image_data() - the client's read-write mapping of the whole
 * buffer (framebuffer size bytes; pixels start at offsets[0]).
 * Return: the address, NULL if @image is NULL.
 */
DMABUFD_EXPORT void *dmabufd_x11_image_data(const struct dmabufd_x11_image *image);

/** dmabufd_x11_image_fd() - the buffer fd (owned by @image), or -EINVAL. */
DMABUFD_EXPORT int dmabufd_x11_image_fd(const struct dmabufd_x11_image *image);

/** dmabufd_x11_image_depth() - X depth: 24 (XRGB8888) or 32 (ARGB8888); 0 if NULL. */
DMABUFD_EXPORT uint8_t dmabufd_x11_image_depth(const struct dmabufd_x11_image *image);

/** dmabufd_x11_image_segment() - the SHM segment id, 0 when not attached. */
DMABUFD_EXPORT xcb_shm_seg_t dmabufd_x11_image_segment(const struct dmabufd_x11_image *image);

/**
 * dmabufd_x11_image_reason() - why the last failed call on @image failed.
 * Return: NUL-terminated text owned by @image ("" when none); "" if NULL.
 */
DMABUFD_EXPORT const char *dmabufd_x11_image_reason(const struct dmabufd_x11_image *image);

#ifdef __cplusplus
}
#endif

#endif
