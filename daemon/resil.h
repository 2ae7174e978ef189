/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Resilience: what turns signals into data path gates. One breaker per
 * backend (breaker.h) fed by active checks (health.h) and the data path's
 * passive signals (per-CPU counters read every tick, failures pushed on
 * the sl_events ring buffer); the service policy (max_ejection_percent,
 * panic) decides each backend's sl_backend.breaker; trial tokens, on_trip
 * resets and drain timeouts are written here. The reaper lives here too:
 * idle expiry, the pending map's connect-timeout scan, and reconciliation
 * of the live counters with the connection table.
 *
 * The module owns an epoll fd (ring buffer, its timerfds, the health
 * checks' fd) that the daemon's loop watches.
 */
#ifndef SLUICE_RESIL_H
#define SLUICE_RESIL_H

#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>
#include "breaker.h"
#include "health.h"

struct sl_config;
struct sl_dp;
struct sl_resil;

/* A breaker or health transition, for the event group and the log. */
struct sl_resil_event {
	__u64 at_ns;                /* CLOCK_MONOTONIC */
	__u32 bk_id;
	const char *service;        /* service name */
	const char *backend;        /* "198.19.0.11:80", "[2001:2::11]:80" */
	const char *what;           /* "breaker" or "health" */
	const char *from, *to;      /* state names (sl_brk_state_name / sl_health_state_name) */
	const char *signal;         /* sl_brk_signal_name(), "manual", "policy", "" */
	const char *reason;         /* human text: which signal, which threshold */
	__u8 enforced;              /* the data path now does what "to" says */
};

typedef void (*sl_resil_event_fn)(void *ctx, const struct sl_resil_event *e);

/* What `sluice backend show` and metrics need of one backend. */
struct sl_resil_bk {
	__u32 bk_id;
	__u8  state;                /* enum sl_brk_state (reported) */
	__u8  mode;                 /* enum sl_brk_mode */
	__u8  dp;                   /* enum sl_breaker written into the data path */
	__u8  capped;               /* would be ejected; max_ejection_percent keeps it serving */
	__u8  panic;                /* its value was decided by the service's panic setting */
	__u8  health;               /* enum sl_health_state (UNKNOWN without a check) */
	__u8  check_type;           /* enum sl_check_type */
	__u8  reset;                /* SL_BK_F_RESET set: established flows are being reset */
	char  reason[SL_BRK_REASON_MAX];   /* the last breaker transition's */
	char  check_detail[128];    /* the last check result's */
	__u64 state_since_ns;       /* CLOCK_MONOTONIC of the last transition, 0: none */
	__u64 trips;
	__s32 active, pending, trial_tokens;   /* sl_bk_live now */
	/* passive signals, totals since the daemon started watching this id */
	__u64 refused, timeouts, icmp, resets, handshakes;
	__u64 hs_hist[SL_HS_BUCKETS];
	__u64 reconciled;           /* units the reconciler gave back or took */
};

struct sl_resil_opts {
	__u32 tick_ms, reconcile_ms, pending_scan_ms, closing_timeout_s;
};

int  sl_resil_open(struct sl_resil **out, struct sl_dp *dp, sl_resil_event_fn ev, void *ev_ctx,
		   char *err, size_t errlen);
void sl_resil_close(struct sl_resil *r);
int  sl_resil_fd(const struct sl_resil *r);
void sl_resil_dispatch(struct sl_resil *r);

/* After every sl_dp_apply(): breakers and checks for new backends, new
 * settings for changed ones (a breaker keeps its state), removed ones
 * forgotten; writes the gates again. */
void sl_resil_config(struct sl_resil *r, const struct sl_config *cfg);

/* Manual control (`sluice breaker open|close|auto|drain|metrics-only`).
 * 0, -ENOENT (no such backend id) or -EINVAL; err says why. */
int  sl_resil_set_mode(struct sl_resil *r, __u32 bk_id, enum sl_brk_mode m, char *err, size_t errlen);

/* The health checks' module (for sl_health_info()). */
struct sl_health *sl_resil_health(struct sl_resil *r);

/* 0 or -ENOENT. */
int  sl_resil_backend(struct sl_resil *r, __u32 bk_id, struct sl_resil_bk *out);

#endif
