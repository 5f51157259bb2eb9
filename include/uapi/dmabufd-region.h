/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * dmabufd-region.h - ioctl interface of /dev/dmabufd-region
 * (kernel module dmabufd_region.ko), shared by the module and the dmabufd
 * daemon's kmod backend.
 *
 * The module owns a range of page frames (the "region", normally a part of
 * node 0's ZONE_MOVABLE). Pages of the region stay with the kernel's page
 * allocator (page cache, anonymous memory) until a buffer is exported over
 * them: EXPORT claims exactly the requested PFN range with
 * alloc_contig_range(), migrating the movable pages that live there, and the
 * pages are given back with free_contig_range() when the last reference to
 * the dma-buf is gone, or at once by REVOKE, which cuts every CPU mapping
 * and refuses every new access first. A buffer exported with
 * DMABUFD_REGION_EXPORT_PARK instead leaves its pages claimed, in their
 * attribute, as a "parked extent" of the open file that exported it: a
 * later EXPORT by that file inside the extent reuses the pages with no
 * claim and no attribute change; UNPARK, or closing the file, gives them
 * back. Placement (which page offsets) is
 * decided by the caller; the module enforces the invariants:
 *
 *  - buffers never overlap;
 *  - every page is in exactly one cache attribute state, and every mapping of
 *    it (kernel linear map, vmap, each userspace mmap) uses that state;
 *  - a page's linear-map attribute is changed (set_memory_wc/uc/wb) only
 *    while it belongs to no buffer, after zeroing and flushing it through the
 *    cached mapping (seed 04-cma-cache-attribute-aliasing.txt, the 2011 CMA
 *    review: a page must never be mapped cacheable and uncached at once;
 *    change the attribute and flush at the point the page changes owner).
 *
 * Conventions (the extensible-struct model of clone3(2)/openat2(2)):
 *  - Every argument struct starts with "__u32 size", set by the caller to the
 *    sizeof() of the struct as it knows it. The kernel reads min(size, its
 *    own size) bytes and treats missing trailing fields as zero; when the
 *    caller's struct is larger, the extra bytes must be zero (else -E2BIG).
 *    Output is written back for min(size, kernel size) bytes. A size below
 *    the *_SIZE_VER0 of the command, or above 4096, is -EINVAL.
 *  - The command's type and number select the ioctl; the size encoded in the
 *    command is not used (the size field is), so one command value serves
 *    every struct version.
 *  - Unknown flag bits, unknown attributes and non-zero reserved fields are
 *    -EINVAL; so are non-zero output-only fields on input (as in
 *    dma_heap_allocation_data.fd). Unknown commands (wrong type, number or
 *    direction) are -ENOTTY. Faulting copies are -EFAULT.
 *  - Offsets and counts are in pages of INFO.page_size bytes, relative to
 *    INFO.base_pfn. Byte quantities say "bytes".
 *  - Every command is _IOWR (the dispatcher's rule, also for REVOKE,
 *    whose out fields report what was returned).
 *  - The device node is mode 0600 (root, i.e. the daemon); access is
 *    governed by the node's mode only.
 *
 * Rules come from Documentation/driver-api/dma-buf.rst (exporter duties,
 * CPU access via DMA_BUF_IOCTL_SYNC, lifetime of the buffer = lifetime of the
 * last reference) and the seeds in the project's shared/seeds folder.
 */
#ifndef _UAPI_DMABUFD_REGION_H
#define _UAPI_DMABUFD_REGION_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define DMABUFD_REGION_DEVICE		"/dev/dmabufd-region"
/** DMABUFD_REGION_API_VERSION - reported by INFO; bumped on any change. */
#define DMABUFD_REGION_API_VERSION	3 /* 2: REVOKE, INFO.revocations;
					   * 3: EXPORT_PARK, UNPARK, INFO.parked_pages,
					   * OCCUPANCY */
#define DMABUFD_REGION_IOC_MAGIC	0xDB

/* Cache attributes of a page / buffer (struct fields named "attr"). */
#define DMABUFD_REGION_ATTR_CACHED	0 /* write-back, the kernel default */
#define DMABUFD_REGION_ATTR_WRITECOMBINE 1 /* x86 PAT WC */
#define DMABUFD_REGION_ATTR_UNCACHED	2 /* x86 PAT UC- */
#define DMABUFD_REGION_ATTR_COUNT	3

#define DMABUFD_REGION_LABEL_LEN	32 /* bytes, including the NUL */

/* INFO.caps bits. */
#define DMABUFD_REGION_CAP_WRITECOMBINE	(1ULL << 0) /* ATTR_WRITECOMBINE works */
#define DMABUFD_REGION_CAP_UNCACHED	(1ULL << 1) /* ATTR_UNCACHED works */
#define DMABUFD_REGION_CAP_MIGRATE	(1ULL << 2) /* MIGRATE is available */
#define DMABUFD_REGION_CAP_EVENTS	(1ULL << 3) /* read()/poll() release events */
#define DMABUFD_REGION_CAP_MOVABLE_ZONE	(1ULL << 4) /* region lies in ZONE_MOVABLE */
#define DMABUFD_REGION_CAP_REVOKE	(1ULL << 5) /* REVOKE is available (API 2) */
#define DMABUFD_REGION_CAP_PARK		(1ULL << 6) /* EXPORT_PARK, UNPARK (API 3) */
#define DMABUFD_REGION_CAP_OCCUPANCY	(1ULL << 7) /* OCCUPANCY is available */

/**
 * struct dmabufd_region_info - argument of DMABUFD_REGION_IOC_INFO
 * @size: in: sizeof(struct dmabufd_region_info) as the caller knows it.
 * @api_version: out: DMABUFD_REGION_API_VERSION of the module.
 * @base_pfn: out: first page frame number of the region.
 * @page_count: out: size of the region in pages.
 * @page_size: out: bytes per page (PAGE_SIZE).
 * @nr_buffers: out: live buffers (not yet released).
 * @caps: out: DMABUFD_REGION_CAP_* bits.
 * @claimed_pages: out: pages currently claimed by live buffers.
 * @max_buffers: out: limit on live buffers (module parameter).
 * @max_buffer_pages: out: largest page_count EXPORT accepts.
 * @attr_transitions: out: linear-map attribute changes since load (each
 *	set_memory_wc/uc and the matching set_memory_wb count as one each).
 * @migrations: out: successful MIGRATE calls since load.
 * @revocations: out: successful REVOKE calls since load (API 2; absent
 *	from a VER0-sized struct).
 * @revoked_buffers: out: revoked dma-bufs some fd, mapping or attachment
 *	still holds (husks without pages; not in @nr_buffers, not in LIST).
 * @reserved1: out: 0.
 * @parked_pages: out: pages in parked extents, of every open file (API 3;
 *	absent from a VER0- or VER1-sized struct). Not in @claimed_pages.
 */
struct dmabufd_region_info {
	__u32 size;
	__u32 api_version;
	__u64 base_pfn;
	__u64 page_count;
	__u32 page_size;
	__u32 nr_buffers;
	__u64 caps;
	__u64 claimed_pages;
	__u32 max_buffers;
	__u32 reserved0;
	__u64 max_buffer_pages;
	__u64 attr_transitions;
	__u64 migrations;
	__u64 revocations;
	__u32 revoked_buffers;
	__u32 reserved1;
	__u64 parked_pages;
};
#define DMABUFD_REGION_INFO_SIZE_VER0	80
#define DMABUFD_REGION_INFO_SIZE_VER1	96 /* + revocations, revoked_buffers */
#define DMABUFD_REGION_INFO_SIZE_VER2	104 /* + parked_pages */

/* EXPORT.flags bits. */
/* The buffer may be relocated with MIGRATE (while no device is attached). */
#define DMABUFD_REGION_EXPORT_MOVABLE	(1U << 0)
/*
 * When the buffer's last reference is gone (or at REVOKE) its pages stay
 * claimed, in the buffer's attribute, as a parked extent of the open file
 * that exported it, and the RELEASED event carries
 * DMABUFD_REGION_EVENT_F_PARKED. If that file is closed first the pages go
 * back to the page allocator as without the flag (API 3).
 */
#define DMABUFD_REGION_EXPORT_PARK	(1U << 1)
#define DMABUFD_REGION_EXPORT_FLAGS	(DMABUFD_REGION_EXPORT_MOVABLE | DMABUFD_REGION_EXPORT_PARK)

/**
 * struct dmabufd_region_export - argument of DMABUFD_REGION_IOC_EXPORT
 * @size: in: sizeof(struct dmabufd_region_export) as the caller knows it.
 * @flags: in: DMABUFD_REGION_EXPORT_* bits.
 * @page_offset: in: first page of the buffer, in pages from base_pfn.
 * @page_count: in: length in pages, 1..INFO.max_buffer_pages.
 * @attr: in: DMABUFD_REGION_ATTR_*; every mapping of the buffer uses it.
 * @reserved0: must be 0.
 * @id: out: buffer id, unique for the module's lifetime (never reused, > 0).
 * @fd: out: the dma-buf file descriptor (O_RDWR | O_CLOEXEC).
 * @reserved1: must be 0.
 * @label: in: NUL-terminated name shown by LIST and as the dma-buf name
 *	(/proc/<pid>/fdinfo, debugfs); "" is allowed.
 */
struct dmabufd_region_export {
	__u32 size;
	__u32 flags;
	__u64 page_offset;
	__u64 page_count;
	__u32 attr;
	__u32 reserved0;
	__u64 id;
	__s32 fd;
	__u32 reserved1;
	char label[DMABUFD_REGION_LABEL_LEN];
};
#define DMABUFD_REGION_EXPORT_SIZE_VER0	80

/**
 * struct dmabufd_region_migrate - argument of DMABUFD_REGION_IOC_MIGRATE
 * @size: in: sizeof(struct dmabufd_region_migrate) as the caller knows it.
 * @flags: in: must be 0.
 * @id: in: buffer id from EXPORT.
 * @new_page_offset: in: destination, in pages from base_pfn; the range
 *	[new_page_offset, new_page_offset + page_count) must lie in the region
 *	and overlap no buffer (including this buffer's current range).
 * @old_page_offset: out: where the buffer was.
 */
struct dmabufd_region_migrate {
	__u32 size;
	__u32 flags;
	__u64 id;
	__u64 new_page_offset;
	__u64 old_page_offset;
};
#define DMABUFD_REGION_MIGRATE_SIZE_VER0 32

/**
 * struct dmabufd_region_revoke - argument of DMABUFD_REGION_IOC_REVOKE
 * @size: in: sizeof(struct dmabufd_region_revoke) as the caller knows it.
 * @flags: in: must be 0.
 * @id: in: buffer id from EXPORT.
 * @page_offset: out: where the buffer's pages were, in pages from base_pfn
 *	(must be 0 on input).
 * @page_count: out: how many pages went back to the region (must be 0 on
 *	input).
 */
struct dmabufd_region_revoke {
	__u32 size;
	__u32 flags;
	__u64 id;
	__u64 page_offset;
	__u64 page_count;
};
#define DMABUFD_REGION_REVOKE_SIZE_VER0	32

/**
 * struct dmabufd_region_buffer - one entry of LIST
 * @id: buffer id.
 * @page_offset: first page, in pages from base_pfn (PFN = base_pfn +
 *	page_offset; physical address = PFN * page_size).
 * @page_count: length in pages.
 * @attr: DMABUFD_REGION_ATTR_*.
 * @flags: DMABUFD_REGION_EXPORT_* given at EXPORT.
 * @attachments: devices currently attached (dma_buf_attach()).
 * @mmaps: userspace VMAs currently mapping the buffer.
 * @vmaps: kernel vmap() users.
 * @map_count: map_dma_buf calls so far.
 * @last_map_nents: sg entries (after DMA mapping) of the last map_dma_buf;
 *	the module always builds one entry, so 1 unless an IOMMU split it.
 * @last_map_dma_addr: DMA address of the first sg entry of the last
 *	map_dma_buf (the physical address when no IOMMU translates).
 * @last_map_dma_len: bytes covered by the first sg entry of the last
 *	map_dma_buf.
 * @label: the label given at EXPORT.
 */
struct dmabufd_region_buffer {
	__u64 id;
	__u64 page_offset;
	__u64 page_count;
	__u32 attr;
	__u32 flags;
	__u32 attachments;
	__u32 mmaps;
	__u32 vmaps;
	__u32 last_map_nents;
	__u64 map_count;
	__u64 last_map_dma_addr;
	__u64 last_map_dma_len;
	char label[DMABUFD_REGION_LABEL_LEN];
};

/**
 * struct dmabufd_region_list - argument of DMABUFD_REGION_IOC_LIST
 * @size: in: sizeof(struct dmabufd_region_list) as the caller knows it.
 * @flags: in: must be 0.
 * @entries_ptr: in: user pointer to an array of @capacity entries of
 *	@entry_size bytes each; may be 0 when @capacity is 0 (to ask for the
 *	count).
 * @capacity: in: number of entries the array holds.
 * @entry_size: in: sizeof(struct dmabufd_region_buffer) as the caller knows
 *	it, 8..4096 bytes; the kernel writes min(entry_size, its size) bytes
 *	of each entry and zeroes the rest of it.
 * @count: out: number of live buffers; entries written = min(count,
 *	capacity), ordered by page_offset.
 * @reserved0: must be 0.
 */
struct dmabufd_region_list {
	__u32 size;
	__u32 flags;
	__u64 entries_ptr;
	__u32 capacity;
	__u32 entry_size;
	__u32 count;
	__u32 reserved0;
};
#define DMABUFD_REGION_LIST_SIZE_VER0	32

/* Owner states of a page range in ATTRS. */
#define DMABUFD_REGION_STATE_FREE	0 /* with the page allocator; always CACHED */
#define DMABUFD_REGION_STATE_BUFFER	1 /* claimed by buffer @buffer_id */
#define DMABUFD_REGION_STATE_PARKED	2 /* claimed, a parked extent of an open
					   * file, in @attr (API 3) */

/**
 * struct dmabufd_region_attr_range - one entry of ATTRS
 * @page_offset: first page, in pages from base_pfn.
 * @page_count: length in pages.
 * @attr: DMABUFD_REGION_ATTR_* of the kernel linear map of these pages,
 *	which is also the attribute of every other mapping of them.
 * @state: DMABUFD_REGION_STATE_*.
 * @buffer_id: owning buffer for STATE_BUFFER, else 0.
 *
 * Adjacent parked extents are reported as separate ranges.
 */
struct dmabufd_region_attr_range {
	__u64 page_offset;
	__u64 page_count;
	__u32 attr;
	__u32 state;
	__u64 buffer_id;
};

/**
 * struct dmabufd_region_attrs - argument of DMABUFD_REGION_IOC_ATTRS
 * @size: in: sizeof(struct dmabufd_region_attrs) as the caller knows it.
 * @flags: in: must be 0.
 * @ranges_ptr: in: user pointer to an array of @capacity entries of
 *	@entry_size bytes; may be 0 when @capacity is 0.
 * @capacity: in: entries the array holds.
 * @entry_size: in: sizeof(struct dmabufd_region_attr_range) as the caller
 *	knows it, 8..4096 bytes (written like LIST's entries).
 * @count: out: number of ranges covering the whole region, in page order,
 *	adjacent free ranges merged; min(count, capacity) are written. The
 *	ranges tile [0, INFO.page_count) exactly.
 * @reserved0: must be 0.
 */
struct dmabufd_region_attrs {
	__u32 size;
	__u32 flags;
	__u64 ranges_ptr;
	__u32 capacity;
	__u32 entry_size;
	__u32 count;
	__u32 reserved0;
};
#define DMABUFD_REGION_ATTRS_SIZE_VER0	32

/**
 * struct dmabufd_region_granule - one entry of OCCUPANCY: the pages of one
 * granule by what a claim (EXPORT, MIGRATE) would have to do with them.
 * The five counts add up to the granule's length in pages.
 * @free: free pages of the page allocator (buddy pages, and pages on their
 *	way back to it): taken as they are.
 * @reclaim: clean, unmapped page cache that is not swap-backed (a regular
 *	file's pages): alloc_contig_range() drops these rather than copying
 *	them (reclaim_clean_pages_from_list()); a later read reads the file
 *	again.
 * @copy: other movable pages, which must be migrated (one page copy
 *	each, plus the rmap walk): anonymous memory, shmem/tmpfs, dirty,
 *	mapped or under-writeback file pages, non-LRU movable pages
 *	(zsmalloc, balloon), in-use or free hugetlb pages.
 * @busy: pages a claim cannot take, or only after retries: reserved pages
 *	(firmware, early boot allocations), unmovable kernel pages, pages
 *	pinned by get_user_pages(), offline pages and holes. A claim whose
 *	pageblocks hold a reserved page fails with -EBUSY.
 * @claimed: pages of this module's live buffers and parked extents.
 * @reserved0: 0.
 */
struct dmabufd_region_granule {
	__u32 free;
	__u32 reclaim;
	__u32 copy;
	__u32 busy;
	__u32 claimed;
	__u32 reserved0;
};

/**
 * struct dmabufd_region_occupancy - argument of DMABUFD_REGION_IOC_OCCUPANCY
 * @size: in: sizeof(struct dmabufd_region_occupancy) as the caller knows it.
 * @flags: in: must be 0.
 * @page_offset: in: first page of the range, in pages from base_pfn.
 * @page_count: in: pages of the range, 1..INFO.page_count - @page_offset.
 * @entries_ptr: in: user pointer to an array of @capacity entries of
 *	@entry_size bytes (struct dmabufd_region_granule); may be 0 when
 *	@capacity is 0 (to ask for @count).
 * @capacity: in: entries the array holds.
 * @entry_size: in: sizeof(struct dmabufd_region_granule) as the caller
 *	knows it, 8..4096 bytes (written like LIST's entries).
 * @granule_pages: in: pages per entry, 0 for the kernel's pageblock
 *	(@pageblock_pages); entry i covers pages [@page_offset + i *
 *	granule, + granule), the last one only up to the end of the range.
 *	out: the granule used.
 * @count: out: entries covering the range, ceil(@page_count / granule),
 *	at most 2^20 (a smaller granule is -EINVAL); min(count, capacity)
 *	are written. Must be 0 on input.
 * @pageblock_pages: out: pages per pageblock, the unit in which
 *	alloc_contig_range() isolates memory (2 MiB of 4 KiB pages on x86-64
 *	with THP). Must be 0 on input.
 * @reserved0: must be 0.
 */
struct dmabufd_region_occupancy {
	__u32 size;
	__u32 flags;
	__u64 page_offset;
	__u64 page_count;
	__u64 entries_ptr;
	__u32 capacity;
	__u32 entry_size;
	__u32 granule_pages;
	__u32 count;
	__u32 pageblock_pages;
	__u32 reserved0;
};
#define DMABUFD_REGION_OCCUPANCY_SIZE_VER0 56
#define DMABUFD_REGION_OCCUPANCY_MAX_ENTRIES (1U << 20)

/*
 * Release notifications: read(2) on an open /dev/dmabufd-region returns
 * whole struct dmabufd_region_event records (a buffer smaller than one
 * record is -EINVAL); it blocks until one is queued unless O_NONBLOCK
 * (-EAGAIN). poll(2)/epoll report EPOLLIN while records are queued. Each
 * open file receives the events that happen after its open(); a queue holds
 * up to 1024 records, after which one EVENT_OVERFLOW record replaces the
 * lost ones and the reader must rebuild its state with LIST.
 */
#define DMABUFD_REGION_EVENT_RELEASED	1 /* the buffer is gone (last reference
					   * gone, or REVOKE), one per buffer id;
					   * its pages are back with the page
					   * allocator, or parked (F_PARKED) */
