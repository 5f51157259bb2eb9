/* SPDX-License-Identifier: MIT */
/* Command-line value parsing shared by dmabufd and dmabufctl. */
#ifndef DMABUFD_COMMON_PARSE_H
#define DMABUFD_COMMON_PARSE_H

#include <stdint.h>

/**
 * parse_size() - parse a byte count: "4096", "0x1000", "4K", "4KB", "4KiB",
 * "16M", "1G" (binary units, case-insensitive suffix letter).
 * Return: 0 and *ret; -EINVAL (empty, signed, trailing garbage); -ERANGE
 * (does not fit in 64 bits). *ret is untouched on failure.
 */
int parse_size(const char *s, uint64_t *ret);

#endif
