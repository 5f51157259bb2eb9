/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arm64: the memory type lives in each mapping's PTE (AttrIndx into MAIR),
 * not in the PFN. Debian's arm64 kernels export no way to change or remove
 * the linear map's cacheable entry of a page (no set_memory_valid,
 * set_direct_map_* or set_memory_wc), so the cacheable alias stays, as it
 * does for the kernel's own non-coherent DMA allocations (dma-direct remaps
 * them Normal Non-cacheable and keeps the linear map). The module never
 * reads or writes a non-cacheable page through that alias, and cleans and
 * invalidates the range to the point of coherency at every attribute
 * transition, which is what the architecture requires for mismatched
 * attributes; see docs/ARM64.md for the argument.
 *
 * No exported cache maintenance by VA to PoC exists either
 * (dcache_clean_inval_poc is not exported); the exported route is the DMA
 * API on a non-coherent device: dma_map_page() on arm64 cleans the range to
 * PoC (arch_sync_dma_for_device), dma_unmap_page() invalidates it
 * (arch_sync_dma_for_cpu), both by linear-map VA. The device is the
 * module's own misc device: it has no firmware node, so it is not
 * dma-coherent, and no IOMMU, so the mapping is dma-direct.
 *
 * Included once, by dmabufd_region.c, through arch.h.
 */
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>

static struct device *dmabufd_arch_dev;

/* Diagnostics for the VM tests (read-only parameters): how many clean +
 * invalidate operations ran, and over how many pages in total. */
static unsigned long cache_maint_ops;
module_param(cache_maint_ops, ulong, 0444);
MODULE_PARM_DESC(cache_maint_ops, "clean+invalidate to PoC operations so far (arm64)");
static unsigned long cache_maint_pages;
module_param(cache_maint_pages, ulong, 0444);
MODULE_PARM_DESC(cache_maint_pages, "pages cleaned+invalidated to PoC so far (arm64)");

static inline int dmabufd_arch_init(struct device *dev)
{
	int ret;

	ret = dma_coerce_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	/* A coherent device gets no cache maintenance from the DMA API, a
	 * device with an offset or an IOMMU would not map the pages' physical
	 * addresses (checked at every call too). */
	if (dev_is_dma_coherent(dev) || dev->dma_range_map || device_iommu_mapped(dev)) {
		dev_err(dev, "no DMA-API route to clean the caches (coherent, offset or IOMMU)\n");
		return -ENODEV;
	}
	dmabufd_arch_dev = dev;
	return 0;
}

/*
 * Clean and invalidate [pfn, pfn + count) to the point of coherency: no line
 * of it stays in any cache, dirty data reached memory. The clean
 * (dma_map_page) comes first, so the invalidate that follows drops only
 * clean lines.
 */
static int dmabufd_arch_clean_inval(unsigned long pfn, unsigned long count)
{
	size_t size = (size_t)count << PAGE_SHIFT;
	dma_addr_t addr;

	addr = dma_map_page_attrs(dmabufd_arch_dev, pfn_to_page(pfn), 0, size,
				  DMA_BIDIRECTIONAL, 0);
	if (dma_mapping_error(dmabufd_arch_dev, addr))
		return -ENOMEM;
	dma_unmap_page_attrs(dmabufd_arch_dev, addr, size, DMA_BIDIRECTIONAL, 0);
	/* The device has no DMA offset (dma_range_map) and no IOMMU, so a
	 * direct mapping is the physical address; anything else was a bounce
	 * buffer, whose maintenance left these pages untouched. */
	if (WARN_ON_ONCE(addr != PFN_PHYS(pfn)))
		return -EIO;
	cache_maint_ops++;
	cache_maint_pages += count;
	return 0;
}

static int dmabufd_arch_attr_set(unsigned long pfn, unsigned long count, u32 attr)
{
	/* Dirty lines written through the linear map (the zeroing, MIGRATE's
	 * copy) reach memory and no line, clean or dirty, stays to be hit by
	 * a later cacheable access or written back over data written through
	 * the non-cacheable mappings. Nothing changed on failure. */
	return dmabufd_arch_clean_inval(pfn, count);
}

static int dmabufd_arch_attr_clear(unsigned long pfn, unsigned long count, u32 attr)
{
	/* Lines allocated by speculative reads through the linear map while
	 * the pages were non-cacheable hold stale data: drop them before the
	 * page allocator's next user reads the pages cacheably. */
	int ret = dmabufd_arch_clean_inval(pfn, count);

	return ret ? -EIO : 0;
}

static int dmabufd_arch_kernel_read_begin(unsigned long pfn, unsigned long count, u32 attr)
{
	/* Same stale lines as above, before MIGRATE copies through the
	 * linear map. */
	return dmabufd_arch_clean_inval(pfn, count);
}

static int dmabufd_arch_zero_attr(unsigned long pfn, unsigned long count, u32 attr,
				  void (*zero)(unsigned long pfn, unsigned long count))
{
	/* No non-cacheable mapping of the pages exists now (the buffer's are
	 * gone), so zero through the cacheable linear map as EXPORT does, then
	 * clean and invalidate to PoC as at an attribute transition: the zeros
	 * reach memory, and no line, stale or not, stays to be hit later. */
	zero(pfn, count);
	return dmabufd_arch_clean_inval(pfn, count);
}

static inline pgprot_t dmabufd_arch_pgprot(u32 attr, pgprot_t prot)
{
	switch (attr) {
	case DMABUFD_REGION_ATTR_WRITECOMBINE:
		return pgprot_writecombine(prot); /* Normal Non-cacheable */
	case DMABUFD_REGION_ATTR_UNCACHED:
		return pgprot_noncached(prot); /* Device-nGnRnE */
	default:
		return prot;
	}
}

static inline pgprot_t dmabufd_arch_pgprot_kernel(u32 attr, pgprot_t prot)
{
	/* Kernel users of a vmap (iosys_map with is_iomem false) copy with
	 * memcpy()/memset(), which may access unaligned or use DC ZVA: both
	 * fault on Device memory. Both non-cacheable attributes map Normal
	 * Non-cacheable in the kernel, as dma-direct's uncached remaps do. */
	if (attr == DMABUFD_REGION_ATTR_CACHED)
		return prot;
	return pgprot_writecombine(prot);
}
