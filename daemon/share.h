/* SPDX-License-Identifier: MIT */
/*
 * Sharing between processes: share tokens, import records, the transfer of
 * ownership when an owner exits, revocation, and the Usage request.
 * docs/SHARING.md states the rules; policy.h has the limits.
 */
#ifndef DMABUFD_SHARE_H
#define DMABUFD_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "dmabufd.pb-c.h"
#include "types.h"

/**
 * share_init() - register share_buffer_gone() as a buffer release hook
 * (buffer.h), so every release drops the buffer's tokens and imports.
 * Return: 0, or -ENOSPC (no hook slot left).
 */
int share_init(struct server *s);

/**
 * share_token_equal() - compare two tokens in time independent of their
 * contents (no early exit, no data-dependent branch).
 * Return: true when all SHARE_TOKEN_BYTES bytes are equal.
 */
bool share_token_equal(const uint8_t *a, const uint8_t *b);

/* Request handlers (dispatched from requests.c). */
void handle_share(struct client *c, uint64_t id, const Dmabufd__Share *req);
void handle_import(struct client *c, uint64_t id, const Dmabufd__Import *req);
void handle_unshare(struct client *c, uint64_t id, const Dmabufd__Unshare *req);
void handle_revoke(struct client *c, uint64_t id, const Dmabufd__Revoke *req);
void handle_accounting(struct client *c, uint64_t id, const Dmabufd__Accounting *req);

/**
 * share_release_import() - Release(buffer id) sent by an importer: forget
 * its import record. Return: 0, or -ENOENT when @c did not import @b.
 */
int share_release_import(struct server *s, struct client *c, struct buffer *b);

/**
 * share_owner_release() - the owner @c Releases @b: if @b has an importer,
 * the earliest one becomes the owner (as when the owner exits) and the
 * memory stays accounted. Return: 1 when handled (transferred), 0 when @b
 * has no importer and the caller releases it.
 */
int share_owner_release(struct server *s, struct client *c, struct buffer *b);

/**
 * share_buffer_gone() - @b is about to be freed: drop its tokens and import
 * records, uncharge its importers and its owner.
 */
void share_buffer_gone(struct server *s, struct buffer *b);

/**
 * share_client_gone() - @c disconnects: drop its tokens and imports; every
 * buffer it owns passes to its earliest importer whose process is alive
 * (charged from now on when its quotas admit it; else the earlier charge
 * stays) or, with no importer, is released.
 */
void share_client_gone(struct server *s, struct client *c);

/**
 * share_orphan_owner_gone() - the process owning the orphaned @b (restored
 * after a restart, already off the fd store's orphan list) exited: @b
 * passes to its earliest import, as when an owner disconnects, or is
 * released.
 */
void share_orphan_owner_gone(struct server *s, struct buffer *b);

/**
 * share_import_drop() - end the import @im (its process exited before it
 * connected again after a restart): uncharged and freed.
 */
void share_import_drop(struct server *s, struct import *im);

/**
 * share_buffer_visible() - may @c see @b in List? Root sees every buffer;
 * other clients see the buffers of their own uid and those they import.
 * Accounting rows follow the same rule (clients of the same uid, the own
 * uid, the own primary and supplementary gids).
 */
bool share_buffer_visible(const struct client *c, const struct buffer *b);

/**
 * share_fill_importers() - the importers of @b as protobuf messages.
 * @ret: malloc'ed array of pointers into one allocation (free(*ret) frees
 *       all); NULL when there are none
 * Return: number of entries (>= 0) or -ENOMEM.
 */
int share_fill_importers(struct buffer *b, Dmabufd__ImporterInfo ***ret);

/**
 * server_admit_peer() - the access check at connection time, from
 * SO_PEERCRED and SO_PEERGROUPS.
 * Return: 0, or -EACCES with @reason set.
 */
int server_admit_peer(struct server *s, uid_t uid, gid_t gid, const gid_t *groups,
		      size_t ngroups, char *reason, size_t reason_len);

/** share_sweep_expired() - drop every expired token. */
void share_sweep_expired(struct server *s);

#endif
