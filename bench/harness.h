/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What bench/harness.bpf.c and bench/xdp_bench.c agree on. */
#ifndef SL_BENCH_HARNESS_H
#define SL_BENCH_HARNESS_H

/* Every test_run benchmark uses frames of this size: an IPv4 TCP SYN with
 * the usual 20 bytes of options (MSS, SACK-permitted, timestamps, window
 * scale), or an ACK with timestamps and 8 bytes of data. */
#define HR_PKT_LEN 74

/* hr_newflow's tuple n: source address 198.18.0.0 | (n >> 16), source port
 * n & 0xffff; 2^32 distinct tuples inside the client range 198.18.0.0/16. */
#define HR_NEWFLOW_NET 0xc6120000u      /* 198.18.0.0 */

#endif
