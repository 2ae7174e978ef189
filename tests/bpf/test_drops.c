// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What is not forwarded: traffic that is not ours (passed untouched), and
 * every drop reason a packet can provoke, including frames cut at every
 * byte of every header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "sluice.skel.h"

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	return 0;
}

/* Run a frame and check verdict and the one reason counted. */
static void expect(const struct pkt *p, __u32 ifindex, __u32 verdict, int reason)
{
	struct res r;

	fx_run(p, ifindex, &r);
	assert_reason(r.reason, reason);
	assert_verdict(r.ret, verdict);
	if (verdict == XDP_PASS)
		fx_assert_unchanged(p, &r);
}

static void expect_spec(const struct spec *s, __u32 verdict, int reason)
{
	static struct pkt p;

	spec_build(s, &p);
	expect(&p, fx.if_c, verdict, reason);
}

/* ---- ours or not -------------------------------------------------------------- */

static void not_ours_passed(void **state)
{
	static const uint8_t proto[] = { P_TCP, P_UDP, P_GRE };
	struct spec s;
	int af;
	unsigned i;

	for (af = 4; af <= 6; af += 2) {
		for (i = 0; i < sizeof(proto); i++) {
			fx_spec_fwd(&s, af, proto[i], 42000, 80);
			s.dst = af == 4 ? FX_OTHER4 : FX_OTHER6;
			expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
		}
		/* from a backend's address, but not its service port */
		fx_spec_fwd(&s, af, P_TCP, 22, 42000);
		s.src = af == 4 ? "198.19.0.11" : "2001:2:0:2::11";
		s.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
		/* to a client, from nobody */
		fx_spec_fwd(&s, af, P_UDP, 53, 42000);
		s.src = af == 4 ? FX_OTHER4 : FX_OTHER6;
		s.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void vip_wrong_port_or_proto(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 42001, 81);
	expect_spec(&s, XDP_DROP, SL_R_NO_SERVICE);
	fx_spec_fwd(&s, 4, P_UDP, 42001, 80);
	expect_spec(&s, XDP_DROP, SL_R_NO_SERVICE);
	fx_spec_fwd(&s, 6, P_TCP, 42001, 53);
	expect_spec(&s, XDP_DROP, SL_R_NO_SERVICE);
	fx_spec_fwd(&s, 6, P_UDP, 42001, 443);
	expect_spec(&s, XDP_DROP, SL_R_NO_SERVICE);
	assert_int_equal(fx_conn_count(), 0);
}

static void not_ip_passed(void **state)
{
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	struct spec s;

	memset(&s, 0, sizeof(s));
	s.dmac = (const uint8_t *)"\xff\xff\xff\xff\xff\xff";
	s.smac = FX_MAC_CLIENT;
	s.ethertype = ET_ARP;
	s.payload = arp;
	s.paylen = sizeof(arp);
	expect_spec(&s, XDP_PASS, SL_R_NOT_IP);
	s.nvlan = 1;                            /* ARP in a VLAN */
	expect_spec(&s, XDP_PASS, SL_R_NOT_IP);
	s.nvlan = 0;
	s.ethertype = 0x88cc;                   /* LLDP */
	expect_spec(&s, XDP_PASS, SL_R_NOT_IP);
}

static void vlan_stacked_passed(void **state)
{
	static struct pkt p;
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 42002, 80);
	s.nvlan = 2;                            /* 802.1ad outer, 802.1Q inner */
	expect_spec(&s, XDP_PASS, SL_R_VLAN_STACKED);
	/* two 802.1Q tags */
	spec_build(&s, &p);
	p.b[12] = 0x81;
	p.b[13] = 0x00;
	expect(&p, fx.if_c, XDP_PASS, SL_R_VLAN_STACKED);
	assert_int_equal(fx_conn_count(), 0);
}

/* ---- IP headers ----------------------------------------------------------------- */

