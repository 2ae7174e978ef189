// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Gates for a new flow, the RSTs sluice sends, and what a flow's TCP state
 * does to the live counters, the pending map, the stats and the event ring
 * (DESIGN.md: "Gates for a new flow", "Connection entry", "Pending flows",
 * "Passive signals"). The daemon's side (breaker states, limits, tokens,
 * SL_BK_F_RESET) is written into its maps directly, as the daemon would.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "sluice.skel.h"

static __u32 WEB[3], WEB6[3], DNS[2];

static int group_setup(void **state)
{
	return fx_setup_saved(state);
}

/* Every test starts from the config as applied, nothing in the tables,
 * live counters zero and the ring empty. */
static int per_test(void **state)
{
	(void)state;
	WEB[0] = fx_bk_id("198.19.0.11", 8080, P_TCP);
	WEB[1] = fx_bk_id("198.19.0.12", 8080, P_TCP);
	WEB[2] = fx_bk_id("198.19.0.13", 8080, P_TCP);
	WEB6[0] = fx_bk_id("2001:2:0:2::11", 8443, P_TCP);
	WEB6[1] = fx_bk_id("2001:2:0:2::12", 8443, P_TCP);
	WEB6[2] = fx_bk_id("2001:2:0:2::13", 8443, P_TCP);
	DNS[0] = fx_bk_id("198.19.0.21", 5353, P_UDP);
	DNS[1] = fx_bk_id("198.19.0.22", 5353, P_UDP);
	return fx_restore_saved();
}

/* ---- helpers ------------------------------------------------------------ */

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static const char *svc_of(int af) { return af == 4 ? "web" : "web6"; }
static uint16_t vport_of(int af) { return af == 4 ? 80 : 443; }
static const __u32 *ids_of(int af) { return af == 4 ? WEB : WEB6; }

static void bk_mod(__u32 id, int breaker, __u32 max_conns, __u32 max_pending, __u32 flags_set)
{
	struct sl_backend b = fx_bk_get(id);

	if (breaker >= 0)
		b.breaker = (__u8)breaker;
	b.max_conns = max_conns;
	b.max_pending = max_pending;
	b.flags |= flags_set;
	fx_bk_put(id, &b);
}

static void bk_flags_clear(__u32 id, __u32 flags)
{
	struct sl_backend b = fx_bk_get(id);

	b.flags &= ~flags;
	fx_bk_put(id, &b);
}

static void all_breakers(int af, int breaker)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		bk_mod(ids_of(af)[i], breaker, 0, 0, 0);
}

static void svc_mod(int af, __u32 max_conns, __u8 reject, __u32 connect_timeout_ms)
{
	const char *vip = af == 4 ? FX_VIP4 : FX_VIP6;
	struct sl_svc v = fx_svc_get(vip, vport_of(af), P_TCP);

	v.max_conns = max_conns;
	v.reject = reject;
	if (connect_timeout_ms)
		v.connect_timeout_ms = connect_timeout_ms;
	fx_svc_put(vip, vport_of(af), P_TCP, &v);
}

static void tokens(__u32 id, __s32 n)
{
	struct sl_bk_live l = fx_bk_live(id);

	l.trial_tokens = n;
	fx_bk_live_put(id, &l);
}

static __u32 svc_id_of(int af) { return fx_svc_id(af == 4 ? FX_VIP4 : FX_VIP6, vport_of(af), P_TCP); }

/* The distinct candidates of a flow in probe order (as the data path walks
 * them); returns how many. */
static unsigned cands(const char *svc, const struct spec *s, __u32 out[SL_PROBES + 1])
{
	struct sl_flow_key k;
	unsigned i, j, n = 0;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	for (i = 0; i < SL_PROBE_SLOTS && n < SL_PROBES + 1; i++) {
		__u32 id = fx_predict(svc, &k, i);

		for (j = 0; j < n && out[j] != id; j++)
			;
		if (j == n)
			out[n++] = id;
	}
	return n;
}

/* A SYN from the client (fx_spec_fwd) on a port >= *port whose first
 * candidate is bk; *port moves past it. */
static void syn_to(struct spec *s, int af, __u32 bk, uint16_t *port)
{
	__u32 c[SL_PROBES + 1];

	for (;; (*port)++) {
		assert_true(*port < 65000);
		fx_spec_fwd(s, af, P_TCP, *port, vport_of(af));
		if (cands(svc_of(af), s, c) >= 2 && c[0] == bk) {
			(*port)++;
			return;
		}
	}
}

static struct sl_conn conn_of(const struct spec *s)
{
	struct sl_flow_key k;
	struct sl_conn c;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	assert_int_equal(fx_conn(&k, &c), 0);
	return c;
}

static int has_conn(const struct spec *s)
{
	struct sl_flow_key k;
	struct sl_conn c;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	return fx_conn(&k, &c) == 0;
}

static int has_pend(const struct spec *s, struct sl_pend *pv)
{
	struct sl_flow_key k;
	struct sl_pend v;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	return fx_pend(&k, pv ? pv : &v) == 0;
}

#define assert_live(id, act, pend) do { \
		struct sl_bk_live l_ = fx_bk_live(id); \
		assert_int_equal(l_.active, (act)); \
		assert_int_equal(l_.pending, (pend)); \
	} while (0)

#define assert_svc_active(svc_id, n) assert_int_equal(fx_svc_live(svc_id).active, (n))

/* One event of kind for bk (and svc) and nothing else on the ring. */
static struct sl_event one_event(__u8 kind, __u32 bk, __u32 svc)
{
	struct sl_event ev[4];
	int n = fx_events(ev, 4);

	if (n != 1)
		fail_msg("%d events on the ring, expected one of kind %u", n, kind);
	assert_int_equal(ev[0].kind, kind);
	assert_int_equal(ev[0].bk_id, bk);
	assert_int_equal(ev[0].svc_id, svc);
	assert_int_not_equal(ev[0].ns, 0);
	assert_int_equal(ev[0].pad, 0);
	assert_int_equal(ev[0].pad2, 0);
	return ev[0];
}

static void no_event(void)
{
	assert_int_equal(fx_events(NULL, 0), 0);
}

/*
 * r must be the RST that answers `in` (the frame as sent), checked field by
 * field with both checksums recomputed here from scratch: MACs swapped, a
 * VLAN tag kept, addresses and ports swapped, bare IPv4 (DF, id 0, TTL 64,
 * TOS 0) or IPv6 (class and label 0, hop limit 64, no extension headers)
 * and a bare TCP header (doff 5, window 0, urg 0); RFC 9293's sequence
 * numbers: an ACK-less segment gets RST|ACK, seq 0, ack seq + len (SYN and
 * FIN count one), a segment with ACK gets RST, seq = its ack.
 */
