// SPDX-License-Identifier: GPL-2.0
/*
 * dmabufd_region.ko - the kernel side of dmabufd's contiguous region.
 *
 * A PFN range (module parameters; by default node 0's ZONE_MOVABLE, see
 * movablecore=) stays with the page allocator until the daemon exports a
 * buffer over a part of it. EXPORT claims that part with
 * alloc_contig_range() (migrating the movable pages living there), zeroes it
 * through the cached linear map, switches it to the requested cache
 * attribute (kmod/arch.h: x86 changes the linear map, arm64 cleans and
 * invalidates the caches) and exports a dma-buf whose every mapping -
 * device (one contiguous sg entry), userspace mmap (fault handler), kernel
 * vmap - uses that attribute. When the dma-buf's last reference is gone the
 * pages go back to write-back and to the page allocator
 * (free_contig_range()) and a RELEASED event is queued for readers of the
 * device. REVOKE does the same at once, after cutting every CPU mapping and
 * refusing every new access: the dma-buf then lives on as an empty husk (no
 * pages) until its last reference is gone.
 *
 * A buffer exported with EXPORT_PARK leaves its pages claimed and in their
 * attribute instead, as a parked extent of the open file that exported it
 * (struct region_parked): no mapping reaches them any more, so they may
 * keep a non-cacheable attribute while belonging to no buffer, and a later
 * EXPORT of that file inside the extent takes them with no claim and no
 * attribute transition, zeroing them through a mapping of that attribute.
 * UNPARK, and the release of the file, give parked pages back as a buffer's
 * release would have.
 *
 * Placement is the daemon's policy; the module enforces the invariants: no
 * overlap, one attribute per page, attribute changes only while a page
 * belongs to no buffer (seed 04-cma-cache-attribute-aliasing.txt), every
 * call can fail with an errno and nothing BUG()s on input (seed
 * 05-generic-device-dma-and-dma_pool.txt).
 *
 * The ioctl ABI and its rules are documented in
 * include/uapi/dmabufd-region.h. Exporter duties follow
 * Documentation/driver-api/dma-buf.rst.
 *
 * Locking: region.lock (mutex) protects the buffer list, the parked
 * extents, placement, counters and the list of open files; buf->lock
 * (mutex) protects a buffer's PFN as seen by faults/maps, its attachments
 * and vmap state. Order: region.lock ->
 * buf->lock -> (mm locks via unmap_mapping_range). Fault handlers take only
 * buf->lock (under mmap_lock or the VMA lock); map_dma_buf takes buf->lock
 * under the dma_resv lock. Only REVOKE takes a dma_resv lock: region.lock
 * -> dmabuf->resv -> buf->lock; nothing takes region.lock under a dma_resv
 * lock (release() runs from the last fput, never under it).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/iosys-map.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "dmabufd-region.h"
#include "arch.h"

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void region_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}
#else
static inline void region_vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#endif

#define REGION_EVENT_QUEUE_LEN	1024
#define REGION_MAX_STRUCT	PAGE_SIZE
#define REGION_MAX_ENTRY	4096

static unsigned long base_pfn;
module_param(base_pfn, ulong, 0444);
MODULE_PARM_DESC(base_pfn, "First PFN of the region (0: start of node 0's ZONE_MOVABLE)");

static unsigned long nr_pages;
module_param(nr_pages, ulong, 0444);
MODULE_PARM_DESC(nr_pages, "Region size in pages (0: up to the end of base_pfn's zone)");

static unsigned int max_buffers = 1024;
module_param(max_buffers, uint, 0444);
MODULE_PARM_DESC(max_buffers, "Limit on live buffers (1..65536)");

/*
 * OCCUPANCY can be switched off at run time, so that a benchmark compares
 * the daemon's placement with and without it in one boot: the command then
 * answers -ENOTTY and INFO leaves out its cap, as a module without it would.
 */
static bool occupancy = true;
module_param(occupancy, bool, 0644);
MODULE_PARM_DESC(occupancy, "OCCUPANCY available (0: -ENOTTY, as an older module; for benchmarks)");

/*
 * Where EXPORT's time goes, read-only in /sys/module/dmabufd_region/
 * parameters/ (for benchmarks; written under region.lock): successful
 * EXPORT claims and the nanoseconds spent, summed over them, claiming
 * (alloc_contig_range() and its retries), zeroing, and switching the
 * attribute (flush included).
 */
static unsigned long export_claims;
module_param(export_claims, ulong, 0444);
MODULE_PARM_DESC(export_claims, "Successful EXPORT claims since load");
static unsigned long export_claim_ns;
module_param(export_claim_ns, ulong, 0444);
MODULE_PARM_DESC(export_claim_ns, "Nanoseconds EXPORT spent in claims (migration), summed");
static unsigned long export_zero_ns;
module_param(export_zero_ns, ulong, 0444);
MODULE_PARM_DESC(export_zero_ns, "Nanoseconds EXPORT spent zeroing, summed");
static unsigned long export_attr_ns;
module_param(export_attr_ns, ulong, 0444);
MODULE_PARM_DESC(export_attr_ns, "Nanoseconds EXPORT spent switching attributes, summed");
static unsigned long export_refused;
module_param(export_refused, ulong, 0444);
MODULE_PARM_DESC(export_refused, "EXPORT claims that failed (-EBUSY and others) since load");
static unsigned long export_refused_ns;
module_param(export_refused_ns, ulong, 0444);
MODULE_PARM_DESC(export_refused_ns, "Nanoseconds EXPORT spent in claims that failed, summed");
static unsigned long claim_attempts;
module_param(claim_attempts, ulong, 0444);
MODULE_PARM_DESC(claim_attempts, "alloc_contig_range() calls of EXPORT and MIGRATE claims since load");
struct region_file;

/*
 * Pages a released EXPORT_PARK buffer left claimed, in @attr, owned by
 * @owner (an open file). Disjoint from every buffer and every other extent;
 * region.lock.
 */
struct region_parked {
	struct list_head node;		/* region.parked, by pfn */
	unsigned long pfn;
	unsigned long count;		/* pages */
	u32 attr;
	struct region_file *owner;
};

struct region_buffer {
	struct list_head node;		/* region.buffers, by pfn; region.lock */
	u64 id;
	unsigned long pfn;		/* writers hold region.lock and lock */
	unsigned long count;		/* pages */
	u32 attr;
	u32 flags;
	char label[DMABUFD_REGION_LABEL_LEN];
	struct dma_buf *dmabuf;
	/*
	 * EXPORT_PARK: the file that exported the buffer (NULL once it is
	 * closed: the pages are then freed, not parked) and the extent record
	 * its pages become, allocated at EXPORT so that parking cannot fail.
	 * region.lock.
	 */
	struct region_file *owner;
	struct region_parked *park;
	/*
	 * Set once by REVOKE (writers hold region.lock and lock): the pages are
	 * gone (pfn is meaningless), the buffer is off region.buffers, and every
	 * new access fails. Read under lock, or READ_ONCE() where a stale
	 * "false" is harmless (mmap and DMA_BUF_IOCTL_SYNC racing with REVOKE).
	 */
	bool revoked;

	struct mutex lock;
	struct list_head attachments;	/* struct region_attachment */
	unsigned int nr_attach;
	unsigned int nr_mmap;
	unsigned int nr_vmap;
	void *vaddr;			/* kernel vmap while nr_vmap > 0 */
	u64 map_count;
	u32 last_nents;
	u64 last_dma_addr;
	u64 last_dma_len;
};

struct region_attachment {
	struct list_head node;
	struct device *dev;
	struct sg_table sgt;
	bool mapped;
};

struct region_file {
	struct list_head node;		/* region.files; region.lock */
	spinlock_t ev_lock;
	unsigned int head, len;		/* ring of REGION_EVENT_QUEUE_LEN */
	bool overflowed;
	struct mutex read_lock;
	wait_queue_head_t wq;
	struct dmabufd_region_event ring[REGION_EVENT_QUEUE_LEN];
};

static struct {
	struct mutex lock;
	unsigned long base_pfn;
	unsigned long count;		/* pages */
	bool movable_zone;
	struct list_head buffers;
	struct list_head parked;	/* struct region_parked, by pfn */
	struct list_head files;
	unsigned int nr_buffers;
	unsigned long claimed;
	unsigned long parked_pages;
	u64 next_id;
	u64 transitions;
	u64 migrations;
	u64 revocations;		/* successful REVOKE calls */
	unsigned int nr_revoked;	/* revoked dma-bufs not yet released */
} region = {
	.lock = __MUTEX_INITIALIZER(region.lock),
	.buffers = LIST_HEAD_INIT(region.buffers),
	.parked = LIST_HEAD_INIT(region.parked),
	.files = LIST_HEAD_INIT(region.files),
};

static unsigned long region_max_buffer_pages(void)
{
	/* One sg entry must describe the buffer: its length is an unsigned int. */
	return min_t(unsigned long, region.count, (SZ_4G - PAGE_SIZE) >> PAGE_SHIFT);
}

/* User mappings (@prot from the VMA) of a page with @attr. */
static pgprot_t region_attr_prot(u32 attr, pgprot_t prot)
{
	return dmabufd_arch_pgprot(attr, prot);
}

static void *region_pfn_vaddr(unsigned long pfn)
{
	/* The region is in the linear map; contiguous PFNs give contiguous
	 * linear addresses. */
	return page_address(pfn_to_page(pfn));
}

/*
 * Switch [pfn, pfn + count) from write-back to @attr (kmod/arch.h: on x86
 * the linear map and the PFNs' PAT memtype, on arm64 cache maintenance).
 * The pages must belong to no buffer and have no other mapping.
 *
 * Returns 0, a negative errno with the range back to write-back, or -EIO
 * when even that failed: then the caller must never free the pages.
 */
