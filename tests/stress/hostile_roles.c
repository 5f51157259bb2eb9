/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-hostile: the well-behaved uid's loop and the attackers, each run
 * in its own process as its uid (hostile.c).
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dmabufd/dmabufd.h"
#include "hostile.h"

/* ---- the well-behaved uid --------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The @pct-th percentile (nearest rank) of @v's @n samples; sorts @v. */
double percentile(uint32_t *v, size_t n, unsigned pct)
{
	size_t rank;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	rank = (n * pct + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

/* The phase an operation that ran from @before to now counts in, or -1. */
static int phase_of(int before)
{
	return before == sh->phase && (before == PHASE_ALONE || before == PHASE_ATTACKED) ?
		       before - PHASE_ALONE : -1;
}

unsigned polite_interval_us; /* 0: a tight loop */

/*
 * The well-behaved uid's schedule: with --polite-interval-us, one round
 * trip starts every polite_interval_us (an absolute schedule, so that the
 * round trips' own time does not slow the rate); one that overran its
 * interval is followed at once by the next, and the schedule starts again
 * from there (no burst to catch up: that would be a tight loop).
 */
struct pacer {
	struct timespec next;
};

static void pacer_init(struct pacer *p)
{
	clock_gettime(CLOCK_MONOTONIC, &p->next);
}

static int64_t ts_diff_us(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(a->tv_sec - b->tv_sec) * 1000000 + (a->tv_nsec - b->tv_nsec) / 1000;
}

/*
 * Waits for the next round trip's start. Return: -1 when it was already
 * past (the step before overran, or this process ran late), else how
 * late, in µs, the process ran after its timer: the CPU's latency for it,
 * which no daemon is part of.
 */
static int64_t pacer_wait(struct pacer *p)
{
	struct timespec now, at;
	int64_t woke = -1;

	if (!polite_interval_us)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ts_diff_us(&now, &p->next) > 0) {
		p->next = now;
	} else {
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &p->next, NULL) == EINTR)
			;
		clock_gettime(CLOCK_MONOTONIC, &at);
		woke = ts_diff_us(&at, &p->next);
	}
	p->next.tv_nsec += (long)polite_interval_us * 1000;
	p->next.tv_sec += p->next.tv_nsec / 1000000000;
	p->next.tv_nsec %= 1000000000;
	return woke;
}

/*
 * One round trip of the well-behaved uid, at its time on the schedule:
 * @send(@sock, @id, @arg) timed into @lat (alat or rlat); counted in the
 * phase it ran in (one that saw the phase change is not). Return: the
 * reply (never NULL), and in @ret_phase that phase or -1.
 */
static Dmabufd__Reply *polite_step(struct pacer *p, uint32_t (*lat)[MAX_SAMPLES], size_t *nlat,
				   bool sample, Dmabufd__Reply *(*send)(int, uint64_t, uint64_t, int *),
				   int sock, uint64_t id, uint64_t arg, int *ret_fd, int *ret_phase)
{
	int64_t woke = pacer_wait(p);
	int before = sh->phase, k;
	uint64_t t0 = now_us();
	Dmabufd__Reply *r = send(sock, id, arg, ret_fd);
	uint32_t dt = (uint32_t)(now_us() - t0);

	CHECK(r != NULL);
	k = phase_of(before);
	if (k >= 0) {
		sh->polite[k].steps++;
		sh->polite[k].overruns += woke < 0;
		if (polite_interval_us && woke >= 0 && sh->nw[k] < MAX_SAMPLES)
			sh->wlat[k][sh->nw[k]++] = (uint32_t)woke;
		if (sample && nlat[k] < MAX_SAMPLES)
			lat[k][nlat[k]++] = dt;
	}
	*ret_phase = k;
	return r;
}

static Dmabufd__Reply *send_alloc(int sock, uint64_t id, uint64_t size, int *ret_fd)
{
	return raw_alloc(sock, id, size, DMABUFD_ATTR_CACHED, 0, "polite", ret_fd);
}

static Dmabufd__Reply *send_release(int sock, uint64_t id, uint64_t buffer, int *ret_fd)
{
	*ret_fd = -1;
	return raw_release(sock, id, buffer);
}

/*
 * Fills the quota with POLITE_FILL buffers, releases them, again, until the
 * parent says stop, each Alloc and Release one step of the schedule
 * (polite_step()). The Alloc past the quota, which must be refused, is not
 * timed.
 */
