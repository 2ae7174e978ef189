// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests: active health checks (daemon/health.c) against real sockets.
 *
 * Every test unshares a fresh network namespace (setup), brings lo up and
 * puts 198.18.0.1/32 and 2001:2::1/128 on it; the servers are sockets of
 * this process, served by the same loop that drives the module:
 * epoll_wait on the module's fd and the servers' fds, sl_health_dispatch.
 * A loop stops when what it waits for has happened; the iteration cap and
 * the 20 s deadline only turn a hang into a failure (nothing asserts on
 * time). Checks meant to pass have timeouts far above a loopback connect;
 * SL_TEST_SLOW=N multiplies every interval and timeout (and the deadline)
 * for slow runs, e.g. SL_TEST_SLOW=5 under valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <cmocka.h>

#include "health.h"

#define V4 "198.18.0.1"
#define V6 "2001:2::1"
#define V4B "198.18.0.2"   /* added by the tests that need a second address */
#define V6B "2001:2::2"
#define MAX_RES  512
#define MAX_SRV  16
#define MAX_CONN 64
#define MAX_REQ  128
#define MAX_PEER 8

/* ---- the namespace ------------------------------------------------------- */

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	strcpy(ifr.ifr_name, "lo");
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

static void addr_add(int family, const char *text)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned char a[16];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct mnl_socket *nl;
	int len = family == AF_INET ? 4 : 16, n;

	assert_int_equal(inet_pton(family, text, a), 1);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = len * 8;
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = if_nametoindex("lo");
	mnl_attr_put(nlh, IFA_LOCAL, len, a);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a);

	nl = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	assert_true(n > 0);
	if (mnl_cb_run(buf, n, 1, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		fail_msg("adding %s to lo: %s", text, strerror(errno));
	mnl_socket_close(nl);
}

/* ---- test state: results and servers ------------------------------------- */

enum mode {
	M_ACCEPT_CLOSE,   /* TCP: accept, close */
	M_200, M_503, M_302,
	M_SILENT,         /* accept, read the request, never answer */
	M_BLOCKED,        /* never accepted (not in the loop) */
};

struct srv {
	int fd, mode, port, v6, accepted;
	struct sockaddr_storage peer[MAX_PEER];   /* of the first accepted connections */
};
struct conn { int fd; struct srv *s; size_t len; char buf[2048]; };
struct req { int port, v6; char line[256], host[160], ua[160]; };

static struct {
	struct sl_health *h;
	int ep;
	struct sl_health_result res[MAX_RES];
	int nres;
	struct srv srv[MAX_SRV];
	int nsrv;
	struct conn conn[MAX_CONN];
	struct req req[MAX_REQ];
	int nreq;
	unsigned max_running_seen;
	/* a hook run from the callback, after the result is recorded */
	void (*on_result)(const struct sl_health_result *r);
} t;

static void record(void *ctx, const struct sl_health_result *r)
{
	if (t.nres < MAX_RES)
		t.res[t.nres++] = *r;
	if (t.on_result)
		t.on_result(r);
}

static int count(__u32 id)
{
	int n = 0;

	for (int i = 0; i < t.nres; i++)
		n += t.res[i].bk_id == id;
	return n;
}

/* the k-th (from 1) result of id */
static const struct sl_health_result *nth(__u32 id, int k)
{
	for (int i = 0; i < t.nres; i++)
		if (t.res[i].bk_id == id && !--k)
			return &t.res[i];
	fail_msg("no result %d for backend %u", k, id);
	return NULL;
}

static struct srv *listen_on(const char *ip, int port, int mode, int backlog)
{
	struct srv *s = &t.srv[t.nsrv++];
	int v6 = strchr(ip, ':') != NULL, one = 1;
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	assert_true(t.nsrv <= MAX_SRV);
	if (v6) {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &a->sin6_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip, &a->sin_addr);
		len = sizeof(*a);
	}
	s->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&ss, len))
		fail_msg("bind %s:%d: %s", ip, port, strerror(errno));
	assert_int_equal(listen(s->fd, backlog), 0);
	s->mode = mode;
	s->port = port;
	s->v6 = v6;
	if (mode != M_BLOCKED) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		assert_int_equal(epoll_ctl(t.ep, EPOLL_CTL_ADD, s->fd, &ev), 0);
	}
	return s;
}

static void srv_close(struct srv *s)
{
	if (s->fd >= 0)
		close(s->fd);   /* leaves the epoll set with it */
	s->fd = -1;
}

