/* SPDX-License-Identifier: MIT */
/*
 * One handler per request. Every failure is a reply carrying a negative
 * errno and a short reason; a refused request changes nothing
 * (DESIGN.md, "Request flow"; the 2002 generic-DMA thread: every call can
 * fail with an error instead of BUG).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h" /* issue 10 */
#include "dmabufd.pb-c.h"
#include <drm_fourcc.h>

#include "fb_layout.h"
#include "fdstore.h" /* issue 8 */
#include "log.h"
#include "macros.h"
#include "perf_stats.h" /* issue 10 */
#include "server.h"
#include "wire.h"

#define LIST_PAGE_DEFAULT 256u
#define CLIENT_NAME_MAX 64u

static char reason_buf[160];
/* issue 10: requests are decoded into this arena instead of malloc per field */
static struct arena request_arena;

const char *reasonf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason_buf, sizeof(reason_buf), fmt, ap);
	va_end(ap);
	return reason_buf;
}

void reply_error(struct client *c, uint64_t id, int error, const char *reason)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;

	reply.id = id;
	reply.error = error;
	reply.reason = (char *)(reason ? reason : "");
	log_debug("client pid %d: request %llu refused: %s (%s)", (int)c->cred.pid,
		  (unsigned long long)id, strerror(-error), reply.reason);
	if (client_queue_reply(c, &reply, -1) < 0) {
		/* Cannot even queue an error: treat as a broken client. */
		c->protocol_errors = UINT32_MAX;
	}
}

uint64_t realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool label_is_valid(const char *label)
{
	for (const unsigned char *p = (const unsigned char *)label; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return strlen(label) <= DMABUFD_LABEL_MAX;
}

/* The smallest placement granularity of the active backends (bytes). */
static uint64_t smallest_page(const struct server *s)
{
	uint64_t page = s->backends[0].caps.page_size;

	for (unsigned i = 1; i < s->nbackends; i++)
		if (s->backends[i].caps.page_size < page)
			page = s->backends[i].caps.page_size;
	return page;
}

/* Bytes all active backends manage. */
static uint64_t total_capacity(const struct server *s)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < s->nbackends; i++)
		sum += s->backends[i].caps.region_size;
	return sum;
}

/* @size rounded up to @sb's page (server_route() checked it cannot overflow). */
static uint64_t sb_round(const struct server_backend *sb, uint64_t size)
{
	const uint64_t page = sb->caps.page_size;

	return (size + page - 1) / page * page;
}

static void fill_backend_info(const struct server_backend *sb, Dmabufd__BackendInfo *bi)
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

static void handle_hello(struct client *c, uint64_t id, const Dmabufd__Hello *hello)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__HelloReply hr = DMABUFD__HELLO_REPLY__INIT;
	Dmabufd__BackendInfo infos[SERVER_MAX_BACKENDS];
	Dmabufd__BackendInfo *info_ptrs[SERVER_MAX_BACKENDS];

	if (c->hello_done)
		return reply_error(c, id, -EPROTO, "Hello was already exchanged");
	if (hello->version != DMABUFD__VERSION__VERSION_CURRENT)
		return reply_error(c, id, -EPROTONOSUPPORT,
				   reasonf("protocol version %u is not supported; the daemon speaks version %u",
					   hello->version, DMABUFD__VERSION__VERSION_CURRENT));
	if (hello->client_name && strlen(hello->client_name) > CLIENT_NAME_MAX)
		return reply_error(c, id, -EINVAL, "client name longer than 64 bytes");

	hr.version = DMABUFD__VERSION__VERSION_CURRENT;
	hr.backend = (char *)s->caps.name;
	hr.attributes = 0;
	hr.dmabuf = true;
	/* The daemon as a whole (proto HelloReply.backends): union/any/all/sum/min. */
	for (unsigned i = 0; i < s->nbackends; i++) {
		const struct backend_caps *bc = &s->backends[i].caps;

		hr.attributes |= bc->attributes;
		hr.contiguous |= bc->contiguous;
		hr.migration |= bc->migration;
		hr.revocation |= bc->revocation;
		hr.dmabuf &= bc->dmabuf;
		fill_backend_info(&s->backends[i], &infos[i]);
		info_ptrs[i] = &infos[i];
	}
	hr.region_size = total_capacity(s);
	hr.page_size = (uint32_t)smallest_page(s);
	hr.n_backends = s->nbackends;
	hr.backends = info_ptrs;
	hr.max_message = DMABUFD_MAX_MESSAGE;
	hr.max_buffers = s->limits.max_buffers;
	hr.max_alloc = s->limits.max_alloc;
	hr.release_no_reply = true; /* issue 10: Release.flags RELEASE_NO_REPLY */
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_HELLO;
	reply.hello = &hr;
	if (client_queue_reply(c, &reply, -1) < 0) {
		c->protocol_errors = UINT32_MAX;
		return;
	}
	c->hello_done = true;
	log_debug("client pid %d (%s) said Hello as \"%s\"", (int)c->cred.pid, c->comm,
		  hello->client_name ? hello->client_name : "");
}

