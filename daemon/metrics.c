// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * /metrics over libmicrohttpd in external-epoll mode: no threads, the
 * daemon's loop calls in. A scrape takes one snapshot (per-CPU arrays read
 * in batches, the resilience module's and the health checks' views per
 * backend) and renders the page into one buffer that libmicrohttpd sends
 * as the socket takes it. Label values are bounded: service names,
 * backend ADDR:PORT, reasons, verdicts, states, results; never a client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <microhttpd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sluice/reasons.h>
#include "sluice.skel.h"
#include "metrics.h"
#include "config.h"
#include "dataplane.h"
#include "resil.h"
#include "health.h"
#include "breaker.h"
#include "log.h"

#define METRICS_CONN_LIMIT   32
#define METRICS_CONN_TIMEOUT 10         /* s, idle keep-alive included */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sl_metrics {
	struct sl_metrics_src src;
	struct MHD_Daemon *d;
	int lfd, epfd, tfd, mhd_epfd;
	char addr[SL_LISTEN_MAX];
};

/* ---- output buffer ------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static int grow(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void put(struct buf *b, const char *s, size_t n)
{
	if (grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_u64(struct buf *b, __u64 v)
{
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, t + i, sizeof(t) - i);
}

/* microseconds as seconds, exactly: "1.000250" */
static void put_us_as_s(struct buf *b, __u64 us)
{
	char t[8];

	put_u64(b, us / 1000000);
	snprintf(t, sizeof(t), ".%06u", (unsigned)(us % 1000000));
	put(b, t, 7);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void put_lv(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			put(b, "\\", 1);
		if (*s == '\n')
			put(b, "\\n", 2);
		else
			put(b, s, 1);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	puts_(b, "# HELP ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, help);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	put(b, " ", 1);
	puts_(b, type);
	put(b, "\n", 1);
}

/* name{labels[,extra]} value: one bounds check, then plain copies */
static void sample(struct buf *b, const char *name, const char *suffix, const char *lab, size_t lablen,
		   const char *extra, __u64 v)
{
	size_t nl = strlen(name), sl = suffix ? strlen(suffix) : 0, el = extra ? strlen(extra) : 0;
	char *p;
	char t[24];
	int i = sizeof(t);

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (grow(b, nl + sl + lablen + el + (sizeof(t) - i) + 5))
		return;
	p = b->p + b->len;
	memcpy(p, name, nl);
	p += nl;
	if (sl) {               /* suffix may be NULL: memcpy(p, NULL, 0) is undefined */
		memcpy(p, suffix, sl);
		p += sl;
	}
	*p++ = '{';
	memcpy(p, lab, lablen);
	p += lablen;
	if (el) {
		*p++ = ',';
		memcpy(p, extra, el);
		p += el;
	}
	*p++ = '}';
	*p++ = ' ';
	memcpy(p, t + i, sizeof(t) - i);
	p += sizeof(t) - i;
	*p++ = '\n';
	b->len = (size_t)(p - b->p);
}

/* ---- snapshot ------------------------------------------------------------ */

struct mbk {
	size_t lab, lablen;             /* service="..",backend=".." in the label arena */
	const struct sl_cfg_backend *cb;
	unsigned svc;                   /* index of its service */
	__u32 id;                       /* 0: not in the data path (yet) */
	__u64 packets, bytes, new_flows;
	__u64 refused, timeouts, icmp, resets, reconciled, trips, redispatches, late, slow;
	__s32 active, pending;
	__u8 has_rb, state, health, check_type, panic;
	__u8 has_hi;
	__u64 hs_hist[SL_HS_BUCKETS];
	__u64 checks, failures, ctimeouts, lat_sum_us;
	__u64 lat_hist[SL_HEALTH_LAT_BUCKETS];
};

struct msvc {
	size_t lab, lablen;             /* service=".." */
	const struct sl_cfg_service *cs;
	int id;                         /* -1: not in the data path */
	__u64 packets, bytes, new_flows;
	__s32 active;
	__u8 panic;
	unsigned first, n;              /* its backends in the mbk array */
};

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }


/* Sum nwords u64 counters of entry k over the CPUs. */
static void sum_cpus(const struct sl_dp *dp, const char *vals, size_t vsz, __u32 k, __u64 *sum, unsigned nwords)
{
	size_t one = round8(vsz);
	int cpu;
	unsigned w;

	memset(sum, 0, nwords * sizeof(*sum));
	for (cpu = 0; cpu < dp->nr_cpus; cpu++) {
		const __u64 *v = (const __u64 *)(vals + ((size_t)k * dp->nr_cpus + cpu) * one);

		for (w = 0; w < nwords; w++)
			sum[w] += v[w];
	}
}

/* Read a per-CPU array's entries 0..n-1 (NULL and n = 0 when unreadable). */
static char *read_array(struct sl_dp *dp, struct bpf_map *map, __u32 n, size_t vsz)
{
	char *vals;
	int rc;

	if (!dp || !n || dp->nr_cpus <= 0)
		return NULL;
	vals = malloc((size_t)n * dp->nr_cpus * round8(vsz));
	if (!vals)
		return NULL;
	rc = sl_dp_read_percpu(dp, bpf_map__fd(map), 0, n, vsz, vals);
	if (rc) {
		sl_log(LOG_WARNING, "metrics: reading %s: %s", bpf_map__name(map), strerror(-rc));
		free(vals);
		return NULL;
	}
	return vals;
}

/* ---- rendering ---------------------------------------------------------- */

#define V_PASS "pass"
#define V_DROP "drop"
#define R_NAME(e, v, n, d) n,
#define R_VERDICT(e, v, n, d) V_##v,
static const char *const reason_names[SL_R_MAX] = { SL_REASONS(R_NAME) };
static const char *const reason_verdicts[SL_R_MAX] = { SL_REASONS(R_VERDICT) };

/* le="SECONDS" for a bound in microseconds, without trailing zeros */
static void le_us(char *buf, size_t len, __u64 us)
{
	char frac[8];
	int n = 6;

	snprintf(frac, sizeof(frac), "%06u", (unsigned)(us % 1000000));
	while (n && frac[n - 1] == '0')
		frac[--n] = 0;
	snprintf(buf, len, "le=\"%llu%s%s\"", (unsigned long long)(us / 1000000), n ? "." : "", frac);
}

static void hist(struct buf *b, const char *name, const char *lab, size_t lablen,
		 const __u64 *cnt, unsigned nb, char les[][32], const char *sum_s, size_t sum_len)
{
	__u64 cum = 0;
	unsigned i;

	for (i = 0; i + 1 < nb; i++) {
		cum += cnt[i];
		sample(b, name, "_bucket", lab, lablen, les[i], cum);
	}
	cum += cnt[nb - 1];
	sample(b, name, "_bucket", lab, lablen, "le=\"+Inf\"", cum);
	puts_(b, name);
	puts_(b, "_sum{");
	put(b, lab, lablen);
	put(b, "} ", 2);
	put(b, sum_s, sum_len);
	put(b, "\n", 1);
	sample(b, name, "_count", lab, lablen, NULL, cum);
}

int sl_metrics_render(const struct sl_metrics_src *src, char **out, size_t *outlen)
{
	const struct sl_config *cfg = src->config(src->ctx);
	struct sl_dp *dp = src->dp ? src->dp(src->ctx) : NULL;
	struct sl_resil *rs = src->resil ? src->resil(src->ctx) : NULL;
	struct buf b = { 0 }, labs = { 0 };
	struct msvc *sv = NULL;
	struct mbk *bk = NULL;
	char *svc_vals = NULL, *bk_vals = NULL, *rs_vals = NULL;
	unsigned nsvc = cfg ? cfg->nr_services : 0, nbk = 0, i, j, k;
	__u32 max_svc = 0, max_bk = 0;
	char hs_le[SL_HS_BUCKETS][32], ck_le[SL_HEALTH_LAT_BUCKETS][32];
	int rc = -ENOMEM;

	for (i = 0; i < nsvc; i++)
		nbk += cfg->services[i].nr_backends;
	sv = calloc(nsvc ? nsvc : 1, sizeof(*sv));
	bk = calloc(nbk ? nbk : 1, sizeof(*bk));
	if (!sv || !bk)
		goto out;

	/* ids and labels first: how much of each array to read */
	for (i = 0, k = 0; i < nsvc; i++) {
		const struct sl_cfg_service *cs = &cfg->services[i];

		sv[i].cs = cs;
		sv[i].id = dp ? sl_dp_service_id(dp, &cs->vip) : -1;
		if (sv[i].id < 0)
			sv[i].id = -1;
		else if ((__u32)sv[i].id + 1 > max_svc)
			max_svc = sv[i].id + 1;
		sv[i].lab = labs.len;
		puts_(&labs, "service=\"");
		put_lv(&labs, cs->name);
		put(&labs, "\"", 1);
		sv[i].lablen = labs.len - sv[i].lab;
		sv[i].first = k;
		sv[i].n = cs->nr_backends;
		for (j = 0; j < cs->nr_backends; j++, k++) {
			char a[80];

			bk[k].cb = &cs->backends[j];
			bk[k].svc = i;
			bk[k].id = dp ? sl_dp_backend_id(dp, &cs->backends[j].addr) : 0;
			if (bk[k].id && bk[k].id + 1 > max_bk)
				max_bk = bk[k].id + 1;
			sl_l4addr_format(&cs->backends[j].addr, a, sizeof(a));
			bk[k].lab = labs.len;
			put(&labs, labs.p + sv[i].lab, sv[i].lablen);
			puts_(&labs, ",backend=\"");
			put_lv(&labs, a);
			put(&labs, "\"", 1);
			bk[k].lablen = labs.len - bk[k].lab;
		}
	}
	if (labs.oom)
		goto out;

	/* the counters: three batch reads */
	if (dp) {
		svc_vals = read_array(dp, dp->skel->maps.sl_svc_stats, max_svc, sizeof(struct sl_svc_stats));
		bk_vals = read_array(dp, dp->skel->maps.sl_bk_stats, max_bk, sizeof(struct sl_bk_stats));
		rs_vals = read_array(dp, dp->skel->maps.sl_reasons, SL_R_MAX, sizeof(__u64));
	}
	for (i = 0; i < nsvc; i++) {
		struct msvc *s = &sv[i];

		if (s->id >= 0 && svc_vals) {
			__u64 v[sizeof(struct sl_svc_stats) / 8];

			sum_cpus(dp, svc_vals, sizeof(struct sl_svc_stats), s->id, v, sizeof(v) / 8);
			s->packets = v[offsetof(struct sl_svc_stats, packets) / 8];
			s->bytes = v[offsetof(struct sl_svc_stats, bytes) / 8];
			s->new_flows = v[offsetof(struct sl_svc_stats, new_flows) / 8];
		}
		if (s->id >= 0 && dp && dp->svc_live)
			s->active = __atomic_load_n(&dp->svc_live[s->id].active, __ATOMIC_RELAXED);
	}
	for (k = 0; k < nbk; k++) {
		struct mbk *m = &bk[k];
		__u64 v[offsetof(struct sl_bk_stats, hs_hist) / 8];
		struct sl_resil_bk rb;
		struct sl_health_info hi;

		if (!m->id)
			continue;
		if (bk_vals) {
			sum_cpus(dp, bk_vals, sizeof(struct sl_bk_stats), m->id, v, sizeof(v) / 8);
#define BK(f) v[offsetof(struct sl_bk_stats, f) / 8]
			m->packets = BK(packets);
			m->bytes = BK(bytes);
			m->new_flows = BK(new_flows);
			m->refused = BK(conn_refused);
			m->timeouts = BK(conn_timeout);
			m->icmp = BK(icmp_unreach);
			m->resets = BK(resets);
			m->redispatches = BK(redispatch_refused) + BK(redispatch_timeout);
			m->late = BK(redispatch_late);
			m->slow = BK(slow_calls);
#undef BK
		}
		if (dp->bk_live) {
			m->active = __atomic_load_n(&dp->bk_live[m->id].active, __ATOMIC_RELAXED);
			m->pending = __atomic_load_n(&dp->bk_live[m->id].pending, __ATOMIC_RELAXED);
		}
		if (rs && !sl_resil_backend(rs, m->id, &rb)) {
			m->has_rb = 1;
			m->state = rb.state;
			m->health = rb.health;
			m->check_type = rb.check_type;
			m->panic = rb.panic;
			m->trips = rb.trips;
			/* the resilience module's totals: connect timeouts
			 * include those its pending scan claimed */
			m->refused = rb.refused;
			m->timeouts = rb.timeouts;
			m->icmp = rb.icmp;
			m->resets = rb.resets;
			m->reconciled = rb.reconciled;
			memcpy(m->hs_hist, rb.hs_hist, sizeof(m->hs_hist));
			if (rb.panic)
				sv[m->svc].panic = 1;
		}
		if (src->health_info && !src->health_info(src->ctx, m->id, &hi)) {
			m->has_hi = 1;
			m->checks = hi.checks;
			m->failures = hi.failures;
			m->ctimeouts = hi.timeouts;
			m->lat_sum_us = hi.lat_sum_us;
			memcpy(m->lat_hist, hi.lat_hist, sizeof(m->lat_hist));
		}
	}

	for (i = 0; i + 1 < SL_HS_BUCKETS; i++)
		le_us(hs_le[i], sizeof(hs_le[i]), 2ull << i);
	for (i = 0; i + 1 < SL_HEALTH_LAT_BUCKETS; i++)
		le_us(ck_le[i], sizeof(ck_le[i]), 1000ull << i);

	/* ---- the page ---- (about 3 KB a backend: one allocation) */
	b.cap = (size_t)nbk * 50 * (56 + bk[0].lablen) + (size_t)nsvc * 1024 + 65536;
	b.p = malloc(b.cap);
	if (!b.p)
		goto out;
#define L(x) (labs.p + (x)->lab), (x)->lablen
	family(&b, "sluice_build_info", "gauge", "sluiced's version (always 1).");
	puts_(&b, "sluice_build_info{version=\"");
	put_lv(&b, src->version ? src->version : "");
	puts_(&b, "\"} 1\n");

#define SVC_FAMILY(name, type, help, expr) do {                                 \
		family(&b, name, type, help);                                   \
		for (i = 0; i < nsvc; i++) {                                    \
			const struct msvc *s = &sv[i];                          \
			sample(&b, name, NULL, L(s), NULL, (expr));             \
		}                                                               \
	} while (0)
	SVC_FAMILY("sluice_service_packets_total", "counter",
		   "Packets of the service's flows forwarded by the data path, both directions.", s->packets);
	SVC_FAMILY("sluice_service_bytes_total", "counter",
		   "Bytes of the service's flows forwarded by the data path, both directions.", s->bytes);
	SVC_FAMILY("sluice_service_new_flows_total", "counter",
		   "New flows admitted to one of the service's backends.", s->new_flows);
	SVC_FAMILY("sluice_service_active_connections", "gauge",
		   "Flows counted against the service's max_conns now (established and pending).",
		   (__u64)(s->active > 0 ? s->active : 0));
	SVC_FAMILY("sluice_service_max_connections", "gauge",
		   "The service's max_conns (0: unlimited).", (__u64)s->cs->max_conns);
	SVC_FAMILY("sluice_service_panic", "gauge",
		   "1 while the service's panic setting decides its backends' gates (every backend unhealthy).",
		   (__u64)s->panic);

#define BK_FAMILY(name, type, help, cond, expr) do {                            \
		family(&b, name, type, help);                                   \
		for (k = 0; k < nbk; k++) {                                     \
			const struct mbk *m = &bk[k];                           \
			if (cond)                                               \
				sample(&b, name, NULL, L(m), NULL, (expr));     \
		}                                                               \
	} while (0)
	BK_FAMILY("sluice_backend_packets_total", "counter",
		  "Packets of the backend's flows forwarded by the data path, both directions.", 1, m->packets);
	BK_FAMILY("sluice_backend_bytes_total", "counter",
		  "Bytes of the backend's flows forwarded by the data path, both directions.", 1, m->bytes);
	BK_FAMILY("sluice_backend_new_flows_total", "counter",
		  "New flows admitted to the backend.", 1, m->new_flows);
	BK_FAMILY("sluice_backend_active_connections", "gauge",
		  "Flows counted against the backend's max_conns now (established and pending).", 1,
		  (__u64)(m->active > 0 ? m->active : 0));
	BK_FAMILY("sluice_backend_pending_connections", "gauge",
		  "Flows whose SYN went to the backend without a SYN-ACK yet.", 1,
		  (__u64)(m->pending > 0 ? m->pending : 0));
	BK_FAMILY("sluice_backend_max_connections", "gauge",
		  "The backend's max_conns (0: unlimited).", 1, (__u64)m->cb->max_conns);
	BK_FAMILY("sluice_backend_max_pending", "gauge",
		  "The backend's max_pending (0: unlimited).", 1, (__u64)m->cb->max_pending);
	BK_FAMILY("sluice_backend_weight", "gauge", "The backend's weight.", 1, (__u64)m->cb->weight);

	family(&b, "sluice_backend_breaker_state", "gauge",
	       "The backend's breaker state: 1 for the state it is in, 0 for the others.");
	for (k = 0; k < nbk; k++) {
		const struct mbk *m = &bk[k];
		unsigned st;

		if (!m->has_rb)
			continue;
		for (st = 0; st < SL_BRKS_MAX; st++) {
			char extra[48];

			snprintf(extra, sizeof(extra), "state=\"%s\"", sl_brk_state_name(st));
			sample(&b, "sluice_backend_breaker_state", NULL, L(m), extra, m->state == st);
		}
	}
	BK_FAMILY("sluice_backend_breaker_trips_total", "counter",
		  "Times the backend's breaker tripped to open.", m->has_rb, m->trips);

	family(&b, "sluice_backend_health_state", "gauge",
	       "The active check's verdict on a backend that has one: 1 for unknown, up or down, 0 for the others.");
	for (k = 0; k < nbk; k++) {
		const struct mbk *m = &bk[k];
		unsigned st;

		if (!m->has_rb || m->check_type == SL_CHECK_NONE)
			continue;
		for (st = SL_HEALTH_UNKNOWN; st <= SL_HEALTH_DOWN; st++) {
			char extra[32];

			snprintf(extra, sizeof(extra), "state=\"%s\"", sl_health_state_name(st));
			sample(&b, "sluice_backend_health_state", NULL, L(m), extra, m->health == st);
		}
	}

	family(&b, "sluice_backend_check_duration_seconds", "histogram",
	       "Duration of completed active checks (each bucket's upper bound is exclusive).");
	for (k = 0; k < nbk; k++) {
		const struct mbk *m = &bk[k];
		struct buf s = { 0 };

		if (!m->has_hi)
			continue;
		put_us_as_s(&s, m->lat_sum_us);
		if (!s.oom)
			hist(&b, "sluice_backend_check_duration_seconds", L(m), m->lat_hist,
			     SL_HEALTH_LAT_BUCKETS, ck_le, s.p, s.len);
		free(s.p);
	}
	family(&b, "sluice_backend_checks_total", "counter",
	       "Completed active checks by result: ok, failed (refused, bad status, ...) or timeout.");
	for (k = 0; k < nbk; k++) {
		const struct mbk *m = &bk[k];

		if (!m->has_hi)
			continue;
		sample(&b, "sluice_backend_checks_total", NULL, L(m), "result=\"ok\"", m->checks - m->failures);
		sample(&b, "sluice_backend_checks_total", NULL, L(m), "result=\"failed\"", m->failures - m->ctimeouts);
		sample(&b, "sluice_backend_checks_total", NULL, L(m), "result=\"timeout\"", m->ctimeouts);
	}

	family(&b, "sluice_backend_handshake_seconds", "histogram",
	       "SYN to SYN-ACK time of flows to the backend (bucket upper bounds exclusive; "
	       "_sum is a lower bound: each handshake counted at its bucket's lower edge).");
	for (k = 0; k < nbk; k++) {
		const struct mbk *m = &bk[k];
		struct buf s = { 0 };
		__u64 lo = 0;

		if (!m->has_rb)
			continue;
		for (i = 1; i < SL_HS_BUCKETS; i++)
			lo += m->hs_hist[i] << i;       /* bucket i starts at 2^i us; bucket 0 at 0 */
		put_us_as_s(&s, lo);
		if (!s.oom)
			hist(&b, "sluice_backend_handshake_seconds", L(m), m->hs_hist, SL_HS_BUCKETS,
			     hs_le, s.p, s.len);
		free(s.p);
	}
	BK_FAMILY("sluice_backend_connect_timeouts_total", "counter",
		  "Connects to the backend that got no SYN-ACK within the service's connect_timeout_ms.",
		  1, m->timeouts);
	BK_FAMILY("sluice_backend_connects_refused_total", "counter",
		  "Connects the backend answered with an RST.", 1, m->refused);
	BK_FAMILY("sluice_backend_resets_total", "counter",
		  "RSTs from the backend on established flows.", 1, m->resets);
	BK_FAMILY("sluice_backend_icmp_unreachable_total", "counter",
		  "ICMP unreachable errors from or about the backend.", 1, m->icmp);
	BK_FAMILY("sluice_backend_reconciled_total", "counter",
		  "Connection-count units the reconciler gave back or took for the backend (evicted flows).",
		  m->has_rb, m->reconciled);
	BK_FAMILY("sluice_backend_redispatches_total", "counter",
		  "Pending flows moved from this backend to another one, their SYN sent again "
		  "(the backend refused, or stayed silent past connect_timeout).", 1, m->redispatches);
	BK_FAMILY("sluice_backend_redispatch_late_total", "counter",
		  "Late answers from this backend to flows that had moved: dropped, or answered with an RST.",
		  1, m->late);
	BK_FAMILY("sluice_backend_slow_calls_total", "counter",
		  "Handshakes longer than the service's slow_call_ms.", 1, m->slow);

	family(&b, "sluice_packets_by_reason_total", "counter",
	       "Packets the data path did not forward itself, by reason; verdict: dropped or passed to the kernel.");
	for (i = 0; i < SL_R_MAX; i++) {
		__u64 n = 0;

		if (rs_vals)
			sum_cpus(dp, rs_vals, sizeof(__u64), i, &n, 1);
		puts_(&b, "sluice_packets_by_reason_total{reason=\"");
		puts_(&b, reason_names[i]);
		puts_(&b, "\",verdict=\"");
		puts_(&b, reason_verdicts[i]);
		puts_(&b, "\"} ");
		put_u64(&b, n);
		put(&b, "\n", 1);
	}
