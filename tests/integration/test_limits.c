/* SPDX-License-Identifier: MIT */
/*
 * Hostile users against the real daemon: no admitted uid locks out the
 * others.
 *  - fd exhaustion: one uid allocates until refused (its share of the
 *    daemon's fd budget, -EDQUOT naming [limits] max-buffers-per-uid);
 *    root and another uid still connect, allocate and list; when every
 *    share is taken the budget refuses with -ENFILE and root still gets
 *    Stats and List. The daemon runs with RLIMIT_NOFILE 512 (prlimit(1))
 *    so the budget is small.
 *  - idle connections: hundreds of connections of nine uids that never
 *    send Hello; each uid gets at most max-connections-per-uid, all of
 *    them together leave the administrator's slots free (root's Hello,
 *    Stats and dmabufctl stats work), and every silent connection is
 *    closed at the Hello deadline.
 *  - out of fds at accept: a daemon whose RLIMIT_NOFILE is too low for its
 *    connections refuses the peers beyond with -EMFILE (the spare fd)
 *    instead of leaving them in the backlog, and serves again after.
 *  - message size: a request of exactly DMABUFD_MAX_MESSAGE bytes is
 *    served, one of DMABUFD_MAX_MESSAGE + 1 is refused with -EMSGSIZE.
 *  - UTF-8: a label or a client name that is not UTF-8 is refused with
 *    -EINVAL; a process name that is not is scrubbed; dmabufctl list
 *    --json is valid UTF-8 and strict JSON.
 * Runs as root (clients change uid); otherwise exits 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"
#include "utf8.h"
#include "wire.h"

#define KiB 1024u

static const char users_any[] = "[access]\nusers = *\n";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- fd exhaustion ------------------------------------------------------- */

/* What a hog reports to the test once it has been refused. */
struct hog_report {
	int allocated;
	int error;
	char reason[160];
};

struct hog {
	const char *socket;
	int report_fd;   /* write end: one struct hog_report */
	int max;         /* stop after this many even if not refused */
};

/* Allocates 4 KiB buffers until refused, reports, holds them until killed. */
static int hog_run(void *arg)
{
	const struct hog *h = arg;
	struct hog_report rep = { 0 };
	int sock = connect_as_client(h->socket);

	CHECK(sock >= 0);
	for (int i = 0; i < h->max; i++) {
		int fd = -1;
		Dmabufd__Reply *r = raw_alloc(sock, 2 + (uint64_t)i, 4 * KiB, DMABUFD_ATTR_CACHED,
					      0, "hog", &fd);

		CHECK(r != NULL);
		if (r->error) {
			rep.error = r->error;
			snprintf(rep.reason, sizeof(rep.reason), "%s", r->reason ? r->reason : "");
			dmabufd__reply__free_unpacked(r, NULL);
			break;
		}
		close(fd); /* the daemon keeps its own reference */
		rep.allocated++;
		dmabufd__reply__free_unpacked(r, NULL);
	}
	CHECK(write(h->report_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
	for (;;)
		pause();
	return 0;
}

struct hog_proc {
	pid_t pid;
	int report;   /* read end */
};

/* Children that wait to be killed: a failed test must not leave them. */
static pid_t waiting[16];

static void waiting_add(pid_t pid)
{
	for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++)
		if (!waiting[i]) {
			waiting[i] = pid;
			return;
		}
}

static void waiting_remove(pid_t pid)
{
	for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++)
		if (waiting[i] == pid)
			waiting[i] = 0;
}

static int kill_waiting(void **state)
{
	for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++)
		if (waiting[i]) {
			kill(waiting[i], SIGKILL);
			wait_child(waiting[i]);
			waiting[i] = 0;
		}
	return 0;
}

static void hog_start(struct hog_proc *p, const char *socket, uid_t uid, int max)
{
	int rep[2];
	struct hog h = { .socket = socket, .max = max };

	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	h.report_fd = rep[1];
	p->pid = spawn_as(uid, uid, NULL, 0, hog_run, &h);
	assert_true(p->pid > 0);
	waiting_add(p->pid);
	close(rep[1]);
	p->report = rep[0];
}

