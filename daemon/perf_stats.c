/* SPDX-License-Identifier: MIT */
#include "perf_stats.h"

#include <malloc.h>

void perf_fill_stats(struct server *s, Dmabufd__StatsReply *sr)
{
	struct backend_pool_stats ps = { 0 };
	struct mallinfo2 mi = mallinfo2();

	if (s->backend->ops->get_pool_stats)
		s->backend->ops->get_pool_stats(s->backend, &ps);
	sr->pooled = ps.pooled;
	sr->pool_hits = ps.hits;
	sr->pool_misses = ps.misses;
	sr->heap_bytes = mi.uordblks;
}
