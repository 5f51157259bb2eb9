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
 * asking for more; the swarm never pauses.
 * The well-behaved uid (5101, [uid:5101] bytes = 4M) fills its quota with
 * 64 KiB buffers (every Alloc up to 64 must succeed, the 65th must be
 * -EDQUOT), then releases them all, in a loop; each Alloc and Release
 * round trip is timed (the refused 65th is not). By default the loop is
 * tight; with --polite-interval-us N each round trip, the refused one
 * included, starts N µs after the one before (an absolute schedule; one
 * that starts after its time, because the round trip before overran or
 * the process ran late, is counted as late and the schedule goes on from
 * it), as a client that asks for far less than its share does (a ring of
 * buffers at 60 Hz); the time the process ran after each timer is kept.
 * The daemon shares its time among uids (docs/THREAT_MODEL.md): in a tight
 * loop the well-behaved uid asks for more than its share and waits for
 * about one request of each busy uid; with --pace-us 0, or the swarm, uids
 * are busy all the time and at a quiet moment that wait is more than its
 * p99 alone. Paced, it asks for less than its share and is served next,
 * or after the requests of other uids that came with it; its p99 under
 * attack is then set by how late its own process runs after a wake-up
 * while the daemon and the attackers keep the CPUs busy
 * (docs/RELIABILITY.md has the figures).
 * The daemon runs at nice -10, as the service unit runs it; the attacking
 * processes at --attacker-nice (19): the machine's CPUs are the kernel's to
 * share, and on a machine with few CPUs attackers at nice 0 take the CPU
 * from the measured process itself, which no daemon can prevent
 * (docs/RELIABILITY.md has both figures). With --polite-cpu N the
 * well-behaved uid's process runs alone on CPU N and the harness, the
 * daemon and the attackers on the others, so that the ratio measures the
 * daemon's sharing and not the kernel's scheduling of the measured process
 * among the attacking ones; CTest runs it so, asserting 2x.
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
 *
 * This file has the run and the checks; hostile_roles.c the well-behaved
 * uid's loop and the attackers, hostile_order.c the order checks.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "dmabufd/dmabufd.h"
#include "hostile.h"

struct shared *sh;

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

/* Round trips per second in @r's phase, which lasted @us. */
static double rate(const struct polite_result *r, uint64_t us)
{
	return us ? (double)r->steps * 1e6 / (double)us : 0;
}

static void print_polite(const char *name, const struct polite_result *r, uint64_t us)
{
	printf("  %-8s allocs %llu/%llu ok, fills %llu/%llu full, releases %llu/%llu ok; "
	       "alloc p50 %.0f us p99 %.0f us, release p50 %.0f us p99 %.0f us; "
	       "%.0f round trips/s, %llu late; timer wake-up p50 %.0f us p99 %.0f us\n",
	       name, (unsigned long long)r->allocs_ok, (unsigned long long)r->allocs,
	       (unsigned long long)r->fills_full, (unsigned long long)r->fills,
	       (unsigned long long)r->releases_ok, (unsigned long long)r->releases, r->alloc_p50,
	       r->alloc_p99, r->release_p50, r->release_p99, rate(r, us),
	       (unsigned long long)r->overruns, r->wake_p50, r->wake_p99);
}

