/* SPDX-License-Identifier: MIT */
/*
 * In-VM tests of dmabufd_region.ko: drive /dev/dmabufd-region's ioctls
 * directly and check the module's claims against what the kernel itself
 * reports (/proc/kpageflags, /proc/vmstat, vgem's import).
 *
 * Output is TAP-like: "ok N - name", "not ok N - name", "# comment",
 * "# done" at the end. Runs as root inside the QEMU VM built by run-vm.sh
 * (boot with movablecore= and nokaslr).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "dmabufd-region.h"
#include "kpageflags.h"

/* The uapi's __u64 is unsigned long long; use the same type throughout. */
typedef unsigned long long u64;
typedef long long s64;

/* The x86 PAT flag of UC- in /proc/kpageflags (kpageflags.h), by kernel. */
static int kpf_uc_bit = KPF_UNCACHED;
#define MIB_PAGES(m)	((u64)(m) * 256) /* 4 KiB pages */

static int test_no;
static int failures;
static int region_fd = -1;
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
	fflush(stdout);
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
	fflush(stdout);
	if (!cond)
		failures++;
	return cond;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- ioctl wrappers: return 0 or -errno ---- */

static int region_info(struct dmabufd_region_info *ret_info)
{
	struct dmabufd_region_info i = { .size = sizeof(i) };

	if (ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &i) < 0)
		return -errno;
	*ret_info = i;
	return 0;
}

/* Export; on success *ret_fd and *ret_id are set. */
static int region_export(u64 off, u64 count, uint32_t attr, uint32_t flags,
			 const char *label, int *ret_fd, u64 *ret_id)
{
	struct dmabufd_region_export e = {
		.size = sizeof(e), .flags = flags, .page_offset = off,
		.page_count = count, .attr = attr,
	};

	snprintf(e.label, sizeof(e.label), "%s", label);
	if (ioctl(region_fd, DMABUFD_REGION_IOC_EXPORT, &e) < 0)
		return -errno;
	*ret_fd = e.fd;
	if (ret_id)
		*ret_id = e.id;
	return 0;
}

static int region_migrate(u64 id, u64 new_off, u64 *ret_old)
{
	struct dmabufd_region_migrate m = { .size = sizeof(m), .id = id, .new_page_offset = new_off };

	if (ioctl(region_fd, DMABUFD_REGION_IOC_MIGRATE, &m) < 0)
		return -errno;
	if (ret_old)
		*ret_old = m.old_page_offset;
	return 0;
}

/* LIST into a malloc'ed array; returns the count or -errno. */
static int region_list(struct dmabufd_region_buffer **ret)
{
	struct dmabufd_region_list l = { .size = sizeof(l), .entry_size = sizeof(**ret) };
	struct dmabufd_region_buffer *a = NULL;

	if (ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0)
		return -errno;
	a = calloc(l.count + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	l.capacity = l.count + 1;
	l.entries_ptr = (uintptr_t)a;
	l.count = 0;
	if (ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0) {
		free(a);
		return -errno;
	}
	*ret = a;
	return (int)l.count;
}

static int region_find(u64 id, struct dmabufd_region_buffer *ret)
{
	struct dmabufd_region_buffer *a = NULL;
	int n, i, r = -ENOENT;

	n = region_list(&a);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (a[i].id == id) {
			*ret = a[i];
			r = 0;
		}
	}
	free(a);
	return r;
}

static int region_attrs(struct dmabufd_region_attr_range **ret)
{
	struct dmabufd_region_attrs q = { .size = sizeof(q), .entry_size = sizeof(**ret) };
	struct dmabufd_region_attr_range *a = NULL;

	if (ioctl(region_fd, DMABUFD_REGION_IOC_ATTRS, &q) < 0)
		return -errno;
	a = calloc(q.count + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	q.capacity = q.count + 1;
	q.ranges_ptr = (uintptr_t)a;
	q.count = 0;
	if (ioctl(region_fd, DMABUFD_REGION_IOC_ATTRS, &q) < 0) {
		free(a);
		return -errno;
	}
	*ret = a;
	return (int)q.count;
}

/* RELEASED ids read from the device but not yet waited for. */
static u64 released_seen[256];
static unsigned int released_nseen;

static bool take_seen(u64 id)
{
	unsigned int i;

	for (i = 0; i < released_nseen; i++) {
		if (released_seen[i] == id) {
			released_seen[i] = released_seen[--released_nseen];
			return true;
		}
	}
	return false;
}

/* Wait up to @ms for a RELEASED event of @id; returns 0 or -errno. */
static int wait_released(u64 id, int ms)
{
	double end = now_s() + ms / 1000.0;

	if (take_seen(id))
		return 0;
	while (now_s() < end) {
		struct pollfd p = { .fd = region_fd, .events = POLLIN };
		struct dmabufd_region_event ev[16];
		ssize_t n;
		int i;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(region_fd, ev, sizeof(ev));
		if (n < 0)
			return -errno;
		for (i = 0; i < (int)(n / sizeof(ev[0])); i++) {
			if (ev[i].type == DMABUFD_REGION_EVENT_RELEASED && released_nseen < 256)
				released_seen[released_nseen++] = ev[i].id;
		}
		if (take_seen(id))
			return 0;
	}
	return -ETIMEDOUT;
}

static void drain_events(void)
{
	struct dmabufd_region_event ev[64];

	while (read(region_fd, ev, sizeof(ev)) > 0)
		;
	released_nseen = 0;
}

#if defined(__x86_64__)
/* Count pages in [off, off + n) whose PAT memtype is not @attr. */
static s64 kpf_mismatches(u64 off, u64 n, uint32_t attr)
{
	u64 *f = malloc(n * 8);
	s64 bad = 0;
	u64 i;

	if (!f)
		return -ENOMEM;
	if (kpageflags(info.base_pfn + off, n, f)) {
		free(f);
		return -EIO;
	}
	for (i = 0; i < n; i++) {
		if (kpf_attr(f[i], kpf_uc_bit) != attr && bad++ == 0)
			diag("PFN %#llx: kpageflags %#llx, expected attribute %u",
			     info.base_pfn + off + i, (u64)f[i], attr);
	}
	free(f);
	return bad;
}
#else
/*
 * Elsewhere (arm64) no memtype is kept per PFN: it is in each PTE, which
 * arm64-attr-test.c reads from the page tables. Only the ATTRS bookkeeping
 * is checked here.
 */
static s64 kpf_mismatches(u64 off, u64 n, uint32_t attr)
{
	(void)off, (void)n, (void)attr;
	return 0;
}
#endif

/* Check ATTRS tiles the region and agrees with kpageflags page by page. */
static bool attrs_consistent(const char *what)
{
	struct dmabufd_region_attr_range *a = NULL;
	u64 next = 0, bad = 0;
	int n, i;

	n = region_attrs(&a);
	if (n < 0)
		return check(false, "%s: ATTRS failed: %s", what, strerror(-n));
	for (i = 0; i < n; i++) {
		s64 m;

		if (a[i].page_offset != next || a[i].page_count == 0)
			break;
		if (a[i].state == DMABUFD_REGION_STATE_FREE && a[i].attr != DMABUFD_REGION_ATTR_CACHED)
			break;
		m = kpf_mismatches(a[i].page_offset, a[i].page_count, a[i].attr);
		if (m < 0)
			break;
		bad += (u64)m;
		next = a[i].page_offset + a[i].page_count;
	}
	free(a);
	return check(i == n && next == info.page_count && bad == 0,
		     "%s: ATTRS tiles the region (%d ranges) and matches PAT page flags (%llu"
		     " mismatching pages)", what, n, bad);
}

/* Find a window of @count pages the module accepts, from @start; -1 if none. */
static int export_anywhere(u64 start, u64 count, u64 step, uint32_t attr,
			   uint32_t flags, const char *label, int *ret_fd, u64 *ret_id,
			   u64 *ret_off)
{
	u64 off;
	int r = -ENOSPC;

	for (off = start; off + count <= info.page_count; off += step) {
		r = region_export(off, count, attr, flags, label, ret_fd, ret_id);
		if (r == 0) {
			*ret_off = off;
			return 0;
		}
		if (r != -EBUSY)
			return r;
	}
	return r;
}

static u64 vmstat(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "re");
	char k[64];
	unsigned long long v;
	u64 ret = 0;

	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", k, &v) == 2) {
		if (strcmp(k, key) == 0)
			ret = v;
	}
	fclose(f);
	return ret;
}

/* ---- tests ---- */

static void test_uapi(void)
{
	struct stat st = { 0 };
	struct { struct dmabufd_region_info i; u64 extra; } big;
	struct dmabufd_region_export e;
	struct dmabufd_region_list l;
	int fd, sr;

	sr = stat(DMABUFD_REGION_DEVICE, &st);

	check(sr == 0 && (st.st_mode & 0777) == 0600, "device node is mode 0600 (%o)",
	      st.st_mode & 0777);
	check(info.api_version == DMABUFD_REGION_API_VERSION && info.page_size == 4096 &&
	      info.page_count > 0 && (info.caps & DMABUFD_REGION_CAP_MOVABLE_ZONE),
	      "INFO: api %u, base PFN %#llx, %llu pages, caps %#llx",
	      info.api_version, info.base_pfn, info.page_count, info.caps);

	memset(&big, 0, sizeof(big));
	big.i.size = sizeof(big);
	check(ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &big) == 0 && big.i.page_count == info.page_count,
	      "INFO accepts a larger struct with zero tail");
	big.extra = 1;
	check(ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &big) < 0 && errno == E2BIG,
	      "INFO rejects a non-zero tail with E2BIG");
	big.i.size = DMABUFD_REGION_INFO_SIZE_VER0 - 8;
	check(ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &big) < 0 && errno == EINVAL,
	      "INFO rejects a size below VER0 with EINVAL");
	check(ioctl(region_fd, _IOWR(DMABUFD_REGION_IOC_MAGIC, 0x3f, struct dmabufd_region_info), &big) < 0 &&
	      errno == ENOTTY, "unknown command is ENOTTY");
	check(ioctl(region_fd, DMABUFD_REGION_IOC_INFO, (void *)16) < 0 && errno == EFAULT,
	      "bad pointer is EFAULT");

#define EXPORT_EINVAL(field_set, what) do {					\
		memset(&e, 0, sizeof(e));					\
		e.size = sizeof(e); e.page_count = 1; e.page_offset = 0;	\
		field_set;							\
		check(ioctl(region_fd, DMABUFD_REGION_IOC_EXPORT, &e) < 0 && errno == EINVAL, \
		      "EXPORT rejects %s with EINVAL", what);			\
	} while (0)
	EXPORT_EINVAL(e.flags = 1u << 7, "an unknown flag");
	EXPORT_EINVAL(e.attr = DMABUFD_REGION_ATTR_COUNT, "an unknown attribute");
	EXPORT_EINVAL(e.page_count = 0, "page_count 0");
	EXPORT_EINVAL(e.page_offset = info.page_count, "an offset past the region");
	EXPORT_EINVAL((e.page_offset = info.page_count - 1, e.page_count = 2), "a range crossing the end");
	EXPORT_EINVAL(e.page_count = UINT64_MAX, "a huge page_count");
	EXPORT_EINVAL(memset(e.label, 'x', sizeof(e.label)), "an unterminated label");
	EXPORT_EINVAL(e.reserved1 = 1, "a reserved field");

	memset(&l, 0, sizeof(l));
	l.size = sizeof(l);
	l.capacity = 1;
	l.entry_size = 4;
	check(ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0 && errno == EINVAL,
	      "LIST rejects entry_size 4");
	l.entry_size = sizeof(struct dmabufd_region_buffer);
	l.entries_ptr = 16;
	fd = -1;
	if (region_export(0, 1, 0, 0, "efault", &fd, NULL) == 0 ||
	    export_anywhere(0, 1, 256, 0, 0, "efault", &fd, NULL, &(u64){0}) == 0) {
		check(ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l) < 0 && errno == EFAULT,
		      "LIST with a bad array pointer is EFAULT");
		close(fd);
	} else {
		check(false, "could not export one page");
	}
	drain_events();
}

/* Req. 2: movable pages in the region are migrated out on request. */
#define FILL_FILES 52
#define FILL_FILE_MIB 4
static u64 fnv1a(const void *p, size_t n, u64 h)
{
	const unsigned char *c = p;

	while (n--)
		h = (h ^ *c++) * 1099511628211ULL;
	return h;
}

