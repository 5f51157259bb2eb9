/* SPDX-License-Identifier: MIT */
/*
 * Minimal logging shared by daemon and client. The sink is replaceable:
 * the daemon installs a stderr or journal sink, libdmabufd forwards to the
 * handler the application installed (and is silent by default).
 */
#ifndef DMABUFD_COMMON_LOG_H
#define DMABUFD_COMMON_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 3, /* syslog priorities */
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

typedef void (*log_sink_fn)(enum log_level level, const char *fmt, va_list ap,
			    void *userdata);

/* Installs @sink (NULL: discard everything) and the highest level emitted. */
void log_set_sink(log_sink_fn sink, void *userdata, enum log_level max_level);
enum log_level log_get_max_level(void);
void log_printf(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A sink writing "dmabufd[pid]: <level>: message" lines to stderr. */
void log_sink_stderr(enum log_level level, const char *fmt, va_list ap, void *userdata);

#define log_error(...) log_printf(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_printf(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_printf(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_printf(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_printf(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
