/* SPDX-License-Identifier: MIT */
/*
 * Framing for the dmabufd socket: one packed protobuf message per
 * SOCK_SEQPACKET datagram, file descriptors as SCM_RIGHTS.
 * Shared by the daemon, libdmabufd and the GStreamer elements' frame-ring
 * protocol (client/gst/dbfr.c): the one place SCM_RIGHTS is packed and
 * unpacked.
 */
#ifndef DMABUFD_COMMON_WIRE_H
#define DMABUFD_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Largest datagram either side sends or accepts, in bytes. */
#define DMABUFD_MAX_MESSAGE 65536u
/* Most fds one datagram may carry (replies carry at most one). */
#define DMABUFD_MAX_FDS 4u

/* Flags reported by wire_recv() in *ret_flags. */
#define WIRE_TRUNCATED (1u << 0)  /* datagram longer than the buffer */
#define WIRE_FDS_TRUNCATED (1u << 1) /* more fds than max_fds were sent */

/**
 * wire_send() - send one datagram with optional fds.
 * @sock: connected SOCK_SEQPACKET socket (blocking or not)
 * @buf, @len: the message, 1..DMABUFD_MAX_MESSAGE bytes
 * @fds, @nfds: descriptors to pass (SCM_RIGHTS), 0..DMABUFD_MAX_FDS; the
 *              caller keeps ownership of its copies
 *
 * Return: 0 on success; -EMSGSIZE if @len or @nfds exceed the limits;
 * -EAGAIN if the socket is non-blocking and full; -EPIPE/-ECONNRESET if the
 * peer is gone; other negative errno from sendmsg(2). Never raises SIGPIPE.
 */
int wire_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

/**
 * wire_recv() - receive one datagram and its fds.
 * @sock: SOCK_SEQPACKET socket
 * @buf, @cap: where the message goes, @cap bytes
 * @fds, @max_fds: where received fds go (opened O_CLOEXEC); up to @max_fds
 * @ret_nfds: number of fds stored in @fds (always set on success)
 * @ret_flags: WIRE_TRUNCATED and/or WIRE_FDS_TRUNCATED, or 0
 *
 * Received fds belong to the caller, even when a flag reports truncation
 * (fds beyond @max_fds were already closed by the kernel).
 *
 * Return: the datagram's full length in bytes (may exceed @cap, then
 * WIRE_TRUNCATED is set and only @cap bytes were stored); 0 when the peer
 * closed the connection; -EAGAIN when nothing is queued on a non-blocking
 * socket; other negative errno from recvmsg(2).
 */
long wire_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds,
	       size_t *ret_nfds, unsigned *ret_flags);

/*
 * wire_send_flags(), wire_recv_flags() - wire_send() and wire_recv() with
 * extra send(2)/recvmsg(2) flags in @msg_flags (MSG_DONTWAIT), for callers
 * that keep their socket blocking but must not wait on one call. The
 * returns are theirs.
 */
int wire_send_flags(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
		    int msg_flags);
long wire_recv_flags(int sock, void *buf, size_t cap, int *fds, size_t max_fds,
		     size_t *ret_nfds, unsigned *ret_flags, int msg_flags);

/* Closes @n fds from @fds (ignoring -1 entries). */
void wire_close_fds(const int *fds, size_t n);

#endif
