/* SPDX-License-Identifier: MIT */
/*
 * The fd store (see fdstore.h and docs/SYSTEMD.md, "Restart without loss"),
 * running: stored buffers and imports and their state records, the orphan
 * owners. fdstore_restore.c sets it up from what a previous instance left.
 */
#include "fdstore.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macros.h"
#include "registry.h"
#include "buffer.h"
#include "placement.h"
#include "sd.h"
#include "share.h"
#include "share_charge.h"
#include "fdstore_internal.h"

struct fdstore_run fdstore_st = { .state_fd = -1 };

/* Start time of @pid (field 22 of /proc/<pid>/stat, clock ticks since boot), 0 if unknown. */
static uint64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	unsigned long long start;
	char *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: skip past the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	if (sscanf(p, " %llu", &start) != 1)
		return 0;
	return start;
}

int fdstore_notify_store(int fd, const char *name)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
}

void fdstore_notify_remove(const char *name)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	sd_notify(0, msg);
}

/* The header of the running store: its slots, the next id, the backend. */
int fdstore_write_header(const struct server *s)
{
	return fdstore_state_write_header(fdstore_st.state_fd, fdstore_st.nslots, s->registry.next_id,
					  s->backends[0].caps.page_size, s->backends[0].caps.name);
}

/* ---- orphans ------------------------------------------------------------ */

static void owner_free(struct orphan_owner *o)
{
	LIST_REMOVE(o, link);
	if (o->ev)
		event_free(o->ev);
	if (o->pidfd >= 0)
		close(o->pidfd);
	free(o);
}

/*
 * @o's process exited: its imports end, and each buffer it owns passes to
 * its earliest import or is released (share_orphan_owner_gone()). @o is
 * freed. While the daemon stops (@stopping), the buffers are only
 * released: the store is frozen and keeps their records.
 */
static void owner_reap(struct orphan_owner *o, bool stopping)
{
	struct import *im;
	struct buffer *b;

	o->reaping = true;
	/* hook_import_removed() takes each off o->imports. */
	while ((im = TAILQ_FIRST(&o->imports)))
		share_import_drop(fdstore_st.s, im);
	while ((b = TAILQ_FIRST(&o->buffers))) {
		TAILQ_REMOVE(&o->buffers, b, orphan_link);
		b->orphaned = false;
		fdstore_st.norphans--;
		if (stopping)
			buffer_release(fdstore_st.s, b);
		else
			share_orphan_owner_gone(fdstore_st.s, b);
	}
	owner_free(o);
}

/* Frees @o once it owns and imports nothing. */
void fdstore_owner_put(struct orphan_owner *o)
{
	if (o && !o->reaping && TAILQ_EMPTY(&o->buffers) && TAILQ_EMPTY(&o->imports))
		owner_free(o);
}

static void owner_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct orphan_owner *o = arg;
	pid_t pid = o->pid;
	size_t n = 0;
	struct buffer *b;

	TAILQ_FOREACH(b, &o->buffers, orphan_link)
		n++;
	{
		LOG_CONTEXT_SCOPE();
		log_context_push("OWNER_PID=%d", (int)pid);
		log_info("owner pid %d exited: its imports end; its %zu orphaned buffers pass to "
			 "their importers or are released", (int)pid, n);
	}
	owner_reap(o, false);
	service_status_changed();
}

/* The owner record for (@pid, @start), created and watched on first use. */
struct orphan_owner *fdstore_owner_get(pid_t pid, uint64_t start, bool *ret_dead)
{
	struct orphan_owner *o;
	int pidfd;

	*ret_dead = false;
	LIST_FOREACH(o, &fdstore_st.owners, link)
		if (o->pid == pid && o->start == start)
			return o;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH) {
			*ret_dead = true;
			return NULL;
		}
		/* No pidfds: keep the buffers until the owner reconnects. */
		log_warn("pidfd_open(%d): %s; orphaned buffers kept until the owner reconnects",
			 (int)pid, strerror(errno));
	} else if (start && proc_start_time(pid) != start) {
		/* The pid was reused: checked after opening the pidfd (race-free). */
		close(pidfd);
		*ret_dead = true;
		return NULL;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		if (pidfd >= 0)
			close(pidfd);
		return NULL;
	}
	o->pid = pid;
	o->start = start;
	o->pidfd = pidfd;
	TAILQ_INIT(&o->buffers);
	TAILQ_INIT(&o->imports);
	if (pidfd >= 0) {
		o->ev = event_new(fdstore_st.s->base, pidfd, EV_READ, owner_exit_cb, o);
		if (!o->ev || event_add(o->ev, NULL) < 0)
			log_warn("cannot watch pid %d; its orphaned buffers stay until it reconnects",
				 (int)pid);
	}
	LIST_INSERT_HEAD(&fdstore_st.owners, o, link);
	return o;
}

