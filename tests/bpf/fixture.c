// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Shared setup and helpers of the BPF packet tests. See fixture.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "maglev.h"
#include "sluice.skel.h"

/* redispatch_max = 0: a refused connect reaches the client, as most tests
 * expect; test_redispatch sets the bound itself. */
const char FX_CONFIG[] =
	"interfaces = ( \"sl-c0\", \"sl-b0\" );\n"
	"services = (\n"
	"  { name = \"web\"; vip = \"" FX_VIP4 "\"; port = 80; proto = \"tcp\"; redispatch_max = 0;\n"
	"    backends = (\n"
	"      { addr = \"198.19.0.11\"; port = 8080; weight = 1; },\n"
	"      { addr = \"198.19.0.12\"; port = 8080; weight = 1; },\n"
	"      { addr = \"198.19.0.13\"; port = 8080; weight = 2; } ); },\n"
	"  { name = \"dns\"; vip = \"" FX_VIP4 "\"; port = 53; proto = \"udp\";\n"
	"    backends = (\n"
	"      { addr = \"198.19.0.21\"; port = 5353; weight = 1; },\n"
	"      { addr = \"198.19.0.22\"; port = 5353; weight = 1; } ); },\n"
	"  { name = \"web6\"; vip = \"" FX_VIP6 "\"; port = 443; proto = \"tcp\"; redispatch_max = 0;\n"
	"    backends = (\n"
	"      { addr = \"2001:2:0:2::11\"; port = 8443; weight = 1; },\n"
	"      { addr = \"2001:2:0:2::12\"; port = 8443; weight = 1; },\n"
	"      { addr = \"2001:2:0:2::13\"; port = 8443; weight = 1; } ); },\n"
	"  { name = \"dns6\"; vip = \"" FX_VIP6 "\"; port = 53; proto = \"udp\";\n"
	"    backends = (\n"
	"      { addr = \"2001:2:0:2::21\"; port = 5353; weight = 1; },\n"
	"      { addr = \"2001:2:0:2::22\"; port = 5353; weight = 3; } ); }\n"
	");\n";

const uint8_t FX_MAC_CLIENT[6] = { 0x02, 0x00, 0x00, 0x00, 0xc1, 0x10 };
const uint8_t FX_MAC_GW_C[6]   = { 0x02, 0x00, 0x00, 0x00, 0xc0, 0x01 };
const uint8_t FX_MAC_GW_B[6]   = { 0x02, 0x00, 0x00, 0x00, 0xb0, 0x01 };
const uint8_t FX_MAC_NH_SRC[6] = { 0x02, 0x5e, 0x00, 0x00, 0x00, 0x01 };

struct fx fx;
static struct ring_buffer *ev_rb;

static const char *reason_names[] = {
#define SL_R_NAME(e, v, n, d) n,
	SL_REASONS(SL_R_NAME)
#undef SL_R_NAME
};

const char *fx_reason_name(int r)
{
	if (r == -1)
		return "(none)";
	if (r == -2)
		return "(several)";
	if (r < 0 || r >= SL_R_MAX)
		return "(bad)";
	return reason_names[r];
}

const char *fx_verdict_name(__u32 v)
{
	static const char *n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	return v < 5 ? n[v] : "XDP_?";
}

void fx_assert_reason_(int got, int want, const char *file, int line)
{
	if (got != want) {
		print_error("%s:%d: reason %s, expected %s\n", file, line,
			    fx_reason_name(got), fx_reason_name(want));
		_fail(file, line);
	}
}

void fx_assert_verdict_(__u32 got, __u32 want, const char *file, int line)
{
	if (got != want) {
		print_error("%s:%d: verdict %s, expected %s\n", file, line,
			    fx_verdict_name(got), fx_verdict_name(want));
		_fail(file, line);
	}
}

/* ---- namespace ------------------------------------------------------------ */

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " >/dev/null 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "fixture: failed: %s\n", cmd);
	return rc ? -1 : 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

void fx_require_privileges(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skip: BPF packet tests need root\n");
		exit(77);
	}
}

