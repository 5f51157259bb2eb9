/* SPDX-License-Identifier: MIT */
/* Stats figures added for issue 10: pools and the daemon's own heap. */
#ifndef DMABUFD_PERF_STATS_H
#define DMABUFD_PERF_STATS_H

#include "dmabufd.pb-c.h"
#include "server.h"

/**
 * perf_fill_stats() - fill @sr's pooled, pool_hits, pool_misses (from the
 * backend's get_pool_stats, zero without a pool) and heap_bytes (glibc
 * mallinfo2(3) uordblks + hblkhd: bytes of malloc'ed memory in use in the
 * daemon, from the heap and from mmap'ed chunks; a debugging figure the
 * benchmark uses to measure heap per buffer).
 */
void perf_fill_stats(struct server *s, Dmabufd__StatsReply *sr);

#endif
