/* SPDX-License-Identifier: MIT */
/*
 * Several backends active at once (docs/BACKENDS.md "Several
 * backends at once"), on the host where only memfd works: two fake
 * backends (a table of function pointers over memfds, with the caps of a
 * contiguous kmod-like backend and of a non-contiguous cached one).
 *
 * - server_route() in isolation: attribute, contiguity and capacity decide
 *   the candidates and their order; the reasons when none fits.
 * - The real server (server_init + server_add_backend) on a socket, driven
 *   by libdmabufd from a child process: which backend serves each request
 *   (List's backend), fall-through on -ENOSPC for requests the next backend
 *   satisfies and never to one that violates the constraint, a named
 *   device without IOMMU (fake /dev and /sys, probe_set_test_root()), Stats'
 *   per-backend figures; then that every release went back to the region
 *   of the backend that made the buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "dmabufd/dmabufd.h"
#include "backend/probe.h"
#include "fake_backend.h"
#include "placement.h"
#include "region.h"
#include "server.h"

#define MiB (1ull << 20)

/* A fake backend named @name (List's backend) over memfds, able to migrate. */
static struct fake_backend *fake_new(const char *name, bool contiguous, uint32_t attributes,
				     uint64_t capacity)
{
	return fake_backend_new(&(struct fake_backend_options){
		.name = name,
		.attributes = attributes,
		.contiguous = contiguous,
		.region_size = capacity,
		.migration = true,
	});
}

#define ALL_ATTRS ((1u << DMABUFD_ATTR_CACHED) | (1u << DMABUFD_ATTR_WRITECOMBINE) | \
		   (1u << DMABUFD_ATTR_UNCACHED))
#define CACHED_ONLY (1u << DMABUFD_ATTR_CACHED)

/* ---- server_route() in isolation -------------------------------------------- */

static void route_server(struct server *s, const struct backend_caps *const *caps, unsigned n)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < n; i++) {
		s->backends[i].caps = *caps[i];
		s->backends[i].index = i;
		s->backends[i].server = s;
	}
	s->nbackends = n;
}

static void test_route(void **state)
{
	struct fake_backend *k = fake_new("kmod", true, ALL_ATTRS, 4 * MiB);
	struct fake_backend *h = fake_new("dma-heap", false, CACHED_ONLY, 64 * MiB);
	const struct backend_caps *both[] = { &k->caps, &h->caps }, *heap_only[] = { &h->caps };
	struct route_request rq = { .size = MiB, .attribute = DMABUFD_ATTR_CACHED };
	unsigned idx[SERVER_MAX_BACKENDS] = { 99, 99, 99, 99 }, n = 0;
	struct reason why = { { 0 } };
	struct server s;

	route_server(&s, both, 2);
	/* Plain cached: every active backend, in probe order. */
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
	/* Contiguous: only the contiguous one (no fall-through to dma-heap). */
	rq.flags = DMABUFD_ALLOC_CONTIGUOUS;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(idx[0], 0);
	/* Write-combine: only where offered. */
	rq.flags = 0;
	rq.attribute = DMABUFD_ATTR_WRITECOMBINE;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(idx[0], 0);
	/* Larger than the contiguous backend's capacity: dma-heap only. */
	rq.attribute = DMABUFD_ATTR_CACHED;
	rq.size = 8 * MiB;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(idx[0], 1);
	/* Contiguous and larger than kmod: none; E2BIG, not a downgrade. */
	rq.flags = DMABUFD_ALLOC_CONTIGUOUS;
	n = 7;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), -E2BIG);
	assert_int_equal(n, 7); /* untouched */
	assert_non_null(strstr(why.text, "do not fit"));
	/* Larger than everything. */
	rq.flags = 0;
	rq.size = 128 * MiB;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), -E2BIG);

	/* Module unloaded: dma-heap alone; a device without IOMMU. */
	route_server(&s, heap_only, 1);
	rq = (struct route_request){ .size = MiB, .attribute = DMABUFD_ATTR_CACHED,
				     .flags = DMABUFD_ALLOC_CONTIGUOUS,
				     .contiguous_from_device = true };
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), -EOPNOTSUPP);
	assert_string_equal(why.text, "the dma-heap backend cannot provide physically contiguous "
				 "memory (a named device has no IOMMU: no iommu_group)");
	rq.flags = 0;
	rq.attribute = DMABUFD_ATTR_UNCACHED;
	assert_int_equal(server_route(&s, &rq, idx, &n, &why), -EOPNOTSUPP);
	assert_string_equal(why.text, "the dma-heap backend cannot provide uncached memory");

	/* Two non-contiguous backends: the multi-backend wording. */
	{
		struct fake_backend *u = fake_new("udmabuf", false, CACHED_ONLY, 64 * MiB);
		const struct backend_caps *two[] = { &h->caps, &u->caps };

		route_server(&s, two, 2);
		rq = (struct route_request){ .size = MiB, .flags = DMABUFD_ALLOC_CONTIGUOUS,
					     .contiguous_from_device = true };
		assert_int_equal(server_route(&s, &rq, idx, &n, &why), -EOPNOTSUPP);
		assert_non_null(strstr(why.text, "no active backend"));
		assert_non_null(strstr(why.text, "no iommu_group"));
		free(u);
	}
	free(k);
	free(h);
}

