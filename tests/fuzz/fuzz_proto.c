// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer harness: arbitrary bytes as one datagram to sluiced's control
 * socket. Two layers, both on every input:
 *
 * 1. The protocol tables' own functions (include/sluice/proto.h). The
 *    datagram is split as daemon/ctl.c splits it (sl_nlmsg_ok, which
 *    bounds nlmsg_len where libmnl 1.0.4 does not, and mnl_nlmsg_next) and
 *    every message goes through sl_proto_check as a request (what the
 *    daemon does) and as a reply (what the CLI does, with its walk of
 *    nested attributes). An accepted message is re-encoded with the
 *    sl_put_* functions from what was decoded: the copy must be accepted
 *    too, decode to the same attributes, and re-encode to the same bytes.
 *    A refusal must carry an errno, a text, and an offset inside the
 *    message.
 *
 * 2. The real server (daemon/ctl.c, compiled in with the sanitizers): the
 *    datagram is sent over NETLINK_USERSOCK to an sl_ctl answering from a
 *    fixed test config, and every reply must pass the CLI's checks
 *    (sl_proto_check in reply mode, well-formed NLMSG_ERROR/NLMSG_DONE,
 *    nothing left over). When the datagram holds exactly one message the
 *    answer is predicted in full: the refusal layer 1 computed (errno,
 *    text, offset, missing attribute), EPERM for a mutating command from
 *    a non-root sender, the object asked for, every object of a dump
 *    exactly once (paged: the request is repeated until NLMSG_DONE, as the
 *    CLI does), the exact runtime change BACKEND_SET hands the loop; for
 *    the other commands, the shape of the answer and what a runtime change
 *    did to the running config. Runtime changes are applied as sluiced's
 *    loop applies them (sl_ctl_applied: events to subscribers) and must
 *    obey the file's rules; each input starts from the test config again.
 *    The server runs in a network namespace of its own (its multicast
 *    events reach no one outside).
 *
 * The sender's credentials come from the first message's nlmsg_pid (the
 * daemon ignores it; root may send any SCM_CREDENTIALS): bit 0 set, uid
 * 65534, else root; bit 1 set, gid 0 (the test config's control_group,
 * "root": allowed to change state), else the uid's; bit 2 set, the server
 * runs without a resilience module (ops->resil returns NULL). The data path is faked: sl_dp_backend_id,
 * sl_dp_backend, bpf_map__fd and bpf_map_lookup_elem are defined here
 * (the harness does not link libbpf or daemon/dataplane.c) and answer
 * from made-up maps, so the reply branches that read the maps run too.
 * So is the resilience module (sl_resil_backend, sl_resil_set_mode, and
 * the breaker and health names): a made-up breaker per backend id, and a
 * manual mode set publishes its transition with sl_ctl_publish_resil, as
 * sluiced's loop does.
 * Layer 2 needs root (any SCM_CREDENTIALS, a network namespace) and a
 * NETLINK_USERSOCK socket; without them only layer 1 runs (said once).
 */
#define FUZZ_NAME "fuzz_proto"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sluice/proto.h>
#include <sluice/reasons.h>

#include "sluice.skel.h"
#include "ctl.h"
#include "dataplane.h"
#include "log.h"
#include "resil.h"
#include "fuzz.h"

#define SERVER_RX   (SL_PROTO_BATCH + 4096)     /* daemon/ctl.c's CTL_BUF */
#define REENC_BUF   (SERVER_RX + 64)
#define MAX_PAGES   64

/* ---- layer 1: the tables' functions ------------------------------------- */


static char reenc1[REENC_BUF] __attribute__((aligned(8)));
static char reenc2[REENC_BUF] __attribute__((aligned(8)));

static void check_refusal(const struct nlmsghdr *nlh, int rc, const struct sl_proto_err *e)
{
	CHECK(rc < 0 && rc == e->err);
	CHECK(memchr(e->msg, 0, sizeof(e->msg)) && e->msg[0]);
	CHECK(e->off < nlh->nlmsg_len);
	if (e->off)
		CHECK(e->off >= MNL_NLMSG_HDRLEN + GENL_HDRLEN);
	if (e->miss)
		CHECK(e->miss <= SL_A_MAX && (sl_attrs[e->miss].requires & (1u << sl_msg_cmd(nlh))));
}

/* A copy of an accepted message built with the encoders from its tb. */
static struct nlmsghdr *reencode(char *buf, const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	struct nlmsghdr *n = sl_msg_start(buf, sl_msg_cmd(nlh), nlh->nlmsg_flags, nlh->nlmsg_seq);
	unsigned a;

	n->nlmsg_pid = nlh->nlmsg_pid;
	for (a = 1; a <= SL_A_MAX; a++) {
		const struct nlattr *na = tb[a];

		if (!na)
			continue;
		switch (sl_attrs[a].type) {
		case SL_T_U8: case SL_T_U16: case SL_T_U32: case SL_T_U64:
			CHECK(sl_put_uint(n, REENC_BUF, a, sl_get_uint(na)));
			break;
		case SL_T_STRING:
			CHECK(sl_put_str(n, REENC_BUF, a, sl_get_str(na)));
			break;
		case SL_T_BINARY:
			CHECK(sl_put_bin(n, REENC_BUF, a, mnl_attr_get_payload(na), mnl_attr_get_payload_len(na)));
			break;
		case SL_T_NESTED:       /* no encoder: the bytes as they are */
			CHECK(mnl_attr_put_check(n, REENC_BUF, a, mnl_attr_get_payload_len(na),
						 mnl_attr_get_payload(na)));
			break;
		}
	}
	return n;
}

static void check_same_attrs(const struct nlattr **x, const struct nlattr **y)
{
	unsigned a;

	for (a = 1; a <= SL_A_MAX; a++) {
		CHECK(!x[a] == !y[a]);
		if (!x[a])
			continue;
		CHECK(mnl_attr_get_payload_len(x[a]) == mnl_attr_get_payload_len(y[a]));
		CHECK(!memcmp(mnl_attr_get_payload(x[a]), mnl_attr_get_payload(y[a]),
			      mnl_attr_get_payload_len(x[a])));
	}
}

/* What the CLI does with an accepted reply (cli/sluice.c): read every
 * attribute, and NAME/COUNT in each entry of REASONS and COUNTERS. */
static void walk_reply(const struct nlattr **tb)
{
	const struct nlattr *r, *na;
	size_t sum = 0;
	unsigned a;
	int k;

	for (a = 1; a <= SL_A_MAX; a++) {
		if (!tb[a])
			continue;
		if (sl_attrs[a].type == SL_T_STRING)
			sum += strlen(sl_get_str(tb[a]));
		else if (sl_attrs[a].type <= SL_T_U64)
			sum += (size_t)sl_get_uint(tb[a]);
	}
	for (k = 0; k < 2; k++) {
		const struct nlattr *list = tb[k ? SL_A_COUNTERS : SL_A_REASONS];

		if (list)
			mnl_attr_for_each_nested(r, list)
				mnl_attr_for_each_nested(na, r) {
					if (mnl_attr_get_type(na) == SL_A_NAME)
						sum += strlen(sl_get_str(na));
					else if (mnl_attr_get_type(na) == SL_A_COUNT)
						sum += (size_t)sl_get_uint(na);
				}
	}
	__asm__ volatile("" : : "r"(sum));
}