static void fill_buf(unsigned char *b, size_t n, u64 seed)
{
	u64 x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

static int file_sum(const char *path, u64 *ret)
{
	static unsigned char b[1 << 20];
	u64 h = 14695981039346656037ULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, b, sizeof(b))) > 0)
		h = fnv1a(b, (size_t)n, h);
	close(fd);
	if (n < 0)
		return -EIO;
	*ret = h;
	return 0;
}

static void test_migration_on_request(void)
{
	static unsigned char b[1 << 20];
	u64 sums[FILL_FILES], before, after, covered = 0, chunk = MIB_PAGES(16), off;
	int fds[64], nfd = 0, i, bad = 0;
	double t0;

	mkdir("/tmp/fill", 0755);
	t0 = now_s();
	for (i = 0; i < FILL_FILES; i++) {
		char path[64];
		u64 h = 14695981039346656037ULL;
		int fd, j;

		snprintf(path, sizeof(path), "/tmp/fill/f%02d", i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			break;
		for (j = 0; j < FILL_FILE_MIB; j++) {
			fill_buf(b, sizeof(b), (u64)i * 1000 + j);
			h = fnv1a(b, sizeof(b), h);
			if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
				break;
		}
		close(fd);
		sums[i] = h;
	}
	check(i == FILL_FILES, "wrote %d MiB of tmpfs files in %.1fs", FILL_FILES * FILL_FILE_MIB,
	      now_s() - t0);

	before = vmstat("pgmigrate_success");
	t0 = now_s();
	for (off = 0; off + chunk <= info.page_count && nfd < 64; off += chunk) {
		int r = region_export(off, chunk, DMABUFD_REGION_ATTR_CACHED, 0, "fill", &fds[nfd], NULL);

		if (r == 0) {
			nfd++;
			covered += chunk;
		} else {
			diag("16 MiB at page offset %llu: %s", off, strerror(-r));
		}
	}
	after = vmstat("pgmigrate_success");
	check(covered * 10 >= info.page_count * 8,
	      "claimed %llu of %llu MiB of the region in %.1fs",
	      covered / 256, info.page_count / 256, now_s() - t0);
	check(after > before, "pgmigrate_success rose by %llu", after - before);
	diag("migrated %llu MiB (pgmigrate_success %llu -> %llu)",
	     (after - before) / 256, before, after);

	for (i = 0; i < FILL_FILES; i++) {
		char path[64];
		u64 h = 0;

		snprintf(path, sizeof(path), "/tmp/fill/f%02d", i);
		if (file_sum(path, &h) || h != sums[i])
			bad++;
	}
	check(bad == 0, "all %d files keep their checksums (%d differ)", FILL_FILES, bad);
	attrs_consistent("while the region is claimed");
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	drain_events();
	for (i = 0; i < FILL_FILES; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/tmp/fill/f%02d", i);
		unlink(path);
	}
}

/* ---- claims over large folios: THPs, huge page cache, hugetlb ---- */

#define KPF_BUDDY	10
#define KPF_COMPOUND_HEAD 15
#define KPF_HUGE	17
#define KPF_THP		22
#define FOLIO_PAGES	512 /* a PMD-sized folio: 2 MiB in 4 KiB pages */

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

/* The selected word of a sysfs choice file ("always [madvise] never"). */
static int read_choice(const char *path, char *ret, size_t len)
{
	char b[256], *l, *r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	b[n] = '\0';
	l = strchr(b, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r)
		return -EINVAL;
	*r = '\0';
	snprintf(ret, len, "%s", l + 1);
	return 0;
}

/* PFN behind a virtual address of this process (0 if not present). */
static u64 virt_pfn(const void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	u64 e = 0;

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		e = 0;
	close(fd);
	return (e >> 63) & 1 ? e & ((1ULL << 55) - 1) : 0;
}

/* Word @j of page @pg of a pattern: cheap, and different everywhere. */
static inline u64 pattern_word(u64 seed, u64 pg, u64 j)
{
	return (seed ^ (pg << 20) ^ j) * 0x9e3779b97f4a7c15ULL;
}

static void pattern_fill(unsigned char *area, u64 npages, u64 seed)
{
	u64 pg, j;

	for (pg = 0; pg < npages; pg++) {
		u64 *w = (u64 *)(area + pg * 4096);

		for (j = 0; j < 512; j++)
			w[j] = pattern_word(seed, pg, j);
	}
}

/* Pages of @area whose contents differ from the pattern. */
static u64 pattern_bad(const unsigned char *area, u64 npages, u64 seed)
{
	u64 pg, j, bad = 0;

	for (pg = 0; pg < npages; pg++) {
		const u64 *w = (const u64 *)(area + pg * 4096);

		for (j = 0; j < 512; j++) {
			if (w[j] != pattern_word(seed, pg, j)) {
				if (bad++ == 0)
					diag("page %llu word %llu: %#llx, expected %#llx", pg, j,
					     w[j], pattern_word(seed, pg, j));
				break;
			}
		}
	}
	return bad;
}

#define KPF_RESERVED	32
#define ISOLATION_BLOCK	512 /* pages: a pageblock, what alloc_contig_range() isolates */

/*
 * Whether the pageblock around @pfn holds a reserved page (early memblock
 * allocations at the top of ZONE_MOVABLE, firmware): its isolation fails, so
 * no claim there can succeed, whatever it holds.
 */
static bool reserved_block(u64 pfn)
{
	static u64 f[ISOLATION_BLOCK];
	u64 lo = pfn / ISOLATION_BLOCK * ISOLATION_BLOCK, i;

	if (kpageflags(lo, ISOLATION_BLOCK, f))
		return true;
	for (i = 0; i < ISOLATION_BLOCK; i++)
		if (f[i] >> KPF_RESERVED & 1)
			return true;
	return false;
}

/*
 * Region page offsets of the heads of the PMD-sized folios (@flag_bit:
 * KPF_THP or KPF_HUGE) backing @area that lie wholly inside the region and
 * outside pageblocks with reserved pages, in ascending order; returns how many
 * (at most @max).
 */
static int region_folios(const unsigned char *area, u64 npages, int flag_bit, u64 *offs, int max)
{
	int n = 0, i, k;

	for (u64 pg = 0; pg + FOLIO_PAGES <= npages && n < max; pg += FOLIO_PAGES) {
		u64 pfn = virt_pfn(area + pg * 4096), f = 0;

		if (!pfn || pfn < info.base_pfn || pfn + FOLIO_PAGES > info.base_pfn + info.page_count)
			continue;
		if (kpageflags(pfn, 1, &f) || !(f >> flag_bit & 1) || !(f >> KPF_COMPOUND_HEAD & 1))
			continue;
		if (reserved_block(pfn))
			continue;
		offs[n++] = pfn - info.base_pfn;
	}
	for (i = 1; i < n; i++) { /* insertion sort: n is small */
		u64 v = offs[i];

		for (k = i; k > 0 && offs[k - 1] > v; k--)
			offs[k] = offs[k - 1];
		offs[k] = v;
	}
	return n;
}

/* The last few lines of the kernel log that contain @needle, as diagnostics. */
static bool klog_has(const char *needle)
{
	static char b[1 << 18];
	FILE *f = popen("dmesg", "re");
	size_t n;
	bool found = false;
	char *l, *save = NULL;

	if (!f)
		return false;
	n = fread(b, 1, sizeof(b) - 1, f);
	pclose(f);
	b[n] = '\0';
	for (l = strtok_r(b, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, needle) && strstr(l, "dmabufd_region")) {
			diag("dmesg: %s", l);
			found = true;
		}
	}
	return found;
}

#define MAX_FOLIOS 256
#define NR_UNALIGNED 64

/*
 * EXPORTs at every alignment over the PMD-sized folios backing @area
 * (@npages pages filled with pattern @seed): one page at an unaligned offset
 * inside each of 64 different folios, then the folio's first page (given back
 * by the widened claim, so free), then ranges straddling folio boundaries.
 * The data must be intact after every step. @may_fail: an EXPORT may instead
 * fail with EBUSY when the module logged why (hugetlb without a huge page to
 * migrate to); returns the number of such failures.
 */
static int claims_over_folios(const char *what, unsigned char *area, u64 npages, u64 seed,
			      int flag_bit, bool may_fail, u64 *ret_offs, double *ret_secs)
{
	static const u64 straddle[][2] = { /* start within a folio, length */
		{ 256, 512 }, { 511, 2 }, { 1, 1023 }, { 3, 1029 }, { 255, 257 },
		{ 7, 64 }, { 100, 1500 }, { 509, 5 },
	};
	const int nstraddle = (int)(sizeof(straddle) / sizeof(straddle[0]));
	u64 offs[MAX_FOLIOS], ids[2 * NR_UNALIGNED];
	bool used[MAX_FOLIOS];
	int fds[2 * NR_UNALIGNED], nfd = 0, n, i, ok = 0, busy = 0, other = 0, heads = 0;
	struct dmabufd_region_info before, after;
	double t0;

	region_info(&before);
	n = region_folios(area, npages, flag_bit, offs, MAX_FOLIOS);
	diag("%s: %d of %llu 2 MiB folios lie in the region", what, n, npages / FOLIO_PAGES);
	if (!check(n >= NR_UNALIGNED, "%s: at least %d folios in the region (%d)", what,
		   NR_UNALIGNED, n))
		return 0;

	/* One page at an unaligned offset inside each of 64 folios. */
	t0 = now_s();
	for (i = 0; i < NR_UNALIGNED; i++) {
		u64 off = offs[i] + 1 + (u64)i * 37 % (FOLIO_PAGES - 2);
		int r = region_export(off, 1, DMABUFD_REGION_ATTR_CACHED, 0, "folio1", &fds[nfd],
				      &ids[nfd]);

		if (r == 0) {
			nfd++;
			ok++;
		} else if (r == -EBUSY) {
			busy++;
		} else {
			other++;
			diag("%s: EXPORT 1 page at %llu: %s", what, off, strerror(-r));
		}
	}
	if (ret_secs)
		*ret_secs = now_s() - t0;
	for (i = 0; ret_offs && i < NR_UNALIGNED; i++)
		ret_offs[i] = offs[i] + 1 + (u64)i * 37 % (FOLIO_PAGES - 2);
	diag("%s: %d one-page EXPORTs in %.2fs", what, NR_UNALIGNED, now_s() - t0);
	if (may_fail)
		check(other == 0 && (busy == 0 || klog_has("hugetlb")),
		      "%s: %d one-page EXPORTs at unaligned offsets in %d folios: %d ok, %d EBUSY"
		      " with the reason in the kernel log", what, NR_UNALIGNED, NR_UNALIGNED, ok, busy);
	else
		check(ok == NR_UNALIGNED, "%s: %d one-page EXPORTs at unaligned offsets in %d"
		      " different folios succeed (%d EBUSY, %d other errors)", what, NR_UNALIGNED,
		      NR_UNALIGNED, busy, other);
	/* The folio's first page was claimed with it and must be free again. */
	for (i = 0; i < NR_UNALIGNED && ok == NR_UNALIGNED; i++) {
		if (region_export(offs[i], 1, DMABUFD_REGION_ATTR_CACHED, 0, "folio0",
				  &fds[nfd], &ids[nfd]) == 0) {
			nfd++;
			heads++;
		}
	}
	if (ok == NR_UNALIGNED)
		check(heads == NR_UNALIGNED, "%s: the pages before each claim in its folio were"
		      " given back: EXPORT of each folio's first page succeeds (%d of %d)", what,
		      heads, NR_UNALIGNED);
	check(pattern_bad(area, npages, seed) == 0, "%s: data intact after the one-page claims",
	      what);
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	nfd = 0;
	drain_events();

	/* Ranges straddling folio boundaries, over the folios there now. */
	n = region_folios(area, npages, flag_bit, offs, MAX_FOLIOS);
	memset(used, 0, sizeof(used));
	ok = busy = other = 0;
	for (i = 0; i < nstraddle; i++) {
		u64 off, count = straddle[i][1], end;
		bool across = straddle[i][0] + count > FOLIO_PAGES;
		int r, k, j;

		/* An unused folio, followed by another of ours when the range crosses. */
		for (k = 0; k < n; k++) {
			if (!used[k] && (!across || (k + 1 < n && !used[k + 1] &&
						     offs[k + 1] == offs[k] + FOLIO_PAGES)))
				break;
		}
		if (k == n) /* none adjacent: the range crosses into whatever is there */
			for (k = 0; k < n && used[k]; k++)
				;
		if (k == n)
			break;
		off = offs[k] + straddle[i][0];
		end = off + count;
		if (end > info.page_count)
			break;
		for (j = 0; j < n; j++) /* every folio the range touches is spent */
			if (offs[j] < end && off < offs[j] + FOLIO_PAGES)
				used[j] = true;
		used[k] = true;
		r = region_export(off, count, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "straddle",
				  &fds[nfd], &ids[nfd]);
		if (r == 0) {
			struct dmabufd_region_buffer b;

			if (region_find(ids[nfd], &b) == 0 && b.page_offset == off &&
			    b.page_count == count)
				ok++;
			nfd++;
		} else if (r == -EBUSY) {
			busy++;
			diag("%s: EXPORT %llu+%llu: EBUSY", what, off, count);
		} else {
			other++;
			diag("%s: EXPORT %llu+%llu: %s", what, off, count, strerror(-r));
		}
	}
	if (may_fail)
		check(ok + busy + other == i && other == 0 && (busy == 0 || klog_has("hugetlb")),
		      "%s: %d ranges straddling folio boundaries: %d ok, %d EBUSY with the reason"
		      " in the kernel log", what, i, ok, busy);
	else
		check(i == nstraddle && ok == i,
		      "%s: %d ranges straddling folio boundaries at offsets 1..511 in a folio succeed"
		      " where exported (%d ok, %d EBUSY, %d other)", what, i, ok, busy, other);
	check(pattern_bad(area, npages, seed) == 0, "%s: data intact after the straddling claims",
	      what);
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	drain_events();
	region_info(&after);
	check(after.claimed_pages == before.claimed_pages && after.nr_buffers == before.nr_buffers,
	      "%s: every buffer released (claimed pages %llu -> %llu)", what,
	      before.claimed_pages, after.claimed_pages);
	return busy;
}

