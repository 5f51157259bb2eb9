/* SPDX-License-Identifier: MIT */
/*
 * Limits that keep one admitted uid from starving the others: the
 * buffers' share of the daemon's file descriptors (each live buffer holds
 * one), connections per uid, the connection slots kept for administrators,
 * and the Hello deadline. docs/THREAT_MODEL.md lists them all.
 */
#ifndef DMABUFD_LIMIT_H
#define DMABUFD_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "types.h"

/*
 * fds the daemon keeps for itself besides one per connection: stdio, the
 * listening socket, the journal, the event loop (epoll, signal pipe,
 * timers), backend devices, the fd store's state memfd, the spare fd,
 * short-lived opens (/proc, the configuration file).
 */
#define FD_RESERVE_BASE 64u

/* The fd budget when none was computed (in-process servers: fuzz, unit tests). */
#define FD_BUDGET_UNSET ((struct fd_budget){ .budget = UINT32_MAX, .per_uid = UINT32_MAX })

/**
 * fd_budget_compute() - how many live buffers the daemon may hold.
 * @nofile: RLIMIT_NOFILE (the soft limit once raised to the hard one)
 * @max_clients: connections ([daemon] max-clients), one fd each
 * @pool_fds: fds the pre-zeroed pools may hold (0: no pool)
 * @ret: reserve = FD_RESERVE_BASE + @max_clients + @pool_fds; budget =
 * @nofile - reserve, but at least a quarter of @nofile (a limit too low
 * for max-clients still leaves buffers; fd_budget_low() says so);
 * per_uid is left 0 (fd_budget_set_uid_share()).
 */
void fd_budget_compute(uint64_t nofile, uint32_t max_clients, uint32_t pool_fds,
		       struct fd_budget *ret);

/** fd_budget_low() - true when @b's reserve did not fit in its RLIMIT_NOFILE. */
bool fd_budget_low(const struct fd_budget *b);

/**
 * fd_budget_set_uid_share() - the live buffers one uid may own: @configured
 * ([limits] max-buffers-per-uid), or with 0 the budget divided by
 * @expected_uids (at least 1); never more than the budget.
 */
void fd_budget_set_uid_share(struct fd_budget *b, uint32_t configured, uint32_t expected_uids);

/**
 * limits_check_buffers() - may @c own one more buffer? Checks its uid's
 * share of the fd budget, then the budget itself. Both count one fd per
 * live buffer, one per held buffer that keeps a daemon fd (dma-heap,
 * udmabuf; buffer.h) and one per fd held by a queued reply. (The per-client count,
 * [daemon] max-buffers-per-client, is alloc.c's.)
 * Return: 0; -EDQUOT (max-buffers-per-uid) or -ENFILE (the budget is all
 * in use), with *@reason naming the limit, its value and its key (in
 * c->reason).
 */
int limits_check_buffers(struct client *c, const char **reason);

/**
 * limits_admit_connection() - may one more connection of @uid be served?
 * Non-administrators get max-clients - admin-connections slots (at least
 * one) and max-connections-per-uid each; administrators
 * (policy_is_admin()) get every slot up to max-clients.
 * Return: 0, or -EUSERS with the reason in @reason (@len bytes).
 */
int limits_admit_connection(struct server *s, uid_t uid, char *reason, size_t len);

/**
 * limits_log_refusal() - log a refused connection, at most once a second
 * (a flood of refusals must not flood the journal); the refusals not
 * logged are counted in the next message.
 */
void limits_log_refusal(struct server *s, const char *reason);

#endif
