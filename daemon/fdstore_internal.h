/* SPDX-License-Identifier: MIT */
/*
 * The fd store's private interface between fdstore.c (the running store:
 * hooks, slots, orphan owners) and fdstore_restore.c (setting it up from
 * what a previous instance stored).
 */
#ifndef DMABUFD_FDSTORE_INTERNAL_H
#define DMABUFD_FDSTORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "types.h"

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
	bool reaping;                /* owner_reap() frees it, not fdstore_owner_put() */
};

/* The running store (fdstore.c, fdstore_restore.c). */
struct fdstore_run {
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
};
extern struct fdstore_run fdstore_st;

/* The hooks share.c calls once the store is enabled (struct store_hooks). */
extern const struct store_hooks fdstore_hooks;

/* Hands @fd to the service manager as @name. Return: as sd_pid_notify_with_fds(). */
int fdstore_notify_store(int fd, const char *name);

/* Takes the fd named @name out of the service manager's store. */
void fdstore_notify_remove(const char *name);

/* Writes the state header: its slots, the next id, the backend. Return: 0 or negative errno. */
int fdstore_write_header(const struct server *s);

/*
 * The owner record for (@pid, @start), created and watched on first use;
 * *@ret_dead is true when that process is gone. Return: the record, or
 * NULL (gone, or out of memory).
 */
struct orphan_owner *fdstore_owner_get(pid_t pid, uint64_t start, bool *ret_dead);

/* Frees @o once it owns and imports nothing. */
void fdstore_owner_put(struct orphan_owner *o);

/* A free buffer slot of the state memfd into *@ret. Return: false when full. */
bool fdstore_alloc_slot(uint32_t *ret);

/* Records @im in a free slot of the state memfd (its buffer is stored). */
void fdstore_store_import(struct import *im);

#endif
