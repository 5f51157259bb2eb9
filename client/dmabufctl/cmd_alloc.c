/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl alloc and alloc-fb: allocate a buffer (optionally fill and
 * share it) or a framebuffer, print it, hold it, release it.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <drm_fourcc.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dmabufctl.h"
#include "dmabufd/framebuffer.h"
#include "fb_layout.h"
#include "parse.h"

/* Most --share-uid, --share-gid and --share-pid options, each. */
#define SHARE_TARGETS 16

/* Sharing options of alloc. */
struct share_opts {
	bool share;
	bool single_use;
	uint32_t expiry;      /* seconds; 0 = the daemon's maximum */
	int fill;             /* -1: do not fill */
	uid_t uids[SHARE_TARGETS];
	gid_t gids[SHARE_TARGETS];
	pid_t pids[SHARE_TARGETS];
	struct dmabufd_share_targets who;
	struct dmabufd_token token;
	char token_text[DMABUFD_TOKEN_STRING_SIZE];
};

/*
 * The options alloc and alloc-fb share: --attr, --label, --movable,
 * --contiguous, --hold.
 */
struct alloc_args {
	enum dmabufd_attribute attr;
	const char *label;
	uint32_t flags;
	long hold_s;
};

struct alloc_state {
	struct alloc_args al;
	struct share_opts sh;
	uint64_t align;
	const char *devices[DMABUFD_MAX_DEVICES];
	size_t ndevices;
};

/* A user or group name, or a number up to UINT32_MAX - 1 (-1 is no id). */
static int parse_id(const char *arg, bool group, unsigned long *ret)
{
	if (group) {
		struct group *gr = getgrnam(arg);

		if (gr) {
			*ret = gr->gr_gid;
			return 0;
		}
	} else {
		struct passwd *pw = getpwnam(arg);

		if (pw) {
			*ret = pw->pw_uid;
			return 0;
		}
	}
	return parse_uint(arg, UINT32_MAX - 1, ret);
}

/* --share-uid, --share-gid, --share-pid: one more peer. */
static int share_target(struct share_opts *sh, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'U':
		if (sh->who.n_uids == SHARE_TARGETS)
			return usage_error("--share-uid: at most 16");
		if (parse_id(arg, false, &v) < 0)
			return usage_error("--share-uid: '%s' is not a user", arg);
		sh->uids[sh->who.n_uids++] = (uid_t)v;
		break;
	case 'G':
		if (sh->who.n_gids == SHARE_TARGETS)
			return usage_error("--share-gid: at most 16");
		if (parse_id(arg, true, &v) < 0)
			return usage_error("--share-gid: '%s' is not a group", arg);
		sh->gids[sh->who.n_gids++] = (gid_t)v;
		break;
	default: /* 'P' */
		if (sh->who.n_pids == SHARE_TARGETS)
			return usage_error("--share-pid: at most 16");
		if (parse_uint(arg, INT32_MAX, &v) < 0 || v == 0)
			return usage_error("--share-pid: '%s' is not a pid", arg);
		sh->pids[sh->who.n_pids++] = (pid_t)v;
		break;
	}
	sh->share = true;
	return 0;
}

static int share_option(struct share_opts *sh, int c, const char *arg)
{
	unsigned long v;

	if (!sh->who.uids) {
		sh->who.uids = sh->uids;
		sh->who.gids = sh->gids;
		sh->who.pids = sh->pids;
	}
	switch (c) {
	case 'S':
		sh->share = true;
		return 0;
	case 'U':
	case 'G':
	case 'P':
		return share_target(sh, c, arg);
	case '1':
		sh->single_use = true;
		sh->share = true;
		return 0;
	case 'E':
		if (parse_uint(arg, UINT32_MAX, &v) < 0 || v == 0)
			return usage_error("--expiry: '%s' is not a number of seconds", arg);
		sh->expiry = (uint32_t)v;
		sh->share = true;
		return 0;
	case 'F':
		if (parse_uint(arg, 255, &v) < 0)
			return usage_error("--fill: '%s' is not 0..255", arg);
		sh->fill = (int)v;
		return 0;
	}
	return usage_error("alloc: bad option");
}

