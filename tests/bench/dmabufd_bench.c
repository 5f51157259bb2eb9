/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-bench: what routing an allocation through dmabufd costs, measured
 * side by side with the alternatives in the same run.
 *
 * For every size and client count, N client processes each repeat one
 * operation, in three variants:
 *   brokered  dmabufd_alloc() → dmabufd_map() → write one byte per 4 KiB
 *             page → munmap → close → dmabufd_release_async() (what a user
 *             of libdmabufd does; --brokered-mmap: plain mmap instead of
 *             dmabufd_map(), to show what the helper saves)
 *   brokered-sync (only when named in --variants) the same with the
 *             blocking dmabufd_release(): what the release without waiting
 *             saves, side by side
 *   direct    the backend's own primitive in the client process (memfd:
 *             memfd_create+ftruncate+F_ADD_SEALS; dma-heap:
 *             DMA_HEAP_IOCTL_ALLOC; udmabuf: memfd+UDMABUF_CREATE) → the
 *             same mmap/touch/munmap/close
 *   floor     one SOCK_SEQPACKET round trip carrying one fd (SCM_RIGHTS) to
 *             a trivial single-threaded server, plus the direct variant:
 *             the least any broker can cost
 * Variants are interleaved round by round (--repeat) and every figure is
 * the median over rounds. Latencies: "ready" = start → every page written
 * (what a user waits for before using the buffer), "total" = the whole
 * operation, "request" = each single daemon request the client waits for
 * (Alloc; the blocking Release too in brokered-sync; the primitive/round
 * trip for the others).
 *
 * --wait-split: the brokered clients speak the protocol on a raw connection
 * with SO_TIMESTAMPNS instead of through libdmabufd, so that every request's
 * wait splits into "daemon" (client's send → the daemon queued the reply:
 * the reply datagram's kernel timestamp, set by unix_dgram_sendmsg() when
 * the receiver asked for SO_TIMESTAMPNS) and "client" (reply queued → the
 * client's recvmsg returned: the client waiting for a CPU).
 *
 * It also measures daemon memory per live buffer (--memory N): heap bytes
 * (mallinfo2 in the daemon, Stats heap_bytes) and RSS (VmRSS) deltas over N
 * live 4 KiB buffers.
 *
 * Output: a table on stdout and JSON (--json FILE). Bounded in time: each
 * run stops after --max-seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <sys/syscall.h>
#include <linux/udmabuf.h>

#include "dmabufd/dmabufd.h"
#include "harness.h"
#include "parse.h"
#include "wire.h"

#define MAX_SIZES 16
#define MAX_CLIENT_COUNTS 16
#define MAX_ROUNDS 32
#define TOUCH_STRIDE 4096u

enum variant { V_BROKERED, V_DIRECT, V_FLOOR, V_BROKERED_SYNC, V_COUNT };
static const char *const variant_names[V_COUNT] = { "brokered", "direct", "floor",
						     "brokered-sync" };

/* Both brokered variants: they differ only in how they release. */
static bool is_brokered(enum variant v)
{
	return v == V_BROKERED || v == V_BROKERED_SYNC;
}

/* ---- direct primitives (pluggable: memfd here, dma-heap/udmabuf in the VM) */

struct direct_ops {
	const char *name;
	/* Per-process setup; -ENODEV when the device is absent. */
	int (*open)(void);
	/* One buffer of @size bytes; returns an fd or -errno. */
	int (*alloc)(uint64_t size);
};

static int dev_fd = -1;

static int memfd_open(void)
{
	return 0;
}

static int memfd_alloc_one(uint64_t size)
{
	int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static const char *heap_path = "/dev/dma_heap/system";

static int heap_open(void)
{
	dev_fd = open(heap_path, O_RDONLY | O_CLOEXEC);
	return dev_fd < 0 ? -ENODEV : 0;
}

/* DMA_HEAP_IOCTL_ALLOC: len in bytes; fd_flags for the dma-buf fd; heap_flags 0. */
static int heap_alloc_one(uint64_t size)
{
	struct dma_heap_allocation_data d = {
		.len = size,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};

	if (ioctl(dev_fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
		return -errno;
	return (int)d.fd;
}

static int udmabuf_open(void)
{
	dev_fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	return dev_fd < 0 ? -ENODEV : 0;
}

/* UDMABUF_CREATE: memfd sealed against shrinking, offset/size page-aligned. */
static int udmabuf_alloc_one(uint64_t size)
{
	int mfd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING), fd;
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };

	if (mfd < 0)
		return -errno;
	if (ftruncate(mfd, (off_t)size) < 0 || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		close(mfd);
		return -errno;
	}
	c.memfd = (uint32_t)mfd;
	fd = ioctl(dev_fd, UDMABUF_CREATE, &c);
	if (fd < 0)
		fd = -errno;
	close(mfd);
	return fd;
}

static const struct direct_ops direct_table[] = {
	{ "memfd", memfd_open, memfd_alloc_one },
	{ "dma-heap", heap_open, heap_alloc_one },
	{ "udmabuf", udmabuf_open, udmabuf_alloc_one },
};

/* ---- configuration */

struct config {
	uint64_t sizes[MAX_SIZES];
	unsigned nsizes;
	unsigned clients[MAX_CLIENT_COUNTS];
	unsigned nclients;
	unsigned iterations;     /* operations per client per run */
	unsigned warmup;         /* untimed operations per client first */
	unsigned repeat;         /* rounds */
	double max_seconds;      /* per run */
	unsigned interval_us;    /* pause between a client's operations (not timed) */
	bool variant_on[V_COUNT];
	bool populate;           /* MAP_POPULATE in direct and floor (and brokered-mmap) */
	bool brokered_mmap;      /* brokered maps with mmap(2), not dmabufd_map() */
	const struct direct_ops *direct;
	uint64_t pool_budget;    /* bytes, passed to dmabufd */
	unsigned memory_buffers; /* 0 = skip the memory measurement */
	bool memory_only;        /* only the memory measurement */
	bool wait_split;         /* brokered on a raw connection with SO_TIMESTAMPNS */
	int server_nice;         /* nice of dmabufd and the floor server */
	unsigned server_slice_us; /* EEVDF slice of their main threads (0: default) */
	int server_fifo;          /* SCHED_FIFO priority of their main threads (0: off) */
	const char *json_path;
	const char *daemon_args[16];
	unsigned ndaemon_args;
};

/* ---- shared results (MAP_SHARED, written by the children) */

struct child_result {
	unsigned ops;
	unsigned nreq;
	int error;
	double start_us, end_us;
};

struct shared {
	struct child_result child[256];
	/* flexible arrays follow, sized at run time */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct run_buffers {
	struct shared *sh;
	size_t bytes;
	float *ready, *total, *req;   /* [client][iterations] (req: x2) */
	float *dmn, *cli;             /* --wait-split: [client][iterations x2] */
	unsigned per_client;
};

static int run_buffers_init(struct run_buffers *rb, unsigned nclients, unsigned iters)
{
	size_t n = (size_t)nclients * iters;

	rb->per_client = iters;
	rb->bytes = sizeof(struct shared) + n * 8 * sizeof(float);
	rb->sh = mmap(NULL, rb->bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rb->sh == MAP_FAILED)
		return -errno;
	rb->ready = (float *)(rb->sh + 1);
	rb->total = rb->ready + n;
	rb->req = rb->total + n;
	rb->dmn = rb->req + 2 * n;
	rb->cli = rb->dmn + 2 * n;
	return 0;
}

static void run_buffers_finish(struct run_buffers *rb)
{
	munmap(rb->sh, rb->bytes);
}

/* ---- the work every variant does on its buffer */

static int map_and_touch(int fd, uint64_t size, bool lib, bool populate, void **ret_map)
{
	volatile uint8_t *p;

	if (lib) {
		void *m;
		int err = dmabufd_map(fd, size, PROT_READ | PROT_WRITE, 0, &m);

		if (err < 0)
			return err;
		p = m;
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0),
			 fd, 0);
		if (p == MAP_FAILED)
			return -errno;
	}
	for (uint64_t off = 0; off < size; off += TOUCH_STRIDE)
		p[off] = 1;
	*ret_map = (void *)p;
	return 0;
}

/* ---- the floor server: one round trip with one fd, nothing else */

static volatile sig_atomic_t floor_stop;

static void floor_on_term(int sig)
{
	(void)sig;
	floor_stop = 1;
}

static void floor_server(int lfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int give = memfd_create("floor", MFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	uint8_t buf[256];

	signal(SIGTERM, floor_on_term);
	if (ep < 0 || give < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(1);
	while (!floor_stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 200);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (c >= 0) {
					struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = recv(fd, buf, sizeof(buf), 0);

				if (r > 0) {
					wire_send(fd, buf, (size_t)r, &give, 1);
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
					close(fd);
				}
				break;
			}
		}
	}
	_exit(0);
}

struct floor_proc {
	pid_t pid;
	char path[108];
};

static int floor_start(struct floor_proc *f)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd;

	snprintf(f->path, sizeof(f->path), "/tmp/dmabufd-bench-floor-%d", (int)getpid());
	unlink(f->path);
	strcpy(addr.sun_path, f->path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 256) < 0) {
		close(lfd);
		return -errno;
	}
	f->pid = fork();
	if (f->pid < 0) {
		close(lfd);
		return -errno;
	}
	if (f->pid == 0)
		floor_server(lfd);
	close(lfd);
	return 0;
}

