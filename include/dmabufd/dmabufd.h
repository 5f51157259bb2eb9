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
 * a request, dmabufd_last_reason() gives its short explanation; for some
 * arguments refused locally it gives the library's. A NULL @client or
 * ret_* pointer is refused with -EINVAL.
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
/** Importers kept per row of dmabufd_list() (n_importers counts them all). */
#define DMABUFD_LIST_IMPORTERS 8

struct dmabufd_client;

/*
 * Structs that grow (ABI). The structs the library fills for the caller
 * and that may gain fields - struct dmabufd_info, dmabufd_stats,
 * dmabufd_compact_result, and the rows of dmabufd_list() and
 * dmabufd_accounting() - only ever grow at their end, and each has a call
 * taking the caller's size (dmabufd_get_info_sized(), dmabufd_stats_sized(),
 * dmabufd_compact_sized(), dmabufd_list_sized(), dmabufd_accounting_sized()),
 * as Linux's extensible syscall structs (copy_struct_from_user()) do:
 *  - pass sizeof of your struct (of one row for the lists);
 *  - the library writes min(your size, its size) bytes and zeroes the rest
 *    of yours: a program built against an older header (a smaller struct)
 *    is never written past its end, and one built against a newer header
 *    finds 0 in the fields this library does not know;
 *  - a size below the struct's first layout (DMABUFD_*_SIZE_VER0) is
 *    refused with -EINVAL.
 * The calls without a size (dmabufd_get_info(), dmabufd_stats(),
 * dmabufd_compact(), dmabufd_list(), dmabufd_accounting()) keep writing the
 * first layout, DMABUFD_*_SIZE_VER0 bytes (rows that many bytes apart), so
 * programs linked before a struct grew keep working; new code calls the
 * sized ones. Every other public struct (dmabufd_buffer, dmabufd_importer,
 * dmabufd_token, dmabufd_share_targets, dmabufd_import_info,
 * dmabufd_framebuffer) is frozen: it never changes, and what it lacks will
 * come in a new struct through a new call.
 */

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
	int revocation;        /**< dmabufd_revoke() can take a buffer's memory
				*   back (kmod backend; docs/SHARING.md) */
};

/** Bytes of struct dmabufd_info's first layout (what dmabufd_get_info() fills). */
#define DMABUFD_INFO_SIZE_VER0 sizeof(struct dmabufd_info)

/** A buffer handed to this client. */
struct dmabufd_buffer {
	uint64_t id;     /**< daemon-wide buffer id */
	int fd;          /**< owned by the caller: close() it when done */
	uint64_t size;   /**< bytes, a multiple of the page size */
	uint64_t offset; /**< bytes, placement inside the backend's region */
};

/** A process that imported a buffer (dmabufd_buffer_info.importers). */
struct dmabufd_importer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	uint64_t imported_usec;        /**< CLOCK_REALTIME, µs */
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
	/* Sharing (docs/SHARING.md). The owner above is the client charged. */
	uint32_t n_importers;          /**< importers in all (may exceed the array) */
	struct dmabufd_importer importers[DMABUFD_LIST_IMPORTERS]; /**< the oldest ones */
	uint32_t tokens;               /**< live share tokens for this buffer */
	uint32_t owner_transfers;      /**< times an importer took over ownership */
	char backend[16];              /**< the active backend that made it */
};

/** Bytes of a dmabufd_list() row's first layout (the rows' distance there). */
#define DMABUFD_BUFFER_INFO_SIZE_VER0 sizeof(struct dmabufd_buffer_info)

