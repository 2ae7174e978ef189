// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Circuit breakers: pure logic (breaker.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "breaker.h"

#define NS_PER_MS 1000000ull

static const char *const state_names[SL_BRKS_MAX] = {
	[SL_BRKS_CLOSED] = "closed", [SL_BRKS_OPEN] = "open",
	[SL_BRKS_HALF_OPEN] = "half_open", [SL_BRKS_DRAINING] = "draining",
	[SL_BRKS_FORCED_OPEN] = "forced_open", [SL_BRKS_FORCED_CLOSED] = "forced_closed",
	[SL_BRKS_METRICS_ONLY] = "metrics_only",
};
static const char *const mode_names[SL_BRKM_MAX] = {
	[SL_BRKM_AUTO] = "auto", [SL_BRKM_DRAINING] = "draining",
	[SL_BRKM_FORCED_OPEN] = "forced_open", [SL_BRKM_FORCED_CLOSED] = "forced_closed",
	[SL_BRKM_METRICS_ONLY] = "metrics_only",
};
static const char *const signal_names[SL_BRK_SIG_MAX] = {
	[SL_BRK_SIG_CHECK] = "check", [SL_BRK_SIG_FLOW] = "flow",
	[SL_BRK_SIG_REFUSED] = "connect_refused", [SL_BRK_SIG_TIMEOUT] = "connect_timeout",
	[SL_BRK_SIG_ICMP] = "icmp_unreachable", [SL_BRK_SIG_RESET] = "reset",
	[SL_BRK_SIG_SLOW] = "slow_call",
};

const char *sl_brk_state_name(enum sl_brk_state s)
{
	return (unsigned)s < SL_BRKS_MAX ? state_names[s] : "?";
}

const char *sl_brk_mode_name(enum sl_brk_mode m)
{
	return (unsigned)m < SL_BRKM_MAX ? mode_names[m] : "?";
}

const char *sl_brk_signal_name(enum sl_brk_signal s)
{
	return (unsigned)s < SL_BRK_SIG_MAX ? signal_names[s] : "none";
}

const char *sl_brk_reason(const struct sl_brk *b)
{
	return b->last.reason;
}

void sl_brk_cfg_defaults(struct sl_brk_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->consecutive_failures = 3;
	c->failure_rate = 50;
	c->window_kind = SL_BRK_WIN_COUNT;
	c->window = 20;
	c->min_volume = 10;
	c->open_ms = 1000;
	c->open_max_ms = 30000;
	c->jitter_pct = 10;
	c->half_open_trials = 3;
}

#define CFG_ERR(...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int sl_brk_cfg_check(const struct sl_brk_cfg *c, char *err, size_t errlen)
{
	if (c->failure_rate > 100)
		CFG_ERR("failure_rate %u: must be 0 (off) to 100", c->failure_rate);
	if (c->window_kind != SL_BRK_WIN_COUNT && c->window_kind != SL_BRK_WIN_TIME)
		CFG_ERR("window kind %u: must be count or time", c->window_kind);
	if (c->failure_rate) {
		if (c->window_kind == SL_BRK_WIN_COUNT &&
		    (c->window < 1 || c->window > SL_BRK_COUNT_WINDOW_MAX))
			CFG_ERR("window %u: must be 1 to %u outcomes", c->window, SL_BRK_COUNT_WINDOW_MAX);
		if (c->window_kind == SL_BRK_WIN_TIME &&
		    (c->window < SL_BRK_TIME_WINDOW_MIN || c->window > SL_BRK_TIME_WINDOW_MAX))
			CFG_ERR("window %u ms: must be %u to %u", c->window,
				SL_BRK_TIME_WINDOW_MIN, SL_BRK_TIME_WINDOW_MAX);
		if (c->min_volume < 1)
			CFG_ERR("min_volume 0: must be at least 1");
		if (c->window_kind == SL_BRK_WIN_COUNT && c->min_volume > c->window)
			CFG_ERR("min_volume %u > window %u: the rate could never trip",
				c->min_volume, c->window);
	}
	if (c->slow_call_rate > 100)
		CFG_ERR("slow_call_rate %u: must be 0 (off) to 100", c->slow_call_rate);
	if (c->slow_call_rate && !c->slow_call_ms)
		CFG_ERR("slow_call_rate without slow_call_ms: no call could be slow");
	if (!c->consecutive_failures && !c->failure_rate && !c->slow_call_rate)
		CFG_ERR("consecutive_failures, failure_rate and slow_call_rate all 0: the breaker could never trip");
	if (c->open_ms < 1)
		CFG_ERR("open_ms 0: must be at least 1");
	if (c->open_max_ms < c->open_ms)
		CFG_ERR("open_max_ms %u < open_ms %u", c->open_max_ms, c->open_ms);
	if (c->jitter_pct > SL_BRK_JITTER_MAX)
		CFG_ERR("jitter %u%%: must be 0 to %u", c->jitter_pct, SL_BRK_JITTER_MAX);
	if (c->half_open_trials < 1 || c->half_open_trials > SL_BRK_TRIALS_MAX)
		CFG_ERR("half_open_trials %u: must be 1 to %u", c->half_open_trials, SL_BRK_TRIALS_MAX);
	return 0;
}