static void assert_rst(const struct spec *in, const struct res *r)
{
	static struct pkt inp;
	size_t l3 = 14 + 4 * (size_t)in->nvlan, iphl = in->af == 4 ? 20 : 40;
	const uint8_t *b = r->out, *ip, *th;
	uint8_t src[16], dst[16], h[40];
	uint32_t seglen, want_seq, want_ack, sum;
	uint8_t want_fl;

	spec_build(in, &inp);
	assert_verdict(r->ret, XDP_REDIRECT);      /* back where it came from, by sl_tx */
	assert_int_equal(r->len, l3 + iphl + 20);
	assert_memory_equal(b, in->smac, 6);
	assert_memory_equal(b + 6, in->dmac, 6);
	assert_memory_equal(b + 12, inp.b + 12, l3 - 12);     /* tag(s) and ethertype */
	addr16(in->src, src);
	addr16(in->dst, dst);
	ip = b + l3;
	if (in->af == 4) {
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(ip[1], 0);                     /* TOS */
		assert_int_equal(g16(ip + 2), 40);
		assert_int_equal(g16(ip + 4), 0);               /* id */
		assert_int_equal(g16(ip + 6), 0x4000);          /* DF */
		assert_int_equal(ip[8], 64);
		assert_int_equal(ip[9], P_TCP);
		assert_memory_equal(ip + 12, dst, 4);
		assert_memory_equal(ip + 16, src, 4);
		memcpy(h, ip, 20);
		h[10] = h[11] = 0;
		assert_int_equal(g16(ip + 10), (uint16_t)~cs_fold(cs_add(0, h, 20)));
		sum = cs_add(0, ip + 12, 8);
	} else {
		assert_int_equal(g32(ip), 0x60000000);          /* class 0, label 0 */
		assert_int_equal(g16(ip + 4), 20);
		assert_int_equal(ip[6], P_TCP);
		assert_int_equal(ip[7], 64);
		assert_memory_equal(ip + 8, dst, 16);
		assert_memory_equal(ip + 24, src, 16);
		sum = cs_add(0, ip + 8, 32);
	}
	th = ip + iphl;
	seglen = (uint32_t)in->paylen + !!(in->tcp_flags & TH_SYN) + !!(in->tcp_flags & TH_FIN);
	if (in->tcp_flags & TH_ACK) {
		want_seq = in->ack;
		want_ack = 0;
		want_fl = TH_RST;
	} else {
		want_seq = 0;
		want_ack = in->seq + seglen;
		want_fl = TH_RST | TH_ACK;
	}
	assert_int_equal(g16(th), in->dport);
	assert_int_equal(g16(th + 2), in->sport);
	assert_int_equal(g32(th + 4), want_seq);
	assert_int_equal(g32(th + 8), want_ack);
	assert_int_equal(th[12], 0x50);
	assert_int_equal(th[13], want_fl);
	assert_int_equal(g16(th + 14), 0);                      /* window */
	assert_int_equal(g16(th + 18), 0);                      /* urgent pointer */
	memcpy(h, th, 20);
	h[16] = h[17] = 0;
	sum += P_TCP + 20;
	assert_int_equal(g16(th + 16), (uint16_t)~cs_fold(cs_add(sum, h, 20)));
}

/* ---- gates ---------------------------------------------------------------- */

/* Service max_conns: counted over all its backends, freed by a close. */
static void service_max_conns(void **state)
{
	__u32 svc = svc_id_of(4);
	struct spec s[3];
	struct res r;
	int i;

	svc_mod(4, 2, SL_REJECT_DROP, 0);
	for (i = 0; i < 3; i++)
		fx_spec_fwd(&s[i], 4, P_TCP, (uint16_t)(36000 + i), 80);
	fx_open_flow(&s[0], "web");
	fx_open_flow(&s[1], "web");
	assert_svc_active(svc, 2);
	fx_send(&s[2], fx.if_c, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_BULKHEAD_SERVICE);
	assert_false(has_conn(&s[2]));
	assert_svc_active(svc, 2);

	/* a FIN gives the unit back: the third flow fits now */
	s[0].tcp_flags = TH_FIN | TH_ACK;
	fx_send(&s[0], fx.if_c, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_svc_active(svc, 1);
	fx_open_flow(&s[2], "web");
	assert_svc_active(svc, 2);
}

/* Each way a first candidate refuses sends the flow to the next distinct
 * candidate, and only there; the refusing one keeps nothing. */
static void first_refuses_next_takes(void **state)
{
	enum { OPEN, DRAINING, HALF_NO_TOKEN, FULL, PEND_FULL, N };
	uint16_t port = 36100;
	int how;

	for (how = 0; how < N; how++) {
		__u32 c[SL_PROBES + 1], A = WEB[how % 3];
		struct sl_bk_stats a0, a1;
		struct sl_bk_live al;
		struct spec s;
		struct res r;

		per_test(state);
		syn_to(&s, 4, A, &port);
		cands("web", &s, c);
		memset(&al, 0, sizeof(al));
		switch (how) {
		case OPEN:          bk_mod(A, SL_BRK_OPEN, 0, 0, 0); break;
		case DRAINING:      bk_mod(A, SL_BRK_DRAINING, 0, 0, 0); break;
		case HALF_NO_TOKEN: bk_mod(A, SL_BRK_HALF_OPEN, 0, 0, 0); break;
		case FULL:          bk_mod(A, SL_BRK_CLOSED, 3, 0, 0); al.active = 3; break;
		case PEND_FULL:     bk_mod(A, SL_BRK_CLOSED, 0, 2, 0); al.active = 2; al.pending = 2; break;
		}
		fx_bk_live_put(A, &al);
		a0 = fx_bk_stats(A);
		fx_send(&s, fx.if_c, &r);
		a1 = fx_bk_stats(A);
		fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
		assert_int_equal(conn_of(&s).bk_id, c[1]);
		assert_live(A, al.active, al.pending);
		assert_int_equal(fx_bk_live(A).trial_tokens, 0);
		assert_live(c[1], 1, 1);
		assert_int_equal(a1.new_flows, a0.new_flows);
		assert_int_equal(a1.pend_taken, a0.pend_taken);
		assert_svc_active(svc_id_of(4), 1);
	}
}

/*
 * Every candidate refusing: the packet's reason is the first candidate's,
 * nothing is kept anywhere, and the service's reject action applies.
 */
static void refusal(int af, int a_how, int others_how, int want, __u8 reject)
{
	const __u32 *ids = ids_of(af);
	uint16_t port = 36200;
	struct spec s;
	struct res r;
	unsigned i;

	syn_to(&s, af, ids[0], &port);
	for (i = 0; i < 3; i++) {
		int how = i == 0 ? a_how : others_how;
		struct sl_bk_live l = { 0 };

		if (how == SL_R_BREAKER_OPEN) {
			bk_mod(ids[i], SL_BRK_OPEN, 0, 0, 0);
		} else if (how == SL_R_BULKHEAD_BACKEND) {
			bk_mod(ids[i], SL_BRK_CLOSED, 1, 0, 0);
			l.active = 1;
		} else if (how == SL_R_PENDING_FULL) {
			bk_mod(ids[i], SL_BRK_CLOSED, 0, 1, 0);
			l.active = 1;
			l.pending = 1;
		} else if (how == SL_R_NO_BACKEND) {
			struct sl_backend b = fx_bk_get(ids[i]);

			b.flags |= SL_BK_F_GONE;
			fx_bk_put(ids[i], &b);
		}
		fx_bk_live_put(ids[i], &l);
	}
	svc_mod(af, 0, reject, 0);
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, want);
	if (reject == SL_REJECT_RST)
		assert_rst(&s, &r);
	else
		assert_verdict(r.ret, XDP_DROP);
	assert_false(has_conn(&s));
	assert_false(has_pend(&s, NULL));
	assert_svc_active(svc_id_of(af), 0);
	for (i = 0; i < 3; i++) {
		struct sl_bk_live l = fx_bk_live(ids[i]);

		assert_int_equal(l.trial_tokens, 0);
		assert_true(l.active <= 1 && l.pending <= 1);
	}
	no_event();
}

