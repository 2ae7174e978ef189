// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Redispatch (DESIGN.md, "Redispatch"; docs/decisions.md): a PENDING flow
 * whose backend refuses (RST) or stays silent past connect_timeout moves
 * to another backend, the client's SYN rebuilt from its entry; late answers
 * from the backend it left; slow handshakes; the daemon's injected SYN.
 * The daemon's side (sl_svc.redispatch_max, slow_call_ms, breaker states)
 * is written into its maps directly, as the daemon would.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sluice/syn.h>

#include "fixture.h"
#include "resil.h"
#include "sluice.skel.h"

static __u32 WEB[3], WEB6[3];

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
	return fx_restore_saved();
}

/* ---- helpers ------------------------------------------------------------ */

static const char *svc_of(int af) { return af == 4 ? "web" : "web6"; }
static const char *vip_of(int af) { return af == 4 ? FX_VIP4 : FX_VIP6; }
static uint16_t vport_of(int af) { return af == 4 ? 80 : 443; }
static __u32 svc_id_of(int af) { return fx_svc_id(vip_of(af), vport_of(af), P_TCP); }

static __u64 now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (__u64)t.tv_sec * 1000000000ull + (__u64)t.tv_nsec;
}

/* The service's redispatch bound, connect timeout (0: unchanged) and slow
 * call threshold, as the daemon writes them. */
static void svc_set(int af, __u8 redispatch_max, __u32 connect_timeout_ms, __u32 slow_call_ms)
{
	struct sl_svc v = fx_svc_get(vip_of(af), vport_of(af), P_TCP);

	v.redispatch_max = redispatch_max;
	if (connect_timeout_ms)
		v.connect_timeout_ms = connect_timeout_ms;
	v.slow_call_ms = slow_call_ms;
	fx_svc_put(vip_of(af), vport_of(af), P_TCP, &v);
}

static void bk_breaker(__u32 id, int breaker)
{
	struct sl_backend b = fx_bk_get(id);

	b.breaker = (__u8)breaker;
	fx_bk_put(id, &b);
}

/* The distinct candidates of a flow in probe order; returns how many. */
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

static const uint8_t TCPOPT[] = {
	2, 4, 0x05, 0xb4,                       /* MSS 1460 */
	4, 2,                                   /* SACK permitted */
	8, 10, 0x00, 0x12, 0x34, 0x56, 0, 0, 0, 0,  /* timestamps */
	1,                                      /* NOP */
	3, 3, 7,                                /* window scale 7 */
};
/* 40 bytes: the most a SYN can carry */
static const uint8_t TCPOPT40[] = {
	2, 4, 0x05, 0xa0, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 3, 3, 9,
	254, 8, 0xf9, 0x89, 0xaa, 0xbb, 0xcc, 0xdd, 1, 1, 30, 4, 0x01, 0x02, 1, 1, 1, 1, 1, 0,
};

/*
 * A client's SYN as a stack sends it (no payload, options, DSCP/ECN bits,
 * a flow label, an IP id) on a source port >= *port with at least `need`
 * distinct candidates, the first of them *first; *port moves past it.
 */
static void client_syn(struct spec *s, int af, int nvlan, uint16_t *port, unsigned need,
		       __u32 c[SL_PROBES + 1])
{
	for (;; (*port)++) {
		assert_true(*port < 65000);
		fx_spec_fwd(s, af, P_TCP, *port, vport_of(af));
		s->nvlan = nvlan;
		s->payload = NULL;
		s->paylen = 0;
		s->tcpopt = TCPOPT;
		s->tcpoptlen = sizeof(TCPOPT);
		s->seq = 0x8badf00d;
		s->win = 64240;
		s->ip_id = 0x4321;
		s->ttl = 61;
		s->tcp_flags = TH_SYN | 0x40 | 0x80;   /* ECN-setup SYN: ECE|CWR */
		if (cands(svc_of(af), s, c) >= need) {
			(*port)++;
			return;
		}
	}
}

/* client_syn()'s SYN sent through the program: a PENDING flow on its
 * first candidate, c[0]. */
static void pending_syn(struct spec *s, int af, int nvlan, uint16_t *port, unsigned need,
			__u32 c[SL_PROBES + 1])
{
	struct res r;

	client_syn(s, af, nvlan, port, need, c);
	fx_send(s, fx.if_c, &r);
	fx_assert_forwarded(s, &r, c[0], NULL, NULL);
}

static struct sl_flow_key key_of(const struct spec *s)
{
	struct sl_flow_key k;

	fx_flow_key(&k, s->src, s->sport, s->dst, s->dport, s->proto);
	return k;
}

static struct sl_conn conn_of(const struct spec *s)
{
	struct sl_flow_key k = key_of(s);
	struct sl_conn c;

	assert_int_equal(fx_conn(&k, &c), 0);
	return c;
}

static int has_pend(const struct spec *s, struct sl_pend *pv)
{
	struct sl_flow_key k = key_of(s);
	struct sl_pend v;

	return fx_pend(&k, pv ? pv : &v) == 0;
}

#define assert_live(id, act, pend) do { \
		struct sl_bk_live l_ = fx_bk_live(id); \
		assert_int_equal(l_.active, (act)); \
		assert_int_equal(l_.pending, (pend)); \
	} while (0)

#define assert_svc_active(svc_id, n) assert_int_equal(fx_svc_live(svc_id).active, (n))

/* Exactly the events of these kinds, in order, each for its backend. */
static void events(int n, const __u8 *kinds, const __u32 *bks, __u32 svc, struct sl_event *out)
{
	struct sl_event ev[8];
	int got = fx_events(ev, 8), i;

	if (got != n)
		fail_msg("%d events on the ring, expected %d", got, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(ev[i].kind, kinds[i]);
		assert_int_equal(ev[i].bk_id, bks[i]);
		assert_int_equal(ev[i].svc_id, svc);
		assert_int_not_equal(ev[i].ns, 0);
		if (out)
			out[i] = ev[i];
	}
}

static void no_event(void)
{
	assert_int_equal(fx_events(NULL, 0), 0);
}

