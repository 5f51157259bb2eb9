/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd: buffers this connection owns - Alloc (blocking and
 * asynchronous), AllocFramebuffer, Release (blocking and without reply),
 * Compact - and the attribute names the API takes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "internal.h"
#include "dmabufd/framebuffer.h"
#include "fb_layout.h"
#include "log.h"
#include "macros.h"

/* ---- requests --------------------------------------------------------- */

/* Local validation of what every allocation takes (the daemon checks again). */
static int check_common_args(struct dmabufd_client *c, enum dmabufd_attribute attribute,
			     uint32_t flags, const char *label)
{
	if ((unsigned)attribute > DMABUFD_ATTR_UNCACHED)
		return local_error(c, -EINVAL, "unknown attribute");
	if (flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL)
		return local_error(c, -EINVAL, "unknown alloc flags");
	if (label && strnlen(label, DMABUFD_LABEL_MAX + 1) > DMABUFD_LABEL_MAX)
		return local_error(c, -EINVAL, "label longer than DMABUFD_LABEL_MAX bytes");
	return 0;
}

/* Local validation of Alloc arguments (the daemon checks them again). */
static int check_alloc_args(struct dmabufd_client *c, uint64_t size, uint64_t alignment,
			    enum dmabufd_attribute attribute, uint32_t flags, const char *label)
{
	uint64_t page = c->info.page_size ? c->info.page_size : 4096;

	if (size == 0)
		return local_error(c, -EINVAL, "size 0");
	if (size > UINT64_MAX - (page - 1))
		return local_error(c, -EINVAL, "size overflows when rounded up to pages");
	if (alignment && ((alignment & (alignment - 1)) || alignment < page))
		return local_error(c, -EINVAL, "alignment not a power of two >= the page size");
	return check_common_args(c, attribute, flags, label);
}

static void fill_alloc(Dmabufd__Request *req, Dmabufd__Alloc *a, uint64_t size,
		       uint64_t alignment, enum dmabufd_attribute attribute, uint32_t flags,
		       const char *label)
{
	a->size = size;
	a->alignment = alignment;
	a->attribute = (Dmabufd__Attribute)attribute;
	a->flags = flags;
	a->label = (char *)(label ? label : "");
	req->body_case = DMABUFD__REQUEST__BODY_ALLOC;
	req->alloc = a;
}

DMABUFD_EXPORT int dmabufd_alloc(struct dmabufd_client *client, uint64_t size,
				 uint64_t alignment, enum dmabufd_attribute attribute,
				 uint32_t flags, const char *label, struct dmabufd_buffer *ret)
{
	return dmabufd_alloc_devices(client, size, alignment, attribute, flags, label, NULL, 0,
				     ret);
}

DMABUFD_EXPORT int dmabufd_alloc_devices(struct dmabufd_client *client, uint64_t size,
					 uint64_t alignment, enum dmabufd_attribute attribute,
					 uint32_t flags, const char *label,
					 const char *const *devices, uint32_t num_devices,
					 struct dmabufd_buffer *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	Dmabufd__Reply *reply = NULL;
	struct dmabufd_buffer buf;
	int fd = -1, r;

	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (num_devices > DMABUFD_MAX_DEVICES || (num_devices && !devices))
		return local_error(client, -EINVAL, "more than DMABUFD_MAX_DEVICES devices");
	for (uint32_t i = 0; i < num_devices; i++)
		if (!devices[i] || strnlen(devices[i], 256) > 255)
			return local_error(client, -EINVAL, "device path NULL or over 255 bytes");
	r = check_alloc_args(client, size, alignment, attribute, flags, label);
	if (r < 0)
		return r;
	fill_alloc(&req, &a, size, alignment, attribute, flags, label);
	a.n_devices = num_devices;
	a.devices = (char **)devices;
	r = transact(client, &req, DMABUFD__REPLY__BODY_ALLOC, true, &reply, &fd);
	if (r < 0)
		return r;
	r = parse_alloc(reply->alloc, size, fd, &buf);
	dmabufd__reply__free_unpacked(reply, NULL);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret = buf;
	return 0;
}

