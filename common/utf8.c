/* SPDX-License-Identifier: MIT */
#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed sequence at @p (1-4), or 0 when it is not one. */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong */
		unsigned char hi = c == 0xed ? 0x9f : 0xbf; /* surrogates */

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80; /* overlong */
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf; /* > U+10FFFF */

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
			       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (!n)
			return false;
		p += n;
	}
	return true;
}

char *utf8_sanitize(const char *s, char *buf, size_t cap)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	while (*p) {
		size_t n = utf8_seq_len(p);
		const char *src = (const char *)p;

		if (!n || *p < 0x20 || *p == 0x7f) {
			src = replacement;
			n = 3;
			p++;
		} else {
			p += n;
		}
		if (o + n >= cap)
			break;
		memcpy(buf + o, src, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

void utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (!n || *p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}