/* The backend's RST refusing the SYN s (as a stack answers a SYN to a
 * closed port: RST|ACK, seq 0, ack ISN + 1). */
static void backend_rst(struct spec *rev, const struct spec *s, __u32 bk)
{
	fx_spec_rev(rev, s, bk);
	rev->tcp_flags = TH_RST | TH_ACK;
	rev->seq = 0;
	rev->ack = s->seq + 1;
	rev->tcpopt = NULL;
	rev->tcpoptlen = 0;
	rev->tos = 0;
	rev->flowlabel = 0;
}

/*
 * r must be the client's SYN `syn`, as the forward path sends it to
 * backend bk: the frame built here from the same description (addresses
 * and ports rewritten, TTL down one, next-hop MACs, no tag, no payload),
 * compared byte for byte, checksums included (the builder here computes
 * them from scratch), and every checksum verified again from scratch.
 */
static void assert_syn_to(const struct spec *syn, const struct res *r, __u32 bk)
{
	static struct pkt exp;
	struct spec want = *syn;
	uint8_t mac[6];
	char addr[64];
	uint16_t port;

	assert_verdict(r->ret, XDP_REDIRECT);
	assert_reason(r->reason, -1);
	fx_nh_mac(bk, mac);
	fx_bk_addr(bk, addr, sizeof(addr), &port);
	want.dmac = mac;
	want.smac = FX_MAC_NH_SRC;
	want.nvlan = 0;
	want.ethertype = 0;
	want.dst = addr;
	want.dport = port;
	want.ttl = (uint8_t)((syn->ttl ? syn->ttl : 64) - 1);
	want.payload = NULL;
	want.paylen = 0;
	fx_assert_frame(&want, r, 1);
	spec_build(&want, &exp);
	assert_int_equal(r->len, exp.len);
	assert_memory_equal(r->out, exp.b, exp.len);
}

/* What the entry keeps of SYN s (sent on ifindex). */
static void assert_syn_kept(const struct spec *s, const struct sl_conn *c, __u32 ifindex)
{
	static struct pkt p;
	size_t l3, l4;

	spec_build(s, &p);
	l3 = p.l3;
	l4 = p.l4;
	assert_int_equal(c->syn_ifindex, ifindex);
	assert_memory_equal(c->syn_dmac, s->dmac, 6);
	assert_memory_equal(c->syn_smac, s->smac, 6);
	if (s->nvlan) {
		assert_memory_equal(&c->syn_vlan_proto, p.b + 12, 2);
		assert_memory_equal(&c->syn_vlan_tci, p.b + 14, 2);
	} else {
		assert_int_equal(c->syn_vlan_proto, 0);
		assert_int_equal(c->syn_vlan_tci, 0);
	}
	assert_int_equal(c->tos, s->tos);
	assert_int_equal(c->ttl, s->ttl ? s->ttl : 64);
	if (s->af == 4) {
		assert_memory_equal(&c->syn_ip_id, p.b + l3 + 4, 2);
		assert_memory_equal(&c->syn_frag_off, p.b + l3 + 6, 2);
		assert_int_equal(c->flowlabel, 0);
	} else {
		assert_int_equal(ntohl(c->flowlabel), s->flowlabel);
	}
	assert_int_equal(ntohl(c->isn), s->seq);
	assert_int_equal(ntohs(c->win), s->win ? s->win : 29200);
	assert_memory_equal(&c->syn_tcp_fl, p.b + l4 + 12, 2);
	assert_int_equal(c->opt_len, (s->tcpoptlen + 3) & ~3u);
	assert_memory_equal(c->opts, p.b + l4 + 20, c->opt_len);
	for (size_t i = c->opt_len; i < SL_TCP_OPT_MAX; i++)
		assert_int_equal(c->opts[i], 0);
}

/* ---- the SYN is kept -------------------------------------------------------- */

static void syn_kept(int af, int nvlan, const uint8_t *opt, size_t optlen)
{
	__u32 c[SL_PROBES + 1];
	struct sl_conn e;
	uint16_t port = 30000;
	struct spec s;
	struct res r;

	client_syn(&s, af, nvlan, &port, 1, c);
	s.tcpopt = opt;
	s.tcpoptlen = optlen;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	e = conn_of(&s);
	assert_syn_kept(&s, &e, fx.if_c);
}

static void kept_v4(void **state)            { syn_kept(4, 0, TCPOPT, sizeof(TCPOPT)); }
static void kept_v4_vlan_40(void **state)    { syn_kept(4, 1, TCPOPT40, sizeof(TCPOPT40)); }
static void kept_v4_no_options(void **state) { syn_kept(4, 0, NULL, 0); }
static void kept_v6(void **state)            { syn_kept(6, 0, TCPOPT, sizeof(TCPOPT)); }
static void kept_v6_vlan_40(void **state)    { syn_kept(6, 1, TCPOPT40, sizeof(TCPOPT40)); }

/* ---- refused: the RST becomes the SYN to another backend ---------------------- */

/*
 * The backend refuses (RST) a PENDING flow: the RST is turned into the
 * client's SYN to the next candidate the flow has not tried, units move
 * exactly (the service's stay), the refused signal is still counted; after
 * redispatch_max moves the RST goes to the client as before.
 */
