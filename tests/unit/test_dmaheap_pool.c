/* SPDX-License-Identifier: MIT */
/*
 * The dma-heap backend's pre-zeroed pool (daemon/backend/dmaheap.c on
 * daemon/backend/pool.c).
 *
 * Default (no device needed):
 * - pool.c with a factory making memfds: pool_charge() (what the backend
 *   does for buffers of heaps it does not pool) evicts pooled buffers so
 *   that live + pooled <= capacity, counts neither hit nor miss, and the
 *   worker refills once pool_put() gives the room back; a pool_put() of
 *   more than was charged does not wrap the live total (the pool would
 *   never refill again); a pooled fd is handed out once.
 * - the backend's routing on a fake /dev/dma_heap (probe_set_test_root(),
 *   regular files, so every DMA_HEAP_IOCTL_ALLOC fails with ENOTTY): only a
 *   CACHED non-contiguous request on a non-CMA heap goes to the pool (a
 *   miss), a CONTIGUOUS one to the CMA heap does not; with only a CMA heap
 *   there is no pool.
 *
 * --real: the backend on the running kernel's /dev/dma_heap/system (exit
 * 77 without it; tests/vm/heaps-vm.sh runs it in the VM): pool hits hand
 * out dma-bufs that read all zeroes, every round, while the former owners
 * keep writing through their old mappings; each is named after the
 * request's label (fdinfo "name:"); a size that is no class misses and is
 * still zeroed and named; a request that needs the room takes it from the
 * pool, which refills after the release; a CONTIGUOUS request the heaps
 * cannot honour fails and changes no pool figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/pool.h"
#include "backend/probe.h"
#include "registry.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

/* The logic tests' factory: a memfd of @size bytes (no pages). */
static int memfd_make(uint64_t size, void *userdata, int *ret_fd)
{
	int fd = memfd_create("test-pool", MFD_CLOEXEC);

	(void)userdata;
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*ret_fd = fd;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls (up to @timeout_ms) until pooled == @want; returns the last figures. */
static struct pool_stats wait_pool(struct pool *p, uint64_t want, long timeout_ms)
{
	struct pool_stats st;

	for (long t = 0;; t += 5) {
		pool_get_stats(p, &st);
		if (st.pooled == want || t >= timeout_ms)
			return st;
		sleep_ms(5);
	}
}

static void test_charge_evicts_and_refills(void **state)
{
	struct pool_config cfg = {
		.budget = 4 * MiB, .capacity = 8 * MiB, .classes = { 1 * MiB }, .nclasses = 1,
	};
	struct pool *p = NULL;
	struct pool_stats st;

	(void)state;
	assert_int_equal(pool_create(&cfg, memfd_make, NULL, &p), 0);
	st = wait_pool(p, 4 * MiB, 10000);
	assert_int_equal(st.pooled, 4 * MiB);

	/* 6M live (another heap's buffer) + 4M pooled > 8M: 2M must go, now. */
	pool_charge(p, 6 * MiB);
	pool_get_stats(p, &st);
	assert_true(st.pooled <= 2 * MiB);
	assert_int_equal(st.evicted, 4 * MiB - st.pooled);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 0);
	/* The worker does not fill past the capacity meanwhile. */
	sleep_ms(100);
	pool_get_stats(p, &st);
	assert_true(st.pooled <= 2 * MiB);

	/* The room comes back with the release: refilled to the budget. */
	pool_put(p, 6 * MiB, -1);
	st = wait_pool(p, 4 * MiB, 10000);
	assert_int_equal(st.pooled, 4 * MiB);
	pool_destroy(p);
}

static void test_put_never_wraps(void **state)
{
	struct pool_config cfg = {
		.budget = 2 * MiB, .capacity = 4 * MiB, .classes = { 1 * MiB }, .nclasses = 1,
	};
	struct pool *p = NULL;
	struct pool_stats st;
	int fd = -1;

	(void)state;
	assert_int_equal(pool_create(&cfg, memfd_make, NULL, &p), 0);
	st = wait_pool(p, 2 * MiB, 10000);
	assert_int_equal(st.pooled, 2 * MiB);

	/*
	 * A release the pool never charged (a buffer restored from the fd
	 * store). A wrapped live total would make every later request evict
	 * the whole pool and stop every refill.
	 */
	pool_put(p, 8 * MiB, -1);
	assert_int_equal(pool_get(p, 1 * MiB, &fd), 0);
	assert_true(fd >= 0);
	pool_get_stats(p, &st);
	assert_int_equal(st.pooled, 1 * MiB); /* the other one was not evicted */
	assert_int_equal(st.evicted, 0);
	pool_put(p, 1 * MiB, fd);
	st = wait_pool(p, 2 * MiB, 10000);
	assert_int_equal(st.pooled, 2 * MiB); /* refilled: live is 0, not 2^64 - 6M */
	pool_destroy(p);
}

