// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Random and mutated packets through the XDP program (BPF_PROG_TEST_RUN,
 * one frame a run). A seeded generator (SL_SEED=N reproduces a run; the seed
 * is printed) makes random bytes and mutations of valid frames: IPv4/IPv6,
 * VLAN, TCP/UDP/ICMP, IPv4 options, IPv6 extension headers, fragments, ICMP
 * errors quoting a flow, backend replies of open flows; mutated by
 * truncation, bit flips, lying length fields (IPv4 total length and IHL,
 * IPv6 payload length, TCP data offset, UDP length) and random bytes.
 *
 * For every frame:
 *  - the run succeeds and the verdict is never XDP_ABORTED;
 *  - every frame is accounted for: forwarded (XDP_REDIRECT or XDP_TX with
 *    no reason counted) or exactly one reason counted, with that reason's
 *    verdict (a refusal or trip_reset may instead send an RST out: TX or
 *    REDIRECT; no_neigh / egress_unmanaged hand a rewritten frame to the
 *    kernel: PASS);
 *  - every frame that leaves rewritten (REDIRECT, TX, and PASS under
 *    no_neigh / egress_unmanaged) parses cleanly: a valid IP header, IP and
 *    L4 lengths consistent with the frame, and it is either to a config
 *    backend (with that backend's next-hop MAC), from a VIP, or an ICMP error
 *    quoting a VIP; when the input's checksums were all valid, the output's
 *    are, computed from scratch (a frame that came in with a bad L4 checksum
 *    keeps it bad: incremental updates carry it);
 * and at the end the sum of the sl_reasons deltas plus the forwarded count
 * is the number of frames sent.
 *
 * 100,000 frames; SL_SOAK=1: 10 million (SL_RANDOM_N overrides both).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "sluice.skel.h"

/* ---- generator: splitmix64, reproducible from the seed ------------------ */

static uint64_t rs;

static uint64_t rnd(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n) { return n ? (unsigned)(rnd() % n) : 0; }

/* ---- counters ------------------------------------------------------------ */

static __u64 *rbuf;            /* SL_R_MAX * ncpu */

static void reasons_now(__u64 out[SL_R_MAX])
{
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_reasons);
	__u32 keys[SL_R_MAX], count = SL_R_MAX, out_batch = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int r, c;

	if (bpf_map_lookup_batch(fd, NULL, &out_batch, keys, rbuf, &count, &bo) && errno != ENOENT) {
		/* old kernels: one lookup a key */
		for (r = 0; r < SL_R_MAX; r++) {
			__u32 k = (__u32)r;

			assert_int_equal(bpf_map_lookup_elem(fd, &k, rbuf + (size_t)r * fx.ncpu), 0);
			keys[r] = k;
		}
		count = SL_R_MAX;
	}
	assert_int_equal(count, SL_R_MAX);
	for (r = 0; r < SL_R_MAX; r++) {
		out[keys[r]] = 0;
		for (c = 0; c < fx.ncpu; c++)
			out[keys[r]] += rbuf[(size_t)r * fx.ncpu + c];
	}
}

/* ---- base frames ------------------------------------------------------------ */

static const uint8_t tcpopt[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 };
static const uint8_t ip4opt[] = { 0x94, 4, 0, 0, 1, 0x07, 7, 4 }; /* router alert, NOP, RR */
static const char payload[] = "GET / HTTP/1.1\r\nHost: random\r\n\r\n";

struct svcdef { const char *name; int af; uint8_t proto; uint16_t port; };
static const struct svcdef svcs[] = {
	{ "web", 4, P_TCP, 80 }, { "dns", 4, P_UDP, 53 },
	{ "web6", 6, P_TCP, 443 }, { "dns6", 6, P_UDP, 53 },
};

/* The backend a flow of the table went to, or 0 (none: not open). */
static __u32 flow_backend(const struct spec *fwd)
{
	struct sl_flow_key k;
	struct sl_conn c;

	fx_flow_key(&k, fwd->src, fwd->sport, fwd->dst, fwd->dport, fwd->proto);
	return fx_conn(&k, &c) ? 0 : c.bk_id;
}

