// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests: circuit breaker state machine, windows, backoff, policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "breaker.h"

#define MS 1000000ull
#define T0 (1000 * MS)          /* the injected clock starts at 1 s */

struct rnd { __u32 v; unsigned calls; };
static __u32 rnd_fixed(void *ctx)
{
	struct rnd *r = ctx;
	r->calls++;
	return r->v;
}

/* consecutive 3, no rate, 1 s doubling to 8 s, no jitter, 3 trials */
static void cfg_consec(struct sl_brk_cfg *c)
{
	sl_brk_cfg_defaults(c);
	c->failure_rate = 0;
	c->open_ms = 1000;
	c->open_max_ms = 8000;
	c->jitter_pct = 0;
}

/* rate only: 50% over a count window of 20, min 10 */
static void cfg_rate(struct sl_brk_cfg *c)
{
	sl_brk_cfg_defaults(c);
	c->consecutive_failures = 0;
	c->jitter_pct = 0;
}

static void init(struct sl_brk *b, const struct sl_brk_cfg *c)
{
	assert_int_equal(sl_brk_init(b, c, NULL, NULL), 0);
}

static void n_ok(struct sl_brk *b, __u64 now, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(sl_brk_success(b, now, SL_BRK_SIG_FLOW, NULL), 0);
}

static void n_fail(struct sl_brk *b, __u64 now, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(sl_brk_failure(b, now, SL_BRK_SIG_TIMEOUT, NULL), 0);
}

static void test_names(void **st __attribute__((unused)))
{
	assert_string_equal(sl_brk_state_name(SL_BRKS_CLOSED), "closed");
	assert_string_equal(sl_brk_state_name(SL_BRKS_HALF_OPEN), "half_open");
	assert_string_equal(sl_brk_state_name(SL_BRKS_METRICS_ONLY), "metrics_only");
	assert_string_equal(sl_brk_state_name(SL_BRKS_MAX), "?");
	assert_string_equal(sl_brk_mode_name(SL_BRKM_FORCED_CLOSED), "forced_closed");
	assert_string_equal(sl_brk_signal_name(SL_BRK_SIG_ICMP), "icmp_unreachable");
	assert_string_equal(sl_brk_signal_name(SL_BRK_SIG_SLOW), "slow_call");
	struct sl_brk b; struct sl_brk_cfg c;
	cfg_consec(&c);
	init(&b, &c);
	assert_string_equal(sl_brk_reason(&b), "");
	assert_int_equal(sl_brk_state(&b), SL_BRKS_CLOSED);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
}

static void test_cfg_check(void **st __attribute__((unused)))
{
	struct sl_brk_cfg c; char err[128];
	sl_brk_cfg_defaults(&c);
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), 0);
	c.min_volume = 21;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "min_volume 21 > window 20"));
	sl_brk_cfg_defaults(&c); c.open_max_ms = 999;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.half_open_trials = 0;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.failure_rate = 101;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.consecutive_failures = 0; c.failure_rate = 0;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.window = SL_BRK_COUNT_WINDOW_MAX + 1;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.window_kind = SL_BRK_WIN_TIME; c.window = 9;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	sl_brk_cfg_defaults(&c); c.jitter_pct = 101;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	struct sl_brk b;
	assert_int_equal(sl_brk_init(&b, &c, NULL, NULL), -EINVAL);
}

static void test_bad_signals(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c;
	cfg_consec(&c);
	init(&b, &c);
	assert_int_equal(sl_brk_success(&b, T0, SL_BRK_SIG_REFUSED, NULL), -EINVAL);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_FLOW, NULL), -EINVAL);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_MAX, NULL), -EINVAL);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_MAX, NULL), -EINVAL);
}