static int region_set_attr(unsigned long pfn, unsigned long count, u32 attr)
{
	int ret;

	if (attr == DMABUFD_REGION_ATTR_CACHED)
		return 0;
	ret = dmabufd_arch_attr_set(pfn, count, attr);
	if (ret == 0)
		region.transitions++;
	return ret;
}

/* Back to write-back; the pages must belong to no buffer any more. */
static int region_clear_attr(unsigned long pfn, unsigned long count, u32 attr)
{
	int ret;

	if (attr == DMABUFD_REGION_ATTR_CACHED)
		return 0;
	ret = dmabufd_arch_attr_clear(pfn, count, attr);
	if (ret == 0)
		region.transitions++;
	return ret;
}

/*
 * Give [pfn, pfn + count) back to the page allocator after switching it
 * back to write-back; the pages must belong to no buffer and no
 * mapping may reach them any more. Called with region.lock held.
 */
static void region_free_pages(unsigned long pfn, unsigned long count, u32 attr)
{
	int ret = region_clear_attr(pfn, count, attr);

	if (ret)
		/* Never hand non-write-back pages to the page allocator. */
		pr_err("cannot restore write-back (%d): leaking PFNs %#lx+%lu\n", ret, pfn, count);
	else
		free_contig_range(pfn, count);
}

/* Called with region.lock held. */
static struct region_buffer *region_find_overlap(unsigned long pfn, unsigned long count)
{
	struct region_buffer *buf;

	list_for_each_entry(buf, &region.buffers, node) {
		if (buf->pfn < pfn + count && pfn < buf->pfn + buf->count)
			return buf;
	}
	return NULL;
}

/* Called with region.lock held. */
static struct region_buffer *region_find_id(u64 id)
{
	struct region_buffer *buf;

	list_for_each_entry(buf, &region.buffers, node) {
		if (buf->id == id)
			return buf;
	}
	return NULL;
}

/* Called with region.lock held; keeps the list ordered by pfn. */
static void region_insert_sorted(struct region_buffer *new)
{
	struct region_buffer *buf;

	list_for_each_entry(buf, &region.buffers, node) {
		if (buf->pfn > new->pfn) {
			list_add_tail(&new->node, &buf->node);
			return;
		}
	}
	list_add_tail(&new->node, &region.buffers);
}

/* Called with region.lock held. The first parked extent overlapping the range. */
static struct region_parked *region_find_parked(unsigned long pfn, unsigned long count)
{
	struct region_parked *p;

	list_for_each_entry(p, &region.parked, node) {
		if (p->pfn < pfn + count && pfn < p->pfn + p->count)
			return p;
	}
	return NULL;
}

/* Called with region.lock held; keeps region.parked ordered by pfn. */
static void region_parked_insert(struct region_parked *new)
{
	struct region_parked *p;

	list_for_each_entry(p, &region.parked, node) {
		if (p->pfn > new->pfn) {
			list_add_tail(&new->node, &p->node);
			return;
		}
	}
	list_add_tail(&new->node, &region.parked);
}

/*
 * Take [pfn, pfn + count) out of the parked extent @p, which holds it: the
 * pieces before and after it stay parked (@spare, a free record, becomes
 * the second piece when there are two; *@spare is then NULL). Nothing is
 * done to the pages. Called with region.lock held.
 */
static void region_parked_cut(struct region_parked *p, unsigned long pfn, unsigned long count,
			      struct region_parked **spare)
{
	unsigned long end = pfn + count, p_end = p->pfn + p->count;

	region.parked_pages -= count;
	if (p->pfn < pfn && end < p_end) {
		struct region_parked *tail = *spare;

		*spare = NULL;
		*tail = (struct region_parked){ .pfn = end, .count = p_end - end,
						.attr = p->attr, .owner = p->owner };
		list_add(&tail->node, &p->node);
		p->count = pfn - p->pfn;
	} else if (p->pfn < pfn) {
		p->count = pfn - p->pfn;
	} else if (end < p_end) {
		p->pfn = end;
		p->count = p_end - end;
	} else {
		list_del(&p->node);
		kfree(p);
	}
}

/*
 * Park @buf's pages (region_return_pages()): its extent record becomes a
 * parked extent of its owner, merged with adjacent extents of the same
 * owner and attribute. Called with region.lock held.
 */
static void region_park(struct region_buffer *buf)
{
	struct region_parked *p = buf->park, *prev, *next;

	buf->park = NULL;
	*p = (struct region_parked){ .pfn = buf->pfn, .count = buf->count, .attr = buf->attr,
				     .owner = buf->owner };
	region_parked_insert(p);
	region.parked_pages += p->count;
	if (!list_is_first(&p->node, &region.parked)) {
		prev = list_prev_entry(p, node);
		if (prev->pfn + prev->count == p->pfn && prev->owner == p->owner &&
		    prev->attr == p->attr) {
			prev->count += p->count;
			list_del(&p->node);
			kfree(p);
			p = prev;
		}
	}
	if (!list_is_last(&p->node, &region.parked)) {
		next = list_next_entry(p, node);
		if (p->pfn + p->count == next->pfn && next->owner == p->owner &&
		    next->attr == p->attr) {
			p->count += next->count;
			list_del(&next->node);
			kfree(next);
		}
	}
}

static void region_free_pages(unsigned long pfn, unsigned long count, u32 attr);

/*
 * Give every parked page of @owner in [pfn, pfn + count) back to the page
 * allocator (write-back first). @spare: a free record for the one extent
 * that may be split in two (the range strictly inside it); consumed when
 * used (*@spare = NULL). Returns the pages given back. Called with
 * region.lock held.
 */
static unsigned long region_unpark(struct region_file *owner, unsigned long pfn,
				   unsigned long count, struct region_parked **spare)
{
	struct region_parked *p, *tmp;
	unsigned long end = pfn + count, done = 0;

	list_for_each_entry_safe(p, tmp, &region.parked, node) {
		unsigned long s, e;
		u32 attr = p->attr;

		if (p->pfn >= end)
			break;
		if (p->owner != owner || p->pfn + p->count <= pfn)
			continue;
		s = max(p->pfn, pfn);
		e = min(p->pfn + p->count, end);
		region_parked_cut(p, s, e - s, spare);
		region_free_pages(s, e - s, attr);
		done += e - s;
		cond_resched();
	}
	return done;
}

/* Attempts of alloc_contig_range() per claim while the busy page may move. */
#define REGION_CLAIM_ATTEMPTS	3

/*
 * Lowest PFN a claim starting at @pfn may take: the region's base or the end
 * of the live buffer or parked extent below @pfn, whichever is higher.
 * Called with region.lock held; region.buffers and region.parked are
 * sorted by pfn.
 */
static unsigned long region_claim_floor(unsigned long pfn)
{
	unsigned long floor = region.base_pfn;
	struct region_buffer *buf;
	struct region_parked *p;

	list_for_each_entry(buf, &region.buffers, node) {
		if (buf->pfn >= pfn)
			break;
		floor = max(floor, buf->pfn + buf->count);
	}
	list_for_each_entry(p, &region.parked, node) {
		if (p->pfn >= pfn)
			break;
		floor = max(floor, p->pfn + p->count);
	}
	return floor;
}

/*
 * First PFN to hand to alloc_contig_range() for a claim starting at @pfn.
 *
 * alloc_contig_range() migrates a page only when the scan of the range meets
 * its head (isolate_migratepages_block() cannot take a reference on a tail
 * page, and skips it), then moves the whole folio. A large folio - an
 * anonymous or shmem THP, a hugetlb page - whose head lies before @pfn and
 * that covers @pfn is therefore never migrated, and the claim fails with
 * -EBUSY however movable the folio is. So the claim starts at that head,
 * like alloc_contig_range() itself starts at the free buddy block holding
 * its first page, and region_contig() gives the pages before @pfn back. A
 * folio whose head lies inside the range is migrated whole already, so the
 * end needs no widening.
 *
 * Not below @floor: the pages there belong to the buffer below, or lie
 * outside the region. Unlocked reads of another owner's page: the folio may
 * be split or freed meanwhile, which at worst costs an -EBUSY and a retry.
 */
static unsigned long region_claim_start(unsigned long pfn, unsigned long floor)
{
	struct page *page = pfn_to_page(pfn);
	struct page *head = compound_head(page);
	unsigned long head_pfn;

	if (head == page)
		return pfn;
	head_pfn = page_to_pfn(head);
	/* Stale compound_head() or a folio ending before @pfn: no widening. */
	if (head_pfn > pfn || pfn - head_pfn >= compound_nr(head))
		return pfn;
	return max(head_pfn, floor);
}

/* What region_busy_reason() found. */
struct region_busy {
	unsigned long pfn;	/* first page of the range that is not free */
	const char *why;
	int refcount;		/* of the folio */
	unsigned long flags;	/* of the folio's head page */
	bool retry;		/* movable in principle: another attempt may succeed */
	bool hugetlb;
};

/*
 * A reserved page in the pageblocks alloc_contig_range() isolates for
 * [start, end): their isolation fails on it (has_unmovable_pages()), and
 * nothing in the range is migrated, whatever the range holds. Early
 * memblock allocations at the top of ZONE_MOVABLE are of this kind. Returns
 * its PFN in *ret_pfn.
 */
static bool region_reserved_near(unsigned long start, unsigned long end, unsigned long *ret_pfn)
{
	unsigned long pfn = ALIGN_DOWN(start, pageblock_nr_pages);
	unsigned long hi = ALIGN(end, pageblock_nr_pages);
	struct page *page;

	for (; pfn < hi; pfn++) {
		page = pfn_to_online_page(pfn);
		if (page && PageReserved(page)) {
			*ret_pfn = pfn;
			return true;
		}
		if ((pfn & 1023) == 1023)
			cond_resched();
	}
	return false;
}

