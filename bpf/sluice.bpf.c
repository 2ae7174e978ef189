// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sluice's data path: one XDP program for both directions of a NAT-mode
 * layer-4 load balancer (DESIGN.md, "Data path").
 *
 *   client -> VIP      forward: service lookup, connection table, Maglev
 *                      choice for a new flow, DNAT, redirect to the backend
 *   backend -> client  reverse: backend address names the service, the
 *                      forward key is rebuilt, SNAT back to the VIP
 *   ICMP errors        about a NAT'd flow, rewritten inside and out
 *
 * Every packet not forwarded here leaves through out(), which counts it
 * under a reason from include/sluice/reasons.h and returns that reason's
 * verdict.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "proto.h"
#include "csum.h"
#include "maps.bpf.h"
#include "sluice/hash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SL_AF_INET_KERNEL   2
#define SL_AF_INET6_KERNEL  10
#define SL_SEEN_STALE_NS    1000000000ull
#define OK                  (-1)

struct pkt {
	void *l3;                   /* IPv4 or IPv6 header */
	void *l4;                   /* TCP, UDP or ICMP header */
	struct sl_flow_key k;       /* addresses and ports as in the packet */
	__u32 len;                  /* frame length, for byte counters */
	__u8  vlan;                 /* one 802.1Q tag present */
	__u8  tcp_flags;
	__u8  icmp_err;             /* ICMP error: handled through its quoted packet */
};

/* The verdict of each reason, from the one table. */
static __always_inline int sl_verdict(__u32 r)
{
	switch (r) {
#define SL_R_CASE(e, v, n, d) case SL_R_##e: return XDP_##v;
	SL_REASONS(SL_R_CASE)
#undef SL_R_CASE
	}
	return XDP_DROP;
}

static __always_inline int out(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&sl_reasons, &reason);

	if (c)
		*c += 1;
	return sl_verdict(reason);
}

/* Reasons that apply only to packets addressed to a VIP; anything else with
 * that shape is the kernel's business. */
static __always_inline int soft_reason(__u32 r)
{
	return r == SL_R_FRAGMENT || r == SL_R_IPV6_EXT_LIMIT || r == SL_R_L4_TRUNC ||
	       r == SL_R_L4_MALFORMED || r == SL_R_PROTO || r == SL_R_ICMP_UNMATCHED;
}

static __always_inline int is_vip_addr(const struct pkt *p)
{
	struct sl_vip_key vk = {};

	__builtin_memcpy(vk.addr, p->k.dst, sizeof(vk.addr));
	vk.family = p->k.family;
	return bpf_map_lookup_elem(&sl_vips, &vk) != NULL;
}

static __always_inline int filter_has(const __be32 *a)
{
	__u32 bit = sl_addr_bit(a);
	__u32 w = bit >> 6;
	__u64 *v = bpf_map_lookup_elem(&sl_addr_filter, &w);

	return v && (*v & (1ull << (bit & 63)));
}

/* ---- parsing ---------------------------------------------------------- */

static __always_inline int parse_l4(void *l4, __u32 l4_room, void *end, struct pkt *p)
{
	p->l4 = l4;
	if (p->k.proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		__u32 doff;

		if ((void *)(th + 1) > end)
			return SL_R_L4_TRUNC;
		doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > l4_room)
			return SL_R_L4_MALFORMED;
		p->k.sport = th->source;
		p->k.dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return OK;
	}
	if (p->k.proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		__u32 ulen;

		if ((void *)(uh + 1) > end)
			return SL_R_L4_TRUNC;
		ulen = bpf_ntohs(uh->len);
		if (ulen < sizeof(*uh) || ulen > l4_room)
			return SL_R_L4_MALFORMED;
		p->k.sport = uh->source;
		p->k.dport = uh->dest;
		return OK;
	}
	if ((p->k.family == SL_AF_INET && p->k.proto == IPPROTO_ICMP) ||
	    (p->k.family == SL_AF_INET6 && p->k.proto == SL_IPPROTO_ICMPV6)) {
		struct sl_icmphdr *ic = l4;

		if ((void *)(ic + 1) > end)
			return SL_R_L4_TRUNC;
		if (p->k.family == SL_AF_INET)
			p->icmp_err = ic->type == SL_ICMP_DEST_UNREACH ||
				      ic->type == SL_ICMP_TIME_EXCEEDED;
		else
			p->icmp_err = ic->type == SL_ICMPV6_DEST_UNREACH ||
				      ic->type == SL_ICMPV6_PKT_TOOBIG ||
				      ic->type == SL_ICMPV6_TIME_EXCEED;
		return p->icmp_err ? OK : SL_R_ICMP_UNMATCHED;
	}
	return SL_R_PROTO;
}

