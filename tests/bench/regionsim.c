/* SPDX-License-Identifier: MIT */
/*
 * regionsim: replays deterministic allocation traces against the region
 * allocator (daemon/region/) and, side by side in the same run, against a
 * CMA-like baseline: a bitmap with first-fit at size-order alignment, as
 * mm/cma.c cma_alloc() does with align = min(get_order(size),
 * CONFIG_CMA_ALIGNMENT = 8) (kernel/dma/contiguous.c). Variants of the region
 * allocator: without compaction, with compaction on failure (plan_for +
 * apply, then retry), and attribute-blind placement.
 *
 * Reported per trace and allocator: occupancy (used / region pages) at the
 * first failed allocation, failed allocations, attribute transitions (pages
 * whose attribute changed while free, and contiguous change events) per
 * 1,000 operations, bytes moved by compaction, p50/p99 time per operation
 * (alloc or free; for the compacting variant planning and applying the plan
 * count into the failed operation's time).
 *
 * Usage: regionsim [--seed N] [--trace media|display|adversarial|steady|all]
 *                  [--live N] [--fast] [--flags N] [--probe-full-compaction]
 *                  [--only region|compaction|blind|cma]
 *                  [--media-metadata-movable]
 *                  [--clairvoyant-pinned near|inside|ordered|bucket:OPS]
 *
 * The last two are diagnostics (docs/notes/region-history.md, "Seventh pass"): the first
 * adds a table for the media trace with its metadata buffers movable; the
 * second adds two variants in which every pinned allocation is placed by
 * regionsim itself (dmabufd_region_claim()) knowing the op index at which
 * the trace frees it. Without them the output is unchanged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "region.h"
#include "region_internal.h" /* node sizes, for the memory figure */
#include "regiontrace.h"

/* V_CV_*: only with --clairvoyant-pinned (diagnostic) */
enum variant {
	V_REGION, V_COMPACT, V_BLIND, V_CMA,
	V_STD, V_CV_REGION = V_STD, V_CV_COMPACT, V_N
};
static const char *const vname[V_N] = {
	"region", "region + compaction", "region, attribute-blind", "CMA-like bitmap first-fit",
	"region, clairvoyant pinned (diagnostic)",
	"region + compaction, clairvoyant pinned (diagnostic)"};

/* ---- CMA-like baseline -------------------------------------------------- */

struct cma {
	uint32_t n;
	uint64_t *bm;
	uint8_t *attr;
	uint64_t transitions, events;
};

static int cma_init(struct cma *c, uint32_t n)
{
	c->n = n;
	c->bm = calloc((n + 63) / 64, 8);
	c->attr = calloc(n, 1);
	c->transitions = c->events = 0;
	return c->bm && c->attr ? 0 : -ENOMEM;
}

static void cma_finish(struct cma *c)
{
	free(c->bm);
	free(c->attr);
}

/* Next bit at or after @i equal to @set, or n. */
static uint64_t cma_next(const struct cma *c, uint64_t i, bool set)
{
	while (i < c->n) {
		uint64_t w = c->bm[i / 64];
		if (!set)
			w = ~w;
		w &= ~0ull << (i % 64);
		if (w) {
			uint64_t r = (i & ~63ull) + (uint64_t)__builtin_ctzll(w);
			return r < c->n ? r : c->n;
		}
		i = (i & ~63ull) + 64;
	}
	return c->n;
}

static void cma_set(struct cma *c, uint64_t s, uint64_t k, bool v)
{
	for (uint64_t i = s; i < s + k;) {
		if (i % 64 == 0 && i + 64 <= s + k) {
			c->bm[i / 64] = v ? ~0ull : 0;
			i += 64;
			continue;
		}
		if (v)
			c->bm[i / 64] |= 1ull << (i % 64);
		else
			c->bm[i / 64] &= ~(1ull << (i % 64));
		i++;
	}
}

static unsigned get_order(uint32_t pages)
{
	unsigned o = 0;
	while ((1u << o) < pages)
		o++;
	return o;
}

