/* SPDX-License-Identifier: MIT */
/* GstDmabufdBufferPool: whole video frames in dmabufd buffers. */
#include "gstdmabufdbufferpool.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <dmabufd/framebuffer.h>
#include <libdrm/drm_fourcc.h>

GST_DEBUG_CATEGORY_STATIC(dmabufd_pool_debug);
#define GST_CAT_DEFAULT dmabufd_pool_debug

struct _GstDmabufdBufferPool {
	GstVideoBufferPool parent;
	GstDmabufdAllocator *allocator;
	guint usage;                   /* GstDmabufdUsage */
	gchar *label;
	/* From set_config(): */
	GstVideoInfo info;             /* caps' info, aligned as configured */
	GstVideoAlignment align;
	gboolean add_videometa;
	gchar frame_label[DMABUFD_LABEL_MAX + 1];
	/* TRUE: frames come from dmabufd_alloc_framebuffer() with the layout
	 * below (found by a probe allocation in set_config()); FALSE: laid
	 * out by GstVideoInfo, allocated with dmabufd_alloc(). */
	gboolean framebuffer;
	guint32 fourcc;
	guint n_planes;
	guint32 fb_offsets[DMABUFD_FB_MAX_PLANES], fb_pitches[DMABUFD_FB_MAX_PLANES];
	gsize fb_size;
	guint allocated;               /* atomic */
};

G_DEFINE_TYPE(GstDmabufdBufferPool, gst_dmabufd_buffer_pool, GST_TYPE_VIDEO_BUFFER_POOL)

/* GstDmabufdUsage is enum dmabufd_usage, bit for bit. */
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_SCANOUT == (guint)DMABUFD_USAGE_SCANOUT);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_RENDER == (guint)DMABUFD_USAGE_RENDER);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_TEXTURE == (guint)DMABUFD_USAGE_TEXTURE);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_VIDEO_DECODE == (guint)DMABUFD_USAGE_VIDEO_DECODE);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_VIDEO_ENCODE == (guint)DMABUFD_USAGE_VIDEO_ENCODE);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_CAMERA == (guint)DMABUFD_USAGE_CAMERA);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_CPU_READ == (guint)DMABUFD_USAGE_CPU_READ);
G_STATIC_ASSERT((guint)GST_DMABUFD_USAGE_CPU_WRITE == (guint)DMABUFD_USAGE_CPU_WRITE);
G_STATIC_ASSERT(DMABUFD_FB_MAX_PLANES == GST_VIDEO_MAX_PLANES);

GType gst_dmabufd_usage_get_type(void)
{
	static GType type;
	static const GFlagsValue values[] = {
		{ GST_DMABUFD_USAGE_SCANOUT, "Display controller reads the frames", "scanout" },
		{ GST_DMABUFD_USAGE_RENDER, "GPU renders into the frames", "render" },
		{ GST_DMABUFD_USAGE_TEXTURE, "GPU samples the frames", "texture" },
		{ GST_DMABUFD_USAGE_VIDEO_DECODE, "A video decoder writes the frames",
		  "video-decode" },
		{ GST_DMABUFD_USAGE_VIDEO_ENCODE, "A video encoder reads the frames",
		  "video-encode" },
		{ GST_DMABUFD_USAGE_CAMERA, "A camera / ISP writes the frames", "camera" },
		{ GST_DMABUFD_USAGE_CPU_READ, "The CPU reads the frames through mmap",
		  "cpu-read" },
		{ GST_DMABUFD_USAGE_CPU_WRITE, "The CPU writes the frames through mmap",
		  "cpu-write" },
		{ 0, NULL, NULL },
	};

	if (g_once_init_enter(&type))
		g_once_init_leave(&type, g_flags_register_static("GstDmabufdUsage", values));
	return type;
}

GType gst_dmabufd_attribute_get_type(void)
{
	static GType type;
	static const GEnumValue values[] = {
		{ DMABUFD_ATTR_CACHED, "Write-back cached pages", "cached" },
		{ DMABUFD_ATTR_WRITECOMBINE, "Write-combine pages", "wc" },
		{ DMABUFD_ATTR_UNCACHED, "Uncached pages", "uncached" },
		{ 0, NULL, NULL },
	};

	if (g_once_init_enter(&type))
		g_once_init_leave(&type, g_enum_register_static("GstDmabufdAttribute", values));
	return type;
}