enum kind { K_FWD, K_REV, K_ICMP_CLI, K_ICMP_BK, K_OTHER, K_NKINDS };

/*
 * A valid frame into p; *ifindex its interface. May need a flow: then it
 * returns 1 with the opening SYN / first datagram in p instead (the caller
 * sends it unmutated and asks again later).
 */
static int base_frame(struct pkt *p, __u32 *ifindex)
{
	const struct svcdef *sd = &svcs[rn(4)];
	static struct ext6 ext[3];
	static uint8_t inner[256];
	static char addr[64];
	struct spec s, fwd, rev, q;
	struct pkt ip;
	enum kind k = (enum kind)rn(K_NKINDS);
	__u32 bk;
	int i;

	fx_spec_fwd(&fwd, sd->af, sd->proto, (uint16_t)(20000 + rn(48)), sd->port);
	fwd.payload = payload;
	fwd.paylen = rn(sizeof(payload));
	fwd.tcp_flags = rn(3) ? TH_SYN : (uint8_t)(TH_ACK | (rn(2) ? TH_PSH : 0) | (rn(8) ? 0 : TH_FIN));
	if (rn(3) == 0)
		fwd.nvlan = 1;
	if (rn(3) == 0 && sd->proto == P_TCP) {
		fwd.tcpopt = tcpopt;
		fwd.tcpoptlen = 4 * (1 + rn(5));
	}
	if (rn(4) == 0)
		fwd.ttl = (uint8_t)rn(3);
	if (sd->proto == P_UDP && sd->af == 4 && rn(4) == 0)
		fwd.udp_zero = 1;
	*ifindex = fx.if_c;

	switch (k) {
	case K_FWD:
		s = fwd;
		if (sd->af == 4 && rn(4) == 0) {
			s.ip4opt = ip4opt;
			s.ip4optlen = 4 * (1 + rn(2));
		}
		if (sd->af == 4 && rn(6) == 0)
			s.frag = FRAG4(rn(2), rn(3) ? 0 : rn(200));
		if (sd->af == 6 && rn(3) == 0) {
			s.next = 1 + (int)rn(3);
			for (i = 0; i < s.next; i++) {
				static const uint8_t t[] = { P_HOP, P_DEST, P_ROUTING, P_FRAG };

				memset(&ext[i], 0, sizeof(ext[i]));
				ext[i].type = t[rn(4)];
				ext[i].hdrlen = (uint8_t)rn(2);
				ext[i].frag_off = (uint16_t)(rn(3) ? 0 : rn(100));
				ext[i].frag_mf = (uint8_t)rn(2);
			}
			s.ext = ext;
		}
		break;
	case K_REV:
		bk = flow_backend(&fwd);
		if (!bk) {
			fwd.tcp_flags = TH_SYN;
			fwd.ttl = 64;
			spec_build(&fwd, p);
			return 1;
		}
		fx_spec_rev(&rev, &fwd, bk);
		rev.tcp_flags = rn(2) ? (TH_SYN | TH_ACK) : (uint8_t)(TH_ACK | (rn(6) ? 0 : TH_RST));
		if (rn(3) == 0)
			rev.nvlan = 1;
		s = rev;
		*ifindex = fx.if_b;
		break;
	case K_ICMP_CLI:            /* client -> VIP: an error about VIP -> client */
		memset(&q, 0, sizeof(q));
		q.af = sd->af;
		q.src = fwd.dst;
		q.dst = fwd.src;
		q.proto = sd->proto;
		q.sport = sd->port;
		q.dport = fwd.sport;
		q.tcp_flags = TH_SYN | TH_ACK;
		q.payload = payload;
		q.paylen = rn(8);
		spec_build_ip(&q, &ip);
		memcpy(inner, ip.b, ip.len);
		s = fwd;
		s.proto = sd->af == 4 ? P_ICMP : P_ICMP6;
		s.icmp_type = sd->af == 4 ? (rn(2) ? 3 : 11) : (uint8_t)(rn(2) ? 1 : 2);
		s.icmp_code = (uint8_t)(sd->af == 4 && s.icmp_type == 3 ? 4 : 0);
		s.icmp_rest = 1400;
		s.inner = inner;
		s.innerlen = rn(4) ? ip.len : rn((unsigned)ip.len + 1);
		s.payload = NULL;
		s.paylen = 0;
		break;
	case K_ICMP_BK:             /* backend (or a router) -> client: about client -> backend */
		bk = flow_backend(&fwd);
		if (!bk) {
			fwd.tcp_flags = TH_SYN;
			fwd.ttl = 64;
			spec_build(&fwd, p);
			return 1;
		}
		fx_spec_rev(&rev, &fwd, bk);
		memset(&q, 0, sizeof(q));
		q.af = sd->af;
		q.src = fwd.src;
		q.dst = rev.src;
		q.proto = sd->proto;
		q.sport = fwd.sport;
		q.dport = rev.sport;
		q.tcp_flags = TH_SYN;
		spec_build_ip(&q, &ip);
		memcpy(inner, ip.b, ip.len);
		s = rev;
		if (rn(3) == 0)
			s.src = sd->af == 4 ? FX_ROUTER4 : FX_ROUTER6;
		s.proto = sd->af == 4 ? P_ICMP : P_ICMP6;
		s.icmp_type = sd->af == 4 ? 3 : 1;
		s.icmp_code = (uint8_t)rn(5);
		s.inner = inner;
		s.innerlen = rn(4) ? ip.len : rn((unsigned)ip.len + 1);
		s.payload = NULL;
		s.paylen = 0;
		*ifindex = fx.if_b;
		break;
	default:                    /* somebody else's traffic, ARP, other protocols */
		s = fwd;
		switch (rn(4)) {
		case 0: s.dst = sd->af == 4 ? FX_OTHER4 : FX_OTHER6; break;
		case 1: s.ethertype = ET_ARP; break;
		case 2: s.proto = (uint8_t)(rn(2) ? P_GRE : P_SCTP); break;
		default:
			snprintf(addr, sizeof(addr), sd->af == 4 ? "198.19.0.%u" : "2001:2:0:2::%x", 11 + rn(12));
			s.src = addr;
			s.dst = sd->af == 4 ? FX_CLI4 : FX_CLI6;
			s.sport = (uint16_t)(rn(2) ? sd->port + 0 : 8080);
			*ifindex = fx.if_b;
		}
	}
	spec_build(&s, p);
	return 0;
}