static void test_claims_thp(void)
{
	const char *thp = "/sys/kernel/mm/transparent_hugepage/enabled";
	const char *defrag = "/sys/kernel/mm/transparent_hugepage/defrag";
	char old[32] = "", old_defrag[32] = "";
	u64 npages = MIB_PAGES(256), seed = 0x7417, offs[NR_UNALIGNED];
	double thp_s = 0;
	unsigned char *area;

	if (!check(read_choice(thp, old, sizeof(old)) == 0 &&
		   read_choice(defrag, old_defrag, sizeof(old_defrag)) == 0,
		   "THP: %s is %s, defrag %s", thp, old, old_defrag))
		return;
	/* madvise: only MADV_HUGEPAGE areas, with direct compaction. */
	check(write_str(thp, "madvise") == 0 && write_str(defrag, "madvise") == 0,
	      "THP: enabled and defrag set to madvise");
	area = mmap(NULL, (npages + FOLIO_PAGES) * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!check(area != MAP_FAILED, "THP: mmap 256 MiB anonymous"))
		goto out;
	{
		/* 2 MiB-aligned start inside the mapping */
		unsigned char *a = (unsigned char *)(((uintptr_t)area + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));

		check(madvise(a, npages * 4096, MADV_HUGEPAGE) == 0, "THP: MADV_HUGEPAGE");
		pattern_fill(a, npages, seed);
		claims_over_folios("anonymous THP", a, npages, seed, KPF_THP, false, offs, &thp_s);
	}
	munmap(area, (npages + FOLIO_PAGES) * 4096);
	/* The cost of migrating a THP per one-page claim: the same claims over free pages. */
	if (thp_s > 0) {
		int fds[NR_UNALIGNED], nfd = 0, i;
		double t0 = now_s(), free_s;

		for (i = 0; i < NR_UNALIGNED; i++)
			if (region_export(offs[i], 1, DMABUFD_REGION_ATTR_CACHED, 0, "free1",
					  &fds[nfd], NULL) == 0)
				nfd++;
		free_s = now_s() - t0;
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		drain_events();
		diag("cost: %d one-page EXPORTs inside THPs %.3fs, the same over free pages %.3fs"
		     " (%d ok): %.1fx", NR_UNALIGNED, thp_s, free_s, nfd,
		     free_s > 0 ? thp_s / free_s : 0);
	}
out:
	write_str(thp, old);
	write_str(defrag, old_defrag);
}

static void test_claims_pagecache(void)
{
	const char *dir = "/tmp/hugetmpfs", *path = "/tmp/hugetmpfs/fill";
	u64 npages = MIB_PAGES(192), seed = 0xcac4e;
	unsigned char *area;
	int fd, r;

	mkdir(dir, 0755);
	r = mount("tmpfs", dir, "tmpfs", 0, "huge=always,size=256m") ? -errno : 0;
	if (!check(r == 0, "page cache: tmpfs with huge=always mounted (%s)", r ? strerror(-r) : "ok"))
		return;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!check(fd >= 0 && ftruncate(fd, (off_t)(npages * 4096)) == 0,
		   "page cache: 192 MiB file on it"))
		goto out;
	area = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (check(area != MAP_FAILED, "page cache: file mapped shared")) {
		pattern_fill(area, npages, seed);
		claims_over_folios("page cache (shmem THP)", area, npages, seed, KPF_THP, false,
				   NULL, NULL);
		munmap(area, npages * 4096);
	}
	close(fd);
	unlink(path);
out:
	umount(dir);
}

/* Small-page page cache: one-page claims wherever the file's pages lie. */
static void test_claims_small_pagecache(void)
{
	const char *dir = "/tmp/smalltmpfs", *path = "/tmp/smalltmpfs/fill";
	u64 npages = MIB_PAGES(128), seed = 0x5a11, pg;
	int fds[NR_UNALIGNED], nfd = 0, fd, r, tried = 0, nreserved = 0;
	u64 reserved_off = 0;
	unsigned char *area;

	mkdir(dir, 0755);
	r = mount("tmpfs", dir, "tmpfs", 0, "huge=never,size=192m") ? -errno : 0;
	if (!check(r == 0, "small page cache: tmpfs with huge=never mounted (%s)",
		   r ? strerror(-r) : "ok"))
		return;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!check(fd >= 0 && ftruncate(fd, (off_t)(npages * 4096)) == 0,
		   "small page cache: 128 MiB file on it"))
		goto out;
	area = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (check(area != MAP_FAILED, "small page cache: file mapped shared")) {
		pattern_fill(area, npages, seed);
		for (pg = 13; pg < npages && tried < NR_UNALIGNED; pg += 397) {
			u64 pfn = virt_pfn(area + pg * 4096), f = 0;

			if (!pfn || pfn < info.base_pfn || pfn >= info.base_pfn + info.page_count)
				continue;
			if (reserved_block(pfn)) {
				reserved_off = pfn - info.base_pfn;
				nreserved++;
				continue;
			}
			tried++;
			r = region_export(pfn - info.base_pfn, 1, DMABUFD_REGION_ATTR_CACHED, 0,
					  "small1", &fds[nfd], NULL);
			if (r == 0)
				nfd++;
			else if (kpageflags(pfn, 1, &f) == 0)
				diag("small page cache: EXPORT 1 page at %llu: %s (kpageflags %#llx)",
				     pfn - info.base_pfn, strerror(-r), f);
		}
		check(tried == NR_UNALIGNED && nfd == tried,
		      "small page cache: %d one-page EXPORTs under file pages succeed (%d ok)",
		      tried, nfd);
		check(pattern_bad(area, npages, seed) == 0, "small page cache: data intact");
		/* Where the kernel cannot isolate the block, the error says why. */
		if (nreserved) {
			r = region_export(reserved_off, 1, DMABUFD_REGION_ATTR_CACHED, 0, "small1",
					  &fds[nfd], NULL);
			if (r == 0)
				nfd++;
			check(r == -EBUSY && klog_has("reserved page in the pageblocks isolated"),
			      "small page cache: %d file pages lie in pageblocks with reserved pages;"
			      " EXPORT of one is EBUSY, the kernel log says why (%s)", nreserved,
			      strerror(-r));
		}
		for (r = 0; r < nfd; r++)
			close(fds[r]);
		drain_events();
		munmap(area, npages * 4096);
	}
	close(fd);
	unlink(path);
out:
	umount(dir);
}

/*
 * In-use hugetlb pages (80 of a pool of 88: the first migrations take the
 * pool's free pages, which leaves the old page free in the pool, in the
 * range, for the module's next attempt to dissolve). The kernel migrates
 * in-use 2 MiB hugetlb pages for alloc_contig_range(); where it does not,
 * the EXPORT must fail with EBUSY and the kernel log say why.
 */
static void test_claims_hugetlb(void)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	u64 npages = 80 * FOLIO_PAGES, seed = 0x4b6e;
	char old[32] = "0";
	unsigned char *area;
	int fd = open(nr, O_RDONLY | O_CLOEXEC), busy;
	ssize_t n;

	if (!check(fd >= 0, "hugetlb: %s present", nr))
		return;
	n = read(fd, old, sizeof(old) - 1);
	close(fd);
	old[n > 0 ? n : 0] = '\0';
	if (!check(write_str(nr, "88") == 0, "hugetlb: nr_hugepages 88 (was %.*s)",
		   (int)strcspn(old, "\n"), old))
		return;
	area = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (check(area != MAP_FAILED, "hugetlb: mmap 80 huge pages MAP_HUGETLB")) {
		pattern_fill(area, npages, seed);
		busy = claims_over_folios("hugetlb", area, npages, seed, KPF_HUGE, true, NULL, NULL);
		diag("hugetlb: %d claims failed with EBUSY", busy);
		munmap(area, npages * 4096);
	}
	old[strcspn(old, "\n")] = '\0';
	write_str(nr, old);
}

static void test_claims_large_folios(void)
{
	test_claims_thp();
	test_claims_pagecache();
	test_claims_small_pagecache();
	test_claims_hugetlb();
}

