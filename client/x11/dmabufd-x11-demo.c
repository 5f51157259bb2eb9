/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-x11-demo: an X11 window showing an animated test pattern drawn
 * into a dmabufd framebuffer through the client's own mapping, presented
 * by the X server from the same memory with ShmPutImage and through an SHM
 * pixmap + CopyArea (libdmabufd-x11, docs/X11.md).
 *
 * Usage: dmabufd-x11-demo [--socket PATH] [--display NAME] [--size WxH]
 *          [--attribute wc|cached|uc] [--fallback-cached] [--seconds S]
 *          [--json]
 *
 * The pattern: the top three quarters are eight vertical colour bars of
 * fully saturated values (white, yellow, cyan, green, magenta, red, blue,
 * black), identical in every frame, so a screenshot can be checked pixel by
 * pixel; the bottom quarter is a horizontal grey ramp with a white square
 * that moves by 8 pixels per frame. Each mode runs for half of --seconds;
 * every frame is drawn, presented, and waited for (one round trip), so the
 * rate counts frames the server has finished reading.
 *
 * Exit: 0; 1 on an error (printed with the reason, the buffer released);
 * 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <drm_fourcc.h>
#include <json-c/json.h>

#include <dmabufd/x11.h>

static const uint32_t bar_colours[8] = {
	0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000,
};

struct options {
	const char *socket;
	const char *display;
	uint32_t width, height;
	enum dmabufd_attribute attribute;
	bool fallback_cached;
	double seconds;
	bool json;
};

struct mode_result {
	const char *name;
	uint64_t frames;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(uint8_t *base, uint32_t pitch, uint32_t width, uint32_t height, uint64_t frame)
{
	const uint32_t bars_h = height - height / 4;
	const uint32_t sq = height / 8 ? height / 8 : 1;
	const uint32_t sq_x = (uint32_t)((frame * 8) % (width > sq ? width - sq + 1 : 1));
	const uint32_t sq_y = bars_h + (height / 4 - sq) / 2;

	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)(void *)(base + (size_t)y * pitch);

		if (y < bars_h) {
			for (uint32_t x = 0; x < width; x++)
				row[x] = bar_colours[(uint64_t)x * 8 / width];
			continue;
		}
		for (uint32_t x = 0; x < width; x++) {
			uint32_t g = (uint32_t)(((uint64_t)x * 255 / (width > 1 ? width - 1 : 1) + frame) & 0xff);

			if (x >= sq_x && x < sq_x + sq && y >= sq_y && y < sq_y + sq)
				row[x] = 0xffffff;
			else
				row[x] = g << 16 | g << 8 | g;
		}
	}
}

static void usage(FILE *f)
{
	fputs("usage: dmabufd-x11-demo [--socket PATH] [--display NAME] [--size WxH]\n"
	      "         [--attribute wc|cached|uc] [--fallback-cached] [--seconds S] [--json]\n"
	      "  --attribute       cache attribute of the buffer (default wc: write-combine)\n"
	      "  --fallback-cached use a cached buffer when the backend cannot give the attribute\n"
	      "  --seconds         run time, half per presentation mode (default 4)\n",
	      f);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "display", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 'z' },
		{ "attribute", required_argument, NULL, 'a' },
		{ "fallback-cached", no_argument, NULL, 'f' },
		{ "seconds", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct options){ .width = 640, .height = 480,
			       .attribute = DMABUFD_ATTR_WRITECOMBINE, .seconds = 4 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 's': o->socket = optarg; break;
		case 'd': o->display = optarg; break;
		case 'z':
			if (sscanf(optarg, "%ux%u", &o->width, &o->height) != 2 ||
			    o->width < 8 || o->height < 8 || o->width > 16384 || o->height > 16384) {
				fprintf(stderr, "dmabufd-x11-demo: bad --size %s (WxH, 8..16384)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'a':
			if (dmabufd_attribute_from_string(optarg, &o->attribute) < 0) {
				fprintf(stderr, "dmabufd-x11-demo: unknown attribute %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 'f': o->fallback_cached = true; break;
		case 't':
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0 && o->seconds <= 3600)) {
				fprintf(stderr, "dmabufd-x11-demo: bad --seconds %s\n", optarg);
				return -EINVAL;
			}
			break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc)
		return -EINVAL;
	return 0;
}

/* Round trip: the server has handled every earlier request when it returns. */
static int sync_x(xcb_connection_t *conn)
{
	xcb_get_input_focus_reply_t *r = xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL);

	if (!r)
		return -EPIPE;
	free(r);
	return 0;
}

