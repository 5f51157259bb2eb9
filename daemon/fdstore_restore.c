/* SPDX-License-Identifier: MIT */
/*
 * Restoring the fd store at start (fdstore_restore.h): the state memfd is
 * read back, each buffer record matched with its stored fd and checked,
 * the buffers placed in id order and adopted as orphans of their owner
 * processes, the imports restored; whatever is left is refused.
 *
 * Nothing read from the store is trusted: the file size is checked against
 * nslots before any record is read, every record's checksum and every
 * field is checked, strings must be NUL-terminated, ids unique and below
 * next_id, and each buffer's memfd must be a regular file of exactly the
 * recorded size carrying the memfd backend's seals.
 */
#include "fdstore_restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer.h"
#include "fdstore.h"
#include "fdstore_internal.h"
#include "log.h"
#include "macros.h"
#include "placement.h"
#include "registry.h"
#include "sd.h"
#include "share.h"
#include "share_charge.h"

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
		fdstore_notify_remove(names[i]);
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
	const struct backend_caps *caps = &fdstore_st.s->backends[0].caps;
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
	fdstore_st.state_fd = TAKE_FD(fd);
	return 0;
}

/* Size the state memfd for fdstore_st.nslots, empty. */
static int reset_state(void)
{
	if (ftruncate(fdstore_st.state_fd, 0) < 0 ||
	    ftruncate(fdstore_st.state_fd, fdstore_state_slot_offset(fdstore_st.nslots)) < 0)
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
			fdstore_st.state_fd = fds[state_idx];
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
	if (fdstore_alloc_slot(&slot) && fdstore_state_write_record(fdstore_st.state_fd, slot, b) == 0)
		b->store_slot = slot + 1;
	b->orphaned = true;
	fdstore_st.norphans++;
	o = fdstore_owner_get(b->pid, b->owner_start, &dead);
	if (o)
		TAILQ_INSERT_TAIL(&o->buffers, b, orphan_link);
	log_buffer_event(LOG_LEVEL_INFO, b, 0,
			 "restored buffer %" PRIu64 " (%" PRIu64 " bytes, owner pid %d%s)",
			 b->id, b->size, (int)b->pid, dead ? ", exited" : "");
	if (dead || !o) {
		b->orphaned = false;
		fdstore_st.norphans--;
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
	o = fdstore_owner_get(r->pid, r->start, &dead);
	if (!o)
		return;
	memcpy(from.comm, r->comm, sizeof(from.comm));
	im = share_restore_import(s, b, &from);
	if (!im) {
		fdstore_owner_put(o);
		return;
	}
	TAILQ_INSERT_TAIL(&o->imports, im, client_link);
	fdstore_store_import(im);
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
	int err = fdstore_write_header(s);

	if (err < 0 || state_reused)
		return err;
	err = fdstore_notify_store(fdstore_st.state_fd, "state");
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

	fdstore_st.s = s;
	LIST_INIT(&fdstore_st.owners);
	/* Every release, stored or not, updates STATUS= and the orphans. */
	buffer_on_release(s, fdstore_buffer_released);
	if (!store_available(s, &max_fds, fds, names, n))
		return 0;
	s->store = &fdstore_hooks;
	fdstore_st.nslots = max_fds - 1 < FDSTORE_MAX_SLOTS ? max_fds - 1 : FDSTORE_MAX_SLOTS;
	fdstore_st.max_buffers = fdstore_st.nslots;
	fdstore_st.slot_used = calloc(fdstore_st.nslots, 1);
	if (!fdstore_st.slot_used)
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
	fdstore_write_header(s);
	for (size_t i = 0; i < nimports; i++)
		adopt_import(s, &imports[i]);
	/* Owners gone during the restart: as if they had disconnected. */
	fdstore_st.enabled = true;
	for (size_t i = 0; i < ngone; i++)
		share_orphan_owner_gone(s, gone[i]);
	fdstore_st.enabled = false;
	refuse_unclaimed(s, fds, names, n);
	err = publish_state(s, state_reused);
	if (err < 0)
		goto fail;
	free(rest);
	free(imports);
	free(gone);
	fdstore_st.enabled = true;
	log_info("fd store: %u buffer slots; %u buffers and %u imports restored (%zu orphaned), "
		 "next id %" PRIu64, fdstore_st.max_buffers, fdstore_st.nstored, fdstore_st.nimports, fdstore_st.norphans,
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
	if (fdstore_st.state_fd >= 0)
		close(fdstore_st.state_fd);
	fdstore_st.state_fd = -1;
	/* Buffers already adopted stay served, just not stored. */
	fdstore_st.enabled = false;
	return err;
}
