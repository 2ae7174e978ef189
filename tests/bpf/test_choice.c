// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Backend choice over time: flows stick to their backend across config
 * changes while new flows follow the new Maglev table; refusing backends
 * are skipped along the probe sequence; with none left, the flow is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "maglev.h"
#include "sluice.skel.h"

/* FX_CONFIG with web grown by one backend, web6 shrunk by one, dns6
 * reweighted; dns unchanged. */
static const char CONF_CHANGED[] =
	"interfaces = ( \"sl-c0\", \"sl-b0\" );\n"
	"services = (\n"
	"  { name = \"web\"; vip = \"" FX_VIP4 "\"; port = 80; proto = \"tcp\";\n"
	"    backends = (\n"
	"      { addr = \"198.19.0.11\"; port = 8080; weight = 1; },\n"
	"      { addr = \"198.19.0.12\"; port = 8080; weight = 1; },\n"
	"      { addr = \"198.19.0.13\"; port = 8080; weight = 2; },\n"
	"      { addr = \"198.19.0.14\"; port = 8080; weight = 2; } ); },\n"
	"  { name = \"dns\"; vip = \"" FX_VIP4 "\"; port = 53; proto = \"udp\";\n"
	"    backends = (\n"
	"      { addr = \"198.19.0.21\"; port = 5353; weight = 1; },\n"
	"      { addr = \"198.19.0.22\"; port = 5353; weight = 1; } ); },\n"
	"  { name = \"web6\"; vip = \"" FX_VIP6 "\"; port = 443; proto = \"tcp\";\n"
	"    backends = (\n"
	"      { addr = \"2001:2:0:2::11\"; port = 8443; weight = 1; },\n"
	"      { addr = \"2001:2:0:2::13\"; port = 8443; weight = 1; } ); },\n"
	"  { name = \"dns6\"; vip = \"" FX_VIP6 "\"; port = 53; proto = \"udp\";\n"
	"    backends = (\n"
	"      { addr = \"2001:2:0:2::21\"; port = 5353; weight = 1; },\n"
	"      { addr = \"2001:2:0:2::22\"; port = 5353; weight = 1; } ); }\n"
	");\n";

#define NFLOWS 64

static int per_test(void **state)
{
	(void)state;
	fx_flush_conns();
	return fx_apply(FX_CONFIG);
}

static __u32 send_fwd(struct spec *s, const char *svc, unsigned cand)
{
	struct sl_flow_key k;
	struct res r;
	__u32 id;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	id = fx_predict(svc, &k, cand);
	fx_send(s, fx.if_c, &r);
	fx_assert_forwarded(s, &r, id, NULL, NULL);
	return id;
}

static void sticky_service(int af, uint8_t proto, uint16_t port, const char *svc,
			   const char *added, const char *removed, uint16_t bport)
{
	__u32 before[NFLOWS], id, added_id = 0, removed_id = 0;
	unsigned i, moved = 0, to_added = 0;
	struct sl_flow_key k;
	struct spec s, rev;
	struct res r;

	if (removed)
		removed_id = fx_bk_id(removed, bport, proto);
	for (i = 0; i < NFLOWS; i++) {
		fx_spec_fwd(&s, af, proto, (uint16_t)(30000 + i), port);
		before[i] = send_fwd(&s, svc, 0);
	}
	assert_int_equal(fx_apply(CONF_CHANGED), 0);
	if (added)
		added_id = fx_bk_id(added, bport, proto);

	for (i = 0; i < NFLOWS; i++) {
		fx_spec_fwd(&s, af, proto, (uint16_t)(30000 + i), port);
		s.tcp_flags = TH_ACK;
		fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, proto);
		if (fx_predict(svc, &k, 0) != before[i])
			moved++;
		fx_send(&s, fx.if_c, &r);
		fx_assert_forwarded(&s, &r, before[i], NULL, NULL);
		/* the old backend still answers through the gateway, removed or not */
		fx_spec_rev(&rev, &s, before[i]);
		rev.tcp_flags = TH_ACK;
		fx_send(&rev, fx.if_b, &r);
		fx_assert_reversed(&rev, &r, s.dst, port, XDP_REDIRECT);
	}
	/* the new table would have moved some: the entries kept them */
	assert_true(moved > 0);

	for (i = 0; i < NFLOWS; i++) {
		fx_spec_fwd(&s, af, proto, (uint16_t)(31000 + i), port);
		id = send_fwd(&s, svc, 0);
		assert_int_not_equal(id, removed_id);
		to_added += id == added_id;
	}
	if (added)
		assert_true(to_added > 0);
}

