// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Active health checks (health.h), driven by the module's own epoll fd.
 * TCP checks are a non-blocking connect() on a pooled socket in that set
 * (edge-triggered), ended once connected by connect(AF_UNSPEC), which
 * sends an RST and leaves the socket ready for the next check: no FIN
 * exchange, no TIME_WAIT at either end, no socket made per check, and no
 * port search per check (a pool socket keeps one port for life). HTTP(S)
 * checks run on libcurl's multi
 * interface: curl's sockets (CURLMOPT_SOCKETFUNCTION) are in the same set.
 * One timerfd for the earliest of curl's timeout (CURLMOPT_TIMERFUNCTION),
 * the next due check and the next TCP deadline. Due times are kept in a
 * min-heap, checks are found by backend id in an array: nothing walks
 * every backend per event. No threads and no blocking calls (URLs carry
 * address literals, so curl never resolves a name). See docs/decisions.md,
 * "Health checks".
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <curl/curl.h>

#include "health.h"
#include "log.h"

#define NS_PER_MS   1000000ull
#define NOT_QUEUED  UINT32_MAX
#define USER_AGENT  "sluice-health/0.1"

/* epoll data: what << 32 | fd (EV_TIMER, EV_SOCK) or pool slot (EV_TCP) */
enum { EV_TIMER = 1, EV_SOCK, EV_TCP };
#define EV_DATA(what, n) (((__u64)(what) << 32) | (__u32)(n))

/* A check in flight: what must live as long as the transfer. */
struct xfer {
	CURL *easy;
	struct curl_slist *headers, *connect_to;
	__u64 start_ns;
	char errbuf[CURL_ERROR_SIZE];
};

struct hc {
	__u32 bk_id;                /* queued in h->due always (its key: the next start),
	                               in h->dl while a TCP check runs (its deadline) */
	__u64 start_ns;             /* of the running TCP check */
	__u32 sock;                 /* running TCP check's pool slot + 1, or 0 */
	bool timing_out;            /* the last result was a timeout (finish: logged once a run) */
	struct sl_l4addr addr;
	struct sl_cfg_check c;
	char svc[SL_NAME_MAX];
	char name[64];              /* "198.19.0.11:80", "[2001:2::11]:80" */
	struct xfer *x;             /* running HTTP(S) check, or NULL */
	struct sl_health_info info; /* info.state is the state */
};

/*
 * A TCP check's socket. Made on first need, in the epoll set for good
 * (EPOLLOUT | EPOLLET), disconnected after each check and kept on a free
 * list per family: as many as checks ever ran at once (<= max_running).
 */
struct tsock {
	int fd;                     /* -1: none (yet, or dropped after an error) */
	__u32 bk_id;                /* the check it serves; 0: free */
	__u32 next_free;            /* on a free list: the next slot + 1, or 0 */
};

/*
 * A min-heap of checks: due (every check, on its next start) or dl (the
 * running TCP checks, on their deadline: start + timeout_ms; their
 * timeouts are the module's own). Times are CLOCK_MONOTONIC. An entry
 * carries its key, which lives nowhere else, and its check's bk_id; where
 * each check is in the heap is in pos, indexed by bk_id (backend ids are
 * dense). Sifting so touches two arrays, never a check: at 10,000 checks,
 * a check per level was a cache miss each (the index used to live in
 * struct hc), and no copy of a key can go stale.
 */
struct hent {
	__u64 key;
	__u32 id;                   /* the check's bk_id */
};

struct heap {
	struct hent *v;
	__u32 len, cap;
	__u32 *pos;                 /* bk_id -> index in v, or NOT_QUEUED */
	__u32 pos_len;
};

struct sl_health {
	int epfd, tfd;
	struct tsock *socks;
	__u32 nsocks, socks_cap;
	__u32 free_socks[2];        /* IPv4, IPv6: first free slot + 1, or 0 */
	CURLM *multi;
	sl_health_cb cb;
	void *ctx;
	struct hc **by_id;          /* bk_id -> check, by_id_len entries */
	__u32 by_id_len;
	struct heap due, dl;
	unsigned running, max_running;
	__u64 curl_due_ns;          /* curl's timeout (CLOCK_MONOTONIC); 0: none */
	__u64 armed_ns;             /* what tfd is set to; 0: not armed, or fired */
	int in_dispatch;            /* no arm() from curl's timer callback (dispatch, close) */
	__u64 rng;
};

static unsigned curl_users;     /* curl_global_init once, cleanup with the last module */

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* xorshift64*: spreading checks out needs no better */
static __u64 rnd(struct sl_health *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dull;
}

/* uniform in [0, n); 0 when n is 0 */
static __u64 rnd_below(struct sl_health *h, __u64 n)
{
	return (__u64)(((unsigned __int128)rnd(h) * n) >> 64);
}

const char *sl_health_state_name(enum sl_health_state s)
{
	switch (s) {
	case SL_HEALTH_UNKNOWN: return "unknown";
	case SL_HEALTH_UP:      return "up";
	case SL_HEALTH_DOWN:    return "down";
	}
	return "?";
}

const char *sl_check_type_name(enum sl_check_type t)
{
	switch (t) {
	case SL_CHECK_NONE:  return "none";
	case SL_CHECK_TCP:   return "tcp";
	case SL_CHECK_HTTP:  return "http";
	case SL_CHECK_HTTPS: return "https";
	}
	return "?";
}

/* ---- the heaps: due times, TCP deadlines -------------------------------- */

