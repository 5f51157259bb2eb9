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
 *   audit      the X server's own mapping, by PFN: its VMA of the buffer
 *              (/proc/<Xvfb>/maps); the PTE of every page of it, which the
 *              X server faulted in itself, traced in the kernel (a VM_PFNMAP
 *              VMA is a hole to /proc/<pid>/pagemap): the buffer's PFNs in
 *              order, the attribute's cache bits, the buffer's PAT memtype
 *              in /proc/kpageflags, one module ATTRS range of the buffer's
 *              attribute (LIST label); every PTE any process got into the
 *              region meanwhile has its page's attribute; the whole region
 *              agrees with kpageflags page by page (no page of a
 *              non-write-back buffer is write-back).
 *   revoke     Revoke of a buffer the X server has mapped (faulted in): the
 *              module's buffer is gone, the server's VMA stays; the next
 *              ShmPutImage from it faults, the module answers SIGBUS
 *              (traced), the server's bus-fault handler puts zero pages
 *              over the range (the image presents as zeros), it logs
 *              "truncated by client",
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include <dmabufd/framebuffer.h>
#include <dmabufd/x11.h>

#include "dmabufd-region.h"
#include "harness.h"
#include "kpageflags.h"
#include "xvfb.h"

/* The x86 PAT flag of UC- in /proc/kpageflags (kpageflags.h), by kernel. */
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
	q.count = 0;
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
		__u64 *f;

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
			if (kpf_attr(f[p], kpf_uc_bit) != a[i].attr && bad++ == 0)
				diag("PFN %#llx: kpageflags %#llx, range attribute %s",
				     info.base_pfn + a[i].page_offset + p, f[p],
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
 * The PTEs of a VM_PFNMAP mapping (the module's) are invisible to
 * /proc/<pid>/pagemap: the kernel's page walker skips such VMAs and
 * reports them as holes. So the PFN of every PTE the X server gets comes
 * from the module's fault path itself, traced by two probes (tracefs):
 *   insert  vmf_insert_pfn_prot(vma, addr, pfn, prot) - who (task, pid)
 *           maps which PFN at which address with which cache bits
 *   fault   the return of the module's fault handler (region_vm_fault):
 *           VM_FAULT_SIGBUS (0x2) for a revoked buffer
 * On x86, PAT also makes every PTE of a RAM page take the page's memtype
 * (track_pfn_insert), which /proc/kpageflags shows per PFN.
 */
#define TRACEFS		"/sys/kernel/tracing"
#define PROT_CACHE_BITS	0x98ULL /* _PAGE_PWT | _PAGE_PCD | _PAGE_PAT (4 KiB) */

struct fault_rec {
	pid_t pid;
	char comm[16];
	bool insert;            /* else a fault-handler return */
	uint64_t addr, pfn, prot, ret;
};

static int write_file(const char *path, const char *s, bool append)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : n < 0 ? -errno : -EIO;
}

static void trace_setup(void)
{
	int r;

	if (access(TRACEFS "/kprobe_events", F_OK) != 0 &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL) < 0)
		fatal("mount tracefs on %s: %m", TRACEFS);
	r = write_file(TRACEFS "/kprobe_events",
		       "p:dmabufd_x11/insert vmf_insert_pfn_prot addr=%si:x64 pfn=%dx:x64 prot=%cx:x64\n",
		       false);
	if (r == 0)
		r = write_file(TRACEFS "/kprobe_events",
			       "r:dmabufd_x11/fault dmabufd_region:region_vm_fault ret=$retval:x32\n", true);
	if (r == 0)
		r = write_file(TRACEFS "/events/dmabufd_x11/enable", "1", false);
	if (r == 0)
		r = write_file(TRACEFS "/tracing_on", "1", false);
	if (r < 0)
		fatal("kprobes on vmf_insert_pfn_prot and region_vm_fault: %s", strerror(-r));
}

static void trace_clear(void)
{
	int r = write_file(TRACEFS "/trace", "", false);

	if (r < 0)
		fatal("clear %s/trace: %s", TRACEFS, strerror(-r));
}

