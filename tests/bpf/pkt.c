// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Packet builder and from-scratch checker. See pkt.h. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"

/* ---- one's complement, byte by byte ------------------------------------ */

uint32_t cs_add(uint32_t sum, const void *d, size_t n)
{
	const uint8_t *p = d;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

uint16_t cs_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo(int af, const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
	uint8_t ph[40];

	if (af == 4) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[8] = 0;
		ph[9] = proto;
		ph[10] = len >> 8;
		ph[11] = len & 0xff;
		return cs_add(0, ph, 12);
	}
	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	ph[32] = len >> 24;
	ph[33] = len >> 16;
	ph[34] = len >> 8;
	ph[35] = len & 0xff;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = proto;
	return cs_add(0, ph, 40);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

int addr16(const char *s, void *out16)
{
	memset(out16, 0, 16);
	if (inet_pton(AF_INET, s, out16) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out16) == 1)
		return 6;
	return -1;
}

/* ---- building ------------------------------------------------------------ */

static void app(struct pkt *p, const void *d, size_t n)
{
	if (p->len + n > PKT_MAX)
		n = PKT_MAX - p->len;
	if (d)
		memcpy(p->b + p->len, d, n);
	else
		memset(p->b + p->len, 0, n);
	p->len += n;
}

static void app_padded(struct pkt *p, const uint8_t *d, size_t n)
{
	app(p, d, n);
	while (n++ & 3)
		app(p, NULL, 1);                /* EOL / padding */
}

/* Hop-by-hop and destination options: PadN to the declared length. */
static void app_padn(struct pkt *p, size_t rem)
{
	while (rem) {
		uint8_t o[2];
		size_t chunk;

		if (rem == 1) {
			app(p, NULL, 1);        /* Pad1 */
			return;
		}
		chunk = rem > 257 ? 257 : rem;
		if (rem - chunk == 1)
			chunk--;
		o[0] = 1;
		o[1] = (uint8_t)(chunk - 2);
		app(p, o, 2);
		app(p, NULL, chunk - 2);
		rem -= chunk;
	}
}

static int non_first_fragment(const struct spec *s)
{
	int i;

	if (s->af == 4)
		return (s->frag & 0x1fff) != 0;
	for (i = 0; i < s->next; i++)
		if (s->ext[i].type == P_FRAG && s->ext[i].frag_off)
			return 1;
	return 0;
}

