/* SPDX-License-Identifier: MIT */
#include "sdmgr.h"
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sdmgr_init(struct sdmgr *m)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int one = 1;

	memset(m, 0, sizeof(*m));
	m->notify_fd = m->listen_fd = -1;
	snprintf(m->dir, sizeof(m->dir), "/tmp/dmabufd-sdmgr-XXXXXX");
	if (!mkdtemp(m->dir))
		return -errno;
	snprintf(m->notify_path, sizeof(m->notify_path), "%s/notify", m->dir);
	snprintf(m->socket_path, sizeof(m->socket_path), "%s/socket", m->dir);

	m->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m->notify_fd < 0)
		return -errno;
	if (strlen(m->notify_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, m->notify_path, strlen(m->notify_path) + 1);
	if (bind(m->notify_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	setsockopt(m->notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));

	m->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0)
		return -errno;
	if (strlen(m->socket_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, m->socket_path, strlen(m->socket_path) + 1);
	if (bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(m->listen_fd, 16) < 0)
		return -errno;
	return 0;
}

static void store_remove(struct sdmgr *m, const char *name)
{
	size_t j = 0;

	for (size_t i = 0; i < m->nstore; i++) {
		if (strcmp(m->store[i].name, name) == 0) {
			close(m->store[i].fd);
			continue;
		}
		m->store[j++] = m->store[i];
	}
	m->nstore = j;
}

/* Value of "KEY=" in a newline-separated message, copied to @out. */
static bool msg_field(const char *msg, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0) {
			size_t n = strcspn(p + klen, "\n");

			if (n >= len)
				n = len - 1;
			memcpy(out, p + klen, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

static bool msg_has_line(const char *msg, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, plen) == 0)
			return true;
	return false;
}

/* Receives and processes one message. Return: length, or -errno. */
static int recv_one(struct sdmgr *m, char *buf, size_t len, int flags)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 64) + CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;
	struct iovec iov = { buf, len - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int fds[64];
	size_t nfds = 0;
	char name[64], value[256];
	ssize_t n = recvmsg(m->notify_fd, &mh, MSG_CMSG_CLOEXEC | flags);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			memcpy(fds + nfds, CMSG_DATA(c), k * sizeof(int));
			nfds += k;
		}
	}
	if (msg_has_line(buf, "FDSTORE=1")) {
		m->nstore_msgs++;
		if (!msg_field(buf, "FDNAME=", name, sizeof(name)))
			snprintf(name, sizeof(name), "stored");
		for (size_t i = 0; i < nfds; i++) {
			if (m->nstore < SDMGR_STORE_MAX) {
				m->store[m->nstore].fd = fds[i];
				snprintf(m->store[m->nstore].name, sizeof(m->store[0].name), "%s", name);
				m->nstore++;
			} else {
				close(fds[i]);
			}
		}
		nfds = 0;
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (msg_has_line(buf, "FDSTOREREMOVE=1") && msg_field(buf, "FDNAME=", name, sizeof(name))) {
		m->nremove_msgs++;
		store_remove(m, name);
	}
	if (msg_field(buf, "STATUS=", value, sizeof(value)))
		snprintf(m->last_status, sizeof(m->last_status), "%s", value);
	return (int)n;
}

int sdmgr_drain(struct sdmgr *m)
{
	char buf[4096];
	int n = 0;

	while (recv_one(m, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

int sdmgr_wait(struct sdmgr *m, const char *line_prefix, int timeout_ms, char *ret_msg,
	       size_t len)
{
	struct timespec start;
	char buf[4096];

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = m->notify_fd, .events = POLLIN };
		long left = timeout_ms - elapsed_ms(&start);
		int status;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, left > 100 ? 100 : (int)left) > 0) {
			if (recv_one(m, buf, sizeof(buf), 0) < 0)
				continue;
			if (msg_has_line(buf, line_prefix)) {
				if (ret_msg)
					snprintf(ret_msg, len, "%s", buf);
				return 0;
			}
			continue;
		}
		if (m->pid > 0 && waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			sdmgr_drain(m);
			return -ECHILD;
		}
	}
}

int sdmgr_start(struct sdmgr *m, const char *const *args, bool pass_store,
		unsigned long long watchdog_usec)
{
	const char *argv[32];
	char *wrap_copy;
	ssize_t n = daemon_argv_prefix(argv, 16, &wrap_copy);

	if (n < 0)
		return (int)n;
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	m->pid = fork();
	if (m->pid < 0) {
		int err = -errno;

		free(wrap_copy);
		return err;
	}
	if (m->pid == 0) {
		int fds[1 + SDMGR_STORE_MAX];
		static char names[(1 + SDMGR_STORE_MAX) * 65];
		char env[64];
		size_t nfds = 0, off = 0;

		fds[nfds++] = fcntl(m->listen_fd, F_DUPFD_CLOEXEC, 1000);
		off += (size_t)snprintf(names + off, sizeof(names) - off, "listen");
		for (size_t i = 0; pass_store && i < m->nstore; i++) {
			fds[nfds++] = fcntl(m->store[i].fd, F_DUPFD_CLOEXEC, 1000);
			off += (size_t)snprintf(names + off, sizeof(names) - off, ":%s",
						m->store[i].name);
		}
		for (size_t i = 0; i < nfds; i++)
			if (fds[i] < 0 || dup2(fds[i], 3 + (int)i) < 0)
				_exit(126);
		snprintf(env, sizeof(env), "%zu", nfds);
		setenv("LISTEN_FDS", env, 1);
		snprintf(env, sizeof(env), "%d", (int)getpid());
		setenv("LISTEN_PID", env, 1);
		setenv("LISTEN_FDNAMES", names, 1);
		setenv("NOTIFY_SOCKET", m->notify_path, 1);
		if (watchdog_usec) {
			snprintf(env, sizeof(env), "%llu", watchdog_usec);
			setenv("WATCHDOG_USEC", env, 1);
			snprintf(env, sizeof(env), "%d", (int)getpid());
			setenv("WATCHDOG_PID", env, 1);
		} else {
			unsetenv("WATCHDOG_USEC");
			unsetenv("WATCHDOG_PID");
		}
		unsetenv("JOURNAL_STREAM");
		if (!getenv("DMABUFD_TEST_VERBOSE")) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap_copy);
	return 0;
}

int sdmgr_stop(struct sdmgr *m)
{
	int status = 0;

	if (m->pid <= 0)
		return -1;
	kill(m->pid, SIGTERM);
	waitpid(m->pid, &status, 0);
	m->pid = 0;
	sdmgr_drain(m);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int sdmgr_stored_fd(const struct sdmgr *m, const char *name)
{
	for (size_t i = 0; i < m->nstore; i++)
		if (strcmp(m->store[i].name, name) == 0)
			return m->store[i].fd;
	return -1;
}

void sdmgr_finish(struct sdmgr *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
	for (size_t i = 0; i < m->nstore; i++)
		close(m->store[i].fd);
	m->nstore = 0;
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->notify_fd = m->listen_fd = -1;
	unlink(m->notify_path);
	unlink(m->socket_path);
	rmdir(m->dir);
}
