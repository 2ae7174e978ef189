/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Internet checksum from scratch, for the bench programs' test frames. */
#ifndef SL_BENCH_CSUM_H
#define SL_BENCH_CSUM_H

#include <stddef.h>
#include <linux/types.h>

static inline __u16 csum_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static inline __u32 csum_add(__u32 s, const void *p, size_t n)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	return s;
}

#endif