#define DMABUFD_REGION_EVENT_OVERFLOW	2 /* events were lost; use LIST */

/* Event flags. */
/*
 * RELEASED of a buffer exported with EXPORT_PARK: its pages are NOT back
 * with the page allocator; they stay claimed, in @attr, as a parked extent
 * of the file that exported it (see DMABUFD_REGION_IOC_UNPARK). Only that
 * file may reuse or unpark them; ATTRS shows them as STATE_PARKED.
 */
#define DMABUFD_REGION_EVENT_F_PARKED	(1U << 0)

/**
 * struct dmabufd_region_event - a record read from the device
 * @type: DMABUFD_REGION_EVENT_*.
 * @size: sizeof(struct dmabufd_region_event) of the kernel; readers skip
 *	unknown trailing fields with it.
 * @id: released buffer (0 for OVERFLOW).
 * @page_offset: where it was, in pages from base_pfn.
 * @page_count: its length in pages.
 * @attr: the attribute it had; its pages are CACHED again now, unless
 *	parked (F_PARKED: they keep @attr).
 * @flags: DMABUFD_REGION_EVENT_F_* (0 before API 3).
 */
struct dmabufd_region_event {
	__u32 type;
	__u32 size;
	__u64 id;
	__u64 page_offset;
	__u64 page_count;
	__u32 attr;
	__u32 flags;
};

