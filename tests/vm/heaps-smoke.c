/* SPDX-License-Identifier: MIT */
/*
 * In-VM smoke client for the dma-heap, udmabuf and memfd backends.
 *
 *   heaps-smoke SOCKET BACKEND    allocate, mmap, round-trip data, import into
 *                                 vgem (drmPrimeFDToHandle), check the label in
 *                                 /proc/self/fdinfo ("name:"), reuse is zeroed,
 *                                 device constraints (vgem node: no IOMMU)
 *   heaps-smoke SOCKET --probe B  the daemon chose backend B (Stats probe)
 *
 * Output: "ok ..." / "not ok ..." lines; exit 0 when all passed, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xf86drm.h>

#include "dmabufd/dmabufd.h"

#include "vm_check.h"

/* The vgem card node's path, or NULL. */
static const char *vgem_node(char *buf, size_t size, int *ret_fd)
{
	for (int i = 0; i < 16; i++) {
		drmVersionPtr v;
		int fd;

		snprintf(buf, size, "/dev/dri/card%d", i);
		fd = open(buf, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v && strcmp(v->name, "vgem") == 0) {
			drmFreeVersion(v);
			*ret_fd = fd;
			return buf;
		}
		if (v)
			drmFreeVersion(v);
		close(fd);
	}
	return NULL;
}

/* The "name:" line of /proc/self/fdinfo/@fd (dma-buf fds), or "". */
static void fdinfo_name(int fd, char *out, size_t size)
{
	char path[64], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "name:", 5) == 0) {
			char *p = line + 5;

			while (*p == ' ' || *p == '\t')
				p++;
			p[strcspn(p, "\n")] = '\0';
			/* a longer name is cut to @size - 1 bytes */
			if (snprintf(out, size, "%s", p) >= (int)size)
				out[size - 1] = '\0';
		}
	fclose(f);
}