static int open_conns(const struct srv *s)
{
	int n = 0;

	for (int i = 0; i < MAX_CONN; i++)
		n += t.conn[i].fd >= 0 && t.conn[i].s == s;
	return n;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static void on_accept(struct srv *s)
{
	int fd;

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		struct conn *c = NULL;
		struct epoll_event ev = { .events = EPOLLIN };

		fd = accept4(s->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (s->accepted < MAX_PEER)
			s->peer[s->accepted] = peer;
		s->accepted++;
		if (s->mode == M_ACCEPT_CLOSE) {
			close(fd);
			continue;
		}
		for (int i = 0; i < MAX_CONN && !c; i++)
			if (t.conn[i].fd < 0)
				c = &t.conn[i];
		if (!c)
			fail_msg("test server: too many connections");
		c->fd = fd;
		c->s = s;
		c->len = 0;
		ev.data.ptr = c;
		assert_int_equal(epoll_ctl(t.ep, EPOLL_CTL_ADD, fd, &ev), 0);
	}
}

static void header(const char *head, const char *name, char *out, size_t len)
{
	const char *p = strcasestr(head, name);

	if (!p) {
		snprintf(out, len, "(none)");
		return;
	}
	p += strlen(name);
	snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
}

static void on_data(struct conn *c)
{
	static const char r200[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n"
				   "Connection: close\r\n\r\ndown";
	static const char r302[] = "HTTP/1.1 302 Found\r\nLocation: http://" V4 ":8001/elsewhere\r\n"
				   "Content-Length: 0\r\nConnection: close\r\n\r\n";
	const char *resp = NULL;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	struct req *q;

	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			conn_close(c);
		return;
	}
	c->len += n;
	c->buf[c->len] = 0;
	if ((unsigned char)c->buf[0] == 0x16) {     /* a TLS ClientHello: hang up */
		conn_close(c);
		return;
	}
	if (!strstr(c->buf, "\r\n\r\n"))
		return;
	if (t.nreq < MAX_REQ) {
		q = &t.req[t.nreq++];
		q->port = c->s->port;
		q->v6 = c->s->v6;
		snprintf(q->line, sizeof(q->line), "%.*s", (int)strcspn(c->buf, "\r\n"), c->buf);
		header(c->buf, "\r\nHost: ", q->host, sizeof(q->host));
		header(c->buf, "\r\nUser-Agent: ", q->ua, sizeof(q->ua));
	}
	switch (c->s->mode) {
	case M_200: resp = r200; break;
	case M_503: resp = r503; break;
	case M_302: resp = r302; break;
	default: c->len = 0; return;   /* silent: keep reading until the client leaves */
	}
	assert_int_equal(write(c->fd, resp, strlen(resp)), (ssize_t)strlen(resp));
	conn_close(c);
}

static unsigned slow = 1;   /* SL_TEST_SLOW */

static unsigned ms(unsigned v)
{
	return v * slow;
}

static char health_tag;   /* epoll data of the module's fd in t.ep */

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* Run the loop until done(arg). The cap and the deadline only catch hangs. */
static void run_until(int (*done)(long), long arg, const char *what)
{
	__u64 deadline = mono_ms() + 20000ull * slow;

	for (int iter = 0; !done(arg); iter++) {
		struct epoll_event ev[16];
		int n;

		if (iter > 100000 || mono_ms() > deadline)
			fail_msg("gave up waiting for %s (%d results so far)", what, t.nres);
		n = epoll_wait(t.ep, ev, 16, 100);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;

			if (p == &health_tag) {
				sl_health_dispatch(t.h);
				if (sl_health_running(t.h) > t.max_running_seen)
					t.max_running_seen = sl_health_running(t.h);
			} else if (p >= (void *)t.srv && p < (void *)(t.srv + MAX_SRV)) {
				on_accept(p);
			} else if (((struct conn *)p)->fd >= 0) {
				on_data(p);
			}
		}
	}
}

static int have_results(long id_n)   /* (id << 16) | n */
{
	return count(id_n >> 16) >= (id_n & 0xffff);
}

static void wait_results(__u32 id, int n)
{
	char what[64];

	snprintf(what, sizeof(what), "%d results of backend %u", n, id);
	run_until(have_results, ((long)id << 16) | n, what);
}

static void wait_all(const __u32 *ids, int nr, int n)
{
	for (int i = 0; i < nr; i++)
		wait_results(ids[i], n);
}

/* ---- setup --------------------------------------------------------------- */