/**
 * DMABUFD_REGION_IOC_INFO - describe the region and the module.
 *
 * Argument: struct dmabufd_region_info (out fields filled).
 * Errors: -EFAULT bad pointer; -EINVAL bad size; -E2BIG non-zero bytes
 * beyond the kernel's struct.
 */
#define DMABUFD_REGION_IOC_INFO \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x00, struct dmabufd_region_info)

/**
 * DMABUFD_REGION_IOC_EXPORT - claim a page range and export it as a dma-buf.
 *
 * Argument: struct dmabufd_region_export. The range is claimed with
 * alloc_contig_range(), which migrates the movable pages living there. The
 * pages are zeroed and flushed through the cached linear map, then the
 * linear map is switched to @attr (set_memory_wc/uc), then the dma-buf is
 * exported (one contiguous sg entry for every importer). The buffer, and its
 * pages, live until the last reference is gone: every fd, every mmap, every
 * device attachment and kernel vmap (Documentation/driver-api/dma-buf.rst);
 * then its pages go back to write-back, are returned with
 * free_contig_range(), and a RELEASED event is queued. REVOKE does this
 * earlier, while references remain (see DMABUFD_REGION_IOC_REVOKE).
 *
 * With DMABUFD_REGION_EXPORT_PARK the pages are parked at that point
 * instead (kept claimed and in @attr, owned by the calling open file; the
 * RELEASED event has DMABUFD_REGION_EVENT_F_PARKED).
 *
 * Reuse: when the range lies entirely inside one parked extent of the
 * calling file with the same @attr, its pages are taken from the extent
 * (whatever @flags says): no claim, no attribute transition; they are
 * zeroed through a mapping of their own attribute (arm64: through the
 * cacheable linear map, then cleaned to the point of coherency) and the
 * rest of the extent stays parked.
 *
 * Errors: -EINVAL unknown flag, bad attr, reserved field set, page_count 0
 * or above max_buffer_pages, range outside the region, label not
 * NUL-terminated; -EBUSY the range overlaps a live buffer (whatever its
 * attribute: a page is never in two buffers, so never mapped with two
 * attributes), overlaps a parked extent without lying inside one of the
 * caller's parked extents of the same @attr, or holds pages the kernel
 * cannot migrate (unmovable or
 * reserved pages, e.g. the kernel image under KASLR; the kernel log names
 * the first such page and what it is): place elsewhere;
 * -ENOSPC max_buffers reached; -ENOMEM no memory for bookkeeping or to
 * migrate into; -EINTR a fatal signal interrupted the migration; -EIO the
 * linear map could neither be switched nor restored to write-back (the
 * pages are then kept out of use, see the kernel log); -EFAULT, -E2BIG as
 * for INFO; -EMFILE no free fd. If copying the result to the caller fails
 * (-EFAULT) the fd is not installed and the buffer is released at once, so
 * a RELEASED event may name an id the caller never saw.
 */