/* CLOSED -> OPEN (consecutive) -> HALF_OPEN (timeout) -> CLOSED (trials) */
static void test_consecutive_cycle(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	cfg_consec(&c);
	init(&b, &c);
	n_fail(&b, T0, 2);
	n_ok(&b, T0, 1);                          /* a success resets the run */
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_CLOSED);
	assert_int_equal(sl_brk_failure(&b, T0 + 5 * MS, SL_BRK_SIG_REFUSED, &t), 1);
	assert_int_equal(t.from, SL_BRKS_CLOSED);
	assert_int_equal(t.to, SL_BRKS_OPEN);
	assert_int_equal(t.enforced, 1);
	assert_int_equal(t.signal, SL_BRK_SIG_REFUSED);
	assert_int_equal(t.open_ms, 1000);
	assert_int_equal(t.at_ns, T0 + 5 * MS);
	assert_string_equal(t.reason, "consecutive_failures 3 >= 3 (connect_refused)");
	assert_string_equal(sl_brk_reason(&b), t.reason);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_OPEN);
	assert_int_equal(b.failures[SL_BRK_SIG_REFUSED], 1);
	assert_int_equal(b.failures[SL_BRK_SIG_TIMEOUT], 4);

	/* OPEN: outcomes change nothing; tick before the end does nothing */
	assert_int_equal(sl_brk_success(&b, T0 + 6 * MS, SL_BRK_SIG_CHECK, &t), 0);
	assert_int_equal(sl_brk_failure(&b, T0 + 6 * MS, SL_BRK_SIG_CHECK, &t), 0);
	assert_int_equal(sl_brk_tick(&b, T0 + 1005 * MS - 1, &t), 0);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_OPEN);
	assert_int_equal(sl_brk_tick(&b, T0 + 1005 * MS, &t), 1);
	assert_int_equal(t.from, SL_BRKS_OPEN);
	assert_int_equal(t.to, SL_BRKS_HALF_OPEN);
	assert_int_equal(t.trial_tokens, 3);
	assert_string_equal(t.reason, "open_timeout 1000ms");
	assert_int_equal(sl_brk_effective(&b), SL_BRK_HALF_OPEN);
	assert_int_equal(sl_brk_tick(&b, T0 + 2000 * MS, &t), 0);

	/* exactly N trials: check successes are not trials */
	assert_int_equal(sl_brk_success(&b, T0 + 1010 * MS, SL_BRK_SIG_CHECK, &t), 0);
	assert_int_equal(sl_brk_success(&b, T0 + 1010 * MS, SL_BRK_SIG_FLOW, &t), 0);
	assert_int_equal(sl_brk_success(&b, T0 + 1011 * MS, SL_BRK_SIG_FLOW, &t), 0);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_HALF_OPEN);
	assert_int_equal(sl_brk_success(&b, T0 + 1012 * MS, SL_BRK_SIG_FLOW, &t), 1);
	assert_int_equal(t.from, SL_BRKS_HALF_OPEN);
	assert_int_equal(t.to, SL_BRKS_CLOSED);
	assert_string_equal(t.reason, "trials_ok 3/3");
	assert_int_equal(b.trips, 0);
	assert_int_equal(b.trips_total, 1);
	assert_int_equal(b.transitions, 3);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	/* fresh: the old run of failures is gone */
	n_fail(&b, T0 + 1013 * MS, 2);
	assert_int_equal(sl_brk_failure(&b, T0 + 1013 * MS, SL_BRK_SIG_RESET, &t), 1);
	assert_int_equal(t.open_ms, 1000);        /* trip count was reset */
}

/* A failure whose attempt began before a success: a new run (the failure
 * still counted); nothing outside CLOSED. */
static void test_run_broken(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;

	cfg_consec(&c);
	init(&b, &c);
	n_fail(&b, T0, 2);
	sl_brk_run_broken(&b);
	n_fail(&b, T0, 1);                        /* a run of 1, not 3 */
	assert_int_equal(sl_brk_state(&b), SL_BRKS_CLOSED);
	sl_brk_run_broken(&b);
	n_fail(&b, T0, 1);
	sl_brk_run_broken(&b);
	n_fail(&b, T0, 1);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_CLOSED);
	assert_int_equal(b.failures[SL_BRK_SIG_TIMEOUT], 5);
	n_fail(&b, T0, 1);                        /* 1 + 2: the run trips */
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_OPEN);
	sl_brk_run_broken(&b);                    /* OPEN: nothing */
	assert_int_equal(sl_brk_state(&b), SL_BRKS_OPEN);
}

static void test_half_open_failure(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	cfg_consec(&c);
	init(&b, &c);
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_int_equal(sl_brk_tick(&b, T0 + 1000 * MS, &t), 1);
	n_ok(&b, T0 + 1001 * MS, 2);
	assert_int_equal(sl_brk_failure(&b, T0 + 1002 * MS, SL_BRK_SIG_ICMP, &t), 1);
	assert_int_equal(t.from, SL_BRKS_HALF_OPEN);
	assert_int_equal(t.to, SL_BRKS_OPEN);
	assert_string_equal(t.reason, "trial_failed icmp_unreachable after 2/3 ok");
	assert_int_equal(t.open_ms, 2000);        /* backoff grew */
	assert_int_equal(b.trips, 2);
	/* a failing active check during HALF_OPEN reopens too */
	assert_int_equal(sl_brk_tick(&b, T0 + 3002 * MS, &t), 1);
	assert_int_equal(t.trial_tokens, 3);
	assert_int_equal(sl_brk_failure(&b, T0 + 3003 * MS, SL_BRK_SIG_CHECK, &t), 1);
	assert_string_equal(t.reason, "trial_failed check after 0/3 ok");
	assert_int_equal(t.open_ms, 4000);
}