static void window_clear(struct sl_brk *b)
{
	memset(b->ring, 0, sizeof(b->ring));
	b->ring_head = b->ring_len = b->ring_fails = 0;
	for (unsigned i = 0; i < SL_BRK_BUCKETS; i++)
		b->buckets[i] = (struct sl_brk_bucket){ .epoch = ~0ull };
	b->consecutive = 0;
	memset(b->slow_ring, 0, sizeof(b->slow_ring));
	b->slow_head = b->slow_len = b->slow_n = 0;
}

int sl_brk_init(struct sl_brk *b, const struct sl_brk_cfg *c, sl_brk_rand_fn rnd, void *rnd_ctx)
{
	if (sl_brk_cfg_check(c, NULL, 0))
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->cfg = *c;
	b->rnd = rnd;
	b->rnd_ctx = rnd_ctx;
	b->mode = SL_BRKM_AUTO;
	b->state = SL_BRKS_CLOSED;
	b->last.signal = SL_BRK_SIG_MAX;
	window_clear(b);
	return 0;
}

enum sl_brk_state sl_brk_auto_state(const struct sl_brk *b)
{
	return b->state;
}

enum sl_brk_state sl_brk_state(const struct sl_brk *b)
{
	switch (b->mode) {
	case SL_BRKM_DRAINING:      return SL_BRKS_DRAINING;
	case SL_BRKM_FORCED_OPEN:   return SL_BRKS_FORCED_OPEN;
	case SL_BRKM_FORCED_CLOSED: return SL_BRKS_FORCED_CLOSED;
	case SL_BRKM_METRICS_ONLY:  return SL_BRKS_METRICS_ONLY;
	default:                    return b->state;
	}
}

enum sl_breaker sl_brk_effective(const struct sl_brk *b)
{
	switch (b->mode) {
	case SL_BRKM_DRAINING:      return SL_BRK_DRAINING;
	case SL_BRKM_FORCED_OPEN:   return SL_BRK_OPEN;
	case SL_BRKM_FORCED_CLOSED:
	case SL_BRKM_METRICS_ONLY:  return SL_BRK_CLOSED;
	default:
		return b->state == SL_BRKS_OPEN ? SL_BRK_OPEN :
		       b->state == SL_BRKS_HALF_OPEN ? SL_BRK_HALF_OPEN : SL_BRK_CLOSED;
	}
}

/* ---- the sliding window ---- */

static __u64 bucket_ns(const struct sl_brk *b)
{
	return (__u64)b->cfg.window * NS_PER_MS / SL_BRK_BUCKETS;
}

/* A bucket counts while its epoch is one of the last SL_BRK_BUCKETS,
 * the current one included. */