/* Return: 0, or EXIT_USAGE after the message when the value is bad. */
static int alloc_common_option(int c, const char *arg, struct alloc_args *a, const char *name)
{
	unsigned long v;

	switch (c) {
	case 'a':
		if (dmabufd_attribute_from_string(arg, &a->attr) < 0)
			return usage_error("--attr: '%s' is not cached, wc or uc", arg);
		return 0;
	case 'l':
		if (strlen(arg) > DMABUFD_LABEL_MAX)
			return usage_error("--label: %zu bytes, at most %d", strlen(arg),
					   DMABUFD_LABEL_MAX);
		a->label = arg;
		return 0;
	case 'm':
		a->flags |= DMABUFD_ALLOC_MOVABLE;
		return 0;
	case 'c':
		a->flags |= DMABUFD_ALLOC_CONTIGUOUS;
		return 0;
	case 'H':
		if (parse_uint(arg, INT_MAX / 1000, &v) < 0)
			return usage_error("--hold: '%s' is not a number of seconds", arg);
		a->hold_s = (long)v;
		return 0;
	}
	return usage_error("%s: bad option", name);
}

static int alloc_option(struct ctx *ctx, int c, const char *arg, void *state)
{
	struct alloc_state *st = state;

	switch (c) {
	case 'A':
		if (parse_size(arg, &st->align) < 0 || (st->align & (st->align - 1)))
			return usage_error("--align: '%s' is not a power of two "
					   "(bytes, K/M/G suffixes allowed)", arg);
		return 0;
	case 'S': case 'U': case 'G': case 'P': case '1': case 'E': case 'F':
		return share_option(&st->sh, c, arg);
	case 'D':
		if (st->ndevices == DMABUFD_MAX_DEVICES)
			return usage_error("--device: at most %d devices", DMABUFD_MAX_DEVICES);
		st->devices[st->ndevices++] = arg;
		return 0;
	}
	return alloc_common_option(c, arg, &st->al, "alloc");
}

static const struct option alloc_options[] = {
	{ "attr", required_argument, NULL, 'a' },
	{ "align", required_argument, NULL, 'A' },
	{ "label", required_argument, NULL, 'l' },
	{ "movable", no_argument, NULL, 'm' },
	{ "contiguous", no_argument, NULL, 'c' },
	{ "hold", required_argument, NULL, 'H' },
	{ "share", no_argument, NULL, 'S' },
	{ "share-uid", required_argument, NULL, 'U' },
	{ "share-gid", required_argument, NULL, 'G' },
	{ "share-pid", required_argument, NULL, 'P' },
	{ "single-use", no_argument, NULL, '1' },
	{ "expiry", required_argument, NULL, 'E' },
	{ "fill", required_argument, NULL, 'F' },
	{ "device", required_argument, NULL, 'D' },
	{ 0 },
};

static const struct cmd_spec alloc_spec = {
	.name = "alloc",
	.help = "Usage: dmabufctl alloc SIZE [--attr cached|wc|uc] [--align BYTES]\n"
		"                      [--label L] [--movable] [--contiguous] "
		"[--hold SECONDS]\n"
		"                      [--device /dev/dri/NODE|/dev/videoN|/sys/devices/...]...\n"
		"                      [--fill BYTE] [--share] [--share-uid USER]... "
		"[--share-gid GROUP]...\n"
		"                      [--share-pid PID]... [--single-use] "
		"[--expiry SECONDS]\n"
		"SIZE in bytes, K/M/G suffixes allowed. The buffer is held until "
		"stdin closes,\nor for --hold SECONDS; the daemon releases it when "
		"dmabufctl exits.\n"
		"--fill writes byte i as (BYTE + i) mod 256 (checked by import "
		"--check-fill).\n"
		"--share/--share-*: print a share token that the named users, groups "
		"or\nprocesses can import with 'dmabufctl import TOKEN' while this "
		"one holds the\nbuffer (--share alone: your own uid).\n"
		"--device names a device that will import the buffer; one without an "
		"IOMMU\nneeds physically contiguous memory (docs/BACKENDS.md).\n",
	.options = alloc_options,
	.handle = alloc_option,
	.nargs = 1,
	.nargs_error = "alloc: expected exactly one SIZE",
};

