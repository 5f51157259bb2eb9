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
#include "fdstore.h" /* issue 8 */
#include "log.h"
#include "sd.h"      /* issue 8 */
#include "server.h"

struct options {
	const char *socket_path;
	const char *backend;
	mode_t socket_mode;
	struct backend_options backend_opts;
	struct server_limits limits;
	int verbose;
	/* issue 8: systemd integration */
	const char *user;
	uint32_t fdstore_max;
	enum log_target log_target;
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
		"  -u, --user NAME        drop to user NAME once the devices are open and\n"
		"                         the socket is bound\n"
		"      --fdstore-max N    FileDescriptorStoreMax= of the unit (default %u)\n"
		"      --log-target T     auto (journal when stderr is journald), journal,\n"
		"                         stderr\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n",
		DMABUFD_DEFAULT_SOCKET, FDSTORE_DEFAULT_MAX);
}

/* Parses "123", "4K", "16M", "1G" (binary units) into bytes. */
static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		end++;
		break;
	case 'M': case 'm':
		shift = 20;
		end++;
		break;
	case 'G': case 'g':
		shift = 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
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
	enum { OPT_CAPACITY = 256, OPT_MODE, OPT_MAX_CLIENTS, OPT_MAX_BUFFERS,
	       OPT_FDSTORE_MAX, OPT_LOG_TARGET };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "capacity", required_argument, NULL, OPT_CAPACITY },
		{ "socket-mode", required_argument, NULL, OPT_MODE },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "max-buffers", required_argument, NULL, OPT_MAX_BUFFERS },
		{ "user", required_argument, NULL, 'u' },
		{ "fdstore-max", required_argument, NULL, OPT_FDSTORE_MAX },
		{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "s:b:u:vhV", longopts, NULL)) != -1) {
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
		case 'u':
			o->user = optarg;
			break;
		case OPT_FDSTORE_MAX:
			if (parse_u32(optarg, 0, &o->fdstore_max) < 0) {
				fprintf(stderr, "dmabufd: --fdstore-max: '%s' is not a number\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_LOG_TARGET:
			if (strcmp(optarg, "auto") == 0) {
				o->log_target = LOG_TARGET_AUTO;
			} else if (strcmp(optarg, "journal") == 0) {
				o->log_target = LOG_TARGET_JOURNAL;
			} else if (strcmp(optarg, "stderr") == 0) {
				o->log_target = LOG_TARGET_STDERR;
			} else {
				fprintf(stderr, "dmabufd: --log-target: '%s' is not auto, journal or stderr\n",
					optarg);
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

/*
 * issue 8: SIGHUP reloads the configuration, bracketed by RELOADING=1 and
 * READY=1 (systemd.service(5)). The configuration code (issue 6) fills
 * daemon_reload_config(); until then a reload changes nothing.
 */
static int daemon_reload_config(void)
{
	return 0;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	int err;

	log_info("received SIGHUP; reloading the configuration");
	service_notify_reloading();
	err = daemon_reload_config();
	if (err < 0)
		log_error("reload failed: %s; keeping the previous configuration", strerror(-err));
	service_notify_ready();
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
		.fdstore_max = FDSTORE_DEFAULT_MAX,
	};
	const struct backend_ops *ops;
	struct event_base *base = NULL;
	struct event *ev_int = NULL, *ev_term = NULL, *ev_hup = NULL;
	struct service_fds sfds = { .listen_fd = -1 };
	struct backend *backend = NULL;
	struct server server;
	int err, ret = EXIT_FAILURE;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	service_log_setup(o.log_target, o.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO); /* issue 8 */
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
	/* --- issue 8: socket activation and the fd store --- */
	err = service_take_fds(&sfds);
	if (err < 0)
		log_error("cannot take the fds passed by the service manager: %s", strerror(-err));
	if (sfds.listen_fd >= 0) {
		err = server_listen_fd(&server, sfds.listen_fd);
		if (err < 0) {
			log_error("the inherited socket cannot be served: %s", strerror(-err));
			goto out_server;
		}
		sfds.listen_fd = -1;
		log_info("serving on the socket passed by the service manager");
	} else {
		ensure_socket_dir(o.socket_path);
		err = server_listen_path(&server, o.socket_path, o.socket_mode);
		if (err < 0) {
			log_error("cannot listen on %s: %s", o.socket_path, strerror(-err));
			goto out_server;
		}
	}
	if (service_init(base, &server) < 0) {
		log_error("out of memory");
		goto out_server;
	}
	err = fdstore_setup(&server, o.fdstore_max, sfds.fds, sfds.names, sfds.n);
	if (err < 0)
		log_error("fd store disabled: %s; buffers will not survive a restart",
			  strerror(-err));
	service_fds_free(&sfds);
	if (o.user) {
		err = service_drop_privileges(o.user);
		if (err < 0) {
			log_error("cannot drop privileges to user %s: %s", o.user, strerror(-err));
			goto out_server;
		}
	}
	/* --- end issue 8 --- */

	ev_int = evsignal_new(base, SIGINT, on_signal, base);
	ev_term = evsignal_new(base, SIGTERM, on_signal, base);
	ev_hup = evsignal_new(base, SIGHUP, on_reload, base); /* issue 8 */
	if (!ev_int || !ev_term || !ev_hup || evsignal_add(ev_int, NULL) < 0 ||
	    evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_hup, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out_server;
	}
	log_info("serving on %s with the %s backend (%" PRIu64 " bytes)",
		 server.socket_path ? server.socket_path : "the inherited socket", /* issue 8 */
		 server.caps.name, server.caps.region_size);
	if (service_notify_ready() < 0) /* issue 8: READY=1, STATUS=, watchdog */
		log_warn("cannot arm the watchdog timer");

	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");
	else
		ret = EXIT_SUCCESS;

out_server:
	service_notify_stopping(); /* issue 8 */
	fdstore_finish(&server);   /* issue 8: freeze the store before releasing */
	server_finish(&server);
	service_finish();
out:
	if (ev_int)
		event_free(ev_int);
	if (ev_term)
		event_free(ev_term);
	if (ev_hup)
		event_free(ev_hup);
	service_fds_free(&sfds);
	event_base_free(base);
	return ret;
}
