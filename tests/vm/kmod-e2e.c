/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-kmod-e2e - in-VM client of dmabufd --backend kmod, driven by
 * kmod-e2e.sh. Subcommands:
 *
 *   compact            movable buffers with patterns; fragment; Compact; a
 *                      moved buffer's mapping reads the same pattern and its
 *                      module page_offset changed.
 *   hold N READYFILE   allocate N buffers with known contents, write
 *                      READYFILE, wait for SIGUSR1, then verify the contents
 *                      (exit 0) — the daemon is killed and restarted meanwhile.
 *   after-restart N    the restarted daemon shows the N buffers (orphans,
 *                      used bytes); new allocations overlap no module buffer.
 *   fb                 NV12 3840x2160: one contiguous range, one sg entry in
 *                      vgem; XRGB8888 1920x1080 WC: vgem import, a second
 *                      process reads it through an fd passed over a socket,
 *                      kpageflags (x86) or the page tables (arm64) show
 *                      write-combine.
 *   revoke READYFILE   a vgem import makes Revoke EBUSY; then a
 *                      mapped WC buffer's id goes to READYFILE, kmod-e2e.sh
 *                      runs "dmabufctl revoke ID" and sends SIGUSR1: the
 *                      next touch is SIGBUS, mmap ENODEV, Stats shows the
 *                      pages back, List no longer has the buffer.
 *   thp MIB            MIB of anonymous THPs (MADV_HUGEPAGE) fill the region;
 *                      48 allocations of 80-240 KiB in all three attributes
 *                      all succeed and the THPs' contents stay intact.
 *
 * Output: "ok ..." / "not ok ..." lines; exit 0 when all checks passed.
 */
#include <errno.h>
#include <setjmp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>
#include <xf86drm.h>

#include "dmabufd-region.h"
#if defined(__aarch64__)
#include "ptattr/dmabufd_ptattr.h"
#endif
#include "dmabufd/dmabufd.h"
#include "dmabufd/framebuffer.h"

#define KPF_ARCH 38

static int failures;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static const char *sock_path(void)
{
	const char *p = getenv("DMABUFD_SOCKET");

	return p && p[0] ? p : NULL;
}

static struct dmabufd_client *connect_daemon(void)
{
	struct dmabufd_client *c = NULL;
	int r = dmabufd_connect(sock_path(), &c);

	if (r < 0) {
		printf("not ok connect: %s\n", strerror(-r));
		exit(1);
	}
	return c;
}

/* Module LIST (root only: /dev/dmabufd-region is 0600). */
static long mod_list(struct dmabufd_region_buffer **ret)
{
	int fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC);
	struct dmabufd_region_list l = { .size = sizeof(l), .entry_size = sizeof(**ret) };
	struct dmabufd_region_buffer *v;

	if (fd < 0)
		return -errno;
	v = calloc(4096, sizeof(*v));
	l.entries_ptr = (uintptr_t)v;
	l.capacity = 4096;
	if (!v || ioctl(fd, DMABUFD_REGION_IOC_LIST, &l) < 0) {
		int e = v ? -errno : -ENOMEM;

		free(v);
		close(fd);
		return e;
	}
	close(fd);
	*ret = v;
	return l.count < 4096 ? l.count : 4096;
}

