// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Forward path: client -> VIP, every header shape the parser accepts, to
 * the backend the userspace Maglev predicts, with the exact output frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "fixture.h"

/* Client -> VIP for service svc: forwarded to the predicted backend. */
static __u32 forward_ok(const struct spec *s, const char *svc)
{
	struct sl_flow_key k;
	struct sl_conn c;
	struct res r;
	__u32 want;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	want = fx_predict(svc, &k, 0);
	assert_int_not_equal(want, 0);
	fx_send(s, fx.if_c, &r);
	fx_assert_forwarded(s, &r, want, NULL, NULL);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.bk_id, want);
	return want;
}

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	return 0;
}

static void v4_tcp_syn(void **state)
{
	struct sl_flow_key k;
	struct sl_conn c;
	struct spec s;
	__u32 id;

	fx_spec_fwd(&s, 4, P_TCP, 40001, 80);
	id = forward_ok(&s, "web");
	fx_flow_key(&k, FX_CLI4, 40001, FX_VIP4, 80, P_TCP);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_PENDING);
	assert_int_equal(c.flags & SL_CONN_F_RECOVER, 0);
	assert_int_equal(c.svc_id, fx_svc_id(FX_VIP4, 80, P_TCP));
	(void)id;
}

/* The flow's later packets follow its entry, whatever their flags. */
static void v4_tcp_flow_follows_entry(void **state)
{
	struct spec s;
	struct res r;
	__u32 id;
	int i;

	fx_spec_fwd(&s, 4, P_TCP, 40002, 80);
	id = forward_ok(&s, "web");
	for (i = 0; i < 3; i++) {
		s.tcp_flags = TH_ACK | (i == 1 ? TH_PSH : 0);
		s.seq += 1;
		s.ack = 0x1000 + (uint32_t)i;
		fx_send(&s, fx.if_c, &r);
		fx_assert_forwarded(&s, &r, id, NULL, NULL);
	}
}

static void v6_tcp_syn(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 6, P_TCP, 40003, 443);
	forward_ok(&s, "web6");
}

static void v4_udp(void **state)
{
	struct sl_flow_key k;
	struct sl_conn c;
	struct spec s;

	fx_spec_fwd(&s, 4, P_UDP, 40004, 53);
	forward_ok(&s, "dns");
	fx_flow_key(&k, FX_CLI4, 40004, FX_VIP4, 53, P_UDP);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_UDP);
}

/* UDP over IPv4 without a checksum: it must stay 0 (no checksum), not
 * become a "checksum" of the rewrite. */
static void v4_udp_zero_checksum(void **state)
{
	struct spec s;
	struct res r;
	__u32 id;

	fx_spec_fwd(&s, 4, P_UDP, 40005, 53);
	s.udp_zero = 1;
	id = forward_ok(&s, "dns");
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(r.out[14 + 20 + 6], 0);
	assert_int_equal(r.out[14 + 20 + 7], 0);
}

static void v6_udp(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 6, P_UDP, 40006, 53);
	forward_ok(&s, "dns6");
}

/* Many flows per service: each to the predicted backend, and every backend
 * of the service gets some (weights honoured roughly). */
static void many_flows_follow_maglev(void **state)
{
	static const struct { int af; uint8_t proto; uint16_t port; const char *svc; } svcs[] = {
		{ 4, P_TCP, 80, "web" }, { 4, P_UDP, 53, "dns" },
		{ 6, P_TCP, 443, "web6" }, { 6, P_UDP, 53, "dns6" },
	};
	unsigned i, n;

	for (i = 0; i < 4; i++) {
		const struct sl_cfg_service *cs = fx_cfg_svc(svcs[i].svc);
		unsigned hits[8] = { 0 }, b;

		assert_non_null(cs);
		for (n = 0; n < 120; n++) {
			struct spec s;
			__u32 id;

			fx_spec_fwd(&s, svcs[i].af, svcs[i].proto, (uint16_t)(20000 + n * 7), svcs[i].port);
			id = forward_ok(&s, svcs[i].svc);
			for (b = 0; b < cs->nr_backends; b++)
				if (sl_dp_backend_id(fx.dp, &cs->backends[b].addr) == id)
					hits[b]++;
		}
		for (b = 0; b < cs->nr_backends; b++)
			assert_true(hits[b] > 0);
	}
}

