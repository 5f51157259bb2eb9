/* SPDX-License-Identifier: MIT */
/*
 * The configuration file against the real daemon: every kind of
 * error refuses to start with "FILE:LINE: ..." on stderr; the command line
 * overrides the file; SIGHUP reloads a changed quota under connected
 * clients, and a broken file on reload keeps the old configuration; [pool]
 * fills its classes before any request, is overridden by --pool-budget and
 * is kept over a reload.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"

#ifndef DMABUFD_BIN
#error "DMABUFD_BIN must name the daemon binary"
#endif

#define MiB (1024ull * 1024)

/*
 * Runs the daemon on @conf_text (NULL: a missing file) and expects it to
 * refuse to start: exit status 2 and FILE@want (e.g. ":3: unknown key") on
 * stderr.
 */
static void expect_refusal(const char *conf_text, const char *want)
{
	char path[] = "/tmp/dmabufd-badconf-XXXXXX", sock[64], out[4096] = "", needle[160];
	int fd = mkstemp(path), pfd[2], status;
	size_t len = 0;
	ssize_t n, m;
	const char *argv[24];
	char *wrap_copy;
	pid_t pid;

	assert_true(fd >= 0);
	if (conf_text) {
		assert_int_equal(write(fd, conf_text, strlen(conf_text)), (ssize_t)strlen(conf_text));
	} else {
		unlink(path); /* a --config that does not exist */
	}
	close(fd);
	snprintf(sock, sizeof(sock), "%s.sock", path);
	m = daemon_argv_prefix(argv, 16, &wrap_copy);
	assert_true(m > 0);
	argv[m++] = "--config";
	argv[m++] = path;
	argv[m++] = "--socket";
	argv[m++] = sock;
	argv[m] = NULL;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap_copy);
	close(pfd[1]);
	while (len < sizeof(out) - 1 && (n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(path);
	unlink(sock);
	snprintf(needle, sizeof(needle), "%s%s", path, want);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || !strstr(out, needle))
		fail_msg("wanted exit 2 and \"%s\"; got status %d, stderr:\n%s", needle, status, out);
}

static void test_errors_refuse_start(void **state)
{
	expect_refusal("[daemon]\nsocket-mode = 0660\nbogus = 1\n",
		       ":3: unknown key 'bogus' in [daemon]");
	expect_refusal("# comment\n[daemon]\ncapacity = lots\n",
		       ":3: capacity: 'lots' is not a positive size");
	expect_refusal("[daemon]\nmax-clients = 0\n", ":2: max-clients: '0' is not a positive number");
	expect_refusal("[daemon]\nsocket-mode = 0999\n", ":2: socket-mode: '0999' is not an octal mode");
	expect_refusal("[daemon]\nbackend = floppy\n", ":2: backend: 'floppy' is not one of");
	expect_refusal("[nonsense]\nx = 1\n", ":2: unknown section [nonsense]");
	expect_refusal("[access]\nusers = root no-such-user-here\n",
		       ":2: users: 'no-such-user-here' is not a known user");
	expect_refusal("[access]\ngroups = no-such-group-here\n",
		       ":2: groups: 'no-such-group-here' is not a known group");
	expect_refusal("[quota]\nuid-bytes = 12Q\n", ":2: uid-bytes: '12Q' is not a size");
	expect_refusal("[quota]\nclient-everything = 1\n", ":2: unknown key 'client-everything' in [quota]");
	expect_refusal("[uid:0]\nbytes = 1M\nflavour = 2\n", ":3: unknown key 'flavour' in [uid:0]");
	expect_refusal("[gid:no-such-group-here]\nbytes = 1M\n",
		       ":2: [gid:no-such-group-here]: 'no-such-group-here' is not a known group");
	expect_refusal("[share]\nmax-targets-per-token = 100000\n",
		       ":2: max-targets-per-token: '100000' is not a number between");
	expect_refusal("[daemon]\nmax-clients = 4\nmax-clients = 5\n",
		       ":3: 'max-clients' is given twice in [daemon]");
	expect_refusal("[daemon]\nthis line has no equals sign\n", ":2: syntax error");
	expect_refusal("orphan = 1\n", ":1: 'orphan' is outside any section");
	expect_refusal("[pool]\nclasses = 1M:sparkly\n",
		       ":2: classes: 'sparkly' is not an attribute (cached, write-combine, uncached)");
	expect_refusal("[pool]\nbudget = 1M\nclasses = 2M\n",
		       ":3: classes: 2097152 bytes is larger than the budget (1048576 bytes)");
	{
		char big[400];

		snprintf(big, sizeof(big), "[daemon]\nsocket = /%0300d\n", 0);
		expect_refusal(big, ":2: line longer than");
	}
	/* A missing --config file is an error too (the default path is not). */
	expect_refusal(NULL, ": No such file or directory");
}

