/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-x11-vm - in-VM test: a real Xvfb maps write-combine and uncached
 * dmabufd buffers of the kernel-module backend (MIT-SHM 1.2, ShmAttachFd),
 * run by x11-vm.sh. It starts dmabufd (DMABUFD_TEST_DAEMON,
 * DMABUFD_TEST_BACKEND=kmod) and Xvfb itself, and checks:
 *
 *   roundtrip  per attribute (write-combine, uncached): the client writes a
 *              pattern through its mapping, ShmPutImage, plain GetImage back
 *              pixel-exact; plain PutImage, ShmGetImage (the server writes
 *              through its mapping), the client reads exact pixels.
 *   audit      the X server's own mapping, by PFN: every page of its VMA of
 *              the buffer is present (/proc/<Xvfb>/pagemap), the PFNs are the
 *              buffer's range in the region (module ATTRS: one BUFFER range
 *              of the buffer's attribute, LIST label), and /proc/kpageflags
 *              shows the buffer's PAT memtype on each of them; the whole
 *              region agrees with kpageflags page by page (no page of a
 *              non-write-back buffer is write-back), and every PTE of the X
 *              server into the region points into a live buffer.
 *   revoke     Revoke of a buffer the X server has mapped (faulted in): its
 *              PTEs are gone; the next ShmPutImage from it makes the server
 *              take SIGBUS, which its bus-fault handler turns into zero pages
 *              (the image presents as zeros), it logs "truncated by client",
 *              frees the segment (the next request naming it: BadShmSeg),
 *              and keeps serving another client exactly; a new attach works.
 *
 * Output: "ok ..." / "not ok ..." lines and "# " diagnostics; exit 0 when
 * every check passed, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include <dmabufd/framebuffer.h>
#include <dmabufd/x11.h>

#include "dmabufd-region.h"
#include "harness.h"
#include "xvfb.h"

/*
 * x86 PAT keeps the memtype of RAM pages in page flags: write-combine is
 * PG_arch_1 (kpageflags KPF_ARCH, 38), UC- is PG_uncached (KPF_UNCACHED,
 * 39) up to 6.11 and PG_arch_2 (KPF_ARCH_2, 41) from 6.12 (region-test.c).
 */
#define KPF_ARCH	38
#define KPF_UNCACHED	39
#define KPF_ARCH_2	41
#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

static int kpf_uc_bit = KPF_UNCACHED;
static int failures;
static struct daemon_proc daemon_p;
static struct xvfb xvfb_p;
static struct dmabufd_region_info info;
static const char *const attr_names[] = { "cached", "write-combine", "uncached" };

static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "ok " : "not ok ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		failures++;
	return ok;
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A failed step after which nothing else can be checked. */
static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("not ok ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (xvfb_p.pid > 0)
		xvfb_stop(&xvfb_p);
	if (daemon_p.pid > 0)
		daemon_stop(&daemon_p);
	exit(1);
}

/* --- the module's view ---------------------------------------------------- */

static int region_ioctl(unsigned long cmd, void *arg)
{
	int fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, arg) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* ATTRS: the ranges tiling the region, in page order; returns the count. */
static int region_attrs(struct dmabufd_region_attr_range **ret)
{
	struct dmabufd_region_attrs q = { .size = sizeof(q), .entry_size = sizeof(**ret) };
	struct dmabufd_region_attr_range *a;
	int r;

	r = region_ioctl(DMABUFD_REGION_IOC_ATTRS, &q);
	if (r < 0)
		return r;
	/* Room for a few more: the daemon may claim or free meanwhile. */
	a = calloc(q.count + 16, sizeof(*a));
	if (!a)
		return -ENOMEM;
	q.capacity = q.count + 16;
	q.ranges_ptr = (uintptr_t)a;
	r = region_ioctl(DMABUFD_REGION_IOC_ATTRS, &q);
	if (r < 0 || q.count > q.capacity) {
		free(a);
		return r < 0 ? r : -EAGAIN;
	}
	*ret = a;
	return (int)q.count;
}

