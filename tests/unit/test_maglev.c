// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Unit tests: weighted Maglev table construction and the flow's candidates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "maglev.h"

/* Backend i: 198.19.<i/250>.<11 + i%250>:80/tcp, or 2001:2:0:2::<i+11>. */
static void mk(struct sl_maglev_backend *b, unsigned i, __u32 weight, int v6)
{
	memset(b, 0, sizeof(*b));
	if (v6) {
		b->addr.family = SL_AF_INET6;
		b->addr.addr[0] = htonl(0x20010002);
		b->addr.addr[1] = htonl(0x00000002);
		b->addr.addr[3] = htonl(i + 11);
	} else {
		b->addr.family = SL_AF_INET;
		b->addr.addr[0] = htonl(0xc6130000u | (i / 250) << 8 | (11 + i % 250));
	}
	b->addr.port = htons(80);
	b->addr.proto = IPPROTO_TCP;
	b->weight = weight;
	b->id = 100 + i;
}

static __u32 *build(const struct sl_maglev_backend *b, unsigned n, __u32 M)
{
	__u32 *t = malloc((M ? M : 1) * sizeof(*t));

	assert_non_null(t);
	assert_int_equal(sl_maglev_build(b, n, M, t), 0);
	return t;
}

/* Every slot holds a given id with weight > 0; shares within 1 point. */
static double check_shares(const struct sl_maglev_backend *b, unsigned n,
			   __u32 M, const __u32 *t)
{
	unsigned *cnt = calloc(n, sizeof(*cnt));
	double W = 0, worst = 0;

	assert_non_null(cnt);
	for (unsigned i = 0; i < n; i++)
		W += b[i].weight;
	for (__u32 s = 0; s < M; s++) {
		unsigned i;

		for (i = 0; i < n; i++)
			if (b[i].id == t[s])
				break;
		if (i == n)
			fail_msg("slot %u holds id %u, not a backend's", s, t[s]);
		if (!b[i].weight)
			fail_msg("slot %u holds id %u of weight 0", s, t[s]);
		cnt[i]++;
	}
	for (unsigned i = 0; i < n; i++) {
		double got = 100.0 * cnt[i] / M, want = 100.0 * b[i].weight / W;
		double dev = got > want ? got - want : want - got;

		if (dev > 1.0)
			fail_msg("backend %u (weight %u): %.2f%% of slots, weight share %.2f%%",
				 i, b[i].weight, got, want);
		if (b[i].weight && !cnt[i])
			fail_msg("backend %u has weight %u but no slot", i, b[i].weight);
		if (dev > worst)
			worst = dev;
	}
	free(cnt);
	return worst;
}

static void test_is_prime(void **state)
{
	static const __u32 yes[] = { 2, 3, 5, 101, 307, 1009, 10007, 65521, 65537, 4294967291u };
	static const __u32 no[] = { 0, 1, 4, 9, 25, 1007, 65535, 65541, 4294967295u };

	for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(sl_is_prime(yes[i]));
	for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sl_is_prime(no[i]));
}

static void test_default_size(void **state)
{
	assert_int_equal(sl_maglev_default_size(0), 0);
	assert_int_equal(sl_maglev_default_size(1), 101);
	assert_int_equal(sl_maglev_default_size(2), 211);
	assert_int_equal(sl_maglev_default_size(3), 307);
	assert_int_equal(sl_maglev_default_size(10), 1009);
	assert_int_equal(sl_maglev_default_size(100), 10007);
	assert_int_equal(sl_maglev_default_size(655), 65519);
	assert_int_equal(sl_maglev_default_size(656), 65537);
	assert_int_equal(sl_maglev_default_size(700), 65537);
	assert_int_equal(sl_maglev_default_size(65535), 65537);
	assert_int_equal(sl_maglev_default_size(~0u), 65537);
	for (unsigned n = 1; n < 800; n++) {
		__u32 m = sl_maglev_default_size(n);

		assert_true(sl_is_prime(m));
		assert_true(m >= n);
		assert_true(m <= SL_MAGLEV_MAX);
	}
}

