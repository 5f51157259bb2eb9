/* SPDX-License-Identifier: MIT */
/*
 * The consumer side of dmabufdsink: the consumer-socket it listens on, the
 * consumers connected to it and the ring of frames they hold, spoken in the
 * frame-ring protocol (dbfr.h, docs/GSTREAMER.md).
 *
 * Embedded in the sink (init/finish); every call is made from the sink's
 * streaming thread or its start/stop, except set_flushing (unlock). The
 * counters (consumers, published, dropped) change under the element's
 * object lock, so the element's properties may read them under it.
 */
#ifndef GST_DMABUFD_PUBLISHER_H
#define GST_DMABUFD_PUBLISHER_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include <dmabufd/dmabufd.h>

#define GST_DMABUFD_PUBLISHER_MAX_RING 32
#define GST_DMABUFD_PUBLISHER_MAX_CONSUMERS 32 /* bits of ring_slot.holders */

struct gst_dmabufd_ring_slot {
	GstBuffer *buf;   /* NULL: free */
	guint64 seq;
	guint32 holders;  /* bit i: consumers[i] has not released it */
};

struct gst_dmabufd_consumer {
	int fd;           /* -1: unused */
	GstPollFD pfd;
	guint caps_gen;   /* the publisher's caps_gen it was last sent; 0: none */
};

typedef struct {
	GstElement *element;  /* the sink: errors, logs, object lock; not owned */

	/* Settings, copied by init (the sink's READY-mutable properties). */
	guint ring_depth;
	guint max_consumers;
	gboolean leaky;

	/* Counters (element's object lock). */
	guint n_consumers;
	guint64 published;    /* frames sent to at least one consumer */
	guint64 dropped;      /* frames not sent: ring full and leaky */

	gchar *caps_str;      /* negotiated caps, sent to consumers */
	guint caps_gen;       /* bumped by every set_caps, from 1; kept by finish */
	GstPoll *poll;        /* NULL: not initialised */
	int listen_fd;        /* -1: no consumer-socket */
	GstPollFD listen_pfd;
	gchar *bound_path;    /* path bound, unlinked by finish */
	struct gst_dmabufd_consumer consumers[GST_DMABUFD_PUBLISHER_MAX_CONSUMERS];
	struct gst_dmabufd_ring_slot ring[GST_DMABUFD_PUBLISHER_MAX_RING];
} GstDmabufdPublisher;

/* Sets up a zero-filled or finished @pub for @element, without a
 * consumer-socket. Keeps caps_gen and the counters (the element resets
 * those it reports). @ring_depth ≤ MAX_RING, @max_consumers ≤
 * MAX_CONSUMERS. */
void gst_dmabufd_publisher_init(GstDmabufdPublisher *pub, GstElement *element,
				guint ring_depth, guint max_consumers, gboolean leaky);
/* Reads the releases still queued, drops every consumer and frame, closes
 * and unlinks the consumer-socket, frees the poll and the caps. Does
 * nothing more than free the caps on a zero-filled or finished @pub. */
void gst_dmabufd_publisher_finish(GstDmabufdPublisher *pub);
/* Listens on the SOCK_SEQPACKET socket @path (a stale socket there is
 * replaced). FALSE after posting an element error. */
gboolean gst_dmabufd_publisher_listen(GstDmabufdPublisher *pub, const gchar *path);
/* Makes @pub the sender of @caps_str (owned) to every consumer. */
void gst_dmabufd_publisher_set_caps(GstDmabufdPublisher *pub, gchar *caps_str);
/* Wakes (TRUE) a wait and makes further waits return -EBUSY, or ends that
 * (FALSE). */
void gst_dmabufd_publisher_set_flushing(GstDmabufdPublisher *pub, gboolean flushing);
/* Accepts new consumers (greeted with @dinfo's backend) and reads releases,
 * without blocking. */
void gst_dmabufd_publisher_service(GstDmabufdPublisher *pub, const struct dmabufd_info *dinfo);
/* Blocks until a consumer connects or sends something. Return: 0, or
 * -EBUSY when flushing. */
int gst_dmabufd_publisher_wait(GstDmabufdPublisher *pub);
/* Sends frame @seq (@frame: one dmabufd memory laid out as @info; @copied:
 * copied into it by the sink) to every consumer, after waiting for a free
 * ring slot (leaky: dropping the frame instead). GST_FLOW_FLUSHING when
 * unlocked while waiting; GST_FLOW_ERROR after posting an element error. */
GstFlowReturn gst_dmabufd_publisher_publish(GstDmabufdPublisher *pub,
					    const struct dmabufd_info *dinfo,
					    const GstVideoInfo *info, GstBuffer *frame,
					    guint64 seq, gboolean copied);
/* Sends EOS to every consumer, waiting a bounded time for room in each
 * socket; a consumer it cannot reach is dropped. */
void gst_dmabufd_publisher_send_eos(GstDmabufdPublisher *pub);

/*
 * After the EOS, waits until the consumers have released every frame they
 * hold, or have gone, at most EOS_DRAIN_TIMEOUT_MS (5 s): the pool frees
 * its buffers when the sink stops, and the daemon empties a released
 * memfd buffer, so a frame still being read must outlive the stream.
 */
void gst_dmabufd_publisher_drain(GstDmabufdPublisher *pub);

#endif