static void floor_stop_proc(struct floor_proc *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	unlink(f->path);
}

static int floor_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	strcpy(addr.sun_path, path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * Puts this process at nice @nice, and SCHED_FIFO at --server-fifo's
 * priority if given (@on), so that a server forked now inherits it (as
 * from a service unit's Nice= and CPUSchedulingPolicy=: the daemon's pool
 * worker starts with it too), or back at SCHED_OTHER, nice 0 (!@on)
 * before clients are forked.
 */
static int server_nice_now;
static int server_fifo_prio;

static void become_server_nice(int nice, bool on)
{
	struct sched_param sp = { .sched_priority = on ? server_fifo_prio : 0 };

	if ((on && server_fifo_prio && sched_setscheduler(0, SCHED_FIFO, &sp) < 0) ||
	    (!on && server_fifo_prio && sched_setscheduler(0, SCHED_OTHER, &sp) < 0))
		fprintf(stderr, "dmabufd-bench: cannot set the scheduling policy: %s\n",
			strerror(errno));
	errno = 0;
	if (setpriority(PRIO_PROCESS, 0, on ? nice : 0) < 0 && on)
		fprintf(stderr, "dmabufd-bench: cannot set nice %d: %s\n", nice, strerror(errno));
	if (on)
		server_nice_now = getpriority(PRIO_PROCESS, 0);
}

/*
 * Gives @pid's main thread an EEVDF slice of @us µs (sched_setattr(2),
 * SCHED_OTHER, sched_runtime; Linux 6.12+, clamped by the kernel to
 * 0.1-100 ms), keeping its nice. A shorter slice than the running task's
 * lets a waking server preempt it (PREEMPT_SHORT). Returns 0 or -errno.
 */
struct bench_sched_attr { /* include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0 */
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
};

static int set_server_slice(pid_t pid, unsigned us)
{
	struct bench_sched_attr a = {
		.size = sizeof(a),
		.sched_policy = SCHED_OTHER,
		.sched_runtime = (uint64_t)us * 1000,
	};

	errno = 0;
	a.sched_nice = getpriority(PRIO_PROCESS, (id_t)pid);
	if (errno)
		return -errno;
	return syscall(SYS_sched_setattr, pid, &a, 0) < 0 ? -errno : 0;
}

/* ---- one client process */

struct run_ctx {
	const struct config *cfg;
	enum variant v;
	uint64_t size;
	const char *daemon_socket;
	const char *floor_socket;
	struct run_buffers *rb;
};

/* ---- --wait-split: requests on a raw connection, timestamped by the kernel */

static double realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A Hello'ed blocking connection with SO_TIMESTAMPNS, or -errno. */
static int split_connect(const char *path)
{
	int s = raw_connect_hello(path), on = 1;

	if (s < 0)
		return s;
	if (setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 ||
	    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) < 0) {
		int err = -errno;

		close(s);
		return err;
	}
	return s;
}

struct split_wait {
	float daemon_us, client_us;
};

/*
 * Sends @req, receives its reply: the fd (Alloc) into *@ret_fd, the buffer
 * id into *@ret_buffer_id, the two parts of the wait into *@w.
 * Return: the reply's error, or -EPROTO.
 */
static int split_request(int sock, const Dmabufd__Request *req, int *ret_fd,
			 uint64_t *ret_buffer_id, struct split_wait *w)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	union {
		char b[CMSG_SPACE(sizeof(int) * DMABUFD_MAX_FDS) +
		       CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.b,
			      .msg_controllen = sizeof(control.b) };
	double t_send = realtime_us(), t_queued = NAN, t_recv;
	Dmabufd__Reply *r;
	int fd = -1, err;
	ssize_t n;

	if (raw_send(sock, req, NULL, 0) < 0)
		return -EPIPE;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	t_recv = realtime_us();
	if (n <= 0)
		return -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			t_queued = (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
		}
	}
	r = dmabufd__reply__unpack(NULL, (size_t)n, buf);
	if (!r || isnan(t_queued)) {
		if (fd >= 0)
			close(fd);
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		return -EPROTO;
	}
	err = r->error;
	if (err == 0 && ret_buffer_id && r->body_case == DMABUFD__REPLY__BODY_ALLOC)
		*ret_buffer_id = r->alloc->buffer_id;
	dmabufd__reply__free_unpacked(r, NULL);
	if (ret_fd && err == 0)
		*ret_fd = fd;
	else if (fd >= 0)
		close(fd);
	w->daemon_us = (float)(t_queued - t_send);
	w->client_us = (float)(t_recv - t_queued);
	return err;
}

