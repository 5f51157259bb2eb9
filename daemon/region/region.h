/* SPDX-License-Identifier: MIT */
/*
 * Region allocator, cache-attribute ledger and compaction planner.
 *
 * The region is a page-granular range of N page frames (offsets 0..N-1, in
 * pages; N <= DMABUFD_REGION_MAX_PAGES). This module decides placement only;
 * a backend (kmod, memfd) materialises buffers. See docs/REGION.md and
 * DESIGN.md, "The region" and "Cache attributes — the invariant".
 *
 * Data structure (docs/REGION.md has the full story):
 *  - The region is partitioned into *segments*, kept in address order in a
 *    doubly linked list and in a treap keyed by offset (with parent links,
 *    so that a segment is inserted next to a known neighbour or erased
 *    without a descent): a live allocation
 *    (one segment, one attribute), a reserved range (free pages a backend
 *    asked us not to use, see dmabufd_region_reserve()), or a free extent of
 *    one attribute. Adjacent free segments of the same attribute are always
 *    merged. The attribute ledger is this partition: every page's attribute
 *    is its segment's attribute (extents, not a byte per page).
 *  - Three treaps of free extents, one per attribute (with parent links:
 *    erasing a known extent and upkeep of the maxima walk up from it), and
 *    one treap of maximal free runs (free pages regardless of attribute),
 *    each keyed by offset and augmented with the largest length in the
 *    subtree; a treap of the pinned allocations (its minimum bounds the
 *    movable write-combine/uncached zone); and a hash index of the live
 *    allocations by offset (open addressing, at most 3/4 full).
 *  Bounds, with m = number of segments (<= 2 * live allocations + reserved
 *  ranges + 1) and f = number of free extents: alloc, free, claim and
 *  apply_move are O(log m) expected (treap) plus O(1) amortised per free
 *  extent merged or consumed (the index: O(1) expected, amortised over its
 *  doublings); lookup is O(1) expected; the placement search is O(log f) whenever a
 *  free extent of at least npages + align_pages - 1 pages exists, and falls
 *  back to an exact search (O(f) worst case, only among extents of length
 *  npages .. npages + align_pages - 2) before it answers -ENOSPC, so -ENOSPC
 *  means "no aligned free run exists". Stats are O(1); audit and the
 *  planner are O(m log m).
 *  Memory: nodes come from per-region slabs (96-byte segment slots, 32-byte
 *  run slots, 32-byte aligned so that no treap node straddles a cache
 *  line): one segment per live allocation, one per free extent, one run
 *  node per maximal free run; plus 8 bytes per index slot (1.33 to 2.67
 *  slots per live allocation at the peak count). Measured 189 bytes per
 *  live allocation in use (176 of them slab slots, 13 the index) and 236
 *  bytes held (the slabs keep freed slots for reuse and the index never
 *  shrinks until the region is destroyed, so this is the peak) at 10,000
 *  live buffers in a 2^22-page region (regionsim --trace steady prints
 *  both). Nothing is per page.
 *
 * Policy (docs/REGION.md, "Placement policy"):
 *  - Pinned allocations go to the highest fit, so that they gather at the top
 *    of the region and do not pepper it (as the kernel keeps migrate types
 *    apart in pageblocks, mm/page_alloc.c); a free extent already in the
 *    attribute is preferred only near that highest fit.
 *  - Movable cached allocations are placed from the bottom up, movable
 *    write-combine and uncached ones from the lowest pinned allocation down,
 *    so that each attribute keeps its own part of the region; a free extent
 *    in their attribute above that allocation is still taken before any
 *    page is transitioned.
 *  - A request is first placed in a free extent already in the requested
 *    attribute (zero transitions); else it covers the largest free extent in
 *    the attribute; else it takes any free run. Every free page whose
 *    attribute must change is a counted transition (in the kernel: flush
 *    through the cached mapping, then set_memory_wc/uc/wb, i.e. a cache
 *    flush and a TLB shootdown; 2011 CMA review in /work/shared/seeds).
 *  - Sizes are never rounded to a power of two (2002 consistent_alloc()
 *    thread: free the unused tail); only the start is aligned.
 *
 * Single-threaded: no locking. No function aborts on bad input.
 */
#ifndef DMABUFD_DAEMON_REGION_H
#define DMABUFD_DAEMON_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmabufd/dmabufd.h"

/** Largest region, in pages (2^31 pages = 8 TiB of 4 KiB pages). */
#define DMABUFD_REGION_MAX_PAGES (1u << 31)
/** Largest alignment, in pages. */
#define DMABUFD_REGION_MAX_ALIGN (1u << 30)
/** Number of attributes (enum dmabufd_attribute). */
#define DMABUFD_REGION_N_ATTR 3

