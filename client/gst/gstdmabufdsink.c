/* SPDX-License-Identifier: MIT */
/**
 * SECTION:element-dmabufdsink
 *
 * Renders video into dmabufd buffers and publishes each frame to consumer
 * processes.
 *
 * In the ALLOCATION query the sink proposes a GstDmabufdBufferPool (whole
 * frames, one dmabufd buffer each, GstVideoMeta with plane offsets and
 * strides) and the GstDmabufdAllocator, so videotestsrc, videoconvert and
 * decoders write directly into dmabufd buffers. A frame that arrives in
 * other memory (upstream ignored the pool) is copied into a pool buffer, and
 * counted in frames-copied.
 *
 * With consumer-socket set, the sink listens there (SOCK_SEQPACKET) and
 * sends each frame's fd, layout and sequence number to every connected
 * consumer (protocol: client/gst/dbfr.h, docs/GSTREAMER.md). It keeps at
 * most ring-depth frames out with consumers; when all are out it waits for
 * a release, or with leaky=true drops the frame for the consumers.
 *
 * Example:
 *   gst-launch-1.0 videotestsrc num-buffers=100 ! video/x-raw,format=NV12 !
 *     dmabufdsink socket-path=/run/dmabufd/socket consumer-socket=/tmp/frames
 */
#include "gstdmabufdsink.h"

#include <string.h>

#include <gst/video/video.h>

#include "dbfr.h"
#include "gstdmabufdallocator.h"
#include "gstdmabufdbufferpool.h"
#include "gstdmabufdpublisher.h"

GST_DEBUG_CATEGORY(dmabufd_sink_debug);
#define GST_CAT_DEFAULT dmabufd_sink_debug

#define MAX_RING GST_DMABUFD_PUBLISHER_MAX_RING
#define MAX_CONSUMERS GST_DMABUFD_PUBLISHER_MAX_CONSUMERS
#define DEFAULT_RING_DEPTH 4
#define DEFAULT_MAX_CONSUMERS 8
/* Pool buffers beyond the ring: one being rendered by upstream, one being
 * handed to the sink, one queued between them. */
#define POOL_EXTRA 3

enum {
	PROP_0,
	PROP_SOCKET_PATH,
	PROP_CONSUMER_SOCKET,
	PROP_ATTRIBUTE,
	PROP_USAGE,
	PROP_RING_DEPTH,
	PROP_MAX_CONSUMERS,
	PROP_WAIT_CONSUMERS,
	PROP_LEAKY,
	PROP_LABEL,
	PROP_FRAMES_RENDERED,
	PROP_FRAMES_PUBLISHED,
	PROP_FRAMES_COPIED,
	PROP_FRAMES_DROPPED,
	PROP_CONSUMERS,
	PROP_BUFFERS_ALLOCATED,
	PROP_FRAMEBUFFER,
};

struct _GstDmabufdSink {
	GstBaseSink parent;

	/* Properties (object lock). */
	gchar *socket_path;
	gchar *consumer_socket;
	enum dmabufd_attribute attribute;
	guint usage;
	guint ring_depth;
	guint max_consumers;
	guint wait_consumers;
	gboolean leaky;
	gchar *label;

	/* Statistics (object lock; the publisher's too). */
	guint64 frames_rendered, frames_copied;

	/* Streaming state. */
	GstAllocator *allocator;     /* GstDmabufdAllocator, from start() */
	GstVideoInfo info;
	gboolean have_info;
	GstBufferPool *copy_pool;    /* for frames not in dmabufd memory */
	GstBufferPool *proposed_pool;/* last pool proposed upstream (for stats) */
	guint pools_allocated;       /* frames allocated by earlier pools */
	GstDmabufdPublisher pub;     /* consumer-socket, consumers, ring */
	guint64 seq;
	gboolean published_once;
};

#define FORMATS "{ NV12, NV21, I420, YV12, Y42B, Y444, NV16, NV24, YUY2, UYVY, " \
		"BGRx, BGRA, RGBx, RGBA, xRGB, ARGB, xBGR, ABGR, RGB, BGR, RGB16, " \
		"GRAY8, GRAY16_LE, P010_10LE }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
	"sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(FORMATS)));

G_DEFINE_TYPE(GstDmabufdSink, gst_dmabufd_sink, GST_TYPE_BASE_SINK)
GST_ELEMENT_REGISTER_DEFINE(dmabufdsink, "dmabufdsink", GST_RANK_NONE, GST_TYPE_DMABUFD_SINK)

