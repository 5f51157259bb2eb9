/* SPDX-License-Identifier: MIT */
/**
 * libdmabufd - client library for the dmabufd DMA-buffer broker.
 *
 * A client connects to the daemon's SOCK_SEQPACKET socket, says Hello,
 * and then requests buffers. Each buffer arrives as a file descriptor: a
 * dma-buf on the kmod, dma-heap and udmabuf backends, a sealed memfd on the
 * memfd backend (dmabufd_info.dmabuf tells which). The caller owns the fd
 * and closes it; releasing the buffer (dmabufd_release()) ends the caller's
 * ownership in the daemon's accounting.
 *
 * Errors: every function that can fail returns 0 (or a non-negative value
 * where stated) on success and a negative errno on failure. Output
 * parameters (ret_*) are written only on success. When the daemon refused
 * a request, dmabufd_last_reason() gives its short explanation. A NULL
 * @client or ret_* pointer is refused with -EINVAL.
 *
 * Connection failure: a reply that cannot be attributed to a request
 * (not a Reply, truncated, unknown id) or a closed socket ends the
 * connection: pending callbacks run with that error (-EPROTO,
 * -ECONNRESET, ...) and every later call returns it. A reply that names
 * its request but has the wrong shape (missing fd, unexpected fds, wrong
 * body) fails only that request with -EPROTO; its fds are closed. The
 * library has no timeouts: a blocking call waits as long as the daemon
 * takes to answer.
 *
 * Threads: a struct dmabufd_client is not thread-safe. Use one connection
 * per thread, or serialise all calls on a connection with your own lock.
 * Distinct connections are independent. The log handler is process-global;
 * install it before creating connections.
 *
 * Logging: the library never prints. It emits debug messages only through
 * the handler installed with dmabufd_set_log_handler().
 */
#ifndef DMABUFD_DMABUFD_H
#define DMABUFD_DMABUFD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DMABUFD_EXPORT __attribute__((visibility("default")))
#else
#define DMABUFD_EXPORT
#endif

/** Default socket path; DMABUFD_SOCKET in the environment overrides it. */
#define DMABUFD_DEFAULT_SOCKET "/run/dmabufd/socket"
/** Protocol version this header speaks (proto/dmabufd.proto, Version). */
#define DMABUFD_PROTOCOL_VERSION 1u

/** Cache attribute of a buffer's pages (DESIGN.md, "Cache attributes"). */
enum dmabufd_attribute {
	DMABUFD_ATTR_CACHED = 0,       /**< write-back */
	DMABUFD_ATTR_WRITECOMBINE = 1, /**< write-combine */
	DMABUFD_ATTR_UNCACHED = 2,     /**< uncached (UC-) */
};

/** Alloc flags. Unknown bits are refused with -EINVAL. */
enum dmabufd_alloc_flags {
	/** The daemon may relocate the buffer while no device has it attached. */
	DMABUFD_ALLOC_MOVABLE = 1u << 0,
	/** Require physically contiguous memory (else -EOPNOTSUPP). */
	DMABUFD_ALLOC_CONTIGUOUS = 1u << 1,
};
#define DMABUFD_ALLOC_FLAGS_ALL (DMABUFD_ALLOC_MOVABLE | DMABUFD_ALLOC_CONTIGUOUS)

/** Longest label, in bytes, without the terminating NUL. */
#define DMABUFD_LABEL_MAX 63

struct dmabufd_client;

/** What the daemon said in its Hello reply. */
struct dmabufd_info {
	uint32_t version;      /**< protocol version the daemon speaks */
	char backend[32];      /**< "memfd", "kmod", "dma-heap", "udmabuf" */
	uint32_t attributes;   /**< bit (1 << enum dmabufd_attribute) per attribute */
	int contiguous;        /**< buffers are physically contiguous */
	int migration;         /**< movable buffers can be relocated */
	int dmabuf;            /**< fds are dma-bufs (0: sealed memfds) */
	uint64_t region_size;  /**< bytes */
	uint32_t page_size;    /**< bytes */
	uint32_t max_message;  /**< bytes per datagram */
	uint32_t max_buffers;  /**< live buffers per client */
	uint64_t max_alloc;    /**< bytes, largest single allocation */
};

/** A buffer handed to this client. */
struct dmabufd_buffer {
	uint64_t id;     /**< daemon-wide buffer id */
	int fd;          /**< owned by the caller: close() it when done */
	uint64_t size;   /**< bytes, a multiple of the page size */
	uint64_t offset; /**< bytes, placement inside the backend's region */
};