static __u32 heap_idx(const struct heap *q, const struct hc *e)
{
	return e->bk_id < q->pos_len ? q->pos[e->bk_id] : NOT_QUEUED;
}

/* The entry goes to i; pos learns where it is (a store, off the
 * comparisons' path). */
static void heap_set(struct heap *q, __u32 i, struct hent x)
{
	q->v[i] = x;
	q->pos[x.id] = i;
}

static void heap_up(struct heap *q, __u32 i)
{
	struct hent x = q->v[i];

	while (i) {
		__u32 p = (i - 1) / 2;

		if (q->v[p].key <= x.key)
			break;
		heap_set(q, i, q->v[p]);
		i = p;
	}
	heap_set(q, i, x);
}

static void heap_down(struct heap *q, __u32 i)
{
	struct hent x = q->v[i];

	for (;;) {
		__u32 l = 2 * i + 1, m = l;

		if (l >= q->len)
			break;
		if (l + 1 < q->len && q->v[l + 1].key < q->v[l].key)
			m = l + 1;
		if (x.key <= q->v[m].key)
			break;
		heap_set(q, i, q->v[m]);
		i = m;
	}
	heap_set(q, i, x);
}

/* the entry at i may be out of place either way */
static void heap_sift(struct heap *q, __u32 i)
{
	__u32 id = q->v[i].id;

	heap_up(q, i);
	heap_down(q, q->pos[id]);
}

/* room for one more, of check id: 0 or -ENOMEM */
static int heap_reserve(struct heap *q, __u32 id)
{
	if (q->len == q->cap) {
		__u32 cap = q->cap ? 2 * q->cap : 64;
		struct hent *n = realloc(q->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		q->v = n;
		q->cap = cap;
	}
	if (id >= q->pos_len) {
		__u32 len = id < 32 ? 64 : 2 * id;
		__u32 *n = realloc(q->pos, len * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (__u32 k = q->pos_len; k < len; k++)
			n[k] = NOT_QUEUED;
		q->pos = n;
		q->pos_len = len;
	}
	return 0;
}

static int heap_push(struct heap *q, struct hc *e, __u64 key)
{
	if (heap_reserve(q, e->bk_id))
		return -ENOMEM;
	heap_set(q, q->len++, (struct hent){ .key = key, .id = e->bk_id });
	heap_up(q, q->len - 1);
	return 0;
}

/* e (queued in q) is now due at key: the only way a queued key changes */
static void heap_rekey(struct heap *q, struct hc *e, __u64 key)
{
	__u32 i = heap_idx(q, e);

	q->v[i].key = key;
	heap_sift(q, i);
}

static void heap_del(struct heap *q, struct hc *e)
{
	__u32 i = heap_idx(q, e);

	if (i == NOT_QUEUED)
		return;
	q->pos[e->bk_id] = NOT_QUEUED;
	if (i == --q->len)
		return;
	heap_set(q, i, q->v[q->len]);
	heap_sift(q, i);
}

static void heap_free(struct heap *q)
{
	free(q->v);
	free(q->pos);
	*q = (struct heap){ 0 };
}

/* ---- timers -------------------------------------------------------------- */

static void drain(int fd)
{
	__u64 v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static __u64 interval_ns(const struct hc *e)
{
	return (__u64)e->c.interval_ms * NS_PER_MS;
}

/* The time after one start to the next: interval + [0, jitter% of it). */
static __u64 period(struct sl_health *h, const struct hc *e)
{
	return interval_ns(e) + rnd_below(h, interval_ns(e) * e->c.jitter_pct / 100);
}

static int busy(const struct hc *e)
{
	return e->x || e->sock;
}

static struct hc *lookup(const struct sl_health *h, __u32 bk_id);

/* the first due check (top of h->due) cannot start for want of a slot */
static int waiting_for_slot(const struct sl_health *h, const struct hent *top, __u64 now)
{
	return top->key <= now && !busy(lookup(h, top->id)) && h->running >= h->max_running;
}

/* x rounded up to a multiple of g */
static __u64 round_up(__u64 x, __u64 g)
{
	return (x + g - 1) / g * g;
}

/* Starts are put on a grid of 1/100 of the check's interval (1 to 10 ms):
 * one wake-up starts every check due in that slot. */
static __u64 start_grid(const struct hc *e)
{
	__u64 g = interval_ns(e) / 100 / NS_PER_MS * NS_PER_MS;

	return g < NS_PER_MS ? NS_PER_MS : g > 10 * NS_PER_MS ? 10 * NS_PER_MS : g;
}

/*
 * tfd: the earliest of curl's timeout and the first TCP deadline (rounded
 * up to a whole millisecond) and the next due check (rounded up to its
 * start grid; none while it waits for a free slot: a completion runs a
 * dispatch anyway), so that one wake-up serves every deadline and start
 * in that span. A timer set in a syscall costs more than a dispatch
 * here, so it is only ever moved earlier: one that fires too soon makes a
 * dispatch with nothing to do, which sets it again.
 */
static void arm(struct sl_health *h)
{
	struct itimerspec its = { 0 };
	__u64 want = h->curl_due_ns;

	if (h->dl.len && (!want || h->dl.v[0].key < want))
		want = h->dl.v[0].key;
	if (want)
		want = round_up(want, NS_PER_MS);
	if (h->due.len && !waiting_for_slot(h, &h->due.v[0], now_ns())) {
		const struct hent *top = &h->due.v[0];
		__u64 d = round_up(top->key, start_grid(lookup(h, top->id)));

		if (!want || d < want)
			want = d;
	}
	if (!want)
		return;
	if (h->armed_ns && h->armed_ns <= want)
		return;
	its.it_value.tv_sec = want / 1000000000ull;
	its.it_value.tv_nsec = want % 1000000000ull;
	if (timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		h->armed_ns = want;
	else
		sl_log(LOG_ERR, "health: timerfd_settime: %s", strerror(errno));
}

/* CURLMOPT_TIMERFUNCTION: -1 none, 0 as soon as possible, else in ms.
 * A dispatch runs "as soon as possible" before it returns. */
static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct sl_health *h = userp;

	h->curl_due_ns = timeout_ms < 0 ? 0 : now_ns() + (__u64)timeout_ms * NS_PER_MS;
	if (!h->in_dispatch)
		arm(h);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: curl's sockets live in our epoll set */
static int curl_sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct sl_health *h = userp;
	struct epoll_event ev = { .data.u64 = EV_DATA(EV_SOCK, s) };

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);   /* may be closed already */
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	/* socketp is set (to h) once the socket is in the epoll set */
	if (socketp && epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) == 0)
		return 0;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) == 0 ||
	    (errno == EEXIST && epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) == 0)) {
		curl_multi_assign(h->multi, s, h);
		return 0;
	}
	sl_log(LOG_ERR, "health: epoll_ctl on curl socket %d: %s", (int)s, strerror(errno));
	return -1;
}