static __always_inline int parse_ipv4(void *l3, void *end, struct pkt *p)
{
	struct iphdr *ip = l3;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > end)
		return SL_R_L3_TRUNC;
	if (ip->version != 4 || ip->ihl < 5)
		return SL_R_L3_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen)
		return SL_R_L3_MALFORMED;
	if (l3 + tot > end)
		return SL_R_L3_TRUNC;
	p->l3 = ip;
	p->k.family = SL_AF_INET;
	p->k.proto = ip->protocol;
	p->k.src[0] = ip->saddr;
	p->k.dst[0] = ip->daddr;
	if (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET))
		return SL_R_FRAGMENT;
	return parse_l4(l3 + hlen, tot - hlen, end, p);
}

static __always_inline int parse_ipv6(void *l3, void *end, struct pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	__u32 off = sizeof(*ip6), plen;
	__u8 nh;
	int i;

	if ((void *)(ip6 + 1) > end)
		return SL_R_L3_TRUNC;
	if (ip6->version != 6)
		return SL_R_L3_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	if (l3 + sizeof(*ip6) + plen > end)
		return SL_R_L3_TRUNC;
	p->l3 = ip6;
	p->k.family = SL_AF_INET6;
	__builtin_memcpy(p->k.src, &ip6->saddr, 16);
	__builtin_memcpy(p->k.dst, &ip6->daddr, 16);
	nh = ip6->nexthdr;

#pragma unroll
	for (i = 0; i < SL_IPV6_EXT_MAX; i++) {
		if (nh == SL_NEXTHDR_FRAGMENT) {
			struct sl_frag_hdr *fh = l3 + off;

			if ((void *)(fh + 1) > end)
				return SL_R_L3_TRUNC;
			/* offset or more-fragments: a real fragment */
			if (fh->frag_off & bpf_htons(0xfff9)) {
				p->k.proto = fh->nexthdr;
				return SL_R_FRAGMENT;
			}
			nh = fh->nexthdr;
			off += sizeof(*fh);
		} else if (nh == SL_NEXTHDR_HOP || nh == SL_NEXTHDR_ROUTING ||
			   nh == SL_NEXTHDR_DEST || nh == SL_NEXTHDR_AUTH) {
			struct sl_ipv6_opt_hdr *oh = l3 + off;

			if ((void *)(oh + 1) > end)
				return SL_R_L3_TRUNC;
			off += nh == SL_NEXTHDR_AUTH ? (oh->hdrlen + 2) * 4 : (oh->hdrlen + 1) * 8;
			nh = oh->nexthdr;
		} else {
			break;
		}
		if (off > sizeof(*ip6) + plen)
			return SL_R_L3_MALFORMED;
	}
	p->k.proto = nh;
	if (nh == SL_NEXTHDR_FRAGMENT || nh == SL_NEXTHDR_HOP || nh == SL_NEXTHDR_ROUTING ||
	    nh == SL_NEXTHDR_DEST || nh == SL_NEXTHDR_AUTH)
		return SL_R_IPV6_EXT_LIMIT;
	off &= 0x3fff;              /* bounded above by the loop; tell the verifier */
	return parse_l4(l3 + off, sizeof(*ip6) + plen - off, end, p);
}

/* ---- rewriting -------------------------------------------------------- */

/*
 * Replace the source (dst_side = 0) or destination address and port of a
 * parsed packet, fixing IP and L4 checksums, and decrement TTL / hop limit.
 */
