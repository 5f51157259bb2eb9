/* SPDX-License-Identifier: MIT */
/*
 * Pools of placed buffers: see kpool.h for the rules.
 *
 * The event loop owns everything (classes, the region, the backend's
 * records); the worker thread owns nothing: it gets one job at a time (a
 * placement the event loop already made in the region), calls the
 * backend's prepare() on it, and says "done" through an eventfd. So the
 * request path never waits for the worker, and at most one buffer is
 * being made at any moment (its bytes count as pooled: the budget holds
 * while it is made).
 *
 * Why the daemon and not the module drains under pressure: the module
 * could register a shrinker, but a pooled buffer is a dma-buf whose fd
 * the daemon holds, so the shrinker could only ask the daemon (or revoke
 * behind its back and leave it a husk); and reclaim would then wait for a
 * user-space round trip. The daemon watches the same signals reclaim
 * reacts to (MemAvailable, PSI) once a second instead: the pool yields
 * within a second of pressure rather than inside reclaim, and the module
 * stays mechanism only. The budget bounds what can be held meanwhile.
 */
#include "kpool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "attr.h"
#include "backend/events.h"
#include "clock.h"
#include "log.h"
#include "macros.h"
#include "placement.h"
#include "region.h"

#define KPOOL_MAX_CLASSES 8
#define KPOOL_MAX_DEPTH 16
#define KPOOL_WORKER_NICE 10          /* as pool.c's worker: background work */
#define KPOOL_PRESSURE_PERIOD_USEC 1000000
#define KPOOL_PRESSURE_HOLD_USEC 10000000
#define KPOOL_LOW_MEM_PERMILLE 50     /* MemAvailable below 5% of MemTotal */
#define KPOOL_PSI_SOME_AVG10 10.0     /* % of the last 10 s some task stalled */
#define KPOOL_LABEL "dmabufd-pool"
#define KPOOL_MAX_BUSY 4              /* placements the backend refused, kept out */
#define KPOOL_BUSY_USEC 10000000      /* for 10 s */

struct kpool_item {
	uint64_t offset;              /* bytes in the region */
	int fd;                       /* the daemon's reference */
};

struct kpool_class {
	uint64_t size;                /* bytes; 0 = unused slot */
	enum dmabufd_attribute attribute;
	uint64_t last_used;           /* kpool tick of the last request */
	unsigned count;               /* ready items in @items[0..count) */
	unsigned target;
	struct kpool_item items[KPOOL_MAX_DEPTH];
	/* Placements (bytes) of parked extents of the class, for the next fills. */
	unsigned nparked;
	uint64_t parked[KPOOL_MAX_DEPTH];
};

struct kpool {
	struct server_backend *sb;
	uint64_t budget;              /* bytes */
	uint64_t pooled;              /* bytes ready */
	uint64_t inflight;            /* bytes the worker is making (counted in the budget) */
	uint64_t parked;              /* bytes of parked extents kept for fills (in the budget) */
	bool draining;                /* kpool_drain() runs: refuse parked extents */
	uint64_t tick;
	struct kpool_class classes[KPOOL_MAX_CLASSES];
	unsigned next_fill;
	bool stalled;                 /* a fill failed: wait for the next request */
	uint64_t calm_after;          /* monotonic µs: no refill before (pressure) */
	uint64_t hits, misses, drained;
	/*
	 * Placements the backend answered -EBUSY (unmovable pages there, for
	 * now): reserved in the region so that the next fill goes elsewhere,
	 * as alloc.c does for a request, and given back after a while.
	 */
	struct { uint64_t offset, size; } busy_ranges[KPOOL_MAX_BUSY];
	unsigned nbusy;
	uint64_t busy_since;          /* monotonic µs of the first one */