/* Check one message both ways; req_rc, req_e: the request-mode verdict. */
static void layer1(const struct nlmsghdr *nlh, int *req_rc, struct sl_proto_err *req_e)
{
	const struct nlattr *tb[SL_A_TB], *tb2[SL_A_TB], *tb3[SL_A_TB];
	struct sl_proto_err e;
	int mode, rc;

	for (mode = SL_CHECK_REQUEST; mode <= SL_CHECK_REPLY; mode++) {
		struct nlmsghdr *n1, *n2;

		rc = sl_proto_check(nlh, mode, tb, &e);
		if (mode == SL_CHECK_REQUEST) {
			*req_rc = rc;
			*req_e = e;
		}
		if (rc) {
			check_refusal(nlh, rc, &e);
			continue;
		}
		CHECK(!e.err && !e.msg[0]);
		if (mode == SL_CHECK_REQUEST) {
			unsigned cmd = sl_msg_cmd(nlh), a;

			CHECK(cmd > SL_CMD_UNSPEC && cmd < SL_CMD_MAX);
			for (a = 1; a <= SL_A_MAX; a++) {
				if (sl_attrs[a].requires & (1u << cmd))
					CHECK(tb[a]);
				if (tb[a])
					CHECK(sl_attrs[a].takes & (1u << cmd));
			}
			if (tb[SL_A_ADDR]) {        /* what cmd_backend_* do with it */
				struct sl_l4addr ad;

				(void)sl_addr_parse(sl_get_str(tb[SL_A_ADDR]), &ad);
			}
		} else {
			walk_reply(tb);
		}
		/* decode -> encode: accepted, the same attributes; and canonical */
		n1 = reencode(reenc1, nlh, tb);
		CHECK(n1->nlmsg_len <= nlh->nlmsg_len + 3);  /* the last attribute's padding may be missing */
		rc = sl_proto_check(n1, mode, tb2, &e);
		if (rc)
			fprintf(stderr, "fuzz_proto: re-encoded message refused: %s\n", e.msg);
		CHECK(rc == 0);
		check_same_attrs(tb, tb2);
		n2 = reencode(reenc2, n1, tb2);
		CHECK(sl_proto_check(n2, mode, tb3, &e) == 0);
		CHECK(n2->nlmsg_len == n1->nlmsg_len && !memcmp(n1, n2, n1->nlmsg_len));
	}
}

/* ---- the fake data path --------------------------------------------------- */

static struct sluice fake_skel;
static struct sl_dp fake_dp = { .skel = &fake_skel, .nr_cpus = 3 };
static char fake_maps[8];
enum { FD_SVC = 100, FD_SVC_LIVE, FD_BK_LIVE, FD_SVC_STATS, FD_BK_STATS, FD_REASONS, FD_END };

int bpf_map__fd(const struct bpf_map *map)
{
	const char *p = (const char *)map;

	if (p >= fake_maps && p < fake_maps + (FD_END - FD_SVC))
		return FD_SVC + (int)(p - fake_maps);
	return -EINVAL;
}

static __u32 addr_sum(const struct sl_l4addr *a)
{
	const __u8 *b = (const __u8 *)a->addr;
	__u32 s = ntohs(a->port);

	for (unsigned i = 0; i < 16; i++)
		s = s * 31 + b[i];
	return s;
}

static void fill_percpu(void *value, __u32 key, unsigned nwords, int fd)
{
	__u64 *v = value;

	for (int cpu = 0; cpu < fake_dp.nr_cpus; cpu++)
		for (unsigned w = 0; w < nwords; w++)   /* some near the top: the sums wrap */
			v[cpu * nwords + w] = (key % 4 == 3 ? UINT64_MAX - 5 : 0) + key * 1000 + cpu * 10 + w + fd;
}

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	__u32 k = 0;

	if (fd != FD_SVC)
		memcpy(&k, key, sizeof(k));
	switch (fd) {
	case FD_SVC: {              /* UDP services are "not in the maps" */
		const struct sl_l4addr *a = key;
		struct sl_svc *sv = value;

		if (a->proto != IPPROTO_TCP)
			return -ENOENT;
		memset(sv, 0, sizeof(*sv));
		sv->id = 1 + addr_sum(a) % (SL_MAX_SERVICES - 1);
		return 0;
	}
	case FD_SVC_LIVE: {
		struct sl_svc_live *l = value;

		memset(l, 0, sizeof(*l));
		l->active = (__s32)(k % 11) - 3;        /* negative: a reconciler lag */
		return 0;
	}
	case FD_BK_LIVE: {
		struct sl_bk_live *l = value;

		if (k % 7 == 0)
			return -ENOENT;
		memset(l, 0, sizeof(*l));
		l->active = (__s32)(k % 5) - 1;
		l->pending = (__s32)(k % 3) - 1;
		return 0;
	}
	case FD_SVC_STATS:
		fill_percpu(value, k, sizeof(struct sl_svc_stats) / 8, fd);
		return 0;
	case FD_BK_STATS:
		fill_percpu(value, k, sizeof(struct sl_bk_stats) / 8, fd);
		return 0;
	case FD_REASONS:
		if (k >= SL_R_MAX)
			return -ENOENT;
		fill_percpu(value, k, 1, fd);
		return 0;
	}
	return -EBADF;
}

/* Backends whose address ends in .13 (or byte 13) are not in the maps; of the
 * others every fifth has no mirror entry and every second is GONE. */
__u32 sl_dp_backend_id(const struct sl_dp *dp, const struct sl_l4addr *a)
{
	const __u8 *b = (const __u8 *)a->addr;

	CHECK(dp == &fake_dp);
	if ((a->family == SL_AF_INET ? b[3] : b[15]) == 13)
		return 0;
	return 1 + addr_sum(a) % (SL_MAX_BACKENDS - 2);
}

const struct sl_backend *sl_dp_backend(const struct sl_dp *dp, __u32 id)
{
	static struct sl_backend bk;

	CHECK(dp == &fake_dp && id > 0 && id < SL_MAX_BACKENDS);
	if (id % 5 == 0)
		return NULL;
	memset(&bk, 0, sizeof(bk));
	bk.flags = SL_BK_F_ACTIVE | (id % 2 ? SL_BK_F_GONE : 0);
	return &bk;
}

/* ---- the fake resilience module --------------------------------------------- */

static char fake_resil_tag;
#define FAKE_RESIL ((struct sl_resil *)&fake_resil_tag)
static bool resil_off;          /* this input: ops->resil returns NULL */
static struct sl_ctl *server;
/* the last manual mode handed to the module */
static struct { unsigned calls; __u32 id; enum sl_brk_mode mode; } last_set;
static unsigned sets_before;    /* last_set.calls when this input began */

/* sl_brk_state_name and sl_brk_mode_name: the real ones (breaker.o). */

const char *sl_health_state_name(enum sl_health_state s)
{
	static const char *const n[] = { "unknown", "up", "down" };

	return (unsigned)s < 3 ? n[s] : "?";
}

const char *sl_check_type_name(enum sl_check_type t)
{
	static const char *const n[] = { "none", "tcp", "http", "https" };

	return (unsigned)t < 4 ? n[t] : "?";
}

/* Backend ids divisible by 3 have no breaker; the others a made-up one
 * (reasons and details fill their arrays without a NUL, sometimes). */
static bool fake_resil_bk(__u32 id, struct sl_resil_bk *o)
{
	memset(o, 0, sizeof(*o));
	if (id % 3 == 0)
		return false;
	o->bk_id = id;
	o->state = (__u8)(id % (SL_BRKS_MAX + 1));      /* one out of range: "?" */
	o->mode = (__u8)(id % SL_BRKM_MAX);
	o->dp = (__u8)(id % 5);                         /* 4: not an enum sl_breaker */
	o->capped = (__u8)(id % 4 == 1 ? 7 : 0);        /* any non-zero is 1 on the wire */
	o->panic = (__u8)(id % 8 == 2);
	o->health = (__u8)(id % 3);
	o->check_type = (__u8)(id % 4);
	if (id % 11 == 1)
		memset(o->reason, 'r', sizeof(o->reason));
	else
		snprintf(o->reason, sizeof(o->reason), "%u consecutive failures (connect_refused)", id);
	if (id % 13 == 1)
		memset(o->check_detail, 'd', sizeof(o->check_detail));
	else if (id % 2)
		snprintf(o->check_detail, sizeof(o->check_detail), "status %u", 500 + id % 100);
	o->state_since_ns = id % 7 == 1 ? 0 : id % 7 == 2 ? UINT64_MAX : 1000000ull * id;
	o->trips = id % 10;
	o->trial_tokens = (__s32)(id % 5) - 2;          /* negative: 0 on the wire */
	o->refused = id + 1;
	o->timeouts = id + 2;
	o->icmp = id + 3;
	o->resets = id + 4;
	o->handshakes = UINT64_MAX - id;
	o->reconciled = id + 6;
	return true;
}