/* The records since the last trace_clear(); returns their count. */
static size_t trace_read(struct fault_rec **ret)
{
	struct fault_rec *v = NULL;
	size_t n = 0, cap = 0;
	char line[512];
	FILE *f = fopen(TRACEFS "/trace", "re");

	if (!f)
		fatal("open %s/trace: %m", TRACEFS);
	while (fgets(line, sizeof(line), f)) {
		struct fault_rec rec = { 0 };
		char task[64], *dash, *p;

		if (line[0] == '#' || sscanf(line, " %63s", task) != 1)
			continue;
		if (strstr(line, " insert: "))
			rec.insert = true;
		else if (!strstr(line, " fault: "))
			continue;
		dash = strrchr(task, '-');
		if (!dash)
			continue;
		*dash = '\0';
		snprintf(rec.comm, sizeof(rec.comm), "%.15s", task);
		rec.pid = atoi(dash + 1);
		if (rec.insert) {
			if (!(p = strstr(line, " addr=")) || sscanf(p, " addr=%" SCNx64, &rec.addr) != 1 ||
			    !(p = strstr(line, " pfn=")) || sscanf(p, " pfn=%" SCNx64, &rec.pfn) != 1 ||
			    !(p = strstr(line, " prot=")) || sscanf(p, " prot=%" SCNx64, &rec.prot) != 1)
				continue;
		} else if (!(p = strstr(line, " ret=")) || sscanf(p, " ret=%" SCNx64, &rec.ret) != 1) {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				fatal("realloc");
		}
		v[n++] = rec;
	}
	fclose(f);
	*ret = v;
	return n;
}

static uint32_t prot_attr(uint64_t prot)
{
	switch (prot & PROT_CACHE_BITS) {
	case 0:
		return DMABUFD_REGION_ATTR_CACHED;
	case 0x08:
		return DMABUFD_REGION_ATTR_WRITECOMBINE; /* PAT entry 1 */
	case 0x10:
		return DMABUFD_REGION_ATTR_UNCACHED; /* PAT entry 2: UC- */
	default:
		return 99;
	}
}

/*
 * Every PTE of the region's pages inserted since the last trace_clear(),
 * by any process (the X server, the client, ...): its cache bits are the
 * attribute ATTRS gives the page now, so no page of a write-combine or
 * uncached buffer got a write-back PTE. Pages freed since are not counted.
 */
static void audit_ptes(const char *when)
{
	struct dmabufd_region_attr_range *a = NULL;
	struct fault_rec *v = NULL;
	uint64_t checked = 0, bad = 0, wb_into_nonwb = 0;
	size_t n = trace_read(&v);
	int na = region_attrs(&a);

	if (na < 0)
		fatal("%s: ATTRS: %s", when, strerror(-na));
	for (size_t i = 0; i < n; i++) {
		uint64_t off = v[i].pfn - info.base_pfn;

		if (!v[i].insert || v[i].pfn < info.base_pfn || off >= info.page_count)
			continue;
		for (int k = 0; k < na; k++) {
			if (off < a[k].page_offset || off >= a[k].page_offset + a[k].page_count ||
			    a[k].state != DMABUFD_REGION_STATE_BUFFER)
				continue;
			checked++;
			if (prot_attr(v[i].prot) != a[k].attr && bad++ == 0)
				diag("%s[%d] mapped PFN %#" PRIx64 " with prot %#" PRIx64 "; the page is %s",
				     v[i].comm, (int)v[i].pid, v[i].pfn, v[i].prot, attr_names[a[k].attr % 3]);
			if (prot_attr(v[i].prot) == DMABUFD_REGION_ATTR_CACHED &&
			    a[k].attr != DMABUFD_REGION_ATTR_CACHED)
				wb_into_nonwb++;
		}
	}
	check(checked > 0 && bad == 0 && wb_into_nonwb == 0,
	      "%s: the %" PRIu64 " PTEs inserted into pages of live buffers (every process) carry "
	      "their buffer's attribute (%" PRIu64 " differ, %" PRIu64 " write-back into a "
	      "non-write-back buffer)", when, checked, bad, wb_into_nonwb);
	free(v);
	free(a);
}

/*
 * The X server's own mapping of @img, page by page, from the PTEs it got:
 * one per page of its VMA, the buffer's PFNs in order, the buffer's cache
 * bits, the buffer's PAT memtype in kpageflags. Returns the pages seen.
 */
