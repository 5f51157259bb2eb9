/* SPDX-License-Identifier: MIT */
/*
 * Sharing: Share/Import/Unshare/Revoke, the accounting of owners and
 * importers, and the ownership transfer when an owner exits.
 *
 * Rules (docs/SHARING.md):
 * - Only a buffer's owner may Share it. A token is 128 bits from
 *   getrandom(2); the daemon finds it by scanning every live token with a
 *   constant-time compare, so the time an Import takes depends on the
 *   number of live tokens only, never on how close a guess was.
 * - Unknown, expired, used and withdrawn tokens all give -ENOENT with the
 *   same reason; a live token presented by a peer it does not name gives
 *   -EACCES. Neither reply names a buffer.
 * - The owner is the client charged for a buffer. Importers are recorded
 *   and their imported bytes shown, but not charged.
 * - When the owner disconnects or Releases the buffer, the buffer passes to
 *   its earliest import (oldest Import first) whose process is alive: a
 *   connected client, or, after a restart, a process that has not
 *   connected again. It becomes the owner. It is charged from then on when
 *   its quotas admit the buffer; otherwise the earlier charged uid and gid
 *   stay charged until the buffer is released, so that passing a buffer
 *   back and forth never takes a uid over its quota. Without an importer
 *   the buffer is released. Tokens die with their creator.
 */
#include "share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buffer.h"
#include "clock.h"
#include "log.h"
#include "macros.h"
#include "registry.h"
#include "reply.h"
#include "share_charge.h"

#define ACCOUNTING_PAGE_MAX 128u


int share_init(struct server *s)
{
	return buffer_on_release(s, share_buffer_gone);
}

bool share_token_equal(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1, diff;

	/* Two word compares OR-ed together: no data-dependent branch or exit. */
	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	diff = (a0 ^ b0) | (a1 ^ b1);
	/* 1 when diff == 0: (diff | -diff) has its top bit set iff diff != 0. */
	return (((diff | (0 - diff)) >> 63) ^ 1) != 0;
}

/*
 * The live token equal to @secret, or NULL. Visits every token and selects
 * the match with a mask, not a branch.
 */
static struct share_token *token_find(struct server *s, const uint8_t *secret)
{
	uintptr_t found = 0;
	struct share_token *t;

	TAILQ_FOREACH(t, &s->tokens, link) {
		uintptr_t mask = -(uintptr_t)share_token_equal(t->secret, secret);

		found = (found & ~mask) | ((uintptr_t)t & mask);
	}
	return (struct share_token *)found;
}

static void token_free(struct server *s, struct share_token *t)
{
	TAILQ_REMOVE(&s->tokens, t, link);
	s->ntokens--;
	t->buffer->ntokens--;
	t->creator->ntokens--;
	explicit_bzero(t->secret, sizeof(t->secret));
	free(t->ids);
	free(t);
}

void share_sweep_expired(struct server *s)
{
	uint64_t now = monotonic_usec(), next_expiry = UINT64_MAX;
	struct share_token *t, *next;

	/* Nothing expires before the earliest expiry seen: skip the walk. */
	if (now < s->tokens_next_expiry)
		return;
	for (t = TAILQ_FIRST(&s->tokens); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (t->expires_mono_usec <= now)
			token_free(s, t);
		else if (t->expires_mono_usec < next_expiry)
			next_expiry = t->expires_mono_usec;
	}
	s->tokens_next_expiry = next_expiry;
}

/* Does token @t name the peer @c? */
static bool token_names(const struct share_token *t, const struct client *c)
{
	const uint32_t *uids = t->ids, *gids = t->ids + t->nuids, *pids = gids + t->ngids;

	if (!t->nuids && !t->ngids && !t->npids)
		return c->cred.uid == t->buffer->uid; /* the sharer's own uid */
	for (uint32_t i = 0; i < t->nuids; i++)
		if (uids[i] == c->cred.uid)
			return true;
	for (uint32_t i = 0; i < t->ngids; i++) {
		if (gids[i] == c->cred.gid)
			return true;
		for (size_t k = 0; k < c->ngroups; k++)
			if (gids[i] == c->groups[k])
				return true;
	}
	for (uint32_t i = 0; i < t->npids; i++)
		if ((pid_t)pids[i] == c->cred.pid)
			return true;
	return false;
}

