/* SPDX-License-Identifier: MIT */
/*
 * Result lines of the in-VM test clients (heaps-smoke.c, v4l2-test.c):
 * "ok   WHAT" or "not ok WHAT" on stdout, flushed at once, and a count of
 * the failures for the exit status.
 */
#ifndef DMABUFD_VM_CHECK_H
#define DMABUFD_VM_CHECK_H

#include <stdbool.h>

/* Failed checks so far. */
extern int vm_check_failures;

/* Prints the result line of @ok, the message formatted from @fmt. Returns @ok. */
bool vm_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * CHECK(cond, fmt, ...) - vm_check() of @cond, evaluated before the
 * message's arguments (they may describe what @cond did).
 */
#define CHECK(cond, ...)                                        \
	do {                                                    \
		bool vm_check_ok_ = (cond);                     \
		vm_check(vm_check_ok_, __VA_ARGS__);            \
	} while (0)

#endif
