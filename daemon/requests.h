/* SPDX-License-Identifier: MIT */
/* Decoding and dispatch of requests (requests.c). */
#ifndef DMABUFD_REQUESTS_H
#define DMABUFD_REQUESTS_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/**
 * client_handle_datagram() - decode one datagram of @len bytes from @c and
 * answer it: one handler per request type, a refusal for a malformed,
 * truncated or unexpected one (counted in c->protocol_errors when it is
 * the client's fault). @fds (@nfds of them) are closed: no request takes
 * a file descriptor. @wire_flags: WIRE_TRUNCATED, WIRE_FDS_TRUNCATED.
 */
void client_handle_datagram(struct client *c, const uint8_t *data, size_t len,
			    int *fds, size_t nfds, unsigned wire_flags);

#endif