/* The module's LIST entry of buffer @id; 0 or a negative errno. */
static int region_buffer(uint64_t id, struct dmabufd_region_buffer *ret)
{
	struct dmabufd_region_list l = { .size = sizeof(l), .entry_size = sizeof(*ret) };
	struct dmabufd_region_buffer *v = calloc(1024, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	l.entries_ptr = (uintptr_t)v;
	l.capacity = 1024;
	r = region_ioctl(DMABUFD_REGION_IOC_LIST, &l);
	if (r == 0) {
		r = -ENOENT;
		for (uint32_t i = 0; i < l.count && i < l.capacity; i++) {
			if (v[i].id == id) {
				*ret = v[i];
				r = 0;
			}
		}
	}
	free(v);
	return r;
}

static int kpageflags(uint64_t pfn, uint64_t n, uint64_t *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = pread(fd, flags, n * 8, (off_t)(pfn * 8));
	close(fd);
	if (r < 0)
		return -errno;
	return (uint64_t)r == n * 8 ? 0 : -EIO;
}

/* The PAT memtype of a page from its kpageflags, as a region attribute. */
static uint32_t kpf_attr(uint64_t f)
{
	bool wc = f & (1ULL << KPF_ARCH), uc = f & (1ULL << kpf_uc_bit);

	if (wc && !uc)
		return DMABUFD_REGION_ATTR_WRITECOMBINE;
	if (uc && !wc)
		return DMABUFD_REGION_ATTR_UNCACHED;
	if (!uc && !wc)
		return DMABUFD_REGION_ATTR_CACHED;
	return 99; /* write-through: never used by the module */
}

/*
 * The whole region: ATTRS tiles it, free ranges are cached, and every page's
 * PAT memtype (kpageflags) is its range's attribute, so no page of a
 * write-combine or uncached buffer is write-back anywhere.
 */
static void audit_region(const char *when)
{
	struct dmabufd_region_attr_range *a = NULL;
	uint64_t next = 0, bad = 0, nonwb = 0;
	int n, i;

	n = region_attrs(&a);
	if (n < 0) {
		check(false, "%s: ATTRS: %s", when, strerror(-n));
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t *f;

		if (a[i].page_offset != next || a[i].page_count == 0)
			break;
		if (a[i].state == DMABUFD_REGION_STATE_FREE && a[i].attr != DMABUFD_REGION_ATTR_CACHED)
			break;
		f = malloc(a[i].page_count * 8);
		if (!f || kpageflags(info.base_pfn + a[i].page_offset, a[i].page_count, f) < 0) {
			free(f);
			break;
		}
		for (uint64_t p = 0; p < a[i].page_count; p++) {
			if (kpf_attr(f[p]) != a[i].attr && bad++ == 0)
				diag("PFN %#" PRIx64 ": kpageflags %#" PRIx64 ", range attribute %s",
				     (uint64_t)(info.base_pfn + a[i].page_offset + p), f[p],
				     attr_names[a[i].attr % 3]);
		}
		if (a[i].attr != DMABUFD_REGION_ATTR_CACHED)
			nonwb += a[i].page_count;
		free(f);
		next = a[i].page_offset + a[i].page_count;
	}
	free(a);
	check(i == n && next == info.page_count && bad == 0,
	      "%s: region audit: ATTRS tiles the %" PRIu64 " pages (%d ranges), every page's PAT "
	      "memtype in /proc/kpageflags is its range's attribute (%" PRIu64 " mismatches; %"
	      PRIu64 " pages of non-write-back buffers, none write-back)", when, (uint64_t)info.page_count, n,
	      bad, nonwb);
}

/* --- the X server's view -------------------------------------------------- */

struct vma {
	uint64_t start, end;
};

/* The VMAs of @pid mapping file (@dev, @ino); returns the count (<= max). */
static int vmas_of(pid_t pid, dev_t dev, ino_t ino, struct vma *v, int max)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e, inode;
		unsigned int maj, min;

		if (sscanf(line, "%llx-%llx %*s %*x %x:%x %llu", &s, &e, &maj, &min, &inode) != 5)
			continue;
		if (inode != (unsigned long long)ino || maj != major(dev) || min != minor(dev))
			continue;
		if (n < max)
			v[n] = (struct vma){ s, e };
		n++;
	}
	fclose(f);
	return n < max ? n : max;
}