static __always_inline void nat_rewrite(struct pkt *p, void *end, int dst_side,
					const __be32 *addr, __be16 port)
{
	__u32 adiff, l4diff;
	__be16 *pp;

	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = p->l3;
		__be32 *a = dst_side ? &ip->daddr : &ip->saddr;
		__be16 old_ttl = *(__be16 *)&ip->ttl;

		if ((void *)(ip + 1) > end)
			return;
		adiff = sl_csum_diff_words(a, addr, 1);
		*a = addr[0];
		ip->ttl--;
		sl_csum_apply(&ip->check, adiff + sl_csum_diff16(old_ttl, *(__be16 *)&ip->ttl));
	} else {
		struct ipv6hdr *ip6 = p->l3;
		__be32 *a;

		if ((void *)(ip6 + 1) > end)
			return;
		a = dst_side ? (__be32 *)&ip6->daddr : (__be32 *)&ip6->saddr;
		adiff = sl_csum_diff_words(a, addr, 4);
		__builtin_memcpy(a, addr, 16);
		ip6->hop_limit--;
	}

	if (p->k.proto == IPPROTO_TCP) {
		struct tcphdr *th = p->l4;

		if ((void *)(th + 1) > end)
			return;
		pp = dst_side ? &th->dest : &th->source;
		l4diff = adiff + sl_csum_diff16(*pp, port);
		*pp = port;
		sl_csum_apply(&th->check, l4diff);
	} else {
		struct udphdr *uh = p->l4;

		if ((void *)(uh + 1) > end)
			return;
		pp = dst_side ? &uh->dest : &uh->source;
		l4diff = adiff + sl_csum_diff16(*pp, port);
		*pp = port;
		sl_csum_apply_udp(&uh->check, l4diff);
	}
}

static __always_inline int ttl_expiring(const struct pkt *p)
{
	if (p->k.family == SL_AF_INET)
		return ((struct iphdr *)p->l3)->ttl <= 1;
	return ((struct ipv6hdr *)p->l3)->hop_limit <= 1;
}

/* ---- egress ----------------------------------------------------------- */

/*
 * Send the rewritten frame to a next hop. Only interfaces in sl_tx (the
 * configured ones) are redirect targets; a next hop elsewhere leaves the
 * frame to the kernel, rewritten, with its L2 header untouched.
 */
static __always_inline int xmit(struct xdp_md *ctx, struct pkt *p, __u32 ifindex,
				const __u8 *dmac, const __u8 *smac)
{
	void *data, *end;
	struct ethhdr *eth;
	int rc;

	rc = bpf_redirect_map(&sl_tx, ifindex, XDP_PASS);
	if (rc != XDP_REDIRECT)
		return out(SL_R_UNMANAGED);
	if (p->vlan) {
		/* Sluice interfaces are untagged: drop the tag on the way out. */
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		eth = data + sizeof(struct sl_vlan_hdr);
		if ((void *)(eth + 1) > end)
			return XDP_DROP;
		eth->h_proto = p->k.family == SL_AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
		if (bpf_xdp_adjust_head(ctx, sizeof(struct sl_vlan_hdr)))
			return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	return XDP_REDIRECT;
}

/* Route lookup for a packet already rewritten; fills ifindex and MACs. */
static __always_inline int fib(struct xdp_md *ctx, const struct pkt *p, const __be32 *src,
			       const __be32 *dst, struct bpf_fib_lookup *f)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->ifindex = ctx->ingress_ifindex;
	f->l4_protocol = p->k.proto;
	if (p->k.family == SL_AF_INET) {
		f->family = SL_AF_INET_KERNEL;
		f->ipv4_src = src[0];
		f->ipv4_dst = dst[0];
	} else {
		f->family = SL_AF_INET6_KERNEL;
		__builtin_memcpy(f->ipv6_src, src, 16);
		__builtin_memcpy(f->ipv6_dst, dst, 16);
	}
	return bpf_fib_lookup(ctx, f, sizeof(*f), 0);
}

