// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reverse path: backend -> client replies of NAT'd flows, rewritten to come
 * from the VIP, sent to the client's next hop found with bpf_fib_lookup in
 * the test's own namespace.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	return 0;
}


static void reply_ok(int af, uint8_t proto, uint16_t sport, uint16_t vport, const char *svc, int udp_zero)
{
	struct spec fwd, rev;
	struct sl_flow_key k;
	struct sl_conn c;
	struct res r;
	__u32 id;

	fx_spec_fwd(&fwd, af, proto, sport, vport);
	fwd.udp_zero = udp_zero;
	id = fx_open_flow(&fwd, svc);
	fx_spec_rev(&rev, &fwd, id);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, fwd.dst, vport, XDP_REDIRECT);

	fx_flow_key(&k, fwd.src, sport, fwd.dst, vport, proto);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_true(c.flags & SL_CONN_F_REV_NH);
	assert_int_equal(c.rev_ifindex, fx.if_c);
	assert_memory_equal(c.rev_dmac, FX_MAC_CLIENT, 6);
	assert_memory_equal(c.rev_smac, FX_MAC_GW_C, 6);
	if (proto == P_TCP)
		assert_int_equal(c.state, SL_CONN_ESTABLISHED);

	/* and again, from the cached next hop */
	rev.tcp_flags = TH_ACK;
	rev.seq++;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, fwd.dst, vport, XDP_REDIRECT);
	if (udp_zero) {
		struct pview v;

		assert_int_equal(pv_parse(&v, r.out, r.len, NULL, 0), 0);
		assert_int_equal(v.l4[6] | v.l4[7], 0);
	}
}

static void v4_tcp(void **state) { reply_ok(4, P_TCP, 41001, 80, "web", 0); }
static void v6_tcp(void **state) { reply_ok(6, P_TCP, 41002, 443, "web6", 0); }
static void v4_udp(void **state) { reply_ok(4, P_UDP, 41003, 53, "dns", 0); }
static void v4_udp_zero_checksum(void **state) { reply_ok(4, P_UDP, 41004, 53, "dns", 1); }
static void v6_udp(void **state) { reply_ok(6, P_UDP, 41005, 53, "dns6", 0); }

/* A tagged reply leaves untagged. */
static void vlan_tag_stripped(void **state)
{
	struct spec fwd, rev;
	struct res r;
	__u32 id;

	fx_spec_fwd(&fwd, 6, P_TCP, 41006, 443);
	id = fx_open_flow(&fwd, "web6");
	fx_spec_rev(&rev, &fwd, id);
	rev.nvlan = 1;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, fwd.dst, 443, XDP_REDIRECT);
}

/* A backend's packet for no flow in the table: dropped, no_flow. */
static void no_flow(void **state)
{
	struct spec fwd, rev;
	struct res r;
	__u32 id = fx_bk_id("198.19.0.12", 8080, P_TCP);

	fx_spec_fwd(&fwd, 4, P_TCP, 41007, 80);
	fx_spec_rev(&rev, &fwd, id);
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_NO_FLOW);

	fx_spec_fwd(&fwd, 6, P_UDP, 41007, 53);
	fx_spec_rev(&rev, &fwd, fx_bk_id("2001:2:0:2::21", 5353, P_UDP));
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_NO_FLOW);
	assert_int_equal(fx_conn_count(), 0);
}

/* Another backend of the same service answering for the flow: no_flow. */
static void wrong_backend(void **state)
{
	const struct sl_cfg_service *cs = fx_cfg_svc("web");
	struct spec fwd, rev;
	struct res r;
	__u32 id, other = 0;
	unsigned b;

	fx_spec_fwd(&fwd, 4, P_TCP, 41008, 80);
	id = fx_open_flow(&fwd, "web");
	for (b = 0; b < cs->nr_backends && (!other || other == id); b++)
		other = sl_dp_backend_id(fx.dp, &cs->backends[b].addr);
	assert_int_not_equal(other, id);
	fx_spec_rev(&rev, &fwd, other);
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_NO_FLOW);
}

