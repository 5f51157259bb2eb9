/* SPDX-License-Identifier: MIT */
#include "buffer.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "placement.h"
#include "sd.h"

int buffer_on_release(struct server *s, buffer_release_hook *hook)
{
	for (unsigned i = 0; i < s->nrelease_hooks; i++)
		if (s->release_hooks[i] == hook)
			return 0;
	if (s->nrelease_hooks == SERVER_MAX_RELEASE_HOOKS)
		return -ENOSPC;
	s->release_hooks[s->nrelease_hooks++] = hook;
	return 0;
}

int buffer_record(struct server *s, struct buffer *b)
{
	struct client *c = b->owner;
	int err = registry_insert(&s->registry, b);

	if (err < 0)
		return err;
	TAILQ_INSERT_TAIL(&c->buffers, b, owner_link);
	c->nbuffers++;
	s->used += b->size;
	return 0;
}

void buffer_release(struct server *s, struct buffer *b)
{
	struct client *owner = b->owner;

	/* share.c: tokens, imports, charges; fdstore.c: FDSTOREREMOVE, orphans. */
	for (unsigned i = 0; i < s->nrelease_hooks; i++)
		s->release_hooks[i](s, b);
	if (owner) {
		TAILQ_REMOVE(&owner->buffers, b, owner_link);
		owner->nbuffers--;
	}
	registry_remove(&s->registry, b);
	buffer_unmake(s, b);
	s->used -= b->size;
	s->counters.releases_total++;
	/* BUFFER_ID= and the other buffer fields go to the journal. */
	log_buffer_event(LOG_LEVEL_DEBUG, b, 0, "buffer %llu released (%llu bytes, owner pid %d)",
			 (unsigned long long)b->id, (unsigned long long)b->size, (int)b->pid);
	free(b);
}

void buffer_unmake(struct server *s, struct buffer *b)
{
	struct server_backend *sb = buffer_home(s, b);

	sb->backend->ops->release(sb->backend, b);
	/*
	 * Deferred release (kmod): clients may still map the pages; the range
	 * stays placed until the backend's release event (backend/events.c).
	 */
	if (!sb->caps.deferred_release)
		sb_unplace(sb, b->offset);
}
