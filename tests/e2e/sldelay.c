// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sldelay: hold every packet an NFQUEUE queue receives for a fixed time,
 * then let it go (the lab has no netem qdisc: this slows a backend's
 * answers instead).
 *
 *   sldelay QUEUE DELAY_MS
 *
 * Binds queue QUEUE of the current network namespace (libnetfilter_queue),
 * prints "sldelay: queue Q delay D ms" once bound, and from then on
 * accepts each packet DELAY_MS after it arrived, in order. SIGTERM or
 * SIGINT: accepts what it holds and exits 0. Use with, in the backend's
 * namespace:
 *   iptables -A OUTPUT -p tcp --sport 80 --tcp-flags SYN,ACK SYN,ACK \
 *            -j NFQUEUE --queue-num Q
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define HELD_MAX 65536

static struct { uint32_t id; int64_t due; } held[HELD_MAX];
static unsigned head, tail;             /* ring: [head, tail) */
static int64_t delay_ms;
static volatile sig_atomic_t stop;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);

	(void)msg;
	(void)data;
	if (!ph)
		return 0;
	if (tail - head >= HELD_MAX)            /* full: no delay for this one */
		return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
	held[tail % HELD_MAX].id = ntohl(ph->packet_id);
	held[tail % HELD_MAX].due = now_ms() + delay_ms;
	tail++;
	return 0;
}

static void release(struct nfq_q_handle *qh, int all)
{
	int64_t now = now_ms();

	while (head != tail && (all || held[head % HELD_MAX].due <= now)) {
		nfq_set_verdict(qh, held[head % HELD_MAX].id, NF_ACCEPT, 0, NULL);
		head++;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	char buf[65536] __attribute__((aligned));
	struct sigaction sa = { .sa_handler = on_signal };
	int fd, queue;

	if (argc != 3) {
		fprintf(stderr, "usage: sldelay QUEUE DELAY_MS\n");
		return 2;
	}
	queue = atoi(argv[1]);
	delay_ms = atoll(argv[2]);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	h = nfq_open();
	if (!h) {
		fprintf(stderr, "sldelay: nfq_open: %s\n", strerror(errno));
		return 1;
	}
	qh = nfq_create_queue(h, queue, on_packet, NULL);
	if (!qh || nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
		fprintf(stderr, "sldelay: queue %d: %s\n", queue, strerror(errno));
		return 1;
	}
	nfq_set_queue_maxlen(qh, HELD_MAX);
	fd = nfq_fd(h);
	printf("sldelay: queue %d delay %lld ms\n", queue, (long long)delay_ms);
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t wait = head != tail ? held[head % HELD_MAX].due - now_ms() : 1000;
		int n, r;

		n = poll(&p, 1, wait < 0 ? 0 : (int)wait);
		if (n > 0) {
			r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				nfq_handle_packet(h, buf, r);
		}
		release(qh, 0);
	}
	release(qh, 1);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
