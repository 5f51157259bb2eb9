/* SPDX-License-Identifier: MIT */
/*
 * The region fuzz driver: one operation decoded from bytes and applied
 * through the public API of daemon/region/region.h, then an audit. Used by
 * the fuzz target fuzz_region.c and by the unit test test_region.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"
#include "region_fuzz_step.h"

static int nth_alloc_cb(const struct dmabufd_region_extent *e, void *userdata)
{
	uint32_t *st = userdata; /* [0] = countdown, [1] = result offset */
	if (e->state != DMABUFD_REGION_USED)
		return 0;
	if (st[0]-- == 0) {
		st[1] = e->offset;
		return 1;
	}
	return 0;
}

static uint32_t rd32(const uint8_t *d, size_t n, size_t *off)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v = v << 8 | (*off < n ? d[(*off)++] : 0);
	return v;
}

int region_fuzz_step(struct dmabufd_region *r, const uint8_t *data, size_t size,
		     size_t *ret_consumed)
{
	struct dmabufd_region_stats st;
	size_t off = 0;
	int ret = 0;

	if (size == 0)
		return -ENODATA;
	dmabufd_region_stats(r, &st);
	uint8_t op = data[off++];
	uint32_t a = rd32(data, size, &off), b = rd32(data, size, &off);
	uint32_t npages = 1 + a % (st.npages < 4096 ? st.npages : 4096);
	uint32_t align = 1u << ((b >> 8) % 12);
	enum dmabufd_attribute attr = (enum dmabufd_attribute)((b & 0xff) % 3);
	bool movable = (op >> 4) & 1;
	uint32_t off32;
	struct dmabufd_region_plan *plan = NULL;

	switch (op & 7) {
	case 0:
	case 1:
		(void)dmabufd_region_alloc(r, npages, align, attr, movable, &off32);
		break;
	case 2:
		(void)dmabufd_region_claim(r, b % st.npages, npages, 1, attr, movable);
		break;
	case 3:
	case 4: {
		uint32_t nth[2] = {a % (st.n_allocations ? st.n_allocations : 1), 0};
		if (st.n_allocations && dmabufd_region_walk(r, nth_alloc_cb, nth))
			ret = dmabufd_region_unplace(r, nth[1]) == 0 ? 0 : -EUCLEAN;
		break;
	}
	case 5:
		if (op & 0x80)
			(void)dmabufd_region_unreserve(r, b % st.npages, 1 + a % 64);
		else
			(void)dmabufd_region_reserve(r, b % st.npages, 1 + a % 64);
		break;
	case 6:
		if (dmabufd_region_plan_for(r, npages, align, attr, movable, &plan) == 0) {
			if (dmabufd_region_apply_plan(r, plan) < 0 ||
			    (plan->has_target &&
			     dmabufd_region_alloc(r, npages, align, attr, movable, &off32) < 0))
				ret = -EUCLEAN;
		}
		break;
	default:
		if (dmabufd_region_plan_compact(r, &plan) == 0 && dmabufd_region_apply_plan(r, plan) < 0)
			ret = -EUCLEAN;
		break;
	}
	dmabufd_region_plan_destroy(plan);
	*ret_consumed = off < size ? off : size;
	if (ret == 0)
		ret = dmabufd_region_audit(r, NULL, 0);
	return ret;
}
