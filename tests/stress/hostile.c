/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-hostile: does a well-behaved uid keep its service while other
 * admitted uids attack the daemon's limits?
 *
 * The tool starts its own daemon (tests/integration/harness.c; under
 * prlimit(1) with RLIMIT_NOFILE 4096, so that the fd budget is reached in
 * a second) with every user admitted and a quota for the well-behaved uid,
 * then measures that uid for --duration seconds alone and as many while
 * attacked, in one-second slices taken in turn (a change in the machine's
 * load touches both alike), the attackers started afresh for each attacked
 * slice and SIGKILLed at its end; attacked means while
 *   flooder  (uid 5201) allocates 4 KiB buffers until refused (its share
 *            of the fd budget), then keeps asking, releasing one and
 *            asking again, as fast as it can;
 *   idler    (uid 5202) keeps 64 connections open without Hello, opening
 *            a new one as soon as the daemon closes one (Hello deadline)
 *            or refuses it (max-connections-per-uid);
 *   churner  (uid 5203) allocates, shares with its own uid, imports on a
 *            second connection, ends the import and releases, in a loop;
 *   swarm    (uid 5204; only when named in --roles) keeps 4 requests in
 *            flight (Alloc, Release of what it got) on each of 32
 *            connections.
 * The flooder, idler and churner pause --pace-us (10 ms) after each
 * refusal or cycle: they hold every resource their limits allow and keep
 * asking for more; the swarm never pauses. The daemon shares its time
 * among uids (docs/THREAT_MODEL.md), so the well-behaved uid, itself in a
 * tight loop, waits for about one request of each busy uid; with --pace-us
 * 0, or the swarm, uids are busy all the time and at a quiet moment that
 * wait is more than the well-behaved uid's p99 alone (docs/RELIABILITY.md
 * has the figures).
 * The daemon runs at nice -10, as the service unit runs it; the attacking
 * processes at --attacker-nice (19): the machine's CPUs are the kernel's to
 * share, and on a machine with few CPUs attackers at nice 0 take the CPU
 * from the measured process itself, which no daemon can prevent
 * (docs/RELIABILITY.md has both figures).
 * The well-behaved uid (5101, [uid:5101] bytes = 4M) fills its quota with
 * 64 KiB buffers (every Alloc up to 64 must succeed, the 65th must be
 * -EDQUOT), then releases them all, in a loop; each Alloc and Release
 * round trip is timed.
 *
 * Checks: first, with the daemon stopped, the swarm's uid queues 8 Allocs
 * on each of its 32 connections and the well-behaved uid one Stats: once
 * the daemon runs again, the Stats is served after at most 2 of the 256
 * Allocs (the daemon's time is shared per uid, not per connection). In
 * the same way, a Stats is served after at most 2 of the closes of 32
 * connections whose Hello deadlines passed together, and after at most 2
 * turns (of 64 buffers) of the release of a closed connection's 900
 * buffers. Then,
 * in both runs every Alloc the quota allows succeeds; with the
 * attackers the p99 of Alloc and of Release is at most --max-ratio (2)
 * times its p99 alone, taken slice by slice (each attacked slice against
 * the alone slice just before it; the median over the slices: the load of
 * a shared machine changes within seconds); the attackers did work (the flooder was refused,
 * the idler's connections were closed or refused, the churner imported,
 * the swarm was answered);
 * the daemon serves and holds nothing at the end. Prints the figures (with
 * --json one JSON object). Exit status: 0 all checks passed, 1 a check
 * failed, 2 usage, 77 not root (the roles are uids).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"

#define POLITE_UID 5101u
#define FLOODER_UID 5201u
#define IDLER_UID 5202u
#define CHURNER_UID 5203u
#define SWARM_UID 5204u
#define SWARM_CONNS 32          /* [limits] max-connections-per-uid */
#define SWARM_DEPTH 4           /* requests in flight on each */
#define POLITE_SIZE (64u * 1024)
#define POLITE_QUOTA (4u * 1024 * 1024)
#define POLITE_FILL (POLITE_QUOTA / POLITE_SIZE)
#define IDLER_CONNS 64
#define MAX_SAMPLES (1u << 20)
#define MAX_SLICES 3600         /* --duration */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- shared state ------------------------------------------------------------ */

enum phase { PHASE_SKIP, PHASE_ALONE, PHASE_ATTACKED, PHASE_STOP };

struct attack_result {
	uint64_t ops;        /* requests sent / connections opened */
	uint64_t refused;    /* refusals (flooder: by a limit; idler: connections refused) */
	uint64_t closed;     /* idler: closed by the daemon at the deadline; churner: cycles */
	uint64_t held;       /* flooder: buffers held at the peak */
};

struct polite_result {
	uint64_t allocs, allocs_ok;     /* within the quota */
	uint64_t fills, fills_full;     /* fills that got all POLITE_FILL buffers */
	uint64_t releases, releases_ok;
	uint64_t wrong_refusals;        /* the refusal after a fill was not -EDQUOT */
	double alloc_p50, alloc_p99, release_p50, release_p99; /* µs, all slices together */
};

/* In a MAP_SHARED mapping: the parent sets the phase, the children count. */
struct shared {
	volatile int phase;
	struct polite_result polite[2];   /* alone, attacked */
	struct attack_result attack[4];   /* flooder, idler, churner, swarm */
	volatile int order_step, order_ready; /* check_order() */
	volatile int64_t order_seen;          /* buffers when the Stats was served */
	volatile int64_t order_clients;       /* clients when the Stats was served */
	volatile uint64_t order_cont_us, order_reply_us; /* SIGCONT sent, Stats reply read */
	uint32_t alat[2][MAX_SAMPLES], rlat[2][MAX_SAMPLES];
	size_t na[2], nr[2];
	/* where each slice's samples end in alat[k], rlat[k] */
	size_t slice_na[2][MAX_SLICES], slice_nr[2][MAX_SLICES];
};

static struct shared *sh;

/* ---- the well-behaved uid --------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The @pct-th percentile (nearest rank) of @v's @n samples; sorts @v. */
static double percentile(uint32_t *v, size_t n, unsigned pct)
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

/*
 * Fills the quota with POLITE_FILL buffers, releases them, again, until the
 * parent says stop; every operation is counted in the phase it ran in
 * (one that saw the phase change is not counted).
 */
static int polite_run(void *arg)
{
	uint64_t id = 1;
	int sock = connect_as_client(arg);

	CHECK(sock >= 0);
	while (sh->phase != PHASE_STOP) {
		uint64_t held[POLITE_FILL + 1];
		unsigned n = 0;
		int fill_phase = sh->phase, k;
		bool full = false;

		for (;;) {
			int before = sh->phase, fd = -1;
			uint64_t t0 = now_us();
			Dmabufd__Reply *r = raw_alloc(sock, id++, POLITE_SIZE, DMABUFD_ATTR_CACHED, 0,
						      "polite", &fd);
			uint32_t dt = (uint32_t)(now_us() - t0);

			CHECK(r != NULL);
			k = phase_of(before);
			if (n == POLITE_FILL) {
				/* The quota is full: this one must be refused by it. */
				if (k >= 0 && r->error != -EDQUOT)
					sh->polite[k].wrong_refusals++;
				if (r->error == 0)
					held[n++] = r->alloc->buffer_id;
				full = true;
			} else if (r->error == 0) {
				held[n++] = r->alloc->buffer_id;
			} else {
				fprintf(stderr, "polite: alloc %u of the quota refused: %d %s\n", n + 1,
					r->error, r->reason);
			}
			if (k >= 0 && !full) {
				sh->polite[k].allocs++;
				sh->polite[k].allocs_ok += r->error == 0;
				if (sh->na[k] < MAX_SAMPLES)
					sh->alat[k][sh->na[k]++] = dt;
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
			int before = sh->phase;
			uint64_t t0 = now_us();
			Dmabufd__Reply *r = raw_release(sock, id++, held[i]);
			uint32_t dt = (uint32_t)(now_us() - t0);

			CHECK(r != NULL);
			k = phase_of(before);
			if (k >= 0) {
				sh->polite[k].releases++;
				sh->polite[k].releases_ok += r->error == 0;
				if (sh->nr[k] < MAX_SAMPLES)
					sh->rlat[k][sh->nr[k]++] = dt;
			}
			dmabufd__reply__free_unpacked(r, NULL);
		}
	}
	close(sock);
	return 0;
}

/* ---- the attackers ------------------------------------------------------------ */

static unsigned pace_us;  /* pause after a refusal (flooder, idler) or a cycle (churner) */
static int attacker_nice; /* the attacking processes' nice value */

/* In each attacking process, first: its CPU priority (--attacker-nice). */
static void attacker_start(void)
{
	CHECK(setpriority(PRIO_PROCESS, 0, attacker_nice) == 0);
}

static void pace(unsigned times)
{
	uint64_t ns = (uint64_t)pace_us * 1000 * times;
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	if (ns)
		nanosleep(&ts, NULL);
}

/* Runs until killed. */
static int flooder_run(void *arg)
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
static int idler_run(void *arg)
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
static int churner_run(void *arg)
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
static void swarm_send(int sock, uint64_t id, uint64_t buffer)
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
static int swarm_run(void *arg)
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

/* ---- the order of service ----------------------------------------------------- */

#define ORDER_DEPTH 8 /* Allocs queued on each of the swarm's connections */

/* Until the order check's processes have said ready @n times (20 s at most). */
static void wait_ready(int n)
{
	for (int i = 0; i < 20000 && sh->order_ready < n; i++)
		sleep_ms(1);
}

static void order_wait(int step)
{
	for (int i = 0; i < 20000 && sh->order_step < step; i++)
		sleep_ms(1);
	CHECK(sh->order_step >= step);
}

/*
 * The swarm's uid: SWARM_CONNS connections, ORDER_DEPTH Allocs queued on
 * each. It connects after the well-behaved uid: the daemon's time its 32
 * Hellos take is then ahead of the well-behaved uid's one Hello, whatever
 * that one cost (a Hello preempted on a loaded machine would otherwise
 * let the swarm's uid have that time back in Allocs first).
 */
static int order_swarm(void *arg)
{
	int s[SWARM_CONNS];
	uint64_t id = 1;

	wait_ready(1);
	for (int i = 0; i < SWARM_CONNS; i++) {
		s[i] = connect_as_client(arg);
		CHECK(s[i] >= 0);
	}
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(1);
	for (int k = 0; k < ORDER_DEPTH; k++)
		for (int i = 0; i < SWARM_CONNS; i++)
			swarm_send(s[i], id++, 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	for (int k = 0; k < ORDER_DEPTH; k++) {
		for (int i = 0; i < SWARM_CONNS; i++) {
			int fd = -1;
			Dmabufd__Reply *r = raw_recv(s[i], 20000, &fd);

			CHECK(r && r->error == 0);
			if (fd >= 0)
				close(fd);
			dmabufd__reply__free_unpacked(r, NULL);
		}
	}
	for (int i = 0; i < SWARM_CONNS; i++)
		close(s[i]);
	return 0;
}

/* The well-behaved uid: one Stats, sent after all of the swarm's requests. */
static int order_polite(void *arg)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats st = DMABUFD__STATS__INIT;
	int s = connect_as_client(arg);
	Dmabufd__Reply *r;

	CHECK(s >= 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(2);
	req.id = 2;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &st;
	CHECK(raw_send(s, &req, NULL, 0) == 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	r = raw_recv(s, 20000, NULL);
	sh->order_reply_us = now_us();
	CHECK(r && r->error == 0 && r->stats);
	sh->order_seen = (int64_t)r->stats->buffers;
	sh->order_clients = (int64_t)r->stats->clients;
	dmabufd__reply__free_unpacked(r, NULL);
	close(s);
	return 0;
}

/*
 * Is the daemon's time shared per uid, not per connection? With the daemon
 * stopped (SIGSTOP), the swarm's uid queues ORDER_DEPTH Allocs on each of
 * its SWARM_CONNS connections, then the well-behaved uid one Stats; once
 * the daemon runs again, the Stats must be served after at most two of
 * the Allocs (it said how many buffers there were), not after a round of
 * all the swarm's connections. Return: the buffers the Stats saw, or -1.
 */
static int64_t check_order(const struct daemon_proc *d)
{
	pid_t a, b;

	sh->order_step = 0;
	sh->order_ready = 0;
	sh->order_seen = -1;
	a = spawn_as(SWARM_UID, SWARM_UID, NULL, 0, order_swarm, (void *)d->socket);
	b = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, order_polite, (void *)d->socket);
	if (a < 0 || b < 0)
		return -1;
	wait_ready(2);
	kill(d->pid, SIGSTOP);
	sh->order_step = 1;
	wait_ready(3);
	sh->order_step = 2;
	wait_ready(4);
	kill(d->pid, SIGCONT);
	if (wait_child(b) != 0 || wait_child(a) != 0)
		return -1;
	return sh->order_seen;
}

/* ---- a disconnect with many buffers ---------------------------------------------- */

#define CLOSE_HOLD 900    /* buffers the closing uid holds (its fd share is 944) */
#define CLOSE_BUDGET 64   /* daemon/server.c: buffers released per turn of a closed client */

/* The flooder's uid: CLOSE_HOLD buffers, then its connection closed. */
static int close_holder(void *arg)
{
	int sock;
	uint64_t id = 1;

	wait_ready(1);
	sock = connect_as_client(arg);
	CHECK(sock >= 0);
	for (int i = 0; i < CLOSE_HOLD; i++) {
		int fd = -1;
		Dmabufd__Reply *r = raw_alloc(sock, id++, 4096, DMABUFD_ATTR_CACHED, 0, "hold", &fd);

		CHECK(r && r->error == 0);
		if (fd >= 0)
			close(fd);
		dmabufd__reply__free_unpacked(r, NULL);
	}
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(1);
	close(sock);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/*
 * Is a disconnect released over turns? With the daemon stopped, a uid
 * holding CLOSE_HOLD buffers closes its connection, then the well-behaved
 * uid sends one Stats; once the daemon runs again the Stats must be served
 * after at most two turns of releases (CLOSE_BUDGET buffers each), not
 * after all of them. Return: the buffers the Stats saw, or -1.
 */
static int64_t check_close(const struct daemon_proc *d)
{
	pid_t a, b;

	sh->order_step = 0;
	sh->order_ready = 0;
	sh->order_seen = -1;
	b = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, order_polite, (void *)d->socket);
	a = spawn_as(FLOODER_UID, FLOODER_UID, NULL, 0, close_holder, (void *)d->socket);
	if (a < 0 || b < 0)
		return -1;
	wait_ready(2);
	kill(d->pid, SIGSTOP);
	sh->order_step = 1;
	wait_ready(3);
	sh->order_step = 2;
	wait_ready(4);
	sh->order_cont_us = now_us();
	kill(d->pid, SIGCONT);
	if (wait_child(b) != 0 || wait_child(a) != 0)
		return -1;
	return sh->order_seen;
}

/* ---- Hello deadlines expiring together -------------------------------------------- */

#define EXPIRE_CONNS 32   /* [limits] max-connections-per-uid */

/* The idler's uid: EXPIRE_CONNS connections without Hello, kept until told. */
static int expire_idler(void *arg)
{
	int s[EXPIRE_CONNS];

	for (int i = 0; i < EXPIRE_CONNS; i++) {
		s[i] = raw_connect(arg);
		CHECK(s[i] >= 0);
	}
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(3);
	for (int i = 0; i < EXPIRE_CONNS; i++)
		close(s[i]);
	return 0;
}

/* The swarm's uid: one Stats, sent first, so that the other Stats waits for its turn. */
static int expire_first(void *arg)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats st = DMABUFD__STATS__INIT;
	int s = connect_as_client(arg);
	Dmabufd__Reply *r;

	CHECK(s >= 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(1);
	req.id = 2;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &st;
	CHECK(raw_send(s, &req, NULL, 0) == 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	r = raw_recv(s, 20000, NULL);
	CHECK(r && r->error == 0);
	dmabufd__reply__free_unpacked(r, NULL);
	close(s);
	return 0;
}

static bool idlers_accepted(const Dmabufd__StatsReply *st)
{
	/* and uid 5204's, uid 5101's and the asking connection */
	return st->clients >= EXPIRE_CONNS + 3;
}

/*
 * Are Hello deadlines that expire together closed over turns? The idler's
 * uid opens EXPIRE_CONNS connections without Hello; with the daemon
 * stopped, uid 5204 sends a Stats (served at once when the daemon runs
 * again), then uid 5101 a Stats, and the deadlines pass. Once the daemon
 * runs, uid 5101's Stats must be served after at most two of the closes
 * (it says how many clients there were), not after all of them in one
 * round of the loop. Return: the clients the Stats saw, or -1.
 */
static int64_t check_expire(const struct daemon_proc *d)
{
	pid_t idler, first, polite;
	Dmabufd__Reply *r;

	sh->order_step = 0;
	sh->order_ready = 0;
	sh->order_clients = -1;
	first = spawn_as(SWARM_UID, SWARM_UID, NULL, 0, expire_first, (void *)d->socket);
	if (first < 0)
		return -1;
	wait_ready(1);
	polite = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, order_polite, (void *)d->socket);
	if (polite < 0)
		return -1;
	wait_ready(2);
	/* The deadlines run from here: stopped well within the second. */
	idler = spawn_as(IDLER_UID, IDLER_UID, NULL, 0, expire_idler, (void *)d->socket);
	if (idler < 0)
		return -1;
	wait_ready(3);
	r = wait_stats(d->socket, idlers_accepted);
	if (!r)
		return -1;
	dmabufd__reply__free_unpacked(r, NULL);
	kill(d->pid, SIGSTOP);
	sh->order_step = 1;
	wait_ready(4);
	sh->order_step = 2;
	wait_ready(5);
	sleep_ms(1200); /* past the idler's deadlines (hello-timeout = 1) */
	kill(d->pid, SIGCONT);
	if (wait_child(polite) != 0 || wait_child(first) != 0)
		return -1;
	sh->order_step = 3;
	if (wait_child(idler) != 0)
		return -1;
	return sh->order_clients;
}

/* ---- the run --------------------------------------------------------------------- */

static bool failed;

static void expect(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return;
	failed = true;
	fprintf(stderr, "dmabufd-hostile: FAILED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double median(double *v, size_t n)
{
	/* insertion sort: n is the number of slices */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * The median over the slices of (p99 attacked / p99 alone), each slice's
 * attacked p99 over the alone slice just before it: the load of this
 * machine changes within seconds, and a pair of slices 1.3 s apart sees
 * about the same load, which the p99 over all slices together does not.
 * @lat: alat or rlat; @ends: slice_na or slice_nr. Sorts each slice's
 * samples in place (before the p99 over all slices is taken).
 */
static double slice_ratio(uint32_t (*lat)[MAX_SAMPLES], size_t (*ends)[MAX_SLICES],
			  unsigned nslices, double *p99s)
{
	double ratios[MAX_SLICES];
	unsigned n = 0;

	for (unsigned i = 0; i < nslices; i++) {
		double p[2];

		for (int k = 0; k < 2; k++) {
			size_t start = i ? ends[k][i - 1] : 0;

			p[k] = percentile(lat[k] + start, ends[k][i] - start, 99);
		}
		p99s[2 * i] = p[0];
		p99s[2 * i + 1] = p[1];
		if (p[0] > 0 && p[1] > 0)
			ratios[n++] = p[1] / p[0];
	}
	return median(ratios, n);
}

static void print_polite(const char *name, const struct polite_result *r)
{
	printf("  %-8s allocs %llu/%llu ok, fills %llu/%llu full, releases %llu/%llu ok; "
	       "alloc p50 %.0f us p99 %.0f us, release p50 %.0f us p99 %.0f us\n",
	       name, (unsigned long long)r->allocs_ok, (unsigned long long)r->allocs,
	       (unsigned long long)r->fills_full, (unsigned long long)r->fills,
	       (unsigned long long)r->releases_ok, (unsigned long long)r->releases, r->alloc_p50,
	       r->alloc_p99, r->release_p50, r->release_p99);
}

static void json_polite(const char *name, const struct polite_result *r, bool last)
{
	printf("\"%s\":{\"allocs\":%llu,\"allocs_ok\":%llu,\"fills\":%llu,\"fills_full\":%llu,"
	       "\"releases\":%llu,\"releases_ok\":%llu,\"alloc_p50_us\":%.0f,\"alloc_p99_us\":%.0f,"
	       "\"release_p50_us\":%.0f,\"release_p99_us\":%.0f}%s",
	       name, (unsigned long long)r->allocs, (unsigned long long)r->allocs_ok,
	       (unsigned long long)r->fills, (unsigned long long)r->fills_full,
	       (unsigned long long)r->releases, (unsigned long long)r->releases_ok, r->alloc_p50,
	       r->alloc_p99, r->release_p50, r->release_p99, last ? "" : ",");
}

static void check_polite(const char *name, const struct polite_result *r)
{
	expect(r->fills > 0, "%s: no fill done", name);
	expect(r->allocs_ok == r->allocs, "%s: %llu of %llu allocations within the quota refused",
	       name, (unsigned long long)(r->allocs - r->allocs_ok), (unsigned long long)r->allocs);
	expect(r->fills_full == r->fills, "%s: %llu of %llu fills short of the quota", name,
	       (unsigned long long)(r->fills - r->fills_full), (unsigned long long)r->fills);
	expect(r->wrong_refusals == 0, "%s: %llu allocations past the quota not refused with -EDQUOT",
	       name, (unsigned long long)r->wrong_refusals);
	expect(r->releases_ok == r->releases, "%s: %llu releases refused", name,
	       (unsigned long long)(r->releases - r->releases_ok));
}

static bool drained(const Dmabufd__StatsReply *st)
{
	return st->buffers == 0 && st->used == 0 && st->clients == 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: dmabufd-hostile [--duration SEC] [--max-ratio R] [--pace-us US] [--roles LIST]\n"
		   "                       [--attacker-nice N] [--json]\n"
		   "  --duration SEC  seconds measured alone, and as many attacked (default 10)\n"
		   "  --max-ratio R   largest p99 attacked / p99 alone allowed, median over\n"
		   "                  the pairs of slices (default 2)\n"
		   "  --pace-us US    the attackers' pause after a refusal or a churn cycle\n"
		   "                  (default 10000; 0: as fast as they can)\n"
		   "  --attacker-nice N  the attacking processes' nice value (default 19)\n"
		   "  --roles LIST    attackers to run: flooder,idler,churner (the default),\n"
		   "                  swarm\n"
		   "  --json          print the figures as one JSON object\n");
}

int main(int argc, char **argv)
{
	static const char conf_text[] = "[access]\nusers = *\n"
					"[uid:5101]\nbytes = 4M\n"
					"[limits]\nhello-timeout = 1\n";
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "max-ratio", required_argument, NULL, 'r' },
		{ "pace-us", required_argument, NULL, 'p' },
		{ "roles", required_argument, NULL, 'R' },
		{ "attacker-nice", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const uid_t uids[4] = { FLOODER_UID, IDLER_UID, CHURNER_UID, SWARM_UID };
	int (*const roles[4])(void *) = { flooder_run, idler_run, churner_run, swarm_run };
	const char *names[4] = { "flooder", "idler", "churner", "swarm" };
	const char *old_wrapper = getenv("DMABUFD_TEST_WRAPPER");
	const char *roles_arg = "flooder,idler,churner";
	bool on[4];
	unsigned duration = 10;
	double max_ratio = 2.0;
	bool json = false;
	struct daemon_proc d;
	char conf[128], wrapper[512];
	struct polite_result *alone, *attacked;
	static double alloc_p99s[2 * MAX_SLICES], release_p99s[2 * MAX_SLICES];
	double alloc_ratio, release_ratio;
	struct attack_result *att;
	pid_t polite;
	int64_t order, expire_seen, close_seen;
	int opt, err;
	Dmabufd__Reply *r;

	pace_us = 10000;
	attacker_nice = 19;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			duration = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			max_ratio = strtod(optarg, NULL);
			break;
		case 'p':
			pace_us = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			roles_arg = optarg;
			break;
		case 'n':
			attacker_nice = (int)strtol(optarg, NULL, 10);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || duration < 1 || duration > MAX_SLICES || !(max_ratio >= 1.0) ||
	    pace_us > 1000000 || attacker_nice < 0 || attacker_nice > 19) {
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < 4; i++)
		on[i] = strstr(roles_arg, names[i]) != NULL;
	require_root();
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	alone = &sh->polite[0];
	attacked = &sh->polite[1];
	att = sh->attack;

	/*
	 * prlimit(1) in front of any wrapper: 4096 fds, soft and hard; and
	 * nice -10 as the service unit runs it (Nice=-10, docs/SYSTEMD.md).
	 */
	snprintf(wrapper, sizeof(wrapper), "prlimit --nofile=4096:4096 nice -n -10%s%s",
		 old_wrapper ? " " : "", old_wrapper ? old_wrapper : "");
	setenv("DMABUFD_TEST_WRAPPER", wrapper, 1);
	err = daemon_start_conf(&d, conf_text, NULL, conf);
	if (old_wrapper)
		setenv("DMABUFD_TEST_WRAPPER", old_wrapper, 1);
	else
		unsetenv("DMABUFD_TEST_WRAPPER");
	if (err < 0) {
		fprintf(stderr, "dmabufd-hostile: cannot start the daemon: %s\n", strerror(-err));
		return 1;
	}

	order = check_order(&d);
	expect(order >= 0 && order <= 2,
	       "order: a Stats sent after %d Allocs on %d connections of another uid was served "
	       "after %lld of them", ORDER_DEPTH * SWARM_CONNS, SWARM_CONNS, (long long)order);
	expire_seen = check_expire(&d);
	expect(expire_seen >= EXPIRE_CONNS,
	       "expire: a Stats sent as %d connections of another uid passed their Hello "
	       "deadline saw %lld clients (at least %d expected: the closes take turns)",
	       EXPIRE_CONNS, (long long)expire_seen, EXPIRE_CONNS);
	close_seen = check_close(&d);
	expect(close_seen >= CLOSE_HOLD - 2 * CLOSE_BUDGET,
	       "close: a Stats sent after another uid closed a connection with %d buffers saw "
	       "%lld of them (at least %d expected: the release takes turns)", CLOSE_HOLD,
	       (long long)close_seen, CLOSE_HOLD - 2 * CLOSE_BUDGET);

	/*
	 * One-second slices, alone and attacked in turn, so that a change of
	 * the machine's load touches both alike. The attackers are started
	 * afresh for each attacked slice (the flooder reaches its limit in
	 * the first 300 ms, not counted) and SIGKILLed at its end; the daemon
	 * releases what they held before the next slice is counted.
	 */
	sh->phase = PHASE_SKIP;
	polite = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, polite_run, (void *)d.socket);
	if (polite < 0) {
		fprintf(stderr, "dmabufd-hostile: fork: %s\n", strerror((int)-polite));
		return 1;
	}
	for (unsigned slice = 0; slice < duration; slice++) {
		pid_t pids[4];

		sh->phase = PHASE_ALONE;
		sleep_ms(1000);
		sh->phase = PHASE_SKIP;
		for (int i = 0; i < 4; i++) {
			pids[i] = on[i] ? spawn_as(uids[i], uids[i], NULL, 0, roles[i], (void *)d.socket) : 0;
			expect(pids[i] >= 0, "fork: %s", strerror((int)-pids[i]));
		}
		sleep_ms(300);
		sh->slice_na[0][slice] = sh->na[0];
		sh->slice_nr[0][slice] = sh->nr[0];
		sh->phase = PHASE_ATTACKED;
		sleep_ms(1000);
		sh->phase = PHASE_SKIP;
		for (int i = 0; i < 4; i++) {
			if (pids[i] <= 0)
				continue;
			kill(pids[i], SIGKILL);
			expect(wait_child(pids[i]) == 1000 + SIGKILL, "%s exited early", names[i]);
		}
		sleep_ms(300);
		sh->slice_na[1][slice] = sh->na[1];
		sh->slice_nr[1][slice] = sh->nr[1];
	}
	sh->phase = PHASE_STOP;
	expect(wait_child(polite) == 0, "the well-behaved uid failed");
	alloc_ratio = slice_ratio(sh->alat, sh->slice_na, duration, alloc_p99s);
	release_ratio = slice_ratio(sh->rlat, sh->slice_nr, duration, release_p99s);
	for (int k = 0; k < 2; k++) {
		sh->polite[k].alloc_p50 = percentile(sh->alat[k], sh->na[k], 50);
		sh->polite[k].alloc_p99 = percentile(sh->alat[k], sh->na[k], 99);
		sh->polite[k].release_p50 = percentile(sh->rlat[k], sh->nr[k], 50);
		sh->polite[k].release_p99 = percentile(sh->rlat[k], sh->nr[k], 99);
	}

	check_polite("alone", alone);
	check_polite("attacked", attacked);
	expect(alloc_ratio <= max_ratio,
	       "alloc p99 attacked / p99 alone, median over the slices: %.2f > %.1f", alloc_ratio,
	       max_ratio);
	expect(release_ratio <= max_ratio,
	       "release p99 attacked / p99 alone, median over the slices: %.2f > %.1f",
	       release_ratio, max_ratio);
	expect(!on[0] || (att[0].refused > 0 && att[0].held > 0), "the flooder never reached its limit");
	expect(!on[1] || att[1].refused + att[1].closed > 0, "the idler's connections were never closed");
	expect(!on[2] || att[2].closed > 0, "the churner never imported");
	expect(!on[3] || att[3].ops > SWARM_CONNS, "the swarm's requests were not answered");

	r = wait_stats(d.socket, drained);
	expect(r != NULL, "the daemon still holds buffers or clients at the end");
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);
	expect(daemon_stop_conf(&d, conf) == 0, "the daemon did not exit 0");

	if (json) {
		printf("{\"duration_s\":%u,\"pace_us\":%u,\"attacker_nice\":%d,", duration, pace_us,
		       attacker_nice);
		json_polite("alone", alone, false);
		json_polite("attacked", attacked, false);
		for (int i = 0; i < 4; i++)
			printf("\"%s\":{\"ops\":%llu,\"refused\":%llu,\"closed\":%llu,\"held\":%llu},",
			       names[i], (unsigned long long)att[i].ops,
			       (unsigned long long)att[i].refused, (unsigned long long)att[i].closed,
			       (unsigned long long)att[i].held);
		printf("\"order_allocs_before_stats\":%lld,", (long long)order);
		printf("\"expire_clients_at_stats\":%lld,", (long long)expire_seen);
		printf("\"close_buffers_at_stats\":%lld,\"close_stats_us\":%llu,", (long long)close_seen,
		       (unsigned long long)(sh->order_reply_us - sh->order_cont_us));
		printf("\"alloc_ratio\":%.2f,\"release_ratio\":%.2f,", alloc_ratio, release_ratio);
		printf("\"slices\":[");
		for (unsigned i = 0; i < duration; i++)
			printf("{\"alloc_p99_us\":[%.0f,%.0f],\"release_p99_us\":[%.0f,%.0f]}%s",
			       alloc_p99s[2 * i], alloc_p99s[2 * i + 1], release_p99s[2 * i],
			       release_p99s[2 * i + 1], i + 1 < duration ? "," : "");
		printf("],");
		printf("\"passed\":%s}\n", failed ? "false" : "true");
	} else {
		printf("dmabufd-hostile: %u s alone, %u s attacked, in 1-s slices (RLIMIT_NOFILE "
		       "4096, attackers pace %u us, nice %d)\n", duration, duration, pace_us,
		       attacker_nice);
		print_polite("alone", alone);
		print_polite("attacked", attacked);
		printf("  flooder  %llu requests, %llu refused, %llu buffers held at most\n",
		       (unsigned long long)att[0].ops, (unsigned long long)att[0].refused,
		       (unsigned long long)att[0].held);
		printf("  idler    %llu connections opened, %llu refused, %llu closed at the deadline\n",
		       (unsigned long long)att[1].ops, (unsigned long long)att[1].refused,
		       (unsigned long long)att[1].closed);
		printf("  churner  %llu requests, %llu share/import/release cycles\n",
		       (unsigned long long)att[2].ops, (unsigned long long)att[2].closed);
		printf("  swarm    %llu requests on %d connections (%d in flight on each), %llu "
		       "refused\n", (unsigned long long)att[3].ops, SWARM_CONNS, SWARM_DEPTH,
		       (unsigned long long)att[3].refused);
		printf("  ratio    p99 attacked / p99 alone, median over the %u pairs of slices: "
		       "alloc %.2f, release %.2f\n", duration, alloc_ratio, release_ratio);
		printf("  order    a Stats of the well-behaved uid, sent after %d Allocs on %d "
		       "connections of another uid, served after %lld of them\n",
		       ORDER_DEPTH * SWARM_CONNS, SWARM_CONNS, (long long)order);
		printf("  expire   a Stats of the well-behaved uid, sent as %d connections of another "
		       "uid passed their Hello deadline, saw %lld clients\n", EXPIRE_CONNS,
		       (long long)expire_seen);
		printf("  close    a Stats of the well-behaved uid, sent after another uid closed a "
		       "connection with %d buffers, saw %lld of them (answered %llu us after the "
		       "daemon was continued)\n", CLOSE_HOLD, (long long)close_seen,
		       (unsigned long long)(sh->order_reply_us - sh->order_cont_us));
		printf("dmabufd-hostile: %s\n", failed ? "FAILED" : "passed");
	}
	return failed ? 1 : 0;
}