static void refused_breaker_open(void **state)
{
	refusal(4, SL_R_BREAKER_OPEN, SL_R_BULKHEAD_BACKEND, SL_R_BREAKER_OPEN, SL_REJECT_RST);
}
static void refused_bulkhead_backend(void **state)
{
	refusal(4, SL_R_BULKHEAD_BACKEND, SL_R_BREAKER_OPEN, SL_R_BULKHEAD_BACKEND, SL_REJECT_RST);
}
static void refused_pending_full(void **state)
{
	refusal(6, SL_R_PENDING_FULL, SL_R_BULKHEAD_BACKEND, SL_R_PENDING_FULL, SL_REJECT_RST);
}
static void refused_no_backend(void **state)
{
	refusal(6, SL_R_NO_BACKEND, SL_R_BREAKER_OPEN, SL_R_NO_BACKEND, SL_REJECT_RST);
}
static void refused_dropped(void **state)
{
	refusal(4, SL_R_PENDING_FULL, SL_R_BREAKER_OPEN, SL_R_PENDING_FULL, SL_REJECT_DROP);
}

/* DRAINING and OPEN alike refuse new flows; so does an exhausted half-open. */
static void refused_draining_and_half_open(void **state)
{
	uint16_t port = 36300;
	struct spec s;
	struct res r;

	bk_mod(WEB[0], SL_BRK_DRAINING, 0, 0, 0);
	bk_mod(WEB[1], SL_BRK_HALF_OPEN, 0, 0, 0);
	bk_mod(WEB[2], SL_BRK_DRAINING, 0, 0, 0);
	tokens(WEB[1], 0);
	syn_to(&s, 4, WEB[1], &port);
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_BREAKER_OPEN);
	assert_rst(&s, &r);
	assert_int_equal(fx_bk_live(WEB[1]).trial_tokens, 0);
	syn_to(&s, 4, WEB[0], &port);
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_BREAKER_OPEN);
	assert_rst(&s, &r);
	assert_int_equal(fx_conn_count(), 0);
}

/* UDP is refused by a drop whatever the service's reject says; a UDP flow
 * takes active but never pending. */
static void udp_refused_dropped(void **state)
{
	__u32 dns = fx_svc_id(FX_VIP4, 53, P_UDP);
	struct sl_svc v = fx_svc_get(FX_VIP4, 53, P_UDP);
	struct spec s;
	struct res r;
	__u32 id;

	v.max_conns = 1;
	v.reject = SL_REJECT_RST;
	fx_svc_put(FX_VIP4, 53, P_UDP, &v);
	fx_spec_fwd(&s, 4, P_UDP, 36400, 53);
	id = fx_open_flow(&s, "dns");
	assert_live(id, 1, 0);
	assert_svc_active(dns, 1);
	assert_int_equal(conn_of(&s).flags, SL_CONN_F_COUNTED);
	fx_spec_fwd(&s, 4, P_UDP, 36401, 53);
	fx_send(&s, fx.if_c, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_BULKHEAD_SERVICE);
	assert_svc_active(dns, 1);
}

/* N trial tokens admit exactly N new flows (from distinct clients), each
 * marked TRIAL; then breaker_open. A trial's SYN-ACK is reported. */
static void half_open_tokens(void **state)
{
	/* the first one has a neighbour entry: its SYN-ACK goes out */
	static const char *clients[] = { FX_CLI4, "198.18.0.22", "198.18.0.23", "198.18.0.24", "198.18.0.25" };
	__u32 A = WEB[2], svc = svc_id_of(4);
	struct spec s[5], rev;
	struct sl_event ev;
	struct res r;
	int i;

	bk_mod(WEB[0], SL_BRK_OPEN, 0, 0, 0);
	bk_mod(WEB[1], SL_BRK_OPEN, 0, 0, 0);
	bk_mod(A, SL_BRK_HALF_OPEN, 0, 0, 0);
	tokens(A, 3);
	for (i = 0; i < 5; i++) {
		fx_spec_fwd(&s[i], 4, P_TCP, 36500, 80);
		s[i].src = clients[i];
		fx_send(&s[i], fx.if_c, &r);
		if (i < 3) {
			fx_assert_forwarded(&s[i], &r, A, NULL, NULL);
			assert_int_equal(conn_of(&s[i]).flags,
					 SL_CONN_F_COUNTED | SL_CONN_F_PEND | SL_CONN_F_TRIAL);
		} else {
			assert_reason(r.reason, SL_R_BREAKER_OPEN);
			assert_rst(&s[i], &r);
			assert_false(has_conn(&s[i]));
		}
	}
	assert_int_equal(fx_bk_live(A).trial_tokens, 0);
	assert_live(A, 3, 3);
	assert_svc_active(svc, 3);

	/* a trial's handshake completes: TRIAL_OK with its time in us, the
	 * same time the histogram got */
	{
		struct sl_bk_stats b0 = fx_bk_stats(A), b1;
		struct sl_conn c = conn_of(&s[0]);
		struct sl_flow_key k;
		struct timespec now;
		unsigned j, moved = ~0u;
		uint32_t want_b = 0;

		/* the SYN 5 ms ago: the reported time is at least that */
		clock_gettime(CLOCK_MONOTONIC, &now);
		c.syn_ns = (__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec - 5000000ull;
		fx_flow_key(&k, s[0].src, s[0].sport, s[0].dst, s[0].dport, P_TCP);
		fx_conn_put(&k, &c);
		fx_spec_rev(&rev, &s[0], A);
		fx_send(&rev, fx.if_b, &r);
		fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
		b1 = fx_bk_stats(A);
		ev = one_event(SL_EV_TRIAL_OK, A, svc);
		assert_true(ev.value >= 5000);
		while (want_b < SL_HS_BUCKETS - 1 && (ev.value >> (want_b + 1)))
			want_b++;
		for (j = 0; j < SL_HS_BUCKETS; j++) {
			if (b1.hs_hist[j] == b0.hs_hist[j])
				continue;
			assert_int_equal(b1.hs_hist[j] - b0.hs_hist[j], 1);
			assert_int_equal(moved, ~0u);
			moved = j;
		}
		assert_int_equal(moved, want_b);
		assert_int_equal(b1.handshakes - b0.handshakes, 1);
	}

	/* a token taken and then refused by a bulkhead goes back */
	tokens(A, 1);
	bk_mod(A, SL_BRK_HALF_OPEN, 3, 0, 0);
	{
		uint16_t port = 36510;

		syn_to(&s[0], 4, A, &port);
	}
	fx_send(&s[0], fx.if_c, &r);
	assert_reason(r.reason, SL_R_BULKHEAD_BACKEND);
	assert_rst(&s[0], &r);
	assert_int_equal(fx_bk_live(A).trial_tokens, 1);
	assert_live(A, 3, 2);
}

/* A mid-flow packet without an entry passes the gates too: admitted it
 * makes an ESTABLISHED entry (RECOVER, COUNTED, never PEND); refused, it is
 * answered by the RST for a segment with ACK. */
static void recovery_gated(void **state)
{
	__u32 svc = svc_id_of(6), id;
	uint16_t port = 36600;
	struct sl_bk_stats b0, b1;
	struct sl_conn c;
	struct spec s;
	struct res r;

	syn_to(&s, 6, WEB6[1], &port);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.ack = 0x01020304;
	id = WEB6[1];
	b0 = fx_bk_stats(id);
	fx_send(&s, fx.if_c, &r);
	b1 = fx_bk_stats(id);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_ESTABLISHED);
	assert_int_equal(c.flags, SL_CONN_F_COUNTED | SL_CONN_F_RECOVER);
	assert_live(id, 1, 0);
	assert_svc_active(svc, 1);
	assert_int_equal(b1.new_flows - b0.new_flows, 1);
	assert_int_equal(b1.pend_taken - b0.pend_taken, 0);
	assert_false(has_pend(&s, NULL));

	all_breakers(6, SL_BRK_OPEN);
	s.sport++;
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_BREAKER_OPEN);
	assert_rst(&s, &r);
	assert_false(has_conn(&s));
}

