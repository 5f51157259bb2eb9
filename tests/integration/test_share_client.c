/* SPDX-License-Identifier: MIT */
/*
 * The sharing API of libdmabufd (dmabufd_share/import/unshare/revoke/usage)
 * against the real daemon, with consumers running as other uids; and the
 * errno a peer refused by [access] gets from dmabufd_connect(). Root only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "dmabufd/dmabufd.h"
#include "share_helpers.h"

#define SIZE (256u * 1024)

static struct daemon_proc d;
static char conf[128];

static const char config_text[] = "[access]\n"
				  "users = root 5001 5002\n";

struct ctx {
	const char *socket;
	uint8_t token[DMABUFD_TOKEN_SIZE];
	uint64_t id;
	int expect;
};

static int setup(void **state)
{
	require_root();
	return daemon_start_conf(&d, config_text, NULL, conf) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	return daemon_stop_conf(&d, conf) == 0 ? 0 : -1;
}

/* Child: import once expecting c->expect; on success check the bytes, and
 * that a second import of the (single-use) token finds nothing. */
static int consumer(void *arg)
{
	struct ctx *c = arg;
	struct dmabufd_client *cl = NULL;
	struct dmabufd_import_info info;
	struct dmabufd_buffer b;
	uint8_t *p;
	int r;

	CHECK(dmabufd_connect(c->socket, &cl) == 0);
	r = dmabufd_import(cl, c->token, &b, &info);
	if (r != c->expect)
		fprintf(stderr, "import: %d (%s)\n", r, dmabufd_last_reason(cl));
	CHECK(r == c->expect);
	if (r < 0) {
		CHECK(dmabufd_last_reason(cl)[0] != '\0');
		dmabufd_disconnect(cl);
		return 0;
	}
	CHECK(b.id == c->id && b.size == SIZE && b.fd >= 0);
	CHECK(info.attribute == DMABUFD_ATTR_CACHED && info.owner_uid == 0);
	p = mmap(NULL, b.size, PROT_READ, MAP_SHARED, b.fd, 0);
	CHECK(p != MAP_FAILED);
	for (uint32_t i = 0; i < SIZE; i++)
		CHECK(p[i] == (uint8_t)(i * 13 + 1));
	munmap(p, b.size);
	close(b.fd);
	CHECK(dmabufd_import(cl, c->token, &b, NULL) == -ENOENT);
	/* An importer's release ends its import only. */
	CHECK(dmabufd_release(cl, c->id) == 0);
	CHECK(dmabufd_release(cl, c->id) == -ENOENT);
	dmabufd_disconnect(cl);
	return 0;
}

static int refused(void *arg)
{
	struct dmabufd_client *cl = NULL;
	int r = dmabufd_connect(arg, &cl);

	if (r != -EACCES)
		fprintf(stderr, "connect: %d\n", r);
	CHECK(r == -EACCES);
	CHECK(cl == NULL);
	return 0;
}

static void test_share_import_api(void **state)
{
	static const uid_t uid_b = UID_B;
	const struct dmabufd_share_targets who = { .uids = &uid_b, .n_uids = 1 };
	struct ctx c = { .socket = d.socket };
	struct dmabufd_client *cl = NULL;
	struct dmabufd_buffer b;
	struct dmabufd_token tok, tok2;
	struct dmabufd_buffer_info *rows = NULL;
	struct dmabufd_account *usage = NULL;
	char text[DMABUFD_TOKEN_STRING_SIZE];
	uint8_t back[DMABUFD_TOKEN_SIZE];
	size_t n = 0;
	uint8_t *p;

	assert_int_equal(dmabufd_connect(d.socket, &cl), 0);
	assert_int_equal(dmabufd_alloc(cl, SIZE, 0, DMABUFD_ATTR_CACHED, 0, "api", &b), 0);
	p = mmap(NULL, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd, 0);
	assert_true(p != MAP_FAILED);
	for (uint32_t i = 0; i < SIZE; i++)
		p[i] = (uint8_t)(i * 13 + 1);
	munmap(p, b.size);

	/* Bad arguments are refused locally or by the daemon. */
	assert_int_equal(dmabufd_share(cl, b.id, &who, 0x80, 0, &tok), -EINVAL);
	assert_int_equal(dmabufd_share(cl, b.id + 1000, &who, 0, 0, &tok), -ENOENT);
	assert_true(dmabufd_last_reason(cl)[0] != '\0');

	assert_int_equal(dmabufd_share(cl, b.id, &who, DMABUFD_SHARE_SINGLE_USE, 30, &tok), 0);
	assert_true(tok.expires_usec > 0);
	assert_int_equal(dmabufd_token_to_string(tok.bytes, text), 0);
	assert_int_equal(strlen(text), 32);
	assert_int_equal(dmabufd_token_from_string(text, back), 0);
	assert_memory_equal(back, tok.bytes, sizeof(back));
	assert_int_equal(dmabufd_token_from_string("xyz", back), -EINVAL);

	memcpy(c.token, tok.bytes, sizeof(c.token));
	c.id = b.id;
	c.expect = -EACCES; /* uid A is not named */
	assert_int_equal(run_as(UID_A, GID_A, NULL, 0, consumer, &c), 0);
	c.expect = 0;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, consumer, &c), 0);

	/* Unshare: a withdrawn token imports nothing. */
	assert_int_equal(dmabufd_share(cl, b.id, &who, 0, 0, &tok2), 0);
	assert_int_equal(dmabufd_unshare(cl, tok2.bytes), 0);
	assert_int_equal(dmabufd_unshare(cl, tok2.bytes), -ENOENT);
	memcpy(c.token, tok2.bytes, sizeof(c.token));
	c.expect = -ENOENT;
	assert_int_equal(run_as(UID_B, GID_B, NULL, 0, consumer, &c), 0);

	/* Accounting through the API. */
	assert_int_equal(dmabufd_accounting(cl, DMABUFD_ACCOUNT_UIDS, &usage, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(usage[0].uid, 0);
	assert_int_equal(usage[0].owned_bytes, SIZE);
	assert_int_equal(usage[0].owned_by_attribute[DMABUFD_ATTR_CACHED], SIZE);
	dmabufd_accounting_free(usage);
	assert_int_equal(dmabufd_list(cl, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].n_importers, 0); /* B released its import */
	dmabufd_list_free(rows);
	assert_int_equal(dmabufd_revoke(cl, b.id), -EOPNOTSUPP);

	close(b.fd);
	dmabufd_disconnect(cl);
}

static void test_refused_peer_gets_eacces(void **state)
{
	assert_int_equal(run_as(5009, 5009, NULL, 0, refused, d.socket), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share_import_api),
		cmocka_unit_test(test_refused_peer_gets_eacces),
	};

	require_root();
	return cmocka_run_group_tests(tests, setup, teardown);
}
