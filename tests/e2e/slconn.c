// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * slconn: the e2e lab's TCP client, speaking just enough HTTP/1.1 to learn
 * which backend answered (the lab's nginx answers "b<i>\n").
 *
 *   slconn burst ADDR PORT --sport-base P --count N [--src ADDR] [--timeout-ms T]
 *                          [--max-fail K]
 *       N sequential connections from source ports P..P+N-1, one request
 *       each ("Connection: close"). One line per connection: "SPORT BODY" or
 *       "SPORT FAIL reason"; stops after K failures. Exit 0 only if all
 *       succeeded.
 *
 *   slconn hold ADDR PORT --seconds S --interval-ms I [--src ADDR] [--sport P]
 *                         [--stop-file F] [--verbose]
 *       One keep-alive connection (from port P, else one the kernel picks),
 *       a request every I ms for S seconds (or until F exists). Prints "hold: sport P backend B" after the first
 *       answer, "req N B" per request with --verbose, and at the end
 *       "hold: backend B requests N". Exit 1 if any request fails or the
 *       backend changes.
 *
 *   slconn rate ADDR PORT --seconds S --rate R [--concurrency C] [--count N]
 *                         [--sport-base P --sport-count N] [--src ADDR]
 *                         [--connect-log F]
 *       New connections at R per second for S seconds (or until N were
 *       started), at most C at once.
 *       Prints "rate: attempted N ok N failed N" and "backend B N" lines;
 *       with --connect-log, one "SPORT CONNECT_US TOTAL_US" line per
 *       connection that connected into F, when it ends: connect() to the
 *       handshake's end, and to the end of the response (TOTAL_US "-" when
 *       the request failed or timed out after the connect).
 *       Exit 1 if any failed.
 *
 *   slconn open ADDR PORT --count N --stop-file F [--seconds S] [--src ADDR]
 *       N idle connections (handshake only, no request), opened one after
 *       the other; prints "open: established N failed N", then holds them
 *       until F exists (or S seconds, default 60 pass) and closes them all.
 *       Exit 1 if any failed to connect.
 *
 * Connections end with the server's close (we read to EOF before closing),
 * so TIME_WAIT stays on the backend and source ports can be reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REQ_CLOSE "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
#define REQ_KEEP  "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define RESP_MAX  4096
#define BODY_MAX  64

struct opts {
	const char *mode;
	struct sockaddr_storage dst, src;
	socklen_t dst_len, src_len;
	bool have_src;
	long sport_base, sport, count, seconds, interval_ms, timeout_ms;
	long rate, concurrency, sport_count, max_fail;
	const char *stop_file, *connect_log;
	bool verbose;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: slconn burst ADDR PORT --sport-base P --count N [--src ADDR] [--timeout-ms T]\n"
		"                    [--max-fail K]\n"
		"       slconn hold ADDR PORT --seconds S --interval-ms I [--src ADDR] [--sport P]\n"
		"                   [--stop-file F] [--verbose]\n"
		"       slconn rate ADDR PORT --seconds S --rate R [--concurrency C] [--count N]\n"
		"                   [--sport-base P --sport-count N] [--src ADDR] [--connect-log F]\n"
		"       slconn open ADDR PORT --count N --stop-file F [--seconds S] [--src ADDR]\n");
	exit(2);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("slconn: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		die("%s: '%s' is not a number in %ld..%ld", what, s, lo, hi);
	return v;
}

