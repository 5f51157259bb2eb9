/* SPDX-License-Identifier: MIT */
/*
 * Integration-test harness: starts the real dmabufd binary on a socket in
 * a fresh temporary directory, and speaks the raw protocol to it.
 */
#ifndef DMABUFD_TEST_HARNESS_H
#define DMABUFD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmabufd.pb-c.h"

struct daemon_proc {
	pid_t pid;
	char dir[64];       /* temporary directory */
	char socket[128];   /* socket path inside it */
};

/*
 * The command line that runs the daemon under test, for every test that
 * starts it (daemon_start(), sdmgr.c, test_journal, test_socket_activation):
 * fills @argv with the words of $DMABUFD_TEST_WRAPPER (a command line split
 * at spaces/tabs, e.g. "valgrind --error-exitcode=99 --leak-check=full";
 * the daemon's exit status is then the wrapper's), then the daemon binary
 * ($DMABUFD_TEST_DAEMON, else the one built). The caller appends its
 * arguments and the terminating NULL after the returned count.
 * @max: room in @argv for the prefix (must leave 1 more for a NULL).
 * @ret_buf: set to the heap copy @argv points into (NULL without a
 * wrapper); free() it once the argv is no longer needed (after fork()).
 * Return: the number of entries written, -E2BIG (@max too small) or -ENOMEM.
 */
ssize_t daemon_argv_prefix(const char **argv, size_t max, char **ret_buf);
/*
 * How long (ms) a test should wait for the daemon to come up: 10 s, or 60 s
 * under $DMABUFD_TEST_WRAPPER (valgrind starts slowly).
 */
int daemon_start_timeout_ms(void);

/*
 * Starts dmabufd with "--socket <tmp>/socket", "--backend $DMABUFD_TEST_BACKEND"
 * when that is set, then the NULL-terminated @extra_args, through
 * daemon_argv_prefix(); waits (daemon_start_timeout_ms()) until it accepts
 * connections.
 * Return: 0, or a negative errno: -EINVAL when DMABUFD_TEST_BACKEND is set
 * and @extra_args name another backend (--backend/-b), which would win;
 * otherwise the daemon could not start.
 */
int daemon_start(struct daemon_proc *d, const char *const *extra_args);
/* Sends SIGTERM, waits; returns the exit status (or -1 if signalled). */
int daemon_stop(struct daemon_proc *d);
/* Number of open fds of @pid (/proc/<pid>/fd), or -1. */
int count_fds(pid_t pid);

/* Prints @pid's open fds and what they point at to stderr (diagnostics). */
void dump_fds(pid_t pid);

/* A raw SOCK_SEQPACKET connection (no Hello). Returns the fd or -errno. */
int raw_connect(const char *path);
/* Packs and sends @req (with optional fds). Returns 0 or -errno. */
int raw_send(int sock, const Dmabufd__Request *req, const int *fds, size_t nfds);
/*
 * Receives one Reply, waiting up to @timeout_ms. Any fd that came with it is
 * stored in *ret_fd (or -1; pass NULL to close it). Returns the unpacked
 * reply (free with dmabufd__reply__free_unpacked(r, NULL)) or NULL on
 * timeout/EOF/garbage.
 */
Dmabufd__Reply *raw_recv(int sock, int timeout_ms, int *ret_fd);
/* True if the peer closed the connection within @timeout_ms. */
int raw_wait_closed(int sock, int timeout_ms);
/* Sends Hello and checks the reply; returns the socket or -errno. */
int raw_connect_hello(const char *path);
/*
 * As raw_connect_hello(), and hands the Hello reply (r->hello: backend,
 * attributes, contiguous, region_size, max_alloc, page_size...) to
 * *ret_hello (free with dmabufd__reply__free_unpacked(r, NULL)); untouched
 * on failure. For tests that derive what to expect from what the daemon's
 * backend offers.
 */
int raw_connect_hello_reply(const char *path, Dmabufd__Reply **ret_hello);
/*
 * Connects with Hello and waits (up to @timeout_ms) until Stats reports this
 * connection as the daemon's only client, so that every earlier connection
 * (the readiness probe, closed test clients) has been torn down. For stable
 * fd-count baselines: count with this socket open, compare with one open.
 * Returns the socket or -errno (-ETIMEDOUT: others stayed connected).
 */
int raw_connect_alone(const char *path, int timeout_ms);
/* One request/one reply helpers; they wait up to 5 s for the reply. */
Dmabufd__Reply *raw_alloc(int sock, uint64_t id, uint64_t size, int attribute,
			  uint32_t flags, const char *label, int *ret_fd);
/*
 * raw_alloc() waiting up to @timeout_ms for the reply: for allocations whose
 * size makes the backend slow (kmod claims and zeroes every page of a
 * buffer inside the EXPORT ioctl: hundreds of MiB take seconds under TCG).
 */
Dmabufd__Reply *raw_alloc_wait(int sock, uint64_t id, uint64_t size, int attribute,
			       uint32_t flags, const char *label, int timeout_ms, int *ret_fd);
Dmabufd__Reply *raw_release(int sock, uint64_t id, uint64_t buffer_id);
Dmabufd__Reply *raw_stats(int sock, uint64_t id);

#endif
