// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The backend table (backend list/show) and the rates of stats -w: see
 * view.h. Everything here is read from replies into a snapshot first and
 * printed from it, so that columns can be sized to their contents and two
 * snapshots can be subtracted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/reasons.h>

#include "print.h"
#include "view.h"

/* ---- snapshots ------------------------------------------------------------ */

static bool grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;
	size_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 16;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

void snap_free(struct snap *s)
{
	free(s->svc);
	free(s->bk);
	free(s->rs);
	memset(s, 0, sizeof(*s));
}

static void copy_str(char *dst, size_t len, const struct nlattr *na)
{
	snprintf(dst, len, "%s", na ? sl_get_str(na) : "");
}

#define U(a) (tb[a] ? sl_get_uint(tb[a]) : 0)

static int svc_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	struct snap *s = data;
	struct snap_svc *v;

	if (!grow((void **)&s->svc, &s->capsvc, s->nsvc, sizeof(*s->svc)))
		return -1;
	v = &s->svc[s->nsvc++];
	memset(v, 0, sizeof(*v));
	copy_str(v->name, sizeof(v->name), tb[SL_A_SERVICE]);
	copy_str(v->vip, sizeof(v->vip), tb[SL_A_VIP]);
	copy_str(v->proto, sizeof(v->proto), tb[SL_A_PROTO]);
	copy_str(v->sched, sizeof(v->sched), tb[SL_A_SCHED]);
	v->port = (unsigned)U(SL_A_PORT);
	v->has_active = tb[SL_A_ACTIVE];
	v->active = U(SL_A_ACTIVE);
	v->has_stats = tb[SL_A_PACKETS];
	v->packets = U(SL_A_PACKETS);
	v->bytes = U(SL_A_BYTES);
	v->new_flows = U(SL_A_NEW_FLOWS);
	return 0;
}

static int bk_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	struct snap *s = data;
	const struct nlattr *r;
	struct snap_bk *b;

	if (!grow((void **)&s->bk, &s->capbk, s->nbk, sizeof(*s->bk)))
		return -1;
	b = &s->bk[s->nbk++];
	memset(b, 0, sizeof(*b));
	copy_str(b->service, sizeof(b->service), tb[SL_A_SERVICE]);
	copy_str(b->addr, sizeof(b->addr), tb[SL_A_ADDR]);
	copy_str(b->state, sizeof(b->state), tb[SL_A_STATE]);
	b->port = (unsigned)U(SL_A_PORT);
	b->has_id = tb[SL_A_ID];
	b->id = (uint32_t)U(SL_A_ID);
	b->weight = (uint32_t)U(SL_A_WEIGHT);
	b->max_conns = (uint32_t)U(SL_A_MAX_CONNS);
	b->max_pending = (uint32_t)U(SL_A_MAX_PENDING);
	b->has_live = tb[SL_A_ACTIVE];
	b->active = U(SL_A_ACTIVE);
	b->pending = U(SL_A_PENDING);
	b->has_breaker = tb[SL_A_BREAKER];
	copy_str(b->breaker, sizeof(b->breaker), tb[SL_A_BREAKER]);
	copy_str(b->mode, sizeof(b->mode), tb[SL_A_BREAKER_MODE]);
	copy_str(b->gate, sizeof(b->gate), tb[SL_A_GATE]);
	copy_str(b->health, sizeof(b->health), tb[SL_A_HEALTH]);
	copy_str(b->check, sizeof(b->check), tb[SL_A_CHECK]);
	copy_str(b->reason, sizeof(b->reason), tb[SL_A_BREAKER_REASON]);
	copy_str(b->detail, sizeof(b->detail), tb[SL_A_CHECK_DETAIL]);
	b->capped = U(SL_A_CAPPED) != 0;
	b->panic = U(SL_A_PANIC) != 0;
	b->trips = U(SL_A_TRIPS);
	b->trial_tokens = U(SL_A_TRIAL_TOKENS);
	b->has_age = tb[SL_A_STATE_AGE_MS];
	b->age_ms = U(SL_A_STATE_AGE_MS);
	b->has_stats = tb[SL_A_PACKETS];
	b->packets = U(SL_A_PACKETS);
	b->bytes = U(SL_A_BYTES);
	b->new_flows = U(SL_A_NEW_FLOWS);
	b->conn_refused = U(SL_A_CONN_REFUSED);
	b->conn_timeout = U(SL_A_CONN_TIMEOUT);
	b->resets = U(SL_A_RESETS);
	if (tb[SL_A_COUNTERS]) {
		mnl_attr_for_each_nested(r, tb[SL_A_COUNTERS]) {
			const char *name;
			uint64_t count;

			sl_get_name_count(r, &name, &count);
			if (!name || b->nr_counters >= SNAP_COUNTERS)
				continue;
			snprintf(b->counters[b->nr_counters].name, SNAP_NAME, "%s", name);
			b->counters[b->nr_counters++].count = count;
		}
	}
	return 0;
}