static socklen_t parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	die("'%s' is not an IPv4 or IPv6 address", s);
	return 0;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const char *src = NULL;
	long port;
	int i;

	if (argc < 4)
		usage();
	memset(o, 0, sizeof(*o));
	o->mode = argv[1];
	o->timeout_ms = 2000;
	o->interval_ms = 100;
	o->concurrency = 64;
	port = parse_long(argv[3], 1, 65535, "PORT");
	o->dst_len = parse_addr(argv[2], port, &o->dst);
	for (i = 4; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o->verbose = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--sport-base"))
			o->sport_base = parse_long(v, 1, 65535, a);
		else if (!strcmp(a, "--sport"))
			o->sport = parse_long(v, 1, 65535, a);
		else if (!strcmp(a, "--count"))
			o->count = parse_long(v, 1, 65535, a);
		else if (!strcmp(a, "--src"))
			src = v;
		else if (!strcmp(a, "--timeout-ms"))
			o->timeout_ms = parse_long(v, 1, 60000, a);
		else if (!strcmp(a, "--seconds"))
			o->seconds = parse_long(v, 1, 3600, a);
		else if (!strcmp(a, "--interval-ms"))
			o->interval_ms = parse_long(v, 1, 60000, a);
		else if (!strcmp(a, "--stop-file"))
			o->stop_file = v;
		else if (!strcmp(a, "--connect-log"))
			o->connect_log = v;
		else if (!strcmp(a, "--rate"))
			o->rate = parse_long(v, 1, 1000000, a);
		else if (!strcmp(a, "--concurrency"))
			o->concurrency = parse_long(v, 1, 60000, a);
		else if (!strcmp(a, "--max-fail"))
			o->max_fail = parse_long(v, 1, 65535, a);
		else if (!strcmp(a, "--sport-count"))
			o->sport_count = parse_long(v, 1, 65535, a);
		else
			usage();
	}
	if (src) {
		o->src_len = parse_addr(src, 0, &o->src);
		if (o->src.ss_family != o->dst.ss_family)
			die("--src and ADDR are of different families");
		o->have_src = true;
	} else {
		o->src.ss_family = o->dst.ss_family;
		o->src_len = o->dst_len;
	}
}

/*
 * A non-blocking socket bound to src:sport (sport 0: the kernel picks),
 * connecting to dst. Returns the fd or -errno.
 */
