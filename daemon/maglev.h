/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted.
 *
 * The daemon builds one lookup table of M slots per service; the XDP program
 * hashes a new flow's key and probes the table (sl_maglev_candidate). Both
 * sides use the hashes of include/sluice/hash.h, so userspace can predict
 * the data path's choice bit for bit.
 */
#ifndef SLUICE_MAGLEV_H
#define SLUICE_MAGLEV_H

#include <linux/types.h>
#include <sluice/maps.h>
#include <sluice/hash.h>

struct sl_maglev_backend {
	struct sl_l4addr addr;      /* identity: the permutation comes from it */
	__u32 weight;               /* 0: no slots (no new flows) */
	__u32 id;                   /* what the table holds */
};

/* Smallest prime >= SL_MAGLEV_FACTOR * nr_backends, at most SL_MAGLEV_MAX;
 * 0 for no backends. */
__u32 sl_maglev_default_size(unsigned nr_backends);

/* 1 if n is prime, else 0. */
int sl_is_prime(__u32 n);

/*
 * Fill table[0..M-1] with backend ids.
 *
 * Backend b's permutation of the slots is offset + j * skip (mod M), with
 * offset = sl_hash_l4addr(&b.addr, SL_SEED_OFFSET) % M and
 * skip = sl_hash_l4addr(&b.addr, SL_SEED_SKIP) % (M - 1) + 1, as in the
 * paper. The fill is not the paper's turn-taking, which moves 2-3% of the
 * other backends' slots whenever one backend comes or goes:
 *
 *  - every backend walks its permutation on a clock, its j-th proposal at
 *    time -ln(1 - (j + 1/2) / M) / weight, and a slot goes to the first
 *    backend that reaches it: weighted rendezvous hashing, which on its own
 *    never moves another backend's slot;
 *  - balance: each backend has a quota (M in proportion to weight, largest
 *    remainder, at least one slot per weighted backend) and ends within
 *    quota -+ min(0.8% of M, 10% of quota): it stops proposing at the upper
 *    bound, and once the free slots only just cover what backends below
 *    their lower bound still need, only those go on.
 *
 * So a backend's share of the slots is its weight share within 0.8
 * percentage points (plus rounding), and removing one of 10 equal backends
 * (M = 1009) moves ~0.4% of the others' slots on average. Backends are
 * sorted by address (then weight, then id) first: the table does not
 * depend on the order they are given in. Weight 0 takes no slots, and is
 * the same table as leaving the backend out. Only IEEE basic arithmetic:
 * the same table on every host.
 *
 * M: a prime <= SL_MAGLEV_MAX and >= the number of weighted backends.
 * Degenerate cases: with no weighted backend (n == 0 or all weights 0) the
 * table is all 0 and any M <= SL_MAGLEV_MAX (0 included) is accepted;
 * M == 1 is accepted for a single weighted backend.
 *
 * Returns 0, -EINVAL (bad arguments) or -ENOMEM.
 */
int sl_maglev_build(const struct sl_maglev_backend *bks, unsigned n, __u32 M,
		    __u32 *table);

/*
 * The data path's choice for a flow: candidate i (0 = first) is
 * table[sl_probe_slot(h, i, M)] with h = sl_hash_flow(k, SL_SEED_FLOW)
 * (hash.h, the same function bpf/gates.h uses). M == 1: slot 0; M == 0:
 * returns 0 ("none"). Slots of different probes may repeat; the data path
 * skips backends it has already tried, which this function does not.
 */
__u32 sl_maglev_candidate(const __u32 *table, __u32 M,
			  const struct sl_flow_key *k, unsigned i);

#endif