static int netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "fixture: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (sh("ip link set lo up") ||
	    sh("ip link add sl-c0 address 02:00:00:00:c0:01 type veth peer name sl-c1") ||
	    sh("ip link add sl-b0 address 02:00:00:00:b0:01 type veth peer name sl-b1") ||
	    sh("ip link set sl-c0 up") || sh("ip link set sl-c1 up") ||
	    sh("ip link set sl-b0 up") || sh("ip link set sl-b1 up") ||
	    sh("ip addr add 198.18.0.1/24 dev sl-c0") ||
	    sh("ip addr add 198.19.0.1/24 dev sl-b0") ||
	    sh("ip -6 addr add 2001:2:0:1::1/64 dev sl-c0 nodad") ||
	    sh("ip -6 addr add 2001:2:0:2::1/64 dev sl-b0 nodad") ||
	    sh("ip neigh add " FX_CLI4 " lladdr 02:00:00:00:c1:10 dev sl-c0 nud permanent") ||
	    sh("ip -6 neigh add " FX_CLI6 " lladdr 02:00:00:00:c1:10 dev sl-c0 nud permanent"))
		return -1;
	/* bpf_fib_lookup answers FWD_DISABLED without forwarding */
	if (write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1")) {
		fprintf(stderr, "fixture: cannot enable forwarding: %s\n", strerror(errno));
		return -1;
	}
	fx.if_lo = if_nametoindex("lo");
	fx.if_c = if_nametoindex("sl-c0");
	fx.if_b = if_nametoindex("sl-b0");
	return fx.if_lo && fx.if_c && fx.if_b ? 0 : -1;
}

/* ---- dataplane ------------------------------------------------------------ */

void fx_nh_mac(__u32 bk_id, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0xbe;
	mac[2] = 0;
	mac[3] = 0;
	mac[4] = (uint8_t)(bk_id >> 8);
	mac[5] = (uint8_t)bk_id;
}

static void fmt_addr(const struct sl_l4addr *a, char *s, size_t n)
{
	inet_ntop(a->family == SL_AF_INET ? AF_INET : AF_INET6, a->addr, s, (socklen_t)n);
}

int fx_apply(const char *conf)
{
	struct sl_config *cfg;
	char err[512];
	unsigned s, b;

	if (sl_config_load_string(conf, "test.conf", &cfg, err, sizeof(err))) {
		fprintf(stderr, "fixture: config refused: %s\n", err);
		return -1;
	}
	if (sl_dp_apply(fx.dp, cfg, err, sizeof(err))) {
		fprintf(stderr, "fixture: apply failed: %s\n", err);
		sl_config_free(cfg);
		return -1;
	}
	for (s = 0; s < cfg->nr_services; s++) {
		for (b = 0; b < cfg->services[s].nr_backends; b++) {
			const struct sl_l4addr *a = &cfg->services[s].backends[b].addr;
			__u32 id = sl_dp_backend_id(fx.dp, a);
			uint8_t mac[6];
			char ip[64];

			if (!id) {
				fprintf(stderr, "fixture: backend without an id\n");
				sl_config_free(cfg);
				return -1;
			}
			fx_nh_mac(id, mac);
			if (sl_dp_set_nexthop(fx.dp, id, fx.if_lo, mac, FX_MAC_NH_SRC)) {
				fprintf(stderr, "fixture: cannot set the next hop of backend %u\n", id);
				sl_config_free(cfg);
				return -1;
			}
			/* for the route-lookup fallback (backends without a next hop) */
			fmt_addr(a, ip, sizeof(ip));
			if (sh("ip %s neigh replace %s lladdr %02x:%02x:%02x:%02x:%02x:%02x dev sl-b0 nud permanent",
			       a->family == SL_AF_INET ? "-4" : "-6", ip,
			       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])) {
				sl_config_free(cfg);
				return -1;
			}
		}
	}
	sl_config_free(fx.cfg);
	fx.cfg = cfg;
	return 0;
}

