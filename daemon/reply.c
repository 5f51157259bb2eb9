/* SPDX-License-Identifier: MIT */
/*
 * Replies: sent at once when nothing waits ahead, otherwise queued with a
 * duplicate of their fd and flushed when the socket is writable (the seatd
 * request path). Refusals carry a negative errno and a reason.
 */
#include "reply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <protobuf-c/protobuf-c.h>

#include "dmabufd.pb-c.h"
#include "log.h"
#include "macros.h"
#include "wire.h"

struct outmsg {
	STAILQ_ENTRY(outmsg) link;
	int fd;          /* -1, or an fd to pass with SCM_RIGHTS (owned) */
	size_t len;
	uint8_t data[];
};

const char *reasonf(struct reason *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
	return r->text;
}

void reply_error(struct client *c, uint64_t id, int error, const char *reason)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;

	reply.id = id;
	reply.error = error;
	reply.reason = (char *)(reason ? reason : "");
	log_debug("client pid %d: request %llu refused: %s (%s)", (int)c->cred.pid,
		  (unsigned long long)id, strerror(-error), reply.reason);
	/* Cannot even queue an error: treat as a broken client. */
	reply_send(c, &reply, -1);
}

void reply_send(struct client *c, const void *reply_msg, int fd)
{
	if (client_queue_reply(c, reply_msg, fd) < 0)
		c->protocol_errors = UINT32_MAX;
}

/* A queued reply's fd is a dup: one more daemon fd until it is sent (limit.c). */
static void queued_fd_closed(struct client *c, int fd)
{
	close(fd);
	c->queued_fds--;
	c->server->queued_fds--;
}

int client_flush(struct client *c)
{
	struct outmsg *m;

	while ((m = STAILQ_FIRST(&c->outq))) {
		int err = wire_send(c->fd, m->data, m->len, m->fd >= 0 ? &m->fd : NULL,
				    m->fd >= 0 ? 1 : 0);

		if (err == -EAGAIN) {
			event_add(c->ev_write, NULL);
			return 0;
		}
		if (err < 0)
			return err;
		STAILQ_REMOVE_HEAD(&c->outq, link);
		c->noutq--;
		c->outq_bytes -= m->len;
		if (m->fd >= 0)
			queued_fd_closed(c, m->fd);
		free(m);
	}
	event_del(c->ev_write);
	return 0;
}

void reply_queue_clear(struct client *c)
{
	struct outmsg *m;

	while ((m = STAILQ_FIRST(&c->outq))) {
		STAILQ_REMOVE_HEAD(&c->outq, link);
		if (m->fd >= 0)
			queued_fd_closed(c, m->fd);
		free(m);
	}
}

/* An empty Reply packs to 0 bytes; a datagram needs at least one. */
static size_t pad_empty(uint8_t *data, size_t n)
{
	if (n)
		return n;
	data[0] = 0x08; /* field 1 (id), varint 0: still a valid Reply */
	data[1] = 0x00;
	return 2;
}

/*
 * The fast path: nothing queued ahead, so send at once from a static
 * buffer (no malloc, no dup/close of the fd). Return: true when sent;
 * anything else (EAGAIN, a broken peer) takes the queued path, whose flush
 * reports it.
 */
static bool send_now(struct client *c, const ProtobufCMessage *msg, int fd)
{
	static uint8_t out[DMABUFD_MAX_MESSAGE + 2];
	size_t n;

	if (!STAILQ_EMPTY(&c->outq))
		return false;
	n = pad_empty(out, protobuf_c_message_pack(msg, out));
	return wire_send(c->fd, out, n, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0) == 0;
}

int client_queue_reply(struct client *c, const void *reply_msg, int fd)
{
	const ProtobufCMessage *msg = reply_msg;
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct outmsg *m;
	int dup_fd = -1;

	if (len > DMABUFD_MAX_MESSAGE)
		return -EMSGSIZE;
	c->nreplies++;
	if (send_now(c, msg, fd))
		return 0;
	m = malloc(sizeof(*m) + len + 2);
	if (!m)
		return -ENOMEM;
	if (fd >= 0) {
		dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dup_fd < 0) {
			int err = negative_errno();

			free(m);
			return err;
		}
	}
	m->len = pad_empty(m->data, protobuf_c_message_pack(msg, m->data));
	m->fd = dup_fd;
	if (dup_fd >= 0) {
		c->queued_fds++;
		c->server->queued_fds++;
	}
	STAILQ_INSERT_TAIL(&c->outq, m, link);
	c->noutq++;
	c->outq_bytes += m->len;
	return 0;
}