/** Most backends a Stats probe report lists. */
#define DMABUFD_MAX_PROBE 8
/** Most active backends a Stats reply lists. */
#define DMABUFD_MAX_BACKENDS 4
/** Most devices dmabufd_alloc_devices() accepts. */
#define DMABUFD_MAX_DEVICES 8

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
	/** pages the daemon's ledger gave another attribute when placing a
	 *  buffer (its model; the kernel's count: kernel_attr_transitions) */
	uint64_t transitions;
	uint32_t pinned_buffers;
	uint32_t movable_buffers;
	uint32_t page_size;            /**< bytes */
	/* Sharing, policy, accounting. */
	uint32_t tokens;               /**< live share tokens */
	uint32_t imports;              /**< live import records */
	uint64_t imports_total;
	uint64_t owner_transfers;      /**< buffers handed to an importer on owner exit */
	uint64_t quota_refusals;       /**< requests refused with -EDQUOT */
	uint64_t access_refusals;      /**< connections refused by [access] */
	uint64_t config_reloads;       /**< successful SIGHUP reloads */
	uint64_t compactions;          /**< Compact requests served */
	uint64_t compaction_moves;     /**< buffers relocated (on request or on -ENOSPC) */
	uint64_t compaction_bytes;     /**< bytes relocated */
	uint32_t orphaned_buffers;     /**< restored after a restart, owner not back yet */
	/* Backends tried at start, in probe order. */
	uint32_t num_probe;            /**< entries used in probe[] */
	struct dmabufd_probe_entry {
		char backend[16];      /**< "kmod", "dma-heap", "udmabuf", "memfd" */
		uint8_t present;       /**< 1: the backend could be set up */
		uint8_t chosen;        /**< 1: it serves requests */
		char reason[96];       /**< why (error, "not active", ...) */
	} probe[DMABUFD_MAX_PROBE];
	/*
	 * Every active backend, in probe order (several serve at once; an
	 * Alloc goes to the first that satisfies it). capacity above is their
	 * sum; the region figures above are the first one's.
	 */
	uint32_t num_backends;         /**< entries used in backends[] */
	struct dmabufd_backend_stats {
		char name[16];         /**< "kmod", "dma-heap", "udmabuf", "memfd" */
		uint32_t attributes;   /**< bit (1 << enum dmabufd_attribute) */
		uint8_t contiguous;    /**< 1: physically contiguous buffers */
		uint8_t migration;     /**< 1: can relocate movable buffers */
		uint8_t dmabuf;        /**< 1: fds are dma-bufs */
		uint64_t capacity;     /**< bytes */
		uint32_t page_size;    /**< bytes */
		uint64_t used;         /**< bytes held by live buffers it made */
		uint32_t buffers;      /**< live buffers it made */
		uint64_t free_pages;   /**< pages of page_size bytes */
		uint64_t largest_free_pages;
		uint64_t allocs;       /**< buffers it made since start */
		uint64_t fallthroughs; /**< of those, after an earlier backend had no room */
		uint8_t revocation;    /**< 1: Revoke can take its buffers back */
	} backends[DMABUFD_MAX_BACKENDS];
	/* Fields after this point are filled by dmabufd_stats_sized() only. */
	uint64_t pooled;               /**< bytes of pre-zeroed buffers held ready */
	uint64_t pool_hits;            /**< allocations served from a pool */
	uint64_t pool_misses;          /**< allocations a pool could not serve */
	uint64_t config_reload_failures; /**< SIGHUP reloads refused (old configuration kept) */
	/** the kernel's count of linear-map attribute changes (kmod: since the
	 *  module was loaded; set_memory_wc/uc and set_memory_wb one each) */
	uint64_t kernel_attr_transitions;
	/** 1: kernel_attr_transitions is that count; 0: no active backend keeps
	 *  one (memfd, dma-heap, udmabuf never change the linear map), it is 0 */
	uint8_t has_kernel_attr_transitions;
};

/** Bytes of struct dmabufd_stats's first layout (what dmabufd_stats() fills). */
#define DMABUFD_STATS_SIZE_VER0 offsetof(struct dmabufd_stats, pooled)

/** What dmabufd_compact() did. */
struct dmabufd_compact_result {
	uint64_t planned_moves;        /**< buffers the plan relocates */
	uint64_t planned_bytes;        /**< bytes the plan relocates */
	uint64_t moves;                /**< buffers relocated (a busy one stays) */
	uint64_t bytes_moved;          /**< bytes relocated */
	uint64_t largest_free_before;  /**< bytes, longest free run before */
	uint64_t largest_free_after;   /**< bytes, longest free run after */
};

