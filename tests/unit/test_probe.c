/* SPDX-License-Identifier: MIT */
/*
 * Backend probing and consumer-device constraints (daemon/probe.c) on a fake
 * /dev and /sys tree (probe_set_test_root()): probe order parsing, the order's
 * effect on the choice, dma-heap heap classification, strict device-path
 * validation and the iommu_group decision (DRM and V4L2 nodes, sysfs paths),
 * and the resolution of a real character device (/dev/null) on this host.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/backend.h"
#include "backend/probe.h"

static char root[64];

static void mkpath(const char *rel, bool dir)
{
	char p[512], cmd[600];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
	if (!dir)
		*strrchr(cmd, '/') = '\0', strcat(cmd, "'");
	assert_int_equal(system(cmd), 0);
	if (!dir) {
		int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

		assert_true(fd >= 0);
		close(fd);
	}
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/dmabufd-probe-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	probe_set_test_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	probe_set_test_root(NULL);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_parse_order(void **state)
{
	char names[PROBE_MAX_BACKENDS][16];
	size_t n = 99;

	assert_int_equal(probe_parse_order(" udmabuf , memfd,kmod", names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "udmabuf");
	assert_string_equal(names[1], "memfd");
	assert_string_equal(names[2], "kmod");
	n = 99;
	assert_int_equal(probe_parse_order("memfd,memfd", names, &n), -EINVAL);
	assert_int_equal(probe_parse_order("memfd,,kmod", names, &n), -EINVAL);
	assert_int_equal(probe_parse_order("", names, &n), -EINVAL);
	assert_int_equal(probe_parse_order("ion", names, &n), -EINVAL);
	assert_int_equal(probe_parse_order("memfd,", names, &n), -EINVAL);
	assert_int_equal(probe_parse_order(NULL, names, &n), -EINVAL);
	assert_int_equal(n, 99); /* untouched on failure */
}

static void test_device_path_valid(void **state)
{
	assert_true(probe_device_path_valid("/dev/dri/renderD128"));
	assert_true(probe_device_path_valid("/dev/dri/card0"));
	assert_true(probe_device_path_valid("/sys/devices/platform/vgem"));
	assert_false(probe_device_path_valid(NULL));
	assert_false(probe_device_path_valid(""));
	assert_false(probe_device_path_valid("/dev/dri/"));
	assert_false(probe_device_path_valid("/dev/dri/../mem"));
	assert_false(probe_device_path_valid("/dev/dri/./card0"));
	assert_false(probe_device_path_valid("/sys/devices/a/.."));
	assert_false(probe_device_path_valid("/dev/dri//card0"));
	assert_false(probe_device_path_valid("/dev/mem"));
	assert_false(probe_device_path_valid("/sys/class/drm/card0"));
	assert_false(probe_device_path_valid("dev/dri/card0"));
	assert_false(probe_device_path_valid("/dev/dri/card 0"));
	assert_false(probe_device_path_valid("/dev/dri/card\n"));
	/* V4L2 nodes by their kernel names only. */
	assert_true(probe_device_path_valid("/dev/video0"));
	assert_true(probe_device_path_valid("/dev/video12"));
	assert_true(probe_device_path_valid("/dev/media0"));
	assert_true(probe_device_path_valid("/dev/v4l-subdev3"));
	assert_false(probe_device_path_valid("/dev/video"));
	assert_false(probe_device_path_valid("/dev/videox"));
	assert_false(probe_device_path_valid("/dev/video0x"));
	assert_false(probe_device_path_valid("/dev/video0/"));
	assert_false(probe_device_path_valid("/dev/video0/x"));
	assert_false(probe_device_path_valid("/dev/v4l/by-path/x"));
	assert_false(probe_device_path_valid("/dev/null"));
	assert_false(probe_device_path_valid("/dev/video-1"));

	char longp[300];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	memcpy(longp, "/sys/devices/", 13);
	assert_false(probe_device_path_valid(longp));
	longp[PROBE_MAX_DEVICE_PATH] = '\0';
	assert_true(probe_device_path_valid(longp));
}

