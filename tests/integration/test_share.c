/* SPDX-License-Identifier: MIT */
/*
 * Sharing between processes of different uids/gids against the real daemon:
 * who may import, single-use and expiring tokens, the access
 * policy at connect time, the limits on tokens/targets/importers, a
 * producer/consumer pair that sees the same bytes, and the ownership
 * transfer when an owner dies with a live importer. Runs as root (children
 * drop to test uids); otherwise exits 77.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"

#define FRAME 65536u

static struct daemon_proc d;
static char conf[128];

static const char config_text[] =
	"# test configuration\n"
	"[access]\n"
	"users = root 5001 5002 5003\n"
	"groups = 4242\n"
	"[share]\n"
	"max-tokens-per-buffer = 4\n"
	"max-targets-per-token = 4\n"
	"max-importers-per-buffer = 2\n"
	"max-expiry = 60\n";

struct job {
	const char *socket;
	uint8_t token[16];
	size_t token_len;
	uint64_t buffer_id;
	int expect;           /* errno the child expects from its import */
	int repeat;           /* import this many times (single-use tests) */
	uint8_t fill;         /* expected byte pattern seed */
	bool share_c;         /* producer(): share to uid C as well as uid B */
	int up[2];            /* child -> parent */
	int down[2];          /* parent -> child */
};

static void expect_err(Dmabufd__Reply *r, int error)
{
	int got = reply_errno(r);

	if (got != error)
		fail_msg("expected %d (%s), got %d", error, strerror(-error), got);
}

/* Allocates @size bytes as the (root) test process, fills it, returns its id. */
static uint64_t alloc_filled(int sock, uint64_t size, uint8_t seed)
{
	int fd = -1;
	Dmabufd__Reply *r = raw_alloc(sock, 2, size, DMABUFD_ATTR_CACHED, 0, "frame", &fd);
	uint64_t id;
	uint8_t *p;

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	assert_true(fd >= 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		p[i] = (uint8_t)(seed + i * 7);
	munmap(p, size);
	close(fd);
	return id;
}

static void share_to(int sock, struct job *j, uint64_t buffer_id, const uint32_t *uids, size_t nuids,
		     const uint32_t *gids, size_t ngids, const int32_t *pids, size_t npids,
		     bool single, uint32_t expiry)
{
	Dmabufd__Reply *r = raw_share(sock, 3, buffer_id, uids, nuids, gids, ngids, pids, npids,
				      single, expiry);

	assert_non_null(r);
	if (r->error)
		fail_msg("Share: %d %s", r->error, r->reason);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_SHARE);
	assert_int_equal(r->share->token.len, 16);
	memcpy(j->token, r->share->token.data, 16);
	j->token_len = 16;
	j->buffer_id = buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
}

/* Child: import j->repeat times; the first import must give j->expect,
 * later ones -ENOENT when single use; a success maps and checks bytes. */
static int child_import(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket);

	CHECK(sock >= 0);
	for (int i = 0; i < (j->repeat ? j->repeat : 1); i++) {
		int fd = -1, want = i == 0 ? j->expect : -ENOENT;
		Dmabufd__Reply *r = raw_import(sock, 10 + (uint64_t)i, j->token, j->token_len, &fd);

		CHECK(r != NULL);
		if (r->error != want)
			fprintf(stderr, "import %d: got %d (%s), want %d\n", i, r->error, r->reason,
				want);
		CHECK(r->error == want);
		CHECK(r->reason != NULL);
		if (!want) {
			uint8_t *p;

			CHECK(r->body_case == DMABUFD__REPLY__BODY_IMPORT);
			CHECK(r->import->buffer_id == j->buffer_id);
			CHECK(fd >= 0);
			p = mmap(NULL, r->import->size, PROT_READ, MAP_SHARED, fd, 0);
			CHECK(p != MAP_FAILED);
			for (uint64_t k = 0; k < r->import->size; k++)
				CHECK(p[k] == (uint8_t)(j->fill + k * 7));
			munmap(p, r->import->size);
			close(fd);
		} else {
			CHECK(fd < 0);
			/* Refusals never name a buffer. */
			CHECK(r->body_case == DMABUFD__REPLY__BODY__NOT_SET);
		}
		dmabufd__reply__free_unpacked(r, NULL);
	}
	close(sock);
	return 0;
}

static int setup(void **state)
{
	require_root();
	if (daemon_start_conf(&d, config_text, NULL, conf) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	return daemon_stop_conf(&d, conf) == 0 ? 0 : -1;
}

static void assert_serves(void)
{
	int sock = connect_as_client(d.socket);

	assert_true(sock >= 0);
	assert_int_equal(reply_errno(raw_stats(sock, 1)), 0);
	close(sock);
}

static void test_foreign_uid_cannot_import(void **state)
{
	static const uint32_t uid_b = UID_B;
	struct job j = { .socket = d.socket, .fill = 11 };
	int sock = connect_as_client(d.socket);
	uint64_t id;

	assert_true(sock >= 0);
	id = alloc_filled(sock, FRAME, j.fill);
	share_to(sock, &j, id, &uid_b, 1, NULL, 0, NULL, 0, false, 0);
	/* uid A is not named: refused, and the refusal names no buffer. */
	j.expect = -EACCES;
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, child_import, &j), 0);
	/* uid B is named: gets the fd and the same bytes, twice (reusable). */
	j.expect = 0;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_import, &j), 0);
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_import, &j), 0);
	close(sock);
	assert_serves();
}

/* Child: waits for the token on j->down, then imports it. */
static int child_import_after_token(void *arg)
{
	struct job *j = arg;
	char c;

	CHECK(read(j->down[0], &c, 1) == 1);
	CHECK(read(j->down[0], j->token, 16) == 16);
	j->token_len = 16;
	return child_import(j);
}

