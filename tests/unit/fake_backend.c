/* SPDX-License-Identifier: MIT */
/* A fake backend over memfds for the unit tests (fake_backend.h). */
#include "fake_backend.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "registry.h"

static struct fake_backend *to_fake(struct backend *b)
{
	return (struct fake_backend *)b; /* base is the first member */
}

static void fake_destroy(struct backend *b)
{
	free(to_fake(b));
}

static void fake_get_caps(struct backend *b, struct backend_caps *ret)
{
	*ret = to_fake(b)->caps;
}

static int fake_alloc(struct backend *b, const struct backend_alloc *req, int *ret_fd,
		      const char **ret_reason)
{
	int fd = memfd_create("fake", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)req->size) < 0) {
		close(fd);
		*ret_reason = "ftruncate failed";
		return -ENOMEM;
	}
	atomic_fetch_add(&to_fake(b)->made, 1);
	*ret_fd = fd;
	return 0;
}

/* alloc() itself: a memfd records nothing in the backend. */
static int fake_prepare(struct backend *b, const struct backend_alloc *req, int *ret_fd,
			uint64_t *ret_handle, const char **ret_reason)
{
	atomic_fetch_add(&to_fake(b)->nprepared, 1);
	*ret_handle = 0;
	return fake_alloc(b, req, ret_fd, ret_reason);
}

static int fake_commit(struct backend *b, const struct backend_alloc *req, int fd,
		       uint64_t handle)
{
	return 0;
}

static void fake_release(struct backend *b, struct buffer *buf)
{
	atomic_fetch_add(&to_fake(b)->releases, 1);
	if (buf->fd >= 0)
		close(buf->fd);
	buf->fd = -1;
}

static int fake_migrate(struct backend *b, struct buffer *buf, uint64_t new_offset)
{
	return 0;
}

struct fake_backend *fake_backend_new(const struct fake_backend_options *opts)
{
	struct fake_backend *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ops = (struct backend_ops){
		.name = "fake",
		.destroy = fake_destroy,
		.get_caps = fake_get_caps,
		.alloc = fake_alloc,
		.release = fake_release,
	};
	if (opts->placed_pool_budget) {
		f->ops.prepare = fake_prepare;
		f->ops.commit = fake_commit;
	}
	if (opts->migration)
		f->ops.migrate = fake_migrate;
	f->base.ops = &f->ops;
	f->caps = (struct backend_caps){
		.name = opts->name ? opts->name : "fake",
		.attributes = opts->attributes,
		.contiguous = opts->contiguous,
		.migration = opts->migration,
		.dmabuf = true,
		.region_size = opts->region_size,
		.page_size = 4096,
		.placed_pool_budget = opts->placed_pool_budget,
	};
	return f;
}

static void on_child(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

void fake_serve_child(struct event_base *base, int (*child)(void *arg), void *arg)
{
	struct event *ev;
	int status = -1;
	pid_t pid;

	signal(SIGCHLD, SIG_DFL);
	ev = evsignal_new(base, SIGCHLD, on_child, base);
	assert_non_null(ev);
	assert_int_equal(evsignal_add(ev, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(arg));
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	event_free(ev);
}