/* The shipped, annotated example parses (every key commented out). */
static void test_example_file_starts(void **state)
{
	static const char *const args[] = { "--config", DMABUFD_EXAMPLE_CONF, NULL };
	struct daemon_proc d;

	assert_int_equal(daemon_start(&d, args), 0);
	assert_int_equal(daemon_stop(&d), 0);
}

static void test_empty_file_starts(void **state)
{
	struct daemon_proc d;
	char conf[128];

	assert_int_equal(daemon_start_conf(&d, "# nothing\n\n", NULL, conf), 0);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

static void test_command_line_overrides_file(void **state)
{
	static const char text[] = "[daemon]\n"
				   "max-buffers-per-client = 2\n"
				   "socket-mode = 0600\n"
				   "capacity = 8M\n";
	static const char *const args[] = { "--max-buffers", "3", NULL };
	struct daemon_proc d;
	char conf[128];
	Dmabufd__Reply *r;
	struct stat st;
	int sock;

	assert_int_equal(daemon_start_conf(&d, text, args, conf), 0);
	/* --socket-mode 0666 (from the helper) beat socket-mode = 0600. */
	assert_int_equal(stat(d.socket, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0666);
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_stats(sock, 2);
	assert_non_null(r);
	assert_int_equal(r->stats->capacity, 8 * MiB); /* from the file */
	dmabufd__reply__free_unpacked(r, NULL);
	/* --max-buffers 3 beat max-buffers-per-client = 2. */
	for (int i = 0; i < 4; i++) {
		int fd = -1;

		r = raw_alloc(sock, 3 + (uint64_t)i, 4096, DMABUFD_ATTR_CACHED, 0, "", &fd);
		assert_non_null(r);
		assert_int_equal(r->error, i < 3 ? 0 : -EMFILE);
		dmabufd__reply__free_unpacked(r, NULL);
		if (fd >= 0)
			close(fd);
	}
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

static uint64_t reloads;

static bool reloaded(const Dmabufd__StatsReply *st)
{
	return st->config_reloads > reloads;
}

/* The daemon has handled the SIGHUP of a broken file (it counts refusals). */
static bool reload_refused(const Dmabufd__StatsReply *st)
{
	return st->config_reload_failures > 0;
}

static int alloc_err(int sock, uint64_t size, int *ret_fd)
{
	Dmabufd__Reply *r = raw_alloc(sock, 7, size, DMABUFD_ATTR_CACHED, 0, "reload", ret_fd);

	return reply_errno(r);
}

static void test_sighup_reload(void **state)
{
	static const char v1[] = "[quota]\nclient-bytes = 1M\n";
	static const char v2[] = "[quota]\nclient-bytes = 4M\n";
	static const char broken[] = "[quota]\nclient-bytes = 1M\nsurprise = yes\n";
	static const char v3[] = "[quota]\nclient-bytes = 1M\n[share]\nmax-expiry = 10\n";
	struct daemon_proc d;
	char conf[128];
	Dmabufd__Reply *r;
	int sock, fds[8], nfd = 0;

	require_root(); /* not strictly, but the helper chmods for other uids */
	assert_int_equal(daemon_start_conf(&d, v1, NULL, conf), 0);
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	assert_int_equal(alloc_err(sock, 1 * MiB, &fds[nfd++]), 0);
	assert_int_equal(alloc_err(sock, 4096, NULL), -EDQUOT);

	/* Raise the quota under the running daemon; the client stays. */
	assert_int_equal(write_conf(conf, v2), 0);
	reloads = 0;
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	r = wait_stats(d.socket, reloaded);
	assert_non_null(r);
	assert_int_equal(r->stats->config_reloads, 1);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(alloc_err(sock, 2 * MiB, &fds[nfd++]), 0);   /* 3M now */
	assert_int_equal(alloc_err(sock, 2 * MiB, NULL), -EDQUOT);     /* 5M > 4M */

	/* A broken file is refused; 4M stays in force. */
	assert_int_equal(write_conf(conf, broken), 0);
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	r = wait_stats(d.socket, reload_refused);
	assert_non_null(r);
	assert_int_equal(r->stats->config_reload_failures, 1);
	assert_int_equal(r->stats->config_reloads, 1);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(alloc_err(sock, 1 * MiB, &fds[nfd++]), 0);   /* 4M: still allowed */

	/* Lowering below current usage keeps what is held, refuses more. */
	assert_int_equal(write_conf(conf, v3), 0);
	reloads = 1;
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	r = wait_stats(d.socket, reloaded);
	assert_non_null(r);
	assert_int_equal(r->stats->buffers, 3);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(alloc_err(sock, 4096, NULL), -EDQUOT);
	r = raw_stats(sock, 9);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);

	for (int i = 0; i < nfd; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

static bool pool_full(const Dmabufd__StatsReply *st)
{
	return st->pooled >= 4 * MiB;
}

/* 1 MiB cached, as a client would ask; returns the reply's errno. */
static int alloc_1m(int sock, int *ret_fd)
{
	Dmabufd__Reply *r = raw_alloc(sock, 11, MiB, DMABUFD_ATTR_CACHED, 0, "pool", ret_fd);

	return reply_errno(r);
}

/*
 * [pool] from the file: the pool fills its classes before any request
 * (every backend pools the cached 1 MiB class; kmod also the write-combine
 * one: 4 MiB in all either way) and the first request is a hit;
 * --pool-budget 0 turns the file's pool off; a reload that changes [pool]
 * is counted and changes no pool.
 */
static void test_pool_section(void **state)
{
	static const char v1[] = "[daemon]\ncapacity = 64M\n"
				 "[pool]\nbudget = 4M\nclasses = 1M, 2M:write-combine\n";
	static const char v2[] = "[daemon]\ncapacity = 64M\n"
				 "[pool]\nbudget = 8M\nclasses = 1M, 2M:write-combine\n";
	static const char *const off[] = { "--pool-budget", "0", NULL };
	struct daemon_proc d;
	char conf[128];
	Dmabufd__Reply *r;
	int sock, fd = -1;

	assert_int_equal(daemon_start_conf(&d, v1, NULL, conf), 0);
	r = wait_stats(d.socket, pool_full);
	assert_non_null(r);
	assert_int_equal(r->stats->pooled, 4 * MiB);
	assert_int_equal(r->stats->pool_hits + r->stats->pool_misses, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	assert_int_equal(alloc_1m(sock, &fd), 0);
	close(fd);
	r = raw_stats(sock, 12);
	assert_non_null(r);
	assert_int_equal(r->stats->pool_hits, 1);
	assert_int_equal(r->stats->pool_misses, 0);
	dmabufd__reply__free_unpacked(r, NULL);

	/*
	 * A reload with another budget: counted, and the pool, refilled once
	 * the buffer is released (the memfd pool refills on release), stays
	 * at 4 MiB.
	 */
	assert_int_equal(write_conf(conf, v2), 0);
	reloads = 0;
	assert_int_equal(kill(d.pid, SIGHUP), 0);
	r = wait_stats(d.socket, reloaded);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock); /* releases the buffer */
	r = wait_stats(d.socket, pool_full);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	sleep_ms(300);
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_stats(sock, 14);
	assert_non_null(r);
	assert_int_equal(r->stats->pooled, 4 * MiB);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);

	/* --pool-budget 0 beats budget = 4M: no pool, no hit. */
	assert_int_equal(daemon_start_conf(&d, v1, off, conf), 0);
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	assert_int_equal(alloc_1m(sock, &fd), 0);
	close(fd);
	sleep_ms(300);
	r = raw_stats(sock, 13);
	assert_non_null(r);
	assert_int_equal(r->stats->pooled, 0);
	assert_int_equal(r->stats->pool_hits, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors_refuse_start),
		cmocka_unit_test(test_example_file_starts),
		cmocka_unit_test(test_empty_file_starts),
		cmocka_unit_test(test_command_line_overrides_file),
		cmocka_unit_test(test_sighup_reload),
		cmocka_unit_test(test_pool_section),
	};

	require_root();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
