/* SPDX-License-Identifier: MIT */
/*
 * AllocFramebuffer end to end: libdmabufd → real daemon → layout in the
 * reply, one fd holding every plane, planes writable through mmap, and the
 * refusals for bad requests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include "dmabufd/dmabufd.h"
#include "dmabufd/framebuffer.h"
#include "fb_layout.h"
#include "harness.h"

static struct daemon_proc d;
static struct dmabufd_client *client;

static int setup(void **state)
{
	if (daemon_start(&d, NULL) < 0)
		return -1;
	return dmabufd_connect(d.socket, &client);
}

static int teardown(void **state)
{
	dmabufd_disconnect(client);
	return daemon_stop(&d) == 0 ? 0 : -1;
}

/* The reply's layout is what the layout engine computes for the request. */
static void check_alloc(uint32_t w, uint32_t h, uint32_t fourcc, uint32_t usage)
{
	const struct fb_layout_request lr = { w, h, fourcc, DRM_FORMAT_MOD_LINEAR, usage };
	struct dmabufd_framebuffer fb;
	struct fb_layout want;
	struct stat st;
	uint8_t *map;

	assert_int_equal(fb_layout_compute(&lr, NULL, &want), 0);
	assert_int_equal(dmabufd_alloc_framebuffer(client, w, h, fourcc, DRM_FORMAT_MOD_LINEAR,
						   usage, DMABUFD_ATTR_CACHED, 0, "fb-test", &fb), 0);
	assert_int_equal(fb.width, w);
	assert_int_equal(fb.height, h);
	assert_int_equal(fb.fourcc, fourcc);
	assert_int_equal(fb.num_planes, want.num_planes);
	for (uint32_t i = 0; i < want.num_planes; i++) {
		assert_int_equal(fb.offsets[i], want.offsets[i]);
		assert_int_equal(fb.pitches[i], want.pitches[i]);
		assert_int_equal(fb.sizes[i], want.sizes[i]);
	}
	assert_int_equal(fstat(fb.fd, &st), 0);
	assert_true((uint64_t)st.st_size >= fb.size);

	/* Every plane is writable and keeps what was written. */
	assert_int_equal(dmabufd_cpu_access_begin(fb.fd, DMABUFD_CPU_WRITE), 0);
	map = mmap(NULL, fb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fb.fd, 0);
	assert_true(map != MAP_FAILED);
	for (uint32_t i = 0; i < fb.num_planes; i++)
		memset(map + fb.offsets[i], 0x10 + (int)i, fb.sizes[i]);
	assert_int_equal(dmabufd_cpu_access_end(fb.fd, DMABUFD_CPU_WRITE), 0);
	for (uint32_t i = 0; i < fb.num_planes; i++) {
		assert_int_equal(map[fb.offsets[i]], 0x10 + i);
		assert_int_equal(map[fb.offsets[i] + fb.sizes[i] - 1], 0x10 + i);
	}
	munmap(map, fb.size);
	close(fb.fd);
	assert_int_equal(dmabufd_release(client, fb.id), 0);
}

static void test_layouts(void **state)
{
	check_alloc(1920, 1080, DRM_FORMAT_XRGB8888, DMABUFD_USAGE_SCANOUT);
	check_alloc(3840, 2160, DRM_FORMAT_NV12, DMABUFD_USAGE_VIDEO_DECODE);
	check_alloc(1921, 1081, DRM_FORMAT_YUV420, DMABUFD_USAGE_CPU_WRITE);
	check_alloc(640, 480, DRM_FORMAT_P010, DMABUFD_USAGE_RENDER | DMABUFD_USAGE_SCANOUT);
	check_alloc(3, 3, DRM_FORMAT_YUYV, DMABUFD_USAGE_TEXTURE);
}

