// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ICMP errors about NAT'd flows, rewritten inside and out so that path-MTU
 * discovery and unreachables work through the gateway:
 *  - from the backend side (the backend, or a router on the way) quoting
 *    client -> backend: sent to the client quoting client -> VIP;
 *  - from the client side quoting VIP -> client: sent to the backend
 *    quoting backend -> client.
 * Every checksum (outer IP, ICMP, quoted IP, quoted L4) verified from scratch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define CLIENT_ROUTER4 "198.18.0.254"
#define CLIENT_ROUTER6 "2001:2:0:1::fe"

static const uint8_t MAC_BACKEND[6] = { 0x02, 0xbb, 0, 0, 0, 1 };

/* Extra headers the flow's packets carry (and quotes repeat): set by a
 * test, cleared by per_test. */
static const uint8_t *flow_ip4opt;
static size_t flow_ip4optlen;
static const struct ext6 *flow_ext;
static int flow_next;
static int flow_udp_zero;

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	flow_ip4opt = NULL;
	flow_ip4optlen = 0;
	flow_ext = NULL;
	flow_next = 0;
	flow_udp_zero = 0;
	return 0;
}


/* A short packet, so that a quote can hold all of it. */
static void short_fwd(struct spec *s, int af, uint8_t proto, uint16_t sport, uint16_t vport)
{
	fx_spec_fwd(s, af, proto, sport, vport);
	s->payload = "ping";
	s->paylen = 4;
	s->ip4opt = flow_ip4opt;
	s->ip4optlen = flow_ip4optlen;
	s->ext = flow_ext;
	s->next = flow_next;
	s->udp_zero = flow_udp_zero;
}

static void icmp_outer(struct spec *o, int af, const char *src, const char *dst,
		       uint8_t type, uint8_t code, uint32_t rest, const struct pkt *quote, size_t qlen)
{
	memset(o, 0, sizeof(*o));
	o->af = af;
	o->proto = af == 4 ? P_ICMP : P_ICMP6;
	o->src = src;
	o->dst = dst;
	o->ttl = 64;
	o->icmp_type = type;
	o->icmp_code = code;
	o->icmp_rest = rest;
	o->inner = quote->b;
	o->innerlen = qlen ? qlen : quote->len;
}

/* Quote length of "IP header + 8 bytes" (RFC 792's minimum). */
static size_t min_quote(const struct pkt *q)
{
	return q->l4 + 8;
}

/*
 * From the backend side. from: NULL for the backend itself, else a
 * router's address. qcut: quote length (0: all of it).
 */
