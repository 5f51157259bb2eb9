/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd: what the daemon knows - the buffer list, the accounting
 * tables (both paged) and the counters.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "internal.h"
#include "macros.h"

/* Most rows dmabufd_accounting() accumulates. */
#define ACCOUNTING_MAX_ENTRIES (1u << 20)

/* Storage for the request of one page. */
union paged_msg {
	Dmabufd__List list;
	Dmabufd__Accounting accounting;
};

static void fill_info(struct dmabufd_buffer_info *d, const Dmabufd__BufferInfo *s)
{
	memset(d, 0, sizeof(*d));
	d->id = s->buffer_id;
	d->size = s->size;
	d->attribute = (enum dmabufd_attribute)s->attribute;
	d->flags = s->flags;
	d->owner_pid = s->owner_pid;
	d->owner_uid = s->owner_uid;
	d->owner_gid = s->owner_gid;
	copy_string(d->owner_comm, sizeof(d->owner_comm), s->owner_comm);
	copy_string(d->label, sizeof(d->label), s->label);
	d->created_usec = s->created_usec;
	d->offset = s->offset;
	d->n_importers = s->n_importers > UINT32_MAX ? UINT32_MAX : (uint32_t)s->n_importers;
	for (size_t i = 0; i < s->n_importers && i < DMABUFD_LIST_IMPORTERS; i++) {
		const Dmabufd__ImporterInfo *ii = s->importers[i];

		d->importers[i].pid = ii->pid;
		d->importers[i].uid = ii->uid;
		d->importers[i].gid = ii->gid;
		copy_string(d->importers[i].comm, sizeof(d->importers[i].comm), ii->comm);
		d->importers[i].imported_usec = ii->imported_usec;
	}
	d->tokens = s->tokens;
	d->owner_transfers = s->owner_transfers;
	copy_string(d->backend, sizeof(d->backend), s->backend);
}

/*
 * Admits one page of a paged listing (List, Accounting) into @rows: a page
 * that claims more but is empty would loop forever (-EPROTO), the total is
 * bounded by @max (-E2BIG), and the array grows by doubling from @initial
 * entries of @elem bytes (-ENOMEM). On success *rows has room for @n more
 * entries after @count.
 */
