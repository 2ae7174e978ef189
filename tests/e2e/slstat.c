// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * slstat PIN_ROOT: the data path's counters, read straight from the pinned
 * maps (no daemon needed), for the e2e tests and the demo.
 *
 *   service ID VIP:PORT packets N bytes N new_flows N    (services with traffic)
 *   backend ID ADDR:PORT packets N bytes N new_flows N refused N timeouts N
 *           resets N handshakes N trip_resets N redispatched N late N slow_calls N
 *           gate G [reset] [active N pending N] [gone]
 *   table backend ID counted N pending N entries N        (with --table)
 *   table service ID counted N live N                     (with --table)
 *   reason NAME N                                         (non-zero only)
 *
 * gate: the breaker value new flows meet (closed, open, half_open,
 * draining); "reset": the backend's established flows are being reset.
 * --table walks the connection table and counts, per backend, the entries
 * holding a unit of active ("counted") and of pending, to compare with the
 * live counters.
 *
 * One "backend" line per slot flagged SL_BK_F_ACTIVE in sl_backend. The
 * per-CPU values are summed over the possible CPUs. "active"/"pending" come
 * from sl_bk_live and the VIP from sl_svc when those pins exist; "gone"
 * marks a backend removed from the config whose flows are still draining.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sluice/maps.h>
#include <sluice/reasons.h>

#define SL_R_NAME(e, v, n, d) [SL_R_##e] = n,
static const char *const reason_names[SL_R_MAX] = { SL_REASONS(SL_R_NAME) };
#undef SL_R_NAME

static const char *pin_root;
static const char *const gate_names[4] = { "closed", "open", "half_open", "draining" };

static int open_pin(const char *name, bool required)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_root, name);
	fd = bpf_obj_get(path);
	if (fd < 0 && required)
		fprintf(stderr, "slstat: %s: %s\n", path, strerror(errno));
	return fd;
}

/* max_entries and value_size of a map, checked against what we expect. */
static int map_shape(int fd, const char *name, __u32 value_size, __u32 *max_entries)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "slstat: %s: %s\n", name, strerror(errno));
		return -1;
	}
	if (info.value_size != value_size) {
		fprintf(stderr, "slstat: %s: value size %u, expected %u (layout mismatch)\n",
			name, info.value_size, value_size);
		return -1;
	}
	*max_entries = info.max_entries;
	return 0;
}

static const char *fmt_l4addr(const struct sl_l4addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->family == SL_AF_INET) {
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->port));
	} else {
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->port));
	}
	return buf;
}

/* Per-CPU value: ncpu copies, each rounded up to 8 bytes. */
static int lookup_percpu(int fd, __u32 key, void *vals)
{
	return bpf_map_lookup_elem(fd, &key, vals);
}

#define SUM_FIELD(vals, type, ncpu, field) ({                        \
	__u64 _s = 0;                                                   \
	for (int _c = 0; _c < (ncpu); _c++)                             \
		_s += ((const type *)(vals))[_c].field;                 \
	_s; })

static int print_services(int ncpu)
{
	struct sl_svc_stats *vals;
	char (*vip)[64];
	struct sl_l4addr key, next;
	struct sl_svc svc;
	__u32 n, id;
	int fd, svc_fd;

	fd = open_pin("sl_svc_stats", true);
	if (fd < 0 || map_shape(fd, "sl_svc_stats", sizeof(struct sl_svc_stats), &n))
		return -1;
	vals = calloc(ncpu, sizeof(*vals));
	vip = calloc(n, sizeof(*vip));
	if (!vals || !vip)
		return -1;
	/* VIP of each service id, from sl_svc when it is there */
	svc_fd = open_pin("sl_svc", false);
	if (svc_fd >= 0) {
		void *prev = NULL;

		while (!bpf_map_get_next_key(svc_fd, prev, &next)) {
			if (!bpf_map_lookup_elem(svc_fd, &next, &svc) && svc.id < n)
				fmt_l4addr(&next, vip[svc.id], sizeof(vip[svc.id]));
			key = next;
			prev = &key;
		}
	}
	for (id = 0; id < n; id++) {
		__u64 packets;

		if (lookup_percpu(fd, id, vals))
			continue;
		packets = SUM_FIELD(vals, struct sl_svc_stats, ncpu, packets);
		if (!packets && !vip[id][0])
			continue;
		printf("service %u %s packets %llu bytes %llu new_flows %llu\n", id,
		       vip[id][0] ? vip[id] : "-", (unsigned long long)packets,
		       (unsigned long long)SUM_FIELD(vals, struct sl_svc_stats, ncpu, bytes),
		       (unsigned long long)SUM_FIELD(vals, struct sl_svc_stats, ncpu, new_flows));
	}
	free(vals);
	free(vip);
	return 0;
}

