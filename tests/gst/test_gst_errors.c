/* SPDX-License-Identifier: MIT */
/*
 * What the GStreamer elements tell the user when something is refused:
 * a request the daemon refuses reaches the bus as dmabufdsink's ERROR
 * message carrying the daemon's reason (not only upstream's
 * "not-negotiated"); and the property names the two elements share
 * (socket-path, with "socket" as the source's deprecated alias).
 *
 * Exits 77 when GStreamer's base plugins are not installed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <gst/gst.h>

#include "gsttest.h"

/* Every ERROR message of a run, as "element-name: message | debug". */
struct bus_errors {
	char *text[8];
	unsigned n;
};

static void bus_errors_free(struct bus_errors *e)
{
	for (unsigned i = 0; i < e->n; i++)
		g_free(e->text[i]);
	e->n = 0;
}

/*
 * Sets @pipeline PLAYING and collects its ERROR messages until none came
 * for a second after the first one (or EOS, or @timeout_s). Returns the
 * number of errors.
 */
static unsigned run_collect_errors(GstElement *pipeline, int timeout_s, struct bus_errors *e)
{
	GstBus *bus = gst_element_get_bus(pipeline);
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;

	e->n = 0;
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	while (g_get_monotonic_time() < deadline) {
		GstClockTime wait = e->n ? GST_SECOND : 100 * GST_MSECOND;
		GstMessage *m = gst_bus_timed_pop_filtered(bus, wait,
							   GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
		GError *err = NULL;
		gchar *debug = NULL;

		if (!m) {
			if (e->n)
				break;
			continue;
		}
		if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
			gst_message_unref(m);
			break;
		}
		gst_message_parse_error(m, &err, &debug);
		if (e->n < G_N_ELEMENTS(e->text))
			e->text[e->n++] = g_strdup_printf("%s: %s | %s", GST_MESSAGE_SRC_NAME(m),
							  err->message, debug ? debug : "");
		g_clear_error(&err);
		g_free(debug);
		gst_message_unref(m);
	}
	gst_object_unref(bus);
	return e->n;
}

/* The first error posted by @element whose text holds @needle, or NULL. */
static const char *find_error(const struct bus_errors *e, const char *element, const char *needle)
{
	size_t len = strlen(element);

	for (unsigned i = 0; i < e->n; i++)
		if (strncmp(e->text[i], element, len) == 0 && e->text[i][len] == ':' &&
		    strstr(e->text[i] + len, needle))
			return e->text[i];
	return NULL;
}

static void print_errors(const struct bus_errors *e)
{
	for (unsigned i = 0; i < e->n; i++)
		fprintf(stderr, "  bus error %u: %s\n", i, e->text[i]);
}

/*
 * Runs videotestsrc ! dmabufdsink (name s) with @sink_props against the
 * daemon at @socket and checks that it fails with an error of the sink
 * that carries @reason in its message text (what gst-launch-1.0 prints
 * first, without GST_DEBUG).
 */
