/* SPDX-License-Identifier: MIT */
/*
 * The [pool] section of the configuration file (daemon/config.c) and the
 * class lists it shares with --pool-classes:
 * - config_parse_pool_classes(): sizes with suffixes, rounded up to the
 *   page, attribute names and aliases, cached by default, blanks around
 *   items; each refusal with its reason (empty item, not a size, 0, over
 *   1T, unknown attribute, a class twice, more than POOL_MAX_CLASSES), and
 *   the output untouched on failure;
 * - config_load(): budget and classes from the file, defaults without the
 *   section; every bad value, unknown key and a class larger than the
 *   file's budget refused with "FILE:LINE: key: reason";
 * - config_apply_overrides(): --pool-budget (0 too) and --pool-classes
 *   ('learn' too) win over the file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_fixture.h"
#include "log.h"

#define MiB (1ull << 20)

/* Every logged error line, for the reasons. */
static char logged[4096];

static void capture(enum log_level level, const char *fmt, va_list ap, void *userdata)
{
	size_t len = strlen(logged);

	if (len + 2 < sizeof(logged)) {
		vsnprintf(logged + len, sizeof(logged) - len - 1, fmt, ap);
		strcat(logged, "\n");
	}
}

static int setup(void **state)
{
	logged[0] = '\0';
	log_set_sink(capture, NULL, LOG_LEVEL_ERROR);
	return 0;
}