static int start_connect(const struct opts *o, unsigned sport)
{
	struct sockaddr_storage src = o->src;
	int fd, one = 1, err;

	fd = socket(o->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (sport || o->have_src) {
		set_port(&src, sport);
		if (bind(fd, (struct sockaddr *)&src, o->src_len) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&o->dst, o->dst_len) < 0 && errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* Wait for EV on fd until deadline; 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int finish_connect(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	ssize_t n;
	int err;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

/* Parsed HTTP response: status, body (trailing newline stripped). */
struct resp {
	int status;
	char body[BODY_MAX];
};

/*
 * Is buf[0..len) a complete response? 1 and fills r when it is, 0 when more
 * is needed, -EPROTO when it cannot be. Without Content-Length the body
 * ends at EOF (eof set).
 */
static int parse_resp(const char *buf, size_t len, bool eof, struct resp *r, size_t *used)
{
	const char *hend, *cl, *body;
	size_t hlen, blen, clen = SIZE_MAX;

	hend = memmem(buf, len, "\r\n\r\n", 4);
	if (!hend)
		return eof || len >= RESP_MAX ? -EPROTO : 0;
	hlen = hend - buf + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -EPROTO;
	cl = memmem(buf, hlen, "\r\nContent-Length:", 17);
	if (!cl)
		cl = memmem(buf, hlen, "\r\ncontent-length:", 17);
	if (cl)
		clen = strtoul(cl + 17, NULL, 10);
	if (clen == SIZE_MAX) {
		if (!eof)
			return 0;
		clen = len - hlen;
	}
	if (len - hlen < clen)
		return eof ? -EPROTO : 0;
	body = buf + hlen;
	blen = clen;
	while (blen && (body[blen - 1] == '\n' || body[blen - 1] == '\r'))
		blen--;
	if (blen >= sizeof(r->body))
		blen = sizeof(r->body) - 1;
	memcpy(r->body, body, blen);
	r->body[blen] = '\0';
	*used = hlen + clen;
	return 1;
}

/*
 * Read one response. With to_eof, keep reading until the server closes
 * (Connection: close), so the close is the server's.
 */
static int read_resp(int fd, struct resp *r, bool to_eof, int64_t deadline)
{
	char buf[RESP_MAX];
	size_t len = 0, used;
	bool eof = false, done = false;
	ssize_t n;
	int err;

	for (;;) {
		if (!done) {
			int p = parse_resp(buf, len, eof, r, &used);

			if (p < 0)
				return p;
			if (p > 0) {
				done = true;
				if (!to_eof)
					return 0;
			}
		}
		if (eof)
			return done ? 0 : -EPROTO;
		if (len == sizeof(buf)) {
			if (!done)
				return -EPROTO;
			len = 0;        /* past the response: discard */
		}
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n > 0) {
			len += n;
			continue;
		}
		if (n == 0) {
			eof = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

static const char *errtext(int err)
{
	if (err == -EPROTO)
		return "bad HTTP response";
	return strerror(-err);
}

/* One "Connection: close" exchange from sport; 0 with r filled, or -errno. */
static int one_exchange(const struct opts *o, unsigned sport, struct resp *r)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	int fd, err;

	fd = start_connect(o, sport);
	if (fd < 0)
		return fd;
	err = wait_fd(fd, POLLOUT, deadline);
	if (!err)
		err = finish_connect(fd);
	/* after connecting, the exchange gets its own timeout */
	deadline = now_ms() + o->timeout_ms;
	if (!err)
		err = send_all(fd, REQ_CLOSE, strlen(REQ_CLOSE), deadline);
	if (!err)
		err = read_resp(fd, r, true, deadline);
	if (!err && r->status != 200)
		err = -EPROTO;
	close(fd);
	return err;
}

static int do_burst(const struct opts *o)
{
	long i, ok = 0, failed = 0;
	struct resp r;
	int err;

	if (!o->sport_base || !o->count)
		die("burst needs --sport-base and --count");
	if (o->sport_base + o->count - 1 > 65535)
		die("--sport-base + --count runs past port 65535");
	for (i = 0; i < o->count; i++) {
		unsigned sport = o->sport_base + i;

		memset(&r, 0, sizeof(r));
		err = one_exchange(o, sport, &r);
		if (err) {
			printf("%u FAIL %s\n", sport, errtext(err));
			failed++;
			if (o->max_fail && failed >= o->max_fail) {
				fprintf(stderr, "burst: stopped after %ld failures\n", failed);
				break;
			}
		} else {
			printf("%u %s\n", sport, r.body);
			ok++;
		}
	}
	fflush(stdout);
	fprintf(stderr, "burst: %ld ok, %ld failed\n", ok, failed);
	return failed ? 1 : 0;
}

static bool stop_requested(const struct opts *o)
{
	struct stat st;

	return o->stop_file && stat(o->stop_file, &st) == 0;
}

static int do_hold(const struct opts *o)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	int64_t start, end, deadline, next;
	char backend[BODY_MAX] = "";
	long requests = 0;
	struct resp r;
	int fd, err;

	if (!o->seconds)
		die("hold needs --seconds");
	start = now_ms();
	end = start + o->seconds * 1000;
	deadline = start + o->timeout_ms;
	fd = start_connect(o, o->sport);
	if (fd < 0) {
		printf("hold: FAIL connect: %s\n", strerror(-fd));
		return 1;
	}
	err = wait_fd(fd, POLLOUT, deadline);
	if (!err)
		err = finish_connect(fd);
	if (err) {
		printf("hold: FAIL connect: %s\n", errtext(err));
		close(fd);
		return 1;
	}
	getsockname(fd, (struct sockaddr *)&local, &llen);
	next = now_ms();
	for (;;) {
		deadline = now_ms() + o->timeout_ms;
		memset(&r, 0, sizeof(r));
		err = send_all(fd, REQ_KEEP, strlen(REQ_KEEP), deadline);
		if (!err)
			err = read_resp(fd, &r, false, deadline);
		if (!err && r.status != 200)
			err = -EPROTO;
		if (err) {
			printf("hold: FAIL request %ld: %s\n", requests + 1, errtext(err));
			printf("hold: backend %s requests %ld\n", backend[0] ? backend : "-", requests);
			close(fd);
			return 1;
		}
		requests++;
		if (!backend[0]) {
			snprintf(backend, sizeof(backend), "%s", r.body);
			printf("hold: sport %u backend %s\n", get_port(&local), backend);
		} else if (strcmp(backend, r.body)) {
			printf("hold: FAIL backend changed from %s to %s at request %ld\n",
			       backend, r.body, requests);
			printf("hold: backend %s requests %ld\n", backend, requests);
			close(fd);
			return 1;
		}
		if (o->verbose)
			printf("req %ld %s\n", requests, r.body);
		fflush(stdout);
		next += o->interval_ms;
		if (next >= end || stop_requested(o))
			break;
		while (now_ms() < next) {
			int64_t left = next - now_ms();

			if (left > 0)
				usleep(left * 1000);
		}
	}
	printf("hold: backend %s requests %ld\n", backend, requests);
	close(fd);
	return 0;
}

/* rate: a small epoll loop; each slot is one connection in flight. */
struct slot {
	int fd;
	int state;              /* 0 free, 1 connecting, 2 reading */
	unsigned sport;
	int64_t deadline, t0_us, connect_us;
	size_t len;
	char buf[RESP_MAX];
};

struct tally {
	char name[BODY_MAX];
	long n;
};

static void tally_add(struct tally *t, int *nt, int max, const char *name)
{
	int i;

	for (i = 0; i < *nt; i++)
		if (!strcmp(t[i].name, name)) {
			t[i].n++;
			return;
		}
	if (*nt == max)
		return;
	snprintf(t[*nt].name, sizeof(t[*nt].name), "%s", name);
	t[(*nt)++].n = 1;
}

static int tally_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tally *)a)->name, ((const struct tally *)b)->name);
}

