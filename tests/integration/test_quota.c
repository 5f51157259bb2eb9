/* SPDX-License-Identifier: MIT */
/*
 * Quotas against the real daemon: per client, per uid, per gid,
 * per attribute, from [quota] defaults and [uid:]/[gid:] sections. Each
 * limit is hit by a client running as a test uid; the refusal must be
 * -EDQUOT with a reason naming the limit, and the daemon must go on
 * serving other clients. Runs as root; otherwise exits 77.
 * A third daemon (bypass_config_text, uid-bytes = 4M) is attacked the two
 * ways that once held more than the quota: keeping the fds of released
 * buffers (test_kept_fds_stay_within_quota) and passing ownership back and
 * forth between two uids (test_transfer_ping_pong). The first runs on
 * every backend in the vm-heaps VM test, kmod included.
 * A second daemon (attr_config_text) holds the per-attribute defaults of
 * the client and gid scopes; its write-combine and uncached cases run
 * where Hello offers those attributes (kmod, in the vm-heaps VM test) and
 * are skipped elsewhere.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

static struct daemon_proc d;
static char conf[128];

static const char config_text[] =
	"[access]\n"
	"users = *\n"
	"[quota]\n"
	"client-bytes = 1M\n"
	"client-buffers = 4\n"
	"uid-bytes = 2M\n"
	"uid-buffers = 6\n"
	"gid-bytes = 3M\n"
	"[uid:5002]\n"
	"cached-bytes = 256K ; per-attribute limit; bytes/buffers inherit [quota]\n"
	"[uid:5003]\n"
	"bytes = 8M\n"
	"buffers = 100\n"
	"[gid:5010]\n"
	"buffers = 3\n"
	"[share]\n"
	"max-tokens-per-client = 3\n"
	"max-imports-per-client = 2\n";

/* What a child does: @nclients connections, each allocating @per_client
 * buffers of @size bytes; the allocation number @fail_at (counting from 0
 * over all clients) must fail with -EDQUOT and a reason containing @needle. */
struct plan {
	const char *socket;
	int nclients;
	int per_client;
	uint64_t size;
	int fail_at;
	const char *needle;
	enum dmabufd_attribute attr; /* of every allocation (0: CACHED) */
};

static int run_plan(void *arg)
{
	const struct plan *p = arg;
	int socks[8], n = 0;

	CHECK(p->nclients <= 8);
	for (int c = 0; c < p->nclients; c++) {
		socks[c] = connect_as_client(p->socket);
		CHECK(socks[c] >= 0);
		for (int i = 0; i < p->per_client; i++, n++) {
			int fd = -1;
			Dmabufd__Reply *r = raw_alloc(socks[c], 2 + (uint64_t)i, p->size,
						      p->attr, 0, "q", &fd);

			CHECK(r != NULL);
			if (n == p->fail_at) {
				if (r->error != -EDQUOT || !strstr(r->reason, p->needle))
					fprintf(stderr, "alloc %d: %d \"%s\", want -EDQUOT \"%s\"\n", n,
						r->error, r->reason, p->needle);
				CHECK(r->error == -EDQUOT);
				CHECK(strstr(r->reason, p->needle) != NULL);
				CHECK(fd < 0);
				dmabufd__reply__free_unpacked(r, NULL);
				return 0; /* exiting closes every connection */
			} else {
				if (r->error)
					fprintf(stderr, "alloc %d: %d \"%s\"\n", n, r->error, r->reason);
				CHECK(r->error == 0);
				close(fd);
			}
			dmabufd__reply__free_unpacked(r, NULL);
		}
	}
	fprintf(stderr, "the plan never reached allocation %d\n", p->fail_at);
	return 1;
}

static bool all_released(const Dmabufd__StatsReply *st)
{
	return st->buffers == 0 && st->used == 0;
}

