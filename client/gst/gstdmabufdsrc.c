/* SPDX-License-Identifier: MIT */
/**
 * SECTION:element-dmabufdsrc
 *
 * Receives the frames a dmabufdsink publishes on its consumer-socket
 * (frame-ring protocol, client/gst/dbfr.h) and pushes them downstream
 * without copying: each buffer's memory wraps the received fd
 * (gst_dmabuf_allocator_alloc(), so gst_is_dmabuf_memory() holds) and a
 * GstVideoMeta carries the producer's plane offsets and strides, and the
 * buffer's size is the frame's (the producer's GstBuffer), not the whole
 * page-rounded allocation. When the last reference to that memory goes,
 * the frame is released to the producer, which may then reuse the buffer.
 *
 * Caps: exactly those the producer negotiated (colorimetry, chroma-site,
 * pixel-aspect-ratio, framerate, HDR metadata: the CAPS message), with the
 * memory:DMABuf caps feature when the producer's fds are dma-bufs and
 * downstream asks for that feature by name (a dma-buf importer), else
 * system memory (the same dma-buf memories, mapped by the CPU).
 * Downstream that accepts any feature (videoconvert, fakesink) gets system
 * memory, which it can map.
 *
 * Example (in a second process):
 *   gst-launch-1.0 dmabufdsrc socket-path=/tmp/frames ! videoconvert ! autovideosink
 *
 * The property is socket-path, as on dmabufdsink (where it names the
 * daemon's socket); "socket" is its deprecated alias, kept so that
 * pipelines written for earlier versions still parse.
 */
#include "gstdmabufdsrc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>

#include "dbfr.h"

GST_DEBUG_CATEGORY_STATIC(dmabufd_src_debug);
#define GST_CAT_DEFAULT dmabufd_src_debug

#define DEFAULT_CONNECT_TIMEOUT 10

enum {
	PROP_0,
	PROP_SOCKET_PATH,
	PROP_SOCKET, /* deprecated alias of socket-path */
	PROP_CONNECT_TIMEOUT,
	PROP_FRAMES_RECEIVED,
};

/* The connection, shared with every memory still out (their release
 * notifies send on it); closed when the last reference goes, so an fd
 * number is never reused under a late release. */
struct src_conn {
	gint ref;
	int fd;
};

struct frame_release {
	struct src_conn *conn;
	guint64 seq;
};

struct _GstDmabufdSrc {
	GstPushSrc parent;
	gchar *socket_path;     /* object lock */
	guint connect_timeout;  /* seconds, object lock */
	guint64 frames;         /* object lock */

	struct src_conn *conn;
	GstPoll *poll;
	GstPollFD pfd;
	GstAllocator *allocator; /* the stock GstDmaBufAllocator */
	GstCaps *producer_caps;  /* last CAPS message, system memory; NULL: none;
				  * replaced under the object lock (caps
				  * queries read it from other threads) */
	GstVideoInfo info;       /* of producer_caps */
	gboolean caps_pending;   /* producer_caps not yet set on the pad */
	gboolean dmabuf;         /* the producer's fds are dma-bufs (HELLO) */
	gboolean hello;
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
	"src", GST_PAD_SRC, GST_PAD_ALWAYS,
	GST_STATIC_CAPS("video/x-raw; video/x-raw(" GST_CAPS_FEATURE_MEMORY_DMABUF ")"));

G_DEFINE_TYPE(GstDmabufdSrc, gst_dmabufd_src, GST_TYPE_PUSH_SRC)
GST_ELEMENT_REGISTER_DEFINE(dmabufdsrc, "dmabufdsrc", GST_RANK_NONE, GST_TYPE_DMABUFD_SRC)

static struct src_conn *conn_ref(struct src_conn *c)
{
	g_atomic_int_inc(&c->ref);
	return c;
}

static void conn_unref(struct src_conn *c)
{
	if (c && g_atomic_int_dec_and_test(&c->ref)) {
		close(c->fd);
		g_free(c);
	}
}

static GQuark release_quark(void)
{
	return g_quark_from_static_string("GstDmabufdSrcRelease");
}

/* Memory finalised: tell the producer (any thread; a datagram send is
 * atomic). A producer that is gone makes this fail harmlessly. */
static void frame_release_notify(gpointer data)
{
	struct frame_release *r = data;
	struct dbfr_release msg;

	memset(&msg, 0, sizeof(msg));
	dbfr_header_init(&msg.h, DBFR_RELEASE, sizeof(msg));
	msg.seq = r->seq;
	dbfr_send(r->conn->fd, &msg, sizeof(msg), -1, 0);
	conn_unref(r->conn);
	g_free(r);
}

