/* SPDX-License-Identifier: MIT */
/*
 * share_import: what the constant-time token lookup costs. The daemon finds
 * an Import's token by comparing it with every live token (no early exit,
 * docs/SHARING.md), so Import time grows with the number of live tokens.
 * This measures the round trip of Import (a valid token, as the owner, no
 * record) with 1, 1024 and 16384 live tokens, side by side with a Stats
 * round trip in the same run, and prints both and the ratio Import/Stats.
 *
 *   share_import [--socket PATH] [--iterations N]
 *
 * Needs a daemon whose [share] max-tokens-per-client and
 * max-tokens-per-buffer are at least 16384 (tests/bench/share_import.conf).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd/dmabufd.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	static const unsigned counts[] = { 1, 1024, 16384 };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'n' },
		{ 0 },
	};
	const char *path = NULL;
	struct dmabufd_client *c;
	struct dmabufd_buffer b;
	struct dmabufd_token tok;
	unsigned live = 0;
	long iterations = 2000;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "s:n:", opts, NULL)) != -1) {
		if (opt == 's')
			path = optarg;
		else if (opt == 'n')
			iterations = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (iterations <= 0)
		return 2;
	r = dmabufd_connect(path, &c);
	if (r < 0) {
		fprintf(stderr, "share_import: connect: %s\n", strerror(-r));
		return 1;
	}
	r = dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_CACHED, 0, "bench", &b);
	if (r < 0) {
		fprintf(stderr, "share_import: alloc: %s\n", strerror(-r));
		return 1;
	}
	printf("%8s %14s %14s %8s\n", "tokens", "import_us", "stats_us", "ratio");
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		struct dmabufd_stats st;
		struct dmabufd_buffer ib;
		double t0, t_imp = 0, t_st = 0;

		while (live < counts[k]) {
			r = dmabufd_share(c, b.id, NULL, 0, 0, &tok);
			if (r < 0) {
				fprintf(stderr, "share_import: share #%u: %s (%s)\n", live, strerror(-r),
					dmabufd_last_reason(c));
				return 1;
			}
			live++;
		}
		/* Interleave the two requests so that both see the same machine. */
		for (long i = 0; i < iterations; i++) {
			t0 = now_us();
			r = dmabufd_import(c, tok.bytes, &ib, NULL);
			t_imp += now_us() - t0;
			if (r < 0) {
				fprintf(stderr, "share_import: import: %s\n", strerror(-r));
				return 1;
			}
			close(ib.fd);
			t0 = now_us();
			r = dmabufd_stats(c, &st);
			t_st += now_us() - t0;
			if (r < 0)
				return 1;
		}
		printf("%8u %14.2f %14.2f %8.2f\n", live, t_imp / iterations, t_st / iterations,
		       t_imp / t_st);
	}
	close(b.fd);
	dmabufd_disconnect(c);
	return 0;
}