int sl_resil_backend(struct sl_resil *r, __u32 bk_id, struct sl_resil_bk *out)
{
	CHECK(r == FAKE_RESIL && !resil_off && bk_id > 0 && bk_id < SL_MAX_BACKENDS);
	return fake_resil_bk(bk_id, out) ? 0 : -ENOENT;
}

#define NO_BREAKER_TEXT "no breaker for this backend id"

/* A mode set: refused for ids without a breaker; otherwise recorded, and
 * its transition published while the request is answered. */
int sl_resil_set_mode(struct sl_resil *r, __u32 bk_id, enum sl_brk_mode m, char *err, size_t errlen)
{
	static const __u8 to_state[SL_BRKM_MAX] = {
		SL_BRKS_CLOSED, SL_BRKS_DRAINING, SL_BRKS_FORCED_OPEN, SL_BRKS_FORCED_CLOSED,
		SL_BRKS_METRICS_ONLY,
	};
	struct sl_resil_bk bk;
	struct sl_resil_event e = { 0 };
	char backend[64];

	CHECK(r == FAKE_RESIL && !resil_off && bk_id > 0 && bk_id < SL_MAX_BACKENDS);
	CHECK((unsigned)m < SL_BRKM_MAX);
	if (!fake_resil_bk(bk_id, &bk)) {
		snprintf(err, errlen, "%s", NO_BREAKER_TEXT);
		return -ENOENT;
	}
	last_set.calls++;
	last_set.id = bk_id;
	last_set.mode = m;
	snprintf(backend, sizeof(backend), bk_id % 2 ? "198.19.%u.%u:80" : "[2001:2::%x]:%u",
		 bk_id / 256, bk_id % 256);
	e.at_ns = bk_id % 4 ? 1000 * (__u64)bk_id : 0;
	e.bk_id = bk_id;
	e.service = "web";
	e.backend = bk_id % 5 ? backend : "no port here";
	e.what = "breaker";
	e.from = sl_brk_state_name(bk.state);
	e.to = sl_brk_state_name(to_state[m]);
	e.signal = "manual";
	e.reason = sl_breaker_modes[m];
	e.enforced = m != SL_BRKM_METRICS_ONLY;
	sl_ctl_publish_resil(server, &e);
	return 0;
}

/* ---- the server and its loop ----------------------------------------------- */

static unsigned lost_replies;   /* sl_log's "reply ... lost" */
static bool verbose;            /* FUZZ_PROTO_VERBOSE=1: a line per input */

void sl_log(int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strstr(buf, "lost"))
		lost_replies++;
}

/*
 * orig: the test config, running at the start of every input. running:
 * the running config; runtime changes replace it (as sluiced's loop does,
 * events included) until the input ends, then orig runs again.
 */
static struct sl_config *orig, *running;
static __u32 server_portid;
static char run_dir[64];
static unsigned reload_calls, replace_calls;
/* what the last runtime change changed, when it kept every service and
 * backend in place: how many weights, the last of them */
static struct {
	bool same_shape;
	unsigned diffs, svc, bk;
	__u32 weight;
} last_change;

static const struct sl_config *op_config(void *ctx) { return running; }
static struct sl_dp *op_dp(void *ctx) { return &fake_dp; }
static struct sl_resil *op_resil(void *ctx) { return resil_off ? NULL : FAKE_RESIL; }

static void install(struct sl_config *n, const char *cause)
{
	sl_ctl_applied(server, running, n, cause);
	if (running != orig)
		sl_config_free(running);
	running = n;
}

/* RELOAD: back to the file, i.e. to orig. */
static int op_reload(void *ctx, char *err, size_t errlen)
{
	reload_calls++;
	install(orig, "reload");
	return 0;
}

#define APPLY_FAILS_WEIGHT 13
#define APPLY_FAILS_TEXT   "the data path refused (a backend of weight 13)"

/* A runtime change: n passed sl_config_validate in daemon/ctl.c; it must
 * obey every rule the file does. Applying it fails when a backend has
 * weight APPLY_FAILS_WEIGHT (as when the maps refuse it): the caller
 * frees n and keeps the running config. replace_calls counts the
 * successes. */
static int op_replace(void *ctx, struct sl_config *n, char *err, size_t errlen)
{
	const struct sl_config *c = running;
	unsigned s, b;

	CHECK(n != c && !strcmp(n->file, c->file));
	fz_check_config(n, 1, 0);
	for (s = 0; s < n->nr_services; s++)
		for (b = 0; b < n->services[s].nr_backends; b++)
			if (n->services[s].backends[b].weight == APPLY_FAILS_WEIGHT) {
				snprintf(err, errlen, "%s", APPLY_FAILS_TEXT);
				return -EIO;
			}
	replace_calls++;
	memset(&last_change, 0, sizeof(last_change));
	last_change.same_shape = n->nr_services == c->nr_services;
	for (s = 0; s < n->nr_services && last_change.same_shape; s++) {
		const struct sl_cfg_service *x = &c->services[s], *y = &n->services[s];

		if (strcmp(x->name, y->name) || x->nr_backends != y->nr_backends) {
			last_change.same_shape = false;
			break;
		}
		CHECK(!x->nr_backends || y->backends != x->backends);  /* a copy, not shared */
		for (b = 0; b < x->nr_backends; b++) {
			const struct sl_cfg_backend *p = &x->backends[b], *q = &y->backends[b];

			if (!fz_same_l4(&p->addr, &q->addr)) {
				last_change.same_shape = false;
				break;
			}
			CHECK(p->max_conns == q->max_conns && p->max_pending == q->max_pending);
			if (p->weight != q->weight) {
				last_change.diffs++;
				last_change.svc = s;
				last_change.bk = b;
				last_change.weight = q->weight;
			}
		}
	}
	install(n, "runtime");
	return 0;
}

static const struct sl_ctl_ops ops = {
	.version = "fuzz", .config = op_config, .dp = op_dp,
	.reload = op_reload, .replace = op_replace, .resil = op_resil,
};

/*
 * The test config: "web" has two backends on one address (BACKEND_GET
 * needs PORT for it) and a drained one; "dns6" is IPv6/UDP (not in the fake
 * maps); "bulk" has 300 backends, so a dump of every backend with counters
 * takes more than one datagram; "empty" has none.
 */
static struct sl_config *test_config(void)
{
	size_t cap = 64 << 10, n = 0;
	char *t = malloc(cap), err[512];
	struct sl_config *c = NULL;
	int i;

	CHECK(t);
	n += snprintf(t + n, cap - n,
		"interfaces = ( \"gw-c\" );\n"
		"control_group = \"root\";\n"
		"services = (\n"
		"  { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
		"    backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 3; max_conns = 500; },\n"
		"                 { addr = \"198.19.0.12\"; port = 80; },\n"
		"                 { addr = \"198.19.0.12\"; port = 8080; max_pending = 64; },\n"
		"                 { addr = \"198.19.0.13\"; port = 80; weight = 0; } ); },\n"
		"  { name = \"dns6\"; vip = \"2001:2:0:1::53\"; port = 53; proto = \"udp\";\n"
		"    backends = ( { addr = \"2001:2:0:2::11\"; port = 53; },\n"
		"                 { addr = \"2001:2:0:2::12\"; port = 5353; } ); },\n"
		"  { name = \"empty\"; vip = \"198.18.3.1\"; port = 80; },\n"
		"  { name = \"bulk\"; vip = \"198.18.2.1\"; port = 443;\n"
		"    backends = (\n");
	for (i = 0; i < 300; i++)
		n += snprintf(t + n, cap - n, "      { addr = \"198.20.%d.%d\"; port = 443; }%s\n",
			      i / 200, i % 200 + 1, i < 299 ? "," : "");
	snprintf(t + n, cap - n, "    ); } );\n");
	if (sl_config_load_string(t, "fuzz.conf", &c, err, sizeof(err))) {
		fprintf(stderr, "fuzz_proto: test config: %s\n", err);
		abort();
	}
	free(t);
	return c;
}

