/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Incremental Internet checksum updates (RFC 1624): HC' = ~(~HC + ~m + m').
 * One's-complement sums do not care about word size or byte order as long
 * as the result is folded, so addresses are summed as 32-bit words.
 */
#ifndef SL_BPF_CSUM_H
#define SL_BPF_CSUM_H

#include <linux/types.h>

static __always_inline __u32 sl_csum_fold32(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return (__u32)s;
}

static __always_inline __u16 sl_csum_fold16(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Difference of replacing 'n' 32-bit words 'from' by 'to', folded to 16
 * bits so that several differences can be added in 32 bits. */
static __always_inline __u32 sl_csum_diff_words(const __be32 *from, const __be32 *to, int n)
{
	__u64 s = 0;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		s += (__u32)~from[i];
		s += to[i];
	}
	return sl_csum_fold16(sl_csum_fold32(s));
}

static __always_inline __u32 sl_csum_diff16(__be16 from, __be16 to)
{
	return (__u32)(__u16)~from + to;
}

/* Apply a difference to a checksum field. */
static __always_inline void sl_csum_apply(__sum16 *csum, __u32 diff)
{
	__u64 s = (__u16)~*csum;

	s += diff;
	*csum = ~sl_csum_fold16(sl_csum_fold32(s));
}

/* UDP over IPv4: 0 means "no checksum" and stays 0; a computed 0 is sent as 0xffff. */
static __always_inline void sl_csum_apply_udp(__sum16 *csum, __u32 diff)
{
	if (*csum == 0)
		return;
	sl_csum_apply(csum, diff);
	if (*csum == 0)
		*csum = 0xffff;
}

#endif
