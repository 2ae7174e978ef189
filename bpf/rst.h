/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Turn the TCP segment in the frame into the RST that answers it, sent back
 * out of the interface it came in by (a redirect through sl_tx to the
 * ingress interface, XDP_TX when that is not in the devmap): a refused new flow (the service's reject =
 * "rst") and the flows of a tripped backend (SL_BK_F_RESET).
 *
 * RFC 9293 3.10.7.1, as a closed port answers: a segment without ACK gets
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, one with ACK gets
 * <SEQ=SEG.ACK><CTL=RST>. SEG.LEN counts the payload, SYN and FIN.
 * The answer is the bare headers: MACs, addresses and ports swapped, a VLAN
 * tag kept as it is, no IPv4 options, no IPv6 extension headers, no TCP
 * options or payload (the tail is cut with bpf_xdp_adjust_tail, which can
 * always shrink), window 0, TTL / hop limit 64, TOS / traffic class and
 * flow label 0, IPv4 DF and id 0, both checksums computed from scratch.
 */
#ifndef SL_BPF_RST_H
#define SL_BPF_RST_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "proto.h"
#include "csum.h"
#include "sluice/maps.h"

#define SL_RST_TTL   64
#define SL_IP_DF     0x4000

/*
 * A global function: checked once, from offsets (l3_off: the IP header,
 * l4_off: the TCP header, both from the frame's start; family: enum
 * sl_family), with every pointer re-derived from ctx. Returns
 * XDP_REDIRECT (XDP_TX for an interface not in sl_tx), or XDP_DROP when the frame is not what the offsets say.
 */
__attribute__((noinline)) int sl_tcp_reset(struct xdp_md *ctx, __u32 l3_off, __u32 l4_off, __u32 family)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tcphdr *th, *nt;
	__u32 ip_end, hl, seglen, doff, rack = 0, rseq = 0, i;
	__be32 seq, ack, *w;
	__be16 sport, dport;
	__u8 fl, rfl, mac[ETH_ALEN];
	__u64 sum = 0;
	int pay, delta;

	l3_off &= 0xff;
	l4_off &= 0x3fff;
	if ((void *)(eth + 1) > end || l3_off < sizeof(*eth))
		return XDP_DROP;
	th = data + l4_off;
	if ((void *)(th + 1) > end)
		return XDP_DROP;
	seq = th->seq;
	ack = th->ack_seq;
	sport = th->source;
	dport = th->dest;
	fl = ((__u8 *)th)[13];
	doff = th->doff * 4;

	if (family == SL_AF_INET) {
		struct iphdr *ip = data + l3_off;
		__be32 a;

		if ((void *)(ip + 1) > end)
			return XDP_DROP;
		ip_end = l3_off + bpf_ntohs(ip->tot_len);
		hl = sizeof(*ip);
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		*(__u8 *)ip = 0x45;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*th));
		ip->id = 0;
		ip->frag_off = bpf_htons(SL_IP_DF);
		ip->ttl = SL_RST_TTL;
		ip->protocol = IPPROTO_TCP;
		ip->check = 0;
		sum = (__u64)ip->saddr + ip->daddr;
		{
			__u64 s = 0;

			w = (__be32 *)ip;
#pragma unroll
			for (i = 0; i < 5; i++)
				s += w[i];
			ip->check = ~sl_csum_fold16(sl_csum_fold32(s));
		}
	} else {
		struct ipv6hdr *ip6 = data + l3_off;
		__be32 *s6, *d6, a;

		if ((void *)(ip6 + 1) > end)
			return XDP_DROP;
		ip_end = l3_off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		hl = sizeof(*ip6);
		*(__be32 *)ip6 = bpf_htonl(0x60000000);   /* version 6, class 0, label 0 */
		ip6->payload_len = bpf_htons(sizeof(*th));
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = SL_RST_TTL;
		s6 = (__be32 *)&ip6->saddr;
		d6 = (__be32 *)&ip6->daddr;
#pragma unroll
		for (i = 0; i < 4; i++) {
			a = s6[i];
			s6[i] = d6[i];
			d6[i] = a;
			sum += (__u64)s6[i] + d6[i];
		}
	}

	pay = (int)ip_end - (int)(l4_off + doff);
	if (pay < 0)
		pay = 0;
	seglen = (__u32)pay + !!(fl & SL_TCP_SYN) + !!(fl & SL_TCP_FIN);
	if (fl & SL_TCP_ACK) {
		rseq = ack;
		rfl = SL_TCP_RST;
	} else {
		rack = bpf_htonl(bpf_ntohl(seq) + seglen);
		rfl = SL_TCP_RST | SL_TCP_ACK;
	}

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	/* Everything needed from the old TCP header is read: the new one goes
	 * right after the IP header, over options and extension headers. */
	nt = data + l3_off + hl;
	if ((void *)(nt + 1) > end)
		return XDP_DROP;
	nt->source = dport;
	nt->dest = sport;
	nt->seq = rseq;
	nt->ack_seq = rack;
	((__u8 *)nt)[12] = (sizeof(*nt) / 4) << 4;
	((__u8 *)nt)[13] = rfl;
	nt->window = 0;
	nt->check = 0;
	nt->urg_ptr = 0;
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons(sizeof(*nt));
	w = (__be32 *)nt;
#pragma unroll
	for (i = 0; i < 5; i++)
		sum += w[i];
	nt->check = ~sl_csum_fold16(sl_csum_fold32(sum));

	delta = (int)(l3_off + hl + sizeof(*nt)) - (int)(end - data);
	if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_DROP;
	/* back out of the interface it came in by, through the devmap rather
	 * than XDP_TX: on veth, XDP_TX does not wake the peer's NAPI, and the
	 * RST waits until other traffic flushes it (docs/decisions.md) */
	return bpf_redirect_map(&sl_tx, ctx->ingress_ifindex, XDP_TX);
}

#endif