/* ---- GstBaseSink ----------------------------------------------------- */

static gboolean gst_dmabufd_sink_start(GstBaseSink *bsink)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);
	gchar *socket_path, *consumer_socket;
	enum dmabufd_attribute attribute;
	guint ring_depth, max_consumers;
	gboolean leaky;
	int r;

	GST_OBJECT_LOCK(self);
	socket_path = g_strdup(self->socket_path);
	consumer_socket = g_strdup(self->consumer_socket);
	attribute = self->attribute;
	ring_depth = self->ring_depth;
	max_consumers = self->max_consumers;
	leaky = self->leaky;
	self->frames_rendered = self->pub.published = 0;
	self->frames_copied = self->pub.dropped = 0;
	GST_OBJECT_UNLOCK(self);

	r = gst_dmabufd_allocator_new(socket_path, attribute, &self->allocator);
	if (r < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ_WRITE,
				  ("Cannot connect to dmabufd."),
				  ("dmabufd_connect(%s): %s", socket_path ? socket_path :
				   "$DMABUFD_SOCKET or " DMABUFD_DEFAULT_SOCKET, g_strerror(-r)));
		goto fail;
	}
	gst_dmabufd_allocator_set_element(GST_DMABUFD_ALLOCATOR(self->allocator),
					  GST_ELEMENT(self));
	gst_dmabufd_publisher_init(&self->pub, GST_ELEMENT(self), ring_depth, max_consumers,
				   leaky);
	self->seq = 0;
	self->published_once = FALSE;
	self->pools_allocated = 0;
	if (consumer_socket && *consumer_socket &&
	    !gst_dmabufd_publisher_listen(&self->pub, consumer_socket))
		goto fail;
	GST_INFO_OBJECT(self, "connected to dmabufd (%s backend)",
			gst_dmabufd_allocator_get_info(GST_DMABUFD_ALLOCATOR(self->allocator))
				->backend);
	g_free(socket_path);
	g_free(consumer_socket);
	return TRUE;
fail:
	g_free(socket_path);
	g_free(consumer_socket);
	gst_clear_object(&self->allocator);
	gst_dmabufd_publisher_finish(&self->pub);
	return FALSE;
}

static void drop_pool(GstBufferPool **pool)
{
	if (*pool) {
		gst_buffer_pool_set_active(*pool, FALSE);
		gst_clear_object(pool);
	}
}

static gboolean gst_dmabufd_sink_stop(GstBaseSink *bsink)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);

	/* The frames out with consumers first: their memory is the
	 * allocator's. */
	gst_dmabufd_publisher_finish(&self->pub);
	drop_pool(&self->copy_pool);
	gst_clear_object(&self->proposed_pool);
	gst_clear_object(&self->allocator);
	self->have_info = FALSE;
	return TRUE;
}

static gboolean gst_dmabufd_sink_unlock(GstBaseSink *bsink)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);

	gst_dmabufd_publisher_set_flushing(&self->pub, TRUE);
	return TRUE;
}

static gboolean gst_dmabufd_sink_unlock_stop(GstBaseSink *bsink)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);

	gst_dmabufd_publisher_set_flushing(&self->pub, FALSE);
	return TRUE;
}

static guint pool_max_buffers(GstDmabufdSink *self)
{
	return self->ring_depth + POOL_EXTRA;
}

static GstBufferPool *make_pool(GstDmabufdSink *self, GstCaps *caps, guint size, guint min,
				guint max)
{
	GstBufferPool *pool;
	GstStructure *config;
	gchar *label;

	GST_OBJECT_LOCK(self);
	label = g_strdup(self->label ? self->label : GST_OBJECT_NAME(self));
	GST_OBJECT_UNLOCK(self);
	pool = gst_dmabufd_buffer_pool_new(GST_DMABUFD_ALLOCATOR(self->allocator), self->usage,
					   label);
	g_free(label);
	config = gst_buffer_pool_get_config(pool);
	gst_buffer_pool_config_set_params(config, caps, size, min, max);
	gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	if (!gst_buffer_pool_set_config(pool, config)) {
		GST_WARNING_OBJECT(self, "pool refused its configuration");
		gst_object_unref(pool);
		return NULL;
	}
	return pool;
}

