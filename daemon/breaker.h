/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Circuit breakers: one per backend, pure logic. No I/O, no globals, no
 * clock reads: every input carries now_ns (CLOCK_MONOTONIC), randomness
 * comes from an injected source. The caller feeds outcomes (active checks
 * and passive signals), calls sl_brk_tick() for time-based transitions,
 * logs/publishes each transition's reason, writes sl_brk_effective() (or
 * the service policy's verdict) into sl_backend.breaker and, on entering
 * HALF_OPEN, the transition's trial_tokens into sl_bk_live.trial_tokens.
 *
 */
#ifndef SLUICE_BREAKER_H
#define SLUICE_BREAKER_H

#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>

/* What the breaker reports (enum sl_breaker is what the data path knows). */
enum sl_brk_state {
	SL_BRKS_CLOSED = 0,
	SL_BRKS_OPEN,
	SL_BRKS_HALF_OPEN,
	SL_BRKS_DRAINING,       /* manual: no new flows, old ones stay */
	SL_BRKS_FORCED_OPEN,    /* manual: no new flows */
	SL_BRKS_FORCED_CLOSED,  /* manual: always admits */
	SL_BRKS_METRICS_ONLY,   /* evaluates and reports, never enforces */
	SL_BRKS_MAX,
};

/* Manual modes; AUTO is the automaton enforcing. */
enum sl_brk_mode {
	SL_BRKM_AUTO = 0,
	SL_BRKM_DRAINING,
	SL_BRKM_FORCED_OPEN,
	SL_BRKM_FORCED_CLOSED,
	SL_BRKM_METRICS_ONLY,
	SL_BRKM_MAX,
};

enum sl_brk_signal {
	SL_BRK_SIG_CHECK = 0,       /* active health check (success or failure) */
	SL_BRK_SIG_FLOW,            /* passive success: a flow's handshake completed */
	SL_BRK_SIG_REFUSED,         /* RST from the backend while PENDING */
	SL_BRK_SIG_TIMEOUT,         /* connect timeout */
	SL_BRK_SIG_ICMP,            /* ICMP unreachable from/about the backend */
	SL_BRK_SIG_RESET,           /* reset after establishment */
	SL_BRK_SIG_SLOW,            /* slow call (caller's threshold) */
	SL_BRK_SIG_MAX,
};

enum sl_brk_window_kind { SL_BRK_WIN_COUNT = 0, SL_BRK_WIN_TIME = 1 };

/* Service-level panic setting (sl_svc.panic) */
enum sl_brk_panic { SL_BRK_PANIC_FAIL_OPEN = 0, SL_BRK_PANIC_FAIL_CLOSED = 1 };

#define SL_BRK_COUNT_WINDOW_MAX 1024  /* outcomes (count window) */
#define SL_BRK_TIME_WINDOW_MIN  10    /* ms (time window) */
#define SL_BRK_TIME_WINDOW_MAX  3600000
#define SL_BRK_BUCKETS          10    /* time window: W/10 ms per bucket */
#define SL_BRK_JITTER_MAX       100   /* percent */
#define SL_BRK_TRIALS_MAX       1000
#define SL_BRK_REASON_MAX       96
#define SL_BRK_SLOW_WINDOW      100   /* calls, when the failure window is time-based */

struct sl_brk_cfg {
	__u32 consecutive_failures; /* trip after this many in a row; 0: off */
	__u32 failure_rate;         /* percent 1..100; 0: off */
	__u32 window_kind;          /* enum sl_brk_window_kind */
	__u32 window;               /* outcomes (COUNT) or ms (TIME) */
	__u32 min_volume;           /* outcomes in the window before the rate counts (>= 1) */
	__u32 open_ms;              /* first OPEN duration */
	__u32 open_max_ms;          /* cap of the doubling (before jitter) */
	__u32 jitter_pct;           /* OPEN += [0, jitter_pct% of it) */
	__u32 half_open_trials;     /* trial tokens, >= 1 */
	__u32 slow_call_ms;         /* a handshake longer than this is a slow call (0: off) */
	__u32 slow_call_rate;       /* percent 1..100 of slow calls over the last calls that
	                               trips (0: off); over a count window of `window` calls
	                               (count windows) or of SL_BRK_SLOW_WINDOW, at least
	                               min_volume of them */
};