static const char *attribute_text(int attribute)
{
	switch (attribute) {
	case DMABUFD_ATTR_CACHED:
		return "cached";
	case DMABUFD_ATTR_WRITECOMBINE:
		return "write-combine";
	case DMABUFD_ATTR_UNCACHED:
		return "uncached";
	}
	return "unknown";
}

/* Bytes held by live buffers @sb made (Stats; a walk of the registry). */
static uint64_t sb_used_count(const struct server_backend *sb, uint32_t *ret_buffers)
{
	struct server *s = sb->server;
	const struct buffer *b;
	uint64_t used = 0;
	uint32_t n = 0;

	if (s->nbackends == 1) {
		if (ret_buffers)
			*ret_buffers = (uint32_t)s->registry.count;
		return s->used;
	}
	TAILQ_FOREACH(b, &s->registry.order, order_link)
		if (buffer_home(s, b) == sb) {
			used += b->size;
			n++;
		}
	if (ret_buffers)
		*ret_buffers = n;
	return used;
}

static uint64_t sb_used(const struct server_backend *sb)
{
	return sb_used_count(sb, NULL);
}

/* How often a backend's -EBUSY for a placement is answered by another one. */
#define PLACEMENT_RETRIES 4

/*
 * Places @ba in the region and has the backend materialise it there. When
 * a contiguous backend refuses a placement with -EBUSY (the kernel found
 * unmovable pages there), that range is reserved and another placement is
 * tried; the
 * reservations are dropped again before returning. On success ba->offset
 * holds the placement and *ret_fd the daemon's reference.
 */
