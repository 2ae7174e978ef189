// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Weighted Maglev table construction. See maglev.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

int sl_is_prime(__u32 n)
{
	if (n < 2)
		return 0;
	if (n < 4)
		return 1;
	if (n % 2 == 0 || n % 3 == 0)
		return 0;
	for (__u64 i = 5; i * i <= n; i += 6)
		if (n % i == 0 || n % (i + 2) == 0)
			return 0;
	return 1;
}

__u32 sl_maglev_default_size(unsigned nr_backends)
{
	__u64 want = (__u64)SL_MAGLEV_FACTOR * nr_backends;

	if (nr_backends == 0)
		return 0;
	if (want >= SL_MAGLEV_MAX)
		return SL_MAGLEV_MAX;
	for (__u32 m = (__u32)want; m < SL_MAGLEV_MAX; m++)
		if (sl_is_prime(m))
			return m;
	return SL_MAGLEV_MAX;
}

/*
 * Balance slack: a backend's slot count may differ from its quota by
 * min(SLACK_PERMILLE_M / 1000 of M, SLACK_PCT_QUOTA % of its quota) slots.
 * Spending this slack on consistency is what keeps other backends' slots in
 * place when one backend comes or goes (see maglev.h).
 */
#define SLACK_PERMILLE_M   8
#define SLACK_PCT_QUOTA    10

/*
 * Times of the exponential clock, tm[j] = -ln(1 - (j + 1/2) / M), from
 * IEEE basic operations only (no libm, which the daemon does not link, and
 * the same bits on every host): tm[0] = ln(2M / (2M - 1)) and
 * tm[j] - tm[j-1] = ln((2M - 2j + 1) / (2M - 2j - 1)) = 2 atanh(1 / (2M - 2j)),
 * both series in z <= 1/2 that converge fast. The only products feeding
 * a sum are by 2 (exact), so a compiler's fused multiply-add cannot change
 * a bit either.
 */
static double atanh_small(double z)
{
	double z2 = z * z, term = z, sum = 0.0;

	for (int i = 1; i < 200 && term > 1e-20; i += 2) {
		sum += term / i;
		term *= z2;
	}
	return sum;
}

static void exp_clock(double *tm, __u32 M)
{
	/* ln(2M / (2M - 1)) = 2 atanh(1 / (4M - 1)) */
	tm[0] = 2.0 * atanh_small(1.0 / (4.0 * M - 1.0));
	for (__u32 j = 1; j < M; j++)
		tm[j] = tm[j - 1] + 2.0 * atanh_small(1.0 / (2.0 * (M - j)));
}

/* One weighted backend while building. */
struct mg {
	const struct sl_maglev_backend *b;
	__u32 rank;                 /* index in address order */
	__u32 pos;                  /* slot of its next proposal */
	__u32 skip;
	__u32 j;                    /* proposals made so far */
	__u32 quota, lo, hi, count;
	__u64 rem;                  /* apportionment remainder */
};

static int cmp_l4addr(const struct sl_l4addr *a, const struct sl_l4addr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r)
		return r;
	r = memcmp(&a->port, &b->port, sizeof(a->port));
	if (r)
		return r;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