	/* The one job: written by the event loop while !busy, by the worker while busy. */
	bool busy;
	struct backend_alloc req;
	unsigned cls;                 /* class index it was placed for */
	bool reuse;                   /* req.offset is a parked extent of the class */
	int fd, err;
	uint64_t handle;
	const char *reason;

	pthread_t thread;
	sem_t wake;
	atomic_bool stop;
	int done_fd;                  /* eventfd: the worker finished the job */
	struct event *ev_done, *ev_pressure;
};

static uint32_t pages(const struct kpool *kp, uint64_t bytes)
{
	return (uint32_t)(bytes / kp->sb->caps.page_size);
}

/* Every class's depth: an equal share of the budget, at least one buffer. */
static void kpool_retarget(struct kpool *kp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < KPOOL_MAX_CLASSES; i++)
		n += kp->classes[i].size != 0;
	for (unsigned i = 0; i < KPOOL_MAX_CLASSES; i++) {
		struct kpool_class *c = &kp->classes[i];
		uint64_t t;

		if (!c->size)
			continue;
		t = kp->budget / n / c->size;
		if (t == 0 && c->size <= kp->budget)
			t = 1;
		c->target = t > KPOOL_MAX_DEPTH ? KPOOL_MAX_DEPTH : (unsigned)t;
	}
}

/*
 * Gives a pooled (or just made) buffer back: the backend drops it as any
 * released buffer; its placement is freed now, or with deferred release
 * (kmod) at the backend's release event, which sb_events_poll() reads.
 */
static void kpool_give_back(struct kpool *kp, uint64_t offset, uint64_t size, int fd)
{
	struct buffer tmp = { .fd = fd, .offset = offset, .size = size };

	kp->sb->backend->ops->release(kp->sb->backend, &tmp);
	if (!kp->sb->caps.deferred_release)
		sb_unplace(kp->sb, offset);
}

/* Gives a parked extent's pages back to the system, and its placement to the region. */
static void kpool_unpark(struct kpool *kp, uint64_t offset, uint64_t size)
{
	int err = kp->sb->backend->ops->unpark(kp->sb->backend, offset, size);

	if (err < 0)
		log_warn("pool of %s: cannot unpark %llu bytes at offset %llu: %s", kp->sb->caps.name,
			 (unsigned long long)size, (unsigned long long)offset, strerror(-err));
	sb_unplace(kp->sb, offset);
}

static void kpool_job_done(struct kpool *kp, bool keep);

static void kpool_drain_class(struct kpool *kp, struct kpool_class *c)
{
	while (c->nparked) {
		kpool_unpark(kp, c->parked[--c->nparked], c->size);
		kp->parked -= c->size;
		kp->drained += c->size;
	}
	while (c->count) {
		c->count--;
		kpool_give_back(kp, c->items[c->count].offset, c->size, c->items[c->count].fd);
		kp->pooled -= c->size;
		kp->drained += c->size;
	}
}

uint64_t kpool_drain(struct kpool *kp)
{
	uint64_t before = kp->pooled + kp->parked, made = 0;

	/* The buffers given back come back parked (caps.parking): unpark them. */
	kp->draining = true;
	/*
	 * The buffer being made holds its placement too: wait for it (one
	 * EXPORT at most; this is the "no room" path) and give it back.
	 */
	if (kp->busy) {
		struct pollfd pfd = { .fd = kp->done_fd, .events = POLLIN };
		eventfd_t v;

		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
		if (eventfd_read(kp->done_fd, &v) == 0) {
			made = kp->err == 0 ? kp->req.size : 0;
			kpool_job_done(kp, false);
		}
	}

	for (unsigned i = 0; i < KPOOL_MAX_CLASSES; i++)
		kpool_drain_class(kp, &kp->classes[i]);
	if (before != kp->pooled + kp->parked)
		sb_events_poll(kp->sb);
	kp->draining = false;
	return before - kp->pooled - kp->parked + made;
}

