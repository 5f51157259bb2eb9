/* SPDX-License-Identifier: MIT */
/*
 * fb_bandwidth - CPU write / read / upload bandwidth into mapped buffers of
 * different origins and cache attributes, side by side in one run, reported
 * as ratios to the first source. A benchmark, not a test: it is never run
 * by CTest except as a correctness smoke run with a tiny size.
 *
 * Usage: fb_bandwidth [--size BYTES[K|M|G]] [--iterations N] [--no-sync]
 *                     [--source SPEC]...
 * SPEC:
 *   anon            anonymous private mmap (baseline: plain cached memory)
 *   memfd           sealed memfd, MAP_SHARED (the memfd backend: CACHED)
 *   udmabuf         dma-buf from /dev/udmabuf over a memfd (CACHED dma-buf)
 *   heap:NAME       dma-buf from /dev/dma_heap/NAME
 *   drm             a dumb buffer PRIME-exported from the first /dev/dri/card*
 *                   that makes one (vgem maps its dma-bufs write-combined:
 *                   drm_gem_shmem map_wc, as vgem has no begin/end_cpu_access)
 *   fd:N[:LABEL]    an inherited fd (e.g. a WRITECOMBINE or UNCACHED
 *                   dma-buf from the kmod backend, handed over by
 *                   `dmabufctl alloc ... --attr wc` or the VM harness);
 *                   it must be at least --size bytes
 * Without --source: anon, memfd, and udmabuf / heap:system / drm when present.
 *
 * Every source is mapped MAP_SHARED (anon: MAP_PRIVATE) and each page
 * touched once untimed (faults excluded); then --iterations passes run, the
 * sources taking turns inside each pass, and the best pass per source is
 * reported. Ratios are source / first source (higher = faster). Every pass is bracketed with
 * dmabufd_cpu_access_begin()/end() (WRITE for write/upload, READ for read)
 * unless --no-sync; the sync cost is part of the figure, as in real use.
 *   write:  64-bit stores over the whole buffer
 *   read:   64-bit loads summed over the whole buffer
 *   upload: memcpy() from a cached anonymous source buffer
 * The data written is checked after the write pass, so a source that does
 * not keep data fails loudly.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include <dmabufd/framebuffer.h>

#define MAX_SOURCES 8

struct source {
	char label[48];
	int fd;       /* -1 for anon */
	int is_anon;
	void *map;
	double best_w, best_r, best_u; /* seconds */
};

static size_t opt_size = 64u << 20;
static unsigned int opt_iterations = 8;
static int opt_sync = 1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_size(const char *s, size_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	unsigned int shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	}
	if (*end || v == 0 || v > (SIZE_MAX >> shift))
		return -EINVAL;
	v <<= shift;
	if (v % 4096)
		return -EINVAL;
	*ret = (size_t)v;
	return 0;
}

static int make_memfd(size_t size)
{
	int fd = memfd_create("fb_bandwidth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int make_udmabuf(size_t size)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	int memfd = memfd_create("fb_bandwidth-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r = -errno;
	if (memfd >= 0) {
		if (ftruncate(memfd, (off_t)size) == 0 &&
		    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0) {
			struct udmabuf_create c = { .memfd = (uint32_t)memfd,
						    .flags = UDMABUF_FLAGS_CLOEXEC,
						    .size = size };
			r = ioctl(dev, UDMABUF_CREATE, &c);
			if (r < 0)
				r = -errno;
		} else {
			r = -errno;
		}
		close(memfd);
	}
	close(dev);
	return r;
}

static int make_heap(const char *name, size_t size)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/dma_heap/%s", name);
	int dev = open(path, O_RDONLY | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	struct dma_heap_allocation_data a = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
	int r = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &a);
	r = r < 0 ? -errno : (int)a.fd;
	close(dev);
	return r;
}