static int probe_mode(struct dmabufd_client *c, const char *want)
{
	struct dmabufd_stats st;
	int r = dmabufd_stats(c, &st);

	CHECK(r == 0, "stats (%d)", r);
	if (r < 0)
		return 1;
	for (uint32_t i = 0; i < st.num_probe; i++)
		printf("#    probe %s: %s (%s)\n", st.probe[i].backend,
		       st.probe[i].chosen ? "chosen" : st.probe[i].present ? "present" : "absent",
		       st.probe[i].reason);
	CHECK(strcmp(st.backend, want) == 0, "daemon chose %s (wanted %s)", st.backend, want);
	CHECK(st.num_probe > 0, "probe report has %u entries", st.num_probe);
	return vm_check_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const size_t size = 1 << 20;
	struct dmabufd_client *c = NULL;
	struct dmabufd_info info;
	struct dmabufd_buffer b, b2;
	char node[64], name[64];
	const char *backend, *vgem;
	uint8_t *p, *q;
	uint32_t handle = 0;
	int vfd = -1, r;
	bool dmabuf;

	if (argc < 3) {
		fprintf(stderr, "usage: heaps-smoke SOCKET BACKEND | SOCKET --probe BACKEND\n");
		return 2;
	}
	r = dmabufd_connect(argv[1], &c);
	CHECK(r == 0, "connect %s (%d)", argv[1], r);
	if (r < 0)
		return 1;
	if (strcmp(argv[2], "--probe") == 0 && argc > 3)
		return probe_mode(c, argv[3]);
	backend = argv[2];
	r = dmabufd_get_info(c, &info);
	CHECK(r == 0 && strcmp(info.backend, backend) == 0, "Hello: backend %s (wanted %s)",
	      info.backend, backend);
	dmabuf = info.dmabuf;
	CHECK(dmabuf == (strcmp(backend, "memfd") != 0), "Hello: dmabuf=%d", info.dmabuf);

	r = dmabufd_alloc(c, size, 0, DMABUFD_ATTR_CACHED, 0, "smoke-buffer", &b);
	CHECK(r == 0, "alloc 1 MiB from %s (%d %s)", backend, r, dmabufd_last_reason(c));
	if (r < 0)
		return 1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	CHECK(p != MAP_FAILED && q != MAP_FAILED, "mmap twice");
	if (p == MAP_FAILED || q == MAP_FAILED)
		return 1;
	CHECK(p[0] == 0 && p[size - 1] == 0, "fresh buffer reads zero");
	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	r = 0;
	for (size_t i = 0; i < size; i++)
		if (q[i] != (uint8_t)(i * 7 + 3))
			r++;
	CHECK(r == 0, "data round-trips between two mappings (%d bad bytes)", r);

	if (dmabuf) {
		fdinfo_name(b.fd, name, sizeof(name));
		CHECK(strcmp(name, "smoke-buffer") == 0, "fdinfo name: '%s'", name);
	}
	vgem = vgem_node(node, sizeof(node), &vfd);
	/* heaps-vm.sh runs on 6.12 with vgem.ko loaded: no node is a failure. */
	CHECK(vgem != NULL, "a vgem card node to import into");
	if (vgem && dmabuf) {
		r = drmPrimeFDToHandle(vfd, b.fd, &handle);
		CHECK(r == 0 && handle != 0, "vgem imports it: drmPrimeFDToHandle -> handle %u (%d)",
		      handle, r);
	} else if (vgem) {
		r = drmPrimeFDToHandle(vfd, b.fd, &handle);
		CHECK(r != 0, "vgem refuses a memfd (not a dma-buf) (%d)", r);
	}
	munmap(q, size);

	/*
	 * Release, keeping our fd and mapping as a misbehaving client would,
	 * then allocate the same size again: the new buffer must read zero and
	 * what its owner writes must not show through the stale mapping. A
	 * dma-buf backend holds the released range while our fd lives (it
	 * stays placed and charged, docs/THREAT_MODEL.md), so the new buffer
	 * lands elsewhere and the stale mapping keeps its pages; memfd empties
	 * the released file, so the stale mapping reads zero.
	 */
	r = dmabufd_release(c, b.id);
	CHECK(r == 0, "release (%d)", r);
	r = dmabufd_alloc(c, size, 0, DMABUFD_ATTR_CACHED, 0, "smoke-reuse", &b2);
	CHECK(r == 0, "alloc again (%d), offset %llu (was %llu)", r, (unsigned long long)b2.offset,
	      (unsigned long long)b.offset);
	if (r == 0 && dmabuf)
		CHECK(b2.offset != b.offset, "the held range is not reused (offset %llu)",
		      (unsigned long long)b2.offset);
	if (r == 0) {
		q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, b2.fd, 0);
		r = 0;
		if (q != MAP_FAILED)
			for (size_t i = 0; i < size; i++)
				r += q[i] != 0;
		CHECK(q != MAP_FAILED && r == 0, "reused range reads zero (%d stale bytes)", r);
		if (q != MAP_FAILED) {
			memset(q, 0xa5, size);
			r = 0;
			for (size_t i = 0; i < size; i++)
				r += p[i] != (dmabuf ? (uint8_t)(i * 7 + 3) : 0);
			if (dmabuf)
				CHECK(r == 0, "stale mapping of the released buffer keeps its own pages, "
				      "does not see the next owner's data (%d bytes differ)", r);
			else
				CHECK(r == 0, "stale mapping of the released memfd reads zero: emptied "
				      "at release (%d bytes differ)", r);
			munmap(q, size);
		}
		dmabufd_release(c, b2.id);
		close(b2.fd);
	}
	munmap(p, size);
	close(b.fd);

	/* Device constraints. */
	{
		const char *bad[] = { "/dev/dri/../mem" };
		const char *missing[] = { "/dev/dri/card99" };
		const char *pathtoo[] = { "/etc/passwd" };

		r = dmabufd_alloc_devices(c, size, 0, DMABUFD_ATTR_CACHED, 0, "dev", bad, 1, &b);
		CHECK(r == -EINVAL, "device path with '..' refused: %d (%s)", r, dmabufd_last_reason(c));
		r = dmabufd_alloc_devices(c, size, 0, DMABUFD_ATTR_CACHED, 0, "dev", pathtoo, 1, &b);
		CHECK(r == -EINVAL, "device path outside /dev/dri and /sys/devices refused: %d", r);
		r = dmabufd_alloc_devices(c, size, 0, DMABUFD_ATTR_CACHED, 0, "dev", missing, 1, &b);
		CHECK(r == -ENODEV, "absent device: -ENODEV: %d (%s)", r, dmabufd_last_reason(c));
	}
	if (vgem) {
		const char *devs[] = { vgem };

		r = dmabufd_alloc_devices(c, size, 0, DMABUFD_ATTR_CACHED, 0, "for-vgem", devs, 1,
					  &b);
		if (info.contiguous) {
			CHECK(r == 0, "request naming %s (no IOMMU) served contiguous: %d", vgem, r);
			if (r == 0) {
				dmabufd_release(c, b.id);
				close(b.fd);
			}
		} else {
			CHECK(r == -EOPNOTSUPP,
			      "request naming %s (no IOMMU) refused without a contiguous backend: %d (%s)",
			      vgem, r, dmabufd_last_reason(c));
		}
		r = dmabufd_alloc(c, size, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS,
				  "contig", &b);
		CHECK(info.contiguous ? r == 0 : r == -EOPNOTSUPP,
		      "CONTIGUOUS flag: %d (%s)", r, dmabufd_last_reason(c));
		if (r == 0) {
			dmabufd_release(c, b.id);
			close(b.fd);
		}
	}
	if (vfd >= 0)
		close(vfd);
	dmabufd_disconnect(c);
	printf("# %s: %d failures\n", backend, vm_check_failures);
	return vm_check_failures ? 1 : 0;
}