static void hog_wait_report(struct hog_proc *p, struct hog_report *rep)
{
	assert_int_equal(read(p->report, rep, sizeof(*rep)), (ssize_t)sizeof(*rep));
}

/* Kills the hog: the daemon releases its buffers as the connection ends. */
static void hog_stop(struct hog_proc *p)
{
	close(p->report);
	kill(p->pid, SIGKILL);
	waiting_remove(p->pid);
	assert_int_equal(wait_child(p->pid), 1000 + SIGKILL);
}

/* A well-behaved client of @uid: connect, allocate @n buffers, list them. */
struct polite {
	const char *socket;
	int n;
};

static int polite_run(void *arg)
{
	const struct polite *p = arg;
	int sock = connect_as_client(p->socket);
	Dmabufd__Reply *r;
	size_t mine = 0;

	CHECK(sock >= 0);
	for (int i = 0; i < p->n; i++) {
		int fd = -1;

		r = raw_alloc(sock, 10 + (uint64_t)i, 4 * KiB, DMABUFD_ATTR_CACHED, 0, "polite", &fd);
		CHECK(r != NULL);
		if (r->error)
			fprintf(stderr, "polite alloc %d: %d %s\n", i, r->error, r->reason);
		CHECK(r->error == 0 && fd >= 0);
		close(fd);
		dmabufd__reply__free_unpacked(r, NULL);
	}
	r = raw_list(sock, 100, 0);
	CHECK(r && r->error == 0 && r->list);
	for (size_t i = 0; i < r->list->n_buffers; i++)
		if (r->list->buffers[i]->owner_uid == getuid())
			mine++;
	CHECK(mine == (size_t)p->n || r->list->more);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	return 0;
}

