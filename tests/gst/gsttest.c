/* SPDX-License-Identifier: MIT */
/* Helpers for the GStreamer plugin tests (gsttest.h). */
#include "gsttest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>
#include <libdrm/drm_fourcc.h>

#include <dmabufd/framebuffer.h>

void gsttest_init(int *argc, char ***argv, const char *registry, const char *const *needed)
{
	size_t i;

	setenv("GST_PLUGIN_PATH", DMABUFD_GST_PLUGIN_PATH, 1);
	setenv("GST_REGISTRY", registry, 1);
	/* Scan in this process: a sanitizer-built plugin cannot be loaded by
	 * the (uninstrumented) gst-plugin-scanner helper. */
	setenv("GST_REGISTRY_FORK", "no", 1);
	gst_init(argc, argv);
	for (i = 0; needed && needed[i]; i++) {
		GstElementFactory *f = gst_element_factory_find(needed[i]);

		if (!f) {
			fprintf(stderr, "SKIP: GStreamer element %s is not installed "
				"(scripts/install-deps.sh --gst)\n", needed[i]);
			exit(SKIP);
		}
		gst_object_unref(f);
	}
}

/* A copy of the running test's daemon (the test's own struct lives on a
 * stack that a failed assertion unwinds): stopped at exit or by the next
 * test if an assertion left it running. */
static struct daemon_proc running_daemon;
static bool daemon_running;

static void stop_running_daemon(void)
{
	if (daemon_running)
		daemon_stop(&running_daemon);
	daemon_running = false;
}

void gsttest_daemon_start(struct daemon_proc *d, struct dmabufd_client **ret_client)
{
	gsttest_daemon_start_args(d, NULL, ret_client);
}

void gsttest_daemon_start_args(struct daemon_proc *d, const char *const *extra_args,
			       struct dmabufd_client **ret_client)
{
	static bool registered;

	if (!registered) {
		atexit(stop_running_daemon);
		registered = true;
	}
	/* A failed test (cmocka longjmp) may have left its daemon running. */
	stop_running_daemon();
	assert_int_equal(daemon_start(d, extra_args), 0);
	running_daemon = *d;
	daemon_running = true;
	assert_int_equal(dmabufd_connect(d->socket, ret_client), 0);
}

int gsttest_daemon_stop(struct daemon_proc *d, struct dmabufd_client *c)
{
	dmabufd_disconnect(c);
	daemon_running = false;
	return daemon_stop(d);
}

struct dmabufd_stats gsttest_stats(struct dmabufd_client *c)
{
	struct dmabufd_stats s;

	assert_int_equal(dmabufd_stats(c, &s), 0);
	return s;
}

