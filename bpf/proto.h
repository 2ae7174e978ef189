/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Header layouts and constants BPF code needs beyond the UAPI headers it may
 * include: linux/icmp.h and friends pull in libc headers that do not build
 * for the bpf target.
 */
#ifndef SL_BPF_PROTO_H
#define SL_BPF_PROTO_H

#include <linux/types.h>

#define ETH_P_8021Q_BE    0x0081   /* htons(0x8100) */
#define ETH_P_8021AD_BE   0xa888   /* htons(0x88a8) */

struct sl_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

#define SL_IP_MF      0x2000
#define SL_IP_OFFSET  0x1fff

/* IPv6 extension headers walked over (all share the next-header/len shape
 * except the fragment header, whose length is fixed). */
#define SL_NEXTHDR_HOP       0
#define SL_NEXTHDR_ROUTING   43
#define SL_NEXTHDR_FRAGMENT  44
#define SL_NEXTHDR_AUTH      51
#define SL_NEXTHDR_DEST      60
#define SL_NEXTHDR_NONE      59

struct sl_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct sl_frag_hdr {
	__u8   nexthdr;
	__u8   reserved;
	__be16 frag_off;            /* offset << 3 | M */
	__be32 identification;
};

#define SL_IPPROTO_ICMPV6  58

struct sl_icmphdr {
	__u8   type;
	__u8   code;
	__sum16 checksum;
	__be32 rest;
};

#define SL_ICMP_DEST_UNREACH   3
#define SL_ICMP_TIME_EXCEEDED  11
#define SL_ICMP_FRAG_NEEDED    4   /* code of DEST_UNREACH */

#define SL_ICMPV6_DEST_UNREACH  1
#define SL_ICMPV6_PKT_TOOBIG    2
#define SL_ICMPV6_TIME_EXCEED   3

#define SL_TCP_FIN 0x01
#define SL_TCP_SYN 0x02
#define SL_TCP_RST 0x04
#define SL_TCP_ACK 0x10

#endif