static __always_inline int fib_verdict(int rc)
{
	return out(rc == BPF_FIB_LKUP_RET_NO_NEIGH ? SL_R_NO_NEIGH : SL_R_FIB_FAILED);
}

/* Towards a backend: its cached next hop, else a route lookup. */
static __always_inline int to_backend(struct xdp_md *ctx, struct pkt *p, const struct sl_backend *bk,
				      const __be32 *src)
{
	struct bpf_fib_lookup f;
	int rc;

	if (bk->flags & SL_BK_F_NH)
		return xmit(ctx, p, bk->nh_ifindex, bk->nh_dmac, bk->nh_smac);
	rc = fib(ctx, p, src, bk->addr.addr, &f);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_verdict(rc);
	return xmit(ctx, p, f.ifindex, f.dmac, f.smac);
}

/* Towards a client: the flow's cached next hop, else a route lookup kept in
 * the entry until the daemon bumps the next-hop generation. */
static __always_inline int to_client(struct xdp_md *ctx, struct pkt *p, struct sl_conn *c,
				     const __be32 *src, const __be32 *dst)
{
	struct bpf_fib_lookup f;
	__u32 zero = 0;
	struct sl_meta *m = bpf_map_lookup_elem(&sl_meta, &zero);
	__u16 gen = m ? (__u16)m->nh_gen : 0;
	int rc;

	if ((c->flags & SL_CONN_F_REV_NH) && c->rev_gen == gen)
		return xmit(ctx, p, c->rev_ifindex, c->rev_dmac, c->rev_smac);
	rc = fib(ctx, p, src, dst, &f);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_verdict(rc);
	c->rev_ifindex = f.ifindex;
	__builtin_memcpy(c->rev_dmac, f.dmac, ETH_ALEN);
	__builtin_memcpy(c->rev_smac, f.smac, ETH_ALEN);
	c->rev_gen = gen;
	c->flags |= SL_CONN_F_REV_NH;
	return xmit(ctx, p, f.ifindex, f.dmac, f.smac);
}

/* ---- flows ------------------------------------------------------------ */

static __always_inline void count_flow(__u32 svc_id, __u32 bk_id, __u32 len, int new_flow)
{
	struct sl_svc_stats *ss = bpf_map_lookup_elem(&sl_svc_stats, &svc_id);
	struct sl_bk_stats *bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);

	if (ss) {
		ss->packets++;
		ss->bytes += len;
		ss->new_flows += new_flow;
	}
	if (bs) {
		bs->packets++;
		bs->bytes += len;
		bs->new_flows += new_flow;
	}
}

/* The breaker gate; bulkheads join here (resilience issue). */
static __always_inline int admissible(const struct sl_backend *bk, __u32 svc_id)
{
	if ((bk->flags & (SL_BK_F_ACTIVE | SL_BK_F_GONE)) != SL_BK_F_ACTIVE ||
	    bk->svc_id != svc_id || !bk->weight)
		return 0;
	return bk->breaker == SL_BRK_CLOSED;
}

/*
 * Maglev choice: slot h mod M, then up to SL_PROBES further distinct
 * backends at (h + i*h2) mod M. The daemon's sl_maglev_candidate() is the
 * same computation. A table is M + 1 entries, M itself first: size and
 * slots are swapped in together when the daemon replaces a table.
 */
