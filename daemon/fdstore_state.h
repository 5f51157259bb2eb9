/* SPDX-License-Identifier: MIT */
/*
 * The fd store's state memfd (fdstore_state.c has the byte layout): one
 * versioned, checksummed header and one fixed-size record per buffer
 * slot. Exposed for fdstore.c, the unit tests and the fuzz target.
 */
#ifndef DMABUFD_FDSTORE_STATE_H
#define DMABUFD_FDSTORE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "registry.h"

#define FDSTORE_STATE_MAGIC "DMABUFDS"
#define FDSTORE_STATE_VERSION 1u
#define FDSTORE_HEADER_SIZE 64u
#define FDSTORE_RECORD_SIZE 192u
/* Largest number of buffer slots the state memfd may declare. */
#define FDSTORE_MAX_SLOTS (1u << 20)

/**
 * fdstore_crc32() - CRC-32 (IEEE 802.3, reflected 0xEDB88320, as zlib's
 * crc32()) of @len bytes at @data.
 */
uint32_t fdstore_crc32(const void *data, size_t len);

/** fdstore_state_slot_offset() - byte offset of record @slot in the state memfd. */
off_t fdstore_state_slot_offset(uint32_t slot);

/**
 * fdstore_state_write_header() - write the header of a state memfd with
 * @nslots slots, the registry's @next_id and the backend's @page_size
 * (bytes) and name @backend. Return: 0, or -EIO.
 */
int fdstore_state_write_header(int fd, uint32_t nslots, uint64_t next_id, uint32_t page_size,
			       const char *backend);

/**
 * fdstore_state_write_record() - write @b's record into @slot, or (@b
 * NULL) mark the slot free. Return: 0, or -EIO.
 */
int fdstore_state_write_record(int fd, uint32_t slot, const struct buffer *b);

/**
 * fdstore_state_read_header() - read and check the header of the state
 * memfd @fd against this daemon's @page_size and @backend (each refusal is
 * logged). Return: 0 with *@ret_nslots and *@ret_next_id; -EBADMSG
 * (foreign, corrupt, of another version or too short for its slots).
 */
int fdstore_state_read_header(int fd, uint32_t page_size, const char *backend,
			      uint32_t *ret_nslots, uint64_t *ret_next_id);

/**
 * fdstore_state_parse_record() - parse and check one record @r
 * (FDSTORE_RECORD_SIZE bytes) of a state whose ids are below @next_id and
 * sizes multiples of @page_size. Return: 1 and *@ret filled (without fd);
 * 0 for a free slot; -EBADMSG for a corrupt record.
 */
int fdstore_state_parse_record(const uint8_t *r, uint64_t next_id, uint64_t page_size,
			       struct buffer *ret);

#endif
