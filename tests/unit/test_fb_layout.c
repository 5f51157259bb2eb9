/* SPDX-License-Identifier: MIT */
/*
 * Layout engine tests. The expected layouts are computed here, from this
 * file's own transcription of the kernel's format table and of the default
 * alignment table (docs/FRAMEBUFFERS.md), with a straightforward reference
 * implementation of the documented layout rule — never by calling the code
 * under test.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include "fb_layout.h"

/*
 * Transcribed from __drm_format_info() in drivers/gpu/drm/drm_fourcc.c
 * (Linux 6.x): num_planes, cpp / char_per_block (all 1x1 blocks), hsub,
 * vsub, is_yuv.
 */
struct ref_format {
	uint32_t fourcc;
	const char *name;
	unsigned int planes;
	unsigned int cpp[3];
	unsigned int hsub, vsub;
	int is_yuv;
};

static const struct ref_format ref_formats[] = {
	{ DRM_FORMAT_XRGB8888, "XRGB8888", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_ARGB8888, "ARGB8888", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_XBGR8888, "XBGR8888", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_ABGR8888, "ABGR8888", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_RGB565, "RGB565", 1, { 2, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_RGB888, "RGB888", 1, { 3, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_BGR888, "BGR888", 1, { 3, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_XRGB2101010, "XRGB2101010", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_ARGB2101010, "ARGB2101010", 1, { 4, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_ABGR16161616F, "ABGR16161616F", 1, { 8, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_R8, "R8", 1, { 1, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_R16, "R16", 1, { 2, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_GR88, "GR88", 1, { 2, 0, 0 }, 1, 1, 0 },
	{ DRM_FORMAT_NV12, "NV12", 2, { 1, 2, 0 }, 2, 2, 1 },
	{ DRM_FORMAT_NV21, "NV21", 2, { 1, 2, 0 }, 2, 2, 1 },
	{ DRM_FORMAT_NV16, "NV16", 2, { 1, 2, 0 }, 2, 1, 1 },
	{ DRM_FORMAT_NV24, "NV24", 2, { 1, 2, 0 }, 1, 1, 1 },
	/* .char_per_block = { 2, 4, 0 }, .block_w = { 1, 1, 0 }, .block_h = { 1, 1, 0 } */
	{ DRM_FORMAT_P010, "P010", 2, { 2, 4, 0 }, 2, 2, 1 },
	{ DRM_FORMAT_P016, "P016", 2, { 2, 4, 0 }, 2, 2, 1 },
	{ DRM_FORMAT_YUV420, "YUV420", 3, { 1, 1, 1 }, 2, 2, 1 },
	{ DRM_FORMAT_YVU420, "YVU420", 3, { 1, 1, 1 }, 2, 2, 1 },
	{ DRM_FORMAT_YUV422, "YUV422", 3, { 1, 1, 1 }, 2, 1, 1 },
	{ DRM_FORMAT_YUV444, "YUV444", 3, { 1, 1, 1 }, 1, 1, 1 },
	{ DRM_FORMAT_YUYV, "YUYV", 1, { 2, 0, 0 }, 2, 1, 1 },
	{ DRM_FORMAT_UYVY, "UYVY", 1, { 2, 0, 0 }, 2, 1, 1 },
};
#define N_REF (sizeof(ref_formats) / sizeof(ref_formats[0]))

/* The documented default alignment table (docs/FRAMEBUFFERS.md). */
struct ref_rule {
	uint32_t usage;
	unsigned int stride, offset, halign_vsub, max_dim;
	int yuv_only;
};
static const struct ref_rule ref_rules[] = {
	{ DMABUFD_USAGE_SCANOUT, 64, 4096, 1, 0, 0 },
	{ DMABUFD_USAGE_RENDER, 256, 4096, 1, 0, 0 },
	{ DMABUFD_USAGE_TEXTURE, 256, 4096, 1, 0, 0 },
	{ DMABUFD_USAGE_VIDEO_DECODE, 64, 4096, 16, 8192, 1 },
	{ DMABUFD_USAGE_VIDEO_ENCODE, 64, 4096, 16, 8192, 0 },
	{ DMABUFD_USAGE_CAMERA, 64, 4096, 1, 0, 0 },
	{ DMABUFD_USAGE_CPU_READ, 4, 64, 1, 0, 0 },
	{ DMABUFD_USAGE_CPU_WRITE, 4, 64, 1, 0, 0 },
};
#define PAGE 4096u

struct ref_params {
	unsigned long long stride, offset, halign, halign_vsub, page;
};

static unsigned long long rup(unsigned long long v, unsigned long long a)
{
	return (v + a - 1) / a * a;
}

static unsigned long long cdiv(unsigned long long v, unsigned long long d)
{
	return (v + d - 1) / d;
}

/* Reference layout, written from the rule in docs/FRAMEBUFFERS.md. */
static void ref_layout(const struct ref_format *f, uint32_t width, uint32_t height,
		       const struct ref_params *p, struct fb_layout *out)
{
	/* Packed YUV (one plane, horizontally subsampled): whole macropixels. */
	unsigned long long w = (f->planes == 1 && f->hsub > 1) ? rup(width, f->hsub) : width;
	unsigned long long h = rup(height, p->halign);
	unsigned long long end = 0;

	if (f->vsub > 1)
		h = rup(h, p->halign_vsub);
	memset(out, 0, sizeof(*out));
	out->width = width;
	out->height = height;
	out->fourcc = f->fourcc;
	out->modifier = DRM_FORMAT_MOD_LINEAR;
	out->num_planes = f->planes;
	out->alloc_height = (uint32_t)h;
	for (unsigned int i = 0; i < f->planes; i++) {
		unsigned long long pw = i ? cdiv(w, f->hsub) : w;
		unsigned long long ph = i ? cdiv(h, f->vsub) : h;
		unsigned long long pitch = rup(pw * f->cpp[i], p->stride);
		unsigned long long off = rup(end, p->offset);
		out->offsets[i] = (uint32_t)off;
		out->pitches[i] = (uint32_t)pitch;
		out->sizes[i] = pitch * ph;
		end = off + pitch * ph;
	}
	out->size = rup(end, p->page);
}

static void ref_params_for_usage(uint32_t usage, struct ref_params *p)
{
	*p = (struct ref_params){ 1, 1, 1, 1, PAGE };
	for (size_t i = 0; i < sizeof(ref_rules) / sizeof(ref_rules[0]); i++) {
		if (!(usage & ref_rules[i].usage))
			continue;
		if (ref_rules[i].stride > p->stride)
			p->stride = ref_rules[i].stride;
		if (ref_rules[i].offset > p->offset)
			p->offset = ref_rules[i].offset;
		if (ref_rules[i].halign_vsub > p->halign_vsub)
			p->halign_vsub = ref_rules[i].halign_vsub;
	}
}

/* Field by field: struct padding is unspecified after a struct assignment. */
static int layout_equal(const struct fb_layout *a, const struct fb_layout *b)
{
	if (a->width != b->width || a->height != b->height || a->fourcc != b->fourcc ||
	    a->modifier != b->modifier || a->num_planes != b->num_planes || a->size != b->size ||
	    a->alloc_height != b->alloc_height)
		return 0;
	for (int i = 0; i < FB_MAX_PLANES; i++)
		if (a->offsets[i] != b->offsets[i] || a->pitches[i] != b->pitches[i] ||
		    a->sizes[i] != b->sizes[i])
			return 0;
	return 1;
}

static void assert_layout_eq(const struct fb_layout *got, const struct fb_layout *exp,
			     const char *what)
{
	if (layout_equal(got, exp))
		return;
	print_error("%s: layout mismatch\n", what);
	print_error("  got: %ux%u planes %u size %llu alloc_height %u\n", got->width, got->height,
		    got->num_planes, (unsigned long long)got->size, got->alloc_height);
	print_error("  exp: %ux%u planes %u size %llu alloc_height %u\n", exp->width, exp->height,
		    exp->num_planes, (unsigned long long)exp->size, exp->alloc_height);
	for (int i = 0; i < FB_MAX_PLANES; i++)
		print_error("  plane %d: got off %u pitch %u size %llu / exp off %u pitch %u size %llu\n",
			    i, got->offsets[i], got->pitches[i], (unsigned long long)got->sizes[i],
			    exp->offsets[i], exp->pitches[i], (unsigned long long)exp->sizes[i]);
	fail_msg("%s", what);
}

static const uint32_t sizes[][2] = {
	{ 1, 1 },	{ 2, 2 },	  { 3, 3 },	    { 1, 17 },	     { 17, 1 },
	{ 17, 9 },	{ 63, 31 },	  { 64, 64 },	    { 65, 33 },	     { 641, 479 },
	{ 1279, 719 },	{ 1920, 1080 },	  { 1921, 1081 },   { 3840, 2160 },  { 4095, 2161 },
	{ 8192, 8192 }, { 16383, 16383 }, { 16384, 16384 }, { 16384, 1 },    { 1, 16384 },
};

/* Every table row matches the test's own transcription, and vice versa. */
static void test_table_matches_kernel_transcription(void **state)
{
	(void)state;
	assert_int_equal(fb_format_count(), N_REF);
	for (size_t i = 0; i < N_REF; i++) {
		const struct ref_format *r = &ref_formats[i];
		const struct fb_format *f = fb_format_lookup(r->fourcc);
		assert_non_null(f);
		assert_string_equal(f->name, r->name);
		assert_int_equal(f->num_planes, r->planes);
		for (unsigned int p = 0; p < 3; p++)
			assert_int_equal(f->cpp[p], r->cpp[p]);
		assert_int_equal(f->cpp[3], 0);
		assert_int_equal(f->hsub, r->hsub);
		assert_int_equal(f->vsub, r->vsub);
		assert_int_equal(!!f->is_yuv, r->is_yuv);
		assert_int_equal(!!f->packed, r->planes == 1 && r->hsub > 1);
	}
	for (size_t i = 0; i < fb_format_count(); i++)
		assert_ptr_equal(fb_format_lookup(fb_format_at(i)->fourcc), fb_format_at(i));
	assert_null(fb_format_at(fb_format_count()));
}

/* The layouts of every format at every size, for single usages and unions. */
static void test_all_formats_all_sizes_default_rules(void **state)
{
	static const uint32_t usages[] = {
		DMABUFD_USAGE_SCANOUT,
		DMABUFD_USAGE_RENDER | DMABUFD_USAGE_TEXTURE,
		DMABUFD_USAGE_CPU_WRITE,
		DMABUFD_USAGE_CPU_READ | DMABUFD_USAGE_CPU_WRITE,
		DMABUFD_USAGE_CAMERA | DMABUFD_USAGE_CPU_READ,
		DMABUFD_USAGE_VIDEO_DECODE,
		DMABUFD_USAGE_VIDEO_DECODE | DMABUFD_USAGE_SCANOUT,
		DMABUFD_USAGE_VIDEO_ENCODE | DMABUFD_USAGE_RENDER,
		DMABUFD_USAGE_ALL,
	};
	unsigned int checked = 0, refused = 0;

	(void)state;
	for (size_t u = 0; u < sizeof(usages) / sizeof(usages[0]); u++) {
		uint32_t usage = usages[u];
		int video = !!(usage & (DMABUFD_USAGE_VIDEO_DECODE | DMABUFD_USAGE_VIDEO_ENCODE));
		int yuv_only = !!(usage & DMABUFD_USAGE_VIDEO_DECODE);
		struct ref_params p;

		ref_params_for_usage(usage, &p);
		for (size_t i = 0; i < N_REF; i++) {
			const struct ref_format *f = &ref_formats[i];
			for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
				struct fb_layout_request req = {
					.width = sizes[s][0],
					.height = sizes[s][1],
					.fourcc = f->fourcc,
					.modifier = DRM_FORMAT_MOD_LINEAR,
					.usage = usage,
				};
				struct fb_layout got, exp;
				char what[128];
				int r = fb_layout_compute(&req, NULL, &got);

				snprintf(what, sizeof(what), "%s %ux%u usage 0x%x", f->name,
					 req.width, req.height, usage);
				if ((yuv_only && !f->is_yuv) ||
				    (video && (req.width > 8192 || req.height > 8192))) {
					if (r != -EOPNOTSUPP)
						fail_msg("%s: expected -EOPNOTSUPP, got %d", what, r);
					refused++;
					continue;
				}
				if (r != 0)
					fail_msg("%s: expected success, got %d", what, r);
				ref_layout(f, req.width, req.height, &p, &exp);
				assert_layout_eq(&got, &exp, what);
				checked++;
			}
		}
	}
	/* Both branches ran. */
	assert_true(checked > 1000);
	assert_true(refused > 100);
}

/* A tight table (everything 1, page 1): the raw kernel plane arithmetic. */
static void test_all_formats_tight_rules(void **state)
{
	struct fb_align_rules rules = fb_align_rules_default;
	struct ref_params p = { 1, 1, 1, 1, 1 };

	(void)state;
	rules.page_size = 1;
	rules.max_size = UINT64_MAX;
	assert_int_equal(fb_align_rules_set(&rules, "cpu-write", "stride_align", "1"), 0);
	assert_int_equal(fb_align_rules_set(&rules, "cpu-write", "offset_align", "1"), 0);
	assert_int_equal(fb_align_rules_validate(&rules), 0);
	for (size_t i = 0; i < N_REF; i++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			const struct ref_format *f = &ref_formats[i];
			struct fb_layout_request req = { sizes[s][0], sizes[s][1], f->fourcc,
							 DRM_FORMAT_MOD_LINEAR,
							 DMABUFD_USAGE_CPU_WRITE };
			struct fb_layout got, exp;
			char what[128];

			snprintf(what, sizeof(what), "tight %s %ux%u", f->name, req.width, req.height);
			assert_int_equal(fb_layout_compute(&req, &rules, &got), 0);
			ref_layout(f, req.width, req.height, &p, &exp);
			assert_layout_eq(&got, &exp, what);
			/* The kernel's minimum pitch (drm_format_info_min_pitch) is met. */
			for (unsigned int pl = 0; pl < f->planes; pl++) {
				unsigned long long pw = pl ? cdiv(req.width, f->hsub) : req.width;
				assert_true(got.pitches[pl] >= pw * f->cpp[pl]);
			}
		}
	}
}

/* Hand-computed spot checks, so the reference itself is checked too. */
static void test_known_layouts(void **state)
{
	struct fb_layout l;
	struct fb_layout_request req = { 1920, 1080, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
					 DMABUFD_USAGE_SCANOUT };

	(void)state;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.num_planes, 1);
	assert_int_equal(l.pitches[0], 7680);
	assert_int_equal(l.offsets[0], 0);
	assert_int_equal(l.sizes[0], 8294400);
	assert_int_equal(l.size, 8294400); /* 2025 pages exactly */
	assert_int_equal(l.pitches[1], 0);
	assert_int_equal(l.sizes[1], 0);

	/* NV12 1080p for a decoder: luma rows padded to 1088. */
	req = (struct fb_layout_request){ 1920, 1080, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
					  DMABUFD_USAGE_VIDEO_DECODE };
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.alloc_height, 1088);
	assert_int_equal(l.num_planes, 2);
	assert_int_equal(l.pitches[0], 1920);
	assert_int_equal(l.sizes[0], 1920 * 1088);
	assert_int_equal(l.offsets[1], 2088960);
	assert_int_equal(l.pitches[1], 1920);
	assert_int_equal(l.sizes[1], 1920 * 544);
	assert_int_equal(l.size, 3133440);

	/* The same for scanout only: no height padding, chroma page-aligned. */
	req.usage = DMABUFD_USAGE_SCANOUT;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.alloc_height, 1080);
	assert_int_equal(l.offsets[1], 2076672); /* 1920*1080 = 2073600 -> 507 pages */
	assert_int_equal(l.sizes[1], 1920 * 540);
	assert_int_equal(l.size, 3117056);       /* 2076672 + 1036800 = 3113472 -> 761 pages */

	/* Odd-width packed YUYV: the last macropixel is whole (4 px -> 8 bytes). */
	req = (struct fb_layout_request){ 3, 3, DRM_FORMAT_YUYV, DRM_FORMAT_MOD_LINEAR,
					  DMABUFD_USAGE_CPU_WRITE };
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.pitches[0], 8);
	assert_int_equal(l.sizes[0], 24);
	assert_int_equal(l.size, 4096);

	/* Odd YUV420 3x3 for the CPU: chroma 2x2 samples. */
	req.fourcc = DRM_FORMAT_YUV420;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.pitches[0], 4);  /* 3 -> 4-byte stride */
	assert_int_equal(l.sizes[0], 12);
	assert_int_equal(l.offsets[1], 64); /* cache-line plane offsets */
	assert_int_equal(l.pitches[1], 4);
	assert_int_equal(l.sizes[1], 8);
	assert_int_equal(l.offsets[2], 128);
	assert_int_equal(l.sizes[2], 8);

	/* Largest: 16384^2 ABGR16161616F is exactly 2 GiB. */
	req = (struct fb_layout_request){ 16384, 16384, DRM_FORMAT_ABGR16161616F,
					  DRM_FORMAT_MOD_LINEAR, DMABUFD_USAGE_RENDER };
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	assert_int_equal(l.pitches[0], 131072);
	assert_int_equal(l.size, UINT64_C(1) << 31);
}