static void import_free(struct server *s, struct import *im)
{
	struct buffer *b = im->buffer;
	struct client *c = im->client;

	/* fdstore.c: its record, and the orphan list of a restored import. */
	if (s->store && s->store->import_removed)
		s->store->import_removed(s, im);
	TAILQ_REMOVE(&b->importers, im, buffer_link);
	b->nimporters--;
	if (c) {
		TAILQ_REMOVE(&c->imports, im, client_link);
		c->nimports--;
	}
	s->nimports--;
	ledger_uncharge(&s->ledger, c ? &c->usage : NULL, im->uid, im->gid, false, b->size,
			b->attribute);
	free(im);
}

void share_import_drop(struct server *s, struct import *im)
{
	import_free(s, im);
}

/* Tells the fd store that @b's owner or charge changed. */
static void store_buffer_changed(struct server *s, struct buffer *b)
{
	if (s->store && s->store->buffer_changed)
		s->store->buffer_changed(s, b);
}

static struct import *import_find(const struct buffer *b, const struct client *c)
{
	struct import *im;

	TAILQ_FOREACH(im, &b->importers, buffer_link)
		if (im->client == c)
			return im;
	return NULL;
}

bool share_buffer_visible(const struct client *c, const struct buffer *b)
{
	return c->cred.uid == 0 || b->uid == c->cred.uid || import_find(b, c);
}

/* May @c see the accounting row of client @o? Of gid @gid? (docs/SHARING.md) */
static bool client_row_visible(const struct client *c, const struct client *o)
{
	return c->cred.uid == 0 || o->cred.uid == c->cred.uid;
}

