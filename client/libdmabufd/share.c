/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd: sharing between processes (docs/SHARING.md) - Share,
 * Import, Unshare, Revoke - and the text form of a share token.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "macros.h"

/* Most share targets a request may carry: 128 packed uint32s fit REQUEST_MAX
 * (the daemon caps [share] max-targets-per-token at 128 too). */
#define SHARE_TARGETS_MAX 128u

DMABUFD_EXPORT int dmabufd_share(struct dmabufd_client *client, uint64_t id,
				 const struct dmabufd_share_targets *who, uint32_t flags,
				 uint32_t expiry_sec, struct dmabufd_token *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Share sh = DMABUFD__SHARE__INIT;
	Dmabufd__Reply *reply = NULL;
	_cleanup_free_ uint32_t *uids = NULL, *gids = NULL;
	_cleanup_free_ int32_t *pids = NULL;
	struct dmabufd_token tok = { 0 };
	int r;

	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (flags & ~(uint32_t)DMABUFD_SHARE_SINGLE_USE)
		return local_error(client, -EINVAL, "unknown share flags");
	if (who) {
		if ((who->n_uids && !who->uids) || (who->n_gids && !who->gids) ||
		    (who->n_pids && !who->pids) ||
		    who->n_uids + who->n_gids + who->n_pids > SHARE_TARGETS_MAX)
			return local_error(client, -EINVAL,
					   "more than 128 share targets, or a NULL target array");
		/* The wire's integer widths differ from uid_t/gid_t/pid_t's in name only. */
		uids = calloc(who->n_uids + 1, sizeof(*uids));
		gids = calloc(who->n_gids + 1, sizeof(*gids));
		pids = calloc(who->n_pids + 1, sizeof(*pids));
		if (!uids || !gids || !pids)
			return -ENOMEM;
		for (size_t i = 0; i < who->n_uids; i++)
			uids[i] = who->uids[i];
		for (size_t i = 0; i < who->n_gids; i++)
			gids[i] = who->gids[i];
		for (size_t i = 0; i < who->n_pids; i++)
			pids[i] = who->pids[i];
		sh.uids = uids;
		sh.n_uids = who->n_uids;
		sh.gids = gids;
		sh.n_gids = who->n_gids;
		sh.pids = pids;
		sh.n_pids = who->n_pids;
	}
	sh.buffer_id = id;
	sh.single_use = !!(flags & DMABUFD_SHARE_SINGLE_USE);
	sh.expiry_sec = expiry_sec;
	req.body_case = DMABUFD__REQUEST__BODY_SHARE;
	req.share = &sh;
	r = transact(client, &req, DMABUFD__REPLY__BODY_SHARE, false, &reply, NULL);
	if (r < 0)
		return r;
	if (!reply->share || reply->share->token.len != DMABUFD_TOKEN_SIZE) {
		dmabufd__reply__free_unpacked(reply, NULL);
		return -EPROTO;
	}
	memcpy(tok.bytes, reply->share->token.data, DMABUFD_TOKEN_SIZE);
	tok.expires_usec = reply->share->expires_usec;
	dmabufd__reply__free_unpacked(reply, NULL);
	*ret = tok;
	return 0;
}

DMABUFD_EXPORT int dmabufd_import(struct dmabufd_client *client,
				  const uint8_t token[DMABUFD_TOKEN_SIZE],
				  struct dmabufd_buffer *ret, struct dmabufd_import_info *ret_info)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Import im = DMABUFD__IMPORT__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__ImportReply *ir;
	int fd = -1, r;

	if (call_begin(client) < 0 || !token || !ret)
		return -EINVAL;
	im.token.data = (uint8_t *)token;
	im.token.len = DMABUFD_TOKEN_SIZE;
	req.body_case = DMABUFD__REQUEST__BODY_IMPORT;
	req.import = &im;
	r = transact(client, &req, DMABUFD__REPLY__BODY_IMPORT, true, &reply, &fd);
	if (r < 0)
		return r;
	ir = reply->import;
	if (!ir || ir->buffer_id == 0 || ir->size == 0) {
		dmabufd__reply__free_unpacked(reply, NULL);
		close(fd);
		return -EPROTO;
	}
	*ret = (struct dmabufd_buffer){
		.id = ir->buffer_id, .fd = fd, .size = ir->size, .offset = ir->offset,
	};
	if (ret_info)
		*ret_info = (struct dmabufd_import_info){
			.attribute = (enum dmabufd_attribute)ir->attribute,
			.flags = ir->flags,
			.owner_pid = ir->owner_pid,
			.owner_uid = ir->owner_uid,
		};
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_unshare(struct dmabufd_client *client,
				   const uint8_t token[DMABUFD_TOKEN_SIZE])
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Unshare un = DMABUFD__UNSHARE__INIT;

	if (call_begin(client) < 0 || !token)
		return -EINVAL;
	un.token.data = (uint8_t *)token;
	un.token.len = DMABUFD_TOKEN_SIZE;
	req.body_case = DMABUFD__REQUEST__BODY_UNSHARE;
	req.unshare = &un;
	return transact_ack(client, &req);
}

DMABUFD_EXPORT int dmabufd_revoke(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Revoke rv = DMABUFD__REVOKE__INIT;

	if (call_begin(client) < 0)
		return -EINVAL;
	rv.buffer_id = id;
	req.body_case = DMABUFD__REQUEST__BODY_REVOKE;
	req.revoke = &rv;
	return transact_ack(client, &req);
}

DMABUFD_EXPORT int dmabufd_token_to_string(const uint8_t token[DMABUFD_TOKEN_SIZE],
					   char buf[DMABUFD_TOKEN_STRING_SIZE])
{
	static const char hex[] = "0123456789abcdef";

	if (!token || !buf)
		return -EINVAL;
	for (unsigned i = 0; i < DMABUFD_TOKEN_SIZE; i++) {
		buf[2 * i] = hex[token[i] >> 4];
		buf[2 * i + 1] = hex[token[i] & 15];
	}
	buf[2 * DMABUFD_TOKEN_SIZE] = '\0';
	return 0;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

DMABUFD_EXPORT int dmabufd_token_from_string(const char *s, uint8_t ret[DMABUFD_TOKEN_SIZE])
{
	uint8_t tok[DMABUFD_TOKEN_SIZE];

	if (!s || !ret || strlen(s) != 2 * DMABUFD_TOKEN_SIZE)
		return -EINVAL;
	for (unsigned i = 0; i < DMABUFD_TOKEN_SIZE; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		tok[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, tok, sizeof(tok));
	return 0;
}
