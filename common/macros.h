/* SPDX-License-Identifier: MIT */
/* Small helpers shared by daemon and client (systemd style cleanup). */
#ifndef DMABUFD_COMMON_MACROS_H
#define DMABUFD_COMMON_MACROS_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Closes *fd if it is valid, preserving errno. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Moves ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _tmp_ = (p);   \
		(p) = NULL;                  \
		_tmp_;                       \
	})
#define TAKE_FD(fd)                          \
	({                                   \
		int _tmp_ = (fd);            \
		(fd) = -1;                   \
		_tmp_;                       \
	})

/* Negative errno from a libc call that failed with -1/errno. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#endif
