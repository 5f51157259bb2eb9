/* SPDX-License-Identifier: MIT */
/*
 * Server side of backends with deferred release (caps.deferred_release,
 * the kmod backend): a buffer's placement stays claimed in the region after
 * the server released it, until the backend reports its pages free (the
 * module's RELEASED event: clients may still hold fds and mappings,
 * Documentation/driver-api/dma-buf.rst). Meanwhile the range is
 * "released-but-not-yet-free": allocated in the region, absent from the
 * registry, so nothing overlapping is placed.
 *
 * Start-up rebuild: buffers an earlier daemon exported that are still alive
 * are claimed at their place and registered as orphans: no owner, pid 0,
 * uid 0, the module's label, List shows them orphaned. No client can
 * release or reclaim them (the fd store's orphan rules, daemon/fdstore.c,
 * apply to memfd buffers only); they leave the registry when their RELEASED
 * event arrives. Their bytes count in Stats.used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "events.h"

#include "buffer.h"
#include "clock.h"
#include "log.h"
#include "placement.h"
#include "region.h"
#include "share.h"

/*
 * Several backends may be active: each deferred-release backend
 * has its own sink whose ctx is its struct server_backend, so a release
 * event frees the range in that backend's region only.
 */
static void sink_gone(struct server_backend *sb, uint64_t offset, uint64_t size,
		      struct buffer *orphan)
{
	struct server *s = sb->server;

	/* A released buffer a client still held: its charge ends now. */
	buffer_held_released(s, sb, offset);
	if (!orphan)
		return;
	share_buffer_gone(s, orphan);
	registry_remove(&s->registry, orphan);
	s->used -= orphan->size;
	sb->orphans--;
	s->backend_orphans--;
	s->counters.releases_total++;
	log_info("orphaned buffer %llu released (%llu bytes at offset %llu)",
		 (unsigned long long)orphan->id, (unsigned long long)size,
		 (unsigned long long)offset);
	free(orphan);
}

static void sink_released(void *ctx, uint64_t offset, uint64_t size, struct buffer *orphan)
{
	struct server_backend *sb = ctx;

	sink_gone(sb, offset, size, orphan);
	sb_unplace(sb, offset);
}

/*
 * The buffer is gone but its pages stay parked, in @attribute: the pool
 * makes its next buffer of that class there if it has room (the placement
 * stays allocated), else the pages and the placement are given back.
 */
static void sink_parked(void *ctx, uint64_t offset, uint64_t size,
			enum dmabufd_attribute attribute, struct buffer *orphan)
{
	struct server_backend *sb = ctx;
	int err;

	sink_gone(sb, offset, size, orphan);
	if (sb->offer_parked && sb->offer_parked(sb, offset, size, attribute))
		return;
	err = sb->backend->ops->unpark(sb->backend, offset, size);
	if (err < 0)
		log_warn("%s: cannot unpark %llu bytes at offset %llu: %s", sb->caps.name,
			 (unsigned long long)size, (unsigned long long)offset, strerror(-err));
	sb_unplace(sb, offset);
}

static struct buffer *sink_adopt(void *ctx, const struct backend_live_buffer *lb)
{
	struct server_backend *sb = ctx;
	struct server *s = sb->server;
	struct buffer *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->size = lb->size;
	b->offset = lb->offset;
	b->attribute = lb->attribute;
	b->flags = lb->flags | DMABUFD_ALLOC_CONTIGUOUS;
	b->fd = -1;
	b->orphaned = true; /* shown in List; not on the fd store's orphan list */
	strcpy(b->comm, "?");
	snprintf(b->label, sizeof(b->label), "%s", lb->label ? lb->label : "");
	b->created_usec = realtime_usec();
	TAILQ_INIT(&b->importers);
	if (sb_place_restored(sb, b) < 0) {
		log_error("module buffer at offset %llu (%llu bytes) overlaps another; not adopted",
			  (unsigned long long)lb->offset, (unsigned long long)lb->size);
		free(b);
		return NULL;
	}
	if (registry_insert(&s->registry, b) < 0) {
		sb_unplace(sb, b->offset);
		free(b);
		return NULL;
	}
	s->used += b->size;
	sb->orphans++;
	s->backend_orphans++;
	return b;
}

static void sink_unusable(void *ctx, uint64_t offset, uint64_t size)
{
	struct server_backend *sb = ctx;
	int err = dmabufd_region_reserve(sb->region, (uint32_t)(offset / sb->caps.page_size),
					 (uint32_t)(size / sb->caps.page_size));

	if (err < 0)
		log_warn("cannot reserve unusable range at %llu (+%llu bytes): %s",
			 (unsigned long long)offset, (unsigned long long)size, strerror(-err));
}

static struct backend_sink sb_sink(struct server_backend *sb)
{
	return (struct backend_sink){ .ctx = sb, .released = sink_released, .parked = sink_parked,
				      .adopt = sink_adopt, .unusable = sink_unusable };
}

static void backend_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_backend *sb = arg;
	struct backend_sink sink = sb_sink(sb);

	sb->backend->ops->handle_events(sb->backend, &sink);
}

int sb_events_init(struct server_backend *sb)
{
	const struct backend_ops *ops = sb->backend->ops;
	struct backend_sink sink = sb_sink(sb);
	int fd = -1, err;

	sb->poll_events = sb_events_poll;
	if (ops->event_fd && ops->handle_events)
		fd = ops->event_fd(sb->backend);
	if (fd >= 0) {
		if (ops->rebuild) {
			err = ops->rebuild(sb->backend, &sink);
			if (err < 0)
				return err;
		}
		sb->ev = event_new(sb->server->base, fd, EV_READ | EV_PERSIST, backend_event_cb, sb);
		if (!sb->ev || event_add(sb->ev, NULL) < 0)
			return -ENOMEM;
	}
	return 0;
}

void sb_events_poll(struct server_backend *sb)
{
	struct backend_sink sink = sb_sink(sb);

	if (sb->backend->ops->handle_events)
		sb->backend->ops->handle_events(sb->backend, &sink);
}

void sb_events_finish(struct server_backend *sb)
{
	struct server *s = sb->server;
	struct buffer *b, *next;

	if (sb->ev)
		event_free(sb->ev);
	sb->ev = NULL;
	/* Orphans have no owner: nothing else frees them. */
	for (b = TAILQ_FIRST(&s->registry.order); b && sb->orphans; b = next) {
		next = TAILQ_NEXT(b, order_link);
		if (!b->owner && b->orphaned && b->home == sb) {
			registry_remove(&s->registry, b);
			sb->orphans--;
			s->backend_orphans--;
			free(b);
		}
	}
}