static int setup(void **state)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char err[256] = "";

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < MAX_CONN; i++)
		t.conn[i].fd = -1;
	for (int i = 0; i < MAX_SRV; i++)
		t.srv[i].fd = -1;
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	lo_up();
	addr_add(AF_INET, V4);
	addr_add(AF_INET6, V6);
	t.ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(t.ep >= 0);
	if (sl_health_open(&t.h, record, NULL, err, sizeof(err)))
		fail_msg("sl_health_open: %s", err);
	ev.data.ptr = &health_tag;
	assert_int_equal(epoll_ctl(t.ep, EPOLL_CTL_ADD, sl_health_fd(t.h), &ev), 0);
	return 0;
}

static int teardown(void **state)
{
	sl_health_close(t.h);
	t.h = NULL;
	for (int i = 0; i < MAX_CONN; i++)
		if (t.conn[i].fd >= 0)
			conn_close(&t.conn[i]);
	for (int i = 0; i < MAX_SRV; i++)
		srv_close(&t.srv[i]);
	close(t.ep);
	return 0;
}

/* ---- helpers ------------------------------------------------------------- */

static struct sl_l4addr addr_of(const char *ip, int port)
{
	struct sl_l4addr a = { .port = htons(port), .proto = IPPROTO_TCP };

	if (strchr(ip, ':')) {
		a.family = SL_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, a.addr), 1);
	} else {
		a.family = SL_AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, a.addr), 1);
	}
	return a;
}

static struct sl_cfg_check tcp_check(unsigned interval, unsigned timeout, unsigned rise, unsigned fall)
{
	struct sl_cfg_check c = {
		.type = SL_CHECK_TCP, .interval_ms = ms(interval), .timeout_ms = ms(timeout),
		.rise = rise, .fall = fall, .jitter_pct = 10, .expect_lo = 200, .expect_hi = 399,
	};

	strcpy(c.path, "/");
	return c;
}

static struct sl_cfg_check http_check(int type, const char *path, const char *host,
				      int lo, int hi, unsigned timeout)
{
	struct sl_cfg_check c = tcp_check(300, timeout, 1, 1);   /* ms() applied there */

	c.type = type;
	c.expect_lo = lo;
	c.expect_hi = hi;
	snprintf(c.path, sizeof(c.path), "%s", path);
	snprintf(c.host, sizeof(c.host), "%s", host);
	return c;
}

static void set_ok(__u32 id, const char *ip, int port, const struct sl_cfg_check *c)
{
	struct sl_l4addr a = addr_of(ip, port);

	assert_int_equal(sl_health_set(t.h, id, &a, c, "web", NULL), 0);
}

static void expect(__u32 id, int k, int ok, int before, int after, const char *detail)
{
	const struct sl_health_result *r = nth(id, k);

	if (r->ok != ok || r->state_before != before || r->state_after != after ||
	    (detail && strcmp(r->detail, detail)))
		fail_msg("backend %u result %d: ok %d %s -> %s \"%s\"; expected ok %d %s -> %s \"%s\"",
			 id, k, r->ok, sl_health_state_name(r->state_before),
			 sl_health_state_name(r->state_after), r->detail, ok,
			 sl_health_state_name(before), sl_health_state_name(after),
			 detail ? detail : "*");
	assert_int_equal(r->bk_id, id);
	if (ok)
		assert_int_equal(r->timed_out, 0);
}

static const struct req *find_req(const char *line)
{
	for (int i = 0; i < t.nreq; i++)
		if (!strcmp(t.req[i].line, line))
			return &t.req[i];
	return NULL;
}

/* ---- TCP ----------------------------------------------------------------- */

static struct srv *l4, *l6;

static int have_accepted(long srvs)   /* each of 4 servers accepted 3 or more */
{
	struct srv *const *s = (struct srv *const *)srvs;

	for (int i = 0; i < 4; i++)
		if (s[i]->accepted < 3)
			return 0;
	return 1;
}

/* Close each listener right after its backend's second result: before the
 * next check can start (results come before starts in a dispatch). */
static void close_after_two(const struct sl_health_result *r)
{
	if (count(r->bk_id) == 2)
		srv_close(r->bk_id == 1 ? l4 : l6);
}

/* client sockets (remote port `port`) in TIME_WAIT in this namespace */
static int time_wait_to(unsigned port)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512], rem[64];
	unsigned st, rport;
	int n = 0;

	for (int f = 0; f < 2; f++) {
		FILE *fp = fopen(files[f], "r");

		assert_non_null(fp);
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, " %*d: %*s %63s %x", rem, &st) == 2 &&
			    sscanf(strchr(rem, ':') ? strchr(rem, ':') + 1 : "", "%x", &rport) == 1 &&
			    rport == port && st == 0x06)
				n++;
		fclose(fp);
	}
	return n;
}

