/* SPDX-License-Identifier: MIT */
#include "perf_stats.h"

#include <malloc.h>

void perf_fill_stats(struct server *s, Dmabufd__StatsReply *sr)
{
	struct mallinfo2 mi = mallinfo2();

	/* Every active backend's pool (issue 5: several at once). */
	sr->pooled = sr->pool_hits = sr->pool_misses = 0;
	for (unsigned i = 0; i < s->nbackends; i++) {
		struct backend_pool_stats ps = { 0 };

		if (s->backends[i].backend->ops->get_pool_stats)
			s->backends[i].backend->ops->get_pool_stats(s->backends[i].backend, &ps);
		sr->pooled += ps.pooled;
		sr->pool_hits += ps.hits;
		sr->pool_misses += ps.misses;
	}
	/* uordblks leaves out chunks glibc serves with mmap (above
	 * M_MMAP_THRESHOLD: the registry table, the region's slabs and offset
	 * index); hblkhd counts those. */
	sr->heap_bytes = mi.uordblks + mi.hblkhd;
}
