/* SPDX-License-Identifier: MIT */
/*
 * Trace generators. Every trace ramps its demand (sum of live sizes) from
 * about half the region to beyond it, with waves, so every allocator meets
 * its first failure somewhere on the way; the occupancy at that point
 * measures how well it resists fragmentation.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dmabufd/dmabufd.h"
#include "regiontrace.h"

#define PAGE 4096u

struct gen {
	struct trace *t;
	size_t cap;
	uint32_t *sizes; /* per id */
	uint32_t ids_cap;
	uint64_t demand;
	uint64_t rng;
	int err;
};

static uint64_t rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static uint32_t below(struct gen *g, uint32_t n)
{
	return (uint32_t)(rnd(g) % n);
}

static uint32_t pages_of(uint64_t bytes)
{
	return (uint32_t)((bytes + PAGE - 1) / PAGE);
}

static bool push(struct gen *g, struct trace_op op)
{
	struct trace *t = g->t;
	if (g->err)
		return false;
	if (t->n_ops == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 4096;
		struct trace_op *x = realloc(t->ops, cap * sizeof(*x));
		if (!x) {
			g->err = -ENOMEM;
			return false;
		}
		t->ops = x;
		g->cap = cap;
	}
	t->ops[t->n_ops++] = op;
	return true;
}

static uint32_t emit_alloc(struct gen *g, uint32_t npages, unsigned align_log2, unsigned attr,
			   bool movable)
{
	struct trace *t = g->t;
	if (t->n_ids == g->ids_cap) {
		uint32_t cap = g->ids_cap ? g->ids_cap * 2 : 4096;
		uint32_t *x = realloc(g->sizes, cap * sizeof(*x));
		if (!x) {
			g->err = -ENOMEM;
			return 0;
		}
		g->sizes = x;
		g->ids_cap = cap;
	}
	uint32_t id = t->n_ids;
	if (!push(g, (struct trace_op){TRACE_ALLOC, (uint8_t)attr, movable, (uint8_t)align_log2, id,
				       npages}))
		return 0;
	t->n_ids++;
	g->sizes[id] = npages;
	g->demand += npages;
	return id;
}

static void emit_free(struct gen *g, uint32_t id)
{
	if (push(g, (struct trace_op){TRACE_FREE, 0, 0, 0, id, 0}))
		g->demand -= g->sizes[id];
}

static void gen_init(struct gen *g, struct trace *t, uint64_t seed, const char *name,
		     const char *desc, uint32_t pages)
{
	memset(t, 0, sizeof(*t));
	memset(g, 0, sizeof(*g));
	t->name = name;
	t->desc = desc;
	t->region_pages = pages;
	g->t = t;
	g->rng = 0x9E3779B97F4A7C15ull ^ (seed * 0xD1B54A32D192ED03ull) ^ (uint64_t)pages;
	if (!g->rng)
		g->rng = 1;
	for (int i = 0; i < 8; i++)
		rnd(g);
}

static int gen_finish(struct gen *g)
{
	free(g->sizes);
	if (g->err)
		trace_finish(g->t);
	return g->err;
}

/* Demand target as a fraction of the region at op @i of @total: waves of
 * +-0.12 every @period ops around a level that stays near 0.6-0.7 for most
 * of the trace (normal operation: buffers come and go, the region
 * fragments) and then ramps to 1.10 (overload), so that every allocator
 * meets its first failure in the last part. */
static double target(size_t i, size_t total, double period)
{
	double x = (double)i / (double)total;
	return 0.55 + 0.55 * x * x * x + 0.12 * sin(2.0 * M_PI * (double)i / period);
}

/* A long-lived small buffer with its expiry (in ops). */
struct timed {
	uint32_t id;
	size_t expiry;
};

struct idset {
	uint32_t *v;
	size_t n, cap;
};

static bool ids_push(struct gen *g, struct idset *s, uint32_t id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint32_t *x = realloc(s->v, cap * sizeof(*x));
		if (!x) {
			g->err = -ENOMEM;
			return false;
		}
		s->v = x;
		s->cap = cap;
	}
	s->v[s->n++] = id;
	return true;
}

/* (a) media pipeline mix: streams that each hold a ring of 4K NV12
 * (12,441,600 bytes, write-combine: decoder output scanned out) or 1080p
 * XRGB8888 (8,294,400 bytes, cached: rendered with CPU access) frames,
 * started and stopped in waves; each stream start also allocates 1-3
 * pinned metadata buffers of 4-64 KiB that outlive it. Frames are movable.
 * With TRACE_MEDIA_METADATA_MOVABLE (a diagnostic,
 * docs/notes/region-history.md "Seventh pass") the metadata buffers are emitted as movable; nothing else changes
 * (same random draws, sizes, attributes, lifetimes and op sequence). */