static __always_inline struct sl_backend *choose(const struct sl_svc *svc, const struct pkt *p,
						 __u32 *bk_out)
{
	__u32 svc_id = svc->id, tried[SL_PROBES + 1] = {};
	__u32 M, h, h2 = 0, slot, n = 0, i, zero = 0;
	__u32 *mp;
	void *tbl;

	tbl = bpf_map_lookup_elem(&sl_maglev, &svc_id);
	if (!tbl)
		return NULL;
	mp = bpf_map_lookup_elem(tbl, &zero);
	if (!mp || !*mp)
		return NULL;
	M = *mp;
	h = sl_hash_flow(&p->k, SL_SEED_FLOW);
	slot = h % M;
	if (M > 1)
		h2 = sl_hash_flow(&p->k, SL_SEED_PROBE) % (M - 1) + 1;

#pragma unroll
	for (i = 0; i < 2 * (SL_PROBES + 1); i++) {
		__u32 idx = slot + 1;
		__u32 *idp = bpf_map_lookup_elem(tbl, &idx);
		struct sl_backend *bk;
		__u32 id, j, seen = 0;

		if (!idp)
			return NULL;
		id = *idp;
#pragma unroll
		for (j = 0; j < SL_PROBES + 1; j++)
			if (j < n && tried[j] == id)
				seen = 1;
		if (!seen) {
			bk = bpf_map_lookup_elem(&sl_backend, &id);
			if (bk && admissible(bk, svc_id)) {
				*bk_out = id;
				return bk;
			}
			if (n < SL_PROBES + 1)
				tried[n & SL_PROBES] = id;
			n++;
			if (n > SL_PROBES)
				return NULL;
		}
		if (M == 1)
			return NULL;
		slot = (__u32)(((__u64)slot + h2) % M);
	}
	return NULL;
}

static __always_inline void touch(struct sl_conn *c, const struct pkt *p)
{
	__u64 now = bpf_ktime_get_coarse_ns();

	if (now - c->seen_ns > SL_SEEN_STALE_NS)
		c->seen_ns = now;
	if (p->k.proto == IPPROTO_TCP && (p->tcp_flags & (SL_TCP_FIN | SL_TCP_RST)) &&
	    c->state != SL_CONN_CLOSING)
		c->state = SL_CONN_CLOSING;
}

static __always_inline int forward(struct xdp_md *ctx, struct pkt *p, void *end,
				   const struct sl_svc *svc)
{
	struct sl_conn *c = bpf_map_lookup_elem(&sl_conn, &p->k);
	struct sl_backend *bk;
	__u32 bk_id, svc_id = svc->id;
	int new_flow = 0;

	if (c) {
		bk_id = c->bk_id;
		bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
		if (!bk || !(bk->flags & SL_BK_F_ACTIVE))
			return out(SL_R_NO_BACKEND);
		touch(c, p);
	} else {
		struct sl_conn nc = {};
		int syn = p->k.proto == IPPROTO_TCP &&
			  (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST)) == SL_TCP_SYN;

		if (p->k.proto == IPPROTO_TCP && (p->tcp_flags & SL_TCP_RST))
			return out(SL_R_NO_FLOW);
		bk = choose(svc, p, &bk_id);
		if (!bk)
			return out(SL_R_NO_BACKEND);
		nc.bk_id = bk_id;
		nc.svc_id = svc_id;
		nc.seen_ns = bpf_ktime_get_coarse_ns();
		if (p->k.proto == IPPROTO_TCP) {
			/* A mid-flow packet with no entry (evicted, or older than
			 * sluice) is re-hashed onto the same Maglev choice. */
			nc.state = syn ? SL_CONN_PENDING : SL_CONN_ESTABLISHED;
			nc.flags = syn ? 0 : SL_CONN_F_RECOVER;
			nc.syn_ns = syn ? bpf_ktime_get_ns() : 0;
		}
		if (bpf_map_update_elem(&sl_conn, &p->k, &nc, BPF_NOEXIST)) {
			/* Another CPU created it first: follow its choice. */
			c = bpf_map_lookup_elem(&sl_conn, &p->k);
			if (!c)
				return out(SL_R_NO_BACKEND);
			bk_id = c->bk_id;
			bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
			if (!bk)
				return out(SL_R_NO_BACKEND);
		} else {
			new_flow = 1;
		}
	}
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	count_flow(svc_id, bk_id, p->len, new_flow);
	nat_rewrite(p, end, 1, bk->addr.addr, bk->addr.port);
	return to_backend(ctx, p, bk, p->k.src);
}

static __always_inline void rev_key(struct sl_flow_key *k, const struct pkt *p, const struct sl_rev *rev)
{
	__builtin_memcpy(k->src, p->k.dst, 16);
	__builtin_memcpy(k->dst, rev->vip.addr, 16);
	k->sport = p->k.dport;
	k->dport = rev->vip.port;
	k->proto = p->k.proto;
	k->family = p->k.family;
	k->pad = 0;
}