static size_t drop_body(char *p, size_t size, size_t n, void *userp)
{
	return size * n;
}

/* ---- open / close -------------------------------------------------------- */

int sl_health_open(struct sl_health **out, sl_health_cb cb, void *ctx, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sl_health *h;
	struct rlimit rl;
	int rc;

	if (!out || !cb) {
		snprintf(err, errlen, "health: no callback");
		return -EINVAL;
	}
	if (!curl_users) {
		CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);

		if (cc) {
			snprintf(err, errlen, "health: curl_global_init: %s", curl_easy_strerror(cc));
			return -ENOMEM;
		}
	}
	curl_users++;

	h = calloc(1, sizeof(*h));
	if (!h) {
		rc = -ENOMEM;
		snprintf(err, errlen, "health: out of memory");
		goto fail;
	}
	h->cb = cb;
	h->ctx = ctx;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->epfd < 0 || h->tfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "health: epoll/timerfd: %s", strerror(errno));
		goto fail;
	}
	ev.data.u64 = EV_DATA(EV_TIMER, h->tfd);
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->tfd, &ev))
		goto fail_epoll;

	h->multi = curl_multi_init();
	if (!h->multi) {
		rc = -ENOMEM;
		snprintf(err, errlen, "health: curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);

	/* Half the descriptors the process may open (at least 16). */
	h->max_running = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		h->max_running = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur / 2 > 65536 ? 65536 :
				 rl.rlim_cur / 2 < 16 ? 16 : rl.rlim_cur / 2;

	if (getrandom(&h->rng, sizeof(h->rng), GRND_NONBLOCK) != sizeof(h->rng))
		h->rng = now_ns() ^ ((__u64)getpid() << 32);
	if (!h->rng)
		h->rng = 0x9e3779b97f4a7c15ull;
	*out = h;
	return 0;

fail_epoll:
	rc = -errno;
	snprintf(err, errlen, "health: epoll_ctl: %s", strerror(errno));
fail:
	sl_health_close(h);
	if (!h && !--curl_users)
		curl_global_cleanup();
	return rc;
}

static void xfer_free(struct sl_health *h, struct hc *e)
{
	struct xfer *x = e->x;

	if (!x)
		return;
	curl_multi_remove_handle(h->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->connect_to);
	free(x);
	e->x = NULL;
	h->running--;
}

/* ---- the TCP checks' sockets ----------------------------------------------- */

static void sock_drop(struct tsock *s)
{
	if (s->fd >= 0)
		close(s->fd);   /* SO_LINGER 0: an RST if connected; leaves the epoll set */
	s->fd = -1;
}

/*
 * Give a new pool socket a source port for life: bind it to a port the
 * kernel chose for a probe socket. Only a bind() to a nonzero port sets
 * SOCK_BINDPORT_LOCK (bind() to port 0 does not): with it, connect()
 * skips the ephemeral port search (__inet_hash_connect, 7 % of sluiced's
 * cycles at 10,000 checks/s) and connect(AF_UNSPEC) keeps the port
 * instead of releasing it (inet_put_port). The probe's bind(0) finds a
 * port no socket holds; SO_REUSEADDR on both lets the pool socket bind it
 * while the probe still does. The address stays the any-address, which
 * sets no SOCK_BINDADDR_LOCK: the source address is chosen per
 * destination at each connect() and reset by each disconnect, as before.
 * IPv6 sockets are V6ONLY: they only reach IPv6 backends (the config
 * refuses IPv4-mapped ones), so they hold the port in IPv6's space alone.
 * Best effort: 0, or -1 with the socket left unbound, which works as it
 * always did.
 */
static int sock_fix_port(int fd, int v6)
{
	struct sockaddr_storage ss = { .ss_family = v6 ? AF_INET6 : AF_INET };
	socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1, probe, rc = -1;

	probe = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (probe < 0)
		return -1;
	if (!setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
	    (!v6 || !setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) &&
	    !bind(probe, (struct sockaddr *)&ss, len) &&
	    !getsockname(probe, (struct sockaddr *)&ss, &len) &&
	    !setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
	    (!v6 || !setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))))
		rc = bind(fd, (struct sockaddr *)&ss, len);
	close(probe);
	return rc ? -1 : 0;
}

