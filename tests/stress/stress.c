/* SPDX-License-Identifier: MIT */
/*
 * dmabufd-stress: many hostile and well-behaved clients against the real
 * daemon, bounded in time and count, then a check that nothing leaked.
 *
 * The tool starts its own daemon (tests/integration/harness.c, so
 * DMABUFD_TEST_WRAPPER applies) and forks --clients worker processes. Each
 * worker has a role:
 *   normal     random operations from the ops[] table below (alloc,
 *              framebuffer, map, write, verify, release, stats, list, share,
 *              import, unshare, accounting); every writer fills its buffer
 *              with a pattern derived from (pid, buffer id) and checks it
 *              before release; fresh buffers must read as zeroes;
 *              framebuffer planes must lie inside the buffer. A written
 *              buffer is shared (Share) with a peer worker's pid, with a uid
 *              or with the sharer's own uid, and the token is published on a
 *              board in shared memory; peers named by a token import it
 *              (Import), map it and check the writer's pattern, and later
 *              release it or die holding it (SIGKILL); peers *not* named try
 *              too and must be refused. Owners withdraw tokens (Unshare).
 *              When the tool runs as root, the normal workers with index
 *              3 and 4 (mod 8) run as uid/gid 5001 and 5002, so that tokens
 *              cross uids and three uids are charged.
 *   malformed  random bytes, truncated and oversized datagrams, unknown
 *              request types, interleaved with valid requests
 *   fdflood    requests carrying DMABUFD_MAX_FDS fds each (memfds and
 *              /dev/null), until the daemon disconnects it; then again
 *   noread     pipelines allocations and never reads a reply, holds the
 *              connection for a while, then hangs up
 *   cycler     (worker 0) connects and disconnects in a tight loop, with
 *              and without Hello
 * While they run, the parent SIGKILLs a random worker every --kill-ms
 * milliseconds and starts a replacement with the same role.
 *
 * At the end (workers stopped, the last ones killed) the tool checks:
 *   1. the daemon is alive and serves a fresh client (alloc, map, write,
 *      read back, release);
 *   2. the daemon's fd count is back to its baseline;
 *   3. Stats: used == 0, buffers == 0, clients == 1 (the checker), and the
 *      region's free pages equal its size (memfd: the capacity; kmod: the
 *      count before the run, the frames found unusable at start stay
 *      reserved);
 *   4. List returns no buffer; Stats counts no token and no import;
 *      Accounting (libdmabufd dmabufd_accounting(), every client, uid and
 *      gid row) shows zero bytes, zero buffers and zero tokens everywhere;
 *   5. no worker saw a corrupted buffer, a non-zero fresh buffer, a reply
 *      whose id did not match its request, an import of the wrong buffer or
 *      with the wrong content, or an import admitted for a peer the token
 *      does not name;
 *   6. the work happened, for each role present: allocations and
 *      verifies done, workers SIGKILLed by the --kill-ms timer, malformed
 *      datagrams and fd floods sent, and as root imports verified;
 *   7. the daemon exits 0 on SIGTERM (under valgrind: no error, no leak).
 * Exit status: 0 when every check passes, 1 otherwise, 2 on bad usage.
 *
 * Adding an operation is one function with the op_fn signature plus one
 * row in ops[].
 *
 * --backend NAME / --daemon PATH run another backend or daemon binary (the
 * VM test tests/vm/stress-vm.sh: kmod).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "dmabufd/dmabufd.h"
#include "harness.h"
#include "share_helpers.h"
#include "wire.h"

#define MAX_HELD 8                    /* buffers a normal worker holds */
#define MAX_BUF_SIZE (256u * 1024)    /* bytes, largest random allocation */
#define REPLY_TIMEOUT_MS 5000
#define MAX_OPS 16
#define MAX_CLIENTS 200
#define MAX_TOKENS_HELD 2             /* live tokens a worker keeps per buffer */
#define BOARD_SLOTS 256

/* ---- shared counters (one MAP_SHARED page, survives SIGKILLed workers) -- */

struct counters {
	uint64_t op_done[MAX_OPS];
	uint64_t op_refused[MAX_OPS];   /* error replies (e.g. -ENOSPC) */
	uint64_t enospc;
	uint64_t corrupt;               /* pattern mismatch before release */
	uint64_t not_zeroed;            /* fresh buffer with non-zero bytes */
	uint64_t id_mismatch;           /* reply id != request id */
	uint64_t import_mismatch;       /* Import gave another buffer id or size */
	uint64_t imports_verified;      /* imports whose content matched the writer's */
	uint64_t import_denied;         /* imports by peers not named, refused */
	uint64_t access_violation;      /* imports by peers not named, admitted */
	uint64_t tokens_published;
	uint64_t imports_cross_uid;     /* verified imports of another uid's buffer */
	uint64_t imports_killed;        /* imports held by workers when SIGKILLed */
	uint64_t max_uid_rows;          /* most uid rows one Accounting reply showed */
	uint64_t import_dead_token;     /* Import answered -ENOENT (the token died) */
	uint64_t timeouts;              /* no reply within REPLY_TIMEOUT_MS */
	uint64_t malformed_sent;
	uint64_t fd_datagrams;          /* datagrams carrying fds */
	uint64_t fds_sent;
	uint64_t noread_requests;       /* requests whose replies were never read */
	uint64_t connects;
	uint64_t cycler_connects;       /* of which by the connect/disconnect loop */
	uint64_t disconnects_by_daemon;
	uint64_t killed;
	uint64_t spawned;
	int stop;
};

static struct counters *ctr;

/*
 * ---- the token board (MAP_SHARED): shares published for peers ----
 *
 * A slot is a seqlock: the writer makes seq odd (compare-and-swap), fills
 * the slot and makes it even again; a reader copies the slot and keeps the
 * copy only if seq was even and unchanged. A worker SIGKILLed while writing
 * leaves its slot odd for good (one of BOARD_SLOTS, rare). Stale entries
 * (tokens that died) are expected: their Import is answered -ENOENT.
 */
enum target_kind {
	TARGET_SELF,   /* no target lists: the sharer's own uid */
	TARGET_PID,
	TARGET_UID,
};

struct token_slot {
	uint32_t seq;
	int32_t writer;         /* pid whose pattern the buffer holds; 0 = empty */
	uint32_t sharer_uid;
	uint32_t kind;          /* enum target_kind */
	uint32_t target;        /* pid or uid */
	uint32_t single_use;    /* the first Import kills it: that importer clears the slot */
	uint64_t buffer_id;
	uint64_t size;          /* bytes */
	uint8_t token[DMABUFD_TOKEN_SIZE];
};

struct board {
	struct token_slot slot[BOARD_SLOTS];
	int32_t worker_pid[MAX_CLIENTS];   /* by worker index; 0 = none */
	uint32_t worker_imports[MAX_CLIENTS]; /* imports the worker holds now */
};

static unsigned my_index;              /* this worker's index */
static unsigned nworkers;              /* --clients */

static struct board *board;

/* Test uids of the normal workers 3 and 4 (mod 8) when run as root. */
static const uint32_t test_uids[] = { 5001, 5002 };

#define COUNT(field, n) __atomic_fetch_add(&ctr->field, (n), __ATOMIC_RELAXED)