static gboolean gst_dmabufd_src_start(GstBaseSrc *bsrc)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);
	gchar *path;
	guint timeout;
	int fd;

	GST_OBJECT_LOCK(self);
	path = g_strdup(self->socket_path);
	timeout = self->connect_timeout;
	self->frames = 0;
	GST_OBJECT_UNLOCK(self);
	if (!path) {
		GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("No socket-path set."),
				  ("set socket-path to the consumer-socket of a dmabufdsink"));
		return FALSE;
	}
	fd = dbfr_connect(path, timeout);
	if (fd < 0) {
		GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, (NULL),
				  ("cannot connect to %s: %s", path, g_strerror(-fd)));
		g_free(path);
		return FALSE;
	}
	g_free(path);
	self->conn = g_new(struct src_conn, 1);
	self->conn->ref = 1;
	self->conn->fd = fd;
	self->poll = gst_poll_new(TRUE);
	gst_poll_fd_init(&self->pfd);
	self->pfd.fd = fd;
	gst_poll_add_fd(self->poll, &self->pfd);
	gst_poll_fd_ctl_read(self->poll, &self->pfd, TRUE);
	self->allocator = gst_dmabuf_allocator_new();
	GST_OBJECT_LOCK(self);
	gst_clear_caps(&self->producer_caps);
	self->dmabuf = FALSE;
	GST_OBJECT_UNLOCK(self);
	self->caps_pending = FALSE;
	self->hello = FALSE;
	return TRUE;
}

static gboolean gst_dmabufd_src_stop(GstBaseSrc *bsrc)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);

	if (self->poll) {
		gst_poll_free(self->poll);
		self->poll = NULL;
	}
	/* Memories still out keep the connection until they are released. */
	conn_unref(self->conn);
	self->conn = NULL;
	gst_clear_object(&self->allocator);
	GST_OBJECT_LOCK(self);
	gst_clear_caps(&self->producer_caps);
	GST_OBJECT_UNLOCK(self);
	return TRUE;
}

static gboolean gst_dmabufd_src_unlock(GstBaseSrc *bsrc)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);

	if (self->poll)
		gst_poll_set_flushing(self->poll, TRUE);
	return TRUE;
}

static gboolean gst_dmabufd_src_unlock_stop(GstBaseSrc *bsrc)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);

	if (self->poll)
		gst_poll_set_flushing(self->poll, FALSE);
	return TRUE;
}

/* Whether @peer names memory:DMABuf explicitly (not through ANY) in a
 * structure that can take @dma. */
static gboolean peer_wants_dmabuf(GstCaps *peer, GstCaps *dma)
{
	guint i;

	for (i = 0; peer && i < gst_caps_get_size(peer); i++) {
		GstCapsFeatures *f = gst_caps_get_features(peer, i);
		GstCaps *one;
		gboolean ok;

		if (!f || gst_caps_features_is_any(f) ||
		    !gst_caps_features_contains(f, GST_CAPS_FEATURE_MEMORY_DMABUF))
			continue;
		one = gst_caps_copy_nth(peer, i);
		ok = gst_caps_can_intersect(one, dma);
		gst_caps_unref(one);
		if (ok)
			return TRUE;
	}
	return FALSE;
}

/* The producer's caps with the memory feature downstream should get. */
static GstCaps *choose_caps(GstDmabufdSrc *self)
{
	GstPad *pad = GST_BASE_SRC_PAD(self);
	GstCaps *sys = gst_caps_copy(self->producer_caps);
	GstCaps *dma, *peer;

	if (!self->dmabuf)
		return sys;
	dma = gst_caps_copy(sys);
	gst_caps_set_features_simple(dma,
		gst_caps_features_new_single(GST_CAPS_FEATURE_MEMORY_DMABUF));
	peer = gst_pad_peer_query_caps(pad, NULL);
	if (peer_wants_dmabuf(peer, dma) ||
	    (!gst_pad_peer_query_accept_caps(pad, sys) && gst_pad_peer_query_accept_caps(pad, dma))) {
		gst_clear_caps(&peer);
		gst_caps_unref(sys);
		return dma;
	}
	gst_clear_caps(&peer);
	gst_caps_unref(dma);
	return sys;
}