/* A free socket of the family (made when there is none): its slot, or
 * -errno. */
static int sock_get(struct sl_health *h, int v6)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	struct tsock *s;
	__u32 i;
	int rc;

	if (h->free_socks[v6]) {
		i = h->free_socks[v6] - 1;
		h->free_socks[v6] = h->socks[i].next_free;
		h->socks[i].next_free = 0;
	} else {
		if (h->nsocks == h->socks_cap) {
			__u32 cap = h->socks_cap ? 2 * h->socks_cap : 64;
			struct tsock *n = realloc(h->socks, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			h->socks = n;
			h->socks_cap = cap;
		}
		i = h->nsocks++;
		h->socks[i] = (struct tsock){ .fd = -1 };
	}
	s = &h->socks[i];
	if (s->fd >= 0)
		return (int)i;
	s->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       IPPROTO_TCP);
	ev.data.u64 = EV_DATA(EV_TCP, i);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
	    epoll_ctl(h->epfd, EPOLL_CTL_ADD, s->fd, &ev)) {
		rc = -errno;
		sock_drop(s);
		s->next_free = h->free_socks[v6];
		h->free_socks[v6] = i + 1;
		return rc;
	}
	sock_fix_port(s->fd, v6);
	return (int)i;
}

/* Back to the free list, disconnected: connect(AF_UNSPEC) sends an RST
 * when connected and forgets the peer (and the source address, and the
 * port if sock_fix_port() failed); a socket it fails on is dropped. */
static void sock_put(struct sl_health *h, __u32 i, int v6)
{
	struct tsock *s = &h->socks[i];
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	if (s->fd >= 0 && connect(s->fd, &sa, sizeof(sa)))
		sock_drop(s);
	s->bk_id = 0;
	s->next_free = h->free_socks[v6];
	h->free_socks[v6] = i + 1;
}

/* Stop the running TCP check, if any. */
static void tcp_stop(struct sl_health *h, struct hc *e)
{
	if (!e->sock)
		return;
	sock_put(h, e->sock - 1, e->addr.family == SL_AF_INET6);
	e->sock = 0;
	h->running--;
	heap_del(&h->dl, e);
}

void sl_health_close(struct sl_health *h)
{
	if (!h)
		return;
	h->in_dispatch = 1;   /* curl's timer callback must not look at the heap now */
	for (__u32 i = 0; i < h->by_id_len; i++) {
		struct hc *e = h->by_id[i];

		if (e) {
			xfer_free(h, e);   /* TCP checks' sockets: below */
			free(e);
		}
	}
	for (__u32 i = 0; i < h->nsocks; i++)
		sock_drop(&h->socks[i]);
	free(h->socks);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->tfd >= 0)
		close(h->tfd);
	free(h->by_id);
	heap_free(&h->due);
	heap_free(&h->dl);
	free(h);
	if (curl_users && !--curl_users)
		curl_global_cleanup();
}

int sl_health_fd(const struct sl_health *h)
{
	return h->epfd;
}

void sl_health_set_max_running(struct sl_health *h, unsigned n)
{
	h->max_running = n ? n : 1;
}

unsigned sl_health_running(const struct sl_health *h)
{
	return h->running;
}

/* ---- one check ----------------------------------------------------------- */

static struct hc *lookup(const struct sl_health *h, __u32 bk_id)
{
	return bk_id < h->by_id_len ? h->by_id[bk_id] : NULL;
}


static void fmt_ip(const struct sl_l4addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == SL_AF_INET6 ? AF_INET6 : AF_INET, a->addr, buf, len))
		snprintf(buf, len, "?");
}

static unsigned check_port(const struct hc *e)
{
	return e->c.port ? e->c.port : ntohs(e->addr.port);
}