static gboolean gst_dmabufd_sink_propose_allocation(GstBaseSink *bsink, GstQuery *query)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);
	GstBufferPool *pool = NULL;
	gboolean need_pool;
	GstVideoInfo info;
	GstCaps *caps;
	guint max;

	gst_query_parse_allocation(query, &caps, &need_pool);
	if (!caps || !gst_video_info_from_caps(&info, caps) || !self->allocator)
		return FALSE;
	max = pool_max_buffers(self);
	if (need_pool) {
		pool = make_pool(self, caps, GST_VIDEO_INFO_SIZE(&info), 2, max);
		if (!pool)
			return FALSE;
		GST_OBJECT_LOCK(self);
		if (self->proposed_pool)
			self->pools_allocated += gst_dmabufd_buffer_pool_get_allocated(
				GST_DMABUFD_BUFFER_POOL(self->proposed_pool));
		gst_object_replace((GstObject **)&self->proposed_pool, GST_OBJECT(pool));
		GST_OBJECT_UNLOCK(self);
	}
	gst_query_add_allocation_pool(query, pool, GST_VIDEO_INFO_SIZE(&info), 2, max);
	gst_query_add_allocation_param(query, self->allocator, NULL);
	gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	if (pool)
		gst_object_unref(pool);
	return TRUE;
}

static gboolean gst_dmabufd_sink_set_caps(GstBaseSink *bsink, GstCaps *caps)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);
	GstVideoInfo info;

	gchar *str;

	if (!gst_video_info_from_caps(&info, caps))
		return FALSE;
	str = gst_caps_to_string(caps);
	if (strlen(str) + 1 > DBFR_MAX_CAPS) {
		GST_ELEMENT_ERROR(self, STREAM, FORMAT, (NULL),
				  ("caps too long for the consumers (%zu bytes, at most %zu): %s",
				   strlen(str) + 1, (size_t)DBFR_MAX_CAPS, str));
		g_free(str);
		return FALSE;
	}
	gst_dmabufd_publisher_set_caps(&self->pub, str);
	self->info = info;
	self->have_info = TRUE;
	drop_pool(&self->copy_pool); /* recreated on demand with the new caps */
	GST_DEBUG_OBJECT(self, "caps %" GST_PTR_FORMAT, caps);
	return TRUE;
}

/* Returns a reference to a buffer holding @buf's frame in one dmabufd
 * memory: @buf itself, or a copy in a buffer of the copy pool. */
static GstBuffer *ensure_dmabufd(GstDmabufdSink *self, GstBuffer *buf, gboolean *ret_copied)
{
	GstVideoFrame src, dst;
	GstBuffer *out = NULL;

	if (gst_buffer_n_memory(buf) == 1 &&
	    gst_dmabufd_memory_get_id(gst_buffer_peek_memory(buf, 0), NULL)) {
		*ret_copied = FALSE;
		return gst_buffer_ref(buf);
	}
	if (!self->copy_pool) {
		GstCaps *caps = gst_video_info_to_caps(&self->info);

		self->copy_pool = make_pool(self, caps, GST_VIDEO_INFO_SIZE(&self->info), 0,
					    pool_max_buffers(self));
		gst_caps_unref(caps);
		if (!self->copy_pool || !gst_buffer_pool_set_active(self->copy_pool, TRUE)) {
			drop_pool(&self->copy_pool);
			return NULL;
		}
	}
	if (gst_buffer_pool_acquire_buffer(self->copy_pool, &out, NULL) != GST_FLOW_OK)
		return NULL;
	if (!gst_video_frame_map(&src, &self->info, buf, GST_MAP_READ)) {
		gst_buffer_unref(out);
		return NULL;
	}
	if (!gst_video_frame_map(&dst, &self->info, out, GST_MAP_WRITE)) {
		gst_video_frame_unmap(&src);
		gst_buffer_unref(out);
		return NULL;
	}
	gst_video_frame_copy(&dst, &src);
	gst_video_frame_unmap(&dst);
	gst_video_frame_unmap(&src);
	gst_buffer_copy_into(out, buf, GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_FLAGS, 0, -1);
	*ret_copied = TRUE;
	return out;
}