static size_t build(const struct spec *s, struct pkt *p, int l2)
{
	uint8_t src[16], dst[16], h[64];
	uint8_t icmp = s->af == 4 ? P_ICMP : P_ICMP6;
	size_t l4len;
	int i;

	memset(p, 0, sizeof(*p));
	if (l2) {
		static const uint8_t z[6];
		uint16_t et = s->ethertype ? s->ethertype : s->af == 6 ? ET_IPV6 : ET_IP;

		app(p, s->dmac ? s->dmac : z, 6);
		app(p, s->smac ? s->smac : z, 6);
		for (i = 0; i < s->nvlan; i++) {
			put16(h, s->nvlan == 2 && i == 0 ? ET_QINQ : ET_VLAN);
			put16(h + 2, (uint16_t)(100 + i));
			app(p, h, 4);
		}
		put16(h, et);
		app(p, h, 2);
		if (et != ET_IP && et != ET_IPV6) {
			app(p, s->payload, s->paylen);
			p->l3 = p->l4 = p->pay = p->len;
			return p->len;
		}
	}
	addr16(s->src, src);
	addr16(s->dst, dst);
	p->l3 = p->len;
	if (s->af == 4) {
		memset(h, 0, 20);
		h[1] = s->tos;
		put16(h + 4, s->ip_id ? s->ip_id : 0x1234);
		put16(h + 6, s->frag ? s->frag : 0x4000);
		h[8] = s->ttl ? s->ttl : 64;
		h[9] = s->proto;
		memcpy(h + 12, src, 4);
		memcpy(h + 16, dst, 4);
		app(p, h, 20);
		app_padded(p, s->ip4opt, s->ip4optlen);
		p->b[p->l3] = 0x40 | (uint8_t)((p->len - p->l3) / 4);
	} else {
		uint32_t w = 6u << 28 | (uint32_t)s->tos << 20 | (s->flowlabel & 0xfffff);

		memset(h, 0, 40);
		put32(h, w);
		h[6] = s->next ? s->ext[0].type : s->proto;
		h[7] = s->ttl ? s->ttl : 64;
		memcpy(h + 8, src, 16);
		memcpy(h + 24, dst, 16);
		app(p, h, 40);
		for (i = 0; i < s->next; i++) {
			const struct ext6 *e = &s->ext[i];
			uint8_t nh = i + 1 < s->next ? s->ext[i + 1].type : s->proto;

			memset(h, 0, sizeof(h));
			h[0] = nh;
			if (e->type == P_FRAG) {
				put16(h + 2, (uint16_t)(e->frag_off << 3 | (e->frag_mf ? 1 : 0)));
				put32(h + 4, 0xabcd0000u + i);
				app(p, h, 8);
			} else if (e->type == P_AUTH) {
				h[1] = e->hdrlen;
				put32(h + 4, 0x100);    /* SPI */
				put32(h + 8, 1);        /* sequence */
				app(p, h, 12);
				app(p, NULL, (size_t)(e->hdrlen + 2) * 4 - 12);
			} else if (e->type == P_ROUTING) {
				h[1] = e->hdrlen;
				h[2] = 253;             /* experimental type; segments left 0 */
				app(p, h, 8);
				app(p, NULL, (size_t)e->hdrlen * 8);
			} else {
				h[1] = e->hdrlen;
				app(p, h, 2);
				app_padn(p, 6 + (size_t)e->hdrlen * 8);
			}
		}
	}

	p->l4 = p->len;
	if (non_first_fragment(s)) {
		/* no L4 header in a non-first fragment */
	} else if (s->proto == P_TCP) {
		size_t optlen = (s->tcpoptlen + 3) & ~(size_t)3;

		memset(h, 0, 20);
		put16(h, s->sport);
		put16(h + 2, s->dport);
		put32(h + 4, s->seq);
		put32(h + 8, s->ack);
		h[12] = (uint8_t)((20 + optlen) / 4) << 4;
		h[13] = s->tcp_flags;
		put16(h + 14, s->win ? s->win : 29200);
		app(p, h, 20);
		app_padded(p, s->tcpopt, s->tcpoptlen);
	} else if (s->proto == P_UDP) {
		memset(h, 0, 8);
		put16(h, s->sport);
		put16(h + 2, s->dport);
		app(p, h, 8);
	} else if (s->proto == icmp) {
		memset(h, 0, 8);
		h[0] = s->icmp_type;
		h[1] = s->icmp_code;
		put32(h + 4, s->icmp_rest);
		app(p, h, 8);
		app(p, s->inner, s->innerlen);
	}
	p->pay = p->len;
	app(p, s->payload, s->paylen);

	/* lengths */
	if (s->af == 4)
		put16(p->b + p->l3 + 2, (uint16_t)(p->len - p->l3));
	else
		put16(p->b + p->l3 + 4, (uint16_t)(p->len - p->l3 - 40));
	l4len = p->len - p->l4;
	if (non_first_fragment(s))
		goto ipcsum;
	if (s->proto == P_UDP)
		put16(p->b + p->l4 + 4, (uint16_t)l4len);

	/* checksums, L4 first (the IPv4 header checksum does not cover it) */
	if (s->proto == P_TCP || s->proto == P_UDP || (s->proto == P_ICMP6 && s->af == 6)) {
		size_t off = s->proto == P_TCP ? 16 : s->proto == P_UDP ? 6 : 2;
		uint16_t c;

		put16(p->b + p->l4 + off, 0);
		c = (uint16_t)~cs_fold(pseudo(s->af, src, dst, s->proto, l4len) +
				       cs_add(0, p->b + p->l4, l4len));
		if (s->proto == P_UDP && c == 0)
			c = 0xffff;
		if (s->proto == P_UDP && s->udp_zero)
			c = 0;
		put16(p->b + p->l4 + off, c);
	} else if (s->proto == P_ICMP && s->af == 4) {
		put16(p->b + p->l4 + 2, 0);
		put16(p->b + p->l4 + 2, (uint16_t)~cs_fold(cs_add(0, p->b + p->l4, l4len)));
	}
ipcsum:
	if (s->af == 4)
		pkt_fix_ip4_csum(p);
	return p->len;
}

