/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * /metrics: the Prometheus text exposition (format 0.0.4) over HTTP,
 * served by libmicrohttpd without threads. The module owns an epoll fd
 * (libmicrohttpd's epoll fd and a timerfd for its timeouts) that the
 * daemon's loop watches; sl_metrics_dispatch() does whatever is due. A
 * scrape reads every counter when it arrives (per-CPU values summed, in
 * batches) and renders the whole page at once: one consistent snapshot.
 * The metrics are listed in sluiced(8), METRICS.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>

struct sl_config;
struct sl_dp;
struct sl_resil;
struct sl_health_info;
struct sl_metrics;

/* What a scrape reads, asked at each scrape (the config changes on reload). */
struct sl_metrics_src {
	const char *version;                            /* sluice_build_info{version} */
	const struct sl_config *(*config)(void *ctx);
	struct sl_dp *(*dp)(void *ctx);                 /* may return NULL */
	struct sl_resil *(*resil)(void *ctx);           /* may be NULL or return NULL */
	/* A backend's active check counters (0, or -ENOENT without a
	 * check). NULL: sluice_backend_check_duration_seconds and
	 * sluice_backend_checks_total have no samples. */
	int (*health_info)(void *ctx, __u32 bk_id, struct sl_health_info *out);
	void *ctx;
};

/* Listen on addr (TCP, IPv4 or IPv6) and serve. src is copied. 0, or
 * negative errno with the reason in err. */
int  sl_metrics_open(struct sl_metrics **out, const struct sl_l4addr *addr,
		     const struct sl_metrics_src *src, char *err, size_t errlen);
void sl_metrics_close(struct sl_metrics *m);

/* Watch for EPOLLIN; call sl_metrics_dispatch() when readable. */
int  sl_metrics_fd(const struct sl_metrics *m);
void sl_metrics_dispatch(struct sl_metrics *m);

/* The address it listens on ("127.0.0.1:9469", "[2001:2::1]:9469"). */
const char *sl_metrics_addr(const struct sl_metrics *m);

/* Render the page as a scrape would: *out is malloc'd (caller frees),
 * *len its length. 0 or -ENOMEM. */
int  sl_metrics_render(const struct sl_metrics_src *src, char **out, size_t *len);

#endif