/* Another uid still gets served after a refusal. */
static int alloc_one(void *arg)
{
	int sock = connect_as_client(arg), fd = -1;
	Dmabufd__Reply *r;

	CHECK(sock >= 0);
	r = raw_alloc(sock, 2, 64 * KiB, DMABUFD_ATTR_CACHED, 0, "other", &fd);
	CHECK(r && r->error == 0 && fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	close(sock);
	return 0;
}

static void run_case(uid_t uid, gid_t gid, struct plan *p)
{
	Dmabufd__Reply *r = wait_stats(d.socket, all_released);
	uint64_t refusals;

	assert_non_null(r);
	refusals = r->stats->quota_refusals;
	dmabufd__reply__free_unpacked(r, NULL);
	p->socket = d.socket;
	assert_int_equal(run_as(uid, gid, NULL, 0, run_plan, p), 0);
	assert_int_equal(run_as(5099, 5099, NULL, 0, alloc_one, d.socket), 0);
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	assert_int_equal(r->stats->quota_refusals, refusals + 1);
	dmabufd__reply__free_unpacked(r, NULL);
}

static int setup(void **state)
{
	require_root();
	return daemon_start_conf(&d, config_text, NULL, conf) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	return daemon_stop_conf(&d, conf) == 0 ? 0 : -1;
}

static void test_client_bytes(void **state)
{
	/* 512K, 512K, then 512K more on one client: over client-bytes = 1M. */
	struct plan p = { .nclients = 1, .per_client = 3, .size = 512 * KiB, .fail_at = 2,
			  .needle = "client bytes = 1048576" };

	run_case(5001, 5001, &p);
}

static void test_client_buffers(void **state)
{
	struct plan p = { .nclients = 1, .per_client = 5, .size = 4 * KiB, .fail_at = 4,
			  .needle = "client buffers = 4" };

	run_case(5001, 5001, &p);
}

static void test_uid_bytes(void **state)
{
	/* Three clients of one uid, 1M each: the third passes client-bytes
	 * but not uid-bytes = 2M. */
	struct plan p = { .nclients = 3, .per_client = 1, .size = 1 * MiB, .fail_at = 2,
			  .needle = "[quota] uid 5001 bytes = 2097152" };

	run_case(5001, 5001, &p);
}

static void test_uid_buffers(void **state)
{
	/* Two clients, 4 + 3 buffers: the 7th is over uid-buffers = 6. */
	struct plan p = { .nclients = 2, .per_client = 4, .size = 4 * KiB, .fail_at = 6,
			  .needle = "[quota] uid 5001 buffers = 6" };

	run_case(5001, 5001, &p);
}

static void test_uid_attribute_bytes(void **state)
{
	/* [uid:5002] cached-bytes = 256K. */
	struct plan p = { .nclients = 1, .per_client = 2, .size = 256 * KiB, .fail_at = 1,
			  .needle = "[uid:] uid 5002 cached-bytes = 262144" };

	run_case(5002, 5002, &p);
}

static void test_gid_bytes(void **state)
{
	/* uid 5003 has bytes = 8M of its own, its gid the default 3M. */
	struct plan p = { .nclients = 4, .per_client = 1, .size = 1 * MiB, .fail_at = 3,
			  .needle = "[quota] gid 5020 bytes = 3145728" };

	run_case(5003, 5020, &p);
}

static void test_gid_section_buffers(void **state)
{
	struct plan p = { .nclients = 1, .per_client = 4, .size = 4 * KiB, .fail_at = 3,
			  .needle = "[gid:] gid 5010 buffers = 3" };

	run_case(5003, 5010, &p);
}

struct tokens_job {
	const char *socket;
	uint8_t tokens[3][16];
};

/* uid 5001 imports three buffers; max-imports-per-client = 2. */
static int import_three(void *arg)
{
	struct tokens_job *j = arg;
	int sock = connect_as_client(j->socket);

	CHECK(sock >= 0);
	for (int i = 0; i < 3; i++) {
		int fd = -1;
		Dmabufd__Reply *r = raw_import(sock, 2 + (uint64_t)i, j->tokens[i], 16, &fd);

		CHECK(r != NULL);
		if (i < 2) {
			CHECK(r->error == 0 && fd >= 0);
			close(fd);
		} else {
			CHECK(r->error == -EMFILE && fd < 0);
			CHECK(strstr(r->reason, "max-imports-per-client = 2") != NULL);
		}
		dmabufd__reply__free_unpacked(r, NULL);
	}
	close(sock);
	return 0;
}

static void test_share_client_limits(void **state)
{
	static const uint32_t uid = 5001;
	struct tokens_job j = { .socket = d.socket };
	int sock = connect_as_client(d.socket);
	uint64_t ids[3];
	Dmabufd__Reply *r;

	assert_true(sock >= 0);
	for (int i = 0; i < 3; i++) {
		int fd = -1;

		r = raw_alloc(sock, 2 + (uint64_t)i, 4 * KiB, DMABUFD_ATTR_CACHED, 0, "s", &fd);
		assert_non_null(r);
		assert_int_equal(r->error, 0);
		ids[i] = r->alloc->buffer_id;
		dmabufd__reply__free_unpacked(r, NULL);
		close(fd);
		r = raw_share(sock, 10 + (uint64_t)i, ids[i], &uid, 1, NULL, 0, NULL, 0, false, 0);
		assert_non_null(r);
		assert_int_equal(r->error, 0);
		memcpy(j.tokens[i], r->share->token.data, 16);
		dmabufd__reply__free_unpacked(r, NULL);
	}
	/* max-tokens-per-client = 3: a fourth token on any buffer is refused. */
	r = raw_share(sock, 20, ids[0], &uid, 1, NULL, 0, NULL, 0, false, 0);
	assert_non_null(r);
	assert_int_equal(r->error, -ETOOMANYREFS);
	assert_non_null(strstr(r->reason, "max-tokens-per-client = 3"));
	dmabufd__reply__free_unpacked(r, NULL);
	assert_int_equal(run_as(5001, 5001, NULL, 0, import_three, &j), 0);
	close(sock);
	assert_int_equal(run_as(5099, 5099, NULL, 0, alloc_one, d.socket), 0);
}

/* --- per-attribute defaults of the client and gid scopes ------------------ */

static const char attr_config_text[] =
	"[access]\n"
	"users = *\n"
	"[quota]\n"
	"client-cached-bytes = 512K\n"
	"gid-cached-bytes = 1M\n"
	"client-writecombine-bytes = 256K\n"
	"uid-uncached-bytes = 128K\n";

/* Hello's attributes of the second daemon: bit (1 << enum dmabufd_attribute). */
static uint32_t offered;

static int setup_attr(void **state)
{
	Dmabufd__Reply *hello = NULL;
	int sock;

	if (daemon_start_conf(&d, attr_config_text, NULL, conf) < 0)
		return -1;
	sock = raw_connect_hello_reply(d.socket, &hello);
	if (sock < 0)
		return -1;
	offered = hello->hello->attributes;
	dmabufd__reply__free_unpacked(hello, NULL);
	close(sock);
	return 0;
}

static void test_client_cached_bytes(void **state)
{
	/* 256K, 256K, then 256K more cached on one client: over 512K. */
	struct plan p = { .nclients = 1, .per_client = 3, .size = 256 * KiB, .fail_at = 2,
			  .needle = "client cached-bytes = 524288" };

	run_case(5001, 5001, &p);
}

static void test_gid_cached_bytes(void **state)
{
	/* Three clients of gid 5030, 512K cached each (each within its own
	 * client-cached-bytes): the third is over gid-cached-bytes = 1M. */
	struct plan p = { .nclients = 3, .per_client = 1, .size = 512 * KiB, .fail_at = 2,
			  .needle = "[quota] gid 5030 cached-bytes = 1048576" };

	run_case(5003, 5030, &p);
}

static void test_client_writecombine_bytes(void **state)
{
	struct plan p = { .nclients = 1, .per_client = 3, .size = 128 * KiB, .fail_at = 2,
			  .needle = "client writecombine-bytes = 262144",
			  .attr = DMABUFD_ATTR_WRITECOMBINE };

	if (!(offered & (1u << DMABUFD_ATTR_WRITECOMBINE))) {
		print_message("the backend offers no write-combine buffers (Hello)\n");
		skip();
	}
	run_case(5001, 5001, &p);
}

static void test_uid_uncached_bytes(void **state)
{
	/* Two clients of uid 5004, 64K uncached each, then one more. */
	struct plan p = { .nclients = 3, .per_client = 1, .size = 64 * KiB, .fail_at = 2,
			  .needle = "[quota] uid 5004 uncached-bytes = 131072",
			  .attr = DMABUFD_ATTR_UNCACHED };

	if (!(offered & (1u << DMABUFD_ATTR_UNCACHED))) {
		print_message("the backend offers no uncached buffers (Hello)\n");
		skip();
	}
	run_case(5004, 5004, &p);
}

/* ---- the two ways around a quota -------------------------------------- */

static const char bypass_config_text[] =
	"[access]\n"
	"users = *\n"
	"[quota]\n"
	"uid-bytes = 4M\n";

#define BYPASS_BUF (1 * MiB)
#define BYPASS_ROUNDS 12   /* three times the quota */

struct kept {
	const char *socket;
	bool dmabuf;       /* kmod, dma-heap, udmabuf: the charge stays */
};

/*
 * uid A allocates 1 MiB buffers, fills them, keeps fd and mapping, and
 * releases them. dma-buf backends: the 5th allocation is refused
 * (-EDQUOT: 4 MiB still held), and once every fd and mapping is closed
 * the quota comes back. memfd: every allocation is granted, but every
 * kept mapping is empty: no page of a released buffer stays behind.
 */
static int keep_fds(void *arg)
{
	const struct kept *k = arg;
	unsigned char *maps[BYPASS_ROUNDS] = { 0 };
	int fds[BYPASS_ROUNDS], sock = connect_as_client(k->socket), n = 0;
	unsigned char vec[BYPASS_BUF / 4096];
	bool refused = false;

	CHECK(sock >= 0);
	CHECK(sysconf(_SC_PAGESIZE) == 4096);
	for (int i = 0; i < BYPASS_ROUNDS; i++) {
		Dmabufd__Reply *r = raw_alloc(sock, 10 + (uint64_t)i, BYPASS_BUF,
					      DMABUFD_ATTR_CACHED, 0, "kept", &fds[i]);
		uint64_t id;

		CHECK(r != NULL);
		if (r->error) {
			if (r->error != -EDQUOT || !k->dmabuf)
				fprintf(stderr, "alloc %d: %d \"%s\"\n", i, r->error, r->reason);
			CHECK(r->error == -EDQUOT && k->dmabuf);
			CHECK(i == 4);
			dmabufd__reply__free_unpacked(r, NULL);
			refused = true;
			break;
		}
		id = r->alloc->buffer_id;
		dmabufd__reply__free_unpacked(r, NULL);
		maps[i] = mmap(NULL, BYPASS_BUF, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		CHECK(maps[i] != MAP_FAILED);
		memset(maps[i], 0xa5, BYPASS_BUF);
		r = raw_release(sock, 100 + (uint64_t)i, id);
		CHECK(r != NULL && r->error == 0);
		dmabufd__reply__free_unpacked(r, NULL);
		n++;
	}
	CHECK(refused == k->dmabuf);
	for (int i = 0; i < n; i++) {
		if (!k->dmabuf) {
			/* Emptied at release: zeroes, and no page resident. */
			CHECK(mincore(maps[i], BYPASS_BUF, vec) == 0);
			for (size_t p = 0; p < sizeof(vec); p++)
				CHECK(!(vec[p] & 1));
			CHECK(maps[i][0] == 0 && maps[i][BYPASS_BUF - 1] == 0);
		}
		munmap(maps[i], BYPASS_BUF);
		close(fds[i]);
	}
	if (k->dmabuf) {
		/* The last reference is gone: the charge ends (kmod at once, others within a poll). */
		for (int t = 0;; t++) {
			int fd = -1;
			Dmabufd__Reply *r = raw_alloc(sock, 200 + (uint64_t)t, 4 * BYPASS_BUF,
						      DMABUFD_ATTR_CACHED, 0, "after", &fd);

			CHECK(r != NULL);
			if (r->error == 0) {
				close(fd);
				dmabufd__reply__free_unpacked(r, NULL);
				break;
			}
			CHECK(r->error == -EDQUOT && t < 50);
			dmabufd__reply__free_unpacked(r, NULL);
			sleep_ms(100);
		}
	}
	close(sock);
	return 0;
}

static void test_kept_fds_stay_within_quota(void **state)
{
	Dmabufd__Reply *hello = NULL, *r;
	struct kept k = { .socket = d.socket };
	int sock = raw_connect_hello_reply(d.socket, &hello);

	assert_true(sock >= 0);
	k.dmabuf = strcmp(hello->hello->backend, "memfd") != 0;
	dmabufd__reply__free_unpacked(hello, NULL);
	close(sock);
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, keep_fds, &k), 0);
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
}