static int mod_info(struct dmabufd_region_info *info)
{
	int fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	if (ioctl(fd, DMABUFD_REGION_IOC_INFO, info) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* The module entry whose label is @label, or NULL. */
static const struct dmabufd_region_buffer *by_label(const struct dmabufd_region_buffer *v, long n,
						   const char *label)
{
	for (long i = 0; i < n; i++)
		if (strncmp(v[i].label, label, sizeof(v[i].label)) == 0)
			return &v[i];
	return NULL;
}

static void fill(uint32_t *p, size_t bytes, uint32_t seed)
{
	for (size_t i = 0; i < bytes / 4; i++)
		p[i] = seed * 2654435761u + (uint32_t)i;
}

static size_t bad_words(const uint32_t *p, size_t bytes, uint32_t seed)
{
	size_t bad = 0;

	for (size_t i = 0; i < bytes / 4; i++)
		bad += p[i] != seed * 2654435761u + (uint32_t)i;
	return bad;
}

/* ---- compaction moves a mapped movable buffer ---- */
#define NC 8
#define CSIZE (1u << 20)
static int cmd_compact(void)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_buffer b[NC];
	uint32_t *map[NC];
	char label[NC][32];
	struct dmabufd_region_buffer *v = NULL, *w = NULL;
	struct dmabufd_compact_result res = { 0 };
	bool keep[NC];
	uint64_t before[NC];
	int r, moved = -1;
	long n;

	for (int i = 0; i < NC; i++) {
		snprintf(label[i], sizeof(label[i]), "e2e-compact-%d", i);
		r = dmabufd_alloc(c, CSIZE, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_MOVABLE, label[i],
				  &b[i]);
		if (r < 0) {
			check(false, "movable alloc %d: %s (%s)", i, strerror(-r), dmabufd_last_reason(c));
			return 1;
		}
		map[i] = mmap(NULL, CSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b[i].fd, 0);
		if (map[i] == MAP_FAILED) {
			check(false, "mmap %d: %s", i, strerror(errno));
			return 1;
		}
		fill(map[i], CSIZE, 100 + i);
	}
	/* Keep every other buffer from the second one on: holes below each. */
	for (int i = 0; i < NC; i++) {
		keep[i] = i % 2 == 1;
		if (keep[i])
			continue;
		munmap(map[i], CSIZE);
		close(b[i].fd);
		dmabufd_release(c, b[i].id);
	}
	n = mod_list(&v);
	check(n >= NC / 2, "module LIST before compaction: %ld buffers", n);
	for (int i = 0; i < NC; i++) {
		const struct dmabufd_region_buffer *e = n > 0 ? by_label(v, n, label[i]) : NULL;

		before[i] = e ? e->page_offset : UINT64_MAX;
	}
	/* The released ranges are free once the daemon read RELEASED: retry. */
	for (int t = 0; t < 50; t++) {
		r = dmabufd_compact(c, &res);
		if (r < 0 || res.moves > 0)
			break;
		usleep(100000);
	}
	check(r == 0 && res.moves > 0,
	      "dmabufctl-equivalent Compact: %llu of %llu moves, %llu bytes; largest free %llu -> %llu bytes (%s)",
	      (unsigned long long)res.moves, (unsigned long long)res.planned_moves,
	      (unsigned long long)res.bytes_moved, (unsigned long long)res.largest_free_before,
	      (unsigned long long)res.largest_free_after, r < 0 ? strerror(-r) : "ok");
	n = mod_list(&w);
	for (int i = 0; i < NC && n > 0; i++) {
		const struct dmabufd_region_buffer *e;

		if (!keep[i])
			continue;
		e = by_label(w, n, label[i]);
		if (e && e->page_offset != before[i] && moved < 0)
			moved = i;
		check(bad_words(map[i], CSIZE, 100 + i) == 0,
		      "buffer %d (page %llu -> %llu): the same mapping reads the same pattern", i,
		      (unsigned long long)before[i], e ? (unsigned long long)e->page_offset : 0ull);
	}
	check(moved >= 0, "a mapped movable buffer's physical range changed (buffer %d)", moved);
	free(v);
	free(w);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

/* ---- buffers survive a SIGKILLed daemon ---- */
#define HSIZE (64u << 10)
static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
	got_usr1 = 1;
}

static int cmd_hold(int nbuf, const char *ready)
{
	struct dmabufd_client *c = connect_daemon();
	uint32_t **map = calloc((size_t)nbuf, sizeof(*map));
	size_t bad = 0;
	FILE *f;
	sigset_t set, old;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (int i = 0; i < nbuf; i++) {
		struct dmabufd_buffer b;
		char label[32];
		int r;

		snprintf(label, sizeof(label), "e2e-hold-%d", i);
		r = dmabufd_alloc(c, HSIZE, 0, (enum dmabufd_attribute)(i % 3),
				  i % 2 ? DMABUFD_ALLOC_MOVABLE : 0, label, &b);
		if (r < 0) {
			check(false, "hold: alloc %d: %s (%s)", i, strerror(-r), dmabufd_last_reason(c));
			return 1;
		}
		map[i] = mmap(NULL, HSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
		if (map[i] == MAP_FAILED) {
			check(false, "hold: mmap %d: %s", i, strerror(errno));
			return 1;
		}
		fill(map[i], HSIZE, 1000 + i);
		/* the fd stays open too: buffers live while their holder does */
	}
	f = fopen(ready, "w");
	if (f)
		fclose(f);
	while (!got_usr1)
		sigsuspend(&old);
	for (int i = 0; i < nbuf; i++)
		bad += bad_words(map[i], HSIZE, 1000 + i);
	check(bad == 0, "hold: %d buffers kept their contents across the daemon's SIGKILL and restart (%zu bad words)",
	      nbuf, bad);
	free(map);
	dmabufd_disconnect(c); /* the first daemon is gone: only frees */
	return failures ? 1 : 0;
}

static int cmd_after_restart(int nbuf)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_stats st;
	struct dmabufd_info info;
	struct dmabufd_region_buffer *v = NULL;
	struct dmabufd_buffer nb[20];
	int r, nnew = 0, overlaps = 0;
	long n;

	r = dmabufd_get_info(c, &info);
	check(r == 0 && strcmp(info.backend, "kmod") == 0 && info.contiguous && info.migration &&
		      info.revocation && info.attributes == 7,
	      "Hello: backend %s, contiguous %d, attributes 0x%x, migration %d, revocation %d",
	      r == 0 ? info.backend : "?", r == 0 && info.contiguous, r == 0 ? info.attributes : 0,
	      r == 0 && info.migration, r == 0 && info.revocation);
	r = dmabufd_stats(c, &st);
	check(r == 0 && st.buffers >= (uint32_t)nbuf && st.used >= (uint64_t)nbuf * HSIZE &&
		      st.orphaned_buffers >= (uint32_t)nbuf,
	      "restarted daemon rebuilt from LIST: %u buffers, %u orphaned, %llu bytes used",
	      st.buffers, st.orphaned_buffers, (unsigned long long)st.used);
	for (int i = 0; i < 20; i++) {
		r = dmabufd_alloc(c, HSIZE * (1 + i % 4), 0, DMABUFD_ATTR_CACHED, 0, "e2e-new", &nb[i]);
		if (r < 0)
			break;
		nnew++;
	}
	n = mod_list(&v);
	/* Every new buffer's daemon range equals its module range; none overlaps another. */
	for (int i = 0; i < nnew && n > 0; i++) {
		uint64_t a = nb[i].offset / st.page_size, e = a + nb[i].size / st.page_size;
		int same = 0;

		for (long j = 0; j < n; j++) {
			if (v[j].page_offset == a && v[j].page_count == nb[i].size / st.page_size)
				same++;
			else if (v[j].page_offset < e && a < v[j].page_offset + v[j].page_count)
				overlaps++;
		}
		if (same != 1)
			overlaps++;
	}
	check(nnew == 20 && overlaps == 0,
	      "%d new allocations after the restart; %ld module buffers; %d overlaps or mismatches",
	      nnew, n, overlaps);
	for (int i = 0; i < nnew; i++) {
		dmabufd_release(c, nb[i].id);
		close(nb[i].fd);
	}
	free(v);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

/* The orphans leave once their holder is gone (RELEASED events). */
static int cmd_orphans_gone(void)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_stats st = { 0 };
	int r = 0;

	for (int t = 0; t < 50; t++) {
		r = dmabufd_stats(c, &st);
		if (r < 0 || (st.orphaned_buffers == 0 && st.used == 0))
			break;
		usleep(100000);
	}
	check(r == 0 && st.orphaned_buffers == 0 && st.used == 0 && st.buffers == 0,
	      "orphans released with their holder: %u orphaned, %llu bytes used, %llu of %llu bytes free",
	      st.orphaned_buffers, (unsigned long long)st.used,
	      (unsigned long long)(st.free_pages * st.page_size), (unsigned long long)st.capacity);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

/* ---- framebuffers: one contiguous range, imported by vgem ---- */
static int open_vgem(void)
{
	char path[64];

	for (int i = 0; i < 16; i++) {
		drmVersionPtr v;
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		if (v && strcmp(v->name, "vgem") == 0) {
			drmFreeVersion(v);
			return fd;
		}
		drmFreeVersion(v);
		close(fd);
	}
	return -ENODEV;
}

static int send_fd(int sock, int fd)
{
	char c = 'f';
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			    .msg_controllen = sizeof(u.b) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
			    .msg_controllen = sizeof(u.b) };
	struct cmsghdr *h;
	int fd;

	if (recvmsg(sock, &m, 0) != 1)
		return -EIO;
	h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_RIGHTS)
		return -EIO;
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static int cmd_fb(void)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_framebuffer nv12, xr;
	struct dmabufd_region_info info;
	struct dmabufd_region_buffer *v = NULL;
	const struct dmabufd_region_buffer *e;
	int vgem = open_vgem(), r, sv[2], status = -1;
	uint32_t handle = 0;
	uint32_t *p;
	pid_t pid;
	long n;

	if (mod_info(&info) < 0) {
		check(false, "module INFO");
		return 1;
	}
	r = dmabufd_alloc_framebuffer(c, 3840, 2160, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
				      DMABUFD_USAGE_VIDEO_DECODE | DMABUFD_USAGE_SCANOUT,
				      DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS, "e2e-nv12", &nv12);
	check(r == 0 && nv12.num_planes == 2, "NV12 3840x2160 from the kmod backend: %s, %u planes, %llu bytes",
	      r < 0 ? strerror(-r) : "ok", r == 0 ? nv12.num_planes : 0,
	      r == 0 ? (unsigned long long)nv12.size : 0ull);
	if (r < 0)
		return 1;
	if (vgem >= 0) {
		r = drmPrimeFDToHandle(vgem, nv12.fd, &handle);
		check(r == 0, "NV12 imported into vgem (handle %u)", handle);
	} else {
		printf("# vgem absent: NV12 contiguity from LIST only\n");
	}
	n = mod_list(&v);
	e = n > 0 ? by_label(v, n, "e2e-nv12") : NULL;
	check(e && e->page_count * info.page_size == nv12.size &&
		      (vgem < 0 || (e->last_map_nents == 1 &&
				    e->last_map_dma_len == nv12.size &&
				    e->last_map_dma_addr == (info.base_pfn + e->page_offset) * info.page_size)),
	      "NV12 is one contiguous range: PFN %llu + %llu pages, %u sg entries of %llu bytes at 0x%llx",
	      e ? (unsigned long long)(info.base_pfn + e->page_offset) : 0ull,
	      e ? (unsigned long long)e->page_count : 0ull, e ? e->last_map_nents : 0,
	      e ? (unsigned long long)e->last_map_dma_len : 0ull,
	      e ? (unsigned long long)e->last_map_dma_addr : 0ull);
	free(v);
	v = NULL;

	r = dmabufd_alloc_framebuffer(c, 1920, 1080, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
				      DMABUFD_USAGE_SCANOUT | DMABUFD_USAGE_CPU_WRITE,
				      DMABUFD_ATTR_WRITECOMBINE, 0, "e2e-xrgb-wc", &xr);
	check(r == 0, "XRGB8888 1920x1080 write-combine: %s, pitch %u, %llu bytes",
	      r < 0 ? strerror(-r) : "ok", r == 0 ? xr.pitches[0] : 0,
	      r == 0 ? (unsigned long long)xr.size : 0ull);
	if (r < 0)
		return 1;
	if (vgem >= 0) {
		r = drmPrimeFDToHandle(vgem, xr.fd, &handle);
		check(r == 0, "XRGB8888 WC imported into vgem with drmPrimeFDToHandle (%s)",
		      r ? strerror(errno) : "ok");
	}
	p = mmap(NULL, xr.size, PROT_READ | PROT_WRITE, MAP_SHARED, xr.fd, 0);
	if (p == MAP_FAILED) {
		check(false, "mmap WC framebuffer: %s", strerror(errno));
		return 1;
	}
	fill(p, xr.size, 77);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		int fd = recv_fd(sv[1]);
		uint32_t *q;

		if (fd < 0)
			_exit(2);
		q = mmap(NULL, xr.size, PROT_READ, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED)
			_exit(3);
		_exit(bad_words(q, xr.size, 77) == 0 ? 0 : 1);
	}
	send_fd(sv[0], xr.fd);
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a second process mmaps the WC framebuffer (fd over a Unix socket) and reads what the first wrote (status %d)",
	      status);
	n = mod_list(&v);
	e = n > 0 ? by_label(v, n, "e2e-xrgb-wc") : NULL;
