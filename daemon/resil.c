// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Resilience: breakers fed by checks and passive signals, the service
 * policy that turns them into data path gates, and the reaper (idle
 * expiry, connect-timeout scan, counter reconciliation). See resil.h and
 * docs/decisions.md ("Resilience in the daemon").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice.skel.h"
#include "resil.h"
#include "config.h"
#include "dataplane.h"
#include "log.h"

#define NS_PER_MS 1000000ull
#define SUCCESS_FEED_MAX 100000     /* passive successes fed per backend per tick */
#define SCAN_CHUNK 256
#define WALK_CHUNK 4096

struct rsvc {
	bool used;
	char name[SL_NAME_MAX];
	__u8 on_trip, panic, max_ej, proto;
	__u8 in_panic;              /* 0, or 1 + enum sl_brk_panic */
	__u32 drain_timeout_ms, connect_timeout_ms, idle_timeout_s;
	__u8 redispatch_max;
	__u32 *bks;                 /* member backend ids */
	unsigned n, cap;
};

struct rbk {
	__u32 id, svc_id;
	char name[64];
	struct sl_brk brk;
	struct sl_brk_cfg cfg;
	__u8 dp, reset, capped, panic, check_type, health;
	__u64 since_ns;
	__u64 drain_until_ns;       /* DRAINING with drain_timeout: when the rest is reset; 0: never */
	__u64 hs_fed;               /* handshakes already fed as successes */
	__u64 calls_fed, slow_fed;  /* handshakes and slow calls fed to the slow-call rule */
	__u64 timeouts_scan;        /* connect timeouts the pending scan claimed */
	__u64 hs_hist[SL_HS_BUCKETS];
	__u32 *hist_prev;           /* per CPU x SL_HS_BUCKETS, last values read */
	struct sl_bk_stats sum;     /* per-CPU sums, last read */
	__u64 reconciled;
};