typedef __u32 (*sl_brk_rand_fn)(void *ctx);   /* uniform over 0..2^32-1 */

/* One transition. from/to are reported states; for METRICS_ONLY they are
 * the automaton's (what it would do) and enforced is 0. */
struct sl_brk_trans {
	__u64 at_ns;
	__u8  from, to;             /* enum sl_brk_state */
	__u8  enforced;
	__u8  signal;               /* enum sl_brk_signal that caused it; SL_BRK_SIG_MAX: none */
	__u32 open_ms;              /* to OPEN: the duration chosen, jitter included */
	__u32 trial_tokens;         /* to HALF_OPEN: tokens to write into the data path */
	char  reason[SL_BRK_REASON_MAX];
};

struct sl_brk_bucket { __u64 epoch; __u32 total, fails; };

struct sl_brk {
	struct sl_brk_cfg cfg;
	sl_brk_rand_fn rnd;
	void *rnd_ctx;

	__u8  mode;                 /* enum sl_brk_mode */
	__u8  state;                /* automaton: CLOSED, OPEN or HALF_OPEN */
	__u8  capped;               /* set by sl_brk_policy(): OPEN but kept serving */
	__u8  panic;                /* set by sl_brk_policy(): serving (or refused) by panic */
	__u32 consecutive;          /* failures in a row (CLOSED) */
	__u32 trips;                /* consecutive trips (reset when trials succeed) */
	__u32 trials_ok;            /* HALF_OPEN: trial successes so far */
	__u64 opened_ns;            /* when OPEN began */
	__u64 open_until_ns;        /* OPEN ends (tick) */

	/* count window: ring of the last cfg.window outcomes, 1 bit = failure */
	__u64 ring[SL_BRK_COUNT_WINDOW_MAX / 64];
	__u32 ring_head, ring_len, ring_fails;
	/* time window: SL_BRK_BUCKETS buckets of window/SL_BRK_BUCKETS ms */
	struct sl_brk_bucket buckets[SL_BRK_BUCKETS];
	/* slow calls: ring of the last calls, 1 bit = slow */
	__u64 slow_ring[SL_BRK_COUNT_WINDOW_MAX / 64];
	__u32 slow_head, slow_len, slow_n;

	/* for show and metrics */
	__u64 successes, failures[SL_BRK_SIG_MAX], trips_total, transitions;
	struct sl_brk_trans last;
};

/* Defaults of DESIGN.md's example: 3 in a row, 50% over 20 (min 10),
 * 1 s doubling to 30 s, 10% jitter, 3 trials. */
void sl_brk_cfg_defaults(struct sl_brk_cfg *c);
/* 0 or -EINVAL with the reason in err. */
int  sl_brk_cfg_check(const struct sl_brk_cfg *c, char *err, size_t errlen);

/* CLOSED, AUTO, empty window. rnd may be NULL (no jitter). 0 or -EINVAL. */
int  sl_brk_init(struct sl_brk *b, const struct sl_brk_cfg *c, sl_brk_rand_fn rnd, void *rnd_ctx);

/*
 * Inputs. Each returns 1 when a transition happened (copied into *t when
 * t is not NULL, and always into b->last), 0 when none, -EINVAL for a
 * signal that is not an outcome of that kind (success: CHECK or FLOW;
 * failure: anything but FLOW). Outcomes never make time-based transitions:
 * only sl_brk_tick() ends OPEN.
 */
int  sl_brk_success(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, struct sl_brk_trans *t);
int  sl_brk_failure(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, struct sl_brk_trans *t);
int  sl_brk_tick(struct sl_brk *b, __u64 now_ns, struct sl_brk_trans *t);

/*
 * A success completed after the next failure's attempt began (a connect
 * that timed out while other connects to the backend went through): in
 * time order that failure does not continue the run before it, so it
 * starts a new one. Only the consecutive count moves (to 0, in CLOSED);
 * the success itself was fed already.
 */
void sl_brk_run_broken(struct sl_brk *b);