/* A client routed but not resolved: the rewritten reply goes to the kernel. */
static void client_no_neigh(void **state)
{
	struct spec fwd, rev;
	struct sl_flow_key k;
	struct sl_conn c;
	struct res r;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&fwd, af, P_TCP, 41009, af == 4 ? 80 : 443);
		fwd.src = af == 4 ? FX_CLI4_NONEIGH : FX_CLI6_NONEIGH;
		fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, af == 4 ? "web" : "web6"));
		fx_send(&rev, fx.if_b, &r);
		assert_reason(r.reason, SL_R_NO_NEIGH);
		fx_assert_reversed(&rev, &r, fwd.dst, fwd.dport, XDP_PASS);
		fx_flow_key(&k, fwd.src, fwd.sport, fwd.dst, fwd.dport, P_TCP);
		assert_int_equal(fx_conn(&k, &c), 0);
		assert_int_equal(c.flags & SL_CONN_F_REV_NH, 0);
	}
}

/* No route back to the client: dropped, fib_failed. */
static void client_no_route(void **state)
{
	struct spec fwd, rev;
	struct res r;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&fwd, af, P_UDP, 41010, 53);
		fwd.src = af == 4 ? FX_CLI4_NOROUTE : FX_CLI6_NOROUTE;
		fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, af == 4 ? "dns" : "dns6"));
		fx_send(&rev, fx.if_b, &r);
		assert_verdict(r.ret, XDP_DROP);
		assert_reason(r.reason, SL_R_FIB_FAILED);
	}
}

/* The reverse next hop is looked up once per flow and kept until the
 * daemon bumps the next-hop generation. */
static void rev_nexthop_cached_until_gen_bump(void **state)
{
	struct spec fwd, rev;
	struct res r;
	int rc;

	fx_spec_fwd(&fwd, 4, P_TCP, 41011, 80);
	fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, "web"));
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);

	rc = system("ip neigh del " FX_CLI4 " dev sl-c0");
	assert_int_equal(rc, 0);
	rev.tcp_flags = TH_ACK;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);      /* cached */

	assert_int_equal(sl_dp_bump_nh_gen(fx.dp), 0);
	fx_send(&rev, fx.if_b, &r);
	rc = system("ip neigh add " FX_CLI4 " lladdr 02:00:00:00:c1:10 dev sl-c0 nud permanent");
	assert_int_equal(rc, 0);
	assert_reason(r.reason, SL_R_NO_NEIGH);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_PASS);

	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
}

/* TCP state follows both directions. */
static void tcp_state(void **state)
{
	struct spec fwd, rev;
	struct sl_flow_key k;
	struct sl_conn c;
	struct res r;

	fx_spec_fwd(&fwd, 4, P_TCP, 41012, 80);
	fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, "web"));
	fx_flow_key(&k, FX_CLI4, 41012, FX_VIP4, 80, P_TCP);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_PENDING);

	rev.tcp_flags = TH_ACK;                 /* not a SYN-ACK: still pending */
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_PENDING);

	rev.tcp_flags = TH_SYN | TH_ACK;
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_ESTABLISHED);

	fwd.tcp_flags = TH_FIN | TH_ACK;
	fx_send(&fwd, fx.if_c, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_CLOSING);

	/* the backend's RST of another flow closes that one */
	fx_spec_fwd(&fwd, 6, P_TCP, 41012, 443);
	fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, "web6"));
	rev.tcp_flags = TH_RST;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP6, 443, XDP_REDIRECT);
	fx_flow_key(&k, FX_CLI6, 41012, FX_VIP6, 443, P_TCP);
	assert_int_equal(fx_conn(&k, &c), 0);
	assert_int_equal(c.state, SL_CONN_CLOSING);
}

/* A reply whose TTL would expire is the kernel's (time exceeded). */
static void ttl_one_passed(void **state)
{
	struct spec fwd, rev;
	struct pkt p;
	struct res r;

	fx_spec_fwd(&fwd, 6, P_UDP, 41013, 53);
	fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, "dns6"));
	rev.ttl = 1;
	spec_build(&rev, &p);
	fx_run(&p, fx.if_b, &r);
	assert_verdict(r.ret, XDP_PASS);
	assert_reason(r.reason, SL_R_TTL_EXCEEDED);
	fx_assert_unchanged(&p, &r);
}