static bool stopping(void)
{
	return __atomic_load_n(&ctr->stop, __ATOMIC_RELAXED);
}

enum role { ROLE_CYCLER, ROLE_NORMAL, ROLE_MALFORMED, ROLE_FDFLOOD, ROLE_NOREAD };

static const char *const role_names[] = { "cycler", "normal", "malformed", "fdflood", "noread" };

static enum role role_of(unsigned index)
{
	if (index == 0)
		return ROLE_CYCLER;
	switch (index % 8) {
	case 5:
		return ROLE_MALFORMED;
	case 6:
		return ROLE_FDFLOOD;
	case 7:
		return ROLE_NOREAD;
	default:
		return ROLE_NORMAL;
	}
}

/* ---- per-process random numbers (xorshift64*) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

/* sleep_ms(): share_helpers.h */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- normal worker: state and operations ---- */

struct held {
	uint64_t id;
	int fd;
	size_t size;        /* bytes (page multiple, as the daemon reports) */
	uint64_t *map;      /* NULL until mapped */
	bool written;       /* holds the writer's pattern */
	bool imported;      /* came from Import: read only, writer is a peer */
	pid_t writer;       /* whose pattern: getpid(), or the sharing peer */
	unsigned ntokens;   /* live tokens this worker created for it */
	struct {
		int slot;           /* board slot, -1 if not published */
		uint32_t seq;       /* the slot's seq after publishing */
		uint8_t bytes[DMABUFD_TOKEN_SIZE];
	} tokens[MAX_TOKENS_HELD];
};

struct worker {
	const char *socket;
	int sock;           /* -1 while disconnected */
	uint64_t next_id;   /* request id */
	struct held held[MAX_HELD];
	unsigned nheld;
};

/* Return values of an op: */
#define OP_DONE 0       /* request served (counted in op_done) */
#define OP_SKIP 1       /* not applicable now (nothing to map, ...) */
#define OP_REFUSED 2    /* the daemon answered with an error (op_refused) */
#define OP_BROKEN (-1)  /* connection unusable: reconnect */

typedef int (*op_fn)(struct worker *w);

