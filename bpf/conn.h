/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A flow's TCP state, its units of the bulkhead counters, its pending
 * entry and the passive signals it gives (DESIGN.md, "Connection entry",
 * "Pending flows", "Passive signals").
 *
 * State and flags share the entry's 32-bit word `sw` with the service id
 * and change only by compare-and-swap of that word. Whoever's swap clears
 * SL_CONN_F_COUNTED gives back one unit of the backend's and the service's
 * active, whoever's clears SL_CONN_F_PEND one of the backend's pending:
 * each unit goes back exactly once however many CPUs see the FIN.
 */
#ifndef SL_BPF_CONN_H
#define SL_BPF_CONN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

#define SL_CAS_TRIES 8

/* What happened to a flow. */
enum sl_conn_ev {
	SL_CE_CLOSE = 1,            /* FIN or RST from the client, FIN from the backend,
	                               or the entry is about to be replaced or removed */
	SL_CE_SYNACK,               /* SYN-ACK from the backend */
	SL_CE_BK_RST,               /* RST from the backend */
	SL_CE_TRIP,                 /* reset by the gateway (SL_BK_F_RESET) */
};

/* The entry's word, field by field (the layout of struct sl_conn). */
union sl_sw {
	struct {
		__u16 svc_id;
		__u8  state;
		__u8  flags;
	};
	__u32 sw;
};

/* The entry's first 64 bits: bk_id and `sw` (struct sl_conn's bsw). */
union sl_bsw {
	struct {
		__u32 bk_id;
		__u16 svc_id;
		__u8  state;
		__u8  flags;
	};
	__u64 v;
};

/* Push an event on the ring; a full ring loses it. Built in per-CPU
 * scratch: the stack is short. */
static __always_inline void ev_push(__u32 kind, __u32 bk_id, __u32 svc_id, __u32 value)
{
	struct sl_scratch *sc = scratch();
	struct sl_event *ev;

	if (!sc)
		return;
	ev = &sc->ev;
	ev->ns = bpf_ktime_get_ns();
	ev->bk_id = bk_id;
	ev->svc_id = (__u16)svc_id;
	ev->kind = (__u8)kind;
	ev->pad = 0;
	ev->value = value;
	ev->pad2 = 0;
	bpf_ringbuf_output(&sl_events, ev, sizeof(*ev), 0);
}

/* The service of flow k (its VIP), looked up with a key in scratch. */
static __always_inline struct sl_svc *flow_svc(const struct sl_flow_key *k)
{
	struct sl_scratch *sc = scratch();
	struct sl_l4addr *key;

	if (!sc)
		return NULL;
	key = &sc->skey;
	__builtin_memcpy(key->addr, k->dst, 16);
	key->port = k->dport;
	key->proto = k->proto;
	key->family = k->family;
	return bpf_map_lookup_elem(&sl_svc, key);
}

/* floor(log2(us)) clamped to the histogram: bucket i holds [2^i, 2^(i+1)) us. */
static __always_inline __u32 hs_bucket(__u64 us)
{
	__u32 b = 0, x;

	if (us >> 32)
		return SL_HS_BUCKETS - 1;
	x = (__u32)us;
	if (x >> 16) { b += 16; x >>= 16; }
	if (x >> 8)  { b += 8;  x >>= 8; }
	if (x >> 4)  { b += 4;  x >>= 4; }
	if (x >> 2)  { b += 2;  x >>= 2; }
	if (x >> 1)  { b += 1; }
	return b < SL_HS_BUCKETS ? b : SL_HS_BUCKETS - 1;
}

/*
 * Apply event ev to entry c (key k). Returns 1 when this call made the
 * change (and so gave back the units and counted the signal), 0 when there
 * was nothing to change (already closing, not pending for a SYN-ACK) or
 * other CPUs kept winning the swap.
 *
 * A global function taking the entry and its key as pointers (map values
 * or stack of the caller): checked once.
 */
