/* SPDX-License-Identifier: MIT */
/*
 * Fault injection on the allocation path of the real daemon, through the
 * faultinject.so LD_PRELOAD shim (tests/fault/faultinject.c).
 *
 * 1. Counting run: the shim is armed (SIGUSR1) around exactly one Alloc of
 *    a connected client and logs every interposed call the daemon makes
 *    while serving it (malloc/calloc/realloc, memfd_create, ftruncate,
 *    fallocate, fcntl, ioctl, mmap, dup, dup3, event_new), with the calling
 *    object and symbol and, for fcntl and ioctl, the command/request number
 *    (the log's fifth column), so the test knows an F_ADD_SEALS from an
 *    F_DUPFD_CLOEXEC and a UDMABUF_CREATE from a DMA_BUF_SET_NAME.
 * 2. For each of those calls in turn, a fresh daemon fails exactly that
 *    call (DMABUFD_FAULT_NTH=k), and the test checks:
 *      - the shim reports it injected that very call, same function,
 *        caller and command/request (the sequence is deterministic);
 *      - the Alloc gets an error reply with the expected errno and a reason,
 *        and no fd;
 *      - Stats: used == 0, buffers == 0, allocs_failed == 1;
 *      - the daemon still serves a well-behaved client (alloc, map, write,
 *        release);
 *      - the daemon's fd count is back to its baseline;
 *      - the daemon exits 0 on SIGTERM.
 * Scenarios: the first buffer of a client; its 65th (the registry's hash
 * table grows); an AllocFramebuffer (layout computed, then the same path);
 * an Alloc carrying a 20,000-byte unknown field (a newer client's), whose
 * decoding does not fit the daemon's 16 KiB request arena (daemon/arena.c)
 * and takes a malloc'ed block: the one allocation of the decoding step.
 * Expected errno per failed call:
 *   malloc from arena_alloc (decoding the request): DECODE_OOM_ERRNO,
 *     below;
 *   any other allocator call: -ENOMEM;
 *   ioctl(DMA_BUF_SET_NAME): success (naming is best effort,
 *     dmabuf_set_name()'s result is ignored by the udmabuf and dma-heap
 *     backends);
 *   memfd_create, ftruncate, fallocate, fcntl (F_ADD_SEALS,
 *   F_DUPFD_CLOEXEC), other ioctls, mmap, dup: the injected errno, passed
 *   through.
 *
 * The backend is memfd unless DMABUFD_TEST_BACKEND names another; the
 * counting run then checks that the backend's own calls were seen (and so
 * are failed in turn):
 *   memfd:    memfd_create, fcntl(F_ADD_SEALS);
 *   udmabuf:  fallocate (the PUNCH_HOLE before reuse), ioctl(UDMABUF_CREATE);
 *   dma-heap: ioctl(DMA_HEAP_IOCTL_ALLOC);
 *   kmod:     ioctl(DMABUFD_REGION_IOC_EXPORT).
 * CTest runs memfd (test_fault_alloc) and udmabuf / dma-heap
 * (test_fault_alloc_udmabuf, test_fault_alloc_dmaheap), which exit 77 when
 * /dev/udmabuf or /dev/dma_heap/system cannot be opened; the vm-heaps VM
 * test (tests/vm/heaps-integration.sh) runs it on kmod, dma-heap, udmabuf
 * and memfd on Debian's 6.12 kernel. On the memfd backend no ioctl,
 * fallocate or mmap is on the Alloc path.
 * The shim replaces malloc, which AddressSanitizer also does: under ASan
 * the test exits 77 (skipped).
 *
 * Run elsewhere than the build tree (the VM, tests/vm/heaps-integration.sh):
 *   DMABUFD_FAULTINJECT_SO=PATH  the shim to preload (default: the one
 *                                built, FAULTINJECT_SO); it must exist, a
 *                                missing shim is a failure, not a skip;
 *   DMABUFD_TEST_DAEMON=PATH     the daemon (harness.c), also the binary
 *                                whose hidden callers addr2line resolves;
 *                                addr2line must be on PATH (a failure
 *                                otherwise: the expected replies depend on
 *                                the caller's name).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include "dmabufd/dmabufd.h"
#include "harness.h"

#ifndef FAULTINJECT_SO
#error "FAULTINJECT_SO must name the shim"
#endif

#define MAX_POINTS 128
#define ALLOC_SIZE 65536

struct call {
	char func[32];
	char obj[128];
	char sym[128];
	char caller[128];   /* the calling function, resolved */
	char detail[24];    /* fcntl command / ioctl request "0x<hex>", else "-" */
};