struct dmabufd_region;

/** Option flags (struct dmabufd_region_options.flags). */
enum dmabufd_region_flags {
	/** Placement ignores attributes (ledger still counts transitions).
	 *  For benchmarks: the attribute-blind variant. */
	DMABUFD_REGION_ATTR_BLIND = 1u << 0,
	/** Place pinned allocations like movable ones (lowest address).
	 *  For benchmarks. */
	DMABUFD_REGION_NO_KIND_SEPARATION = 1u << 1,
	/** Place movable write-combine/uncached allocations like cached ones
	 *  (lowest address) instead of from the top down. For benchmarks. */
	DMABUFD_REGION_NO_ATTR_ZONES = 1u << 2,
};
#define DMABUFD_REGION_FLAGS_ALL \
	(DMABUFD_REGION_ATTR_BLIND | DMABUFD_REGION_NO_KIND_SEPARATION | \
	 DMABUFD_REGION_NO_ATTR_ZONES)

/** Options for dmabufd_region_create(); a zeroed struct gives defaults. */
struct dmabufd_region_options {
	/** Attribute of every page at creation (enum dmabufd_attribute);
	 *  default 0 = CACHED, the state of the kernel linear map. */
	uint32_t initial_attribute;
	/** Page size in bytes, a power of two; 0 = 4096. Used only to report
	 *  bytes (plans). */
	uint32_t page_size;
	/** DMABUFD_REGION_* flags; unknown bits are refused. */
	uint32_t flags;
};

/** A live allocation (dmabufd_region_lookup()). All units are pages. */
struct dmabufd_region_allocation {
	uint32_t offset;
	uint32_t npages;
	uint32_t align_pages;
	enum dmabufd_attribute attribute;
	bool movable;
};

/** Counters (dmabufd_region_stats()). Units: pages unless noted. */
struct dmabufd_region_stats {
	uint32_t npages;             /**< region size */
	uint32_t free_pages;         /**< free, excluding reserved */
	uint32_t largest_free_run;   /**< longest run of free pages, any attributes */
	/** 1000 * (1 - largest_free_run / free_pages); 0 when nothing is free. */
	uint32_t fragmentation_permille;
	uint32_t reserved_pages;     /**< dmabufd_region_reserve()d pages */
	uint32_t n_free_extents;     /**< free segments (maximal per attribute) */
	uint32_t n_allocations;      /**< live allocations */
	uint32_t n_pinned, n_movable;            /**< live allocations by kind */
	uint32_t pinned_pages, movable_pages;    /**< pages by kind */
	uint32_t used_pages[DMABUFD_REGION_N_ATTR]; /**< live pages per attribute */
	uint32_t free_pages_attr[DMABUFD_REGION_N_ATTR]; /**< free pages per attribute */
	uint64_t transitions;        /**< free pages whose attribute changed, total */
	uint64_t transition_events;  /**< attribute changes of a contiguous range
	                                  (one flush + TLB shootdown each) */
	uint64_t moves;              /**< dmabufd_region_apply_move() successes */
	uint64_t pages_moved;        /**< pages relocated by those moves */
};

/** State of a segment reported by dmabufd_region_walk(). */
enum dmabufd_region_state {
	DMABUFD_REGION_FREE = 0,
	DMABUFD_REGION_USED = 1,
	DMABUFD_REGION_RESERVED = 2,
};

/** One segment (dmabufd_region_walk()). Pages. */
struct dmabufd_region_extent {
	uint32_t offset;
	uint32_t npages;
	enum dmabufd_attribute attribute;
	enum dmabufd_region_state state;
	bool movable;               /**< USED only */
	uint32_t align_pages;       /**< USED only */
};

/** One move of a plan: relocate the movable allocation starting at
 *  old_offset (npages pages) to new_offset. Pages. The new range may overlap
 *  the allocation's own old range (copy with memmove semantics) but no other
 *  allocation or reserved page. */
struct dmabufd_region_move {
	uint32_t old_offset;
	uint32_t new_offset;
	uint32_t npages;
};

/** A compaction plan. Moves are to be applied in order; each is valid in
 *  the state left by the previous ones. */
struct dmabufd_region_plan {
	size_t n_moves;
	struct dmabufd_region_move *moves;
	uint64_t pages_moved;    /**< sum of npages over moves */
	uint64_t bytes_moved;    /**< pages_moved * page_size */
	/** plan_for only: after all moves, dmabufd_region_alloc() with the same
	 *  arguments succeeds (the planner has checked a hole exists). */
	bool has_target;
	uint32_t target_offset;  /**< a placement the hole admits (pages) */
};