/* Prints and consumes the first X error in the queue, if any. */
static int x_errors(xcb_connection_t *conn)
{
	xcb_generic_event_t *ev;
	int r = 0;

	while ((ev = xcb_poll_for_event(conn))) {
		if (ev->response_type == 0 && r == 0) {
			xcb_generic_error_t *e = (xcb_generic_error_t *)ev;

			fprintf(stderr, "dmabufd-x11-demo: X error %u (major %u minor %u)\n",
				e->error_code, e->major_code, e->minor_code);
			r = -EIO;
		}
		free(ev);
	}
	return r;
}

static int run_mode(xcb_connection_t *conn, struct dmabufd_x11_image *img, xcb_window_t win,
		    xcb_gcontext_t gc, xcb_pixmap_t pixmap, double seconds, struct mode_result *res)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	uint8_t *base = (uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];
	const double start = now();
	double t = start;
	uint64_t frame = 0;
	int r;

	do {
		r = dmabufd_cpu_access_begin(fb->fd, DMABUFD_CPU_WRITE);
		if (r < 0)
			return r;
		draw(base, fb->pitches[0], fb->width, fb->height, frame);
		r = dmabufd_cpu_access_end(fb->fd, DMABUFD_CPU_WRITE);
		if (r < 0)
			return r;
		if (pixmap) {
			xcb_copy_area(conn, pixmap, win, gc, 0, 0, 0, 0, (uint16_t)fb->width,
				      (uint16_t)fb->height);
		} else {
			r = dmabufd_x11_image_put(img, win, gc, 0, 0, fb->width, fb->height, 0, 0);
			if (r < 0) {
				fprintf(stderr, "dmabufd-x11-demo: ShmPutImage: %s\n",
					dmabufd_x11_image_reason(img));
				return r;
			}
		}
		/* The server has read the buffer before the next frame overwrites it. */
		r = sync_x(conn);
		if (r < 0)
			return r;
		frame++;
		t = now();
	} while (t - start < seconds);
	r = x_errors(conn);
	if (r < 0)
		return r;
	res->frames = frame;
	res->seconds = t - start;
	return 0;
}

