/* SPDX-License-Identifier: MIT */
/*
 * kpool-bench: in the VM (kpool-bench-vm.sh), the cost of one contiguous
 * allocation by each path a program or driver could take, one JSON line
 * per run (read with jq; ratios are made by the script):
 *   brokered  dmabufd_alloc(CONTIGUOUS, attribute) from a dmabufd on the
 *             kmod backend (with or without its pool: the daemon's options)
 *   naive     what a driver without a pool does per allocation:
 *             alloc_contig_range() + clear_page() + flush + set_memory_wc
 *             (tests/vm/naive/dmabufd_naive.ko, timed around the ioctl)
 *   udmabuf   memfd_create + ftruncate + seal + UDMABUF_CREATE
 *   heap      DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/system
 * Each timed call is one allocation ("request" latency: until the fd is in
 * hand); "made_ahead" counts brokered kmod allocations whose module buffer
 * was EXPORTed before the request (LIST ids): no EXPORT, so no attribute
 * transition, on their path. The release and, with --lent, topping the region's page cache up
 * again are not timed. Attribute transitions are the module's own counter
 * (INFO.attr_transitions), read around each timed call ("request") and over
 * the whole run ("total", including the pool's refills and the releases).
 * claim/zero/attr_p50_us: naive, the module's own timing of each call;
 * brokered, the change of dmabufd_region.ko's EXPORT counters around each
 * call (its export_*_ns parameters; without a pool, the request's own
 * EXPORT). "exports", "refused", "refused_ms": the daemon's successful and
 * failed EXPORTs over the timed calls and the time the failed claims took;
 * "claim_attempts": the module's alloc_contig_range() calls over them
 * (more than the EXPORTs: the module retried a claim).
 *
 * Usage:
 *   kpool-bench run VARIANT --size BYTES [--n N] [--attr cached|wc|uc]
 *              [--warm] [--check-zero] [--lent PERCENT] [--gap-ms MS]
 *              [--naive-offset PAGES]   (default: a quarter into the region)
 *              [--noncontig]   (brokered without CONTIGUOUS: the udmabuf backend)
 *   kpool-bench ring --size BYTES [--ring 8] [--hz 60] [--seconds 60] [--churn MiB]
 *   kpool-bench random [--n 2000]  randomized Alloc/Release through a daemon
 *              with a pool: the PFN audit (module ATTRS = PAT page flags
 *              over pooled, live and free ranges; every client buffer is
 *              the module buffer at its offset; the daemon's region and the
 *              module agree on claimed pages) every 100 operations, and
 *              every buffer handed out reads zero
 *   kpool-bench hold --size BYTES --n N  allocate N pinned cached buffers,
 *              release every other one (a region fragmented by live pinned
 *              buffers), print "ready" and hold the rest until SIGTERM
 *   kpool-bench lent-ab --size BYTES [--n N] [--attr A] [--lent PERCENT]
 *              N rounds, each of (b) placed by claim cost, (b) by policy
 *              (the module's occupancy parameter off) and (c) naive, in a
 *              rotating order, the page cache topped up before each (see
 *              lent_ab())
 *   kpool-bench fill PERCENT      page cache until the region is PERCENT lent
 *   kpool-bench unfill            delete what fill wrote
 * --warm: before each brokered allocation, wait (untimed) until the
 * daemon's Stats show a pooled buffer of the size ready and the pool has
 * not changed for 1 s (full: its worker idle). --check-zero: map
 * each brokered buffer and check every byte is 0 (untimed). The daemon's
 * socket: $DMABUFD_SOCKET.
 * Exit: 0; 1 a failure (an allocation failed, or nonzero pooled memory);
 * 77 the variant's device is absent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include "../../include/uapi/dmabufd-region.h"
#include "dmabufd/dmabufd.h"
#include "naive/dmabufd_naive.h"

#define MAX_N 4096
#define FILL_DIR "/tmp/kpool-fill"
#define FILL_CHUNK (4u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, unsigned n, unsigned p)
{
	unsigned i = n ? (n * p + 99) / 100 : 0;

	return n ? sorted[i ? i - 1 : 0] : 0;
}

static int region_fd = -1;

static int region_info(struct dmabufd_region_info *info)
{
	if (region_fd < 0)
		region_fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC);
	if (region_fd < 0)
		return -errno;
	*info = (struct dmabufd_region_info){ .size = sizeof(*info) };
	return ioctl(region_fd, DMABUFD_REGION_IOC_INFO, info) < 0 ? -errno : 0;
}

static uint64_t transitions(void)
{
	struct dmabufd_region_info info;

	return region_info(&info) == 0 ? info.attr_transitions : 0;
}

/*
 * The module's EXPORT counters (kmod/README.md, "Load"): successful
 * claims, nanoseconds claiming, zeroing and switching the attribute, failed
 * claims, nanoseconds in them, alloc_contig_range() calls. All 0 when the
 * module does not have them.
 */
enum { EXP_CLAIMS, EXP_CLAIM_NS, EXP_ZERO_NS, EXP_ATTR_NS, EXP_REFUSED, EXP_REFUSED_NS,
       EXP_ATTEMPTS, EXP_N };

