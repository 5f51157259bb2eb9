/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86: PAT. set_memory_wc/uc change the linear map itself and record the
 * memtype of the PFNs, which every later mapping of them then follows (and
 * which /proc/kpageflags shows), so no cacheable alias remains while a page
 * has a non-cacheable attribute. Included once, by dmabufd_region.c, through
 * arch.h.
 */
#include <linux/device.h>
#include <linux/mm.h>
#include <asm/cacheflush.h>
#include <asm/set_memory.h>

static inline int dmabufd_arch_init(struct device *dev)
{
	return 0;
}

static int dmabufd_arch_attr_set(unsigned long pfn, unsigned long count, u32 attr)
{
	/* ZONE_MOVABLE on x86-64 is in the direct map; contiguous PFNs give
	 * contiguous linear addresses. */
	unsigned long addr = (unsigned long)page_address(pfn_to_page(pfn));
	int ret;

	/* Write back and drop every cached line through the cached mapping
	 * first, so no dirty line can later land over data written through the
	 * WC/UC mapping. */
	clflush_cache_range((void *)addr, count << PAGE_SHIFT);
	if (attr == DMABUFD_REGION_ATTR_WRITECOMBINE)
		ret = set_memory_wc(addr, count);
	else
		ret = set_memory_uc(addr, count);
	if (ret == 0)
		return 0;
	/* set_memory_wc/uc drop the memtype on failure, but a partial page
	 * table change may remain: put the whole range back to write-back. */
	if (set_memory_wb(addr, count))
		return -EIO;
	return ret;
}

static int dmabufd_arch_attr_clear(unsigned long pfn, unsigned long count, u32 attr)
{
	/* set_memory_wb flushes the caches itself. */
	return set_memory_wb((unsigned long)page_address(pfn_to_page(pfn)), count);
}

static inline int dmabufd_arch_kernel_read_begin(unsigned long pfn, unsigned long count,
						 u32 attr)
{
	/* The linear map itself has the attribute: nothing can be stale. */
	return 0;
}

static inline int dmabufd_arch_zero_attr(unsigned long pfn, unsigned long count, u32 attr,
					 void (*zero)(unsigned long pfn, unsigned long count))
{
	/* set_memory_wc/uc gave the linear map itself @attr: zeroing through
	 * it is zeroing through a mapping of the pages' attribute, with no
	 * cacheable alias to flush. Drain the write-combining buffers before
	 * the buffer is handed out. */
	zero(pfn, count);
	wmb();
	return 0;
}

static inline pgprot_t dmabufd_arch_pgprot(u32 attr, pgprot_t prot)
{
	switch (attr) {
	case DMABUFD_REGION_ATTR_WRITECOMBINE:
		return pgprot_writecombine(prot);
	case DMABUFD_REGION_ATTR_UNCACHED:
		return pgprot_noncached(prot);
	default:
		return prot;
	}
}

static inline pgprot_t dmabufd_arch_pgprot_kernel(u32 attr, pgprot_t prot)
{
	return dmabufd_arch_pgprot(attr, prot);
}