/* Many CPUs admitting at once: exactly max_conns flows per backend. */
struct racer {
	int cpu, n;
	struct pkt *frames;
	int admitted, refused;
};

static void *race(void *arg)
{
	struct racer *t = arg;
	static __thread uint8_t out[PKT_MAX];
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (i = 0; i < t->n; i++) {
		struct xdp_md ctx = { .data = 0, .data_end = (__u32)t->frames[i].len,
				      .ingress_ifindex = fx.if_c };
		LIBBPF_OPTS(bpf_test_run_opts, o,
			    .data_in = t->frames[i].b, .data_size_in = (__u32)t->frames[i].len,
			    .data_out = out, .data_size_out = sizeof(out),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

		if (bpf_prog_test_run_opts(fx.prog_fd, &o))
			return NULL;
		if (o.retval != XDP_REDIRECT)
			continue;
		/* both go out by redirect: a forwarded SYN, or the RST refusing
		 * it (IPv4, no tag: TCP flags at 14 + 20 + 13) */
		if (o.data_size_out >= 14 + 20 + 20 && (out[14 + 20 + 13] & TH_RST))
			t->refused++;
		else
			t->admitted++;
	}
	return t;
}

static void concurrent_admission_exact(void **state)
{
	enum { PER = 150, MAXC = 10 };
	static struct pkt frames[2][PER];
	struct racer t[2];
	pthread_t th[2];
	__u64 r0[SL_R_MAX], r1[SL_R_MAX];
	int i, j, total = 0, refused = 0;

	for (i = 0; i < 3; i++)
		bk_mod(WEB[i], SL_BRK_CLOSED, MAXC, 0, 0);
	for (i = 0; i < 2; i++)
		for (j = 0; j < PER; j++) {
			struct spec s;

			fx_spec_fwd(&s, 4, P_TCP, (uint16_t)(40000 + i * PER + j), 80);
			spec_build(&s, &frames[i][j]);
		}
	fx_reasons(r0);
	for (i = 0; i < 2; i++) {
		t[i] = (struct racer){ .cpu = i % fx.ncpu, .n = PER, .frames = frames[i] };
		assert_int_equal(pthread_create(&th[i], NULL, race, &t[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		void *rv;

		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_non_null(rv);
		total += t[i].admitted;
		refused += t[i].refused;
	}
	fx_reasons(r1);
	assert_int_equal(total, 3 * MAXC);
	assert_int_equal(refused, 2 * PER - 3 * MAXC);
	assert_int_equal(r1[SL_R_BULKHEAD_BACKEND] + r1[SL_R_PENDING_FULL] + r1[SL_R_BREAKER_OPEN] -
			 r0[SL_R_BULKHEAD_BACKEND] - r0[SL_R_PENDING_FULL] - r0[SL_R_BREAKER_OPEN],
			 (unsigned)refused);
	assert_int_equal(r1[SL_R_BULKHEAD_BACKEND] - r0[SL_R_BULKHEAD_BACKEND], (unsigned)refused);
	for (i = 0; i < 3; i++)
		assert_live(WEB[i], MAXC, MAXC);
	assert_svc_active(svc_id_of(4), 3 * MAXC);
	assert_int_equal(fx_conn_count(), 3 * MAXC);
	assert_int_equal(fx_pend_count(), 3 * MAXC);
}

/* Many CPUs taking units at once, no limit: every unit taken is counted
 * (an increment lost between two CPUs would show as fewer). */
static void concurrent_counting_exact(void **state)
{
	enum { PER = 3000 };
	static struct pkt frames[2][PER];
	struct racer t[2];
	pthread_t th[2];
	int i, j, total = 0;
	__s32 sum = 0;

	for (i = 0; i < 2; i++)
		for (j = 0; j < PER; j++) {
			struct spec s;
			char src[32];

			snprintf(src, sizeof(src), "198.18.%d.%d", 10 + i, 1 + j / 250);
			fx_spec_fwd(&s, 4, P_UDP, (uint16_t)(20000 + j % 250), 53);
			s.src = src;
			spec_build(&s, &frames[i][j]);
		}
	for (i = 0; i < 2; i++) {
		t[i] = (struct racer){ .cpu = i % fx.ncpu, .n = PER, .frames = frames[i] };
		assert_int_equal(pthread_create(&th[i], NULL, race, &t[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		void *rv;

		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_non_null(rv);
		total += t[i].admitted;
	}
	assert_int_equal(total, 2 * PER);
	for (i = 0; i < 2; i++) {
		struct sl_bk_live l = fx_bk_live(DNS[i]);

		assert_int_equal(l.pending, 0);
		sum += l.active;
	}
	assert_int_equal(sum, 2 * PER);
	assert_svc_active(fx_svc_id(FX_VIP4, 53, P_UDP), 2 * PER);
}

/* ---- RSTs ------------------------------------------------------------------- */

static const uint8_t TCPOPT[] = { 2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7 };    /* MSS, SACK ok, WS */
static const uint8_t IP4OPT[] = { 0x94, 0x04, 0, 0 };                     /* router alert */
static const struct ext6 EXT6[] = { { .type = P_DEST, .hdrlen = 0 } };

/* Every candidate open: the packet is refused and answered. */
static void rst_case(int af, int nvlan, int opts, int ack, int fin)
{
	struct spec s;
	struct res r;

	all_breakers(af, SL_BRK_OPEN);
	fx_spec_fwd(&s, af, P_TCP, (uint16_t)(37000 + nvlan * 8 + opts * 4 + ack * 2 + fin), vport_of(af));
	s.nvlan = nvlan;
	s.seq = 0xfffffff0;                     /* ack = seq + len wraps */
	if (opts) {
		s.tcpopt = TCPOPT;
		s.tcpoptlen = sizeof(TCPOPT);
		if (af == 4) {
			s.ip4opt = IP4OPT;
			s.ip4optlen = sizeof(IP4OPT);
		} else {
			s.ext = EXT6;
			s.next = 1;
		}
	}
	if (ack) {
		s.tcp_flags = TH_ACK | TH_PSH | (fin ? TH_FIN : 0);
		s.ack = 0xa1b2c3d4;
	} else if (fin) {
		s.tcp_flags = TH_SYN | TH_FIN;
	}
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_BREAKER_OPEN);
	assert_rst(&s, &r);
	assert_false(has_conn(&s));
}

static void rst_v4_syn(void **state)            { rst_case(4, 0, 0, 0, 0); }
static void rst_v4_syn_vlan_opts(void **state)  { rst_case(4, 1, 1, 0, 0); }
static void rst_v4_synfin(void **state)         { rst_case(4, 0, 1, 0, 1); }
static void rst_v4_ack(void **state)            { rst_case(4, 0, 0, 1, 0); }
static void rst_v4_ack_vlan_opts(void **state)  { rst_case(4, 1, 1, 1, 1); }
static void rst_v6_syn(void **state)            { rst_case(6, 0, 0, 0, 0); }
static void rst_v6_syn_vlan_ext(void **state)   { rst_case(6, 1, 1, 0, 0); }
static void rst_v6_ack(void **state)            { rst_case(6, 0, 0, 1, 1); }
static void rst_v6_ack_vlan_ext(void **state)   { rst_case(6, 1, 1, 1, 0); }

/* ---- TCP state, counters, pending map, events ------------------------------ */

/* SYN, SYN-ACK, FIN: pending then established then closed, every unit
 * back, the pending entry made and removed. */
static void set_touched(__u32 id, __u32 v)
{
	struct sl_bk_live l = fx_bk_live(id);

	l.touched = v;
	fx_bk_live_put(id, &l);
}

static void syn_synack_fin(int af, int fin_from_backend)
{
	__u32 svc = svc_id_of(af), id;
	struct sl_bk_stats b0, b1;
	struct sl_flow_key k;
	struct spec s, rev;
	struct sl_pend pv;
	struct sl_conn c;
	struct res r;

	fx_spec_fwd(&s, af, P_TCP, 37100, vport_of(af));
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_predict(svc_of(af), &k, 0);
	set_touched(id, 0);
	b0 = fx_bk_stats(id);
	fx_open_flow(&s, svc_of(af));
	b1 = fx_bk_stats(id);
	assert_int_equal(fx_bk_live(id).touched, 0);   /* a SYN is no signal */
	assert_int_equal(b1.new_flows - b0.new_flows, 1);
	assert_int_equal(b1.pend_taken - b0.pend_taken, 1);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_PENDING);
	assert_int_equal(c.flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
	assert_int_not_equal(c.syn_ns, 0);
	assert_live(id, 1, 1);
	assert_svc_active(svc, 1);
	assert_true(has_pend(&s, &pv));
	assert_int_equal(pv.bk_id, id);
	assert_int_equal(pv.svc_id, svc);
	assert_int_equal(pv.syn_ns, c.syn_ns);
	assert_int_equal(pv.connect_timeout_ms, fx_svc_get(s.dst, vport_of(af), P_TCP).connect_timeout_ms);
	assert_int_equal(pv.pad, 0);
	assert_int_equal(fx_pend_count(), 1);

	b0 = fx_bk_stats(id);
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, s.dst, vport_of(af), XDP_REDIRECT);
	b1 = fx_bk_stats(id);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_ESTABLISHED);
	assert_int_equal(c.flags & ~SL_CONN_F_REV_NH, SL_CONN_F_COUNTED);
	assert_live(id, 1, 0);
	assert_svc_active(svc, 1);
	assert_false(has_pend(&s, NULL));
	assert_int_equal(b1.handshakes - b0.handshakes, 1);
	assert_int_equal(b1.pend_released - b0.pend_released, 1);
	assert_int_equal(b1.released - b0.released, 0);
	assert_int_equal(fx_bk_live(id).touched, 1);   /* the daemon's tick reads it */
	assert_true(b1.last_hs_ns > c.syn_ns);          /* c: as it was while PENDING */
	assert_true(b1.last_hs_ns > b0.last_hs_ns);
	no_event();                             /* not a trial flow */

	/* a SYN-ACK again (retransmitted) changes nothing */
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(fx_bk_stats(id).handshakes - b0.handshakes, 1);

	b0 = fx_bk_stats(id);
	if (fin_from_backend) {
		rev.tcp_flags = TH_FIN | TH_ACK;
		fx_send(&rev, fx.if_b, &r);
		fx_assert_reversed(&rev, &r, s.dst, vport_of(af), XDP_REDIRECT);
	} else {
		s.tcp_flags = TH_FIN | TH_ACK;
		fx_send(&s, fx.if_c, &r);
		fx_assert_forwarded(&s, &r, id, NULL, NULL);
	}
	b1 = fx_bk_stats(id);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_CLOSING);
	assert_int_equal(c.flags & ~SL_CONN_F_REV_NH, 0);
	assert_live(id, 0, 0);
	assert_svc_active(svc, 0);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.pend_released - b0.pend_released, 0);

	/* the other side's FIN, and an RST, give nothing back twice */
	s.tcp_flags = TH_FIN | TH_ACK;
	fx_send(&s, fx.if_c, &r);
	rev.tcp_flags = TH_RST;
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	b1 = fx_bk_stats(id);
	assert_live(id, 0, 0);
	assert_svc_active(svc, 0);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.resets - b0.resets, 0);
	no_event();
}

static void v4_syn_synack_fin(void **state) { syn_synack_fin(4, 0); }
static void v6_syn_synack_backend_fin(void **state) { syn_synack_fin(6, 1); }

/* SYN, then the backend's RST: a refused connect, still sent on to the
 * client. */
static void refused_connect(void **state)
{
	__u32 svc = svc_id_of(4), id;
	struct sl_bk_stats b0, b1;
	struct spec s, rev;
	struct res r;

	fx_spec_fwd(&s, 4, P_TCP, 37200, 80);
	id = fx_open_flow(&s, "web");
	b0 = fx_bk_stats(id);
	fx_spec_rev(&rev, &s, id);
	rev.tcp_flags = TH_RST | TH_ACK;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.conn_refused - b0.conn_refused, 1);
	assert_int_equal(b1.resets - b0.resets, 0);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.pend_released - b0.pend_released, 1);
	assert_int_equal(b1.handshakes - b0.handshakes, 0);
	one_event(SL_EV_REFUSED, id, svc);
	assert_int_equal(conn_of(&s).state, SL_CONN_CLOSING);
	assert_live(id, 0, 0);
	assert_svc_active(svc, 0);
	assert_false(has_pend(&s, NULL));
	/* a second RST is no second refusal */
	fx_send(&rev, fx.if_b, &r);
	assert_int_equal(fx_bk_stats(id).conn_refused - b0.conn_refused, 1);
	no_event();
}

