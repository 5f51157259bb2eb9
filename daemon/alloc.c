/* SPDX-License-Identifier: MIT */
/*
 * Alloc, AllocFramebuffer and Release. An Alloc goes
 *   validate (alloc_validate) → choose the backends (alloc_choose: routing,
 *   limits, quota) → place and materialise in the first with room
 *   (alloc_place) → record (alloc_record) → reply (alloc_reply);
 * every failure is a reply carrying a negative errno and a short reason,
 * and a refused request changes nothing (DESIGN.md, "Request flow").
 */
#include "alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "attr.h"
#include "backend/probe.h"
#include "buffer.h"
#include "clock.h"
#include "fb_layout.h"
#include "fdstore.h"
#include "limit.h"
#include "kpool.h"
#include "log.h"
#include "placement.h"
#include "region.h"
#include "reply.h"
#include "share.h"
#include "share_charge.h"
#include "utf8.h"

/* How often a backend's -EBUSY for a placement is answered by another one. */
#define PLACEMENT_RETRIES 4

/* An Alloc after validation. */
struct alloc_plan {
	const Dmabufd__Alloc *req;
	const char *label;
	uint32_t flags;               /* req->flags, CONTIGUOUS added by a device */
	unsigned cand[SERVER_MAX_BACKENDS]; /* the backends that satisfy it, in order */
	unsigned ncand;
	uint64_t size;                /* rounded to the first candidate's page */
};

