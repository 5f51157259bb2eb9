/* SPDX-License-Identifier: MIT */
/*
 * dmabufd_cpu_access_begin()/_end() tests.
 *
 * Built twice (tests/unit/CMakeLists.txt):
 *  - test_cpu_access: ioctl() is wrapped (-Wl,--wrap=ioctl) so the test sees
 *    the exact DMA_BUF_IOCTL_SYNC flags sent for every access combination,
 *    can script EINTR/EAGAIN/exporter errors, and runs the memfd no-op and
 *    argument validation against the real kernel. Runs anywhere.
 *  - test_cpu_access_dmabuf (CPU_ACCESS_REAL_DMABUF): the same calls on a
 *    real kernel dma-buf from /dev/udmabuf, /dev/dma_heap/system or a DRM
 *    dumb buffer exported with PRIME (vgem, virtio-gpu: /dev/dri/card*);
 *    exits 77 when none exists (this build host), runs in the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#ifdef CPU_ACCESS_REAL_DMABUF
#include <drm.h>
#include <drm_mode.h>
#endif

#include <dmabufd/framebuffer.h>

/* ---- ioctl interception ------------------------------------------------ */

int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

enum wrap_mode {
	WRAP_PASSTHROUGH, /* forward to the kernel, record the sync flags */
	WRAP_FAKE_DMABUF, /* answer DMA_BUF_IOCTL_SYNC like a dma-buf would */
};

static struct {
	enum wrap_mode mode;
	unsigned int calls;          /* DMA_BUF_IOCTL_SYNC calls seen */
	uint64_t flags[8];           /* their flags, first 8 */
	int script[8];               /* errno to fail call i with (0: succeed) */
	unsigned int script_len;
	int fail_forever;            /* errno for every call after the script */
} wrap;

static void wrap_reset(enum wrap_mode mode)
{
	memset(&wrap, 0, sizeof(wrap));
	wrap.mode = mode;
}

int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);

	if (request != DMA_BUF_IOCTL_SYNC)
		return __real_ioctl(fd, request, arg);

	unsigned int n = wrap.calls++;
	if (n < 8)
		wrap.flags[n] = ((const struct dma_buf_sync *)arg)->flags;
	if (wrap.mode == WRAP_PASSTHROUGH)
		return __real_ioctl(fd, request, arg);

	int e = n < wrap.script_len ? wrap.script[n] : wrap.fail_forever;
	if (e) {
		errno = e;
		return -1;
	}
	/* What dma_buf_ioctl() (drivers/dma-buf/dma-buf.c) refuses. */
	uint64_t f = ((const struct dma_buf_sync *)arg)->flags;
	if ((f & ~(uint64_t)DMA_BUF_SYNC_VALID_FLAGS_MASK) || !(f & DMA_BUF_SYNC_RW)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/*
 * The expected flags, written as numbers from include/uapi/linux/dma-buf.h
 * (READ 1, WRITE 2, START 0, END 4) rather than derived from the macros the
 * code uses, so a swapped or missing bit shows.
 */
static const struct {
	unsigned int access;
	uint64_t begin, end;
} directions[] = {
	{ DMABUFD_CPU_READ, 0x1, 0x5 },
	{ DMABUFD_CPU_WRITE, 0x2, 0x6 },
	{ DMABUFD_CPU_RW, 0x3, 0x7 },
};

/* ---- tests that run anywhere --------------------------------------------- */

#ifndef CPU_ACCESS_REAL_DMABUF

static int make_sealed_memfd(size_t size)
{
	int fd = memfd_create("test-cpu-access", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	return fd;
}

static void test_public_bits(void **state)
{
	(void)state;
	/* The library's access bits are the uapi's direction bits. */
	assert_int_equal(DMABUFD_CPU_READ, DMA_BUF_SYNC_READ);
	assert_int_equal(DMABUFD_CPU_WRITE, DMA_BUF_SYNC_WRITE);
	assert_int_equal(DMABUFD_CPU_RW, DMA_BUF_SYNC_RW);
	/* START is zero: it is the absence of END, never a bit to test. */
	assert_int_equal(DMA_BUF_SYNC_START, 0);
	assert_int_equal(DMA_BUF_SYNC_END, 4);
}

static void test_direction_bits(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(directions) / sizeof(directions[0]); i++) {
		wrap_reset(WRAP_FAKE_DMABUF);
		assert_int_equal(dmabufd_cpu_access_begin(100, directions[i].access), 0);
		assert_int_equal(dmabufd_cpu_access_end(100, directions[i].access), 0);
		assert_int_equal(wrap.calls, 2);
		assert_int_equal(wrap.flags[0], directions[i].begin);
		assert_int_equal(wrap.flags[1], directions[i].end);
		/* begin never carries END; end always does; both name a direction. */
		assert_false(wrap.flags[0] & DMA_BUF_SYNC_END);
		assert_true(wrap.flags[1] & DMA_BUF_SYNC_END);
		assert_int_equal(wrap.flags[0] & DMA_BUF_SYNC_RW, directions[i].access);
		assert_int_equal(wrap.flags[1] & DMA_BUF_SYNC_RW, directions[i].access);
		/* Nothing the kernel's mask refuses. */
		assert_int_equal(wrap.flags[0] & ~(uint64_t)DMA_BUF_SYNC_VALID_FLAGS_MASK, 0);
		assert_int_equal(wrap.flags[1] & ~(uint64_t)DMA_BUF_SYNC_VALID_FLAGS_MASK, 0);
	}
}

static void test_bad_access_bits(void **state)
{
	static const unsigned int bad[] = { 0, 4, 8, 0xff, DMABUFD_CPU_RW | 0x100, ~0u };

	(void)state;
	wrap_reset(WRAP_FAKE_DMABUF);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dmabufd_cpu_access_begin(100, bad[i]), -EINVAL);
		assert_int_equal(dmabufd_cpu_access_end(100, bad[i]), -EINVAL);
	}
	assert_int_equal(wrap.calls, 0); /* refused before any ioctl */
}

