/* SPDX-License-Identifier: MIT */
/*
 * Framebuffer layout engine: the DRM format table, the per-usage alignment
 * rules, and the computation of a linear (DRM_FORMAT_MOD_LINEAR) multi-plane
 * layout in one buffer (GBM's single-fd layout). Pure arithmetic, no I/O:
 * the daemon calls it for AllocFramebuffer, the tests call it directly.
 *
 * The layout rule (docs/FRAMEBUFFERS.md, "Layout"), for a request of
 * W x H pixels and the combined rule R of the usage bits:
 *   W' = W rounded up to hsub for packed YUV (YUYV, UYVY: whole macropixels),
 *        else W
 *   H' = H rounded up to R.height_align, and for formats with vsub > 1 also
 *        to R.height_align_vsub
 *   plane 0:  width W', rows H'
 *   plane i>0: width DIV_ROUND_UP(W', hsub), rows DIV_ROUND_UP(H', vsub)
 *        (drm_format_info_plane_width/height() in drivers/gpu/drm/drm_fourcc.c)
 *   pitch[i]  = round_up(width_i * cpp[i], R.stride_align)
 *   size[i]   = pitch[i] * rows_i
 *   offset[0] = 0, offset[i] = round_up(offset[i-1] + size[i-1], R.offset_align)
 *   size      = round_up(offset[n-1] + size[n-1], page_size)
 * Every step is overflow-checked with __builtin_*_overflow.
 */
#ifndef DMABUFD_COMMON_FB_LAYOUT_H
#define DMABUFD_COMMON_FB_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmabufd/framebuffer.h>

#define FB_MAX_PLANES DMABUFD_FB_MAX_PLANES
/** Hard upper bound on width and height in pixels (rules may lower it). */
#define FB_MAX_DIMENSION DMABUFD_FB_MAX_DIMENSION
/** Largest alignment a rule may ask for, in bytes or rows (1 GiB). */
#define FB_MAX_ALIGN (1u << 30)

/** Colour model classes, for per-usage format restrictions. */
enum fb_format_class {
	FB_CLASS_RGB = 1u << 0, /**< RGB and single-channel (R8, R16, GR88) */
	FB_CLASS_YUV = 1u << 1, /**< Y'CbCr, packed or planar */
};
#define FB_CLASS_ALL (FB_CLASS_RGB | FB_CLASS_YUV)

/**
 * struct fb_format - one row of the format table.
 * @fourcc: DRM_FORMAT_* (libdrm drm_fourcc.h)
 * @name: the DRM_FORMAT_ suffix, e.g. "XRGB8888"
 * @num_planes: 1 .. FB_MAX_PLANES
 * @cpp: bytes per pixel (per sample of a subsampled plane) of each plane;
 *       all formats in the table have 1x1 blocks, so this equals the
 *       kernel's char_per_block
 * @hsub: horizontal chroma subsampling (1, 2)
 * @vsub: vertical chroma subsampling (1, 2)
 * @is_yuv: Y'CbCr format
 * @packed: one plane carrying subsampled chroma (YUYV/UYVY): the width is
 *          rounded up to @hsub so the last macropixel is whole
 *
 * Values transcribed from the kernel's __drm_format_info() table in
 * drivers/gpu/drm/drm_fourcc.c.
 */
struct fb_format {
	uint32_t fourcc;
	const char *name;
	uint8_t num_planes;
	uint8_t cpp[FB_MAX_PLANES];
	uint8_t hsub, vsub;
	bool is_yuv;
	bool packed;
};

/**
 * struct fb_usage_rule - constraints one usage puts on a layout.
 * @stride_align: bytes, power of two in [1, FB_MAX_ALIGN]; every pitch is a
 *                multiple of it
 * @offset_align: bytes, power of two in [1, FB_MAX_ALIGN]; every plane offset
 *                is a multiple of it
 * @height_align: rows, power of two in [1, FB_MAX_ALIGN]; plane 0 rows are
 *                padded to it (all formats)
 * @height_align_vsub: rows, power of two in [1, FB_MAX_ALIGN]; plane 0 rows
 *                are padded to it for formats with vsub > 1 (4:2:0)
 * @max_width: pixels, 0 = no limit beyond the global one
 * @max_height: pixels, 0 = no limit beyond the global one
 * @classes: FB_CLASS_* bits this usage accepts (nonzero)
 *
 * Rules of several usages combine by taking the largest alignment (all are
 * powers of two, so the largest is the least common multiple), the
 * smallest nonzero limit and the intersection of @classes. A request whose
 * combined rule refuses its format class or size gets -EOPNOTSUPP.
 */
