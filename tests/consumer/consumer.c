/* SPDX-License-Identifier: MIT */
/*
 * An external program built against an installed libdmabufd only (see
 * consumer.sh): it includes every public header and libdrm's
 * <drm_fourcc.h> through the flags of dmabufd.pc or of dmabufd::dmabufd,
 * and exercises the API they declare.
 *
 * Usage: dmabufd-consumer NO_DAEMON_PATH SOCKET
 *   NO_DAEMON_PATH  a socket path nothing listens on: connect must fail
 *                   with -ENOENT and leave its out-parameter untouched
 *   SOCKET          a daemon (memfd backend): an NV12 framebuffer and a
 *                   plain buffer are allocated, written through the mmap
 *                   inside a CPU access session, read back and released
 * Exit: 0 when every check passed, 1 otherwise (each failure is printed).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <dmabufd/dmabufd.h>
#include <dmabufd/framebuffer.h>

static int failures;

static void check(int ok, const char *what, long got)
{
	printf("%s %s (%ld)\n", ok ? "ok" : "not ok", what, got);
	if (!ok)
		failures++;
}

/* Fill [p, p + n) with a pattern under a write session, read it back. */
static int write_read(int fd, uint64_t n)
{
	unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int r, bad = 0;

	if (p == MAP_FAILED)
		return -errno;
	r = dmabufd_cpu_access_begin(fd, DMABUFD_CPU_WRITE);
	if (r == 0) {
		for (uint64_t i = 0; i < n; i++)
			p[i] = (unsigned char)(i * 7);
		r = dmabufd_cpu_access_end(fd, DMABUFD_CPU_WRITE);
	}
	if (r == 0)
		r = dmabufd_cpu_access_begin(fd, DMABUFD_CPU_READ);
	if (r == 0) {
		for (uint64_t i = 0; i < n; i++)
			bad |= p[i] != (unsigned char)(i * 7);
		r = dmabufd_cpu_access_end(fd, DMABUFD_CPU_READ);
	}
	munmap(p, n);
	return r ? r : bad ? -EIO : 0;
}

int main(int argc, char **argv)
{
	struct dmabufd_client *c = (struct dmabufd_client *)&failures, *untouched = c;
	struct dmabufd_framebuffer fb;
	struct dmabufd_buffer buf;
	struct dmabufd_info info;
	enum dmabufd_attribute attr;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s NO_DAEMON_PATH SOCKET\n", argv[0]);
		return 2;
	}

	r = dmabufd_connect(argv[1], &c);
	check(r == -ENOENT && c == untouched,
	      "connect with no daemon: -ENOENT, out-parameter untouched", r);

	r = dmabufd_connect(argv[2], &c);
	check(r == 0, "connect to the daemon", r);
	if (r)
		return 1;
	r = dmabufd_get_info(c, &info);
	check(r == 0 && info.version == DMABUFD_PROTOCOL_VERSION, "Hello: protocol version", r);
	check(r == 0 && strcmp(info.backend, "memfd") == 0, "Hello: memfd backend", r);

	r = dmabufd_attribute_from_string("cached", &attr);
	check(r == 0 && attr == DMABUFD_ATTR_CACHED &&
		      strcmp(dmabufd_attribute_name(attr), "cached") == 0,
	      "attribute names", r);

	r = dmabufd_alloc_framebuffer(c, 64, 48, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
				      DMABUFD_USAGE_CPU_WRITE | DMABUFD_USAGE_CPU_READ,
				      DMABUFD_ATTR_CACHED, 0, "consumer nv12", &fb);
	check(r == 0, "dmabufd_alloc_framebuffer 64x48 NV12 LINEAR", r);
	if (r == 0) {
		check(fb.fourcc == DRM_FORMAT_NV12 && fb.modifier == DRM_FORMAT_MOD_LINEAR &&
			      fb.num_planes == 2 && fb.num_planes <= DMABUFD_FB_MAX_PLANES,
		      "NV12 layout: 2 planes", (long)fb.num_planes);
		check(fb.pitches[0] >= 64 && fb.sizes[0] >= 64u * 48 &&
			      fb.offsets[1] >= fb.sizes[0] && fb.sizes[1] >= 64u * 24,
		      "NV12 plane sizes", (long)fb.size);
		r = write_read(fb.fd, fb.size);
		check(r == 0, "framebuffer written and read back in CPU access sessions", r);
		close(fb.fd);
		r = dmabufd_release(c, fb.id);
		check(r == 0, "release the framebuffer", r);
	}

	r = dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_CACHED, 0, "consumer plain", &buf);
	check(r == 0 && buf.size >= 4096, "dmabufd_alloc 4096", r);
	if (r == 0) {
		r = write_read(buf.fd, buf.size);
		check(r == 0, "buffer written and read back", r);
		close(buf.fd);
		r = dmabufd_release(c, buf.id);
		check(r == 0, "release the buffer", r);
		r = dmabufd_release(c, buf.id);
		check(r == -ENOENT, "second release: -ENOENT", r);
	}
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}
