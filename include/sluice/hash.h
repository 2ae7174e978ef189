/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Hashes shared by the XDP program and userspace: the daemon's Maglev
 * permutations and the tests' predictions must match the data path bit for
 * bit, so there is exactly one definition. Murmur3's 32-bit mixing over
 * whole words: cheap in BPF (no loops over bytes), good enough spread.
 */
#ifndef SLUICE_HASH_H
#define SLUICE_HASH_H

#include <linux/types.h>
#include "maps.h"

#define SL_SEED_FLOW    0x511ce001u
#define SL_SEED_PROBE   0x511ce002u
#define SL_SEED_OFFSET  0x511ce003u
#define SL_SEED_SKIP    0x511ce004u

static inline __u32 sl_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 sl_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = sl_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = sl_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static inline __u32 sl_fmix(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The flow key is 10 words: src[4], dst[4], ports, proto/family/pad. */
static inline __u32 sl_hash_flow(const struct sl_flow_key *k, __u32 seed)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = seed;

	h = sl_mix(h, w[0]); h = sl_mix(h, w[1]); h = sl_mix(h, w[2]);
	h = sl_mix(h, w[3]); h = sl_mix(h, w[4]); h = sl_mix(h, w[5]);
	h = sl_mix(h, w[6]); h = sl_mix(h, w[7]); h = sl_mix(h, w[8]);
	h = sl_mix(h, w[9]);
	return sl_fmix(h, sizeof(*k));
}

/*
 * Slot of a flow's Maglev probe i: h mod M first, then a fresh mix of the
 * flow's hash and i for each further probe. Not (h + i * step) mod M: a
 * Maglev table is filled along each backend's permutation (offset + j *
 * skip), so a flow whose step equals a backend's skip walks that backend's
 * own slots and finds it again and again (docs/decisions.md, "Probing").
 */
static inline __u32 sl_probe_slot(__u32 h, __u32 i, __u32 M)
{
	if (!M)
		return 0;
	if (!i)
		return h % M;
	return sl_fmix(h ^ SL_SEED_PROBE ^ (i * 0x9e3779b9u), 4) % M;
}

/* A backend's identity for its Maglev permutation: its address, not its id. */
static inline __u32 sl_hash_l4addr(const struct sl_l4addr *a, __u32 seed)
{
	const __u32 *w = (const __u32 *)a;
	__u32 h = seed;

	h = sl_mix(h, w[0]); h = sl_mix(h, w[1]); h = sl_mix(h, w[2]);
	h = sl_mix(h, w[3]); h = sl_mix(h, w[4]);
	return sl_fmix(h, sizeof(*a));
}

#endif