/* req[], dmn[], cli[] hold at least *nreq + 2 entries. */
static int one_op(const struct run_ctx *r, struct dmabufd_client *dc, int fsock, float *ready,
		  float *total, float *req, float *dmn, float *cli, unsigned *nreq)
{
	struct split_wait sw[2] = { 0 };
	bool split = is_brokered(r->v) && r->cfg->wait_split;
	const struct config *cfg = r->cfg;
	double t0 = now_us(), t1, t2, ta;
	struct dmabufd_buffer buf = { .fd = -1 };
	void *map = NULL;
	int fd, err;

	switch (r->v) {
	case V_BROKERED:
	case V_BROKERED_SYNC:
		if (split) {
			Dmabufd__Request q = DMABUFD__REQUEST__INIT;
			Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;

			a.size = r->size;
			a.label = "";
			q.id = 1;
			q.body_case = DMABUFD__REQUEST__BODY_ALLOC;
			q.alloc = &a;
			err = split_request(fsock, &q, &buf.fd, &buf.id, &sw[0]);
		} else {
			err = dmabufd_alloc(dc, r->size, 0, DMABUFD_ATTR_CACHED, 0, NULL, &buf);
		}
		if (err < 0)
			return err;
		fd = buf.fd;
		break;
	case V_FLOOR: {
		uint8_t msg[16] = { 1 }, in[64];
		int fds[1];
		size_t nfds = 0;
		long n;

		if (wire_send(fsock, msg, sizeof(msg), NULL, 0) < 0)
			return -EPIPE;
		n = wire_recv(fsock, in, sizeof(in), fds, 1, &nfds, NULL);
		if (n <= 0 || nfds != 1)
			return -EPROTO;
		close(fds[0]);
	}
		/* fall through */
	case V_DIRECT:
	default:
		fd = cfg->direct->alloc(r->size);
		if (fd < 0)
			return fd;
		break;
	}
	ta = now_us();
	dmn[*nreq] = sw[0].daemon_us;
	cli[*nreq] = sw[0].client_us;
	req[(*nreq)++] = (float)(ta - t0);
	err = map_and_touch(fd, r->size, is_brokered(r->v) && !cfg->brokered_mmap, cfg->populate,
			    &map);
	if (err < 0) {
		close(fd);
		return err;
	}
	t1 = now_us();
	munmap(map, r->size);
	close(fd);
	if (r->v == V_BROKERED_SYNC) {
		double tr = now_us();

		if (split) {
			Dmabufd__Request q = DMABUFD__REQUEST__INIT;
			Dmabufd__Release rel = DMABUFD__RELEASE__INIT;

			rel.buffer_id = buf.id;
			q.id = 2;
			q.body_case = DMABUFD__REQUEST__BODY_RELEASE;
			q.release = &rel;
			err = split_request(fsock, &q, NULL, NULL, &sw[1]);
		} else {
			err = dmabufd_release(dc, buf.id);
		}
		if (err < 0)
			return err;
		dmn[*nreq] = sw[1].daemon_us;
		cli[*nreq] = sw[1].client_us;
		req[(*nreq)++] = (float)(now_us() - tr);
	} else if (r->v == V_BROKERED) {
		/* Not waited for: no request latency (a failure comes back as a
		 * reply the next Alloc would see: checked there). */
		if (split) {
			Dmabufd__Request q = DMABUFD__REQUEST__INIT;
			Dmabufd__Release rel = DMABUFD__RELEASE__INIT;

			rel.buffer_id = buf.id;
			rel.flags = DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY;
			q.id = 2;
			q.body_case = DMABUFD__REQUEST__BODY_RELEASE;
			q.release = &rel;
			err = raw_send(fsock, &q, NULL, 0) < 0 ? -EPIPE : 0;
		} else {
			uint64_t failures = 0;

			err = dmabufd_release_async(dc, buf.id);
			if (err == 0 && dmabufd_release_failures(dc, &failures, NULL, NULL) == 0 &&
			    failures)
				err = -EPROTO;
		}
		if (err < 0)
			return err;
	}
	t2 = now_us();
	*ready = (float)(t1 - t0);
	*total = (float)(t2 - t0);
	return 0;
}

static void client_main(const struct run_ctx *r, unsigned idx, int ready_fd, int go_fd)
{
	const struct config *cfg = r->cfg;
	struct child_result *res = &r->rb->sh->child[idx];
	struct dmabufd_client *dc = NULL;
	int fsock = -1, err = 0;
	unsigned iters = r->rb->per_client, nreq = 0;
	float *ready = r->rb->ready + (size_t)idx * iters;
	float *total = r->rb->total + (size_t)idx * iters;
	float *req = r->rb->req + (size_t)idx * iters * 2;
	float *dmn = r->rb->dmn + (size_t)idx * iters * 2;
	float *cli = r->rb->cli + (size_t)idx * iters * 2;
	float scratch[2], scratch_req[2], scratch_dmn[2], scratch_cli[2];
	unsigned scratch_n;
	double deadline;
	char c;

	if (is_brokered(r->v) && cfg->wait_split) {
		fsock = split_connect(r->daemon_socket);
		err = fsock < 0 ? fsock : 0;
	} else if (is_brokered(r->v))
		err = dmabufd_connect(r->daemon_socket, &dc);
	else
		err = cfg->direct->open();
	if (err == 0 && r->v == V_FLOOR) {
		fsock = floor_connect(r->floor_socket);
		err = fsock < 0 ? fsock : 0;
	}
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	if (read(go_fd, &c, 1) < 0)
		_exit(1);
	if (err < 0) {
		res->error = err;
		_exit(0);
	}
	deadline = now_us() + cfg->max_seconds * 1e6 / 4;
	for (unsigned i = 0; i < cfg->warmup && now_us() < deadline; i++) {
		scratch_n = 0;
		err = one_op(r, dc, fsock, &scratch[0], &scratch[1], scratch_req, scratch_dmn,
			     scratch_cli, &scratch_n);
		if (err < 0)
			break;
	}
	res->start_us = now_us();
	deadline = res->start_us + cfg->max_seconds * 1e6;
	for (unsigned i = 0; i < iters && err == 0; i++) {
		if (cfg->interval_us)
			usleep(cfg->interval_us);
		err = one_op(r, dc, fsock, &ready[i], &total[i], req, dmn, cli, &nreq);
		if (err == 0)
			res->ops++;
		if (now_us() > deadline)
			break;
	}
	res->nreq = nreq;
	res->end_us = now_us();
	res->error = err;
	dmabufd_disconnect(dc);
	_exit(0);
}

/* ---- statistics */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* @v sorted; nearest-rank percentile. */
static double pct(const float *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)n);
	if (k == 0)
		k = 1;
	return v[k - 1];
}