static void test_bad_fd(void **state)
{
	int fds[2];

	(void)state;
	wrap_reset(WRAP_PASSTHROUGH);
	assert_int_equal(dmabufd_cpu_access_begin(-1, DMABUFD_CPU_READ), -EBADF);
	assert_int_equal(dmabufd_cpu_access_end(-42, DMABUFD_CPU_WRITE), -EBADF);
	assert_int_equal(wrap.calls, 0);

	/* A closed fd: the kernel answers EBADF. */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(dmabufd_cpu_access_begin(fds[0], DMABUFD_CPU_RW), -EBADF);
	assert_int_equal(wrap.calls, 1);
}

static void test_not_dmabuf_not_memfd(void **state)
{
	int fds[2];

	(void)state;
	wrap_reset(WRAP_PASSTHROUGH);
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(dmabufd_cpu_access_begin(fds[0], DMABUFD_CPU_READ), -ENOTTY);
	assert_int_equal(dmabufd_cpu_access_end(fds[1], DMABUFD_CPU_WRITE), -ENOTTY);
	close(fds[0]);
	close(fds[1]);

	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(null >= 0);
	assert_int_equal(dmabufd_cpu_access_begin(null, DMABUFD_CPU_RW), -ENOTTY);
	close(null);
}

/* The memfd backend's sealed memfd: ENOTTY from the kernel, 0 from us. */
static void test_memfd_noop(void **state)
{
	const size_t size = 2 * 4096;
	int fd = make_sealed_memfd(size);

	(void)state;
	uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);

	wrap_reset(WRAP_PASSTHROUGH);
	for (size_t i = 0; i < sizeof(directions) / sizeof(directions[0]); i++) {
		assert_int_equal(dmabufd_cpu_access_begin(fd, directions[i].access), 0);
		memset(map, (int)i + 1, size);
		assert_int_equal(dmabufd_cpu_access_end(fd, directions[i].access), 0);
		assert_int_equal(map[size - 1], i + 1);
	}
	/* The ioctl really was tried (and refused by the kernel) every time. */
	assert_int_equal(wrap.calls, 6);
	assert_int_equal(wrap.flags[0], 0x1);
	assert_int_equal(wrap.flags[5], 0x7);
	munmap(map, size);
	close(fd);
}