/* Sets the producer's caps on the pad (with the chosen memory feature)
 * unless the pad has them already. */
static gboolean apply_caps(GstDmabufdSrc *self)
{
	GstCaps *caps = choose_caps(self);
	GstCaps *cur = gst_pad_get_current_caps(GST_BASE_SRC_PAD(self));
	gboolean ok = TRUE;

	if (!cur || !gst_caps_is_equal(cur, caps)) {
		GST_INFO_OBJECT(self, "caps %" GST_PTR_FORMAT, caps);
		ok = gst_base_src_set_caps(GST_BASE_SRC(self), caps);
	}
	gst_clear_caps(&cur);
	gst_caps_unref(caps);
	if (ok)
		self->caps_pending = FALSE;
	return ok;
}

/* Before the producer's caps are known there is nothing to negotiate:
 * they come with the first frame. Later (a RECONFIGURE from downstream)
 * the same caps are chosen again, possibly with another memory feature. */
static gboolean gst_dmabufd_src_negotiate(GstBaseSrc *bsrc)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);

	if (!self->producer_caps)
		return TRUE;
	return apply_caps(self);
}

static GstCaps *gst_dmabufd_src_get_caps(GstBaseSrc *bsrc, GstCaps *filter)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(bsrc);
	GstCaps *producer, *caps;
	gboolean dmabuf;

	GST_OBJECT_LOCK(self);
	producer = self->producer_caps ? gst_caps_ref(self->producer_caps) : NULL;
	dmabuf = self->dmabuf;
	GST_OBJECT_UNLOCK(self);
	if (producer) {
		caps = gst_caps_copy(producer);
		if (dmabuf) {
			GstCaps *dma = gst_caps_copy(producer);

			gst_caps_set_features_simple(dma,
				gst_caps_features_new_single(GST_CAPS_FEATURE_MEMORY_DMABUF));
			gst_caps_append(caps, dma);
		}
		gst_caps_unref(producer);
	} else {
		caps = gst_pad_get_pad_template_caps(GST_BASE_SRC_PAD(bsrc));
	}
	if (filter) {
		GstCaps *tmp = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);

		gst_caps_unref(caps);
		caps = tmp;
	}
	return caps;
}

/* A CAPS message: the producer's negotiated caps, for the next frames. */
static gboolean take_caps(GstDmabufdSrc *self, const struct dbfr_caps *m)
{
	GstCaps *caps = gst_caps_from_string(m->caps);
	GstVideoInfo info;

	if (!caps || !gst_caps_is_fixed(caps) || !gst_video_info_from_caps(&info, caps) ||
	    GST_VIDEO_INFO_N_PLANES(&info) > DBFR_MAX_PLANES) {
		gst_clear_caps(&caps);
		GST_ELEMENT_ERROR(self, STREAM, FORMAT, (NULL),
				  ("unusable caps from the producer: %s", m->caps));
		return FALSE;
	}
	/* The producer's memory is its own business; the feature is chosen
	 * here, for this pad's peer. */
	gst_caps_set_features_simple(caps, gst_caps_features_new_empty());
	GST_OBJECT_LOCK(self);
	gst_caps_replace(&self->producer_caps, caps);
	GST_OBJECT_UNLOCK(self);
	gst_caps_unref(caps);
	self->info = info;
	self->caps_pending = TRUE;
	GST_DEBUG_OBJECT(self, "producer caps %" GST_PTR_FORMAT, caps);
	return TRUE;
}

/* The frame agrees with the producer's caps; they are set on the pad. */
static gboolean frame_caps(GstDmabufdSrc *self, const struct dbfr_frame *f)
{
	const GstVideoInfo *info = &self->info;

	if (!self->producer_caps ||
	    g_strcmp0(f->format, gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(info))) ||
	    f->width != (guint32)GST_VIDEO_INFO_WIDTH(info) ||
	    f->height != (guint32)GST_VIDEO_INFO_HEIGHT(info) ||
	    f->num_planes != GST_VIDEO_INFO_N_PLANES(info))
		return FALSE;
	if (self->caps_pending || gst_pad_check_reconfigure(GST_BASE_SRC_PAD(self)))
		return apply_caps(self);
	return TRUE;
}