static void backend_side(int af, uint8_t proto, uint16_t sport, uint16_t vport, const char *svc,
			 uint8_t type, uint8_t code, uint32_t rest, const char *from, size_t qcut,
			 int nvlan, int unreach)
{
	static struct pkt quote, want_quote;
	struct spec fwd, atbk, o, want;
	struct sl_bk_stats b0, b1;
	struct sl_svc_stats s0, s1;
	char bkaddr[64];
	uint16_t bkport;
	struct res r;
	__u32 id, svc_id;
	size_t qlen;

	short_fwd(&fwd, af, proto, sport, vport);
	id = fx_open_flow(&fwd, svc);
	svc_id = fx_svc_id(fwd.dst, vport, proto);
	fx_bk_addr(id, bkaddr, sizeof(bkaddr), &bkport);

	/* what the backend received, and quotes */
	atbk = fwd;
	atbk.dst = bkaddr;
	atbk.dport = bkport;
	atbk.ttl = 63;
	spec_build_ip(&atbk, &quote);
	qlen = qcut == 1 ? min_quote(&quote) : qcut ? qcut : quote.len;

	icmp_outer(&o, af, from ? from : bkaddr, fwd.src, type, code, rest, &quote, qlen);
	o.dmac = FX_MAC_GW_B;
	o.smac = MAC_BACKEND;
	o.nvlan = nvlan;

	b0 = fx_bk_stats(id);
	s0 = fx_svc_stats(svc_id);
	fx_send(&o, fx.if_b, &r);
	b1 = fx_bk_stats(id);
	s1 = fx_svc_stats(svc_id);

	/* what the client must get: its own packet, to the VIP, quoted */
	atbk.dst = fwd.dst;
	atbk.dport = vport;
	spec_build_ip(&atbk, &want_quote);
	want = o;
	want.dmac = FX_MAC_CLIENT;
	want.smac = FX_MAC_GW_C;
	want.nvlan = 0;
	want.src = from ? from : fwd.dst;
	want.ttl = 63;
	want.inner = want_quote.b;
	want.innerlen = qlen;
	assert_reason(r.reason, -1);
	assert_verdict(r.ret, XDP_REDIRECT);
	fx_assert_frame(&want, &r, qlen == quote.len);

	assert_int_equal(b1.icmp_unreach - b0.icmp_unreach, unreach);
	/* an unreachable is also a passive signal on the event ring */
	{
		struct sl_event ev[4];
		int n = fx_events(ev, 4);

		assert_int_equal(n, unreach);
		if (n) {
			assert_int_equal(ev[0].kind, SL_EV_ICMP);
			assert_int_equal(ev[0].bk_id, id);
			assert_int_equal(ev[0].svc_id, svc_id);
			assert_int_equal(ev[0].value, 0);
			assert_int_not_equal(ev[0].ns, 0);
		}
	}
	assert_int_equal(b1.packets - b0.packets, 1);
	assert_int_equal(s1.packets - s0.packets, 1);
	assert_int_equal(s1.bytes - s0.bytes, r.len + 4 * (unsigned)nvlan);
	assert_int_equal(b1.new_flows, b0.new_flows);
}

static void client_side_(int af, uint8_t proto, uint16_t sport, uint16_t vport, const char *svc,
			 uint8_t type, uint8_t code, uint32_t rest, const char *from, size_t qcut);

/* ---- from the backend side ----------------------------------------------------- */

static void v4_frag_needed_from_backend(void **state)
{
	backend_side(4, P_TCP, 43001, 80, "web", 3, 4, 1400, NULL, 0, 0, 1);
}

static void v4_frag_needed_from_router(void **state)
{
	backend_side(4, P_TCP, 43002, 80, "web", 3, 4, 1400, FX_ROUTER4, 0, 0, 1);
}

static void v4_port_unreachable_udp(void **state)
{
	backend_side(4, P_UDP, 43003, 53, "dns", 3, 3, 0, NULL, 0, 0, 1);
}

/* A quoted UDP header without a checksum keeps checksum 0. */
static void v4_port_unreachable_udp_no_checksum(void **state)
{
	flow_udp_zero = 1;
	backend_side(4, P_UDP, 43010, 53, "dns", 3, 3, 0, NULL, 0, 0, 1);
	client_side_(4, P_UDP, 43010, 53, "dns", 3, 3, 0, NULL, 0);
}

static void v4_time_exceeded_from_router(void **state)
{
	backend_side(4, P_UDP, 43004, 53, "dns", 11, 0, 0, FX_ROUTER4, 0, 0, 0);
}

/* RFC 792 quotes: IP header and 8 bytes, the TCP checksum not among them. */
static void v4_short_quote(void **state)
{
	backend_side(4, P_TCP, 43005, 80, "web", 3, 4, 1400, NULL, 1, 0, 1);
}

static void v4_tagged(void **state)
{
	backend_side(4, P_TCP, 43006, 80, "web", 3, 1, 0, NULL, 0, 1, 1);
}

static void v6_packet_too_big_from_backend(void **state)
{
	backend_side(6, P_TCP, 43011, 443, "web6", 2, 0, 1280, NULL, 0, 0, 0);
}

static void v6_packet_too_big_from_router(void **state)
{
	backend_side(6, P_TCP, 43012, 443, "web6", 2, 0, 1280, FX_ROUTER6, 0, 0, 0);
}

static void v6_port_unreachable_udp(void **state)
{
	backend_side(6, P_UDP, 43013, 53, "dns6", 1, 4, 0, NULL, 0, 0, 1);
}

