/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the policy layer (daemon/policy.c, daemon/config.c,
 * share_token_equal): access rule, quota boundaries and overflow, the
 * ledger's accounts, config parsing and inheritance.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_fixture.h"
#include "policy.h"
#include "share.h"

static void test_token_equal(void **state)
{
	uint8_t a[SHARE_TOKEN_BYTES], b[SHARE_TOKEN_BYTES];

	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 37 + 5);
	memcpy(b, a, sizeof(a));
	assert_true(share_token_equal(a, b));
	/* Every single-bit difference in every byte is seen. */
	for (unsigned i = 0; i < sizeof(a); i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			assert_false(share_token_equal(a, b));
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_true(share_token_equal(a, b));
}

static void test_access_rule(void **state)
{
	struct policy *p = policy_new_default();
	static const gid_t supp[] = { 10, 4242 };
	gid_t groups[1] = { 4242 };
	char reason[160] = "";

	assert_non_null(p);
	/* Default: root admitted, others not (unless in group dmabuf). */
	assert_int_equal(policy_check_access(p, 0, 0, NULL, 0, reason, sizeof(reason)), 0);
	assert_int_equal(policy_check_access(p, 1000, 1000, NULL, 0, reason, sizeof(reason)),
			 -EACCES);
	assert_non_null(strstr(reason, "uid 1000"));
	/* A listed supplementary group admits. */
	free(p->groups);
	p->groups = malloc(sizeof(*p->groups));
	assert_non_null(p->groups);
	memcpy(p->groups, groups, sizeof(groups));
	p->ngroups = 1;
	assert_int_equal(policy_check_access(p, 1000, 1000, supp, 2, reason, sizeof(reason)), 0);
	assert_int_equal(policy_check_access(p, 1000, 4242, NULL, 0, reason, sizeof(reason)), 0);
	assert_int_equal(policy_check_access(p, 1000, 1000, supp, 1, reason, sizeof(reason)),
			 -EACCES);
	p->allow_any_user = true;
	assert_int_equal(policy_check_access(p, 1000, 1000, NULL, 0, reason, sizeof(reason)), 0);
	policy_free(p);
	policy_free(NULL);
}

static void test_quota_boundaries(void **state)
{
	struct policy *p = policy_new_default();
	struct usage cu = { 0 };
	struct ledger l;
	char reason[160];

	assert_non_null(p);
	ledger_init(&l);
	p->client.bytes = 8192;
	p->uid_default.attr_bytes[DMABUFD_ATTR_UNCACHED] = 4096;
	p->gid_default.buffers = 2;

	/* Exactly the limit is allowed; one byte more is not. */
	assert_int_equal(policy_check_quota(p, &l, &cu, 7, 7, 8192, DMABUFD_ATTR_CACHED, reason,
					    sizeof(reason)), 0);
	assert_int_equal(policy_check_quota(p, &l, &cu, 7, 7, 8193, DMABUFD_ATTR_CACHED, reason,
					    sizeof(reason)), -EDQUOT);
	assert_non_null(strstr(reason, "client bytes = 8192"));
	/* A huge request cannot wrap the sum around. */
	assert_int_equal(ledger_charge(&l, &cu, 7, 7, true, 4096, DMABUFD_ATTR_CACHED), 0);
	assert_int_equal(policy_check_quota(p, &l, &cu, 7, 7, UINT64_MAX - 100, DMABUFD_ATTR_CACHED,
					    reason, sizeof(reason)), -EDQUOT);
	/* Per attribute, per uid. */
	assert_int_equal(policy_check_quota(p, &l, &cu, 7, 7, 4096, DMABUFD_ATTR_UNCACHED, reason,
					    sizeof(reason)), 0);
	assert_int_equal(ledger_charge(&l, &cu, 7, 7, true, 4096, DMABUFD_ATTR_UNCACHED), 0);
	/* Another client of uid 8, same gid 7: the gid holds 2 buffers already. */
	assert_int_equal(policy_check_quota(p, &l, &(struct usage){ 0 }, 8, 7, 4096,
					    DMABUFD_ATTR_CACHED, reason, sizeof(reason)), -EDQUOT);
	assert_non_null(strstr(reason, "gid 7 buffers = 2"));
	cu = (struct usage){ 0 };
	assert_int_equal(policy_check_quota(p, &l, &(struct usage){ 0 }, 7, 9, 4096,
					    DMABUFD_ATTR_UNCACHED, reason, sizeof(reason)),
			 -EDQUOT);
	assert_non_null(strstr(reason, "uid 7 uncached-bytes = 4096"));
	/* Imports are not owned: they do not count. */
	assert_int_equal(ledger_charge(&l, &cu, 9, 9, false, 1 << 20, DMABUFD_ATTR_CACHED), 0);
	assert_int_equal(policy_check_quota(p, &l, &cu, 9, 9, 8192, DMABUFD_ATTR_CACHED, reason,
					    sizeof(reason)), 0);
	ledger_uncharge(&l, &cu, 9, 9, false, 1 << 20, DMABUFD_ATTR_CACHED);
	assert_true(usage_is_zero(&cu));
	assert_null(ledger_find(&l.uids, 9));
	ledger_finish(&l);
	policy_free(p);
}