/*
 * Why [pfn, end) could not be claimed: the first page that is not free, and
 * what it is (@floor as for region_claim_start()). Unlocked reads of pages
 * the module does not own, for a diagnosis only.
 */
static void region_busy_reason(unsigned long pfn, unsigned long end, unsigned long floor,
			       struct region_busy *ret)
{
	unsigned long first = pfn;
	struct page *page = NULL, *head;

	*ret = (struct region_busy){ .retry = true };
	for (; pfn < end; pfn++) {
		page = pfn_to_page(pfn);
		if (!is_free_buddy_page(page))
			break;
		if ((pfn & 1023) == 1023)
			cond_resched();
	}
	ret->pfn = pfn;
	if (pfn == end) {
		ret->why = "pages busy during the claim, free now";
		goto near;
	}
	head = compound_head(page);
	ret->refcount = page_ref_count(head);
	ret->flags = READ_ONCE(head->flags);
	if (PageReserved(page)) {
		ret->why = "a reserved page (firmware or early boot allocation)";
		ret->retry = false;
	} else if (PageHuge(page)) {
		ret->hugetlb = true;
		ret->why = page_count(head) ?
			"an in-use hugetlb page the kernel did not migrate (no huge page to migrate it to?)" :
			"a free hugetlb page the kernel did not dissolve (no huge page to replace it?)";
	} else if (head != page && page_to_pfn(head) < floor) {
		ret->why = "a large folio starting before the region or the buffer below";
		ret->retry = false;
	} else if (folio_maybe_dma_pinned(page_folio(page))) {
		ret->why = "a pinned page (get_user_pages)";
	} else if (PageLRU(head) || __PageMovable(head)) {
		ret->why = "a movable page whose migration failed (an extra reference)";
	} else if (!page_count(head)) {
		ret->why = "a page on its way back to the page allocator";
	} else {
		ret->why = "an unmovable kernel page";
		ret->retry = false;
	}
near:
	/* A movable page that did not move: maybe nothing was even isolated. */
	if (ret->retry && region_reserved_near(region_claim_start(first, floor), end, &pfn)) {
		head = compound_head(pfn_to_page(pfn));
		ret->pfn = pfn;
		ret->refcount = page_ref_count(head);
		ret->flags = READ_ONCE(head->flags);
		ret->why = "a reserved page in the pageblocks isolated for the range (firmware or early boot allocation)";
		ret->retry = false;
		ret->hugetlb = false;
	}
}

/*
 * One alloc_contig_range() over [pfn, end), started at the head of a large
 * folio covering @pfn (region_claim_start()); the pages before @pfn are
 * given back at once.
 */
static int region_contig(unsigned long pfn, unsigned long end, unsigned long floor)
{
	unsigned long start = region_claim_start(pfn, floor);
	int ret;

	claim_attempts++;
	ret = alloc_contig_range(start, end, MIGRATE_MOVABLE, GFP_KERNEL | __GFP_NOWARN);
	if (ret == 0 && start < pfn)
		free_contig_range(start, pfn - start);
	return ret;
}

/*
 * [pfn, end) one pageblock at a time, each piece with up to
 * REGION_CLAIM_ATTEMPTS tries. For ranges over several in-use hugetlb
 * pages: in one alloc_contig_range() the kernel may migrate one of them
 * into the page of the pool that another one, migrated just before, left
 * free inside the same range (the pool's free list knows nothing of
 * isolation), and the range never comes free. A piece holds one hugetlb
 * page, whose old page the next try dissolves. On failure the pieces
 * claimed so far are given back.
 */
static int region_contig_pieces(unsigned long pfn, unsigned long end, unsigned long floor)
{
	unsigned long p, next;
	int attempt, ret = 0;

	for (p = pfn; p < end; p = next) {
		next = min(ALIGN(p + 1, pageblock_nr_pages), end);
		for (attempt = 1;; attempt++) {
			/* Past the first piece the floor is our own claim. */
			ret = region_contig(p, next, p == pfn ? floor : p);
			if (ret != -EBUSY || attempt == REGION_CLAIM_ATTEMPTS)
				break;
			cond_resched();
		}
		if (ret) {
			if (p > pfn)
				free_contig_range(pfn, p - pfn);
			return ret;
		}
	}
	return 0;
}

/*
 * Claim [pfn, pfn + count): migrate the movable pages living there and take
 * the range from the page allocator. The range may begin inside a large
 * folio (see region_claim_start()). While the page in the way is movable in
 * principle the claim is tried again, REGION_CLAIM_ATTEMPTS times in all: a
 * hugetlb page migrated into a free page of the pool leaves its old page in
 * the pool, in the range, and the next try dissolves it; after a hugetlb
 * page was in the way the tries go one pageblock at a time
 * (region_contig_pieces()). Called with region.lock held.
 *
 * Returns 0; -EBUSY when a page cannot be moved (the kernel log names its PFN
 * and what it is); -EINTR on a fatal signal; -ENOMEM.
 */
static int region_claim(unsigned long pfn, unsigned long count)
{
	unsigned long floor = region_claim_floor(pfn), end = pfn + count;
	struct region_busy busy;
	bool pieces = false;
	int attempt, ret;

	for (attempt = 1;; attempt++) {
		if (pieces)
			ret = region_contig_pieces(pfn, end, floor);
		else
			ret = region_contig(pfn, end, floor);
		if (ret != -EBUSY)
			return ret;
		region_busy_reason(pfn, end, floor, &busy);
		if (!busy.retry || attempt == REGION_CLAIM_ATTEMPTS) {
			pr_info_ratelimited("claim of page offset %lu+%lu: PFN %#lx (page offset %ld) cannot be moved: %s (%d attempts; refcount %d, flags %pGp)\n",
					    pfn - region.base_pfn, count, busy.pfn,
					    (long)(busy.pfn - region.base_pfn), busy.why, attempt,
					    busy.refcount, &busy.flags);
			return -EBUSY;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		pieces |= busy.hugetlb && count > 1;
		cond_resched();
	}
}

static void region_zero(unsigned long pfn, unsigned long count)
{
	unsigned long i;

	for (i = 0; i < count; i++) {
		clear_page(region_pfn_vaddr(pfn + i));
		if ((i & 1023) == 1023)
			cond_resched();
	}
}

/*
 * Zero parked pages of @attr for their reuse, through a mapping of that
 * attribute (kmod/arch.h): no attribute transition, so not counted.
 */
static int region_zero_parked(unsigned long pfn, unsigned long count, u32 attr)
{
	if (attr == DMABUFD_REGION_ATTR_CACHED) {
		region_zero(pfn, count);
		return 0;
	}
	return dmabufd_arch_zero_attr(pfn, count, attr, region_zero);
}

/* Called with region.lock held. */
static void region_post_event(const struct dmabufd_region_event *ev)
{
	struct region_file *rf;

	list_for_each_entry(rf, &region.files, node) {
		spin_lock(&rf->ev_lock);
		if (!rf->overflowed) {
			unsigned int tail = (rf->head + rf->len) % REGION_EVENT_QUEUE_LEN;

			if (rf->len == REGION_EVENT_QUEUE_LEN - 1) {
				/* Last slot: say that events are being lost. */
				rf->ring[tail] = (struct dmabufd_region_event){
					.type = DMABUFD_REGION_EVENT_OVERFLOW,
					.size = sizeof(*ev),
				};
				rf->overflowed = true;
			} else {
				rf->ring[tail] = *ev;
			}
			rf->len++;
		}
		spin_unlock(&rf->ev_lock);
		wake_up_interruptible(&rf->wq);
	}
}

/*
 * @buf's pages go back to the page allocator, or are parked (EXPORT_PARK,
 * its file still open), and readers get a RELEASED event: from release()
 * (last reference gone) or REVOKE (no mapping or attachment can reach the
 * pages any more). Called with region.lock held; takes @buf off
 * region.buffers.
 */
static void region_return_pages(struct region_buffer *buf)
{
	struct dmabufd_region_event ev = {
		.type = DMABUFD_REGION_EVENT_RELEASED,
		.size = sizeof(ev),
		.id = buf->id,
		.page_offset = buf->pfn - region.base_pfn,
		.page_count = buf->count,
		.attr = buf->attr,
	};

	lockdep_assert_held(&region.lock);
	list_del_init(&buf->node);
	region.nr_buffers--;
	region.claimed -= buf->count;
	if (buf->park && buf->owner) {
		region_park(buf);
		ev.flags = DMABUFD_REGION_EVENT_F_PARKED;
	} else {
		region_free_pages(buf->pfn, buf->count, buf->attr);
	}
	buf->owner = NULL;
	region_post_event(&ev);
}

/*
 * Drop every userspace PTE of @buf in every process (the VMAs stay); the
 * next access faults and region_vm_fault() decides what it sees: the new
 * PFNs after MIGRATE, SIGBUS after REVOKE. Called with buf->lock held, so
 * no fault can insert a PTE of the old PFNs after this returns.
 */
static void region_zap_cpu(struct region_buffer *buf)
{
	lockdep_assert_held(&buf->lock);
	unmap_mapping_range(buf->dmabuf->file->f_mapping, 0, 0, 1);
}

/* ---- dma-buf exporter ---- */

static int region_attach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct region_buffer *buf = dmabuf->priv;
	struct region_attachment *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table(&a->sgt, 1, GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;

	mutex_lock(&buf->lock);
	if (buf->revoked) {
		mutex_unlock(&buf->lock);
		sg_free_table(&a->sgt);
		kfree(a);
		return -ENODEV;
	}
	attach->priv = a;
	list_add(&a->node, &buf->attachments);
	buf->nr_attach++;
	mutex_unlock(&buf->lock);
	return 0;
}

static void region_detach(struct dma_buf *dmabuf, struct dma_buf_attachment *attach)
{
	struct region_buffer *buf = dmabuf->priv;
	struct region_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	list_del(&a->node);
	buf->nr_attach--;
	mutex_unlock(&buf->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

static unsigned long region_dma_attrs(const struct region_buffer *buf)
{
	/* WC/UC CPU mappings leave nothing in the caches to maintain. */
	return buf->attr == DMABUFD_REGION_ATTR_CACHED ? 0 : DMA_ATTR_SKIP_CPU_SYNC;
}

static struct sg_table *region_map_dma_buf(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct region_buffer *buf = attach->dmabuf->priv;
	struct region_attachment *a = attach->priv;
	int ret;

	mutex_lock(&buf->lock);
	if (buf->revoked) {
		mutex_unlock(&buf->lock);
		return ERR_PTR(-ENODEV);
	}
	/* One entry for the whole buffer: the region is physically contiguous. */
	sg_set_page(a->sgt.sgl, pfn_to_page(buf->pfn), buf->count << PAGE_SHIFT, 0);
	ret = dma_map_sgtable(attach->dev, &a->sgt, dir, region_dma_attrs(buf));
	if (ret) {
		mutex_unlock(&buf->lock);
		return ERR_PTR(ret);
	}
	a->mapped = true;
	buf->map_count++;
	buf->last_nents = a->sgt.nents;
	buf->last_dma_addr = sg_dma_address(a->sgt.sgl);
	buf->last_dma_len = sg_dma_len(a->sgt.sgl);
	mutex_unlock(&buf->lock);
	return &a->sgt;
}

static void region_unmap_dma_buf(struct dma_buf_attachment *attach, struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	struct region_buffer *buf = attach->dmabuf->priv;
	struct region_attachment *a = attach->priv;

	mutex_lock(&buf->lock);
	a->mapped = false;
	mutex_unlock(&buf->lock);
	dma_unmap_sgtable(attach->dev, sgt, dir, region_dma_attrs(buf));
}

static int region_begin_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct region_buffer *buf = dmabuf->priv;
	struct region_attachment *a;

	if (READ_ONCE(buf->revoked))
		return -ENODEV;
	if (buf->attr != DMABUFD_REGION_ATTR_CACHED)
		return 0;
	mutex_lock(&buf->lock);
	if (buf->vaddr)
		invalidate_kernel_vmap_range(buf->vaddr, buf->count << PAGE_SHIFT);
	list_for_each_entry(a, &buf->attachments, node) {
		if (a->mapped)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, dir);
	}
	mutex_unlock(&buf->lock);
	return 0;
}

static int region_end_cpu_access(struct dma_buf *dmabuf, enum dma_data_direction dir)
{
	struct region_buffer *buf = dmabuf->priv;
	struct region_attachment *a;

	if (READ_ONCE(buf->revoked))
		return -ENODEV;
	if (buf->attr == DMABUFD_REGION_ATTR_WRITECOMBINE) {
		/* Drain the CPU's write-combining buffers before a device reads. */
		wmb();
		return 0;
	}
	if (buf->attr != DMABUFD_REGION_ATTR_CACHED)
		return 0;
	mutex_lock(&buf->lock);
	if (buf->vaddr)
		flush_kernel_vmap_range(buf->vaddr, buf->count << PAGE_SHIFT);
	list_for_each_entry(a, &buf->attachments, node) {
		if (a->mapped)
			dma_sync_sgtable_for_device(a->dev, &a->sgt, dir);
	}
	mutex_unlock(&buf->lock);
	return 0;
}

static vm_fault_t region_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct region_buffer *buf = vma->vm_private_data;
	vm_fault_t ret;

	mutex_lock(&buf->lock);
	/* Revoked: the pages belong to the region again (maybe to another
	 * buffer); this mapping never reaches them again. */
	if (buf->revoked || vmf->pgoff >= buf->count) {
		mutex_unlock(&buf->lock);
		return VM_FAULT_SIGBUS;
	}
	/* The page's linear map already has buf->attr (set before export);
	 * map with the same attribute, never another one. */
	ret = vmf_insert_pfn_prot(vma, vmf->address, buf->pfn + vmf->pgoff,
				  region_attr_prot(buf->attr, vma->vm_page_prot));
	mutex_unlock(&buf->lock);
	return ret;
}