static void test_named_group_and_pid(void **state)
{
	static const uint32_t gid = GID_SHARED;
	static const gid_t supp = GID_SHARED;
	struct job j = { .socket = d.socket, .fill = 23 };
	int sock = connect_as_client(d.socket);
	uint64_t id;
	pid_t pid;
	int32_t cpid;
	char go;

	assert_true(sock >= 0);
	id = alloc_filled(sock, 8192, j.fill);
	share_to(sock, &j, id, NULL, 0, &gid, 1, NULL, 0, false, 0);
	/* A supplementary group (SO_PEERGROUPS) is enough... */
	j.expect = 0;
	assert_int_equal(run_as(UID_C, GID_C, &supp, 1, child_import, &j), 0);
	/* ...and without it, uid C is a stranger. */
	j.expect = -EACCES;
	assert_int_equal(run_as(UID_C, GID_C, NULL, 0, child_import, &j), 0);

	/* Named by pid: the child waits until the token names it. */
	assert_int_equal(pipe(j.down), 0);
	j.expect = 0;
	pid = spawn_as(UID_A, GID_A, NULL, 0, child_import_after_token, &j);
	assert_true(pid > 0);
	cpid = pid;
	share_to(sock, &j, id, NULL, 0, NULL, 0, &cpid, 1, true, 0);
	go = 1;
	assert_int_equal(write(j.down[1], &go, 1), 1);
	assert_int_equal(write(j.down[1], j.token, 16), 16);
	assert_int_equal(wait_child(pid), 0);
	close(j.down[0]);
	close(j.down[1]);
	close(sock);
}

static void test_single_use_token(void **state)
{
	static const uint32_t uid_b = UID_B;
	struct job j = { .socket = d.socket, .fill = 5, .repeat = 3 };
	int sock = connect_as_client(d.socket);
	uint64_t id;

	assert_true(sock >= 0);
	id = alloc_filled(sock, 4096, j.fill);
	share_to(sock, &j, id, &uid_b, 1, NULL, 0, NULL, 0, true, 0);
	/* First Import works, the next two find no token. */
	j.expect = 0;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_import, &j), 0);
	/* The token is gone for everyone, the owner included. */
	expect_err(raw_import(sock, 9, j.token, 16, NULL), -ENOENT);
	close(sock);
}

static void test_expired_token(void **state)
{
	static const uint32_t uid_b = UID_B;
	struct job j = { .socket = d.socket, .fill = 1 };
	int sock = connect_as_client(d.socket);
	Dmabufd__Reply *r;
	uint64_t id;

	assert_true(sock >= 0);
	id = alloc_filled(sock, 4096, j.fill);
	share_to(sock, &j, id, &uid_b, 1, NULL, 0, NULL, 0, false, 1);
	r = raw_stats(sock, 4);
	assert_non_null(r);
	assert_int_equal(r->stats->tokens, 1);
	dmabufd__reply__free_unpacked(r, NULL);
	sleep_ms(1200);
	j.expect = -ENOENT;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_import, &j), 0);
	r = raw_stats(sock, 5);
	assert_non_null(r);
	assert_int_equal(r->stats->tokens, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
}

static int child_wrong_tokens(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket);
	uint8_t guess[16];
	Dmabufd__Reply *r;

	CHECK(sock >= 0);
	/* A near miss (one bit off) and a wrong length. */
	memcpy(guess, j->token, 16);
	guess[15] ^= 1;
	r = raw_import(sock, 2, guess, 16, NULL);
	CHECK(r && r->error == -ENOENT && r->body_case == DMABUFD__REPLY__BODY__NOT_SET);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_import(sock, 3, j->token, 15, NULL);
	CHECK(r && r->error == -EINVAL);
	dmabufd__reply__free_unpacked(r, NULL);
	/* Someone else's token cannot be withdrawn (and looks missing). */
	r = raw_unshare(sock, 4, j->token, 16);
	CHECK(r && r->error == -ENOENT);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	return 0;
}

static void test_wrong_and_withdrawn_tokens(void **state)
{
	static const uint32_t uid_b = UID_B;
	struct job j = { .socket = d.socket, .fill = 9 };
	int sock = connect_as_client(d.socket);
	uint8_t zero[16] = { 0 };
	uint64_t id;

	assert_true(sock >= 0);
	id = alloc_filled(sock, 4096, j.fill);
	share_to(sock, &j, id, &uid_b, 1, NULL, 0, NULL, 0, false, 0);
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_wrong_tokens, &j), 0);
	expect_err(raw_import(sock, 5, zero, 16, NULL), -ENOENT);
	/* The owner withdraws it; the named uid now finds nothing. */
	assert_int_equal(reply_errno(raw_unshare(sock, 6, j.token, 16)), 0);
	j.expect = -ENOENT;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, child_import, &j), 0);
	expect_err(raw_unshare(sock, 7, j.token, 16), -ENOENT);
	close(sock);
}

static int child_connect_refused(void *arg)
{
	char reason[160] = "";
	int err = connect_expect_refusal(arg, reason, sizeof(reason));

	if (err != -EACCES)
		fprintf(stderr, "connect: %d \"%s\"\n", err, reason);
	CHECK(err == -EACCES);
	CHECK(strstr(reason, "access denied") != NULL);
	return 0;
}

static int child_connect_ok(void *arg)
{
	int sock = connect_as_client(arg);

	CHECK(sock >= 0);
	close(sock);
	return 0;
}

