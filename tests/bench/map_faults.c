/* SPDX-License-Identifier: MIT */
/*
 * map_faults: what mapping and first-touching a memfd costs, by mapping
 * method, for a fresh memfd (pages allocated and zeroed on first touch) and
 * a pre-zeroed one (pages written with pwrite(2) first, as the daemon's
 * pool does). No daemon: the client-side half of docs/PERFORMANCE.md's
 * dmabufd_map() table. Each sample: mmap → write one byte per 4 KiB page
 * → (timed up to here) munmap. Prints the p10 and p50 in µs.
 *
 * Usage: map_faults [SIZE_MIB [SAMPLES]]   (default 1 MiB, 400 samples)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd/dmabufd.h"

enum method { PLAIN, POPULATE, POP_WRITE, POP_READ, LIBRARY, NMETHODS };
static const char *const names[NMETHODS] = {
	"plain mmap", "MAP_POPULATE", "MADV_POPULATE_WRITE", "MADV_POPULATE_READ", "dmabufd_map()",
};

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A sealed memfd of @size bytes; its pages written with zeroes if @prezero. */
static int make(size_t size, int prezero)
{
	static const char zero[65536];
	int fd = memfd_create("map-faults", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	for (size_t off = 0; prezero && off < size; off += sizeof(zero))
		if (pwrite(fd, zero, sizeof(zero), (off_t)off) != (ssize_t)sizeof(zero))
			return -1;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -1;
	return fd;
}

static volatile uint8_t *map(int fd, size_t size, enum method m)
{
	void *p;

	if (m == LIBRARY)
		return dmabufd_map(fd, size, PROT_READ | PROT_WRITE, 0, &p) < 0 ? NULL : p;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (m == POPULATE ? MAP_POPULATE : 0),
		 fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	if ((m == POP_WRITE && madvise(p, size, MADV_POPULATE_WRITE) < 0) ||
	    (m == POP_READ && madvise(p, size, MADV_POPULATE_READ) < 0)) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

int main(int argc, char **argv)
{
	size_t size = (size_t)(argc > 1 ? atoi(argv[1]) : 1) << 20;
	int n = argc > 2 ? atoi(argv[2]) : 400;
	double *t = calloc((size_t)(n > 0 ? n : 1), sizeof(*t));

	if (size == 0 || n < 1 || !t) {
		fprintf(stderr, "usage: map_faults [SIZE_MIB [SAMPLES]]\n");
		return 2;
	}
	printf("# map_faults: %zu MiB memfd, %d samples: mmap + write one byte per 4 KiB page (µs)\n",
	       size >> 20, n);
	for (int prezero = 0; prezero < 2; prezero++)
		for (int m = 0; m < NMETHODS; m++) {
			for (int i = 0; i < n; i++) {
				int fd = make(size, prezero);
				volatile uint8_t *p;
				double t0;

				if (fd < 0) {
					perror("memfd");
					return 1;
				}
				t0 = now_us();
				p = map(fd, size, (enum method)m);
				if (!p) {
					perror(names[m]);
					return 1;
				}
				for (size_t off = 0; off < size; off += 4096)
					p[off] = 1;
				t[i] = now_us() - t0;
				munmap((void *)p, size);
				close(fd);
			}
			qsort(t, (size_t)n, sizeof(*t), cmp);
			printf("%-10s %-20s p10 %9.1f  p50 %9.1f\n", prezero ? "pre-zeroed" : "fresh",
			       names[m], t[n / 10], t[n / 2]);
		}
	free(t);
	return 0;
}