static void test_parse_good(void **state)
{
	struct config_pool_class cls[POOL_MAX_CLASSES];
	unsigned n = 0;
	char why[160] = "";

	assert_int_equal(config_parse_pool_classes("8M:write-combine, 12441600:wc ,1M,  4K:UC",
						   4096, cls, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(cls[0].size, 8 * MiB);
	assert_int_equal(cls[0].attribute, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(cls[1].size, 12443648); /* 12441600 rounded up to 3038 pages */
	assert_int_equal(cls[1].attribute, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(cls[2].size, MiB);
	assert_int_equal(cls[2].attribute, DMABUFD_ATTR_CACHED);
	assert_int_equal(cls[3].size, 4096);
	assert_int_equal(cls[3].attribute, DMABUFD_ATTR_UNCACHED);
	/* The same size in two attributes is two classes; eight is the most. */
	assert_int_equal(config_parse_pool_classes("1M:cached,1M:write-combine,1M:uncached,2M,3M,"
						   "4M,5M,6M", 4096, cls, &n, why, sizeof(why)),
			 0);
	assert_int_equal(n, POOL_MAX_CLASSES);
	assert_int_equal(cls[1].attribute, DMABUFD_ATTR_WRITECOMBINE);
	/* Plain sizes, as --pool-classes always took them: cached, page-rounded. */
	assert_int_equal(config_parse_pool_classes("4K,64K,5000", 4096, cls, &n, why, sizeof(why)),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(cls[1].size, 65536);
	assert_int_equal(cls[2].size, 8192);
	assert_int_equal(cls[2].attribute, DMABUFD_ATTR_CACHED);
	/* A larger page rounds further. */
	assert_int_equal(config_parse_pool_classes("1", 65536, cls, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cls[0].size, 65536);
}

static void test_parse_refusals(void **state)
{
	static const struct {
		const char *list, *why;
	} bad[] = {
		{ "", "an empty item" },
		{ "1M,", "an empty item" },
		{ ",1M", "an empty item" },
		{ "1M,,2M", "an empty item" },
		{ " , ", "an empty item" },
		{ "0", "'0' is not a size between 1 byte and 1T" },
		{ "2T", "'2T' is not a size between 1 byte and 1T" },
		{ "-4K", "'-4K' is not a size" },
		{ "lots", "'lots' is not a size" },
		{ "1M:", "'' is not an attribute" },
		{ "1M:shiny", "'shiny' is not an attribute (cached, write-combine, uncached)" },
		{ ":wc", "'' is not a size" },
		{ "1M:wc:wc", "'wc:wc' is not an attribute" },
		{ "4K:wc,4096:write-combine", "4096 bytes write-combine is given twice" },
		{ "1,2", "4096 bytes cached is given twice (sizes are rounded up to 4096-byte pages)" },
		{ "1M,2M,3M,4M,5M,6M,7M,8M,9M", "more than 8 classes" },
		{ "123456789012345678901234567890123456789012345678901234567890123456789",
		  "an item longer than 63 bytes" },
	};
	struct config_pool_class cls[POOL_MAX_CLASSES], before[POOL_MAX_CLASSES];
	unsigned n = 77;

	memset(cls, 0x5a, sizeof(cls));
	memcpy(before, cls, sizeof(cls));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[160] = "";

		if (config_parse_pool_classes(bad[i].list, 4096, cls, &n, why, sizeof(why)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i].list);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': reason '%s', expected '%s'", bad[i].list, why, bad[i].why);
		assert_int_equal(n, 77); /* untouched on failure */
		assert_memory_equal(cls, before, sizeof(cls));
	}
}

static void test_load_pool(void **state)
{
	struct config c;

	assert_int_equal(config_fixture_load("[daemon]\n"
					     "backend = memfd\n"
					     "[pool]\n"
					     "budget = 64M   ; per backend\n"
					     "classes = 8M:write-combine, 12441600:write-combine, 1M\n",
					     &c),
			 0);
	assert_int_equal(c.pool_budget, 64 * MiB);
	assert_int_equal(c.pool_nclasses, 3);
	assert_int_equal(c.pool_classes[0].size, 8 * MiB);
	assert_int_equal(c.pool_classes[0].attribute, DMABUFD_ATTR_WRITECOMBINE);
	assert_int_equal(c.pool_classes[2].attribute, DMABUFD_ATTR_CACHED);
	config_finish(&c);

	/* Without the section: no pool, classes learnt. */
	assert_int_equal(config_fixture_load("[daemon]\nbackend = memfd\n", &c), 0);
	assert_int_equal(c.pool_budget, 0);
	assert_int_equal(c.pool_nclasses, 0);
	config_finish(&c);

	/* budget = 0 says "no pool" explicitly; classes alone are kept for --pool-budget. */
	assert_int_equal(config_fixture_load("[pool]\nbudget = 0\nclasses = 2M\n", &c), 0);
	assert_int_equal(c.pool_budget, 0);
	assert_int_equal(c.pool_nclasses, 1);
	config_finish(&c);
}

static void test_load_refusals(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "[pool]\nbudget = lots\n",
		  ":2: budget: 'lots' is not a size (bytes, K, M, G; 0: no pool)" },
		{ "[pool]\nbudget = -1\n", ":2: budget: '-1' is not a size" },
		{ "[pool]\nclasses = 1M:turbo\n",
		  ":2: classes: 'turbo' is not an attribute (cached, write-combine, uncached) "
		  "(expected SIZE[:ATTRIBUTE], ... , e.g. 8M:write-combine, 1M)" },
		{ "[pool]\nclasses =\n", ":2: classes: an empty item" },
		{ "[pool]\nclasses = 1M,2M,3M,4M,5M,6M,7M,8M,9M\n", ":2: classes: more than 8 classes" },
		{ "[pool]\nclasses = 1M, 1M:cached\n", ":2: classes: 1048576 bytes cached is given twice" },
		{ "[pool]\nbudget = 4M\nclasses = 1M\nclasses = 2M\n",
		  ":4: 'classes' is given twice in [pool]" },
		{ "[pool]\ndepth = 4\n", ":2: unknown key 'depth' in [pool] (budget, classes)" },
		/* The budget after the classes: the line named is the classes'. */
		{ "[pool]\nclasses = 1M, 8M:wc\nbudget = 4M\n",
		  ":2: classes: 8388608 bytes is larger than the budget (4194304 bytes): it could "
		  "never be pooled" },
		{ "[pools]\nbudget = 4M\n", "unknown section [pools] (daemon, access, quota, share, "
		  "limits, pool, uid:NAME, gid:NAME)" },
	};
	struct config c, before;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		logged[0] = '\0';
		memset(&c, 0x5a, sizeof(c));
		memcpy(&before, &c, sizeof(c));
		r = config_fixture_load(bad[i].text, &c);
		if (r != -EINVAL)
			fail_msg("case %zu accepted (%d): %s", i, r, bad[i].text);
		if (!strstr(logged, bad[i].why))
			fail_msg("case %zu: logged\n%s\nexpected '%s'", i, logged, bad[i].why);
		assert_memory_equal(&c, &before, sizeof(c)); /* untouched on failure */
	}
}

static void test_overrides(void **state)
{
	static const char text[] = "[pool]\nbudget = 64M\nclasses = 8M:wc, 1M\n";
	struct config_overrides none = { 0 }, off = { .has_pool_budget = true, .pool_budget = 0 };
	struct config_overrides learn = { .has_pool_classes = true, .pool_nclasses = 0 };
	struct config_overrides other = {
		.has_pool_budget = true, .pool_budget = 16 * MiB, .has_pool_classes = true,
		.pool_classes = { { .size = 2 * MiB, .attribute = DMABUFD_ATTR_UNCACHED } },
		.pool_nclasses = 1,
	};
	struct config c;

	assert_int_equal(config_fixture_load(text, &c), 0);
	assert_int_equal(config_apply_overrides(&c, &none), 0);
	assert_int_equal(c.pool_budget, 64 * MiB);
	assert_int_equal(c.pool_nclasses, 2);
	/* --pool-budget 0 turns the file's pool off. */
	assert_int_equal(config_apply_overrides(&c, &off), 0);
	assert_int_equal(c.pool_budget, 0);
	assert_int_equal(c.pool_nclasses, 2);
	/* --pool-classes learn drops the file's classes. */
	assert_int_equal(config_apply_overrides(&c, &learn), 0);
	assert_int_equal(c.pool_nclasses, 0);
	config_finish(&c);

	assert_int_equal(config_fixture_load(text, &c), 0);
	assert_int_equal(config_apply_overrides(&c, &other), 0);
	assert_int_equal(c.pool_budget, 16 * MiB);
	assert_int_equal(c.pool_nclasses, 1);
	assert_int_equal(c.pool_classes[0].size, 2 * MiB);
	assert_int_equal(c.pool_classes[0].attribute, DMABUFD_ATTR_UNCACHED);
	config_finish(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_parse_good, setup),
		cmocka_unit_test_setup(test_parse_refusals, setup),
		cmocka_unit_test_setup(test_load_pool, setup),
		cmocka_unit_test_setup(test_load_refusals, setup),
		cmocka_unit_test_setup(test_overrides, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
