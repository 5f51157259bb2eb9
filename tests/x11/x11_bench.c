/* SPDX-License-Identifier: MIT */
/*
 * x11_bench: frames per second presented to a real Xvfb, 1920x1080
 * XRGB8888, full frame per request, one round trip per frame (the server
 * has finished reading the frame before the next one is sent), in the same
 * run from
 *   (a) a dmabufd write-back (cached) buffer, ShmPutImage via ShmAttachFd
 *   (b) a dmabufd write-combine buffer, likewise (n/a where the backend
 *       has no write-combine memory, e.g. memfd)
 *   (c) a classic SysV shared memory segment (shmget + ShmAttach)
 *   (d) plain PutImage (the pixels travel through the X socket)
 * Modes alternate for --rounds rounds of --seconds each, each round starting
 * with the next mode; the median round counts, for the frame rate and for
 * the X server's CPU time per frame (/proc/<pid>/stat; less sensitive to
 * other load on the machine). Every mode sends the same
 * request stream: the put, then GetInputFocus, one flush. Ratios are to (c). Starts its own dmabufd ($DMABUFD_TEST_BACKEND,
 * default memfd) and Xvfb. Not a test: exit 0 with figures, 1 when it could
 * not measure, 77 without Xvfb.
 *
 * Usage: x11_bench [--seconds S] [--rounds N] [--json]
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <json-c/json.h>

#include <dmabufd/x11.h>

#include "harness.h"
#include "xvfb.h"

#define W 1920u
#define H 1080u
#define MAX_ROUNDS 15

enum mode { MODE_WB, MODE_WC, MODE_SYSV, MODE_PLAIN, MODE_COUNT };

static const char *const mode_names[MODE_COUNT] = {
	"dmabufd write-back ShmPutImage", "dmabufd write-combine ShmPutImage",
	"SysV SHM ShmPutImage", "plain PutImage",
};
static const char *const mode_keys[MODE_COUNT] = { "dmabufd_wb", "dmabufd_wc", "sysv_shm", "put_image" };

struct ctx {
	xcb_connection_t *conn;
	xcb_window_t win;
	xcb_gcontext_t gc;
	struct dmabufd_x11_image *img[2];   /* MODE_WB, MODE_WC */
	xcb_shm_seg_t sysv_seg;
	uint32_t *sysv;
	uint32_t *plain;
	uint32_t max_rows;                  /* rows per plain PutImage request */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pattern(uint32_t *px, uint32_t pitch_px)
{
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			px[(size_t)y * pitch_px + x] = (x * 255 / W) << 16 | (y * 255 / H) << 8 | ((x ^ y) & 0xff);
}

static int sync_x(xcb_connection_t *conn)
{
	xcb_get_input_focus_reply_t *r = xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL);

	if (!r)
		return -EPIPE;
	free(r);
	return 0;
}

