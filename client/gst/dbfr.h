/* SPDX-License-Identifier: MIT */
/*
 * dbfr - the dmabufd frame-ring protocol between dmabufdsink (the producer)
 * and consumer processes. Interim transport until sharing tokens
 * (dmabufd Share/Import) land; docs/GSTREAMER.md describes it.
 *
 * Transport: a SOCK_SEQPACKET Unix socket that dmabufdsink listens on
 * (its consumer-socket property). One message per datagram, fixed-size C
 * structs in host byte order (producer and consumer share the machine),
 * each starting with struct dbfr_header {magic, version, type, size}.
 *
 *   sink -> consumer  DBFR_HELLO    once, right after accept
 *   sink -> consumer  DBFR_CAPS     the negotiated caps, before the first
 *                                   FRAME and before the first FRAME after
 *                                   they changed
 *   sink -> consumer  DBFR_FRAME    one per published frame, with exactly
 *                                   one fd (SCM_RIGHTS): the frame's buffer
 *   sink -> consumer  DBFR_EOS      end of stream; the sink closes next
 *   consumer -> sink  DBFR_RELEASE  the consumer is done with frame @seq
 *
 * Ring: the sink keeps at most ring_depth (DBFR_HELLO) frames published
 * and not yet released by every consumer that got them; until a frame is
 * released the producer does not reuse its buffer, so the consumer reads a
 * stable frame. A consumer must release every frame it got (closing the
 * connection releases them all). The consumer closes the fd when done;
 * the buffer's daemon accounting belongs to the producer.
 *
 * Validation: either side drops the connection on a message of the wrong
 * size, magic, version or type, a FRAME without exactly one fd, a FRAME
 * before any CAPS, or a RELEASE of a frame it does not hold.
 *
 * End of stream: the sink sends EOS and closes. If RELEASEs were still
 * unread at its end when it closed, the kernel reports ECONNRESET to the
 * consumer before the messages still queued for it (the last FRAMEs, the
 * EOS): a consumer keeps reading after ECONNRESET, and only end of file
 * without an EOS means the producer went away.
 *
 * Versions: 1 had no CAPS and no frame_offset/frame_size; 2 adds them.
 * Both sides speak exactly one version; a peer of another version is
 * refused (-EPROTONOSUPPORT) at its first message.
 */
#ifndef DMABUFD_DBFR_H
#define DMABUFD_DBFR_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#define DBFR_MAGIC 0x52464244u /* "DBFR" in little-endian memory order */
#define DBFR_VERSION 2u
#define DBFR_MAX_PLANES 4
/** Largest message, bytes (a CAPS with the longest caps string). */
#define DBFR_MAX_MESSAGE 4096

enum dbfr_type {
	DBFR_HELLO = 1,
	DBFR_FRAME = 2,
	DBFR_EOS = 3,
	DBFR_CAPS = 4,
	DBFR_RELEASE = 16,
};

struct dbfr_header {
	uint32_t magic;    /* DBFR_MAGIC */
	uint16_t version;  /* DBFR_VERSION */
	uint16_t type;     /* enum dbfr_type */
	uint32_t size;     /* bytes of the whole message, header included */
	uint32_t reserved; /* 0 */
};

struct dbfr_hello {
	struct dbfr_header h;
	uint32_t ring_depth; /* frames a consumer may hold unreleased */
	uint32_t producer_pid;
	uint32_t dmabuf;     /* 1: frame fds are dma-bufs; 0: sealed memfds */
	uint32_t reserved;
	char backend[32];    /* dmabufd backend name, NUL-terminated */
};

/** DBFR_FRAME flags. */
enum dbfr_frame_flags {
	DBFR_FRAME_DMABUF = 1u << 0,  /* the fd is a dma-buf (else a memfd) */
	DBFR_FRAME_COPIED = 1u << 1,  /* upstream did not render into the
				       * pool: the sink copied the frame */
};

struct dbfr_frame {
	struct dbfr_header h;
	uint64_t seq;          /* frame number since the sink started, from 0 */
	uint64_t pts_ns;       /* presentation time, ns; UINT64_MAX: none */
	uint64_t duration_ns;  /* ns; UINT64_MAX: none */
	uint64_t buffer_id;    /* dmabufd buffer id (dmabufctl list) */
	uint64_t size;         /* bytes of the buffer behind the fd */
	uint64_t frame_offset; /* the frame's bytes inside the buffer: what */
	uint64_t frame_size;   /* the producer's GstBuffer spans (<= size) */
	uint64_t modifier;     /* DRM format modifier (DRM_FORMAT_MOD_LINEAR) */
	uint32_t width, height;   /* pixels */
	uint32_t fourcc;          /* DRM fourcc (<drm_fourcc.h>); 0 if none */
	uint32_t num_planes;      /* 1 .. DBFR_MAX_PLANES */
	uint32_t offsets[DBFR_MAX_PLANES];   /* bytes from the start of the fd */
	uint32_t strides[DBFR_MAX_PLANES];   /* bytes per row */
	uint32_t row_bytes[DBFR_MAX_PLANES]; /* bytes of pixel data per row */
	uint32_t rows[DBFR_MAX_PLANES];      /* rows of the plane */
	char format[16];       /* GStreamer format name, e.g. "NV12" */
	uint32_t flags;        /* enum dbfr_frame_flags */
	uint32_t reserved;
};

