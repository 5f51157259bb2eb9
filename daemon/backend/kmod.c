/* SPDX-License-Identifier: MIT */
/*
 * The kmod backend: buffers are dma-bufs exported by dmabufd_region.ko over
 * /dev/dmabufd-region (include/uapi/dmabufd-region.h, kmod/README.md).
 * Physically contiguous, CACHED/WRITECOMBINE/UNCACHED as INFO reports,
 * relocatable with MIGRATE when MOVABLE.
 *
 * Lifetime (Documentation/driver-api/dma-buf.rst: the buffer lives until
 * its last reference is gone): release() only closes the daemon's fd;
 * clients may still hold fds and mappings, so the pages, and the region
 * placement, are free only when the module queues a RELEASED event for the
 * buffer. caps.deferred_release tells the server to keep the placement at
 * release; handle_events() reports the RELEASED ranges (backend/events.c
 * unplaces them). An OVERFLOW event (lost records) is answered by
 * re-reading LIST: every range we wait for that LIST no longer shows is
 * released.
 *
 * The backend remembers every module buffer it knows (by module id):
 *  LIVE    - exported for the server, not yet released by it;
 *  PENDING - released by the server, waiting for RELEASED;
 *  ORPHAN  - found live at start-up (an earlier daemon exported it); the
 *            server registered it with an unknown owner (rebuild()).
 * Events for unknown ids (e.g. an export whose result could not be copied
 * out, see DMABUFD_REGION_IOC_EXPORT) are ignored, except that pages they
 * left parked are unparked at once.
 *
 * Parking (caps.parking: a pool budget and a module with
 * DMABUFD_REGION_CAP_PARK): pinned buffers are exported with
 * DMABUFD_REGION_EXPORT_PARK, so a released one leaves its pages claimed
 * and in their attribute (a parked extent of our device file); its
 * RELEASED event carries DMABUFD_REGION_EVENT_F_PARKED and is reported
 * through sink->parked(). The server's pool EXPORTs at that placement
 * again (the module reuses the pages: zeroing only, no claim, no attribute
 * transition) or calls unpark() (DMABUFD_REGION_IOC_UNPARK). Closing the
 * device file (the daemon's exit) gives every parked extent back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../../include/uapi/dmabufd-region.h"
#include "backend.h"
#include "log.h"
#include "macros.h"
#include "placement_cost.h"
#include "registry.h"

enum kmod_state { KMOD_LIVE, KMOD_PENDING, KMOD_ORPHAN };

struct kmod_entry {
	uint64_t id;          /* module buffer id (> 0) */
	uint64_t page_offset; /* pages from base_pfn, current */
	uint64_t page_count;
	enum kmod_state state;
	int fd;               /* KMOD_LIVE: the daemon's fd (buf->fd), else -1 */
	struct buffer *orphan; /* KMOD_ORPHAN: the server's buffer */
};

struct kmod_backend {
	struct backend base;
	int fd;               /* /dev/dmabufd-region, O_NONBLOCK for read() */
	struct dmabufd_region_info info;
	struct kmod_entry *e;
	size_t n, cap;
	uint64_t pool_budget;  /* bytes the server keeps exported ahead (kpool.c) */
	uint32_t granule;      /* pages per OCCUPANCY entry (a pageblock); 0: no OCCUPANCY */
	bool park;             /* pinned buffers are exported with EXPORT_PARK */
};

static struct kmod_backend *kb(struct backend *b)
{
	return container_of(b, struct kmod_backend, base);
}

static struct kmod_entry *entry_find(struct kmod_backend *k, uint64_t id)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->e[i].id == id)
			return &k->e[i];
	return NULL;
}

static void entry_remove(struct kmod_backend *k, struct kmod_entry *e)
{
	*e = k->e[--k->n];
}

static int entry_add(struct kmod_backend *k, const struct kmod_entry *e)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		struct kmod_entry *ne = realloc(k->e, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		k->e = ne;
		k->cap = cap;
	}
	k->e[k->n++] = *e;
	return 0;
}

/*
 * The module's pageblock, by an OCCUPANCY of one page, or 0 when the module
 * has no OCCUPANCY (older modules: placement then ignores what the kernel
 * keeps in the region's free pages).
 */
