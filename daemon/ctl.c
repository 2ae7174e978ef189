// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control server. Requests are checked against the protocol tables
 * (sl_proto_check) before any handler sees them; mutating commands are
 * judged from the sender's SCM_CREDENTIALS, which the kernel stamps and a
 * non-root sender cannot forge. Dumps are sent in datagrams of at most
 * SL_PROTO_BATCH bytes: a datagram without NLMSG_DONE means "send the same
 * request again (same seq) for the rest", so a large table never overruns
 * the client's receive buffer and the daemon never blocks on a slow client.
 *
 * Events go to the NETLINK_USERSOCK multicast group SL_PROTO_MCGROUP (root
 * listeners) and by unicast to the port ids that sent SUBSCRIBE (anyone);
 * a subscriber whose port is gone (ECONNREFUSED) is dropped.
 *
 * Breakers and health checks belong to the resilience module (resil.h),
 * reached through ops->resil: backend replies carry its view of each
 * backend, BREAKER_SET hands it a manual mode, and the loop forwards its
 * transitions to sl_ctl_publish_resil().
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sluice/proto.h>
#include <sluice/reasons.h>

#include "sluice.skel.h"
#include "ctl.h"
#include "config.h"
#include "dataplane.h"
#include "log.h"
#include "resil.h"

#define CTL_DUMPS     16        /* dumps in progress remembered at once */
#define CTL_RECV_MAX  64        /* datagrams answered per event */
#define CTL_BUF       (SL_PROTO_BATCH + 4096)

struct dump {
	bool used;
	__u32 portid, seq;
	unsigned cmd;
	unsigned svc, bk;           /* where the next datagram starts */
	uintptr_t gen;              /* running config when the dump began */
	unsigned long stamp;        /* for reuse of the oldest slot */
};

struct sl_ctl {
	struct mnl_socket *nl;
	__u32 portid;
	char portid_path[SL_PATH_MAX + 16];
	const struct sl_ctl_ops *ops;
	void *ctx;
	struct dump dumps[CTL_DUMPS];
	unsigned long stamp;
	const struct ucred *cur_cred;   /* sender of the request being answered, else NULL */
	unsigned cur_cmd;               /* the command being answered, else 0 */
	__u32 subs[SL_PROTO_SUBSCRIBERS];   /* unicast event subscribers (0: free) */
	__u32 ev_seq;
	size_t ev_used;             /* bytes of events waiting in ev[] */
	char rx[CTL_BUF];
	char tx[CTL_BUF];
	char ev[CTL_BUF];
};

/* One request being answered. */
struct req {
	const struct nlmsghdr *nlh;
	const struct nlattr *tb[SL_A_TB];
	__u32 portid;               /* the sender's */
	unsigned cmd;
	bool dump;
	struct sl_proto_err e;
};

static const char *const proto_names[256] = { [IPPROTO_TCP] = "tcp", [IPPROTO_UDP] = "udp" };
static const char *const mode_names[] = { [SL_MODE_NAT] = "nat", [SL_MODE_DSR] = "dsr" };
static const char *const sched_names[] = { [SL_SCHED_MAGLEV] = "maglev", [SL_SCHED_P2C] = "p2c" };
/* enum sl_breaker: what the data path does with a backend's new flows */
static const char *const gate_names[] = {
	[SL_BRK_CLOSED] = "closed", [SL_BRK_OPEN] = "open",
	[SL_BRK_HALF_OPEN] = "half_open", [SL_BRK_DRAINING] = "draining",
};

/* BREAKER_MODE's values are enum sl_brk_mode's, by index */
_Static_assert(SL_BREAKER_MODES == SL_BRKM_MAX, "proto.h's sl_breaker_modes and enum sl_brk_mode differ");

#define SL_R_NAME(e, v, n, d) [SL_R_##e] = n,
static const char *const reason_names[SL_R_MAX] = { SL_REASONS(SL_R_NAME) };
#undef SL_R_NAME

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : "?";
}
#define NAME_OF(tab, v) name_of(tab, sizeof(tab) / sizeof(tab[0]), v)

/* ---- socket ------------------------------------------------------------- */

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[SL_PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_portid(struct sl_ctl *c, const char *run_dir, char *err, size_t errlen)
{
	char tmp[sizeof(c->portid_path) + 8];
	FILE *f;
	int rc;

	rc = mkdir_p(run_dir, 0755);
	if (rc) {
		snprintf(err, errlen, "ctl: cannot create %s: %s", run_dir, strerror(-rc));
		return rc;
	}
	snprintf(c->portid_path, sizeof(c->portid_path), "%s/%s", run_dir, SL_PROTO_PORTID_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->portid_path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", c->portid) < 0 || fchmod(fileno(f), 0644) || fclose(f)) {
		rc = -errno;
		snprintf(err, errlen, "ctl: cannot write %s: %s", tmp, strerror(errno));
		return rc;
	}
	if (rename(tmp, c->portid_path)) {
		rc = -errno;
		snprintf(err, errlen, "ctl: cannot rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

int sl_ctl_open(struct sl_ctl **out, const char *run_dir, const struct sl_ctl_ops *ops,
		void *ctx, char *err, size_t errlen)
{
	struct sl_ctl *c = calloc(1, sizeof(*c));
	int one = 1, fd, rc;

	if (!c) {
		snprintf(err, errlen, "ctl: out of memory");
		return -ENOMEM;
	}
	c->ops = ops;
	c->ctx = ctx;
	c->nl = mnl_socket_open2(NETLINK_USERSOCK, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!c->nl || mnl_socket_bind(c->nl, 0, MNL_SOCKET_AUTOPID)) {
		rc = -errno;
		snprintf(err, errlen, "ctl: netlink socket: %s", strerror(errno));
		goto fail;
	}
	fd = mnl_socket_get_fd(c->nl);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
		rc = -errno;
		snprintf(err, errlen, "ctl: SO_PASSCRED: %s", strerror(errno));
		goto fail;
	}
	c->portid = mnl_socket_get_portid(c->nl);
	rc = write_portid(c, run_dir, err, errlen);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->nl)
		mnl_socket_close(c->nl);
	free(c);
	return rc;
}

int sl_ctl_fd(const struct sl_ctl *c)
{
	return mnl_socket_get_fd(c->nl);
}

void sl_ctl_close(struct sl_ctl *c)
{
	FILE *f;
	unsigned id;

	if (!c)
		return;
	/* Remove the file only while it still names us: a successor may have
	 * written its own already. */
	f = fopen(c->portid_path, "r");
	if (f) {
		if (fscanf(f, "%u", &id) == 1 && id == c->portid)
			unlink(c->portid_path);
		fclose(f);
	}
	mnl_socket_close(c->nl);
	free(c);
}

static void send_to(struct sl_ctl *c, __u32 portid, const void *buf, size_t len)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = portid };

	if (sendto(sl_ctl_fd(c), buf, len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		sl_log(LOG_WARNING, "ctl: reply to port %u lost: %s", portid, strerror(errno));
}

/* NLMSG_ERROR: errno (0 for an ack) with the request's header only
 * (NLM_F_CAPPED) and, when there is one, the extended ack. */
static void send_ack(struct sl_ctl *c, struct req *r, int error)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(c->tx);
	struct nlmsgerr *ne;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	nlh->nlmsg_seq = r->nlh->nlmsg_seq;
	nlh->nlmsg_pid = c->portid;
	ne = mnl_nlmsg_put_extra_header(nlh, sizeof(*ne));
	ne->error = error;
	memcpy(&ne->msg, r->nlh, sizeof(ne->msg));
	ne->msg.nlmsg_len = sizeof(ne->msg);
	if (error && r->e.msg[0]) {
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, r->e.msg);
		if (r->e.off)
			mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, r->e.off);
		if (r->e.miss)
			mnl_attr_put_u32(nlh, NLMSGERR_ATTR_MISS_TYPE, r->e.miss);
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
	}
	send_to(c, r->portid, c->tx, nlh->nlmsg_len);
}