/* A name curl can put in a URL as it is: letters, digits, '-', '.'. */
static int plain_hostname(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static void finish(struct sl_health *h, struct hc *e, struct sl_health_result *r);

/*
 * Build and add an HTTP(S) check's transfer: GET scheme://ADDR:PORT/PATH,
 * with "Host: host" when set; HTTPS with a plain host name puts the name
 * in the URL (SNI, certificate name) and connects to the address with
 * CURLOPT_CONNECT_TO.
 */
static int xfer_start(struct sl_health *h, struct hc *e, __u64 now, char *why, size_t whylen)
{
	char ip[INET6_ADDRSTRLEN], hp[INET6_ADDRSTRLEN + 8], url[INET6_ADDRSTRLEN + 8 + 300];
	char line[INET6_ADDRSTRLEN + 300];
	const struct sl_cfg_check *c = &e->c;
	unsigned port = check_port(e);
	int v6 = e->addr.family == SL_AF_INET6;
	struct xfer *x;
	int https = c->type == SL_CHECK_HTTPS;
	CURL *easy;
	CURLMcode mc;

	fmt_ip(&e->addr, ip, sizeof(ip));
	snprintf(hp, sizeof(hp), v6 ? "[%s]:%u" : "%s:%u", ip, port);

	x = calloc(1, sizeof(*x));
	easy = x ? curl_easy_init() : NULL;
	if (!easy) {
		free(x);
		snprintf(why, whylen, "cannot start: out of memory");
		return -ENOMEM;
	}
	x->easy = easy;

	if (https && plain_hostname(c->host)) {
		snprintf(url, sizeof(url), "https://%s:%u%s", c->host, port, c->path);
		snprintf(line, sizeof(line), "%s:%u:%s", c->host, port, hp);
		x->connect_to = curl_slist_append(NULL, line);
		if (!x->connect_to)
			goto nomem;
		curl_easy_setopt(easy, CURLOPT_CONNECT_TO, x->connect_to);
	} else {
		snprintf(url, sizeof(url), "%s://%s%s", https ? "https" : "http", hp, c->path);
	}
	if (c->host[0]) {
		snprintf(line, sizeof(line), "Host: %s", c->host);
		x->headers = curl_slist_append(NULL, line);
		if (!x->headers)
			goto nomem;
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, x->headers);
	}
	curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, drop_body);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, USER_AGENT);
	if (https) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, c->tls_verify ? 1L : 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, c->tls_verify ? 2L : 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_PRIVATE, e);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	/* URLs carry address literals, yet curl keeps each in the multi's DNS
	 * cache (7 hash slots) for 60 s and walks that whole cache on every
	 * resolve: with 10,000 backends at 1 s, O(backends) per check. No
	 * caching keeps it at the checks in flight. */
	curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
	curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);

	x->start_ns = now;
	e->x = x;
	h->running++;
	mc = curl_multi_add_handle(h->multi, easy);
	if (mc != CURLM_OK) {
		snprintf(why, whylen, "cannot start: %s", curl_multi_strerror(mc));
		e->x = NULL;
		h->running--;
		curl_easy_cleanup(easy);
		curl_slist_free_all(x->headers);
		curl_slist_free_all(x->connect_to);
		free(x);
		return -EIO;
	}
	return 0;

nomem:
	curl_easy_cleanup(easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->connect_to);
	free(x);
	snprintf(why, whylen, "cannot start: out of memory");
	return -ENOMEM;
}

static const char *errno_text(long err)
{
	switch (err) {
	case ECONNREFUSED: return "connection refused";
	case EHOSTUNREACH: return "no route to host";
	case ENETUNREACH:  return "network unreachable";
	case ECONNRESET:   return "connection reset";
	case ETIMEDOUT:    return "timed out";
	case EADDRNOTAVAIL: return "address not available";
	}
	return NULL;
}

/* An HTTP(S) transfer is done: judge it, free it, then finish(). */
static void xfer_done(struct sl_health *h, struct hc *e, CURLcode cc)
{
	struct sl_health_result r = { .bk_id = e->bk_id };
	struct xfer *x = e->x;
	const char *t;
	long code = 0, oserr = 0;
	__u64 end = now_ns();

	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	r.at_ns = end;
	r.elapsed_us = (end - x->start_ns) / 1000;

	if (cc == CURLE_OK) {
		r.status = (int)code;
		r.ok = code >= e->c.expect_lo && code <= e->c.expect_hi;
		if (r.ok)
			snprintf(r.detail, sizeof(r.detail), "ok");
		else
			snprintf(r.detail, sizeof(r.detail), "status %ld", code);
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		r.timed_out = 1;
		snprintf(r.detail, sizeof(r.detail), "timeout after %llu ms",
			 (unsigned long long)(r.elapsed_us / 1000));
	} else if ((cc == CURLE_COULDNT_CONNECT || cc == CURLE_RECV_ERROR ||
		    cc == CURLE_SEND_ERROR) && (t = errno_text(oserr))) {
		snprintf(r.detail, sizeof(r.detail), "%s", t);
	} else if (cc == CURLE_GOT_NOTHING) {
		snprintf(r.detail, sizeof(r.detail), "empty reply");
	} else {
		const char *what = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
		int tls = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
			  cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CIPHER ||
			  cc == CURLE_SSL_CACERT_BADFILE;

		size_t n;

		snprintf(r.detail, sizeof(r.detail), "%s%.110s", tls ? "tls: " : "", what);
		n = strlen(r.detail);
		while (n && (r.detail[n - 1] == ' ' || r.detail[n - 1] == '\n'))
			r.detail[--n] = 0;
	}
	xfer_free(h, e);
	finish(h, e, &r);
}

/*
 * A TCP check ends: connected (err 0), refused or unreachable (err), or
 * past its deadline (timed_out). elapsed_us: how long it took, when known
 * better than by the clock now (0: start to now). Close, judge, then
 * finish().
 */
static void tcp_done(struct sl_health *h, struct hc *e, int err, int timed_out, __u64 elapsed_us)
{
	struct sl_health_result r = { .bk_id = e->bk_id };
	__u64 end = now_ns();
	const char *t;

	r.at_ns = end;
	r.elapsed_us = elapsed_us ? elapsed_us : (end - e->start_ns) / 1000;
	if (timed_out) {
		r.timed_out = 1;
		snprintf(r.detail, sizeof(r.detail), "timeout after %llu ms",
			 (unsigned long long)(r.elapsed_us / 1000));
	} else if (!err) {
		r.ok = 1;
		snprintf(r.detail, sizeof(r.detail), "ok");
	} else if ((t = errno_text(err))) {
		snprintf(r.detail, sizeof(r.detail), "%s", t);
	} else {
		snprintf(r.detail, sizeof(r.detail), "connect: %s", strerror(err));
	}
	tcp_stop(h, e);
	finish(h, e, &r);
}

