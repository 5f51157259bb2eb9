/* SPDX-License-Identifier: MIT */
/*
 * libdmabufd.so and dmabufctl against the real dmabufd binary on a socket
 * in a temporary directory. Registered with the label "integration"; uses
 * the integration harness to start the daemon, so DMABUFD_TEST_BACKEND
 * chooses the backend (the VM runs it against kmod, dma-heap, udmabuf and
 * memfd: tests/vm/heaps-integration.sh); unset, the daemon probes (memfd
 * on a host without the kernel's allocators). What the backend offers is
 * taken from Hello, and every expectation follows from it.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "dmabufd/dmabufd.h"
#include "harness.h"

static struct daemon_proc d;
/* The daemon's Hello (dmabufd_get_info()), read once in setup(). */
static struct dmabufd_info hello;

static int setup(void **state)
{
	static const char *const args[] = { "--capacity", "64M", "--max-buffers", "400", NULL };
	struct dmabufd_client *c = NULL;

	if (daemon_start(&d, args) < 0) {
		fprintf(stderr, "dmabufd could not start here\n");
		exit(77);
	}
	setenv("DMABUFD_SOCKET", d.socket, 1);
	if (dmabufd_connect(NULL, &c) < 0 || dmabufd_get_info(c, &hello) < 0) {
		fprintf(stderr, "no Hello from dmabufd\n");
		return -1;
	}
	unsetenv("DMABUFD_SOCKET");
	dmabufd_disconnect(c);
	fprintf(stderr, "backend %s: attributes 0x%x contiguous %d dmabuf %d max_alloc %llu\n",
		hello.backend, hello.attributes, hello.contiguous, hello.dmabuf,
		(unsigned long long)hello.max_alloc);
	return 0;
}

/*
 * Whether @fd is a dma-buf: its fdinfo has the exporter's name (dma-buf
 * fdinfo, kernel 5.3+); a sealed memfd's does not.
 */
static bool fd_is_dmabuf(int fd)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "exp_name:", 9) == 0;
	fclose(f);
	return found;
}

static bool offers(enum dmabufd_attribute attr)
{
	return hello.attributes & (1u << attr);
}

static int teardown(void **state)
{
	return daemon_stop(&d) == 0 ? 0 : -1;
}

static struct dmabufd_client *connect_env(void)
{
	struct dmabufd_client *c = NULL;

	assert_int_equal(setenv("DMABUFD_SOCKET", d.socket, 1), 0);
	assert_int_equal(dmabufd_connect(NULL, &c), 0);
	unsetenv("DMABUFD_SOCKET");
	return c;
}

/*
 * The daemon's Stats reach @buffers / @used bytes within 5 s: a client's
 * disconnect (which releases what it owned) is handled asynchronously, and
 * the kmod backend frees pages at the module's RELEASED event.
 */