/* SYN, SYN-ACK, then the backend's RST: a reset. */
static void reset_after_establishment(void **state)
{
	__u32 svc = svc_id_of(6), id;
	struct sl_bk_stats b0, b1;
	struct spec s, rev;
	struct res r;

	fx_spec_fwd(&s, 6, P_TCP, 37300, 443);
	id = fx_open_flow(&s, "web6");
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	b0 = fx_bk_stats(id);
	rev.tcp_flags = TH_RST;
	rev.seq++;
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP6, 443, XDP_REDIRECT);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.resets - b0.resets, 1);
	assert_int_equal(b1.conn_refused - b0.conn_refused, 0);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.pend_released - b0.pend_released, 0);
	one_event(SL_EV_RESET, id, svc);
	assert_live(id, 0, 0);
	assert_svc_active(svc, 0);
}

/* A retransmitted SYN is the same flow: nothing counted twice. */
static void retransmitted_syn(void **state)
{
	__u32 svc = svc_id_of(4), id;
	struct sl_bk_stats b0, b1;
	struct sl_flow_key k;
	struct spec s;
	struct res r;

	fx_spec_fwd(&s, 4, P_TCP, 37400, 80);
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_predict("web", &k, 0);
	b0 = fx_bk_stats(id);
	fx_open_flow(&s, "web");
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.new_flows - b0.new_flows, 1);
	assert_int_equal(b1.pend_taken - b0.pend_taken, 1);
	assert_int_equal(b1.packets - b0.packets, 3);
	assert_int_equal(b1.conn_timeout - b0.conn_timeout, 0);
	assert_live(id, 1, 1);
	assert_svc_active(svc, 1);
	assert_int_equal(fx_conn_count(), 1);
	assert_int_equal(fx_pend_count(), 1);
	no_event();

	/* at the limits, a retransmission still follows its flow */
	bk_mod(id, SL_BRK_CLOSED, 1, 1, 0);
	svc_mod(4, 1, SL_REJECT_RST, 0);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_live(id, 1, 1);
}