static void v6_time_exceeded_from_router(void **state)
{
	backend_side(6, P_UDP, 43014, 53, "dns6", 3, 0, 0, FX_ROUTER6, 0, 1, 0);
}

static void v6_short_quote(void **state)
{
	backend_side(6, P_TCP, 43015, 443, "web6", 2, 0, 1280, NULL, 1, 0, 0);
}

/* The flow's packets carry IPv4 options: so does the quote. */
static void v4_quote_with_options(void **state)
{
	static const uint8_t rr[] = { 7, 7, 4, 0, 0, 0, 0, 1 };

	flow_ip4opt = rr;
	flow_ip4optlen = sizeof(rr);
	backend_side(4, P_TCP, 43008, 80, "web", 3, 4, 1400, NULL, 0, 0, 1);
	client_side_(4, P_UDP, 43009, 53, "dns", 3, 3, 0, NULL, 0);
}

/* The flow's packets carry a destination options header: so does the
 * quote, and the error is still about the flow. */
static void v6_quote_with_extension_header(void **state)
{
	static const struct ext6 ext[] = { { .type = P_DEST, .hdrlen = 0 } };

	flow_ext = ext;
	flow_next = 1;
	backend_side(6, P_TCP, 43016, 443, "web6", 2, 0, 1280, NULL, 0, 0, 0);
}

/*
 * A short quote in a frame with bytes after the IP packet (an Ethernet
 * trailer): only what the IP length covers belongs to the ICMP message.
 */