/** Bytes of struct dmabufd_compact_result's first layout (dmabufd_compact()). */
#define DMABUFD_COMPACT_RESULT_SIZE_VER0 sizeof(struct dmabufd_compact_result)

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
 * An empty @path or $DMABUFD_SOCKET counts as unset.
 *
 * Why it failed: dmabufd_last_reason(NULL) then gives, in the calling
 * thread, the daemon's reason when the daemon refused this peer (never ""
 * for a refusal: -EACCES from its [access] policy, too many clients, ...)
 * or the library's for a protocol version mismatch; "" when the socket
 * could not be opened (socket(2)/connect(2) failed: -EACCES is then the
 * socket file's permissions). Each dmabufd_connect() clears it first.
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
 * dmabufd_get_info() - the daemon's Hello reply (the first
 * DMABUFD_INFO_SIZE_VER0 bytes of struct dmabufd_info).
 * Return: 0, or -EINVAL if @client or @ret is NULL.
 */
DMABUFD_EXPORT int dmabufd_get_info(struct dmabufd_client *client, struct dmabufd_info *ret);

/**
 * dmabufd_get_info_sized() - dmabufd_get_info() into a struct of @size
 * bytes (sizeof(*ret); see "Structs that grow").
 * Return: 0; -EINVAL (@client or @ret NULL, @size below
 * DMABUFD_INFO_SIZE_VER0).
 */
DMABUFD_EXPORT int dmabufd_get_info_sized(struct dmabufd_client *client,
					  struct dmabufd_info *ret, size_t size);

/**
 * dmabufd_last_reason() - why the last call on @client failed.
 * @client: a connection, or NULL for the calling thread's last failed
 *          dmabufd_connect() (see there)
 *
 * Every call on @client except this one clears it first, so it always
 * describes the latest call: the daemon's reason when the daemon refused
 * the request; the library's for some arguments it refused itself (size 0,
 * unknown flags, label too long, ...); "" when the call succeeded or failed
 * without a reason (a NULL pointer, a lost connection).
 * Return: a NUL-terminated string owned by @client (by the library for
 * NULL), valid until the next call on it (in this thread for NULL).
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
 * dmabufd_alloc_devices() - dmabufd_alloc() for buffers that the named
 * devices will import.
 * @devices: @num_devices paths, each /dev/dri/NODE (a DRM card or render node),
 *           a V4L2 node (/dev/videoN, /dev/mediaN, /dev/v4l-subdevN) or
 *           /sys/devices/PATH, at most 255 bytes, no "." or ".." component
 * @num_devices: 0 .. DMABUFD_MAX_DEVICES
 * A device without an IOMMU (no iommu_group in sysfs) needs physically
 * contiguous memory: the daemon then acts as if DMABUFD_ALLOC_CONTIGUOUS
 * were given.
 * Return: as dmabufd_alloc(), and -EINVAL (bad path, too many devices);
 * -ENODEV (a device does not exist); -EOPNOTSUPP (contiguous memory needed
 * and the backend cannot provide it; dmabufd_last_reason() says why).
 */