#undef L
	if (b.oom)
		goto out;
	*out = b.p;
	*outlen = b.len;
	b.p = NULL;
	rc = 0;
out:
	free(b.p);
	free(labs.p);
	free(sv);
	free(bk);
	free(svc_vals);
	free(bk_vals);
	free(rs_vals);
	return rc;
}

/* ---- HTTP ----------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct sl_metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *page;
	size_t len;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n");
	if (*upload_size)
		return reply(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
	if (!strcmp(url, "/"))
		return reply(c, MHD_HTTP_OK, "sluiced: metrics at /metrics\n");
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: metrics at /metrics\n");
	if (sl_metrics_render(&m->src, &page, &len))
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	r = MHD_create_response_from_buffer_with_free_callback(len, page, free);
	if (!r) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	sl_log(LOG_WARNING, "metrics: %s", msg);
}

/* Arm the timerfd for libmicrohttpd's next timeout (idle connections,
 * work it has left for the next round). */
static void rearm(struct sl_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG to;
	struct itimerspec its = { 0 };

	if (MHD_get_timeout(m->d, &to) == MHD_YES) {
		its.it_value.tv_sec = to / 1000;
		its.it_value.tv_nsec = (long)(to % 1000) * 1000000;
		if (!to)
			its.it_value.tv_nsec = 1;   /* now: 0 would disarm */
	}
	timerfd_settime(m->tfd, 0, &its, NULL);
}