/* bitmap_find_next_zero_area_off() with align_mask = 2^min(order, 8) - 1 */
static int cma_alloc(struct cma *c, uint32_t k, uint32_t *ret)
{
	unsigned o = get_order(k);
	uint64_t mask = (1ull << (o < 8 ? o : 8)) - 1, i = 0;

	for (;;) {
		i = cma_next(c, i, false);
		i = (i + mask) & ~mask;
		if (i + k > c->n)
			return -ENOSPC;
		uint64_t j = cma_next(c, i, true);
		if (j >= i + k)
			break;
		i = j + 1;
	}
	cma_set(c, i, k, true);
	*ret = (uint32_t)i;
	return 0;
}

/* Lazy attribute accounting like the region ledger: pages keep their
 * attribute when freed; an allocation changes the differing ones. Done
 * outside the timed section (the kernel's CMA does not track it at all). */
static void cma_attr(struct cma *c, uint32_t off, uint32_t k, uint8_t attr)
{
	bool in = false;
	for (uint32_t i = off; i < off + k; i++) {
		if (c->attr[i] != attr) {
			c->transitions++;
			if (!in)
				c->events++;
			c->attr[i] = attr;
			in = true;
		} else {
			in = false;
		}
	}
}

/* ---- replay ------------------------------------------------------------- */

struct result {
	double occ_first_fail; /* < 0: none */
	double occ_max;
	uint64_t failed, ops, allocs;
	uint64_t transitions, events;
	uint64_t bytes_moved, plans;
	uint64_t p50, p99, max; /* ns */
	/* p50/p99 by kind of operation: free, alloc pinned, alloc movable
	 * cached, alloc movable write-combine/uncached */
	uint64_t kp50[4], kp99[4], kn[4];
	double seconds;
	size_t first_fail_op;  /* trace index of the first failure, or n_ops */
	uint64_t *cum_pages;   /* transitions (pages) after each trace op */
	/* bookkeeping at the end of the replay (region variants) */
	uint64_t n_segs, n_runs, n_live, mem_bytes;
	uint64_t n_ix_slots; /* offset index capacity */
	uint64_t cv_placed, cv_fallback; /* clairvoyant variants: pinned allocations */
};

static int count_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	uint64_t *c = userdata; /* [0] segments, [1] maximal free runs, [2] previous was free */
	c[0]++;
	bool is_free = e->state == DMABUFD_REGION_FREE;
	if (is_free && !c[2])
		c[1]++;
	c[2] = is_free;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t extra_flags; /* --flags: DMABUFD_REGION_* for ablations */
/* --only: replay one variant (development runs; the committed tables and
 * every ratio come from runs of all variants side by side) */
static int only_variant = -1;
/* --probe-full-compaction: in the compacting variant, when plan_for()
 * answers -ENOSPC, apply the full plan_compact() and retry, and report the
 * first such event (is the planner or the layout the limit?) */
static bool probe_full;
static bool probe_reported;
static uint32_t max_pinned; /* most pinned pages so far in this replay */

/* --clairvoyant-pinned: diagnostic placement of pinned allocations that
 * knows when each one is freed (death[id] = index of its FREE op, or
 * n_ops if never freed). Among the free runs with a pinned neighbour, the
 * new buffer goes against the pinned neighbour whose death is closest to
 * its own (CV_NEAR), or, first among the placements that keep pinned
 * buffers ordered by death from the top (latest-dying highest: below a
 * neighbour that dies no earlier, above one that dies no later), the
 * closest (CV_ORDERED); or (CV_BUCKET, "arenas" by death time) against a
 * pinned neighbour whose death falls in the same bucket of cv_width ops,
 * tightest fit first, else at the end of the largest free run with a
 * pinned neighbour. CV_INSIDE is CV_NEAR confined to free runs between
 * two pinned allocations and to the top of the free run just below the
 * lowest one (so that pinned islands do not grow into the frames). Ties:
 * less left over in the run, then higher. If no candidate fits, the
 * normal placement. */
enum cv_scheme { CV_OFF, CV_NEAR, CV_ORDERED, CV_BUCKET, CV_INSIDE };
static enum cv_scheme cv_scheme;
static uint64_t cv_width = 5000;
static const uint32_t *cv_death;

struct cv_pick {
	const uint32_t *at; /* offset -> id */
	uint64_t k, align, d;
	int prev_kind; /* previous non-free segment: 0 none, 1 pinned, 2 other */
	uint64_t prev_death;
	bool seen_pinned; /* a pinned segment was passed already */
	bool in_run;
	uint64_t run_start, run_len, run_ldeath;
	int run_lkind;
	bool have;
	uint64_t best_cost, best_left, best_off;
};