static void ipv4_malformed(void **state)
{
	static struct pkt p;
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 42003, 80);

	spec_build(&s, &p);                     /* version 5 */
	p.b[p.l3] = 0x55;
	pkt_fix_ip4_csum(&p);
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	spec_build(&s, &p);                     /* version 6 in an IPv4 ethertype */
	p.b[p.l3] = 0x65;
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	spec_build(&s, &p);                     /* IHL 4 */
	p.b[p.l3] = 0x44;
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);
	p.b[p.l3] = 0x40;                       /* IHL 0 */
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	spec_build(&s, &p);                     /* total length below the header */
	p.b[p.l3 + 2] = 0;
	p.b[p.l3 + 3] = 19;
	pkt_fix_ip4_csum(&p);
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	s.ip4opt = (const uint8_t *)"\x01\x01\x01\x01\x01\x01\x01\x00";
	s.ip4optlen = 8;
	spec_build(&s, &p);                     /* total length inside the options */
	p.b[p.l3 + 2] = 0;
	p.b[p.l3 + 3] = 24;
	pkt_fix_ip4_csum(&p);
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	s.ip4opt = NULL;
	s.ip4optlen = 0;
	spec_build(&s, &p);                     /* total length beyond the frame */
	p.b[p.l3 + 3] += 1;
	pkt_fix_ip4_csum(&p);
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_TRUNC);
	assert_int_equal(fx_conn_count(), 0);
}