static int stats_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	struct snap *s = data;
	const struct nlattr *r;

	s->has_totals = true;
	s->nr_services = U(SL_A_NR_SERVICES);
	s->packets = U(SL_A_PACKETS);
	s->bytes = U(SL_A_BYTES);
	s->new_flows = U(SL_A_NEW_FLOWS);
	if (!tb[SL_A_REASONS])
		return 0;
	mnl_attr_for_each_nested(r, tb[SL_A_REASONS]) {
		const char *name;
		uint64_t count;

		sl_get_name_count(r, &name, &count);
		if (!name)
			continue;
		if (!grow((void **)&s->rs, &s->caprs, s->nrs, sizeof(*s->rs)))
			return -1;
		snprintf(s->rs[s->nrs].name, SNAP_NAME, "%s", name);
		s->rs[s->nrs++].count = count;
	}
	return 0;
}
#undef U

int snap_services(struct ipc *ipc, struct snap *s, const char *service)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_SERVICE_GET, service ? 0 : NLM_F_DUMP);

	if (service && !sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, service))
		return IPC_REFUSED;
	sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return ipc_call(ipc, svc_cb, s);
}

int snap_backends(struct ipc *ipc, struct snap *s)
{
	int rc = ipc_call(ipc, bk_cb, s);
	size_t i, j;

	if (rc)
		return rc;
	/* a service's pending count is its backends' */
	for (i = 0; i < s->nsvc; i++)
		s->svc[i].pending = 0;
	for (j = 0, i = 0; j < s->nbk; j++) {
		if (i >= s->nsvc || strcmp(s->svc[i].name, s->bk[j].service))
			for (i = 0; i < s->nsvc && strcmp(s->svc[i].name, s->bk[j].service); i++)
				;
		if (i < s->nsvc)
			s->svc[i].pending += s->bk[j].pending;
	}
	return 0;
}

int snap_stats(struct ipc *ipc, struct snap *s)
{
	ipc_request(ipc, SL_CMD_STATS_GET, 0);
	return ipc_call(ipc, stats_cb, s);
}

/* ---- formatting --------------------------------------------------------- */