static void server_close(void)
{
	sl_ctl_close(server);
	server = NULL;
	if (running != orig)
		sl_config_free(running);
	sl_config_free(orig);
	orig = running = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	char path[sizeof(run_dir) + 16];
	FILE *f;

	verbose = getenv("FUZZ_PROTO_VERBOSE") && *getenv("FUZZ_PROTO_VERBOSE") == '1';
	fake_skel.maps.sl_svc = (struct bpf_map *)&fake_maps[FD_SVC - FD_SVC];
	fake_skel.maps.sl_svc_live = (struct bpf_map *)&fake_maps[FD_SVC_LIVE - FD_SVC];
	fake_skel.maps.sl_bk_live = (struct bpf_map *)&fake_maps[FD_BK_LIVE - FD_SVC];
	fake_skel.maps.sl_svc_stats = (struct bpf_map *)&fake_maps[FD_SVC_STATS - FD_SVC];
	fake_skel.maps.sl_bk_stats = (struct bpf_map *)&fake_maps[FD_BK_STATS - FD_SVC];
	fake_skel.maps.sl_reasons = (struct bpf_map *)&fake_maps[FD_REASONS - FD_SVC];
	running = orig = test_config();
	if (geteuid()) {
		fprintf(stderr, FUZZ_NAME ": not root (layer 2 sends as other users): only layer 1 runs\n");
		return 0;
	}
	/* a network namespace of its own: the events go to no one else's
	 * multicast group */
	if (unshare(CLONE_NEWNET))
		fprintf(stderr, FUZZ_NAME ": unshare(CLONE_NEWNET): %s: sharing this namespace's netlink\n",
			strerror(errno));

	snprintf(run_dir, sizeof(run_dir), "/tmp/sluice-fuzz-XXXXXX");
	if (!mkdtemp(run_dir)) {
		fprintf(stderr, "fuzz_proto: mkdtemp: %s: only layer 1 runs\n", strerror(errno));
		return 0;
	}
	if (sl_ctl_open(&server, run_dir, &ops, NULL, err, sizeof(err))) {
		fprintf(stderr, "fuzz_proto: %s: only layer 1 runs\n", err);
		server = NULL;
		rmdir(run_dir);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", run_dir, SL_PROTO_PORTID_FILE);
	f = fopen(path, "r");
	CHECK(f && fscanf(f, "%u", &server_portid) == 1);
	fclose(f);
	/* not needed any more, and libFuzzer often leaves with _Exit */
	unlink(path);
	rmdir(run_dir);
	atexit(server_close);
	return 0;
}

/* ---- layer 2: replies ------------------------------------------------------- */

struct dgram {
	char *buf;
	int len;
};

static struct dgram *dgs;
static unsigned nr_dgs, cap_dgs;

static int client_open(__u32 *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
	int big = 64 << 20;

	CHECK(fd >= 0);
	CHECK(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK(!getsockname(fd, (struct sockaddr *)&sa, &salen));
	*portid = sa.nl_pid;
	/* every reply must fit: a datagram of many dump requests is answered
	 * with many big datagrams */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

static void client_send(int fd, const void *data, size_t size, uid_t uid, gid_t gid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = server_portid };
	union { char buf[CMSG_SPACE(sizeof(struct ucred))]; struct cmsghdr align; } u;
	struct iovec iov = { (void *)data, size };
	struct msghdr m = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	struct ucred cr = { .pid = getpid(), .uid = uid, .gid = gid };

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_CREDENTIALS;
	cm->cmsg_len = CMSG_LEN(sizeof(cr));
	memcpy(CMSG_DATA(cm), &cr, sizeof(cr));
	if (sendmsg(fd, &m, 0) < 0) {
		fprintf(stderr, "fuzz_proto: sendmsg: %s\n", strerror(errno));
		abort();
	}
}

static void check_dgram(const struct dgram *d);
static unsigned nr_events;      /* EVENT messages received (subscribers) */

/* Event datagrams (to a subscriber): EVENT messages only, each naming
 * the event and its cause. */
static bool events_only(const struct dgram *d)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)d->buf;
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	int len = d->len;

	if (!sl_nlmsg_ok(nlh, len) || nlh->nlmsg_type != SL_PROTO_MSG_TYPE ||
	    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDRLEN || sl_msg_cmd(nlh) != SL_CMD_EVENT)
		return false;
	check_dgram(d);
	for (; sl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		CHECK(nlh->nlmsg_type == SL_PROTO_MSG_TYPE && sl_msg_cmd(nlh) == SL_CMD_EVENT);
		CHECK(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e) == 0);
		CHECK(tb[SL_A_EVENT] && tb[SL_A_CAUSE] && tb[SL_A_TIME_NS]);
		if (!strcmp(sl_get_str(tb[SL_A_EVENT]), "breaker"))     /* the fake module's, while answering */
			CHECK(tb[SL_A_SERVICE] && tb[SL_A_ADDR] && tb[SL_A_ID] && tb[SL_A_FROM] && tb[SL_A_TO] &&
			      tb[SL_A_SIGNAL] && tb[SL_A_WHY] && tb[SL_A_ENFORCED] &&
			      !strcmp(sl_get_str(tb[SL_A_CAUSE]), "runtime") && tb[SL_A_UID] &&
			      !tb[SL_A_PORT] == (sl_get_uint(tb[SL_A_ID]) % 5 == 0));
		nr_events++;
	}
	return true;
}

/* Every datagram waiting on fd, appended to dgs; events are checked and
 * left out (a subscriber gets them whatever it asked). */
static void client_drain(int fd)
{
	static char rx[1 << 20];

	for (;;) {
		struct sockaddr_nl sa;
		struct iovec iov = { rx, sizeof(rx) };
		struct msghdr m = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

		if (n < 0) {
			CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
			return;
		}
		CHECK(!(m.msg_flags & MSG_TRUNC));
		CHECK(sa.nl_pid == server_portid);
		/* what the CLI can receive in one read */
		CHECK(n <= SL_PROTO_BATCH + 8192);
		if (nr_dgs == cap_dgs) {
			cap_dgs = cap_dgs ? 2 * cap_dgs : 64;
			dgs = realloc(dgs, cap_dgs * sizeof(*dgs));
			CHECK(dgs);
		}
		dgs[nr_dgs].buf = malloc(n ? n : 1);
		CHECK(dgs[nr_dgs].buf);
		memcpy(dgs[nr_dgs].buf, rx, n);
		dgs[nr_dgs].len = (int)n;
		if (events_only(&dgs[nr_dgs]))
			free(dgs[nr_dgs].buf);
		else
			nr_dgs++;
	}
}

static void dgs_free(void)
{
	for (unsigned i = 0; i < nr_dgs; i++)
		free(dgs[i].buf);
	nr_dgs = 0;
}

/* The extended ack of an NLMSG_ERROR (the server always caps it). */
struct ack {
	int error;
	__u32 seq;
	const char *msg;
	__u32 off, miss;
	bool has_off, has_miss;
};