static void refused_moves(int af, int nvlan, const uint8_t *opt, size_t optlen)
{
	__u32 svc = svc_id_of(af), c[SL_PROBES + 1];
	uint16_t port = 31000;
	struct sl_bk_stats a0, a1, b0, b1;
	struct sl_svc_stats ss0, ss1;
	struct sl_conn e0, e;
	struct spec s, rev;
	struct sl_pend pv;
	struct res r;
	int i;

	svc_set(af, 2, 0, 0);
	client_syn(&s, af, nvlan, &port, 3, c);
	s.tcpopt = opt;
	s.tcpoptlen = optlen;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	e0 = conn_of(&s);
	assert_syn_kept(&s, &e0, fx.if_c);
	assert_int_equal(e0.redispatches, 0);
	assert_live(c[0], 1, 1);

	for (i = 0; i < 2; i++) {
		__u32 from = c[i], to = c[i + 1];

		a0 = fx_bk_stats(from);
		b0 = fx_bk_stats(to);
		ss0 = fx_svc_stats(svc);
		backend_rst(&rev, &s, from);
		fx_send(&rev, fx.if_b, &r);
		assert_syn_to(&s, &r, to);
		a1 = fx_bk_stats(from);
		b1 = fx_bk_stats(to);
		ss1 = fx_svc_stats(svc);

		e = conn_of(&s);
		assert_int_equal(e.bk_id, to);
		assert_int_equal(e.state, SL_CONN_PENDING);
		assert_int_equal(e.flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
		assert_int_equal(e.redispatches, i + 1);
		assert_int_equal(e.tried[0], from);
		assert_int_equal(e.tried[1], i ? c[0] : 0);
		assert_int_equal(e.tried[2], 0);
		assert_true(e.syn_ns > e0.syn_ns);
		/* what rebuilds the SYN is unchanged */
		assert_memory_equal(&e.isn, &e0.isn, offsetof(struct sl_conn, redispatches) -
				    offsetof(struct sl_conn, isn));
		assert_memory_equal(e.opts, e0.opts, offsetof(struct sl_conn, tried) -
				    offsetof(struct sl_conn, opts));
		assert_true(has_pend(&s, &pv));
		assert_int_equal(pv.bk_id, to);
		assert_int_equal(pv.svc_id, svc);
		assert_int_equal(pv.syn_ns, e.syn_ns);

		/* units moved exactly; the service's stayed */
		assert_live(from, 0, 0);
		assert_live(to, 1, 1);
		assert_svc_active(svc, 1);
		assert_int_equal(a1.released - a0.released, 1);
		assert_int_equal(a1.pend_released - a0.pend_released, 1);
		assert_int_equal(b1.new_flows - b0.new_flows, 1);
		assert_int_equal(b1.pend_taken - b0.pend_taken, 1);
		assert_int_equal(ss1.new_flows - ss0.new_flows, 0);
		/* the refusal is still a refused connect of the backend left */
		assert_int_equal(a1.conn_refused - a0.conn_refused, 1);
		assert_int_equal(a1.redispatch_refused - a0.redispatch_refused, 1);
		assert_int_equal(a1.redispatch_timeout - a0.redispatch_timeout, 0);
		assert_int_equal(b1.redispatch_refused - b0.redispatch_refused, 0);
		assert_int_equal(b1.packets - b0.packets, 1);
		assert_int_equal(b1.bytes - b0.bytes, r.len);
		events(1, (const __u8[]){ SL_EV_REFUSED }, &from, svc, NULL);
		e0 = e;
	}

	/* the bound is reached: the RST goes to the client, rewritten as
	 * before, and the flow is over */
	a0 = fx_bk_stats(c[2]);
	backend_rst(&rev, &s, c[2]);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, vip_of(af), vport_of(af), XDP_REDIRECT);
	a1 = fx_bk_stats(c[2]);
	e = conn_of(&s);
	assert_int_equal(e.bk_id, c[2]);
	assert_int_equal(e.state, SL_CONN_CLOSING);
	assert_int_equal(e.redispatches, 2);
	assert_int_equal(a1.conn_refused - a0.conn_refused, 1);
	assert_int_equal(a1.redispatch_refused - a0.redispatch_refused, 0);
	for (i = 0; i < 3; i++)
		assert_live(c[i], 0, 0);
	assert_svc_active(svc, 0);
	assert_false(has_pend(&s, NULL));
	events(1, (const __u8[]){ SL_EV_REFUSED }, &c[2], svc, NULL);
}

static void refused_v4(void **state)         { refused_moves(4, 0, TCPOPT, sizeof(TCPOPT)); }
static void refused_v4_vlan(void **state)    { refused_moves(4, 1, TCPOPT40, sizeof(TCPOPT40)); }
static void refused_v4_no_opts(void **state) { refused_moves(4, 0, NULL, 0); }
static void refused_v6(void **state)         { refused_moves(6, 0, TCPOPT, sizeof(TCPOPT)); }
static void refused_v6_vlan(void **state)    { refused_moves(6, 1, TCPOPT40, sizeof(TCPOPT40)); }

/* The RST in hand may be longer than the SYN (a tag, payload, IP options):
 * the frame then shrinks to the SYN. */
static void refused_long_rst(void **state)
{
	static const uint8_t IP4OPT[] = { 0x94, 0x04, 0, 0 };
	static char junk[300];
	__u32 c[SL_PROBES + 1];
	uint16_t port = 31500;
	struct spec s, rev;
	struct res r;

	svc_set(4, 1, 0, 0);
	client_syn(&s, 4, 0, &port, 2, c);
	s.tcpopt = NULL;
	s.tcpoptlen = 0;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	backend_rst(&rev, &s, c[0]);
	rev.nvlan = 1;
	rev.ip4opt = IP4OPT;
	rev.ip4optlen = sizeof(IP4OPT);
	memset(junk, 'x', sizeof(junk));
	rev.payload = junk;
	rev.paylen = sizeof(junk);
	fx_send(&rev, fx.if_b, &r);
	assert_syn_to(&s, &r, c[1]);
}

/* A redispatched flow completes with its new backend like any other. */
static void refused_then_established(void **state)
{
	__u32 svc = svc_id_of(6), c[SL_PROBES + 1];
	uint16_t port = 31600;
	struct spec s, rev;
	struct res r;

	svc_set(6, 2, 0, 0);
	client_syn(&s, 6, 0, &port, 2, c);
	fx_send(&s, fx.if_c, &r);
	backend_rst(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	assert_syn_to(&s, &r, c[1]);
	fx_events(NULL, 0);
	fx_spec_rev(&rev, &s, c[1]);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP6, 443, XDP_REDIRECT);
	assert_int_equal(conn_of(&s).state, SL_CONN_ESTABLISHED);
	assert_live(c[0], 0, 0);
	assert_live(c[1], 1, 0);
	assert_svc_active(svc, 1);
	assert_false(has_pend(&s, NULL));
	/* the client's ACK follows the flow to its new backend */
	s.tcp_flags = TH_ACK;
	s.seq++;
	s.ack = rev.seq + 1;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
	no_event();
}