/* "198.19.0.11:80", "[2001:2::11]:80" */
static const char *addr_port(const char *a, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* 850ms 12.3s 5m02s 3h12m 2d04h (as breaker show) */
static const char *age(uint64_t ms, char *buf, size_t len)
{
	unsigned long long s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%llu.%llus", s, (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	return buf;
}

/* The breaker column: its state, "/GATE" when the data path does
 * otherwise, and why ([capped], [panic]); "-" without breakers. */
static const char *breaker_cell(const struct snap_bk *b, char *buf, size_t len)
{
	if (!b->has_breaker) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%s%s%s%s%s", b->breaker, strcmp(b->breaker, b->gate) ? "/" : "",
		 strcmp(b->breaker, b->gate) ? b->gate : "", b->capped ? " [capped]" : "",
		 b->panic ? " [panic]" : "");
	return buf;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static const struct snap_svc *find_svc(const struct snap *s, const char *name, size_t hint)
{
	size_t i;

	if (hint < s->nsvc && !strcmp(s->svc[hint].name, name))
		return &s->svc[hint];
	for (i = 0; i < s->nsvc; i++)
		if (!strcmp(s->svc[i].name, name))
			return &s->svc[i];
	return NULL;
}

static const struct snap_bk *find_bk(const struct snap *s, const struct snap_bk *b, size_t hint)
{
	size_t i;

#define SAME(x) (!strcmp((x)->service, b->service) && !strcmp((x)->addr, b->addr) && (x)->port == b->port)
	if (hint < s->nbk && SAME(&s->bk[hint]))
		return &s->bk[hint];
	for (i = 0; i < s->nbk; i++)
		if (SAME(&s->bk[i]))
			return &s->bk[i];
#undef SAME
	return NULL;
}

/* ---- the backend table ---------------------------------------------------- */

/*
 * Lines are a left part (the service's or backend's identity and state,
 * in sub-columns) and right columns of numbers shared by both kinds of
 * line, as ipvsadm -L -n --stats prints them.
 */
#define NRIGHT 8

struct tline {
	char left[5][SNAP_TEXT];        /* service: name vip:port proto sched; backend: addr weight breaker health */
	char right[NRIGHT][24];
	bool backend, header;
	const struct snap_bk *bk;
};

static const char *const right_hdr[NRIGHT] = {
	"ACTIVE", "PENDING", "CONNS", "PACKETS", "BYTES", "REFUSED", "TIMEOUTS", "RESETS",
};

static void num(char *dst, uint64_t v, bool have)
{
	if (have)
		snprintf(dst, 24, "%llu", (unsigned long long)v);
	else
		snprintf(dst, 24, "-");
}

static void svc_line(struct tline *l, const struct snap_svc *v, const struct snap *s)
{
	uint64_t refused = 0, timeout = 0, resets = 0;
	bool any = false;
	size_t i;

	memset(l, 0, sizeof(*l));
	snprintf(l->left[0], SNAP_TEXT, "%s", v->name);
	addr_port(v->vip, v->port, l->left[1], SNAP_TEXT);
	snprintf(l->left[2], SNAP_TEXT, "%s", v->proto);
	snprintf(l->left[3], SNAP_TEXT, "%s", v->sched);
	for (i = 0; i < s->nbk; i++) {
		if (strcmp(s->bk[i].service, v->name) || !s->bk[i].has_stats)
			continue;
		any = true;
		refused += s->bk[i].conn_refused;
		timeout += s->bk[i].conn_timeout;
		resets += s->bk[i].resets;
	}
	num(l->right[0], v->active, v->has_active);
	num(l->right[1], v->pending, v->has_active);
	num(l->right[2], v->new_flows, v->has_stats);
	num(l->right[3], v->packets, v->has_stats);
	num(l->right[4], v->bytes, v->has_stats);
	num(l->right[5], refused, any);
	num(l->right[6], timeout, any);
	num(l->right[7], resets, any);
}

static void bk_line(struct tline *l, const struct snap_bk *b)
{
	memset(l, 0, sizeof(*l));
	l->backend = true;
	l->bk = b;
	addr_port(b->addr, b->port, l->left[0], SNAP_TEXT);
	snprintf(l->left[1], SNAP_TEXT, "%u", b->weight);
	breaker_cell(b, l->left[2], SNAP_TEXT);
	snprintf(l->left[3], SNAP_TEXT, "%s", b->has_breaker ? b->health : "-");
	/* a backend removed from the config drains: say so */
	if (*b->state && strcmp(b->state, "active"))
		snprintf(l->left[4], SNAP_TEXT, "(%s)", b->state);
	num(l->right[0], b->active, b->has_live);
	num(l->right[1], b->pending, b->has_live);
	num(l->right[2], b->new_flows, b->has_stats);
	num(l->right[3], b->packets, b->has_stats);
	num(l->right[4], b->bytes, b->has_stats);
	num(l->right[5], b->conn_refused, b->has_stats);
	num(l->right[6], b->conn_timeout, b->has_stats);
	num(l->right[7], b->resets, b->has_stats);
}

static void bk_details(const struct snap_bk *b, bool counters)
{
	char buf[32];
	unsigned i;

	printf("       id %s state %s max_conns %u max_pending %u\n",
	       b->has_id ? (snprintf(buf, sizeof(buf), "%u", b->id), buf) : "-", *b->state ? b->state : "-",
	       b->max_conns, b->max_pending);
	if (b->has_breaker) {
		printf("       breaker %s mode %s gate %s%s%s trips %llu", b->breaker, b->mode, b->gate,
		       b->capped ? " capped" : "", b->panic ? " panic" : "", (unsigned long long)b->trips);
		if (b->trial_tokens)
			printf(" trial_tokens %llu", (unsigned long long)b->trial_tokens);
		if (b->has_age)
			printf(" age %s", age(b->age_ms, buf, sizeof(buf)));
		if (*b->reason)
			printf(" reason \"%s\"", b->reason);
		printf("\n       health %s check %s", b->health, b->check);
		if (*b->detail)
			printf(" detail \"%s\"", b->detail);
		printf("\n");
	}
	if (counters && b->nr_counters) {
		printf("       breaker counters:");
		for (i = 0; i < b->nr_counters; i++)
			printf(" %s %llu", b->counters[i].name, (unsigned long long)b->counters[i].count);
		printf("\n");
	}
}

void view_backend_table(const struct snap *s, bool details, bool counters)
{
	size_t nl = 0, i, j, k, nright = counters ? NRIGHT : 5;
	size_t sw[4] = { 0 }, bw[5] = { 0 }, lw = 0, rw[NRIGHT] = { 0 };
	struct tline *lines = calloc(2 + s->nsvc + s->nbk + s->nbk, sizeof(*lines));
	bool *printed = calloc(s->nbk + 1, sizeof(bool));
	char left[4 * SNAP_TEXT];

	if (!lines || !printed) {
		free(lines);
		free(printed);
		fprintf(stderr, "sluice: out of memory\n");
		return;
	}
	/* the two header lines, then each service and its backends */
	lines[0].header = true;
	snprintf(lines[0].left[0], SNAP_TEXT, "SERVICE");
	snprintf(lines[0].left[1], SNAP_TEXT, "VIP:PORT");
	snprintf(lines[0].left[2], SNAP_TEXT, "PROTO");
	snprintf(lines[0].left[3], SNAP_TEXT, "SCHED");
	for (k = 0; k < NRIGHT; k++)
		snprintf(lines[0].right[k], 24, "%s", right_hdr[k]);
	lines[1].header = lines[1].backend = true;
	snprintf(lines[1].left[0], SNAP_TEXT, "BACKEND:PORT");
	snprintf(lines[1].left[1], SNAP_TEXT, "WEIGHT");
	snprintf(lines[1].left[2], SNAP_TEXT, "BREAKER");
	snprintf(lines[1].left[3], SNAP_TEXT, "HEALTH");
	nl = 2;
	for (i = 0; i < s->nsvc; i++) {
		svc_line(&lines[nl++], &s->svc[i], s);
		for (j = 0; j < s->nbk; j++)
			if (!printed[j] && !strcmp(s->bk[j].service, s->svc[i].name)) {
				bk_line(&lines[nl++], &s->bk[j]);
				printed[j] = true;
			}
	}
	/* backends of a service the service dump did not have (a race with a
	 * runtime change): under their service's name alone */
	for (j = 0; j < s->nbk; j++) {
		if (printed[j])
			continue;
		memset(&lines[nl], 0, sizeof(lines[nl]));
		snprintf(lines[nl].left[0], SNAP_TEXT, "%s", s->bk[j].service);
		for (k = 0; k < NRIGHT; k++)
			snprintf(lines[nl].right[k], 24, "-");
		nl++;
		for (k = j; k < s->nbk; k++)
			if (!printed[k] && !strcmp(s->bk[k].service, s->bk[j].service)) {
				bk_line(&lines[nl++], &s->bk[k]);
				printed[k] = true;
			}
	}

	for (i = 0; i < nl; i++) {
		for (k = 0; k < 5; k++) {
			if (lines[i].backend)
				bw[k] = max_sz(bw[k], strlen(lines[i].left[k]));
			else if (k < 4)
				sw[k] = max_sz(sw[k], strlen(lines[i].left[k]));
		}
		for (k = 0; k < nright; k++)
			rw[k] = max_sz(rw[k], strlen(lines[i].right[k]));
	}
	for (i = 0; i < nl; i++) {
		struct tline *l = &lines[i];

		if (l->backend)         /* weight right-aligned */
			snprintf(left, sizeof(left), "  -> %-*s %*s %-*s %-*s %s", (int)bw[0], l->left[0],
				 (int)bw[1], l->left[1], (int)bw[2], l->left[2], (int)bw[3], l->left[3], l->left[4]);
		else
			snprintf(left, sizeof(left), "%-*s %-*s %-*s %s", (int)sw[0], l->left[0], (int)sw[1],
				 l->left[1], (int)sw[2], l->left[2], l->left[3]);
		for (k = strlen(left); k > 0 && left[k - 1] == ' '; k--)
			left[k - 1] = 0;
		lw = max_sz(lw, strlen(left));
		snprintf(l->left[4], SNAP_TEXT, "%s", left);        /* the whole left part, for the pass below */
	}
	for (i = 0; i < nl; i++) {
		struct tline *l = &lines[i];

		if (l->header && l->backend) {  /* the second header line has no numbers */
			printf("%s\n", l->left[4]);
			continue;
		}
		printf("%-*s", (int)lw, l->left[4]);
		for (k = 0; k < nright; k++)
			printf(" %*s", (int)rw[k], l->right[k]);
		printf("\n");
		if (details && l->bk)
			bk_details(l->bk, counters);
	}
	free(lines);
	free(printed);
	fflush(stdout);
}

/* ---- stats -w ------------------------------------------------------------- */

/* the verdict of a reason, from the one table of reasons */
static const char *verdict_of(const char *name)
{
#define R(e, v, n, d) { n, #v },
	static const struct { const char *name, *verdict; } t[] = { SL_REASONS(R) };
#undef R
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(t[i].name, name))
			return t[i].verdict[0] == 'D' ? "drop" : "pass";
	return "?";
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : cur;      /* counters restarted: all of cur is new */
}