/*
 * Start a TCP check: a non-blocking connect() on a pooled socket, whose end epoll reports.
 * Connected is ok; the peer is not written to. A connect() that ends at
 * once (a route missing, say) ends the check at once. 0, or -errno when it
 * could not start (why says so).
 */
static int tcp_start(struct sl_health *h, struct hc *e, __u64 now, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	int v6 = e->addr.family == SL_AF_INET6, i, rc;
	socklen_t sl = sl_l4addr_sockaddr(&e->addr, htons(check_port(e)), &ss);

	i = heap_reserve(&h->dl, e->bk_id) ? -ENOMEM : sock_get(h, v6);
	if (i < 0) {
		snprintf(why, whylen, "cannot start: %s", strerror(-i));
		return i;
	}
	h->socks[i].bk_id = e->bk_id;
	e->sock = (__u32)i + 1;
	e->start_ns = now;
	h->running++;
	rc = connect(h->socks[i].fd, (struct sockaddr *)&ss, sl) ? errno : 0;
	/* not disconnected: never reused; or the 4-tuple is taken (another
	 * program bound the socket's port with SO_REUSEADDR and reached the
	 * same backend): the next check gets a new socket and port */
	if (rc == EALREADY || rc == EISCONN || rc == EADDRNOTAVAIL)
		sock_drop(&h->socks[i]);
	if (rc != EINPROGRESS) {
		tcp_done(h, e, rc, 0, 0);
		return 0;
	}
	/* cannot fail: reserved */
	heap_push(&h->dl, e, now + (__u64)e->c.timeout_ms * NS_PER_MS);
	return 0;
}

/*
 * Where a check's connect stands, asked as cheaply as the kernel allows:
 * 0 connected, an errno when it failed, -1 still connecting.
 * getpeername() succeeds once connected (ESTABLISHED, or CLOSE_WAIT if
 * the peer already closed), the common case and one syscall; it fails
 * with ENOTCONN in SYN_SENT and CLOSE alike, and then SO_ERROR tells them
 * apart: a failed connect left its error there (refused, unreachable,
 * reset; reading clears it), while one still in progress has none: the
 * disconnect's own error (ECONNRESET) was cleared when connect() sent the
 * new SYN (tcp_connect_init).
 */
static int tcp_judge(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int err = 0;

	if (!getpeername(fd, (struct sockaddr *)&peer, &len))
		return 0;
	if (errno != ENOTCONN)
		return errno;
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err ? err : -1;
}

/*
 * epoll says a check's socket changed state. Edge-triggered on a reused
 * socket, an event may be left over from the slot's previous check (the
 * disconnect that ended it wakes epoll too), so the socket's state
 * decides: still connecting is a stale event, not an end. epoll computes
 * the events it reports from the socket's state when it reports them:
 * EPOLLOUT without EPOLLERR or EPOLLHUP is a connected socket (ESTABLISHED
 * or CLOSE_WAIT; SYN_SENT reports nothing and CLOSE reports EPOLLHUP), the
 * common case, judged without a syscall; anything else asks the socket.
 */
static void tcp_event(struct sl_health *h, __u32 slot, __u32 events)
{
	struct tsock *s = slot < h->nsocks ? &h->socks[slot] : NULL;
	struct hc *e = s && s->bk_id ? lookup(h, s->bk_id) : NULL;
	int r;

	if (!e || e->sock != slot + 1)
		return;   /* free, or ended meanwhile */
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == EPOLLOUT)
		r = 0;
	else
		r = tcp_judge(s->fd);
	if (r >= 0)
		tcp_done(h, e, r, 0, 0);
}

/*
 * A running TCP check's deadline passed. Its end may only be waiting to
 * be read, behind other events after the loop was busy (a dispatch reads
 * at most 16 x 64 events before it looks at deadlines): the socket is
 * asked before a timeout is declared. A connect that failed ends with its
 * error; one that succeeded is on time if its handshake took at most
 * timeout_ms (the kernel's first RTT sample is the SYN to the SYN-ACK),
 * and that is its elapsed time; anything else is a timeout.
 */
static void tcp_expire(struct sl_health *h, struct hc *e)
{
	int fd = e->sock ? h->socks[e->sock - 1].fd : -1;
	int r = fd >= 0 ? tcp_judge(fd) : -1;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (r > 0) {
		tcp_done(h, e, r, 0, 0);
	} else if (r == 0 && !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		   len >= offsetof(struct tcp_info, tcpi_rtt) + sizeof(ti.tcpi_rtt) &&
		   ti.tcpi_rtt <= (__u64)e->c.timeout_ms * 1000) {
		tcp_done(h, e, 0, 0, ti.tcpi_rtt ? ti.tcpi_rtt : 1);
	} else {
		tcp_done(h, e, 0, 1, 0);
	}
}

static void describe(const struct hc *e, char *buf, size_t len)
{
	if (e->c.type == SL_CHECK_TCP)
		snprintf(buf, len, "%s %s tcp", e->svc, e->name);
	else
		snprintf(buf, len, "%s %s %s %s", e->svc, e->name,
			 sl_check_type_name(e->c.type), e->c.path);
}

static void bump_hist(struct sl_health_info *in, __u64 us)
{
	unsigned i = 0;

	while (i < SL_HEALTH_LAT_BUCKETS - 1 && us >= (1000ull << i))
		i++;
	in->lat_hist[i]++;
	in->lat_sum_us += us;
}