static uint32_t occupancy_granule(struct kmod_backend *k)
{
	struct dmabufd_region_occupancy oc = { .size = sizeof(oc), .page_count = 1 };

	if (!(k->info.caps & DMABUFD_REGION_CAP_OCCUPANCY))
		return 0;
	if (ioctl(k->fd, DMABUFD_REGION_IOC_OCCUPANCY, &oc) < 0) {
		log_info("kmod backend: OCCUPANCY failed (%s): placement by claim cost is off",
			 strerror(errno));
		return 0;
	}
	return oc.pageblock_pages;
}

static int kmod_occupancy(struct backend *b, uint64_t first, uint64_t npages,
			  struct placement_granule **ret_g, uint32_t *ret_n)
{
	struct kmod_backend *k = kb(b);
	const uint64_t count = k->granule ? (npages + k->granule - 1) / k->granule : 0;
	_cleanup_free_ struct dmabufd_region_granule *kg = NULL;
	struct placement_granule *g;
	struct dmabufd_region_occupancy oc = {
		.size = sizeof(oc),
		.page_offset = first,
		.page_count = npages,
		.capacity = (uint32_t)count,
		.entry_size = sizeof(*kg),
		.granule_pages = k->granule,
	};

	if (!k->granule)
		return -EOPNOTSUPP;
	if (npages == 0 || first % k->granule || first >= k->info.page_count ||
	    npages > k->info.page_count - first)
		return -EINVAL;
	if (count > DMABUFD_REGION_OCCUPANCY_MAX_ENTRIES)
		return -E2BIG;
	kg = calloc(count, sizeof(*kg));
	g = calloc(count, sizeof(*g));
	if (!kg || !g) {
		free(g);
		return -ENOMEM;
	}
	oc.entries_ptr = (uint64_t)(uintptr_t)kg;
	if (ioctl(k->fd, DMABUFD_REGION_IOC_OCCUPANCY, &oc) < 0) {
		int err = negative_errno();

		free(g);
		return err;
	}
	if (oc.count != count) { /* the region does not change size */
		free(g);
		return -EPROTO;
	}
	for (uint64_t i = 0; i < count; i++)
		g[i] = (struct placement_granule){
			.free = kg[i].free,
			.reclaim = kg[i].reclaim,
			.copy = kg[i].copy,
			.busy = kg[i].busy,
			.claimed = kg[i].claimed,
		};
	*ret_g = g;
	*ret_n = (uint32_t)count;
	return 0;
}

static int kmod_create(const struct backend_options *opts, struct backend **ret)
{
	struct kmod_backend *k;
	int fd, err;

	fd = open(DMABUFD_REGION_DEVICE, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO ? -ENODEV : negative_errno();
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return -ENOMEM;
	}
	k->base.ops = &kmod_backend_ops;
	k->fd = fd;
	k->info.size = sizeof(k->info);
	if (ioctl(fd, DMABUFD_REGION_IOC_INFO, &k->info) < 0) {
		err = negative_errno();
		close(fd);
		free(k);
		return err;
	}
	if (k->info.page_count == 0 || k->info.page_size == 0) {
		close(fd);
		free(k);
		return -ENODEV;
	}
	/* --capacity is the memfd backend's; the module's region is fixed. */
	if (opts && opts->capacity)
		log_info("kmod backend: ignoring capacity; the module's region is %llu bytes",
			 (unsigned long long)(k->info.page_count * k->info.page_size));
	if (opts)
		k->pool_budget = opts->pool_budget;
	k->granule = occupancy_granule(k);
	/* Parked pages are only worth keeping for the pool to reuse. */
	k->park = k->pool_budget && (k->info.caps & DMABUFD_REGION_CAP_PARK);
	*ret = &k->base;
	return 0;
}

static void kmod_destroy(struct backend *b)
{
	struct kmod_backend *k;

	if (!b)
		return;
	k = kb(b);
	close(k->fd);
	free(k->e);
	free(k);
}