static double secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

struct rate3 { uint64_t packets, bytes, new_flows; };

/* JSON: the deltas and their rates; text: the three rates */
static void print_rates(const struct rate3 *d, double el, bool known)
{
	if (!known) {
		if (!print_json())
			printf(" %10s %12s %9s", "-", "-", "-");
		return;
	}
	print_u64("packets", NULL, d->packets);
	print_u64("bytes", NULL, d->bytes);
	print_u64("new_flows", NULL, d->new_flows);
	print_double("packets_per_s", " %10s", d->packets / el);
	print_double("bytes_per_s", " %12s", d->bytes / el);
	print_double("new_flows_per_s", " %9s", d->new_flows / el);
}

static int read_snap(struct ipc *ipc, struct snap *s)
{
	struct nlmsghdr *nlh;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = snap_services(ipc, s, NULL);
	if (!rc) {
		nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, NLM_F_DUMP);
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
		rc = snap_backends(ipc, s);
	}
	if (!rc)
		rc = snap_stats(ipc, s);
	clock_gettime(CLOCK_MONOTONIC, &s->mono);
	clock_gettime(CLOCK_REALTIME, &s->real);
	return rc;
}

static void print_interval(const struct snap *prev, const struct snap *cur, unsigned interval_ms,
			   bool json, bool pretty, bool tty)
{
	double el = secs(&prev->mono, &cur->mono);
	struct rate3 d;
	char when[48], ap[SNAP_TEXT], brk[SNAP_TEXT];
	struct tm tm;
	time_t t = cur->real.tv_sec;
	size_t i, j, w = 24, nr = 0;

	if (el <= 0)
		el = 1e-3;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	print_init(json, pretty);
	if (tty && !json)
		fputs("\033[H\033[2J", stdout);         /* home, clear: redraw in place */
	print_open_object(NULL);
	print_u64("time_ns", NULL, (uint64_t)cur->real.tv_sec * 1000000000ull + (uint64_t)cur->real.tv_nsec);
	print_double("interval_s", NULL, interval_ms / 1000.0);
	print_double("elapsed_s", NULL, el);
	if (!json) {
		printf("sluice stats: %s, every %.1f s (this interval %.2f s)%s\n", when, interval_ms / 1000.0, el,
		       tty ? ", Ctrl-C quits" : "");
		for (i = 0; i < cur->nsvc; i++)
			w = max_sz(w, strlen(cur->svc[i].name) + strlen(cur->svc[i].vip) + 11);
		for (j = 0; j < cur->nbk; j++)
			w = max_sz(w, strlen(cur->bk[j].addr) + 14);
		printf("%-*s %10s %12s %9s %7s %7s  %-7s %s\n", (int)w, "SERVICE / -> BACKEND", "PKT/S", "BYTES/S",
		       "FLOWS/S", "ACTIVE", "PENDING", "HEALTH", "BREAKER");
	}
	print_open_array("services");
	for (i = 0; i < cur->nsvc; i++) {
		const struct snap_svc *v = &cur->svc[i], *pv = find_svc(prev, v->name, i);

		print_open_object(NULL);
		print_string("service", NULL, v->name);
		print_string("vip", NULL, v->vip);
		print_u64("port", NULL, v->port);
		print_string("proto", NULL, v->proto);
		if (!json) {
			char id[SNAP_TEXT + SNAP_NAME + 8];

			snprintf(id, sizeof(id), "%s %s %s", v->name, addr_port(v->vip, v->port, ap, sizeof(ap)),
				 v->proto);
			printf("%-*s", (int)w, id);
		}
		d.packets = pv ? delta(v->packets, pv->packets) : 0;
		d.bytes = pv ? delta(v->bytes, pv->bytes) : 0;
		d.new_flows = pv ? delta(v->new_flows, pv->new_flows) : 0;
		print_rates(&d, el, pv && v->has_stats && pv->has_stats);
		print_u64("active", " %7s", v->active);
		print_u64("pending", " %7s", v->pending);
		print_text("\n");
		print_open_array("backends");
		for (j = 0; j < cur->nbk; j++) {
			const struct snap_bk *b = &cur->bk[j], *pb;

			if (strcmp(b->service, v->name))
				continue;
			pb = find_bk(prev, b, j);
			print_open_object(NULL);
			print_string("addr", NULL, b->addr);
			print_u64("port", NULL, b->port);
			if (b->has_id)
				print_u64("id", NULL, b->id);
			print_u64("weight", NULL, b->weight);
			print_string("state", NULL, b->state);
			if (!json)
				printf("  -> %-*s", (int)w - 5, addr_port(b->addr, b->port, ap, sizeof(ap)));
			d.packets = pb ? delta(b->packets, pb->packets) : 0;
			d.bytes = pb ? delta(b->bytes, pb->bytes) : 0;
			d.new_flows = pb ? delta(b->new_flows, pb->new_flows) : 0;
			print_rates(&d, el, pb && b->has_stats && pb->has_stats);
			if (pb && b->has_stats && pb->has_stats) {
				print_u64("conn_refused", NULL, delta(b->conn_refused, pb->conn_refused));
				print_u64("conn_timeout", NULL, delta(b->conn_timeout, pb->conn_timeout));
				print_u64("resets", NULL, delta(b->resets, pb->resets));
			}
			print_u64("active", " %7s", b->active);
			print_u64("pending", " %7s", b->pending);
			if (b->has_breaker) {
				print_string("health", "  %-7s", b->health);
				print_string("breaker", NULL, b->breaker);
				print_string("breaker_mode", NULL, b->mode);
				print_string("gate", NULL, b->gate);
				print_bool("capped", NULL, b->capped);
				print_bool("panic", NULL, b->panic);
				if (!json)
					printf(" %s", breaker_cell(b, brk, sizeof(brk)));
			}
			print_close_object();
			print_text("\n");
		}
		print_close_array();
		print_close_object();
	}
	print_close_array();

	print_open_object("totals");
	if (!json)
		printf("%-*s", (int)w, "all services");
	d.packets = delta(cur->packets, prev->packets);
	d.bytes = delta(cur->bytes, prev->bytes);
	d.new_flows = delta(cur->new_flows, prev->new_flows);
	print_rates(&d, el, cur->has_totals && prev->has_totals);
	print_close_object();
	print_text("\n");

	/* packets the data path did not forward itself, by reason: non-zero only */
	print_open_object("reasons");
	for (i = 0; i < cur->nrs; i++) {
		uint64_t c = cur->rs[i].count, p = 0;
		bool found = false;

		if (i < prev->nrs && !strcmp(prev->rs[i].name, cur->rs[i].name)) {
			p = prev->rs[i].count;
			found = true;
		}
		for (j = 0; !found && j < prev->nrs; j++)
			if (!strcmp(prev->rs[j].name, cur->rs[i].name)) {
				p = prev->rs[j].count;
				found = true;
			}
		if (!found || !delta(c, p))
			continue;
		if (!json && !nr)
			printf("%-20s %-7s %10s\n", "REASON", "VERDICT", "PKT/S");
		nr++;
		print_open_object(cur->rs[i].name);
		if (!json)
			printf("%-20s ", cur->rs[i].name);
		print_string("verdict", "%-7s", verdict_of(cur->rs[i].name));
		print_u64("count", NULL, delta(c, p));
		print_double("per_s", " %10s\n", delta(c, p) / el);
		print_close_object();
	}
	print_close_object();
	if (!json && !nr)
		printf("no packet dropped or passed to the kernel in this interval\n");
	print_close_object();
	if (!json && !tty)
		printf("\n");           /* blocks apart */
	print_finish();
}