static int open_vgem(void)
{
	char path[64];
	int i;

	for (i = 0; i < 16; i++) {
		drmVersionPtr v;
		int fd = -1;

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

/* Req. 1 and 4: a 64 MiB buffer is one sg entry inside the region; vgem imports it. */
static void test_contiguity_and_import(void)
{
	struct dmabufd_region_buffer b;
	u64 id = 0, off = 0, count = MIB_PAGES(64), phys;
	uint32_t handle = 0;
	int fd = -1, vgem, r;

	r = export_anywhere(0, count, MIB_PAGES(16), DMABUFD_REGION_ATTR_CACHED,
			    DMABUFD_REGION_EXPORT_MOVABLE, "contig64", &fd, &id, &off);
	if (!check(r == 0, "EXPORT 64 MiB CACHED: %s (page offset %llu)",
		   r ? strerror(-r) : "ok", off))
		return;
	vgem = open_vgem();
	if (!check(vgem >= 0, "vgem DRM device present")) {
		close(fd);
		return;
	}
	r = drmPrimeFDToHandle(vgem, fd, &handle);
	check(r == 0, "drmPrimeFDToHandle on vgem imports the dma-buf (handle %u)", handle);
	r = region_find(id, &b);
	phys = (info.base_pfn + off) * info.page_size;
	check(r == 0 && b.attachments == 1 && b.map_count >= 1, "LIST shows vgem's attachment (%u) and map (%llu)",
	      b.attachments, b.map_count);
	check(r == 0 && strcmp(b.label, "contig64") == 0 && b.flags == DMABUFD_REGION_EXPORT_MOVABLE &&
	      b.page_offset == off && b.page_count == count && b.attr == DMABUFD_REGION_ATTR_CACHED,
	      "LIST entry: offset, count, attr, flags, label as exported");
	check(r == 0 && b.last_map_nents == 1 && b.last_map_dma_len == count * info.page_size,
	      "map_dma_buf gave 1 sg entry (%u) of %llu bytes", b.last_map_nents, b.last_map_dma_len);
	check(r == 0 && b.last_map_dma_addr == phys &&
	      phys >= info.base_pfn * info.page_size &&
	      phys + count * info.page_size <= (info.base_pfn + info.page_count) * info.page_size,
	      "its address %#llx is the buffer's PFN range, inside the region [%#llx, %#llx)",
	      b.last_map_dma_addr, info.base_pfn * info.page_size,
	      (info.base_pfn + info.page_count) * info.page_size);
	r = region_migrate(id, off >= count ? 0 : off + count, NULL);
	check(r == -EBUSY, "MIGRATE while a device is attached is EBUSY (%s)", strerror(-r));
	if (handle) {
		struct drm_gem_close gc = { .handle = handle };

		drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	close(vgem);
	r = region_find(id, &b);
	check(r == 0 && b.attachments == 0, "detached after GEM close; buffer alive while its fd is open");
	close(fd);
	r = wait_released(id, 5000);
	check(r == 0, "RELEASED event after the last reference is gone (%s)", r ? strerror(-r) : "ok");
}

/* Req. 3: WC and UC buffers mmapped; PAT page flags agree with ATTRS. */
static void test_attributes(void)
{
	static const uint32_t attrs[2] = { DMABUFD_REGION_ATTR_WRITECOMBINE, DMABUFD_REGION_ATTR_UNCACHED };
	static const char *const names[2] = { "WRITECOMBINE", "UNCACHED" };
	u64 count = MIB_PAGES(4), ids[2] = { 0, 0 }, offs[2] = { 0, 0 };
	int fds[2] = { -1, -1 }, i, r, fd2;
	void *maps[2] = { MAP_FAILED, MAP_FAILED };

	for (i = 0; i < 2; i++) {
		s64 pre;

		r = export_anywhere(i ? offs[0] + count : 0, count, MIB_PAGES(4), attrs[i], 0,
				    names[i], &fds[i], &ids[i], &offs[i]);
		if (!check(r == 0, "EXPORT 4 MiB %s", names[i]))
			goto out;
		maps[i] = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (!check(maps[i] != MAP_FAILED, "mmap %s buffer", names[i]))
			goto out;
		check(((unsigned char *)maps[i])[12345] == 0, "%s buffer reads zero after export", names[i]);
		memset(maps[i], 0xa5, count * 4096);
		check(((unsigned char *)maps[i])[count * 4096 - 1] == 0xa5, "%s buffer is writable", names[i]);
		pre = kpf_mismatches(offs[i], count, attrs[i]);
		check(pre == 0, "every page of the %s buffer has the PAT memtype %s in /proc/kpageflags (%lld differ)",
		      names[i], i ? (kpf_uc_bit == KPF_ARCH_2 ? "UC- (KPF_ARCH_2)" : "UC- (KPF_UNCACHED)") : "WC (KPF_ARCH)", pre);
	}
	attrs_consistent("with WC and UC buffers mmapped");
	{
		int vgem = open_vgem();
		uint32_t handle = 0;
		struct dmabufd_region_buffer b;

		if (vgem >= 0 && drmPrimeFDToHandle(vgem, fds[0], &handle) == 0 &&
		    region_find(ids[0], &b) == 0)
			check(b.last_map_nents == 1 && b.last_map_dma_addr == (info.base_pfn + offs[0]) * 4096,
			      "vgem imports the WC buffer too: one sg entry at its PFN");
		else
			check(false, "vgem import of the WC buffer");
		if (handle) {
			struct drm_gem_close gc = { .handle = handle };

			drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
		}
		if (vgem >= 0)
			close(vgem);
	}

	/* Conflicting requests are refused. */
	r = region_export(offs[0], 1, DMABUFD_REGION_ATTR_CACHED, 0, "conflict", &fd2, NULL);
	check(r == -EBUSY, "a CACHED export over WC pages is refused with EBUSY (%s)", strerror(-r));
	if (r == 0)
		close(fd2);
	r = region_export(offs[1] + 7, 3, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "conflict", &fd2, NULL);
	check(r == -EBUSY, "a WC export over UC pages is refused with EBUSY (%s)", strerror(-r));
	if (r == 0)
		close(fd2);
	{
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fds[0], 0);

		check(p == MAP_FAILED && errno == EINVAL,
		      "a private (COW, cached) mapping of a WC buffer is refused with EINVAL");
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}

out:
	for (i = 0; i < 2; i++) {
		if (maps[i] != MAP_FAILED)
			munmap(maps[i], count * 4096);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	for (i = 0; i < 2; i++) {
		if (!ids[i])
			continue;
		r = wait_released(ids[i], 5000);
		check(r == 0 && kpf_mismatches(offs[i], count, DMABUFD_REGION_ATTR_CACHED) == 0,
		      "%s pages are write-back again after release", names[i]);
	}
}

/* Req. 3: a randomized run of mixed-attribute allocations keeps ATTRS consistent. */
#define RAND_OPS 2000
#define RAND_LIVE 12
static void test_random(void)
{
	struct { int fd; u64 id, off, count; uint32_t attr; } live[RAND_LIVE];
	u64 window = info.page_count < MIB_PAGES(64) ? info.page_count : MIB_PAGES(64);
	u64 seed = 0x2545F4914F6CDD1DULL, x = seed;
	unsigned int allocs = 0, frees = 0, busy = 0, audits = 0, bad_audits = 0, unexpected_busy = 0;
	unsigned int transient_retries = 0;
	int nlive = 0, i;
	double t0 = now_s();

#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
	while (allocs < RAND_OPS) {
		bool do_alloc = nlive == 0 || (nlive < RAND_LIVE && RND() % 3 != 0);

		if (do_alloc) {
			u64 count = 1 + RND() % 256, off = RND() % (window - count);
			uint32_t attr = (uint32_t)(RND() % DMABUFD_REGION_ATTR_COUNT);
			int fd = -1, r;
			u64 id = 0;

			r = region_export(off, count, attr, 0, "rand", &fd, &id);
			/*
			 * alloc_contig_range() answers -EBUSY transiently when a
			 * movable page of the range is briefly pinned (a refcount
			 * held during LRU drain or isolation), more often under
			 * load or ASan. An EBUSY without overlap is retried a few
			 * times, 2 ms apart, before it counts as unexpected.
			 */
			for (int t = 0; r == -EBUSY && t < 5; t++) {
				bool ov = false;

				for (int j = 0; j < nlive; j++)
					ov |= live[j].off < off + count && off < live[j].off + live[j].count;
				if (ov)
					break;
				transient_retries++;
				usleep(2000);
				r = region_export(off, count, attr, 0, "rand", &fd, &id);
			}
			if (r == 0) {
				live[nlive++] = (typeof(live[0])){ fd, id, off, count, attr };
				allocs++;
			} else if (r == -EBUSY) {
				bool overlap = false;
				int j;

				for (j = 0; j < nlive; j++)
					overlap |= live[j].off < off + count && off < live[j].off + live[j].count;
				busy++;
				if (!overlap && unexpected_busy++ < 5)
					diag("EBUSY without overlap: page offset %llu +%llu", off, count);
			} else {
				check(false, "random EXPORT failed: %s", strerror(-r));
				break;
			}
		} else {
			i = (int)(RND() % (u64)nlive);
			close(live[i].fd);
			live[i] = live[--nlive];
			frees++;
		}
		if ((allocs + frees) % 250 == 0) {
			struct dmabufd_region_attr_range *a = NULL;
			int n = region_attrs(&a), j, k, found = 0;

			audits++;
			for (j = 0; n > 0 && j < nlive; j++) {
				for (k = 0; k < n; k++) {
					if (a[k].buffer_id == live[j].id && a[k].page_offset == live[j].off &&
					    a[k].page_count == live[j].count && a[k].attr == live[j].attr)
						found++;
				}
			}
			if (n < 0 || found != nlive)
				bad_audits++;
			if (n > 0) {
				for (k = 0; k < n; k++) {
					if (a[k].page_offset < window &&
					    kpf_mismatches(a[k].page_offset,
							   a[k].page_count < window - a[k].page_offset ?
							   a[k].page_count : window - a[k].page_offset,
							   a[k].attr) != 0)
						bad_audits++;
				}
				free(a);
			}
		}
	}
	for (i = 0; i < nlive; i++)
		close(live[i].fd);
	check(allocs >= RAND_OPS, "%u random mixed-attribute EXPORTs and %u frees in %.1fs (%u EBUSY on overlap)",
	      allocs, frees + nlive, now_s() - t0, busy);
	check(unexpected_busy == 0,
	      "every EBUSY was an overlap with a live buffer (%u were not; %u transient EBUSY retried)",
	      unexpected_busy, transient_retries);
	check(bad_audits == 0, "%u audits during the run: ATTRS = our model = PAT page flags (%u bad)",
	      audits, bad_audits);
	drain_events();
	attrs_consistent("after the randomized run");
	{
		struct dmabufd_region_info i2 = { 0 };
		int r = region_info(&i2);

		check(r == 0 && i2.nr_buffers == 0 && i2.claimed_pages == 0,
		      "no buffer and no claimed page left (%u, %llu); %llu attribute transitions so far",
		      i2.nr_buffers, i2.claimed_pages, i2.attr_transitions);
	}
}

/* Req. 5: MIGRATE while mmapped keeps the contents and the mapping. */
static void test_migrate_mmapped(uint32_t attr, const char *name)
{
	u64 count = MIB_PAGES(8), id = 0, off = 0, old = 0, dst, i;
	struct dmabufd_region_buffer b;
	uint32_t *p;
	int fd = -1, r, bad = 0;

	r = export_anywhere(0, count, MIB_PAGES(8), attr, DMABUFD_REGION_EXPORT_MOVABLE, "mig",
			    &fd, &id, &off);
	if (!check(r == 0, "EXPORT 8 MiB %s MOVABLE", name))
		return;
	p = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!check(p != MAP_FAILED, "mmap it")) {
		close(fd);
		return;
	}
	for (i = 0; i < count * 1024 && p[i] == 0; i++)
		;
	check(i == count * 1024, "pages reused from earlier buffers read zero after EXPORT");
	for (i = 0; i < count * 1024; i++)
		p[i] = (uint32_t)(i * 2654435761u) ^ 0x5a5a5a5a;
	/* Destination: the first window after this one that the module takes. */
	r = -EBUSY;
	for (dst = off + count; r == -EBUSY && dst + count <= info.page_count; dst += count)
		r = region_migrate(id, dst, &old);
	dst -= count;
	check(r == 0 && old == off, "MIGRATE %s buffer from page offset %llu to %llu: %s",
	      name, off, dst, r ? strerror(-r) : "ok");
	for (i = 0; i < count * 1024; i++)
		bad += p[i] != ((uint32_t)(i * 2654435761u) ^ 0x5a5a5a5a);
	check(bad == 0, "the same mapping reads the same pattern after MIGRATE (%d words differ)", bad);
	r = region_find(id, &b);
	check(r == 0 && b.page_offset == dst && b.page_offset != off && b.mmaps == 1,
	      "LIST shows the new physical range (PFN %#llx -> %#llx)",
	      info.base_pfn + off, info.base_pfn + b.page_offset);
	check(kpf_mismatches(dst, count, attr) == 0 &&
	      kpf_mismatches(off, count, DMABUFD_REGION_ATTR_CACHED) == 0,
	      "PAT page flags: new pages %s, old pages write-back", name);
	p[0] = 0xdeadbeef;
	check(p[0] == 0xdeadbeef, "the mapping stays writable");
	r = region_migrate(id, dst, NULL);
	check(r == -EBUSY, "MIGRATE onto its own range is EBUSY");
	r = region_migrate(id + 1000000, 0, NULL);
	check(r == -ENOENT, "MIGRATE of an unknown id is ENOENT");
	munmap(p, count * 4096);
	close(fd);
	check(wait_released(id, 5000) == 0, "released");
}

static void test_migrate_unmovable(void)
{
	u64 id = 0, off = 0;
	int fd = -1, r;

	r = export_anywhere(0, 16, 16, DMABUFD_REGION_ATTR_CACHED, 0, "pinned", &fd, &id, &off);
	if (!check(r == 0, "EXPORT a non-MOVABLE buffer"))
		return;
	r = region_migrate(id, off + 64, NULL);
	check(r == -EINVAL, "MIGRATE of a non-MOVABLE buffer is EINVAL (%s)", strerror(-r));
	close(fd);
	wait_released(id, 5000);
}

static void test_events(void)
{
	int fd2 = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct dmabufd_region_event ev;
	u64 id = 0, off = 0;
	int fd = -1, r;
	char small[8];

	if (!check(fd2 >= 0, "second open of the device"))
		return;
	check(read(fd2, &ev, sizeof(ev)) < 0 && errno == EAGAIN, "no event queued: EAGAIN");
	check(read(fd2, small, sizeof(small)) < 0 && errno == EINVAL, "read smaller than a record: EINVAL");
	r = export_anywhere(0, 1, 1, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "ev", &fd, &id, &off);
	if (r == 0) {
		void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		struct pollfd pf = { .fd = fd2, .events = POLLIN };

		close(fd);
		check(poll(&pf, 1, 200) == 0, "fd closed but mmap alive: no RELEASED yet");
		if (p != MAP_FAILED)
			munmap(p, 4096);
		check(poll(&pf, 1, 2000) == 1 && read(fd2, &ev, sizeof(ev)) == sizeof(ev) &&
		      ev.type == DMABUFD_REGION_EVENT_RELEASED && ev.id == id && ev.page_offset == off &&
		      ev.page_count == 1 && ev.attr == DMABUFD_REGION_ATTR_WRITECOMBINE,
		      "munmap of the last mapping releases it; every open file gets the event");
	} else {
		check(false, "EXPORT for the event test: %s", strerror(-r));
	}
	close(fd2);
	drain_events();
}


/* DMA_BUF_IOCTL_SYNC reaches begin/end_cpu_access for every attribute. */
static void test_cpu_sync(void)
{
	static const char *const names[3] = { "CACHED", "WRITECOMBINE", "UNCACHED" };
	uint32_t a;

	for (a = 0; a < DMABUFD_REGION_ATTR_COUNT; a++) {
		struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
		u64 id = 0, off = 0;
		unsigned char *p;
		int fd = -1, r, ok;

		r = export_anywhere(0, 64, 64, a, 0, "sync", &fd, &id, &off);
		if (!check(r == 0, "EXPORT 64 pages %s for CPU access", names[a]))
			continue;
		p = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ok = p != MAP_FAILED && ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) == 0;
		if (ok) {
			memset(p, 0x3c, 64 * 4096);
			sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
			ok = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) == 0 && p[64 * 4096 - 1] == 0x3c;
		}
		check(ok, "%s: DMA_BUF_IOCTL_SYNC start/end around CPU writes", names[a]);
		if (p != MAP_FAILED)
			munmap(p, 64 * 4096);
		close(fd);
		wait_released(id, 5000);
	}
}