static int make_drm(size_t size)
{
	if (size % 16384)
		return -EINVAL;
	for (int i = 0; i < 8; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		int dev = open(path, O_RDWR | O_CLOEXEC);
		if (dev < 0)
			continue;
		/* 4096 px x 4 bytes per row. */
		struct drm_mode_create_dumb c = { .width = 4096, .height = (uint32_t)(size / 16384),
						  .bpp = 32 };
		int buf = -1;
		if (ioctl(dev, DRM_IOCTL_MODE_CREATE_DUMB, &c) == 0) {
			struct drm_prime_handle p = { .handle = c.handle,
						      .flags = DRM_CLOEXEC | DRM_RDWR };
			if (c.size >= size && ioctl(dev, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p) == 0)
				buf = p.fd;
			struct drm_mode_destroy_dumb d = { .handle = c.handle };
			ioctl(dev, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
		}
		close(dev);
		if (buf >= 0)
			return buf;
	}
	return -ENODEV;
}

static int add_source(struct source *s, const char *spec)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	snprintf(s->label, sizeof(s->label), "%s", spec);
	if (strcmp(spec, "anon") == 0) {
		s->is_anon = 1;
		return 0;
	}
	if (strcmp(spec, "memfd") == 0)
		s->fd = make_memfd(opt_size);
	else if (strcmp(spec, "udmabuf") == 0)
		s->fd = make_udmabuf(opt_size);
	else if (strncmp(spec, "heap:", 5) == 0)
		s->fd = make_heap(spec + 5, opt_size);
	else if (strcmp(spec, "drm") == 0)
		s->fd = make_drm(opt_size);
	else if (strncmp(spec, "fd:", 3) == 0) {
		char *end;
		long n = strtol(spec + 3, &end, 10);
		if (end == spec + 3 || n < 0 || n > INT32_MAX || (*end && *end != ':'))
			return -EINVAL;
		if (*end == ':')
			snprintf(s->label, sizeof(s->label), "%s", end + 1);
		s->fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
		if (s->fd < 0)
			return -errno;
	} else {
		return -EINVAL;
	}
	return s->fd < 0 ? s->fd : 0;
}

static void sync_begin(const struct source *s, unsigned int access)
{
	if (opt_sync && !s->is_anon) {
		int r = dmabufd_cpu_access_begin(s->fd, access);
		if (r < 0) {
			fprintf(stderr, "%s: cpu_access_begin: %s\n", s->label, strerror(-r));
			exit(1);
		}
	}
}

static void sync_end(const struct source *s, unsigned int access)
{
	if (opt_sync && !s->is_anon) {
		int r = dmabufd_cpu_access_end(s->fd, access);
		if (r < 0) {
			fprintf(stderr, "%s: cpu_access_end: %s\n", s->label, strerror(-r));
			exit(1);
		}
	}
}

static __attribute__((noinline)) void write_pass(uint64_t *p, size_t words, uint64_t seed)
{
	for (size_t i = 0; i < words; i++)
		p[i] = seed + i;
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) uint64_t read_pass(const uint64_t *p, size_t words)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < words; i++)
		sum += p[i];
	return sum;
}