static void expect_stats(uint32_t buffers, uint64_t used)
{
	struct dmabufd_client *c = connect_env();
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	struct dmabufd_stats st;

	for (int i = 0; i < 100; i++) {
		assert_int_equal(dmabufd_stats(c, &st), 0);
		if (st.buffers == buffers && st.used == used)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(st.buffers, buffers);
	assert_int_equal(st.used, used);
	dmabufd_disconnect(c);
}

static void test_alloc_map_list_release(void **state)
{
	struct dmabufd_client *c = connect_env();
	struct dmabufd_buffer_info *rows;
	struct dmabufd_buffer buf;
	struct dmabufd_info info;
	struct dmabufd_stats st;
	size_t n;
	uint32_t *p;

	assert_int_equal(dmabufd_get_info(c, &info), 0);
	/* The backend asked for (the harness passes it as --backend). */
	if (getenv("DMABUFD_TEST_BACKEND") && getenv("DMABUFD_TEST_BACKEND")[0])
		assert_string_equal(info.backend, getenv("DMABUFD_TEST_BACKEND"));
	/* memfd hands out sealed memfds, every other backend dma-bufs. */
	assert_int_equal(info.dmabuf, strcmp(info.backend, "memfd") != 0);

	assert_int_equal(dmabufd_alloc(c, 8294400, 0, DMABUFD_ATTR_CACHED, 0, "e2e frame", &buf),
			 0);
	assert_true(buf.size >= 8294400 && buf.size % info.page_size == 0);
	/* Hello's dmabuf flag is what the fd really is. */
	assert_int_equal(fd_is_dmabuf(buf.fd), info.dmabuf != 0);
	p = mmap(NULL, buf.size, PROT_READ | PROT_WRITE, MAP_SHARED, buf.fd, 0);
	assert_true(p != MAP_FAILED);
	for (size_t i = 0; i < buf.size / 4; i++)
		p[i] = (uint32_t)i * 2654435761u;
	for (size_t i = 0; i < buf.size / 4; i++)
		assert_int_equal(p[i], (uint32_t)i * 2654435761u);
	munmap(p, buf.size);

	assert_int_equal(dmabufd_list(c, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, buf.id);
	assert_int_equal(rows[0].size, buf.size);
	assert_int_equal(rows[0].owner_pid, getpid());
	assert_int_equal(rows[0].owner_uid, getuid());
	assert_string_equal(rows[0].label, "e2e frame");
	dmabufd_list_free(rows);

	assert_int_equal(dmabufd_stats(c, &st), 0);
	assert_int_equal(st.buffers, 1);
	assert_int_equal(st.used, buf.size);

	assert_int_equal(dmabufd_release(c, buf.id), 0);
	assert_int_equal(dmabufd_release(c, buf.id), -ENOENT);
	assert_true(strlen(dmabufd_last_reason(c)) > 0);
	close(buf.fd);
	dmabufd_disconnect(c);
	expect_stats(0, 0);
}

static void test_refusals(void **state)
{
	struct dmabufd_client *c = connect_env();
	struct dmabufd_buffer buf, orig;

	memset(&buf, 0x3c, sizeof(buf));
	orig = buf;
	/* Write-combine and contiguity are refused exactly when not offered. */
	if (!offers(DMABUFD_ATTR_WRITECOMBINE)) {
		assert_int_equal(dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_WRITECOMBINE, 0, NULL,
					       &buf), -EOPNOTSUPP);
		assert_true(strlen(dmabufd_last_reason(c)) > 0);
		assert_memory_equal(&buf, &orig, sizeof(buf));
	} else {
		assert_int_equal(dmabufd_alloc(c, 4096, 0, DMABUFD_ATTR_WRITECOMBINE, 0, NULL,
					       &buf), 0);
		assert_true(buf.fd >= 0);
		assert_int_equal(dmabufd_release(c, buf.id), 0);
		close(buf.fd);
		buf = orig;
	}
	if (!hello.contiguous) {
		assert_int_equal(dmabufd_alloc(c, 4096, 0, 0, DMABUFD_ALLOC_CONTIGUOUS, NULL, &buf),
				 -EOPNOTSUPP);
		assert_memory_equal(&buf, &orig, sizeof(buf));
	} else {
		assert_int_equal(dmabufd_alloc(c, 4096, 0, 0, DMABUFD_ALLOC_CONTIGUOUS, NULL, &buf),
				 0);
		assert_int_equal(dmabufd_release(c, buf.id), 0);
		close(buf.fd);
		buf = orig;
	}
	/* More than any backend's largest allocation. */
	assert_true(hello.max_alloc < 1ull << 40);
	assert_int_equal(dmabufd_alloc(c, 1ull << 40, 0, 0, 0, NULL, &buf), -E2BIG);
	assert_memory_equal(&buf, &orig, sizeof(buf));
	dmabufd_disconnect(c);
	expect_stats(0, 0);
}

struct slot {
	int done, error;
	struct dmabufd_buffer buf;
};

static void alloc_done(struct dmabufd_client *client, int error,
		       const struct dmabufd_buffer *buffer, void *userdata)
{
	struct slot *s = userdata;

	s->done++;
	s->error = error;
	if (buffer)
		s->buf = *buffer;
}

static void test_pipelined_async(void **state)
{
	struct dmabufd_client *c = connect_env();
	struct slot slots[8] = { 0 };
	int remaining = 8;

	for (int i = 0; i < 8; i++)
		assert_int_equal(dmabufd_alloc_async(c, 65536, 0, 0, 0, "async", alloc_done,
						     &slots[i]), 0);
	while (remaining > 0) {
		struct pollfd pfd = { .fd = dmabufd_get_fd(c), .events = POLLIN };
		int r;

		assert_int_equal(poll(&pfd, 1, 10000), 1);
		r = dmabufd_dispatch(c);
		assert_true(r >= 0);
		remaining -= r;
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(slots[i].done, 1);
		assert_int_equal(slots[i].error, 0);
		for (int k = 0; k < i; k++)
			assert_true(slots[k].buf.id != slots[i].buf.id);
		close(slots[i].buf.fd);
	}
	expect_stats(8, 8 * 65536);
	/* Ownership ends with the connection. */
	dmabufd_disconnect(c);
	expect_stats(0, 0);
}

static void test_list_pages(void **state)
{
	struct dmabufd_client *c = connect_env();
	struct dmabufd_buffer_info *rows;
	struct dmabufd_buffer buf;
	size_t n;

	/* More than one of the daemon's 256-entry pages. */
	for (int i = 0; i < 300; i++) {
		assert_int_equal(dmabufd_alloc(c, 4096, 0, 0, 0, NULL, &buf), 0);
		close(buf.fd);
	}
	assert_int_equal(dmabufd_list(c, &rows, &n), 0);
	assert_int_equal(n, 300);
	for (size_t i = 1; i < n; i++)
		assert_true(rows[i].id > rows[i - 1].id);
	dmabufd_list_free(rows);
	dmabufd_disconnect(c);
	expect_stats(0, 0);
}

/* Runs dmabufctl with @args (a shell word list), stdout to /dev/null. */
static int dmabufctl(const char *args)
{
	char cmd[512];
	int status;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s >/dev/null 2>&1 </dev/null", DMABUFCTL_BIN,
		 d.socket, args);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_dmabufctl_exit_codes(void **state)
{
	assert_int_equal(dmabufctl("demo --frames 6 --ring 3"), 0);
	assert_int_equal(dmabufctl("--json demo --frames 2 --ring 2 --size 1M"), 0);
	assert_int_equal(dmabufctl("stats --json"), 0);
	assert_int_equal(dmabufctl("list"), 0);
	assert_int_equal(dmabufctl("alloc 4M --label ok"), 0);
	/* More than the largest allocation the backend allows. */
	assert_true(hello.max_alloc < 1ull << 30);
	assert_int_equal(dmabufctl("alloc 1G"), 1);
	assert_int_equal(dmabufctl("alloc 4M --attr wc"), offers(DMABUFD_ATTR_WRITECOMBINE) ? 0 : 1);
	assert_int_equal(dmabufctl("alloc"), 2);
	assert_int_equal(dmabufctl("alloc 4X"), 2);
	assert_int_equal(dmabufctl("frobnicate"), 2);
	assert_int_equal(dmabufctl("--socket /nonexistent/dmabufd.sock list"), 3);
	expect_stats(0, 0);
}

/* Runs dmabufctl with @args; its stderr (or stdout, @out) into @buf. */
static int dmabufctl_output(const char *args, bool out, char *buf, size_t cap)
{
	char cmd[512];
	size_t n;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s --socket %s %s %s </dev/null", DMABUFCTL_BIN, d.socket,
		 args, out ? "2>/dev/null" : "2>&1 >/dev/null");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, cap - 1, p);
	buf[n] = '\0';
	status = pclose(p);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A refusal prints the daemon's reason first and the errno's name after it. */
