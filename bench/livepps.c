// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packets per second through the lab gateway with live frames
 * (BPF_F_TEST_XDP_LIVE_FRAMES), sluice against a bare redirect on the same
 * veths. Run by bench/run.sh inside a lab from tests/e2e/lab.sh:
 *
 *   livepps --prefix P --mode both --pin-root R
 *       sluiced attached (lab_start_sluiced); the generator's flow is
 *       written into its connection table as established on backend b1.
 *       Rounds alternate between sluice and lp_bare, swapped in on gw-c in
 *       sluice's place (fixed MACs, a devmap redirect to gw-b1, nothing
 *       else) and swapped back out, so both see the same machine.
 *   livepps --prefix P --mode bare
 *       nothing on gw-c: lp_bare alone (a peer run without sluiced).
 *   livepps --prefix P --mode kernel
 *       nothing on gw-c and nothing attached there: the kernel forwards,
 *       with whatever the gateway namespace has set up (bench/peers.sh: its
 *       nftables DNAT over the three backends). gw-c has GRO on (lab_up),
 *       which a veth needs to take XDP_TX frames from its peer without a
 *       program of its own. The single flow is picked up mid-stream by
 *       conntrack (nf_conntrack_tcp_loose, on by default) and so DNAT'd to
 *       one backend; frames still addressed to the VIP at a backend, or
 *       none at all, fail the round.
 *
 * Either way lp_count on eth0 of every backend namespace counts and drops
 * the generated frames, and lp_gen runs in the client namespace with
 * ingress_ifindex = the client's eth0 and returns XDP_TX, so every frame is
 * transmitted into gw-c. pps = frames counted at the backends / time the
 * generator ran. Generator, gateway XDP and counters all run on one CPU
 * (veth NAPI runs where the frame was sent): one core's worth.
 *
 * The process moves between the lab's namespaces with setns() on
 * /run/netns/PREFIX-NAME; whatever it attached is detached, and sluice put
 * back on gw-c, before it exits (lab_down deletes the namespaces anyway).
 *
 * Output, one JSON object on stdout: both: {"bench":"xdp.live_pps","pps":
 * ...,"bare_pps":...,"ratio":...}; bare / kernel: {"mode":"bare","pps":...} /
 * {"mode":"kernel","pps":...}. Exit 1
 * when a frame took another path than intended (sluice's own counters).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sluice/maps.h>
#include <sluice/reasons.h>
#include "csum.h"
#include "livepps.skel.h"
#include "livepps.h"

#define NR_BK       3
#define CLIENT      "198.18.0.2"
#define VIP         "198.18.1.100"
#define VIP_PORT    80
#define BK1         "198.19.0.11"
/* Below the lab's fixed source ports (10000..) and its ephemeral range. */
#define GEN_SPORT   5000

struct opts {
	const char *prefix;
	const char *mode;
	const char *pin_root;
	unsigned long count;
	double seconds;         /* > 0: rounds sized to last about this long */
	unsigned rounds;
	int cpu;
};

struct lab {
	int ns_self, ns_c, ns_gw, ns_b[NR_BK];
	int c_if, gwc_if, gwb1_if, b_if[NR_BK];
	__u8 c_mac[6], gwc_mac[6], gwb1_mac[6], b1_mac[6];
	bool b_attached[NR_BK], gwc_attached;
	bool swapped;           /* both: the bare redirect is in sluice's place */
	int sluice_fd;
	struct livepps *skel;
};

static const char *const reason_name[] = {
#define SL_R_NAME(e, v, n, d) n,
	SL_REASONS(SL_R_NAME)
#undef SL_R_NAME
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static int open_ns(const char *prefix, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s-%s", prefix, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "livepps: %s: %s\n", path, strerror(errno));
	return fd;
}

static int enter(int fd)
{
	if (setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "livepps: setns: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ifindex and MAC of name in the current namespace. */
static int link_of(const char *name, int *ifindex, __u8 *mac)
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	*ifindex = ifr.ifr_ifindex;
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		goto out;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
out:
	close(s);
	if (rc)
		fprintf(stderr, "livepps: interface %s: %s\n", name, strerror(-rc));
	return rc;
}

static int attach(int ifindex, int prog_fd, const char *what)
{
	int rc = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);

	if (rc)
		fprintf(stderr, "livepps: cannot attach XDP to %s: %s\n", what, strerror(-rc));
	return rc;
}

/* Detach prog_fd from ifindex, and only that program. */
static void detach(int ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = prog_fd);

	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &o);
}

