// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ns/packet of sluice's XDP paths with BPF_PROG_TEST_RUN, through one
 * harness (bench/harness.bpf.c) that restores the packet every iteration.
 * One JSON object per line on stdout, progress on stderr:
 *
 *   xdp.floor        a trivial XDP_PASS program, run directly and through
 *                    the harness (the harness's own cost)
 *   xdp.non_vip      IPv4 TCP to an address that is no VIP and no backend
 *   xdp.established  a packet of a flow in the connection table, next hop
 *                    cached on its backend
 *   xdp.new_flow     a SYN of a never-seen flow every iteration, into a
 *                    table holding 1M flows
 *
 * Each path line: raw_ns_per_pkt (harness + sluice), harness_ns_per_pkt
 * (the same harness tail-calling XDP_PASS), ns_per_pkt = raw - harness;
 * medians of --runs runs of --repeat iterations, interleaved. Every run is
 * proven to have taken the intended path from sluice's own counters (and,
 * for new_flow, by deleting exactly the flows it must have created); any
 * mismatch fails the benchmark (exit 1).
 *
 * The process moves into a network namespace of its own (unshare): the
 * devmap entry for the cached next hop names that namespace's loopback,
 * nothing on the host is touched, and nothing is transmitted (test_run
 * returns XDP_REDIRECT without sending).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/resource.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sluice/maps.h>
#include <sluice/reasons.h>
#include "csum.h"
#include "config.h"
#include "dataplane.h"
#include "sluice.skel.h"
#include "harness.skel.h"
#include "harness.h"

#define VIP          "198.18.1.100"
#define VIP_PORT     80
#define NR_BK        3
#define PREFILL_BASE 0x80000000u        /* prefilled tuples: n >= 2^31 (198.18.128.x) */

static const char *const bk_addr[NR_BK] = { "198.19.0.11", "198.19.0.12", "198.19.0.13" };

static const char config_text[] =
	"# xdp_bench: one service, three backends\n"
	"interfaces = ( \"lo\" );\n"
	"services = (\n"
	"  { name = \"bench\"; vip = \"" VIP "\"; port = 80; proto = \"tcp\";\n"
	"    backends = (\n"
	"      { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
	"      { addr = \"198.19.0.12\"; port = 80; weight = 1; },\n"
	"      { addr = \"198.19.0.13\"; port = 80; weight = 1; } ); } );\n";

static const char *const reason_name[] = {
#define SL_R_NAME(e, v, n, d) n,
	SL_REASONS(SL_R_NAME)
#undef SL_R_NAME
};

struct opts {
	unsigned repeat;
	unsigned runs;
	unsigned prefill;
	unsigned conn_size;
	int cpu;
	const char *only;
	bool no_verify;         /* profiling variants of the program: report, never fail */
};

struct bench {
	struct opts o;
	struct sl_dp *dp;
	struct harness *h;
	int nr_cpus;
	int sluice_fd, pass_fd, restore_fd, newflow_fd, target_fd, seq_fd;
	int conn_fd, reasons_fd, svc_stats_fd, bk_stats_fd;
	__u32 svc_id, bk_id[NR_BK];
	__be32 vip, src;
	bool failed;
};

/* ---- packets ---------------------------------------------------------- */


/* An HR_PKT_LEN-byte IPv4 TCP frame: a SYN with MSS, SACK-permitted,
 * timestamps and window scale, or an ACK|PSH with timestamps and 8 bytes. */
