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

#include "log.h"
#include "server.h"

static void sink_released(void *ctx, uint64_t offset, uint64_t size, struct buffer *orphan)
{
	struct server *s = ctx;

	server_unplace(s, offset);
	if (!orphan)
		return;
	share_buffer_gone(s, orphan);
	registry_remove(&s->registry, orphan);
	s->used -= orphan->size;
	s->backend_orphans--;
	s->counters.releases_total++;
	log_info("orphaned buffer %llu released (%llu bytes at offset %llu)",
		 (unsigned long long)orphan->id, (unsigned long long)size,
		 (unsigned long long)offset);
	free(orphan);
}

static struct buffer *sink_adopt(void *ctx, const struct backend_live_buffer *lb)
{
	struct server *s = ctx;
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
	if (server_place_restored(s, b) < 0) {
		log_error("module buffer at offset %llu (%llu bytes) overlaps another; not adopted",
			  (unsigned long long)lb->offset, (unsigned long long)lb->size);
		free(b);
		return NULL;
	}
	if (registry_insert(&s->registry, b) < 0) {
		server_unplace(s, b->offset);
		free(b);
		return NULL;
	}
	s->used += b->size;
	s->backend_orphans++;
	return b;
}

static void sink_unusable(void *ctx, uint64_t offset, uint64_t size)
{
	struct server *s = ctx;
	int err = dmabufd_region_reserve(s->region, (uint32_t)(offset / s->caps.page_size),
					 (uint32_t)(size / s->caps.page_size));

	if (err < 0)
		log_warn("cannot reserve unusable range at %llu (+%llu bytes): %s",
			 (unsigned long long)offset, (unsigned long long)size, strerror(-err));
}

static const struct backend_sink *server_sink(struct server *s)
{
	static struct backend_sink sink;

	sink = (struct backend_sink){ .ctx = s, .released = sink_released, .adopt = sink_adopt,
				      .unusable = sink_unusable };
	return &sink;
}

static void backend_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	s->backend->ops->handle_events(s->backend, server_sink(s));
}

int server_backend_events_init(struct server *s)
{
	const struct backend_ops *ops = s->backend->ops;
	int fd, err;

	if (!ops->event_fd || !ops->handle_events)
		return 0;
	fd = ops->event_fd(s->backend);
	if (fd < 0)
		return 0;
	if (ops->rebuild) {
		err = ops->rebuild(s->backend, server_sink(s));
		if (err < 0)
			return err;
	}
	s->ev_backend = event_new(s->base, fd, EV_READ | EV_PERSIST, backend_event_cb, s);
	if (!s->ev_backend || event_add(s->ev_backend, NULL) < 0)
		return -ENOMEM;
	return 0;
}

void server_backend_events_finish(struct server *s)
{
	struct buffer *b, *next;

	if (s->ev_backend)
		event_free(s->ev_backend);
	s->ev_backend = NULL;
	/* Orphans have no owner: nothing else frees them. */
	for (b = TAILQ_FIRST(&s->registry.order); b; b = next) {
		next = TAILQ_NEXT(b, order_link);
		if (!b->owner && b->orphaned && s->backend_orphans) {
			registry_remove(&s->registry, b);
			s->backend_orphans--;
			free(b);
		}
	}
}