/* No other backend admits (open, draining, half-open without tokens, at
 * its limits): the RST goes to the client, nothing moves, nothing is kept. */
static void refused_nowhere_to_go(void **state)
{
	enum { OPEN, DRAINING, HALF_NO_TOKEN, FULL, PEND_FULL, N };
	int how;

	for (how = 0; how < N; how++) {
		__u32 svc = svc_id_of(4), c[SL_PROBES + 1];
		uint16_t port = (uint16_t)(32000 + how * 100);
		struct sl_bk_stats a0, a1;
		struct sl_bk_live held = { 0 };
		struct spec s, rev;
		struct res r;
		unsigned i, n;

		per_test(state);
		svc_set(4, 2, 0, 0);
		client_syn(&s, 4, 0, &port, 1, c);
		n = cands("web", &s, c);
		fx_send(&s, fx.if_c, &r);
		fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
		for (i = 1; i < n; i++) {
			struct sl_backend b = fx_bk_get(c[i]);

			memset(&held, 0, sizeof(held));
			switch (how) {
			case OPEN:          b.breaker = SL_BRK_OPEN; break;
			case DRAINING:      b.breaker = SL_BRK_DRAINING; break;
			case HALF_NO_TOKEN: b.breaker = SL_BRK_HALF_OPEN; break;
			case FULL:          b.max_conns = 2; held.active = 2; break;
			case PEND_FULL:     b.max_pending = 1; held.active = 1; held.pending = 1; break;
			}
			fx_bk_put(c[i], &b);
			fx_bk_live_put(c[i], &held);
		}
		a0 = fx_bk_stats(c[0]);
		backend_rst(&rev, &s, c[0]);
		fx_send(&rev, fx.if_b, &r);
		fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
		a1 = fx_bk_stats(c[0]);
		assert_int_equal(conn_of(&s).state, SL_CONN_CLOSING);
		assert_int_equal(conn_of(&s).bk_id, c[0]);
		assert_int_equal(conn_of(&s).redispatches, 0);
		assert_int_equal(a1.conn_refused - a0.conn_refused, 1);
		assert_int_equal(a1.redispatch_refused - a0.redispatch_refused, 0);
		assert_live(c[0], 0, 0);
		for (i = 1; i < n; i++) {
			assert_live(c[i], held.active, held.pending);
			assert_int_equal(fx_bk_live(c[i]).trial_tokens, 0);
		}
		assert_svc_active(svc, 0);
		assert_false(has_pend(&s, NULL));
		events(1, (const __u8[]){ SL_EV_REFUSED }, &c[0], svc, NULL);
	}
}

/* redispatch_max 0: never (the RST goes to the client); the service's
 * max_conns is not met again by a move (the flow holds its unit). */
