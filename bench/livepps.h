/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What bench/livepps.bpf.c and bench/livepps.c agree on. */
#ifndef SL_BENCH_LIVEPPS_H
#define SL_BENCH_LIVEPPS_H

/* The generated frame: Ethernet + IPv4 + TCP (ACK|PSH) + 10 bytes of data,
 * 64 bytes on the wire without FCS. */
#define LP_PKT_LEN 64

#endif