int fx_setup(void **state)
{
	struct sl_dp_opts o = { .pin_root = NULL, .conn_table_size = 4096 };
	__u32 ifs[3];
	char err[512];
	int i;

	(void)state;
	libbpf_set_print(NULL);
	if (netns())
		return -1;
	if (sl_dp_open(&fx.dp, &o, err, sizeof(err))) {
		fprintf(stderr, "fixture: sl_dp_open: %s\n", err);
		return -1;
	}
	fx.prog_fd = sl_dp_prog_fd(fx.dp);
	fx.ncpu = libbpf_num_possible_cpus();
	ifs[0] = fx.if_lo;
	ifs[1] = fx.if_c;
	ifs[2] = fx.if_b;
	for (i = 0; i < 3; i++) {
		if (bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_tx), &ifs[i], &ifs[i], BPF_ANY)) {
			fprintf(stderr, "fixture: cannot add ifindex %u to sl_tx: %s\n", ifs[i], strerror(errno));
			return -1;
		}
	}
	return fx_apply(FX_CONFIG);
}

int fx_teardown(void **state)
{
	(void)state;
	ring_buffer__free(ev_rb);
	ev_rb = NULL;
	sl_config_free(fx.cfg);
	fx.cfg = NULL;
	sl_dp_close(fx.dp);
	fx.dp = NULL;
	return 0;
}

static void flush_hash(int fd)
{
	struct sl_flow_key k;

	while (!bpf_map_get_next_key(fd, NULL, &k))
		if (bpf_map_delete_elem(fd, &k))
			break;
}

/* The table emptied, what counts its entries is zero again (as the
 * daemon's reconciler would make it), and no event is left over. */
void fx_flush_conns(void)
{
	struct sl_bk_live bl;
	struct sl_svc_live sl;
	__u32 id;
	unsigned s, b;

	flush_hash(bpf_map__fd(fx.dp->skel->maps.sl_conn));
	flush_hash(bpf_map__fd(fx.dp->skel->maps.sl_pending));
	memset(&bl, 0, sizeof(bl));
	memset(&sl, 0, sizeof(sl));
	for (s = 0; fx.cfg && s < fx.cfg->nr_services; s++) {
		id = fx_svc_id_of(&fx.cfg->services[s].vip);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc_live), &id, &sl, BPF_ANY), 0);
		for (b = 0; b < fx.cfg->services[s].nr_backends; b++) {
			id = sl_dp_backend_id(fx.dp, &fx.cfg->services[s].backends[b].addr);
			assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_bk_live), &id, &bl, BPF_ANY), 0);
		}
	}
	fx_events(NULL, 0);
}

/* ---- events ------------------------------------------------------------------ */

struct ev_sink {
	struct sl_event *out;
	int max, n;
};

static struct ev_sink ev_sink;

static int ev_one(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len != sizeof(struct sl_event)) {
		print_error("event of %zu bytes, expected %zu\n", len, sizeof(struct sl_event));
		return -EINVAL;
	}
	if (ev_sink.n < ev_sink.max)
		memcpy(&ev_sink.out[ev_sink.n], data, len);
	ev_sink.n++;
	return 0;
}

int fx_events(struct sl_event *out, int max)
{
	int rc;

	if (!ev_rb) {
		ev_rb = ring_buffer__new(bpf_map__fd(fx.dp->skel->maps.sl_events), ev_one, NULL, NULL);
		assert_non_null(ev_rb);
	}
	ev_sink.out = out;
	ev_sink.max = out ? max : 0;
	ev_sink.n = 0;
	rc = ring_buffer__consume(ev_rb);
	assert_true(rc >= 0);
	return ev_sink.n;
}

int fx_conn_count(void)
{
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_conn), n = 0;
	struct sl_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* ---- running ---------------------------------------------------------------- */

void fx_reasons(__u64 out[SL_R_MAX])
{
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_reasons);
	__u64 v[fx.ncpu];
	__u32 r;
	int c;

	for (r = 0; r < SL_R_MAX; r++) {
		out[r] = 0;
		assert_int_equal(bpf_map_lookup_elem(fd, &r, v), 0);
		for (c = 0; c < fx.ncpu; c++)
			out[r] += v[c];
	}
}

