/* SPDX-License-Identifier: MIT */
/*
 * The fd store (see fdstore.h and docs/SYSTEMD.md, "Restart without loss").
 *
 * Nothing read from the store is trusted: the file size is checked against
 * nslots before any record is read, every record's checksum and every
 * field is checked, strings must be NUL-terminated, ids unique and below
 * next_id, and each buffer's memfd must be a regular file of exactly the
 * recorded size carrying the memfd backend's seals.
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

/*
 * A process known from the restored state that has not connected since:
 * the buffers it owns and the imports it holds, until it connects again
 * (fdstore_client_connected()) or exits (its pidfd).
 */
struct orphan_owner {
	LIST_ENTRY(orphan_owner) link;
	pid_t pid;
	uint64_t start;
	int pidfd;
	struct event *ev;
	struct buffer_list buffers;  /* via orphan_link */
	struct import_list imports;  /* via client_link */
	bool reaping;                /* owner_reap() frees it, not owner_put() */
};

static struct {
	struct server *s;
	bool enabled;
	bool frozen;
	int state_fd;
	uint32_t nslots;            /* slots in the state memfd (grows for imports) */
	uint32_t max_buffers;       /* buffer records: one per stored fd */
	uint32_t nstored;           /* buffer records */
	uint32_t nimports;          /* import records */
	uint32_t hint;              /* where to start looking for a free slot */
	uint8_t *slot_used;
	bool warned_full;
	size_t norphans;
	LIST_HEAD(, orphan_owner) owners;
} st = { .state_fd = -1 };

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

static int notify_store(int fd, const char *name)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	return sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
}

static void notify_remove(const char *name)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	sd_notify(0, msg);
}

/* The header of the running store: its slots, the next id, the backend. */
static int write_header(const struct server *s)
{
	return fdstore_state_write_header(st.state_fd, st.nslots, s->registry.next_id,
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
		share_import_drop(st.s, im);
	while ((b = TAILQ_FIRST(&o->buffers))) {
		TAILQ_REMOVE(&o->buffers, b, orphan_link);
		b->orphaned = false;
		st.norphans--;
		if (stopping)
			buffer_release(st.s, b);
		else
			share_orphan_owner_gone(st.s, b);
	}
	owner_free(o);
}

/* Frees @o once it owns and imports nothing. */
static void owner_put(struct orphan_owner *o)
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
static struct orphan_owner *owner_get(pid_t pid, uint64_t start, bool *ret_dead)
{
	struct orphan_owner *o;
	int pidfd;

	*ret_dead = false;
	LIST_FOREACH(o, &st.owners, link)
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
		o->ev = event_new(st.s->base, pidfd, EV_READ, owner_exit_cb, o);
		if (!o->ev || event_add(o->ev, NULL) < 0)
			log_warn("cannot watch pid %d; its orphaned buffers stay until it reconnects",
				 (int)pid);
	}
	LIST_INSERT_HEAD(&st.owners, o, link);
	return o;
}

static struct orphan_owner *owner_find(pid_t pid, uint64_t start)
{
	struct orphan_owner *o;

	LIST_FOREACH(o, &st.owners, link)
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
	return st.norphans;
}

/* ---- hooks ---------------------------------------------------------------- */

/* Doubles the slots of the state memfd (for import records). */
static bool grow_slots(void)
{
	uint32_t n = st.nslots > FDSTORE_MAX_SLOTS / 2 ? FDSTORE_MAX_SLOTS : st.nslots * 2;
	uint8_t *used;

	if (n <= st.nslots)
		return false;
	used = realloc(st.slot_used, n);
	if (!used)
		return false;
	memset(used + st.nslots, 0, n - st.nslots);
	st.slot_used = used;
	/* Larger first, then the header that declares it: a kill between leaves a valid state. */
	if (ftruncate(st.state_fd, fdstore_state_slot_offset(n)) < 0)
		return false;
	st.hint = st.nslots;
	st.nslots = n;
	return write_header(st.s) == 0;
}