static int bucket_live(const struct sl_brk_bucket *k, __u64 cur)
{
	return k->epoch != ~0ull && k->epoch <= cur && k->epoch + SL_BRK_BUCKETS > cur;
}

void sl_brk_window(const struct sl_brk *b, __u64 now_ns, __u32 *total, __u32 *fails)
{
	if (b->cfg.window_kind == SL_BRK_WIN_COUNT) {
		*total = b->ring_len;
		*fails = b->ring_fails;
		return;
	}
	__u64 cur = now_ns / bucket_ns(b);
	__u32 t = 0, f = 0;
	for (unsigned i = 0; i < SL_BRK_BUCKETS; i++)
		if (bucket_live(&b->buckets[i], cur)) {
			t += b->buckets[i].total;
			f += b->buckets[i].fails;
		}
	*total = t;
	*fails = f;
}

static void window_add(struct sl_brk *b, __u64 now_ns, int fail)
{
	if (!b->cfg.failure_rate)
		return;
	if (b->cfg.window_kind == SL_BRK_WIN_COUNT) {
		__u32 W = b->cfg.window, i = b->ring_head;
		__u64 bit = 1ull << (i % 64);
		if (b->ring_len == W) {        /* the oldest outcome sits where we write */
			if (b->ring[i / 64] & bit)
				b->ring_fails--;
		} else {
			b->ring_len++;
		}
		if (fail) {
			b->ring[i / 64] |= bit;
			b->ring_fails++;
		} else {
			b->ring[i / 64] &= ~bit;
		}
		b->ring_head = (i + 1) % W;
		return;
	}
	__u64 cur = now_ns / bucket_ns(b);
	struct sl_brk_bucket *k = &b->buckets[cur % SL_BRK_BUCKETS];
	if (k->epoch != cur)
		*k = (struct sl_brk_bucket){ .epoch = cur };
	k->total++;
	k->fails += !!fail;
}

/* ---- transitions ---- */

static void record(struct sl_brk *b, __u64 now_ns, enum sl_brk_state from, enum sl_brk_state to,
		   int enforced, unsigned sig, __u32 open_ms, __u32 tokens, struct sl_brk_trans *t,
		   const char *fmt, ...) __attribute__((format(printf, 10, 11)));

static void record(struct sl_brk *b, __u64 now_ns, enum sl_brk_state from, enum sl_brk_state to,
		   int enforced, unsigned sig, __u32 open_ms, __u32 tokens, struct sl_brk_trans *t,
		   const char *fmt, ...)
{
	struct sl_brk_trans *r = &b->last;
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->at_ns = now_ns;
	r->from = from;
	r->to = to;
	r->enforced = !!enforced;
	r->signal = sig;
	r->open_ms = open_ms;
	r->trial_tokens = tokens;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	b->transitions++;
	if (t)
		*t = *r;
}

/* Automaton transitions are enforced unless the mode is METRICS_ONLY. */
static int enforced(const struct sl_brk *b)
{
	return b->mode != SL_BRKM_METRICS_ONLY;
}

/* OPEN duration for the b->trips-th consecutive trip:
 * d = min(open_ms * 2^(trips-1), open_max_ms), plus j in [0, d * jitter_pct / 100). */
static __u64 open_duration_ns(const struct sl_brk *b)
{
	__u64 d = b->cfg.open_ms;
	for (__u32 i = 1; i < b->trips && d < b->cfg.open_max_ms; i++)
		d <<= 1;
	if (d > b->cfg.open_max_ms)
		d = b->cfg.open_max_ms;
	d *= NS_PER_MS;
	if (b->rnd && b->cfg.jitter_pct) {
		__u64 jmax = d * b->cfg.jitter_pct / 100;
		d += (__u64)(((unsigned __int128)jmax * b->rnd(b->rnd_ctx)) >> 32);
	}
	return d;
}

