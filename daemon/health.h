/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Active health checks: TCP connect and HTTP(S) GET with an expected
 * status range, one check per backend, run from the gateway straight to
 * the backend's address with libcurl's multi interface. The module owns
 * an epoll fd (curl's sockets and one timerfd) that the daemon's loop
 * watches; sl_health_dispatch() runs whatever is due.
 *
 * Each check runs every interval_ms (+ jitter) with timeout_ms; rise
 * consecutive successes make a backend UP, fall consecutive failures make
 * it DOWN (a backend starts UNKNOWN; the first rise/fall decides). Every
 * result goes to the callback; every timeout is also logged with service,
 * backend, check and elapsed time.
 */
#ifndef SLUICE_HEALTH_H
#define SLUICE_HEALTH_H

#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>
#include "config.h"

enum sl_health_state { SL_HEALTH_UNKNOWN = 0, SL_HEALTH_UP, SL_HEALTH_DOWN };

#define SL_HEALTH_LAT_BUCKETS 16     /* check latency: bucket i < 2^i ms (last: the rest) */

struct sl_health_result {
	__u32 bk_id;
	__u8  ok;                   /* the check passed */
	__u8  timed_out;            /* failed by timeout_ms */
	__u8  state_before, state_after; /* enum sl_health_state around this result */
	__u64 at_ns;                /* CLOCK_MONOTONIC when it completed */
	__u64 elapsed_us;           /* start of the attempt to its end */
	int   status;               /* HTTP status; 0 for TCP or no answer */
	char  detail[128];          /* "ok", "status 503", "connection refused",
	                               "timeout after 150 ms", ... */
};

typedef void (*sl_health_cb)(void *ctx, const struct sl_health_result *r);

struct sl_health_info {
	__u8  type;                 /* enum sl_check_type */
	__u8  state;                /* enum sl_health_state */
	__u32 consecutive_ok, consecutive_fail;
	__u64 checks, failures, timeouts;
	__u64 last_at_ns, last_elapsed_us;
	int   last_status;
	char  last_detail[128];
	__u64 lat_hist[SL_HEALTH_LAT_BUCKETS]; /* completed checks by latency */
	__u64 lat_sum_us;
};

struct sl_health;

/* 0, or negative errno with the reason in err. */
int  sl_health_open(struct sl_health **out, sl_health_cb cb, void *ctx, char *err, size_t errlen);
void sl_health_close(struct sl_health *h);

/* The fd to watch for EPOLLIN, and what to call when it is readable.
 * Results are called back from sl_health_dispatch() only; the callback may
 * call sl_health_set/remove (any id, its own too) but not sl_health_close. */
int  sl_health_fd(const struct sl_health *h);
void sl_health_dispatch(struct sl_health *h);

/*
 * At most n checks in flight (each holds a socket); one due while n run
 * waits for a completion. Default: half of RLIMIT_NOFILE's soft limit when
 * the module was opened, at least 16, at most 65536. 0 counts as 1.
 */
void sl_health_set_max_running(struct sl_health *h, unsigned n);
unsigned sl_health_running(const struct sl_health *h);   /* checks in flight now */

/*
 * Give backend bk_id (address and port in addr) the check c, or replace
 * its check. An identical check (same address and settings) keeps its
 * state and schedule; a changed one starts over UNKNOWN. c->type NONE
 * removes the check. svc and name are for logs ("web", "198.19.0.11:80").
 * The first run is scheduled within one interval (randomised by jitter),
 * not all backends at once. 0 or negative errno.
 */
int  sl_health_set(struct sl_health *h, __u32 bk_id, const struct sl_l4addr *addr,
		   const struct sl_cfg_check *c, const char *svc, const char *name);
void sl_health_remove(struct sl_health *h, __u32 bk_id);

/* SL_HEALTH_UNKNOWN also for a backend without a check. */
enum sl_health_state sl_health_state(const struct sl_health *h, __u32 bk_id);
/* 0, or -ENOENT when bk_id has no check. */
int  sl_health_info(const struct sl_health *h, __u32 bk_id, struct sl_health_info *out);

const char *sl_health_state_name(enum sl_health_state s);  /* "unknown", "up", "down" */
const char *sl_check_type_name(enum sl_check_type t);       /* "none", "tcp", "http", "https" */

#endif