/* uid B imports every token it is sent, then holds its imports until told. */
struct pingpong {
	const char *socket;
	int tokens[2];     /* A -> B: tokens */
	int acks[2];       /* B -> A: imported */
	int done[2];       /* parent -> B: EOF = exit */
};

static int importer(void *arg)
{
	struct pingpong *pp = arg;
	uint8_t token[16];
	int sock = connect_as_client(pp->socket);
	char c;

	/* Only A writes tokens and only the parent ends the wait: EOF then. */
	close(pp->tokens[1]);
	close(pp->done[1]);
	CHECK(sock >= 0);
	while (read(pp->tokens[0], token, sizeof(token)) == (ssize_t)sizeof(token)) {
		int fd = -1;
		Dmabufd__Reply *r = raw_import(sock, 3, token, sizeof(token), &fd);

		CHECK(r != NULL && r->error == 0 && fd >= 0);
		dmabufd__reply__free_unpacked(r, NULL);
		CHECK(write(pp->acks[1], "i", 1) == 1);
	}
	CHECK(write(pp->acks[1], "e", 1) == 1);
	(void)!read(pp->done[0], &c, 1);
	close(sock);
	return 0;
}

/*
 * uid A fills its quota, passes the buffer to uid B (share, import,
 * release), and again: B's quota takes the first, not the second, which
 * stays charged to A, so A's third allocation is refused.
 */