static void test_tcp_rise_fall(void **state)
{
	struct sl_cfg_check c = tcp_check(200, 200, 2, 3);
	struct sl_health_info in;
	__u64 hist = 0;

	l4 = listen_on(V4, 8080, M_ACCEPT_CLOSE, 16);
	l6 = listen_on(V6, 8080, M_ACCEPT_CLOSE, 16);
	t.on_result = close_after_two;
	set_ok(1, V4, 8080, &c);
	set_ok(2, V6, 8080, &c);
	assert_int_equal(sl_health_state(t.h, 1), SL_HEALTH_UNKNOWN);
	wait_results(1, 5);
	wait_results(2, 5);

	for (__u32 id = 1; id <= 2; id++) {
		expect(id, 1, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UNKNOWN, "ok");
		expect(id, 2, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");
		expect(id, 3, 0, SL_HEALTH_UP, SL_HEALTH_UP, "connection refused");
		expect(id, 4, 0, SL_HEALTH_UP, SL_HEALTH_UP, "connection refused");
		expect(id, 5, 0, SL_HEALTH_UP, SL_HEALTH_DOWN, "connection refused");
		assert_int_equal(nth(id, 5)->status, 0);
		assert_int_equal(nth(id, 5)->timed_out, 0);
		assert_true(nth(id, 5)->at_ns > nth(id, 1)->at_ns);
	}
	/* the second connection may still have been queued at the close */
	assert_true(l4->accepted >= 1 && l4->accepted <= 2);
	assert_true(l6->accepted >= 1 && l6->accepted <= 2);

	assert_int_equal(sl_health_info(t.h, 2, &in), 0);
	assert_int_equal(in.type, SL_CHECK_TCP);
	assert_int_equal(in.state, SL_HEALTH_DOWN);
	assert_int_equal(sl_health_state(t.h, 2), SL_HEALTH_DOWN);
	assert_true(in.checks >= 5);   /* a sixth may have come with the fifth */
	assert_int_equal(in.checks - in.failures, 2);
	assert_int_equal(in.timeouts, 0);
	assert_true(in.consecutive_fail >= 3);
	assert_int_equal(in.consecutive_ok, 0);
	assert_string_equal(in.last_detail, "connection refused");
	for (int i = 0; i < SL_HEALTH_LAT_BUCKETS; i++)
		hist += in.lat_hist[i];
	assert_int_equal(hist, in.checks);
	/* a TCP check leaves by an RST: no TIME_WAIT left behind it */
	assert_int_equal(time_wait_to(8080), 0);
}

/*
 * One check at a time, so one pooled socket serves them all in turn: a
 * timeout (disconnected in SYN_SENT), a refusal and a success follow each
 * other on it, and no result carries over to the next check.
 */
static void test_tcp_pool_reuse(void **state)
{
	struct sl_cfg_check c = tcp_check(200, 100, 1, 1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7001) };
	int a, b;

	listen_on(V4, 8090, M_ACCEPT_CLOSE, 16);
	/* a black hole as in test_tcp_timeout */
	listen_on(V4, 7001, M_BLOCKED, 0);
	inet_pton(AF_INET, V4, &sa.sin_addr);
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(connect(b, (struct sockaddr *)&sa, sizeof(sa)), -1);

	sl_health_set_max_running(t.h, 1);
	set_ok(1, V4, 8090, &c);
	set_ok(2, V4, 7001, &c);
	set_ok(3, V4, 8091, &c);   /* nobody listens */
	for (__u32 id = 1; id <= 3; id++)
		wait_results(id, 4);
	for (int i = 0; i < t.nres; i++) {
		const struct sl_health_result *r = &t.res[i];

		if (r->bk_id == 1 && (!r->ok || strcmp(r->detail, "ok")))
			fail_msg("result %d of b1: %s", i, r->detail);
		if (r->bk_id == 2 && (r->ok || !r->timed_out))
			fail_msg("result %d of b2: %s", i, r->detail);
		if (r->bk_id == 3 && (r->ok || strcmp(r->detail, "connection refused")))
			fail_msg("result %d of b3: %s", i, r->detail);
	}
	assert_int_equal(t.max_running_seen, 1);
	close(a);
	close(b);
}

/* the port and address of s's k-th accepted connection's peer (k from 0) */
static unsigned peer_port(const struct srv *s, int k, char *ip, size_t iplen)
{
	const struct sockaddr_storage *p = &s->peer[k];

	assert_true(k < s->accepted && k < MAX_PEER);
	if (p->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)p;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, iplen);
		return ntohs(a->sin6_port);
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)p)->sin_addr, ip, iplen);
	return ntohs(((const struct sockaddr_in *)p)->sin_port);
}