static void test_restart_on_eintr_eagain(void **state)
{
	(void)state;
	wrap_reset(WRAP_FAKE_DMABUF);
	wrap.script[0] = EINTR;
	wrap.script[1] = EAGAIN;
	wrap.script[2] = EINTR;
	wrap.script_len = 3;
	assert_int_equal(dmabufd_cpu_access_begin(100, DMABUFD_CPU_READ), 0);
	assert_int_equal(wrap.calls, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(wrap.flags[i], 0x1); /* the same request every time */

	wrap_reset(WRAP_FAKE_DMABUF);
	wrap.script[0] = EAGAIN;
	wrap.script_len = 1;
	assert_int_equal(dmabufd_cpu_access_end(100, DMABUFD_CPU_WRITE), 0);
	assert_int_equal(wrap.calls, 2);
	assert_int_equal(wrap.flags[1], 0x6);

	/* An exporter that never stops: bounded, the error comes back. */
	wrap_reset(WRAP_FAKE_DMABUF);
	wrap.fail_forever = EAGAIN;
	assert_int_equal(dmabufd_cpu_access_begin(100, DMABUFD_CPU_RW), -EAGAIN);
	assert_int_equal(wrap.calls, 1025);
	wrap_reset(WRAP_FAKE_DMABUF);
	wrap.fail_forever = EINTR;
	assert_int_equal(dmabufd_cpu_access_end(100, DMABUFD_CPU_RW), -EINTR);
	assert_int_equal(wrap.calls, 1025);
}

static void test_exporter_errors(void **state)
{
	static const int errs[] = { EINVAL, EIO, ENOMEM, EPERM };

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		wrap_reset(WRAP_FAKE_DMABUF);
		wrap.fail_forever = errs[i];
		assert_int_equal(dmabufd_cpu_access_begin(100, DMABUFD_CPU_READ), -errs[i]);
		assert_int_equal(wrap.calls, 1); /* not retried */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_bits),
		cmocka_unit_test(test_direction_bits),
		cmocka_unit_test(test_bad_access_bits),
		cmocka_unit_test(test_bad_fd),
		cmocka_unit_test(test_not_dmabuf_not_memfd),
		cmocka_unit_test(test_memfd_noop),
		cmocka_unit_test(test_restart_on_eintr_eagain),
		cmocka_unit_test(test_exporter_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* CPU_ACCESS_REAL_DMABUF */

/* ---- tests on a real kernel dma-buf (VM) --------------------------------- */

#define BUF_SIZE (16 * 4096)

/* A PRIME-exported dumb buffer from the first DRM device that makes one. */
static int make_drm_dmabuf(void)
{
	for (int i = 0; i < 8; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		int dev = open(path, O_RDWR | O_CLOEXEC);
		if (dev < 0)
			continue;
		struct drm_mode_create_dumb create = { .width = BUF_SIZE / 4, .height = 1, .bpp = 32 };
		int buf = -1;
		if (__real_ioctl(dev, DRM_IOCTL_MODE_CREATE_DUMB, &create) == 0) {
			struct drm_prime_handle prime = { .handle = create.handle,
							  .flags = DRM_CLOEXEC | DRM_RDWR };
			if (create.size >= BUF_SIZE &&
			    __real_ioctl(dev, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) == 0)
				buf = prime.fd;
			struct drm_mode_destroy_dumb destroy = { .handle = create.handle };
			__real_ioctl(dev, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
		}
		close(dev); /* the dma-buf keeps the buffer alive */
		if (buf >= 0)
			return buf;
	}
	return -1;
}

/*
 * A dma-buf from /dev/udmabuf (over a memfd), /dev/dma_heap/system, or a
 * DRM device's PRIME export; -1 if none.
 */
static int make_dmabuf(void)
{
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		int memfd = memfd_create("test-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		int buf = -1;
		if (memfd >= 0 && ftruncate(memfd, BUF_SIZE) == 0 &&
		    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0) {
			struct udmabuf_create create = {
				.memfd = (uint32_t)memfd,
				.flags = UDMABUF_FLAGS_CLOEXEC,
				.offset = 0,
				.size = BUF_SIZE,
			};
			buf = __real_ioctl(dev, UDMABUF_CREATE, &create);
		}
		if (memfd >= 0)
			close(memfd);
		close(dev);
		if (buf >= 0)
			return buf;
	}
	dev = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (dev >= 0) {
		struct dma_heap_allocation_data alloc = {
			.len = BUF_SIZE,
			.fd_flags = O_RDWR | O_CLOEXEC,
		};
		int r = __real_ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &alloc);
		close(dev);
		if (r == 0)
			return (int)alloc.fd;
	}
	return make_drm_dmabuf();
}

static int setup(void **state)
{
	int fd = make_dmabuf();
	if (fd < 0)
		return -1;
	*state = (void *)(intptr_t)fd;
	return 0;
}

static int teardown(void **state)
{
	close((int)(intptr_t)*state);
	return 0;
}

static void test_real_directions(void **state)
{
	int fd = (int)(intptr_t)*state;

	for (size_t i = 0; i < sizeof(directions) / sizeof(directions[0]); i++) {
		wrap_reset(WRAP_PASSTHROUGH);
		assert_int_equal(dmabufd_cpu_access_begin(fd, directions[i].access), 0);
		assert_int_equal(dmabufd_cpu_access_end(fd, directions[i].access), 0);
		assert_int_equal(wrap.calls, 2);
		assert_int_equal(wrap.flags[0], directions[i].begin);
		assert_int_equal(wrap.flags[1], directions[i].end);
	}
}

/* The kernel refuses exactly what the library refuses locally. */
static void test_real_kernel_validation(void **state)
{
	int fd = (int)(intptr_t)*state;
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START }; /* no direction */

	assert_int_equal(__real_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), -1);
	assert_int_equal(errno, EINVAL);
	sync.flags = DMA_BUF_SYNC_END;
	assert_int_equal(__real_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), -1);
	assert_int_equal(errno, EINVAL);
	sync.flags = DMA_BUF_SYNC_RW | 0x8;
	assert_int_equal(__real_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dmabufd_cpu_access_begin(fd, 0), -EINVAL);
	assert_int_equal(dmabufd_cpu_access_begin(fd, 0x8 | DMABUFD_CPU_RW), -EINVAL);
}