/*
 * One dmabufd_alloc_framebuffer() on the allocator's connection. With
 * @post, a failure is posted as the sink's ERROR with the daemon's reason
 * (a frame the pipeline needs); without, only logged (the layout probe,
 * whose refusal selects the fallback).
 */
static int request_framebuffer(GstDmabufdBufferPool *self, gboolean post,
			       struct dmabufd_framebuffer *ret)
{
	struct dmabufd_client *c = gst_dmabufd_allocator_lock(self->allocator);
	gchar *reason = NULL;
	int r;

	r = dmabufd_alloc_framebuffer(c, GST_VIDEO_INFO_WIDTH(&self->info),
				      GST_VIDEO_INFO_HEIGHT(&self->info), self->fourcc,
				      DRM_FORMAT_MOD_LINEAR, self->usage,
				      gst_dmabufd_allocator_get_attribute(self->allocator), 0,
				      self->frame_label, ret);
	if (r < 0) {
		reason = g_strdup(dmabufd_last_reason(c));
		GST_INFO_OBJECT(self, "framebuffer request refused: %s (%s)", g_strerror(-r),
				reason);
	}
	gst_dmabufd_allocator_unlock(self->allocator);
	if (r < 0 && post)
		gst_dmabufd_allocator_post_refusal(self->allocator, "framebuffer",
						   GST_VIDEO_INFO_SIZE(&self->info), r, reason);
	g_free(reason);
	return r;
}

static void release_framebuffer(GstDmabufdBufferPool *self, struct dmabufd_framebuffer *fb)
{
	struct dmabufd_client *c = gst_dmabufd_allocator_lock(self->allocator);

	dmabufd_release(c, fb->id);
	gst_dmabufd_allocator_unlock(self->allocator);
	close(fb->fd);
}

/*
 * Decides the layout for the configured info (set_config()).
 *
 * The framebuffer request is used when the format has a DRM fourcc, the
 * configuration asks for no padding (the daemon's layout has none on the
 * left or top), and the daemon's layout is one the caller can use: plane
 * pitches meeting the configured stride alignment and, when the caller
 * does not read GstVideoMeta, exactly GstVideoInfo's layout. The daemon
 * derives pitch, plane offset and row padding from the usage bits
 * (docs/FRAMEBUFFERS.md). A probe frame tells the layout, which is the
 * same for every frame of this (width, height, fourcc, usage); it is
 * released at once. Otherwise (older daemon: -ENOSYS; format or usage the
 * daemon refuses) frames are laid out by GstVideoInfo and allocated with
 * dmabufd_alloc().
 */
static void choose_layout(GstDmabufdBufferPool *self)
{
	const GstVideoAlignment *a = &self->align;
	struct dmabufd_framebuffer fb;
	guint i, n = GST_VIDEO_INFO_N_PLANES(&self->info);
	gboolean ok = TRUE;

	self->framebuffer = FALSE;
	self->fourcc = gst_dmabufd_drm_fourcc(GST_VIDEO_INFO_FORMAT(&self->info));
	if (!self->fourcc || !self->usage || a->padding_top || a->padding_left ||
	    a->padding_right || a->padding_bottom)
		return;
	if (request_framebuffer(self, FALSE, &fb) < 0)
		return;
	if (fb.num_planes != n)
		ok = FALSE;
	for (i = 0; ok && i < n; i++) {
		if (fb.pitches[i] & a->stride_align[i])
			ok = FALSE;
		if (!self->add_videometa &&
		    (fb.offsets[i] != GST_VIDEO_INFO_PLANE_OFFSET(&self->info, i) ||
		     (gint)fb.pitches[i] != GST_VIDEO_INFO_PLANE_STRIDE(&self->info, i)))
			ok = FALSE;
		if (fb.pitches[i] > G_MAXINT)
			ok = FALSE;
	}
	if (ok && fb.size <= G_MAXUINT) {
		self->framebuffer = TRUE;
		self->n_planes = n;
		memcpy(self->fb_offsets, fb.offsets, sizeof(fb.offsets));
		memcpy(self->fb_pitches, fb.pitches, sizeof(fb.pitches));
		self->fb_size = fb.size;
		for (i = 0; i < n; i++) {
			GST_VIDEO_INFO_PLANE_OFFSET(&self->info, i) = fb.offsets[i];
			GST_VIDEO_INFO_PLANE_STRIDE(&self->info, i) = (gint)fb.pitches[i];
		}
		GST_VIDEO_INFO_SIZE(&self->info) = fb.size;
	} else {
		GST_INFO_OBJECT(self, "daemon's framebuffer layout does not suit the caller");
	}
	release_framebuffer(self, &fb);
}