static void test_handed_out_once(void **state)
{
	struct pool_config cfg = {
		.budget = 4 * MiB, .capacity = 64 * MiB, .classes = { 1 * MiB }, .nclasses = 1,
	};
	struct pool *p = NULL;
	ino_t seen[64];
	unsigned nseen = 0;

	(void)state;
	assert_int_equal(pool_create(&cfg, memfd_make, NULL, &p), 0);
	for (int round = 0; round < 16; round++) {
		struct pool_stats st = wait_pool(p, 4 * MiB, 10000);
		struct stat sb;
		int fd = -1;

		assert_int_equal(st.pooled, 4 * MiB);
		assert_int_equal(pool_get(p, 1 * MiB, &fd), 0);
		assert_int_equal(fstat(fd, &sb), 0);
		/* Never a buffer handed out before (each memfd is its own inode). */
		for (unsigned i = 0; i < nseen; i++)
			assert_true(seen[i] != sb.st_ino);
		seen[nseen++] = sb.st_ino;
		pool_put(p, 1 * MiB, fd);
	}
	pool_destroy(p);
}

/* ---- the backend's routing on a fake /dev/dma_heap ---- */

struct fake_root {
	char dir[64];
	char heapdir[96];
};

static void fake_root_make(struct fake_root *r, const char *const *heaps)
{
	char path[160];

	snprintf(r->dir, sizeof(r->dir), "/tmp/dmaheap-pool-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(path, sizeof(path), "%s/dev", r->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(r->heapdir, sizeof(r->heapdir), "%s/dev/dma_heap", r->dir);
	assert_int_equal(mkdir(r->heapdir, 0700), 0);
	for (; *heaps; heaps++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", r->heapdir, *heaps);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	probe_set_test_root(r->dir);
}

static void fake_root_remove(struct fake_root *r, const char *const *heaps)
{
	char path[160];

	probe_set_test_root(NULL);
	for (; *heaps; heaps++) {
		snprintf(path, sizeof(path), "%s/%s", r->heapdir, *heaps);
		unlink(path);
	}
	rmdir(r->heapdir);
	snprintf(path, sizeof(path), "%s/dev", r->dir);
	rmdir(path);
	rmdir(r->dir);
}

static int try_alloc(struct backend *b, uint64_t size, uint32_t flags)
{
	const struct backend_alloc req = {
		.size = size, .attribute = DMABUFD_ATTR_CACHED, .flags = flags, .label = "t",
	};
	const char *reason = NULL;
	int fd = -1;

	return b->ops->alloc(b, &req, &fd, &reason);
}

static void test_routing(void **state)
{
	static const char *const heaps[] = { "system", "linux,cma", NULL };
	const struct backend_options opts = {
		.capacity = 64 * MiB, .pool_budget = 4 * MiB,
		.pool_classes = { 1 * MiB }, .pool_nclasses = 1,
	};
	struct backend_pool_stats ps;
	struct fake_root root;
	struct backend *b = NULL;

	(void)state;
	fake_root_make(&root, heaps);
	assert_int_equal(dmaheap_backend_ops.create(&opts, &b), 0);
	assert_non_null(b->ops->get_pool_stats);
	/* CACHED, not contiguous: the system heap, through the pool (a miss:
	 * the fake heap cannot allocate, so nothing is ever pooled). */
	assert_int_equal(try_alloc(b, 1 * MiB, 0), -ENOTTY);
	b->ops->get_pool_stats(b, &ps);
	assert_int_equal(ps.misses, 1);
	assert_int_equal(ps.hits, 0);
	assert_int_equal(ps.pooled, 0);
	/* CONTIGUOUS: the CMA heap, never the pool (charged, not a miss). */
	assert_int_equal(try_alloc(b, 1 * MiB, DMABUFD_ALLOC_CONTIGUOUS), -ENOTTY);
	b->ops->get_pool_stats(b, &ps);
	assert_int_equal(ps.misses, 1);
	assert_int_equal(ps.hits, 0);
	b->ops->destroy(b);
	fake_root_remove(&root, heaps);
}

static void test_no_pool_on_cma_only(void **state)
{
	static const char *const heaps[] = { "linux,cma", NULL };
	const struct backend_options opts = { .capacity = 64 * MiB, .pool_budget = 4 * MiB };
	struct backend_pool_stats ps;
	struct fake_root root;
	struct backend *b = NULL;

	(void)state;
	fake_root_make(&root, heaps);
	assert_int_equal(dmaheap_backend_ops.create(&opts, &b), 0);
	/* A CACHED request goes to the CMA heap (the only one): not pooled. */
	assert_int_equal(try_alloc(b, 1 * MiB, 0), -ENOTTY);
	b->ops->get_pool_stats(b, &ps);
	assert_int_equal(ps.misses, 0);
	assert_int_equal(ps.hits, 0);
	assert_int_equal(ps.pooled, 0);
	b->ops->destroy(b);
	fake_root_remove(&root, heaps);
}

/* ---- --real: /dev/dma_heap/system ---- */

#define REAL_CLASS (1 * MiB)
#define REAL_BUDGET (8 * MiB)
#define REAL_CAPACITY (64 * MiB)
#define REAL_ROUNDS 24

static struct backend *real_backend;

/* The dma-buf's name from /proc/self/fdinfo/@fd into @buf ("" if none). */
static void fdinfo_name(int fd, char *buf, size_t size)
{
	char path[64], line[256];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "name:", 5) == 0) {
			const char *v = line + 5;

			v += strspn(v, " \t");
			snprintf(buf, size, "%.*s", (int)strcspn(v, "\n"), v);
		}
	fclose(f);
}