static void export_counters(uint64_t v[EXP_N])
{
	static const char *const names[EXP_N] = {
		"export_claims", "export_claim_ns", "export_zero_ns", "export_attr_ns",
		"export_refused", "export_refused_ns", "claim_attempts",
	};

	for (int i = 0; i < EXP_N; i++) {
		char path[96];
		unsigned long long x = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/module/dmabufd_region/parameters/%s", names[i]);
		f = fopen(path, "re");
		v[i] = f && fscanf(f, "%llu", &x) == 1 ? x : 0;
		if (f)
			fclose(f);
	}
}

/* LIST (≤ 4096 entries): the module's live buffers; count or -1. */
static int region_list(struct dmabufd_region_buffer *v, uint32_t cap)
{
	struct dmabufd_region_list l = { .size = sizeof(l), .entries_ptr = (uintptr_t)v,
					 .capacity = cap, .entry_size = sizeof(v[0]) };
	struct dmabufd_region_info info;

	if (region_info(&info) < 0 || ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0 ||
	    l.count > cap)
		return -1;
	return (int)l.count;
}

/* Pages of the region held by the page allocator's users (not free, not claimed). */
static int region_lent_percent(void)
{
	struct dmabufd_region_info info;
	char line[256], cur[32] = "";
	unsigned long long free_pages = 0, present = 0, v;
	FILE *f;

	if (region_info(&info) < 0)
		return -1;
	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %*d, zone %31s", cur) == 1)
			continue;
		if (strcmp(cur, "Movable"))
			continue;
		if (sscanf(line, " pages free %llu", &v) == 1)
			free_pages += v;
		else if (sscanf(line, " present %llu", &v) == 1)
			present += v;
	}
	fclose(f);
	if (!present)
		return -1;
	/* lent = present - free - claimed by buffers */
	return (int)((present - free_pages - info.claimed_pages) * 100 / present);
}

/*
 * Writes page cache (tmpfs files) until the region is @percent lent. Every
 * claim over lent pages migrates them out of the region and the next
 * top-up writes as much again, so the files are capped at FILL_MAX_FILES:
 * beyond it the oldest is deleted first (its pages free wherever they now
 * are), which keeps the guest's page cache and /tmp bounded over long runs.
 */
