/* SPDX-License-Identifier: MIT */
/*
 * Pre-zeroed buffer pools: see pool.h for the rules. One worker thread.
 *
 * The event loop never waits for the worker: the worker runs at a lower
 * priority and can be preempted while holding the mutex (with 64 busy
 * clients on 2 CPUs that is tens of milliseconds), so pool_get() only
 * try-locks (a busy lock is a miss), released fds travel to the worker
 * through a lock-free single-producer/single-consumer ring, and the worker
 * is woken with a semaphore (sem_post(3) never blocks). The request path
 * does O(POOL_MAX_CLASSES) work, no allocation, and at most a futex wake.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "macros.h"

#define POOL_CLOSE_RING 1024u  /* fds waiting for the worker to close (power of 2) */
/* Bytes of released buffers the worker may have pending; past it, close inline. */
#define POOL_CLOSE_BYTES_MIN (256ull << 20)
/*
 * The worker's nice relative to the daemon's: 10 levels is ~10x less CPU
 * weight, so that a daemon at Nice=-10 zeroes at the clients' own priority
 * (never preempting them for background work) and answers requests at
 * a higher one.
 */
#define POOL_WORKER_NICE 10

struct pool_class {
	uint64_t size;               /* bytes; 0 = unused slot */
	uint64_t last_used;          /* pool tick of the last request */
	unsigned count;              /* ready fds in @fds[0..count) */
	unsigned target;             /* fds to keep ready */
	int fds[POOL_MAX_DEPTH];
};

struct pool {
	pthread_mutex_t lock;        /* classes, pooled, inflight, next_fill, tick */
	sem_t wake;                  /* posted when the worker may have work */
	pthread_t thread;
	atomic_bool stop;
	bool learn;
	pool_make_fn make;
	void *userdata;
	uint64_t budget, capacity;   /* bytes */
	_Atomic uint64_t live;       /* bytes charged by pool_get() */
	_Atomic uint64_t pooled;     /* bytes ready in the classes (written locked) */
	uint64_t inflight;           /* bytes the worker is populating */
	uint64_t tick;
	uint64_t candidate;          /* bytes; the last size that missed unlearned */
	_Atomic uint64_t hits, misses, evicted;
	atomic_bool room_wanted;     /* a class waits for capacity: wake on release */
	struct pool_class classes[POOL_MAX_CLASSES];
	unsigned next_fill;          /* round-robin start for the worker */
	/* SPSC ring: the event loop pushes, the worker pops and closes. */
	struct {
		int fd;
		uint64_t size;
	} close_ring[POOL_CLOSE_RING];
	_Atomic unsigned close_head, close_tail; /* free-running */
	_Atomic uint64_t close_bytes;  /* bytes in the ring */
	uint64_t close_bytes_max;
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

/*
 * Event-loop thread only (the ring's single producer): hands @fd (@size
 * bytes) to the worker for closing; closes inline when the ring is full or
 * holds too many bytes (memory must come back eventually).
 */
static void pool_queue_close(struct pool *p, int fd, uint64_t size)
{
	unsigned head = atomic_load_explicit(&p->close_head, memory_order_relaxed);
	unsigned tail = atomic_load_explicit(&p->close_tail, memory_order_acquire);

	if (fd < 0)
		return;
	if (head - tail == POOL_CLOSE_RING ||
	    atomic_load_explicit(&p->close_bytes, memory_order_relaxed) + size > p->close_bytes_max) {
		close(fd);
		return;
	}
	p->close_ring[head % POOL_CLOSE_RING].fd = fd;
	p->close_ring[head % POOL_CLOSE_RING].size = size;
	atomic_fetch_add_explicit(&p->close_bytes, size, memory_order_relaxed);
	atomic_store_explicit(&p->close_head, head + 1, memory_order_release);
}

/* Worker only (the ring's single consumer): closes what was queued. */
static bool pool_drain_closes(struct pool *p)
{
	unsigned tail = atomic_load_explicit(&p->close_tail, memory_order_relaxed);
	unsigned head = atomic_load_explicit(&p->close_head, memory_order_acquire);

	if (tail == head)
		return false;
	for (; tail != head; tail++) {
		close(p->close_ring[tail % POOL_CLOSE_RING].fd);
		atomic_fetch_sub_explicit(&p->close_bytes, p->close_ring[tail % POOL_CLOSE_RING].size,
					  memory_order_relaxed);
		atomic_store_explicit(&p->close_tail, tail + 1, memory_order_release);
	}
	return true;
}

/* Locked, event-loop thread. Drops every ready fd of @c. */
static void pool_drain_class(struct pool *p, struct pool_class *c)
{
	while (c->count) {
		pool_queue_close(p, c->fds[--c->count], c->size);
		p->pooled -= c->size;
	}
}

/*
 * Locked, event-loop thread. Evicts the largest ready buffers until
 * live + pooled <= capacity. Return: whether anything was evicted.
 */
static bool pool_make_room(struct pool *p)
{
	bool evicted = false;

	while (p->live + p->pooled > p->capacity && p->pooled) {
		struct pool_class *big = NULL;

		for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
			if (p->classes[i].count && (!big || p->classes[i].size > big->size))
				big = &p->classes[i];
		/* Inline: the room is needed now, not when the worker gets to it. */
		close(big->fds[--big->count]);
		p->pooled -= big->size;
		p->evicted += big->size;
		evicted = true;
	}
	/* The worker refills once the room comes back (pool_put()). */
	if (evicted)
		atomic_store(&p->room_wanted, true);
	return evicted;
}

/* Locked, event-loop thread. The class of exactly @size, learning it on a miss if allowed. */
static struct pool_class *pool_class_for(struct pool *p, uint64_t size, bool learn)
{
	struct pool_class *victim = NULL;

	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
		if (p->classes[i].size == size)
			return &p->classes[i];
	if (!learn || size > p->budget)
		return NULL;
	/*
	 * Learn a size on its second miss in a row only: a client cycling
	 * through many sizes must not make the worker fill classes for nothing.
	 */
	if (p->candidate != size) {
		p->candidate = size;
		return NULL;
	}
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
		if (p->pooled + c->size > p->budget)
			continue;
		if (p->live + p->pooled + c->size > p->capacity) {
			atomic_store(&p->room_wanted, true);
			continue;
		}
		p->next_fill = i + 1;
		return c;
	}
	return NULL;
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	int nice_now;

