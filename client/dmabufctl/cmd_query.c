/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl list, stats, accounts, top and compact: what the daemon knows,
 * as JSON (--json) or as tables.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "dmabufctl.h"

int show_list(struct ctx *ctx, json_object **ret_json)
{
	struct dmabufd_buffer_info *rows = NULL;
	size_t n = 0;
	int r = dmabufd_list(ctx->client, &rows, &n);

	if (r < 0)
		return r;
	if (ret_json) {
		uint64_t now = now_realtime_usec();
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(a, buffer_info_json(&rows[i], now));
		*ret_json = a;
	} else {
		print_table(rows, n);
	}
	dmabufd_list_free(rows);
	return 0;
}

static const struct cmd_spec list_spec = {
	.name = "list",
	.help = "Usage: dmabufctl list [--json]\nEvery live buffer: id, size, cache "
		"attribute, owner pid/uid/comm, label, age.\n",
	.nargs_error = "list takes no arguments",
};

int cmd_list(struct ctx *ctx, int argc, char **argv)
{
	json_object *j = NULL;
	char **args;
	int r = parse_command(ctx, argc, argv, &list_spec, NULL, &args);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = show_list(ctx, ctx->json ? &j : NULL);
	if (r < 0)
		return request_failed(ctx, "list", r);
	if (j)
		json_print(j);
	return EXIT_OK;
}

static const struct cmd_spec stats_spec = {
	.name = "stats",
	.help = "Usage: dmabufctl stats [--json]\nThe daemon's counters.\n",
	.nargs_error = "stats takes no arguments",
};

int cmd_stats(struct ctx *ctx, int argc, char **argv)
{
	struct dmabufd_stats s;
	char **args;
	int r = parse_command(ctx, argc, argv, &stats_spec, NULL, &args);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_stats_sized(ctx->client, &s, sizeof(s));
	if (r < 0)
		return request_failed(ctx, "stats", r);
	if (ctx->json)
		json_print(stats_json(&s));
	else
		print_stats(&s);
	return EXIT_OK;
}

/* Fetches one accounting table; adds it to @into (JSON) or prints it (NULL). */
static int show_accounts(struct ctx *ctx, enum dmabufd_account_kind kind, json_object *into)
{
	struct dmabufd_account *rows = NULL;
	size_t n = 0;
	int r = dmabufd_accounting(ctx->client, kind, &rows, &n);

	if (r < 0)
		return r;
	if (into) {
		json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(a, account_json(&rows[i], kind));
		json_object_object_add(into, kind == DMABUFD_ACCOUNT_CLIENTS ? "clients" :
					     kind == DMABUFD_ACCOUNT_UIDS    ? "uids" : "gids", a);
	} else {
		print_accounts_table(rows, n, kind);
	}
	dmabufd_accounting_free(rows);
	return 0;
}

static const struct cmd_spec accounts_spec = {
	.name = "accounts",
	.help = "Usage: dmabufctl accounts [--json]\nBytes and buffers owned (charged) and "
		"imported, per attribute: per\nconnected client, per uid and per gid.\n",
	.nargs_error = "accounts takes no arguments",
};

int cmd_accounts(struct ctx *ctx, int argc, char **argv)
{
	json_object *j = NULL;
	char **args;
	int r = parse_command(ctx, argc, argv, &accounts_spec, NULL, &args);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	if (ctx->json)
		j = json_object_new_object();
	for (int k = DMABUFD_ACCOUNT_CLIENTS; k <= DMABUFD_ACCOUNT_GIDS && r == 0; k++) {
		if (!j && k != DMABUFD_ACCOUNT_CLIENTS)
			putchar('\n');
		r = show_accounts(ctx, (enum dmabufd_account_kind)k, j);
	}
	if (r < 0) {
		json_object_put(j);
		return request_failed(ctx, "accounts", r);
	}
	if (j)
		json_print(j);
	return EXIT_OK;
}

/* ---- top ---------------------------------------------------------------------- */

struct top_state {
	unsigned long interval;    /* seconds */
	unsigned long iterations;  /* 0: until interrupted */
};