/* pagemap entries of @pid for [addr, addr + n pages). */
static int pagemap(pid_t pid, uint64_t addr, uint64_t n, uint64_t *pm)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = pread(fd, pm, n * 8, (off_t)(addr / 4096 * 8));
	close(fd);
	if (r < 0)
		return -errno;
	return (uint64_t)r == n * 8 ? 0 : -EIO;
}

/*
 * Every present PTE of @pid into the region, over all its VMAs: counts
 * those into the pages of live buffers (*ret_buffer) and into free pages
 * (*ret_free).
 */
static int server_region_ptes(pid_t pid, uint64_t *ret_buffer, uint64_t *ret_free)
{
	struct dmabufd_region_attr_range *a = NULL;
	uint64_t in_buffer = 0, in_free = 0;
	char path[64], line[512];
	FILE *f;
	int n;

	n = region_attrs(&a);
	if (n < 0)
		return n;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		free(a);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		uint64_t *pm;

		if (sscanf(line, "%llx-%llx", &s, &e) != 2 || strstr(line, "[vsyscall]"))
			continue;
		pm = malloc((e - s) / 4096 * 8);
		if (!pm || pagemap(pid, s, (e - s) / 4096, pm) < 0) {
			free(pm);
			continue;
		}
		for (uint64_t p = 0; p < (e - s) / 4096; p++) {
			uint64_t pfn = pm[p] & PM_PFN_MASK;

			if (!(pm[p] & PM_PRESENT) || pfn < info.base_pfn ||
			    pfn >= info.base_pfn + info.page_count)
				continue;
			for (int i = 0; i < n; i++) {
				if (pfn - info.base_pfn < a[i].page_offset ||
				    pfn - info.base_pfn >= a[i].page_offset + a[i].page_count)
					continue;
				if (a[i].state == DMABUFD_REGION_STATE_BUFFER)
					in_buffer++;
				else
					in_free++;
			}
		}
		free(pm);
	}
	fclose(f);
	free(a);
	*ret_buffer = in_buffer;
	*ret_free = in_free;
	return 0;
}

/*
 * The X server's mapping of @img, page by page: present, the buffer's PFNs,
 * the buffer's attribute in kpageflags. Returns the number of pages present.
 */