int fx_run_raw(const void *frame, size_t len, __u32 ifindex, struct res *r)
{
	static uint8_t in[PKT_MAX];
	/* BPF_PROG_TEST_RUN wants 14 bytes at least; a shorter frame is sent
	 * as a linear part of len bytes with the rest of 14 in a fragment
	 * (kernels from 6.17 on accept ctx data_end < data_size_in), so the
	 * program sees data_end - data == len. */
	size_t sz = len < 14 ? 14 : len;
	struct xdp_md ctx = {
		.data = 0,
		.data_end = (__u32)len,
		.ingress_ifindex = ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = in,
		    .data_size_in = (__u32)sz,
		    .data_out = r->out,
		    .data_size_out = sizeof(r->out),
		    .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	__u64 before[SL_R_MAX], after[SL_R_MAX];
	int rc, i;

	memset(in, 0, sz);
	memcpy(in, frame, len);
	fx_reasons(before);
	rc = bpf_prog_test_run_opts(fx.prog_fd, &o);
	if (rc && len < 14 && errno == EINVAL)
		return -1;
	if (rc) {
		print_error("bpf_prog_test_run_opts: %s (frame %zu bytes)\n", strerror(errno), len);
		fail();
	}
	fx_reasons(after);
	r->ret = o.retval;
	r->len = len < 14 ? (__u32)len : o.data_size_out;
	r->reason = -1;
	for (i = 0; i < SL_R_MAX; i++) {
		if (after[i] == before[i])
			continue;
		r->reason = (r->reason == -1 && after[i] == before[i] + 1) ? i : -2;
	}
	return 0;
}

void fx_run(const struct pkt *p, __u32 ifindex, struct res *r)
{
	fx_run_raw(p->b, p->len, ifindex, r);
}

void fx_send(const struct spec *s, __u32 ifindex, struct res *r)
{
	static struct pkt p;

	spec_build(s, &p);
	fx_run(&p, ifindex, r);
}

/* ---- maps ------------------------------------------------------------------- */

static struct sl_l4addr l4(const char *addr, int port, int proto)
{
	struct sl_l4addr a;

	memset(&a, 0, sizeof(a));
	a.family = addr16(addr, a.addr) == 6 ? SL_AF_INET6 : SL_AF_INET;
	a.port = htons((uint16_t)port);
	a.proto = (__u8)proto;
	return a;
}

__u32 fx_svc_id(const char *vip, int port, int proto)
{
	struct sl_l4addr k = l4(vip, port, proto);

	return fx_svc_id_of(&k);
}

__u32 fx_svc_id_of(const struct sl_l4addr *k)
{
	struct sl_svc v;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), k, &v), 0);
	return v.id;
}

struct sl_svc fx_svc_get(const char *vip, int port, int proto)
{
	struct sl_l4addr k = l4(vip, port, proto);
	struct sl_svc v;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), &k, &v), 0);
	return v;
}

void fx_svc_put(const char *vip, int port, int proto, const struct sl_svc *v)
{
	struct sl_l4addr k = l4(vip, port, proto);

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), &k, v, BPF_EXIST), 0);
}

struct sl_backend fx_bk_get(__u32 id)
{
	struct sl_backend b;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &id, &b), 0);
	return b;
}

void fx_bk_put(__u32 id, const struct sl_backend *b)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &id, b, BPF_ANY), 0);
}

struct sl_bk_live fx_bk_live(__u32 id)
{
	struct sl_bk_live v;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_bk_live), &id, &v), 0);
	return v;
}

void fx_bk_live_put(__u32 id, const struct sl_bk_live *v)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_bk_live), &id, v, BPF_ANY), 0);
}

struct sl_svc_live fx_svc_live(__u32 svc_id)
{
	struct sl_svc_live v;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc_live), &svc_id, &v), 0);
	return v;
}

void fx_svc_live_put(__u32 svc_id, const struct sl_svc_live *v)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc_live), &svc_id, v, BPF_ANY), 0);
}

int fx_pend(const struct sl_flow_key *k, struct sl_pend *v)
{
	return bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_pending), k, v) ? -1 : 0;
}

void fx_pend_put(const struct sl_flow_key *k, const struct sl_pend *v)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_pending), k, v, BPF_EXIST), 0);
}

int fx_pend_count(void)
{
	int fd = bpf_map__fd(fx.dp->skel->maps.sl_pending), n = 0;
	struct sl_flow_key k, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

void fx_conn_put(const struct sl_flow_key *k, const struct sl_conn *c)
{
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_conn), k, c, BPF_EXIST), 0);
}