static int top_option(struct ctx *ctx, int c, const char *arg, void *state)
{
	struct top_state *st = state;
	unsigned long v;

	if (c == 'i') {
		if (parse_uint(arg, 3600, &v) < 0 || v == 0)
			return usage_error("--interval: 1..3600 seconds");
		st->interval = v;
	} else { /* 'n' */
		if (parse_uint(arg, ULONG_MAX, &v) < 0)
			return usage_error("--iterations: a number (0 = until interrupted)");
		st->iterations = v;
	}
	return 0;
}

static const struct option top_options[] = {
	{ "interval", required_argument, NULL, 'i' },
	{ "iterations", required_argument, NULL, 'n' },
	{ 0 },
};

static const struct cmd_spec top_spec = {
	.name = "top",
	.help = "Usage: dmabufctl top [--interval SECONDS] [--iterations N] [--json]\n"
		"Live usage per client (owned, imported, per attribute, tokens) and "
		"the\ndaemon's totals, refreshed every --interval seconds (default 1).\n"
		"--json prints one JSON object per refresh.\n",
	.options = top_options,
	.shortopts = "i:n:",
	.handle = top_option,
	.nargs_error = "top takes no arguments",
};

/* One refresh of top: the totals and the clients' table. */
static int top_once(struct ctx *ctx)
{
	struct dmabufd_stats st;
	json_object *j = ctx->json ? json_object_new_object() : NULL;
	char u[32], cap[32];
	int r;

	r = dmabufd_stats_sized(ctx->client, &st, sizeof(st));
	if (r < 0) {
		json_object_put(j);
		return request_failed(ctx, "stats", r);
	}
	if (j) {
		json_object_object_add(j, "stats", stats_json(&st));
	} else {
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout); /* home, clear */
		printf("dmabufd %s: %s of %s used, %u buffers, %u clients, %u tokens, "
		       "%u imports\n\n", st.backend, human_size(st.used, u, sizeof(u)),
		       human_size(st.capacity, cap, sizeof(cap)), st.buffers, st.clients,
		       st.tokens, st.imports);
	}
	r = show_accounts(ctx, DMABUFD_ACCOUNT_CLIENTS, j);
	if (r < 0) {
		json_object_put(j);
		return request_failed(ctx, "accounts", r);
	}
	if (j)
		json_print(j);
	fflush(stdout);
	return EXIT_OK;
}

int cmd_top(struct ctx *ctx, int argc, char **argv)
{
	struct top_state st = { .interval = 1, .iterations = 0 };
	char **args;
	int r = parse_command(ctx, argc, argv, &top_spec, &st, &args);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	install_stop_handlers();
	for (unsigned long i = 0; !stop_requested && (!st.iterations || i < st.iterations); i++) {
		r = top_once(ctx);
		if (r)
			return r;
		if (st.iterations && i + 1 >= st.iterations)
			break;
		r = hold(ctx, (long)st.interval);
		if (r < 0)
			return request_failed(ctx, "top", r);
	}
	return EXIT_OK;
}

/* ---- compact ------------------------------------------------------------------ */

static const struct cmd_spec compact_spec = {
	.name = "compact",
	.help = "Usage: dmabufctl compact [--json]\n"
		"Slide every movable buffer down so the free space is one run (root).\n",
	.nargs_error = "compact takes no arguments",
};

int cmd_compact(struct ctx *ctx, int argc, char **argv)
{
	struct dmabufd_compact_result res;
	char a[32], b[32], m[32], **args;
	int r = parse_command(ctx, argc, argv, &compact_spec, NULL, &args);

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_compact(ctx->client, &res);
	if (r < 0)
		return request_failed(ctx, "compact", r);
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "planned_moves", res.planned_moves);
		json_add_u64(o, "planned_bytes", res.planned_bytes);
		json_add_u64(o, "moves", res.moves);
		json_add_u64(o, "bytes_moved", res.bytes_moved);
		json_add_u64(o, "largest_free_before", res.largest_free_before);
		json_add_u64(o, "largest_free_after", res.largest_free_after);
		json_print(o);
	} else {
		printf("moved %" PRIu64 " of %" PRIu64 " planned buffers, %" PRIu64
		       " bytes (%s); largest free run %s -> %s\n", res.moves, res.planned_moves,
		       res.bytes_moved, human_size(res.bytes_moved, m, sizeof(m)),
		       human_size(res.largest_free_before, a, sizeof(a)),
		       human_size(res.largest_free_after, b, sizeof(b)));
	}
	return EXIT_OK;
}
