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
#include <grp.h>
#include <inttypes.h>
#include <drm_fourcc.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd/dmabufd.h"
#include "dmabufd/framebuffer.h"
#include "fb_layout.h"
#include "parse.h"
#include "utf8.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,
	EXIT_PROTOCOL = 4,
	EXIT_VERIFY = 5,
};

struct ctx {
	const char *socket;   /* resolved path, for messages */
	bool json;
	struct dmabufd_client *client;
};

struct command {
	const char *name;
	int (*run)(struct ctx *ctx, int argc, char **argv);
	const char *args;
	const char *summary;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT/SIGTERM interrupt poll(2) (no SA_RESTART) and end a hold early. */
static void install_stop_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- output helpers ---------------------------------------------------- */

static void json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void json_add_u64(json_object *o, const char *key, uint64_t v)
{
	/* json-c 0.14+ keeps uint64 exact. */
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Strings come from other clients (labels, process names): always valid UTF-8. */
static void json_add_str(json_object *o, const char *key, const char *v)
{
	char buf[1024];

	json_object_object_add(o, key, json_object_new_string(utf8_sanitize(v, buf, sizeof(buf))));
}

/* Copies @s replacing bytes a terminal could interpret (labels are any client's input). */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* "8294400" -> "7.9M"; exact below 1 KiB. */
static const char *human_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 "B", bytes);
		return buf;
	}
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

static const char *human_age(uint64_t usec, char *buf, size_t cap)
{
	uint64_t s = usec / 1000000;

	if (s < 60)
		snprintf(buf, cap, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
	return buf;
}

static uint64_t now_realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- argument parsing ---------------------------------------------------- */

/* "4096", "0x1000", "4K", "8M", "1G" (binary multiples). Return 0 or -EINVAL/-ERANGE. */
static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dmabufctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dmabufctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* ---- errors from the library --------------------------------------------- */

static bool is_protocol_error(int r)
{
	return r == -EPROTO || r == -EPROTONOSUPPORT || r == -ECONNRESET || r == -EPIPE ||
	       r == -ECONNABORTED || r == -ENOTCONN;
}

/* Reports a failed request; returns the exit code. */
static int request_failed(struct ctx *ctx, const char *what, int r)
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
	if (reason && *reason)
		fprintf(stderr, "dmabufctl: %s refused: %s: %s\n", what, strerror(-r), reason);
	else
		fprintf(stderr, "dmabufctl: %s failed: %s\n", what, strerror(-r));
	return EXIT_REFUSED;
}

static int connect_daemon(struct ctx *ctx)
{
	int r = dmabufd_connect(ctx->socket, &ctx->client);

	if (r == 0)
		return EXIT_OK;
	switch (r) {
	case -EPROTONOSUPPORT:
		fprintf(stderr, "dmabufctl: the daemon at %s speaks another protocol version "
				"(this dmabufctl speaks %u); upgrade one of them\n",
			ctx->socket, DMABUFD_PROTOCOL_VERSION);
		return EXIT_PROTOCOL;
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
		fprintf(stderr, "dmabufctl: cannot connect to %s: %s\n"
				"  check the socket's owner/group/mode, or the daemon's policy "
				"for your user\n", ctx->socket, strerror(-r));
		return EXIT_CONNECT;
	default:
		fprintf(stderr, "dmabufctl: cannot connect to %s: %s\n", ctx->socket,
			strerror(-r));
		return EXIT_CONNECT;
	}
}

/* ---- alloc ---------------------------------------------------------------- */

/*
 * Waits until @seconds passed (< 0: until stdin reaches end of file), a
 * signal asks to stop, or the daemon closes the connection.
 */
static int hold(struct ctx *ctx, long seconds)
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

/* Sharing options of alloc. */
struct share_opts {
	bool share;
	bool single_use;
	uint32_t expiry;      /* seconds; 0 = the daemon's maximum */
	int fill;             /* -1: do not fill */
	uid_t uids[16];
	gid_t gids[16];
	pid_t pids[16];
	struct dmabufd_share_targets who;
	struct dmabufd_token token;
	char token_text[DMABUFD_TOKEN_STRING_SIZE];
};

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
	case 'U': {
		struct passwd *pw = getpwnam(arg);

		if (sh->who.n_uids == 16)
			return usage_error("--share-uid: at most 16");
		if (pw)
			v = pw->pw_uid;
		else if (parse_uint(arg, UINT32_MAX - 1, &v) < 0)
			return usage_error("--share-uid: '%s' is not a user", arg);
		sh->uids[sh->who.n_uids++] = (uid_t)v;
		sh->share = true;
		return 0;
	}
	case 'G': {
		struct group *gr = getgrnam(arg);

		if (sh->who.n_gids == 16)
			return usage_error("--share-gid: at most 16");
		if (gr)
			v = gr->gr_gid;
		else if (parse_uint(arg, UINT32_MAX - 1, &v) < 0)
			return usage_error("--share-gid: '%s' is not a group", arg);
		sh->gids[sh->who.n_gids++] = (gid_t)v;
		sh->share = true;
		return 0;
	}
	case 'P':
		if (sh->who.n_pids == 16)
			return usage_error("--share-pid: at most 16");
		if (parse_uint(arg, INT32_MAX, &v) < 0 || v == 0)
			return usage_error("--share-pid: '%s' is not a pid", arg);
		sh->pids[sh->who.n_pids++] = (pid_t)v;
		sh->share = true;
		return 0;
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

/* Byte i of a --fill pattern. */
static uint8_t fill_byte(int seed, uint64_t i)
{
	return (uint8_t)(seed + i);
}

static int fill_buffer(const struct dmabufd_buffer *b, int seed)
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

/*
 * The options alloc and alloc-fb share: --attr, --label, --movable,
 * --contiguous, --hold, --json.
 */
struct alloc_args {
	enum dmabufd_attribute attr;
	const char *label;
	uint32_t flags;
	long hold_s;
};