static void build_pkt(__u8 *f, __be32 src, __be32 dst, __u16 sport, __u16 dport, bool syn)
{
	static const __u8 syn_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1,
					   0, 0, 0, 0, 1, 3, 3, 7 };
	static const __u8 ack_opts[12] = { 1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1 };
	struct ethhdr *eth = (void *)f;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	__u8 *o = (__u8 *)(th + 1);
	size_t l4 = HR_PKT_LEN - sizeof(*eth) - sizeof(*ip);
	__u32 s;

	memset(f, 0, HR_PKT_LEN);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(HR_PKT_LEN - sizeof(*eth));
	ip->id = htons(1);
	ip->frag_off = htons(0x4000);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = htons(csum_fold(csum_add(0, ip, sizeof(*ip))));
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(1000);
	th->window = htons(64240);
	if (syn) {
		th->syn = 1;
		th->doff = 10;
		memcpy(o, syn_opts, sizeof(syn_opts));
	} else {
		th->ack = 1;
		th->psh = 1;
		th->ack_seq = htonl(2000);
		th->doff = 8;
		memcpy(o, ack_opts, sizeof(ack_opts));
		memcpy(o + sizeof(ack_opts), "benchpkt", 8);
	}
	s = csum_add(0, &ip->saddr, 8) + IPPROTO_TCP + l4;
	th->check = htons(csum_fold(csum_add(s, th, l4)));
}

/* Tuple n, as hr_newflow makes it (bench/harness.h). */
static void tuple(const struct bench *b, __u32 n, struct sl_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src[0] = htonl(HR_NEWFLOW_NET | (n >> 16));
	k->dst[0] = b->vip;
	k->sport = htons(n & 0xffff);
	k->dport = htons(VIP_PORT);
	k->proto = IPPROTO_TCP;
	k->family = SL_AF_INET;
}

/* ---- counters --------------------------------------------------------- */

struct snap {
	__u64 reasons[SL_R_MAX];
	__u64 svc_packets, svc_new;
	__u64 bk_packets[NR_BK], bk_new[NR_BK];
};

static int percpu_sum(struct bench *b, int fd, __u32 key, size_t vsz, __u64 *sum, size_t nfields)
{
	size_t stride = (vsz + 7) & ~7ul, f;
	__u8 *buf = calloc(b->nr_cpus, stride);
	int c, rc;

	if (!buf)
		return -ENOMEM;
	rc = bpf_map_lookup_elem(fd, &key, buf);
	memset(sum, 0, nfields * sizeof(*sum));
	for (c = 0; !rc && c < b->nr_cpus; c++)
		for (f = 0; f < nfields; f++)
			sum[f] += ((__u64 *)(buf + c * stride))[f];
	free(buf);
	return rc;
}

static int snapshot(struct bench *b, struct snap *s)
{
	struct sl_svc_stats ss = {};
	struct sl_bk_stats bs = {};
	__u32 r;
	int i, rc = 0;

	for (r = 0; r < SL_R_MAX; r++)
		rc |= percpu_sum(b, b->reasons_fd, r, 8, &s->reasons[r], 1);
	rc |= percpu_sum(b, b->svc_stats_fd, b->svc_id, sizeof(ss), (__u64 *)&ss, sizeof(ss) / 8);
	s->svc_packets = ss.packets;
	s->svc_new = ss.new_flows;
	for (i = 0; i < NR_BK; i++) {
		rc |= percpu_sum(b, b->bk_stats_fd, b->bk_id[i], sizeof(bs), (__u64 *)&bs, sizeof(bs) / 8);
		s->bk_packets[i] = bs.packets;
		s->bk_new[i] = bs.new_flows;
	}
	return rc;
}

/* ---- running ---------------------------------------------------------- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int set_target(struct bench *b, int prog_fd)
{
	__u32 zero = 0;

	return bpf_map_update_elem(b->target_fd, &zero, &prog_fd, BPF_ANY);
}

static int set_seq(struct bench *b, __u32 n)
{
	__u32 *v = calloc(b->nr_cpus, 8), zero = 0;
	int c, rc;

	if (!v)
		return -ENOMEM;
	for (c = 0; c < b->nr_cpus; c++)
		v[c * 2] = n;
	rc = bpf_map_update_elem(b->seq_fd, &zero, v, BPF_ANY);
	free(v);
	return rc;
}

/*
 * One test_run of prog over pkt: the kernel's ns per iteration, the verdict
 * in *retval. Not wall-clock time: with repeat > 1 the kernel swaps the
 * program into the XDP dispatcher and back around the loop, and waits for
 * RCU grace periods to do so, adding 15-35 ms per call. The kernel's figure
 * times the loop alone (minus any reschedule), truncated to whole ns.
 */
