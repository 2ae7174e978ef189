/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the XDP program and userspace both see: map names, keys, values,
 * limits. Fixed-size structs only; addresses are 16 bytes for both
 * families (IPv4 in addr[0], the rest zero) so one key type serves both.
 *
 * Any change to a struct or map below must bump SL_LAYOUT_VERSION: the
 * daemon refuses pinned maps of another version (libbpf compares only
 * type, sizes and flags).
 */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <linux/types.h>

#define SL_LAYOUT_VERSION 4

#define SL_MAX_SERVICES   4096
#define SL_MAX_BACKENDS   65536     /* ids 1..65535; 0 means "none" */
#define SL_MAX_IFACES     256
#define SL_MAGLEV_MAX     65537     /* largest per-service table (prime) */
#define SL_MAGLEV_FACTOR  100       /* default size: smallest prime >= 100 x backends */
#define SL_PROBES         3         /* further candidates after the first */
#define SL_PROBE_SLOTS    16        /* Maglev slots visited at most to find them */
#define SL_CONN_DEFAULT   1048576   /* connection table entries */
#define SL_TCP_OPT_MAX    40
#define SL_IPV6_EXT_MAX   6         /* extension headers walked before giving up */
#define SL_PENDING_DEFAULT 65536    /* pending-flow map entries (config: pending_table_size) */
#define SL_EVENTS_BYTES   (256 * 1024)  /* event ring buffer */
#define SL_HS_BUCKETS     20        /* handshake-time histogram: bucket i holds
                                       [2^i, 2^(i+1)) microseconds; bucket 0 also
                                       everything under 1 us, the last everything above */

enum sl_family { SL_AF_INET = 4, SL_AF_INET6 = 6 };

/* (address, port, protocol): a service's VIP or a backend's address. */
struct sl_l4addr {
	__be32 addr[4];
	__be16 port;
	__u8   proto;               /* IPPROTO_TCP / IPPROTO_UDP */
	__u8   family;              /* enum sl_family */
};

/*
 * sl_addrs: every VIP address and every backend address (exact set, with
 * how many services or backends use it), to judge packets that have no
 * ports to look up: fragments, unknown protocols, malformed L4 headers.
 */
enum sl_addr_kind { SL_ADDR_VIP = 0, SL_ADDR_BACKEND = 1 };

struct sl_addr_key {
	__be32 addr[4];
	__u16  family;
	__u16  kind;                /* enum sl_addr_kind */
};

/* Connection table key: the client-side 5-tuple as the client sent it. */
struct sl_flow_key {
	__be32 src[4];              /* client */
	__be32 dst[4];              /* VIP */
	__be16 sport;
	__be16 dport;
	__u8   proto;
	__u8   family;
	__u16  pad;
};

enum sl_mode      { SL_MODE_NAT = 0, SL_MODE_DSR = 1 };
enum sl_sched     { SL_SCHED_MAGLEV = 0, SL_SCHED_P2C = 1 };
enum sl_reject    { SL_REJECT_RST = 0, SL_REJECT_DROP = 1 };
enum sl_on_trip   { SL_TRIP_RESET = 0, SL_TRIP_KEEP = 1 };

/* sl_svc: struct sl_l4addr (VIP) -> struct sl_svc. Written by the daemon. */
struct sl_svc {
	__u32 id;                   /* index into per-service arrays, < SL_MAX_SERVICES */
	__u32 maglev_size;          /* M of its table, for tools: the data path reads M from
	                               slot 0 of the table itself (sl_maglev: M + 1 entries) */
	__u32 max_conns;            /* 0: unlimited */
	__u32 connect_timeout_ms;
	__u32 idle_timeout_s;
	__u8  mode;                 /* enum sl_mode */
	__u8  sched;                /* enum sl_sched */
	__u8  reject;               /* enum sl_reject */
	__u8  on_trip;              /* enum sl_on_trip */
	__u8  max_ejection_pct;
	__u8  redispatch_max;       /* times a PENDING flow may move to another backend
	                               (refused or silent backend); 0: never */
	__u8  panic;
	__u8  flags;
	__u32 slow_call_ms;         /* a handshake (SYN to SYN-ACK) longer than this is a
	                               slow call: counted and pushed (SL_EV_SLOW); 0: off */
	__u32 reserved[3];
};