/*
 * Return: 0 when @c was a shared option with a valid value, EXIT_USAGE
 * (after the message) when its value was not, -1 when @c is not shared.
 */
static int alloc_common_option(struct ctx *ctx, int c, const char *arg, struct alloc_args *a)
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
	case 'j':
		ctx->json = true;
		return 0;
	}
	return -1;
}

static int cmd_alloc(struct ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "attr", required_argument, NULL, 'a' },
		{ "align", required_argument, NULL, 'A' },
		{ "label", required_argument, NULL, 'l' },
		{ "movable", no_argument, NULL, 'm' },
		{ "contiguous", no_argument, NULL, 'c' },
		{ "hold", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
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
	struct share_opts sh = { .fill = -1 };
	struct alloc_args al = { .attr = DMABUFD_ATTR_CACHED, .hold_s = -1 };
	const char *devices[DMABUFD_MAX_DEVICES];
	size_t ndevices = 0;
	uint64_t size = 0, align = 0;
	struct dmabufd_buffer buf;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'A':
			if (parse_size(optarg, &align) < 0 || (align & (align - 1)))
				return usage_error("--align: '%s' is not a power of two "
						   "(bytes, K/M/G suffixes allowed)", optarg);
			break;
		case 'S': case 'U': case 'G': case 'P': case '1': case 'E': case 'F':
			r = share_option(&sh, c, optarg);
			if (r)
				return r;
			break;
		case 'D':
			if (ndevices == DMABUFD_MAX_DEVICES)
				return usage_error("--device: at most %d devices",
						   DMABUFD_MAX_DEVICES);
			devices[ndevices++] = optarg;
			break;
		case 'h':
			printf("Usage: dmabufctl alloc SIZE [--attr cached|wc|uc] [--align BYTES]\n"
			       "                      [--label L] [--movable] [--contiguous] "
			       "[--hold SECONDS]\n"
			       "                      [--device /dev/dri/NODE|/sys/devices/...]...\n"
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
			       "IOMMU\nneeds physically contiguous memory (docs/BACKENDS.md).\n");
			return EXIT_OK;
		default:
			r = alloc_common_option(ctx, c, optarg, &al);
			if (r >= 0) {
				if (r)
					return r;
				break;
			}
			return usage_error("alloc: bad option");
		}
	}
	if (optind != argc - 1)
		return usage_error("alloc: expected exactly one SIZE");
	r = parse_size(argv[optind], &size);
	if (r < 0 || size == 0)
		return usage_error("alloc: '%s' is not a size (bytes > 0, K/M/G suffixes allowed)",
				   argv[optind]);

	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	r = ndevices ? dmabufd_alloc_devices(ctx->client, size, align, al.attr, al.flags, al.label,
					     devices, (uint32_t)ndevices, &buf) :
		       dmabufd_alloc(ctx->client, size, align, al.attr, al.flags, al.label, &buf);
	if (r < 0)
		return request_failed(ctx, "alloc", r);
	if (sh.fill >= 0) {
		r = fill_buffer(&buf, sh.fill);
		if (r < 0) {
			fprintf(stderr, "dmabufctl: --fill: mmap: %s\n", strerror(-r));
			close(buf.fd);
			return EXIT_REFUSED;
		}
	}
	if (sh.share) {
		r = dmabufd_share(ctx->client, buf.id, &sh.who,
				  sh.single_use ? DMABUFD_SHARE_SINGLE_USE : 0, sh.expiry, &sh.token);
		if (r < 0) {
			close(buf.fd);
			return request_failed(ctx, "share", r);
		}
		dmabufd_token_to_string(sh.token.bytes, sh.token_text);
	}

	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "id", buf.id);
		json_add_u64(o, "size", buf.size);
		json_add_u64(o, "requested_size", size);
		json_add_u64(o, "offset", buf.offset);
		json_add_str(o, "attribute", dmabufd_attribute_name(al.attr));
		json_add_str(o, "label", al.label ? al.label : "");
		if (sh.share) {
			json_add_str(o, "token", sh.token_text);
			json_add_u64(o, "token_expires_usec", sh.token.expires_usec);
		}
		json_print(o);
	} else {
		char h[32];

		printf("buffer %" PRIu64 ": %" PRIu64 " bytes (%s), %s, offset %" PRIu64 "\n",
		       buf.id, buf.size, human_size(buf.size, h, sizeof(h)),
		       dmabufd_attribute_name(al.attr), buf.offset);
		if (sh.share)
			printf("token %s\n", sh.token_text);
	}
	fflush(stdout);

	install_stop_handlers();
	if (!ctx->json) {
		if (al.hold_s < 0)
			fprintf(stderr, "holding buffer %" PRIu64 " until stdin closes "
					"(Ctrl-D) or SIGINT\n", buf.id);
		else
			fprintf(stderr, "holding buffer %" PRIu64 " for %ld s\n", buf.id, al.hold_s);
	}
	r = hold(ctx, al.hold_s);
	close(buf.fd);
	if (r < 0)
		return request_failed(ctx, "hold", r);
	r = dmabufd_release(ctx->client, buf.id);
	/* An importer may have become the owner meanwhile: not ours to release. */
	if (r < 0 && r != -ENOENT)
		return request_failed(ctx, "release", r);
	return EXIT_OK;
}

/* ---- import / revoke -------------------------------------------------------- */