#define FILL_MAX_FILES 128 /* of FILL_CHUNK: 512 MiB */
static int fill(int percent)
{
	static unsigned serial, oldest;
	static char chunk[FILL_CHUNK];
	char path[128];
	int lent, fd;

	mkdir(FILL_DIR, 0700);
	memset(chunk, 0x5a, sizeof(chunk));
	for (unsigned guard = 0; guard < 4096; guard++) {
		lent = region_lent_percent();
		if (lent < 0)
			return -1;
		if (lent >= percent)
			return lent;
		if (serial - oldest >= FILL_MAX_FILES) {
			snprintf(path, sizeof(path), FILL_DIR "/%u", oldest++);
			unlink(path);
		}
		snprintf(path, sizeof(path), FILL_DIR "/%u", serial++);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
			fprintf(stderr, "kpool-bench: fill: %s: %s\n", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return region_lent_percent();
}

static void unfill(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", FILL_DIR);
	if (system(cmd) != 0)
		fprintf(stderr, "kpool-bench: %s failed\n", cmd);
}

static uint32_t parse_attr(const char *s)
{
	if (!strcmp(s, "wc"))
		return DMABUFD_REGION_ATTR_WRITECOMBINE;
	if (!strcmp(s, "uc"))
		return DMABUFD_REGION_ATTR_UNCACHED;
	return DMABUFD_REGION_ATTR_CACHED;
}

struct opts {
	const char *variant;
	uint64_t size;
	unsigned n, gap_ms, ring, hz, seconds, churn_mib;
	uint32_t attr;
	bool warm, check_zero, noncontig;
	int lent;
	uint64_t naive_offset; /* pages */
};

/*
 * Waits (≤ 30 s) until the daemon holds a pooled buffer of @size and its
 * pool has not changed for 1 s: full, so the worker is idle and nothing
 * is EXPORTed between the LIST before a request and the request.
 */
static void wait_warm(struct dmabufd_client *c, uint64_t size)
{
	uint64_t last = UINT64_MAX, since = now_ns();

	for (int i = 0; i < 3000; i++) {
		struct dmabufd_stats st;

		if (dmabufd_stats_sized(c, &st, sizeof(st)) == 0) {
			if (st.pooled != last) {
				last = st.pooled;
				since = now_ns();
			} else if (st.pooled >= size && now_ns() - since >= 1000000000ull) {
				return;
			}
		}
		usleep(10000);
	}
}

static bool all_zero(int fd, uint64_t size)
{
	const uint64_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	bool ok = true;

	if (p == MAP_FAILED)
		return false;
	for (uint64_t i = 0; i < size / 8 && ok; i++)
		ok = p[i] == 0;
	munmap((void *)p, size);
	return ok;
}

static int run(const struct opts *o)
{
	static uint64_t lat[MAX_N];
	struct dmabufd_client *c = NULL;
	struct dmabufd_region_info info;
	uint64_t req_tr = 0, tr0, pfn = 0, claim[MAX_N], zero[MAX_N], attr_ns[MAX_N];
	uint64_t refused = 0, refused_ns = 0, attempts = 0, exports = 0;
	static struct dmabufd_region_buffer lv[4096];
	unsigned made_ahead = 0; /* brokered: module buffers EXPORTed before the request */
	struct dmabufd_stats st0 = { 0 }, st1 = { 0 };
	unsigned ok = 0, failed = 0, nonzero = 0, n = o->n > MAX_N ? MAX_N : o->n;
	int dev = -1, lent = -1, first_err = 0;
	bool have_region = region_info(&info) == 0;

	if (!strcmp(o->variant, "brokered")) {
		int err = dmabufd_connect(NULL, &c);

		if (err < 0) {
			fprintf(stderr, "kpool-bench: connect: %s\n", strerror(-err));
			return 1;
		}
	} else if (!strcmp(o->variant, "naive")) {
		dev = open(DMABUFD_NAIVE_DEVICE, O_RDWR | O_CLOEXEC);
		if (dev < 0 || !have_region)
			return 77;
		/* default: a quarter into the region (the daemon's pinned
		 * buffers gather at the top; none runs meanwhile anyway) */
		pfn = info.base_pfn +
		      (o->naive_offset ? o->naive_offset : info.page_count / 4 / 512 * 512);
	} else if (!strcmp(o->variant, "udmabuf")) {
		dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return 77;
	} else if (!strcmp(o->variant, "heap")) {
		dev = open("/dev/dma_heap/system", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return 77;
	} else {
		fprintf(stderr, "kpool-bench: unknown variant %s\n", o->variant);
		return 1;
	}
	if (c && o->warm) {
		/* One untimed allocation teaches the pool the class. */
		struct dmabufd_buffer b;

		if (dmabufd_alloc(c, o->size, 0, (enum dmabufd_attribute)o->attr,
				  o->noncontig ? 0 : DMABUFD_ALLOC_CONTIGUOUS, "kpool-bench", &b) == 0) {
			close(b.fd);
			dmabufd_release(c, b.id);
		}
	}
	if (c)
		dmabufd_stats_sized(c, &st0, sizeof(st0));
	tr0 = transitions();
	for (unsigned i = 0; i < n; i++) {
		struct dmabufd_buffer b = { 0 };
		struct dmabufd_naive_alloc na = { .pfn = pfn, .count = o->size / 4096,
						  .attr = o->attr };
		uint64_t t0, t1, trb, max_id = 0, ex0[EXP_N], ex1[EXP_N];
		int fd = -1, mfd = -1, err = 0, nl;

		if (o->lent > 0)
			lent = fill(o->lent);
		if (c && o->warm)
			wait_warm(c, o->size);
		nl = c && have_region ? region_list(lv, 4096) : -1;
		for (int k = 0; k < nl; k++)
			max_id = lv[k].id > max_id ? lv[k].id : max_id;
		trb = transitions();
		export_counters(ex0);
		t0 = now_ns();
		if (c) {
			err = dmabufd_alloc(c, o->size, 0, (enum dmabufd_attribute)o->attr,
					    o->noncontig ? 0 : DMABUFD_ALLOC_CONTIGUOUS, "kpool-bench", &b);
			fd = b.fd;
		} else if (!strcmp(o->variant, "naive")) {
			err = ioctl(dev, DMABUFD_NAIVE_IOC_ALLOC, &na) < 0 ? -errno : 0;
		} else if (!strcmp(o->variant, "udmabuf")) {
			struct udmabuf_create uc = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = o->size };

			mfd = memfd_create("kpool-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			if (mfd < 0 || ftruncate(mfd, (off_t)o->size) < 0 ||
			    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
				err = -errno;
			} else {
				uc.memfd = (uint32_t)mfd;
				fd = ioctl(dev, UDMABUF_CREATE, &uc);
				err = fd < 0 ? -errno : 0;
			}
		} else {
			struct dma_heap_allocation_data d = { .len = o->size,
							      .fd_flags = O_RDWR | O_CLOEXEC };

			err = ioctl(dev, DMA_HEAP_IOCTL_ALLOC, &d) < 0 ? -errno : 0;
			fd = err ? -1 : (int)d.fd;
		}
		t1 = now_ns();
		req_tr += transitions() - trb;
		export_counters(ex1);
		if (c) {
			/* The daemon's EXPORTs around the request (no pool runs: its own). */
			na.claim_ns = ex1[EXP_CLAIM_NS] - ex0[EXP_CLAIM_NS];
			na.zero_ns = ex1[EXP_ZERO_NS] - ex0[EXP_ZERO_NS];
			na.attr_ns = ex1[EXP_ATTR_NS] - ex0[EXP_ATTR_NS];
			exports += ex1[EXP_CLAIMS] - ex0[EXP_CLAIMS];
			refused += ex1[EXP_REFUSED] - ex0[EXP_REFUSED];
			refused_ns += ex1[EXP_REFUSED_NS] - ex0[EXP_REFUSED_NS];
		}
		attempts += ex1[EXP_ATTEMPTS] - ex0[EXP_ATTEMPTS];
		if (err < 0) {
			failed++;
			if (!first_err) {
				first_err = err;
				fprintf(stderr, "kpool-bench: %s %" PRIu64 ": %s (%s)\n", o->variant,
					o->size, strerror(-err), c ? dmabufd_last_reason(c) : "");
			}
		} else {
			claim[ok] = na.claim_ns;
			zero[ok] = na.zero_ns;
			attr_ns[ok] = na.attr_ns;
			lat[ok++] = t1 - t0;
		}
		if (err == 0 && c && o->check_zero && !all_zero(fd, o->size))
			nonzero++;
		/*
		 * The module buffer now at the offset, made before the request
		 * (an id no higher than every id LIST showed before it): this
		 * allocation made no EXPORT, so no transition, on its path.
		 */
		if (err == 0 && nl >= 0) {
			int m = region_list(lv, 4096);

			for (int k = 0; k < m; k++)
				if (lv[k].page_offset == b.offset / 4096 && lv[k].id <= max_id)
					made_ahead++;
		}
		if (err == 0 && !strcmp(o->variant, "naive") &&
		    ioctl(dev, DMABUFD_NAIVE_IOC_FREE, &na) < 0)
			fprintf(stderr, "kpool-bench: naive free: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		if (mfd >= 0)
			close(mfd);
		if (c && err == 0)
			dmabufd_release(c, b.id);
		if (o->gap_ms)
			usleep(o->gap_ms * 1000);
	}
	if (c)
		dmabufd_stats_sized(c, &st1, sizeof(st1));
	qsort(lat, ok, sizeof(lat[0]), cmp_u64);
	qsort(claim, ok, sizeof(claim[0]), cmp_u64);
	qsort(zero, ok, sizeof(zero[0]), cmp_u64);
	qsort(attr_ns, ok, sizeof(attr_ns[0]), cmp_u64);
	printf("{\"made_ahead\":%u,\"exports\":%" PRIu64 ",\"refused\":%" PRIu64
	       ",\"refused_ms\":%.1f,\"claim_attempts\":%" PRIu64 ",",
	       made_ahead, exports, refused, refused_ns / 1e6, attempts);
	printf("\"contiguous\":%s,\"pool_hits\":%" PRIu64 ",\"pool_misses\":%" PRIu64
	       ",\"claim_p50_us\":%.1f,"
	       "\"zero_p50_us\":%.1f,\"attr_p50_us\":%.1f,",
	       o->noncontig ? "false" : "true", st1.pool_hits - st0.pool_hits, st1.pool_misses - st0.pool_misses,
	       pct(claim, ok, 50) / 1e3, pct(zero, ok, 50) / 1e3, pct(attr_ns, ok, 50) / 1e3);
	printf("\"variant\":\"%s\",\"size\":%" PRIu64 ",\"attr\":%u,\"warm\":%s,\"lent_target\":%d,"
	       "\"lent_last\":%d,\"n\":%u,\"ok\":%u,\"failed\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"max_us\":%.1f,\"transitions_request\":%" PRIu64 ",\"transitions_total\":%" PRIu64
	       ",\"nonzero\":%u}\n",
	       o->variant, o->size, o->attr, o->warm ? "true" : "false", o->lent, lent, n, ok,
	       failed, pct(lat, ok, 50) / 1e3, pct(lat, ok, 99) / 1e3,
	       ok ? lat[ok - 1] / 1e3 : 0.0, req_tr, transitions() - tr0, nonzero);
	if (c)
		dmabufd_disconnect(c);
	if (dev >= 0)
		close(dev);
	return failed || nonzero ? 1 : 0;
}

/* x86 PAT memtype in /proc/kpageflags: WC KPF_ARCH (38); UC- 39, 41 from 6.12. */
static uint32_t kpf_attr(uint64_t f, int uc_bit)
{
	bool wc = f & (1ULL << 38), uc = f & (1ULL << uc_bit);

	return wc && !uc ? DMABUFD_REGION_ATTR_WRITECOMBINE :
	       uc && !wc ? DMABUFD_REGION_ATTR_UNCACHED :
	       !uc && !wc ? DMABUFD_REGION_ATTR_CACHED : 99;
}

/* Pages whose PAT memtype differs from what ATTRS says, over the whole region. */
static long audit_pat(const struct dmabufd_region_info *info, int uc_bit, bool verbose)
{
	static struct dmabufd_region_attr_range r[8192];
	struct dmabufd_region_attrs a = { .size = sizeof(a), .ranges_ptr = (uintptr_t)r,
					  .capacity = 8192, .entry_size = sizeof(r[0]) };
	int kfd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	long bad = 0;

	if (kfd < 0 || ioctl(region_fd, DMABUFD_REGION_IOC_ATTRS, &a) < 0 || a.count > 8192) {
		if (kfd >= 0)
			close(kfd);
		return -1;
	}
	for (uint32_t k = 0; k < a.count; k++) {
		for (uint64_t p = 0; p < r[k].page_count; p += 512) {
			uint64_t f[512];
			uint64_t n = r[k].page_count - p < 512 ? r[k].page_count - p : 512;

			if (pread(kfd, f, n * 8, (off_t)((info->base_pfn + r[k].page_offset + p) * 8)) !=
			    (ssize_t)(n * 8)) {
				close(kfd);
				return -1;
			}
			for (uint64_t i = 0; i < n; i++) {
				if (kpf_attr(f[i], uc_bit) == r[k].attr)
					continue;
				if (bad++ == 0 && verbose)
					fprintf(stderr, "kpool-bench: page %" PRIu64 " (range %llu+%llu, "
						"state %u, buffer %llu): kpageflags %#" PRIx64
						", ATTRS attribute %u\n",
						(uint64_t)(r[k].page_offset + p + i),
						(unsigned long long)r[k].page_offset,
						(unsigned long long)r[k].page_count, r[k].state,
						(unsigned long long)r[k].buffer_id, f[i], r[k].attr);
			}
		}
	}
	close(kfd);
	return bad;
}

/* The module buffer at @off pages, or NULL (LIST, sorted by offset). */
static const struct dmabufd_region_buffer *list_at(const struct dmabufd_region_buffer *v,
						   uint32_t n, uint64_t off)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].page_offset == off)
			return &v[i];
	return NULL;
}