/* A SYN on the tuple of a closed flow is a new flow; so is one whose
 * pending flow's backend went open (its units are given back first). */
static void syn_on_closing_entry(void **state)
{
	__u32 svc = svc_id_of(4), id, c2[SL_PROBES + 1];
	struct sl_bk_stats b0, b1;
	struct spec s, rev;
	struct sl_conn c;
	struct res r;

	fx_spec_fwd(&s, 4, P_TCP, 37500, 80);
	id = fx_open_flow(&s, "web");
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	s.tcp_flags = TH_FIN | TH_ACK;
	fx_send(&s, fx.if_c, &r);
	assert_live(id, 0, 0);
	b0 = fx_bk_stats(id);

	s.tcp_flags = TH_SYN;
	s.seq += 100000;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	b1 = fx_bk_stats(id);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_PENDING);
	assert_int_equal(c.flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
	assert_live(id, 1, 1);
	assert_svc_active(svc, 1);
	assert_true(has_pend(&s, NULL));
	assert_int_equal(b1.new_flows - b0.new_flows, 1);
	assert_int_equal(b1.released - b0.released, 0);

	/* pending, and its backend opens: the next SYN goes elsewhere and
	 * the first backend keeps nothing */
	bk_mod(id, SL_BRK_OPEN, 0, 0, 0);
	cands("web", &s, c2);
	assert_int_equal(c2[0], id);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c2[1], NULL, NULL);
	b1 = fx_bk_stats(id);
	assert_live(id, 0, 0);
	assert_live(c2[1], 1, 1);
	assert_svc_active(svc, 1);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.pend_released - b0.pend_released, 1);
	assert_int_equal(conn_of(&s).bk_id, c2[1]);
	assert_int_equal(fx_pend_count(), 1);
	assert_int_equal(fx_bk_stats(id).conn_timeout, b0.conn_timeout);
	no_event();
}

/* A client RST while pending: units back, pending entry gone, no signal. */
static void client_rst_while_pending(void **state)
{
	__u32 id;
	struct spec s;
	struct res r;

	fx_spec_fwd(&s, 6, P_TCP, 37600, 443);
	id = fx_open_flow(&s, "web6");
	s.tcp_flags = TH_RST;
	s.paylen = 0;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(conn_of(&s).state, SL_CONN_CLOSING);
	assert_live(id, 0, 0);
	assert_svc_active(svc_id_of(6), 0);
	assert_false(has_pend(&s, NULL));
	no_event();
}

/* A SYN retransmitted after connect_timeout_ms claims the timeout, once;
 * one the daemon claimed first (by deleting the pending entry) is not
 * counted again. The flow itself keeps its backend. */
static void timeout_claimed_once(void **state)
{
	__u32 svc = svc_id_of(4), id;
	struct sl_bk_stats b0, b1;
	struct sl_flow_key k;
	struct sl_pend pv;
	struct sl_conn c;
	struct spec s;
	struct res r;
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_pending);

	svc_mod(4, 0, SL_REJECT_RST, 3600000);  /* an hour: nothing times out by itself */
	fx_spec_fwd(&s, 4, P_TCP, 37700, 80);
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_open_flow(&s, "web");
	b0 = fx_bk_stats(id);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(fx_bk_stats(id).conn_timeout - b0.conn_timeout, 0);
	assert_true(has_pend(&s, &pv));
	assert_int_equal(pv.connect_timeout_ms, 3600000);
	no_event();

	/* the SYN long ago */
	svc_mod(4, 0, SL_REJECT_RST, 200);
	c = conn_of(&s);
	c.syn_ns = 1;
	fx_conn_put(&k, &c);
	pv.syn_ns = 1;
	fx_pend_put(&k, &pv);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.conn_timeout - b0.conn_timeout, 1);
	assert_int_equal(b1.new_flows - b0.new_flows, 0);
	{
		/* the SYN's age, in us (capped at 2^32 - 1) */
		struct sl_event ev = one_event(SL_EV_TIMEOUT, id, svc);

		assert_true(ev.value > 0);
		assert_true(ev.value == 0xffffffffu || ev.value <= (ev.ns - 1) / 1000);
	}
	assert_false(has_pend(&s, NULL));
	assert_int_equal(conn_of(&s).state, SL_CONN_PENDING);
	assert_live(id, 1, 1);

	/* once */
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(fx_bk_stats(id).conn_timeout - b0.conn_timeout, 1);
	no_event();

	/* claimed by the daemon's scan first: not by the SYN */
	fx_spec_fwd(&s, 4, P_TCP, 37701, 80);
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_open_flow(&s, "web");
	b0 = fx_bk_stats(id);
	c = conn_of(&s);
	c.syn_ns = 1;
	fx_conn_put(&k, &c);
	assert_int_equal(bpf_map_delete_elem(fd, &k), 0);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(fx_bk_stats(id).conn_timeout - b0.conn_timeout, 0);
	no_event();

	/* an established flow has no timeout to claim */
	fx_spec_fwd(&s, 4, P_TCP, 37702, 80);
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_open_flow(&s, "web");
	{
		struct spec rev;

		fx_spec_rev(&rev, &s, id);
		fx_send(&rev, fx.if_b, &r);
	}
	b0 = fx_bk_stats(id);
	c = conn_of(&s);
	c.syn_ns = 1;
	fx_conn_put(&k, &c);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, id, NULL, NULL);
	assert_int_equal(fx_bk_stats(id).conn_timeout - b0.conn_timeout, 0);
	no_event();
}