static int pass_on(void *arg)
{
	struct pingpong *pp = arg;
	int sock = connect_as_client(pp->socket);
	const uint32_t uid_b = UID_B;
	char c;

	CHECK(sock >= 0);
	for (int round = 0; round < 3; round++) {
		int fd = -1;
		Dmabufd__Reply *r = raw_alloc(sock, 10, 4 * MiB, DMABUFD_ATTR_CACHED, 0, "pp", &fd);
		uint64_t id;

		CHECK(r != NULL);
		if (round == 2) {
			if (r->error != -EDQUOT)
				fprintf(stderr, "round 2: %d \"%s\"\n", r->error, r->reason);
			CHECK(r->error == -EDQUOT);
			CHECK(strstr(r->reason, "uid 5001") != NULL);
			dmabufd__reply__free_unpacked(r, NULL);
			break;
		}
		CHECK(r->error == 0);
		id = r->alloc->buffer_id;
		dmabufd__reply__free_unpacked(r, NULL);
		close(fd);
		r = raw_share(sock, 11, id, &uid_b, 1, NULL, 0, NULL, 0, true, 0);
		CHECK(r != NULL && r->error == 0);
		CHECK(write(pp->tokens[1], r->share->token.data, 16) == 16);
		dmabufd__reply__free_unpacked(r, NULL);
		CHECK(read(pp->acks[0], &c, 1) == 1 && c == 'i');
		r = raw_release(sock, 12, id);
		CHECK(r != NULL && r->error == 0);
		dmabufd__reply__free_unpacked(r, NULL);
	}
	close(sock);
	return 0;
}