size_t spec_build(const struct spec *s, struct pkt *p)
{
	return build(s, p, 1);
}

size_t spec_build_ip(const struct spec *s, struct pkt *p)
{
	return build(s, p, 0);
}

void pkt_fix_ip4_csum(struct pkt *p)
{
	uint8_t *ip = p->b + p->l3;
	size_t hl = (size_t)(ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~cs_fold(cs_add(0, ip, hl)));
}

/* ---- parsing ------------------------------------------------------------- */

static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* quote: the packet may be cut short of what its header says */
static int parse_ip(struct pview *v, const uint8_t *ip, size_t avail, int quote, char *why, size_t n)
{
	size_t hl, tot, room;
	uint8_t nh;

	v->ip = ip;
	if (avail < 1)
		return fail(why, n, "no IP header");
	v->af = ip[0] >> 4;
	if (v->af == 4) {
		if (avail < 20)
			return fail(why, n, "IPv4 header cut (%zu bytes)", avail);
		hl = (size_t)(ip[0] & 0xf) * 4;
		tot = get16(ip + 2);
		if (hl < 20 || hl > avail || tot < hl)
			return fail(why, n, "bad IPv4 header length %zu / total %zu", hl, tot);
		if (!quote && tot > avail)
			return fail(why, n, "IPv4 total length %zu beyond the frame (%zu)", tot, avail);
		v->ttl = ip[8];
		v->proto = ip[9];
		memset(v->src, 0, 16);
		memset(v->dst, 0, 16);
		memcpy(v->src, ip + 12, 4);
		memcpy(v->dst, ip + 16, 4);
		v->fragment = (get16(ip + 6) & 0x3fff) != 0;
		v->iplen = tot;
		v->hl = hl;
	} else if (v->af == 6) {
		if (avail < 40)
			return fail(why, n, "IPv6 header cut (%zu bytes)", avail);
		tot = 40 + (size_t)get16(ip + 4);
		if (!quote && tot > avail)
			return fail(why, n, "IPv6 payload length beyond the frame");
		v->ttl = ip[7];
		memcpy(v->src, ip + 8, 16);
		memcpy(v->dst, ip + 24, 16);
		v->iplen = tot;
		hl = 40;
		nh = ip[6];
		v->nexts = 0;
		for (;;) {
			size_t el;

			if (nh != P_HOP && nh != P_DEST && nh != P_ROUTING && nh != P_AUTH && nh != P_FRAG)
				break;
			if (hl + 8 > avail)
				return fail(why, n, "IPv6 extension header cut");
			if (nh == P_FRAG) {
				el = 8;
				if (get16(ip + hl + 2) & 0xfff9)
					v->fragment = 1;
			} else if (nh == P_AUTH) {
				el = ((size_t)ip[hl + 1] + 2) * 4;
			} else {
				el = ((size_t)ip[hl + 1] + 1) * 8;
			}
			nh = ip[hl];
			hl += el;
			v->nexts++;
			if (hl > tot)
				return fail(why, n, "IPv6 extension headers beyond the payload length");
		}
		v->proto = nh;
		v->hl = hl;
	} else {
		return fail(why, n, "IP version %d", v->af);
	}
	v->l4 = ip + v->hl;
	room = (quote && v->iplen > avail ? avail : v->iplen);
	v->l4len = room > v->hl ? room - v->hl : 0;
	if (v->fragment)
		return 0;
	if (v->proto == P_TCP) {
		size_t doff;

		if (v->l4len < (quote ? 8 : 20))
			return fail(why, n, "TCP header cut");
		v->sport = get16(v->l4);
		v->dport = get16(v->l4 + 2);
		if (v->l4len >= 20) {
			doff = (size_t)(v->l4[12] >> 4) * 4;
			if (doff < 20 || doff > v->l4len)
				return fail(why, n, "bad TCP data offset %zu", doff);
			v->pay = v->l4 + doff;
			v->paylen = v->l4len - doff;
		}
	} else if (v->proto == P_UDP) {
		if (v->l4len < 8)
			return fail(why, n, "UDP header cut");
		v->sport = get16(v->l4);
		v->dport = get16(v->l4 + 2);
		v->pay = v->l4 + 8;
		v->paylen = v->l4len - 8;
		if (!quote && get16(v->l4 + 4) != v->l4len)
			return fail(why, n, "UDP length %u, IP says %zu", get16(v->l4 + 4), v->l4len);
	} else if ((v->af == 4 && v->proto == P_ICMP) || (v->af == 6 && v->proto == P_ICMP6)) {
		int err;

		if (v->l4len < 8)
			return fail(why, n, "ICMP header cut");
		v->icmp_type = v->l4[0];
		v->icmp_code = v->l4[1];
		err = v->af == 4 ? (v->icmp_type == 3 || v->icmp_type == 11 || v->icmp_type == 12)
				 : (v->icmp_type >= 1 && v->icmp_type <= 4);
		if (err) {
			v->quote = v->l4 + 8;
			v->quotelen = v->l4len - 8;
		}
		v->pay = v->l4 + 8;
		v->paylen = v->l4len - 8;
	}
	return 0;
}

