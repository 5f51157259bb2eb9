/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-gst-refsum - reference checksums of a pipeline's frames, taken on
 * ordinary system memory.
 *
 *   dmabufd-gst-refsum 'PIPELINE-DESCRIPTION'
 *
 * Appends "! appsink" to the description (appsink proposes no pool, so the
 * frames are in the upstream elements' own system memory), and prints one
 * line per frame: "SEQ CHECKSUM", the same FNV-1a 64 over the pixel data
 * as dmabufd-frame-consumer (dbfr_checksum(), row bytes from
 * gst_dmabufd_plane_row_bytes()). stderr gets a summary, including how many
 * frames were dma-buf memory (expected: 0).
 * Exit: 0 after EOS; 1 on a pipeline error; 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>

#include <gst/allocators/allocators.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "dbfr.h"
#include "gstdmabufdlayout.h"

int main(int argc, char **argv)
{
	GstElement *pipeline, *sink;
	GError *err = NULL;
	guint64 seq = 0, dmabuf_frames = 0;
	gchar *desc;
	int ret = 0;

	gst_init(&argc, &argv);
	if (argc != 2) {
		fprintf(stderr, "Usage: dmabufd-gst-refsum 'PIPELINE-DESCRIPTION'\n");
		return 2;
	}
	desc = g_strdup_printf("%s ! appsink name=refsink sync=false", argv[1]);
	pipeline = gst_parse_launch(desc, &err);
	g_free(desc);
	if (!pipeline) {
		fprintf(stderr, "refsum: %s\n", err ? err->message : "parse error");
		g_clear_error(&err);
		return 2;
	}
	sink = gst_bin_get_by_name(GST_BIN(pipeline), "refsink");
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	for (;;) {
		GstSample *s = gst_app_sink_pull_sample(GST_APP_SINK(sink));
		const uint8_t *planes[DBFR_MAX_PLANES];
		uint32_t strides[DBFR_MAX_PLANES], rows[DBFR_MAX_PLANES], row_bytes[DBFR_MAX_PLANES];
		GstVideoFrame frame;
		GstVideoInfo info;
		GstBuffer *buf;
		guint p, n;

		if (!s)
			break;
		buf = gst_sample_get_buffer(s);
		if (!gst_video_info_from_caps(&info, gst_sample_get_caps(s)) ||
		    GST_VIDEO_INFO_N_PLANES(&info) > DBFR_MAX_PLANES ||
		    !gst_video_frame_map(&frame, &info, buf, GST_MAP_READ)) {
			fprintf(stderr, "refsum: cannot map frame %" G_GUINT64_FORMAT "\n", seq);
			gst_sample_unref(s);
			ret = 1;
			break;
		}
		if (gst_is_dmabuf_memory(gst_buffer_peek_memory(buf, 0)))
			dmabuf_frames++;
		n = GST_VIDEO_FRAME_N_PLANES(&frame);
		for (p = 0; p < n; p++) {
			planes[p] = GST_VIDEO_FRAME_PLANE_DATA(&frame, p);
			strides[p] = (uint32_t)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, p);
			row_bytes[p] = gst_dmabufd_plane_row_bytes(&info, p, &rows[p]);
		}
		printf("%" G_GUINT64_FORMAT " %016" PRIx64 "\n", seq++,
		       dbfr_checksum(n, planes, strides, row_bytes, rows));
		gst_video_frame_unmap(&frame);
		gst_sample_unref(s);
	}
	if (!gst_app_sink_is_eos(GST_APP_SINK(sink))) {
		GstMessage *msg = gst_bus_pop_filtered(GST_ELEMENT_BUS(pipeline), GST_MESSAGE_ERROR);

		if (msg) {
			gst_message_parse_error(msg, &err, NULL);
			fprintf(stderr, "refsum: %s\n", err->message);
			g_clear_error(&err);
			gst_message_unref(msg);
		}
		ret = 1;
	}
	fprintf(stderr, "refsum: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
		" in dma-buf memory\n", seq, dmabuf_frames);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
	gst_deinit();
	return ret;
}
