/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The architecture-specific half of dmabufd_region.ko: how a page range
 * changes cache attribute and which page protection its mappings get.
 * Everything else in the module (placement, ledger, uapi) is the same on
 * every architecture.
 *
 * Each arch header implements, for u32 attr one of DMABUFD_REGION_ATTR_*:
 *
 * int dmabufd_arch_init(struct device *dev)
 *	Called once after the misc device @dev is registered. 0 or -errno
 *	(the module then fails to load).
 *
 * int dmabufd_arch_attr_set(unsigned long pfn, unsigned long count, u32 attr)
 *	[pfn, pfn + count) goes from write-back to @attr (never CACHED). The
 *	pages belong to no buffer and have no mapping but the linear map; no
 *	mapping with @attr exists yet. Returns 0, a negative errno with the
 *	range back to write-back, or -EIO when even that failed: then the
 *	pages must never be freed.
 *
 * int dmabufd_arch_attr_clear(unsigned long pfn, unsigned long count, u32 attr)
 *	[pfn, pfn + count) goes from @attr (never CACHED) back to write-back.
 *	Every mapping with @attr is gone (user PTEs zapped or unmapped, no
 *	vmap, no device mapping). 0 or a negative errno: then the pages must
 *	never be freed.
 *
 * int dmabufd_arch_kernel_read_begin(unsigned long pfn, unsigned long count, u32 attr)
 *	The kernel is about to read [pfn, pfn + count), which still has @attr
 *	(never CACHED), through the linear map (MIGRATE copies it). No mapping
 *	with @attr may write the pages until dmabufd_arch_attr_clear(). 0 or a
 *	negative errno.
 *
 * int dmabufd_arch_zero_attr(unsigned long pfn, unsigned long count, u32 attr,
 *			      void (*zero)(unsigned long pfn, unsigned long count))
 *	Zero [pfn, pfn + count), which has @attr (never CACHED) and no mapping
 *	but the linear map (a parked extent about to be reused), so that
 *	every mapping with @attr then reads zeros; @zero clears pages through
 *	the linear map. Not an attribute transition. 0 or a negative errno
 *	(the pages keep @attr either way).
 *
 * pgprot_t dmabufd_arch_pgprot(u32 attr, pgprot_t prot)
 *	Userspace mmap protection of a page with @attr, from the VMA's @prot.
 *
 * pgprot_t dmabufd_arch_pgprot_kernel(u32 attr, pgprot_t prot)
 *	Kernel vmap protection of a page with @attr, from @prot (PAGE_KERNEL).
 *
 * Callers hold region.lock around the attribute and zeroing calls.
 */
#ifndef DMABUFD_ARCH_H
#define DMABUFD_ARCH_H

#if defined(CONFIG_X86)
#include "arch_x86.h"
#elif defined(CONFIG_ARM64)
#include "arch_arm64.h"
#else
#error "dmabufd_region: no attribute mechanism for this architecture (kmod/arch.h)"
#endif

#endif
