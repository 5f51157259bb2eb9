/* SPDX-License-Identifier: MIT */
/* GstDmabufdBufferPool: whole video frames in dmabufd buffers. */
#include "gstdmabufdbufferpool.h"

#include <errno.h>
#include <string.h>

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
	guint allocated;               /* atomic */
};

G_DEFINE_TYPE(GstDmabufdBufferPool, gst_dmabufd_buffer_pool, GST_TYPE_VIDEO_BUFFER_POOL)

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
 * The frame layout: the one place that decides where the planes go.
 *
 * Now: the layout GstVideoInfo computes (with the configured alignment and
 * padding), one dmabufd_alloc() of info.size bytes per frame.
 *
 * With the framebuffer request (branch fb, <dmabufd/framebuffer.h>) this
 * becomes dmabufd_alloc_framebuffer(width, height, fourcc,
 * DRM_FORMAT_MOD_LINEAR, usage, attribute, 0, label, &fb) on the
 * allocator's connection (gst_dmabufd_allocator_lock()), then
 * gst_dmabufd_allocator_wrap(fb.id, fb.fd, fb.size, fb.size) and
 * offsets/strides from fb.offsets/fb.pitches — when the configuration asks
 * for no padding (the daemon's layout has none) and the caller supports
 * GstVideoMeta; otherwise this code stays the fallback.
 */
static int dmabufd_pool_alloc_frame(GstDmabufdBufferPool *self, GstMemory **ret_mem,
				    gsize ret_offsets[GST_VIDEO_MAX_PLANES],
				    gint ret_strides[GST_VIDEO_MAX_PLANES])
{
	GstMemory *mem;
	guint i;
	int r;

	r = gst_dmabufd_allocator_alloc_buffer(self->allocator, GST_VIDEO_INFO_SIZE(&self->info),
					       self->frame_label, &mem);
	if (r < 0)
		return r;
	for (i = 0; i < GST_VIDEO_MAX_PLANES; i++) {
		ret_offsets[i] = GST_VIDEO_INFO_PLANE_OFFSET(&self->info, i);
		ret_strides[i] = GST_VIDEO_INFO_PLANE_STRIDE(&self->info, i);
	}
	*ret_mem = mem;
	return 0;
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
	/* Bounded pool: never fewer allowed than required. */
	if (max && max < min)
		max = min;
	gst_buffer_pool_config_set_params(config, caps, GST_VIDEO_INFO_SIZE(&info), min, max);
	gst_buffer_pool_config_set_allocator(config, GST_ALLOCATOR_CAST(self->allocator), NULL);
	g_snprintf(self->frame_label, sizeof(self->frame_label), "gst %s %s %dx%d",
		   self->label ? self->label : "pool", format_label(GST_VIDEO_INFO_FORMAT(&info)),
		   GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
	GST_DEBUG_OBJECT(self, "frames of %" G_GSIZE_FORMAT " bytes, %u..%u buffers, usage 0x%x",
			 GST_VIDEO_INFO_SIZE(&info), min, max, self->usage);
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