static void trip(struct sl_brk *b, __u64 now_ns, unsigned sig, struct sl_brk_trans *t,
		 const char *why)
{
	enum sl_brk_state from = b->state;
	__u64 d;

	b->trips++;
	b->trips_total++;
	d = open_duration_ns(b);
	b->state = SL_BRKS_OPEN;
	b->opened_ns = now_ns;
	b->open_until_ns = now_ns + d;
	b->trials_ok = 0;
	window_clear(b);
	record(b, now_ns, from, SL_BRKS_OPEN, enforced(b), sig,
	       (__u32)((d + NS_PER_MS - 1) / NS_PER_MS), 0, t, "%s", why);
}

/* The automaton runs in AUTO and METRICS_ONLY; manual states freeze it. */
static int automaton_runs(const struct sl_brk *b)
{
	return b->mode == SL_BRKM_AUTO || b->mode == SL_BRKM_METRICS_ONLY;
}

int sl_brk_success(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, struct sl_brk_trans *t)
{
	if (sig != SL_BRK_SIG_CHECK && sig != SL_BRK_SIG_FLOW)
		return -EINVAL;
	b->successes++;
	if (!automaton_runs(b))
		return 0;
	switch (b->state) {
	case SL_BRKS_CLOSED:
		b->consecutive = 0;
		window_add(b, now_ns, 0);
		return 0;
	case SL_BRKS_HALF_OPEN:
		/* trials are flows admitted by the tokens: a check's success is
		 * not one (a check's failure still reopens, below) */
		if (sig != SL_BRK_SIG_FLOW)
			return 0;
		if (++b->trials_ok < b->cfg.half_open_trials)
			return 0;
		b->state = SL_BRKS_CLOSED;
		b->trips = 0;
		window_clear(b);
		record(b, now_ns, SL_BRKS_HALF_OPEN, SL_BRKS_CLOSED, enforced(b), sig, 0, 0, t,
		       "trials_ok %u/%u", b->trials_ok, b->cfg.half_open_trials);
		b->trials_ok = 0;
		return 1;
	default:
		return 0;   /* OPEN: old flows and checks do not shorten it */
	}
}

void sl_brk_run_broken(struct sl_brk *b)
{
	if (automaton_runs(b) && b->state == SL_BRKS_CLOSED)
		b->consecutive = 0;
}

int sl_brk_failure(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, struct sl_brk_trans *t)
{
	char why[SL_BRK_REASON_MAX];
	const struct sl_brk_cfg *c = &b->cfg;

	if ((unsigned)sig >= SL_BRK_SIG_MAX || sig == SL_BRK_SIG_FLOW)
		return -EINVAL;
	b->failures[sig]++;
	if (!automaton_runs(b))
		return 0;
	switch (b->state) {
	case SL_BRKS_CLOSED:
		b->consecutive++;
		window_add(b, now_ns, 1);
		if (c->consecutive_failures && b->consecutive >= c->consecutive_failures) {
			snprintf(why, sizeof(why), "consecutive_failures %u >= %u (%s)",
				 b->consecutive, c->consecutive_failures, sl_brk_signal_name(sig));
			trip(b, now_ns, sig, t, why);
			return 1;
		}
		if (c->failure_rate) {
			__u32 total, fails;
			sl_brk_window(b, now_ns, &total, &fails);
			if (total >= c->min_volume &&
			    (__u64)fails * 100 >= (__u64)c->failure_rate * total) {
				if (c->window_kind == SL_BRK_WIN_COUNT)
					snprintf(why, sizeof(why),
						 "failure_rate %u%% >= %u%% over %u (min %u) (%s)",
						 (__u32)((__u64)fails * 100 / total), c->failure_rate,
						 total, c->min_volume, sl_brk_signal_name(sig));
				else
					snprintf(why, sizeof(why),
						 "failure_rate %u%% >= %u%% over %u in %ums (min %u) (%s)",
						 (__u32)((__u64)fails * 100 / total), c->failure_rate,
						 total, c->window, c->min_volume, sl_brk_signal_name(sig));
				trip(b, now_ns, sig, t, why);
				return 1;
			}
		}
		return 0;
	case SL_BRKS_HALF_OPEN:
		snprintf(why, sizeof(why), "trial_failed %s after %u/%u ok",
			 sl_brk_signal_name(sig), b->trials_ok, c->half_open_trials);
		trip(b, now_ns, sig, t, why);
		return 1;
	default:
		return 0;
	}
}