__u32 fx_bk_id(const char *addr, int port, int proto)
{
	struct sl_l4addr k = l4(addr, port, proto);
	__u32 id = sl_dp_backend_id(fx.dp, &k);

	assert_int_not_equal(id, 0);
	return id;
}

void fx_bk_addr(__u32 bk_id, char *addr, size_t n, uint16_t *port)
{
	struct sl_backend b;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &bk_id, &b), 0);
	fmt_addr(&b.addr, addr, n);
	*port = ntohs(b.addr.port);
}

struct sl_svc_stats fx_svc_stats(__u32 svc_id)
{
	struct sl_svc_stats v[fx.ncpu], sum;
	int c;

	memset(&sum, 0, sizeof(sum));
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc_stats), &svc_id, v), 0);
	for (c = 0; c < fx.ncpu; c++) {
		sum.packets += v[c].packets;
		sum.bytes += v[c].bytes;
		sum.new_flows += v[c].new_flows;
	}
	return sum;
}

struct sl_bk_stats fx_bk_stats(__u32 bk_id)
{
	struct sl_bk_stats v[fx.ncpu], sum;
	int c, i;

	memset(&sum, 0, sizeof(sum));
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_bk_stats), &bk_id, v), 0);
	for (c = 0; c < fx.ncpu; c++) {
		sum.packets += v[c].packets;
		sum.bytes += v[c].bytes;
		sum.new_flows += v[c].new_flows;
		sum.conn_refused += v[c].conn_refused;
		sum.conn_timeout += v[c].conn_timeout;
		sum.icmp_unreach += v[c].icmp_unreach;
		sum.resets += v[c].resets;
		sum.released += v[c].released;
		sum.pend_taken += v[c].pend_taken;
		sum.pend_released += v[c].pend_released;
		sum.handshakes += v[c].handshakes;
		sum.trip_resets += v[c].trip_resets;
		sum.redispatch_refused += v[c].redispatch_refused;
		sum.redispatch_timeout += v[c].redispatch_timeout;
		sum.redispatch_late += v[c].redispatch_late;
		sum.slow_calls += v[c].slow_calls;
		for (i = 0; i < SL_HS_BUCKETS; i++)
			sum.hs_hist[i] += v[c].hs_hist[i];
		if (v[c].last_hs_ns > sum.last_hs_ns)
			sum.last_hs_ns = v[c].last_hs_ns;
	}
	return sum;
}

int fx_conn(const struct sl_flow_key *k, struct sl_conn *c)
{
	return bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_conn), k, c) ? -1 : 0;
}

void fx_flow_key(struct sl_flow_key *k, const char *src, int sport, const char *dst, int dport, int proto)
{
	int af;

	memset(k, 0, sizeof(*k));
	af = addr16(src, k->src);
	addr16(dst, k->dst);
	k->sport = htons((uint16_t)sport);
	k->dport = htons((uint16_t)dport);
	k->proto = (__u8)proto;
	k->family = af == 6 ? SL_AF_INET6 : SL_AF_INET;
}

const struct sl_cfg_service *fx_cfg_svc(const char *name)
{
	unsigned s;

	for (s = 0; s < fx.cfg->nr_services; s++)
		if (!strcmp(fx.cfg->services[s].name, name))
			return &fx.cfg->services[s];
	return NULL;
}

/* The kernel's table for a service: M, then M slots. */
static __u32 *kernel_table(__u32 svc_id, __u32 *M)
{
	__u32 inner_id, i, n;
	__u32 *t;
	int fd;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_maglev), &svc_id, &inner_id), 0);
	fd = bpf_map_get_fd_by_id(inner_id);
	assert_true(fd >= 0);
	i = 0;
	assert_int_equal(bpf_map_lookup_elem(fd, &i, M), 0);
	n = *M + 1;
	t = calloc(n, sizeof(*t));
	assert_non_null(t);
	for (i = 0; i < n; i++)
		assert_int_equal(bpf_map_lookup_elem(fd, &i, &t[i]), 0);
	close(fd);
	return t;
}

