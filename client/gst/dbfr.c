/* SPDX-License-Identifier: MIT */
/* dbfr: the frame-ring protocol helpers (see dbfr.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "dbfr.h"
#include "wire.h"

void dbfr_header_init(struct dbfr_header *h, enum dbfr_type type, size_t size)
{
	h->magic = DBFR_MAGIC;
	h->version = DBFR_VERSION;
	h->type = (uint16_t)type;
	h->size = (uint32_t)size;
	h->reserved = 0;
}

ssize_t dbfr_caps_init(struct dbfr_caps *m, const char *caps)
{
	size_t len = strlen(caps) + 1;

	if (len < 2)
		return -EINVAL;
	if (len > DBFR_MAX_CAPS)
		return -E2BIG;
	dbfr_header_init(&m->h, DBFR_CAPS, sizeof(*m) + len);
	m->length = (uint32_t)len;
	m->reserved = 0;
	memcpy(m->caps, caps, len);
	return (ssize_t)(sizeof(*m) + len);
}

/* Fixed size of a message type; for CAPS, the size without the string. */
static size_t dbfr_type_size(int type)
{
	switch (type) {
	case DBFR_HELLO:
		return sizeof(struct dbfr_hello);
	case DBFR_FRAME:
		return sizeof(struct dbfr_frame);
	case DBFR_EOS:
		return sizeof(struct dbfr_header);
	case DBFR_RELEASE:
		return sizeof(struct dbfr_release);
	case DBFR_CAPS:
		return sizeof(struct dbfr_caps);
	default:
		return 0;
	}
}

int dbfr_check(const void *msg, size_t len, int type)
{
	struct dbfr_header h;
	size_t want;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, msg, sizeof(h));
	if (h.magic != DBFR_MAGIC || h.reserved != 0)
		return -EBADMSG;
	if (h.version != DBFR_VERSION)
		return -EPROTONOSUPPORT;
	want = dbfr_type_size(h.type);
	if (!want || h.size != len || (type && h.type != type))
		return -EBADMSG;
	if (h.type == DBFR_CAPS) {
		const struct dbfr_caps *c = msg;

		if (len <= want || len > DBFR_MAX_MESSAGE || c->length != len - want ||
		    c->length < 2 || c->reserved != 0 || c->caps[c->length - 1] != '\0' ||
		    memchr(c->caps, '\0', c->length - 1))
			return -EBADMSG;
		return h.type;
	}
	if (len != want)
		return -EBADMSG;
	return h.type;
}

int dbfr_frame_check(const struct dbfr_frame *f)
{
	unsigned p;

	if (f->num_planes < 1 || f->num_planes > DBFR_MAX_PLANES || f->width == 0 ||
	    f->height == 0 || f->frame_size == 0 || f->frame_offset > f->size ||
	    f->frame_size > f->size - f->frame_offset)
		return -EBADMSG;
	for (p = 0; p < f->num_planes; p++) {
		uint64_t end;

		if (f->rows[p] == 0 || f->row_bytes[p] == 0 || f->row_bytes[p] > f->strides[p])
			return -EBADMSG;
		/* 32-bit fields: the products fit in 64 bits. */
		end = (uint64_t)f->offsets[p] + (uint64_t)f->strides[p] * (f->rows[p] - 1) +
		      f->row_bytes[p];
		if (f->offsets[p] < f->frame_offset || end > f->frame_offset + f->frame_size)
			return -EBADMSG;
	}
	return 0;
}

int dbfr_send(int sock, const void *msg, size_t len, int fd, int flags)
{
	return wire_send_flags(sock, msg, len, fd >= 0 ? &fd : NULL, fd >= 0, flags);
}

ssize_t dbfr_recv(int sock, void *buf, size_t cap, int *ret_fd, int flags)
{
	/* Room for two: a second fd is how more than one shows. */
	int fds[2];
	size_t nfds = 0;
	unsigned wflags = 0;
	long n = wire_recv_flags(sock, buf, cap, fds, 2, &nfds, &wflags, flags);

	if (n < 0)
		return n;
	if (wflags || nfds > 1 || (nfds && !ret_fd)) {
		wire_close_fds(fds, nfds);
		return -EBADMSG;
	}
	if (ret_fd)
		*ret_fd = nfds ? fds[0] : -1;
	return n;
}

int dbfr_connect(const char *path, unsigned timeout_s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	unsigned i;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	for (i = 0; i <= timeout_s * 20; i++) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -errno;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

uint64_t dbfr_checksum(unsigned num_planes, const uint8_t *const planes[],
		       const uint32_t strides[], const uint32_t row_bytes[],
		       const uint32_t rows[])
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned p, r;
	uint32_t i;

	for (p = 0; p < num_planes; p++) {
		for (r = 0; r < rows[p]; r++) {
			const uint8_t *row = planes[p] + (size_t)r * strides[p];

			for (i = 0; i < row_bytes[p]; i++) {
				h ^= row[i];
				h *= 0x100000001b3ull;
			}
		}
	}
	return h;
}
