// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The one harness every BPF_PROG_TEST_RUN benchmark goes through.
 *
 * With repeat > 1 the kernel reruns the program on the same buffer, so a
 * program that rewrites the packet (every forwarding path of sluice does)
 * would measure a different path from the second iteration on. The harness
 * puts the template packet back first, then tail-calls the program under
 * test (hr_target[0]). Its own cost is measured by tail-calling hr_pass
 * instead and subtracted by bench/xdp_bench.c.
 *
 *   hr_restore   restore the template, tail-call
 *   hr_newflow   restore, then make the IPv4 source address and the TCP
 *                source port a tuple never seen before (from a per-CPU
 *                counter userspace sets), tail-call. Checksums are left
 *                stale: sluice does not verify them, and fixing them would
 *                only add harness cost.
 *   hr_pass      the trivial XDP_PASS program: the floor, and the harness's
 *                own baseline target.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "harness.h"
#include "copy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} hr_target SEC(".maps");

/* Next tuple number for hr_newflow (per CPU: test_run stays on one). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} hr_seq SEC(".maps");

/* The packet every iteration starts from; written by userspace after load.
 * Words, so the copy below is 8-byte loads and stores, not byte by byte. */
__u64 hr_pkt[(HR_PKT_LEN + 7) / 8] = {};

/*
 * Put the frame back to HR_PKT_LEN bytes and the template's content. The
 * program under test may have moved the head (a VLAN tag popped, a packet
 * grown at the head); it never changes the tail on the paths measured.
 * Returns the packet start, or NULL.
 */
static __always_inline void *restore(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (end - data != HR_PKT_LEN) {
		if (bpf_xdp_adjust_head(ctx, (int)(end - data) - HR_PKT_LEN))
			return NULL;
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
	}
	if (data + HR_PKT_LEN > end)
		return NULL;
	copy_words(data, hr_pkt, HR_PKT_LEN);
	return data;
}

SEC("xdp")
int hr_restore(struct xdp_md *ctx)
{
	if (!restore(ctx))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &hr_target, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int hr_newflow(struct xdp_md *ctx)
{
	void *data = restore(ctx);
	struct iphdr *ip;
	struct tcphdr *th;
	__u32 zero = 0, n, *seq;

	if (!data)
		return XDP_ABORTED;
	ip = data + sizeof(struct ethhdr);
	th = (void *)(ip + 1);
	if ((void *)(th + 1) > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	seq = bpf_map_lookup_elem(&hr_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	n = (*seq)++;
	ip->saddr = bpf_htonl(HR_NEWFLOW_NET | (n >> 16));
	th->source = bpf_htons(n & 0xffff);
	bpf_tail_call(ctx, &hr_target, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int hr_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