/*
 * A pooled socket keeps its source port for life. One check at a time, so
 * one socket per family serves every check; between two checks of a
 * backend it checked the others, refused ones and ones on another local
 * address. Every connection a backend accepts comes from that one port
 * (the same 4-tuple again: the RST left nothing behind at either end) and
 * from the backend's own address: the source address is still chosen per
 * destination, only the port is bound. IPv4 and IPv6 alike.
 */
static void test_tcp_fixed_port(void **state)
{
	static const char *const ip[4] = { V4, V4B, V6, V6B };
	struct sl_cfg_check c = tcp_check(100, 100, 1, 1);
	unsigned port[4];
	struct srv *s[4];

	addr_add(AF_INET, V4B);
	addr_add(AF_INET6, V6B);
	for (int i = 0; i < 4; i++) {
		s[i] = listen_on(ip[i], 8100, M_ACCEPT_CLOSE, 16);
		set_ok(i + 1, ip[i], 8100, &c);
	}
	set_ok(5, V4, 8101, &c);   /* nobody listens */
	set_ok(6, V6, 8101, &c);
	sl_health_set_max_running(t.h, 1);
	for (__u32 id = 1; id <= 6; id++)
		wait_results(id, 4);
	assert_int_equal(t.max_running_seen, 1);
	for (int i = 0; i < t.nres; i++) {
		const struct sl_health_result *r = &t.res[i];

		if (r->bk_id <= 4 && (!r->ok || strcmp(r->detail, "ok")))
			fail_msg("result %d of b%u: %s", i, r->bk_id, r->detail);
		if (r->bk_id > 4 && (r->ok || strcmp(r->detail, "connection refused")))
			fail_msg("result %d of b%u: %s", i, r->bk_id, r->detail);
	}
	run_until(have_accepted, (long)s, "the listeners' connections");
	for (int i = 0; i < 4; i++) {
		char from[INET6_ADDRSTRLEN];

		for (int k = 0; k < s[i]->accepted && k < MAX_PEER; k++) {
			unsigned p = peer_port(s[i], k, from, sizeof(from));

			if (!k)
				port[i] = p;
			if (p != port[i] || strcmp(from, ip[i]))
				fail_msg("%s: connection %d from [%s]:%u, the first from port %u",
					 ip[i], k, from, p, port[i]);
		}
	}
	/* one socket per family */
	assert_int_equal(port[0], port[1]);
	assert_int_equal(port[2], port[3]);
	assert_int_equal(time_wait_to(8100), 0);
}

static void open_after_two(const struct sl_health_result *r)
{
	if (count(r->bk_id) == 2)
		listen_on(r->bk_id == 1 ? V4 : V6, 9, M_ACCEPT_CLOSE, 16);
}

static void test_tcp_refused_then_up(void **state)
{
	struct sl_cfg_check c = tcp_check(200, 200, 2, 2);

	t.on_result = open_after_two;
	set_ok(1, V4, 9, &c);
	set_ok(2, V6, 9, &c);
	wait_results(1, 4);
	wait_results(2, 4);
	for (__u32 id = 1; id <= 2; id++) {
		/* fall counts from UNKNOWN too */
		expect(id, 1, 0, SL_HEALTH_UNKNOWN, SL_HEALTH_UNKNOWN, "connection refused");
		expect(id, 2, 0, SL_HEALTH_UNKNOWN, SL_HEALTH_DOWN, "connection refused");
		expect(id, 3, 1, SL_HEALTH_DOWN, SL_HEALTH_DOWN, "ok");
		expect(id, 4, 1, SL_HEALTH_DOWN, SL_HEALTH_UP, "ok");
		assert_int_equal(nth(id, 1)->timed_out, 0);
	}
}

/* stderr into a file while the module logs */
static int saved_stderr = -1;
static FILE *log_file;

static void capture_log(void)
{
	fflush(stderr);
	log_file = tmpfile();
	assert_non_null(log_file);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fileno(log_file), 2), 2);
}

static char *captured_log(void)
{
	static char buf[8192];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(log_file);
	n = fread(buf, 1, sizeof(buf) - 1, log_file);
	buf[n] = 0;
	fclose(log_file);
	return buf;
}