static GstFlowReturn wrap_frame(GstDmabufdSrc *self, const struct dbfr_frame *f, int fd,
				GstBuffer **outbuf)
{
	gsize offsets[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
	struct frame_release *rel;
	GstMemory *mem;
	GstBuffer *buf;
	off_t end;
	guint p;

	end = lseek(fd, 0, SEEK_END);
	if (dbfr_frame_check(f) < 0 || end < 0 || (guint64)end < f->size ||
	    f->size > G_MAXSIZE) {
		close(fd);
		GST_ELEMENT_ERROR(self, STREAM, DECODE, (NULL),
				  ("frame %" G_GUINT64_FORMAT ": layout outside its buffer", f->seq));
		return GST_FLOW_ERROR;
	}
	if (!frame_caps(self, f)) {
		close(fd);
		GST_ELEMENT_ERROR(self, STREAM, FORMAT, (NULL),
				  ("frame %" G_GUINT64_FORMAT ": %s %ux%u, not the caps' format, "
				   "or downstream refused the caps", f->seq, f->format, f->width,
				   f->height));
		return GST_FLOW_NOT_NEGOTIATED;
	}
	mem = gst_dmabuf_allocator_alloc(self->allocator, fd, (gsize)f->size);
	if (!mem) {
		close(fd);
		return GST_FLOW_ERROR;
	}
	/* The frame, not the whole allocation (checked inside f->size). */
	gst_memory_resize(mem, (gssize)f->frame_offset, (gsize)f->frame_size);
	rel = g_new(struct frame_release, 1);
	rel->conn = conn_ref(self->conn);
	rel->seq = f->seq;
	gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(mem), release_quark(), rel,
				  frame_release_notify);
	buf = gst_buffer_new();
	gst_buffer_append_memory(buf, mem);
	for (p = 0; p < f->num_planes; p++) {
		offsets[p] = f->offsets[p] - f->frame_offset;
		strides[p] = (gint)f->strides[p];
	}
	gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
				       GST_VIDEO_INFO_FORMAT(&self->info), (guint)f->width,
				       (guint)f->height, f->num_planes, offsets, strides);
	GST_BUFFER_OFFSET(buf) = f->seq;
	*outbuf = buf;
	return GST_FLOW_OK;
}

static GstFlowReturn gst_dmabufd_src_create(GstPushSrc *psrc, GstBuffer **outbuf)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(psrc);

	for (;;) {
		union {
			struct dbfr_hello hello;
			struct dbfr_frame frame;
			struct dbfr_caps caps;
			char raw[DBFR_MAX_MESSAGE];
		} m;
		int fd = -1, type;
		GstFlowReturn ret;
		ssize_t n;

		n = dbfr_recv(self->conn->fd, &m, sizeof(m), &fd, MSG_DONTWAIT);
		if (n == -EAGAIN) {
			gint r = gst_poll_wait(self->poll, GST_CLOCK_TIME_NONE);

			if (r < 0 && errno == EBUSY)
				return GST_FLOW_FLUSHING;
			continue;
		}
		/* ECONNRESET: the producer closed with our RELEASEs unread;
		 * what it sent before (the last frames, the EOS) is still
		 * queued behind the error. End of file is what tells. */
		if (n == -ECONNRESET)
			continue;
		if (n == 0) {
			GST_ELEMENT_ERROR(self, RESOURCE, READ, ("The producer went away."),
					  ("connection closed without EOS"));
			return GST_FLOW_ERROR;
		}
		type = n < 0 ? (int)n : dbfr_check(&m, (size_t)n, 0);
		if (type < 0 || (!self->hello && type != DBFR_HELLO) ||
		    (type == DBFR_FRAME) != (fd >= 0) || type == DBFR_RELEASE) {
			if (fd >= 0)
				close(fd);
			GST_ELEMENT_ERROR(self, STREAM, DECODE, (NULL),
					  ("protocol error from the producer"));
			return GST_FLOW_ERROR;
		}
		switch (type) {
		case DBFR_HELLO:
			m.hello.backend[sizeof(m.hello.backend) - 1] = '\0';
			GST_INFO_OBJECT(self, "producer pid %u, ring depth %u, %s backend",
					m.hello.producer_pid, m.hello.ring_depth,
					m.hello.backend);
			GST_OBJECT_LOCK(self);
			self->dmabuf = m.hello.dmabuf != 0;
			GST_OBJECT_UNLOCK(self);
			self->hello = TRUE;
			continue;
		case DBFR_CAPS:
			if (!take_caps(self, &m.caps))
				return GST_FLOW_NOT_NEGOTIATED;
			continue;
		case DBFR_EOS:
			return GST_FLOW_EOS;
		default:
			break;
		}
		m.frame.format[sizeof(m.frame.format) - 1] = '\0';
		ret = wrap_frame(self, &m.frame, fd, outbuf);
		if (ret == GST_FLOW_OK) {
			GST_OBJECT_LOCK(self);
			self->frames++;
			GST_OBJECT_UNLOCK(self);
		}
		return ret;
	}
}