static void test_fd_exhaustion(void **state)
{
	const char *old = getenv("DMABUFD_TEST_WRAPPER");
	char wrapper[512];
	int err;
	const uid_t hogs[4] = { UID_A, UID_B, UID_C, 5004 };
	struct hog_proc hp[4];
	struct hog_report rep[4];
	struct daemon_proc d;
	struct polite pol;
	char conf[128];
	Dmabufd__Reply *r;
	int sock, fd = -1, share, total;

	/*
	 * The daemon runs under prlimit(1) with 512 fds, soft and hard (it
	 * cannot raise it), in front of any wrapper the run already has.
	 */
	snprintf(wrapper, sizeof(wrapper), "prlimit --nofile=512:512%s%s", old ? " " : "",
		 old ? old : "");
	setenv("DMABUFD_TEST_WRAPPER", wrapper, 1);
	err = daemon_start_conf(&d, users_any, NULL, conf);
	if (old)
		setenv("DMABUFD_TEST_WRAPPER", old, 1);
	else
		unsetenv("DMABUFD_TEST_WRAPPER");
	assert_int_equal(err, 0);

	/* One uid allocates until refused: its share, named in the refusal. */
	hog_start(&hp[0], d.socket, hogs[0], 100000);
	hog_wait_report(&hp[0], &rep[0]);
	print_message("uid %u: %d buffers, then %d \"%s\"\n", hogs[0], rep[0].allocated,
		      rep[0].error, rep[0].reason);
	assert_int_equal(rep[0].error, -EDQUOT);
	assert_non_null(strstr(rep[0].reason, "[limits] max-buffers-per-uid = "));
	share = rep[0].allocated;
	assert_true(share > 0 && share < 512 / 2);
	assert_true(count_fds(d.pid) < 512 - 64);

	/* Root and another uid still connect, allocate and list. */
	pol = (struct polite){ .socket = d.socket, .n = 16 };
	assert_int_equal(run_as(0, 0, NULL, 0, polite_run, &pol), 0);
	assert_int_equal(run_as(5005, 5005, NULL, 0, polite_run, &pol), 0);

	/* Three more uids take their shares: the budget is then all in use. */
	total = share;
	for (int i = 1; i < 4; i++) {
		hog_start(&hp[i], d.socket, hogs[i], 100000);
		hog_wait_report(&hp[i], &rep[i]);
		print_message("uid %u: %d buffers, then %d \"%s\"\n", hogs[i], rep[i].allocated,
			      rep[i].error, rep[i].reason);
		assert_true(rep[i].error == -EDQUOT || rep[i].error == -ENFILE);
		total += rep[i].allocated;
	}
	print_message("4 uids hold %d buffers; daemon fds %d of 512\n", total, count_fds(d.pid));
	assert_true(count_fds(d.pid) < 512);

	/* The administrator is never locked out: connect, Stats, List. */
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_stats(sock, 2);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->stats->buffers, (uint64_t)total);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_list(sock, 3, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_true(r->list->n_buffers > 0);
	dmabufd__reply__free_unpacked(r, NULL);
	/* 4 shares (expected-uids) fill the budget: the next is -ENFILE. */
	r = raw_alloc(sock, 4, 4 * KiB, DMABUFD_ATTR_CACHED, 0, "root", &fd);
	assert_non_null(r);
	print_message("root: %d \"%s\"\n", r->error, r->reason);
	assert_int_equal(r->error, -ENFILE);
	assert_non_null(strstr(r->reason, "budget"));
	dmabufd__reply__free_unpacked(r, NULL);

	/* One hog leaves: its share is free again for others. */
	hog_stop(&hp[0]);
	for (int i = 0; i < 100; i++) {
		r = raw_alloc(sock, 5 + (uint64_t)i, 4 * KiB, DMABUFD_ATTR_CACHED, 0, "root", &fd);
		assert_non_null(r);
		if (r->error == 0)
			break;
		dmabufd__reply__free_unpacked(r, NULL);
		r = NULL;
		sleep_ms(50);
	}
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	close(sock);
	for (int i = 1; i < 4; i++)
		hog_stop(&hp[i]);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

/* ---- idle connections ---------------------------------------------------- */

#define IDLE_UIDS 9
#define IDLE_PER_UID 40

/* The Hello deadline and the time the daemon gets to refuse: longer under a wrapper. */
static unsigned idle_timeout_s(void)
{
	return getenv("DMABUFD_TEST_WRAPPER") ? 12 : 3;
}

static unsigned idle_settle_ms(void)
{
	return getenv("DMABUFD_TEST_WRAPPER") ? 4000 : 300;
}

struct idler {
	const char *socket;
	int report_fd;
};

/*
 * Opens IDLE_PER_UID connections and never says Hello. Reports how many
 * the daemon kept (no refusal after idle_settle_ms()); then every kept one
 * must be closed by the daemon at the deadline: not before
 * idle_timeout_s() - 1 s, not after idle_timeout_s() + 15 s (slack for a loaded machine).
 */
static int idler_run(void *arg)
{
	const struct idler *id = arg;
	int socks[IDLE_PER_UID], kept[IDLE_PER_UID], nkept = 0;
	uint64_t t0 = now_ms();

	for (int i = 0; i < IDLE_PER_UID; i++) {
		socks[i] = raw_connect(id->socket);
		CHECK(socks[i] >= 0);
	}
	sleep_ms(idle_settle_ms());
	for (int i = 0; i < IDLE_PER_UID; i++) {
		struct pollfd p = { .fd = socks[i], .events = POLLIN };

		if (poll(&p, 1, 0) == 0) {
			kept[nkept++] = socks[i];
			continue;
		}
		/* Refused: one Reply saying why, then EOF. */
		Dmabufd__Reply *r = raw_recv(socks[i], 0, NULL);

		CHECK(r != NULL);
		if (r->error != -EUSERS)
			fprintf(stderr, "refusal %d \"%s\"\n", r->error, r->reason);
		CHECK(r->error == -EUSERS);
		CHECK(strstr(r->reason, "[limits]") != NULL);
		dmabufd__reply__free_unpacked(r, NULL);
		close(socks[i]);
	}
	CHECK(write(id->report_fd, &nkept, sizeof(nkept)) == (ssize_t)sizeof(nkept));
	for (int i = 0; i < nkept; i++) {
		/*
		 * Closed at the deadline, not before; the slack after it is for
		 * a loaded machine (sanitizers, TCG) closing 252 of them.
		 */
		uint64_t left = t0 + (idle_timeout_s() + 15) * 1000;
		uint64_t t = now_ms();

		CHECK(t < left);
		CHECK(raw_wait_closed(kept[i], (int)(left - t)));
		CHECK(now_ms() >= t0 + (idle_timeout_s() - 1) * 1000);
		close(kept[i]);
	}
	return 0;
}

static void test_idle_connections(void **state)
{
	struct daemon_proc d;
	char conf_text[128], conf[128], cmd[512], out[8192];
	pid_t pids[IDLE_UIDS];
	int reports[IDLE_UIDS], kept_total = 0, sock;
	Dmabufd__Reply *r;
	size_t len = 0, n;
	FILE *f;

	snprintf(conf_text, sizeof(conf_text), "[access]\nusers = *\n[limits]\nhello-timeout = %u\n",
		 idle_timeout_s());
	assert_int_equal(daemon_start_conf(&d, conf_text, NULL, conf), 0);
	sleep_ms(200); /* the readiness probe's hang-up is handled */
	for (int i = 0; i < IDLE_UIDS; i++) {
		int p[2];
		struct idler id = { .socket = d.socket };

		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		id.report_fd = p[1];
		pids[i] = spawn_as(6001 + (uid_t)i, 6001 + (gid_t)i, NULL, 0, idler_run, &id);
		assert_true(pids[i] > 0);
		close(p[1]);
		reports[i] = p[0];
	}
	for (int i = 0; i < IDLE_UIDS; i++) {
		int kept = -1;

		assert_int_equal(read(reports[i], &kept, sizeof(kept)), (ssize_t)sizeof(kept));
		close(reports[i]);
		assert_true(kept >= 0 && kept <= 32); /* max-connections-per-uid */
		kept_total += kept;
	}
	print_message("%d uids x %d silent connections: %d kept\n", IDLE_UIDS, IDLE_PER_UID,
		      kept_total);
	/* max-clients 256 less the 4 admin-connections */
	assert_int_equal(kept_total, 256 - 4);

	/* The daemon is full for users, not for the administrator. */
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_stats(sock, 2);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->stats->clients, (uint32_t)kept_total + 1);
	dmabufd__reply__free_unpacked(r, NULL);
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' --json stats", DMABUFCTL_BIN, d.socket);
	f = popen(cmd, "re");
	assert_non_null(f);
	while (len < sizeof(out) - 1 && (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	assert_int_equal(pclose(f), 0);
	assert_non_null(strstr(out, "\"clients\""));

	/* Every silent connection closed at the deadline; root's stays. */
	for (int i = 0; i < IDLE_UIDS; i++)
		assert_int_equal(wait_child(pids[i]), 0);
	for (int i = 0; i < 100; i++) {
		uint32_t clients;

		r = raw_stats(sock, 3 + (uint64_t)i);
		assert_non_null(r);
		assert_int_equal(r->error, 0);
		clients = r->stats->clients;
		dmabufd__reply__free_unpacked(r, NULL);
		if (clients == 1)
			break;
		assert_true(i < 99);
		sleep_ms(50);
	}
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

/* ---- out of fds at accept ------------------------------------------------- */

/*
 * A daemon whose RLIMIT_NOFILE (128) is too low for its max-clients: the
 * connections themselves exhaust its fds. The peers beyond are accepted on
 * the spare fd and refused with -EMFILE (not left waiting in the backlog),
 * and once connections close the daemon serves again.
 */
static void test_out_of_fds_at_accept(void **state)
{
	const char *old = getenv("DMABUFD_TEST_WRAPPER");
	char wrapper[512], conf[128];
	int socks[200], kept = 0, emfile = 0, sock = -1, err;
	struct daemon_proc d;

	/* valgrind keeps fds of its own at the top of the limit: not this arithmetic. */
	if (old)
		skip();

	snprintf(wrapper, sizeof(wrapper), "prlimit --nofile=128:128%s%s", old ? " " : "",
		 old ? old : "");
	setenv("DMABUFD_TEST_WRAPPER", wrapper, 1);
	err = daemon_start_conf(&d, "[limits]\nhello-timeout = 60\n", NULL, conf);
	if (old)
		setenv("DMABUFD_TEST_WRAPPER", old, 1);
	else
		unsetenv("DMABUFD_TEST_WRAPPER");
	assert_int_equal(err, 0);

	for (int i = 0; i < 200; i++) {
		socks[i] = raw_connect(d.socket);
		assert_true(socks[i] >= 0);
	}
	sleep_ms(500);
	for (int i = 0; i < 200; i++) {
		struct pollfd p = { .fd = socks[i], .events = POLLIN };
		Dmabufd__Reply *r;

		if (poll(&p, 1, 0) == 0) {
			kept++;
			continue;
		}
		r = raw_recv(socks[i], 0, NULL);
		assert_non_null(r);
		if (r->error != -EMFILE)
			fail_msg("connection %d: %d \"%s\"", i, r->error, r->reason);
		emfile++;
		dmabufd__reply__free_unpacked(r, NULL);
	}
	print_message("RLIMIT_NOFILE 128: %d connections kept, %d refused with -EMFILE\n", kept,
		      emfile);
	assert_true(emfile > 0);
	assert_true(kept > 64 && kept < 128);
	for (int i = 0; i < 200; i++)
		close(socks[i]);
	/* Served again once the connections are gone (accept may pause 100 ms). */
	for (int i = 0; i < 100 && sock < 0; i++) {
		sock = raw_connect_hello(d.socket);
		if (sock < 0)
			sleep_ms(100);
	}
	assert_true(sock >= 0);
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

/* ---- message size --------------------------------------------------------- */

/*
 * A Stats request padded to exactly @total bytes with an unknown
 * length-delimited field (number 1000), which the decoder skips.
 */
static size_t padded_stats(uint8_t *buf, size_t total)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats st = DMABUFD__STATS__INIT;
	size_t base, pad, o;

	req.id = 7;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &st;
	base = dmabufd__request__pack(&req, buf);
	/* key (1000 << 3 | 2) is 2 bytes, a length of 16384..2097151 is 3 */
	pad = total - base - 2 - 3;
	o = base;
	buf[o++] = (uint8_t)(((1000u << 3) | 2) & 0x7f) | 0x80;
	buf[o++] = (uint8_t)(((1000u << 3) | 2) >> 7);
	buf[o++] = (uint8_t)(pad & 0x7f) | 0x80;
	buf[o++] = (uint8_t)((pad >> 7) & 0x7f) | 0x80;
	buf[o++] = (uint8_t)(pad >> 14);
	memset(buf + o, 'x', pad);
	return o + pad;
}

static void test_message_size_boundary(void **state)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE + 16];
	struct daemon_proc d;
	Dmabufd__Reply *r;
	int sock;

	assert_int_equal(daemon_start(&d, NULL), 0);
	sock = raw_connect_hello(d.socket);
	assert_true(sock >= 0);

	assert_int_equal(padded_stats(buf, DMABUFD_MAX_MESSAGE), DMABUFD_MAX_MESSAGE);
	assert_int_equal(send(sock, buf, DMABUFD_MAX_MESSAGE, 0), DMABUFD_MAX_MESSAGE);
	r = raw_recv(sock, 5000, NULL);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->id, 7);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_STATS);
	dmabufd__reply__free_unpacked(r, NULL);

	assert_int_equal(padded_stats(buf, DMABUFD_MAX_MESSAGE + 1), DMABUFD_MAX_MESSAGE + 1);
	assert_int_equal(send(sock, buf, DMABUFD_MAX_MESSAGE + 1, 0), DMABUFD_MAX_MESSAGE + 1);
	r = raw_recv(sock, 5000, NULL);
	assert_non_null(r);
	assert_int_equal(r->error, -EMSGSIZE);
	assert_non_null(strstr(r->reason, "65537"));
	dmabufd__reply__free_unpacked(r, NULL);

	/* Still served after the refusal. */
	r = raw_stats(sock, 8);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	assert_int_equal(daemon_stop(&d), 0);
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static int hello_with_name(const char *path, const char *name, char *reason, size_t len)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Hello hello = DMABUFD__HELLO__INIT;
	Dmabufd__Reply *r;
	int sock = raw_connect(path), err;

	if (sock < 0)
		return sock;
	hello.version = DMABUFD__VERSION__VERSION_CURRENT;
	hello.client_name = (char *)name;
	req.id = 1;
	req.body_case = DMABUFD__REQUEST__BODY_HELLO;
	req.hello = &hello;
	err = raw_send(sock, &req, NULL, 0);
	r = err < 0 ? NULL : raw_recv(sock, 5000, NULL);
	close(sock);
	if (!r)
		return INT32_MIN;
	err = r->error;
	snprintf(reason, len, "%s", r->reason ? r->reason : "");
	dmabufd__reply__free_unpacked(r, NULL);
	return err;
}

