/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd-x11 against a real Xvfb and the real dmabufd (memfd backend on
 * the host): pixel round trips through the server's own mapping, the
 * server's /proc maps, lifetimes, bad input. One program, one case per
 * argument: roundtrip, maps, lifetime, kill, badinput. Exits 77 when Xvfb is
 * not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <json-c/json.h>

#include <dmabufd/x11.h>

#include "harness.h"
#include "xvfb.h"

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			exit(1);                                               \
		}                                                              \
	} while (0)

static struct daemon_proc daemon_p;
static struct xvfb xvfb_p, xvfb_noshm;
static pid_t main_pid, child_pid;

/* At exit of the test (not of a forked child): nothing it started survives. */
static void stop_all(void)
{
	if (getpid() != main_pid)
		return;
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
	}
	if (xvfb_noshm.pid > 0)
		xvfb_stop(&xvfb_noshm);
	if (xvfb_p.pid > 0)
		xvfb_stop(&xvfb_p);
	if (daemon_p.pid > 0)
		daemon_stop(&daemon_p);
}

static void start_all(const char *const *xvfb_extra)
{
	int r;

	main_pid = getpid();
	atexit(stop_all);
	r = daemon_start(&daemon_p, NULL);
	CHECK(r == 0, "daemon_start: %s", strerror(-r));
	r = xvfb_start(&xvfb_p, "1024x768x24", xvfb_extra);
	CHECK(r == 0, "xvfb_start: %s", strerror(-r));
}

static struct dmabufd_client *dconnect(void)
{
	struct dmabufd_client *c = NULL;
	int r = dmabufd_connect(daemon_p.socket, &c);

	CHECK(r == 0, "dmabufd_connect: %s", strerror(-r));
	return c;
}

static xcb_connection_t *xconnect(void)
{
	char reason[DMABUFD_X11_REASON_SIZE] = "";
	xcb_connection_t *conn = NULL;
	int r = dmabufd_x11_connect(xvfb_p.display, &conn, NULL, reason);

	CHECK(r == 0, "dmabufd_x11_connect(%s): %s (%s)", xvfb_p.display, reason, strerror(-r));
	return conn;
}

static xcb_screen_t *screen_of(xcb_connection_t *conn)
{
	return xcb_setup_roots_iterator(xcb_get_setup(conn)).data;
}

static void xsync(xcb_connection_t *conn)
{
	xcb_get_input_focus_reply_t *r = xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL);

	CHECK(r, "round trip to the X server failed");
	free(r);
}

/* Fails on the first X error in the queue. */
static void no_x_errors(xcb_connection_t *conn)
{
	xcb_generic_event_t *ev;

	xsync(conn);
	while ((ev = xcb_poll_for_event(conn))) {
		if (ev->response_type == 0) {
			xcb_generic_error_t *e = (xcb_generic_error_t *)ev;

			CHECK(0, "X error %u major %u minor %u", e->error_code, e->major_code,
			      e->minor_code);
		}
		free(ev);
	}
}

static xcb_window_t make_window(xcb_connection_t *conn, uint16_t w, uint16_t h, xcb_gcontext_t *ret_gc)
{
	xcb_screen_t *s = screen_of(conn);
	xcb_window_t win = xcb_generate_id(conn);
	xcb_gcontext_t gc = xcb_generate_id(conn);

	xcb_create_window(conn, XCB_COPY_FROM_PARENT, win, s->root, 0, 0, w, h, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, 0, NULL);
	xcb_map_window(conn, win);
	xcb_create_gc(conn, gc, win, XCB_GC_GRAPHICS_EXPOSURES, (uint32_t[]){ 0 });
	no_x_errors(conn);
	*ret_gc = gc;
	return win;
}

/* A pixel value that differs per position and per @seed; pad byte 0. */
static uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ (seed * 0x9e3779b9u);

	v ^= v >> 13;
	return (v * 0x5bd1e995u) & 0x00ffffff;
}

static void fill(struct dmabufd_x11_image *img, uint32_t w, uint32_t h, uint32_t seed)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	uint8_t *base = (uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			((uint32_t *)(void *)(base + (size_t)y * fb->pitches[0]))[x] = pattern(x, y, seed);
}