/*
 * One frame: with the framebuffer request, or (fallback) one dmabufd_alloc()
 * of the GstVideoInfo frame size. Either way a single fd holds every plane.
 */
static int dmabufd_pool_alloc_frame(GstDmabufdBufferPool *self, GstMemory **ret_mem,
				    gsize ret_offsets[GST_VIDEO_MAX_PLANES],
				    gint ret_strides[GST_VIDEO_MAX_PLANES])
{
	struct dmabufd_framebuffer fb;
	GstMemory *mem;
	guint i;
	int r;

	if (self->framebuffer) {
		r = request_framebuffer(self, TRUE, &fb);
		if (r < 0)
			return r;
		/* Same request, same layout; anything else is a daemon bug. */
		if (fb.size != self->fb_size || fb.num_planes != self->n_planes ||
		    memcmp(fb.offsets, self->fb_offsets, sizeof(fb.offsets)) ||
		    memcmp(fb.pitches, self->fb_pitches, sizeof(fb.pitches))) {
			release_framebuffer(self, &fb);
			gst_dmabufd_allocator_post_refusal(self->allocator, "framebuffer",
				fb.size, -EPROTO, "the daemon changed the layout of "
				"identical framebuffer requests");
			return -EPROTO;
		}
		mem = gst_dmabufd_allocator_wrap(self->allocator, fb.id, fb.fd, fb.size, fb.size);
		if (!mem)
			return -ENOMEM;
	} else {
		r = gst_dmabufd_allocator_alloc_buffer(self->allocator,
						       GST_VIDEO_INFO_SIZE(&self->info),
						       self->frame_label, &mem);
		if (r < 0)
			return r;
	}
	for (i = 0; i < GST_VIDEO_MAX_PLANES; i++) {
		ret_offsets[i] = GST_VIDEO_INFO_PLANE_OFFSET(&self->info, i);
		ret_strides[i] = GST_VIDEO_INFO_PLANE_STRIDE(&self->info, i);
	}
	*ret_mem = mem;
	return 0;
}

gboolean gst_dmabufd_buffer_pool_uses_framebuffer(GstDmabufdBufferPool *self)
{
	return self->framebuffer;
}

static const gchar *format_label(GstVideoFormat f)
{
	const gchar *s = gst_video_format_to_string(f);

	return s ? s : "?";
}