static void test_iommu_decision(void **state)
{
	const char *why = NULL;
	char p[512], t[512];

	mkpath("/sys/devices/platform/vgem", true);
	mkpath("/sys/devices/pci0000:00/0000:00:02.0", true);
	mkpath("/sys/kernel/iommu_groups/3", true);
	snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:02.0/iommu_group", root);
	snprintf(t, sizeof(t), "%s/sys/kernel/iommu_groups/3", root);
	assert_int_equal(symlink(t, p), 0);

	assert_int_equal(probe_device_needs_contiguous("/sys/devices/platform/vgem", &why), 1);
	assert_int_equal(probe_device_needs_contiguous("/sys/devices/pci0000:00/0000:00:02.0", &why), 0);
	assert_int_equal(probe_device_needs_contiguous("/sys/devices/platform/nothere", &why), -ENODEV);
	assert_non_null(why);
	assert_int_equal(probe_device_needs_contiguous("/sys/devices/../../etc", &why), -EINVAL);
	assert_int_equal(probe_device_needs_contiguous("/dev/dri/card9", &why), -ENODEV);

	/* A DRM node resolves through /sys/dev/char/MAJ:MIN/device. */
	mkpath("/dev/dri", true);
	mkpath("/sys/dev/char/226:0", true);
	mkpath("/sys/dev/char/226:128", true);
	snprintf(p, sizeof(p), "%s/dev/dri/card0", root);
	if (mknod(p, S_IFCHR | 0600, makedev(226, 0)) < 0)
		skip(); /* no CAP_MKNOD: the /sys/devices cases above ran */
	snprintf(p, sizeof(p), "%s/dev/dri/renderD128", root);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(226, 128)), 0);
	snprintf(p, sizeof(p), "%s/sys/dev/char/226:0/device", root);
	snprintf(t, sizeof(t), "%s/sys/devices/platform/vgem", root);
	assert_int_equal(symlink(t, p), 0);
	snprintf(p, sizeof(p), "%s/sys/dev/char/226:128/device", root);
	snprintf(t, sizeof(t), "%s/sys/devices/pci0000:00/0000:00:02.0", root);
	assert_int_equal(symlink(t, p), 0);
	assert_int_equal(probe_device_needs_contiguous("/dev/dri/card0", &why), 1);
	assert_int_equal(probe_device_needs_contiguous("/dev/dri/renderD128", &why), 0);
	/* A regular file is not a device node. */
	mkpath("/dev/dri/card7", false);
	assert_int_equal(probe_device_needs_contiguous("/dev/dri/card7", &why), -ENODEV);
}

/* A V4L2 node resolves like a DRM node: its major:minor's sysfs device. */
static void test_v4l2_node(void **state)
{
	const char *why = NULL;
	char p[512], t[512];

	mkpath("/dev", true);
	mkpath("/sys/devices/platform/vivid.0/video4linux/video0", true);
	mkpath("/sys/devices/pci0000:00/0000:00:03.0/media0", true);
	mkpath("/sys/devices/virtual/v4l-subdev/v4l-subdev0", true);
	mkpath("/sys/kernel/iommu_groups/4", true);
	mkpath("/sys/dev/char", true);
	snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:03.0/iommu_group", root);
	snprintf(t, sizeof(t), "%s/sys/kernel/iommu_groups/4", root);
	assert_int_equal(symlink(t, p), 0);
	/* /sys/dev/char/MAJ:MIN: the node's own directory; its "device" link
	 * names the device (none for a virtual device). */
	snprintf(p, sizeof(p), "%s/sys/dev/char/81:0", root);
	assert_int_equal(symlink("../../devices/platform/vivid.0/video4linux/video0", p), 0);
	snprintf(p, sizeof(p), "%s/sys/devices/platform/vivid.0/video4linux/video0/device", root);
	assert_int_equal(symlink("../../../vivid.0", p), 0);
	snprintf(p, sizeof(p), "%s/sys/dev/char/238:0", root);
	assert_int_equal(symlink("../../devices/pci0000:00/0000:00:03.0/media0", p), 0);
	snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:03.0/media0/device", root);
	assert_int_equal(symlink("..", p), 0);
	snprintf(p, sizeof(p), "%s/sys/dev/char/81:5", root);
	assert_int_equal(symlink("../../devices/virtual/v4l-subdev/v4l-subdev0", p), 0);

	/* Absent node. */
	assert_int_equal(probe_device_needs_contiguous("/dev/video0", &why), -ENODEV);
	assert_string_equal(why, "no such character device node");
	snprintf(p, sizeof(p), "%s/dev/video0", root);
	if (mknod(p, S_IFCHR | 0600, makedev(81, 0)) < 0)
		skip(); /* no CAP_MKNOD: test_real_char_device resolves a real node */
	snprintf(p, sizeof(p), "%s/dev/media0", root);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(238, 0)), 0);
	snprintf(p, sizeof(p), "%s/dev/v4l-subdev0", root);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(81, 5)), 0);
	snprintf(p, sizeof(p), "%s/dev/video1", root);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(81, 1)), 0);

	/* vivid: a platform device without IOMMU group, as an SoC camera. */
	assert_int_equal(probe_device_needs_contiguous("/dev/video0", &why), 1);
	/* A PCI device in an IOMMU group. */
	assert_int_equal(probe_device_needs_contiguous("/dev/media0", &why), 0);
	/* A virtual device: no "device" link, no DMA. */
	why = NULL;
	assert_int_equal(probe_device_needs_contiguous("/dev/v4l-subdev0", &why), -ENODEV);
	assert_string_equal(why, "the device has no sysfs device directory");
	/* A node whose major:minor has no sysfs entry. */
	why = NULL;
	assert_int_equal(probe_device_needs_contiguous("/dev/video1", &why), -ENODEV);
	assert_string_equal(why, "the device has no sysfs device directory");
}