#if defined(__aarch64__)
	/* arm64 keeps the memory type in each PTE, not per PFN: read this
	 * mapping's PTEs (tests/vm/ptattr, loaded by run-vm.sh --arch arm64). */
	if (e) {
		uint64_t np = xr.size / info.page_size, nc = 0;
		int pt = open(DMABUFD_PTATTR_DEVICE, O_RDWR | O_CLOEXEC);

		for (uint64_t i = 0; pt >= 0 && i < np; i++) {
			struct dmabufd_ptattr_query q = { .addr = (uintptr_t)p + i * info.page_size };

			if (ioctl(pt, DMABUFD_PTATTR_QUERY, &q) == 0 && q.mair == 0x44 &&
			    q.pfn == info.base_pfn + e->page_offset + i)
				nc++;
		}
		check(pt >= 0 && nc == np,
		      "page tables: %llu of %llu PTEs of the WC framebuffer map its PFNs Normal Non-cacheable (MAIR 0x44)",
		      (unsigned long long)nc, (unsigned long long)np);
		if (pt >= 0)
			close(pt);
	} else {
		check(false, "WC framebuffer in module LIST");
	}
#else
	if (e) {
		uint64_t np = e->page_count, *flags = calloc(np, 8), wc = 0;
		int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		ssize_t got = -1;

		if (kf >= 0 && flags)
			got = pread(kf, flags, np * 8, (off_t)((info.base_pfn + e->page_offset) * 8));
		for (uint64_t i = 0; got == (ssize_t)(np * 8) && i < np; i++)
			wc += (flags[i] >> KPF_ARCH) & 1;
		check(got == (ssize_t)(np * 8) && wc == np,
		      "/proc/kpageflags: %llu of %llu PFNs of the WC framebuffer have KPF_ARCH (write-combine)",
		      (unsigned long long)wc, (unsigned long long)np);
		if (kf >= 0)
			close(kf);
		free(flags);
	} else {
		check(false, "WC framebuffer in module LIST");
	}