#define RAND_LIVE 12
static int random_run(const struct opts *o)
{
	static const uint64_t sizes[] = { 65536, 262144, 1048576, 4194304 };
	static struct dmabufd_region_buffer lv[4096];
	struct { struct dmabufd_buffer b; uint32_t attr; } live[RAND_LIVE];
	struct dmabufd_region_info info;
	struct dmabufd_client *c = NULL;
	struct dmabufd_stats st0, st;
	uint64_t x = 0x2545F4914F6CDD1DULL, claimed_gap0;
	unsigned allocs = 0, releases = 0, audits = 0, bad = 0, nonzero = 0, failed = 0, nlive = 0;
	unsigned transient = 0;
	struct utsname u;
	int maj = 0, min = 0, uc_bit = 39, err;

	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2 &&
	    (maj > 6 || (maj == 6 && min >= 12)))
		uc_bit = 41;
	if (region_info(&info) < 0 || dmabufd_connect(NULL, &c) < 0)
		return 77;
	if (dmabufd_stats_sized(c, &st0, sizeof(st0)) < 0)
		return 1;
	/*
	 * reserved (unusable) pages: in the daemon's region, not claimed;
	 * parked extents (the pool's, or on their way back) are placed in the
	 * daemon's region and claimed by the module, though not by a buffer
	 */
	claimed_gap0 = info.page_count - st0.free_pages - info.claimed_pages - info.parked_pages;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	for (unsigned op = 0; op < o->n; op++) {
		if (nlive == 0 || (nlive < RAND_LIVE && RND() % 3 != 0)) {
			uint64_t size = sizes[RND() % 4];
			uint32_t attr = (uint32_t)(RND() % 3);

			err = dmabufd_alloc(c, size, 0, (enum dmabufd_attribute)attr,
					    DMABUFD_ALLOC_CONTIGUOUS, "kpool-rand", &live[nlive].b);
			if (err < 0) {
				if (failed++ < 5)
					fprintf(stderr, "kpool-bench: random alloc %" PRIu64 ": %s (%s)\n",
						size, strerror(-err), dmabufd_last_reason(c));
				continue;
			}
			live[nlive].attr = attr;
			nonzero += !all_zero(live[nlive].b.fd, size);
			nlive++;
			allocs++;
		} else {
			unsigned i = (unsigned)(RND() % nlive);

			close(live[i].b.fd);
			dmabufd_release(c, live[i].b.id);
			live[i] = live[--nlive];
			releases++;
		}
		if (op % 100 == 99) {
			struct dmabufd_region_list l = { .size = sizeof(l), .entries_ptr = (uintptr_t)lv,
							 .capacity = 4096, .entry_size = sizeof(lv[0]) };
			bool ok = false;

			audits++;
			/*
			 * ATTRS and /proc/kpageflags are two reads: the pool's
			 * worker may EXPORT (or a release free) in between. A
			 * mismatch counts once it stays for 2 s (the pool is
			 * full by then and nothing changes).
			 */
			for (int t = 0;; t++) {
				long m = audit_pat(&info, uc_bit, t == 40);

				if (m == 0)
					break;
				if (t == 40) {
					bad++;
					fprintf(stderr, "kpool-bench: audit %u: %ld pages where PAT != ATTRS\n",
						audits, m);
					break;
				}
				transient++;
				usleep(50000);
			}
			if (ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0 || l.count > 4096) {
				bad++;
				continue;
			}
			for (unsigned i = 0; i < nlive; i++) {
				const struct dmabufd_region_buffer *m =
					list_at(lv, l.count, live[i].b.offset / 4096);

				if (!m || m->page_count * 4096 != live[i].b.size || m->attr != live[i].attr) {
					bad++;
					fprintf(stderr, "kpool-bench: audit %u: buffer %" PRIu64
						" at %" PRIu64 " is not the module's\n",
						audits, live[i].b.id, live[i].b.offset);
				}
			}
			/*
			 * daemon region vs module, once the worker and the events
			 * settle, and a placement the module refused (-EBUSY:
			 * a page that could not move), which the pool keeps
			 * reserved for 10 s, is given back (≤ 15 s)
			 */
			for (int t = 0; t < 1500 && !ok; t++) {
				if (t)
					usleep(10000);
				if (region_info(&info) < 0 || dmabufd_stats_sized(c, &st, sizeof(st)) < 0)
					break;
				ok = info.page_count - st.free_pages - info.claimed_pages -
					     info.parked_pages == claimed_gap0;
			}
			if (!ok) {
				bad++;
				fprintf(stderr, "kpool-bench: audit %u: daemon free %" PRIu64
					", module claimed %llu, parked %llu: ledger off\n",
					audits, st.free_pages, (unsigned long long)info.claimed_pages,
					(unsigned long long)info.parked_pages);
			}
		}
	}
	for (unsigned i = 0; i < nlive; i++) {
		close(live[i].b.fd);
		dmabufd_release(c, live[i].b.id);
	}
	dmabufd_stats_sized(c, &st, sizeof(st));
	printf("{\"variant\":\"random\",\"ops\":%u,\"allocs\":%u,\"releases\":%u,\"failed\":%u,"
	       "\"audits\":%u,\"bad_audits\":%u,\"audit_retries\":%u,\"nonzero\":%u,"
	       "\"pool_hits\":%" PRIu64
	       ",\"pool_misses\":%" PRIu64 "}\n",
	       o->n, allocs, releases, failed, audits, bad, transient, nonzero, st.pool_hits,
	       st.pool_misses);
	dmabufd_disconnect(c);
	return bad || nonzero || failed || audits == 0 ? 1 : 0;
}

