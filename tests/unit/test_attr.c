/* SPDX-License-Identifier: MIT */
/*
 * common/attr.c: the one table of cache-attribute names, and the public
 * dmabufd_attribute_name()/dmabufd_attribute_from_string() built on it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "attr.h"

static void test_canonical_names(void **state)
{
	enum dmabufd_attribute a;

	assert_string_equal(attr_name(DMABUFD_ATTR_CACHED), "cached");
	assert_string_equal(attr_name(DMABUFD_ATTR_WRITECOMBINE), "write-combine");
	assert_string_equal(attr_name(DMABUFD_ATTR_UNCACHED), "uncached");
	assert_null(attr_name((enum dmabufd_attribute)ATTR_COUNT));
	assert_null(attr_short_name((enum dmabufd_attribute)-1));
	/* Every canonical and short name parses back to its attribute. */
	for (unsigned i = 0; i < ATTR_COUNT; i++) {
		a = (enum dmabufd_attribute)99;
		assert_int_equal(attr_from_string(attr_name(i), &a), 0);
		assert_int_equal(a, i);
		a = (enum dmabufd_attribute)99;
		assert_int_equal(attr_from_string(attr_short_name(i), &a), 0);
		assert_int_equal(a, i);
	}
}

static void test_aliases(void **state)
{
	static const struct {
		const char *s;
		enum dmabufd_attribute a;
	} ok[] = {
		{ "wb", DMABUFD_ATTR_CACHED },           { "CACHED", DMABUFD_ATTR_CACHED },
		{ "wc", DMABUFD_ATTR_WRITECOMBINE },     { "writecombine", DMABUFD_ATTR_WRITECOMBINE },
		{ "Write-Combine", DMABUFD_ATTR_WRITECOMBINE },
		{ "uc", DMABUFD_ATTR_UNCACHED },         { "uncached", DMABUFD_ATTR_UNCACHED },
	};
	enum dmabufd_attribute a;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(attr_from_string(ok[i].s, &a), 0);
		assert_int_equal(a, ok[i].a);
	}
	a = DMABUFD_ATTR_UNCACHED;
	assert_int_equal(attr_from_string("write combine", &a), -EINVAL);
	assert_int_equal(attr_from_string("", &a), -EINVAL);
	assert_int_equal(attr_from_string(NULL, &a), -EINVAL);
	assert_int_equal(attr_from_string("wc", NULL), -EINVAL);
	assert_int_equal(a, DMABUFD_ATTR_UNCACHED); /* untouched on failure */
}

static void test_public_api(void **state)
{
	enum dmabufd_attribute a;

	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_CACHED), "cached");
	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_WRITECOMBINE), "wc");
	assert_string_equal(dmabufd_attribute_name(DMABUFD_ATTR_UNCACHED), "uncached");
	assert_string_equal(dmabufd_attribute_name((enum dmabufd_attribute)7), "unknown");
	assert_int_equal(dmabufd_attribute_from_string("write-combine", &a), 0);
	assert_int_equal(a, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(dmabufd_attribute_from_string("bogus", &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_names),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_public_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
