/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd internals shared between the library and its unit tests.
 * Nothing here is exported from libdmabufd.so (hidden visibility, and the
 * version script keeps only dmabufd_* public API symbols).
 */
#ifndef DMABUFD_CLIENT_INTERNAL_H
#define DMABUFD_CLIENT_INTERNAL_H

#include "dmabufd/dmabufd.h"

/* Longest daemon reason kept by dmabufd_last_reason(), in bytes incl. NUL. */
#define DMABUFD_REASON_MAX 256
/* In-flight async limit when the daemon reports max_buffers == 0. */
#define DMABUFD_ASYNC_DEFAULT_LIMIT 256u
/* Upper bound on the async in-flight limit, whatever the daemon reports. */
#define DMABUFD_ASYNC_MAX_LIMIT 4096u
/* Most rows dmabufd_list() accumulates before giving up with -E2BIG. */
#define DMABUFD_LIST_MAX_ENTRIES (1u << 20)

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

#endif
