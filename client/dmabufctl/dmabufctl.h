/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl internals: the context every command gets, the option parser
 * they share (options.c), the output helpers (output.c), and the commands
 * (cmd_*.c, demo.c) that main.c's table dispatches to.
 */
#ifndef DMABUFCTL_H
#define DMABUFCTL_H

#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmabufd/dmabufd.h"

/* Exit codes (also in --help). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,   /* the daemon refused a request */
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,   /* cannot connect to the daemon's socket */
	EXIT_PROTOCOL = 4,  /* protocol error or connection lost */
	EXIT_VERIFY = 5,    /* data read back differs from what was written */
};

struct ctx {
	const char *socket;   /* resolved path, for messages */
	bool json;
	struct dmabufd_client *client;
};

/* ---- options.c ---------------------------------------------------------- */

/*
 * What a command accepts. Every command also takes --json and --help, which
 * parse_command() handles itself.
 */
struct cmd_spec {
	const char *name;               /* for messages ("NAME: bad option") */
	const char *help;               /* printed by --help */
	const struct option *options;   /* the command's own, { 0 }-terminated, or NULL */
	const char *shortopts;          /* short options besides -h ("i:n:"), or NULL */
	/* Takes one of @options: 0, or an exit code after a usage message. */
	int (*handle)(struct ctx *ctx, int key, const char *arg, void *state);
	int nargs;                      /* positional arguments required */
	const char *nargs_error;        /* usage message when their number differs */
};

/*
 * parse_command() - parse a command's options with getopt_long(3).
 * @argv: the command's argv (argv[0] is its name); optind must be 0
 * @state: passed to @spec->handle
 * @ret_args: receives the first of @spec->nargs positional arguments
 *
 * Return: 0; -1 after --help was printed (exit 0); an exit code after a
 * usage message.
 */
int parse_command(struct ctx *ctx, int argc, char **argv, const struct cmd_spec *spec,
		  void *state, char ***ret_args);

/* "4096", no sign, at most @max. Return 0 or -EINVAL/-ERANGE. */
int parse_uint(const char *s, unsigned long max, unsigned long *ret);

/* Prints "dmabufctl: MESSAGE" and the --help hint. Return: EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- main.c --------------------------------------------------------------- */

extern volatile sig_atomic_t stop_requested;

/* SIGINT/SIGTERM interrupt poll(2) (no SA_RESTART) and end a hold early. */
void install_stop_handlers(void);
/* Connects ctx->client; prints why not. Return: EXIT_OK or an exit code. */
int connect_daemon(struct ctx *ctx);
/* Reports a failed request @what; returns the exit code. */
int request_failed(struct ctx *ctx, const char *what, int r);
/*
 * Waits until @seconds passed (< 0: until stdin reaches end of file), a
 * signal asks to stop, or the daemon closes the connection.
 */
int hold(struct ctx *ctx, long seconds);

/* ---- output.c ------------------------------------------------------------- */

/* Prints @o pretty and drops the reference. */
void json_print(json_object *o);
void json_add_u64(json_object *o, const char *key, uint64_t v);
void json_add_str(json_object *o, const char *key, const char *v);
/* Copies @s replacing bytes a terminal could interpret. */
const char *printable(const char *s, char *buf, size_t cap);
/* "8294400" -> "7.9M"; exact below 1 KiB. */
const char *human_size(uint64_t bytes, char *buf, size_t cap);
uint64_t now_realtime_usec(void);

json_object *buffer_info_json(const struct dmabufd_buffer_info *b, uint64_t now);
void print_table(const struct dmabufd_buffer_info *rows, size_t n);
json_object *stats_json(const struct dmabufd_stats *s);
void print_stats(const struct dmabufd_stats *s);
json_object *account_json(const struct dmabufd_account *u, enum dmabufd_account_kind kind);
void print_accounts_table(const struct dmabufd_account *rows, size_t n,
			  enum dmabufd_account_kind kind);

/* ---- commands --------------------------------------------------------------- */

/* Fetches and prints the daemon's list (as a JSON array into *@ret_json if set). */
int show_list(struct ctx *ctx, json_object **ret_json);
/* Writes byte i of @b as (@seed + i) mod 256 through a mapping. */
int fill_buffer(const struct dmabufd_buffer *b, int seed);

int cmd_alloc(struct ctx *ctx, int argc, char **argv);
int cmd_alloc_fb(struct ctx *ctx, int argc, char **argv);
int cmd_import(struct ctx *ctx, int argc, char **argv);
int cmd_revoke(struct ctx *ctx, int argc, char **argv);
int cmd_list(struct ctx *ctx, int argc, char **argv);
int cmd_stats(struct ctx *ctx, int argc, char **argv);
int cmd_accounts(struct ctx *ctx, int argc, char **argv);
int cmd_top(struct ctx *ctx, int argc, char **argv);
int cmd_compact(struct ctx *ctx, int argc, char **argv);
int cmd_demo(struct ctx *ctx, int argc, char **argv);

#endif