/*
 * A backend's reply too big for its link leaves it in fragments. They are
 * part of a NAT'd flow: each must reach the client from the VIP (or be
 * dropped and counted), never pass to the kernel still carrying the
 * backend's address, which the client cannot match to its socket.
 */
/*
 * Fragments of a reply cannot be rewritten (later fragments carry no
 * ports). A first fragment from a backend's service endpoint is a reply:
 * dropped and counted, never passed on with the backend's address. A later
 * fragment names no flow and is the kernel's, like a backend's own traffic.
 */
static void fragmented_reply(void **state)
{
	static const char big[64] = "a large answer";
	static const struct ext6 first6[] = { { .type = P_FRAG, .frag_mf = 1 } };
	static const struct ext6 later6[] = { { .type = P_FRAG, .frag_off = 8 } };
	struct spec fwd, rev;
	struct res r;
	int af, i;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&fwd, af, P_UDP, 41014, 53);
		fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, af == 4 ? "dns" : "dns6"));
		rev.payload = big;
		rev.paylen = sizeof(big);
		for (i = 0; i < 2; i++) {
			if (af == 4) {
				rev.frag = i == 0 ? FRAG4(1, 0) : FRAG4(0, 9);
			} else {
				rev.ext = i == 0 ? first6 : later6;
				rev.next = 1;
			}
			fx_send(&rev, fx.if_b, &r);
			if (i == 0) {
				assert_int_equal(r.ret, XDP_DROP);
				assert_reason(r.reason, SL_R_FRAGMENT);
			} else {
				assert_int_equal(r.ret, XDP_PASS);
				assert_reason(r.reason, SL_R_NOT_OURS);
			}
		}
		/* The backend's own fragmented traffic, from another port. */
		rev.sport = 33333;
		rev.frag = af == 4 ? FRAG4(1, 0) : 0;
		rev.ext = af == 4 ? NULL : first6;
		rev.next = af == 4 ? 0 : 1;
		fx_send(&rev, fx.if_b, &r);
		assert_int_equal(r.ret, XDP_PASS);
		assert_reason(r.reason, SL_R_NOT_OURS);
	}
}

/* A backend's neighbour discovery and pings are the kernel's: dropping them
 * would leave the gateway unable to resolve the backend again. */
static void backend_icmp_passes(void **state)
{
	struct spec fwd, rev;
	struct pkt p;
	struct res r;
	int af;

	for (af = 4; af <= 6; af += 2) {
		fx_spec_fwd(&fwd, af, P_TCP, 41015, af == 4 ? 80 : 443);
		fx_spec_rev(&rev, &fwd, fx_open_flow(&fwd, af == 4 ? "web" : "web6"));
		rev.proto = af == 4 ? P_ICMP : P_ICMP6;
		rev.sport = rev.dport = 0;
		/* IPv4 echo request; IPv6 neighbour solicitation */
		rev.icmp_type = af == 4 ? 8 : 135;
		rev.icmp_rest = 0;
		spec_build(&rev, &p);
		fx_run(&p, fx.if_b, &r);
		assert_int_equal(r.ret, XDP_PASS);
		assert_reason(r.reason, SL_R_NOT_OURS);
		fx_assert_unchanged(&p, &r);
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(v4_tcp, per_test),
		cmocka_unit_test_setup(v6_tcp, per_test),
		cmocka_unit_test_setup(v4_udp, per_test),
		cmocka_unit_test_setup(v4_udp_zero_checksum, per_test),
		cmocka_unit_test_setup(v6_udp, per_test),
		cmocka_unit_test_setup(vlan_tag_stripped, per_test),
		cmocka_unit_test_setup(no_flow, per_test),
		cmocka_unit_test_setup(wrong_backend, per_test),
		cmocka_unit_test_setup(client_no_neigh, per_test),
		cmocka_unit_test_setup(client_no_route, per_test),
		cmocka_unit_test_setup(rev_nexthop_cached_until_gen_bump, per_test),
		cmocka_unit_test_setup(tcp_state, per_test),
		cmocka_unit_test_setup(ttl_one_passed, per_test),
		cmocka_unit_test_setup(fragmented_reply, per_test),
		cmocka_unit_test_setup(backend_icmp_passes, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("reverse", t, fx_setup, fx_teardown);
}