/* A refused request leaves *ret untouched. */
static void assert_refused(const struct fb_layout_request *req, const struct fb_align_rules *rules,
			   int expected)
{
	struct fb_layout l, canary;

	memset(&l, 0xa5, sizeof(l));
	memcpy(&canary, &l, sizeof(canary));
	int r = fb_layout_compute(req, rules, &l);
	if (r != expected)
		fail_msg("%ux%u fourcc 0x%08x mod 0x%llx usage 0x%x: expected %d, got %d",
			 req->width, req->height, req->fourcc, (unsigned long long)req->modifier,
			 req->usage, expected, r);
	assert_memory_equal(&l, &canary, sizeof(l));
}

static const struct fb_layout_request good = { 640, 480, DRM_FORMAT_XRGB8888,
					       DRM_FORMAT_MOD_LINEAR, DMABUFD_USAGE_SCANOUT };

static void test_bad_sizes(void **state)
{
	static const uint32_t einval[] = { 0, UINT32_MAX, (uint32_t)INT32_MIN,
					   (uint32_t)-16384, (uint32_t)INT32_MAX + 1 };
	static const uint32_t e2big[] = { 16385, 16400, 65536, 1u << 20, INT32_MAX };
	struct fb_layout_request req;
	struct fb_layout l;

	(void)state;
	assert_int_equal(fb_layout_compute(&good, NULL, &l), 0);
	for (size_t i = 0; i < sizeof(einval) / sizeof(einval[0]); i++) {
		req = good;
		req.width = einval[i];
		assert_refused(&req, NULL, -EINVAL);
		req = good;
		req.height = einval[i];
		assert_refused(&req, NULL, -EINVAL);
	}
	for (size_t i = 0; i < sizeof(e2big) / sizeof(e2big[0]); i++) {
		req = good;
		req.width = e2big[i];
		assert_refused(&req, NULL, -E2BIG);
		req = good;
		req.height = e2big[i];
		assert_refused(&req, NULL, -E2BIG);
	}
	/* Both at the limit is fine; one above is not. */
	req = good;
	req.width = req.height = 16384;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	req.width = 16385;
	assert_refused(&req, NULL, -E2BIG);

	/* NULLs. */
	assert_int_equal(fb_layout_compute(NULL, NULL, &l), -EINVAL);
	assert_int_equal(fb_layout_compute(&good, NULL, NULL), -EINVAL);
}