static void kmod_get_caps(struct backend *b, struct backend_caps *ret)
{
	struct kmod_backend *k = kb(b);
	uint32_t attrs = 1u << DMABUFD_ATTR_CACHED;

	if (k->info.caps & DMABUFD_REGION_CAP_WRITECOMBINE)
		attrs |= 1u << DMABUFD_ATTR_WRITECOMBINE;
	if (k->info.caps & DMABUFD_REGION_CAP_UNCACHED)
		attrs |= 1u << DMABUFD_ATTR_UNCACHED;
	*ret = (struct backend_caps){
		.name = "kmod",
		.attributes = attrs,
		.contiguous = true,
		.migration = (k->info.caps & DMABUFD_REGION_CAP_MIGRATE) != 0,
		.revocation = (k->info.caps & DMABUFD_REGION_CAP_REVOKE) != 0,
		.dmabuf = true,
		.region_size = k->info.page_count * k->info.page_size,
		.page_size = k->info.page_size,
		.deferred_release = true,
		.placed_pool_budget = k->pool_budget,
		.claim_granule_pages = k->granule,
		.parking = k->park,
	};
}

/*
 * EXPORT at the placement (thread-safe: only the ioctl, on the device fd;
 * the module serialises EXPORTs under its region lock).
 */
static int kmod_prepare(struct backend *b, const struct backend_alloc *req, int *ret_fd,
			uint64_t *ret_handle, const char **ret_reason)
{
	struct kmod_backend *k = kb(b);
	struct dmabufd_region_export ex = { .size = sizeof(ex) };
	int err;

	if (req->offset % k->info.page_size || req->size % k->info.page_size) {
		*ret_reason = "placement not page-aligned";
		return -EINVAL;
	}
	ex.page_offset = req->offset / k->info.page_size;
	ex.page_count = req->size / k->info.page_size;
	ex.attr = (uint32_t)req->attribute; /* same numbering as DMABUFD_REGION_ATTR_* */
	if (req->flags & DMABUFD_ALLOC_MOVABLE)
		ex.flags = DMABUFD_REGION_EXPORT_MOVABLE;
	else if (k->park)
		ex.flags = DMABUFD_REGION_EXPORT_PARK;
	if (req->label) {
		strncpy(ex.label, req->label, sizeof(ex.label) - 1); /* truncated to 31 bytes */
		ex.label[sizeof(ex.label) - 1] = '\0';
	}
	if (ioctl(k->fd, DMABUFD_REGION_IOC_EXPORT, &ex) < 0) {
		err = negative_errno();
		*ret_reason = err == -EBUSY ? "the module refused the placement (busy pages)" :
			      err == -ENOSPC ? "the module's buffer limit is reached" :
					       "the module's EXPORT failed";
		return err;
	}
	*ret_fd = ex.fd;
	*ret_handle = ex.id;
	return 0;
}

/* Remembers a prepared buffer as LIVE (the module's id in @handle). */
static int kmod_commit(struct backend *b, const struct backend_alloc *req, int fd,
		       uint64_t handle)
{
	struct kmod_backend *k = kb(b);

	return entry_add(k, &(struct kmod_entry){ .id = handle,
						  .page_offset = req->offset / k->info.page_size,
						  .page_count = req->size / k->info.page_size,
						  .state = KMOD_LIVE, .fd = fd });
}

static int kmod_alloc(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		      const char **ret_reason)
{
	uint64_t id;
	int fd, err;

	err = kmod_prepare(b, req, &fd, &id, ret_reason);
	if (err < 0)
		return err;
	err = kmod_commit(b, req, fd, id);
	if (err < 0) {
		close(fd); /* the module releases it; its event is ignored */
		*ret_reason = "out of memory";
		return err;
	}
	*ret_fd = fd;
	return 0;
}

/*
 * The entry of a server buffer: a LIVE buffer by the daemon's fd (unique
 * while open; alloc() does not see the struct buffer), an orphan by pointer.
 */
static struct kmod_entry *buf_entry(struct kmod_backend *k, const struct buffer *buf)
{
	for (size_t i = 0; i < k->n; i++) {
		struct kmod_entry *e = &k->e[i];

		if ((e->state == KMOD_LIVE && buf->fd >= 0 && e->fd == buf->fd) ||
		    (e->state == KMOD_ORPHAN && e->orphan == buf))
			return e;
	}
	return NULL;
}