enum sl_bk_flags {
	SL_BK_F_ACTIVE = 1 << 0,    /* slot in use */
	SL_BK_F_NH     = 1 << 1,    /* next hop below is valid */
	SL_BK_F_GONE   = 1 << 2,    /* removed from the config: no new flows,
	                               established ones finish; freed when none is left */
	SL_BK_F_RESET  = 1 << 3,    /* established flows are reset: each end's next packet
	                               becomes an RST sent back to it (on_trip = reset,
	                               drain_timeout expired); written by the daemon */
};

/*
 * The gate a new flow meets, written by the daemon, read per new flow:
 * CLOSED admits; OPEN and DRAINING refuse (breaker_open); HALF_OPEN admits
 * while sl_bk_live.trial_tokens stays positive (atomic decrement; an
 * admitted trial flow is marked SL_CONN_F_TRIAL and its handshake reported
 * on the event ring).
 */
enum sl_breaker {
	SL_BRK_CLOSED = 0, SL_BRK_OPEN, SL_BRK_HALF_OPEN, SL_BRK_DRAINING,
};

/* sl_backend: array by backend id. Written by the daemon only. */
struct sl_backend {
	struct sl_l4addr addr;      /* backend address:port */
	__u32 svc_id;
	__u32 flags;                /* enum sl_bk_flags */
	__u32 weight;
	__u32 max_conns;            /* 0: unlimited */
	__u32 max_pending;          /* 0: unlimited */
	__u8  breaker;              /* enum sl_breaker */
	__u8  mode;                 /* daemon only: the operator's breaker mode (daemon/breaker.h
	                               enum sl_brk_mode), pinned so a restart keeps it */
	__u8  pad[2];
	/* next hop towards the backend, resolved by the daemon */
	__u32 nh_ifindex;
	__u8  nh_dmac[6];
	__u8  nh_smac[6];
	/* daemon only: a DRAINING backend's drain deadline, CLOCK_MONOTONIC
	 * ns as low and high words (a __u64 here would move the layout);
	 * 0: none. Pinned so a restarted sluiced ends the drain on time. */
	__u32 drain_until[2];
	__u32 reserved[2];
};

/*
 * sl_bk_live: array by backend id, mmapable. Moved with atomic adds by the
 * data path (admission, close) and by the daemon's reconciler (deltas), so
 * neither side ever overwrites the other.
 */
struct sl_bk_live {
	__s32 active;               /* established + pending: entries with SL_CONN_F_COUNTED */
	__s32 pending;              /* entries with SL_CONN_F_PEND */
	__s32 trial_tokens;         /* HALF_OPEN admissions left (written by the daemon,
	                               decremented by the data path) */
	__u32 touched;              /* set by the data path after it counted a signal the
	                               breakers read (handshake, slow call, refusal, reset,
	                               connect timeout, ICMP unreachable); taken back to 0
	                               by the daemon's tick, which then reads this
	                               backend's sl_bk_stats (only those) */
};

struct sl_svc_live {
	__s32 active;
	__u32 reserved[3];
};

/* sl_rev: backend struct sl_l4addr -> how to rebuild the forward key. */
struct sl_rev {
	__u32 bk_id;
	__u32 svc_id;
	struct sl_l4addr vip;
};

enum sl_conn_state {
	SL_CONN_UDP = 0,
	SL_CONN_PENDING,            /* SYN sent to the backend, no SYN-ACK yet */
	SL_CONN_ESTABLISHED,
	SL_CONN_CLOSING,            /* FIN or RST seen */
};

/*
 * Counting: an entry holds one unit of its backend's (and service's)
 * sl_*_live.active while SL_CONN_F_COUNTED is set, and one unit of the
 * backend's pending while SL_CONN_F_PEND is set. Whoever clears a flag
 * gives the unit back, and flags change only by compare-and-swap of the
 * whole 32-bit word `sw` (svc_id, state, flags), so a unit is returned
 * exactly once: by the packet path on SYN-ACK (PEND), on FIN/RST or a
 * reset (both), or by the daemon's reaper when it removes an entry that
 * still holds units. Units lost with entries the LRU evicts are given back
 * by the reconciler. A redispatch moves a PENDING flow's units from one
 * backend to another by one 64-bit compare-and-swap of `bsw` (bk_id and
 * sw together, flags unchanged): the new backend's units were taken by the
 * gates before, the old one's are given back by whoever's swap moved it;
 * whoever clears a flag later gives back units of the bk_id it swapped.
 */