static double median(double *v, unsigned n)
{
	unsigned m = 0;

	for (unsigned i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	if (m == 0)
		return NAN;
	qsort(v, m, sizeof(*v), cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

enum stat_id {
	S_READY_P50, S_READY_P99, S_READY_P999,
	S_TOTAL_P50, S_TOTAL_P99, S_TOTAL_P999,
	S_REQ_P50, S_REQ_P99, S_REQ_P999, S_REQ_MAX,
	S_OPS_PER_S, S_SERVER_CPU_US_PER_OP, S_POOL_HIT, S_OPS,
	S_DMN_P50, S_DMN_P99, S_DMN_P999, S_CLI_P50, S_CLI_P99, S_CLI_P999, S_SERVER_RUNQ_US_PER_REQ,
	S_COUNT
};
static const char *const stat_names[S_COUNT] = {
	"ready_p50_us", "ready_p99_us", "ready_p999_us",
	"total_p50_us", "total_p99_us", "total_p999_us",
	"request_p50_us", "request_p99_us", "request_p999_us", "request_max_us",
	"ops_per_s", "server_cpu_us_per_op", "pool_hit_ratio", "ops",
	"daemon_wait_p50_us", "daemon_wait_p99_us", "daemon_wait_p999_us",
	"client_wait_p50_us", "client_wait_p99_us", "client_wait_p999_us",
	"server_runqueue_us_per_request",
};

struct cell {
	double runs[S_COUNT][MAX_ROUNDS];
	unsigned nruns;
	int error;
	double med[S_COUNT];
};

/* utime+stime of @pid in µs, or NAN. */
static double proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NAN;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Time @pid's main thread (the daemon's event loop, the floor server) spent
 * runnable but waiting for a CPU, in µs (/proc/<pid>/schedstat, second
 * field, ns), or NAN.
 */
static double proc_runq_us(pid_t pid)
{
	char path[64];
	unsigned long long run, wait;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NAN;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (double)wait / 1e3 : NAN;
}

/* VmRSS of @pid in bytes, or -1. */
static long long proc_rss(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

struct daemon_stats {
	uint64_t pooled, hits, misses, heap;
};

static int get_daemon_stats(const char *socket, struct daemon_stats *ret)
{
	int s = raw_connect_hello(socket);
	Dmabufd__Reply *r;

	if (s < 0)
		return s;
	r = raw_stats(s, 2);
	close(s);
	if (!r || r->body_case != DMABUFD__REPLY__BODY_STATS) {
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		return -EPROTO;
	}
	*ret = (struct daemon_stats){ r->stats->pooled, r->stats->pool_hits, r->stats->pool_misses,
				      r->stats->heap_bytes };
	dmabufd__reply__free_unpacked(r, NULL);
	return 0;
}

/* Waits (at most 10 s) until the daemon's pool stops growing. */
static void wait_pool_warm(const char *socket)
{
	uint64_t last = UINT64_MAX;
	unsigned stable = 0;

	for (int i = 0; i < 500 && stable < 5; i++) {
		struct daemon_stats st;
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (get_daemon_stats(socket, &st) < 0)
			return;
		stable = st.pooled == last ? stable + 1 : 0;
		last = st.pooled;
		nanosleep(&ts, NULL);
	}
}

/* One run: @nclients processes doing variant @v on @size. Fills @cell's run @round. */
static int run_once(const struct config *cfg, enum variant v, uint64_t size, unsigned nclients,
		    const struct daemon_proc *d, const struct floor_proc *fl, struct cell *cell)
{
	struct run_buffers rb;
	struct run_ctx r = {
		.cfg = cfg, .v = v, .size = size, .daemon_socket = d->socket,
		.floor_socket = fl->path, .rb = &rb,
	};
	pid_t pids[256];
	pid_t server = is_brokered(v) ? d->pid : v == V_FLOOR ? fl->pid : 0;
	int ready_pipe[2], go_pipe[2];
	struct daemon_stats st0 = { 0 }, st1 = { 0 };
	double cpu0 = NAN, cpu1 = NAN, rq0 = NAN, rq1 = NAN, tmin = INFINITY, tmax = 0;
	size_t nops = 0, nreq = 0;
	unsigned k = cell->nruns;
	int err = 0;

	if (nclients > 256 || k >= MAX_ROUNDS)
		return -EINVAL;
	if (run_buffers_init(&rb, nclients, cfg->iterations) < 0)
		return -ENOMEM;
	if (pipe2(ready_pipe, O_CLOEXEC) < 0 || pipe2(go_pipe, O_CLOEXEC) < 0)
		return -errno;
	if (is_brokered(v))
		wait_pool_warm(d->socket);
	for (unsigned i = 0; i < nclients; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready_pipe[0]);
			close(go_pipe[1]);
			client_main(&r, i, ready_pipe[1], go_pipe[0]);
		}
	}
	close(ready_pipe[1]);
	close(go_pipe[0]);
	for (unsigned i = 0; i < nclients; i++) {
		char c;

		if (read(ready_pipe[0], &c, 1) != 1)
			break;
	}
	if (is_brokered(v))
		get_daemon_stats(d->socket, &st0);
	if (server) {
		cpu0 = proc_cpu_us(server);
		rq0 = proc_runq_us(server);
	}
	close(go_pipe[1]); /* go */
	for (unsigned i = 0; i < nclients; i++)
		waitpid(pids[i], NULL, 0);
	if (server) {
		cpu1 = proc_cpu_us(server);
		rq1 = proc_runq_us(server);
	}
	if (is_brokered(v))
		get_daemon_stats(d->socket, &st1);
	close(ready_pipe[0]);

	/* Gather: compact every client's samples into the front of the arrays. */
	for (unsigned i = 0; i < nclients; i++) {
		struct child_result *c = &rb.sh->child[i];

		if (c->error && !err)
			err = c->error;
		if (c->ops) {
			memmove(rb.ready + nops, rb.ready + (size_t)i * rb.per_client,
				c->ops * sizeof(float));
			memmove(rb.total + nops, rb.total + (size_t)i * rb.per_client,
				c->ops * sizeof(float));
			memmove(rb.req + nreq, rb.req + (size_t)i * rb.per_client * 2,
				c->nreq * sizeof(float));
			memmove(rb.dmn + nreq, rb.dmn + (size_t)i * rb.per_client * 2,
				c->nreq * sizeof(float));
			memmove(rb.cli + nreq, rb.cli + (size_t)i * rb.per_client * 2,
				c->nreq * sizeof(float));
			nops += c->ops;
			nreq += c->nreq;
			if (c->start_us < tmin)
				tmin = c->start_us;
			if (c->end_us > tmax)
				tmax = c->end_us;
		}
	}
	qsort(rb.ready, nops, sizeof(float), cmp_float);
	qsort(rb.total, nops, sizeof(float), cmp_float);
	qsort(rb.req, nreq, sizeof(float), cmp_float);
	qsort(rb.dmn, nreq, sizeof(float), cmp_float);
	qsort(rb.cli, nreq, sizeof(float), cmp_float);
	{
		bool sp = is_brokered(v) && cfg->wait_split;

		cell->runs[S_DMN_P50][k] = sp ? pct(rb.dmn, nreq, 50) : NAN;
		cell->runs[S_DMN_P99][k] = sp ? pct(rb.dmn, nreq, 99) : NAN;
		cell->runs[S_DMN_P999][k] = sp ? pct(rb.dmn, nreq, 99.9) : NAN;
		cell->runs[S_CLI_P50][k] = sp ? pct(rb.cli, nreq, 50) : NAN;
		cell->runs[S_CLI_P99][k] = sp ? pct(rb.cli, nreq, 99) : NAN;
		cell->runs[S_CLI_P999][k] = sp ? pct(rb.cli, nreq, 99.9) : NAN;
	}
	cell->runs[S_READY_P50][k] = pct(rb.ready, nops, 50);
	cell->runs[S_READY_P99][k] = pct(rb.ready, nops, 99);
	cell->runs[S_READY_P999][k] = pct(rb.ready, nops, 99.9);
	cell->runs[S_TOTAL_P50][k] = pct(rb.total, nops, 50);
	cell->runs[S_TOTAL_P99][k] = pct(rb.total, nops, 99);
	cell->runs[S_TOTAL_P999][k] = pct(rb.total, nops, 99.9);
	cell->runs[S_REQ_P50][k] = pct(rb.req, nreq, 50);
	cell->runs[S_REQ_P99][k] = pct(rb.req, nreq, 99);
	cell->runs[S_REQ_P999][k] = pct(rb.req, nreq, 99.9);
	cell->runs[S_REQ_MAX][k] = nreq ? rb.req[nreq - 1] : NAN;
	cell->runs[S_OPS_PER_S][k] = nops && tmax > tmin ? (double)nops / ((tmax - tmin) / 1e6) : NAN;
	cell->runs[S_SERVER_CPU_US_PER_OP][k] = nops && server ? (cpu1 - cpu0) / (double)nops : NAN;
	cell->runs[S_POOL_HIT][k] =
		is_brokered(v) && st1.hits + st1.misses > st0.hits + st0.misses ?
			(double)(st1.hits - st0.hits) /
				(double)(st1.hits + st1.misses - st0.hits - st0.misses) :
			NAN;
	cell->runs[S_OPS][k] = (double)nops;
	cell->runs[S_SERVER_RUNQ_US_PER_REQ][k] = nreq && server ? (rq1 - rq0) / (double)nreq : NAN;
	cell->nruns++;
	if (err && !cell->error)
		cell->error = err;
	run_buffers_finish(&rb);
	return nops ? 0 : (err ? err : -EIO);
}

/* ---- the memory measurement */

struct memory_result {
	unsigned buffers;
	double heap_per_buffer, rss_per_buffer;
	int fds_before, fds_after;
	bool limited_by_nofile;  /* RLIMIT_NOFILE could not be raised */
	int error;
};

static void measure_memory(const struct config *cfg, struct memory_result *m)
{
	char maxb[32], cap[32];
	const char *args[] = { "--max-buffers", maxb, "--capacity", cap, NULL };
	struct rlimit rl = { .rlim_cur = cfg->memory_buffers + 1024,
			     .rlim_max = cfg->memory_buffers + 1024 };
	struct rlimit old;
	struct daemon_proc d;
	struct dmabufd_client *dc = NULL;
	struct daemon_stats s0, s1;
	long long rss0, rss1;
	int err;

	memset(m, 0, sizeof(*m));
	m->buffers = cfg->memory_buffers;
	/* Each live memfd buffer costs the daemon one fd: raise the hard limit. */
	getrlimit(RLIMIT_NOFILE, &old);
	if (old.rlim_max < rl.rlim_max && setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		/* No CAP_SYS_RESOURCE: measure as many as the hard limit allows. */
		if (old.rlim_max < 2048) {
			m->error = -errno;
			return;
		}
		m->buffers = (unsigned)(old.rlim_max - 1024);
		m->limited_by_nofile = true;
		fprintf(stderr, "dmabufd-bench: cannot raise RLIMIT_NOFILE to %llu (%s); "
				"measuring %u live buffers instead\n",
			(unsigned long long)rl.rlim_max, strerror(errno), m->buffers);
	}
	snprintf(maxb, sizeof(maxb), "%u", m->buffers + 16);
	snprintf(cap, sizeof(cap), "%llu", (unsigned long long)(m->buffers + 16) * 4096);
	err = daemon_start(&d, args);
	setrlimit(RLIMIT_NOFILE, &old);
	if (err < 0) {
		m->error = err;
		return;
	}
	err = dmabufd_connect(d.socket, &dc);
	if (err < 0)
		goto out;
	/* Warm the daemon's allocator with one buffer, then measure from there. */
	{
		struct dmabufd_buffer b;

		err = dmabufd_alloc(dc, 4096, 0, DMABUFD_ATTR_CACHED, 0, NULL, &b);
		if (err < 0)
			goto out;
		close(b.fd);
		dmabufd_release(dc, b.id);
	}
	get_daemon_stats(d.socket, &s0);
	rss0 = proc_rss(d.pid);
	m->fds_before = count_fds(d.pid);
	for (unsigned i = 0; i < m->buffers; i++) {
		struct dmabufd_buffer b;

		err = dmabufd_alloc(dc, 4096, 0, DMABUFD_ATTR_CACHED, 0, "bench-memory", &b);
		if (err < 0)
			goto out;
		close(b.fd); /* the daemon keeps its own reference */
	}
	get_daemon_stats(d.socket, &s1);
	rss1 = proc_rss(d.pid);
	m->fds_after = count_fds(d.pid);
	m->heap_per_buffer = ((double)s1.heap - (double)s0.heap) / m->buffers;
	m->rss_per_buffer = ((double)rss1 - (double)rss0) / m->buffers;
out:
	m->error = err;
	dmabufd_disconnect(dc);
	daemon_stop(&d);
	rmdir(d.dir);
}

/* ---- output */

static void fmt_num(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "-");
	else if (v >= 100)
		snprintf(out, n, "%.0f", v);
	else
		snprintf(out, n, "%.2f", v);
}

