/* SPDX-License-Identifier: MIT */
/*
 * Journal logging. In a private mount namespace a datagram socket
 * stands in for journald at /run/systemd/journal/socket (the address
 * sd_journal_send(3) writes to). dmabufd, started with $JOURNAL_STREAM
 * naming its stderr, must log there in the native protocol with
 * structured fields (MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=, BUFFER_ID=,
 * CLIENT_PID=...); with a $JOURNAL_STREAM that does not match its stderr
 * it must log to stderr instead.
 * Exits 77 without the privilege to create a mount namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static int journal_fd = -1;

/* Starts dmabufd -v on @sock with stderr = @err_fd and $JOURNAL_STREAM = @stream. */
static pid_t start_daemon(const char *sock, int err_fd, const char *stream)
{
	const char *argv[24];
	char *wrap_copy;
	ssize_t n = daemon_argv_prefix(argv, 16, &wrap_copy);
	pid_t pid;

	assert_true(n > 0);
	argv[n++] = "-v";
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(err_fd, STDERR_FILENO);
		if (stream)
			setenv("JOURNAL_STREAM", stream, 1);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap_copy);
	return pid;
}

static int wait_connect(const char *sock)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < daemon_start_timeout_ms() / 10; i++) {
		int s = raw_connect_hello(sock);

		if (s >= 0)
			return s;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Value of @key in a native-protocol datagram (text fields only). */
static bool field(const char *msg, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "\n");

			if (n >= len)
				n = len - 1;
			memcpy(out, p + klen + 1, n);
			out[n] = '\0';
			return true;
		}
	}
	return false;
}

/* Waits for a journal entry whose MESSAGE contains @needle; copies it. */
static bool wait_entry(const char *needle, char *ret, size_t len, int timeout_ms)
{
	char msg[4096], value[1024];

	for (int waited = 0; waited < timeout_ms; waited += 100) {
		struct pollfd p = { .fd = journal_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(journal_fd, msg, sizeof(msg) - 1, 0);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		if (field(msg, "MESSAGE", value, sizeof(value)) && strstr(value, needle)) {
			snprintf(ret, len, "%s", msg);
			return true;
		}
	}
	return false;
}

static void alloc_release(int s)
{
	Dmabufd__Reply *r;
	int fd = -1;

	r = raw_alloc(s, 2, 8192, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "journal-test", &fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->alloc->buffer_id, 1);
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	r = raw_release(s, 3, 1);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
}

static void test_journal_fields(void **state)
{
	char dir[] = "/tmp/dmabufd-journal-XXXXXX", sock[128], entry[4096], v[256], stream[64];
	int pipefd[2], s, status;
	struct stat st;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	/* stderr is a pipe; $JOURNAL_STREAM names exactly that pipe. */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(fstat(pipefd[1], &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	pid = start_daemon(sock, pipefd[1], stream);
	close(pipefd[1]);
	s = wait_connect(sock);
	assert_true(s >= 0);
	alloc_release(s);

	assert_true(wait_entry("buffer 1 released", entry, sizeof(entry), 5000));
	assert_true(field(entry, "BUFFER_ID", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_true(field(entry, "BUFFER_SIZE", v, sizeof(v)));
	assert_string_equal(v, "8192");
	assert_true(field(entry, "BUFFER_LABEL", v, sizeof(v)));
	assert_string_equal(v, "journal-test");
	assert_true(field(entry, "CLIENT_PID", v, sizeof(v)));
	assert_int_equal(atoi(v), getpid());
	assert_true(field(entry, "OWNER_UID", v, sizeof(v)));
	assert_int_equal(atoi(v), (int)getuid());
	assert_true(field(entry, "PRIORITY", v, sizeof(v)));
	assert_string_equal(v, "7");
	assert_true(field(entry, "SYSLOG_IDENTIFIER", v, sizeof(v)));
	assert_string_equal(v, "dmabufd");

	close(s);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Nothing went to stderr: the journal took every message. */
	{
		char buf[256];

		assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 0);
	}
	close(pipefd[0]);
	unlink(sock);
	rmdir(dir);
}

static void test_stderr_when_not_journal(void **state)
{
	char dir[] = "/tmp/dmabufd-journal-XXXXXX", sock[128], entry[4096], buf[8192];
	int pipefd[2], s, status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	/* A $JOURNAL_STREAM left over from a parent: not our stderr. */
	pid = start_daemon(sock, pipefd[1], "1:1");
	close(pipefd[1]);
	s = wait_connect(sock);
	assert_true(s >= 0);
	alloc_release(s);
	close(s);
	assert_false(wait_entry("released", entry, sizeof(entry), 500));
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	while ((n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	assert_non_null(strstr(buf, "debug: buffer 1 released"));
	close(pipefd[0]);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_fields),
		cmocka_unit_test(test_stderr_when_not_journal),
	};
	struct stat st;

	/* A private /run/systemd: the host's journald (if any) is never touched. */
	if (stat("/run/systemd", &st) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run/systemd", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
		printf("cannot set up a private /run/systemd (%s); skipping\n", strerror(errno));
		return 77;
	}
	if (mkdir("/run/systemd/journal", 0755) < 0)
		return 1;
	journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(addr.sun_path, JOURNAL_SOCKET);
	if (journal_fd < 0 || bind(journal_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