static uint64_t audit_server_mapping(struct dmabufd_x11_image *img, uint32_t attr, const char *label)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	struct dmabufd_region_attr_range *a = NULL;
	struct dmabufd_region_buffer mb;
	uint64_t npages = fb->size / 4096, present = 0, contiguous = 0, wrong = 0, first;
	uint64_t *pm, *flags;
	struct vma v[4];
	struct stat st;
	int n, r;

	if (fstat(dmabufd_x11_image_fd(img), &st) < 0)
		fatal("fstat: %m");
	n = vmas_of(xvfb_p.pid, st.st_dev, st.st_ino, v, 4);
	if (!check(n == 1 && v[0].end - v[0].start == fb->size,
		   "%s: Xvfb (pid %d) has one VMA of the dma-buf (inode %llu), %" PRIu64 " bytes "
		   "(found %d)", label, (int)xvfb_p.pid, (unsigned long long)st.st_ino,
		   n > 0 ? v[0].end - v[0].start : 0, n))
		return 0;
	pm = calloc(npages, 8);
	flags = calloc(npages, 8);
	if (!pm || !flags || pagemap(xvfb_p.pid, v[0].start, npages, pm) < 0)
		fatal("pagemap of Xvfb: %m");
	first = pm[0] & PM_PFN_MASK;
	for (uint64_t p = 0; p < npages; p++) {
		if (!(pm[p] & PM_PRESENT))
			continue;
		present++;
		if ((pm[p] & PM_PFN_MASK) == first + p)
			contiguous++;
	}
	check(present == npages && contiguous == npages && first >= info.base_pfn &&
	      first + npages <= info.base_pfn + info.page_count,
	      "%s: /proc/%d/pagemap: all %" PRIu64 " pages of the X server's mapping present "
	      "(%" PRIu64 "), PFNs %#" PRIx64 "..%#" PRIx64 " consecutive (%" PRIu64 ") inside the "
	      "region [%#llx, %#llx)", label, (int)xvfb_p.pid, npages, present, first,
	      first + npages - 1, contiguous, (unsigned long long)info.base_pfn,
	      (unsigned long long)(info.base_pfn + info.page_count));
	if (present != npages) {
		free(pm);
		free(flags);
		return present;
	}

	/* kpageflags of exactly the PFNs the X server's PTEs point at. */
	for (uint64_t p = 0; p < npages; p++) {
		r = kpageflags(pm[p] & PM_PFN_MASK, 1, &flags[p]);
		if (r < 0)
			fatal("kpageflags: %s", strerror(-r));
		if (kpf_attr(flags[p]) != attr && wrong++ == 0)
			diag("PFN %#" PRIx64 " (page %" PRIu64 "): kpageflags %#" PRIx64,
			     (uint64_t)(pm[p] & PM_PFN_MASK), p, flags[p]);
	}
	check(wrong == 0, "%s: /proc/kpageflags: every PFN the X server maps has the PAT memtype "
	      "%s (%s; %" PRIu64 " differ)", label, attr_names[attr],
	      attr == DMABUFD_REGION_ATTR_WRITECOMBINE ? "KPF_ARCH" :
	      kpf_uc_bit == KPF_ARCH_2 ? "KPF_ARCH_2" : "KPF_UNCACHED", wrong);

	/* The module: those PFNs are one buffer of that attribute, ours. */
	n = region_attrs(&a);
	r = -ENOENT;
	for (int i = 0; i < n; i++) {
		if (a[i].page_offset != first - info.base_pfn)
			continue;
		r = 0;
		check(a[i].state == DMABUFD_REGION_STATE_BUFFER && a[i].page_count == npages &&
		      a[i].attr == attr && region_buffer(a[i].buffer_id, &mb) == 0 &&
		      strcmp(mb.label, label) == 0,
		      "%s: module ATTRS: the PFNs are buffer %llu (label \"%s\", %llu pages, %s, %u "
		      "mmaps: the client's and the X server's)", label,
		      (unsigned long long)a[i].buffer_id, mb.label, (unsigned long long)a[i].page_count,
		      attr_names[a[i].attr % 3], mb.mmaps);
	}
	if (r < 0)
		check(false, "%s: no ATTRS range starts at PFN %#" PRIx64, label, first);
	free(a);
	free(pm);
	free(flags);
	return present;
}

/* --- X helpers ------------------------------------------------------------ */

static xcb_screen_t *screen_of(xcb_connection_t *conn)
{
	return xcb_setup_roots_iterator(xcb_get_setup(conn)).data;
}

static xcb_connection_t *xconnect(void)
{
	char reason[DMABUFD_X11_REASON_SIZE] = "";
	xcb_connection_t *conn = NULL;
	int r = dmabufd_x11_connect(xvfb_p.display, &conn, NULL, reason);

	if (r < 0)
		fatal("dmabufd_x11_connect(%s): %s (%s)", xvfb_p.display, reason, strerror(-r));
	return conn;
}

/* A round trip; returns the first X error's code seen on the way, or 0. */
static int xsync(xcb_connection_t *conn)
{
	xcb_get_input_focus_reply_t *rep;
	xcb_generic_event_t *ev;
	int code = 0;

	rep = xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL);
	if (!rep)
		fatal("round trip to Xvfb failed (connection error %d)", xcb_connection_has_error(conn));
	free(rep);
	while ((ev = xcb_poll_for_event(conn))) {
		if (ev->response_type == 0 && code == 0)
			code = ((xcb_generic_error_t *)ev)->error_code;
		free(ev);
	}
	return code;
}

static xcb_window_t make_window(xcb_connection_t *conn, uint16_t w, uint16_t h, int16_t x,
				xcb_gcontext_t *ret_gc)
{
	xcb_screen_t *s = screen_of(conn);
	xcb_window_t win = xcb_generate_id(conn);
	xcb_gcontext_t gc = xcb_generate_id(conn);

	xcb_create_window(conn, XCB_COPY_FROM_PARENT, win, s->root, x, 0, w, h, 0,
			  XCB_WINDOW_CLASS_INPUT_OUTPUT, s->root_visual, 0, NULL);
	xcb_map_window(conn, win);
	xcb_create_gc(conn, gc, win, XCB_GC_GRAPHICS_EXPOSURES, (uint32_t[]){ 0 });
	if (xsync(conn))
		fatal("creating a window failed");
	*ret_gc = gc;
	return win;
}