static void test_ledger_accounts_vanish(void **state)
{
	struct usage a = { 0 }, b = { 0 };
	struct ledger l;

	ledger_init(&l);
	assert_int_equal(ledger_charge(&l, &a, 5, 50, true, 4096, DMABUFD_ATTR_CACHED), 0);
	assert_int_equal(ledger_charge(&l, &b, 3, 50, true, 8192, DMABUFD_ATTR_WRITECOMBINE), 0);
	/* Accounts are kept in id order. */
	assert_int_equal(TAILQ_FIRST(&l.uids)->id, 3);
	assert_int_equal(ledger_find(&l.gids, 50)->usage.owned_buffers, 2);
	assert_int_equal(usage_total(ledger_find(&l.gids, 50)->usage.owned_bytes), 12288);
	ledger_uncharge(&l, &a, 5, 50, true, 4096, DMABUFD_ATTR_CACHED);
	assert_null(ledger_find(&l.uids, 5));
	assert_non_null(ledger_find(&l.gids, 50));
	ledger_uncharge(&l, &b, 3, 50, true, 8192, DMABUFD_ATTR_WRITECOMBINE);
	assert_true(TAILQ_EMPTY(&l.uids));
	assert_true(TAILQ_EMPTY(&l.gids));
	ledger_finish(&l);
}

static void test_config_inheritance(void **state)
{
	/* The section comes before [quota]: inheritance still applies. */
	static const char text[] = "[uid:1234]\n"
				   "uncached-bytes = 1M\n"
				   "[quota]\n"
				   "uid-bytes = 64M\n"
				   "uid-uncached-bytes = 0\n"
				   "client-buffers = unlimited\n"
				   "[access]\n"
				   "users = 0, 1234 *\n"
				   "groups = 0 7\n"
				   "[share]\n"
				   "max-expiry = 10\n"
				   "[daemon]\n"
				   "capacity = 0x100000\n";
	const struct quota_limits *q;
	struct config c;

	assert_int_equal(config_fixture_load(text, &c), 0);
	q = policy_uid_limits(c.policy, 1234);
	assert_int_equal(q->attr_bytes[DMABUFD_ATTR_UNCACHED], 1 << 20);
	assert_int_equal(q->bytes, 64 << 20);                  /* inherited */
	q = policy_uid_limits(c.policy, 99);
	assert_int_equal(q->attr_bytes[DMABUFD_ATTR_UNCACHED], 0);
	assert_true(q->buffers == QUOTA_UNLIMITED);
	assert_true(c.policy->allow_any_user);
	assert_int_equal(c.policy->nusers, 2);
	assert_int_equal(c.policy->ngroups, 2);
	assert_int_equal(c.policy->share.max_expiry_sec, 10);
	assert_int_equal(c.capacity, 1 << 20);
	config_finish(&c);
	config_finish(&c); /* idempotent */
}

static void test_config_refusals(void **state)
{
	static const char *const bad[] = {
		"[daemon]\nmax-clients = -1\n",
		"[daemon]\nmax-clients = 4294967296\n",
		"[quota]\nuid-bytes = 99999999999999999999\n",
		"[quota]\nclient-buffers = 1.5\n",
		"[uid:]\nbytes = 1\n",
		"[share]\nmax-expiry = 0\n",
		"[access]\nusers = 4294967295\n",
		"[daemon]\nsocket = relative/path\n",
	};
	struct config c;

	config_fixture_assert_refused(bad, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(config_load("/nonexistent/dmabufd.conf", true, &c), -ENOENT);
	assert_int_equal(config_load("/nonexistent/dmabufd.conf", false, &c), 0);
	assert_non_null(c.policy);
	config_finish(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_equal),
		cmocka_unit_test(test_access_rule),
		cmocka_unit_test(test_quota_boundaries),
		cmocka_unit_test(test_ledger_accounts_vanish),
		cmocka_unit_test(test_config_inheritance),
		cmocka_unit_test(test_config_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