/* Counts pixels of the image's first w x h that differ from the pattern. */
static uint64_t image_mismatches(struct dmabufd_x11_image *img, uint32_t w, uint32_t h, uint32_t seed)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	const uint8_t *base = (const uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];
	uint64_t bad = 0;

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			if ((((const uint32_t *)(const void *)(base + (size_t)y * fb->pitches[0]))[x] &
			     0x00ffffff) != pattern(x, y, seed))
				bad++;
	return bad;
}

/* Reads w x h of @drawable with a plain GetImage; counts pattern mismatches. */
static uint64_t window_mismatches(xcb_connection_t *conn, xcb_drawable_t d, uint16_t w, uint16_t h,
				  uint32_t seed)
{
	xcb_generic_error_t *err = NULL;
	xcb_get_image_reply_t *r = xcb_get_image_reply(
		conn, xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, d, 0, 0, w, h, UINT32_MAX), &err);
	const uint32_t *px;
	uint64_t bad = 0;

	CHECK(r, "GetImage failed (error %d)", err ? err->error_code : -1);
	CHECK(r->depth == 24, "depth %u", r->depth);
	CHECK(xcb_get_image_data_length(r) == (int)w * h * 4, "GetImage returned %d bytes",
	      xcb_get_image_data_length(r));
	px = (const uint32_t *)(const void *)xcb_get_image_data(r);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			if ((px[y * w + x] & 0x00ffffff) != pattern(x, y, seed))
				bad++;
	free(r);
	return bad;
}

/* Writes the pattern into @d with a plain PutImage (no SHM). */
static void put_plain(xcb_connection_t *conn, xcb_drawable_t d, xcb_gcontext_t gc, uint16_t w,
		      uint16_t h, uint32_t seed)
{
	uint32_t *px = malloc((size_t)w * h * 4);

	CHECK(px, "malloc");
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			px[y * w + x] = pattern(x, y, seed);
	xcb_put_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, d, gc, w, h, 0, 0, 0, 24,
		      (uint32_t)w * h * 4, (const uint8_t *)px);
	free(px);
	no_x_errors(conn);
}

static void stats(struct dmabufd_client *c, struct dmabufd_stats *s)
{
	int r = dmabufd_stats(c, s);

	CHECK(r == 0, "dmabufd_stats: %s", strerror(-r));
}

/* Waits up to 5 s until the daemon holds no buffer and no byte. */
static void wait_daemon_empty(struct dmabufd_client *c)
{
	struct dmabufd_stats s;

	for (int i = 0; i < 500; i++) {
		stats(c, &s);
		if (s.buffers == 0 && s.used == 0)
			return;
		usleep(10000);
	}
	CHECK(0, "the daemon still holds %u buffers, %llu bytes", s.buffers,
	      (unsigned long long)s.used);
}

static void fd_ident(int fd, dev_t *dev, ino_t *ino)
{
	struct stat st;

	CHECK(fstat(fd, &st) == 0, "fstat: %m");
	*dev = st.st_dev;
	*ino = st.st_ino;
}

/* --- 1: pixel round trips -------------------------------------------------- */

/*
 * ARGB8888 is X depth 32: into a depth-32 pixmap with ShmPutImage, back with
 * a plain GetImage, all 32 bits (alpha included) exact; and an SHM pixmap of
 * depth 32 over the buffer.
 */