int trace_media_opts(struct trace *t, uint64_t seed, unsigned opts)
{
	struct gen g;
	const size_t total = 150000;
	struct stream {
		uint32_t n;
		uint32_t ids[8];
	} *streams = NULL;
	size_t nstreams = 0, capstreams = 0;
	struct timed *meta = NULL;
	size_t nmeta = 0, capmeta = 0;

	const bool meta_movable = opts & TRACE_MEDIA_METADATA_MOVABLE;

	gen_init(&g, t, seed, meta_movable ? "media-metadata-movable" : "media",
		 meta_movable ? "media pipeline mix, 1 GiB region, metadata movable (diagnostic)"
			      : "media pipeline mix, 1 GiB region",
		 262144);
	while (t->n_ops < total && !g.err) {
		size_t now = t->n_ops;
		/* expire long-lived metadata */
		for (size_t i = 0; i < nmeta;) {
			if (meta[i].expiry <= now) {
				emit_free(&g, meta[i].id);
				meta[i] = meta[--nmeta];
			} else {
				i++;
			}
		}
		double want = target(now, total, 9000.0) * t->region_pages;
		if ((double)g.demand < want || nstreams == 0) {
			if (nstreams == capstreams) {
				capstreams = capstreams ? capstreams * 2 : 64;
				struct stream *x = realloc(streams, capstreams * sizeof(*x));
				if (!x) {
					g.err = -ENOMEM;
					break;
				}
				streams = x;
			}
			struct stream *s = &streams[nstreams++];
			bool uhd = below(&g, 100) < 55;
			uint32_t np = uhd ? pages_of(12441600) : pages_of(8294400);
			unsigned attr = uhd ? DMABUFD_ATTR_WRITECOMBINE : DMABUFD_ATTR_CACHED;
			s->n = 4 + below(&g, 5);
			uint32_t nm = 1 + below(&g, 3);
			for (uint32_t i = 0; i < s->n; i++) {
				s->ids[i] = emit_alloc(&g, np, 0, attr, true);
				if (i == 1) {
					for (uint32_t j = 0; j < nm; j++) {
						if (nmeta == capmeta) {
							capmeta = capmeta ? capmeta * 2 : 256;
							struct timed *x =
								realloc(meta, capmeta * sizeof(*x));
							if (!x) {
								g.err = -ENOMEM;
								break;
							}
							meta = x;
						}
						uint32_t mp = 1 + below(&g, 16);
						unsigned ma = below(&g, 2) ? DMABUFD_ATTR_CACHED
									   : DMABUFD_ATTR_UNCACHED;
						meta[nmeta].id = emit_alloc(&g, mp, 0, ma, meta_movable);
						meta[nmeta++].expiry =
							now + 20000 + below(&g, 60000);
					}
				}
			}
		} else {
			size_t k = below(&g, (uint32_t)nstreams);
			for (uint32_t i = 0; i < streams[k].n; i++)
				emit_free(&g, streams[k].ids[i]);
			streams[k] = streams[--nstreams];
		}
	}
	free(streams);
	free(meta);
	return gen_finish(&g);
}

int trace_media(struct trace *t, uint64_t seed)
{
	return trace_media_opts(t, seed, 0);
}

/* (b) display server: windows with 2-3 write-combine buffers (GPU clients,
 * movable) or 1-2 cached shm buffers (CPU clients), of varied sizes, with
 * random lifetimes and resizes; pinned scanout framebuffers and cursors. */
