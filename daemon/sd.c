/* SPDX-License-Identifier: MIT */
/*
 * systemd integration: socket activation, the notify protocol, journal
 * logging. See sd.h and docs/SYSTEMD.md. Sources: sd_listen_fds(3),
 * sd_notify(3), sd_watchdog_enabled(3), sd_journal_send(3), systemd.exec(5)
 * ($JOURNAL_STREAM), systemd.service(5) (RELOADING=1/MONOTONIC_USEC=).
 */
#include "sd.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "clock.h"
#include "macros.h"
#include "registry.h"

/* ---- logging ---------------------------------------------------------- */

#define LOG_CONTEXT_MAX 16
#define LOG_FIELD_MAX 128

static char log_context[LOG_CONTEXT_MAX][LOG_FIELD_MAX];
static size_t log_context_n;
/* Fields only matter to the journal sink: skip formatting them otherwise. */
static bool log_fields_wanted;
/* Fields of the one log_struct() call in progress (NULL-terminated). */
static const char *const *log_extra;

size_t log_context_depth(void)
{
	return log_context_n;
}

size_t log_context_push(const char *fmt, ...)
{
	size_t depth = log_context_n;
	va_list ap;
	int n;

	if (!log_fields_wanted || log_context_n >= LOG_CONTEXT_MAX)
		return depth;
	va_start(ap, fmt);
	n = vsnprintf(log_context[log_context_n], LOG_FIELD_MAX, fmt, ap);
	va_end(ap);
	if (n > 0 && n < LOG_FIELD_MAX && strchr(log_context[log_context_n], '='))
		log_context_n++;
	return depth;
}

void log_context_restore(size_t *depth)
{
	if (*depth < log_context_n)
		log_context_n = *depth;
}

/*
 * The journal sink: MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=, the context
 * fields and the fields of a log_struct() call. Falls back to stderr when
 * journald cannot be reached (so no message is lost).
 */
static void log_sink_journal(enum log_level level, const char *fmt, va_list ap, void *userdata)
{
	struct iovec iov[4 + LOG_CONTEXT_MAX + 16];
	char message[2048], prio[16];
	size_t n = 0;
	va_list copy;
	int len;

	va_copy(copy, ap);
	len = vsnprintf(message + 8, sizeof(message) - 8, fmt, copy);
	va_end(copy);
	if (len < 0)
		return;
	memcpy(message, "MESSAGE=", 8);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)level);
	iov[n++] = (struct iovec){ message, strlen(message) };
	iov[n++] = (struct iovec){ prio, strlen(prio) };
	iov[n++] = (struct iovec){ (void *)"SYSLOG_IDENTIFIER=dmabufd", 25 };
	for (size_t i = 0; i < log_context_n; i++)
		iov[n++] = (struct iovec){ log_context[i], strlen(log_context[i]) };
	for (size_t i = 0; log_extra && log_extra[i] && i < 16; i++)
		iov[n++] = (struct iovec){ (void *)log_extra[i], strlen(log_extra[i]) };
	if (sd_journal_sendv(iov, (int)n) < 0)
		log_sink_stderr(level, fmt, ap, userdata);
}

static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

enum log_target service_log_setup(enum log_target target, enum log_level max_level)
{
	if (target == LOG_TARGET_AUTO)
		target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	log_fields_wanted = target == LOG_TARGET_JOURNAL;
	if (target == LOG_TARGET_JOURNAL)
		log_set_sink(log_sink_journal, "dmabufd", max_level);
	else
		log_set_sink(log_sink_stderr, "dmabufd", max_level);
	return target;
}

void log_struct(enum log_level level, const char *const *fields, const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	if (level > log_get_max_level())
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	log_extra = fields;
	log_printf(level, "%s", message);
	log_extra = NULL;
}

void log_buffer_event(enum log_level level, const struct buffer *b, int error,
		      const char *fmt, ...)
{
	char id[48], size[48], label[16 + DMABUFD_LABEL_MAX], pid[32], uid[32], err[32];
	const char *fields[8];
	char message[1024];
	size_t n = 0;
	va_list ap;

	if (level > log_get_max_level())
		return;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	snprintf(id, sizeof(id), "BUFFER_ID=%" PRIu64, b->id);
	snprintf(size, sizeof(size), "BUFFER_SIZE=%" PRIu64, b->size);
	snprintf(label, sizeof(label), "BUFFER_LABEL=%s", b->label);
	snprintf(pid, sizeof(pid), "OWNER_PID=%d", (int)b->pid);
	snprintf(uid, sizeof(uid), "OWNER_UID=%u", (unsigned)b->uid);
	fields[n++] = id;
	fields[n++] = size;
	fields[n++] = label;
	fields[n++] = pid;
	fields[n++] = uid;
	if (error < 0) {
		snprintf(err, sizeof(err), "ERRNO=%d", -error);
		fields[n++] = err;
	}
	fields[n] = NULL;
	log_struct(level, fields, "%s", message);
}

/* ---- socket activation ------------------------------------------------ */

static bool is_listening_seqpacket(int fd)
{
	struct sockaddr_un addr;
	socklen_t alen = sizeof(addr);
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return false;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
		return false;
	if (getsockname(fd, (struct sockaddr *)&addr, &alen) < 0)
		return false;
	return type == SOCK_SEQPACKET && listening && addr.sun_family == AF_UNIX;
}

static bool is_listen_name(const char *name)
{
	return !name || strcmp(name, "listen") == 0 || strcmp(name, "dmabufd.socket") == 0 ||
	       strcmp(name, "unknown") == 0 || strcmp(name, "connection") == 0;
}