#define DMABUFD_REGION_IOC_EXPORT \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x01, struct dmabufd_region_export)

/**
 * DMABUFD_REGION_IOC_MIGRATE - move a MOVABLE buffer to another page range.
 *
 * Argument: struct dmabufd_region_migrate. The destination is claimed like
 * EXPORT does, the buffer's userspace mappings are zapped
 * (unmap_mapping_range), the contents are copied, the destination's linear
 * map is switched to the buffer's attribute, the buffer switches to the new
 * pages, and the old pages go back to write-back and to the page allocator.
 * Faults during the move wait; the next fault maps the new pages, so a
 * mapping reads the same contents before and after. Same id, same fds.
 *
 * Errors: -ENOENT no live buffer with @id; -EINVAL flags set, destination
 * outside the region, buffer not MOVABLE; -EBUSY a device is attached or
 * the buffer is vmapped (its DMA/kernel addresses cannot change), the
 * destination overlaps a buffer or a parked extent (of any file), or the
 * destination holds unmovable pages;
 * -ENOMEM; -EINTR; -EIO as for EXPORT (the buffer stays where it was);
 * -EFAULT, -E2BIG as for INFO. On any error the buffer is unchanged.
 */
#define DMABUFD_REGION_IOC_MIGRATE \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x02, struct dmabufd_region_migrate)

