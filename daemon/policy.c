/* SPDX-License-Identifier: MIT */
/*
 * Access control, quotas and the accounting ledger (policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macros.h"

#define PEER_GROUPS_MAX 65536u

/* The per-attribute quota keys of the configuration ([quota] and reasons). */
static const char *const attr_quota_keys[ATTR_COUNT] = { "cached-bytes", "writecombine-bytes",
							    "uncached-bytes" };

const char *policy_quota_attr_key(enum dmabufd_attribute attr)
{
	return (unsigned)attr < ATTR_COUNT ? attr_quota_keys[attr] : NULL;
}

struct quota_limits quota_limits_unlimited(void)
{
	return (struct quota_limits){
		.bytes = QUOTA_UNLIMITED,
		.buffers = QUOTA_UNLIMITED,
		.attr_bytes = { QUOTA_UNLIMITED, QUOTA_UNLIMITED, QUOTA_UNLIMITED },
	};
}

struct policy *policy_new_default(void)
{
	struct policy *p = calloc(1, sizeof(*p));
	struct group *gr;

	if (!p)
		return NULL;
	p->users = calloc(1, sizeof(*p->users));
	if (!p->users) {
		free(p);
		return NULL;
	}
	p->users[0] = 0;
	p->nusers = 1;
	gr = getgrnam("dmabuf");
	if (gr) {
		p->groups = calloc(1, sizeof(*p->groups));
		if (!p->groups) {
			policy_free(p);
			return NULL;
		}
		p->groups[0] = gr->gr_gid;
		p->ngroups = 1;
	}
	p->client = quota_limits_unlimited();
	p->uid_default = quota_limits_unlimited();
	p->gid_default = quota_limits_unlimited();
	p->share = SHARE_LIMITS_DEFAULT;
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->users);
	free(p->groups);
	free(p->admins);
	free(p->rules);
	free(p);
}

static bool gid_listed(const struct policy *p, gid_t gid)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

int policy_check_access(const struct policy *p, uid_t uid, gid_t gid, const gid_t *groups,
			size_t ngroups, char *reason, size_t reason_len)
{
	if (p->allow_any_user || policy_is_admin(p, uid))
		return 0;
	for (size_t i = 0; i < p->nusers; i++)
		if (p->users[i] == uid)
			return 0;
	if (gid_listed(p, gid))
		return 0;
	for (size_t i = 0; i < ngroups; i++)
		if (gid_listed(p, groups[i]))
			return 0;
	snprintf(reason, reason_len,
		 "access denied: uid %u is not in [access] users and none of its groups is in [access] groups",
		 (unsigned)uid);
	return -EACCES;
}

bool policy_is_admin(const struct policy *p, uid_t uid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; i < p->nadmins; i++)
		if (p->admins[i] == uid)
			return true;
	return false;
}

static const struct quota_limits *find_rule(const struct policy *p, bool is_gid, uint32_t id)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].is_gid == is_gid && p->rules[i].id == id)
			return &p->rules[i].limits;
	return NULL;
}

const struct quota_limits *policy_uid_limits(const struct policy *p, uid_t uid)
{
	const struct quota_limits *q = find_rule(p, false, uid);

	return q ? q : &p->uid_default;
}

const struct quota_limits *policy_gid_limits(const struct policy *p, gid_t gid)
{
	const struct quota_limits *q = find_rule(p, true, gid);

	return q ? q : &p->gid_default;
}

void ledger_init(struct ledger *l)
{
	TAILQ_INIT(&l->uids);
	TAILQ_INIT(&l->gids);
}

static void account_list_free(struct account_list *list)
{
	struct account *a;

	while ((a = TAILQ_FIRST(list))) {
		TAILQ_REMOVE(list, a, link);
		free(a);
	}
}

void ledger_finish(struct ledger *l)
{
	account_list_free(&l->uids);
	account_list_free(&l->gids);
}

struct account *ledger_find(struct account_list *list, uint32_t id)
{
	struct account *a;

	TAILQ_FOREACH(a, list, link) {
		if (a->id == id)
			return a;
		if (a->id > id)
			break;
	}
	return NULL;
}

/* The account of @id, created (in id order) when missing; NULL on ENOMEM. */
static struct account *ledger_get(struct account_list *list, uint32_t id)
{
	struct account *a, *n;