static void test_bad_fourcc(void **state)
{
	static const uint32_t bad[] = {
		0, /* DRM_FORMAT_INVALID */
		fourcc_code('Z', 'Z', 'Z', 'Z'),
		DRM_FORMAT_C8,       /* real, not in the table */
		DRM_FORMAT_XRGB1555, /* real, not in the table */
		DRM_FORMAT_XRGB8888 | DRM_FORMAT_BIG_ENDIAN,
		UINT32_MAX,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fb_layout_request req = good;
		req.fourcc = bad[i];
		assert_refused(&req, NULL, -EINVAL);
	}
}

static void test_modifiers(void **state)
{
	static const uint64_t unsupported[] = {
		I915_FORMAT_MOD_X_TILED,
		I915_FORMAT_MOD_Y_TILED,
		DRM_FORMAT_MOD_ARM_AFBC(AFBC_FORMAT_MOD_BLOCK_SIZE_16x16),
		DRM_FORMAT_MOD_BROADCOM_VC4_T_TILED,
		fourcc_mod_code(NONE, 1),
		UINT64_MAX,
	};
	(void)state;
	struct fb_layout_request req = good;
	req.modifier = DRM_FORMAT_MOD_INVALID;
	assert_refused(&req, NULL, -EINVAL);
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		req.modifier = unsupported[i];
		assert_refused(&req, NULL, -EOPNOTSUPP);
	}
}