static __always_inline int reverse(struct xdp_md *ctx, struct pkt *p, void *end,
				   const struct sl_rev *rev)
{
	struct sl_flow_key k;
	struct sl_conn *c;

	rev_key(&k, p, rev);
	c = bpf_map_lookup_elem(&sl_conn, &k);
	if (!c || c->bk_id != rev->bk_id)
		return out(SL_R_NO_FLOW);
	if (p->k.proto == IPPROTO_TCP && c->state == SL_CONN_PENDING &&
	    (p->tcp_flags & (SL_TCP_SYN | SL_TCP_ACK)) == (SL_TCP_SYN | SL_TCP_ACK))
		c->state = SL_CONN_ESTABLISHED;
	touch(c, p);
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	count_flow(rev->svc_id, rev->bk_id, p->len, 0);
	nat_rewrite(p, end, 0, rev->vip.addr, rev->vip.port);
	return to_client(ctx, p, c, rev->vip.addr, k.src);
}

/* ---- ICMP errors ------------------------------------------------------ */

/* The packet quoted by an ICMP error: the header of one we forwarded. */
struct quoted {
	void *ip;
	void *l4;
	__be32 src[4], dst[4];
	__be16 sport, dport;
	__u8 proto;
};

static __always_inline int parse_quoted(struct pkt *p, void *end, struct quoted *q)
{
	void *inner = p->l4 + sizeof(struct sl_icmphdr);
	__be16 *ports;

	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = inner;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return SL_R_ICMP_MALFORMED;
		q->ip = ip;
		q->l4 = inner + ip->ihl * 4;
		q->proto = ip->protocol;
		q->src[0] = ip->saddr;
		q->dst[0] = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = inner;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return SL_R_ICMP_MALFORMED;
		q->ip = ip6;
		q->l4 = inner + sizeof(*ip6);
		q->proto = ip6->nexthdr;
		__builtin_memcpy(q->src, &ip6->saddr, 16);
		__builtin_memcpy(q->dst, &ip6->daddr, 16);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return SL_R_ICMP_UNMATCHED;
	ports = q->l4;
	if ((void *)(ports + 2) > end)
		return SL_R_ICMP_MALFORMED;
	q->sport = ports[0];
	q->dport = ports[1];
	return OK;
}

/*
 * Rewrite the quoted packet's source (dst_side = 0) or destination to
 * addr:port. Returns the checksum difference the ICMP checksum must absorb:
 * every byte changed inside the ICMP payload.
 */
static __always_inline __u32 rewrite_quoted(struct pkt *p, void *end, struct quoted *q,
					    int dst_side, const __be32 *addr, __be16 port)
{
	__u32 icmp_diff, adiff, l4diff;
	__be16 *pp = q->l4;
	int words = p->k.family == SL_AF_INET ? 1 : 4;
	__be32 *a;

	if ((void *)(pp + 2) > end)
		return 0;
	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = q->ip;
		__sum16 old;

		if ((void *)(ip + 1) > end)
			return 0;
		a = dst_side ? &ip->daddr : &ip->saddr;
		adiff = sl_csum_diff_words(a, addr, 1);
		*a = addr[0];
		old = ip->check;
		sl_csum_apply(&ip->check, adiff);
		icmp_diff = adiff + sl_csum_diff16(old, ip->check);
	} else {
		struct ipv6hdr *ip6 = q->ip;

		if ((void *)(ip6 + 1) > end)
			return 0;
		a = dst_side ? (__be32 *)&ip6->daddr : (__be32 *)&ip6->saddr;
		adiff = sl_csum_diff_words(a, addr, words);
		__builtin_memcpy(a, addr, 16);
		icmp_diff = adiff;
	}
	pp += dst_side ? 1 : 0;
	l4diff = adiff + sl_csum_diff16(*pp, port);
	icmp_diff += sl_csum_diff16(*pp, port);
	*pp = port;

	/* The quoted L4 checksum, when the quote is long enough to hold it. */
	if (q->proto == IPPROTO_TCP) {
		struct tcphdr *th = q->l4;

		if ((void *)(th + 1) <= end) {
			__sum16 old = th->check;

			sl_csum_apply(&th->check, l4diff);
			icmp_diff += sl_csum_diff16(old, th->check);
		}
	} else {
		struct udphdr *uh = q->l4;

		if ((void *)(uh + 1) <= end) {
			__sum16 old = uh->check;

			if (p->k.family == SL_AF_INET)
				sl_csum_apply_udp(&uh->check, l4diff);
			else if (uh->check)
				sl_csum_apply(&uh->check, l4diff);
			icmp_diff += sl_csum_diff16(old, uh->check);
		}
	}
	return icmp_diff;
}

