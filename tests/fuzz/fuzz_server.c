/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target (a): the message decoder and request dispatcher, driven
 * through the real server code (server.c, requests.c, registry.c and the
 * memfd backend) against an in-process server on a socketpair.
 *
 * Input format: a sequence of records
 *
 *     ctrl:u8  len:u16 (little endian)  data[len]
 *
 * (a record whose data runs past the end of the input takes what remains).
 * Each record is sent as one SOCK_SEQPACKET datagram. ctrl bits:
 *   0-2  number of fds to attach with SCM_RIGHTS (0..7; more than
 *        DMABUFD_MAX_FDS exercises the truncation path)
 *   3    fd kind: 0 = dups of /dev/null, 1 = fresh memfds
 *   4    do not drain replies after this record (let the reply queue and
 *        the socket fill up: back-pressure)
 *   5    send on connection 1 instead of connection 0
 *   6    close that connection after this record (reopened on next use)
 *   7    oversize: pad the datagram to DMABUFD_MAX_MESSAGE + 1 + len bytes
 *
 * After each record the event loop runs non-blockingly until it makes no
 * more progress. At the end of the input every connection is closed and the
 * invariants are checked (abort() on violation, which libFuzzer reports):
 *   - the server forgot every client (nclients == 0, no client in the list);
 *   - no buffer is live (registry empty, used bytes == 0);
 *   - after server_finish() and event_base_free(), the process has exactly
 *     the fds it had before the input (/proc/self/fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "backend/backend.h"
#include "fuzz_util.h"
#include "log.h"
#include "server.h"
#include "wire.h"

#define FUZZ_CAPACITY (1u << 20)   /* bytes: a small region, easy to fill */
#define FUZZ_MAX_CONNECTIONS 16    /* per input, bounds the cost */
#define FUZZ_SEND_RETRIES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	struct event_base *base;
	struct server server;
	int conn[2];          /* our ends; -1 when closed */
	unsigned opened;      /* connections opened during this input */
};

/* fuzz_check(), listing the open fds first. */
static void check(bool ok, const char *what)
{
	if (!ok)
		fuzz_dump_fds();
	fuzz_check(ok, what);
}

/* Runs the loop until a pass dispatches nothing new (bounded). */
static void pump(struct fuzz_ctx *f)
{
	for (int i = 0; i < 8; i++)
		if (event_base_loop(f->base, EVLOOP_NONBLOCK) != 0)
			break;
}

/* Reads and discards every queued reply (and closes the fds they carry). */
static void drain(int sock)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	int fds[DMABUFD_MAX_FDS];

	if (sock < 0)
		return;
	for (int i = 0; i < 256; i++) {
		size_t nfds = 0;
		unsigned flags = 0;
		long n = wire_recv(sock, buf, sizeof(buf), fds, DMABUFD_MAX_FDS, &nfds, &flags);

		if (n <= 0)
			return;
		wire_close_fds(fds, nfds);
	}
}

static int conn_get(struct fuzz_ctx *f, int which)
{
	int sv[2];

	if (f->conn[which] >= 0)
		return f->conn[which];
	if (f->opened >= FUZZ_MAX_CONNECTIONS)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if (server_adopt_client(&f->server, sv[1]) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	f->opened++;
	f->conn[which] = sv[0];
	return sv[0];
}

static void conn_close(struct fuzz_ctx *f, int which)
{
	if (f->conn[which] >= 0)
		close(f->conn[which]);
	f->conn[which] = -1;
}

static int make_fd(bool memfd)
{
	if (memfd) {
		int fd = memfd_create("fuzz", MFD_CLOEXEC);

		if (fd >= 0 && ftruncate(fd, 4096) < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* Sends one datagram with @nfds fresh fds; our copies are closed after. */
static void send_record(struct fuzz_ctx *f, int which, const uint8_t *msg, size_t len,
			unsigned nfds, bool memfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 7)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[7];
	unsigned got = 0;
	int sock = conn_get(f, which);

	if (sock < 0)
		return;
	for (unsigned i = 0; i < nfds; i++) {
		int fd = make_fd(memfd);

		if (fd >= 0)
			fds[got++] = fd;
	}
	if (got) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * got);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * got);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * got);
	}
	for (int tries = 0; tries < FUZZ_SEND_RETRIES; tries++) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			/* The server hung up on us (e.g. too many protocol errors). */
			conn_close(f, which);
			break;
		}
		/* Socket full: let the server read, and read its replies. */
		pump(f);
		drain(sock);
	}
	wire_close_fds(fds, got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t big[2 * DMABUFD_MAX_MESSAGE + 2];
	const struct server_limits limits = {
		.max_clients = 4,
		.max_buffers = 8,
		.max_queued_replies = 8,
		.max_queued_bytes = 16384,
		.max_protocol_errors = 16,
		.read_budget = 32,
		.max_alloc = 0,
	};
	const struct backend_options bopts = { .capacity = FUZZ_CAPACITY };
	struct fuzz_ctx f = { .conn = { -1, -1 } };
	struct backend *backend = NULL;
	int fds_before = fuzz_count_own_fds();
	size_t pos = 0;

	log_set_sink(NULL, NULL, LOG_LEVEL_ERROR);
	f.base = event_base_new();
	check(f.base != NULL, "event_base_new");
	check(memfd_backend_ops.create(&bopts, &backend) == 0, "memfd backend");
	check(server_init(&f.server, f.base, backend, &limits) == 0, "server_init");

	while (pos < size) {
		uint8_t ctrl = data[pos++];
		size_t len = 0;
		const uint8_t *msg;
		int which = (ctrl >> 5) & 1;

		if (pos < size)
			len = data[pos++];
		if (pos < size)
			len |= (size_t)data[pos++] << 8;
		if (len > size - pos)
			len = size - pos;
		msg = data + pos;
		pos += len;

		if (ctrl & 0x80) {
			memset(big, 0, DMABUFD_MAX_MESSAGE + 1);
			memcpy(big, msg, len);
			msg = big;
			len += DMABUFD_MAX_MESSAGE + 1;
		}
		send_record(&f, which, msg, len, ctrl & 7, ctrl & 8);
		pump(&f);
		if (!(ctrl & 0x10)) {
			drain(f.conn[0]);
			drain(f.conn[1]);
			pump(&f);
		}
		if (ctrl & 0x40)
			conn_close(&f, which);
		pump(&f);
	}

	/* Every client hangs up: the server must forget all of them. */
	conn_close(&f, 0);
	conn_close(&f, 1);
	for (int i = 0; i < 16 && f.server.nclients; i++)
		pump(&f);
	check(f.server.nclients == 0, "a client survived its connection's close");
	check(TAILQ_EMPTY(&f.server.clients), "client list not empty");
	check(f.server.registry.count == 0, "buffers left in the registry");
	check(TAILQ_EMPTY(&f.server.registry.order), "registry order list not empty");
	check(f.server.used == 0, "used bytes not back to 0");

	server_finish(&f.server);
	event_base_free(f.base);
	check(fuzz_count_own_fds() == fds_before, "fd leaked");
	return 0;
}