static void ipv6_malformed(void **state)
{
	static struct pkt p;
	struct spec s;

	fx_spec_fwd(&s, 6, P_UDP, 42004, 53);
	spec_build(&s, &p);                     /* version 4 in an IPv6 ethertype */
	p.b[p.l3] = (uint8_t)((p.b[p.l3] & 0x0f) | 0x40);
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);

	spec_build(&s, &p);                     /* payload length beyond the frame */
	p.b[p.l3 + 5] += 1;
	expect(&p, fx.if_c, XDP_DROP, SL_R_L3_TRUNC);

	{
		static const struct ext6 ext[] = { { .type = P_DEST, .hdrlen = 3 } };

		s.ext = ext;
		s.next = 1;
		spec_build(&s, &p);             /* options header longer than the payload */
		p.b[p.l3 + 41] = 200;
		expect(&p, fx.if_c, XDP_DROP, SL_R_L3_MALFORMED);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void ipv4_fragments(void **state)
{
	static const uint16_t frags[] = { FRAG4(1, 0), FRAG4(1, 185), FRAG4(0, 185) };
	static const uint8_t proto[] = { P_TCP, P_UDP };
	struct spec s;
	unsigned i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 2; j++) {
			fx_spec_fwd(&s, 4, proto[j], 42005, proto[j] == P_TCP ? 80 : 53);
			s.frag = frags[i];
			expect_spec(&s, XDP_DROP, SL_R_FRAGMENT);
			s.dst = FX_OTHER4;              /* not a VIP: the kernel's */
			expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
		}
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void ipv6_fragments(void **state)
{
	static const struct ext6 first[] = { { .type = P_FRAG, .frag_off = 0, .frag_mf = 1 } };
	static const struct ext6 later[] = { { .type = P_HOP }, { .type = P_FRAG, .frag_off = 100 } };
	static const struct ext6 mid[] = { { .type = P_FRAG, .frag_off = 100, .frag_mf = 1 } };
	const struct ext6 *e[] = { first, later, mid };
	int n[] = { 1, 2, 1 };
	struct spec s;
	unsigned i;

	for (i = 0; i < 3; i++) {
		fx_spec_fwd(&s, 6, P_UDP, 42006, 53);
		s.ext = e[i];
		s.next = n[i];
		expect_spec(&s, XDP_DROP, SL_R_FRAGMENT);
		s.dst = FX_OTHER6;
		expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void ipv6_ext_limit(void **state)
{
	struct ext6 ext[SL_IPV6_EXT_MAX + 2];
	struct spec s;
	int i;

	for (i = 0; i < SL_IPV6_EXT_MAX + 2; i++) {
		memset(&ext[i], 0, sizeof(ext[i]));
		ext[i].type = i == 0 ? P_HOP : (i & 1) ? P_DEST : P_ROUTING;
	}
	for (i = SL_IPV6_EXT_MAX + 1; i <= SL_IPV6_EXT_MAX + 2; i++) {
		fx_spec_fwd(&s, 6, P_TCP, 42007, 443);
		s.ext = ext;
		s.next = i;
		expect_spec(&s, XDP_DROP, SL_R_IPV6_EXT_LIMIT);
		s.dst = FX_OTHER6;
		expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
	}
	assert_int_equal(fx_conn_count(), 0);
}

/* ---- L4 ------------------------------------------------------------------------ */

static void tcp_bad_data_offset(void **state)
{
	static const uint8_t doffs[] = { 0, 4, 15 };
	static struct pkt p;
	struct spec s;
	unsigned i;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&s, af, P_TCP, 42008, af == 4 ? 80 : 443);
		s.paylen = 4;                   /* doff 15 (60 bytes) is beyond the segment */
		for (i = 0; i < sizeof(doffs); i++) {
			spec_build(&s, &p);
			p.b[p.l4 + 12] = (uint8_t)(doffs[i] << 4);
			expect(&p, fx.if_c, XDP_DROP, SL_R_L4_MALFORMED);
		}
		s.dst = af == 4 ? FX_OTHER4 : FX_OTHER6;
		spec_build(&s, &p);
		p.b[p.l4 + 12] = 4 << 4;
		expect(&p, fx.if_c, XDP_PASS, SL_R_NOT_OURS);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void udp_bad_length(void **state)
{
	static struct pkt p;
	struct spec s;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&s, af, P_UDP, 42009, 53);
		spec_build(&s, &p);
		p.b[p.l4 + 4] = 0;
		p.b[p.l4 + 5] = 7;              /* below the header */
		expect(&p, fx.if_c, XDP_DROP, SL_R_L4_MALFORMED);
		p.b[p.l4 + 5] = 0;              /* 0 */
		expect(&p, fx.if_c, XDP_DROP, SL_R_L4_MALFORMED);
		spec_build(&s, &p);
		p.b[p.l4 + 5] += 1;             /* beyond the IP payload */
		expect(&p, fx.if_c, XDP_DROP, SL_R_L4_MALFORMED);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void unsupported_protocols(void **state)
{
	static const uint8_t protos[] = { P_GRE, P_SCTP, P_NONE, 4 /* IPIP */, 50 /* ESP */ };
	static const uint8_t body[32];
	struct spec s;
	unsigned i;
	int af;

	for (af = 4; af <= 6; af += 2) {
		for (i = 0; i < sizeof(protos); i++) {
			fx_spec_fwd(&s, af, protos[i], 0, 0);
			s.payload = body;
			s.paylen = sizeof(body);
			expect_spec(&s, XDP_DROP, SL_R_PROTO);
		}
		/* ICMPv6 in IPv4 and ICMP in IPv6 are just other protocols */
		fx_spec_fwd(&s, af, af == 4 ? P_ICMP6 : P_ICMP, 0, 0);
		s.payload = body;
		s.paylen = sizeof(body);
		expect_spec(&s, XDP_DROP, SL_R_PROTO);
	}
}

static void icmp_echo_to_vip(void **state)
{
	struct spec s;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&s, af, af == 4 ? P_ICMP : P_ICMP6, 0, 0);
		s.icmp_type = af == 4 ? 8 : 128;
		s.icmp_rest = 0x00010001;
		expect_spec(&s, XDP_DROP, SL_R_ICMP_UNMATCHED);
		s.dst = af == 4 ? FX_OTHER4 : FX_OTHER6;
		expect_spec(&s, XDP_PASS, SL_R_NOT_OURS);
	}
}

static void rst_without_flow(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 42010, 80);
	s.tcp_flags = TH_RST;
	expect_spec(&s, XDP_DROP, SL_R_NO_FLOW);
	fx_spec_fwd(&s, 6, P_TCP, 42010, 443);
	s.tcp_flags = TH_RST | TH_ACK;
	expect_spec(&s, XDP_DROP, SL_R_NO_FLOW);
	assert_int_equal(fx_conn_count(), 0);
}

