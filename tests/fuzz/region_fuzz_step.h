/* SPDX-License-Identifier: MIT */
/* The region fuzz driver (region_fuzz_step.c). */
#ifndef DMABUFD_TESTS_REGION_FUZZ_STEP_H
#define DMABUFD_TESTS_REGION_FUZZ_STEP_H

#include <stddef.h>
#include <stdint.h>

struct dmabufd_region;

/**
 * region_fuzz_step() - decode one operation from @data and apply it
 * (alloc, claim, free the n-th allocation, reserve, unreserve, plan_for +
 * apply, plan_compact + apply), then audit. For libFuzzer targets.
 * @ret_consumed: bytes of @data used (>= 1 when @size >= 1).
 * Return: 0 (including operations that failed cleanly); -EUCLEAN if the
 *         audit failed or a planned move failed to apply; -ENODATA if
 *         @size is 0.
 */
int region_fuzz_step(struct dmabufd_region *r, const uint8_t *data, size_t size,
		     size_t *ret_consumed);

#endif