static int print_backends(int ncpu)
{
	struct sl_bk_stats *vals;
	struct sl_backend bk;
	struct sl_bk_live live;
	__u32 n, n_stats, n_live = 0, id;
	int bk_fd, st_fd, live_fd;
	char addr[80];

	bk_fd = open_pin("sl_backend", true);
	st_fd = open_pin("sl_bk_stats", true);
	if (bk_fd < 0 || st_fd < 0)
		return -1;
	if (map_shape(bk_fd, "sl_backend", sizeof(bk), &n) ||
	    map_shape(st_fd, "sl_bk_stats", sizeof(*vals), &n_stats))
		return -1;
	live_fd = open_pin("sl_bk_live", false);
	if (live_fd >= 0 && map_shape(live_fd, "sl_bk_live", sizeof(live), &n_live))
		live_fd = -1;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -1;
	for (id = 0; id < n; id++) {
		if (bpf_map_lookup_elem(bk_fd, &id, &bk) || !(bk.flags & SL_BK_F_ACTIVE))
			continue;
		memset(vals, 0, ncpu * sizeof(*vals));
		if (id < n_stats)
			lookup_percpu(st_fd, id, vals);
		printf("backend %u %s packets %llu bytes %llu new_flows %llu refused %llu timeouts %llu"
		       " resets %llu handshakes %llu trip_resets %llu redispatched %llu late %llu slow_calls %llu"
		       " gate %s%s", id,
		       fmt_l4addr(&bk.addr, addr, sizeof(addr)),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, packets),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, bytes),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, new_flows),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, conn_refused),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, conn_timeout),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, resets),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, handshakes),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, trip_resets),
		       (unsigned long long)(SUM_FIELD(vals, struct sl_bk_stats, ncpu, redispatch_refused) +
					    SUM_FIELD(vals, struct sl_bk_stats, ncpu, redispatch_timeout)),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, redispatch_late),
		       (unsigned long long)SUM_FIELD(vals, struct sl_bk_stats, ncpu, slow_calls),
		       bk.breaker < 4 ? gate_names[bk.breaker] : "?",
		       bk.flags & SL_BK_F_RESET ? " reset" : "");
		if (live_fd >= 0 && id < n_live && !bpf_map_lookup_elem(live_fd, &id, &live))
			printf(" active %d pending %d", live.active, live.pending);
		printf("%s\n", bk.flags & SL_BK_F_GONE ? " gone" : "");
	}
	free(vals);
	return 0;
}

static int print_reasons(int ncpu)
{
	__u64 *vals;
	__u32 n, r;
	int fd;

	fd = open_pin("sl_reasons", true);
	if (fd < 0 || map_shape(fd, "sl_reasons", sizeof(__u64), &n))
		return -1;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -1;
	for (r = 0; r < n; r++) {
		__u64 sum = 0;
		int c;

		if (lookup_percpu(fd, r, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			sum += vals[c];
		if (!sum)
			continue;
		if (r < SL_R_MAX)
			printf("reason %s %llu\n", reason_names[r], (unsigned long long)sum);
		else
			printf("reason %u %llu\n", r, (unsigned long long)sum);
	}
	free(vals);
	return 0;
}

/* Units held by the connection table's entries, per backend and service. */
static int print_table(void)
{
	static __u32 counted[SL_MAX_BACKENDS], pend[SL_MAX_BACKENDS], entries[SL_MAX_BACKENDS];
	static __u32 svc_counted[SL_MAX_SERVICES];
	struct sl_flow_key key, next;
	struct sl_conn c;
	struct sl_svc_live sl;
	void *prev = NULL;
	int fd = open_pin("sl_conn", true), live_fd = open_pin("sl_svc_live", true);
	__u32 id;

	if (fd < 0 || live_fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &c) || c.bk_id >= SL_MAX_BACKENDS)
			continue;
		entries[c.bk_id]++;
		if (c.flags & SL_CONN_F_COUNTED) {
			counted[c.bk_id]++;
			if (c.svc_id < SL_MAX_SERVICES)
				svc_counted[c.svc_id]++;
		}
		if (c.flags & SL_CONN_F_PEND)
			pend[c.bk_id]++;
	}
	for (id = 0; id < SL_MAX_BACKENDS; id++)
		if (entries[id])
			printf("table backend %u counted %u pending %u entries %u\n", id, counted[id],
			       pend[id], entries[id]);
	for (id = 0; id < SL_MAX_SERVICES; id++)
		if (!bpf_map_lookup_elem(live_fd, &id, &sl) && (svc_counted[id] || sl.active))
			printf("table service %u counted %u live %d\n", id, svc_counted[id], sl.active);
	return 0;
}

int main(int argc, char **argv)
{
	int ncpu, err = 0;
	bool table = argc == 3 && !strcmp(argv[2], "--table");

	if ((argc != 2 && !table) || argv[1][0] == '-') {
		fprintf(stderr, "usage: slstat PIN_ROOT [--table]\n");
		return 2;
	}
	pin_root = argv[1];
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, "slstat: cannot count possible CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	if (print_services(ncpu))
		err = 1;
	if (print_backends(ncpu))
		err = 1;
	if (print_reasons(ncpu))
		err = 1;
	if (table && print_table())
		err = 1;
	return err;
}
