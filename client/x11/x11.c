/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd-x11: dmabufd framebuffers attached to an X server with
 * MIT-SHM 1.2 fd passing (include/dmabufd/x11.h, docs/X11.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include <dmabufd/x11.h>

#include "macros.h"

/* X11 image and pixmap dimensions are CARD16, coordinates INT16. */
#define X11_MAX_DIMENSION 32767u

struct dmabufd_x11_image {
	struct dmabufd_client *client;
	struct dmabufd_framebuffer fb;
	void *data;
	uint8_t depth;
	bool released;
	xcb_connection_t *conn;     /* NULL when not attached */
	xcb_shm_seg_t seg;
	xcb_pixmap_t pixmap;        /* 0 when none */
	bool read_only;
	bool shared_pixmaps;
	char reason[DMABUFD_X11_REASON_SIZE];
};

static void set_reason(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(char *buf, const char *fmt, ...)
{
	va_list ap;

	if (!buf)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, DMABUFD_X11_REASON_SIZE, fmt, ap);
	va_end(ap);
}

static const char *x11_error_name(uint8_t code)
{
	switch (code) {
	case XCB_VALUE: return "BadValue";
	case XCB_WINDOW: return "BadWindow";
	case XCB_PIXMAP: return "BadPixmap";
	case XCB_MATCH: return "BadMatch";
	case XCB_DRAWABLE: return "BadDrawable";
	case XCB_ACCESS: return "BadAccess";
	case XCB_ALLOC: return "BadAlloc";
	case XCB_ID_CHOICE: return "BadIDChoice";
	case XCB_G_CONTEXT: return "BadGC";
	case XCB_LENGTH: return "BadLength";
	case XCB_IMPLEMENTATION: return "BadImplementation";
	default: return "X error";
	}
}

/* Turns an X error reply into a negative errno and a reason; frees @err. */
static int x11_error(struct dmabufd_x11_image *image, xcb_generic_error_t *err,
		     const char *request)
{
	int r = err->error_code == XCB_ACCESS ? -EACCES : -EIO;

	set_reason(image->reason, "the X server refused %s: %s (error %u, major %u minor %u)",
		   request, x11_error_name(err->error_code), err->error_code,
		   err->major_code, err->minor_code);
	free(err);
	return r;
}

/* -EPIPE with a reason when @conn has failed, else 0. */
static int conn_failed(struct dmabufd_x11_image *image, xcb_connection_t *conn)
{
	int e = xcb_connection_has_error(conn);

	if (!e)
		return 0;
	set_reason(image->reason, "the X connection failed (xcb error %d)", e);
	return -EPIPE;
}

DMABUFD_EXPORT int dmabufd_x11_connect(const char *display, xcb_connection_t **ret_conn,
				       int *ret_screen, char *ret_reason)
{
	const xcb_setup_t *setup;
	xcb_format_iterator_t it;
	xcb_connection_t *conn;
	const char *name;
	bool found = false;
	int screen = 0, e;

	if (!ret_conn)
		return -EINVAL;
	name = display ? display : getenv("DISPLAY");
	if (!name || !*name) {
		set_reason(ret_reason, "no X display given and $DISPLAY is not set");
		return -EINVAL;
	}
	conn = xcb_connect(display, &screen);
	e = xcb_connection_has_error(conn);
	if (e) {
		int r;

		xcb_disconnect(conn);
		switch (e) {
		case XCB_CONN_ERROR:
			r = -ECONNREFUSED;
			set_reason(ret_reason, "cannot connect to X display \"%s\"", name ? name : "");
			break;
		case XCB_CONN_CLOSED_PARSE_ERR:
			r = -EINVAL;
			set_reason(ret_reason, "bad X display name \"%s\"", name ? name : "");
			break;
		case XCB_CONN_CLOSED_INVALID_SCREEN:
			r = -ENXIO;
			set_reason(ret_reason, "X display \"%s\" has no such screen", name ? name : "");
			break;
		case XCB_CONN_CLOSED_MEM_INSUFFICIENT:
			r = -ENOMEM;
			set_reason(ret_reason, "out of memory connecting to X");
			break;
		default:
			r = -EPROTO;
			set_reason(ret_reason, "X connection to \"%s\" failed (xcb error %d)",
				   name ? name : "", e);
			break;
		}
		return r;
	}

	setup = xcb_get_setup(conn);
	for (it = xcb_setup_pixmap_formats_iterator(setup); it.rem; xcb_format_next(&it)) {
		if (it.data->depth != 24)
			continue;
		found = it.data->bits_per_pixel == 32 && it.data->scanline_pad == 32;
		break;
	}
	if (!found || setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST) {
		xcb_disconnect(conn);
		set_reason(ret_reason, "the X server's depth-24 images are not 32-bit little-endian pixels");
		return -EOPNOTSUPP;
	}

	*ret_conn = conn;
	if (ret_screen)
		*ret_screen = screen;
	return 0;
}

DMABUFD_EXPORT int dmabufd_x11_image_alloc(struct dmabufd_client *client, uint32_t width,
					   uint32_t height, uint32_t fourcc,
					   enum dmabufd_attribute attribute, const char *label,
					   struct dmabufd_x11_image **ret)
{
	const uint32_t usage = DMABUFD_USAGE_SCANOUT | DMABUFD_USAGE_CPU_READ |
			       DMABUFD_USAGE_CPU_WRITE;
	_cleanup_free_ struct dmabufd_x11_image *image = NULL;
	struct dmabufd_framebuffer fb;
	uint8_t depth;
	void *data;
	int r;

	if (!client || !ret || width == 0 || height == 0 ||
	    width > X11_MAX_DIMENSION || height > X11_MAX_DIMENSION)
		return -EINVAL;
	if (fourcc == DRM_FORMAT_XRGB8888)
		depth = 24;
	else if (fourcc == DRM_FORMAT_ARGB8888)
		depth = 32;
	else
		return -EINVAL;

	image = calloc(1, sizeof(*image));
	if (!image)
		return -ENOMEM;

	r = dmabufd_alloc_framebuffer(client, width, height, fourcc, DRM_FORMAT_MOD_LINEAR, usage,
				      attribute, 0, label ? label : "x11", &fb);
	if (r < 0)
		return r;
	/* X11 reads one plane of 4-byte pixels at a pitch of whole pixels. */
	if (fb.num_planes != 1 || fb.pitches[0] % 4 != 0 || fb.pitches[0] / 4 < width ||
	    fb.pitches[0] / 4 > X11_MAX_DIMENSION ||
	    (uint64_t)fb.offsets[0] + (uint64_t)fb.pitches[0] * height > fb.size) {
		r = -EPROTO;
		goto fail;
	}
	r = dmabufd_map(fb.fd, fb.size, PROT_READ | PROT_WRITE, 0, &data);
	if (r < 0)
		goto fail;

	image->client = client;
	image->fb = fb;
	image->data = data;
	image->depth = depth;
	*ret = TAKE_PTR(image);
	return 0;

fail:
	(void)dmabufd_release(client, fb.id);
	close(fb.fd);
	return r;
}

DMABUFD_EXPORT int dmabufd_x11_image_attach(struct dmabufd_x11_image *image,
					    xcb_connection_t *conn, int read_only)
{
	const xcb_query_extension_reply_t *ext;
	xcb_shm_query_version_reply_t *version;
	xcb_generic_error_t *err = NULL;
	xcb_void_cookie_t cookie;
	xcb_shm_seg_t seg;
	bool shared_pixmaps;
	int fd, r;

	if (!image || !conn)
		return -EINVAL;
	image->reason[0] = '\0';
	if (image->conn) {
		set_reason(image->reason, "the image is already attached");
		return -EBUSY;
	}
	r = conn_failed(image, conn);
	if (r < 0)
		return r;

	ext = xcb_get_extension_data(conn, &xcb_shm_id);
	if (!ext || !ext->present) {
		r = conn_failed(image, conn);
		if (r < 0)
			return r;
		set_reason(image->reason, "the X server has no MIT-SHM extension");
		return -EOPNOTSUPP;
	}
	version = xcb_shm_query_version_reply(conn, xcb_shm_query_version(conn), &err);
	if (!version) {
		if (err)
			return x11_error(image, err, "ShmQueryVersion");
		r = conn_failed(image, conn);
		return r < 0 ? r : -EPROTO;
	}
	if (version->major_version < 1 ||
	    (version->major_version == 1 && version->minor_version < 2)) {
		set_reason(image->reason,
			   "the X server has MIT-SHM %u.%u; fd passing (ShmAttachFd) needs 1.2",
			   version->major_version, version->minor_version);
		free(version);
		return -EOPNOTSUPP;
	}
	shared_pixmaps = version->shared_pixmaps;
	free(version);

	/* libxcb closes the fd it sends: send a duplicate. */
	fd = fcntl(image->fb.fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		r = negative_errno();
		set_reason(image->reason, "cannot duplicate the buffer fd: %s", strerror(-r));
		return r;
	}
	seg = xcb_generate_id(conn);
	cookie = xcb_shm_attach_fd_checked(conn, seg, fd, read_only ? 1 : 0);
	err = xcb_request_check(conn, cookie);
	if (err)
		return x11_error(image, err, "ShmAttachFd");
	r = conn_failed(image, conn);
	if (r < 0)
		return r;

	image->conn = conn;
	image->seg = seg;
	image->read_only = read_only;
	image->shared_pixmaps = shared_pixmaps;
	return 0;
}

/* Bytes a rectangle of the image needs, and whether the buffer holds it. */
static int check_rect(struct dmabufd_x11_image *image, uint32_t x, uint32_t y, uint32_t width,
		      uint32_t height)
{
	const uint32_t total_width = image->fb.pitches[0] / 4;
	uint64_t need;

	if (x < total_width && y < image->fb.height && width <= total_width - x &&
	    height <= image->fb.height - y)
		return 0;
	need = (uint64_t)image->fb.offsets[0] + ((uint64_t)y + height) * image->fb.pitches[0];
	set_reason(image->reason,
		   "a %ux%u rectangle at (%u,%u) does not fit the %ux%u image (pitch %u bytes, "
		   "rows up to %llu bytes; the buffer has %llu)",
		   width, height, x, y, total_width, image->fb.height, image->fb.pitches[0],
		   (unsigned long long)need, (unsigned long long)image->fb.size);
	return -ERANGE;
}

DMABUFD_EXPORT int dmabufd_x11_image_create_pixmap(struct dmabufd_x11_image *image,
						   xcb_drawable_t drawable, xcb_pixmap_t *ret)
{
	xcb_generic_error_t *err;
	xcb_void_cookie_t cookie;
	xcb_pixmap_t pixmap;
	int r;

	if (!image || !ret)
		return -EINVAL;
	image->reason[0] = '\0';
	if (!image->conn) {
		set_reason(image->reason, "the image is not attached");
		return -ENOTCONN;
	}
	if (image->pixmap) {
		set_reason(image->reason, "the image already has an SHM pixmap");
		return -EBUSY;
	}
	if (!image->shared_pixmaps) {
		set_reason(image->reason, "the X server does not offer shared pixmaps");
		return -EOPNOTSUPP;
	}
	r = conn_failed(image, image->conn);
	if (r < 0)
		return r;

	pixmap = xcb_generate_id(image->conn);
	cookie = xcb_shm_create_pixmap_checked(image->conn, pixmap, drawable,
					       (uint16_t)(image->fb.pitches[0] / 4),
					       (uint16_t)image->fb.height, image->depth,
					       image->seg, image->fb.offsets[0]);
	err = xcb_request_check(image->conn, cookie);
	if (err)
		return x11_error(image, err, "ShmCreatePixmap");
	r = conn_failed(image, image->conn);
	if (r < 0)
		return r;
	image->pixmap = pixmap;
	*ret = pixmap;
	return 0;
}

DMABUFD_EXPORT int dmabufd_x11_image_put(struct dmabufd_x11_image *image,
					 xcb_drawable_t drawable, xcb_gcontext_t gc,
					 uint32_t src_x, uint32_t src_y, uint32_t width,
					 uint32_t height, int16_t dst_x, int16_t dst_y)
{
	int r;

	if (!image || width == 0 || height == 0)
		return -EINVAL;
	image->reason[0] = '\0';
	if (!image->conn) {
		set_reason(image->reason, "the image is not attached");
		return -ENOTCONN;
	}
	r = check_rect(image, src_x, src_y, width, height);
	if (r < 0)
		return r;
	xcb_shm_put_image(image->conn, drawable, gc, (uint16_t)(image->fb.pitches[0] / 4),
			  (uint16_t)image->fb.height, (uint16_t)src_x, (uint16_t)src_y,
			  (uint16_t)width, (uint16_t)height, dst_x, dst_y, image->depth,
			  XCB_IMAGE_FORMAT_Z_PIXMAP, 0, image->seg, image->fb.offsets[0]);
	return conn_failed(image, image->conn);
}

DMABUFD_EXPORT int dmabufd_x11_image_get(struct dmabufd_x11_image *image,
					 xcb_drawable_t drawable, int16_t x, int16_t y,
					 uint32_t width, uint32_t height)
{
	_cleanup_free_ xcb_shm_get_image_cookie_t *cookies = NULL;
	bool whole_rows;
	uint32_t n;
	int r = 0;

	if (!image || width == 0 || height == 0)
		return -EINVAL;
	whole_rows = width == image->fb.pitches[0] / 4;
	n = whole_rows ? 1 : height;
	image->reason[0] = '\0';
	if (!image->conn) {
		set_reason(image->reason, "the image is not attached");
		return -ENOTCONN;
	}
	r = check_rect(image, 0, 0, width, height);
	if (r < 0)
		return r;
	cookies = calloc(n, sizeof(*cookies));
	if (!cookies)
		return -ENOMEM;
	/* All requests first, then the replies: one round trip in all. */
	for (uint32_t i = 0; i < n; i++)
		cookies[i] = xcb_shm_get_image(image->conn, drawable, x, (int16_t)(y + (int)i),
					       (uint16_t)width, (uint16_t)(whole_rows ? height : 1),
					       UINT32_MAX, XCB_IMAGE_FORMAT_Z_PIXMAP, image->seg,
					       image->fb.offsets[0] + i * image->fb.pitches[0]);
	for (uint32_t i = 0; i < n; i++) {
		xcb_generic_error_t *err = NULL;
		xcb_shm_get_image_reply_t *reply;

		reply = xcb_shm_get_image_reply(image->conn, cookies[i], &err);
		if (reply) {
			if (r == 0 && reply->size != (uint64_t)width * 4 * (whole_rows ? height : 1)) {
				set_reason(image->reason, "ShmGetImage wrote %u bytes, expected %llu",
					   reply->size,
					   (unsigned long long)width * 4 * (whole_rows ? height : 1));
				r = -EPROTO;
			}
			free(reply);
		} else if (err) {
			if (r == 0)
				r = x11_error(image, err, "ShmGetImage");
			else
				free(err);
		} else if (r == 0) {
			r = conn_failed(image, image->conn) ?: -EPROTO;
		}
	}
	return r;
}

DMABUFD_EXPORT int dmabufd_x11_image_detach(struct dmabufd_x11_image *image)
{
	xcb_get_input_focus_reply_t *focus;
	xcb_connection_t *conn;

	if (!image)
		return -EINVAL;
	if (!image->conn)
		return 0;
	conn = image->conn;
	image->conn = NULL;
	/* The pixmap holds a reference on the segment: free it first. */
	if (image->pixmap)
		xcb_free_pixmap(conn, image->pixmap);
	image->pixmap = 0;
	xcb_shm_detach(conn, image->seg);
	image->seg = 0;
	/* A round trip: the server has handled both when it answers. */
	focus = xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL);
	if (!focus)
		return conn_failed(image, conn) ?: -EPIPE;
	free(focus);
	return 0;
}