static void test_bad_usage(void **state)
{
	struct fb_layout_request req = good;
	struct fb_align_rules rules = fb_align_rules_default;

	(void)state;
	req.usage = 0;
	assert_refused(&req, NULL, -EINVAL);
	req.usage = 1u << DMABUFD_USAGE_COUNT;
	assert_refused(&req, NULL, -EINVAL);
	req.usage = DMABUFD_USAGE_SCANOUT | 0x80000000u;
	assert_refused(&req, NULL, -EINVAL);

	/* Decoders write YUV: an RGB decode target cannot be met by default. */
	req.usage = DMABUFD_USAGE_VIDEO_DECODE;
	assert_refused(&req, NULL, -EOPNOTSUPP);
	req.usage = DMABUFD_USAGE_VIDEO_DECODE | DMABUFD_USAGE_SCANOUT;
	assert_refused(&req, NULL, -EOPNOTSUPP);

	/* 16K is within the global limit but above the decoder's 8K. */
	req = (struct fb_layout_request){ 16384, 4320, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
					  DMABUFD_USAGE_SCANOUT };
	struct fb_layout l;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	req.usage |= DMABUFD_USAGE_VIDEO_DECODE;
	assert_refused(&req, NULL, -EOPNOTSUPP);
	req.width = 8192;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);

	/* A configured conflict: RGB-only scanout + YUV-only decode = nothing. */
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "classes", "rgb"), 0);
	assert_int_equal(fb_align_rules_validate(&rules), 0);
	req = (struct fb_layout_request){ 1920, 1080, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
					  DMABUFD_USAGE_SCANOUT | DMABUFD_USAGE_VIDEO_DECODE };
	assert_refused(&req, &rules, -EOPNOTSUPP);
	req.fourcc = DRM_FORMAT_XRGB8888;
	assert_refused(&req, &rules, -EOPNOTSUPP);
	req.usage = DMABUFD_USAGE_SCANOUT;
	assert_int_equal(fb_layout_compute(&req, &rules, &l), 0);
}