enum sl_conn_flags {
	SL_CONN_F_REV_NH   = 1 << 0,  /* rev_* next hop is valid */
	SL_CONN_F_RESET    = 1 << 1,  /* reset by the gateway (on_trip = reset, drain):
	                                 every further packet of the flow gets an RST */
	SL_CONN_F_RECOVER  = 1 << 2,  /* created from a mid-flow packet */
	SL_CONN_F_COUNTED  = 1 << 3,  /* holds a unit of active (backend and service) */
	SL_CONN_F_PEND     = 1 << 4,  /* holds a unit of the backend's pending */
	SL_CONN_F_TRIAL    = 1 << 5,  /* admitted with a HALF_OPEN trial token */
};

/* Connection table value: one entry per flow, both directions. 128 bytes.
 * bk_id and sw form one 64-bit word (bsw): a redispatch moves a PENDING
 * flow to another backend with one compare-and-swap of both, so the units
 * a flag holds always belong to the backend in the same word. */
struct sl_conn {
	union {
		struct {
			__u32 bk_id;
			union {
				struct {
					__u16 svc_id;
					__u8  state;        /* enum sl_conn_state */
					__u8  flags;        /* enum sl_conn_flags */
				};
				__u32 sw;           /* the three above, for compare-and-swap */
			};
		};
		__u64 bsw;                  /* bk_id and sw, for moving a flow */
	};
	__u64 syn_ns;               /* bpf_ktime_get_ns() at admission (at the last
	                               redispatch: the SYN the backend has now) */
	__u64 seen_ns;              /* last seen, written only when > 1 s stale */
	/* next hop back to the client, found once per flow */
	__u32 rev_ifindex;
	__u8  rev_dmac[6];
	__u8  rev_smac[6];
	/* What rebuilds the client's SYN exactly (redispatch, and the daemon's
	 * sl_dp_inject_syn): written at admission of a SYN, never changed.
	 * Values as on the wire (network byte order) unless said otherwise. */
	__be32 isn;                 /* sequence number */
	__be16 win;                 /* window */
	__u8  tos;                  /* IPv4 TOS / IPv6 traffic class */
	__u8  ttl;                  /* IPv4 TTL / IPv6 hop limit, as the client sent it */
	__be32 flowlabel;           /* IPv6: the header's first word masked to the label */
	__u8  opt_len;              /* bytes of TCP options in opts (0..40) */
	__u8  redispatches;         /* times the flow moved to another backend */
	__u16 rev_gen;              /* low bits of sl_meta.nh_gen when rev_* was found */
	__u8  opts[SL_TCP_OPT_MAX]; /* the SYN's TCP options, raw; zero after opt_len */
	__u32 syn_ifindex;          /* interface the SYN came in by */
	__u8  syn_dmac[6];          /* the SYN's Ethernet destination (the gateway) */
	__u8  syn_smac[6];          /*           and source (the client or its router) */
	__be16 syn_vlan_proto;      /* the SYN's 802.1Q/802.1ad tag: its TPID, 0 untagged */
	__be16 syn_vlan_tci;        /*                               and its TCI */
	__be16 syn_ip_id;           /* IPv4 identification */
	__be16 syn_frag_off;        /* IPv4 flags (DF) */
	__be16 syn_tcp_fl;          /* TCP header bytes 12-13: data offset, reserved/AE,
	                               flags (SYN, and ECE|CWR for an ECN-setup SYN) */
	__u16 tried[3];             /* backends the flow left, latest first (0: none):
	                               skipped by a redispatch; their late answers are
	                               recognised (redispatch_late) */
};

/* Per-CPU counters. */
struct sl_svc_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
	__u64 reserved;
};

