/* SPDX-License-Identifier: MIT */
/*
 * dmabufctl output: the JSON objects that --json prints (what scripts
 * read) and the human tables (for people only; no script parses them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attr.h"
#include "dmabufctl.h"
#include "utf8.h"

void json_print(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void json_add_u64(json_object *o, const char *key, uint64_t v)
{
	/* json-c 0.14+ keeps uint64 exact. */
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Strings come from other clients (labels, process names): always valid UTF-8. */
void json_add_str(json_object *o, const char *key, const char *v)
{
	char buf[1024];

	json_object_object_add(o, key, json_object_new_string(utf8_sanitize(v, buf, sizeof(buf))));
}

/* Copies @s replacing bytes a terminal could interpret (labels are any client's input). */
const char *printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* "8294400" -> "7.9M"; exact below 1 KiB. */
const char *human_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char units[] = "KMGTPE";
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, cap, "%" PRIu64 "B", bytes);
		return buf;
	}
	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
	return buf;
}

static const char *human_age(uint64_t usec, char *buf, size_t cap)
{
	uint64_t s = usec / 1000000;

	if (s < 60)
		snprintf(buf, cap, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
	return buf;
}

uint64_t now_realtime_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

json_object *buffer_info_json(const struct dmabufd_buffer_info *b, uint64_t now)
{
	json_object *o = json_object_new_object();

	json_add_u64(o, "id", b->id);
	json_add_u64(o, "size", b->size);
	json_add_str(o, "attribute", dmabufd_attribute_name(b->attribute));
	json_object_object_add(o, "movable",
			       json_object_new_boolean(!!(b->flags & DMABUFD_ALLOC_MOVABLE)));
	json_object_object_add(o, "contiguous",
			       json_object_new_boolean(!!(b->flags & DMABUFD_ALLOC_CONTIGUOUS)));
	json_object_object_add(o, "owner_pid", json_object_new_int64(b->owner_pid));
	json_add_u64(o, "owner_uid", b->owner_uid);
	json_add_u64(o, "owner_gid", b->owner_gid);
	json_add_str(o, "owner_comm", b->owner_comm);
	json_add_str(o, "label", b->label);
	json_add_u64(o, "created_usec", b->created_usec);
	json_add_u64(o, "age_usec", now > b->created_usec ? now - b->created_usec : 0);
	json_add_u64(o, "offset", b->offset);
	json_add_str(o, "backend", b->backend); /* several may serve: the one that made it */
	/* Sharing: the owner above is charged; importers are recorded. */
	json_add_u64(o, "charged_uid", b->owner_uid);
	json_add_u64(o, "charged_gid", b->owner_gid);
	json_add_u64(o, "tokens", b->tokens);
	json_add_u64(o, "owner_transfers", b->owner_transfers);
	json_add_u64(o, "n_importers", b->n_importers);
	{
		json_object *a = json_object_new_array();

		for (uint32_t i = 0; i < b->n_importers && i < DMABUFD_LIST_IMPORTERS; i++) {
			const struct dmabufd_importer *im = &b->importers[i];
			json_object *e = json_object_new_object();

			json_object_object_add(e, "pid", json_object_new_int64(im->pid));
			json_add_u64(e, "uid", im->uid);
			json_add_u64(e, "gid", im->gid);
			json_add_str(e, "comm", im->comm);
			json_add_u64(e, "imported_usec", im->imported_usec);
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "importers", a);
	}
	return o;
}

void print_table(const struct dmabufd_buffer_info *rows, size_t n)
{
	uint64_t now = now_realtime_usec(), total = 0;
	char sz[32], age[32], comm[32], bk[32], label[DMABUFD_LABEL_MAX + 1];

	if (n == 0) {
		printf("no buffers\n");
		return;
	}
	printf("%6s %8s %-8s %-8s %7s %6s %-15s %-24s %-8s %s\n", "ID", "SIZE", "ATTR", "BACKEND",
	       "PID", "UID", "COMM", "LABEL", "AGE", "IMPORTERS (pid/uid)");
	for (size_t i = 0; i < n; i++) {
		const struct dmabufd_buffer_info *b = &rows[i];

		total += b->size;
		printf("%6" PRIu64 " %8s %-8s %-8s %7d %6u %-15s %-24s %-8s", b->id,
		       human_size(b->size, sz, sizeof(sz)), dmabufd_attribute_name(b->attribute),
		       printable(b->backend, bk, sizeof(bk)), (int)b->owner_pid, (unsigned)b->owner_uid,
		       printable(b->owner_comm, comm, sizeof(comm)),
		       printable(b->label, label, sizeof(label)),
		       human_age(now > b->created_usec ? now - b->created_usec : 0, age,
				 sizeof(age)));
		for (uint32_t k = 0; k < b->n_importers && k < DMABUFD_LIST_IMPORTERS; k++)
			printf("%s%d/%u", k ? "," : " ", (int)b->importers[k].pid,
			       (unsigned)b->importers[k].uid);
		if (b->n_importers > DMABUFD_LIST_IMPORTERS)
			printf(",+%u", b->n_importers - DMABUFD_LIST_IMPORTERS);
		putchar('\n');
	}
	printf("%zu buffer%s, %" PRIu64 " bytes (%s)\n", n, n == 1 ? "" : "s", total,
	       human_size(total, sz, sizeof(sz)));
}

json_object *stats_json(const struct dmabufd_stats *s)
{
	json_object *o = json_object_new_object(), *probe;

	json_add_str(o, "backend", s->backend);
	json_add_u64(o, "capacity", s->capacity);
	json_add_u64(o, "used", s->used);
	json_add_u64(o, "buffers", s->buffers);
	json_add_u64(o, "clients", s->clients);
	json_add_u64(o, "allocs_total", s->allocs_total);
	json_add_u64(o, "allocs_failed", s->allocs_failed);
	json_add_u64(o, "releases_total", s->releases_total);
	json_add_u64(o, "free_pages", s->free_pages);
	json_add_u64(o, "largest_free_pages", s->largest_free_pages);
	json_add_u64(o, "fragmentation_permille", s->fragmentation_permille);
	json_add_u64(o, "transitions", s->transitions);
	/* null: no active backend keeps a kernel count (not "zero changes") */
	if (s->has_kernel_attr_transitions)
		json_add_u64(o, "kernel_attr_transitions", s->kernel_attr_transitions);
	else
		json_object_object_add(o, "kernel_attr_transitions", NULL);
	json_add_u64(o, "pinned_buffers", s->pinned_buffers);
	json_add_u64(o, "movable_buffers", s->movable_buffers);
	json_add_u64(o, "page_size", s->page_size);
	json_add_u64(o, "tokens", s->tokens);
	json_add_u64(o, "imports", s->imports);
	json_add_u64(o, "imports_total", s->imports_total);
	json_add_u64(o, "owner_transfers", s->owner_transfers);
	json_add_u64(o, "quota_refusals", s->quota_refusals);
	json_add_u64(o, "access_refusals", s->access_refusals);
	json_add_u64(o, "config_reloads", s->config_reloads);
	json_add_u64(o, "compactions", s->compactions);
	json_add_u64(o, "compaction_moves", s->compaction_moves);
	json_add_u64(o, "compaction_bytes", s->compaction_bytes);
	json_add_u64(o, "orphaned_buffers", s->orphaned_buffers);
	json_add_u64(o, "pooled", s->pooled);
	json_add_u64(o, "pool_hits", s->pool_hits);
	json_add_u64(o, "pool_misses", s->pool_misses);
	json_add_u64(o, "config_reload_failures", s->config_reload_failures);
	probe = json_object_new_array();
	for (uint32_t i = 0; i < s->num_probe && i < DMABUFD_MAX_PROBE; i++) {
		json_object *e = json_object_new_object();

		json_add_str(e, "backend", s->probe[i].backend);
		json_object_object_add(e, "present", json_object_new_boolean(s->probe[i].present));
		json_object_object_add(e, "chosen", json_object_new_boolean(s->probe[i].chosen));
		json_add_str(e, "reason", s->probe[i].reason);
		json_object_array_add(probe, e);
	}
	json_object_object_add(o, "probe", probe);
	probe = json_object_new_array(); /* every active backend, in probe order */
	for (uint32_t i = 0; i < s->num_backends && i < DMABUFD_MAX_BACKENDS; i++) {
		const struct dmabufd_backend_stats *bs = &s->backends[i];
		json_object *e = json_object_new_object(), *attrs = json_object_new_array();

		json_add_str(e, "backend", bs->name);
		for (int a = DMABUFD_ATTR_CACHED; a <= DMABUFD_ATTR_UNCACHED; a++)
			if (bs->attributes & (1u << a))
				json_object_array_add(attrs, json_object_new_string(
					dmabufd_attribute_name((enum dmabufd_attribute)a)));
		json_object_object_add(e, "attributes", attrs);
		json_object_object_add(e, "contiguous", json_object_new_boolean(bs->contiguous));
		json_object_object_add(e, "migration", json_object_new_boolean(bs->migration));
		json_object_object_add(e, "revocation", json_object_new_boolean(bs->revocation));
		json_object_object_add(e, "dmabuf", json_object_new_boolean(bs->dmabuf));
		json_add_u64(e, "capacity", bs->capacity);
		json_add_u64(e, "page_size", bs->page_size);
		json_add_u64(e, "used", bs->used);
		json_add_u64(e, "free", bs->free_pages * bs->page_size);
		json_add_u64(e, "buffers", bs->buffers);
		json_add_u64(e, "free_pages", bs->free_pages);
		json_add_u64(e, "largest_free_pages", bs->largest_free_pages);
		json_add_u64(e, "allocs", bs->allocs);
		json_add_u64(e, "fallthroughs", bs->fallthroughs);
		json_object_array_add(probe, e);
	}
	json_object_object_add(o, "backends", probe);
	return o;
}

void print_stats(const struct dmabufd_stats *s)
{
	char a[32], b[32];

	printf("backend:        %s\n", s->backend);
	for (uint32_t i = 0; i < s->num_probe && i < DMABUFD_MAX_PROBE; i++)
		printf("  probe %u:      %-8s %s (%s)\n", i + 1, s->probe[i].backend,
		       s->probe[i].chosen ? "active" : s->probe[i].present ? "present" :
		       strncmp(s->probe[i].reason, "not tried", 9) == 0 ? "-" : "absent",
		       s->probe[i].reason);
	printf("used:           %" PRIu64 " of %" PRIu64 " bytes (%s of %s)\n", s->used,
	       s->capacity, human_size(s->used, a, sizeof(a)),
	       human_size(s->capacity, b, sizeof(b)));
	for (uint32_t i = 0; s->num_backends > 1 && i < s->num_backends &&
			     i < DMABUFD_MAX_BACKENDS; i++) {
		const struct dmabufd_backend_stats *bs = &s->backends[i];
		char c[32], f[32];

		printf("  backend %u:    %-8s %s used of %s, %s free, %u buffers, %" PRIu64
		       " allocs (%" PRIu64 " fell through)%s%s%s\n", i + 1, bs->name,
		       human_size(bs->used, a, sizeof(a)), human_size(bs->capacity, c, sizeof(c)),
		       human_size(bs->free_pages * bs->page_size, f, sizeof(f)), bs->buffers,
		       bs->allocs, bs->fallthroughs, bs->contiguous ? ", contiguous" : "",
		       bs->dmabuf ? ", dma-buf" : "", bs->revocation ? ", revocable" : "");
	}
	printf("buffers:        %u live (%u pinned, %u movable), %u client%s\n", s->buffers,
	       s->pinned_buffers, s->movable_buffers, s->clients, s->clients == 1 ? "" : "s");
	printf("allocations:    %" PRIu64 " total, %" PRIu64 " failed, %" PRIu64
	       " releases\n", s->allocs_total, s->allocs_failed, s->releases_total);
	printf("free pages:     %" PRIu64 " (page %u bytes), largest free run %" PRIu64
	       " pages, fragmentation %u.%u%%\n", s->free_pages, s->page_size,
	       s->largest_free_pages, s->fragmentation_permille / 10,
	       s->fragmentation_permille % 10);
	printf("attribute transitions: %" PRIu64 " pages in the ledger", s->transitions);
	if (s->has_kernel_attr_transitions)
		printf(", %" PRIu64 " in the kernel's linear map\n", s->kernel_attr_transitions);
	else
		printf(" (no kernel count: no kmod backend)\n");
	printf("compaction:     %" PRIu64 " requests, %" PRIu64 " buffers moved, %s moved\n",
	       s->compactions, s->compaction_moves, human_size(s->compaction_bytes, a, sizeof(a)));
	if (s->orphaned_buffers)
		printf("orphaned:       %u buffers restored after a restart, owners not back yet\n",
		       s->orphaned_buffers);
	printf("sharing:        %u live tokens, %u imports (%" PRIu64 " total), %" PRIu64
	       " ownership transfers\n", s->tokens, s->imports, s->imports_total,
	       s->owner_transfers);
	printf("policy:         %" PRIu64 " quota refusals, %" PRIu64 " refused connections, %"
	       PRIu64 " config reloads\n", s->quota_refusals, s->access_refusals,
	       s->config_reloads);
}

json_object *account_json(const struct dmabufd_account *u, enum dmabufd_account_kind kind)
{
	json_object *o = json_object_new_object(), *oa, *ia;

	if (kind == DMABUFD_ACCOUNT_CLIENTS) {
		json_add_u64(o, "client", u->key);
		json_object_object_add(o, "pid", json_object_new_int64(u->pid));
		json_add_str(o, "comm", u->comm);
		json_add_u64(o, "tokens", u->tokens);
	}
	if (kind != DMABUFD_ACCOUNT_GIDS)
		json_add_u64(o, "uid", u->uid);
	if (kind != DMABUFD_ACCOUNT_UIDS)
		json_add_u64(o, "gid", u->gid);
	json_add_u64(o, "owned_bytes", u->owned_bytes);
	json_add_u64(o, "owned_buffers", u->owned_buffers);
	json_add_u64(o, "imported_bytes", u->imported_bytes);
	json_add_u64(o, "imported_buffers", u->imported_buffers);
	oa = json_object_new_object();
	ia = json_object_new_object();
	for (int a = 0; a < ATTR_COUNT; a++) {
		const char *n = dmabufd_attribute_name((enum dmabufd_attribute)a);

		json_add_u64(oa, n, u->owned_by_attribute[a]);
		json_add_u64(ia, n, u->imported_by_attribute[a]);
	}
	json_object_object_add(o, "owned_by_attribute", oa);
	json_object_object_add(o, "imported_by_attribute", ia);
	return o;
}

void print_accounts_table(const struct dmabufd_account *rows, size_t n,
			      enum dmabufd_account_kind kind)
{
	char a[32], b[32], c[32], d[32], comm[32];

	if (kind == DMABUFD_ACCOUNT_CLIENTS)
		printf("%7s %7s %6s %-15s %9s %5s %9s %5s %9s %9s %6s\n", "CLIENT", "PID", "UID",
		       "COMM", "OWNED", "BUFS", "IMPORTED", "BUFS", "CACHED", "UNCACHED",
		       "TOKENS");
	else
		printf("%7s %9s %5s %9s %5s %9s %9s %9s\n",
		       kind == DMABUFD_ACCOUNT_UIDS ? "UID" : "GID", "OWNED", "BUFS", "IMPORTED",
		       "BUFS", "CACHED", "WC", "UNCACHED");
	for (size_t i = 0; i < n; i++) {
		const struct dmabufd_account *u = &rows[i];

		human_size(u->owned_bytes, a, sizeof(a));
		human_size(u->imported_bytes, b, sizeof(b));
		human_size(u->owned_by_attribute[DMABUFD_ATTR_CACHED], c, sizeof(c));
		human_size(u->owned_by_attribute[DMABUFD_ATTR_UNCACHED], d, sizeof(d));
		if (kind == DMABUFD_ACCOUNT_CLIENTS) {
			printf("%7" PRIu64 " %7d %6u %-15s %9s %5u %9s %5u %9s %9s %6u\n", u->key,
			       (int)u->pid, (unsigned)u->uid, printable(u->comm, comm, sizeof(comm)),
			       a, u->owned_buffers, b, u->imported_buffers, c, d, u->tokens);
		} else {
			char wc[32];

			human_size(u->owned_by_attribute[DMABUFD_ATTR_WRITECOMBINE], wc, sizeof(wc));
			printf("%7u %9s %5u %9s %5u %9s %9s %9s\n",
			       kind == DMABUFD_ACCOUNT_UIDS ? (unsigned)u->uid : (unsigned)u->gid, a,
			       u->owned_buffers, b, u->imported_buffers, c, wc, d);
		}
	}
}