static int refuse(struct req *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct req *r, int err, const char *fmt, ...)
{
	va_list ap;

	r->e.err = err;
	r->e.off = 0;
	r->e.miss = 0;
	va_start(ap, fmt);
	vsnprintf(r->e.msg, sizeof(r->e.msg), fmt, ap);
	va_end(ap);
	return err;
}

/* ---- reading the maps --------------------------------------------------- */

static int map_fd(struct sl_dp *dp, struct bpf_map *m)
{
	return dp && dp->skel ? bpf_map__fd(m) : -1;
}

/* Sum a per-CPU value of nwords u64 counters. */
static void percpu_sum(struct sl_dp *dp, int fd, __u32 key, __u64 *sum, unsigned nwords)
{
	__u64 *vals;
	int cpu;
	unsigned w;

	memset(sum, 0, nwords * sizeof(*sum));
	if (fd < 0 || dp->nr_cpus <= 0)
		return;
	vals = calloc((size_t)dp->nr_cpus, nwords * sizeof(__u64));
	if (!vals)
		return;
	if (!bpf_map_lookup_elem(fd, &key, vals))
		for (cpu = 0; cpu < dp->nr_cpus; cpu++)
			for (w = 0; w < nwords; w++)
				sum[w] += vals[(size_t)cpu * nwords + w];
	free(vals);
}

static __u32 svc_id(struct sl_dp *dp, const struct sl_cfg_service *cs, bool *found)
{
	struct sl_svc sv;
	int fd = dp ? map_fd(dp, dp->skel->maps.sl_svc) : -1;

	*found = fd >= 0 && !bpf_map_lookup_elem(fd, &cs->vip, &sv);
	return *found ? sv.id : 0;
}

/* ---- messages ------------------------------------------------------------- */

/* Each builder returns false when the message did not fit in buflen. */

static bool put_service(struct sl_ctl *c, struct nlmsghdr *nlh, size_t len,
			const struct sl_cfg_service *cs, bool stats)
{
	struct sl_dp *dp = c->ops->dp(c->ctx);
	char vip[64];
	bool found;
	__u32 id = svc_id(dp, cs, &found);
	bool ok;

	sl_addr_format(&cs->vip, vip, sizeof(vip));
	ok = sl_put_str(nlh, len, SL_A_SERVICE, cs->name) &&
	     sl_put_str(nlh, len, SL_A_VIP, vip) &&
	     sl_put_uint(nlh, len, SL_A_PORT, ntohs(cs->vip.port)) &&
	     sl_put_str(nlh, len, SL_A_PROTO, NAME_OF(proto_names, cs->vip.proto)) &&
	     sl_put_str(nlh, len, SL_A_MODE, NAME_OF(mode_names, cs->mode)) &&
	     sl_put_str(nlh, len, SL_A_SCHED, NAME_OF(sched_names, cs->sched)) &&
	     sl_put_uint(nlh, len, SL_A_MAX_CONNS, cs->max_conns) &&
	     sl_put_uint(nlh, len, SL_A_MAGLEV_SIZE, cs->maglev_size) &&
	     sl_put_uint(nlh, len, SL_A_NR_BACKENDS, cs->nr_backends);
	if (ok && found) {
		struct sl_svc_live live = { 0 };
		int fd = map_fd(dp, dp->skel->maps.sl_svc_live);

		if (fd >= 0)
			bpf_map_lookup_elem(fd, &id, &live);
		ok = sl_put_uint(nlh, len, SL_A_ID, id) &&
		     sl_put_uint(nlh, len, SL_A_ACTIVE, live.active > 0 ? live.active : 0);
	}
	if (ok && stats) {
		__u64 s[sizeof(struct sl_svc_stats) / 8] = { 0 };

		if (found)
			percpu_sum(dp, map_fd(dp, dp->skel->maps.sl_svc_stats), id, s, sizeof(s) / 8);
		ok = sl_put_uint(nlh, len, SL_A_PACKETS, s[offsetof(struct sl_svc_stats, packets) / 8]) &&
		     sl_put_uint(nlh, len, SL_A_BYTES, s[offsetof(struct sl_svc_stats, bytes) / 8]) &&
		     sl_put_uint(nlh, len, SL_A_NEW_FLOWS, s[offsetof(struct sl_svc_stats, new_flows) / 8]);
	}
	return ok;
}

static struct sl_resil *resil_of(struct sl_ctl *c)
{
	return c->ops->resil ? c->ops->resil(c->ctx) : NULL;
}

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* A fixed char array that may lack its NUL, as a string. */
#define FIXED_STR(buf, arr) (snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(arr), arr), buf)

/* The resilience module's view of one backend: breaker and health state;
 * with stats, its counters as COUNTERS (NAME/COUNT entries). */
static bool put_resil(struct nlmsghdr *nlh, size_t len, const struct sl_resil_bk *rb, bool stats)
{
	const struct { const char *name; __u64 v; } counters[] = {
		{ "connect_refused", rb->refused }, { "connect_timeout", rb->timeouts },
		{ "icmp_unreachable", rb->icmp }, { "reset", rb->resets },
		{ "handshake", rb->handshakes }, { "reconciled", rb->reconciled },
	};
	char reason[sizeof(rb->reason) + 1], detail[sizeof(rb->check_detail) + 1];
	struct nlattr *outer, *inner;
	__u64 now = clock_ns(CLOCK_MONOTONIC);
	unsigned i;
	bool ok;

	ok = sl_put_str(nlh, len, SL_A_BREAKER, sl_brk_state_name(rb->state)) &&
	     sl_put_str(nlh, len, SL_A_BREAKER_MODE, sl_brk_mode_name(rb->mode)) &&
	     sl_put_str(nlh, len, SL_A_GATE, NAME_OF(gate_names, rb->dp)) &&
	     sl_put_uint(nlh, len, SL_A_CAPPED, !!rb->capped) &&
	     sl_put_uint(nlh, len, SL_A_PANIC, !!rb->panic) &&
	     sl_put_str(nlh, len, SL_A_BREAKER_REASON, FIXED_STR(reason, rb->reason)) &&
	     sl_put_uint(nlh, len, SL_A_TRIPS, rb->trips) &&
	     sl_put_uint(nlh, len, SL_A_TRIAL_TOKENS, rb->trial_tokens > 0 ? (__u32)rb->trial_tokens : 0) &&
	     sl_put_str(nlh, len, SL_A_HEALTH, sl_health_state_name(rb->health)) &&
	     sl_put_str(nlh, len, SL_A_CHECK, sl_check_type_name(rb->check_type));
	if (ok && rb->check_detail[0])
		ok = sl_put_str(nlh, len, SL_A_CHECK_DETAIL, FIXED_STR(detail, rb->check_detail));
	if (ok && rb->state_since_ns)
		ok = sl_put_uint(nlh, len, SL_A_STATE_AGE_MS,
				 now > rb->state_since_ns ? (now - rb->state_since_ns) / 1000000 : 0);
	if (!ok || !stats)
		return ok;
	outer = mnl_attr_nest_start_check(nlh, len, SL_A_COUNTERS);
	if (!outer)
		return false;
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		inner = mnl_attr_nest_start_check(nlh, len, SL_A_COUNTER);
		if (!inner || !sl_put_str(nlh, len, SL_A_NAME, counters[i].name) ||
		    !sl_put_uint(nlh, len, SL_A_COUNT, counters[i].v))
			return false;
		mnl_attr_nest_end(nlh, inner);
	}
	mnl_attr_nest_end(nlh, outer);
	return true;
}

