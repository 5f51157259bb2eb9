/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl import and revoke, and the --fill pattern that alloc writes
 * and import --check-fill verifies.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmabufctl.h"

/* Byte i of a --fill pattern. */
static uint8_t fill_byte(int seed, uint64_t i)
{
	return (uint8_t)(seed + i);
}

int fill_buffer(const struct dmabufd_buffer *b, int seed)
{
	uint8_t *p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	for (uint64_t i = 0; i < b->size; i++)
		p[i] = fill_byte(seed, i);
	munmap(p, b->size);
	return 0;
}

/* Offset of the first byte that differs from the pattern (0 if it cannot be mapped), or -1. */
static int64_t check_fill(const struct dmabufd_buffer *b, int seed)
{
	const uint8_t *p = mmap(NULL, b->size, PROT_READ, MAP_SHARED, b->fd, 0);
	int64_t bad = -1;

	if (p == MAP_FAILED)
		return 0;
	for (uint64_t i = 0; i < b->size; i++) {
		if (p[i] != fill_byte(seed, i)) {
			bad = (int64_t)i;
			break;
		}
	}
	munmap((void *)p, b->size);
	return bad;
}

/* ---- import ------------------------------------------------------------------ */

struct import_state {
	long hold_s;
	long check;           /* -1: no --check-fill */
};

static int import_option(struct ctx *ctx, int c, const char *arg, void *state)
{
	struct import_state *st = state;
	unsigned long v;

	if (c == 'H') {
		if (parse_uint(arg, INT_MAX / 1000, &v) < 0)
			return usage_error("--hold: '%s' is not a number of seconds", arg);
		st->hold_s = (long)v;
	} else { /* 'C' */
		if (parse_uint(arg, 255, &v) < 0)
			return usage_error("--check-fill: '%s' is not 0..255", arg);
		st->check = (long)v;
	}
	return 0;
}

static const struct option import_options[] = {
	{ "hold", required_argument, NULL, 'H' },
	{ "check-fill", required_argument, NULL, 'C' },
	{ 0 },
};

static const struct cmd_spec import_spec = {
	.name = "import",
	.help = "Usage: dmabufctl import TOKEN [--check-fill BYTE] [--hold SECONDS]\n"
		"Import a buffer another process shared (alloc --share-*), print it, "
		"and\nhold it for --hold SECONDS (default 0; -1 would be stdin: use "
		"a large value).\n--check-fill verifies the pattern alloc --fill "
		"BYTE wrote (exit 5 if not).\n",
	.options = import_options,
	.handle = import_option,
	.nargs = 1,
	.nargs_error = "import: expected exactly one TOKEN",
};

static void print_import(const struct ctx *ctx, const struct import_state *st,
			 const struct dmabufd_buffer *buf, const struct dmabufd_import_info *info,
			 int64_t bad)
{
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "id", buf->id);
		json_add_u64(o, "size", buf->size);
		json_add_u64(o, "offset", buf->offset);
		json_add_str(o, "attribute", dmabufd_attribute_name(info->attribute));
		json_object_object_add(o, "owner_pid", json_object_new_int64(info->owner_pid));
		json_add_u64(o, "owner_uid", info->owner_uid);
		if (st->check >= 0)
			json_object_object_add(o, "fill_ok", json_object_new_boolean(bad < 0));
		json_print(o);
	} else {
		char h[32];

		printf("imported buffer %" PRIu64 ": %" PRIu64 " bytes (%s), %s, owner pid %d "
		       "uid %u\n", buf->id, buf->size, human_size(buf->size, h, sizeof(h)),
		       dmabufd_attribute_name(info->attribute), (int)info->owner_pid,
		       (unsigned)info->owner_uid);
		if (st->check >= 0 && bad < 0)
			printf("fill pattern %ld verified over %" PRIu64 " bytes\n", st->check,
			       buf->size);
	}
	fflush(stdout);
}

int cmd_import(struct ctx *ctx, int argc, char **argv)
{
	struct import_state st = { .hold_s = 0, .check = -1 };
	uint8_t token[DMABUFD_TOKEN_SIZE];
	struct dmabufd_import_info info;
	struct dmabufd_buffer buf;
	int64_t bad = -1;
	char **args;
	int r;

	r = parse_command(ctx, argc, argv, &import_spec, &st, &args);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (dmabufd_token_from_string(args[0], token) < 0)
		return usage_error("import: a token is %d hex digits", 2 * DMABUFD_TOKEN_SIZE);
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_import(ctx->client, token, &buf, &info);
	if (r < 0)
		return request_failed(ctx, "import", r);
	if (st.check >= 0)
		bad = check_fill(&buf, (int)st.check);
	print_import(ctx, &st, &buf, &info, bad);
	if (bad >= 0) {
		fprintf(stderr, "dmabufctl: import: byte %" PRId64 " differs from the fill "
				"pattern %ld\n", bad, st.check);
		close(buf.fd);
		return EXIT_VERIFY;
	}
	install_stop_handlers();
	r = hold(ctx, st.hold_s);
	close(buf.fd);
	if (r < 0)
		return request_failed(ctx, "hold", r);
	return EXIT_OK;
}

/* ---- revoke ------------------------------------------------------------------ */

static const struct cmd_spec revoke_spec = {
	.name = "revoke",
	.help = "Usage: dmabufctl revoke ID\nCut every mapping of buffer ID "
		"(owner's and importers') and release it.\nRoot or the owner only; "
		"backends without revocation (memfd) refuse.\n",
	.nargs = 1,
	.nargs_error = "revoke takes exactly one argument",
};

int cmd_revoke(struct ctx *ctx, int argc, char **argv)
{
	unsigned long v;
	char **args;
	int r;

	r = parse_command(ctx, argc, argv, &revoke_spec, NULL, &args);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (parse_uint(args[0], ULONG_MAX, &v) < 0 || v == 0)
		return usage_error("revoke: '%s' is not a buffer id", args[0]);
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_revoke(ctx->client, v);
	if (r < 0)
		return request_failed(ctx, "revoke", r);
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "revoked", v);
		json_print(o);
	} else {
		printf("buffer %lu revoked\n", v);
	}
	return EXIT_OK;
}
