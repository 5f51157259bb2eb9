/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target (b): the region allocator (daemon/region/) fed arbitrary
 * operation sequences through region_fuzz_step() (region_fuzz_step.c),
 * which audits every invariant after each operation.
 *
 * Input: [npages lo, npages hi, options] then operations, each decoded by
 * region_fuzz_step() (alloc, claim, free the n-th allocation,
 * reserve, unreserve, plan_for + apply, plan_compact + apply).
 *   npages  = 1 + (u16 le % 8192)      the region's size in pages
 *   options: bits 0-1 initial attribute (% 3), bits 2-3 region flags
 * Checked (abort() on violation):
 *   - fuzz_step never reports -EUCLEAN (audit failure or a planned move
 *     that does not apply), the audit's description is printed;
 *   - after every step free + used + reserved pages == npages;
 *   - at the end, after freeing every live allocation and unreserving every
 *     reserved range: free pages == npages, no allocation, audit passes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "region.h"
#include "region_fuzz_step.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const struct dmabufd_region *r, const char *what)
{
	char msg[256] = "";

	if (ok)
		return;
	dmabufd_region_audit(r, msg, sizeof(msg));
	fprintf(stderr, "fuzz_region: invariant violated: %s (audit: %s)\n", what, msg);
	abort();
}

static void check_totals(const struct dmabufd_region *r)
{
	struct dmabufd_region_stats st;
	uint64_t used = 0;

	dmabufd_region_stats(r, &st);
	for (int a = 0; a < DMABUFD_REGION_N_ATTR; a++)
		used += st.used_pages[a];
	check((uint64_t)st.free_pages + used + st.reserved_pages == st.npages, r,
	      "free + used + reserved != npages");
}

/* Remembers the first USED or RESERVED segment of a walk. */
struct first_busy {
	bool found;
	struct dmabufd_region_extent e;
};

static int find_busy(const struct dmabufd_region_extent *e, void *userdata)
{
	struct first_busy *fb = userdata;

	if (e->state == DMABUFD_REGION_FREE)
		return 0;
	fb->found = true;
	fb->e = *e;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmabufd_region_options opts = { 0 };
	struct dmabufd_region_stats st;
	struct dmabufd_region *r = NULL;
	uint32_t npages;
	size_t pos = 3;

	if (size < 3)
		return 0;
	npages = 1 + (uint32_t)(data[0] | data[1] << 8) % 8192;
	opts.initial_attribute = (data[2] & 3) % 3;
	opts.flags = (data[2] >> 2) & DMABUFD_REGION_FLAGS_ALL;
	if (dmabufd_region_create(npages, &opts, &r) < 0)
		return 0;

	while (pos < size) {
		size_t used = 0;
		int ret = region_fuzz_step(r, data + pos, size - pos, &used);

		check(ret != -EUCLEAN, r, "fuzz_step audit");
		check(used >= 1, r, "fuzz_step consumed nothing");
		check_totals(r);
		pos += used;
	}

	/* Hand everything back: the region must be whole again. */
	for (unsigned guard = 0; guard <= npages; guard++) {
		struct first_busy fb = { .found = false };

		dmabufd_region_walk(r, find_busy, &fb);
		if (!fb.found)
			break;
		if (fb.e.state == DMABUFD_REGION_USED)
			check(dmabufd_region_unplace(r, fb.e.offset) == 0, r, "free of a live allocation");
		else
			check(dmabufd_region_unreserve(r, fb.e.offset, fb.e.npages) == 0, r,
			      "unreserve of a reserved range");
	}
	dmabufd_region_stats(r, &st);
	check(st.free_pages == npages, r, "free pages != region size after freeing everything");
	check(st.n_allocations == 0 && st.reserved_pages == 0, r, "allocations left");
	check(dmabufd_region_audit(r, NULL, 0) == 0, r, "final audit");
	dmabufd_region_destroy(r);
	return 0;
}