static void ttl_exceeded_passed(void **state)
{
	static struct pkt p;
	struct spec s;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&s, af, P_UDP, 42011, 53);
		s.ttl = 1;
		expect_spec(&s, XDP_PASS, SL_R_TTL_EXCEEDED);
		spec_build(&s, &p);             /* TTL 0 */
		p.b[p.l3 + (af == 4 ? 8 : 7)] = 0;
		if (af == 4)
			pkt_fix_ip4_csum(&p);
		expect(&p, fx.if_c, XDP_PASS, SL_R_TTL_EXCEEDED);
	}
}

/* ---- truncation ------------------------------------------------------------------ */

/*
 * Cut a frame at every length short of complete. raw: the IP header still
 * claims the whole packet (a frame cut in transit). consistent: the IP
 * lengths are fixed to the cut, so the L3 header is fine and the L4 header
 * is what is short. Never forwarded; each cut counted under exactly the
 * reason its shape calls for.
 */
static int expected_cut_reason(const struct pkt *p, const struct spec *s, size_t cut, int consistent)
{
	size_t l2 = p->l3, iph = s->af == 4 ? 20 : 40;
	int i;

	if (cut < 14 || cut < l2)
		return SL_R_L2_TRUNC;
	if (cut < l2 + iph || !consistent)
		return SL_R_L3_TRUNC;
	if (s->af == 4) {
		if (cut < p->l4)
			return SL_R_L3_MALFORMED;       /* total length inside the options */
	} else {
		size_t off = l2 + 40;

		for (i = 0; i < s->next; i++) {
			size_t len = s->ext[i].type == P_FRAG ? 8 :
				     s->ext[i].type == P_AUTH ? ((size_t)s->ext[i].hdrlen + 2) * 4 :
				     ((size_t)s->ext[i].hdrlen + 1) * 8;
			size_t need = s->ext[i].type == P_FRAG ? 8 : 2;

			if (cut < off + len)
				return cut < off + need ? SL_R_L3_TRUNC : SL_R_L3_MALFORMED;
			off += len;
		}
	}
	if (s->proto == P_TCP)
		return cut < p->l4 + 20 ? SL_R_L4_TRUNC : SL_R_L4_MALFORMED;
	return SL_R_L4_TRUNC;
}

static int soft(int reason)
{
	return reason == SL_R_L4_TRUNC || reason == SL_R_L4_MALFORMED;
}

/* other: the same frames addressed to nobody's address, where what only
 * matters for a VIP (L4) is the kernel's business */
static void cut_all_to(const struct spec *s0, int consistent, int other)
{
	static struct pkt p, c;
	struct spec s = *s0;
	size_t cut, end;
	struct res r;

	if (other)
		s.dst = s.af == 4 ? FX_OTHER4 : FX_OTHER6;
	spec_build(&s, &p);
	end = consistent ? p.pay : p.len;       /* consistent: up to the end of the L4 header */
	for (cut = 0; cut < end; cut++) {
		int want = expected_cut_reason(&p, &s, cut, consistent);
		__u32 verdict = XDP_DROP;

		if (other && soft(want)) {
			want = SL_R_NOT_OURS;
			verdict = XDP_PASS;
		}
		c = p;
		c.len = cut;
		if (consistent && cut >= p.l3 + (s.af == 4 ? 4 : 6)) {
			size_t ipl = cut - p.l3 - (s.af == 4 ? 0 : 40);

			if (s.af == 6 && cut < p.l3 + 40)
				ipl = 0;
			c.b[p.l3 + (s.af == 4 ? 2 : 4)] = (uint8_t)(ipl >> 8);
			c.b[p.l3 + (s.af == 4 ? 3 : 5)] = (uint8_t)ipl;
			if (s.af == 4 && cut >= p.l3 + 20)
				pkt_fix_ip4_csum(&c);
		}
		if (fx_run_raw(c.b, cut, fx.if_c, &r))
			continue;               /* shorter than this kernel's test run takes */
		if (r.reason != want || r.ret != verdict) {
			print_error("%s cut at %zu of %zu bytes%s: %s, %s; expected %s, %s\n",
				    consistent ? "consistent" : "raw", cut, p.len, other ? " (not to a VIP)" : "",
				    fx_reason_name(r.reason), fx_verdict_name(r.ret), fx_reason_name(want),
				    fx_verdict_name(verdict));
			fail();
		}
		if (verdict == XDP_PASS)
			assert_memory_equal(r.out, c.b, cut);
	}
	assert_int_equal(fx_conn_count(), 0);
}