/* Rewrite an outer address (no port) with IP and ICMPv6 pseudo-header fixes. */
static __always_inline __u32 rewrite_outer(struct pkt *p, void *end, int dst_side, const __be32 *addr)
{
	__u32 adiff;

	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = p->l3;
		__be32 *a;

		if ((void *)(ip + 1) > end)
			return 0;
		a = dst_side ? &ip->daddr : &ip->saddr;
		adiff = sl_csum_diff_words(a, addr, 1);
		*a = addr[0];
		sl_csum_apply(&ip->check, adiff);
		return 0;           /* ICMPv4 has no pseudo-header */
	} else {
		struct ipv6hdr *ip6 = p->l3;
		__be32 *a;

		if ((void *)(ip6 + 1) > end)
			return 0;
		a = dst_side ? (__be32 *)&ip6->daddr : (__be32 *)&ip6->saddr;
		adiff = sl_csum_diff_words(a, addr, 4);
		__builtin_memcpy(a, addr, 16);
		return adiff;
	}
}

static __always_inline void dec_ttl(struct pkt *p, void *end)
{
	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = p->l3;
		__be16 old;

		if ((void *)(ip + 1) > end)
			return;
		old = *(__be16 *)&ip->ttl;
		ip->ttl--;
		sl_csum_apply(&ip->check, sl_csum_diff16(old, *(__be16 *)&ip->ttl));
	} else {
		struct ipv6hdr *ip6 = p->l3;

		if ((void *)(ip6 + 1) > end)
			return;
		ip6->hop_limit--;
	}
}