static void sticky_backend_added(void **state)
{
	sticky_service(4, P_TCP, 80, "web", "198.19.0.14", NULL, 8080);
}

static void sticky_backend_removed(void **state)
{
	sticky_service(6, P_TCP, 443, "web6", NULL, "2001:2:0:2::12", 8443);
}

static void sticky_reweighted(void **state)
{
	sticky_service(6, P_UDP, 53, "dns6", NULL, NULL, 5353);
}

/* ---- gates ------------------------------------------------------------------- */

static struct sl_backend bk_read(__u32 id)
{
	struct sl_backend b;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &id, &b), 0);
	return b;
}

static void bk_write(__u32 id, const struct sl_backend *b)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &id, b, BPF_ANY), 0);
}

/* The first candidate in probe order whose id is not `skip`. */
static __u32 next_distinct(const char *svc, const struct sl_flow_key *k, __u32 skip)
{
	unsigned i;

	for (i = 1; i < SL_PROBE_SLOTS; i++) {
		__u32 id = fx_predict(svc, k, i);

		if (id != skip)
			return id;
	}
	return 0;
}

/* A refusing first choice: each flow goes to its next distinct candidate
 * in probe order. */
static void refusal_fails_over(__u8 breaker, __u32 weight, __u32 flags)
{
	struct sl_backend saved, b;
	struct sl_flow_key k;
	struct sl_conn c;
	struct spec s;
	struct res r;
	__u32 first, second;
	uint16_t sport;

	for (sport = 32100; sport < 32124; sport++) {
		fx_spec_fwd(&s, 4, P_TCP, sport, 80);
		fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
		first = fx_predict("web", &k, 0);
		second = next_distinct("web", &k, first);
		assert_int_not_equal(second, 0);
		saved = b = bk_read(first);
		b.breaker = breaker;
		if (weight != ~0u)
			b.weight = weight;
		b.flags |= flags;
		bk_write(first, &b);
		fx_send(&s, fx.if_c, &r);
		bk_write(first, &saved);
		fx_assert_forwarded(&s, &r, second, NULL, NULL);
		assert_int_equal(fx_conn(&k, &c), 0);
		assert_int_equal(c.bk_id, second);
	}
}

static void open_breaker_fails_over(void **state) { refusal_fails_over(SL_BRK_OPEN, ~0u, 0); }
static void draining_fails_over(void **state) { refusal_fails_over(SL_BRK_DRAINING, ~0u, 0); }
static void weight_zero_fails_over(void **state) { refusal_fails_over(SL_BRK_CLOSED, 0, 0); }
static void gone_fails_over(void **state) { refusal_fails_over(SL_BRK_CLOSED, ~0u, SL_BK_F_GONE); }

/*
 * Every backend refuses: nothing created, the first candidate's reason
 * counted (breaker_open when all are open, no_backend when none can take
 * flows at all), and the service's reject action: web's default is "rst"
 * (an RST sent back where the SYN came from; test_gates checks the RST), "drop" drops.
 */
static void all_refuse(__u8 breaker, __u32 weight, __u8 reject, int want_reason, __u32 want_verdict)
{
	const struct sl_cfg_service *cs = fx_cfg_svc("web");
	struct sl_svc sv = fx_svc_get(FX_VIP4, 80, P_TCP), sv_saved = sv;
	struct sl_backend saved[8], b;
	__u32 ids[8];
	struct spec s;
	struct res r;
	unsigned i;

	for (i = 0; i < cs->nr_backends; i++) {
		ids[i] = sl_dp_backend_id(fx.dp, &cs->backends[i].addr);
		saved[i] = b = bk_read(ids[i]);
		b.breaker = breaker;
		b.weight = weight;
		bk_write(ids[i], &b);
	}
	sv.reject = reject;
	fx_svc_put(FX_VIP4, 80, P_TCP, &sv);
	fx_spec_fwd(&s, 4, P_TCP, 32001, 80);
	fx_send(&s, fx.if_c, &r);
	for (i = 0; i < cs->nr_backends; i++)
		bk_write(ids[i], &saved[i]);
	fx_svc_put(FX_VIP4, 80, P_TCP, &sv_saved);
	assert_verdict(r.ret, want_verdict);
	assert_reason(r.reason, want_reason);
	assert_int_equal(fx_conn_count(), 0);
}

