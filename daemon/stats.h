/* SPDX-License-Identifier: MIT */
/* The figures of the Stats reply and of each active backend (Hello, Stats). */
#ifndef DMABUFD_STATS_H
#define DMABUFD_STATS_H

#include "dmabufd.pb-c.h"
#include "types.h"

/**
 * stats_backend_info() - @sb's name, capabilities, capacity and page size
 * as a BackendInfo message (the usage figures are left 0).
 */
void stats_backend_info(const struct server_backend *sb, Dmabufd__BackendInfo *bi);

/**
 * stats_fill() - every figure of a StatsReply: the daemon's totals, each
 * active backend's usage (@binfo, @binfo_ptrs: SERVER_MAX_BACKENDS
 * entries), the probe results (@probe, @probe_ptrs: PROBE_MAX_BACKENDS
 * entries), the primary region's fragmentation, compaction, sharing and
 * configuration counters, the kernel's attribute-transition count (summed
 * over the backends that keep one; unset when none does), the pools
 * (summed over the active backends) and
 * heap_bytes (glibc mallinfo2(3) uordblks + hblkhd: bytes of malloc'ed
 * memory in use in the daemon, from the heap and from mmap'ed chunks; a
 * debugging figure the benchmark uses to measure heap per buffer).
 * Expired share tokens are swept first. The arrays must outlive @sr.
 */
void stats_fill(struct server *s, Dmabufd__StatsReply *sr, Dmabufd__BackendInfo *binfo,
		Dmabufd__BackendInfo **binfo_ptrs, Dmabufd__ProbeResult *probe,
		Dmabufd__ProbeResult **probe_ptrs);

#endif