/* ---- the real server, two fake backends ------------------------------------ */

static char root[] = "/tmp/test_multi_backend.XXXXXX";

/* A fake DRM card node without IOMMU under @root (as test_probe does). */
static bool fake_device_tree(void)
{
	char p[512], t[512];

	snprintf(p, sizeof(p), "%s/dev", root);
	if (mkdir(p, 0755) < 0)
		return false;
	snprintf(p, sizeof(p), "%s/dev/dri", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dev/dri/card0", root);
	if (mknod(p, S_IFCHR | 0600, makedev(226, 0)) < 0)
		return false; /* not root: skip the device case */
	snprintf(p, sizeof(p), "%s/sys", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/devices", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/devices/platform", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/devices/platform/vgem", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/dev", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/dev/char", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/dev/char/226:0", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sys/dev/char/226:0/device", root);
	snprintf(t, sizeof(t), "%s/sys/devices/platform/vgem", root);
	return symlink(t, p) == 0;
}

static int failures;

#define EXPECT(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "child: FAILED %s: ", #cond);          \
			fprintf(stderr, __VA_ARGS__);                          \
			fprintf(stderr, "\n");                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

/* The backend List names for buffer @id. */
static const char *backend_of(struct dmabufd_client *c, uint64_t id, char *buf, size_t size)
{
	struct dmabufd_buffer_info *rows = NULL;
	size_t n = 0;

	snprintf(buf, size, "?");
	if (dmabufd_list(c, &rows, &n) < 0)
		return buf;
	for (size_t i = 0; i < n; i++)
		if (rows[i].id == id)
			snprintf(buf, size, "%s", rows[i].backend);
	dmabufd_list_free(rows);
	return buf;
}

/* The client's side: the socket path and whether the fake device tree exists. */
struct child_args {
	const char *sock;
	bool devices;
};

static int child(void *arg)
{
	const char *sock = ((const struct child_args *)arg)->sock;
	bool devices = ((const struct child_args *)arg)->devices;
	struct dmabufd_client *c = NULL;
	struct dmabufd_buffer b[8];
	struct dmabufd_stats st;
	struct dmabufd_info info;
	char name[32];
	int r;

	for (int i = 0; i < 100 && (r = dmabufd_connect(sock, &c)) < 0; i++)
		usleep(20000);
	if (!c)
		return 100;
	EXPECT(dmabufd_get_info(c, &info) == 0, "hello");
	EXPECT(strcmp(info.backend, "kmod") == 0, "hello names the first: %s", info.backend);
	EXPECT(info.region_size == 68 * MiB, "hello capacity is the sum: %llu",
	       (unsigned long long)info.region_size);
	EXPECT(info.contiguous, "some backend is contiguous");

	/* 1 MiB contiguous, cached, write-combine: all three on "kmod". */
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS, "contig", &b[0]);
	EXPECT(r == 0, "contiguous alloc: %d", r);
	EXPECT(strcmp(backend_of(c, b[0].id, name, sizeof(name)), "kmod") == 0, "%s", name);
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_CACHED, 0, "plain", &b[1]);
	EXPECT(r == 0, "plain alloc: %d", r);
	EXPECT(strcmp(backend_of(c, b[1].id, name, sizeof(name)), "kmod") == 0,
	       "plain cached goes to the first that satisfies it: %s", name);
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_WRITECOMBINE, 0, "wc", &b[2]);
	EXPECT(r == 0, "wc alloc: %d", r);
	EXPECT(strcmp(backend_of(c, b[2].id, name, sizeof(name)), "kmod") == 0, "%s", name);
	/* Larger than kmod's capacity: routed to dma-heap directly. */
	r = dmabufd_alloc(c, 8 * MiB, 0, DMABUFD_ATTR_CACHED, 0, "big", &b[3]);
	EXPECT(r == 0, "big alloc: %d", r);
	EXPECT(strcmp(backend_of(c, b[3].id, name, sizeof(name)), "dma-heap") == 0, "%s", name);
	/* kmod has 1 MiB left: a plain 2 MiB falls through to dma-heap ... */
	r = dmabufd_alloc(c, 2 * MiB, 0, DMABUFD_ATTR_CACHED, 0, "fell", &b[4]);
	EXPECT(r == 0, "fall-through alloc: %d", r);
	EXPECT(strcmp(backend_of(c, b[4].id, name, sizeof(name)), "dma-heap") == 0, "%s", name);
	/* ... a contiguous or write-combine one never does. */
	r = dmabufd_alloc(c, 2 * MiB, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS, "x", &b[5]);
	EXPECT(r == -ENOSPC, "contiguous 2 MiB with 1 MiB left: %d", r);
	r = dmabufd_alloc(c, 2 * MiB, 0, DMABUFD_ATTR_WRITECOMBINE, 0, "x", &b[5]);
	EXPECT(r == -ENOSPC, "wc 2 MiB with 1 MiB left: %d (%s)", r, dmabufd_last_reason(c));
	r = dmabufd_alloc(c, 64 * MiB, 0, DMABUFD_ATTR_WRITECOMBINE, 0, "x", &b[5]);
	EXPECT(r == -E2BIG, "wc 64 MiB exceeds every wc backend: %d (%s)", r,
	       dmabufd_last_reason(c));
	/* A device without IOMMU: contiguous, so kmod. */
	if (devices) {
		const char *dev[] = { "/dev/dri/card0" };

		r = dmabufd_alloc_devices(c, 512 << 10, 0, DMABUFD_ATTR_CACHED, 0, "vgem", dev, 1,
					  &b[5]);
		EXPECT(r == 0, "device alloc: %d (%s)", r, dmabufd_last_reason(c));
		EXPECT(strcmp(backend_of(c, b[5].id, name, sizeof(name)), "kmod") == 0, "%s", name);
	}

	r = dmabufd_stats(c, &st);
	EXPECT(r == 0, "stats: %d", r);
	EXPECT(st.num_backends == 2, "two active backends: %u", st.num_backends);
	EXPECT(strcmp(st.backends[0].name, "kmod") == 0 &&
	       strcmp(st.backends[1].name, "dma-heap") == 0, "order");
	EXPECT(st.backends[0].buffers == (devices ? 4u : 3u), "kmod buffers %u",
	       st.backends[0].buffers);
	EXPECT(st.backends[0].used == (devices ? 3 * MiB + (512 << 10) : 3 * MiB), "kmod used %llu",
	       (unsigned long long)st.backends[0].used);
	EXPECT(st.backends[0].free_pages * st.backends[0].page_size ==
	       st.backends[0].capacity - st.backends[0].used, "kmod free");
	EXPECT(st.backends[1].buffers == 2 && st.backends[1].used == 10 * MiB, "dma-heap %u %llu",
	       st.backends[1].buffers, (unsigned long long)st.backends[1].used);
	EXPECT(st.backends[1].fallthroughs == 1, "one fall-through: %llu",
	       (unsigned long long)st.backends[1].fallthroughs);
	EXPECT(st.capacity == 68 * MiB, "capacity sum");
	EXPECT(st.used == st.backends[0].used + st.backends[1].used, "used sum");

	/* Releases go back to the right region: kmod has room again. */
	EXPECT(dmabufd_release(c, b[1].id) == 0, "release");
	EXPECT(dmabufd_release(c, b[4].id) == 0, "release");
	r = dmabufd_alloc(c, MiB, 0, DMABUFD_ATTR_CACHED, DMABUFD_ALLOC_CONTIGUOUS, "again", &b[6]);
	EXPECT(r == 0, "contiguous after release: %d", r);
	EXPECT(strcmp(backend_of(c, b[6].id, name, sizeof(name)), "kmod") == 0, "%s", name);
	for (int i = 0; i < 7; i++)
		if (b[i].fd >= 0 && i != 5)
			close(b[i].fd);
	dmabufd_disconnect(c); /* the rest is released at disconnect */
	return failures ? 1 : 0;
}

