/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * dmabufd_naive.ko (test-only, tests/vm/naive): the path a driver takes per
 * allocation when it has no pool - alloc_contig_range() over a PFN range,
 * clear_page() through the cached linear map, a cache flush and
 * set_memory_wc/uc - timed in the kernel, so that the VM benchmark can put
 * brokered allocations beside it. /dev/dmabufd-naive, root only.
 */
#ifndef DMABUFD_NAIVE_H
#define DMABUFD_NAIVE_H
#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABUFD_NAIVE_DEVICE "/dev/dmabufd-naive"

/**
 * struct dmabufd_naive_alloc - argument of DMABUFD_NAIVE_IOC_ALLOC/FREE
 * @pfn: in: first page frame.
 * @count: in: pages.
 * @attr: in: 0 cached, 1 write-combine, 2 uncached (DMABUFD_REGION_ATTR_*).
 * @reserved: must be 0.
 * @claim_ns: out (ALLOC): alloc_contig_range().
 * @zero_ns: out (ALLOC): clear_page() of every page.
 * @attr_ns: out: flush + set_memory_wc/uc (ALLOC), set_memory_wb (FREE).
 */
struct dmabufd_naive_alloc {
	__u64 pfn;
	__u64 count;
	__u32 attr;
	__u32 reserved;
	__u64 claim_ns;
	__u64 zero_ns;
	__u64 attr_ns;
};

#define DMABUFD_NAIVE_IOC_ALLOC _IOWR(0xDC, 1, struct dmabufd_naive_alloc)
#define DMABUFD_NAIVE_IOC_FREE  _IOWR(0xDC, 2, struct dmabufd_naive_alloc)
#endif
