// SPDX-License-Identifier: GPL-2.0
/*
 * dmabufd_naive.ko - test-only: the per-allocation kernel path of a driver
 * without a pool (dmabufd_naive.h), for the VM benchmark. One range at a
 * time per ALLOC; the caller FREEs it with the same arguments. Nothing here
 * checks that the caller frees what it claimed: a test module, loaded in a
 * throw-away VM only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <asm/cacheflush.h>
#include <asm/set_memory.h>

#include "dmabufd_naive.h"

static long naive_alloc(struct dmabufd_naive_alloc *a)
{
	unsigned long addr = (unsigned long)page_address(pfn_to_page(a->pfn));
	u64 t0, t1, t2;
	unsigned long i;
	int ret;

	t0 = ktime_get_ns();
	ret = alloc_contig_range(a->pfn, a->pfn + a->count, MIGRATE_MOVABLE, GFP_KERNEL | __GFP_NOWARN);
	if (ret)
		return ret;
	t1 = ktime_get_ns();
	for (i = 0; i < a->count; i++) {
		clear_page(page_address(pfn_to_page(a->pfn + i)));
		if ((i & 1023) == 1023)
			cond_resched();
	}
	t2 = ktime_get_ns();
	if (a->attr) {
		clflush_cache_range((void *)addr, a->count << PAGE_SHIFT);
		ret = a->attr == 1 ? set_memory_wc(addr, a->count) : set_memory_uc(addr, a->count);
		if (ret) {
			free_contig_range(a->pfn, a->count);
			return ret;
		}
	}
	a->claim_ns = t1 - t0;
	a->zero_ns = t2 - t1;
	a->attr_ns = ktime_get_ns() - t2;
	return 0;
}

static long naive_free(struct dmabufd_naive_alloc *a)
{
	u64 t0 = ktime_get_ns();

	if (a->attr && set_memory_wb((unsigned long)page_address(pfn_to_page(a->pfn)), a->count))
		return -EIO; /* leaked: never give non-write-back pages back */
	a->attr_ns = ktime_get_ns() - t0;
	free_contig_range(a->pfn, a->count);
	return 0;
}

static long naive_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmabufd_naive_alloc a;
	long ret;

	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	if (a.reserved || a.attr > 2 || !a.count || !pfn_valid(a.pfn) ||
	    !pfn_valid(a.pfn + a.count - 1))
		return -EINVAL;
	switch (cmd) {
	case DMABUFD_NAIVE_IOC_ALLOC:
		ret = naive_alloc(&a);
		break;
	case DMABUFD_NAIVE_IOC_FREE:
		ret = naive_free(&a);
		break;
	default:
		return -ENOTTY;
	}
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &a, sizeof(a)) ? -EFAULT : 0;
}

static const struct file_operations naive_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = naive_ioctl,
};

static struct miscdevice naive_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabufd-naive",
	.fops = &naive_fops,
	.mode = 0600,
};

module_misc_device(naive_misc);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dmabufd VM benchmark: the naive contiguous allocation path (test only)");
