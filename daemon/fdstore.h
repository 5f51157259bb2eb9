/* SPDX-License-Identifier: MIT */
/*
 * Restart without loss: the daemon keeps what it needs to survive a
 * restart in the service manager's file descriptor store
 * (sd_pid_notify_with_fds(3) with FDSTORE=1/FDNAME=, FDSTOREREMOVE=1;
 * systemd.service(5) FileDescriptorStoreMax=) and restores it on start.
 *
 * On the memfd backend each live buffer's memfd is stored as "buf-<id>",
 * and one state memfd, "state", holds a versioned, checksummed record per
 * buffer (format in fdstore.c and docs/SYSTEMD.md). Restored buffers are
 * "orphaned": their owner's connection is gone; they stay charged to the
 * owner's pid/uid until that process exits (watched with a pidfd) or
 * connects again and claims them.
 *
 * Every hook is a no-op until fdstore_setup() (fdstore_restore.h) enabled
 * the store.
 */
#ifndef DMABUFD_FDSTORE_H
#define DMABUFD_FDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "fdstore_state.h" /* the state format, for the unit tests */

struct server;
struct buffer;
struct client;

/* Default FileDescriptorStoreMax= (keep systemd/dmabufd.service.in equal). */
#define FDSTORE_DEFAULT_MAX 4096u

/** fdstore_buffer_added() - store @b's fd and record (after a successful Alloc). */
void fdstore_buffer_added(struct server *s, struct buffer *b);

/**
 * fdstore_buffer_released() - @b is being released: drop its record and
 * FDSTOREREMOVE its fd; forget it as an orphan. A release hook
 * (buffer.h) that fdstore_setup() registers; runs before the backend
 * closes the fd.
 */
void fdstore_buffer_released(struct server *s, struct buffer *b);

/**
 * fdstore_client_connected() - @c connected: if it is the process (pid and
 * start time) that owned orphaned buffers, they become @c's again.
 */
void fdstore_client_connected(struct server *s, struct client *c);

/** fdstore_orphan_count() - restored buffers not yet claimed or reaped. */
size_t fdstore_orphan_count(void);

/**
 * fdstore_finish() - the daemon is stopping: freeze the store (nothing
 * is removed from it any more, so the next instance finds every buffer),
 * release the orphans' daemon-side references and free everything.
 * Call before server_finish().
 */
void fdstore_finish(struct server *s);

#endif
