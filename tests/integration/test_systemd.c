/* SPDX-License-Identifier: MIT */
/*
 * dmabufd under a (fake) service manager.
 *  - notify: READY=1 only once it serves; WATCHDOG=1 at half of
 *    WATCHDOG_USEC; STATUS= follows allocations; RELOADING=1/READY=1
 *    around SIGHUP; STOPPING=1 on SIGTERM.
 *  - restart without loss: buffers and their accounting survive a restart
 *    through the fd store; orphans are claimed by a reconnecting owner or
 *    released when the owner exits; corrupt or foreign state is refused;
 *    the store never holds more than --fdstore-max fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "sdmgr.h"

#define PAGE 4096u

static struct sdmgr mgr;

static int setup(void **state)
{
	assert_int_equal(sdmgr_init(&mgr), 0);
	return 0;
}

static int teardown(void **state)
{
	sdmgr_finish(&mgr);
	return 0;
}

/*
 * A wait for something that must happen: longer (x6) when the daemon runs
 * under $DMABUFD_TEST_WRAPPER (valgrind), whose start-up and event
 * handling are far slower. Waits that expect nothing keep their length.
 */
static int slow(int ms)
{
	return ms * (daemon_start_timeout_ms() / 10000);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static Dmabufd__Reply *raw_list(int sock, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__List l = DMABUFD__LIST__INIT;

	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_LIST;
	req.list = &l;
	if (raw_send(sock, &req, NULL, 0) < 0)
		return NULL;
	return raw_recv(sock, slow(5000), NULL);
}

/* Allocates @size bytes, fills them with @byte; returns the buffer id, *ret_fd the fd. */
static uint64_t alloc_filled(int sock, uint64_t size, unsigned char byte, int *ret_fd)
{
	Dmabufd__Reply *r = raw_alloc(sock, 10, size, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0,
				      "sdtest", ret_fd);
	uint64_t id;
	void *p;

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_ALLOC);
	id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	assert_true(*ret_fd >= 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *ret_fd, 0);
	assert_true(p != MAP_FAILED);
	memset(p, byte, size);
	munmap(p, size);
	return id;
}

/* Every byte of @fd's first @size bytes is @byte. */
static void assert_filled(int fd, uint64_t size, unsigned char byte)
{
	unsigned char *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	for (uint64_t i = 0; i < size; i++)
		if (p[i] != byte)
			fail_msg("byte %llu is 0x%02x, expected 0x%02x", (unsigned long long)i, p[i],
				 byte);
	munmap(p, size);
}

static void get_stats(int sock, uint64_t *used, uint32_t *buffers, uint32_t *orphaned)
{
	Dmabufd__Reply *r = raw_stats(sock, 20);

	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_STATS);
	*used = r->stats->used;
	*buffers = r->stats->buffers;
	*orphaned = r->stats->orphaned_buffers;
	dmabufd__reply__free_unpacked(r, NULL);
}

static void start_ready(const char *const *args, bool pass_store)
{
	char msg[512];

	assert_int_equal(sdmgr_start(&mgr, args, pass_store, 0), 0);
	assert_int_equal(sdmgr_wait(&mgr, "READY=1", slow(10000), msg, sizeof(msg)), 0);
}

/* ---- notify ----------------------------------------------------------------- */

static void test_notify(void **state)
{
	const char *args[] = { "--socket", "/nonexistent/dmabufd-unused", NULL };
	char msg[512], ready_status[256];
	int sock, fd, n;
	long t0;
	uint64_t id;

	assert_int_equal(sdmgr_start(&mgr, args, false, 200000), 0);
	assert_int_equal(sdmgr_wait(&mgr, "READY=1", slow(10000), msg, sizeof(msg)), 0);
	/* READY=1 comes with the first STATUS= and means "serving now": no retry. */
	assert_non_null(strstr(msg, "STATUS=backend memfd: 0 buffers"));
	snprintf(ready_status, sizeof(ready_status), "%s", mgr.last_status);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);

	/* WATCHDOG_USEC=200000: WATCHDOG=1 every 100 ms; expect >= 4 in 1 s. */
	t0 = now_ms();
	n = 0;
	while (now_ms() - t0 < 1000)
		if (sdmgr_wait(&mgr, "WATCHDOG=1", 300, NULL, 0) == 0)
			n++;
	assert_in_range(n, 4, 15);

	/* STATUS= changes after an allocation. */
	id = alloc_filled(sock, 3 * PAGE, 0x5a, &fd);
	assert_int_equal(id, 1);
	assert_int_equal(sdmgr_wait(&mgr, "STATUS=", slow(2000), msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "1 buffers"));
	assert_non_null(strstr(msg, "12288/"));
	assert_string_not_equal(mgr.last_status, ready_status);

	/* SIGHUP: RELOADING=1 (with MONOTONIC_USEC=), then READY=1 again. */
	kill(mgr.pid, SIGHUP);
	assert_int_equal(sdmgr_wait(&mgr, "RELOADING=1", slow(2000), msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "MONOTONIC_USEC="));
	assert_int_equal(sdmgr_wait(&mgr, "READY=1", slow(2000), msg, sizeof(msg)), 0);

	close(fd);
	close(sock);
	kill(mgr.pid, SIGTERM);
	assert_int_equal(sdmgr_wait(&mgr, "STOPPING=1", slow(5000), NULL, 0), 0);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

