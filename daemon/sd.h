/* SPDX-License-Identifier: MIT */
/*
 * systemd integration of the daemon (docs/SYSTEMD.md):
 * - socket activation: the listening socket from sd_listen_fds(3);
 * - the notify protocol (sd_notify(3)): READY=1, STATUS=, WATCHDOG=1,
 *   RELOADING=1, STOPPING=1;
 * - logging to the journal with structured fields (sd_journal_send(3))
 *   when stderr is connected to journald, plain stderr otherwise.
 *
 * Every function is a no-op when the daemon does not run under a service
 * manager ($NOTIFY_SOCKET unset), so the daemon behaves the same by hand.
 * The names use the service_ prefix: sd_* belongs to libsystemd.
 */
#ifndef DMABUFD_SD_H
#define DMABUFD_SD_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct event_base;
struct buffer;

/* ---- logging ---------------------------------------------------------- */

enum log_target {
	LOG_TARGET_AUTO,    /* journal if $JOURNAL_STREAM names our stderr */
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

/**
 * service_log_setup() - install the log sink for the daemon.
 * @target: LOG_TARGET_AUTO picks the journal when $JOURNAL_STREAM
 *          ("<st_dev>:<st_ino>", systemd.exec(5)) matches fstat(2) of
 *          stderr, i.e. when stderr goes to journald; else stderr.
 * @max_level: highest level emitted (LOG_LEVEL_DEBUG with --verbose).
 * Return: the target actually chosen (LOG_TARGET_STDERR or _JOURNAL).
 */
enum log_target service_log_setup(enum log_target target, enum log_level max_level);

/**
 * log_context_push() - attach one journal field ("KEY=value", printf-style;
 * KEY upper case, [A-Z0-9_], not starting with '_') to every message
 * logged until log_context_restore() pops it. At most 16 fields of at
 * most 127 bytes each; a field past either limit is dropped. Nothing is
 * formatted unless the journal sink is installed (the hot path stays cheap).
 * Return: the depth before the push, for log_context_restore().
 */
size_t log_context_push(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** log_context_depth() - the current number of context fields. */
size_t log_context_depth(void);
/** log_context_restore() - pop context fields down to *@depth. */
void log_context_restore(size_t *depth);

/* Pops everything pushed in the enclosing scope when it ends. */
#define LOG_CONTEXT_SCOPE() \
	size_t _log_depth_ __attribute__((cleanup(log_context_restore), unused)) = \
		log_context_depth()

/**
 * log_struct() - log one message with extra journal fields.
 * @fields: NULL-terminated array of "KEY=value" strings (may be NULL).
 * The fields reach the journal sink only; the stderr sink prints the
 * message alone.
 */
void log_struct(enum log_level level, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * log_buffer_event() - log an event about buffer @b with the fields
 * BUFFER_ID=, BUFFER_SIZE= (bytes), BUFFER_LABEL=, OWNER_PID=, OWNER_UID=
 * and, when @error < 0, ERRNO= (positive errno, systemd convention).
 */
void log_buffer_event(enum log_level level, const struct buffer *b, int error,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- socket activation ------------------------------------------------ */

/* File descriptors passed by the service manager (LISTEN_FDS). */
struct service_fds {
	int listen_fd;     /* the listening socket, or -1 */
	size_t n;          /* the others (fd store), names parallel */
	int *fds;
	char **names;
};

/**
 * service_take_fds() - collect the fds passed with $LISTEN_FDS/
 * $LISTEN_PID/$LISTEN_FDNAMES (sd_listen_fds_with_names(3)) and unset
 * those variables. The first SOCK_SEQPACKET AF_UNIX listening socket (name
 * "listen", "dmabufd.socket" or "unknown") becomes @ret->listen_fd; any
 * further listening socket is closed with a warning; the rest are handed
 * on for fdstore_restore().
 * Return: 0 (possibly with nothing passed); -ENOMEM; negative errno from
 * sd_listen_fds_with_names(3). On failure no fd is leaked.
 */
int service_take_fds(struct service_fds *ret);
/** service_fds_free() - close whatever is left and free; accepts NULL fields. */
void service_fds_free(struct service_fds *f);

/* ---- notify protocol -------------------------------------------------- */

/**
 * service_init() - remember the event loop and how to describe the
 * daemon's state for STATUS= (@format_status(buf, len, @ctx) writes one
 * NUL-terminated line) and start nothing yet. Call once after the server
 * is listening.
 * Return: 0, -ENOMEM.
 */
int service_init(struct event_base *base, void (*format_status)(char *buf, size_t len, void *ctx),
		 void *ctx);

/**
 * service_notify_ready() - READY=1 and the first STATUS= line, then (the
 * first time) start the watchdog: WATCHDOG=1 every half of $WATCHDOG_USEC
 * when sd_watchdog_enabled(3) says the manager expects it. Call only once
 * the backend is up and the socket accepts connections; also ends a reload.
 * Return: 0, or negative errno when the watchdog timer could not be armed.
 */
int service_notify_ready(void);

/**
 * service_notify_reloading() - RELOADING=1 with MONOTONIC_USEC= (µs,
 * CLOCK_MONOTONIC), as systemd.service(5) asks for Type=notify-reload.
 * Bracket a configuration reload with this and service_notify_ready().
 */
void service_notify_reloading(void);

/** service_notify_stopping() - STOPPING=1 and stop the watchdog. */
void service_notify_stopping(void);

/**
 * service_status_changed() - the buffer count or bytes changed: a new
 * STATUS= line is sent once, after the current event-loop iteration and at
 * most once a second (the changes in between are coalesced); nothing when
 * $NOTIFY_SOCKET is not set.
 */
void service_status_changed(void);

/**
 * service_format_status() - the one-line summary sent as STATUS=:
 * "backend memfd: 3 buffers (1 orphaned), 12288/268435456 bytes, 2 clients".
 */
void service_format_status(char *buf, size_t len);

/** service_finish() - free timers; accepts being called without init. */
void service_finish(void);

/**
 * service_drop_privileges() - switch to user @name and its primary group,
 * with no supplementary groups (setgroups(2), setgid(2), setuid(2)), and
 * verify that root cannot be regained. Call after the backend opened its
 * devices and the socket is bound.
 * Return: 0; -ESRCH (no such user); negative errno of the failing call.
 */
int service_drop_privileges(const char *name);

#endif
