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
#define FDSTORE_STATE_VERSION 2u      /* written; version 1 is read too */
#define FDSTORE_HEADER_SIZE 64u
#define FDSTORE_RECORD_SIZE 192u
/* Largest number of slots the state memfd may declare. */
#define FDSTORE_MAX_SLOTS (1u << 20)

/* What fdstore_state_parse_record() found in a slot. */
enum fdstore_slot_kind {
	FDSTORE_SLOT_FREE = 0,
	FDSTORE_SLOT_BUFFER = 1,
	FDSTORE_SLOT_IMPORT = 2,
};

/* An import record: which process imported which buffer, and when. */
struct fdstore_import {
	uint64_t buffer_id;
	uint64_t imported_usec;   /* CLOCK_REALTIME, µs */
	uint64_t start;           /* /proc/<pid>/stat field 22; 0 = unknown */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
};

/**
 * fdstore_crc32() - CRC-32 (IEEE 802.3, reflected 0xEDB88320, as zlib's
 * crc32()) of @len bytes at @data.
 */
uint32_t fdstore_crc32(const void *data, size_t len);

/** fdstore_state_slot_offset() - byte offset of record @slot in the state memfd. */
off_t fdstore_state_slot_offset(uint32_t slot);

/**
 * fdstore_state_write_header() - write the header (version
 * FDSTORE_STATE_VERSION) of a state memfd with @nslots slots, the
 * registry's @next_id and the backend's @page_size (bytes) and name
 * @backend. Return: 0, or -EIO.
 */
int fdstore_state_write_header(int fd, uint32_t nslots, uint64_t next_id, uint32_t page_size,
			       const char *backend);

/**
 * fdstore_state_write_record() - write @b's buffer record (owner, charged
 * uid and gid, transfers) into @slot, or (@b NULL) mark the slot free.
 * Return: 0, or -EIO.
 */
int fdstore_state_write_record(int fd, uint32_t slot, const struct buffer *b);

/**
 * fdstore_state_write_import() - write the import record @im into @slot.
 * Return: 0, or -EIO.
 */
int fdstore_state_write_import(int fd, uint32_t slot, const struct fdstore_import *im);

/**
 * fdstore_state_read_header() - read and check the header of the state
 * memfd @fd against this daemon's @page_size and @backend (each refusal is
 * logged). Versions 1 (buffers only, charged to their owners) and 2 are
 * read. Return: 0 with *@ret_nslots, *@ret_next_id and *@ret_version;
 * -EBADMSG (foreign, corrupt, of an unknown version or too short for its
 * slots).
 */
int fdstore_state_read_header(int fd, uint32_t page_size, const char *backend,
			      uint32_t *ret_nslots, uint64_t *ret_next_id, uint32_t *ret_version);

/**
 * fdstore_state_parse_record() - parse and check one slot @r
 * (FDSTORE_RECORD_SIZE bytes) of a state of @version whose ids are below
 * @next_id and sizes multiples of @page_size.
 * Return: FDSTORE_SLOT_BUFFER with *@ret_buffer filled (without fd);
 * FDSTORE_SLOT_IMPORT with *@ret_import filled (version 2 only);
 * FDSTORE_SLOT_FREE; -EBADMSG for a corrupt record or one of another
 * version. The other output is untouched.
 */
int fdstore_state_parse_record(const uint8_t *r, uint32_t version, uint64_t next_id,
			       uint64_t page_size, struct buffer *ret_buffer,
			       struct fdstore_import *ret_import);

#endif