static void refused_bound_zero_and_service_full(void **state)
{
	__u32 svc = svc_id_of(4), c[SL_PROBES + 1];
	uint16_t port = 33000;
	struct spec s, rev;
	struct sl_svc v;
	struct res r;

	client_syn(&s, 4, 0, &port, 2, c);
	fx_send(&s, fx.if_c, &r);
	backend_rst(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, FX_VIP4, 80, XDP_REDIRECT);
	assert_int_equal(conn_of(&s).state, SL_CONN_CLOSING);
	fx_events(NULL, 0);

	/* the service at max_conns = 1, held by this very flow: it moves */
	v = fx_svc_get(FX_VIP4, 80, P_TCP);
	v.max_conns = 1;
	v.redispatch_max = 1;
	fx_svc_put(FX_VIP4, 80, P_TCP, &v);
	s.sport = port;
	pending_syn(&s, 4, 0, &port, 2, c);
	assert_svc_active(svc, 1);
	backend_rst(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	assert_syn_to(&s, &r, c[1]);
	assert_svc_active(svc, 1);
	assert_live(c[1], 1, 1);
}

/* A half-open backend takes a moved flow on a trial token, like a new one. */
static void refused_to_half_open(void **state)
{
	__u32 c[SL_PROBES + 1];
	uint16_t port = 33100;
	struct spec s, rev;
	struct sl_bk_live l;
	struct res r;

	svc_set(4, 1, 0, 0);
	client_syn(&s, 4, 0, &port, 2, c);
	fx_send(&s, fx.if_c, &r);
	bk_breaker(c[1], SL_BRK_HALF_OPEN);
	l = fx_bk_live(c[1]);
	l.trial_tokens = 1;
	fx_bk_live_put(c[1], &l);
	backend_rst(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	assert_syn_to(&s, &r, c[1]);
	assert_int_equal(conn_of(&s).flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND | SL_CONN_F_TRIAL);
	assert_int_equal(fx_bk_live(c[1]).trial_tokens, 0);
}

/* ---- silent: a SYN past connect_timeout goes elsewhere ---------------------- */

static void age(const struct spec *s, __u64 syn_ns)
{
	struct sl_flow_key k = key_of(s);
	struct sl_conn c = conn_of(s);
	struct sl_pend pv;

	c.syn_ns = syn_ns;
	fx_conn_put(&k, &c);
	if (fx_pend(&k, &pv) == 0) {
		pv.syn_ns = syn_ns;
		fx_pend_put(&k, &pv);
	}
}

static void timeout_moves(int af, int nvlan, int daemon_claimed)
{
	__u32 svc = svc_id_of(af), c[SL_PROBES + 1];
	uint16_t port = 34000;
	struct sl_bk_stats a0, a1, b0, b1;
	struct sl_conn e;
	struct sl_pend pv;
	struct spec s;
	struct res r;
	__u64 t0;

	svc_set(af, 2, 3600000, 0);            /* an hour: nothing times out by itself */
	pending_syn(&s, af, nvlan, &port, 3, c);

	/* within the timeout: the retransmission follows the flow */
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	assert_int_equal(conn_of(&s).redispatches, 0);
	no_event();

	/* past it (the SYN long ago): claimed, and the SYN goes elsewhere */
	svc_set(af, 2, 200, 0);
	age(&s, 1);
	if (daemon_claimed) {
		struct sl_flow_key k = key_of(&s);

		assert_int_equal(bpf_map_delete_elem(bpf_map__fd(fx.dp->skel->maps.sl_pending), &k), 0);
	}
	a0 = fx_bk_stats(c[0]);
	b0 = fx_bk_stats(c[1]);
	t0 = now_ns();
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
	a1 = fx_bk_stats(c[0]);
	b1 = fx_bk_stats(c[1]);
	e = conn_of(&s);
	assert_int_equal(e.bk_id, c[1]);
	assert_int_equal(e.state, SL_CONN_PENDING);
	assert_int_equal(e.flags, SL_CONN_F_COUNTED | SL_CONN_F_PEND);
	assert_int_equal(e.redispatches, 1);
	assert_int_equal(e.tried[0], c[0]);
	assert_true(e.syn_ns >= t0);
	assert_live(c[0], 0, 0);
	assert_live(c[1], 1, 1);
	assert_svc_active(svc, 1);
	assert_int_equal(a1.conn_timeout - a0.conn_timeout, daemon_claimed ? 0 : 1);
	assert_int_equal(a1.redispatch_timeout - a0.redispatch_timeout, 1);
	assert_int_equal(a1.redispatch_refused - a0.redispatch_refused, 0);
	assert_int_equal(a1.conn_refused - a0.conn_refused, 0);
	assert_int_equal(a1.released - a0.released, 1);
	assert_int_equal(a1.pend_released - a0.pend_released, 1);
	assert_int_equal(b1.new_flows - b0.new_flows, 1);
	assert_int_equal(b1.pend_taken - b0.pend_taken, 1);
	if (daemon_claimed)
		no_event();
	else
		events(1, (const __u8[]){ SL_EV_TIMEOUT }, &c[0], svc, NULL);
	/* listed again, for the new backend */
	assert_true(has_pend(&s, &pv));
	assert_int_equal(pv.bk_id, c[1]);
	assert_int_equal(pv.syn_ns, e.syn_ns);
	assert_int_equal(pv.connect_timeout_ms, 200);

	/* the next retransmission, within the new backend's time: stays */
	svc_set(af, 2, 3600000, 0);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
	assert_int_equal(conn_of(&s).redispatches, 1);

	/* the second move, then the bound: the SYN stays where it is (its
	 * timeout is still claimed and counted) */
	svc_set(af, 2, 200, 0);
	age(&s, 1);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[2], NULL, NULL);
	assert_int_equal(fx_bk_stats(c[1]).redispatch_timeout - b0.redispatch_timeout, 1);
	age(&s, 1);
	a0 = fx_bk_stats(c[2]);
	fx_events(NULL, 0);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[2], NULL, NULL);
	a1 = fx_bk_stats(c[2]);
	assert_int_equal(conn_of(&s).redispatches, 2);
	assert_int_equal(conn_of(&s).bk_id, c[2]);
	assert_int_equal(a1.redispatch_timeout - a0.redispatch_timeout, 0);
	assert_int_equal(a1.conn_timeout - a0.conn_timeout, 1);
	events(1, (const __u8[]){ SL_EV_TIMEOUT }, &c[2], svc, NULL);
	assert_live(c[0], 0, 0);
	assert_live(c[1], 0, 0);
	assert_live(c[2], 1, 1);
	assert_svc_active(svc, 1);
}

/*
 * A pending flow whose backend tripped (breaker OPEN, its flows being
 * reset) while the backend stayed silent: the SYN past connect_timeout
 * (the daemon's rebuilt one, or the client's) is a timeout redispatch too,
 * counted as such, not a new flow; within the timeout it would be a new
 * flow on another backend, as before.
 */
static void timeout_on_tripped_backend(void **state)
{
	__u32 svc = svc_id_of(4), c[SL_PROBES + 1];
	uint16_t port = 34500;
	struct sl_bk_stats a0, a1;
	struct sl_backend b;
	struct sl_conn e;
	struct spec s;
	struct res r;

	svc_set(4, 2, 200, 0);
	pending_syn(&s, 4, 0, &port, 3, c);
	b = fx_bk_get(c[0]);
	b.breaker = SL_BRK_OPEN;
	b.flags |= SL_BK_F_RESET;
	fx_bk_put(c[0], &b);
	age(&s, 1);
	a0 = fx_bk_stats(c[0]);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
	a1 = fx_bk_stats(c[0]);
	e = conn_of(&s);
	assert_int_equal(e.bk_id, c[1]);
	assert_int_equal(e.state, SL_CONN_PENDING);
	assert_int_equal(e.redispatches, 1);
	assert_int_equal(e.tried[0], c[0]);
	assert_int_equal(a1.redispatch_timeout - a0.redispatch_timeout, 1);
	assert_int_equal(a1.conn_timeout - a0.conn_timeout, 1);
	assert_int_equal(a1.trip_resets - a0.trip_resets, 0);
	assert_live(c[0], 0, 0);
	assert_live(c[1], 1, 1);
	assert_svc_active(svc, 1);
}

static void timeout_v4(void **state)           { timeout_moves(4, 0, 0); }
static void timeout_v4_daemon(void **state)    { timeout_moves(4, 0, 1); }
static void timeout_v6_vlan(void **state)      { timeout_moves(6, 1, 0); }

/*
 * A SYN time later than the clock that judges it (a move on another CPU
 * wrote it after this CPU read the clock) is no timeout: the client's
 * retransmitted SYN neither claims the listing nor moves the flow. With an
 * unsigned age it looked 2^64 ns old.
 */
