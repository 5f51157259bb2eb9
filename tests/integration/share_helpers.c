/* SPDX-License-Identifier: MIT */
#include "share_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void require_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "not root: the sharing tests run clients as other uids; skipped\n");
		exit(77);
	}
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int write_conf(const char *path, const char *conf_text)
{
	char tmp[160];
	FILE *f;

	/* Write a new file and rename it, as an administrator's editor would. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fputs(conf_text, f);
	if (fclose(f) != 0)
		return -errno;
	return rename(tmp, path) < 0 ? -errno : 0;
}

int daemon_start_conf(struct daemon_proc *d, const char *conf_text, const char *const *extra_args,
		      char conf_path[128])
{
	const char *args[24];
	size_t n = 0;
	int fd, err;

	snprintf(conf_path, 128, "/tmp/dmabufd-conf-XXXXXX");
	fd = mkstemp(conf_path);
	if (fd < 0)
		return -errno;
	close(fd);
	err = write_conf(conf_path, conf_text);
	if (err < 0)
		return err;
	args[n++] = "--config";
	args[n++] = conf_path;
	args[n++] = "--socket-mode";
	args[n++] = "0666";
	for (; extra_args && *extra_args && n < 22; extra_args++)
		args[n++] = *extra_args;
	args[n] = NULL;
	err = daemon_start(d, args);
	if (err < 0) {
		unlink(conf_path);
		return err;
	}
	/* mkdtemp made it 0700: let the test's other uids reach the socket. */
	if (chmod(d->dir, 0755) < 0)
		return -errno;
	return 0;
}

int daemon_stop_conf(struct daemon_proc *d, const char *conf_path)
{
	int ret = daemon_stop(d);

	unlink(conf_path);
	return ret;
}

pid_t spawn_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *),
	       void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;
	if (setgroups(ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		perror("dropping privileges");
		_exit(250);
	}
	_exit(fn(arg));
}

int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 1000 + WTERMSIG(status);
}

int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, int (*fn)(void *), void *arg)
{
	pid_t pid = spawn_as(uid, gid, groups, ngroups, fn, arg);

	return pid < 0 ? (int)pid : wait_child(pid);
}

static Dmabufd__Reply *roundtrip(int sock, Dmabufd__Request *req, int *ret_fd)
{
	if (raw_send(sock, req, NULL, 0) < 0)
		return NULL;
	return raw_recv(sock, 5000, ret_fd);
}

Dmabufd__Reply *raw_share(int sock, uint64_t id, uint64_t buffer_id, const uint32_t *uids,
			  size_t nuids, const uint32_t *gids, size_t ngids, const int32_t *pids,
			  size_t npids, bool single_use, uint32_t expiry_sec)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Share sh = DMABUFD__SHARE__INIT;

	sh.buffer_id = buffer_id;
	sh.uids = (uint32_t *)uids;
	sh.n_uids = nuids;
	sh.gids = (uint32_t *)gids;
	sh.n_gids = ngids;
	sh.pids = (int32_t *)pids;
	sh.n_pids = npids;
	sh.single_use = single_use;
	sh.expiry_sec = expiry_sec;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_SHARE;
	req.share = &sh;
	return roundtrip(sock, &req, NULL);
}

Dmabufd__Reply *raw_import(int sock, uint64_t id, const uint8_t *token, size_t len, int *ret_fd)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Import im = DMABUFD__IMPORT__INIT;

	im.token.data = (uint8_t *)token;
	im.token.len = len;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_IMPORT;
	req.import = &im;
	return roundtrip(sock, &req, ret_fd);
}

Dmabufd__Reply *raw_unshare(int sock, uint64_t id, const uint8_t *token, size_t len)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Unshare un = DMABUFD__UNSHARE__INIT;

	un.token.data = (uint8_t *)token;
	un.token.len = len;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_UNSHARE;
	req.unshare = &un;
	return roundtrip(sock, &req, NULL);
}

Dmabufd__Reply *raw_revoke(int sock, uint64_t id, uint64_t buffer_id)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Revoke rv = DMABUFD__REVOKE__INIT;

	rv.buffer_id = buffer_id;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_REVOKE;
	req.revoke = &rv;
	return roundtrip(sock, &req, NULL);
}

Dmabufd__Reply *raw_list(int sock, uint64_t id, uint64_t start_after)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__List l = DMABUFD__LIST__INIT;

	l.start_after = start_after;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_LIST;
	req.list = &l;
	return roundtrip(sock, &req, NULL);
}

Dmabufd__Reply *raw_accounting(int sock, uint64_t id, int kind, uint64_t start_after)
{
	Dmabufd__Request req = DMABUFD__REQUEST__INIT;
	Dmabufd__Accounting u = DMABUFD__ACCOUNTING__INIT;

	u.kind = (Dmabufd__AccountingKind)kind;
	u.start_after = start_after;
	req.id = id;
	req.body_case = DMABUFD__REQUEST__BODY_ACCOUNTING;
	req.accounting = &u;
	return roundtrip(sock, &req, NULL);
}

int reply_errno(Dmabufd__Reply *r)
{
	int e;

	if (!r)
		return INT32_MIN;
	e = r->error;
	if (e)
		fprintf(stderr, "  (daemon: %d %s: \"%s\")\n", e, strerror(-e), r->reason);
	dmabufd__reply__free_unpacked(r, NULL);
	return e;
}

int connect_as_client(const char *path)
{
	return raw_connect_hello(path);
}

int connect_expect_refusal(const char *path, char *reason, size_t reason_len)
{
	int sock = raw_connect(path), err;
	Dmabufd__Reply *r;

	if (sock < 0)
		return sock;
	/* A refused peer gets one Reply (id 0) and then EOF. */
	r = raw_recv(sock, 2000, NULL);
	if (!r) {
		close(sock);
		return 0;
	}
	err = r->error;
	if (reason)
		snprintf(reason, reason_len, "%s", r->reason ? r->reason : "");
	dmabufd__reply__free_unpacked(r, NULL);
	if (err && !raw_wait_closed(sock, 2000))
		err = -EISCONN; /* refused but not disconnected */
	close(sock);
	return err;
}

Dmabufd__Reply *wait_stats(const char *path, bool (*pred)(const Dmabufd__StatsReply *))
{
	Dmabufd__Reply *r = NULL;

	for (int i = 0; i < 100; i++) {
		int sock = raw_connect_hello(path);

		if (sock < 0)
			return NULL;
		r = raw_stats(sock, 99);
		close(sock);
		if (r && r->stats && pred(r->stats))
			return r;
		if (r)
			dmabufd__reply__free_unpacked(r, NULL);
		r = NULL;
		sleep_ms(50);
	}
	return NULL;
}