/* A page-cache load: write and delete @mib MiB of files, for ever. */
static pid_t churn_start(unsigned mib)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		static char chunk[1u << 20];
		char path[64];

		memset(chunk, 0xa5, sizeof(chunk));
		for (unsigned k = 0;; k++) {
			snprintf(path, sizeof(path), "/tmp/kpool-churn.%u", k % 4);
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			for (unsigned i = 0; fd >= 0 && i < mib / 4; i++)
				if (write(fd, chunk, sizeof(chunk)) < 0)
					break;
			if (fd >= 0)
				close(fd);
		}
	}
	_exit(0);
}

/*
 * A ring of @ring buffers of @size at @hz for @seconds: each frame
 * releases the oldest and allocates a new one (timed), first without and
 * then with a page-cache churn; reports each phase's latencies and the
 * slowest allocation under churn as a ratio to the uncontended p50.
 */
static int ring(const struct opts *o)
{
	static uint64_t lat[2][60 * 600];
	struct dmabufd_client *c = NULL;
	uint64_t held[64] = { 0 }, frame_ns = 1000000000ull / o->hz;
	unsigned nr[2] = { 0, 0 }, failed[2] = { 0, 0 }, late[2] = { 0, 0 };
	/* steady state: from frame 2 * ring to the phase's last allocation */
	uint64_t steady_tr[2] = { 0, 0 }, steady_hits[2] = { 0, 0 }, steady_n[2] = { 0, 0 };
	struct dmabufd_stats st0 = { 0 }, st1 = { 0 }, sts = { 0 }, ste = { 0 };
	int err = dmabufd_connect(NULL, &c);

	if (err < 0) {
		fprintf(stderr, "kpool-bench: connect: %s\n", strerror(-err));
		return 1;
	}
	dmabufd_stats_sized(c, &st0, sizeof(st0));
	for (int phase = 0; phase < 2; phase++) {
		pid_t churn = phase ? churn_start(o->churn_mib) : -1;
		uint64_t frames = (uint64_t)o->seconds * o->hz, next = now_ns(), tr_s = 0;
		unsigned n_s = 0;

		for (uint64_t f = 0; f < frames && nr[phase] < 60 * 600; f++) {
			unsigned slot = (unsigned)(f % o->ring);
			struct dmabufd_buffer b;
			uint64_t t0, t1;

			if (f == 2 * (uint64_t)o->ring) {
				tr_s = transitions();
				n_s = nr[phase];
				dmabufd_stats_sized(c, &sts, sizeof(sts));
			}
			if (held[slot]) {
				dmabufd_release_async(c, held[slot]);
				held[slot] = 0;
			}
			t0 = now_ns();
			err = dmabufd_alloc(c, o->size, 0, (enum dmabufd_attribute)o->attr,
					    DMABUFD_ALLOC_CONTIGUOUS, "kpool-ring", &b);
			t1 = now_ns();
			if (err < 0) {
				failed[phase]++;
			} else {
				close(b.fd);
				held[slot] = b.id;
				lat[phase][nr[phase]++] = t1 - t0;
				late[phase] += t1 - t0 > frame_ns;
			}
			next += frame_ns;
			if (now_ns() < next) {
				uint64_t d = next - now_ns();

				usleep((useconds_t)(d / 1000));
			} else {
				next = now_ns(); /* behind: do not burst */
			}
		}
		if (frames > 2 * (uint64_t)o->ring) {
			steady_tr[phase] = transitions() - tr_s;
			steady_n[phase] = nr[phase] - n_s;
			dmabufd_stats_sized(c, &ste, sizeof(ste));
			steady_hits[phase] = ste.pool_hits - sts.pool_hits;
		}
		if (churn > 0) {
			kill(churn, SIGKILL);
			waitpid(churn, NULL, 0);
		}
		for (unsigned s = 0; s < o->ring; s++)
			if (held[s]) {
				dmabufd_release(c, held[s]);
				held[s] = 0;
			}
		qsort(lat[phase], nr[phase], sizeof(uint64_t), cmp_u64);
	}
	dmabufd_stats_sized(c, &st1, sizeof(st1));
	printf("{\"pool_hits\":%" PRIu64 ",\"pool_misses\":%" PRIu64 ",",
	       st1.pool_hits - st0.pool_hits, st1.pool_misses - st0.pool_misses);
	/* Module attribute transitions and pool hits over the steady frames. */
	printf("\"quiet_steady_n\":%" PRIu64 ",\"quiet_steady_hits\":%" PRIu64
	       ",\"quiet_steady_transitions\":%" PRIu64 ",\"churn_steady_n\":%" PRIu64
	       ",\"churn_steady_hits\":%" PRIu64 ",\"churn_steady_transitions\":%" PRIu64 ",",
	       steady_n[0], steady_hits[0], steady_tr[0], steady_n[1], steady_hits[1], steady_tr[1]);
	printf("\"variant\":\"ring\",\"size\":%" PRIu64 ",\"ring\":%u,\"hz\":%u,\"seconds\":%u,"
	       "\"churn_mib\":%u,\"quiet_n\":%u,\"quiet_failed\":%u,\"quiet_p50_us\":%.1f,"
	       "\"quiet_max_us\":%.1f,\"churn_n\":%u,\"churn_failed\":%u,\"churn_p50_us\":%.1f,"
	       "\"churn_p99_us\":%.1f,\"churn_max_us\":%.1f,\"churn_over_frame\":%u,"
	       "\"frame_us\":%.1f}\n",
	       o->size, o->ring, o->hz, o->seconds, o->churn_mib, nr[0], failed[0],
	       pct(lat[0], nr[0], 50) / 1e3, nr[0] ? lat[0][nr[0] - 1] / 1e3 : 0.0, nr[1],
	       failed[1], pct(lat[1], nr[1], 50) / 1e3, pct(lat[1], nr[1], 99) / 1e3,
	       nr[1] ? lat[1][nr[1] - 1] / 1e3 : 0.0, late[1], frame_ns / 1e3);
	dmabufd_disconnect(c);
	unlink("/tmp/kpool-churn.0");
	unlink("/tmp/kpool-churn.1");
	unlink("/tmp/kpool-churn.2");
	unlink("/tmp/kpool-churn.3");
	return failed[0] || failed[1] ? 1 : 0;
}