DMABUFD_EXPORT int dmabufd_alloc_devices(struct dmabufd_client *client, uint64_t size,
					 uint64_t alignment, enum dmabufd_attribute attribute,
					 uint32_t flags, const char *label,
					 const char *const *devices, uint32_t num_devices,
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
 * dmabufd_release_async() - dmabufd_release() without waiting for the daemon.
 * @id: a buffer id this connection owns
 *
 * Sends the Release and returns: the daemon sends no reply when it succeeds
 * (one system call here, none of the daemon's reply and wake-up;
 * docs/PERFORMANCE.md, "Release without waiting"). The daemon handles
 * requests in order, so the buffer is released before any later request
 * of this connection is served (a dmabufd_stats() after it counts it).
 * A release the daemon refuses (-ENOENT: unknown id, another client's id,
 * already released) is answered; the library reads that answer at its next
 * read of the connection (any blocking call, dmabufd_dispatch(), or every
 * 16th dmabufd_release_async() in a row), and counts it: see
 * dmabufd_release_failures(). After a blocking call returns, every release
 * sent before it has been answered and read. Callbacks of asynchronous
 * Allocs whose replies are read here run from inside this call.
 * With a daemon that does not offer it (older than this library), this is
 * dmabufd_release() and returns its result.
 * The caller still owns (and must close) its fd.
 *
 * Return: 0 when sent (not: released; see dmabufd_release_failures());
 * -EINVAL (@client NULL); -EPIPE, -ECONNRESET, -ENOTCONN (daemon gone,
 * found sending or reading); -EPROTO (a malformed reply, or one that
 * matches no request, was read); once the connection has failed, every
 * call returns the error it failed with (as dmabufd_alloc()); another
 * negative errno of sendmsg(2), recvmsg(2) or poll(2) (e.g. -ENOBUFS,
 * -ENOMEM) as the system call returned it. With a daemon that does not
 * offer RELEASE_NO_REPLY, dmabufd_release()'s: also -ENOENT (the release
 * was refused, see above) and -ENOMEM.
 */
DMABUFD_EXPORT int dmabufd_release_async(struct dmabufd_client *client, uint64_t id);

/**
 * dmabufd_release_failures() - the failures of dmabufd_release_async() the
 * daemon has reported so far on this connection (those read: see
 * dmabufd_release_async()).
 * @ret_count: NULL, or receives how many releases were refused since the
 *             connection was made (a count, never reset)
 * @ret_id: NULL, or receives the buffer id of the latest (0 if none)
 * @ret_error: NULL, or receives its negative errno as the daemon answered
 *             it (-ENOENT: unknown id, another client's id, already
 *             released; 0 if none)
 *
 * Reads nothing from the connection and works on a failed one too.
 * Return: 0; -EINVAL (@client NULL).
 */
DMABUFD_EXPORT int dmabufd_release_failures(struct dmabufd_client *client, uint64_t *ret_count,
					    uint64_t *ret_id, int *ret_error);

/**
 * dmabufd_list() - every live buffer the daemon knows (blocking).
 * @ret: receives a malloc'ed array (free with dmabufd_list_free()) of rows
 *       DMABUFD_BUFFER_INFO_SIZE_VER0 bytes apart
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
 * dmabufd_list_sized() - dmabufd_list() with rows @row_size bytes apart
 * (sizeof(**ret); see "Structs that grow"). Free with dmabufd_list_free().
 * Return: as dmabufd_list(); -EINVAL also for @row_size below
 * DMABUFD_BUFFER_INFO_SIZE_VER0.
 */
DMABUFD_EXPORT int dmabufd_list_sized(struct dmabufd_client *client,
				      struct dmabufd_buffer_info **ret, size_t *ret_count,
				      size_t row_size);

/**
 * dmabufd_stats() - the daemon's counters (blocking): the first
 * DMABUFD_STATS_SIZE_VER0 bytes of struct dmabufd_stats; the fields after
 * them are left as they were (use dmabufd_stats_sized()).
 * Return: 0; connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_stats(struct dmabufd_client *client, struct dmabufd_stats *ret);

/**
 * dmabufd_stats_sized() - dmabufd_stats() into a struct of @size bytes
 * (sizeof(*ret); see "Structs that grow").
 * Return: 0; -EINVAL (@size below DMABUFD_STATS_SIZE_VER0); as dmabufd_stats().
 */
DMABUFD_EXPORT int dmabufd_stats_sized(struct dmabufd_client *client, struct dmabufd_stats *ret,
				       size_t size);

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
 * dmabufd_attribute_from_string() - parse an attribute name, ignoring case:
 * "cached"/"wb", "write-combine"/"writecombine"/"wc", "uncached"/"uc".
 * Return: 0 and *ret set, or -EINVAL.
 */
