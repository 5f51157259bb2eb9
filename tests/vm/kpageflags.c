/* SPDX-License-Identifier: MIT */
/* /proc/kpageflags for the in-VM tests (kpageflags.h). */
#include "kpageflags.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

#include "dmabufd-region.h"

int kpageflags(__u64 pfn, __u64 n, __u64 *flags)
{
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -errno;
	r = pread(fd, flags, n * 8, (off_t)(pfn * 8));
	close(fd);
	if (r < 0)
		return -errno;
	return (__u64)r == n * 8 ? 0 : -EIO;
}

uint32_t kpf_attr(__u64 flags, int uc_bit)
{
	bool wc = flags & (1ULL << KPF_ARCH), uc = flags & (1ULL << uc_bit);

	if (wc && !uc)
		return DMABUFD_REGION_ATTR_WRITECOMBINE;
	if (uc && !wc)
		return DMABUFD_REGION_ATTR_UNCACHED;
	if (!uc && !wc)
		return DMABUFD_REGION_ATTR_CACHED;
	return 99; /* WT: never used by the module */
}