static uint32_t pattern(uint32_t x, uint32_t y, uint32_t seed)
{
	uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ (seed * 0x9e3779b9u);

	v ^= v >> 13;
	return (v * 0x5bd1e995u) & 0x00ffffff;
}

/* The client writes the pattern through its own mapping (a dma-buf CPU access). */
static void fill(struct dmabufd_x11_image *img, uint32_t seed)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	uint8_t *base = (uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];

	dmabufd_cpu_access_begin(fb->fd, DMABUFD_CPU_WRITE);
	for (uint32_t y = 0; y < fb->height; y++) {
		uint32_t *row = (uint32_t *)(void *)(base + (size_t)y * fb->pitches[0]);

		for (uint32_t x = 0; x < fb->width; x++)
			row[x] = pattern(x, y, seed);
	}
	dmabufd_cpu_access_end(fb->fd, DMABUFD_CPU_WRITE);
}

static uint64_t image_mismatches(struct dmabufd_x11_image *img, uint32_t seed)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	const uint8_t *base = (const uint8_t *)dmabufd_x11_image_data(img) + fb->offsets[0];
	uint64_t bad = 0;

	dmabufd_cpu_access_begin(fb->fd, DMABUFD_CPU_READ);
	for (uint32_t y = 0; y < fb->height; y++) {
		const uint32_t *row = (const uint32_t *)(const void *)(base + (size_t)y * fb->pitches[0]);

		for (uint32_t x = 0; x < fb->width; x++)
			if ((row[x] & 0x00ffffff) != pattern(x, y, seed))
				bad++;
	}
	dmabufd_cpu_access_end(fb->fd, DMABUFD_CPU_READ);
	return bad;
}

/*
 * Plain GetImage of w x h of @d: pixels that differ from the pattern of
 * @seed (or, with @seed 0, that are not 0).
 */
static uint64_t window_mismatches(xcb_connection_t *conn, xcb_drawable_t d, uint16_t w, uint16_t h,
				  uint32_t seed)
{
	xcb_get_image_reply_t *r = xcb_get_image_reply(
		conn, xcb_get_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, d, 0, 0, w, h, UINT32_MAX), NULL);
	const uint32_t *px;
	uint64_t bad = 0;

	if (!r || xcb_get_image_data_length(r) != (int)w * h * 4)
		fatal("GetImage failed");
	px = (const uint32_t *)(const void *)xcb_get_image_data(r);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			if ((px[y * w + x] & 0x00ffffff) != (seed ? pattern(x, y, seed) : 0))
				bad++;
	free(r);
	return bad;
}

static void put_plain(xcb_connection_t *conn, xcb_drawable_t d, xcb_gcontext_t gc, uint16_t w,
		      uint16_t h, uint32_t seed)
{
	/* Row by row: one 1.2 MB request would need BIG-REQUESTS. */
	uint32_t *row = malloc((size_t)w * 4);

	if (!row)
		fatal("malloc");
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++)
			row[x] = pattern(x, y, seed);
		xcb_put_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, d, gc, w, 1, 0, (int16_t)y, 0, 24,
			      (uint32_t)w * 4, (const uint8_t *)row);
	}
	free(row);
	if (xsync(conn))
		fatal("PutImage failed");
}

/* --- the cases ------------------------------------------------------------ */

enum { W = 640, H = 480 };