/* LIST/ATTRS entries written for a smaller or larger entry_size. */
static void test_list_entry_sizes(void)
{
	struct { u64 id, off, count; } small[4];
	unsigned char big[2][sizeof(struct dmabufd_region_buffer) + 16];
	struct dmabufd_region_buffer want;
	struct dmabufd_region_list l = { .size = sizeof(l) };
	struct dmabufd_region_attrs q = { .size = sizeof(q) };
	struct dmabufd_region_attr_range one;
	u64 id = 0, off = 0;
	int fd = -1, r;
	size_t i;
	bool zero = true;

	r = export_anywhere(0, 8, 8, DMABUFD_REGION_ATTR_CACHED, 0, "sizes", &fd, &id, &off);
	if (!check(r == 0, "EXPORT for the entry-size tests"))
		return;
	region_find(id, &want);
	l.entries_ptr = (uintptr_t)small;
	l.capacity = 4;
	l.entry_size = sizeof(small[0]);
	r = ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l);
	check(r == 0 && l.count == 1 && small[0].id == id && small[0].off == off && small[0].count == 8,
	      "LIST with a 24-byte entry_size (an older caller) gets the leading fields");
	memset(big, 0xff, sizeof(big));
	l.entries_ptr = (uintptr_t)big;
	l.capacity = 1;
	l.entry_size = sizeof(big[0]);
	l.count = 0;
	r = ioctl(region_fd, DMABUFD_REGION_IOC_LIST, &l);
	for (i = sizeof(struct dmabufd_region_buffer); i < sizeof(big[0]); i++)
		zero &= big[0][i] == 0;
	check(r == 0 && memcmp(big[0], &want, sizeof(want)) == 0 && zero && big[1][0] == 0xff,
	      "LIST with a larger entry_size (a newer caller) gets a zero-filled tail, nothing past capacity");
	q.ranges_ptr = (uintptr_t)&one;
	q.capacity = 1;
	q.entry_size = sizeof(one);
	r = ioctl(region_fd, DMABUFD_REGION_IOC_ATTRS, &q);
	check(r == 0 && q.count >= 2 && (one.page_offset == 0 && one.page_count > 0),
	      "ATTRS with capacity 1 writes one range and reports the full count (%u)", q.count);
	close(fd);
	wait_released(id, 5000);
}

/* OCCUPANCY over [off, off + count) with @granule; entries into @ents (capacity @cap). */
static int region_occupancy(u64 off, u64 count, uint32_t granule,
			    struct dmabufd_region_granule *ents, uint32_t cap,
			    struct dmabufd_region_occupancy *ret)
{
	struct dmabufd_region_occupancy o = {
		.size = sizeof(o), .page_offset = off, .page_count = count,
		.entries_ptr = (uintptr_t)ents, .capacity = cap,
		.entry_size = sizeof(*ents), .granule_pages = granule,
	};

	if (ioctl(region_fd, DMABUFD_REGION_IOC_OCCUPANCY, &o) < 0)
		return -errno;
	*ret = o;
	return 0;
}

/* Every field of OCCUPANCY checked; counts that tile each granule; buffers
 * exact; page cache written into the region shows as pages to copy. */
static void test_occupancy(void)
{
	const char *dir = "/tmp/occtmpfs", *path = "/tmp/occtmpfs/fill";
	const u64 fpages = MIB_PAGES(32);
	struct dmabufd_region_occupancy o, q;
	struct { struct dmabufd_region_occupancy o; u64 extra; } big;
	struct dmabufd_region_granule *g, one[8];
	u64 n, i, sum_claimed = 0, copy0 = 0, copy1 = 0, in_region = 0, id = 0, off = 0;
	bool tiles = true, exact = true;
	unsigned char *area;
	double t0;
	int r, fd = -1, bfd = -1;

	if (!check(info.caps & DMABUFD_REGION_CAP_OCCUPANCY, "OCCUPANCY: INFO has the cap"))
		return;
#define OCC_EINVAL(field_set, what) do {						\
		q = (struct dmabufd_region_occupancy){ .size = sizeof(q),		\
			.page_count = 1, .entries_ptr = (uintptr_t)one,			\
			.capacity = 1, .entry_size = sizeof(one[0]) };			\
		field_set;								\
		check(ioctl(region_fd, DMABUFD_REGION_IOC_OCCUPANCY, &q) < 0 &&		\
		      errno == EINVAL, "OCCUPANCY rejects %s with EINVAL", what);	\
	} while (0)
	OCC_EINVAL(q.flags = 1, "a flag");
	OCC_EINVAL(q.reserved0 = 1, "reserved0 set");
	OCC_EINVAL(q.count = 1, "count set on input");
	OCC_EINVAL(q.pageblock_pages = 512, "pageblock_pages set on input");
	OCC_EINVAL(q.page_count = 0, "an empty range");
	OCC_EINVAL(q.page_offset = info.page_count, "a range starting past the region");
	OCC_EINVAL((q.page_offset = info.page_count - 1, q.page_count = 2), "a range ending past the region");
	OCC_EINVAL(q.entry_size = 4, "entry_size 4 with a capacity");
	OCC_EINVAL(q.entry_size = 4097, "entry_size 4097");
	OCC_EINVAL(q.size = DMABUFD_REGION_OCCUPANCY_SIZE_VER0 - 8, "a size below VER0");
#undef OCC_EINVAL
	memset(&big, 0, sizeof(big));
	big.o = (struct dmabufd_region_occupancy){ .size = sizeof(big), .page_count = 1 };
	big.extra = 1;
	check(ioctl(region_fd, DMABUFD_REGION_IOC_OCCUPANCY, &big) < 0 && errno == E2BIG,
	      "OCCUPANCY rejects a non-zero tail with E2BIG");
	q = (struct dmabufd_region_occupancy){ .size = sizeof(q), .page_count = 1,
		.entries_ptr = 16, .capacity = 1, .entry_size = sizeof(one[0]) };
	check(ioctl(region_fd, DMABUFD_REGION_IOC_OCCUPANCY, &q) < 0 && errno == EFAULT,
	      "OCCUPANCY with a bad entries pointer is EFAULT");
	r = region_occupancy(0, info.page_count, 0, NULL, 0, &o);
	check(r == 0 && o.pageblock_pages > 0 && o.granule_pages == o.pageblock_pages &&
	      o.count == (info.page_count + o.pageblock_pages - 1) / o.pageblock_pages,
	      "OCCUPANCY with capacity 0: %u entries of the %u-page pageblock", o.count,
	      o.pageblock_pages);

	r = export_anywhere(MIB_PAGES(8), 8, 512, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "occ",
			    &bfd, &id, &off);
	if (!check(r == 0, "OCCUPANCY: EXPORT of 8 pages"))
		return;
	{
		struct dmabufd_region_granule e[12];

		r = region_occupancy(off - 2, 12, 1, e, 12, &o);
		for (i = 0; i < 12 && r == 0; i++) {
			bool in = i >= 2 && i < 10;

			exact &= e[i].claimed == in &&
				 e[i].free + e[i].reclaim + e[i].copy + e[i].busy + e[i].claimed == 1;
		}
		check(r == 0 && o.count == 12 && o.granule_pages == 1 && exact,
		      "OCCUPANCY with 1-page granules: the buffer's 8 pages claimed, the 2 on each side not");
	}
	n = (info.page_count + 511) / 512;
	g = calloc(n, sizeof(*g));
	if (!g)
		goto out;
	r = region_info(&info);
	t0 = now_s();
	r = r ? r : region_occupancy(0, info.page_count, 512, g, (uint32_t)n, &o);
	diag("OCCUPANCY of the whole region (%llu pages): %.1f ms", info.page_count,
	     (now_s() - t0) * 1000);
	for (i = 0; i < n && r == 0; i++) {
		u64 len = i + 1 < n ? 512 : info.page_count - i * 512;

		tiles &= g[i].free + g[i].reclaim + g[i].copy + g[i].busy + g[i].claimed == len &&
			 g[i].reserved0 == 0;
		sum_claimed += g[i].claimed;
		copy0 += g[i].copy;
	}
	check(r == 0 && o.count == n && tiles && sum_claimed == info.claimed_pages,
	      "OCCUPANCY of the whole region: every granule's counts add up to its length, "
	      "claimed pages = INFO's (%llu)", sum_claimed);

	/* Small-page tmpfs: swap-backed, so migrated (copied), never dropped. */
	mkdir(dir, 0755);
	if (!check(mount("tmpfs", dir, "tmpfs", 0, "huge=never,size=64m") == 0,
		   "OCCUPANCY: tmpfs mounted"))
		goto out_free;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	area = fd >= 0 && ftruncate(fd, (off_t)(fpages * 4096)) == 0 ?
	       mmap(NULL, fpages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (check(area != MAP_FAILED, "OCCUPANCY: 32 MiB tmpfs file mapped")) {
		pattern_fill(area, fpages, 0x0cc);
		for (i = 0; i < fpages; i++) {
			u64 pfn = virt_pfn(area + i * 4096);

			in_region += pfn >= info.base_pfn && pfn < info.base_pfn + info.page_count;
		}
		r = region_occupancy(0, info.page_count, 512, g, (uint32_t)n, &o);
		for (i = 0; i < n && r == 0; i++)
			copy1 += g[i].copy;
		/* The rest of the system may free some of its own meanwhile. */
		check(r == 0 && copy1 + MIB_PAGES(4) >= copy0 + in_region,
		      "OCCUPANCY: %llu of the file's pages in the region, pages to copy %llu -> %llu",
		      in_region, copy0, copy1);
		munmap(area, fpages * 4096);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	umount(dir);
out_free:
	free(g);
out:
	close(bfd);
	wait_released(id, 5000);
}

/* A reader that does not keep up gets one OVERFLOW record. */
static void test_event_overflow(void)
{
	int fd2 = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct dmabufd_region_event ev[64];
	unsigned int released = 0, overflow = 0, i, n = 1100;
	ssize_t r;

	if (!check(fd2 >= 0, "open a second reader"))
		return;
	for (i = 0; i < n; i++) {
		u64 id = 0, off = 0;
		int fd = -1;

		if (export_anywhere(0, 1, 1, DMABUFD_REGION_ATTR_CACHED, 0, "ovf", &fd, &id, &off))
			break;
		close(fd);
		drain_events();
	}
	while ((r = read(fd2, ev, sizeof(ev))) > 0) {
		for (i = 0; i < (unsigned int)(r / sizeof(ev[0])); i++) {
			released += ev[i].type == DMABUFD_REGION_EVENT_RELEASED;
			overflow += ev[i].type == DMABUFD_REGION_EVENT_OVERFLOW;
		}
	}
	check(released == 1023 && overflow == 1 && errno == EAGAIN,
	      "%u releases unread: %u RELEASED + %u OVERFLOW records, then EAGAIN", n, released, overflow);
	close(fd2);
}

/* Faults race with MIGRATE: a reader thread never sees a wrong word. */
struct race { volatile uint32_t *p; u64 words; volatile int stop; u64 bad, reads; };

static void *race_reader(void *arg)
{
	struct race *rc = arg;
	u64 i = 0;

	while (!rc->stop) {
		if (rc->p[i] != (uint32_t)(i * 2654435761u))
			rc->bad++;
		rc->reads++;
		i = (i + 1021) % rc->words;
	}
	return NULL;
}

static void test_migrate_race(void)
{
	u64 count = MIB_PAGES(2), id, off, a, b, i;
	struct race rc = { 0 };
	pthread_t t;
	int fd = -1, r, moves = 0, k;

	r = export_anywhere(0, count, count, DMABUFD_REGION_ATTR_WRITECOMBINE,
			    DMABUFD_REGION_EXPORT_MOVABLE, "race", &fd, &id, &off);
	if (!check(r == 0, "EXPORT 2 MiB WC MOVABLE for the fault/migrate race"))
		return;
	rc.p = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rc.p == MAP_FAILED) {
		check(false, "mmap");
		close(fd);
		return;
	}
	rc.words = count * 1024;
	for (i = 0; i < rc.words; i++)
		rc.p[i] = (uint32_t)(i * 2654435761u);
	pthread_create(&t, NULL, race_reader, &rc);
	a = off;
	b = off + 4 * count;
	for (k = 0; k < 20; k++) {
		u64 dst = (k & 1) ? a : b;

		if (region_migrate(id, dst, NULL) == 0)
			moves++;
	}
	rc.stop = 1;
	pthread_join(t, NULL);
	check(moves == 20 && rc.bad == 0 && rc.reads > 0,
	      "20 MIGRATEs while another thread reads the mapping: %d done, %llu of %llu reads wrong",
	      moves, rc.bad, rc.reads);
	munmap((void *)rc.p, count * 4096);
	close(fd);
	wait_released(id, 5000);
}


