/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (DMABUFD_DEFAULT_CONFIG, INI, parsed with
 * libinih) and its reload on SIGHUP. docs/CONFIG.md lists every key.
 *
 * Precedence: built-in defaults < the file < the command line. A reload
 * re-reads the file and re-applies the same command-line overrides; if the
 * new file has any error the old configuration stays in force.
 */
#ifndef DMABUFD_CONFIG_H
#define DMABUFD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dmabufd/dmabufd.h"
#include "backend/pool.h"
#include "policy.h"

/*
 * <sysconfdir>/dmabufd/dmabufd.conf, given by the build (daemon/CMakeLists.txt)
 * from the directory the example file is installed to: /etc/dmabufd/... for
 * prefix /usr, <prefix>/etc/dmabufd/... otherwise.
 */
#ifndef DMABUFD_DEFAULT_CONFIG
#error "DMABUFD_DEFAULT_CONFIG is defined by the build system"
#endif

/*
 * One [pool] classes entry (or --pool-classes item): a buffer size and the
 * cache attribute the pool makes it in.
 */
struct config_pool_class {
	uint64_t size;            /* bytes, a page multiple */
	enum dmabufd_attribute attribute;
};

/* Values given on the command line; they win over the file. */
struct config_overrides {
	const char *socket_path;  /* NULL = not given */
	const char *backend;      /* NULL = not given */
	uint64_t capacity;        /* bytes; 0 = not given */
	bool has_socket_mode;
	mode_t socket_mode;
	uint32_t max_clients;     /* 0 = not given */
	uint32_t max_buffers;     /* 0 = not given */
	bool has_pool_budget;     /* --pool-budget (0 there turns the pools off) */
	uint64_t pool_budget;     /* bytes */
	bool has_pool_classes;    /* --pool-classes ('learn': pool_nclasses = 0) */
	struct config_pool_class pool_classes[POOL_MAX_CLASSES];
	unsigned pool_nclasses;
};

/* One complete configuration. */
struct config {
	char *socket_path;        /* NULL = $DMABUFD_SOCKET or the default */
	char *backend;            /* "memfd" unless set */
	/* probe order and dma-heap heap classes (comma-separated;
	 * NULL = not set). Read at start only. */
	char *backends;           /* probe order, default PROBE_DEFAULT_ORDER */
	char *heaps_contiguous;   /* dma-heap-contiguous */
	char *heaps_writecombine; /* dma-heap-write-combine */
	char *heaps_uncached;     /* dma-heap-uncached */
	uint64_t capacity;        /* bytes; 0 = the backend's default */
	mode_t socket_mode;
	uint32_t max_clients;
	uint32_t max_buffers;     /* per client (hard limit, -EMFILE) */
	/* [limits] */
	uint32_t hello_timeout_sec;
	uint32_t max_connections_per_uid;
	uint32_t admin_connections;
	uint32_t max_buffers_per_uid; /* 0: the fd budget / expected_uids */
	uint32_t expected_uids;
	/* [pool]: read at start only (a reload logs a change and keeps them). */
	uint64_t pool_budget;     /* bytes per active backend; 0 = no pools */
	struct config_pool_class pool_classes[POOL_MAX_CLASSES];
	unsigned pool_nclasses;   /* classes made from the start; 0 = learn only */
	struct policy *policy;    /* owned */
};

/**
 * config_parse_size() - a byte count as common/parse.h parse_size() reads
 * it ("4096", "0x1000", "4K", "4KiB", "16M", "1G"; binary units).
 * Return: 0 and *ret; -EINVAL (not a size, or overflows 64 bits).
 */
int config_parse_size(const char *s, uint64_t *ret);

/**
 * config_parse_u32() - a decimal number in [@min, UINT32_MAX].
 * Return: 0 and *ret; -EINVAL.
 */
int config_parse_u32(const char *s, uint32_t min, uint32_t *ret);

/**
 * config_parse_pool_classes() - a list of pool classes, as [pool] classes
 * and --pool-classes take it: comma-separated items "SIZE[:ATTRIBUTE]"
 * (spaces around items allowed), SIZE as config_parse_size() reads it,
 * greater than 0 and rounded up to @page bytes, ATTRIBUTE a name
 * attr_from_string() accepts ("cached", "write-combine", "uncached", or an
 * alias), "cached" when left out; e.g. "8M:write-combine, 12441600:wc, 1M".
 * @page: bytes, a power of two
 * @ret: POOL_MAX_CLASSES entries; filled on success only
 * @ret_n: the number of classes, 1 to POOL_MAX_CLASSES
 * @why: on failure, what is wrong (NUL-terminated, at most @whylen bytes)
 * Return: 0; -EINVAL (an empty item, not a size, 0, larger than 1 TiB, an
 * unknown attribute, the same class twice, more than POOL_MAX_CLASSES).
 */
int config_parse_pool_classes(const char *s, uint32_t page,
			      struct config_pool_class ret[POOL_MAX_CLASSES], unsigned *ret_n,
			      char *why, size_t whylen);

/**
 * config_load() - read @path into a fresh configuration.
 * @path: INI file
 * @must_exist: false: a missing file gives the built-in defaults
 * @ret: filled on success (free with config_finish())
 *
 * Every unknown section or key, bad value, duplicate key and syntax error
 * is logged as "PATH:LINE: ..." and makes the load fail.
 * Return: 0; -EINVAL (errors were logged); -ENOENT (missing and
 * @must_exist); -ENOMEM; other negative errno from fopen(3).
 */
int config_load(const char *path, bool must_exist, struct config *ret);

/** config_apply_overrides() - let the command line win over @c. */
int config_apply_overrides(struct config *c, const struct config_overrides *o);

/** config_finish() - free what @c holds; accepts a zeroed struct. */
void config_finish(struct config *c);

/* Where the running server's configuration came from (for reloads). */
struct config_source {
	const char *path;
	bool must_exist;
	struct config_overrides overrides;
};

#endif
