/* SPDX-License-Identifier: MIT */
/*
 * Smoke test of dmabufd-bench: a tiny run completes and its JSON parses
 * with the expected keys. No timing assertions (PREAMBLE: speed claims go
 * in the benchmark's own output, not in tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			return 1;                                              \
		}                                                              \
	} while (0)

static int has(json_object *o, const char *key, json_type type)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type);
}

int main(void)
{
	char json_path[] = "/tmp/dmabufd-bench-smoke-XXXXXX";
	int fd = mkstemp(json_path), status;
	json_object *root, *results, *ratios, *memory, *v;
	pid_t pid;

	CHECK(fd >= 0);
	close(fd);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execl(DMABUFD_BENCH_BIN, DMABUFD_BENCH_BIN, "--sizes", "4K,64K", "--clients", "1,2",
		      "--iterations", "5", "--warmup", "1", "--repeat", "1", "--max-seconds", "2",
		      "--pool-budget", "4M", "--memory", "200", "--json", json_path, (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		unlink(json_path);
		return 77;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	root = json_object_from_file(json_path);
	unlink(json_path);
	CHECK(root != NULL);
	CHECK(has(root, "machine", json_type_object));
	CHECK(has(root, "config", json_type_object));
	CHECK(json_object_object_get_ex(root, "results", &results));
	CHECK(json_object_is_type(results, json_type_array));
	CHECK(json_object_array_length(results) == 2 * 2 * 3);
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		json_object *r = json_object_array_get_idx(results, i);
		static const char *const keys[] = { "ready_p50_us", "ready_p99_us", "total_p50_us",
						    "request_p999_us", "ops_per_s" };

		CHECK(has(r, "size", json_type_int));
		CHECK(has(r, "clients", json_type_int));
		CHECK(has(r, "variant", json_type_string));
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			CHECK(has(r, keys[k], json_type_double) || has(r, keys[k], json_type_int));
		CHECK(json_object_object_get_ex(r, "ops", &v) && json_object_get_double(v) >= 1);
		CHECK(json_object_object_get_ex(r, "error", &v) && json_object_get_int(v) == 0);
		if (strcmp(json_object_get_string(json_object_object_get(r, "variant")), "brokered") == 0)
			CHECK(has(r, "server_cpu_us_per_op", json_type_double) ||
			      has(r, "server_cpu_us_per_op", json_type_int));
	}
	CHECK(json_object_object_get_ex(root, "ratios", &ratios));
	CHECK(json_object_array_length(ratios) == 2 * 2);
	for (size_t i = 0; i < json_object_array_length(ratios); i++) {
		json_object *r = json_object_array_get_idx(ratios, i);

		CHECK(has(r, "brokered_direct_ready_p50", json_type_double));
		CHECK(has(r, "brokered_floor_ready_p50", json_type_double));
	}
	CHECK(json_object_object_get_ex(root, "memory", &memory));
	CHECK(json_object_object_get_ex(memory, "buffers", &v) && json_object_get_int(v) == 200);
	CHECK(json_object_object_get_ex(memory, "error", &v) && json_object_get_int(v) == 0);
	CHECK(has(memory, "heap_bytes_per_buffer", json_type_double));
	json_object_put(root);
	return 0;
}