static int cmd_import(struct ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hold", required_argument, NULL, 'H' },
		{ "check-fill", required_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint8_t token[DMABUFD_TOKEN_SIZE];
	struct dmabufd_import_info info;
	struct dmabufd_buffer buf;
	long hold_s = 0, check = -1;
	int64_t bad = -1;
	unsigned long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (parse_uint(optarg, INT_MAX / 1000, &v) < 0)
				return usage_error("--hold: '%s' is not a number of seconds", optarg);
			hold_s = (long)v;
			break;
		case 'C':
			if (parse_uint(optarg, 255, &v) < 0)
				return usage_error("--check-fill: '%s' is not 0..255", optarg);
			check = (long)v;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("Usage: dmabufctl import TOKEN [--check-fill BYTE] [--hold SECONDS]\n"
			       "Import a buffer another process shared (alloc --share-*), print it, "
			       "and\nhold it for --hold SECONDS (default 0; -1 would be stdin: use "
			       "a large value).\n--check-fill verifies the pattern alloc --fill "
			       "BYTE wrote (exit 5 if not).\n");
			return EXIT_OK;
		default:
			return usage_error("import: bad option");
		}
	}
	if (optind != argc - 1)
		return usage_error("import: expected exactly one TOKEN");
	if (dmabufd_token_from_string(argv[optind], token) < 0)
		return usage_error("import: a token is %d hex digits", 2 * DMABUFD_TOKEN_SIZE);
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_import(ctx->client, token, &buf, &info);
	if (r < 0)
		return request_failed(ctx, "import", r);
	if (check >= 0)
		bad = check_fill(&buf, (int)check);
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_u64(o, "id", buf.id);
		json_add_u64(o, "size", buf.size);
		json_add_u64(o, "offset", buf.offset);
		json_add_str(o, "attribute", dmabufd_attribute_name(info.attribute));
		json_object_object_add(o, "owner_pid", json_object_new_int64(info.owner_pid));
		json_add_u64(o, "owner_uid", info.owner_uid);
		if (check >= 0)
			json_object_object_add(o, "fill_ok", json_object_new_boolean(bad < 0));
		json_print(o);
	} else {
		char h[32];

		printf("imported buffer %" PRIu64 ": %" PRIu64 " bytes (%s), %s, owner pid %d "
		       "uid %u\n", buf.id, buf.size, human_size(buf.size, h, sizeof(h)),
		       dmabufd_attribute_name(info.attribute), (int)info.owner_pid,
		       (unsigned)info.owner_uid);
		if (check >= 0 && bad < 0)
			printf("fill pattern %ld verified over %" PRIu64 " bytes\n", check, buf.size);
	}
	fflush(stdout);
	if (bad >= 0) {
		fprintf(stderr, "dmabufctl: import: byte %" PRId64 " differs from the fill "
				"pattern %ld\n", bad, check);
		close(buf.fd);
		return EXIT_VERIFY;
	}
	install_stop_handlers();
	r = hold(ctx, hold_s);
	close(buf.fd);
	if (r < 0)
		return request_failed(ctx, "hold", r);
	return EXIT_OK;
}

/*
 * Options of a command that takes exactly one positional argument: --json,
 * --help. Return: 0 and *ret_arg; -1 after --help; an exit code.
 */
static int one_arg(struct ctx *ctx, int argc, char **argv, const char *name, const char *help,
		   const char **ret_arg)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("%s", help);
			return -1;
		default:
			return usage_error("%s: bad option", name);
		}
	}
	if (optind != argc - 1)
		return usage_error("%s takes exactly one argument", name);
	*ret_arg = argv[optind];
	return 0;
}

