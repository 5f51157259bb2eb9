/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl demo: a media-pipeline producer against the daemon. It
 * allocates a ring of framebuffers asynchronously (as an event-loop driven
 * producer would), writes frames of a moving pattern into them through
 * mmap inside CPU-access brackets, checks every frame reads back and that
 * the frame a slot held survived the other slots' writes, releases the
 * ring, and shows the daemon's view after each step.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmabufctl.h"
#include "dmabufd/framebuffer.h"
#include "parse.h"

/* Pattern geometry: XRGB8888 rows of this many pixels (1920x1080 frames). */
#define DEMO_WIDTH 1920u
#define DEMO_DEFAULT_SIZE (1920u * 1080u * 4u)
#define DEMO_MAX_RING 64u

struct demo_slot {
	struct dmabufd_buffer buf;
	void *map;
	int error;      /* async completion: 0, or negative errno */
	bool done;
	long frame;     /* frame the slot holds, -1 if none */
};

/*
 * Pixel (x, y) of frame @f: a horizontal gradient scrolling 4 px per frame,
 * a vertical one scrolling 2 px per frame, a checkerboard of 16 px tiles,
 * and a white 64 px bar sweeping 8 px per frame. X byte = low byte of @f so
 * that two frames never share a pixel value at the same offset.
 */
static inline uint32_t demo_pixel(uint32_t x, uint32_t y, uint32_t f)
{
	uint32_t r = (x + 4 * f) & 0xff, g = (y + 2 * f) & 0xff;
	uint32_t b = (((x >> 4) ^ (y >> 4)) & 1) ? 0xc0 : 0x40;

	if ((x + DEMO_WIDTH * 8 - (8 * f) % (DEMO_WIDTH * 8)) % DEMO_WIDTH < 64)
		r = g = b = 0xff;
	return (f & 0xff) << 24 | r << 16 | g << 8 | b;
}

static void demo_write(void *map, uint64_t size, uint32_t f)
{
	uint32_t *px = map;
	uint64_t n = size / 4;

	for (uint64_t i = 0, y = 0; i < n; y++)
		for (uint32_t x = 0; x < DEMO_WIDTH && i < n; x++, i++)
			px[i] = demo_pixel(x, (uint32_t)y, f);
	for (uint64_t i = n * 4; i < size; i++)
		((uint8_t *)map)[i] = (uint8_t)(0xa5 ^ f);
}

/* Return: -1 if the whole frame reads back, else the first bad byte offset. */
static int64_t demo_verify(const void *map, uint64_t size, uint32_t f)
{
	const uint32_t *px = map;
	uint64_t n = size / 4;

	for (uint64_t i = 0, y = 0; i < n; y++)
		for (uint32_t x = 0; x < DEMO_WIDTH && i < n; x++, i++)
			if (px[i] != demo_pixel(x, (uint32_t)y, f))
				return (int64_t)(i * 4);
	for (uint64_t i = n * 4; i < size; i++)
		if (((const uint8_t *)map)[i] != (uint8_t)(0xa5 ^ f))
			return (int64_t)i;
	return -1;
}

/* Prints a 64x10 character thumbnail of a frame, read back through the mapping. */
static void demo_preview(const void *map, uint64_t size)
{
	static const char ramp[] = " .:-=+*#%@";
	const uint32_t *px = map;
	uint64_t rows = size / 4 / DEMO_WIDTH;

	if (rows < 10)
		return;
	for (uint64_t r = 0; r < 10; r++) {
		putchar('|');
		for (uint32_t c = 0; c < 64; c++) {
			uint32_t v = px[(r * rows / 10) * DEMO_WIDTH + c * DEMO_WIDTH / 64];
			uint32_t luma = (((v >> 16) & 0xff) * 3 + ((v >> 8) & 0xff) * 6 +
					 (v & 0xff)) / 10;

			putchar(ramp[luma * (sizeof(ramp) - 2) / 255]);
		}
		puts("|");
	}
}

struct demo {
	struct ctx *ctx;
	enum dmabufd_attribute attr;
	unsigned long frames, ring;
	uint64_t size;                 /* bytes per frame */
	struct demo_slot slots[DEMO_MAX_RING];
	struct dmabufd_info info;
	json_object *steps;            /* --json: the snapshots */
	unsigned long done;            /* frames written and verified */
};