static void v4_short_quote_with_trailer(void **state)
{
	static struct pkt quote, want_quote, in, exp;
	struct spec fwd, atbk, o, want;
	char bkaddr[64];
	uint16_t bkport;
	struct res r;
	struct pview v;
	char why[256];
	__u32 id;

	short_fwd(&fwd, 4, P_TCP, 43007, 80);
	id = fx_open_flow(&fwd, "web");
	fx_bk_addr(id, bkaddr, sizeof(bkaddr), &bkport);
	atbk = fwd;
	atbk.dst = bkaddr;
	atbk.dport = bkport;
	atbk.ttl = 63;
	spec_build_ip(&atbk, &quote);
	icmp_outer(&o, 4, bkaddr, fwd.src, 3, 4, 1400, &quote, min_quote(&quote));
	o.dmac = FX_MAC_GW_B;
	o.smac = MAC_BACKEND;
	spec_build(&o, &in);
	memset(in.b + in.len, 0xee, 16);        /* trailer */
	in.len += 16;
	fx_run(&in, fx.if_b, &r);

	atbk.dst = fwd.dst;
	atbk.dport = 80;
	spec_build_ip(&atbk, &want_quote);
	want = o;
	want.dmac = FX_MAC_CLIENT;
	want.smac = FX_MAC_GW_C;
	want.src = fwd.dst;
	want.ttl = 63;
	want.inner = want_quote.b;
	spec_build(&want, &exp);
	memset(exp.b + exp.len, 0xee, 16);
	exp.len += 16;

	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(pv_parse(&v, r.out, r.len, why, sizeof(why)), 0);
	if (pv_check_csums(&v, 0, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(pkt_diff_masked(exp.b, exp.len, r.out, r.len), -1);
}

/* ---- from the client side ------------------------------------------------------- */

static void client_side_(int af, uint8_t proto, uint16_t sport, uint16_t vport, const char *svc,
			 uint8_t type, uint8_t code, uint32_t rest, const char *from, size_t qcut)
{
	static struct pkt quote, want_quote;
	struct spec fwd, rev, atcl, o, want;
	struct sl_bk_stats b0, b1;
	char bkaddr[64];
	uint16_t bkport;
	struct res r;
	__u32 id;
	size_t qlen;

	short_fwd(&fwd, af, proto, sport, vport);
	id = fx_open_flow(&fwd, svc);
	fx_bk_addr(id, bkaddr, sizeof(bkaddr), &bkport);
	fx_spec_rev(&rev, &fwd, id);
	rev.payload = "pong";
	rev.paylen = 4;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, fwd.dst, vport, XDP_REDIRECT);

	/* what the client received, and quotes back to the VIP */
	atcl = rev;
	atcl.src = fwd.dst;
	atcl.sport = vport;
	atcl.ttl = 60;
	spec_build_ip(&atcl, &quote);
	qlen = qcut == 1 ? min_quote(&quote) : qcut ? qcut : quote.len;
	icmp_outer(&o, af, from ? from : fwd.src, fwd.dst, type, code, rest, &quote, qlen);
	o.dmac = FX_MAC_GW_C;
	o.smac = FX_MAC_CLIENT;

	b0 = fx_bk_stats(id);
	fx_send(&o, fx.if_c, &r);
	b1 = fx_bk_stats(id);

	/* the backend gets its own packet quoted, sent to itself */
	atcl.src = bkaddr;
	atcl.sport = bkport;
	spec_build_ip(&atcl, &want_quote);
	want = o;
	{
		static uint8_t mac[6];

		fx_nh_mac(id, mac);
		want.dmac = mac;
	}
	want.smac = FX_MAC_NH_SRC;
	want.dst = bkaddr;
	want.ttl = 63;
	want.inner = want_quote.b;
	want.innerlen = qlen;
	assert_reason(r.reason, -1);
	assert_verdict(r.ret, XDP_REDIRECT);
	fx_assert_frame(&want, &r, qlen == quote.len);
	assert_int_equal(b1.packets - b0.packets, 1);
	assert_int_equal(b1.icmp_unreach, b0.icmp_unreach);
	assert_int_equal(fx_events(NULL, 0), 0);
}

static void v4_client_frag_needed(void **state)
{
	client_side_(4, P_TCP, 43021, 80, "web", 3, 4, 1300, NULL, 0);
}

static void v4_client_side_router_frag_needed(void **state)
{
	client_side_(4, P_TCP, 43022, 80, "web", 3, 4, 1300, CLIENT_ROUTER4, 0);
}

static void v4_client_port_unreachable(void **state)
{
	client_side_(4, P_UDP, 43023, 53, "dns", 3, 3, 0, NULL, 0);
}

static void v4_client_short_quote(void **state)
{
	client_side_(4, P_TCP, 43024, 80, "web", 3, 4, 1300, NULL, 1);
}

static void v6_client_packet_too_big(void **state)
{
	client_side_(6, P_TCP, 43031, 443, "web6", 2, 0, 1280, NULL, 0);
}

static void v6_client_side_router_too_big(void **state)
{
	client_side_(6, P_TCP, 43032, 443, "web6", 2, 0, 1280, CLIENT_ROUTER6, 0);
}

static void v6_client_port_unreachable(void **state)
{
	client_side_(6, P_UDP, 43033, 53, "dns6", 1, 4, 0, NULL, 0);
}

/* ---- unmatched and malformed ------------------------------------------------------ */

static void expect_icmp(const struct spec *o, __u32 ifindex, __u32 verdict, int reason)
{
	static struct pkt p;
	struct res r;

	spec_build(o, &p);
	fx_run(&p, ifindex, &r);
	assert_reason(r.reason, reason);
	assert_verdict(r.ret, verdict);
	if (verdict == XDP_PASS)
		fx_assert_unchanged(&p, &r);
}

static void unknown_flow(void **state)
{
	static struct pkt quote;
	struct spec q, o;
	int af;

	for (af = 4; af <= 6; af += 2) {
		/* backend side: client -> backend, no such flow */
		short_fwd(&q, af, P_TCP, 43040, 80);
		q.dst = af == 4 ? "198.19.0.11" : "2001:2:0:2::11";
		q.dport = af == 4 ? 8080 : 8443;
		spec_build_ip(&q, &quote);
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, af == 4 ? 4 : 0, 1280, &quote, 0);
		expect_icmp(&o, fx.if_b, XDP_DROP, SL_R_ICMP_UNMATCHED);

		/* client side: VIP -> client, no such flow */
		short_fwd(&q, af, P_UDP, 53, 43040);
		q.src = af == 4 ? FX_VIP4 : FX_VIP6;
		q.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		spec_build_ip(&q, &quote);
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 1, 3, 0, &quote, 0);
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_UNMATCHED);

		/* an error to a VIP about something that is not TCP/UDP */
		memset(&q, 0, sizeof(q));
		q.af = af;
		q.proto = af == 4 ? P_ICMP : P_ICMP6;
		q.src = af == 4 ? FX_VIP4 : FX_VIP6;
		q.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		q.icmp_type = af == 4 ? 0 : 129;        /* echo reply */
		spec_build_ip(&q, &quote);
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 1, 1, 0, &quote, 0);
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_UNMATCHED);

		/* an error about nothing of ours, between others: the kernel's */
		short_fwd(&q, af, P_TCP, 43041, 80);
		q.dst = af == 4 ? FX_OTHER4 : FX_OTHER6;
		spec_build_ip(&q, &quote);
		icmp_outer(&o, af, af == 4 ? FX_ROUTER4 : FX_ROUTER6, q.src, af == 4 ? 3 : 1, 0, 0, &quote, 0);
		expect_icmp(&o, fx.if_c, XDP_PASS, SL_R_NOT_OURS);
	}
	assert_int_equal(fx_conn_count(), 0);
}