int main(int argc, char **argv)
{
	struct dmabufd_client *client = NULL;
	struct dmabufd_x11_image *img = NULL;
	xcb_connection_t *conn = NULL;
	struct mode_result res[2] = { { .name = "shm-put-image" },
				      { .name = "shm-pixmap-copy-area" } };
	enum dmabufd_attribute attribute;
	char reason[DMABUFD_X11_REASON_SIZE] = "";
	const struct dmabufd_framebuffer *fb;
	struct dmabufd_info info;
	const xcb_setup_t *setup;
	xcb_screen_iterator_t sit;
	xcb_window_t win;
	xcb_gcontext_t gc;
	xcb_pixmap_t pixmap;
	struct options o;
	bool fell_back = false;
	int screen = 0, r, ret = 1;

	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	attribute = o.attribute;

	r = dmabufd_connect(o.socket, &client);
	if (r < 0) {
		const char *env = getenv("DMABUFD_SOCKET");

		fprintf(stderr, "dmabufd-x11-demo: cannot connect to dmabufd at %s: %s\n",
			o.socket && *o.socket ? o.socket : env && *env ? env : DMABUFD_DEFAULT_SOCKET,
			strerror(-r));
		return 1;
	}
	(void)dmabufd_get_info(client, &info);

	r = dmabufd_x11_connect(o.display, &conn, &screen, reason);
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: %s (%s)\n", reason, strerror(-r));
		goto out;
	}

	r = dmabufd_x11_image_alloc(client, o.width, o.height, DRM_FORMAT_XRGB8888, attribute,
				    "x11-demo", &img);
	if (r == -EOPNOTSUPP && o.fallback_cached && attribute != DMABUFD_ATTR_CACHED) {
		fprintf(stderr, "dmabufd-x11-demo: the %s backend cannot give %s buffers (%s); "
			"using cached as asked (--fallback-cached)\n", info.backend,
			dmabufd_attribute_name(attribute), dmabufd_last_reason(client));
		attribute = DMABUFD_ATTR_CACHED;
		fell_back = true;
		r = dmabufd_x11_image_alloc(client, o.width, o.height, DRM_FORMAT_XRGB8888,
					    attribute, "x11-demo", &img);
	}
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: cannot allocate a %ux%u XRGB8888 %s framebuffer: "
			"%s (%s)%s\n", o.width, o.height, dmabufd_attribute_name(attribute),
			dmabufd_last_reason(client)[0] ? dmabufd_last_reason(client) : "no reason given",
			strerror(-r), r == -EOPNOTSUPP ? "; --fallback-cached accepts a cached buffer" : "");
		goto out;
	}
	fb = dmabufd_x11_image_framebuffer(img);

	r = dmabufd_x11_image_attach(img, conn, 0);
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: cannot attach the buffer to the X server: %s (%s)\n",
			dmabufd_x11_image_reason(img), strerror(-r));
		goto out;
	}

	setup = xcb_get_setup(conn);
	sit = xcb_setup_roots_iterator(setup);
	for (int i = 0; i < screen && sit.rem; i++)
		xcb_screen_next(&sit);
	if (sit.data->root_depth != 24) {
		fprintf(stderr, "dmabufd-x11-demo: the root window has depth %u, the demo needs 24\n",
			sit.data->root_depth);
		goto out;
	}
	win = xcb_generate_id(conn);
	xcb_create_window(conn, XCB_COPY_FROM_PARENT, win, sit.data->root, 0, 0,
			  (uint16_t)o.width, (uint16_t)o.height, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
			  sit.data->root_visual, 0, NULL);
	xcb_change_property(conn, XCB_PROP_MODE_REPLACE, win, XCB_ATOM_WM_NAME, XCB_ATOM_STRING, 8,
			    strlen("dmabufd-x11-demo"), "dmabufd-x11-demo");
	xcb_map_window(conn, win);
	gc = xcb_generate_id(conn);
	xcb_create_gc(conn, gc, win, XCB_GC_GRAPHICS_EXPOSURES, (uint32_t[]){ 0 });
	if (sync_x(conn) < 0 || x_errors(conn) < 0) {
		fprintf(stderr, "dmabufd-x11-demo: cannot create the window\n");
		goto out;
	}

	r = run_mode(conn, img, win, gc, 0, o.seconds / 2, &res[0]);
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: presenting with ShmPutImage failed: %s\n", strerror(-r));
		goto out;
	}
	r = dmabufd_x11_image_create_pixmap(img, win, &pixmap);
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: cannot create an SHM pixmap: %s (%s)\n",
			dmabufd_x11_image_reason(img), strerror(-r));
		goto out;
	}
	r = run_mode(conn, img, win, gc, pixmap, o.seconds / 2, &res[1]);
	if (r < 0) {
		fprintf(stderr, "dmabufd-x11-demo: presenting with CopyArea failed: %s\n", strerror(-r));
		goto out;
	}

	if (o.json) {
		json_object *j = json_object_new_object(), *modes = json_object_new_array();

		json_object_object_add(j, "backend", json_object_new_string(info.backend));
		json_object_object_add(j, "requested_attribute",
				       json_object_new_string(dmabufd_attribute_name(o.attribute)));
		json_object_object_add(j, "attribute",
				       json_object_new_string(dmabufd_attribute_name(attribute)));
		json_object_object_add(j, "fallback", json_object_new_boolean(fell_back));
		json_object_object_add(j, "buffer_id", json_object_new_uint64(fb->id));
		json_object_object_add(j, "width", json_object_new_int64(fb->width));
		json_object_object_add(j, "height", json_object_new_int64(fb->height));
		json_object_object_add(j, "pitch", json_object_new_int64(fb->pitches[0]));
		json_object_object_add(j, "size", json_object_new_uint64(fb->size));
		json_object_object_add(j, "window", json_object_new_int64(win));
		for (int i = 0; i < 2; i++) {
			json_object *m = json_object_new_object();

			json_object_object_add(m, "mode", json_object_new_string(res[i].name));
			json_object_object_add(m, "frames", json_object_new_uint64(res[i].frames));
			json_object_object_add(m, "seconds", json_object_new_double(res[i].seconds));
			json_object_object_add(m, "fps",
					       json_object_new_double(res[i].frames / res[i].seconds));
			json_object_array_add(modes, m);
		}
		json_object_object_add(j, "modes", modes);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		printf("backend %s, %ux%u XRGB8888 pitch %u, %s buffer%s\n", info.backend, fb->width,
		       fb->height, fb->pitches[0], dmabufd_attribute_name(attribute),
		       fell_back ? " (fallback)" : "");
		for (int i = 0; i < 2; i++)
			printf("%-22s %6" PRIu64 " frames in %.2f s: %.1f fps\n", res[i].name,
			       res[i].frames, res[i].seconds, res[i].frames / res[i].seconds);
	}
	ret = 0;
out:
	dmabufd_x11_image_destroy(img);
	if (conn)
		xcb_disconnect(conn);
	dmabufd_disconnect(client);
	return ret;
}