/*
 * Completed calls (handshakes) since the last feed: fast ones and slow ones
 * (longer than cfg.slow_call_ms). In CLOSED, the slow-call rate is
 * evaluated over the slow window and trips with signal SLOW ("slow_calls
 * ..."); elsewhere they only fill the window. Successes for the failure
 * rules are fed separately (sl_brk_success). 1 on a transition, else 0.
 */
int  sl_brk_calls(struct sl_brk *b, __u64 now_ns, __u32 fast, __u32 slow, struct sl_brk_trans *t);

/* Trip now, whatever the window says (an active check's fall reached, or
 * state adopted from a previous daemon): CLOSED or HALF_OPEN -> OPEN with
 * reason why. 1 when it tripped; 0 when already OPEN or the automaton is
 * frozen by a manual mode. sig may be SL_BRK_SIG_MAX (none). */
int  sl_brk_trip(struct sl_brk *b, __u64 now_ns, enum sl_brk_signal sig, const char *why,
		 struct sl_brk_trans *t);

/* Manual control: DRAINING, FORCED_OPEN, FORCED_CLOSED, METRICS_ONLY, or
 * AUTO (release). Reason "manual: <mode>". Returns 1 (a transition) or 0
 * when the mode is already set, -EINVAL for a bad mode. */
int  sl_brk_set_mode(struct sl_brk *b, __u64 now_ns, enum sl_brk_mode m, struct sl_brk_trans *t);

/* What to report: the manual mode's state, else the automaton's. */
enum sl_brk_state sl_brk_state(const struct sl_brk *b);
/* The automaton's state (CLOSED/OPEN/HALF_OPEN): in METRICS_ONLY what it would do. */
enum sl_brk_state sl_brk_auto_state(const struct sl_brk *b);
/* What the data path enforces for this breaker alone (before sl_brk_policy()). */
enum sl_breaker sl_brk_effective(const struct sl_brk *b);

/* Outcomes in the window now (the time window is evaluated at now_ns). */
void sl_brk_window(const struct sl_brk *b, __u64 now_ns, __u32 *total, __u32 *fails);

const char *sl_brk_state_name(enum sl_brk_state s);   /* "closed", "half_open", ... */
const char *sl_brk_mode_name(enum sl_brk_mode m);     /* "auto", "draining", ... */
const char *sl_brk_signal_name(enum sl_brk_signal s); /* "check", "connect_refused", ... */
const char *sl_brk_reason(const struct sl_brk *b);    /* the last transition's reason, "" if none */

/*
 * Service policy. For n backends' breakers (the service's members),
 * decide what each one's data path value is:
 *  - manual DRAINING / FORCED_OPEN are always honoured, and count against
 *    the ejection budget floor(max_ejection_pct * n / 100);
 *  - automatic OPEN / HALF_OPEN breakers are ejected oldest trip first
 *    while budget remains; the rest keep serving (CLOSED), flag CAPPED;
 *  - when every backend is unhealthy (automatic OPEN/HALF_OPEN, DRAINING
 *    or FORCED_OPEN; METRICS_ONLY never counts), panic: FAIL_OPEN serves
 *    every automatically unhealthy backend (manual ones stay out),
 *    FAIL_CLOSED ejects all (the service's reject action applies).
 * Writes out[i] and the breakers' capped/panic flags.
 */
enum sl_brk_verdict_flags {
	SL_BRK_V_EJECTED = 1 << 0,  /* takes no new flows (state says why) */
	SL_BRK_V_CAPPED  = 1 << 1,  /* would be ejected; max_ejection_percent keeps it serving */
	SL_BRK_V_PANIC   = 1 << 2,  /* its value was decided by panic */
};
struct sl_brk_verdict {
	__u8 dp;                    /* enum sl_breaker to write into sl_backend.breaker */
	__u8 flags;                 /* enum sl_brk_verdict_flags */
};
struct sl_brk_svc_verdict {
	__u32 budget;               /* floor(pct * n / 100) */
	__u32 ejected, capped;
	__u8  panic;                /* 0: no; else 1 + enum sl_brk_panic */
};
void sl_brk_policy(struct sl_brk *const *b, unsigned n, __u8 max_ejection_pct, __u8 panic,
		   struct sl_brk_verdict *out, struct sl_brk_svc_verdict *sv);

#endif