int polite_run(void *arg)
{
	struct pacer p;
	uint64_t id = 1;
	int sock;

	pin_cpus(true);
	sock = connect_as_client(arg);
	CHECK(sock >= 0);
	pacer_init(&p);
	while (sh->phase != PHASE_STOP) {
		uint64_t held[POLITE_FILL + 1];
		unsigned n = 0;
		int fill_phase = sh->phase, k;
		bool full = false;

		for (;;) {
			int fd = -1;
			Dmabufd__Reply *r;

			full = n == POLITE_FILL;
			r = polite_step(&p, sh->alat, sh->na, !full, send_alloc, sock, id++, POLITE_SIZE,
					&fd, &k);
			if (full) {
				/* The quota is full: this one must be refused by it. */
				if (k >= 0 && r->error != -EDQUOT)
					sh->polite[k].wrong_refusals++;
				if (r->error == 0)
					held[n++] = r->alloc->buffer_id;
			} else {
				if (r->error == 0)
					held[n++] = r->alloc->buffer_id;
				else
					fprintf(stderr, "polite: alloc %u of the quota refused: %d %s\n",
						n + 1, r->error, r->reason);
				if (k >= 0) {
					sh->polite[k].allocs++;
					sh->polite[k].allocs_ok += r->error == 0;
				}
			}
			if (fd >= 0)
				close(fd);
			if (full || r->error) {
				dmabufd__reply__free_unpacked(r, NULL);
				break;
			}
			dmabufd__reply__free_unpacked(r, NULL);
		}
		k = phase_of(fill_phase);
		if (k >= 0) {
			sh->polite[k].fills++;
			sh->polite[k].fills_full += n >= POLITE_FILL;
		}
		for (unsigned i = 0; i < n; i++) {
			int fd;
			Dmabufd__Reply *r = polite_step(&p, sh->rlat, sh->nr, true, send_release, sock,
							id++, held[i], &fd, &k);

			if (k >= 0) {
				sh->polite[k].releases++;
				sh->polite[k].releases_ok += r->error == 0;
			}
			dmabufd__reply__free_unpacked(r, NULL);
		}
	}
	close(sock);
	return 0;
}

/* ---- the attackers ------------------------------------------------------------ */

unsigned pace_us;  /* pause after a refusal (flooder, idler) or a cycle (churner) */
int attacker_nice; /* the attacking processes' nice value */
int polite_cpu = -1;

void pin_cpus(bool polite)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (polite_cpu < 0)
		return;
	CPU_ZERO(&set);
	for (long c = 0; c < n && c < CPU_SETSIZE; c++)
		if ((c == polite_cpu) == polite)
			CPU_SET((int)c, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0);
}

/* In each attacking process, first: its CPU priority (--attacker-nice)
 * and CPUs (--polite-cpu). */
static void attacker_start(void)
{
	CHECK(setpriority(PRIO_PROCESS, 0, attacker_nice) == 0);
	pin_cpus(false);
}

static void pace(unsigned times)
{
	uint64_t ns = (uint64_t)pace_us * 1000 * times;
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	if (ns)
		nanosleep(&ts, NULL);
}

/* Runs until killed. */
int flooder_run(void *arg)
{
	struct attack_result *res = &sh->attack[0];
	uint64_t *ids = calloc(65536, sizeof(*ids)), id = 1;
	size_t n = 0;
	int sock = connect_as_client(arg);

	attacker_start();
	CHECK(ids && sock >= 0);
	for (;;) {
		int fd = -1;
		Dmabufd__Reply *r = raw_alloc(sock, id++, 4096, DMABUFD_ATTR_CACHED, 0, "flood", &fd);

		CHECK(r != NULL);
		res->ops++;
		if (r->error == 0 && n < 65536) {
			ids[n++] = r->alloc->buffer_id;
			close(fd);
		} else if (r->error) {
			res->refused++;
			/* At the limit: give one back and ask again. */
			if (n > 0) {
				Dmabufd__Reply *rr = raw_release(sock, id++, ids[--n]);

				CHECK(rr != NULL);
				dmabufd__reply__free_unpacked(rr, NULL);
				res->ops++;
			}
			pace(1);
		}
		if (n > res->held)
			res->held = n;
		dmabufd__reply__free_unpacked(r, NULL);
	}
	return 0;
}

