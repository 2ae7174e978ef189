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
#include "rst.h"
#include "gates.h"
#include "conn.h"
#include "redispatch.h"

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
	__u32 l3_len;               /* IP packet length (ICMP: bounds its quote) */
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
	count_reason(reason);
	return sl_verdict(reason);
}

static __always_inline struct sl_meta *meta(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_meta, &zero);
}

/* Reasons that apply only to packets addressed to sluice (to a VIP or from
 * a backend); anything else with that shape is the kernel's business. */
static __always_inline int soft_reason(__u32 r)
{
	return r == SL_R_FRAGMENT || r == SL_R_IPV6_EXT_LIMIT || r == SL_R_L4_TRUNC ||
	       r == SL_R_L4_MALFORMED || r == SL_R_PROTO || r == SL_R_ICMP_UNMATCHED;
}

/* A service or backend key for one of the packet's endpoints, built in
 * per-CPU scratch (the stack is short). */
static __always_inline struct sl_l4addr *l4key(const __be32 *addr, __be16 port, const struct pkt *p)
{
	struct sl_scratch *sc = scratch();
	struct sl_l4addr *key;

	if (!sc)
		return NULL;
	key = &sc->akey;
	__builtin_memcpy(key->addr, addr, 16);
	key->port = port;
	key->proto = p->k.proto;
	key->family = p->k.family;
	return key;
}

static __always_inline int addr_known(const __be32 *a, __u8 family, __u16 kind)
{
	struct sl_addr_key k = {};

	__builtin_memcpy(k.addr, a, sizeof(k.addr));
	k.family = family;
	k.kind = kind;
	return bpf_map_lookup_elem(&sl_addrs, &k) != NULL;
}

static __always_inline int to_vip_addr(const struct pkt *p)
{
	return addr_known(p->k.dst, p->k.family, SL_ADDR_VIP);
}

/*
 * Is a packet that could not be parsed to the end sluice's to judge? Yes
 * when it is addressed to a VIP. From a backend's address only when it is
 * a first fragment whose ports name a backend's service endpoint: a reply
 * sluice cannot rewrite. Anything else from a backend (its neighbour
 * discovery, pings, its own traffic elsewhere, later fragments that carry
 * no ports) is the kernel's.
 */
static __always_inline int is_ours(const struct pkt *p, __u32 r)
{
	struct sl_l4addr *key;

	if (to_vip_addr(p))
		return 1;
	if (r != SL_R_FRAGMENT || !p->k.sport ||
	    !addr_known(p->k.src, p->k.family, SL_ADDR_BACKEND))
		return 0;
	key = l4key(p->k.src, p->k.sport, p);
	return !key || bpf_map_lookup_elem(&sl_rev, key) != NULL;
}

static __always_inline int filter_has(__u32 kind, const __be32 *a)
{
	__u32 bit = sl_addr_bit(a);
	__u32 w = kind * SL_FILTER_WORDS + (bit >> 6);
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
	if (ip->frag_off & bpf_htons(SL_IP_MF | SL_IP_OFFSET)) {
		/* A first fragment still has its ports: they tell whose it is. */
		if (!(ip->frag_off & bpf_htons(SL_IP_OFFSET)))
			parse_l4(l3 + hlen, tot - hlen, end, p);
		return SL_R_FRAGMENT;
	}
	return parse_l4(l3 + hlen, tot - hlen, end, p);
}

/*
 * Walk IPv6 extension headers from *off, at most SL_IPV6_EXT_MAX of them,
 * within the packet's 'limit' bytes from l3. On OK, *nh is the upper-layer
 * protocol at *off. A real fragment reports FRAGMENT with *nh its protocol.
 */