static int cmd_revoke(struct ctx *ctx, int argc, char **argv)
{
	const char *arg = NULL;
	unsigned long v;
	int r = one_arg(ctx, argc, argv, "revoke",
			"Usage: dmabufctl revoke ID\nCut every mapping of buffer ID "
			"(owner's and importers') and release it.\nRoot or the owner only; "
			"backends without revocation (memfd) refuse.\n", &arg);

	if (r)
		return r < 0 ? EXIT_OK : r;
	if (parse_uint(arg, ULONG_MAX, &v) < 0 || v == 0)
		return usage_error("revoke: '%s' is not a buffer id", arg);
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

/* ---- alloc-fb ------------------------------------------------------------- */

static int cmd_alloc_fb(struct ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "attr", required_argument, NULL, 'a' },
		{ "usage", required_argument, NULL, 'u' },
		{ "label", required_argument, NULL, 'l' },
		{ "movable", no_argument, NULL, 'm' },
		{ "contiguous", no_argument, NULL, 'c' },
		{ "hold", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct alloc_args al = { .attr = DMABUFD_ATTR_CACHED, .hold_s = 0 };
	uint32_t usage = DMABUFD_USAGE_SCANOUT, width, height;
	const struct fb_format *format;
	struct dmabufd_framebuffer fb;
	struct fb_layout layout;
	char text[1024];
	int c, r, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (fb_usage_from_string(optarg, &usage) < 0)
				return usage_error("--usage: '%s' is not a list of scanout, render, "
						   "texture, video-decode, video-encode, camera, "
						   "cpu-read, cpu-write", optarg);
			break;
		case 'h':
			printf("Usage: dmabufctl alloc-fb WIDTHxHEIGHT FORMAT [--attr cached|wc|uc]\n"
			       "                      [--usage scanout,render,...] [--label L] "
			       "[--movable] [--contiguous] [--hold SECONDS]\n"
			       "FORMAT is a DRM fourcc name (XRGB8888, NV12, ...). Prints the plane "
			       "layout\n(offsets, pitches, sizes); --hold keeps the buffer that long.\n");
			return EXIT_OK;
		default:
			r = alloc_common_option(ctx, c, optarg, &al);
			if (r >= 0) {
				if (r)
					return r;
				break;
			}
			return usage_error("alloc-fb: bad option");
		}
	}
	if (optind != argc - 2)
		return usage_error("alloc-fb: expected WIDTHxHEIGHT and FORMAT");
	if (fb_parse_size(argv[optind], &width, &height) < 0)
		return usage_error("alloc-fb: '%s' is not WIDTHxHEIGHT", argv[optind]);
	format = fb_format_from_name(argv[optind + 1]);
	if (!format)
		return usage_error("alloc-fb: '%s' is not a supported format", argv[optind + 1]);

	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	r = dmabufd_alloc_framebuffer(ctx->client, width, height, format->fourcc,
				      DRM_FORMAT_MOD_LINEAR, usage, al.attr, al.flags, al.label, &fb);
	if (r < 0)
		return request_failed(ctx, "alloc-fb", r);
	fb_layout_from_framebuffer(&fb, &layout);
	if (ctx->json) {
		json_object *o = json_object_new_object(), *planes = json_object_new_array();

		json_add_u64(o, "id", fb.id);
		json_add_u64(o, "width", fb.width);
		json_add_u64(o, "height", fb.height);
		json_add_u64(o, "fourcc", fb.fourcc);
		json_add_u64(o, "modifier", fb.modifier);
		json_add_str(o, "attribute", dmabufd_attribute_name(al.attr));
		json_add_u64(o, "size", fb.size);
		for (uint32_t i = 0; i < fb.num_planes; i++) {
			json_object *p = json_object_new_object();

			json_add_u64(p, "offset", fb.offsets[i]);
			json_add_u64(p, "pitch", fb.pitches[i]);
			json_add_u64(p, "size", fb.sizes[i]);
			json_object_array_add(planes, p);
		}
		json_object_object_add(o, "planes", planes);
		json_print(o);
	} else {
		if (fb_layout_describe(&layout, text, sizeof(text)) < 0)
			snprintf(text, sizeof(text), "(layout not printable)");
		printf("buffer %" PRIu64 ": %s, %s\n", fb.id, dmabufd_attribute_name(al.attr), text);
	}
	fflush(stdout);
	if (al.hold_s > 0) {
		install_stop_handlers();
		r = hold(ctx, al.hold_s);
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

/* ---- list ----------------------------------------------------------------- */

static json_object *buffer_info_json(const struct dmabufd_buffer_info *b, uint64_t now)
{
	json_object *o = json_object_new_object();

	json_add_u64(o, "id", b->id);
	json_add_u64(o, "size", b->size);
	json_add_str(o, "attribute", dmabufd_attribute_name(b->attribute));
	json_object_object_add(o, "movable",
			       json_object_new_boolean(!!(b->flags & DMABUFD_ALLOC_MOVABLE)));
	json_object_object_add(o, "contiguous",
			       json_object_new_boolean(!!(b->flags & DMABUFD_ALLOC_CONTIGUOUS)));
	json_object_object_add(o, "owner_pid", json_object_new_int64(b->owner_pid));
	json_add_u64(o, "owner_uid", b->owner_uid);
	json_add_u64(o, "owner_gid", b->owner_gid);
	json_add_str(o, "owner_comm", b->owner_comm);
	json_add_str(o, "label", b->label);
	json_add_u64(o, "created_usec", b->created_usec);
	json_add_u64(o, "age_usec", now > b->created_usec ? now - b->created_usec : 0);
	json_add_u64(o, "offset", b->offset);
	json_add_str(o, "backend", b->backend); /* issue 5: the active backend that made it */
	/* Sharing: the owner above is charged; importers are recorded. */
	json_add_u64(o, "charged_uid", b->owner_uid);
	json_add_u64(o, "charged_gid", b->owner_gid);
	json_add_u64(o, "tokens", b->tokens);
	json_add_u64(o, "owner_transfers", b->owner_transfers);
	json_add_u64(o, "n_importers", b->n_importers);
	{
		json_object *a = json_object_new_array();

		for (uint32_t i = 0; i < b->n_importers && i < DMABUFD_LIST_IMPORTERS; i++) {
			const struct dmabufd_importer *im = &b->importers[i];
			json_object *e = json_object_new_object();

			json_object_object_add(e, "pid", json_object_new_int64(im->pid));
			json_add_u64(e, "uid", im->uid);
			json_add_u64(e, "gid", im->gid);
			json_add_str(e, "comm", im->comm);
			json_add_u64(e, "imported_usec", im->imported_usec);
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "importers", a);
	}
	return o;
}

static void print_table(const struct dmabufd_buffer_info *rows, size_t n)
{
	uint64_t now = now_realtime_usec(), total = 0;
	char sz[32], age[32], comm[32], bk[32], label[DMABUFD_LABEL_MAX + 1];

	if (n == 0) {
		printf("no buffers\n");
		return;
	}
	printf("%6s %8s %-8s %-8s %7s %6s %-15s %-24s %-8s %s\n", "ID", "SIZE", "ATTR", "BACKEND",
	       "PID", "UID", "COMM", "LABEL", "AGE", "IMPORTERS (pid/uid)");
	for (size_t i = 0; i < n; i++) {
		const struct dmabufd_buffer_info *b = &rows[i];

		total += b->size;
		printf("%6" PRIu64 " %8s %-8s %-8s %7d %6u %-15s %-24s %-8s", b->id,
		       human_size(b->size, sz, sizeof(sz)), dmabufd_attribute_name(b->attribute),
		       printable(b->backend, bk, sizeof(bk)), (int)b->owner_pid, (unsigned)b->owner_uid,
		       printable(b->owner_comm, comm, sizeof(comm)),
		       printable(b->label, label, sizeof(label)),
		       human_age(now > b->created_usec ? now - b->created_usec : 0, age,
				 sizeof(age)));
		for (uint32_t k = 0; k < b->n_importers && k < DMABUFD_LIST_IMPORTERS; k++)
			printf("%s%d/%u", k ? "," : " ", (int)b->importers[k].pid,
			       (unsigned)b->importers[k].uid);
		if (b->n_importers > DMABUFD_LIST_IMPORTERS)
			printf(",+%u", b->n_importers - DMABUFD_LIST_IMPORTERS);
		putchar('\n');
	}
	printf("%zu buffer%s, %" PRIu64 " bytes (%s)\n", n, n == 1 ? "" : "s", total,
	       human_size(total, sz, sizeof(sz)));
}

/* Fetches and prints the daemon's list (used by list and demo). */
static int show_list(struct ctx *ctx, json_object **ret_json)
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

static int no_args(struct ctx *ctx, int argc, char **argv, const char *name, const char *help)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("%s", help);
			return -1;
		default:
			return usage_error("%s: bad option", name);
		}
	}
	if (optind != argc)
		return usage_error("%s takes no arguments", name);
	return 0;
}

