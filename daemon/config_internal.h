/* SPDX-License-Identifier: MIT */
/*
 * The configuration parser's state, shared by its files: config.c (the
 * file, its sections and reload) and config_pool.c ([pool] and the class
 * lists --pool-classes takes too).
 */
#ifndef DMABUFD_CONFIG_INTERNAL_H
#define DMABUFD_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/* A [uid:]/[gid:] section being read: which keys it set, where it began. */
struct rule_parse {
	unsigned set;
	unsigned line;
};

struct parse_ctx {
	const char *path;
	FILE *f;
	unsigned line;           /* line the reader returned last */
	unsigned long_line;      /* first line that was too long, or 0 */
	unsigned errors;
	struct config *cfg;
	struct policy *pol;
	bool access_users_set, access_groups_set;
	struct rule_parse *rules;     /* parallel to pol->rules */
	unsigned pool_classes_line;   /* line of [pool] classes, or 0 */
	/* "section\nkey" of every key seen, to refuse duplicates */
	char **seen;
	size_t nseen;
};

/* Logs "PATH:LINE: message" for the line being parsed and counts an error. */
void config_error(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * config_handle_pool() - one key of [pool] (budget, classes).
 * Return: 1 handled; 0 refused (reported with config_error()).
 */
int config_handle_pool(struct parse_ctx *ctx, const char *name, const char *value);

/*
 * config_check_pool() - after the whole file: a class larger than the
 * file's own budget is reported (on the classes' line).
 */
void config_check_pool(struct parse_ctx *ctx);

#endif
