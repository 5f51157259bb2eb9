/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-frame-consumer - example consumer of dmabufdsink's frames.
 *
 *   dmabufd-frame-consumer --socket PATH [--expect FILE] [--out FILE]
 *                          [--hold-ms N] [--connect-timeout SEC] [--quiet]
 *                          [--no-checksum]
 *
 * Connects to a dmabufdsink consumer-socket (frame-ring protocol, dbfr.h),
 * and for every frame: checks the layout against the buffer's size, maps
 * the fd read-only, brackets the read with dmabufd_cpu_access_begin/end()
 * (DMA_BUF_IOCTL_SYNC on a dma-buf, nothing on a memfd), computes the FNV-1a 64 checksum of the pixel data (strides
 * skipped), unmaps, closes the fd and releases the frame.
 *
 * --no-checksum maps and brackets each frame but reads only its first byte
 * (transport cost without the checksum; incompatible with --expect/--out).
 *
 * --out FILE writes "SEQ CHECKSUM" per frame; --expect FILE reads the same
 * format (e.g. from dmabufd-gst-refsum) and compares frame by frame.
 *
 * Exit codes: 0 EOS reached and (with --expect) every expected frame
 * received with an equal checksum; 1 a checksum differed, or frames were
 * missing; 2 usage; 3 cannot connect; 4 protocol error (bad message,
 * layout outside the buffer, mmap failed); 5 the producer went away
 * without EOS.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <dmabufd/framebuffer.h>

#include "dbfr.h"

enum { EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_CONNECT, EXIT_PROTOCOL, EXIT_GONE };

struct expect {
	uint64_t *sums; /* indexed by seq */
	size_t n;
};

static int load_expect(const char *path, struct expect *e)
{
	FILE *f = fopen(path, "re");
	unsigned long long seq, sum;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (fscanf(f, "%llu %llx", &seq, &sum) == 2) {
		if (seq != e->n) {
			fclose(f);
			return -EINVAL;
		}
		if (e->n == cap) {
			uint64_t *p;

			cap = cap ? cap * 2 : 256;
			p = realloc(e->sums, cap * sizeof(*p));
			if (!p) {
				fclose(f);
				return -ENOMEM;
			}
			e->sums = p;
		}
		e->sums[e->n++] = sum;
	}
	fclose(f);
	return 0;
}

static bool no_checksum;

/* Maps the frame and checksums it. Return: 0 or a negative errno. */
static int frame_checksum(const struct dbfr_frame *f, int fd, uint64_t *ret)
{
	const uint8_t *planes[DBFR_MAX_PLANES];
	off_t end;
	void *map;
	unsigned p;
	int r;

	/* The fd must really be as large as the producer says. */
	end = lseek(fd, 0, SEEK_END);
	if (end < 0 || (uint64_t)end < f->size)
		return -EBADMSG;
	map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	/* DMA_BUF_IOCTL_SYNC around the read (a no-op on a memfd). */
	r = dmabufd_cpu_access_begin(fd, DMABUFD_CPU_READ);
	if (r < 0) {
		munmap(map, f->size);
		return r;
	}
	for (p = 0; p < f->num_planes; p++)
		planes[p] = (const uint8_t *)map + f->offsets[p];
	if (no_checksum)
		*ret = *(const volatile uint8_t *)planes[0];
	else
		*ret = dbfr_checksum(f->num_planes, planes, f->strides, f->row_bytes, f->rows);
	r = dmabufd_cpu_access_end(fd, DMABUFD_CPU_READ);
	munmap(map, f->size);
	return r;
}

static void usage(FILE *out)
{
	fputs("Usage: dmabufd-frame-consumer --socket PATH [--expect FILE] [--out FILE]\n"
	      "                              [--hold-ms N] [--connect-timeout SEC] [--quiet]\n"
	      "                              [--no-checksum]\n"
	      "Receives dmabufdsink frames, maps and checksums each one.\n"
	      "Exit: 0 ok, 1 checksum mismatch or missing frames, 2 usage, 3 connect,\n"
	      "      4 protocol error, 5 producer gone without EOS.\n", out);
}

struct consumer {
	const char *sock_path, *expect_path, *out_path;
	unsigned long hold_ms;
	int timeout_s;
	int quiet;
	struct expect exp;
	FILE *out;
	int sock;
	unsigned long frames, mismatches;
	bool hello;
	bool have_caps;
};

