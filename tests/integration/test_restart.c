/* SPDX-License-Identifier: MIT */
/*
 * A restart keeps sharing whole: owner A (uid 5001) shares a buffer with
 * importer B (uid 5002); the daemon is SIGKILLed and restarted from its fd
 * store (a fake service manager, sdmgr.c). After the restart the buffer is
 * A's orphan, charged to uid A, and B's import is restored (B's uid row
 * shows the imported bytes). A reconnects (claiming the buffer) and exits:
 * the buffer passes to B, whose process still maps it (its bytes intact),
 * and B's uid is charged; B exits: everything is gone. And if B exits
 * first, its restored import ends and A keeps buffer and charge. Runs as root
 * (other uids); otherwise exits 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"
#include "sdmgr.h"
#include "share_helpers.h"

#define MiB (1024ull * 1024)
#define SIZE (8 * MiB)
#define FILL 0x5a

static struct sdmgr mgr;
static char conf[256];

struct pair {
	const char *socket;
	int token[2];    /* A -> B */
	int a_ready[2];  /* A -> parent */
	int a_go[2];     /* parent -> A: reconnect and exit */
	int b_ready[2];  /* B -> parent: imported / bytes intact */
	int b_go[2];     /* parent -> B: check the bytes, then exit at EOF */
	pid_t a, b;      /* owner A's and importer B's processes */
};

static void close_pipe(int p[2])
{
	close(p[0]);
	close(p[1]);
}

static int owner_a(void *arg)
{
	struct pair *pp = arg;
	const uint32_t uid_b = UID_B;
	int sock = connect_as_client(pp->socket), fd = -1;
	Dmabufd__Reply *r;
	uint64_t id;
	void *p;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
	/* Keep only our own ends: the others must see EOF when their writer goes. */
	close(pp->a_go[1]);
	close(pp->b_go[1]);
	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, SIZE, DMABUFD_ATTR_CACHED, 0, "shared", &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	memset(p, FILL, SIZE);
	munmap(p, SIZE);
	r = raw_share(sock, 3, id, &uid_b, 1, NULL, 0, NULL, 0, false, 0);
	CHECK(r && r->error == 0);
	CHECK(write(pp->token[1], r->share->token.data, 16) == 16);
	dmabufd__reply__free_unpacked(r, NULL);
	/* The daemon is killed now: this connection dies with it. */
	CHECK(read(pp->a_go[0], &c, 1) == 1);
	close(sock);
	/* Connect again (claiming the restored buffer), say so, and exit. */
	sock = connect_as_client(pp->socket);
	CHECK(sock >= 0);
	r = raw_stats(sock, 4);
	CHECK(r && r->error == 0);
	dmabufd__reply__free_unpacked(r, NULL);
	CHECK(write(pp->a_ready[1], "a", 1) == 1);
	return 0;
}

