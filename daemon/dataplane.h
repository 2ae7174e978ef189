/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The data path as the daemon sees it: the XDP object, its maps (created,
 * or adopted from pins), the interfaces it is attached to, and the one
 * function that makes the maps say what a config says.
 */
#ifndef SLUICE_DATAPLANE_H
#define SLUICE_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>

struct sl_config;
struct sluice;                  /* the skeleton, build/sluice.skel.h */

struct sl_dp_opts {
	const char *pin_root;   /* NULL: maps are not pinned (tests) */
	__u32 conn_table_size;  /* 0: SL_CONN_DEFAULT */
	__u32 pending_table_size; /* 0: SL_PENDING_DEFAULT */
};

/* How sl_dp_inject_syn hands the program a SYN (see there). */
enum sl_inject_mode {
	SL_INJECT_AUTO,         /* live frames, replay once the kernel refuses them */
	SL_INJECT_REPLAY,       /* test run, the verdict carried out by sluiced */
};

struct sl_dp {
	struct sluice *skel;
	char pin_root[256];
	bool pinned;
	bool adopted;           /* maps came from pins a previous sluiced left */
	int nr_cpus;
	bool nh_dirty;          /* a backend got an id or a new address: next hops to resolve */
	/* sl_bk_live and sl_svc_live, mapped: moved only with atomic
	 * operations (the data path moves them too) */
	struct sl_bk_live *bk_live;
	struct sl_svc_live *svc_live;
	enum sl_inject_mode inject;
	int pkt_fd;             /* packet socket of replayed SYNs, -1: none yet */
	bool pkt_warned;        /* said once that it cannot be opened */
};

/* Open the object, adopt pinned maps of the same layout or create and pin
 * new ones, load. Errors are written to err. */
int sl_dp_open(struct sl_dp **out, const struct sl_dp_opts *o, char *err, size_t errlen);
void sl_dp_close(struct sl_dp *dp);

int sl_dp_prog_fd(const struct sl_dp *dp);

/* Make services, backends, Maglev tables, the reverse map, the VIP set and
 * the address filter match cfg. Ids of services and backends that stay are
 * kept, so established flows keep their backend. Removed backends are
 * marked GONE: no new flows, and their established flows finish. */
int sl_dp_apply(struct sl_dp *dp, const struct sl_config *cfg, char *err, size_t errlen);

/* Backend id for an address, 0 if none. */
__u32 sl_dp_backend_id(const struct sl_dp *dp, const struct sl_l4addr *a);

/* Service id of a VIP (from the mirror, no syscall), or -ENOENT. */
int sl_dp_service_id(const struct sl_dp *dp, const struct sl_l4addr *vip);

/*
 * Read entries first..first+n-1 of the per-CPU array map fd with batch
 * lookups (a few syscalls, not one per key). buf receives n values of
 * nr_cpus x vsz rounded up to 8 bytes each, in key order (entry k, CPU c
 * at buf + (k * nr_cpus + c) * round8(vsz)). 0 or negative errno.
 */
int sl_dp_read_percpu(const struct sl_dp *dp, int fd, __u32 first, __u32 n, size_t vsz, void *buf);

/* The mirror's view of backend id (NULL: unused). */
const struct sl_backend *sl_dp_backend(const struct sl_dp *dp, __u32 id);

/* The gate backend bk_id's new flows meet (enum sl_breaker), whether its
 * established flows are reset (SL_BK_F_RESET), and the operator's mode
 * kept with it across restarts. Unchanged values write nothing. */
int sl_dp_set_gate(struct sl_dp *dp, __u32 bk_id, __u8 breaker, bool reset, __u8 mode,
		   __u64 drain_until_ns);

/* Map file descriptor of a map of the skeleton, by name ("sl_conn"). */
int sl_dp_map_fd(const struct sl_dp *dp, const char *name);

/* Write a backend's next hop (ifindex 0: none known). */
int sl_dp_set_nexthop(struct sl_dp *dp, __u32 bk_id, __u32 ifindex,
		      const __u8 *dmac, const __u8 *smac);

/* Write the data path's clock (sl_meta.now_ns); call every tick. */
int sl_dp_tick(struct sl_dp *dp);

/* Bump the generation that invalidates per-flow reverse next hops. */
int sl_dp_bump_nh_gen(struct sl_dp *dp);

/* Attach to / detach from the configured interfaces; keeps sl_tx in step.
 * Interfaces missing now are reported and skipped. */
int sl_dp_attach(struct sl_dp *dp, const struct sl_config *cfg, char *err, size_t errlen);

/* The link table says interface NAME now has IFINDEX: when NAME is a
 * configured interface whose ifindex changed (deleted and re-created), the
 * program is attached to it and the devmap updated; logged. */
int sl_dp_iface_seen(struct sl_dp *dp, const char *name, __u32 ifindex);

/* IFINDEX left the link table: a configured interface drops out of the
 * devmap; logged. */
void sl_dp_iface_gone(struct sl_dp *dp, __u32 ifindex);

/* sl_meta.config_hash: the hash of the config last applied to the maps. */
int sl_dp_pinned_hash(const struct sl_dp *dp, __u64 *hash);

/* Free GONE backends that no flow references any more; returns how many. */
int sl_dp_reap_gone(struct sl_dp *dp);

/* One-shot teardown: detach our program from cfg's interfaces, remove the
 * pins. Works without a loaded object. */
int sl_dp_teardown(const struct sl_config *cfg, const char *pin_root, char *err, size_t errlen);

/* Mount bpffs at the parent of pin_root's /sys/fs/bpf when missing. */
int sl_dp_ensure_bpffs(const char *pin_root, char *err, size_t errlen);

/*
 * Redispatch without waiting for the client: run the client's SYN of flow
 * k (connection entry c, as read from sl_conn) through the XDP program,
 * rebuilt exactly as the client sent it (its MACs, VLAN tag, addresses,
 * TTL, ISN, window, options; sl_syn_client_frame in <sluice/syn.h>),
 * arriving on the interface the SYN came in by (c->syn_ifindex). The
 * program treats it as the client's retransmission: for a PENDING flow
 * older than the service's connect_timeout_ms it moves the flow to another
 * backend (within redispatch_max) and sends the SYN there; otherwise the
 * SYN goes to the flow's backend again. Call it after claiming the timeout
 * (deleting the sl_pending entry), for an entry that is PENDING with
 * redispatches below the service's redispatch_max.
 *
 * The frame is a live frame (BPF_F_TEST_XDP_LIVE_FRAMES, repeat 1): the
 * kernel carries out the verdict. Where the kernel refuses live frames
 * (EPERM, EOPNOTSUPP: older than 5.18, or kept from BPF_PROG_RUN), from
 * then on it is replayed: an ordinary test run, and a redirect or XDP_TX
 * sent by sluiced through a packet socket (docs/decisions.md).
 * 0, or -errno (-EINVAL: not a TCP flow entry made by a SYN;
 * -ENETUNREACH: a replayed verdict sluiced cannot carry out, XDP_PASS).
 */
int sl_dp_inject_syn(struct sl_dp *dp, const struct sl_flow_key *k, const struct sl_conn *c);

/* Choose how sl_dp_inject_syn hands the program its SYN (tests: both). */
void sl_dp_inject_mode(struct sl_dp *dp, enum sl_inject_mode m);

#endif