int sl_brk_tick(struct sl_brk *b, __u64 now_ns, struct sl_brk_trans *t)
{
	if (!automaton_runs(b) || b->state != SL_BRKS_OPEN || now_ns < b->open_until_ns)
		return 0;
	b->state = SL_BRKS_HALF_OPEN;
	b->trials_ok = 0;
	record(b, now_ns, SL_BRKS_OPEN, SL_BRKS_HALF_OPEN, enforced(b), SL_BRK_SIG_MAX, 0,
	       b->cfg.half_open_trials, t, "open_timeout %llums",
	       (unsigned long long)((now_ns - b->opened_ns) / NS_PER_MS));
	return 1;
}

static __u32 slow_window(const struct sl_brk *b)
{
	__u32 w = b->cfg.window_kind == SL_BRK_WIN_COUNT ? b->cfg.window : SL_BRK_SLOW_WINDOW;

	return w < 1 ? 1 : w > SL_BRK_COUNT_WINDOW_MAX ? SL_BRK_COUNT_WINDOW_MAX : w;
}

static void slow_add(struct sl_brk *b, int slow)
{
	__u32 W = slow_window(b), i = b->slow_head;
	__u64 bit = 1ull << (i % 64);

	if (b->slow_len == W) {
		if (b->slow_ring[i / 64] & bit)
			b->slow_n--;
	} else {
		b->slow_len++;
	}
	if (slow) {
		b->slow_ring[i / 64] |= bit;
		b->slow_n++;
	} else {
		b->slow_ring[i / 64] &= ~bit;
	}
	b->slow_head = (i + 1) % W;
}

int sl_brk_calls(struct sl_brk *b, __u64 now_ns, __u32 fast, __u32 slow, struct sl_brk_trans *t)
{
	const struct sl_brk_cfg *c = &b->cfg;
	__u32 W = slow_window(b), min;
	char why[SL_BRK_REASON_MAX];

	if (!c->slow_call_rate || (!fast && !slow))
		return 0;
	b->failures[SL_BRK_SIG_SLOW] += slow;
	if ((__u64)fast + slow > W) {
		/* only the last W calls matter: keep their proportion */
		__u32 f = (__u32)((__u64)fast * W / ((__u64)fast + slow));

		slow = W - f;
		fast = f;
	}
	while (fast--)
		slow_add(b, 0);
	while (slow--)
		slow_add(b, 1);
	if (!automaton_runs(b) || b->state != SL_BRKS_CLOSED)
		return 0;
	min = c->min_volume < 1 ? 1 : c->min_volume > W ? W : c->min_volume;
	if (b->slow_len < min || (__u64)b->slow_n * 100 < (__u64)c->slow_call_rate * b->slow_len)
		return 0;
	snprintf(why, sizeof(why), "slow_calls %u%% >= %u%% over %u (slower than %u ms)",
		 (__u32)((__u64)b->slow_n * 100 / b->slow_len), c->slow_call_rate, b->slow_len,
		 c->slow_call_ms);
	trip(b, now_ns, SL_BRK_SIG_SLOW, t, why);
	return 1;
}

int sl_brk_trip(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, const char *why,
		struct sl_brk_trans *t)
{
	if ((unsigned)sig > SL_BRK_SIG_MAX || !automaton_runs(b) || b->state == SL_BRKS_OPEN)
		return 0;
	trip(b, now_ns, sig, t, why);
	return 1;
}

static void automaton_reset(struct sl_brk *b)
{
	b->state = SL_BRKS_CLOSED;
	b->trips = 0;
	b->trials_ok = 0;
	window_clear(b);
}

