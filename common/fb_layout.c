/* SPDX-License-Identifier: MIT */
#include "fb_layout.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <drm_fourcc.h>
#include <xf86drm.h>

#include "macros.h"

/*
 * The format table. Every row is transcribed from the kernel's
 * __drm_format_info() table in drivers/gpu/drm/drm_fourcc.c: .num_planes,
 * .cpp (or .char_per_block with 1x1 .block_w/.block_h, as P010/P016 are
 * written there), .hsub, .vsub, .is_yuv. tests/unit/test_fb_layout.c holds
 * its own transcription and checks this one against it.
 */
#define RGB1(fmt, bytes) \
	{ .fourcc = DRM_FORMAT_##fmt, .name = #fmt, .num_planes = 1, .cpp = { bytes }, \
	  .hsub = 1, .vsub = 1 }
#define YUV(fmt, planes, c0, c1, c2, h, v, pk) \
	{ .fourcc = DRM_FORMAT_##fmt, .name = #fmt, .num_planes = planes, \
	  .cpp = { c0, c1, c2 }, .hsub = h, .vsub = v, .is_yuv = true, .packed = pk }

static const struct fb_format formats[] = {
	RGB1(XRGB8888, 4),
	RGB1(ARGB8888, 4),
	RGB1(XBGR8888, 4),
	RGB1(ABGR8888, 4),
	RGB1(RGB565, 2),
	RGB1(RGB888, 3),
	RGB1(BGR888, 3),
	RGB1(XRGB2101010, 4),
	RGB1(ARGB2101010, 4),
	RGB1(ABGR16161616F, 8),
	RGB1(R8, 1),
	RGB1(R16, 2),
	RGB1(GR88, 2),
	/*    fourcc  planes cpp        hsub vsub packed */
	YUV(NV12, 2, 1, 2, 0, 2, 2, false),
	YUV(NV21, 2, 1, 2, 0, 2, 2, false),
	YUV(NV16, 2, 1, 2, 0, 2, 1, false),
	YUV(NV24, 2, 1, 2, 0, 1, 1, false),
	YUV(P010, 2, 2, 4, 0, 2, 2, false),
	YUV(P016, 2, 2, 4, 0, 2, 2, false),
	YUV(YUV420, 3, 1, 1, 1, 2, 2, false),
	YUV(YVU420, 3, 1, 1, 1, 2, 2, false),
	YUV(YUV422, 3, 1, 1, 1, 2, 1, false),
	YUV(YUV444, 3, 1, 1, 1, 1, 1, false),
	YUV(YUYV, 1, 2, 0, 0, 2, 1, true),
	YUV(UYVY, 1, 2, 0, 0, 2, 1, true),
};

size_t fb_format_count(void)
{
	return ARRAY_SIZE(formats);
}

const struct fb_format *fb_format_at(size_t index)
{
	return index < ARRAY_SIZE(formats) ? &formats[index] : NULL;
}

const struct fb_format *fb_format_lookup(uint32_t fourcc)
{
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	return NULL;
}

const struct fb_format *fb_format_from_name(const char *name)
{
	if (!name)
		return NULL;
	if (strncasecmp(name, "DRM_FORMAT_", 11) == 0)
		name += 11;
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (strcasecmp(formats[i].name, name) == 0)
			return &formats[i];

	/* The 4-character code, trailing spaces trimmed as drmGetFormatName(). */
	size_t len = strlen(name);
	if (len == 0 || len > 4)
		return NULL;
	char code[4] = { ' ', ' ', ' ', ' ' };
	memcpy(code, name, len);
	return fb_format_lookup(fourcc_code(code[0], code[1], code[2], code[3]));
}

static const char *const usage_names[DMABUFD_USAGE_COUNT] = {
	"scanout", "render", "texture", "video-decode",
	"video-encode", "camera", "cpu-read", "cpu-write",
};

const char *fb_usage_name(uint32_t bit)
{
	if (bit == 0 || (bit & (bit - 1)) || (bit & ~DMABUFD_USAGE_ALL))
		return NULL;
	return usage_names[__builtin_ctz(bit)];
}

static int usage_index(const char *name, size_t len)
{
	for (int i = 0; i < DMABUFD_USAGE_COUNT; i++)
		if (strlen(usage_names[i]) == len && strncasecmp(usage_names[i], name, len) == 0)
			return i;
	return -1;
}