static void test_listed_with_label(void **state)
{
	struct dmabufd_framebuffer fb;
	struct dmabufd_buffer_info *list;
	size_t n;
	int found = 0;

	assert_int_equal(dmabufd_alloc_framebuffer(client, 64, 64, DRM_FORMAT_ARGB8888,
						   DRM_FORMAT_MOD_LINEAR, DMABUFD_USAGE_SCANOUT,
						   DMABUFD_ATTR_CACHED, 0, "cursor", &fb), 0);
	assert_int_equal(dmabufd_list(client, &list, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (list[i].id == fb.id) {
			assert_string_equal(list[i].label, "cursor");
			assert_int_equal(list[i].size, fb.size);
			assert_int_equal(list[i].owner_pid, getpid());
			found++;
		}
	assert_int_equal(found, 1);
	dmabufd_list_free(list);
	close(fb.fd);
	assert_int_equal(dmabufd_release(client, fb.id), 0);
}

static void expect_refusal(uint32_t w, uint32_t h, uint32_t fourcc, uint64_t modifier,
			   uint32_t usage, enum dmabufd_attribute attr, int error)
{
	struct dmabufd_framebuffer fb;

	memset(&fb, 0xa5, sizeof(fb));
	assert_int_equal(dmabufd_alloc_framebuffer(client, w, h, fourcc, modifier, usage, attr, 0,
						   NULL, &fb), error);
	/* ret untouched on failure */
	assert_int_equal(fb.fd, (int)0xa5a5a5a5);
}

/* A write-combined 1920x1080 XRGB8888 scanout buffer: served, maps, keeps
 * what is written, released. */
static void expect_writecombine_scanout(void)
{
	struct dmabufd_framebuffer fb;
	uint8_t *map;

	assert_int_equal(dmabufd_alloc_framebuffer(client, 1920, 1080, DRM_FORMAT_XRGB8888,
						   DRM_FORMAT_MOD_LINEAR, DMABUFD_USAGE_SCANOUT,
						   DMABUFD_ATTR_WRITECOMBINE, 0, "fb-wc", &fb), 0);
	assert_int_equal(fb.num_planes, 1);
	assert_true(fb.pitches[0] >= 1920 * 4);
	map = mmap(NULL, fb.size, PROT_READ | PROT_WRITE, MAP_SHARED, fb.fd, 0);
	assert_true(map != MAP_FAILED);
	memset(map + fb.offsets[0], 0x5a, fb.sizes[0]);
	assert_int_equal(map[fb.offsets[0] + fb.sizes[0] - 1], 0x5a);
	munmap(map, fb.size);
	close(fb.fd);
	assert_int_equal(dmabufd_release(client, fb.id), 0);
}

static void test_refusals(void **state)
{
	struct dmabufd_info info;
	struct dmabufd_stats st;

	assert_int_equal(dmabufd_get_info(client, &info), 0);
	/* unknown fourcc */
	expect_refusal(64, 64, fourcc_code('Z', 'Z', 'Z', 'Z'), DRM_FORMAT_MOD_LINEAR,
		       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_CACHED, -EINVAL);
	assert_non_null(strstr(dmabufd_last_reason(client), "not supported"));
	/* a tiled modifier no backend declares */
	expect_refusal(64, 64, DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_X_TILED,
		       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_CACHED, -EOPNOTSUPP);
	assert_non_null(strstr(dmabufd_last_reason(client), "modifier"));
	/* too large (1.6 GB: more than any backend here allows in one
	 * Alloc), and "negative" sizes cast to unsigned */
	assert_true(20000ull * 20000 * 4 > info.max_alloc);
	expect_refusal(20000, 20000, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_CACHED, -E2BIG);
	expect_refusal((uint32_t)-1, 16, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_CACHED, -EINVAL);
	/* zero sizes and no usage are refused before sending */
	expect_refusal(0, 16, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_CACHED, -EINVAL);
	expect_refusal(16, 16, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR, 0,
		       DMABUFD_ATTR_CACHED, -EINVAL);
	/* video decode of an RGB format cannot be met */
	expect_refusal(64, 64, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
		       DMABUFD_USAGE_VIDEO_DECODE, DMABUFD_ATTR_CACHED, -EOPNOTSUPP);
	/* write-combine: refused where the backend has none (memfd), a
	 * writable scanout buffer where it has (kmod) */
	if (info.attributes & (1u << DMABUFD_ATTR_WRITECOMBINE))
		expect_writecombine_scanout();
	else
		expect_refusal(1920, 1080, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR,
			       DMABUFD_USAGE_SCANOUT, DMABUFD_ATTR_WRITECOMBINE, -EOPNOTSUPP);
	/* nothing of it stayed allocated */
	assert_int_equal(dmabufd_stats(client, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.buffers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_listed_with_label),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