static int map_source(struct source *s)
{
	s->map = s->is_anon ? mmap(NULL, opt_size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			    : mmap(NULL, opt_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED) {
		s->map = NULL;
		fprintf(stderr, "%s: mmap: %s\n", s->label, strerror(errno));
		return -1;
	}
	/* Fault every page in, untimed. */
	sync_begin(s, DMABUFD_CPU_WRITE);
	for (size_t i = 0; i < opt_size; i += 4096)
		((volatile uint8_t *)s->map)[i] = 0;
	sync_end(s, DMABUFD_CPU_WRITE);
	s->best_w = s->best_r = s->best_u = 1e30;
	return 0;
}

/* One timed write, read and upload pass; keeps the best times. */
static int pass(struct source *s, unsigned int it, const uint64_t *upload_src)
{
	uint64_t *p = s->map;
	size_t words = opt_size / sizeof(uint64_t);

	double t0 = now_s();
	sync_begin(s, DMABUFD_CPU_WRITE);
	write_pass(p, words, it);
	sync_end(s, DMABUFD_CPU_WRITE);
	double t1 = now_s();
	if (t1 - t0 < s->best_w)
		s->best_w = t1 - t0;

	t0 = now_s();
	sync_begin(s, DMABUFD_CPU_READ);
	uint64_t sum = read_pass(p, words);
	sync_end(s, DMABUFD_CPU_READ);
	t1 = now_s();
	if (t1 - t0 < s->best_r)
		s->best_r = t1 - t0;

	/* Check the data that was just written (sum of it + i, mod 2^64). */
	uint64_t expect = (uint64_t)words * it + (uint64_t)words * (words - 1) / 2;
	if (sum != expect) {
		fprintf(stderr, "%s: data check failed in pass %u\n", s->label, it);
		return -1;
	}

	t0 = now_s();
	sync_begin(s, DMABUFD_CPU_WRITE);
	memcpy(p, upload_src, opt_size);
	sync_end(s, DMABUFD_CPU_WRITE);
	t1 = now_s();
	if (t1 - t0 < s->best_u)
		s->best_u = t1 - t0;
	if (memcmp(p, upload_src, opt_size) != 0) {
		fprintf(stderr, "%s: upload check failed in pass %u\n", s->label, it);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fb_bandwidth [--size BYTES[K|M|G]] [--iterations N] [--no-sync]\n"
		   "                    [--source anon|memfd|udmabuf|heap:NAME|fd:N[:LABEL]]...\n");
}

int main(int argc, char **argv)
{
	struct source sources[MAX_SOURCES];
	const char *specs[MAX_SOURCES];
	unsigned int nspecs = 0, n = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &opt_size) < 0) {
				fprintf(stderr, "bad --size (a multiple of 4096)\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], NULL, 10);
			if (v < 1 || v > 10000) {
				fprintf(stderr, "bad --iterations\n");
				return 2;
			}
			opt_iterations = (unsigned int)v;
		} else if (strcmp(argv[i], "--no-sync") == 0) {
			opt_sync = 0;
		} else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc) {
			if (nspecs == MAX_SOURCES) {
				fprintf(stderr, "at most %d sources\n", MAX_SOURCES);
				return 2;
			}
			specs[nspecs++] = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	if (nspecs) {
		for (unsigned int i = 0; i < nspecs; i++) {
			int r = add_source(&sources[n], specs[i]);
			if (r < 0) {
				fprintf(stderr, "source %s: %s\n", specs[i], strerror(-r));
				return 1;
			}
			n++;
		}
	} else {
		static const char *const defaults[] = { "anon", "memfd", "udmabuf", "heap:system",
							"drm" };
		for (unsigned int i = 0; i < 5; i++) {
			int r = add_source(&sources[n], defaults[i]);
			if (r < 0) {
				printf("# %s: not available here (%s)\n", defaults[i], strerror(-r));
				continue;
			}
			n++;
		}
	}

	uint64_t *src = mmap(NULL, opt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	if (src == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < opt_size / sizeof(uint64_t); i++)
		src[i] = i * 0x9e3779b97f4a7c15ull;

	printf("# fb_bandwidth: size %zu bytes, best of %u passes, sync %s\n", opt_size,
	       opt_iterations, opt_sync ? "DMA_BUF_IOCTL_SYNC" : "off");
	printf("%-24s %12s %12s %12s %8s %8s %8s\n", "source", "write MB/s", "read MB/s",
	       "upload MB/s", "write x", "read x", "upload x");
	fflush(stdout);
	/*
	 * Sources take turns inside every pass, so a change of machine load
	 * during the run affects all of them alike and the ratios stay fair.
	 */
	for (unsigned int i = 0; i < n; i++)
		if (map_source(&sources[i]) < 0)
			return 1;
	for (unsigned int it = 0; it < opt_iterations; it++)
		for (unsigned int i = 0; i < n; i++)
			if (pass(&sources[i], it, src) < 0)
				return 1;

	const double mb = (double)opt_size / 1e6;
	const struct source *b = &sources[0];
	for (unsigned int i = 0; i < n; i++) {
		const struct source *s = &sources[i];
		printf("%-24s %12.0f %12.0f %12.0f %8.3f %8.3f %8.3f\n", s->label, mb / s->best_w,
		       mb / s->best_r, mb / s->best_u, b->best_w / s->best_w, b->best_r / s->best_r,
		       b->best_u / s->best_u);
		munmap(s->map, opt_size);
	}
	for (unsigned int i = 0; i < n; i++)
		if (sources[i].fd >= 0)
			close(sources[i].fd);
	munmap(src, opt_size);
	return 0;
}
