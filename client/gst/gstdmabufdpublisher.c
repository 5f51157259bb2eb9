/* SPDX-License-Identifier: MIT */
/*
 * dmabufdsink's consumers: the consumer-socket, the connected consumers and
 * the ring of frames out with them (gstdmabufdpublisher.h).
 */
#include "gstdmabufdpublisher.h"

#include <errno.h>
#include <libdrm/drm_fourcc.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "dbfr.h"
#include "gstdmabufdallocator.h"
#include "gstdmabufdlayout.h"

GST_DEBUG_CATEGORY_EXTERN(dmabufd_sink_debug);
#define GST_CAT_DEFAULT dmabufd_sink_debug

#define MAX_RING GST_DMABUFD_PUBLISHER_MAX_RING
#define MAX_CONSUMERS GST_DMABUFD_PUBLISHER_MAX_CONSUMERS
/* How long the EOS message may wait for room in a consumer's socket. */
#define EOS_SEND_TIMEOUT_MS 2000
/* How long, after the EOS, the sink keeps frames that consumers hold. */
#define EOS_DRAIN_TIMEOUT_MS 5000

void gst_dmabufd_publisher_init(GstDmabufdPublisher *pub, GstElement *element,
				guint ring_depth, guint max_consumers, gboolean leaky)
{
	guint i;

	pub->element = element;
	pub->ring_depth = ring_depth;
	pub->max_consumers = max_consumers;
	pub->leaky = leaky;
	pub->poll = gst_poll_new(TRUE);
	pub->listen_fd = -1;
	for (i = 0; i < MAX_CONSUMERS; i++)
		pub->consumers[i].fd = -1;
	memset(pub->ring, 0, sizeof(pub->ring));
}

static void slot_drop_holder(struct gst_dmabufd_ring_slot *s, guint idx)
{
	s->holders &= ~(1u << idx);
	if (s->buf && !s->holders)
		gst_clear_buffer(&s->buf);
}

static void consumer_drop(GstDmabufdPublisher *pub, guint idx, const char *why)
{
	struct gst_dmabufd_consumer *c = &pub->consumers[idx];
	guint i;

	if (c->fd < 0)
		return;
	GST_INFO_OBJECT(pub->element, "consumer %u gone: %s", idx, why);
	gst_poll_remove_fd(pub->poll, &c->pfd);
	close(c->fd);
	c->fd = -1;
	for (i = 0; i < MAX_RING; i++)
		slot_drop_holder(&pub->ring[i], idx);
	GST_OBJECT_LOCK(pub->element);
	pub->n_consumers--;
	GST_OBJECT_UNLOCK(pub->element);
}

