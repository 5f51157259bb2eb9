/* SPDX-License-Identifier: MIT */
/*
 * The region allocator inside the daemon: placement, fragmentation, the
 * automatic compaction when an Alloc fails for fragmentation only, and the
 * administrator's Compact request. Contents and fds survive every move.
 * The cases work in a 16 MiB arena, the only free space (make_arena()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"
#include "harness.h"

#define MiB (1024ull * 1024)
#define N 16

static struct daemon_proc d;
static struct dmabufd_client *client;
/* Holds pinned filler over all of the region but the 16 MiB arena. */
static struct dmabufd_client *filler;
/* Stats' used bytes with the arena free: the filler's (0 on memfd). */
static uint64_t filler_used;

/*
 * Leaves exactly one free run of 16 MiB (the arena the cases below work in)
 * and nothing else free: a pinned 16 MiB buffer takes the arena, pinned
 * filler buffers (largest free run each, never moved by compaction) take
 * whatever else the backend reports free, then the arena is released. On
 * memfd with --capacity 16M there is nothing to fill; on kmod the region is
 * the VM's ZONE_MOVABLE (--capacity does not apply) less the frames the
 * daemon reserved as unusable at start, so the Stats free figures decide.
 * Return: 0, or a negative errno.
 */
static int make_arena(void)
{
	struct dmabufd_buffer arena, b;
	struct dmabufd_stats st;
	struct dmabufd_info info;
	int err;

	err = dmabufd_get_info(client, &info);
	if (err < 0)
		return err;
	err = dmabufd_alloc(client, 16 * MiB, 0, DMABUFD_ATTR_CACHED, 0, "arena", &arena);
	if (err < 0)
		return err;
	close(arena.fd);
	for (int i = 0; i < 1000; i++) {
		uint64_t run;

		err = dmabufd_stats(filler, &st);
		if (err < 0 || st.free_pages == 0)
			break;
		run = st.largest_free_pages * st.page_size;
		if (run > info.max_alloc)
			run = info.max_alloc;
		err = dmabufd_alloc(filler, run, 0, DMABUFD_ATTR_CACHED, 0, "filler", &b);
		if (err < 0)
			break;
		close(b.fd);
	}
	if (err == 0 && st.free_pages != 0)
		err = -EAGAIN;
	if (err < 0) {
		fprintf(stderr, "error: filling the region: %d (%s)\n", err, dmabufd_last_reason(filler));
		return err;
	}
	err = dmabufd_release(client, arena.id);
	if (err < 0)
		return err;
	err = dmabufd_stats(client, &st);
	if (err < 0)
		return err;
	filler_used = st.used;
	return 0;
}

static int setup(void **state)
{
	static const char *const args[] = { "--capacity", "16M", NULL };

	if (geteuid() != 0)
		return 0; /* each test skips */
	if (daemon_start(&d, args) < 0)
		return -1;
	if (dmabufd_connect(d.socket, &client) < 0 || dmabufd_connect(d.socket, &filler) < 0)
		return -1;
	return make_arena();
}

static int teardown(void **state)
{
	if (geteuid() != 0)
		return 0;
	dmabufd_disconnect(filler);
	dmabufd_disconnect(client);
	return daemon_stop(&d) == 0 ? 0 : -1;
}

static void fill(int fd, uint64_t size, uint8_t v)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	memset(p, v, size);
	munmap(p, size);
}

static void check(int fd, uint64_t size, uint8_t v)
{
	uint8_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	assert_true(p != MAP_FAILED);
	for (uint64_t i = 0; i < size; i += 4096)
		assert_int_equal(p[i], v);
	munmap(p, size);
}

/*
 * Stats once @free_bytes are free, polling for up to 5 s: a buffer whose fd
 * the client still holds at Release stays placed until its last reference
 * is gone (docs/THREAT_MODEL.md, "Memory kept after release"): on kmod
 * until the module's RELEASED event reaches the daemon, on dma-heap and
 * udmabuf until the daemon's next poll of the dma-buf's reference count,
 * either of which may come after the next request. memfd frees them at
 * Release: the first Stats already matches. The caller asserts the figure.
 */
static void stats_when_free(uint64_t free_bytes, struct dmabufd_stats *st)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 500; i++) {
		assert_int_equal(dmabufd_stats(client, st), 0);
		if (st->free_pages * st->page_size == free_bytes)
			return;
		nanosleep(&ts, NULL);
	}
}

/* 16 movable 1 MiB buffers, every other one released: 8 holes of 1 MiB. */
static void fragment(struct dmabufd_buffer bufs[N], uint64_t offsets[N])
{
	struct dmabufd_stats st;

	for (int i = 0; i < N; i++) {
		assert_int_equal(dmabufd_alloc(client, MiB, 0, DMABUFD_ATTR_CACHED,
					       DMABUFD_ALLOC_MOVABLE, "frag", &bufs[i]), 0);
		offsets[i] = bufs[i].offset;
		fill(bufs[i].fd, MiB, (uint8_t)(i + 1));
	}
	/* placements never overlap */
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_true(offsets[i] + MiB <= offsets[j] || offsets[j] + MiB <= offsets[i]);
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(dmabufd_release(client, bufs[i].id), 0);
		close(bufs[i].fd);
		bufs[i].fd = -1;
	}
	stats_when_free(8 * MiB, &st);
	assert_int_equal(st.free_pages * st.page_size, 8 * MiB);
	assert_int_equal(st.largest_free_pages * st.page_size, MiB);
	assert_true(st.fragmentation_permille >= 800);
	assert_int_equal(st.movable_buffers, N / 2);
}

