// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sldrill: how long until the data path stops admitting new flows to a
 * backend after a failure is injected.
 *
 *   sldrill PIN_ROOT BACKEND_ID TIMEOUT_MS -- CMD [ARG...]
 *
 * Runs CMD (the injection: kill a server, add a drop rule), taking
 * CLOCK_MONOTONIC just before, then polls the pinned sl_backend entry every
 * millisecond until its breaker gate is no longer CLOSED. Prints
 * "detect_ms N gate G" (N from the injection to the gate change), or
 * "detect_ms - gate closed" and exits 1 after TIMEOUT_MS. The gate is what
 * new flows meet, so N includes everything: the signal, the daemon's
 * reaction and the map write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <sluice/maps.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	static const char *const gates[] = { "closed", "open", "half_open", "draining" };
	struct sl_backend bk;
	char path[512];
	double t0, limit;
	__u32 id;
	pid_t pid;
	int fd, st;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: sldrill PIN_ROOT BACKEND_ID TIMEOUT_MS -- CMD [ARG...]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/sl_backend", argv[1]);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "sldrill: %s: %s\n", path, strerror(errno));
		return 2;
	}
	id = strtoul(argv[2], NULL, 10);
	limit = strtod(argv[3], NULL);
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "sldrill: %s failed\n", argv[5]);
		return 2;
	}
	while (now_ms() - t0 < limit) {
		if (!bpf_map_lookup_elem(fd, &id, &bk) && bk.breaker != SL_BRK_CLOSED) {
			printf("detect_ms %.1f gate %s\n", now_ms() - t0,
			       bk.breaker < 4 ? gates[bk.breaker] : "?");
			return 0;
		}
		usleep(1000);
	}
	printf("detect_ms - gate closed\n");
	return 1;
}
