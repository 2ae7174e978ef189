/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Operator views built from several replies at once: the per-service
 * backend table of `backend list` / `backend show` (ipvsadm -L -n --stats)
 * and the rates of `stats -w` (ipvsadm -L -n --rate), computed from two
 * successive reads of the counters the daemon returns. Only the CLI's own
 * requests (SERVICE_GET, BACKEND_GET, STATS_GET) are used: no protocol
 * change.
 */
#ifndef SLUICE_CLI_VIEW_H
#define SLUICE_CLI_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ipc.h"

#define SNAP_NAME 32
#define SNAP_ADDR 48
#define SNAP_TEXT 160
#define SNAP_COUNTERS 16

struct snap_svc {
	char name[SNAP_NAME], vip[SNAP_ADDR], proto[8], sched[8];
	unsigned port;
	uint64_t active, pending;       /* pending: the sum over its backends */
	bool has_active, has_stats;
	uint64_t packets, bytes, new_flows;
};

struct snap_bk {
	char service[SNAP_NAME], addr[SNAP_ADDR], state[16];
	unsigned port;
	uint32_t id, weight, max_conns, max_pending;
	bool has_id, has_live, has_breaker, has_stats, has_age, capped, panic;
	uint64_t active, pending;
	/* the resilience module's view (has_breaker) */
	char breaker[16], mode[16], gate[16], health[12], check[8];
	char reason[SNAP_TEXT], detail[SNAP_TEXT];
	uint64_t trips, trial_tokens, age_ms;
	/* counters (has_stats) */
	uint64_t packets, bytes, new_flows, conn_refused, conn_timeout, resets;
	unsigned nr_counters;
	struct { char name[SNAP_NAME]; uint64_t count; } counters[SNAP_COUNTERS];
};

struct snap_reason {
	char name[SNAP_NAME];
	uint64_t count;
};

struct snap {
	struct snap_svc *svc;
	size_t nsvc, capsvc;
	struct snap_bk *bk;
	size_t nbk, capbk;
	struct snap_reason *rs;
	size_t nrs, caprs;
	bool has_totals;
	uint64_t packets, bytes, new_flows, nr_services;
	struct timespec mono;           /* when it was read (CLOCK_MONOTONIC) */
	struct timespec real;
};

void snap_free(struct snap *s);
/* Fill s from the daemon: services (one, or all when service is NULL,
 * with counters), then the backends of the request the caller built in
 * ipc (BACKEND_GET) when want_backends. IPC_* codes. */
int snap_services(struct ipc *ipc, struct snap *s, const char *service);
int snap_backends(struct ipc *ipc, struct snap *s);
int snap_stats(struct ipc *ipc, struct snap *s);

/* The backend table in text, one block per service; details: a backend's
 * limits, breaker, health and counters under its row (backend show). */
void view_backend_table(const struct snap *s, bool details, bool counters);

/*
 * sluice stats -w: every interval_ms, the rates since the last read,
 * count intervals (0: until SIGINT/SIGTERM, which exit 0). reopen() finds
 * the daemon again after a failure (it may have restarted). Returns the
 * exit code.
 */
int view_watch(struct ipc **ipc, struct ipc *(*reopen)(void), unsigned interval_ms,
	       unsigned long count, bool json, bool pretty);

#endif
