/* SPDX-License-Identifier: MIT */
/*
 * The server side of backends with deferred release (events.c).
 *
 * sb_events_init() - adopt @sb's live buffers (rebuild) and watch its
 * event fd; a no-op for backends without events, except that it sets
 * @sb->poll_events (buffer.c polls through it after holding a released
 * kmod buffer). Return: 0; -ENOMEM; negative errno of rebuild.
 *
 * sb_events_finish() - stop watching and free @sb's orphans.
 *
 * sb_events_poll() - handle what @sb's backend has pending now (release
 * events of buffers just closed), without waiting for the event loop; a
 * no-op for backends without events.
 */
#ifndef DMABUFD_BACKEND_EVENTS_H
#define DMABUFD_BACKEND_EVENTS_H

#include "types.h"

int sb_events_init(struct server_backend *sb);
void sb_events_finish(struct server_backend *sb);
void sb_events_poll(struct server_backend *sb);

#endif
