/* SPDX-License-Identifier: MIT */
/* Backend probing and consumer-device constraints (probe.h). */
#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/dma-buf.h>

#include "log.h"

#define PATH_MAX_PROBE 512

static const char *const known_backends[] = { "kmod", "dma-heap", "udmabuf", "memfd" };

int probe_parse_order(const char *list, char ret_names[][16], size_t *ret_n)
{
	char names[PROBE_MAX_BACKENDS][16];
	size_t n = 0;
	const char *p = list;

	if (!list)
		return -EINVAL;
	for (;;) {
		const char *start, *end, *next = strchr(p, ',');
		size_t len;
		bool known = false;

		end = next ? next : p + strlen(p);
		start = p;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t)(end - start);
		if (len == 0 || len >= 16 || n == PROBE_MAX_BACKENDS)
			return -EINVAL;
		for (size_t i = 0; i < sizeof(known_backends) / sizeof(known_backends[0]); i++)
			if (strlen(known_backends[i]) == len && memcmp(known_backends[i], start, len) == 0)
				known = true;
		if (!known)
			return -EINVAL;
		memcpy(names[n], start, len);
		names[n][len] = '\0';
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], names[n]) == 0)
				return -EINVAL;
		n++;
		if (!next)
			break;
		p = next + 1;
	}
	memcpy(ret_names, names, n * sizeof(names[0]));
	*ret_n = n;
	return 0;
}

int probe_backends(const char *order, const struct backend_options *opts,
		   struct backend *ret[PROBE_MAX_BACKENDS], size_t *ret_n,
		   struct probe_report *report)
{
	char names[PROBE_MAX_BACKENDS][16];
	struct backend *active[PROBE_MAX_BACKENDS];
	size_t n = 0, nactive = 0;
	bool dmabuf_kind = false;
	int err;

	memset(report, 0, sizeof(*report));
	err = probe_parse_order(order, names, &n);
	if (err < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct probe_entry *e = &report->entries[report->n++];
		const struct backend_ops *ops = backend_find(names[i]);
		struct backend_caps caps;
		struct backend *b = NULL;

		_Static_assert(sizeof(e->name) == sizeof(names[i]), "probe names are one size");
		memcpy(e->name, names[i], sizeof(e->name)); /* NUL-terminated by probe_parse_order() */
		if (!ops) {
			e->err = -ENOSYS;
			snprintf(e->reason, sizeof(e->reason), "not built into this daemon");
			log_info("probe: %s: absent (not built in)", e->name);
			continue;
		}
		err = ops->create(opts, &b);
		if (err < 0) {
			e->err = err;
			snprintf(e->reason, sizeof(e->reason), "%s",
				 err == -ENODEV ? "device or kernel feature absent" : strerror(-err));
			log_info("probe: %s: absent (%s)", e->name, e->reason);
			continue;
		}
		e->present = true;
		ops->get_caps(b, &caps);
		if (nactive == 0) {
			dmabuf_kind = caps.dmabuf;
		} else if (caps.dmabuf != dmabuf_kind) {
			/* Hello's dmabuf must hold for every buffer (docs/BACKENDS.md). */
			snprintf(e->reason, sizeof(e->reason),
				 "present; not active: %s fds do not mix with %s's",
				 caps.dmabuf ? "dma-buf" : "non-dma-buf", active[0]->ops->name);
			log_info("probe: %s: present, not active (%s fds do not mix with %s)",
				 e->name, caps.dmabuf ? "dma-buf" : "non-dma-buf",
				 active[0]->ops->name);
			ops->destroy(b);
			continue;
		}
		e->chosen = true;
		if (nactive == 0)
			snprintf(e->reason, sizeof(e->reason), "present; active, first in order %s",
				 order);
		else
			snprintf(e->reason, sizeof(e->reason), "present; active after %s",
				 active[0]->ops->name);
		log_info("probe: %s: present, active (%s of %s)", e->name,
			 nactive == 0 ? "first usable" : "also usable", order);
		active[nactive++] = b;
	}
	if (nactive == 0)
		return -ENODEV;
	memcpy(ret, active, nactive * sizeof(active[0]));
	*ret_n = nactive;
	return 0;
}

/* Unit tests point the probe at a fake tree; the daemon never sets it. */
static const char *test_root;

void probe_set_test_root(const char *root)
{
	test_root = root;
}

const char *probe_path(char *buf, size_t size, const char *path)
{
	const char *root = test_root;
	int n = snprintf(buf, size, "%s%s", root ? root : "", path);

	return n < 0 || (size_t)n >= size ? NULL : buf;
}

/* A V4L2 node by its kernel name: /dev/videoN, /dev/mediaN, /dev/v4l-subdevN. */
static bool is_v4l2_node(const char *path)
{
	static const char *const prefixes[] = { "/dev/video", "/dev/media", "/dev/v4l-subdev" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t plen = strlen(prefixes[i]);
		const char *n = path + plen;

		if (strncmp(path, prefixes[i], plen) == 0)
			return *n && strspn(n, "0123456789") == strlen(n);
	}
	return false;
}

bool probe_device_path_valid(const char *path)
{
	size_t len;

	if (!path)
		return false;
	len = strlen(path);
	if (len == 0 || len > PROBE_MAX_DEVICE_PATH)
		return false;
	if (strncmp(path, "/dev/dri/", 9) != 0 && strncmp(path, "/sys/devices/", 13) != 0 &&
	    !is_v4l2_node(path))
		return false;
	for (size_t i = 0; i < len; i++)
		if (path[i] < 0x21 || path[i] > 0x7e)
			return false;
	if (strstr(path, "//"))
		return false;
	/* No "." or ".." component anywhere. */
	for (const char *c = path + 1; *c;) {
		size_t clen = strcspn(c, "/");

		if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += clen;
		if (*c == '/')
			c++;
	}
	return path[len - 1] != '/';
}

int probe_device_needs_contiguous(const char *path, const char **ret_reason)
{
	char dev[PATH_MAX_PROBE], sys[PATH_MAX_PROBE], tmp[PATH_MAX_PROBE];
	struct stat st;

	if (!probe_device_path_valid(path)) {
		*ret_reason = "device path is not a valid /dev/dri/*, V4L2 node or "
			      "/sys/devices/* path";
		return -EINVAL;
	}
	/* A node (DRM or V4L2): its sysfs device through its major:minor. */
	if (strncmp(path, "/dev/", 5) == 0) {
		if (!probe_path(dev, sizeof(dev), path) || stat(dev, &st) < 0 ||
		    !S_ISCHR(st.st_mode)) {
			*ret_reason = "no such character device node";
			return -ENODEV;
		}
		snprintf(tmp, sizeof(tmp), "/sys/dev/char/%u:%u/device", major(st.st_rdev),
			 minor(st.st_rdev));
	} else {
		snprintf(tmp, sizeof(tmp), "%s", path);
	}
	if (!probe_path(sys, sizeof(sys), tmp) || stat(sys, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*ret_reason = "the device has no sysfs device directory";
		return -ENODEV;
	}
	if (strlen(sys) + sizeof("/iommu_group") > sizeof(sys)) {
		*ret_reason = "device path too long";
		return -EINVAL;
	}
	strcat(sys, "/iommu_group");
	return access(sys, F_OK) == 0 ? 0 : 1;
}

int dmabuf_set_name(int fd, const char *label)
{
	char name[DMA_BUF_NAME_LEN];

	snprintf(name, sizeof(name), "%s", label ? label : "");
	if (ioctl(fd, DMA_BUF_SET_NAME, name) < 0)
		return -errno;
	return 0;
}
