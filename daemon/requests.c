/* SPDX-License-Identifier: MIT */
/*
 * Decoding and dispatch: a switch on the request type calls one handler
 * per request (Hello, List, Stats and Compact here; Alloc, AllocFramebuffer
 * and Release in alloc.c; the sharing requests in share.c). Every failure
 * is a reply carrying a negative errno and a short reason; a refused
 * request changes nothing (DESIGN.md, "Request flow"; the 2002 generic-DMA
 * thread: every call can fail with an error instead of BUG).
 */
#include "requests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "dmabufd.pb-c.h"
#include "log.h"
#include "macros.h"
#include "placement.h"
#include "registry.h"
#include "reply.h"
#include "share.h"
#include "stats.h"
#include "utf8.h"
#include "wire.h"

#define LIST_PAGE_DEFAULT 256u
#define CLIENT_NAME_MAX 64u

/* Requests are decoded into this arena instead of a malloc per field. */
static struct arena request_arena;

static void handle_hello(struct client *c, uint64_t id, const Dmabufd__Hello *hello)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__HelloReply hr = DMABUFD__HELLO_REPLY__INIT;
	Dmabufd__BackendInfo infos[SERVER_MAX_BACKENDS];
	Dmabufd__BackendInfo *info_ptrs[SERVER_MAX_BACKENDS];

	if (c->hello_done)
		return reply_error(c, id, -EPROTO, "Hello was already exchanged");
	if (hello->version != DMABUFD__VERSION__VERSION_CURRENT)
		return reply_error(c, id, -EPROTONOSUPPORT,
				   reasonf(&c->reason, "protocol version %u is not supported; the daemon speaks version %u",
					   hello->version, DMABUFD__VERSION__VERSION_CURRENT));
	if (hello->client_name && strlen(hello->client_name) > CLIENT_NAME_MAX)
		return reply_error(c, id, -EINVAL, "client name longer than 64 bytes");
	if (hello->client_name && !utf8_valid(hello->client_name))
		return reply_error(c, id, -EINVAL, "client name is not valid UTF-8");

	hr.version = DMABUFD__VERSION__VERSION_CURRENT;
	hr.backend = (char *)s->backends[0].caps.name;
	hr.attributes = 0;
	hr.dmabuf = true;
	/* The daemon as a whole (proto HelloReply.backends): union/any/all/sum/min. */
	for (unsigned i = 0; i < s->nbackends; i++) {
		const struct backend_caps *bc = &s->backends[i].caps;

		hr.attributes |= bc->attributes;
		hr.contiguous |= bc->contiguous;
		hr.migration |= bc->migration;
		hr.revocation |= bc->revocation;
		hr.dmabuf &= bc->dmabuf;
		stats_backend_info(&s->backends[i], &infos[i]);
		info_ptrs[i] = &infos[i];
	}
	hr.region_size = server_capacity(s);
	hr.page_size = (uint32_t)server_page_size(s);
	hr.n_backends = s->nbackends;
	hr.backends = info_ptrs;
	hr.max_message = DMABUFD_MAX_MESSAGE;
	hr.max_buffers = s->limits.max_buffers;
	hr.max_alloc = s->limits.max_alloc;
	hr.release_no_reply = true; /* Release.flags RELEASE_NO_REPLY is understood */
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_HELLO;
	reply.hello = &hr;
	if (client_queue_reply(c, &reply, -1) < 0) {
		c->protocol_errors = UINT32_MAX;
		return;
	}
	c->hello_done = true;
	log_debug("client pid %d (%s) said Hello as \"%s\"", (int)c->cred.pid, c->comm,
		  hello->client_name ? hello->client_name : "");
}