/* The ioctl type (magic) of the kmod's requests (include/uapi/dmabufd-region.h). */
#define KMOD_IOC_MAGIC 0xDB

/* The command/request of an fcntl/ioctl call, or 0 when it has none. */
static unsigned long call_nr(const struct call *c)
{
	return c->detail[0] == '0' ? strtoul(c->detail, NULL, 16) : 0;
}

static bool is_ioctl(const struct call *c, unsigned long request)
{
	return strcmp(c->func, "ioctl") == 0 && call_nr(c) == request;
}

/* A readable name for the log (the request numbers the backends use). */
static const char *nr_name(const struct call *c)
{
	unsigned long nr = call_nr(c);

	if (strcmp(c->func, "fcntl") == 0)
		return nr == F_ADD_SEALS       ? "F_ADD_SEALS"
		       : nr == F_DUPFD_CLOEXEC ? "F_DUPFD_CLOEXEC"
		       : nr == F_GET_SEALS     ? "F_GET_SEALS"
					       : c->detail;
	if (strcmp(c->func, "ioctl") == 0)
		return nr == DMA_BUF_SET_NAME        ? "DMA_BUF_SET_NAME"
		       : nr == UDMABUF_CREATE        ? "UDMABUF_CREATE"
		       : nr == DMA_HEAP_IOCTL_ALLOC  ? "DMA_HEAP_IOCTL_ALLOC"
		       : _IOC_TYPE(nr) == KMOD_IOC_MAGIC ? "DMABUFD_REGION_IOC_*"
						     : c->detail;
	return "";
}

/*
 * A scenario: the client holds @prealloc buffers of PREALLOC_SIZE bytes
 * (allocated unarmed) before the armed Alloc, so that different paths run:
 * with 64 the registry's hash table grows during the Alloc.
 */
struct scenario {
	const char *name;
	unsigned prealloc;
	bool framebuffer;   /* the armed request is AllocFramebuffer */
	size_t unknown_bytes; /* the armed Alloc carries an unknown field this long */
	struct call calls[MAX_POINTS];
	unsigned ncalls;
};

#define PREALLOC_SIZE 4096

static struct scenario first_buffer = { .name = "first buffer", .prealloc = 0 };
static struct scenario table_grows = { .name = "registry table grows", .prealloc = 64 };
static struct scenario framebuffer = { .name = "framebuffer", .framebuffer = true };
static struct scenario large_request = { .name = "large request", .unknown_bytes = 20000 };

/*
 * The reply to an allocation failure while decoding a request: protobuf-c
 * returns NULL both for malformed input and for a failed allocation;
 * client_handle_datagram() (daemon/requests.c) asks arena_failed() which,
 * and answers -ENOMEM (not a protocol error of the client) for the latter.
 */
#define DECODE_OOM_ERRNO (-ENOMEM)

/* Appends varint @v at @p; returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/*
 * Sends an Alloc of ALLOC_SIZE bytes followed by field 4000 (length
 * delimited, @extra bytes), which the daemon does not know: protobuf-c
 * keeps a copy of it in the decoded message. Returns the reply or NULL.
 */