int trace_display(struct trace *t, uint64_t seed)
{
	struct gen g;
	const size_t total = 150000;
	struct win {
		uint32_t ids[3], n;
		unsigned attr;
	} *wins = NULL;
	size_t nwins = 0, capwins = 0;
	struct idset scanout = {0};

	gen_init(&g, t, seed, "display", "display server, 512 MiB region", 131072);
	/* two outputs: triple-buffered 1080p scanout + cursor, pinned */
	for (int o = 0; o < 2; o++) {
		for (int i = 0; i < 3; i++)
			ids_push(&g, &scanout,
				 emit_alloc(&g, pages_of(1920u * 1080 * 4), 4,
					    DMABUFD_ATTR_WRITECOMBINE, false));
		ids_push(&g, &scanout,
			 emit_alloc(&g, pages_of(64 * 64 * 4), 0, DMABUFD_ATTR_WRITECOMBINE, false));
	}
	while (t->n_ops < total && !g.err) {
		size_t now = t->n_ops;
		double want = target(now, total, 7000.0) * t->region_pages;
		uint32_t x = below(&g, 100);
		if (nwins && x < 15) {
			/* resize a window: new buffers first, then free the old */
			struct win *w = &wins[below(&g, (uint32_t)nwins)];
			uint32_t wd = 200 + below(&g, 2360), ht = 150 + below(&g, 1290);
			uint32_t old[3], n = w->n;
			memcpy(old, w->ids, sizeof(old));
			for (uint32_t i = 0; i < n; i++)
				w->ids[i] = emit_alloc(&g, pages_of((uint64_t)wd * ht * 4), 0, w->attr,
						       true);
			for (uint32_t i = 0; i < n; i++)
				emit_free(&g, old[i]);
		} else if ((double)g.demand < want || nwins == 0) {
			if (nwins == capwins) {
				capwins = capwins ? capwins * 2 : 64;
				struct win *y = realloc(wins, capwins * sizeof(*y));
				if (!y) {
					g.err = -ENOMEM;
					break;
				}
				wins = y;
			}
			struct win *w = &wins[nwins++];
			bool popup = below(&g, 100) < 30;
			uint32_t wd = popup ? 100 + below(&g, 400) : 200 + below(&g, 2360);
			uint32_t ht = popup ? 50 + below(&g, 300) : 150 + below(&g, 1290);
			bool gpu = below(&g, 100) < 70;
			w->attr = gpu ? DMABUFD_ATTR_WRITECOMBINE : DMABUFD_ATTR_CACHED;
			w->n = gpu ? 2 + below(&g, 2) : 1 + below(&g, 2);
			for (uint32_t i = 0; i < w->n; i++)
				w->ids[i] = emit_alloc(&g, pages_of((uint64_t)wd * ht * 4), 0,
						       w->attr, true);
		} else {
			size_t k = below(&g, (uint32_t)nwins);
			for (uint32_t i = 0; i < wins[k].n; i++)
				emit_free(&g, wins[k].ids[i]);
			wins[k] = wins[--nwins];
		}
	}
	free(wins);
	free(scanout.v);
	return gen_finish(&g);
}

/* (c) adversarial: alternate a small pinned buffer (1-4 pages) and a large
 * movable one (64-1024 pages), attributes drawn at random for both; the
 * large ones die young, the small ones live long. */
int trace_adversarial(struct trace *t, uint64_t seed)
{
	struct gen g;
	const size_t total = 150000;
	struct idset large = {0}, small = {0};

	gen_init(&g, t, seed, "adversarial", "alternating small/large, mixed attributes, 64 MiB",
		 16384);
	while (t->n_ops < total && !g.err) {
		size_t now = t->n_ops;
		double want = target(now, total, 5000.0) * t->region_pages;
		if ((double)g.demand < want || large.n == 0) {
			ids_push(&g, &small, emit_alloc(&g, 1 + below(&g, 4), 0, below(&g, 3), false));
			ids_push(&g, &large,
				 emit_alloc(&g, 64 + below(&g, 961), 0, below(&g, 3), true));
		} else {
			/* mostly large ones go; sometimes an old small one */
			struct idset *s = (below(&g, 100) < 85 || small.n == 0) ? &large : &small;
			size_t k = below(&g, (uint32_t)s->n);
			emit_free(&g, s->v[k]);
			s->v[k] = s->v[--s->n];
		}
	}
	free(large.v);
	free(small.v);
	return gen_finish(&g);
}

/* (d) steady state at @live live buffers in a 2^22-page region: fill, then
 * replace a random buffer per step. Only the replacement phase is timed. */
int trace_steady(struct trace *t, uint64_t seed, uint32_t live)
{
	struct gen g;
	struct idset ids = {0};
	const size_t steps = 200000;

	gen_init(&g, t, seed, "steady", "10,000 live buffers, 2^22-page region", 1u << 22);
	for (uint32_t i = 0; i < live && !g.err; i++)
		ids_push(&g, &ids, emit_alloc(&g, 1 + below(&g, 256), below(&g, 8) ? 0 : 4,
					      below(&g, 4) ? 0 : below(&g, 3), below(&g, 5) != 0));
	t->timed_from = t->n_ops;
	for (size_t s = 0; s < steps && !g.err; s++) {
		size_t k = below(&g, (uint32_t)ids.n);
		emit_free(&g, ids.v[k]);
		ids.v[k] = emit_alloc(&g, 1 + below(&g, 256), below(&g, 8) ? 0 : 4,
				      below(&g, 4) ? 0 : below(&g, 3), below(&g, 5) != 0);
	}
	free(ids.v);
	return gen_finish(&g);
}

void trace_finish(struct trace *t)
{
	free(t->ops);
	t->ops = NULL;
	t->n_ops = 0;
}