DMABUFD_EXPORT int dmabufd_alloc_framebuffer(struct dmabufd_client *client, uint32_t width,
					     uint32_t height, uint32_t fourcc, uint64_t modifier,
					     uint32_t usage, enum dmabufd_attribute attribute,
					     uint32_t flags, const char *label,
					     struct dmabufd_framebuffer *ret)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__AllocFramebuffer a = DMABUFD__ALLOC_FRAMEBUFFER__INIT;
	Dmabufd__AllocFramebufferReply *fr;
	Dmabufd__Reply *reply = NULL;
	struct fb_layout layout = { 0 };
	int fd = -1, r;

	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (width == 0 || height == 0)
		return local_error(client, -EINVAL, "width or height 0");
	if (usage == 0)
		return local_error(client, -EINVAL, "no usage bits");
	r = check_common_args(client, attribute, flags, label);
	if (r < 0)
		return r;
	a.width = width;
	a.height = height;
	a.fourcc = fourcc;
	a.modifier = modifier;
	a.usage = usage;
	a.attribute = (Dmabufd__Attribute)attribute;
	a.flags = flags;
	a.label = (char *)(label ? label : "");
	req.body_case = DMABUFD__REQUEST__BODY_ALLOC_FRAMEBUFFER;
	req.alloc_framebuffer = &a;
	r = transact(client, &req, DMABUFD__REPLY__BODY_ALLOC_FRAMEBUFFER, true, &reply, &fd);
	if (r < 0)
		return r;

	/* Never trust the layout: it must describe what was asked, inside the fd. */
	fr = reply->alloc_framebuffer;
	r = -EPROTO;
	if (fr && fr->buffer_id && fr->n_planes >= 1 && fr->n_planes <= FB_MAX_PLANES &&
	    fr->width == width && fr->height == height && fr->fourcc == fourcc &&
	    fr->modifier == modifier) {
		layout.width = fr->width;
		layout.height = fr->height;
		layout.fourcc = fr->fourcc;
		layout.modifier = fr->modifier;
		layout.num_planes = (uint32_t)fr->n_planes;
		layout.size = fr->size;
		for (size_t i = 0; i < fr->n_planes; i++) {
			layout.offsets[i] = fr->planes[i]->offset;
			layout.pitches[i] = fr->planes[i]->pitch;
			layout.sizes[i] = fr->planes[i]->size;
		}
		r = fb_layout_validate(&layout);
	}
	if (r < 0) {
		log_debug("libdmabufd: reply %llu: malformed framebuffer layout",
			  (unsigned long long)reply->id);
		dmabufd__reply__free_unpacked(reply, NULL);
		close(fd);
		return -EPROTO;
	}
	fb_layout_to_framebuffer(&layout, fr->buffer_id, fd, ret);
	dmabufd__reply__free_unpacked(reply, NULL);
	return 0;
}

DMABUFD_EXPORT int dmabufd_alloc_async(struct dmabufd_client *client, uint64_t size,
				       uint64_t alignment, enum dmabufd_attribute attribute,
				       uint32_t flags, const char *label, dmabufd_alloc_cb cb,
				       void *userdata)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Alloc a = DMABUFD__ALLOC__INIT;
	struct pending *p;
	int r;

	if (call_begin(client) < 0 || !cb)
		return -EINVAL;
	r = check_alloc_args(client, size, alignment, attribute, flags, label);
	if (r < 0)
		return r;
	if (client->dead)
		return client->dead;
	if (client->n_async >= client->async_limit)
		return local_error(client, -EBUSY, "too many asynchronous Allocs in flight");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->expect = DMABUFD__REPLY__BODY_ALLOC;
	p->want_fd = true;
	p->cb = cb;
	p->userdata = userdata;
	p->min_size = size;
	p->fd = -1;
	fill_alloc(&req, &a, size, alignment, attribute, flags, label);
	r = send_request(client, &req, &p->id);
	if (r < 0) {
		free(p);
		return r;
	}
	pending_append(client, p);
	return 0;
}