int pv_parse_ip(struct pview *v, const uint8_t *ip, size_t len, char *why, size_t n)
{
	memset(v, 0, sizeof(*v));
	v->b = ip;
	v->len = len;
	return parse_ip(v, ip, len, 1, why, n);
}

int pv_parse(struct pview *v, const uint8_t *b, size_t len, char *why, size_t n)
{
	size_t off = 14;

	memset(v, 0, sizeof(*v));
	v->b = b;
	v->len = len;
	if (len < 14)
		return fail(why, n, "frame of %zu bytes", len);
	v->dmac = b;
	v->smac = b + 6;
	v->ethertype = get16(b + 12);
	while (v->ethertype == ET_VLAN || v->ethertype == ET_QINQ) {
		if (off + 4 > len)
			return fail(why, n, "VLAN tag cut");
		v->ethertype = get16(b + off + 2);
		off += 4;
		v->nvlan++;
	}
	if (v->ethertype != ET_IP && v->ethertype != ET_IPV6)
		return 0;
	if (parse_ip(v, b + off, len - off, 0, why, n))
		return -1;
	if ((v->af == 4) != (v->ethertype == ET_IP))
		return fail(why, n, "ethertype %04x carries IPv%d", v->ethertype, v->af);
	return 0;
}

/* ---- checksums ----------------------------------------------------------- */

static int l4_ok(const struct pview *v, char *why, size_t n, const char *what)
{
	uint32_t s;

	if (v->fragment)
		return 0;
	if (v->proto == P_TCP || v->proto == P_UDP || (v->af == 6 && v->proto == P_ICMP6)) {
		if (v->proto == P_UDP && get16(v->l4 + 6) == 0) {
			if (v->af == 4)
				return 0;
			return fail(why, n, "%s: UDP over IPv6 with checksum 0", what);
		}
		s = pseudo(v->af, v->src, v->dst, v->proto, v->l4len) + cs_add(0, v->l4, v->l4len);
		if (cs_fold(s) != 0xffff)
			return fail(why, n, "%s: %s checksum %04x is wrong (sum %04x)", what,
				    v->proto == P_TCP ? "TCP" : v->proto == P_UDP ? "UDP" : "ICMPv6",
				    get16(v->l4 + (v->proto == P_TCP ? 16 : v->proto == P_UDP ? 6 : 2)),
				    cs_fold(s));
	} else if (v->af == 4 && v->proto == P_ICMP) {
		s = cs_add(0, v->l4, v->l4len);
		if (cs_fold(s) != 0xffff)
			return fail(why, n, "%s: ICMP checksum %04x is wrong", what, get16(v->l4 + 2));
	}
	return 0;
}