/* --connect-log: a connection that connected, as it ends (ok: answered) */
static void log_connect(FILE *f, const struct slot *s, bool ok)
{
	if (!f || s->connect_us < 0)
		return;
	if (ok)
		fprintf(f, "%u %lld %lld\n", s->sport, (long long)s->connect_us,
			(long long)(now_us() - s->t0_us));
	else
		fprintf(f, "%u %lld -\n", s->sport, (long long)s->connect_us);
}

static int do_rate(const struct opts *o)
{
	enum { MAX_NAMES = 64 };
	struct tally names[MAX_NAMES];
	int nnames = 0;
	long attempted = 0, ok = 0, failed = 0, i, next_port = 0, busy = 0;
	int64_t start, end, now;
	struct slot *slots;
	struct epoll_event ev, evs[64];
	int ep, n, k;
	FILE *clog = NULL;

	if (!o->seconds || !o->rate)
		die("rate needs --seconds and --rate");
	if (o->sport_base && !o->sport_count)
		die("--sport-base needs --sport-count in rate mode");
	if (o->sport_base + o->sport_count - 1 > 65535)
		die("--sport-base + --sport-count runs past port 65535");
	slots = calloc(o->concurrency, sizeof(*slots));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (o->connect_log && !(clog = fopen(o->connect_log, "w")))
		die("%s: %s", o->connect_log, strerror(errno));
	if (!slots || ep < 0)
		die("out of memory or epoll: %s", strerror(errno));
	start = now_ms();
	end = start + o->seconds * 1000;

	for (;;) {
		now = now_ms();
		/* start what the schedule owes, as far as slots allow */
		while (now < end && attempted < (now - start) * o->rate / 1000 + 1 &&
		       (!o->count || attempted < o->count)) {
			struct slot *s = NULL;
			unsigned sport = 0;
			int fd;

			for (i = 0; i < o->concurrency; i++)
				if (!slots[i].state) {
					s = &slots[i];
					break;
				}
			if (!s)
				break;
			if (o->sport_base) {
				sport = o->sport_base + next_port;
				next_port = (next_port + 1) % o->sport_count;
			}
			attempted++;
			fd = start_connect(o, sport);
			if (fd < 0) {
				failed++;
				if (failed <= 20)
					fprintf(stderr, "rate: connect from %u: %s\n", sport, strerror(-fd));
				continue;
			}
			s->fd = fd;
			s->state = 1;
			s->sport = sport;
			s->len = 0;
			s->deadline = now + o->timeout_ms;
			s->t0_us = now_us();
			s->connect_us = -1;
			ev.events = EPOLLOUT | EPOLLIN;
			ev.data.ptr = s;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			busy++;
		}
		if (now >= end && !busy)
			break;
		n = epoll_wait(ep, evs, 64, 1);
		for (k = 0; k < n; k++) {
			struct slot *s = evs[k].data.ptr;
			int err = 0;
			bool finished = false;

			if (s->state == 1) {
				err = finish_connect(s->fd);
				if (err == 0) {
					s->connect_us = now_us() - s->t0_us;
					if (send(s->fd, REQ_CLOSE, strlen(REQ_CLOSE), MSG_NOSIGNAL) !=
					    (ssize_t)strlen(REQ_CLOSE))
						err = -errno;
					s->state = 2;
					ev.events = EPOLLIN;
					ev.data.ptr = s;
					epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
				}
			} else {
				ssize_t r = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len, 0);

				if (r > 0) {
					s->len += r;
					if (s->len == sizeof(s->buf))
						err = -EPROTO;
				} else if (r == 0) {
					struct resp rs;
					size_t used;

					memset(&rs, 0, sizeof(rs));
					if (parse_resp(s->buf, s->len, true, &rs, &used) == 1 &&
					    rs.status == 200) {
						ok++;
						tally_add(names, &nnames, MAX_NAMES, rs.body);
					} else {
						err = -EPROTO;
					}
					finished = true;
				} else if (errno != EAGAIN && errno != EINTR) {
					err = -errno;
				}
			}
			if (err) {
				failed++;
				if (failed <= 20)
					fprintf(stderr, "rate: sport %u: %s\n", s->sport, errtext(err));
				finished = true;
			}
			if (finished) {
				log_connect(clog, s, !err);
				close(s->fd);
				s->state = 0;
				busy--;
			}
		}
		/* expire what overran its timeout */
		now = now_ms();
		for (i = 0; i < o->concurrency; i++) {
			struct slot *s = &slots[i];

			if (s->state && now > s->deadline) {
				failed++;
				if (failed <= 20)
					fprintf(stderr, "rate: sport %u: timed out\n", s->sport);
				log_connect(clog, s, false);
				close(s->fd);
				s->state = 0;
				busy--;
			}
		}
	}
	if (clog)
		fclose(clog);
	printf("rate: attempted %ld ok %ld failed %ld\n", attempted, ok, failed);
	qsort(names, nnames, sizeof(names[0]), tally_cmp);
	for (k = 0; k < nnames; k++)
		printf("backend %s %ld\n", names[k].name, names[k].n);
	close(ep);
	free(slots);
	return failed ? 1 : 0;
}

