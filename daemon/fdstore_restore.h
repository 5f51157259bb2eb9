/* SPDX-License-Identifier: MIT */
/*
 * Setting up the fd store (fdstore.h) at start: the stored state and
 * buffers a previous instance left are checked, placed and adopted again.
 */
#ifndef DMABUFD_FDSTORE_RESTORE_H
#define DMABUFD_FDSTORE_RESTORE_H

#include <stddef.h>
#include <stdint.h>

struct server;

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

#endif
