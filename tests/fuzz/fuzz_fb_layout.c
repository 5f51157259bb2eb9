/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target (c): the framebuffer layout calculator (common/fb_layout.c),
 * the arithmetic between an untrusted AllocFramebuffer request and the size
 * of a buffer, and its wire-side validator.
 *
 * Input: mode byte, then mode-specific bytes (missing bytes read as 0):
 *   mode % 4 == 0  compute with the default rules:
 *                  width u32, height u32, fourcc (u8 table index, or a raw
 *                  u32 when the selector byte is odd), modifier selector u8
 *                  (LINEAR, INVALID, or a raw u64), usage u32
 *   mode % 4 == 1  the same request, after up to 4 overrides of the rules
 *                  through fb_align_rules_set() (usage name, key, value
 *                  string, picked by the input) — the config-file path
 *   mode % 4 == 2  fb_layout_validate() on an arbitrary struct fb_layout
 *                  (a malformed AllocFramebuffer reply)
 *   mode % 4 == 3  the string parsers: fb_format_from_name() and
 *                  fb_usage_from_string() on the rest of the input
 * Checked (abort() on violation): a layout that fb_layout_compute() accepts
 * also passes fb_layout_validate(), fits the rules' max_size, is a whole
 * number of pages, and has every plane inside the buffer; describe() never
 * overruns a short buffer (ASan) and always NUL-terminates.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm_fourcc.h>

#include "fb_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reader {
	const uint8_t *p;
	size_t n, off;
};

static uint64_t rd(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)(r->off < r->n ? r->p[r->off++] : 0) << (8 * i);
	return v;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_fb_layout: invariant violated: %s\n", what);
		abort();
	}
}

static void read_request(struct reader *r, struct fb_layout_request *req)
{
	uint8_t sel;

	req->width = (uint32_t)rd(r, 4);
	req->height = (uint32_t)rd(r, 4);
	sel = (uint8_t)rd(r, 1);
	if (sel & 1) {
		req->fourcc = (uint32_t)rd(r, 4);
	} else {
		const struct fb_format *f = fb_format_at((sel >> 1) % fb_format_count());

		req->fourcc = f ? f->fourcc : 0;
	}
	sel = (uint8_t)rd(r, 1);
	req->modifier = sel % 4 == 0   ? DRM_FORMAT_MOD_LINEAR
			: sel % 4 == 1 ? DRM_FORMAT_MOD_INVALID
				       : rd(r, 8);
	req->usage = (uint32_t)rd(r, 4);
	/* Keep most requests inside the known usage bits to go deeper. */
	if (!(sel & 0x80))
		req->usage &= DMABUFD_USAGE_ALL;
}

static void compute_and_check(const struct fb_layout_request *req, const struct fb_align_rules *rules)
{
	const struct fb_align_rules *eff = rules ? rules : &fb_align_rules_default;
	struct fb_layout l;
	char small[24], big[1024];
	int n;

	memset(&l, 0xa5, sizeof(l));
	if (fb_layout_compute(req, rules, &l) != 0)
		return;
	check(fb_layout_validate(&l) == 0, "computed layout fails fb_layout_validate()");
	check(l.size > 0 && l.size <= eff->max_size, "size is 0 or above max_size");
	check(eff->page_size && l.size % eff->page_size == 0, "size is not a whole number of pages");
	check(l.num_planes >= 1 && l.num_planes <= FB_MAX_PLANES, "plane count");
	for (uint32_t i = 0; i < l.num_planes; i++) {
		check(l.pitches[i] > 0, "zero pitch");
		check((uint64_t)l.offsets[i] + l.sizes[i] <= l.size, "plane outside the buffer");
	}
	check(l.width == req->width && l.height == req->height && l.fourcc == req->fourcc,
	      "layout does not echo the request");
	n = fb_layout_describe(&l, small, sizeof(small));
	check(n == -ENOBUFS || (n >= 0 && (size_t)n < sizeof(small)), "describe (short buffer)");
	check(memchr(small, '\0', sizeof(small)) != NULL, "describe did not NUL-terminate");
	n = fb_layout_describe(&l, big, sizeof(big));
	check(n == -ENOBUFS || n == -ENOMEM || (n >= 0 && (size_t)n == strlen(big)),
	      "describe length");
}

static const char *const usages[] = { "base", "global", "scanout", "render", "texture",
				      "video-decode", "video-encode", "camera", "cpu-read",
				      "cpu-write", "bogus" };
static const char *const keys[] = { "stride_align", "offset_align", "height_align",
				    "height_align_vsub", "max_width", "max_height", "classes",
				    "page_size", "max_size", "bogus" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { .p = data, .n = size };
	struct fb_layout_request req;
	uint8_t mode = (uint8_t)rd(&r, 1);

	switch (mode % 4) {
	case 0:
		read_request(&r, &req);
		compute_and_check(&req, NULL);
		break;
	case 1: {
		struct fb_align_rules rules = fb_align_rules_default;
		unsigned n = (mode >> 2) % 5;

		for (unsigned i = 0; i < n; i++) {
			char value[24];
			unsigned len = (unsigned)rd(&r, 1) % (sizeof(value) - 1);
			const char *u = usages[rd(&r, 1) % (sizeof(usages) / sizeof(usages[0]))];
			const char *k = keys[rd(&r, 1) % (sizeof(keys) / sizeof(keys[0]))];

			for (unsigned j = 0; j < len; j++)
				value[j] = (char)rd(&r, 1);
			value[len] = '\0';
			(void)fb_align_rules_set(&rules, u, k, value);
		}
		read_request(&r, &req);
		if (fb_align_rules_validate(&rules) == 0)
			compute_and_check(&req, &rules);
		else
			check(fb_layout_compute(&req, &rules, &(struct fb_layout){ 0 }) != 0,
			      "compute accepted rules that fail validation");
		break;
	}
	case 2: {
		struct fb_layout l;
		size_t take = size - r.off < sizeof(l) ? size - r.off : sizeof(l);

		memset(&l, 0, sizeof(l));
		memcpy(&l, data + r.off, take);
		(void)fb_layout_validate(&l);
		break;
	}
	default: {
		size_t len = size - r.off;
		char *s = malloc(len + 1);
		uint32_t bits;

		if (!s)
			return 0;
		memcpy(s, data + r.off, len);
		s[len] = '\0';
		(void)fb_format_from_name(s);
		(void)fb_usage_from_string(s, &bits);
		free(s);
		break;
	}
	}
	return 0;
}