static int importer_b(void *arg)
{
	struct pair *pp = arg;
	int sock = connect_as_client(pp->socket), fd = -1;
	uint8_t token[16];
	unsigned char *p;
	Dmabufd__Reply *r;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
	close(pp->a_go[1]);
	close(pp->b_go[1]);
	CHECK(sock >= 0);
	CHECK(read(pp->token[0], token, sizeof(token)) == (ssize_t)sizeof(token));
	r = raw_import(sock, 2, token, sizeof(token), &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(write(pp->b_ready[1], "i", 1) == 1);
	/* B keeps this connection (the restart ends it) and never connects again. */
	while (read(pp->b_go[0], &c, 1) == 1) {
		for (size_t i = 0; i < SIZE; i += 4096)
			CHECK(p[i] == FILL);
		CHECK(write(pp->b_ready[1], "k", 1) == 1);
	}
	close(sock);
	return 0;
}

/* The uid row of @uid: owned and imported bytes (0, 0 without a row). */
static void uid_row(uint32_t uid, uint64_t *owned, uint64_t *imported)
{
	Dmabufd__Reply *r;
	int sock;

	/* The daemon blocks on a full notify socket: read what it sent. */
	sdmgr_drain(&mgr);
	sock = raw_connect_hello(mgr.socket_path);

	if (sock < 0)
		fail_msg("connect: %s", strerror(-sock));
	r = raw_accounting(sock, 5, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	*owned = *imported = 0;
	for (size_t i = 0; i < r->accounting->n_entries; i++)
		if (r->accounting->entries[i]->uid == uid) {
			*owned = r->accounting->entries[i]->owned_bytes;
			*imported = r->accounting->entries[i]->imported_bytes;
		}
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
}

static uint64_t stats_used(uint32_t *ret_buffers)
{
	Dmabufd__Reply *r;
	uint64_t used;
	int sock;

	sdmgr_drain(&mgr);
	sock = raw_connect_hello(mgr.socket_path);

	assert_true(sock >= 0);
	r = raw_stats(sock, 6);
	assert_non_null(r);
	used = r->stats->used;
	*ret_buffers = r->stats->buffers;
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	return used;
}

/* Waits (5 s) until uid @uid's row reads @owned / @imported. */
static void wait_row(uint32_t uid, uint64_t owned, uint64_t imported)
{
	uint64_t o = 0, i = 0;

	for (int t = 0; t < 100; t++) {
		uid_row(uid, &o, &i);
		if (o == owned && i == imported)
			return;
		sleep_ms(50);
	}
	fail_msg("uid %u: owned %llu imported %llu, expected %llu / %llu", (unsigned)uid,
		 (unsigned long long)o, (unsigned long long)i, (unsigned long long)owned,
		 (unsigned long long)imported);
}

static void start_ready(bool pass_store)
{
	const char *args[] = { "--config", conf, NULL };

	assert_int_equal(sdmgr_start(&mgr, args, pass_store, 0), 0);
	assert_int_equal(sdmgr_wait(&mgr, "READY=1", 10000, NULL, 0), 0);
}

/*
 * Opens @pp's pipes, starts the daemon without a store, and spawns owner A
 * and importer B (pp->a, pp->b); returns once B has imported A's buffer.
 */
static void pair_start(struct pair *pp)
{
	char c;

	/* O_CLOEXEC: the daemon, started after them, must not hold them. */
	assert_int_equal(pipe2(pp->token, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pp->a_ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pp->a_go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pp->b_ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pp->b_go, O_CLOEXEC), 0);
	start_ready(false);
	pp->a = spawn_as(UID_A, GID_A, NULL, 0, owner_a, pp);
	pp->b = spawn_as(UID_B, GID_B, NULL, 0, importer_b, pp);
	assert_true(pp->a > 0 && pp->b > 0);
	assert_int_equal(read(pp->b_ready[0], &c, 1), 1);
}

/* SIGKILLs the daemon (nothing written on the way out), restarts it from its fd store. */
static void restart_after_sigkill(void)
{
	sdmgr_drain(&mgr);
	assert_int_equal(kill(mgr.pid, SIGKILL), 0);
	assert_int_equal(waitpid(mgr.pid, NULL, 0), mgr.pid);
	mgr.pid = 0;
	sdmgr_drain(&mgr);
	start_ready(true);
}

/* Waits up to 5 s until the daemon holds no byte; @ret_buffers as stats_used(). */
static uint64_t wait_used_zero(uint32_t *ret_buffers)
{
	for (int t = 0; t < 100 && stats_used(ret_buffers); t++)
		sleep_ms(50);
	return stats_used(ret_buffers);
}

/* Stops the daemon and closes @pp's pipes (the test closed b_go's write end). */
static void pair_finish(struct pair *pp)
{
	sdmgr_drain(&mgr);
	assert_int_equal(sdmgr_stop(&mgr), 0);
	close_pipe(pp->token);
	close_pipe(pp->a_ready);
	close_pipe(pp->a_go);
	close_pipe(pp->b_ready);
	close(pp->b_go[0]);
}

static void test_import_survives_sigkill(void **state)
{
	struct pair pp = { .socket = mgr.socket_path };
	uint32_t nbuf;
	char c;

	pair_start(&pp);
	wait_row(UID_A, SIZE, 0);
	wait_row(UID_B, 0, SIZE);

	/* SIGKILL: nothing is written on the way out; the store has it all. */
	restart_after_sigkill();
	assert_non_null(strstr(mgr.last_status, "1 buffers (1 orphaned)"));
	wait_row(UID_A, SIZE, 0);
	wait_row(UID_B, 0, SIZE);
	assert_int_equal(stats_used(&nbuf), SIZE);

	/* A reconnects, claims the buffer and exits: it passes to B. */
	assert_int_equal(write(pp.a_go[1], "g", 1), 1);
	assert_int_equal(read(pp.a_ready[0], &c, 1), 1);
	assert_int_equal(wait_child(pp.a), 0);
	wait_row(UID_A, 0, 0);
	wait_row(UID_B, SIZE, 0);
	assert_int_equal(stats_used(&nbuf), SIZE);
	assert_int_equal(nbuf, 1);
	assert_int_equal(write(pp.b_go[1], "c", 1), 1);
	assert_int_equal(read(pp.b_ready[0], &c, 1), 1);
	assert_int_equal(c, 'k');

	/* B exits (pidfd): the buffer is released, every row is empty. */
	close(pp.b_go[1]);
	pp.b_go[1] = -1;
	assert_int_equal(wait_child(pp.b), 0);
	assert_int_equal(wait_used_zero(&nbuf), 0);
	assert_int_equal(nbuf, 0);
	wait_row(UID_B, 0, 0);
	pair_finish(&pp);
}

/*
 * The importer exits before it connects again: its restored import ends
 * (pidfd), the owner keeps the buffer and the charge; the owner then
 * reconnects and exits: nothing is left.
 */
static void test_restored_import_ends_with_its_process(void **state)
{
	struct pair pp = { .socket = mgr.socket_path };
	uint32_t nbuf;
	char c;

	pair_start(&pp);
	wait_row(UID_B, 0, SIZE);
	restart_after_sigkill();
	wait_row(UID_B, 0, SIZE);

	close(pp.b_go[1]);
	pp.b_go[1] = -1;
	assert_int_equal(wait_child(pp.b), 0);
	wait_row(UID_B, 0, 0);
	wait_row(UID_A, SIZE, 0);
	assert_int_equal(stats_used(&nbuf), SIZE);

	assert_int_equal(write(pp.a_go[1], "g", 1), 1);
	assert_int_equal(read(pp.a_ready[0], &c, 1), 1);
	assert_int_equal(wait_child(pp.a), 0);
	wait_row(UID_A, 0, 0);
	assert_int_equal(wait_used_zero(&nbuf), 0);
	pair_finish(&pp);
}

static int setup(void **state)
{
	require_root();
	if (getenv("DMABUFD_TEST_WRAPPER") && getenv("DMABUFD_TEST_WRAPPER")[0]) {
		/* valgrind has no pidfd_open: the owner's exit cannot be seen. */
		fprintf(stderr, "skipped under $DMABUFD_TEST_WRAPPER\n");
		exit(77);
	}
	assert_int_equal(sdmgr_init(&mgr), 0);
	/* Let the test's other uids reach the socket. */
	assert_int_equal(chmod(mgr.dir, 0755), 0);
	assert_int_equal(chmod(mgr.socket_path, 0666), 0);
	snprintf(conf, sizeof(conf), "%s/dmabufd.conf", mgr.dir);
	return write_conf(conf, "[access]\nusers = *\n") < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	sdmgr_finish(&mgr);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_survives_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restored_import_ends_with_its_process, setup,
						teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