int view_watch(struct ipc **ipc, struct ipc *(*reopen)(void), unsigned interval_ms,
	       unsigned long count, bool json, bool pretty)
{
	struct sigaction sa = { .sa_handler = on_signal };     /* no SA_RESTART: a read ends at once */
	struct snap a, b, *prev = &a, *cur = &b, *tmp;
	struct timespec next;
	bool tty = isatty(STDOUT_FILENO);
	unsigned long done = 0;
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = read_snap(*ipc, prev);
	if (stop) {
		snap_free(prev);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "sluice: %s\n", ipc_error(*ipc));
		snap_free(prev);
		return rc;
	}
	fprintf(stderr, "sluice: watching every %.1f s\n", interval_ms / 1000.0);
	if (tty && !json) {
		printf("\033[H\033[2Jsluice stats: first rates in %.1f s (Ctrl-C quits)\n", interval_ms / 1000.0);
		fflush(stdout);
	}
	next = prev->mono;
	memset(cur, 0, sizeof(*cur));
	while (!stop && (!count || done < count)) {
		next.tv_sec += interval_ms / 1000;
		next.tv_nsec += (long)(interval_ms % 1000) * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (stop)
			break;
		snap_free(cur);
		rc = read_snap(*ipc, cur);
		if (stop)
			break;
		done++;
		if (rc) {
			/* the daemon may be restarting: say so, find it again, go on
			 * (its counters live in pinned maps: the rates stay right) */
			fprintf(stderr, "sluice: %s\n", ipc_error(*ipc));
			ipc_close(*ipc);
			*ipc = reopen();
			if (!*ipc)
				return IPC_UNREACHABLE;
			continue;
		}
		print_interval(prev, cur, interval_ms, json, pretty, tty);
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	snap_free(&a);
	snap_free(&b);
	return stop ? 0 : rc;
}
