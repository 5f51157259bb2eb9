/* SPDX-License-Identifier: MIT */
/*
 * The fd store's state memfd: encoding and checking of its header and
 * records (fdstore_state.h).
 *
 * State memfd layout, all integers little-endian:
 *
 *   header, 64 bytes at offset 0
 *     0  char[8] magic "DMABUFDS"
 *     8  u32 version (2 written; 1 read: buffer records "DBR1" only)
 *    12  u32 header_size (64)
 *    16  u32 record_size (192)
 *    20  u32 nslots (1 .. FDSTORE_MAX_SLOTS)
 *    24  u64 next_id (the registry's next buffer id, < 2^62)
 *    32  u32 page_size (bytes)
 *    36  char[20] backend name, NUL-padded
 *    56  u32 reserved (0)
 *    60  u32 crc32 of bytes 0..59
 *
 *   slot, 192 bytes at 64 + slot * 192; a free slot is all zero
 *
 *   buffer record
 *     0  u32 magic "DBR2" (0x32524244; version 1: "DBR1", 0x31524244)
 *     4  u32 crc32 of bytes 8..191
 *     8  u64 id          16 u64 size (bytes)      24 u64 offset (bytes)
 *    32  u64 created_usec (CLOCK_REALTIME)        40 u64 owner_start (ticks)
 *    48  u32 attribute   52 u32 flags             56 s32 owner pid
 *    60  u32 owner uid   64 u32 owner gid         68 u32 reserved (0)
 *    72  char[16] comm   88 char[64] label (both NUL-terminated)
 *   152  u32 charged uid 156 u32 charged gid      160 u32 owner_transfers
 *   164  28 bytes reserved (0)
 *        (version 1: 152..191 reserved; charged uid and gid = the owner's)
 *
 *   import record (version 2)
 *     0  u32 magic "DBI2" (0x32494244)
 *     4  u32 crc32 of bytes 8..191
 *     8  u64 buffer id   16 u64 imported_usec (CLOCK_REALTIME)
 *    24  u64 start (the importer's start time, ticks)
 *    32  s32 pid         36 u32 uid    40 u32 gid    44 u32 reserved (0)
 *    48  char[16] comm (NUL-terminated)
 *    64  128 bytes reserved (0)
 */
#include "fdstore_state.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define RECORD_MAGIC_V1 0x31524244u /* "DBR1" */
#define RECORD_MAGIC 0x32524244u    /* "DBR2" */
#define IMPORT_MAGIC 0x32494244u    /* "DBI2" */
#define MAX_NEXT_ID (1ull << 62)

uint32_t fdstore_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

int fdstore_state_write_header(int fd, uint32_t nslots, uint64_t next_id, uint32_t page_size,
				const char *backend)
{
	uint8_t h[FDSTORE_HEADER_SIZE] = { 0 };

	memcpy(h, FDSTORE_STATE_MAGIC, 8);
	put32(h + 8, FDSTORE_STATE_VERSION);
	put32(h + 12, FDSTORE_HEADER_SIZE);
	put32(h + 16, FDSTORE_RECORD_SIZE);
	put32(h + 20, nslots);
	put64(h + 24, next_id);
	put32(h + 32, page_size);
	snprintf((char *)h + 36, 20, "%s", backend);
	put32(h + 60, fdstore_crc32(h, 60));
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	return 0;
}

off_t fdstore_state_slot_offset(uint32_t slot)
{
	return (off_t)FDSTORE_HEADER_SIZE + (off_t)slot * FDSTORE_RECORD_SIZE;
}