static void all_open_breaker_open(void **state) { all_refuse(SL_BRK_OPEN, 1, SL_REJECT_RST, SL_R_BREAKER_OPEN, XDP_REDIRECT); }
static void all_open_dropped(void **state) { all_refuse(SL_BRK_OPEN, 1, SL_REJECT_DROP, SL_R_BREAKER_OPEN, XDP_DROP); }
static void all_weight_zero_no_backend(void **state) { all_refuse(SL_BRK_CLOSED, 0, SL_REJECT_RST, SL_R_NO_BACKEND, XDP_REDIRECT); }

/* An existing flow keeps its backend while that backend refuses new flows. */
static void existing_flow_kept_while_draining(void **state)
{
	struct sl_backend saved, b;
	struct spec s;
	struct res r;
	__u32 id;

	fx_spec_fwd(&s, 6, P_UDP, 32002, 53);
	id = send_fwd(&s, "dns6", 0);
	saved = b = bk_read(id);
	b.breaker = SL_BRK_DRAINING;
	bk_write(id, &b);
	fx_send(&s, fx.if_c, &r);
	bk_write(id, &saved);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
}

/*
 * A client reusing the 5-tuple of a finished connection (FIN seen) after
 * its backend left the config opens a new connection: it must not be sent
 * to the removed backend.
 */
static void reused_tuple_after_backend_removed(void **state)
{
	struct spec s;
	struct res r;
	__u32 id, removed = fx_bk_id("2001:2:0:2::12", 8443, P_TCP);
	uint16_t sport;

	/* a client port whose flow lands on the backend about to go */
	for (sport = 33000; sport < 34000; sport++) {
		struct sl_flow_key k;

		fx_flow_key(&k, FX_CLI6, sport, FX_VIP6, 443, P_TCP);
		if (fx_predict("web6", &k, 0) == removed)
			break;
	}
	fx_spec_fwd(&s, 6, P_TCP, sport, 443);
	id = send_fwd(&s, "web6", 0);
	assert_int_equal(id, removed);
	s.tcp_flags = TH_FIN | TH_ACK;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(fx_apply(CONF_CHANGED), 0);

	s.tcp_flags = TH_SYN;
	s.seq += 100000;
	fx_send(&s, fx.if_c, &r);
	{
		struct sl_flow_key k;
		struct sl_conn c;

		fx_flow_key(&k, FX_CLI6, s.sport, FX_VIP6, 443, P_TCP);
		assert_int_equal(fx_conn(&k, &c), 0);
		if (c.bk_id == removed)
			fail_msg("new SYN on a closed flow's 5-tuple went to backend %u, "
				 "removed from the config (GONE)", removed);
		fx_assert_forwarded(&s, &r, fx_predict("web6", &k, 0), NULL, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(sticky_backend_added, per_test),
		cmocka_unit_test_setup(sticky_backend_removed, per_test),
		cmocka_unit_test_setup(sticky_reweighted, per_test),
		cmocka_unit_test_setup(open_breaker_fails_over, per_test),
		cmocka_unit_test_setup(draining_fails_over, per_test),
		cmocka_unit_test_setup(weight_zero_fails_over, per_test),
		cmocka_unit_test_setup(gone_fails_over, per_test),
		cmocka_unit_test_setup(all_open_breaker_open, per_test),
		cmocka_unit_test_setup(all_open_dropped, per_test),
		cmocka_unit_test_setup(all_weight_zero_no_backend, per_test),
		cmocka_unit_test_setup(existing_flow_kept_while_draining, per_test),
		cmocka_unit_test_setup(reused_tuple_after_backend_removed, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("choice", t, fx_setup, fx_teardown);
}