/*
 * Brackets CPU access to a slot's buffer (Documentation/driver-api/dma-buf.rst,
 * "CPU access"); dmabufd_cpu_access_begin/end are no-ops on a memfd.
 */
static int demo_cpu_access(const struct demo_slot *s, bool end)
{
	int r = end ? dmabufd_cpu_access_end(s->buf.fd, DMABUFD_CPU_RW) :
		      dmabufd_cpu_access_begin(s->buf.fd, DMABUFD_CPU_RW);

	if (r < 0)
		fprintf(stderr, "dmabufctl: %s CPU access to buffer %" PRIu64 ": %s\n",
			end ? "ending" : "beginning", s->buf.id, strerror(-r));
	return r;
}

static void demo_alloc_done(struct dmabufd_client *client, int error,
			    const struct dmabufd_buffer *buffer, void *userdata)
{
	struct demo_slot *slot = userdata;

	slot->done = true;
	slot->error = error;
	if (!error)
		slot->buf = *buffer;
}

static int demo_snapshot(struct ctx *ctx, const char *when, json_object *steps)
{
	struct dmabufd_stats s;
	json_object *list = NULL;
	int r;

	if (!ctx->json)
		printf("\n--- daemon view %s ---\n", when);
	r = show_list(ctx, ctx->json ? &list : NULL);
	if (r < 0)
		return request_failed(ctx, "list", r);
	r = dmabufd_stats_sized(ctx->client, &s, sizeof(s));
	if (r < 0) {
		json_object_put(list);
		return request_failed(ctx, "stats", r);
	}
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_str(o, "when", when);
		json_object_object_add(o, "list", list);
		json_object_object_add(o, "stats", stats_json(&s));
		json_object_array_add(steps, o);
	} else {
		print_stats(&s);
		printf("\n");
	}
	return EXIT_OK;
}


static int demo_option(struct ctx *ctx, int c, const char *arg, void *state)
{
	struct demo *d = state;
	unsigned long v;

	switch (c) {
	case 'f':
		if (parse_uint(arg, 1000000, &v) < 0 || v == 0)
			return usage_error("--frames: 1..1000000");
		d->frames = v;
		return 0;
	case 'r':
		if (parse_uint(arg, DEMO_MAX_RING, &v) < 0 || v == 0)
			return usage_error("--ring: 1..%u buffers", DEMO_MAX_RING);
		d->ring = v;
		return 0;
	case 's':
		if (parse_size(arg, &d->size) < 0 || d->size == 0 || d->size > (1ull << 32))
			return usage_error("--size: bytes, 1..4G, K/M/G suffixes allowed");
		return 0;
	default: /* 'a' */
		if (dmabufd_attribute_from_string(arg, &d->attr) < 0)
			return usage_error("--attr: '%s' is not cached, wc or uc", arg);
		return 0;
	}
}

static const struct option demo_options[] = {
	{ "frames", required_argument, NULL, 'f' },
	{ "ring", required_argument, NULL, 'r' },
	{ "size", required_argument, NULL, 's' },
	{ "attr", required_argument, NULL, 'a' },
	{ 0 },
};

/* The help text spells DEMO_DEFAULT_SIZE out. */
_Static_assert(DEMO_DEFAULT_SIZE == 8294400u, "demo --help states the default size");

static const struct cmd_spec demo_spec = {
	.name = "demo",
	.help = "Usage: dmabufctl demo [--frames N] [--ring N] [--size BYTES] [--attr A]\n"
		"Acts as a media-pipeline producer: allocates a ring of N framebuffers\n"
		"(default 4 x 8294400 bytes = 1920x1080 XRGB8888), writes --frames frames\n"
		"(default 60) of a moving pattern into them through mmap, checks each\n"
		"reads back and that the previous frame in a slot survived the other\n"
		"slots' writes, releases them, and shows the daemon's list and stats.\n",
	.options = demo_options,
	.handle = demo_option,
	.nargs_error = "demo takes no positional arguments",
};

