/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Fixed-size copy of a template into a packet, for bench BPF programs. */
#ifndef SL_BENCH_COPY_H
#define SL_BENCH_COPY_H

#include <linux/types.h>

/*
 * Copy len bytes (a constant) from src to the packet at dst, which the
 * caller has bounds-checked: 8-byte words, then the 4/2/1-byte rest.
 * __builtin_memcpy would copy byte by byte: it cannot assume the packet
 * is aligned. Unaligned packet stores are fine on the JITs we run on.
 */
static __always_inline void copy_words(void *dst, const __u64 *src, const int len)
{
	__u64 *d = dst;
	int i, off = len & ~7;

#pragma unroll
	for (i = 0; i < len / 8; i++)
		d[i] = src[i];
	if (len & 4) {
		*(__u32 *)(dst + off) = *(const __u32 *)((const void *)src + off);
		off += 4;
	}
	if (len & 2) {
		*(__u16 *)(dst + off) = *(const __u16 *)((const void *)src + off);
		off += 2;
	}
	if (len & 1)
		*(__u8 *)(dst + off) = *(const __u8 *)((const void *)src + off);
}

#endif