static Dmabufd__Reply *alloc_with_unknown_field(int sock, size_t extra, int *ret_fd)
{
	static uint8_t buf[65536]; /* DMABUFD_MAX_MESSAGE */
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	size_t len;

	a.size = ALLOC_SIZE;
	a.attribute = DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED;
	a.label = "fault";
	req.id = 2;
	req.body_case = DMABUFD__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	len = dmabufd__request__pack(&req, buf);
	assert_true(len + 16 + extra <= sizeof(buf));
	len += put_varint(buf + len, (4000u << 3) | 2);
	len += put_varint(buf + len, extra);
	memset(buf + len, 0xa5, extra);
	len += extra;
	if (send(sock, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return NULL;
	return raw_recv(sock, 5000, ret_fd);
}
static char tmpdir[64];

/* The backend under test: DMABUFD_TEST_BACKEND, memfd by default. */
static const char *test_backend(void)
{
	const char *b = getenv("DMABUFD_TEST_BACKEND");

	return b && b[0] ? b : "memfd";
}

/* The shim to preload: $DMABUFD_FAULTINJECT_SO, else the one built. */
static const char *shim_path(void)
{
	const char *so = getenv("DMABUFD_FAULTINJECT_SO");

	return so && so[0] ? so : FAULTINJECT_SO;
}

/* The daemon binary: $DMABUFD_TEST_DAEMON (as harness.c), else the one built. */
static const char *daemon_path(void)
{
	const char *bin = getenv("DMABUFD_TEST_DAEMON");

	return bin && bin[0] ? bin : DMABUFD_BIN;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int start_daemon(struct daemon_proc *d, const char *log, unsigned nth, const char *report)
{
	/* DMABUFD_TEST_BACKEND (e.g. "kmod" in the VM) selects the backend. */
	const char *backend = getenv("DMABUFD_TEST_BACKEND");
	const char *args[] = { "--capacity", "16M", NULL, NULL, NULL };
	char buf[32];

	if (backend && backend[0]) {
		args[2] = "--backend";
		args[3] = backend;
	}

	setenv("LD_PRELOAD", shim_path(), 1);
	unsetenv("DMABUFD_TEST_WRAPPER");
	if (log)
		setenv("DMABUFD_FAULT_LOG", log, 1);
	else
		unsetenv("DMABUFD_FAULT_LOG");
	snprintf(buf, sizeof(buf), "%u", nth);
	setenv("DMABUFD_FAULT_NTH", buf, 1);
	if (report)
		setenv("DMABUFD_FAULT_REPORT", report, 1);
	else
		unsetenv("DMABUFD_FAULT_REPORT");
	int err = daemon_start(d, args);
	unsetenv("LD_PRELOAD");
	return err;
}

/* The name of the function at @offset in @obj ("+0x..."), via addr2line. */
static void resolve_caller(struct call *c)
{
	char cmd[512];
	const char *bin = daemon_path(), *base = strrchr(bin, '/');
	FILE *p;

	memcpy(c->caller, c->sym, sizeof(c->caller));
	if (c->sym[0] != '+' || strcmp(c->obj, base ? base + 1 : bin) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "addr2line -f -e '%s' %s 2>/dev/null", bin, c->sym + 1);
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(c->caller, sizeof(c->caller), p))
		c->caller[strcspn(c->caller, "\n")] = '\0';
	else
		memcpy(c->caller, c->sym, sizeof(c->caller));
	pclose(p);
}

/* Connects, says Hello and allocates @n small buffers (fds closed). */
static int connect_prealloc(const char *socket, unsigned n)
{
	int sock = raw_connect_hello(socket);

	assert_true(sock >= 0);
	for (unsigned i = 0; i < n; i++) {
		int fd = -1;
		Dmabufd__Reply *r = raw_alloc(sock, 100 + i, PREALLOC_SIZE, DMABUFD_ATTR_CACHED,
					      0, "pre", &fd);

		assert_non_null(r);
		assert_int_equal(r->error, 0);
		assert_true(fd >= 0);
		close(fd);
		dmabufd__reply__free_unpacked(r, NULL);
	}
	return sock;
}

/*
 * Sends one Alloc (or a 64x64 XRGB8888 AllocFramebuffer) with the shim
 * armed. Returns the reply (or NULL).
 */
static Dmabufd__Reply *armed_alloc(struct daemon_proc *d, const struct scenario *sc, int sock,
				   int *ret_fd)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__AllocFramebuffer fb = DMABUFD__ALLOC_FRAMEBUFFER__INIT;
	Dmabufd__Reply *r = NULL;

	assert_int_equal(kill(d->pid, SIGUSR1), 0);
	if (sc->framebuffer) {
		fb.width = 64;
		fb.height = 64;
		fb.fourcc = 0x34325258; /* XR24: DRM_FORMAT_XRGB8888 */
		fb.usage = 1u << 1;     /* DMABUFD_USAGE_RENDER */
		fb.label = "fault";
		req.id = 2;
		req.body_case = DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER;
		req.alloc_framebuffer = &fb;
		if (raw_send(sock, &req, NULL, 0) == 0)
			r = raw_recv(sock, 5000, ret_fd);
	} else if (sc->unknown_bytes) {
		r = alloc_with_unknown_field(sock, sc->unknown_bytes, ret_fd);
	} else {
		r = raw_alloc(sock, 2, ALLOC_SIZE, DMABUFD_ATTR_CACHED, 0, "fault", ret_fd);
	}
	kill(d->pid, SIGUSR2);
	return r;
}

/* The size the daemon reports for a successful armed request. */
static uint64_t reply_size(const Dmabufd__Reply *r)
{
	if (r->body_case == DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER)
		return r->alloc_framebuffer->size;
	return r->body_case == DMABUFD__REPLY__BODY_ALLOC ? r->alloc->size : 0;
}

static int wait_fds(pid_t pid, int want)
{
	int n = -1;

	for (int i = 0; i < 100; i++) {
		n = count_fds(pid);
		if (n == want)
			break;
		sleep_ms(20);
	}
	return n;
}

static bool serves(const char *socket)
{
	int sock = raw_connect_hello(socket), fd = -1;
	Dmabufd__Reply *r;
	bool ok = false;
	char *p;

	if (sock < 0)
		return false;
	r = raw_alloc(sock, 2, 8192, DMABUFD_ATTR_CACHED, 0, "probe", &fd);
	if (r && r->error == 0 && fd >= 0) {
		uint64_t id = r->alloc->buffer_id;

		p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			p[8191] = 7;
			ok = p[8191] == 7;
			munmap(p, 8192);
		}
		dmabufd__reply__free_unpacked(r, NULL);
		r = raw_release(sock, 3, id);
		ok = ok && r && r->error == 0;
	}
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);
	if (fd >= 0)
		close(fd);
	close(sock);
	return ok;
}