/* base x 2^(trips-1), capped: 1, 2, 4, 8, 8, 8 s */
static void test_backoff_cap(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	const __u32 want[] = { 1000, 2000, 4000, 8000, 8000, 8000 };
	__u64 now = T0;
	cfg_consec(&c);
	c.consecutive_failures = 1;
	init(&b, &c);
	assert_int_equal(sl_brk_failure(&b, now, SL_BRK_SIG_REFUSED, &t), 1);
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(t.open_ms, want[i]);
		assert_int_equal(b.open_until_ns, now + want[i] * MS);
		assert_int_equal(sl_brk_tick(&b, now + want[i] * MS - 1, NULL), 0);
		now += want[i] * MS;
		assert_int_equal(sl_brk_tick(&b, now, &t), 1);
		assert_int_equal(sl_brk_failure(&b, now, SL_BRK_SIG_REFUSED, &t), 1);
	}
	/* a huge trip count neither overflows nor passes the cap */
	b.trips = 200;
	assert_int_equal(sl_brk_tick(&b, now + 8000 * MS, &t), 1);
	assert_int_equal(sl_brk_failure(&b, now + 8000 * MS, SL_BRK_SIG_REFUSED, &t), 1);
	assert_int_equal(t.open_ms, 8000);
	/* cap equal to base: never grows */
	cfg_consec(&c);
	c.consecutive_failures = 1;
	c.open_max_ms = c.open_ms = 500;
	init(&b, &c);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(sl_brk_failure(&b, now, SL_BRK_SIG_REFUSED, &t), 1);
		assert_int_equal(t.open_ms, 500);
		now += 500 * MS;
		assert_int_equal(sl_brk_tick(&b, now, NULL), 1);
	}
}

/* jitter: d + [0, d * pct / 100) from the injected source */
static void test_jitter_bounds(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct rnd r = { 0, 0 };
	cfg_consec(&c);
	c.consecutive_failures = 1;
	c.jitter_pct = 20;
	assert_int_equal(sl_brk_init(&b, &c, rnd_fixed, &r), 0);
	r.v = 0;
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(b.open_until_ns - T0, 1000 * MS);          /* lower bound */
	assert_int_equal(sl_brk_tick(&b, b.open_until_ns, NULL), 1);
	r.v = UINT32_MAX;
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, NULL), 1);
	__u64 d = b.open_until_ns - T0;                               /* 2 s + just under 400 ms */
	assert_true(d < 2400 * MS);
	assert_true(d >= 2400 * MS - 1);
	assert_int_equal(b.last.open_ms, 2400);
	assert_int_equal(sl_brk_tick(&b, b.open_until_ns, NULL), 1);
	r.v = 1u << 31;                                               /* half: +200 ms of 4 s */
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_int_equal(b.open_until_ns - T0, 4400 * MS);
	/* jitter goes on top of the cap */
	b.trips = 30;
	assert_int_equal(sl_brk_tick(&b, b.open_until_ns, NULL), 1);
	r.v = UINT32_MAX;
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_true(b.open_until_ns - T0 < 9600 * MS);
	assert_true(b.open_until_ns - T0 >= 9600 * MS - 1);
	/* jitter_pct 0: the source is not even asked */
	c.jitter_pct = 0;
	r.calls = 0;
	assert_int_equal(sl_brk_init(&b, &c, rnd_fixed, &r), 0);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_int_equal(r.calls, 0);
	assert_int_equal(b.open_until_ns - T0, 1000 * MS);
}

/* count window: exactly min volume, exactly the threshold */
static void test_rate_count_edges(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t; __u32 tot, f;
	cfg_rate(&c);
	init(&b, &c);
	/* 9 outcomes all failing: below min volume 10 */
	n_fail(&b, T0, 9);
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(tot, 9);
	assert_int_equal(f, 9);
	/* the 10th (exactly min volume) trips */
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_string_equal(t.reason, "failure_rate 100% >= 50% over 10 (min 10) (connect_timeout)");
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(tot, 0);                 /* cleared on trip */

	/* exactly 50%: 5 ok then 4 fail (44%..), the 5th failure is 5/10 = 50% */
	init(&b, &c);
	n_ok(&b, T0, 5);
	n_fail(&b, T0, 4);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_SLOW, &t), 1);
	assert_string_equal(t.reason, "failure_rate 50% >= 50% over 10 (min 10) (slow_call)");

	/* just under: 11 ok, 9 fail over 20 = 45%, never trips */
	init(&b, &c);
	n_ok(&b, T0, 11);
	n_fail(&b, T0, 9);
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(tot, 20);
	assert_int_equal(f, 9);
	/* 60% over 20 (min volume = window): the rate is judged only once full */
	c.min_volume = 20;
	init(&b, &c);
	n_ok(&b, T0, 8);
	n_fail(&b, T0, 11);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_REFUSED, &t), 1);
	assert_string_equal(t.reason, "failure_rate 60% >= 50% over 20 (min 20) (connect_refused)");
}

/* count window wrap: outcomes leave oldest first, across the ring's end */
static void test_rate_count_wrap(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t; __u32 tot, f;
	cfg_rate(&c);
	init(&b, &c);
	n_ok(&b, T0, 11);
	n_fail(&b, T0, 9);                        /* 9/20 = 45% */
	n_ok(&b, T0, 11);                         /* the 11 oldest oks leave */
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(tot, 20);
	assert_int_equal(f, 9);
	n_ok(&b, T0, 1);                          /* the oldest failure leaves */
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(f, 8);
	n_ok(&b, T0, 8);
	sl_brk_window(&b, T0, &tot, &f);
	assert_int_equal(tot, 20);
	assert_int_equal(f, 0);
	n_fail(&b, T0, 9);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_string_equal(t.reason, "failure_rate 50% >= 50% over 20 (min 10) (connect_timeout)");

	/* a window wider than one bitmap word, wrapped several times */
	c.window = 100;
	c.min_volume = 100;
	c.failure_rate = 30;
	init(&b, &c);
	for (unsigned round = 0; round < 5; round++) {
		n_ok(&b, T0, 71);
		n_fail(&b, T0, 29);
		sl_brk_window(&b, T0, &tot, &f);
		assert_int_equal(tot, 100);
		assert_int_equal(f, 29);
	}
	n_ok(&b, T0, 70);                         /* 1 ok, 29 failures, 70 ok */
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);  /* 30/100 */
	assert_string_equal(t.reason, "failure_rate 30% >= 30% over 100 (min 100) (connect_timeout)");
}

