/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xvfb.h"

bool xvfb_available(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/Xvfb", (int)n, path);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

int xvfb_start(struct xvfb *x, const char *screen, const char *const *extra)
{
	const char *argv[32];
	char fdarg[16], num[16];
	size_t n = 0, got = 0;
	int p[2], logfd;
	pid_t pid;

	static int serial;

	snprintf(x->log, sizeof(x->log), "/tmp/dmabufd-xvfb-%d-%d.log", (int)getpid(), serial++);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	snprintf(fdarg, sizeof(fdarg), "%d", 3);
	argv[n++] = "Xvfb";
	argv[n++] = "-displayfd";
	argv[n++] = fdarg;
	argv[n++] = "-nolisten";
	argv[n++] = "tcp";
	argv[n++] = "-noreset";
	argv[n++] = "-screen";
	argv[n++] = "0";
	argv[n++] = screen;
	for (size_t i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		/* The display number arrives on fd 3, the log on stderr. */
		dup2(p[1], 3);
		logfd = open(x->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (logfd >= 0) {
			dup2(logfd, 2);
			dup2(logfd, 1);
		}
		execvp("Xvfb", (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (got < sizeof(num) - 1) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		r = read(p[0], num + got, sizeof(num) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(num, '\n', got))
			break;
	}
	close(p[0]);
	num[got] = '\0';
	if (got == 0 || !memchr(num, '\n', got)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fprintf(stderr, "xvfb: Xvfb did not report a display (log %s)\n", x->log);
		return -ETIMEDOUT;
	}
	num[strcspn(num, "\n")] = '\0';
	snprintf(x->display, sizeof(x->display), ":%s", num);
	x->pid = pid;
	return 0;
}

int xvfb_stop(struct xvfb *x)
{
	int status;

	if (x->pid <= 0)
		return -1;
	kill(x->pid, SIGTERM);
	if (waitpid(x->pid, &status, 0) < 0)
		return -1;
	x->pid = 0;
	unlink(x->log);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int maps_count(pid_t pid, dev_t dev, ino_t ino, bool *ret_writable)
{
	char path[64], line[512];
	bool writable = false;
	int count = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char perms[8];
		unsigned int maj, min;
		unsigned long long off, inode;

		if (sscanf(line, "%*x-%*x %7s %llx %x:%x %llu", perms, &off, &maj, &min, &inode) != 5)
			continue;
		if (inode != (unsigned long long)ino || maj != major(dev) || min != minor(dev))
			continue;
		count++;
		if (perms[1] == 'w')
			writable = true;
	}
	fclose(f);
	if (ret_writable)
		*ret_writable = writable;
	return count;
}
