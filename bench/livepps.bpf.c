// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Programs of the live-frames benchmark (bench/livepps.c), one object:
 *
 *   lp_gen    in the client namespace, run by BPF_PROG_TEST_RUN with
 *             BPF_F_TEST_XDP_LIVE_FRAMES: writes the template frame and
 *             returns XDP_TX, which the kernel turns into a transmit on the
 *             client's veth, i.e. a frame arriving at the gateway's gw-c.
 *             The template is written every time: live-frame pages are
 *             recycled with whatever the gateway rewrote in them.
 *   lp_count  on each backend's eth0 (the gateway's gw-bI peers): counts
 *             and drops the generated frames, so no backend stack is in
 *             the measurement. lp_rx[0] counts them all, lp_rx[1] those
 *             still addressed to the VIP (not DNAT'd: the bare redirect's,
 *             never sluice's or the kernel's).
 *   lp_bare   the peer to compare sluice with, on gw-c: fixed MACs and a
 *             redirect to gw-b1 through a devmap, nothing else.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "livepps.h"
#include "copy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lp_rx SEC(".maps");

/* Same map type and key as sluice's sl_tx, so the comparison is like for like. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} lp_tx SEC(".maps");

__u64 lp_pkt[(LP_PKT_LEN + 7) / 8] = {};
__u8 lp_dmac[ETH_ALEN] = {};
__u8 lp_smac[ETH_ALEN] = {};
__u32 lp_tx_ifindex = 0;
__be16 lp_sport = 0;            /* the generator's TCP source port */
__be32 lp_vip = 0;              /* the generator's destination */

SEC("xdp")
int lp_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + LP_PKT_LEN > end)
		return XDP_ABORTED;
	copy_words(data, lp_pkt, LP_PKT_LEN);
	return XDP_TX;
}

/* Counts and drops the generator's frames (by their TCP source port, which
 * neither sluice nor the bare redirect changes); passes anything else, such
 * as the gateway's neighbour probes, to the backend's stack. */
SEC("xdp")
int lp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th = (void *)(ip + 1);
	__u32 zero = 0, one = 1;
	__u64 *n;

	if ((void *)(th + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_TCP || th->source != lp_sport)
		return XDP_PASS;
	n = bpf_map_lookup_elem(&lp_rx, &zero);
	if (n)
		*n += 1;
	if (ip->daddr == lp_vip) {
		n = bpf_map_lookup_elem(&lp_rx, &one);
		if (n)
			*n += 1;
	}
	return XDP_DROP;
}

SEC("xdp")
int lp_bare(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_DROP;
	__builtin_memcpy(eth->h_dest, lp_dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, lp_smac, ETH_ALEN);
	return bpf_redirect_map(&lp_tx, lp_tx_ifindex, XDP_DROP);
}
