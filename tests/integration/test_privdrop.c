/* SPDX-License-Identifier: MIT */
/*
 * --user drops privileges after the backend and the socket are
 * set up: the daemon then runs with the user's uid/gid (real, effective,
 * saved), no supplementary groups and no capabilities, and still serves.
 * Needs root to start with; exits 77 otherwise.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* The value of "@key:" in /proc/<pid>/status, whitespace squeezed. */
static void proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			size_t n = 0;
			bool space = false;

			for (char *p = line + klen + 1; *p && *p != '\n' && n + 1 < len; p++) {
				if (*p == ' ' || *p == '\t') {
					space = n > 0;
					continue;
				}
				if (space)
					out[n++] = ' ';
				space = false;
				out[n++] = *p;
			}
			out[n] = '\0';
			break;
		}
	}
	fclose(f);
}

static void test_drop_to_nobody(void **state)
{
	const char *args[] = { "--user", "nobody", NULL };
	struct passwd *pw = getpwnam("nobody");
	char want[64], got[128];
	struct daemon_proc d;
	Dmabufd__Reply *r;
	int sock, fd = -1;

	assert_non_null(pw);
	assert_int_equal(daemon_start(&d, args), 0);
	/*
	 * daemon_start() returns once the socket accepts connections, which it
	 * does before the daemon drops privileges (daemon/main.c: listen,
	 * service_drop_privileges(), then the event loop). A reply comes from
	 * the event loop, so after the Hello round trip the drop is done.
	 * (Under valgrind the gap between the two is wide enough to see.)
	 */
	sock = raw_connect_hello(d.socket);
	assert_true(sock >= 0);
	snprintf(want, sizeof(want), "%u %u %u %u", pw->pw_uid, pw->pw_uid, pw->pw_uid,
		 pw->pw_uid);
	proc_status(d.pid, "Uid", got, sizeof(got));
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "%u %u %u %u", pw->pw_gid, pw->pw_gid, pw->pw_gid,
		 pw->pw_gid);
	proc_status(d.pid, "Gid", got, sizeof(got));
	assert_string_equal(got, want);
	proc_status(d.pid, "Groups", got, sizeof(got));
	assert_string_equal(got, "");
	proc_status(d.pid, "CapEff", got, sizeof(got));
	assert_string_equal(got, "0000000000000000");
	proc_status(d.pid, "CapPrm", got, sizeof(got));
	assert_string_equal(got, "0000000000000000");

	/* Still serving: the listening socket and the memfd backend need no privilege. */
	r = raw_alloc(sock, 2, 4096, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "dropped", &fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_true(fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	close(sock);
	assert_int_equal(daemon_stop(&d), 0);
}

static void test_unknown_user_refused(void **state)
{
	const char *args[] = { "--user", "no-such-user-dmabufd-test", NULL };
	struct daemon_proc d;

	int err, status;

	/*
	 * The daemon exits instead of serving with privileges it was told to
	 * drop. Its socket listens before the drop, so the harness may see it
	 * come up first; either way it must exit with a failure status.
	 */
	err = daemon_start(&d, args);
	if (err == 0) {
		assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
		assert_true(WIFEXITED(status));
		assert_int_not_equal(WEXITSTATUS(status), 0);
		d.pid = 0;
		unlink(d.socket);
	} else {
		assert_int_equal(err, -ECHILD);
	}
	rmdir(d.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_to_nobody),
		cmocka_unit_test(test_unknown_user_refused),
	};

	if (geteuid() != 0 || !getpwnam("nobody")) {
		printf("needs root and a user 'nobody'\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