static void test_tcp_timeout(void **state)
{
	struct sl_cfg_check c = tcp_check(200, 100, 1, 1);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct sl_health_info in;
	const struct sl_health_result *r;
	int a, b;
	char *log, want[64];

	/* Backlog 0: one connection fills the accept queue, which is never
	 * drained; the next SYNs (the second one here, then the check's) are
	 * dropped. */
	listen_on(V4, 7000, M_BLOCKED, 0);
	inet_pton(AF_INET, V4, &sa.sin_addr);
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(connect(b, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, EINPROGRESS);

	capture_log();
	set_ok(1, V4, 7000, &c);
	wait_results(1, 3);
	log = captured_log();

	for (int k = 1; k <= 3; k++) {
		r = nth(1, k);
		assert_int_equal(r->ok, 0);
		assert_int_equal(r->timed_out, 1);
		assert_int_equal(r->status, 0);
		if (strncmp(r->detail, "timeout after ", 14) || !strstr(r->detail, " ms"))
			fail_msg("detail \"%s\"", r->detail);
		assert_int_equal(r->state_after, SL_HEALTH_DOWN);
	}
	assert_int_equal(sl_health_info(t.h, 1, &in), 0);
	assert_true(in.timeouts >= 3);
	snprintf(want, sizeof(want), " ms (timeout_ms %u; ", ms(100));
	if (!strstr(log, "health: web " V4 ":7000 tcp: timeout after ") ||
	    !strstr(log, want) || !strstr(log, "unknown -> down"))
		fail_msg("log:\n%s", log);
	/* three timeouts in a row: the first is logged, the rest counted */
	if (strstr(strstr(log, "tcp: timeout after ") + 1, "tcp: timeout after "))
		fail_msg("a run of timeouts logged more than once:\n%s", log);
	close(a);
	close(b);
}

/* ---- HTTP ---------------------------------------------------------------- */

static void test_http(void **state)
{
	struct sl_cfg_check c1 = http_check(SL_CHECK_HTTP, "/healthz", "example.test", 200, 200, 300);
	struct sl_cfg_check c2 = http_check(SL_CHECK_HTTP, "/status?full=1", "", 200, 399, 300);
	struct sl_cfg_check c3 = http_check(SL_CHECK_HTTP, "/r", "", 200, 399, 300);
	struct sl_cfg_check c4 = http_check(SL_CHECK_HTTP, "/r2", "", 200, 299, 300);
	struct sl_cfg_check c5 = http_check(SL_CHECK_HTTP, "/slow", "", 200, 399, 100);
	struct sl_cfg_check c6 = http_check(SL_CHECK_HTTPS, "/tls", "", 200, 399, 300);
	struct sl_cfg_check c7 = http_check(SL_CHECK_HTTP, "/v6", "", 200, 399, 300);
	static const __u32 ids[] = { 1, 2, 3, 4, 5, 6, 7 };
	const struct sl_health_result *r;
	const struct req *q;

	listen_on(V4, 8001, M_200, 16);
	listen_on(V4, 8002, M_503, 16);
	listen_on(V4, 8003, M_302, 16);
	listen_on(V4, 8004, M_SILENT, 16);
	listen_on(V6, 8001, M_200, 16);
	set_ok(1, V4, 8001, &c1);
	set_ok(2, V4, 8002, &c2);
	c3.port = 8003;                     /* the check's port over the backend's */
	set_ok(3, V4, 1, &c3);
	set_ok(4, V4, 8003, &c4);
	set_ok(5, V4, 8004, &c5);
	set_ok(6, V4, 8001, &c6);
	set_ok(7, V6, 8001, &c7);
	wait_all(ids, 7, 1);

	expect(1, 1, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");
	assert_int_equal(nth(1, 1)->status, 200);
	expect(2, 1, 0, SL_HEALTH_UNKNOWN, SL_HEALTH_DOWN, "status 503");
	assert_int_equal(nth(2, 1)->status, 503);
	assert_int_equal(nth(2, 1)->timed_out, 0);
	expect(3, 1, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");
	assert_int_equal(nth(3, 1)->status, 302);
	expect(4, 1, 0, SL_HEALTH_UNKNOWN, SL_HEALTH_DOWN, "status 302");
	r = nth(5, 1);
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->timed_out, 1);
	assert_int_equal(r->status, 0);
	if (strncmp(r->detail, "timeout after ", 14))
		fail_msg("detail \"%s\"", r->detail);
	r = nth(6, 1);   /* TLS to a plain HTTP server that hangs up */
	assert_int_equal(r->ok, 0);
	assert_int_equal(r->timed_out, 0);
	assert_true(r->detail[0] && strcmp(r->detail, "ok"));
	print_message("https to a plain server: %s\n", r->detail);
	expect(7, 1, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");

	/* what the servers were asked */
	q = find_req("GET /healthz HTTP/1.1");
	assert_non_null(q);
	assert_int_equal(q->port, 8001);
	assert_int_equal(q->v6, 0);
	assert_string_equal(q->host, "example.test");
	assert_string_equal(q->ua, "sluice-health/0.1");
	q = find_req("GET /status?full=1 HTTP/1.1");
	assert_non_null(q);
	assert_string_equal(q->host, V4 ":8002");
	q = find_req("GET /r HTTP/1.1");
	assert_non_null(q);
	assert_int_equal(q->port, 8003);
	assert_null(find_req("GET /elsewhere HTTP/1.1"));   /* redirects are not followed */
	assert_non_null(find_req("GET /slow HTTP/1.1"));
	q = find_req("GET /v6 HTTP/1.1");
	assert_non_null(q);
	assert_int_equal(q->v6, 1);
	assert_string_equal(q->host, "[" V6 "]:8001");
	assert_null(find_req("GET /tls HTTP/1.1"));
}

/* A check that takes its whole interval is never run twice at once. */
static void test_not_doubled(void **state)
{
	struct sl_cfg_check c = http_check(SL_CHECK_HTTP, "/slow", "", 200, 399, 100);
	struct srv *s = listen_on(V4, 8004, M_SILENT, 16);

	c.interval_ms = ms(100);
	c.jitter_pct = 0;
	set_ok(1, V4, 8004, &c);
	wait_results(1, 4);
	assert_int_equal(t.max_running_seen, 1);
	assert_true(s->accepted >= 4 && s->accepted <= t.nres + 1);
	for (int k = 1; k <= 4; k++)
		assert_int_equal(nth(1, k)->timed_out, 1);
}

static void test_max_running(void **state)
{
	struct sl_cfg_check c = http_check(SL_CHECK_HTTP, "/slow", "", 200, 399, 100);
	static const __u32 ids[] = { 1, 2, 3 };
	struct srv *s = listen_on(V4, 8004, M_SILENT, 16);

	c.interval_ms = ms(100);
	sl_health_set_max_running(t.h, 1);
	for (int i = 0; i < 3; i++)
		set_ok(ids[i], V4, 8004, &c);
	wait_all(ids, 3, 2);
	assert_int_equal(t.max_running_seen, 1);
	assert_true(s->accepted <= t.nres + 1);
}

/* ---- set, change, remove ------------------------------------------------- */

static void test_set_semantics(void **state)
{
	struct sl_cfg_check c = tcp_check(150, 150, 1, 1), bad;
	struct sl_l4addr a = addr_of(V4, 8080), a2 = addr_of(V4, 8081);
	struct sl_health_info in;

	listen_on(V4, 8080, M_ACCEPT_CLOSE, 16);
	assert_int_equal(sl_health_set(t.h, 1, &a, &c, "web", "b1"), 0);
	wait_results(1, 1);
	expect(1, 1, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");

	/* identical (new labels only): state and counters stay */
	strcpy(c.host, "ignored for tcp");
	assert_int_equal(sl_health_set(t.h, 1, &a, &c, "web2", "b1-renamed"), 0);
	assert_int_equal(sl_health_state(t.h, 1), SL_HEALTH_UP);
	assert_int_equal(sl_health_info(t.h, 1, &in), 0);
	assert_int_equal(in.checks, 1);
	assert_int_equal(in.consecutive_ok, 1);
	wait_results(1, 2);
	expect(1, 2, 1, SL_HEALTH_UP, SL_HEALTH_UP, "ok");

	/* changed setting: over again from UNKNOWN */
	c.interval_ms = ms(160);
	assert_int_equal(sl_health_set(t.h, 1, &a, &c, "web", "b1"), 0);
	assert_int_equal(sl_health_state(t.h, 1), SL_HEALTH_UNKNOWN);
	assert_int_equal(sl_health_info(t.h, 1, &in), 0);
	assert_int_equal(in.checks, 0);
	assert_int_equal(in.state, SL_HEALTH_UNKNOWN);
	wait_results(1, 3);
	expect(1, 3, 1, SL_HEALTH_UNKNOWN, SL_HEALTH_UP, "ok");

	/* changed address: likewise, and now nothing listens */
	assert_int_equal(sl_health_set(t.h, 1, &a2, &c, "web", "b1"), 0);
	assert_int_equal(sl_health_state(t.h, 1), SL_HEALTH_UNKNOWN);
	wait_results(1, 4);
	expect(1, 4, 0, SL_HEALTH_UNKNOWN, SL_HEALTH_DOWN, "connection refused");

	/* type NONE removes */
	c.type = SL_CHECK_NONE;
	assert_int_equal(sl_health_set(t.h, 1, &a2, &c, "web", "b1"), 0);
	assert_int_equal(sl_health_info(t.h, 1, &in), -ENOENT);
	assert_int_equal(sl_health_state(t.h, 1), SL_HEALTH_UNKNOWN);
	assert_int_equal(sl_health_running(t.h), 0);
	assert_int_equal(sl_health_info(t.h, 4242, &in), -ENOENT);
	sl_health_remove(t.h, 4242);   /* nothing there: no-op */

	/* refused settings */
	c = tcp_check(150, 150, 1, 1);
	assert_int_equal(sl_health_set(t.h, 0, &a, &c, "web", NULL), -EINVAL);
	assert_int_equal(sl_health_set(t.h, SL_MAX_BACKENDS, &a, &c, "web", NULL), -EINVAL);
	bad = c; bad.interval_ms = 0;
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = c; bad.timeout_ms = c.interval_ms + 1;
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = c; bad.type = 9;
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = c; bad.rise = 0;
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = http_check(SL_CHECK_HTTP, "nopath", "", 200, 399, 50);
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = http_check(SL_CHECK_HTTP, "/a b", "", 200, 399, 50);
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	bad = http_check(SL_CHECK_HTTP, "/", "", 400, 399, 50);
	assert_int_equal(sl_health_set(t.h, 1, &a, &bad, "web", NULL), -EINVAL);
	a.family = 0;
	assert_int_equal(sl_health_set(t.h, 1, &a, &c, "web", NULL), -EINVAL);
	assert_int_equal(sl_health_info(t.h, 1, &in), -ENOENT);

	assert_string_equal(sl_health_state_name(SL_HEALTH_UP), "up");
	assert_string_equal(sl_health_state_name(SL_HEALTH_DOWN), "down");
	assert_string_equal(sl_health_state_name(SL_HEALTH_UNKNOWN), "unknown");
	assert_string_equal(sl_check_type_name(SL_CHECK_HTTPS), "https");
	assert_string_equal(sl_check_type_name(SL_CHECK_TCP), "tcp");
	assert_string_equal(sl_check_type_name(SL_CHECK_NONE), "none");
}

static int have_requests(long n)
{
	return t.nreq >= n;
}

static struct srv *silent;

static int idle_and_counted(long n)   /* silent has no connection left, id 2 has n results */
{
	return open_conns(silent) == 0 && count(2) >= n;
}

static int removed_at;

static void remove_self(const struct sl_health_result *r)
{
	if (r->bk_id == 2 && count(2) == removed_at)
		sl_health_remove(t.h, 2);      /* from its own callback */
}

static void test_remove_mid_check(void **state)
{
	struct sl_cfg_check slowc = http_check(SL_CHECK_HTTP, "/slow", "", 200, 399, 300);
	struct sl_cfg_check c = tcp_check(150, 150, 1, 1);
	int base;

	slowc.interval_ms = ms(300);
	silent = listen_on(V4, 8004, M_SILENT, 16);
	listen_on(V4, 8080, M_ACCEPT_CLOSE, 16);
	set_ok(1, V4, 8004, &slowc);
	set_ok(2, V4, 8080, &c);

	/* the server has the request: check 1 is in flight */
	run_until(have_requests, 1, "the first request");
	sl_health_remove(t.h, 1);
	base = count(2);
	/* six more results of 2 (longer than check 1's timeout would take),
	 * and the server sees check 1's connection closed */
	run_until(idle_and_counted, base + 6, "backend 2's results and the closed connection");
	assert_int_equal(count(1), 0);
	assert_int_equal(t.nreq, 1);

	/* a callback removing its own backend */
	removed_at = count(2) + 2;
	t.on_result = remove_self;
	set_ok(3, V4, 8080, &c);
	wait_results(3, 6);
	assert_int_equal(count(2), removed_at);
	{
		struct sl_health_info in;

		assert_int_equal(sl_health_info(t.h, 2, &in), -ENOENT);
	}

	/* close with a check in flight (teardown): valgrind/ASan see it freed */
	set_ok(4, V4, 8004, &slowc);
	run_until(have_requests, 2, "the second request");
	assert_true(sl_health_running(t.h) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp_rise_fall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_refused_then_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_pool_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_fixed_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_doubled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_mid_check, setup, teardown),
	};

	if (getenv("SL_TEST_SLOW") && atoi(getenv("SL_TEST_SLOW")) > 1)
		slow = atoi(getenv("SL_TEST_SLOW"));
	if (geteuid() != 0) {
		fprintf(stderr, "test_health: needs root for network namespaces; skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