static void kmod_release(struct backend *b, struct buffer *buf)
{
	struct kmod_entry *e = buf_entry(kb(b), buf);

	if (e && e->state == KMOD_LIVE) {
		e->state = KMOD_PENDING; /* the pages are free at RELEASED */
		e->fd = -1;
	}
	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

static int kmod_unpark_pages(struct kmod_backend *k, uint64_t page_offset, uint64_t page_count)
{
	struct dmabufd_region_unpark u = { .size = sizeof(u), .page_offset = page_offset,
					   .page_count = page_count };

	if (ioctl(k->fd, DMABUFD_REGION_IOC_UNPARK, &u) < 0)
		return negative_errno();
	return 0;
}

static int kmod_unpark(struct backend *b, uint64_t offset, uint64_t size)
{
	struct kmod_backend *k = kb(b);

	if (!k->park)
		return -EOPNOTSUPP;
	if (offset % k->info.page_size || size % k->info.page_size || !size)
		return -EINVAL;
	return kmod_unpark_pages(k, offset / k->info.page_size, size / k->info.page_size);
}

static int kmod_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	struct kmod_backend *k = kb(b);
	struct kmod_entry *e = buf_entry(k, buf);
	struct dmabufd_region_migrate m = { .size = sizeof(m) };

	if (!e || new_offset % k->info.page_size)
		return -EINVAL;
	m.id = e->id;
	m.new_page_offset = new_offset / k->info.page_size;
	if (ioctl(k->fd, DMABUFD_REGION_IOC_MIGRATE, &m) < 0)
		return negative_errno();
	e->page_offset = m.new_page_offset;
	return 0;
}

/*
 * Revoke (docs/SHARING.md "Revocation"): DMABUFD_REGION_IOC_REVOKE cuts
 * every CPU mapping of the buffer in every process and returns its pages to
 * the region now, queueing the buffer's RELEASED event. The server then
 * calls release(), which closes our fd and makes the entry PENDING; the
 * event, read on the next loop turn, unplaces the range as for any release.
 * Orphans (adopted from an earlier daemon) are refused: the server's
 * release path does not forget orphans (backend/events.c does, at their
 * RELEASED event), so revoking one would leave a dangling entry.
 * Return: 0; -EOPNOTSUPP (module without CAP_REVOKE, or an orphan); -EBUSY
 * (a device has it mapped for DMA, or the kernel vmapped it); -ENOENT
 * (unknown to the module); other negative errno from the ioctl.
 */
static int kmod_revoke(struct backend *b, struct buffer *buf, const char **ret_reason)
{
	struct kmod_backend *k = kb(b);
	struct kmod_entry *e = buf_entry(k, buf);
	struct dmabufd_region_revoke r = { .size = sizeof(r) };
	int err;

	if (!(k->info.caps & DMABUFD_REGION_CAP_REVOKE)) {
		*ret_reason = "the loaded dmabufd_region.ko has no REVOKE (API version < 2)";
		return -EOPNOTSUPP;
	}
	if (!e || e->state != KMOD_LIVE) {
		*ret_reason = e ? "an orphaned buffer (from an earlier daemon) cannot be revoked"
				: "the kmod backend does not know this buffer";
		return e ? -EOPNOTSUPP : -ENOENT;
	}
	r.id = e->id;
	if (ioctl(k->fd, DMABUFD_REGION_IOC_REVOKE, &r) < 0) {
		err = negative_errno();
		*ret_reason = err == -EBUSY ? "a device has the buffer mapped for DMA, or the kernel "
					      "vmapped it; it can be revoked once that mapping is gone" :
			      err == -ENOENT ? "the module no longer has this buffer" :
			      err == -ENOTTY ? "the loaded dmabufd_region.ko has no REVOKE" :
					       "the module's REVOKE failed";
		return err == -ENOTTY ? -EOPNOTSUPP : err;
	}
	log_info("kmod backend: module buffer %llu revoked, pages %llu+%llu back in the region",
		 (unsigned long long)r.id, (unsigned long long)r.page_offset,
		 (unsigned long long)r.page_count);
	return 0;
}