static uint64_t audit_server_mapping(struct dmabufd_x11_image *img, uint32_t attr, const char *label)
{
	const struct dmabufd_framebuffer *fb = dmabufd_x11_image_framebuffer(img);
	struct dmabufd_region_attr_range *a = NULL;
	struct dmabufd_region_buffer mb = { 0 };
	uint64_t npages = fb->size / 4096, seen = 0, inorder = 0, wrong = 0, badprot = 0, first;
	uint64_t *pfn, *prot, *pm, pm_present = 0;
	struct fault_rec *v = NULL;
	struct vma vm[4];
	struct stat st;
	size_t nrec;
	int n, r;

	if (fstat(dmabufd_x11_image_fd(img), &st) < 0)
		fatal("fstat: %m");
	n = vmas_of(xvfb_p.pid, st.st_dev, st.st_ino, vm, 4);
	if (!check(n == 1 && vm[0].end - vm[0].start == fb->size,
		   "%s: /proc/%d/maps: one VMA of the dma-buf (inode %llu), %" PRIu64 " bytes "
		   "(found %d)", label, (int)xvfb_p.pid, (unsigned long long)st.st_ino,
		   n > 0 ? vm[0].end - vm[0].start : 0, n))
		return 0;
	pfn = calloc(npages, 8);
	prot = calloc(npages, 8);
	pm = calloc(npages, 8);
	if (!pfn || !prot || !pm)
		fatal("calloc");
	if (pagemap(xvfb_p.pid, vm[0].start, npages, pm) == 0)
		for (uint64_t p = 0; p < npages; p++)
			pm_present += !!(pm[p] & (1ULL << 63));
	diag("%s: /proc/%d/pagemap shows %" PRIu64 " of %" PRIu64 " pages present: a VM_PFNMAP "
	     "VMA is a hole to it; the PTEs come from the fault trace", label, (int)xvfb_p.pid,
	     pm_present, npages);

	nrec = trace_read(&v);
	for (size_t i = 0; i < nrec; i++) {
		uint64_t p = (v[i].addr - vm[0].start) / 4096;

		if (!v[i].insert || v[i].pid != xvfb_p.pid || v[i].addr < vm[0].start ||
		    v[i].addr >= vm[0].end)
			continue;
		seen += pfn[p] == 0;
		pfn[p] = v[i].pfn;
		prot[p] = v[i].prot;
	}
	first = pfn[0];
	for (uint64_t p = 0; p < npages; p++) {
		inorder += pfn[p] && pfn[p] == first + p;
		badprot += pfn[p] && prot_attr(prot[p]) != attr;
	}
	check(seen == npages && inorder == npages && first >= info.base_pfn &&
	      first + npages <= info.base_pfn + info.page_count && badprot == 0,
	      "%s: the X server (Xvfb, pid %d) itself faulted in a PTE for each of the %" PRIu64
	      " pages of its mapping (%" PRIu64 "): PFNs %#" PRIx64 "..%#" PRIx64 " in order (%"
	      PRIu64 ") inside the region, %s cache bits (prot %#" PRIx64 "; %" PRIu64 " differ)",
	      label, (int)xvfb_p.pid, npages, seen, first, first + npages - 1, inorder,
	      attr_names[attr], prot[0], badprot);
	free(v);
	if (seen != npages) {
		free(pfn);
		free(prot);
		free(pm);
		return seen;
	}

	/* kpageflags of exactly the PFNs the X server's PTEs point at. */
	for (uint64_t p = 0; p < npages; p++) {
		__u64 f;

		r = kpageflags(pfn[p], 1, &f);
		if (r < 0)
			fatal("kpageflags: %s", strerror(-r));
		if (kpf_attr(f, kpf_uc_bit) != attr && wrong++ == 0)
			diag("PFN %#" PRIx64 " (page %" PRIu64 "): kpageflags %#llx", pfn[p], p, f);
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
		r = region_buffer(a[i].buffer_id, &mb);
		check(a[i].state == DMABUFD_REGION_STATE_BUFFER && a[i].page_count == npages &&
		      a[i].attr == attr && r == 0 && strcmp(mb.label, label) == 0 && mb.mmaps == 2,
		      "%s: module ATTRS: the PFNs are buffer %llu (label \"%s\", %llu pages, %s, %u "
		      "mmaps: the client's and the X server's)", label,
		      (unsigned long long)a[i].buffer_id, mb.label, (unsigned long long)a[i].page_count,
		      attr_names[a[i].attr % 3], mb.mmaps);
		r = 0;
	}
	if (r < 0)
		check(false, "%s: no ATTRS range starts at PFN %#" PRIx64 " (%d ranges)", label, first, n);
	free(a);
	free(pfn);
	free(prot);
	free(pm);
	return seen;
}

/* --- X helpers ------------------------------------------------------------ */