struct sl_bk_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;            /* entries made = units of active taken */
	__u64 conn_refused;         /* RST from the backend while PENDING */
	__u64 conn_timeout;         /* client SYN retransmitted past connect_timeout
	                               (the daemon counts those its pending scan finds) */
	__u64 icmp_unreach;         /* ICMP unreachable from or about the backend */
	__u64 resets;               /* RST from the backend after establishment */
	__u64 released;             /* units of active given back by the packet path */
	__u64 pend_taken;           /* units of pending taken (SYN admitted) */
	__u64 pend_released;        /* units of pending given back by the packet path */
	__u64 handshakes;           /* SYN-ACKs that established a flow (passive success) */
	__u64 trip_resets;          /* packets turned into RSTs (SL_BK_F_RESET) */
	__u64 redispatch_refused;   /* PENDING flows moved elsewhere after this backend
	                               refused (RST); each is also a conn_refused */
	__u64 redispatch_timeout;   /* PENDING flows moved elsewhere after connect_timeout
	                               on this backend (client or injected SYN) */
	__u64 redispatch_late;      /* answers from this backend to a flow that had left it:
	                               an RST dropped, anything else answered by an RST */
	__u64 slow_calls;           /* handshakes longer than the service's slow_call_ms */
	__u32 hs_hist[SL_HS_BUCKETS]; /* handshake time, SYN to SYN-ACK; u32 per CPU,
	                                 the daemon accumulates differences */
	__u64 last_hs_ns;           /* bpf_ktime_get_ns() of this CPU's latest counted
	                               handshake (the maximum over CPUs is the
	                               backend's: a failure whose SYN is older than
	                               that does not continue a run of failures) */
};

/* sl_pending: a PENDING flow (key: its struct sl_flow_key), made at
 * admission of a SYN, removed by whoever ends the pending state first: the
 * packet path (SYN-ACK, RST, FIN, a SYN retransmitted past the timeout) or
 * the daemon's scan (timeout). Deleting it is how a connect timeout is
 * claimed exactly once. A full map only loses the early timeout. */
struct sl_pend {
	__u64 syn_ns;
	__u32 bk_id;
	__u32 svc_id;
	__u32 connect_timeout_ms;
	__u32 pad;
};

/* sl_events (ring buffer): failures and trial outcomes, so the daemon
 * wakes at once. */
enum sl_event_kind {
	SL_EV_REFUSED = 1,          /* RST from the backend while PENDING */
	SL_EV_TIMEOUT,              /* connect timeout (client SYN retransmission) */
	SL_EV_ICMP,                 /* ICMP unreachable from or about the backend */
	SL_EV_RESET,                /* RST from the backend after establishment */
	SL_EV_TRIAL_OK,             /* a HALF_OPEN trial flow's handshake completed */
	SL_EV_SLOW,                 /* a handshake longer than the service's slow_call_ms */
};

struct sl_event {
	__u64 ns;                   /* bpf_ktime_get_ns() */
	__u32 bk_id;
	__u16 svc_id;
	__u8  kind;                 /* enum sl_event_kind */
	__u8  pad;
	__u32 value;                /* TRIAL_OK, SLOW: handshake time in us; TIMEOUT:
	                               the SYN's age in us; else 0 */
	__u32 pad2;
};

/*
 * sl_addr_filter: two 65,536-bit filters, one over VIP addresses (words
 * 0..SL_FILTER_WORDS-1, tested with a packet's destination) and one over
 * backend addresses (the next SL_FILTER_WORDS words, tested with its
 * source), indexed by enum sl_addr_kind. A packet that is neither to a VIP
 * nor from a backend costs two array loads, and the filter that hits tells
 * the direction.
 */
#define SL_FILTER_WORDS 1024
static inline __u32 sl_addr_bit(const __be32 *a)
{
	__u32 x = a[0] ^ a[1] ^ a[2] ^ a[3];

	return (x * 0x9e3779b1u) >> 16;
}

/* sl_meta[0]: refuses pins of another layout, tells the applied config. */
struct sl_meta {
	__u32 layout_version;
	__u32 nh_gen;               /* bumped by the daemon on route/neighbour change:
	                               per-flow reverse next hops older than it are looked up again */
	__u64 config_hash;
	__u64 applied_ns;
	__u64 now_ns;               /* CLOCK_MONOTONIC, written by the daemon every tick:
	                               the data path's clock for last-seen times, so an
	                               established packet calls no clock helper */
	__u64 reserved[3];
};

#endif