__attribute__((noinline)) int sl_conn_ev(struct sl_conn *c, struct sl_flow_key *k, __u32 ev)
{
	struct sl_bk_stats *bs;
	struct sl_bk_live *bl;
	struct sl_svc_live *sl;
	union sl_sw o, n;
	__u32 bk_id, svc_id, gone, i;
	__u64 us;

	if (!c || !k)
		return 0;
	for (i = 0; i < SL_CAS_TRIES; i++) {
		o.sw = *(volatile __u32 *)&c->sw;
		n.sw = o.sw;
		if (ev == SL_CE_SYNACK) {
			if (o.state != SL_CONN_PENDING)
				return 0;
			n.state = SL_CONN_ESTABLISHED;
			n.flags &= ~SL_CONN_F_PEND;
		} else {
			n.state = SL_CONN_CLOSING;
			n.flags &= ~(SL_CONN_F_COUNTED | SL_CONN_F_PEND);
			if (ev == SL_CE_TRIP)
				n.flags |= SL_CONN_F_RESET;
		}
		if (n.sw == o.sw)
			return 0;
		if (__sync_val_compare_and_swap(&c->sw, o.sw, n.sw) == o.sw)
			break;
	}
	if (i >= SL_CAS_TRIES)
		return 0;

	bk_id = c->bk_id;
	svc_id = o.svc_id;
	gone = o.flags & ~n.flags;
	bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	bl = bpf_map_lookup_elem(&sl_bk_live, &bk_id);
	if (gone & SL_CONN_F_COUNTED) {
		sl = bpf_map_lookup_elem(&sl_svc_live, &svc_id);
		if (bl)
			__sync_fetch_and_add(&bl->active, -1);
		if (sl)
			__sync_fetch_and_add(&sl->active, -1);
		if (bs)
			bs->released++;
	}
	if (gone & SL_CONN_F_PEND) {
		if (bl)
			__sync_fetch_and_add(&bl->pending, -1);
		if (bs)
			bs->pend_released++;
	}
	/* The pending state ends here: so does the flow's pending entry
	 * (the daemon then finds no timeout to claim). */
	if (o.state == SL_CONN_PENDING)
		bpf_map_delete_elem(&sl_pending, k);
	if (!bs)
		return 1;
	if (ev == SL_CE_SYNACK || ev == SL_CE_BK_RST)
		sl_bk_touch(bl);

	if (ev == SL_CE_SYNACK) {
		struct sl_svc *svc;
		__u32 us32;

		bs->last_hs_ns = bpf_ktime_get_ns();
		us = (bs->last_hs_ns - c->syn_ns) / 1000;
		us32 = us > 0xffffffffull ? 0xffffffffu : (__u32)us;
		bs->handshakes++;
		bs->hs_hist[hs_bucket(us)]++;
		if (o.flags & SL_CONN_F_TRIAL)
			ev_push(SL_EV_TRIAL_OK, bk_id, svc_id, us32);
		/* a slow call: the handshake took longer than the service's
		 * slow_call_ms (once per flow, on the SYN-ACK) */
		svc = flow_svc(k);
		if (svc && svc->slow_call_ms && us > (__u64)svc->slow_call_ms * 1000) {
			bs->slow_calls++;
			ev_push(SL_EV_SLOW, bk_id, svc_id, us32);
		}
	} else if (ev == SL_CE_BK_RST) {
		if (o.state == SL_CONN_PENDING) {
			bs->conn_refused++;
			ev_push(SL_EV_REFUSED, bk_id, svc_id, 0);
		} else if (o.state == SL_CONN_ESTABLISHED) {
			bs->resets++;
			ev_push(SL_EV_RESET, bk_id, svc_id, 0);
		}
	}
	return 1;
}

/*
 * A client's SYN retransmitted on a PENDING flow older than the service's
 * connect_timeout_ms claims the connect timeout, once: by deleting the
 * flow's pending entry, as the daemon's scan does. Returns 1 when the flow
 * is past its timeout (claimed here or not: the age decides whether the
 * flow is redispatched, the claim only who counts the timeout), else 0.
 */
__attribute__((noinline)) int sl_syn_retx(struct sl_conn *c, struct sl_flow_key *k, __u32 timeout_ms)
{
	struct sl_bk_stats *bs;
	__u32 bk_id;
	__u64 age, syn_ns;

	if (!c || !k || !timeout_ms || c->state != SL_CONN_PENDING)
		return 0;
	/* the SYN time first: a move on another CPU may set a later one
	 * after this CPU's clock was read; a SYN younger than the clock is
	 * not past its timeout */
	syn_ns = *(volatile __u64 *)&c->syn_ns;
	age = bpf_ktime_get_ns();
	if (age <= syn_ns)
		return 0;
	age -= syn_ns;
	if (age <= (__u64)timeout_ms * 1000000ull)
		return 0;
	if (bpf_map_delete_elem(&sl_pending, k))
		return 1;               /* the daemon (or another CPU) claimed it */
	bk_id = c->bk_id;
	bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	if (bs)
		bs->conn_timeout++;
	sl_bk_touch_id(bk_id);
	age /= 1000;
	ev_push(SL_EV_TIMEOUT, bk_id, c->svc_id, age > 0xffffffffull ? 0xffffffffu : (__u32)age);
	return 1;
}

#define SL_E2BIG            7       /* a full hash map's answer to an insert */
#define SL_PEND_FULL_SKIP   63      /* SYNs not listed, per CPU, after the map was full */

/*
 * List an admitted SYN's flow in sl_pending. 1 if listed; a full map (or
 * an entry left there) only loses the early timeout. A failed insert into
 * a full map costs as much as the rest of a new flow (the bucket walk
 * misses the cache: ~350 ns here), and a full map is what a SYN flood
 * makes; so after one, this CPU lists only every 64th SYN until an insert
 * succeeds again (per-CPU scratch: nothing shared is written).
 */
__attribute__((noinline)) int sl_pend_add(struct sl_flow_key *k, __u32 bk_id, __u32 svc_id,
					  __u32 timeout_ms, __u64 syn_ns)
{
	struct sl_scratch *sc = scratch();
	struct sl_pend *pv;
	long rc;

	if (!k || !sc)
		return 0;
	if (sc->pend_skip) {
		sc->pend_skip--;
		return 0;
	}
	pv = &sc->pend;
	pv->syn_ns = syn_ns;
	pv->bk_id = bk_id;
	pv->svc_id = svc_id;
	pv->connect_timeout_ms = timeout_ms;
	pv->pad = 0;
	rc = bpf_map_update_elem(&sl_pending, k, pv, BPF_NOEXIST);
	if (rc == -SL_E2BIG)
		sc->pend_skip = SL_PEND_FULL_SKIP;
	return rc == 0;
}

#endif