DMABUFD_EXPORT int dmabufd_x11_image_release(struct dmabufd_x11_image *image)
{
	int r;

	if (!image)
		return -EINVAL;
	if (image->released)
		return -EALREADY;
	r = dmabufd_release(image->client, image->fb.id);
	if (r < 0)
		return r;
	image->released = true;
	return 0;
}

DMABUFD_EXPORT void dmabufd_x11_image_destroy(struct dmabufd_x11_image *image)
{
	if (!image)
		return;
	(void)dmabufd_x11_image_detach(image);
	if (!image->released)
		(void)dmabufd_release(image->client, image->fb.id);
	munmap(image->data, image->fb.size);
	close(image->fb.fd);
	free(image);
}

DMABUFD_EXPORT const struct dmabufd_framebuffer *
dmabufd_x11_image_framebuffer(const struct dmabufd_x11_image *image)
{
	return image ? &image->fb : NULL;
}

DMABUFD_EXPORT void *dmabufd_x11_image_data(const struct dmabufd_x11_image *image)
{
	return image ? image->data : NULL;
}

DMABUFD_EXPORT int dmabufd_x11_image_fd(const struct dmabufd_x11_image *image)
{
	return image ? image->fb.fd : -EINVAL;
}

DMABUFD_EXPORT uint8_t dmabufd_x11_image_depth(const struct dmabufd_x11_image *image)
{
	return image ? image->depth : 0;
}

DMABUFD_EXPORT xcb_shm_seg_t dmabufd_x11_image_segment(const struct dmabufd_x11_image *image)
{
	return image && image->conn ? image->seg : 0;
}

DMABUFD_EXPORT const char *dmabufd_x11_image_reason(const struct dmabufd_x11_image *image)
{
	return image ? image->reason : "";
}
