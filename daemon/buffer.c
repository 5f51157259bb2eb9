/* SPDX-License-Identifier: MIT */
#include "buffer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "macros.h"
#include "placement.h"
#include "sd.h"

/* How often the held dma-bufs' file counts are read (polled backends). */
#define HELD_POLL_SEC 1
/*
 * A client typically closes its fd right after its Release is answered:
 * each new held dma-buf is read once this soon after (µs), so that the
 * common release-then-close gives its range back at once, not a poll later.
 */
#define HELD_QUICK_USEC 10000
/* ... and at most this often for a refused Alloc (µs): a client that keeps
 * being refused cannot make the daemon read every held count each time. */
#define HELD_SWEEP_REFUSED_USEC 100000u

void buffer_init(struct server *s)
{
	TAILQ_INIT(&s->held);
	s->nheld = 0;
	s->held_bytes = 0;
}

void buffer_stopping(struct server *s)
{
	s->stopping = true;
}

int buffer_on_release(struct server *s, buffer_release_hook *hook)
{
	for (unsigned i = 0; i < s->nrelease_hooks; i++)
		if (s->release_hooks[i] == hook)
			return 0;
	if (s->nrelease_hooks == SERVER_MAX_RELEASE_HOOKS)
		return -ENOSPC;
	s->release_hooks[s->nrelease_hooks++] = hook;
	return 0;
}

int buffer_record(struct server *s, struct buffer *b)
{
	struct client *c = b->owner;
	int err = registry_insert(&s->registry, b);

	if (err < 0)
		return err;
	TAILQ_INSERT_TAIL(&c->buffers, b, owner_link);
	c->nbuffers++;
	s->used += b->size;
	return 0;
}

/*
 * References to the open file of dma-buf @fd, the daemon's own included:
 * the "count:" line of its fdinfo (drivers/dma-buf/dma-buf.c,
 * dma_buf_show_fdinfo(): fds in every process, mappings and in-flight
 * SCM_RIGHTS messages each hold one). Return: the count, or -1 when the
 * kernel does not say.
 */
static long dmabuf_file_count(int fd)
{
	char path[64], buf[512];
	_cleanup_close_ int info = -1;
	const char *p;
	ssize_t n;
	long count;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY | O_CLOEXEC);
	if (info < 0)
		return -1;
	n = read(info, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strncmp(buf, "count:", 6) == 0 ? buf : strstr(buf, "\ncount:");
	if (!p)
		return -1;
	p = strchr(p, ':') + 1;
	if (sscanf(p, " %ld", &count) != 1)
		return -1;
	return count;
}

static void held_free(struct server *s, struct held_buffer *h)
{
	TAILQ_REMOVE(&s->held, h, link);
	s->nheld--;
	s->held_bytes -= h->size;
	ledger_uncharge(&s->ledger, NULL, h->uid, h->gid, true, h->size, h->attribute);
	if (h->fd >= 0)
		close(h->fd);
	free(h);
}

static void held_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)buffer_held_sweep(arg);
}

static void held_timer_update(struct server *s);

/* The first check of the buffers held since the last one (newest last). */
static void held_quick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct held_buffer *h, *prev;
	uint64_t upto = s->held_seq;

	for (h = TAILQ_LAST(&s->held, held_list); h && h->seq > s->held_quick_seq; h = prev) {
		prev = TAILQ_PREV(h, held_list, link);
		if (h->fd < 0 || dmabuf_file_count(h->fd) > 1)
			continue;
		sb_unplace(h->home, h->offset);
		held_free(s, h);
	}
	s->held_quick_seq = upto;
	held_timer_update(s);
}

static void held_quick_arm(struct server *s)
{
	static const struct timeval soon = { .tv_usec = HELD_QUICK_USEC };

	if (!s->ev_held_quick)
		s->ev_held_quick = evtimer_new(s->base, held_quick_cb, s);
	if (s->ev_held_quick && !evtimer_pending(s->ev_held_quick, NULL))
		evtimer_add(s->ev_held_quick, &soon);
}

/* Polls the held dma-bufs every HELD_POLL_SEC while one has an fd. */
static void held_timer_update(struct server *s)
{
	static const struct timeval every = { .tv_sec = HELD_POLL_SEC };
	struct held_buffer *h;
	bool polled = false;

	TAILQ_FOREACH(h, &s->held, link)
		if (h->fd >= 0) {
			polled = true;
			break;
		}
	if (!polled) {
		if (s->ev_held)
			event_del(s->ev_held);
		return;
	}
	if (!s->ev_held)
		s->ev_held = event_new(s->base, -1, EV_PERSIST, held_timer_cb, s);
	if (s->ev_held && !event_pending(s->ev_held, EV_TIMEOUT, NULL))
		event_add(s->ev_held, &every);
}

/*
 * Should released @b be held, and with which reference? A kmod buffer is
 * held until its release event (which the module queues at once when
 * nobody else has it); a dma-heap or udmabuf one while its dma-buf file
 * has references other than the daemon's. memfd: never (its release
 * empties the file, backend/memfd.c). The hold is charged here, before the
 * buffer's own charge is dropped.
 */
