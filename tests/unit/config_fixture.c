/* SPDX-License-Identifier: MIT */
/* Configuration-file fixtures for the unit tests (config_fixture.h). */
#include "config_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int config_fixture_load(const char *text, struct config *ret)
{
	char path[] = "/tmp/dmabufd-unit-XXXXXX";
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	r = config_load(path, true, ret);
	unlink(path);
	return r;
}

void config_fixture_assert_refused(const char *const *texts, size_t n)
{
	struct config c;

	for (size_t i = 0; i < n; i++) {
		if (config_fixture_load(texts[i], &c) != -EINVAL)
			fail_msg("case %zu accepted: %s", i, texts[i]);
	}
}