/* ---- mutations ---------------------------------------------------------------- */

static void put16(uint8_t *b, unsigned v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }

static void lie_lengths(struct pkt *p)
{
	uint8_t *ip = p->b + p->l3;
	unsigned v = ip[0] >> 4;
	uint8_t *l4 = p->b + p->l4;
	int fix4 = v == 4 && rn(4);
	static const unsigned deltas[] = { 0, 1, 2, 3, 4, 7, 8, 20, 40, 255, 256, 0xffff };

	switch (rn(4)) {
	case 0:                                     /* IP total / payload length */
		if (v == 4)
			put16(ip + 2, rn(2) ? (unsigned)rn(0x10000) : (unsigned)(p->len - p->l3 + deltas[rn(12)] * (rn(2) ? 1 : -1u)));
		else
			put16(ip + 4, rn(2) ? (unsigned)rn(0x10000) : (unsigned)(p->len - p->l3 - 40 + deltas[rn(12)] * (rn(2) ? 1 : -1u)));
		break;
	case 1:                                     /* IHL, version */
		if (rn(2))
			ip[0] = (uint8_t)((ip[0] & 0xf0) | rn(16));
		else
			ip[0] = (uint8_t)((rn(16) << 4) | (ip[0] & 0x0f));
		break;
	case 2:                                     /* TCP data offset / UDP length */
		if (p->l4 + 14 <= p->len) {
			if (l4[12] || l4[13])
				l4[12] = (uint8_t)((rn(16) << 4) | (l4[12] & 0x0f));
			put16(l4 + 4, rn(0x10000));
		}
		break;
	default:                                    /* next header / protocol */
		if (v == 4)
			ip[9] = (uint8_t)rn(256);
		else
			ip[6] = (uint8_t)rn(256);
	}
	if (fix4 && p->l3 + 20 <= p->len)
		pkt_fix_ip4_csum(p);
}