/*
 * DBFR_CAPS: the caps the sink negotiated with upstream, as
 * gst_caps_to_string() prints them (colorimetry, chroma-site,
 * pixel-aspect-ratio, framerate, HDR mastering-display-info and
 * content-light-level when upstream set them). Variable size: the header's
 * size is offsetof(caps) + length; caps[length - 1] is the only NUL.
 */
struct dbfr_caps {
	struct dbfr_header h;
	uint32_t length;       /* bytes of caps[], NUL included, >= 2 */
	uint32_t reserved;
	char caps[];
};

/** Most bytes of a caps string in DBFR_CAPS, NUL included. */
#define DBFR_MAX_CAPS (DBFR_MAX_MESSAGE - sizeof(struct dbfr_caps))

struct dbfr_release {
	struct dbfr_header h;
	uint64_t seq;
};

/** Fills a header for a message of @type and @size bytes. */
void dbfr_header_init(struct dbfr_header *h, enum dbfr_type type, size_t size);

/**
 * dbfr_caps_init() - build a CAPS message carrying @caps.
 * @m: at least DBFR_MAX_MESSAGE bytes
 * @caps: the caps string, NUL-terminated
 * Return: the message's size in bytes (> 0); -E2BIG when @caps needs more
 * than DBFR_MAX_CAPS bytes; -EINVAL when it is empty.
 */
ssize_t dbfr_caps_init(struct dbfr_caps *m, const char *caps);

/**
 * dbfr_check() - validate a received message.
 * @msg: the datagram, @len bytes
 * @type: the type the caller expects at this point, or 0 for any
 * Return: the message type (> 0); -EBADMSG (short, wrong magic/size/type
 * or reserved field set; a CAPS whose length disagrees with the size or
 * whose string is not NUL-terminated exactly at its end);
 * -EPROTONOSUPPORT (other version).
 */
int dbfr_check(const void *msg, size_t len, int type);

/**
 * dbfr_frame_check() - a FRAME's layout fits its buffer.
 * Checks num_planes, that frame_offset + frame_size lies inside size, and
 * that every plane's rows * stride (last row: row_bytes) lies inside the
 * frame, without overflow, and row_bytes <= stride.
 * Return: 0 or -EBADMSG.
 */
int dbfr_frame_check(const struct dbfr_frame *f);

/**
 * dbfr_send() - send one message, with @fd in SCM_RIGHTS when @fd >= 0.
 * @flags: extra send(2) flags (MSG_DONTWAIT); MSG_NOSIGNAL is always set
 * Return: 0; -EAGAIN (socket buffer full, only with MSG_DONTWAIT); -EPIPE,
 * -ECONNRESET (peer gone); other negative errno from sendmsg(2).
 */
int dbfr_send(int sock, const void *msg, size_t len, int fd, int flags);

/**
 * dbfr_recv() - receive one message into @buf (@cap bytes).
 * @ret_fd: receives the one fd that came with it (O_CLOEXEC) or -1; pass
 *          NULL to refuse fds (any fd received is then closed)
 * @flags: extra recvmsg(2) flags (MSG_DONTWAIT)
 * More than one fd, or a truncated message or control data, closes every
 * received fd and fails with -EBADMSG.
 * Return: bytes received (> 0); 0 on EOF; -EAGAIN; -EBADMSG; other
 * negative errno from recvmsg(2).
 */
ssize_t dbfr_recv(int sock, void *buf, size_t cap, int *ret_fd, int flags);

/**
 * dbfr_connect() - connect to a sink's consumer socket, retrying while it
 * does not exist yet or refuses (the sink is still starting).
 * @path: the socket path (< sizeof(sun_path) bytes)
 * @timeout_s: seconds to keep retrying, polled every 50 ms
 * Return: the connected SOCK_SEQPACKET fd (O_CLOEXEC); -ENAMETOOLONG;
 * -ETIMEDOUT; other negative errno from socket(2)/connect(2).
 */
int dbfr_connect(const char *path, unsigned timeout_s);

/**
 * dbfr_checksum() - FNV-1a 64 over the pixel data of a frame: for each
 * plane in order, each row in order, the first row_bytes[p] bytes at
 * planes[p] + row * strides[p]. Stride padding is not covered.
 */
uint64_t dbfr_checksum(unsigned num_planes, const uint8_t *const planes[],
		       const uint32_t strides[], const uint32_t row_bytes[],
		       const uint32_t rows[]);

#endif