static __always_inline int ipv6_skip_ext(void *l3, void *end, __u32 limit, __u8 *nhp, __u32 *offp)
{
	__u32 off = *offp;
	__u8 nh = *nhp;
	int i;

#pragma unroll
	for (i = 0; i < SL_IPV6_EXT_MAX; i++) {
		if (nh == SL_NEXTHDR_FRAGMENT) {
			struct sl_frag_hdr *fh = l3 + off;

			if ((void *)(fh + 1) > end)
				return SL_R_L3_TRUNC;
			nh = fh->nexthdr;
			/* offset or more-fragments: a real fragment; *offp is
			 * where the first fragment's upper header starts, 0 for
			 * a later fragment */
			if (fh->frag_off & bpf_htons(0xfff9)) {
				*nhp = nh;
				*offp = fh->frag_off & bpf_htons(0xfff8) ? 0 :
					(off + sizeof(*fh)) & 0x3fff;
				return SL_R_FRAGMENT;
			}
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
		if (off > limit)
			return SL_R_L3_MALFORMED;
	}
	*nhp = nh;
	*offp = off & 0x3fff;       /* bounded above by the walk; tell the verifier */
	if (nh == SL_NEXTHDR_FRAGMENT || nh == SL_NEXTHDR_HOP || nh == SL_NEXTHDR_ROUTING ||
	    nh == SL_NEXTHDR_DEST || nh == SL_NEXTHDR_AUTH)
		return SL_R_IPV6_EXT_LIMIT;
	return OK;
}

static __always_inline int parse_ipv6(void *l3, void *end, struct pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	__u32 off = sizeof(*ip6), plen;
	__u8 nh;
	int r;

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
	r = ipv6_skip_ext(l3, end, sizeof(*ip6) + plen, &nh, &off);
	p->k.proto = nh;
	if (r == SL_R_FRAGMENT && off && off <= sizeof(*ip6) + plen)
		parse_l4(l3 + off, sizeof(*ip6) + plen - off, end, p);
	if (r != OK)
		return r;
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
 * frame to the kernel, rewritten, with its L2 header untouched. 'ethertype'
 * is non-zero when the frame carries a VLAN tag: the tag is dropped and the
 * frame gets that ethertype.
 *
 * A global function, checked once by the verifier; MACs come packed in the
 * low 48 bits of a u64, in wire order.
 */
static __always_inline int sl_xmit(struct xdp_md *ctx, __u32 ifindex, __u64 dmac, __u64 smac,
				      __u32 ethertype)
{
	void *data, *end;
	struct ethhdr *eth;
	int rc;

	rc = bpf_redirect_map(&sl_tx, ifindex, XDP_PASS);
	if (rc != XDP_REDIRECT)
		return out(SL_R_UNMANAGED);
	if (ethertype) {
		/* Sluice interfaces are untagged: drop the tag on the way out. */
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		eth = data + sizeof(struct sl_vlan_hdr);
		if ((void *)(eth + 1) > end)
			return XDP_DROP;
		eth->h_proto = (__be16)ethertype;
		if (bpf_xdp_adjust_head(ctx, sizeof(struct sl_vlan_hdr)))
			return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, &dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, &smac, ETH_ALEN);
	return XDP_REDIRECT;
}

static __always_inline __u64 mac64(const __u8 *m)
{
	__u64 v = 0;

	__builtin_memcpy(&v, m, ETH_ALEN);
	return v;
}

static __always_inline int xmit(struct xdp_md *ctx, struct pkt *p, __u32 ifindex,
				const __u8 *dmac, const __u8 *smac)
{
	__u32 ethertype = 0;

	if (p->vlan)
		ethertype = p->k.family == SL_AF_INET ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	return sl_xmit(ctx, ifindex, mac64(dmac), mac64(smac), ethertype);
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
	struct sl_scratch *sc;
	int rc;

	if (bk->flags & SL_BK_F_NH)
		return xmit(ctx, p, bk->nh_ifindex, bk->nh_dmac, bk->nh_smac);
	sc = scratch();
	if (!sc)
		return out(SL_R_FIB_FAILED);
	rc = fib(ctx, p, src, bk->addr.addr, &sc->fib);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_verdict(rc);
	return xmit(ctx, p, sc->fib.ifindex, sc->fib.dmac, sc->fib.smac);
}

/* Towards a client: the flow's cached next hop, else a route lookup kept in
 * the entry until the daemon bumps the next-hop generation. */
static __always_inline int to_client(struct xdp_md *ctx, struct pkt *p, struct sl_conn *c,
				     const __be32 *src, const __be32 *dst)
{
	struct sl_meta *m = meta();
	__u16 gen = m ? (__u16)m->nh_gen : 0;
	struct bpf_fib_lookup *f;
	struct sl_scratch *sc;
	int rc;

	if ((c->flags & SL_CONN_F_REV_NH) && c->rev_gen == gen)
		return xmit(ctx, p, c->rev_ifindex, c->rev_dmac, c->rev_smac);
	sc = scratch();
	if (!sc)
		return out(SL_R_FIB_FAILED);
	f = &sc->fib;
	rc = fib(ctx, p, src, dst, f);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return fib_verdict(rc);
	c->rev_ifindex = f->ifindex;
	__builtin_memcpy(c->rev_dmac, f->dmac, ETH_ALEN);
	__builtin_memcpy(c->rev_smac, f->smac, ETH_ALEN);
	c->rev_gen = gen;
	if (!(c->flags & SL_CONN_F_REV_NH)) {
		/* flags share `sw` with the state: never a plain write */
		union sl_sw rn = { .flags = SL_CONN_F_REV_NH };

		__sync_fetch_and_or(&c->sw, rn.sw);
	}
	return xmit(ctx, p, f->ifindex, f->dmac, f->smac);
}

/* ---- flows ------------------------------------------------------------ */

#define SL_NEW_FLOW   1             /* count_flow: an entry was made */
#define SL_NEW_PEND   2             /*             holding a unit of pending */

/* Per service and backend: packets and bytes sent on (XDP_DROP is not),
 * new flows when an entry was made. */
static __always_inline int count_flow(__u32 svc_id, __u32 bk_id, __u32 len, int new_flow, int verdict)
{
	struct sl_svc_stats *ss = bpf_map_lookup_elem(&sl_svc_stats, &svc_id);
	struct sl_bk_stats *bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	int sent = verdict != XDP_DROP;

	if (ss) {
		ss->packets += sent;
		ss->bytes += sent ? len : 0;
		ss->new_flows += new_flow & SL_NEW_FLOW;
	}
	if (bs) {
		bs->packets += sent;
		bs->bytes += sent ? len : 0;
		bs->new_flows += new_flow & SL_NEW_FLOW;
		bs->pend_taken += (new_flow & SL_NEW_PEND) >> 1;
	}
	return verdict;
}

static __always_inline __u32 pkt_off(struct xdp_md *ctx, const void *ptr)
{
	return (__u32)(ptr - (void *)(long)ctx->data);
}

/*
 * A packet of a flow whose backend tripped with on_trip = reset
 * (SL_BK_F_RESET), or of a flow already reset: it is turned into the RST
 * that answers it, back to its sender, and the flow is closed (units given
 * back, SL_CONN_F_RESET). An RST is never answered: it is dropped. Both are
 * counted under trip_reset.
 */
__attribute__((noinline)) int sl_trip(struct xdp_md *ctx, struct sl_conn *c, struct sl_flow_key *k,
				      __u32 l3_off, __u32 l4_off)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct sl_bk_stats *bs;
	struct tcphdr *th;
	__u32 bk_id;
	__u8 fl;

	if (!c || !k)
		return XDP_DROP;
	th = data + (l4_off & 0x3fff);
	if ((void *)(th + 1) > end)
		return XDP_DROP;
	fl = ((__u8 *)th)[13];
	sl_conn_ev(c, k, SL_CE_TRIP);
	count_reason(SL_R_TRIP_RESET);
	if (fl & SL_TCP_RST)
		return XDP_DROP;
	bk_id = c->bk_id;
	bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
	if (bs)
		bs->trip_resets++;
	return sl_tcp_reset(ctx, l3_off, l4_off, k->family);
}

static __always_inline void touch(struct sl_conn *c, const struct sl_meta *m)
{
	if (m && m->now_ns - c->seen_ns > SL_SEEN_STALE_NS)
		c->seen_ns = m->now_ns;
}

static __always_inline int send_to_backend(struct xdp_md *ctx, struct pkt *p, void *end,
					   const struct sl_backend *bk, __u32 svc_id, __u32 bk_id,
					   int new_flow)
{
	nat_rewrite(p, end, 1, bk->addr.addr, bk->addr.port);
	return count_flow(svc_id, bk_id, p->len, new_flow, to_backend(ctx, p, bk, p->k.src));
}

/*
 * A packet of a flow in the table: its backend, whatever the table says
 * now. A client's FIN or RST closes the flow; TCP flows of a backend being
 * reset are answered with RSTs.
 */
static __always_inline int forward_flow(struct xdp_md *ctx, struct pkt *p, void *end,
					struct sl_conn *c)
{
	__u32 bk_id = c->bk_id;
	struct sl_backend *bk = bpf_map_lookup_elem(&sl_backend, &bk_id);

	if (!bk || !(bk->flags & SL_BK_F_ACTIVE))
		return out(SL_R_NO_BACKEND);
	if (p->k.proto == IPPROTO_TCP) {
		if ((bk->flags & SL_BK_F_RESET) || (c->flags & SL_CONN_F_RESET))
			return sl_trip(ctx, c, &p->k, pkt_off(ctx, p->l3), pkt_off(ctx, p->l4));
		if ((p->tcp_flags & (SL_TCP_FIN | SL_TCP_RST)) && c->state != SL_CONN_CLOSING)
			sl_conn_ev(c, &p->k, SL_CE_CLOSE);
	}
	touch(c, meta());
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	return send_to_backend(ctx, p, end, bk, c->svc_id, bk_id, 0);
}

/* A UDP flow of a backend being reset (SL_BK_F_RESET) has no connection
 * to reset: it is released, and its packet is chosen again as a new flow. */
static __always_inline int udp_moved(struct sl_conn *c, struct sl_flow_key *k)
{
	__u32 bk_id = c->bk_id;
	struct sl_backend *bk = bpf_map_lookup_elem(&sl_backend, &bk_id);

	if (!bk || !(bk->flags & SL_BK_F_RESET))
		return 0;
	sl_conn_ev(c, k, SL_CE_CLOSE);
	bpf_map_delete_elem(&sl_conn, k);
	return 1;
}

/* Does a SYN finding this entry continue it (a retransmission)? Not when
 * the flow is over, was reset, or its backend takes no new flows now. */
static __always_inline int flow_alive(const struct sl_conn *c, __u32 svc_id)
{
	__u32 bk_id = c->bk_id;
	struct sl_backend *bk;

	if (c->state == SL_CONN_CLOSING || (c->flags & SL_CONN_F_RESET))
		return 0;
	bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
	return bk && (bk->flags & (SL_BK_F_ACTIVE | SL_BK_F_GONE | SL_BK_F_RESET)) == SL_BK_F_ACTIVE &&
	       bk->svc_id == svc_id && bk->weight &&
	       (bk->breaker == SL_BRK_CLOSED || bk->breaker == SL_BRK_HALF_OPEN);
}

/* Every candidate refused: an RST back to a TCP client when the service
 * says reject = "rst", else a drop; the reason is counted either way. */
static __always_inline int refuse(struct xdp_md *ctx, struct pkt *p, const struct sl_svc *svc,
				  __u32 reason)
{
	if (svc->reject == SL_REJECT_RST && p->k.proto == IPPROTO_TCP) {
		count_reason(reason);
		return sl_tcp_reset(ctx, pkt_off(ctx, p->l3), pkt_off(ctx, p->l4), p->k.family);
	}
	return out(reason);
}

/*
 * A packet to a service that did not find its flow: a SYN (or a first UDP
 * packet) makes a new flow. A mid-flow TCP packet (its entry evicted, or
 * older than sluice) is re-hashed onto the same Maglev choice and gets a
 * new entry. Both pass the gates (gates.h). A SYN that finds a live entry
 * follows it (a retransmission, which may claim the connect timeout); one
 * that finds a flow over, or whose backend takes no new flows any more,
 * releases it and is a new flow on the same tuple.
 */
static __always_inline int forward_new(struct xdp_md *ctx, struct pkt *p, void *end,
				       const struct sl_svc *svc, int syn)
{
	struct sl_meta *m = meta();
	struct sl_scratch *sc = scratch();
	struct sl_conn *nc, *c = NULL;
	struct sl_backend *bk;
	__u32 bk_id, svc_id = svc->id, fl;
	int r, pend = 0;

	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	if (p->k.proto == IPPROTO_TCP && (p->tcp_flags & SL_TCP_RST))
		return out(SL_R_NO_FLOW);
	if (!sc)
		return XDP_DROP;
	if (syn) {
		c = bpf_map_lookup_elem(&sl_conn, &p->k);
		if (c) {
			if (flow_alive(c, svc_id)) {
				/* past connect_timeout: the timeout is claimed, and
				 * this SYN goes to another backend (redispatch) */
				if (c->state == SL_CONN_PENDING &&
				    sl_syn_retx(c, &p->k, svc->connect_timeout_ms))
					sl_move(c, &p->k, svc, SL_MOVE_TIMEOUT);
				return forward_flow(ctx, p, end, c);
			}
			/* a pending flow whose backend stopped taking flows (it
			 * tripped, drains, left): past connect_timeout it is
			 * redispatched like any silent connect, and counted so */
			if (c->state == SL_CONN_PENDING && !(c->flags & SL_CONN_F_RESET) &&
			    sl_syn_retx(c, &p->k, svc->connect_timeout_ms) &&
			    sl_move(c, &p->k, svc, SL_MOVE_TIMEOUT))
				return forward_flow(ctx, p, end, c);
			sl_conn_ev(c, &p->k, SL_CE_CLOSE);
		}
	}
	r = sl_admit(svc_id, sl_hash_flow(&p->k, SL_SEED_FLOW), svc->max_conns,
		     syn ? SL_ADMIT_F_SYN : 0, 0);
	if (r <= 0)
		return refuse(ctx, p, svc, (__u32)-r);
	bk_id = SL_ADMIT_ID(r);
	fl = SL_CONN_F_COUNTED | (r & SL_ADMIT_TRIAL ? SL_CONN_F_TRIAL : 0);
	bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
	if (!bk) {
		sl_unreserve(bk_id, svc_id, fl | (syn ? SL_CONN_F_PEND : 0));
		return out(SL_R_NO_BACKEND);
	}
	nc = &sc->conn;
	__builtin_memset(nc, 0, sizeof(*nc));
	nc->bk_id = bk_id;
	nc->svc_id = svc_id;
	nc->seen_ns = m ? m->now_ns : 0;
	if (p->k.proto == IPPROTO_TCP) {
		nc->state = syn ? SL_CONN_PENDING : SL_CONN_ESTABLISHED;
		fl |= syn ? SL_CONN_F_PEND : SL_CONN_F_RECOVER;
		if (syn) {
			nc->syn_ns = bpf_ktime_get_ns();
			/* what rebuilds this SYN (redispatch) */
			sl_syn_keep(ctx, nc, pkt_off(ctx, p->l3), pkt_off(ctx, p->l4), p->k.family);
			/* listed before the entry exists, so no SYN-ACK can
			 * end the pending state before it is listed */
			pend = sl_pend_add(&p->k, bk_id, svc_id, svc->connect_timeout_ms, nc->syn_ns);
		}
	}
	nc->flags = fl;
	if (bpf_map_update_elem(&sl_conn, &p->k, nc, c ? BPF_ANY : BPF_NOEXIST)) {
		/* Another CPU made the entry first: give everything back and
		 * follow that one. */
		if (pend)
			bpf_map_delete_elem(&sl_pending, &p->k);
		sl_unreserve(bk_id, svc_id, fl);
		c = bpf_map_lookup_elem(&sl_conn, &p->k);
		if (!c)
			return out(SL_R_NO_BACKEND);
		return forward_flow(ctx, p, end, c);
	}
	return send_to_backend(ctx, p, end, bk, svc_id, bk_id,
			       SL_NEW_FLOW | (syn ? SL_NEW_PEND : 0));
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

/*
 * A backend's reply. TCP state follows it: a SYN-ACK establishes a pending
 * flow, an RST while pending is a refused connect, an RST later a reset,
 * a FIN closes; all of them are still sent on to the client.
 */
static __always_inline int reverse(struct xdp_md *ctx, struct pkt *p, void *end,
				   const struct sl_rev *rev)
{
	struct sl_scratch *sc = scratch();
	struct sl_conn *c;

	if (!sc)
		return XDP_DROP;
	rev_key(&sc->fkey, p, rev);
	c = bpf_map_lookup_elem(&sl_conn, &sc->fkey);
	if (!c || c->bk_id != rev->bk_id) {
		/* a backend the flow left (redispatch) answers late */
		if (c && p->k.proto == IPPROTO_TCP && c->redispatches && tried_has(c, rev->bk_id))
			return sl_late(ctx, rev->bk_id, pkt_off(ctx, p->l3), pkt_off(ctx, p->l4),
				       p->k.family);
		/* no flow: unless it is for the gateway itself (a reply to
		 * sluiced's health check), ours and unknown */
		if (fib(ctx, p, p->k.src, p->k.dst, &sc->fib) == BPF_FIB_LKUP_RET_NOT_FWDED)
			return out(SL_R_TO_GATEWAY);
		return out(SL_R_NO_FLOW);
	}
	if (p->k.proto == IPPROTO_TCP) {
		__u32 bk_id = rev->bk_id;
		struct sl_backend *bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
		__u8 f = p->tcp_flags;

		if ((c->flags & SL_CONN_F_RESET) || (bk && (bk->flags & SL_BK_F_RESET)))
			return sl_trip(ctx, c, &sc->fkey, pkt_off(ctx, p->l3), pkt_off(ctx, p->l4));
		if (c->state != SL_CONN_CLOSING) {
			if (f & SL_TCP_RST) {
				/* a refused connect: the client's SYN goes to
				 * another backend when the service allows */
				if (c->state == SL_CONN_PENDING) {
					struct sl_svc *svc = bpf_map_lookup_elem(&sl_svc, &rev->vip);

					if (svc && svc->redispatch_max &&
					    sl_move(c, &sc->fkey, svc, SL_MOVE_REFUSED))
						return sl_syn_send(ctx, c, &sc->fkey);
				}
				sl_conn_ev(c, &sc->fkey, SL_CE_BK_RST);
			} else if ((f & (SL_TCP_SYN | SL_TCP_ACK)) == (SL_TCP_SYN | SL_TCP_ACK))
				sl_conn_ev(c, &sc->fkey, SL_CE_SYNACK);
			else if (f & SL_TCP_FIN)
				sl_conn_ev(c, &sc->fkey, SL_CE_CLOSE);
		}
	}
	touch(c, meta());
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	nat_rewrite(p, end, 0, rev->vip.addr, rev->vip.port);
	return count_flow(rev->svc_id, rev->bk_id, p->len, 0, to_client(ctx, p, c, rev->vip.addr, p->k.dst));
}

/* ---- ICMP errors ------------------------------------------------------ */

/* The packet quoted by an ICMP error: the header of one we forwarded. */
struct quoted {
	void *ip;
	void *l4;
	__u32 l4_room;              /* bytes of L4 the quoted IP header claims */
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
		__u32 hlen, tot;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return SL_R_ICMP_MALFORMED;
		hlen = ip->ihl * 4;
		tot = bpf_ntohs(ip->tot_len);
		if (tot < hlen + 4)
			return SL_R_ICMP_MALFORMED;
		q->ip = ip;
		q->l4 = inner + hlen;
		q->l4_room = tot - hlen;
		q->proto = ip->protocol;
		q->src[0] = ip->saddr;
		q->dst[0] = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = inner;
		__u32 off = sizeof(*ip6), limit;
		__u8 nh;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return SL_R_ICMP_MALFORMED;
		limit = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		nh = ip6->nexthdr;
		if (ipv6_skip_ext(inner, end, limit, &nh, &off) != OK || limit < off + 4)
			return SL_R_ICMP_MALFORMED;
		q->ip = ip6;
		q->l4 = inner + off;
		q->l4_room = limit - off;
		q->proto = nh;
		__builtin_memcpy(q->src, &ip6->saddr, 16);
		__builtin_memcpy(q->dst, &ip6->daddr, 16);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return SL_R_ICMP_UNMATCHED;
	/* Quotes are cut short: what the error holds ends with its own IP
	 * packet, and bytes after that (padding) are nobody's. */
	{
		__u32 held = p->l3_len - (__u32)(q->l4 - p->l3);

		if ((__s32)held < 4)
			return SL_R_ICMP_MALFORMED;
		if (held < q->l4_room)
			q->l4_room = held;
	}
	ports = q->l4;
	if ((void *)(ports + 2) > end)
		return SL_R_ICMP_MALFORMED;
	q->sport = ports[0];
	q->dport = ports[1];
	return OK;
}

/* The quoted L4 checksum field, if the quote holds it (within the frame
 * and within the quoted IP packet: bytes after it are not its own). */
static __always_inline __sum16 *quoted_l4_csum(const struct quoted *q, void *end)
{
	if (q->proto == IPPROTO_TCP) {
		struct tcphdr *th = q->l4;

		if ((void *)(th + 1) > end || q->l4_room < sizeof(*th))
			return NULL;
		return &th->check;
	} else {
		struct udphdr *uh = q->l4;

		if ((void *)(uh + 1) > end || q->l4_room < sizeof(*uh))
			return NULL;
		return &uh->check;
	}
}

/*
 * Rewrite the quoted packet's source (dst_side = 0) or destination to
 * addr:port. Returns the checksum difference the ICMP checksum must absorb:
 * every byte changed inside the ICMP payload.
 */
static __always_inline __u32 rewrite_quoted(struct pkt *p, void *end, struct quoted *q,
					    int dst_side, const __be32 *addr, __be16 port)
{
	__u32 icmp_diff, adiff, pdiff;
	__be16 *pp = q->l4;
	__sum16 *l4c, old;
	__be32 *a;

	if ((void *)(pp + 2) > end)
		return 0;
	if (p->k.family == SL_AF_INET) {
		struct iphdr *ip = q->ip;

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
		adiff = sl_csum_diff_words(a, addr, 4);
		__builtin_memcpy(a, addr, 16);
		icmp_diff = adiff;
	}
	pp += dst_side ? 1 : 0;
	pdiff = sl_csum_diff16(*pp, port);
	*pp = port;
	icmp_diff += pdiff;

	l4c = quoted_l4_csum(q, end);
	if (l4c) {
		old = *l4c;
		if (q->proto == IPPROTO_UDP && p->k.family == SL_AF_INET)
			sl_csum_apply_udp(l4c, adiff + pdiff);
		else if (q->proto == IPPROTO_TCP || *l4c)
			sl_csum_apply(l4c, adiff + pdiff);
		icmp_diff += sl_csum_diff16(old, *l4c);
	}
	return icmp_diff;
}

/* Rewrite an outer address (no port); returns what the ICMPv6 checksum's
 * pseudo-header must absorb (ICMPv4 has none). */
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
		return 0;
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

static __always_inline int same_addr(const __be32 *a, const __be32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* From the client side: an error sent to the VIP, quoting VIP -> client. */
static __always_inline int icmp_from_client(struct xdp_md *ctx, struct pkt *p, void *end,
					    struct quoted *q)
{
	struct sl_icmphdr *ic = p->l4;
	struct sl_scratch *sc = scratch();
	struct sl_flow_key *k;
	struct sl_backend *bk;
	struct sl_conn *c;
	__u32 bk_id, diff;

	if (!sc)
		return XDP_DROP;
	k = &sc->fkey;
	__builtin_memcpy(k->src, q->dst, 16);
	__builtin_memcpy(k->dst, q->src, 16);
	k->sport = q->dport;
	k->dport = q->sport;
	k->proto = q->proto;
	k->family = p->k.family;
	k->pad = 0;
	c = bpf_map_lookup_elem(&sl_conn, k);
	if (!c)
		return out(SL_R_ICMP_UNMATCHED);
	bk_id = c->bk_id;
	bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
	if (!bk)
		return out(SL_R_NO_BACKEND);
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	diff = rewrite_quoted(p, end, q, 0, bk->addr.addr, bk->addr.port);
	diff += rewrite_outer(p, end, 1, bk->addr.addr);
	dec_ttl(p, end);
	if ((void *)(ic + 1) > end)
		return XDP_DROP;
	sl_csum_apply(&ic->checksum, diff);
	return count_flow(c->svc_id, bk_id, p->len, 0, to_backend(ctx, p, bk, p->k.src));
}

/* From the backend side: an error about what we sent there, client -> backend,
 * from the backend itself or from a router on the way. */
static __always_inline int icmp_from_backend(struct xdp_md *ctx, struct pkt *p, void *end,
					     struct quoted *q, const struct sl_rev *rev)
{
	struct sl_icmphdr *ic = p->l4;
	struct sl_scratch *sc = scratch();
	struct sl_flow_key *k;
	struct sl_bk_stats *bs;
	struct sl_conn *c;
	__u32 bk_id = rev->bk_id, diff;
	int from_backend;

	if (!sc)
		return XDP_DROP;
	k = &sc->fkey;
	__builtin_memcpy(k->src, q->src, 16);
	__builtin_memcpy(k->dst, rev->vip.addr, 16);
	k->sport = q->sport;
	k->dport = rev->vip.port;
	k->proto = q->proto;
	k->family = p->k.family;
	k->pad = 0;
	c = bpf_map_lookup_elem(&sl_conn, k);
	if (!c || c->bk_id != bk_id)
		return out(SL_R_ICMP_UNMATCHED);
	if (ttl_expiring(p))
		return out(SL_R_TTL_EXCEEDED);
	if ((p->k.family == SL_AF_INET && ic->type == SL_ICMP_DEST_UNREACH) ||
	    (p->k.family == SL_AF_INET6 && ic->type == SL_ICMPV6_DEST_UNREACH)) {
		bs = bpf_map_lookup_elem(&sl_bk_stats, &bk_id);
		if (bs)
			bs->icmp_unreach++;
		sl_bk_touch_id(bk_id);
		ev_push(SL_EV_ICMP, bk_id, rev->svc_id, 0);
	}
	from_backend = same_addr(p->k.src, q->dst);
	diff = rewrite_quoted(p, end, q, 1, rev->vip.addr, rev->vip.port);
	/* The backend's own error seems to come from the VIP; a router's
	 * keeps its address. */
	if (from_backend)
		diff += rewrite_outer(p, end, 0, rev->vip.addr);
	dec_ttl(p, end);
	if ((void *)(ic + 1) > end)
		return XDP_DROP;
	sl_csum_apply(&ic->checksum, diff);
	return count_flow(rev->svc_id, bk_id, p->len, 0,
			  to_client(ctx, p, c, from_backend ? rev->vip.addr : p->k.src, p->k.dst));
}

static __always_inline int icmp_error(struct xdp_md *ctx, struct pkt *p, void *end)
{
	struct sl_scratch *sc = scratch();
	struct quoted q = {};
	struct sl_l4addr *key;
	struct sl_rev *rev;
	int r;

	r = parse_quoted(p, end, &q);
	if (r != OK)
		return out(to_vip_addr(p) ? r : SL_R_NOT_OURS);
	if (!sc)
		return XDP_DROP;
	key = &sc->akey;
	key->proto = q.proto;
	key->family = p->k.family;

	__builtin_memcpy(key->addr, q.src, 16);
	key->port = q.sport;
	if (same_addr(p->k.dst, q.src) && bpf_map_lookup_elem(&sl_svc, key))
		return icmp_from_client(ctx, p, end, &q);

	__builtin_memcpy(key->addr, q.dst, 16);
	key->port = q.dport;
	rev = bpf_map_lookup_elem(&sl_rev, key);
	/* sent to the client the quoted packet came from: another address
	 * would get an error about a flow it is not part of */
	if (rev && same_addr(p->k.dst, q.src))
		return icmp_from_backend(ctx, p, end, &q, rev);
	return out(to_vip_addr(p) ? SL_R_ICMP_UNMATCHED : SL_R_NOT_OURS);
}

/*
 * ICMP errors are rare; their path is long. As a global function the
 * verifier checks it once, from a state rebuilt here, instead of once per
 * shape of packet that reaches it.
 */
__attribute__((noinline)) int sl_icmp(struct xdp_md *ctx, __u32 l3_off, __u32 l4_off, __u32 vlan)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct pkt p = {};

	l3_off &= 0xff;
	l4_off &= 0x3fff;
	p.len = end - data;
	p.vlan = !!vlan;
	p.l3 = data + l3_off;
	p.l4 = data + l4_off;
	if (p.l4 + sizeof(struct sl_icmphdr) > end || p.l3 + sizeof(struct iphdr) > end)
		return XDP_DROP;
	if (((struct iphdr *)p.l3)->version == 4) {
		struct iphdr *ip = p.l3;

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		p.k.family = SL_AF_INET;
		p.k.proto = IPPROTO_ICMP;
		p.l3_len = bpf_ntohs(ip->tot_len);
		p.k.src[0] = ip->saddr;
		p.k.dst[0] = ip->daddr;
	} else {
		struct ipv6hdr *ip6 = p.l3;

		if ((void *)(ip6 + 1) > end)
			return XDP_DROP;
		p.k.family = SL_AF_INET6;
		p.k.proto = SL_IPPROTO_ICMPV6;
		p.l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(p.k.src, &ip6->saddr, 16);
		__builtin_memcpy(p.k.dst, &ip6->daddr, 16);
	}
	return icmp_error(ctx, &p, end);
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
	struct sl_l4addr *key;
	struct sl_svc *svc;
	struct sl_rev *rev;
	struct sl_conn *c;
	__be16 proto;
	int r, to_vip;

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
		if (soft_reason(r) && !is_ours(&p, r))
			return out(SL_R_NOT_OURS);
		return out(r);
	}
	if (p.icmp_err)
		return sl_icmp(ctx, p.l3 - data, p.l4 - data, p.vlan);

	to_vip = filter_has(SL_ADDR_VIP, p.k.dst);
	if (to_vip) {
		/* A SYN goes straight to the insert: a table miss is most of
		 * what a new flow costs. */
		int syn = p.k.proto == IPPROTO_TCP &&
			  (p.tcp_flags & (SL_TCP_SYN | SL_TCP_ACK | SL_TCP_RST)) == SL_TCP_SYN;

		if (!syn) {
			c = bpf_map_lookup_elem(&sl_conn, &p.k);
			if (c && (p.k.proto == IPPROTO_TCP || !udp_moved(c, &p.k)))
				return forward_flow(ctx, &p, end, c);
		}
		key = l4key(p.k.dst, p.k.dport, &p);
		if (!key)
			return XDP_DROP;
		svc = bpf_map_lookup_elem(&sl_svc, key);
		if (svc)
			return forward_new(ctx, &p, end, svc, syn);
	}
	if (filter_has(SL_ADDR_BACKEND, p.k.src)) {
		key = l4key(p.k.src, p.k.sport, &p);
		if (!key)
			return XDP_DROP;
		rev = bpf_map_lookup_elem(&sl_rev, key);
		if (rev)
			return reverse(ctx, &p, end, rev);
	}
	return out(to_vip && to_vip_addr(&p) ? SL_R_NO_SERVICE : SL_R_NOT_OURS);
}