/* LIST into a malloc'd array. Return: count (>= 0) and *ret, or negative errno. */
static long kmod_list(struct kmod_backend *k, struct dmabufd_region_buffer **ret)
{
	for (int tries = 0; tries < 8; tries++) {
		struct dmabufd_region_list l = { .size = sizeof(l),
						 .entry_size = sizeof(struct dmabufd_region_buffer) };
		struct dmabufd_region_buffer *v;
		uint32_t cap;

		if (ioctl(k->fd, DMABUFD_REGION_IOC_LIST, &l) < 0)
			return negative_errno();
		cap = l.count + 16;
		v = calloc(cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		l = (struct dmabufd_region_list){ .size = sizeof(l), .entries_ptr = (uintptr_t)v,
						  .capacity = cap, .entry_size = sizeof(*v) };
		if (ioctl(k->fd, DMABUFD_REGION_IOC_LIST, &l) < 0) {
			int err = negative_errno();

			free(v);
			return err;
		}
		if (l.count <= cap) {
			*ret = v;
			return l.count;
		}
		free(v); /* grew in between: again */
	}
	return -EAGAIN;
}

/* @attr: the buffer's attribute, or -1 when its pages are free (not parked). */
static void report_released(struct kmod_backend *k, struct kmod_entry *e,
			    const struct backend_sink *sink, int attr)
{
	uint64_t off = e->page_offset * k->info.page_size, size = e->page_count * k->info.page_size;
	struct buffer *orphan = e->state == KMOD_ORPHAN ? e->orphan : NULL;

	entry_remove(k, e);
	if (attr >= 0)
		sink->parked(sink->ctx, off, size, (enum dmabufd_attribute)attr, orphan);
	else
		sink->released(sink->ctx, off, size, orphan);
}

/* After OVERFLOW: everything we wait for that LIST no longer shows is gone. */
static void kmod_resync(struct kmod_backend *k, const struct backend_sink *sink)
{
	struct dmabufd_region_buffer *v = NULL;
	long n = kmod_list(k, &v);

	if (n < 0) {
		log_error("kmod backend: LIST after an event overflow failed: %s", strerror((int)-n));
		return;
	}
	for (size_t i = 0; i < k->n;) {
		struct kmod_entry *e = &k->e[i];
		bool live = false;

		for (long j = 0; j < n && !live; j++)
			live = v[j].id == e->id;
		if (!live && e->state != KMOD_LIVE) {
			/* Parked or not, the event is lost: unpark (no-op if free). */
			if (k->park)
				(void)kmod_unpark_pages(k, e->page_offset, e->page_count);
			report_released(k, e, sink, -1); /* @i now holds another entry */
			continue;
		}
		i++;
	}
	free(v);
}

static int kmod_event_fd(struct backend *b)
{
	return kb(b)->fd;
}

static void kmod_handle_events(struct backend *b, const struct backend_sink *sink)
{
	struct kmod_backend *k = kb(b);
	struct dmabufd_region_event ev[32];

	for (;;) {
		ssize_t n = read(k->fd, ev, sizeof(ev));
		bool overflow = false;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_error("kmod backend: reading events: %s", strerror(errno));
			return;
		}
		if (n < (ssize_t)sizeof(ev[0]))
			return;
		for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			struct kmod_entry *e;
			bool parked;

			if (ev[i].type == DMABUFD_REGION_EVENT_OVERFLOW) {
				overflow = true;
				continue;
			}
			if (ev[i].type != DMABUFD_REGION_EVENT_RELEASED)
				continue;
			parked = ev[i].flags & DMABUFD_REGION_EVENT_F_PARKED;
			e = entry_find(k, ev[i].id);
			if (!e || e->state == KMOD_LIVE) {
				/* not ours, or (impossible) still held by us */
				if (parked && !e)
					(void)kmod_unpark_pages(k, ev[i].page_offset,
								ev[i].page_count);
				continue;
			}
			e->page_offset = ev[i].page_offset;
			e->page_count = ev[i].page_count;
			report_released(k, e, sink, parked ? (int)ev[i].attr : -1);
		}
		if (overflow) {
			log_warn("kmod backend: release events were lost; rebuilding from LIST");
			kmod_resync(k, sink);
		}
	}
}

/*
 * /proc/kpageflags bits (Documentation/admin-guide/mm/pagemap.rst) of frames
 * alloc_contig_range() cannot take: PageReserved (firmware tables, e.g.
 * ACPI at the top of RAM), holes, poisoned and offline frames, slab and
 * page-table pages (when the region is not all ZONE_MOVABLE).
 * Heuristic: unevictable but not mlocked frames are ramfs pages (the
 * initramfs rootfs): ramfs has no migrate_folio and its folios are always
 * dirty, so migration fails with -EBUSY (fallback_migrate_folio()).
 */
