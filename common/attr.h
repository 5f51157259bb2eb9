/* SPDX-License-Identifier: MIT */
/*
 * Cache attribute names: the one table of what the daemon, the library,
 * dmabufctl and the configuration call each enum dmabufd_attribute.
 *
 * Each attribute has a canonical name ("cached", "write-combine",
 * "uncached": the project's spelling, used in reasons, logs and docs), a
 * short name ("cached", "wc", "uncached": the stable name that
 * dmabufd_attribute_name() and dmabufctl's --json output have always
 * given, kept for the scripts that read them), and aliases accepted on
 * input.
 */
#ifndef DMABUFD_COMMON_ATTR_H
#define DMABUFD_COMMON_ATTR_H

#include "dmabufd/dmabufd.h"

/* Number of attributes (enum dmabufd_attribute values 0 .. ATTR_COUNT - 1). */
#define ATTR_COUNT 3

/* Canonical name of @attribute, or NULL when it is not one. */
const char *attr_name(enum dmabufd_attribute attribute);

/* Short name of @attribute ("wc" for write-combine), or NULL. */
const char *attr_short_name(enum dmabufd_attribute attribute);

/*
 * attr_from_string() - parse a canonical name or an alias, ignoring case:
 * "cached"/"wb", "write-combine"/"writecombine"/"wc", "uncached"/"uc".
 * Return: 0 and *ret set; -EINVAL (@s NULL or no such name).
 */
int attr_from_string(const char *s, enum dmabufd_attribute *ret);

#endif
