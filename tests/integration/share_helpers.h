/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the sharing/policy integration tests: a daemon started with a
 * configuration file, the sharing requests on a raw socket, and children
 * that run as another uid/gid (fork + setgroups/setresgid/setresuid).
 */
#ifndef DMABUFD_TEST_SHARE_HELPERS_H
#define DMABUFD_TEST_SHARE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "harness.h"

/* Test identities (no passwd entries needed: the daemon uses numbers). */
#define UID_A 5001u
#define UID_B 5002u
#define UID_C 5003u
#define GID_A 5001u
#define GID_B 5002u
#define GID_C 5003u
#define GID_SHARED 4242u  /* a supplementary group */

/*
 * Exits 77 (skipped) unless running as root: the tests change uid.
 */
void require_root(void);

/*
 * Writes @conf_text to a fresh file, starts the daemon with
 * "--config FILE --socket-mode 0666" plus @extra_args, and opens the
 * temporary directory to other uids. *ret_conf receives the file's path
 * (static storage in @conf_path, 128 bytes).
 * Return: 0 or a negative errno.
 */
int daemon_start_conf(struct daemon_proc *d, const char *conf_text, const char *const *extra_args,
		      char conf_path[128]);
/* Rewrites the config file. Return: 0 or -errno. */
int write_conf(const char *path, const char *conf_text);
/* daemon_stop() and removes the config file. */
int daemon_stop_conf(struct daemon_proc *d, const char *conf_path);

/* Runs @fn(@arg) in a child as @uid/@gid with @groups; returns its exit
 * status (0 = all checks passed) or 1000 + signal. */
int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *), void *arg);
/* Forks a child as above without waiting; returns its pid or -errno. */
pid_t spawn_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *),
	       void *arg);
/* Waits for @pid; returns its exit status or 1000 + signal. */
int wait_child(pid_t pid);

/* In a child: check @cond, else print and exit with the line number. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			_exit(__LINE__ % 200 + 1);                             \
		}                                                              \
	} while (0)

/* Share, Import, Unshare, Revoke, Accounting, sent raw. All return the
 * unpacked reply (or NULL). */
Dmabufd__Reply *raw_share(int sock, uint64_t id, uint64_t buffer_id, const uint32_t *uids,
			  size_t nuids, const uint32_t *gids, size_t ngids, const int32_t *pids,
			  size_t npids, bool single_use, uint32_t expiry_sec);
Dmabufd__Reply *raw_import(int sock, uint64_t id, const uint8_t *token, size_t len, int *ret_fd);
Dmabufd__Reply *raw_unshare(int sock, uint64_t id, const uint8_t *token, size_t len);
Dmabufd__Reply *raw_revoke(int sock, uint64_t id, uint64_t buffer_id);
Dmabufd__Reply *raw_list(int sock, uint64_t id, uint64_t start_after);
Dmabufd__Reply *raw_accounting(int sock, uint64_t id, int kind, uint64_t start_after);

/* The reply's error, freeing it; INT32_MIN when @r is NULL. */
int reply_errno(Dmabufd__Reply *r);

/* Connects (with Hello) or returns -errno; retries EINTR. Also checks that a
 * refused peer gets the daemon's refusal: see connect_expect_refusal(). */
int connect_as_client(const char *path);
/* Connects without sending anything and reads the refusal the daemon sends
 * to a peer its access policy refuses. Returns the error it carried (e.g.
 * -EACCES), 0 if the daemon did not refuse, or -errno. */
int connect_expect_refusal(const char *path, char *reason, size_t reason_len);

/* Polls Stats until @pred holds (up to 5 s). Returns the last reply (caller
 * frees) or NULL. */
Dmabufd__Reply *wait_stats(const char *path, bool (*pred)(const Dmabufd__StatsReply *));

/* Sleeps @ms milliseconds. */
void sleep_ms(unsigned ms);

#endif