static void test_disallowed_group_refused(void **state)
{
	static const gid_t other = 6000, shared = GID_SHARED;
	Dmabufd__Reply *r;

	/* uid 5004 is not listed and its groups are not either. */
	assert_int_equal(run_as(5004, 5004, &other, 1, child_connect_refused, d.socket), 0);
	/* uid 5005 is admitted through its supplementary group 4242. */
	assert_int_equal(run_as(5005, 5005, &shared, 1, child_connect_ok, d.socket), 0);
	/* A listed uid whose primary group is unlisted is admitted too. */
	assert_int_equal(run_as(UID_A, 6001, NULL, 0, child_connect_ok, d.socket), 0);
	assert_serves();
	{
		int sock = connect_as_client(d.socket);

		assert_true(sock >= 0);
		r = raw_stats(sock, 1);
		assert_non_null(r);
		assert_true(r->stats->access_refusals >= 1);
		dmabufd__reply__free_unpacked(r, NULL);
		close(sock);
	}
}

static int child_import_hold(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket), fd = -1;
	Dmabufd__Reply *r;
	char c;

	CHECK(sock >= 0);
	r = raw_import(sock, 2, j->token, 16, &fd);
	CHECK(r && r->error == j->expect);
	dmabufd__reply__free_unpacked(r, NULL);
	c = 1;
	CHECK(write(j->up[1], &c, 1) == 1);
	CHECK(read(j->down[0], &c, 1) == 1); /* hold the import until told */
	close(sock);
	return 0;
}

static void test_share_limits(void **state)
{
	static const uint32_t five[5] = { 1, 2, 3, 4, 5 };
	static const uint32_t uids[3] = { UID_A, UID_B, UID_C };
	struct job j = { .socket = d.socket };
	int sock = connect_as_client(d.socket), other = connect_as_client(d.socket);
	pid_t pids[3];
	uint64_t id;
	char c;

	assert_true(sock >= 0 && other >= 0);
	id = alloc_filled(sock, 4096, 0);
	/* Too many targets in one Share. */
	expect_err(raw_share(sock, 2, id, five, 5, NULL, 0, NULL, 0, false, 0), -E2BIG);
	/* Expiry above max-expiry = 60. */
	expect_err(raw_share(sock, 3, id, uids, 1, NULL, 0, NULL, 0, false, 61), -EINVAL);
	/* Another client cannot share a buffer it does not own. */
	expect_err(raw_share(other, 4, id, uids, 1, NULL, 0, NULL, 0, false, 0), -ENOENT);
	/* max-tokens-per-buffer = 4. */
	for (int i = 0; i < 4; i++)
		share_to(sock, &j, id, uids, 3, NULL, 0, NULL, 0, false, 0);
	expect_err(raw_share(sock, 5, id, uids, 3, NULL, 0, NULL, 0, false, 0), -ETOOMANYREFS);
	/* max-importers-per-buffer = 2: A and B hold imports, C is refused. */
	assert_int_equal(pipe(j.up), 0);
	assert_int_equal(pipe(j.down), 0);
	j.expect = 0;
	pids[0] = spawn_as(UID_A, GID_A, NULL, 0, child_import_hold, &j);
	assert_int_equal(read(j.up[0], &c, 1), 1);
	pids[1] = spawn_as(UID_B, GID_B, NULL, 0, child_import_hold, &j);
	assert_int_equal(read(j.up[0], &c, 1), 1);
	j.expect = -ETOOMANYREFS;
	pids[2] = spawn_as(UID_C, GID_C, NULL, 0, child_import_hold, &j);
	assert_int_equal(read(j.up[0], &c, 1), 1);
	c = 1;
	for (int i = 0; i < 3; i++)
		assert_int_equal(write(j.down[1], &c, 1), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wait_child(pids[i]), 0);
	for (int i = 0; i < 2; i++) {
		close(j.up[i]);
		close(j.down[i]);
	}
	close(other);
	close(sock);
	assert_serves();
}

static int child_revoke(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket);
	Dmabufd__Reply *r;

	CHECK(sock >= 0);
	r = raw_revoke(sock, 2, j->buffer_id);
	CHECK(r && r->error == -EPERM);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	return 0;
}

/* True if @id is in the daemon's List (root sees every buffer). */
static bool listed(int sock, uint64_t id)
{
	Dmabufd__Reply *r = raw_list(sock, 5, 0);
	bool found = false;

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_false(r->list->more);
	for (size_t i = 0; i < r->list->n_buffers; i++)
		found |= r->list->buffers[i]->buffer_id == id;
	dmabufd__reply__free_unpacked(r, NULL);
	return found;
}

static void test_revoke(void **state)
{
	struct job j = { .socket = d.socket };
	Dmabufd__Reply *hello = NULL, *r;
	int sock = raw_connect_hello_reply(d.socket, &hello), fd = -1, status;
	bool revocable;
	uint8_t *p;
	pid_t pid;

	assert_true(sock >= 0);
	/* Revoke is the kmod backend's op (docs/SHARING.md "Revocation");
	 * memfd, dma-heap and udmabuf have none. A 4 KiB buffer goes to the
	 * first active backend: ask Hello whether that one can revoke. */
	revocable = hello->hello->n_backends ? hello->hello->backends[0]->revocation
					     : hello->hello->revocation;
	dmabufd__reply__free_unpacked(hello, NULL);
	r = raw_alloc(sock, 2, 4096, DMABUFD_ATTR_CACHED, 0, "revoke", &fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	j.buffer_id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	assert_true(fd >= 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	p[0] = 0x42;
	/* Not the owner and not root. */
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, child_revoke, &j), 0);
	if (!revocable) {
		expect_err(raw_revoke(sock, 3, j.buffer_id), -EOPNOTSUPP);
		/* nothing changed */
		assert_true(listed(sock, j.buffer_id));
		assert_int_equal(p[0], 0x42);
	} else {
		expect_err(raw_revoke(sock, 3, j.buffer_id), 0);
		/* released as usual: gone from List, a second Revoke or a
		 * Release finds nothing */
		assert_false(listed(sock, j.buffer_id));
		expect_err(raw_revoke(sock, 6, j.buffer_id), -ENOENT);
		expect_err(raw_release(sock, 7, j.buffer_id), -ENOENT);
		/* the existing mapping was zapped: the next touch is SIGBUS */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			signal(SIGBUS, SIG_DFL);
			*(volatile uint8_t *)p = 1;
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGBUS);
		/* and the fd is a husk: no new mapping */
		assert_true(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
		assert_int_equal(errno, ENODEV);
	}
	munmap(p, 4096);
	close(fd);
	expect_err(raw_revoke(sock, 4, 999999), -ENOENT);
	close(sock);
}