static void test_overflow_and_limits(void **state)
{
	struct fb_align_rules rules = fb_align_rules_default;
	struct fb_layout_request req = { 16384, 16384, DRM_FORMAT_ABGR16161616F,
					 DRM_FORMAT_MOD_LINEAR, DMABUFD_USAGE_RENDER };
	struct fb_layout l;

	(void)state;
	/* 2 GiB fits the default 4 GiB; a 1 GiB limit refuses it. */
	assert_int_equal(fb_layout_compute(&req, &rules, &l), 0);
	assert_int_equal(fb_align_rules_set(&rules, "global", "max_size", "0x40000000"), 0);
	assert_refused(&req, &rules, -E2BIG);

	/* Largest alignments: 2^30 stride x 2^30 rows = 2^60 bytes. */
	rules = fb_align_rules_default;
	assert_int_equal(fb_align_rules_set(&rules, "render", "stride_align", "1073741824"), 0);
	assert_int_equal(fb_align_rules_set(&rules, "render", "height_align", "1073741824"), 0);
	assert_int_equal(fb_align_rules_validate(&rules), 0);
	assert_refused(&req, &rules, -E2BIG); /* above max_size */
	rules.max_size = UINT64_MAX;
	assert_int_equal(fb_layout_compute(&req, &rules, &l), 0);
	assert_int_equal(l.pitches[0], 1u << 30);
	assert_int_equal(l.alloc_height, 1u << 30);
	assert_true(l.size == UINT64_C(1) << 60);
	/* A second plane would start above 4 GiB: DRM offsets are 32-bit. */
	req.fourcc = DRM_FORMAT_NV12;
	assert_refused(&req, &rules, -E2BIG);

	/* Rules that fail validation are refused before any arithmetic. */
	static const char *bad_align[] = { "0", "3", "96", "2147483648" };
	for (size_t i = 0; i < sizeof(bad_align) / sizeof(bad_align[0]); i++) {
		rules = fb_align_rules_default;
		assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", bad_align[i]),
				 0);
		assert_int_equal(fb_align_rules_validate(&rules), -EINVAL);
		assert_refused(&good, &rules, -EINVAL);
	}
	rules = fb_align_rules_default;
	rules.page_size = 0;
	assert_refused(&good, &rules, -EINVAL);
	rules = fb_align_rules_default;
	rules.max_width = FB_MAX_DIMENSION + 1;
	assert_refused(&good, &rules, -EINVAL);
	rules = fb_align_rules_default;
	rules.max_size = 0;
	assert_refused(&good, &rules, -EINVAL);
	rules = fb_align_rules_default;
	rules.usage[2].classes = 0;
	assert_refused(&good, &rules, -EINVAL);
	rules = fb_align_rules_default;
	rules.base.classes = 4;
	assert_refused(&good, &rules, -EINVAL);
	assert_int_equal(fb_align_rules_validate(NULL), -EINVAL);
	assert_int_equal(fb_align_rules_validate(&fb_align_rules_default), 0);

	/* A lowered global limit. */
	rules = fb_align_rules_default;
	assert_int_equal(fb_align_rules_set(&rules, "global", "max_width", "4096"), 0);
	req = good;
	req.width = 4097;
	assert_refused(&req, &rules, -E2BIG);
	req.width = 4096;
	assert_int_equal(fb_layout_compute(&req, &rules, &l), 0);
}