/**
 * DMABUFD_REGION_IOC_LIST - describe every live buffer.
 *
 * Argument: struct dmabufd_region_list; entries are struct
 * dmabufd_region_buffer. Enough for a restarted daemon to rebuild its
 * registry: buffers stay alive while clients hold their fds, whatever
 * happens to the daemon. Call with capacity 0 to learn the count; the count
 * may change between calls. Parked extents are not buffers and are not
 * listed (ATTRS shows them; INFO.parked_pages counts them).
 *
 * Errors: -EINVAL flags/reserved/count set, entry_size out of range;
 * -ENOMEM; -EFAULT bad pointers; -E2BIG as for INFO.
 */
#define DMABUFD_REGION_IOC_LIST \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x03, struct dmabufd_region_list)

/**
 * DMABUFD_REGION_IOC_ATTRS - the attribute and owner of every page range.
 *
 * Argument: struct dmabufd_region_attrs; entries are struct
 * dmabufd_region_attr_range. For audits: compare with what the kernel
 * reports (x86 PAT keeps RAM memtype in page flags; /proc/kpageflags shows
 * KPF_ARCH (38) for WC and KPF_UNCACHED (39) for UC-). Parked extents are
 * STATE_PARKED ranges in their attribute.
 *
 * Errors: as for LIST.
 */