static gboolean dmabufd_pool_set_config(GstBufferPool *pool, GstStructure *config)
{
	GstDmabufdBufferPool *self = GST_DMABUFD_BUFFER_POOL(pool);
	GstBufferPoolClass *base = g_type_class_peek(GST_TYPE_BUFFER_POOL);
	GstCaps *caps = NULL;
	guint size, min, max;
	GstVideoInfo info;

	if (!gst_buffer_pool_config_get_params(config, &caps, &size, &min, &max) || !caps) {
		GST_WARNING_OBJECT(self, "configuration without caps");
		return FALSE;
	}
	if (!gst_video_info_from_caps(&info, caps)) {
		GST_WARNING_OBJECT(self, "caps are not raw video: %" GST_PTR_FORMAT, caps);
		return FALSE;
	}
	self->add_videometa =
		gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	gst_video_alignment_reset(&self->align);
	if (gst_buffer_pool_config_has_option(config, GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT)) {
		gst_buffer_pool_config_get_video_alignment(config, &self->align);
		if (!gst_video_info_align(&info, &self->align)) {
			GST_WARNING_OBJECT(self, "cannot apply the requested alignment");
			return FALSE;
		}
		gst_buffer_pool_config_set_video_alignment(config, &self->align);
	}
	self->info = info;
	g_snprintf(self->frame_label, sizeof(self->frame_label), "gst %s %s %dx%d",
		   self->label ? self->label : "pool", format_label(GST_VIDEO_INFO_FORMAT(&info)),
		   GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
	choose_layout(self); /* may replace self->info's offsets, strides, size */
	/* Bounded pool: never fewer allowed than required. */
	if (max && max < min)
		max = min;
	gst_buffer_pool_config_set_params(config, caps, GST_VIDEO_INFO_SIZE(&self->info), min,
					  max);
	gst_buffer_pool_config_set_allocator(config, GST_ALLOCATOR_CAST(self->allocator), NULL);
	GST_DEBUG_OBJECT(self, "%s frames of %" G_GSIZE_FORMAT " bytes, %u..%u buffers, "
			 "usage 0x%x", self->framebuffer ? "framebuffer" : "GstVideoInfo",
			 GST_VIDEO_INFO_SIZE(&self->info), min, max, self->usage);
	/* Skip GstVideoBufferPool::set_config: it would pick its own
	 * allocator; the base class stores the parameters. */
	return base->set_config(pool, config);
}

static GstFlowReturn dmabufd_pool_alloc_buffer(GstBufferPool *pool, GstBuffer **buffer,
					       GstBufferPoolAcquireParams *params)
{
	GstDmabufdBufferPool *self = GST_DMABUFD_BUFFER_POOL(pool);
	gsize offsets[GST_VIDEO_MAX_PLANES];
	gint strides[GST_VIDEO_MAX_PLANES];
	GstMemory *mem;
	GstBuffer *buf;
	int r;

	r = dmabufd_pool_alloc_frame(self, &mem, offsets, strides);
	if (r < 0) {
		GST_ERROR_OBJECT(self, "cannot allocate a frame from dmabufd: %s",
				 g_strerror(-r));
		return GST_FLOW_ERROR;
	}
	buf = gst_buffer_new();
	gst_buffer_append_memory(buf, mem);
	if (self->add_videometa) {
		GstVideoMeta *meta = gst_buffer_add_video_meta_full(
			buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&self->info),
			GST_VIDEO_INFO_WIDTH(&self->info), GST_VIDEO_INFO_HEIGHT(&self->info),
			GST_VIDEO_INFO_N_PLANES(&self->info), offsets, strides);

		gst_video_meta_set_alignment(meta, self->align);
	}
	g_atomic_int_inc(&self->allocated);
	*buffer = buf;
	return GST_FLOW_OK;
}

guint gst_dmabufd_buffer_pool_get_allocated(GstDmabufdBufferPool *self)
{
	return (guint)g_atomic_int_get(&self->allocated);
}

static void gst_dmabufd_buffer_pool_finalize(GObject *object)
{
	GstDmabufdBufferPool *self = GST_DMABUFD_BUFFER_POOL(object);

	gst_clear_object(&self->allocator);
	g_free(self->label);
	G_OBJECT_CLASS(gst_dmabufd_buffer_pool_parent_class)->finalize(object);
}

static void gst_dmabufd_buffer_pool_class_init(GstDmabufdBufferPoolClass *klass)
{
	GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
	GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS(klass);

	gobject_class->finalize = gst_dmabufd_buffer_pool_finalize;
	pool_class->set_config = dmabufd_pool_set_config;
	pool_class->alloc_buffer = dmabufd_pool_alloc_buffer;
	GST_DEBUG_CATEGORY_INIT(dmabufd_pool_debug, "dmabufdpool", 0, "dmabufd buffer pool");
}

static void gst_dmabufd_buffer_pool_init(GstDmabufdBufferPool *self)
{
	gst_video_info_init(&self->info);
	gst_video_alignment_reset(&self->align);
}

GstBufferPool *gst_dmabufd_buffer_pool_new(GstDmabufdAllocator *allocator, guint usage,
					   const gchar *label)
{
	GstDmabufdBufferPool *self = g_object_new(GST_TYPE_DMABUFD_BUFFER_POOL, NULL);

	gst_object_ref_sink(self);
	self->allocator = gst_object_ref(allocator);
	self->usage = usage;
	self->label = g_strdup(label);
	return GST_BUFFER_POOL_CAST(self);
}
