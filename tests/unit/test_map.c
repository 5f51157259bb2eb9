/* SPDX-License-Identifier: MIT */
/*
 * dmabufd_map(): the mapping is usable and shared, a populated shrink-sealed
 * memfd (what the daemon's pool hands out) comes back with every page
 * mapped, the MAP_POPULATE path maps every page too, and every documented
 * error is returned with *ret untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"

#define SIZE (1u << 20)

/* A memfd of @size bytes, populated with pwrite(2) zeroes, sealed with @seals. */
static int pooled_memfd(size_t size, int seals, bool populate)
{
	static const char zero[65536];
	int fd = memfd_create("test-map", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	for (size_t off = 0; populate && off < size; off += sizeof(zero))
		assert_int_equal(pwrite(fd, zero, sizeof(zero), (off_t)off), (ssize_t)sizeof(zero));
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* Rss of the mapping that starts at @addr, in bytes (/proc/self/smaps), or -1. */
static long long mapping_rss(const void *addr)
{
	char line[512];
	unsigned long start;
	bool in = false;
	long long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-", &start) == 1 && strchr(line, '-') &&
		    line[strspn(line, "0123456789abcdef")] == '-') {
			in = start == (unsigned long)addr;
			continue;
		}
		if (in && sscanf(line, "Rss: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* The kernel's fault-around window is the default (64 KiB) or unknown. */
static bool fault_around_default(void)
{
	FILE *f = fopen("/sys/kernel/debug/fault_around_bytes", "re");
	unsigned long v = 65536;

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65536;
		fclose(f);
	}
	return v == 65536;
}

static void check_shared_rw(int fd, uint8_t *p, size_t size)
{
	uint8_t b = 0xff;

	for (size_t off = 0; off < size; off += 4096)
		assert_int_equal(p[off], 0);
	p[0] = 0x5a;
	p[size - 1] = 0xa5;
	assert_int_equal(pread(fd, &b, 1, 0), 1);
	assert_int_equal(b, 0x5a);
	assert_int_equal(pread(fd, &b, 1, (off_t)size - 1), 1);
	assert_int_equal(b, 0xa5);
}

static void test_pooled_memfd_mapped_whole(void **state)
{
	int fd = pooled_memfd(SIZE, F_SEAL_SHRINK | F_SEAL_GROW, true);
	void *p = NULL;

	(void)state;
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ | PROT_WRITE, 0, &p), 0);
	assert_non_null(p);
	if (fault_around_default())
		assert_int_equal(mapping_rss(p), SIZE);
	check_shared_rw(fd, p, SIZE);
	assert_int_equal(munmap(p, SIZE), 0);
	close(fd);
}

/* Mapping a part (and not from an aligned window start) maps that part. */
static void test_pooled_memfd_part(void **state)
{
	int fd = pooled_memfd(SIZE, F_SEAL_SHRINK, true);
	void *p = NULL;

	(void)state;
	assert_int_equal(dmabufd_map(fd, 12288, PROT_READ, 0, &p), 0);
	if (fault_around_default())
		assert_int_equal(mapping_rss(p), 12288);
	assert_int_equal(((uint8_t *)p)[12287], 0);
	assert_int_equal(munmap(p, 12288), 0);
	close(fd);
}

/* An unsealed memfd takes MAP_POPULATE: every page mapped, allocated if need be. */
static void test_unsealed_memfd_populated(void **state)
{
	int fd = pooled_memfd(SIZE, 0, false);
	void *p = NULL;

	(void)state;
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ | PROT_WRITE, 0, &p), 0);
	assert_int_equal(mapping_rss(p), SIZE);
	check_shared_rw(fd, p, SIZE);
	assert_int_equal(munmap(p, SIZE), 0);
	close(fd);
}

/* MADV_POPULATE_WRITE (Linux 5.14) works here. */
static bool have_populate_write(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	assert_true(p != MAP_FAILED);
	ok = madvise(p, 4096, 23 /* MADV_POPULATE_WRITE */) == 0;
	munmap(p, 4096);
	return ok;
}

/*
 * A sealed memfd whose pages were never written (a pool miss): populated
 * in one call, every page mapped, readable, zero.
 */
static void test_sealed_unpopulated(void **state)
{
	int fd = pooled_memfd(SIZE, F_SEAL_SHRINK, false);
	void *p = NULL;

	(void)state;
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ | PROT_WRITE, 0, &p), 0);
	if (have_populate_write())
		assert_int_equal(mapping_rss(p), SIZE);
	check_shared_rw(fd, p, SIZE);
	assert_int_equal(munmap(p, SIZE), 0);
	close(fd);
}

static void test_errors(void **state)
{
	int fd = pooled_memfd(SIZE, F_SEAL_SHRINK, true);
	int wfd = pooled_memfd(4096, F_SEAL_SHRINK | F_SEAL_WRITE, true);
	void *const sentinel = (void *)(uintptr_t)0x1234;
	void *p = sentinel;
	int pipefd[2], rofd;
	char path[64];

	(void)state;
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ, 0, NULL), -EINVAL);
	assert_int_equal(dmabufd_map(fd, 0, PROT_READ, 0, &p), -EINVAL);
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ, 1, &p), -EINVAL);
	assert_int_equal(dmabufd_map(fd, SIZE, 0, 0, &p), -EINVAL);
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ | PROT_EXEC, 0, &p), -EINVAL);
	assert_int_equal(dmabufd_map(fd, SIZE + 4096, PROT_READ, 0, &p), -EINVAL);
	assert_int_equal(dmabufd_map(-1, SIZE, PROT_READ, 0, &p), -EBADF);
	assert_int_equal(dmabufd_map(wfd, 4096, PROT_READ | PROT_WRITE, 0, &p), -EPERM);
	/* An fd opened read-only cannot be mapped writable. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rofd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(rofd >= 0);
	assert_int_equal(dmabufd_map(rofd, SIZE, PROT_READ | PROT_WRITE, 0, &p), -EACCES);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(dmabufd_map(pipefd[0], 4096, PROT_READ, 0, &p), -ENODEV);
	close(pipefd[0]);
	close(pipefd[1]);
	close(rofd);
	close(wfd);
	close(fd);
	assert_int_equal(dmabufd_map(fd, SIZE, PROT_READ, 0, &p), -EBADF);
	assert_ptr_equal(p, sentinel);
	/* Read-only mapping of the write-sealed memfd works. */
	wfd = pooled_memfd(4096, F_SEAL_SHRINK | F_SEAL_WRITE, true);
	assert_int_equal(dmabufd_map(wfd, 4096, PROT_READ, 0, &p), 0);
	assert_int_equal(((uint8_t *)p)[100], 0);
	munmap(p, 4096);
	close(wfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pooled_memfd_mapped_whole),
		cmocka_unit_test(test_pooled_memfd_part),
		cmocka_unit_test(test_unsealed_memfd_populated),
		cmocka_unit_test(test_sealed_unpopulated),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