__u32 fx_predict(const char *svc_name, const struct sl_flow_key *k, unsigned i)
{
	const struct sl_cfg_service *cs = fx_cfg_svc(svc_name);
	struct sl_maglev_backend *mb;
	struct sl_svc sv;
	__u32 M, kM, *table, *kt, id;
	unsigned b;

	assert_non_null(cs);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), &cs->vip, &sv), 0);
	M = cs->maglev_size ? cs->maglev_size : sl_maglev_default_size(cs->nr_backends);
	assert_int_equal(sv.maglev_size, M);
	mb = calloc(cs->nr_backends + 1, sizeof(*mb));
	table = calloc(M, sizeof(*table));
	assert_non_null(mb);
	assert_non_null(table);
	for (b = 0; b < cs->nr_backends; b++) {
		mb[b].addr = cs->backends[b].addr;
		mb[b].weight = cs->backends[b].weight;
		mb[b].id = sl_dp_backend_id(fx.dp, &cs->backends[b].addr);
		assert_int_not_equal(mb[b].id, 0);
	}
	assert_int_equal(sl_maglev_build(mb, cs->nr_backends, M, table), 0);
	kt = kernel_table(sv.id, &kM);
	assert_int_equal(kM, M);
	assert_memory_equal(kt + 1, table, M * sizeof(*table));
	id = sl_maglev_candidate(table, M, k, i);
	free(kt);
	free(table);
	free(mb);
	return id;
}

/* ---- frames ------------------------------------------------------------------ */

static const char fwd_payload[] = "GET / HTTP/1.0\r\n\r\n";

void fx_spec_fwd(struct spec *s, int af, uint8_t proto, uint16_t sport, uint16_t vport)
{
	memset(s, 0, sizeof(*s));
	s->af = af;
	s->dmac = FX_MAC_GW_C;
	s->smac = FX_MAC_CLIENT;
	s->src = af == 4 ? FX_CLI4 : FX_CLI6;
	s->dst = af == 4 ? FX_VIP4 : FX_VIP6;
	s->proto = proto;
	s->ttl = 64;
	s->tos = 0xb9;                          /* DSCP EF, ECT(1): kept as they are */
	s->flowlabel = 0x12345;
	s->sport = sport;
	s->dport = vport;
	s->seq = 0x11223344;
	s->tcp_flags = TH_SYN;
	s->payload = fwd_payload;
	s->paylen = sizeof(fwd_payload) - 1;
}

void fx_spec_rev(struct spec *s, const struct spec *fwd, __u32 bk_id)
{
	static char addr[4][64];
	static int slot;
	static const uint8_t bmac[6] = { 0x02, 0xbb, 0, 0, 0, 1 };
	uint16_t port;
	char *a = addr[slot++ & 3];

	fx_bk_addr(bk_id, a, 64, &port);
	*s = *fwd;
	s->dmac = FX_MAC_GW_B;
	s->smac = bmac;
	s->nvlan = 0;
	s->src = a;
	s->sport = port;
	s->dst = fwd->src;
	s->dport = fwd->sport;
	s->seq = 0x55667788;
	s->ack = fwd->seq + 1;
	s->tcp_flags = TH_SYN | TH_ACK;
	s->ttl = 63;
}

void fx_assert_frame(const struct spec *want, const struct res *r, int strict_quote)
{
	static struct pkt exp;
	static char hex[8192];
	struct pview v;
	char why[256];
	long d;

	spec_build(want, &exp);
	if (pv_parse(&v, r->out, r->len, why, sizeof(why))) {
		pkt_hex(r->out, r->len, hex, sizeof(hex));
		print_error("output frame does not parse: %s\n%s\n", why, hex);
		fail();
	}
	if (pv_check_csums(&v, strict_quote, why, sizeof(why))) {
		pkt_hex(r->out, r->len, hex, sizeof(hex));
		print_error("output frame: %s\n%s\n", why, hex);
		fail();
	}
	d = pkt_diff_masked(exp.b, exp.len, r->out, r->len);
	if (d >= 0) {
		size_t n;

		print_error("output frame differs from the expected one at byte %ld (%zu vs %u bytes)\n",
			    d, exp.len, r->len);
		pkt_hex(exp.b, exp.len, hex, sizeof(hex));
		n = strlen(hex);
		snprintf(hex + n, sizeof(hex) - n, "\n-- got:\n");
		n = strlen(hex);
		pkt_hex(r->out, r->len, hex + n, sizeof(hex) - n);
		print_error("expected:\n%s\n", hex);
		fail();
	}
}

