/* SPDX-License-Identifier: MIT */
/*
 * Pre-zeroed buffer pools: see pool.h for the rules. One worker thread,
 * one mutex; the request path does O(POOL_MAX_CLASSES) work and no
 * allocation or system call (a futex wake when the worker sleeps).
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "macros.h"
#include "parse.h"

#define POOL_CLOSE_RING 1024u  /* fds waiting for the worker to close */
#define POOL_WORKER_NICE 5

struct pool_class {
	uint64_t size;               /* bytes; 0 = unused slot */
	uint64_t last_used;          /* pool tick of the last request */
	unsigned count;              /* ready fds in @fds[0..count) */
	unsigned target;             /* fds to keep ready */
	int fds[POOL_MAX_DEPTH];
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t wake;         /* the worker waits here */
	pthread_t thread;
	bool stop;
	bool worker_sleeping;
	bool learn;
	pool_make_fn make;
	void *userdata;
	uint64_t budget, capacity;   /* bytes */
	uint64_t live;               /* bytes charged by pool_get() */
	uint64_t pooled;             /* bytes ready in the classes */
	uint64_t inflight;           /* bytes the worker is populating */
	uint64_t tick;
	struct pool_stats stats;
	struct pool_class classes[POOL_MAX_CLASSES];
	unsigned next_fill;          /* round-robin start for the worker */
	int close_ring[POOL_CLOSE_RING];
	unsigned close_head, close_count;
};

/* Locked. Recomputes every class's target: an equal share of the budget. */
static void pool_retarget(struct pool *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
		n += p->classes[i].size != 0;
	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++) {
		struct pool_class *c = &p->classes[i];
		uint64_t share = n ? p->budget / n : 0, t;

		if (!c->size)
			continue;
		t = share / c->size;
		if (t == 0 && c->size <= p->budget)
			t = 1;
		c->target = t > POOL_MAX_DEPTH ? POOL_MAX_DEPTH : (unsigned)t;
	}
}

/* Locked. Hands @fd to the worker for closing (inline when the ring is full). */
static void pool_queue_close(struct pool *p, int fd)
{
	if (fd < 0)
		return;
	if (p->close_count == POOL_CLOSE_RING) {
		close(fd);
		return;
	}
	p->close_ring[(p->close_head + p->close_count) % POOL_CLOSE_RING] = fd;
	p->close_count++;
}

/* Locked. Drops every ready fd of @c. */
static void pool_drain_class(struct pool *p, struct pool_class *c)
{
	while (c->count) {
		pool_queue_close(p, c->fds[--c->count]);
		p->pooled -= c->size;
	}
}

/* Locked. Evicts the largest ready buffers until live + pooled <= capacity. */
static void pool_make_room(struct pool *p)
{
	while (p->live + p->pooled > p->capacity && p->pooled) {
		struct pool_class *big = NULL;

		for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
			if (p->classes[i].count && (!big || p->classes[i].size > big->size))
				big = &p->classes[i];
		pool_queue_close(p, big->fds[--big->count]);
		p->pooled -= big->size;
		p->stats.evicted += big->size;
	}
}

/* Locked. The class of exactly @size, learning it on a miss if allowed. */
static struct pool_class *pool_class_for(struct pool *p, uint64_t size, bool learn)
{
	struct pool_class *victim = NULL;

	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
		if (p->classes[i].size == size)
			return &p->classes[i];
	if (!learn || size > p->budget)
		return NULL;
	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++) {
		struct pool_class *c = &p->classes[i];

		if (!c->size) {
			victim = c;
			break;
		}
		if (!victim || c->last_used < victim->last_used)
			victim = c;
	}
	pool_drain_class(p, victim);
	victim->size = size;
	pool_retarget(p);
	return victim;
}

/* Locked. The class the worker should fill next, or NULL. */
static struct pool_class *pool_next_to_fill(struct pool *p)
{
	for (unsigned k = 0; k < POOL_MAX_CLASSES; k++) {
		unsigned i = (p->next_fill + k) % POOL_MAX_CLASSES;
		struct pool_class *c = &p->classes[i];

		if (!c->size || c->count >= c->target)
			continue;
		if (p->pooled + c->size > p->budget ||
		    p->live + p->pooled + c->size > p->capacity)
			continue;
		p->next_fill = i + 1;
		return c;
	}
	return NULL;
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;