static void json_num(FILE *f, const char *key, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.3f%s", key, v, comma ? ", " : "");
}

static const char *size_text(uint64_t s, char *buf, size_t n)
{
	if (s % (1 << 20) == 0)
		snprintf(buf, n, "%lluM", (unsigned long long)(s >> 20));
	else if (s % 1024 == 0)
		snprintf(buf, n, "%lluK", (unsigned long long)(s >> 10));
	else
		snprintf(buf, n, "%llu", (unsigned long long)s);
	return buf;
}

static double ratio(const struct cell *a, const struct cell *b, enum stat_id s)
{
	if (!a || !b || isnan(a->med[s]) || isnan(b->med[s]) || b->med[s] == 0)
		return NAN;
	return a->med[s] / b->med[s];
}

static int parse_list_sizes(const char *s, struct config *c)
{
	char *dup = strdup(s), *save = NULL;

	c->nsizes = 0;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (c->nsizes == MAX_SIZES || parse_size(t, &c->sizes[c->nsizes]) < 0 ||
		    c->sizes[c->nsizes] == 0) {
			free(dup);
			return -EINVAL;
		}
		c->nsizes++;
	}
	free(dup);
	return c->nsizes ? 0 : -EINVAL;
}

static int parse_list_clients(const char *s, struct config *c)
{
	char *dup = strdup(s), *save = NULL;

	c->nclients = 0;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int v = atoi(t);

		if (c->nclients == MAX_CLIENT_COUNTS || v < 1 || v > 256) {
			free(dup);
			return -EINVAL;
		}
		c->clients[c->nclients++] = (unsigned)v;
	}
	free(dup);
	return c->nclients ? 0 : -EINVAL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufd-bench [OPTIONS]\n"
		"  --sizes LIST        buffer sizes (default 4K,64K,1M,8M,32M)\n"
		"  --clients LIST      concurrent client processes (default 1,4,16,64)\n"
		"  --iterations N      timed operations per client per run (default 200)\n"
		"  --warmup N          untimed operations per client first (default 5, at most\n"
		"                      a quarter of --max-seconds)\n"
		"  --interval-ms N     pause between a client's operations, in every variant\n"
		"                      (default 0: back to back)\n"
		"  --repeat N          rounds; figures are medians over rounds (default 3)\n"
		"  --max-seconds S     stop each run after S seconds (default 3)\n"
		"  --variants LIST     brokered,direct,floor,brokered-sync (default the first\n"
		"                      three; brokered-sync = brokered with the blocking\n"
		"                      dmabufd_release() instead of dmabufd_release_async())\n"
		"  --direct NAME       memfd (default), dma-heap[:/dev/dma_heap/NAME], udmabuf\n"
		"  --populate          mmap with MAP_POPULATE in direct and floor (brokered\n"
		"                      uses dmabufd_map(); with --brokered-mmap it too)\n"
		"  --brokered-mmap     brokered maps with plain mmap(2), not dmabufd_map()\n"
		"  --pool-budget SIZE  dmabufd --pool-budget (default 512M; 0 = no pool)\n"
		"  --daemon-arg ARG    extra dmabufd argument (repeatable)\n"
		"  --memory N          also measure daemon memory at N live buffers (default 0)\n"
		"  --memory-only       only that (no latency tables)\n"
		"  --wait-split        brokered requests on a raw SO_TIMESTAMPNS connection:\n"
		"                      split each request's wait into daemon and client parts\n"
		"  --server-slice-us N EEVDF slice of dmabufd's and the floor server's main\n"
		"                      threads (sched_setattr sched_runtime; default 0: the\n"
		"                      kernel's)\n"
		"  --server-fifo PRIO  SCHED_FIFO at PRIO for dmabufd's and the floor server's\n"
		"                      main threads (default 0: off)\n"
		"  --server-nice N     nice of dmabufd and the floor server (default -10, as\n"
		"                      a service unit's Nice=; clients run at 0)\n"
		"  --json FILE         write the results as JSON\n");
}

