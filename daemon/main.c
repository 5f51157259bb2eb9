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

#include "backend/backend.h"
#include "backend/probe.h"
#include "config.h"
#include "fdstore.h"
#include "log.h"
#include "parse.h"
#include "sd.h"
#include "backend/pool.h"
#include "server.h"

struct options {
	const char *config_path;             /* NULL: DMABUFD_DEFAULT_CONFIG if present */
	struct config_overrides overrides;   /* the command line wins over the file */
	int verbose;
	/* running as a systemd service: privileges, fd store, journal */
	const char *user;
	uint32_t fdstore_max;
	enum log_target log_target;
	/* pre-zeroed pools (only the pool_* fields are used) */
	struct backend_options pool;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufd [OPTIONS]\n"
		"Broker of shared DMA buffers over a Unix socket.\n\n"
		"  -c, --config FILE      configuration file (default %s if it exists;\n"
		"                         see docs/CONFIG.md). Options below override it.\n"
		"  -s, --socket PATH      listen on PATH (default $DMABUFD_SOCKET, else the\n"
		"                         file's [daemon] socket, else %s)\n"
		"  -b, --backend NAME     force one backend: kmod, dma-heap, udmabuf, memfd\n"
		"                         (default: probe [daemon] backends, else\n"
		"                         " PROBE_DEFAULT_ORDER ", first present wins)\n"
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
		"      --pool-budget SIZE bytes of pre-zeroed buffers to keep ready (default 0:\n"
		"                         no pool)\n"
		"      --pool-classes LIST buffer sizes to keep ready, e.g. 4K,1M,8M (at most 8),\n"
		"                         or 'learn' (default: the most recent request sizes)\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"SIGHUP reloads the configuration file without dropping clients.\n",
		DMABUFD_DEFAULT_CONFIG, DMABUFD_DEFAULT_SOCKET, FDSTORE_DEFAULT_MAX);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CAPACITY = 256, OPT_MODE, OPT_MAX_CLIENTS, OPT_MAX_BUFFERS,
	       OPT_FDSTORE_MAX, OPT_LOG_TARGET, OPT_POOL_BUDGET, OPT_POOL_CLASSES };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "capacity", required_argument, NULL, OPT_CAPACITY },
		{ "socket-mode", required_argument, NULL, OPT_MODE },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "max-buffers", required_argument, NULL, OPT_MAX_BUFFERS },
		{ "user", required_argument, NULL, 'u' },
		{ "fdstore-max", required_argument, NULL, OPT_FDSTORE_MAX },
		{ "log-target", required_argument, NULL, OPT_LOG_TARGET },
		{ "pool-budget", required_argument, NULL, OPT_POOL_BUDGET },
		{ "pool-classes", required_argument, NULL, OPT_POOL_CLASSES },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:b:u:vhV", longopts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'c':
			o->config_path = optarg;
			break;
		case 's':
			o->overrides.socket_path = optarg;
			break;
		case 'b':
			o->overrides.backend = optarg;
			break;
		case OPT_CAPACITY:
			if (config_parse_size(optarg, &o->overrides.capacity) < 0 ||
			    o->overrides.capacity == 0) {
				fprintf(stderr, "dmabufd: --capacity: '%s' is not a size\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MODE:
			errno = 0;
			o->overrides.socket_mode = (mode_t)strtoul(optarg, &end, 8);
			o->overrides.has_socket_mode = true;
			if (errno || *end || end == optarg || o->overrides.socket_mode > 0777) {
				fprintf(stderr, "dmabufd: --socket-mode: '%s' is not an octal mode\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_CLIENTS:
			if (config_parse_u32(optarg, 1, &o->overrides.max_clients) < 0) {
				fprintf(stderr, "dmabufd: --max-clients: '%s' is not a positive number\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_MAX_BUFFERS:
			if (config_parse_u32(optarg, 1, &o->overrides.max_buffers) < 0) {
				fprintf(stderr, "dmabufd: --max-buffers: '%s' is not a positive number\n", optarg);
				return -EINVAL;
			}
			break;
		case 'u':
			o->user = optarg;
			break;
		case OPT_FDSTORE_MAX:
			if (config_parse_u32(optarg, 0, &o->fdstore_max) < 0) {
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
		case OPT_POOL_BUDGET:
			if (parse_size(optarg, &o->pool.pool_budget) < 0) {
				fprintf(stderr, "dmabufd: --pool-budget: '%s' is not a size\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_POOL_CLASSES: {
			long page = sysconf(_SC_PAGESIZE);
			int n = 0;

			if (strcmp(optarg, "learn") != 0)
				n = pool_parse_classes(optarg, page > 0 ? (uint32_t)page : 4096,
						       o->pool.pool_classes);
			if (n < 0) {
				fprintf(stderr, "dmabufd: --pool-classes: '%s' is not 'learn' or a list of at most 8 sizes\n",
					optarg);
				return -EINVAL;
			}
			o->pool.pool_nclasses = (unsigned)n;
			break;
		}
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

/*
 * SIGHUP: reload the configuration file; clients stay connected. The reload
 * is bracketed by RELOADING=1 and READY=1 (systemd.service(5), Type=notify).
 */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	log_info("received SIGHUP; reloading the configuration");
	service_notify_reloading();
	server_reload_config(arg);
	service_notify_ready();
}

int main(int argc, char **argv)
{
	struct options o = { .fdstore_max = FDSTORE_DEFAULT_MAX };
	struct config_source src = { 0 };
	struct config cfg = { 0 };
	struct backend_options backend_opts = { 0 };
	struct server_limits limits = SERVER_LIMITS_DEFAULT;
	struct event_base *base = NULL;
	struct event *ev_int = NULL, *ev_term = NULL, *ev_hup = NULL;
	struct service_fds sfds = { .listen_fd = -1 };
	struct backend *backend = NULL, *active[PROBE_MAX_BACKENDS];
	size_t nactive = 0;
	struct server server;
	struct probe_report probe;
	const char *socket_path, *backend_name;
	mode_t socket_mode;
	int err, ret = EXIT_FAILURE;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	service_log_setup(o.log_target, o.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	/* $DMABUFD_SOCKET counts as a command-line option (it beats the file). */
	if (!o.overrides.socket_path && getenv("DMABUFD_SOCKET") && getenv("DMABUFD_SOCKET")[0])
		o.overrides.socket_path = getenv("DMABUFD_SOCKET");
	src.path = o.config_path ? o.config_path : DMABUFD_DEFAULT_CONFIG;
	src.must_exist = o.config_path != NULL;
	src.overrides = o.overrides;
	if (config_load(src.path, src.must_exist, &cfg) < 0 ||
	    config_apply_overrides(&cfg, &src.overrides) < 0) {
		config_finish(&cfg);
		return 2;
	}
	backend_name = cfg.backend; /* NULL: probe */
	socket_mode = cfg.socket_mode;
	backend_opts = o.pool;
	backend_opts.capacity = cfg.capacity;
	limits.max_clients = cfg.max_clients;
	limits.max_buffers = cfg.max_buffers;

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();

	backend_opts.heaps_contiguous = cfg.heaps_contiguous;
	backend_opts.heaps_writecombine = cfg.heaps_writecombine;
	backend_opts.heaps_uncached = cfg.heaps_uncached;
	if (backend_name) {
		/* --backend / backend = forces one: probe that one only. */
		if (!backend_find(backend_name)) {
			log_error("unknown backend '%s'", backend_name);
			config_finish(&cfg);
			return 2;
		}
		log_info("backend %s forced by the configuration or --backend", backend_name);
	}
	err = probe_backends(backend_name ? backend_name :
			     cfg.backends ? cfg.backends : PROBE_DEFAULT_ORDER,
			     &backend_opts, active, &nactive, &probe);
	if (err < 0) {
		log_error("no backend usable (%s): %s",
			  backend_name ? backend_name : cfg.backends ? cfg.backends : PROBE_DEFAULT_ORDER,
			  probe.n ? probe.entries[probe.n - 1].reason : strerror(-err));
		config_finish(&cfg);
		return EXIT_FAILURE;
	}
	backend = active[0];


	base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		for (size_t i = 0; i < nactive; i++)
			active[i]->ops->destroy(active[i]);
		config_finish(&cfg);
		return EXIT_FAILURE;
	}
	err = server_init(&server, base, backend, &limits);
	if (err < 0) {
		log_error("server: %s", strerror(-err));
		for (size_t i = 0; i < nactive; i++)
			active[i]->ops->destroy(active[i]);
		config_finish(&cfg);
		goto out;
	}
	/* Several backends at once: the rest after the primary. */
	for (size_t i = 1; i < nactive; i++) {
		err = server_add_backend(&server, active[i]);
		if (err < 0) {
			log_warn("backend %s left out: %s", active[i]->ops->name, strerror(-err));
			for (size_t j = 0; j < probe.n; j++)
				if (strcmp(probe.entries[j].name, active[i]->ops->name) == 0) {
					probe.entries[j].chosen = false;
					snprintf(probe.entries[j].reason, sizeof(probe.entries[j].reason),
						 "present; not active: %s", strerror(-err));
				}
			active[i]->ops->destroy(active[i]);
		}
	}
	server.probe = probe;
	/* The server takes the configuration; socket_path etc. now point into it. */
	server_apply_config(&server, &cfg);
	server.config_source = &src;
	socket_path = server.config.socket_path ? server.config.socket_path : DMABUFD_DEFAULT_SOCKET;

	/* Socket activation: a listening socket passed by the service manager. */
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
		ensure_socket_dir(socket_path);
		err = server_listen_path(&server, socket_path, socket_mode);
		if (err < 0) {
			log_error("cannot listen on %s: %s", socket_path, strerror(-err));
			goto out_server;
		}
	}
	if (service_init(base, server_format_status, &server) < 0) {
		log_error("out of memory");
		goto out_server;
	}
	/* Restart without loss: buffers and state from the fd store. */
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

	ev_int = evsignal_new(base, SIGINT, on_signal, base);
	ev_term = evsignal_new(base, SIGTERM, on_signal, base);
	ev_hup = evsignal_new(base, SIGHUP, on_sighup, &server);
	if (!ev_int || !ev_term || !ev_hup || evsignal_add(ev_int, NULL) < 0 ||
	    evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_hup, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out_server;
	}
	log_info("serving on %s with the %s backend (%" PRIu64 " bytes)%s",
		 server.socket_path ? server.socket_path : "the inherited socket",
		 server.backends[0].caps.name, server.backends[0].caps.region_size,
		 server.nbackends > 1 ? ", and:" : "");
	for (unsigned i = 1; i < server.nbackends; i++)
		log_info("  then the %s backend (%" PRIu64 " bytes)", server.backends[i].caps.name,
			 server.backends[i].caps.region_size);
	if (service_notify_ready() < 0) /* READY=1, STATUS=, watchdog */
		log_warn("cannot arm the watchdog timer");

	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");
	else
		ret = EXIT_SUCCESS;

out_server:
	service_notify_stopping();
	fdstore_finish(&server); /* freeze the store before releasing */
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
