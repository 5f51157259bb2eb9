/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#ifndef DMABUFD_BIN
#error "DMABUFD_BIN must name the daemon binary"
#endif

/*
 * Daemons started and not yet stopped. A test that fails an assertion
 * jumps past its daemon_stop(); the daemon would outlive the test, keep
 * CTest's output pipe open and hang the run. At exit, every one still our
 * child (waitpid() WNOHANG says it is alive, so the pid was not recycled)
 * gets SIGKILL.
 */
static pid_t started[32];

static void kill_leftover_daemons(void)
{
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		if (started[i] > 0 && waitpid(started[i], NULL, WNOHANG) == 0) {
			kill(started[i], SIGKILL);
			waitpid(started[i], NULL, 0);
		}
}

static void track_daemon(pid_t pid, bool add)
{
	static bool registered;

	if (!registered) {
		atexit(kill_leftover_daemons);
		registered = true;
	}
	for (size_t i = 0; i < sizeof(started) / sizeof(started[0]); i++)
		if (add ? started[i] <= 0 : started[i] == pid) {
			started[i] = add ? pid : 0;
			return;
		}
}

ssize_t daemon_argv_prefix(const char **argv, size_t max, char **ret_buf)
{
	const char *wrapper = getenv("DMABUFD_TEST_WRAPPER");
	const char *bin = getenv("DMABUFD_TEST_DAEMON");
	char *save = NULL;
	size_t n = 0;

	*ret_buf = NULL;
	if (max < 2)
		return -E2BIG;
	if (wrapper && wrapper[0]) {
		*ret_buf = strdup(wrapper);
		if (!*ret_buf)
			return -ENOMEM;
		for (char *tok = strtok_r(*ret_buf, " \t", &save); tok;
		     tok = strtok_r(NULL, " \t", &save)) {
			if (n + 2 > max) {
				free(*ret_buf);
				*ret_buf = NULL;
				return -E2BIG;
			}
			argv[n++] = tok;
		}
	}
	/* Another daemon binary or backend: the same tests run in the VM. */
	argv[n++] = bin && bin[0] ? bin : DMABUFD_BIN;
	return (ssize_t)n;
}

int daemon_start_timeout_ms(void)
{
	const char *wrapper = getenv("DMABUFD_TEST_WRAPPER");

	return wrapper && wrapper[0] ? 60000 : 10000;
}

