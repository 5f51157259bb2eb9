/* SPDX-License-Identifier: MIT */
/*
 * dmabufdsink: a video sink that proposes a GstDmabufdBufferPool in the
 * ALLOCATION query, so upstream elements render straight into dmabufd
 * buffers, and publishes every frame it receives to consumer processes over
 * the frame-ring protocol (dbfr.h) on its consumer-socket.
 */
#ifndef GST_DMABUFD_SINK_H
#define GST_DMABUFD_SINK_H

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABUFD_SINK (gst_dmabufd_sink_get_type())
G_DECLARE_FINAL_TYPE(GstDmabufdSink, gst_dmabufd_sink, GST, DMABUFD_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE(dmabufdsink);

G_END_DECLS

#endif
