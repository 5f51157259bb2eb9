/* SPDX-License-Identifier: MIT */
/*
 * X11 test helpers: a real Xvfb on a private display, started with
 * -displayfd (the server picks a free display number) and -nolisten tcp,
 * stopped by its pid; /proc/<pid>/maps lookups by inode.
 */
#ifndef DMABUFD_TEST_XVFB_H
#define DMABUFD_TEST_XVFB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct xvfb {
	pid_t pid;
	char display[24];   /* ":N" */
	char log[128];      /* the server's stderr */
};

/* True when an Xvfb executable is in $PATH. */
bool xvfb_available(void);
/*
 * Starts Xvfb with "-displayfd FD -nolisten tcp -noreset -screen 0 @screen"
 * and the NULL-terminated @extra arguments (or NULL); waits up to 10 s for
 * the display number. Return: 0 or a negative errno.
 */
int xvfb_start(struct xvfb *x, const char *screen, const char *const *extra);
/* SIGTERM, wait; returns the exit status, or -1 when it died of a signal. */
int xvfb_stop(struct xvfb *x);
/*
 * Mappings of @pid that map the file (@dev, @ino), from /proc/<pid>/maps;
 * *ret_writable (if not NULL) is set when one of them is writable.
 * Return: the count, or a negative errno.
 */
int maps_count(pid_t pid, dev_t dev, ino_t ino, bool *ret_writable);

#endif