static void test_rules_set(void **state)
{
	struct fb_align_rules rules = fb_align_rules_default;

	(void)state;
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", "256"), 0);
	assert_int_equal(rules.usage[0].stride_align, 256);
	assert_int_equal(fb_align_rules_set(&rules, "video-decode", "height_align_vsub", "0x20"), 0);
	assert_int_equal(rules.usage[3].height_align_vsub, 32);
	assert_int_equal(fb_align_rules_set(&rules, "base", "offset_align", "128"), 0);
	assert_int_equal(rules.base.offset_align, 128);
	assert_int_equal(fb_align_rules_set(&rules, "camera", "classes", "yuv,rgb"), 0);
	assert_int_equal(rules.usage[5].classes, FB_CLASS_ALL);
	assert_int_equal(fb_align_rules_set(&rules, "global", "page_size", "16384"), 0);
	assert_int_equal(rules.page_size, 16384);
	assert_int_equal(fb_align_rules_validate(&rules), 0);

	struct fb_align_rules before;
	memcpy(&before, &rules, sizeof(before)); /* padding included */
	assert_int_equal(fb_align_rules_set(&rules, "bogus", "stride_align", "64"), -ENOENT);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "bogus", "64"), -ENOENT);
	assert_int_equal(fb_align_rules_set(&rules, "global", "stride_align", "64"), -ENOENT);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", "-1"), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", " 64"), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", "64k"), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", ""), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "stride_align", "4294967296"),
			 -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "classes", "rgb,"), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "scanout", "classes", "cmyk"), -EINVAL);
	assert_int_equal(fb_align_rules_set(&rules, "global", "max_size", "-5"), -EINVAL);
	assert_int_equal(fb_align_rules_set(NULL, "scanout", "stride_align", "64"), -EINVAL);
	assert_memory_equal(&rules, &before, sizeof(rules));
}

