/* SPDX-License-Identifier: MIT */
#include "clock.h"

#include <time.h>

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t realtime_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

uint64_t monotonic_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}
