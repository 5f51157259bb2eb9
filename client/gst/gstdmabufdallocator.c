/* SPDX-License-Identifier: MIT */
/* GstDmabufdAllocator: dmabufd buffers as dma-buf GstMemory. */
#include "gstdmabufdallocator.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC(dmabufd_allocator_debug);
#define GST_CAT_DEFAULT dmabufd_allocator_debug

struct _GstDmabufdAllocator {
	GstDmaBufAllocator parent;
	GMutex lock;                     /* serialises every call on @client */
	struct dmabufd_client *client;
	struct dmabufd_info info;
	enum dmabufd_attribute attribute;
	GWeakRef element;                /* where refusals are posted, or empty */
};

G_DEFINE_TYPE(GstDmabufdAllocator, gst_dmabufd_allocator, GST_TYPE_DMABUF_ALLOCATOR)

/* qdata on each memory: releases the buffer in the daemon when the memory
 * is finalised. GstMiniObject runs qdata notifies before the allocator's
 * free(), i.e. before GstFdAllocator unmaps and closes the fd; releasing
 * first is fine, the fd stays valid until it is closed. */
struct dmabufd_mem_tag {
	GstDmabufdAllocator *allocator; /* the memory's own reference keeps it alive */
	guint64 id;
};

static GQuark mem_tag_quark(void)
{
	/* g_quark_from_static_string() is thread-safe and idempotent. */
	return g_quark_from_static_string("GstDmabufdMemoryTag");
}

static void mem_tag_free(gpointer data)
{
	struct dmabufd_mem_tag *tag = data;
	GstDmabufdAllocator *self = tag->allocator;
	int r;

	g_mutex_lock(&self->lock);
	r = self->client ? dmabufd_release(self->client, tag->id) : -ENOTCONN;
	g_mutex_unlock(&self->lock);
	if (r < 0)
		GST_WARNING_OBJECT(self, "release of buffer %" G_GUINT64_FORMAT " failed: %s (%s)",
				   tag->id, g_strerror(-r),
				   self->client ? dmabufd_last_reason(self->client) : "");
	else
		GST_LOG_OBJECT(self, "released buffer %" G_GUINT64_FORMAT, tag->id);
	g_free(tag);
}

gboolean gst_dmabufd_memory_get_id(GstMemory *mem, guint64 *ret_id)
{
	struct dmabufd_mem_tag *tag;

	if (!mem)
		return FALSE;
	while (mem->parent)
		mem = mem->parent;
	if (!GST_IS_DMABUFD_ALLOCATOR(mem->allocator))
		return FALSE;
	tag = gst_mini_object_get_qdata(GST_MINI_OBJECT_CAST(mem), mem_tag_quark());
	if (!tag)
		return FALSE;
	if (ret_id)
		*ret_id = tag->id;
	return TRUE;
}

GstMemory *gst_dmabufd_allocator_wrap(GstDmabufdAllocator *self, guint64 id, int fd,
				      gsize size, gsize maxsize)
{
	struct dmabufd_mem_tag *tag;
	GstMemory *mem;

	/* KEEP_MAPPED: map once, reuse the mapping for every frame the pool
	 * hands out again (no mmap/munmap per frame). */
	mem = gst_dmabuf_allocator_alloc_with_flags(GST_ALLOCATOR_CAST(self), fd, maxsize,
						    GST_FD_MEMORY_FLAG_KEEP_MAPPED);
	if (!mem) {
		close(fd);
		g_mutex_lock(&self->lock);
		dmabufd_release(self->client, id);
		g_mutex_unlock(&self->lock);
		return NULL;
	}
	if (size < maxsize)
		gst_memory_resize(mem, 0, size);
	tag = g_new(struct dmabufd_mem_tag, 1);
	tag->allocator = self;
	tag->id = id;
	gst_mini_object_set_qdata(GST_MINI_OBJECT_CAST(mem), mem_tag_quark(), tag, mem_tag_free);
	return mem;
}

int gst_dmabufd_allocator_alloc_buffer(GstDmabufdAllocator *self, gsize size,
				       const gchar *label, GstMemory **ret)
{
	struct dmabufd_buffer b;
	char lbl[DMABUFD_LABEL_MAX + 1];
	gchar *reason = NULL;
	GstMemory *mem;
	int r;

	if (size == 0)
		return -EINVAL;
	if (label)
		g_strlcpy(lbl, label, sizeof(lbl));
	g_mutex_lock(&self->lock);
	r = dmabufd_alloc(self->client, size, 0, self->attribute, 0, label ? lbl : NULL, &b);
	if (r < 0)
		reason = g_strdup(dmabufd_last_reason(self->client));
	g_mutex_unlock(&self->lock);
	if (r < 0) {
		gst_dmabufd_allocator_post_refusal(self, "buffer", size, r, reason);
		g_free(reason);
		return r;
	}
	GST_LOG_OBJECT(self, "allocated buffer %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
		       " bytes", b.id, b.size);
	mem = gst_dmabufd_allocator_wrap(self, b.id, b.fd, size, b.size);
	if (!mem)
		return -ENOMEM;
	*ret = mem;
	return 0;
}

/* GstAllocator::alloc: plain gst_allocator_alloc() on this allocator, for
 * elements that take the allocator from the ALLOCATION query but no pool.
 * prefix/padding/align of @params are honoured by allocating the sum. */
