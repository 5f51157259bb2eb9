// SPDX-License-Identifier: GPL-2.0
/*
 * dmabufd_ptattr.ko - test-only: the memory type of a user PTE, read from
 * the page tables (arm64). See dmabufd_ptattr.h. Debian's arm64 kernels
 * have no CONFIG_PTDUMP_DEBUGFS, and /proc/<pid>/pagemap has no attribute
 * bits, so the VM tests read the PTE here: follow_pte() (up to 6.9) or
 * follow_pfnmap_start() (6.10 on) on the caller's own VM_PFNMAP mapping.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <asm/sysreg.h>

#include "dmabufd_ptattr.h"

static int ptattr_lookup(unsigned long addr, unsigned long *ret_pfn, pgprot_t *ret_prot)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -ENOENT;
		goto out;
	}
	if (!(vma->vm_flags & (VM_IO | VM_PFNMAP))) {
		ret = -EINVAL;
		goto out;
	}
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	{
		struct follow_pfnmap_args args = { .vma = vma, .address = addr };

		ret = follow_pfnmap_start(&args);
		if (ret == 0) {
			*ret_pfn = args.pfn;
			*ret_prot = args.pgprot;
			follow_pfnmap_end(&args);
		}
	}
#else
	{
		spinlock_t *ptl;
		pte_t *ptep, pte;

		ret = follow_pte(mm, addr, &ptep, &ptl);
		if (ret == 0) {
			pte = *ptep;
			pte_unmap_unlock(ptep, ptl);
			*ret_pfn = pte_pfn(pte);
			*ret_prot = pte_pgprot(pte);
		}
	}
#endif
out:
	mmap_read_unlock(mm);
	return ret;
}

static long ptattr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmabufd_ptattr_query q;
	unsigned long pfn;
	pgprot_t prot;
	int ret;

	if (cmd != DMABUFD_PTATTR_QUERY)
		return -ENOTTY;
	if (copy_from_user(&q, (void __user *)arg, sizeof(q)))
		return -EFAULT;
	ret = ptattr_lookup(q.addr, &pfn, &prot);
	if (ret)
		return ret;
	q.pfn = pfn;
	q.prot = pgprot_val(prot);
	q.attrindx = (pgprot_val(prot) & PTE_ATTRINDX_MASK) >> 2;
	q.mair = (read_sysreg(mair_el1) >> (8 * q.attrindx)) & 0xff;
	return copy_to_user((void __user *)arg, &q, sizeof(q)) ? -EFAULT : 0;
}

static const struct file_operations ptattr_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ptattr_ioctl,
};

static struct miscdevice ptattr_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabufd-ptattr",
	.fops = &ptattr_fops,
	.mode = 0600,
};

module_misc_device(ptattr_misc);

MODULE_DESCRIPTION("dmabufd test: memory type of a user PTE (arm64)");
MODULE_LICENSE("GPL");
