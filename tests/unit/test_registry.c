/* SPDX-License-Identifier: MIT */
/* The buffer registry: ids, lookup, removal, ordered pagination, growth. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry.h"

static void test_ids_are_sequential_and_never_reused(void **state)
{
	struct registry r;
	struct buffer a = { 0 }, b = { 0 }, c = { 0 };

	assert_int_equal(registry_init(&r), 0);
	assert_int_equal(registry_insert(&r, &a), 0);
	assert_int_equal(registry_insert(&r, &b), 0);
	assert_int_equal(a.id, 1);
	assert_int_equal(b.id, 2);
	registry_remove(&r, &b);
	assert_int_equal(registry_insert(&r, &c), 0);
	assert_int_equal(c.id, 3);
	assert_null(registry_lookup(&r, 2));
	assert_ptr_equal(registry_lookup(&r, 1), &a);
	assert_ptr_equal(registry_lookup(&r, 3), &c);
	assert_null(registry_lookup(&r, 0));
	assert_int_equal(r.count, 2);
	registry_finish(&r);
}

static void test_many_buffers_grow_and_remove(void **state)
{
	enum { N = 20000 };
	struct registry r;
	struct buffer *bufs = calloc(N, sizeof(*bufs));

	assert_non_null(bufs);
	assert_int_equal(registry_init(&r), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(registry_insert(&r, &bufs[i]), 0);
	assert_true(r.nbuckets >= N);
	/* remove every odd id */
	for (int i = 0; i < N; i += 2)
		registry_remove(&r, &bufs[i]);
	assert_int_equal(r.count, N / 2);
	for (int i = 0; i < N; i++) {
		struct buffer *found = registry_lookup(&r, bufs[i].id);

		if (i % 2)
			assert_ptr_equal(found, &bufs[i]);
		else
			assert_null(found);
	}
	registry_finish(&r);
	free(bufs);
}

static void test_pagination_in_id_order(void **state)
{
	struct registry r;
	struct buffer bufs[10] = { 0 };
	struct buffer *b;
	uint64_t last = 0;
	int seen = 0;

	assert_int_equal(registry_init(&r), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(registry_insert(&r, &bufs[i]), 0);
	/* page from a live id */
	b = registry_first_after(&r, 4);
	assert_non_null(b);
	assert_int_equal(b->id, 5);
	/* page from an id that is gone: continue after it */
	registry_remove(&r, &bufs[4]); /* id 5 */
	registry_remove(&r, &bufs[5]); /* id 6 */
	b = registry_first_after(&r, 5);
	assert_non_null(b);
	assert_int_equal(b->id, 7);
	/* from the start, strictly increasing, 8 live */
	for (b = registry_first_after(&r, 0); b; b = registry_next(b)) {
		assert_true(b->id > last);
		last = b->id;
		seen++;
	}
	assert_int_equal(seen, 8);
	assert_null(registry_first_after(&r, 10));
	assert_null(registry_first_after(&r, 1000));
	registry_finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_are_sequential_and_never_reused),
		cmocka_unit_test(test_many_buffers_grow_and_remove),
		cmocka_unit_test(test_pagination_in_id_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