static int present(struct ctx *c, enum mode m)
{
	switch (m) {
	case MODE_WB:
	case MODE_WC:
		return dmabufd_x11_image_put(c->img[m], c->win, c->gc, 0, 0, W, H, 0, 0);
	case MODE_SYSV:
		xcb_shm_put_image(c->conn, c->win, c->gc, W, H, 0, 0, W, H, 0, 0, 24,
				  XCB_IMAGE_FORMAT_Z_PIXMAP, 0, c->sysv_seg, 0);
		return 0;
	case MODE_PLAIN:
		for (uint32_t y = 0; y < H; y += c->max_rows) {
			uint32_t rows = H - y < c->max_rows ? H - y : c->max_rows;

			xcb_put_image(c->conn, XCB_IMAGE_FORMAT_Z_PIXMAP, c->win, c->gc, W,
				      (uint16_t)rows, 0, (int16_t)y, 0, 24, rows * W * 4,
				      (const uint8_t *)(c->plain + (size_t)y * W));
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* CPU seconds (user + system) that @pid has used, from /proc/<pid>/stat. */
static double cpu_seconds(pid_t pid)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* After "comm)": state, then fields 4..13, then utime and stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Frames per second of wall-clock time, and the X server's CPU time per
 * frame in ms: on a loaded machine the first varies with what else runs,
 * the second much less.
 */
static double run(struct ctx *c, enum mode m, double seconds, pid_t server, double *ret_cpu_ms)
{
	double start = now(), cpu = cpu_seconds(server), t;
	uint64_t frames = 0;

	do {
		if (present(c, m) < 0 || sync_x(c->conn) < 0)
			return -1;
		frames++;
		t = now();
	} while (t - start < seconds);
	*ret_cpu_ms = (cpu_seconds(server) - cpu) * 1000 / (double)frames;
	return (double)frames / (t - start);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	double seconds = 2, fps[MODE_COUNT][MAX_ROUNDS], sorted[MODE_COUNT][MAX_ROUNDS];
	double median[MODE_COUNT], cpu[MODE_COUNT][MAX_ROUNDS] = { { 0 } }, cpu_median[MODE_COUNT];
	char wc_reason[256] = "", reason[DMABUFD_X11_REASON_SIZE] = "";
	bool have[MODE_COUNT] = { true, true, true, true }, json = false;
	struct dmabufd_client *client = NULL;
	struct daemon_proc d = { 0 };
	struct xvfb x = { 0 };
	struct dmabufd_info info;
	struct ctx c = { 0 };
	xcb_screen_t *s;
	int rounds = 3, opt, r, shmid, ret = 1;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 's')
			seconds = atof(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'j')
			json = true;
		else
			return 2;
	}
	if (!(seconds > 0) || rounds < 1 || rounds > MAX_ROUNDS)
		return 2;
	if (!xvfb_available()) {
		fprintf(stderr, "x11_bench: Xvfb not installed\n");
		return 77;
	}
	if (daemon_start(&d, NULL) < 0 || xvfb_start(&x, "1920x1080x24", NULL) < 0) {
		fprintf(stderr, "x11_bench: cannot start dmabufd and Xvfb\n");
		goto out;
	}
	if (dmabufd_connect(d.socket, &client) < 0 || dmabufd_get_info(client, &info) < 0 ||
	    dmabufd_x11_connect(x.display, &c.conn, NULL, reason) < 0) {
		fprintf(stderr, "x11_bench: cannot connect: %s\n", reason);
		goto out;
	}
	s = xcb_setup_roots_iterator(xcb_get_setup(c.conn)).data;
	c.win = xcb_generate_id(c.conn);
	xcb_create_window(c.conn, XCB_COPY_FROM_PARENT, c.win, s->root, 0, 0, W, H, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, 0, NULL);
	xcb_map_window(c.conn, c.win);
	c.gc = xcb_generate_id(c.conn);
	xcb_create_gc(c.conn, c.gc, c.win, XCB_GC_GRAPHICS_EXPOSURES, (uint32_t[]){ 0 });

	for (int i = MODE_WB; i <= MODE_WC; i++) {
		enum dmabufd_attribute a = i == MODE_WB ? DMABUFD_ATTR_CACHED : DMABUFD_ATTR_WRITECOMBINE;
		const struct dmabufd_framebuffer *fb;

		r = dmabufd_x11_image_alloc(client, W, H, DRM_FORMAT_XRGB8888, a, "x11-bench", &c.img[i]);
		if (r == -EOPNOTSUPP && i == MODE_WC) {
			have[i] = false;
			snprintf(wc_reason, sizeof(wc_reason), "%s", dmabufd_last_reason(client));
			continue;
		}
		if (r < 0 || (r = dmabufd_x11_image_attach(c.img[i], c.conn, 1)) < 0) {
			fprintf(stderr, "x11_bench: %s buffer: %s %s\n", dmabufd_attribute_name(a),
				strerror(-r), dmabufd_x11_image_reason(c.img[i]));
			goto out;
		}
		fb = dmabufd_x11_image_framebuffer(c.img[i]);
		pattern((uint32_t *)(void *)((uint8_t *)dmabufd_x11_image_data(c.img[i]) + fb->offsets[0]),
			fb->pitches[0] / 4);
	}

	shmid = shmget(IPC_PRIVATE, (size_t)W * H * 4, IPC_CREAT | 0600);
	if (shmid < 0 || (c.sysv = shmat(shmid, NULL, 0)) == (void *)-1) {
		fprintf(stderr, "x11_bench: SysV shm: %m\n");
		goto out;
	}
	pattern(c.sysv, W);
	c.sysv_seg = xcb_generate_id(c.conn);
	xcb_shm_attach(c.conn, c.sysv_seg, (uint32_t)shmid, 1);
	if (sync_x(c.conn) < 0)
		goto out;
	/* Marked for removal now: it goes when both sides have detached. */
	shmctl(shmid, IPC_RMID, NULL);

	c.plain = malloc((size_t)W * H * 4);
	if (!c.plain)
		goto out;
	pattern(c.plain, W);
	c.max_rows = (xcb_get_maximum_request_length(c.conn) * 4 - 64) / (W * 4);
	if (c.max_rows > H)
		c.max_rows = H;

	for (int round = 0; round < rounds; round++)
		for (int k = 0; k < MODE_COUNT; k++) {
			/* Each round starts with another mode: no mode always runs first. */
			int m = (round + k) % MODE_COUNT;

			fps[m][round] = have[m] ? run(&c, (enum mode)m, seconds, x.pid, &cpu[m][round]) : 0;
		}
	for (int m = 0; m < MODE_COUNT; m++) {
		memcpy(sorted[m], fps[m], sizeof(fps[m]));
		qsort(sorted[m], (size_t)rounds, sizeof(double), cmp_double);
		median[m] = sorted[m][rounds / 2];
		memcpy(sorted[m], cpu[m], sizeof(cpu[m]));
		qsort(sorted[m], (size_t)rounds, sizeof(double), cmp_double);
		cpu_median[m] = sorted[m][rounds / 2];
	}

	if (json) {
		json_object *j = json_object_new_object(), *modes = json_object_new_object();

		json_object_object_add(j, "backend", json_object_new_string(info.backend));
		json_object_object_add(j, "width", json_object_new_int(W));
		json_object_object_add(j, "height", json_object_new_int(H));
		json_object_object_add(j, "seconds", json_object_new_double(seconds));
		json_object_object_add(j, "rounds", json_object_new_int(rounds));
		for (int m = 0; m < MODE_COUNT; m++) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "available", json_object_new_boolean(have[m]));
			if (have[m]) {
				json_object_object_add(o, "fps", json_object_new_double(median[m]));
				json_object *per = json_object_new_array();

				json_object_object_add(o, "ratio_to_sysv",
						       json_object_new_double(median[m] / median[MODE_SYSV]));
				for (int i = 0; i < rounds; i++)
					json_object_array_add(per, json_object_new_double(fps[m][i]));
				json_object_object_add(o, "rounds_fps", per);
				json_object_object_add(o, "server_cpu_ms_per_frame",
						       json_object_new_double(cpu_median[m]));
				json_object_object_add(o, "server_cpu_ratio_to_sysv",
						       json_object_new_double(cpu_median[m] / cpu_median[MODE_SYSV]));
			} else {
				json_object_object_add(o, "reason", json_object_new_string(wc_reason));
			}
			json_object_object_add(modes, mode_keys[m], o);
		}
		json_object_object_add(j, "modes", modes);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
		json_object_put(j);
	} else {
		printf("1920x1080 XRGB8888 to Xvfb, backend %s, median of %d rounds of %.1f s\n",
		       info.backend, rounds, seconds);
		for (int m = 0; m < MODE_COUNT; m++) {
			if (have[m])
				printf("(%c) %-36s %8.1f fps  %.3fx (c)   Xvfb CPU %.3f ms/frame  %.3fx (c)\n",
				       'a' + m, mode_names[m], median[m], median[m] / median[MODE_SYSV],
				       cpu_median[m], cpu_median[m] / cpu_median[MODE_SYSV]);
			else
				printf("(%c) %-36s      n/a  (%s)\n", 'a' + m, mode_names[m], wc_reason);
		}
	}
	ret = 0;

out:
	for (int i = 0; i < 2; i++)
		dmabufd_x11_image_destroy(c.img[i]);
	if (c.sysv && c.sysv != (void *)-1)
		shmdt(c.sysv);
	free(c.plain);
	if (c.conn)
		xcb_disconnect(c.conn);
	dmabufd_disconnect(client);
	if (x.pid > 0)
		xvfb_stop(&x);
	if (d.pid > 0)
		daemon_stop(&d);
	return ret;
}