#define KPF_UNUSABLE ((1ULL << 32) /* RESERVED */ | (1ULL << 20) /* NOPAGE */ | \
		      (1ULL << 19) /* HWPOISON */ | (1ULL << 23) /* OFFLINE */ | \
		      (1ULL << 7) /* SLAB */ | (1ULL << 26) /* PGTABLE */)
#define KPF_UNEVICTABLE_BIT 18
#define KPF_MLOCKED_BIT 33

static bool kpf_unusable(uint64_t f)
{
	return (f & KPF_UNUSABLE) ||
	       ((f >> KPF_UNEVICTABLE_BIT & 1) && !(f >> KPF_MLOCKED_BIT & 1));
}

/*
 * alloc_contig_range() isolates whole aligned blocks around the requested
 * range (pageblocks on 6.12, MAX_ORDER blocks of 4 MiB on 6.1), and fails
 * with -EBUSY when such a block holds an unmovable frame, even outside the
 * range. So unusable runs are widened to 4 MiB-aligned blocks (bytes).
 */
#define KMOD_ISOLATION_BLOCK (4u << 20)

/*
 * Reports the unusable parts of the region (widened to isolation blocks,
 * minus live buffers) so that the server never places a buffer there:
 * without this every placement over them costs an EXPORT answered -EBUSY,
 * and small buffers placed next to a large reserved block exhaust the
 * server's re-placements (PLACEMENT_RETRIES in alloc.c).
 * Best effort: without /proc/kpageflags nothing is reported.
 */
static void kmod_report_unusable(struct kmod_backend *k, const struct backend_sink *sink)
{
	const uint64_t chunk = 4096, np = k->info.page_count;
	const uint64_t blk = KMOD_ISOLATION_BLOCK / k->info.page_size ?
				     KMOD_ISOLATION_BLOCK / k->info.page_size : 1;
	uint64_t *f = malloc(chunk * sizeof(*f)), run_start = 0, nbad = 0, nraw = 0, nprobe = 0;
	uint8_t *mark = calloc(np + 1, 1);
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !f || !mark)
		goto out;
	for (uint64_t base = 0; base < np; base += chunk) {
		uint64_t n = np - base < chunk ? np - base : chunk;
		ssize_t got = pread(fd, f, n * 8, (off_t)((k->info.base_pfn + base) * 8));

		if (got != (ssize_t)(n * 8))
			goto out;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t pg = base + i, lo, hi;

			if (!kpf_unusable(f[i]))
				continue;
			nraw++;
			/* the whole isolation block around it, in PFN alignment */
			lo = (k->info.base_pfn + pg) / blk * blk; /* PFN */
			hi = lo + blk - k->info.base_pfn;          /* page offset */
			lo = lo > k->info.base_pfn ? lo - k->info.base_pfn : 0;
			hi = hi < np ? hi : np;
			memset(mark + lo, 1, hi - lo);
		}
	}
	/*
	 * Frames the flags do not tell about (pages a kernel user holds with
	 * no flag set) still make a block fail isolation: probe every 2 MiB
	 * with a one-page CACHED EXPORT (no attribute change; the probe's
	 * RELEASED event names an id we never keep, and is ignored).
	 */
	for (uint64_t pfn = (k->info.base_pfn + blk / 2 - 1) / (blk / 2) * (blk / 2);
	     blk >= 2 && pfn < k->info.base_pfn + np; pfn += blk / 2) {
		struct dmabufd_region_export ex = { .size = sizeof(ex), .page_count = 1 };
		uint64_t pg = pfn - k->info.base_pfn, lo, hi;
		bool live = false;

		for (size_t j = 0; j < k->n && !live; j++)
			live = pg >= k->e[j].page_offset &&
			       pg < k->e[j].page_offset + k->e[j].page_count;
		if (live || mark[pg])
			continue;
		ex.page_offset = pg;
		strcpy(ex.label, "dmabufd-probe");
		if (ioctl(k->fd, DMABUFD_REGION_IOC_EXPORT, &ex) == 0) {
			close(ex.fd);
			continue;
		}
		if (errno != EBUSY)
			continue;
		nprobe++;
		lo = pfn / blk * blk;
		hi = lo + blk - k->info.base_pfn;
		lo = lo > k->info.base_pfn ? lo - k->info.base_pfn : 0;
		hi = hi < np ? hi : np;
		memset(mark + lo, 1, hi - lo);
	}
	for (size_t j = 0; j < k->n; j++) /* live buffers keep their frames */
		memset(mark + k->e[j].page_offset, 0, k->e[j].page_count);
	for (uint64_t pg = 0; pg <= np; pg++) {
		if (mark[pg] && (pg == 0 || !mark[pg - 1]))
			run_start = pg;
		if (pg > 0 && mark[pg - 1] && (pg == np || !mark[pg])) {
			nbad += pg - run_start;
			sink->unusable(sink->ctx, run_start * k->info.page_size,
				       (pg - run_start) * k->info.page_size);
		}
	}
	if (nbad)
		log_info("kmod backend: %llu unusable frames (reserved, absent, unmovable), %llu blocks busy when probed; %llu pages never placed",
			 (unsigned long long)nraw, (unsigned long long)nprobe, (unsigned long long)nbad);