static void argb_roundtrip(struct dmabufd_client *c, xcb_connection_t *conn)
{
	const uint32_t W = 40, H = 16;
	struct dmabufd_x11_image *img = NULL;
	const struct dmabufd_framebuffer *fb;
	xcb_generic_error_t *err = NULL;
	xcb_get_image_reply_t *reply;
	xcb_pixmap_t pm = xcb_generate_id(conn), shm_pm;
	xcb_gcontext_t gc = xcb_generate_id(conn);
	const uint32_t *px;
	uint8_t *base;
	int r;

	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_ARGB8888, DMABUFD_ATTR_CACHED, "x11-argb", &img);
	CHECK(r == 0, "alloc ARGB8888: %s", strerror(-r));
	CHECK(dmabufd_x11_image_depth(img) == 32, "depth %u", dmabufd_x11_image_depth(img));
	fb = dmabufd_x11_image_framebuffer(img);
	base = (uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			((uint32_t *)(void *)(base + (size_t)y * fb->pitches[0]))[x] =
				pattern(x, y, 9) | (x * 6 + y) << 24;
	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == 0, "attach: %s", strerror(-r));
	xcb_create_pixmap(conn, 32, pm, screen_of(conn)->root, W, H);
	xcb_create_gc(conn, gc, pm, XCB_GC_GRAPHICS_EXPOSURES, (uint32_t[]){ 0 });
	r = dmabufd_x11_image_put(img, pm, gc, 0, 0, W, H, 0, 0);
	CHECK(r == 0, "put: %s", strerror(-r));
	no_x_errors(conn);
	reply = xcb_get_image_reply(conn, xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, pm, 0, 0,
							  W, H, UINT32_MAX), &err);
	CHECK(reply && reply->depth == 32, "GetImage of the depth-32 pixmap failed");
	px = (const uint32_t *)(const void *)xcb_get_image_data(reply);
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			CHECK(px[y * W + x] == (pattern(x, y, 9) | (x * 6 + y) << 24),
			      "ARGB pixel (%u,%u) is %08x", x, y, px[y * W + x]);
	free(reply);
	r = dmabufd_x11_image_create_pixmap(img, pm, &shm_pm);
	CHECK(r == 0, "depth-32 SHM pixmap: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));
	xcb_free_pixmap(conn, pm);
	xcb_free_gc(conn, gc);
	no_x_errors(conn);
	dmabufd_x11_image_destroy(img);
	printf("ARGB8888: depth-32 ShmPutImage -> GetImage exact, alpha included\n");
}

