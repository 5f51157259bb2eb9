/* SPDX-License-Identifier: MIT */
/*
 * Backend probing (which backends this machine offers, in which order) and
 * the consumer-device constraints of an Alloc.
 *
 * Probing: the daemon tries backends in an order (default kmod, dma-heap,
 * udmabuf, memfd; [daemon] backends = ... changes it and restricts the set,
 * --backend/backend = forces one) and keeps every one whose create()
 * succeeds (memfd only when it is the first: it does not mix with dma-buf
 * backends). Every attempt is recorded (name, present or not, active or
 * not, why) for the log and for Stats.
 *
 * Devices: an Alloc may name up to PROBE_MAX_DEVICES importing devices
 * (/dev/dri/... nodes, V4L2 nodes /dev/videoN, /dev/mediaN,
 * /dev/v4l-subdevN, or /sys/devices/... paths). A device with no
 * iommu_group under its sysfs device directory does DMA to physical
 * addresses and needs physically contiguous memory (Documentation/
 * ABI/testing/sysfs-kernel-iommu_groups; a device behind an IOMMU belongs
 * to a group).
 *
 * Every path below is prefixed with the root given to probe_set_test_root() (unit
 * tests point it at a fake /dev and /sys tree).
 */
#ifndef DMABUFD_PROBE_H
#define DMABUFD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define PROBE_MAX_BACKENDS 8
#define PROBE_MAX_DEVICES 8
#define PROBE_MAX_DEVICE_PATH 255 /* bytes, without the NUL */

#define PROBE_DEFAULT_ORDER "kmod,dma-heap,udmabuf,memfd"

/* One backend the daemon tried. */
struct probe_entry {
	char name[16];
	bool present;     /* create() succeeded */
	bool chosen;      /* active: serves requests (several may be) */
	int err;          /* 0, or the negative errno create() gave */
	char reason[96];  /* why present/absent/chosen/skipped */
};

struct probe_report {
	struct probe_entry entries[PROBE_MAX_BACKENDS];
	size_t n;
};

/**
 * probe_parse_order() - split a comma-separated backend list.
 * @list: e.g. "kmod,dma-heap,udmabuf,memfd"; spaces around names ignored
 * @ret_names: receives up to PROBE_MAX_BACKENDS names, each < 16 bytes
 * @ret_n: number of names
 * Return: 0; -EINVAL (empty list, empty name, name not one of kmod,
 * dma-heap, udmabuf, memfd, a name twice, or more than PROBE_MAX_BACKENDS).
 * Outputs untouched on failure.
 */
int probe_parse_order(const char *list, char ret_names[][16], size_t *ret_n);

/**
 * probe_backends() - create every backend of @order that is present; those
 * kept are the active set, in @order (docs/BACKENDS.md, "Several backends
 * at once"). The first present backend is always kept; a later one is kept
 * when its fds are of the same kind (dma-buf or not: memfd never mixes with
 * the dma-buf backends, so Hello's dmabuf holds for every buffer), and
 * destroyed otherwise (recorded as present, not chosen).
 * @order: comma-separated list (probe_parse_order())
 * @opts: handed to each create()
 * @ret: receives the active backends, first the primary (owned by the caller)
 * @ret_n: how many (1 .. PROBE_MAX_BACKENDS)
 * @report: filled with every attempt (also on failure); chosen = active
 * A name with no backend compiled in is recorded as absent ("not built in").
 * Return: 0; -EINVAL (bad @order); -ENODEV (none of them is present).
 * @ret and @ret_n untouched on failure.
 */
int probe_backends(const char *order, const struct backend_options *opts,
		   struct backend *ret[PROBE_MAX_BACKENDS], size_t *ret_n,
		   struct probe_report *report);

/**
 * probe_set_test_root() - prefix every probed path with @root (a fake /dev
 * and /sys tree for unit tests; NULL restores the real paths). Not settable
 * from the environment: the daemon is privileged.
 */
void probe_set_test_root(const char *root);

/**
 * probe_path() - @path (absolute) prefixed with the test root if one is set.
 * Return: @buf, or NULL when the result does not fit in @size bytes.
 */
const char *probe_path(char *buf, size_t size, const char *path);

/**
 * probe_device_path_valid() - strict check of a consumer device path.
 * Accepted: absolute, at most PROBE_MAX_DEVICE_PATH bytes, starting with
 * "/dev/dri/" or "/sys/devices/" or a V4L2 node ("/dev/video", "/dev/media"
 * or "/dev/v4l-subdev" and a decimal number, nothing else), no "." or ".."
 * component, no "//", only printable ASCII. Return: true if valid.
 */
bool probe_device_path_valid(const char *path);

/**
 * probe_device_needs_contiguous() - does @path's device need physically
 * contiguous memory?
 * @path: a path accepted by probe_device_path_valid()
 * A /dev node (DRM or V4L2) is resolved through its char major:minor to
 * /sys/dev/char/MAJ:MIN/device (the device the node belongs to: for
 * /dev/video0 of vivid, /sys/devices/platform/vivid.0); a /sys/devices
 * path is used as is. A node of a virtual device (no "device" link, as
 * /dev/null) is -ENODEV: it does no DMA. The device needs contiguity iff
 * it has no iommu_group entry.
 * @ret_reason: on failure, a static string
 * Return: 1 (needs contiguous), 0 (behind an IOMMU); -ENODEV (no such
 * device, not a char device, or no sysfs device directory); -EINVAL
 * (invalid path).
 */
int probe_device_needs_contiguous(const char *path, const char **ret_reason);

/**
 * dmabuf_set_name() - name a dma-buf (DMA_BUF_SET_NAME, <linux/dma-buf.h>;
 * shown in /sys/kernel/debug/dma_buf/bufinfo and /proc/PID/fdinfo "name:").
 * @fd: a dma-buf fd
 * @label: NUL-terminated; truncated to DMA_BUF_NAME_LEN - 1 (31) bytes
 * Return: 0; negative errno of the ioctl (-EBUSY on kernels before 5.15
 * when the buffer is attached; -EINVAL; -ENOTTY: not a dma-buf).
 */
int dmabuf_set_name(int fd, const char *label);

#endif