#define DMABUFD_REGION_IOC_ATTRS \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x04, struct dmabufd_region_attrs)

/**
 * DMABUFD_REGION_IOC_REVOKE - take a live buffer's pages back now.
 *
 * Argument: struct dmabufd_region_revoke. For a buffer whose fds are still
 * held (by the daemon's clients and their importers), in this order:
 *  1. checks that no device has it mapped (any attachment with a live
 *     map_dma_buf; the exporter is not dynamic, so the dma-buf core keeps
 *     even a dynamic importer's mapping from attach to detach) and no
 *     kernel vmap exists - else -EBUSY and nothing changed;
 *  2. marks it revoked and zaps every userspace PTE of it in every process
 *     (unmap_mapping_range on the dma-buf file's mapping, as MIGRATE does);
 *     from now on a fault in an existing mapping is SIGBUS (VM_FAULT_SIGBUS),
 *     and mmap(), DMA_BUF_IOCTL_SYNC (begin/end_cpu_access), vmap,
 *     dma_buf_attach() and dma_buf_map_attachment() on any fd of it fail
 *     with -ENODEV;
 *  3. sends dma_buf_move_notify() under the dma_resv lock, so dynamic
 *     importers drop their state for the (unmapped) attachment;
 *  4. gives the pages back exactly as the last reference would: linear map
 *     back to write-back, free_contig_range(), a RELEASED event for @id
 *     (the only one for it), INFO/LIST/ATTRS no longer show the buffer;
 *     for an EXPORT_PARK buffer whose file is open, the pages are parked
 *     instead (F_PARKED), as at release.
 * The dma-buf itself lives on without pages ("husk", counted by
 * INFO.revoked_buffers) until its last fd, mapping and attachment are
 * gone; that release queues no second event. Pages are returned at REVOKE
 * and not at that release because after steps 1-2 nothing can reach them:
 * VM_PFNMAP PTEs are gone and cannot be recreated, get_user_pages() never
 * pins VM_PFNMAP pages, and no device or kernel mapping exists.
 * A revoked id is gone: REVOKE and MIGRATE of it are -ENOENT.
 *
 * Errors: -EINVAL flags or an out field set; -ENOENT no live buffer with
 * @id (never exported, released, or already revoked); -EBUSY a device has
 * it mapped for DMA or the kernel has it vmapped (unmap/detach first);
 * -EFAULT, -E2BIG, -EINVAL (size) as for INFO. On any error the buffer is
 * unchanged. Source: docs/SHARING.md "Revocation";
 * Documentation/driver-api/dma-buf.rst (move_notify, dynamic importers).
 */
