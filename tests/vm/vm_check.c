/* SPDX-License-Identifier: MIT */
/* Result lines of the in-VM test clients (vm_check.h). */
#include "vm_check.h"

#include <stdarg.h>
#include <stdio.h>

int vm_check_failures;

bool vm_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok   ");
	} else {
		printf("not ok ");
		vm_check_failures++;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok;
}