struct sl_resil {
	struct sl_dp *dp;
	sl_resil_event_fn ev;
	void *ev_ctx;
	int epfd, tick_fd, scan_fd, rec_fd;
	struct ring_buffer *ring;
	struct sl_health *health;
	struct sl_resil_opts o;
	__u64 start_ns;             /* flows idle before this get a full idle period (restart grace) */
	__u64 rnd;
	struct rbk *bk[SL_MAX_BACKENDS];
	struct rsvc svc[SL_MAX_SERVICES];
	__u32 max_id;               /* highest backend id seen in the mirror */
	__u64 inject_failed;        /* rebuilt SYNs the program could not be run on */
	__u64 min_timeout_ns;       /* the shortest connect_timeout of any service */
	bool rec_careful;           /* the next reconciliation reads the stats (reconcile) */
	/* per-CPU stats read in batches */
	void *stats_buf;            /* ids 0..max_id, as sl_dp_read_percpu() lays them out */
	void *one;                  /* one id's per-CPU stats (read_one) */
	__u32 *touched;             /* the tick's list of ids whose signals moved */
	size_t stats_vsz;           /* one CPU's value, rounded to 8 */
	/* reconciliation */
	__s64 *exp_active, *exp_pend;
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static __u32 rnd32(void *ctx)
{
	__u64 *s = ctx;

	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (__u32)((*s * 0x2545f4914f6cdd1dull) >> 32);
}


static int map_fd(const struct sl_resil *r, struct bpf_map *m)
{
	(void)r;
	return bpf_map__fd(m);
}
#define FD(r, name) map_fd(r, (r)->dp->skel->maps.name)

/* ---- events ------------------------------------------------------------ */

static void emit(struct sl_resil *r, const struct rbk *b, const char *what, const char *from,
		 const char *to, const char *signal, const char *reason, int enforced)
{
	struct sl_resil_event e = {
		.at_ns = now_ns(), .bk_id = b->id, .service = r->svc[b->svc_id].name,
		.backend = b->name, .what = what, .from = from, .to = to,
		.signal = signal ? signal : "", .reason = reason ? reason : "", .enforced = enforced,
	};

	if (strcmp(what, "health"))     /* health.c logs its own transitions */
		sl_log(LOG_NOTICE, "%s %s %s: %s -> %s (%s)%s", what, e.service, b->name, from, to,
		       e.reason, enforced ? "" : " [metrics only: not enforced]");
	if (r->ev)
		r->ev(r->ev_ctx, &e);
}

static void brk_event(struct sl_resil *r, struct rbk *b, const struct sl_brk_trans *t)
{
	b->since_ns = t->at_ns;
	emit(r, b, "breaker", sl_brk_state_name(t->from), sl_brk_state_name(t->to),
	     t->signal < SL_BRK_SIG_MAX ? sl_brk_signal_name(t->signal) :
	     (!strncmp(t->reason, "manual", 6) ? "manual" : ""),
	     t->reason, t->enforced);
}

/* ---- gates ------------------------------------------------------------- */

/* The service policy over its members, written into the data path. */
static void policy(struct sl_resil *r, __u32 svc_id)
{
	struct rsvc *s = &r->svc[svc_id];
	struct sl_brk *bp[256], **brks = bp;
	struct sl_brk_verdict vb[256], *out = vb;
	struct sl_brk_svc_verdict sv;
	unsigned i, n = 0;

	if (!s->used || !s->n)
		return;
	if (s->n > 256) {
		brks = calloc(s->n, sizeof(*brks));
		out = calloc(s->n, sizeof(*out));
		if (!brks || !out)
			goto done;
	}
	for (i = 0; i < s->n; i++)
		brks[n++] = &r->bk[s->bks[i]]->brk;
	sl_brk_policy(brks, n, s->max_ej, s->panic, out, &sv);
	if (sv.panic != s->in_panic) {
		if (sv.panic)
			sl_log(LOG_WARNING, "service %s in panic: every backend is unhealthy, %s",
			       s->name, sv.panic - 1 == SL_BRK_PANIC_FAIL_OPEN ?
			       "fail_open: balancing across all of them" :
			       "fail_closed: new flows are refused");
		else
			sl_log(LOG_NOTICE, "service %s out of panic", s->name);
		s->in_panic = sv.panic;
	}
	for (i = 0; i < s->n; i++) {
		struct rbk *b = r->bk[s->bks[i]];
		enum sl_brk_state st = sl_brk_state(&b->brk);
		__u8 dp = out[i].dp;
		bool reset;

		if (b->capped != !!(out[i].flags & SL_BRK_V_CAPPED))
			sl_log(b->capped ? LOG_NOTICE : LOG_WARNING,
			       "breaker %s %s: %s", s->name, b->name, b->capped ?
			       "no longer kept serving by max_ejection_percent" :
			       "would be ejected, kept serving: max_ejection_percent reached");
		b->capped = !!(out[i].flags & SL_BRK_V_CAPPED);
		b->panic = !!(out[i].flags & SL_BRK_V_PANIC);
		reset = (dp == SL_BRK_OPEN && s->on_trip == SL_TRIP_RESET &&
			 (st == SL_BRKS_OPEN || st == SL_BRKS_FORCED_OPEN)) ||
			(dp == SL_BRK_DRAINING && b->drain_until_ns && now_ns() >= b->drain_until_ns);
		if (dp == SL_BRK_HALF_OPEN && b->dp != SL_BRK_HALF_OPEN) {
			__s32 tokens = b->brk.cfg.half_open_trials - b->brk.trials_ok;

			/* tokens before the gate: the data path must find them */
			__atomic_store_n(&r->dp->bk_live[b->id].trial_tokens, tokens, __ATOMIC_RELEASE);
		}
		if (sl_dp_set_gate(r->dp, b->id, dp, reset, b->brk.mode,
				   b->brk.mode == SL_BRKM_DRAINING ? b->drain_until_ns : 0))
			sl_log(LOG_ERR, "cannot write the gate of backend %s", b->name);
		if (dp != SL_BRK_HALF_OPEN)
			__atomic_store_n(&r->dp->bk_live[b->id].trial_tokens, 0, __ATOMIC_RELEASE);
		if (reset && !b->reset)
			sl_log(LOG_NOTICE, "backend %s %s: established flows are reset as their packets arrive (%s)",
			       s->name, b->name, dp == SL_BRK_OPEN ? "on_trip = reset" : "drain_timeout expired");
		b->dp = dp;
		b->reset = reset;
	}
done:
	if (brks != bp)
		free(brks);
	if (out != vb)
		free(out);
}

/* A transition happened (or may have): report it and redo the gates. */
static void changed(struct sl_resil *r, struct rbk *b, int rc, const struct sl_brk_trans *t)
{
	if (rc != 1)
		return;
	brk_event(r, b, t);
	policy(r, b->svc_id);
}

/* ---- passive signals ----------------------------------------------------- */

/* Read the per-CPU stats of ids 0..max_id (batch lookups). */
static int read_stats(struct sl_resil *r)
{
	return sl_dp_read_percpu(r->dp, FD(r, sl_bk_stats), 0, r->max_id + 1,
				 sizeof(struct sl_bk_stats), r->stats_buf);
}

/* One id's per-CPU stats into buf (nr_cpus values of stats_vsz). */
static int read_one(struct sl_resil *r, __u32 id, void *buf)
{
	return bpf_map_lookup_elem(FD(r, sl_bk_stats), &id, buf);
}

/* CPU cpu's values of the id-th entry of buf (a per-CPU read). */
static const struct sl_bk_stats *cpu_stats(const struct sl_resil *r, const void *buf, __u32 id, int cpu)
{
	return (const void *)((const char *)buf + ((size_t)id * r->dp->nr_cpus + cpu) * r->stats_vsz);
}

/* The 64-bit counters of entry id of buf summed over the CPUs, the
 * latest handshake the latest of any CPU (the histogram is taken apart:
 * take_hist). */
static void sum_stats(const struct sl_resil *r, const void *buf, __u32 id, struct sl_bk_stats *s)
{
	__u64 *d = (__u64 *)s;
	unsigned k, n64 = offsetof(struct sl_bk_stats, hs_hist) / 8;
	int cpu;

	memset(s, 0, sizeof(*s));
	for (cpu = 0; cpu < r->dp->nr_cpus; cpu++) {
		const struct sl_bk_stats *c = cpu_stats(r, buf, id, cpu);
		const __u64 *v = (const __u64 *)c;

		for (k = 0; k < n64; k++)
			d[k] += v[k];
		if (c->last_hs_ns > s->last_hs_ns)
			s->last_hs_ns = c->last_hs_ns;
	}
}

/* The handshake histogram: u32 per CPU in the map, differences summed here. */
static void take_hist(struct sl_resil *r, struct rbk *b, const void *buf, __u32 idx)
{
	int cpu, k;

	for (cpu = 0; cpu < r->dp->nr_cpus; cpu++) {
		const struct sl_bk_stats *c = cpu_stats(r, buf, idx, cpu);

		for (k = 0; k < SL_HS_BUCKETS; k++) {
			__u32 *prev = &b->hist_prev[cpu * SL_HS_BUCKETS + k];

			b->hs_hist[k] += (__u32)(c->hs_hist[k] - *prev);
			*prev = c->hs_hist[k];
		}
	}
}

/* Passive successes: handshakes since the last feed. In HALF_OPEN the
 * trials report themselves (SL_EV_TRIAL_OK): nothing is fed. */
static void feed_successes(struct sl_resil *r, struct rbk *b, __u64 now)
{
	struct sl_brk_trans t;
	__u64 d, i;

	if (b->sum.handshakes <= b->hs_fed) {
		b->hs_fed = b->sum.handshakes;
		return;
	}
	d = b->sum.handshakes - b->hs_fed;
	b->hs_fed = b->sum.handshakes;
	/* trials report themselves (SL_EV_TRIAL_OK) only while the gate is
	 * HALF_OPEN; a half-open breaker kept serving (max_ejection_percent,
	 * panic, metrics_only) counts its flows' handshakes as its trials */
	if (b->brk.state == SL_BRKS_HALF_OPEN && b->dp == SL_BRK_HALF_OPEN)
		return;
	if (d > SUCCESS_FEED_MAX)
		d = SUCCESS_FEED_MAX;
	for (i = 0; i < d; i++)
		changed(r, b, sl_brk_success(&b->brk, now, SL_BRK_SIG_FLOW, &t), &t);
}

/* The slow-call rule: handshakes since the last feed, fast and slow. */
static void feed_calls(struct sl_resil *r, struct rbk *b, __u64 now)
{
	struct sl_brk_trans t;
	__u64 calls = b->sum.handshakes, slow = b->sum.slow_calls, dc, ds;

	if (calls < b->calls_fed || slow < b->slow_fed) {     /* counters were reset */
		b->calls_fed = calls;
		b->slow_fed = slow;
		return;
	}
	dc = calls - b->calls_fed;
	ds = slow - b->slow_fed;
	b->calls_fed = calls;
	b->slow_fed = slow;
	if (ds > dc)
		ds = dc;
	if (dc > SUCCESS_FEED_MAX) {
		ds = ds * SUCCESS_FEED_MAX / dc;
		dc = SUCCESS_FEED_MAX;
	}
	changed(r, b, sl_brk_calls(&b->brk, now, (__u32)(dc - ds), (__u32)ds, &t), &t);
}

/* One backend's stats now (before a failure is fed, so the successes that
 * came before it count first). */
static void sync_one(struct sl_resil *r, struct rbk *b, __u64 now)
{
	if (read_one(r, b->id, r->one))
		return;
	sum_stats(r, r->one, 0, &b->sum);
	feed_successes(r, b, now);
}

/*
 * A connect timeout, its SYN sent at syn_ns (bpf_ktime_get_ns(), the same
 * clock as now_ns()). Timeouts are found in batches (the 10 ms scan, or
 * when the client retransmits), long after their SYNs: a handshake the
 * backend completed after this SYN was sent (the data path's latest, read
 * just now by sync_one) means the backend kept answering, and this
 * failure does not continue a run of consecutive failures.
 */
static void feed_timeout(struct sl_resil *r, struct rbk *b, __u64 syn_ns, __u64 now)
{
	struct sl_brk_trans t;

	sync_one(r, b, now);
	if (b->sum.last_hs_ns > syn_ns)
		sl_brk_run_broken(&b->brk);
	changed(r, b, sl_brk_failure(&b->brk, now, SL_BRK_SIG_TIMEOUT, &t), &t);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct sl_resil *r = ctx;
	const struct sl_event *e = data;
	struct sl_brk_trans t;
	struct rbk *b;
	__u64 now = now_ns();
	int sig;

	if (len < sizeof(*e) || e->bk_id >= SL_MAX_BACKENDS || !(b = r->bk[e->bk_id]))
		return 0;
	switch (e->kind) {
	case SL_EV_TRIAL_OK:
		if (b->brk.state == SL_BRKS_HALF_OPEN) {
			b->hs_fed++;
			changed(r, b, sl_brk_success(&b->brk, now, SL_BRK_SIG_FLOW, &t), &t);
		}
		return 0;
	case SL_EV_REFUSED: sig = SL_BRK_SIG_REFUSED; break;
	case SL_EV_TIMEOUT:
		feed_timeout(r, b, e->ns - (__u64)e->value * 1000, now);
		return 0;
	case SL_EV_ICMP:    sig = SL_BRK_SIG_ICMP; break;
	case SL_EV_RESET:   sig = SL_BRK_SIG_RESET; break;
	case SL_EV_SLOW:
		/* the rate is the tick's; a slow trial fails the trials */
		if (b->brk.state != SL_BRKS_HALF_OPEN)
			return 0;
		sig = SL_BRK_SIG_SLOW;
		break;
	default: return 0;
	}
	sync_one(r, b, now);
	changed(r, b, sl_brk_failure(&b->brk, now, sig, &t), &t);
	return 0;
}

/*
 * The passive signals: only the backends whose signals moved are read
 * (sl_bk_live.touched, set by the data path after it counted, taken back
 * here before the read: a count is read this tick or the next, never
 * missed). One lookup each while they are few, one batch read of every id
 * once they are more than 1 in TICK_BATCH_AT.
 */
#define TICK_BATCH_AT 16

static void tick_signals(struct sl_resil *r, __u64 now)
{
	__u32 id, i, n = 0;
	int batch;

	for (id = 1; id <= r->max_id; id++) {
		__u32 *t = &r->dp->bk_live[id].touched;

		if (r->bk[id] && __atomic_load_n(t, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(t, 0, __ATOMIC_ACQ_REL))
			r->touched[n++] = id;
	}
	batch = n && (__u64)n * TICK_BATCH_AT > r->max_id;
	if (batch && read_stats(r)) {
		for (i = 0; i < n; i++)   /* read next time */
			__atomic_store_n(&r->dp->bk_live[r->touched[i]].touched, 1, __ATOMIC_RELAXED);
		return;
	}
	for (i = 0; i < n; i++) {
		struct rbk *b = r->bk[r->touched[i]];
		const void *buf = r->stats_buf;
		__u32 idx = b->id;

		if (!batch) {
			if (read_one(r, b->id, r->one)) {
				__atomic_store_n(&r->dp->bk_live[b->id].touched, 1, __ATOMIC_RELAXED);
				continue;
			}
			buf = r->one;
			idx = 0;
		}
		sum_stats(r, buf, idx, &b->sum);
		take_hist(r, b, buf, idx);
		feed_successes(r, b, now);
		feed_calls(r, b, now);
	}
}

static void tick(struct sl_resil *r)
{
	struct sl_brk_trans t;
	__u64 now = now_ns();
	__u32 id;

	ring_buffer__consume(r->ring);
	tick_signals(r, now);
	for (id = 1; id <= r->max_id; id++) {
		struct rbk *b = r->bk[id];

		if (!b)
			continue;
		/* an active check that says DOWN holds the breaker OPEN */
		if (b->brk.state == SL_BRKS_OPEN && b->health != SL_HEALTH_DOWN)
			changed(r, b, sl_brk_tick(&b->brk, now, &t), &t);
		if (b->drain_until_ns && now >= b->drain_until_ns && !b->reset &&
		    sl_brk_state(&b->brk) == SL_BRKS_DRAINING)
			policy(r, b->svc_id);
	}
}

/* ---- health checks ------------------------------------------------------- */

static void on_check(void *ctx, const struct sl_health_result *res)
{
	struct sl_resil *r = ctx;
	struct sl_brk_trans t;
	struct rbk *b = res->bk_id < SL_MAX_BACKENDS ? r->bk[res->bk_id] : NULL;
	char why[SL_BRK_REASON_MAX];

	if (!b)
		return;
	b->health = res->state_after;
	if (res->state_before != res->state_after) {
		snprintf(why, sizeof(why), "%s: %.70s", res->ok ? "rise reached" : "fall reached", res->detail);
		emit(r, b, "health", sl_health_state_name(res->state_before),
		     sl_health_state_name(res->state_after), "check", why, 1);
	}
	if (res->ok) {
		changed(r, b, sl_brk_success(&b->brk, res->at_ns, SL_BRK_SIG_CHECK, &t), &t);
		/* the check says UP again: an OPEN that has served its time may go on */
		if (res->state_before == SL_HEALTH_DOWN && b->brk.state == SL_BRKS_OPEN)
			changed(r, b, sl_brk_tick(&b->brk, res->at_ns, &t), &t);
		return;
	}
	if (res->state_after == SL_HEALTH_DOWN && res->state_before != SL_HEALTH_DOWN) {
		snprintf(why, sizeof(why), "check fall reached: %.70s", res->detail);
		if (sl_brk_failure(&b->brk, res->at_ns, SL_BRK_SIG_CHECK, &t) == 1) {
			changed(r, b, 1, &t);
			return;
		}
		changed(r, b, sl_brk_trip(&b->brk, res->at_ns, SL_BRK_SIG_CHECK, why, &t), &t);
		return;
	}
	changed(r, b, sl_brk_failure(&b->brk, res->at_ns, SL_BRK_SIG_CHECK, &t), &t);
}

/* ---- reaper -------------------------------------------------------------- */

static void release_units(struct sl_resil *r, const struct sl_conn *c)
{
	if (c->bk_id >= SL_MAX_BACKENDS)
		return;
	if (c->flags & SL_CONN_F_COUNTED) {
		__atomic_fetch_sub(&r->dp->bk_live[c->bk_id].active, 1, __ATOMIC_RELAXED);
		if (c->svc_id < SL_MAX_SERVICES)
			__atomic_fetch_sub(&r->dp->svc_live[c->svc_id].active, 1, __ATOMIC_RELAXED);
	}
	if (c->flags & SL_CONN_F_PEND)
		__atomic_fetch_sub(&r->dp->bk_live[c->bk_id].pending, 1, __ATOMIC_RELAXED);
}

/* The scan's one-shot timer at CLOCK_MONOTONIC time at_ns. */
static void arm_at(int fd, __u64 at_ns)
{
	struct itimerspec its = {
		.it_value = { (time_t)(at_ns / 1000000000ull), (long)(at_ns % 1000000000ull) },
	};

	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Connect timeouts: PENDING flows older than their service's
 * connect_timeout. Deleting the sl_pending entry claims the timeout (the
 * data path claims it the same way on a retransmitted SYN).
 *
 * The scan runs when a listing can have reached its timeout, not on a
 * fixed period: at the earliest deadline among the listings it saw, or,
 * for those listed after its read began, at its start plus the shortest
 * connect_timeout of any service; never sooner than pending_scan_ms after
 * it ended. An idle gateway scans once per shortest timeout instead of
 * every pending_scan_ms (docs/decisions.md).
 */
static void scan_pending(struct sl_resil *r)
{
	struct sl_flow_key keys[SCAN_CHUNK];
	struct sl_pend vals[SCAN_CHUNK];
	struct sl_flow_key batch;
	__u64 start = now_ns(), next = start + r->min_timeout_ns, floor;
	bool first = true;
	int fd = FD(r, sl_pending), cfd = FD(r, sl_conn);

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = SCAN_CHUNK, i;
		__u64 now;
		int rc;

		rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, &opts);
		/* the clock after the read: every SYN time read is older (a
		 * clock taken before it made a SYN listed during the read look
		 * 2^64 ns old, and claimed it at once: docs/decisions.md) */
		now = now_ns();
		first = false;
		if (rc && rc != -ENOENT) {
			next = 0;       /* try again at the finest step */
			break;
		}
		for (i = 0; i < count; i++) {
			__u64 due = vals[i].syn_ns + (__u64)vals[i].connect_timeout_ms * NS_PER_MS;
			struct sl_conn c;
			struct rbk *b;
			int found;

			if (vals[i].syn_ns >= now || now < due) {
				if (due < next)
					next = due;
				continue;
			}
			found = !bpf_map_lookup_elem(cfd, &keys[i], &c);
			if (!found || c.state != SL_CONN_PENDING ||
			    c.bk_id != vals[i].bk_id || c.syn_ns != vals[i].syn_ns) {
				/* stale: the flow is gone or has moved on; a move
				 * rewrote the listing with a later SYN time: keep that */
				if (!found || c.syn_ns <= vals[i].syn_ns)
					bpf_map_delete_elem(fd, &keys[i]);
				else if (c.syn_ns + (__u64)vals[i].connect_timeout_ms * NS_PER_MS < next)
					next = c.syn_ns + (__u64)vals[i].connect_timeout_ms * NS_PER_MS;
				continue;
			}
			if (bpf_map_delete_elem(fd, &keys[i]))
				continue;                               /* the data path claimed it */
			/* the client's SYN, rebuilt, through the program now: it
			 * moves the flow to another backend without waiting for
			 * the client's retransmission */
			if (c.svc_id < SL_MAX_SERVICES && c.redispatches < r->svc[c.svc_id].redispatch_max &&
			    sl_dp_inject_syn(r->dp, &keys[i], &c))
				r->inject_failed++;
			if (vals[i].bk_id >= SL_MAX_BACKENDS || !(b = r->bk[vals[i].bk_id]))
				continue;
			b->timeouts_scan++;
			feed_timeout(r, b, vals[i].syn_ns, now);
		}
		if (rc == -ENOENT)
			break;
	}
	/* a moved flow's new listing is seen by the next scan at the latest
	 * at its new SYN time plus the shortest timeout, as any other */
	floor = now_ns() + (__u64)r->o.pending_scan_ms * NS_PER_MS;
	arm_at(r->scan_fd, next > floor ? next : floor);
}

static __u64 idle_limit_ns(const struct sl_resil *r, const struct sl_conn *c)
{
	const struct rsvc *s = c->svc_id < SL_MAX_SERVICES ? &r->svc[c->svc_id] : NULL;
	__u64 idle_s;

	if (c->state == SL_CONN_CLOSING || c->state == SL_CONN_PENDING)
		return (__u64)r->o.closing_timeout_s * 1000000000ull;
	if (s && s->used)
		idle_s = s->idle_timeout_s;
	else
		idle_s = c->state == SL_CONN_UDP ? SL_DEFAULT_IDLE_TIMEOUT_UDP : SL_DEFAULT_IDLE_TIMEOUT_TCP;
	return idle_s * 1000000000ull;
}

/* The live counter l against e units seen in the table, taken/released
 * moving by da/dr during the walk: the leak lies in
 * [l - e - da, l - e + dr]; correct by the bound nearest zero when the
 * interval excludes zero, so a correction is never more than certain. */
static __s64 leak(__s64 l, __s64 e, __s64 da, __s64 dr)
{
	__s64 lo = l - e - da, hi = l - e + dr;

	if (lo > 0)
		return lo;
	if (hi < 0)
		return hi;
	return 0;
}

static void reconcile(struct sl_resil *r)
{
	struct sl_flow_key *keys = NULL;
	struct sl_conn *vals = NULL;
	struct sl_flow_key batch;
	struct sl_bk_stats *s0 = NULL, s1;
	__s64 *svc_e = NULL, *svc_da = NULL, *svc_dr = NULL;
	__u64 now = now_ns(), expired = 0;
	__u32 n = r->max_id + 1, id, i;
	bool first = true, careful = r->rec_careful, differ = false;
	int fd = FD(r, sl_conn);

	keys = calloc(WALK_CHUNK, sizeof(*keys));
	vals = calloc(WALK_CHUNK, sizeof(*vals));
	s0 = calloc(n, sizeof(*s0));
	svc_e = calloc(SL_MAX_SERVICES, sizeof(__s64));
	svc_da = calloc(SL_MAX_SERVICES, sizeof(__s64));
	svc_dr = calloc(SL_MAX_SERVICES, sizeof(__s64));
	if (!keys || !vals || !s0 || !svc_e || !svc_da || !svc_dr || (careful && read_stats(r)))
		goto out;
	for (id = 1; careful && id < n; id++)
		sum_stats(r, r->stats_buf, id, &s0[id]);
	memset(r->exp_active, 0, SL_MAX_BACKENDS * sizeof(__s64));
	memset(r->exp_pend, 0, SL_MAX_BACKENDS * sizeof(__s64));

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = WALK_CHUNK;
		int rc;

		rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count, &opts);
		first = false;
		if (rc && rc != -ENOENT)
			break;
		for (i = 0; i < count; i++) {
			struct sl_conn *c = &vals[i], gone;
			__u64 seen = c->seen_ns > r->start_ns ? c->seen_ns : r->start_ns;

			if (now > seen && now - seen > idle_limit_ns(r, c)) {
				if (!bpf_map_lookup_and_delete_elem(fd, &keys[i], &gone)) {
					release_units(r, &gone);
					if (gone.flags & SL_CONN_F_PEND)
						bpf_map_delete_elem(FD(r, sl_pending), &keys[i]);
					expired++;
				}
				continue;
			}
			if (c->bk_id >= SL_MAX_BACKENDS)
				continue;
			if (c->flags & SL_CONN_F_COUNTED) {
				r->exp_active[c->bk_id]++;
				if (c->svc_id < SL_MAX_SERVICES)
					svc_e[c->svc_id]++;
			}
			if (c->flags & SL_CONN_F_PEND)
				r->exp_pend[c->bk_id]++;
		}
		if (rc == -ENOENT)
			break;
	}

	/* Counters that all match the table need no proof: the stats that
	 * bound the units taken and released during the walk are read (all
	 * backends' per-CPU stats, twice) only in a round after one where
	 * something differed. An idle or settled gateway walks and compares. */
	if (!careful) {
		for (id = 1; id < n && !differ; id++)
			differ = sl_dp_backend(r->dp, id) &&
				 (__atomic_load_n(&r->dp->bk_live[id].active, __ATOMIC_RELAXED) != r->exp_active[id] ||
				  __atomic_load_n(&r->dp->bk_live[id].pending, __ATOMIC_RELAXED) != r->exp_pend[id]);
		for (id = 0; id < SL_MAX_SERVICES && !differ; id++)
			differ = r->svc[id].used &&
				 __atomic_load_n(&r->dp->svc_live[id].active, __ATOMIC_RELAXED) != svc_e[id];
		r->rec_careful = differ;
		goto done;
	}
	if (read_stats(r))
		goto out;
	for (id = 1; id < n; id++) {
		const struct sl_backend *bk;
		__s64 la, lp, ca, cp, da, dr;
		struct rbk *b;

		if (!(bk = sl_dp_backend(r->dp, id)))
			continue;
		sum_stats(r, r->stats_buf, id, &s1);
		da = s1.new_flows - s0[id].new_flows;
		dr = s1.released - s0[id].released;
		if (bk->svc_id < SL_MAX_SERVICES) {
			svc_da[bk->svc_id] += da;
			svc_dr[bk->svc_id] += dr;
		}
		la = __atomic_load_n(&r->dp->bk_live[id].active, __ATOMIC_RELAXED);
		lp = __atomic_load_n(&r->dp->bk_live[id].pending, __ATOMIC_RELAXED);
		differ |= la != r->exp_active[id] || lp != r->exp_pend[id];
		ca = leak(la, r->exp_active[id], da, dr);
		cp = leak(lp, r->exp_pend[id], s1.pend_taken - s0[id].pend_taken,
			  s1.pend_released - s0[id].pend_released);
		if (ca)
			__atomic_fetch_sub(&r->dp->bk_live[id].active, (__s32)ca, __ATOMIC_RELAXED);
		if (cp)
			__atomic_fetch_sub(&r->dp->bk_live[id].pending, (__s32)cp, __ATOMIC_RELAXED);
		if ((ca || cp) && (b = r->bk[id]))
			b->reconciled += (ca < 0 ? -ca : ca) + (cp < 0 ? -cp : cp);
		if (ca || cp)
			sl_log(LOG_INFO, "reconcile: backend %u active %lld -> %lld, pending %lld -> %lld",
			       id, (long long)la, (long long)(la - ca), (long long)lp, (long long)(lp - cp));
	}
	for (id = 0; id < SL_MAX_SERVICES; id++) {
		__s64 l, c;

		if (!r->svc[id].used)
			continue;
		l = __atomic_load_n(&r->dp->svc_live[id].active, __ATOMIC_RELAXED);
		differ |= l != svc_e[id];
		c = leak(l, svc_e[id], svc_da[id], svc_dr[id]);
		if (c) {
			__atomic_fetch_sub(&r->dp->svc_live[id].active, (__s32)c, __ATOMIC_RELAXED);
			sl_log(LOG_INFO, "reconcile: service %s active %lld -> %lld",
			       r->svc[id].name, (long long)l, (long long)(l - c));
		}
	}
	r->rec_careful = differ;