/*
 * A real character device of this host, resolved through the real sysfs:
 * the test root's dev/video0 is a link to /dev/null (stat() follows it,
 * as it follows /dev/dri/by-path links) and its sys a link to /sys.
 * /dev/null (1:3) is a virtual device, /sys/devices/virtual/mem/null, with
 * no "device" link: a node of a device that does no DMA is -ENODEV, never
 * "needs contiguous memory". Named as is, /dev/null is not a device path
 * the daemon accepts.
 */
static void test_real_char_device(void **state)
{
	const char *why = NULL;
	struct stat st;
	char p[512];

	probe_set_test_root(NULL);
	assert_false(probe_device_path_valid("/dev/null"));
	assert_int_equal(probe_device_needs_contiguous("/dev/null", &why), -EINVAL);
	probe_set_test_root(root);
	if (stat("/dev/null", &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != makedev(1, 3) || stat("/sys/dev/char/1:3/dev", &st) < 0)
		skip(); /* no /dev/null 1:3 or no sysfs: nothing real to resolve */
	mkpath("/dev", true);
	snprintf(p, sizeof(p), "%s/dev/video0", root);
	assert_int_equal(symlink("/dev/null", p), 0);
	snprintf(p, sizeof(p), "%s/sys", root);
	assert_int_equal(symlink("/sys", p), 0);
	assert_int_equal(probe_device_needs_contiguous("/dev/video0", &why), -ENODEV);
	assert_string_equal(why, "the device has no sysfs device directory");
}

/*
 * probe_backends() keeps every present backend of the same fd kind; these
 * tests look at the first (the primary) and at how many were kept.
 */
static size_t probe_nactive;

static int probe_first(const char *order, const struct backend_options *opts,
		       struct backend **ret, struct probe_report *rep)
{
	struct backend *active[PROBE_MAX_BACKENDS];
	size_t n = 0;
	int err = probe_backends(order, opts, active, &n, rep);

	if (err < 0)
		return err;
	for (size_t i = 1; i < n; i++)
		active[i]->ops->destroy(active[i]);
	probe_nactive = n;
	*ret = active[0];
	return 0;
}

static void test_probe_order_choice(void **state)
{
	struct backend_options opts = { .capacity = 1 << 20 };
	struct probe_report rep;
	struct backend *b = NULL;
	struct backend_caps caps;

	/* Nothing but memfd is present in the fake tree. */
	assert_int_equal(probe_first("kmod,dma-heap,udmabuf,memfd", &opts, &b, &rep), 0);
	assert_int_equal(rep.n, 4);
	assert_false(rep.entries[0].present);
	assert_false(rep.entries[1].present);
	assert_false(rep.entries[2].present);
	assert_true(rep.entries[3].chosen);
	b->ops->get_caps(b, &caps);
	assert_string_equal(caps.name, "memfd");
	b->ops->destroy(b);

	assert_int_equal(probe_first("kmod,udmabuf", &opts, &b, &rep), -ENODEV);
	assert_int_equal(rep.n, 2);
	assert_int_equal(probe_first("kmod,bogus", &opts, &b, &rep), -EINVAL);

	/* A fake heap directory: dma-heap is present and wins over memfd. */
	mkpath("/dev/dma_heap/system", false);
	assert_int_equal(probe_first("dma-heap,memfd", &opts, &b, &rep), 0);
	assert_int_equal(rep.n, 2);
	assert_true(rep.entries[0].chosen);
	/* memfd is present but does not join dma-buf backends. */
	assert_true(rep.entries[1].present);
	assert_false(rep.entries[1].chosen);
	assert_non_null(strstr(rep.entries[1].reason, "not active"));
	assert_int_equal(probe_nactive, 1);
	b->ops->get_caps(b, &caps);
	assert_string_equal(caps.name, "dma-heap");
	assert_false(caps.contiguous);
	assert_int_equal(caps.attributes, 1u << DMABUFD_ATTR_CACHED);
	assert_true(caps.dmabuf);
	b->ops->destroy(b);

	/* Several present: dma-heap and udmabuf both active, in order; memfd not. */
	mkpath("/dev/udmabuf", false);
	{
		struct backend *active[PROBE_MAX_BACKENDS];
		size_t n = 0;

		assert_int_equal(probe_backends("kmod,udmabuf,dma-heap,memfd", &opts, active, &n,
						&rep), 0);
		assert_int_equal(n, 2);
		active[0]->ops->get_caps(active[0], &caps);
		assert_string_equal(caps.name, "udmabuf");
		active[1]->ops->get_caps(active[1], &caps);
		assert_string_equal(caps.name, "dma-heap");
		assert_false(rep.entries[0].chosen);
		assert_true(rep.entries[1].chosen);
		assert_true(rep.entries[2].chosen);
		assert_true(rep.entries[3].present);
		assert_false(rep.entries[3].chosen);
		for (size_t i = 0; i < n; i++)
			active[i]->ops->destroy(active[i]);
		/* A list of one restricts the set to it. */
		assert_int_equal(probe_backends("dma-heap", &opts, active, &n, &rep), 0);
		assert_int_equal(n, 1);
		active[0]->ops->destroy(active[0]);
	}
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/dev/udmabuf", root);
		assert_int_equal(unlink(p), 0);
	}

	/* Reversed order: memfd first, and alone (dma-heap left out). */
	assert_int_equal(probe_first("memfd,dma-heap", &opts, &b, &rep), 0);
	b->ops->get_caps(b, &caps);
	assert_string_equal(caps.name, "memfd");
	assert_int_equal(probe_nactive, 1);
	assert_true(rep.entries[1].present);
	assert_false(rep.entries[1].chosen);
	b->ops->destroy(b);

	/* A CMA heap makes the backend contiguous; configured heap classes. */
	mkpath("/dev/dma_heap/linux,cma", false);
	mkpath("/dev/dma_heap/system-uncached", false);
	mkpath("/dev/dma_heap/vendor-carveout", false);
	opts.heaps_uncached = "system-uncached";
	assert_int_equal(probe_first("dma-heap", &opts, &b, &rep), 0);
	b->ops->get_caps(b, &caps);
	assert_true(caps.contiguous);
	assert_int_equal(caps.attributes, (1u << DMABUFD_ATTR_CACHED) | (1u << DMABUFD_ATTR_UNCACHED));
	b->ops->destroy(b);
}