static bool put_backend(struct sl_ctl *c, struct nlmsghdr *nlh, size_t len,
			const struct sl_cfg_service *cs, const struct sl_cfg_backend *cb, bool stats)
{
	struct sl_dp *dp = c->ops->dp(c->ctx);
	__u32 id = dp ? sl_dp_backend_id(dp, &cb->addr) : 0;
	const struct sl_backend *bk = id ? sl_dp_backend(dp, id) : NULL;
	const char *state = !bk ? "missing" : bk->flags & SL_BK_F_GONE ? "gone" : "active";
	struct sl_resil *rs = id ? resil_of(c) : NULL;
	struct sl_resil_bk rb;
	char addr[64];
	bool ok;

	sl_addr_format(&cb->addr, addr, sizeof(addr));
	ok = sl_put_str(nlh, len, SL_A_SERVICE, cs->name) &&
	     sl_put_str(nlh, len, SL_A_ADDR, addr) &&
	     sl_put_uint(nlh, len, SL_A_PORT, ntohs(cb->addr.port)) &&
	     sl_put_uint(nlh, len, SL_A_WEIGHT, cb->weight) &&
	     sl_put_uint(nlh, len, SL_A_MAX_CONNS, cb->max_conns) &&
	     sl_put_uint(nlh, len, SL_A_MAX_PENDING, cb->max_pending) &&
	     sl_put_str(nlh, len, SL_A_STATE, state);
	if (ok && bk) {
		struct sl_bk_live live = { 0 };
		int fd = map_fd(dp, dp->skel->maps.sl_bk_live);

		if (fd >= 0)
			bpf_map_lookup_elem(fd, &id, &live);
		ok = sl_put_uint(nlh, len, SL_A_ID, id) &&
		     sl_put_uint(nlh, len, SL_A_ACTIVE, live.active > 0 ? live.active : 0) &&
		     sl_put_uint(nlh, len, SL_A_PENDING, live.pending > 0 ? live.pending : 0);
	}
	if (ok && stats) {
		__u64 s[sizeof(struct sl_bk_stats) / 8] = { 0 };

		if (bk)
			percpu_sum(dp, map_fd(dp, dp->skel->maps.sl_bk_stats), id, s, sizeof(s) / 8);
#define BK(f) s[offsetof(struct sl_bk_stats, f) / 8]
		ok = sl_put_uint(nlh, len, SL_A_PACKETS, BK(packets)) &&
		     sl_put_uint(nlh, len, SL_A_BYTES, BK(bytes)) &&
		     sl_put_uint(nlh, len, SL_A_NEW_FLOWS, BK(new_flows)) &&
		     sl_put_uint(nlh, len, SL_A_CONN_REFUSED, BK(conn_refused)) &&
		     sl_put_uint(nlh, len, SL_A_CONN_TIMEOUT, BK(conn_timeout)) &&
		     sl_put_uint(nlh, len, SL_A_RESETS, BK(resets));
#undef BK
	}
	/* the breaker's and the health check's view, when there is one */
	if (ok && rs) {
		memset(&rb, 0, sizeof(rb));
		if (!sl_resil_backend(rs, id, &rb))
			ok = put_resil(nlh, len, &rb, stats);
	}
	return ok;
}

/* ---- dumps ---------------------------------------------------------------- */

static struct dump *dump_slot(struct sl_ctl *c, struct req *r, uintptr_t gen, bool *cont)
{
	struct dump *d, *oldest = &c->dumps[0];

	for (d = c->dumps; d < c->dumps + CTL_DUMPS; d++)
		if (d->used && d->portid == r->portid && d->seq == r->nlh->nlmsg_seq && d->cmd == r->cmd) {
			*cont = true;
			d->stamp = ++c->stamp;
			return d;
		}
	for (d = c->dumps; d < c->dumps + CTL_DUMPS; d++) {
		if (!d->used) {
			oldest = d;
			break;
		}
		if (d->stamp < oldest->stamp)
			oldest = d;
	}
	*cont = false;
	memset(oldest, 0, sizeof(*oldest));
	oldest->used = true;
	oldest->portid = r->portid;
	oldest->seq = r->nlh->nlmsg_seq;
	oldest->cmd = r->cmd;
	oldest->gen = gen;
	oldest->stamp = ++c->stamp;
	return oldest;
}

static uintptr_t config_gen(const struct sl_config *cfg)
{
	return (uintptr_t)cfg ^ (uintptr_t)cfg->hash;
}

/*
 * One datagram of a dump: as many objects as fit from the saved position,
 * then NLMSG_DONE if the table is finished. The objects are a service's
 * (SERVICE_GET) or a backend's (BACKEND_GET, optionally of one service).
 */
static int do_dump(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const char *only = r->tb[SL_A_SERVICE] ? sl_get_str(r->tb[SL_A_SERVICE]) : NULL;
	bool stats = r->tb[SL_A_STATS] && sl_get_uint(r->tb[SL_A_STATS]);
	size_t used = 0, room = SL_PROTO_BATCH - MNL_NLMSG_HDRLEN - 4;   /* keep room for DONE */
	uintptr_t gen = config_gen(cfg);
	bool cont, intr;
	struct dump *d = dump_slot(c, r, gen, &cont);
	struct nlmsghdr *nlh;
	unsigned n = 0;

	if (only && !sl_config_find_service(cfg, only)) {
		d->used = false;
		return refuse(r, -ENOENT, "no service named %s", only);
	}
	intr = d->gen != gen;
	for (; d->svc < cfg->nr_services; d->svc++, d->bk = 0) {
		const struct sl_cfg_service *cs = &cfg->services[d->svc];

		if (only && strcmp(cs->name, only))
			continue;
		for (;;) {
			bool ok;

			if (r->cmd == SL_CMD_BACKEND_GET && d->bk >= cs->nr_backends)
				break;
			nlh = sl_msg_start(c->tx + used, r->cmd, NLM_F_MULTI | (intr ? NLM_F_DUMP_INTR : 0),
					   r->nlh->nlmsg_seq);
			nlh->nlmsg_pid = c->portid;
			if (r->cmd == SL_CMD_SERVICE_GET)
				ok = put_service(c, nlh, room - used, cs, stats);
			else
				ok = put_backend(c, nlh, room - used, cs, &cs->backends[d->bk], stats);
			if (!ok) {
				if (!n) {
					d->used = false;
					return refuse(r, -EMSGSIZE, "one object does not fit in %u bytes",
						      SL_PROTO_BATCH);
				}
				send_to(c, r->portid, c->tx, used);     /* the rest on the next request */
				return 0;
			}
			used += nlh->nlmsg_len;
			n++;
			if (r->cmd == SL_CMD_SERVICE_GET)
				break;
			d->bk++;
		}
	}
	nlh = mnl_nlmsg_put_header(c->tx + used);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI | (intr ? NLM_F_DUMP_INTR : 0);
	nlh->nlmsg_seq = r->nlh->nlmsg_seq;
	nlh->nlmsg_pid = c->portid;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
	used += nlh->nlmsg_len;
	send_to(c, r->portid, c->tx, used);
	d->used = false;
	(void)cont;
	return 0;
}

