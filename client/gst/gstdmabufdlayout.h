/* SPDX-License-Identifier: MIT */
#ifndef GST_DMABUFD_LAYOUT_H
#define GST_DMABUFD_LAYOUT_H

#include <gst/video/video.h>

G_BEGIN_DECLS

/**
 * gst_dmabufd_plane_row_bytes() - bytes of one row of @plane that hold
 * pixel data (no stride padding), and the number of rows of @plane; the
 * area a checksum covers. Return: row bytes (0 if @plane is out of range).
 */
guint gst_dmabufd_plane_row_bytes(const GstVideoInfo *info, guint plane, guint *ret_rows);

/**
 * gst_dmabufd_drm_fourcc() - the DRM fourcc (<drm_fourcc.h>) of a GStreamer
 * video format, e.g. NV12 -> DRM_FORMAT_NV12, BGRx -> DRM_FORMAT_XRGB8888
 * (both name the same little-endian byte order). Return: 0 if DRM has no
 * code for @format.
 */
guint32 gst_dmabufd_drm_fourcc(GstVideoFormat format);

G_END_DECLS

#endif