struct share_case {
	const char *name;
	unsigned n;
	__u32 M;                    /* 0: default */
	int v6;
	__u32 (*weight)(unsigned i);
};

static __u32 w_one(unsigned i) { return 1; }
static __u32 w_seq(unsigned i) { return i % 10 + 1; }
static __u32 w_mixed(unsigned i) { return (i * 7919u) % 100; }   /* some 0 */
static __u32 w_skew(unsigned i) { return i ? 1 : 65535; }

static void test_shares(void **state)
{
	static const struct share_case cases[] = {
		{ "3 equal", 3, 0, 0, w_one },
		{ "3 equal v6", 3, 0, 1, w_one },
		{ "10 weights 1..10", 10, 0, 0, w_seq },
		{ "10 weights 1..10 M=65537", 10, 65537, 0, w_seq },
		{ "100 equal M=65537", 100, 65537, 0, w_one },
		{ "100 weights 1..10 M=65537", 100, 65537, 1, w_seq },
		{ "50 weights 0..99", 50, 0, 0, w_mixed },
		{ "2 equal M=2", 2, 2, 0, w_one },
		{ "5 equal M=5", 5, 5, 0, w_one },
		{ "1000 equal", 1000, 0, 0, w_one },
	};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct share_case *sc = &cases[c];
		struct sl_maglev_backend *b = calloc(sc->n, sizeof(*b));
		__u32 M, *t;
		double worst;

		assert_non_null(b);
		for (unsigned i = 0; i < sc->n; i++)
			mk(&b[i], i, sc->weight(i), sc->v6);
		M = sc->M ? sc->M : sl_maglev_default_size(sc->n);
		t = build(b, sc->n, M);
		worst = check_shares(b, sc->n, M, t);
		printf("maglev: %s (M=%u): worst share deviation %.3f points\n",
		       sc->name, M, worst);
		free(t);
		free(b);
	}
}

/* A weight of 65535 next to weights of 1: every weighted backend gets a slot. */
static void test_skewed_weights(void **state)
{
	struct sl_maglev_backend b[20];
	unsigned cnt[20] = { 0 };
	__u32 M = sl_maglev_default_size(20), *t;

	for (unsigned i = 0; i < 20; i++)
		mk(&b[i], i, w_skew(i), 0);
	t = build(b, 20, M);
	for (__u32 s = 0; s < M; s++)
		cnt[t[s] - 100]++;
	for (unsigned i = 1; i < 20; i++)
		assert_int_equal(cnt[i], 1);
	assert_int_equal(cnt[0], M - 19);
	free(t);
}

static void test_order_independent(void **state)
{
	enum { N = 40 };
	struct sl_maglev_backend b[N], r[N];
	__u32 M = sl_maglev_default_size(N), *t1, *t2, *t3;

	for (unsigned i = 0; i < N; i++)
		mk(&b[i], i, w_seq(i), i & 1);
	for (unsigned i = 0; i < N; i++)
		r[i] = b[N - 1 - i];
	t1 = build(b, N, M);
	t2 = build(r, N, M);
	assert_memory_equal(t1, t2, M * sizeof(*t1));
	for (unsigned i = 0; i < N; i++)       /* a stride-7 shuffle */
		r[i] = b[(i * 7 + 3) % N];
	t3 = build(r, N, M);
	assert_memory_equal(t1, t3, M * sizeof(*t1));
	free(t1);
	free(t2);
	free(t3);
}

/* Weight 0 is the same table as not being there at all. */
static void test_weight_zero_is_absent(void **state)
{
	enum { N = 10 };
	struct sl_maglev_backend b[N], c[N];
	__u32 M = sl_maglev_default_size(N), *t1, *t2;

	for (unsigned i = 0; i < N; i++)
		mk(&b[i], i, 1, 0);
	memcpy(c, b, sizeof(b));
	c[4].weight = 0;
	t1 = build(c, N, M);
	memmove(&c[4], &c[5], (N - 5) * sizeof(c[0]));
	t2 = build(c, N - 1, M);
	assert_memory_equal(t1, t2, M * sizeof(*t1));
	for (__u32 s = 0; s < M; s++)
		assert_int_not_equal(t1[s], b[4].id);
	free(t1);
	free(t2);
}

