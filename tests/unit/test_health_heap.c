// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests: the min-heaps of daemon/health.c (due times, TCP deadlines),
 * white-box: the module is compiled into this program, so the static heap
 * functions are at hand (health.o from the library is then never linked).
 * Many checks with random keys (some equal) are pushed, rekeyed and
 * deleted at random; after every phase each entry's key is its check's
 * and the heap knows each check's index, and popping gives the keys in
 * order.
 * The heap tests need neither root nor a network; the last test (a TCP
 * check's deadline) makes a network namespace of its own, as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <sched.h>

#include "health.c"

#define N 10000

static __u64 seed = 0x8badf00dcafef00dull;

static __u64 rand64(void)
{
	seed ^= seed >> 12;
	seed ^= seed << 25;
	seed ^= seed >> 27;
	return seed * 0x2545f4914f6cdd1dull;
}

/* a key: spread out, or (one in four) from a few values so ties happen */
static __u64 rand_key(void)
{
	__u64 r = rand64();

	return r & 3 ? r >> 8 : 1000 + (r >> 8) % 16;
}

static struct hc checks[N];
static __u64 want[N];           /* the key each check should have; 0: not queued */

/* check bk_id = k + 1 is checks[k] */
static struct hc *check_of(const struct hent *x)
{
	assert_true(x->id >= 1 && x->id <= N);
	return &checks[x->id - 1];
}

/* The heap property, every position, every key. */
static void verify(const struct heap *q, __u32 queued)
{
	assert_int_equal(q->len, queued);
	for (__u32 i = 0; i < q->len; i++) {
		const struct hc *e = check_of(&q->v[i]);

		assert_int_equal(heap_idx(q, e), i);
		assert_true(want[e - checks] && q->v[i].key == want[e - checks]);
		if (i)
			assert_true(q->v[(i - 1) / 2].key <= q->v[i].key);
	}
	for (__u32 k = 0; k < N; k++)
		if (!want[k])
			assert_int_equal(heap_idx(q, &checks[k]), NOT_QUEUED);
}

static void run(void)
{
	struct heap q = { 0 };
	__u32 queued = 0;
	__u64 last = 0;

	for (__u32 k = 0; k < N; k++) {
		checks[k] = (struct hc){ .bk_id = k + 1 };
		want[k] = 0;
	}
	for (__u32 k = 0; k < N; k++) {
		want[k] = rand_key() | 1;   /* never 0: that means "not queued" here */
		assert_int_equal(heap_push(&q, &checks[k], want[k]), 0);
		queued++;
	}
	verify(&q, queued);

	/* a key changes while queued (a start, a reschedule): up or down */
	for (int n = 0; n < N; n++) {
		__u32 k = rand64() % N;

		want[k] = rand_key() | 1;
		heap_rekey(&q, &checks[k], want[k]);
	}
	verify(&q, queued);

	/* removals from anywhere (a check ended or removed); twice is a no-op */
	for (int n = 0; n < N / 4; n++) {
		__u32 k = rand64() % N;

		if (want[k])
			queued--;
		want[k] = 0;
		heap_del(&q, &checks[k]);
	}
	verify(&q, queued);

	/* what start_due does: the first one due moves on */
	for (int n = 0; n < N; n++) {
		struct hc *e = check_of(&q.v[0]);

		want[e - checks] = q.v[0].key + 1 + rand64() % 100000;
		heap_rekey(&q, e, want[e - checks]);
	}
	verify(&q, queued);

	/* they come out in order */
	while (q.len) {
		struct hc *e = check_of(&q.v[0]);

		assert_true(q.v[0].key >= last);
		assert_int_equal(q.v[0].key, want[e - checks]);
		last = q.v[0].key;
		want[e - checks] = 0;
		heap_del(&q, e);
		queued--;
		if (queued % 997 == 0)
			verify(&q, queued);
	}
	assert_int_equal(queued, 0);
	heap_free(&q);
}

static void test_heap(void **state)
{
	run();
}

/* A check is in h->due and h->dl at once while its TCP check runs: each
 * heap keeps its own positions. */
static void test_two_heaps(void **state)
{
	struct heap a = { 0 }, b = { 0 };

	for (__u32 k = 0; k < 100; k++) {
		checks[k] = (struct hc){ .bk_id = k + 1 };
		assert_int_equal(heap_push(&a, &checks[k], 1000 + k), 0);
		assert_int_equal(heap_push(&b, &checks[k], 1000 - k), 0);
	}
	assert_int_equal(a.v[0].id, 1);
	assert_int_equal(b.v[0].id, 100);
	heap_rekey(&a, &checks[0], 5000);
	heap_del(&b, &checks[99]);
	assert_int_equal(a.v[0].id, 2);
	assert_int_equal(b.v[0].id, 99);
	assert_int_equal(heap_idx(&b, &checks[99]), NOT_QUEUED);
	assert_int_not_equal(heap_idx(&a, &checks[99]), NOT_QUEUED);
	assert_int_equal(a.v[heap_idx(&a, &checks[0])].key, 5000);
	heap_free(&a);
	heap_free(&b);
}

/* ---- a TCP check's deadline asks the socket ------------------------------ */

static struct sl_health_result got;
static int ngot;

static void on_result(void *ctx, const struct sl_health_result *r)
{
	got = *r;
	ngot++;
}

/* Start check e now and wait until its socket's connect has ended, without
 * reading the module's events: then let its deadline pass, as when its
 * end waits behind other events after a busy loop. */
static void start_then_expire(struct sl_health *h, struct hc *e)
{
	struct pollfd p = { .events = POLLOUT };

	heap_rekey(&h->due, e, 1);
	start_due(h, now_ns());
	assert_int_not_equal(e->sock, 0);
	p.fd = h->socks[e->sock - 1].fd;
	assert_int_equal(poll(&p, 1, 5000), 1);
	ngot = 0;
	heap_rekey(&h->dl, e, 1);
	start_due(h, now_ns());
	assert_int_equal(ngot, 1);
}

static void test_deadline_asks_socket(void **state)
{
	struct sl_cfg_check c = { .type = SL_CHECK_TCP, .interval_ms = 1000, .timeout_ms = 200,
				  .rise = 1, .fall = 1 };
	struct sockaddr_storage ss;
	struct sl_l4addr a = { .port = htons(7000), .proto = IPPROTO_TCP, .family = SL_AF_INET };
	struct sl_health *h = NULL;
	char err[256] = "";
	int ls, one = 1;

	if (geteuid() || unshare(CLONE_NEWNET))
		skip();
	assert_int_equal(system("ip link set lo up && ip addr add 198.18.0.1/32 dev lo"), 0);
	assert_int_equal(inet_pton(AF_INET, "198.18.0.1", a.addr), 1);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(ls >= 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(ls, (struct sockaddr *)&ss, sl_l4addr_sockaddr(&a, a.port, &ss)), 0);
	assert_int_equal(listen(ls, 16), 0);
	if (sl_health_open(&h, on_result, NULL, err, sizeof(err)))
		fail_msg("sl_health_open: %s", err);

	/* connected in time, its event unread at the deadline: ok, not a
	 * timeout, with the handshake's time */
	assert_int_equal(sl_health_set(h, 1, &a, &c, "web", NULL), 0);
	start_then_expire(h, lookup(h, 1));
	if (!got.ok || got.timed_out || got.elapsed_us > 200000)
		fail_msg("connected, judged at the deadline: ok %d timed_out %d \"%s\" %llu us",
			 got.ok, got.timed_out, got.detail, (unsigned long long)got.elapsed_us);

	/* refused, unread at the deadline: refused, not a timeout */
	a.port = htons(7001);
	assert_int_equal(sl_health_set(h, 2, &a, &c, "web", NULL), 0);
	start_then_expire(h, lookup(h, 2));
	if (got.ok || got.timed_out || strcmp(got.detail, "connection refused"))
		fail_msg("refused, judged at the deadline: ok %d timed_out %d \"%s\"",
			 got.ok, got.timed_out, got.detail);

	sl_health_close(h);
	close(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap),
		cmocka_unit_test(test_two_heaps),
		cmocka_unit_test(test_deadline_asks_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
