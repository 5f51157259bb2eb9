/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macros.h"

int wire_send_flags(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
		    int msg_flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (len == 0 || len > DMABUFD_MAX_MESSAGE || nfds > DMABUFD_MAX_FDS)
		return -EMSGSIZE;

	if (nfds > 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}

	for (;;) {
		ssize_t n = sendmsg(sock, &msg, msg_flags | MSG_NOSIGNAL);

		if (n >= 0)
			return (size_t)n == len ? 0 : -EIO;
		if (errno == EINTR)
			continue;
		return negative_errno();
	}
}

int wire_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	return wire_send_flags(sock, buf, len, fds, nfds, 0);
}

long wire_recv_flags(int sock, void *buf, size_t cap, int *fds, size_t max_fds,
		     size_t *ret_nfds, unsigned *ret_flags, int msg_flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	size_t nfds = 0;
	unsigned flags = 0;
	ssize_t n;

	if (max_fds > DMABUFD_MAX_FDS)
		max_fds = DMABUFD_MAX_FDS;
	msg.msg_control = control.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (max_fds ? max_fds : 1));

	do {
		/* MSG_TRUNC makes recvmsg report the datagram's real length. */
		n = recvmsg(sock, &msg, msg_flags | MSG_CMSG_CLOEXEC | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t count, i;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			if (nfds < max_fds) {
				fds[nfds++] = fd;
			} else {
				close(fd);
				flags |= WIRE_FDS_TRUNCATED;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		flags |= WIRE_FDS_TRUNCATED;
	if ((size_t)n > cap || (msg.msg_flags & MSG_TRUNC))
		flags |= WIRE_TRUNCATED;

	if (ret_nfds)
		*ret_nfds = nfds;
	else
		wire_close_fds(fds, nfds);
	if (ret_flags)
		*ret_flags = flags;
	return (long)n;
}

long wire_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds,
	       size_t *ret_nfds, unsigned *ret_flags)
{
	return wire_recv_flags(sock, buf, cap, fds, max_fds, ret_nfds, ret_flags, 0);
}

void wire_close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