/*
 * dma-heap routing: the fake heaps are regular files, so an allocation
 * that reaches a heap fails in DMA_HEAP_IOCTL_ALLOC (-ENOTTY); one that no
 * heap can serve fails earlier with -EOPNOTSUPP and its own reason.
 */
static void test_dmaheap_routing(void **state)
{
	struct backend_options opts = { .capacity = 1 << 20, .heaps_writecombine = "vendor-wc" };
	struct backend_alloc req = { .size = 4096, .attribute = DMABUFD_ATTR_CACHED, .label = "x" };
	struct probe_report rep;
	struct backend *b = NULL;
	const char *why = NULL;
	int fd = -1;

	mkpath("/dev/dma_heap/system", false);
	mkpath("/dev/dma_heap/vendor-wc", false);
	assert_int_equal(probe_first("dma-heap", &opts, &b, &rep), 0);

	req.flags = DMABUFD_ALLOC_CONTIGUOUS;
	assert_int_equal(b->ops->alloc(b, &req, &fd, &why), -EOPNOTSUPP);
	assert_non_null(strstr(why, "contiguous"));
	req.flags = 0;
	req.attribute = DMABUFD_ATTR_UNCACHED;
	assert_int_equal(b->ops->alloc(b, &req, &fd, &why), -EOPNOTSUPP);
	req.attribute = DMABUFD_ATTR_WRITECOMBINE; /* reaches vendor-wc */
	assert_int_equal(b->ops->alloc(b, &req, &fd, &why), -ENOTTY);
	assert_string_equal(why, "DMA_HEAP_IOCTL_ALLOC failed");
	assert_int_equal(fd, -1);
	b->ops->destroy(b);

	/* With a CMA heap, CONTIGUOUS reaches it. */
	mkpath("/dev/dma_heap/reserved", false);
	assert_int_equal(probe_first("dma-heap", &opts, &b, &rep), 0);
	req.attribute = DMABUFD_ATTR_CACHED;
	req.flags = DMABUFD_ALLOC_CONTIGUOUS;
	why = NULL;
	assert_int_equal(b->ops->alloc(b, &req, &fd, &why), -ENOTTY);
	assert_string_equal(why, "DMA_HEAP_IOCTL_ALLOC failed");
	b->ops->destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_order),
		cmocka_unit_test(test_device_path_valid),
		cmocka_unit_test_setup_teardown(test_iommu_decision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4l2_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_char_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_order_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dmaheap_routing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