static struct dmabufd_x11_image *alloc_attached(struct dmabufd_client *c, xcb_connection_t *conn,
						uint32_t attr, const char *label)
{
	struct dmabufd_x11_image *img = NULL;
	const struct dmabufd_framebuffer *fb;
	struct stat st;
	int r;

	r = dmabufd_x11_image_alloc(c, W, H, DRM_FORMAT_XRGB8888, (enum dmabufd_attribute)attr,
				    label, &img);
	if (r < 0)
		fatal("%s: alloc %ux%u XRGB8888 %s: %s (%s)", label, W, H, attr_names[attr],
		      strerror(-r), dmabufd_last_reason(c));
	fb = dmabufd_x11_image_framebuffer(img);
	if (fstat(fb->fd, &st) < 0)
		fatal("fstat: %m");
	check((uint64_t)st.st_size == fb->size && fb->pitches[0] == W * 4 && fb->size % 4096 == 0,
	      "%s: %s dma-buf %ux%u pitch %u, %" PRIu64 " bytes; fstat().st_size %lld (what "
	      "the server's ShmAttachFd sizes its mapping by)", label, attr_names[attr], W, H,
	      fb->pitches[0], fb->size, (long long)st.st_size);
	r = dmabufd_x11_image_attach(img, conn, 0);
	if (r < 0)
		fatal("%s: attach: %s (%s)", label, strerror(-r), dmabufd_x11_image_reason(img));
	return img;
}

static uint64_t fb_pages_of(struct dmabufd_x11_image *img)
{
	return dmabufd_x11_image_framebuffer(img)->size / 4096;
}

/* Pixel round trips through the server's own mapping, then the PFN audit. */
static void case_attr(struct dmabufd_client *c, xcb_connection_t *conn, uint32_t attr)
{
	const char *label = attr == DMABUFD_ATTR_WRITECOMBINE ? "x11-vm-wc" : "x11-vm-uc";
	struct dmabufd_x11_image *img = alloc_attached(c, conn, attr, label);
	xcb_gcontext_t gc;
	xcb_window_t win = make_window(conn, W, H, 0, &gc);
	uint64_t bad, in_buffer = 0, in_free = 0;
	int r;

	fill(img, attr * 10 + 1);
	r = dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
	check(r == 0 && xsync(conn) == 0, "%s: ShmPutImage %ux%u (the X server reads its mapping)",
	      label, W, H);
	bad = window_mismatches(conn, win, W, H, attr * 10 + 1);
	check(bad == 0, "%s: ShmPutImage -> plain GetImage: %u pixels, %" PRIu64 " differ", label,
	      W * H, bad);

	put_plain(conn, win, gc, W, H, attr * 10 + 2);
	r = dmabufd_x11_image_get(img, win, 0, 0, W, H);
	check(r == 0, "%s: ShmGetImage %ux%u (the X server writes its mapping): %s", label, W, H,
	      r ? dmabufd_x11_image_reason(img) : "done");
	bad = image_mismatches(img, attr * 10 + 2);
	check(bad == 0, "%s: plain PutImage -> ShmGetImage: the client reads %" PRIu64
	      " differing pixels of %u", label, bad, W * H);

	audit_server_mapping(img, attr, label);
	r = server_region_ptes(xvfb_p.pid, &in_buffer, &in_free);
	check(r == 0 && in_free == 0 && in_buffer >= fb_pages_of(img),
	      "%s: every PTE of the X server into the region (%" PRIu64 ") points into a live "
	      "buffer, none into a free page (%" PRIu64 ")", label, in_buffer, in_free);
	audit_region(label);

	xcb_free_gc(conn, gc);
	xcb_destroy_window(conn, win);
	dmabufd_x11_image_destroy(img);
	xsync(conn);
}

/* True once the X server's log has a line containing @what (up to 10 s). */
static bool xvfb_logged(xcb_connection_t *conn, const char *what, char *line, size_t len)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(xvfb_p.log, "re");

		if (f) {
			while (fgets(line, (int)len, f)) {
				if (strstr(line, what)) {
					fclose(f);
					line[strcspn(line, "\n")] = '\0';
					return true;
				}
			}
			fclose(f);
		}
		/* The server checks its bus faults when it goes back to wait. */
		xsync(conn);
		usleep(100000);
	}
	return false;
}

/*
 * Revoke of a buffer the X server has mapped and faulted in, while another
 * client's buffer is attached too.
 */