static int place_and_materialise(struct server_backend *sb, struct backend_alloc *ba,
				 int *ret_fd, const char **reason)
{
	const uint64_t page = sb->caps.page_size;
	uint64_t busy[PLACEMENT_RETRIES];
	unsigned nbusy = 0;
	int err;

	for (;;) {
		err = sb_place(sb, ba->size, ba->alignment, ba->attribute,
			       ba->flags & DMABUFD_ALLOC_MOVABLE, &ba->offset);
		if (err < 0) {
			*reason = err == -ENOSPC ?
				reasonf("no room in %s: %llu of %llu bytes in use, largest free run too small",
					sb->caps.name, (unsigned long long)sb_used(sb),
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

/*
 * The importing devices an Alloc names (issue 5, probe.h): each must be a
 * valid path of a present device; one without an IOMMU adds
 * DMABUFD_ALLOC_CONTIGUOUS to *@flags.
 * Return: 0; -EINVAL (too many, bad path); -ENODEV (no such device).
 */
static int check_devices(char *const *devices, size_t n, uint32_t *flags, const char **reason)
{
	if (n > PROBE_MAX_DEVICES) {
		*reason = reasonf("%zu devices named, at most %d", n, PROBE_MAX_DEVICES);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		int r;

		if (!probe_device_path_valid(devices[i])) {
			*reason = reasonf("device %zu: not a /dev/dri/* or /sys/devices/* path of at "
					  "most %d bytes without '.' or '..' components",
					  i, PROBE_MAX_DEVICE_PATH);
			return -EINVAL;
		}
		r = probe_device_needs_contiguous(devices[i], &why);
		if (r < 0) {
			*reason = reasonf("device %.100s: %s", devices[i], why);
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
 * Alloc, and the allocation half of AllocFramebuffer: with @fb non-NULL the
 * reply is an AllocFramebufferReply carrying @fb's planes.
 */
static void handle_alloc(struct client *c, uint64_t id, const Dmabufd__Alloc *req,
			 const struct fb_layout *fb)
{
	struct server *s = c->server;
	const uint64_t page = smallest_page(s);
	const char *label = req->label ? req->label : "";
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__AllocReply ar = DMABUFD__ALLOC_REPLY__INIT;
	Dmabufd__AllocFramebufferReply fr = DMABUFD__ALLOC_FRAMEBUFFER_REPLY__INIT;
	Dmabufd__FramebufferPlane planes[FB_MAX_PLANES];
	Dmabufd__FramebufferPlane *plane_ptrs[FB_MAX_PLANES];
	struct backend_alloc ba;
	struct route_request rr;
	unsigned cand[SERVER_MAX_BACKENDS], ncand = 0;
	struct server_backend *sb = NULL;
	const char *reason = NULL;
	struct buffer *b;
	uint64_t size;
	uint32_t flags = req->flags;
	int fd = -1, err;

	s->counters.allocs_total++;
	err = -EINVAL;
	if (req->size == 0) {
		reason = "size is 0";
		goto refuse;
	}
	if (req->size > UINT64_MAX - (page - 1)) {
		reason = "size overflows when rounded up to whole pages";
		goto refuse;
	}
	size = (req->size + page - 1) & ~(page - 1); /* the smallest page of all (Hello) */
	if (req->alignment &&
	    ((req->alignment & (req->alignment - 1)) || req->alignment < page ||
	     req->alignment > total_capacity(s))) {
		reason = reasonf("alignment %llu is not a power of two between the page size and the region size",
				 (unsigned long long)req->alignment);
		goto refuse;
	}
	if ((int)req->attribute < DMABUFD_ATTR_CACHED || (int)req->attribute > DMABUFD_ATTR_UNCACHED) {
		reason = reasonf("unknown attribute %d", (int)req->attribute);
		goto refuse;
	}
	if (req->flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL) {
		reason = reasonf("unknown flag bits 0x%x",
				 req->flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL);
		goto refuse;
	}
	if (!label_is_valid(label)) {
		reason = "label longer than 63 bytes or holding control characters";
		goto refuse;
	}
	err = check_devices(req->devices, req->n_devices, &flags, &reason);
	if (err < 0)
		goto refuse;
	err = -E2BIG;
	if (size > s->limits.max_alloc) {
		reason = reasonf("%llu bytes is more than the largest allocation, %llu bytes",
				 (unsigned long long)size, (unsigned long long)s->limits.max_alloc);
		goto refuse;
	}
	rr = (struct route_request){
		.size = req->size,
		.alignment = req->alignment,
		.attribute = (enum dmabufd_attribute)req->attribute,
		.flags = flags,
		.contiguous_from_device = (flags & DMABUFD_ALLOC_CONTIGUOUS) &&
					  !(req->flags & DMABUFD_ALLOC_CONTIGUOUS),
	};
	err = server_route(s, &rr, cand, &ncand, &reason);
	if (err < 0)
		goto refuse;
	/* Rounded to the page of the backend that gets it (the first that can). */
	size = sb_round(&s->backends[cand[0]], req->size);
	err = -EMFILE;
	if (c->nbuffers >= s->limits.max_buffers) {
		reason = reasonf("this client holds %u buffers, the limit", c->nbuffers);
		goto refuse;
	}
	err = policy_check_quota(s->config.policy, &s->ledger, &c->usage, c->cred.uid, c->cred.gid,
				 size, (enum dmabufd_attribute)req->attribute, reason_buf,
				 sizeof(reason_buf));
	if (err < 0) {
		s->share_counters.quota_refusals++;
		reason = reason_buf;
		goto refuse;
	}
	err = -ENOMEM;
	b = calloc(1, sizeof(*b));
	if (!b) {
		reason = "out of memory";
		goto refuse;
	}
	b->fd = -1;
	for (unsigned k = 0; k < ncand; k++) {
		struct server_backend *try = &s->backends[cand[k]];
		const uint64_t try_size = sb_round(try, req->size);

		/* A later backend's larger page may round the size up further. */
		if (k > 0 && try_size != size) {
			err = policy_check_quota(s->config.policy, &s->ledger, &c->usage, c->cred.uid,
						 c->cred.gid, try_size,
						 (enum dmabufd_attribute)req->attribute, reason_buf,
						 sizeof(reason_buf));
			if (err < 0) {
				s->share_counters.quota_refusals++;
				reason = reason_buf;
				break;
			}
		}
		ba = (struct backend_alloc){
			.size = try_size,
			/* its placement is page-aligned: a smaller alignment holds */
			.alignment = req->alignment > try->caps.page_size ? req->alignment : 0,
			.attribute = (enum dmabufd_attribute)req->attribute,
			.flags = flags,
			.label = label,
		};
		err = place_and_materialise(try, &ba, &fd, &reason);
		if (err == 0) {
			sb = try;
			size = try_size;
			sb->allocs++;
			if (k > 0)
				sb->fallthroughs++;
			if (k > 0 || ncand > 1)
				log_debug("alloc of %llu bytes: served by %s (candidate %u of %u)",
					  (unsigned long long)size, sb->caps.name, k + 1, ncand);
			break;
		}
		if (!falls_through(err) || k + 1 == ncand)
			break;
		log_info("alloc of %llu bytes: %s failed (%s: %s); trying %s",
			 (unsigned long long)try_size, try->caps.name, strerror(-err),
			 reason ? reason : "", s->backends[cand[k + 1]].caps.name);
	}
	if (!sb) {
		free(b);
		goto refuse;
	}
	b->home = sb;
	b->fd = fd;
	b->size = size;
	b->offset = ba.offset;
	b->attribute = (enum dmabufd_attribute)req->attribute;
	b->flags = flags;
	b->owner = c;
	b->pid = c->cred.pid;
	b->uid = c->cred.uid;
	b->gid = c->cred.gid;
	memcpy(b->comm, c->comm, sizeof(b->comm));
	memcpy(b->label, label, strlen(label) + 1); /* issue 10; label_is_valid(): <= 63 bytes */
	b->created_usec = realtime_usec();
	TAILQ_INIT(&b->importers);
	err = share_charge_owner(s, b);
	if (err < 0) {
		server_unmake_buffer(s, b); /* kmod: unplaced at RELEASED */
		free(b);
		reason = "out of memory";
		goto refuse;
	}
	err = registry_insert(&s->registry, b);
	if (err < 0) {
		b->owner = NULL;
		ledger_uncharge(&s->ledger, &c->usage, b->uid, b->gid, true, b->size, b->attribute);
		server_unmake_buffer(s, b); /* kmod: unplaced at RELEASED */
		free(b);
		reason = "out of memory";
		goto refuse;
	}
	TAILQ_INSERT_TAIL(&c->buffers, b, owner_link);
	c->nbuffers++;
	s->used += size;

	reply.id = id;
	if (fb) {
		fr.buffer_id = b->id;
		fr.size = size;
		fr.offset = b->offset;
		fr.width = fb->width;
		fr.height = fb->height;
		fr.fourcc = fb->fourcc;
		fr.modifier = fb->modifier;
		for (uint32_t i = 0; i < fb->num_planes && i < FB_MAX_PLANES; i++) {
			dmabufd__framebuffer_plane__init(&planes[i]);
			planes[i].offset = fb->offsets[i];
			planes[i].pitch = fb->pitches[i];
			planes[i].size = fb->sizes[i];
			plane_ptrs[i] = &planes[i];
		}
		fr.n_planes = fb->num_planes;
		fr.planes = plane_ptrs;
		reply.body_case = DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER;
		reply.alloc_framebuffer = &fr;
	} else {
		ar.buffer_id = b->id;
		ar.size = size;
		ar.offset = b->offset;
		reply.body_case = DMABUFD__REPLY__BODY_ALLOC;
		reply.alloc = &ar;
	}
	/*
	 * Into the service manager's fd store before the client can see the
	 * buffer: the reply may leave at once, and a restart right after it
	 * must not lose the buffer (docs/SYSTEMD.md).
	 */
	fdstore_buffer_added(s, b); /* FDSTORE=1 FDNAME=buf-<id>, STATUS= */
	err = client_queue_reply(c, &reply, b->fd);
	if (err < 0) {
		/* The client never learns of it: undo everything. */
		server_release_buffer(s, b);
		s->counters.releases_total--;
		reason = "could not queue the reply";
		goto refuse;
	}
	log_debug("buffer %llu: %llu bytes %s for pid %d (%s) \"%s\"", (unsigned long long)b->id,
		  (unsigned long long)size, attribute_text(b->attribute), (int)b->pid, b->comm,
		  b->label);
	return;

refuse:
	s->counters.allocs_failed++;
	reply_error(c, id, err, reason);
}

/* Why fb_layout_compute() refused, for the reply's reason. */
static const char *framebuffer_reason(const Dmabufd__AllocFramebuffer *req, int err)
{
	if (!fb_format_lookup(req->fourcc))
		return reasonf("format 0x%08x is not supported", req->fourcc);
	if (req->modifier != DRM_FORMAT_MOD_LINEAR)
		return reasonf("modifier 0x%016llx is not supported; only LINEAR (0) is",
			       (unsigned long long)req->modifier);
	switch (err) {
	case -E2BIG:
		return reasonf("%ux%u is larger than the limits (16384 pixels a side, 32-bit pitches and offsets)",
			       req->width, req->height);
	case -EOPNOTSUPP:
		return "the usage cannot be met for this format and size";
	}
	return "width, height or usage is invalid";
}

static void handle_alloc_framebuffer(struct client *c, uint64_t id,
				     const Dmabufd__AllocFramebuffer *req)
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
		return reply_error(c, id, err, framebuffer_reason(req, err));
	}
	a.size = layout.size;
	a.attribute = req->attribute;
	a.flags = req->flags;
	a.label = req->label;
	a.n_devices = req->n_devices;
	a.devices = req->devices;
	handle_alloc(c, id, &a, &layout);
}

/*
 * A refused Release. One sent with RELEASE_NO_REPLY has no request waiting
 * for its reply, so the refusal says so (Reply.release_failed): the client
 * library counts it instead of matching it to a call (issue 10).
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
	if (client_queue_reply(c, &reply, -1) < 0)
		c->protocol_errors = UINT32_MAX;
}

/* The empty success reply of a Release, unless it asked for none. */
static void release_done(struct client *c, uint64_t id, const Dmabufd__Release *req)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;

	if (req->flags & DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY)
		return;
	reply.id = id;
	if (client_queue_reply(c, &reply, -1) < 0)
		c->protocol_errors = UINT32_MAX;
}

static void handle_release(struct client *c, uint64_t id, const Dmabufd__Release *req)
{
	const uint32_t known = DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY;
	struct buffer *b;

	if (req->flags & ~known)
		return release_error(c, id, req, -EINVAL,
				     reasonf("unknown Release flags 0x%x", req->flags & ~known));
	b = registry_lookup(&c->server->registry, req->buffer_id);
	/* An importer's Release ends its import, not the buffer. */
	if (b && b->owner != c && share_release_import(c->server, c, b) == 0)
		return release_done(c, id, req);
	/* Another client's buffer looks exactly like a missing one. */
	if (!b || b->owner != c)
		return release_error(c, id, req, -ENOENT,
				     reasonf("this client owns no buffer %llu",
					     (unsigned long long)req->buffer_id));
	/* Importers still hold it: the earliest becomes the owner instead. */
	if (!share_owner_release(c->server, c, b))
		server_release_buffer(c->server, b);
	release_done(c, id, req);
}

static void handle_list(struct client *c, uint64_t id, const Dmabufd__List *req)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__ListReply lr = DMABUFD__LIST_REPLY__INIT;
	_cleanup_free_ Dmabufd__BufferInfo *infos = NULL;
	_cleanup_free_ Dmabufd__BufferInfo **ptrs = NULL;
	uint32_t max = req->max_entries ? req->max_entries : LIST_PAGE_DEFAULT;
	_cleanup_free_ Dmabufd__ImporterInfo ***imps = NULL;
	size_t bytes = 64; /* reply header and the "more" flag */
	struct buffer *b;
	size_t n = 0;

	if (max > LIST_PAGE_DEFAULT)
		max = LIST_PAGE_DEFAULT;
	infos = calloc(max, sizeof(*infos));
	ptrs = calloc(max, sizeof(*ptrs));
	imps = calloc(max, sizeof(*imps));
	if (!infos || !ptrs || !imps)
		return reply_error(c, id, -ENOMEM, "out of memory");

	share_sweep_expired(s);
	for (b = registry_first_after(&s->registry, req->start_after); b && n < max;
	     b = registry_next(b)) {
		Dmabufd__BufferInfo *bi = &infos[n];
		size_t entry;
		int ni;

		/* Other users' buffers (pids, comms, labels) are theirs to see. */
		if (!share_buffer_visible(c, b))
			continue;
		dmabufd__buffer_info__init(bi);
		bi->buffer_id = b->id;
		bi->size = b->size;
		bi->attribute = (Dmabufd__Attribute)b->attribute;
		bi->flags = b->flags;
		bi->owner_pid = b->pid;
		bi->owner_uid = b->uid;
		bi->owner_gid = b->gid;
		bi->owner_comm = b->comm;
		bi->label = b->label;
		bi->created_usec = b->created_usec;
		bi->offset = b->offset;
		bi->tokens = b->ntokens;
		bi->owner_transfers = b->owner_transfers;
		ni = share_fill_importers(b, &imps[n]);
		if (ni < 0)
			break; /* out of memory: send a shorter page */
		bi->n_importers = (size_t)ni;
		bi->importers = imps[n];
		/* Importers make entries larger: stop before the datagram limit. */
		entry = dmabufd__buffer_info__get_packed_size(bi) + 4;
		if (bytes + entry > DMABUFD_MAX_MESSAGE) {
			free(imps[n]);
			imps[n] = NULL;
			break;
		}
		bytes += entry;
		bi->orphaned = b->orphaned; /* issue 8 */
		bi->backend = (char *)buffer_home(s, b)->caps.name; /* issue 5 */
		ptrs[n++] = bi;
	}
	lr.n_buffers = n;
	lr.buffers = ptrs;
	lr.more = b != NULL;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_LIST;
	reply.list = &lr;
	if (client_queue_reply(c, &reply, -1) < 0)
		c->protocol_errors = UINT32_MAX;
	for (size_t i = 0; i < n; i++)
		free(imps[i]);
}

/*
 * Compact: slide every movable buffer down (docs/REGION.md). Administrators
 * only (root): it costs every owner of a movable buffer a relocation.
 */
static void handle_compact(struct client *c, uint64_t id)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__CompactReply cr = DMABUFD__COMPACT_REPLY__INIT;
	struct server_compact_result res;
	int err;

	if (c->cred.uid != 0)
		return reply_error(c, id, -EPERM, "only root may compact the region");
	err = server_compact(c->server, &res);
	if (err < 0)
		return reply_error(c, id, err,
				   err == -EOPNOTSUPP ? "no active backend can relocate buffers" :
							"compaction failed; see the daemon's log");
	cr.planned_moves = res.planned_moves;
	cr.planned_bytes = res.planned_bytes;
	cr.moves = res.moves;
	cr.bytes_moved = res.bytes_moved;
	cr.largest_free_before = res.largest_free_before;
	cr.largest_free_after = res.largest_free_after;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_COMPACT;
	reply.compact = &cr;
	if (client_queue_reply(c, &reply, -1) < 0)
		c->protocol_errors = UINT32_MAX;
}

static void handle_stats(struct client *c, uint64_t id)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__StatsReply sr = DMABUFD__STATS_REPLY__INIT;
	Dmabufd__ProbeResult probe[PROBE_MAX_BACKENDS];
	Dmabufd__ProbeResult *probe_ptrs[PROBE_MAX_BACKENDS];
	Dmabufd__BackendInfo binfo[SERVER_MAX_BACKENDS];
	Dmabufd__BackendInfo *binfo_ptrs[SERVER_MAX_BACKENDS];
	struct dmabufd_region_stats rs;

	sr.backend = (char *)s->caps.name;
	sr.capacity = total_capacity(s);
	for (unsigned i = 0; i < s->nbackends; i++) { /* issue 5: every active backend */
		struct server_backend *sb = &s->backends[i];
		struct dmabufd_region_stats brs;

		fill_backend_info(sb, &binfo[i]);
		binfo[i].used = sb_used_count(sb, &binfo[i].buffers);
		dmabufd_region_stats(sb->region, &brs);
		binfo[i].free_pages = brs.free_pages;
		binfo[i].largest_free_pages = brs.largest_free_run;
		binfo[i].allocs = sb->allocs;
		binfo[i].fallthroughs = sb->fallthroughs;
		binfo_ptrs[i] = &binfo[i];
	}
	sr.n_backends = s->nbackends;
	sr.backends = binfo_ptrs;
	sr.used = s->used;
	sr.buffers = (uint32_t)s->registry.count;
	sr.clients = s->nclients;
	sr.allocs_total = s->counters.allocs_total;
	sr.allocs_failed = s->counters.allocs_failed;
	sr.releases_total = s->counters.releases_total;
	sr.page_size = s->caps.page_size;
	sr.orphaned_buffers = (uint32_t)fdstore_orphan_count(); /* issue 8 */
	for (size_t i = 0; i < s->probe.n; i++) { /* issue 5 */
		dmabufd__probe_result__init(&probe[i]);
		probe[i].backend = s->probe.entries[i].name;
		probe[i].present = s->probe.entries[i].present;
		probe[i].chosen = s->probe.entries[i].chosen;
		probe[i].reason = s->probe.entries[i].reason;
		probe_ptrs[i] = &probe[i];
	}
	sr.n_probe = s->probe.n;
	sr.probe = probe_ptrs;
	sr.orphaned_buffers += s->backend_orphans; /* kmod: adopted at start-up */
	dmabufd_region_stats(s->region, &rs);
	sr.free_pages = rs.free_pages;
	sr.largest_free_pages = rs.largest_free_run;
	sr.fragmentation_permille = rs.fragmentation_permille;
	sr.transitions = rs.transitions;
	sr.movable_buffers = rs.n_movable;
	sr.pinned_buffers = rs.n_pinned;
	sr.compactions = s->counters.compactions;
	sr.compaction_moves = s->counters.compaction_moves;
	sr.compaction_bytes = s->counters.compaction_bytes;
	share_sweep_expired(s);
	sr.tokens = s->ntokens;
	sr.imports = s->nimports;
	sr.imports_total = s->share_counters.imports_total;
	sr.owner_transfers = s->share_counters.owner_transfers;
	sr.quota_refusals = s->share_counters.quota_refusals;
	sr.access_refusals = s->share_counters.access_refusals;
	sr.config_reloads = s->share_counters.config_reloads;
	sr.config_reload_failures = s->share_counters.config_reload_failures;
	perf_fill_stats(s, &sr); /* issue 10: pooled, pool_hits/misses, heap_bytes */
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_STATS;
	reply.stats = &sr;
	if (client_queue_reply(c, &reply, -1) < 0)
		c->protocol_errors = UINT32_MAX;
}

void client_handle_datagram(struct client *c, const uint8_t *data, size_t len, int *fds,
			    size_t nfds, unsigned wire_flags)
{
	Dmabufd__Request *req;
	uint64_t id;

	if (wire_flags & WIRE_TRUNCATED) {
		wire_close_fds(fds, nfds);
		c->protocol_errors++;
		return reply_error(c, 0, -EMSGSIZE,
				   reasonf("request of %zu bytes exceeds the %u-byte limit", len,
					   DMABUFD_MAX_MESSAGE));
	}
	arena_reset(&request_arena);
	req = dmabufd__request__unpack(arena_allocator(&request_arena), len, data);
	if (!req) {
		wire_close_fds(fds, nfds);
		/* protobuf-c answers NULL for both; only a malformed message is
		 * the client's fault (docs/RELIABILITY.md). */
		if (arena_failed(&request_arena))
			return reply_error(c, 0, -ENOMEM, "out of memory decoding the request");
		c->protocol_errors++;
		return reply_error(c, 0, -EBADMSG, "malformed request");
	}
	id = req->id;
	if (nfds || (wire_flags & WIRE_FDS_TRUNCATED)) {
		/* No request takes a file descriptor. */
		wire_close_fds(fds, nfds);
		c->protocol_errors++;
		reply_error(c, id, -EINVAL, "this request takes no file descriptors");
		goto out;
	}
	if (!c->hello_done && req->body_case != DMABUFD__REQUEST__BODY_HELLO) {
		reply_error(c, id, -EPROTO, "the first request must be Hello");
		goto out;
	}

	switch (req->body_case) {
	case DMABUFD__REQUEST__BODY_HELLO:
		handle_hello(c, id, req->hello);
		break;
	case DMABUFD__REQUEST__BODY_ALLOC:
		handle_alloc(c, id, req->alloc, NULL);
		break;
	case DMABUFD__REQUEST__BODY_COMPACT:
		handle_compact(c, id);
		break;
	case DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER:
		handle_alloc_framebuffer(c, id, req->alloc_framebuffer);
		break;
	case DMABUFD__REQUEST__BODY_RELEASE:
		handle_release(c, id, req->release);
		break;
	case DMABUFD__REQUEST__BODY_LIST:
		handle_list(c, id, req->list);
		break;
	case DMABUFD__REQUEST__BODY_STATS:
		handle_stats(c, id);
		break;
	case DMABUFD__REQUEST__BODY_SHARE:
		handle_share(c, id, req->share);
		break;
	case DMABUFD__REQUEST__BODY_IMPORT:
		handle_import(c, id, req->import);
		break;
	case DMABUFD__REQUEST__BODY_UNSHARE:
		handle_unshare(c, id, req->unshare);
		break;
	case DMABUFD__REQUEST__BODY_REVOKE:
		handle_revoke(c, id, req->revoke);
		break;
	case DMABUFD__REQUEST__BODY_ACCOUNTING:
		handle_accounting(c, id, req->accounting);
		break;
	default:
		c->protocol_errors++;
		reply_error(c, id, -ENOSYS, "unknown request type");
		break;
	}
out:
	arena_reset(&request_arena); /* issue 10: frees @req */
}