done:
	if (expired)
		sl_log(LOG_DEBUG, "reaper: %llu idle entries expired", (unsigned long long)expired);
out:
	free(keys);
	free(vals);
	free(s0);
	free(svc_e);
	free(svc_da);
	free(svc_dr);
}

/* ---- the module ------------------------------------------------------------ */

static int arm(int fd, __u32 ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * NS_PER_MS },
		.it_value = { ms / 1000, (ms % 1000) * NS_PER_MS },
	};

	return timerfd_settime(fd, 0, &its, NULL);
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int sl_resil_open(struct sl_resil **out, struct sl_dp *dp, sl_resil_event_fn ev, void *ev_ctx,
		  char *err, size_t errlen)
{
	struct sl_resil *r = calloc(1, sizeof(*r));
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->dp = dp;
	r->ev = ev;
	r->ev_ctx = ev_ctx;
	r->epfd = r->tick_fd = r->scan_fd = r->rec_fd = -1;
	r->start_ns = now_ns();
	r->rec_careful = true;
	if (getrandom(&r->rnd, sizeof(r->rnd), 0) != sizeof(r->rnd) || !r->rnd)
		r->rnd = r->start_ns | 1;
	r->o = (struct sl_resil_opts){ SL_DEFAULT_TICK_MS, SL_DEFAULT_RECONCILE_MS,
				       SL_DEFAULT_PENDING_SCAN_MS, SL_DEFAULT_CLOSING_TIMEOUT_S };
	r->stats_vsz = (sizeof(struct sl_bk_stats) + 7) & ~7ul;
	r->stats_buf = calloc((size_t)SL_MAX_BACKENDS * dp->nr_cpus, r->stats_vsz);
	r->exp_active = calloc(SL_MAX_BACKENDS, sizeof(__s64));
	r->exp_pend = calloc(SL_MAX_BACKENDS, sizeof(__s64));
	r->one = calloc(dp->nr_cpus, r->stats_vsz);
	r->touched = calloc(SL_MAX_BACKENDS, sizeof(__u32));
	if (!r->stats_buf || !r->one || !r->touched || !r->exp_active || !r->exp_pend) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->scan_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r->rec_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r->epfd < 0 || r->tick_fd < 0 || r->scan_fd < 0 || r->rec_fd < 0 ||
	    add_fd(r->epfd, r->tick_fd) || add_fd(r->epfd, r->scan_fd) || add_fd(r->epfd, r->rec_fd)) {
		rc = -errno;
		snprintf(err, errlen, "resilience timers: %s", strerror(errno));
		goto fail;
	}
	r->ring = ring_buffer__new(bpf_map__fd(dp->skel->maps.sl_events), on_event, r, NULL);
	if (!r->ring) {
		rc = -errno;
		snprintf(err, errlen, "event ring buffer: %s", strerror(errno));
		goto fail;
	}
	if (add_fd(r->epfd, ring_buffer__epoll_fd(r->ring))) {
		rc = -errno;
		snprintf(err, errlen, "event ring buffer: %s", strerror(errno));
		goto fail;
	}
	rc = sl_health_open(&r->health, on_check, r, err, errlen);
	if (rc)
		goto fail;
	if (add_fd(r->epfd, sl_health_fd(r->health))) {
		rc = -errno;
		snprintf(err, errlen, "health checks: %s", strerror(errno));
		goto fail;
	}
	*out = r;
	return 0;
