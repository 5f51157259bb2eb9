/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-hostile: the order of service, checked with the daemon stopped
 * (SIGSTOP) while the requests queue, so that the machine's load does not
 * matter (hostile.c).
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "dmabufd/dmabufd.h"
#include "hostile.h"

/* ---- the order of service ----------------------------------------------------- */

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

/*
 * One Stats on a connection of its own, sent at order step @step (after
 * saying it is ready, before and after sending); with @record the reply's
 * time, buffers and clients go to the shared page.
 */
static int stats_at_step(void *arg, int step, bool record)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats st = DMABUFD__STATS__INIT;
	int s = connect_as_client(arg);
	Dmabufd__Reply *r;

	CHECK(s >= 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	order_wait(step);
	req.id = 2;
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &st;
	CHECK(raw_send(s, &req, NULL, 0) == 0);
	__atomic_add_fetch(&sh->order_ready, 1, __ATOMIC_SEQ_CST);
	r = raw_recv(s, 20000, NULL);
	if (record) {
		sh->order_reply_us = now_us();
		CHECK(r && r->error == 0 && r->stats);
		sh->order_seen = (int64_t)r->stats->buffers;
		sh->order_clients = (int64_t)r->stats->clients;
	} else {
		CHECK(r && r->error == 0);
	}
	dmabufd__reply__free_unpacked(r, NULL);
	close(s);
	return 0;
}

/* The well-behaved uid: one Stats, sent after all of the other uid's work. */
static int order_polite(void *arg)
{
	return stats_at_step(arg, 2, true);
}

/*
 * The steps check_order() and check_close() share: @other (as @uid) and
 * order_polite() each get ready; with the daemon stopped (SIGSTOP), @other
 * does its part (order step 1), then uid 5101 sends its Stats (step 2);
 * the daemon is continued and both must exit 0. @polite_first: spawn uid
 * 5101 before @other. Return: the buffers the Stats saw, or -1.
 */
static int64_t run_stopped(const struct daemon_proc *d, uid_t uid, int (*other)(void *),
			   bool polite_first)
{
	pid_t a = -1, b = -1;

	sh->order_step = 0;
	sh->order_ready = 0;
	sh->order_seen = -1;
	if (polite_first)
		b = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, order_polite, (void *)d->socket);
	a = spawn_as(uid, uid, NULL, 0, other, (void *)d->socket);
	if (!polite_first)
		b = spawn_as(POLITE_UID, POLITE_UID, NULL, 0, order_polite, (void *)d->socket);
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

/*
 * Is the daemon's time shared per uid, not per connection? With the daemon
 * stopped (SIGSTOP), the swarm's uid queues ORDER_DEPTH Allocs on each of
 * its SWARM_CONNS connections, then the well-behaved uid one Stats; once
 * the daemon runs again, the Stats must be served after at most two of
 * the Allocs (it said how many buffers there were), not after a round of
 * all the swarm's connections. Return: the buffers the Stats saw, or -1.
 */
int64_t check_order(const struct daemon_proc *d)
{
	return run_stopped(d, SWARM_UID, order_swarm, false);
}

/* ---- a disconnect with many buffers ---------------------------------------------- */

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
int64_t check_close(const struct daemon_proc *d)
{
	return run_stopped(d, FLOODER_UID, close_holder, true);
}

/* ---- Hello deadlines expiring together -------------------------------------------- */

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
	return stats_at_step(arg, 1, false);
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
int64_t check_expire(const struct daemon_proc *d)
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