static void cut_all(const struct spec *s, int consistent)
{
	cut_all_to(s, consistent, 0);
	cut_all_to(s, consistent, 1);
}

static void truncated_v4_tcp_options(void **state)
{
	static const uint8_t ipopt[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	static const uint8_t tcpopt[12] = { 2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 };
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 42020, 80);
	s.ip4opt = ipopt;
	s.ip4optlen = sizeof(ipopt);
	s.tcpopt = tcpopt;
	s.tcpoptlen = sizeof(tcpopt);
	cut_all(&s, 0);
	cut_all(&s, 1);
}

static void truncated_v4_udp_vlan(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 4, P_UDP, 42021, 53);
	s.nvlan = 1;
	cut_all(&s, 0);
	cut_all(&s, 1);
}

static void truncated_v6_tcp_ext(void **state)
{
	static const struct ext6 ext[] = {
		{ .type = P_HOP, .hdrlen = 0 }, { .type = P_FRAG }, { .type = P_DEST, .hdrlen = 1 },
	};
	struct spec s;

	fx_spec_fwd(&s, 6, P_TCP, 42022, 443);
	s.ext = ext;
	s.next = 3;
	cut_all(&s, 0);
	cut_all(&s, 1);
}

static void truncated_v6_udp_vlan(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 6, P_UDP, 42023, 53);
	s.nvlan = 1;
	cut_all(&s, 0);
	cut_all(&s, 1);
}

/* Frames shorter than their Ethernet or VLAN header. */
static void truncated_ethernet_and_vlan(void **state)
{
	static const uint8_t vlan[18] = { [12] = 0x81, [13] = 0x00, [16] = 0x08, [17] = 0x00 };
	struct res r;
	size_t cut;

	for (cut = 0; cut < sizeof(vlan); cut++) {
		if (fx_run_raw(vlan, cut, fx.if_c, &r))
			continue;
		assert_reason(r.reason, SL_R_L2_TRUNC);
		assert_verdict(r.ret, XDP_DROP);
	}
}

/* ---- one packet per reason ------------------------------------------------------ */

static __u32 web_backend(struct spec *s, uint16_t sport)
{
	struct sl_flow_key k;

	fx_spec_fwd(s, 4, P_TCP, sport, 80);
	fx_flow_key(&k, s->src, sport, s->dst, 80, P_TCP);
	return fx_predict("web", &k, 0);
}

static void restore_nexthop(__u32 id)
{
	uint8_t mac[6];

	fx_nh_mac(id, mac);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, fx.if_lo, mac, FX_MAC_NH_SRC), 0);
}

/*
 * Every reason of include/sluice/reasons.h, each provoked by one packet
 * here: a reason added to the table without a packet that provokes it
 * fails this test.
 */