/* A non-root client sees its own uid's buffers and accounting only. */
static int child_list_own(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket), fd = -1;
	Dmabufd__Reply *r;
	uint64_t mine;

	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, 4096, DMABUFD_ATTR_CACHED, 0, "mine", &fd);
	CHECK(r && r->error == 0);
	mine = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	r = raw_list(sock, 3, 0);
	CHECK(r && r->error == 0);
	CHECK(r->list->n_buffers == 1);
	CHECK(r->list->buffers[0]->buffer_id == mine);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_accounting(sock, 4, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	CHECK(r && r->error == 0);
	CHECK(r->accounting->n_entries == 1 && r->accounting->entries[0]->uid == UID_A);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_accounting(sock, 5, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_CLIENTS, 0);
	CHECK(r && r->error == 0);
	for (size_t i = 0; i < r->accounting->n_entries; i++)
		CHECK(r->accounting->entries[i]->uid == UID_A);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	return 0;
}

static void test_list_shows_own_buffers(void **state)
{
	struct job j = { .socket = d.socket };
	int sock = connect_as_client(d.socket);
	Dmabufd__Reply *r;

	assert_true(sock >= 0);
	alloc_filled(sock, 4096, 0); /* root's buffer: invisible to uid A */
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, child_list_own, &j), 0);
	/* Root sees everything. */
	r = raw_list(sock, 9, 0);
	assert_non_null(r);
	assert_true(r->list->n_buffers >= 1);
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
}

/* --- producer / consumer: the same bytes on both sides ------------------ */

static int producer(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket), fd = -1;
	static const uint32_t uids[2] = { UID_B, UID_C };
	Dmabufd__Reply *r;
	uint8_t *p;
	char c;

	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, FRAME, DMABUFD_ATTR_CACHED, 0, "camera frame", &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	j->buffer_id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	p = mmap(NULL, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (uint32_t i = 0; i < FRAME; i++)
		p[i] = (uint8_t)(j->fill + i * 7);
	munmap(p, FRAME);
	close(fd);
	r = raw_share(sock, 3, j->buffer_id, uids, j->share_c ? 2 : 1, NULL, 0, NULL, 0, false, 30);
	CHECK(r && r->error == 0 && r->share->token.len == 16);
	memcpy(j->token, r->share->token.data, 16);
	dmabufd__reply__free_unpacked(r, NULL);
	CHECK(write(j->up[1], &j->buffer_id, 8) == 8);
	CHECK(write(j->up[1], j->token, 16) == 16);
	CHECK(read(j->down[0], &c, 1) == 1); /* stay alive until told */
	close(sock);
	return 0;
}

