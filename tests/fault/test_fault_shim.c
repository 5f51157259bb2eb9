/* SPDX-License-Identifier: MIT */
/*
 * The fault-injection shim itself (tests/fault/faultinject.c), on calls the
 * memfd backend's Alloc path never makes (so test_fault_alloc cannot show
 * them here): fallocate, mmap, ioctl and fcntl, the last two with their
 * request/command in the log's and report's "detail" column.
 *
 * The test re-executes itself with LD_PRELOAD=faultinject.so (child mode,
 * argv[1] = "child"); the child arms the shim (SIGUSR1), makes one call of
 * each on a memfd, disarms it (SIGUSR2) and prints what each call returned.
 *   - counting run (DMABUFD_FAULT_LOG): every call passes, and the log holds
 *     one line per call with "-" or the request/command in hex;
 *   - for each function F: DMABUFD_FAULT_FUNC=F, DMABUFD_FAULT_NTH=1: F
 *     fails with the shim's default errno (fallocate EIO, mmap ENOMEM,
 *     ioctl ENOMEM, fcntl(F_GET_SEALS) EINVAL), the others pass, and the
 *     report names F, the errno, this executable and the detail.
 * Skipped (77) in sanitizer builds, like test_fault_alloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FAULTINJECT_SO
#error "FAULTINJECT_SO must name the shim"
#endif

#define NFUNCS 4

static const char *const funcs[NFUNCS] = { "fallocate", "mmap", "ioctl", "fcntl" };
static const int default_errno[NFUNCS] = { EIO, ENOMEM, ENOMEM, EINVAL };
static char tmpdir[64];
static int failures;

#define CHECK(cond, ...)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			failures++;                                                   \
		}                                                                     \
	} while (0)

/* The detail the shim must log for call i ("-" or the number in hex). */
static void want_detail(int i, char *buf, size_t size)
{
	if (i == 2)
		snprintf(buf, size, "0x%lx", (unsigned long)FIONREAD);
	else if (i == 3)
		snprintf(buf, size, "0x%lx", (unsigned long)F_GET_SEALS);
	else
		snprintf(buf, size, "-");
}

/* Child: one call of each, armed; prints "<errno or 0>" per call. */
static int child(void)
{
	int fd = memfd_create("shim", MFD_CLOEXEC | MFD_ALLOW_SEALING), n = 0, res[NFUNCS];
	void *p;

	if (fd < 0 || ftruncate(fd, 65536) < 0)
		return 2;
	raise(SIGUSR1);
	errno = 0;
	res[0] = fallocate(fd, 0, 0, 4096) < 0 ? errno : 0;
	errno = 0;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	res[1] = p == MAP_FAILED ? errno : 0;
	errno = 0;
	res[2] = ioctl(fd, FIONREAD, &n) < 0 ? errno : 0;
	errno = 0;
	res[3] = fcntl(fd, F_GET_SEALS) < 0 ? errno : 0;
	raise(SIGUSR2);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
	/* ioctl(FIONREAD) on a memfd is not a tty ioctl: ENOTTY when it passes. */
	if (res[2] == ENOTTY)
		res[2] = 0;
	printf("%d %d %d %d\n", res[0], res[1], res[2], res[3]);
	return 0;
}

/* Runs the child with the shim and @env (NULL-terminated "K=V"); fills @res. */
static bool run_child(const char *self, char *const env[], int res[NFUNCS])
{
	int pipefd[2], status;
	char out[128] = "";
	ssize_t len;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)self, "child", NULL };

		dup2(pipefd[1], 1);
		execve(self, argv, env);
		_exit(127);
	}
	close(pipefd[1]);
	len = read(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || len <= 0)
		return false;
	return sscanf(out, "%d %d %d %d", &res[0], &res[1], &res[2], &res[3]) == 4;
}