struct fb_usage_rule {
	uint32_t stride_align;
	uint32_t offset_align;
	uint32_t height_align;
	uint32_t height_align_vsub;
	uint32_t max_width;
	uint32_t max_height;
	uint32_t classes;
};

/**
 * struct fb_align_rules - the whole alignment table (daemon-configurable).
 * @page_size: bytes, power of two in [1, FB_MAX_ALIGN]; the total size is a
 *             multiple of it
 * @max_width: pixels, 1 .. FB_MAX_DIMENSION
 * @max_height: pixels, 1 .. FB_MAX_DIMENSION
 * @max_size: bytes, largest total size, >= 1 (the daemon's max_alloc still
 *            applies on top)
 * @base: applied to every request
 * @usage: indexed by the bit number of a DMABUFD_USAGE_* bit
 */
struct fb_align_rules {
	uint32_t page_size;
	uint32_t max_width;
	uint32_t max_height;
	uint64_t max_size;
	struct fb_usage_rule base;
	struct fb_usage_rule usage[DMABUFD_USAGE_COUNT];
};

/**
 * struct fb_layout_request - what the client asked for.
 * @width: pixels
 * @height: pixels
 * @fourcc: DRM_FORMAT_*
 * @modifier: DRM_FORMAT_MOD_*
 * @usage: DMABUFD_USAGE_* bits
 */
struct fb_layout_request {
	uint32_t width;
	uint32_t height;
	uint32_t fourcc;
	uint64_t modifier;
	uint32_t usage;
};

/**
 * struct fb_layout - a computed layout. Same field meaning as
 * struct dmabufd_framebuffer (include/dmabufd/framebuffer.h).
 * @alloc_height: rows of plane 0 after height alignment (>= @height)
 */
struct fb_layout {
	uint32_t width, height, fourcc;
	uint64_t modifier;
	uint32_t num_planes;
	uint32_t offsets[FB_MAX_PLANES], pitches[FB_MAX_PLANES];
	uint64_t sizes[FB_MAX_PLANES];
	uint64_t size;
	uint32_t alloc_height;
};

/** The table's rows, for iteration (tests, `dmabufctl formats`). */
size_t fb_format_count(void);
/** Row @index (< fb_format_count()), else NULL. */
const struct fb_format *fb_format_at(size_t index);
/** The row for @fourcc, or NULL if the table does not have it. */
const struct fb_format *fb_format_lookup(uint32_t fourcc);
/**
 * fb_format_from_name() - parse a format name as a user types it.
 * @name: the DRM_FORMAT_ suffix ("XRGB8888", case-insensitive, an optional
 *        "DRM_FORMAT_" prefix) or the 4-character code ("XR24", exact)
 * Return: the row, or NULL.
 */
const struct fb_format *fb_format_from_name(const char *name);

/**
 * fb_usage_name() - name of one usage bit ("scanout", "render", "texture",
 * "video-decode", "video-encode", "camera", "cpu-read", "cpu-write").
 * Return: the name, or NULL when @bit is not exactly one known bit.
 */
const char *fb_usage_name(uint32_t bit);
/**
 * fb_usage_from_string() - parse a comma-separated list of usage names.
 * @s: e.g. "scanout,render"
 * @ret: receives the bits
 * Return: 0; -EINVAL (empty list, unknown name).
 */
int fb_usage_from_string(const char *s, uint32_t *ret);

/** The built-in table (docs/FRAMEBUFFERS.md, "Alignment rules"). */
extern const struct fb_align_rules fb_align_rules_default;

/**
 * fb_align_rules_validate() - check a table before using it.
 * Return: 0; -EINVAL (an alignment or page size that is 0, not a power of
 * two or above FB_MAX_ALIGN; a limit of 0 or above FB_MAX_DIMENSION;
 * classes 0 or with unknown bits; max_size 0).
 */
int fb_align_rules_validate(const struct fb_align_rules *rules);

/**
 * fb_align_rules_set() - override one entry, from a config file.
 * @rules: table to modify (only on success)
 * @usage: a usage name (fb_usage_name()), "base", or "global"
 * @key: for a usage or "base": "stride_align", "offset_align",
 *       "height_align", "height_align_vsub", "max_width", "max_height",
 *       "classes" (value "rgb", "yuv" or "rgb,yuv"); for "global":
 *       "page_size", "max_width", "max_height", "max_size"
 * @value: decimal or 0x-hex number (or class list)
 *
 * The caller runs fb_align_rules_validate() after all overrides.
 * Return: 0; -ENOENT (unknown usage or key); -EINVAL (malformed value or
 * one out of range for the field's type).
 */
