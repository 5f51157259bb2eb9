/* SPDX-License-Identifier: MIT */
/*
 * In-VM test: a real V4L2 driver imports dmabufd buffers. vivid, loaded
 * with allocators=1 (videobuf2-dma-contig: a device that DMAs into one
 * contiguous range, as a camera or codec on an SoC without IOMMU), and
 * the V4L2 uapi used directly: VIDIOC_S_FMT, VIDIOC_REQBUFS with
 * V4L2_MEMORY_DMABUF, VIDIOC_QBUF with the dmabufd buffer's fd,
 * VIDIOC_STREAMON, VIDIOC_DQBUF.
 *
 * Usage (DMABUFD_SOCKET names the daemon):
 *   v4l2-test capture N ATTR      N frames from vivid's capture node into
 *                                 dmabufd buffers allocated for the device
 *                                 (dmabufd_alloc_devices() naming its node,
 *                                 /dev/videoN); every frame checked pixel by
 *                                 pixel against vivid's "100% Red"
 *                                 pattern; the buffers keep ATTR and their
 *                                 place while attached (the module's ATTRS
 *                                 and the PAT page flags agree on every
 *                                 page of the region): Compact moves none
 *                                 of them; after STREAMOFF and REQBUFS(0)
 *                                 (detach) it moves them, contents kept
 *   v4l2-test refused BACKEND     on a daemon whose backend cannot give
 *                                 contiguous memory: the request naming the
 *                                 device is refused by the daemon (reason
 *                                 printed); buffers asked for without the
 *                                 device are refused by the driver at
 *                                 VIDIOC_QBUF (EINVAL)
 *   v4l2-test output N            vivid's output node reads N frames from
 *                                 dmabufd buffers
 * Output: "ok ..." / "not ok ..." lines and figures. Exit 0 pass, 1 fail,
 * 77 no vivid node.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include "dmabufd-region.h"
#include "vm_check.h"

#include <dmabufd/dmabufd.h>
#include <dmabufd/framebuffer.h>

#define NBUF 4
#define WIDTH 640
#define HEIGHT 360

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The vivid node with @cap (V4L2_CAP_VIDEO_CAPTURE or _OUTPUT): its fd, and
 * its path (/dev/videoN) in @node, the path an Alloc names it by; the daemon
 * finds its device (/sys/devices/platform/vivid.0) itself. */