static bool all_zero(const volatile uint8_t *p, uint64_t size)
{
	for (uint64_t i = 0; i < size; i++)
		if (p[i])
			return false;
	return true;
}

static struct backend_pool_stats real_stats(void)
{
	struct backend_pool_stats ps;

	real_backend->ops->get_pool_stats(real_backend, &ps);
	return ps;
}

/*
 * Polls (up to 60 s: TCG) until the backend's pool holds at least @want
 * bytes. (The worker refills a class when it falls to half its target, or
 * when released room lets it.)
 */
static struct backend_pool_stats real_wait(uint64_t want)
{
	struct backend_pool_stats ps;

	for (int t = 0; t < 12000; t++) {
		ps = real_stats();
		if (ps.pooled >= want)
			break;
		sleep_ms(5);
	}
	return ps;
}

/* Allocates through the backend; @buf gets the fd and size for release(). */
static int real_alloc(uint64_t size, uint32_t flags, const char *label, struct buffer *buf)
{
	const struct backend_alloc req = {
		.size = size, .attribute = DMABUFD_ATTR_CACHED, .flags = flags, .label = label,
	};
	const char *reason = NULL;
	int fd = -1, err;

	err = real_backend->ops->alloc(real_backend, &req, &fd, &reason);
	if (err == 0) {
		memset(buf, 0, sizeof(*buf));
		buf->fd = fd;
		buf->size = size;
	}
	return err;
}

static void test_real_hits_zeroed_named(void **state)
{
	uint8_t *old_map[REAL_ROUNDS] = { 0 };
	struct backend_pool_stats ps0, ps;

	(void)state;
	ps0 = real_wait(REAL_BUDGET);
	assert_int_equal(ps0.pooled, REAL_BUDGET);
	for (int i = 0; i < REAL_ROUNDS; i++) {
		char label[32], name[64];
		struct buffer buf;
		uint8_t *m;

		/* Warm: each round is a hit (the worker had time to refill). */
		ps = real_wait(REAL_CLASS);
		assert_true(ps.pooled >= REAL_CLASS);
		snprintf(label, sizeof(label), "pool-test-%d", i);
		assert_int_equal(real_alloc(REAL_CLASS, 0, label, &buf), 0);
		fdinfo_name(buf.fd, name, sizeof(name));
		assert_string_equal(name, label);
		m = mmap(NULL, REAL_CLASS, PROT_READ | PROT_WRITE, MAP_SHARED, buf.fd, 0);
		assert_true(m != MAP_FAILED);
		/* Zeroed, though every former owner still writes to its own. */
		for (int j = 0; j < i; j++)
			memset(old_map[j], 0xA5, REAL_CLASS);
		assert_true(all_zero(m, REAL_CLASS));
		memset(m, 0x5A, REAL_CLASS);
		old_map[i] = m; /* kept mapped after the release, as a client may */
		real_backend->ops->release(real_backend, &buf);
		assert_int_equal(buf.fd, -1);
	}
	ps = real_stats();
	assert_int_equal(ps.hits - ps0.hits, REAL_ROUNDS);
	assert_int_equal(ps.misses - ps0.misses, 0);
	for (int i = 0; i < REAL_ROUNDS; i++)
		munmap(old_map[i], REAL_CLASS);
}