/*
 * Starts the next fill, if one is due. The pool never fills into the
 * region's last budget's worth of free pages: in a nearly full region
 * every request would otherwise wait for the fill its own miss started
 * and drain it again.
 */
static void kpool_kick(struct kpool *kp)
{
	struct dmabufd_region_stats rs;

	if (kp->busy || kp->stalled || monotonic_usec() < kp->calm_after)
		return;
	dmabufd_region_stats(kp->sb->region, &rs);
	for (unsigned k = 0; k < KPOOL_MAX_CLASSES; k++) {
		unsigned i = (kp->next_fill + k) % KPOOL_MAX_CLASSES;
		struct kpool_class *c = &kp->classes[i];
		uint32_t off;

		uint64_t offset;

		if (!c->size || c->count >= c->target)
			continue;
		/*
		 * The buffers handed out may come back parked: fresh
		 * placements stop one buffer short of the depth while the
		 * class has ready buffers, so that a released extent always
		 * finds its place (a refused one costs two transitions: its
		 * unpark and the fresh fill's).
		 */
		if (!c->nparked && c->count && kp->sb->caps.parking && c->count + 1 >= c->target)
			continue;
		if (c->nparked) {
			/*
			 * A parked extent of the class, already placed: the
			 * backend reuses its pages (no claim, no attribute
			 * transition). Its bytes were in the budget already.
			 */
			offset = c->parked[--c->nparked];
			kp->parked -= c->size;
			kp->reuse = true;
		} else {
			if (kp->pooled + kp->inflight + kp->parked + c->size > kp->budget ||
			    (uint64_t)rs.free_pages <
				    (uint64_t)pages(kp, c->size) + pages(kp, kp->budget))
				continue;
			/*
			 * Placed like a pinned buffer of the class's attribute
			 * (a free extent already in it first), without
			 * compaction: the pool never moves a client's buffer to
			 * make room for itself.
			 */
			if (dmabufd_region_alloc(kp->sb->region, pages(kp, c->size), 1, c->attribute,
						 false, &off) < 0)
				continue;
			offset = (uint64_t)off * kp->sb->caps.page_size;
			kp->reuse = false;
		}
		kp->next_fill = i + 1;
		kp->req = (struct backend_alloc){ .size = c->size, .offset = offset,
						  .attribute = c->attribute, .label = KPOOL_LABEL };
		kp->cls = i;
		kp->fd = -1;
		kp->reason = NULL;
		kp->busy = true;
		kp->inflight = c->size; /* counted while it is made: the budget holds */
		sem_post(&kp->wake);
		return;
	}
}

/*
 * Event loop: the worker finished the job (@keep: pool the buffer if it
 * still fits; else give it back at once).
 */
static void kpool_job_done(struct kpool *kp, bool keep)
{
	struct kpool_class *c = &kp->classes[kp->cls];
	int err;

	kp->busy = false;
	kp->inflight = 0;
	if (kp->err < 0) {
		if (kp->reuse) /* the pages are still parked */
			(void)kp->sb->backend->ops->unpark(kp->sb->backend, kp->req.offset,
							   kp->req.size);
		sb_unplace(kp->sb, kp->req.offset);
		if (kp->err == -EBUSY && kp->nbusy < KPOOL_MAX_BUSY &&
		    dmabufd_region_reserve(kp->sb->region, pages(kp, kp->req.offset),
					   pages(kp, kp->req.size)) == 0) {
			if (!kp->nbusy)
				kp->busy_since = monotonic_usec();
			kp->busy_ranges[kp->nbusy].offset = kp->req.offset;
			kp->busy_ranges[kp->nbusy++].size = kp->req.size;
			if (keep)
				kpool_kick(kp); /* elsewhere */
			return;
		}
		kp->stalled = true;
		log_info("pool of %s: cannot make a %llu-byte %s buffer at %llu: %s (%s); waiting for the next request",
			 kp->sb->caps.name, (unsigned long long)kp->req.size,
			 attr_name(kp->req.attribute), (unsigned long long)kp->req.offset,
			 strerror(-kp->err), kp->reason ? kp->reason : "");
		return;
	}
	err = kp->sb->backend->ops->commit(kp->sb->backend, &kp->req, kp->fd, kp->handle);
	if (err < 0) {
		close(kp->fd); /* unknown to the backend: its release event is ignored */
		sb_unplace(kp->sb, kp->req.offset);
		kp->stalled = true;
		return;
	}
	/* The class may have been replaced, or pressure come, meanwhile. */
	if (!keep || c->size != kp->req.size || c->attribute != kp->req.attribute ||
	    c->count >= c->target || kp->pooled + c->size > kp->budget ||
	    monotonic_usec() < kp->calm_after) {
		kpool_give_back(kp, kp->req.offset, kp->req.size, kp->fd);
		sb_events_poll(kp->sb);
		return;
	}
	c->items[c->count++] = (struct kpool_item){ .offset = kp->req.offset, .fd = kp->fd };
	kp->pooled += c->size;
	kpool_kick(kp);
}

