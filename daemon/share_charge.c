/* SPDX-License-Identifier: MIT */
/*
 * The ledger charges of shared buffers: the owner of a buffer is charged
 * (connection, uid, gid); importers are charged as imported. A restored
 * buffer or import (fd store) is charged to its uid and gid alone until
 * its process connects again and claims it.
 */
#include "share_charge.h"

#include <stdlib.h>

int share_charge_owner(struct server *s, struct buffer *b)
{
	struct client *o = b->owner;
	int err = ledger_charge(&s->ledger, &o->usage, b->uid, b->gid, true, b->size, b->attribute);

	if (err < 0)
		return err;
	b->charged_uid = b->uid;
	b->charged_gid = b->gid;
	b->charged = true;
	b->charged_client = true;
	return 0;
}

/* Ends @b's charge: its charged uid and gid, and its owner's connection. */
void share_charge_drop(struct server *s, struct buffer *b)
{
	if (!b->charged)
		return;
	ledger_uncharge(&s->ledger, b->charged_client && b->owner ? &b->owner->usage : NULL,
			b->charged_uid, b->charged_gid, true, b->size, b->attribute);
	b->charged = false;
	b->charged_client = false;
}

/*
 * Adds @size bytes of @attr (one buffer) to the connection usage @u alone,
 * for a client taking over a charge its uid and gid already carry: a
 * charge and an uncharge of the same uid and gid leave those as they were
 * (their accounts exist, so the charge cannot fail).
 */
static void client_usage_add(struct server *s, struct usage *u, uid_t uid, gid_t gid, bool owned,
			     uint64_t size, enum dmabufd_attribute attr)
{
	if (ledger_charge(&s->ledger, u, uid, gid, owned, size, attr) == 0)
		ledger_uncharge(&s->ledger, NULL, uid, gid, owned, size, attr);
}

int share_restore_charge(struct server *s, struct buffer *b)
{
	int err = ledger_charge(&s->ledger, NULL, b->charged_uid, b->charged_gid, true, b->size,
				b->attribute);

	if (err < 0)
		return err;
	b->charged = true;
	b->charged_client = false;
	return 0;
}

void share_claim_owner(struct server *s, struct buffer *b, struct client *c)
{
	b->owner = c;
	TAILQ_INSERT_TAIL(&c->buffers, b, owner_link);
	c->nbuffers++;
	if (b->charged && b->charged_uid == c->cred.uid && b->charged_gid == c->cred.gid) {
		client_usage_add(s, &c->usage, b->charged_uid, b->charged_gid, true, b->size,
				 b->attribute);
		b->charged_client = true;
	}
}

void share_claim_import(struct server *s, struct import *im, struct client *c)
{
	im->client = c;
	TAILQ_INSERT_TAIL(&c->imports, im, client_link);
	c->nimports++;
	client_usage_add(s, &c->usage, im->uid, im->gid, false, im->buffer->size,
			 im->buffer->attribute);
}

struct import *share_restore_import(struct server *s, struct buffer *b,
				    const struct import *from)
{
	struct import *im = calloc(1, sizeof(*im)), *at;

	if (!im)
		return NULL;
	*im = *from;
	im->buffer = b;
	im->client = NULL;
	im->store_slot = 0;
	if (ledger_charge(&s->ledger, NULL, im->uid, im->gid, false, b->size, b->attribute) < 0) {
		free(im);
		return NULL;
	}
	/* Oldest first, as they were imported. */
	TAILQ_FOREACH(at, &b->importers, buffer_link)
		if (at->imported_usec > im->imported_usec)
			break;
	if (at)
		TAILQ_INSERT_BEFORE(at, im, buffer_link);
	else
		TAILQ_INSERT_TAIL(&b->importers, im, buffer_link);
	b->nimporters++;
	s->nimports++;
	return im;
}
