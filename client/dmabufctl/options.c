/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl: the one option parser every command uses, and the number
 * parsing its options share.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmabufctl.h"

/* Most long options one command declares (besides --json and --help). */
#define CMD_OPTIONS_MAX 30

int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dmabufctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dmabufctl --help'.\n", stderr);
	return EXIT_USAGE;
}

int parse_command(struct ctx *ctx, int argc, char **argv, const struct cmd_spec *spec,
		  void *state, char ***ret_args)
{
	struct option opts[CMD_OPTIONS_MAX + 3];
	char shortopts[32] = "h";
	size_t n = 0;
	int c, r;

	for (; spec->options && spec->options[n].name && n < CMD_OPTIONS_MAX; n++)
		opts[n] = spec->options[n];
	opts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ 0 };
	if (spec->shortopts)
		snprintf(shortopts, sizeof(shortopts), "h%s", spec->shortopts);

	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			fputs(spec->help, stdout);
			return -1;
		case '?':
		case ':':
			return usage_error("%s: bad option", spec->name);
		default:
			r = spec->handle ? spec->handle(ctx, c, optarg, state) :
					   usage_error("%s: bad option", spec->name);
			if (r)
				return r;
			break;
		}
	}
	if (argc - optind != spec->nargs)
		return usage_error("%s", spec->nargs_error);
	*ret_args = argv + optind;
	return 0;
}