	TAILQ_FOREACH(a, list, link) {
		if (a->id == id)
			return a;
		if (a->id > id)
			break;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->id = id;
	if (a)
		TAILQ_INSERT_BEFORE(a, n, link);
	else
		TAILQ_INSERT_TAIL(list, n, link);
	return n;
}

bool usage_is_zero(const struct usage *u)
{
	if (u->owned_buffers || u->imported_buffers)
		return false;
	for (int i = 0; i < ATTR_COUNT; i++)
		if (u->owned_bytes[i] || u->imported_bytes[i])
			return false;
	return true;
}

uint64_t usage_total(const uint64_t bytes[ATTR_COUNT])
{
	uint64_t t = 0;

	for (int i = 0; i < ATTR_COUNT; i++)
		t += bytes[i];
	return t;
}

/*
 * Whose limits a refusal names: the client's, or a uid's or gid's with the
 * section they come from. Formatted only for a refusal: every Alloc checks
 * three scopes and almost all pass.
 */
struct quota_scope {
	const char *section; /* "[uid:]", "[gid:]", "[quota]"; NULL: the client's */
	const char *kind;    /* "uid", "gid" */
	unsigned id;
};

static void scope_format(const struct quota_scope *sc, char *buf, size_t len)
{
	if (sc->section)
		snprintf(buf, len, "%s %s %u", sc->section, sc->kind, sc->id);
	else
		snprintf(buf, len, "client");
}

/* Would one more buffer of @size bytes of @attr exceed @q given @u? */
static int check_limits(const struct quota_limits *q, const struct usage *u,
			const struct quota_scope *sc, uint64_t size, enum dmabufd_attribute attr,
			char *reason, size_t reason_len)
{
	uint64_t total = usage_total(u->owned_bytes);
	char scope[48];

	if (q->buffers != QUOTA_UNLIMITED && (uint64_t)u->owned_buffers + 1 > q->buffers) {
		scope_format(sc, scope, sizeof(scope));
		snprintf(reason, reason_len, "quota: %s buffers = %" PRIu64 " (holds %u)", scope,
			 q->buffers, u->owned_buffers);
		return -EDQUOT;
	}
	if (q->bytes != QUOTA_UNLIMITED && (size > q->bytes || total > q->bytes - size)) {
		scope_format(sc, scope, sizeof(scope));
		snprintf(reason, reason_len,
			 "quota: %s bytes = %" PRIu64 " (holds %" PRIu64 ", asked %" PRIu64 ")",
			 scope, q->bytes, total, size);
		return -EDQUOT;
	}
	if (q->attr_bytes[attr] != QUOTA_UNLIMITED &&
	    (size > q->attr_bytes[attr] || u->owned_bytes[attr] > q->attr_bytes[attr] - size)) {
		scope_format(sc, scope, sizeof(scope));
		snprintf(reason, reason_len,
			 "quota: %s %s = %" PRIu64 " (holds %" PRIu64 ", asked %" PRIu64 ")",
			 scope, attr_quota_keys[attr], q->attr_bytes[attr], u->owned_bytes[attr], size);
		return -EDQUOT;
	}
	return 0;
}

int policy_check_quota(const struct policy *p, struct ledger *l, const struct usage *client_usage,
		       uid_t uid, gid_t gid, uint64_t size, enum dmabufd_attribute attribute,
		       char *reason, size_t reason_len)
{
	static const struct usage zero;
	const struct quota_scope client = { 0 };
	const struct quota_limits *rule;
	const struct account *a;
	int err;

	if ((unsigned)attribute >= ATTR_COUNT)
		return -EINVAL;
	err = check_limits(&p->client, client_usage, &client, size, attribute, reason, reason_len);
	if (err < 0)
		return err;
	a = ledger_find(&l->uids, uid);
	rule = find_rule(p, false, uid);
	err = check_limits(rule ? rule : &p->uid_default, a ? &a->usage : &zero,
			   &(struct quota_scope){ rule ? "[uid:]" : "[quota]", "uid", (unsigned)uid },
			   size, attribute, reason, reason_len);
	if (err < 0)
		return err;
	a = ledger_find(&l->gids, gid);
	rule = find_rule(p, true, gid);
	return check_limits(rule ? rule : &p->gid_default, a ? &a->usage : &zero,
			    &(struct quota_scope){ rule ? "[gid:]" : "[quota]", "gid", (unsigned)gid },
			    size, attribute, reason, reason_len);
}

static void usage_add(struct usage *u, bool owned, uint64_t size, enum dmabufd_attribute attr)
{
	if (owned) {
		u->owned_bytes[attr] += size;
		u->owned_buffers++;
	} else {
		u->imported_bytes[attr] += size;
		u->imported_buffers++;
	}
}

static void usage_sub(struct usage *u, bool owned, uint64_t size, enum dmabufd_attribute attr)
{
	if (owned) {
		u->owned_bytes[attr] -= size;
		u->owned_buffers--;
	} else {
		u->imported_bytes[attr] -= size;
		u->imported_buffers--;
	}
}

int ledger_charge(struct ledger *l, struct usage *client_usage, uid_t uid, gid_t gid, bool owned,
		  uint64_t size, enum dmabufd_attribute attribute)
{
	struct account *au = ledger_get(&l->uids, uid), *ag;

	if (!au)
		return -ENOMEM;
	ag = ledger_get(&l->gids, gid);
	if (!ag) {
		if (usage_is_zero(&au->usage)) {
			TAILQ_REMOVE(&l->uids, au, link);
			free(au);
		}
		return -ENOMEM;
	}
	if (client_usage)
		usage_add(client_usage, owned, size, attribute);
	usage_add(&au->usage, owned, size, attribute);
	usage_add(&ag->usage, owned, size, attribute);
	return 0;
}

static void account_sub(struct account_list *list, uint32_t id, bool owned, uint64_t size,
			enum dmabufd_attribute attribute)
{
	struct account *a = ledger_find(list, id);

	if (!a)
		return;
	usage_sub(&a->usage, owned, size, attribute);
	if (usage_is_zero(&a->usage)) {
		TAILQ_REMOVE(list, a, link);
		free(a);
	}
}

void ledger_uncharge(struct ledger *l, struct usage *client_usage, uid_t uid, gid_t gid,
		     bool owned, uint64_t size, enum dmabufd_attribute attribute)
{
	if (client_usage)
		usage_sub(client_usage, owned, size, attribute);
	account_sub(&l->uids, uid, owned, size, attribute);
	account_sub(&l->gids, gid, owned, size, attribute);
}

int peer_groups(int fd, gid_t **ret, size_t *ret_n)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = NULL;
	int tries = 0;

	for (;;) {
		gid_t *ng = realloc(g, len ? len : sizeof(gid_t));

		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0)
			break;
		if (errno != ERANGE || len > PEER_GROUPS_MAX * sizeof(gid_t) || ++tries > 4) {
			int err = negative_errno();

			free(g);
			return err == -ERANGE ? -E2BIG : err;
		}
		/* len now holds the size the kernel needs. */
	}
	if (len == 0) {
		free(g);
		g = NULL;
	}
	*ret = g;
	*ret_n = len / sizeof(gid_t);
	return 0;
}