static void region_vm_open(struct vm_area_struct *vma)
{
	struct region_buffer *buf = vma->vm_private_data;

	mutex_lock(&buf->lock);
	buf->nr_mmap++;
	mutex_unlock(&buf->lock);
}

static void region_vm_close(struct vm_area_struct *vma)
{
	struct region_buffer *buf = vma->vm_private_data;

	mutex_lock(&buf->lock);
	buf->nr_mmap--;
	mutex_unlock(&buf->lock);
}

static const struct vm_operations_struct region_vm_ops = {
	.open = region_vm_open,
	.close = region_vm_close,
	.fault = region_vm_fault,
};

static int region_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct region_buffer *buf = dmabuf->priv;

	/* A private (COW) mapping would put cached anonymous copies of the
	 * buffer's pages next to the attribute-mapped original. The dma-buf
	 * core already bounds vm_pgoff + size by the buffer size. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* A REVOKE racing with this mmap is caught by the fault handler. */
	if (READ_ONCE(buf->revoked))
		return -ENODEV;
	region_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = region_attr_prot(buf->attr, vma->vm_page_prot);
	vma->vm_ops = &region_vm_ops;
	vma->vm_private_data = buf;
	region_vm_open(vma);
	return 0;
}

static int region_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct region_buffer *buf = dmabuf->priv;
	struct page **pages;
	unsigned long i;
	void *vaddr;

	mutex_lock(&buf->lock);
	if (buf->revoked) {
		mutex_unlock(&buf->lock);
		return -ENODEV;
	}
	if (buf->nr_vmap) {
		buf->nr_vmap++;
		iosys_map_set_vaddr(map, buf->vaddr);
		mutex_unlock(&buf->lock);
		return 0;
	}
	pages = kvmalloc_array(buf->count, sizeof(*pages), GFP_KERNEL);
	if (!pages) {
		mutex_unlock(&buf->lock);
		return -ENOMEM;
	}
	for (i = 0; i < buf->count; i++)
		pages[i] = pfn_to_page(buf->pfn + i);
	vaddr = vmap(pages, buf->count, VM_MAP, dmabufd_arch_pgprot_kernel(buf->attr, PAGE_KERNEL));
	kvfree(pages);
	if (!vaddr) {
		mutex_unlock(&buf->lock);
		return -ENOMEM;
	}
	buf->vaddr = vaddr;
	buf->nr_vmap = 1;
	iosys_map_set_vaddr(map, vaddr);
	mutex_unlock(&buf->lock);
	return 0;
}

static void region_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct region_buffer *buf = dmabuf->priv;

	mutex_lock(&buf->lock);
	if (!WARN_ON_ONCE(buf->nr_vmap == 0) && --buf->nr_vmap == 0) {
		vunmap(buf->vaddr);
		buf->vaddr = NULL;
	}
	mutex_unlock(&buf->lock);
	iosys_map_clear(map);
}

/*
 * The last reference (fd, mmap, attachment, vmap) is gone: give the pages
 * back, unless REVOKE already did. The only place a buffer is freed.
 */
static void region_release(struct dma_buf *dmabuf)
{
	struct region_buffer *buf = dmabuf->priv;

	mutex_lock(&region.lock);
	if (buf->revoked)
		region.nr_revoked--; /* a husk: pages and event went at REVOKE */
	else
		region_return_pages(buf);
	mutex_unlock(&region.lock);

	kfree(buf->park); /* not parked: the file was closed first */
	mutex_destroy(&buf->lock);
	kfree(buf);
}

static const struct dma_buf_ops region_dmabuf_ops = {
	.attach = region_attach,
	.detach = region_detach,
	.map_dma_buf = region_map_dma_buf,
	.unmap_dma_buf = region_unmap_dma_buf,
	.begin_cpu_access = region_begin_cpu_access,
	.end_cpu_access = region_end_cpu_access,
	.mmap = region_mmap,
	.vmap = region_vmap,
	.vunmap = region_vunmap,
	.release = region_release,
};

/* ---- ioctls ---- */

/*
 * Read an extensible struct whose first member is "__u32 size"
 * (copy_struct_from_user() semantics). Returns the caller's size in
 * @ret_usize.
 */
static int region_copy_in(void *karg, size_t ksize, size_t ver0, void __user *uarg,
			  u32 *ret_usize)
{
	u32 usize;
	int ret;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < ver0 || usize > REGION_MAX_STRUCT)
		return -EINVAL;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	*ret_usize = usize;
	return 0;
}

static int region_copy_out(void __user *uarg, const void *karg, size_t ksize, u32 usize)
{
	return copy_to_user(uarg, karg, min_t(size_t, ksize, usize)) ? -EFAULT : 0;
}

static int region_range_ok(u64 page_offset, u64 page_count)
{
	if (page_count == 0 || page_offset >= region.count ||
	    page_count > region.count - page_offset)
		return -EINVAL;
	return 0;
}