static void every_reason_has_a_packet(void **state)
{
	static struct pkt p;
	int seen[SL_R_MAX] = { 0 };
	struct spec s;
	struct res r;
	__u32 id;
	int i;

#define SEEN(want, verdict) do { \
		assert_reason(r.reason, want); \
		assert_verdict(r.ret, verdict); \
		seen[want] = 1; \
	} while (0)

	fx_spec_fwd(&s, 4, P_TCP, 42100, 80);
	s.ethertype = ET_ARP;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_NOT_IP, XDP_PASS);

	fx_spec_fwd(&s, 4, P_TCP, 42100, 80);
	s.dst = FX_OTHER4;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_NOT_OURS, XDP_PASS);

	fx_spec_fwd(&s, 4, P_TCP, 42100, 80);
	s.nvlan = 2;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_VLAN_STACKED, XDP_PASS);

	fx_spec_fwd(&s, 4, P_TCP, 42100, 80);
	s.ttl = 1;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_TTL_EXCEEDED, XDP_PASS);

	id = web_backend(&s, 42101);            /* no next hop, no neighbour */
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, 0, NULL, NULL), 0);
	{
		char addr[64], cmd[128];
		uint16_t port;

		fx_bk_addr(id, addr, sizeof(addr), &port);
		snprintf(cmd, sizeof(cmd), "ip neigh del %s dev sl-b0", addr);
		assert_int_equal(system(cmd), 0);
		fx_send(&s, fx.if_c, &r);
		snprintf(cmd, sizeof(cmd), "ip route add unreachable %s/32", addr);
		assert_int_equal(system(cmd), 0);
		fx_flush_conns();
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_FIB_FAILED, XDP_DROP);
		snprintf(cmd, sizeof(cmd), "ip route del unreachable %s/32", addr);
		assert_int_equal(system(cmd), 0);
		fx_flush_conns();
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_NO_NEIGH, XDP_PASS);
	}
	restore_nexthop(id);
	assert_int_equal(fx_apply(FX_CONFIG), 0);       /* neighbours back */

	id = web_backend(&s, 42102);            /* next hop on an interface not ours */
	{
		uint8_t mac[6];

		fx_nh_mac(id, mac);
		assert_int_equal(sl_dp_set_nexthop(fx.dp, id, fx.if_b + 1000, mac, FX_MAC_NH_SRC), 0);
		fx_send(&s, fx.if_c, &r);
		restore_nexthop(id);
		SEEN(SL_R_UNMANAGED, XDP_PASS);
	}

	fx_spec_fwd(&s, 4, P_TCP, 42103, 80);
	s.nvlan = 1;
	spec_build(&s, &p);
	fx_run_raw(p.b, 16, fx.if_c, &r);
	SEEN(SL_R_L2_TRUNC, XDP_DROP);
	fx_run_raw(p.b, 30, fx.if_c, &r);
	SEEN(SL_R_L3_TRUNC, XDP_DROP);
	p.b[p.l3] = 0x44;
	fx_run(&p, fx.if_c, &r);
	SEEN(SL_R_L3_MALFORMED, XDP_DROP);

	s.frag = FRAG4(0, 100);
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_FRAGMENT, XDP_DROP);

	{
		struct ext6 ext[SL_IPV6_EXT_MAX + 1];

		memset(ext, 0, sizeof(ext));
		fx_spec_fwd(&s, 6, P_UDP, 42103, 53);
		for (i = 0; i <= SL_IPV6_EXT_MAX; i++)
			ext[i].type = P_DEST;
		s.ext = ext;
		s.next = SL_IPV6_EXT_MAX + 1;
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_IPV6_EXT_LIMIT, XDP_DROP);
	}

	fx_spec_fwd(&s, 6, P_UDP, 42104, 53);
	spec_build(&s, &p);
	p.b[p.l3 + 4] = 0;
	p.b[p.l3 + 5] = 4;                      /* half a UDP header */
	p.len = p.l3 + 44;
	fx_run(&p, fx.if_c, &r);
	SEEN(SL_R_L4_TRUNC, XDP_DROP);
	spec_build(&s, &p);
	p.b[p.l4 + 5] = 3;
	fx_run(&p, fx.if_c, &r);
	SEEN(SL_R_L4_MALFORMED, XDP_DROP);

	fx_spec_fwd(&s, 6, P_SCTP, 42105, 53);
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_PROTO, XDP_DROP);

	fx_spec_fwd(&s, 6, P_TCP, 42105, 8080);
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_NO_SERVICE, XDP_DROP);

	fx_spec_fwd(&s, 4, P_TCP, 42106, 80);
	s.tcp_flags = TH_RST;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_NO_FLOW, XDP_DROP);

	fx_spec_fwd(&s, 4, P_ICMP, 0, 0);
	s.icmp_type = 8;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_ICMP_UNMATCHED, XDP_DROP);

	fx_spec_fwd(&s, 4, P_ICMP, 0, 0);
	s.icmp_type = 3;
	s.inner = (const uint8_t *)"\x45\x00";        /* 2 bytes of a quoted header */
	s.innerlen = 2;
	s.paylen = 0;
	fx_send(&s, fx.if_c, &r);
	SEEN(SL_R_ICMP_MALFORMED, XDP_DROP);

	/* Refusals of a new flow, each dropped: UDP, or TCP with the service's
	 * reject = "drop" (reject = "rst" is test_gates'). */
	{
		const struct sl_cfg_service *cs = fx_cfg_svc("dns");
		__u32 dns = fx_svc_id(FX_VIP4, 53, P_UDP);
		struct sl_svc sv, sv_saved;
		struct sl_backend saved[8], b;
		struct sl_bk_live bl;
		struct sl_svc_live sl;
		__u32 ids[8];
		unsigned j;

		for (j = 0; j < cs->nr_backends && j < 8; j++) {
			ids[j] = sl_dp_backend_id(fx.dp, &cs->backends[j].addr);
			saved[j] = fx_bk_get(ids[j]);
		}
		/* no backend can take flows at all */
		for (j = 0; j < cs->nr_backends && j < 8; j++) {
			b = saved[j];
			b.weight = 0;
			fx_bk_put(ids[j], &b);
		}
		fx_spec_fwd(&s, 4, P_UDP, 42107, 53);
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_NO_BACKEND, XDP_DROP);
		/* every breaker open */
		for (j = 0; j < cs->nr_backends && j < 8; j++) {
			b = saved[j];
			b.breaker = SL_BRK_OPEN;
			fx_bk_put(ids[j], &b);
		}
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_BREAKER_OPEN, XDP_DROP);
		/* every backend at max_conns */
		memset(&bl, 0, sizeof(bl));
		bl.active = 1;
		for (j = 0; j < cs->nr_backends && j < 8; j++) {
			b = saved[j];
			b.max_conns = 1;
			fx_bk_put(ids[j], &b);
			fx_bk_live_put(ids[j], &bl);
		}
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_BULKHEAD_BACKEND, XDP_DROP);
		for (j = 0; j < cs->nr_backends && j < 8; j++)
			fx_bk_put(ids[j], &saved[j]);
		/* the service at max_conns */
		sv_saved = sv = fx_svc_get(FX_VIP4, 53, P_UDP);
		sv.max_conns = 1;
		fx_svc_put(FX_VIP4, 53, P_UDP, &sv);
		memset(&sl, 0, sizeof(sl));
		sl.active = 1;
		fx_svc_live_put(dns, &sl);
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_BULKHEAD_SERVICE, XDP_DROP);
		fx_svc_put(FX_VIP4, 53, P_UDP, &sv_saved);
		fx_flush_conns();
	}
	{
		/* every backend of web at max_pending, web rejecting by drop */
		const struct sl_cfg_service *cs = fx_cfg_svc("web");
		struct sl_svc sv, sv_saved;
		struct sl_backend saved[8], b;
		struct sl_bk_live bl;
		__u32 ids[8];
		unsigned j;

		memset(&bl, 0, sizeof(bl));
		bl.pending = 2;
		for (j = 0; j < cs->nr_backends && j < 8; j++) {
			ids[j] = sl_dp_backend_id(fx.dp, &cs->backends[j].addr);
			saved[j] = b = fx_bk_get(ids[j]);
			b.max_pending = 2;
			fx_bk_put(ids[j], &b);
			fx_bk_live_put(ids[j], &bl);
		}
		sv_saved = sv = fx_svc_get(FX_VIP4, 80, P_TCP);
		sv.reject = SL_REJECT_DROP;
		fx_svc_put(FX_VIP4, 80, P_TCP, &sv);
		fx_spec_fwd(&s, 4, P_TCP, 42108, 80);
		fx_send(&s, fx.if_c, &r);
		SEEN(SL_R_PENDING_FULL, XDP_DROP);
		for (j = 0; j < cs->nr_backends && j < 8; j++)
			fx_bk_put(ids[j], &saved[j]);
		fx_svc_put(FX_VIP4, 80, P_TCP, &sv_saved);
		fx_flush_conns();

		/* an RST of a flow whose backend is being reset: dropped,
		 * never answered */
		id = fx_open_flow(&s, "web");
		b = fx_bk_get(id);
		b.flags |= SL_BK_F_RESET;
		fx_bk_put(id, &b);
		s.tcp_flags = TH_RST;
		fx_send(&s, fx.if_c, &r);
		b.flags &= ~SL_BK_F_RESET;
		fx_bk_put(id, &b);
		SEEN(SL_R_TRIP_RESET, XDP_DROP);
	}
	{
		/* a backend's reply to the gateway's own address (a health
		 * check's SYN-ACK): no flow, given to the kernel untouched */
		struct spec fwd;

		fx_spec_fwd(&fwd, 4, P_TCP, 42109, 80);
		fwd.src = "198.19.0.1";                 /* sl-b0's own address */
		fx_spec_rev(&s, &fwd, sl_dp_backend_id(fx.dp, &fx_cfg_svc("web")->backends[0].addr));
		fx_send(&s, fx.if_b, &r);
		SEEN(SL_R_TO_GATEWAY, XDP_PASS);
		fx_spec_fwd(&fwd, 6, P_TCP, 42109, 80);
		fwd.src = "2001:2:0:2::1";
		fx_spec_rev(&s, &fwd, sl_dp_backend_id(fx.dp, &fx_cfg_svc("web6")->backends[0].addr));
		fx_send(&s, fx.if_b, &r);
		SEEN(SL_R_TO_GATEWAY, XDP_PASS);
	}
	{
		/* a backend a pending flow left (its RST redispatched the
		 * flow) answers again: an RST is dropped */
		struct sl_svc sv = fx_svc_get(FX_VIP4, 80, P_TCP), sv_saved = sv;
		struct spec fwd;

		sv.redispatch_max = 1;
		fx_svc_put(FX_VIP4, 80, P_TCP, &sv);
		fx_spec_fwd(&fwd, 4, P_TCP, 42110, 80);
		id = fx_open_flow(&fwd, "web");
		fx_spec_rev(&s, &fwd, id);
		s.tcp_flags = TH_RST | TH_ACK;
		fx_send(&s, fx.if_b, &r);
		assert_verdict(r.ret, XDP_REDIRECT);    /* the SYN, to another backend */
		fx_send(&s, fx.if_b, &r);
		SEEN(SL_R_REDISPATCH_LATE, XDP_DROP);
		fx_svc_put(FX_VIP4, 80, P_TCP, &sv_saved);
		fx_flush_conns();
	}