static int test_roundtrip(void)
{
	/* 100 pixels: the scanout pitch rule pads rows to 448 bytes (112 pixels). */
	const uint32_t W = 100, H = 64;
	struct dmabufd_client *c;
	struct dmabufd_x11_image *img = NULL, *ro = NULL;
	const struct dmabufd_framebuffer *fb;
	xcb_connection_t *conn;
	xcb_window_t win;
	xcb_gcontext_t gc;
	xcb_pixmap_t pix;
	struct stat st;
	uint64_t bad;
	int r;

	start_all(NULL);
	c = dconnect();
	conn = xconnect();
	win = make_window(conn, 128, H, &gc);

	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, "x11-test", &img);
	CHECK(r == 0, "alloc: %s (%s)", strerror(-r), dmabufd_last_reason(c));
	fb = dmabufd_x11_image_framebuffer(img);
	CHECK(fb->num_planes == 1 && fb->pitches[0] >= W * 4 && fb->pitches[0] % 4 == 0,
	      "layout pitch %u", fb->pitches[0]);
	/* What the server's fstat() sees: the whole buffer, never 0 (BadMatch). */
	CHECK(fstat(fb->fd, &st) == 0 && (uint64_t)st.st_size == fb->size,
	      "st_size %lld, buffer %llu", (long long)st.st_size, (unsigned long long)fb->size);
	printf("buffer %llu: %ux%u pitch %u size %llu, st_size %lld\n", (unsigned long long)fb->id,
	       W, H, fb->pitches[0], (unsigned long long)fb->size, (long long)st.st_size);

	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == 0, "attach: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));

	/* Client writes, server reads its own mapping (ShmPutImage), plain GetImage back. */
	fill(img, W, H, 1);
	r = dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
	CHECK(r == 0, "put: %s", strerror(-r));
	no_x_errors(conn);
	bad = window_mismatches(conn, win, W, H, 1);
	CHECK(bad == 0, "ShmPutImage -> GetImage: %llu of %u pixels differ", (unsigned long long)bad, W * H);
	printf("ShmPutImage -> GetImage: %u pixels exact\n", W * H);

	/* Server writes through its mapping (ShmGetImage), one request per row. */
	put_plain(conn, win, gc, 128, H, 2);
	memset(dmabufd_x11_image_data(img), 0xaa, fb->size);
	r = dmabufd_x11_image_get(img, win, 0, 0, W, H);
	CHECK(r == 0, "get: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));
	bad = image_mismatches(img, W, H, 2);
	CHECK(bad == 0, "PutImage -> ShmGetImage (rows): %llu pixels differ", (unsigned long long)bad);
	/* ... and whole rows of pitch / 4 pixels in one request. */
	memset(dmabufd_x11_image_data(img), 0x55, fb->size);
	r = dmabufd_x11_image_get(img, win, 0, 0, fb->pitches[0] / 4, H);
	CHECK(r == 0, "get: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));
	bad = image_mismatches(img, fb->pitches[0] / 4, H, 2);
	CHECK(bad == 0, "PutImage -> ShmGetImage (whole): %llu pixels differ", (unsigned long long)bad);
	printf("PutImage -> ShmGetImage: exact\n");

	/* SHM pixmap: CopyArea from it presents the buffer ... */
	r = dmabufd_x11_image_create_pixmap(img, win, &pix);
	CHECK(r == 0, "create_pixmap: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));
	fill(img, W, H, 3);
	xcb_copy_area(conn, pix, win, gc, 0, 0, 0, 0, W, H);
	no_x_errors(conn);
	bad = window_mismatches(conn, win, W, H, 3);
	CHECK(bad == 0, "SHM pixmap -> CopyArea: %llu pixels differ", (unsigned long long)bad);
	/* ... and rendering into it writes the buffer. */
	xcb_change_gc(conn, gc, XCB_GC_FOREGROUND, (uint32_t[]){ 0x123456 });
	xcb_poly_fill_rectangle(conn, pix, gc, 1, (xcb_rectangle_t[]){ { 10, 20, 5, 5 } });
	no_x_errors(conn);
	{
		const uint8_t *base = (const uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];
		uint32_t v = ((const uint32_t *)(const void *)(base + 22 * fb->pitches[0]))[12];
		uint32_t outside = ((const uint32_t *)(const void *)(base + 22 * fb->pitches[0]))[15];

		CHECK((v & 0xffffff) == 0x123456, "pixmap fill wrote %06x", v & 0xffffff);
		CHECK((outside & 0xffffff) == pattern(15, 22, 3), "fill spilled");
	}
	printf("SHM pixmap: CopyArea exact, PolyFillRectangle lands in the buffer\n");

	r = dmabufd_x11_image_detach(img);
	CHECK(r == 0, "detach: %s", strerror(-r));

	/* Read-only attach: the server presents from it but cannot write it. */
	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, "x11-test-ro", &ro);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	r = dmabufd_x11_image_attach(ro, conn, 1);
	CHECK(r == 0, "attach read-only: %s (%s)", strerror(-r), dmabufd_x11_image_reason(ro));
	{
		dev_t dev;
		ino_t ino;
		bool writable = true;

		fd_ident(dmabufd_x11_image_fd(ro), &dev, &ino);
		CHECK(maps_count(xvfb_p.pid, dev, ino, &writable) >= 1, "no server mapping");
		CHECK(!writable, "the server mapped a read-only segment writable");
	}
	fill(ro, W, H, 4);
	r = dmabufd_x11_image_put(ro, win, gc, 0, 0, W, H, 0, 0);
	CHECK(r == 0, "put read-only: %s", strerror(-r));
	no_x_errors(conn);
	CHECK(window_mismatches(conn, win, W, H, 4) == 0, "read-only ShmPutImage differs");
	r = dmabufd_x11_image_get(ro, win, 0, 0, W, H);
	CHECK(r == -EACCES, "ShmGetImage into a read-only segment gave %d (%s)", r,
	      dmabufd_x11_image_reason(ro));
	CHECK(strstr(dmabufd_x11_image_reason(ro), "BadAccess"), "reason: %s", dmabufd_x11_image_reason(ro));
	CHECK(image_mismatches(ro, W, H, 4) == 0, "the read-only buffer changed");
	printf("read-only: ShmPutImage exact, ShmGetImage refused: %s\n", dmabufd_x11_image_reason(ro));
	/* Xorg's ShmCreatePixmap wants a writable segment. */
	r = dmabufd_x11_image_create_pixmap(ro, win, &pix);
	CHECK(r == -EACCES, "read-only pixmap gave %d (%s)", r, dmabufd_x11_image_reason(ro));

	dmabufd_x11_image_destroy(ro);
	dmabufd_x11_image_destroy(img);
	argb_roundtrip(c, conn);
	wait_daemon_empty(c);
	xcb_disconnect(conn);
	dmabufd_disconnect(c);
	return 0;
}

/* --- 2: the server's maps and the daemon's list ------------------------------ */

static json_object *list_json(void)
{
	char cmd[512], buf[65536];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --socket %s list --json", DMABUFCTL_BIN, daemon_p.socket);
	p = popen(cmd, "re");
	CHECK(p, "popen: %m");
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	CHECK(pclose(p) == 0, "dmabufctl list --json failed");
	return json_tokener_parse(buf);
}

static int test_maps(void)
{
	const uint32_t W = 256, H = 128;
	struct dmabufd_client *c;
	struct dmabufd_x11_image *img = NULL;
	xcb_connection_t *conn;
	json_object *list;
	bool writable = false, found = false;
	xcb_pixmap_t pix;
	dev_t dev;
	ino_t ino;
	int r, n;

	start_all(NULL);
	c = dconnect();
	conn = xconnect();
	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, "x11-maps", &img);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	fd_ident(dmabufd_x11_image_fd(img), &dev, &ino);
	CHECK(maps_count(xvfb_p.pid, dev, ino, NULL) == 0, "server maps it before attach");

	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == 0, "attach: %s (%s)", strerror(-r), dmabufd_x11_image_reason(img));
	n = maps_count(xvfb_p.pid, dev, ino, &writable);
	CHECK(n >= 1 && writable, "Xvfb pid %d maps the buffer %d times (writable %d)", xvfb_p.pid, n, writable);
	printf("attached: Xvfb (pid %d) maps the buffer's inode %llu (%d mapping, writable)\n",
	       (int)xvfb_p.pid, (unsigned long long)ino, n);

	list = list_json();
	CHECK(list && json_object_is_type(list, json_type_array), "list --json is not an array");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *b = json_object_array_get_idx(list, i), *v;

		if (!json_object_object_get_ex(b, "id", &v) ||
		    json_object_get_uint64(v) != dmabufd_x11_image_framebuffer(img)->id)
			continue;
		found = true;
		CHECK(json_object_object_get_ex(b, "owner_pid", &v) && json_object_get_int(v) == getpid(),
		      "owner_pid %d, expected %d", json_object_get_int(v), getpid());
		CHECK(json_object_object_get_ex(b, "label", &v) &&
		      strcmp(json_object_get_string(v), "x11-maps") == 0, "label");
		printf("dmabufctl list --json: %s\n", json_object_to_json_string(b));
	}
	json_object_put(list);
	CHECK(found, "dmabufctl list does not show buffer %llu",
	      (unsigned long long)dmabufd_x11_image_framebuffer(img)->id);

	/* A pixmap keeps the segment; detach frees both: no mapping left. */
	r = dmabufd_x11_image_create_pixmap(img, screen_of(conn)->root, &pix);
	CHECK(r == 0, "pixmap: %s", strerror(-r));
	r = dmabufd_x11_image_detach(img);
	CHECK(r == 0, "detach: %s", strerror(-r));
	n = maps_count(xvfb_p.pid, dev, ino, NULL);
	CHECK(n == 0, "Xvfb still maps the buffer %d times after detach", n);
	printf("detached: no mapping in Xvfb\n");

	dmabufd_x11_image_destroy(img);
	wait_daemon_empty(c);
	xcb_disconnect(conn);
	dmabufd_disconnect(c);
	return 0;
}