#endif
	free(v);
	munmap(p, xr.size);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

/* Diagnosis: runs of frames of the region that are neither free nor in a buffer. */
static int cmd_kpf(void)
{
	struct dmabufd_region_info info;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC), runs = 0;
	uint64_t *f, start = 0, prev = 0;
	bool in = false;

	if (fd < 0 || mod_info(&info) < 0)
		return 1;
	f = calloc(info.page_count, 8);
	if (!f || pread(fd, f, info.page_count * 8, (off_t)(info.base_pfn * 8)) !=
			  (ssize_t)(info.page_count * 8))
		return 1;
	for (uint64_t i = 0; i <= info.page_count; i++) {
		bool busy = i < info.page_count && !(f[i] & (1ULL << 10)) && (f[i] != 0 || i > info.page_count * 3 / 4);

		if (busy && !in) {
			in = true;
			start = i;
			prev = f[i];
		} else if (!busy && in) {
			in = false;
			if (runs++ < 4 || start > info.page_count * 3 / 4)
				printf("# busy run page %llu +%llu, first flags 0x%llx\n",
				       (unsigned long long)start, (unsigned long long)(i - start),
				       (unsigned long long)prev);
		}
	}
	printf("# %d runs of non-free frames\n", runs);
	free(f);
	close(fd);
	return 0;
}