static uint64_t pattern(pid_t writer, uint64_t id, size_t word)
{
	uint64_t x = ((uint64_t)writer << 40) ^ (id << 20) ^ word ^ 0x9e3779b97f4a7c15ull;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

/* Checks a reply: present, id echoed. Counts what went wrong. */
static bool reply_ok(Dmabufd__Reply *r, uint64_t id)
{
	if (!r) {
		COUNT(timeouts, 1);
		return false;
	}
	if (r->id != id) {
		COUNT(id_mismatch, 1);
		dmabufd__reply__free_unpacked(r, NULL);
		return false;
	}
	return true;
}

/* The outcome of a request whose reply needs no further look: OP_BROKEN
 * (no reply or the wrong one), OP_REFUSED (an error, or not a @body reply
 * when @body is not 0), OP_DONE. Frees @r. */
static int reply_outcome(Dmabufd__Reply *r, uint64_t id, Dmabufd__Reply__BodyCase body)
{
	int ret;

	if (!reply_ok(r, id))
		return OP_BROKEN;
	ret = r->error || (body && r->body_case != body) ? OP_REFUSED : OP_DONE;
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/* Publishes @v in a slot (an empty one if found); returns the slot or -1. */
static int board_put(const struct token_slot *v, uint32_t *ret_seq)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned i = rnd_below(BOARD_SLOTS);
		struct token_slot *s = &board->slot[i];
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

		if ((seq & 1) || (tries < 12 && __atomic_load_n(&s->writer, __ATOMIC_RELAXED)))
			continue;
		if (!__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		s->writer = v->writer;
		s->sharer_uid = v->sharer_uid;
		s->kind = v->kind;
		s->target = v->target;
		s->single_use = v->single_use;
		s->buffer_id = v->buffer_id;
		s->size = v->size;
		memcpy(s->token, v->token, sizeof(s->token));
		__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
		*ret_seq = seq + 2;
		return (int)i;
	}
	return -1;
}

/* Empties slot @i if it still holds what was published with @seq. */
static void board_clear(int i, uint32_t seq)
{
	struct token_slot *s;

	if (i < 0)
		return;
	s = &board->slot[i];
	if (!__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED))
		return;
	s->writer = 0;
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of slot @i; false if it is empty or being written. */
static bool board_get(unsigned i, struct token_slot *ret)
{
	const struct token_slot *s = &board->slot[i];
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

	if (seq & 1)
		return false;
	memcpy(ret, s, sizeof(*ret));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq && ret->writer != 0;
}

/* Would the daemon admit this process's Import of @t? (docs/SHARING.md) */
static bool token_names_me(const struct token_slot *t)
{
	switch (t->kind) {
	case TARGET_PID:
		return (pid_t)t->target == getpid();
	case TARGET_UID:
		return t->target == (uint32_t)getuid();
	default:
		return t->sharer_uid == (uint32_t)getuid();
	}
}

static void held_forget_token(struct held *h, unsigned k)
{
	board_clear(h->tokens[k].slot, h->tokens[k].seq);
	h->tokens[k] = h->tokens[--h->ntokens];
}

static void held_drop(struct worker *w, unsigned i)
{
	struct held *h = &w->held[i];

	while (h->ntokens)
		held_forget_token(h, 0);
	if (h->map)
		munmap(h->map, h->size);
	if (h->fd >= 0)
		close(h->fd);
	w->held[i] = w->held[--w->nheld];
}

static int op_alloc(struct worker *w)
{
	uint64_t id = w->next_id++;
	size_t size = 1 + rnd_below(MAX_BUF_SIZE);
	Dmabufd__Reply *r;
	int fd = -1, ret;

	if (w->nheld >= MAX_HELD)
		return OP_SKIP;
	r = raw_alloc(w->sock, id, size, DMABUFD_ATTR_CACHED, 0, "stress", &fd);
	if (!reply_ok(r, id)) {
		if (fd >= 0)
			close(fd);
		return OP_BROKEN;
	}
	if (r->error) {
		if (r->error == -ENOSPC)
			COUNT(enospc, 1);
		ret = OP_REFUSED;
	} else if (fd < 0 || r->body_case != DMABUFD__REPLY__BODY_ALLOC ||
		   r->alloc->size < size) {
		COUNT(corrupt, 1); /* a success without an fd or with a short size */
		ret = OP_BROKEN;
	} else {
		w->held[w->nheld++] = (struct held){
			.id = r->alloc->buffer_id, .fd = fd, .size = r->alloc->size,
			.writer = getpid(),
		};
		fd = -1;
		ret = OP_DONE;
	}
	if (fd >= 0)
		close(fd);
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/* A random held buffer that is (not) mapped; @own: not an import. */
static struct held *pick(struct worker *w, bool mapped, bool own)
{
	unsigned start, i;

	if (!w->nheld)
		return NULL;
	start = rnd_below(w->nheld);
	for (i = 0; i < w->nheld; i++) {
		struct held *h = &w->held[(start + i) % w->nheld];

		if ((h->map != NULL) == mapped && (!own || !h->imported))
			return h;
	}
	return NULL;
}

static int op_map(struct worker *w)
{
	struct held *h = pick(w, false, true);
	void *p;

	if (!h)
		return OP_SKIP;
	p = mmap(NULL, h->size, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	if (p == MAP_FAILED) {
		COUNT(corrupt, 1); /* a buffer we were handed cannot be mapped */
		return OP_SKIP;
	}
	h->map = p;
	/* A fresh buffer reads as zeroes (no data from a previous owner). */
	for (size_t k = 0; k < h->size / 8; k += 509)
		if (h->map[k] != 0) {
			COUNT(not_zeroed, 1);
			break;
		}
	return OP_DONE;
}

static int op_write(struct worker *w)
{
	struct held *h = pick(w, true, true);

	if (!h)
		return OP_SKIP;
	/* Shared buffers are rewritten with the same values: importers reading
	 * at the same time see the pattern either way. */
	for (size_t k = 0; k < h->size / 8; k++)
		h->map[k] = pattern(h->writer, h->id, k);
	h->written = true;
	return OP_DONE;
}

static bool held_verify(struct held *h)
{
	if (!h->map || !h->written)
		return true;
	for (size_t k = 0; k < h->size / 8; k++)
		if (h->map[k] != pattern(h->writer, h->id, k))
			return false;
	return true;
}

static int op_verify(struct worker *w)
{
	struct held *h = pick(w, true, false);

	if (!h || !h->written)
		return OP_SKIP;
	if (!held_verify(h))
		COUNT(corrupt, 1);
	return OP_DONE;
}

static int op_release(struct worker *w)
{
	uint64_t id = w->next_id++;
	Dmabufd__Reply *r;
	unsigned i;

	if (!w->nheld)
		return OP_SKIP;
	i = rnd_below(w->nheld);
	if (!held_verify(&w->held[i]))
		COUNT(corrupt, 1);
	r = raw_release(w->sock, id, w->held[i].id);
	held_drop(w, i);
	return reply_outcome(r, id, 0);
}

static int op_stats(struct worker *w)
{
	uint64_t id = w->next_id++;
	Dmabufd__Reply *r = raw_stats(w->sock, id);

	return reply_outcome(r, id, DMABUFD__REPLY__BODY_STATS);
}

static int op_list(struct worker *w)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__List l = DMABUFD__LIST__INIT;
	uint64_t id = w->next_id++;
	Dmabufd__Reply *r;

	l.max_entries = 1 + rnd_below(300);
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_LIST;
	req.list = &l;
	if (raw_send(w->sock, &req, NULL, 0) < 0)
		return OP_BROKEN;
	r = raw_recv(w->sock, REPLY_TIMEOUT_MS, NULL);
	return reply_outcome(r, id, DMABUFD__REPLY__BODY_LIST);
}

/* An AllocFramebuffer of a random size, format and usage; held like Alloc. */
static int op_framebuffer(struct worker *w)
{
	static const uint32_t fourccs[] = {
		0x34325258, /* XR24: DRM_FORMAT_XRGB8888 */
		0x34325241, /* AR24: DRM_FORMAT_ARGB8888 */
		0x3231564e, /* NV12: DRM_FORMAT_NV12 */
		0x56595559, /* YUYV: DRM_FORMAT_YUYV */
		0x32315559, /* YU12: DRM_FORMAT_YUV420 */
		0x20203852, /* R8:   DRM_FORMAT_R8 */
	};
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__AllocFramebuffer fb = DMABUFD__ALLOC_FRAMEBUFFER__INIT;
	uint64_t id = w->next_id++;
	Dmabufd__Reply *r;
	int fd = -1, ret;

	if (w->nheld >= MAX_HELD)
		return OP_SKIP;
	fb.width = 1 + rnd_below(512);
	fb.height = 1 + rnd_below(256);
	fb.fourcc = fourccs[rnd_below(sizeof(fourccs) / sizeof(fourccs[0]))];
	fb.usage = 1u << rnd_below(8); /* one DMABUFD_USAGE_* bit */
	fb.label = "stress-fb";
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER;
	req.alloc_framebuffer = &fb;
	if (raw_send(w->sock, &req, NULL, 0) < 0)
		return OP_BROKEN;
	r = raw_recv(w->sock, REPLY_TIMEOUT_MS, &fd);
	if (!reply_ok(r, id)) {
		if (fd >= 0)
			close(fd);
		return OP_BROKEN;
	}
	if (r->error) {
		if (r->error == -ENOSPC)
			COUNT(enospc, 1);
		ret = OP_REFUSED;
	} else if (fd < 0 || r->body_case != DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER ||
		   r->alloc_framebuffer->n_planes < 1) {
		COUNT(corrupt, 1);
		ret = OP_BROKEN;
	} else {
		const Dmabufd__AllocFramebufferReply *fr = r->alloc_framebuffer;

		/* Every plane lies inside the buffer it came with. */
		for (size_t i = 0; i < fr->n_planes; i++)
			if ((uint64_t)fr->planes[i]->offset + fr->planes[i]->size > fr->size)
				COUNT(corrupt, 1);
		w->held[w->nheld++] = (struct held){ .id = fr->buffer_id, .fd = fd,
						     .size = fr->size, .writer = getpid() };
		fd = -1;
		ret = OP_DONE;
	}
	if (fd >= 0)
		close(fd);
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/*
 * Share a written buffer of this worker: with a random peer worker's pid,
 * a test uid, root, or (no targets) this worker's own uid; sometimes single
 * use, sometimes expiring in seconds. The token goes on the board.
 */
static int op_share(struct worker *w)
{
	struct token_slot v = { .writer = getpid(), .sharer_uid = (uint32_t)getuid() };
	uint64_t id = w->next_id++;
	struct held *h = NULL;
	Dmabufd__Reply *r;
	uint32_t uid;
	int32_t pid;
	unsigned start = rnd_below(w->nheld ? w->nheld : 1);
	int ret;

	for (unsigned i = 0; i < w->nheld; i++) {
		struct held *c = &w->held[(start + i) % w->nheld];

		if (!c->imported && c->written && c->ntokens < MAX_TOKENS_HELD) {
			h = c;
			break;
		}
	}
	if (!h)
		return OP_SKIP;
	v.buffer_id = h->id;
	v.size = h->size;
	switch (rnd_below(4)) {
	case 0:
		v.kind = TARGET_SELF;
		break;
	case 1:
		v.kind = TARGET_UID;
		v.target = rnd_below(3) ? test_uids[rnd_below(2)] : 0;
		break;
	default: {
		/* A normal worker (the others never import). */
		unsigned peer = rnd_below(nworkers);

		for (unsigned k = 0; k < nworkers && role_of(peer) != ROLE_NORMAL; k++)
			peer = (peer + 1) % nworkers;
		v.kind = TARGET_PID;
		v.target = (uint32_t)__atomic_load_n(&board->worker_pid[peer], __ATOMIC_RELAXED);
		if (!v.target || role_of(peer) != ROLE_NORMAL)
			v.kind = TARGET_SELF;
		break;
	}
	}
	uid = v.target;
	pid = (int32_t)v.target;
	v.single_use = rnd_below(4) == 0;
	r = raw_share(w->sock, id, h->id, &uid, v.kind == TARGET_UID, NULL, 0, &pid,
		      v.kind == TARGET_PID, v.single_use,
		      rnd_below(3) == 0 ? 1 + rnd_below(20) : 0);
	if (!reply_ok(r, id))
		return OP_BROKEN;
	if (r->error) {
		ret = OP_REFUSED;
	} else if (r->body_case != DMABUFD__REPLY__BODY_SHARE ||
		   r->share->token.len != DMABUFD_TOKEN_SIZE) {
		COUNT(corrupt, 1);
		ret = OP_BROKEN;
	} else {
		unsigned k = h->ntokens++;

		memcpy(v.token, r->share->token.data, DMABUFD_TOKEN_SIZE);
		memcpy(h->tokens[k].bytes, v.token, DMABUFD_TOKEN_SIZE);
		h->tokens[k].slot = board_put(&v, &h->tokens[k].seq);
		if (h->tokens[k].slot >= 0)
			COUNT(tokens_published, 1);
		ret = OP_DONE;
	}
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

static bool holds_buffer(const struct worker *w, uint64_t id)
{
	for (unsigned i = 0; i < w->nheld; i++)
		if (w->held[i].id == id)
			return true;
	return false;
}

/*
 * A random board entry of a peer whose token does (not) name this worker;
 * *ret_slot receives its index (ret->seq its seq, for board_clear()).
 */
static bool board_pick(const struct worker *w, bool named, struct token_slot *ret, int *ret_slot)
{
	unsigned start = rnd_below(BOARD_SLOTS);

	for (unsigned i = 0; i < BOARD_SLOTS; i++)
		if (board_get((start + i) % BOARD_SLOTS, ret) && ret->writer != getpid() &&
		    token_names_me(ret) == named && !holds_buffer(w, ret->buffer_id)) {
			*ret_slot = (int)((start + i) % BOARD_SLOTS);
			return true;
		}
	return false;
}

/*
 * Import a token that names this worker: the reply must carry the buffer
 * the board says, with the writer's pattern in it. The import is held like
 * an own buffer (read only) until released, or until a SIGKILL drops it.
 */
static int op_import(struct worker *w)
{
	uint64_t id = w->next_id++;
	struct token_slot t;
	Dmabufd__Reply *r;
	int fd = -1, ret, slot;

	if (w->nheld >= MAX_HELD || !board_pick(w, true, &t, &slot))
		return OP_SKIP;
	r = raw_import(w->sock, id, t.token, DMABUFD_TOKEN_SIZE, &fd);
	if (!reply_ok(r, id)) {
		if (fd >= 0)
			close(fd);
		return OP_BROKEN;
	}
	if (r->error) {
		/* -ENOENT: the token died meanwhile (released, expired, its
		 * creator gone or SIGKILLed); else a [share] limit. */
		if (r->error == -ENOENT) {
			COUNT(import_dead_token, 1);
			board_clear(slot, t.seq);
		}
		ret = OP_REFUSED;
	} else if (fd < 0 || r->body_case != DMABUFD__REPLY__BODY_IMPORT ||
		   r->import->buffer_id != t.buffer_id || r->import->size != t.size) {
		COUNT(import_mismatch, 1);
		ret = OP_BROKEN;
	} else {
		struct held *h = &w->held[w->nheld++];
		void *p;

		*h = (struct held){ .id = t.buffer_id, .fd = fd, .size = t.size,
				    .imported = true, .writer = t.writer };
		fd = -1;
		if (t.single_use)
			board_clear(slot, t.seq);
		p = mmap(NULL, h->size, PROT_READ, MAP_SHARED, h->fd, 0);
		if (p == MAP_FAILED) {
			COUNT(corrupt, 1);
		} else {
			h->map = p;
			h->written = true;
			if (held_verify(h)) {
				COUNT(imports_verified, 1);
				if (t.sharer_uid != (uint32_t)getuid())
					COUNT(imports_cross_uid, 1);
			} else
				COUNT(corrupt, 1);
		}
		ret = OP_DONE;
	}
	if (fd >= 0)
		close(fd);
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/* Import a token that does not name this worker: it must be refused. */
static int op_import_foreign(struct worker *w)
{
	uint64_t id = w->next_id++;
	struct token_slot t;
	Dmabufd__Reply *r;
	int fd = -1, ret = OP_DONE, slot;

	if (w->nheld >= MAX_HELD || !board_pick(w, false, &t, &slot))
		return OP_SKIP;
	r = raw_import(w->sock, id, t.token, DMABUFD_TOKEN_SIZE, &fd);
	if (!reply_ok(r, id)) {
		if (fd >= 0)
			close(fd);
		return OP_BROKEN;
	}
	if (r->error == -EACCES || r->error == -ENOENT) {
		COUNT(import_denied, 1);
	} else if (r->error) {
		ret = OP_REFUSED;
	} else {
		COUNT(access_violation, 1);
		/* Hold it anyway, so that the books still balance at the end. */
		if (fd >= 0 && r->body_case == DMABUFD__REPLY__BODY_IMPORT)
			w->held[w->nheld++] = (struct held){ .id = r->import->buffer_id, .fd = fd,
							     .size = r->import->size,
							     .imported = true, .writer = t.writer };
		else if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/* Withdraw one of this worker's tokens. -ENOENT: it died already (used, expired). */
static int op_unshare(struct worker *w)
{
	uint64_t id = w->next_id++;
	struct held *h = NULL;
	Dmabufd__Reply *r;
	unsigned k;

	for (unsigned i = 0; i < w->nheld && !h; i++)
		if (w->held[i].ntokens)
			h = &w->held[i];
	if (!h)
		return OP_SKIP;
	k = rnd_below(h->ntokens);
	r = raw_unshare(w->sock, id, h->tokens[k].bytes, DMABUFD_TOKEN_SIZE);
	held_forget_token(h, k);
	return reply_outcome(r, id, 0);
}

static int op_accounting(struct worker *w)
{
	uint64_t id = w->next_id++;
	int kind = (int)rnd_below(3);
	Dmabufd__Reply *r = raw_accounting(w->sock, id, kind, 0);
	int ret;

	if (!reply_ok(r, id))
		return OP_BROKEN;
	ret = r->error || r->body_case != DMABUFD__REPLY__BODY_ACCOUNTING ? OP_REFUSED : OP_DONE;
	/* Root sees every uid's row: how many uids were charged at once. */
	if (ret == OP_DONE && kind == DMABUFD_ACCOUNT_UIDS && getuid() == 0) {
		uint64_t n = r->accounting->n_entries,
			 old = __atomic_load_n(&ctr->max_uid_rows, __ATOMIC_RELAXED);

		while (n > old && !__atomic_compare_exchange_n(&ctr->max_uid_rows, &old, n, false,
							       __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
	dmabufd__reply__free_unpacked(r, NULL);
	return ret;
}

/*
 * The operations of a normal worker, drawn at random by weight. To add one:
 * write an op_fn and add a row. ("import-x": a token that does not name
 * this worker, which must be refused.)
 */
static const struct op {
	const char *name;
	op_fn fn;
	unsigned weight;
} ops[] = {
	{ "alloc", op_alloc, 24 },
	{ "fb", op_framebuffer, 6 },
	{ "map", op_map, 20 },
	{ "write", op_write, 15 },
	{ "verify", op_verify, 8 },
	{ "release", op_release, 25 },
	{ "stats", op_stats, 3 },
	{ "list", op_list, 2 },
	{ "share", op_share, 8 },
	{ "import", op_import, 10 },
	{ "import-x", op_import_foreign, 2 },
	{ "unshare", op_unshare, 3 },
	{ "accounting", op_accounting, 2 },
};
_Static_assert(sizeof(ops) / sizeof(ops[0]) <= MAX_OPS, "raise MAX_OPS");
#define NOPS (sizeof(ops) / sizeof(ops[0]))

static const struct op *pick_op(void)
{
	unsigned total = 0, x;

	for (size_t i = 0; i < NOPS; i++)
		total += ops[i].weight;
	x = rnd_below(total);
	for (size_t i = 0; i < NOPS; i++) {
		if (x < ops[i].weight)
			return &ops[i];
		x -= ops[i].weight;
	}
	return &ops[0];
}

static void worker_disconnect(struct worker *w)
{
	while (w->nheld)
		held_drop(w, 0);
	if (w->sock >= 0)
		close(w->sock);
	w->sock = -1;
}

static void run_normal(const char *socket)
{
	struct worker w = { .socket = socket, .sock = -1, .next_id = 2 };

	while (!stopping()) {
		const struct op *op;
		int ret;

		if (w.sock < 0) {
			w.sock = raw_connect_hello(socket);
			if (w.sock < 0) {
				sleep_ms(10);
				continue;
			}
			COUNT(connects, 1);
		}
		op = pick_op();
		ret = op->fn(&w);
		{
			uint32_t n = 0;

			for (unsigned i = 0; i < w.nheld; i++)
				n += w.held[i].imported;
			__atomic_store_n(&board->worker_imports[my_index], n, __ATOMIC_RELAXED);
		}
		if (ret == OP_DONE)
			COUNT(op_done[op - ops], 1);
		else if (ret == OP_REFUSED)
			COUNT(op_refused[op - ops], 1);
		else if (ret == OP_BROKEN)
			worker_disconnect(&w);
	}
	/* Half of the time release everything properly, else just go. */
	if (w.sock >= 0 && rnd_below(2)) {
		while (w.nheld && op_release(&w) != OP_BROKEN)
			;
	}
	worker_disconnect(&w);
}

/* ---- hostile workers ---- */

/* Receives and discards whatever replies are queued; false on EOF. */
static bool drain_replies(int sock, int timeout_ms)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE];
	struct pollfd p = { .fd = sock, .events = POLLIN };

	while (poll(&p, 1, timeout_ms) > 0) {
		int fds[DMABUFD_MAX_FDS];
		size_t nfds = 0;
		unsigned flags = 0;
		long n = wire_recv(sock, buf, sizeof(buf), fds, DMABUFD_MAX_FDS, &nfds, &flags);

		if (n > 0)
			wire_close_fds(fds, nfds);
		if (n == 0 || (n < 0 && n != -EAGAIN))
			return false;
		timeout_ms = 0;
	}
	return true;
}

static size_t make_malformed(uint8_t *buf, size_t cap)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	size_t len;

	switch (rnd_below(5)) {
	case 0: /* random bytes */
		len = 1 + rnd_below(512);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		return len;
	case 1: /* a valid Alloc cut short */
		a.size = rnd();
		a.label = "truncated-label-truncated";
		req.id = 9;
		req.body_case = DMABUFD__REQUEST__BODY_ALLOC;
		req.alloc = &a;
		len = dmabufd__request__pack(&req, buf);
		return 1 + rnd_below((uint32_t)len - 1);
	case 2: /* unknown request type (field 99) */
		buf[0] = 0x9a;
		buf[1] = 0x06;
		buf[2] = 0x00;
		return 3;
	case 3: /* a varint that never ends */
		len = 1 + rnd_below(64);
		memset(buf, 0xff, len);
		return len;
	default: /* oversized */
		len = DMABUFD_MAX_MESSAGE + 1 + rnd_below(4096);
		memset(buf, 0x08, len < cap ? len : cap);
		return len < cap ? len : cap;
	}
}

static void run_malformed(const char *socket)
{
	static uint8_t buf[DMABUFD_MAX_MESSAGE + 8192];

	while (!stopping()) {
		int sock = raw_connect_hello(socket);

		if (sock < 0) {
			sleep_ms(10);
			continue;
		}
		COUNT(connects, 1);
		for (int i = 0; i < 64 && !stopping(); i++) {
			size_t len;

			if (rnd_below(3) == 0) {
				Dmabufd__Reply *r = raw_stats(sock, 77);

				if (!r)
					break;
				dmabufd__reply__free_unpacked(r, NULL);
				continue;
			}
			len = make_malformed(buf, sizeof(buf));
			if (send(sock, buf, len, MSG_NOSIGNAL) < 0)
				break;
			COUNT(malformed_sent, 1);
			if (!drain_replies(sock, 50)) {
				COUNT(disconnects_by_daemon, 1);
				break;
			}
		}
		close(sock);
	}
}

static void run_fdflood(const char *socket)
{
	while (!stopping()) {
		int sock = raw_connect_hello(socket);

		if (sock < 0) {
			sleep_ms(10);
			continue;
		}
		COUNT(connects, 1);
		for (int i = 0; i < 64 && !stopping(); i++) {
			Dmabufd__Request req = DMABUFD__REQUEST__INIT;
			Dmabufd__Stats st = DMABUFD__STATS__INIT;
			int fds[DMABUFD_MAX_FDS], n = 0, err;

			for (unsigned k = 0; k < DMABUFD_MAX_FDS; k++) {
				int fd = k & 1 ? memfd_create("flood", MFD_CLOEXEC)
					       : open("/dev/null", O_RDWR | O_CLOEXEC);

				if (fd >= 0)
					fds[n++] = fd;
			}
			req.id = 100 + (uint64_t)i;
			req.body_case = DMABUFD__REQUEST__BODY_STATS;
			req.stats = &st;
			err = raw_send(sock, &req, fds, (size_t)n);
			wire_close_fds(fds, (size_t)n);
			if (err < 0)
				break;
			COUNT(fd_datagrams, 1);
			COUNT(fds_sent, (uint64_t)n);
			if (!drain_replies(sock, 50)) {
				COUNT(disconnects_by_daemon, 1);
				break;
			}
		}
		close(sock);
	}
}

static void run_noread(const char *socket)
{
	while (!stopping()) {
		int sock = raw_connect_hello(socket);
		uint64_t until;

		if (sock < 0) {
			sleep_ms(10);
			continue;
		}
		COUNT(connects, 1);
		/* Pipeline requests until the socket is full; read nothing. */
		for (uint64_t id = 2; id < 2000 && !stopping(); id++) {
			Dmabufd__Request req = DMABUFD__REQUEST__INIT;
			Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
			Dmabufd__Stats st = DMABUFD__STATS__INIT;
			uint8_t buf[256];
			size_t len;

			req.id = id;
			if (id & 1) {
				a.size = 4096;
				a.label = "noread";
				req.body_case = DMABUFD__REQUEST__BODY_ALLOC;
				req.alloc = &a;
			} else {
				req.body_case = DMABUFD__REQUEST__BODY_STATS;
				req.stats = &st;
			}
			len = dmabufd__request__pack(&req, buf);
			if (send(sock, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				break;
			COUNT(noread_requests, 1);
		}
		until = now_ms() + 200 + rnd_below(1500);
		while (!stopping() && now_ms() < until)
			sleep_ms(20);
		close(sock);
	}
}

static void run_cycler(const char *socket)
{
	while (!stopping()) {
		int sock = rnd_below(2) ? raw_connect(socket) : raw_connect_hello(socket);

		if (sock >= 0) {
			COUNT(connects, 1);
			COUNT(cycler_connects, 1);
			close(sock);
		} else {
			sleep_ms(1);
		}
	}
}

/* The uid a worker runs as: a test uid for normal workers 3, 4 (mod 8) as root. */
static uid_t uid_of(unsigned index)
{
	if (getuid() != 0 || role_of(index) != ROLE_NORMAL || index % 8 < 3)
		return getuid();
	return test_uids[index % 8 - 3];
}

static pid_t spawn(unsigned index, const char *socket, uint64_t seed)
{
	pid_t pid = fork();
	uid_t uid = uid_of(index);

	if (pid > 0)
		__atomic_store_n(&board->worker_pid[index], (int32_t)pid, __ATOMIC_RELAXED);
	if (pid != 0)
		return pid;
	signal(SIGPIPE, SIG_IGN);
	rng_state = (seed ^ ((uint64_t)getpid() << 32) ^ index) | 1;
	my_index = index;
	board->worker_imports[index] = 0;
	if (uid != getuid() &&
	    (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)) {
		perror("dmabufd-stress: worker: cannot change uid");
		_exit(3);
	}
	switch (role_of(index)) {
	case ROLE_CYCLER:
		run_cycler(socket);
		break;
	case ROLE_NORMAL:
		run_normal(socket);
		break;
	case ROLE_MALFORMED:
		run_malformed(socket);
		break;
	case ROLE_FDFLOOD:
		run_fdflood(socket);
		break;
	case ROLE_NOREAD:
		run_noread(socket);
		break;
	}
	_exit(0);
}

/* ---- end checks ---- */

static int failures;

static void expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("  [%s] ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok)
		failures++;
}

/* A fresh client: alloc, map, write, read back, release. */
static bool fresh_client_served(const char *socket)
{
	int sock = raw_connect_hello(socket), fd = -1;
	Dmabufd__Reply *r;
	bool ok = false;
	uint64_t id;
	char *p;

	if (sock < 0)
		return false;
	r = raw_alloc(sock, 2, 65536, DMABUFD_ATTR_CACHED, 0, "final-check", &fd);
	if (!r || r->error || fd < 0)
		goto out;
	id = r->alloc->buffer_id;
	p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		memset(p, 0x5a, 65536);
		ok = p[0] == 0x5a && p[65535] == 0x5a;
		munmap(p, 65536);
	}
	dmabufd__reply__free_unpacked(r, NULL);
	r = raw_release(sock, 3, id);
	ok = ok && r && r->error == 0;
out:
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);
	if (fd >= 0)
		close(fd);
	close(sock);
	return ok;
}

/* True if every figure of an accounting row is zero. */
static bool account_empty(const struct dmabufd_account *a)
{
	uint64_t by_attr = 0;

	for (int k = 0; k < 3; k++)
		by_attr |= a->owned_by_attribute[k] | a->imported_by_attribute[k];
	return !a->owned_bytes && !a->owned_buffers && !a->imported_bytes &&
	       !a->imported_buffers && !a->tokens && !by_attr;
}

/*
 * Accounting through libdmabufd: every client, uid and gid row must show
 * zero owned and imported bytes and buffers, and no token.
 */
static void check_accounting(const char *socket)
{
	static const char *const kinds[] = { "client", "uid", "gid" };
	struct dmabufd_client *cl = NULL;
	int err = dmabufd_connect(socket, &cl);

	expect(err == 0, "libdmabufd connected for Accounting (%d)", err);
	if (err < 0)
		return;
	for (int kind = DMABUFD_ACCOUNT_CLIENTS; kind <= DMABUFD_ACCOUNT_GIDS; kind++) {
		struct dmabufd_account *rows = NULL;
		size_t n = 0, nonzero = 0;

		err = dmabufd_accounting(cl, (enum dmabufd_account_kind)kind, &rows, &n);
		for (size_t i = 0; err == 0 && i < n; i++)
			if (!account_empty(&rows[i])) {
				nonzero++;
				printf("    %s row key %llu (pid %d uid %u gid %u): owned %llu bytes in "
				       "%u buffers, imported %llu bytes in %u, tokens %u\n",
				       kinds[kind], (unsigned long long)rows[i].key, (int)rows[i].pid,
				       (unsigned)rows[i].uid, (unsigned)rows[i].gid,
				       (unsigned long long)rows[i].owned_bytes, rows[i].owned_buffers,
				       (unsigned long long)rows[i].imported_bytes,
				       rows[i].imported_buffers, rows[i].tokens);
			}
		expect(err == 0 && nonzero == 0,
		       "Accounting(%ss): %zu rows, %zu with bytes, buffers or tokens (error %d)",
		       kinds[kind], n, nonzero, err);
		dmabufd_accounting_free(rows);
	}
	dmabufd_disconnect(cl);
}

/* ops[] row of @name (a name in the table). */
static size_t op_index(const char *name)
{
	for (size_t i = 0; i < NOPS; i++)
		if (strcmp(ops[i].name, name) == 0)
			return i;
	abort();
}

/*
 * The run did the work it is meant to survive, for every role present
 * (role_of(): worker 0 cycles, 5/6/7 mod 8 are malformed/fdflood/noread,
 * the rest normal): a run where nothing happened must not pass.
 * @random_kills: workers SIGKILLed by the --kill-ms timer.
 */
static void check_work_done(unsigned nclients, unsigned duration, unsigned kill_ms,
			    uint64_t random_kills)
{
	bool normal = false, malformed = false, fdflood = false;

	for (unsigned i = 0; i < nclients; i++) {
		normal |= role_of(i) == ROLE_NORMAL;
		malformed |= role_of(i) == ROLE_MALFORMED;
		fdflood |= role_of(i) == ROLE_FDFLOOD;
	}
	if (normal) {
		expect(ctr->op_done[op_index("alloc")] > 0, "allocations done: %llu",
		       (unsigned long long)ctr->op_done[op_index("alloc")]);
		expect(ctr->op_done[op_index("verify")] > 0, "verifies done: %llu",
		       (unsigned long long)ctr->op_done[op_index("verify")]);
	}
	if (kill_ms && kill_ms < duration * 1000u)
		expect(random_kills > 0, "workers SIGKILLed by the --kill-ms timer: %llu",
		       (unsigned long long)random_kills);
	if (malformed)
		expect(ctr->malformed_sent > 0, "malformed datagrams sent: %llu",
		       (unsigned long long)ctr->malformed_sent);
	if (fdflood)
		expect(ctr->fd_datagrams > 0, "fd flood datagrams sent: %llu",
		       (unsigned long long)ctr->fd_datagrams);
	/* As root, workers 1..4 mod 8 share with each other across uids. */
	if (getuid() == 0 && nclients >= 5)
		expect(ctr->imports_verified > 0, "imports verified (writer's pattern): %llu",
		       (unsigned long long)ctr->imports_verified);
}

/*
 * @capacity: the memfd capacity asked for (0: another backend);
 * @baseline_free: Stats.free_pages before the workers started.
 */
static int final_checks(struct daemon_proc *d, int baseline_fds, uint64_t capacity,
			uint64_t baseline_free)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__List l = DMABUFD__LIST__INIT;
	Dmabufd__Reply *r = NULL;
	int fds = -1, sock, status;
	uint64_t deadline;
	bool alive;

	printf("end checks:\n");
	alive = waitpid(d->pid, &status, WNOHANG) == 0;
	expect(alive, "daemon alive (pid %d)", (int)d->pid);
	if (!alive) {
		d->pid = 0;
		return 1;
	}
	expect(fresh_client_served(d->socket), "a fresh client is served");

	sock = raw_connect_hello(d->socket);
	expect(sock >= 0, "checker connected");
	if (sock < 0)
		return 1;
	/* Upper bounds only (TCG in the VM is slow); a fast daemon is done at once. */
	for (deadline = now_ms() + 30000;;) {
		r = raw_stats(sock, 10);
		if (!r || r->error || r->body_case != DMABUFD__REPLY__BODY_STATS ||
		    (r->stats->used == 0 && r->stats->buffers == 0 && r->stats->clients == 1 &&
		     r->stats->free_pages == baseline_free) ||
		    now_ms() >= deadline)
			break;
		dmabufd__reply__free_unpacked(r, NULL);
		sleep_ms(50);
	}
	expect(r && !r->error && r->body_case == DMABUFD__REPLY__BODY_STATS, "Stats answered");
	/*
	 * The baseline was taken with one idle checker connected as the only
	 * client; compare in the same state. Disconnects are processed
	 * asynchronously: the loop above gave the daemon up to 30 s.
	 */
	for (deadline = now_ms() + 10000;
	     (fds = count_fds(d->pid)) != baseline_fds && now_ms() < deadline;)
		sleep_ms(50);
	expect(fds == baseline_fds, "daemon fd count %d, baseline %d (checker connected)", fds,
	       baseline_fds);
	if (r && !r->error && r->body_case == DMABUFD__REPLY__BODY_STATS) {
		const Dmabufd__StatsReply *st = r->stats;

		expect(st->used == 0, "Stats.used %llu", (unsigned long long)st->used);
		expect(st->buffers == 0, "Stats.buffers %u", st->buffers);
		expect(st->clients == 1, "Stats.clients %u (the checker)", st->clients);
		/*
		 * memfd: every page of the capacity is free. kmod: the backend
		 * reserves the frames it found unusable at start (reserved,
		 * unmovable; daemon/backend/kmod.c) for good, so the free pages must
		 * be back to their count before the run.
		 */
		if (capacity)
			expect(st->page_size && st->free_pages * st->page_size == capacity &&
				       st->capacity == capacity,
			       "Stats.free_pages %llu x %u bytes == capacity %llu (%s backend)",
			       (unsigned long long)st->free_pages, st->page_size,
			       (unsigned long long)st->capacity, st->backend);
		else
			expect(st->free_pages == baseline_free && st->free_pages * st->page_size <= st->capacity,
			       "Stats.free_pages %llu == %llu before the run (%s backend, capacity %llu "
			       "bytes, %llu pages never usable)",
			       (unsigned long long)st->free_pages, (unsigned long long)baseline_free,
			       st->backend, (unsigned long long)st->capacity,
			       (unsigned long long)(st->capacity / (st->page_size ? st->page_size : 1) -
						    baseline_free));
		expect(st->tokens == 0 && st->imports == 0, "Stats.tokens %u, Stats.imports %u",
		       st->tokens, st->imports);
		printf("  daemon counters: allocs_total %llu allocs_failed %llu releases_total %llu\n"
		       "                   imports_total %llu owner_transfers %llu\n",
		       (unsigned long long)st->allocs_total, (unsigned long long)st->allocs_failed,
		       (unsigned long long)st->releases_total,
		       (unsigned long long)st->imports_total,
		       (unsigned long long)st->owner_transfers);
	}
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);

	req.id = 11;
	req.body_case = DMABUFD__REQUEST__BODY_LIST;
	req.list = &l;
	r = raw_send(sock, &req, NULL, 0) == 0 ? raw_recv(sock, REPLY_TIMEOUT_MS, NULL) : NULL;
	expect(r && !r->error && r->body_case == DMABUFD__REPLY__BODY_LIST &&
	       r->list->n_buffers == 0,
	       "List: no buffer charged to any uid (%zu listed)",
	       r && r->body_case == DMABUFD__REPLY__BODY_LIST ? r->list->n_buffers : (size_t)0);
	if (r)
		dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	check_accounting(d->socket);

	expect(ctr->corrupt == 0, "corrupted buffers seen: %llu", (unsigned long long)ctr->corrupt);
	expect(ctr->not_zeroed == 0, "fresh buffers not zeroed: %llu",
	       (unsigned long long)ctr->not_zeroed);
	expect(ctr->id_mismatch == 0, "replies with a wrong id: %llu",
	       (unsigned long long)ctr->id_mismatch);
	expect(ctr->import_mismatch == 0, "imports of another buffer than the token's: %llu",
	       (unsigned long long)ctr->import_mismatch);
	expect(ctr->access_violation == 0, "imports admitted for a peer the token does not name: %llu",
	       (unsigned long long)ctr->access_violation);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: dmabufd-stress [--clients N] [--duration SEC] [--kill-ms MS] [--seed S]\n"
		"                      [--capacity BYTES] [--backend NAME] [--daemon PATH]\n"
		"  --clients N      worker processes (default 64)\n"
		"  --duration SEC   how long the workers run (default 60)\n"
		"  --kill-ms MS     SIGKILL a random worker every MS ms (default 250; 0 = never)\n"
		"  --seed S         random seed (default: time)\n"
		"  --capacity BYTES the daemon's memfd capacity (default 33554432)\n"
		"  --backend NAME   run the daemon with --backend NAME (default memfd); other\n"
		"                   backends ignore --capacity\n"
		"  --daemon PATH    the daemon binary (default: the one of this build)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "kill-ms", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "capacity", required_argument, NULL, 'C' },
		{ "backend", required_argument, NULL, 'b' },
		{ "daemon", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned nclients = 64, duration = 60, kill_ms = 250;
	uint64_t random_kills = 0;
	uint64_t seed = (uint64_t)time(NULL), capacity = 32ull << 20, end, next_kill;
	char capacity_arg[32], conf[128], conf_text[160];
	const char *args[] = { "--capacity", capacity_arg, "--max-clients", "256",
			       "--max-buffers", "64", NULL };
	const char *backend = "memfd";
	struct daemon_proc d;
	Dmabufd__Reply *r;
	uint64_t baseline_free;
	pid_t *pids;
	int opt, baseline_fds, status, sock;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			nclients = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			kill_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'C':
			capacity = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			backend = optarg;
			break;
		case 'D':
			setenv("DMABUFD_TEST_DAEMON", optarg, 1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (nclients < 1 || nclients > MAX_CLIENTS || duration < 1 || duration > 3600 ||
	    capacity < 4096 || capacity % 4096) {
		usage(stderr);
		return 2;
	}
	snprintf(capacity_arg, sizeof(capacity_arg), "%llu", (unsigned long long)capacity);
	nworkers = nclients;
	signal(SIGPIPE, SIG_IGN);
	rng_state = seed | 1;
	/* The harness passes --backend from the environment. */
	setenv("DMABUFD_TEST_BACKEND", backend, 1);
	if (strcmp(backend, "memfd") != 0)
		capacity = 0; /* the backend decides; checked against Stats.capacity */
	/* Admit this uid and, as root, the workers' test uids (the built-in
	 * policy admits root and group "dmabuf" only). */
	snprintf(conf_text, sizeof(conf_text), "[access]\nusers = %u %u %u\n",
		 (unsigned)getuid(), test_uids[0], test_uids[1]);

	ctr = mmap(NULL, sizeof(*ctr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	pids = calloc(nclients, sizeof(*pids));
	if (ctr == MAP_FAILED || board == MAP_FAILED || !pids) {
		perror("dmabufd-stress");
		return 1;
	}
	if (daemon_start_conf(&d, conf_text, args, conf) < 0) {
		fprintf(stderr, "dmabufd-stress: the daemon did not start\n");
		return 1;
	}
	/* Baseline: one idle checker connected as the daemon's only client. */
	sock = raw_connect_alone(d.socket, 10000);
	if (sock < 0) {
		fprintf(stderr, "dmabufd-stress: cannot connect to the daemon\n");
		daemon_stop_conf(&d, conf);
		return 1;
	}
	baseline_fds = count_fds(d.pid);
	r = raw_stats(sock, 2);
	if (!r || r->error || r->body_case != DMABUFD__REPLY__BODY_STATS) {
		fprintf(stderr, "dmabufd-stress: no Stats from the daemon\n");
		daemon_stop_conf(&d, conf);
		return 1;
	}
	baseline_free = r->stats->free_pages;
	dmabufd__reply__free_unpacked(r, NULL);
	close(sock);
	printf("dmabufd-stress: %u clients, %u s, kill every %u ms, seed %llu, daemon pid %d, "
	       "%s backend, baseline %d fds, %llu free pages\n", nclients, duration, kill_ms,
	       (unsigned long long)seed, (int)d.pid, backend, baseline_fds,
	       (unsigned long long)baseline_free);
	fflush(stdout);

	for (unsigned i = 0; i < nclients; i++) {
		pids[i] = spawn(i, d.socket, seed);
		COUNT(spawned, 1);
	}
	end = now_ms() + (uint64_t)duration * 1000u;
	next_kill = now_ms() + kill_ms;
	while (now_ms() < end) {
		pid_t pid;

		sleep_ms(10);
		/* Replace workers that died on their own (should not happen). */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (unsigned i = 0; i < nclients; i++)
				if (pids[i] == pid && pid != d.pid) {
					fprintf(stderr, "worker %u (%s) exited on its own: status 0x%x\n",
						i, role_names[role_of(i)], status);
					failures++;
					pids[i] = spawn(i, d.socket, seed + now_ms());
				}
			if (pid == d.pid) {
				fprintf(stderr, "dmabufd-stress: the daemon died, status 0x%x\n", status);
				d.pid = 0;
				end = 0;
			}
		}
		if (kill_ms && now_ms() >= next_kill) {
			unsigned i = rnd_below(nclients);

			next_kill += kill_ms;
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			COUNT(killed, 1);
			random_kills++;
			COUNT(imports_killed, board->worker_imports[i]);
			board->worker_imports[i] = 0;
			pids[i] = spawn(i, d.socket, seed + now_ms());
			COUNT(spawned, 1);
		}
	}

	/* Ask the workers to stop; kill whoever is still busy after 5 s. */
	__atomic_store_n(&ctr->stop, 1, __ATOMIC_RELAXED);
	for (uint64_t deadline = now_ms() + 5000; now_ms() < deadline;) {
		bool any = false;

		for (unsigned i = 0; i < nclients; i++)
			if (pids[i] > 0) {
				if (waitpid(pids[i], &status, WNOHANG) == pids[i])
					pids[i] = 0;
				else
					any = true;
			}
		if (!any)
			break;
		sleep_ms(20);
	}
	for (unsigned i = 0; i < nclients; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			COUNT(killed, 1);
			COUNT(imports_killed, board->worker_imports[i]);
		}

	printf("figures:\n");
	for (size_t i = 0; i < NOPS; i++)
		printf("  op %-10s done %10llu  refused %8llu\n", ops[i].name,
		       (unsigned long long)ctr->op_done[i], (unsigned long long)ctr->op_refused[i]);
	printf("  allocs refused with -ENOSPC     %llu\n", (unsigned long long)ctr->enospc);
	printf("  malformed datagrams sent        %llu\n", (unsigned long long)ctr->malformed_sent);
	printf("  datagrams carrying fds          %llu (%llu fds)\n",
	       (unsigned long long)ctr->fd_datagrams, (unsigned long long)ctr->fds_sent);
	printf("  requests never read (noread)    %llu\n", (unsigned long long)ctr->noread_requests);
	printf("  connections                     %llu (%llu by the connect/disconnect loop)\n",
	       (unsigned long long)ctr->connects, (unsigned long long)ctr->cycler_connects);
	printf("  disconnected by the daemon      %llu\n",
	       (unsigned long long)ctr->disconnects_by_daemon);
	printf("  workers SIGKILLed               %llu (spawned %llu)\n",
	       (unsigned long long)ctr->killed, (unsigned long long)ctr->spawned);
	printf("  reply timeouts                  %llu\n", (unsigned long long)ctr->timeouts);
	printf("  tokens published on the board   %llu\n",
	       (unsigned long long)ctr->tokens_published);
	printf("  imports refused: token dead     %llu\n",
	       (unsigned long long)ctr->import_dead_token);
	printf("  imports verified (writer's pattern) %llu\n",
	       (unsigned long long)ctr->imports_verified);
	printf("  imports by peers not named, refused %llu\n",
	       (unsigned long long)ctr->import_denied);
	printf("  imports of another uid's buffer %llu\n",
	       (unsigned long long)ctr->imports_cross_uid);
	printf("  imports dropped by SIGKILL      %llu\n",
	       (unsigned long long)ctr->imports_killed);
	printf("  uids charged at once (most seen) %llu\n",
	       (unsigned long long)ctr->max_uid_rows);

	if (d.pid > 0)
		final_checks(&d, baseline_fds, capacity, baseline_free);
	else
		expect(false, "daemon alive");
	check_work_done(nclients, duration, kill_ms, random_kills);
	if (d.pid > 0) {
		status = daemon_stop_conf(&d, conf);
		expect(status == 0, "daemon exit status on SIGTERM: %d", status);
	}
	unlink(conf);
	printf("dmabufd-stress: %s (%d failed checks)\n", failures ? "FAIL" : "PASS", failures);
	free(pids);
	return failures ? 1 : 0;
}