static void handle_list(struct client *c, uint64_t id, const Dmabufd__List *req)
{
	struct server *s = c->server;
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__ListReply lr = DMABUFD__LIST_REPLY__INIT;
	_cleanup_free_ Dmabufd__BufferInfo *infos = NULL;
	_cleanup_free_ Dmabufd__BufferInfo **ptrs = NULL;
	uint32_t max = req->max_entries ? req->max_entries : LIST_PAGE_DEFAULT;
	_cleanup_free_ Dmabufd__ImporterInfo ***imps = NULL;
	size_t bytes = 64; /* reply header and the "more" flag */
	struct buffer *b;
	size_t n = 0;

	if (max > LIST_PAGE_DEFAULT)
		max = LIST_PAGE_DEFAULT;
	infos = calloc(max, sizeof(*infos));
	ptrs = calloc(max, sizeof(*ptrs));
	imps = calloc(max, sizeof(*imps));
	if (!infos || !ptrs || !imps)
		return reply_error(c, id, -ENOMEM, "out of memory");

	share_sweep_expired(s);
	for (b = registry_first_after(&s->registry, req->start_after); b && n < max;
	     b = registry_next(b)) {
		Dmabufd__BufferInfo *bi = &infos[n];
		size_t entry;
		int ni;

		/* Other users' buffers (pids, comms, labels) are theirs to see. */
		if (!share_buffer_visible(c, b))
			continue;
		dmabufd__buffer_info__init(bi);
		bi->buffer_id = b->id;
		bi->size = b->size;
		bi->attribute = (Dmabufd__Attribute)b->attribute;
		bi->flags = b->flags;
		bi->owner_pid = b->pid;
		bi->owner_uid = b->uid;
		bi->owner_gid = b->gid;
		bi->owner_comm = b->comm;
		bi->label = b->label;
		bi->created_usec = b->created_usec;
		bi->offset = b->offset;
		bi->tokens = b->ntokens;
		bi->owner_transfers = b->owner_transfers;
		ni = share_fill_importers(b, &imps[n]);
		if (ni < 0)
			break; /* out of memory: send a shorter page */
		bi->n_importers = (size_t)ni;
		bi->importers = imps[n];
		/* Importers make entries larger: stop before the datagram limit. */
		entry = dmabufd__buffer_info__get_packed_size(bi) + 4;
		if (bytes + entry > DMABUFD_MAX_MESSAGE) {
			free(imps[n]);
			imps[n] = NULL;
			break;
		}
		bytes += entry;
		bi->orphaned = b->orphaned;
		bi->backend = (char *)buffer_home(s, b)->caps.name;
		ptrs[n++] = bi;
	}
	lr.n_buffers = n;
	lr.buffers = ptrs;
	lr.more = b != NULL;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_LIST;
	reply.list = &lr;
	reply_send(c, &reply, -1);
	for (size_t i = 0; i < n; i++)
		free(imps[i]);
}

/*
 * Compact: slide every movable buffer down (docs/REGION.md). Administrators
 * only (root): it costs every owner of a movable buffer a relocation.
 */
static void handle_compact(struct client *c, uint64_t id)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__CompactReply cr = DMABUFD__COMPACT_REPLY__INIT;
	struct server_compact_result res;
	int err;

	if (c->cred.uid != 0)
		return reply_error(c, id, -EPERM, "only root may compact the region");
	err = server_compact(c->server, &res);
	if (err < 0)
		return reply_error(c, id, err,
				   err == -EOPNOTSUPP ? "no active backend can relocate buffers" :
							"compaction failed; see the daemon's log");
	cr.planned_moves = res.planned_moves;
	cr.planned_bytes = res.planned_bytes;
	cr.moves = res.moves;
	cr.bytes_moved = res.bytes_moved;
	cr.largest_free_before = res.largest_free_before;
	cr.largest_free_after = res.largest_free_after;
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_COMPACT;
	reply.compact = &cr;
	reply_send(c, &reply, -1);
}

