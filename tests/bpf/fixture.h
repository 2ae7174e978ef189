/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What every BPF packet test shares: a private network namespace (so
 * bpf_fib_lookup has routes and neighbours to find and the host is never
 * touched), the real XDP program loaded through the daemon's dataplane code
 * with a config applied, backend next hops, and helpers that run a frame
 * through BPF_PROG_TEST_RUN and read the counters.
 *
 * The namespace:
 *   sl-c0 (02:00:00:00:c0:01)  198.18.0.1/24  2001:2:0:1::1/64   client side
 *   sl-b0 (02:00:00:00:b0:01)  198.19.0.1/24  2001:2:0:2::1/64   backend side
 * permanent neighbours: the clients FX_CLI4/FX_CLI6 (FX_MAC_CLIENT) on sl-c0,
 * every config backend (fx_nh_mac of its id) on sl-b0; FX_CLI4_NONEIGH and
 * FX_CLI6_NONEIGH are routed but have no neighbour, FX_CLI4_NOROUTE /
 * FX_CLI6_NOROUTE have no route. sl_tx holds lo, sl-c0 and sl-b0. Backend
 * next hops: lo, dmac fx_nh_mac(id), smac FX_MAC_NH_SRC.
 */
#ifndef SL_TEST_FIXTURE_H
#define SL_TEST_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <sluice/maps.h>
#include <sluice/reasons.h>

#include "pkt.h"
#include "dataplane.h"
#include "config.h"

#define FX_VIP4          "198.18.1.100"
#define FX_VIP6          "2001:2:0:1::100"
#define FX_CLI4          "198.18.0.10"
#define FX_CLI6          "2001:2:0:1::10"
#define FX_CLI4_NONEIGH  "198.18.0.77"
#define FX_CLI6_NONEIGH  "2001:2:0:1::77"
#define FX_CLI4_NOROUTE  "198.18.200.10"
#define FX_CLI6_NOROUTE  "2001:2:0:200::10"
#define FX_OTHER4        "198.18.7.7"           /* nobody's address */
#define FX_OTHER6        "2001:2:0:7::7"
#define FX_ROUTER4       "198.19.9.1"           /* a router between gateway and backends */
#define FX_ROUTER6       "2001:2:0:9::1"

/* The standard config: two VIPs, four services, ten backends. */
extern const char FX_CONFIG[];

extern const uint8_t FX_MAC_CLIENT[6];  /* the client (and its neighbour entry) */
extern const uint8_t FX_MAC_GW_C[6];    /* sl-c0 */
extern const uint8_t FX_MAC_GW_B[6];    /* sl-b0 */
extern const uint8_t FX_MAC_NH_SRC[6];  /* smac of every backend next hop */

struct fx {
	struct sl_dp *dp;
	struct sl_config *cfg;
	int prog_fd;
	__u32 if_c, if_b, if_lo;
	int ncpu;
};
extern struct fx fx;

/* Exit 77 (skip) unless the process may create namespaces and load BPF. */
void fx_require_privileges(void);

/* Group setup/teardown: namespace, dataplane, FX_CONFIG applied. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Apply another config (next hops for its backends, neighbours on sl-b0). */
int fx_apply(const char *conf);

/* Empty the connection table and the pending map, zero the live counters
 * (sl_bk_live, sl_svc_live) of the config's services and backends, and
 * consume every event left on the ring (between tests). */
void fx_flush_conns(void);

/* Consume the events on sl_events: up to max copied to out (NULL: none
 * kept); returns how many were consumed. */
int fx_events(struct sl_event *out, int max);

/* ---- running frames ------------------------------------------------------ */

struct res {
	__u32 ret;                      /* XDP verdict */
	__u32 len;
	uint8_t out[PKT_MAX];
	int reason;                     /* the one reason counted: -1 none, -2 more than one */
};

/* Run a frame arriving on ifindex; fills r, including which reason moved.
 * Frames shorter than 14 bytes need kernel 6.17 or later: -1 when this
 * kernel refuses them, else 0. */
int fx_run_raw(const void *frame, size_t len, __u32 ifindex, struct res *r);
void fx_run(const struct pkt *p, __u32 ifindex, struct res *r);

/* Build and run. */
void fx_send(const struct spec *s, __u32 ifindex, struct res *r);

void fx_reasons(__u64 out[SL_R_MAX]);
const char *fx_reason_name(int r);
const char *fx_verdict_name(__u32 v);

#define assert_reason(got, want) \
	fx_assert_reason_(got, want, __FILE__, __LINE__)
#define assert_verdict(got, want) \
	fx_assert_verdict_(got, want, __FILE__, __LINE__)