DMABUFD_EXPORT int dmabufd_attribute_from_string(const char *s, enum dmabufd_attribute *ret);

/*
 * Sharing between processes (docs/SHARING.md). The owner of a buffer
 * shares it: the daemon returns a 128-bit token that the owner passes to
 * the consumer by any channel (a pipe, D-Bus, the command line); the
 * consumer imports the token and receives its own fd. The daemon admits an
 * Import only from the peers the owner named; it records every importer.
 */

/** Bytes in a share token. */
#define DMABUFD_TOKEN_SIZE 16
/** Bytes of the token's text form (32 lowercase hex digits) with its NUL. */
#define DMABUFD_TOKEN_STRING_SIZE 33

/** A share token and when it expires. */
struct dmabufd_token {
	uint8_t bytes[DMABUFD_TOKEN_SIZE];
	uint64_t expires_usec;         /**< CLOCK_REALTIME, µs */
};

/**
 * Who may import a token. A peer matches when its uid is in @uids, its
 * primary or a supplementary gid is in @gids, or its pid is in @pids. All
 * three empty: only peers with the sharer's own uid.
 */
struct dmabufd_share_targets {
	const uid_t *uids;
	size_t n_uids;
	const gid_t *gids;
	size_t n_gids;
	const pid_t *pids;
	size_t n_pids;
};

/** dmabufd_share() flags. Unknown bits are refused with -EINVAL. */
enum dmabufd_share_flags {
	/** The token dies at its first successful Import. */
	DMABUFD_SHARE_SINGLE_USE = 1u << 0,
};

/** What dmabufd_import() learns besides the buffer itself. */
struct dmabufd_import_info {
	enum dmabufd_attribute attribute;
	uint32_t flags;                /**< DMABUFD_ALLOC_* */
	pid_t owner_pid;
	uid_t owner_uid;
};

/**
 * dmabufd_share() - let other processes import a buffer this connection owns.
 * @id: buffer id
 * @who: the peers admitted (NULL: the sharer's own uid only); at most
 *       [share] max-targets-per-token entries in all (default 16)
 * @flags: DMABUFD_SHARE_* bits
 * @expiry_sec: seconds until the token dies; 0 = the daemon's maximum
 *              ([share] max-expiry, default 3600)
 * @ret: receives the token
 *
 * The token also dies when this connection closes, on dmabufd_unshare(), or
 * when the buffer is released.
 * Return: 0; -EINVAL (unknown flag, expiry above the maximum, a pid <= 0,
 * uid/gid -1, more than 128 targets, NULL arguments); -ENOENT (this connection owns no buffer
 * @id); -E2BIG (too many targets); -ETOOMANYREFS (token limit per buffer
 * or per client); connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_share(struct dmabufd_client *client, uint64_t id,
				 const struct dmabufd_share_targets *who, uint32_t flags,
				 uint32_t expiry_sec, struct dmabufd_token *ret);

/**
 * dmabufd_import() - trade a token for an fd of the shared buffer.
 * @token: DMABUFD_TOKEN_SIZE bytes
 * @ret: receives id, fd (owned by the caller), size, offset
 * @ret_info: receives attribute, flags and owner, or NULL
 *
 * The daemon records this connection as an importer until it calls
 * dmabufd_release() on the id or disconnects. If the owner disconnects
 * first, the earliest importer still connected becomes the owner.
 * Return: 0; -ENOENT (no live token matches: unknown, expired, used or
 * withdrawn); -EACCES (the token does not name this process); -ETOOMANYREFS
 * (the buffer has its maximum of importers); -EMFILE (this connection's
 * import limit); -EINVAL (NULL arguments); connection errors as
 * dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_import(struct dmabufd_client *client,
				  const uint8_t token[DMABUFD_TOKEN_SIZE],
				  struct dmabufd_buffer *ret, struct dmabufd_import_info *ret_info);

/**
 * dmabufd_unshare() - withdraw a token (its creator or the buffer's owner).
 * Return: 0; -ENOENT (no such live token, or not this connection's);
 * -EINVAL; connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_unshare(struct dmabufd_client *client,
				   const uint8_t token[DMABUFD_TOKEN_SIZE]);

/**
 * dmabufd_revoke() - cut every mapping and attachment of a buffer (owner's
 * and importers') and release it. Root or the owner's uid only.
 * Return: 0; -ENOENT (no buffer @id); -EPERM; -EOPNOTSUPP (the backend
 * cannot revoke, e.g. memfd); -EBUSY (a device still uses it); connection
 * errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_revoke(struct dmabufd_client *client, uint64_t id);

/**
 * dmabufd_compact() - defragment the region (blocking; root only).
 * Slides every movable buffer (DMABUFD_ALLOC_MOVABLE) towards the start of
 * the region around pinned ones, so that the free space becomes one run;
 * buffers keep their ids, fds and contents (docs/REGION.md). The daemon also
 * compacts on its own when an allocation fails for fragmentation only.
 * @ret: what was planned and done
 * Return: 0; -EPERM (not root); -EOPNOTSUPP (the backend cannot relocate
 * buffers); -ENOMEM; connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_compact(struct dmabufd_client *client,
				   struct dmabufd_compact_result *ret);

/**
 * dmabufd_compact_sized() - dmabufd_compact() into a result of @size bytes
 * (sizeof(*ret); see "Structs that grow").
 * Return: as dmabufd_compact(); -EINVAL also for @size below
 * DMABUFD_COMPACT_RESULT_SIZE_VER0.
 */