/**
 * dmabufd_region_create() - create a region of @npages pages, all free.
 * @npages:  1 .. DMABUFD_REGION_MAX_PAGES.
 * @opts:    options, or NULL for defaults.
 * @ret:     on success, the new region (free with dmabufd_region_destroy()).
 * Return: 0; -EINVAL for a bad size, attribute, page size or flag; -ENOMEM.
 */
int dmabufd_region_create(uint32_t npages, const struct dmabufd_region_options *opts,
			  struct dmabufd_region **ret);

/** dmabufd_region_destroy() - free a region and all its bookkeeping; NULL ok. */
void dmabufd_region_destroy(struct dmabufd_region *r);

/**
 * dmabufd_region_alloc() - place a physically contiguous run of pages.
 * @npages:      pages, >= 1 (never rounded up).
 * @align_pages: alignment of the start, in pages: a power of two, 1 .. 2^30.
 * @attribute:   enum dmabufd_attribute of every page of the run.
 * @movable:     true: the owner lets the daemon relocate it while no device
 *               has it attached; false: pinned.
 * @ret_offset:  on success, the first page of the run.
 *
 * Free pages in another attribute are transitioned (counted in stats). The
 * policy is in the file comment.
 * Return: 0; -EINVAL (npages 0 or > region, bad alignment or attribute);
 *         -ENOSPC if no free aligned run of @npages exists (reserved pages are
 *         not free) — call dmabufd_region_plan_for() to learn whether
 *         compaction can open one; -ENOMEM.
 */
int dmabufd_region_alloc(struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			 enum dmabufd_attribute attribute, bool movable, uint32_t *ret_offset);

/**
 * dmabufd_region_find() - where dmabufd_region_alloc() with the same
 * arguments would place the run, without placing it (the region is not
 * modified). For callers that weigh the policy's choice against a cost the
 * allocator does not know (placement_cost.h) before they claim one.
 * Return: 0 and *@ret_offset; -EINVAL; -ENOSPC, as dmabufd_region_alloc().
 */
int dmabufd_region_find(const struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			enum dmabufd_attribute attribute, bool movable, uint32_t *ret_offset);

/**
 * dmabufd_region_claim() - record an allocation at a fixed place, e.g. when a
 * restarted daemon rebuilds its view from the kernel module's LIST.
 * Arguments as dmabufd_region_alloc(); @offset must be a multiple of
 * @align_pages. Return: 0; -EINVAL; -EBUSY if any page is not free; -ENOMEM.
 */
int dmabufd_region_claim(struct dmabufd_region *r, uint32_t offset, uint32_t npages,
			 uint32_t align_pages, enum dmabufd_attribute attribute, bool movable);

/**
 * dmabufd_region_unplace() - end the allocation starting at @offset (pages):
 * its pages become free (the region itself is not destroyed). They stay in
 * their attribute (lazy: a later request in the same
 * attribute reuses them without a transition).
 * Return: 0; -ENOENT if no live allocation starts at @offset.
 */
int dmabufd_region_unplace(struct dmabufd_region *r, uint32_t offset);

/**
 * dmabufd_region_lookup() - the live allocation starting at @offset.
 * @ret: filled on success (may be NULL to test existence).
 * Return: 0; -ENOENT.
 */
int dmabufd_region_lookup(const struct dmabufd_region *r, uint32_t offset,
			  struct dmabufd_region_allocation *ret);

/**
 * dmabufd_region_extent_at() - the segment containing page @page: its state,
 * attribute and bounds (an allocation, a reserved range, or a free extent).
 * Return: 0; -EINVAL if @page is outside the region.
 */
int dmabufd_region_extent_at(const struct dmabufd_region *r, uint32_t page,
			     struct dmabufd_region_extent *ret);

/**
 * dmabufd_region_reserve() - mark free pages unusable, e.g. after the kernel
 * answered -EBUSY for a placement (a page it could not migrate): the next
 * dmabufd_region_alloc() then picks another place. Reserved pages keep
 * their attribute and count neither as free nor as used.
 * @offset, @npages: the range, pages.
 * Return: 0; -EINVAL (empty or out of range); -EBUSY if any page is not free
 *         (nothing changed); -ENOMEM.
 */
int dmabufd_region_reserve(struct dmabufd_region *r, uint32_t offset, uint32_t npages);