static void test_names(void **state)
{
	uint32_t u = 0;

	(void)state;
	assert_int_equal(fb_format_from_name("XRGB8888")->fourcc, DRM_FORMAT_XRGB8888);
	assert_int_equal(fb_format_from_name("xrgb8888")->fourcc, DRM_FORMAT_XRGB8888);
	assert_int_equal(fb_format_from_name("DRM_FORMAT_NV12")->fourcc, DRM_FORMAT_NV12);
	assert_int_equal(fb_format_from_name("XR24")->fourcc, DRM_FORMAT_XRGB8888);
	assert_int_equal(fb_format_from_name("AB4H")->fourcc, DRM_FORMAT_ABGR16161616F);
	assert_int_equal(fb_format_from_name("R8")->fourcc, DRM_FORMAT_R8);
	assert_int_equal(fb_format_from_name("YU12")->fourcc, DRM_FORMAT_YUV420);
	assert_null(fb_format_from_name("C8"));
	assert_null(fb_format_from_name("XRGB88888"));
	assert_null(fb_format_from_name(""));
	assert_null(fb_format_from_name(NULL));

	assert_string_equal(fb_usage_name(DMABUFD_USAGE_SCANOUT), "scanout");
	assert_string_equal(fb_usage_name(DMABUFD_USAGE_CPU_WRITE), "cpu-write");
	assert_null(fb_usage_name(0));
	assert_null(fb_usage_name(3));
	assert_null(fb_usage_name(1u << DMABUFD_USAGE_COUNT));
	assert_int_equal(fb_usage_from_string("scanout,render", &u), 0);
	assert_int_equal(u, DMABUFD_USAGE_SCANOUT | DMABUFD_USAGE_RENDER);
	assert_int_equal(fb_usage_from_string("Video-Decode", &u), 0);
	assert_int_equal(u, DMABUFD_USAGE_VIDEO_DECODE);
	u = 42;
	assert_int_equal(fb_usage_from_string("", &u), -EINVAL);
	assert_int_equal(fb_usage_from_string("scanout,,render", &u), -EINVAL);
	assert_int_equal(fb_usage_from_string("scanout,", &u), -EINVAL);
	assert_int_equal(fb_usage_from_string("scan", &u), -EINVAL);
	assert_int_equal(u, 42);
}

static void test_describe(void **state)
{
	struct fb_layout l;
	char buf[512];
	struct fb_layout_request req = { 1920, 1080, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
					 DMABUFD_USAGE_SCANOUT };

	(void)state;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	int n = fb_layout_describe(&l, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_string_equal(buf,
			    "1920x1080 NV12 (NV12) modifier LINEAR (0x0000000000000000) planes 2 "
			    "size 3117056\n"
			    "  plane 0: offset 0 pitch 1920 size 2073600\n"
			    "  plane 1: offset 2076672 pitch 1920 size 1036800\n");

	req.fourcc = DRM_FORMAT_XRGB8888;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	n = fb_layout_describe(&l, buf, sizeof(buf));
	assert_true(n > 0);
	/* drmGetFormatName() gives the 4-character code. */
	assert_non_null(strstr(buf, " XR24 (XRGB8888) "));

	assert_int_equal(fb_layout_describe(&l, buf, 10), -ENOBUFS);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(fb_layout_describe(&l, buf, (size_t)n), -ENOBUFS);
	assert_int_equal(fb_layout_describe(&l, buf, (size_t)n + 1), n);
	assert_int_equal(fb_layout_describe(&l, NULL, 10), -EINVAL);
	assert_int_equal(fb_layout_describe(NULL, buf, 10), -EINVAL);
}

static void test_validate(void **state)
{
	struct fb_layout good_l, l;
	struct fb_layout_request req = { 1921, 1081, DRM_FORMAT_NV12, DRM_FORMAT_MOD_LINEAR,
					 DMABUFD_USAGE_VIDEO_DECODE };

	(void)state;
	/* Everything the engine produces passes. */
	for (size_t i = 0; i < N_REF; i++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct fb_layout_request r = { sizes[s][0], sizes[s][1],
						       ref_formats[i].fourcc,
						       DRM_FORMAT_MOD_LINEAR,
						       DMABUFD_USAGE_CPU_READ };
			assert_int_equal(fb_layout_compute(&r, NULL, &l), 0);
			assert_int_equal(fb_layout_validate(&l), 0);
		}
	}
	assert_int_equal(fb_layout_compute(&req, NULL, &good_l), 0);
	assert_int_equal(fb_layout_validate(&good_l), 0);
	assert_int_equal(fb_layout_validate(NULL), -EINVAL);

#define BROKEN(stmt)                                              \
	do {                                                      \
		l = good_l;                                       \
		stmt;                                             \
		assert_int_equal(fb_layout_validate(&l), -EPROTO); \
	} while (0)
	BROKEN(l.width = 0);
	BROKEN(l.height = 16385);
	BROKEN(l.fourcc = DRM_FORMAT_C8);
	BROKEN(l.num_planes = 1);
	BROKEN(l.num_planes = 3);
	BROKEN(l.num_planes = 0);
	BROKEN(l.size = 0);
	BROKEN(l.size = l.offsets[1] + l.sizes[1] - 1);      /* plane 1 sticks out */
	BROKEN(l.offsets[1] = 4096);                         /* overlaps plane 0 */
	BROKEN(l.offsets[1] = UINT32_MAX);                   /* beyond the buffer */
	BROKEN(l.sizes[1] = UINT64_MAX);                     /* offset + size overflows */
	BROKEN(l.pitches[0] = 1920);                         /* < 1921 bytes per row */
	BROKEN(l.pitches[1] = 0);
	BROKEN(l.sizes[0] = (uint64_t)l.pitches[0] * 1081 - 1); /* < pitch x rows */
	BROKEN(l.sizes[1] = (uint64_t)l.pitches[1] * 541 - 1);
	BROKEN(l.pitches[2] = 64);                           /* unused entry set */
	BROKEN(l.sizes[3] = 1);
#undef BROKEN
	/* The padded rows are not required: exactly pitch x height is enough. */
	l = good_l;
	l.sizes[0] = (uint64_t)l.pitches[0] * 1081;
	assert_int_equal(fb_layout_validate(&l), 0);
	/* A tiled modifier: only the structural checks. */
	l = good_l;
	l.modifier = I915_FORMAT_MOD_Y_TILED;
	l.pitches[0] = 128;
	assert_int_equal(fb_layout_validate(&l), 0);
	l.offsets[1] = 0;
	assert_int_equal(fb_layout_validate(&l), -EPROTO);
}