static int cmd_list(struct ctx *ctx, int argc, char **argv)
{
	json_object *j = NULL;
	int r = no_args(ctx, argc, argv, "list",
			"Usage: dmabufctl list [--json]\nEvery live buffer: id, size, cache "
			"attribute, owner pid/uid/comm, label, age.\n");

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

/* ---- stats ---------------------------------------------------------------- */

static json_object *stats_json(const struct dmabufd_stats *s)
{
	json_object *o = json_object_new_object(), *probe;

	json_add_str(o, "backend", s->backend);
	json_add_u64(o, "capacity", s->capacity);
	json_add_u64(o, "used", s->used);
	json_add_u64(o, "buffers", s->buffers);
	json_add_u64(o, "clients", s->clients);
	json_add_u64(o, "allocs_total", s->allocs_total);
	json_add_u64(o, "allocs_failed", s->allocs_failed);
	json_add_u64(o, "releases_total", s->releases_total);
	json_add_u64(o, "free_pages", s->free_pages);
	json_add_u64(o, "largest_free_pages", s->largest_free_pages);
	json_add_u64(o, "fragmentation_permille", s->fragmentation_permille);
	json_add_u64(o, "transitions", s->transitions);
	json_add_u64(o, "pinned_buffers", s->pinned_buffers);
	json_add_u64(o, "movable_buffers", s->movable_buffers);
	json_add_u64(o, "page_size", s->page_size);
	json_add_u64(o, "tokens", s->tokens);
	json_add_u64(o, "imports", s->imports);
	json_add_u64(o, "imports_total", s->imports_total);
	json_add_u64(o, "owner_transfers", s->owner_transfers);
	json_add_u64(o, "quota_refusals", s->quota_refusals);
	json_add_u64(o, "access_refusals", s->access_refusals);
	json_add_u64(o, "config_reloads", s->config_reloads);
	json_add_u64(o, "compactions", s->compactions);
	json_add_u64(o, "compaction_moves", s->compaction_moves);
	json_add_u64(o, "compaction_bytes", s->compaction_bytes);
	json_add_u64(o, "orphaned_buffers", s->orphaned_buffers);
	probe = json_object_new_array();
	for (uint32_t i = 0; i < s->num_probe && i < DMABUFD_MAX_PROBE; i++) {
		json_object *e = json_object_new_object();

		json_add_str(e, "backend", s->probe[i].backend);
		json_object_object_add(e, "present", json_object_new_boolean(s->probe[i].present));
		json_object_object_add(e, "chosen", json_object_new_boolean(s->probe[i].chosen));
		json_add_str(e, "reason", s->probe[i].reason);
		json_object_array_add(probe, e);
	}
	json_object_object_add(o, "probe", probe);
	probe = json_object_new_array(); /* issue 5: every active backend, in order */
	for (uint32_t i = 0; i < s->num_backends && i < DMABUFD_MAX_BACKENDS; i++) {
		const struct dmabufd_backend_stats *bs = &s->backends[i];
		json_object *e = json_object_new_object(), *attrs = json_object_new_array();

		json_add_str(e, "backend", bs->name);
		for (int a = DMABUFD_ATTR_CACHED; a <= DMABUFD_ATTR_UNCACHED; a++)
			if (bs->attributes & (1u << a))
				json_object_array_add(attrs, json_object_new_string(
					dmabufd_attribute_name((enum dmabufd_attribute)a)));
		json_object_object_add(e, "attributes", attrs);
		json_object_object_add(e, "contiguous", json_object_new_boolean(bs->contiguous));
		json_object_object_add(e, "migration", json_object_new_boolean(bs->migration));
		json_object_object_add(e, "revocation", json_object_new_boolean(bs->revocation));
		json_object_object_add(e, "dmabuf", json_object_new_boolean(bs->dmabuf));
		json_add_u64(e, "capacity", bs->capacity);
		json_add_u64(e, "page_size", bs->page_size);
		json_add_u64(e, "used", bs->used);
		json_add_u64(e, "free", bs->free_pages * bs->page_size);
		json_add_u64(e, "buffers", bs->buffers);
		json_add_u64(e, "free_pages", bs->free_pages);
		json_add_u64(e, "largest_free_pages", bs->largest_free_pages);
		json_add_u64(e, "allocs", bs->allocs);
		json_add_u64(e, "fallthroughs", bs->fallthroughs);
		json_object_array_add(probe, e);
	}
	json_object_object_add(o, "backends", probe);
	return o;
}

static void print_stats(const struct dmabufd_stats *s)
{
	char a[32], b[32];

	printf("backend:        %s\n", s->backend);
	for (uint32_t i = 0; i < s->num_probe && i < DMABUFD_MAX_PROBE; i++)
		printf("  probe %u:      %-8s %s (%s)\n", i + 1, s->probe[i].backend,
		       s->probe[i].chosen ? "active" : s->probe[i].present ? "present" :
		       strncmp(s->probe[i].reason, "not tried", 9) == 0 ? "-" : "absent",
		       s->probe[i].reason);
	printf("used:           %" PRIu64 " of %" PRIu64 " bytes (%s of %s)\n", s->used,
	       s->capacity, human_size(s->used, a, sizeof(a)),
	       human_size(s->capacity, b, sizeof(b)));
	for (uint32_t i = 0; s->num_backends > 1 && i < s->num_backends &&
			     i < DMABUFD_MAX_BACKENDS; i++) {
		const struct dmabufd_backend_stats *bs = &s->backends[i];
		char c[32], f[32];

		printf("  backend %u:    %-8s %s used of %s, %s free, %u buffers, %" PRIu64
		       " allocs (%" PRIu64 " fell through)%s%s%s\n", i + 1, bs->name,
		       human_size(bs->used, a, sizeof(a)), human_size(bs->capacity, c, sizeof(c)),
		       human_size(bs->free_pages * bs->page_size, f, sizeof(f)), bs->buffers,
		       bs->allocs, bs->fallthroughs, bs->contiguous ? ", contiguous" : "",
		       bs->dmabuf ? ", dma-buf" : "", bs->revocation ? ", revocable" : "");
	}
	printf("buffers:        %u live (%u pinned, %u movable), %u client%s\n", s->buffers,
	       s->pinned_buffers, s->movable_buffers, s->clients, s->clients == 1 ? "" : "s");
	printf("allocations:    %" PRIu64 " total, %" PRIu64 " failed, %" PRIu64
	       " releases\n", s->allocs_total, s->allocs_failed, s->releases_total);
	printf("free pages:     %" PRIu64 " (page %u bytes), largest free run %" PRIu64
	       " pages, fragmentation %u.%u%%\n", s->free_pages, s->page_size,
	       s->largest_free_pages, s->fragmentation_permille / 10,
	       s->fragmentation_permille % 10);
	printf("attribute transitions: %" PRIu64 "\n", s->transitions);
	printf("compaction:     %" PRIu64 " requests, %" PRIu64 " buffers moved, %s moved\n",
	       s->compactions, s->compaction_moves, human_size(s->compaction_bytes, a, sizeof(a)));
	if (s->orphaned_buffers)
		printf("orphaned:       %u buffers restored after a restart, owners not back yet\n",
		       s->orphaned_buffers);
	printf("sharing:        %u live tokens, %u imports (%" PRIu64 " total), %" PRIu64
	       " ownership transfers\n", s->tokens, s->imports, s->imports_total,
	       s->owner_transfers);
	printf("policy:         %" PRIu64 " quota refusals, %" PRIu64 " refused connections, %"
	       PRIu64 " config reloads\n", s->quota_refusals, s->access_refusals,
	       s->config_reloads);
}

/* ---- accounts / top ------------------------------------------------------------ */

static json_object *account_json(const struct dmabufd_account *u, enum dmabufd_account_kind kind)
{
	json_object *o = json_object_new_object(), *oa, *ia;

	if (kind == DMABUFD_ACCOUNT_CLIENTS) {
		json_add_u64(o, "client", u->key);
		json_object_object_add(o, "pid", json_object_new_int64(u->pid));
		json_add_str(o, "comm", u->comm);
		json_add_u64(o, "tokens", u->tokens);
	}
	if (kind != DMABUFD_ACCOUNT_GIDS)
		json_add_u64(o, "uid", u->uid);
	if (kind != DMABUFD_ACCOUNT_UIDS)
		json_add_u64(o, "gid", u->gid);
	json_add_u64(o, "owned_bytes", u->owned_bytes);
	json_add_u64(o, "owned_buffers", u->owned_buffers);
	json_add_u64(o, "imported_bytes", u->imported_bytes);
	json_add_u64(o, "imported_buffers", u->imported_buffers);
	oa = json_object_new_object();
	ia = json_object_new_object();
	for (int a = 0; a < 3; a++) {
		const char *n = dmabufd_attribute_name((enum dmabufd_attribute)a);

		json_add_u64(oa, n, u->owned_by_attribute[a]);
		json_add_u64(ia, n, u->imported_by_attribute[a]);
	}
	json_object_object_add(o, "owned_by_attribute", oa);
	json_object_object_add(o, "imported_by_attribute", ia);
	return o;
}

static void print_accounts_table(const struct dmabufd_account *rows, size_t n,
			      enum dmabufd_account_kind kind)
{
	char a[32], b[32], c[32], d[32], comm[32];

	if (kind == DMABUFD_ACCOUNT_CLIENTS)
		printf("%7s %7s %6s %-15s %9s %5s %9s %5s %9s %9s %6s\n", "CLIENT", "PID", "UID",
		       "COMM", "OWNED", "BUFS", "IMPORTED", "BUFS", "CACHED", "UNCACHED",
		       "TOKENS");
	else
		printf("%7s %9s %5s %9s %5s %9s %9s %9s\n",
		       kind == DMABUFD_ACCOUNT_UIDS ? "UID" : "GID", "OWNED", "BUFS", "IMPORTED",
		       "BUFS", "CACHED", "WC", "UNCACHED");
	for (size_t i = 0; i < n; i++) {
		const struct dmabufd_account *u = &rows[i];

		human_size(u->owned_bytes, a, sizeof(a));
		human_size(u->imported_bytes, b, sizeof(b));
		human_size(u->owned_by_attribute[DMABUFD_ATTR_CACHED], c, sizeof(c));
		human_size(u->owned_by_attribute[DMABUFD_ATTR_UNCACHED], d, sizeof(d));
		if (kind == DMABUFD_ACCOUNT_CLIENTS) {
			printf("%7" PRIu64 " %7d %6u %-15s %9s %5u %9s %5u %9s %9s %6u\n", u->key,
			       (int)u->pid, (unsigned)u->uid, printable(u->comm, comm, sizeof(comm)),
			       a, u->owned_buffers, b, u->imported_buffers, c, d, u->tokens);
		} else {
			char wc[32];

			human_size(u->owned_by_attribute[DMABUFD_ATTR_WRITECOMBINE], wc, sizeof(wc));
			printf("%7u %9s %5u %9s %5u %9s %9s %9s\n",
			       kind == DMABUFD_ACCOUNT_UIDS ? (unsigned)u->uid : (unsigned)u->gid, a,
			       u->owned_buffers, b, u->imported_buffers, c, wc, d);
		}
	}
}

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

static int cmd_accounts(struct ctx *ctx, int argc, char **argv)
{
	json_object *j = NULL;
	int r = no_args(ctx, argc, argv, "accounts",
			"Usage: dmabufctl accounts [--json]\nBytes and buffers owned (charged) and "
			"imported, per attribute: per\nconnected client, per uid and per gid.\n");

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

static int cmd_top(struct ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long interval = 1, iterations = 0, v;
	int c, r;

	while ((c = getopt_long(argc, argv, "hi:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_uint(optarg, 3600, &v) < 0 || v == 0)
				return usage_error("--interval: 1..3600 seconds");
			interval = v;
			break;
		case 'n':
			if (parse_uint(optarg, ULONG_MAX, &v) < 0)
				return usage_error("--iterations: a number (0 = until interrupted)");
			iterations = v;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("Usage: dmabufctl top [--interval SECONDS] [--iterations N] [--json]\n"
			       "Live usage per client (owned, imported, per attribute, tokens) and "
			       "the\ndaemon's totals, refreshed every --interval seconds (default 1).\n"
			       "--json prints one JSON object per refresh.\n");
			return EXIT_OK;
		default:
			return usage_error("top: bad option");
		}
	}
	if (optind != argc)
		return usage_error("top takes no arguments");
	r = connect_daemon(ctx);
	if (r)
		return r;
	install_stop_handlers();
	for (unsigned long i = 0; !stop_requested && (!iterations || i < iterations); i++) {
		struct dmabufd_stats st;
		json_object *j = ctx->json ? json_object_new_object() : NULL;
		char u[32], cap[32];

		r = dmabufd_stats(ctx->client, &st);
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
		if (iterations && i + 1 >= iterations)
			break;
		r = hold(ctx, (long)interval);
		if (r < 0)
			return request_failed(ctx, "top", r);
	}
	return EXIT_OK;
}

static int cmd_stats(struct ctx *ctx, int argc, char **argv)
{
	struct dmabufd_stats s;
	int r = no_args(ctx, argc, argv, "stats",
			"Usage: dmabufctl stats [--json]\nThe daemon's counters.\n");

	if (r)
		return r < 0 ? EXIT_OK : r;
	r = connect_daemon(ctx);
	if (r)
		return r;
	r = dmabufd_stats(ctx->client, &s);
	if (r < 0)
		return request_failed(ctx, "stats", r);
	if (ctx->json)
		json_print(stats_json(&s));
	else
		print_stats(&s);
	return EXIT_OK;
}

/* ---- compact -------------------------------------------------------------- */

static int cmd_compact(struct ctx *ctx, int argc, char **argv)
{
	struct dmabufd_compact_result res;
	char a[32], b[32], m[32];
	int r = no_args(ctx, argc, argv, "compact",
			"Usage: dmabufctl compact [--json]\n"
			"Slide every movable buffer down so the free space is one run (root).\n");

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

/* ---- demo ----------------------------------------------------------------- */

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

/* Brackets CPU access of a dma-buf (Documentation/driver-api/dma-buf.rst, "CPU access"). */
static void demo_sync(const struct dmabufd_info *info, int fd, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	if (!info->dmabuf)
		return; /* sealed memfds are ordinary cached shmem */
	while (ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && (errno == EINTR || errno == EAGAIN))
		;
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
	r = dmabufd_stats(ctx->client, &s);
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

static int cmd_demo(struct ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "ring", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "attr", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum dmabufd_attribute attr = DMABUFD_ATTR_CACHED;
	unsigned long frames = 60, ring = 4, v;
	uint64_t size = DEMO_DEFAULT_SIZE;
	struct demo_slot slots[DEMO_MAX_RING];
	struct dmabufd_info info;
	json_object *steps = NULL;
	unsigned long done = 0;
	int c, r, ret = EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_uint(optarg, 1000000, &v) < 0 || v == 0)
				return usage_error("--frames: 1..1000000");
			frames = v;
			break;
		case 'r':
			if (parse_uint(optarg, DEMO_MAX_RING, &v) < 0 || v == 0)
				return usage_error("--ring: 1..%u buffers", DEMO_MAX_RING);
			ring = v;
			break;
		case 's':
			if (parse_size(optarg, &size) < 0 || size == 0 || size > (1ull << 32))
				return usage_error("--size: bytes, 1..4G, K/M/G suffixes allowed");
			break;
		case 'a':
			if (dmabufd_attribute_from_string(optarg, &attr) < 0)
				return usage_error("--attr: '%s' is not cached, wc or uc", optarg);
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			printf("Usage: dmabufctl demo [--frames N] [--ring N] [--size BYTES] "
			       "[--attr A]\n"
			       "Acts as a media-pipeline producer: allocates a ring of N "
			       "framebuffers\n(default 4 x %u bytes = 1920x1080 XRGB8888), writes "
			       "--frames frames\n(default 60) of a moving pattern into them through "
			       "mmap, checks each\nreads back and that the previous frame in a "
			       "slot survived the other\nslots' writes, releases them, and shows "
			       "the daemon's list and stats.\n", DEMO_DEFAULT_SIZE);
			return EXIT_OK;
		default:
			return usage_error("demo: bad option");
		}
	}
	if (optind != argc)
		return usage_error("demo takes no positional arguments");

	ret = connect_daemon(ctx);
	if (ret)
		return ret;
	dmabufd_get_info(ctx->client, &info);
	if (ctx->json)
		steps = json_object_new_array();
	else
		printf("connected to %s: backend %s, %s, page %u bytes, region %" PRIu64
		       " bytes\n", ctx->socket, info.backend,
		       info.dmabuf ? "dma-buf fds" : "sealed memfd fds", info.page_size,
		       info.region_size);

	/* Allocate the ring the way an event-loop driven producer would. */
	memset(slots, 0, sizeof(slots));
	for (unsigned long i = 0; i < ring; i++) {
		slots[i].buf.fd = -1;
		slots[i].frame = -1;
	}
	for (unsigned long i = 0; i < ring; i++) {
		char label[DMABUFD_LABEL_MAX + 1];

		snprintf(label, sizeof(label), "demo ring %lu/%lu", i, ring);
		r = dmabufd_alloc_async(ctx->client, size, 0, attr, 0, label, demo_alloc_done,
					&slots[i]);
		if (r < 0) {
			slots[i].done = true;
			slots[i].error = r;
			for (unsigned long k = i + 1; k < ring; k++)
				slots[k].done = true, slots[k].error = r;
			break;
		}
	}
	for (;;) {
		struct pollfd pfd = { .fd = dmabufd_get_fd(ctx->client), .events = POLLIN };
		bool all = true;

		for (unsigned long i = 0; i < ring; i++)
			all &= slots[i].done;
		if (all)
			break;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			ret = request_failed(ctx, "poll", -errno);
			goto out;
		}
		/* On a connection error every pending callback has run with it. */
		if (dmabufd_dispatch(ctx->client) < 0)
			break;
	}
	for (unsigned long i = 0; i < ring; i++) {
		if (!slots[i].done || slots[i].error) {
			char what[64];

			snprintf(what, sizeof(what), "alloc of ring buffer %lu", i);
			ret = request_failed(ctx, what, slots[i].done ? slots[i].error : -EPROTO);
			goto out;
		}
		slots[i].map = mmap(NULL, slots[i].buf.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				    slots[i].buf.fd, 0);
		if (slots[i].map == MAP_FAILED) {
			fprintf(stderr, "dmabufctl: mmap of buffer %" PRIu64 " (%" PRIu64
					" bytes): %s\n", slots[i].buf.id, slots[i].buf.size,
				strerror(errno));
			slots[i].map = NULL;
			ret = EXIT_REFUSED;
			goto out;
		}
		if (!ctx->json)
			printf("ring[%lu]: buffer %" PRIu64 ", %" PRIu64 " bytes at region offset %"
			       PRIu64 ", mapped\n", i, slots[i].buf.id, slots[i].buf.size,
			       slots[i].buf.offset);
	}
	ret = demo_snapshot(ctx, "after allocating the ring", steps);
	if (ret)
		goto out;

	install_stop_handlers();
	for (unsigned long f = 0; f < frames && !stop_requested; f++) {
		struct demo_slot *s = &slots[f % ring];
		int64_t bad;

		demo_sync(&info, s->buf.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
		/* The frame this slot held must have survived the other slots' writes. */
		if (s->frame >= 0) {
			bad = demo_verify(s->map, size, (uint32_t)s->frame);
			if (bad >= 0) {
				fprintf(stderr, "dmabufctl: buffer %" PRIu64 " lost frame %ld at byte "
						"%" PRId64 " while other buffers were written\n",
					s->buf.id, s->frame, bad);
				ret = EXIT_VERIFY;
				demo_sync(&info, s->buf.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
				goto out;
			}
		}
		demo_write(s->map, size, (uint32_t)f);
		bad = demo_verify(s->map, size, (uint32_t)f);
		demo_sync(&info, s->buf.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
		if (bad >= 0) {
			fprintf(stderr, "dmabufctl: frame %lu in buffer %" PRIu64 " reads back wrong "
					"at byte %" PRId64 "\n", f, s->buf.id, bad);
			ret = EXIT_VERIFY;
			goto out;
		}
		s->frame = (long)f;
		done++;
		if (!ctx->json) {
			printf("frame %4lu -> ring[%lu] buffer %" PRIu64 ": %" PRIu64
			       " bytes written, read back ok (pixel 0 = 0x%08x)\n", f, f % ring,
			       s->buf.id, size, ((uint32_t *)s->map)[0]);
			if (f == 0 || f + 1 == frames)
				demo_preview(s->map, size);
		}
	}
	/* Reading the final contents of every slot once more. */
	for (unsigned long i = 0; i < ring; i++) {
		if (slots[i].frame >= 0 &&
		    demo_verify(slots[i].map, size, (uint32_t)slots[i].frame) >= 0) {
			fprintf(stderr, "dmabufctl: buffer %" PRIu64 " lost frame %ld\n",
				slots[i].buf.id, slots[i].frame);
			ret = EXIT_VERIFY;
			goto out;
		}
	}
	ret = demo_snapshot(ctx, "after writing the frames", steps);
	if (ret)
		goto out;

	for (unsigned long i = 0; i < ring; i++) {
		munmap(slots[i].map, slots[i].buf.size);
		slots[i].map = NULL;
		close(slots[i].buf.fd);
		slots[i].buf.fd = -1;
		r = dmabufd_release(ctx->client, slots[i].buf.id);
		if (r < 0) {
			ret = request_failed(ctx, "release", r);
			goto out;
		}
		if (!ctx->json)
			printf("released buffer %" PRIu64 "\n", slots[i].buf.id);
	}
	ret = demo_snapshot(ctx, "after releasing the ring", steps);
	if (ret == EXIT_OK && !ctx->json)
		printf("demo: %lu frames of %" PRIu64 " bytes through a ring of %lu buffers, "
		       "all read back correctly\n", done, size, ring);

out:
	for (unsigned long i = 0; i < ring; i++) {
		if (slots[i].map)
			munmap(slots[i].map, slots[i].buf.size);
		if (slots[i].buf.fd >= 0)
			close(slots[i].buf.fd);
	}
	if (ctx->json) {
		json_object *o = json_object_new_object();

		json_add_str(o, "backend", info.backend);
		json_object_object_add(o, "dmabuf", json_object_new_boolean(info.dmabuf));
		json_add_u64(o, "ring", ring);
		json_add_u64(o, "frames", frames);
		json_add_u64(o, "frames_verified", done);
		json_add_u64(o, "frame_size", size);
		json_add_str(o, "result", ret == EXIT_OK ? "ok" : "failed");
		json_object_object_add(o, "steps", steps);
		json_print(o);
	}
	return ret;
}

/* ---- main ----------------------------------------------------------------- */

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
	fprintf(f, "Usage: dmabufctl [--socket PATH] [--json] COMMAND [ARGS...]\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %-58s %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fprintf(f, "\nOptions:\n"
		   "  --socket PATH  daemon socket (default: $DMABUFD_SOCKET, else %s)\n"
		   "  --json         machine-readable output\n"
		   "  --help         this text; COMMAND --help for a command's options\n"
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
		{ 0 },
	};
	struct ctx ctx = { 0 };
	const char *env;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
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
