/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets of daemon code share (fuzz_config.c,
 * fuzz_fdstore_state.c, fuzz_server.c): counting the process's fds, so
 * that a target can tell an input leaked one, and failing on a broken
 * invariant in the way libFuzzer and the replay driver both report.
 *
 * fuzz_util.c also defines LLVMFuzzerInitialize(), called once before the
 * first input (by libFuzzer, and by replay.c when the target has one): it
 * keeps the daemon's log to errors, so that expected refusals do not flood
 * the fuzzer's output. A target that links fuzz_util.c defines no
 * LLVMFuzzerInitialize() of its own.
 */
#ifndef DMABUFD_FUZZ_UTIL_H
#define DMABUFD_FUZZ_UTIL_H

#include <stdbool.h>

/* The number of fds this process has open (/proc/self/fd); abort()s if it
 * cannot be read. */
int fuzz_count_own_fds(void);

/* Lists this process's open fds and their targets on stderr (what leaked). */
void fuzz_dump_fds(void);

/*
 * fuzz_check() - unless @ok, prints "PROGRAM: invariant violated: @what"
 * on stderr and abort()s: libFuzzer keeps the input as a crash, the replay
 * test fails.
 */
void fuzz_check(bool ok, const char *what);

#endif