/* ---- commands ------------------------------------------------------------- */

static struct nlmsghdr *reply_start(struct sl_ctl *c, struct req *r)
{
	struct nlmsghdr *nlh = sl_msg_start(c->tx, r->cmd, 0, r->nlh->nlmsg_seq);

	nlh->nlmsg_pid = c->portid;
	return nlh;
}

static int cmd_version(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	struct nlmsghdr *nlh = reply_start(c, r);

	if (!sl_put_str(nlh, CTL_BUF, SL_A_VERSION, c->ops->version) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_PROTO_VERSION, SL_PROTO_VERSION) ||
	    !sl_put_str(nlh, CTL_BUF, SL_A_CONFIG_FILE, cfg->file) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_CONFIG_HASH, cfg->hash) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_NR_SERVICES, cfg->nr_services))
		return refuse(r, -EMSGSIZE, "reply too large");
	send_to(c, r->portid, c->tx, nlh->nlmsg_len);
	return 0;
}

static int cmd_service_get(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const struct sl_cfg_service *cs;
	struct nlmsghdr *nlh;

	if (r->dump)
		return do_dump(c, r);
	if (!r->tb[SL_A_SERVICE])
		return refuse(r, -EINVAL, "command SERVICE_GET needs attribute SERVICE, or NLM_F_DUMP");
	cs = sl_config_find_service(cfg, sl_get_str(r->tb[SL_A_SERVICE]));
	if (!cs)
		return refuse(r, -ENOENT, "no service named %s", sl_get_str(r->tb[SL_A_SERVICE]));
	nlh = reply_start(c, r);
	if (!put_service(c, nlh, SL_PROTO_BATCH, cs, r->tb[SL_A_STATS] && sl_get_uint(r->tb[SL_A_STATS])))
		return refuse(r, -EMSGSIZE, "reply too large");
	send_to(c, r->portid, c->tx, nlh->nlmsg_len);
	return 0;
}

/* The backend SERVICE, ADDR [, PORT] name in the running config. */
static int find_backend(const struct sl_config *cfg, struct req *r,
			const struct sl_cfg_service **pcs, unsigned *pidx)
{
	const char *name = sl_get_str(r->tb[SL_A_SERVICE]), *text = sl_get_str(r->tb[SL_A_ADDR]);
	const struct sl_cfg_service *cs = sl_config_find_service(cfg, name);
	struct sl_l4addr a = { 0 };
	unsigned b, hits = 0;

	if (!cs)
		return refuse(r, -ENOENT, "no service named %s", name);
	if (sl_addr_parse(text, &a)) {
		refuse(r, -EINVAL, "attribute ADDR: '%s' is not an IPv4 or IPv6 address", text);
		r->e.off = (unsigned)((const char *)r->tb[SL_A_ADDR] - (const char *)r->nlh);
		return r->e.err;
	}
	for (b = 0; b < cs->nr_backends; b++) {
		const struct sl_cfg_backend *cb = &cs->backends[b];

		if (cb->addr.family != a.family || memcmp(cb->addr.addr, a.addr, sizeof(a.addr)))
			continue;
		if (r->tb[SL_A_PORT] && ntohs(cb->addr.port) != sl_get_uint(r->tb[SL_A_PORT]))
			continue;
		*pidx = b;
		hits++;
	}
	if (!hits)
		return refuse(r, -ENOENT, "service %s has no backend %s%s", name, text,
			      r->tb[SL_A_PORT] ? " on that port" : "");
	if (hits > 1)
		return refuse(r, -EINVAL, "service %s has %u backends at %s: give PORT", name, hits, text);
	*pcs = cs;
	return 0;
}

static int cmd_backend_get(struct sl_ctl *c, struct req *r)
{
	const struct sl_cfg_service *cs;
	struct nlmsghdr *nlh;
	unsigned b = 0;
	int rc;

	if (r->dump)
		return do_dump(c, r);
	if (!r->tb[SL_A_SERVICE] || !r->tb[SL_A_ADDR])
		return refuse(r, -EINVAL, "command BACKEND_GET needs attributes SERVICE and ADDR, or NLM_F_DUMP");
	rc = find_backend(c->ops->config(c->ctx), r, &cs, &b);
	if (rc)
		return rc;
	nlh = reply_start(c, r);
	if (!put_backend(c, nlh, SL_PROTO_BATCH, cs, &cs->backends[b],
			 r->tb[SL_A_STATS] && sl_get_uint(r->tb[SL_A_STATS])))
		return refuse(r, -EMSGSIZE, "reply too large");
	send_to(c, r->portid, c->tx, nlh->nlmsg_len);
	return 0;
}

struct sl_config *sl_ctl_config_dup(const struct sl_config *c)
{
	struct sl_config *n = malloc(sizeof(*n));
	unsigned s;

	if (!n)
		return NULL;
	*n = *c;
	n->services = calloc(c->nr_services ? c->nr_services : 1, sizeof(*n->services));
	if (!n->services) {
		free(n);
		return NULL;
	}
	for (s = 0; s < c->nr_services; s++) {
		const struct sl_cfg_service *cs = &c->services[s];

		n->services[s] = *cs;
		n->services[s].backends = malloc((cs->nr_backends ? cs->nr_backends : 1) *
						 sizeof(*cs->backends));
		if (!n->services[s].backends) {
			n->nr_services = s;
			sl_config_free(n);
			return NULL;
		}
		if (cs->nr_backends)
			memcpy(n->services[s].backends, cs->backends,
			       cs->nr_backends * sizeof(*cs->backends));
	}
	return n;
}

/* A runtime change: n (a changed copy of the running config, ours to
 * free on failure) is validated with the file's rules and applied as the
 * running config. The config file is left alone: RELOAD returns to it. */
static int runtime_commit(struct sl_ctl *c, struct req *r, struct sl_config *n, const char *what)
{
	char err[512] = "";
	int rc;

	rc = sl_config_validate(n, err, sizeof(err));
	if (rc) {
		sl_config_free(n);
		return refuse(r, rc, "%s", err[0] ? err : "invalid change");
	}
	rc = c->ops->replace(c->ctx, n, err, sizeof(err));
	if (rc) {
		sl_config_free(n);
		return refuse(r, rc < 0 ? rc : -EIO, "%s", err);
	}
	sl_log(LOG_INFO, "runtime change by uid %d pid %d: %s (until the next reload)",
	       c->cur_cred ? (int)c->cur_cred->uid : -1, c->cur_cred ? (int)c->cur_cred->pid : -1, what);
	return 0;
}

static unsigned attr_off(const struct req *r, unsigned a)
{
	return (unsigned)((const char *)r->tb[a] - (const char *)r->nlh);
}

static int cmd_backend_set(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const struct sl_cfg_service *cs;
	struct sl_config *n;
	__u32 old, weight = (__u32)sl_get_uint(r->tb[SL_A_WEIGHT]);
	unsigned s, b = 0;
	char what[160], addr[64];
	int rc;

	rc = find_backend(cfg, r, &cs, &b);
	if (rc)
		return rc;
	s = (unsigned)(cs - cfg->services);
	old = cs->backends[b].weight;
	n = sl_ctl_config_dup(cfg);
	if (!n)
		return refuse(r, -ENOMEM, "out of memory");
	n->services[s].backends[b].weight = weight;
	sl_addr_format(&cs->backends[b].addr, addr, sizeof(addr));
	snprintf(what, sizeof(what), "service %s backend %s port %u weight %u -> %u",
		 cs->name, addr, ntohs(cs->backends[b].addr.port), old, weight);
	return runtime_commit(c, r, n, what);
}

