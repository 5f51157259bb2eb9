/* SPDX-License-Identifier: MIT */
/*
 * A fake service manager for integration tests: it owns the
 * listening socket and a $NOTIFY_SOCKET datagram socket, starts dmabufd
 * with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (sd_listen_fds(3)) and
 * WATCHDOG_USEC/WATCHDOG_PID, reads its sd_notify(3) messages, and keeps
 * an fd store as systemd does: FDSTORE=1 + FDNAME= adds the SCM_RIGHTS
 * fds, FDSTOREREMOVE=1 + FDNAME= closes every fd of that name.
 */
#ifndef DMABUFD_TEST_SDMGR_H
#define DMABUFD_TEST_SDMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SDMGR_STORE_MAX 512

struct sdmgr_stored {
	int fd;
	char name[64];
};

struct sdmgr {
	char dir[64];
	char notify_path[128];
	char socket_path[128];
	int notify_fd;
	int listen_fd;
	pid_t pid;                       /* the daemon, or 0 */
	struct sdmgr_stored store[SDMGR_STORE_MAX];
	size_t nstore;
	unsigned nstore_msgs, nremove_msgs; /* counters of FDSTORE/FDSTOREREMOVE */
	char last_status[256];           /* last STATUS= value */
};

/* Creates the directory, the notify socket and the listening socket. Return 0/-errno. */
int sdmgr_init(struct sdmgr *m);
/* Stops the daemon if running, closes everything, removes the directory. */
void sdmgr_finish(struct sdmgr *m);

/*
 * Starts dmabufd with @args (NULL-terminated, after argv[0]). Passes the
 * listening socket as fd 3 named "listen" followed by the stored fds when
 * @pass_store. @watchdog_usec > 0 sets WATCHDOG_USEC/WATCHDOG_PID.
 * Return: 0 or -errno.
 */
int sdmgr_start(struct sdmgr *m, const char *const *args, bool pass_store,
		unsigned long long watchdog_usec);

/*
 * Receives notify messages (processing FDSTORE/FDSTOREREMOVE/STATUS) until
 * one has a line beginning with @line_prefix; copies that message to
 * @ret_msg. Return: 0, -ETIMEDOUT after @timeout_ms, -ECHILD if the daemon
 * exited.
 */
int sdmgr_wait(struct sdmgr *m, const char *line_prefix, int timeout_ms, char *ret_msg,
	       size_t len);

/* Processes every message already queued (non-blocking). Return: number handled. */
int sdmgr_drain(struct sdmgr *m);

/* SIGTERM the daemon, wait for it, drain its last messages. Return: exit status or -1. */
int sdmgr_stop(struct sdmgr *m);

/* The stored fd named @name, or -1. */
int sdmgr_stored_fd(const struct sdmgr *m, const char *name);

#endif
