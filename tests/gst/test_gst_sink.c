/* SPDX-License-Identifier: MIT */
/*
 * dmabufdsink against the real daemon, with videotestsrc: properties are
 * documented; upstream renders straight into dmabufd buffers (dma-buf
 * memory, labelled, owned by this process, bounded by the pool size);
 * the copy fallback when upstream ignores the pool delivers the same
 * pixels; killing the consumer or the pipeline mid-stream brings the
 * daemon's accounting back to zero.
 *
 * Exits 77 when GStreamer's base plugins are not installed.
 * "test_gst_sink --pipeline DESC" runs DESC to EOS (the killed producer).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libdrm/drm_fourcc.h>

#include <dmabufd/framebuffer.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>

#include "dbfr.h"
#include "gsttest.h"
#include "gstdmabufdlayout.h"

#define RING_DEPTH 4
#define POOL_MAX (RING_DEPTH + 3) /* what dmabufdsink proposes */

static char self_exe[4096];

static guint64 prop_u64(GstElement *pipeline, const char *element, const char *prop)
{
	GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline), element);
	guint64 v = 0;
	guint u = 0;
	GParamSpec *ps;

	assert_non_null(e);
	ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), prop);
	assert_non_null(ps);
	if (G_PARAM_SPEC_VALUE_TYPE(ps) == G_TYPE_UINT64) {
		g_object_get(e, prop, &v, NULL);
	} else {
		g_object_get(e, prop, &u, NULL);
		v = u;
	}
	gst_object_unref(e);
	return v;
}

static gboolean prop_bool(GstElement *pipeline, const char *element, const char *prop)
{
	GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline), element);
	gboolean v = FALSE;

	assert_non_null(e);
	g_object_get(e, prop, &v, NULL);
	gst_object_unref(e);
	return v;
}