#define DMABUFD_REGION_IOC_REVOKE \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x05, struct dmabufd_region_revoke)

/**
 * struct dmabufd_region_unpark - argument of DMABUFD_REGION_IOC_UNPARK
 * @size: in: sizeof(struct dmabufd_region_unpark) as the caller knows it.
 * @flags: in: must be 0.
 * @page_offset: in: first page of the range, in pages from base_pfn.
 * @page_count: in: length of the range in pages, >= 1; the range must lie
 *	in the region.
 * @returned_pages: out: parked pages of the calling file in the range that
 *	went back to the page allocator (must be 0 on input).
 */
struct dmabufd_region_unpark {
	__u32 size;
	__u32 flags;
	__u64 page_offset;
	__u64 page_count;
	__u64 returned_pages;
};
#define DMABUFD_REGION_UNPARK_SIZE_VER0	32

/**
 * DMABUFD_REGION_IOC_UNPARK - give the caller's parked pages in a range back.
 *
 * Argument: struct dmabufd_region_unpark. Every page of the range that is
 * in a parked extent of the calling open file goes back to write-back (for
 * write-combine and uncached extents one attribute transition per extent
 * piece, counted in INFO.attr_transitions) and to the page allocator
 * (free_contig_range()); extents reaching over the range's ends keep their
 * pages outside it. Pages of other files'
 * extents, of buffers, or free are left as they are. Closing the file does
 * the same over the whole region. No event is queued.
 *
 * Errors: -EINVAL flags or @returned_pages set, page_count 0, range
 * outside the region; -ENOMEM; -EFAULT, -E2BIG, -EINVAL (size) as for
 * INFO. A page whose write-back cannot be restored is kept out of use (the
 * kernel log names it) and still counts as returned.
 */