/* time window: 1000 ms in 10 buckets of 100 ms */
static void cfg_time(struct sl_brk_cfg *c)
{
	cfg_rate(c);
	c->window_kind = SL_BRK_WIN_TIME;
	c->window = 1000;
	c->min_volume = 4;
}

static void test_rate_time_rollover(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t; __u32 tot, f;
	cfg_time(&c);
	/* outcomes of the bucket [T0, T0+100ms) count until T0+W-1 ... */
	init(&b, &c);
	n_fail(&b, T0, 2);
	n_ok(&b, T0 + 99 * MS, 1);
	sl_brk_window(&b, T0 + 1000 * MS - 1, &tot, &f);
	assert_int_equal(tot, 3);
	assert_int_equal(f, 2);
	assert_int_equal(sl_brk_failure(&b, T0 + 1000 * MS - 1, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_string_equal(t.reason,
		"failure_rate 75% >= 50% over 4 in 1000ms (min 4) (connect_timeout)");
	/* ... and are gone at T0+W (the bucket slot is reused, reset) */
	init(&b, &c);
	n_fail(&b, T0, 2);
	n_ok(&b, T0 + 99 * MS, 1);
	sl_brk_window(&b, T0 + 1000 * MS, &tot, &f);
	assert_int_equal(tot, 0);
	n_fail(&b, T0 + 1000 * MS, 1);
	sl_brk_window(&b, T0 + 1000 * MS, &tot, &f);
	assert_int_equal(tot, 1);
	assert_int_equal(f, 1);
	/* spread over buckets: each leaves on its own */
	init(&b, &c);
	n_ok(&b, T0, 2);                          /* bucket 10 */
	n_fail(&b, T0 + 150 * MS, 1);             /* bucket 11 */
	n_ok(&b, T0 + 950 * MS, 1);               /* bucket 19 */
	sl_brk_window(&b, T0 + 1099 * MS, &tot, &f);
	assert_int_equal(tot, 2);                 /* bucket 10 left at T0+1000 */
	assert_int_equal(f, 1);
	sl_brk_window(&b, T0 + 1100 * MS, &tot, &f);
	assert_int_equal(tot, 1);
	assert_int_equal(f, 0);
	/* exactly min volume and threshold inside one window: 2 ok, 2 fail */
	n_ok(&b, T0 + 1200 * MS, 1);
	n_fail(&b, T0 + 1250 * MS, 1);            /* 3 outcomes: below min */
	assert_int_equal(sl_brk_failure(&b, T0 + 1300 * MS, SL_BRK_SIG_ICMP, &t), 1);
	assert_string_equal(t.reason,
		"failure_rate 50% >= 50% over 4 in 1000ms (min 4) (icmp_unreachable)");
	/* a long silence forgets everything */
	init(&b, &c);
	n_fail(&b, T0, 3);
	sl_brk_window(&b, T0 + 3600000 * MS, &tot, &f);
	assert_int_equal(tot, 0);
	n_fail(&b, T0 + 3600000 * MS, 3);
	sl_brk_window(&b, T0 + 3600000 * MS, &tot, &f);
	assert_int_equal(tot, 3);
}

/* both rules on: the run of failures is judged first */
static void test_both_rules(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	sl_brk_cfg_defaults(&c);
	c.min_volume = 3;
	init(&b, &c);
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_string_equal(t.reason, "consecutive_failures 3 >= 3 (connect_timeout)");
	init(&b, &c);
	n_ok(&b, T0, 2);
	n_fail(&b, T0, 1);
	n_ok(&b, T0, 1);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 0);
	assert_int_equal(sl_brk_failure(&b, T0, SL_BRK_SIG_TIMEOUT, &t), 1); /* 3/6 */
	assert_string_equal(t.reason, "failure_rate 50% >= 50% over 6 (min 3) (connect_timeout)");
}

static void test_manual_override_release(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	cfg_consec(&c);
	init(&b, &c);
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_FORCED_OPEN, &t), 1);
	assert_int_equal(t.from, SL_BRKS_CLOSED);
	assert_int_equal(t.to, SL_BRKS_FORCED_OPEN);
	assert_string_equal(t.reason, "manual: forced_open");
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_FORCED_OPEN, &t), 0);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_OPEN);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_FORCED_OPEN);
	/* manual states ignore evidence and time */
	n_ok(&b, T0, 5);
	n_fail(&b, T0, 10);
	assert_int_equal(sl_brk_tick(&b, T0 + 100000 * MS, &t), 0);
	assert_int_equal(b.failures[SL_BRK_SIG_TIMEOUT], 12);   /* still counted */
	/* release: a fresh CLOSED (the 2 failures before are forgotten) */
	assert_int_equal(sl_brk_set_mode(&b, T0 + 1 * MS, SL_BRKM_AUTO, &t), 1);
	assert_int_equal(t.from, SL_BRKS_FORCED_OPEN);
	assert_int_equal(t.to, SL_BRKS_CLOSED);
	assert_string_equal(t.reason, "manual: auto");
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	n_fail(&b, T0 + 2 * MS, 2);
	assert_int_equal(sl_brk_failure(&b, T0 + 2 * MS, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_int_equal(t.open_ms, 1000);

	/* OPEN -> FORCED_CLOSED admits; release resets the backoff */
	assert_int_equal(sl_brk_set_mode(&b, T0 + 3 * MS, SL_BRKM_FORCED_CLOSED, &t), 1);
	assert_int_equal(t.from, SL_BRKS_OPEN);
	assert_int_equal(t.to, SL_BRKS_FORCED_CLOSED);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	n_fail(&b, T0 + 4 * MS, 10);
	assert_int_equal(sl_brk_set_mode(&b, T0 + 5 * MS, SL_BRKM_DRAINING, &t), 1);
	assert_int_equal(t.from, SL_BRKS_FORCED_CLOSED);
	assert_int_equal(t.to, SL_BRKS_DRAINING);
	assert_string_equal(t.reason, "manual: draining");
	assert_int_equal(sl_brk_effective(&b), SL_BRK_DRAINING);
	assert_int_equal(sl_brk_set_mode(&b, T0 + 6 * MS, SL_BRKM_AUTO, &t), 1);
	assert_int_equal(t.to, SL_BRKS_CLOSED);
	assert_int_equal(b.trips, 0);
	n_fail(&b, T0 + 7 * MS, 2);
	assert_int_equal(sl_brk_failure(&b, T0 + 7 * MS, SL_BRK_SIG_TIMEOUT, &t), 1);
	assert_int_equal(t.open_ms, 1000);
}

static void test_metrics_only(void **st __attribute__((unused)))
{
	struct sl_brk b; struct sl_brk_cfg c; struct sl_brk_trans t;
	cfg_consec(&c);
	init(&b, &c);
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_METRICS_ONLY, &t), 1);
	assert_int_equal(t.to, SL_BRKS_METRICS_ONLY);
	assert_string_equal(t.reason, "manual: metrics_only");
	/* the automaton kept its run of 2: the third trips it, not enforced */
	assert_int_equal(sl_brk_failure(&b, T0 + 1 * MS, SL_BRK_SIG_REFUSED, &t), 1);
	assert_int_equal(t.enforced, 0);
	assert_int_equal(t.from, SL_BRKS_CLOSED);
	assert_int_equal(t.to, SL_BRKS_OPEN);
	assert_string_equal(t.reason, "consecutive_failures 3 >= 3 (connect_refused)");
	assert_int_equal(sl_brk_state(&b), SL_BRKS_METRICS_ONLY);
	assert_int_equal(sl_brk_auto_state(&b), SL_BRKS_OPEN);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	assert_int_equal(sl_brk_tick(&b, T0 + 1001 * MS, &t), 1);
	assert_int_equal(t.enforced, 0);
	assert_int_equal(t.to, SL_BRKS_HALF_OPEN);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	n_ok(&b, T0 + 1002 * MS, 1);
	/* released mid-trial: enforce the automaton, with the tokens left */
	assert_int_equal(sl_brk_set_mode(&b, T0 + 1003 * MS, SL_BRKM_AUTO, &t), 1);
	assert_int_equal(t.from, SL_BRKS_METRICS_ONLY);
	assert_int_equal(t.to, SL_BRKS_HALF_OPEN);
	assert_int_equal(t.enforced, 1);
	assert_int_equal(t.trial_tokens, 2);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_HALF_OPEN);
	n_ok(&b, T0 + 1004 * MS, 1);
	assert_int_equal(sl_brk_success(&b, T0 + 1004 * MS, SL_BRK_SIG_FLOW, &t), 1);
	assert_string_equal(t.reason, "trials_ok 3/3");
	assert_int_equal(t.enforced, 1);
	/* from a forced state, METRICS_ONLY starts a fresh automaton */
	n_fail(&b, T0 + 1005 * MS, 2);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_FORCED_OPEN, NULL), 1);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_METRICS_ONLY, &t), 1);
	assert_int_equal(t.from, SL_BRKS_FORCED_OPEN);
	assert_int_equal(sl_brk_auto_state(&b), SL_BRKS_CLOSED);
	n_fail(&b, T0, 2);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
}

