/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packet builder and checker for the BPF packet tests.
 *
 * The builder writes frames from a description (struct spec) and computes
 * every length and checksum from scratch; the checker parses frames with its
 * own code and verifies every checksum from scratch. Neither shares a line
 * with the data path's parser or its incremental checksum arithmetic, so a
 * test never trusts the code it tests.
 */
#ifndef SL_TEST_PKT_H
#define SL_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048

/* IP protocol numbers and header types the tests use */
#define P_HOP      0
#define P_ICMP     1
#define P_TCP      6
#define P_UDP      17
#define P_GRE      47
#define P_ROUTING  43
#define P_FRAG     44
#define P_AUTH     51
#define P_ICMP6    58
#define P_NONE     59
#define P_DEST     60
#define P_SCTP     132

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define ET_IP    0x0800
#define ET_ARP   0x0806
#define ET_IPV6  0x86dd
#define ET_VLAN  0x8100
#define ET_QINQ  0x88a8

/* One IPv6 extension header. */
struct ext6 {
	uint8_t type;           /* P_HOP, P_DEST, P_ROUTING, P_AUTH, P_FRAG */
	uint8_t hdrlen;         /* the header's length field (not for P_FRAG) */
	uint16_t frag_off;      /* P_FRAG: offset in 8-byte units */
	uint8_t  frag_mf;       /* P_FRAG: more fragments */
};

/* What a frame says, layer by layer. Zero means "the default" where noted. */
struct spec {
	int af;                         /* 4 or 6 */
	const uint8_t *dmac, *smac;
	int nvlan;                      /* 0, 1 or 2 802.1Q tags */
	uint16_t ethertype;             /* 0: from af */
	const char *src, *dst;          /* IP addresses */
	uint8_t proto;                  /* P_TCP, P_UDP, P_ICMP/P_ICMP6, or any other */
	uint8_t ttl;                    /* 0: 64 */
	uint8_t tos;                    /* IPv4 TOS / IPv6 traffic class */
	uint32_t flowlabel;             /* IPv6 */
	uint16_t ip_id;                 /* IPv4 identification */
	uint16_t frag;                  /* IPv4 frag_off field as on the wire (host order);
	                                   0: DF. Use FRAG4(mf, off) */
	const uint8_t *ip4opt; size_t ip4optlen;        /* padded to 4 with EOL */
	const struct ext6 *ext; int next;               /* IPv6 extension chain */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t win;                   /* 0: 29200 */
	const uint8_t *tcpopt; size_t tcpoptlen;        /* padded to 4 with EOL */
	int udp_zero;                   /* UDP: send checksum 0 */
	uint8_t icmp_type, icmp_code;
	uint32_t icmp_rest;             /* host order: MTU for frag-needed / too big */
	const uint8_t *inner; size_t innerlen;          /* quoted packet (ICMP) */
	const void *payload; size_t paylen;
};

#define FRAG4(mf, off) ((uint16_t)(((mf) ? 0x2000 : 0) | ((off) & 0x1fff)))

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
	size_t l3;              /* offset of the IP header */
	size_t l4;              /* offset of the L4 header */
	size_t pay;             /* offset of the L4 payload */
};

/* Build a frame (with Ethernet) or, with l2 == 0, a bare IP packet (for
 * ICMP quotes). Returns the length. */
size_t spec_build(const struct spec *s, struct pkt *p);
size_t spec_build_ip(const struct spec *s, struct pkt *p);

/* Recompute the IPv4 header checksum (after a deliberate mutation). */
void pkt_fix_ip4_csum(struct pkt *p);

/* Address text to the 16-byte form the maps use (IPv4 in the first 4). */
int addr16(const char *s, void *out16);

/* ---- checking ---------------------------------------------------------- */

/* A frame as an independent parser sees it. */
struct pview {
	const uint8_t *b;
	size_t len;
	const uint8_t *dmac, *smac;
	int nvlan;
	uint16_t ethertype;
	int af;
	const uint8_t *ip;
	size_t iplen;                   /* what the IP header says: total (v4) / 40 + payload (v6) */
	size_t hl;                      /* IP header + options / extension headers */
	uint8_t ttl;
	uint8_t src[16], dst[16];       /* IPv4 in the first 4 bytes */
	uint8_t proto;
	int nexts;
	int fragment;                   /* 1: IPv4 MF/offset or a real IPv6 fragment */
	const uint8_t *l4;
	size_t l4len;                   /* from the IP lengths */
	uint16_t sport, dport;
	const uint8_t *pay;
	size_t paylen;
	uint8_t icmp_type, icmp_code;
	const uint8_t *quote;           /* ICMP error: the quoted packet */
	size_t quotelen;
};

/* Parse from Ethernet; 0 or -1 with a reason in why. */
int pv_parse(struct pview *v, const uint8_t *b, size_t len, char *why, size_t n);
/* Parse a bare IP packet (an ICMP quote may be shorter than it says). */
int pv_parse_ip(struct pview *v, const uint8_t *ip, size_t len, char *why, size_t n);

/*
 * Verify every checksum from scratch: IPv4 header, TCP/UDP/ICMPv6 with the
 * pseudo-header, ICMPv4; for an ICMP error also the quoted IPv4 header and,
 * when the whole quoted packet is there, its L4 checksum (required when
 * strict_quote). 0 or -1 with why.
 */
int pv_check_csums(const struct pview *v, int strict_quote, char *why, size_t n);

/* Compare two frames byte for byte except checksum fields (whose validity
 * pv_check_csums judges); -1 if equal, else the first differing offset. */
long pkt_diff_masked(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* One's complement helpers, from scratch. */
uint32_t cs_add(uint32_t sum, const void *d, size_t n);
uint16_t cs_fold(uint32_t sum);

/* Hex dump into a string (for failure messages). */
void pkt_hex(const uint8_t *b, size_t len, char *out, size_t n);

#endif
