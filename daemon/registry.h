/* SPDX-License-Identifier: MIT */
/*
 * The buffer registry: every live buffer the daemon handed out, by id, in
 * id order (ids are never reused), with its owner and placement.
 *
 * Data structure: a chained hash table keyed by id (power-of-two buckets,
 * doubled when the load factor passes 1) for O(1) expected lookup, plus a
 * list in id order for paginated listing. A lookup of an id that is no
 * longer live while listing falls back to a linear scan (listing is an
 * administrative request).
 */
#ifndef DMABUFD_REGISTRY_H
#define DMABUFD_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "dmabufd/dmabufd.h"

struct client;
struct server_backend;

struct buffer {
	uint64_t id;
	uint64_t size;       /* bytes, page multiple */
	uint64_t offset;     /* bytes, placement in the region */
	enum dmabufd_attribute attribute;
	uint32_t flags;      /* DMABUFD_ALLOC_* */
	int fd;              /* the daemon's own reference (backend object) */
	/* owner: the client that may share and release it (NULL: orphaned) */
	struct client *owner;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	/*
	 * charge (share.c): the uid and gid whose quotas hold the buffer's
	 * bytes, and whether the owner's connection is charged too. They are
	 * the owner's, except after a transfer the new owner's quota could not
	 * take: the earlier owner's uid and gid stay charged (docs/SHARING.md).
	 */
	uid_t charged_uid;
	gid_t charged_gid;
	bool charged;          /* false: an adopted kmod orphan, charged to no one */
	bool charged_client;
	char label[DMABUFD_LABEL_MAX + 1];
	uint64_t created_usec; /* CLOCK_REALTIME, µs */
	void *backend_data;
	/* release() may discard the contents: set by a release of the buffer
	 * itself, not by the daemon stopping (buffer.c) */
	bool discard;
	/* the active backend that made it (release, migrate and revoke go
	 * there; NULL = the primary) */
	struct server_backend *home;
	/* --- systemd fd store (daemon/fdstore.c) --- */
	uint32_t store_slot;   /* 1 + slot in the state memfd; 0 = not stored */
	uint64_t owner_start;  /* owner's start time: /proc/<pid>/stat field 22,
				  clock ticks since boot; 0 = unknown */
	bool orphaned;         /* restored after a restart, owner not reconnected */
	TAILQ_ENTRY(buffer) orphan_link;
	/* --- end fd store --- */

	/* sharing (share.c): import records, oldest first */
	TAILQ_HEAD(, import) importers;
	uint32_t nimporters;
	uint32_t ntokens;          /* live share tokens naming this buffer */
	uint32_t owner_transfers;  /* times the owner exited and an importer took over */

	TAILQ_ENTRY(buffer) order_link;  /* registry, id order */
	TAILQ_ENTRY(buffer) owner_link;  /* owner's list */
	struct buffer *hash_next;
};

TAILQ_HEAD(buffer_list, buffer);

struct registry {
	struct buffer **buckets;
	size_t nbuckets;           /* power of two */
	size_t count;
	uint64_t next_id;          /* first id is 1; 0 means "none" on the wire */
	struct buffer_list order;
};

/**
 * registry_init() - set up an empty registry.
 * Return: 0, or -ENOMEM.
 */
int registry_init(struct registry *r);

/** registry_finish() - free the table; the buffers themselves are not freed. */
void registry_finish(struct registry *r);

/**
 * registry_insert() - give @b the next id and make it findable.
 * Return: 0, or -ENOMEM (growing the table failed; @b is not inserted and
 * its id is left unchanged).
 */
int registry_insert(struct registry *r, struct buffer *b);

/** registry_remove() - forget @b (which must be inserted). */
void registry_remove(struct registry *r, struct buffer *b);

/** registry_lookup() - the live buffer with @id, or NULL. */
struct buffer *registry_lookup(const struct registry *r, uint64_t id);

/** registry_first_after() - the live buffer with the smallest id > @id, or NULL. */
struct buffer *registry_first_after(const struct registry *r, uint64_t id);

static inline struct buffer *registry_next(struct buffer *b)
{
	return TAILQ_NEXT(b, order_link);
}

#endif