/* Req. 6 (kernel side): a restarted daemon rebuilds its state with LIST. */
static void test_restart(void)
{
	static const uint32_t attrs[3] = { DMABUFD_REGION_ATTR_CACHED, DMABUFD_REGION_ATTR_WRITECOMBINE,
					   DMABUFD_REGION_ATTR_UNCACHED };
	struct dmabufd_region_buffer *a = NULL;
	u64 ids[3] = { 0, 0, 0 }, offs[3] = { 0, 0, 0 };
	int fds[3] = { -1, -1, -1 }, i, n, found = 0, released = 0;
	unsigned char *p;

	for (i = 0; i < 3; i++) {
		char label[16];

		snprintf(label, sizeof(label), "client-%d", i);
		if (export_anywhere(i ? offs[i - 1] + 32 : 0, 32, 32, attrs[i],
				    i == 0 ? DMABUFD_REGION_EXPORT_MOVABLE : 0, label, &fds[i], &ids[i],
				    &offs[i]))
			break;
	}
	if (!check(i == 3, "EXPORT three buffers for the restart test"))
		goto out;
	/* The daemon exits: its device fd goes, the clients keep their fds. */
	close(region_fd);
	region_fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	released_nseen = 0;
	n = region_list(&a);
	for (i = 0; n > 0 && i < n; i++) {
		int j;

		for (j = 0; j < 3; j++) {
			char label[16];

			snprintf(label, sizeof(label), "client-%d", j);
			found += a[i].id == ids[j] && a[i].page_offset == offs[j] && a[i].page_count == 32 &&
				 a[i].attr == attrs[j] && strcmp(a[i].label, label) == 0 &&
				 a[i].flags == (j == 0 ? DMABUFD_REGION_EXPORT_MOVABLE : 0u);
		}
	}
	free(a);
	check(region_fd >= 0 && n == 3 && found == 3,
	      "after the device is reopened, LIST gives back all 3 buffers with id, offset, count, attr, flags, label");
	p = mmap(NULL, 32 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	check(p != MAP_FAILED && (p[0] = 7, p[0] == 7), "a client's fd still maps its buffer");
	if (p != MAP_FAILED)
		munmap(p, 32 * 4096);
out:
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			released += wait_released(ids[i], 5000) == 0;
		}
	}
	check(released == 3, "the new device fd gets the RELEASED events (%d)", released);
}

/* ---- REVOKE ---- */

static int region_revoke(u64 id, u64 *ret_off, u64 *ret_count)
{
	struct dmabufd_region_revoke r = { .size = sizeof(r), .id = id };

	if (ioctl(region_fd, DMABUFD_REGION_IOC_REVOKE, &r) < 0)
		return -errno;
	if (ret_off)
		*ret_off = r.page_offset;
	if (ret_count)
		*ret_count = r.page_count;
	return 0;
}

/* True when ATTRS shows [off, off + count) inside one FREE (CACHED) range. */
static bool range_free(u64 off, u64 count)
{
	struct dmabufd_region_attr_range *a = NULL;
	bool ok = false;
	int n, i;

	n = region_attrs(&a);
	for (i = 0; i < n; i++) {
		if (a[i].page_offset <= off && off + count <= a[i].page_offset + a[i].page_count)
			ok = a[i].state == DMABUFD_REGION_STATE_FREE &&
			     a[i].attr == DMABUFD_REGION_ATTR_CACHED && a[i].buffer_id == 0;
	}
	free(a);
	return ok;
}

/*
 * Touch @p in a forked child (its own copy of the mapping): returns the
 * signal that killed it (SIGBUS expected after REVOKE), 0 when it read
 * @expect, -1 when it read something else.
 */
static int touch_in_child(volatile unsigned char *p, unsigned char expect)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(p[0] == expect && p[4095] == expect ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -2;
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

static sigjmp_buf revoke_jmp;

static void revoke_sigbus(int sig)
{
	(void)sig;
	siglongjmp(revoke_jmp, 1);
}

/* Touch @p in this process; true when that raised SIGBUS. */
static bool touch_sigbus_here(volatile unsigned char *p)
{
	struct sigaction sa = { .sa_handler = revoke_sigbus }, old;
	volatile bool bus = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(revoke_jmp, 1) == 0)
		(void)p[0];
	else
		bus = true;
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

static void test_revoke_args(void)
{
	struct dmabufd_region_revoke r;

#define REVOKE_ERR(field_set, err, what) do {					\
		memset(&r, 0, sizeof(r));					\
		r.size = sizeof(r); r.id = UINT64_MAX;				\
		field_set;							\
		int e_ = ioctl(region_fd, DMABUFD_REGION_IOC_REVOKE, &r) < 0 ? errno : 0; \
		check(e_ == (err), "REVOKE rejects %s with %s (%s)", what, #err,	\
		      e_ ? strerror(e_) : "accepted");				\
	} while (0)
	REVOKE_ERR(r.size = 8, EINVAL, "a size below VER0");
	REVOKE_ERR(r.size = 8192, EINVAL, "a size above 4096");
	REVOKE_ERR(r.flags = 1, EINVAL, "flag bit 0");
	REVOKE_ERR(r.flags = 1u << 31, EINVAL, "flag bit 31");
	REVOKE_ERR(r.page_offset = 1, EINVAL, "an out field (page_offset) set on input");
	REVOKE_ERR(r.page_count = 1, EINVAL, "an out field (page_count) set on input");
	REVOKE_ERR((void)0, ENOENT, "an unknown id");
	REVOKE_ERR(r.id = 0, ENOENT, "id 0");
#undef REVOKE_ERR
	{
		struct { struct dmabufd_region_revoke r; u64 extra; } big = {
			.r = { .size = sizeof(big), .id = UINT64_MAX }, .extra = 1 };

		check(ioctl(region_fd, DMABUFD_REGION_IOC_REVOKE, &big) < 0 && errno == E2BIG,
		      "REVOKE rejects a non-zero tail with E2BIG");
	}
	check(ioctl(region_fd, DMABUFD_REGION_IOC_REVOKE, (void *)16) < 0 && errno == EFAULT,
	      "REVOKE with a bad pointer is EFAULT");
	check(ioctl(region_fd, _IOW(DMABUFD_REGION_IOC_MAGIC, 0x05, struct dmabufd_region_revoke),
		    &r) < 0 && errno == ENOTTY, "REVOKE as _IOW (wrong direction) is ENOTTY");
}

/*
 * Mapped in two processes, written, revoked: both take SIGBUS, mmap and
 * DMA_BUF_IOCTL_SYNC are ENODEV, the pages are FREE again and reused by a
 * new export (zeroed: the old contents do not leak), the husk goes away
 * with the last fd without a second event.
 */
static void test_revoke_mapped(uint32_t attr, const char *name)
{
	const u64 count = 16;
	const size_t len = count * 4096;
	struct dmabufd_region_info i0, i1, i2;
	struct dmabufd_region_buffer b;
	struct dma_buf_sync sync = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW };
	u64 id = 0, off = 0, roff = ~0ull, rcount = 0, id2 = 0;
	unsigned char *p, *q;
	int fd = -1, fd2 = -1, r, sig, go[2], done[2], status;
	pid_t child;
	char c = 0;

	drain_events();
	if (!check(region_info(&i0) == 0, "%s: INFO before REVOKE", name))
		return;
	r = export_anywhere(0, count, 64, attr, 0, "revoke", &fd, &id, &off);
	if (!check(r == 0, "%s: EXPORT %llu pages to revoke: %s", name, count, r ? strerror(-r) : "ok"))
		return;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!check(p != MAP_FAILED, "%s: mmap", name)) {
		close(fd);
		return;
	}
	memset(p, 0xa5, len);
	/* A second process maps it too (a fork keeps its own PTEs of it). */
	if (!check(pipe(go) == 0 && pipe(done) == 0, "%s: pipes", name)) {
		munmap(p, len);
		close(fd);
		return;
	}
	child = fork();
	if (child == 0) {
		volatile unsigned char *vp = p;
		bool ok = vp[0] == 0xa5 && vp[len - 1] == 0xa5;

		if (write(done[1], ok ? "r" : "x", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		(void)vp[4096]; /* after REVOKE: SIGBUS */
		_exit(0);
	}
	check(child > 0 && read(done[0], &c, 1) == 1 && c == 'r',
	      "%s: another process reads what this one wrote", name);
	check(region_find(id, &b) == 0 && b.mmaps >= 2, "%s: LIST shows %u mappings", name, b.mmaps);

	r = region_revoke(id, &roff, &rcount);
	check(r == 0 && roff == off && rcount == count,
	      "%s: REVOKE of a mapped buffer: %s (pages %llu+%llu returned)", name,
	      r ? strerror(-r) : "ok", roff, rcount);
	if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) != child)
		status = 0;
	check(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "%s: the other process's next touch is SIGBUS (status %#x)", name, status);
	check(touch_sigbus_here(p), "%s: this process's next touch is SIGBUS too", name);
	close(go[0]); close(go[1]); close(done[0]); close(done[1]);

	q = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	check(q == MAP_FAILED && errno == ENODEV, "%s: mmap of the revoked fd is ENODEV (%s)", name,
	      q == MAP_FAILED ? strerror(errno) : "mapped");
	if (q != MAP_FAILED)
		munmap(q, len);
	check(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && errno == ENODEV,
	      "%s: DMA_BUF_IOCTL_SYNC start is ENODEV (%s)", name, strerror(errno));
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	check(ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync) < 0 && errno == ENODEV,
	      "%s: DMA_BUF_IOCTL_SYNC end is ENODEV (%s)", name, strerror(errno));

	r = wait_released(id, 2000);
	check(r == 0, "%s: RELEASED event at REVOKE, fd still open (%s)", name, r ? strerror(-r) : "ok");
	r = region_info(&i1);
	check(r == 0 && i1.nr_buffers == i0.nr_buffers && i1.claimed_pages == i0.claimed_pages &&
	      i1.revocations == i0.revocations + 1 && i1.revoked_buffers == i0.revoked_buffers + 1,
	      "%s: INFO: %u buffers, %llu claimed pages as before; revocations %llu, %u husk(s)",
	      name, i1.nr_buffers, i1.claimed_pages, i1.revocations, i1.revoked_buffers);
	check(region_find(id, &b) == -ENOENT, "%s: LIST no longer shows the buffer", name);
	check(range_free(off, count), "%s: ATTRS shows its pages FREE and CACHED", name);
	attrs_consistent("after REVOKE");
	check(region_revoke(id, NULL, NULL) == -ENOENT, "%s: REVOKE again is ENOENT", name);
	check(region_migrate(id, 0, NULL) == -ENOENT, "%s: MIGRATE of it is ENOENT", name);

	/* The pages are the region's again: a new export over them. */
	r = region_export(off, count, DMABUFD_REGION_ATTR_CACHED, 0, "reuse", &fd2, &id2);
	check(r == 0, "%s: a new EXPORT reuses the revoked pages: %s", name, r ? strerror(-r) : "ok");
	if (r == 0) {
		q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
		if (q != MAP_FAILED) {
			size_t k, nz = 0;

			for (k = 0; k < len; k++)
				nz += q[k] != 0;
			check(nz == 0, "%s: the new buffer is zeroed (%zu bytes of the old data)", name, nz);
			memset(q, 0x5a, len);
			munmap(q, len);
		} else {
			check(false, "%s: mmap of the new buffer: %s", name, strerror(errno));
		}
		sig = touch_in_child(p, 0x5a);
		check(sig == SIGBUS, "%s: the revoked mapping still faults (%d), never reaches the new buffer",
		      name, sig);
		close(fd2);
		check(wait_released(id2, 5000) == 0, "%s: the new buffer releases normally", name);
	}

	munmap(p, len);
	close(fd);
	check(wait_released(id, 500) == -ETIMEDOUT, "%s: closing the husk queues no second event", name);
	r = region_info(&i2);
	check(r == 0 && i2.revoked_buffers == i0.revoked_buffers && i2.nr_buffers == i0.nr_buffers &&
	      i2.claimed_pages == i0.claimed_pages,
	      "%s: after the last fd: %u husks, %llu claimed pages (no leak)", name,
	      i2.revoked_buffers, i2.claimed_pages);
}

