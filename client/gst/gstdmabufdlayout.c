/* SPDX-License-Identifier: MIT */
/* Pixel-data extent of a plane: shared by the sink and the reference tool. */
#include "gstdmabufdlayout.h"

#include <libdrm/drm_fourcc.h>

guint gst_dmabufd_plane_row_bytes(const GstVideoInfo *info, guint plane, guint *ret_rows)
{
	const GstVideoFormatInfo *finfo = info->finfo;
	guint c, end = 0, rows = 0;

	if (plane >= GST_VIDEO_INFO_N_PLANES(info))
		return 0;
	for (c = 0; c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(finfo); c++) {
		guint cw, ch, bytes, e;

		if (GST_VIDEO_FORMAT_INFO_PLANE(finfo, c) != plane)
			continue;
		cw = GST_VIDEO_INFO_COMP_WIDTH(info, c);
		ch = GST_VIDEO_INFO_COMP_HEIGHT(info, c);
		bytes = (GST_VIDEO_FORMAT_INFO_SHIFT(finfo, c) +
			 GST_VIDEO_FORMAT_INFO_DEPTH(finfo, c) + 7) / 8;
		e = GST_VIDEO_FORMAT_INFO_POFFSET(finfo, c) +
		    GST_VIDEO_FORMAT_INFO_PSTRIDE(finfo, c) * (cw ? cw - 1 : 0) + bytes;
		end = MAX(end, e);
		rows = MAX(rows, ch);
	}
	if (ret_rows)
		*ret_rows = rows;
	return end;
}


/* GStreamer format -> DRM fourcc (<drm_fourcc.h>, little-endian packing:
 * GStreamer's BGRx is DRM's XRGB8888). 0 where DRM has no code. */
guint32 gst_dmabufd_drm_fourcc(GstVideoFormat f)
{
	switch (f) {
	case GST_VIDEO_FORMAT_NV12: return DRM_FORMAT_NV12;
	case GST_VIDEO_FORMAT_NV21: return DRM_FORMAT_NV21;
	case GST_VIDEO_FORMAT_I420: return DRM_FORMAT_YUV420;
	case GST_VIDEO_FORMAT_YV12: return DRM_FORMAT_YVU420;
	case GST_VIDEO_FORMAT_Y42B: return DRM_FORMAT_YUV422;
	case GST_VIDEO_FORMAT_Y444: return DRM_FORMAT_YUV444;
	case GST_VIDEO_FORMAT_NV16: return DRM_FORMAT_NV16;
	case GST_VIDEO_FORMAT_NV24: return DRM_FORMAT_NV24;
	case GST_VIDEO_FORMAT_YUY2: return DRM_FORMAT_YUYV;
	case GST_VIDEO_FORMAT_UYVY: return DRM_FORMAT_UYVY;
	case GST_VIDEO_FORMAT_BGRx: return DRM_FORMAT_XRGB8888;
	case GST_VIDEO_FORMAT_BGRA: return DRM_FORMAT_ARGB8888;
	case GST_VIDEO_FORMAT_RGBx: return DRM_FORMAT_XBGR8888;
	case GST_VIDEO_FORMAT_RGBA: return DRM_FORMAT_ABGR8888;
	case GST_VIDEO_FORMAT_xRGB: return DRM_FORMAT_BGRX8888;
	case GST_VIDEO_FORMAT_ARGB: return DRM_FORMAT_BGRA8888;
	case GST_VIDEO_FORMAT_xBGR: return DRM_FORMAT_RGBX8888;
	case GST_VIDEO_FORMAT_ABGR: return DRM_FORMAT_RGBA8888;
	case GST_VIDEO_FORMAT_RGB: return DRM_FORMAT_BGR888;
	case GST_VIDEO_FORMAT_BGR: return DRM_FORMAT_RGB888;
	case GST_VIDEO_FORMAT_RGB16: return DRM_FORMAT_RGB565;
	case GST_VIDEO_FORMAT_GRAY8: return DRM_FORMAT_R8;
	case GST_VIDEO_FORMAT_GRAY16_LE: return DRM_FORMAT_R16;
	case GST_VIDEO_FORMAT_P010_10LE: return DRM_FORMAT_P010;
	default: return 0;
	}
}