static uint64_t cv_cost(const struct cv_pick *c, uint64_t dn, bool below_nb)
{
	uint64_t diff = c->d > dn ? c->d - dn : dn - c->d;
	if (cv_scheme == CV_BUCKET)
		return c->d / cv_width == dn / cv_width ? 0
							: (1ull << 40) + (UINT32_MAX - c->run_len);
	if (cv_scheme == CV_ORDERED && (below_nb ? c->d > dn : c->d < dn))
		diff += 1ull << 40; /* out of order: only if nothing in order fits */
	return diff;
}

static void cv_offer(struct cv_pick *c, uint64_t off, uint64_t cost, uint64_t left)
{
	if (!c->have || cost < c->best_cost || (cost == c->best_cost && left < c->best_left) ||
	    (cost == c->best_cost && left == c->best_left && off > c->best_off)) {
		c->have = true;
		c->best_cost = cost;
		c->best_left = left;
		c->best_off = off;
	}
}

/* The free run [run_start, +run_len) ends; its upper neighbour is @ukind
 * (@ulowest: the lowest pinned allocation). */
static void cv_consider(struct cv_pick *c, int ukind, uint64_t udeath, bool ulowest)
{
	uint64_t end = c->run_start + c->run_len;
	if (c->run_len < c->k)
		return;
	if (cv_scheme == CV_INSIDE && !(ukind == 1 && (c->run_lkind == 1 || ulowest)))
		return;
	uint64_t left = c->run_len - c->k;
	if (ukind == 1) {
		uint64_t top = (end - c->k) / c->align * c->align;
		if (top >= c->run_start && top + c->k == end)
			cv_offer(c, top, cv_cost(c, udeath, true), left);
	}
	if (c->run_lkind == 1) {
		uint64_t bot = (c->run_start + c->align - 1) / c->align * c->align;
		if (bot == c->run_start && bot + c->k <= end)
			cv_offer(c, bot, cv_cost(c, c->run_ldeath, false), left);
	}
}

static int cv_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	struct cv_pick *c = userdata;
	if (e->state == DMABUFD_REGION_FREE) {
		if (!c->in_run) {
			c->in_run = true;
			c->run_start = e->offset;
			c->run_len = 0;
			c->run_lkind = c->prev_kind;
			c->run_ldeath = c->prev_death;
		}
		c->run_len += e->npages;
		return 0;
	}
	int kind = e->state == DMABUFD_REGION_USED && !e->movable ? 1 : 2;
	uint64_t death = kind == 1 ? cv_death[c->at[e->offset]] : 0;
	if (c->in_run) {
		cv_consider(c, kind, death, kind == 1 && !c->seen_pinned);
		c->in_run = false;
	}
	if (kind == 1)
		c->seen_pinned = true;
	c->prev_kind = kind;
	c->prev_death = death;
	return 0;
}

/* Pinned allocation @op by death time: 0, or -ENOSPC if no free run with a
 * pinned neighbour fits (the caller then uses the normal placement). */
static int cv_alloc(struct dmabufd_region *r, const struct trace_op *op, const uint32_t *at,
		    uint32_t *ret)
{
	struct cv_pick c = {.at = at,
			    .k = op->npages,
			    .align = 1u << op->align_log2,
			    .d = cv_death[op->id]};
	dmabufd_region_walk(r, cv_cb, &c);
	if (c.in_run)
		cv_consider(&c, 0, 0, false);
	if (!c.have)
		return -ENOSPC;
	int rv = dmabufd_region_claim(r, (uint32_t)c.best_off, op->npages, 1u << op->align_log2,
				      op->attr, false);
	if (rv < 0) {
		fprintf(stderr, "clairvoyant claim: %s\n", strerror(-rv));
		abort();
	}
	*ret = (uint32_t)c.best_off;
	return 0;
}

/* Layout summary at the probe point: where are the free pages that full
 * compaction cannot gather? */
struct layout {
	uint64_t lowest_pinned, free_above, free_below, holes_above, movable_above;
	uint64_t islands; /* maximal groups of pinned segments, free pages between */
	bool in_island;
};