static GstFlowReturn gst_dmabufd_sink_render(GstBaseSink *bsink, GstBuffer *buf)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);
	const struct dmabufd_info *dinfo =
		gst_dmabufd_allocator_get_info(GST_DMABUFD_ALLOCATOR(self->allocator));
	GstFlowReturn ret = GST_FLOW_OK;
	gboolean copied = FALSE;
	GstBuffer *frame;
	guint64 seq;

	if (!self->have_info)
		return GST_FLOW_NOT_NEGOTIATED;
	gst_dmabufd_publisher_service(&self->pub, dinfo);
	if (!self->published_once && self->pub.listen_fd >= 0) {
		while (self->pub.n_consumers < self->wait_consumers) {
			if (gst_dmabufd_publisher_wait(&self->pub) < 0)
				return GST_FLOW_FLUSHING;
			gst_dmabufd_publisher_service(&self->pub, dinfo);
		}
	}
	frame = ensure_dmabufd(self, buf, &copied);
	if (!frame) {
		GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT, (NULL),
				  ("cannot get a dmabufd buffer for the frame"));
		return GST_FLOW_ERROR;
	}
	seq = self->seq++;
	GST_OBJECT_LOCK(self);
	self->frames_rendered++;
	if (copied)
		self->frames_copied++;
	GST_OBJECT_UNLOCK(self);
	if (self->pub.n_consumers) {
		self->published_once = TRUE;
		ret = gst_dmabufd_publisher_publish(&self->pub, dinfo, &self->info, frame, seq,
						    copied);
	}
	gst_buffer_unref(frame);
	return ret;
}

static gboolean gst_dmabufd_sink_event(GstBaseSink *bsink, GstEvent *event)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(bsink);

	if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && self->pub.poll) {
		gst_dmabufd_publisher_service(&self->pub, gst_dmabufd_allocator_get_info(
			GST_DMABUFD_ALLOCATOR(self->allocator)));
		gst_dmabufd_publisher_send_eos(&self->pub);
		gst_dmabufd_publisher_drain(&self->pub);
	}
	return GST_BASE_SINK_CLASS(gst_dmabufd_sink_parent_class)->event(bsink, event);
}

/* ---- GObject ---------------------------------------------------------- */