static void counting_run(const char *self)
{
	char log[128], logenv[160], line[512], func[32], obj[128], sym[128], detail[24];
	char want[24];
	char *env[] = { "LD_PRELOAD=" FAULTINJECT_SO, logenv, NULL };
	int res[NFUNCS], seen[NFUNCS] = { 0 };
	unsigned long n, prev = 0;
	FILE *f;

	snprintf(log, sizeof(log), "%s/calls", tmpdir);
	snprintf(logenv, sizeof(logenv), "DMABUFD_FAULT_LOG=%s", log);
	if (!run_child(self, env, res)) {
		CHECK(false, "counting run: the child failed");
		return;
	}
	for (int i = 0; i < NFUNCS; i++)
		CHECK(res[i] == 0, "counting run: %s failed (%s)", funcs[i], strerror(res[i]));
	f = fopen(log, "re");
	CHECK(f != NULL, "no log %s", log);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lu %31s %127s %127s %23s", &n, func, obj, sym, detail) != 5) {
			CHECK(false, "unparsable log line: %s", line);
			continue;
		}
		CHECK(n == prev + 1, "log sequence %lu after %lu", n, prev);
		prev = n;
		for (int i = 0; i < NFUNCS; i++) {
			if (strcmp(func, funcs[i]) != 0)
				continue;
			seen[i]++;
			want_detail(i, want, sizeof(want));
			CHECK(strcmp(detail, want) == 0, "%s logged detail %s, want %s", func,
			      detail, want);
			CHECK(strcmp(obj, "test_fault_shim") == 0, "%s logged caller object %s",
			      func, obj);
		}
	}
	fclose(f);
	unlink(log);
	for (int i = 0; i < NFUNCS; i++)
		CHECK(seen[i] == 1, "%s logged %d times, want once", funcs[i], seen[i]);
}

static void fail_run(const char *self, int k)
{
	char report[128], repenv[160], funcenv[64], func[32] = "", obj[128] = "", sym[128] = "";
	char detail[24] = "", want[24];
	char *env[] = { "LD_PRELOAD=" FAULTINJECT_SO, repenv, funcenv, "DMABUFD_FAULT_NTH=1",
			NULL };
	int res[NFUNCS], err = 0;
	FILE *f;

	snprintf(report, sizeof(report), "%s/report", tmpdir);
	snprintf(repenv, sizeof(repenv), "DMABUFD_FAULT_REPORT=%s", report);
	snprintf(funcenv, sizeof(funcenv), "DMABUFD_FAULT_FUNC=%s", funcs[k]);
	if (!run_child(self, env, res)) {
		CHECK(false, "failing %s: the child failed", funcs[k]);
		return;
	}
	for (int i = 0; i < NFUNCS; i++)
		CHECK(res[i] == (i == k ? default_errno[i] : 0), "failing %s: %s gave %d (%s)",
		      funcs[k], funcs[i], res[i], strerror(res[i]));
	f = fopen(report, "re");
	CHECK(f != NULL, "failing %s: no report", funcs[k]);
	if (!f)
		return;
	CHECK(fscanf(f, "%31s %d %127s %127s %23s", func, &err, obj, sym, detail) == 5,
	      "failing %s: unparsable report", funcs[k]);
	fclose(f);
	unlink(report);
	want_detail(k, want, sizeof(want));
	CHECK(strcmp(func, funcs[k]) == 0 && err == default_errno[k] &&
		      strcmp(obj, "test_fault_shim") == 0 && strcmp(detail, want) == 0,
	      "failing %s: report \"%s %d %s %s %s\", want %s %d test_fault_shim ... %s", funcs[k],
	      func, err, obj, sym, detail, funcs[k], default_errno[k], want);
	printf("%-9s failed with %s; report %s %d %s %s %s\n", funcs[k],
	       strerror(default_errno[k]), func, err, obj, sym, detail);
}

int main(int argc, char **argv)
{
	char self[4096];
	ssize_t len;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child();
#if defined(__SANITIZE_ADDRESS__)
	printf("skipped: the shim's malloc cannot coexist with AddressSanitizer's\n");
	return 77;
#endif
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 1;
	self[len] = '\0';
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dmabufd-shim-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	counting_run(self);
	for (int k = 0; k < NFUNCS; k++)
		fail_run(self, k);
	rmdir(tmpdir);
	printf("%s\n", failures ? "FAILED" : "all shim checks passed");
	return failures ? 1 : 0;
}
