/* SPDX-License-Identifier: MIT */
/* Clock readings in microseconds, as the protocol reports times. */
#ifndef DMABUFD_CLOCK_H
#define DMABUFD_CLOCK_H

#include <stdint.h>

/** realtime_usec() - CLOCK_REALTIME in µs since the epoch (times shown to users). */
uint64_t realtime_usec(void);

/** monotonic_usec() - CLOCK_MONOTONIC in µs (deadlines; never jumps). */
uint64_t monotonic_usec(void);

#endif