/* IPv4 with options: a record-route option (IHL 8), and 40 bytes (IHL 15). */
static void v4_options(void **state)
{
	static const uint8_t rr[] = { 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1 /* NOP */ };
	uint8_t big[40];
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 40007, 80);
	s.ip4opt = rr;
	s.ip4optlen = sizeof(rr);
	forward_ok(&s, "web");

	memset(big, 1, sizeof(big));            /* 39 NOPs and an EOL */
	big[39] = 0;
	fx_spec_fwd(&s, 4, P_UDP, 40008, 53);
	s.ip4opt = big;
	s.ip4optlen = sizeof(big);
	forward_ok(&s, "dns");
}

/* IPv6 with hop-by-hop and destination options headers. */
static void v6_hop_and_dest_options(void **state)
{
	static const struct ext6 ext[] = { { .type = P_HOP, .hdrlen = 0 }, { .type = P_DEST, .hdrlen = 1 } };
	struct spec s;

	fx_spec_fwd(&s, 6, P_TCP, 40009, 443);
	s.ext = ext;
	s.next = 2;
	forward_ok(&s, "web6");

	fx_spec_fwd(&s, 6, P_UDP, 40010, 53);
	s.ext = ext;
	s.next = 2;
	forward_ok(&s, "dns6");
}

/* As many extension headers as the bound allows, of every kind walked,
 * with an atomic fragment header (offset 0, no more fragments): not a
 * fragment. */
static void v6_ext_chain_at_bound(void **state)
{
	static const struct ext6 ext[SL_IPV6_EXT_MAX] = {
		{ .type = P_HOP, .hdrlen = 0 },
		{ .type = P_DEST, .hdrlen = 2 },
		{ .type = P_ROUTING, .hdrlen = 0 },
		{ .type = P_FRAG },
		{ .type = P_AUTH, .hdrlen = 4 },
		{ .type = P_DEST, .hdrlen = 0 },
	};
	struct spec s;

	fx_spec_fwd(&s, 6, P_TCP, 40011, 443);
	s.ext = ext;
	s.next = SL_IPV6_EXT_MAX;
	forward_ok(&s, "web6");
}

/* One 802.1Q tag: forwarded untagged with the right ethertype. */
static void vlan_tag_stripped(void **state)
{
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 40012, 80);
	s.nvlan = 1;
	forward_ok(&s, "web");

	fx_spec_fwd(&s, 6, P_UDP, 40013, 53);
	s.nvlan = 1;
	forward_ok(&s, "dns6");
}

/* One 802.1ad (QinQ service) tag alone: a tag like any other. */
static void vlan_8021ad_tag_stripped(void **state)
{
	static struct pkt p;
	struct sl_flow_key k;
	struct spec s;
	struct res r;

	fx_spec_fwd(&s, 4, P_UDP, 40019, 53);
	s.nvlan = 1;
	spec_build(&s, &p);
	p.b[12] = 0x88;
	p.b[13] = 0xa8;
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_UDP);
	fx_run(&p, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, fx_predict("dns", &k, 0), NULL, NULL);
}

/* TCP options travel unchanged (and the SYN's checksum covers them). */
static void tcp_options_kept(void **state)
{
	static const uint8_t opts[] = {
		2, 4, 0x05, 0xb4,                       /* MSS 1460 */
		4, 2,                                   /* SACK permitted */
		8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0,    /* timestamps */
		1,                                      /* NOP */
		3, 3, 7,                                /* window scale */
	};
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 40014, 80);
	s.tcpopt = opts;
	s.tcpoptlen = sizeof(opts);
	forward_ok(&s, "web");
	fx_spec_fwd(&s, 6, P_TCP, 40014, 443);
	s.tcpopt = opts;
	s.tcpoptlen = sizeof(opts);
	forward_ok(&s, "web6");
}

/* A mid-flow TCP packet with no entry (evicted, or older than sluice) goes
 * where the Maglev says and creates an entry marked as recovered. */
static void tcp_midflow_recovered(void **state)
{
	struct sl_flow_key k;
	struct sl_conn c;
	struct spec s;

	fx_spec_fwd(&s, 4, P_TCP, 40015, 80);
	s.tcp_flags = TH_ACK;
	forward_ok(&s, "web");
	fx_flow_key(&k, FX_CLI4, 40015, FX_VIP4, 80, P_TCP);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_ESTABLISHED);
	assert_true(c.flags & SL_CONN_F_RECOVER);
}