/*
 * Remove each backend in turn: all its slots move (to others), and at most
 * max_pct of the other slots change hands (avg_pct on average).
 */
static void disruption(unsigned n, __u32 (*weight)(unsigned), const char *what,
		       double max_pct, double avg_pct)
{
	struct sl_maglev_backend *b = calloc(n, sizeof(*b)), *c = calloc(n, sizeof(*c));
	__u32 M = sl_maglev_default_size(n), *t0, *t1;
	double worst = 0, sum = 0;

	assert_non_null(b);
	assert_non_null(c);
	for (unsigned i = 0; i < n; i++)
		mk(&b[i], i, weight(i), 0);
	t0 = build(b, n, M);
	for (unsigned r = 0; r < n; r++) {
		unsigned m = 0, other = 0, moved = 0;
		double pct;

		for (unsigned i = 0; i < n; i++)
			if (i != r)
				c[m++] = b[i];
		t1 = build(c, m, M);
		check_shares(c, m, M, t1);
		for (__u32 s = 0; s < M; s++) {
			if (t0[s] == b[r].id) {
				assert_int_not_equal(t1[s], b[r].id);
				continue;
			}
			other++;
			moved += t0[s] != t1[s];
		}
		pct = 100.0 * moved / other;
		sum += pct;
		if (pct > worst)
			worst = pct;
		if (pct > max_pct)
			fail_msg("removing backend %u of %u (%s, M=%u) moved %u of %u other slots (%.2f%%)",
				 r, n, what, M, moved, other, pct);
		free(t1);
	}
	printf("maglev: removing 1 of %u (%s, M=%u) moved %.2f%% of other slots on average, %.2f%% at worst\n",
	       n, what, M, sum / n, worst);
	if (sum / n > avg_pct)
		fail_msg("removing 1 of %u (%s) moved %.2f%% of other slots on average",
			 n, what, sum / n);
	free(t0);
	free(b);
	free(c);
}

static void test_disruption_10(void **state) { disruption(10, w_one, "equal weights", 1.0, 1.0); }
static void test_disruption_3(void **state) { disruption(3, w_one, "equal weights", 1.0, 1.0); }
static void test_disruption_30(void **state) { disruption(30, w_one, "equal weights", 1.0, 1.0); }

/*
 * Weighted: the average stays under 1%, but single removals can reach a few
 * percent when two backends' permutations are correlated (see
 * docs/decisions.md, "Maglev table construction"); 3.37% here at worst.
 */
static void test_disruption_10w(void **state) { disruption(10, w_seq, "weights 1..10", 4.0, 1.0); }

/* Doubling one weight: the other backends keep nearly all their slots. */
static void test_weight_change(void **state)
{
	enum { N = 10 };
	struct sl_maglev_backend b[N];
	__u32 M = sl_maglev_default_size(N), *t0, *t1;
	unsigned moved = 0, lost = 0;

	for (unsigned i = 0; i < N; i++)
		mk(&b[i], i, 2, 0);
	t0 = build(b, N, M);
	b[3].weight = 4;
	t1 = build(b, N, M);
	check_shares(b, N, M, t1);
	for (__u32 s = 0; s < M; s++) {
		if (t0[s] == t1[s])
			continue;
		moved++;
		/* what changes hands should mostly go to the heavier backend */
		lost += t1[s] != b[3].id;
	}
	printf("maglev: doubling 1 of 10 weights moved %u of %u slots, %u of them not to it\n",
	       moved, M, lost);
	assert_true(moved >= M / 11 - 10);       /* it gains ~ 2/11 - 1/10 of M */
	assert_true(lost <= M / 50);
	free(t0);
	free(t1);
}