static void timeout_young_syn(void **state)
{
	__u32 c[SL_PROBES + 1];
	uint16_t port = 34700;
	struct sl_bk_stats a0;
	struct spec s;
	struct res r;

	svc_set(4, 2, 200, 0);
	pending_syn(&s, 4, 0, &port, 2, c);
	age(&s, now_ns() + 10000000000ull);
	a0 = fx_bk_stats(c[0]);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	assert_true(has_pend(&s, NULL));
	assert_int_equal(conn_of(&s).redispatches, 0);
	assert_int_equal(fx_bk_stats(c[0]).conn_timeout - a0.conn_timeout, 0);
	assert_int_equal(fx_bk_stats(c[0]).redispatch_timeout - a0.redispatch_timeout, 0);
	assert_live(c[0], 1, 1);
}

static void quiet(void *ctx, const struct sl_resil_event *e) { (void)ctx; (void)e; }

/*
 * The daemon's pending scan claims the listings past their connect timeout
 * and only those: one listed long ago is claimed; one whose SYN time is
 * later than the scan's clock is not (the clock was read before the map:
 * a SYN listed during the read looked 2^64 ns old, and was claimed at
 * once, its flow left at a silent backend until the client's SYN
 * retransmission a second later).
 */
static void scan_claims_only_past(void **state)
{
	__u32 c_old[SL_PROBES + 1], c_new[SL_PROBES + 1];
	uint16_t port = 34800;
	struct sl_resil *rs = NULL;
	struct spec old, young;
	char err[256] = "";

	pending_syn(&old, 4, 0, &port, 1, c_old);
	pending_syn(&young, 4, 0, &port, 1, c_new);
	age(&old, 1);
	age(&young, now_ns() + 10000000000ull);
	assert_true(has_pend(&old, NULL) && has_pend(&young, NULL));

	if (sl_resil_open(&rs, fx.dp, quiet, NULL, err, sizeof(err)))
		fail_msg("sl_resil_open: %s", err);
	sl_resil_config(rs, fx.cfg);
	/* the scan's timer (10 ms) has fired when the module is dispatched */
	usleep(50 * 1000);
	sl_resil_dispatch(rs);
	sl_resil_close(rs);

	assert_false(has_pend(&old, NULL));
	assert_true(has_pend(&young, NULL));
	assert_int_equal(conn_of(&young).state, SL_CONN_PENDING);
	assert_int_equal(conn_of(&young).bk_id, c_new[0]);
}

/*
 * The scan runs when a listing can be due, not on a period: after a scan
 * of an empty map, a listing made afterwards (past its timeout here) is
 * still claimed, by the scan the first one scheduled at its start plus
 * the shortest connect timeout. Dispatched as the daemon does, whenever
 * the module's fd is ready, for at most 5 s.
 */
static void scan_rearms(void **state)
{
	__u32 c[SL_PROBES + 1];
	uint16_t port = 34900;
	struct sl_resil *rs = NULL;
	struct spec s;
	char err[256] = "";
	int i;

	if (sl_resil_open(&rs, fx.dp, quiet, NULL, err, sizeof(err)))
		fail_msg("sl_resil_open: %s", err);
	sl_resil_config(rs, fx.cfg);
	usleep(50 * 1000);
	sl_resil_dispatch(rs);          /* the first scan: nothing listed */

	pending_syn(&s, 4, 0, &port, 1, c);
	age(&s, 1);
	for (i = 0; i < 500 && has_pend(&s, NULL); i++) {
		struct pollfd pfd = { .fd = sl_resil_fd(rs), .events = POLLIN };

		if (poll(&pfd, 1, 10) > 0)
			sl_resil_dispatch(rs);
	}
	sl_resil_close(rs);
	assert_false(has_pend(&s, NULL));
}

/* ---- late answers from the backend a flow left -------------------------------- */

/*
 * r must be the RST answering `in` (a backend's segment with ACK): back to
 * the backend, <SEQ=SEG.ACK><CTL=RST>, bare headers, checksums from scratch.
 */
static void assert_rst_back(const struct spec *in, const struct res *r)
{
	static struct pkt exp;
	size_t l3 = 14, l4 = 14 + (in->af == 4 ? 20 : 40);
	struct pview v;
	struct spec want;
	char why[256];

	assert_verdict(r->ret, XDP_REDIRECT);
	assert_reason(r->reason, SL_R_REDISPATCH_LATE);
	memset(&want, 0, sizeof(want));
	want.af = in->af;
	want.dmac = in->smac;
	want.smac = in->dmac;
	want.src = in->dst;
	want.dst = in->src;
	want.proto = P_TCP;
	want.ttl = 64;
	want.sport = in->dport;
	want.dport = in->sport;
	want.seq = in->ack;
	want.tcp_flags = TH_RST;
	spec_build(&want, &exp);
	/* what the builder cannot say by zero: IPv4 id 0, window 0 */
	if (in->af == 4)
		exp.b[l3 + 4] = exp.b[l3 + 5] = 0;
	exp.b[l4 + 14] = exp.b[l4 + 15] = 0;
	assert_int_equal(r->len, exp.len);
	if (pkt_diff_masked(exp.b, exp.len, r->out, r->len) >= 0)
		fail_msg("the RST differs from the expected one at byte %ld",
			 pkt_diff_masked(exp.b, exp.len, r->out, r->len));
	if (pv_parse(&v, r->out, r->len, why, sizeof(why)) || pv_check_csums(&v, 1, why, sizeof(why)))
		fail_msg("the RST: %s", why);
}