static void gst_dmabufd_sink_set_property(GObject *object, guint prop_id, const GValue *value,
					  GParamSpec *pspec)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(object);

	GST_OBJECT_LOCK(self);
	switch (prop_id) {
	case PROP_SOCKET_PATH:
		g_free(self->socket_path);
		self->socket_path = g_value_dup_string(value);
		break;
	case PROP_CONSUMER_SOCKET:
		g_free(self->consumer_socket);
		self->consumer_socket = g_value_dup_string(value);
		break;
	case PROP_ATTRIBUTE:
		self->attribute = g_value_get_enum(value);
		break;
	case PROP_USAGE:
		self->usage = g_value_get_flags(value);
		break;
	case PROP_RING_DEPTH:
		self->ring_depth = g_value_get_uint(value);
		break;
	case PROP_MAX_CONSUMERS:
		self->max_consumers = g_value_get_uint(value);
		break;
	case PROP_WAIT_CONSUMERS:
		self->wait_consumers = g_value_get_uint(value);
		break;
	case PROP_LEAKY:
		self->leaky = g_value_get_boolean(value);
		break;
	case PROP_LABEL:
		g_free(self->label);
		self->label = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_dmabufd_sink_get_property(GObject *object, guint prop_id, GValue *value,
					  GParamSpec *pspec)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(object);
	guint allocated;

	GST_OBJECT_LOCK(self);
	switch (prop_id) {
	case PROP_SOCKET_PATH:
		g_value_set_string(value, self->socket_path);
		break;
	case PROP_CONSUMER_SOCKET:
		g_value_set_string(value, self->consumer_socket);
		break;
	case PROP_ATTRIBUTE:
		g_value_set_enum(value, self->attribute);
		break;
	case PROP_USAGE:
		g_value_set_flags(value, self->usage);
		break;
	case PROP_RING_DEPTH:
		g_value_set_uint(value, self->ring_depth);
		break;
	case PROP_MAX_CONSUMERS:
		g_value_set_uint(value, self->max_consumers);
		break;
	case PROP_WAIT_CONSUMERS:
		g_value_set_uint(value, self->wait_consumers);
		break;
	case PROP_LEAKY:
		g_value_set_boolean(value, self->leaky);
		break;
	case PROP_LABEL:
		g_value_set_string(value, self->label);
		break;
	case PROP_FRAMES_RENDERED:
		g_value_set_uint64(value, self->frames_rendered);
		break;
	case PROP_FRAMES_PUBLISHED:
		g_value_set_uint64(value, self->pub.published);
		break;
	case PROP_FRAMES_COPIED:
		g_value_set_uint64(value, self->frames_copied);
		break;
	case PROP_FRAMES_DROPPED:
		g_value_set_uint64(value, self->pub.dropped);
		break;
	case PROP_CONSUMERS:
		g_value_set_uint(value, self->pub.n_consumers);
		break;
	case PROP_BUFFERS_ALLOCATED:
		allocated = self->pools_allocated;
		if (self->proposed_pool)
			allocated += gst_dmabufd_buffer_pool_get_allocated(
				GST_DMABUFD_BUFFER_POOL(self->proposed_pool));
		if (self->copy_pool)
			allocated += gst_dmabufd_buffer_pool_get_allocated(
				GST_DMABUFD_BUFFER_POOL(self->copy_pool));
		g_value_set_uint(value, allocated);
		break;
	case PROP_FRAMEBUFFER:
		g_value_set_boolean(value, self->proposed_pool &&
				    gst_dmabufd_buffer_pool_uses_framebuffer(
					    GST_DMABUFD_BUFFER_POOL(self->proposed_pool)));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_dmabufd_sink_finalize(GObject *object)
{
	GstDmabufdSink *self = GST_DMABUFD_SINK(object);

	g_free(self->socket_path);
	g_free(self->consumer_socket);
	g_free(self->label);
	gst_dmabufd_publisher_finish(&self->pub);
	G_OBJECT_CLASS(gst_dmabufd_sink_parent_class)->finalize(object);
}

/* The settings: read-write, changed only in READY or below. */
static void install_settings(GObjectClass *gobject_class)
{
	const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
			       GST_PARAM_MUTABLE_READY;

	g_object_class_install_property(gobject_class, PROP_SOCKET_PATH,
		g_param_spec_string("socket-path", "dmabufd socket",
			"Path of the dmabufd daemon's socket; NULL uses $DMABUFD_SOCKET, "
			"else " DMABUFD_DEFAULT_SOCKET, NULL, rw));
	g_object_class_install_property(gobject_class, PROP_CONSUMER_SOCKET,
		g_param_spec_string("consumer-socket", "Consumer socket",
			"Path of the SOCK_SEQPACKET socket the sink listens on and publishes "
			"every frame to consumer processes (frame fd + layout + sequence "
			"number, docs/GSTREAMER.md); NULL: frames are not published", NULL, rw));
	g_object_class_install_property(gobject_class, PROP_ATTRIBUTE,
		g_param_spec_enum("attribute", "Cache attribute",
			"Cache attribute of the frames' pages; a backend that cannot honour it "
			"refuses (the memfd backend offers only cached)",
			GST_TYPE_DMABUFD_ATTRIBUTE, DMABUFD_ATTR_CACHED, rw));
	g_object_class_install_property(gobject_class, PROP_USAGE,
		g_param_spec_flags("usage", "Usage",
			"What the frames are used for, told to dmabufd with every framebuffer "
			"request (it derives stride and plane alignment from it)",
			GST_TYPE_DMABUFD_USAGE, GST_DMABUFD_USAGE_DEFAULT, rw));
	g_object_class_install_property(gobject_class, PROP_RING_DEPTH,
		g_param_spec_uint("ring-depth", "Ring depth",
			"Frames that may be out with consumers (published, not yet released) "
			"at once; the proposed pool holds ring-depth + 3 buffers",
			1, MAX_RING, DEFAULT_RING_DEPTH, rw));
	g_object_class_install_property(gobject_class, PROP_MAX_CONSUMERS,
		g_param_spec_uint("max-consumers", "Max consumers",
			"Consumer connections accepted at once; more are refused",
			1, MAX_CONSUMERS, DEFAULT_MAX_CONSUMERS, rw));
	g_object_class_install_property(gobject_class, PROP_WAIT_CONSUMERS,
		g_param_spec_uint("wait-consumers", "Wait for consumers",
			"Before the first frame, block until this many consumers are "
			"connected (0: do not wait)", 0, MAX_CONSUMERS, 0, rw));
	g_object_class_install_property(gobject_class, PROP_LEAKY,
		g_param_spec_boolean("leaky", "Leaky",
			"When ring-depth frames are out with consumers: FALSE waits for a "
			"release (consumers pace the pipeline), TRUE drops the new frame for "
			"the consumers (frames-dropped)", FALSE, rw));
	g_object_class_install_property(gobject_class, PROP_LABEL,
		g_param_spec_string("label", "Label",
			"Prefix of the dmabufd buffer labels (dmabufctl list); NULL: the "
			"element's name", NULL, rw));
}

/* The statistics: read-only. */
static void install_statistics(GObjectClass *gobject_class)
{
	const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

	g_object_class_install_property(gobject_class, PROP_FRAMES_RENDERED,
		g_param_spec_uint64("frames-rendered", "Frames rendered",
			"Frames received since the sink started", 0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_FRAMES_PUBLISHED,
		g_param_spec_uint64("frames-published", "Frames published",
			"Frames sent to at least one consumer", 0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_FRAMES_COPIED,
		g_param_spec_uint64("frames-copied", "Frames copied",
			"Frames that did not arrive in dmabufd memory and were copied into "
			"it (upstream did not use the proposed pool)", 0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_FRAMES_DROPPED,
		g_param_spec_uint64("frames-dropped", "Frames dropped",
			"Frames not published because the ring was full (leaky=TRUE)",
			0, G_MAXUINT64, 0, ro));
	g_object_class_install_property(gobject_class, PROP_CONSUMERS,
		g_param_spec_uint("consumers", "Consumers",
			"Consumers connected now", 0, MAX_CONSUMERS, 0, ro));
	g_object_class_install_property(gobject_class, PROP_BUFFERS_ALLOCATED,
		g_param_spec_uint("buffers-allocated", "Buffers allocated",
			"Frames the sink's pools allocated from dmabufd (bounded by the pool "
			"size, not by the number of frames)", 0, G_MAXUINT, 0, ro));
	g_object_class_install_property(gobject_class, PROP_FRAMEBUFFER,
		g_param_spec_boolean("framebuffer", "Framebuffer request",
			"TRUE when the proposed pool allocates each frame with the framebuffer "
			"request (the daemon lays out the planes from fourcc and usage); FALSE "
			"when GstVideoInfo lays it out and a plain allocation holds it (format "
			"without DRM fourcc, padding requested, or daemon refused)",
			FALSE, ro));
}

static void gst_dmabufd_sink_class_init(GstDmabufdSinkClass *klass)
{
	GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSinkClass *bsink_class = GST_BASE_SINK_CLASS(klass);

	gobject_class->set_property = gst_dmabufd_sink_set_property;
	gobject_class->get_property = gst_dmabufd_sink_get_property;
	gobject_class->finalize = gst_dmabufd_sink_finalize;
	install_settings(gobject_class);
	install_statistics(gobject_class);

	gst_element_class_set_static_metadata(element_class, "dmabufd video sink",
		"Sink/Video",
		"Renders video into dmabufd buffers and publishes the frames to other "
		"processes", "dmabufd project");
	gst_element_class_add_static_pad_template(element_class, &sink_template);
	gst_type_mark_as_plugin_api(GST_TYPE_DMABUFD_ATTRIBUTE, 0);
	gst_type_mark_as_plugin_api(GST_TYPE_DMABUFD_USAGE, 0);

	bsink_class->start = gst_dmabufd_sink_start;
	bsink_class->stop = gst_dmabufd_sink_stop;
	bsink_class->unlock = gst_dmabufd_sink_unlock;
	bsink_class->unlock_stop = gst_dmabufd_sink_unlock_stop;
	bsink_class->set_caps = gst_dmabufd_sink_set_caps;
	bsink_class->propose_allocation = gst_dmabufd_sink_propose_allocation;
	bsink_class->render = gst_dmabufd_sink_render;
	bsink_class->event = gst_dmabufd_sink_event;

	GST_DEBUG_CATEGORY_INIT(dmabufd_sink_debug, "dmabufdsink", 0, "dmabufd video sink");
}

static void gst_dmabufd_sink_init(GstDmabufdSink *self)
{
	self->attribute = DMABUFD_ATTR_CACHED;
	self->usage = GST_DMABUFD_USAGE_DEFAULT;
	self->ring_depth = DEFAULT_RING_DEPTH;
	self->max_consumers = DEFAULT_MAX_CONSUMERS;
	self->pub.listen_fd = -1;
	gst_video_info_init(&self->info);
	/* last-sample would hold one more frame buffer out of the pool. */
	gst_base_sink_set_last_sample_enabled(GST_BASE_SINK(self), FALSE);
}
