// SPDX-License-Identifier: MIT
/*
 * arm64-attr-test: in the arm64 VM, the memory type of dmabufd_region's
 * user mappings read from the page tables (dmabufd_ptattr.ko), and the
 * module's cache maintenance at every attribute transition (its
 * cache_maint_ops/cache_maint_pages parameters).
 *
 * For a CACHED, a WRITECOMBINE and an UNCACHED buffer: every PTE of the
 * mmap maps the buffer's own PFN with MAIR attribute 0xff (Normal
 * write-back), 0x44 (Normal Non-cacheable) and 0x00 (Device-nGnRnE); EXPORT
 * cleans+invalidates exactly the buffer's pages once for WC/UC and not at
 * all for CACHED; MIGRATE of the WC buffer maintains the old range before
 * the copy, the new range after it and the old range again when it is
 * freed (3 operations, 3 x the pages), and the new PTEs keep 0x44 with the
 * contents unchanged; the release maintains the pages once more.
 *
 * TAP-like output for run-vm.sh. Statically linked, libc only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd-region.h"
#include "ptattr/dmabufd_ptattr.h"

typedef unsigned long long u64;

#define PAGES 64 /* per buffer */
#define MAIR_NORMAL_WB 0xff
#define MAIR_NORMAL_NC 0x44
#define MAIR_DEVICE_nGnRnE 0x00

static int test_no, failures, region_fd = -1, pt_fd = -1;
static struct dmabufd_region_info info;

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

static bool check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	if (!cond)
		failures++;
	return cond;
}

/* The module's cache maintenance counters; false if unreadable. */
static bool maint(u64 *ret_ops, u64 *ret_pages)
{
	static const char *const path[2] = {
		"/sys/module/dmabufd_region/parameters/cache_maint_ops",
		"/sys/module/dmabufd_region/parameters/cache_maint_pages",
	};
	u64 v[2];
	int i;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(path[i], "re");
		int n;

		if (!f)
			return false;
		n = fscanf(f, "%llu", &v[i]);
		fclose(f);
		if (n != 1)
			return false;
	}
	*ret_ops = v[0];
	*ret_pages = v[1];
	return true;
}

/* Export PAGES pages with @attr at the first offset the module accepts. */
static int export_any(uint32_t attr, uint32_t flags, u64 from, u64 *ret_off, u64 *ret_id)
{
	u64 off;

	for (off = from; off + PAGES <= info.page_count; off += PAGES) {
		struct dmabufd_region_export e = {
			.size = sizeof(e), .flags = flags, .page_offset = off,
			.page_count = PAGES, .attr = attr,
		};

		snprintf(e.label, sizeof(e.label), "arm64-attr");
		if (ioctl(region_fd, DMABUFD_REGION_IOC_EXPORT, &e) == 0) {
			*ret_off = off;
			*ret_id = e.id;
			return e.fd;
		}
		if (errno != EBUSY)
			return -errno;
	}
	return -ENOSPC;
}

/* Pages of @p whose PTE does not map base + @off + i with MAIR byte @mair. */
static int pte_mismatches(const volatile unsigned char *p, u64 off, unsigned int mair)
{
	int bad = 0, i;

	for (i = 0; i < PAGES; i++) {
		struct dmabufd_ptattr_query q = { .addr = (uintptr_t)(p + (size_t)i * 4096) };

		(void)p[(size_t)i * 4096]; /* fault the PTE in */
		if (ioctl(pt_fd, DMABUFD_PTATTR_QUERY, &q) < 0) {
			if (bad++ == 0)
				diag("page %d: query: %s", i, strerror(errno));
			continue;
		}
		if (q.pfn != info.base_pfn + off + i || q.mair != mair) {
			if (bad++ == 0)
				diag("page %d: PFN %#llx (want %#llx), AttrIndx %u, MAIR %#x (want %#x),"
				     " prot %#llx", i, (u64)q.pfn, info.base_pfn + off + i, q.attrindx,
				     q.mair, mair, (u64)q.prot);
		} else if (i == 0) {
			diag("PFN %#llx: AttrIndx %u, MAIR 0x%02x, prot %#llx", (u64)q.pfn, q.attrindx,
			     q.mair, (u64)q.prot);
		}
	}
	return bad;
}

static int wait_released(u64 id)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pollfd pfd = { .fd = region_fd, .events = POLLIN };
		struct dmabufd_region_event ev[16];
		ssize_t n;
		int i;

		if (poll(&pfd, 1, 100) > 0 && (n = read(region_fd, ev, sizeof(ev))) > 0) {
			for (i = 0; i < (int)(n / sizeof(ev[0])); i++)
				if (ev[i].type == DMABUFD_REGION_EVENT_RELEASED && ev[i].id == id)
					return 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 5);
	return -ETIMEDOUT;
}