static void late_answers(int af)
{
	__u32 svc = svc_id_of(af), c[SL_PROBES + 1];
	uint16_t port = 35000;
	struct sl_bk_stats a0, a1;
	struct sl_conn e0, e1;
	struct spec s, rev;
	struct res r;

	svc_set(af, 2, 200, 0);
	client_syn(&s, af, 0, &port, 3, c);
	fx_send(&s, fx.if_c, &r);
	age(&s, 1);
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[1], NULL, NULL);
	fx_events(NULL, 0);
	e0 = conn_of(&s);

	/* the first backend's SYN-ACK, late: an RST back to it */
	a0 = fx_bk_stats(c[0]);
	fx_spec_rev(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	assert_rst_back(&rev, &r);
	/* its RST: dropped */
	rev.tcp_flags = TH_RST | TH_ACK;
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_REDISPATCH_LATE);
	/* its data (any other segment): an RST back */
	rev.tcp_flags = TH_ACK | TH_PSH;
	rev.seq++;
	fx_send(&rev, fx.if_b, &r);
	assert_rst_back(&rev, &r);
	a1 = fx_bk_stats(c[0]);
	assert_int_equal(a1.redispatch_late - a0.redispatch_late, 3);
	assert_int_equal(a1.conn_refused - a0.conn_refused, 0);
	assert_int_equal(a1.handshakes - a0.handshakes, 0);
	assert_int_equal(a1.packets - a0.packets, 0);
	/* the flow did not notice */
	e1 = conn_of(&s);
	assert_memory_equal(&e1, &e0, sizeof(e0));
	assert_live(c[0], 0, 0);
	assert_live(c[1], 1, 1);
	assert_svc_active(svc, 1);
	no_event();

	/* a backend the flow never tried: no flow, as before */
	fx_spec_rev(&rev, &s, c[2]);
	fx_send(&rev, fx.if_b, &r);
	assert_verdict(r.ret, XDP_DROP);
	assert_reason(r.reason, SL_R_NO_FLOW);

	/* the new backend's SYN-ACK establishes the flow */
	fx_spec_rev(&rev, &s, c[1]);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, vip_of(af), vport_of(af), XDP_REDIRECT);
	assert_int_equal(conn_of(&s).state, SL_CONN_ESTABLISHED);
	assert_live(c[1], 1, 0);
}

static void late_v4(void **state) { late_answers(4); }
static void late_v6(void **state) { late_answers(6); }

/* ---- slow calls ------------------------------------------------------------------ */

static void slow_call(int af, __u32 slow_ms, __u64 ago_ns, int want_slow)
{
	__u32 svc = svc_id_of(af), c[SL_PROBES + 1];
	uint16_t port = 36000;
	struct sl_bk_stats b0, b1;
	struct sl_event ev;
	struct spec s, rev;
	struct res r;

	svc_set(af, 0, 0, slow_ms);
	client_syn(&s, af, 0, &port, 1, c);
	fx_send(&s, fx.if_c, &r);
	age(&s, now_ns() - ago_ns);
	b0 = fx_bk_stats(c[0]);
	fx_spec_rev(&rev, &s, c[0]);
	fx_send(&rev, fx.if_b, &r);
	fx_assert_reversed(&rev, &r, vip_of(af), vport_of(af), XDP_REDIRECT);
	b1 = fx_bk_stats(c[0]);
	assert_int_equal(b1.handshakes - b0.handshakes, 1);
	assert_int_equal(b1.slow_calls - b0.slow_calls, want_slow);
	if (want_slow) {
		events(1, (const __u8[]){ SL_EV_SLOW }, &c[0], svc, &ev);
		assert_true(ev.value >= ago_ns / 1000);
		assert_true(ev.value > slow_ms * 1000);
	} else {
		no_event();
	}
	/* once per flow: a SYN-ACK again changes nothing */
	fx_send(&rev, fx.if_b, &r);
	assert_int_equal(fx_bk_stats(c[0]).slow_calls - b0.slow_calls, want_slow);
	no_event();
}

static void slow_v4(void **state)       { slow_call(4, 5, 20000000ull, 1); }
static void slow_v6(void **state)       { slow_call(6, 5, 20000000ull, 1); }
static void slow_off(void **state)      { slow_call(4, 0, 20000000ull, 0); }
static void slow_not_slow(void **state) { slow_call(4, 3600000, 20000000ull, 0); }

/* ---- the daemon's SYN ------------------------------------------------------------ */

/* The frame sl_syn_client_frame (include/sluice/syn.h, what
 * sl_dp_inject_syn sends) builds from an entry is, byte for byte, the SYN
 * that made it. */
static void injected_frame(int af, int nvlan, const uint8_t *opt, size_t optlen)
{
	static struct pkt p;
	uint8_t f[SL_SYN_FRAME_MAX];
	__u32 c[SL_PROBES + 1];
	uint16_t port = 37000;
	struct sl_flow_key k;
	struct sl_conn e;
	struct spec s;
	struct res r;
	size_t n;

	client_syn(&s, af, nvlan, &port, 1, c);
	s.tcpopt = opt;
	s.tcpoptlen = optlen;
	if (!opt)
		s.tcp_flags = TH_SYN;
	fx_send(&s, fx.if_c, &r);
	fx_assert_forwarded(&s, &r, c[0], NULL, NULL);
	k = key_of(&s);
	e = conn_of(&s);
	memset(f, 0xee, sizeof(f));
	n = sl_syn_client_frame(f, &k, &e);
	spec_build(&s, &p);
	assert_int_equal(n, p.len);
	assert_memory_equal(f, p.b, p.len);
}

static void inject_frame_v4(void **state)       { injected_frame(4, 0, TCPOPT, sizeof(TCPOPT)); }
static void inject_frame_v4_vlan(void **state)  { injected_frame(4, 1, TCPOPT40, sizeof(TCPOPT40)); }
static void inject_frame_v4_bare(void **state)  { injected_frame(4, 0, NULL, 0); }
static void inject_frame_v6(void **state)       { injected_frame(6, 0, TCPOPT40, sizeof(TCPOPT40)); }
static void inject_frame_v6_vlan(void **state)  { injected_frame(6, 1, TCPOPT, sizeof(TCPOPT)); }

/*
 * The daemon claims a timeout and injects the client's SYN (live frame on
 * the SYN's ingress interface): the program itself redispatches the flow,
 * and the new backend gets the SYN. The backend's next hop is pointed at
 * sl-b0 for this test, so the frame can be caught on its peer sl-b1.
 */