/*
 * A device mapping (vgem's PRIME import: a static importer, mapped at
 * import) makes REVOKE EBUSY with nothing changed; after GEM close (detach)
 * it succeeds, and a new import (attach) is refused.
 */
static void test_revoke_attached(void)
{
	struct dmabufd_region_buffer b;
	u64 id = 0, off = 0;
	uint32_t handle = 0;
	unsigned char *p;
	int fd = -1, vgem, r;

	vgem = open_vgem();
	if (!check(vgem >= 0, "vgem DRM device present for the REVOKE attachment test"))
		return;
	r = export_anywhere(0, 16, 64, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "revoke-att", &fd, &id, &off);
	if (!check(r == 0, "EXPORT for the attachment test: %s", r ? strerror(-r) : "ok")) {
		close(vgem);
		return;
	}
	p = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		memset(p, 0x77, 16 * 4096);
	r = drmPrimeFDToHandle(vgem, fd, &handle);
	check(r == 0 && region_find(id, &b) == 0 && b.attachments == 1 && b.map_count >= 1,
	      "vgem imports it (attachment mapped for DMA)");
	r = region_revoke(id, NULL, NULL);
	check(r == -EBUSY, "REVOKE while a device has it mapped is EBUSY (%s)", strerror(-r));
	check(region_find(id, &b) == 0 && b.page_offset == off && b.attachments == 1 &&
	      p != MAP_FAILED && p[0] == 0x77 && p[16 * 4096 - 1] == 0x77,
	      "after EBUSY nothing changed: listed at its place, mapping reads its data");
	if (handle) {
		struct drm_gem_close gc = { .handle = handle };

		drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	check(region_find(id, &b) == 0 && b.attachments == 0, "GEM close detaches vgem");
	r = region_revoke(id, NULL, NULL);
	check(r == 0, "REVOKE after the detach: %s", r ? strerror(-r) : "ok");
	handle = 0;
	r = drmPrimeFDToHandle(vgem, fd, &handle);
	check(r != 0, "a new import (dma_buf_attach) of the revoked buffer fails (%s)",
	      r ? strerror(errno) : "imported");
	if (r == 0 && handle) {
		struct drm_gem_close gc = { .handle = handle };

		drmIoctl(vgem, DRM_IOCTL_GEM_CLOSE, &gc);
	}
	if (p != MAP_FAILED)
		munmap(p, 16 * 4096);
	close(vgem);
	close(fd);
	check(wait_released(id, 2000) == 0, "the attachment test's RELEASED came at REVOKE");
}

/*
 * REVOKE racing with a reader: a child reads the buffer in a loop while
 * the parent revokes it and at once exports a new buffer over the same
 * pages and fills it. The child must die of SIGBUS without ever having
 * read anything but the old contents (no window where the old mapping
 * reaches the new owner's pages).
 */
static void test_revoke_race(void)
{
	const u64 count = 64;
	const size_t len = count * 4096;
	u64 id = 0, off = 0, id2 = 0;
	unsigned char *p, *q;
	int fd = -1, fd2 = -1, r, status = 0, rounds, bus = 0, bad = 0;

	for (rounds = 0; rounds < 8; rounds++) {
		int ready[2];
		char c;
		pid_t child;

		r = export_anywhere(0, count, 64, DMABUFD_REGION_ATTR_CACHED, 0, "revoke-race", &fd, &id,
				    &off);
		if (r)
			break;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || pipe(ready)) {
			close(fd);
			break;
		}
		memset(p, 0xc3, len);
		child = fork();
		if (child == 0) {
			volatile unsigned char *vp = p;
			size_t k = 0;

			close(ready[0]);
			if (write(ready[1], "r", 1) != 1)
				_exit(3);
			for (;;) {
				if (vp[k] != 0xc3)
					_exit(1); /* reached pages that are not the old buffer's */
				k = (k + 4093) % len;
			}
		}
		close(ready[1]);
		if (child < 0 || read(ready[0], &c, 1) != 1) {
			close(ready[0]);
			break;
		}
		close(ready[0]);
		usleep(1000 * rounds);
		r = region_revoke(id, NULL, NULL);
		if (r == 0 && region_export(off, count, DMABUFD_REGION_ATTR_CACHED, 0, "revoke-race2",
					    &fd2, &id2) == 0) {
			q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
			if (q != MAP_FAILED) {
				memset(q, 0x3c, len);
				munmap(q, len);
			}
		}
		if (r)
			kill(child, SIGKILL); /* counted as wrong below */
		waitpid(child, &status, 0);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
			bus++;
		else
			bad++;
		munmap(p, len);
		close(fd);
		if (fd2 >= 0)
			close(fd2);
		fd2 = -1;
	}
	check(rounds == 8 && bus == 8 && bad == 0,
	      "REVOKE racing a reader (then new export over the pages): %d rounds, %d SIGBUS, %d wrong",
	      rounds, bus, bad);
	drain_events();
}

static void test_revoke(void)
{
	test_revoke_args();
	test_revoke_mapped(DMABUFD_REGION_ATTR_CACHED, "CACHED");
	test_revoke_mapped(DMABUFD_REGION_ATTR_WRITECOMBINE, "WRITECOMBINE");
	test_revoke_attached();
	test_revoke_race();
	drain_events();
}

/* ---- parked extents (EXPORT_PARK, UNPARK) ---- */

static int region_unpark(int fd, u64 off, u64 count, u64 *ret_returned)
{
	struct dmabufd_region_unpark u = { .size = sizeof(u), .page_offset = off,
					   .page_count = count };

	if (ioctl(fd, DMABUFD_REGION_IOC_UNPARK, &u) < 0)
		return -errno;
	if (ret_returned)
		*ret_returned = u.returned_pages;
	return 0;
}

/* The next RELEASED event of @id on @fd (others dropped); 0 or -errno. */
static int park_wait_event(int fd, u64 id, struct dmabufd_region_event *ret, int ms)
{
	double end = now_s() + ms / 1000.0;

	while (now_s() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct dmabufd_region_event ev;

		if (poll(&p, 1, 100) <= 0)
			continue;
		while (read(fd, &ev, sizeof(ev)) == sizeof(ev)) {
			if (ev.type == DMABUFD_REGION_EVENT_RELEASED && ev.id == id) {
				*ret = ev;
				return 0;
			}
		}
	}
	return -ETIMEDOUT;
}

/* The ATTRS range holding page @off (its state, attribute and extent). */
static bool park_range_at(u64 off, struct dmabufd_region_attr_range *ret)
{
	struct dmabufd_region_attr_range *a = NULL;
	bool found = false;
	int n, i;

	n = region_attrs(&a);
	for (i = 0; i < n && !found; i++) {
		if (a[i].page_offset <= off && off < a[i].page_offset + a[i].page_count) {
			*ret = a[i];
			found = true;
		}
	}
	free(a);
	return found;
}

static u64 park_transitions(void)
{
	struct dmabufd_region_info i;

	return region_info(&i) == 0 ? i.attr_transitions : UINT64_MAX;
}

static u64 park_parked(void)
{
	struct dmabufd_region_info i;

	return region_info(&i) == 0 ? i.parked_pages : UINT64_MAX;
}

/* Release @fd (and @map of @count pages) and wait for its event. */
static int park_release(int fd, void *map, u64 count, u64 id, struct dmabufd_region_event *ret)
{
	if (map != MAP_FAILED)
		munmap(map, count * 4096);
	close(fd);
	return park_wait_event(region_fd, id, ret, 5000);
}

/* Pages of @map (@count pages) that are not all zero. */
static u64 park_nonzero_pages(const unsigned char *map, u64 count)
{
	u64 bad = 0, pg, j;

	for (pg = 0; pg < count; pg++) {
		const u64 *w = (const u64 *)(map + pg * 4096);

		for (j = 0; j < 512; j++) {
			if (w[j]) {
				bad++;
				break;
			}
		}
	}
	return bad;
}

static void test_park_args(void)
{
	struct dmabufd_region_unpark u;
	struct dmabufd_region_info i1, i2;
	u64 returned = 1;

	check(info.caps & DMABUFD_REGION_CAP_PARK, "INFO: CAP_PARK");
	memset(&i2, 0, sizeof(i2));
	i2.size = DMABUFD_REGION_INFO_SIZE_VER1;
	check(region_info(&i1) == 0 && ioctl(region_fd, DMABUFD_REGION_IOC_INFO, &i2) == 0 &&
	      i2.size == DMABUFD_REGION_INFO_SIZE_VER1 && i2.parked_pages == 0 &&
	      i2.revocations == i1.revocations,
	      "INFO with the VER1 size works and leaves parked_pages unwritten");
#define UNPARK_EINVAL(field_set, what) do {					\
		memset(&u, 0, sizeof(u));					\
		u.size = sizeof(u); u.page_count = 1;				\
		field_set;							\
		check(ioctl(region_fd, DMABUFD_REGION_IOC_UNPARK, &u) < 0 && errno == EINVAL, \
		      "UNPARK rejects %s with EINVAL", what);			\
	} while (0)
	UNPARK_EINVAL(u.flags = 1, "a flag");
	UNPARK_EINVAL(u.returned_pages = 1, "a set output field");
	UNPARK_EINVAL(u.page_count = 0, "page_count 0");
	UNPARK_EINVAL(u.page_offset = info.page_count, "an offset past the region");
	UNPARK_EINVAL((u.page_offset = 1, u.page_count = info.page_count), "a range crossing the end");
	UNPARK_EINVAL(u.page_count = UINT64_MAX, "a huge page_count");
	UNPARK_EINVAL(u.size = DMABUFD_REGION_UNPARK_SIZE_VER0 - 8, "a size below VER0");
#undef UNPARK_EINVAL
	check(ioctl(region_fd, DMABUFD_REGION_IOC_UNPARK, (void *)16) < 0 && errno == EFAULT,
	      "UNPARK with a bad pointer is EFAULT");
	check(region_unpark(region_fd, 0, info.page_count, &returned) == 0 && returned == 0,
	      "UNPARK over the whole region with nothing parked returns 0 pages");
}