int fdstore_state_write_record(int fd, uint32_t slot, const struct buffer *b)
{
	uint8_t r[FDSTORE_RECORD_SIZE] = { 0 };

	if (b) {
		put32(r, RECORD_MAGIC);
		put64(r + 8, b->id);
		put64(r + 16, b->size);
		put64(r + 24, b->offset);
		put64(r + 32, b->created_usec);
		put64(r + 40, b->owner_start);
		put32(r + 48, (uint32_t)b->attribute);
		put32(r + 52, b->flags);
		put32(r + 56, (uint32_t)b->pid);
		put32(r + 60, (uint32_t)b->uid);
		put32(r + 64, (uint32_t)b->gid);
		memcpy(r + 72, b->comm, 15);
		memcpy(r + 88, b->label, DMABUFD_LABEL_MAX);
		put32(r + 152, (uint32_t)b->charged_uid);
		put32(r + 156, (uint32_t)b->charged_gid);
		put32(r + 160, b->owner_transfers);
		put32(r + 4, fdstore_crc32(r + 8, FDSTORE_RECORD_SIZE - 8));
	}
	if (pwrite(fd, r, sizeof(r), fdstore_state_slot_offset(slot)) != (ssize_t)sizeof(r))
		return -EIO;
	return 0;
}

int fdstore_state_write_import(int fd, uint32_t slot, const struct fdstore_import *im)
{
	uint8_t r[FDSTORE_RECORD_SIZE] = { 0 };

	put32(r, IMPORT_MAGIC);
	put64(r + 8, im->buffer_id);
	put64(r + 16, im->imported_usec);
	put64(r + 24, im->start);
	put32(r + 32, (uint32_t)im->pid);
	put32(r + 36, (uint32_t)im->uid);
	put32(r + 40, (uint32_t)im->gid);
	memcpy(r + 48, im->comm, 15);
	put32(r + 4, fdstore_crc32(r + 8, FDSTORE_RECORD_SIZE - 8));
	if (pwrite(fd, r, sizeof(r), fdstore_state_slot_offset(slot)) != (ssize_t)sizeof(r))
		return -EIO;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int parse_import(const uint8_t *r, uint64_t next_id, struct fdstore_import *ret)
{
	struct fdstore_import im = { 0 };

	im.buffer_id = get64(r + 8);
	im.imported_usec = get64(r + 16);
	im.start = get64(r + 24);
	im.pid = (pid_t)get32(r + 32);
	im.uid = (uid_t)get32(r + 36);
	im.gid = (gid_t)get32(r + 40);
	if (im.buffer_id == 0 || im.buffer_id >= next_id || im.pid <= 0 || get32(r + 44) != 0 ||
	    !memchr(r + 48, 0, 16) || !all_zero(r + 64, FDSTORE_RECORD_SIZE - 64))
		return -EBADMSG;
	memcpy(im.comm, r + 48, 16);
	*ret = im;
	return FDSTORE_SLOT_IMPORT;
}

int fdstore_state_parse_record(const uint8_t *r, uint32_t version, uint64_t next_id,
			       uint64_t page_size, struct buffer *ret_buffer,
			       struct fdstore_import *ret_import)
{
	struct buffer tmp, *ret = &tmp;
	uint32_t attribute, magic;

	if (all_zero(r, FDSTORE_RECORD_SIZE))
		return FDSTORE_SLOT_FREE;
	if (get32(r + 4) != fdstore_crc32(r + 8, FDSTORE_RECORD_SIZE - 8))
		return -EBADMSG;
	magic = get32(r);
	if (version >= 2 && magic == IMPORT_MAGIC)
		return parse_import(r, next_id, ret_import);
	if (magic != (version >= 2 ? RECORD_MAGIC : RECORD_MAGIC_V1))
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->id = get64(r + 8);
	ret->size = get64(r + 16);
	ret->offset = get64(r + 24);
	ret->created_usec = get64(r + 32);
	ret->owner_start = get64(r + 40);
	attribute = get32(r + 48);
	ret->flags = get32(r + 52);
	ret->pid = (pid_t)get32(r + 56);
	ret->uid = (uid_t)get32(r + 60);
	ret->gid = (gid_t)get32(r + 64);
	if (ret->id == 0 || ret->id >= next_id || ret->size == 0 || ret->size % page_size ||
	    attribute > DMABUFD_ATTR_UNCACHED || (ret->flags & ~(uint32_t)DMABUFD_ALLOC_FLAGS_ALL) ||
	    ret->pid <= 0 || get32(r + 68) != 0)
		return -EBADMSG;
	ret->attribute = (enum dmabufd_attribute)attribute;
	if (!memchr(r + 72, 0, 16) || !memchr(r + 88, 0, DMABUFD_LABEL_MAX + 1))
		return -EBADMSG;
	memcpy(ret->comm, r + 72, 16);
	memcpy(ret->label, r + 88, DMABUFD_LABEL_MAX + 1);
	for (const unsigned char *p = (const unsigned char *)ret->label; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -EBADMSG;
	if (version >= 2) {
		ret->charged_uid = (uid_t)get32(r + 152);
		ret->charged_gid = (gid_t)get32(r + 156);
		ret->owner_transfers = get32(r + 160);
		if (!all_zero(r + 164, FDSTORE_RECORD_SIZE - 164))
			return -EBADMSG;
	} else {
		/* Version 1 knew no other charge than the owner's. */
		ret->charged_uid = ret->uid;
		ret->charged_gid = ret->gid;
		if (!all_zero(r + 152, FDSTORE_RECORD_SIZE - 152))
			return -EBADMSG;
	}
	*ret_buffer = tmp;
	return FDSTORE_SLOT_BUFFER;
}

int fdstore_state_read_header(int fd, uint32_t page_size, const char *backend,
			      uint32_t *ret_nslots, uint64_t *ret_next_id, uint32_t *ret_version)
{
	uint8_t h[FDSTORE_HEADER_SIZE];
	uint64_t next_id, page;
	uint32_t nslots, version;
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size < (off_t)sizeof(h))
		return -EBADMSG;
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EBADMSG;
	if (memcmp(h, FDSTORE_STATE_MAGIC, 8) != 0) {
		log_error("fd store: the state record is not a dmabufd state (bad magic)");
		return -EBADMSG;
	}
	version = get32(h + 8);
	if (version < 1 || version > FDSTORE_STATE_VERSION) {
		log_error("fd store: state version %u is not supported (this daemon reads 1 to %u)",
			  version, FDSTORE_STATE_VERSION);
		return -EBADMSG;
	}
	if (get32(h + 60) != fdstore_crc32(h, 60)) {
		log_error("fd store: the state header checksum does not match");
		return -EBADMSG;
	}
	nslots = get32(h + 20);
	next_id = get64(h + 24);
	page = get32(h + 32);
	if (get32(h + 12) != FDSTORE_HEADER_SIZE || get32(h + 16) != FDSTORE_RECORD_SIZE ||
	    nslots == 0 || nslots > FDSTORE_MAX_SLOTS || next_id == 0 || next_id > MAX_NEXT_ID ||
	    page != page_size || get32(h + 56) != 0 || !memchr(h + 36, 0, 20)) {
		log_error("fd store: the state header is inconsistent (slots %u, next id %" PRIu64
			  ", page %" PRIu64 ")", nslots, next_id, page);
		return -EBADMSG;
	}
	if (strcmp((const char *)h + 36, backend) != 0) {
		log_error("fd store: the state belongs to the %s backend, not %s",
			  (const char *)h + 36, backend);
		return -EBADMSG;
	}
	if ((uint64_t)sb.st_size < (uint64_t)fdstore_state_slot_offset(nslots)) {
		log_error("fd store: the state memfd holds %lld bytes, %u slots need %lld",
			  (long long)sb.st_size, nslots, (long long)fdstore_state_slot_offset(nslots));
		return -EBADMSG;
	}
	if (version < FDSTORE_STATE_VERSION)
		log_info("fd store: reading a version %u state; it is rewritten as version %u",
			 version, FDSTORE_STATE_VERSION);
	*ret_nslots = nslots;
	*ret_next_id = next_id;
	*ret_version = version;
	return 0;
}