static __always_inline int icmp_error(struct xdp_md *ctx, struct pkt *p, void *end)
{
	struct sl_icmphdr *ic = p->l4;
	struct quoted q = {};
	struct sl_l4addr key = {};
	struct sl_flow_key k = {};
	struct sl_conn *c;
	__u32 diff;
	int r;

	r = parse_quoted(p, end, &q);
	if (r != OK)
		return is_vip_addr(p) ? out(r) : out(SL_R_NOT_OURS);
	key.proto = q.proto;
	key.family = p->k.family;
	k.proto = q.proto;
	k.family = p->k.family;

	/* From the client side: it quotes what we sent it, VIP -> client. */
	__builtin_memcpy(key.addr, q.src, 16);
	key.port = q.sport;
	if (bpf_map_lookup_elem(&sl_svc, &key)) {
		struct sl_backend *bk;
		__u32 bk_id;

		__builtin_memcpy(k.src, q.dst, 16);
		__builtin_memcpy(k.dst, q.src, 16);
		k.sport = q.dport;
		k.dport = q.sport;
		c = bpf_map_lookup_elem(&sl_conn, &k);
		if (!c)
			return out(SL_R_ICMP_UNMATCHED);
		bk_id = c->bk_id;
		bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
		if (!bk)
			return out(SL_R_NO_BACKEND);
		if (ttl_expiring(p))
			return out(SL_R_TTL_EXCEEDED);
		diff = rewrite_quoted(p, end, &q, 0, bk->addr.addr, bk->addr.port);
		diff += rewrite_outer(p, end, 1, bk->addr.addr);
		dec_ttl(p, end);
		if ((void *)(ic + 1) > end)
			return XDP_DROP;
		sl_csum_apply(&ic->checksum, diff);
		count_flow(c->svc_id, bk_id, p->len, 0);
		return to_backend(ctx, p, bk, p->k.src);
	}

	/* From the backend side: it quotes what we sent there, client -> backend. */
	__builtin_memcpy(key.addr, q.dst, 16);
	key.port = q.dport;
	{
		struct sl_rev *rev = bpf_map_lookup_elem(&sl_rev, &key);
		struct sl_bk_stats *bs;
		__u32 bk_id;
		int from_backend = 1, i;

		if (!rev)
			return is_vip_addr(p) ? out(SL_R_ICMP_UNMATCHED) : out(SL_R_NOT_OURS);
		__builtin_memcpy(k.src, q.src, 16);
		__builtin_memcpy(k.dst, rev->vip.addr, 16);
		k.sport = q.sport;
		k.dport = rev->vip.port;
		c = bpf_map_lookup_elem(&sl_conn, &k);
		if (!c || c->bk_id != rev->bk_id)
			return out(SL_R_ICMP_UNMATCHED);
		if (ttl_expiring(p))
			return out(SL_R_TTL_EXCEEDED);
		bk_id = rev->bk_id;
		if ((p->k.family == SL_AF_INET && ic->type == SL_ICMP_DEST_UNREACH) ||
		    (p->k.family == SL_AF_INET6 && ic->type == SL_ICMPV6_DEST_UNREACH)) {
			bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
			if (bs)
				bs->icmp_unreach++;
		}
#pragma unroll
		for (i = 0; i < 4; i++)
			if (p->k.src[i] != q.dst[i])
				from_backend = 0;
		diff = rewrite_quoted(p, end, &q, 1, rev->vip.addr, rev->vip.port);
		/* An error from the backend itself seems to come from the VIP;
		 * one from a router on the way keeps its address. */
		if (from_backend)
			diff += rewrite_outer(p, end, 0, rev->vip.addr);
		dec_ttl(p, end);
		if ((void *)(ic + 1) > end)
			return XDP_DROP;
		sl_csum_apply(&ic->checksum, diff);
		count_flow(rev->svc_id, bk_id, p->len, 0);
		return to_client(ctx, p, c, from_backend ? rev->vip.addr : p->k.src, p->k.dst);
	}
}

/* ---- entry ------------------------------------------------------------ */

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = data + sizeof(*eth);
	struct pkt p = {};
	struct sl_l4addr key = {};
	struct sl_svc *svc;
	struct sl_rev *rev;
	__be16 proto;
	int r;

	if ((void *)(eth + 1) > end)
		return out(SL_R_L2_TRUNC);
	p.len = end - data;
	proto = eth->h_proto;
	if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
		struct sl_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > end)
			return out(SL_R_L2_TRUNC);
		proto = vh->encap_proto;
		if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE)
			return out(SL_R_VLAN_STACKED);
		l3 += sizeof(*vh);
		p.vlan = 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(l3, end, &p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(l3, end, &p);
	else
		return out(SL_R_NOT_IP);

	if (r != OK) {
		if (soft_reason(r) && !is_vip_addr(&p))
			return out(SL_R_NOT_OURS);
		return out(r);
	}
	if (p.icmp_err)
		return icmp_error(ctx, &p, end);
	if (!filter_has(p.k.dst) && !filter_has(p.k.src))
		return out(SL_R_NOT_OURS);

	__builtin_memcpy(key.addr, p.k.dst, 16);
	key.port = p.k.dport;
	key.proto = p.k.proto;
	key.family = p.k.family;
	svc = bpf_map_lookup_elem(&sl_svc, &key);
	if (svc)
		return forward(ctx, &p, end, svc);

	__builtin_memcpy(key.addr, p.k.src, 16);
	key.port = p.k.sport;
	rev = bpf_map_lookup_elem(&sl_rev, &key);
	if (rev)
		return reverse(ctx, &p, end, rev);
	return out(is_vip_addr(&p) ? SL_R_NO_SERVICE : SL_R_NOT_OURS);
}