static long region_ioctl_info(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_info info;
	u32 usize;
	int ret;

	ret = region_copy_in(&info, sizeof(info), DMABUFD_REGION_INFO_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	memset(&info, 0, sizeof(info));
	info.size = usize;
	info.api_version = DMABUFD_REGION_API_VERSION;
	info.page_size = PAGE_SIZE;
	info.caps = DMABUFD_REGION_CAP_WRITECOMBINE | DMABUFD_REGION_CAP_UNCACHED |
		    DMABUFD_REGION_CAP_MIGRATE | DMABUFD_REGION_CAP_EVENTS |
		    DMABUFD_REGION_CAP_REVOKE | DMABUFD_REGION_CAP_PARK;
	if (READ_ONCE(occupancy))
		info.caps |= DMABUFD_REGION_CAP_OCCUPANCY;
	info.max_buffers = max_buffers;
	info.max_buffer_pages = region_max_buffer_pages();

	mutex_lock(&region.lock);
	info.base_pfn = region.base_pfn;
	info.page_count = region.count;
	if (region.movable_zone)
		info.caps |= DMABUFD_REGION_CAP_MOVABLE_ZONE;
	info.nr_buffers = region.nr_buffers;
	info.claimed_pages = region.claimed;
	info.attr_transitions = region.transitions;
	info.migrations = region.migrations;
	info.revocations = region.revocations;
	info.revoked_buffers = region.nr_revoked;
	info.parked_pages = region.parked_pages;
	mutex_unlock(&region.lock);

	return region_copy_out(uarg, &info, sizeof(info), usize);
}

/* The checks of EXPORT that need no lock: flags, attribute, reserved and
 * output fields zero, a NUL-terminated label, a range inside the region
 * and within the largest buffer. */
static int region_export_check(const struct dmabufd_region_export *arg)
{
	if (arg->flags & ~DMABUFD_REGION_EXPORT_FLAGS)
		return -EINVAL;
	if (arg->attr >= DMABUFD_REGION_ATTR_COUNT)
		return -EINVAL;
	if (arg->reserved0 || arg->reserved1 || arg->id || arg->fd)
		return -EINVAL;
	if (strnlen(arg->label, sizeof(arg->label)) == sizeof(arg->label))
		return -EINVAL;
	if (region_range_ok(arg->page_offset, arg->page_count) ||
	    arg->page_count > region_max_buffer_pages())
		return -EINVAL;
	return 0;
}

/* A buffer described by a checked @arg, neither claimed nor exported:
 * freed with region_export_buffer_free() until it is exported. */
static struct region_buffer *region_export_buffer_new(const struct dmabufd_region_export *arg,
						      struct region_file *rf)
{
	struct region_buffer *buf;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return NULL;
	if (arg->flags & DMABUFD_REGION_EXPORT_PARK) {
		buf->park = kzalloc(sizeof(*buf->park), GFP_KERNEL);
		if (!buf->park) {
			kfree(buf);
			return NULL;
		}
		buf->owner = rf;
	}
	mutex_init(&buf->lock);
	INIT_LIST_HEAD(&buf->attachments);
	buf->count = arg->page_count;
	buf->attr = arg->attr;
	buf->flags = arg->flags;
	/* The NUL was checked; bytes after it are not kept. */
	strscpy(buf->label, arg->label, sizeof(buf->label));
	return buf;
}

static void region_export_buffer_free(struct region_buffer *buf)
{
	kfree(buf->park);
	mutex_destroy(&buf->lock);
	kfree(buf);
}

/* Never hand non-write-back pages to the page allocator: returns -EIO. */
static int region_export_leak(unsigned long pfn, u64 page_count)
{
	pr_err("cannot restore write-back: leaking PFNs %#lx+%llu\n", pfn, page_count);
	return -EIO;
}

/*
 * The pages of @arg for @buf (buf->pfn), zeroed, with @arg's attribute:
 * claimed, or, when the range lies inside a parked extent of @rf with the
 * same attribute, taken from it (*@ret_reused: that extent; the caller
 * cuts the range out of it once the buffer is exported, and has nothing
 * to undo before). Called with region.lock held. On failure nothing stays
 * claimed, except on -EIO: pages whose write-back could not be restored
 * are leaked.
 */
static int region_export_claim(struct region_buffer *buf,
			       const struct dmabufd_region_export *arg, struct region_file *rf,
			       struct region_parked **ret_reused)
{
	struct region_parked *p;
	unsigned long pfn;
	u64 t0, t1, t2;
	int ret;

	if (region.nr_buffers >= max_buffers)
		return -ENOSPC;
	pfn = region.base_pfn + arg->page_offset;
	if (region_find_overlap(pfn, arg->page_count))
		return -EBUSY;
	p = region_find_parked(pfn, arg->page_count);
	if (p) {
		/* Extents are disjoint: inside @p, no other one overlaps. */
		if (p->owner != rf || p->attr != arg->attr || pfn < p->pfn ||
		    pfn + arg->page_count > p->pfn + p->count)
			return -EBUSY;
		ret = region_zero_parked(pfn, arg->page_count, arg->attr);
		if (ret)
			return ret;
		buf->pfn = pfn;
		*ret_reused = p;
		return 0;
	}
	t0 = ktime_get_ns();
	ret = region_claim(pfn, arg->page_count);
	if (ret) {
		export_refused++;
		export_refused_ns += ktime_get_ns() - t0;
		return ret;
	}
	buf->pfn = pfn;
	t1 = ktime_get_ns();
	/* Zero through the cached mapping, before any attribute change. */
	region_zero(pfn, arg->page_count);
	t2 = ktime_get_ns();
	ret = region_set_attr(pfn, arg->page_count, arg->attr);
	export_claims++;
	export_claim_ns += t1 - t0;
	export_zero_ns += t2 - t1;
	export_attr_ns += ktime_get_ns() - t2;
	if (ret == -EIO)
		return region_export_leak(pfn, arg->page_count);
	if (ret)
		free_contig_range(pfn, arg->page_count);
	*ret_reused = NULL;
	return ret;
}

/*
 * Exports @buf, whose pages region_export_claim() provided, and records it
 * in the region (id, buffer list, counters); pages taken from the parked
 * extent @reused are cut out of it now. Called with region.lock held. On
 * failure the claim is undone (or its pages leaked, -EIO), reused pages
 * stay parked, and @buf is still the caller's.
 */
static struct dma_buf *region_export_dmabuf(struct region_buffer *buf,
					    const struct dmabufd_region_export *arg,
					    struct region_parked *reused,
					    struct region_parked **spare)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct dma_buf *dmabuf;

	exp_info.ops = &region_dmabuf_ops;
	exp_info.size = arg->page_count << PAGE_SHIFT;
	exp_info.flags = O_RDWR | O_CLOEXEC;
	exp_info.priv = buf;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		if (reused)
			return dmabuf;
		if (region_clear_attr(buf->pfn, arg->page_count, arg->attr))
			return ERR_PTR(region_export_leak(buf->pfn, arg->page_count));
		free_contig_range(buf->pfn, arg->page_count);
		return dmabuf;
	}
	if (reused)
		region_parked_cut(reused, buf->pfn, arg->page_count, spare);
	if (buf->label[0])
		dmabuf->name = kstrdup(buf->label, GFP_KERNEL); /* freed by the core */
	buf->dmabuf = dmabuf;
	buf->id = ++region.next_id;
	region_insert_sorted(buf);
	region.nr_buffers++;
	region.claimed += buf->count;
	return dmabuf;
}

static long region_ioctl_export(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_export arg;
	struct region_parked *reused, *spare;
	struct region_buffer *buf;
	struct dma_buf *dmabuf;
	u32 usize;
	int fd, ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_EXPORT_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	ret = region_export_check(&arg);
	if (ret)
		return ret;
	buf = region_export_buffer_new(&arg, rf);
	if (!buf)
		return -ENOMEM;
	/* Reusing the middle of a parked extent leaves two pieces of it. */
	spare = kzalloc(sizeof(*spare), GFP_KERNEL);
	if (!spare) {
		ret = -ENOMEM;
		goto err_free_buf;
	}
	fd = get_unused_fd_flags(O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto err_free_spare;
	}

	mutex_lock(&region.lock);
	ret = region_export_claim(buf, &arg, rf, &reused);
	if (ret)
		goto err_unlock;
	dmabuf = region_export_dmabuf(buf, &arg, reused, &spare);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_unlock;
	}
	mutex_unlock(&region.lock);
	kfree(spare);

	/* From here on the buffer is freed only by region_release(). */
	arg.id = buf->id;
	arg.fd = fd;
	ret = region_copy_out(uarg, &arg, sizeof(arg), usize);
	if (ret) {
		put_unused_fd(fd);
		dma_buf_put(dmabuf);
		return ret;
	}
	fd_install(fd, dmabuf->file);
	return 0;

err_unlock:
	mutex_unlock(&region.lock);
	put_unused_fd(fd);
err_free_spare:
	kfree(spare);
err_free_buf:
	region_export_buffer_free(buf);
	return ret;
}