void fx_assert_forwarded(const struct spec *in, const struct res *r, __u32 bk_id,
			 const uint8_t *dmac, const uint8_t *smac)
{
	struct spec want = *in;
	uint8_t mac[6];
	char addr[64];
	uint16_t port;

	assert_verdict(r->ret, XDP_REDIRECT);
	assert_reason(r->reason, -1);
	fx_nh_mac(bk_id, mac);
	fx_bk_addr(bk_id, addr, sizeof(addr), &port);
	want.dmac = dmac ? dmac : mac;
	want.smac = smac ? smac : FX_MAC_NH_SRC;
	want.nvlan = 0;
	want.ethertype = 0;
	want.dst = addr;
	want.dport = port;
	want.ttl = (uint8_t)((in->ttl ? in->ttl : 64) - 1);
	fx_assert_frame(&want, r, 1);
}

void fx_assert_reversed(const struct spec *in, const struct res *r, const char *vip,
			uint16_t vport, __u32 expect_verdict)
{
	struct spec want = *in;

	assert_verdict(r->ret, expect_verdict);
	if (expect_verdict == XDP_REDIRECT) {
		assert_reason(r->reason, -1);
		want.dmac = FX_MAC_CLIENT;
		want.smac = FX_MAC_GW_C;
		want.nvlan = 0;
		want.ethertype = 0;
	}
	want.src = vip;
	want.sport = vport;
	want.ttl = (uint8_t)((in->ttl ? in->ttl : 64) - 1);
	fx_assert_frame(&want, r, 1);
}

void fx_assert_unchanged(const struct pkt *in, const struct res *r)
{
	assert_int_equal(r->len, in->len);
	assert_memory_equal(r->out, in->b, in->len);
}

__u32 fx_open_flow(const struct spec *fwd, const char *svc)
{
	struct sl_flow_key k;
	struct res r;
	__u32 id;

	fx_flow_key(&k, fwd->src, fwd->sport, fwd->dst, fwd->dport, fwd->proto);
	id = fx_predict(svc, &k, 0);
	fx_send(fwd, fx.if_c, &r);
	fx_assert_forwarded(fwd, &r, id, NULL, NULL);
	return id;
}

/* ---- a config to come back to ----------------------------------------------- */

#define FX_NSAVE 32
static struct { __u32 id; struct sl_backend v; } saved_bk[FX_NSAVE];
static struct { struct sl_l4addr vip; struct sl_svc v; } saved_svc[8];
static unsigned nsaved_bk, nsaved_svc;

int fx_setup_saved(void **state)
{
	unsigned s, b;

	if (fx_setup(state))
		return -1;
	for (s = 0; s < fx.cfg->nr_services && nsaved_svc < 8; s++) {
		const struct sl_cfg_service *cs = &fx.cfg->services[s];

		saved_svc[nsaved_svc].vip = cs->vip;
		if (bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), &cs->vip,
					&saved_svc[nsaved_svc].v))
			return -1;
		nsaved_svc++;
		for (b = 0; b < cs->nr_backends && nsaved_bk < FX_NSAVE; b++) {
			__u32 id = sl_dp_backend_id(fx.dp, &cs->backends[b].addr);

			saved_bk[nsaved_bk].id = id;
			if (bpf_map_lookup_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &id,
						&saved_bk[nsaved_bk].v))
				return -1;
			nsaved_bk++;
		}
	}
	return 0;
}

int fx_restore_saved(void)
{
	unsigned i;

	for (i = 0; i < nsaved_svc; i++)
		if (bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_svc), &saved_svc[i].vip,
					&saved_svc[i].v, BPF_EXIST))
			return -1;
	for (i = 0; i < nsaved_bk; i++)
		if (bpf_map_update_elem(bpf_map__fd(fx.dp->skel->maps.sl_backend), &saved_bk[i].id,
					&saved_bk[i].v, BPF_EXIST))
			return -1;
	fx_flush_conns();
	return 0;
}