void fx_assert_reason_(int got, int want, const char *file, int line);
void fx_assert_verdict_(__u32 got, __u32 want, const char *file, int line);

/* ---- maps ------------------------------------------------------------------ */

__u32 fx_svc_id(const char *vip, int port, int proto);
__u32 fx_svc_id_of(const struct sl_l4addr *vip);
/* Read and write the maps the daemon owns, as the daemon would. */
struct sl_svc fx_svc_get(const char *vip, int port, int proto);
void fx_svc_put(const char *vip, int port, int proto, const struct sl_svc *v);
struct sl_backend fx_bk_get(__u32 id);
void fx_bk_put(__u32 id, const struct sl_backend *b);
struct sl_bk_live fx_bk_live(__u32 id);
void fx_bk_live_put(__u32 id, const struct sl_bk_live *v);
struct sl_svc_live fx_svc_live(__u32 svc_id);
void fx_svc_live_put(__u32 svc_id, const struct sl_svc_live *v);
int fx_pend(const struct sl_flow_key *k, struct sl_pend *v);    /* 0 or -1 (none) */
void fx_pend_put(const struct sl_flow_key *k, const struct sl_pend *v);
int fx_pend_count(void);
void fx_conn_put(const struct sl_flow_key *k, const struct sl_conn *c);
__u32 fx_bk_id(const char *addr, int port, int proto);
void fx_bk_addr(__u32 bk_id, char *addr, size_t n, uint16_t *port);
void fx_nh_mac(__u32 bk_id, uint8_t mac[6]);
struct sl_svc_stats fx_svc_stats(__u32 svc_id);
struct sl_bk_stats fx_bk_stats(__u32 bk_id);
int fx_conn(const struct sl_flow_key *k, struct sl_conn *c);
int fx_conn_count(void);
void fx_flow_key(struct sl_flow_key *k, const char *src, int sport, const char *dst, int dport, int proto);

/* The config service with this name (NULL if none). */
const struct sl_cfg_service *fx_cfg_svc(const char *name);

/*
 * Candidate i of the Maglev choice for key k in service name, built in
 * userspace (sl_maglev_build over the config's backends and the ids the
 * dataplane gave them, sl_maglev_candidate). Also asserts that the table
 * built here is the one in the kernel.
 */
__u32 fx_predict(const char *svc_name, const struct sl_flow_key *k, unsigned i);

/* ---- frames --------------------------------------------------------------- */

/* A client's packet to a service: client MACs, FX_CLI4/6 -> FX_VIP4/6. TCP
 * packets are SYNs, with a few bytes of payload. */
void fx_spec_fwd(struct spec *s, int af, uint8_t proto, uint16_t sport, uint16_t vport);

/* The backend's answer to fx_spec_fwd(): backend addr:port -> client, the
 * backend's MAC to sl-b0. TCP: SYN-ACK. */
void fx_spec_rev(struct spec *s, const struct spec *fwd, __u32 bk_id);

/*
 * Assert that running `in` produced exactly the frame that goes to backend
 * bk_id (addresses and ports rewritten, TTL down one, next-hop MACs, VLAN
 * tag gone), with XDP_REDIRECT and every checksum valid from scratch.
 * dmac/smac NULL: the backend's next hop (fx_nh_mac, FX_MAC_NH_SRC).
 */
void fx_assert_forwarded(const struct spec *in, const struct res *r, __u32 bk_id,
			 const uint8_t *dmac, const uint8_t *smac);

/* Assert the reply `in` came out as VIP:vport -> client to the client's MACs. */
void fx_assert_reversed(const struct spec *in, const struct res *r, const char *vip,
			uint16_t vport, __u32 expect_verdict);

/* Assert that r's frame equals the frame spec `want` describes (checksum
 * fields compared only through from-scratch validity). */
void fx_assert_frame(const struct spec *want, const struct res *r, int strict_quote);

/* Assert the output frame is the input, byte for byte. */
void fx_assert_unchanged(const struct pkt *in, const struct res *r);

/* Open a flow (client -> VIP) as the data path must, and return its
 * backend: the first packet is forwarded to the predicted one. */
__u32 fx_open_flow(const struct spec *fwd, const char *svc);

/*
 * For suites whose tests change services and backends in the maps:
 * fx_setup_saved() is fx_setup() that also keeps every service's and
 * backend's entry as the config made them; fx_restore_saved() writes them
 * back and empties the tables (fx_flush_conns): each test starts from the
 * config as applied.
 */
int fx_setup_saved(void **state);
int fx_restore_saved(void);

#endif