static void test_server_two_backends(void **state)
{
	struct event_base *base = event_base_new();
	struct fake_backend *k = fake_new("kmod", true, ALL_ATTRS, 4 * MiB);
	struct fake_backend *h = fake_new("dma-heap", false, CACHED_ONLY, 64 * MiB);
	struct dmabufd_region_stats rs;
	char sock[600];
	bool devices;
	struct server s;

	assert_non_null(mkdtemp(root));
	devices = fake_device_tree();
	probe_set_test_root(root);
	snprintf(sock, sizeof(sock), "%s/sock", root);
	assert_non_null(base);
	assert_int_equal(server_init(&s, base, &k->base, NULL), 0);
	assert_int_equal(server_add_backend(&s, &h->base), 0);
	assert_int_equal(s.nbackends, 2);
	assert_int_equal(s.limits.max_alloc, 64 * MiB); /* the largest capacity */
	assert_int_equal(server_listen_path(&s, sock, 0600), 0);
	fake_serve_child(base, child, &(struct child_args){ sock, devices });
	/* The child's disconnect is read on the next turn of the loop. */
	for (int i = 0; i < 50 && s.registry.count; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(s.registry.count, 0);
	assert_int_equal(s.used, 0);
	/* Each backend made and released its own buffers; both regions empty. */
	assert_int_equal(k->made, devices ? 5 : 4);
	assert_int_equal(k->releases, k->made);
	assert_int_equal(h->made, 2);
	assert_int_equal(h->releases, 2);
	dmabufd_region_stats(s.backends[0].region, &rs);
	assert_int_equal(rs.free_pages, 4 * MiB / 4096);
	dmabufd_region_stats(s.backends[1].region, &rs);
	assert_int_equal(rs.free_pages, 64 * MiB / 4096);
	server_finish(&s);
	event_base_free(base);
	probe_set_test_root(NULL);
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_server_two_backends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
