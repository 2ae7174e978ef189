// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-service and per-backend counters after a known sequence of packets:
 * packets and bytes (frame length as received) of everything forwarded in
 * either direction, new_flows once per flow, nothing for what is not
 * forwarded, and per-reason counters summed over CPUs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define MAXBK 32

struct expect {
	__u64 svc_pk[8];
	__u64 svc_by[8], svc_nf[8];
	__u64 bk_pk[MAXBK], bk_by[MAXBK], bk_nf[MAXBK], bk_unreach[MAXBK];
};

struct snap {
	struct sl_svc_stats svc[8];
	struct sl_bk_stats bk[MAXBK];
	__u64 reasons[SL_R_MAX];
};

static void snapshot(struct snap *s)
{
	__u32 i;

	for (i = 0; i < 8; i++)
		s->svc[i] = fx_svc_stats(i);
	for (i = 1; i < MAXBK; i++)
		s->bk[i] = fx_bk_stats(i);
	fx_reasons(s->reasons);
}

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	return 0;
}

/* Send and account: forwarded (svc, bk) or not (svc == ~0). */
static void sent(struct expect *e, const struct spec *s, __u32 ifindex, __u32 svc, __u32 bk, int new_flow,
		 __u32 verdict, int reason)
{
	static struct pkt p;
	struct res r;

	spec_build(s, &p);
	fx_run(&p, ifindex, &r);
	assert_reason(r.reason, reason);
	assert_verdict(r.ret, verdict);
	if (svc == ~0u)
		return;
	assert_true(svc < 8 && bk < MAXBK);
	e->svc_pk[svc]++;
	e->svc_by[svc] += p.len;
	e->svc_nf[svc] += (__u64)new_flow;
	e->bk_pk[bk]++;
	e->bk_by[bk] += p.len;
	e->bk_nf[bk] += (__u64)new_flow;
}

static void check(const struct snap *a, const struct snap *b, const struct expect *e)
{
	__u32 i;

	for (i = 0; i < 8; i++) {
		if (b->svc[i].packets - a->svc[i].packets != e->svc_pk[i] ||
		    b->svc[i].bytes - a->svc[i].bytes != e->svc_by[i] ||
		    b->svc[i].new_flows - a->svc[i].new_flows != e->svc_nf[i])
			fail_msg("service %u: packets %llu bytes %llu new_flows %llu, expected %llu %llu %llu", i,
				 (unsigned long long)(b->svc[i].packets - a->svc[i].packets),
				 (unsigned long long)(b->svc[i].bytes - a->svc[i].bytes),
				 (unsigned long long)(b->svc[i].new_flows - a->svc[i].new_flows),
				 (unsigned long long)e->svc_pk[i], (unsigned long long)e->svc_by[i],
				 (unsigned long long)e->svc_nf[i]);
	}
	for (i = 1; i < MAXBK; i++) {
		if (b->bk[i].packets - a->bk[i].packets != e->bk_pk[i] ||
		    b->bk[i].bytes - a->bk[i].bytes != e->bk_by[i] ||
		    b->bk[i].new_flows - a->bk[i].new_flows != e->bk_nf[i] ||
		    b->bk[i].icmp_unreach - a->bk[i].icmp_unreach != e->bk_unreach[i])
			fail_msg("backend %u: packets %llu bytes %llu new_flows %llu icmp_unreach %llu, "
				 "expected %llu %llu %llu %llu", i,
				 (unsigned long long)(b->bk[i].packets - a->bk[i].packets),
				 (unsigned long long)(b->bk[i].bytes - a->bk[i].bytes),
				 (unsigned long long)(b->bk[i].new_flows - a->bk[i].new_flows),
				 (unsigned long long)(b->bk[i].icmp_unreach - a->bk[i].icmp_unreach),
				 (unsigned long long)e->bk_pk[i], (unsigned long long)e->bk_by[i],
				 (unsigned long long)e->bk_nf[i], (unsigned long long)e->bk_unreach[i]);
		if (b->bk[i].conn_refused != a->bk[i].conn_refused || b->bk[i].resets != a->bk[i].resets ||
		    b->bk[i].conn_timeout != a->bk[i].conn_timeout)
			fail_msg("backend %u: a resilience counter moved", i);
	}
}