/* Write in a WRITE session, read back in a READ session through a new map. */
static void test_real_write_then_read(void **state)
{
	int fd = (int)(intptr_t)*state;
	uint8_t *w = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(w != MAP_FAILED);

	assert_int_equal(dmabufd_cpu_access_begin(fd, DMABUFD_CPU_WRITE), 0);
	for (size_t i = 0; i < BUF_SIZE; i++)
		w[i] = (uint8_t)(i * 7);
	assert_int_equal(dmabufd_cpu_access_end(fd, DMABUFD_CPU_WRITE), 0);
	munmap(w, BUF_SIZE);

	const uint8_t *r = mmap(NULL, BUF_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(r != MAP_FAILED);
	assert_int_equal(dmabufd_cpu_access_begin(fd, DMABUFD_CPU_READ), 0);
	for (size_t i = 0; i < BUF_SIZE; i++)
		if (r[i] != (uint8_t)(i * 7))
			fail_msg("byte %zu: %u", i, r[i]);
	assert_int_equal(dmabufd_cpu_access_end(fd, DMABUFD_CPU_READ), 0);
	munmap((void *)r, BUF_SIZE);
}

int main(void)
{
	int fd = make_dmabuf();
	if (fd < 0) {
		fprintf(stderr, "no dma-buf exporter (/dev/udmabuf, /dev/dma_heap/system, "
				"/dev/dri/card* with dumb buffers): skipping\n");
		return 77;
	}
	close(fd);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_real_directions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_kernel_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_write_then_read, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