static void consumers_accept(GstDmabufdPublisher *pub, const struct dmabufd_info *dinfo)
{
	for (;;) {
		struct dbfr_hello hello;
		guint i;
		int fd, r;

		fd = accept4(pub->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: retried next frame */
		for (i = 0; i < pub->max_consumers && pub->consumers[i].fd >= 0; i++)
			;
		if (i == pub->max_consumers) {
			GST_WARNING_OBJECT(pub->element, "max-consumers (%u) reached, refusing one",
					   pub->max_consumers);
			close(fd);
			continue;
		}
		memset(&hello, 0, sizeof(hello));
		dbfr_header_init(&hello.h, DBFR_HELLO, sizeof(hello));
		hello.ring_depth = pub->ring_depth;
		hello.producer_pid = (uint32_t)getpid();
		hello.dmabuf = dinfo->dmabuf ? 1 : 0;
		g_strlcpy(hello.backend, dinfo->backend, sizeof(hello.backend));
		r = dbfr_send(fd, &hello, sizeof(hello), -1, MSG_DONTWAIT);
		if (r < 0) {
			close(fd);
			continue;
		}
		pub->consumers[i].fd = fd;
		pub->consumers[i].caps_gen = 0;
		gst_poll_fd_init(&pub->consumers[i].pfd);
		pub->consumers[i].pfd.fd = fd;
		gst_poll_add_fd(pub->poll, &pub->consumers[i].pfd);
		gst_poll_fd_ctl_read(pub->poll, &pub->consumers[i].pfd, TRUE);
		GST_OBJECT_LOCK(pub->element);
		pub->n_consumers++;
		GST_OBJECT_UNLOCK(pub->element);
		GST_INFO_OBJECT(pub->element, "consumer %u connected", i);
	}
}

/* Reads every pending message of consumer @idx. */
static void consumer_read(GstDmabufdPublisher *pub, guint idx)
{
	struct gst_dmabufd_consumer *c = &pub->consumers[idx];

	while (c->fd >= 0) {
		union {
			struct dbfr_release rel;
			char raw[DBFR_MAX_MESSAGE];
		} m;
		ssize_t n;
		guint i;

		n = dbfr_recv(c->fd, &m, sizeof(m), NULL, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			consumer_drop(pub, idx, n == 0 ? "closed" : g_strerror((int)-n));
			return;
		}
		if (dbfr_check(&m, (size_t)n, DBFR_RELEASE) < 0) {
			consumer_drop(pub, idx, "malformed message");
			return;
		}
		for (i = 0; i < MAX_RING; i++) {
			struct gst_dmabufd_ring_slot *s = &pub->ring[i];

			if (s->buf && s->seq == m.rel.seq && (s->holders & (1u << idx)))
				break;
		}
		if (i == MAX_RING) {
			consumer_drop(pub, idx, "release of a frame it does not hold");
			return;
		}
		slot_drop_holder(&pub->ring[i], idx);
	}
}

void gst_dmabufd_publisher_finish(GstDmabufdPublisher *pub)
{
	guint i;

	g_clear_pointer(&pub->caps_str, g_free);
	if (!pub->poll)
		return;
	/* Read the releases still queued first: a socket closed with unread
	 * messages makes the consumer's next read fail with ECONNRESET. */
	for (i = 0; i < MAX_CONSUMERS; i++)
		if (pub->consumers[i].fd >= 0)
			consumer_read(pub, i);
	for (i = 0; i < MAX_CONSUMERS; i++)
		consumer_drop(pub, i, "sink stopped");
	for (i = 0; i < MAX_RING; i++) {
		gst_clear_buffer(&pub->ring[i].buf);
		pub->ring[i].holders = 0;
	}
	if (pub->listen_fd >= 0) {
		close(pub->listen_fd);
		pub->listen_fd = -1;
	}
	if (pub->bound_path) {
		unlink(pub->bound_path);
		g_clear_pointer(&pub->bound_path, g_free);
	}
	gst_poll_free(pub->poll);
	pub->poll = NULL;
}

gboolean gst_dmabufd_publisher_listen(GstDmabufdPublisher *pub, const gchar *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		GST_ELEMENT_ERROR(pub->element, RESOURCE, SETTINGS, (NULL),
				  ("consumer-socket path too long: %s", path));
		return FALSE;
	}
	strcpy(addr.sun_path, path);
	/* A stale socket from a killed pipeline: replace it; never unlink
	 * anything that is not a socket. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, MAX_CONSUMERS) < 0) {
		GST_ELEMENT_ERROR(pub->element, RESOURCE, OPEN_READ_WRITE, (NULL),
				  ("cannot listen on consumer-socket %s: %s", path,
				   g_strerror(errno)));
		if (fd >= 0)
			close(fd);
		return FALSE;
	}
	pub->listen_fd = fd;
	pub->bound_path = g_strdup(path);
	gst_poll_fd_init(&pub->listen_pfd);
	pub->listen_pfd.fd = fd;
	gst_poll_add_fd(pub->poll, &pub->listen_pfd);
	gst_poll_fd_ctl_read(pub->poll, &pub->listen_pfd, TRUE);
	return TRUE;
}

void gst_dmabufd_publisher_set_caps(GstDmabufdPublisher *pub, gchar *caps_str)
{
	g_free(pub->caps_str);
	pub->caps_str = caps_str;
	pub->caps_gen++;
}

void gst_dmabufd_publisher_set_flushing(GstDmabufdPublisher *pub, gboolean flushing)
{
	if (pub->poll)
		gst_poll_set_flushing(pub->poll, flushing);
}

void gst_dmabufd_publisher_service(GstDmabufdPublisher *pub, const struct dmabufd_info *dinfo)
{
	guint i;

	if (pub->listen_fd < 0)
		return;
	consumers_accept(pub, dinfo);
	for (i = 0; i < MAX_CONSUMERS; i++)
		if (pub->consumers[i].fd >= 0)
			consumer_read(pub, i);
}

int gst_dmabufd_publisher_wait(GstDmabufdPublisher *pub)
{
	gint r;

	do
		r = gst_poll_wait(pub->poll, GST_CLOCK_TIME_NONE);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (r < 0 && errno == EBUSY)
		return -EBUSY;
	return 0;
}

/* The EOS is the one message a consumer must not miss (without it, the
 * closed connection reads as a producer that went away): when a
 * consumer's socket is full, wait a bounded time for room. */
static int send_waiting(int fd, const void *msg, size_t len, int timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		gint64 left;
		int r;

		r = dbfr_send(fd, msg, len, -1, MSG_DONTWAIT);
		if (r != -EAGAIN)
			return r;
		left = (deadline - g_get_monotonic_time()) / 1000;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

void gst_dmabufd_publisher_send_eos(GstDmabufdPublisher *pub)
{
	struct dbfr_header eos;
	guint i;

	dbfr_header_init(&eos, DBFR_EOS, sizeof(eos));
	for (i = 0; i < MAX_CONSUMERS; i++)
		if (pub->consumers[i].fd >= 0 &&
		    send_waiting(pub->consumers[i].fd, &eos, sizeof(eos),
				 EOS_SEND_TIMEOUT_MS) < 0)
			consumer_drop(pub, i, "EOS send failed");
}

static gboolean ring_held(const GstDmabufdPublisher *pub)
{
	for (guint i = 0; i < MAX_RING; i++)
		if (pub->ring[i].buf)
			return TRUE;
	return FALSE;
}

void gst_dmabufd_publisher_drain(GstDmabufdPublisher *pub)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)EOS_DRAIN_TIMEOUT_MS * 1000;

	/* The stream has ended: no new consumer. */
	if (pub->listen_fd >= 0)
		gst_poll_fd_ctl_read(pub->poll, &pub->listen_pfd, FALSE);
	for (;;) {
		gint64 left;
		guint i;

		for (i = 0; i < MAX_CONSUMERS; i++)
			if (pub->consumers[i].fd >= 0)
				consumer_read(pub, i);
		left = deadline - g_get_monotonic_time();
		if (!ring_held(pub) || left <= 0)
			return;
		if (gst_poll_wait(pub->poll, (GstClockTime)left * 1000) < 0 && errno == EBUSY)
			return; /* flushing: the sink is being stopped */
	}
}

