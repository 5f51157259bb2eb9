/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl - command-line client of dmabufd, built on libdmabufd only.
 *
 *   dmabufctl [--socket PATH] [--json] COMMAND [ARGS...]
 *
 * Exit codes (also in --help):
 *   0 success
 *   1 the daemon refused a request (strerror and the daemon's reason printed)
 *   2 usage error
 *   3 cannot connect to the daemon's socket
 *   4 protocol error or connection lost
 *   5 demo: the data read back through mmap differs from what was written
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dmabufctl.h"

struct command {
	const char *name;
	int (*run)(struct ctx *ctx, int argc, char **argv);
	const char *args;
	const char *summary;
};

volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void install_stop_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static bool is_protocol_error(int r)
{
	return r == -EPROTO || r == -EPROTONOSUPPORT || r == -ECONNRESET || r == -EPIPE ||
	       r == -ECONNABORTED || r == -ENOTCONN;
}

/* "E2BIG" for -E2BIG: the symbol a reader can look up. */
static const char *errno_name(int r)
{
	const char *name = strerrorname_np(-r);

	return name ? name : "unknown errno";
}

int request_failed(struct ctx *ctx, const char *what, int r)
{
	const char *reason = dmabufd_last_reason(ctx->client);

	if (r == -EPROTO || r == -EPROTONOSUPPORT) {
		fprintf(stderr, "dmabufctl: %s: %s: dmabufd at %s sent a reply this "
				"dmabufctl cannot use (version mismatch or daemon bug)\n",
			what, strerror(-r), ctx->socket);
		return EXIT_PROTOCOL;
	}
	if (is_protocol_error(r)) {
		fprintf(stderr, "dmabufctl: %s: %s: dmabufd at %s closed the connection "
				"(stopped or restarted?)\n", what, strerror(-r), ctx->socket);
		return EXIT_PROTOCOL;
	}
	/* The reason is what the user acts on; the errno names the class. */
	if (reason && *reason)
		fprintf(stderr, "dmabufctl: %s refused: %s (%s)\n", what, reason, errno_name(r));
	else
		fprintf(stderr, "dmabufctl: %s failed: %s (%s)\n", what, strerror(-r),
			errno_name(r));
	return EXIT_REFUSED;
}

/*
 * A failed dmabufd_connect() with the library's reason: non-empty when the
 * daemon refused this client (its [access] policy, too many clients), ""
 * when the socket itself could not be opened.
 */
static int connect_failed(const struct ctx *ctx, int r, const char *reason)
{
	if (r == -EPROTONOSUPPORT) {
		fprintf(stderr, "dmabufctl: the daemon at %s speaks another protocol version "
				"(this dmabufctl speaks %u); upgrade one of them\n",
			ctx->socket, DMABUFD_PROTOCOL_VERSION);
		return EXIT_PROTOCOL;
	}
	if (*reason) {
		fprintf(stderr, "dmabufctl: dmabufd at %s refused the connection: %s (%s)\n",
			ctx->socket, reason, errno_name(r));
		return EXIT_CONNECT;
	}
	switch (r) {
	case -EPROTO:
	case -ECONNRESET:
	case -EPIPE:
		fprintf(stderr, "dmabufctl: %s: %s during Hello; is it really dmabufd "
				"listening there?\n", ctx->socket, strerror(-r));
		return EXIT_PROTOCOL;
	case -ENOENT:
	case -ECONNREFUSED:
		fprintf(stderr, "dmabufctl: cannot connect to %s: %s\n"
				"  dmabufd may not be running; start it, or point --socket or "
				"DMABUFD_SOCKET at its socket\n", ctx->socket, strerror(-r));
		return EXIT_CONNECT;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "dmabufctl: cannot open socket %s: %s (file mode)\n"
				"  check the socket's owner, group and mode\n", ctx->socket,
			strerror(-r));
		return EXIT_CONNECT;
	default:
		fprintf(stderr, "dmabufctl: cannot connect to %s: %s\n", ctx->socket,
			strerror(-r));
		return EXIT_CONNECT;
	}
}

int connect_daemon(struct ctx *ctx)
{
	int r = dmabufd_connect(ctx->socket, &ctx->client);

	return r == 0 ? EXIT_OK : connect_failed(ctx, r, dmabufd_last_reason(NULL));
}

int hold(struct ctx *ctx, long seconds)
{
	struct timespec start, now;
	struct pollfd pfd[2] = {
		{ .fd = dmabufd_get_fd(ctx->client), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	nfds_t n = seconds < 0 ? 2 : 1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!stop_requested) {
		int timeout = -1, r;

		if (seconds >= 0) {
			int64_t ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (int64_t)seconds * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
							 (now.tv_nsec - start.tv_nsec) / 1000000);
			if (ms <= 0)
				break;
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		r = poll(pfd, n, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (pfd[0].revents) {
			r = dmabufd_dispatch(ctx->client);
			if (r < 0)
				return r;
		}
		if (n == 2 && pfd[1].revents) {
			char buf[256];
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));

			if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
				break;
		}
	}
	return 0;
}

static const struct command commands[] = {
	{ "alloc", cmd_alloc, "SIZE [--attr A] [--label L] [--hold S] [--share-uid U] ...",
	  "allocate a buffer (and share it) and hold it" },
	{ "alloc-fb", cmd_alloc_fb, "WxH FORMAT [--attr A] [--usage U] [--label L] [--hold S]",
	  "allocate a framebuffer and print its plane layout" },
	{ "list", cmd_list, "", "list every live buffer" },
	{ "stats", cmd_stats, "", "show the daemon's counters" },
	{ "compact", cmd_compact, "", "defragment the region (root)" },
	{ "demo", cmd_demo, "[--frames N] [--ring N] [--size BYTES] [--attr A]",
	  "run a framebuffer producer against the daemon" },
	{ "import", cmd_import, "TOKEN [--check-fill BYTE] [--hold S]",
	  "import a buffer shared with alloc --share-*" },
	{ "revoke", cmd_revoke, "ID", "revoke a buffer (kmod backend; root or owner)" },
	{ "accounts", cmd_accounts, "", "bytes owned/imported per client, uid, gid" },
	{ "top", cmd_top, "[--interval S] [--iterations N]", "live usage per client" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: dmabufctl [--socket PATH] [--json] COMMAND [ARGS...]\n"
		   "       dmabufctl --version\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %-58s %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  --socket PATH  daemon socket (default: $DMABUFD_SOCKET, else %s)\n"
		   "  --json         machine-readable output\n"
		   "  --help         this text; COMMAND --help for a command's options\n"
		   "  -V, --version  print dmabufctl's version and exit\n"
		   "\nExit status: 0 ok, 1 request refused by the daemon, 2 usage error,\n"
		   "3 cannot connect, 4 protocol error or connection lost,\n"
		   "5 demo data read back wrong.\n", DMABUFD_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct ctx ctx = { 0 };
	const char *env;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg)
				return usage_error("--socket: empty path");
			ctx.socket = optarg;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("dmabufctl %s\n", DMABUFD_VERSION);
			return EXIT_OK;
		default:
			return usage_error("bad option");
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	env = getenv("DMABUFD_SOCKET");
	if (!ctx.socket)
		ctx.socket = env && *env ? env : DMABUFD_DEFAULT_SOCKET;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0; /* reset getopt for the command's own options */
			ret = commands[i].run(&ctx, sub_argc, sub_argv);
			dmabufd_disconnect(ctx.client);
			return ret;
		}
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
