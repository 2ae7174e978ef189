/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The data path's maps. Shapes and names: include/sluice/maps.h. */
#ifndef SL_BPF_MAPS_H
#define SL_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice/maps.h"
#include "sluice/reasons.h"
#include "sluice/syn.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, struct sl_l4addr);
	__type(value, struct sl_svc);
} sl_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_SERVICES + SL_MAX_BACKENDS);
	__type(key, struct sl_addr_key);
	__type(value, __u32);               /* services or backends on this address */
} sl_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * SL_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} sl_addr_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_backend);
} sl_backend SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_bk_live);
} sl_bk_live SEC(".maps");

/* The breakers' signals of this backend moved (struct sl_bk_live). Written
 * only when not set yet: the line stays shared between CPUs. */
static __always_inline void sl_bk_touch(struct sl_bk_live *bl)
{
	if (bl && !bl->touched)
		bl->touched = 1;
}

static __always_inline void sl_bk_touch_id(__u32 bk_id)
{
	sl_bk_touch(bpf_map_lookup_elem(&sl_bk_live, &bk_id));
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_svc_live);
} sl_svc_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, struct sl_l4addr);
	__type(value, struct sl_rev);
} sl_rev SEC(".maps");

/* One Maglev table per service, each sized to its own prime: an array of
 * arrays whose inner maps may differ in size (BPF_F_INNER_MAP). */
struct sl_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct sl_maglev_inner);
} sl_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_CONN_DEFAULT);   /* set from the config before load */
	__type(key, struct sl_flow_key);
	__type(value, struct sl_conn);
} sl_conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_svc_stats);
} sl_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sl_bk_stats);
} sl_bk_stats SEC(".maps");

/* PENDING flows, for connect timeouts (struct sl_pend in maps.h): made
 * when a SYN is admitted, deleted by whoever ends the pending state; a
 * deletion that succeeds is what claims a timeout. Resized by the daemon
 * before load, like sl_conn. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_PENDING_DEFAULT);
	__type(key, struct sl_flow_key);
	__type(value, struct sl_pend);
} sl_pending SEC(".maps");

/* Passive signals for the daemon (struct sl_event); a full ring loses them. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SL_EVENTS_BYTES);
} sl_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sl_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, SL_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} sl_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_meta);
} sl_meta SEC(".maps");

/* Per-CPU scratch for structs too big for the 512-byte stack the program
 * and its global functions share. */
struct sl_scratch {
	struct sl_conn conn;
	struct bpf_fib_lookup fib;
	struct sl_flow_key fkey;    /* ICMP errors: the flow their quote names */
	struct sl_l4addr akey;
	struct sl_event ev;         /* built here, copied into sl_events */
	struct sl_pend pend;
	struct sl_l4addr skey;      /* a flow's service (slow calls, redispatch) */
	__u32 pend_skip;            /* SYNs left unlisted after sl_pending was full */
	__u8  syn[SL_SYN_FRAME_MAX]; /* a rebuilt SYN (redispatch), copied into the frame */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_scratch);
} sl_scratch SEC(".maps");

static __always_inline struct sl_scratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sl_scratch, &zero);
}

/* Count a packet under a reason (its verdict is the caller's). */
static __always_inline void count_reason(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&sl_reasons, &reason);

	if (c)
		*c += 1;
}

#endif