/* A free slot for a buffer record (@import false) or an import record. */
static bool alloc_slot_kind(bool import, uint32_t *ret)
{
	if (!import && st.nstored >= st.max_buffers)
		return false;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < st.nslots; i++) {
			uint32_t k = (st.hint + i) % st.nslots;

			if (!st.slot_used[k]) {
				st.slot_used[k] = import ? 2 : 1;
				if (import)
					st.nimports++;
				else
					st.nstored++;
				st.hint = k + 1;
				*ret = k;
				return true;
			}
		}
		if (!grow_slots())
			break;
	}
	return false;
}

static bool alloc_slot(uint32_t *ret)
{
	return alloc_slot_kind(false, ret);
}

static void free_slot(uint32_t k)
{
	if (st.slot_used[k] == 2)
		st.nimports--;
	else
		st.nstored--;
	st.slot_used[k] = 0;
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
static void store_import(struct import *im)
{
	struct fdstore_import r = import_record(im);
	uint32_t slot;

	if (!im->buffer->store_slot || !alloc_slot_kind(true, &slot))
		return;
	if (fdstore_state_write_import(st.state_fd, slot, &r) < 0) {
		fdstore_state_write_record(st.state_fd, slot, NULL);
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
	if (!st.enabled || st.frozen)
		return;
	b->owner_start = proc_start_time(b->pid);
	/* next_id is recorded even for buffers that are not stored: ids are never reused. */
	write_header(s);
	if (!alloc_slot(&slot)) {
		if (!st.warned_full)
			log_buffer_event(LOG_LEVEL_WARNING, b, -ENOSPC,
					 "fd store full (%u buffers): buffer %" PRIu64
					 " and later ones will not survive a restart",
					 st.nslots, b->id);
		st.warned_full = true;
		return;
	}
	err = fdstore_state_write_record(st.state_fd, slot, b);
	snprintf(name, sizeof(name), "buf-%" PRIu64, b->id);
	if (err == 0) {
		err = notify_store(b->fd, name);
		err = err > 0 ? 0 : (err < 0 ? err : -ENOTCONN);
	}
	if (err < 0) {
		fdstore_state_write_record(st.state_fd, slot, NULL);
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
		st.norphans--;
		if (o) {
			TAILQ_REMOVE(&o->buffers, b, orphan_link);
			owner_put(o);
		}
	}
	service_status_changed();
	if (!st.enabled || st.frozen || !b->store_slot)
		return;
	fdstore_state_write_record(st.state_fd, b->store_slot - 1, NULL);
	free_slot(b->store_slot - 1);
	b->store_slot = 0;
	snprintf(name, sizeof(name), "buf-%" PRIu64, b->id);
	notify_remove(name);
}

void fdstore_client_connected(struct server *s, struct client *c)
{
	struct orphan_owner *o, *next;
	struct import *im;
	uint64_t start;
	size_t n = 0, nimports = 0;

	if (LIST_EMPTY(&st.owners))
		return;
	start = proc_start_time(c->cred.pid);
	for (o = LIST_FIRST(&st.owners); o; o = next) {
		struct buffer *b;

		next = LIST_NEXT(o, link);
		if (o->pid != c->cred.pid || o->start != start)
			continue;
		while ((b = TAILQ_FIRST(&o->buffers))) {
			TAILQ_REMOVE(&o->buffers, b, orphan_link);
			b->orphaned = false;
			st.norphans--;
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
	return st.enabled && !st.frozen;
}

static void hook_buffer_changed(struct server *s, struct buffer *b)
{
	/* A connected new owner: its start time names it after a restart. */
	if (b->owner)
		b->owner_start = proc_start_time(b->pid);
	if (store_writable() && b->store_slot)
		fdstore_state_write_record(st.state_fd, b->store_slot - 1, b);
}

static void hook_import_added(struct server *s, struct import *im)
{
	im->start = proc_start_time(im->pid);
	if (store_writable())
		store_import(im);
}

static void hook_import_removed(struct server *s, struct import *im)
{
	if (!im->client) {
		struct orphan_owner *o = owner_find(im->pid, im->start);

		if (o) {
			TAILQ_REMOVE(&o->imports, im, client_link);
			owner_put(o);
		}
	}
	if (store_writable() && im->store_slot) {
		fdstore_state_write_record(st.state_fd, im->store_slot - 1, NULL);
		free_slot(im->store_slot - 1);
	}
	im->store_slot = 0;
}

static void hook_orphan_owned(struct server *s, struct buffer *b)
{
	bool dead;
	struct orphan_owner *o = owner_get(b->pid, b->owner_start, &dead);

	b->orphaned = true;
	st.norphans++;
	if (o)
		TAILQ_INSERT_TAIL(&o->buffers, b, orphan_link);
	else
		log_warn("buffer %" PRIu64 ": its new owner pid %d cannot be watched; it stays "
			 "orphaned until that process connects", b->id, (int)b->pid);
}

static const struct store_hooks hooks = {
	.buffer_changed = hook_buffer_changed,
	.import_added = hook_import_added,
	.import_removed = hook_import_removed,
	.orphan_owned = hook_orphan_owned,
};

/* ---- setup / restore ------------------------------------------------------ */

struct restored {
	struct buffer *b;
	int fd_index;
	uint32_t slot;
};

static int cmp_restored(const void *a, const void *b)
{
	const struct restored *x = a, *y = b;

	return x->b->id < y->b->id ? -1 : x->b->id > y->b->id;
}

/* Is @fd a buffer memfd of exactly @size bytes with the backend's seals? */
static bool buffer_fd_ok(int fd, uint64_t size)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct stat sb;
	int seals;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size)
		return false;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & want) == want;
}

static int find_name(char **names, int *fds, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0 && names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* Refuses a stored fd: close it and take it out of the manager's store. */
static void refuse_fd(int *fds, char **names, size_t i, bool remove)
{
	if (fds[i] < 0)
		return;
	close(fds[i]);
	fds[i] = -1;
	if (remove && names[i] && names[i][0])
		notify_remove(names[i]);
}

/*
 * Reads and checks the state memfd at @fd. On success fills @rest (n
 * entries, buffers malloc'ed, not inserted) and *ret_next_id.
 * Return: number of restored entries, or -EBADMSG (foreign/corrupt
 * header: nothing restored), -ENOMEM.
 */
static int read_state(int fd, int *fds, char **names, size_t n, struct restored **ret,
		      uint64_t *ret_next_id, struct fdstore_import **ret_imports,
		      size_t *ret_nimports)
{
	const struct backend_caps *caps = &st.s->backends[0].caps;
	uint8_t r[FDSTORE_RECORD_SIZE];
	struct restored *rest = NULL;
	struct fdstore_import *imports = NULL;
	size_t nimports = 0, imports_cap = 0;
	uint64_t next_id;
	uint32_t nslots, version;
	size_t count = 0, bad = 0;

	if (fdstore_state_read_header(fd, caps->page_size, caps->name, &nslots, &next_id,
				      &version) < 0)
		return -EBADMSG;
	/* At most one record per passed fd can be restored. */
	rest = calloc(n ? n : 1, sizeof(*rest));
	if (!rest)
		return -ENOMEM;
	for (uint32_t slot = 0; slot < nslots; slot++) {
		struct buffer tmp, *b;
		struct fdstore_import imp;
		char name[32];
		int k, ret_rec;

		if (pread(fd, r, sizeof(r), fdstore_state_slot_offset(slot)) != (ssize_t)sizeof(r)) {
			bad++;
			break;
		}
		ret_rec = fdstore_state_parse_record(r, version, next_id, caps->page_size, &tmp, &imp);
		if (ret_rec == FDSTORE_SLOT_FREE)
			continue;
		if (ret_rec < 0) {
			bad++;
			continue;
		}
		if (ret_rec == FDSTORE_SLOT_IMPORT) {
			if (nimports == imports_cap) {
				size_t cap = imports_cap ? imports_cap * 2 : 16;
				struct fdstore_import *ni = reallocarray(imports, cap, sizeof(*ni));

				if (!ni) {
					for (size_t i = 0; i < count; i++)
						free(rest[i].b);
					free(rest);
					free(imports);
					return -ENOMEM;
				}
				imports = ni;
				imports_cap = cap;
			}
			imports[nimports++] = imp;
			continue;
		}
		snprintf(name, sizeof(name), "buf-%" PRIu64, tmp.id);
		k = find_name(names, fds, n, name);
		if (k < 0) {
			log_warn("fd store: buffer %" PRIu64 " has a record but no fd; dropped", tmp.id);
			continue;
		}
		/* Unique ids: a second record for an id already taken is corrupt. */
		for (size_t i = 0; i < count; i++)
			if (rest[i].b->id == tmp.id)
				k = -1;
		if (k < 0 || count >= n) {
			bad++;
			continue;
		}
		if (!buffer_fd_ok(fds[k], tmp.size)) {
			log_warn("fd store: the fd of buffer %" PRIu64
				 " is not a sealed memfd of %" PRIu64 " bytes; dropped",
				 tmp.id, tmp.size);
			refuse_fd(fds, names, (size_t)k, true);
			continue;
		}
		b = malloc(sizeof(*b));
		if (!b) {
			for (size_t i = 0; i < count; i++)
				free(rest[i].b);
			free(rest);
			free(imports);
			return -ENOMEM;
		}
		*b = tmp;
		b->fd = -1;
		rest[count++] = (struct restored){ .b = b, .fd_index = k, .slot = slot };
	}
	if (bad)
		log_error("fd store: %zu corrupt state records refused", bad);
	*ret = rest;
	*ret_next_id = next_id;
	*ret_imports = imports;
	*ret_nimports = nimports;
	return (int)count;
}

static int create_state(void)
{
	_cleanup_close_ int fd = memfd_create("dmabufd-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return negative_errno();
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) < 0)
		return negative_errno();
	st.state_fd = TAKE_FD(fd);
	return 0;
}

/* Size the state memfd for st.nslots, empty. */
static int reset_state(void)
{
	if (ftruncate(st.state_fd, 0) < 0 ||
	    ftruncate(st.state_fd, fdstore_state_slot_offset(st.nslots)) < 0)
		return negative_errno();
	return 0;
}

/*
 * Is there a store to use? Only under a service manager, with room for the
 * state and one buffer ($FDSTORE may lower @max_fds), on the memfd
 * backend. Without one every passed fd is refused. *@max_fds is updated.
 */
static bool store_available(const struct server *s, uint32_t *max_fds, int *fds, char **names,
			    size_t n)
{
	const char *e = getenv("FDSTORE");

	if (e) {
		unsigned long v = strtoul(e, NULL, 10);

		if (v > 0 && v < *max_fds)
			*max_fds = (uint32_t)v;
	}
	if (getenv("NOTIFY_SOCKET") && *max_fds >= 2 &&
	    strcmp(s->backends[0].caps.name, "memfd") == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			log_warn("ignoring stored fd \"%s\": no fd store here",
				 names[i] ? names[i] : "");
			refuse_fd(fds, names, i, false);
		}
	return false;
}

/*
 * The state memfd: the stored one when it reads back (*@ret_rest gets its
 * buffers, the count is returned) or a new one (a foreign or corrupt
 * state is refused with every fd it describes). *@ret_reused says which.
 * Return: number of restored entries (>= 0); -ENOMEM; negative errno of
 * memfd creation.
 */
static int take_state(int *fds, char **names, size_t n, struct restored **ret_rest,
		      uint64_t *ret_next_id, struct fdstore_import **ret_imports,
		      size_t *ret_nimports, bool *ret_reused)
{
	int state_idx = find_name(names, fds, n, "state");
	int count = 0;

	*ret_reused = false;
	if (state_idx >= 0) {
		count = read_state(fds[state_idx], fds, names, n, ret_rest, ret_next_id,
				   ret_imports, ret_nimports);
		if (count == -ENOMEM)
			return -ENOMEM;
		if (count < 0) {
			/* Foreign or corrupt: refuse everything it describes. */
			log_error("fd store: refusing the stored state; %zu stored fds closed", n);
			count = 0;
			for (size_t i = 0; i < n; i++)
				refuse_fd(fds, names, i, true);
		} else {
			st.state_fd = fds[state_idx];
			fds[state_idx] = -1;
			*ret_reused = true;
			return count;
		}
	}
	{
		int err = create_state();

		return err < 0 ? err : count;
	}
}

/* Places the restored buffers in id order, within the capacity; the rest are refused. */
static void place_restored(struct server *s, struct restored *rest, int count, int *fds,
			   char **names)
{
	uint64_t used = 0;

	if (count > 0)
		qsort(rest, (size_t)count, sizeof(*rest), cmp_restored);
	for (int i = 0; i < count; i++) {
		struct buffer *b = rest[i].b;
		size_t k = (size_t)rest[i].fd_index;

		if (b->size > s->backends[0].caps.region_size - s->used - used ||
		    sb_place_restored(&s->backends[0], b) < 0) {
			log_buffer_event(LOG_LEVEL_WARNING, b, -ENOSPC,
					 "fd store: buffer %" PRIu64 " does not fit the region; dropped",
					 b->id);
			refuse_fd(fds, names, k, true);
			free(b);
			rest[i].b = NULL;
			continue;
		}
		used += b->size;
		b->fd = fds[k];
		fds[k] = -1;
	}
}

/*
 * A placed restored buffer becomes live again: registered under its id,
 * charged to its charged uid and gid, recorded in the fresh state, an
 * orphan of its owner process. Return: the buffer when that process is
 * gone (the caller passes it to an importer or releases it once the
 * imports are restored), else NULL.
 */
static struct buffer *adopt_restored(struct server *s, struct buffer *b)
{
	struct orphan_owner *o;
	bool dead;
	uint32_t slot;

	TAILQ_INIT(&b->importers);
	b->nimporters = 0;
	b->ntokens = 0;
	b->owner = NULL;
	b->home = NULL;
	s->registry.next_id = b->id;
	if (registry_insert(&s->registry, b) < 0 || share_restore_charge(s, b) < 0) {
		if (registry_lookup(&s->registry, b->id) == b)
			registry_remove(&s->registry, b);
		sb_unplace(&s->backends[0], b->offset);
		close(b->fd);
		free(b);
		return NULL;
	}
	s->used += b->size;
	if (alloc_slot(&slot) && fdstore_state_write_record(st.state_fd, slot, b) == 0)
		b->store_slot = slot + 1;
	b->orphaned = true;
	st.norphans++;
	o = owner_get(b->pid, b->owner_start, &dead);
	if (o)
		TAILQ_INSERT_TAIL(&o->buffers, b, orphan_link);
	log_buffer_event(LOG_LEVEL_INFO, b, 0,
			 "restored buffer %" PRIu64 " (%" PRIu64 " bytes, owner pid %d%s)",
			 b->id, b->size, (int)b->pid, dead ? ", exited" : "");
	if (dead || !o) {
		b->orphaned = false;
		st.norphans--;
		return b;
	}
	return NULL;
}

/*
 * A restored import record becomes an import of its buffer again, held by
 * its process (an orphan import until that process connects), recorded in
 * the fresh state. Dropped when its buffer was not restored, when it names
 * the buffer's own owner process (a transfer the state caught half-way),
 * and when its process is gone.
 */
static void adopt_import(struct server *s, const struct fdstore_import *r)
{
	struct buffer *b = registry_lookup(&s->registry, r->buffer_id);
	struct import from = { .imported_usec = r->imported_usec, .pid = r->pid, .uid = r->uid,
			       .gid = r->gid, .start = r->start };
	struct orphan_owner *o;
	struct import *im;
	bool dead;

	if (!b || (r->pid == b->pid && r->start == b->owner_start))
		return;
	TAILQ_FOREACH(im, &b->importers, buffer_link)
		if (im->pid == r->pid && im->start == r->start)
			return; /* one import per process and buffer */
	o = owner_get(r->pid, r->start, &dead);
	if (!o)
		return;
	memcpy(from.comm, r->comm, sizeof(from.comm));
	im = share_restore_import(s, b, &from);
	if (!im) {
		owner_put(o);
		return;
	}
	TAILQ_INSERT_TAIL(&o->imports, im, client_link);
	store_import(im);
	log_info("restored the import of buffer %" PRIu64 " by pid %d uid %u", b->id,
		 (int)r->pid, (unsigned)r->uid);
}

/* Whatever passed fd is left was not claimed by a record: refuse it. */
static void refuse_unclaimed(struct server *s, int *fds, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long long id;
		bool dup;

		if (fds[i] < 0)
			continue;
		/* A duplicate name of an adopted buffer: FDSTOREREMOVE would drop both. */
		dup = names[i] && sscanf(names[i], "buf-%llu", &id) == 1 &&
		      registry_lookup(&s->registry, id);
		log_warn("fd store: stored fd \"%s\" matches no record; closed",
			 names[i] ? names[i] : "");
		refuse_fd(fds, names, i, !dup);
	}
}

