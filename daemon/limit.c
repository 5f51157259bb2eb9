/* SPDX-License-Identifier: MIT */
/*
 * Limits on fds and connections (limit.h).
 */
#include "limit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "clock.h"
#include "log.h"
#include "policy.h"
#include "reply.h"

void fd_budget_compute(uint64_t nofile, uint32_t max_clients, uint32_t pool_fds,
		       struct fd_budget *ret)
{
	uint64_t reserve = (uint64_t)FD_RESERVE_BASE + max_clients + pool_fds;
	uint64_t budget = nofile > reserve ? nofile - reserve : 0;

	if (budget < nofile / 4)
		budget = nofile / 4;
	if (budget > UINT32_MAX - 1)
		budget = UINT32_MAX - 1;
	*ret = (struct fd_budget){
		.nofile = nofile,
		.reserve = reserve > UINT32_MAX ? UINT32_MAX : (uint32_t)reserve,
		.budget = budget ? (uint32_t)budget : 1,
	};
}

bool fd_budget_low(const struct fd_budget *b)
{
	return b->budget != UINT32_MAX && (uint64_t)b->budget + b->reserve > b->nofile;
}

void fd_budget_set_uid_share(struct fd_budget *b, uint32_t configured, uint32_t expected_uids)
{
	uint32_t share;

	if (b->budget == UINT32_MAX) {
		b->per_uid = configured ? configured : UINT32_MAX;
		return;
	}
	share = configured ? configured : b->budget / (expected_uids ? expected_uids : 1);
	if (share == 0)
		share = 1;
	b->per_uid = share < b->budget ? share : b->budget;
}

/*
 * The daemon fds kept by held buffers (buffer.c) charged to @uid, or to
 * any uid (@any): one each on dma-heap and udmabuf (the polled reference),
 * none on kmod.
 */
static uint32_t held_fds(const struct server *s, bool any, uid_t uid)
{
	const struct held_buffer *h;
	uint32_t n = 0;

	if (s->nheld)
		TAILQ_FOREACH(h, &s->held, link)
			if (h->fd >= 0 && (any || h->uid == uid))
				n++;
	return n;
}

/*
 * The daemon fds of @uid's buffers: one per owned buffer, one per held
 * buffer still charged to it, and the dups held by its connections'
 * queued replies (a client that does not read).
 */
static uint32_t uid_fds(struct server *s, uid_t uid)
{
	const struct account *a = ledger_find(&s->ledger.uids, uid);
	uint32_t held = (a ? a->usage.owned_buffers : 0) + held_fds(s, false, uid);
	const struct client *c;

	if (s->queued_fds)
		TAILQ_FOREACH(c, &s->clients, link)
			if (c->cred.uid == uid)
				held += c->queued_fds;
	return held;
}

int limits_check_buffers(struct client *c, const char **reason)
{
	struct server *s = c->server;
	const struct fd_budget *b = &s->fd_budget;
	uint32_t held = b->per_uid != UINT32_MAX ? uid_fds(s, c->cred.uid) : 0;

	if (b->per_uid != UINT32_MAX && held >= b->per_uid) {
		*reason = reasonf(&c->reason,
				  "limit: [limits] max-buffers-per-uid = %u (uid %u holds %u; one "
				  "daemon fd each)", b->per_uid, (unsigned)c->cred.uid, held);
		return -EDQUOT;
	}
	if (b->budget != UINT32_MAX &&
	    s->registry.count + s->queued_fds + held_fds(s, true, 0) >= b->budget) {
		*reason = reasonf(&c->reason,
				  "limit: buffer fd budget = %u, all in use (RLIMIT_NOFILE %" PRIu64
				  " - %u kept for [daemon] max-clients and the daemon)",
				  b->budget, b->nofile, b->reserve);
		return -ENFILE;
	}
	return 0;
}

int limits_admit_connection(struct server *s, uid_t uid, char *reason, size_t len)
{
	const struct server_limits *l = &s->limits;
	uint32_t slots = l->max_clients;
	uint32_t same_uid = 0;
	const struct client *c;

	if (policy_is_admin(s->config.policy, uid)) {
		if (s->nclients < slots)
			return 0;
		snprintf(reason, len, "too many clients: %u connected, [daemon] max-clients = %u",
			 s->nclients, l->max_clients);
		return -EUSERS;
	}
	slots = l->max_clients > l->admin_connections ? l->max_clients - l->admin_connections : 1;
	if (s->nclients >= slots) {
		snprintf(reason, len,
			 "too many clients: %u connected, [daemon] max-clients = %u of which "
			 "[limits] admin-connections = %u are kept for administrators",
			 s->nclients, l->max_clients, l->admin_connections);
		return -EUSERS;
	}
	TAILQ_FOREACH(c, &s->clients, link)
		if (c->cred.uid == uid)
			same_uid++;
	if (same_uid >= l->max_connections_per_uid) {
		snprintf(reason, len,
			 "too many connections of uid %u: [limits] max-connections-per-uid = %u",
			 (unsigned)uid, l->max_connections_per_uid);
		return -EUSERS;
	}
	return 0;
}

void limits_log_refusal(struct server *s, const char *reason)
{
	uint64_t now = monotonic_usec();

	if (s->refusals_logged_usec && now - s->refusals_logged_usec < 1000000) {
		s->refusals_unlogged++;
		return;
	}
	if (s->refusals_unlogged)
		log_warn("refusing a client: %s (and %" PRIu64 " refusals in the last second not logged)",
			 reason, s->refusals_unlogged);
	else
		log_warn("refusing a client: %s", reason);
	s->refusals_logged_usec = now;
	s->refusals_unlogged = 0;
}
