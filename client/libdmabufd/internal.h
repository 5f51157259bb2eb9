/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd internals: the connection and its pending requests
 * (connection.c), shared by the request families (alloc.c, query.c,
 * share.c) and by the unit tests. Nothing here is exported from
 * libdmabufd.so (hidden visibility, and the version script keeps only the
 * dmabufd_* public API).
 */
#ifndef DMABUFD_LIBDMABUFD_INTERNAL_H
#define DMABUFD_LIBDMABUFD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dmabufd/dmabufd.h"
#include "dmabufd.pb-c.h"

/* Longest daemon reason kept by dmabufd_last_reason(), in bytes incl. NUL. */
#define DMABUFD_REASON_MAX 256
/* In-flight async limit when the daemon reports max_buffers == 0. */
#define DMABUFD_ASYNC_DEFAULT_LIMIT 256u
/* Upper bound on the async in-flight limit, whatever the daemon reports. */
#define DMABUFD_ASYNC_MAX_LIMIT 4096u
/* Most rows dmabufd_list() accumulates before giving up with -E2BIG. */
#define DMABUFD_LIST_MAX_ENTRIES (1u << 20)

/* Requests are small (the longest strings are 64 bytes): a stack buffer. */
#define REQUEST_MAX 1024u
/* Hello.client_name limit from proto/dmabufd.proto. */
#define CLIENT_NAME_MAX 64u
/* Largest errno value the library accepts in Reply.error (Linux MAX_ERRNO). */
#define ERRNO_MAX 4095

struct pending {
	struct pending *next;
	uint64_t id;
	Dmabufd__Reply__BodyCase expect; /* body of a successful reply */
	bool want_fd;                    /* a successful reply carries one fd */
	bool sync;
	/* asynchronous Alloc */
	dmabufd_alloc_cb cb;
	void *userdata;
	uint64_t min_size;               /* bytes the reply must cover */
	/* blocking call: filled in when the reply arrived */
	bool done;
	int error;
	Dmabufd__Reply *reply;           /* owned; NULL if the error was local */
	int fd;                          /* owned; -1 if none */
};

struct dmabufd_client {
	int sock;
	uint64_t next_id;
	int dead;                        /* 0, or the error every call now returns */
	bool refused;                    /* the daemon answered a request with an error */
	struct pending *pending;         /* oldest first */
	unsigned n_async;
	unsigned async_limit;
	struct dmabufd_info info;
	char reason[DMABUFD_REASON_MAX];
	uint8_t *rx;                     /* DMABUFD_MAX_MESSAGE bytes */
	/* dmabufd_release_async(): releases the daemon answers only on failure */
	bool release_no_reply;           /* the daemon offers RELEASE_NO_REPLY */
	uint64_t release_failures;       /* failures the daemon reported */
	uint64_t release_failed_id;      /* buffer id of the latest one */
	int release_failed_error;        /* its negative errno */
	unsigned releases_unread;        /* sent since the replies were last all read */
};

/*
 * dmabufd_release_async() reads what has arrived after this many releases
 * without a read: a failure is answered, and a client that never read would
 * fill the daemon's reply queue (limits.max_queued_replies, 64), which
 * stops the daemon reading it, until its own sends block: a deadlock.
 */
#define RELEASE_ASYNC_DRAIN 16u

/**
 * dmabufd_connect_fd() - like dmabufd_connect(), on an already-connected
 * SOCK_SEQPACKET socket (tests use one end of a socketpair).
 * @sock: connected socket; ownership passes to the library, also on failure
 * @client_name: sent in Hello, or NULL for program_invocation_short_name
 * @ret: receives the connection
 *
 * Return: as dmabufd_connect().
 */
int dmabufd_connect_fd(int sock, const char *client_name, struct dmabufd_client **ret);

/* Copies at most @cap - 1 bytes of @src (NULL: "") and a NUL into @dst. */
void copy_string(char *dst, size_t cap, const char *src);
/* Sets the text dmabufd_last_reason() returns ("" clears it). */
void set_reason(struct dmabufd_client *c, const char *reason);

/*
 * Starts a public call on @c: the previous call's reason no longer
 * applies, whatever this call returns. Every public function taking a
 * connection calls it first.
 * Return: 0, or -EINVAL when @c is NULL.
 */
int call_begin(struct dmabufd_client *c);

/*
 * Copies a struct the library filled (@src_size bytes) into the caller's of
 * @dst_size bytes: what fits, and zeroes past @src_size (the rule of
 * Linux's extensible structs, include/dmabufd/dmabufd.h "Structs that grow").
 */
void copy_sized(void *dst, size_t dst_size, const void *src, size_t src_size);

/* Fails a call for a local reason: sets @reason, returns @error. */
int local_error(struct dmabufd_client *c, int error, const char *reason);
/* Queues @p (its id set) as the newest request awaiting a reply. */
void pending_append(struct dmabufd_client *c, struct pending *p);

/*
 * Fills a struct dmabufd_buffer from a checked Alloc reply: -EPROTO when
 * the reply names no buffer or one smaller than @min_size bytes.
 */
int parse_alloc(const Dmabufd__AllocReply *a, uint64_t min_size, int fd,
		struct dmabufd_buffer *ret);

/*
 * Reads one datagram and hands it to its request. @block: wait for one.
 * Return: 1 when a datagram was handled (*ran += callbacks run), 0 when
 * none was queued (only when !@block), negative errno when the connection
 * failed (pending requests have been failed).
 */
int read_one(struct dmabufd_client *c, bool block, int *ran);

/* Packs and sends @req under a fresh id (*ret_id). Return: 0 or -errno. */
int send_request(struct dmabufd_client *c, Dmabufd__Request *req, uint64_t *ret_id);

/*
 * Sends @req and waits for its reply, running callbacks of other replies
 * that arrive first. On success *ret_reply (owned by the caller) and
 * *ret_fd (when @want_fd) are set. Sets the reason for the caller.
 */
int transact(struct dmabufd_client *c, Dmabufd__Request *req,
	     Dmabufd__Reply__BodyCase expect, bool want_fd,
	     Dmabufd__Reply **ret_reply, int *ret_fd);

/* transact() for a request whose answer is only success or an error. */
int transact_ack(struct dmabufd_client *c, Dmabufd__Request *req);

#endif
