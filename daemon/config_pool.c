/* SPDX-License-Identifier: MIT */
/*
 * [pool] of the configuration file, and the class lists it shares with
 * --pool-classes: "SIZE[:ATTRIBUTE], ..." (config.h).
 */
#include "config.h"
#include "config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"

/* A pool class larger than any region this daemon manages is a typo. */
#define POOL_CLASS_CAP (1ull << 40)

int config_parse_pool_classes(const char *s, uint32_t page,
			      struct config_pool_class ret[POOL_MAX_CLASSES], unsigned *ret_n,
			      char *why, size_t whylen)
{
	struct config_pool_class cls[POOL_MAX_CLASSES];
	unsigned n = 0;

	for (;;) {
		size_t len = strcspn(s, ",");
		const char *end;
		char item[64], *colon;
		enum dmabufd_attribute attr = DMABUFD_ATTR_CACHED;
		uint64_t size;

		/* the item without the blanks around it */
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		for (end = s + len; end > s && (end[-1] == ' ' || end[-1] == '\t'); end--)
			;
		len = (size_t)(end - s);
		if (len == 0) {
			snprintf(why, whylen, "an empty item");
			return -EINVAL;
		}
		if (len >= sizeof(item)) {
			snprintf(why, whylen, "an item longer than %zu bytes", sizeof(item) - 1);
			return -EINVAL;
		}
		if (n == POOL_MAX_CLASSES) {
			snprintf(why, whylen, "more than %u classes", POOL_MAX_CLASSES);
			return -EINVAL;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		colon = strchr(item, ':');
		if (colon) {
			*colon = '\0';
			if (attr_from_string(colon + 1, &attr) < 0) {
				snprintf(why, whylen, "'%s' is not an attribute (cached, write-combine, "
					 "uncached)", colon + 1);
				return -EINVAL;
			}
		}
		if (config_parse_size(item, &size) < 0 || size == 0 || size > POOL_CLASS_CAP) {
			snprintf(why, whylen, "'%s' is not a size between 1 byte and 1T", item);
			return -EINVAL;
		}
		size = (size + page - 1) / page * page;
		for (unsigned i = 0; i < n; i++) {
			if (cls[i].size == size && cls[i].attribute == attr) {
				snprintf(why, whylen, "%" PRIu64 " bytes %s is given twice (sizes are "
					 "rounded up to %u-byte pages)", size, attr_name(attr), page);
				return -EINVAL;
			}
		}
		cls[n++] = (struct config_pool_class){ .size = size, .attribute = attr };
		s += strcspn(s, ",");
		if (!*s)
			break;
		s++; /* the comma; an item must follow */
	}
	memcpy(ret, cls, n * sizeof(cls[0]));
	*ret_n = n;
	return 0;
}

/* [pool]: the pre-made buffers (budget and classes), read at start only. */
int config_handle_pool(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *c = ctx->cfg;
	long page = sysconf(_SC_PAGESIZE);
	char why[160];

	if (strcmp(name, "budget") == 0) {
		if (config_parse_size(value, &c->pool_budget) < 0) {
			config_error(ctx, "budget: '%s' is not a size (bytes, K, M, G; 0: no pool)",
				     value);
			return 0;
		}
		return 1;
	}
	if (strcmp(name, "classes") == 0) {
		if (config_parse_pool_classes(value, page > 0 ? (uint32_t)page : 4096,
					      c->pool_classes, &c->pool_nclasses, why,
					      sizeof(why)) < 0) {
			config_error(ctx, "classes: %s (expected SIZE[:ATTRIBUTE], ... , e.g. "
				     "8M:write-combine, 1M)", why);
			return 0;
		}
		ctx->pool_classes_line = ctx->line;
		return 1;
	}
	config_error(ctx, "unknown key '%s' in [pool] (budget, classes)", name);
	return 0;
}

/*
 * A class larger than the file's own budget could never be pooled (the
 * command line may still raise the budget: checked again at start).
 */
void config_check_pool(struct parse_ctx *ctx)
{
	const struct config *c = ctx->cfg;
	unsigned line = ctx->line;

	if (!c->pool_budget || !ctx->pool_classes_line)
		return;
	ctx->line = ctx->pool_classes_line;
	for (unsigned i = 0; i < c->pool_nclasses; i++)
		if (c->pool_classes[i].size > c->pool_budget)
			config_error(ctx, "classes: %" PRIu64 " bytes is larger than the budget "
				     "(%" PRIu64 " bytes): it could never be pooled",
				     c->pool_classes[i].size, c->pool_budget);
	ctx->line = line;
}