fail:
	sl_resil_close(r);
	return rc;
}

static void forget(struct sl_resil *r, __u32 id)
{
	struct rbk *b = r->bk[id];

	if (!b)
		return;
	if (r->health)
		sl_health_remove(r->health, id);
	free(b->hist_prev);
	free(b);
	r->bk[id] = NULL;
}

void sl_resil_close(struct sl_resil *r)
{
	__u32 id;

	if (!r)
		return;
	for (id = 0; id < SL_MAX_BACKENDS; id++)
		forget(r, id);
	for (id = 0; id < SL_MAX_SERVICES; id++)
		free(r->svc[id].bks);
	sl_health_close(r->health);
	ring_buffer__free(r->ring);
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->tick_fd >= 0)
		close(r->tick_fd);
	if (r->scan_fd >= 0)
		close(r->scan_fd);
	if (r->rec_fd >= 0)
		close(r->rec_fd);
	free(r->stats_buf);
	free(r->one);
	free(r->touched);
	free(r->exp_active);
	free(r->exp_pend);
	free(r);
}

int sl_resil_fd(const struct sl_resil *r)
{
	return r->epfd;
}

static bool expired_timer(int fd)
{
	__u64 n;

	return read(fd, &n, sizeof(n)) == sizeof(n);
}

void sl_resil_dispatch(struct sl_resil *r)
{
	struct epoll_event evs[8];
	int n, i;

	n = epoll_wait(r->epfd, evs, 8, 0);
	for (i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd == r->tick_fd) {
			if (expired_timer(fd))
				tick(r);
		} else if (fd == r->scan_fd) {
			if (expired_timer(fd))
				scan_pending(r);
		} else if (fd == r->rec_fd) {
			if (expired_timer(fd))
				reconcile(r);
		} else if (fd == sl_health_fd(r->health)) {
			sl_health_dispatch(r->health);
		} else {
			ring_buffer__consume(r->ring);
		}
	}
}