int fb_usage_from_string(const char *s, uint32_t *ret)
{
	uint32_t bits = 0;

	if (!s || !ret || !*s)
		return -EINVAL;
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		int i = usage_index(p, len);
		if (i < 0)
			return -EINVAL;
		bits |= 1u << i;
		if (!p[len])
			break;
		p += len + 1;
	}
	*ret = bits;
	return 0;
}

/*
 * The built-in alignment table. Every entry is a default that the daemon
 * configuration may override (fb_align_rules_set()); the reasons are in
 * docs/FRAMEBUFFERS.md, "Alignment rules".
 */
#define RULE(stride, offset, halign, halign_vsub, maxw, maxh, cls) \
	{ .stride_align = stride, .offset_align = offset, .height_align = halign, \
	  .height_align_vsub = halign_vsub, .max_width = maxw, .max_height = maxh, \
	  .classes = cls }

const struct fb_align_rules fb_align_rules_default = {
	.page_size = 4096,
	.max_width = FB_MAX_DIMENSION,
	.max_height = FB_MAX_DIMENSION,
	.max_size = UINT64_C(1) << 32,
	.base = RULE(1, 1, 1, 1, 0, 0, FB_CLASS_ALL),
	.usage = {
		/* SCANOUT */      RULE(64, 4096, 1, 1, 0, 0, FB_CLASS_ALL),
		/* RENDER */       RULE(256, 4096, 1, 1, 0, 0, FB_CLASS_ALL),
		/* TEXTURE */      RULE(256, 4096, 1, 1, 0, 0, FB_CLASS_ALL),
		/* VIDEO_DECODE */ RULE(64, 4096, 1, 16, 8192, 8192, FB_CLASS_YUV),
		/* VIDEO_ENCODE */ RULE(64, 4096, 1, 16, 8192, 8192, FB_CLASS_ALL),
		/* CAMERA */       RULE(64, 4096, 1, 1, 0, 0, FB_CLASS_ALL),
		/* CPU_READ */     RULE(4, 64, 1, 1, 0, 0, FB_CLASS_ALL),
		/* CPU_WRITE */    RULE(4, 64, 1, 1, 0, 0, FB_CLASS_ALL),
	},
};

static bool align_ok(uint32_t a)
{
	return a != 0 && (a & (a - 1)) == 0 && a <= FB_MAX_ALIGN;
}

static bool limit_ok(uint32_t v, bool zero_ok)
{
	return (v != 0 || zero_ok) && v <= FB_MAX_DIMENSION;
}

static int rule_validate(const struct fb_usage_rule *r)
{
	if (!align_ok(r->stride_align) || !align_ok(r->offset_align) ||
	    !align_ok(r->height_align) || !align_ok(r->height_align_vsub))
		return -EINVAL;
	if (!limit_ok(r->max_width, true) || !limit_ok(r->max_height, true))
		return -EINVAL;
	if (r->classes == 0 || (r->classes & ~FB_CLASS_ALL))
		return -EINVAL;
	return 0;
}

int fb_align_rules_validate(const struct fb_align_rules *rules)
{
	if (!rules)
		return -EINVAL;
	if (!align_ok(rules->page_size) || !limit_ok(rules->max_width, false) ||
	    !limit_ok(rules->max_height, false) || rules->max_size == 0)
		return -EINVAL;
	if (rule_validate(&rules->base) < 0)
		return -EINVAL;
	for (size_t i = 0; i < DMABUFD_USAGE_COUNT; i++)
		if (rule_validate(&rules->usage[i]) < 0)
			return -EINVAL;
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_classes(const char *s, uint32_t *ret)
{
	uint32_t bits = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		if (len == 3 && strncasecmp(p, "rgb", 3) == 0)
			bits |= FB_CLASS_RGB;
		else if (len == 3 && strncasecmp(p, "yuv", 3) == 0)
			bits |= FB_CLASS_YUV;
		else
			return -EINVAL;
		if (!p[len])
			break;
		p += len + 1;
	}
	*ret = bits;
	return 0;
}

/* Parse @value into *@field (0..UINT32_MAX); -ENOENT when @field is NULL
 * (unknown key), -EINVAL/-ERANGE from parse_u64(). */
static int set_u32(uint32_t *field, const char *value)
{
	uint64_t v;
	int r;

	if (!field)
		return -ENOENT;
	r = parse_u64(value, UINT32_MAX, &v);
	if (r < 0)
		return r;
	*field = (uint32_t)v;
	return 0;
}