static struct held_buffer *hold_begin(struct server *s, struct buffer *b)
{
	struct server_backend *sb = buffer_home(s, b);
	struct held_buffer *h;
	int fd = -1;

	if (!sb->caps.dmabuf || b->fd < 0)
		return NULL;
	if (!sb->caps.deferred_release) {
		long count = dmabuf_file_count(b->fd);

		if (count <= 1)
			return NULL; /* only the daemon's fd, or the kernel does not say */
		fd = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h || ledger_charge(&s->ledger, NULL, b->charged_uid, b->charged_gid, true, b->size,
				b->attribute) < 0) {
		free(h);
		if (fd >= 0)
			close(fd);
		log_warn("buffer %llu: out of memory; released without holding its charge",
			 (unsigned long long)b->id);
		return NULL;
	}
	*h = (struct held_buffer){ .home = sb, .id = b->id, .offset = b->offset, .size = b->size,
				   .attribute = b->attribute, .uid = b->charged_uid,
				   .gid = b->charged_gid, .fd = fd, .seq = ++s->held_seq };
	TAILQ_INSERT_TAIL(&s->held, h, link);
	s->nheld++;
	s->held_bytes += h->size;
	return h;
}

void buffer_release(struct server *s, struct buffer *b)
{
	struct client *owner = b->owner;
	struct server_backend *sb = buffer_home(s, b);
	struct held_buffer *h = hold_begin(s, b);

	/* share.c: tokens, imports, charges; fdstore.c: FDSTOREREMOVE, orphans. */
	for (unsigned i = 0; i < s->nrelease_hooks; i++)
		s->release_hooks[i](s, b);
	if (owner) {
		TAILQ_REMOVE(&owner->buffers, b, owner_link);
		owner->nbuffers--;
	}
	registry_remove(&s->registry, b);
	b->discard = !s->stopping;
	if (h && !sb->caps.deferred_release) {
		/* Held: the placement stays until the last reference is gone. */
		sb->backend->ops->release(sb->backend, b);
		held_timer_update(s);
		held_quick_arm(s);
	} else {
		buffer_unmake(s, b);
	}
	s->used -= b->size;
	s->counters.releases_total++;
	/* BUFFER_ID= and the other buffer fields go to the journal. */
	log_buffer_event(LOG_LEVEL_DEBUG, b, 0, "buffer %llu released (%llu bytes, owner pid %d%s)",
			 (unsigned long long)b->id, (unsigned long long)b->size, (int)b->pid,
			 h ? "; held while referenced elsewhere" : "");
	free(b);
	/* kmod: with no other holder the release event is queued already. */
	if (h && sb->caps.deferred_release && sb->poll_events)
		sb->poll_events(sb);
}

void buffer_unmake(struct server *s, struct buffer *b)
{
	struct server_backend *sb = buffer_home(s, b);

	sb->backend->ops->release(sb->backend, b);
	/*
	 * Deferred release (kmod): clients may still map the pages; the range
	 * stays placed until the backend's release event (backend/events.c).
	 */
	if (!sb->caps.deferred_release)
		sb_unplace(sb, b->offset);
}

bool buffer_held_released(struct server *s, struct server_backend *sb, uint64_t offset)
{
	struct held_buffer *h;

	TAILQ_FOREACH(h, &s->held, link)
		if (h->home == sb && h->offset == offset && h->fd < 0) {
			log_debug("held buffer %llu: last reference gone; uid %u uncharged",
				  (unsigned long long)h->id, (unsigned)h->uid);
			held_free(s, h);
			return true;
		}
	return false;
}

unsigned buffer_held_sweep(struct server *s)
{
	struct held_buffer *h, *next;
	unsigned n = 0;

	for (h = TAILQ_FIRST(&s->held); h; h = next) {
		next = TAILQ_NEXT(h, link);
		if (h->fd < 0 || dmabuf_file_count(h->fd) > 1)
			continue;
		log_debug("held buffer %llu: last reference gone; uid %u uncharged",
			  (unsigned long long)h->id, (unsigned)h->uid);
		sb_unplace(h->home, h->offset);
		held_free(s, h);
		n++;
	}
	held_timer_update(s);
	return n;
}

unsigned buffer_held_sweep_refused(struct server *s)
{
	static uint64_t last;
	uint64_t now;

	if (!s->ev_held || !event_pending(s->ev_held, EV_TIMEOUT, NULL))
		return 0; /* nothing polled is held */
	now = monotonic_usec();
	if (last && now - last < HELD_SWEEP_REFUSED_USEC)
		return 0;
	last = now;
	return buffer_held_sweep(s);
}

void buffer_finish(struct server *s)
{
	struct held_buffer *h;

	if (s->ev_held)
		event_free(s->ev_held);
	s->ev_held = NULL;
	if (s->ev_held_quick)
		event_free(s->ev_held_quick);
	s->ev_held_quick = NULL;
	while ((h = TAILQ_FIRST(&s->held))) {
		if (h->fd >= 0)
			sb_unplace(h->home, h->offset);
		held_free(s, h);
	}
}