static int run(struct bench *b, int prog_fd, const __u8 *pkt, unsigned repeat,
	       double *ns, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = HR_PKT_LEN,
		    .repeat = repeat);
	int rc;

	rc = bpf_prog_test_run_opts(prog_fd, &t);
	if (rc) {
		fprintf(stderr, "xdp_bench: test_run: %s\n", strerror(-rc));
		return rc;
	}
	*ns = t.duration;
	*retval = t.retval;
	return 0;
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

static const char *verdict_name(__u32 v)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	return v < 5 ? n[v] : "?";
}

/* ---- paths ------------------------------------------------------------ */

enum path { P_NON_VIP, P_ESTABLISHED, P_NEW_FLOW };

struct path_def {
	const char *bench;
	enum path path;
	__u32 verdict;
	double target;
};

static const struct path_def paths[] = {
	{ "xdp.non_vip",     P_NON_VIP,     XDP_PASS,     34 },
	{ "xdp.established", P_ESTABLISHED, XDP_REDIRECT, 63 },
	{ "xdp.new_flow",    P_NEW_FLOW,    XDP_REDIRECT, 650 },
};

/* Did this run take the intended path, every iteration? Says why not. */
static bool path_ok(struct bench *b, const struct path_def *p, const struct snap *a,
		    const struct snap *z, __u64 n, __u32 retval, char *why, size_t len)
{
	__u64 d, bk_pk = 0, bk_new = 0;
	__u32 r;
	int i;

	if (retval != p->verdict) {
		snprintf(why, len, "verdict %s, expected %s", verdict_name(retval), verdict_name(p->verdict));
		return false;
	}
	for (r = 0; r < SL_R_MAX; r++) {
		d = z->reasons[r] - a->reasons[r];
		if (p->path == P_NON_VIP && r == SL_R_NOT_OURS) {
			if (d != n) {
				snprintf(why, len, "reason not_ours grew by %llu, expected %llu",
					 (unsigned long long)d, (unsigned long long)n);
				return false;
			}
		} else if (d) {
			snprintf(why, len, "reason %s grew by %llu", reason_name[r], (unsigned long long)d);
			return false;
		}
	}
	for (i = 0; i < NR_BK; i++) {
		bk_pk += z->bk_packets[i] - a->bk_packets[i];
		bk_new += z->bk_new[i] - a->bk_new[i];
	}
	switch (p->path) {
	case P_NON_VIP:
		if (z->svc_packets != a->svc_packets || bk_pk) {
			snprintf(why, len, "service/backend packets moved");
			return false;
		}
		break;
	case P_ESTABLISHED:
		if (z->svc_packets - a->svc_packets != n || z->bk_packets[0] - a->bk_packets[0] != n ||
		    z->svc_new != a->svc_new || bk_new) {
			snprintf(why, len, "svc packets +%llu, backend 1 packets +%llu, new flows +%llu, expected +%llu, +%llu, +0",
				 (unsigned long long)(z->svc_packets - a->svc_packets),
				 (unsigned long long)(z->bk_packets[0] - a->bk_packets[0]),
				 (unsigned long long)(z->svc_new - a->svc_new),
				 (unsigned long long)n, (unsigned long long)n);
			return false;
		}
		break;
	case P_NEW_FLOW:
		if (z->svc_new - a->svc_new != n || bk_new != n || z->svc_packets - a->svc_packets != n) {
			snprintf(why, len, "svc new_flows +%llu, backends new_flows +%llu, svc packets +%llu, expected +%llu each",
				 (unsigned long long)(z->svc_new - a->svc_new), (unsigned long long)bk_new,
				 (unsigned long long)(z->svc_packets - a->svc_packets), (unsigned long long)n);
			return false;
		}
		break;
	}
	return true;
}

