/* SPDX-License-Identifier: MIT */
/*
 * Configuration-file fixtures for the unit tests of daemon/config.c: a
 * file's text written to a temporary file, loaded with config_load(), the
 * file removed again. Failures fail the running cmocka test.
 */
#ifndef DMABUFD_TEST_CONFIG_FIXTURE_H
#define DMABUFD_TEST_CONFIG_FIXTURE_H

#include <stddef.h>

#include "config.h"

/*
 * config_fixture_load() - config_load(PATH, true, @ret) of a temporary file
 * holding @text (a whole dmabufd.conf, NUL-terminated); the file is gone on
 * return. Return: what config_load() returned (0, or -EINVAL for a refused
 * file; *ret is then untouched).
 */
int config_fixture_load(const char *text, struct config *ret);

/*
 * config_fixture_assert_refused() - fails the test unless config_load()
 * refuses (-EINVAL) each of the @n file texts @texts; the failure names the
 * first text accepted.
 */
void config_fixture_assert_refused(const char *const *texts, size_t n);

#endif