int daemon_start(struct daemon_proc *d, const char *const *extra_args)
{
	const char *argv[32];
	ssize_t n;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char *wrap_copy = NULL;
	int wait_rounds = 1000;
	const char *env_backend = getenv("DMABUFD_TEST_BACKEND");

	memset(d, 0, sizeof(*d));
	/*
	 * DMABUFD_TEST_BACKEND puts "--backend B" before the test's own
	 * arguments; a later --backend/-b of the test's would win and the
	 * test would silently run against another backend. Refuse that (the
	 * same backend named again is harmless).
	 */
	if (env_backend && env_backend[0])
		for (const char *const *a = extra_args; a && *a; a++) {
			bool other = false;

			if (!strcmp(*a, "--backend") || !strcmp(*a, "-b"))
				other = !a[1] || strcmp(a[1], env_backend) != 0;
			else if (!strncmp(*a, "--backend=", 10))
				other = strcmp(*a + 10, env_backend) != 0;
			if (other) {
				fprintf(stderr,
					"daemon_start: the test's arguments name a backend but DMABUFD_TEST_BACKEND=%s\n",
					env_backend);
				return -EINVAL;
			}
		}
	snprintf(d->dir, sizeof(d->dir), "/tmp/dmabufd-test-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->socket, sizeof(d->socket), "%s/socket", d->dir);

	n = daemon_argv_prefix(argv, 16, &wrap_copy);
	if (n < 0)
		return (int)n;
	if (wrap_copy)
		wait_rounds = daemon_start_timeout_ms() / 10;
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	if (env_backend && env_backend[0]) {
		argv[n++] = "--backend";
		argv[n++] = env_backend;
	}
	for (; extra_args && *extra_args && n < 30; extra_args++)
		argv[n++] = *extra_args;
	argv[n] = NULL;

	d->pid = fork();
	if (d->pid < 0) {
		int err = -errno;

		free(wrap_copy);
		return err;
	}
	if (d->pid == 0) {
		if (!getenv("DMABUFD_TEST_VERBOSE")) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap_copy);
	track_daemon(d->pid, true);
	for (int i = 0; i < wait_rounds; i++) {
		int status, fd = raw_connect(d->socket);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		nanosleep(&ts, NULL);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
	return -ETIMEDOUT;
}

int daemon_stop(struct daemon_proc *d)
{
	int status = 0;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	waitpid(d->pid, &status, 0);
	track_daemon(d->pid, false);
	d->pid = 0;
	unlink(d->socket);
	rmdir(d->dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int count_fds(pid_t pid)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

void dump_fds(pid_t pid)
{
	char path[64], target[256];
	DIR *dir;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char link[320];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
	}
	closedir(dir);
}

int raw_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int raw_send(int sock, const Dmabufd__Request *req, const int *fds, size_t nfds)
{
	uint8_t buf[DMABUFD_MAX_MESSAGE];
	size_t len = dmabufd__request__get_packed_size(req);

	if (len > sizeof(buf))
		return -EMSGSIZE;
	dmabufd__request__pack(req, buf);
	if (len == 0) { /* empty Request: send a valid id=0 field */
		buf[0] = 0x08;
		buf[1] = 0;
		len = 2;
	}
	return wire_send(sock, buf, len, fds, nfds);
}

Dmabufd__Reply *raw_recv(int sock, int timeout_ms, int *ret_fd)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int fds[DMABUFD_MAX_FDS];
	size_t nfds = 0;
	unsigned flags;
	long n;

	if (ret_fd)
		*ret_fd = -1;
	if (poll(&p, 1, timeout_ms) <= 0)
		return NULL;
	n = wire_recv(sock, buf, sizeof(buf), fds, DMABUFD_MAX_FDS, &nfds, &flags);
	if (n <= 0 || (flags & WIRE_TRUNCATED)) {
		wire_close_fds(fds, nfds);
		return NULL;
	}
	if (ret_fd && nfds > 0) {
		*ret_fd = fds[0];
		wire_close_fds(fds + 1, nfds - 1);
	} else {
		wire_close_fds(fds, nfds);
	}
	return dmabufd__reply__unpack(NULL, (size_t)n, buf);
}

int raw_wait_closed(int sock, int timeout_ms)
{
	uint8_t buf[DMABUFD_MAX_MESSAGE];
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		long elapsed;

		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			return 0;
		if (poll(&p, 1, (int)(timeout_ms - elapsed)) <= 0)
			return 0;
		/* Drain replies; EOF (0) or reset means closed. */
		long n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
}

int raw_connect_hello(const char *path)
{
	return raw_connect_hello_reply(path, NULL);
}

int raw_connect_hello_reply(const char *path, Dmabufd__Reply **ret_hello)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Hello hello = DMABUFD__HELLO__INIT;
	Dmabufd__Reply *r;
	int sock = raw_connect(path), err;

	if (sock < 0)
		return sock;
	hello.version = DMABUFD__VERSION__VERSION_CURRENT;
	hello.client_name = "harness";
	req.id = 1;
	req.body_case = DMABUFD__REQUEST__BODY_HELLO;
	req.hello = &hello;
	err = raw_send(sock, &req, NULL, 0);
	if (err < 0) {
		close(sock);
		return err;
	}
	r = raw_recv(sock, 5000, NULL);
	if (!r || r->error || r->body_case != DMABUFD__REPLY__BODY_HELLO) {
		err = r && r->error ? r->error : -EPROTO;
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		close(sock);
		return err;
	}
	if (ret_hello)
		*ret_hello = r;
	else
		dmabufd__reply__free_unpacked(r, NULL);
	return sock;
}

Dmabufd__Reply *raw_alloc(int sock, uint64_t id, uint64_t size, int attribute,
			  uint32_t flags, const char *label, int *ret_fd)
{
	return raw_alloc_wait(sock, id, size, attribute, flags, label, 5000, ret_fd);
}

Dmabufd__Reply *raw_alloc_wait(int sock, uint64_t id, uint64_t size, int attribute,
			       uint32_t flags, const char *label, int timeout_ms, int *ret_fd)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;

	a.size = size;
	a.attribute = (Dmabufd__Attribute)attribute;
	a.flags = flags;
	a.label = (char *)(label ? label : "");
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	if (raw_send(sock, &req, NULL, 0) < 0)
		return NULL;
	return raw_recv(sock, timeout_ms, ret_fd);
}

Dmabufd__Reply *raw_release(int sock, uint64_t id, uint64_t buffer_id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;

	rel.buffer_id = buffer_id;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
	req.release = &rel;
	if (raw_send(sock, &req, NULL, 0) < 0)
		return NULL;
	return raw_recv(sock, 5000, NULL);
}

Dmabufd__Reply *raw_stats(int sock, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats st = DMABUFD__STATS__INIT;

	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &st;
	if (raw_send(sock, &req, NULL, 0) < 0)
		return NULL;
	return raw_recv(sock, 5000, NULL);
}

int raw_connect_alone(const char *path, int timeout_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int sock = raw_connect_hello(path);

	if (sock < 0)
		return sock;
	for (int waited = 0;; waited += 20) {
		Dmabufd__Reply *r = raw_stats(sock, 1);
		bool alone = r && !r->error && r->body_case == DMABUFD__REPLY__BODY_STATS &&
			     r->stats->clients == 1;

		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		if (alone)
			return sock;
		if (!r || waited >= timeout_ms) {
			close(sock);
			return r ? -ETIMEDOUT : -EPROTO;
		}
		nanosleep(&ts, NULL);
	}
}