static void mutate(struct pkt *p)
{
	unsigned n = 1 + rn(3), i, j;

	for (i = 0; i < n; i++) {
		switch (rn(5)) {
		case 0:                                 /* truncate */
			p->len = rn((unsigned)p->len + 1);
			break;
		case 1:                                 /* bit flips in the headers */
			for (j = 1 + rn(4); j && p->len; j--) {
				size_t at = rn((unsigned)(p->pay && p->pay < p->len ? p->pay : p->len));
				p->b[at] ^= (uint8_t)(1u << rn(8));
			}
			break;
		case 2:
			if (p->l3 && p->l4 && p->l4 < p->len)
				lie_lengths(p);
			break;
		case 3:                                 /* random bytes anywhere */
			for (j = 1 + rn(8); j && p->len; j--)
				p->b[rn((unsigned)p->len)] = (uint8_t)rnd();
			break;
		default:                                /* grow: trailing garbage */
			for (j = rn(64); j && p->len < PKT_MAX; j--)
				p->b[p->len++] = (uint8_t)rnd();
		}
	}
}

/* ---- checking ------------------------------------------------------------------ */

static uint8_t vip4[16], vip6[16];
static __u32 bk_ids[32];
static uint8_t bk_addrs[32][16];
static int nbk;

static void learn_addresses(void)
{
	unsigned s, b;

	addr16(FX_VIP4, vip4);
	addr16(FX_VIP6, vip6);
	for (s = 0; s < fx.cfg->nr_services; s++)
		for (b = 0; b < fx.cfg->services[s].nr_backends && nbk < 32; b++) {
			memcpy(bk_addrs[nbk], fx.cfg->services[s].backends[b].addr.addr, 16);
			bk_ids[nbk++] = sl_dp_backend_id(fx.dp, &fx.cfg->services[s].backends[b].addr);
		}
}

static int is_vip(const struct pview *v, const uint8_t *a)
{
	return !memcmp(a, v->af == 4 ? vip4 : vip6, v->af == 4 ? 4 : 16);
}

/*
 * The data path takes a UDP length shorter than the IP payload (as Linux
 * does: the receiver trims the datagram to it); pv_parse wants them equal.
 * Such a frame is judged as the receiver sees it: IP length cut down to the
 * UDP length (IPv4 header checksum fixed only when it was right). Returns
 * b itself, or the copy in buf.
 */
