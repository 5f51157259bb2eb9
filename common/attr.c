/* SPDX-License-Identifier: MIT */
#include "attr.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

#define ATTR_ALIASES_MAX 3

static const struct attr_names {
	const char *name;                          /* canonical */
	const char *short_name;                    /* dmabufd_attribute_name() */
	const char *aliases[ATTR_ALIASES_MAX];     /* also accepted; NULL-padded */
} attr_table[ATTR_COUNT] = {
	[DMABUFD_ATTR_CACHED] = { "cached", "cached", { "wb" } },
	[DMABUFD_ATTR_WRITECOMBINE] = { "write-combine", "wc", { "writecombine", "wc" } },
	[DMABUFD_ATTR_UNCACHED] = { "uncached", "uncached", { "uc" } },
};

const char *attr_name(enum dmabufd_attribute attribute)
{
	return (unsigned)attribute < ATTR_COUNT ? attr_table[attribute].name : NULL;
}

const char *attr_short_name(enum dmabufd_attribute attribute)
{
	return (unsigned)attribute < ATTR_COUNT ? attr_table[attribute].short_name : NULL;
}

int attr_from_string(const char *s, enum dmabufd_attribute *ret)
{
	if (!s || !ret)
		return -EINVAL;
	for (unsigned a = 0; a < ATTR_COUNT; a++) {
		const struct attr_names *n = &attr_table[a];
		bool match = strcasecmp(s, n->name) == 0;

		for (size_t i = 0; !match && i < ATTR_ALIASES_MAX && n->aliases[i]; i++)
			match = strcasecmp(s, n->aliases[i]) == 0;
		if (match) {
			*ret = (enum dmabufd_attribute)a;
			return 0;
		}
	}
	return -EINVAL;
}
