/* SPDX-License-Identifier: MIT */
/*
 * The listening socket: bind or take it from systemd, accept peers (one per
 * turn of the accept flow, server.c's fair scheduler), refuse them with a
 * reason when they are not admitted or the daemon is out of fds.
 */
#include "server.h"
#include "server_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "dmabufd.pb-c.h"
#include "limit.h"
#include "log.h"
#include "macros.h"
#include "wire.h"

/*
 * Connections accepted per turn of the accept flow. One: a turn is not
 * preempted, and each accept (credentials, admission, a refusal sent)
 * delays the requests of connected clients.
 */
#define ACCEPT_BUDGET 1

static void server_accept_cb(evutil_socket_t fd, short what, void *arg);

static int server_arm_listener(struct server *s)
{
	s->ev_listen = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST,
				 server_accept_cb, s);
	if (!s->ev_listen)
		return -ENOMEM;
	if (event_add(s->ev_listen, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* Is a daemon answering on @path? */
static bool socket_is_live(const struct sockaddr_un *addr)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	return connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
}

int server_listen_path(struct server *s, const char *path, mode_t mode)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		if (socket_is_live(&addr)) {
			log_error("another daemon is listening on %s", path);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0)
			return negative_errno();
		log_info("removed stale socket %s", path);
	} else if (errno != ENOENT) {
		return negative_errno();
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return negative_errno();
	if (chmod(path, mode) < 0 || listen(fd, 128) < 0) {
		err = negative_errno();
		unlink(path);
		return err;
	}
	s->socket_path = strdup(path);
	if (!s->socket_path) {
		unlink(path);
		return -ENOMEM;
	}
	s->owns_socket_path = true;
	s->listen_fd = TAKE_FD(fd);
	return server_arm_listener(s);
}

int server_listen_fd(struct server *s, int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_un addr;
	socklen_t alen = sizeof(addr);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return negative_errno();
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return negative_errno();
	if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0)
		return negative_errno();
	if (type != SOCK_SEQPACKET || !listening || addr.sun_family != AF_UNIX)
		return -EINVAL;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return negative_errno();
	s->listen_fd = fd;
	return server_arm_listener(s);
}


static void server_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	event_add(s->ev_listen, NULL);
}

/* Out of fds: stop accepting for a moment instead of spinning. */
static void server_pause_accept(struct server *s)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };

	if (!s->ev_accept_retry)
		s->ev_accept_retry = evtimer_new(s->base, server_accept_retry_cb, s);
	if (!s->ev_accept_retry)
		return;
	event_del(s->ev_listen);
	evtimer_add(s->ev_accept_retry, &tv);
}

void server_send_refusal(int fd, int error, const char *reason)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	uint8_t buf[256];
	size_t len;

	reply.error = error;
	reply.reason = (char *)reason;
	len = dmabufd__reply__get_packed_size(&reply);
	if (len <= sizeof(buf)) {
		dmabufd__reply__pack(&reply, buf);
		wire_send(fd, buf, len, NULL, 0);
	}
}

static void client_refuse(int fd, int error, const char *reason)
{
	server_send_refusal(fd, error, reason);
	close(fd);
}

/*
 * Out of fds: the spare fd is given up so that the waiting peer can be
 * accepted and told why it is refused (instead of waiting in the backlog
 * while accept() fails), then taken again. Return: true when a peer was
 * refused that way.
 */
static bool server_refuse_with_spare(struct server *s, int lfd)
{
	int fd;

	if (s->spare_fd < 0)
		return false;
	close(s->spare_fd);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		limits_log_refusal(s, "the daemon is out of file descriptors");
		client_refuse(fd, -EMFILE, "the daemon is out of file descriptors; try again later");
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

/* Accepts up to ACCEPT_BUDGET waiting peers: the accept flow's turn. */
void server_accept(struct server *s)
{
	int lfd = s->listen_fd;

	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		int fd;

		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			if ((e == EMFILE || e == ENFILE) && server_refuse_with_spare(s, lfd))
				continue;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				log_warn("accept: %s; pausing new connections", strerror(e));
				server_pause_accept(s);
			} else if (e != EAGAIN && e != EINTR && e != ECONNABORTED) {
				log_warn("accept: %s", strerror(e));
			}
			return;
		}
		switch (server_adopt_client(s, fd)) {
		case 0:
			break;
		case -EACCES:
			log_info("refusing a client: %s", s->refusal);
			client_refuse(fd, -EACCES, s->refusal);
			break;
		case -EUSERS:
			limits_log_refusal(s, s->refusal);
			client_refuse(fd, -EUSERS, s->refusal);
			break;
		case -ENOMEM:
			client_refuse(fd, -ENOMEM, "out of memory");
			break;
		default:
			close(fd);
			break;
		}
	}
}


/* Peers wait on the listening socket: the accept flow's turn will come. */
static void server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;

	if (s->accept_ready)
		return;
	s->accept_ready = true;
	flow_wake(s, &s->accept_flow, true);
}