	/*
	 * Zeroing is background work: let request handling go first. A daemon
	 * whose event loop runs SCHED_FIFO (docs/PERFORMANCE.md: the service's
	 * CPUSchedulingPolicy=fifo) started this thread with that policy too;
	 * zeroing megabytes at a real-time priority would starve the clients,
	 * so the worker goes back to SCHED_OTHER (always permitted: lowering).
	 */
	if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) != SCHED_OTHER) {
		struct sched_param sp = { .sched_priority = 0 };

		if (sched_setscheduler(0, SCHED_OTHER, &sp) < 0)
			log_warn("pool worker: cannot leave the real-time policy: %s",
				 strerror(errno));
	}
	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		setpriority(PRIO_PROCESS, (id_t)gettid(),
			    nice_now + POOL_WORKER_NICE > 19 ? 19 : nice_now + POOL_WORKER_NICE);
	while (!atomic_load(&p->stop)) {
		struct pool_class *c;
		uint64_t size;
		int fd = -1, err;

		if (pool_drain_closes(p))
			continue;
		pthread_mutex_lock(&p->lock);
		c = pool_next_to_fill(p);
		if (!c) {
			pthread_mutex_unlock(&p->lock);
			while (sem_wait(&p->wake) < 0 && errno == EINTR)
				;
			continue;
		}
		size = c->size;
		p->inflight += size;
		pthread_mutex_unlock(&p->lock);

		err = p->make(size, p->userdata, &fd);

		pthread_mutex_lock(&p->lock);
		p->inflight -= size;
		/* The class may have been replaced, or room taken, meanwhile. */
		if (err == 0 && c->size == size && c->count < c->target &&
		    p->pooled + size <= p->budget && p->live + p->pooled + size <= p->capacity) {
			c->fds[c->count++] = fd;
			p->pooled += size;
			fd = -1;
		}
		pthread_mutex_unlock(&p->lock);
		if (fd >= 0)
			close(fd);
		if (err < 0) {
			log_warn("pool: cannot make a %llu-byte buffer: %s; waiting for the next request",
				 (unsigned long long)size, strerror(-err));
			while (sem_wait(&p->wake) < 0 && errno == EINTR)
				;
		}
	}
	return NULL;
}

/* Wakes the worker (never blocks; a futex wake only when it sleeps). */
static void pool_kick(struct pool *p)
{
	int v = 0;

	if (sem_getvalue(&p->wake, &v) == 0 && v > 0)
		return; /* already pending */
	sem_post(&p->wake);
}

/*
 * Whether the worker is worth a wake-up: wake-ups cost a context switch on
 * the request path's CPUs, so refills start at half the target and small
 * released buffers are closed in batches (at most POOL_CLOSE_BATCH fds and
 * POOL_CLOSE_BATCH_BYTES wait for company).
 */
