/* SPDX-License-Identifier: MIT */
/*
 * Socket activation without PID-1 systemd. systemd-socket-activate
 * (package systemd) listens on a SOCK_SEQPACKET socket and starts dmabufd
 * on the first connection; dmabufd must serve that very connection over
 * the inherited socket (sd_listen_fds(3)) and create no socket of its own.
 * Exits 77 when systemd-socket-activate is not installed.
 */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static const char *activate_bin;

static bool exe_is(pid_t pid, const char *suffix)
{
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	n = (ssize_t)strlen(suffix);
	return strlen(target) >= (size_t)n && strcmp(target + strlen(target) - n, suffix) == 0;
}

static void run_activation(const char *fdname_opt)
{
	char dir[] = "/tmp/dmabufd-sa-XXXXXX", sock[128], unused[128];
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	Dmabufd__Reply *r;
	const char *argv[32];
	char *wrap_copy;
	size_t n = 0;
	ssize_t m;
	int s, fd = -1, status;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	snprintf(unused, sizeof(unused), "%s/unused", dir);
	/*
	 * systemd-socket-activate ... [$DMABUFD_TEST_WRAPPER] dmabufd: the
	 * wrapper (valgrind) runs in the same process, so LISTEN_PID still
	 * names the process that serves the socket.
	 */
	argv[n++] = activate_bin;
	argv[n++] = "--seqpacket";
	argv[n++] = "-l";
	argv[n++] = sock;
	if (fdname_opt)
		argv[n++] = fdname_opt;
	m = daemon_argv_prefix(argv + n, 16, &wrap_copy);
	assert_true(m > 0);
	n += (size_t)m;
	argv[n++] = "--socket";
	argv[n++] = unused;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsetenv("NOTIFY_SOCKET");
		if (!getenv("DMABUFD_TEST_VERBOSE")) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap_copy);
	for (int i = 0; i < 500 && access(sock, F_OK) < 0; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(access(sock, F_OK), 0);
	/*
	 * Nobody connected yet: the daemon has not been started. The process
	 * is still systemd-socket-activate (not "not dmabufd": under
	 * $DMABUFD_TEST_WRAPPER the daemon's /proc/<pid>/exe is valgrind's).
	 */
	nanosleep(&ts, NULL);
	assert_true(exe_is(pid, "/systemd-socket-activate"));

	/*
	 * The first connection starts it, and it serves this connection: the
	 * socket-activate process has exec'd the daemon (or its wrapper).
	 */
	s = -1;
	for (int i = 0; s < 0 && i * 5000 < daemon_start_timeout_ms(); i++)
		s = raw_connect_hello(sock);
	assert_true(s >= 0);
	assert_false(exe_is(pid, "/systemd-socket-activate"));
	if (!getenv("DMABUFD_TEST_WRAPPER") || !getenv("DMABUFD_TEST_WRAPPER")[0])
		assert_true(exe_is(pid, "/dmabufd"));
	r = raw_alloc(s, 2, 4096, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "activated", &fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_true(fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	/* It used the inherited socket, never its own --socket path. */
	assert_int_equal(access(unused, F_OK), -1);

	close(fd);
	close(s);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	unlink(sock);
	rmdir(dir);
}

static void test_activation_unnamed(void **state)
{
	run_activation(NULL);
}

static void test_activation_named(void **state)
{
	run_activation("--fdname=listen");
}

int main(void)
{
	static const char *const candidates[] = {
		"/usr/bin/systemd-socket-activate", "/lib/systemd/systemd-socket-activate",
		"/usr/lib/systemd/systemd-socket-activate",
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activation_unnamed),
		cmocka_unit_test(test_activation_named),
	};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], X_OK) == 0)
			activate_bin = candidates[i];
	if (!activate_bin) {
		printf("systemd-socket-activate is not installed\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
