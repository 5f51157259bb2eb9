/* SPDX-License-Identifier: MIT */
/*
 * The pool worker's scheduling (daemon/backend/pool.c): a daemon whose
 * event loop runs SCHED_FIFO (docs/PERFORMANCE.md, CPUSchedulingPolicy=fifo)
 * starts the worker with that policy; the worker must go back to
 * SCHED_OTHER, 10 nice levels below the daemon, before it zeroes anything.
 * Needs CAP_SYS_NICE to become SCHED_FIFO: 77 (skipped) without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/pool.h"

static atomic_int seen_policy = -1;
static atomic_int seen_nice = 100;

/* The factory records the worker's policy and nice; /dev/null stands in for a buffer. */
static int recording_make(uint64_t size, void *userdata, int *ret_fd)
{
	int fd = dup(*(int *)userdata);

	(void)size;
	if (fd < 0)
		return -errno;
	errno = 0;
	atomic_store(&seen_nice, getpriority(PRIO_PROCESS, (id_t)gettid()));
	atomic_store(&seen_policy, sched_getscheduler(0) & ~SCHED_RESET_ON_FORK);
	*ret_fd = fd;
	return 0;
}

static void test_worker_leaves_fifo(void **state)
{
	struct pool_config cfg = { .budget = 1 << 20, .capacity = 8 << 20,
				   .classes = { 4096 }, .nclasses = 1 };
	struct sched_param fifo = { .sched_priority = 1 }, other = { .sched_priority = 0 };
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	int devnull = *(int *)*state, nice_main, want_nice;
	struct pool *p = NULL;

	errno = 0;
	nice_main = getpriority(PRIO_PROCESS, 0);
	want_nice = nice_main + 10 > 19 ? 19 : nice_main + 10;
	if (sched_setscheduler(0, SCHED_FIFO, &fifo) < 0) {
		fprintf(stderr, "cannot become SCHED_FIFO (%m): skipped\n");
		exit(77);
	}
	assert_int_equal(pool_create(&cfg, recording_make, &devnull, &p), 0);
	for (int i = 0; i < 1000 && atomic_load(&seen_policy) < 0; i++)
		nanosleep(&ts, NULL);
	pool_destroy(p);
	assert_int_equal(sched_setscheduler(0, SCHED_OTHER, &other), 0);
	assert_int_equal(atomic_load(&seen_policy), SCHED_OTHER);
	assert_int_equal(atomic_load(&seen_nice), want_nice);
}

static int setup(void **state)
{
	static int devnull;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*state = &devnull;
	return devnull < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_worker_leaves_fifo, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