/* Allocates the ring the way an event-loop driven producer would. */
static int demo_alloc_ring(struct demo *d)
{
	struct ctx *ctx = d->ctx;
	int r;

	for (unsigned long i = 0; i < d->ring; i++) {
		char label[DMABUFD_LABEL_MAX + 1];

		snprintf(label, sizeof(label), "demo ring %lu/%lu", i, d->ring);
		r = dmabufd_alloc_async(ctx->client, d->size, 0, d->attr, 0, label,
					demo_alloc_done, &d->slots[i]);
		if (r < 0) {
			for (unsigned long k = i; k < d->ring; k++)
				d->slots[k].done = true, d->slots[k].error = r;
			break;
		}
	}
	for (;;) {
		struct pollfd pfd = { .fd = dmabufd_get_fd(ctx->client), .events = POLLIN };
		bool all = true;

		for (unsigned long i = 0; i < d->ring; i++)
			all &= d->slots[i].done;
		if (all)
			return EXIT_OK;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return request_failed(ctx, "poll", -errno);
		/* On a connection error every pending callback has run with it. */
		if (dmabufd_dispatch(ctx->client) < 0)
			return EXIT_OK;
	}
}

/* Checks every slot's allocation and maps it. */
static int demo_map_ring(struct demo *d)
{
	for (unsigned long i = 0; i < d->ring; i++) {
		struct demo_slot *s = &d->slots[i];

		if (!s->done || s->error) {
			char what[64];

			snprintf(what, sizeof(what), "alloc of ring buffer %lu", i);
			return request_failed(d->ctx, what, s->done ? s->error : -EPROTO);
		}
		s->map = mmap(NULL, s->buf.size, PROT_READ | PROT_WRITE, MAP_SHARED, s->buf.fd, 0);
		if (s->map == MAP_FAILED) {
			fprintf(stderr, "dmabufctl: mmap of buffer %" PRIu64 " (%" PRIu64
					" bytes): %s\n", s->buf.id, s->buf.size, strerror(errno));
			s->map = NULL;
			return EXIT_REFUSED;
		}
		if (!d->ctx->json)
			printf("ring[%lu]: buffer %" PRIu64 ", %" PRIu64 " bytes at region offset %"
			       PRIu64 ", mapped\n", i, s->buf.id, s->buf.size, s->buf.offset);
	}
	return EXIT_OK;
}

/* Writes frame @f into its slot and reads it back. */
static int demo_frame(struct demo *d, unsigned long f)
{
	struct demo_slot *s = &d->slots[f % d->ring];
	int64_t bad;
	int r;

	if (demo_cpu_access(s, false) < 0)
		return EXIT_REFUSED;
	/* The frame this slot held must have survived the other slots' writes. */
	if (s->frame >= 0) {
		bad = demo_verify(s->map, d->size, (uint32_t)s->frame);
		if (bad >= 0) {
			fprintf(stderr, "dmabufctl: buffer %" PRIu64 " lost frame %ld at byte "
					"%" PRId64 " while other buffers were written\n",
				s->buf.id, s->frame, bad);
			demo_cpu_access(s, true);
			return EXIT_VERIFY;
		}
	}
	demo_write(s->map, d->size, (uint32_t)f);
	bad = demo_verify(s->map, d->size, (uint32_t)f);
	r = demo_cpu_access(s, true);
	if (bad >= 0) {
		fprintf(stderr, "dmabufctl: frame %lu in buffer %" PRIu64 " reads back wrong "
				"at byte %" PRId64 "\n", f, s->buf.id, bad);
		return EXIT_VERIFY;
	}
	if (r < 0)
		return EXIT_REFUSED;
	s->frame = (long)f;
	d->done++;
	if (!d->ctx->json) {
		printf("frame %4lu -> ring[%lu] buffer %" PRIu64 ": %" PRIu64
		       " bytes written, read back ok (pixel 0 = 0x%08x)\n", f, f % d->ring,
		       s->buf.id, d->size, ((uint32_t *)s->map)[0]);
		if (f == 0 || f + 1 == d->frames)
			demo_preview(s->map, d->size);
	}
	return EXIT_OK;
}

