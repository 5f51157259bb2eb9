/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target (d): the configuration file parser (daemon/config.c on
 * libinih). The config is read by a root daemon at start and on
 * SIGHUP; whoever can write it is trusted, but a typo must never crash the
 * daemon or leak, and a refused file must change nothing.
 *
 * Input: the file's bytes. The target writes them to a memfd, loads it with
 * config_load("/proc/self/fd/N", must_exist), and on success exercises the
 * result (overrides, access checks for a few credentials) before
 * config_finish(). The first line is also fed to config_parse_size(),
 * config_parse_u32() and config_parse_pool_classes(). Checked: no crash, no sanitizer report, no leak
 * (LeakSanitizer), no fd leaked; a load that fails leaves *ret untouched
 * (the STYLE.md ret_* rule).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_util.h"
#include "log.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = fuzz_count_own_fds();
	struct config cfg, untouched;
	char path[64], line[128];
	size_t n;
	uint64_t sz;
	uint32_t u;
	int fd, err;

	log_set_sink(NULL, NULL, LOG_LEVEL_ERROR);
	/* The first line through the value parsers. */
	for (n = 0; n < size && n < sizeof(line) - 1 && data[n] != '\n'; n++)
		line[n] = (char)data[n];
	line[n] = '\0';
	(void)config_parse_size(line, &sz);
	(void)config_parse_u32(line, 0, &u);
	(void)config_parse_u32(line, 1, &u);
	{
		struct config_pool_class cls[POOL_MAX_CLASSES];
		unsigned ncls;
		char why[160];

		(void)config_parse_pool_classes(line, 4096, cls, &ncls, why, sizeof(why));
	}

	fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	fuzz_check(fd >= 0, "memfd_create");
	fuzz_check(size == 0 || write(fd, data, size) == (ssize_t)size, "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	memset(&cfg, 0x5a, sizeof(cfg));
	memcpy(&untouched, &cfg, sizeof(cfg));
	err = config_load(path, true, &cfg);
	if (err < 0) {
		fuzz_check(memcmp(&cfg, &untouched, sizeof(cfg)) == 0,
			   "config_load() changed *ret on failure");
	} else {
		const struct config_overrides none = { 0 };
		const struct config_overrides some = {
			.socket_path = "/tmp/fuzz.sock", .backend = "memfd",
			.capacity = 1 << 20, .has_socket_mode = true, .socket_mode = 0600,
			.max_clients = 3, .max_buffers = 5,
			.has_pool_budget = true, .pool_budget = 1 << 22,
			.has_pool_classes = true, .pool_nclasses = 1,
			.pool_classes = { { .size = 1 << 20, .attribute = DMABUFD_ATTR_WRITECOMBINE } },
		};
		const gid_t groups[] = { 0, 44, 65534 };
		char reason[128];

		fuzz_check(err == 0, "config_load() returned a positive value");
		fuzz_check(cfg.policy != NULL, "no policy after a successful load");
		(void)policy_check_access(cfg.policy, 0, 0, NULL, 0, reason, sizeof(reason));
		(void)policy_check_access(cfg.policy, 1000, 1000, groups, 3, reason, sizeof(reason));
		(void)policy_check_access(cfg.policy, 65534, 65534, NULL, 0, reason, sizeof(reason));
		(void)config_apply_overrides(&cfg, &none);
		(void)config_apply_overrides(&cfg, &some);
		config_finish(&cfg);
	}
	close(fd);
	fuzz_check(fuzz_count_own_fds() == fds_before, "fd leaked");
	return 0;
}