static void case_revoke(struct dmabufd_client *c)
{
	xcb_connection_t *conn = xconnect(), *other = xconnect();
	struct dmabufd_client *c2 = NULL;
	struct dmabufd_x11_image *img, *keep, *after;
	const struct dmabufd_framebuffer *fb;
	xcb_gcontext_t gc, gc2;
	xcb_window_t win, win2;
	xcb_generic_error_t *e;
	uint64_t *pm, present = 0;
	struct dmabufd_stats s;
	char line[256];
	struct vma v[4];
	struct stat st;
	int r, n;

	r = dmabufd_connect(daemon_p.socket, &c2);
	if (r < 0)
		fatal("dmabufd_connect: %s", strerror(-r));
	img = alloc_attached(c, conn, DMABUFD_ATTR_WRITECOMBINE, "x11-vm-revoke");
	fb = dmabufd_x11_image_framebuffer(img);
	win = make_window(conn, W, H, 0, &gc);
	keep = alloc_attached(c2, other, DMABUFD_ATTR_UNCACHED, "x11-vm-other");
	win2 = make_window(other, W, H, W, &gc2);

	fill(img, 31);
	dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
	check(xsync(conn) == 0 && window_mismatches(conn, win, W, H, 31) == 0,
	      "revoke: before, ShmPutImage of the write-combine buffer is exact");
	fill(keep, 41);
	dmabufd_x11_image_put(keep, win2, gc2, 0, 0, W, H, 0, 0);
	check(xsync(other) == 0 && window_mismatches(other, win2, W, H, 41) == 0,
	      "revoke: another client's uncached buffer presents exactly");
	check(audit_server_mapping(img, DMABUFD_ATTR_WRITECOMBINE, "x11-vm-revoke") == fb->size / 4096,
	      "revoke: the X server has every page of the buffer faulted in");

	r = dmabufd_revoke(c, fb->id);
	check(r == 0, "revoke: dmabufd_revoke(%" PRIu64 ") of the buffer the X server maps: %s",
	      fb->id, r ? strerror(-r) : "done");
	if (fstat(fb->fd, &st) < 0)
		fatal("fstat: %m");
	n = vmas_of(xvfb_p.pid, st.st_dev, st.st_ino, v, 4);
	pm = calloc(fb->size / 4096, 8);
	if (!pm || (n == 1 && pagemap(xvfb_p.pid, v[0].start, fb->size / 4096, pm) < 0))
		fatal("pagemap: %m");
	for (uint64_t p = 0; n == 1 && p < fb->size / 4096; p++)
		present += !!(pm[p] & PM_PRESENT);
	free(pm);
	check(n == 1 && present == 0, "revoke: the X server's VMA stays (%d), its PTEs are gone "
	      "(%" PRIu64 " pages present of %" PRIu64 ")", n, present, fb->size / 4096);
	audit_region("revoke: after");
	check(dmabufd_stats(c, &s) == 0 && s.buffers == 1,
	      "revoke: the daemon holds only the other client's buffer (%u)", s.buffers);

	/* The server reads the revoked segment: SIGBUS, its handler, zeros. */
	r = dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
	r = r ? r : xsync(conn);
	check(r == 0 && kill(xvfb_p.pid, 0) == 0,
	      "revoke: ShmPutImage from the revoked segment: no X error (%d), Xvfb alive", r);
	check(window_mismatches(conn, win, W, H, 0) == 0,
	      "revoke: the X server read zeros: all %u pixels of the window are 0", W * H);
	check(vmas_of(xvfb_p.pid, st.st_dev, st.st_ino, v, 4) == 0,
	      "revoke: the X server no longer maps the dma-buf (its handler put anonymous pages "
	      "over the range)");
	check(xvfb_logged(conn, "truncated by client", line, sizeof(line)),
	      "revoke: Xvfb logged the bus fault: \"%s\"", line);
	e = xcb_request_check(conn, xcb_shm_put_image_checked(
		conn, win, gc, W, H, 0, 0, W, H, 0, 0, 24, XCB_IMAGE_FORMAT_Z_PIXMAP, 0,
		dmabufd_x11_image_segment(img), 0));
	check(e && e->error_code == xcb_get_extension_data(conn, &xcb_shm_id)->first_error +
	      XCB_SHM_BAD_SEG, "revoke: the segment is gone: the next ShmPutImage naming it is "
	      "BadShmSeg (error %d)", e ? e->error_code : -1);
	free(e);

	/* Everybody else is served as before. */
	fill(keep, 42);
	dmabufd_x11_image_put(keep, win2, gc2, 0, 0, W, H, 0, 0);
	check(xsync(other) == 0 && window_mismatches(other, win2, W, H, 42) == 0,
	      "revoke: the other client still presents exactly from its buffer");
	after = alloc_attached(c2, other, DMABUFD_ATTR_WRITECOMBINE, "x11-vm-after");
	fill(after, 43);
	dmabufd_x11_image_put(after, win2, gc2, 0, 0, W, H, 0, 0);
	check(xsync(other) == 0 && window_mismatches(other, win2, W, H, 43) == 0,
	      "revoke: a new buffer attaches and presents exactly");
	audit_server_mapping(after, DMABUFD_ATTR_WRITECOMBINE, "x11-vm-after");

	dmabufd_x11_image_destroy(after);
	dmabufd_x11_image_destroy(keep);
	dmabufd_x11_image_destroy(img); /* ShmDetach: BadShmSeg, ignored; Release: gone */
	xcb_disconnect(other);
	xcb_disconnect(conn);
	for (int i = 0; i < 100 && dmabufd_stats(c, &s) == 0 && s.buffers; i++)
		usleep(50000);
	check(s.buffers == 0 && s.used == 0, "revoke: at the end the daemon holds nothing (%u "
	      "buffers, %" PRIu64 " bytes)", s.buffers, s.used);
	audit_region("revoke: end");
	dmabufd_disconnect(c2);
}

