/* SPDX-License-Identifier: MIT */
/*
 * faultinject.so: an LD_PRELOAD shim that makes one chosen call in the
 * daemon fail, without touching daemon code (the 2002 consistent_alloc
 * lesson: every failure path must release what it took; seeds/01, seeds/03).
 *
 * Interposed: malloc, calloc, realloc (through glibc's __libc_* entry
 * points, so no dlsym recursion), memfd_create, ftruncate, fallocate
 * (the udmabuf region's PUNCH_HOLE), fcntl (every command: F_ADD_SEALS,
 * F_DUPFD_CLOEXEC, ...), ioctl (every request: DMA_HEAP_IOCTL_ALLOC,
 * UDMABUF_CREATE, DMA_BUF_SET_NAME, DMABUFD_REGION_IOC_EXPORT, ...), mmap,
 * dup, dup3 and libevent's event_new.
 *
 * Nothing happens until the shim is armed: SIGUSR1 arms it (and resets the
 * call counter), SIGUSR2 disarms it, so daemon start-up and the Hello
 * exchange are never affected. A pending signal is handled before the
 * daemon runs any more user code, so a test that sends SIGUSR1 and then a
 * request knows the request runs armed.
 *
 * Environment (read once, at load time):
 *   DMABUFD_FAULT_LOG=PATH     counting mode: append one line per armed call,
 *                              "<n> <function> <caller object> <caller symbol> <detail>"
 *                              (symbol "+0x<offset>" when the caller is hidden;
 *                              detail: the request number of an ioctl and the
 *                              command of an fcntl, "0x<hex>", else "-")
 *   DMABUFD_FAULT_NTH=N        fail the N-th armed call (1-based); counts all
 *                              interposed functions unless DMABUFD_FAULT_FUNC
 *                              names one
 *   DMABUFD_FAULT_FUNC=NAME    only calls to NAME count towards N
 *   DMABUFD_FAULT_ERRNO=E      errno of the failure (default: ENOMEM for the
 *                              allocators, ioctl and event_new; EMFILE for
 *                              memfd_create, dup*, fcntl(F_DUPFD*); ENOSPC
 *                              for ftruncate; EIO for fallocate; ENOMEM for
 *                              mmap; EBUSY for fcntl(F_ADD_SEALS),
 *                              as with a writable mapping; EINVAL for other
 *                              fcntl commands)
 *   DMABUFD_FAULT_REPORT=PATH  when the failure is injected, write
 *                              "<function> <errno> <caller object> <caller symbol> <detail>"
 *                              there
 * The log and report files are opened at load time (one fd each, counted
 * in the daemon's baseline).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct event_base;
struct event;
typedef void (*event_callback_fn)(int, short, void *);

struct event *event_new(struct event_base *base, int fd, short events, event_callback_fn cb,
			void *arg);
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static volatile sig_atomic_t armed;
static unsigned long counter;     /* armed calls that matched the filter */
static unsigned long seq;         /* armed calls, all functions (log) */
static unsigned long fail_nth;
static char fail_func[32];
static int fail_errno;            /* 0: the function's default */
static int log_fd = -1, report_fd = -1;
static __thread int in_hook;      /* no recursion through dladdr/snprintf */

static void resolve_next(void);

static void on_arm(int sig)
{
	counter = 0;
	seq = 0;
	armed = sig == SIGUSR1;
}

