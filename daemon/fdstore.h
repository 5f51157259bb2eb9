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
 * Every hook is a no-op until fdstore_setup() enabled the store.
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

/**
 * fdstore_setup() - enable the fd store and restore what a previous
 * instance stored.
 * @s: the server (initialised, backend created)
 * @max_fds: FileDescriptorStoreMax= of the unit (fds); the store holds
 *           the state memfd plus at most @max_fds - 1 buffers. $FDSTORE
 *           (set by systemd >= 254) overrides it when smaller.
 * @fds, @names, @n: fds passed by the manager other than the listening
 *           socket (service_take_fds()). Every fd is consumed: adopted as
 *           a buffer, kept as the state memfd, or closed (entries set -1).
 *
 * The store is enabled only under a service manager ($NOTIFY_SOCKET) and
 * on the memfd backend (the only one whose buffer is entirely its fd).
 * A state record that is corrupt, foreign or of another version is
 * refused and logged; its fds are closed and removed from the store.
 * Return: 0 (including "disabled"); -ENOMEM; negative errno of memfd
 * creation. Failure leaves the daemon running without a store.
 */
int fdstore_setup(struct server *s, uint32_t max_fds, int *fds, char **names, size_t n);

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