#define POOL_CLOSE_BATCH 32u
#define POOL_CLOSE_BATCH_BYTES (1ull << 20)

static bool pool_close_worth_kick(struct pool *p)
{
	unsigned n = atomic_load_explicit(&p->close_head, memory_order_relaxed) -
		     atomic_load_explicit(&p->close_tail, memory_order_relaxed);

	return n >= POOL_CLOSE_BATCH ||
	       atomic_load_explicit(&p->close_bytes, memory_order_relaxed) >= POOL_CLOSE_BATCH_BYTES;
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
	if (sem_init(&p->wake, 0, 0) < 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -errno;
	}
	p->make = make;
	p->userdata = userdata;
	p->budget = cfg->budget;
	p->capacity = cfg->capacity;
	p->close_bytes_max = cfg->budget > POOL_CLOSE_BYTES_MIN ? cfg->budget : POOL_CLOSE_BYTES_MIN;
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
		sem_destroy(&p->wake);
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
	atomic_store(&p->stop, true);
	sem_post(&p->wake);
	pthread_join(p->thread, NULL);
	pool_drain_closes(p);
	for (unsigned i = 0; i < POOL_MAX_CLASSES; i++)
		while (p->classes[i].count)
			close(p->classes[i].fds[--p->classes[i].count]);
	sem_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static bool pool_trylock_briefly(struct pool *p)
{
	for (int i = 0; i < 256; i++) {
		if (pthread_mutex_trylock(&p->lock) == 0)
			return true;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	return false;
}

int pool_get(struct pool *p, uint64_t size, int *ret_fd)
{
	struct pool_class *c = NULL;
	bool kick = false;
	int ret = -ENOENT;

	atomic_fetch_add(&p->live, size);
	/*
	 * Never wait for the worker: a lock still busy after a short spin
	 * (the worker holds it for a few dozen instructions, unless it was
	 * preempted) is a miss.
	 */
	if (pool_trylock_briefly(p)) {
		c = pool_class_for(p, size, p->learn);
		if (c) {
			c->last_used = ++p->tick;
			if (c->count) {
				*ret_fd = c->fds[--c->count];
				p->pooled -= size;
				ret = 0;
			}
		}
		pool_make_room(p);
		if (c && c->count <= c->target / 2)
			kick = true;
		pthread_mutex_unlock(&p->lock);
	} else if (p->live + p->pooled > p->capacity) {
		/* Rare: the room is needed; worth the wait. */
		pthread_mutex_lock(&p->lock);
		pool_make_room(p);
		pthread_mutex_unlock(&p->lock);
	}
	atomic_fetch_add_explicit(ret == 0 ? &p->hits : &p->misses, 1, memory_order_relaxed);
	if (kick || pool_close_worth_kick(p))
		pool_kick(p);
	return ret;
}

void pool_charge(struct pool *p, uint64_t size)
{
	atomic_fetch_add(&p->live, size);
	if (atomic_load(&p->live) + atomic_load(&p->pooled) > p->capacity) {
		/* The room is needed now: wait for the lock (rare). */
		pthread_mutex_lock(&p->lock);
		pool_make_room(p);
		pthread_mutex_unlock(&p->lock);
	}
}

/*
 * Subtracts @size from the live total, stopping at 0: a buffer the pool was
 * never told about (one restored from the fd store after a restart, or a
 * caller's mistake) must not wrap the counter to 2^64 and so stop every
 * refill ("live + pooled > capacity" for ever).
 */
static void pool_uncharge(struct pool *p, uint64_t size)
{
	uint64_t live = atomic_load(&p->live);

	while (!atomic_compare_exchange_weak(&p->live, &live, live > size ? live - size : 0))
		;
	if (live < size)
		log_debug("pool: released %llu bytes of which %llu were never charged",
			  (unsigned long long)size, (unsigned long long)(size - live));
}

void pool_put(struct pool *p, uint64_t size, int fd)
{
	pool_uncharge(p, size);
	pool_queue_close(p, fd, size);
	if (pool_close_worth_kick(p) || atomic_exchange(&p->room_wanted, false))
		pool_kick(p);
}

void pool_get_stats(struct pool *p, struct pool_stats *ret)
{
	*ret = (struct pool_stats){
		.pooled = atomic_load(&p->pooled),
		.hits = atomic_load(&p->hits),
		.misses = atomic_load(&p->misses),
		.evicted = atomic_load(&p->evicted),
	};
}