static int page_admit(void **rows, size_t *cap, size_t count, size_t n, bool more,
		      size_t max, size_t initial, size_t elem)
{
	size_t ncap;
	void *grown;

	if (more && n == 0)
		return -EPROTO;
	if (count + n > max)
		return -E2BIG;
	if (count + n <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : initial;
	while (ncap < count + n)
		ncap *= 2;
	grown = reallocarray(*rows, ncap, elem);
	if (!grown)
		return -ENOMEM;
	*rows = grown;
	*cap = ncap;
	return 0;
}

/*
 * One paged listing: the request for the page after a cursor, the reply
 * body it expects, how to find the page's rows, their keys (ascending, each
 * above the cursor) and how to convert one row.
 */
struct paged {
	Dmabufd__Reply__BodyCase expect;
	/* Points @req at the request for the rows after @after, in @msg. */
	void (*fill)(Dmabufd__Request *req, union paged_msg *msg, uint64_t after,
		     const void *arg);
	/* The page's rows and whether more follow. */
	void *const *(*page)(const Dmabufd__Reply *reply, size_t *ret_n, bool *ret_more);
	uint64_t (*key)(const void *item);
	void (*convert)(void *row, const void *item);
	size_t elem;                   /* bytes of the library's row */
	size_t initial;                /* rows of the first allocation */
	size_t max;                    /* most rows in all (-E2BIG beyond) */
};

/*
 * Asks for page after page until the daemon says there is no more, and
 * returns all rows in one malloc'ed array, @row_size bytes apart (the
 * caller's row; see copy_sized()), never NULL on success, also when empty.
 * Return: 0; -ENOMEM; -E2BIG; -EPROTO (an empty page that claims more, or
 * keys that do not advance); transact()'s errors.
 */
static int paged_request(struct dmabufd_client *c, const struct paged *pg, const void *arg,
			 size_t row_size, void **ret, size_t *ret_count)
{
	union {
		struct dmabufd_buffer_info info;
		struct dmabufd_account account;
	} row;
	_cleanup_free_ void *rows = NULL;
	size_t count = 0, cap = 0;
	uint64_t after = 0;
	bool more = true;

	while (more) {
		Dmabufd__Request req = DMABUFD__REQUEST__INIT;
		union paged_msg msg;
		Dmabufd__Reply *reply = NULL;
		void *const *items;
		size_t n;
		int r;

		pg->fill(&req, &msg, after, arg);
		r = transact(c, &req, pg->expect, false, &reply, NULL);
		if (r < 0)
			return r;
		items = pg->page(reply, &n, &more);
		r = page_admit(&rows, &cap, count, n, more, pg->max, pg->initial, row_size);
		for (size_t i = 0; r == 0 && i < n; i++) {
			/* Keys come in ascending order, after the cursor. */
			if (pg->key(items[i]) <= after) {
				r = -EPROTO;
				break;
			}
			after = pg->key(items[i]);
			pg->convert(&row, items[i]);
			copy_sized((char *)rows + count++ * row_size, row_size, &row, pg->elem);
		}
		dmabufd__reply__free_unpacked(reply, NULL);
		if (r < 0)
			return r;
	}
	if (!rows) {
		rows = calloc(1, row_size);
		if (!rows)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(rows);
	*ret_count = count;
	return 0;
}

static void list_fill(Dmabufd__Request *req, union paged_msg *msg, uint64_t after,
		      const void *arg)
{
	dmabufd__list__init(&msg->list);
	msg->list.start_after = after;
	msg->list.max_entries = 0; /* the daemon's page size */
	req->body_case = DMABUFD__REQUEST__BODY_LIST;
	req->list = &msg->list;
}

static void *const *list_page(const Dmabufd__Reply *reply, size_t *ret_n, bool *ret_more)
{
	*ret_n = reply->list->n_buffers;
	*ret_more = reply->list->more;
	return (void *const *)reply->list->buffers;
}

static uint64_t list_key(const void *item)
{
	return ((const Dmabufd__BufferInfo *)item)->buffer_id;
}

static void list_convert(void *row, const void *item)
{
	fill_info(row, item);
}

static const struct paged list_pages = {
	.expect = DMABUFD__REPLY__BODY_LIST,
	.fill = list_fill,
	.page = list_page,
	.key = list_key,
	.convert = list_convert,
	.elem = sizeof(struct dmabufd_buffer_info),
	.initial = 64,
	.max = DMABUFD_LIST_MAX_ENTRIES,
};

DMABUFD_EXPORT int dmabufd_list_sized(struct dmabufd_client *client,
				      struct dmabufd_buffer_info **ret, size_t *ret_count,
				      size_t row_size)
{
	void *rows;
	size_t n;
	int r;

	if (call_begin(client) < 0 || !ret || !ret_count)
		return -EINVAL;
	if (row_size < DMABUFD_BUFFER_INFO_SIZE_VER0)
		return local_error(client, -EINVAL, "struct dmabufd_buffer_info size too small");
	r = paged_request(client, &list_pages, NULL, row_size, &rows, &n);
	if (r < 0)
		return r;
	*ret = rows;
	*ret_count = n;
	return 0;
}

DMABUFD_EXPORT int dmabufd_list(struct dmabufd_client *client, struct dmabufd_buffer_info **ret,
				size_t *ret_count)
{
	return dmabufd_list_sized(client, ret, ret_count, DMABUFD_BUFFER_INFO_SIZE_VER0);
}

DMABUFD_EXPORT void dmabufd_list_free(struct dmabufd_buffer_info *list)
{
	free(list);
}

/* The active backends of a Stats reply; several may serve at once. */
static void fill_backend_stats(struct dmabufd_stats *st, const Dmabufd__StatsReply *sr)
{
	for (size_t i = 0; i < sr->n_backends && i < DMABUFD_MAX_BACKENDS; i++) {
		const Dmabufd__BackendInfo *bi = sr->backends[i];
		struct dmabufd_backend_stats *e = &st->backends[st->num_backends++];

		copy_string(e->name, sizeof(e->name), bi->name);
		e->attributes = bi->attributes;
		e->contiguous = bi->contiguous;
		e->migration = bi->migration;
		e->revocation = bi->revocation;
		e->dmabuf = bi->dmabuf;
		e->capacity = bi->capacity;
		e->page_size = bi->page_size;
		e->used = bi->used;
		e->buffers = bi->buffers;
		e->free_pages = bi->free_pages;
		e->largest_free_pages = bi->largest_free_pages;
		e->allocs = bi->allocs;
		e->fallthroughs = bi->fallthroughs;
	}
}

static void fill_stats(struct dmabufd_stats *st, const Dmabufd__StatsReply *sr)
{
	copy_string(st->backend, sizeof(st->backend), sr->backend);
	st->capacity = sr->capacity;
	st->used = sr->used;
	st->buffers = sr->buffers;
	st->clients = sr->clients;
	st->allocs_total = sr->allocs_total;
	st->allocs_failed = sr->allocs_failed;
	st->releases_total = sr->releases_total;
	st->free_pages = sr->free_pages;
	st->largest_free_pages = sr->largest_free_pages;
	st->fragmentation_permille = sr->fragmentation_permille;
	st->transitions = sr->transitions;
	st->pinned_buffers = sr->pinned_buffers;
	st->movable_buffers = sr->movable_buffers;
	st->page_size = sr->page_size;
	st->tokens = sr->tokens;
	st->imports = sr->imports;
	st->imports_total = sr->imports_total;
	st->owner_transfers = sr->owner_transfers;
	st->quota_refusals = sr->quota_refusals;
	st->access_refusals = sr->access_refusals;
	st->config_reloads = sr->config_reloads;
	st->compactions = sr->compactions;
	st->compaction_moves = sr->compaction_moves;
	st->compaction_bytes = sr->compaction_bytes;
	st->orphaned_buffers = sr->orphaned_buffers;
	for (size_t i = 0; i < sr->n_probe && i < DMABUFD_MAX_PROBE; i++) {
		struct dmabufd_probe_entry *e = &st->probe[st->num_probe++];

		copy_string(e->backend, sizeof(e->backend), sr->probe[i]->backend);
		copy_string(e->reason, sizeof(e->reason), sr->probe[i]->reason);
		e->present = sr->probe[i]->present;
		e->chosen = sr->probe[i]->chosen;
	}
	fill_backend_stats(st, sr);
	st->pooled = sr->pooled;
	st->pool_hits = sr->pool_hits;
	st->pool_misses = sr->pool_misses;
	st->config_reload_failures = sr->config_reload_failures;
	st->has_kernel_attr_transitions =
		sr->kernel_counter_case == DMABUFD__STATS_REPLY__KERNEL_COUNTER_KERNEL_ATTR_TRANSITIONS;
	st->kernel_attr_transitions = st->has_kernel_attr_transitions ?
				      sr->kernel_attr_transitions : 0;
}

DMABUFD_EXPORT int dmabufd_stats_sized(struct dmabufd_client *client, struct dmabufd_stats *ret,
				       size_t size)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Stats s = DMABUFD__STATS__INIT;
	Dmabufd__Reply *reply = NULL;
	struct dmabufd_stats st = { 0 };
	int r;

	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (size < DMABUFD_STATS_SIZE_VER0)
		return local_error(client, -EINVAL, "struct dmabufd_stats size too small");
	req.body_case = DMABUFD__REQUEST__BODY_STATS;
	req.stats = &s;
	r = transact(client, &req, DMABUFD__REPLY__BODY_STATS, false, &reply, NULL);
	if (r < 0)
		return r;
	fill_stats(&st, reply->stats);
	dmabufd__reply__free_unpacked(reply, NULL);
	copy_sized(ret, size, &st, sizeof(st));
	return 0;
}

/*
 * Programs built before struct dmabufd_stats grew pass a struct of
 * DMABUFD_STATS_SIZE_VER0 bytes: only that much is written.
 */
DMABUFD_EXPORT int dmabufd_stats(struct dmabufd_client *client, struct dmabufd_stats *ret)
{
	return dmabufd_stats_sized(client, ret, DMABUFD_STATS_SIZE_VER0);
}

static void fill_usage_row(struct dmabufd_account *d, const Dmabufd__AccountingEntry *e)
{
	memset(d, 0, sizeof(*d));
	d->key = e->key;
	d->pid = e->pid;
	d->uid = e->uid;
	d->gid = e->gid;
	copy_string(d->comm, sizeof(d->comm), e->comm);
	d->owned_bytes = e->owned_bytes;
	d->owned_buffers = e->owned_buffers;
	d->imported_bytes = e->imported_bytes;
	d->imported_buffers = e->imported_buffers;
	for (size_t a = 0; a < ATTR_COUNT && a < e->n_owned_bytes_by_attribute; a++)
		d->owned_by_attribute[a] = e->owned_bytes_by_attribute[a];
	for (size_t a = 0; a < ATTR_COUNT && a < e->n_imported_bytes_by_attribute; a++)
		d->imported_by_attribute[a] = e->imported_bytes_by_attribute[a];
	d->tokens = e->tokens;
}

static void accounting_fill(Dmabufd__Request *req, union paged_msg *msg, uint64_t after,
			    const void *arg)
{
	dmabufd__accounting__init(&msg->accounting);
	msg->accounting.kind = (Dmabufd__AccountingKind)*(const enum dmabufd_account_kind *)arg;
	msg->accounting.start_after = after;
	req->body_case = DMABUFD__REQUEST__BODY_ACCOUNTING;
	req->accounting = &msg->accounting;
}

static void *const *accounting_page(const Dmabufd__Reply *reply, size_t *ret_n, bool *ret_more)
{
	*ret_n = reply->accounting->n_entries;
	*ret_more = reply->accounting->more;
	return (void *const *)reply->accounting->entries;
}

static uint64_t accounting_key(const void *item)
{
	return ((const Dmabufd__AccountingEntry *)item)->key;
}

static void accounting_convert(void *row, const void *item)
{
	fill_usage_row(row, item);
}

static const struct paged accounting_pages = {
	.expect = DMABUFD__REPLY__BODY_ACCOUNTING,
	.fill = accounting_fill,
	.page = accounting_page,
	.key = accounting_key,
	.convert = accounting_convert,
	.elem = sizeof(struct dmabufd_account),
	.initial = 32,
	.max = ACCOUNTING_MAX_ENTRIES,
};

DMABUFD_EXPORT int dmabufd_accounting_sized(struct dmabufd_client *client,
					    enum dmabufd_account_kind kind,
					    struct dmabufd_account **ret, size_t *ret_count,
					    size_t row_size)
{
	void *rows;
	size_t n;
	int r;

	if (call_begin(client) < 0 || !ret || !ret_count)
		return -EINVAL;
	if ((unsigned)kind > DMABUFD_ACCOUNT_GIDS)
		return local_error(client, -EINVAL, "unknown accounting table");
	if (row_size < DMABUFD_ACCOUNT_SIZE_VER0)
		return local_error(client, -EINVAL, "struct dmabufd_account size too small");
	r = paged_request(client, &accounting_pages, &kind, row_size, &rows, &n);
	if (r < 0)
		return r;
	*ret = rows;
	*ret_count = n;
	return 0;
}

DMABUFD_EXPORT int dmabufd_accounting(struct dmabufd_client *client, enum dmabufd_account_kind kind,
				 struct dmabufd_account **ret, size_t *ret_count)
{
	return dmabufd_accounting_sized(client, kind, ret, ret_count, DMABUFD_ACCOUNT_SIZE_VER0);
}

DMABUFD_EXPORT void dmabufd_accounting_free(struct dmabufd_account *accounts)
{
	free(accounts);
}