static void kpool_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kpool *kp = arg;
	eventfd_t v;

	if (eventfd_read(fd, &v) == 0 && kp->busy)
		kpool_job_done(kp, true);
}

static void *kpool_worker(void *arg)
{
	struct kpool *kp = arg;
	int nice_now;

	/* As pool.c's worker: never at a real-time priority, 10 nice levels down. */
	if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) != SCHED_OTHER) {
		struct sched_param sp = { .sched_priority = 0 };

		(void)sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(),
				  nice_now + KPOOL_WORKER_NICE > 19 ? 19 : nice_now + KPOOL_WORKER_NICE);
	for (;;) {
		while (sem_wait(&kp->wake) < 0 && errno == EINTR)
			;
		if (atomic_load(&kp->stop))
			break;
		kp->err = kp->sb->backend->ops->prepare(kp->sb->backend, &kp->req, &kp->fd,
							&kp->handle, &kp->reason);
		(void)eventfd_write(kp->done_fd, 1);
	}
	return NULL;
}

/* The class of (@size, @attribute), learnt on a miss (least recently used slot). */
static struct kpool_class *kpool_class_for(struct kpool *kp, uint64_t size,
					   enum dmabufd_attribute attribute)
{
	struct kpool_class *victim = NULL;

	for (unsigned i = 0; i < KPOOL_MAX_CLASSES; i++)
		if (kp->classes[i].size == size && kp->classes[i].attribute == attribute)
			return &kp->classes[i];
	if (size > kp->budget)
		return NULL;
	for (unsigned i = 0; i < KPOOL_MAX_CLASSES; i++) {
		struct kpool_class *c = &kp->classes[i];

		if (!c->size) {
			victim = c;
			break;
		}
		if (!victim || c->last_used < victim->last_used)
			victim = c;
	}
	if (victim->count || victim->nparked) {
		/* What the victim's buffers leave parked is not its own any more. */
		kp->draining = true;
		kpool_drain_class(kp, victim);
		sb_events_poll(kp->sb);
		kp->draining = false;
	}
	victim->size = size;
	victim->attribute = attribute;
	kpool_retarget(kp);
	return victim;
}

bool kpool_offer_parked(struct kpool *kp, uint64_t offset, uint64_t size,
			enum dmabufd_attribute attribute)
{
	struct kpool_class *c = NULL;

	if (kp->draining || monotonic_usec() < kp->calm_after)
		return false;
	for (unsigned i = 0; i < KPOOL_MAX_CLASSES && !c; i++)
		if (kp->classes[i].size == size && kp->classes[i].attribute == attribute)
			c = &kp->classes[i];
	/* Room: the class's depth, counting the buffer being made for it, and the budget. */
	if (!c || c->count + c->nparked + (kp->busy && &kp->classes[kp->cls] == c) >= c->target ||
	    kp->pooled + kp->inflight + kp->parked + size > kp->budget)
		return false;
	c->parked[c->nparked++] = offset;
	kp->parked += size;
	kp->stalled = false;
	kpool_kick(kp);
	return true;
}

