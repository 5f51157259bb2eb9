/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target (e): the fd store's state record (daemon/fdstore_state.c),
 * which a restarted daemon reads back from the service manager's fd store.
 * The store is the daemon's own, but a corrupt or foreign record (another
 * version, a crash half-way through a write, an edited store) must be
 * refused or read exactly, never crash the daemon.
 *
 * Input: the bytes of a state memfd (header and slots). The target writes
 * them to a memfd and reads the header as the memfd backend with 4 KiB
 * pages would; when it is accepted, it parses every slot it declares. Each
 * record that parses is checked (ids below next_id, sizes page multiples,
 * strings NUL-terminated, labels printable, pids positive) and written back
 * with the daemon's encoder, which must parse to the same fields. The first
 * 192 bytes are also parsed as a lone record of both versions. Checked: no
 * crash, no sanitizer report, no fd leaked.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdstore_state.h"
#include "fuzz_util.h"
#include "log.h"
#include "types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u

static void check_buffer(const struct buffer *b, uint64_t next_id)
{
	fuzz_check(b->id > 0 && b->id < next_id, "buffer id out of range");
	fuzz_check(b->size > 0 && b->size % PAGE == 0, "size not a page multiple");
	fuzz_check(b->pid > 0, "owner pid not positive");
	fuzz_check(memchr(b->comm, 0, sizeof(b->comm)) != NULL, "comm not terminated");
	fuzz_check(memchr(b->label, 0, sizeof(b->label)) != NULL, "label not terminated");
	for (const unsigned char *p = (const unsigned char *)b->label; *p; p++)
		fuzz_check(*p >= 0x20 && *p != 0x7f, "label has a control character");
}

/* Writes @b (or @im) with the daemon's encoder and parses it back. */
static void round_trip(int scratch, const struct buffer *b, const struct fdstore_import *im,
		       uint64_t next_id)
{
	uint8_t r[FDSTORE_RECORD_SIZE];
	struct fdstore_import im2;
	struct buffer b2;
	int kind;

	if (b)
		fuzz_check(fdstore_state_write_record(scratch, 0, b) == 0, "write_record");
	else
		fuzz_check(fdstore_state_write_import(scratch, 0, im) == 0, "write_import");
	fuzz_check(pread(scratch, r, sizeof(r), fdstore_state_slot_offset(0)) == (ssize_t)sizeof(r),
		   "pread scratch");
	kind = fdstore_state_parse_record(r, FDSTORE_STATE_VERSION, next_id, PAGE, &b2, &im2);
	if (b) {
		fuzz_check(kind == FDSTORE_SLOT_BUFFER, "a written buffer record does not parse");
		fuzz_check(b2.id == b->id && b2.size == b->size && b2.offset == b->offset &&
			   b2.attribute == b->attribute && b2.flags == b->flags &&
			   b2.pid == b->pid && b2.uid == b->uid && b2.gid == b->gid &&
			   b2.charged_uid == b->charged_uid && b2.charged_gid == b->charged_gid &&
			   b2.owner_start == b->owner_start &&
			   b2.owner_transfers == b->owner_transfers &&
			   b2.created_usec == b->created_usec && strcmp(b2.comm, b->comm) == 0 &&
			   strcmp(b2.label, b->label) == 0,
			   "buffer record round trip");
	} else {
		fuzz_check(kind == FDSTORE_SLOT_IMPORT, "a written import record does not parse");
		fuzz_check(im2.buffer_id == im->buffer_id &&
			   im2.imported_usec == im->imported_usec &&
			   im2.start == im->start && im2.pid == im->pid && im2.uid == im->uid &&
			   im2.gid == im->gid && strcmp(im2.comm, im->comm) == 0,
			   "import record round trip");
	}
}

static void parse_one(int scratch, const uint8_t *r, uint32_t version, uint64_t next_id)
{
	struct fdstore_import im;
	struct buffer b;
	int kind = fdstore_state_parse_record(r, version, next_id, PAGE, &b, &im);

	fuzz_check(kind == FDSTORE_SLOT_FREE || kind == FDSTORE_SLOT_BUFFER ||
		   kind == FDSTORE_SLOT_IMPORT || kind == -EBADMSG, "unexpected parse result");
	if (kind == FDSTORE_SLOT_BUFFER) {
		check_buffer(&b, next_id);
		round_trip(scratch, &b, NULL, next_id);
	} else if (kind == FDSTORE_SLOT_IMPORT) {
		fuzz_check(version >= 2, "an import record in a version 1 state");
		fuzz_check(im.buffer_id > 0 && im.buffer_id < next_id && im.pid > 0,
			   "import fields");
		fuzz_check(memchr(im.comm, 0, sizeof(im.comm)) != NULL,
			   "import comm not terminated");
		round_trip(scratch, NULL, &im, next_id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = fuzz_count_own_fds(), fd, scratch;
	uint32_t nslots = 0, version = 0;
	uint64_t next_id = 0;
	uint8_t r[FDSTORE_RECORD_SIZE];

	fd = memfd_create("fuzz-state", MFD_CLOEXEC);
	scratch = memfd_create("fuzz-scratch", MFD_CLOEXEC);
	fuzz_check(fd >= 0 && scratch >= 0, "memfd_create");
	fuzz_check(size == 0 || write(fd, data, size) == (ssize_t)size, "write");
	/* The record parser alone, as a record of either version would reach it. */
	if (size >= FDSTORE_RECORD_SIZE) {
		parse_one(scratch, data, 1, UINT64_C(1) << 62);
		parse_one(scratch, data, 2, UINT64_C(1) << 62);
	}
	if (fdstore_state_read_header(fd, PAGE, "memfd", &nslots, &next_id, &version) == 0) {
		fuzz_check(nslots > 0 && nslots <= FDSTORE_MAX_SLOTS, "nslots out of range");
		fuzz_check(version >= 1 && version <= FDSTORE_STATE_VERSION,
			   "version out of range");
		fuzz_check((uint64_t)fdstore_state_slot_offset(nslots) <= size,
			   "header accepted with slots past the end");
		for (uint32_t slot = 0; slot < nslots; slot++) {
			fuzz_check(pread(fd, r, sizeof(r), fdstore_state_slot_offset(slot)) ==
				   (ssize_t)sizeof(r), "short slot");
			parse_one(scratch, r, version, next_id);
		}
	}
	close(scratch);
	close(fd);
	fuzz_check(fuzz_count_own_fds() == fds_before, "fd leaked");
	return 0;
}