/*
 * An error about a real flow from the backend side, but sent to an address
 * other than the flow's client (a backend, say): not forwarded to the
 * client as if it were its own, but left to the kernel.
 */
static void not_to_the_client(void **state)
{
	static struct pkt quote;
	struct spec fwd, atbk, o;
	struct sl_bk_stats b0;
	char bkaddr[64];
	uint16_t bkport;
	__u32 id;
	int af;

	for (af = 4; af <= 6; af += 2) {
		short_fwd(&fwd, af, P_UDP, 43050, 53);
		id = fx_open_flow(&fwd, af == 4 ? "dns" : "dns6");
		fx_bk_addr(id, bkaddr, sizeof(bkaddr), &bkport);
		atbk = fwd;
		atbk.dst = bkaddr;
		atbk.dport = bkport;
		atbk.ttl = 63;
		spec_build_ip(&atbk, &quote);
		icmp_outer(&o, af, af == 4 ? FX_ROUTER4 : FX_ROUTER6,
			   af == 4 ? FX_OTHER4 : FX_OTHER6, af == 4 ? 3 : 1, af == 4 ? 3 : 4, 0, &quote, 0);
		o.dmac = FX_MAC_GW_B;
		o.smac = MAC_BACKEND;
		b0 = fx_bk_stats(id);
		expect_icmp(&o, fx.if_b, XDP_PASS, SL_R_NOT_OURS);
		assert_int_equal(fx_bk_stats(id).icmp_unreach, b0.icmp_unreach);
	}
}

static void malformed_quote(void **state)
{
	static struct pkt quote;
	struct spec q, o;
	int af;

	for (af = 4; af <= 6; af += 2) {
		size_t iph = af == 4 ? 20 : 40;

		short_fwd(&q, af, P_TCP, 80, 43050);
		q.src = af == 4 ? FX_VIP4 : FX_VIP6;
		q.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		spec_build_ip(&q, &quote);

		/* quoted IP header cut */
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, 4, 1280, &quote, iph - 1);
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_MALFORMED);
		/* ports cut */
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, 4, 1280, &quote, iph + 3);
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_MALFORMED);
		/* nothing quoted */
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, 4, 1280, &quote, 0);
		o.innerlen = 0;
		o.inner = NULL;
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_MALFORMED);
		/* bad quoted version */
		quote.b[0] = (uint8_t)((quote.b[0] & 0x0f) | 0x50);
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, 4, 1280, &quote, 0);
		expect_icmp(&o, fx.if_c, XDP_DROP, SL_R_ICMP_MALFORMED);
		/* the same to nobody's address: the kernel's */
		o.dst = af == 4 ? FX_OTHER4 : FX_OTHER6;
		expect_icmp(&o, fx.if_c, XDP_PASS, SL_R_NOT_OURS);
	}
}