static __u32 predict(const struct spec *s, const char *svc)
{
	struct sl_flow_key k;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	return fx_predict(svc, &k, 0);
}

static void sequence(void **state)
{
	__u32 web = fx_svc_id(FX_VIP4, 80, P_TCP), dns6 = fx_svc_id(FX_VIP6, 53, P_UDP);
	__u32 web6 = fx_svc_id(FX_VIP6, 443, P_TCP);
	static struct pkt quote;
	struct spec a, b, c, rev, u, urev, o, q;
	struct expect e;
	struct snap s0, s1;
	__u32 bka, bkb, bkc, bku, i;
	char addr[64];
	uint16_t port;

	memset(&e, 0, sizeof(e));
	snapshot(&s0);

	/* web: a SYN, two data packets (one tagged), the SYN-ACK and data back */
	fx_spec_fwd(&a, 4, P_TCP, 44001, 80);
	bka = predict(&a, "web");
	sent(&e, &a, fx.if_c, web, bka, 1, XDP_REDIRECT, -1);
	a.tcp_flags = TH_ACK;
	sent(&e, &a, fx.if_c, web, bka, 0, XDP_REDIRECT, -1);
	a.nvlan = 1;
	a.paylen = 3;
	sent(&e, &a, fx.if_c, web, bka, 0, XDP_REDIRECT, -1);
	a.nvlan = 0;
	fx_spec_rev(&rev, &a, bka);
	sent(&e, &rev, fx.if_b, web, bka, 0, XDP_REDIRECT, -1);
	rev.tcp_flags = TH_ACK | TH_PSH;
	rev.payload = "HTTP/1.0 200 OK\r\n\r\nhello";
	rev.paylen = 24;
	sent(&e, &rev, fx.if_b, web, bka, 0, XDP_REDIRECT, -1);

	/* web: another client port; a mid-flow packet without an entry is a new flow too */
	fx_spec_fwd(&b, 4, P_TCP, 44002, 80);
	bkb = predict(&b, "web");
	sent(&e, &b, fx.if_c, web, bkb, 1, XDP_REDIRECT, -1);
	fx_spec_fwd(&c, 4, P_TCP, 44003, 80);
	c.tcp_flags = TH_ACK;
	bkc = predict(&c, "web");
	sent(&e, &c, fx.if_c, web, bkc, 1, XDP_REDIRECT, -1);

	/* not forwarded: counted under reasons only */
	c.tcp_flags = TH_ACK;
	c.ttl = 1;
	sent(&e, &c, fx.if_c, ~0u, 0, 0, XDP_PASS, SL_R_TTL_EXCEEDED);
	fx_spec_fwd(&b, 4, P_TCP, 44004, 80);
	b.tcp_flags = TH_RST;
	sent(&e, &b, fx.if_c, ~0u, 0, 0, XDP_DROP, SL_R_NO_FLOW);
	fx_spec_fwd(&b, 4, P_TCP, 44004, 81);
	sent(&e, &b, fx.if_c, ~0u, 0, 0, XDP_DROP, SL_R_NO_SERVICE);
	fx_spec_fwd(&b, 4, P_TCP, 44005, 80);
	fx_spec_rev(&urev, &b, bka);
	sent(&e, &urev, fx.if_b, ~0u, 0, 0, XDP_DROP, SL_R_NO_FLOW);
	fx_spec_fwd(&b, 6, P_TCP, 44006, 443);
	b.dst = FX_OTHER6;
	sent(&e, &b, fx.if_c, ~0u, 0, 0, XDP_PASS, SL_R_NOT_OURS);

	/* dns6: one flow, three queries, two answers */
	fx_spec_fwd(&u, 6, P_UDP, 44010, 53);
	bku = predict(&u, "dns6");
	for (i = 0; i < 3; i++) {
		u.paylen = 5 + i;
		sent(&e, &u, fx.if_c, dns6, bku, i == 0, XDP_REDIRECT, -1);
	}
	fx_spec_rev(&urev, &u, bku);
	for (i = 0; i < 2; i++) {
		urev.paylen = 10 + i;
		sent(&e, &urev, fx.if_b, dns6, bku, 0, XDP_REDIRECT, -1);
	}

	/* an unreachable about flow a from its backend: a packet of the flow,
	 * and the backend's icmp_unreach */
	fx_bk_addr(bka, addr, sizeof(addr), &port);
	q = a;
	q.dst = addr;
	q.dport = port;
	spec_build_ip(&q, &quote);
	memset(&o, 0, sizeof(o));
	o.af = 4;
	o.proto = P_ICMP;
	o.src = addr;
	o.dst = FX_CLI4;
	o.icmp_type = 3;
	o.icmp_code = 3;
	o.inner = quote.b;
	o.innerlen = quote.len;
	o.dmac = FX_MAC_GW_B;
	o.smac = FX_MAC_CLIENT;
	sent(&e, &o, fx.if_b, web, bka, 0, XDP_REDIRECT, -1);
	e.bk_unreach[bka]++;

	snapshot(&s1);
	check(&s0, &s1, &e);
	assert_int_equal(s1.svc[web6].packets, s0.svc[web6].packets);
	assert_int_equal(s1.reasons[SL_R_TTL_EXCEEDED] - s0.reasons[SL_R_TTL_EXCEEDED], 1);
	assert_int_equal(s1.reasons[SL_R_NO_FLOW] - s0.reasons[SL_R_NO_FLOW], 2);
	assert_int_equal(s1.reasons[SL_R_NO_SERVICE] - s0.reasons[SL_R_NO_SERVICE], 1);
	assert_int_equal(s1.reasons[SL_R_NOT_OURS] - s0.reasons[SL_R_NOT_OURS], 1);
	assert_int_equal(fx_conn_count(), 4);
}