/* ---- service policy ---- */

#define NB 12
static struct sl_brk bk[NB];
static struct sl_brk *bp[NB];
static struct sl_brk_verdict v[NB];

/* n breakers; those in open_mask tripped at T0 + i ms (lower index: older) */
static void svc(unsigned n, unsigned open_mask)
{
	struct sl_brk_cfg c;
	cfg_consec(&c);
	c.consecutive_failures = 1;
	for (unsigned i = 0; i < n; i++) {
		init(&bk[i], &c);
		bp[i] = &bk[i];
		if (open_mask & (1u << i))
			assert_int_equal(sl_brk_failure(&bk[i], T0 + i * MS, SL_BRK_SIG_REFUSED, NULL), 1);
	}
}

static unsigned count_flag(unsigned n, unsigned flag)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++)
		k += !!(v[i].flags & flag);
	return k;
}

static void test_ejection_cap(void **st __attribute__((unused)))
{
	struct sl_brk_svc_verdict sv;
	static const struct { unsigned n, pct, open, ejected; } cases[] = {
		{ 10, 50, 7, 5 }, { 10, 50, 5, 5 }, { 10, 50, 4, 4 },
		{  3, 50, 2, 1 }, {  2, 50, 1, 1 }, {  7, 33, 5, 2 },
		{  4, 100, 3, 3 }, { 4, 0, 3, 0 }, { 12, 10, 6, 1 }, { 9, 99, 8, 8 },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		unsigned n = cases[k].n, open = cases[k].open;
		svc(n, (1u << open) - 1);
		sl_brk_policy(bp, n, cases[k].pct, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
		assert_int_equal(sv.budget, cases[k].pct * n / 100);
		assert_int_equal(sv.panic, 0);
		assert_int_equal(sv.ejected, cases[k].ejected);
		assert_int_equal(sv.capped, open - cases[k].ejected);
		assert_int_equal(count_flag(n, SL_BRK_V_EJECTED), cases[k].ejected);
		assert_int_equal(count_flag(n, SL_BRK_V_CAPPED), open - cases[k].ejected);
		for (unsigned i = 0; i < n; i++) {
			if (i < cases[k].ejected) {          /* oldest trips are the ejected ones */
				assert_int_equal(v[i].flags, SL_BRK_V_EJECTED);
				assert_int_equal(v[i].dp, SL_BRK_OPEN);
				assert_int_equal(bk[i].capped, 0);
			} else if (i < open) {
				assert_int_equal(v[i].flags, SL_BRK_V_CAPPED);
				assert_int_equal(v[i].dp, SL_BRK_CLOSED);
				assert_int_equal(bk[i].capped, 1);
				assert_int_equal(sl_brk_state(&bk[i]), SL_BRKS_OPEN);
			} else {
				assert_int_equal(v[i].flags, 0);
				assert_int_equal(v[i].dp, SL_BRK_CLOSED);
			}
		}
	}
	/* the order is by trip time, not by index */
	svc(4, 0);
	assert_int_equal(sl_brk_failure(&bk[3], T0, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_int_equal(sl_brk_failure(&bk[0], T0 + 5 * MS, SL_BRK_SIG_REFUSED, NULL), 1);
	assert_int_equal(sl_brk_failure(&bk[1], T0 + 9 * MS, SL_BRK_SIG_REFUSED, NULL), 1);
	sl_brk_policy(bp, 4, 50, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(v[3].flags, SL_BRK_V_EJECTED);
	assert_int_equal(v[0].flags, SL_BRK_V_EJECTED);
	assert_int_equal(v[1].flags, SL_BRK_V_CAPPED);
	/* HALF_OPEN counts as ejected and keeps its value; manual states use the budget first */
	svc(4, 0x3);
	assert_int_equal(sl_brk_tick(&bk[0], T0 + 2000 * MS, NULL), 1);
	assert_int_equal(sl_brk_set_mode(&bk[2], T0, SL_BRKM_DRAINING, NULL), 1);
	sl_brk_policy(bp, 4, 50, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(sv.budget, 2);
	assert_int_equal(sv.ejected, 2);
	assert_int_equal(sv.capped, 1);
	assert_int_equal(v[2].dp, SL_BRK_DRAINING);
	assert_int_equal(v[2].flags, SL_BRK_V_EJECTED);
	assert_int_equal(v[0].dp, SL_BRK_HALF_OPEN);
	assert_int_equal(v[0].flags, SL_BRK_V_EJECTED);
	assert_int_equal(v[1].dp, SL_BRK_CLOSED);
	assert_int_equal(v[1].flags, SL_BRK_V_CAPPED);
	/* manual ejections beyond the budget are honoured: nothing automatic goes */
	svc(4, 0x1);
	assert_int_equal(sl_brk_set_mode(&bk[1], T0, SL_BRKM_FORCED_OPEN, NULL), 1);
	assert_int_equal(sl_brk_set_mode(&bk[2], T0, SL_BRKM_FORCED_OPEN, NULL), 1);
	sl_brk_policy(bp, 4, 25, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(sv.ejected, 2);
	assert_int_equal(sv.capped, 1);
	assert_int_equal(v[1].dp, SL_BRK_OPEN);
	assert_int_equal(v[0].flags, SL_BRK_V_CAPPED);
	/* a capped flag goes when the next run no longer caps it */
	sl_brk_policy(bp, 4, 100, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(bk[0].capped, 0);
	assert_int_equal(v[0].flags, SL_BRK_V_EJECTED);
	/* empty service */
	sl_brk_policy(bp, 0, 50, SL_BRK_PANIC_FAIL_CLOSED, v, &sv);
	assert_int_equal(sv.panic, 0);
	assert_int_equal(sv.ejected, 0);
}

static void test_panic(void **st __attribute__((unused)))
{
	struct sl_brk_svc_verdict sv;
	/* fail-open: every unhealthy backend serves */
	svc(3, 0x7);
	sl_brk_policy(bp, 3, 50, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(sv.panic, 1 + SL_BRK_PANIC_FAIL_OPEN);
	assert_int_equal(sv.ejected, 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(v[i].dp, SL_BRK_CLOSED);
		assert_int_equal(v[i].flags, SL_BRK_V_PANIC);
		assert_int_equal(bk[i].panic, 1);
	}
	/* fail-closed: every backend refused, the cap notwithstanding */
	sl_brk_policy(bp, 3, 50, SL_BRK_PANIC_FAIL_CLOSED, v, &sv);
	assert_int_equal(sv.panic, 1 + SL_BRK_PANIC_FAIL_CLOSED);
	assert_int_equal(sv.ejected, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(v[i].dp, SL_BRK_OPEN);
		assert_int_equal(v[i].flags, SL_BRK_V_EJECTED | SL_BRK_V_PANIC);
	}
	/* a single backend, open: that is every backend */
	svc(1, 0x1);
	sl_brk_policy(bp, 1, 50, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(sv.panic, 1);
	assert_int_equal(v[0].dp, SL_BRK_CLOSED);
	/* manual exclusions stay out in fail-open; HALF_OPEN counts as unhealthy */
	svc(3, 0x3);
	assert_int_equal(sl_brk_tick(&bk[1], T0 + 2000 * MS, NULL), 1);
	assert_int_equal(sl_brk_set_mode(&bk[2], T0, SL_BRKM_FORCED_OPEN, NULL), 1);
	sl_brk_policy(bp, 3, 50, SL_BRK_PANIC_FAIL_OPEN, v, &sv);
	assert_int_equal(sv.panic, 1);
	assert_int_equal(sv.ejected, 1);
	assert_int_equal(v[0].dp, SL_BRK_CLOSED);
	assert_int_equal(v[1].dp, SL_BRK_CLOSED);
	assert_int_equal(v[2].dp, SL_BRK_OPEN);
	assert_int_equal(v[2].flags, SL_BRK_V_EJECTED);
	/* no panic while one backend is healthy, or only metrics-only open */
	svc(3, 0x3);
	sl_brk_policy(bp, 3, 100, SL_BRK_PANIC_FAIL_CLOSED, v, &sv);
	assert_int_equal(sv.panic, 0);
	assert_int_equal(sv.ejected, 2);
	assert_int_equal(v[2].dp, SL_BRK_CLOSED);
	svc(3, 0x7);
	assert_int_equal(sl_brk_set_mode(&bk[2], T0, SL_BRKM_METRICS_ONLY, NULL), 1);
	assert_int_equal(sl_brk_auto_state(&bk[2]), SL_BRKS_OPEN);
	sl_brk_policy(bp, 3, 100, SL_BRK_PANIC_FAIL_CLOSED, v, &sv);
	assert_int_equal(sv.panic, 0);
	assert_int_equal(v[2].dp, SL_BRK_CLOSED);
	assert_int_equal(v[2].flags, 0);
	/* FORCED_CLOSED is healthy: no panic */
	svc(2, 0x3);
	assert_int_equal(sl_brk_set_mode(&bk[0], T0, SL_BRKM_FORCED_CLOSED, NULL), 1);
	sl_brk_policy(bp, 2, 50, SL_BRK_PANIC_FAIL_CLOSED, v, &sv);
	assert_int_equal(sv.panic, 0);
	assert_int_equal(v[0].dp, SL_BRK_CLOSED);
	assert_int_equal(v[1].dp, SL_BRK_OPEN);
}

/* sl_brk_trip: an active check's fall, or state adopted at restart. */
static void test_forced_trip(void **st __attribute__((unused)))
{
	struct sl_brk_cfg c;
	struct sl_brk_trans t;
	struct sl_brk b;

	cfg_consec(&c);
	init(&b, &c);
	assert_int_equal(sl_brk_trip(&b, T0, SL_BRK_SIG_CHECK, "check fall reached: refused", &t), 1);
	assert_int_equal(t.from, SL_BRKS_CLOSED);
	assert_int_equal(t.to, SL_BRKS_OPEN);
	assert_int_equal(t.signal, SL_BRK_SIG_CHECK);
	assert_string_equal(t.reason, "check fall reached: refused");
	assert_int_equal(sl_brk_effective(&b), SL_BRK_OPEN);
	/* already open: nothing */
	assert_int_equal(sl_brk_trip(&b, T0 + MS, SL_BRK_SIG_CHECK, "again", &t), 0);
	/* from HALF_OPEN it reopens with a doubled time */
	assert_int_equal(sl_brk_tick(&b, T0 + 10000 * MS, &t), 1);
	assert_int_equal(sl_brk_state(&b), SL_BRKS_HALF_OPEN);
	assert_int_equal(sl_brk_trip(&b, T0 + 10001 * MS, SL_BRK_SIG_MAX, "adopted", &t), 1);
	assert_int_equal(t.from, SL_BRKS_HALF_OPEN);
	assert_int_equal(t.open_ms, 2 * c.open_ms);
	/* a manual mode freezes the automaton: no trip */
	init(&b, &c);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_FORCED_CLOSED, &t), 1);
	assert_int_equal(sl_brk_trip(&b, T0, SL_BRK_SIG_CHECK, "x", &t), 0);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
	/* METRICS_ONLY: the automaton trips, the data path is not told */
	init(&b, &c);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_METRICS_ONLY, &t), 1);
	assert_int_equal(sl_brk_trip(&b, T0, SL_BRK_SIG_CHECK, "x", &t), 1);
	assert_int_equal(t.enforced, 0);
	assert_int_equal(sl_brk_effective(&b), SL_BRK_CLOSED);
}

/* Slow calls: a rate over the last calls, min volume, proportional bulk
 * feeding, only CLOSED trips, off when slow_call_rate is 0. */
static void test_slow_calls(void **st __attribute__((unused)))
{
	struct sl_brk_cfg c;
	struct sl_brk_trans t;
	struct sl_brk b;
	char err[128];

	cfg_consec(&c);                 /* count window of 20, min_volume 10 */
	c.slow_call_ms = 200;
	c.slow_call_rate = 50;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), 0);
	init(&b, &c);
	/* below min_volume: 5 slow of 5 does not trip */
	assert_int_equal(sl_brk_calls(&b, T0, 0, 5, &t), 0);
	/* 4 fast: 5 of 9, still under the volume */
	assert_int_equal(sl_brk_calls(&b, T0, 4, 0, &t), 0);
	/* one more fast: 5 slow of 10 = 50% >= 50%: trips */
	assert_int_equal(sl_brk_calls(&b, T0, 1, 0, &t), 1);
	assert_int_equal(t.to, SL_BRKS_OPEN);
	assert_int_equal(t.signal, SL_BRK_SIG_SLOW);
	assert_string_equal(t.reason, "slow_calls 50% >= 50% over 10 (slower than 200 ms)");
	/* OPEN: calls fill the (cleared) window, no transition */
	assert_int_equal(sl_brk_calls(&b, T0, 0, 20, &t), 0);

	/* 49% never trips; the window slides: old slow calls leave it */
	init(&b, &c);
	assert_int_equal(sl_brk_calls(&b, T0, 11, 9, &t), 0);     /* 9/20 = 45% */
	assert_int_equal(sl_brk_calls(&b, T0, 20, 0, &t), 0);     /* all fast now */
	assert_int_equal(b.slow_n, 0);
	assert_int_equal(b.slow_len, 20);
	/* a bulk larger than the window keeps its proportion: 30 fast, 30 slow -> 10/10 */
	assert_int_equal(sl_brk_calls(&b, T0, 30, 30, &t), 1);
	assert_int_equal(t.signal, SL_BRK_SIG_SLOW);

	/* off: no rate, nothing happens; config rules */
	c.slow_call_rate = 0;
	init(&b, &c);
	assert_int_equal(sl_brk_calls(&b, T0, 0, 100, &t), 0);
	c.slow_call_rate = 101;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "slow_call_rate 101: must be 0 (off) to 100");
	c.slow_call_rate = 10;
	c.slow_call_ms = 0;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "slow_call_rate without slow_call_ms: no call could be slow");
	/* slow calls alone may be the only rule */
	c.slow_call_ms = 100;
	c.consecutive_failures = 0;
	c.failure_rate = 0;
	assert_int_equal(sl_brk_cfg_check(&c, err, sizeof(err)), 0);
	/* manual modes freeze it */
	init(&b, &c);
	assert_int_equal(sl_brk_set_mode(&b, T0, SL_BRKM_FORCED_CLOSED, &t), 1);
	assert_int_equal(sl_brk_calls(&b, T0, 0, 50, &t), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cfg_check),
		cmocka_unit_test(test_bad_signals),
		cmocka_unit_test(test_consecutive_cycle),
		cmocka_unit_test(test_run_broken),
		cmocka_unit_test(test_half_open_failure),
		cmocka_unit_test(test_backoff_cap),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_rate_count_edges),
		cmocka_unit_test(test_rate_count_wrap),
		cmocka_unit_test(test_rate_time_rollover),
		cmocka_unit_test(test_both_rules),
		cmocka_unit_test(test_manual_override_release),
		cmocka_unit_test(test_metrics_only),
		cmocka_unit_test(test_ejection_cap),
		cmocka_unit_test(test_panic),
		cmocka_unit_test(test_forced_trip),
		cmocka_unit_test(test_slow_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