DMABUFD_EXPORT int dmabufd_compact_sized(struct dmabufd_client *client,
					 struct dmabufd_compact_result *ret, size_t size);

/**
 * dmabufd_token_to_string() - 32 lowercase hex digits and a NUL into @buf.
 * Return: 0, or -EINVAL for NULL arguments.
 */
DMABUFD_EXPORT int dmabufd_token_to_string(const uint8_t token[DMABUFD_TOKEN_SIZE],
					   char buf[DMABUFD_TOKEN_STRING_SIZE]);

/**
 * dmabufd_token_from_string() - parse 32 hex digits (either case).
 * Return: 0 and @ret filled, or -EINVAL.
 */
DMABUFD_EXPORT int dmabufd_token_from_string(const char *s, uint8_t ret[DMABUFD_TOKEN_SIZE]);

/** Tables of dmabufd_accounting(). */
enum dmabufd_account_kind {
	DMABUFD_ACCOUNT_CLIENTS = 0,
	DMABUFD_ACCOUNT_UIDS = 1,
	DMABUFD_ACCOUNT_GIDS = 2,
};

/** One row of live accounting: a connected client, a uid or a gid. */
struct dmabufd_account {
	uint64_t key;                  /**< client id; uid + 1; gid + 1 */
	pid_t pid;                     /**< clients only */
	uid_t uid;                     /**< clients and uids */
	gid_t gid;                     /**< clients and gids */
	char comm[16];                 /**< clients only */
	uint64_t owned_bytes;          /**< charged */
	uint32_t owned_buffers;
	uint64_t imported_bytes;       /**< not charged */
	uint32_t imported_buffers;
	uint64_t owned_by_attribute[3];    /**< index: enum dmabufd_attribute */
	uint64_t imported_by_attribute[3];
	uint32_t tokens;               /**< clients only: live tokens it created */
};

/** Bytes of a dmabufd_accounting() row's first layout. */
#define DMABUFD_ACCOUNT_SIZE_VER0 sizeof(struct dmabufd_account)

/**
 * dmabufd_accounting() - one accounting table (blocking, pages as needed).
 * @ret: malloc'ed array (free with dmabufd_accounting_free()), never NULL on
 *       success, of rows DMABUFD_ACCOUNT_SIZE_VER0 bytes apart
 * Return: 0; -EINVAL; -ENOMEM; -E2BIG (over 2^20 rows); -EPROTO;
 * connection errors as dmabufd_alloc().
 */