/* A frame padded beyond its IP packet (Ethernet minimum): the padding
 * travels untouched and no checksum covers it. */
static void ethernet_padding_kept(void **state)
{
	static struct pkt p, exp;
	struct sl_flow_key k;
	struct spec s, want;
	struct pview v;
	char addr[64], why[256];
	uint16_t port;
	struct res r;
	__u32 id;

	fx_spec_fwd(&s, 4, P_UDP, 40018, 53);
	s.paylen = 0;
	spec_build(&s, &p);
	assert_true(p.len < 60);
	memset(p.b + p.len, 0xa5, 60 - p.len);
	p.len = 60;
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_UDP);
	id = fx_predict("dns", &k, 0);
	fx_run(&p, fx.if_c, &r);
	assert_verdict(r.ret, XDP_REDIRECT);

	fx_bk_addr(id, addr, sizeof(addr), &port);
	want = s;
	want.dst = addr;
	want.dport = port;
	want.ttl = 63;
	{
		uint8_t mac[6];

		fx_nh_mac(id, mac);
		want.dmac = mac;
		want.smac = FX_MAC_NH_SRC;
		spec_build(&want, &exp);
	}
	memset(exp.b + exp.len, 0xa5, 60 - exp.len);
	exp.len = 60;
	assert_int_equal(pv_parse(&v, r.out, r.len, why, sizeof(why)), 0);
	if (pv_check_csums(&v, 1, why, sizeof(why)))
		fail_msg("%s", why);
	assert_int_equal(pkt_diff_masked(exp.b, exp.len, r.out, r.len), -1);
}

/* A TTL that would expire is left to the kernel (it sends time-exceeded). */
static void ttl_one_passed(void **state)
{
	struct pkt p;
	struct spec s;
	struct res r;

	fx_spec_fwd(&s, 4, P_TCP, 40016, 80);
	s.ttl = 1;
	spec_build(&s, &p);
	fx_run(&p, fx.if_c, &r);
	assert_verdict(r.ret, XDP_PASS);
	assert_reason(r.reason, SL_R_TTL_EXCEEDED);
	fx_assert_unchanged(&p, &r);

	fx_spec_fwd(&s, 6, P_UDP, 40016, 53);
	s.ttl = 1;
	spec_build(&s, &p);
	fx_run(&p, fx.if_c, &r);
	assert_verdict(r.ret, XDP_PASS);
	assert_reason(r.reason, SL_R_TTL_EXCEEDED);
	fx_assert_unchanged(&p, &r);
}

/* ---- next hops ------------------------------------------------------------- */

static __u32 any_web_backend(struct spec *s, uint16_t sport)
{
	struct sl_flow_key k;

	fx_spec_fwd(s, 4, P_TCP, sport, 80);
	fx_flow_key(&k, FX_CLI4, sport, FX_VIP4, 80, P_TCP);
	return fx_predict("web", &k, 0);
}

static void restore_nexthop(__u32 id)
{
	uint8_t mac[6];

	fx_nh_mac(id, mac);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, fx.if_lo, mac, FX_MAC_NH_SRC), 0);
}

/* No next hop known: the route lookup finds sl-b0 and the neighbour. */
static void nexthop_by_route_lookup(void **state)
{
	uint8_t mac[6];
	struct spec s;
	struct res r;
	__u32 id = any_web_backend(&s, 40020);

	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, 0, NULL, NULL), 0);
	fx_nh_mac(id, mac);             /* the fixture's neighbour entry on sl-b0 */
	fx_send(&s, fx.if_c, &r);
	restore_nexthop(id);
	fx_assert_forwarded(&s, &r, id, mac, FX_MAC_GW_B);

	fx_spec_fwd(&s, 6, P_UDP, 40020, 53);
	{
		struct sl_flow_key k;

		fx_flow_key(&k, FX_CLI6, 40020, FX_VIP6, 53, P_UDP);
		id = fx_predict("dns6", &k, 0);
	}
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, 0, NULL, NULL), 0);
	fx_nh_mac(id, mac);
	fx_send(&s, fx.if_c, &r);
	restore_nexthop(id);
	fx_assert_forwarded(&s, &r, id, mac, FX_MAC_GW_B);
}