static void parse_ack(const struct nlmsghdr *nlh, struct ack *k)
{
	const struct nlmsgerr *ne = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *na;

	memset(k, 0, sizeof(*k));
	CHECK(nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(*ne));
	CHECK(nlh->nlmsg_flags & NLM_F_CAPPED);
	CHECK(ne->msg.nlmsg_len == sizeof(ne->msg));
	CHECK(ne->error <= 0 && ne->error > -4096);
	k->error = ne->error;
	k->seq = nlh->nlmsg_seq;
	CHECK(ne->msg.nlmsg_seq == nlh->nlmsg_seq);
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		CHECK(nlh->nlmsg_len == MNL_NLMSG_HDRLEN + sizeof(*ne));
		return;
	}
	CHECK(ne->error);       /* an ack (0) carries no text */
	{
		int len = (int)(nlh->nlmsg_len - MNL_NLMSG_HDRLEN - sizeof(*ne));

		for (na = (const struct nlattr *)((const char *)ne + sizeof(*ne)); mnl_attr_ok(na, len);
		     na = mnl_attr_next(na)) {
			len -= MNL_ALIGN(na->nla_len);
			switch (mnl_attr_get_type(na)) {
			case NLMSGERR_ATTR_MSG:
				CHECK(!k->msg && mnl_attr_validate(na, MNL_TYPE_NUL_STRING) == 0);
				k->msg = mnl_attr_get_str(na);
				CHECK(k->msg[0]);
				break;
			case NLMSGERR_ATTR_OFFS:
				CHECK(!k->has_off && mnl_attr_validate(na, MNL_TYPE_U32) == 0);
				k->off = mnl_attr_get_u32(na);
				k->has_off = true;
				CHECK(k->off >= MNL_NLMSG_HDRLEN + GENL_HDRLEN);
				break;
			case NLMSGERR_ATTR_MISS_TYPE:
				CHECK(!k->has_miss && mnl_attr_validate(na, MNL_TYPE_U32) == 0);
				k->miss = mnl_attr_get_u32(na);
				k->has_miss = true;
				CHECK(k->miss >= 1 && k->miss <= SL_A_MAX);
				break;
			default:
				CHECK(!"unknown NLMSGERR attribute");
			}
		}
		CHECK(len == 0);
		CHECK(k->msg);
	}
}

/* A datagram from the server: whole messages only, each well formed. */
static void check_dgram(const struct dgram *d)
{
	const struct nlmsghdr *nlh;
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	struct ack k;
	int len = d->len;

	CHECK(len > 0);
	for (nlh = (const struct nlmsghdr *)d->buf; sl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		CHECK(nlh->nlmsg_pid == server_portid);
		switch (nlh->nlmsg_type) {
		case NLMSG_ERROR:
			parse_ack(nlh, &k);
			break;
		case NLMSG_DONE:
			CHECK(nlh->nlmsg_len == MNL_NLMSG_HDRLEN + sizeof(int));
			CHECK(nlh->nlmsg_flags & NLM_F_MULTI);
			break;
		case SL_PROTO_MSG_TYPE:
			if (sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e)) {
				fprintf(stderr, "fuzz_proto: the server's reply is refused: %s\n", e.msg);
				abort();
			}
			walk_reply(tb);
			break;
		default:
			CHECK(!"a reply of an unknown type");
		}
	}
	CHECK(len == 0);
}

/* ---- layer 2: the answer to a single request, predicted ----------------------- */

static const struct nlmsghdr *only_msg(const struct dgram *d)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)d->buf;
	int len = d->len;

	CHECK(sl_nlmsg_ok(nlh, len));
	mnl_nlmsg_next(nlh, &len);
	CHECK(len == 0);
	return nlh;
}

/* d must be exactly one NLMSG_ERROR. */
static void expect_error(const struct dgram *d, __u32 seq, int error, struct ack *k)
{
	const struct nlmsghdr *nlh = only_msg(d);

	CHECK(nlh->nlmsg_type == NLMSG_ERROR);
	parse_ack(nlh, k);
	if (k->error != error)
		fprintf(stderr, "fuzz_proto: error %d (%s), expected %d\n", k->error, k->msg ? k->msg : "", error);
	CHECK(k->error == error && k->seq == seq);
}

static const char *proto_str(__u8 p) { return p == IPPROTO_UDP ? "udp" : "tcp"; }

static void check_service(const struct nlattr **tb, const struct sl_cfg_service *cs, bool stats)
{
	struct sl_l4addr a = { 0 };
	struct sl_svc sv;
	bool found = !bpf_map_lookup_elem(FD_SVC, &cs->vip, &sv);

	CHECK(tb[SL_A_SERVICE] && !strcmp(sl_get_str(tb[SL_A_SERVICE]), cs->name));
	CHECK(tb[SL_A_VIP] && !sl_addr_parse(sl_get_str(tb[SL_A_VIP]), &a));
	CHECK(a.family == cs->vip.family && !memcmp(a.addr, cs->vip.addr, sizeof(a.addr)));
	CHECK(tb[SL_A_PORT] && sl_get_uint(tb[SL_A_PORT]) == ntohs(cs->vip.port));
	CHECK(tb[SL_A_PROTO] && !strcmp(sl_get_str(tb[SL_A_PROTO]), proto_str(cs->vip.proto)));
	CHECK(tb[SL_A_MODE] && !strcmp(sl_get_str(tb[SL_A_MODE]), "nat"));
	CHECK(tb[SL_A_SCHED] && !strcmp(sl_get_str(tb[SL_A_SCHED]), "maglev"));
	CHECK(tb[SL_A_MAX_CONNS] && sl_get_uint(tb[SL_A_MAX_CONNS]) == cs->max_conns);
	CHECK(tb[SL_A_MAGLEV_SIZE] && sl_get_uint(tb[SL_A_MAGLEV_SIZE]) == cs->maglev_size);
	CHECK(tb[SL_A_NR_BACKENDS] && sl_get_uint(tb[SL_A_NR_BACKENDS]) == cs->nr_backends);
	CHECK(!tb[SL_A_ID] == !found && !tb[SL_A_ACTIVE] == !found);
	if (found) {
		CHECK(sl_get_uint(tb[SL_A_ID]) == sv.id);
		CHECK((int64_t)sl_get_uint(tb[SL_A_ACTIVE]) >= 0);
	}
	CHECK(!tb[SL_A_PACKETS] == !stats && !tb[SL_A_BYTES] == !stats && !tb[SL_A_NEW_FLOWS] == !stats);
	CHECK(!tb[SL_A_CONN_REFUSED] && !tb[SL_A_REASONS]);
	CHECK(!tb[SL_A_BREAKER] && !tb[SL_A_HEALTH] && !tb[SL_A_COUNTERS]);
}

/* The fake module's breaker of backend id, as put_resil (daemon/ctl.c)
 * must have sent it, or nothing. */
static void check_resil(const struct nlattr **tb, __u32 id, bool stats)
{
	static const char *const gates[] = { "closed", "open", "half_open", "draining", "?" };
	static const char *const counters[] = {
		"connect_refused", "connect_timeout", "icmp_unreachable", "reset", "handshake", "reconciled",
	};
	struct sl_resil_bk o;
	const struct nlattr *r, *na;
	char buf[200];
	unsigned n = 0;

	if (resil_off || !id || !fake_resil_bk(id, &o)) {
		CHECK(!tb[SL_A_BREAKER] && !tb[SL_A_BREAKER_MODE] && !tb[SL_A_GATE] && !tb[SL_A_HEALTH] &&
		      !tb[SL_A_STATE_AGE_MS] && !tb[SL_A_COUNTERS] && !tb[SL_A_CHECK_DETAIL]);
		return;
	}
	CHECK(tb[SL_A_BREAKER] && !strcmp(sl_get_str(tb[SL_A_BREAKER]), sl_brk_state_name(o.state)));
	CHECK(tb[SL_A_BREAKER_MODE] && !strcmp(sl_get_str(tb[SL_A_BREAKER_MODE]), sl_breaker_modes[o.mode]));
	CHECK(tb[SL_A_GATE] && !strcmp(sl_get_str(tb[SL_A_GATE]), gates[o.dp]));
	CHECK(tb[SL_A_CAPPED] && sl_get_uint(tb[SL_A_CAPPED]) == !!o.capped);
	CHECK(tb[SL_A_PANIC] && sl_get_uint(tb[SL_A_PANIC]) == !!o.panic);
	snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(o.reason), o.reason);
	CHECK(tb[SL_A_BREAKER_REASON] && !strcmp(sl_get_str(tb[SL_A_BREAKER_REASON]), buf));
	CHECK(tb[SL_A_TRIPS] && sl_get_uint(tb[SL_A_TRIPS]) == o.trips);
	CHECK(tb[SL_A_TRIAL_TOKENS] &&
	      sl_get_uint(tb[SL_A_TRIAL_TOKENS]) == (o.trial_tokens > 0 ? (__u64)o.trial_tokens : 0));
	CHECK(tb[SL_A_HEALTH] && !strcmp(sl_get_str(tb[SL_A_HEALTH]), sl_health_state_name(o.health)));
	CHECK(tb[SL_A_CHECK] && !strcmp(sl_get_str(tb[SL_A_CHECK]), sl_check_type_name(o.check_type)));
	snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(o.check_detail), o.check_detail);
	CHECK(!tb[SL_A_CHECK_DETAIL] == !buf[0]);
	if (buf[0])
		CHECK(!strcmp(sl_get_str(tb[SL_A_CHECK_DETAIL]), buf));
	CHECK(!tb[SL_A_STATE_AGE_MS] == !o.state_since_ns);
	if (o.state_since_ns == UINT64_MAX)     /* in the future: 0 */
		CHECK(sl_get_uint(tb[SL_A_STATE_AGE_MS]) == 0);
	CHECK(!tb[SL_A_COUNTERS] == !stats);
	if (!stats)
		return;
	mnl_attr_for_each_nested(r, tb[SL_A_COUNTERS]) {
		const char *name = NULL;
		__u64 v = 0, want[] = { o.refused, o.timeouts, o.icmp, o.resets, o.handshakes, o.reconciled };

		CHECK(mnl_attr_get_type(r) == SL_A_COUNTER && n < 6);
		mnl_attr_for_each_nested(na, r) {
			if (mnl_attr_get_type(na) == SL_A_NAME)
				name = sl_get_str(na);
			else if (mnl_attr_get_type(na) == SL_A_COUNT)
				v = sl_get_uint(na);
		}
		CHECK(name && !strcmp(name, counters[n]) && v == want[n]);
		n++;
	}
	CHECK(n == 6);
}

