/* SPDX-License-Identifier: MIT */
/* dmabufd: the DMA-buffer broker daemon. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend.h"
#include "log.h"
#include "parse.h"
#include "server.h"

struct options {
	const char *socket_path;
	const char *backend;
	mode_t socket_mode;
	struct backend_options backend_opts;
	struct server_limits limits;
	int verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufd [OPTIONS]\n"
		"Broker of shared DMA buffers over a Unix socket.\n\n"
		"  -s, --socket PATH      listen on PATH (default $DMABUFD_SOCKET, else %s)\n"
		"  -b, --backend NAME     backend: memfd (default)\n"
		"      --capacity SIZE    bytes the memfd backend may hand out (default 256M;\n"
		"                         K/M/G suffixes)\n"
		"      --socket-mode MODE octal mode of the socket file (default 0660)\n"
		"      --max-clients N    connected clients (default 256)\n"
		"      --max-buffers N    live buffers per client (default 1024)\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n",
		DMABUFD_DEFAULT_SOCKET);
}

static int parse_u32(const char *s, uint32_t min, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX || v < min)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CAPACITY = 256, OPT_MODE, OPT_MAX_CLIENTS, OPT_MAX_BUFFERS };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "capacity", required_argument, NULL, OPT_CAPACITY },
		{ "socket-mode", required_argument, NULL, OPT_MODE },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "max-buffers", required_argument, NULL, OPT_MAX_BUFFERS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "s:b:vhV", longopts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'b':
			o->backend = optarg;
			break;
		case OPT_CAPACITY:
			if (parse_size(optarg, &o->backend_opts.capacity) < 0 ||
			    o->backend_opts.capacity == 0) {
				fprintf(stderr, "dmabufd: --capacity: '%s' is not a size\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MODE:
			errno = 0;
			o->socket_mode = (mode_t)strtoul(optarg, &end, 8);
			if (errno || *end || end == optarg || o->socket_mode > 0777) {
				fprintf(stderr, "dmabufd: --socket-mode: '%s' is not an octal mode\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_CLIENTS:
			if (parse_u32(optarg, 1, &o->limits.max_clients) < 0) {
				fprintf(stderr, "dmabufd: --max-clients: '%s' is not a positive number\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_BUFFERS:
			if (parse_u32(optarg, 1, &o->limits.max_buffers) < 0) {
				fprintf(stderr, "dmabufd: --max-buffers: '%s' is not a positive number\n", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("dmabufd %s\n", DMABUFD_VERSION);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabufd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Each live buffer costs the daemon one fd: use the whole hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Creates the socket's directory (not its parents) when it is missing. */
static void ensure_socket_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0)
		log_info("created %s", dir);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("received %s; shutting down", strsignal((int)sig));
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct options o = {
		.socket_mode = 0660,
		.limits = SERVER_LIMITS_DEFAULT,
	};
	const struct backend_ops *ops;
	struct event_base *base = NULL;
	struct event *ev_int = NULL, *ev_term = NULL;
	struct backend *backend = NULL;
	struct server server;
	int err, ret = EXIT_FAILURE;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	log_set_sink(log_sink_stderr, "dmabufd", o.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (!o.socket_path)
		o.socket_path = getenv("DMABUFD_SOCKET");
	if (!o.socket_path || !o.socket_path[0])
		o.socket_path = DMABUFD_DEFAULT_SOCKET;
	if (!o.backend)
		o.backend = "memfd";

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	ops = backend_find(o.backend);
	if (!ops) {
		log_error("unknown backend '%s'", o.backend);
		return 2;
	}
	err = ops->create(&o.backend_opts, &backend);
	if (err < 0) {
		log_error("backend %s: %s", o.backend, strerror(-err));
		return EXIT_FAILURE;
	}

	base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		ops->destroy(backend);
		return EXIT_FAILURE;
	}
	err = server_init(&server, base, backend, &o.limits);
	if (err < 0) {
		log_error("server: %s", strerror(-err));
		ops->destroy(backend);
		goto out;
	}
	ensure_socket_dir(o.socket_path);
	err = server_listen_path(&server, o.socket_path, o.socket_mode);
	if (err < 0) {
		log_error("cannot listen on %s: %s", o.socket_path, strerror(-err));
		goto out_server;
	}

	ev_int = evsignal_new(base, SIGINT, on_signal, base);
	ev_term = evsignal_new(base, SIGTERM, on_signal, base);
	if (!ev_int || !ev_term || evsignal_add(ev_int, NULL) < 0 || evsignal_add(ev_term, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out_server;
	}
	log_info("serving on %s with the %s backend (%" PRIu64 " bytes)", o.socket_path,
		 server.caps.name, server.caps.region_size);

	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");
	else
		ret = EXIT_SUCCESS;

out_server:
	server_finish(&server);
out:
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	event_base_free(base);
	return ret;
}
