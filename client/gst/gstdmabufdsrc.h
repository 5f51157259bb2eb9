/* SPDX-License-Identifier: MIT */
/*
 * dmabufdsrc: the consumer side of dmabufdsink in GStreamer. Connects to a
 * dmabufdsink consumer-socket, and pushes every frame it receives as a
 * buffer whose memory is the producer's dmabufd buffer (dma-buf memory
 * wrapping the received fd, no copy) with a GstVideoMeta for its layout.
 * When the last reference to that memory goes, the frame is released to
 * the producer (DBFR_RELEASE).
 */
#ifndef GST_DMABUFD_SRC_H
#define GST_DMABUFD_SRC_H

#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABUFD_SRC (gst_dmabufd_src_get_type())
G_DECLARE_FINAL_TYPE(GstDmabufdSrc, gst_dmabufd_src, GST, DMABUFD_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE(dmabufdsrc);

G_END_DECLS

#endif
