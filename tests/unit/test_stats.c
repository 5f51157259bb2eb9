/* SPDX-License-Identifier: MIT */
/*
 * stats_fill()'s two attribute-transition counts on the host: the real
 * memfd backend, once as it is (no kernel counter: kernel_attr_transitions
 * unset, not 0) and once with a get_attr_transitions() op added to a copy
 * of its table (the kmod backend's INFO query needs the module): the count
 * is reported, 0 included, and a failing query leaves it unset; the
 * ledger's transitions follow the region whatever the backend.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "backend/backend.h"
#include "backend/probe.h"
#include "server.h"
#include "stats.h"

static uint64_t kernel_count;
static int kernel_err;

static int counting_get_attr_transitions(struct backend *b, uint64_t *ret)
{
	if (kernel_err)
		return kernel_err;
	*ret = kernel_count;
	return 0;
}

/* Fills a StatsReply of @s; returns it (the arrays are static). */
static Dmabufd__StatsReply fill(struct server *s)
{
	static Dmabufd__BackendInfo binfo[SERVER_MAX_BACKENDS], *binfo_ptrs[SERVER_MAX_BACKENDS];
	static Dmabufd__ProbeResult probe[PROBE_MAX_BACKENDS], *probe_ptrs[PROBE_MAX_BACKENDS];
	Dmabufd__StatsReply sr = DMABUFD__STATS_REPLY__INIT;

	stats_fill(s, &sr, binfo, binfo_ptrs, probe, probe_ptrs);
	return sr;
}

static void run(const struct backend_ops *ops, void (*check)(struct server *s))
{
	const struct backend_options opts = { .capacity = 1 << 20 };
	struct event_base *base = event_base_new();
	struct backend *b = NULL;
	struct server s;

	assert_non_null(base);
	assert_int_equal(memfd_backend_ops.create(&opts, &b), 0);
	b->ops = ops;
	assert_int_equal(server_init(&s, base, b, NULL), 0);
	check(&s);
	server_finish(&s);
	event_base_free(base);
}

static void check_memfd(struct server *s)
{
	Dmabufd__StatsReply sr = fill(s);

	assert_int_equal(sr.kernel_counter_case, DMABUFD__STATS_REPLY__KERNEL_COUNTER__NOT_SET);
	assert_int_equal(sr.kernel_attr_transitions, 0);
	assert_int_equal(sr.transitions, 0);
}

static void check_counting(struct server *s)
{
	Dmabufd__StatsReply sr;

	kernel_err = 0;
	kernel_count = 0; /* none yet: reported as 0, not left out */
	sr = fill(s);
	assert_int_equal(sr.kernel_counter_case,
			 DMABUFD__STATS_REPLY__KERNEL_COUNTER_KERNEL_ATTR_TRANSITIONS);
	assert_int_equal(sr.kernel_attr_transitions, 0);
	kernel_count = 123456789012ull;
	sr = fill(s);
	assert_int_equal(sr.kernel_counter_case,
			 DMABUFD__STATS_REPLY__KERNEL_COUNTER_KERNEL_ATTR_TRANSITIONS);
	assert_int_equal(sr.kernel_attr_transitions, 123456789012ull);
	assert_int_equal(sr.transitions, 0); /* the ledger's, apart */
	kernel_err = -EIO; /* a failed query: no count rather than a wrong one */
	sr = fill(s);
	assert_int_equal(sr.kernel_counter_case, DMABUFD__STATS_REPLY__KERNEL_COUNTER__NOT_SET);
	kernel_err = 0;
}

static void test_without_kernel_counter(void **state)
{
	run(&memfd_backend_ops, check_memfd);
}

static void test_with_kernel_counter(void **state)
{
	static struct backend_ops counting;

	counting = memfd_backend_ops;
	counting.get_attr_transitions = counting_get_attr_transitions;
	run(&counting, check_counting);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_without_kernel_counter),
		cmocka_unit_test(test_with_kernel_counter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