static void handle_stats(struct client *c, uint64_t id)
{
	Dmabufd__Reply reply = DMABUFD__REPLY__INIT;
	Dmabufd__StatsReply sr = DMABUFD__STATS_REPLY__INIT;
	Dmabufd__ProbeResult probe[PROBE_MAX_BACKENDS];
	Dmabufd__ProbeResult *probe_ptrs[PROBE_MAX_BACKENDS];
	Dmabufd__BackendInfo binfo[SERVER_MAX_BACKENDS];
	Dmabufd__BackendInfo *binfo_ptrs[SERVER_MAX_BACKENDS];

	stats_fill(c->server, &sr, binfo, binfo_ptrs, probe, probe_ptrs);
	reply.id = id;
	reply.body_case = DMABUFD__REPLY__BODY_STATS;
	reply.stats = &sr;
	reply_send(c, &reply, -1);
}

void client_handle_datagram(struct client *c, const uint8_t *data, size_t len, int *fds,
			    size_t nfds, unsigned wire_flags)
{
	Dmabufd__Request *req;
	uint64_t id;

	if (wire_flags & WIRE_TRUNCATED) {
		wire_close_fds(fds, nfds);
		c->protocol_errors++;
		return reply_error(c, 0, -EMSGSIZE,
				   reasonf(&c->reason, "request of %zu bytes exceeds the %u-byte limit", len,
					   DMABUFD_MAX_MESSAGE));
	}
	arena_reset(&request_arena);
	req = dmabufd__request__unpack(arena_allocator(&request_arena), len, data);
	if (!req) {
		wire_close_fds(fds, nfds);
		/* protobuf-c answers NULL for both; only a malformed message is
		 * the client's fault (docs/RELIABILITY.md). */
		if (arena_failed(&request_arena))
			return reply_error(c, 0, -ENOMEM, "out of memory decoding the request");
		c->protocol_errors++;
		return reply_error(c, 0, -EBADMSG, "malformed request");
	}
	id = req->id;
	if (nfds || (wire_flags & WIRE_FDS_TRUNCATED)) {
		/* No request takes a file descriptor. */
		wire_close_fds(fds, nfds);
		c->protocol_errors++;
		reply_error(c, id, -EINVAL, "this request takes no file descriptors");
		goto out;
	}
	if (!c->hello_done && req->body_case != DMABUFD__REQUEST__BODY_HELLO) {
		reply_error(c, id, -EPROTO, "the first request must be Hello");
		goto out;
	}

	switch (req->body_case) {
	case DMABUFD__REQUEST__BODY_HELLO:
		handle_hello(c, id, req->hello);
		break;
	case DMABUFD__REQUEST__BODY_ALLOC:
		handle_alloc(c, id, req->alloc);
		break;
	case DMABUFD__REQUEST__BODY_COMPACT:
		handle_compact(c, id);
		break;
	case DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER:
		handle_alloc_framebuffer(c, id, req->alloc_framebuffer);
		break;
	case DMABUFD__REQUEST__BODY_RELEASE:
		handle_release(c, id, req->release);
		break;
	case DMABUFD__REQUEST__BODY_LIST:
		handle_list(c, id, req->list);
		break;
	case DMABUFD__REQUEST__BODY_STATS:
		handle_stats(c, id);
		break;
	case DMABUFD__REQUEST__BODY_SHARE:
		handle_share(c, id, req->share);
		break;
	case DMABUFD__REQUEST__BODY_IMPORT:
		handle_import(c, id, req->import);
		break;
	case DMABUFD__REQUEST__BODY_UNSHARE:
		handle_unshare(c, id, req->unshare);
		break;
	case DMABUFD__REQUEST__BODY_REVOKE:
		handle_revoke(c, id, req->revoke);
		break;
	case DMABUFD__REQUEST__BODY_ACCOUNTING:
		handle_accounting(c, id, req->accounting);
		break;
	default:
		c->protocol_errors++;
		reply_error(c, id, -ENOSYS, "unknown request type");
		break;
	}
out:
	arena_reset(&request_arena); /* frees @req */
}