static bool kpool_offer_parked_cb(struct server_backend *sb, uint64_t offset, uint64_t size,
				  enum dmabufd_attribute attribute)
{
	return sb->kpool && kpool_offer_parked(sb->kpool, offset, size, attribute);
}

int kpool_take(struct kpool *kp, struct backend_alloc *req, int *ret_fd)
{
	struct kpool_class *c;
	int ret = -ENOENT;

	/* Only what the backend makes: its attributes, contiguity, pinned. */
	if ((req->flags & DMABUFD_ALLOC_MOVABLE) ||
	    !(kp->sb->caps.attributes & (1u << req->attribute)) ||
	    ((req->flags & DMABUFD_ALLOC_CONTIGUOUS) && !kp->sb->caps.contiguous))
		return -ENOENT;
	kp->stalled = false; /* a request: worth another fill */
	c = kpool_class_for(kp, req->size, req->attribute);
	if (c) {
		c->last_used = ++kp->tick;
		/* the most recently made first; the alignment is of the placement */
		for (unsigned i = c->count; i-- > 0;) {
			struct kpool_item it = c->items[i];

			if (req->alignment && it.offset % req->alignment)
				continue;
			c->items[i] = c->items[--c->count];
			kp->pooled -= c->size;
			req->offset = it.offset;
			*ret_fd = it.fd;
			ret = 0;
			break;
		}
	}
	if (ret == 0)
		kp->hits++;
	else
		kp->misses++;
	kpool_kick(kp);
	return ret;
}

int kpool_teach(struct kpool *kp, uint64_t size, enum dmabufd_attribute attribute)
{
	uint64_t page = kp->sb->caps.page_size;
	struct kpool_class *c;

	if ((unsigned)attribute >= ATTR_COUNT ||
	    !(kp->sb->caps.attributes & (1u << attribute)))
		return -EOPNOTSUPP;
	if (size == 0 || size > kp->sb->caps.region_size)
		return -EINVAL;
	size = (size + page - 1) / page * page;
	c = kpool_class_for(kp, size, attribute);
	if (!c)
		return -EINVAL; /* larger than the budget */
	c->last_used = ++kp->tick;
	kp->stalled = false;
	kpool_kick(kp);
	return 0;
}

/* MemAvailable/MemTotal in permille, or -1. */
static int mem_available_permille(void)
{
	char line[128];
	unsigned long long total = 0, avail = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		(void)sscanf(line, "MemTotal: %llu kB", &total);
		(void)sscanf(line, "MemAvailable: %llu kB", &avail);
	}
	fclose(f);
	return total ? (int)(avail * 1000 / total) : -1;
}

/* The memory PSI "some" avg10 (%), or -1 without PSI. */
static double psi_some_avg10(void)
{
	double avg10 = -1;
	FILE *f = fopen("/proc/pressure/memory", "re");

	if (!f)
		return -1;
	if (fscanf(f, "some avg10=%lf", &avg10) != 1)
		avg10 = -1;
	fclose(f);
	return avg10;
}

/* Gives the refused placements back to the region (they may be usable now). */
static void kpool_unreserve_busy(struct kpool *kp)
{
	while (kp->nbusy) {
		kp->nbusy--;
		dmabufd_region_unreserve(kp->sb->region, pages(kp, kp->busy_ranges[kp->nbusy].offset),
					 pages(kp, kp->busy_ranges[kp->nbusy].size));
	}
}

