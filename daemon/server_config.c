/* SPDX-License-Identifier: MIT */
/*
 * The server's configuration: the first one taken whole, a reload
 * (SIGHUP) taking what can change while running and keeping the rest,
 * the pools taught their configured classes, and the fd budget computed
 * from RLIMIT_NOFILE (docs/CONFIG.md, docs/THREAT_MODEL.md).
 */
#include "server.h"
#include "server_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "config.h"
#include "kpool.h"
#include "limit.h"
#include "log.h"
#include "macros.h"
#include "policy.h"

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

void server_apply_config(struct server *s, struct config *c)
{
	struct config *cur = &s->config;

	if (s->config_applied && (str_differs(cur->socket_path, c->socket_path) ||
			    str_differs(cur->backend, c->backend) || cur->capacity != c->capacity ||
			    cur->socket_mode != c->socket_mode))
		log_warn("socket, backend, capacity and socket-mode changes take effect only "
			 "after a restart; keeping the running values");
	if (s->config_applied && (cur->pool_budget != c->pool_budget ||
				  cur->pool_nclasses != c->pool_nclasses ||
				  memcmp(cur->pool_classes, c->pool_classes,
					 c->pool_nclasses * sizeof(c->pool_classes[0])) != 0))
		log_warn("[pool] changes take effect only after a restart; keeping the running "
			 "pools");
	if (!s->config_applied) {
		/* First configuration: take all of it. */
		free(cur->socket_path);
		free(cur->backend);
		cur->socket_path = TAKE_PTR(c->socket_path);
		cur->backend = TAKE_PTR(c->backend);
		cur->capacity = c->capacity;
		cur->socket_mode = c->socket_mode;
		cur->pool_budget = c->pool_budget;
		memcpy(cur->pool_classes, c->pool_classes, sizeof(cur->pool_classes));
		cur->pool_nclasses = c->pool_nclasses;
	}
	policy_free(cur->policy);
	cur->policy = TAKE_PTR(c->policy);
	cur->max_clients = c->max_clients;
	cur->max_buffers = c->max_buffers;
	s->limits.max_clients = c->max_clients;
	s->limits.max_buffers = c->max_buffers;
	s->limits.hello_timeout_ms = c->hello_timeout_sec * 1000;
	s->limits.max_connections_per_uid = c->max_connections_per_uid;
	s->limits.admin_connections = c->admin_connections;
	cur->hello_timeout_sec = c->hello_timeout_sec;
	cur->max_connections_per_uid = c->max_connections_per_uid;
	cur->admin_connections = c->admin_connections;
	cur->max_buffers_per_uid = c->max_buffers_per_uid;
	cur->expected_uids = c->expected_uids;
	fd_budget_set_uid_share(&s->fd_budget, c->max_buffers_per_uid, c->expected_uids);
	s->config_applied = true;
	config_finish(c);
}

void server_teach_pools(struct server *s)
{
	const struct config *c = &s->config;

	for (unsigned b = 0; b < s->nbackends; b++) {
		struct server_backend *sb = &s->backends[b];

		if (!sb->kpool)
			continue;
		for (unsigned i = 0; i < c->pool_nclasses; i++) {
			const struct config_pool_class *pc = &c->pool_classes[i];
			int err = kpool_teach(sb->kpool, pc->size, pc->attribute);

			if (err == -EOPNOTSUPP)
				log_info("pool of %s: the backend makes no %s buffers; the %" PRIu64
					 "-byte class of that attribute is left out", sb->caps.name,
					 attr_name(pc->attribute), pc->size);
			else if (err < 0)
				log_warn("pool of %s: %" PRIu64 "-byte %s class left out: larger than "
					 "the pool's budget (%" PRIu64 " bytes) or the region "
					 "(%" PRIu64 " bytes)", sb->caps.name, pc->size,
					 attr_name(pc->attribute), sb->caps.placed_pool_budget,
					 sb->caps.region_size);
			else
				log_info("pool of %s: making %" PRIu64 "-byte %s buffers from the start",
					 sb->caps.name, pc->size, attr_name(pc->attribute));
		}
	}
}

void server_set_fd_budget(struct server *s, uint64_t nofile, uint32_t pool_fds)
{
	struct fd_budget *b = &s->fd_budget;

	fd_budget_compute(nofile, s->limits.max_clients, pool_fds, b);
	fd_budget_set_uid_share(b, s->config.max_buffers_per_uid, s->config.expected_uids);
	if (fd_budget_low(b))
		log_warn("RLIMIT_NOFILE %" PRIu64 " is too low for [daemon] max-clients = %u: "
			 "%u fds wanted for connections and the daemon", nofile,
			 s->limits.max_clients, b->reserve);
	log_info("fd budget: RLIMIT_NOFILE %" PRIu64 ", %u kept for connections and the daemon, "
		 "%u for buffers, %u per uid ([limits] max-buffers-per-uid%s)", nofile, b->reserve,
		 b->budget, b->per_uid,
		 s->config.max_buffers_per_uid ? "" : " = auto: budget / expected-uids");
}

int server_reload_config(struct server *s)
{
	const struct config_source *src = s->config_source;
	struct config c;
	int err;

	if (!src)
		return -EBADF;
	log_info("reloading %s", src->path);
	err = config_load(src->path, src->must_exist, &c);
	if (err < 0) {
		log_error("reload failed; the previous configuration stays in force");
		s->share_counters.config_reload_failures++;
		return err;
	}
	err = config_apply_overrides(&c, &src->overrides);
	if (err < 0) {
		log_error("reload failed (command-line overrides); the previous configuration stays in force");
		s->share_counters.config_reload_failures++;
		config_finish(&c);
		return err;
	}
	server_apply_config(s, &c);
	s->share_counters.config_reloads++;
	log_info("configuration reloaded");
	return 0;
}