/** One row of dmabufd_list(). */
struct dmabufd_buffer_info {
	uint64_t id;
	uint64_t size;                 /**< bytes */
	enum dmabufd_attribute attribute;
	uint32_t flags;                /**< DMABUFD_ALLOC_* */
	pid_t owner_pid;
	uid_t owner_uid;
	gid_t owner_gid;
	char owner_comm[16];
	char label[DMABUFD_LABEL_MAX + 1];
	uint64_t created_usec;         /**< CLOCK_REALTIME, µs */
	uint64_t offset;               /**< bytes, placement inside the region */
};

/** The daemon's counters (dmabufd_stats()). */
struct dmabufd_stats {
	char backend[32];
	uint64_t capacity;             /**< bytes */
	uint64_t used;                 /**< bytes held by live buffers */
	uint32_t buffers;              /**< live buffers */
	uint32_t clients;              /**< connected clients */
	uint64_t allocs_total;
	uint64_t allocs_failed;
	uint64_t releases_total;
	uint64_t free_pages;           /**< pages of page_size bytes */
	uint64_t largest_free_pages;
	uint32_t fragmentation_permille;
	uint64_t transitions;          /**< attribute changes of free pages */
	uint32_t pinned_buffers;
	uint32_t movable_buffers;
	uint32_t page_size;            /**< bytes */
};

/** Log handler: @level is a syslog priority (7 = debug). */
typedef void (*dmabufd_log_fn)(int level, const char *fmt, va_list ap, void *userdata);

/**
 * dmabufd_set_log_handler() - route the library's debug messages.
 * @fn: handler, or NULL to discard (the default)
 * @userdata: passed to @fn
 *
 * Process-global; not thread-safe against concurrent library calls.
 */
DMABUFD_EXPORT void dmabufd_set_log_handler(dmabufd_log_fn fn, void *userdata);

/**
 * dmabufd_connect() - connect to the daemon and exchange Hello.
 * @path: socket path; NULL uses $DMABUFD_SOCKET (read with secure_getenv(3),
 *        so set-uid programs ignore it), else DMABUFD_DEFAULT_SOCKET
 * @ret: receives the connection on success
 *
 * Blocks until the daemon answered Hello.
 * Return: 0; -ENOENT/-ECONNREFUSED (no daemon), -EACCES (socket
 * permissions, or the daemon's policy refused this peer),
 * -EPROTONOSUPPORT (the daemon speaks another protocol version),
 * -ENAMETOOLONG (path longer than sun_path), -ENOMEM, -EPROTO (malformed
 * reply), -ECONNRESET (the daemon closed the connection during Hello),
 * -EINVAL (@ret is NULL), other negative errno from socket(2)/connect(2).
 * An empty @path or $DMABUFD_SOCKET counts as unset. The daemon's reason
 * for refusing Hello is passed to the log handler only (no connection
 * exists to ask dmabufd_last_reason()).
 */
DMABUFD_EXPORT int dmabufd_connect(const char *path, struct dmabufd_client **ret);

/**
 * dmabufd_disconnect() - close the connection and free it.
 * @client: connection, or NULL (no-op)
 *
 * Buffers this connection owns and did not release are released by the
 * daemon (their fds stay valid in this process, but are no longer charged).
 * Pending asynchronous callbacks are called with -ECONNABORTED.
 * Must not be called from a callback of the same connection.
 */
DMABUFD_EXPORT void dmabufd_disconnect(struct dmabufd_client *client);

/**
 * dmabufd_get_info() - the daemon's Hello reply.
 * Return: 0, or -EINVAL if @client or @ret is NULL.
 */
DMABUFD_EXPORT int dmabufd_get_info(struct dmabufd_client *client, struct dmabufd_info *ret);

/**
 * dmabufd_last_reason() - the daemon's reason for the last failed request.
 * Return: a NUL-terminated string owned by @client, valid until the next
 * call on it; "" when the last failure was local or there was none.
 */
DMABUFD_EXPORT const char *dmabufd_last_reason(struct dmabufd_client *client);

/**
 * dmabufd_alloc() - allocate a buffer (blocking).
 * @size: bytes, > 0; rounded up to whole pages
 * @alignment: bytes, 0 or a power of two >= the page size (placement in the
 *             region; physical alignment on contiguous backends)
 * @attribute: cache attribute of every page of the buffer
 * @flags: DMABUFD_ALLOC_* bits
 * @label: NUL-terminated, at most DMABUFD_LABEL_MAX bytes, or NULL
 * @ret: receives id, fd (owned by the caller), size and offset
 *
 * Return: 0; -EINVAL (size 0, size that overflows when page-aligned, bad
 * alignment, unknown flag, unknown attribute, label too long); -EOPNOTSUPP
 * (the backend cannot honour @attribute or CONTIGUOUS); -ENOSPC (no room
 * in the region); -E2BIG (larger than max_alloc); -EMFILE (per-client
 * buffer limit); -EDQUOT (a quota); -ENOMEM; -ECONNRESET/-EPIPE (daemon
 * gone); -EPROTO (malformed reply).
 */