/* --- 3: lifetimes ------------------------------------------------------------ */

struct ident {
	dev_t dev;
	ino_t ino;
};

/*
 * Child: allocate, attach, release while attached, keep presenting and
 * reading back, detach, exit. Reports the buffer's identity on @fd.
 */
static void child_release_while_attached(int fd)
{
	const uint32_t W = 64, H = 64;
	struct dmabufd_client *c = dconnect();
	xcb_connection_t *conn = xconnect();
	struct dmabufd_x11_image *img = NULL;
	struct dmabufd_stats s;
	struct ident id;
	xcb_window_t win;
	xcb_gcontext_t gc;
	int r;

	win = make_window(conn, W, H, &gc);
	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, "x11-life", &img);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	fd_ident(dmabufd_x11_image_fd(img), &id.dev, &id.ino);
	CHECK(write(fd, &id, sizeof(id)) == sizeof(id), "write");
	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == 0, "attach: %s", strerror(-r));

	r = dmabufd_x11_image_release(img);
	CHECK(r == 0, "release: %s", strerror(-r));
	stats(c, &s);
	CHECK(s.buffers == 0 && s.used == 0, "after release the daemon holds %u buffers", s.buffers);
	CHECK(maps_count(xvfb_p.pid, id.dev, id.ino, NULL) >= 1, "server mapping gone at release");

	for (uint32_t seed = 10; seed < 14; seed++) {
		fill(img, W, H, seed);
		r = dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
		CHECK(r == 0, "put after release: %s", strerror(-r));
		no_x_errors(conn);
		CHECK(window_mismatches(conn, win, W, H, seed) == 0, "ShmPutImage after release differs");
		put_plain(conn, win, gc, W, H, seed + 100);
		r = dmabufd_x11_image_get(img, win, 0, 0, W, H);
		CHECK(r == 0, "get after release: %s", strerror(-r));
		CHECK(image_mismatches(img, W, H, seed + 100) == 0, "ShmGetImage after release differs");
	}
	r = dmabufd_x11_image_detach(img);
	CHECK(r == 0, "detach: %s", strerror(-r));
	CHECK(maps_count(xvfb_p.pid, id.dev, id.ino, NULL) == 0, "server still maps it after detach");
	dmabufd_x11_image_destroy(img);
	xcb_disconnect(conn);
	dmabufd_disconnect(c);
	_exit(0);
}