/* Labels are echoed by List to every administrator: UTF-8, no controls. */
static bool label_is_valid(const char *label)
{
	for (const unsigned char *p = (const unsigned char *)label; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return strlen(label) <= DMABUFD_LABEL_MAX && utf8_valid(label);
}

/*
 * The importing devices an Alloc names (probe.h): each must be a valid
 * path of a present device; one without an IOMMU adds
 * DMABUFD_ALLOC_CONTIGUOUS to *@flags.
 * Return: 0; -EINVAL (too many, bad path); -ENODEV (no such device).
 */
static int check_devices(struct client *c, char *const *devices, size_t n, uint32_t *flags,
			 const char **reason)
{
	if (n > PROBE_MAX_DEVICES) {
		*reason = reasonf(&c->reason, "%zu devices named, at most %d", n, PROBE_MAX_DEVICES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		int r;

		if (!probe_device_path_valid(devices[i])) {
			*reason = reasonf(&c->reason,
					  "device %zu: not a /dev/dri/*, /dev/videoN, /dev/mediaN, "
					  "/dev/v4l-subdevN or /sys/devices/* path of at "
					  "most %d bytes without '.' or '..' components",
					  i, PROBE_MAX_DEVICE_PATH);
			return -EINVAL;
		}
		r = probe_device_needs_contiguous(devices[i], &why);
		if (r < 0) {
			*reason = reasonf(&c->reason, "device %.100s: %s", devices[i], why);
			return r;
		}
		if (r > 0) {
			log_debug("device %s has no iommu_group: contiguous memory needed", devices[i]);
			*flags |= DMABUFD_ALLOC_CONTIGUOUS;
		}
	}
	return 0;
}

/*
 * The request on its own: size, alignment, attribute, flags, label,
 * devices, and the largest allocation. Sizes round to the smallest page
 * of all active backends (the one Hello reports).
 * Return: 0 and p->flags; -EINVAL; -ENODEV; -E2BIG.
 */
static int alloc_validate(struct client *c, struct alloc_plan *p, const char **reason)
{
	const Dmabufd__Alloc *req = p->req;
	struct server *s = c->server;
	const uint64_t page = server_page_size(s);
	uint64_t size;
	int err;

	if (req->size == 0) {
		*reason = "size is 0";
		return -EINVAL;
	}
	if (req->size > UINT64_MAX - (page - 1)) {
		*reason = "size overflows when rounded up to whole pages";
		return -EINVAL;
	}
	size = (req->size + page - 1) & ~(page - 1);
	if (req->alignment &&
	    ((req->alignment & (req->alignment - 1)) || req->alignment < page ||
	     req->alignment > server_capacity(s))) {
		*reason = reasonf(&c->reason,
				  "alignment %llu is not a power of two between the page size and the region size",
				  (unsigned long long)req->alignment);
		return -EINVAL;
	}
	if ((int)req->attribute < DMABUFD_ATTR_CACHED || (int)req->attribute > DMABUFD_ATTR_UNCACHED) {
		*reason = reasonf(&c->reason, "unknown attribute %d", (int)req->attribute);
		return -EINVAL;
	}
	if (req->flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL) {
		*reason = reasonf(&c->reason, "unknown flag bits 0x%x",
				  req->flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL);
		return -EINVAL;
	}
	if (!label_is_valid(p->label)) {
		*reason = "label longer than 63 bytes, not valid UTF-8 or holding control characters";
		return -EINVAL;
	}
	err = check_devices(c, req->devices, req->n_devices, &p->flags, reason);
	if (err < 0)
		return err;
	if (size > s->limits.max_alloc) {
		*reason = reasonf(&c->reason, "%llu bytes is more than the largest allocation, %llu bytes",
				  (unsigned long long)size, (unsigned long long)s->limits.max_alloc);
		return -E2BIG;
	}
	return 0;
}

/* Would @size more bytes stay within every quota of @c? Counts a refusal. */
static int check_quota(struct client *c, uint64_t size, enum dmabufd_attribute attribute,
		       const char **reason)
{
	struct server *s = c->server;
	int err = policy_check_quota(s->config.policy, &s->ledger, &c->usage, c->cred.uid,
				     c->cred.gid, size, attribute, c->reason.text,
				     sizeof(c->reason.text));

	if (err < 0) {
		s->share_counters.quota_refusals++;
		*reason = c->reason.text;
	}
	return err;
}

/*
 * The backends that can serve the request (routing on their caps), then
 * the client's buffer limit and its quota for the first one's size.
 * Return: 0 and p->cand, p->ncand, p->size; -EOPNOTSUPP; -E2BIG; -EMFILE;
 * -EDQUOT; -ENFILE (limit.h: the uid's share of the daemon's fds, the fd
 * budget).
 */
static int alloc_choose(struct client *c, struct alloc_plan *p, const char **reason)
{
	const Dmabufd__Alloc *req = p->req;
	struct server *s = c->server;
	const struct route_request rr = {
		.size = req->size,
		.alignment = req->alignment,
		.attribute = (enum dmabufd_attribute)req->attribute,
		.flags = p->flags,
		.contiguous_from_device = (p->flags & DMABUFD_ALLOC_CONTIGUOUS) &&
					  !(req->flags & DMABUFD_ALLOC_CONTIGUOUS),
	};
	int err = server_route(s, &rr, p->cand, &p->ncand, &c->reason);

	if (err < 0) {
		*reason = c->reason.text;
		return err;
	}
	/* Rounded to the page of the backend that gets it (the first that can). */
	p->size = sb_round(&s->backends[p->cand[0]], req->size);
	if (c->nbuffers >= s->limits.max_buffers) {
		*reason = reasonf(&c->reason,
				  "limit: [daemon] max-buffers-per-client = %u (this client holds %u)",
				  s->limits.max_buffers, c->nbuffers);
		return -EMFILE;
	}
	err = limits_check_buffers(c, reason);
	if (err < 0)
		return err;
	return check_quota(c, p->size, rr.attribute, reason);
}

/*
 * Places @ba in the region and has the backend materialise it there. When
 * a contiguous backend refuses a placement with -EBUSY (the kernel found
 * unmovable pages there), that range is reserved and another placement is
 * tried; the reservations are dropped again before returning. On success
 * ba->offset holds the placement and *ret_fd the daemon's reference.
 */
static int place_and_materialise(struct client *c, struct server_backend *sb,
				 struct backend_alloc *ba, int *ret_fd, const char **reason)
{
	const uint64_t page = sb->caps.page_size;
	uint64_t busy[PLACEMENT_RETRIES];
	unsigned nbusy = 0;
	int err;

	/* A buffer made ahead at a placement of its own (kpool.h). */
	if (sb->kpool && kpool_take(sb->kpool, ba, ret_fd) == 0)
		return 0;
	for (;;) {
		err = sb_place(sb, ba->size, ba->alignment, ba->attribute,
			       ba->flags & DMABUFD_ALLOC_MOVABLE, &ba->offset);
		/* No room: the pooled buffers' pages are the first to give back. */
		if (err == -ENOSPC && sb->kpool && kpool_drain(sb->kpool) > 0)
			continue;
		if (err < 0) {
			*reason = err == -ENOSPC ?
				reasonf(&c->reason,
					"no room in %s: %llu of %llu bytes in use, largest free run too small",
					sb->caps.name, (unsigned long long)sb_used(sb, NULL),
					(unsigned long long)sb->caps.region_size) :
				"the region allocator refused the request";
			break;
		}
		err = sb->backend->ops->alloc(sb->backend, ba, ret_fd, reason);
		if (err == 0)
			break;
		sb_unplace(sb, ba->offset);
		/* Only a physical placement can be "busy" (kmod: unmovable pages). */
		if (err != -EBUSY || !sb->caps.contiguous || nbusy == PLACEMENT_RETRIES)
			break;
		if (dmabufd_region_reserve(sb->region, (uint32_t)(ba->offset / page),
					   (uint32_t)(ba->size / page)) < 0)
			break;
		busy[nbusy++] = ba->offset;
	}
	while (nbusy--)
		dmabufd_region_unreserve(sb->region, (uint32_t)(busy[nbusy] / page),
					 (uint32_t)(ba->size / page));
	return err;
}

/*
 * Errors after which an Alloc falls through to the next active backend that
 * satisfies it (docs/BACKENDS.md): no room, no memory, or the backend
 * itself could not honour it after all. Every candidate satisfies the
 * constraints, so a contiguous request only ever falls to another
 * contiguous backend. -EBUSY: a contiguous backend found no placement free
 * of unmovable pages (PLACEMENT_RETRIES), which is "no room" too.
 */
static bool falls_through(int err)
{
	return err == -ENOSPC || err == -ENOMEM || err == -EBUSY || err == -EOPNOTSUPP;
}

/* The first candidate made @b: count it, and say so when there was a choice. */
static void alloc_served(struct server_backend *sb, const struct alloc_plan *p, unsigned k)
{
	sb->allocs++;
	if (k > 0)
		sb->fallthroughs++;
	if (k > 0 || p->ncand > 1)
		log_debug("alloc of %llu bytes: served by %s (candidate %u of %u)",
			  (unsigned long long)p->size, sb->caps.name, k + 1, p->ncand);
}

/*
 * Places and materialises the buffer in the first candidate with room,
 * falling through to the next on "no room" errors (a later backend's
 * larger page may round the size up further: its quota is checked again).
 * Return: 0 with b->home, fd, size and offset set; negative errno.
 */
static int alloc_place(struct client *c, struct alloc_plan *p, struct buffer *b,
		       const char **reason)
{
	const Dmabufd__Alloc *req = p->req;
	struct server *s = c->server;
	int err = -ENOMEM;

	for (unsigned k = 0; k < p->ncand; k++) {
		struct server_backend *try = &s->backends[p->cand[k]];
		const uint64_t try_size = sb_round(try, req->size);
		struct backend_alloc ba = {
			.size = try_size,
			/* its placement is page-aligned: a smaller alignment holds */
			.alignment = req->alignment > try->caps.page_size ? req->alignment : 0,
			.attribute = (enum dmabufd_attribute)req->attribute,
			.flags = p->flags,
			.label = p->label,
		};
		int fd = -1;

		if (k > 0 && try_size != p->size) {
			err = check_quota(c, try_size, ba.attribute, reason);
			if (err < 0)
				return err;
		}
		err = place_and_materialise(c, try, &ba, &fd, reason);
		if (err == 0) {
			p->size = try_size;
			alloc_served(try, p, k);
			b->home = try;
			b->fd = fd;
			b->size = try_size;
			b->offset = ba.offset;
			return 0;
		}
		if (!falls_through(err) || k + 1 == p->ncand)
			break;
		log_info("alloc of %llu bytes: %s failed (%s: %s); trying %s",
			 (unsigned long long)try_size, try->caps.name, strerror(-err),
			 *reason ? *reason : "", s->backends[p->cand[k + 1]].caps.name);
	}
	return err;
}

/*
 * The placed buffer gets its owner, attribute, label and time, is charged
 * to @c and recorded. Return: 0; -ENOMEM (@b unmade, not freed).
 */
static int alloc_record(struct client *c, const struct alloc_plan *p, struct buffer *b)
{
	struct server *s = c->server;
	int err;

	b->attribute = (enum dmabufd_attribute)p->req->attribute;
	b->flags = p->flags;
	b->owner = c;
	b->pid = c->cred.pid;
	b->uid = c->cred.uid;
	b->gid = c->cred.gid;
	memcpy(b->comm, c->comm, sizeof(b->comm));
	/* the label is stored in the buffer; label_is_valid(): <= 63 bytes */
	memcpy(b->label, p->label, strlen(p->label) + 1);
	b->created_usec = realtime_usec();
	TAILQ_INIT(&b->importers);
	err = share_charge_owner(s, b);
	if (err < 0) {
		buffer_unmake(s, b); /* kmod: unplaced at RELEASED */
		return err;
	}
	err = buffer_record(s, b);
	if (err < 0) {
		b->owner = NULL;
		ledger_uncharge(&s->ledger, &c->usage, b->uid, b->gid, true, b->size, b->attribute);
		buffer_unmake(s, b); /* kmod: unplaced at RELEASED */
		return err;
	}
	return 0;
}

/* The AllocFramebufferReply part: @fb's planes. */
static void fill_framebuffer(Dmabufd__AllocFramebufferReply *fr, Dmabufd__FramebufferPlane *planes,
			     Dmabufd__FramebufferPlane **plane_ptrs, const struct fb_layout *fb)
{
	fr->width = fb->width;
	fr->height = fb->height;
	fr->fourcc = fb->fourcc;
	fr->modifier = fb->modifier;
	for (uint32_t i = 0; i < fb->num_planes && i < FB_MAX_PLANES; i++) {
		dmabufd__framebuffer_plane__init(&planes[i]);
		planes[i].offset = fb->offsets[i];
		planes[i].pitch = fb->pitches[i];
		planes[i].size = fb->sizes[i];
		plane_ptrs[i] = &planes[i];
	}
	fr->n_planes = fb->num_planes;
	fr->planes = plane_ptrs;
}

/*
 * The reply carrying the buffer's fd: an AllocReply, or with @fb an
 * AllocFramebufferReply with its planes. The buffer goes into the service
 * manager's fd store first: the reply may leave at once, and a restart
 * right after it must not lose the buffer (docs/SYSTEMD.md).
 * Return: 0; negative errno when the reply cannot be queued (@b released).
 */
static int alloc_reply(struct client *c, uint64_t id, struct buffer *b, const struct fb_layout *fb)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__AllocReply ar = DMABUFD__ALLOC_REPLY__INIT;
	Dmabufd__AllocFramebufferReply fr = DMABUFD__ALLOC_FRAMEBUFFER_REPLY__INIT;
	Dmabufd__FramebufferPlane planes[FB_MAX_PLANES];
	Dmabufd__FramebufferPlane *plane_ptrs[FB_MAX_PLANES];
	int err;

	reply.id = id;
	if (fb) {
		fr.buffer_id = b->id;
		fr.size = b->size;
		fr.offset = b->offset;
		fill_framebuffer(&fr, planes, plane_ptrs, fb);
		reply.body_case = DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER;
		reply.alloc_framebuffer = &fr;
	} else {
		ar.buffer_id = b->id;
		ar.size = b->size;
		ar.offset = b->offset;
		reply.body_case = DMABUFD__REPLY__BODY_ALLOC;
		reply.alloc = &ar;
	}
	fdstore_buffer_added(s, b); /* FDSTORE=1 FDNAME=buf-<id>, STATUS= */
	err = client_queue_reply(c, &reply, b->fd);
	if (err < 0) {
		/* The client never learns of it: undo everything. */
		buffer_release(s, b);
		s->counters.releases_total--;
	}
	return err;
}

/*
 * Alloc, and the allocation half of AllocFramebuffer: with @fb non-NULL the
 * reply is an AllocFramebufferReply carrying @fb's planes.
 */
static void alloc_buffer(struct client *c, uint64_t id, const Dmabufd__Alloc *req,
			 const struct fb_layout *fb)
{
	struct server *s = c->server;
	struct alloc_plan p = { .req = req, .label = req->label ? req->label : "",
				.flags = req->flags };
	const char *reason = NULL;
	struct buffer *b;
	int err;

	s->counters.allocs_total++;
	err = alloc_validate(c, &p, &reason);
	if (err == 0)
		err = alloc_choose(c, &p, &reason);
	/* Released buffers whose last holder has just let go: theirs again. */
	if (err == -EDQUOT && buffer_held_sweep_refused(s)) {
		s->share_counters.quota_refusals--; /* counted once, below if again */
		err = alloc_choose(c, &p, &reason);
	}
	if (err < 0)
		goto refuse;
	b = calloc(1, sizeof(*b));
	if (!b) {
		err = -ENOMEM;
		reason = "out of memory";
		goto refuse;
	}
	b->fd = -1;
	err = alloc_place(c, &p, b, &reason);
	if (err == -ENOSPC && buffer_held_sweep_refused(s))
		err = alloc_place(c, &p, b, &reason);
	if (err == 0) {
		err = alloc_record(c, &p, b);
		reason = "out of memory";
	}
	if (err < 0) {
		free(b);
		goto refuse;
	}
	err = alloc_reply(c, id, b, fb);
	if (err < 0) {
		reason = "could not queue the reply";
		goto refuse;
	}
	log_debug("buffer %llu: %llu bytes %s for pid %d (%s) \"%s\"", (unsigned long long)b->id,
		  (unsigned long long)b->size, attr_name(b->attribute) ?: "unknown", (int)b->pid, b->comm,
		  b->label);
	return;

refuse:
	s->counters.allocs_failed++;
	reply_error(c, id, err, reason);
}

void handle_alloc(struct client *c, uint64_t id, const Dmabufd__Alloc *req)
{
	alloc_buffer(c, id, req, NULL);
}

/* Why fb_layout_compute() refused, for the reply's reason. */
static const char *framebuffer_reason(struct client *c, const Dmabufd__AllocFramebuffer *req,
				      int err)
{
	if (!fb_format_lookup(req->fourcc))
		return reasonf(&c->reason, "format 0x%08x is not supported", req->fourcc);
	if (req->modifier != DRM_FORMAT_MOD_LINEAR)
		return reasonf(&c->reason, "modifier 0x%016llx is not supported; only LINEAR (0) is",
			       (unsigned long long)req->modifier);
	switch (err) {
	case -E2BIG:
		return reasonf(&c->reason,
			       "%ux%u is larger than the limits (16384 pixels a side, 32-bit pitches and offsets)",
			       req->width, req->height);
	case -EOPNOTSUPP:
		return "the usage cannot be met for this format and size";
	}
	return "width, height or usage is invalid";
}

void handle_alloc_framebuffer(struct client *c, uint64_t id, const Dmabufd__AllocFramebuffer *req)
{
	const struct fb_layout_request lr = {
		.width = req->width,
		.height = req->height,
		.fourcc = req->fourcc,
		.modifier = req->modifier,
		.usage = req->usage,
	};
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	struct fb_layout layout;
	int err = fb_layout_compute(&lr, &c->server->fb_rules, &layout);

	if (err < 0) {
		c->server->counters.allocs_total++;
		c->server->counters.allocs_failed++;
		return reply_error(c, id, err, framebuffer_reason(c, req, err));
	}
	a.size = layout.size;
	a.attribute = req->attribute;
	a.flags = req->flags;
	a.label = req->label;
	a.n_devices = req->n_devices;
	a.devices = req->devices;
	alloc_buffer(c, id, &a, &layout);
}

/*
 * A refused Release. One sent with RELEASE_NO_REPLY has no request waiting
 * for its reply, so the refusal says so (Reply.release_failed): the client
 * library counts it instead of matching it to a call.
 */
static void release_error(struct client *c, uint64_t id, const Dmabufd__Release *req,
			  int error, const char *reason)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__ReleaseFailed rf = DMABUFD__RELEASE_FAILED__INIT;

	if (!(req->flags & DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY))
		return reply_error(c, id, error, reason);
	rf.buffer_id = req->buffer_id;
	reply.id = id;
	reply.error = error;
	reply.reason = (char *)reason;
	reply.body_case = DMABUFD__REPLY__BODY_RELEASE_FAILED;
	reply.release_failed = &rf;
	log_debug("client pid %d: release %llu (no reply) refused: %s (%s)", (int)c->cred.pid,
		  (unsigned long long)req->buffer_id, strerror(-error), reason);
	reply_send(c, &reply, -1);
}

/* The empty success reply of a Release, unless it asked for none. */
static void release_done(struct client *c, uint64_t id, const Dmabufd__Release *req)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;

	if (req->flags & DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY)
		return;
	reply.id = id;
	reply_send(c, &reply, -1);
}

void handle_release(struct client *c, uint64_t id, const Dmabufd__Release *req)
{
	const uint32_t known = DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY;
	struct buffer *b;

	if (req->flags & ~known)
		return release_error(c, id, req, -EINVAL,
				     reasonf(&c->reason, "unknown Release flags 0x%x",
					     req->flags & ~known));
	b = registry_lookup(&c->server->registry, req->buffer_id);
	/* An importer's Release ends its import, not the buffer. */
	if (b && b->owner != c && share_release_import(c->server, c, b) == 0)
		return release_done(c, id, req);
	/* Another client's buffer looks exactly like a missing one. */
	if (!b || b->owner != c)
		return release_error(c, id, req, -ENOENT,
				     reasonf(&c->reason, "this client owns no buffer %llu",
					     (unsigned long long)req->buffer_id));
	/* Importers still hold it: the earliest becomes the owner instead. */
	if (!share_owner_release(c->server, c, b))
		buffer_release(c->server, b);
	release_done(c, id, req);
}