/* Imports the frame, maps it, checks every byte, tells the parent, waits. */
static int consumer(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket), fd = -1;
	Dmabufd__Reply *r;
	uint8_t *p;
	char c = 1;

	CHECK(sock >= 0);
	r = raw_import(sock, 2, j->token, 16, &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	CHECK(r->import->buffer_id == j->buffer_id);
	CHECK(r->import->size == FRAME);
	CHECK(r->import->attribute == DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED);
	CHECK(r->import->owner_uid == UID_A);
	dmabufd__reply__free_unpacked(r, NULL);
	p = mmap(NULL, FRAME, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	for (uint32_t i = 0; i < FRAME; i++)
		CHECK(p[i] == (uint8_t)(j->fill + i * 7));
	munmap(p, FRAME);
	close(fd);
	CHECK(write(j->up[1], &c, 1) == 1);
	CHECK(read(j->down[0], &c, 1) == 1);
	close(sock);
	return 0;
}

/* `dmabufctl list --json` names the owner and the importer of @id. */
static void assert_dmabufctl_list_names(uint64_t id, pid_t owner, pid_t importer)
{
	char cmd[512], out[16384], want[3][64];
	size_t len = 0, n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' list --json", DMABUFCTL_BIN, d.socket);
	f = popen(cmd, "re");
	assert_non_null(f);
	while (len < sizeof(out) - 1 && (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	assert_int_equal(pclose(f), 0);
	snprintf(want[0], sizeof(want[0]), "\"id\":%llu,", (unsigned long long)id);
	snprintf(want[1], sizeof(want[1]), "\"owner_pid\":%d,", (int)owner);
	snprintf(want[2], sizeof(want[2]), "\"pid\":%d,", (int)importer);
	for (int i = 0; i < 3; i++)
		if (!strstr(out, want[i]))
			fail_msg("dmabufctl list --json lacks %s:\n%s", want[i], out);
	assert_non_null(strstr(out, "\"owner_uid\":5001,"));
	assert_non_null(strstr(out, "\"uid\":5002,"));
	assert_non_null(strstr(out, "\"n_importers\":1,"));
}

/* The u64 member @key of @o (asserted present and an integer). */
static uint64_t json_u64(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		fail_msg("dmabufctl top --json: no integer \"%s\" in %s", key,
			 json_object_to_json_string(o));
	return json_object_get_uint64(v);
}

/*
 * `dmabufctl top --json --iterations 1` while the producer (@prod, uid A)
 * owns the frame and the consumer (@cons, uid B) imports it: its "stats"
 * totals count one buffer, token and import of FRAME bytes, and its
 * "clients" rows charge the producer and the consumer, and sum to the
 * totals.
 */
static void assert_dmabufctl_top(pid_t prod, pid_t cons)
{
	char cmd[512], out[16384];
	size_t len = 0, n;
	json_object *top, *st, *rows;
	uint64_t owned = 0, imported = 0;
	bool seen_prod = false, seen_cons = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' top --json --iterations 1", DMABUFCTL_BIN,
		 d.socket);
	f = popen(cmd, "re");
	assert_non_null(f);
	while (len < sizeof(out) - 1 && (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	assert_int_equal(pclose(f), 0);
	top = json_tokener_parse(out);
	if (!top)
		fail_msg("dmabufctl top --json printed no JSON object:\n%s", out);
	assert_true(json_object_object_get_ex(top, "stats", &st));
	assert_true(json_object_object_get_ex(top, "clients", &rows));
	assert_true(json_object_is_type(rows, json_type_array));
	assert_int_equal(json_u64(st, "buffers"), 1);
	assert_int_equal(json_u64(st, "used"), FRAME);
	assert_int_equal(json_u64(st, "tokens"), 1);
	assert_int_equal(json_u64(st, "imports"), 1);
	/* producer, consumer, the test's connection, dmabufctl itself */
	assert_true(json_u64(st, "clients") >= 4);
	assert_true(json_object_array_length(rows) >= 4);
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		json_object *row = json_object_array_get_idx(rows, i);
		uint64_t pid = json_u64(row, "pid");

		owned += json_u64(row, "owned_bytes");
		imported += json_u64(row, "imported_bytes");
		if (pid == (uint64_t)prod) {
			seen_prod = true;
			assert_int_equal(json_u64(row, "uid"), UID_A);
			assert_int_equal(json_u64(row, "gid"), GID_A);
			assert_int_equal(json_u64(row, "owned_bytes"), FRAME);
			assert_int_equal(json_u64(row, "owned_buffers"), 1);
			assert_int_equal(json_u64(row, "imported_bytes"), 0);
			assert_int_equal(json_u64(row, "tokens"), 1);
		} else if (pid == (uint64_t)cons) {
			seen_cons = true;
			assert_int_equal(json_u64(row, "uid"), UID_B);
			assert_int_equal(json_u64(row, "gid"), GID_B);
			assert_int_equal(json_u64(row, "owned_bytes"), 0);
			assert_int_equal(json_u64(row, "imported_bytes"), FRAME);
			assert_int_equal(json_u64(row, "imported_buffers"), 1);
			assert_int_equal(json_u64(row, "tokens"), 0);
		}
	}
	if (!seen_prod || !seen_cons)
		fail_msg("dmabufctl top --json lacks the producer (%d) or consumer (%d) row:\n%s",
			 (int)prod, (int)cons, out);
	/* The rows add up to the totals. */
	assert_int_equal(owned, FRAME);
	assert_int_equal(imported, FRAME);
	json_object_put(top);
}

/* Runs dmabufctl (as the current uid) and returns its exit status. */
static int run_dmabufctl_import(const char *token, int fill)
{
	char fillarg[8];
	pid_t pid;
	int status;

	snprintf(fillarg, sizeof(fillarg), "%d", fill);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(DMABUFCTL_BIN, DMABUFCTL_BIN, "--socket", d.socket, "import", token,
		      "--check-fill", fillarg, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int cli_import_ok(void *arg)
{
	CHECK(run_dmabufctl_import(arg, 7) == 0);
	CHECK(run_dmabufctl_import(arg, 8) == 5); /* wrong pattern: exit 5 */
	return 0;
}

static int cli_import_refused(void *arg)
{
	CHECK(run_dmabufctl_import(arg, 7) == 1); /* refused by the daemon */
	return 0;
}

/* Can this uid run the dmabufctl under test (and so reach its build tree)? */
static int cli_runnable(void *arg)
{
	return access(DMABUFCTL_BIN, X_OK) == 0 ? 0 : 1;
}

/* dmabufctl alloc --fill --share-uid prints a token; dmabufctl import uses it. */
static void test_dmabufctl_share_import(void **state)
{
	char uid[16], line[256], token[64] = "";
	int out[2], status;
	pid_t holder;
	FILE *f;

	if (run_as(UID_B, GID_B, NULL, 0, cli_runnable, NULL) != 0) {
		/* e.g. a tree under /root (mode 0700): nothing to run as uid B. */
		print_message("%s cannot be run by uid %u: the build tree is not reachable "
			      "by other users; skipped\n", DMABUFCTL_BIN, UID_B);
		skip();
	}
	snprintf(uid, sizeof(uid), "%u", UID_B);
	assert_int_equal(pipe(out), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		if (!freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(DMABUFCTL_BIN, DMABUFCTL_BIN, "--socket", d.socket, "alloc", "64K", "--fill",
		      "7", "--share-uid", uid, "--hold", "60", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "token %63s", token) == 1)
			break;
	assert_int_equal(strlen(token), 32);
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, cli_import_ok, token), 0);
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, cli_import_refused, token), 0);
	/* SIGTERM ends the hold; dmabufctl releases and exits 0. */
	assert_int_equal(kill(holder, SIGTERM), 0);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fclose(f);
}

static bool all_released(const Dmabufd__StatsReply *st);

static void test_producer_consumer(void **state)
{
	struct job j = { .socket = d.socket, .fill = 77, .token_len = 16 };
	pid_t prod, cons;
	Dmabufd__Reply *r;
	int sock;
	char c = 1;
	bool found = false;

	/* Start from an empty daemon: the totals below are this pair's. */
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(pipe(j.up), 0);
	assert_int_equal(pipe(j.down), 0);
	prod = spawn_as(UID_A, GID_A, NULL, 0, producer, &j);
	assert_true(prod > 0);
	assert_int_equal(read(j.up[0], &j.buffer_id, 8), 8);
	assert_int_equal(read(j.up[0], j.token, 16), 16);
	cons = spawn_as(UID_B, GID_B, NULL, 0, consumer, &j);
	assert_true(cons > 0);
	assert_int_equal(read(j.up[0], &c, 1), 1); /* consumer has imported and checked */

	/* The list names both: the owner and the importer. */
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_list(sock, 2, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	for (size_t i = 0; i < r->list->n_buffers; i++) {
		Dmabufd__BufferInfo *bi = r->list->buffers[i];

		if (bi->buffer_id != j.buffer_id)
			continue;
		found = true;
		assert_int_equal(bi->owner_pid, prod);
		assert_int_equal(bi->owner_uid, UID_A);
		assert_int_equal(bi->n_importers, 1);
		assert_int_equal(bi->importers[0]->pid, cons);
		assert_int_equal(bi->importers[0]->uid, UID_B);
		assert_int_equal(bi->tokens, 1);
	}
	assert_true(found);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_dmabufctl_list_names(j.buffer_id, prod, cons);
	assert_dmabufctl_top(prod, cons);
	/* Usage: uid A owns the frame, uid B imports it. */
	r = raw_accounting(sock, 3, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	for (size_t i = 0; i < r->accounting->n_entries; i++) {
		Dmabufd__AccountingEntry *e = r->accounting->entries[i];

		if (e->uid == UID_A) {
			assert_int_equal(e->owned_bytes, FRAME);
			assert_int_equal(e->owned_bytes_by_attribute[DMABUFD_ATTR_CACHED], FRAME);
			assert_int_equal(e->imported_bytes, 0);
		} else if (e->uid == UID_B) {
			assert_int_equal(e->owned_bytes, 0);
			assert_int_equal(e->imported_bytes, FRAME);
			assert_int_equal(e->imported_buffers, 1);
		}
	}
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);

	/* Let both go. */
	assert_int_equal(write(j.down[1], &c, 1), 1);
	assert_int_equal(write(j.down[1], &c, 1), 1);
	assert_int_equal(wait_child(cons), 0);
	assert_int_equal(wait_child(prod), 0);
	for (int i = 0; i < 2; i++) {
		close(j.up[i]);
		close(j.down[i]);
	}
}

/* --- owner death with a live importer ----------------------------------- */

static int owner_then_die(void *arg)
{
	/* As producer(): alloc, fill, share to uid B, report, wait; then exit
	 * without releasing anything. */
	return producer(arg);
}

static int importer_outlives_owner(void *arg)
{
	struct job *j = arg;
	int sock = connect_as_client(j->socket), fd = -1;
	Dmabufd__Reply *r;
	uint8_t *p;
	char c = 1;
	bool found = false;

	CHECK(sock >= 0);
	r = raw_import(sock, 2, j->token, 16, &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	CHECK(write(j->up[1], &c, 1) == 1);
	CHECK(read(j->down[0], &c, 1) == 1); /* the owner is gone now */
	/* This client is the owner now and is charged. */
	r = raw_accounting(sock, 3, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_CLIENTS, 0);
	CHECK(r && r->error == 0);
	for (size_t i = 0; i < r->accounting->n_entries; i++) {
		Dmabufd__AccountingEntry *e = r->accounting->entries[i];

		if (e->pid != getpid())
			continue;
		found = true;
		CHECK(e->owned_bytes == FRAME && e->owned_buffers == 1);
		CHECK(e->imported_bytes == 0 && e->imported_buffers == 0);
	}
	CHECK(found); /* this client has its accounting row */
	dmabufd__reply__free_unpacked(r, NULL);
	/* The memory is intact. */
	p = mmap(NULL, FRAME, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(p[FRAME - 1] == (uint8_t)(j->fill + (FRAME - 1) * 7));
	munmap(p, FRAME);
	close(fd);
	CHECK(write(j->up[1], &c, 1) == 1);
	CHECK(read(j->down[0], &c, 1) == 1);
	close(sock); /* exits holding the buffer: the daemon releases it */
	return 0;
}

static bool transferred(const Dmabufd__StatsReply *st)
{
	return st->owner_transfers >= 1;
}

static bool all_released(const Dmabufd__StatsReply *st)
{
	return st->buffers == 0 && st->used == 0 && st->imports == 0 && st->tokens == 0;
}

static void assert_usage_empty(int sock, int kind)
{
	Dmabufd__Reply *r = raw_accounting(sock, 9, kind, 0);

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	for (size_t i = 0; i < r->accounting->n_entries; i++) {
		Dmabufd__AccountingEntry *e = r->accounting->entries[i];

		assert_int_equal(e->owned_bytes, 0);
		assert_int_equal(e->owned_buffers, 0);
		assert_int_equal(e->imported_bytes, 0);
		assert_int_equal(e->imported_buffers, 0);
	}
	if (kind != DMABUFD__ACCOUNTING_KIND__ACCOUNTING_CLIENTS)
		assert_int_equal(r->accounting->n_entries, 0); /* accounts vanish at zero */
	dmabufd__reply__free_unpacked(r, NULL);
}

static void test_owner_death_moves_ownership(void **state)
{
	struct job own = { .socket = d.socket, .fill = 31 };
	struct job imp;
	Dmabufd__Reply *r;
	pid_t owner, importer;
	int sock, status;
	char c = 1;
	bool found = false;

	/* Start from an empty daemon (earlier tests' clients are gone). */
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(pipe(own.up), 0);
	assert_int_equal(pipe(own.down), 0);
	owner = spawn_as(UID_A, GID_A, NULL, 0, owner_then_die, &own);
	assert_true(owner > 0);
	assert_int_equal(read(own.up[0], &own.buffer_id, 8), 8);
	assert_int_equal(read(own.up[0], own.token, 16), 16);
	imp = own;
	assert_int_equal(pipe(imp.up), 0);
	assert_int_equal(pipe(imp.down), 0);
	importer = spawn_as(UID_B, GID_B, NULL, 0, importer_outlives_owner, &imp);
	assert_true(importer > 0);
	assert_int_equal(read(imp.up[0], &c, 1), 1);

	/* The owner exits without releasing. */
	assert_int_equal(write(own.down[1], &c, 1), 1);
	status = wait_child(owner);
	assert_int_equal(status, 0);
	r = wait_stats(d.socket, transferred);
	assert_non_null(r);
	assert_int_equal(r->stats->buffers, 1);
	assert_int_equal(r->stats->used, FRAME);
	assert_int_equal(r->stats->imports, 0);  /* the import became ownership */
	assert_int_equal(r->stats->tokens, 0);   /* tokens die with their creator */
	dmabufd__reply__free_unpacked(r, NULL);

	/* Rule: the earliest live importer is the owner now, and is charged. */
	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_list(sock, 2, 0);
	assert_non_null(r);
	for (size_t i = 0; i < r->list->n_buffers; i++) {
		Dmabufd__BufferInfo *bi = r->list->buffers[i];

		if (bi->buffer_id != own.buffer_id)
			continue;
		found = true;
		assert_int_equal(bi->owner_pid, importer);
		assert_int_equal(bi->owner_uid, UID_B);
		assert_int_equal(bi->owner_gid, GID_B);
		assert_int_equal(bi->n_importers, 0);
		assert_int_equal(bi->owner_transfers, 1);
	}
	assert_true(found);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_accounting(sock, 3, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	assert_non_null(r);
	assert_int_equal(r->accounting->n_entries, 1);
	assert_int_equal(r->accounting->entries[0]->uid, UID_B);
	assert_int_equal(r->accounting->entries[0]->owned_bytes, FRAME);
	assert_int_equal(r->accounting->entries[0]->imported_bytes, 0);
	dmabufd__reply__free_unpacked(r, NULL);

	/* The new owner checks its own charge and the bytes, then exits. */
	assert_int_equal(write(imp.down[1], &c, 1), 1);
	assert_int_equal(read(imp.up[0], &c, 1), 1);
	assert_int_equal(write(imp.down[1], &c, 1), 1);
	assert_int_equal(wait_child(importer), 0);

	/* Everything adds up to zero. */
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_usage_empty(sock, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS);
	assert_usage_empty(sock, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_GIDS);
	assert_usage_empty(sock, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_CLIENTS);
	close(sock);
	for (int i = 0; i < 2; i++) {
		close(own.up[i]);
		close(own.down[i]);
		close(imp.up[i]);
		close(imp.down[i]);
	}
}

static uint64_t transfers_before;

static bool transferred_once_more(const Dmabufd__StatsReply *st)
{
	return st->owner_transfers > transfers_before;
}

static bool one_import(const Dmabufd__StatsReply *st)
{
	return st->imports == 1;
}

/*
 * Two importers (uids B and C), the earlier one (B) disconnects before the
 * owner dies: the rule takes the earliest import *still connected*, so the
 * buffer and its charge go to C, not to the gone B (docs/SHARING.md).
 */
static void test_owner_death_after_first_importer_left(void **state)
{
	struct job own = { .socket = d.socket, .fill = 59, .share_c = true };
	struct job first, second;
	Dmabufd__Reply *r;
	pid_t owner, imp1, imp2;
	int sock;
	char c = 1;
	bool found = false;

	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	transfers_before = r->stats->owner_transfers;
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(pipe(own.up), 0);
	assert_int_equal(pipe(own.down), 0);
	owner = spawn_as(UID_A, GID_A, NULL, 0, owner_then_die, &own);
	assert_true(owner > 0);
	assert_int_equal(read(own.up[0], &own.buffer_id, 8), 8);
	assert_int_equal(read(own.up[0], own.token, 16), 16);
	first = own;
	first.expect = 0;
	assert_int_equal(pipe(first.up), 0);
	assert_int_equal(pipe(first.down), 0);
	imp1 = spawn_as(UID_B, GID_B, NULL, 0, child_import_hold, &first);
	assert_true(imp1 > 0);
	assert_int_equal(read(first.up[0], &c, 1), 1); /* B imported first */
	second = own;
	assert_int_equal(pipe(second.up), 0);
	assert_int_equal(pipe(second.down), 0);
	imp2 = spawn_as(UID_C, GID_C, NULL, 0, importer_outlives_owner, &second);
	assert_true(imp2 > 0);
	assert_int_equal(read(second.up[0], &c, 1), 1); /* then C */

	/* B disconnects; the daemon has ended its import before the owner dies. */
	assert_int_equal(write(first.down[1], &c, 1), 1);
	assert_int_equal(wait_child(imp1), 0);
	r = wait_stats(d.socket, one_import);
	assert_non_null(r);
	assert_int_equal(r->stats->imports, 1);
	assert_int_equal(r->stats->owner_transfers, transfers_before);
	dmabufd__reply__free_unpacked(r, NULL);

	assert_int_equal(write(own.down[1], &c, 1), 1);
	assert_int_equal(wait_child(owner), 0);
	r = wait_stats(d.socket, transferred_once_more);
	assert_non_null(r);
	assert_int_equal(r->stats->owner_transfers, transfers_before + 1);
	assert_int_equal(r->stats->buffers, 1);
	assert_int_equal(r->stats->used, FRAME);
	assert_int_equal(r->stats->imports, 0);
	assert_int_equal(r->stats->tokens, 0);
	dmabufd__reply__free_unpacked(r, NULL);

	sock = connect_as_client(d.socket);
	assert_true(sock >= 0);
	r = raw_list(sock, 2, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	for (size_t i = 0; i < r->list->n_buffers; i++) {
		Dmabufd__BufferInfo *bi = r->list->buffers[i];

		if (bi->buffer_id != own.buffer_id)
			continue;
		found = true;
		assert_int_equal(bi->owner_pid, imp2);
		assert_int_equal(bi->owner_uid, UID_C);
		assert_int_equal(bi->owner_gid, GID_C);
		assert_int_equal(bi->n_importers, 0);
		assert_int_equal(bi->owner_transfers, 1);
	}
	assert_true(found);
	dmabufd__reply__free_unpacked(r, NULL);
	/* Only uid C is charged: nothing for the gone B, nothing left for A. */
	r = raw_accounting(sock, 3, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->accounting->n_entries, 1);
	assert_int_equal(r->accounting->entries[0]->uid, UID_C);
	assert_int_equal(r->accounting->entries[0]->owned_bytes, FRAME);
	assert_int_equal(r->accounting->entries[0]->owned_buffers, 1);
	assert_int_equal(r->accounting->entries[0]->imported_bytes, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_accounting(sock, 4, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_GIDS, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->accounting->n_entries, 1);
	assert_int_equal(r->accounting->entries[0]->gid, GID_C);
	assert_int_equal(r->accounting->entries[0]->owned_bytes, FRAME);
	dmabufd__reply__free_unpacked(r, NULL);

	/* C checks its own client row and the bytes, then exits. */
	assert_int_equal(write(second.down[1], &c, 1), 1);
	assert_int_equal(read(second.up[0], &c, 1), 1);
	assert_int_equal(write(second.down[1], &c, 1), 1);
	assert_int_equal(wait_child(imp2), 0);
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_usage_empty(sock, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS);
	assert_usage_empty(sock, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_GIDS);
	close(sock);
	for (int i = 0; i < 2; i++) {
		close(own.up[i]);
		close(own.down[i]);
		close(first.up[i]);
		close(first.down[i]);
		close(second.up[i]);
		close(second.down[i]);
	}
}

/* The owner Releases while an importer holds the buffer: same rule. */
static void test_owner_release_moves_ownership(void **state)
{
	static const uint32_t uid_b = UID_B;
	struct job j = { .socket = d.socket, .fill = 3 };
	int sock = connect_as_client(d.socket);
	Dmabufd__Reply *r;
	pid_t importer;
	uint64_t id;
	char c = 1;
	bool found = false;

	assert_true(sock >= 0);
	id = alloc_filled(sock, 8192, j.fill);
	share_to(sock, &j, id, &uid_b, 1, NULL, 0, NULL, 0, false, 0);
	assert_int_equal(pipe(j.up), 0);
	assert_int_equal(pipe(j.down), 0);
	j.expect = 0;
	importer = spawn_as(UID_B, GID_B, NULL, 0, child_import_hold, &j);
	assert_true(importer > 0);
	assert_int_equal(read(j.up[0], &c, 1), 1);
	assert_int_equal(reply_errno(raw_release(sock, 5, id)), 0);
	/* The owner let go: it cannot release or share it any more. */
	expect_err(raw_release(sock, 6, id), -ENOENT);
	r = raw_list(sock, 7, 0);
	assert_non_null(r);
	for (size_t i = 0; i < r->list->n_buffers; i++) {
		Dmabufd__BufferInfo *bi = r->list->buffers[i];

		if (bi->buffer_id != id)
			continue;
		found = true;
		assert_int_equal(bi->owner_pid, importer);
		assert_int_equal(bi->owner_uid, UID_B);
		assert_int_equal(bi->n_importers, 0);
		assert_int_equal(bi->owner_transfers, 1);
		assert_int_equal(bi->tokens, 0); /* the old owner's tokens died */
	}
	assert_true(found);
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(write(j.down[1], &c, 1), 1);
	assert_int_equal(wait_child(importer), 0);
	close(sock);
	for (int i = 0; i < 2; i++) {
		close(j.up[i]);
		close(j.down[i]);
	}
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
}

static int alloc_and_exit(void *arg)
{
	int sock = connect_as_client(arg), fd = -1;
	Dmabufd__Reply *r;

	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, 4096, DMABUFD_ATTR_CACHED, 0, "orphan", &fd);
	CHECK(r && r->error == 0);
	dmabufd__reply__free_unpacked(r, NULL);
	return 0;
}

static void test_owner_death_without_importer_releases(void **state)
{
	Dmabufd__Reply *r = wait_stats(d.socket, all_released);
	uint64_t transfers;

	assert_non_null(r);
	transfers = r->stats->owner_transfers;
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, alloc_and_exit, d.socket), 0);
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	assert_int_equal(r->stats->owner_transfers, transfers); /* released, not moved */
	dmabufd__reply__free_unpacked(r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_uid_cannot_import),
		cmocka_unit_test(test_named_group_and_pid),
		cmocka_unit_test(test_single_use_token),
		cmocka_unit_test(test_expired_token),
		cmocka_unit_test(test_wrong_and_withdrawn_tokens),
		cmocka_unit_test(test_disallowed_group_refused),
		cmocka_unit_test(test_share_limits),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_list_shows_own_buffers),
		cmocka_unit_test(test_producer_consumer),
		cmocka_unit_test(test_dmabufctl_share_import),
		cmocka_unit_test(test_owner_death_moves_ownership),
		cmocka_unit_test(test_owner_death_after_first_importer_left),
		cmocka_unit_test(test_owner_death_without_importer_releases),
		cmocka_unit_test(test_owner_release_moves_ownership),
	};

	require_root();
	return cmocka_run_group_tests(tests, setup, teardown);
}