static const uint8_t *udp_trimmed(const uint8_t *b, size_t len, uint8_t *buf)
{
	size_t l3 = 14, hl, ulen;
	uint16_t et;
	int ok4;

	if (len < 14)
		return b;
	et = (uint16_t)(b[12] << 8 | b[13]);
	if (et == ET_VLAN || et == ET_QINQ) {
		if (len < 18)
			return b;
		et = (uint16_t)(b[16] << 8 | b[17]);
		l3 = 18;
	}
	if (et == ET_IP && len >= l3 + 20 && b[l3] >> 4 == 4 && b[l3 + 9] == P_UDP) {
		hl = (size_t)(b[l3] & 15) * 4;
		if (hl < 20 || len < l3 + hl + 8)
			return b;
		ulen = (size_t)(b[l3 + hl + 4] << 8 | b[l3 + hl + 5]);
		if (ulen < 8 || hl + ulen >= (size_t)(b[l3 + 2] << 8 | b[l3 + 3]))
			return b;
		ok4 = cs_fold(cs_add(0, b + l3, hl)) == 0xffff;
		memcpy(buf, b, len);
		put16(buf + l3 + 2, (unsigned)(hl + ulen));
		buf[l3 + 10] = buf[l3 + 11] = 0;
		put16(buf + l3 + 10, (unsigned)(uint16_t)~cs_fold(cs_add(0, buf + l3, hl)) ^ (ok4 ? 0u : 1u));
		return buf;
	}
	if (et == ET_IPV6 && len >= l3 + 40 && b[l3] >> 4 == 6) {
		uint8_t nh = b[l3 + 6];
		size_t off = l3 + 40;
		int k;

		for (k = 0; k < 8 && (nh == P_HOP || nh == P_DEST || nh == P_ROUTING ||
				      nh == P_FRAG || nh == P_AUTH); k++) {
			if (len < off + 8)
				return b;
			if (nh == P_FRAG && (b[off + 2] << 8 | b[off + 3]) & 0xfff8)
				return b;       /* not the first fragment */
			hl = nh == P_FRAG ? 8 : nh == P_AUTH ? ((size_t)b[off + 1] + 2) * 4
							   : ((size_t)b[off + 1] + 1) * 8;
			nh = b[off];
			off += hl;
		}
		if (nh != P_UDP || len < off + 8)
			return b;
		ulen = (size_t)(b[off + 4] << 8 | b[off + 5]);
		if (ulen < 8 || off - l3 - 40 + ulen >= (size_t)(b[l3 + 4] << 8 | b[l3 + 5]))
			return b;
		memcpy(buf, b, len);
		put16(buf + l3 + 4, (unsigned)(off - l3 - 40 + ulen));
		return buf;
	}
	if (0) {
		memcpy(buf, b, len);
		put16(buf + l3 + 4, (unsigned)ulen);
		return buf;
	}
	return b;
}

/* The frame as it left: NULL if fine, else what is wrong with it. */
static const char *check_out(const struct res *r, int in_valid, char *why, size_t n)
{
	static uint8_t buf[PKT_MAX];
	struct pview v;
	uint8_t mac[6];
	int i;

	if (pv_parse(&v, udp_trimmed(r->out, r->len, buf), r->len, why, n))
		return why;
	if (v.fragment) {
		snprintf(why, n, "a fragment left");
		return why;
	}
	if (v.proto != P_TCP && v.proto != P_UDP && v.proto != P_ICMP && v.proto != P_ICMP6) {
		snprintf(why, n, "protocol %u left", v.proto);
		return why;
	}
	for (i = 0; i < nbk; i++) {
		if (memcmp(v.dst, bk_addrs[i], v.af == 4 ? 4 : 16) ||
		    (v.af == 4 && (bk_addrs[i][4] | bk_addrs[i][5])))
			continue;
		fx_nh_mac(bk_ids[i], mac);
		if (r->ret == XDP_REDIRECT && memcmp(v.dmac, mac, 6)) {
			snprintf(why, n, "to backend %u with a MAC not its next hop's", bk_ids[i]);
			return why;
		}
		break;
	}
	if (i == nbk && !is_vip(&v, v.src)) {
		/* the quote may stop inside its L4 header: only its addresses */
		size_t al = v.af == 4 ? 4 : 16, ao = v.af == 4 ? 12 : 8;
		int quotes_vip = v.quote && v.quotelen >= (v.af == 4 ? 20u : 40u) &&
				 (!memcmp(v.quote + ao, v.af == 4 ? vip4 : vip6, al) ||
				  !memcmp(v.quote + ao + al, v.af == 4 ? vip4 : vip6, al));

		if (!quotes_vip) {
			snprintf(why, n, "neither to a backend nor from a VIP");
			return why;
		}
	}
	if (in_valid && pv_check_csums(&v, 0, why, n))
		return why;
	return NULL;
}