#define DMABUFD_REGION_IOC_UNPARK \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x06, struct dmabufd_region_unpark)

/**
 * DMABUFD_REGION_IOC_OCCUPANCY - what lives in the region's pages now.
 *
 * Argument: struct dmabufd_region_occupancy; entries are struct
 * dmabufd_region_granule. For placement: the caller picks, among the
 * ranges it may use, the one whose claim moves the fewest pages. The
 * counts are a snapshot, read from struct page without taking references
 * or locks of the page allocator (only the module's own lock, so that
 * @claimed is exact): the page cache and every other allocation keep
 * changing under it and after it, so a count may be off by the pages that
 * changed meanwhile, never by more. Cost: one pass over the range's
 * struct pages, skipping free buddy blocks and large folios whole
 * (about 100,000 pages for a 384 MiB region).
 *
 * Errors: -EINVAL flags, reserved0, @count or @pageblock_pages set on
 * input, range empty or outside the region, entry_size out of range with a
 * capacity, more than 2^20 entries; -ENOMEM; -EFAULT bad pointers; -E2BIG,
 * -EINVAL (size) as for INFO; -ENOTTY when the module's "occupancy"
 * parameter is 0 (INFO then leaves out DMABUFD_REGION_CAP_OCCUPANCY), as
 * from a module without the command.
 */
#define DMABUFD_REGION_IOC_OCCUPANCY \
	_IOWR(DMABUFD_REGION_IOC_MAGIC, 0x07, struct dmabufd_region_occupancy)

#endif /* _UAPI_DMABUFD_REGION_H */