static void test_dmabufctl_messages(void **state)
{
	char buf[1024];

	assert_int_equal(dmabufctl_output("alloc 1G", false, buf, sizeof(buf)), 1);
	assert_true(strncmp(buf, "dmabufctl: alloc refused: ", 26) == 0);
	assert_non_null(strstr(buf, "largest allocation"));
	assert_non_null(strstr(buf, " (E2BIG)\n"));
	assert_null(strstr(buf, "Argument list too long"));

	assert_int_equal(dmabufctl_output("--version", true, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "dmabufctl " DMABUFD_VERSION "\n");
	assert_int_equal(dmabufctl_output("-V", true, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "dmabufctl " DMABUFD_VERSION "\n");
}

/*
 * Stats' two transition counts in dmabufctl stats --json: the ledger's
 * (a number, every backend) and the kernel's (a number when a kmod
 * backend is active, else null: the others which never change the linear map); the
 * human output names both.
 */
static void test_stats_transitions(void **state)
{
	static char buf[65536];
	json_object *top, *v, *backends;
	bool kmod = false;

	assert_int_equal(dmabufctl_output("stats --json", true, buf, sizeof(buf)), 0);
	top = json_tokener_parse(buf);
	assert_non_null(top);
	/* kmod among the active backends (not necessarily the first) */
	assert_true(json_object_object_get_ex(top, "backends", &backends));
	assert_true(json_object_array_length(backends) >= 1);
	for (size_t i = 0; i < json_object_array_length(backends); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(backends, i), "backend", &v) &&
		    strcmp(json_object_get_string(v), "kmod") == 0)
			kmod = true;
	assert_true(json_object_object_get_ex(top, "transitions", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_object_get_ex(top, "kernel_attr_transitions", &v));
	if (kmod)
		assert_true(json_object_is_type(v, json_type_int));
	else
		assert_null(v); /* present, and null */
	json_object_put(top);

	assert_int_equal(dmabufctl_output("stats", true, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, " pages in the ledger"));
	assert_non_null(strstr(buf, kmod ? " in the kernel's linear map\n" :
				       " (no kernel count: no kmod backend)\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_map_list_release),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_pipelined_async),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_dmabufctl_exit_codes),
		cmocka_unit_test(test_dmabufctl_messages),
		cmocka_unit_test(test_stats_transitions),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