static void check_backend(const struct nlattr **tb, const struct sl_cfg_service *cs,
			  const struct sl_cfg_backend *cb, bool stats)
{
	struct sl_l4addr a = { 0 };
	__u32 id = sl_dp_backend_id(&fake_dp, &cb->addr);
	const struct sl_backend *bk = id ? sl_dp_backend(&fake_dp, id) : NULL;
	const char *state = !bk ? "missing" : bk->flags & SL_BK_F_GONE ? "gone" : "active";

	CHECK(tb[SL_A_SERVICE] && !strcmp(sl_get_str(tb[SL_A_SERVICE]), cs->name));
	CHECK(tb[SL_A_ADDR] && !sl_addr_parse(sl_get_str(tb[SL_A_ADDR]), &a));
	CHECK(a.family == cb->addr.family && !memcmp(a.addr, cb->addr.addr, sizeof(a.addr)));
	CHECK(tb[SL_A_PORT] && sl_get_uint(tb[SL_A_PORT]) == ntohs(cb->addr.port));
	CHECK(tb[SL_A_WEIGHT] && sl_get_uint(tb[SL_A_WEIGHT]) == cb->weight);
	CHECK(tb[SL_A_MAX_CONNS] && sl_get_uint(tb[SL_A_MAX_CONNS]) == cb->max_conns);
	CHECK(tb[SL_A_MAX_PENDING] && sl_get_uint(tb[SL_A_MAX_PENDING]) == cb->max_pending);
	CHECK(tb[SL_A_STATE] && !strcmp(sl_get_str(tb[SL_A_STATE]), state));
	CHECK(!tb[SL_A_ID] == !bk && !tb[SL_A_ACTIVE] == !bk && !tb[SL_A_PENDING] == !bk);
	if (bk)
		CHECK(sl_get_uint(tb[SL_A_ID]) == id && (int64_t)sl_get_uint(tb[SL_A_ACTIVE]) >= 0 &&
		      (int64_t)sl_get_uint(tb[SL_A_PENDING]) >= 0);
	CHECK(!tb[SL_A_PACKETS] == !stats && !tb[SL_A_CONN_REFUSED] == !stats && !tb[SL_A_RESETS] == !stats);
	check_resil(tb, id, stats);
}

/* One reply message of cmd (not multi) followed by nothing. */
static const struct nlmsghdr *expect_reply(const struct dgram *d, unsigned cmd, __u32 seq,
					   const struct nlattr **tb)
{
	const struct nlmsghdr *nlh = only_msg(d);
	struct sl_proto_err e;

	CHECK(nlh->nlmsg_type == SL_PROTO_MSG_TYPE && nlh->nlmsg_seq == seq);
	CHECK(!(nlh->nlmsg_flags & NLM_F_MULTI));
	CHECK(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e) == 0);
	CHECK(sl_msg_cmd(nlh) == cmd);
	return nlh;
}

/*
 * The oracle for find_backend (daemon/ctl.c): 0 with *ps and *pb, or the
 * errno. *addr_bad: the refusal points at ADDR.
 */
static int find_backend(const struct nlattr **tb, unsigned *ps, unsigned *pb, bool *addr_bad)
{
	const struct sl_cfg_service *cs = NULL;
	struct sl_l4addr a = { 0 };
	unsigned s, b, hits = 0;

	*addr_bad = false;
	for (s = 0; s < orig->nr_services; s++)
		if (!strcmp(orig->services[s].name, sl_get_str(tb[SL_A_SERVICE])))
			cs = &orig->services[*ps = s];
	if (!cs)
		return -ENOENT;
	if (sl_addr_parse(sl_get_str(tb[SL_A_ADDR]), &a)) {
		*addr_bad = true;
		return -EINVAL;
	}
	for (b = 0; b < cs->nr_backends; b++) {
		const struct sl_cfg_backend *cb = &cs->backends[b];

		if (cb->addr.family == a.family && !memcmp(cb->addr.addr, a.addr, sizeof(a.addr)) &&
		    (!tb[SL_A_PORT] || ntohs(cb->addr.port) == sl_get_uint(tb[SL_A_PORT]))) {
			hits++;
			*pb = b;
		}
	}
	return !hits ? -ENOENT : hits > 1 ? -EINVAL : 0;
}

/* After the reply (if any): the ack NLM_F_ACK asks for, then nothing. */
static void expect_tail(unsigned i, const struct nlmsghdr *req)
{
	struct ack k;

	if (req->nlmsg_flags & NLM_F_ACK) {
		CHECK(i < nr_dgs);
		expect_error(&dgs[i++], req->nlmsg_seq, 0, &k);
	}
	CHECK(i == nr_dgs);
}

/* A dump: every page, then check that each object came once, in order. */
static void expect_dump(int fd, const void *data, size_t size, uid_t uid, gid_t gid,
			const struct nlmsghdr *req, const struct nlattr **rtb)
{
	const char *only = rtb[SL_A_SERVICE] ? sl_get_str(rtb[SL_A_SERVICE]) : NULL;
	bool stats = rtb[SL_A_STATS] && sl_get_uint(rtb[SL_A_STATS]);
	unsigned cmd = sl_msg_cmd(req), s = 0, b = 0, pages = 0, i;
	bool done = false;
	struct ack k;

	if (only && !sl_config_find_service(orig, only)) {
		CHECK(nr_dgs == 1);
		expect_error(&dgs[0], req->nlmsg_seq, -ENOENT, &k);
		return;
	}
	/* the next object expected: service s (and its backend b) */
#define SKIP() \
	while (s < orig->nr_services && ((only && strcmp(orig->services[s].name, only)) || \
	       (cmd == SL_CMD_BACKEND_GET && b >= orig->services[s].nr_backends))) { s++; b = 0; }
	SKIP();
	for (i = 0; !done; i++) {
		const struct nlmsghdr *nlh;
		int len;

		if (i == nr_dgs) {      /* a page without DONE: ask for the rest */
			CHECK(++pages < MAX_PAGES);
			client_send(fd, data, size, uid, gid);
			sl_ctl_event(server);
			client_drain(fd);
			CHECK(i < nr_dgs);
		}
		check_dgram(&dgs[i]);
		CHECK(dgs[i].len <= SL_PROTO_BATCH);
		len = dgs[i].len;
		for (nlh = (const struct nlmsghdr *)dgs[i].buf; sl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *tb[SL_A_TB];
			struct sl_proto_err e;

			CHECK(!done && nlh->nlmsg_seq == req->nlmsg_seq);
			CHECK(nlh->nlmsg_flags & NLM_F_MULTI);
			CHECK(!(nlh->nlmsg_flags & NLM_F_DUMP_INTR));      /* the config never changes here */
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = true;
				continue;
			}
			CHECK(nlh->nlmsg_type == SL_PROTO_MSG_TYPE && sl_msg_cmd(nlh) == cmd);
			CHECK(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e) == 0);
			CHECK(s < orig->nr_services);        /* no more objects than there are */
			if (cmd == SL_CMD_SERVICE_GET) {
				check_service(tb, &orig->services[s], stats);
				s++;
			} else {
				check_backend(tb, &orig->services[s], &orig->services[s].backends[b], stats);
				b++;
			}
			SKIP();
		}
	}