static void test_framebuffer_conversion(void **state)
{
	struct fb_layout l, back;
	struct dmabufd_framebuffer fb;
	struct fb_layout_request req = { 1279, 719, DRM_FORMAT_YUV420, DRM_FORMAT_MOD_LINEAR,
					 DMABUFD_USAGE_SCANOUT };

	(void)state;
	assert_int_equal(fb_layout_compute(&req, NULL, &l), 0);
	memset(&fb, 0xa5, sizeof(fb));
	fb_layout_to_framebuffer(&l, 42, 7, &fb);
	assert_int_equal(fb.id, 42);
	assert_int_equal(fb.fd, 7);
	assert_int_equal(fb.width, 1279);
	assert_int_equal(fb.height, 719);
	assert_int_equal(fb.fourcc, DRM_FORMAT_YUV420);
	assert_int_equal(fb.modifier, DRM_FORMAT_MOD_LINEAR);
	assert_int_equal(fb.num_planes, 3);
	assert_int_equal(fb.size, l.size);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fb.offsets[i], l.offsets[i]);
		assert_int_equal(fb.pitches[i], l.pitches[i]);
		assert_int_equal(fb.sizes[i], l.sizes[i]);
	}
	fb_layout_from_framebuffer(&fb, &back);
	assert_layout_eq(&back, &l, "round trip"); /* alloc_height == height here */
	assert_int_equal(fb_layout_validate(&back), 0);
}

static void test_parse_size(void **state)
{
	uint32_t w = 1, h = 2;

	(void)state;
	assert_int_equal(fb_parse_size("1920x1080", &w, &h), 0);
	assert_int_equal(w, 1920);
	assert_int_equal(h, 1080);
	assert_int_equal(fb_parse_size("3X5", &w, &h), 0);
	assert_int_equal(w, 3);
	assert_int_equal(h, 5);
	assert_int_equal(fb_parse_size("4294967295x1", &w, &h), 0);
	assert_int_equal(w, UINT32_MAX);

	static const char *bad[] = {
		"", "x", "1920", "1920x", "x1080", "0x1080", "1920x0", "-1x5", "+1x5",
		"1920 x1080", "1920x1080 ", "1920x1080x1", "4294967296x1", "99999999999x1",
		"0x10", "1e3x1", "1920*1080", "00000000001920x1080",
	};
	w = 11;
	h = 12;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fb_parse_size(bad[i], &w, &h) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(w, 11);
	assert_int_equal(h, 12);
	assert_int_equal(fb_parse_size(NULL, &w, &h), -EINVAL);
	assert_int_equal(fb_parse_size("1x1", NULL, &h), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_kernel_transcription),
		cmocka_unit_test(test_all_formats_all_sizes_default_rules),
		cmocka_unit_test(test_all_formats_tight_rules),
		cmocka_unit_test(test_known_layouts),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_bad_fourcc),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_overflow_and_limits),
		cmocka_unit_test(test_rules_set),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_framebuffer_conversion),
		cmocka_unit_test(test_parse_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