static bool gid_visible(const struct client *c, gid_t gid)
{
	if (c->cred.uid == 0 || c->cred.gid == gid)
		return true;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

void share_buffer_gone(struct server *s, struct buffer *b)
{
	struct share_token *t, *next;
	struct import *im;

	if (b->ntokens) {
		for (t = TAILQ_FIRST(&s->tokens); t; t = next) {
			next = TAILQ_NEXT(t, link);
			if (t->buffer == b)
				token_free(s, t);
		}
	}
	while ((im = TAILQ_FIRST(&b->importers)))
		import_free(s, im);
	share_charge_drop(s, b);
}

/*
 * Moves @b from its owner (a client, or none: an orphan whose process
 * exited) to the importer @im (which is consumed). The new owner is charged
 * when its connection's, uid's and gid's quotas admit the buffer; otherwise
 * the uid and gid charged so far stay charged (no connection is), so
 * ownership passed back and forth never takes a uid over its quota.
 * Return: 0, or -ENOMEM (@b is then owned and charged by no one: the
 * caller releases it).
 */
static int transfer_ownership(struct server *s, struct buffer *b, struct import *im)
{
	static const struct usage zero;
	struct client *old = b->owner, *nw = im->client;
	uid_t old_uid = b->charged_uid;
	gid_t old_gid = b->charged_gid;
	pid_t old_pid = b->pid;
	struct share_token *t, *next;
	struct import who = *im;
	char reason[REASON_MAX];
	bool kept = false;

	/* The old owner's tokens for @b die: it no longer decides who imports. */
	if (b->ntokens && old) {
		for (t = TAILQ_FIRST(&s->tokens); t; t = next) {
			next = TAILQ_NEXT(t, link);
			if (t->buffer == b && t->creator == old)
				token_free(s, t);
		}
	}
	share_charge_drop(s, b);
	if (old) {
		TAILQ_REMOVE(&old->buffers, b, owner_link);
		old->nbuffers--;
	}
	b->owner = NULL;
	import_free(s, im);
	if (policy_check_quota(s->config.policy, &s->ledger, nw ? &nw->usage : &zero, who.uid,
			       who.gid, b->size, b->attribute, reason, sizeof(reason)) == 0 &&
	    ledger_charge(&s->ledger, nw ? &nw->usage : NULL, who.uid, who.gid, true, b->size,
			  b->attribute) == 0) {
		b->charged_uid = who.uid;
		b->charged_gid = who.gid;
		b->charged_client = nw != NULL;
	} else if (ledger_charge(&s->ledger, NULL, old_uid, old_gid, true, b->size,
				 b->attribute) == 0) {
		kept = true;
		b->charged_client = false;
	} else {
		return -ENOMEM;
	}
	b->charged = true;
	b->pid = who.pid;
	b->uid = who.uid;
	b->gid = who.gid;
	b->owner_start = who.start;
	memcpy(b->comm, who.comm, sizeof(b->comm));
	b->owner_transfers++;
	s->share_counters.owner_transfers++;
	if (nw) {
		b->owner = nw;
		TAILQ_INSERT_TAIL(&nw->buffers, b, owner_link);
		nw->nbuffers++;
	} else if (s->store && s->store->orphan_owned) {
		/* A restored import: the buffer waits for that process as an orphan. */
		s->store->orphan_owned(s, b);
	}
	store_buffer_changed(s, b);
	if (kept)
		log_info("buffer %llu: owner pid %d let go; ownership moved to importer pid %d (%s), "
			 "the charge stays with uid %u (%s)",
			 (unsigned long long)b->id, (int)old_pid, (int)who.pid, who.comm,
			 (unsigned)old_uid, reason);
	else
		log_info("buffer %llu: owner pid %d let go; ownership and charge moved to importer pid %d (%s)",
			 (unsigned long long)b->id, (int)old_pid, (int)who.pid, who.comm);
	return 0;
}

void share_orphan_owner_gone(struct server *s, struct buffer *b)
{
	struct import *im = TAILQ_FIRST(&b->importers);

	if (!im || transfer_ownership(s, b, im) < 0)
		buffer_release(s, b);
}

int share_owner_release(struct server *s, struct client *c, struct buffer *b)
{
	struct import *im = TAILQ_FIRST(&b->importers);

	if (!im)
		return 0;
	if (transfer_ownership(s, b, im) < 0)
		buffer_release(s, b); /* out of memory: nobody is charged */
	return 1;
}

void share_client_gone(struct server *s, struct client *c)
{
	struct share_token *t, *tnext;
	struct import *im;
	struct buffer *b, *bnext;

	while ((im = TAILQ_FIRST(&c->imports)))
		import_free(s, im);
	if (c->ntokens) {
		for (t = TAILQ_FIRST(&s->tokens); t; t = tnext) {
			tnext = TAILQ_NEXT(t, link);
			if (t->creator == c)
				token_free(s, t);
		}
	}
	for (b = TAILQ_FIRST(&c->buffers); b; b = bnext) {
		bnext = TAILQ_NEXT(b, owner_link);
		im = TAILQ_FIRST(&b->importers);
		if (!im)
			continue; /* released by client_destroy() */
		if (transfer_ownership(s, b, im) < 0)
			buffer_release(s, b);
	}
}

int share_release_import(struct server *s, struct client *c, struct buffer *b)
{
	struct import *im = import_find(b, c);

	if (!im)
		return -ENOENT;
	import_free(s, im);
	return 0;
}

int server_admit_peer(struct server *s, uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
		      char *reason, size_t reason_len)
{
	int err = policy_check_access(s->config.policy, uid, gid, groups, ngroups, reason,
				      reason_len);

	if (err < 0)
		s->share_counters.access_refusals++;
	return err;
}

void handle_share(struct client *c, uint64_t id, const Dmabufd__Share *req)
{
	struct server *s = c->server;
	const struct share_limits *lim = &s->config.policy->share;
	struct buffer *b = registry_lookup(&s->registry, req->buffer_id);
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__ShareReply sr = DMABUFD__SHARE_REPLY__INIT;
	uint64_t ntargets = (uint64_t)req->n_uids + req->n_gids + req->n_pids;
	uint32_t expiry = req->expiry_sec ? req->expiry_sec : lim->max_expiry_sec;
	struct share_token *t;
	size_t k = 0;

	if (!b || b->owner != c)
		return reply_error(c, id, -ENOENT,
				   reasonf(&c->reason, "this client owns no buffer %llu",
					   (unsigned long long)req->buffer_id));
	if (ntargets > lim->max_targets_per_token)
		return reply_error(c, id, -E2BIG,
				   reasonf(&c->reason, "%llu share targets; [share] max-targets-per-token = %u",
					   (unsigned long long)ntargets,
					   lim->max_targets_per_token));
	if (expiry > lim->max_expiry_sec)
		return reply_error(c, id, -EINVAL,
				   reasonf(&c->reason, "expiry %u s is above [share] max-expiry = %u s",
					   req->expiry_sec, lim->max_expiry_sec));
	for (size_t i = 0; i < req->n_pids; i++)
		if (req->pids[i] <= 0)
			return reply_error(c, id, -EINVAL,
					   reasonf(&c->reason, "pid %d is not a process id", req->pids[i]));
	for (size_t i = 0; i < req->n_uids; i++)
		if (req->uids[i] == (uint32_t)-1)
			return reply_error(c, id, -EINVAL, "uid 4294967295 is not a user id");
	for (size_t i = 0; i < req->n_gids; i++)
		if (req->gids[i] == (uint32_t)-1)
			return reply_error(c, id, -EINVAL, "gid 4294967295 is not a group id");
	share_sweep_expired(s);
	if (b->ntokens >= lim->max_tokens_per_buffer)
		return reply_error(c, id, -ETOOMANYREFS,
				   reasonf(&c->reason, "buffer %llu has %u live tokens; [share] max-tokens-per-buffer = %u",
					   (unsigned long long)b->id, b->ntokens,
					   lim->max_tokens_per_buffer));
	if (c->ntokens >= lim->max_tokens_per_client)
		return reply_error(c, id, -ETOOMANYREFS,
				   reasonf(&c->reason, "this client has %u live tokens; [share] max-tokens-per-client = %u",
					   c->ntokens, lim->max_tokens_per_client));

	t = calloc(1, sizeof(*t));
	if (!t)
		return reply_error(c, id, -ENOMEM, "out of memory");
	if (ntargets) {
		t->ids = calloc(ntargets, sizeof(*t->ids));
		if (!t->ids) {
			free(t);
			return reply_error(c, id, -ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < req->n_uids; i++)
		t->ids[k++] = req->uids[i];
	for (size_t i = 0; i < req->n_gids; i++)
		t->ids[k++] = req->gids[i];
	for (size_t i = 0; i < req->n_pids; i++)
		t->ids[k++] = (uint32_t)req->pids[i];
	t->nuids = (uint32_t)req->n_uids;
	t->ngids = (uint32_t)req->n_gids;
	t->npids = (uint32_t)req->n_pids;
	/* Up to 256 bytes, getrandom(2) never returns a short read once the
	 * pool is initialised (it blocks until then). */
	if (getrandom(t->secret, sizeof(t->secret), 0) != (ssize_t)sizeof(t->secret)) {
		free(t->ids);
		free(t);
		return reply_error(c, id, -EAGAIN, "getrandom failed; try again");
	}
	t->buffer = b;
	t->creator = c;
	t->single_use = req->single_use;
	t->expires_mono_usec = monotonic_usec() + (uint64_t)expiry * 1000000u;
	if (t->expires_mono_usec < s->tokens_next_expiry)
		s->tokens_next_expiry = t->expires_mono_usec;
	t->expires_usec = realtime_usec() + (uint64_t)expiry * 1000000u;
	TAILQ_INSERT_TAIL(&s->tokens, t, link);
	s->ntokens++;
	b->ntokens++;
	c->ntokens++;

	sr.token.data = t->secret;
	sr.token.len = sizeof(t->secret);
	sr.expires_usec = t->expires_usec;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_SHARE;
	reply.share = &sr;
	if (client_queue_reply(c, &reply, -1) < 0) {
		token_free(s, t);
		c->protocol_errors = UINT32_MAX;
		return;
	}
	log_debug("buffer %llu shared by pid %d (%u uids, %u gids, %u pids, %s, %u s)",
		  (unsigned long long)b->id, (int)c->cred.pid, t->nuids, t->ngids, t->npids,
		  t->single_use ? "single use" : "reusable", expiry);
}

static const char no_token_reason[] =
	"no live token matches (unknown, expired, already used or withdrawn)";

/*
 * Finds the live token @tok (expired ones swept first) into *@ret_t: NULL
 * when there is none. Return: NULL, or why @tok cannot be a token at all
 * (the caller refuses with -EINVAL; *@ret_t untouched).
 */
static const char *token_lookup(struct client *c, const ProtobufCBinaryData *tok,
				struct share_token **ret_t)
{
	if (tok->len != SHARE_TOKEN_BYTES)
		return reasonf(&c->reason, "a token is %u bytes, not %zu", SHARE_TOKEN_BYTES,
			       tok->len);
	share_sweep_expired(c->server);
	*ret_t = token_find(c->server, tok->data);
	return NULL;
}

void handle_import(struct client *c, uint64_t id, const Dmabufd__Import *req)
{
	struct server *s = c->server;
	const struct share_limits *lim = &s->config.policy->share;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__ImportReply ir = DMABUFD__IMPORT_REPLY__INIT;
	struct import *im = NULL;
	struct share_token *t;
	const char *why;
	struct buffer *b;
	int err;

	why = token_lookup(c, &req->token, &t);
	if (why)
		return reply_error(c, id, -EINVAL, why);
	if (!t)
		return reply_error(c, id, -ENOENT, no_token_reason);
	if (!token_names(t, c))
		return reply_error(c, id, -EACCES,
				   "this token was not shared with this peer's uid, groups or pid");
	b = t->buffer;
	if (b->owner != c && !import_find(b, c)) {
		if (b->nimporters >= lim->max_importers_per_buffer)
			return reply_error(c, id, -ETOOMANYREFS,
					   reasonf(&c->reason, "the buffer has %u importers; [share] max-importers-per-buffer = %u",
						   b->nimporters, lim->max_importers_per_buffer));
		if (c->nimports >= lim->max_imports_per_client)
			return reply_error(c, id, -EMFILE,
					   reasonf(&c->reason, "this client holds %u imports; [share] max-imports-per-client = %u",
						   c->nimports, lim->max_imports_per_client));
		im = calloc(1, sizeof(*im));
		if (!im)
			return reply_error(c, id, -ENOMEM, "out of memory");
		err = ledger_charge(&s->ledger, &c->usage, c->cred.uid, c->cred.gid, false, b->size,
				    b->attribute);
		if (err < 0) {
			free(im);
			return reply_error(c, id, err, "out of memory");
		}
		im->buffer = b;
		im->client = c;
		im->imported_usec = realtime_usec();
		im->pid = c->cred.pid;
		im->uid = c->cred.uid;
		im->gid = c->cred.gid;
		memcpy(im->comm, c->comm, sizeof(im->comm));
		TAILQ_INSERT_TAIL(&b->importers, im, buffer_link);
		b->nimporters++;
		TAILQ_INSERT_TAIL(&c->imports, im, client_link);
		c->nimports++;
		s->nimports++;
	}

	ir.buffer_id = b->id;
	ir.size = b->size;
	ir.attribute = (Dmabufd__Attribute)b->attribute;
	ir.flags = b->flags;
	ir.offset = b->offset;
	ir.owner_pid = b->pid;
	ir.owner_uid = b->uid;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_IMPORT;
	reply.import = &ir;
	err = client_queue_reply(c, &reply, b->fd);
	if (err < 0) {
		if (im)
			import_free(s, im);
		return reply_error(c, id, err, "could not queue the reply");
	}
	s->share_counters.imports_total++;
	if (im && s->store && s->store->import_added)
		s->store->import_added(s, im);
	log_debug("buffer %llu imported by pid %d uid %u (%s)", (unsigned long long)b->id,
		  (int)c->cred.pid, (unsigned)c->cred.uid, c->comm);
	if (t->single_use)
		token_free(s, t);
}

void handle_unshare(struct client *c, uint64_t id, const Dmabufd__Unshare *req)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	struct share_token *t;
	const char *why;

	why = token_lookup(c, &req->token, &t);
	if (why)
		return reply_error(c, id, -EINVAL, why);
	/* Someone else's token looks exactly like a missing one. */
	if (!t || (t->creator != c && t->buffer->owner != c))
		return reply_error(c, id, -ENOENT, no_token_reason);
	token_free(s, t);
	reply.id = id;
	reply_send(c, &reply, -1);
}

void handle_revoke(struct client *c, uint64_t id, const Dmabufd__Revoke *req)
{
	struct server *s = c->server;
	struct buffer *b = registry_lookup(&s->registry, req->buffer_id);
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	struct server_backend *sb;
	const char *reason = NULL;
	int err;

	if (!b)
		return reply_error(c, id, -ENOENT,
				   reasonf(&c->reason, "no buffer %llu", (unsigned long long)req->buffer_id));
	if (b->owner != c && c->cred.uid != 0 && c->cred.uid != b->uid)
		return reply_error(c, id, -EPERM, "only root or the buffer's owner may revoke it");
	sb = buffer_home(s, b); /* the backend that made it revokes it */
	if (!sb->backend->ops->revoke)
		return reply_error(c, id, -EOPNOTSUPP,
				   reasonf(&c->reason, "the %s backend cannot revoke: its fds are plain memory "
					   "that stays valid while any process holds it",
					   sb->caps.name));
	err = sb->backend->ops->revoke(sb->backend, b, &reason);
	if (err < 0)
		return reply_error(c, id, err, reason ? reason : "the backend could not revoke");
	log_info("buffer %llu revoked by pid %d uid %u", (unsigned long long)b->id,
		 (int)c->cred.pid, (unsigned)c->cred.uid);
	buffer_release(s, b);
	reply.id = id;
	reply_send(c, &reply, -1);
}

static void fill_usage(Dmabufd__AccountingEntry *e, const struct usage *u, uint64_t *owned_attr,
		       uint64_t *imported_attr)
{
	for (int a = 0; a < ATTR_COUNT; a++) {
		owned_attr[a] = u->owned_bytes[a];
		imported_attr[a] = u->imported_bytes[a];
	}
	e->owned_bytes = usage_total(u->owned_bytes);
	e->owned_buffers = u->owned_buffers;
	e->imported_bytes = usage_total(u->imported_bytes);
	e->imported_buffers = u->imported_buffers;
	e->n_owned_bytes_by_attribute = ATTR_COUNT;
	e->owned_bytes_by_attribute = owned_attr;
	e->n_imported_bytes_by_attribute = ATTR_COUNT;
	e->imported_bytes_by_attribute = imported_attr;
}

void handle_accounting(struct client *c, uint64_t id, const Dmabufd__Accounting *req)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__AccountingReply ur = DMABUFD__ACCOUNTING_REPLY__INIT;
	uint32_t max = req->max_entries && req->max_entries < ACCOUNTING_PAGE_MAX ? req->max_entries
									     : ACCOUNTING_PAGE_MAX;
	struct row {
		Dmabufd__AccountingEntry e;
		uint64_t owned[ATTR_COUNT], imported[ATTR_COUNT];
	} *rows;
	_cleanup_free_ Dmabufd__AccountingEntry **ptrs = NULL;
	size_t n = 0;
	bool more = false;

	rows = calloc(max, sizeof(*rows));
	ptrs = calloc(max, sizeof(*ptrs));
	if (!rows || !ptrs) {
		free(rows);
		return reply_error(c, id, -ENOMEM, "out of memory");
	}
	switch (req->kind) {
	case DMABUFD__ACCOUNTING_KIND__ACCOUNTING_CLIENTS: {
		struct client *o;

		/* Clients are in connection order, so serials increase. */
		TAILQ_FOREACH(o, &s->clients, link) {
			Dmabufd__AccountingEntry *e;

			if (o->serial <= req->start_after || !client_row_visible(c, o))
				continue;
			if (n == max) {
				more = true;
				break;
			}
			e = &rows[n].e;
			dmabufd__accounting_entry__init(e);
			e->key = o->serial;
			e->pid = o->cred.pid;
			e->uid = o->cred.uid;
			e->gid = o->cred.gid;
			e->comm = o->comm;
			e->tokens = o->ntokens;
			fill_usage(e, &o->usage, rows[n].owned, rows[n].imported);
			ptrs[n] = e;
			n++;
		}
		break;
	}
	case DMABUFD__ACCOUNTING_KIND__ACCOUNTING_UIDS:
	case DMABUFD__ACCOUNTING_KIND__ACCOUNTING_GIDS: {
		bool gids = req->kind == DMABUFD__ACCOUNTING_KIND__ACCOUNTING_GIDS;
		struct account *a;

		TAILQ_FOREACH(a, gids ? &s->ledger.gids : &s->ledger.uids, link) {
			Dmabufd__AccountingEntry *e;

			if ((uint64_t)a->id + 1 <= req->start_after)
				continue;
			if (gids ? !gid_visible(c, a->id) : c->cred.uid != 0 && a->id != c->cred.uid)
				continue;
			if (n == max) {
				more = true;
				break;
			}
			e = &rows[n].e;
			dmabufd__accounting_entry__init(e);
			e->key = (uint64_t)a->id + 1;
			if (gids)
				e->gid = a->id;
			else
				e->uid = a->id;
			e->comm = (char *)"";
			fill_usage(e, &a->usage, rows[n].owned, rows[n].imported);
			ptrs[n] = e;
			n++;
		}
		break;
	}
	default:
		free(rows);
		return reply_error(c, id, -EINVAL, reasonf(&c->reason, "unknown accounting kind %d", (int)req->kind));
	}
	ur.kind = req->kind;
	ur.n_entries = n;
	ur.entries = ptrs;
	ur.more = more;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_ACCOUNTING;
	reply.accounting = &ur;
	/* 128 entries of at most ~120 bytes each fit in a datagram. */
	reply_send(c, &reply, -1);
	free(rows);
}

int share_fill_importers(struct buffer *b, Dmabufd__ImporterInfo ***ret)
{
	Dmabufd__ImporterInfo **ptrs, *infos;
	struct import *im;
	size_t n = 0;

	*ret = NULL;
	if (!b->nimporters)
		return 0;
	/* One allocation: the pointer array, then the messages (both 8-aligned). */
	ptrs = calloc(b->nimporters, sizeof(*ptrs) + sizeof(*infos));
	if (!ptrs)
		return -ENOMEM;
	infos = (Dmabufd__ImporterInfo *)(void *)(ptrs + b->nimporters);
	TAILQ_FOREACH(im, &b->importers, buffer_link) {
		Dmabufd__ImporterInfo *ii = &infos[n];

		dmabufd__importer_info__init(ii);
		ii->pid = im->pid;
		ii->uid = im->uid;
		ii->gid = im->gid;
		ii->comm = im->comm;
		ii->imported_usec = im->imported_usec;
		ptrs[n++] = ii;
	}
	*ret = ptrs;
	return (int)n;
}
