/* SPDX-License-Identifier: MIT */
/* Deterministic allocation traces for the region simulator (regionsim). */
#ifndef DMABUFD_BENCH_REGIONTRACE_H
#define DMABUFD_BENCH_REGIONTRACE_H

#include <stddef.h>
#include <stdint.h>

enum trace_kind { TRACE_ALLOC = 0, TRACE_FREE = 1 };

struct trace_op {
	uint8_t kind;       /* enum trace_kind */
	uint8_t attr;       /* enum dmabufd_attribute */
	uint8_t movable;
	uint8_t align_log2; /* pages */
	uint32_t id;        /* allocation id; FREE refers to an earlier ALLOC */
	uint32_t npages;    /* ALLOC only */
};

struct trace {
	const char *name;
	const char *desc;
	uint32_t region_pages;
	struct trace_op *ops;
	size_t n_ops;
	uint32_t n_ids;
	size_t timed_from;  /* index of the first op whose time is recorded */
};

/* Each returns 0 or -ENOMEM; free with trace_finish(). Same seed, same trace. */
int trace_media(struct trace *t, uint64_t seed);
/* trace_media() with options; trace_media(t, seed) == trace_media_opts(t, seed, 0). */
#define TRACE_MEDIA_METADATA_MOVABLE 1u /* metadata buffers movable (diagnostic) */
int trace_media_opts(struct trace *t, uint64_t seed, unsigned opts);
int trace_display(struct trace *t, uint64_t seed);
int trace_adversarial(struct trace *t, uint64_t seed);
int trace_steady(struct trace *t, uint64_t seed, uint32_t live);
void trace_finish(struct trace *t);

#endif
