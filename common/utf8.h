/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 checks for the text the daemon stores and echoes (labels, client
 * names, process names), and a sanitising copy for output that must be
 * valid UTF-8 whatever it is given (dmabufctl --json).
 */
#ifndef DMABUFD_COMMON_UTF8_H
#define DMABUFD_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/**
 * utf8_valid() - is @s (NUL-terminated) well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF)?
 */
bool utf8_valid(const char *s);

/**
 * utf8_sanitize() - copy @s into @buf (@cap bytes, @cap > 0, always
 * NUL-terminated), replacing every byte that is not part of a well-formed
 * UTF-8 sequence with U+FFFD, and C0 controls and DEL with U+FFFD too.
 * A sequence that would not fit whole is left out.
 * Return: @buf.
 */
char *utf8_sanitize(const char *s, char *buf, size_t cap);

/**
 * utf8_scrub() - in place: every byte of @s (NUL-terminated) that is not
 * part of a well-formed UTF-8 sequence, and every C0 control and DEL,
 * becomes '?'. The length does not change.
 */
void utf8_scrub(char *s);

#endif