int fb_align_rules_set(struct fb_align_rules *rules, const char *usage, const char *key,
		       const char *value);

/**
 * fb_layout_compute() - lay out a framebuffer.
 * @req: the request
 * @rules: the alignment table, or NULL for fb_align_rules_default
 * @ret: receives the layout (untouched on failure)
 *
 * Return: 0;
 * -EINVAL: NULL @req/@ret; width or height 0, or above INT32_MAX (a
 *   negative number cast to unsigned); usage 0 or unknown usage bits;
 *   fourcc not in the table (the kernel's drm_mode_addfb2 answers an
 *   unknown format with -EINVAL too); modifier DRM_FORMAT_MOD_INVALID;
 *   @rules fails fb_align_rules_validate();
 * -EOPNOTSUPP: modifier other than DRM_FORMAT_MOD_LINEAR (a backend that
 *   declares another modifier computes that layout itself); a usage
 *   combination whose rule refuses the format class or the size;
 * -E2BIG: width or height above the rules' limit; a pitch or offset that
 *   does not fit the 32-bit DRM fields; arithmetic that overflows 64 bits or
 *   size_t; a total size above rules->max_size.
 */
int fb_layout_compute(const struct fb_layout_request *req, const struct fb_align_rules *rules,
		      struct fb_layout *ret);

/**
 * fb_layout_validate() - check a layout that arrived over the wire.
 * @layout: e.g. filled from an AllocFramebufferReply by the client library
 *
 * For the client's defence against a malformed reply. Checks: width and
 * height in 1 .. FB_MAX_DIMENSION; a fourcc in the table and num_planes
 * equal to its plane count; unused plane entries zero; every plane inside
 * @layout->size (no overflow) and after the previous one (no overlap); and
 * for DRM_FORMAT_MOD_LINEAR, every pitch at least the plane's row bytes
 * and every plane size at least pitch x the plane's rows for @height.
 * Other modifiers get only the structural checks (tiled layouts are the
 * backend's business).
 * Return: 0; -EINVAL (NULL); -EPROTO (any check failed).
 */
int fb_layout_validate(const struct fb_layout *layout);

/**
 * fb_layout_to_framebuffer() - the public struct for a layout and its buffer.
 * @layout: a computed or validated layout
 * @id: daemon buffer id
 * @fd: the buffer's fd (ownership is the caller's business)
 * @ret: filled completely (plane entries beyond num_planes zero)
 */
void fb_layout_to_framebuffer(const struct fb_layout *layout, uint64_t id, int fd,
			      struct dmabufd_framebuffer *ret);

/**
 * fb_layout_from_framebuffer() - the layout part of a public struct (for
 * fb_layout_describe() in dmabufctl, or fb_layout_validate()).
 * @fb: the framebuffer
 * @ret: filled completely; alloc_height is set to @fb->height (the wire
 *       does not carry the padded height)
 */
void fb_layout_from_framebuffer(const struct dmabufd_framebuffer *fb, struct fb_layout *ret);

/**
 * fb_parse_size() - parse "WIDTHxHEIGHT" as typed on a command line.
 * @s: e.g. "1920x1080" (decimal, 'x' or 'X', no spaces, no signs)
 * @ret_width: pixels
 * @ret_height: pixels
 * Return: 0; -EINVAL (malformed, or a dimension 0 or above UINT32_MAX);
 * the outputs are untouched on failure. Limits are fb_layout_compute()'s.
 */
int fb_parse_size(const char *s, uint32_t *ret_width, uint32_t *ret_height);

/**
 * fb_layout_describe() - format a layout for printing (dmabufctl alloc-fb).
 * @layout: the layout
 * @buf: destination, NUL-terminated on success
 * @size: bytes of @buf
 *
 * Output, e.g.:
 *   1920x1080 XR24 (XRGB8888) modifier LINEAR (0x0000000000000000) planes 1 size 8294400
 *     plane 0: offset 0 pitch 7680 size 8294400
 * The fourcc and modifier names come from libdrm's drmGetFormatName() and
 * drmGetFormatModifierName().
 * Return: bytes written without the NUL; -EINVAL (NULL argument);
 * -ENOBUFS (@size too small, @buf holds a truncated string if @size > 0);
 * -ENOMEM.
 */
int fb_layout_describe(const struct fb_layout *layout, char *buf, size_t size);

#endif