int fb_align_rules_set(struct fb_align_rules *rules, const char *usage, const char *key,
		       const char *value)
{
	uint64_t v;
	int r;

	if (!rules || !usage || !key || !value)
		return -EINVAL;

	if (strcmp(usage, "global") == 0) {
		if (strcmp(key, "max_size") == 0) {
			r = parse_u64(value, UINT64_MAX, &v);
			if (r < 0)
				return r;
			rules->max_size = v;
			return 0;
		}
		uint32_t *field = strcmp(key, "page_size") == 0  ? &rules->page_size :
				  strcmp(key, "max_width") == 0  ? &rules->max_width :
				  strcmp(key, "max_height") == 0 ? &rules->max_height :
								   NULL;
		return set_u32(field, value);
	}

	struct fb_usage_rule *rule;
	if (strcmp(usage, "base") == 0) {
		rule = &rules->base;
	} else {
		int i = usage_index(usage, strlen(usage));
		if (i < 0)
			return -ENOENT;
		rule = &rules->usage[i];
	}

	if (strcmp(key, "classes") == 0) {
		uint32_t c;
		r = parse_classes(value, &c);
		if (r < 0)
			return r;
		rule->classes = c;
		return 0;
	}
	uint32_t *field = strcmp(key, "stride_align") == 0	? &rule->stride_align :
			  strcmp(key, "offset_align") == 0	? &rule->offset_align :
			  strcmp(key, "height_align") == 0	? &rule->height_align :
			  strcmp(key, "height_align_vsub") == 0 ? &rule->height_align_vsub :
			  strcmp(key, "max_width") == 0		? &rule->max_width :
			  strcmp(key, "max_height") == 0	? &rule->max_height :
								  NULL;
	return set_u32(field, value);
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t min_nonzero(uint32_t a, uint32_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* The combined rule of @usage: largest alignments, tightest limits. */
static void rules_combine(const struct fb_align_rules *rules, uint32_t usage,
			  struct fb_usage_rule *ret)
{
	struct fb_usage_rule c = rules->base;

	for (int i = 0; i < DMABUFD_USAGE_COUNT; i++) {
		if (!(usage & (1u << i)))
			continue;
		const struct fb_usage_rule *u = &rules->usage[i];
		c.stride_align = max_u32(c.stride_align, u->stride_align);
		c.offset_align = max_u32(c.offset_align, u->offset_align);
		c.height_align = max_u32(c.height_align, u->height_align);
		c.height_align_vsub = max_u32(c.height_align_vsub, u->height_align_vsub);
		c.max_width = min_nonzero(c.max_width, u->max_width);
		c.max_height = min_nonzero(c.max_height, u->max_height);
		c.classes &= u->classes;
	}
	*ret = c;
}

/* *ret = @v rounded up to @align (a power of two); -E2BIG on overflow. */
static int align_up(uint64_t v, uint64_t align, uint64_t *ret)
{
	uint64_t t;

	if (__builtin_add_overflow(v, align - 1, &t))
		return -E2BIG;
	*ret = t & ~(align - 1);
	return 0;
}

static uint64_t div_round_up(uint64_t v, uint64_t d)
{
	return v / d + (v % d != 0);
}

/*
 * Places the planes of a @w x @h (padded) plane 0 one after the other,
 * each pitch aligned to c->stride_align and each offset to
 * c->offset_align; *ret_end receives the byte after the last plane.
 * Return: 0; -E2BIG when a pitch or offset exceeds 32 bits or a size
 * overflows.
 */
static int place_planes(const struct fb_format *fmt, const struct fb_usage_rule *c,
			uint64_t w, uint64_t h, struct fb_layout *l, uint64_t *ret_end)
{
	uint64_t end = 0;
	int r;

	for (unsigned int i = 0; i < fmt->num_planes; i++) {
		uint64_t pw = i == 0 ? w : div_round_up(w, fmt->hsub);
		uint64_t ph = i == 0 ? h : div_round_up(h, fmt->vsub);
		uint64_t pitch, size, offset;

		if (__builtin_mul_overflow(pw, (uint64_t)fmt->cpp[i], &pitch))
			return -E2BIG;
		r = align_up(pitch, c->stride_align, &pitch);
		if (r < 0)
			return r;
		if (pitch > UINT32_MAX)
			return -E2BIG;
		if (__builtin_mul_overflow(pitch, ph, &size))
			return -E2BIG;
		r = align_up(end, c->offset_align, &offset);
		if (r < 0)
			return r;
		if (offset > UINT32_MAX)
			return -E2BIG;
		if (__builtin_add_overflow(offset, size, &end))
			return -E2BIG;

		l->offsets[i] = (uint32_t)offset;
		l->pitches[i] = (uint32_t)pitch;
		l->sizes[i] = size;
	}

	*ret_end = end;
	return 0;
}

int fb_layout_compute(const struct fb_layout_request *req, const struct fb_align_rules *rules,
		      struct fb_layout *ret)
{
	struct fb_layout l = { 0 };
	struct fb_usage_rule c;
	const struct fb_format *fmt;
	uint64_t w, h, end = 0;
	int r;

	if (!req || !ret)
		return -EINVAL;
	if (!rules)
		rules = &fb_align_rules_default;
	r = fb_align_rules_validate(rules);
	if (r < 0)
		return r;

	/* Malformed requests. */
	if (req->width == 0 || req->height == 0 || req->width > INT32_MAX ||
	    req->height > INT32_MAX)
		return -EINVAL;
	if (req->usage == 0 || (req->usage & ~DMABUFD_USAGE_ALL))
		return -EINVAL;
	fmt = fb_format_lookup(req->fourcc);
	if (!fmt)
		return -EINVAL;
	if (req->modifier == DRM_FORMAT_MOD_INVALID)
		return -EINVAL;

	/* Well-formed requests this engine or these usages cannot meet. */
	if (req->modifier != DRM_FORMAT_MOD_LINEAR)
		return -EOPNOTSUPP;
	if (req->width > rules->max_width || req->height > rules->max_height)
		return -E2BIG;
	rules_combine(rules, req->usage, &c);
	if (!(c.classes & (fmt->is_yuv ? FB_CLASS_YUV : FB_CLASS_RGB)))
		return -EOPNOTSUPP;
	if ((c.max_width && req->width > c.max_width) ||
	    (c.max_height && req->height > c.max_height))
		return -EOPNOTSUPP;

	/* Padded dimensions of plane 0. */
	w = req->width;
	if (fmt->packed) {
		r = align_up(w, fmt->hsub, &w);
		if (r < 0)
			return r;
	}
	r = align_up(req->height, c.height_align, &h);
	if (r < 0)
		return r;
	if (fmt->vsub > 1) {
		r = align_up(h, c.height_align_vsub, &h);
		if (r < 0)
			return r;
	}
	if (h > UINT32_MAX)
		return -E2BIG;

	r = place_planes(fmt, &c, w, h, &l, &end);
	if (r < 0)
		return r;

	r = align_up(end, rules->page_size, &l.size);
	if (r < 0)
		return r;
	if (l.size > SIZE_MAX || l.size > rules->max_size)
		return -E2BIG;

	l.width = req->width;
	l.height = req->height;
	l.fourcc = req->fourcc;
	l.modifier = req->modifier;
	l.num_planes = fmt->num_planes;
	l.alloc_height = (uint32_t)h;
	*ret = l;
	return 0;
}

int fb_layout_validate(const struct fb_layout *l)
{
	const struct fb_format *fmt;
	uint64_t end = 0;

	if (!l)
		return -EINVAL;
	if (l->width == 0 || l->height == 0 || l->width > FB_MAX_DIMENSION ||
	    l->height > FB_MAX_DIMENSION)
		return -EPROTO;
	fmt = fb_format_lookup(l->fourcc);
	if (!fmt || l->num_planes != fmt->num_planes || l->size == 0)
		return -EPROTO;

	for (unsigned int i = 0; i < FB_MAX_PLANES; i++) {
		uint64_t plane_end;

		if (i >= l->num_planes) {
			if (l->offsets[i] || l->pitches[i] || l->sizes[i])
				return -EPROTO;
			continue;
		}
		if (l->pitches[i] == 0 || l->sizes[i] == 0 || l->offsets[i] < end)
			return -EPROTO;
		if (__builtin_add_overflow((uint64_t)l->offsets[i], l->sizes[i], &plane_end) ||
		    plane_end > l->size)
			return -EPROTO;
		end = plane_end;

		if (l->modifier != DRM_FORMAT_MOD_LINEAR)
			continue;
		uint64_t w = l->width, rows = l->height, min;
		if (fmt->packed)
			w = div_round_up(w, fmt->hsub) * fmt->hsub;
		if (i > 0) {
			w = div_round_up(w, fmt->hsub);
			rows = div_round_up(rows, fmt->vsub);
		}
		/* w <= 16384 * cpp <= 8: no overflow; pitch <= UINT32_MAX, rows <= 16384. */
		if (l->pitches[i] < w * fmt->cpp[i])
			return -EPROTO;
		min = (uint64_t)l->pitches[i] * rows;
		if (l->sizes[i] < min)
			return -EPROTO;
	}
	return 0;
}

void fb_layout_to_framebuffer(const struct fb_layout *l, uint64_t id, int fd,
			      struct dmabufd_framebuffer *ret)
{
	struct dmabufd_framebuffer fb = {
		.id = id,
		.fd = fd,
		.width = l->width,
		.height = l->height,
		.fourcc = l->fourcc,
		.modifier = l->modifier,
		.num_planes = l->num_planes,
		.size = l->size,
	};
	for (unsigned int i = 0; i < FB_MAX_PLANES; i++) {
		fb.offsets[i] = l->offsets[i];
		fb.pitches[i] = l->pitches[i];
		fb.sizes[i] = l->sizes[i];
	}
	*ret = fb;
}

void fb_layout_from_framebuffer(const struct dmabufd_framebuffer *fb, struct fb_layout *ret)
{
	struct fb_layout l = {
		.width = fb->width,
		.height = fb->height,
		.fourcc = fb->fourcc,
		.modifier = fb->modifier,
		.num_planes = fb->num_planes,
		.size = fb->size,
		.alloc_height = fb->height,
	};
	for (unsigned int i = 0; i < FB_MAX_PLANES; i++) {
		l.offsets[i] = fb->offsets[i];
		l.pitches[i] = fb->pitches[i];
		l.sizes[i] = fb->sizes[i];
	}
	*ret = l;
}

/* A decimal number of 1..10 digits, no sign; *end is the first other char. */
static int parse_dim(const char *s, const char **end, uint32_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9' && p - s < 10) {
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s || (*p >= '0' && *p <= '9') || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*end = p;
	*ret = (uint32_t)v;
	return 0;
}

int fb_parse_size(const char *s, uint32_t *ret_width, uint32_t *ret_height)
{
	uint32_t w, h;
	const char *p;

	if (!s || !ret_width || !ret_height)
		return -EINVAL;
	if (parse_dim(s, &p, &w) < 0 || (*p != 'x' && *p != 'X'))
		return -EINVAL;
	if (parse_dim(p + 1, &p, &h) < 0 || *p)
		return -EINVAL;
	*ret_width = w;
	*ret_height = h;
	return 0;
}

/* Appends to @buf at *@pos; remembers truncation in *@pos > @size. */
__attribute__((format(printf, 4, 5))) static void append(char *buf, size_t size, size_t *pos,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*pos < size ? buf + *pos : NULL, *pos < size ? size - *pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

int fb_layout_describe(const struct fb_layout *layout, char *buf, size_t size)
{
	_cleanup_free_ char *code = NULL;
	_cleanup_free_ char *mod = NULL;
	const struct fb_format *fmt;
	size_t pos = 0;

	if (!layout || !buf)
		return -EINVAL;

	code = drmGetFormatName(layout->fourcc);
	if (!code)
		return -ENOMEM;
	mod = drmGetFormatModifierName(layout->modifier); /* NULL: unknown vendor */
	fmt = fb_format_lookup(layout->fourcc);

	append(buf, size, &pos, "%" PRIu32 "x%" PRIu32 " %s (%s) modifier %s (0x%016" PRIx64
	       ") planes %" PRIu32 " size %" PRIu64 "\n",
	       layout->width, layout->height, code, fmt ? fmt->name : "unknown",
	       mod ? mod : "unknown", layout->modifier, layout->num_planes, layout->size);
	for (uint32_t i = 0; i < layout->num_planes && i < FB_MAX_PLANES; i++)
		append(buf, size, &pos,
		       "  plane %" PRIu32 ": offset %" PRIu32 " pitch %" PRIu32 " size %" PRIu64 "\n",
		       i, layout->offsets[i], layout->pitches[i], layout->sizes[i]);

	if (pos >= size || pos > INT32_MAX)
		return -ENOBUFS;
	return (int)pos;
}