static void test_real_miss_zeroed_named(void **state)
{
	struct backend_pool_stats ps0 = real_stats(), ps;
	const uint64_t size = 192 * KiB; /* not a class, and classes are not learned */
	struct buffer buf;
	char name[64];
	uint8_t *m;

	(void)state;
	assert_int_equal(real_alloc(size, 0, "pool-miss", &buf), 0);
	fdinfo_name(buf.fd, name, sizeof(name));
	assert_string_equal(name, "pool-miss");
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf.fd, 0);
	assert_true(m != MAP_FAILED);
	assert_true(all_zero(m, size));
	munmap(m, size);
	real_backend->ops->release(real_backend, &buf);
	ps = real_stats();
	assert_int_equal(ps.misses - ps0.misses, 1);
	assert_int_equal(ps.hits - ps0.hits, 0);
}

static void test_real_room_and_refill(void **state)
{
	const uint64_t big = REAL_CAPACITY - 4 * MiB;
	struct backend_pool_stats ps;
	struct buffer buf;

	(void)state;
	ps = real_wait(REAL_CAPACITY - big + REAL_CLASS);
	assert_true(ps.pooled > REAL_CAPACITY - big);
	/* 60M live + 5-8M pooled > 64M: the pool gives room back at once. */
	assert_int_equal(real_alloc(big, 0, "pool-big", &buf), 0);
	ps = real_stats();
	assert_true(ps.pooled <= REAL_CAPACITY - big);
	real_backend->ops->release(real_backend, &buf);
	ps = real_wait(REAL_BUDGET);
	assert_int_equal(ps.pooled, REAL_BUDGET);
}

static void test_real_contiguous_changes_nothing(void **state)
{
	struct backend_caps caps;
	struct backend_pool_stats ps0, ps;
	struct buffer buf;
	int err;

	(void)state;
	real_backend->ops->get_caps(real_backend, &caps);
	if (caps.contiguous)
		skip(); /* a CMA heap is present: CONTIGUOUS would be served */
	ps0 = real_stats();
	err = real_alloc(REAL_CLASS, DMABUFD_ALLOC_CONTIGUOUS, "pool-contig", &buf);
	assert_int_equal(err, -EOPNOTSUPP);
	ps = real_stats();
	assert_int_equal(ps.pooled, ps0.pooled);
	assert_int_equal(ps.hits, ps0.hits);
	assert_int_equal(ps.misses, ps0.misses);
}

static int real_setup(void **state)
{
	const struct backend_options opts = {
		.capacity = REAL_CAPACITY, .pool_budget = REAL_BUDGET,
		.pool_classes = { REAL_CLASS }, .pool_nclasses = 1,
	};

	(void)state;
	return dmaheap_backend_ops.create(&opts, &real_backend) == 0 ? 0 : -1;
}

static int real_teardown(void **state)
{
	(void)state;
	dmaheap_backend_ops.destroy(real_backend);
	real_backend = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest logic[] = {
		cmocka_unit_test(test_charge_evicts_and_refills),
		cmocka_unit_test(test_put_never_wraps),
		cmocka_unit_test(test_handed_out_once),
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_no_pool_on_cma_only),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_hits_zeroed_named),
		cmocka_unit_test(test_real_miss_zeroed_named),
		cmocka_unit_test(test_real_room_and_refill),
		cmocka_unit_test(test_real_contiguous_changes_nothing),
	};

	if (argc > 1 && strcmp(argv[1], "--real") == 0) {
		if (access("/dev/dma_heap/system", R_OK) != 0) {
			fprintf(stderr, "no /dev/dma_heap/system: skipped\n");
			return 77;
		}
		return cmocka_run_group_tests_name("dmaheap_pool_real", real, real_setup,
						   real_teardown);
	}
	return cmocka_run_group_tests_name("dmaheap_pool", logic, NULL, NULL);
}
