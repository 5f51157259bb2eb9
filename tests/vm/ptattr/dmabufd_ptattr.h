/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dmabufd_ptattr.ko (test only, arm64): reads the PTE that maps a user
 * address of the calling process and reports its memory type as the
 * hardware sees it: the PTE's AttrIndx and the MAIR_EL1 attribute byte it
 * selects (0xff Normal write-back, 0x44 Normal Non-cacheable, 0x00
 * Device-nGnRnE, 0x04 Device-nGnRE, 0xf0 Normal tagged).
 */
#ifndef DMABUFD_PTATTR_H
#define DMABUFD_PTATTR_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABUFD_PTATTR_DEVICE "/dev/dmabufd-ptattr"

struct dmabufd_ptattr_query {
	__u64 addr;	/* in: user virtual address, mapped by a VM_PFNMAP/VM_IO VMA */
	__u64 pfn;	/* out: the PFN the PTE maps */
	__u64 prot;	/* out: the PTE's attribute bits (pgprot) */
	__u32 attrindx;	/* out: PTE AttrIndx[2:0] */
	__u32 mair;	/* out: MAIR_EL1 byte for attrindx */
};

/* 0, or -1 with errno: EFAULT bad pointer, ENOENT no VMA, EINVAL not a
 * PFN mapping or no PTE present (touch the page first). */
#define DMABUFD_PTATTR_QUERY _IOWR(0xDC, 0x01, struct dmabufd_ptattr_query)

#endif