void service_fds_free(struct service_fds *f)
{
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	f->listen_fd = -1;
	for (size_t i = 0; i < f->n; i++) {
		if (f->fds && f->fds[i] >= 0)
			close(f->fds[i]);
		if (f->names)
			free(f->names[i]);
	}
	free(f->fds);
	free(f->names);
	f->fds = NULL;
	f->names = NULL;
	f->n = 0;
}

int service_take_fds(struct service_fds *ret)
{
	struct service_fds f = { .listen_fd = -1 };
	char **names = NULL;
	int n;

	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		*ret = f;
		return n;
	}
	f.fds = calloc((size_t)n, sizeof(*f.fds));
	f.names = calloc((size_t)n, sizeof(*f.names));
	if (!f.fds || !f.names) {
		for (int i = 0; i < n; i++) {
			close(SD_LISTEN_FDS_START + i);
			free(names ? names[i] : NULL);
		}
		free(names);
		free(f.fds);
		free(f.names);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		char *name = names ? names[i] : NULL;

		if (is_listen_name(name) && is_listening_seqpacket(fd)) {
			if (f.listen_fd < 0) {
				f.listen_fd = fd;
				free(name);
				continue;
			}
			log_warn("ignoring a second listening socket (fd %d, \"%s\")", fd,
				 name ? name : "");
			close(fd);
			free(name);
			continue;
		}
		f.fds[f.n] = fd;
		f.names[f.n] = name;
		f.n++;
	}
	free(names);
	*ret = f;
	return 0;
}

/* ---- notify protocol -------------------------------------------------- */

/*
 * STATUS= is sent at most this often (µs): it changes with every Alloc and
 * Release, and one datagram to the service manager per request would make
 * a busy client cost PID 1 a wake-up per request and the daemon a sendmsg
 * outside anyone's turn.
 */
#define STATUS_INTERVAL_USEC 1000000

static struct {
	struct event_base *base;
	void (*format_status)(char *buf, size_t len, void *ctx);
	void *ctx;
	struct event *ev_watchdog;
	struct event *ev_status;
	bool status_pending;
	bool stopping;
	bool notify;          /* $NOTIFY_SOCKET is set: someone reads STATUS= */
	uint64_t status_sent; /* µs, CLOCK_MONOTONIC: STATUS= last sent */
	char last_status[256];
} svc;

void service_format_status(char *buf, size_t len)
{
	if (!svc.format_status) {
		snprintf(buf, len, "starting");
		return;
	}
	svc.format_status(buf, len, svc.ctx);
}

static void send_status(bool force)
{
	char line[256], msg[300];

	service_format_status(line, sizeof(line));
	if (!force && strcmp(line, svc.last_status) == 0)
		return;
	snprintf(svc.last_status, sizeof(svc.last_status), "%s", line);
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	sd_notify(0, msg);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	svc.status_pending = false;
	if (svc.stopping)
		return;
	svc.status_sent = monotonic_usec();
	send_status(false);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

int service_init(struct event_base *base, void (*format_status)(char *buf, size_t len, void *ctx),
		 void *ctx)
{
	svc.base = base;
	svc.format_status = format_status;
	svc.ctx = ctx;
	svc.notify = getenv("NOTIFY_SOCKET") != NULL;
	svc.ev_status = evtimer_new(base, status_cb, NULL);
	if (!svc.ev_status)
		return -ENOMEM;
	return 0;
}

int service_notify_ready(void)
{
	char line[256], msg[320];
	uint64_t usec = 0;

	service_format_status(line, sizeof(line));
	snprintf(svc.last_status, sizeof(svc.last_status), "%s", line);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", line);
	svc.status_sent = monotonic_usec();
	sd_notify(0, msg);

	if (!svc.ev_watchdog && svc.base && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		struct timeval tv = {
			.tv_sec = (time_t)(usec / 2 / 1000000),
			.tv_usec = (suseconds_t)(usec / 2 % 1000000),
		};

		svc.ev_watchdog = event_new(svc.base, -1, EV_PERSIST, watchdog_cb, NULL);
		if (!svc.ev_watchdog || event_add(svc.ev_watchdog, &tv) < 0)
			return -ENOMEM;
		sd_notify(0, "WATCHDOG=1");
		log_debug("watchdog: WATCHDOG=1 every %" PRIu64 " µs", usec / 2);
	}
	return 0;
}

void service_notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	sd_notify(0, msg);
}

void service_notify_stopping(void)
{
	svc.stopping = true;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	if (svc.ev_watchdog)
		event_del(svc.ev_watchdog);
}

void service_status_changed(void)
{
	uint64_t now, wait;
	struct timeval tv;

	if (!svc.ev_status || !svc.notify || svc.status_pending || svc.stopping)
		return;
	svc.status_pending = true;
	now = monotonic_usec();
	wait = now - svc.status_sent < STATUS_INTERVAL_USEC ?
		       STATUS_INTERVAL_USEC - (now - svc.status_sent) : 0;
	tv = (struct timeval){ .tv_sec = (time_t)(wait / 1000000),
			       .tv_usec = (suseconds_t)(wait % 1000000) };
	evtimer_add(svc.ev_status, &tv);
}

void service_finish(void)
{
	if (svc.ev_watchdog)
		event_free(svc.ev_watchdog);
	if (svc.ev_status)
		event_free(svc.ev_status);
	memset(&svc, 0, sizeof(svc));
}

int service_drop_privileges(const char *name)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return errno ? negative_errno() : -ESRCH;
	if (setgroups(0, NULL) < 0)
		return negative_errno();
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0)
		return negative_errno();
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return negative_errno();
	/* The drop must be permanent. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return -EPERM;
	log_info("running as user %s (uid %u, gid %u)", name, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return 0;
}