void sl_metrics_dispatch(struct sl_metrics *m)
{
	struct epoll_event evs[2];
	__u64 exp;
	int n, i;

	n = epoll_wait(m->epfd, evs, 2, 0);
	for (i = 0; i < n; i++)
		if (evs[i].data.fd == m->tfd && read(m->tfd, &exp, sizeof(exp)) != sizeof(exp))
			continue;       /* EAGAIN: already read */
	MHD_run(m->d);
	rearm(m);
}

int sl_metrics_fd(const struct sl_metrics *m)
{
	return m->epfd;
}

const char *sl_metrics_addr(const struct sl_metrics *m)
{
	return m->addr;
}

static int errf(char *err, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc;
}

int sl_metrics_open(struct sl_metrics **out, const struct sl_l4addr *addr,
		    const struct sl_metrics_src *src, char *err, size_t errlen)
{
	struct sl_metrics *m = calloc(1, sizeof(*m));
	const union MHD_DaemonInfo *di;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int one = 1, rc;
	struct epoll_event ev = { .events = EPOLLIN };

	if (!m)
		return errf(err, errlen, -ENOMEM, "metrics: out of memory");
	m->src = *src;
	m->lfd = m->epfd = m->tfd = -1;
	sl_l4addr_format(addr, m->addr, sizeof(m->addr));
	sl = sl_l4addr_sockaddr(addr, addr->port, &ss);
	if (!sl) {
		free(m);
		return errf(err, errlen, -EINVAL, "metrics: no address to listen on");
	}
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0)
		goto sys;
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(m->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&ss, sl) || listen(m->lfd, 64))
		goto sys;
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
				0, NULL, NULL, handle, m,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
				MHD_OPTION_LISTEN_SOCKET, m->lfd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT,
				MHD_OPTION_END);
	if (!m->d) {
		rc = errf(err, errlen, -EIO, "metrics: libmicrohttpd did not start on %s", m->addr);
		goto fail;
	}
	m->lfd = -1;            /* MHD_stop_daemon() closes it */
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	m->mhd_epfd = di ? di->epoll_fd : -1;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->mhd_epfd < 0 || m->epfd < 0 || m->tfd < 0)
		goto sys;
	ev.data.fd = m->mhd_epfd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->mhd_epfd, &ev))
		goto sys;
	ev.data.fd = m->tfd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->tfd, &ev))
		goto sys;
	rearm(m);
	*out = m;
	return 0;
sys:
	rc = errf(err, errlen, -errno, "metrics: cannot listen on %s: %s", m->addr, strerror(errno));
fail:
	sl_metrics_close(m);
	return rc;
}

void sl_metrics_close(struct sl_metrics *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->tfd >= 0)
		close(m->tfd);
	free(m);
}
