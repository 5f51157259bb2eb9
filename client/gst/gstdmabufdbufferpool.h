/* SPDX-License-Identifier: MIT */
/*
 * GstDmabufdBufferPool: a GstVideoBufferPool whose buffers are whole video
 * frames, each one dmabufd buffer (one fd holding every plane), with the
 * plane offsets and strides in a GstVideoMeta.
 *
 * Options: GST_BUFFER_POOL_OPTION_VIDEO_META and _VIDEO_ALIGNMENT (padding
 * and stride alignment requested by decoders are honoured). The allocator
 * in the configuration is ignored: the pool always allocates from the
 * GstDmabufdAllocator it was made with. The pool's configuration, like any
 * GstBufferPool's, bounds the number of buffers (max_buffers): buffers are
 * allocated once and reused, never one per frame.
 *
 * Layout: frames are requested with dmabufd_alloc_framebuffer() (the
 * daemon lays out the planes from the usage bits) whenever the caller can
 * use that layout, else laid out by GstVideoInfo and allocated with
 * dmabufd_alloc(); choose_layout() in gstdmabufdbufferpool.c says when.
 */
#ifndef GST_DMABUFD_BUFFER_POOL_H
#define GST_DMABUFD_BUFFER_POOL_H

#include <gst/gst.h>
#include <gst/video/gstvideopool.h>
#include <gst/video/video.h>

#include "gstdmabufdallocator.h"
#include "gstdmabufdlayout.h"

G_BEGIN_DECLS

/**
 * GstDmabufdUsage - what the frames are used for; the same bits as
 * enum dmabufd_usage of <dmabufd/framebuffer.h>, passed to the daemon with
 * each framebuffer request.
 */
typedef enum {
	GST_DMABUFD_USAGE_SCANOUT = 1u << 0,
	GST_DMABUFD_USAGE_RENDER = 1u << 1,
	GST_DMABUFD_USAGE_TEXTURE = 1u << 2,
	GST_DMABUFD_USAGE_VIDEO_DECODE = 1u << 3,
	GST_DMABUFD_USAGE_VIDEO_ENCODE = 1u << 4,
	GST_DMABUFD_USAGE_CAMERA = 1u << 5,
	GST_DMABUFD_USAGE_CPU_READ = 1u << 6,
	GST_DMABUFD_USAGE_CPU_WRITE = 1u << 7,
} GstDmabufdUsage;
#define GST_DMABUFD_USAGE_DEFAULT (GST_DMABUFD_USAGE_CPU_READ | GST_DMABUFD_USAGE_CPU_WRITE)
#define GST_TYPE_DMABUFD_USAGE (gst_dmabufd_usage_get_type())
GType gst_dmabufd_usage_get_type(void);

/** GEnum of enum dmabufd_attribute ("cached", "wc", "uncached"). */
#define GST_TYPE_DMABUFD_ATTRIBUTE (gst_dmabufd_attribute_get_type())
GType gst_dmabufd_attribute_get_type(void);

#define GST_TYPE_DMABUFD_BUFFER_POOL (gst_dmabufd_buffer_pool_get_type())
G_DECLARE_FINAL_TYPE(GstDmabufdBufferPool, gst_dmabufd_buffer_pool, GST, DMABUFD_BUFFER_POOL,
		     GstVideoBufferPool)

/**
 * gst_dmabufd_buffer_pool_new() - a pool allocating from @allocator.
 * @allocator: a GstDmabufdAllocator (a reference is taken)
 * @usage: GstDmabufdUsage bits told to the daemon for every frame
 * @label: prefix of every buffer's label (e.g. the element name), or NULL
 * Return: a new floating-sunk reference.
 */
GstBufferPool *gst_dmabufd_buffer_pool_new(GstDmabufdAllocator *allocator, guint usage,
					   const gchar *label);

/**
 * gst_dmabufd_buffer_pool_uses_framebuffer() - TRUE when the configured
 * pool allocates with dmabufd_alloc_framebuffer() (daemon-computed layout),
 * FALSE when with dmabufd_alloc() and GstVideoInfo's layout.
 */
gboolean gst_dmabufd_buffer_pool_uses_framebuffer(GstDmabufdBufferPool *self);

/** Number of frames the pool allocated from dmabufd so far (not reuses). */
guint gst_dmabufd_buffer_pool_get_allocated(GstDmabufdBufferPool *self);

G_END_DECLS

#endif
