/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>

#define REGISTRY_MIN_BUCKETS 64u

static size_t bucket_of(uint64_t id, size_t nbuckets)
{
	/* Fibonacci hashing: ids are sequential, spread them. */
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (nbuckets - 1);
}

int registry_init(struct registry *r)
{
	r->buckets = calloc(REGISTRY_MIN_BUCKETS, sizeof(*r->buckets));
	if (!r->buckets)
		return -ENOMEM;
	r->nbuckets = REGISTRY_MIN_BUCKETS;
	r->count = 0;
	r->next_id = 1;
	TAILQ_INIT(&r->order);
	return 0;
}

void registry_finish(struct registry *r)
{
	free(r->buckets);
	r->buckets = NULL;
	r->nbuckets = 0;
	r->count = 0;
	TAILQ_INIT(&r->order);
}

static int registry_grow(struct registry *r)
{
	size_t n = r->nbuckets * 2;
	struct buffer **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct buffer *b = r->buckets[i], *next;

		for (; b; b = next) {
			size_t k = bucket_of(b->id, n);

			next = b->hash_next;
			b->hash_next = nb[k];
			nb[k] = b;
		}
	}
	free(r->buckets);
	r->buckets = nb;
	r->nbuckets = n;
	return 0;
}

int registry_insert(struct registry *r, struct buffer *b)
{
	size_t k;

	if (r->count + 1 > r->nbuckets) {
		int err = registry_grow(r);

		/* A failed grow only costs speed while the table still works. */
		if (err < 0 && r->count + 1 > 4 * r->nbuckets)
			return err;
	}
	b->id = r->next_id++;
	k = bucket_of(b->id, r->nbuckets);
	b->hash_next = r->buckets[k];
	r->buckets[k] = b;
	TAILQ_INSERT_TAIL(&r->order, b, order_link);
	r->count++;
	return 0;
}

void registry_remove(struct registry *r, struct buffer *b)
{
	struct buffer **pp = &r->buckets[bucket_of(b->id, r->nbuckets)];

	for (; *pp; pp = &(*pp)->hash_next) {
		if (*pp == b) {
			*pp = b->hash_next;
			b->hash_next = NULL;
			TAILQ_REMOVE(&r->order, b, order_link);
			r->count--;
			return;
		}
	}
}

struct buffer *registry_lookup(const struct registry *r, uint64_t id)
{
	struct buffer *b;

	if (id == 0 || !r->nbuckets)
		return NULL;
	for (b = r->buckets[bucket_of(id, r->nbuckets)]; b; b = b->hash_next)
		if (b->id == id)
			return b;
	return NULL;
}

struct buffer *registry_first_after(const struct registry *r, uint64_t id)
{
	struct buffer *b = registry_lookup(r, id);

	if (b)
		return TAILQ_NEXT(b, order_link);
	TAILQ_FOREACH(b, &r->order, order_link)
		if (b->id > id)
			return b;
	return NULL;
}