/* An enumerated attribute's text through config.c's choices. */
static int choice_attr(struct req *r, unsigned a, const char *setting, __u8 *v)
{
	char err[256];

	if (!r->tb[a])
		return 0;
	if (sl_config_choice(setting, sl_get_str(r->tb[a]), v, err, sizeof(err))) {
		refuse(r, -EINVAL, "attribute %s: %s", sl_attr_name(a), err);
		r->e.off = attr_off(r, a);
		return r->e.err;
	}
	return 0;
}

static int cmd_service_add(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const char *name = sl_get_str(r->tb[SL_A_SERVICE]), *vip = sl_get_str(r->tb[SL_A_VIP]);
	struct sl_cfg_service sv = { 0 }, *ns;
	struct sl_config *n;
	__u8 proto = IPPROTO_TCP;
	char what[160];
	int rc;

	if (sl_config_find_service(cfg, name))
		return refuse(r, -EEXIST, "service %s exists already", name);
	if ((rc = choice_attr(r, SL_A_PROTO, "proto", &proto)))
		return rc;
	sl_config_service_defaults(&sv, proto);
	if ((rc = choice_attr(r, SL_A_MODE, "mode", &sv.mode)) ||
	    (rc = choice_attr(r, SL_A_SCHED, "scheduler", &sv.sched)))
		return rc;
	snprintf(sv.name, sizeof(sv.name), "%s", name);
	if (sl_addr_parse(vip, &sv.vip)) {
		refuse(r, -EINVAL, "attribute VIP: '%s' is not an IPv4 or IPv6 address", vip);
		r->e.off = attr_off(r, SL_A_VIP);
		return r->e.err;
	}
	sv.vip.port = htons((__u16)sl_get_uint(r->tb[SL_A_PORT]));
	sv.vip.proto = proto;
	if (r->tb[SL_A_MAX_CONNS])
		sv.max_conns = (__u32)sl_get_uint(r->tb[SL_A_MAX_CONNS]);
	n = sl_ctl_config_dup(cfg);
	ns = n ? realloc(n->services, (n->nr_services + 1) * sizeof(*ns)) : NULL;
	if (!ns) {
		sl_config_free(n);
		return refuse(r, -ENOMEM, "out of memory");
	}
	n->services = ns;
	n->services[n->nr_services++] = sv;
	snprintf(what, sizeof(what), "service %s added at %s port %u/%s", name, vip,
		 ntohs(sv.vip.port), proto == IPPROTO_UDP ? "udp" : "tcp");
	return runtime_commit(c, r, n, what);
}

static int cmd_service_del(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const char *name = sl_get_str(r->tb[SL_A_SERVICE]);
	const struct sl_cfg_service *cs = sl_config_find_service(cfg, name);
	struct sl_config *n;
	unsigned s;
	char what[160];

	if (!cs)
		return refuse(r, -ENOENT, "no service named %s", name);
	s = (unsigned)(cs - cfg->services);
	n = sl_ctl_config_dup(cfg);
	if (!n)
		return refuse(r, -ENOMEM, "out of memory");
	free(n->services[s].backends);
	memmove(&n->services[s], &n->services[s + 1], (n->nr_services - s - 1) * sizeof(*n->services));
	n->nr_services--;
	snprintf(what, sizeof(what), "service %s removed (%u backends drain)", name, cs->nr_backends);
	return runtime_commit(c, r, n, what);
}

static int cmd_backend_add(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const char *name = sl_get_str(r->tb[SL_A_SERVICE]), *text = sl_get_str(r->tb[SL_A_ADDR]);
	const struct sl_cfg_service *cs = sl_config_find_service(cfg, name);
	struct sl_cfg_backend bk = { .weight = 1 }, *nb;
	struct sl_cfg_service *ns;
	struct sl_config *n;
	unsigned s, b;
	char what[160];

	if (!cs)
		return refuse(r, -ENOENT, "no service named %s", name);
	if (sl_addr_parse(text, &bk.addr)) {
		refuse(r, -EINVAL, "attribute ADDR: '%s' is not an IPv4 or IPv6 address", text);
		r->e.off = attr_off(r, SL_A_ADDR);
		return r->e.err;
	}
	bk.addr.port = htons((__u16)sl_get_uint(r->tb[SL_A_PORT]));
	bk.addr.proto = cs->vip.proto;
	if (r->tb[SL_A_WEIGHT])
		bk.weight = (__u32)sl_get_uint(r->tb[SL_A_WEIGHT]);
	if (r->tb[SL_A_MAX_CONNS])
		bk.max_conns = (__u32)sl_get_uint(r->tb[SL_A_MAX_CONNS]);
	if (r->tb[SL_A_MAX_PENDING])
		bk.max_pending = (__u32)sl_get_uint(r->tb[SL_A_MAX_PENDING]);
	for (b = 0; b < cs->nr_backends; b++)
		if (!memcmp(&cs->backends[b].addr, &bk.addr, sizeof(bk.addr)))
			return refuse(r, -EEXIST, "service %s has backend %s port %u already", name, text,
				      ntohs(bk.addr.port));
	s = (unsigned)(cs - cfg->services);
	n = sl_ctl_config_dup(cfg);
	if (!n)
		return refuse(r, -ENOMEM, "out of memory");
	ns = &n->services[s];
	nb = realloc(ns->backends, (ns->nr_backends + 1) * sizeof(*nb));
	if (!nb) {
		sl_config_free(n);
		return refuse(r, -ENOMEM, "out of memory");
	}
	ns->backends = nb;
	ns->backends[ns->nr_backends++] = bk;
	snprintf(what, sizeof(what), "service %s backend %s port %u added, weight %u", name, text,
		 ntohs(bk.addr.port), bk.weight);
	return runtime_commit(c, r, n, what);
}

static int cmd_backend_del(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const struct sl_cfg_service *cs;
	struct sl_cfg_service *ns;
	struct sl_config *n;
	unsigned s, b = 0;
	char what[160], addr[64];
	int rc;

	rc = find_backend(cfg, r, &cs, &b);
	if (rc)
		return rc;
	s = (unsigned)(cs - cfg->services);
	n = sl_ctl_config_dup(cfg);
	if (!n)
		return refuse(r, -ENOMEM, "out of memory");
	ns = &n->services[s];
	memmove(&ns->backends[b], &ns->backends[b + 1], (ns->nr_backends - b - 1) * sizeof(*ns->backends));
	ns->nr_backends--;
	sl_addr_format(&cs->backends[b].addr, addr, sizeof(addr));
	snprintf(what, sizeof(what), "service %s backend %s port %u removed (its flows drain)",
		 cs->name, addr, ntohs(cs->backends[b].addr.port));
	return runtime_commit(c, r, n, what);
}

/* A backend's breaker mode: the resilience module's state, not the
 * config's, so no runtime_commit (RELOAD does not undo it). */