static int swap_gwc(struct lab *l, int to_fd, int from_fd);

static void cleanup(struct lab *l)
{
	int i;

	for (i = 0; i < NR_BK; i++)
		if (l->b_attached[i] && !enter(l->ns_b[i]))
			detach(l->b_if[i], bpf_program__fd(l->skel->progs.lp_count));
	if (l->gwc_attached && !enter(l->ns_gw))
		detach(l->gwc_if, bpf_program__fd(l->skel->progs.lp_bare));
	if (l->swapped)
		swap_gwc(l, l->sluice_fd, bpf_program__fd(l->skel->progs.lp_bare));
	if (l->ns_self >= 0)
		enter(l->ns_self);
	livepps__destroy(l->skel);
}

/* ---- the frame -------------------------------------------------------- */


/* Client -> VIP, TCP ACK|PSH with 10 bytes, checksums right: a frame the
 * gateway would get from a real client of an established connection. */
static void build_frame(__u8 *f, const struct lab *l)
{
	struct ethhdr *eth = (void *)f;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	size_t l4 = LP_PKT_LEN - sizeof(*eth) - sizeof(*ip);
	__u32 s;

	memset(f, 0, LP_PKT_LEN);
	memcpy(eth->h_dest, l->gwc_mac, 6);
	memcpy(eth->h_source, l->c_mac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(LP_PKT_LEN - sizeof(*eth));
	ip->frag_off = htons(0x4000);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	inet_pton(AF_INET, CLIENT, &ip->saddr);
	inet_pton(AF_INET, VIP, &ip->daddr);
	ip->check = htons(csum_fold(csum_add(0, ip, sizeof(*ip))));
	th->source = htons(GEN_SPORT);
	th->dest = htons(VIP_PORT);
	th->seq = htonl(1000);
	th->ack_seq = htonl(2000);
	th->doff = 5;
	th->ack = 1;
	th->psh = 1;
	th->window = htons(64240);
	memcpy(th + 1, "livepps!\r\n", 10);
	s = csum_add(0, &ip->saddr, 8) + IPPROTO_TCP + l4;
	th->check = htons(csum_fold(csum_add(s, th, l4)));
}

/* ---- counters --------------------------------------------------------- */

static int nr_cpus;

static __u64 percpu_u64(int fd, __u32 key, unsigned field, size_t vsz)
{
	size_t stride = (vsz + 7) & ~7ul;
	__u8 *buf = calloc(nr_cpus, stride);
	__u64 sum = 0;
	int c;

	if (buf && !bpf_map_lookup_elem(fd, &key, buf))
		for (c = 0; c < nr_cpus; c++)
			sum += ((__u64 *)(buf + c * stride))[field];
	free(buf);
	return sum;
}

struct sluice {
	int svc_fd, rev_fd, conn_fd, backend_fd, bk_stats_fd, svc_stats_fd, reasons_fd;
	__u32 svc_id, bk_id[NR_BK];
	struct sl_flow_key key;
};

struct snap {
	__u64 rx, rx_vip;       /* at the backends: all, still to the VIP */
	__u64 reasons[SL_R_MAX];
	__u64 svc_packets, svc_new;
	__u64 bk_packets[NR_BK];
};

static void snapshot(const struct lab *l, const struct sluice *s, struct snap *n)
{
	int i;

	memset(n, 0, sizeof(*n));
	n->rx = percpu_u64(bpf_map__fd(l->skel->maps.lp_rx), 0, 0, 8);
	n->rx_vip = percpu_u64(bpf_map__fd(l->skel->maps.lp_rx), 1, 0, 8);
	if (!s)
		return;
	for (i = 0; i < SL_R_MAX; i++)
		n->reasons[i] = percpu_u64(s->reasons_fd, i, 0, 8);
	n->svc_packets = percpu_u64(s->svc_stats_fd, s->svc_id, 0, sizeof(struct sl_svc_stats));
	n->svc_new = percpu_u64(s->svc_stats_fd, s->svc_id, 2, sizeof(struct sl_svc_stats));
	for (i = 0; i < NR_BK; i++)
		n->bk_packets[i] = s->bk_id[i] ?
			percpu_u64(s->bk_stats_fd, s->bk_id[i], 0, sizeof(struct sl_bk_stats)) : 0;
}

static int pinned(const char *root, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "livepps: %s: %s\n", path, strerror(errno));
	return fd;
}

