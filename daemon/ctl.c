// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control server. Requests are checked against the protocol tables
 * (sl_proto_check) before any handler sees them; mutating commands are
 * judged from the sender's SCM_CREDENTIALS, which the kernel stamps and a
 * non-root sender cannot forge. Dumps are sent in datagrams of at most
 * SL_PROTO_BATCH bytes: a datagram without NLMSG_DONE means "send the same
 * request again (same seq) for the rest", so a large table never overruns
 * the client's receive buffer and the daemon never blocks on a slow client.
 */
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
	__u64 runtime_gen;          /* runtime changes made, mixed into the config hash */
	char rx[CTL_BUF];
	char tx[CTL_BUF];
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

static bool put_backend(struct sl_ctl *c, struct nlmsghdr *nlh, size_t len,
			const struct sl_cfg_service *cs, const struct sl_cfg_backend *cb, bool stats)
{
	struct sl_dp *dp = c->ops->dp(c->ctx);
	__u32 id = dp ? sl_dp_backend_id(dp, &cb->addr) : 0;
	const struct sl_backend *bk = id ? sl_dp_backend(dp, id) : NULL;
	const char *state = !bk ? "missing" : bk->flags & SL_BK_F_GONE ? "gone" : "active";
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
		memcpy(n->services[s].backends, cs->backends, cs->nr_backends * sizeof(*cs->backends));
	}
	return n;
}

static int cmd_backend_set(struct sl_ctl *c, struct req *r)
{
	const struct sl_config *cfg = c->ops->config(c->ctx);
	const struct sl_cfg_service *cs;
	struct sl_config *n;
	__u32 old, weight = (__u32)sl_get_uint(r->tb[SL_A_WEIGHT]);
	unsigned s, b = 0;
	char err[512], addr[64];
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
	/* The running config is no longer the file's: a restart with the file
	 * must not take the pins for it (hash mismatch rebuilds). */
	c->runtime_gen++;
	n->hash = (cfg->hash ^ (0x9e3779b97f4a7c15ull * c->runtime_gen)) * 0x100000001b3ull;
	rc = c->ops->replace(c->ctx, n, err, sizeof(err));
	if (rc) {
		sl_config_free(n);
		return refuse(r, rc < 0 ? rc : -EIO, "%s", err);
	}
	sl_addr_format(&cs->backends[b].addr, addr, sizeof(addr));
	sl_log(LOG_INFO, "runtime change: service %s backend %s port %u weight %u -> %u (until the next reload)",
	       n->services[s].name, addr, ntohs(n->services[s].backends[b].addr.port), old, weight);
	return 0;
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
};

/* ---- requests ------------------------------------------------------------- */

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
	if ((sl_cmds[r.cmd].flags & SL_CF_MUTATING) && (!cred || cred->uid != 0)) {
		sl_log(LOG_WARNING, "ctl: refused %s from uid %d pid %d (port %u): only uid 0 may change state",
		       sl_cmds[r.cmd].name, cred ? (int)cred->uid : -1, cred ? (int)cred->pid : -1, portid);
		refuse(&r, -EPERM, "%s changes state: only uid 0 may send it", sl_cmds[r.cmd].name);
		send_ack(c, &r, -EPERM);
		return;
	}
	rc = handlers[r.cmd](c, &r);
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
		for (nlh = (const struct nlmsghdr *)c->rx; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			handle(c, nlh, sa.nl_pid, cred);
	}
}