	/* Zeroing is background work: let request handling go first. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_WORKER_NICE);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct pool_class *c;
		uint64_t size;
		int fd = -1, err;

		if (p->close_count) {
			int fds[64];
			unsigned n = 0;

			while (p->close_count && n < ARRAY_SIZE(fds)) {
				fds[n++] = p->close_ring[p->close_head];
				p->close_head = (p->close_head + 1) % POOL_CLOSE_RING;
				p->close_count--;
			}
			pthread_mutex_unlock(&p->lock);
			for (unsigned i = 0; i < n; i++)
				close(fds[i]);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		c = pool_next_to_fill(p);
		if (!c) {
			p->worker_sleeping = true;
			pthread_cond_wait(&p->wake, &p->lock);
			p->worker_sleeping = false;
			continue;
		}
		size = c->size;
		p->inflight += size;
		pthread_mutex_unlock(&p->lock);
		err = p->make(size, p->userdata, &fd);
		pthread_mutex_lock(&p->lock);
		p->inflight -= size;
		if (err < 0) {
			log_warn("pool: cannot make a %llu-byte buffer: %s; pausing the pool",
				 (unsigned long long)size, strerror(-err));
			/* Retry only when a request wakes the worker again. */
			p->worker_sleeping = true;
			pthread_cond_wait(&p->wake, &p->lock);
			p->worker_sleeping = false;
			continue;
		}
		/* The class may have been replaced, or room taken, meanwhile. */
		if (c->size != size || c->count >= c->target || p->pooled + size > p->budget ||
		    p->live + p->pooled + size > p->capacity) {
			pool_queue_close(p, fd);
			continue;
		}
		c->fds[c->count++] = fd;
		p->pooled += size;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Locked. */
static void pool_kick(struct pool *p)
{
	if (p->worker_sleeping)
		pthread_cond_signal(&p->wake);
}

int pool_create(const struct pool_config *cfg, pool_make_fn make, void *userdata,
		struct pool **ret)
{
	struct pool *p;
	sigset_t all, old;
	int err;

	if (!cfg || !make || !ret || cfg->budget == 0 || cfg->nclasses > POOL_MAX_CLASSES)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->make = make;
	p->userdata = userdata;
	p->budget = cfg->budget;
	p->capacity = cfg->capacity;
	p->learn = cfg->learn || cfg->nclasses == 0;
	for (unsigned i = 0; i < cfg->nclasses; i++)
		p->classes[i].size = cfg->classes[i];
	pool_retarget(p);

	/* Signals go to the event loop's thread, never to the worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&p->thread, NULL, pool_worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err < 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return err;
	}
	*ret = p;
	return 0;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
		while (p->classes[i].count)
			close(p->classes[i].fds[--p->classes[i].count]);
	while (p->close_count) {
		close(p->close_ring[p->close_head]);
		p->close_head = (p->close_head + 1) % POOL_CLOSE_RING;
		p->close_count--;
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pool_get(struct pool *p, uint64_t size, int *ret_fd)
{
	struct pool_class *c;
	int ret = -ENOENT;

	pthread_mutex_lock(&p->lock);
	p->live += size;
	c = pool_class_for(p, size, p->learn);
	if (c) {
		c->last_used = ++p->tick;
		if (c->count) {
			*ret_fd = c->fds[--c->count];
			p->pooled -= size;
			ret = 0;
		}
	}
	if (ret == 0)
		p->stats.hits++;
	else
		p->stats.misses++;
	pool_make_room(p);
	pool_kick(p);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void pool_put(struct pool *p, uint64_t size, int fd)
{
	pthread_mutex_lock(&p->lock);
	p->live -= size < p->live ? size : p->live;
	pool_queue_close(p, fd);
	pool_kick(p);
	pthread_mutex_unlock(&p->lock);
}

void pool_get_stats(struct pool *p, struct pool_stats *ret)
{
	pthread_mutex_lock(&p->lock);
	*ret = p->stats;
	ret->pooled = p->pooled;
	pthread_mutex_unlock(&p->lock);
}

int pool_parse_classes(const char *s, uint32_t page, uint64_t classes[POOL_MAX_CLASSES])
{
	char item[64];
	unsigned n = 0;

	while (*s) {
		size_t len = strcspn(s, ",");
		uint64_t v;

		if (len == 0 || len >= sizeof(item) || n == POOL_MAX_CLASSES)
			return -EINVAL;
		memcpy(item, s, len);
		item[len] = '\0';
		if (parse_size(item, &v) < 0 || v == 0 || v > UINT64_MAX - page)
			return -EINVAL;
		classes[n++] = (v + page - 1) / page * page;
		s += len;
		if (*s == ',' && !*++s)
			return -EINVAL;
	}
	return n ? (int)n : -EINVAL;
}