/* A reason counter sums over CPUs: many packets, one count each. */
static void reasons_count_every_packet(void **state)
{
	struct snap s0, s1;
	struct spec s;
	struct res r;
	int i;

	snapshot(&s0);
	fx_spec_fwd(&s, 4, P_UDP, 44020, 54);
	for (i = 0; i < 100; i++)
		fx_send(&s, fx.if_c, &r);
	snapshot(&s1);
	assert_int_equal(s1.reasons[SL_R_NO_SERVICE] - s0.reasons[SL_R_NO_SERVICE], 100);
	for (i = 0; i < SL_R_MAX; i++)
		if (i != SL_R_NO_SERVICE)
			assert_int_equal(s1.reasons[i], s0.reasons[i]);
}

/*
 * A SYN whose TTL expires here is not forwarded; its retry with a normal
 * TTL is the flow's first forwarded packet and must count as a new flow.
 */
static void new_flow_counted_after_ttl_expired_syn(void **state)
{
	__u32 web = fx_svc_id(FX_VIP4, 80, P_TCP);
	struct sl_svc_stats a, b;
	struct spec s;
	struct res r;
	__u32 bk;

	fx_spec_fwd(&s, 4, P_TCP, 44030, 80);
	bk = predict(&s, "web");
	a = fx_svc_stats(web);
	s.ttl = 1;
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_TTL_EXCEEDED);
	s.ttl = 64;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, bk, NULL, NULL);
	b = fx_svc_stats(web);
	assert_int_equal(b.packets - a.packets, 1);
	if (b.new_flows - a.new_flows != 1)
		fail_msg("new_flows moved by %llu for a flow whose first forwarded packet was a SYN "
			 "(its first SYN expired here and left an entry behind)",
			 (unsigned long long)(b.new_flows - a.new_flows));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(sequence, per_test),
		cmocka_unit_test_setup(reasons_count_every_packet, per_test),
		cmocka_unit_test_setup(new_flow_counted_after_ttl_expired_syn, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("counters", t, fx_setup, fx_teardown);
}