/* An ICMP header cut short, to a VIP: l4_truncated. */
static void truncated_icmp_header(void **state)
{
	static struct pkt quote, p;
	struct spec q, o;
	struct res r;
	int af;
	size_t cut;

	for (af = 4; af <= 6; af += 2) {
		short_fwd(&q, af, P_TCP, 80, 43060);
		q.src = af == 4 ? FX_VIP4 : FX_VIP6;
		q.dst = af == 4 ? FX_CLI4 : FX_CLI6;
		spec_build_ip(&q, &quote);
		icmp_outer(&o, af, q.dst, q.src, af == 4 ? 3 : 2, 4, 1280, &quote, 0);
		spec_build(&o, &p);
		for (cut = p.l4; cut < p.l4 + 8; cut++) {
			struct pkt c = p;
			size_t ipl = cut - p.l3 - (af == 4 ? 0 : 40);

			c.len = cut;
			c.b[p.l3 + (af == 4 ? 2 : 4)] = (uint8_t)(ipl >> 8);
			c.b[p.l3 + (af == 4 ? 3 : 5)] = (uint8_t)ipl;
			if (af == 4)
				pkt_fix_ip4_csum(&c);
			fx_run(&c, fx.if_c, &r);
			assert_reason(r.reason, SL_R_L4_TRUNC);
			assert_verdict(r.ret, XDP_DROP);
		}
	}
}

/* An error whose TTL would expire is the kernel's. */
static void ttl_one(void **state)
{
	static struct pkt quote;
	struct spec fwd, atbk, o;
	char bkaddr[64];
	uint16_t bkport;
	__u32 id;

	short_fwd(&fwd, 4, P_UDP, 43070, 53);
	id = fx_open_flow(&fwd, "dns");
	fx_bk_addr(id, bkaddr, sizeof(bkaddr), &bkport);
	atbk = fwd;
	atbk.dst = bkaddr;
	atbk.dport = bkport;
	spec_build_ip(&atbk, &quote);
	icmp_outer(&o, 4, bkaddr, fwd.src, 3, 3, 0, &quote, 0);
	o.ttl = 1;
	expect_icmp(&o, fx.if_b, XDP_PASS, SL_R_TTL_EXCEEDED);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(v4_frag_needed_from_backend, per_test),
		cmocka_unit_test_setup(v4_frag_needed_from_router, per_test),
		cmocka_unit_test_setup(not_to_the_client, per_test),
		cmocka_unit_test_setup(v4_port_unreachable_udp, per_test),
		cmocka_unit_test_setup(v4_port_unreachable_udp_no_checksum, per_test),
		cmocka_unit_test_setup(v4_time_exceeded_from_router, per_test),
		cmocka_unit_test_setup(v4_short_quote, per_test),
		cmocka_unit_test_setup(v4_tagged, per_test),
		cmocka_unit_test_setup(v4_short_quote_with_trailer, per_test),
		cmocka_unit_test_setup(v4_quote_with_options, per_test),
		cmocka_unit_test_setup(v6_quote_with_extension_header, per_test),
		cmocka_unit_test_setup(v6_packet_too_big_from_backend, per_test),
		cmocka_unit_test_setup(v6_packet_too_big_from_router, per_test),
		cmocka_unit_test_setup(v6_port_unreachable_udp, per_test),
		cmocka_unit_test_setup(v6_time_exceeded_from_router, per_test),
		cmocka_unit_test_setup(v6_short_quote, per_test),
		cmocka_unit_test_setup(v4_client_frag_needed, per_test),
		cmocka_unit_test_setup(v4_client_side_router_frag_needed, per_test),
		cmocka_unit_test_setup(v4_client_port_unreachable, per_test),
		cmocka_unit_test_setup(v4_client_short_quote, per_test),
		cmocka_unit_test_setup(v6_client_packet_too_big, per_test),
		cmocka_unit_test_setup(v6_client_side_router_too_big, per_test),
		cmocka_unit_test_setup(v6_client_port_unreachable, per_test),
		cmocka_unit_test_setup(unknown_flow, per_test),
		cmocka_unit_test_setup(malformed_quote, per_test),
		cmocka_unit_test_setup(truncated_icmp_header, per_test),
		cmocka_unit_test_setup(ttl_one, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("icmp", t, fx_setup, fx_teardown);
}