/* Address order; weight and id only break ties between equal addresses. */
static int cmp_backend(const void *pa, const void *pb)
{
	const struct sl_maglev_backend *a = *(const struct sl_maglev_backend *const *)pa;
	const struct sl_maglev_backend *b = *(const struct sl_maglev_backend *const *)pb;
	int r = cmp_l4addr(&a->addr, &b->addr);

	if (r)
		return r;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

/* Largest remainder first, then address order. */
static int cmp_rem(const void *pa, const void *pb)
{
	const struct mg *a = *(const struct mg *const *)pa;
	const struct mg *b = *(const struct mg *const *)pb;

	if (a->rem != b->rem)
		return a->rem > b->rem ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/*
 * Heap of turns: (time of the next proposal, rank) in one 64-bit integer,
 * so comparisons are cheap and the order is total. A time is a
 * non-negative double, whose bits order like the number; the top 47 bits
 * are kept (sign, exponent and 35 bits of mantissa: integers below 2^35
 * exactly, anything else to 3e-11 relative), the low 17 hold the rank
 * (k <= SL_MAGLEV_MAX < 2^17). Times that close count as a tie, broken by
 * address order like exact ties: the same on every host.
 */
typedef __u64 turn_t;
#define RANK_BITS 17
#define RANK_MASK ((1u << RANK_BITS) - 1)

static inline turn_t mkturn(double time, __u32 rank)
{
	__u64 u;

	memcpy(&u, &time, sizeof(u));
	return (u >> RANK_BITS << RANK_BITS) | rank;
}

static void sift_down(turn_t *h, unsigned n, unsigned i)
{
	turn_t x = h[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= n)
			break;
		c += c + 1 < n && h[c + 1] < h[c];
		if (h[c] >= x)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* Largest quota first, then address order. */
static int cmp_quota(const void *pa, const void *pb)
{
	const struct mg *a = *(const struct mg *const *)pa;
	const struct mg *b = *(const struct mg *const *)pb;

	if (a->quota != b->quota)
		return a->quota > b->quota ? -1 : 1;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/*
 * Quotas: M slots in proportion to weight (largest remainder, ties in
 * address order; exact integer arithmetic: M < 2^17, weights < 2^32), then
 * a slot for every weighted backend left with none, taken from the largest
 * quotas down. Bounds: quota -+ min(0.8% of M, 10% of quota), at least 1.
 */
static int apportion(struct mg *g, unsigned k, __u32 M)
{
	struct mg **tmp = malloc(k * sizeof(*tmp));
	__u64 W = 0, given = 0;
	unsigned i, zero = 0;

	if (!tmp)
		return -ENOMEM;
	for (i = 0; i < k; i++)
		W += g[i].b->weight;
	for (i = 0; i < k; i++) {
		__u64 x = (__u64)M * g[i].b->weight;

		g[i].quota = (__u32)(x / W);
		g[i].rem = x % W;
		given += x / W;
		tmp[i] = &g[i];
	}
	qsort(tmp, k, sizeof(*tmp), cmp_rem);
	for (i = 0; given < M; i++, given++)
		tmp[i]->quota++;

	for (i = 0; i < k; i++) {
		if (!g[i].quota) {
			g[i].quota = 1;
			zero++;
		}
	}
	if (zero) {             /* lower the top quotas to a common level */
		unsigned m = 1;
		__u32 level, next;

		qsort(tmp, k, sizeof(*tmp), cmp_quota);
		level = tmp[0]->quota;
		for (;;) {
			__u64 avail;

			while (m < k && tmp[m]->quota == level)
				m++;
			next = m < k ? tmp[m]->quota : 1;
			avail = (__u64)(level - next) * m;
			if (avail >= zero) {
				for (i = 0; i < m; i++)
					tmp[i]->quota = level - zero / m - (i < zero % m);
				break;
			}
			zero -= (unsigned)avail;
			level = next;
		}
	}

	for (i = 0; i < k; i++) {
		__u32 d1 = (__u32)((__u64)M * SLACK_PERMILLE_M / 1000);
		__u32 d2 = g[i].quota * SLACK_PCT_QUOTA / 100;
		__u32 d = d1 < d2 ? d1 : d2;

		g[i].lo = g[i].quota > d + 1 ? g[i].quota - d : 1;
		g[i].hi = g[i].quota + d;
	}
	free(tmp);
	return 0;
}

int sl_maglev_build(const struct sl_maglev_backend *bks, unsigned n, __u32 M,
		    __u32 *table)
{
	const struct sl_maglev_backend **sorted = NULL;
	struct mg *g = NULL;
	turn_t *heap = NULL;
	unsigned char *used = NULL;
	double *tm = NULL;
	unsigned k = 0, i, live;
	__u32 w0 = 0, free_slots, deficit = 0;
	int uniform = 1, ret = -ENOMEM;

	if (n && !bks)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!bks[i].weight)
			continue;
		if (k++ == 0)
			w0 = bks[i].weight;
		else if (bks[i].weight != w0)
			uniform = 0;
	}
	if ((M && !table) || M > SL_MAGLEV_MAX)
		return -EINVAL;
	if (k == 0) {
		if (M)
			memset(table, 0, (size_t)M * sizeof(*table));
		return 0;
	}
	if (k > M || (M != 1 && !sl_is_prime(M)))
		return -EINVAL;

	sorted = malloc(k * sizeof(*sorted));
	g = calloc(k, sizeof(*g));
	heap = malloc(k * sizeof(*heap));
	used = calloc(M, 1);
	if (!uniform)
		tm = malloc((size_t)M * sizeof(*tm));
	if (!sorted || !g || !heap || !used || (!uniform && !tm))
		goto out;

	k = 0;
	for (i = 0; i < n; i++)
		if (bks[i].weight)
			sorted[k++] = &bks[i];
	qsort(sorted, k, sizeof(*sorted), cmp_backend);

	if (M == 1) {
		table[0] = sorted[0]->id;
		ret = 0;
		goto out;
	}

	/*
	 * Proposal j of a backend of weight w happens at time E(j) / w, where
	 * E(j) = -ln(1 - (j + 1/2) / M) turns the uniform permutation rank
	 * into an exponential variate: the first backend to reach a slot then
	 * wins it with probability weight / sum(weights) (weighted rendezvous
	 * hashing). With equal weights the order is simply j, then address.
	 */
	if (!uniform)
		exp_clock(tm, M);

	for (i = 0; i < k; i++) {
		g[i].b = sorted[i];
		g[i].rank = i;
		g[i].pos = sl_hash_l4addr(&sorted[i]->addr, SL_SEED_OFFSET) % M;
		g[i].skip = sl_hash_l4addr(&sorted[i]->addr, SL_SEED_SKIP) % (M - 1) + 1;
		heap[i] = mkturn(uniform ? 0.0 : tm[0] / sorted[i]->weight, i);
	}
	if (apportion(g, k, M))
		goto out;
	for (i = 0; i < k; i++)
		deficit += g[i].lo;
	for (i = k / 2; i-- > 0;)
		sift_down(heap, k, i);

	/*
	 * Lockstep walk: the backend with the earliest next proposal proposes
	 * the next slot of its permutation and takes it if free. A backend at
	 * its upper bound stops. Once the free slots only just cover what
	 * backends below their lower bound still need, only those go on.
	 * Both conditions, once true for a backend, stay true: it leaves the
	 * heap for good.
	 *
	 * Proposals to taken slots change nothing, so each backend's turn is
	 * its next proposal to a slot that was free when the turn was
	 * computed; slots are never freed, so a turn whose slot is still free
	 * when it comes up is exact, and a stale one is recomputed.
	 */
	live = k;
	free_slots = M;
	while (free_slots) {
		struct mg *t;

		if (!live) {            /* cannot happen: sum(hi) >= M */
			ret = -EINVAL;
			goto out;
		}
		t = &g[heap[0] & RANK_MASK];
		if (t->count >= t->hi || (free_slots <= deficit && t->count >= t->lo))
			goto drop;
		if (!used[t->pos]) {
			used[t->pos] = 1;
			table[t->pos] = t->b->id;
			if (t->count < t->lo)
				deficit--;
			t->count++;
			if (!--free_slots)
				break;
		}
		/* on to the next free slot of its permutation */
		do {
			t->pos += t->skip;
			if (t->pos >= M)
				t->pos -= M;
			t->j++;
		} while (used[t->pos] && t->j < M);
		if (t->j >= M)          /* walked it all: cannot happen either */
			goto drop;
		heap[0] = mkturn(uniform ? (double)t->j : tm[t->j] / t->b->weight, t->rank);
		goto next;
drop:
		heap[0] = heap[--live];
next:
		sift_down(heap, live, 0);
	}
	ret = 0;
out:
	free(sorted);
	free(g);
	free(heap);
	free(used);
	free(tm);
	return ret;
}

__u32 sl_maglev_candidate(const __u32 *table, __u32 M,
			  const struct sl_flow_key *k, unsigned i)
{
	if (M == 0 || !table)
		return 0;
	if (M == 1)
		return table[0];
	return table[sl_probe_slot(sl_hash_flow(k, SL_SEED_FLOW), i, M)];    /* as the data path */
}