DMABUFD_EXPORT int dmabufd_release(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;

	if (call_begin(client) < 0)
		return -EINVAL;
	rel.buffer_id = id;
	req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
	req.release = &rel;
	return transact_ack(client, &req);
}

DMABUFD_EXPORT int dmabufd_release_async(struct dmabufd_client *client, uint64_t id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Release rel = DMABUFD__RELEASE__INIT;
	uint64_t sent;

	if (call_begin(client) < 0)
		return -EINVAL;
	/* A daemon without RELEASE_NO_REPLY would answer: wait for it. */
	if (!client->release_no_reply)
		return dmabufd_release(client, id);
	if (client->dead)
		return client->dead;
	if (++client->releases_unread > RELEASE_ASYNC_DRAIN) {
		int ran = 0, r;

		while ((r = read_one(client, false, &ran)) == 1)
			;
		if (r < 0)
			return r;
		client->releases_unread = 1;
	}
	rel.buffer_id = id;
	rel.flags = DMABUFD__RELEASE_FLAG__RELEASE_NO_REPLY;
	req.body_case = DMABUFD__REQUEST__BODY_RELEASE;
	req.release = &rel;
	return send_request(client, &req, &sent);
}

DMABUFD_EXPORT int dmabufd_release_failures(struct dmabufd_client *client, uint64_t *ret_count,
					    uint64_t *ret_id, int *ret_error)
{
	if (call_begin(client) < 0)
		return -EINVAL;
	if (ret_count)
		*ret_count = client->release_failures;
	if (ret_id)
		*ret_id = client->release_failed_id;
	if (ret_error)
		*ret_error = client->release_failed_error;
	return 0;
}

DMABUFD_EXPORT int dmabufd_compact(struct dmabufd_client *client,
				   struct dmabufd_compact_result *ret)
{
	return dmabufd_compact_sized(client, ret, DMABUFD_COMPACT_RESULT_SIZE_VER0);
}

DMABUFD_EXPORT int dmabufd_compact_sized(struct dmabufd_client *client,
					 struct dmabufd_compact_result *ret, size_t size)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Compact cp = DMABUFD__COMPACT__INIT;
	Dmabufd__Reply *reply = NULL;
	const Dmabufd__CompactReply *cr;
	struct dmabufd_compact_result res;
	int r;

	if (call_begin(client) < 0 || !ret)
		return -EINVAL;
	if (size < DMABUFD_COMPACT_RESULT_SIZE_VER0)
		return local_error(client, -EINVAL, "struct dmabufd_compact_result size too small");
	req.body_case = DMABUFD__REQUEST__BODY_COMPACT;
	req.compact = &cp;
	r = transact(client, &req, DMABUFD__REPLY__BODY_COMPACT, false, &reply, NULL);
	if (r < 0)
		return r;
	cr = reply->compact;
	res = (struct dmabufd_compact_result){
		.planned_moves = cr->planned_moves,
		.planned_bytes = cr->planned_bytes,
		.moves = cr->moves,
		.bytes_moved = cr->bytes_moved,
		.largest_free_before = cr->largest_free_before,
		.largest_free_after = cr->largest_free_after,
	};
	dmabufd__reply__free_unpacked(reply, NULL);
	copy_sized(ret, size, &res, sizeof(res));
	return 0;
}

/* ---- attributes ------------------------------------------------------- */

DMABUFD_EXPORT const char *dmabufd_attribute_name(enum dmabufd_attribute attribute)
{
	const char *name = attr_short_name(attribute);

	return name ? name : "unknown";
}

DMABUFD_EXPORT int dmabufd_attribute_from_string(const char *s, enum dmabufd_attribute *ret)
{
	return attr_from_string(s, ret);
}