DMABUFD_EXPORT int dmabufd_accounting(struct dmabufd_client *client, enum dmabufd_account_kind kind,
				 struct dmabufd_account **ret, size_t *ret_count);
DMABUFD_EXPORT void dmabufd_accounting_free(struct dmabufd_account *accounts);

/**
 * dmabufd_accounting_sized() - dmabufd_accounting() with rows @row_size
 * bytes apart (sizeof(**ret); see "Structs that grow").
 * Return: as dmabufd_accounting(); -EINVAL also for @row_size below
 * DMABUFD_ACCOUNT_SIZE_VER0.
 */
DMABUFD_EXPORT int dmabufd_accounting_sized(struct dmabufd_client *client,
					    enum dmabufd_account_kind kind,
					    struct dmabufd_account **ret, size_t *ret_count,
					    size_t row_size);

/**
 * dmabufd_map() - map a buffer shared and writable-as-asked, with its pages
 * already mapped, so that first touches do not fault page by page.
 * @fd: the buffer's fd (struct dmabufd_buffer.fd): a sealed memfd (memfd
 *      backend) or a dma-buf; any other mmap-able fd is mapped too
 * @size: bytes to map from offset 0, nonzero (normally dmabufd_buffer.size);
 *        for a memfd sealed with F_SEAL_SHRINK at most the file's size
 * @prot: PROT_READ, PROT_WRITE or both (no PROT_EXEC)
 * @flags: must be 0 (reserved)
 * @ret: receives the address of the MAP_SHARED mapping; unmap it with
 *       munmap(*ret, size)
 *
 * Why: a buffer from the daemon's pre-zeroed pool (docs/PERFORMANCE.md)
 * already has its pages allocated and cleared, but a plain mmap(2) maps
 * none of them: the first write to each 4 KiB page takes a page fault
 * (256 per MiB). This maps them in a few faults instead.
 *
 * How: for a memfd sealed with F_SEAL_SHRINK (every memfd the daemon
 * hands out) and a readable mapping, mmap(2) then one read per 64 KiB:
 * a read fault on shmem also maps the pages of its fault-around window
 * (mm/memory.c do_fault_around(), fault_around_bytes, 64 KiB by default)
 * that are already in the page cache, writable when the mapping is, so a
 * pooled 1 MiB buffer is mapped in about 16 faults; then one read per 4 KiB
 * page maps what the windows left out. A buffer that did not come from
 * the pool (mincore(2) finds its first page absent) is populated with
 * madvise(MADV_POPULATE_WRITE) (MADV_POPULATE_READ for a read-only
 * mapping) instead, which allocates its pages in one call (Linux 5.14;
 * before, they fault on first touch as with mmap(2)). Otherwise (a dma-buf, an unsealed memfd, a write-only
 * mapping) mmap(2) with MAP_POPULATE, which faults in what the exporter
 * allows and never raises SIGBUS (the dma-buf heaps map every page at
 * mmap time anyway). Either way the result is an ordinary shared mapping;
 * dma-buf CPU access still needs dmabufd_cpu_access_begin()/_end().
 *
 * Does not talk to the daemon; thread-safe.
 * Return: 0 and *@ret set; -EINVAL (@ret NULL, @size 0 or above SIZE_MAX or
 * above a shrink-sealed memfd's size, unknown @prot bits or @prot 0,
 * @flags nonzero, or mmap(2)'s EINVAL, e.g. a dma-buf smaller than @size);
 * -EBADF (@fd negative or not open); -EACCES (@fd not open for reading,
 * or PROT_WRITE on an fd not open for writing); -EPERM (PROT_WRITE on a
 * memfd sealed with F_SEAL_WRITE/F_SEAL_FUTURE_WRITE); -ENODEV (@fd
 * cannot be mapped); -ENOMEM; other negative errno from fstat(2)/mmap(2).
 */
DMABUFD_EXPORT int dmabufd_map(int fd, uint64_t size, int prot, uint32_t flags, void **ret);

#ifdef __cplusplus
}
#endif

#endif