/* Child: allocate, attach, create a pixmap, report, then wait to be killed. */
static void child_killed_while_attached(int fd)
{
	struct dmabufd_client *c = dconnect();
	xcb_connection_t *conn = xconnect();
	struct dmabufd_x11_image *img = NULL;
	xcb_pixmap_t pix;
	struct ident id;
	int r;

	r = dmabufd_x11_image_alloc(c, 320, 200, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, "x11-kill", &img);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == 0, "attach: %s", strerror(-r));
	r = dmabufd_x11_image_create_pixmap(img, screen_of(conn)->root, &pix);
	CHECK(r == 0, "pixmap: %s", strerror(-r));
	fd_ident(dmabufd_x11_image_fd(img), &id.dev, &id.ino);
	CHECK(write(fd, &id, sizeof(id)) == sizeof(id), "write");
	for (;;)
		pause();
}

static pid_t spawn(void (*fn)(int), int *ret_fd)
{
	int p[2];
	pid_t pid;

	CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe: %m");
	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		close(p[0]);
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	*ret_fd = p[0];
	child_pid = pid;
	return pid;
}

static int test_lifetime(void)
{
	struct dmabufd_client *c;
	xcb_connection_t *conn;
	struct ident id;
	int fd, status, n;
	pid_t pid;

	start_all(NULL);
	c = dconnect();
	conn = xconnect();

	/* Release while attached: the server's mapping keeps the memory valid. */
	pid = spawn(child_release_while_attached, &fd);
	CHECK(read(fd, &id, sizeof(id)) == sizeof(id), "child reported nothing");
	close(fd);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	child_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "release-while-attached child failed (status %#x)", status);
	wait_daemon_empty(c);
	CHECK(maps_count(xvfb_p.pid, id.dev, id.ino, NULL) == 0, "server still maps it");
	printf("release while attached: server presented and read back exactly; after detach "
	       "and exit the daemon holds nothing\n");

	/* Client SIGKILLed while attached (with an SHM pixmap). */
	pid = spawn(child_killed_while_attached, &fd);
	CHECK(read(fd, &id, sizeof(id)) == sizeof(id), "child reported nothing");
	close(fd);
	n = maps_count(xvfb_p.pid, id.dev, id.ino, NULL);
	CHECK(n >= 1, "server does not map the killed client's buffer (%d)", n);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	child_pid = 0;
	CHECK(WIFSIGNALED(status), "child did not die");
	wait_daemon_empty(c);
	for (int i = 0; i < 500 && (n = maps_count(xvfb_p.pid, id.dev, id.ino, NULL)) > 0; i++)
		usleep(10000);
	CHECK(n == 0, "Xvfb still maps the killed client's buffer");
	CHECK(kill(xvfb_p.pid, 0) == 0, "Xvfb died");
	xsync(conn);
	{
		/* And it still serves: a fresh client attaches and presents. */
		struct dmabufd_x11_image *img = NULL;
		xcb_gcontext_t gc;
		xcb_window_t win = make_window(conn, 32, 32, &gc);
		int r = dmabufd_x11_image_alloc(c, 32, 32, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED,
						NULL, &img);

		CHECK(r == 0, "alloc: %s", strerror(-r));
		CHECK(dmabufd_x11_image_attach(img, conn, 0) == 0, "attach after kill");
		fill(img, 32, 32, 7);
		CHECK(dmabufd_x11_image_put(img, win, gc, 0, 0, 32, 32, 0, 0) == 0, "put");
		no_x_errors(conn);
		CHECK(window_mismatches(conn, win, 32, 32, 7) == 0, "put after kill differs");
		dmabufd_x11_image_destroy(img);
	}
	wait_daemon_empty(c);
	printf("client SIGKILLed while attached: Xvfb survives and serves, mapping gone, daemon empty\n");
	xcb_disconnect(conn);
	dmabufd_disconnect(c);
	return 0;
}