bool gsttest_wait_zero(struct dmabufd_client *c, int timeout_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited <= timeout_ms; waited += 20) {
		struct dmabufd_stats s = gsttest_stats(c);

		if (s.buffers == 0 && s.used == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static GstPadProbeReturn frame_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	struct frame_check *fc = data;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMemory *mem = gst_buffer_peek_memory(buf, 0);

	fc->frames++;
	if (!gst_is_dmabuf_memory(mem))
		fc->not_dmabuf++;
	if (!mem->allocator ||
	    strcmp(G_OBJECT_TYPE_NAME(mem->allocator), "GstDmabufdAllocator") != 0)
		fc->not_dmabufd++;
	if (fc->n_planes) {
		GstVideoMeta *meta = gst_buffer_get_video_meta(buf);
		unsigned p;

		if (!meta || meta->n_planes != fc->n_planes) {
			fc->bad_layout++;
		} else {
			for (p = 0; p < fc->n_planes; p++)
				if (meta->offset[p] != fc->offsets[p] ||
				    meta->stride[p] != (gint)fc->strides[p]) {
					fc->bad_layout++;
					break;
				}
		}
	}
	if (fc->list_every && fc->frames % fc->list_every == 1) {
		struct dmabufd_buffer_info *rows = NULL;
		size_t n = 0, i;
		unsigned live = 0;

		if (dmabufd_list(fc->client, &rows, &n) == 0) {
			fc->lists++;
			for (i = 0; i < n; i++) {
				live++;
				if (rows[i].owner_pid != getpid() ||
				    strncmp(rows[i].label, fc->label_prefix,
					    strlen(fc->label_prefix)) != 0) {
					fprintf(stderr, "unexpected buffer %llu: pid %d label '%s'\n",
						(unsigned long long)rows[i].id,
						(int)rows[i].owner_pid, rows[i].label);
					fc->bad_rows++;
				}
			}
			if (live > fc->max_live)
				fc->max_live = live;
			dmabufd_list_free(rows);
		}
	}
	if (fc->on_frame)
		fc->on_frame(fc);
	return GST_PAD_PROBE_OK;
}

void gsttest_expect_fb_layout(struct frame_check *fc, struct dmabufd_client *c, uint32_t width,
			      uint32_t height, uint32_t fourcc, uint32_t usage)
{
	struct dmabufd_framebuffer fb;
	unsigned p;

	assert_int_equal(dmabufd_alloc_framebuffer(c, width, height, fourcc,
						   DRM_FORMAT_MOD_LINEAR, usage,
						   DMABUFD_ATTR_CACHED, 0, "gst test probe", &fb), 0);
	assert_true(fb.num_planes >= 1 && fb.num_planes <= 4);
	fc->n_planes = fb.num_planes;
	for (p = 0; p < fb.num_planes; p++) {
		fc->offsets[p] = fb.offsets[p];
		fc->strides[p] = fb.pitches[p];
	}
	assert_int_equal(dmabufd_release(c, fb.id), 0);
	close(fb.fd);
}

GstElement *gsttest_launch(const char *fmt, ...)
{
	GError *err = NULL;
	GstElement *p;
	va_list ap;
	gchar *desc;

	va_start(ap, fmt);
	desc = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p = gst_parse_launch(desc, &err);
	if (!p)
		fprintf(stderr, "cannot parse '%s': %s\n", desc, err ? err->message : "?");
	g_clear_error(&err);
	g_free(desc);
	assert_non_null(p);
	return p;
}

void gsttest_probe_frames(GstElement *sink, struct frame_check *fc)
{
	GstPad *pad = gst_element_get_static_pad(sink, "sink");

	assert_non_null(pad);
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, frame_probe, fc, NULL);
	gst_object_unref(pad);
}

bool gsttest_run_to_eos(GstElement *pipeline, int timeout_s)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	GstMessage *msg;
	bool eos = false;

	if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		fprintf(stderr, "pipeline cannot go to PLAYING\n");
	}
	msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_s * GST_SECOND,
					 GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (!msg) {
		fprintf(stderr, "pipeline: no EOS within %d s\n", timeout_s);
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		gchar *dbg = NULL;

		gst_message_parse_error(msg, &err, &dbg);
		fprintf(stderr, "pipeline error: %s (%s)\n", err->message, dbg ? dbg : "");
		g_clear_error(&err);
		g_free(dbg);
	} else {
		eos = true;
	}
	if (msg)
		gst_message_unref(msg);
	gst_object_unref(bus);
	return eos;
}

pid_t gsttest_spawn(const char *const *argv, const char *out_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Children that use GStreamer (dmabufd-gst-refsum) do not need
		 * the plugin: let them scan the system plugins with the usual
		 * forked scanner, into a registry of their own. */
		gchar *reg = g_strdup_printf("%s.child", getenv("GST_REGISTRY"));

		setenv("GST_REGISTRY", reg, 1);
		unsetenv("GST_REGISTRY_FORK");
		unsetenv("GST_PLUGIN_PATH");
		if (out_path) {
			int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
				_exit(126);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	return pid;
}

int gsttest_wait_child(pid_t pid, int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int waited, status;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

unsigned gsttest_count_lines(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}
