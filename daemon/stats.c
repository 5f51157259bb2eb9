/* SPDX-License-Identifier: MIT */
#include "stats.h"

#include <malloc.h>

#include "fdstore.h"
#include "kpool.h"
#include "placement.h"
#include "region.h"
#include "share.h"

void stats_backend_info(const struct server_backend *sb, Dmabufd__BackendInfo *bi)
{
	dmabufd__backend_info__init(bi);
	bi->name = (char *)sb->caps.name;
	bi->attributes = sb->caps.attributes;
	bi->contiguous = sb->caps.contiguous;
	bi->migration = sb->caps.migration;
	bi->revocation = sb->caps.revocation;
	bi->dmabuf = sb->caps.dmabuf;
	bi->capacity = sb->caps.region_size;
	bi->page_size = sb->caps.page_size;
}

/* Each active backend: its capabilities, usage and region. */
static void fill_backends(struct server *s, Dmabufd__StatsReply *sr, Dmabufd__BackendInfo *binfo,
			  Dmabufd__BackendInfo **binfo_ptrs)
{
	for (unsigned i = 0; i < s->nbackends; i++) {
		struct server_backend *sb = &s->backends[i];
		struct dmabufd_region_stats brs;

		stats_backend_info(sb, &binfo[i]);
		binfo[i].used = sb_used(sb, &binfo[i].buffers);
		dmabufd_region_stats(sb->region, &brs);
		binfo[i].free_pages = brs.free_pages;
		binfo[i].largest_free_pages = brs.largest_free_run;
		binfo[i].allocs = sb->allocs;
		binfo[i].fallthroughs = sb->fallthroughs;
		binfo_ptrs[i] = &binfo[i];
	}
	sr->n_backends = s->nbackends;
	sr->backends = binfo_ptrs;
}

/* The backends tried at start-up. */
static void fill_probe(struct server *s, Dmabufd__StatsReply *sr, Dmabufd__ProbeResult *probe,
		       Dmabufd__ProbeResult **probe_ptrs)
{
	for (size_t i = 0; i < s->probe.n; i++) {
		dmabufd__probe_result__init(&probe[i]);
		probe[i].backend = s->probe.entries[i].name;
		probe[i].present = s->probe.entries[i].present;
		probe[i].chosen = s->probe.entries[i].chosen;
		probe[i].reason = s->probe.entries[i].reason;
		probe_ptrs[i] = &probe[i];
	}
	sr->n_probe = s->probe.n;
	sr->probe = probe_ptrs;
}

/* The primary backend's region: free space, fragmentation, transitions. */
static void fill_region(struct server *s, Dmabufd__StatsReply *sr)
{
	struct dmabufd_region_stats rs;

	dmabufd_region_stats(s->backends[0].region, &rs);
	sr->free_pages = rs.free_pages;
	sr->largest_free_pages = rs.largest_free_run;
	sr->fragmentation_permille = rs.fragmentation_permille;
	sr->transitions = rs.transitions;
	sr->movable_buffers = rs.n_movable;
	sr->pinned_buffers = rs.n_pinned;
}

/* The kernel's own attribute-transition count, from the backends that keep one. */
static void fill_kernel_transitions(struct server *s, Dmabufd__StatsReply *sr)
{
	sr->kernel_counter_case = DMABUFD__STATS_REPLY__KERNEL_COUNTER__NOT_SET;
	sr->kernel_attr_transitions = 0;
	for (unsigned i = 0; i < s->nbackends; i++) {
		const struct backend *b = s->backends[i].backend;
		uint64_t n;

		if (!b->ops->get_attr_transitions ||
		    b->ops->get_attr_transitions(s->backends[i].backend, &n) < 0)
			continue;
		sr->kernel_attr_transitions += n;
		sr->kernel_counter_case = DMABUFD__STATS_REPLY__KERNEL_COUNTER_KERNEL_ATTR_TRANSITIONS;
	}
}

/* Every active backend's pool, and the daemon's own heap. */
static void fill_pools_and_heap(struct server *s, Dmabufd__StatsReply *sr)
{
	struct mallinfo2 mi = mallinfo2();

	sr->pooled = sr->pool_hits = sr->pool_misses = 0;
	for (unsigned i = 0; i < s->nbackends; i++) {
		struct backend_pool_stats ps = { 0 };

		if (s->backends[i].backend->ops->get_pool_stats)
			s->backends[i].backend->ops->get_pool_stats(s->backends[i].backend, &ps);
		else if (s->backends[i].kpool)
			kpool_get_stats(s->backends[i].kpool, &ps);
		sr->pooled += ps.pooled;
		sr->pool_hits += ps.hits;
		sr->pool_misses += ps.misses;
	}
	/* uordblks leaves out chunks glibc serves with mmap (above
	 * M_MMAP_THRESHOLD: the registry table, the region's slabs and offset
	 * index); hblkhd counts those. */
	sr->heap_bytes = mi.uordblks + mi.hblkhd;
}

void stats_fill(struct server *s, Dmabufd__StatsReply *sr, Dmabufd__BackendInfo *binfo,
		Dmabufd__BackendInfo **binfo_ptrs, Dmabufd__ProbeResult *probe,
		Dmabufd__ProbeResult **probe_ptrs)
{
	sr->backend = (char *)s->backends[0].caps.name;
	sr->capacity = server_capacity(s);
	fill_backends(s, sr, binfo, binfo_ptrs);
	sr->used = s->used;
	sr->buffers = (uint32_t)s->registry.count;
	sr->clients = s->nclients;
	sr->allocs_total = s->counters.allocs_total;
	sr->allocs_failed = s->counters.allocs_failed;
	sr->releases_total = s->counters.releases_total;
	sr->page_size = s->backends[0].caps.page_size;
	/* Restored from the fd store, and (kmod) adopted at start-up. */
	sr->orphaned_buffers = (uint32_t)fdstore_orphan_count();
	fill_probe(s, sr, probe, probe_ptrs);
	sr->orphaned_buffers += s->backend_orphans;
	fill_region(s, sr);
	fill_kernel_transitions(s, sr);
	sr->compactions = s->counters.compactions;
	sr->compaction_moves = s->counters.compaction_moves;
	sr->compaction_bytes = s->counters.compaction_bytes;
	share_sweep_expired(s);
	sr->tokens = s->ntokens;
	sr->imports = s->nimports;
	sr->imports_total = s->share_counters.imports_total;
	sr->owner_transfers = s->share_counters.owner_transfers;
	sr->quota_refusals = s->share_counters.quota_refusals;
	sr->access_refusals = s->share_counters.access_refusals;
	sr->config_reloads = s->share_counters.config_reloads;
	sr->config_reload_failures = s->share_counters.config_reload_failures;
	fill_pools_and_heap(s, sr);
}