static void test_build_errors(void **state)
{
	struct sl_maglev_backend b[3];
	__u32 t[1009];

	for (unsigned i = 0; i < 3; i++)
		mk(&b[i], i, 1, 0);
	assert_int_equal(sl_maglev_build(b, 3, 1008, t), -EINVAL);   /* not prime */
	assert_int_equal(sl_maglev_build(b, 3, 2, t), -EINVAL);      /* too small */
	assert_int_equal(sl_maglev_build(b, 3, 0, t), -EINVAL);
	assert_int_equal(sl_maglev_build(b, 3, 65539, t), -EINVAL);  /* > max, prime */
	assert_int_equal(sl_maglev_build(b, 3, 307, NULL), -EINVAL);
	assert_int_equal(sl_maglev_build(NULL, 3, 307, t), -EINVAL);
	assert_int_equal(sl_maglev_build(b, 3, 3, t), 0);            /* one slot each */
	assert_int_not_equal(t[0], t[1]);
	assert_int_not_equal(t[1], t[2]);
	assert_int_not_equal(t[0], t[2]);

	/* no backends or no weight: all zero ("none") */
	memset(t, 0xff, sizeof(t));
	assert_int_equal(sl_maglev_build(NULL, 0, 1009, t), 0);
	for (unsigned s = 0; s < 1009; s++)
		assert_int_equal(t[s], 0);
	memset(t, 0xff, sizeof(t));
	b[0].weight = b[1].weight = b[2].weight = 0;
	assert_int_equal(sl_maglev_build(b, 3, 307, t), 0);
	for (unsigned s = 0; s < 307; s++)
		assert_int_equal(t[s], 0);
	assert_int_equal(sl_maglev_build(b, 3, 0, NULL), 0);

	/* two weight 0, one weighted: fits M = 1; 2 weighted do not */
	b[1].weight = 5;
	assert_int_equal(sl_maglev_build(b, 3, 1, t), 0);
	assert_int_equal(t[0], b[1].id);
	b[2].weight = 1;
	assert_int_equal(sl_maglev_build(b, 3, 1, t), -EINVAL);
}

static void mkflow(struct sl_flow_key *k, unsigned i)
{
	memset(k, 0, sizeof(*k));
	k->src[0] = htonl(0xc6120000u | (i & 0xffff));
	k->dst[0] = htonl(0xc6120164u);      /* 198.18.1.100 */
	k->sport = htons(1024 + (i >> 4));
	k->dport = htons(80);
	k->proto = IPPROTO_TCP;
	k->family = SL_AF_INET;
}

static void test_candidates(void **state)
{
	static const __u32 sizes[] = { 2, 3, 101, 1009, 65537 };
	__u32 *ident = malloc(65537 * sizeof(*ident));

	assert_non_null(ident);
	for (__u32 s = 0; s < 65537; s++)
		ident[s] = s;           /* the candidate is then its slot */

	for (unsigned z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		__u32 M = sizes[z];

		for (unsigned f = 0; f < 2000; f++) {
			struct sl_flow_key k;
			__u32 h;

			mkflow(&k, f * 7919);
			h = sl_hash_flow(&k, SL_SEED_FLOW);
			for (unsigned i = 0; i < SL_PROBE_SLOTS; i++) {
				__u32 slot = sl_maglev_candidate(ident, M, &k, i);

				assert_true(slot < M);
				assert_int_equal(slot, sl_probe_slot(h, i, M));
			}
			assert_int_equal(sl_maglev_candidate(ident, M, &k, 0), h % M);
		}
	}
	/* M == 1: always slot 0; M == 0: none */
	{
		struct sl_flow_key k;
		__u32 one = 42;

		mkflow(&k, 1);
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(sl_maglev_candidate(&one, 1, &k, i), 42);
		assert_int_equal(sl_maglev_candidate(&one, 0, &k, 0), 0);
	}
	free(ident);
}