/* --- 5: bad input --------------------------------------------------------------- */

/* Runs the demo; returns its exit status and its stderr in @err. */
static int run_demo(const char *display, char *err, size_t errlen)
{
	char cmd[512];
	size_t n;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s --socket %s --display '%s' --seconds 0.2 "
		 "--fallback-cached 2>&1 >/dev/null", DEMO_BIN, daemon_p.socket, display);
	p = popen(cmd, "re");
	CHECK(p, "popen: %m");
	n = fread(err, 1, errlen - 1, p);
	err[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int test_badinput(void)
{
	static const char *const no_shm[] = { "-extension", "MIT-SHM", NULL };
	char reason[DMABUFD_X11_REASON_SIZE] = "", out[4096], nodisplay[32];
	struct dmabufd_x11_image *img = NULL;
	struct dmabufd_client *c;
	xcb_connection_t *conn = NULL;
	xcb_gcontext_t gc;
	xcb_window_t win;
	int r, status;

	start_all(NULL);
	c = dconnect();

	/* Write-combine on a backend that only has cached memory. */
	r = dmabufd_x11_image_alloc(c, 64, 64, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_WRITECOMBINE, NULL, &img);
	{
		struct dmabufd_info info;
		char why[256];

		/* Every call clears the reason: keep it before asking for the info. */
		snprintf(why, sizeof(why), "%s", dmabufd_last_reason(c));
		CHECK(dmabufd_get_info(c, &info) == 0, "info");
		if (!(info.attributes & (1u << DMABUFD_ATTR_WRITECOMBINE))) {
			CHECK(r == -EOPNOTSUPP && img == NULL, "write-combine on %s gave %d", info.backend, r);
			CHECK(why[0], "no reason from the daemon");
			printf("write-combine on %s: %s\n", info.backend, why);
		} else {
			CHECK(r == 0, "write-combine alloc: %s", strerror(-r));
			dmabufd_x11_image_destroy(img);
			img = NULL;
		}
	}
	/* Unsupported format, zero and oversized dimensions. */
	CHECK(dmabufd_x11_image_alloc(c, 64, 64, DRM_FORMAT_NV12, DMABUFD_ATTR_CACHED, NULL, &img) == -EINVAL, "NV12");
	CHECK(dmabufd_x11_image_alloc(c, 0, 64, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, NULL, &img) == -EINVAL, "0");
	CHECK(dmabufd_x11_image_alloc(c, 40000, 1, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, NULL, &img) == -EINVAL, "40000");
	wait_daemon_empty(c);

	/* A display nobody serves, and a name that is no display. */
	for (int n = 600;; n++) {
		char sock[64];

		snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
		if (access(sock, F_OK) != 0) {
			snprintf(nodisplay, sizeof(nodisplay), ":%d", n);
			break;
		}
	}
	r = dmabufd_x11_connect(nodisplay, &conn, NULL, reason);
	CHECK(r == -ECONNREFUSED && !conn, "connect %s gave %d", nodisplay, r);
	CHECK(strstr(reason, nodisplay), "reason: %s", reason);
	printf("display %s: %s\n", nodisplay, reason);
	status = run_demo(nodisplay, out, sizeof(out));
	CHECK(status == 1 && strstr(out, "cannot connect to X display"), "demo: %d %s", status, out);
	r = dmabufd_x11_connect("no display here", &conn, NULL, reason);
	CHECK(r == -EINVAL && !conn, "bad name gave %d", r);
	unsetenv("DISPLAY");
	r = dmabufd_x11_connect(NULL, &conn, NULL, reason);
	CHECK(r == -EINVAL && !conn && strstr(reason, "DISPLAY"), "no $DISPLAY gave %d (%s)", r, reason);

	/* An X server without MIT-SHM refuses the attach; the buffer is released. */
	r = xvfb_start(&xvfb_noshm, "640x480x24", no_shm);
	CHECK(r == 0, "xvfb -extension MIT-SHM: %s", strerror(-r));
	r = dmabufd_x11_connect(xvfb_noshm.display, &conn, NULL, reason);
	CHECK(r == 0, "connect: %s", reason);
	r = dmabufd_x11_image_alloc(c, 64, 64, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, NULL, &img);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	r = dmabufd_x11_image_attach(img, conn, 0);
	CHECK(r == -EOPNOTSUPP, "attach without MIT-SHM gave %d", r);
	CHECK(strstr(dmabufd_x11_image_reason(img), "MIT-SHM"), "reason: %s", dmabufd_x11_image_reason(img));
	printf("no MIT-SHM: %s\n", dmabufd_x11_image_reason(img));
	CHECK(dmabufd_x11_image_put(img, screen_of(conn)->root, 0, 0, 0, 1, 1, 0, 0) == -ENOTCONN, "put");
	dmabufd_x11_image_destroy(img);
	img = NULL;
	wait_daemon_empty(c);
	status = run_demo(xvfb_noshm.display, out, sizeof(out));
	CHECK(status == 1 && strstr(out, "MIT-SHM"), "demo: %d %s", status, out);
	printf("demo without MIT-SHM: %s", out);
	wait_daemon_empty(c);
	xcb_disconnect(conn);
	conn = NULL;
	xvfb_stop(&xvfb_noshm);

	/* A buffer too small for the requested image. */
	conn = xconnect();
	win = make_window(conn, 200, 200, &gc);
	r = dmabufd_x11_image_alloc(c, 64, 64, DRM_FORMAT_XRGB8888, DMABUFD_ATTR_CACHED, NULL, &img);
	CHECK(r == 0, "alloc: %s", strerror(-r));
	CHECK(dmabufd_x11_image_attach(img, conn, 0) == 0, "attach");
	r = dmabufd_x11_image_put(img, win, gc, 0, 0, 64, 65, 0, 0);
	CHECK(r == -ERANGE, "put 64x65 from a 64x64 image gave %d", r);
	printf("too small: %s\n", dmabufd_x11_image_reason(img));
	CHECK(strstr(dmabufd_x11_image_reason(img), "does not fit"), "reason");
	r = dmabufd_x11_image_put(img, win, gc, 60, 0, 64, 1, 0, 0);
	CHECK(r == -ERANGE, "put past the right edge gave %d", r);
	r = dmabufd_x11_image_get(img, win, 0, 0, 200, 1);
	CHECK(r == -ERANGE, "get 200 wide into a 64-wide image gave %d", r);
	/* The server checks too: a raw ShmPutImage beyond the segment is BadValue. */
	{
		const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
		xcb_generic_error_t *e = xcb_request_check(conn, xcb_shm_put_image_checked(
			conn, win, gc, (uint16_t)(fb->pitches[0] / 4), 4096, 0, 0, 64, 4096, 0, 0,
			24, XCB_IMAGE_FORMAT_Z_PIXMAP, 0, dmabufd_x11_image_segment(img), 0));

		CHECK(e && e->error_code == XCB_VALUE, "server accepted an image beyond the segment");
		free(e);
	}
	r = dmabufd_x11_image_create_pixmap(img, win, NULL);
	CHECK(r == -EINVAL, "NULL ret");
	CHECK(dmabufd_x11_image_attach(img, conn, 0) == -EBUSY, "double attach");
	CHECK(dmabufd_x11_image_release(img) == 0, "release");
	CHECK(dmabufd_x11_image_release(img) == -EALREADY, "double release");
	dmabufd_x11_image_destroy(img);
	wait_daemon_empty(c);
	xcb_disconnect(conn);
	dmabufd_disconnect(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s roundtrip|maps|lifetime|badinput\n", argv[0]);
		return 2;
	}
	if (!xvfb_available()) {
		fprintf(stderr, "Xvfb not installed (Debian package xvfb): skipped\n");
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "roundtrip") == 0)
		return test_roundtrip();
	if (strcmp(argv[1], "maps") == 0)
		return test_maps();
	if (strcmp(argv[1], "lifetime") == 0)
		return test_lifetime();
	if (strcmp(argv[1], "badinput") == 0)
		return test_badinput();
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