static int parse_args(int argc, char **argv, struct config *c)
{
	enum { OPT_SIZES = 256, OPT_CLIENTS, OPT_ITER, OPT_WARMUP, OPT_REPEAT, OPT_MAXS, OPT_VARIANTS,
	       OPT_DIRECT, OPT_POPULATE, OPT_POOL, OPT_DARG, OPT_MEMORY, OPT_JSON, OPT_HELP, OPT_NICE, OPT_INTERVAL, OPT_BMMAP, OPT_MEMONLY, OPT_SPLIT, OPT_SLICE, OPT_FIFO };
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, OPT_SIZES },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "iterations", required_argument, NULL, OPT_ITER },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "max-seconds", required_argument, NULL, OPT_MAXS },
		{ "variants", required_argument, NULL, OPT_VARIANTS },
		{ "direct", required_argument, NULL, OPT_DIRECT },
		{ "populate", no_argument, NULL, OPT_POPULATE },
		{ "brokered-mmap", no_argument, NULL, OPT_BMMAP },
		{ "pool-budget", required_argument, NULL, OPT_POOL },
		{ "daemon-arg", required_argument, NULL, OPT_DARG },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "memory-only", no_argument, NULL, OPT_MEMONLY },
		{ "wait-split", no_argument, NULL, OPT_SPLIT },
		{ "server-slice-us", required_argument, NULL, OPT_SLICE },
		{ "server-fifo", required_argument, NULL, OPT_FIFO },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "server-nice", required_argument, NULL, OPT_NICE },
		{ "interval-ms", required_argument, NULL, OPT_INTERVAL },
		{ "help", no_argument, NULL, OPT_HELP },
		{},
	};
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case OPT_SIZES:
			if (parse_list_sizes(optarg, c) < 0)
				return -EINVAL;
			break;
		case OPT_CLIENTS:
			if (parse_list_clients(optarg, c) < 0)
				return -EINVAL;
			break;
		case OPT_ITER:
			c->iterations = (unsigned)atoi(optarg);
			if (c->iterations < 1 || c->iterations > 1000000)
				return -EINVAL;
			break;
		case OPT_WARMUP:
			c->warmup = (unsigned)atoi(optarg);
			break;
		case OPT_REPEAT:
			c->repeat = (unsigned)atoi(optarg);
			if (c->repeat < 1 || c->repeat > MAX_ROUNDS)
				return -EINVAL;
			break;
		case OPT_MAXS:
			c->max_seconds = atof(optarg);
			if (!(c->max_seconds > 0))
				return -EINVAL;
			break;
		case OPT_VARIANTS: {
			char *dup = strdup(optarg), *save = NULL;

			if (!dup)
				return -ENOMEM;
			for (int v = 0; v < V_COUNT; v++)
				c->variant_on[v] = false;
			for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int v = 0;

				while (v < V_COUNT && strcmp(t, variant_names[v]) != 0)
					v++;
				if (v == V_COUNT) {
					free(dup);
					return -EINVAL;
				}
				c->variant_on[v] = true;
			}
			free(dup);
			break;
		}
		case OPT_DIRECT: {
			const char *colon = strchr(optarg, ':');
			size_t len = colon ? (size_t)(colon - optarg) : strlen(optarg);

			c->direct = NULL;
			for (size_t i = 0; i < sizeof(direct_table) / sizeof(direct_table[0]); i++)
				if (strlen(direct_table[i].name) == len &&
				    strncmp(direct_table[i].name, optarg, len) == 0)
					c->direct = &direct_table[i];
			if (!c->direct)
				return -EINVAL;
			if (colon)
				heap_path = colon + 1;
			break;
		}
		case OPT_POPULATE:
			c->populate = true;
			break;
		case OPT_BMMAP:
			c->brokered_mmap = true;
			break;
		case OPT_POOL:
			if (parse_size(optarg, &c->pool_budget) < 0)
				return -EINVAL;
			break;
		case OPT_DARG:
			if (c->ndaemon_args == 8)
				return -EINVAL;
			c->daemon_args[c->ndaemon_args++] = optarg;
			break;
		case OPT_MEMORY:
			c->memory_buffers = (unsigned)atoi(optarg);
			break;
		case OPT_FIFO:
			c->server_fifo = atoi(optarg);
			if (c->server_fifo < 0 || c->server_fifo > 99)
				return -EINVAL;
			break;
		case OPT_SLICE:
			c->server_slice_us = (unsigned)atoi(optarg);
			break;
		case OPT_SPLIT:
			c->wait_split = true;
			break;
		case OPT_MEMONLY:
			c->memory_only = true;
			break;
		case OPT_JSON:
			c->json_path = optarg;
			break;
		case OPT_INTERVAL:
			c->interval_us = (unsigned)atoi(optarg) * 1000u;
			break;
		case OPT_NICE:
			c->server_nice = atoi(optarg);
			if (c->server_nice < -20 || c->server_nice > 19)
				return -EINVAL;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	return optind < argc ? -EINVAL : 0;
}

static void machine_json(FILE *f, const struct config *cfg, const char *load0, const char *load1)
{
	struct utsname u;
	char model[128] = "?", line[256];
	FILE *ci = fopen("/proc/cpuinfo", "re");

	uname(&u);
	while (ci && fgets(line, sizeof(line), ci))
		if (sscanf(line, "model name : %127[^\n]", model) == 1)
			break;
	if (ci)
		fclose(ci);
	fprintf(f, "  \"machine\": {\"kernel\": \"%s\", \"cpus\": %ld, \"cpu_model\": \"%s\", "
		   "\"loadavg_start\": \"%s\", \"loadavg_end\": \"%s\"},\n",
		u.release, sysconf(_SC_NPROCESSORS_ONLN), model, load0, load1);
	fprintf(f, "  \"config\": {\"iterations\": %u, \"warmup\": %u, \"repeat\": %u, "
		   "\"max_seconds\": %.1f, \"populate\": %s, \"brokered_map\": \"%s\", \"direct\": \"%s\", "
		   "\"pool_budget\": %llu, \"server_nice\": %d, \"server_slice_us\": %u, \"server_fifo\": %d, "
		   "\"interval_ms\": %u, \"wait_split\": %s},\n",
		cfg->iterations, cfg->warmup, cfg->repeat, cfg->max_seconds,
		cfg->populate ? "true" : "false",
		cfg->brokered_mmap ? (cfg->populate ? "mmap+MAP_POPULATE" : "mmap") : "dmabufd_map",
		cfg->direct->name,
		(unsigned long long)cfg->pool_budget, server_nice_now, cfg->server_slice_us, cfg->server_fifo,
		cfg->interval_us / 1000, cfg->wait_split ? "true" : "false");
}