static int svc_add_member(struct rsvc *s, __u32 id)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 8;
		__u32 *p = realloc(s->bks, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->bks = p;
		s->cap = cap;
	}
	s->bks[s->n++] = id;
	return 0;
}

/* A breaker for a backend new to this daemon: its manual mode and an
 * OPEN/HALF_OPEN gate are taken over from the pinned state. */
static struct rbk *adopt(struct sl_resil *r, __u32 id, const struct sl_cfg_service *cs,
			 const struct sl_cfg_backend *cb)
{
	const struct sl_backend *bk = sl_dp_backend(r->dp, id);
	struct sl_brk_trans t;
	struct rbk *b = calloc(1, sizeof(*b));
	__u64 now = now_ns();

	if (!b || !(b->hist_prev = calloc((size_t)r->dp->nr_cpus * SL_HS_BUCKETS, sizeof(__u32)))) {
		free(b);
		return NULL;
	}
	b->id = id;
	b->cfg = cs->breaker;
	sl_l4addr_format(&cb->addr, b->name, sizeof(b->name));
	sl_brk_init(&b->brk, &cs->breaker, rnd32, &r->rnd);
	b->dp = bk ? bk->breaker : SL_BRK_CLOSED;
	if (bk && bk->mode > SL_BRKM_AUTO && bk->mode < SL_BRKM_MAX) {
		sl_brk_set_mode(&b->brk, now, bk->mode, &t);
		if (bk->mode == SL_BRKM_DRAINING)
			b->drain_until_ns = (__u64)bk->drain_until[1] << 32 | bk->drain_until[0];
		sl_log(LOG_NOTICE, "breaker %s %s: mode %s kept from the previous sluiced",
		       cs->name, b->name, sl_brk_mode_name(bk->mode));
	} else if (cs->breaker_mode == SL_BRKM_METRICS_ONLY) {
		sl_brk_set_mode(&b->brk, now, SL_BRKM_METRICS_ONLY, &t);
	}
	if (bk && (bk->breaker == SL_BRK_OPEN || bk->breaker == SL_BRK_HALF_OPEN) &&
	    (b->brk.mode == SL_BRKM_AUTO)) {
		sl_brk_trip(&b->brk, now, SL_BRK_SIG_MAX, "adopted: tripped when the previous sluiced stopped", &t);
		b->since_ns = now;
	}
	/* what the data path counted before this daemon is not fed again */
	if (!read_one(r, id, r->one)) {
		struct sl_bk_stats s;
		int cpu, k;

		sum_stats(r, r->one, 0, &s);
		b->hs_fed = s.handshakes;
		b->calls_fed = s.handshakes;
		b->slow_fed = s.slow_calls;
		b->sum = s;
		for (cpu = 0; cpu < r->dp->nr_cpus; cpu++)
			for (k = 0; k < SL_HS_BUCKETS; k++)
				b->hist_prev[cpu * SL_HS_BUCKETS + k] = cpu_stats(r, r->one, 0, cpu)->hs_hist[k];
	}
	return b;
}

