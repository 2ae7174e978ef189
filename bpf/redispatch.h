/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Redispatch (DESIGN.md, "Redispatch"): while a flow is PENDING no data has
 * moved, so a backend that refuses it (RST) or stays silent past the
 * service's connect_timeout_ms loses the flow to another backend, and the
 * client never sees the failure.
 *
 *   sl_syn_keep   at admission of a SYN, keep in the entry what rebuilds it
 *   sl_move       choose another backend through the gates, skipping those
 *                 the flow tried, and move the flow's units there
 *   sl_syn_send   turn the frame in hand (the backend's RST) into the
 *                 client's SYN as the forward path sends it to the new backend
 *   sl_late       an answer from a backend the flow has left
 *
 * Global functions (checked once by the verifier) taking ctx, scalars, map
 * values and keys; the two that change packet data (sl_syn_send, sl_late)
 * are always the caller's last word.
 */
#ifndef SL_BPF_REDISPATCH_H
#define SL_BPF_REDISPATCH_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "proto.h"
#include "maps.bpf.h"
#include "gates.h"
#include "conn.h"
#include "rst.h"
#include "sluice/hash.h"
#include "sluice/syn.h"

#define SL_MOVE_REFUSED  1          /* the backend answered the SYN with an RST */
#define SL_MOVE_TIMEOUT  2          /* the backend said nothing for connect_timeout_ms */

/*
 * Keep what rebuilds the SYN in hand in the new entry nc (per-CPU scratch,
 * before it is inserted): the ingress interface, MACs and VLAN tag, the IP
 * fields a client chooses, the TCP sequence number, window, flags and raw
 * options (bpf_xdp_load_bytes of at most 40 bytes; the rest of opts stays
 * zero). l3_off / l4_off: the IP and TCP headers from the frame's start.
 */
__attribute__((noinline)) int sl_syn_keep(struct xdp_md *ctx, struct sl_conn *nc, __u32 l3_off,
					  __u32 l4_off, __u32 family)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th;
	__u32 olen;

	if (!nc || (void *)(eth + 1) > end)
		return 0;
	l3_off &= 0xff;
	l4_off &= 0x3fff;
	nc->syn_ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(nc->syn_dmac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(nc->syn_smac, eth->h_source, ETH_ALEN);
	if (l3_off == sizeof(*eth) + sizeof(struct sl_vlan_hdr)) {
		struct sl_vlan_hdr *vh = data + sizeof(*eth);

		if ((void *)(vh + 1) > end)
			return 0;
		nc->syn_vlan_proto = eth->h_proto;
		nc->syn_vlan_tci = vh->tci;
	}
	if (family == SL_AF_INET) {
		struct iphdr *ip = data + l3_off;

		if ((void *)(ip + 1) > end)
			return 0;
		nc->tos = ip->tos;
		nc->ttl = ip->ttl;
		nc->syn_ip_id = ip->id;
		nc->syn_frag_off = ip->frag_off;
	} else {
		struct ipv6hdr *ip6 = data + l3_off;
		__be32 w;

		if ((void *)(ip6 + 1) > end)
			return 0;
		w = *(__be32 *)ip6;
		nc->tos = (__u8)(bpf_ntohl(w) >> 20);
		nc->flowlabel = w & bpf_htonl(0x000fffff);
		nc->ttl = ip6->hop_limit;
	}
	th = data + l4_off;
	if ((void *)(th + 1) > end)
		return 0;
	nc->isn = th->seq;
	nc->win = th->window;
	nc->syn_tcp_fl = *(__be16 *)((__u8 *)th + 12);
	olen = th->doff * 4;
	olen = olen > sizeof(*th) ? olen - sizeof(*th) : 0;
	if (olen > SL_TCP_OPT_MAX)
		olen = SL_TCP_OPT_MAX;
	if (olen && bpf_xdp_load_bytes(ctx, l4_off + sizeof(*th), nc->opts, olen))
		olen = 0;
	nc->opt_len = (__u8)olen;
	return 1;
}

static __always_inline int tried_has(const struct sl_conn *c, __u32 id)
{
	return id && (c->tried[0] == id || c->tried[1] == id || c->tried[2] == id);
}

/*
 * Move PENDING flow c (key k, service svc) to another backend, unless the
 * service's redispatch_max is used up (0: never). The new backend is chosen
 * as for a new flow (sl_admit: its Maglev candidates, each through the
 * gates, a unit of active and of pending taken), skipping the current
 * backend and those the flow left before (tried); the service's unit stays
 * where it is. One 64-bit compare-and-swap of bk_id and sw moves the flow;
 * the winner gives the old backend's units back. The SYN time and the
 * pending listing start again for the new backend. Counted on the backend
 * left: redispatch_refused (plus conn_refused and SL_EV_REFUSED, which a
 * refused connect always gives) or redispatch_timeout (the timeout itself
 * was claimed by sl_syn_retx or the daemon).
 *
 * Returns the new backend id, 0 when the flow stays (nothing was changed).
 */
__attribute__((noinline)) int sl_move(struct sl_conn *c, struct sl_flow_key *k,
				      const struct sl_svc *svc, __u32 why)
{
	const __u8 both = SL_CONN_F_COUNTED | SL_CONN_F_PEND;
	struct sl_scratch *sc = scratch();
	struct sl_bk_stats *bs;
	struct sl_bk_live *bl;
	union sl_bsw o, n;
	__u32 old_id, new_id, svc_id, i, trial;
	__u64 skip;
	int r;

	if (!c || !k || !svc || !sc)
		return 0;
	if (c->redispatches >= svc->redispatch_max)
		return 0;
	o.v = *(volatile __u64 *)&c->bsw;
	if (o.state != SL_CONN_PENDING || (o.flags & both) != both)
		return 0;
	old_id = o.bk_id;
	svc_id = o.svc_id;
	skip = (__u64)(old_id & 0xffff) | (__u64)c->tried[0] << 16 |
	       (__u64)c->tried[1] << 32 | (__u64)c->tried[2] << 48;
	r = sl_admit(svc_id, sl_hash_flow(k, SL_SEED_FLOW), 0, SL_ADMIT_F_SYN | SL_ADMIT_F_MOVE, skip);
	if (r <= 0)
		return 0;
	new_id = SL_ADMIT_ID(r);
	trial = r & SL_ADMIT_TRIAL ? SL_CONN_F_TRIAL : 0;
	/* The new SYN time before the swap: a SYN on another CPU that sees
	 * the new backend also sees a fresh age, so one timeout moves the
	 * flow once (docs/decisions.md). */
	c->syn_ns = bpf_ktime_get_ns();
	for (i = 0; i < SL_CAS_TRIES; i++) {
		o.v = *(volatile __u64 *)&c->bsw;
		if (o.bk_id != old_id || o.state != SL_CONN_PENDING || (o.flags & both) != both)
			break;
		n.v = o.v;
		n.bk_id = new_id;
		n.flags = (o.flags & ~SL_CONN_F_TRIAL) | trial;
		if (__sync_val_compare_and_swap(&c->bsw, o.v, n.v) == o.v)
			goto moved;
	}
	/* the flow ended or moved meanwhile: the new backend keeps nothing */
	bl = bpf_map_lookup_elem(&sl_bk_live, &new_id);
	if (bl) {
		__sync_fetch_and_add(&bl->active, -1);
		__sync_fetch_and_add(&bl->pending, -1);
		if (trial)
			__sync_fetch_and_add(&bl->trial_tokens, 1);
	}
	return 0;

moved:
	c->tried[2] = c->tried[1];
	c->tried[1] = c->tried[0];
	c->tried[0] = (__u16)old_id;
	c->redispatches++;
	sc->pend.syn_ns = c->syn_ns;
	sc->pend.bk_id = new_id;
	sc->pend.svc_id = svc_id;
	sc->pend.connect_timeout_ms = svc->connect_timeout_ms;
	sc->pend.pad = 0;
	bpf_map_update_elem(&sl_pending, k, &sc->pend, BPF_ANY);

	bs = bpf_map_lookup_elem(&sl_bk_stats, &new_id);
	if (bs) {
		bs->new_flows++;                /* units taken, as for a new flow */
		bs->pend_taken++;
	}
	bl = bpf_map_lookup_elem(&sl_bk_live, &old_id);
	if (bl) {
		__sync_fetch_and_add(&bl->active, -1);
		__sync_fetch_and_add(&bl->pending, -1);
	}
	bs = bpf_map_lookup_elem(&sl_bk_stats, &old_id);
	if (bs) {
		bs->released++;
		bs->pend_released++;
		if (why == SL_MOVE_REFUSED) {
			bs->conn_refused++;
			bs->redispatch_refused++;
			sl_bk_touch(bl);
		} else {
			bs->redispatch_timeout++;
		}
	}
	if (why == SL_MOVE_REFUSED)
		ev_push(SL_EV_REFUSED, old_id, svc_id, 0);
	return (int)new_id;
}

/*
 * Turn the frame in hand (the old backend's RST) into the client's SYN of
 * flow c (key k) as the forward path would send it to c's backend: client
 * address and port, the backend's address and port, TTL / hop limit one
 * less than the client's, no tag, every checksum from scratch (the SYN is
 * built in per-CPU scratch by sl_syn_frame, include/sluice/syn.h). The
 * frame grows at its head (growing the tail fails on veth) or shrinks at
 * its tail. Next hop as to_backend(): the backend's, else a route lookup;
 * an unresolved neighbour or an unmanaged interface leaves the rebuilt
 * packet to the kernel with the frame's own MACs (no_neigh,
 * egress_unmanaged), as the forward path does.
 */
__attribute__((noinline)) int sl_syn_send(struct xdp_md *ctx, struct sl_conn *c, struct sl_flow_key *k)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct sl_scratch *sc = scratch();
	struct ethhdr *eth = data;
	struct sl_svc_stats *ss;
	struct sl_bk_stats *bs;
	struct sl_backend *bk;
	__u8 odmac[ETH_ALEN], osmac[ETH_ALEN];
	const __u8 *dmac, *smac;
	__u32 bk_id, svc_id, ifindex, len, reason = 0;
	int delta, rc;

	if (!c || !k || !sc || (void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(odmac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(osmac, eth->h_source, ETH_ALEN);
	bk_id = c->bk_id;
	svc_id = c->svc_id;
	bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
	if (!bk) {
		count_reason(SL_R_NO_BACKEND);
		return XDP_DROP;
	}
	if (bk->flags & SL_BK_F_NH) {
		ifindex = bk->nh_ifindex;
		dmac = bk->nh_dmac;
		smac = bk->nh_smac;
	} else {
		struct bpf_fib_lookup *f = &sc->fib;

		__builtin_memset(f, 0, sizeof(*f));
		f->ifindex = c->syn_ifindex ? c->syn_ifindex : ctx->ingress_ifindex;
		f->l4_protocol = IPPROTO_TCP;
		if (k->family == SL_AF_INET) {
			f->family = 2;          /* AF_INET */
			f->ipv4_src = k->src[0];
			f->ipv4_dst = bk->addr.addr[0];
		} else {
			f->family = 10;         /* AF_INET6 */
			__builtin_memcpy(f->ipv6_src, k->src, 16);
			__builtin_memcpy(f->ipv6_dst, bk->addr.addr, 16);
		}
		rc = bpf_fib_lookup(ctx, f, sizeof(*f), 0);
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
			reason = SL_R_NO_NEIGH;
		} else if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			count_reason(SL_R_FIB_FAILED);
			return XDP_DROP;
		}
		ifindex = f->ifindex;
		dmac = f->dmac;
		smac = f->smac;
	}
	if (!reason && bpf_redirect_map(&sl_tx, ifindex, XDP_PASS) != XDP_REDIRECT)
		reason = SL_R_UNMANAGED;
	if (reason) {
		dmac = odmac;
		smac = osmac;
	}
	len = sl_syn_frame(sc->syn, k, c, bk->addr.addr, bk->addr.port, dmac, smac, 0, 0,
			   (__u8)(c->ttl - 1));
	if (len < sizeof(*eth) + 20 + 20 || len > SL_SYN_FRAME_MAX)
		return XDP_DROP;
	delta = (int)len - (int)(end - data);
	if (delta > 0) {
		if (bpf_xdp_adjust_head(ctx, -delta))
			return XDP_DROP;
	} else if (delta < 0) {
		if (bpf_xdp_adjust_tail(ctx, delta))
			return XDP_DROP;
	}
	if (bpf_xdp_store_bytes(ctx, 0, sc->syn, len))
		return XDP_DROP;

	ss = bpf_map_lookup_elem(&sl_svc_stats, &svc_id);
	if (ss) {
		ss->packets++;
		ss->bytes += len;
	}
	bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	if (bs) {
		bs->packets++;
		bs->bytes += len;
	}
	if (reason) {
		count_reason(reason);
		return XDP_PASS;
	}
	return XDP_REDIRECT;
}

/*
 * An answer from backend bk_id to a flow that has left it (redispatched):
 * an RST is dropped; anything else (its SYN-ACK, late) is answered with the
 * RST that resets its half-open connection, back out of the interface it
 * came in by. Both count under redispatch_late, and on the backend.
 */
__attribute__((noinline)) int sl_late(struct xdp_md *ctx, __u32 bk_id, __u32 l3_off, __u32 l4_off,
				      __u32 family)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct sl_bk_stats *bs;
	struct tcphdr *th;

	count_reason(SL_R_REDISPATCH_LATE);
	bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	if (bs)
		bs->redispatch_late++;
	th = data + (l4_off & 0x3fff);
	if ((void *)(th + 1) > end)
		return XDP_DROP;
	if (((__u8 *)th)[13] & SL_TCP_RST)
		return XDP_DROP;
	return sl_tcp_reset(ctx, l3_off, l4_off, family);
}

#endif