/* Owned bytes of uid @uid in the Accounting rows (0 when it has none). */
static uint64_t uid_owned(int sock, uint32_t uid)
{
	Dmabufd__Reply *r = raw_accounting(sock, 30, DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS, 0);
	uint64_t owned = 0;

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	for (size_t i = 0; i < r->accounting->n_entries; i++)
		if (r->accounting->entries[i]->uid == uid)
			owned = r->accounting->entries[i]->owned_bytes;
	dmabufd__reply__free_unpacked(r, NULL);
	return owned;
}

static void test_transfer_ping_pong(void **state)
{
	struct pingpong pp = { .socket = d.socket };
	Dmabufd__Reply *r;
	pid_t b;
	int sock;
	char c;

	assert_int_equal(pipe(pp.tokens), 0);
	assert_int_equal(pipe(pp.acks), 0);
	assert_int_equal(pipe(pp.done), 0);
	b = spawn_as(UID_B, GID_B, NULL, 0, importer, &pp);
	assert_true(b > 0);
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, pass_on, &pp), 0);
	close(pp.tokens[1]);
	assert_int_equal(read(pp.acks[0], &c, 1), 1);
	assert_int_equal(c, 'e');
	/* B owns both buffers; the one its quota could not take is charged to A. */
	sock = raw_connect_hello(d.socket);
	assert_true(sock >= 0);
	assert_int_equal(uid_owned(sock, UID_B), 4 * MiB);
	assert_int_equal(uid_owned(sock, UID_A), 4 * MiB);
	r = raw_list(sock, 31, 0);
	assert_non_null(r);
	assert_int_equal(r->list->n_buffers, 2);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(r->list->buffers[i]->owner_uid, UID_B);
	dmabufd__reply__free_unpacked(r, NULL);
	close(pp.done[1]);
	assert_int_equal(wait_child(b), 0);
	/*
	 * B exits: both buffers and both charges are gone — on dma-heap and
	 * udmabuf within a poll (a second) when B's dma-buf fds outlive its
	 * connection by a moment (held buffers, docs/THREAT_MODEL.md).
	 */
	r = wait_stats(d.socket, all_released);
	assert_non_null(r);
	dmabufd__reply__free_unpacked(r, NULL);
	for (int t = 0; t < 50 && (uid_owned(sock, UID_A) || uid_owned(sock, UID_B)); t++)
		sleep_ms(100);
	assert_int_equal(uid_owned(sock, UID_A), 0);
	assert_int_equal(uid_owned(sock, UID_B), 0);
	close(sock);
	close(pp.tokens[0]);
	close(pp.acks[0]);
	close(pp.acks[1]);
	close(pp.done[0]);
}

