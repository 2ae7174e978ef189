// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sldrill: how long until a gateway stops admitting new flows to a backend
 * after a failure is injected.
 *
 *   sldrill PIN_ROOT BACKEND_ID TIMEOUT_MS -- CMD [ARG...]
 *   sldrill --haproxy SOCKET PROXY/SERVER TIMEOUT_MS -- CMD [ARG...]
 *
 * Runs CMD (the injection: kill a server, add a drop rule), taking
 * CLOCK_MONOTONIC just before, then polls every millisecond until the
 * gateway has taken the backend out, and prints "detect_ms N state S" (N
 * from the injection to the change), or "detect_ms - state S" and exits 1
 * after TIMEOUT_MS.
 *   sluice: the pinned sl_backend entry's breaker gate is no longer CLOSED.
 *     The gate is what new flows meet, so N includes everything: the
 *     signal, the daemon's reaction and the map write.
 *   HAProxy: the server's status in "show stat" on the stats SOCKET no
 *     longer starts with "UP" (its checks or observe layer4 marked it
 *     DOWN): from then on HAProxy sends it no new sessions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <sluice/maps.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The probes: 1 when the backend is out (state says how), 0 while it is
 * in, -1 on an error (said on stderr). */
static int sluice_out(int fd, __u32 id, char *state, size_t len)
{
	static const char *const gates[] = { "closed", "open", "half_open", "draining" };
	struct sl_backend bk;

	if (bpf_map_lookup_elem(fd, &id, &bk)) {
		fprintf(stderr, "sldrill: backend %u: %s\n", id, strerror(errno));
		return -1;
	}
	snprintf(state, len, "%s", bk.breaker < 4 ? gates[bk.breaker] : "?");
	return bk.breaker != SL_BRK_CLOSED;
}

/* "show stat" over the stats socket; the 18th CSV field of the line
 * "PROXY,SERVER,..." is the server's status */
static int haproxy_out(const char *sock, const char *pxsv, char *state, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[1 << 16];
	size_t n = 0, plen = strlen(pxsv);
	char *line, *f;
	ssize_t r;
	int fd, i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, "show stat\n", 10) != 10) {
		fprintf(stderr, "sldrill: %s: %s\n", sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, pxsv, plen) || line[plen] != ',')
			continue;
		for (f = line, i = 1; f && i < 18; i++)
			f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
		if (!f)
			break;
		snprintf(state, len, "%.*s", (int)strcspn(f, ",\n"), f);
		return strncmp(state, "UP", 2) != 0;
	}
	fprintf(stderr, "sldrill: no line for %s in show stat\n", pxsv);
	return -1;
}

int main(int argc, char **argv)
{
	char path[512], state[64] = "?", pxsv[256];
	const char *sock = NULL;
	int haproxy, fd = -1, st, rc;
	double t0, limit;
	__u32 id = 0;
	pid_t pid;

	haproxy = argc > 1 && !strcmp(argv[1], "--haproxy");
	argv += haproxy;
	argc -= haproxy;
	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: sldrill PIN_ROOT BACKEND_ID TIMEOUT_MS -- CMD [ARG...]\n"
			"       sldrill --haproxy SOCKET PROXY/SERVER TIMEOUT_MS -- CMD [ARG...]\n");
		return 2;
	}
	if (haproxy) {
		sock = argv[1];
		snprintf(pxsv, sizeof(pxsv), "%s", argv[2]);
		if (!strchr(pxsv, '/')) {
			fprintf(stderr, "sldrill: %s: PROXY/SERVER expected\n", pxsv);
			return 2;
		}
		*strchr(pxsv, '/') = ',';
		if (haproxy_out(sock, pxsv, state, sizeof(state)))
			return 2;       /* out before the injection, or no answer */
	} else {
		snprintf(path, sizeof(path), "%s/sl_backend", argv[1]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			fprintf(stderr, "sldrill: %s: %s\n", path, strerror(errno));
			return 2;
		}
		id = strtoul(argv[2], NULL, 10);
	}
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
		rc = haproxy ? haproxy_out(sock, pxsv, state, sizeof(state)) :
			       sluice_out(fd, id, state, sizeof(state));
		if (rc < 0)
			return 2;
		if (rc) {
			printf("detect_ms %.1f state %s\n", now_ms() - t0, state);
			return 0;
		}
		usleep(1000);
	}
	printf("detect_ms - state %s\n", state);
	return 1;
}