static int do_open(const struct opts *o)
{
	struct rlimit rl;
	int64_t end;
	long i, ok = 0, failed = 0;
	int *fds;

	if (!o->count || !o->stop_file)
		usage();
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fds = calloc(o->count, sizeof(*fds));
	if (!fds)
		die("out of memory");
	for (i = 0; i < o->count; i++) {
		int fd = start_connect(o, 0);

		if (fd >= 0 && (wait_fd(fd, POLLOUT, now_ms() + o->timeout_ms) || finish_connect(fd))) {
			close(fd);
			fd = -1;
		}
		fds[i] = fd;
		if (fd < 0)
			failed++;
		else
			ok++;
	}
	printf("open: established %ld failed %ld\n", ok, failed);
	fflush(stdout);
	end = now_ms() + (o->seconds ? o->seconds : 60) * 1000;
	while (!stop_requested(o) && now_ms() < end)
		usleep(20000);
	for (i = 0; i < o->count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	signal(SIGPIPE, SIG_IGN);
	parse_opts(argc, argv, &o);
	if (!strcmp(o.mode, "burst"))
		return do_burst(&o);
	if (!strcmp(o.mode, "hold"))
		return do_hold(&o);
	if (!strcmp(o.mode, "rate"))
		return do_rate(&o);
	if (!strcmp(o.mode, "open"))
		return do_open(&o);
	usage();
	return 2;
}