int sl_brk_set_mode(struct sl_brk *b, __u64 now_ns, enum sl_brk_mode m, struct sl_brk_trans *t)
{
	enum sl_brk_state from;
	__u32 tokens = 0;

	if ((unsigned)m >= SL_BRKM_MAX)
		return -EINVAL;
	if (b->mode == m)
		return 0;
	from = sl_brk_state(b);
	/* AUTO <-> METRICS_ONLY keep the automaton (one reports what the other
	 * enforces); any other change starts it afresh: the evidence from
	 * before or during a manual state says nothing about now. */
	if (!((b->mode == SL_BRKM_AUTO && m == SL_BRKM_METRICS_ONLY) ||
	      (b->mode == SL_BRKM_METRICS_ONLY && m == SL_BRKM_AUTO)))
		automaton_reset(b);
	b->mode = m;
	b->capped = b->panic = 0;
	if (m == SL_BRKM_AUTO && b->state == SL_BRKS_HALF_OPEN)
		tokens = b->cfg.half_open_trials - b->trials_ok;  /* now enforced: write them */
	record(b, now_ns, from, sl_brk_state(b), 1, SL_BRK_SIG_MAX, 0, tokens, t,
	       "manual: %s", sl_brk_mode_name(m));
	return 1;
}

/* ---- service policy ---- */

static int auto_unhealthy(const struct sl_brk *b)
{
	return b->mode == SL_BRKM_AUTO &&
	       (b->state == SL_BRKS_OPEN || b->state == SL_BRKS_HALF_OPEN);
}

static int manual_out(const struct sl_brk *b)
{
	return b->mode == SL_BRKM_DRAINING || b->mode == SL_BRKM_FORCED_OPEN;
}

void sl_brk_policy(struct sl_brk *const *b, unsigned n, __u8 max_ejection_pct, __u8 panic,
		   struct sl_brk_verdict *out, struct sl_brk_svc_verdict *sv)
{
	unsigned pct = max_ejection_pct > 100 ? 100 : max_ejection_pct;
	unsigned unhealthy = 0, manual = 0, left;

	memset(sv, 0, sizeof(*sv));
	sv->budget = (__u32)((__u64)pct * n / 100);
	for (unsigned i = 0; i < n; i++) {
		out[i].dp = sl_brk_effective(b[i]);
		out[i].flags = 0;
		b[i]->capped = b[i]->panic = 0;
		if (manual_out(b[i])) {
			manual++;
			unhealthy++;
			out[i].flags = SL_BRK_V_EJECTED;
		} else if (auto_unhealthy(b[i])) {
			unhealthy++;
		}
	}
	if (n && unhealthy == n) {
		sv->panic = 1 + (panic == SL_BRK_PANIC_FAIL_CLOSED);
		for (unsigned i = 0; i < n; i++) {
			if (manual_out(b[i])) {
				sv->ejected++;
				continue;
			}
			b[i]->panic = 1;
			if (panic == SL_BRK_PANIC_FAIL_CLOSED) {
				out[i].dp = SL_BRK_OPEN;
				out[i].flags = SL_BRK_V_EJECTED | SL_BRK_V_PANIC;
				sv->ejected++;
			} else {
				out[i].dp = SL_BRK_CLOSED;
				out[i].flags = SL_BRK_V_PANIC;
			}
		}
		return;
	}
	sv->ejected = manual;
	left = sv->budget > manual ? sv->budget - manual : 0;
	/* oldest trip first (then lowest index): repeated runs choose alike */
	for (;;) {
		int best = -1;
		for (unsigned i = 0; i < n; i++) {
			if (!auto_unhealthy(b[i]) || out[i].flags)
				continue;
			if (best < 0 || b[i]->opened_ns < b[best]->opened_ns)
				best = (int)i;
		}
		if (best < 0)
			break;
		if (left) {
			left--;
			out[best].flags = SL_BRK_V_EJECTED;
			sv->ejected++;
		} else {
			out[best].flags = SL_BRK_V_CAPPED;
			out[best].dp = SL_BRK_CLOSED;
			b[best]->capped = 1;
			sv->capped++;
		}
	}
}