static int input_valid(const uint8_t *b, size_t len)
{
	static uint8_t buf[PKT_MAX];
	struct pview v;

	return !pv_parse(&v, udp_trimmed(b, len, buf), len, NULL, 0) && !pv_check_csums(&v, 0, NULL, 0);
}

static int rst_capable(int reason)
{
	return reason == SL_R_BREAKER_OPEN || reason == SL_R_BULKHEAD_BACKEND ||
	       reason == SL_R_PENDING_FULL || reason == SL_R_BULKHEAD_SERVICE ||
	       reason == SL_R_NO_BACKEND || reason == SL_R_TRIP_RESET ||
	       reason == SL_R_REDISPATCH_LATE;
}

static int reason_verdict(int reason)
{
	switch (reason) {
#define SL_R_V(e, v, n, d) case SL_R_##e: return XDP_##v;
	SL_REASONS(SL_R_V)
#undef SL_R_V
	}
	return -1;
}

static unsigned long long n_sent, n_fwd, n_by_reason[SL_R_MAX], n_mut, n_rand, n_base;

static void report_fail(const char *what, const uint8_t *b, size_t len, unsigned long long i,
			uint64_t seed, const struct res *r)
{
	static char hex[8192];

	pkt_hex(b, len, hex, sizeof(hex));
	print_error("frame %llu (seed %llu): %s; verdict %s, reason %s\ninput (%zu bytes):\n%s\n",
		    i, (unsigned long long)seed, what, fx_verdict_name(r->ret),
		    fx_reason_name(r->reason), len, hex);
	if (r->len && r->ret != XDP_DROP) {
		pkt_hex(r->out, r->len, hex, sizeof(hex));
		print_error("output (%u bytes):\n%s\n", r->len, hex);
	}
	fail();
}

