/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the GStreamer plugin tests: a real dmabufd (tests/integration
 * harness), the plugin from the build tree, child processes, and a probe
 * that checks every frame reaching dmabufdsink.
 */
#ifndef DMABUFD_GSTTEST_H
#define DMABUFD_GSTTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <gst/gst.h>

#include <dmabufd/dmabufd.h>

#include "harness.h"

/* Exit code for "cannot run here" (CTest SKIP_RETURN_CODE). */
#define SKIP 77

/*
 * Points GStreamer at the plugin in the build tree (GST_PLUGIN_PATH), a
 * private registry, and calls gst_init(). Exits 77 when an element in the
 * NULL-terminated @needed list is not installed.
 */
void gsttest_init(int *argc, char ***argv, const char *registry, const char *const *needed);

/* Starts the daemon; connects @ret_client to it. Fails the test on error. */
void gsttest_daemon_start(struct daemon_proc *d, struct dmabufd_client **ret_client);
/* The same with more daemon arguments (NULL-terminated, or NULL). */
void gsttest_daemon_start_args(struct daemon_proc *d, const char *const *extra_args,
			       struct dmabufd_client **ret_client);

/* Disconnects @c, stops the daemon; returns daemon_stop()'s status. */
int gsttest_daemon_stop(struct daemon_proc *d, struct dmabufd_client *c);

/* Daemon counters. */
struct dmabufd_stats gsttest_stats(struct dmabufd_client *c);

/*
 * Waits up to @timeout_ms until the daemon holds no buffer and no byte
 * (stats.buffers == 0 && stats.used == 0). Returns true when it did.
 */
bool gsttest_wait_zero(struct dmabufd_client *c, int timeout_ms);

/* What the sink-pad probe saw. */
struct frame_check {
	struct dmabufd_client *client; /* for listing, from the streaming thread */
	const char *label_prefix;      /* every live buffer's label starts with it */
	unsigned list_every;           /* list the daemon's buffers every N frames */
	unsigned frames;
	unsigned not_dmabuf;           /* !gst_is_dmabuf_memory() */
	unsigned not_dmabufd;          /* allocator is not GstDmabufdAllocator */
	unsigned lists;                /* listings done */
	unsigned bad_rows;             /* rows with a wrong label or owner pid */
	unsigned max_live;             /* most live buffers seen in one listing */
	/* When n_planes > 0: every frame's GstVideoMeta must have these. */
	unsigned n_planes;
	uint32_t offsets[4], strides[4];
	unsigned bad_layout;           /* frames without meta or with another layout */
	/* Called from the probe on every frame (after the checks), or NULL. */
	void (*on_frame)(struct frame_check *fc);
	void *userdata;
};

/*
 * Fills fc->n_planes/offsets/strides with the layout the daemon gives a
 * framebuffer of these parameters (one dmabufd_alloc_framebuffer() on @c,
 * released at once).
 */
void gsttest_expect_fb_layout(struct frame_check *fc, struct dmabufd_client *c, uint32_t width,
			      uint32_t height, uint32_t fourcc, uint32_t usage);

/*
 * gst_parse_launch() of the description @fmt formats (printf). Fails the
 * test, with the description and the parser's message on stderr, when it
 * does not parse. Returns the pipeline, in state NULL; the caller unrefs it.
 */
GstElement *gsttest_launch(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Adds the probe to @sink's sink pad. */
void gsttest_probe_frames(GstElement *sink, struct frame_check *fc);

/*
 * Sets @pipeline PLAYING and waits for EOS or an error, up to @timeout_s.
 * Returns true on EOS (an error message is printed otherwise). Leaves the
 * pipeline PLAYING; the caller sets it to NULL.
 */
bool gsttest_run_to_eos(GstElement *pipeline, int timeout_s);

/* fork+exec @argv (argv[0] is a path); stdout to @out_path if not NULL. */
pid_t gsttest_spawn(const char *const *argv, const char *out_path);

/*
 * Waits up to @timeout_ms for @pid. Returns its exit code, 128+signal if it
 * was killed, or -1 on timeout (the child is then killed).
 */
int gsttest_wait_child(pid_t pid, int timeout_ms);

/* Number of lines of a file (0 if it does not exist). */
unsigned gsttest_count_lines(const char *path);

#endif