static int cmd_breaker_set(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	struct sl_dp *dp = c->ops->dp(c->ctx);
	struct sl_resil *rs = resil_of(c);
	const struct sl_cfg_service *cs;
	const struct sl_cfg_backend *cb;
	char err[256] = "", addr[64];
	unsigned b = 0;
	__u32 id;
	int mode, rc;

	mode = sl_breaker_mode_parse(r->nlh, r->tb[SL_A_BREAKER_MODE], &r->e);
	if (mode < 0)
		return mode;
	if (!rs)
		return refuse(r, -EOPNOTSUPP, "breakers are not running in this sluiced (no resilience module)");
	rc = find_backend(cfg, r, &cs, &b);
	if (rc)
		return rc;
	cb = &cs->backends[b];
	sl_addr_format(&cb->addr, addr, sizeof(addr));
	id = dp ? sl_dp_backend_id(dp, &cb->addr) : 0;
	if (!id)
		return refuse(r, -ENOENT, "service %s backend %s port %u has no id in the data path (yet)",
			      cs->name, addr, ntohs(cb->addr.port));
	rc = sl_resil_set_mode(rs, id, (enum sl_brk_mode)mode, err, sizeof(err));
	if (rc)
		return refuse(r, rc < 0 ? rc : -EIO, "service %s backend %s port %u: %s", cs->name, addr,
			      ntohs(cb->addr.port), err[0] ? err : strerror(rc < 0 ? -rc : EIO));
	sl_log(LOG_INFO, "breaker of service %s backend %s port %u set to %s by uid %d pid %d",
	       cs->name, addr, ntohs(cb->addr.port), sl_breaker_modes[mode],
	       c->cur_cred ? (int)c->cur_cred->uid : -1, c->cur_cred ? (int)c->cur_cred->pid : -1);
	return 0;
}

/* ---- events --------------------------------------------------------------- */

static int cmd_subscribe(struct sl_ctl *c, struct req *r)
{
	unsigned i, free_slot = SL_PROTO_SUBSCRIBERS;

	for (i = 0; i < SL_PROTO_SUBSCRIBERS; i++) {
		if (c->subs[i] == r->portid)
			return 0;
		if (!c->subs[i] && free_slot == SL_PROTO_SUBSCRIBERS)
			free_slot = i;
	}
	if (free_slot == SL_PROTO_SUBSCRIBERS)
		return refuse(r, -ENOSPC, "%u subscribers already: join the multicast group (root) instead",
			      SL_PROTO_SUBSCRIBERS);
	c->subs[free_slot] = r->portid;
	sl_log(LOG_INFO, "ctl: port %u (uid %d pid %d) subscribed to events", r->portid,
	       c->cur_cred ? (int)c->cur_cred->uid : -1, c->cur_cred ? (int)c->cur_cred->pid : -1);
	return 0;
}

static void ev_flush(struct sl_ctl *c)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (SL_PROTO_MCGROUP - 1) };
	unsigned i;

	if (!c->ev_used)
		return;
	/* ECONNREFUSED: no socket at port 0, although the members got it */
	if (sendto(sl_ctl_fd(c), c->ev, c->ev_used, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != ECONNREFUSED && errno != ESRCH)
		sl_log(LOG_WARNING, "ctl: events to group %u: %s", SL_PROTO_MCGROUP, strerror(errno));
	sa.nl_groups = 0;
	for (i = 0; i < SL_PROTO_SUBSCRIBERS; i++) {
		if (!c->subs[i])
			continue;
		sa.nl_pid = c->subs[i];
		if (sendto(sl_ctl_fd(c), c->ev, c->ev_used, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) >= 0)
			continue;
		if (errno == ECONNREFUSED) {
			sl_log(LOG_INFO, "ctl: subscriber port %u is gone: dropped", c->subs[i]);
			c->subs[i] = 0;
		} else {
			sl_log(LOG_WARNING, "ctl: events to subscriber port %u lost: %s", c->subs[i], strerror(errno));
		}
	}
	c->ev_used = 0;
}

/* Start an event in ev[] (flushed first when it may not fit); NULL only
 * if nothing fits at all. time_ns: CLOCK_REALTIME, 0 for now. */
static struct nlmsghdr *ev_start_at(struct sl_ctl *c, const char *event, const char *cause, __u64 time_ns)
{
	struct nlmsghdr *nlh;
	size_t room;

	if (c->ev_used + 4096 > SL_PROTO_BATCH)
		ev_flush(c);
	room = sizeof(c->ev) - c->ev_used;
	nlh = sl_msg_start(c->ev + c->ev_used, SL_CMD_EVENT, 0, ++c->ev_seq);
	nlh->nlmsg_pid = c->portid;
	if (!sl_put_str(nlh, room, SL_A_EVENT, event) ||
	    !sl_put_uint(nlh, room, SL_A_TIME_NS, time_ns ? time_ns : clock_ns(CLOCK_REALTIME)) ||
	    !sl_put_str(nlh, room, SL_A_CAUSE, cause))
		return NULL;
	if (c->cur_cred && (!sl_put_uint(nlh, room, SL_A_UID, c->cur_cred->uid) ||
			    !sl_put_uint(nlh, room, SL_A_PID, (__u32)c->cur_cred->pid)))
		return NULL;
	return nlh;
}

static struct nlmsghdr *ev_start(struct sl_ctl *c, const char *event, const char *cause)
{
	return ev_start_at(c, event, cause, 0);
}

static void ev_end(struct sl_ctl *c, struct nlmsghdr *nlh, bool ok)
{
	if (nlh && ok)
		c->ev_used += nlh->nlmsg_len;
	else
		sl_log(LOG_WARNING, "ctl: an event did not fit in a message: not sent");
}

static void ev_service(struct sl_ctl *c, const char *event, const char *cause,
		       const struct sl_cfg_service *cs)
{
	struct nlmsghdr *nlh = ev_start(c, event, cause);
	size_t room = sizeof(c->ev) - c->ev_used;
	char vip[64];

	sl_addr_format(&cs->vip, vip, sizeof(vip));
	ev_end(c, nlh, nlh && sl_put_str(nlh, room, SL_A_SERVICE, cs->name) &&
	       sl_put_str(nlh, room, SL_A_VIP, vip) &&
	       sl_put_uint(nlh, room, SL_A_PORT, ntohs(cs->vip.port)) &&
	       sl_put_str(nlh, room, SL_A_PROTO, NAME_OF(proto_names, cs->vip.proto)));
}

static void ev_backend(struct sl_ctl *c, const char *event, const char *cause,
		       const struct sl_cfg_service *cs, const struct sl_cfg_backend *cb)
{
	struct nlmsghdr *nlh = ev_start(c, event, cause);
	size_t room = sizeof(c->ev) - c->ev_used;
	char addr[64];

	sl_addr_format(&cb->addr, addr, sizeof(addr));
	ev_end(c, nlh, nlh && sl_put_str(nlh, room, SL_A_SERVICE, cs->name) &&
	       sl_put_str(nlh, room, SL_A_ADDR, addr) &&
	       sl_put_uint(nlh, room, SL_A_PORT, ntohs(cb->addr.port)) &&
	       sl_put_uint(nlh, room, SL_A_WEIGHT, cb->weight));
}