/*
 * A full pending map: the SYN is admitted all the same (only its early
 * timeout is lost), and the CPU that met the full map lists only every
 * 64th SYN after it until an insert succeeds (a failed insert into a full
 * map costs as much as a new flow). Pinned to one CPU: the count is
 * per CPU.
 */
static void pending_map_full(void **state)
{
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_pending);
	__u32 max = bpf_map__max_entries(fx.dp->skel->maps.sl_pending), n;
	struct sl_flow_key k, dummy;
	struct sl_pend pv = { .syn_ns = 1 };
	cpu_set_t set, old;
	struct spec s;
	struct res r;
	int i;

	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
	memset(&dummy, 0, sizeof(dummy));
	dummy.family = SL_AF_INET;
	dummy.proto = P_TCP;
	for (n = 0; n < max; n++) {
		dummy.src[0] = htonl(0x0a000000 + n);
		if (bpf_map_update_elem(fd, &dummy, &pv, BPF_NOEXIST))
			fail_msg("pending map full after %u of %u entries: %s", n, max, strerror(errno));
	}
	fx_spec_fwd(&s, 4, P_TCP, 38200, 80);
	fx_send(&s, fx.if_c, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	assert_int_equal(conn_of(&s).flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
	assert_false(has_pend(&s, NULL));
	assert_live(conn_of(&s).bk_id, 1, 1);
	/* room again: the next 63 SYNs are not listed, the 64th is */
	dummy.src[0] = htonl(0x0a000000);
	assert_int_equal(bpf_map_delete_elem(fd, &dummy), 0);
	for (i = 1; i <= 64; i++) {
		fx_spec_fwd(&s, 4, P_TCP, (uint16_t)(38200 + i), 80);
		fx_send(&s, fx.if_c, &r);
		assert_verdict(r.ret, XDP_REDIRECT);
		if (has_pend(&s, NULL) != (i == 64))
			fail_msg("SYN %d after the full map: %s", i, i == 64 ? "not listed" : "listed");
	}
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	assert_int_equal(fx_pend(&k, &pv), 0);
	assert_int_equal(pv.bk_id, conn_of(&s).bk_id);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	fx_flush_conns();
}

/* A handshake slower than 2^19 us lands in the last bucket. */
static void slow_handshake_last_bucket(void **state)
{
	struct sl_bk_stats b0, b1;
	struct sl_flow_key k;
	struct spec s, rev;
	struct sl_conn c;
	struct res r;
	__u32 id;

	fx_spec_fwd(&s, 4, P_TCP, 37800, 80);
	fx_flow_key(&k, s.src, s.sport, s.dst, s.dport, P_TCP);
	id = fx_open_flow(&s, "web");
	c = conn_of(&s);
	c.syn_ns = 1;
	fx_conn_put(&k, &c);
	b0 = fx_bk_stats(id);
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.hs_hist[SL_HS_BUCKETS - 1] - b0.hs_hist[SL_HS_BUCKETS - 1], 1);
	assert_int_equal(b1.handshakes - b0.handshakes, 1);
}

/* ---- reset on trip ------------------------------------------------------------ */

/* A tripped backend (SL_BK_F_RESET): each end's next packet comes back to
 * it as an RST, and so does every later one; RSTs are dropped. */
static void trip_reset(int af, int nvlan, int backend_first)
{
	__u32 svc = svc_id_of(af), id;
	struct sl_bk_stats b0, b1;
	struct spec s, rev;
	struct sl_conn c;
	struct res r;

	fx_spec_fwd(&s, af, P_TCP, (uint16_t)(37900 + nvlan * 2 + backend_first), vport_of(af));
	s.nvlan = nvlan;
	id = fx_open_flow(&s, svc_of(af));
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.seq++;
	s.ack = rev.seq + 1;
	rev.tcp_flags = TH_ACK | TH_PSH;
	rev.seq++;
	rev.ack = s.seq + (uint32_t)s.paylen;

	bk_mod(id, SL_BRK_OPEN, 0, 0, SL_BK_F_RESET);
	b0 = fx_bk_stats(id);
	if (backend_first) {
		fx_send(&rev, fx.if_b, &r);
		assert_reason(r.reason, SL_R_TRIP_RESET);
		assert_rst(&rev, &r);
	}
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_TRIP_RESET);
	assert_rst(&s, &r);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.trip_resets - b0.trip_resets, 1 + backend_first);
	assert_int_equal(b1.released - b0.released, 1);
	assert_int_equal(b1.packets - b0.packets, 0);
	c = conn_of(&s);
	assert_int_equal(c.state, SL_CONN_CLOSING);
	assert_int_equal(c.flags & ~SL_CONN_F_REV_NH, SL_CONN_F_RESET);
	assert_live(id, 0, 0);
	assert_svc_active(svc, 0);
	no_event();

	/* the backend recovers: the flow stays reset, both ways */
	bk_flags_clear(id, SL_BK_F_RESET);
	bk_mod(id, SL_BRK_CLOSED, 0, 0, 0);
	if (!backend_first) {
		fx_send(&rev, fx.if_b, &r);
		assert_reason(r.reason, SL_R_TRIP_RESET);
		assert_rst(&rev, &r);
	}
	s.seq += 7;
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_TRIP_RESET);
	assert_rst(&s, &r);
	assert_int_equal(fx_bk_stats(id).trip_resets - b0.trip_resets, 3);

	/* an RST is never answered */
	s.tcp_flags = TH_RST;
	fx_send(&s, fx.if_c, &r);
	assert_reason(r.reason, SL_R_TRIP_RESET);
	assert_verdict(r.ret, XDP_DROP);
	rev.tcp_flags = TH_RST | TH_ACK;
	fx_send(&rev, fx.if_b, &r);
	assert_reason(r.reason, SL_R_TRIP_RESET);
	assert_verdict(r.ret, XDP_DROP);
	b1 = fx_bk_stats(id);
	assert_int_equal(b1.trip_resets - b0.trip_resets, 3);
	assert_int_equal(b1.resets - b0.resets, 0);
	assert_int_equal(b1.released - b0.released, 1);
	assert_live(id, 0, 0);

	/* a new SYN on the tuple is a new flow */
	s.tcp_flags = TH_SYN;
	s.seq += 100000;
	fx_send(&s, fx.if_c, &r);
	assert_verdict(r.ret, XDP_REDIRECT);
	c = conn_of(&s);
	assert_int_equal(c.flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
	no_event();
}