static void stop_pipeline(GstElement *p)
{
	assert_int_equal(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
	gst_object_unref(p);
}

/* gst-inspect-1.0 prints each property's nick and blurb: every property
 * the sink declares must have both. */
static void test_properties_documented(void **state)
{
	static const char *const wanted[] = {
		"socket-path", "consumer-socket", "attribute", "usage", "ring-depth",
		"max-consumers", "wait-consumers", "leaky", "label", "frames-rendered",
		"frames-published", "frames-copied", "frames-dropped", "consumers",
		"buffers-allocated", "framebuffer",
	};
	GstElement *sink = gst_element_factory_make("dmabufdsink", NULL);
	GParamSpec **props;
	guint n, i, own = 0;

	assert_non_null(sink);
	props = g_object_class_list_properties(G_OBJECT_GET_CLASS(sink), &n);
	for (i = 0; i < n; i++) {
		const gchar *blurb = g_param_spec_get_blurb(props[i]);

		if (props[i]->owner_type != G_OBJECT_TYPE(sink))
			continue;
		own++;
		assert_non_null(blurb);
		assert_true(strlen(blurb) > 20);
		assert_non_null(g_param_spec_get_nick(props[i]));
	}
	g_free(props);
	assert_int_equal(own, G_N_ELEMENTS(wanted));
	for (i = 0; i < G_N_ELEMENTS(wanted); i++)
		assert_non_null(g_object_class_find_property(G_OBJECT_GET_CLASS(sink), wanted[i]));
	gst_object_unref(sink);
}

/* videotestsrc renders into the proposed pool: every frame is dma-buf
 * memory from GstDmabufdAllocator, the daemon lists the pool's buffers
 * labelled and owned by us, and 300 frames need no more than the pool. */
static void test_direct_rendering(void **state)
{
	struct frame_check fc = { .label_prefix = "gst s NV12 320x240", .list_every = 25 };
	struct dmabufd_client *c;
	struct daemon_proc d;
	struct dmabufd_stats st;
	GstElement *p, *sink;

	gsttest_daemon_start(&d, &c);
	fc.client = c;
	gsttest_expect_fb_layout(&fc, c, 320, 240, DRM_FORMAT_NV12,
				 DMABUFD_USAGE_CPU_READ | DMABUFD_USAGE_CPU_WRITE);
	p = gsttest_launch("videotestsrc num-buffers=300 ! "
			   "video/x-raw,format=NV12,width=320,height=240 ! "
			   "dmabufdsink name=s sync=false ring-depth=%d socket-path=%s",
			   RING_DEPTH, d.socket);
	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	gsttest_probe_frames(sink, &fc);
	gst_object_unref(sink);
	assert_true(gsttest_run_to_eos(p, 60));

	assert_int_equal(fc.frames, 300);
	assert_int_equal(fc.not_dmabuf, 0);
	assert_int_equal(fc.not_dmabufd, 0);
	assert_int_equal(fc.bad_layout, 0);
	assert_int_equal(fc.lists, 12);
	assert_int_equal(fc.bad_rows, 0);
	assert_true(fc.max_live >= 1);
	assert_true(fc.max_live <= POOL_MAX);
	assert_int_equal(prop_u64(p, "s", "frames-rendered"), 300);
	assert_int_equal(prop_u64(p, "s", "frames-copied"), 0);
	assert_true(prop_u64(p, "s", "buffers-allocated") <= POOL_MAX);
	assert_true(prop_bool(p, "s", "framebuffer"));
	/* Pool frames plus one probe framebuffer per pool configuration: a
	 * bound independent of the 300 frames. */
	st = gsttest_stats(c);
	assert_true(st.allocs_total <= 2 * POOL_MAX);
	stop_pipeline(p);

	assert_true(gsttest_wait_zero(c, 2000));
	st = gsttest_stats(c);
	assert_int_equal(st.releases_total, st.allocs_total);
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* xRGB has a DRM fourcc (BGRX8888) that the daemon's framebuffer table
 * lacks: the pool falls back to GstVideoInfo's layout and dmabufd_alloc(),
 * and upstream still renders straight into dmabufd buffers. */
static void test_layout_fallback(void **state)
{
	struct frame_check fc = { .label_prefix = "gst s xRGB 322x200", .list_every = 10 };
	struct dmabufd_client *c;
	struct daemon_proc d;
	GstElement *p, *sink;

	gsttest_daemon_start(&d, &c);
	fc.client = c;
	p = gsttest_launch("videotestsrc num-buffers=40 ! "
			   "video/x-raw,format=xRGB,width=322,height=200 ! "
			   "dmabufdsink name=s sync=false socket-path=%s", d.socket);
	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	gsttest_probe_frames(sink, &fc);
	gst_object_unref(sink);
	assert_true(gsttest_run_to_eos(p, 60));
	assert_false(prop_bool(p, "s", "framebuffer"));
	assert_int_equal(fc.frames, 40);
	assert_int_equal(fc.not_dmabuf, 0);
	assert_int_equal(fc.not_dmabufd, 0);
	assert_int_equal(fc.bad_rows, 0);
	assert_true(fc.max_live >= 1 && fc.max_live <= POOL_MAX);
	assert_int_equal(prop_u64(p, "s", "frames-copied"), 0);
	stop_pipeline(p);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* identity drop-allocation=true hides the pool: upstream renders into
 * system memory, the sink copies each frame into a dmabufd buffer, and the
 * consumer's checksums equal the reference run's (appsink, system memory). */
static void test_copy_fallback(void **state)
{
	static const char src[] =
		"videotestsrc num-buffers=30 pattern=ball ! "
		"video/x-raw,format=NV12,width=318,height=242";
	struct dmabufd_client *c;
	struct daemon_proc d;
	char ref[256], got[256], frames[256];
	GstElement *p;
	pid_t cons, refp;

	gsttest_daemon_start(&d, &c);
	snprintf(ref, sizeof(ref), "%s/ref.txt", d.dir);
	snprintf(got, sizeof(got), "%s/got.txt", d.dir);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	{
		const char *argv[] = { REFSUM_BIN, src, NULL };

		refp = gsttest_spawn(argv, ref);
		assert_int_equal(gsttest_wait_child(refp, 60000), 0);
	}
	assert_int_equal(gsttest_count_lines(ref), 30);
	{
		const char *argv[] = { CONSUMER_BIN, "--socket", frames, "--expect", ref,
				       "--out", got, "--quiet", NULL };

		cons = gsttest_spawn(argv, NULL);
	}
	p = gsttest_launch("%s ! identity drop-allocation=true ! dmabufdsink name=s sync=false "
			   "socket-path=%s consumer-socket=%s wait-consumers=1", src, d.socket,
			   frames);
	assert_true(gsttest_run_to_eos(p, 60));
	assert_int_equal(prop_u64(p, "s", "frames-copied"), 30);
	assert_int_equal(prop_u64(p, "s", "frames-published"), 30);
	assert_true(prop_u64(p, "s", "buffers-allocated") <= POOL_MAX);
	stop_pipeline(p);
	assert_int_equal(gsttest_wait_child(cons, 30000), 0);
	assert_int_equal(gsttest_count_lines(got), 30);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* dmabufdsrc in this process receives the frames a dmabufdsink in another
 * process publishes: no copy (dma-buf memory wrapping the producer's fd),
 * GstVideoMeta with its layout, and pixels equal to the reference. */
static void test_dmabufdsrc_roundtrip(void **state)
{
	static const char src[] =
		"videotestsrc num-buffers=40 pattern=ball ! "
		"video/x-raw,format=NV12,width=320,height=240";
	struct dmabufd_client *c;
	struct daemon_proc d;
	char ref[256], frames[256], desc[1024];
	unsigned long long seq_ref, sum_ref;
	unsigned n = 0, mismatches = 0, not_dmabuf = 0, no_meta = 0;
	GstElement *p, *appsink;
	pid_t prod, refp;
	FILE *f;

	gsttest_daemon_start(&d, &c);
	snprintf(ref, sizeof(ref), "%s/ref.txt", d.dir);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	{
		const char *argv[] = { REFSUM_BIN, src, NULL };

		refp = gsttest_spawn(argv, ref);
		assert_int_equal(gsttest_wait_child(refp, 60000), 0);
	}
	snprintf(desc, sizeof(desc), "%s ! dmabufdsink sync=false socket-path=%s "
		 "consumer-socket=%s wait-consumers=1", src, d.socket, frames);
	{
		const char *argv[] = { self_exe, "--pipeline", desc, NULL };

		prod = gsttest_spawn(argv, NULL);
	}
	p = gsttest_launch("dmabufdsrc name=src socket-path=%s ! appsink name=a sync=false",
			   frames);
	appsink = gst_bin_get_by_name(GST_BIN(p), "a");
	assert_int_equal(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
			 1);
	f = fopen(ref, "re");
	assert_non_null(f);
	for (;;) {
		GstSample *sample = NULL;
		const uint8_t *planes[4];
		uint32_t strides[4], rows[4], row_bytes[4];
		GstVideoFrame vf;
		GstVideoInfo info;
		GstBuffer *buf;
		unsigned pl;
		uint64_t sum;

		g_signal_emit_by_name(appsink, "pull-sample", &sample);
		if (!sample)
			break;
		buf = gst_sample_get_buffer(sample);
		if (!gst_is_dmabuf_memory(gst_buffer_peek_memory(buf, 0)))
			not_dmabuf++;
		if (!gst_buffer_get_video_meta(buf))
			no_meta++;
		assert_true(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
		assert_true(gst_video_frame_map(&vf, &info, buf, GST_MAP_READ));
		for (pl = 0; pl < GST_VIDEO_FRAME_N_PLANES(&vf); pl++) {
			planes[pl] = GST_VIDEO_FRAME_PLANE_DATA(&vf, pl);
			strides[pl] = (uint32_t)GST_VIDEO_FRAME_PLANE_STRIDE(&vf, pl);
			row_bytes[pl] = gst_dmabufd_plane_row_bytes(&info, pl, &rows[pl]);
		}
		sum = dbfr_checksum(GST_VIDEO_FRAME_N_PLANES(&vf), planes, strides, row_bytes,
				    rows);
		gst_video_frame_unmap(&vf);
		if (fscanf(f, "%llu %llx", &seq_ref, &sum_ref) != 2 ||
		    seq_ref != GST_BUFFER_OFFSET(buf) || sum_ref != sum)
			mismatches++;
		n++;
		gst_sample_unref(sample);
	}
	fclose(f);
	assert_int_equal(n, 40);
	assert_int_equal(mismatches, 0);
	assert_int_equal(not_dmabuf, 0);
	assert_int_equal(no_meta, 0);
	assert_int_equal(prop_u64(p, "src", "frames-received"), 40);
	gst_object_unref(appsink);
	stop_pipeline(p);
	assert_int_equal(gsttest_wait_child(prod, 30000), 0);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* Open fds of this process whose /proc/self/fd link starts with @prefix. */
static int count_fds_named(const char *prefix)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *ent;
	int n = 0;

	assert_non_null(dir);
	while ((ent = readdir(dir))) {
		char path[300], target[256];
		ssize_t len;

		if (ent->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", ent->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strncmp(target, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* A raw consumer connection: connect (retrying while the sink starts) and
 * read the sink's HELLO. Returns the socket. */
static int raw_consumer(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct dbfr_hello hello;
	int i, fd = -1;
	ssize_t n;

	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	for (i = 0; i < 500; i++) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		close(fd);
		fd = -1;
		usleep(10000);
	}
	assert_true(fd >= 0);
	n = dbfr_recv(fd, &hello, sizeof(hello), NULL, 0);
	assert_int_equal(n, sizeof(hello));
	assert_int_equal(dbfr_check(&hello, (size_t)n, DBFR_HELLO), DBFR_HELLO);
	return fd;
}

/* Misbehaving consumers — garbage, a RELEASE of a frame they do not hold,
 * an fd the sink never asked for — are disconnected; the pipeline goes on
 * to EOS, the fd that was sent is not kept, and the daemon ends at zero.
 * (No wait-consumers here: a sink told to wait for one consumer rightly
 * keeps waiting when every consumer that came was dropped.) The live
 * source runs 2 s; the clients are served by then. */
static void test_bad_consumers(void **state)
{
	static const char garbage[] = "not a dbfr message at all, just bytes";
	struct dmabufd_client *c;
	struct daemon_proc d;
	struct dbfr_release rel;
	char frames[256];
	GstElement *p;
	int a, b, e, memfd;

	gsttest_daemon_start(&d, &c);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	p = gsttest_launch("videotestsrc is-live=true num-buffers=100 ! "
			   "video/x-raw,format=NV12,width=160,height=120,framerate=50/1 ! "
			   "dmabufdsink name=s socket-path=%s consumer-socket=%s",
			   d.socket, frames);
	assert_int_not_equal(gst_element_set_state(p, GST_STATE_PLAYING),
			     GST_STATE_CHANGE_FAILURE);
	a = raw_consumer(frames);
	assert_int_equal(dbfr_send(a, garbage, sizeof(garbage), -1, 0), 0);
	b = raw_consumer(frames);
	memset(&rel, 0, sizeof(rel));
	dbfr_header_init(&rel.h, DBFR_RELEASE, sizeof(rel));
	rel.seq = 999999;
	assert_int_equal(dbfr_send(b, &rel, sizeof(rel), -1, 0), 0);
	e = raw_consumer(frames);
	memfd = memfd_create("stray", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	rel.seq = 0;
	assert_int_equal(dbfr_send(e, &rel, sizeof(rel), memfd, 0), 0);
	close(memfd);
	/* The sink drops each one: the connections see EOF (after any frames
	 * it had sent them). */
	assert_true(gsttest_run_to_eos(p, 60));
	assert_int_equal(prop_u64(p, "s", "frames-rendered"), 100);
	assert_int_equal(prop_u64(p, "s", "consumers"), 0);
	/* The sink (in this process) did not keep the fd the consumer sent. */
	close(a);
	close(b);
	close(e);
	assert_int_equal(count_fds_named("/memfd:stray"), 0);
	stop_pipeline(p);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

static void kill_consumer_at_30(struct frame_check *fc)
{
	pid_t *cons = fc->userdata;

	if (fc->frames == 30 && *cons > 0)
		kill(*cons, SIGKILL);
}

/* The consumer dies holding frames: the pipeline goes on to EOS without
 * waiting for it, and afterwards the daemon holds nothing. */
static void test_kill_consumer(void **state)
{
	struct frame_check fc = { .label_prefix = "gst s", .list_every = 0 };
	struct dmabufd_client *c;
	struct daemon_proc d;
	char frames[256];
	GstElement *p, *sink;
	pid_t cons;
	int status;

	gsttest_daemon_start(&d, &c);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	{
		/* Holds each frame 20 ms: the ring is full when it dies. */
		const char *argv[] = { CONSUMER_BIN, "--socket", frames, "--hold-ms", "20",
				       "--quiet", NULL };

		cons = gsttest_spawn(argv, NULL);
	}
	fc.on_frame = kill_consumer_at_30;
	fc.userdata = &cons;
	p = gsttest_launch("videotestsrc num-buffers=200 ! "
			   "video/x-raw,format=NV12,width=320,height=240 ! "
			   "dmabufdsink name=s sync=false ring-depth=%d socket-path=%s "
			   "consumer-socket=%s wait-consumers=1", RING_DEPTH, d.socket, frames);
	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	gsttest_probe_frames(sink, &fc);
	gst_object_unref(sink);
	assert_true(gsttest_run_to_eos(p, 60));
	status = gsttest_wait_child(cons, 5000);
	assert_int_equal(status, 128 + SIGKILL);
	assert_int_equal(fc.frames, 200);
	assert_int_equal(prop_u64(p, "s", "consumers"), 0);
	assert_true(prop_u64(p, "s", "frames-published") >= 25);
	assert_true(prop_u64(p, "s", "frames-published") < 200);
	assert_true(prop_u64(p, "s", "buffers-allocated") <= POOL_MAX);
	stop_pipeline(p);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* The producer process is SIGKILLed mid-stream while a consumer holds its
 * frames: the daemon releases everything it owned, and the consumer ends
 * cleanly (exit 5: producer gone without EOS). */
static void test_kill_pipeline(void **state)
{
	struct dmabufd_client *c;
	struct daemon_proc d;
	char frames[256], got[256], desc[1024];
	struct dmabufd_stats st;
	pid_t prod, cons;
	int i;

	gsttest_daemon_start(&d, &c);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	snprintf(got, sizeof(got), "%s/got.txt", d.dir);
	snprintf(desc, sizeof(desc),
		 "videotestsrc num-buffers=100000 ! video/x-raw,format=NV12,width=320,height=240,"
		 "framerate=100/1 ! dmabufdsink name=s sync=true socket-path=%s "
		 "consumer-socket=%s wait-consumers=1", d.socket, frames);
	{
		const char *argv[] = { self_exe, "--pipeline", desc, NULL };

		prod = gsttest_spawn(argv, NULL);
	}
	{
		const char *argv[] = { CONSUMER_BIN, "--socket", frames, "--out", got,
				       "--quiet", NULL };

		cons = gsttest_spawn(argv, NULL);
	}
	for (i = 0; i < 1000 && gsttest_count_lines(got) < 20; i++)
		usleep(10000);
	assert_true(gsttest_count_lines(got) >= 20);
	st = gsttest_stats(c);
	assert_true(st.buffers >= 1);
	assert_true(st.buffers <= POOL_MAX);
	assert_int_equal(kill(prod, SIGKILL), 0);
	assert_int_equal(gsttest_wait_child(prod, 5000), 128 + SIGKILL);
	assert_true(gsttest_wait_zero(c, 5000));
	assert_int_equal(gsttest_wait_child(cons, 5000), 5);
	st = gsttest_stats(c);
	assert_int_equal(st.clients, 1); /* only this test's connection */
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

static int run_pipeline(const char *desc)
{
	GError *err = NULL;
	GstElement *p = gst_parse_launch(desc, &err);
	bool ok;

	if (!p) {
		fprintf(stderr, "%s\n", err ? err->message : "parse error");
		return 2;
	}
	ok = gsttest_run_to_eos(p, 600);
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(p);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const char *const needed[] = { "videotestsrc", "identity", "appsink",
					      "dmabufdsink", "dmabufdsrc", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_properties_documented),
		cmocka_unit_test(test_direct_rendering),
		cmocka_unit_test(test_layout_fallback),
		cmocka_unit_test(test_copy_fallback),
		cmocka_unit_test(test_dmabufdsrc_roundtrip),
		cmocka_unit_test(test_bad_consumers),
		cmocka_unit_test(test_kill_consumer),
		cmocka_unit_test(test_kill_pipeline),
	};
	ssize_t n;
	int r;

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n < 0)
		return 1;
	self_exe[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	gsttest_init(&argc, &argv, GST_REGISTRY_FILE, needed);
	if (argc == 3 && strcmp(argv[1], "--pipeline") == 0)
		return run_pipeline(argv[2]);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	/* After a failed test a pipeline may still be PLAYING; gst_deinit()
	 * would wait for its streaming thread forever. */
	if (r == 0)
		gst_deinit();
	return r;
}
