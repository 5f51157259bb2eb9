/* SPDX-License-Identifier: MIT */
/*
 * The ledger charges of shared buffers (share_charge.c): a new buffer's
 * owner charge and its end, and the charges of buffers and imports
 * restored from the fd store until their processes connect again.
 * docs/SHARING.md states the rules; policy.h has the ledger.
 */
#ifndef DMABUFD_SHARE_CHARGE_H
#define DMABUFD_SHARE_CHARGE_H

#include "types.h"

/**
 * share_charge_owner() - charge a new buffer to its owner (after Alloc).
 * Return: 0 or -ENOMEM (nothing charged).
 */
int share_charge_owner(struct server *s, struct buffer *b);

/**
 * share_charge_drop() - end @b's charge (its charged uid and gid, and its
 * owner's connection when that is charged); a no-op when @b is not
 * charged.
 */
void share_charge_drop(struct server *s, struct buffer *b);

/**
 * share_restore_charge() - charge the restored @b (no owner connection
 * yet) to its charged_uid and charged_gid.
 * Return: 0 or -ENOMEM (nothing charged).
 */
int share_restore_charge(struct server *s, struct buffer *b);

/**
 * share_restore_import() - record a restored import of @b by the process
 * that @from describes (pid, uid, gid, comm, start, imported_usec; no
 * client), in import order, charged as imported to its uid and gid.
 * Return: the import, or NULL (out of memory; nothing recorded).
 */
struct import *share_restore_import(struct server *s, struct buffer *b,
				    const struct import *from);

/**
 * share_claim_owner() - the process owning the orphaned @b connected again
 * as @c: @c owns it, and its connection is charged when @b's charge is on
 * @c's uid and gid.
 */
void share_claim_owner(struct server *s, struct buffer *b, struct client *c);

/**
 * share_claim_import() - the process of the restored import @im connected
 * again as @c: the import is @c's (and so ends when @c disconnects).
 */
void share_claim_import(struct server *s, struct import *im, struct client *c);

#endif