out:
	if (fd >= 0)
		close(fd);
	free(f);
	free(mark);
}

static int kmod_rebuild(struct backend *b, const struct backend_sink *sink)
{
	struct kmod_backend *k = kb(b);
	struct dmabufd_region_buffer *v = NULL;
	long n = kmod_list(k, &v);
	int adopted = 0;

	if (n < 0)
		return (int)n;
	/*
	 * Parked extents belong to the device file that made them, and ours
	 * was opened by kmod_create(): an earlier daemon's were given back
	 * when its file was closed. Unparking the whole region makes a clean
	 * start independent of where the file came from.
	 */
	if (k->park)
		(void)kmod_unpark_pages(k, 0, k->info.page_count);
	for (long i = 0; i < n; i++) {
		char label[DMABUFD_REGION_LABEL_LEN];
		struct backend_live_buffer lb;
		struct buffer *buf;

		if (entry_find(k, v[i].id))
			continue;
		memcpy(label, v[i].label, sizeof(label));
		label[sizeof(label) - 1] = '\0';
		lb = (struct backend_live_buffer){
			.offset = v[i].page_offset * k->info.page_size,
			.size = v[i].page_count * k->info.page_size,
			.attribute = (enum dmabufd_attribute)v[i].attr,
			.flags = v[i].flags & DMABUFD_REGION_EXPORT_MOVABLE ? DMABUFD_ALLOC_MOVABLE : 0,
			.label = label,
		};
		buf = sink->adopt(sink->ctx, &lb);
		if (!buf)
			continue;
		if (entry_add(k, &(struct kmod_entry){ .id = v[i].id,
						       .page_offset = v[i].page_offset,
						       .page_count = v[i].page_count,
						       .state = KMOD_ORPHAN, .fd = -1,
						       .orphan = buf }) < 0) {
			free(v);
			return -ENOMEM;
		}
		adopted++;
	}
	free(v);
	if (n > 0)
		log_info("kmod backend: %d of %ld live module buffers adopted as orphans", adopted, n);
	kmod_report_unusable(k, sink);
	return 0;
}

/* INFO again: the module counts every linear-map attribute change. */
static int kmod_get_attr_transitions(struct backend *b, uint64_t *ret)
{
	struct dmabufd_region_info info = { .size = sizeof(info) };

	if (ioctl(kb(b)->fd, DMABUFD_REGION_IOC_INFO, &info) < 0)
		return negative_errno();
	*ret = info.attr_transitions;
	return 0;
}

const struct backend_ops kmod_backend_ops = {
	.name = "kmod",
	.create = kmod_create,
	.destroy = kmod_destroy,
	.get_caps = kmod_get_caps,
	.occupancy = kmod_occupancy,
	.alloc = kmod_alloc,
	.prepare = kmod_prepare,
	.commit = kmod_commit,
	.release = kmod_release,
	.migrate = kmod_migrate,
	.revoke = kmod_revoke,
	.unpark = kmod_unpark,
	.event_fd = kmod_event_fd,
	.handle_events = kmod_handle_events,
	.rebuild = kmod_rebuild,
	.get_attr_transitions = kmod_get_attr_transitions,
};