/* Holds every other of @o->n pinned buffers until SIGTERM (see the usage). */
static int hold(const struct opts *o)
{
	struct dmabufd_client *c = NULL;
	struct dmabufd_buffer b;
	unsigned kept = 0;
	sigset_t set;
	int sig, err = dmabufd_connect(NULL, &c);

	if (err < 0)
		return 1;
	for (unsigned i = 0; i < o->n; i++) {
		err = dmabufd_alloc(c, o->size, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS,
				    "kpool-hold", &b);
		if (err < 0) {
			fprintf(stderr, "kpool-bench: hold %u: %s (%s)\n", i, strerror(-err),
				dmabufd_last_reason(c));
			return 1;
		}
		close(b.fd);
		if (i % 2)
			dmabufd_release(c, b.id);
		else
			kept++;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("{\"hold\":\"ready\",\"kept\":%u,\"size\":%" PRIu64 "}\n", kept, o->size);
	fflush(stdout);
	sigwait(&set, &sig);
	dmabufd_disconnect(c); /* releases the rest */
	return 0;
}

/*
 * lent-ab: the region PERCENT lent, every round (after one uncounted
 * warm-up round) the three ways of taking a
 * contiguous buffer one after the other, in an order that rotates each
 * round, with the page cache topped up (untimed) before each: (b) through
 * the daemon placing by claim cost, (b) through the same daemon placing by
 * its policy alone (the module's occupancy parameter off, so the daemon's
 * OCCUPANCY fails as with an older module), (c) the naive driver path. A
 * TCG guest on a shared host drifts by factors over a run; interleaving
 * puts the three under the same drift. One JSON line per way.
 */
#define AB_WAYS 3
static const char *const ab_names[AB_WAYS] = { "brokered-cost", "brokered-policy", "naive" };

static int set_occupancy(bool on)
{
	int fd = open("/sys/module/dmabufd_region/parameters/occupancy", O_WRONLY | O_CLOEXEC);
	int ret = fd >= 0 && write(fd, on ? "1" : "0", 1) == 1 ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return ret;
}

static int lent_ab(const struct opts *o)
{
	static uint64_t lat[AB_WAYS][MAX_N], split[AB_WAYS][3][MAX_N];
	unsigned ok[AB_WAYS] = { 0 }, failed[AB_WAYS] = { 0 }, n = o->n > MAX_N ? MAX_N : o->n;
	uint64_t refused[AB_WAYS] = { 0 }, attempts[AB_WAYS] = { 0 };
	struct dmabufd_region_info info;
	struct dmabufd_client *c = NULL;
	int dev, err, ret = 0;
	uint64_t pfn;

	dev = open(DMABUFD_NAIVE_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0 || region_info(&info) < 0 || set_occupancy(true) < 0)
		return 77;
	pfn = info.base_pfn + (o->naive_offset ? o->naive_offset : info.page_count / 4 / 512 * 512);
	err = dmabufd_connect(NULL, &c);
	if (err < 0) {
		fprintf(stderr, "kpool-bench: connect: %s\n", strerror(-err));
		return 1;
	}
	/* Round 0 warms the daemon, the module and the guest's memory up: not counted. */
	for (unsigned i = 0; i <= n; i++) {
		for (unsigned k = 0; k < AB_WAYS; k++) {
			const unsigned w = (i + k) % AB_WAYS;
			struct dmabufd_naive_alloc na = { .pfn = pfn, .count = o->size / 4096,
							  .attr = o->attr };
			uint64_t ex0[EXP_N], ex1[EXP_N], t0, t1;
			struct dmabufd_buffer b = { 0 };

			if (o->lent > 0 && fill(o->lent) < 0) {
				ret = 1;
				goto out;
			}
			set_occupancy(w == 0);
			export_counters(ex0);
			t0 = now_ns();
			if (w < 2)
				err = dmabufd_alloc(c, o->size, 0, (enum dmabufd_attribute)o->attr,
						    DMABUFD_ALLOC_CONTIGUOUS, "kpool-bench", &b);
			else
				err = ioctl(dev, DMABUFD_NAIVE_IOC_ALLOC, &na) < 0 ? -errno : 0;
			t1 = now_ns();
			export_counters(ex1);
			if (i > 0) {
				refused[w] += ex1[EXP_REFUSED] - ex0[EXP_REFUSED];
				attempts[w] += ex1[EXP_ATTEMPTS] - ex0[EXP_ATTEMPTS];
			}
			if (err < 0) {
				if (!failed[w]++)
					fprintf(stderr, "kpool-bench: %s: %s\n", ab_names[w],
						strerror(-err));
				ret = 1;
				continue;
			}
			if (w < 2) {
				na.claim_ns = ex1[EXP_CLAIM_NS] - ex0[EXP_CLAIM_NS];
				na.zero_ns = ex1[EXP_ZERO_NS] - ex0[EXP_ZERO_NS];
				na.attr_ns = ex1[EXP_ATTR_NS] - ex0[EXP_ATTR_NS];
				close(b.fd);
				dmabufd_release(c, b.id);
			} else if (ioctl(dev, DMABUFD_NAIVE_IOC_FREE, &na) < 0) {
				fprintf(stderr, "kpool-bench: naive free: %s\n", strerror(errno));
			}
			if (i == 0)
				continue;
			split[w][0][ok[w]] = na.claim_ns;
			split[w][1][ok[w]] = na.zero_ns;
			split[w][2][ok[w]] = na.attr_ns;
			lat[w][ok[w]++] = t1 - t0;
		}
	}
out:
	set_occupancy(true);
	for (unsigned w = 0; w < AB_WAYS; w++) {
		qsort(lat[w], ok[w], sizeof(uint64_t), cmp_u64);
		for (int j = 0; j < 3; j++)
			qsort(split[w][j], ok[w], sizeof(uint64_t), cmp_u64);
		printf("{\"variant\":\"%s\",\"size\":%" PRIu64 ",\"attr\":%u,\"lent_target\":%d,"
		       "\"n\":%u,\"ok\":%u,\"failed\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f,"
		       "\"max_us\":%.1f,\"claim_p50_us\":%.1f,\"zero_p50_us\":%.1f,"
		       "\"attr_p50_us\":%.1f,\"refused\":%" PRIu64 ",\"claim_attempts\":%" PRIu64 "}\n",
		       ab_names[w], o->size, o->attr, o->lent, n, ok[w], failed[w],
		       pct(lat[w], ok[w], 50) / 1e3, pct(lat[w], ok[w], 99) / 1e3,
		       ok[w] ? lat[w][ok[w] - 1] / 1e3 : 0.0, pct(split[w][0], ok[w], 50) / 1e3,
		       pct(split[w][1], ok[w], 50) / 1e3, pct(split[w][2], ok[w], 50) / 1e3,
		       refused[w], attempts[w]);
	}
	dmabufd_disconnect(c);
	close(dev);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o = { .n = 30, .attr = DMABUFD_REGION_ATTR_WRITECOMBINE, .ring = 8, .hz = 60,
			  .seconds = 60, .churn_mib = 64 };
	int i = 2;

	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "fill") && argc == 3) {
		int lent = fill(atoi(argv[2]));

		printf("{\"lent\":%d}\n", lent);
		return lent < 0;
	}
	if (!strcmp(argv[1], "unfill")) {
		unfill();
		return 0;
	}
	if (!strcmp(argv[1], "hold")) {
		o.variant = "hold";
	} else if (!strcmp(argv[1], "random")) {
		o.n = 2000;
		o.variant = "random";
		o.size = 4096;
	} else if (!strcmp(argv[1], "lent-ab")) {
		o.variant = "lent-ab";
	} else if (!strcmp(argv[1], "run")) {
		if (argc < 3)
			goto usage;
		o.variant = argv[2];
		i = 3;
	} else if (strcmp(argv[1], "ring")) {
		goto usage;
	}
	for (; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--warm"))
			o.warm = true;
		else if (!strcmp(a, "--check-zero"))
			o.check_zero = true;
		else if (!strcmp(a, "--noncontig"))
			o.noncontig = true;
		else if (!v)
			goto usage;
		else if (!strcmp(a, "--size"))
			o.size = strtoull(v, NULL, 0), i++;
		else if (!strcmp(a, "--n"))
			o.n = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--attr"))
			o.attr = parse_attr(v), i++;
		else if (!strcmp(a, "--lent"))
			o.lent = atoi(v), i++;
		else if (!strcmp(a, "--gap-ms"))
			o.gap_ms = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--naive-offset"))
			o.naive_offset = strtoull(v, NULL, 0), i++;
		else if (!strcmp(a, "--ring"))
			o.ring = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--hz"))
			o.hz = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--seconds"))
			o.seconds = (unsigned)atoi(v), i++;
		else if (!strcmp(a, "--churn"))
			o.churn_mib = (unsigned)atoi(v), i++;
		else
			goto usage;
	}
	o.size = (o.size + 4095) / 4096 * 4096;
	if (!o.size || o.ring == 0 || o.ring > 64 || !o.hz)
		goto usage;
	if (o.variant && !strcmp(o.variant, "random"))
		return random_run(&o);
	if (o.variant && !strcmp(o.variant, "hold"))
		return hold(&o);
	if (o.variant && !strcmp(o.variant, "lent-ab"))
		return lent_ab(&o);
	return o.variant ? run(&o) : ring(&o);
usage:
	fprintf(stderr, "usage: kpool-bench run brokered|naive|udmabuf|heap --size BYTES [...]\n"
			"       kpool-bench ring --size BYTES [...] | fill PERCENT | unfill\n"
			"       kpool-bench lent-ab --size BYTES [--n N] [--attr A] [--lent PERCENT]\n");
	return 2;
}