static int layout_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	struct layout *l = userdata;
	bool pinned = e->state == DMABUFD_REGION_USED && !e->movable;
	if (pinned && l->lowest_pinned == UINT64_MAX)
		l->lowest_pinned = e->offset;
	if (pinned && !l->in_island)
		l->islands++;
	if (pinned)
		l->in_island = true;
	else if (e->state == DMABUFD_REGION_USED)
		l->in_island = false;
	if (e->state == DMABUFD_REGION_FREE) {
		if (l->lowest_pinned != UINT64_MAX) {
			l->free_above += e->npages;
			l->holes_above++;
		} else {
			l->free_below += e->npages;
		}
	}
	if (e->state == DMABUFD_REGION_USED && e->movable && l->lowest_pinned != UINT64_MAX)
		l->movable_above += e->npages;
	return 0;
}

/* Applies @p move by move as a backend would, keeping the id maps. */
static void sim_apply(struct dmabufd_region *r, const struct dmabufd_region_plan *p,
		      uint32_t *off, uint32_t *at)
{
	for (size_t m = 0; m < p->n_moves; m++) {
		const struct dmabufd_region_move *mv = &p->moves[m];
		if (dmabufd_region_apply_move(r, mv) < 0) {
			fprintf(stderr, "move failed\n");
			abort();
		}
		uint32_t id = at[mv->old_offset];
		off[id] = mv->new_offset;
		at[mv->new_offset] = id;
	}
}