static void gst_dmabufd_src_set_property(GObject *object, guint prop_id, const GValue *value,
					 GParamSpec *pspec)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(object);

	GST_OBJECT_LOCK(self);
	switch (prop_id) {
	case PROP_SOCKET_PATH:
	case PROP_SOCKET:
		g_free(self->socket_path);
		self->socket_path = g_value_dup_string(value);
		break;
	case PROP_CONNECT_TIMEOUT:
		self->connect_timeout = g_value_get_uint(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_dmabufd_src_get_property(GObject *object, guint prop_id, GValue *value,
					 GParamSpec *pspec)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(object);

	GST_OBJECT_LOCK(self);
	switch (prop_id) {
	case PROP_SOCKET_PATH:
	case PROP_SOCKET:
		g_value_set_string(value, self->socket_path);
		break;
	case PROP_CONNECT_TIMEOUT:
		g_value_set_uint(value, self->connect_timeout);
		break;
	case PROP_FRAMES_RECEIVED:
		g_value_set_uint64(value, self->frames);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
	GST_OBJECT_UNLOCK(self);
}

static void gst_dmabufd_src_finalize(GObject *object)
{
	GstDmabufdSrc *self = GST_DMABUFD_SRC(object);

	g_free(self->socket_path);
	G_OBJECT_CLASS(gst_dmabufd_src_parent_class)->finalize(object);
}

static void gst_dmabufd_src_class_init(GstDmabufdSrcClass *klass)
{
	GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS(klass);
	GstPushSrcClass *psrc_class = GST_PUSH_SRC_CLASS(klass);
	const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
			       GST_PARAM_MUTABLE_READY;

	gobject_class->set_property = gst_dmabufd_src_set_property;
	gobject_class->get_property = gst_dmabufd_src_get_property;
	gobject_class->finalize = gst_dmabufd_src_finalize;

	g_object_class_install_property(gobject_class, PROP_SOCKET_PATH,
		g_param_spec_string("socket-path", "Consumer socket",
			"Path of the dmabufdsink consumer-socket to receive frames from", NULL,
			rw));
	g_object_class_install_property(gobject_class, PROP_SOCKET,
		g_param_spec_string("socket", "Consumer socket (deprecated)",
			"Deprecated alias of socket-path (same value; setting either sets both)",
			NULL, rw | G_PARAM_DEPRECATED));
	g_object_class_install_property(gobject_class, PROP_CONNECT_TIMEOUT,
		g_param_spec_uint("connect-timeout", "Connect timeout",
			"Seconds to keep retrying while the socket does not exist or refuses "
			"(the producer may start later)", 0, 3600, DEFAULT_CONNECT_TIMEOUT, rw));
	g_object_class_install_property(gobject_class, PROP_FRAMES_RECEIVED,
		g_param_spec_uint64("frames-received", "Frames received",
			"Frames received since the source started", 0, G_MAXUINT64, 0,
			G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

	gst_element_class_set_static_metadata(element_class, "dmabufd video source",
		"Source/Video",
		"Receives the frames a dmabufdsink publishes, without copying",
		"dmabufd project");
	gst_element_class_add_static_pad_template(element_class, &src_template);

	bsrc_class->start = gst_dmabufd_src_start;
	bsrc_class->stop = gst_dmabufd_src_stop;
	bsrc_class->unlock = gst_dmabufd_src_unlock;
	bsrc_class->unlock_stop = gst_dmabufd_src_unlock_stop;
	bsrc_class->negotiate = gst_dmabufd_src_negotiate;
	bsrc_class->get_caps = gst_dmabufd_src_get_caps;
	psrc_class->create = gst_dmabufd_src_create;

	GST_DEBUG_CATEGORY_INIT(dmabufd_src_debug, "dmabufdsrc", 0, "dmabufd video source");
}

static void gst_dmabufd_src_init(GstDmabufdSrc *self)
{
	self->connect_timeout = DEFAULT_CONNECT_TIMEOUT;
	gst_video_info_init(&self->info);
	gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
	gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
	gst_base_src_set_do_timestamp(GST_BASE_SRC(self), TRUE);
}