static void kpool_pressure_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kpool *kp = arg;
	int permille = mem_available_permille();
	double psi = psi_some_avg10();
	uint64_t n;

	if (kp->nbusy && monotonic_usec() - kp->busy_since > KPOOL_BUSY_USEC)
		kpool_unreserve_busy(kp);

	if ((permille >= 0 && permille < KPOOL_LOW_MEM_PERMILLE) || psi >= KPOOL_PSI_SOME_AVG10) {
		kp->calm_after = monotonic_usec() + KPOOL_PRESSURE_HOLD_USEC;
		n = kpool_drain(kp);
		if (n)
			log_info("pool of %s: memory pressure (MemAvailable %d.%d%%, PSI some avg10 %.1f%%): %llu bytes given back",
				 kp->sb->caps.name, permille / 10, permille % 10, psi,
				 (unsigned long long)n);
		return;
	}
	kpool_kick(kp);
}

int kpool_create(struct server_backend *sb, struct kpool **ret)
{
	const struct timeval period = { .tv_sec = KPOOL_PRESSURE_PERIOD_USEC / 1000000 };
	struct kpool *kp;
	sigset_t all, old;
	int err;

	if (!sb->caps.placed_pool_budget || !sb->backend->ops->prepare ||
	    !sb->backend->ops->commit)
		return -EINVAL;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return -ENOMEM;
	kp->sb = sb;
	kp->budget = sb->caps.placed_pool_budget;
	kp->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (kp->done_fd < 0) {
		err = negative_errno();
		free(kp);
		return err;
	}
	if (sem_init(&kp->wake, 0, 0) < 0) {
		err = negative_errno();
		close(kp->done_fd);
		free(kp);
		return err;
	}
	kp->ev_done = event_new(sb->server->base, kp->done_fd, EV_READ | EV_PERSIST, kpool_done_cb, kp);
	kp->ev_pressure = event_new(sb->server->base, -1, EV_PERSIST, kpool_pressure_cb, kp);
	if (!kp->ev_done || !kp->ev_pressure || event_add(kp->ev_done, NULL) < 0 ||
	    event_add(kp->ev_pressure, &period) < 0) {
		err = -ENOMEM;
		goto fail;
	}
	/* Signals go to the event loop's thread, never to the worker. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&kp->thread, NULL, kpool_worker, kp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err < 0)
		goto fail;
	log_info("pool of %s: budget %llu bytes, classes learnt from requests", sb->caps.name,
		 (unsigned long long)kp->budget);
	if (sb->caps.parking)
		sb->offer_parked = kpool_offer_parked_cb;
	*ret = kp;
	return 0;
fail:
	if (kp->ev_done)
		event_free(kp->ev_done);
	if (kp->ev_pressure)
		event_free(kp->ev_pressure);
	sem_destroy(&kp->wake);
	close(kp->done_fd);
	free(kp);
	return err;
}

void kpool_destroy(struct kpool *kp)
{
	if (!kp)
		return;
	kp->sb->offer_parked = NULL; /* what is released from now on is unparked */
	atomic_store(&kp->stop, true);
	sem_post(&kp->wake);
	pthread_join(kp->thread, NULL);
	if (kp->busy) {
		eventfd_t v;

		if (eventfd_read(kp->done_fd, &v) == 0) {
			kpool_job_done(kp, false);
		} else { /* the worker stopped before it took the job */
			kp->busy = false;
			kp->inflight = 0;
			if (kp->reuse)
				kpool_unpark(kp, kp->req.offset, kp->req.size);
			else
				sb_unplace(kp->sb, kp->req.offset);
		}
	}
	kpool_drain(kp);
	kpool_unreserve_busy(kp);
	event_free(kp->ev_done);
	event_free(kp->ev_pressure);
	sem_destroy(&kp->wake);
	close(kp->done_fd);
	free(kp);
}

void kpool_get_stats(const struct kpool *kp, struct backend_pool_stats *ret)
{
	*ret = (struct backend_pool_stats){ .pooled = kp->pooled, .hits = kp->hits,
					    .misses = kp->misses };
}