static int replay(const struct trace *t, enum variant v, struct result *res)
{
	struct dmabufd_region *r = NULL;
	struct cma c = {0};
	uint32_t *off = malloc((size_t)t->n_ids * sizeof(*off));
	uint32_t *len = malloc((size_t)t->n_ids * sizeof(*len));
	uint8_t *ok = calloc(t->n_ids, 1);
	uint64_t *lat = malloc(t->n_ops * sizeof(*lat));
	uint8_t *kind = malloc(t->n_ops ? t->n_ops : 1);
	uint32_t *at = malloc((size_t)t->region_pages * sizeof(*at)); /* offset -> id */
	size_t nlat = 0;
	uint64_t used = 0;
	int ret = -ENOMEM;
	const bool cv = v == V_CV_REGION || v == V_CV_COMPACT;
	const bool compacting = v == V_COMPACT || v == V_CV_COMPACT;

	memset(res, 0, sizeof(*res));
	probe_reported = false;
	max_pinned = 0;
	res->occ_first_fail = -1;
	res->first_fail_op = t->n_ops;
	res->cum_pages = calloc(t->n_ops ? t->n_ops : 1, sizeof(uint64_t));
	if (!off || !len || !ok || !lat || !kind || !at || !res->cum_pages)
		goto out;
	if (v == V_CMA) {
		if (cma_init(&c, t->region_pages) < 0)
			goto out;
	} else {
		struct dmabufd_region_options o = {
			.flags = extra_flags | (v == V_BLIND ? DMABUFD_REGION_ATTR_BLIND : 0)};
		ret = dmabufd_region_create(t->region_pages, &o, &r);
		if (ret < 0)
			goto out;
	}
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < t->n_ops; i++) {
		const struct trace_op *op = &t->ops[i];
		uint64_t a, b;
		int rv = 0;

		if (i > 0)
			res->cum_pages[i] = res->cum_pages[i - 1];
		if (op->kind == TRACE_FREE && !ok[op->id])
			continue; /* its allocation had failed */
		res->ops++;
		if (op->kind == TRACE_ALLOC) {
			res->allocs++;
			a = now_ns();
			if (v == V_CMA) {
				rv = cma_alloc(&c, op->npages, &off[op->id]);
			} else {
				rv = -ENOSPC;
				if (cv && !op->movable) {
					rv = cv_alloc(r, op, at, &off[op->id]);
					if (rv == 0)
						res->cv_placed++;
					else
						res->cv_fallback++;
				}
				if (rv == -ENOSPC)
					rv = dmabufd_region_alloc(r, op->npages,
								  1u << op->align_log2, op->attr,
								  op->movable, &off[op->id]);
				if (rv == -ENOSPC && compacting) {
					struct dmabufd_region_plan *p = NULL;
					if (dmabufd_region_plan_for(r, op->npages,
								    1u << op->align_log2, op->attr,
								    op->movable, &p) == 0) {
						/* as a backend would: one move at a time */
						for (size_t m = 0; m < p->n_moves; m++) {
							const struct dmabufd_region_move *mv =
								&p->moves[m];
							if (dmabufd_region_apply_move(r, mv) < 0) {
								fprintf(stderr, "move failed\n");
								abort();
							}
							uint32_t id = at[mv->old_offset];
							off[id] = mv->new_offset;
							at[mv->new_offset] = id;
						}
						res->bytes_moved += p->bytes_moved;
						res->plans++;
						dmabufd_region_plan_destroy(p);
						rv = dmabufd_region_alloc(
							r, op->npages, 1u << op->align_log2,
							op->attr, op->movable, &off[op->id]);
						if (rv < 0) {
							fprintf(stderr, "planned hole missing\n");
							abort();
						}
					} else if (probe_full) {
						struct dmabufd_region_plan *q = NULL;
						struct dmabufd_region_stats st0, st1;
						dmabufd_region_stats(r, &st0);
						if (dmabufd_region_plan_compact(r, &q) == 0) {
							sim_apply(r, q, off, at);
							res->bytes_moved += q->bytes_moved;
							res->plans++;
							dmabufd_region_plan_destroy(q);
						}
						dmabufd_region_stats(r, &st1);
						rv = dmabufd_region_alloc(
							r, op->npages, 1u << op->align_log2,
							op->attr, op->movable, &off[op->id]);
						if (!probe_reported) {
							probe_reported = true;
							printf("- probe: first plan_for -ENOSPC at %.2f%% used "
							       "(%u free pages, %u pinned); after full "
							       "compaction the largest free run is %u pages "
							       "for a %u-page request: %s\n",
							       100.0 * (double)used / t->region_pages,
							       st0.free_pages, st1.pinned_pages,
							       st1.largest_free_run, op->npages,
							       rv == 0 ? "fits" : "still -ENOSPC");
							struct layout l = {.lowest_pinned = UINT64_MAX};
							dmabufd_region_walk(r, layout_cb, &l);
							printf("- probe layout after full compaction: lowest pinned "
							       "page %" PRIu64 ", %" PRIu64 " free pages in %" PRIu64
							       " holes above it, %" PRIu64 " below, %" PRIu64
							       " movable pages above it, %" PRIu64
							       " pinned islands; most pinned pages so far %u\n",
							       l.lowest_pinned, l.free_above, l.holes_above,
							       l.free_below, l.movable_above, l.islands, max_pinned);
						}
					}
				}
			}
			b = now_ns();
			if (rv == 0) {
				ok[op->id] = 1;
				at[off[op->id]] = op->id;
				len[op->id] = op->npages;
				used += op->npages;
				if (v == V_CMA)
					cma_attr(&c, off[op->id], op->npages, op->attr);
			} else {
				if (rv != -ENOSPC) {
					fprintf(stderr, "alloc: %s\n", strerror(-rv));
					abort();
				}
				if (res->occ_first_fail < 0) {
					res->occ_first_fail = (double)used / t->region_pages;
					res->first_fail_op = i;
				}
				res->failed++;
			}
		} else {
			a = now_ns();
			if (v == V_CMA)
				cma_set(&c, off[op->id], len[op->id], false);
			else
				rv = dmabufd_region_unplace(r, off[op->id]);
			b = now_ns();
			if (rv < 0) {
				fprintf(stderr, "free: %s\n", strerror(-rv));
				abort();
			}
			ok[op->id] = 0;
			used -= len[op->id];
		}
		if (v == V_CMA) {
			res->cum_pages[i] = c.transitions;
		} else {
			struct dmabufd_region_stats st;
			dmabufd_region_stats(r, &st);
			res->cum_pages[i] = st.transitions;
			if (st.pinned_pages > max_pinned)
				max_pinned = st.pinned_pages;
		}
		if ((double)used / t->region_pages > res->occ_max)
			res->occ_max = (double)used / t->region_pages;
		if (i >= t->timed_from) {
			kind[nlat] = op->kind != TRACE_ALLOC ? 0
				     : !op->movable		 ? 1
				     : op->attr == DMABUFD_ATTR_CACHED ? 2
								       : 3;
			lat[nlat++] = b - a;
		}
	}
	res->seconds = (double)(now_ns() - t0) / 1e9;
	if (v == V_CMA) {
		res->transitions = c.transitions;
		res->events = c.events;
	} else {
		struct dmabufd_region_stats st;
		char why[256];
		dmabufd_region_stats(r, &st);
		res->transitions = st.transitions;
		res->events = st.transition_events;
		uint64_t cnt[3] = {0};
		dmabufd_region_walk(r, count_cb, cnt);
		res->n_segs = cnt[0];
		res->n_runs = cnt[1];
		res->mem_bytes = region_memory_bytes(r);
		res->n_ix_slots = r->index.slot ? (uint64_t)r->index.mask + 1 : 0;
		res->n_live = st.n_allocations;
		if (dmabufd_region_audit(r, why, sizeof(why)) < 0) {
			fprintf(stderr, "audit after replay: %s\n", why);
			abort();
		}
	}
	uint64_t *tmp = malloc((nlat ? nlat : 1) * sizeof(*tmp));
	for (int k = 0; tmp && k < 4; k++) {
		size_t n = 0;
		for (size_t j = 0; j < nlat; j++)
			if (kind[j] == k)
				tmp[n++] = lat[j];
		if (n > 0) {
			qsort(tmp, n, sizeof(*tmp), u64cmp);
			res->kp50[k] = tmp[n / 2];
			res->kp99[k] = tmp[n * 99 / 100];
			res->kn[k] = n;
		}
	}
	free(tmp);
	qsort(lat, nlat, sizeof(*lat), u64cmp);
	if (nlat) {
		res->p50 = lat[nlat / 2];
		res->p99 = lat[nlat * 99 / 100];
		res->max = lat[nlat - 1];
	}
	ret = 0;