static bool l4_same(const struct sl_l4addr *a, const struct sl_l4addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static const struct sl_config *cmp_cfg;   /* for the qsort comparators below */

static int cmp_svc_name(const void *a, const void *b)
{
	return strcmp(cmp_cfg->services[*(const unsigned *)a].name,
		      cmp_cfg->services[*(const unsigned *)b].name);
}

static int cmp_bk(const void *a, const void *b)
{
	return memcmp(&((const struct sl_cfg_backend *)a)->addr, &((const struct sl_cfg_backend *)b)->addr,
		      sizeof(struct sl_l4addr));
}

/* Services of cfg sorted by name (indices), NULL when empty or no memory. */
static unsigned *by_name(const struct sl_config *cfg)
{
	unsigned *idx = cfg && cfg->nr_services ? malloc(cfg->nr_services * sizeof(*idx)) : NULL;

	if (!idx)
		return NULL;
	for (unsigned i = 0; i < cfg->nr_services; i++)
		idx[i] = i;
	cmp_cfg = cfg;
	qsort(idx, cfg->nr_services, sizeof(*idx), cmp_svc_name);
	return idx;
}

/* Backend events of one service present in both configs: the same list in
 * the same order (what a reload mostly sees) costs one pass; otherwise
 * sorted copies are merged. */
static void diff_backends(struct sl_ctl *c, const char *cause, const struct sl_cfg_service *o,
			  const struct sl_cfg_service *n)
{
	struct sl_cfg_backend *a, *b;
	unsigned i, j;

	if (o->nr_backends == n->nr_backends) {
		for (i = 0; i < o->nr_backends && l4_same(&o->backends[i].addr, &n->backends[i].addr); i++)
			;
		if (i == o->nr_backends)
			return;
	}
	a = malloc((o->nr_backends + 1) * sizeof(*a));
	b = malloc((n->nr_backends + 1) * sizeof(*b));
	if (a && b) {
		if (o->nr_backends) {
			memcpy(a, o->backends, o->nr_backends * sizeof(*a));
			qsort(a, o->nr_backends, sizeof(*a), cmp_bk);
		}
		if (n->nr_backends) {
			memcpy(b, n->backends, n->nr_backends * sizeof(*b));
			qsort(b, n->nr_backends, sizeof(*b), cmp_bk);
		}
		for (i = 0, j = 0; i < o->nr_backends || j < n->nr_backends;) {
			int d = i == o->nr_backends ? 1 : j == n->nr_backends ? -1 : cmp_bk(&a[i], &b[j]);

			if (d < 0)
				ev_backend(c, "backend_removed", cause, o, &a[i]);
			else if (d > 0)
				ev_backend(c, "backend_added", cause, n, &b[j]);
			i += d <= 0;
			j += d >= 0;
		}
	}
	free(a);
	free(b);
}

void sl_ctl_applied(struct sl_ctl *c, const struct sl_config *old, const struct sl_config *cur,
		    const char *cause)
{
	unsigned *oi, *ni, no = old ? old->nr_services : 0, nn = cur->nr_services, i = 0, j = 0, k;
	struct nlmsghdr *nlh;
	size_t room;

	if (!c)
		return;
	oi = by_name(old);
	ni = by_name(cur);
	if ((no && !oi) || (nn && !ni)) {
		sl_log(LOG_WARNING, "ctl: out of memory: events of this change not sent");
		goto applied;
	}
	while (i < no || j < nn) {
		const struct sl_cfg_service *o = i < no ? &old->services[oi[i]] : NULL;
		const struct sl_cfg_service *n = j < nn ? &cur->services[ni[j]] : NULL;
		int d = !o ? 1 : !n ? -1 : strcmp(o->name, n->name);

		if (d < 0) {
			for (k = 0; k < o->nr_backends; k++)
				ev_backend(c, "backend_removed", cause, o, &o->backends[k]);
			ev_service(c, "service_removed", cause, o);
		} else if (d > 0) {
			ev_service(c, "service_added", cause, n);
			for (k = 0; k < n->nr_backends; k++)
				ev_backend(c, "backend_added", cause, n, &n->backends[k]);
		} else {
			diff_backends(c, cause, o, n);
		}
		i += d <= 0;
		j += d >= 0;
	}
applied:
	free(oi);
	free(ni);
	nlh = ev_start(c, "config_applied", cause);
	room = sizeof(c->ev) - c->ev_used;
	ev_end(c, nlh, nlh && sl_put_str(nlh, room, SL_A_CONFIG_FILE, cur->file) &&
	       sl_put_uint(nlh, room, SL_A_CONFIG_HASH, cur->hash) &&
	       sl_put_uint(nlh, room, SL_A_NR_SERVICES, cur->nr_services));
	ev_flush(c);
}

/* "198.19.0.11:80" or "[2001:2::11]:80" into address and port; false
 * (addr: the text as it is) when there is no port. */
static bool split_backend(const char *text, char *addr, size_t addrlen, unsigned *port)
{
	const char *colon = strrchr(text, ':');
	const char *start = text, *end = colon;
	char *stop;
	unsigned long p;

	snprintf(addr, addrlen, "%s", text);
	if (!colon)
		return false;
	if (*text == '[') {
		if (colon == text || colon[-1] != ']')
			return false;
		start = text + 1;
		end = colon - 1;
	} else if (strchr(text, ':') != colon) {
		return false;       /* a bare IPv6 address */
	}
	errno = 0;
	p = strtoul(colon + 1, &stop, 10);
	if (errno || stop == colon + 1 || *stop || p == 0 || p > 65535 || end <= start)
		return false;
	snprintf(addr, addrlen, "%.*s", (int)(end - start), start);
	*port = (unsigned)p;
	return true;
}

void sl_ctl_publish_resil(struct sl_ctl *c, const struct sl_resil_event *e)
{
	const char *cause = !c || !c->cur_cred ? "automatic" : c->cur_cmd == SL_CMD_RELOAD ? "reload" : "runtime";
	__u64 mono, rt;
	struct nlmsghdr *nlh;
	char addr[64];
	unsigned port = 0;
	bool has_port;
	size_t room;

	if (!c || !e)
		return;
	/* the transition's own time, on the clock events carry */
	mono = clock_ns(CLOCK_MONOTONIC);
	rt = clock_ns(CLOCK_REALTIME);
	if (e->at_ns && e->at_ns <= mono && mono - e->at_ns < rt)
		rt -= mono - e->at_ns;
	has_port = split_backend(e->backend ? e->backend : "", addr, sizeof(addr), &port);
	nlh = ev_start_at(c, e->what && *e->what ? e->what : "breaker", cause, rt);
	room = sizeof(c->ev) - c->ev_used;
	ev_end(c, nlh, nlh && sl_put_str(nlh, room, SL_A_SERVICE, e->service ? e->service : "") &&
	       sl_put_str(nlh, room, SL_A_ADDR, addr) &&
	       (!has_port || sl_put_uint(nlh, room, SL_A_PORT, port)) &&
	       sl_put_uint(nlh, room, SL_A_ID, e->bk_id) &&
	       sl_put_str(nlh, room, SL_A_FROM, e->from ? e->from : "") &&
	       sl_put_str(nlh, room, SL_A_TO, e->to ? e->to : "") &&
	       sl_put_str(nlh, room, SL_A_SIGNAL, e->signal ? e->signal : "") &&
	       sl_put_str(nlh, room, SL_A_WHY, e->reason ? e->reason : "") &&
	       sl_put_uint(nlh, room, SL_A_ENFORCED, !!e->enforced));
	ev_flush(c);
}

static int cmd_reload(struct sl_ctl *c, struct req *r)
{
	char err[512] = "";
	int rc = c->ops->reload(c->ctx, err, sizeof(err));

	if (rc)
		return refuse(r, rc < 0 ? rc : -EIO, "%s", err[0] ? err : "reload failed");
	return 0;
}

static int cmd_stats_get(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	struct sl_dp *dp = c->ops->dp(c->ctx);
	struct nlmsghdr *nlh = reply_start(c, r);
	__u64 tot[4] = { 0 }, s[sizeof(struct sl_svc_stats) / 8];
	struct nlattr *outer, *inner;
	unsigned i, k;
	bool found;

	for (i = 0; i < cfg->nr_services; i++) {
		__u32 id = svc_id(dp, &cfg->services[i], &found);

		if (!found)
			continue;
		percpu_sum(dp, map_fd(dp, dp->skel->maps.sl_svc_stats), id, s, sizeof(s) / 8);
		for (k = 0; k < 4; k++)
			tot[k] += s[k];
	}
	if (!sl_put_uint(nlh, CTL_BUF, SL_A_NR_SERVICES, cfg->nr_services) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_PACKETS, tot[offsetof(struct sl_svc_stats, packets) / 8]) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_BYTES, tot[offsetof(struct sl_svc_stats, bytes) / 8]) ||
	    !sl_put_uint(nlh, CTL_BUF, SL_A_NEW_FLOWS, tot[offsetof(struct sl_svc_stats, new_flows) / 8]))
		return refuse(r, -EMSGSIZE, "reply too large");
	outer = mnl_attr_nest_start_check(nlh, CTL_BUF, SL_A_REASONS);
	if (!outer)
		return refuse(r, -EMSGSIZE, "reply too large");
	for (i = 0; i < SL_R_MAX; i++) {
		__u64 n = 0;

		percpu_sum(dp, dp ? map_fd(dp, dp->skel->maps.sl_reasons) : -1, i, &n, 1);
		inner = mnl_attr_nest_start_check(nlh, CTL_BUF, SL_A_REASON);
		if (!inner || !sl_put_str(nlh, CTL_BUF, SL_A_NAME, reason_names[i]) ||
		    !sl_put_uint(nlh, CTL_BUF, SL_A_COUNT, n))
			return refuse(r, -EMSGSIZE, "reply too large");
		mnl_attr_nest_end(nlh, inner);
	}
	mnl_attr_nest_end(nlh, outer);
	send_to(c, r->portid, c->tx, nlh->nlmsg_len);
	return 0;
}

