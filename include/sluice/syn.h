/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The client's SYN, rebuilt from its connection entry (struct sl_conn:
 * isn, win, tos, ttl, flowlabel, opts, syn_*), one builder for both sides:
 *
 *   the XDP program (redispatch of a refused connect): the SYN addressed as
 *     the forward path sends it to the new backend (DNAT: client source,
 *     backend address and port, next-hop MACs, no tag, TTL - 1);
 *   the daemon (sl_dp_inject_syn): the SYN exactly as the client sent it
 *     (its MACs, tag, VIP, TTL), run through the XDP program.
 *
 * Header-only and free of libc and helpers: it compiles for the bpf target
 * (bounded loops only, buffer of fixed size) and for userspace. Values are
 * written byte by byte or copied raw from the entry's wire-order fields, so
 * host byte order never matters. IPv4 options and IPv6 extension headers
 * of the original SYN are not kept (the rebuilt SYN has none), nor is a
 * payload (a TFO SYN's data is sent again by the client); the urgent
 * pointer and the acknowledgment field are 0, as in any SYN a client
 * stack sends.
 */
#ifndef SLUICE_SYN_H
#define SLUICE_SYN_H

#include <linux/types.h>
#include "maps.h"

#define SL_SYN_INLINE static inline __attribute__((always_inline))

/* Longest frame: tagged Ethernet, IPv6, TCP with 40 bytes of options. A
 * buffer given to sl_syn_frame() must hold this many bytes. */
#define SL_SYN_FRAME_MAX (14 + 4 + 40 + 20 + SL_TCP_OPT_MAX)

/* One's complement sum of n bytes (n even, n <= max) at p, as 16-bit
 * big-endian words: a bounded loop the verifier walks once per word. */
SL_SYN_INLINE __u32 sl_syn_sum(const __u8 *p, __u32 n, __u32 max, __u32 s)
{
	__u32 i;

	for (i = 0; i < max; i += 2) {
		if (i >= n)
			break;
		s += (__u32)p[i] << 8 | p[i + 1];
	}
	return s;
}

SL_SYN_INLINE __u16 sl_syn_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * Write the SYN of flow k (entry c) into f (SL_SYN_FRAME_MAX bytes) and
 * return its length: Ethernet dmac/smac (with the tag vlan_proto/vlan_tci
 * when vlan_proto is not 0), IP from k's client to daddr with TTL / hop
 * limit ttl, TCP from k's client port to dport, every checksum computed
 * from scratch. daddr and dport are in network order (4 or 16 bytes).
 */
SL_SYN_INLINE __u32 sl_syn_frame(__u8 *f, const struct sl_flow_key *k, const struct sl_conn *c,
				 const __be32 *daddr, __be16 dport, const __u8 *dmac,
				 const __u8 *smac, __be16 vlan_proto, __be16 vlan_tci, __u8 ttl)
{
	const __u8 *fl = (const __u8 *)&c->flowlabel;
	const __u8 *tfl = (const __u8 *)&c->syn_tcp_fl;
	__u32 olen = c->opt_len, tlen, l3, l4, iphl, i, s;
	__u8 *ip, *th;

	if (olen > SL_TCP_OPT_MAX)
		olen = SL_TCP_OPT_MAX;
	olen &= 0x3c;                   /* whole words, as a data offset says */
	tlen = 20 + olen;

	__builtin_memcpy(f, dmac, 6);
	__builtin_memcpy(f + 6, smac, 6);
	l3 = 14;
	if (vlan_proto) {
		__builtin_memcpy(f + 12, &vlan_proto, 2);
		__builtin_memcpy(f + 14, &vlan_tci, 2);
		l3 = 18;
	}
	ip = f + l3;
	if (k->family == SL_AF_INET) {
		iphl = 20;
		ip[-2] = 0x08;
		ip[-1] = 0x00;
		ip[0] = 0x45;
		ip[1] = c->tos;
		ip[2] = (__u8)((iphl + tlen) >> 8);
		ip[3] = (__u8)(iphl + tlen);
		__builtin_memcpy(ip + 4, &c->syn_ip_id, 2);
		__builtin_memcpy(ip + 6, &c->syn_frag_off, 2);
		ip[8] = ttl;
		ip[9] = 6;                      /* TCP */
		ip[10] = 0;
		ip[11] = 0;
		__builtin_memcpy(ip + 12, &k->src[0], 4);
		__builtin_memcpy(ip + 16, &daddr[0], 4);
		s = sl_syn_sum(ip, 20, 20, 0);
		s = sl_syn_fold(s);
		ip[10] = (__u8)(s >> 8);
		ip[11] = (__u8)s;
		s = sl_syn_sum(ip + 12, 8, 8, 0);
	} else {
		iphl = 40;
		ip[-2] = 0x86;
		ip[-1] = 0xdd;
		ip[0] = 0x60 | (c->tos >> 4);
		ip[1] = (__u8)(c->tos << 4) | (fl[1] & 0x0f);
		ip[2] = fl[2];
		ip[3] = fl[3];
		ip[4] = (__u8)(tlen >> 8);
		ip[5] = (__u8)tlen;
		ip[6] = 6;                      /* TCP */
		ip[7] = ttl;
		__builtin_memcpy(ip + 8, k->src, 16);
		__builtin_memcpy(ip + 24, daddr, 16);
		s = sl_syn_sum(ip + 8, 32, 32, 0);
	}
	s += 6 + tlen;                          /* pseudo-header: protocol, length */

	l4 = l3 + iphl;
	th = f + l4;
	__builtin_memcpy(th, &k->sport, 2);
	__builtin_memcpy(th + 2, &dport, 2);
	__builtin_memcpy(th + 4, &c->isn, 4);
	for (i = 8; i < 12; i++)
		th[i] = 0;                      /* acknowledgment */
	th[12] = (__u8)((tlen / 4) << 4) | (tfl[0] & 0x0f);
	th[13] = tfl[1];
	__builtin_memcpy(th + 14, &c->win, 2);
	th[16] = 0;
	th[17] = 0;
	th[18] = 0;
	th[19] = 0;
	for (i = 0; i < SL_TCP_OPT_MAX; i++) {
		if (i >= olen)
			break;
		th[20 + i] = c->opts[i];
	}
	s = sl_syn_sum(th, tlen, 20 + SL_TCP_OPT_MAX, s);
	s = sl_syn_fold(s);
	th[16] = (__u8)(s >> 8);
	th[17] = (__u8)s;
	return l4 + tlen;
}

/* The SYN of flow k exactly as the client sent it: its MACs and tag, to
 * the VIP, with its own TTL (what sl_dp_inject_syn runs through the XDP
 * program). f: SL_SYN_FRAME_MAX bytes. */
SL_SYN_INLINE __u32 sl_syn_client_frame(__u8 *f, const struct sl_flow_key *k, const struct sl_conn *c)
{
	return sl_syn_frame(f, k, c, k->dst, k->dport, c->syn_dmac, c->syn_smac,
			    c->syn_vlan_proto, c->syn_vlan_tci, c->ttl);
}

#endif