#undef SKIP
	CHECK(s == orig->nr_services);   /* every object */
	CHECK(i == nr_dgs);
}

/*
 * Commands without a full oracle (the runtime changes SERVICE_ADD/DEL and
 * BACKEND_ADD/DEL, SUBSCRIBE, and whatever comes next): every message
 * answers this request; at most one NLMSG_ERROR, last, present when
 * NLM_F_ACK asks; a refused change changes nothing, an accepted one is
 * one runtime change (or reload), and for the four runtime changes the
 * running config shows it.
 */
static void expect_other(const struct nlmsghdr *req, const struct nlattr **rtb,
			 unsigned reloads0, unsigned replaces0)
{
	unsigned cmd = sl_msg_cmd(req), i, errors = 0, calls;
	const struct sl_cfg_service *was, *now;
	const char *name = rtb[SL_A_SERVICE] ? sl_get_str(rtb[SL_A_SERVICE]) : NULL;
	struct ack k = { 0 };
	bool refused;

	for (i = 0; i < nr_dgs; i++) {
		const struct nlmsghdr *nlh;
		int len = dgs[i].len;

		for (nlh = (const struct nlmsghdr *)dgs[i].buf; sl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			CHECK(nlh->nlmsg_seq == req->nlmsg_seq);
			CHECK(!errors);         /* nothing after an NLMSG_ERROR */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				parse_ack(nlh, &k);
				errors++;
			} else {
				CHECK(nlh->nlmsg_type == SL_PROTO_MSG_TYPE && sl_msg_cmd(nlh) == cmd);
			}
		}
	}
	if (req->nlmsg_flags & NLM_F_ACK)
		CHECK(errors == 1);
	refused = errors && k.error;
	calls = (reload_calls - reloads0) + (replace_calls - replaces0);
	if (refused || !(sl_cmds[cmd].flags & SL_CF_MUTATING)) {
		CHECK(calls == 0 && running == orig);
		return;
	}
	CHECK(calls == 1);
	was = name ? sl_config_find_service(orig, name) : NULL;
	now = name ? sl_config_find_service(running, name) : NULL;
	switch (cmd) {
	case SL_CMD_SERVICE_ADD: {
		struct sl_l4addr vip = { 0 };

		CHECK(!was && now && running->nr_services == orig->nr_services + 1);
		CHECK(!sl_addr_parse(sl_get_str(rtb[SL_A_VIP]), &vip));
		CHECK(now->vip.family == vip.family && !memcmp(now->vip.addr, vip.addr, sizeof(vip.addr)));
		CHECK(ntohs(now->vip.port) == sl_get_uint(rtb[SL_A_PORT]) && now->nr_backends == 0);
		break;
	}
	case SL_CMD_SERVICE_DEL:
		CHECK(was && !now && running->nr_services == orig->nr_services - 1);
		break;
	case SL_CMD_BACKEND_ADD: {
		struct sl_l4addr a = { 0 };
		unsigned b, hits = 0;

		CHECK(was && now && now->nr_backends == was->nr_backends + 1);
		CHECK(!sl_addr_parse(sl_get_str(rtb[SL_A_ADDR]), &a));
		a.port = htons((__u16)sl_get_uint(rtb[SL_A_PORT]));
		a.proto = was->vip.proto;
		for (b = 0; b < now->nr_backends; b++)
			hits += fz_same_l4(&now->backends[b].addr, &a);
		CHECK(hits == 1);
		break;
	}
	case SL_CMD_BACKEND_DEL:
		CHECK(was && now && now->nr_backends == was->nr_backends - 1);
		break;
	}
}