static void expect_sink_error(const char *socket, const char *sink_props, const char *reason)
{
	struct bus_errors e;
	GError *gerr = NULL;
	GstElement *p;
	gchar *desc;
	const char *hit;

	desc = g_strdup_printf("videotestsrc num-buffers=5 ! "
			       "video/x-raw,format=NV12,width=64,height=48 ! "
			       "dmabufdsink name=s sync=false socket-path=%s %s", socket, sink_props);
	p = gst_parse_launch(desc, &gerr);
	g_free(desc);
	assert_non_null(p);
	assert_true(run_collect_errors(p, 30, &e) >= 1);
	print_errors(&e);
	hit = find_error(&e, "s", reason);
	assert_non_null(hit);
	/* In the message, before the debug string. */
	assert_true(strstr(hit, reason) < strstr(hit, " | "));
	bus_errors_free(&e);
	assert_int_equal(gst_element_set_state(p, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
	gst_object_unref(p);
}

/* attribute= names an attribute the backend lacks (wc on memfd): the
 * daemon's -EOPNOTSUPP reason is in the sink's error. */
static void test_attribute_refusal_reason(void **state)
{
	static const char *const names[] = { "cached", "wc", "uncached" };
	struct dmabufd_client *c;
	struct dmabufd_info info;
	struct daemon_proc d;
	struct dmabufd_buffer b;
	char reason[256], props[64];
	int attr, r;

	gsttest_daemon_start(&d, &c);
	assert_int_equal(dmabufd_get_info(c, &info), 0);
	for (attr = 0; attr < 3 && (info.attributes & (1u << attr)); attr++)
		;
	if (attr == 3) {
		assert_int_equal(gsttest_daemon_stop(&d, c), 0);
		skip(); /* every attribute is honoured (kmod backend): nothing to refuse */
	}
	/* What the daemon says to any client asking the same. */
	r = dmabufd_alloc(c, 4096, 0, (enum dmabufd_attribute)attr, 0, NULL, &b);
	assert_int_equal(r, -EOPNOTSUPP);
	snprintf(reason, sizeof(reason), "%s", dmabufd_last_reason(c));
	assert_true(strlen(reason) > 10);
	snprintf(props, sizeof(props), "attribute=%s", names[attr]);
	expect_sink_error(d.socket, props, reason);
	assert_true(gsttest_wait_zero(c, 2000));
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
}

/* A quota: the framebuffer probe is refused (layout fallback), then the
 * frame itself; the sink's error carries the daemon's -EDQUOT reason. */
static void test_quota_refusal_reason(void **state)
{
	char dir[] = "/tmp/dmabufd-gst-errors-XXXXXX", conf[64], reason[256];
	const char *const args[] = { "--config", conf, NULL };
	struct dmabufd_client *c;
	struct daemon_proc d;
	struct dmabufd_buffer b;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/dmabufd.conf", dir);
	f = fopen(conf, "we");
	assert_non_null(f);
	fputs("[access]\nusers = *\n[quota]\nclient-buffers = 0\n", f);
	assert_int_equal(fclose(f), 0);

	gsttest_daemon_start_args(&d, args, &c);
	assert_int_equal(dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_CACHED, 0, NULL, &b), -EDQUOT);
	snprintf(reason, sizeof(reason), "%s", dmabufd_last_reason(c));
	assert_non_null(strstr(reason, "client buffers = 0"));
	expect_sink_error(d.socket, "", reason);
	assert_int_equal(gsttest_daemon_stop(&d, c), 0);
	unlink(conf);
	rmdir(dir);
}

/* dmabufdsrc takes socket-path like dmabufdsink; "socket" is a deprecated
 * alias of the same value. */
static void test_socket_path_alias(void **state)
{
	GstElement *src = gst_element_factory_make("dmabufdsrc", NULL);
	GstElement *sink = gst_element_factory_make("dmabufdsink", NULL);
	GParamSpec *path, *alias;
	gchar *v = NULL;

	assert_non_null(src);
	assert_non_null(sink);
	assert_non_null(g_object_class_find_property(G_OBJECT_GET_CLASS(sink), "socket-path"));
	path = g_object_class_find_property(G_OBJECT_GET_CLASS(src), "socket-path");
	alias = g_object_class_find_property(G_OBJECT_GET_CLASS(src), "socket");
	assert_non_null(path);
	assert_non_null(alias);
	assert_false(path->flags & G_PARAM_DEPRECATED);
	assert_true(alias->flags & G_PARAM_DEPRECATED);
	assert_non_null(strstr(g_param_spec_get_blurb(alias), "socket-path"));

	g_object_set(src, "socket", "/tmp/old-name", NULL);
	g_object_get(src, "socket-path", &v, NULL);
	assert_string_equal(v, "/tmp/old-name");
	g_free(v);
	g_object_set(src, "socket-path", "/tmp/new-name", NULL);
	g_object_get(src, "socket", &v, NULL);
	assert_string_equal(v, "/tmp/new-name");
	g_free(v);
	gst_object_unref(src);
	gst_object_unref(sink);
}

int main(int argc, char **argv)
{
	static const char *const needed[] = { "videotestsrc", "dmabufdsink", "dmabufdsrc", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path_alias),
		cmocka_unit_test(test_attribute_refusal_reason),
		cmocka_unit_test(test_quota_refusal_reason),
	};

	gsttest_init(&argc, &argv, GST_REGISTRY_FILE, needed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