/* A process whose name is not UTF-8 holds a buffer until killed. */
static int bad_comm_run(void *arg)
{
	int *p = arg, sock, fd = -1;
	Dmabufd__Reply *r;

	CHECK(prctl(PR_SET_NAME, "bad\xff\xfe" "name", 0, 0, 0) == 0);
	sock = connect_as_client(getenv("DMABUFD_TEST_SOCKET"));
	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, 4 * KiB, DMABUFD_ATTR_CACHED, 0, "caf\xc3\xa9 \xe2\x9c\x93", &fd);
	CHECK(r && r->error == 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(p[0]);
	CHECK(write(p[1], "x", 1) == 1);
	for (;;)
		pause();
	return 0;
}

static void test_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xe2\x82",
	};
	struct daemon_proc d;
	char conf[128], reason[160], cmd[512], out[65536];
	struct json_tokener *tok;
	json_object *list;
	Dmabufd__Reply *r;
	int sock, fd = -1, ready[2];
	size_t len = 0, n;
	pid_t pid;
	FILE *f;

	assert_int_equal(daemon_start_conf(&d, users_any, NULL, conf), 0);
	sock = raw_connect_hello(d.socket);
	assert_true(sock >= 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = raw_alloc(sock, 2 + i, 4 * KiB, DMABUFD_ATTR_CACHED, 0, bad[i], &fd);
		assert_non_null(r);
		assert_int_equal(r->error, -EINVAL);
		assert_non_null(strstr(r->reason, "UTF-8"));
		dmabufd__reply__free_unpacked(r, NULL);
		assert_int_equal(hello_with_name(d.socket, bad[i], reason, sizeof(reason)), -EINVAL);
		assert_non_null(strstr(reason, "UTF-8"));
	}
	assert_int_equal(hello_with_name(d.socket, "gr\xc3\xbc\xc3\x9f", reason, sizeof(reason)), 0);

	/* A valid non-ASCII label, owned by a process with an invalid name. */
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	setenv("DMABUFD_TEST_SOCKET", d.socket, 1);
	pid = spawn_as(UID_A, GID_A, NULL, 0, bad_comm_run, ready);
	assert_true(pid > 0);
	waiting_add(pid);
	close(ready[1]);
	assert_int_equal(read(ready[0], cmd, 1), 1);
	close(ready[0]);

	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' list --json", DMABUFCTL_BIN, d.socket);
	f = popen(cmd, "re");
	assert_non_null(f);
	while (len < sizeof(out) - 1 && (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	assert_int_equal(pclose(f), 0);
	kill(pid, SIGKILL);
	waiting_remove(pid);
	assert_int_equal(wait_child(pid), 1000 + SIGKILL);
	if (!utf8_valid(out))
		fail_msg("dmabufctl list --json printed invalid UTF-8:\n%s", out);
	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	list = json_tokener_parse_ex(tok, out, (int)len);
	if (!list)
		fail_msg("not strict JSON (%s):\n%s",
			 json_tokener_error_desc(json_tokener_get_error(tok)), out);
	json_tokener_free(tok);
	assert_non_null(strstr(out, "caf\xc3\xa9 \xe2\x9c\x93"));
	assert_non_null(strstr(out, "bad??name"));
	json_object_put(list);
	close(sock);
	assert_int_equal(daemon_stop_conf(&d, conf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_size_boundary),
		cmocka_unit_test_teardown(test_utf8, kill_waiting),
		cmocka_unit_test_teardown(test_fd_exhaustion, kill_waiting),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_out_of_fds_at_accept),
	};

	require_root();
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