/* Fills @f from @buf (one dmabufd memory); returns its fd or -1. */
static int frame_describe(const struct dmabufd_info *dinfo, const GstVideoInfo *info,
			  GstBuffer *buf, guint64 seq, gboolean copied, struct dbfr_frame *f)
{
	GstMemory *mem = gst_buffer_peek_memory(buf, 0);
	GstVideoMeta *meta = gst_buffer_get_video_meta(buf);
	GstMemory *root = mem;
	guint p, n = GST_VIDEO_INFO_N_PLANES(info);
	guint64 end = 0;

	while (root->parent)
		root = root->parent;
	if (n > DBFR_MAX_PLANES || !gst_is_fd_memory(mem))
		return -1;
	memset(f, 0, sizeof(*f));
	dbfr_header_init(&f->h, DBFR_FRAME, sizeof(*f));
	f->seq = seq;
	f->pts_ns = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : UINT64_MAX;
	f->duration_ns = GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : UINT64_MAX;
	gst_dmabufd_memory_get_id(mem, &f->buffer_id);
	f->size = root->maxsize;
	f->frame_offset = mem->offset;
	f->modifier = DRM_FORMAT_MOD_LINEAR;
	f->width = GST_VIDEO_INFO_WIDTH(info);
	f->height = GST_VIDEO_INFO_HEIGHT(info);
	f->fourcc = gst_dmabufd_drm_fourcc(GST_VIDEO_INFO_FORMAT(info));
	f->num_planes = n;
	for (p = 0; p < n; p++) {
		gsize off = meta ? meta->offset[p] : GST_VIDEO_INFO_PLANE_OFFSET(info, p);
		gint stride = meta ? meta->stride[p] : GST_VIDEO_INFO_PLANE_STRIDE(info, p);

		if (stride <= 0 || mem->offset + off > G_MAXUINT32)
			return -1;
		f->offsets[p] = (uint32_t)(mem->offset + off);
		f->strides[p] = (uint32_t)stride;
		f->row_bytes[p] = gst_dmabufd_plane_row_bytes(info, p, &f->rows[p]);
		end = MAX(end, (guint64)off + (guint64)f->strides[p] * f->rows[p]);
	}
	/* The frame ends with its last plane's last row: the pool's buffers
	 * may be larger (a framebuffer's size is rounded to pages). */
	f->frame_size = MIN(end, (guint64)mem->size);
	g_strlcpy(f->format, gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(info)),
		  sizeof(f->format));
	f->flags = (dinfo->dmabuf ? DBFR_FRAME_DMABUF : 0) | (copied ? DBFR_FRAME_COPIED : 0);
	if (dbfr_frame_check(f) < 0)
		return -1;
	return gst_fd_memory_get_fd(mem);
}