/* Without WATCHDOG_USEC, no WATCHDOG=1 is sent. */
static void test_no_watchdog(void **state)
{
	start_ready(NULL, false);
	assert_int_equal(sdmgr_wait(&mgr, "WATCHDOG=1", 700, NULL, 0), -ETIMEDOUT);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

/* ---- restart without loss ----------------------------------------------------- */

static void test_restart_keeps_buffers(void **state)
{
	int sock, fd1, fd2, fd3, fd_stored;
	uint64_t id1, id2, id3, used_before, used_after;
	uint32_t nbuf_before, nbuf_after, orph;
	struct stat st_client, st_stored;
	Dmabufd__Reply *r;

	start_ready(NULL, false);
	assert_true(sdmgr_stored_fd(&mgr, "state") >= 0);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	id1 = alloc_filled(sock, 2 * PAGE, 0x11, &fd1);
	id2 = alloc_filled(sock, 5 * PAGE, 0x22, &fd2);
	/* Releasing a buffer removes it from the store. */
	r = raw_release(sock, 30, id2);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	id3 = alloc_filled(sock, 3 * PAGE, 0x33, &fd3);
	get_stats(sock, &used_before, &nbuf_before, &orph);
	assert_int_equal(used_before, 5 * PAGE);
	assert_int_equal(nbuf_before, 2);
	assert_int_equal(orph, 0);
	sdmgr_drain(&mgr);
	{
		char n1[32], n2[32], n3[32];

		snprintf(n1, sizeof(n1), "buf-%llu", (unsigned long long)id1);
		snprintf(n2, sizeof(n2), "buf-%llu", (unsigned long long)id2);
		snprintf(n3, sizeof(n3), "buf-%llu", (unsigned long long)id3);
		assert_true(sdmgr_stored_fd(&mgr, n1) >= 0);
		assert_int_equal(sdmgr_stored_fd(&mgr, n2), -1);
		fd_stored = sdmgr_stored_fd(&mgr, n3);
		assert_true(fd_stored >= 0);
	}
	assert_int_equal(mgr.nstore, 3); /* state, buf-1, buf-3 */

	/* The daemon goes away while the client still holds its fds. */
	assert_int_equal(sdmgr_stop(&mgr), 0);
	assert_true(raw_wait_closed(sock, slow(2000)));
	close(sock);
	assert_int_equal(mgr.nstore, 3); /* a stop removes nothing from the store */

	start_ready(NULL, true);
	/* Restored as orphans of this process until it reconnects. */
	assert_non_null(strstr(mgr.last_status, "2 buffers (2 orphaned), 20480/"));

	/* Same file as the client's fd, contents intact. */
	assert_int_equal(fstat(fd3, &st_client), 0);
	assert_int_equal(fstat(fd_stored, &st_stored), 0);
	assert_int_equal(st_client.st_ino, st_stored.st_ino);
	assert_filled(fd1, 2 * PAGE, 0x11);
	assert_filled(fd_stored, 3 * PAGE, 0x33);

	/* Reconnecting claims them: accounting as before, owner = this pid. */
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	get_stats(sock, &used_after, &nbuf_after, &orph);
	assert_int_equal(used_after, used_before);
	assert_int_equal(nbuf_after, nbuf_before);
	assert_int_equal(orph, 0);
	r = raw_list(sock, 40);
	assert_non_null(r);
	assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_LIST);
	assert_int_equal(r->list->n_buffers, 2);
	assert_int_equal(r->list->buffers[0]->buffer_id, id1);
	assert_int_equal(r->list->buffers[0]->size, 2 * PAGE);
	assert_int_equal(r->list->buffers[0]->owner_pid, getpid());
	assert_int_equal(r->list->buffers[0]->owner_uid, getuid());
	assert_string_equal(r->list->buffers[0]->label, "sdtest");
	assert_false(r->list->buffers[0]->orphaned);
	assert_int_equal(r->list->buffers[1]->buffer_id, id3);
	dmabufd__reply__free_unpacked(r, NULL);

	/* Ids are never reused: the next one is past the released id 2 too. */
	{
		int fd4;
		uint64_t id4 = alloc_filled(sock, PAGE, 0x44, &fd4);

		assert_true(id4 > id3);
		close(fd4);
	}
	/* The claimed buffer can be released, and leaves the store. */
	r = raw_release(sock, 50, id1);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	dmabufd__reply__free_unpacked(r, NULL);
	get_stats(sock, &used_after, &nbuf_after, &orph);
	assert_int_equal(used_after, 4 * PAGE);
	sdmgr_drain(&mgr);
	{
		char n1[32];

		snprintf(n1, sizeof(n1), "buf-%llu", (unsigned long long)id1);
		assert_int_equal(sdmgr_stored_fd(&mgr, n1), -1);
	}
	/* Closing the connection releases the rest as before the restart. */
	close(sock);
	assert_int_equal(sdmgr_wait(&mgr, "FDSTOREREMOVE=1", slow(2000), NULL, 0), 0);
	for (int i = 0; i < 20 && mgr.nstore > 1; i++)
		sdmgr_wait(&mgr, "FDSTOREREMOVE=1", 200, NULL, 0);
	assert_int_equal(mgr.nstore, 1); /* only the state */
	close(fd1);
	close(fd2);
	close(fd3);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

/* A restored buffer whose owner process exits is released (pidfd). */
static void test_orphan_released_when_owner_exits(void **state)
{
	int to_child[2], from_child[2], sock, status;
	uint64_t used;
	uint32_t nbuf, orph;
	Dmabufd__Reply *r;
	pid_t child;
	char c;

	start_ready(NULL, false);
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from_child, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int s, fd = -1;
		Dmabufd__Reply *cr;

		/* EOF on to_child when the parent goes away, whatever happens. */
		close(to_child[1]);
		close(from_child[0]);
		s = raw_connect_hello(mgr.socket_path);
		if (s < 0)
			_exit(1);
		cr = raw_alloc(s, 2, 4 * PAGE, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "child", &fd);
		if (!cr || cr->error || fd < 0)
			_exit(2);
		if (write(from_child[1], "a", 1) != 1)
			_exit(3);
		/* Keep the fd, lose the connection with the daemon, then exit on request. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	close(from_child[1]);
	from_child[1] = -1;
	/* EOF here means the child failed before its allocation. */
	assert_int_equal(read(from_child[0], &c, 1), 1);
	sdmgr_drain(&mgr);
	assert_int_equal(mgr.nstore, 2);

	assert_int_equal(sdmgr_stop(&mgr), 0);
	start_ready(NULL, true);
	assert_non_null(strstr(mgr.last_status, "1 buffers (1 orphaned), 16384/"));

	/* Another process sees the orphan, charged to the child. */
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	get_stats(sock, &used, &nbuf, &orph);
	assert_int_equal(used, 4 * PAGE);
	assert_int_equal(nbuf, 1);
	assert_int_equal(orph, 1);
	r = raw_list(sock, 3);
	assert_non_null(r);
	assert_int_equal(r->list->n_buffers, 1);
	assert_int_equal(r->list->buffers[0]->owner_pid, child);
	assert_true(r->list->buffers[0]->orphaned);
	dmabufd__reply__free_unpacked(r, NULL);
	/* ... but cannot release it: it is not the owner. */
	r = raw_release(sock, 4, 1);
	assert_non_null(r);
	assert_int_equal(r->error, -ENOENT);
	dmabufd__reply__free_unpacked(r, NULL);

	/* The owner exits: the buffer is released and leaves the store. */
	assert_int_equal(write(to_child[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (getenv("DMABUFD_TEST_WRAPPER") && getenv("DMABUFD_TEST_WRAPPER")[0]) {
		/*
		 * valgrind 3.19 (Debian 12) does not implement pidfd_open
		 * (syscall 434: "unhandled amd64-linux syscall" in its log), so
		 * the daemon takes its ENOSYS fallback and keeps the orphan
		 * until the owner reconnects: the release cannot be observed.
		 * Stop cleanly (the exit status carries memcheck's verdict).
		 */
		close(sock);
		close(to_child[0]);
		close(to_child[1]);
		close(from_child[0]);
		assert_int_equal(sdmgr_stop(&mgr), 0);
		skip();
	}
	assert_int_equal(sdmgr_wait(&mgr, "FDSTOREREMOVE=1", slow(5000), NULL, 0), 0);
	get_stats(sock, &used, &nbuf, &orph);
	assert_int_equal(used, 0);
	assert_int_equal(nbuf, 0);
	assert_int_equal(orph, 0);
	assert_int_equal(mgr.nstore, 1);
	close(sock);
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

/* Sets up a store holding one buffer (id 1, 2 pages) and stops the daemon. */
static int store_one_buffer(int *ret_client_fd)
{
	int sock;
	uint64_t id;

	start_ready(NULL, false);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	id = alloc_filled(sock, 2 * PAGE, 0x77, ret_client_fd);
	assert_int_equal(id, 1);
	sdmgr_drain(&mgr);
	assert_int_equal(sdmgr_stop(&mgr), 0);
	close(sock);
	assert_int_equal(mgr.nstore, 2);
	return sdmgr_stored_fd(&mgr, "state");
}

static void flip_byte(int fd, off_t off)
{
	unsigned char b;

	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
}

/* Restarts and expects nothing restored, the refused fds removed, service intact. */
static void assert_refused_and_serving(int client_fd)
{
	uint64_t used;
	uint32_t nbuf, orph;
	int sock, fd;

	start_ready(NULL, true);
	assert_non_null(strstr(mgr.last_status, "0 buffers"));
	sdmgr_drain(&mgr);
	assert_int_equal(sdmgr_stored_fd(&mgr, "buf-1"), -1);
	/* The client's own fd is untouched. */
	assert_filled(client_fd, 2 * PAGE, 0x77);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	get_stats(sock, &used, &nbuf, &orph);
	assert_int_equal(used, 0);
	assert_int_equal(nbuf, 0);
	alloc_filled(sock, PAGE, 1, &fd);
	close(fd);
	close(sock);
	close(client_fd);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

static void test_corrupt_record_refused(void **state)
{
	int client_fd, state_fd = store_one_buffer(&client_fd);

	assert_true(state_fd >= 0);
	/* A byte of the first record's size field: its CRC no longer matches. */
	flip_byte(state_fd, 64 + 17);
	assert_refused_and_serving(client_fd);
}

static void test_foreign_state_refused(void **state)
{
	int client_fd, state_fd = store_one_buffer(&client_fd);
	uint32_t version = 3 /* this daemon reads 1 and 2 */;

	assert_true(state_fd >= 0);
	/* A later format version (header CRC left as is): refused outright. */
	assert_int_equal(pwrite(state_fd, &version, 4, 8), 4);
	assert_refused_and_serving(client_fd);
}

static void test_truncated_state_refused(void **state)
{
	int client_fd, state_fd = store_one_buffer(&client_fd);

	assert_true(state_fd >= 0);
	/* The header claims more slots than the file holds: never read past it. */
	assert_int_equal(ftruncate(state_fd, 64 + 192), 0);
	assert_refused_and_serving(client_fd);
}

static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

/*
 * A version 1 state (what the daemon wrote before import records): read,
 * its buffer restored, and the state rewritten as version 2.
 */
static void test_v1_state_migrated(void **state)
{
	int client_fd, state_fd = store_one_buffer(&client_fd);
	uint8_t h[64], r[192];
	uint32_t v, crc;
	int sock;
	uint64_t used;
	uint32_t nbuf, orph;

	assert_true(state_fd >= 0);
	assert_int_equal(pread(state_fd, h, sizeof(h), 0), sizeof(h));
	assert_int_equal(pread(state_fd, r, sizeof(r), 64), sizeof(r));
	assert_memory_equal(r, "DBR2", 4);
	/* Header: version 1. Record: "DBR1", no charge fields. */
	v = 1;
	memcpy(h + 8, &v, 4);
	crc = crc32_ieee(h, 60);
	memcpy(h + 60, &crc, 4);
	memcpy(r, "DBR1", 4);
	memset(r + 152, 0, 40);
	crc = crc32_ieee(r + 8, 184);
	memcpy(r + 4, &crc, 4);
	assert_int_equal(pwrite(state_fd, h, sizeof(h), 0), sizeof(h));
	assert_int_equal(pwrite(state_fd, r, sizeof(r), 64), sizeof(r));

	start_ready(NULL, true);
	assert_non_null(strstr(mgr.last_status, "1 buffers"));
	sdmgr_drain(&mgr);
	state_fd = sdmgr_stored_fd(&mgr, "state");
	assert_true(state_fd >= 0);
	assert_int_equal(pread(state_fd, h, sizeof(h), 0), sizeof(h));
	memcpy(&v, h + 8, 4);
	assert_int_equal(v, 2);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	get_stats(sock, &used, &nbuf, &orph);
	assert_int_equal(nbuf, 1);
	assert_int_equal(used, 2 * PAGE);
	close(sock);
	assert_filled(client_fd, 2 * PAGE, 0x77);
	close(client_fd);
	sdmgr_drain(&mgr);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

static void test_wrong_size_fd_refused(void **state)
{
	int client_fd, state_fd = store_one_buffer(&client_fd);
	int other;

	assert_true(state_fd >= 0);
	/* Swap buf-1 for a memfd of another size: the record does not match it. */
	other = memfd_create("impostor", MFD_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(ftruncate(other, PAGE), 0);
	for (size_t i = 0; i < mgr.nstore; i++)
		if (strcmp(mgr.store[i].name, "buf-1") == 0) {
			close(mgr.store[i].fd);
			mgr.store[i].fd = other;
		}
	assert_refused_and_serving(client_fd);
}

/*
 * Random corruption of the state between restarts: the daemon always comes
 * up and serves, and its accounting stays consistent (Stats used = the sum
 * of the sizes List shows, buffers = the number listed).
 */
static void test_random_corruption(void **state)
{
	unsigned seed = 12345;

	start_ready(NULL, false);
	for (int iter = 0; iter < 24; iter++) {
		int sock, fd, state_fd;
		uint64_t used, sum = 0;
		uint32_t nbuf, orph;
		Dmabufd__Reply *r;

		sock = raw_connect_hello(mgr.socket_path);
		assert_true(sock >= 0);
		get_stats(sock, &used, &nbuf, &orph);
		r = raw_list(sock, 5);
		assert_non_null(r);
		assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_LIST);
		assert_int_equal(r->list->n_buffers, nbuf);
		for (size_t i = 0; i < r->list->n_buffers; i++)
			sum += r->list->buffers[i]->size;
		dmabufd__reply__free_unpacked(r, NULL);
		assert_int_equal(sum, used);
		/* Add two buffers (this process owns them and claims them after each restart). */
		if (nbuf < 6) {
			alloc_filled(sock, (1 + iter % 3) * PAGE, (unsigned char)iter, &fd);
			close(fd);
			alloc_filled(sock, PAGE, (unsigned char)iter, &fd);
			close(fd);
		}
		sdmgr_drain(&mgr);
		assert_int_equal(sdmgr_stop(&mgr), 0);
		/*
		 * Keep the connection open until the daemon is gone, so that
		 * its buffers stay live in the store.
		 */
		close(sock);
		state_fd = sdmgr_stored_fd(&mgr, "state");
		assert_true(state_fd >= 0);
		/* Flip 1-3 random bytes in the header or the first records. */
		for (int k = 0; k < 1 + iter % 3; k++) {
			seed = seed * 1103515245u + 12345u;
			if (iter % 4 != 3) /* every fourth round restores intact */
				flip_byte(state_fd, (off_t)((seed >> 8) % (64 + 8 * 192)));
		}
		start_ready(NULL, true);
	}
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

/* --fdstore-max bounds the store: state + (max - 1) buffers. */
static void test_store_limit(void **state)
{
	const char *args[] = { "--fdstore-max", "3", NULL };
	int sock, fds[4];
	uint64_t used;
	uint32_t nbuf, orph;

	start_ready(args, false);
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	for (int i = 0; i < 4; i++)
		alloc_filled(sock, PAGE, (unsigned char)i, &fds[i]);
	sdmgr_drain(&mgr);
	assert_int_equal(mgr.nstore, 3);
	get_stats(sock, &used, &nbuf, &orph);
	assert_int_equal(nbuf, 4); /* all four are served */
	assert_int_equal(sdmgr_stop(&mgr), 0);
	close(sock);
	start_ready(args, true);
	assert_non_null(strstr(mgr.last_status, "2 buffers (2 orphaned)"));
	/* Ids are not reused even though buffers 3 and 4 were not stored. */
	sock = raw_connect_hello(mgr.socket_path);
	assert_true(sock >= 0);
	{
		int fd5;

		assert_int_equal(alloc_filled(sock, PAGE, 9, &fd5), 5);
		close(fd5);
	}
	close(sock);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	assert_int_equal(sdmgr_stop(&mgr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_watchdog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_released_when_owner_exits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_state_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_state_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_size_fd_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_state_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_corruption, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