#undef SEEN
	for (i = 0; i < SL_R_MAX; i++)
		if (!seen[i])
			fail_msg("reason %s: no packet here provokes it", fx_reason_name(i));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(not_ours_passed, per_test),
		cmocka_unit_test_setup(vip_wrong_port_or_proto, per_test),
		cmocka_unit_test_setup(not_ip_passed, per_test),
		cmocka_unit_test_setup(vlan_stacked_passed, per_test),
		cmocka_unit_test_setup(ipv4_malformed, per_test),
		cmocka_unit_test_setup(ipv6_malformed, per_test),
		cmocka_unit_test_setup(ipv4_fragments, per_test),
		cmocka_unit_test_setup(ipv6_fragments, per_test),
		cmocka_unit_test_setup(ipv6_ext_limit, per_test),
		cmocka_unit_test_setup(tcp_bad_data_offset, per_test),
		cmocka_unit_test_setup(udp_bad_length, per_test),
		cmocka_unit_test_setup(unsupported_protocols, per_test),
		cmocka_unit_test_setup(icmp_echo_to_vip, per_test),
		cmocka_unit_test_setup(rst_without_flow, per_test),
		cmocka_unit_test_setup(ttl_exceeded_passed, per_test),
		cmocka_unit_test_setup(truncated_v4_tcp_options, per_test),
		cmocka_unit_test_setup(truncated_v4_udp_vlan, per_test),
		cmocka_unit_test_setup(truncated_v6_tcp_ext, per_test),
		cmocka_unit_test_setup(truncated_v6_udp_vlan, per_test),
		cmocka_unit_test_setup(truncated_ethernet_and_vlan, per_test),
		cmocka_unit_test_setup(every_reason_has_a_packet, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("drops", t, fx_setup, fx_teardown);
}