/* No next hop, no neighbour: the rewritten packet goes to the kernel. */
static void nexthop_no_neigh(void **state)
{
	char cmd[256], addr[64];
	struct spec s, want;
	uint16_t port;
	struct res r;
	__u32 id = any_web_backend(&s, 40021);
	int rc;

	fx_bk_addr(id, addr, sizeof(addr), &port);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, 0, NULL, NULL), 0);
	snprintf(cmd, sizeof(cmd), "ip neigh del %s dev sl-b0", addr);
	rc = system(cmd);
	fx_send(&s, fx.if_c, &r);
	restore_nexthop(id);
	assert_int_equal(fx_apply(FX_CONFIG), 0);       /* puts the neighbour back */
	assert_int_equal(rc, 0);
	assert_verdict(r.ret, XDP_PASS);
	assert_reason(r.reason, SL_R_NO_NEIGH);
	want = s;
	want.dst = addr;
	want.dport = port;
	want.ttl = 63;
	fx_assert_frame(&want, &r, 1);
}

/* No next hop and no route: dropped, fib_failed. */
static void nexthop_no_route(void **state)
{
	char cmd[256], addr[64];
	uint16_t port;
	struct spec s;
	struct res r;
	__u32 id = any_web_backend(&s, 40022);
	int rc;

	fx_bk_addr(id, addr, sizeof(addr), &port);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, 0, NULL, NULL), 0);
	snprintf(cmd, sizeof(cmd), "ip route add unreachable %s/32", addr);
	rc = system(cmd);
	fx_send(&s, fx.if_c, &r);
	snprintf(cmd, sizeof(cmd), "ip route del unreachable %s/32", addr);
	rc |= system(cmd);
	restore_nexthop(id);
	assert_int_equal(rc, 0);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_FIB_FAILED);
}

/* A next hop on an interface sluice does not manage (not in sl_tx): the
 * rewritten packet is given to the kernel, its L2 header untouched. */
static void nexthop_unmanaged(void **state)
{
	uint8_t mac[6];
	char addr[64];
	struct spec s, want;
	uint16_t port;
	struct res r;
	__u32 id = any_web_backend(&s, 40023);

	fx_nh_mac(id, mac);
	fx_bk_addr(id, addr, sizeof(addr), &port);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, id, fx.if_b + 1000, mac, FX_MAC_NH_SRC), 0);
	s.nvlan = 1;
	fx_send(&s, fx.if_c, &r);
	restore_nexthop(id);
	assert_verdict(r.ret, XDP_PASS);
	assert_reason(r.reason, SL_R_UNMANAGED);
	want = s;
	want.dst = addr;
	want.dport = port;
	want.ttl = 63;
	fx_assert_frame(&want, &r, 1);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(v4_tcp_syn, per_test),
		cmocka_unit_test_setup(v4_tcp_flow_follows_entry, per_test),
		cmocka_unit_test_setup(v6_tcp_syn, per_test),
		cmocka_unit_test_setup(v4_udp, per_test),
		cmocka_unit_test_setup(v4_udp_zero_checksum, per_test),
		cmocka_unit_test_setup(v6_udp, per_test),
		cmocka_unit_test_setup(many_flows_follow_maglev, per_test),
		cmocka_unit_test_setup(v4_options, per_test),
		cmocka_unit_test_setup(v6_hop_and_dest_options, per_test),
		cmocka_unit_test_setup(v6_ext_chain_at_bound, per_test),
		cmocka_unit_test_setup(vlan_tag_stripped, per_test),
		cmocka_unit_test_setup(vlan_8021ad_tag_stripped, per_test),
		cmocka_unit_test_setup(tcp_options_kept, per_test),
		cmocka_unit_test_setup(tcp_midflow_recovered, per_test),
		cmocka_unit_test_setup(ethernet_padding_kept, per_test),
		cmocka_unit_test_setup(ttl_one_passed, per_test),
		cmocka_unit_test_setup(nexthop_by_route_lookup, per_test),
		cmocka_unit_test_setup(nexthop_no_neigh, per_test),
		cmocka_unit_test_setup(nexthop_no_route, per_test),
		cmocka_unit_test_setup(nexthop_unmanaged, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("forward", t, fx_setup, fx_teardown);
}