/* Keeps IDLER_CONNS connections without Hello; runs until killed. */
int idler_run(void *arg)
{
	struct attack_result *res = &sh->attack[1];
	struct pollfd p[IDLER_CONNS];

	attacker_start();
	for (int i = 0; i < IDLER_CONNS; i++)
		p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	for (;;) {
		unsigned refused = 0;

		for (int i = 0; i < IDLER_CONNS; i++) {
			if (p[i].fd >= 0)
				continue;
			p[i].fd = raw_connect(arg);
			res->ops++;
		}
		if (poll(p, IDLER_CONNS, 100) <= 0)
			continue;
		for (int i = 0; i < IDLER_CONNS; i++) {
			Dmabufd__Reply *r;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = raw_recv(p[i].fd, 0, NULL);
			if (r && r->error == -EUSERS) {
				res->refused++;
				refused++;
			} else {
				res->closed++;
			}
			if (r)
				dmabufd__reply__free_unpacked(r, NULL);
			close(p[i].fd);
			p[i].fd = -1;
		}
		pace(refused);
	}
	return 0;
}

/* Allocates, shares with its own uid, imports on a second connection, ends both. */
int churner_run(void *arg)
{
	struct attack_result *res = &sh->attack[2];
	const uint32_t me = CHURNER_UID;
	int owner = connect_as_client(arg), importer = connect_as_client(arg);
	uint64_t id = 1;

	attacker_start();
	CHECK(owner >= 0 && importer >= 0);
	for (;;) {
		int fd = -1, ifd = -1;
		Dmabufd__Reply *r = raw_alloc(owner, id++, 64 * 1024, DMABUFD_ATTR_CACHED, 0, "churn",
					      &fd);
		Dmabufd__Reply *s, *im;
		uint64_t buffer;

		CHECK(r != NULL);
		res->ops++;
		if (r->error) {
			res->refused++;
			dmabufd__reply__free_unpacked(r, NULL);
			pace(1);
			continue;
		}
		buffer = r->alloc->buffer_id;
		close(fd);
		dmabufd__reply__free_unpacked(r, NULL);
		s = raw_share(owner, id++, buffer, &me, 1, NULL, 0, NULL, 0, true, 60);
		CHECK(s && s->error == 0 && s->share);
		im = raw_import(importer, id++, s->share->token.data, s->share->token.len, &ifd);
		CHECK(im && im->error == 0 && ifd >= 0);
		close(ifd);
		dmabufd__reply__free_unpacked(s, NULL);
		dmabufd__reply__free_unpacked(im, NULL);
		r = raw_release(importer, id++, buffer); /* ends the import */
		CHECK(r && r->error == 0);
		dmabufd__reply__free_unpacked(r, NULL);
		r = raw_release(owner, id++, buffer);
		CHECK(r && r->error == 0);
		dmabufd__reply__free_unpacked(r, NULL);
		res->ops += 4;
		res->closed++; /* one share/import/release cycle */
		pace(1);
	}
	return 0;
}

/* Sends an Alloc of 4 KiB (@buffer 0) or a Release of @buffer on @sock. */
void swarm_send(int sock, uint64_t id, uint64_t buffer)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;

	req.id = id;
	if (buffer) {
		rel.buffer_id = buffer;
		req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
		req.release = &rel;
	} else {
		a.size = 4096;
		a.attribute = DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED;
		a.label = (char *)"swarm";
		req.body_case = DMABUFD__REQUEST__BODY_ALLOC;
		req.alloc = &a;
	}
	CHECK(raw_send(sock, &req, NULL, 0) == 0);
}

/*
 * SWARM_CONNS connections, each with SWARM_DEPTH requests always in
 * flight: an Alloc, then the Release of what it got, again. Runs until
 * killed.
 */
int swarm_run(void *arg)
{
	struct attack_result *res = &sh->attack[3];
	struct pollfd p[SWARM_CONNS];
	uint64_t id = 1;

	attacker_start();
	for (int i = 0; i < SWARM_CONNS; i++) {
		p[i] = (struct pollfd){ .fd = connect_as_client(arg), .events = POLLIN };
		CHECK(p[i].fd >= 0);
		for (int k = 0; k < SWARM_DEPTH; k++) {
			swarm_send(p[i].fd, id++, 0);
			res->ops++;
		}
	}
	for (;;) {
		if (poll(p, SWARM_CONNS, 1000) <= 0)
			continue;
		for (int i = 0; i < SWARM_CONNS; i++) {
			uint64_t buffer = 0;
			int fd = -1;
			Dmabufd__Reply *r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = raw_recv(p[i].fd, 1000, &fd);
			CHECK(r != NULL);
			if (fd >= 0)
				close(fd);
			if (r->body_case == DMABUFD__REPLY__BODY_ALLOC && r->error == 0)
				buffer = r->alloc->buffer_id;
			else if (r->error)
				res->refused++;
			dmabufd__reply__free_unpacked(r, NULL);
			swarm_send(p[i].fd, id++, buffer);
			res->ops++;
		}
	}
	return 0;
}