__attribute__((constructor)) static void faultinject_init(void)
{
	const char *s;
	struct sigaction sa = { .sa_handler = on_arm, .sa_flags = SA_RESTART };

	if ((s = getenv("DMABUFD_FAULT_NTH")))
		fail_nth = strtoul(s, NULL, 10);
	if ((s = getenv("DMABUFD_FAULT_FUNC")))
		snprintf(fail_func, sizeof(fail_func), "%s", s);
	if ((s = getenv("DMABUFD_FAULT_ERRNO")))
		fail_errno = atoi(s);
	if ((s = getenv("DMABUFD_FAULT_LOG")))
		log_fd = open(s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if ((s = getenv("DMABUFD_FAULT_REPORT")))
		report_fd = open(s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	resolve_next();
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

/*
 * The object the call came from (file name) and the calling symbol, or,
 * for hidden/static functions, "+0x<offset>" into the object (resolve
 * with addr2line -f -e <object> <offset>).
 */
static void describe_caller(const void *caller, const char **obj, const char **sym)
{
	static __thread char off[32];
	Dl_info info;

	*obj = "?";
	*sym = "?";
	if (caller && dladdr(caller, &info)) {
		if (info.dli_fname) {
			const char *slash = strrchr(info.dli_fname, '/');

			*obj = slash ? slash + 1 : info.dli_fname;
		}
		if (info.dli_sname) {
			*sym = info.dli_sname;
		} else {
			snprintf(off, sizeof(off), "+0x%lx",
				 (unsigned long)((const char *)caller - (const char *)info.dli_fbase) - 1);
			*sym = off;
		}
	}
}

/*
 * Called at the top of every interposed function. Returns the errno to
 * fail with, or 0 to let the call through.
 */
static int should_fail_detail(const char *func, int default_errno, const void *caller,
			      const char *detail)
{
	const char *obj, *sym;
	char line[320];
	int n, err;

	if (!armed || in_hook)
		return 0;
	in_hook = 1;
	seq++;
	if (log_fd >= 0) {
		describe_caller(caller, &obj, &sym);
		n = snprintf(line, sizeof(line), "%lu %s %s %s %s\n", seq, func, obj, sym, detail);
		if (n > 0)
			(void)!write(log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	err = 0;
	if (fail_nth && (!fail_func[0] || strcmp(fail_func, func) == 0) && ++counter == fail_nth) {
		err = fail_errno ? fail_errno : default_errno;
		if (report_fd >= 0) {
			describe_caller(caller, &obj, &sym);
			n = snprintf(line, sizeof(line), "%s %d %s %s %s\n", func, err, obj, sym,
				     detail);
			if (n > 0)
				(void)!write(report_fd, line,
					     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		}
	}
	in_hook = 0;
	return err;
}

static int should_fail(const char *func, int default_errno, const void *caller)
{
	return should_fail_detail(func, default_errno, caller, "-");
}

/* As should_fail(), with a request/command number in the log and report. */
static int should_fail_nr(const char *func, int default_errno, const void *caller,
			  unsigned long nr)
{
	char detail[24];

	if (!armed || in_hook)
		return 0;
	snprintf(detail, sizeof(detail), "0x%lx", nr);
	return should_fail_detail(func, default_errno, caller, detail);
}

#define CALLER __builtin_return_address(0)

void *malloc(size_t size)
{
	int err = should_fail("malloc", ENOMEM, CALLER);

	if (err) {
		errno = err;
		return NULL;
	}
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	int err = should_fail("calloc", ENOMEM, CALLER);

	if (err) {
		errno = err;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	int err = should_fail("realloc", ENOMEM, CALLER);

	if (err) {
		errno = err;
		return NULL;
	}
	return __libc_realloc(p, size);
}

/* The next definitions, resolved at load time (dlsym may allocate). */
static int (*next_memfd_create)(const char *, unsigned int);
static int (*next_ftruncate)(int, off_t);
static int (*next_fallocate)(int, int, off_t, off_t);
static void *(*next_mmap)(void *, size_t, int, int, int, off_t);
static int (*next_fcntl)(int, int, ...);
static int (*next_ioctl)(int, unsigned long, ...);
static int (*next_dup)(int);
static int (*next_dup3)(int, int, int);
static struct event *(*next_event_new)(struct event_base *, int, short, event_callback_fn, void *);

#define NEXT(name) (*(void **)&next_##name = dlsym(RTLD_NEXT, #name))

static void resolve_next(void)
{
	NEXT(memfd_create);
	NEXT(ftruncate);
	NEXT(fallocate);
	NEXT(mmap);
	NEXT(fcntl);
	NEXT(ioctl);
	NEXT(dup);
	NEXT(dup3);
	NEXT(event_new); /* NULL when the process does not use libevent */
}

int memfd_create(const char *name, unsigned int flags)
{
	int err = should_fail("memfd_create", EMFILE, CALLER);

	if (err) {
		errno = err;
		return -1;
	}
	return next_memfd_create(name, flags);
}

int ftruncate(int fd, off_t length)
{
	int err = should_fail("ftruncate", ENOSPC, CALLER);

	if (err) {
		errno = err;
		return -1;
	}
	return next_ftruncate(fd, length);
}

int fallocate(int fd, int mode, off_t offset, off_t len)
{
	int err = should_fail("fallocate", EIO, CALLER);

	if (err) {
		errno = err;
		return -1;
	}
	return next_fallocate(fd, mode, offset, len);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
	int err = should_fail("mmap", ENOMEM, CALLER);

	if (err) {
		errno = err;
		return MAP_FAILED;
	}
	return next_mmap(addr, len, prot, flags, fd, offset);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	int def, err;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	def = cmd == F_ADD_SEALS                                   ? EBUSY
	      : cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC           ? EMFILE
								   : EINVAL;
	err = should_fail_nr("fcntl", def, CALLER, (unsigned long)cmd);
	if (err) {
		errno = err;
		return -1;
	}
	return next_fcntl(fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int err;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	err = should_fail_nr("ioctl", ENOMEM, CALLER, request);
	if (err) {
		errno = err;
		return -1;
	}
	return next_ioctl(fd, request, arg);
}

int dup(int fd)
{
	int err = should_fail("dup", EMFILE, CALLER);

	if (err) {
		errno = err;
		return -1;
	}
	return next_dup(fd);
}

int dup3(int fd, int fd2, int flags)
{
	int err = should_fail("dup3", EMFILE, CALLER);

	if (err) {
		errno = err;
		return -1;
	}
	return next_dup3(fd, fd2, flags);
}

struct event *event_new(struct event_base *base, int fd, short events, event_callback_fn cb,
			void *arg)
{
	int err = should_fail("event_new", ENOMEM, CALLER);

	if (err) {
		errno = err;
		return NULL;
	}
	if (!next_event_new) {
		errno = ENOSYS;
		return NULL;
	}
	return next_event_new(base, fd, events, cb, arg);
}
