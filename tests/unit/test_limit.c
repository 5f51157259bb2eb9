/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the limits against hostile users: the fd budget and each
 * uid's share of it (daemon/limit.c), connection admission with the
 * administrators' slots and the per-uid limit, the [limits] and [access]
 * admin keys (daemon/config.c), and the UTF-8 checks (common/utf8.c).
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
#include "limit.h"
#include "policy.h"
#include "utf8.h"

static void test_fd_budget(void **state)
{
	struct fd_budget b;

	/* The unit's LimitNOFILE=65536, 256 clients, no pool. */
	fd_budget_compute(65536, 256, 0, &b);
	assert_int_equal(b.reserve, 64 + 256);
	assert_int_equal(b.budget, 65536 - 320);
	assert_false(fd_budget_low(&b));
	fd_budget_set_uid_share(&b, 0, 4);
	assert_int_equal(b.per_uid, (65536 - 320) / 4);
	/* A configured share wins, but never above the budget. */
	fd_budget_set_uid_share(&b, 100, 4);
	assert_int_equal(b.per_uid, 100);
	fd_budget_set_uid_share(&b, UINT32_MAX - 5, 4);
	assert_int_equal(b.per_uid, b.budget);
	/* A pool's fds are reserved too. */
	fd_budget_compute(65536, 256, 512, &b);
	assert_int_equal(b.reserve, 64 + 256 + 512);
	/* Too low for max-clients: a quarter still goes to buffers, and it says so. */
	fd_budget_compute(256, 256, 0, &b);
	assert_int_equal(b.budget, 64);
	assert_true(fd_budget_low(&b));
	fd_budget_set_uid_share(&b, 0, 65536);
	assert_int_equal(b.per_uid, 1);
	/* No budget computed (in-process servers): nothing is refused. */
	b = FD_BUDGET_UNSET;
	fd_budget_set_uid_share(&b, 0, 4);
	assert_int_equal(b.per_uid, UINT32_MAX);
	assert_false(fd_budget_low(&b));
}

/* A server with @n clients of the given uids, for limits_admit_connection(). */
static void fake_server(struct server *s, struct client *cs, const uid_t *uids, size_t n)
{
	memset(s, 0, sizeof(*s));
	TAILQ_INIT(&s->clients);
	s->limits = SERVER_LIMITS_DEFAULT;
	s->limits.max_clients = 8;
	s->limits.admin_connections = 2;
	s->limits.max_connections_per_uid = 3;
	s->config.policy = policy_new_default();
	assert_non_null(s->config.policy);
	for (size_t i = 0; i < n; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].cred.uid = uids[i];
		TAILQ_INSERT_TAIL(&s->clients, &cs[i], link);
		s->nclients++;
	}
}

static void test_admit_connection(void **state)
{
	static const uid_t full[6] = { 1000, 1000, 1000, 1001, 1001, 1002 };
	static const uid_t all[8] = { 1000, 1000, 1000, 1001, 1001, 1002, 0, 0 };
	struct client cs[8];
	struct server s;
	char reason[REASON_MAX];

	/* Three of uid 1000 already: its fourth is refused, naming the key. */
	fake_server(&s, cs, full, 3);
	assert_int_equal(limits_admit_connection(&s, 1000, reason, sizeof(reason)), -EUSERS);
	assert_non_null(strstr(reason, "[limits] max-connections-per-uid = 3"));
	assert_int_equal(limits_admit_connection(&s, 1001, reason, sizeof(reason)), 0);
	policy_free(s.config.policy);

	/* Six of eight taken: the last two are the administrators'. */
	fake_server(&s, cs, full, 6);
	assert_int_equal(limits_admit_connection(&s, 1003, reason, sizeof(reason)), -EUSERS);
	assert_non_null(strstr(reason, "[limits] admin-connections = 2"));
	assert_int_equal(limits_admit_connection(&s, 0, reason, sizeof(reason)), 0);
	s.config.policy->admins = calloc(1, sizeof(uid_t));
	assert_non_null(s.config.policy->admins);
	s.config.policy->admins[0] = 1000;
	s.config.policy->nadmins = 1;
	/* An administrator: no per-uid limit, and the kept slots. */
	assert_int_equal(limits_admit_connection(&s, 1000, reason, sizeof(reason)), 0);
	policy_free(s.config.policy);

	/* All eight taken: administrators too are refused. */
	fake_server(&s, cs, all, 8);
	assert_int_equal(limits_admit_connection(&s, 0, reason, sizeof(reason)), -EUSERS);
	assert_non_null(strstr(reason, "[daemon] max-clients = 8"));
	policy_free(s.config.policy);

	/* admin-connections >= max-clients still leaves users one slot. */
	fake_server(&s, cs, full, 0);
	s.limits.admin_connections = 100;
	assert_int_equal(limits_admit_connection(&s, 1000, reason, sizeof(reason)), 0);
	policy_free(s.config.policy);
}