/* Return: EXIT_OK, or the exit code after the usage text. */
static int parse_args(struct consumer *k, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "expect", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-checksum", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:e:o:H:t:qnh", opts, NULL)) != -1) {
		switch (c) {
		case 's': k->sock_path = optarg; break;
		case 'e': k->expect_path = optarg; break;
		case 'o': k->out_path = optarg; break;
		case 'H': k->hold_ms = strtoul(optarg, NULL, 10); break;
		case 't': k->timeout_s = atoi(optarg); break;
		case 'q': k->quiet = 1; break;
		case 'n': no_checksum = true; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!k->sock_path || optind != argc || k->hold_ms > 60000 || k->timeout_s < 0 ||
	    (no_checksum && (k->expect_path || k->out_path))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Checksums, records and releases one frame (@fd is closed). */
static int handle_frame(struct consumer *k, struct dbfr_frame *f, int fd)
{
	struct dbfr_release rel;
	uint64_t sum = 0;
	int r;

	f->format[sizeof(f->format) - 1] = '\0';
	r = dbfr_frame_check(f);
	if (r == 0)
		r = frame_checksum(f, fd, &sum);
	close(fd);
	if (r < 0) {
		fprintf(stderr, "consumer: frame %" PRIu64 ": %s\n", f->seq, strerror(-r));
		return EXIT_PROTOCOL;
	}
	k->frames++;
	if (k->out)
		fprintf(k->out, "%" PRIu64 " %016" PRIx64 "\n", f->seq, sum);
	if (k->expect_path && (f->seq >= k->exp.n || k->exp.sums[f->seq] != sum) &&
	    k->mismatches++ < 10)
		fprintf(stderr, "consumer: frame %" PRIu64 " checksum %016" PRIx64 " differs\n",
			f->seq, sum);
	if (!k->quiet && (k->frames == 1 || k->frames % 100 == 0))
		printf("consumer: frame %" PRIu64 " %ux%u %s (%u planes, buffer %" PRIu64
		       ") checksum %016" PRIx64 "\n", f->seq, f->width, f->height, f->format,
		       f->num_planes, f->buffer_id, sum);
	if (k->hold_ms) {
		struct timespec ts = { k->hold_ms / 1000, (long)(k->hold_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	memset(&rel, 0, sizeof(rel));
	dbfr_header_init(&rel.h, DBFR_RELEASE, sizeof(rel));
	rel.seq = f->seq;
	if (dbfr_send(k->sock, &rel, sizeof(rel), -1, 0) < 0 && !k->quiet)
		fprintf(stderr, "consumer: release of %" PRIu64 " not delivered\n", f->seq);
	return EXIT_OK;
}

/* Receives until EOS. Return: an exit code. */
static int receive_frames(struct consumer *k)
{
	for (;;) {
		union {
			struct dbfr_hello hello;
			struct dbfr_frame frame;
			struct dbfr_caps caps;
			char raw[DBFR_MAX_MESSAGE];
		} m;
		int fd = -1, type, ret;
		ssize_t n;

		n = dbfr_recv(k->sock, &m, sizeof(m), &fd, 0);
		/* ECONNRESET: the producer closed with RELEASEs unread; its
		 * last messages are still queued behind the error. */
		if (n == -ECONNRESET)
			continue;
		if (n == 0) {
			fprintf(stderr, "consumer: producer gone without EOS after %lu frames\n",
				k->frames);
			return EXIT_GONE;
		}
		type = n < 0 ? (int)n : dbfr_check(&m, (size_t)n, 0);
		if (type < 0 || (!k->hello && type != DBFR_HELLO) ||
		    (type == DBFR_FRAME) != (fd >= 0) || type == DBFR_RELEASE) {
			fprintf(stderr, "consumer: protocol error (%s)\n",
				type < 0 ? strerror(-type) : "unexpected message");
			if (fd >= 0)
				close(fd);
			return EXIT_PROTOCOL;
		}
		switch (type) {
		case DBFR_HELLO:
			k->hello = true;
			m.hello.backend[sizeof(m.hello.backend) - 1] = '\0';
			if (!k->quiet)
				printf("consumer: producer pid %u, ring depth %u, %s backend, "
				       "frames are %s\n", m.hello.producer_pid,
				       m.hello.ring_depth, m.hello.backend,
				       m.hello.dmabuf ? "dma-bufs" : "memfds");
			break;
		case DBFR_EOS:
			return EXIT_OK;
		case DBFR_CAPS:
			k->have_caps = true;
			if (!k->quiet)
				printf("consumer: caps %s\n", m.caps.caps);
			break;
		default: /* DBFR_FRAME */
			if (!k->have_caps) {
				fprintf(stderr, "consumer: protocol error (frame before caps)\n");
				close(fd);
				return EXIT_PROTOCOL;
			}
			ret = handle_frame(k, &m.frame, fd);
			if (ret)
				return ret;
			break;
		}
	}
}

int main(int argc, char **argv)
{
	struct consumer k = { .timeout_s = 10, .sock = -1 };
	int ret;

	ret = parse_args(&k, argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (k.expect_path && load_expect(k.expect_path, &k.exp) < 0) {
		fprintf(stderr, "consumer: cannot read %s\n", k.expect_path);
		return EXIT_USAGE;
	}
	if (k.out_path && !(k.out = fopen(k.out_path, "we"))) {
		fprintf(stderr, "consumer: cannot write %s: %s\n", k.out_path, strerror(errno));
		free(k.exp.sums);
		return EXIT_USAGE;
	}
	k.sock = dbfr_connect(k.sock_path, k.timeout_s);
	if (k.sock < 0) {
		fprintf(stderr, "consumer: cannot connect to %s: %s\n", k.sock_path,
			strerror(-k.sock));
		free(k.exp.sums);
		if (k.out)
			fclose(k.out);
		return EXIT_CONNECT;
	}
	ret = receive_frames(&k);
	close(k.sock);
	if (k.out)
		fclose(k.out);
	if (ret == EXIT_OK && k.expect_path && (k.mismatches || k.frames != k.exp.n)) {
		fprintf(stderr, "consumer: %lu frames received, %zu expected, %lu "
			"checksums differ\n", k.frames, k.exp.n, k.mismatches);
		ret = EXIT_MISMATCH;
	}
	if (ret == EXIT_OK)
		printf("consumer: EOS after %lu frames%s\n", k.frames,
		       k.expect_path ? ", every checksum equals the reference" : "");
	free(k.exp.sums);
	return ret;
}
