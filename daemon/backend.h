/* SPDX-License-Identifier: MIT */
/*
 * The backend interface: what materialises a placed buffer as a file
 * descriptor. The server never knows which backend it talks to; a backend
 * is a table of function pointers (DESIGN.md, "Backends").
 *
 * A backend that cannot honour a requested attribute or contiguity answers
 * -EOPNOTSUPP; it never silently downgrades (DESIGN.md).
 */
#ifndef DMABUFD_BACKEND_H
#define DMABUFD_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "dmabufd/dmabufd.h"

struct buffer;

/* What a backend can do; reported in Hello and Stats. */
struct backend_caps {
	const char *name;       /* "memfd", "kmod", ... */
	uint32_t attributes;    /* bit (1 << enum dmabufd_attribute) */
	bool contiguous;        /* physically contiguous buffers */
	bool migration;         /* can relocate movable buffers */
	bool dmabuf;            /* fds are dma-bufs */
	uint64_t region_size;   /* bytes the backend manages (capacity) */
	uint32_t page_size;     /* bytes */
};

/* Options given to a backend at creation (from the command line/config). */
struct backend_options {
	uint64_t capacity;      /* bytes; 0 = the backend's default */
};

/* One allocation, already validated and placed by the server. */
struct backend_alloc {
	uint64_t size;          /* bytes, a multiple of page_size, > 0 */
	uint64_t offset;        /* bytes, placement inside the region */
	enum dmabufd_attribute attribute;
	uint32_t flags;         /* DMABUFD_ALLOC_* */
	const char *label;      /* NUL-terminated, may be "" */
};

struct backend;

struct backend_ops {
	const char *name;
	/*
	 * create() - probe and set up the backend.
	 * Return: 0 and *ret; -ENODEV when the backend's device/feature is
	 * absent; -ENOMEM; other negative errno.
	 */
	int (*create)(const struct backend_options *opts, struct backend **ret);
	/* destroy() - tear down; accepts NULL. Every buffer was released. */
	void (*destroy)(struct backend *b);
	void (*get_caps)(struct backend *b, struct backend_caps *ret);
	/*
	 * alloc() - materialise a buffer.
	 * @ret_fd: receives the daemon's reference (O_CLOEXEC); the server
	 *          sends a copy of it to the client
	 * @ret_reason: on failure, a static string explaining it (may be NULL)
	 * Return: 0; -EOPNOTSUPP (attribute/flag not honoured); -ENOMEM;
	 * -EBUSY (the placement cannot be used; the server may place
	 * elsewhere); other negative errno.
	 */
	int (*alloc)(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		     const char **ret_reason);
	/*
	 * release() - the daemon drops its reference to @buf (owner released
	 * it or is gone). Closes buf->fd. Cannot fail.
	 */
	void (*release)(struct backend *b, struct buffer *buf);
	/*
	 * revoke() - optional (NULL: the backend cannot revoke, and Revoke
	 * answers -EOPNOTSUPP; memfd is such a backend, since a memfd stays
	 * valid memory in every process that holds it).
	 * Cut every CPU mapping and device attachment of @buf, the owner's
	 * and every importer's alike: afterwards mmap() and faults on any fd
	 * of the buffer give SIGBUS/-ENODEV, new attachments fail, and the
	 * pages may be reused by the region once the backend reports them
	 * free. The server then releases @buf as usual (release() is still
	 * called). docs/SHARING.md, "Revocation".
	 * @ret_reason: on failure, a static string (may be NULL)
	 * Return: 0; -EBUSY (a device still has the buffer mapped for DMA and
	 * the backend cannot fence it); other negative errno. On failure
	 * nothing changed.
	 */
	int (*revoke)(struct backend *b, struct buffer *buf, const char **ret_reason);
};

struct backend {
	const struct backend_ops *ops;
};

extern const struct backend_ops memfd_backend_ops;

/**
 * backend_find() - the backend ops table named @name ("memfd", ...).
 * Return: the table, or NULL if no backend has that name.
 */
const struct backend_ops *backend_find(const char *name);

#endif