/* Find the service and backends in sluiced's maps, wait for b1's next hop,
 * and put the generator's flow in the table as established on b1. */
static int sluice_setup(const struct opts *o, struct sluice *s)
{
	static const char *const bk[NR_BK] = { BK1, "198.19.0.12", "198.19.0.13" };
	struct sl_l4addr a = { .port = htons(VIP_PORT), .proto = IPPROTO_TCP, .family = SL_AF_INET };
	struct sl_conn c = {};
	struct sl_backend b;
	struct sl_svc sv;
	struct sl_rev rv;
	int i, k;

	s->svc_fd = pinned(o->pin_root, "sl_svc");
	s->rev_fd = pinned(o->pin_root, "sl_rev");
	s->conn_fd = pinned(o->pin_root, "sl_conn");
	s->backend_fd = pinned(o->pin_root, "sl_backend");
	s->bk_stats_fd = pinned(o->pin_root, "sl_bk_stats");
	s->svc_stats_fd = pinned(o->pin_root, "sl_svc_stats");
	s->reasons_fd = pinned(o->pin_root, "sl_reasons");
	if (s->svc_fd < 0 || s->rev_fd < 0 || s->conn_fd < 0 || s->backend_fd < 0 ||
	    s->bk_stats_fd < 0 || s->svc_stats_fd < 0 || s->reasons_fd < 0)
		return -ENOENT;
	inet_pton(AF_INET, VIP, &a.addr[0]);
	if (bpf_map_lookup_elem(s->svc_fd, &a, &sv)) {
		fprintf(stderr, "livepps: no service %s:%d in %s\n", VIP, VIP_PORT, o->pin_root);
		return -ENOENT;
	}
	s->svc_id = sv.id;
	for (i = 0; i < NR_BK; i++) {
		inet_pton(AF_INET, bk[i], &a.addr[0]);
		s->bk_id[i] = bpf_map_lookup_elem(s->rev_fd, &a, &rv) ? 0 : rv.bk_id;
	}
	if (!s->bk_id[0]) {
		fprintf(stderr, "livepps: backend %s not in sluice's maps\n", BK1);
		return -ENOENT;
	}
	/* sluiced resolves next hops from the neighbour table: bounded wait. */
	for (k = 0; k < 100; k++) {
		if (!bpf_map_lookup_elem(s->backend_fd, &s->bk_id[0], &b) && (b.flags & SL_BK_F_NH))
			break;
		usleep(100000);
	}
	if (k == 100) {
		fprintf(stderr, "livepps: sluiced has no next hop for %s after 10 s\n", BK1);
		return -EHOSTUNREACH;
	}
	memset(&s->key, 0, sizeof(s->key));
	inet_pton(AF_INET, CLIENT, &s->key.src[0]);
	inet_pton(AF_INET, VIP, &s->key.dst[0]);
	s->key.sport = htons(GEN_SPORT);
	s->key.dport = htons(VIP_PORT);
	s->key.proto = IPPROTO_TCP;
	s->key.family = SL_AF_INET;
	c.bk_id = s->bk_id[0];
	c.svc_id = s->svc_id;
	c.state = SL_CONN_ESTABLISHED;
	if (bpf_map_update_elem(s->conn_fd, &s->key, &c, BPF_ANY)) {
		fprintf(stderr, "livepps: cannot write the flow: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- rounds ----------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What one program on gw-c did over the rounds. */
struct tally {
	unsigned long count;    /* frames per round */
	bool probe;             /* a probe round: sizes the rounds */
	double pps[16];
	unsigned rounds;
	unsigned long long sent, received, forwarded, background;
	double elapsed;
};

/* Put to_fd on gw-c in place of from_fd (from the gateway namespace). */
static int swap_gwc(struct lab *l, int to_fd, int from_fd)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = from_fd);
	int rc;

	rc = enter(l->ns_gw);
	if (!rc)
		rc = bpf_xdp_attach(l->gwc_if, to_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &xo);
	if (rc)
		fprintf(stderr, "livepps: cannot swap the program on gw-c: %s\n", strerror(-rc));
	return rc;
}

/*
 * One round of count frames from the client namespace through whatever is
 * on gw-c; with s, check from sluice's counters that every frame took the
 * established path to b1. Returns 0, 1 on a path failure (why says it),
 * or a negative errno.
 */
static int one_round(struct lab *l, const struct opts *o, const struct sluice *s,
		     const __u8 *frame, struct tally *t, char *why, size_t len)
{
	struct xdp_md ctx = { .data_end = LP_PKT_LEN, .ingress_ifindex = l->c_if };
	LIBBPF_OPTS(bpf_test_run_opts, tr, .data_in = frame, .data_size_in = LP_PKT_LEN,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = t->count);
	struct snap a, z;
	double t0, t1;
	__u64 rx, d = 0;
	int rc, i;

	rc = enter(l->ns_c);
	if (rc)
		return rc;
	snapshot(l, s, &a);
	t0 = now_s();
	rc = bpf_prog_test_run_opts(bpf_program__fd(l->skel->progs.lp_gen), &tr);
	t1 = now_s();
	if (rc) {
		fprintf(stderr, "livepps: live frames: %s\n", strerror(-rc));
		return rc;
	}
	usleep(100000);         /* what is still in a veth ring */
	snapshot(l, s, &z);
	rx = z.rx - a.rx;
	t->pps[t->rounds++] = rx / (t1 - t0);
	t->sent += t->count;
	t->received += rx;
	t->elapsed += t1 - t0;
	rc = 0;
	if (s) {
		d = z.bk_packets[0] - a.bk_packets[0];
		t->forwarded += d;
		/* The lab's own background traffic (neighbour discovery, router
		 * solicitations) crosses the gateway too: not_ip and not_ours
		 * may move; so may to_gateway, the replies to sluiced's health
		 * checks when the service has them (bench/peers.sh), which the
		 * generator's frames, all to the VIP, never are. They are
		 * reported. */
		t->background += z.reasons[SL_R_NOT_IP] - a.reasons[SL_R_NOT_IP] +
				 z.reasons[SL_R_NOT_OURS] - a.reasons[SL_R_NOT_OURS] +
				 z.reasons[SL_R_TO_GATEWAY] - a.reasons[SL_R_TO_GATEWAY];
		for (i = 0; i < SL_R_MAX && !rc; i++)
			if (i != SL_R_NOT_IP && i != SL_R_NOT_OURS && i != SL_R_TO_GATEWAY &&
			    z.reasons[i] != a.reasons[i]) {
				snprintf(why, len, "reason %s grew by %llu", reason_name[i],
					 (unsigned long long)(z.reasons[i] - a.reasons[i]));
				rc = 1;
			}
		if (!rc && (z.svc_new != a.svc_new || z.svc_packets - a.svc_packets != d ||
			    z.bk_packets[1] != a.bk_packets[1] || z.bk_packets[2] != a.bk_packets[2])) {
			snprintf(why, len, "frames counted as new flows or on another backend");
			rc = 1;
		}
		if (!rc && (rx > d || rx == 0)) {
			snprintf(why, len, "%llu frames at the backends, sluice forwarded %llu",
				 (unsigned long long)rx, (unsigned long long)d);
			rc = 1;
		}
	} else if (rx == 0 || rx > t->count) {
		snprintf(why, len, "%llu frames at the backends for %lu sent",
			 (unsigned long long)rx, t->count);
		rc = 1;
	} else if (!strcmp(o->mode, "kernel") && z.rx_vip != a.rx_vip) {
		snprintf(why, len, "%llu of %llu frames at the backends not DNAT'd (still to the VIP)",
			 (unsigned long long)(z.rx_vip - a.rx_vip), (unsigned long long)rx);
		rc = 1;
	}
	fprintf(stderr, "livepps: %s %s %u: %lu sent, %llu received in %.3f s: %.0f pps%s%s\n",
		s ? "sluice" : strcmp(o->mode, "kernel") ? "bare" : "kernel", t->probe ? "probe" : "round",
		t->rounds, t->count, (unsigned long long)rx, t1 - t0,
		t->pps[t->rounds - 1], rc ? ": PATH FAILED: " : "", rc ? why : "");
	return rc;
}

/* One round of the bare redirect (bare) or sluice, swapped onto gw-c first
 * in mode both. 0, or non-zero with the reason on stderr. */
static int run_round(struct lab *l, const struct opts *o, const struct sluice *s,
		     const __u8 *frame, bool bare, int sluice_fd, int bare_fd, struct tally *t,
		     char *why, size_t len)
{
	bool both = !strcmp(o->mode, "both");
	int rc;

	if (both && bare != l->swapped) {
		if (bare ? swap_gwc(l, bare_fd, sluice_fd) : swap_gwc(l, sluice_fd, bare_fd))
			return 1;
		l->swapped = bare;
	}
	rc = one_round(l, o, bare ? NULL : s, frame, t, why, len);
	if (rc > 0)
		fprintf(stderr, "livepps: FAIL: %s\n", why);
	return rc || stop;
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: livepps --prefix P --mode both|bare|kernel [--pin-root DIR] [--count N]\n"
		"               [--seconds S] [--rounds N] [--cpu N]\n"
		"  --prefix P      the lab's LAB_PREFIX (namespaces P-c, P-gw, P-b1..3)\n"
		"  --mode M        both: sluiced is attached; rounds alternate between sluice\n"
		"                  and the bare redirect swapped in on gw-c (needs --pin-root);\n"
		"                  bare: nothing attached to gw-c; the bare redirect alone\n"
		"                  kernel: nothing attached to gw-c, none attached by livepps:\n"
		"                  the kernel forwards (and DNATs, e.g. nftables, to the backends)\n"
		"  --pin-root DIR  sluiced's pins\n"
		"  --count N       frames per round (default 10000000)\n"
		"  --seconds S     size each program's rounds from a probe round of --count\n"
		"                  frames to last about S seconds\n"
		"  --rounds N      rounds of each; medians are reported (default 3)\n"
		"  --cpu N         CPU for the generator and so for the whole path (default: the last)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "count", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = { .count = 10000000, .rounds = 3, .cpu = -1 };
	struct lab l = { .ns_self = -1 };
	struct sluice s = {};
	struct tally ts = {}, tb = {};
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa = { .sa_handler = on_signal };
	int bare_fd, sluice_fd = -1;
	__u8 frame[LP_PKT_LEN];
	double sp, bp;
	bool both, kernel;
	char why[256] = "";
	cpu_set_t set;
	unsigned r;
	int c, i, rc = 1;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.prefix = optarg; break;
		case 'm': o.mode = optarg; break;
		case 'P': o.pin_root = optarg; break;
		case 'n': o.count = strtoul(optarg, NULL, 0); break;
		case 'r': o.rounds = strtoul(optarg, NULL, 0); break;
		case 's': o.seconds = strtod(optarg, NULL); break;
		case 'c': o.cpu = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!o.prefix || !o.mode || optind != argc || !o.count || o.count > 0xffffffffu ||
	    !o.rounds || o.rounds > 16 || o.seconds < 0 || o.seconds > 60 ||
	    (strcmp(o.mode, "bare") && strcmp(o.mode, "both") && strcmp(o.mode, "kernel")) ||
	    (!strcmp(o.mode, "both") && !o.pin_root)) {
		usage(stderr);
		return 1;
	}
	both = !strcmp(o.mode, "both");
	kernel = !strcmp(o.mode, "kernel");
	nr_cpus = libbpf_num_possible_cpus();
	if (o.cpu < 0)
		o.cpu = nr_cpus - 1;
	CPU_ZERO(&set);
	CPU_SET(o.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "livepps: cannot pin to CPU %d: %s\n", o.cpu, strerror(errno));
	setrlimit(RLIMIT_MEMLOCK, &rl);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	l.ns_self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	l.ns_c = open_ns(o.prefix, "c");
	l.ns_gw = open_ns(o.prefix, "gw");
	for (i = 0; i < NR_BK; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%d", i + 1);
		l.ns_b[i] = open_ns(o.prefix, name);
		if (l.ns_b[i] < 0)
			return 1;
	}
	if (l.ns_self < 0 || l.ns_c < 0 || l.ns_gw < 0)
		return 1;
	l.skel = livepps__open_and_load();
	if (!l.skel) {
		fprintf(stderr, "livepps: cannot load bench programs: %s\n", strerror(errno));
		return 1;
	}
	bare_fd = bpf_program__fd(l.skel->progs.lp_bare);
	{
		/* Does the kernel run live frames at all? A frame too short for
		 * the generator: XDP_ABORTED, nothing is sent. */
		__u8 z[ETH_HLEN] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, tr, .data_in = z, .data_size_in = sizeof(z),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = 1);

		if (bpf_prog_test_run_opts(bpf_program__fd(l.skel->progs.lp_gen), &tr) &&
		    (errno == EPERM || errno == EOPNOTSUPP || errno == EINVAL)) {
			printf("{\"skipped\":\"the kernel refuses BPF_PROG_RUN live frames (%s)\"}\n",
			       strerror(errno));
			fprintf(stderr, "livepps: the kernel refuses live frames: %s\n", strerror(errno));
			livepps__destroy(l.skel);
			return 77;
		}
	}

	/* Counters on every backend's eth0. */
	for (i = 0; i < NR_BK; i++) {
		__u8 mac[6];

		if (enter(l.ns_b[i]) || link_of("eth0", &l.b_if[i], mac))
			goto out;
		if (i == 0)
			memcpy(l.b1_mac, mac, 6);
		if (attach(l.b_if[i], bpf_program__fd(l.skel->progs.lp_count), "a backend's eth0"))
			goto out;
		l.b_attached[i] = true;
	}

	/* The gateway: the bare redirect's devmap and MACs; sluice's maps. */
	if (enter(l.ns_gw) || link_of("gw-c", &l.gwc_if, l.gwc_mac) ||
	    link_of("gw-b1", &l.gwb1_if, l.gwb1_mac))
		goto out;
	{
		__u32 k = l.gwb1_if;

		if (bpf_map_update_elem(bpf_map__fd(l.skel->maps.lp_tx), &k, &k, BPF_ANY)) {
			fprintf(stderr, "livepps: devmap: %s\n", strerror(errno));
			goto out;
		}
		memcpy(l.skel->bss->lp_dmac, l.b1_mac, 6);
		memcpy(l.skel->bss->lp_smac, l.gwb1_mac, 6);
		l.skel->bss->lp_tx_ifindex = l.gwb1_if;
	}
	if (both) {
		struct bpf_prog_info info = {};
		__u32 id = 0, len = sizeof(info);

		if (bpf_xdp_query_id(l.gwc_if, XDP_FLAGS_DRV_MODE, &id) || !id ||
		    (sluice_fd = bpf_prog_get_fd_by_id(id)) < 0 ||
		    bpf_obj_get_info_by_fd(sluice_fd, &info, &len) || strcmp(info.name, "sluice_xdp")) {
			fprintf(stderr, "livepps: sluice is not attached to gw-c (native mode)\n");
			goto out;
		}
		l.sluice_fd = sluice_fd;
		if (sluice_setup(&o, &s))
			goto out;
	} else if (kernel) {
		__u32 id = 0;

		if (bpf_xdp_query_id(l.gwc_if, 0, &id) || id) {
			fprintf(stderr, "livepps: an XDP program (id %u) is on gw-c: the kernel path "
				"needs none\n", id);
			goto out;
		}
	} else {
		if (attach(l.gwc_if, bare_fd, "gw-c (is sluice attached?)"))
			goto out;
		l.gwc_attached = true;
	}

	/* The generator's frame, from the client's addresses. */
	if (enter(l.ns_c) || link_of("eth0", &l.c_if, l.c_mac))
		goto out;
	build_frame(frame, &l);
	memcpy(l.skel->bss->lp_pkt, frame, LP_PKT_LEN);
	l.skel->bss->lp_sport = htons(GEN_SPORT);
	inet_pton(AF_INET, VIP, &l.skel->bss->lp_vip);

	/* With --seconds, each program first runs a probe round of --count
	 * frames (reported, not counted), and its rounds are sized from it to
	 * last about that long: every round's fixed cost (the live-frame
	 * setup, some 30 ms here) then weighs the same on a fast path and a
	 * slow one, as it does not in rounds of one frame count. */
	ts.count = tb.count = o.count;
	for (i = 0; o.seconds > 0 && i < (both ? 2 : 1) && !stop; i++) {
		struct tally *t = i ? &ts : &tb, probe = { .count = o.count, .probe = true };

		rc = run_round(&l, &o, &s, frame, !i || !both, sluice_fd, bare_fd, &probe, why, sizeof(why));
		if (rc)
			goto out;
		t->count = probe.pps[0] * o.seconds;
		if (t->count < 1000)
			t->count = 1000;
		if (t->count > 0xffffffffu)
			t->count = 0xffffffffu;
	}
	/* Rounds alternate, and which goes first alternates too, so a drift
	 * of the machine's speed weighs on both the same. */
	for (r = 0; r < o.rounds && !stop; r++) {
		int k;

		for (k = 0; k < (both ? 2 : 1) && !stop; k++) {
			bool bare = !both || (r + k) % 2;

			rc = run_round(&l, &o, &s, frame, bare, sluice_fd, bare_fd, bare ? &tb : &ts,
				       why, sizeof(why));
			if (rc)
				goto out;
		}
	}
	if (stop) {
		fprintf(stderr, "livepps: interrupted\n");
		rc = 1;
		goto out;
	}
	bp = median(tb.pps, tb.rounds);
	if (!both) {
		printf("{\"mode\":\"%s\",\"pps\":%.0f,\"sent\":%llu,\"received\":%llu,\"elapsed_s\":%.3f,"
		       "\"rounds\":%u,\"frame_bytes\":%d,\"cpu\":%d,\"path_ok\":true}\n", o.mode, bp,
		       tb.sent, tb.received, tb.elapsed, tb.rounds, LP_PKT_LEN, o.cpu);
	} else {
		sp = median(ts.pps, ts.rounds);
		printf("{\"bench\":\"xdp.live_pps\",\"pps\":%.0f,\"bare_pps\":%.0f,\"ratio\":%.3f,"
		       "\"target_ratio\":0.8,\"within_target\":%s,\"frame_bytes\":%d,\"rounds\":%u,"
		       "\"sent\":%llu,\"received\":%llu,\"forwarded_by_sluice\":%llu,"
		       "\"bare_sent\":%llu,\"bare_received\":%llu,\"cpu\":%d,"
		       "\"path\":\"established_nh_cached\",\"path_ok\":true,\"background_passed\":%llu}\n",
		       sp, bp, bp > 0 ? sp / bp : 0, bp > 0 && sp / bp >= 0.8 ? "true" : "false",
		       LP_PKT_LEN, o.rounds, ts.sent, ts.received, ts.forwarded, tb.sent, tb.received,
		       o.cpu, ts.background);
	}
	fflush(stdout);
	rc = 0;
out:
	if (both && s.conn_fd > 0)
		bpf_map_delete_elem(s.conn_fd, &s.key);
	cleanup(&l);
	return rc ? 1 : 0;
}