static GstMemory *dmabufd_allocator_alloc(GstAllocator *allocator, gsize size,
					  GstAllocationParams *params)
{
	GstDmabufdAllocator *self = GST_DMABUFD_ALLOCATOR(allocator);
	gsize prefix = params ? params->prefix : 0, padding = params ? params->padding : 0;
	GstMemory *mem;

	if (size > G_MAXSIZE - prefix - padding)
		return NULL;
	/* dmabufd buffers start page-aligned: any align mask below a page holds. */
	if (gst_dmabufd_allocator_alloc_buffer(self, prefix + size + padding, "gst memory",
					       &mem) < 0)
		return NULL;
	if (prefix || padding)
		gst_memory_resize(mem, prefix, size);
	return mem;
}

static void gst_dmabufd_allocator_finalize(GObject *object)
{
	GstDmabufdAllocator *self = GST_DMABUFD_ALLOCATOR(object);

	/* Every memory holds a reference on its allocator, so by now every
	 * buffer was released; disconnecting releases anything left anyway. */
	dmabufd_disconnect(self->client);
	self->client = NULL;
	g_weak_ref_clear(&self->element);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(gst_dmabufd_allocator_parent_class)->finalize(object);
}

static void gst_dmabufd_allocator_class_init(GstDmabufdAllocatorClass *klass)
{
	GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
	GstAllocatorClass *alloc_class = GST_ALLOCATOR_CLASS(klass);

	gobject_class->finalize = gst_dmabufd_allocator_finalize;
	alloc_class->alloc = dmabufd_allocator_alloc;
	GST_DEBUG_CATEGORY_INIT(dmabufd_allocator_debug, "dmabufdallocator", 0,
				"dmabufd memory allocator");
}

static void gst_dmabufd_allocator_init(GstDmabufdAllocator *self)
{
	g_mutex_init(&self->lock);
	g_weak_ref_init(&self->element, NULL);
	/* mem_type stays GST_ALLOCATOR_DMABUF (set by GstDmaBufAllocator), so
	 * gst_is_dmabuf_memory() holds for every memory. */
	GST_OBJECT_FLAG_UNSET(self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

int gst_dmabufd_allocator_new(const gchar *socket_path, enum dmabufd_attribute attribute,
			      GstAllocator **ret)
{
	GstDmabufdAllocator *self;
	struct dmabufd_client *client = NULL;
	int r;

	r = dmabufd_connect(socket_path, &client);
	if (r < 0)
		return r;
	self = g_object_new(GST_TYPE_DMABUFD_ALLOCATOR, NULL);
	gst_object_ref_sink(self);
	self->client = client;
	self->attribute = attribute;
	dmabufd_get_info(client, &self->info);
	*ret = GST_ALLOCATOR_CAST(self);
	return 0;
}

const struct dmabufd_info *gst_dmabufd_allocator_get_info(GstDmabufdAllocator *self)
{
	return &self->info;
}

enum dmabufd_attribute gst_dmabufd_allocator_get_attribute(GstDmabufdAllocator *self)
{
	return self->attribute;
}

struct dmabufd_client *gst_dmabufd_allocator_lock(GstDmabufdAllocator *self)
{
	g_mutex_lock(&self->lock);
	return self->client;
}

void gst_dmabufd_allocator_unlock(GstDmabufdAllocator *self)
{
	g_mutex_unlock(&self->lock);
}

void gst_dmabufd_allocator_set_element(GstDmabufdAllocator *self, GstElement *element)
{
	g_weak_ref_set(&self->element, element);
}

/* The GStreamer error for a negative errno of a request. */
static gint refusal_code(int err)
{
	switch (err) {
	case -ENOSPC:
	case -EDQUOT:
	case -EMFILE:
	case -E2BIG:
	case -ENOMEM:
		return GST_RESOURCE_ERROR_NO_SPACE_LEFT;
	case -EOPNOTSUPP:
	case -EINVAL:
		return GST_RESOURCE_ERROR_SETTINGS;
	case -EACCES:
	case -EPERM:
		return GST_RESOURCE_ERROR_NOT_AUTHORIZED;
	default:
		return GST_RESOURCE_ERROR_FAILED;
	}
}

void gst_dmabufd_allocator_post_refusal(GstDmabufdAllocator *self, const gchar *what,
					gsize size, int err, const gchar *reason)
{
	GstElement *element = g_weak_ref_get(&self->element);
	gboolean have_reason = reason && *reason;
	gchar *text, *debug;

	GST_WARNING_OBJECT(self, "dmabufd refused a %s of %" G_GSIZE_FORMAT " bytes: %s%s%s",
			   what, size, g_strerror(-err), have_reason ? ": " : "",
			   have_reason ? reason : "");
	if (!element)
		return;
	/*
	 * The reason goes into the message itself, not only the debug string:
	 * it is what gst-launch-1.0 and most applications show, and upstream
	 * reports the same failure only as "not-negotiated" or a flow error.
	 */
	text = g_strdup_printf("dmabufd refused a %s: %s%s%s", what, g_strerror(-err),
			       have_reason ? ": " : "", have_reason ? reason : "");
	debug = g_strdup_printf("%s of %" G_GSIZE_FORMAT " bytes, attribute %s, %s backend: "
				"error %d", what, size, dmabufd_attribute_name(self->attribute),
				self->info.backend, err);
	gst_element_message_full(element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
				 refusal_code(err), text, debug, __FILE__, GST_FUNCTION,
				 __LINE__);
	gst_object_unref(element);
}