int main(void)
{
	struct dmabufd_client *c = NULL;
	struct dmabufd_info di;
	xcb_connection_t *conn;
	struct utsname u;
	int maj = 0, min = 0, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2 &&
	    (maj > 6 || (maj == 6 && min >= 12)))
		kpf_uc_bit = KPF_ARCH_2;
	info.size = sizeof(info);
	r = region_ioctl(DMABUFD_REGION_IOC_INFO, &info);
	if (r < 0)
		fatal("%s INFO: %s", DMABUFD_REGION_DEVICE, strerror(-r));
	diag("kernel %s; region PFNs [%#llx, %#llx), %llu pages", u.release,
	     (unsigned long long)info.base_pfn, (unsigned long long)(info.base_pfn + info.page_count),
	     (unsigned long long)info.page_count);
	if (!xvfb_available())
		fatal("no Xvfb in $PATH (x11-vm.sh puts it in /bin)");

	r = daemon_start(&daemon_p, NULL);
	if (r < 0)
		fatal("daemon_start: %s", strerror(-r));
	r = xvfb_start(&xvfb_p, "1280x1024x24", NULL);
	if (r < 0)
		fatal("xvfb_start: %s", strerror(-r));
	diag("Xvfb pid %d on %s, log %s", (int)xvfb_p.pid, xvfb_p.display, xvfb_p.log);
	r = dmabufd_connect(daemon_p.socket, &c);
	if (r < 0)
		fatal("dmabufd_connect: %s", strerror(-r));
	r = dmabufd_get_info(c, &di);
	if (r < 0 || strcmp(di.backend, "kmod") != 0 ||
	    !(di.attributes & (1u << DMABUFD_ATTR_WRITECOMBINE)) ||
	    !(di.attributes & (1u << DMABUFD_ATTR_UNCACHED)) || !di.revocation)
		fatal("the daemon's backend is %s (attributes %#x, revocation %d): want kmod with "
		      "write-combine, uncached and Revoke", r ? "?" : di.backend, di.attributes,
		      di.revocation);
	conn = xconnect();
	audit_region("start");
	case_attr(c, conn, DMABUFD_ATTR_WRITECOMBINE);
	case_attr(c, conn, DMABUFD_ATTR_UNCACHED);
	xcb_disconnect(conn);
	case_revoke(c);

	check(kill(xvfb_p.pid, 0) == 0, "Xvfb (pid %d) is alive at the end", (int)xvfb_p.pid);
	dmabufd_disconnect(c);
	r = xvfb_stop(&xvfb_p);
	check(r == 0, "Xvfb exits 0 on SIGTERM (%d)", r);
	daemon_stop(&daemon_p);
	diag("%d failures", failures);
	return failures ? 1 : 0;
}
