/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-hostile (hostile.c has the whole story): what its parts share.
 * The state the processes share lives in one MAP_SHARED mapping (sh): the
 * parent sets the phase, the children count.
 */
#ifndef DMABUFD_TESTS_HOSTILE_H
#define DMABUFD_TESTS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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
#define ORDER_DEPTH 8           /* Allocs queued on each of the swarm's connections */
#define CLOSE_HOLD 900          /* buffers the closing uid holds (its fd share is 944) */
#define CLOSE_BUDGET 64         /* daemon/server.c: buffers released per turn of a closed client */
#define EXPIRE_CONNS 32         /* [limits] max-connections-per-uid */

static inline uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

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
	uint64_t steps;                 /* round trips, the refused Allocs included */
	uint64_t overruns;              /* steps started late (the one before, or the process) */
	double alloc_p50, alloc_p99, release_p50, release_p99; /* µs, all slices together */
	double wake_p50, wake_p99;      /* µs the process ran after its timer (paced only) */
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
	uint32_t alat[2][MAX_SAMPLES], rlat[2][MAX_SAMPLES], wlat[2][MAX_SAMPLES];
	size_t na[2], nr[2], nw[2];
	/* where each slice's samples end in alat[k], rlat[k] */
	size_t slice_na[2][MAX_SLICES], slice_nr[2][MAX_SLICES];
};

extern struct shared *sh;

/* hostile_roles.c: the well-behaved uid and the attackers */
extern unsigned pace_us;           /* --pace-us */
extern int attacker_nice;          /* --attacker-nice */
extern int polite_cpu;             /* --polite-cpu: -1, or the polite uid's own CPU */

/* pin_cpus() - with --polite-cpu, run on that CPU alone (@polite) or on
 * every other CPU; nothing without it. */
void pin_cpus(bool polite);
extern unsigned polite_interval_us; /* --polite-interval-us */
double percentile(uint32_t *v, size_t n, unsigned pct);
int polite_run(void *arg);
int flooder_run(void *arg);
int idler_run(void *arg);
int churner_run(void *arg);
int swarm_run(void *arg);
void swarm_send(int sock, uint64_t id, uint64_t buffer);

/* hostile_order.c: the order of service; each returns what the Stats saw, or -1 */
int64_t check_order(const struct daemon_proc *d);
int64_t check_close(const struct daemon_proc *d);
int64_t check_expire(const struct daemon_proc *d);

#endif