static void trip_reset_v4_client_first(void **state) { trip_reset(4, 0, 0); }
static void trip_reset_v4_backend_first(void **state) { trip_reset(4, 0, 1); }
static void trip_reset_v6_vlan(void **state) { trip_reset(6, 1, 0); }

/* A pending flow of a backend being reset: the retransmitted SYN is a new
 * flow elsewhere, the backend's SYN-ACK gets an RST. */
static void trip_reset_pending(void **state)
{
	__u32 id, c2[SL_PROBES + 1];
	struct spec s, rev;
	struct res r;

	fx_spec_fwd(&s, 4, P_TCP, 37950, 80);
	id = fx_open_flow(&s, "web");
	fx_spec_rev(&rev, &s, id);
	bk_mod(id, SL_BRK_OPEN, 0, 0, SL_BK_F_RESET);
	fx_send(&rev, fx.if_b, &r);
	assert_reason(r.reason, SL_R_TRIP_RESET);
	assert_rst(&rev, &r);
	assert_live(id, 0, 0);
	assert_false(has_pend(&s, NULL));
	assert_int_equal(fx_bk_stats(id).conn_refused, 0);
	cands("web", &s, c2);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c2[1], NULL, NULL);
	assert_live(c2[1], 1, 1);
}

/* on_trip = keep: without SL_BK_F_RESET, flows of an open, draining or
 * half-open backend go on, both ways. */
static void trip_keep(void **state)
{
	static const int brk[] = { SL_BRK_OPEN, SL_BRK_DRAINING, SL_BRK_HALF_OPEN };
	unsigned i;

	for (i = 0; i < 3; i++) {
		struct sl_bk_live l0;
		struct spec s, rev;
		struct res r;
		__u32 id;

		fx_spec_fwd(&s, 4, P_TCP, (uint16_t)(38000 + i), 80);
		id = fx_open_flow(&s, "web");
		fx_spec_rev(&rev, &s, id);
		fx_send(&rev, fx.if_b, &r);
		l0 = fx_bk_live(id);
		bk_mod(id, brk[i], 0, 0, 0);
		s.tcp_flags = TH_ACK;
		fx_send(&s, fx.if_c, &r);
		fx_assert_forwarded(&s, &r, id, NULL, NULL);
		rev.tcp_flags = TH_ACK;
		rev.seq++;
		fx_send(&rev, fx.if_b, &r);
		fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
		assert_live(id, l0.active, l0.pending);
		bk_mod(id, SL_BRK_CLOSED, 0, 0, 0);
	}
}

/* UDP flows of a backend being reset are released and chosen again. */
static void trip_reset_udp_moves(void **state)
{
	__u32 svc = fx_svc_id(FX_VIP4, 53, P_UDP), id, c2[SL_PROBES + 1];
	struct sl_bk_stats b0;
	struct spec s, rev;
	struct res r;

	fx_spec_fwd(&s, 4, P_UDP, 38100, 53);
	id = fx_open_flow(&s, "dns");
	assert_live(id, 1, 0);
	cands("dns", &s, c2);
	bk_mod(id, SL_BRK_OPEN, 0, 0, SL_BK_F_RESET);
	b0 = fx_bk_stats(id);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c2[1], NULL, NULL);
	assert_int_equal(conn_of(&s).bk_id, c2[1]);
	assert_live(id, 0, 0);
	assert_live(c2[1], 1, 0);
	assert_svc_active(svc, 1);
	assert_int_equal(fx_bk_stats(id).released - b0.released, 1);
	assert_int_equal(fx_bk_stats(id).trip_resets - b0.trip_resets, 0);
	/* the old backend's late reply has no flow any more */
	fx_spec_rev(&rev, &s, id);
	fx_send(&rev, fx.if_b, &r);
	assert_reason(r.reason, SL_R_NO_FLOW);
	/* and the flow stays where it went */
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c2[1], NULL, NULL);
	assert_live(c2[1], 1, 0);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(service_max_conns, per_test),
		cmocka_unit_test_setup(first_refuses_next_takes, per_test),
		cmocka_unit_test_setup(refused_breaker_open, per_test),
		cmocka_unit_test_setup(refused_bulkhead_backend, per_test),
		cmocka_unit_test_setup(refused_pending_full, per_test),
		cmocka_unit_test_setup(refused_no_backend, per_test),
		cmocka_unit_test_setup(refused_dropped, per_test),
		cmocka_unit_test_setup(refused_draining_and_half_open, per_test),
		cmocka_unit_test_setup(udp_refused_dropped, per_test),
		cmocka_unit_test_setup(half_open_tokens, per_test),
		cmocka_unit_test_setup(recovery_gated, per_test),
		cmocka_unit_test_setup(concurrent_admission_exact, per_test),
		cmocka_unit_test_setup(concurrent_counting_exact, per_test),
		cmocka_unit_test_setup(rst_v4_syn, per_test),
		cmocka_unit_test_setup(rst_v4_syn_vlan_opts, per_test),
		cmocka_unit_test_setup(rst_v4_synfin, per_test),
		cmocka_unit_test_setup(rst_v4_ack, per_test),
		cmocka_unit_test_setup(rst_v4_ack_vlan_opts, per_test),
		cmocka_unit_test_setup(rst_v6_syn, per_test),
		cmocka_unit_test_setup(rst_v6_syn_vlan_ext, per_test),
		cmocka_unit_test_setup(rst_v6_ack, per_test),
		cmocka_unit_test_setup(rst_v6_ack_vlan_ext, per_test),
		cmocka_unit_test_setup(v4_syn_synack_fin, per_test),
		cmocka_unit_test_setup(v6_syn_synack_backend_fin, per_test),
		cmocka_unit_test_setup(refused_connect, per_test),
		cmocka_unit_test_setup(reset_after_establishment, per_test),
		cmocka_unit_test_setup(retransmitted_syn, per_test),
		cmocka_unit_test_setup(syn_on_closing_entry, per_test),
		cmocka_unit_test_setup(client_rst_while_pending, per_test),
		cmocka_unit_test_setup(timeout_claimed_once, per_test),
		cmocka_unit_test_setup(slow_handshake_last_bucket, per_test),
		cmocka_unit_test_setup(pending_map_full, per_test),
		cmocka_unit_test_setup(trip_reset_v4_client_first, per_test),
		cmocka_unit_test_setup(trip_reset_v4_backend_first, per_test),
		cmocka_unit_test_setup(trip_reset_v6_vlan, per_test),
		cmocka_unit_test_setup(trip_reset_pending, per_test),
		cmocka_unit_test_setup(trip_keep, per_test),
		cmocka_unit_test_setup(trip_reset_udp_moves, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("gates", t, group_setup, fx_teardown);
}