DMABUFD_EXPORT int dmabufd_alloc(struct dmabufd_client *client, uint64_t size,
				 uint64_t alignment, enum dmabufd_attribute attribute,
				 uint32_t flags, const char *label,
				 struct dmabufd_buffer *ret);

/**
 * dmabufd_release() - end this client's ownership of a buffer (blocking).
 * @id: a buffer id this connection owns
 *
 * The caller still owns (and must close) its fd. Return: 0; -ENOENT
 * (unknown id, another client's id, or already released); connection
 * errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_release(struct dmabufd_client *client, uint64_t id);

/**
 * dmabufd_list() - every live buffer the daemon knows (blocking).
 * @ret: receives a malloc'ed array (free with dmabufd_list_free())
 * @ret_count: number of entries
 *
 * Pages through the daemon's list as needed. An empty list is a non-NULL
 * array and *ret_count 0. Return: 0; -ENOMEM; -E2BIG (more than 2^20
 * rows); -EPROTO (a page that does not advance in id order); connection
 * errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_list(struct dmabufd_client *client,
				struct dmabufd_buffer_info **ret, size_t *ret_count);
DMABUFD_EXPORT void dmabufd_list_free(struct dmabufd_buffer_info *list);

/**
 * dmabufd_stats() - the daemon's counters (blocking).
 * Return: 0; connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_stats(struct dmabufd_client *client, struct dmabufd_stats *ret);

/*
 * Event-loop integration. dmabufd_alloc_async() sends the request and
 * returns at once; the callback runs from dmabufd_dispatch() (or from a
 * later blocking call on the same connection) when the reply arrives.
 * A callback may make requests on its connection, blocking ones included,
 * but must not call dmabufd_disconnect() on it.
 */

/**
 * dmabufd_alloc_cb - completion of dmabufd_alloc_async().
 * @error: 0 or a negative errno (as dmabufd_alloc())
 * @buffer: the buffer when @error is 0 (fd owned by the callee), else NULL
 */
typedef void (*dmabufd_alloc_cb)(struct dmabufd_client *client, int error,
				 const struct dmabufd_buffer *buffer, void *userdata);

/**
 * dmabufd_alloc_async() - send an Alloc without waiting.
 * Arguments as dmabufd_alloc(); @cb is called exactly once (with
 * -ECONNABORTED if the connection is closed first).
 * Return: 0 when the request was sent; -EINVAL for arguments refused
 * locally or a NULL @cb (then @cb is not called); -EBUSY when too many
 * requests are in flight (the limit is max_buffers from Hello, 256 when the
 * daemon reports 0, at most 4096); connection errors as dmabufd_alloc()
 * (then @cb is not called either).
 */
DMABUFD_EXPORT int dmabufd_alloc_async(struct dmabufd_client *client, uint64_t size,
				       uint64_t alignment, enum dmabufd_attribute attribute,
				       uint32_t flags, const char *label,
				       dmabufd_alloc_cb cb, void *userdata);

/**
 * dmabufd_get_fd() - the connection's socket, for poll(2)/epoll/libevent.
 * Wait for POLLIN, then call dmabufd_dispatch(). Do not read from it.
 * Setting O_NONBLOCK on it is allowed (blocking calls poll(2) as needed).
 * The fd stays open (and unique) until dmabufd_disconnect(), also after
 * the connection failed.
 * Return: the fd (>= 0), or -EINVAL if @client is NULL.
 */
DMABUFD_EXPORT int dmabufd_get_fd(struct dmabufd_client *client);

/**
 * dmabufd_dispatch() - read the replies that arrived, run their callbacks.
 * Never blocks.
 * Return: the number of callbacks run (>= 0); -ECONNRESET when the daemon
 * closed the connection; -EPROTO on a malformed reply; once the connection
 * failed, that error again on every call (callbacks still pending when it
 * failed have run with it).
 */
DMABUFD_EXPORT int dmabufd_dispatch(struct dmabufd_client *client);

/** Human-readable name of an attribute ("cached", "wc", "uncached"; "unknown" otherwise). */
DMABUFD_EXPORT const char *dmabufd_attribute_name(enum dmabufd_attribute attribute);

/**
 * dmabufd_attribute_from_string() - parse "cached"/"wb", "wc"/"writecombine",
 * "uc"/"uncached". Return: 0 and *ret set, or -EINVAL.
 */
DMABUFD_EXPORT int dmabufd_attribute_from_string(const char *s, enum dmabufd_attribute *ret);

#ifdef __cplusplus
}
#endif

#endif