static void release_rest(struct dmabufd_buffer bufs[N])
{
	for (int i = 1; i < N; i += 2) {
		check(bufs[i].fd, MiB, (uint8_t)(i + 1));
		assert_int_equal(dmabufd_release(client, bufs[i].id), 0);
		close(bufs[i].fd);
	}
}

static void test_alloc_compacts_when_fragmented(void **state)
{
	struct dmabufd_buffer bufs[N], big;
	struct dmabufd_stats before, after;
	uint64_t offsets[N];

	if (geteuid() != 0)
		skip();
	fragment(bufs, offsets);
	assert_int_equal(dmabufd_stats(client, &before), 0);
	/* 4 MiB fits the free total but no hole: the daemon compacts first. */
	assert_int_equal(dmabufd_alloc(client, 4 * MiB, 0, DMABUFD_ATTR_CACHED, 0, "big", &big), 0);
	assert_int_equal(dmabufd_stats(client, &after), 0);
	assert_true(after.compaction_moves > before.compaction_moves);
	/* the bound the planner states: at most npages + 2 * (largest movable - 1) */
	assert_true(after.compaction_bytes - before.compaction_bytes <= 4 * MiB + 2 * MiB);
	/* moved buffers kept their contents and their fds */
	release_rest(bufs);
	assert_int_equal(dmabufd_release(client, big.id), 0);
	close(big.fd);
	/* The next case starts from the whole arena, in address order. */
	stats_when_free(16 * MiB, &before);
}

static void test_pinned_buffers_block_and_stay(void **state)
{
	struct dmabufd_buffer pinned[N], big;
	struct dmabufd_compact_result res;
	struct dmabufd_stats st;

	if (geteuid() != 0)
		skip();
	/* pinned buffers, every other one released: compaction cannot help */
	for (int i = 0; i < N; i++)
		assert_int_equal(dmabufd_alloc(client, MiB, 0, DMABUFD_ATTR_CACHED, 0, "pin",
					       &pinned[i]), 0);
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(dmabufd_release(client, pinned[i].id), 0);
		close(pinned[i].fd);
	}
	stats_when_free(8 * MiB, &st);
	assert_int_equal(st.free_pages * st.page_size, 8 * MiB);
	assert_int_equal(dmabufd_alloc(client, 2 * MiB, 0, DMABUFD_ATTR_CACHED, 0, "big", &big),
			 -ENOSPC);
	assert_int_equal(dmabufd_compact(client, &res), 0);
	assert_int_equal(res.moves, 0);
	assert_int_equal(dmabufd_stats(client, &st), 0);
	assert_int_equal(st.largest_free_pages * st.page_size, MiB);
	for (int i = 1; i < N; i += 2) {
		assert_int_equal(dmabufd_release(client, pinned[i].id), 0);
		close(pinned[i].fd);
	}
	stats_when_free(16 * MiB, &st);
}

static void test_compact_request(void **state)
{
	struct dmabufd_buffer bufs[N];
	struct dmabufd_compact_result res;
	struct dmabufd_buffer_info *list;
	struct dmabufd_stats st;
	uint64_t offsets[N], compactions;
	size_t n, frag = 0;

	if (geteuid() != 0)
		skip();
	fragment(bufs, offsets);
	assert_int_equal(dmabufd_stats(client, &st), 0);
	compactions = st.compactions;
	assert_int_equal(dmabufd_compact(client, &res), 0);
	assert_true(res.moves > 0);
	assert_int_equal(res.moves, res.planned_moves);
	assert_int_equal(res.largest_free_before, MiB);
	assert_int_equal(res.largest_free_after, 8 * MiB);
	assert_int_equal(dmabufd_stats(client, &st), 0);
	assert_int_equal(st.fragmentation_permille, 0);
	assert_int_equal(st.compactions, compactions + 1);
	/* List reports the new placements, still disjoint */
	assert_int_equal(dmabufd_list(client, &list, &n), 0);
	for (size_t i = 0; i < n; i++)
		frag += strcmp(list[i].label, "frag") == 0;
	assert_int_equal(frag, N / 2);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_true(list[i].offset + list[i].size <= list[j].offset ||
				    list[j].offset + list[j].size <= list[i].offset);
	dmabufd_list_free(list);
	release_rest(bufs);
	stats_when_free(16 * MiB, &st);
	assert_int_equal(st.used, filler_used);
	assert_int_equal(st.free_pages * st.page_size, 16 * MiB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_compacts_when_fragmented),
		cmocka_unit_test(test_pinned_buffers_block_and_stay),
		cmocka_unit_test(test_compact_request),
	};

	if (geteuid() != 0)
		return 77; /* Compact is root-only */
	return cmocka_run_group_tests(tests, setup, teardown);
}