void sl_resil_config(struct sl_resil *r, const struct sl_config *cfg)
{
	bool *keep = calloc(SL_MAX_BACKENDS, sizeof(bool));
	unsigned s, k;
	__u32 id;

	if (!keep) {
		sl_log(LOG_ERR, "resilience: out of memory");
		return;
	}
	r->o.tick_ms = cfg->tick_ms ? cfg->tick_ms : SL_DEFAULT_TICK_MS;
	r->o.reconcile_ms = cfg->reconcile_ms ? cfg->reconcile_ms : SL_DEFAULT_RECONCILE_MS;
	r->o.pending_scan_ms = cfg->pending_scan_ms ? cfg->pending_scan_ms : SL_DEFAULT_PENDING_SCAN_MS;
	r->o.closing_timeout_s = cfg->closing_timeout_s ? cfg->closing_timeout_s : SL_DEFAULT_CLOSING_TIMEOUT_S;
	arm(r->tick_fd, r->o.tick_ms);
	arm(r->rec_fd, r->o.reconcile_ms);

	for (id = 0; id < SL_MAX_SERVICES; id++) {
		r->svc[id].used = false;
		r->svc[id].n = 0;
	}
	for (s = 0; s < cfg->nr_services; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];

		for (k = 0; k < cs->nr_backends; k++) {
			const struct sl_cfg_backend *cb = &cs->backends[k];
			const struct sl_backend *bk;
			struct rsvc *sv;
			struct rbk *b;

			id = sl_dp_backend_id(r->dp, &cb->addr);
			if (!id || !(bk = sl_dp_backend(r->dp, id)) || bk->svc_id >= SL_MAX_SERVICES)
				continue;
			b = r->bk[id];
			if (b && memcmp(&b->cfg, &cs->breaker, sizeof(b->cfg))) {
				/* new settings: the automaton starts over, the mode stays */
				__u8 mode = b->brk.mode;
				struct sl_brk_trans t;

				b->cfg = cs->breaker;
				sl_brk_init(&b->brk, &cs->breaker, rnd32, &r->rnd);
				if (mode != SL_BRKM_AUTO)
					sl_brk_set_mode(&b->brk, now_ns(), mode, &t);
			}
			if (!b && !(b = r->bk[id] = adopt(r, id, cs, cb))) {
				sl_log(LOG_ERR, "resilience: out of memory");
				continue;
			}
			b->svc_id = bk->svc_id;
			b->check_type = cb->check.type;
			keep[id] = true;
			if (id > r->max_id)
				r->max_id = id;
			sv = &r->svc[bk->svc_id];
			if (!sv->used) {
				sv->used = true;
				snprintf(sv->name, sizeof(sv->name), "%s", cs->name);
				sv->on_trip = cs->on_trip;
				sv->panic = cs->panic;
				sv->max_ej = cs->max_ejection_pct;
				sv->proto = cs->vip.proto;
				sv->drain_timeout_ms = cs->drain_timeout_ms;
				sv->connect_timeout_ms = cs->connect_timeout_ms;
				sv->idle_timeout_s = cs->idle_timeout_s;
				sv->redispatch_max = cs->redispatch_max;
			}
			svc_add_member(sv, id);
			if (sl_health_set(r->health, id, &cb->addr, &cb->check, cs->name, b->name))
				sl_log(LOG_ERR, "health: cannot set the check of %s %s", cs->name, b->name);
			if (cb->check.type == SL_CHECK_NONE)
				b->health = SL_HEALTH_UNKNOWN;
		}
	}
	for (id = 1; id < SL_MAX_BACKENDS; id++) {
		if (r->bk[id] && !keep[id])
			forget(r, id);
		if (sl_dp_backend(r->dp, id) && id > r->max_id)
			r->max_id = id;
	}
	for (id = 0; id < SL_MAX_SERVICES; id++)
		policy(r, id);
	free(keep);
	/* the scan's horizon: the shortest connect timeout, at most a
	 * second; a scan now sees what the new settings list */
	r->min_timeout_ns = (__u64)SL_PENDING_SCAN_MS_MAX * NS_PER_MS;
	for (s = 0; s < cfg->nr_services; s++)
		if ((__u64)cfg->services[s].connect_timeout_ms * NS_PER_MS < r->min_timeout_ns)
			r->min_timeout_ns = (__u64)cfg->services[s].connect_timeout_ms * NS_PER_MS;
	arm_at(r->scan_fd, now_ns() + (__u64)r->o.pending_scan_ms * NS_PER_MS);
}