static void print_alloc(const struct ctx *ctx, const struct alloc_state *st,
			const struct dmabufd_buffer *buf, uint64_t size)
{
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "id", buf->id);
		json_add_u64(o, "size", buf->size);
		json_add_u64(o, "requested_size", size);
		json_add_u64(o, "offset", buf->offset);
		json_add_str(o, "attribute", dmabufd_attribute_name(st->al.attr));
		json_add_str(o, "label", st->al.label ? st->al.label : "");
		if (st->sh.share) {
			json_add_str(o, "token", st->sh.token_text);
			json_add_u64(o, "token_expires_usec", st->sh.token.expires_usec);
		}
		json_print(o);
	} else {
		char h[32];

		printf("buffer %" PRIu64 ": %" PRIu64 " bytes (%s), %s, offset %" PRIu64 "\n",
		       buf->id, buf->size, human_size(buf->size, h, sizeof(h)),
		       dmabufd_attribute_name(st->al.attr), buf->offset);
		if (st->sh.share)
			printf("token %s\n", st->sh.token_text);
	}
	fflush(stdout);
}

/* --fill and --share on the new buffer. Return: EXIT_OK or an exit code. */
static int fill_and_share(struct ctx *ctx, struct alloc_state *st,
			  const struct dmabufd_buffer *buf)
{
	struct share_opts *sh = &st->sh;
	int r;

	if (sh->fill >= 0) {
		r = fill_buffer(buf, sh->fill);
		if (r < 0) {
			fprintf(stderr, "dmabufctl: --fill: mmap: %s\n", strerror(-r));
			return EXIT_REFUSED;
		}
	}
	if (sh->share) {
		r = dmabufd_share(ctx->client, buf->id, &sh->who,
				  sh->single_use ? DMABUFD_SHARE_SINGLE_USE : 0, sh->expiry,
				  &sh->token);
		if (r < 0)
			return request_failed(ctx, "share", r);
		dmabufd_token_to_string(sh->token.bytes, sh->token_text);
	}
	return EXIT_OK;
}

int cmd_alloc(struct ctx *ctx, int argc, char **argv)
{
	struct alloc_state st = {
		.al = { .attr = DMABUFD_ATTR_CACHED, .hold_s = -1 },
		.sh = { .fill = -1 },
	};
	struct dmabufd_buffer buf;
	uint64_t size = 0;
	char **args;
	int r, ret;

	r = parse_command(ctx, argc, argv, &alloc_spec, &st, &args);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = parse_size(args[0], &size);
	if (r < 0 || size == 0)
		return usage_error("alloc: '%s' is not a size (bytes > 0, K/M/G suffixes allowed)",
				   args[0]);

	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	r = st.ndevices ? dmabufd_alloc_devices(ctx->client, size, st.align, st.al.attr,
						st.al.flags, st.al.label, st.devices,
						(uint32_t)st.ndevices, &buf) :
			  dmabufd_alloc(ctx->client, size, st.align, st.al.attr, st.al.flags,
					st.al.label, &buf);
	if (r < 0)
		return request_failed(ctx, "alloc", r);
	ret = fill_and_share(ctx, &st, &buf);
	if (ret) {
		close(buf.fd);
		return ret;
	}
	print_alloc(ctx, &st, &buf, size);

	install_stop_handlers();
	if (!ctx->json) {
		if (st.al.hold_s < 0)
			fprintf(stderr, "holding buffer %" PRIu64 " until stdin closes "
					"(Ctrl-D) or SIGINT\n", buf.id);
		else
			fprintf(stderr, "holding buffer %" PRIu64 " for %ld s\n", buf.id,
				st.al.hold_s);
	}
	r = hold(ctx, st.al.hold_s);
	close(buf.fd);
	if (r < 0)
		return request_failed(ctx, "hold", r);
	r = dmabufd_release(ctx->client, buf.id);
	/* An importer may have become the owner meanwhile: not ours to release. */
	if (r < 0 && r != -ENOENT)
		return request_failed(ctx, "release", r);
	return EXIT_OK;
}

/* ---- alloc-fb ------------------------------------------------------------- */

struct alloc_fb_state {
	struct alloc_args al;
	uint32_t usage;
};

static int alloc_fb_option(struct ctx *ctx, int c, const char *arg, void *state)
{
	struct alloc_fb_state *st = state;

	if (c == 'u') {
		if (fb_usage_from_string(arg, &st->usage) < 0)
			return usage_error("--usage: '%s' is not a list of scanout, render, "
					   "texture, video-decode, video-encode, camera, "
					   "cpu-read, cpu-write", arg);
		return 0;
	}
	return alloc_common_option(c, arg, &st->al, "alloc-fb");
}