/* Count the result, move the state, log, call back. e may be gone after. */
static void finish(struct sl_health *h, struct hc *e, struct sl_health_result *r)
{
	struct sl_health_info *in = &e->info;
	char what[SL_NAME_MAX + sizeof(e->name) + sizeof(e->c.path) + 16];
	bool log_timeout;

	r->state_before = in->state;
	in->checks++;
	if (r->ok) {
		in->consecutive_ok++;
		in->consecutive_fail = 0;
		if (in->state != SL_HEALTH_UP && in->consecutive_ok >= e->c.rise)
			in->state = SL_HEALTH_UP;
	} else {
		in->failures++;
		in->consecutive_fail++;
		in->consecutive_ok = 0;
		if (r->timed_out)
			in->timeouts++;
		if (in->state != SL_HEALTH_DOWN && in->consecutive_fail >= e->c.fall)
			in->state = SL_HEALTH_DOWN;
	}
	r->state_after = in->state;
	in->last_at_ns = r->at_ns;
	in->last_elapsed_us = r->elapsed_us;
	in->last_status = r->status;
	snprintf(in->last_detail, sizeof(in->last_detail), "%s", r->detail);
	bump_hist(in, r->elapsed_us);

	/* A silent backend times out every interval: the first timeout of a
	 * run is logged, the rest are counted (timeouts, the metrics) and
	 * the state change says how many there were. */
	log_timeout = r->timed_out && !e->timing_out;
	e->timing_out = r->timed_out;
	if (log_timeout || r->state_before != r->state_after)
		describe(e, what, sizeof(what));
	if (log_timeout)
		sl_log(LOG_WARNING, "health: %s: timeout after %llu ms (timeout_ms %u; "
		       "further timeouts in a row are counted, not logged)", what,
		       (unsigned long long)(r->elapsed_us / 1000), e->c.timeout_ms);
	if (r->state_before != r->state_after)
		sl_log(r->state_after == SL_HEALTH_UP && r->state_before == SL_HEALTH_UNKNOWN ?
		       LOG_INFO : LOG_NOTICE,
		       "health: %s: %s -> %s after %u consecutive %s (%s)", what,
		       sl_health_state_name(r->state_before), sl_health_state_name(r->state_after),
		       r->ok ? in->consecutive_ok : in->consecutive_fail,
		       r->ok ? "successes" : "failures", r->detail);
	h->cb(h->ctx, r);
}

/*
 * Start what is due. The next start is planned as this one begins: due +
 * period, kept on the interval's phase when the loop fell behind. A check
 * still running when it is due again is skipped (never doubled); one due
 * while max_running checks run waits at the top of the heap, and the
 * dispatch that sees a completion starts it.
 */
static void start_due(struct sl_health *h, __u64 now)
{
	/* TCP checks past their deadline first: they free slots */
	while (h->dl.len && h->dl.v[0].key <= now)
		tcp_expire(h, lookup(h, h->dl.v[0].id));   /* may remove it */
	while (h->due.len && h->due.v[0].key <= now) {
		struct hc *e = lookup(h, h->due.v[0].id);
		__u64 next;

		if (waiting_for_slot(h, &h->due.v[0], now))
			break;
		next = h->due.v[0].key + period(h, e);
		if (next <= now)
			next += ((now - next) / interval_ns(e) + 1) * interval_ns(e);
		heap_rekey(&h->due, e, next);
		if (!busy(e)) {
			char why[96];
			int rc = e->c.type == SL_CHECK_TCP ?
				 tcp_start(h, e, now, why, sizeof(why)) :
				 xfer_start(h, e, now, why, sizeof(why));

			if (rc) {
				struct sl_health_result r = {
					.bk_id = e->bk_id, .at_ns = now_ns(),
				};

				snprintf(r.detail, sizeof(r.detail), "%s", why);
				finish(h, e, &r);   /* may remove e */
			}
		}
	}
}

static void read_done(struct sl_health *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		CURLcode cc = m->data.result;
		struct hc *e;
		char *p = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		e = (struct hc *)p;
		if (e && e->x && e->x->easy == m->easy_handle)
			xfer_done(h, e, cc);   /* m is invalid from here */
	}
}

void sl_health_dispatch(struct sl_health *h)
{
	struct epoll_event ev[64];
	int n, round = 0, still;

	h->in_dispatch = 1;
	do {
		n = epoll_wait(h->epfd, ev, 64, 0);
		for (int i = 0; i < n; i++) {
			int fd = (int)(__u32)ev[i].data.u64;
			int flags = 0;

			switch (ev[i].data.u64 >> 32) {
			case EV_TIMER:
				drain(fd);
				h->armed_ns = 0;
				break;
			case EV_SOCK:
				if (ev[i].events & EPOLLIN)
					flags |= CURL_CSELECT_IN;
				if (ev[i].events & EPOLLOUT)
					flags |= CURL_CSELECT_OUT;
				if (ev[i].events & (EPOLLERR | EPOLLHUP))
					flags |= CURL_CSELECT_ERR;
				curl_multi_socket_action(h->multi, fd, flags, &still);
				break;
			case EV_TCP:
				tcp_event(h, (__u32)fd, ev[i].events);
				break;
			}
		}
	} while (n == 64 && ++round < 16);

	/* curl's timeouts that are due, among them "as soon as possible" after
	 * the transfers just added: a few rounds, the timer catches the rest */
	for (round = 0; round < 4; round++) {
		__u64 now = now_ns();

		if (h->curl_due_ns && h->curl_due_ns <= now) {
			h->curl_due_ns = 0;
			curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
		}
		read_done(h);
		start_due(h, now_ns());
		if (!h->curl_due_ns || h->curl_due_ns > now_ns())
			break;
	}
	h->in_dispatch = 0;
	arm(h);
}