/* Running (not exited, not a zombie: it is our child, so waitpid can tell). */
static bool xvfb_alive(void)
{
	int status;

	return xvfb_p.pid > 0 && waitpid(xvfb_p.pid, &status, WNOHANG) == 0;
}

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

/* Pixel round trips through the server's own mapping, then the PFN audit. */
static void case_attr(struct dmabufd_client *c, xcb_connection_t *conn, uint32_t attr)
{
	const char *label = attr == DMABUFD_ATTR_WRITECOMBINE ? "x11-vm-wc" : "x11-vm-uc";
	struct dmabufd_x11_image *img = alloc_attached(c, conn, attr, label);
	xcb_gcontext_t gc;
	xcb_window_t win;
	uint64_t bad;
	int r;

	trace_clear();
	win = make_window(conn, W, H, 0, &gc);
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
	audit_ptes(label);
	audit_region(label);

	xcb_free_gc(conn, gc);
	xcb_destroy_window(conn, win);
	dmabufd_x11_image_destroy(img);
	xsync(conn);
}

/* The module's id of the live buffer labelled @label, or 0. */
static uint64_t module_id_of_label(const char *label)
{
	struct dmabufd_region_attr_range *a = NULL;
	struct dmabufd_region_buffer mb;
	uint64_t id = 0;
	int n = region_attrs(&a);

	for (int i = 0; i < n; i++)
		if (a[i].state == DMABUFD_REGION_STATE_BUFFER &&
		    region_buffer(a[i].buffer_id, &mb) == 0 && strcmp(mb.label, label) == 0)
			id = mb.id;
	free(a);
	return id;
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
	struct dmabufd_region_buffer mb;
	uint64_t revoked_mod_id = 0;
	struct fault_rec *rec = NULL;
	size_t nrec, sigbus = 0, inserts = 0;
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
	revoked_mod_id = module_id_of_label("x11-vm-revoke");

	trace_clear();
	r = dmabufd_revoke(c, fb->id);
	check(r == 0, "revoke: dmabufd_revoke(%" PRIu64 ") of the buffer the X server maps: %s",
	      fb->id, r ? strerror(-r) : "done");
	if (fstat(fb->fd, &st) < 0)
		fatal("fstat: %m");
	n = vmas_of(xvfb_p.pid, st.st_dev, st.st_ino, v, 4);
	check(n == 1 && revoked_mod_id != 0 && region_buffer(revoked_mod_id, &mb) == -ENOENT,
	      "revoke: the X server's VMA stays (%d) but the module's buffer %" PRIu64 " is gone "
	      "(its PTEs were zapped, its pages are free)", n, revoked_mod_id);
	audit_region("revoke: after");
	r = dmabufd_stats(c, &s);
	check(r == 0 && s.buffers == 1,
	      "revoke: the daemon holds only the other client's buffer (%u buffers)", s.buffers);

	/* The server reads the revoked segment: SIGBUS, its handler, zeros. */
	r = dmabufd_x11_image_put(img, win, gc, 0, 0, W, H, 0, 0);
	r = r ? r : xsync(conn);
	check(r == 0 && xvfb_alive(),
	      "revoke: ShmPutImage from the revoked segment: no X error (%d), Xvfb alive", r);
	check(window_mismatches(conn, win, W, H, 0) == 0,
	      "revoke: the X server read zeros: all %u pixels of the window are 0", W * H);
	nrec = trace_read(&rec);
	for (size_t i = 0; i < nrec; i++) {
		if (rec[i].pid != xvfb_p.pid)
			continue;
		sigbus += !rec[i].insert && rec[i].ret == 0x2;
		inserts += rec[i].insert;
	}
	free(rec);
	check(sigbus >= 1 && inserts == 0, "revoke: the X server's access faulted and the module "
	      "answered VM_FAULT_SIGBUS (%zu times), no PTE was inserted for it (%zu)", sigbus,
	      inserts);
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
	trace_setup();
	conn = xconnect();
	audit_region("start");
	case_attr(c, conn, DMABUFD_ATTR_WRITECOMBINE);
	case_attr(c, conn, DMABUFD_ATTR_UNCACHED);
	xcb_disconnect(conn);
	case_revoke(c);

	check(xvfb_alive(), "Xvfb (pid %d) is alive at the end", (int)xvfb_p.pid);
	dmabufd_disconnect(c);
	r = xvfb_stop(&xvfb_p);
	check(r == 0, "Xvfb exits 0 on SIGTERM (%d)", r);
	daemon_stop(&daemon_p);
	diag("%d failures", failures);
	return failures ? 1 : 0;
}
