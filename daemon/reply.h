/* SPDX-License-Identifier: MIT */
/*
 * The outgoing half of a connection: replies are sent at once when nothing
 * waits ahead of them, queued otherwise and flushed when the socket is
 * writable again; refusals carry a negative errno and a reason text.
 */
#ifndef DMABUFD_REPLY_H
#define DMABUFD_REPLY_H

#include <stdint.h>

#include "types.h"

/**
 * client_queue_reply() - send @reply_msg (a protobuf-c message) to @c,
 * with @fd (or -1) passed by SCM_RIGHTS; the daemon keeps its own @fd.
 * Sent at once when the queue is empty, queued otherwise.
 * Return: 0; -EMSGSIZE (larger than DMABUFD_MAX_MESSAGE); -ENOMEM;
 * negative errno of F_DUPFD_CLOEXEC.
 */
int client_queue_reply(struct client *c, const void *reply_msg, int fd);

/**
 * reply_send() - client_queue_reply(), and a client whose reply cannot even
 * be queued is treated as broken (disconnected after this request).
 */
void reply_send(struct client *c, const void *reply_msg, int fd);

/**
 * reply_error() - refuse request @id: a Reply with @error (negative errno)
 * and @reason (NULL: empty).
 */
void reply_error(struct client *c, uint64_t id, int error, const char *reason);

/**
 * reasonf() - format a reason text into @r (truncated to REASON_MAX - 1
 * bytes). Return: r->text.
 */
const char *reasonf(struct reason *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * client_flush() - send queued replies until the queue is empty or the
 * socket is full (then wait for writability).
 * Return: 0, or a negative errno when the connection is broken.
 */
int client_flush(struct client *c);

/** reply_queue_clear() - drop every queued reply of @c (it disconnects). */
void reply_queue_clear(struct client *c);

#endif