int pv_check_csums(const struct pview *v, int strict_quote, char *why, size_t n)
{
	struct pview q;

	if (v->af == 4 && cs_fold(cs_add(0, v->ip, v->hl)) != 0xffff)
		return fail(why, n, "IPv4 header checksum %04x is wrong", get16(v->ip + 10));
	if (l4_ok(v, why, n, "outer"))
		return -1;
	if (!v->quote)
		return 0;
	if (pv_parse_ip(&q, v->quote, v->quotelen, why, n))
		return strict_quote ? -1 : 0;
	if (q.af == 4 && cs_fold(cs_add(0, q.ip, q.hl)) != 0xffff)
		return fail(why, n, "quoted IPv4 header checksum %04x is wrong", get16(q.ip + 10));
	if (q.iplen > v->quotelen) {
		if (strict_quote)
			return fail(why, n, "quoted packet cut (%zu of %zu bytes): its L4 checksum "
				    "cannot be checked", v->quotelen, q.iplen);
		return 0;
	}
	return l4_ok(&q, why, n, "quoted");
}

/* Offsets of every checksum field in a frame, as the independent parser finds them. */
static int csum_offsets(const uint8_t *b, size_t len, size_t *offs)
{
	struct pview v, q;
	int k = 0;

	if (pv_parse(&v, b, len, NULL, 0) || !v.ip)
		return 0;
	if (v.af == 4)
		offs[k++] = (size_t)(v.ip - b) + 10;
	if (!v.fragment) {
		if (v.proto == P_TCP && v.l4len >= 18)
			offs[k++] = (size_t)(v.l4 - b) + 16;
		else if (v.proto == P_UDP)
			offs[k++] = (size_t)(v.l4 - b) + 6;
		else if (v.proto == P_ICMP || v.proto == P_ICMP6)
			offs[k++] = (size_t)(v.l4 - b) + 2;
	}
	if (v.quote && !pv_parse_ip(&q, v.quote, v.quotelen, NULL, 0)) {
		if (q.af == 4)
			offs[k++] = (size_t)(q.ip - b) + 10;
		if (q.proto == P_TCP && q.l4len >= 18)
			offs[k++] = (size_t)(q.l4 - b) + 16;
		else if (q.proto == P_UDP && q.l4len >= 8)
			offs[k++] = (size_t)(q.l4 - b) + 6;
	}
	return k;
}

long pkt_diff_masked(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	static uint8_t ca[PKT_MAX], cb[PKT_MAX];
	size_t offs[8], i, len = alen < blen ? alen : blen;
	int k;

	if (alen > PKT_MAX || blen > PKT_MAX)
		return 0;
	memcpy(ca, a, alen);
	memcpy(cb, b, blen);
	k = csum_offsets(a, alen, offs);
	for (i = 0; i < (size_t)k; i++) {
		if (offs[i] + 2 <= alen)
			ca[offs[i]] = ca[offs[i] + 1] = 0;
		if (offs[i] + 2 <= blen)
			cb[offs[i]] = cb[offs[i] + 1] = 0;
	}
	for (i = 0; i < len; i++)
		if (ca[i] != cb[i])
			return (long)i;
	return alen == blen ? -1 : (long)len;
}

void pkt_hex(const uint8_t *b, size_t len, char *out, size_t n)
{
	size_t i, o = 0;

	if (!n)
		return;
	out[0] = 0;
	for (i = 0; i < len && o + 4 < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%02x%s", b[i], (i % 16 == 15) ? "\n" : " ");
}