int sl_resil_set_mode(struct sl_resil *r, __u32 bk_id, enum sl_brk_mode m, char *err, size_t errlen)
{
	struct sl_brk_trans t;
	struct rbk *b;
	__u64 now = now_ns();
	int rc;

	if (bk_id == 0 || bk_id >= SL_MAX_BACKENDS || !(b = r->bk[bk_id])) {
		snprintf(err, errlen, "no such backend");
		return -ENOENT;
	}
	rc = sl_brk_set_mode(&b->brk, now, m, &t);
	if (rc < 0) {
		snprintf(err, errlen, "bad breaker mode");
		return rc;
	}
	b->drain_until_ns = 0;
	if (m == SL_BRKM_DRAINING && r->svc[b->svc_id].drain_timeout_ms)
		b->drain_until_ns = now + r->svc[b->svc_id].drain_timeout_ms * NS_PER_MS;
	if (rc == 1)
		brk_event(r, b, &t);
	policy(r, b->svc_id);
	return 0;
}

struct sl_health *sl_resil_health(struct sl_resil *r)
{
	return r->health;
}

int sl_resil_backend(struct sl_resil *r, __u32 bk_id, struct sl_resil_bk *o)
{
	struct sl_health_info hi;
	struct rbk *b;
	const struct sl_bk_live *l;

	if (bk_id == 0 || bk_id >= SL_MAX_BACKENDS || !(b = r->bk[bk_id]))
		return -ENOENT;
	memset(o, 0, sizeof(*o));
	o->bk_id = bk_id;
	o->state = sl_brk_state(&b->brk);
	o->mode = b->brk.mode;
	o->dp = b->dp;
	o->capped = b->capped;
	o->panic = b->panic;
	o->health = b->health;
	o->check_type = b->check_type;
	o->reset = b->reset;
	snprintf(o->reason, sizeof(o->reason), "%s", sl_brk_reason(&b->brk));
	if (!sl_health_info(r->health, bk_id, &hi))
		snprintf(o->check_detail, sizeof(o->check_detail), "%s", hi.last_detail);
	o->state_since_ns = b->since_ns;
	o->trips = b->brk.trips_total;
	l = &r->dp->bk_live[bk_id];
	o->active = __atomic_load_n(&l->active, __ATOMIC_RELAXED);
	o->pending = __atomic_load_n(&l->pending, __ATOMIC_RELAXED);
	o->trial_tokens = __atomic_load_n(&l->trial_tokens, __ATOMIC_RELAXED);
	o->refused = b->sum.conn_refused;
	o->timeouts = b->sum.conn_timeout + b->timeouts_scan;
	o->icmp = b->sum.icmp_unreach;
	o->resets = b->sum.resets;
	o->handshakes = b->sum.handshakes;
	memcpy(o->hs_hist, b->hs_hist, sizeof(o->hs_hist));
	o->reconciled = b->reconciled;
	return 0;
}