static void test_admin_policy(void **state)
{
	static const char text[] = "[access]\nusers = 1000\nadmin = 2000, 2001\n"
				   "[limits]\nhello-timeout = 2\nmax-connections-per-uid = 7\n"
				   "admin-connections = 0\nmax-buffers-per-uid = 500\nexpected-uids = 9\n";
	char reason[160];
	struct config c;

	assert_int_equal(config_fixture_load(text, &c), 0);
	assert_true(policy_is_admin(c.policy, 0));
	assert_true(policy_is_admin(c.policy, 2001));
	assert_false(policy_is_admin(c.policy, 1000));
	/* Administrators are admitted even when not in users. */
	assert_int_equal(policy_check_access(c.policy, 2000, 2000, NULL, 0, reason, sizeof(reason)),
			 0);
	assert_int_equal(policy_check_access(c.policy, 3000, 3000, NULL, 0, reason, sizeof(reason)),
			 -EACCES);
	assert_int_equal(c.hello_timeout_sec, 2);
	assert_int_equal(c.max_connections_per_uid, 7);
	assert_int_equal(c.admin_connections, 0);
	assert_int_equal(c.max_buffers_per_uid, 500);
	assert_int_equal(c.expected_uids, 9);
	config_finish(&c);

	/* Defaults. */
	assert_int_equal(config_load("/nonexistent/dmabufd.conf", false, &c), 0);
	assert_int_equal(c.hello_timeout_sec, 5);
	assert_int_equal(c.max_connections_per_uid, 32);
	assert_int_equal(c.admin_connections, 4);
	assert_int_equal(c.max_buffers_per_uid, 0); /* auto */
	assert_int_equal(c.expected_uids, 4);
	assert_int_equal(c.policy->nadmins, 0);
	config_finish(&c);
}

static void test_limits_refusals(void **state)
{
	static const char *const bad[] = {
		"[limits]\nhello-timeout = 0\n",
		"[limits]\nhello-timeout = 3601\n",
		"[limits]\nmax-connections-per-uid = 0\n",
		"[limits]\nadmin-connections = 1025\n",
		"[limits]\nmax-buffers-per-uid = 0\n",
		"[limits]\nmax-buffers-per-uid = many\n",
		"[limits]\nexpected-uids = 0\n",
		"[limits]\nnonsense = 1\n",
		"[access]\nadmin = *\n",
		"[access]\nadmin = 4294967295\n",
	};

	config_fixture_assert_refused(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_utf8(void **state)
{
	static const char *const good[] = { "", "plain", "caf\xc3\xa9", "\xe2\x9c\x93",
					    "\xf0\x9f\x8e\xa5 camera", "\xf4\x8f\xbf\xbf" };
	static const char *const bad[] = {
		"\xff", "\x80", "caf\xc3", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "a\xe2\x82",
	};
	char buf[64], comm[16];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!utf8_valid(good[i]))
			fail_msg("valid case %zu refused", i);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (utf8_valid(bad[i]))
			fail_msg("invalid case %zu accepted", i);
		/* Sanitised, every one is valid. */
		assert_true(utf8_valid(utf8_sanitize(bad[i], buf, sizeof(buf))));
	}
	assert_string_equal(utf8_sanitize("a\xff" "b\n", buf, sizeof(buf)),
			    "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	assert_string_equal(utf8_sanitize("caf\xc3\xa9", buf, sizeof(buf)), "caf\xc3\xa9");
	/* A sequence that does not fit whole is left out. */
	assert_string_equal(utf8_sanitize("ab\xe2\x9c\x93", buf, 5), "ab");
	snprintf(comm, sizeof(comm), "bad\xff\xfe" "name\x01");
	utf8_scrub(comm);
	assert_string_equal(comm, "bad??name?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_budget),
		cmocka_unit_test(test_admit_connection),
		cmocka_unit_test(test_admin_policy),
		cmocka_unit_test(test_limits_refusals),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