/*
 * The probes of a flow must not follow one backend's own slots. A Maglev
 * table is filled along each backend's permutation; probing by a fixed step
 * (h + i * step) walked that permutation for flows whose step was the
 * backend's skip, and found the refusing backend at every probe (seen in
 * the lab: ~1 flow in 300 could not leave a tripped backend). Over 30,000
 * flows of a 3-backend table, count those whose first SL_PROBE_SLOTS probes
 * see one backend only: random probes make that (1/3)^15 per flow, so
 * none; the fixed-step scheme had 139 here (416 within its 8 probes).
 */
static void test_probes_leave_a_backend(void **state)
{
	enum { N = 3, FLOWS = 30000 };
	struct sl_maglev_backend b[N];
	__u32 M = sl_maglev_default_size(N), *t;
	unsigned stuck = 0;

	for (unsigned i = 0; i < N; i++)
		mk(&b[i], i, 1, 0);
	t = build(b, N, M);
	for (unsigned f = 0; f < FLOWS; f++) {
		struct sl_flow_key k;
		__u32 first;
		int other = 0;

		mkflow(&k, f);
		first = sl_maglev_candidate(t, M, &k, 0);
		for (unsigned i = 1; i < SL_PROBE_SLOTS && !other; i++)
			other = sl_maglev_candidate(t, M, &k, i) != first;
		stuck += !other;
	}
	free(t);
	assert_int_equal(stuck, 0);
}

/* The first candidates of many flows follow the weights. */
static void test_candidates_follow_weights(void **state)
{
	enum { N = 4, FLOWS = 200000 };
	struct sl_maglev_backend b[N];
	unsigned cnt[N] = { 0 };
	__u32 M = sl_maglev_default_size(N), *t;

	for (unsigned i = 0; i < N; i++)
		mk(&b[i], i, i + 1, 0);             /* 10%, 20%, 30%, 40% */
	t = build(b, N, M);
	for (unsigned f = 0; f < FLOWS; f++) {
		struct sl_flow_key k;

		mkflow(&k, f);
		cnt[sl_maglev_candidate(t, M, &k, 0) - 100]++;
	}
	for (unsigned i = 0; i < N; i++) {
		double got = 100.0 * cnt[i] / FLOWS, want = 10.0 * (i + 1);

		if (got < want - 1.5 || got > want + 1.5)
			fail_msg("backend %u: %.2f%% of flows, want %.0f%%", i, got, want);
	}
	free(t);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Timings are printed; the bounds only catch a blow-up, not a slow host. */
static void test_speed(void **state)
{
	struct sl_maglev_backend b[10];
	__u32 *t = malloc(65537 * sizeof(*t));
	double t0, t1, t2;

	assert_non_null(t);
	t0 = now_ms();
	for (unsigned svc = 0; svc < 1000; svc++) {
		for (unsigned i = 0; i < 10; i++) {
			mk(&b[i], svc * 10 + i, svc & 1 ? i + 1 : 1, svc & 2);
		}
		assert_int_equal(sl_maglev_build(b, 10, 1009, t), 0);
	}
	t1 = now_ms();
	assert_int_equal(sl_maglev_build(b, 10, 65537, t), 0);
	t2 = now_ms();
	printf("maglev: 1000 services x 10 backends (M=1009) in %.1f ms; 10 backends at M=65537 in %.2f ms\n",
	       t1 - t0, t2 - t1);
	assert_true(t1 - t0 < 1000);
	assert_true(t2 - t1 < 200);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_prime),
		cmocka_unit_test(test_default_size),
		cmocka_unit_test(test_shares),
		cmocka_unit_test(test_skewed_weights),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_weight_zero_is_absent),
		cmocka_unit_test(test_disruption_10),
		cmocka_unit_test(test_disruption_3),
		cmocka_unit_test(test_disruption_30),
		cmocka_unit_test(test_disruption_10w),
		cmocka_unit_test(test_weight_change),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_candidates_follow_weights),
		cmocka_unit_test(test_probes_leave_a_backend),
		cmocka_unit_test(test_speed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