static void random_and_mutated(void **state)
{
	static struct pkt p;
	static uint8_t in[PKT_MAX];
	static struct res r;
	__u64 start[SL_R_MAX], before[SL_R_MAX], after[SL_R_MAX], sum = 0;
	unsigned long long N = 100000, i;
	const char *e;
	uint64_t seed;
	char why[256];
	int k;

	(void)state;
	seed = (e = getenv("SL_SEED")) && *e ? strtoull(e, NULL, 0)
					     : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if ((e = getenv("SL_SOAK")) && *e && strcmp(e, "0"))
		N = 10000000;
	if ((e = getenv("SL_RANDOM_N")) && *e)
		N = strtoull(e, NULL, 0);
	rs = seed;
	printf("random: seed %llu (SL_SEED=%llu reproduces), %llu frames\n",
	       (unsigned long long)seed, (unsigned long long)seed, N);
	fflush(stdout);
	rbuf = calloc((size_t)SL_R_MAX * fx.ncpu, sizeof(*rbuf));
	assert_non_null(rbuf);
	learn_addresses();

	reasons_now(start);
	memcpy(before, start, sizeof(before));
	for (i = 0; i < N; i++) {
		__u32 ifindex = rn(2) ? fx.if_c : fx.if_b;
		size_t len, sz;
		int valid, reason = -1, opener = 0;

		if (rn(8) == 0) {                       /* random bytes */
			p.len = rn(2) ? rn(80) : rn(600);
			for (len = 0; len < p.len; len++)
				p.b[len] = (uint8_t)rnd();
			if (rn(2) && p.len >= 14) {     /* with a plausible ethertype */
				static const uint16_t et[] = { ET_IP, ET_IPV6, ET_VLAN, ET_QINQ };
				uint16_t t = et[rn(4)];

				p.b[12] = (uint8_t)(t >> 8);
				p.b[13] = (uint8_t)t;
				if (p.len >= 15 && t != ET_VLAN && t != ET_QINQ)
					p.b[14] = (uint8_t)(t == ET_IP ? 0x45 : 0x60);
			}
			n_rand++;
		} else {
			opener = base_frame(&p, &ifindex);
			if (!opener && rn(5)) {
				mutate(&p);
				n_mut++;
			} else {
				n_base++;
			}
		}
		len = p.len;
		sz = len < 14 ? 14 : len;
		memset(in, 0, sz);
		memcpy(in, p.b, len);
		valid = input_valid(in, len);
		{
			struct xdp_md ctx = { .data = 0, .data_end = (__u32)len, .ingress_ifindex = ifindex };
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)sz,
				    .data_out = r.out, .data_size_out = sizeof(r.out),
				    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

			if (bpf_prog_test_run_opts(fx.prog_fd, &o)) {
				if (len < 14 && errno == EINVAL)
					continue;       /* kernel < 6.17: not sent */
				snprintf(why, sizeof(why), "bpf_prog_test_run_opts: %s", strerror(errno));
				r.ret = 0;
				report_fail(why, in, len, i, seed, &r);
			}
			r.ret = o.retval;
			r.len = len < 14 ? (__u32)len : o.data_size_out;
		}
		n_sent++;
		reasons_now(after);
		r.reason = -1;
		for (k = 0; k < SL_R_MAX; k++) {
			if (after[k] == before[k])
				continue;
			r.reason = (r.reason == -1 && after[k] == before[k] + 1) ? k : -2;
		}
		memcpy(before, after, sizeof(before));
		reason = r.reason;

		if (r.ret == XDP_ABORTED || r.ret > XDP_REDIRECT)
			report_fail("aborted or unknown verdict", in, len, i, seed, &r);
		if (reason == -2)
			report_fail("more than one reason counted", in, len, i, seed, &r);
		if (reason == -1) {
			if (r.ret != XDP_REDIRECT && r.ret != XDP_TX)
				report_fail("not forwarded and no reason counted", in, len, i, seed, &r);
			n_fwd++;
		} else {
			int want = reason_verdict(reason);

			n_by_reason[reason]++;
			if (!((int)r.ret == want ||
			      (rst_capable(reason) && (r.ret == XDP_TX || r.ret == XDP_REDIRECT || r.ret == XDP_DROP))))
				report_fail("verdict does not match the reason", in, len, i, seed, &r);
		}
		/* A frame that leaves rewritten must be clean. */
		if (r.ret == XDP_TX || r.ret == XDP_REDIRECT ||
		    (r.ret == XDP_PASS && (reason == SL_R_NO_NEIGH || reason == SL_R_UNMANAGED))) {
			if (check_out(&r, valid, why, sizeof(why)))
				report_fail(why, in, len, i, seed, &r);
		} else if (r.ret == XDP_PASS && (r.len != len || memcmp(r.out, in, len)))
			report_fail("passed to the kernel, but changed", in, len, i, seed, &r);
		if ((i & 4095) == 4095)
			fx_events(NULL, 0);
	}
	reasons_now(after);
	for (k = 0; k < SL_R_MAX; k++)
		sum += after[k] - start[k];
	printf("random: %llu frames sent (%llu random bytes, %llu mutated, %llu valid), "
	       "%llu forwarded, %llu under a reason; seed %llu\n",
	       n_sent, n_rand, n_mut, n_base, n_fwd, (unsigned long long)sum, (unsigned long long)seed);
	for (k = 0; k < SL_R_MAX; k++)
		if (n_by_reason[k])
			printf("random:   %-20s %llu\n", fx_reason_name(k), n_by_reason[k]);
	if (sum + n_fwd != n_sent) {
		print_error("counters: reasons moved by %llu, forwarded %llu, sent %llu\n",
			    (unsigned long long)sum, n_fwd, n_sent);
		fail();
	}
	assert_true(n_fwd > 0);
	/* one line of pairs for bench/abuse.sh */
	printf("random: frames %llu forwarded %llu reasons %llu violations 0 seed %llu\n",
	       n_sent, n_fwd, (unsigned long long)sum, (unsigned long long)seed);
	free(rbuf);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(random_and_mutated),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("random", t, fx_setup, fx_teardown);
}