/* ---- configuration ------------------------------------------------------- */

static int check_valid(const struct sl_l4addr *a, const struct sl_cfg_check *c)
{
	if (a->family != SL_AF_INET && a->family != SL_AF_INET6)
		return 0;
	if (c->type != SL_CHECK_TCP && c->type != SL_CHECK_HTTP && c->type != SL_CHECK_HTTPS)
		return 0;
	if (!c->interval_ms || !c->timeout_ms || c->timeout_ms > c->interval_ms ||
	    c->interval_ms > 24u * 3600 * 1000 || !c->rise || !c->fall || c->jitter_pct > 100)
		return 0;
	if (!c->port && !a->port)
		return 0;
	if (c->type == SL_CHECK_TCP)
		return 1;
	if (!memchr(c->path, 0, sizeof(c->path)) || !memchr(c->host, 0, sizeof(c->host)) ||
	    c->path[0] != '/' || c->expect_lo > c->expect_hi)
		return 0;
	for (const char *p = c->path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 0;
	for (const char *p = c->host; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int same_check(const struct hc *e, const struct sl_l4addr *a, const struct sl_cfg_check *c)
{
	const struct sl_cfg_check *o = &e->c;

	if (e->addr.family != a->family || e->addr.port != a->port ||
	    memcmp(e->addr.addr, a->addr, a->family == SL_AF_INET ? 4 : 16))
		return 0;
	if (o->type != c->type || o->port != c->port || o->interval_ms != c->interval_ms ||
	    o->timeout_ms != c->timeout_ms || o->rise != c->rise || o->fall != c->fall ||
	    o->jitter_pct != c->jitter_pct)
		return 0;
	if (c->type == SL_CHECK_TCP)
		return 1;
	return o->expect_lo == c->expect_lo && o->expect_hi == c->expect_hi &&
	       o->tls_verify == c->tls_verify && !strcmp(o->path, c->path) &&
	       !strcmp(o->host, c->host);
}

static void labels(struct hc *e, const char *svc, const char *name)
{
	snprintf(e->svc, sizeof(e->svc), "%s", svc && *svc ? svc : "-");
	if (name && *name) {
		snprintf(e->name, sizeof(e->name), "%s", name);
	} else {
		char ip[INET6_ADDRSTRLEN];

		fmt_ip(&e->addr, ip, sizeof(ip));
		snprintf(e->name, sizeof(e->name), e->addr.family == SL_AF_INET6 ?
			 "[%s]:%u" : "%s:%u", ip, ntohs(e->addr.port));
	}
}

int sl_health_set(struct sl_health *h, __u32 bk_id, const struct sl_l4addr *addr,
		  const struct sl_cfg_check *c, const char *svc, const char *name)
{
	struct hc *e;

	if (!h || !c || bk_id == 0 || bk_id >= SL_MAX_BACKENDS)
		return -EINVAL;
	if (c->type == SL_CHECK_NONE) {
		sl_health_remove(h, bk_id);
		return 0;
	}
	if (!addr || !check_valid(addr, c))
		return -EINVAL;

	e = lookup(h, bk_id);
	if (e && same_check(e, addr, c)) {
		labels(e, svc, name);
		return 0;
	}
	if (!e) {
		if (bk_id >= h->by_id_len) {
			__u32 len = h->by_id_len ? h->by_id_len : 64;
			struct hc **n;

			while (len <= bk_id)
				len *= 2;
			if (len > SL_MAX_BACKENDS)
				len = SL_MAX_BACKENDS;
			n = realloc(h->by_id, len * sizeof(*n));
			if (!n)
				return -ENOMEM;
			memset(n + h->by_id_len, 0, (len - h->by_id_len) * sizeof(*n));
			h->by_id = n;
			h->by_id_len = len;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->bk_id = bk_id;
		if (heap_push(&h->due, e, now_ns())) {   /* rescheduled below */
			free(e);
			return -ENOMEM;
		}
		h->by_id[bk_id] = e;
	} else {
		xfer_free(h, e);   /* a changed check starts over: no result for the old one */
		tcp_stop(h, e);
	}

	e->bk_id = bk_id;
	e->addr = *addr;
	e->c = *c;
	memset(&e->info, 0, sizeof(e->info));
	e->info.type = c->type;
	e->info.state = SL_HEALTH_UNKNOWN;
	labels(e, svc, name);
	/* first run somewhere in [now, now + interval) */
	heap_rekey(&h->due, e, now_ns() + rnd_below(h, interval_ns(e)));
	arm(h);
	return 0;
}

void sl_health_remove(struct sl_health *h, __u32 bk_id)
{
	struct hc *e = h ? lookup(h, bk_id) : NULL;

	if (!e)
		return;
	xfer_free(h, e);
	tcp_stop(h, e);
	heap_del(&h->due, e);
	h->by_id[bk_id] = NULL;
	free(e);
	arm(h);
}

enum sl_health_state sl_health_state(const struct sl_health *h, __u32 bk_id)
{
	const struct hc *e = lookup(h, bk_id);

	return e ? e->info.state : SL_HEALTH_UNKNOWN;
}

int sl_health_info(const struct sl_health *h, __u32 bk_id, struct sl_health_info *out)
{
	const struct hc *e = lookup(h, bk_id);

	if (!e)
		return -ENOENT;
	*out = e->info;
	return 0;
}