/* A file's extents go back when it is closed; a buffer outliving its file frees. */
static void test_park_file_close(void)
{
	struct dmabufd_region_event ev = { 0 };
	u64 count = 64, id = 0, off = 0, parked0 = park_parked();
	int fd2 = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK), saved, fd = -1, r;

	if (!check(fd2 >= 0, "second open of the device"))
		return;
	saved = region_fd;
	region_fd = fd2; /* export_anywhere() and park_release() use region_fd */
	r = export_anywhere(0, count, 256, DMABUFD_REGION_ATTR_UNCACHED, DMABUFD_REGION_EXPORT_PARK,
			    "park-file", &fd, &id, &off);
	if (r == 0)
		r = park_release(fd, MAP_FAILED, count, id, &ev);
	region_fd = saved;
	if (!check(r == 0 && (ev.flags & DMABUFD_REGION_EVENT_F_PARKED) &&
		   park_parked() == parked0 + count,
		   "an UNCACHED PARK buffer of a second file parks at release (%s)", strerror(-r))) {
		close(fd2);
		return;
	}
	check(region_export(off, count, DMABUFD_REGION_ATTR_UNCACHED, 0, "other", &fd, &id) == -EBUSY,
	      "EXPORT over another file's parked extent is EBUSY");
	check(region_unpark(region_fd, off, count, &(u64){ 0 }) == 0 && park_parked() == parked0 + count,
	      "UNPARK does not touch another file's extent");
	attrs_consistent("with another file's UNCACHED extent parked");
	close(fd2);
	check(park_parked() == parked0 && range_free(off, count),
	      "closing the file gives its parked extent back");

	/* A PARK buffer outliving its file: freed, not parked, at its release. */
	fd2 = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (!check(fd2 >= 0, "third open of the device"))
		return;
	region_fd = fd2;
	r = export_anywhere(0, count, 256, DMABUFD_REGION_ATTR_WRITECOMBINE,
			    DMABUFD_REGION_EXPORT_PARK, "orphan", &fd, &id, &off);
	region_fd = saved;
	close(fd2);
	if (!check(r == 0, "EXPORT PARK from a third file: %s", strerror(-r)))
		return;
	r = park_release(fd, MAP_FAILED, count, id, &ev);
	check(r == 0 && !(ev.flags & DMABUFD_REGION_EVENT_F_PARKED) && park_parked() == parked0 &&
	      range_free(off, count),
	      "a PARK buffer whose file was closed first is freed at release (flags %#x)", ev.flags);
}

#define PARK_CYCLES 24

static void test_park(void)
{
	struct dmabufd_region_event ev = { 0 };
	struct dmabufd_region_attr_range ar;
	u64 count = MIB_PAGES(8), id = 0, off = 0, t0, t1, parked0, sub = 64, ret_pages = 0;
	u64 nonzero = 0, mid_id = 0;
	unsigned char *map;
	int fd = -1, fd2 = -1, r, i;

	drain_events();
	test_park_args();
	parked0 = park_parked();
	r = export_anywhere(0, count, count, DMABUFD_REGION_ATTR_WRITECOMBINE,
			    DMABUFD_REGION_EXPORT_PARK, "park", &fd, &id, &off);
	if (!check(r == 0, "EXPORT 8 MiB WRITECOMBINE with PARK: %s", strerror(-r)))
		return;
	map = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED)
		memset(map, 0x5a, count * 4096);
	r = park_release(fd, map, count, id, &ev);
	check(r == 0 && ev.flags == DMABUFD_REGION_EVENT_F_PARKED && ev.page_offset == off &&
	      ev.page_count == count && ev.attr == DMABUFD_REGION_ATTR_WRITECOMBINE,
	      "release of a PARK buffer: RELEASED with F_PARKED (flags %#x)", ev.flags);
	check(park_parked() == parked0 + count, "INFO.parked_pages counts the extent");
	check(park_range_at(off, &ar) && ar.state == DMABUFD_REGION_STATE_PARKED &&
	      ar.page_offset == off && ar.page_count == count &&
	      ar.attr == DMABUFD_REGION_ATTR_WRITECOMBINE && ar.buffer_id == 0,
	      "ATTRS: the extent is PARKED, WRITECOMBINE");
	attrs_consistent("with an 8 MiB WRITECOMBINE extent parked");

	/* Anything but a reuse of the caller's extent in its attribute: EBUSY, no change. */
	t0 = park_transitions();
	check(region_export(off, count, DMABUFD_REGION_ATTR_CACHED, 0, "x", &fd, &id) == -EBUSY,
	      "EXPORT over a parked extent in another attribute is EBUSY");
	if (off > 0)
		check(region_export(off - 1, 2, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "x", &fd, &id) == -EBUSY,
		      "EXPORT reaching over the start of a parked extent is EBUSY");
	if (off + count < info.page_count)
		check(region_export(off + count - 1, 2, DMABUFD_REGION_ATTR_WRITECOMBINE, 0, "x", &fd,
				    &id) == -EBUSY,
		      "EXPORT reaching over the end of a parked extent is EBUSY");
	{
		u64 mid = 0;
		int mfd = -1;

		r = export_anywhere(off + count, 1, 1, DMABUFD_REGION_ATTR_CACHED,
				    DMABUFD_REGION_EXPORT_MOVABLE, "mv", &mfd, &mid, &(u64){ 0 });
		if (r != 0)
			r = export_anywhere(0, 1, 1, DMABUFD_REGION_ATTR_CACHED,
					    DMABUFD_REGION_EXPORT_MOVABLE, "mv", &mfd, &mid, &(u64){ 0 });
		if (check(r == 0, "a MOVABLE buffer to migrate")) {
			check(region_migrate(mid, off + 8, NULL) == -EBUSY,
			      "MIGRATE into a parked extent is EBUSY");
			park_release(mfd, MAP_FAILED, 1, mid, &ev);
		}
	}
	check(park_parked() == parked0 + count && park_transitions() == t0,
	      "the refused calls changed nothing");

	/* Reuse of a part: no transition; the rest stays parked, then merges back. */
	r = region_export(off + sub, sub, DMABUFD_REGION_ATTR_WRITECOMBINE,
			  DMABUFD_REGION_EXPORT_PARK, "part", &fd, &mid_id);
	check(r == 0 && park_transitions() == t0 && park_parked() == parked0 + count - sub,
	      "EXPORT of 64 pages inside the extent reuses them without a transition (%s)",
	      strerror(-r));
	if (r == 0) {
		check(park_range_at(off, &ar) && ar.state == DMABUFD_REGION_STATE_PARKED &&
		      ar.page_count == sub && park_range_at(off + sub, &ar) &&
		      ar.state == DMABUFD_REGION_STATE_BUFFER && ar.buffer_id == mid_id &&
		      park_range_at(off + 2 * sub, &ar) && ar.state == DMABUFD_REGION_STATE_PARKED &&
		      ar.page_offset == off + 2 * sub && ar.page_count == count - 2 * sub,
		      "ATTRS: parked head, the buffer, parked tail");
		attrs_consistent("with a buffer inside a parked extent");
		map = mmap(NULL, sub * 4096, PROT_READ, MAP_SHARED, fd, 0);
		check(map != MAP_FAILED && park_nonzero_pages(map, sub) == 0,
		      "the reused pages read zero");
		park_release(fd, map, sub, mid_id, &ev);
		check(park_range_at(off, &ar) && ar.state == DMABUFD_REGION_STATE_PARKED &&
		      ar.page_offset == off && ar.page_count == count,
		      "released again, the pieces merge into one extent");
	}

	/* Warm cycles: every allocation reuses the extent, zeroed, 0 transitions. */
	t0 = park_transitions();
	for (i = 0; i < PARK_CYCLES; i++) {
		r = region_export(off, count, DMABUFD_REGION_ATTR_WRITECOMBINE,
				  DMABUFD_REGION_EXPORT_PARK, "cycle", &fd, &id);
		if (r)
			break;
		map = mmap(NULL, count * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			close(fd);
			r = -errno;
			break;
		}
		nonzero += park_nonzero_pages(map, count);
		memset(map, 0xff - i, count * 4096);
		r = park_release(fd, map, count, id, &ev);
		if (r || !(ev.flags & DMABUFD_REGION_EVENT_F_PARKED))
			break;
	}
	t1 = park_transitions();
	check(i == PARK_CYCLES && t1 == t0 && nonzero == 0,
	      "%d warm 8 MiB WRITECOMBINE EXPORT/release cycles over the parked extent: %llu attribute transitions, %llu non-zero pages (%s)",
	      i, t1 - t0, nonzero, strerror(-r));
	attrs_consistent("after the warm cycles");

	/* UNPARK a middle part, then the rest: one transition each piece. */
	t0 = park_transitions();
	r = region_unpark(region_fd, off + sub, sub, &ret_pages);
	check(r == 0 && ret_pages == sub && park_parked() == parked0 + count - sub &&
	      range_free(off + sub, sub) && park_range_at(off, &ar) &&
	      ar.state == DMABUFD_REGION_STATE_PARKED && ar.page_count == sub,
	      "UNPARK of 64 pages in the middle splits the extent (%llu returned)", ret_pages);
	check(park_transitions() == t0 + 1, "UNPARK counts its attribute transition");
	attrs_consistent("after a partial UNPARK");
	r = region_unpark(region_fd, off, count, &ret_pages);
	check(r == 0 && ret_pages == count - sub && park_parked() == parked0 &&
	      range_free(off, count) && park_transitions() == t0 + 3,
	      "UNPARK of the whole range returns the two pieces (%llu returned)", ret_pages);
	attrs_consistent("after UNPARK");

	/* REVOKE of a PARK buffer parks too. */
	r = region_export(off, 16, DMABUFD_REGION_ATTR_WRITECOMBINE, DMABUFD_REGION_EXPORT_PARK,
			  "revoke", &fd2, &id);
	if (r == 0) {
		r = region_revoke(id, NULL, NULL);
		check(r == 0 && park_wait_event(region_fd, id, &ev, 5000) == 0 &&
		      (ev.flags & DMABUFD_REGION_EVENT_F_PARKED) && park_parked() == parked0 + 16,
		      "REVOKE of a PARK buffer parks its pages");
		close(fd2);
		check(region_unpark(region_fd, off, 16, &ret_pages) == 0 && ret_pages == 16 &&
		      range_free(off, 16), "and UNPARK gives them back");
	}
	test_park_file_close();
	attrs_consistent("after the park tests");
	drain_events();
}

/* Usage: dmabufd-vm-region-test [claims]: "claims" runs only the claims over large folios. */
int main(int argc, char **argv)
{
	bool only_claims = argc > 1 && strcmp(argv[1], "claims") == 0;
	double t0 = now_s();
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		struct utsname u;
		int maj = 0, min = 0;

		if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2 &&
		    (maj > 6 || (maj == 6 && min >= 12)))
			kpf_uc_bit = KPF_ARCH_2;
		diag("kernel %s: PAT UC- is kpageflags bit %d, WC bit %d", u.release, kpf_uc_bit, KPF_ARCH);
	}
	region_fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (!check(region_fd >= 0, "open %s: %s", DMABUFD_REGION_DEVICE, strerror(errno))) {
		puts("# done");
		return 1;
	}
	r = region_info(&info);
	if (!check(r == 0, "INFO: %s", r ? strerror(-r) : "ok")) {
		puts("# done");
		return 1;
	}
	diag("region: base PFN %#llx, %llu MiB, max buffer %llu pages",
	     info.base_pfn, info.page_count / 256, info.max_buffer_pages);
	attrs_consistent("at start");
	if (only_claims) {
		test_claims_large_folios();
		goto out;
	}
	test_migration_on_request();
	test_claims_large_folios();
	test_uapi();
	test_contiguity_and_import();
	test_attributes();
	test_migrate_mmapped(DMABUFD_REGION_ATTR_CACHED, "CACHED");
	test_migrate_mmapped(DMABUFD_REGION_ATTR_WRITECOMBINE, "WRITECOMBINE");
	test_migrate_unmovable();
	test_events();
	test_cpu_sync();
	test_list_entry_sizes();
	test_occupancy();
	test_migrate_race();
	test_event_overflow();
	test_revoke();
	test_park();
	test_restart();
	test_random();
out:
	diag("region tests took %.1fs, %d failures", now_s() - t0, failures);
	puts("# done");
	return failures ? 1 : 0;
}
