/* SPDX-License-Identifier: MIT */
/*
 * Between the two files of the connection layer: server.c (clients, the
 * fair scheduler, set-up) and server_listen.c (the listening socket and
 * accept). Not for other modules.
 */
#ifndef DMABUFD_SERVER_INTERNAL_H
#define DMABUFD_SERVER_INTERNAL_H

#include <stdbool.h>

#include "types.h"

/* Accepts the peers waiting now, at most a turn's worth (server_listen.c). */
void server_accept(struct server *s);

/* Sends one error Reply with @reason on @fd, without waiting (server_listen.c). */
void server_send_refusal(int fd, int error, const char *reason);

/* @f has a request waiting; @was_idle: it had none. Schedules a turn (server.c). */
void flow_wake(struct server *s, struct flow *f, bool was_idle);

#endif