static void expect_answer(int fd, const void *data, size_t size, const struct nlmsghdr *req,
			  int rc, const struct sl_proto_err *e, uid_t uid, gid_t gid,
			  unsigned reloads0, unsigned replaces0)
{
	const struct nlattr *rtb[SL_A_TB], *tb[SL_A_TB];
	struct sl_proto_err e2;
	unsigned cmd, s = 0, b = 0;
	bool dump, addr_bad;
	struct ack k;
	int want;

	if (!(req->nlmsg_flags & NLM_F_REQUEST) || req->nlmsg_type < NLMSG_MIN_TYPE) {
		CHECK(nr_dgs == 0);     /* not a request: no answer */
		return;
	}
	if (rc) {
		/* refused by the tables: exactly what sl_proto_check said */
		CHECK(nr_dgs == 1);
		expect_error(&dgs[0], req->nlmsg_seq, rc, &k);
		CHECK(k.msg && !strcmp(k.msg, e->msg));
		CHECK(k.has_off == !!e->off && k.off == e->off);
		CHECK(k.has_miss == !!e->miss && k.miss == e->miss);
		return;
	}
	CHECK(sl_proto_check(req, SL_CHECK_REQUEST, rtb, &e2) == 0);
	cmd = sl_msg_cmd(req);
	dump = (req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	if ((sl_cmds[cmd].flags & SL_CF_MUTATING) && uid != 0 && gid != 0) {
		CHECK(nr_dgs == 1);
		expect_error(&dgs[0], req->nlmsg_seq, -EPERM, &k);
		CHECK(reload_calls == reloads0 && replace_calls == replaces0);
		return;
	}
	if (dump) {
		expect_dump(fd, data, size, uid, gid, req, rtb);
		return;
	}
	switch (cmd) {
	case SL_CMD_VERSION:
		CHECK(nr_dgs >= 1);
		expect_reply(&dgs[0], cmd, req->nlmsg_seq, tb);
		CHECK(tb[SL_A_VERSION] && !strcmp(sl_get_str(tb[SL_A_VERSION]), "fuzz"));
		CHECK(tb[SL_A_PROTO_VERSION] && sl_get_uint(tb[SL_A_PROTO_VERSION]) == SL_PROTO_VERSION);
		CHECK(tb[SL_A_CONFIG_FILE] && !strcmp(sl_get_str(tb[SL_A_CONFIG_FILE]), orig->file));
		CHECK(tb[SL_A_CONFIG_HASH] && sl_get_uint(tb[SL_A_CONFIG_HASH]) == orig->hash);
		CHECK(tb[SL_A_NR_SERVICES] && sl_get_uint(tb[SL_A_NR_SERVICES]) == orig->nr_services);
		expect_tail(1, req);
		break;
	case SL_CMD_SERVICE_GET: {
		const struct sl_cfg_service *cs =
			rtb[SL_A_SERVICE] ? sl_config_find_service(orig, sl_get_str(rtb[SL_A_SERVICE])) : NULL;

		CHECK(nr_dgs >= 1);
		if (!rtb[SL_A_SERVICE] || !cs) {
			CHECK(nr_dgs == 1);
			expect_error(&dgs[0], req->nlmsg_seq, rtb[SL_A_SERVICE] ? -ENOENT : -EINVAL, &k);
			return;
		}
		expect_reply(&dgs[0], cmd, req->nlmsg_seq, tb);
		check_service(tb, cs, rtb[SL_A_STATS] && sl_get_uint(rtb[SL_A_STATS]));
		expect_tail(1, req);
		break;
	}
	case SL_CMD_BACKEND_GET:
	case SL_CMD_BACKEND_SET:
		CHECK(cmd == SL_CMD_BACKEND_SET || nr_dgs >= 1);
		want = rtb[SL_A_SERVICE] && rtb[SL_A_ADDR] ? find_backend(rtb, &s, &b, &addr_bad) : -EINVAL;
		if (want) {
			CHECK(nr_dgs == 1);
			expect_error(&dgs[0], req->nlmsg_seq, want, &k);
			if (want == -EINVAL && rtb[SL_A_SERVICE] && rtb[SL_A_ADDR] && addr_bad)
				CHECK(k.has_off && k.off == (__u32)((const char *)rtb[SL_A_ADDR] - (const char *)req));
			CHECK(replace_calls == replaces0);
			return;
		}
		if (cmd == SL_CMD_BACKEND_GET) {
			expect_reply(&dgs[0], cmd, req->nlmsg_seq, tb);
			check_backend(tb, &orig->services[s], &orig->services[s].backends[b],
				      rtb[SL_A_STATS] && sl_get_uint(rtb[SL_A_STATS]));
			expect_tail(1, req);
		} else {
			__u32 w = (__u32)sl_get_uint(rtb[SL_A_WEIGHT]);

			if (w == APPLY_FAILS_WEIGHT) {      /* applying fails: an error, no change */
				CHECK(nr_dgs == 1);
				expect_error(&dgs[0], req->nlmsg_seq, -EIO, &k);
				CHECK(k.msg && !strcmp(k.msg, APPLY_FAILS_TEXT));
				CHECK(replace_calls == replaces0 && running == orig);
				return;
			}
			/* exactly that weight changed, nothing else */
			CHECK(replace_calls == replaces0 + 1 && last_change.same_shape);
			if (w == orig->services[s].backends[b].weight)
				CHECK(last_change.diffs == 0);
			else
				CHECK(last_change.diffs == 1 && last_change.svc == s && last_change.bk == b &&
				      last_change.weight == w);
			CHECK(running->services[s].backends[b].weight == w);
			expect_tail(0, req);
		}
		break;
	case SL_CMD_BREAKER_SET: {
		struct sl_proto_err me;
		int mode = sl_breaker_mode_parse(req, rtb[SL_A_BREAKER_MODE], &me);
		__u32 id = 0;

		/* a mode set changes no config, and answers once */
		CHECK(reload_calls == reloads0 && replace_calls == replaces0 && running == orig);
		if (mode < 0) {
			want = mode;
		} else if (resil_off) {
			want = -EOPNOTSUPP;
		} else {
			want = find_backend(rtb, &s, &b, &addr_bad);
			if (!want) {
				id = sl_dp_backend_id(&fake_dp, &orig->services[s].backends[b].addr);
				want = id ? 0 : -ENOENT;
			}
		}
		if (want || (id && id % 3 == 0)) {
			CHECK(nr_dgs == 1);
			expect_error(&dgs[0], req->nlmsg_seq, want ? want : -ENOENT, &k);
			if (mode < 0)
				CHECK(k.msg && !strcmp(k.msg, me.msg) && k.has_off && k.off == me.off);
			else if (resil_off)
				CHECK(k.msg && strstr(k.msg, "not running"));
			else if (want == -EINVAL && addr_bad)
				CHECK(k.has_off && k.off == (__u32)((const char *)rtb[SL_A_ADDR] - (const char *)req));
			else if (!want)     /* the module's refusal, with its text */
				CHECK(k.msg && strstr(k.msg, NO_BREAKER_TEXT) && strstr(k.msg, orig->services[s].name));
			CHECK(last_set.calls == sets_before);
			break;
		}
		CHECK(last_set.calls == sets_before + 1);
		CHECK(last_set.id == id && last_set.mode == (enum sl_brk_mode)mode);
		expect_tail(0, req);
		break;
	}
	case SL_CMD_RELOAD:
		CHECK(reload_calls == reloads0 + 1);
		expect_tail(0, req);
		break;
	case SL_CMD_STATS_GET: {
		const struct nlattr *r, *na;
		unsigned n = 0;

		CHECK(nr_dgs >= 1);
		expect_reply(&dgs[0], cmd, req->nlmsg_seq, tb);
		CHECK(tb[SL_A_NR_SERVICES] && sl_get_uint(tb[SL_A_NR_SERVICES]) == orig->nr_services);
		CHECK(tb[SL_A_PACKETS] && tb[SL_A_BYTES] && tb[SL_A_NEW_FLOWS] && tb[SL_A_REASONS]);
		mnl_attr_for_each_nested(r, tb[SL_A_REASONS]) {
			bool name = false, count = false;

			CHECK(mnl_attr_get_type(r) == SL_A_REASON);
			mnl_attr_for_each_nested(na, r) {
				name |= mnl_attr_get_type(na) == SL_A_NAME;
				count |= mnl_attr_get_type(na) == SL_A_COUNT;
			}
			CHECK(name && count);
			n++;
		}
		CHECK(n == SL_R_MAX);
		expect_tail(1, req);
		break;
	}
	default:
		expect_other(req, rtb, reloads0, replaces0);
	}
}

/* ---- the input ---------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh, *first = NULL;
	struct sl_proto_err first_e = { 0 };
	unsigned msgs = 0, reloads0 = reload_calls, replaces0 = replace_calls;
	int len = (int)size, first_rc = 0, fd;
	uid_t uid = 0;
	gid_t gid;
	__u32 client;
	char *buf;

	if (size > SERVER_RX)
		return -1;      /* the daemon drops longer datagrams unread (MSG_TRUNC) */
	/* exactly the datagram's bytes: ASan sees any read past its end */
	buf = malloc(size ? size : 1);
	CHECK(buf);
	memcpy(buf, data, size);

	for (nlh = (const struct nlmsghdr *)buf; sl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		int rc;
		struct sl_proto_err e;

		layer1(nlh, &rc, &e);
		if (!msgs++) {
			first = nlh;
			first_rc = rc;
			first_e = e;
		}
	}

	if (!server || !size)
		goto out;       /* (netlink refuses to send an empty datagram: ENODATA) */
	if (size >= sizeof(struct nlmsghdr) && (((const struct nlmsghdr *)buf)->nlmsg_pid & 1))
		uid = 65534;
	gid = size >= sizeof(struct nlmsghdr) && (((const struct nlmsghdr *)buf)->nlmsg_pid & 2) ? 0 : uid;
	resil_off = size >= sizeof(struct nlmsghdr) && (((const struct nlmsghdr *)buf)->nlmsg_pid & 4);
	sets_before = last_set.calls;
	fd = client_open(&client);
	lost_replies = 0;
	client_send(fd, buf, size, uid, gid);
	sl_ctl_event(server);
	client_drain(fd);
	for (unsigned i = 0; i < nr_dgs; i++)
		check_dgram(&dgs[i]);
	if (uid && gid)         /* neither root nor the control group: nothing changes */
		CHECK(reload_calls == reloads0 && replace_calls == replaces0 && running == orig &&
		      last_set.calls == sets_before);
	if (msgs == 1) {
		CHECK(lost_replies == 0);
		expect_answer(fd, buf, size, first, first_rc, &first_e, uid, gid, reloads0, replaces0);
	} else if (msgs == 0) {
		CHECK(nr_dgs == 0);
	}
	if (verbose) {
		fprintf(stderr, "fuzz_proto: %zu bytes, %u message(s), request check %d (%s), uid %u gid %u: %u datagram(s) back:",
			size, msgs, first_rc, first_e.msg, (unsigned)uid, (unsigned)gid, nr_dgs);
		for (unsigned i = 0; i < nr_dgs; i++)
			fprintf(stderr, " %d", dgs[i].len);
		fprintf(stderr, "; %u events so far\n", nr_events);
	}
	if (running != orig)
		install(orig, "reload");        /* the next input starts from the test config */
	dgs_free();
	close(fd);
out:
	free(buf);
	return 0;
}
