/* SPDX-License-Identifier: MIT */
/*
 * Policy: who may connect (access), how much each client, uid and gid may
 * hold (quotas), and the limits on sharing. Plus the accounting the quotas
 * are checked against: bytes and buffers owned (charged) and imported, per
 * cache attribute, for every client, uid and gid.
 *
 * A struct policy is immutable once built (config.c builds it); a SIGHUP
 * reload builds a new one and swaps the pointer. Accounting lives in the
 * server and survives reloads. docs/CONFIG.md documents the keys.
 */
#ifndef DMABUFD_POLICY_H
#define DMABUFD_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "dmabufd/dmabufd.h"

#include "attr.h"

#define QUOTA_UNLIMITED UINT64_MAX

/* Limits of one scope (a client, a uid, a gid). QUOTA_UNLIMITED = none. */
struct quota_limits {
	uint64_t bytes;                   /* bytes owned, all attributes */
	uint64_t buffers;                 /* buffers owned */
	uint64_t attr_bytes[ATTR_COUNT];  /* bytes owned per attribute */
};

/* A [uid:NAME] or [gid:NAME] section. */
struct quota_rule {
	bool is_gid;
	uint32_t id;
	struct quota_limits limits;
};

/* Bounds on everything a client controls when sharing ([share]). */
struct share_limits {
	uint32_t max_tokens_per_buffer;
	uint32_t max_tokens_per_client;
	uint32_t max_targets_per_token;    /* uids + gids + pids of one Share */
	uint32_t max_importers_per_buffer;
	uint32_t max_imports_per_client;
	uint32_t max_expiry_sec;           /* also the default expiry */
};

#define SHARE_LIMITS_DEFAULT                                                   \
	((struct share_limits){                                                \
		.max_tokens_per_buffer = 8,                                    \
		.max_tokens_per_client = 64,                                   \
		.max_targets_per_token = 16,                                   \
		.max_importers_per_buffer = 16,                                \
		.max_imports_per_client = 1024,                                \
		.max_expiry_sec = 3600,                                        \
	})

struct policy {
	/* [access] */
	bool allow_any_user;     /* users = * */
	uid_t *users;
	size_t nusers;
	gid_t *groups;
	size_t ngroups;
	uid_t *admins;           /* [access] admin; root is always one */
	size_t nadmins;
	/* [quota] */
	struct quota_limits client;      /* per connection */
	struct quota_limits uid_default; /* every uid without a [uid:] section */
	struct quota_limits gid_default; /* every gid without a [gid:] section */
	struct quota_rule *rules;
	size_t nrules;
	/* [share] */
	struct share_limits share;
};

/* What one scope holds. */
struct usage {
	uint64_t owned_bytes[ATTR_COUNT];
	uint32_t owned_buffers;
	uint64_t imported_bytes[ATTR_COUNT];
	uint32_t imported_buffers;
};

/* Accounting of one uid or gid; exists while its usage is not zero. */
struct account {
	TAILQ_ENTRY(account) link;
	uint32_t id;
	struct usage usage;
};
TAILQ_HEAD(account_list, account);

/* The server's ledger: one account per uid and per gid holding something. */
struct ledger {
	struct account_list uids;   /* sorted by id */
	struct account_list gids;   /* sorted by id */
};

struct client;
struct buffer;

/** quota_limits_unlimited() - limits that never refuse. */
struct quota_limits quota_limits_unlimited(void);

/**
 * policy_new_default() - the built-in policy: users root, group "dmabuf"
 * (when it exists), no quotas, SHARE_LIMITS_DEFAULT.
 * Return: the policy, or NULL (out of memory).
 */
struct policy *policy_new_default(void);

/** policy_free() - free @p; accepts NULL. */
void policy_free(struct policy *p);

/**
 * policy_check_access() - may a peer with these credentials connect?
 * @uid, @gid: from SO_PEERCRED
 * @groups, @ngroups: supplementary groups from SO_PEERGROUPS (may be 0)
 * @reason, @reason_len: on refusal, a text naming the rule
 * Rule: allowed when users = *, or @uid is listed or an administrator
 * (policy_is_admin()), or @gid or one of @groups is listed ([access] in
 * docs/CONFIG.md).
 * Return: 0 (allowed) or -EACCES.
 */
int policy_check_access(const struct policy *p, uid_t uid, gid_t gid, const gid_t *groups,
			size_t ngroups, char *reason, size_t reason_len);

/**
 * policy_is_admin() - is @uid an administrator: root, or listed in
 * [access] admin? Administrators are admitted, may use the connection
 * slots kept for them ([limits] admin-connections) and have no per-uid
 * connection limit.
 */
bool policy_is_admin(const struct policy *p, uid_t uid);

/**
 * policy_uid_limits() / policy_gid_limits() - the limits of one uid/gid:
 * its [uid:]/[gid:] section, else the [quota] uid-/gid- defaults.
 */
const struct quota_limits *policy_uid_limits(const struct policy *p, uid_t uid);
const struct quota_limits *policy_gid_limits(const struct policy *p, gid_t gid);

void ledger_init(struct ledger *l);
/** ledger_finish() - free every account; accepts an empty ledger. */
void ledger_finish(struct ledger *l);
/** ledger_find() - the account of @id in @list, or NULL. */
struct account *ledger_find(struct account_list *list, uint32_t id);

/**
 * policy_quota_attr_key() - the [quota] key that limits @attr's bytes
 * ("cached-bytes", "writecombine-bytes", "uncached-bytes"; docs/CONFIG.md).
 * Return: the key, or NULL for a value that is not an attribute.
 */
const char *policy_quota_attr_key(enum dmabufd_attribute attr);

/**
 * policy_check_quota() - would charging @size bytes of @attribute (one more
 * buffer) to client @c, its uid and its primary gid stay within every
 * limit? @size in bytes.
 * Return: 0, or -EDQUOT with @reason naming the limit, its scope and value.
 */
int policy_check_quota(const struct policy *p, struct ledger *l, const struct usage *client_usage,
		       uid_t uid, gid_t gid, uint64_t size, enum dmabufd_attribute attribute,
		       char *reason, size_t reason_len);

/**
 * ledger_charge() / ledger_uncharge() - add/remove one owned (@owned) or
 * imported buffer of @size bytes and @attribute to @client_usage (NULL:
 * no connection is charged) and the accounts of @uid and @gid.
 * Return (charge): 0 or -ENOMEM (nothing changed). Uncharge cannot fail.
 */
int ledger_charge(struct ledger *l, struct usage *client_usage, uid_t uid, gid_t gid,
		  bool owned, uint64_t size, enum dmabufd_attribute attribute);
void ledger_uncharge(struct ledger *l, struct usage *client_usage, uid_t uid, gid_t gid,
		     bool owned, uint64_t size, enum dmabufd_attribute attribute);

/** usage_is_zero() - true when @u holds nothing. */
bool usage_is_zero(const struct usage *u);

/** usage_total() - sum over the attributes of @bytes. */
uint64_t usage_total(const uint64_t bytes[ATTR_COUNT]);

/**
 * peer_groups() - the supplementary groups of a connected Unix-socket peer
 * (SO_PEERGROUPS, Linux 4.13), at most 65536.
 * @ret, @ret_n: a malloc'ed array and its length (NULL/0 when none)
 * Return: 0; -ENOPROTOOPT (kernel without SO_PEERGROUPS); -ENOMEM; other
 * negative errno from getsockopt(2).
 */
int peer_groups(int fd, gid_t **ret, size_t *ret_n);

#endif