static void fill(volatile unsigned char *p, unsigned int seed)
{
	size_t i;

	for (i = 0; i < PAGES * 4096; i += 8)
		*(volatile u64 *)(p + i) = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed;
}

static bool same(const volatile unsigned char *p, unsigned int seed)
{
	size_t i;

	for (i = 0; i < PAGES * 4096; i += 8)
		if (*(const volatile u64 *)(p + i) != ((i + 1) * 0x9e3779b97f4a7c15ULL ^ seed))
			return false;
	return true;
}

static void test_attr(uint32_t attr, const char *name, unsigned int mair)
{
	bool nc = attr != DMABUFD_REGION_ATTR_CACHED;
	u64 ops0, pages0, ops1, pages1, off = 0, id = 0;
	volatile unsigned char *p;
	int fd;

	if (!check(maint(&ops0, &pages0), "%s: read cache_maint_ops/pages", name))
		return;
	fd = export_any(attr, DMABUFD_REGION_EXPORT_MOVABLE, 0, &off, &id);
	if (!check(fd >= 0, "%s: EXPORT %d pages (%s)", name, PAGES, fd < 0 ? strerror(-fd) : "ok"))
		return;
	maint(&ops1, &pages1);
	check(ops1 - ops0 == (nc ? 1 : 0) && pages1 - pages0 == (nc ? PAGES : 0),
	      "%s: EXPORT cleaned+invalidated to PoC %s (%llu ops, %llu pages)", name,
	      nc ? "every page once, before any mapping" : "nothing", ops1 - ops0, pages1 - pages0);
	p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!check(p != MAP_FAILED, "%s: mmap", name)) {
		close(fd);
		return;
	}
	fill(p, attr);
	check(pte_mismatches(p, off, mair) == 0,
	      "%s: every user PTE maps the buffer's PFN with MAIR attribute 0x%02x", name, mair);

	if (attr == DMABUFD_REGION_ATTR_WRITECOMBINE) {
		struct dmabufd_region_migrate m = { .size = sizeof(m), .id = id };
		u64 dst;
		int r = -ENOSPC;

		maint(&ops0, &pages0);
		for (dst = off + PAGES; dst + PAGES <= info.page_count; dst += PAGES) {
			m.new_page_offset = dst;
			r = ioctl(region_fd, DMABUFD_REGION_IOC_MIGRATE, &m) ? -errno : 0;
			if (r != -EBUSY)
				break;
		}
		if (check(r == 0, "%s: MIGRATE the mmapped buffer (%s)", name, strerror(-r))) {
			maint(&ops1, &pages1);
			check(ops1 - ops0 == 3 && pages1 - pages0 == 3 * PAGES,
			      "%s: MIGRATE maintained the old range before the copy, the new one"
			      " after it, the old one at its free (%llu ops, %llu pages)", name,
			      ops1 - ops0, pages1 - pages0);
			check(same(p, attr), "%s: the same mapping reads the same contents after MIGRATE", name);
			check(pte_mismatches(p, dst, mair) == 0,
			      "%s: after MIGRATE every PTE maps the new PFN with MAIR 0x%02x", name, mair);
		}
	}

	maint(&ops0, &pages0);
	munmap((void *)p, PAGES * 4096);
	close(fd);
	check(wait_released(id) == 0, "%s: RELEASED after munmap and close", name);
	maint(&ops1, &pages1);
	check(ops1 - ops0 == (nc ? 1 : 0) && pages1 - pages0 == (nc ? PAGES : 0),
	      "%s: release cleaned+invalidated %s (%llu ops, %llu pages)", name,
	      nc ? "every page once, after the last mapping" : "nothing", ops1 - ops0, pages1 - pages0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	region_fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	pt_fd = open(DMABUFD_PTATTR_DEVICE, O_RDWR | O_CLOEXEC);
	info.size = sizeof(info);
	if (!check(region_fd >= 0 && pt_fd >= 0 && ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &info) == 0,
		   "open %s and %s, INFO", DMABUFD_REGION_DEVICE, DMABUFD_PTATTR_DEVICE)) {
		puts("# done");
		return 1;
	}
	test_attr(DMABUFD_REGION_ATTR_CACHED, "CACHED", MAIR_NORMAL_WB);
	test_attr(DMABUFD_REGION_ATTR_WRITECOMBINE, "WRITECOMBINE", MAIR_NORMAL_NC);
	test_attr(DMABUFD_REGION_ATTR_UNCACHED, "UNCACHED", MAIR_DEVICE_nGnRnE);
	diag("%d failures", failures);
	puts("# done");
	return failures ? 1 : 0;
}