static void json_polite(const char *name, const struct polite_result *r, uint64_t us, bool last)
{
	printf("\"%s\":{\"allocs\":%llu,\"allocs_ok\":%llu,\"fills\":%llu,\"fills_full\":%llu,"
	       "\"releases\":%llu,\"releases_ok\":%llu,\"alloc_p50_us\":%.0f,\"alloc_p99_us\":%.0f,"
	       "\"release_p50_us\":%.0f,\"release_p99_us\":%.0f,\"round_trips\":%llu,"
	       "\"round_trips_per_s\":%.1f,\"late\":%llu,\"wake_p50_us\":%.0f,"
	       "\"wake_p99_us\":%.0f}%s",
	       name, (unsigned long long)r->allocs, (unsigned long long)r->allocs_ok,
	       (unsigned long long)r->fills, (unsigned long long)r->fills_full,
	       (unsigned long long)r->releases, (unsigned long long)r->releases_ok, r->alloc_p50,
	       r->alloc_p99, r->release_p50, r->release_p99, (unsigned long long)r->steps,
	       rate(r, us), (unsigned long long)r->overruns, r->wake_p50, r->wake_p99,
	       last ? "" : ",");
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

/*
 * Waits (up to 5 s) until the daemon has seen every connection and buffer
 * of the check before go: the next check may connect as the same uid,
 * whose connections count against max-connections-per-uid (32, as many
 * as the swarm opens) until the daemon has read their close.
 */
static void settle(const char *socket, const char *after)
{
	Dmabufd__Reply *r = wait_stats(socket, drained);

	expect(r != NULL, "%s: the daemon still holds its connections or buffers", after);
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: dmabufd-hostile [--duration SEC] [--max-ratio R] [--pace-us US] [--roles LIST]\n"
		   "                       [--attacker-nice N] [--polite-interval-us US] [--polite-cpu N]\n"
		   "                       [--json]\n"
		   "  --duration SEC  seconds measured alone, and as many attacked (default 10)\n"
		   "  --max-ratio R   largest p99 attacked / p99 alone allowed, median over\n"
		   "                  the pairs of slices (default 2)\n"
		   "  --pace-us US    the attackers' pause after a refusal or a churn cycle\n"
		   "                  (default 10000; 0: as fast as they can)\n"
		   "  --attacker-nice N  the attacking processes' nice value (default 19)\n"
		   "  --polite-interval-us US  the well-behaved uid starts a round trip every\n"
		   "                  US (default 0: as fast as it can)\n"
		   "  --polite-cpu N  the well-behaved uid's process alone on CPU N, the\n"
		   "                  daemon and the attackers on the other CPUs (default:\n"
		   "                  all on every CPU)\n"
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
		{ "polite-interval-us", required_argument, NULL, 'i' },
		{ "polite-cpu", required_argument, NULL, 'c' },
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
	uint64_t phase_us[2] = { 0, 0 }; /* time measured alone, attacked */
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
		case 'i':
			polite_interval_us = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			polite_cpu = (int)strtol(optarg, NULL, 10);
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
	    pace_us > 1000000 || polite_interval_us > 1000000 || attacker_nice < 0 || attacker_nice > 19 || polite_cpu < -1) {
		usage(stderr);
		return 2;
	}
	if (polite_cpu >= 0 && (sysconf(_SC_NPROCESSORS_ONLN) < 2 ||
				polite_cpu >= sysconf(_SC_NPROCESSORS_ONLN))) {
		/* A CPU of its own needs another one for the daemon and the attackers. */
		fprintf(stderr, "dmabufd-hostile: --polite-cpu %d needs that CPU and one more online "
			"(%ld online); skipped\n", polite_cpu, sysconf(_SC_NPROCESSORS_ONLN));
		return 77;
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

	/* The daemon (forked from here) and the attackers share the CPUs the
	 * polite process does not have (--polite-cpu). */
	pin_cpus(false);
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
	settle(d.socket, "order");
	expire_seen = check_expire(&d);
	expect(expire_seen >= EXPIRE_CONNS,
	       "expire: a Stats sent as %d connections of another uid passed their Hello "
	       "deadline saw %lld clients (at least %d expected: the closes take turns)",
	       EXPIRE_CONNS, (long long)expire_seen, EXPIRE_CONNS);
	settle(d.socket, "expire");
	close_seen = check_close(&d);
	expect(close_seen >= CLOSE_HOLD - 2 * CLOSE_BUDGET,
	       "close: a Stats sent after another uid closed a connection with %d buffers saw "
	       "%lld of them (at least %d expected: the release takes turns)", CLOSE_HOLD,
	       (long long)close_seen, CLOSE_HOLD - 2 * CLOSE_BUDGET);
	settle(d.socket, "close");

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

		uint64_t t0 = now_us();

		sh->phase = PHASE_ALONE;
		sleep_ms(1000);
		sh->phase = PHASE_SKIP;
		phase_us[0] += now_us() - t0;
		for (int i = 0; i < 4; i++) {
			pids[i] = on[i] ? spawn_as(uids[i], uids[i], NULL, 0, roles[i], (void *)d.socket) : 0;
			expect(pids[i] >= 0, "fork: %s", strerror((int)-pids[i]));
		}
		sleep_ms(300);
		sh->slice_na[0][slice] = sh->na[0];
		sh->slice_nr[0][slice] = sh->nr[0];
		t0 = now_us();
		sh->phase = PHASE_ATTACKED;
		sleep_ms(1000);
		sh->phase = PHASE_SKIP;
		phase_us[1] += now_us() - t0;
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
		sh->polite[k].wake_p50 = percentile(sh->wlat[k], sh->nw[k], 50);
		sh->polite[k].wake_p99 = percentile(sh->wlat[k], sh->nw[k], 99);
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
		printf("{\"duration_s\":%u,\"pace_us\":%u,\"attacker_nice\":%d,"
		       "\"polite_interval_us\":%u,", duration, pace_us, attacker_nice,
		       polite_interval_us);
		json_polite("alone", alone, phase_us[0], false);
		json_polite("attacked", attacked, phase_us[1], false);
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
		       "4096, attackers pace %u us, nice %d; well-behaved uid: ", duration, duration,
		       pace_us, attacker_nice);
		if (polite_interval_us)
			printf("a round trip every %u us)\n", polite_interval_us);
		else
			printf("a tight loop)\n");
		print_polite("alone", alone, phase_us[0]);
		print_polite("attacked", attacked, phase_us[1]);
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
