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
#include "fdstore_restore.h"
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
		"      --pool-budget SIZE bytes of pre-zeroed buffers to keep ready per backend\n"
		"                         (default: [pool] budget, else 0: no pool)\n"
		"      --pool-classes LIST buffers to keep ready from the start, SIZE[:ATTRIBUTE]\n"
		"                         items, e.g. 1M,8M:write-combine (at most 8), or\n"
		"                         'learn' (default: [pool] classes, else learn the\n"
		"                         most recent requests)\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n"
		"SIGHUP reloads the configuration file without dropping clients.\n",
		DMABUFD_DEFAULT_CONFIG, DMABUFD_DEFAULT_SOCKET, FDSTORE_DEFAULT_MAX);
}

static int parse_log_target(const char *arg, enum log_target *ret)
{
	if (strcmp(arg, "auto") == 0) {
		*ret = LOG_TARGET_AUTO;
	} else if (strcmp(arg, "journal") == 0) {
		*ret = LOG_TARGET_JOURNAL;
	} else if (strcmp(arg, "stderr") == 0) {
		*ret = LOG_TARGET_STDERR;
	} else {
		fprintf(stderr, "dmabufd: --log-target: '%s' is not auto, journal or stderr\n", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_pool_classes(const char *arg, struct config_overrides *ov)
{
	long page = sysconf(_SC_PAGESIZE);
	char why[160];

	ov->has_pool_classes = true;
	if (strcmp(arg, "learn") == 0) {
		ov->pool_nclasses = 0;
		return 0;
	}
	if (config_parse_pool_classes(arg, page > 0 ? (uint32_t)page : 4096, ov->pool_classes,
				      &ov->pool_nclasses, why, sizeof(why)) < 0) {
		fprintf(stderr, "dmabufd: --pool-classes: %s (expected 'learn' or at most %u "
			"SIZE[:ATTRIBUTE] items, e.g. 1M,8M:write-combine)\n", why, POOL_MAX_CLASSES);
		return -EINVAL;
	}
	return 0;
}

static int parse_socket_mode(const char *arg, struct config_overrides *ov)
{
	char *end;

	errno = 0;
	ov->socket_mode = (mode_t)strtoul(arg, &end, 8);
	ov->has_socket_mode = true;
	if (errno || *end || end == arg || ov->socket_mode > 0777) {
		fprintf(stderr, "dmabufd: --socket-mode: '%s' is not an octal mode\n", arg);
		return -EINVAL;
	}
	return 0;
}

enum { OPT_CAPACITY = 256, OPT_MODE, OPT_MAX_CLIENTS, OPT_MAX_BUFFERS,
       OPT_FDSTORE_MAX, OPT_LOG_TARGET, OPT_POOL_BUDGET, OPT_POOL_CLASSES };

/* Options that take a value. Return: 0, or -EINVAL (said on stderr). */
static int parse_option(int opt, const char *arg, struct options *o)
{
	switch (opt) {
	case 'c':
		o->config_path = arg;
		return 0;
	case 's':
		o->overrides.socket_path = arg;
		return 0;
	case 'b':
		o->overrides.backend = arg;
		return 0;
	case 'u':
		o->user = arg;
		return 0;
	case OPT_CAPACITY:
		if (config_parse_size(arg, &o->overrides.capacity) < 0 || o->overrides.capacity == 0) {
			fprintf(stderr, "dmabufd: --capacity: '%s' is not a size\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MODE:
		return parse_socket_mode(arg, &o->overrides);
	case OPT_MAX_CLIENTS:
		if (config_parse_u32(arg, 1, &o->overrides.max_clients) < 0) {
			fprintf(stderr, "dmabufd: --max-clients: '%s' is not a positive number\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MAX_BUFFERS:
		if (config_parse_u32(arg, 1, &o->overrides.max_buffers) < 0) {
			fprintf(stderr, "dmabufd: --max-buffers: '%s' is not a positive number\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_FDSTORE_MAX:
		if (config_parse_u32(arg, 0, &o->fdstore_max) < 0) {
			fprintf(stderr, "dmabufd: --fdstore-max: '%s' is not a number\n", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_LOG_TARGET:
		return parse_log_target(arg, &o->log_target);
	case OPT_POOL_BUDGET:
		if (config_parse_size(arg, &o->overrides.pool_budget) < 0) {
			fprintf(stderr, "dmabufd: --pool-budget: '%s' is not a size\n", arg);
			return -EINVAL;
		}
		o->overrides.has_pool_budget = true;
		return 0;
	case OPT_POOL_CLASSES:
		return parse_pool_classes(arg, &o->overrides);
	}
	usage(stderr);
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct options *o)
{
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
		switch (opt) {
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
			if (parse_option(opt, optarg, o) < 0)
				return -EINVAL;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmabufd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/*
 * Each live buffer costs the daemon one fd: use the whole hard limit.
 * Return: the soft limit now in force (the fd budget is sized from it).
 */
static uint64_t raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		uint64_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("cannot raise RLIMIT_NOFILE from %" PRIu64 " to %" PRIu64 ": %s",
				 was, (uint64_t)rl.rlim_max, strerror(errno));
			return was;
		}
	}
	return rl.rlim_cur;
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

/*
 * The configuration file, with the command line (and $DMABUFD_SOCKET, which
 * counts as a command-line option: it beats the file) over it.
 * Return: 0, or 2 (errors were logged).
 */
static int load_config(struct options *o, struct config_source *src, struct config *cfg)
{
	if (!o->overrides.socket_path && getenv("DMABUFD_SOCKET") && getenv("DMABUFD_SOCKET")[0])
		o->overrides.socket_path = getenv("DMABUFD_SOCKET");
	src->path = o->config_path ? o->config_path : DMABUFD_DEFAULT_CONFIG;
	src->must_exist = o->config_path != NULL;
	src->overrides = o->overrides;
	if (config_load(src->path, src->must_exist, cfg) < 0 ||
	    config_apply_overrides(cfg, &src->overrides) < 0) {
		config_finish(cfg);
		return 2;
	}
	return 0;
}

/*
 * The active backends: the one forced by --backend or backend =, else
 * every one of [daemon] backends (or the default order) that is present.
 * Return: 0; 2 (unknown backend name); EXIT_FAILURE (none usable). Logged.
 */
static int choose_backends(const struct config *cfg,
			   struct backend **active, size_t *ret_n, struct probe_report *probe)
{
	struct backend_options backend_opts = { 0 };
	const char *backend_name = cfg->backend; /* NULL: probe */
	const char *order = backend_name ? backend_name :
			    cfg->backends ? cfg->backends : PROBE_DEFAULT_ORDER;
	int err;

	backend_opts.capacity = cfg->capacity;
	backend_opts.heaps_contiguous = cfg->heaps_contiguous;
	backend_opts.heaps_writecombine = cfg->heaps_writecombine;
	backend_opts.heaps_uncached = cfg->heaps_uncached;
	/* The memfd and dma-heap pools make cached buffers: the cached classes. */
	backend_opts.pool_budget = cfg->pool_budget;
	for (unsigned i = 0; i < cfg->pool_nclasses; i++)
		if (cfg->pool_classes[i].attribute == DMABUFD_ATTR_CACHED)
			backend_opts.pool_classes[backend_opts.pool_nclasses++] =
				cfg->pool_classes[i].size;
	if (backend_name) {
		/* --backend / backend = forces one: probe that one only. */
		if (!backend_find(backend_name)) {
			log_error("unknown backend '%s'", backend_name);
			return 2;
		}
		log_info("backend %s forced by the configuration or --backend", backend_name);
	}
	err = probe_backends(order, &backend_opts, active, ret_n, probe);
	if (err < 0) {
		log_error("no backend usable (%s): %s", order,
			  probe->n ? probe->entries[probe->n - 1].reason : strerror(-err));
		return EXIT_FAILURE;
	}
	return 0;
}

static void destroy_backends(struct backend **active, size_t n)
{
	for (size_t i = 0; i < n; i++)
		active[i]->ops->destroy(active[i]);
}

/*
 * The server over the active backends: the first is the primary, the rest
 * follow in probe order; one that cannot be added is left out and its
 * probe entry says why. Return: 0, or negative errno of server_init()
 * (every backend destroyed).
 */
static int start_server(struct server *server, struct event_base *base, struct backend **active,
			size_t nactive, const struct server_limits *limits,
			struct probe_report *probe)
{
	int err = server_init(server, base, active[0], limits);

	if (err < 0) {
		log_error("server: %s", strerror(-err));
		destroy_backends(active, nactive);
		return err;
	}
	for (size_t i = 1; i < nactive; i++) {
		err = server_add_backend(server, active[i]);
		if (err < 0) {
			log_warn("backend %s left out: %s", active[i]->ops->name, strerror(-err));
			for (size_t j = 0; j < probe->n; j++)
				if (strcmp(probe->entries[j].name, active[i]->ops->name) == 0) {
					probe->entries[j].chosen = false;
					snprintf(probe->entries[j].reason, sizeof(probe->entries[j].reason),
						 "present; not active: %s", strerror(-err));
				}
			active[i]->ops->destroy(active[i]);
		}
	}
	server->probe = *probe;
	return 0;
}

/*
 * Socket activation: serve the listening socket the service manager passed
 * in @sfds, else listen on @socket_path. Return: 0, or negative errno
 * (logged).
 */
static int start_listening(struct server *server, struct service_fds *sfds,
			   const char *socket_path, mode_t socket_mode)
{
	int err = service_take_fds(sfds);

	if (err < 0)
		log_error("cannot take the fds passed by the service manager: %s", strerror(-err));
	if (sfds->listen_fd >= 0) {
		err = server_listen_fd(server, sfds->listen_fd);
		if (err < 0) {
			log_error("the inherited socket cannot be served: %s", strerror(-err));
			return err;
		}
		sfds->listen_fd = -1;
		log_info("serving on the socket passed by the service manager");
		return 0;
	}
	ensure_socket_dir(socket_path);
	err = server_listen_path(server, socket_path, socket_mode);
	if (err < 0)
		log_error("cannot listen on %s: %s", socket_path, strerror(-err));
	return err;
}

/* SIGINT and SIGTERM stop the loop; SIGHUP reloads. Return: 0, or -ENOMEM (logged). */
static int install_signals(struct event_base *base, struct server *server, struct event *ev[3])
{
	ev[0] = evsignal_new(base, SIGINT, on_signal, base);
	ev[1] = evsignal_new(base, SIGTERM, on_signal, base);
	ev[2] = evsignal_new(base, SIGHUP, on_sighup, server);
	if (!ev[0] || !ev[1] || !ev[2] || evsignal_add(ev[0], NULL) < 0 ||
	    evsignal_add(ev[1], NULL) < 0 || evsignal_add(ev[2], NULL) < 0) {
		log_error("cannot install signal handlers");
		return -ENOMEM;
	}
	return 0;
}

static void log_serving(const struct server *server)
{
	log_info("serving on %s with the %s backend (%" PRIu64 " bytes)%s",
		 server->socket_path ? server->socket_path : "the inherited socket",
		 server->backends[0].caps.name, server->backends[0].caps.region_size,
		 server->nbackends > 1 ? ", and:" : "");
	for (unsigned i = 1; i < server->nbackends; i++)
		log_info("  then the %s backend (%" PRIu64 " bytes)", server->backends[i].caps.name,
			 server->backends[i].caps.region_size);
}

/*
 * From the listening server to the end of the event loop: the service
 * manager's status, the fd store, the privilege drop, the signals.
 * Return: EXIT_SUCCESS when the loop ended normally.
 */
static int serve(struct event_base *base, struct server *server, struct service_fds *sfds,
		 const struct options *o, struct event *ev[3])
{
	int err;

	if (service_init(base, server_format_status, server) < 0) {
		log_error("out of memory");
		return EXIT_FAILURE;
	}
	/* Restart without loss: buffers and state from the fd store. */
	err = fdstore_setup(server, o->fdstore_max, sfds->fds, sfds->names, sfds->n);
	if (err < 0)
		log_error("fd store disabled: %s; buffers will not survive a restart",
			  strerror(-err));
	service_fds_free(sfds);
	/* After the fd store's buffers are back at their placements. */
	server_teach_pools(server);
	if (o->user) {
		err = service_drop_privileges(o->user);
		if (err < 0) {
			log_error("cannot drop privileges to user %s: %s", o->user, strerror(-err));
			return EXIT_FAILURE;
		}
	}
	if (install_signals(base, server, ev) < 0)
		return EXIT_FAILURE;
	log_serving(server);
	if (service_notify_ready() < 0) /* READY=1, STATUS=, watchdog */
		log_warn("cannot arm the watchdog timer");
	if (event_base_dispatch(base) < 0) {
		log_error("event loop failed");
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct options o = { .fdstore_max = FDSTORE_DEFAULT_MAX };
	struct config_source src = { 0 };
	struct config cfg = { 0 };
	struct server_limits limits = SERVER_LIMITS_DEFAULT;
	struct event_base *base = NULL;
	struct event *ev[3] = { NULL, NULL, NULL };
	struct service_fds sfds = { .listen_fd = -1 };
	struct backend *active[PROBE_MAX_BACKENDS];
	size_t nactive = 0;
	struct server server;
	struct probe_report probe;
	const char *socket_path;
	mode_t socket_mode;
	uint64_t nofile;
	int err, ret = EXIT_FAILURE;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	service_log_setup(o.log_target, o.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (load_config(&o, &src, &cfg) != 0)
		return 2;
	if (cfg.pool_nclasses && !cfg.pool_budget)
		log_warn("pool classes are configured but the pool budget is 0: no pool");
	socket_mode = cfg.socket_mode;
	limits.max_clients = cfg.max_clients;
	limits.max_buffers = cfg.max_buffers;

	signal(SIGPIPE, SIG_IGN);
	nofile = raise_fd_limit();

	err = choose_backends(&cfg, active, &nactive, &probe);
	if (err != 0) {
		config_finish(&cfg);
		return err;
	}
	base = event_base_new();
	if (!base) {
		log_error("cannot create the event loop");
		destroy_backends(active, nactive);
		config_finish(&cfg);
		return EXIT_FAILURE;
	}
	if (start_server(&server, base, active, nactive, &limits, &probe) < 0) {
		config_finish(&cfg);
		goto out;
	}
	/* The server takes the configuration; socket_path etc. now point into it. */
	server_apply_config(&server, &cfg);
	server.config_source = &src;
	server_set_fd_budget(&server, nofile,
			     server.config.pool_budget ? POOL_MAX_CLASSES * POOL_MAX_DEPTH : 0);
	socket_path = server.config.socket_path ? server.config.socket_path : DMABUFD_DEFAULT_SOCKET;
	if (start_listening(&server, &sfds, socket_path, socket_mode) == 0)
		ret = serve(base, &server, &sfds, &o, ev);

	service_notify_stopping();
	fdstore_finish(&server); /* freeze the store before releasing */
	server_finish(&server);
	service_finish();
out:
	for (size_t i = 0; i < 3; i++)
		if (ev[i])
			event_free(ev[i]);
	service_fds_free(&sfds);
	event_base_free(base);
	return ret;
}
