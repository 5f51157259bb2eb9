/* SPDX-License-Identifier: MIT */
/*
 * /proc/kpageflags for the in-VM tests (region-test.c, x11-vm.c): the
 * kernel's flags of each page frame, one 64-bit word per PFN, and the x86
 * PAT memtype they carry.
 *
 * x86 PAT keeps the memtype of RAM pages in page flags
 * (arch/x86/mm/pat/memtype.c, _PGMT_*): write-combine is PG_arch_1,
 * exposed as KPF_ARCH (38). UC- is PG_uncached (KPF_UNCACHED, 39) up to
 * 6.11; 6.12 removed PG_uncached and PAT uses PG_arch_2 instead
 * (KPF_ARCH_2, 41; CONFIG_ARCH_USES_PG_ARCH_2=y in Debian's 6.12 config, no
 * PG_uncached in its include/linux/page-flags.h). WT (both bits) is never
 * used by the module. Elsewhere (arm64) no memtype is kept per PFN: it is
 * in each PTE.
 */
#ifndef DMABUFD_VM_KPAGEFLAGS_H
#define DMABUFD_VM_KPAGEFLAGS_H

#include <stdint.h>

#include <linux/types.h>

#define KPF_ARCH	38
#define KPF_UNCACHED	39
#define KPF_ARCH_2	41

/*
 * kpageflags() - the flags of the @n page frames [@pfn, @pfn + @n) into
 * @flags (@n words). Return: 0; -errno when /proc/kpageflags cannot be
 * opened or read (root only); -EIO on a short read (PFNs past the end).
 */
int kpageflags(__u64 pfn, __u64 n, __u64 *flags);

/*
 * kpf_attr() - the PAT memtype in @flags as a region attribute
 * (DMABUFD_REGION_ATTR_*); @uc_bit: the flag of UC- on the running kernel
 * (KPF_UNCACHED or KPF_ARCH_2). Returns 99 for WT, which the module never
 * uses.
 */
uint32_t kpf_attr(__u64 flags, int uc_bit);

#endif
