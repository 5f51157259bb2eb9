/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdio.h>
#include <unistd.h>

static log_sink_fn log_sink;
static void *log_userdata;
static enum log_level log_max = LOG_LEVEL_INFO;

void log_set_sink(log_sink_fn sink, void *userdata, enum log_level max_level)
{
	log_sink = sink;
	log_userdata = userdata;
	log_max = max_level;
}

enum log_level log_get_max_level(void)
{
	return log_max;
}

void log_printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_sink || level > log_max)
		return;
	va_start(ap, fmt);
	log_sink(level, fmt, ap, log_userdata);
	va_end(ap);
}

void log_sink_stderr(enum log_level level, const char *fmt, va_list ap, void *userdata)
{
	static const char *const names[] = {
		[LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning",
		[LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
		[LOG_LEVEL_DEBUG] = "debug",
	};
	const char *prefix = userdata ? userdata : "dmabufd";

	fprintf(stderr, "%s[%d]: %s: ", prefix, (int)getpid(),
		level <= LOG_LEVEL_DEBUG && names[level] ? names[level] : "?");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}