static int setup_bypass(void **state)
{
	require_root();
	return daemon_start_conf(&d, bypass_config_text, NULL, conf) < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_bytes),
		cmocka_unit_test(test_client_buffers),
		cmocka_unit_test(test_uid_bytes),
		cmocka_unit_test(test_uid_buffers),
		cmocka_unit_test(test_uid_attribute_bytes),
		cmocka_unit_test(test_gid_bytes),
		cmocka_unit_test(test_gid_section_buffers),
		cmocka_unit_test(test_share_client_limits),
	};

	const struct CMUnitTest attr_tests[] = {
		cmocka_unit_test(test_client_cached_bytes),
		cmocka_unit_test(test_gid_cached_bytes),
		cmocka_unit_test(test_client_writecombine_bytes),
		cmocka_unit_test(test_uid_uncached_bytes),
	};
	const struct CMUnitTest bypass_tests[] = {
		cmocka_unit_test(test_kept_fds_stay_within_quota),
		cmocka_unit_test(test_transfer_ping_pong),
	};
	int failed;

	require_root();
	failed = cmocka_run_group_tests(tests, setup, teardown);
	failed += cmocka_run_group_tests(attr_tests, setup_attr, teardown);
	failed += cmocka_run_group_tests(bypass_tests, setup_bypass, teardown);
	return failed;
}