/* ---- Revoke on the kmod backend ---- */
#define RSIZE (1u << 20)
static sigjmp_buf bus_jmp;
static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* Read @p once; true when that raised SIGBUS. */
static bool touch_sigbus(volatile const uint32_t *p)
{
	struct sigaction sa = { .sa_handler = on_bus }, old;
	volatile bool bus = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1) == 0)
		(void)p[0];
	else
		bus = true;
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

static bool listed(struct dmabufd_client *c, uint64_t id)
{
	struct dmabufd_buffer_info *l = NULL;
	size_t n = 0;
	bool found = false;

	if (dmabufd_list(c, &l, &n) < 0)
		return true; /* cannot tell: count as still there */
	for (size_t i = 0; i < n; i++)
		found |= l[i].id == id;
	dmabufd_list_free(l);
	return found;
}

/*
 * A device import (vgem: a mapped static attachment) makes the client's
 * own Revoke -EBUSY with a reason, nothing changed; after GEM close it
 * succeeds.
 */
static void revoke_attached(struct dmabufd_client *c)
{
	struct dmabufd_buffer b;
	uint32_t handle = 0;
	uint32_t *m;
	int vgem = open_vgem(), r;

	if (vgem < 0) {
		check(false, "revoke: vgem present");
		return;
	}
	r = dmabufd_alloc(c, RSIZE, 0, DMABUFD_ATTR_CACHED, 0, "e2e-revoke-busy", &b);
	if (r < 0) {
		check(false, "revoke: alloc for the attachment case: %s", strerror(-r));
		close(vgem);
		return;
	}
	m = mmap(NULL, RSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	if (m != MAP_FAILED)
		fill(m, RSIZE, 77);
	check(drmPrimeFDToHandle(vgem, b.fd, &handle) == 0, "revoke: vgem imports the buffer");
	r = dmabufd_revoke(c, b.id);
	check(r == -EBUSY && strstr(dmabufd_last_reason(c), "device"),
	      "revoke: Revoke while vgem has it mapped: %s (%s)", strerror(-r), dmabufd_last_reason(c));
	check(listed(c, b.id) && m != MAP_FAILED && bad_words(m, RSIZE, 77) == 0,
	      "revoke: after EBUSY the buffer is listed and its mapping reads its data");
	if (handle) {
		struct drm_gem_close gc = { .handle = handle };

		drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	r = dmabufd_revoke(c, b.id);
	check(r == 0 && !listed(c, b.id), "revoke: after GEM close the owner's Revoke works: %s",
	      r < 0 ? strerror(-r) : "ok");
	if (m != MAP_FAILED)
		check(touch_sigbus(m), "revoke: the owner's mapping faults with SIGBUS");
	if (m != MAP_FAILED)
		munmap(m, RSIZE);
	close(b.fd);
	close(vgem);
}

/*
 * revoke READYFILE: allocate and map a WC buffer, fill it, write its id to
 * READYFILE and wait for SIGUSR1 (kmod-e2e.sh runs "dmabufctl revoke ID"
 * meanwhile); then the next touch must be SIGBUS, mmap ENODEV, and Stats
 * shows the pages back (free pages, used bytes, buffers as before the
 * allocation) and List no longer shows the buffer.
 */
static int cmd_revoke(const char *ready)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_stats s0 = { 0 }, s1 = { 0 };
	struct dmabufd_buffer b;
	struct dmabufd_region_buffer *v = NULL;
	sigset_t set, old;
	uint32_t *m;
	void *m2;
	FILE *f;
	long n;
	int r;

	signal(SIGUSR1, on_usr1);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	revoke_attached(c);
	/* Settle: released ranges are free once the daemon read RELEASED. */
	for (int t = 0; t < 50; t++) {
		if (dmabufd_stats(c, &s0) == 0 && s0.buffers == 0 && s0.used == 0)
			break;
		usleep(100000);
	}
	r = dmabufd_alloc(c, RSIZE, 0, DMABUFD_ATTR_WRITECOMBINE, 0, "e2e-revoke", &b);
	if (r < 0) {
		check(false, "revoke: alloc: %s (%s)", strerror(-r), dmabufd_last_reason(c));
		return 1;
	}
	m = mmap(NULL, RSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	if (m == MAP_FAILED) {
		check(false, "revoke: mmap: %s", strerror(errno));
		return 1;
	}
	fill(m, RSIZE, 4242);
	check(bad_words(m, RSIZE, 4242) == 0 && listed(c, b.id),
	      "revoke: buffer %llu mapped, written, listed", (unsigned long long)b.id);
	f = fopen(ready, "w");
	if (f) {
		fprintf(f, "%llu\n", (unsigned long long)b.id);
		fclose(f);
	}
	while (!got_usr1)
		sigsuspend(&old);
	check(touch_sigbus(m), "revoke: after dmabufctl revoke the client's next touch is SIGBUS");
	m2 = mmap(NULL, RSIZE, PROT_READ, MAP_SHARED, b.fd, 0);
	check(m2 == MAP_FAILED && errno == ENODEV, "revoke: a new mmap of the client's fd is ENODEV (%s)",
	      m2 == MAP_FAILED ? strerror(errno) : "mapped");
	for (int t = 0; t < 50; t++) {
		r = dmabufd_stats(c, &s1);
		if (r < 0 || (s1.free_pages == s0.free_pages && s1.buffers == s0.buffers))
			break;
		usleep(100000);
	}
	check(r == 0 && s1.free_pages == s0.free_pages && s1.largest_free_pages == s0.largest_free_pages &&
		      s1.used == s0.used && s1.buffers == s0.buffers,
	      "revoke: Stats shows the pages back while the client still holds the fd: %llu free pages "
	      "(%llu before), %llu bytes used, %u buffers",
	      (unsigned long long)s1.free_pages, (unsigned long long)s0.free_pages,
	      (unsigned long long)s1.used, s1.buffers);
	check(!listed(c, b.id), "revoke: List no longer shows buffer %llu", (unsigned long long)b.id);
	n = mod_list(&v);
	check(n >= 0 && !by_label(v, n, "e2e-revoke"), "revoke: the module's LIST no longer has it");
	free(v);
	munmap(m, RSIZE);
	close(b.fd);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

/* ---- allocations with the region full of anonymous THPs ---- */
#define KPF_COMPOUND_HEAD 15
#define KPF_THP 22
#define THP_BYTES (2u << 20)

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* Whether the 2 MiB at @p are one THP inside [base, base + count) (PFNs). */
static bool thp_in_region(const void *p, uint64_t base, uint64_t count)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0, f = 0, pfn;
	bool ok = false;

	if (pm >= 0 && kf >= 0 &&
	    pread(pm, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) == 8 && (e >> 63 & 1)) {
		pfn = e & ((1ULL << 55) - 1);
		ok = pfn >= base && pfn + THP_BYTES / 4096 <= base + count &&
		     pread(kf, &f, 8, (off_t)(pfn * 8)) == 8 && (f >> KPF_THP & 1) &&
		     (f >> KPF_COMPOUND_HEAD & 1);
	}
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return ok;
}

/*
 * The region filled with anonymous THPs (MADV_HUGEPAGE, MiB given), then 48
 * allocations of 80-240 KiB in all three attributes through the daemon:
 * every one must succeed (the module migrates THPs whatever the alignment of
 * the placement) and the THPs' contents stay intact.
 */
static int cmd_thp(unsigned mib)
{
	struct dmabufd_client *c = connect_daemon();
	struct dmabufd_region_info mi;
	struct dmabufd_buffer b[48];
	size_t len = (size_t)mib << 20, bad;
	unsigned char *raw, *area;
	int ok = 0, nthp = 0;
	double t0;

	check(write_str("/sys/kernel/mm/transparent_hugepage/enabled", "always") == 0,
	      "thp: transparent_hugepage/enabled set to always");
	if (mod_info(&mi) < 0) {
		check(false, "thp: module INFO");
		return 1;
	}
	raw = mmap(NULL, len + THP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED) {
		check(false, "thp: mmap %u MiB: %s", mib, strerror(errno));
		return 1;
	}
	area = (unsigned char *)(((uintptr_t)raw + THP_BYTES - 1) & ~(uintptr_t)(THP_BYTES - 1));
	madvise(area, len, MADV_HUGEPAGE);
	fill((uint32_t *)area, len, 77);
	for (size_t o = 0; o < len; o += THP_BYTES)
		nthp += thp_in_region(area + o, mi.base_pfn, mi.page_count);
	check(nthp * 2 >= (int)(mi.page_count / 256) * 3 / 4,
	      "thp: %d MiB of the %llu MiB region hold THPs of this process", nthp * 2,
	      (unsigned long long)mi.page_count / 256);
	t0 = (double)clock() / CLOCKS_PER_SEC;
	for (int i = 0; i < 48; i++) {
		uint64_t size = (80 + (uint64_t)(i * 37 % 41) * 4) << 10; /* 80..240 KiB */
		char label[32];
		int r;

		snprintf(label, sizeof(label), "e2e-thp-%d", i);
		r = dmabufd_alloc(c, size, 0, (enum dmabufd_attribute)(i % 3),
				  i % 2 ? DMABUFD_ALLOC_MOVABLE : 0, label, &b[ok]);
		if (r == 0)
			ok++;
		else
			printf("# thp: alloc %d (%llu KiB): %s (%s)\n", i,
			       (unsigned long long)size >> 10, strerror(-r), dmabufd_last_reason(c));
	}
	check(ok == 48, "thp: 48 of 48 allocations of 80-240 KiB succeed with the region full of THPs (%d ok, %.2fs CPU)",
	      ok, (double)clock() / CLOCKS_PER_SEC - t0);
	bad = bad_words((uint32_t *)area, len, 77);
	check(bad == 0, "thp: the THPs' contents are intact (%zu bad words)", bad);
	for (int i = 0; i < ok; i++) {
		close(b[i].fd);
		dmabufd_release(c, b[i].id);
	}
	munmap(raw, len + THP_BYTES);
	dmabufd_disconnect(c);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "kpf") == 0)
		return cmd_kpf();
	if (argc >= 2 && strcmp(argv[1], "compact") == 0)
		return cmd_compact();
	if (argc >= 4 && strcmp(argv[1], "hold") == 0)
		return cmd_hold(atoi(argv[2]), argv[3]);
	if (argc >= 3 && strcmp(argv[1], "after-restart") == 0)
		return cmd_after_restart(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "orphans-gone") == 0)
		return cmd_orphans_gone();
	if (argc >= 2 && strcmp(argv[1], "fb") == 0)
		return cmd_fb();
	if (argc >= 3 && strcmp(argv[1], "revoke") == 0)
		return cmd_revoke(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "thp") == 0)
		return cmd_thp((unsigned)atoi(argv[2]));
	fprintf(stderr, "usage: %s compact | hold N READYFILE | after-restart N | orphans-gone | fb"
		" | revoke READYFILE | thp MIB\n",
		argv[0]);
	return 2;
}