static struct orphan_owner *owner_find(pid_t pid, uint64_t start)
{
	struct orphan_owner *o;

	LIST_FOREACH(o, &fdstore_st.owners, link)
		if (o->pid == pid && o->start == start)
			return o;
	return NULL;
}

static struct orphan_owner *owner_of(const struct buffer *b)
{
	return owner_find(b->pid, b->owner_start);
}

size_t fdstore_orphan_count(void)
{
	return fdstore_st.norphans;
}

/* ---- hooks ---------------------------------------------------------------- */

/* Doubles the slots of the state memfd (for import records). */
static bool grow_slots(void)
{
	uint32_t n = fdstore_st.nslots > FDSTORE_MAX_SLOTS / 2 ? FDSTORE_MAX_SLOTS : fdstore_st.nslots * 2;
	uint8_t *used;

	if (n <= fdstore_st.nslots)
		return false;
	used = realloc(fdstore_st.slot_used, n);
	if (!used)
		return false;
	memset(used + fdstore_st.nslots, 0, n - fdstore_st.nslots);
	fdstore_st.slot_used = used;
	/* Larger first, then the header that declares it: a kill between leaves a valid state. */
	if (ftruncate(fdstore_st.state_fd, fdstore_state_slot_offset(n)) < 0)
		return false;
	fdstore_st.hint = fdstore_st.nslots;
	fdstore_st.nslots = n;
	return fdstore_write_header(fdstore_st.s) == 0;
}

/* A free slot for a buffer record (@import false) or an import record. */
static bool alloc_slot_kind(bool import, uint32_t *ret)
{
	if (!import && fdstore_st.nstored >= fdstore_st.max_buffers)
		return false;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < fdstore_st.nslots; i++) {
			uint32_t k = (fdstore_st.hint + i) % fdstore_st.nslots;

			if (!fdstore_st.slot_used[k]) {
				fdstore_st.slot_used[k] = import ? 2 : 1;
				if (import)
					fdstore_st.nimports++;
				else
					fdstore_st.nstored++;
				fdstore_st.hint = k + 1;
				*ret = k;
				return true;
			}
		}
		if (!grow_slots())
			break;
	}
	return false;
}

bool fdstore_alloc_slot(uint32_t *ret)
{
	return alloc_slot_kind(false, ret);
}

static void free_slot(uint32_t k)
{
	if (fdstore_st.slot_used[k] == 2)
		fdstore_st.nimports--;
	else
		fdstore_st.nstored--;
	fdstore_st.slot_used[k] = 0;
}

static struct fdstore_import import_record(const struct import *im)
{
	struct fdstore_import r = {
		.buffer_id = im->buffer->id,
		.imported_usec = im->imported_usec,
		.start = im->start,
		.pid = im->pid,
		.uid = im->uid,
		.gid = im->gid,
	};

	memcpy(r.comm, im->comm, sizeof(r.comm));
	return r;
}

/* Records @im in a free slot of the state memfd (its buffer is stored). */
void fdstore_store_import(struct import *im)
{
	struct fdstore_import r = import_record(im);
	uint32_t slot;

	if (!im->buffer->store_slot || !alloc_slot_kind(true, &slot))
		return;
	if (fdstore_state_write_import(fdstore_st.state_fd, slot, &r) < 0) {
		fdstore_state_write_record(fdstore_st.state_fd, slot, NULL);
		free_slot(slot);
		return;
	}
	im->store_slot = slot + 1;
}

void fdstore_buffer_added(struct server *s, struct buffer *b)
{
	char name[32];
	uint32_t slot;
	int err;

	service_status_changed();
	if (!fdstore_st.enabled || fdstore_st.frozen)
		return;
	b->owner_start = proc_start_time(b->pid);
	/* next_id is recorded even for buffers that are not stored: ids are never reused. */
	fdstore_write_header(s);
	if (!fdstore_alloc_slot(&slot)) {
		if (!fdstore_st.warned_full)
			log_buffer_event(LOG_LEVEL_WARNING, b, -ENOSPC,
					 "fd store full (%u buffers): buffer %" PRIu64
					 " and later ones will not survive a restart",
					 fdstore_st.nslots, b->id);
		fdstore_st.warned_full = true;
		return;
	}
	err = fdstore_state_write_record(fdstore_st.state_fd, slot, b);
	snprintf(name, sizeof(name), "buf-%" PRIu64, b->id);
	if (err == 0) {
		err = fdstore_notify_store(b->fd, name);
		err = err > 0 ? 0 : (err < 0 ? err : -ENOTCONN);
	}
	if (err < 0) {
		fdstore_state_write_record(fdstore_st.state_fd, slot, NULL);
		free_slot(slot);
		log_buffer_event(LOG_LEVEL_WARNING, b, err,
				 "cannot store buffer %" PRIu64 " in the fd store: %s", b->id,
				 strerror(-err));
		return;
	}
	b->store_slot = slot + 1;
}