static int open_vivid(uint32_t cap, char *node, size_t len)
{
	DIR *d = opendir("/dev");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d))) {
		struct v4l2_capability qc;
		char path[PATH_MAX], link[PATH_MAX], sysdev[PATH_MAX];
		int fd;

		if (strncmp(e->d_name, "video", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&qc, 0, sizeof(qc));
		if (xioctl(fd, VIDIOC_QUERYCAP, &qc) == 0 &&
		    strcmp((const char *)qc.driver, "vivid") == 0 && (qc.device_caps & cap)) {
			snprintf(link, sizeof(link), "/sys/class/video4linux/%s/device", e->d_name);
			if (strlen(path) < len && realpath(link, sysdev)) {
				strcpy(node, path);
				found = fd;
				printf("# %s: vivid %s node, device %s\n", node,
				       cap == V4L2_CAP_VIDEO_CAPTURE ? "capture" : "output",
				       sysdev);
				continue;
			}
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* Sets the control named @name to @value, or to the menu item named
 * @item when @item is not NULL. */
static int set_ctrl(int fd, const char *name, int value, const char *item)
{
	struct v4l2_query_ext_ctrl q = { .id = V4L2_CTRL_FLAG_NEXT_CTRL };

	while (xioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q) == 0) {
		if (strcmp(q.name, name) == 0) {
			struct v4l2_control c = { .id = q.id, .value = value };

			if (item) {
				struct v4l2_querymenu m = { .id = q.id };
				bool hit = false;

				for (m.index = (uint32_t)q.minimum; m.index <= (uint32_t)q.maximum;
				     m.index++)
					if (xioctl(fd, VIDIOC_QUERYMENU, &m) == 0 &&
					    strcmp((const char *)m.name, item) == 0) {
						c.value = (int)m.index;
						hit = true;
						break;
					}
				if (!hit)
					return -ENOENT;
			}
			return xioctl(fd, VIDIOC_S_CTRL, &c);
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
	}
	return -ENOENT;
}

static int set_format(int fd, enum v4l2_buf_type type, struct v4l2_pix_format *ret)
{
	struct v4l2_format f = { .type = type };
	int r;

	r = xioctl(fd, VIDIOC_G_FMT, &f);
	if (r)
		return r;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_RGB24;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if (type == V4L2_BUF_TYPE_VIDEO_CAPTURE) {
		f.fmt.pix.width = WIDTH;
		f.fmt.pix.height = HEIGHT;
	}
	r = xioctl(fd, VIDIOC_S_FMT, &f);
	if (r)
		return r;
	if (f.fmt.pix.pixelformat != V4L2_PIX_FMT_RGB24)
		return -EINVAL;
	*ret = f.fmt.pix;
	return 0;
}

static int request(int fd, enum v4l2_buf_type type, unsigned count)
{
	struct v4l2_requestbuffers rb = { .count = count, .type = type,
					  .memory = V4L2_MEMORY_DMABUF };

	return xioctl(fd, VIDIOC_REQBUFS, &rb);
}

static int queue(int fd, enum v4l2_buf_type type, unsigned index, int dmabuf, uint32_t length,
		 uint32_t bytesused)
{
	struct v4l2_buffer b = { .index = index, .type = type, .memory = V4L2_MEMORY_DMABUF,
				 .field = V4L2_FIELD_NONE };

	b.m.fd = dmabuf;
	b.length = length;
	b.bytesused = bytesused;
	return xioctl(fd, VIDIOC_QBUF, &b);
}

/* Waits (up to 10 s) and dequeues one buffer into @b. */
static int dequeue(int fd, enum v4l2_buf_type type, struct v4l2_buffer *b)
{
	struct pollfd p = { .fd = fd, .events = type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? POLLIN
										  : POLLOUT };

	if (poll(&p, 1, 10000) <= 0)
		return -ETIMEDOUT;
	memset(b, 0, sizeof(*b));
	b->type = type;
	b->memory = V4L2_MEMORY_DMABUF;
	return xioctl(fd, VIDIOC_DQBUF, b);
}

static int stream(int fd, enum v4l2_buf_type type, bool on)
{
	int t = (int)type;

	return xioctl(fd, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &t);
}

struct buf {
	struct dmabufd_buffer b;
	uint8_t *map;
};

/* Frames must be solid @rgb: returns the number of wrong pixels. */
static size_t check_frame(const uint8_t *p, const struct v4l2_pix_format *pix,
			  const uint8_t rgb[3])
{
	size_t bad = 0;
	uint32_t x, y;

	for (y = 0; y < pix->height; y++) {
		const uint8_t *row = p + (size_t)y * pix->bytesperline;

		for (x = 0; x < pix->width; x++)
			if (row[3 * x] != rgb[0] || row[3 * x + 1] != rgb[1] ||
			    row[3 * x + 2] != rgb[2])
				bad++;
	}
	return bad;
}

/*
 * The PFN audit of the region tests: the module's ATTRS tiles the region,
 * and every page's x86 PAT memtype in /proc/kpageflags is the attribute
 * ATTRS gives it (WC: KPF_ARCH, bit 38; UC-: KPF_ARCH_2, bit 41 on 6.12).
 * Also checks that the page at byte @offset of the region has @attr.
 * Returns mismatching pages, or -1 when the audit cannot run.
 */
#define KPF_ARCH 38
#define KPF_ARCH_2 41
static long long pfn_audit(uint64_t offset, uint32_t attr, unsigned *ret_ranges)
{
	struct dmabufd_region_info info = { .size = sizeof(info) };
	struct dmabufd_region_attrs q = { .size = sizeof(q),
					  .entry_size = sizeof(struct dmabufd_region_attr_range) };
	struct dmabufd_region_attr_range *a = NULL;
	uint64_t next = 0, *flags = NULL;
	long long bad = 0;
	int rfd, kfd = -1;
	uint32_t i;

	rfd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (rfd < 0 || ioctl(rfd, DMABUFD_REGION_IOC_INFO, &info) < 0 ||
	    ioctl(rfd, DMABUFD_REGION_IOC_ATTRS, &q) < 0)
		goto fail;
	a = calloc(q.count + 8, sizeof(*a));
	flags = calloc(info.page_count, sizeof(*flags));
	kfd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (!a || !flags || kfd < 0)
		goto fail;
	q.capacity = q.count + 8;
	q.ranges_ptr = (uintptr_t)a;
	q.count = 0;
	if (ioctl(rfd, DMABUFD_REGION_IOC_ATTRS, &q) < 0 ||
	    pread(kfd, flags, info.page_count * 8, (off_t)(info.base_pfn * 8)) !=
		    (ssize_t)(info.page_count * 8))
		goto fail;
	for (i = 0; i < q.count; i++) {
		uint64_t pg;

		if (a[i].page_offset != next)
			bad++;
		for (pg = a[i].page_offset; pg < a[i].page_offset + a[i].page_count; pg++) {
			bool wc = flags[pg] & (1ULL << KPF_ARCH), uc = flags[pg] & (1ULL << KPF_ARCH_2);
			uint32_t got = wc && !uc ? DMABUFD_REGION_ATTR_WRITECOMBINE :
				       uc && !wc ? DMABUFD_REGION_ATTR_UNCACHED :
				       !uc && !wc ? DMABUFD_REGION_ATTR_CACHED : 99;

			if (got != a[i].attr)
				bad++;
		}
		if (offset / info.page_size >= a[i].page_offset &&
		    offset / info.page_size < a[i].page_offset + a[i].page_count &&
		    (a[i].attr != attr || a[i].state != DMABUFD_REGION_STATE_BUFFER))
			bad++;
		next = a[i].page_offset + a[i].page_count;
	}
	if (next != info.page_count)
		bad++;
	*ret_ranges = q.count;
	free(a);
	free(flags);
	close(kfd);
	close(rfd);
	return bad;
fail:
	free(a);
	free(flags);
	if (kfd >= 0)
		close(kfd);
	if (rfd >= 0)
		close(rfd);
	return -1;
}

static uint64_t offset_of(struct dmabufd_client *c, uint64_t id, enum dmabufd_attribute *attr)
{
	struct dmabufd_buffer_info *rows = NULL;
	uint64_t off = UINT64_MAX;
	size_t n = 0, i;

	if (dmabufd_list(c, &rows, &n) < 0)
		return UINT64_MAX;
	for (i = 0; i < n; i++)
		if (rows[i].id == id) {
			off = rows[i].offset;
			if (attr)
				*attr = rows[i].attribute;
		}
	dmabufd_list_free(rows);
	return off;
}

/* vivid's allocator for instance 0: 1 videobuf2-dma-contig, 0 -vmalloc. */
static int vivid_allocator(void)
{
	FILE *f = fopen("/sys/module/vivid/parameters/allocators", "re");
	int a = -1;

	if (f) {
		if (fscanf(f, "%d", &a) != 1)
			a = -1;
		fclose(f);
	}
	return a;
}

static int capture(struct dmabufd_client *c, unsigned nframes, enum dmabufd_attribute attr)
{
	const enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct buf bufs[NBUF];
	struct dmabufd_buffer filler;
	struct dmabufd_compact_result cr;
	struct v4l2_pix_format pix;
	char node[PATH_MAX];
	const char *devs[1] = { node };
	uint8_t red[3];
	uint64_t before[NBUF], wrong = 0, last_seq = 0;
	unsigned i, got = 0, seq_gaps = 0, moved = 0, kept = 0, attr_ok = 0, audits = 0, ranges = 0;
	long long audit_bad = 0;
	double t0, dt;
	int fd, r, held = -1;
	/* dma-contig attaches at the first QBUF and detaches at REQBUFS(0);
	 * vmalloc vmaps at each QBUF and vunmaps at each DQBUF: there the
	 * one buffer this process holds dequeued is free to move. */
	const bool contig = vivid_allocator() == 1;

	fd = open_vivid(V4L2_CAP_VIDEO_CAPTURE, node, sizeof(node));
	if (fd < 0) {
		printf("# no vivid capture node\n");
		return 77;
	}
	/* A solid colour, nothing drawn over it. */
	CHECK(set_ctrl(fd, "Test Pattern", 0, "100% Red") == 0, "test pattern 100%% Red");
	CHECK(set_ctrl(fd, "OSD Text Mode", 0, "None") == 0, "OSD text off");
	set_ctrl(fd, "Show Border", 0, NULL);
	set_ctrl(fd, "Show Square", 0, NULL);
	set_ctrl(fd, "Horizontal Movement", 0, "No Movement");
	set_ctrl(fd, "Vertical Movement", 0, "No Movement");
	r = set_format(fd, type, &pix);
	if (r == 0) {
		struct v4l2_streamparm sp = { .type = type };

		/* The webcam input's fastest rate at this size (it may refuse). */
		sp.parm.capture.timeperframe.numerator = 1;
		sp.parm.capture.timeperframe.denominator = 30;
		xioctl(fd, VIDIOC_S_PARM, &sp);
		printf("# frame interval %u/%u s\n", sp.parm.capture.timeperframe.numerator,
		       sp.parm.capture.timeperframe.denominator);
	}
	CHECK(r == 0, "VIDIOC_S_FMT RGB24 %ux%u: bytesperline %u, sizeimage %u, quantization %u",
	      pix.width, pix.height, pix.bytesperline, pix.sizeimage, pix.quantization);
	if (r)
		return 1;
	/* "100% Red" is not colour-converted: full or limited range red. */
	if (pix.quantization == V4L2_QUANTIZATION_LIM_RANGE) {
		red[0] = 235;
		red[1] = red[2] = 16;
	} else {
		red[0] = 255;
		red[1] = red[2] = 0;
	}

	/* A movable filler placed first, released after the capture buffers
	 * are placed: the hole a Compact would close by moving them. */
	r = dmabufd_alloc(c, 1 << 20, 0, attr, DMABUFD_ALLOC_MOVABLE, "v4l2 filler", &filler);
	CHECK(r == 0, "filler buffer: %s", strerror(-r));
	for (i = 0; i < NBUF; i++) {
		r = dmabufd_alloc_devices(c, pix.sizeimage, 0, attr, DMABUFD_ALLOC_MOVABLE,
					  "v4l2 capture", devs, 1, &bufs[i].b);
		CHECK(r == 0, "buffer %u for %s (%s): %s", i, node,
		      dmabufd_attribute_name(attr), r ? dmabufd_last_reason(c) : "contiguous");
		if (r)
			return 1;
		r = dmabufd_map(bufs[i].b.fd, bufs[i].b.size, PROT_READ | PROT_WRITE, 0,
				(void **)&bufs[i].map);
		if (r)
			return 1;
		memset(bufs[i].map, 0x5a, pix.sizeimage); /* not red */
	}
	dmabufd_release(c, filler.id);
	close(filler.fd);

	CHECK(request(fd, type, NBUF) == 0, "VIDIOC_REQBUFS %u V4L2_MEMORY_DMABUF", NBUF);
	for (i = 0; i < NBUF; i++) {
		r = queue(fd, type, i, bufs[i].b.fd, (uint32_t)bufs[i].b.size, 0);
		CHECK(r == 0, "VIDIOC_QBUF %u with dmabufd buffer %llu (%llu bytes at region "
		      "offset %llu): %s", i, (unsigned long long)bufs[i].b.id,
		      (unsigned long long)bufs[i].b.size, (unsigned long long)bufs[i].b.offset,
		      strerror(-r));
		if (r)
			return 1;
	}
	CHECK(stream(fd, type, true) == 0, "VIDIOC_STREAMON");
	t0 = now_s();
	while (got < nframes) {
		struct v4l2_buffer b;
		size_t bad;

		r = dequeue(fd, type, &b);
		if (r) {
			CHECK(0, "VIDIOC_DQBUF after %u frames: %s", got, strerror(-r));
			break;
		}
		if (got && b.sequence != last_seq + 1)
			seq_gaps++;
		last_seq = b.sequence;
		dmabufd_cpu_access_begin(bufs[b.index].b.fd, DMABUFD_CPU_READ);
		bad = check_frame(bufs[b.index].map, &pix, red);
		dmabufd_cpu_access_end(bufs[b.index].b.fd, DMABUFD_CPU_READ);
		if (bad && wrong == 0)
			printf("# frame %u (buffer %u): %zu wrong pixels, first pixel %u,%u,%u\n",
			       got, b.index, bad, bufs[b.index].map[0], bufs[b.index].map[1],
			       bufs[b.index].map[2]);
		wrong += bad;
		if (b.flags & V4L2_BUF_FLAG_ERROR)
			wrong++;
		got++;
		if (got % 50 == 25) {
			/* The region's page flags while the device DMAs. */
			long long m = pfn_audit(bufs[b.index].b.offset, (uint32_t)attr, &ranges);

			audits++;
			audit_bad += m < 0 ? 1 : m;
		}
		if (got == nframes / 2) {
			held = contig ? -1 : (int)b.index;
			/* While the device has them attached. */
			for (i = 0; i < NBUF; i++) {
				enum dmabufd_attribute a = DMABUFD_ATTR_CACHED;

				before[i] = offset_of(c, bufs[i].b.id, &a);
				if (a == attr)
					attr_ok++;
			}
			memset(&cr, 0, sizeof(cr));
			r = dmabufd_compact(c, &cr);
			for (i = 0; i < NBUF; i++)
				if ((int)i != held && offset_of(c, bufs[i].b.id, NULL) == before[i])
					kept++;
			CHECK(kept == NBUF - (held >= 0), "Compact while streaming (%s): returned "
			      "%s, planned %llu moves, made %llu; %u/%u buffers the driver holds "
			      "stayed in place", contig ? "videobuf2-dma-contig" : "videobuf2-vmalloc",
			      r ? strerror(-r) : "0", (unsigned long long)cr.planned_moves,
			      (unsigned long long)cr.moves, kept, NBUF - (held >= 0));
			for (i = 0; i < NBUF; i++)
				before[i] = offset_of(c, bufs[i].b.id, NULL);
			CHECK(attr_ok == NBUF, "%u/%u buffers keep attribute %s while attached",
			      attr_ok, NBUF, dmabufd_attribute_name(attr));
		}
		if (got < nframes) {
			r = queue(fd, type, b.index, bufs[b.index].b.fd,
				  (uint32_t)bufs[b.index].b.size, 0);
			if (r) {
				CHECK(0, "VIDIOC_QBUF again: %s", strerror(-r));
				break;
			}
		}
	}
	dt = now_s() - t0;
	CHECK(audits > 0 && audit_bad == 0,
	      "%u PFN audits while streaming (last: %u ranges): ATTRS = PAT page flags, the "
	      "buffer's pages %s; %lld bad", audits, ranges, dmabufd_attribute_name(attr),
	      audit_bad);
	CHECK(got == nframes && wrong == 0,
	      "%u/%u frames captured into dmabufd buffers, every pixel the pattern's "
	      "(%u,%u,%u); %llu wrong; %u sequence gaps; %.1f s, %.1f fps", got, nframes,
	      red[0], red[1], red[2], (unsigned long long)wrong, seq_gaps, dt, got / dt);
	CHECK(stream(fd, type, false) == 0, "VIDIOC_STREAMOFF");
	CHECK(request(fd, type, 0) == 0, "VIDIOC_REQBUFS 0 (the driver detaches)");

	/* Detached: Compact may move them now, the contents move along. */
	memset(&cr, 0, sizeof(cr));
	r = dmabufd_compact(c, &cr);
	moved = 0;
	for (i = 0; i < NBUF; i++) {
		uint64_t off = offset_of(c, bufs[i].b.id, NULL);

		if (off != before[i])
			moved++;
	}
	wrong = 0;
	for (i = 0; i < NBUF; i++) {
		dmabufd_cpu_access_begin(bufs[i].b.fd, DMABUFD_CPU_READ);
		wrong += check_frame(bufs[i].map, &pix, red);
		dmabufd_cpu_access_end(bufs[i].b.fd, DMABUFD_CPU_READ);
	}
	CHECK(r == 0 && moved >= 1 && wrong == 0,
	      "Compact after STREAMOFF + detach: %s, %llu moves; %u/%u buffers moved, their "
	      "last frames intact (%llu wrong pixels)", r ? strerror(-r) : "0",
	      (unsigned long long)cr.moves, moved, NBUF, (unsigned long long)wrong);
	for (i = 0; i < NBUF; i++) {
		munmap(bufs[i].map, bufs[i].b.size);
		dmabufd_release(c, bufs[i].b.id);
		close(bufs[i].b.fd);
	}
	close(fd);
	return vm_check_failures ? 1 : 0;
}

static int refused(struct dmabufd_client *c, const char *backend)
{
	const enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct dmabufd_buffer b;
	struct v4l2_pix_format pix;
	char node[PATH_MAX];
	const char *devs[1] = { node };
	int fd, r;

	fd = open_vivid(V4L2_CAP_VIDEO_CAPTURE, node, sizeof(node));
	if (fd < 0)
		return 77;
	if (set_format(fd, type, &pix))
		return 1;
	/* Named device: the daemon knows it needs contiguous memory. */
	r = dmabufd_alloc_devices(c, pix.sizeimage, 0, DMABUFD_ATTR_CACHED, 0, "v4l2 named",
				  devs, 1, &b);
	CHECK(r == -EOPNOTSUPP, "%s: a buffer for %s is refused by the daemon: %s (%s)",
	      backend, node, strerror(-r), dmabufd_last_reason(c));
	if (r == 0) {
		dmabufd_release(c, b.id);
		close(b.fd);
	}
	/* Not named: the driver finds out at VIDIOC_QBUF. */
	r = dmabufd_alloc(c, pix.sizeimage, 0, DMABUFD_ATTR_CACHED, 0, "v4l2 unnamed", &b);
	CHECK(r == 0, "%s: a buffer asked for without the device: %s", backend, strerror(-r));
	if (r)
		return 1;
	CHECK(request(fd, type, 1) == 0, "VIDIOC_REQBUFS 1 V4L2_MEMORY_DMABUF");
	/* Not a dma-buf (memfd): EINVAL; a dma-buf in pieces (udmabuf):
	 * videobuf2-dma-contig's map fails, EFAULT on 6.12. */
	r = queue(fd, type, 0, b.fd, (uint32_t)b.size, 0);
	CHECK(r == -EINVAL || r == -EFAULT,
	      "%s: VIDIOC_QBUF with it is refused by videobuf2-dma-contig: %s", backend,
	      strerror(-r));
	request(fd, type, 0);
	dmabufd_release(c, b.id);
	close(b.fd);
	close(fd);
	return vm_check_failures ? 1 : 0;
}

static int output(struct dmabufd_client *c, unsigned nframes)
{
	const enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	struct buf bufs[NBUF];
	struct v4l2_pix_format pix;
	char node[PATH_MAX];
	const char *devs[1] = { node };
	unsigned i, done = 0, errors = 0;
	double t0, dt;
	int fd, r;

	fd = open_vivid(V4L2_CAP_VIDEO_OUTPUT, node, sizeof(node));
	if (fd < 0) {
		printf("# no vivid output node\n");
		return 77;
	}
	r = set_format(fd, type, &pix);
	CHECK(r == 0, "output VIDIOC_S_FMT RGB24 %ux%u: bytesperline %u, sizeimage %u",
	      pix.width, pix.height, pix.bytesperline, pix.sizeimage);
	if (r)
		return 1;
	for (i = 0; i < NBUF; i++) {
		r = dmabufd_alloc_devices(c, pix.sizeimage, 0, DMABUFD_ATTR_WRITECOMBINE, 0,
					  "v4l2 output", devs, 1, &bufs[i].b);
		CHECK(r == 0, "output buffer %u: %s %s", i, strerror(-r),
		      r ? dmabufd_last_reason(c) : "");
		if (r)
			return 1;
		if (dmabufd_map(bufs[i].b.fd, bufs[i].b.size, PROT_READ | PROT_WRITE, 0,
				(void **)&bufs[i].map))
			return 1;
		dmabufd_cpu_access_begin(bufs[i].b.fd, DMABUFD_CPU_WRITE);
		memset(bufs[i].map, 0x40 + (int)i, pix.sizeimage);
		dmabufd_cpu_access_end(bufs[i].b.fd, DMABUFD_CPU_WRITE);
	}
	CHECK(request(fd, type, NBUF) == 0, "output VIDIOC_REQBUFS %u V4L2_MEMORY_DMABUF", NBUF);
	for (i = 0; i < NBUF; i++) {
		r = queue(fd, type, i, bufs[i].b.fd, (uint32_t)bufs[i].b.size, pix.sizeimage);
		if (r) {
			CHECK(0, "output VIDIOC_QBUF %u: %s", i, strerror(-r));
			return 1;
		}
	}
	CHECK(stream(fd, type, true) == 0, "output VIDIOC_STREAMON");
	t0 = now_s();
	while (done < nframes) {
		struct v4l2_buffer b;

		r = dequeue(fd, type, &b);
		if (r) {
			CHECK(0, "output VIDIOC_DQBUF after %u frames: %s", done, strerror(-r));
			break;
		}
		if (b.flags & V4L2_BUF_FLAG_ERROR)
			errors++;
		done++;
		r = queue(fd, type, b.index, bufs[b.index].b.fd, (uint32_t)bufs[b.index].b.size,
			  pix.sizeimage);
		if (r) {
			CHECK(0, "output VIDIOC_QBUF again: %s", strerror(-r));
			break;
		}
	}
	dt = now_s() - t0;
	CHECK(done == nframes && errors == 0,
	      "vivid's output node read %u/%u frames from dmabufd buffers, %u with "
	      "V4L2_BUF_FLAG_ERROR; %.1f s, %.1f fps", done, nframes, errors, dt, done / dt);
	CHECK(stream(fd, type, false) == 0, "output VIDIOC_STREAMOFF");
	request(fd, type, 0);
	for (i = 0; i < NBUF; i++) {
		munmap(bufs[i].map, bufs[i].b.size);
		dmabufd_release(c, bufs[i].b.id);
		close(bufs[i].b.fd);
	}
	close(fd);
	return vm_check_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct dmabufd_client *c;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: v4l2-test capture N ATTR | refused BACKEND | output N\n");
		return 2;
	}
	r = dmabufd_connect(getenv("DMABUFD_SOCKET"), &c);
	if (r) {
		printf("not ok connect to dmabufd: %s\n", strerror(-r));
		return 1;
	}
	if (strcmp(argv[1], "capture") == 0 && argc == 4) {
		enum dmabufd_attribute attr;

		if (dmabufd_attribute_from_string(argv[3], &attr))
			return 2;
		r = capture(c, (unsigned)strtoul(argv[2], NULL, 10), attr);
	} else if (strcmp(argv[1], "refused") == 0) {
		r = refused(c, argv[2]);
	} else if (strcmp(argv[1], "output") == 0) {
		r = output(c, (unsigned)strtoul(argv[2], NULL, 10));
	} else {
		r = 2;
	}
	dmabufd_disconnect(c);
	return r;
}