/* Delete flows base..base+n-1 (hr_newflow's tuples); how many existed. */
static long delete_flows(struct bench *b, __u32 base, unsigned n)
{
	struct sl_flow_key *keys = calloc(n, sizeof(*keys));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 i, done = 0, count;
	int rc = 0;

	if (!keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		tuple(b, base + i, &keys[i]);
	while (done < n) {
		count = n - done < 65536 ? n - done : 65536;
		rc = bpf_map_delete_batch(b->conn_fd, keys + done, &count, &bo);
		done += count;
		if (rc)
			break;          /* ENOENT: a flow that was never created */
	}
	free(keys);
	return done;
}

/* Entries in the connection table (batch lookups, no per-key syscalls). */
static long count_flows(struct bench *b)
{
	const __u32 chunk = 65536;
	struct sl_flow_key *keys = calloc(chunk, sizeof(*keys));
	struct sl_conn *vals = calloc(chunk, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct sl_flow_key out;
	void *in = NULL;
	long total = 0;
	__u32 count;
	int rc;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	do {
		count = chunk;
		rc = bpf_map_lookup_batch(b->conn_fd, in, &out, keys, vals, &count, &bo);
		if (rc && rc != -ENOENT) {
			total = rc;
			break;
		}
		total += count;
		in = &out;
	} while (!rc);
	free(keys);
	free(vals);
	return total;
}

static void print_path(struct bench *b, const struct path_def *p, double raw, double har,
		       const double *rv, unsigned long long proven, bool ok, const char *why,
		       long table)
{
	double net = raw - har;
	unsigned i;

	printf("{\"bench\":\"%s\",\"ns_per_pkt\":%.1f,\"raw_ns_per_pkt\":%.1f,\"harness_ns_per_pkt\":%.1f,"
	       "\"target_ns_per_pkt\":%.0f,\"within_target\":%s,\"repeat\":%u,\"runs\":%u,\"raw_runs\":[",
	       p->bench, net, raw, har, p->target, ok && net <= p->target ? "true" : "false",
	       b->o.repeat, b->o.runs);
	for (i = 0; i < b->o.runs; i++)
		printf("%s%.1f", i ? "," : "", rv[i]);
	printf("],\"verdict\":\"%s\",\"path\":\"%s\",\"path_ok\":%s,\"path_count\":%llu",
	       verdict_name(p->verdict),
	       p->path == P_NON_VIP ? "not_ours" : p->path == P_ESTABLISHED ? "established_nh_cached" : "new_flow",
	       ok ? "true" : "false", proven);
	if (p->path != P_NON_VIP)
		printf(",\"table_flows\":%ld", table);
	if (p->path == P_NEW_FLOW)
		printf(",\"new_flows\":%llu,\"flows_deleted_after\":%llu", proven, proven);
	if (!ok)
		printf(",\"error\":\"%s\"", why);
	if (b->o.no_verify)
		printf(",\"verified\":false");
	printf("}\n");
	fflush(stdout);
}

static int bench_path(struct bench *b, const struct path_def *p)
{
	__u8 pkt[HR_PKT_LEN];
	double *raw = calloc(b->o.runs, sizeof(double)), *har = calloc(b->o.runs, sizeof(double));
	double *raw_sorted = calloc(b->o.runs, sizeof(double));
	int harness_fd = p->path == P_NEW_FLOW ? b->newflow_fd : b->restore_fd;
	unsigned long long proven = 0;
	__u32 retval, seq = 0;
	unsigned i, warm = b->o.repeat / 100 ? b->o.repeat / 100 : 1;
	struct snap s0, s1;
	char why[256] = "";
	bool ok = true;
	long table = 0;
	double ns;
	int rc = 0;

	if (!raw || !har || !raw_sorted)
		return -ENOMEM;
	switch (p->path) {
	case P_NON_VIP: {
		/* A destination that is no VIP, no backend, and whose filter bit
		 * is clear, so the packet takes the one-load exit. */
		__u32 bits[NR_BK + 2], nbits = 0, k, x;
		__be32 a[4] = {};
		bool hit;

		a[0] = b->vip;
		bits[nbits++] = sl_addr_bit(a);
		for (k = 0; k < NR_BK; k++) {
			inet_pton(AF_INET, bk_addr[k], &a[0]);
			bits[nbits++] = sl_addr_bit(a);
		}
		a[0] = b->src;
		for (k = 0; k < nbits; k++)
			if (sl_addr_bit(a) == bits[k])
				fprintf(stderr, "xdp_bench: client address shares a filter bit\n");
		for (x = 1; x < 255; x++) {
			a[0] = htonl(0xc6120200u | x);      /* 198.18.2.x */
			for (hit = false, k = 0; k < nbits; k++)
				hit |= sl_addr_bit(a) == bits[k];
			if (!hit)
				break;
		}
		build_pkt(pkt, b->src, a[0], 40000, VIP_PORT, false);
		break;
	}
	case P_ESTABLISHED: {
		/* A prefilled flow on backend 1, whose next hop is cached. */
		struct sl_flow_key k;
		struct sl_conn c;

		tuple(b, PREFILL_BASE + b->o.prefill / 2, &k);
		if (bpf_map_lookup_elem(b->conn_fd, &k, &c)) {
			fprintf(stderr, "xdp_bench: the established flow is not in the table\n");
			return -ENOENT;
		}
		c.bk_id = b->bk_id[0];
		c.state = SL_CONN_ESTABLISHED;
		bpf_map_update_elem(b->conn_fd, &k, &c, BPF_EXIST);
		build_pkt(pkt, k.src[0], b->vip, ntohs(k.sport), VIP_PORT, false);
		break;
	}
	case P_NEW_FLOW:
		build_pkt(pkt, b->src, b->vip, 1, VIP_PORT, true);
		break;
	}
	memcpy(b->h->bss->hr_pkt, pkt, HR_PKT_LEN);

	/* Warm up: caches, branch predictors, the LRU's per-CPU free lists. */
	if (p->path == P_NEW_FLOW) {
		seq = 0;
		set_seq(b, seq);
	}
	set_target(b, b->sluice_fd);
	rc = run(b, harness_fd, pkt, warm, &ns, &retval);
	if (rc)
		goto out;
	if (p->path == P_NEW_FLOW) {
		long d = delete_flows(b, seq, warm);

		if (d != warm && !b->o.no_verify) {
			ok = false;
			snprintf(why, sizeof(why), "warm-up created %ld of %u flows", d, warm);
		}
		seq += warm;
	}

	for (i = 0; i < b->o.runs && ok; i++) {
		set_target(b, b->pass_fd);
		rc = run(b, harness_fd, pkt, b->o.repeat, &har[i], &retval);
		if (rc)
			goto out;
		if (retval != XDP_PASS) {
			ok = false;
			snprintf(why, sizeof(why), "harness baseline returned %s", verdict_name(retval));
			break;
		}
		set_target(b, b->sluice_fd);
		if (p->path == P_NEW_FLOW) {
			/* Fresh tuples every run, far from every earlier one. */
			seq = (i + 1) * (b->o.repeat + warm);
			set_seq(b, seq);
		}
		snapshot(b, &s0);
		rc = run(b, harness_fd, pkt, b->o.repeat, &raw[i], &retval);
		if (rc)
			goto out;
		snapshot(b, &s1);
		ok = path_ok(b, p, &s0, &s1, b->o.repeat, retval, why, sizeof(why));
		if (p->path == P_NEW_FLOW) {
			/* Exactly these repeat tuples were created: delete them,
			 * back to the prefilled table for the next run. */
			long d = delete_flows(b, seq, b->o.repeat);

			if (ok && d != (long)b->o.repeat) {
				ok = false;
				snprintf(why, sizeof(why), "run %u: %ld of the %u new tuples were in the table",
					 i, d, b->o.repeat);
			}
		}
		if (!ok && b->o.no_verify) {
			fprintf(stderr, "xdp_bench: --no-verify: ignoring: %s\n", why);
			ok = true;
		} else if (ok) {
			proven += b->o.repeat;
		}
		fprintf(stderr, "xdp_bench: %s run %u: raw %.1f ns, harness %.1f ns%s%s\n",
			p->bench, i + 1, raw[i], har[i], ok ? "" : ": PATH FAILED: ", ok ? "" : why);
	}
	if (p->path != P_NON_VIP)
		table = count_flows(b);
	if (ok && !b->o.no_verify && p->path != P_NON_VIP && table != (long)b->o.prefill) {
		ok = false;
		snprintf(why, sizeof(why), "the table holds %ld flows after the runs, expected %u",
			 table, b->o.prefill);
	}
	memcpy(raw_sorted, raw, b->o.runs * sizeof(double));
	print_path(b, p, ok ? median(raw_sorted, b->o.runs) : 0, ok ? median(har, b->o.runs) : 0,
		   raw, proven, ok, why, table);
	if (!ok) {
		fprintf(stderr, "xdp_bench: FAIL: %s: %s\n", p->bench, why);
		b->failed = true;
	}
out:
	free(raw);
	free(har);
	free(raw_sorted);
	return rc;
}

static int bench_floor(struct bench *b)
{
	double *d = calloc(b->o.runs, sizeof(double)), *h = calloc(b->o.runs, sizeof(double));
	double *hn = calloc(b->o.runs, sizeof(double));
	__u8 pkt[HR_PKT_LEN];
	__u32 retval;
	unsigned i;
	double ns;
	int rc = 0;

	if (!d || !h || !hn)
		return -ENOMEM;
	build_pkt(pkt, b->src, b->vip, 40000, VIP_PORT, false);
	memcpy(b->h->bss->hr_pkt, pkt, HR_PKT_LEN);
	set_target(b, b->pass_fd);
	set_seq(b, 0);
	rc = run(b, b->pass_fd, pkt, b->o.repeat / 100 + 1, &ns, &retval);
	for (i = 0; !rc && i < b->o.runs; i++) {
		rc = run(b, b->pass_fd, pkt, b->o.repeat, &d[i], &retval);
		if (!rc && retval != XDP_PASS)
			rc = -EINVAL;
		if (!rc)
			rc = run(b, b->restore_fd, pkt, b->o.repeat, &h[i], &retval);
		if (!rc && retval != XDP_PASS)
			rc = -EINVAL;
		if (!rc)
			rc = run(b, b->newflow_fd, pkt, b->o.repeat, &hn[i], &retval);
		if (!rc && retval != XDP_PASS)
			rc = -EINVAL;
		fprintf(stderr, "xdp_bench: xdp.floor run %u: direct %.1f ns, harness %.1f ns, harness+new tuple %.1f ns\n",
			i + 1, d[i], h[i], hn[i]);
	}
	if (!rc)
		printf("{\"bench\":\"xdp.floor\",\"ns_per_pkt\":%.1f,\"direct_ns_per_pkt\":%.1f,"
		       "\"harness_ns_per_pkt\":%.1f,\"harness_newflow_ns_per_pkt\":%.1f,"
		       "\"repeat\":%u,\"runs\":%u,\"verdict\":\"XDP_PASS\"}\n",
		       median(d, b->o.runs), median(d, b->o.runs), median(h, b->o.runs),
		       median(hn, b->o.runs), b->o.repeat, b->o.runs);
	else
		fprintf(stderr, "xdp_bench: FAIL: xdp.floor: %s\n", strerror(-rc));
	fflush(stdout);
	free(d);
	free(h);
	free(hn);
	return rc;
}

/* ---- setup ------------------------------------------------------------ */

static int prefill(struct bench *b)
{
	const __u32 chunk = 65536;
	struct sl_flow_key *keys = calloc(chunk, sizeof(*keys));
	struct sl_conn *vals = calloc(chunk, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);  /* elem_flags: only BPF_F_LOCK is allowed */
	__u32 done = 0, i, n, count;
	double t0 = now_ns();
	int rc = 0;

	if (!keys || !vals)
		return -ENOMEM;
	while (done < b->o.prefill) {
		n = b->o.prefill - done < chunk ? b->o.prefill - done : chunk;
		for (i = 0; i < n; i++) {
			tuple(b, PREFILL_BASE + done + i, &keys[i]);
			memset(&vals[i], 0, sizeof(vals[i]));
			vals[i].bk_id = b->bk_id[(done + i) % NR_BK];
			vals[i].svc_id = b->svc_id;
			vals[i].state = SL_CONN_ESTABLISHED;
		}
		count = n;
		rc = bpf_map_update_batch(b->conn_fd, keys, vals, &count, &bo);
		if (rc) {
			fprintf(stderr, "xdp_bench: prefill: %s after %u flows\n", strerror(-rc), done);
			break;
		}
		done += n;
	}
	if (!rc)
		fprintf(stderr, "xdp_bench: prefilled %u flows in %.1f s\n", done, (now_ns() - t0) / 1e9);
	free(keys);
	free(vals);
	return rc;
}

static int setup(struct bench *b)
{
	struct sl_dp_opts dopts = { .pin_root = NULL, .conn_table_size = b->o.conn_size };
	struct sl_config *cfg = NULL;
	static const __u8 dmac[6] = { 2, 0, 0, 0, 0, 0x11 }, smac[6] = { 2, 0, 0, 0, 0, 0x10 };
	struct sl_backend bk;
	char err[512];
	__u32 lo, i;
	int rc;

	b->nr_cpus = libbpf_num_possible_cpus();
	inet_pton(AF_INET, VIP, &b->vip);
	inet_pton(AF_INET, "198.18.0.2", &b->src);

	rc = sl_config_load_string(config_text, "xdp_bench", &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "xdp_bench: config: %s\n", err);
		return rc;
	}
	rc = sl_dp_open(&b->dp, &dopts, err, sizeof(err));
	if (!rc)
		rc = sl_dp_apply(b->dp, cfg, err, sizeof(err));
	sl_config_free(cfg);
	if (rc) {
		fprintf(stderr, "xdp_bench: data path: %s\n", err);
		return rc;
	}
	b->sluice_fd = sl_dp_prog_fd(b->dp);
	b->conn_fd = bpf_map__fd(b->dp->skel->maps.sl_conn);
	b->reasons_fd = bpf_map__fd(b->dp->skel->maps.sl_reasons);
	b->svc_stats_fd = bpf_map__fd(b->dp->skel->maps.sl_svc_stats);
	b->bk_stats_fd = bpf_map__fd(b->dp->skel->maps.sl_bk_stats);
	{
		struct sl_l4addr key = { .port = htons(VIP_PORT), .proto = IPPROTO_TCP, .family = SL_AF_INET };
		struct sl_svc sv;

		key.addr[0] = b->vip;
		rc = bpf_map_lookup_elem(bpf_map__fd(b->dp->skel->maps.sl_svc), &key, &sv);
		if (rc) {
			fprintf(stderr, "xdp_bench: service not in sl_svc\n");
			return rc;
		}
		b->svc_id = sv.id;
	}

	/* The cached next hop: this namespace's loopback, in the devmap. */
	lo = if_nametoindex("lo");
	rc = bpf_map_update_elem(bpf_map__fd(b->dp->skel->maps.sl_tx), &lo, &lo, BPF_ANY);
	if (rc) {
		fprintf(stderr, "xdp_bench: devmap: %s\n", strerror(-rc));
		return rc;
	}
	for (i = 0; i < NR_BK; i++) {
		struct sl_l4addr a = { .port = htons(80), .proto = IPPROTO_TCP, .family = SL_AF_INET };

		inet_pton(AF_INET, bk_addr[i], &a.addr[0]);
		b->bk_id[i] = sl_dp_backend_id(b->dp, &a);
		if (!b->bk_id[i] || sl_dp_set_nexthop(b->dp, b->bk_id[i], lo, dmac, smac)) {
			fprintf(stderr, "xdp_bench: backend %s: no id or next hop\n", bk_addr[i]);
			return -ENOENT;
		}
		if (bpf_map_lookup_elem(bpf_map__fd(b->dp->skel->maps.sl_backend), &b->bk_id[i], &bk) ||
		    !(bk.flags & SL_BK_F_NH)) {
			fprintf(stderr, "xdp_bench: backend %s: next hop not cached\n", bk_addr[i]);
			return -EINVAL;
		}
	}

	b->h = harness__open_and_load();
	if (!b->h) {
		fprintf(stderr, "xdp_bench: cannot load the harness: %s\n", strerror(errno));
		return -errno;
	}
	b->pass_fd = bpf_program__fd(b->h->progs.hr_pass);
	b->restore_fd = bpf_program__fd(b->h->progs.hr_restore);
	b->newflow_fd = bpf_program__fd(b->h->progs.hr_newflow);
	b->target_fd = bpf_map__fd(b->h->maps.hr_target);
	b->seq_fd = bpf_map__fd(b->h->maps.hr_seq);
	rc = set_target(b, b->sluice_fd);
	if (rc) {
		fprintf(stderr, "xdp_bench: sluice cannot be tail-called from the harness: %s\n",
			strerror(-rc));
		return rc;
	}
	return prefill(b);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdp_bench [--repeat N] [--runs N] [--prefill N] [--conn-size N] [--cpu N] [--only NAME]\n"
		"  --repeat N     iterations per test_run (default 1000000)\n"
		"  --runs N       runs per measurement; the median is reported (default 5)\n"
		"  --prefill N    flows in the table before new_flow (default 1000000)\n"
		"  --conn-size N  connection table entries (default 2097152)\n"
		"  --cpu N        CPU to run on (default: the last)\n"
		"  --only NAME    one benchmark (floor, non_vip, established, new_flow)\n"
		"  --no-verify    do not fail when a run leaves the intended path (for profiling\n"
		"                 variants of the program that skip counters or inserts)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "prefill", required_argument, NULL, 'p' },
		{ "conn-size", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "only", required_argument, NULL, 'o' },
		{ "no-verify", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct bench b = { .o = { .repeat = 1000000, .runs = 5, .prefill = 1000000,
				  .conn_size = 2097152, .cpu = -1 } };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	cpu_set_t set;
	unsigned i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': b.o.repeat = strtoul(optarg, NULL, 0); break;
		case 'n': b.o.runs = strtoul(optarg, NULL, 0); break;
		case 'p': b.o.prefill = strtoul(optarg, NULL, 0); break;
		case 's': b.o.conn_size = strtoul(optarg, NULL, 0); break;
		case 'c': b.o.cpu = atoi(optarg); break;
		case 'o': b.o.only = optarg; break;
		case 'V': b.o.no_verify = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	/* Tuples: new flows n < 2^31 in runs of repeat, prefilled n >= 2^31. */
	if (!b.o.repeat || !b.o.runs || b.o.runs > 100 || !b.o.prefill || b.o.prefill > 0x7fffffffu ||
	    (unsigned long long)(b.o.runs + 1) * (b.o.repeat + b.o.repeat / 100 + 1) >= 0x80000000ull ||
	    b.o.conn_size < b.o.prefill + b.o.repeat + b.o.repeat / 100 + 1) {
		fprintf(stderr, "xdp_bench: bad sizes (conn-size must hold prefill + repeat)\n");
		return 1;
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (b.o.cpu < 0)
		b.o.cpu = libbpf_num_possible_cpus() - 1;
	CPU_ZERO(&set);
	CPU_SET(b.o.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "xdp_bench: cannot pin to CPU %d: %s\n", b.o.cpu, strerror(errno));
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "xdp_bench: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return 1;
	}

	rc = setup(&b);
	if (rc)
		goto out;
	if (!b.o.only || !strcmp(b.o.only, "floor"))
		rc = bench_floor(&b);
	for (i = 0; !rc && i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!b.o.only || !strcmp(b.o.only, paths[i].bench + 4))
			rc = bench_path(&b, &paths[i]);
out:
	harness__destroy(b.h);
	sl_dp_close(b.dp);
	if (rc)
		fprintf(stderr, "xdp_bench: FAIL: %s\n", strerror(-rc));
	return rc || b.failed ? 1 : 0;
}