void fdstore_buffer_released(struct server *s, struct buffer *b)
{
	char name[32];

	if (b->orphaned) {
		struct orphan_owner *o = owner_of(b);

		b->orphaned = false;
		fdstore_st.norphans--;
		if (o) {
			TAILQ_REMOVE(&o->buffers, b, orphan_link);
			fdstore_owner_put(o);
		}
	}
	service_status_changed();
	if (!fdstore_st.enabled || fdstore_st.frozen || !b->store_slot)
		return;
	fdstore_state_write_record(fdstore_st.state_fd, b->store_slot - 1, NULL);
	free_slot(b->store_slot - 1);
	b->store_slot = 0;
	snprintf(name, sizeof(name), "buf-%" PRIu64, b->id);
	fdstore_notify_remove(name);
}

void fdstore_client_connected(struct server *s, struct client *c)
{
	struct orphan_owner *o, *next;
	struct import *im;
	uint64_t start;
	size_t n = 0, nimports = 0;

	if (LIST_EMPTY(&fdstore_st.owners))
		return;
	start = proc_start_time(c->cred.pid);
	for (o = LIST_FIRST(&fdstore_st.owners); o; o = next) {
		struct buffer *b;

		next = LIST_NEXT(o, link);
		if (o->pid != c->cred.pid || o->start != start)
			continue;
		while ((b = TAILQ_FIRST(&o->buffers))) {
			TAILQ_REMOVE(&o->buffers, b, orphan_link);
			b->orphaned = false;
			fdstore_st.norphans--;
			share_claim_owner(s, b, c);
			n++;
		}
		while ((im = TAILQ_FIRST(&o->imports))) {
			TAILQ_REMOVE(&o->imports, im, client_link);
			share_claim_import(s, im, c);
			nimports++;
		}
		owner_free(o);
	}
	if (n || nimports) {
		LOG_CONTEXT_SCOPE();
		log_context_push("CLIENT_PID=%d", (int)c->cred.pid);
		log_info("client pid %d (%s) reconnected and claimed %zu orphaned buffers and %zu imports",
			 (int)c->cred.pid, c->comm, n, nimports);
		service_status_changed();
	}
}

/* ---- what share.c reports (struct store_hooks) ------------------------------ */

static bool store_writable(void)
{
	return fdstore_st.enabled && !fdstore_st.frozen;
}

static void hook_buffer_changed(struct server *s, struct buffer *b)
{
	/* A connected new owner: its start time names it after a restart. */
	if (b->owner)
		b->owner_start = proc_start_time(b->pid);
	if (store_writable() && b->store_slot)
		fdstore_state_write_record(fdstore_st.state_fd, b->store_slot - 1, b);
}

static void hook_import_added(struct server *s, struct import *im)
{
	im->start = proc_start_time(im->pid);
	if (store_writable())
		fdstore_store_import(im);
}

static void hook_import_removed(struct server *s, struct import *im)
{
	if (!im->client) {
		struct orphan_owner *o = owner_find(im->pid, im->start);

		if (o) {
			TAILQ_REMOVE(&o->imports, im, client_link);
			fdstore_owner_put(o);
		}
	}
	if (store_writable() && im->store_slot) {
		fdstore_state_write_record(fdstore_st.state_fd, im->store_slot - 1, NULL);
		free_slot(im->store_slot - 1);
	}
	im->store_slot = 0;
}

static void hook_orphan_owned(struct server *s, struct buffer *b)
{
	bool dead;
	struct orphan_owner *o = fdstore_owner_get(b->pid, b->owner_start, &dead);

	b->orphaned = true;
	fdstore_st.norphans++;
	if (o)
		TAILQ_INSERT_TAIL(&o->buffers, b, orphan_link);
	else
		log_warn("buffer %" PRIu64 ": its new owner pid %d cannot be watched; it stays "
			 "orphaned until that process connects", b->id, (int)b->pid);
}

const struct store_hooks fdstore_hooks = {
	.buffer_changed = hook_buffer_changed,
	.import_added = hook_import_added,
	.import_removed = hook_import_removed,
	.orphan_owned = hook_orphan_owned,
};

void fdstore_finish(struct server *s)
{
	struct orphan_owner *o;

	fdstore_st.frozen = true;
	buffer_stopping(s);
	while ((o = LIST_FIRST(&fdstore_st.owners)))
		owner_reap(o, true);
	s->store = NULL;
	if (fdstore_st.state_fd >= 0)
		close(fdstore_st.state_fd);
	free(fdstore_st.slot_used);
	memset(&fdstore_st, 0, sizeof(fdstore_st));
	fdstore_st.state_fd = -1;
}