/**
 * dmabufd_region_unreserve() - make reserved pages free again.
 * Return: 0; -EINVAL if the range is out of the region or any page of it is
 *         not reserved (nothing changed); -ENOMEM.
 */
int dmabufd_region_unreserve(struct dmabufd_region *r, uint32_t offset, uint32_t npages);

/** dmabufd_region_stats() - fill @ret (O(1)). */
void dmabufd_region_stats(const struct dmabufd_region *r, struct dmabufd_region_stats *ret);

/**
 * dmabufd_region_walk() - call @cb for every segment in address order
 * (covers [0, npages) exactly). Stops when @cb returns non-zero.
 * Return: 0, or @cb's non-zero value.
 */
int dmabufd_region_walk(const struct dmabufd_region *r,
			int (*cb)(const struct dmabufd_region_extent *e, void *userdata),
			void *userdata);

/**
 * dmabufd_region_audit() - check every invariant, O(m):
 * segments tile [0, npages) without overlap; free extents of one attribute
 * are maximal and indexed exactly once; free runs are maximal; every live
 * allocation has exactly one attribute (it is one segment) and honours its
 * alignment; free/used/reserved/per-attribute totals and kind counts add up;
 * tree order, heap and augmentation are consistent.
 * ("No page changes attribute while it belongs to a live allocation" holds by
 * construction: only free pages are ever re-attributed; the unit tests check
 * it against a reference model page by page.)
 * @buf, @len: receive a NUL-terminated description of the first violation
 *             (may be NULL/0).
 * Return: 0; -EUCLEAN on a violation.
 */
int dmabufd_region_audit(const struct dmabufd_region *r, char *buf, size_t len);

/**
 * dmabufd_region_plan_for() - plan moves of movable allocations that open a
 * hole for a request dmabufd_region_alloc() refused with -ENOSPC.
 * Arguments as dmabufd_region_alloc(). The planner tries (a) evicting the
 * movable allocations from the cheapest window into holes elsewhere, and
 * (b) sliding movable allocations towards either end starting at each hole
 * until one run fits; it returns the plan that moves the fewest pages.
 * Pinned allocations and reserved pages are never moved or used; the
 * attribute invariant holds after every move. The region is not modified.
 * Bound: pages_moved is at most the pages of all movable allocations; for a
 * window eviction it is at most npages + 2 * (largest movable allocation - 1).
 * @ret: on success a plan (destroy with dmabufd_region_plan_destroy()); an empty
 *       plan if the request already fits.
 * Return: 0; -EINVAL as alloc; -ENOSPC if no plan opens a hole; -ENOMEM.
 */
int dmabufd_region_plan_for(const struct dmabufd_region *r, uint32_t npages, uint32_t align_pages,
			    enum dmabufd_attribute attribute, bool movable,
			    struct dmabufd_region_plan **ret);

/**
 * dmabufd_region_plan_compact() - full compaction plan (administrator
 * request, `dmabufctl compact`): slide every movable allocation down to the
 * lowest address it can reach in address order (Lisp-2 sliding compaction),
 * around pinned allocations and reserved pages; allocations already in place
 * are not moved. The region is not modified.
 * Return: 0 with *@ret set (possibly empty); -ENOMEM.
 */
int dmabufd_region_plan_compact(const struct dmabufd_region *r, struct dmabufd_region_plan **ret);

/** dmabufd_region_plan_destroy() - destroy a plan; NULL ok. */
void dmabufd_region_plan_destroy(struct dmabufd_region_plan *p);

/**
 * dmabufd_region_apply_move() - commit one move to the bookkeeping, after
 * the backend relocated the pages (kmod MIGRATE ioctl). The allocation keeps
 * its attribute, alignment and kind; destination pages in another attribute
 * are transitioned (counted); the vacated pages become free in their
 * attribute.
 * Return: 0; -ENOENT if no live allocation starts at old_offset; -EPERM if
 *         it is pinned; -EINVAL if npages differs, new_offset is misaligned
 *         or out of range; -EBUSY if a destination page is neither free nor
 *         the allocation's own; -ENOMEM. Nothing changes on failure.
 */
int dmabufd_region_apply_move(struct dmabufd_region *r, const struct dmabufd_region_move *m);

/**
 * dmabufd_region_apply_plan() - apply every move of @p in order (memfd
 * backend: bookkeeping only). Stops at the first failure.
 * Return: 0 or the failing dmabufd_region_apply_move() error.
 */
int dmabufd_region_apply_plan(struct dmabufd_region *r, const struct dmabufd_region_plan *p);

#endif