static void read_loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "re");

	snprintf(buf, n, "?");
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.sizes = { 4096, 65536, 1 << 20, 8 << 20, 32 << 20 },
		.nsizes = 5,
		.clients = { 1, 4, 16, 64 },
		.nclients = 4,
		.iterations = 200,
		.warmup = 5,
		.repeat = 3,
		.max_seconds = 3,
		.variant_on = { true, true, true, false },
		.direct = &direct_table[0],
		.pool_budget = 512ull << 20,
		.server_nice = -10,
	};
	static struct cell cells[MAX_SIZES][MAX_CLIENT_COUNTS][V_COUNT];
	struct memory_result mem = { 0 };
	struct floor_proc fl = { 0 };
	char load0[128], load1[128];
	bool direct_ok;
	FILE *json = NULL;
	int rc = 0;

	if (parse_args(argc, argv, &cfg) < 0 || (cfg.memory_only && !cfg.memory_buffers)) {
		usage(stderr);
		return 2;
	}
	if (cfg.memory_only) {
		cfg.nsizes = 0;
		cfg.nclients = 0;
		for (int v = 0; v < V_COUNT; v++)
			cfg.variant_on[v] = false;
	}
	signal(SIGPIPE, SIG_IGN);
	server_fifo_prio = cfg.server_fifo;
	read_loadavg(load0, sizeof(load0));
	direct_ok = cfg.direct->open() == 0;
	if (dev_fd >= 0)
		close(dev_fd);
	dev_fd = -1;
	if (!direct_ok) {
		fprintf(stderr, "dmabufd-bench: direct primitive %s unavailable (no device); skipping\n",
			cfg.direct->name);
		return 77;
	}
	become_server_nice(cfg.server_nice, true);
	rc = cfg.variant_on[V_FLOOR] ? floor_start(&fl) : 0;
	become_server_nice(cfg.server_nice, false);
	if (rc == 0 && cfg.variant_on[V_FLOOR] && cfg.server_slice_us &&
	    set_server_slice(fl.pid, cfg.server_slice_us) < 0)
		fprintf(stderr, "dmabufd-bench: cannot set the floor server's slice: %s\n",
			strerror(errno));

	if (rc < 0) {
		fprintf(stderr, "dmabufd-bench: cannot start the floor server\n");
		return 1;
	}

	for (unsigned si = 0; si < cfg.nsizes; si++) {
		uint64_t size = cfg.sizes[si];
		unsigned maxc = 0;
		char budget[32], capacity[32], classes[32], maxbuf[32];
		const char *args[32];
		unsigned na = 0;
		struct daemon_proc d = { 0 };

		for (unsigned ci = 0; ci < cfg.nclients; ci++)
			if (cfg.clients[ci] > maxc)
				maxc = cfg.clients[ci];
		/* One daemon per size: its pool keeps that size class warm. */
		snprintf(budget, sizeof(budget), "%llu", (unsigned long long)cfg.pool_budget);
		snprintf(capacity, sizeof(capacity), "%llu",
			 (unsigned long long)(size * maxc * 2 + cfg.pool_budget + (64ull << 20)));
		snprintf(classes, sizeof(classes), "%llu", (unsigned long long)size);
		snprintf(maxbuf, sizeof(maxbuf), "%u", 64u);
		args[na++] = "--capacity";
		args[na++] = capacity;
		args[na++] = "--pool-budget";
		args[na++] = budget;
		if (cfg.pool_budget) {
			args[na++] = "--pool-classes";
			args[na++] = classes;
		}
		args[na++] = "--max-clients";
		args[na++] = "300";
		args[na++] = "--max-buffers";
		args[na++] = maxbuf;
		for (unsigned i = 0; i < cfg.ndaemon_args; i++)
			args[na++] = cfg.daemon_args[i];
		args[na] = NULL;
		if (cfg.variant_on[V_BROKERED] || cfg.variant_on[V_BROKERED_SYNC]) {
			int err;

			become_server_nice(cfg.server_nice, true);
			err = daemon_start(&d, args);
			become_server_nice(cfg.server_nice, false);
			if (err == 0 && cfg.server_slice_us &&
			    set_server_slice(d.pid, cfg.server_slice_us) < 0)
				fprintf(stderr, "dmabufd-bench: cannot set dmabufd's slice: %s\n",
					strerror(errno));


			if (err < 0) {
				fprintf(stderr, "dmabufd-bench: cannot start dmabufd: %s\n", strerror(-err));
				rc = 1;
				break;
			}
		}
		for (unsigned round = 0; round < cfg.repeat; round++)
			for (unsigned ci = 0; ci < cfg.nclients; ci++)
				for (int v = 0; v < V_COUNT; v++) {
					int err;

					if (!cfg.variant_on[v])
						continue;
					err = run_once(&cfg, (enum variant)v, size, cfg.clients[ci], &d, &fl,
						       &cells[si][ci][v]);
					if (err < 0)
						fprintf(stderr, "dmabufd-bench: %s %llu x%u: %s\n",
							variant_names[v], (unsigned long long)size,
							cfg.clients[ci], strerror(-err));
				}
		if (d.pid > 0) {
			daemon_stop(&d);
			rmdir(d.dir);
		}
	}
	if (cfg.variant_on[V_FLOOR])
		floor_stop_proc(&fl);
	if (cfg.memory_buffers)
		measure_memory(&cfg, &mem);
	read_loadavg(load1, sizeof(load1));

	for (unsigned si = 0; si < cfg.nsizes; si++)
		for (unsigned ci = 0; ci < cfg.nclients; ci++)
			for (int v = 0; v < V_COUNT; v++) {
				struct cell *c = &cells[si][ci][v];

				for (int s = 0; s < S_COUNT; s++)
					c->med[s] = median(c->runs[s], c->nruns);
			}

	/* The table. */
	printf("# dmabufd-bench: %s direct primitive, direct/floor %s, brokered %s, pool budget %llu bytes, servers at nice %d%s, "
	       "%u ms between operations, %u rounds (medians), load %s -> %s\n",
	       cfg.direct->name, cfg.populate ? "MAP_POPULATE" : "plain mmap",
	       cfg.brokered_mmap ? (cfg.populate ? "MAP_POPULATE" : "plain mmap") : "dmabufd_map()",
	       (unsigned long long)cfg.pool_budget, server_nice_now,
	       cfg.server_fifo ? " SCHED_FIFO" : "", cfg.interval_us / 1000,
	       cfg.repeat, load0, load1);
	printf("%-5s %3s | %9s %9s %9s | %9s %9s %9s | %8s %8s %8s | %9s %9s | %7s %7s | %6s %6s | %5s %7s | %6s %6s\n",
	       "size", "cl", "brk.rdy50", "dir.rdy50", "flr.rdy50", "brk.tot50", "dir.tot50",
	       "flr.tot50", "brk.p99", "brk.r999", "brk.rmax", "brk.op/s", "dir.op/s", "b/d",
	       "b/f", "b/d.t", "b/f.t", "hit", "cpu/op", "b/d.op", "f/d.op");
	for (unsigned si = 0; si < cfg.nsizes; si++)
		for (unsigned ci = 0; ci < cfg.nclients; ci++) {
			struct cell *b = &cells[si][ci][V_BROKERED], *dd = &cells[si][ci][V_DIRECT],
				    *f = &cells[si][ci][V_FLOOR];
			double vals[] = {
				b->med[S_READY_P50], dd->med[S_READY_P50], f->med[S_READY_P50],
				b->med[S_TOTAL_P50], dd->med[S_TOTAL_P50], f->med[S_TOTAL_P50],
				b->med[S_READY_P99], b->med[S_REQ_P999], b->med[S_REQ_MAX],
				b->med[S_OPS_PER_S], dd->med[S_OPS_PER_S],
				ratio(b, dd, S_READY_P50), ratio(b, f, S_READY_P50),
				ratio(b, dd, S_TOTAL_P50), ratio(b, f, S_TOTAL_P50),
				b->med[S_POOL_HIT], b->med[S_SERVER_CPU_US_PER_OP],
				ratio(b, dd, S_OPS_PER_S), ratio(f, dd, S_OPS_PER_S),
			};
			char t[19][16], sz[24];

			for (int i = 0; i < 19; i++)
				fmt_num(t[i], sizeof(t[i]), vals[i]);
			printf("%-5s %3u | %9s %9s %9s | %9s %9s %9s | %8s %8s %8s | %9s %9s | %7s %7s | %6s %6s | %5s %7s | %6s %6s\n",
			       size_text(cfg.sizes[si], sz, sizeof(sz)), cfg.clients[ci], t[0], t[1],
			       t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12],
			       t[13], t[14], t[15], t[16], t[17], t[18]);
		}
	if (cfg.variant_on[V_BROKERED_SYNC]) {
		printf("# release: brokered (dmabufd_release_async(), as above) vs brokered-sync (dmabufd_release(), "
		       "waits for the reply), same rounds; a.../s... = async/sync; r999 = p99.9 of the requests "
		       "waited for (µs); op/s ratios to direct\n");
		printf("%-5s %3s | %9s %9s | %9s %9s | %8s %8s | %9s %9s %9s | %6s %6s | %7s %7s | %5s %5s\n",
		       "size", "cl", "a.rdy50", "s.rdy50", "a.tot50", "s.tot50", "a.r999", "s.r999",
		       "a.op/s", "s.op/s", "dir.op/s", "a/d.op", "s/d.op", "a.cpu", "s.cpu", "a.hit",
		       "s.hit");
		for (unsigned si = 0; si < cfg.nsizes; si++)
			for (unsigned ci = 0; ci < cfg.nclients; ci++) {
				struct cell *a = &cells[si][ci][V_BROKERED],
					    *sy = &cells[si][ci][V_BROKERED_SYNC],
					    *dd = &cells[si][ci][V_DIRECT];
				double vals[] = { a->med[S_READY_P50], sy->med[S_READY_P50],
						  a->med[S_TOTAL_P50], sy->med[S_TOTAL_P50],
						  a->med[S_REQ_P999], sy->med[S_REQ_P999],
						  a->med[S_OPS_PER_S], sy->med[S_OPS_PER_S],
						  dd->med[S_OPS_PER_S], ratio(a, dd, S_OPS_PER_S),
						  ratio(sy, dd, S_OPS_PER_S),
						  a->med[S_SERVER_CPU_US_PER_OP],
						  sy->med[S_SERVER_CPU_US_PER_OP], a->med[S_POOL_HIT],
						  sy->med[S_POOL_HIT] };
				char t[15][16], sz[24];

				for (int i = 0; i < 15; i++)
					fmt_num(t[i], sizeof(t[i]), vals[i]);
				printf("%-5s %3u | %9s %9s | %9s %9s | %8s %8s | %9s %9s %9s | %6s %6s | %7s %7s | %5s %5s\n",
				       size_text(cfg.sizes[si], sz, sizeof(sz)), cfg.clients[ci], t[0],
				       t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11],
				       t[12], t[13], t[14]);
			}
	}
	if (cfg.wait_split) {
		printf("# wait split (brokered requests, raw connection, SO_TIMESTAMPNS): daemon = "
		       "send -> reply queued, client = reply queued -> received; request = both; dmn.rq/flr.rq = the daemon's/floor server's event loop waiting for a CPU per request (µs)\n");
		printf("%-5s %3s | %9s %9s %9s | %9s %9s %9s | %9s %9s %9s | %8s %8s\n", "size", "cl",
		       "req.p50", "req.p99", "req.p999", "dmn.p50", "dmn.p99", "dmn.p999", "cli.p50",
		       "cli.p99", "cli.p999", "dmn.rq", "flr.rq");
		for (unsigned si = 0; si < cfg.nsizes; si++)
			for (unsigned ci = 0; ci < cfg.nclients; ci++) {
				struct cell *b = &cells[si][ci][V_BROKERED], *f = &cells[si][ci][V_FLOOR];
				double vals[] = { b->med[S_REQ_P50], b->med[S_REQ_P99], b->med[S_REQ_P999],
						  b->med[S_DMN_P50], b->med[S_DMN_P99], b->med[S_DMN_P999],
						  b->med[S_CLI_P50], b->med[S_CLI_P99], b->med[S_CLI_P999],
						  b->med[S_SERVER_RUNQ_US_PER_REQ],
						  f->med[S_SERVER_RUNQ_US_PER_REQ] };
				char t[11][16], sz[24];

				for (int i = 0; i < 11; i++)
					fmt_num(t[i], sizeof(t[i]), vals[i]);
				printf("%-5s %3u | %9s %9s %9s | %9s %9s %9s | %9s %9s %9s | %8s %8s\n",
				       size_text(cfg.sizes[si], sz, sizeof(sz)), cfg.clients[ci], t[0], t[1],
				       t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10]);
			}
	}
	if (cfg.memory_buffers)
		printf("# memory: %u live 4K buffers: %.1f heap bytes/buffer (mallinfo2 uordblks+hblkhd delta), "
		       "%.1f RSS bytes/buffer (VmRSS delta), daemon fds %d -> %d%s%s\n",
		       mem.buffers, mem.heap_per_buffer, mem.rss_per_buffer, mem.fds_before,
		       mem.fds_after, mem.error ? ", error: " : "",
		       mem.error ? strerror(-mem.error) : "");

	if (cfg.json_path) {
		json = fopen(cfg.json_path, "we");
		if (!json) {
			perror(cfg.json_path);
			return 1;
		}
		fprintf(json, "{\n");
		machine_json(json, &cfg, load0, load1);
		fprintf(json, "  \"results\": [\n");
		for (unsigned si = 0; si < cfg.nsizes; si++)
			for (unsigned ci = 0; ci < cfg.nclients; ci++)
				for (int v = 0; v < V_COUNT; v++) {
					struct cell *c = &cells[si][ci][v];
					/* brokered-sync only when asked for (older readers
					 * expect three variants per cell). */
					int nv = cfg.variant_on[V_BROKERED_SYNC] ? V_COUNT : V_BROKERED_SYNC;
					bool last = si == cfg.nsizes - 1 && ci == cfg.nclients - 1 &&
						    v == nv - 1;

					if (v >= nv)
						continue;

					fprintf(json, "    {\"size\": %llu, \"clients\": %u, \"variant\": \"%s\", "
						      "\"rounds\": %u, \"error\": %d, ",
						(unsigned long long)cfg.sizes[si], cfg.clients[ci],
						variant_names[v], c->nruns, c->error);
					for (int s = 0; s < S_COUNT; s++)
						json_num(json, stat_names[s], c->med[s], s < S_COUNT - 1);
					fprintf(json, "}%s\n", last ? "" : ",");
				}
		fprintf(json, "  ],\n  \"ratios\": [\n");
		for (unsigned si = 0; si < cfg.nsizes; si++)
			for (unsigned ci = 0; ci < cfg.nclients; ci++) {
				struct cell *b = &cells[si][ci][V_BROKERED], *dd = &cells[si][ci][V_DIRECT],
					    *f = &cells[si][ci][V_FLOOR];
				bool last = si == cfg.nsizes - 1 && ci == cfg.nclients - 1;

				fprintf(json, "    {\"size\": %llu, \"clients\": %u, ",
					(unsigned long long)cfg.sizes[si], cfg.clients[ci]);
				json_num(json, "brokered_direct_ready_p50", ratio(b, dd, S_READY_P50), true);
				json_num(json, "brokered_floor_ready_p50", ratio(b, f, S_READY_P50), true);
				json_num(json, "brokered_direct_total_p50", ratio(b, dd, S_TOTAL_P50), true);
				json_num(json, "brokered_floor_total_p50", ratio(b, f, S_TOTAL_P50), true);
				json_num(json, "brokered_direct_ops_per_s", ratio(b, dd, S_OPS_PER_S),
					 cfg.variant_on[V_BROKERED_SYNC]);
				if (cfg.variant_on[V_BROKERED_SYNC])
					json_num(json, "brokered_sync_direct_ops_per_s",
						 ratio(&cells[si][ci][V_BROKERED_SYNC], dd, S_OPS_PER_S),
						 false);
				fprintf(json, "}%s\n", last ? "" : ",");
			}
		fprintf(json, "  ],\n  \"memory\": {\"buffers\": %u, ", mem.buffers);
		json_num(json, "heap_bytes_per_buffer", cfg.memory_buffers ? mem.heap_per_buffer : NAN,
			 true);
		json_num(json, "rss_bytes_per_buffer", cfg.memory_buffers ? mem.rss_per_buffer : NAN,
			 true);
		fprintf(json, "\"daemon_fds_before\": %d, \"daemon_fds_after\": %d, "
			      "\"limited_by_nofile\": %s, \"error\": %d}\n}\n",
			mem.fds_before, mem.fds_after, mem.limited_by_nofile ? "true" : "false",
			mem.error);
		fclose(json);
	}
	return rc;
}
