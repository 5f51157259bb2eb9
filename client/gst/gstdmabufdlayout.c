/* SPDX-License-Identifier: MIT */
/* Pixel-data extent of a plane: shared by the sink and the reference tool. */
#include "gstdmabufdlayout.h"

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