static long region_ioctl_migrate(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_migrate arg;
	struct region_buffer *buf;
	unsigned long new_pfn, old_pfn, count;
	u32 usize;
	int ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_MIGRATE_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	if (arg.flags || arg.old_page_offset)
		return -EINVAL;

	mutex_lock(&region.lock);
	buf = region_find_id(arg.id);
	if (!buf) {
		ret = -ENOENT;
		goto out_unlock;
	}
	count = buf->count;
	if (!(buf->flags & DMABUFD_REGION_EXPORT_MOVABLE) ||
	    region_range_ok(arg.new_page_offset, count)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	new_pfn = region.base_pfn + arg.new_page_offset;
	if (region_find_overlap(new_pfn, count) || region_find_parked(new_pfn, count)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	/* Cheap early check; repeated under buf->lock below. */
	if (READ_ONCE(buf->nr_attach) || READ_ONCE(buf->nr_vmap)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = region_claim(new_pfn, count);
	if (ret)
		goto out_unlock;

	mutex_lock(&buf->lock);
	if (buf->nr_attach || buf->nr_vmap) {
		ret = -EBUSY;
		goto err_unclaim;
	}
	/* Faults now wait on buf->lock; drop every userspace PTE so that the
	 * next access faults in the new PFNs. */
	region_zap_cpu(buf);
	old_pfn = buf->pfn;
	if (buf->attr != DMABUFD_REGION_ATTR_CACHED) {
		/* arm64: drop lines of the old pages cached through the linear
		 * map before reading it. */
		ret = dmabufd_arch_kernel_read_begin(old_pfn, count, buf->attr);
		if (ret)
			goto err_unclaim;
	}
	/* New pages are write-back: copy through the cached mapping, then
	 * flush and switch them to the buffer's attribute. */
	memcpy(region_pfn_vaddr(new_pfn), region_pfn_vaddr(old_pfn), count << PAGE_SHIFT);
	ret = region_set_attr(new_pfn, count, buf->attr);
	if (ret == -EIO) {
		pr_err("cannot restore write-back: leaking PFNs %#lx+%lu\n", new_pfn, count);
		mutex_unlock(&buf->lock);
		goto out_unlock;
	}
	if (ret)
		goto err_unclaim;
	buf->pfn = new_pfn;
	mutex_unlock(&buf->lock);

	list_del(&buf->node);
	region_insert_sorted(buf);
	region.migrations++;
	region_free_pages(old_pfn, count, buf->attr);
	mutex_unlock(&region.lock);

	arg.old_page_offset = old_pfn - region.base_pfn;
	return region_copy_out(uarg, &arg, sizeof(arg), usize);

err_unclaim:
	mutex_unlock(&buf->lock);
	free_contig_range(new_pfn, count);
out_unlock:
	mutex_unlock(&region.lock);
	return ret;
}

/*
 * REVOKE: take the pages of a live buffer back while fds of it are still
 * open. Nothing may reach the pages afterwards: CPU mappings are zapped and
 * fault to SIGBUS, new mmap/vmap/attach/map_attachment and CPU-access
 * brackets are -ENODEV. A device mapping or kernel vmap cannot be taken
 * back (the exporter is not dynamic: the dma-buf core keeps even a dynamic
 * importer's mapping from attach to detach), so either one makes REVOKE
 * -EBUSY with nothing changed. Then the pages go back exactly as at
 * release() (region_return_pages(): write-back, page allocator, RELEASED
 * event) and the dma-buf stays as a husk until its last reference is gone.
 */
static long region_ioctl_revoke(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_revoke arg;
	struct region_attachment *a;
	struct region_buffer *buf;
	struct dma_resv *resv;
	u32 usize;
	int ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_REVOKE_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	if (arg.flags || arg.page_offset || arg.page_count)
		return -EINVAL;

	mutex_lock(&region.lock);
	buf = region_find_id(arg.id); /* revoked buffers are off the list */
	if (!buf) {
		ret = -ENOENT;
		goto out_unlock;
	}
	/* The dmabuf outlives region.lock here: release() needs region.lock. */
	resv = buf->dmabuf->resv;
	dma_resv_lock(resv, NULL);
	mutex_lock(&buf->lock);
	if (buf->nr_vmap) {
		ret = -EBUSY;
		goto out_unlock_buf;
	}
	list_for_each_entry(a, &buf->attachments, node) {
		if (a->mapped) {
			ret = -EBUSY;
			goto out_unlock_buf;
		}
	}
	/* Past this point nothing fails. */
	buf->revoked = true;
	region_zap_cpu(buf);
	mutex_unlock(&buf->lock);
	/* Dynamic importers drop their (unmapped) attachments' state; their
	 * next map_attachment is -ENODEV. Required under the resv lock. */
	dma_buf_move_notify(buf->dmabuf);
	dma_resv_unlock(resv);

	arg.page_offset = buf->pfn - region.base_pfn;
	arg.page_count = buf->count;
	region_return_pages(buf);
	region.revocations++;
	region.nr_revoked++;
	mutex_unlock(&region.lock);
	return region_copy_out(uarg, &arg, sizeof(arg), usize);

out_unlock_buf:
	mutex_unlock(&buf->lock);
	dma_resv_unlock(resv);
out_unlock:
	mutex_unlock(&region.lock);
	return ret;
}

/*
 * UNPARK: every parked page of the calling file in the range goes back to
 * write-back and to the page allocator (region_unpark()).
 */
static long region_ioctl_unpark(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_unpark arg;
	struct region_parked *spare;
	u32 usize;
	int ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_UNPARK_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	if (arg.flags || arg.returned_pages || region_range_ok(arg.page_offset, arg.page_count))
		return -EINVAL;
	spare = kzalloc(sizeof(*spare), GFP_KERNEL);
	if (!spare)
		return -ENOMEM;
	mutex_lock(&region.lock);
	arg.returned_pages = region_unpark(rf, region.base_pfn + arg.page_offset, arg.page_count,
					   &spare);
	mutex_unlock(&region.lock);
	kfree(spare);
	return region_copy_out(uarg, &arg, sizeof(arg), usize);
}

/*
 * Copy @n kernel entries of @ksize bytes to a user array of entries of
 * @entry_size bytes (each truncated or zero-extended).
 */
static int region_copy_entries(u64 uptr, u32 entry_size, const void *kentries, size_t ksize,
			       unsigned int n)
{
	void __user *dst = u64_to_user_ptr(uptr);
	size_t len = min_t(size_t, ksize, entry_size);
	unsigned int i;

	for (i = 0; i < n; i++, dst += entry_size) {
		if (copy_to_user(dst, (const char *)kentries + i * ksize, len))
			return -EFAULT;
		if (entry_size > len && clear_user(dst + len, entry_size - len))
			return -EFAULT;
	}
	return 0;
}

/* Shared checks of LIST and ATTRS (same layout of the head). */
static int region_array_args_ok(u32 flags, u32 reserved, u32 entry_size, u32 capacity)
{
	if (flags || reserved)
		return -EINVAL;
	if (capacity && (entry_size < 8 || entry_size > REGION_MAX_ENTRY))
		return -EINVAL;
	return 0;
}

static long region_ioctl_list(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_list arg;
	struct dmabufd_region_buffer *ents = NULL;
	struct region_buffer *buf;
	unsigned int n = 0, total;
	u32 usize;
	int ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_LIST_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	ret = region_array_args_ok(arg.flags, arg.reserved0, arg.entry_size, arg.capacity);
	if (ret)
		return ret;
	if (arg.count)
		return -EINVAL;

	mutex_lock(&region.lock);
	total = region.nr_buffers;
	if (arg.capacity && total) {
		ents = kvcalloc(min(total, arg.capacity), sizeof(*ents), GFP_KERNEL);
		if (!ents) {
			mutex_unlock(&region.lock);
			return -ENOMEM;
		}
	}
	list_for_each_entry(buf, &region.buffers, node) {
		struct dmabufd_region_buffer *e;

		if (n >= arg.capacity)
			break;
		e = &ents[n++];
		e->id = buf->id;
		e->page_count = buf->count;
		e->attr = buf->attr;
		e->flags = buf->flags;
		memcpy(e->label, buf->label, sizeof(e->label));
		mutex_lock(&buf->lock);
		e->page_offset = buf->pfn - region.base_pfn;
		e->attachments = buf->nr_attach;
		e->mmaps = buf->nr_mmap;
		e->vmaps = buf->nr_vmap;
		e->map_count = buf->map_count;
		e->last_map_nents = buf->last_nents;
		e->last_map_dma_addr = buf->last_dma_addr;
		e->last_map_dma_len = buf->last_dma_len;
		mutex_unlock(&buf->lock);
	}
	mutex_unlock(&region.lock);

	ret = region_copy_entries(arg.entries_ptr, arg.entry_size, ents, sizeof(*ents), n);
	kvfree(ents);
	if (ret)
		return ret;
	arg.count = total;
	return region_copy_out(uarg, &arg, sizeof(arg), usize);
}

static long region_ioctl_attrs(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_attrs arg;
	struct dmabufd_region_attr_range *ents = NULL;
	struct region_buffer *buf;
	struct region_parked *p;
	unsigned int n = 0, total = 0, cap, nr_parked = 0;
	unsigned long next = 0; /* page offset covered so far */
	u32 usize;
	int ret;

	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_ATTRS_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	ret = region_array_args_ok(arg.flags, arg.reserved0, arg.entry_size, arg.capacity);
	if (ret)
		return ret;
	if (arg.count)
		return -EINVAL;

	mutex_lock(&region.lock);
	list_for_each_entry(p, &region.parked, node)
		nr_parked++;
	/* At most one free range before each buffer or parked extent, plus a
	 * trailing one. */
	cap = min_t(unsigned long, arg.capacity,
		    2 * ((unsigned long)region.nr_buffers + nr_parked) + 1);
	if (cap) {
		ents = kvcalloc(cap, sizeof(*ents), GFP_KERNEL);
		if (!ents) {
			mutex_unlock(&region.lock);
			return -ENOMEM;
		}
	}
#define EMIT(off, cnt, a, st, bid) do {						\
		if (n < cap)							\
			ents[n++] = (struct dmabufd_region_attr_range){		\
				.page_offset = (off), .page_count = (cnt),	\
				.attr = (a), .state = (st), .buffer_id = (bid) }; \
		total++;							\
	} while (0)
	/* Both lists are sorted by pfn and disjoint: merge them. */
	buf = list_first_entry_or_null(&region.buffers, struct region_buffer, node);
	p = list_first_entry_or_null(&region.parked, struct region_parked, node);
	while (buf || p) {
		unsigned long off;

		if (buf && (!p || buf->pfn < p->pfn)) {
			off = buf->pfn - region.base_pfn;
			if (off > next)
				EMIT(next, off - next, DMABUFD_REGION_ATTR_CACHED,
				     DMABUFD_REGION_STATE_FREE, 0);
			EMIT(off, buf->count, buf->attr, DMABUFD_REGION_STATE_BUFFER, buf->id);
			next = off + buf->count;
			buf = list_is_last(&buf->node, &region.buffers) ? NULL :
			      list_next_entry(buf, node);
		} else {
			off = p->pfn - region.base_pfn;
			if (off > next)
				EMIT(next, off - next, DMABUFD_REGION_ATTR_CACHED,
				     DMABUFD_REGION_STATE_FREE, 0);
			EMIT(off, p->count, p->attr, DMABUFD_REGION_STATE_PARKED, 0);
			next = off + p->count;
			p = list_is_last(&p->node, &region.parked) ? NULL : list_next_entry(p, node);
		}
	}
	if (next < region.count)
		EMIT(next, region.count - next, DMABUFD_REGION_ATTR_CACHED,
		     DMABUFD_REGION_STATE_FREE, 0);
#undef EMIT
	mutex_unlock(&region.lock);

	ret = region_copy_entries(arg.ranges_ptr, arg.entry_size, ents, sizeof(*ents), n);
	kvfree(ents);
	if (ret)
		return ret;
	arg.count = total;
	return region_copy_out(uarg, &arg, sizeof(arg), usize);
}

/* ---- OCCUPANCY ---- */

/* Fields of struct dmabufd_region_granule, for region_occ_add(). */
enum region_occ_kind { OCC_FREE, OCC_RECLAIM, OCC_COPY, OCC_BUSY, OCC_CLAIMED };

/* State of one OCCUPANCY walk: the range and its granule counts. */
struct region_occ {
	unsigned long start;		/* first PFN of the range */
	unsigned long end;		/* PFN after it */
	unsigned long granule;		/* pages per entry */
	struct dmabufd_region_granule *ents; /* ceil((end - start) / granule) */
	/* The granule the walk is in (PFNs only grow): no division per page. */
	unsigned long cur;		/* its index */
	unsigned long cur_end;		/* the PFN after it */
};

/* Adds [pfn, pfn + n), clipped to the range, to the granules it covers. */
static void region_occ_add(struct region_occ *occ, unsigned long pfn, unsigned long n,
			   enum region_occ_kind kind)
{
	unsigned long end = min(pfn + n, occ->end);

	while (pfn < end) {
		struct dmabufd_region_granule *g;
		unsigned long gend;
		u32 k;

		while (pfn >= occ->cur_end) {
			occ->cur++;
			occ->cur_end += occ->granule;
		}
		g = &occ->ents[occ->cur];
		gend = min(occ->cur_end, end);
		k = gend - pfn;
		switch (kind) {
		case OCC_FREE: g->free += k; break;
		case OCC_RECLAIM: g->reclaim += k; break;
		case OCC_COPY: g->copy += k; break;
		case OCC_BUSY: g->busy += k; break;
		case OCC_CLAIMED: g->claimed += k; break;
		}
		pfn = gend;
	}
}

/*
 * Pages a racy read says form one block at @pfn: @order from a buddy or
 * compound page's metadata, which may change (or be garbage) meanwhile.
 * Trusted only when @pfn is aligned to it; never past @end. At least 1.
 */
static unsigned long region_occ_span(unsigned long pfn, unsigned long end, unsigned int order)
{
	unsigned long n;

	if (order == 0 || order >= BITS_PER_LONG / 2)
		return 1;
	n = 1UL << order;
	if (pfn & (n - 1))
		return 1;
	return min(n, end - pfn);
}

/*
 * What a claim would do with the page at @pfn (not in a module buffer):
 * *@ret_n gets the pages from @pfn on that share its fate (a free buddy
 * block or a large folio met at its head), clipped to @end. Unlocked reads
 * of pages the module does not own and no references: the page may change
 * owner at any moment, so the answer is a hint (see
 * DMABUFD_REGION_IOC_OCCUPANCY). Only flags and counts are read, never
 * pointers from them, except compound_head(), which is what
 * region_busy_reason() reads too. @pfn's memory section is online
 * (region_occ_walk() checks each section once).
 */
static enum region_occ_kind region_occ_page(unsigned long pfn, unsigned long end,
					    unsigned long *ret_n)
{
	struct page *page = pfn_to_page(pfn);
	struct folio *folio;

	*ret_n = 1;
	if (PageBuddy(page)) {
		/* A buddy page's order is in page->private. */
		*ret_n = region_occ_span(pfn, end, READ_ONCE(page->private));
		return OCC_FREE;
	}
	if (PageReserved(page))
		return OCC_BUSY;
	folio = page_folio(page);
	if (&folio->page == page && folio_test_large(folio))
		*ret_n = region_occ_span(pfn, end, folio_order(folio));
	if (folio_test_hugetlb(folio))
		return OCC_COPY;
	if (!folio_ref_count(folio))
		return OCC_FREE;	/* on its way to or from the allocator */
	if (folio_maybe_dma_pinned(folio))
		return OCC_BUSY;
	if (folio_test_lru(folio)) {
		if (!folio_test_swapbacked(folio) && !folio_test_dirty(folio) &&
		    !folio_test_writeback(folio) && !folio_test_unevictable(folio) &&
		    !folio_mapped(folio))
			return OCC_RECLAIM;
		return OCC_COPY;
	}
	if (__PageMovable(&folio->page))
		return OCC_COPY;
	return OCC_BUSY;
}

/*
 * The first span the module holds (a buffer or a parked extent) that ends
 * after @pfn, from the cursors *@buf and *@p into the two pfn-sorted lists
 * (advanced past spans that end at or before @pfn). Returns false when
 * there is none; otherwise *@start and *@end bound it.
 */
static bool region_occ_next_held(unsigned long pfn, struct region_buffer **buf,
				 struct region_parked **p, unsigned long *start,
				 unsigned long *end)
{
	while (*buf && (*buf)->pfn + (*buf)->count <= pfn)
		*buf = list_is_last(&(*buf)->node, &region.buffers) ? NULL :
		       list_next_entry(*buf, node);
	while (*p && (*p)->pfn + (*p)->count <= pfn)
		*p = list_is_last(&(*p)->node, &region.parked) ? NULL :
		     list_next_entry(*p, node);
	if (!*buf && !*p)
		return false;
	/* Buffers and parked extents never overlap: the lower one is first. */
	if (*buf && (!*p || (*buf)->pfn < (*p)->pfn)) {
		*start = (*buf)->pfn;
		*end = (*buf)->pfn + (*buf)->count;
	} else {
		*start = (*p)->pfn;
		*end = (*p)->pfn + (*p)->count;
	}
	return true;
}

/*
 * Fills @occ->ents for [occ->start, occ->end): the module's buffers and
 * parked extents from region.buffers and region.parked (exact, "claimed"),
 * every other page by region_occ_page(). Called with region.lock held;
 * both lists are sorted by pfn.
 */
static void region_occ_walk(struct region_occ *occ)
{
	struct region_buffer *buf = list_first_entry_or_null(&region.buffers,
							     struct region_buffer, node);
	struct region_parked *p = list_first_entry_or_null(&region.parked,
							   struct region_parked, node);
	unsigned long pfn = occ->start, n, steps = 0;
	unsigned long section_end = 0;	/* PFN after the section checked online */
	unsigned long held_start, held_end;
	enum region_occ_kind kind;
	bool held;

	occ->cur = 0;
	occ->cur_end = occ->start + occ->granule;
	while (pfn < occ->end) {
		held = region_occ_next_held(pfn, &buf, &p, &held_start, &held_end);
		if (held && held_start <= pfn) {
			n = held_end - pfn;
			kind = OCC_CLAIMED;
		} else if (pfn >= section_end && !pfn_to_online_page(pfn)) {
			/* Offlined (memory hot-unplug): nothing to read, nothing to claim. */
			n = min(ALIGN(pfn + 1, PAGES_PER_SECTION), occ->end) - pfn;
			kind = OCC_BUSY;
		} else {
			section_end = ALIGN(pfn + 1, PAGES_PER_SECTION);
			kind = region_occ_page(pfn, min(occ->end, section_end), &n);
			/* A racy span never runs into a held one. */
			if (held && pfn + n > held_start)
				n = held_start - pfn;
		}
		region_occ_add(occ, pfn, n, kind);
		pfn += n;
		if ((++steps & 1023) == 0)
			cond_resched();
	}
}

/* The checks of OCCUPANCY that need no lock. Returns the entry count. */
static long region_occupancy_check(struct dmabufd_region_occupancy *arg)
{
	u64 count;

	if (arg->flags || arg->reserved0 || arg->count || arg->pageblock_pages)
		return -EINVAL;
	if (arg->capacity && (arg->entry_size < 8 || arg->entry_size > REGION_MAX_ENTRY))
		return -EINVAL;
	if (region_range_ok(arg->page_offset, arg->page_count))
		return -EINVAL;
	if (!arg->granule_pages)
		arg->granule_pages = pageblock_nr_pages;
	count = div_u64(arg->page_count + arg->granule_pages - 1, arg->granule_pages);
	if (count > DMABUFD_REGION_OCCUPANCY_MAX_ENTRIES)
		return -EINVAL;
	return count;
}

static long region_ioctl_occupancy(struct region_file *rf, void __user *uarg)
{
	struct dmabufd_region_occupancy arg;
	struct region_occ occ;
	unsigned int n;
	long count;
	u32 usize;
	int ret;

	if (!READ_ONCE(occupancy))
		return -ENOTTY;
	ret = region_copy_in(&arg, sizeof(arg), DMABUFD_REGION_OCCUPANCY_SIZE_VER0, uarg, &usize);
	if (ret)
		return ret;
	count = region_occupancy_check(&arg);
	if (count < 0)
		return count;
	/* The walk counts whole granules: no partial answer for a small array. */
	occ.ents = kvcalloc(count, sizeof(*occ.ents), GFP_KERNEL);
	if (!occ.ents)
		return -ENOMEM;
	occ.start = region.base_pfn + arg.page_offset;
	occ.end = occ.start + arg.page_count;
	occ.granule = arg.granule_pages;

	mutex_lock(&region.lock);
	region_occ_walk(&occ);
	mutex_unlock(&region.lock);

	n = min_t(unsigned long, count, arg.capacity);
	ret = region_copy_entries(arg.entries_ptr, arg.entry_size, occ.ents, sizeof(*occ.ents), n);
	kvfree(occ.ents);
	if (ret)
		return ret;
	arg.count = count;
	arg.pageblock_pages = pageblock_nr_pages;
	return region_copy_out(uarg, &arg, sizeof(arg), usize);
}

static long region_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	/* @rf: the calling open file (owner of parked extents). */
	static long (*const handlers[])(struct region_file *rf, void __user *) = {
		[_IOC_NR(DMABUFD_REGION_IOC_INFO)] = region_ioctl_info,
		[_IOC_NR(DMABUFD_REGION_IOC_EXPORT)] = region_ioctl_export,
		[_IOC_NR(DMABUFD_REGION_IOC_MIGRATE)] = region_ioctl_migrate,
		[_IOC_NR(DMABUFD_REGION_IOC_LIST)] = region_ioctl_list,
		[_IOC_NR(DMABUFD_REGION_IOC_ATTRS)] = region_ioctl_attrs,
		[_IOC_NR(DMABUFD_REGION_IOC_REVOKE)] = region_ioctl_revoke,
		[_IOC_NR(DMABUFD_REGION_IOC_UNPARK)] = region_ioctl_unpark,
		[_IOC_NR(DMABUFD_REGION_IOC_OCCUPANCY)] = region_ioctl_occupancy,
	};
	unsigned int nr = _IOC_NR(cmd);

	/* The size bits of @cmd are ignored: the struct's size field rules. */
	if (_IOC_TYPE(cmd) != DMABUFD_REGION_IOC_MAGIC ||
	    _IOC_DIR(cmd) != (_IOC_READ | _IOC_WRITE) || nr >= ARRAY_SIZE(handlers))
		return -ENOTTY;
	nr = array_index_nospec(nr, ARRAY_SIZE(handlers));
	if (!handlers[nr])
		return -ENOTTY;
	return handlers[nr](file->private_data, uarg);
}

/* ---- event file ---- */

static int region_open(struct inode *inode, struct file *file)
{
	struct region_file *rf;

	rf = kvzalloc(sizeof(*rf), GFP_KERNEL);
	if (!rf)
		return -ENOMEM;
	spin_lock_init(&rf->ev_lock);
	mutex_init(&rf->read_lock);
	init_waitqueue_head(&rf->wq);
	mutex_lock(&region.lock);
	list_add(&rf->node, &region.files);
	mutex_unlock(&region.lock);
	file->private_data = rf;
	return nonseekable_open(inode, file);
}

/*
 * The file's parked extents go back to the page allocator; its live
 * EXPORT_PARK buffers will free their pages at release instead of parking
 * them (nobody could unpark them).
 */
static int region_file_release(struct inode *inode, struct file *file)
{
	struct region_file *rf = file->private_data;
	struct region_buffer *buf;

	mutex_lock(&region.lock);
	/* Whole extents only over the whole region: no split, no spare. */
	region_unpark(rf, region.base_pfn, region.count, NULL);
	list_for_each_entry(buf, &region.buffers, node) {
		if (buf->owner == rf)
			buf->owner = NULL;
	}
	list_del(&rf->node);
	mutex_unlock(&region.lock);
	mutex_destroy(&rf->read_lock);
	kvfree(rf);
	return 0;
}

static bool region_file_pending(struct region_file *rf)
{
	bool ret;

	spin_lock(&rf->ev_lock);
	ret = rf->len > 0;
	spin_unlock(&rf->ev_lock);
	return ret;
}

static ssize_t region_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	struct region_file *rf = file->private_data;
	struct dmabufd_region_event ev;
	size_t done = 0;
	int ret;

	if (len < sizeof(ev))
		return -EINVAL;
	ret = mutex_lock_interruptible(&rf->read_lock);
	if (ret)
		return ret;
	while (!region_file_pending(rf)) {
		mutex_unlock(&rf->read_lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(rf->wq, region_file_pending(rf));
		if (ret)
			return ret;
		ret = mutex_lock_interruptible(&rf->read_lock);
		if (ret)
			return ret;
	}
	while (done + sizeof(ev) <= len) {
		spin_lock(&rf->ev_lock);
		if (!rf->len) {
			spin_unlock(&rf->ev_lock);
			break;
		}
		ev = rf->ring[rf->head];
		spin_unlock(&rf->ev_lock);
		if (copy_to_user(ubuf + done, &ev, sizeof(ev))) {
			mutex_unlock(&rf->read_lock);
			return done ? done : -EFAULT;
		}
		/* Consume only what reached the reader. */
		spin_lock(&rf->ev_lock);
		rf->head = (rf->head + 1) % REGION_EVENT_QUEUE_LEN;
		rf->len--;
		if (ev.type == DMABUFD_REGION_EVENT_OVERFLOW)
			rf->overflowed = false;
		spin_unlock(&rf->ev_lock);
		done += sizeof(ev);
	}
	mutex_unlock(&rf->read_lock);
	return done;
}

static __poll_t region_poll(struct file *file, poll_table *wait)
{
	struct region_file *rf = file->private_data;

	poll_wait(file, &rf->wq, wait);
	return region_file_pending(rf) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct file_operations region_fops = {
	.owner = THIS_MODULE,
	.open = region_open,
	.release = region_file_release,
	.read = region_read,
	.poll = region_poll,
	.unlocked_ioctl = region_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	/* nonseekable_open() makes the file unseekable. */
};

static struct miscdevice region_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dmabufd-region",
	.fops = &region_fops,
	.mode = 0600,
};

/* ---- module ---- */

static int __init region_pick(void)
{
	struct zone *zone, *z;
	unsigned long pfn, end;

	if (!base_pfn) {
		zone = &NODE_DATA(0)->node_zones[ZONE_MOVABLE];
		if (!populated_zone(zone)) {
			pr_err("node 0 has no ZONE_MOVABLE (boot with movablecore=) and base_pfn is 0\n");
			return -ENODEV;
		}
		base_pfn = zone->zone_start_pfn;
	}
	if (!pfn_valid(base_pfn)) {
		pr_err("base_pfn %#lx is not a valid PFN\n", base_pfn);
		return -EINVAL;
	}
	zone = page_zone(pfn_to_page(base_pfn));
	end = zone_end_pfn(zone);
	if (!nr_pages)
		nr_pages = end - base_pfn;
	if (nr_pages > end - base_pfn) {
		pr_err("region %#lx+%lu crosses the end of zone %s\n", base_pfn, nr_pages,
		       zone->name);
		return -EINVAL;
	}
	/* alloc_contig_range() works within one zone; no holes either. */
	for (pfn = base_pfn; pfn < base_pfn + nr_pages; pfn++) {
		if (!pfn_valid(pfn)) {
			pr_err("region has a hole at PFN %#lx\n", pfn);
			return -EINVAL;
		}
		z = page_zone(pfn_to_page(pfn));
		if (z != zone) {
			pr_err("region crosses zones at PFN %#lx\n", pfn);
			return -EINVAL;
		}
		if ((pfn & 0xffff) == 0)
			cond_resched();
	}
	region.base_pfn = base_pfn;
	region.count = nr_pages;
	region.movable_zone = zone_idx(zone) == ZONE_MOVABLE;
	/* Claims widen to a huge page's head, but never below the base. */
	if (!IS_ALIGNED(base_pfn, pageblock_nr_pages))
		pr_info("base_pfn %#lx is not pageblock-aligned: a huge page straddling it keeps the region's first pages busy\n",
			base_pfn);
	return 0;
}

static int __init region_init(void)
{
	int ret;

	/* The uapi structs have no implicit padding and fixed first versions. */
	BUILD_BUG_ON(sizeof(struct dmabufd_region_info) != DMABUFD_REGION_INFO_SIZE_VER2);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_unpark) != DMABUFD_REGION_UNPARK_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_export) != DMABUFD_REGION_EXPORT_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_migrate) != DMABUFD_REGION_MIGRATE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_list) != DMABUFD_REGION_LIST_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_attrs) != DMABUFD_REGION_ATTRS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_revoke) != DMABUFD_REGION_REVOKE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_buffer) != 104);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_attr_range) != 32);
	BUILD_BUG_ON(sizeof(struct dmabufd_region_event) != 40);

	if (!max_buffers || max_buffers > 65536) {
		pr_err("max_buffers must be 1..65536\n");
		return -EINVAL;
	}
	ret = region_pick();
	if (ret)
		return ret;
	ret = misc_register(&region_misc);
	if (ret)
		return ret;
	ret = dmabufd_arch_init(region_misc.this_device);
	if (ret) {
		misc_deregister(&region_misc);
		return ret;
	}
	pr_info("region PFN %#lx+%lu pages (%lu MiB)%s\n", region.base_pfn, region.count,
		region.count >> (20 - PAGE_SHIFT), region.movable_zone ? " in ZONE_MOVABLE" : "");
	return 0;
}

static void __exit region_exit(void)
{
	struct region_parked *p, *tmp;

	/* Live dma-bufs hold a module reference, open files too (their
	 * release unparks), so no extent should be left; never leak one. */
	misc_deregister(&region_misc);
	mutex_lock(&region.lock);
	list_for_each_entry_safe(p, tmp, &region.parked, node) {
		WARN_ON_ONCE(1);
		list_del(&p->node);
		region_free_pages(p->pfn, p->count, p->attr);
		kfree(p);
	}
	mutex_unlock(&region.lock);
}

module_init(region_init);
module_exit(region_exit);

MODULE_DESCRIPTION("dmabufd contiguous region: claims PFN ranges and exports them as dma-bufs");
MODULE_LICENSE("GPL");
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
MODULE_IMPORT_NS("DMA_BUF");
#else
MODULE_IMPORT_NS(DMA_BUF);
#endif