/* Writes the header and, for a new state memfd, hands it to the manager. */
static int publish_state(struct server *s, bool state_reused)
{
	int err = write_header(s);

	if (err < 0 || state_reused)
		return err;
	err = notify_store(st.state_fd, "state");
	if (err <= 0) {
		log_warn("fd store: the service manager did not take the state: %s",
			 err < 0 ? strerror(-err) : "no $NOTIFY_SOCKET");
		return err < 0 ? err : -ENOTCONN;
	}
	return 0;
}

/* Undoes the restored buffers not yet adopted (a placed one holds its fd). */
static void drop_restored(struct server *s, struct restored *rest, int count)
{
	for (int i = 0; i < count; i++)
		if (rest[i].b) {
			if (rest[i].b->fd >= 0) {
				close(rest[i].b->fd);
				sb_unplace(&s->backends[0], rest[i].b->offset);
			}
			free(rest[i].b);
		}
}

int fdstore_setup(struct server *s, uint32_t max_fds, int *fds, char **names, size_t n)
{
	struct restored *rest = NULL;
	struct fdstore_import *imports = NULL;
	struct buffer **gone = NULL;
	size_t nimports = 0, ngone = 0;
	uint64_t next_id = 1;
	int count, err;
	bool state_reused;

	st.s = s;
	LIST_INIT(&st.owners);
	/* Every release, stored or not, updates STATUS= and the orphans. */
	buffer_on_release(s, fdstore_buffer_released);
	if (!store_available(s, &max_fds, fds, names, n))
		return 0;
	s->store = &hooks;
	st.nslots = max_fds - 1 < FDSTORE_MAX_SLOTS ? max_fds - 1 : FDSTORE_MAX_SLOTS;
	st.max_buffers = st.nslots;
	st.slot_used = calloc(st.nslots, 1);
	if (!st.slot_used)
		return -ENOMEM;
	count = take_state(fds, names, n, &rest, &next_id, &imports, &nimports, &state_reused);
	if (count < 0) {
		err = count;
		count = 0;
		goto fail;
	}
	place_restored(s, rest, count, fds, names);
	/* The state is rewritten from what was accepted, packed from slot 0. */
	err = reset_state();
	if (err < 0)
		goto fail;
	gone = calloc(count > 0 ? (size_t)count : 1, sizeof(*gone));
	if (!gone) {
		err = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < count; i++) {
		struct buffer *b = TAKE_PTR(rest[i].b);

		if (b && (b = adopt_restored(s, b)))
			gone[ngone++] = b;
	}
	if (s->registry.next_id < next_id)
		s->registry.next_id = next_id;
	write_header(s);
	for (size_t i = 0; i < nimports; i++)
		adopt_import(s, &imports[i]);
	/* Owners gone during the restart: as if they had disconnected. */
	st.enabled = true;
	for (size_t i = 0; i < ngone; i++)
		share_orphan_owner_gone(s, gone[i]);
	st.enabled = false;
	refuse_unclaimed(s, fds, names, n);
	err = publish_state(s, state_reused);
	if (err < 0)
		goto fail;
	free(rest);
	free(imports);
	free(gone);
	st.enabled = true;
	log_info("fd store: %u buffer slots; %u buffers and %u imports restored (%zu orphaned), "
		 "next id %" PRIu64, st.max_buffers, st.nstored, st.nimports, st.norphans,
		 s->registry.next_id);
	service_status_changed();
	return 0;

fail:
	drop_restored(s, rest, count);
	free(rest);
	free(imports);
	free(gone);
	for (size_t i = 0; i < n; i++)
		refuse_fd(fds, names, i, false);
	if (st.state_fd >= 0)
		close(st.state_fd);
	st.state_fd = -1;
	/* Buffers already adopted stay served, just not stored. */
	st.enabled = false;
	return err;
}

void fdstore_finish(struct server *s)
{
	struct orphan_owner *o;

	st.frozen = true;
	buffer_stopping(s);
	while ((o = LIST_FIRST(&st.owners)))
		owner_reap(o, true);
	s->store = NULL;
	if (st.state_fd >= 0)
		close(st.state_fd);
	free(st.slot_used);
	memset(&st, 0, sizeof(st));
	st.state_fd = -1;
}