static const struct option alloc_fb_options[] = {
	{ "attr", required_argument, NULL, 'a' },
	{ "usage", required_argument, NULL, 'u' },
	{ "label", required_argument, NULL, 'l' },
	{ "movable", no_argument, NULL, 'm' },
	{ "contiguous", no_argument, NULL, 'c' },
	{ "hold", required_argument, NULL, 'H' },
	{ 0 },
};

static const struct cmd_spec alloc_fb_spec = {
	.name = "alloc-fb",
	.help = "Usage: dmabufctl alloc-fb WIDTHxHEIGHT FORMAT [--attr cached|wc|uc]\n"
		"                      [--usage scanout,render,...] [--label L] "
		"[--movable] [--contiguous] [--hold SECONDS]\n"
		"FORMAT is a DRM fourcc name (XRGB8888, NV12, ...). Prints the plane "
		"layout\n(offsets, pitches, sizes); --hold keeps the buffer that long.\n",
	.options = alloc_fb_options,
	.handle = alloc_fb_option,
	.nargs = 2,
	.nargs_error = "alloc-fb: expected WIDTHxHEIGHT and FORMAT",
};

static void print_framebuffer(const struct ctx *ctx, const struct dmabufd_framebuffer *fb,
			      enum dmabufd_attribute attr)
{
	struct fb_layout layout;
	char text[1024];

	if (ctx->json) {
		json_object *o = json_object_new_object(), *planes = json_object_new_array();

		json_add_u64(o, "id", fb->id);
		json_add_u64(o, "width", fb->width);
		json_add_u64(o, "height", fb->height);
		json_add_u64(o, "fourcc", fb->fourcc);
		json_add_u64(o, "modifier", fb->modifier);
		json_add_str(o, "attribute", dmabufd_attribute_name(attr));
		json_add_u64(o, "size", fb->size);
		for (uint32_t i = 0; i < fb->num_planes; i++) {
			json_object *p = json_object_new_object();

			json_add_u64(p, "offset", fb->offsets[i]);
			json_add_u64(p, "pitch", fb->pitches[i]);
			json_add_u64(p, "size", fb->sizes[i]);
			json_object_array_add(planes, p);
		}
		json_object_object_add(o, "planes", planes);
		json_print(o);
	} else {
		fb_layout_from_framebuffer(fb, &layout);
		if (fb_layout_describe(&layout, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "(layout not printable)");
		printf("buffer %" PRIu64 ": %s, %s\n", fb->id, dmabufd_attribute_name(attr), text);
	}
	fflush(stdout);
}

int cmd_alloc_fb(struct ctx *ctx, int argc, char **argv)
{
	struct alloc_fb_state st = {
		.al = { .attr = DMABUFD_ATTR_CACHED, .hold_s = 0 },
		.usage = DMABUFD_USAGE_SCANOUT,
	};
	const struct fb_format *format;
	struct dmabufd_framebuffer fb;
	uint32_t width, height;
	char **args;
	int r, ret;

	r = parse_command(ctx, argc, argv, &alloc_fb_spec, &st, &args);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (fb_parse_size(args[0], &width, &height) < 0)
		return usage_error("alloc-fb: '%s' is not WIDTHxHEIGHT", args[0]);
	format = fb_format_from_name(args[1]);
	if (!format)
		return usage_error("alloc-fb: '%s' is not a supported format", args[1]);

	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	r = dmabufd_alloc_framebuffer(ctx->client, width, height, format->fourcc,
				      DRM_FORMAT_MOD_LINEAR, st.usage, st.al.attr, st.al.flags,
				      st.al.label, &fb);
	if (r < 0)
		return request_failed(ctx, "alloc-fb", r);
	print_framebuffer(ctx, &fb, st.al.attr);
	if (st.al.hold_s > 0) {
		install_stop_handlers();
		r = hold(ctx, st.al.hold_s);
		if (r < 0) {
			close(fb.fd);
			return request_failed(ctx, "hold", r);
		}
	}
	close(fb.fd);
	r = dmabufd_release(ctx->client, fb.id);
	if (r < 0)
		return request_failed(ctx, "release", r);
	return EXIT_OK;
}
