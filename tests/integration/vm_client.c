/* SPDX-License-Identifier: MIT */
/*
 * A tiny client for the VM test (vm_systemd.sh), on the raw protocol:
 *   vm_client stats SOCKET
 *       prints "used=<bytes> buffers=<n> orphaned=<n> clients=<n>"
 *   vm_client hold SOCKET SIZE
 *       allocates SIZE bytes, fills them with 0xa5, prints "held <id>" and
 *       keeps the fd. On SIGUSR1 it checks the contents and connects again
 *       (claiming its orphaned buffer after a daemon restart), printing
 *       "claimed ok|corrupt used=... orphaned=..."; SIGTERM exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

static volatile sig_atomic_t got_usr1, got_term;

static void on_sig(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

static int print_stats(int sock, const char *prefix)
{
	Dmabufd__Reply *r = raw_stats(sock, 9);

	if (!r || r->error || r->body_case != DMABUFD__REPLY__BODY_STATS) {
		printf("%sstats failed\n", prefix);
		return 1;
	}
	printf("%sused=%llu buffers=%u orphaned=%u clients=%u\n", prefix,
	       (unsigned long long)r->stats->used, r->stats->buffers,
	       r->stats->orphaned_buffers, r->stats->clients);
	dmabufd__reply__free_unpacked(r, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	Dmabufd__Reply *r;
	unsigned char *p;
	unsigned long long size;
	int sock, fd = -1, sock2 = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3)
		return 2;
	sock = raw_connect_hello(argv[2]);
	if (sock < 0) {
		printf("connect failed: %s\n", strerror(-sock));
		return 1;
	}
	if (strcmp(argv[1], "stats") == 0)
		return print_stats(sock, "");
	if (strcmp(argv[1], "hold") != 0 || argc < 4)
		return 2;
	size = strtoull(argv[3], NULL, 0);
	r = raw_alloc(sock, 2, size, DMABUFD__ATTRIBUTE__ATTRIBUTE_CACHED, 0, "vmtest", &fd);
	if (!r || r->error || fd < 0) {
		printf("alloc failed\n");
		return 1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	memset(p, 0xa5, size);
	printf("held %llu\n", (unsigned long long)r->alloc->buffer_id);
	dmabufd__reply__free_unpacked(r, NULL);
	signal(SIGUSR1, on_sig);
	signal(SIGTERM, on_sig);
	while (!got_term) {
		pause();
		if (got_usr1) {
			bool ok = true;

			got_usr1 = 0;
			for (unsigned long long i = 0; i < size; i++)
				ok &= p[i] == 0xa5;
			if (sock2 >= 0)
				close(sock2);
			sock2 = raw_connect_hello(argv[2]);
			if (sock2 < 0) {
				printf("claimed reconnect-failed\n");
				continue;
			}
			print_stats(sock2, ok ? "claimed ok " : "claimed corrupt ");
		}
	}
	return 0;
}