/* Writes the frames, then reads the final contents of every slot once more. */
static int demo_run_frames(struct demo *d)
{
	int ret;

	install_stop_handlers();
	for (unsigned long f = 0; f < d->frames && !stop_requested; f++) {
		ret = demo_frame(d, f);
		if (ret)
			return ret;
	}
	for (unsigned long i = 0; i < d->ring; i++) {
		const struct demo_slot *s = &d->slots[i];

		if (s->frame >= 0 && demo_verify(s->map, d->size, (uint32_t)s->frame) >= 0) {
			fprintf(stderr, "dmabufctl: buffer %" PRIu64 " lost frame %ld\n",
				s->buf.id, s->frame);
			return EXIT_VERIFY;
		}
	}
	return EXIT_OK;
}

static int demo_release_ring(struct demo *d)
{
	for (unsigned long i = 0; i < d->ring; i++) {
		struct demo_slot *s = &d->slots[i];
		int r;

		munmap(s->map, s->buf.size);
		s->map = NULL;
		close(s->buf.fd);
		s->buf.fd = -1;
		r = dmabufd_release(d->ctx->client, s->buf.id);
		if (r < 0)
			return request_failed(d->ctx, "release", r);
		if (!d->ctx->json)
			printf("released buffer %" PRIu64 "\n", s->buf.id);
	}
	return EXIT_OK;
}

/* The steps after connecting; returns the exit code. */
static int demo_steps(struct demo *d)
{
	struct ctx *ctx = d->ctx;
	int ret;

	ret = demo_alloc_ring(d);
	if (!ret)
		ret = demo_map_ring(d);
	if (!ret)
		ret = demo_snapshot(ctx, "after allocating the ring", d->steps);
	if (!ret)
		ret = demo_run_frames(d);
	if (!ret)
		ret = demo_snapshot(ctx, "after writing the frames", d->steps);
	if (!ret)
		ret = demo_release_ring(d);
	if (!ret)
		ret = demo_snapshot(ctx, "after releasing the ring", d->steps);
	if (ret == EXIT_OK && !ctx->json)
		printf("demo: %lu frames of %" PRIu64 " bytes through a ring of %lu buffers, "
		       "all read back correctly\n", d->done, d->size, d->ring);
	return ret;
}

static void demo_print_result(const struct demo *d, int ret)
{
	json_object *o = json_object_new_object();

	json_add_str(o, "backend", d->info.backend);
	json_object_object_add(o, "dmabuf", json_object_new_boolean(d->info.dmabuf));
	json_add_u64(o, "ring", d->ring);
	json_add_u64(o, "frames", d->frames);
	json_add_u64(o, "frames_verified", d->done);
	json_add_u64(o, "frame_size", d->size);
	json_add_str(o, "result", ret == EXIT_OK ? "ok" : "failed");
	json_object_object_add(o, "steps", d->steps);
	json_print(o);
}

int cmd_demo(struct ctx *ctx, int argc, char **argv)
{
	struct demo d = {
		.ctx = ctx, .attr = DMABUFD_ATTR_CACHED, .frames = 60, .ring = 4,
		.size = DEMO_DEFAULT_SIZE,
	};
	char **args;
	int ret;

	ret = parse_command(ctx, argc, argv, &demo_spec, &d, &args);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	dmabufd_get_info(ctx->client, &d.info);
	if (ctx->json)
		d.steps = json_object_new_array();
	else
		printf("connected to %s: backend %s, %s, page %u bytes, region %" PRIu64
		       " bytes\n", ctx->socket, d.info.backend,
		       d.info.dmabuf ? "dma-buf fds" : "sealed memfd fds", d.info.page_size,
		       d.info.region_size);
	for (unsigned long i = 0; i < d.ring; i++) {
		d.slots[i].buf.fd = -1;
		d.slots[i].frame = -1;
	}

	ret = demo_steps(&d);

	for (unsigned long i = 0; i < d.ring; i++) {
		if (d.slots[i].map)
			munmap(d.slots[i].map, d.slots[i].buf.size);
		if (d.slots[i].buf.fd >= 0)
			close(d.slots[i].buf.fd);
	}
	if (ctx->json)
		demo_print_result(&d, ret);
	return ret;
}