static int setup(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	print_message("skipped: the shim's malloc cannot coexist with AddressSanitizer's\n");
	exit(77);
#endif
	/* The backend's device must be there (and usable) for its variant. */
	static const struct {
		const char *backend, *dev;
	} devs[] = {
		{ "udmabuf", "/dev/udmabuf" },
		{ "dma-heap", "/dev/dma_heap/system" },
		{ "kmod", "/dev/dmabufd-region" },
	};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		int fd;

		if (strcmp(test_backend(), devs[i].backend) != 0)
			continue;
		fd = open(devs[i].dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			print_message("skipped: backend %s needs %s (%s)\n", devs[i].backend,
				      devs[i].dev, strerror(errno));
			exit(77);
		}
		close(fd);
	}
	/* Both are provided wherever the test runs: missing is a failure. */
	if (access(shim_path(), R_OK) != 0) {
		print_message("the shim %s is missing (%s); set DMABUFD_FAULTINJECT_SO\n",
			      shim_path(), strerror(errno));
		return -1;
	}
	if (system("addr2line --version >/dev/null 2>&1") != 0) {
		print_message("addr2line is not on PATH: hidden callers cannot be named\n");
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dmabufd-fault-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/calls", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/report", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/* Step 1: record what the daemon calls while serving one Alloc. */
static void enumerate(struct scenario *sc)
{
	struct daemon_proc d;
	char log[128], line[512];
	Dmabufd__Reply *r;
	const char *backend = test_backend();
	bool seen_memfd = false, seen_seal = false, seen_alloc = false, seen_punch = false;
	bool seen_udmabuf = false, seen_heap = false, seen_kmod = false;
	int sock, fd = -1;
	FILE *f;

	snprintf(log, sizeof(log), "%s/calls", tmpdir);
	unlink(log);
	assert_int_equal(start_daemon(&d, log, 0, NULL), 0);
	sock = connect_prealloc(d.socket, sc->prealloc);
	r = armed_alloc(&d, sc, sock, &fd);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	assert_true(fd >= 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(fd);
	close(sock);
	assert_int_equal(daemon_stop(&d), 0);

	f = fopen(log, "re");
	assert_non_null(f);
	sc->ncalls = 0;
	while (fgets(line, sizeof(line), f) && sc->ncalls < MAX_POINTS) {
		struct call *c = &sc->calls[sc->ncalls];
		unsigned long n;

		/* "<n> <function> <object> <symbol> <detail>" (faultinject.c). */
		if (sscanf(line, "%lu %31s %127s %127s %23s", &n, c->func, c->obj, c->sym,
			   c->detail) != 5) {
			print_message("unparsable log line: %s", line);
			fail();
		}
		assert_int_equal(n, sc->ncalls + 1);
		/* Only fcntl and ioctl carry a command/request. */
		if (strcmp(c->func, "fcntl") == 0 || strcmp(c->func, "ioctl") == 0)
			assert_true(strncmp(c->detail, "0x", 2) == 0);
		else
			assert_string_equal(c->detail, "-");
		resolve_caller(c);
		seen_memfd |= strcmp(c->func, "memfd_create") == 0;
		seen_seal |= strcmp(c->func, "fcntl") == 0 && call_nr(c) == F_ADD_SEALS;
		seen_alloc |= strstr(c->func, "alloc") != NULL && strcmp(c->func, "fallocate") != 0;
		seen_punch |= strcmp(c->func, "fallocate") == 0;
		seen_udmabuf |= is_ioctl(c, UDMABUF_CREATE);
		seen_heap |= is_ioctl(c, DMA_HEAP_IOCTL_ALLOC);
		seen_kmod |= strcmp(c->func, "ioctl") == 0 && _IOC_TYPE(call_nr(c)) == KMOD_IOC_MAGIC;
		print_message("%s: failure point %2u: %-12s %-20s from %s (%s)\n", sc->name,
			      sc->ncalls + 1, c->func, nr_name(c), c->obj, c->caller);
		sc->ncalls++;
	}
	fclose(f);
	assert_true(seen_alloc);
	if (strcmp(backend, "memfd") == 0) {
		/*
		 * At least the buffer record (calloc), memfd_create, ftruncate
		 * and the seals; the region's node comes from a slab that may
		 * already have room (no malloc then), the request from the arena.
		 */
		assert_true(sc->ncalls >= 4);
		assert_true(seen_memfd);
		assert_true(seen_seal);
	} else if (strcmp(backend, "udmabuf") == 0) {
		assert_true(seen_punch);
		assert_true(seen_udmabuf);
	} else if (strcmp(backend, "dma-heap") == 0) {
		assert_true(seen_heap);
	} else if (strcmp(backend, "kmod") == 0) {
		assert_true(seen_kmod);
	}
}

static bool is_allocator(const char *func)
{
	return strcmp(func, "malloc") == 0 || strcmp(func, "calloc") == 0 ||
	       strcmp(func, "realloc") == 0;
}

/* An allocation made while decoding the request (before any handler). */
static bool is_decode(const struct call *c)
{
	return is_allocator(c->func) &&
	       (strstr(c->obj, "protobuf-c") || strcmp(c->caller, "arena_alloc") == 0);
}

/*
 * The reply the failed call must produce: 0 when the daemon degrades
 * gracefully (a failed registry_grow() only costs lookup speed),
 * DECODE_OOM_ERRNO when decoding the request fails, -ENOMEM for other
 * allocations, the injected errno for system calls.
 */
static int expected_error(const struct call *c, int injected)
{
	/* Naming the dma-buf is best effort (dmabuf_set_name(), daemon/probe.c). */
	if (is_ioctl(c, DMA_BUF_SET_NAME))
		return 0;
	if (is_allocator(c->func)) {
		if (is_decode(c))
			return DECODE_OOM_ERRNO;
		if (strcmp(c->caller, "registry_grow") == 0)
			return 0;
		return -ENOMEM;
	}
	return -injected;
}

/* Step 2: fail each recorded call in turn. */
static void each_failure_point(struct scenario *sc)
{
	unsigned failures = 0;

	assert_true(sc->ncalls > 0);
	for (unsigned k = 1; k <= sc->ncalls; k++) {
		const struct call *c = &sc->calls[k - 1];
		struct daemon_proc d;
		char report[128], func[32] = "", obj[128] = "", sym[128] = "", detail[24] = "";
		Dmabufd__Reply *r;
		int sock, checker, fd = -1, baseline, injected = 0, want, fds, status;
		uint64_t want_used;
		uint32_t want_buffers = sc->prealloc;
		uint64_t want_failed;
		bool ok = true;
		FILE *f;

		snprintf(report, sizeof(report), "%s/report", tmpdir);
		unlink(report);
		assert_int_equal(start_daemon(&d, NULL, k, report), 0);
		/* Baseline with an idle checker connected as the only client. */
		checker = raw_connect_alone(d.socket, 5000);
		assert_true(checker >= 0);
		baseline = count_fds(d.pid);
		sock = connect_prealloc(d.socket, sc->prealloc);
		/* What the preallocated buffers use (rounded to the backend's page). */
		r = raw_stats(sock, 4);
		assert_non_null(r);
		assert_int_equal(r->body_case, DMABUFD__REPLY__BODY_STATS);
		assert_int_equal(r->stats->buffers, sc->prealloc);
		assert_true(r->stats->used >= (uint64_t)sc->prealloc * PREALLOC_SIZE);
		want_used = r->stats->used;
		dmabufd__reply__free_unpacked(r, NULL);
		r = armed_alloc(&d, sc, sock, &fd);

		f = fopen(report, "re");
		if (!f ||
		    fscanf(f, "%31s %d %127s %127s %23s", func, &injected, obj, sym, detail) != 5) {
			print_message("point %u (%s): the shim did not inject it\n", k, c->func);
			ok = false;
		} else if (strcmp(func, c->func) || strcmp(obj, c->obj) || strcmp(sym, c->sym) ||
			   strcmp(detail, c->detail)) {
			print_message("point %u: injected %s %s from %s %s, recorded %s %s from %s %s\n",
				      k, func, detail, obj, sym, c->func, c->detail, c->obj, c->sym);
			ok = false;
		}
		if (f)
			fclose(f);

		want = expected_error(c, injected);
		/* Refused before handle_alloc() (decoding): not an alloc failure. */
		want_failed = want == 0 || is_decode(c) ? 0 : 1;
		if (!r) {
			print_message("point %u (%s from %s %s): no reply\n", k, c->func, c->obj,
				      c->caller);
			ok = false;
		} else if (r->error != want || (want && (!r->reason || !r->reason[0] || fd >= 0)) ||
			   (!want && fd < 0)) {
			print_message("point %u (%s from %s %s): error %d \"%s\" fd %d, want %d\n", k,
				      c->func, c->obj, c->caller, r->error,
				      r->reason ? r->reason : "", fd, want);
			ok = false;
		}
		if (r && !r->error && fd >= 0) {
			want_used += reply_size(r);
			want_buffers++;
		}
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		if (fd >= 0)
			close(fd);

		r = raw_stats(sock, 5);
		if (!r || r->error || r->body_case != DMABUFD__REPLY__BODY_STATS ||
		    r->stats->used != want_used || r->stats->buffers != want_buffers ||
		    r->stats->allocs_failed != want_failed) {
			print_message("point %u (%s): Stats used %llu buffers %u allocs_failed %llu, "
				      "want %llu %u %llu\n", k, c->func,
				      r && r->stats ? (unsigned long long)r->stats->used : 0ull,
				      r && r->stats ? r->stats->buffers : 0u,
				      r && r->stats ? (unsigned long long)r->stats->allocs_failed : 0ull,
				      (unsigned long long)want_used, want_buffers,
				      (unsigned long long)want_failed);
			ok = false;
		}
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		close(sock); /* the daemon releases every buffer the client held */

		if (!serves(d.socket)) {
			print_message("point %u (%s): the daemon no longer serves\n", k, c->func);
			ok = false;
		}
		/* Compare in the same state: the checker the only client again. */
		close(checker);
		checker = raw_connect_alone(d.socket, 5000);
		if (checker < 0) {
			print_message("point %u (%s): clients stayed connected\n", k, c->func);
			ok = false;
		}
		fds = wait_fds(d.pid, baseline);
		if (checker >= 0)
			close(checker);
		if (fds != baseline) {
			print_message("point %u (%s): daemon fds %d, baseline %d\n", k, c->func, fds,
				      baseline);
			ok = false;
		}
		status = daemon_stop(&d);
		if (status != 0) {
			print_message("point %u (%s): daemon exit status %d\n", k, c->func, status);
			ok = false;
		}
		print_message("%s: point %2u: %-12s %-16s from %-18s %-26s -> reply %d (%s)%s\n",
			      sc->name, k, c->func, nr_name(c), c->obj, c->caller, want,
			      want ? strerror(-want) : "success", ok ? "" : "  FAILED");
		failures += !ok;
	}
	assert_int_equal(failures, 0);
}

static void test_first_buffer(void **state)
{
	enumerate(&first_buffer);
	each_failure_point(&first_buffer);
}

static void test_table_grows(void **state)
{
	enumerate(&table_grows);
	each_failure_point(&table_grows);
}

static void test_framebuffer(void **state)
{
	enumerate(&framebuffer);
	each_failure_point(&framebuffer);
}

static void test_large_request(void **state)
{
	unsigned decode = 0;

	enumerate(&large_request);
	for (unsigned k = 0; k < large_request.ncalls; k++)
		decode += is_decode(&large_request.calls[k]);
	/* The unknown field does not fit the arena: decoding allocates. */
	assert_true(decode >= 1);
	each_failure_point(&large_request);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_buffer),
		cmocka_unit_test(test_table_grows),
		cmocka_unit_test(test_framebuffer),
		cmocka_unit_test(test_large_request),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