static int (*const handlers[SL_CMD_MAX])(struct sl_ctl *, struct req *) = {
	[SL_CMD_VERSION]     = cmd_version,
	[SL_CMD_SERVICE_GET] = cmd_service_get,
	[SL_CMD_BACKEND_GET] = cmd_backend_get,
	[SL_CMD_BACKEND_SET] = cmd_backend_set,
	[SL_CMD_RELOAD]      = cmd_reload,
	[SL_CMD_STATS_GET]   = cmd_stats_get,
	[SL_CMD_SERVICE_ADD] = cmd_service_add,
	[SL_CMD_SERVICE_DEL] = cmd_service_del,
	[SL_CMD_BACKEND_ADD] = cmd_backend_add,
	[SL_CMD_BACKEND_DEL] = cmd_backend_del,
	[SL_CMD_SUBSCRIBE]   = cmd_subscribe,
	[SL_CMD_BREAKER_SET] = cmd_breaker_set,
};

/* ---- requests ------------------------------------------------------------- */

/* Is the process with these credentials in group gid? Its supplementary
 * groups are read from /proc/PID/status (the kernel's view of that very
 * process, as for file access), after checking that PID still has the
 * sender's real uid: a pid reused in between by another user's process
 * gives no right. */
static bool proc_in_group(const struct ucred *cred, __u32 gid)
{
	char path[64], line[4096];
	bool uid_ok = false, in = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;
		char *p, *end;

		if (!strncmp(line, "Uid:", 4)) {
			uid_ok = strtoul(line + 4, NULL, 10) == cred->uid;
		} else if (!strncmp(line, "Groups:", 7)) {
			for (p = line + 7;; p = end) {
				while (isspace((unsigned char)*p))
					p++;
				if (!*p)
					break;
				v = strtoul(p, &end, 10);
				if (end == p)
					break;
				if (v == gid)
					in = true;
			}
		}
	}
	fclose(f);
	return uid_ok && in;
}

/* Mutating commands: uid 0, or the config's control_group as the
 * sender's real gid or one of its supplementary groups. */
static bool authorised(const struct sl_config *cfg, const struct ucred *cred)
{
	if (!cred)
		return false;
	if (cred->uid == 0)
		return true;
	if (!cfg->control_group[0])
		return false;
	return cred->gid == cfg->control_gid || proc_in_group(cred, cfg->control_gid);
}

static void handle(struct sl_ctl *c, const struct nlmsghdr *nlh, __u32 portid, const struct ucred *cred)
{
	struct req r = { .nlh = nlh, .portid = portid };
	int rc;

	if (!(nlh->nlmsg_flags & NLM_F_REQUEST) || nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return;         /* not a request: nothing to answer */
	rc = sl_proto_check(nlh, SL_CHECK_REQUEST, r.tb, &r.e);
	if (rc) {
		send_ack(c, &r, rc);
		return;
	}
	r.cmd = sl_msg_cmd(nlh);
	r.dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	if ((sl_cmds[r.cmd].flags & SL_CF_MUTATING) && !authorised(c->ops->config(c->ctx), cred)) {
		const struct sl_config *cfg = c->ops->config(c->ctx);
		char who[64] = "uid 0";

		if (cfg->control_group[0])
			snprintf(who, sizeof(who), "uid 0 or group %s", cfg->control_group);
		sl_log(LOG_WARNING, "ctl: refused %s from uid %d pid %d (port %u): only %s may change state",
		       sl_cmds[r.cmd].name, cred ? (int)cred->uid : -1, cred ? (int)cred->pid : -1, portid, who);
		refuse(&r, -EPERM, "%s changes state: only %s may send it", sl_cmds[r.cmd].name, who);
		send_ack(c, &r, -EPERM);
		return;
	}
	c->cur_cred = cred;
	c->cur_cmd = r.cmd;
	rc = handlers[r.cmd](c, &r);
	c->cur_cred = NULL;
	c->cur_cmd = 0;
	/* A dump's end is its NLMSG_DONE: an ack after each datagram would
	 * read as the end of it. */
	if (rc || ((nlh->nlmsg_flags & NLM_F_ACK) && !r.dump))
		send_ack(c, &r, rc);
}

void sl_ctl_event(struct sl_ctl *c)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct sockaddr_nl sa;
	struct iovec iov = { c->rx, sizeof(c->rx) };
	struct msghdr m;
	int i;

	for (i = 0; i < CTL_RECV_MAX; i++) {
		const struct ucred *cred = NULL;
		const struct nlmsghdr *nlh;
		struct cmsghdr *cm;
		ssize_t n;
		int len;

		memset(&m, 0, sizeof(m));
		m.msg_name = &sa;
		m.msg_namelen = sizeof(sa);
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		n = recvmsg(sl_ctl_fd(c), &m, MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				sl_log(LOG_WARNING, "ctl: recvmsg: %s", strerror(errno));
			return;
		}
		if (m.msg_flags & MSG_TRUNC) {
			sl_log(LOG_WARNING, "ctl: request from port %u larger than %zu bytes: ignored",
			       sa.nl_pid, sizeof(c->rx));
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				cred = (const struct ucred *)CMSG_DATA(cm);
		if (!sa.nl_pid)
			continue;       /* from the kernel: not a client */
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)c->rx; sl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			handle(c, nlh, sa.nl_pid, cred);
	}
}