out:
	dmabufd_region_destroy(r);
	cma_finish(&c);
	free(off);
	free(len);
	free(ok);
	free(lat);
	free(kind);
	free(at);
	return ret;
}

static void print_table(const struct trace *t, const struct result *res)
{
	printf("\n### %s: %s (%u pages, %zu ops)\n\n", t->name, t->desc, t->region_pages,
	       t->n_ops);
	/* the window before the first failure of any allocator: the same ops
	 * for every allocator, normal operation */
	size_t w = t->n_ops;
	for (int v = 0; v < V_STD; v++)
		if (res[v].first_fail_op < w)
			w = res[v].first_fail_op;
	printf("| allocator | occupancy at 1st failure | failed allocs | max occupancy "
	       "| transitions (pages) / 1k ops, first %zu ops | transitions (pages) / 1k ops, "
	       "whole trace | transition events / 1k ops, whole trace "
	       "| bytes moved | p50 ns/op | p99 ns/op |\n",
	       w);
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (int v = 0; v < V_N; v++) {
		const struct result *x = &res[v];
		char occ[32];
		if (x->ops == 0)
			continue; /* not replayed (--fast, --only) */
		if (x->occ_first_fail < 0)
			snprintf(occ, sizeof(occ), "none");
		else
			snprintf(occ, sizeof(occ), "%.1f%%", 100.0 * x->occ_first_fail);
		char moved[32];
		if (v == V_COMPACT || v == V_CV_COMPACT)
			snprintf(moved, sizeof(moved), "%.1f MiB (%" PRIu64 " plans)",
				 (double)x->bytes_moved / (1 << 20), x->plans);
		else
			snprintf(moved, sizeof(moved), "—");
		printf("| %s | %s | %" PRIu64 " | %.1f%% | %.1f | %.1f | %.2f | %s | %" PRIu64
		       " | %" PRIu64 " |\n",
		       vname[v], occ, x->failed, 100.0 * x->occ_max,
		       w ? 1000.0 * (double)x->cum_pages[w - 1] / (double)w : 0.0,
		       1000.0 * (double)x->transitions / (double)x->ops,
		       1000.0 * (double)x->events / (double)x->ops, moved, x->p50, x->p99);
	}
	const struct result *R = &res[V_REGION], *B = &res[V_BLIND], *Cm = &res[V_CMA],
			    *K = &res[V_COMPACT];
	printf("\n");
	if (R->occ_first_fail >= 0 && Cm->occ_first_fail >= 0)
		printf("- first failure: region %+.1f points vs CMA-like baseline\n",
		       100.0 * (R->occ_first_fail - Cm->occ_first_fail));
	if (K->occ_first_fail < 0)
		printf("- region + compaction never fails (max occupancy %.1f%%)\n",
		       100.0 * K->occ_max);
	else
		printf("- region + compaction first fails at %.1f%%\n", 100.0 * K->occ_first_fail);
	for (int v = V_CV_REGION; v <= V_CV_COMPACT; v++) {
		const struct result *x = &res[v];
		if (x->ops == 0)
			continue;
		printf("- %s: first failure ", vname[v]);
		if (x->occ_first_fail < 0)
			printf("none");
		else
			printf("%.2f%%", 100.0 * x->occ_first_fail);
		printf(" (region, compaction: ");
		for (int u = V_REGION; u <= V_COMPACT; u++) {
			if (res[u].occ_first_fail < 0)
				printf("%snone", u ? ", " : "");
			else
				printf("%s%.2f%%", u ? ", " : "", 100.0 * res[u].occ_first_fail);
		}
		printf("); pinned allocations placed by death time %" PRIu64
		       ", by the normal placement %" PRIu64 "\n",
		       x->cv_placed, x->cv_fallback);
	}
	if (w && R->cum_pages[w - 1])
		printf("- transitions, first %zu ops (before any allocator failed): "
		       "attribute-blind / aware = %.1fx (pages)\n",
		       w, (double)B->cum_pages[w - 1] / (double)R->cum_pages[w - 1]);
	if (R->transitions)
		printf("- transitions, whole trace: attribute-blind / aware = %.1fx (pages), "
		       "%.1fx (events)\n",
		       (double)B->transitions / (double)R->transitions,
		       R->events ? (double)B->events / (double)R->events : 0.0);
	else
		printf("- transitions: aware 0, attribute-blind %" PRIu64 " pages\n", B->transitions);
	if (R->n_live)
		printf("- bookkeeping at the end (region): %" PRIu64 " segments x %d B + %" PRIu64
		       " free runs x %d B (slab slots) + %" PRIu64 " offset-index slots x %zu B "
		       "for %" PRIu64 " live allocations = %.0f B "
		       "per live allocation; memory held (peak: slabs with free slots, index) "
		       "%.0f B per live allocation\n",
		       R->n_segs, REGION_SEG_SLOT, R->n_runs, REGION_RUN_SLOT, R->n_ix_slots,
		       sizeof(uintptr_t), R->n_live,
		       (double)(R->n_segs * REGION_SEG_SLOT + R->n_runs * REGION_RUN_SLOT +
				R->n_ix_slots * sizeof(uintptr_t)) /
			       (double)R->n_live,
		       (double)R->mem_bytes / (double)R->n_live);
	if (R->kn[0] + R->kn[1] + R->kn[2] + R->kn[3]) {
		static const char *const kn[4] = {"free", "alloc pinned", "alloc movable cached",
						  "alloc movable WC/UC"};
		printf("- region p50 / p99 ns by operation:");
		for (int k = 0; k < 4; k++)
			if (R->kn[k])
				printf("%s %s %" PRIu64 " / %" PRIu64 " (%" PRIu64 " ops)",
				       k ? ";" : "", kn[k], R->kp50[k], R->kp99[k], R->kn[k]);
		printf("\n");
	}
	printf("- p99 per op: region %" PRIu64 " ns, CMA-like %" PRIu64 " ns (ratio %.2f)\n",
	       R->p99, Cm->p99, Cm->p99 ? (double)R->p99 / (double)Cm->p99 : 0.0);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	uint32_t live = 10000;
	bool fast = false, meta_movable = false;
	const char *which = "all";

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--trace") && i + 1 < argc)
			which = argv[++i];
		else if (!strcmp(argv[i], "--flags") && i + 1 < argc)
			extra_flags = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--fast"))
			fast = true; /* skip the compacting variant */
		else if (!strcmp(argv[i], "--probe-full-compaction"))
			probe_full = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			static const char *const vn[V_STD] = {"region", "compaction", "blind", "cma"};
			const char *w = argv[++i];
			for (int v = 0; v < V_STD; v++)
				if (!strcmp(w, vn[v]))
					only_variant = v;
			if (only_variant < 0) {
				fprintf(stderr, "--only: region, compaction, blind or cma\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--live") && i + 1 < argc)
			live = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--media-metadata-movable"))
			meta_movable = true;
		else if (!strcmp(argv[i], "--clairvoyant-pinned") && i + 1 < argc) {
			const char *w = argv[++i];
			if (!strcmp(w, "near"))
				cv_scheme = CV_NEAR;
			else if (!strcmp(w, "ordered"))
				cv_scheme = CV_ORDERED;
			else if (!strcmp(w, "inside"))
				cv_scheme = CV_INSIDE;
			else if (!strncmp(w, "bucket:", 7) && strtoull(w + 7, NULL, 0) > 0) {
				cv_scheme = CV_BUCKET;
				cv_width = strtoull(w + 7, NULL, 0);
			} else {
				fprintf(stderr,
					"--clairvoyant-pinned: near, inside, ordered or bucket:OPS\n");
				return 2;
			}
		} else {
			fprintf(stderr,
				"usage: %s [--seed N] [--trace media|display|adversarial|steady|all] "
				"[--live N] [--fast] [--flags N] [--probe-full-compaction] "
				"[--only region|compaction|blind|cma] [--media-metadata-movable] "
				"[--clairvoyant-pinned near|inside|ordered|bucket:OPS]\n",
				argv[0]);
			return 2;
		}
	}
	printf("## regionsim, seed %" PRIu64 "\n", seed);
	/* the media trace with movable metadata (4), if asked for, right after media */
	static const int order[] = {0, 4, 1, 2, 3};
	for (int ki = 0; ki < 5; ki++) {
		static const char *const names[] = {"media", "display", "adversarial", "steady",
						    "media"};
		const int k = order[ki];
		struct trace t;
		struct result res[V_N];
		uint32_t *death = NULL;
		int ret;

		if (strcmp(which, "all") && strcmp(which, names[k]))
			continue;
		if (k == 4 && !meta_movable)
			continue;
		switch (k) {
		case 0:
			ret = trace_media(&t, seed);
			break;
		case 4:
			ret = trace_media_opts(&t, seed, TRACE_MEDIA_METADATA_MOVABLE);
			break;
		case 1:
			ret = trace_display(&t, seed);
			break;
		case 2:
			ret = trace_adversarial(&t, seed);
			break;
		default:
			ret = trace_steady(&t, seed, live);
			break;
		}
		if (ret < 0) {
			fprintf(stderr, "trace %s: %s\n", names[k], strerror(-ret));
			return 1;
		}
		if (cv_scheme != CV_OFF && k != 4) {
			/* pre-pass: the op index at which each allocation is freed */
			death = malloc((t.n_ids ? t.n_ids : 1) * sizeof(*death));
			if (!death)
				return 1;
			for (uint32_t id = 0; id < t.n_ids; id++)
				death[id] = (uint32_t)t.n_ops;
			for (size_t i = 0; i < t.n_ops; i++)
				if (t.ops[i].kind == TRACE_FREE)
					death[t.ops[i].id] = (uint32_t)i;
			cv_death = death;
		}
		for (int v = 0; v < V_N; v++) {
			if ((fast && (v == V_COMPACT || v == V_CV_COMPACT)) ||
			    (only_variant >= 0 && v != only_variant) ||
			    (v >= V_STD && (cv_scheme == CV_OFF || k == 4))) {
				memset(&res[v], 0, sizeof(res[v]));
				res[v].occ_first_fail = -1;
				res[v].first_fail_op = t.n_ops;
				res[v].cum_pages = calloc(t.n_ops ? t.n_ops : 1, sizeof(uint64_t));
				if (!res[v].cum_pages)
					return 1;
				continue;
			}
			ret = replay(&t, (enum variant)v, &res[v]);
			if (ret < 0) {
				fprintf(stderr, "replay: %s\n", strerror(-ret));
				return 1;
			}
		}
		print_table(&t, res);
		for (int v = 0; v < V_N; v++)
			free(res[v].cum_pages);
		free(death);
		cv_death = NULL;
		trace_finish(&t);
	}
	return 0;
}
