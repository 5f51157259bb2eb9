/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-gstreamer(7) against the elements: every property that
 * dmabufdsink and dmabufdsrc declare themselves has an entry in its
 * element's section of the page, which states what gst-inspect-1.0 shows:
 * type, readable/writable/deprecated, range and default, and every value
 * of an enum or flags type.
 *
 * Exits 77 when the plugin's elements cannot be loaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <gst/gst.h>

#include "gsttest.h"

static gchar *page;

/*
 * The text of the entry "*@name*" inside section "# @section" of the
 * page: the lines after it up to the next entry or heading, markup
 * (* _ \) removed and white space collapsed. NULL when there is none.
 */
static gchar *entry_text(const char *section, const char *name)
{
	gchar **lines = g_strsplit(page, "\n", -1);
	gchar *head = g_strdup_printf("# %s", section), *entry = g_strdup_printf("*%s*", name);
	GString *out = NULL;
	gboolean in_section = FALSE;

	for (guint i = 0; lines[i]; i++) {
		const gchar *l = lines[i];

		if (l[0] == '#' && l[1] == ' ') {
			if (out)
				break;
			in_section = strcmp(l, head) == 0;
			continue;
		}
		if (out) {
			if (l[0] == '*' || l[0] == '#')
				break;
			g_string_append_c(out, ' ');
			for (const gchar *c = l; *c; c++) {
				if (*c == '*' || *c == '_' || *c == '\\')
					continue;
				if (g_ascii_isspace(*c)) {
					if (out->len && out->str[out->len - 1] != ' ')
						g_string_append_c(out, ' ');
				} else {
					g_string_append_c(out, *c);
				}
			}
		} else if (in_section && strcmp(l, entry) == 0) {
			out = g_string_new(NULL);
		}
	}
	g_strfreev(lines);
	g_free(head);
	g_free(entry);
	return out ? g_string_free(out, FALSE) : NULL;
}

static int missing;

static void expect(const char *element, const char *prop, const char *text, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
static void expect(const char *element, const char *prop, const char *text, const char *fmt, ...)
{
	va_list ap;
	gchar *want;

	va_start(ap, fmt);
	want = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!strstr(text, want)) {
		fprintf(stderr, "%s::%s: the page does not say \"%s\"\n", element, prop, want);
		missing++;
	}
	g_free(want);
}

static void check_element(const char *factory, const char *section, unsigned min_props)
{
	GstElement *e = gst_element_factory_make(factory, NULL);
	GParamSpec **props;
	guint n, own = 0;

	assert_non_null(e);
	missing = 0;
	props = g_object_class_list_properties(G_OBJECT_GET_CLASS(e), &n);
	for (guint i = 0; i < n; i++) {
		GParamSpec *p = props[i];
		const char *name = g_param_spec_get_name(p);
		GValue def = G_VALUE_INIT;
		gchar *t;

		if (p->owner_type != G_OBJECT_TYPE(e))
			continue;
		own++;
		t = entry_text(section, name);
		if (!t) {
			fprintf(stderr, "%s::%s: no entry in section %s\n", factory, name, section);
			missing++;
			continue;
		}
		expect(factory, name, t, "readable");
		if (p->flags & G_PARAM_WRITABLE)
			expect(factory, name, t, "writable");
		if (p->flags & G_PARAM_DEPRECATED)
			expect(factory, name, t, "deprecated");
		g_value_init(&def, G_PARAM_SPEC_VALUE_TYPE(p));
		g_param_value_set_default(p, &def);
		if (G_IS_PARAM_SPEC_UINT(p)) {
			GParamSpecUInt *u = G_PARAM_SPEC_UINT(p);

			expect(factory, name, t, "Unsigned integer,");
			expect(factory, name, t, "Range: %u - %u.", u->minimum, u->maximum);
			expect(factory, name, t, "Default: %u.", g_value_get_uint(&def));
		} else if (G_IS_PARAM_SPEC_UINT64(p)) {
			GParamSpecUInt64 *u = G_PARAM_SPEC_UINT64(p);

			expect(factory, name, t, "Unsigned integer64,");
			expect(factory, name, t, "Range: %" G_GUINT64_FORMAT " - %" G_GUINT64_FORMAT ".",
			       u->minimum, u->maximum);
			expect(factory, name, t, "Default: %" G_GUINT64_FORMAT ".",
			       g_value_get_uint64(&def));
		} else if (G_IS_PARAM_SPEC_BOOLEAN(p)) {
			expect(factory, name, t, "Boolean,");
			expect(factory, name, t, "Default: %s.",
			       g_value_get_boolean(&def) ? "true" : "false");
		} else if (G_IS_PARAM_SPEC_STRING(p)) {
			const gchar *s = g_value_get_string(&def);

			expect(factory, name, t, "String,");
			if (s)
				expect(factory, name, t, "Default: \"%s\"", s);
			else
				expect(factory, name, t, "Default: null");
		} else if (G_IS_PARAM_SPEC_ENUM(p)) {
			GEnumClass *k = G_PARAM_SPEC_ENUM(p)->enum_class;
			GEnumValue *d = g_enum_get_value(k, g_value_get_enum(&def));

			expect(factory, name, t, "Enum %s,", g_type_name(G_PARAM_SPEC_VALUE_TYPE(p)));
			assert_non_null(d);
			expect(factory, name, t, "Default: %d, \"%s\".", d->value, d->value_nick);
			for (guint v = 0; v < k->n_values; v++)
				expect(factory, name, t, "(%d) %s", k->values[v].value,
				       k->values[v].value_nick);
		} else if (G_IS_PARAM_SPEC_FLAGS(p)) {
			GFlagsClass *k = G_PARAM_SPEC_FLAGS(p)->flags_class;

			expect(factory, name, t, "Flags %s,", g_type_name(G_PARAM_SPEC_VALUE_TYPE(p)));
			expect(factory, name, t, "Default: 0x%08x,", g_value_get_flags(&def));
			for (guint v = 0; v < k->n_values; v++)
				expect(factory, name, t, "(0x%02x) %s", k->values[v].value,
				       k->values[v].value_nick);
		} else {
			fprintf(stderr, "%s::%s: type %s not checked by this test\n", factory, name,
				g_type_name(G_PARAM_SPEC_VALUE_TYPE(p)));
			missing++;
		}
		g_value_unset(&def);
		g_free(t);
	}
	g_free(props);
	gst_object_unref(e);
	assert_true(own >= min_props);
	assert_int_equal(missing, 0);
}

static void test_sink_page(void **state)
{
	check_element("dmabufdsink", "DMABUFDSINK", 16);
}

static void test_src_page(void **state)
{
	check_element("dmabufdsrc", "DMABUFDSRC", 4);
}

int main(int argc, char **argv)
{
	static const char *const needed[] = { "dmabufdsink", "dmabufdsrc", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sink_page),
		cmocka_unit_test(test_src_page),
	};
	GError *err = NULL;

	gsttest_init(&argc, &argv, GST_REGISTRY_FILE, needed);
	if (!g_file_get_contents(MAN_GST_PAGE, &page, NULL, &err)) {
		fprintf(stderr, "%s\n", err->message);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