static void inject_redispatches(int af, enum sl_inject_mode mode)
{
	__u32 svc = svc_id_of(af), c[SL_PROBES + 1];
	uint16_t port = 38000;
	static uint8_t buf[2048];
	static struct pkt exp;
	struct sl_bk_stats a0, a1;
	struct sl_flow_key k;
	struct sl_conn e;
	struct spec s, want;
	uint8_t mac[6];
	char addr[64];
	uint16_t bport;
	int sk, got = 0, tries;
	__u32 if_b1 = if_nametoindex("sl-b1");

	assert_int_not_equal(if_b1, 0);
	assert_int_equal(system("ethtool -K sl-b1 gro on >/dev/null 2>&1"), 0);
	sl_dp_inject_mode(fx.dp, mode);
	svc_set(af, 2, 200, 0);
	pending_syn(&s, af, 0, &port, 2, c);
	fx_nh_mac(c[1], mac);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, c[1], fx.if_b, mac, FX_MAC_GW_B), 0);

	sk = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	assert_true(sk >= 0);
	{
		struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
					   .sll_ifindex = (int)if_b1 };

		assert_int_equal(bind(sk, (struct sockaddr *)&sll, sizeof(sll)), 0);
	}

	/* the daemon's scan: past the timeout, claimed by deleting the listing */
	age(&s, 1);
	k = key_of(&s);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(fx.dp->skel->maps.sl_pending), &k), 0);
	e = conn_of(&s);
	a0 = fx_bk_stats(c[0]);
	assert_int_equal(sl_dp_inject_syn(fx.dp, &k, &e), 0);
	a1 = fx_bk_stats(c[0]);
	e = conn_of(&s);
	assert_int_equal(e.bk_id, c[1]);
	assert_int_equal(e.redispatches, 1);
	assert_int_equal(a1.redispatch_timeout - a0.redispatch_timeout, 1);
	assert_int_equal(a1.conn_timeout - a0.conn_timeout, 0);       /* the daemon's claim */
	assert_live(c[0], 0, 0);
	assert_live(c[1], 1, 1);
	assert_svc_active(svc, 1);

	/* the SYN reached the new backend's link: the client's own SYN,
	 * DNAT'd, TTL down one, the next hop's MACs */
	fx_bk_addr(c[1], addr, sizeof(addr), &bport);
	want = s;
	want.dmac = mac;
	want.smac = FX_MAC_GW_B;
	want.dst = addr;
	want.dport = bport;
	want.ttl = (uint8_t)(s.ttl - 1);
	spec_build(&want, &exp);
	for (tries = 0; tries < 100 && !got; tries++) {
		struct pollfd pfd = { .fd = sk, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recv(sk, buf, sizeof(buf), 0);
		if (n == (ssize_t)exp.len && !memcmp(buf, exp.b, exp.len))
			got = 1;
	}
	close(sk);
	if (!got)
		fail_msg("the redispatched SYN never reached sl-b1");
	fx_nh_mac(c[1], mac);
	assert_int_equal(sl_dp_set_nexthop(fx.dp, c[1], fx.if_lo, mac, FX_MAC_NH_SRC), 0);
}

/* as the kernel allows: live frames, or replayed where they are refused */
static void inject_v4(void **state) { inject_redispatches(4, SL_INJECT_AUTO); }
static void inject_v6(void **state) { inject_redispatches(6, SL_INJECT_AUTO); }
/* replayed: a test run, the redirect sent by a packet socket */
static void inject_replay_v4(void **state) { inject_redispatches(4, SL_INJECT_REPLAY); }
static void inject_replay_v6(void **state) { inject_redispatches(6, SL_INJECT_REPLAY); }

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(kept_v4, per_test),
		cmocka_unit_test_setup(kept_v4_vlan_40, per_test),
		cmocka_unit_test_setup(kept_v4_no_options, per_test),
		cmocka_unit_test_setup(kept_v6, per_test),
		cmocka_unit_test_setup(kept_v6_vlan_40, per_test),
		cmocka_unit_test_setup(refused_v4, per_test),
		cmocka_unit_test_setup(refused_v4_vlan, per_test),
		cmocka_unit_test_setup(refused_v4_no_opts, per_test),
		cmocka_unit_test_setup(refused_v6, per_test),
		cmocka_unit_test_setup(refused_v6_vlan, per_test),
		cmocka_unit_test_setup(refused_long_rst, per_test),
		cmocka_unit_test_setup(refused_then_established, per_test),
		cmocka_unit_test_setup(refused_nowhere_to_go, per_test),
		cmocka_unit_test_setup(refused_bound_zero_and_service_full, per_test),
		cmocka_unit_test_setup(refused_to_half_open, per_test),
		cmocka_unit_test_setup(timeout_v4, per_test),
		cmocka_unit_test_setup(timeout_on_tripped_backend, per_test),
		cmocka_unit_test_setup(timeout_v4_daemon, per_test),
		cmocka_unit_test_setup(timeout_v6_vlan, per_test),
		cmocka_unit_test_setup(timeout_young_syn, per_test),
		cmocka_unit_test_setup(scan_claims_only_past, per_test),
		cmocka_unit_test_setup(scan_rearms, per_test),
		cmocka_unit_test_setup(late_v4, per_test),
		cmocka_unit_test_setup(late_v6, per_test),
		cmocka_unit_test_setup(slow_v4, per_test),
		cmocka_unit_test_setup(slow_v6, per_test),
		cmocka_unit_test_setup(slow_off, per_test),
		cmocka_unit_test_setup(slow_not_slow, per_test),
		cmocka_unit_test_setup(inject_frame_v4, per_test),
		cmocka_unit_test_setup(inject_frame_v4_vlan, per_test),
		cmocka_unit_test_setup(inject_frame_v4_bare, per_test),
		cmocka_unit_test_setup(inject_frame_v6, per_test),
		cmocka_unit_test_setup(inject_frame_v6_vlan, per_test),
		cmocka_unit_test_setup(inject_v4, per_test),
		cmocka_unit_test_setup(inject_v6, per_test),
		cmocka_unit_test_setup(inject_replay_v4, per_test),
		cmocka_unit_test_setup(inject_replay_v6, per_test),
	};

	fx_require_privileges();
	return cmocka_run_group_tests_name("redispatch", t, group_setup, fx_teardown);
}