/* Sends the current caps to consumer @idx unless it has them. */
static int consumer_send_caps(GstDmabufdPublisher *pub, guint idx)
{
	struct gst_dmabufd_consumer *c = &pub->consumers[idx];
	union {
		struct dbfr_caps caps;
		char raw[DBFR_MAX_MESSAGE];
	} m;
	ssize_t len;
	int r;

	if (c->caps_gen == pub->caps_gen)
		return 0;
	len = dbfr_caps_init(&m.caps, pub->caps_str);
	if (len < 0)
		return (int)len;
	r = dbfr_send(c->fd, &m, (size_t)len, -1, MSG_DONTWAIT);
	if (r == 0)
		c->caps_gen = pub->caps_gen;
	return r;
}

static struct gst_dmabufd_ring_slot *ring_free_slot(GstDmabufdPublisher *pub)
{
	guint i;

	for (i = 0; i < pub->ring_depth; i++)
		if (!pub->ring[i].buf)
			return &pub->ring[i];
	return NULL;
}

GstFlowReturn gst_dmabufd_publisher_publish(GstDmabufdPublisher *pub,
					    const struct dmabufd_info *dinfo,
					    const GstVideoInfo *info, GstBuffer *frame,
					    guint64 seq, gboolean copied)
{
	struct gst_dmabufd_ring_slot *slot;
	struct dbfr_frame f;
	guint32 holders = 0;
	guint i;
	int fd;

	while (!(slot = ring_free_slot(pub))) {
		if (pub->leaky) {
			GST_OBJECT_LOCK(pub->element);
			pub->dropped++;
			GST_OBJECT_UNLOCK(pub->element);
			return GST_FLOW_OK;
		}
		if (gst_dmabufd_publisher_wait(pub) < 0)
			return GST_FLOW_FLUSHING;
		gst_dmabufd_publisher_service(pub, dinfo);
		if (!pub->n_consumers)
			return GST_FLOW_OK;
	}
	fd = frame_describe(dinfo, info, frame, seq, copied, &f);
	if (fd < 0) {
		GST_ELEMENT_ERROR(pub->element, STREAM, FAILED, (NULL),
				  ("frame %" G_GUINT64_FORMAT " has no publishable layout", seq));
		return GST_FLOW_ERROR;
	}
	for (i = 0; i < MAX_CONSUMERS; i++) {
		int r;

		if (pub->consumers[i].fd < 0)
			continue;
		r = consumer_send_caps(pub, i);
		if (r == 0)
			r = dbfr_send(pub->consumers[i].fd, &f, sizeof(f), fd, MSG_DONTWAIT);
		if (r == 0)
			holders |= 1u << i;
		else if (r == -EAGAIN)
			GST_DEBUG_OBJECT(pub->element, "consumer %u not reading, frame skipped", i);
		else
			consumer_drop(pub, i, "send failed");
	}
	if (holders) {
		slot->buf = gst_buffer_ref(frame);
		slot->seq = seq;
		slot->holders = holders;
		GST_OBJECT_LOCK(pub->element);
		pub->published++;
		GST_OBJECT_UNLOCK(pub->element);
	}
	return GST_FLOW_OK;
}
