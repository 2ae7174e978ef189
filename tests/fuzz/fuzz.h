/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the fuzz harnesses share: sanitizer defaults, CHECK, and the
 * invariants of a config sluiced accepts (from the file or as a runtime
 * change). Included by each harness; everything is static.
 */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "maglev.h"

/* Sanitizer defaults, so that a harness run by hand behaves as under
 * `make fuzz` (*SAN_OPTIONS in the environment still override them).
 * SL_LSAN_SUPP: tests/fuzz/lsan.supp, an absolute path (the Makefile). */
#ifdef SL_LSAN_SUPP
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "suppressions=" SL_LSAN_SUPP; }
#endif
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:halt_on_error=1";
}

#ifndef FUZZ_NAME
#define FUZZ_NAME "fuzz"
#endif

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, FUZZ_NAME ": %s:%d: check failed: %s\n",      \
				__FILE__, __LINE__, #cond);                           \
			abort();                                                      \
		}                                                                     \
	} while (0)

static inline int fz_terminated(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static inline int fz_valid_name(const char *s)
{
	size_t n = strnlen(s, SL_NAME_MAX);

	if (n == 0 || n >= SL_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

static inline void fz_check_addr(const struct sl_l4addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	struct sl_l4addr back = { 0 };

	CHECK(a->family == SL_AF_INET || a->family == SL_AF_INET6);
	CHECK(a->proto == IPPROTO_TCP || a->proto == IPPROTO_UDP);
	CHECK(ntohs(a->port) >= 1);
	if (a->family == SL_AF_INET)
		CHECK(!a->addr[1] && !a->addr[2] && !a->addr[3]);
	/* formatted and parsed back: the same address */
	CHECK(sl_addr_format(a, buf, sizeof(buf)) == 0);
	CHECK(sl_addr_parse(buf, &back) == 0);
	CHECK(back.family == a->family && !memcmp(back.addr, a->addr, sizeof(a->addr)));
}

static inline int fz_same_l4(const struct sl_l4addr *a, const struct sl_l4addr *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr)) &&
	       a->port == b->port && a->proto == b->proto;
}

/*
 * Every value within the bounds of sluice.conf(5); names, VIPs and
 * backends unique, no backend at a VIP. runtime: c may come from a
 * runtime change (lines 0 allowed). maglev_budget: build the Maglev table
 * of each service while the slots built stay within it (0: none), and
 * check every slot.
 */
static inline void fz_check_config(const struct sl_config *c, int runtime, unsigned maglev_budget)
{
	unsigned s, b, i, t, u, slots = 0;

	CHECK(fz_terminated(c->file, sizeof(c->file)));
	CHECK(c->nr_ifaces >= 1 && c->nr_ifaces <= SL_MAX_IFACES);
	for (i = 0; i < c->nr_ifaces; i++)
		CHECK(fz_terminated(c->ifaces[i], sizeof(c->ifaces[i])) && c->ifaces[i][0]);
	CHECK(fz_terminated(c->pin_root, sizeof(c->pin_root)) && c->pin_root[0] == '/');
	CHECK(fz_terminated(c->run_dir, sizeof(c->run_dir)) && c->run_dir[0] == '/');
	CHECK(c->conn_table_size >= SL_CONN_TABLE_MIN && c->conn_table_size <= SL_CONN_TABLE_MAX);
	CHECK(c->xdp_generic == 0 || c->xdp_generic == 1);
	CHECK(c->nr_services <= SL_MAX_SERVICES);
	CHECK(!c->nr_services || c->services);

	for (s = 0; s < c->nr_services; s++) {
		const struct sl_cfg_service *cs = &c->services[s];

		CHECK(fz_valid_name(cs->name));
		CHECK(sl_config_find_service(c, cs->name) == cs);      /* names are unique */
		fz_check_addr(&cs->vip);
		CHECK(cs->mode == SL_MODE_NAT && cs->sched == SL_SCHED_MAGLEV);
		CHECK(cs->reject == SL_REJECT_RST || cs->reject == SL_REJECT_DROP);
		CHECK(cs->on_trip == SL_TRIP_RESET || cs->on_trip == SL_TRIP_KEEP);
		CHECK(cs->max_ejection_pct <= 100);
		CHECK(cs->max_conns <= SL_MAX_CONNS_LIMIT);
		CHECK(cs->connect_timeout_ms >= 1 && cs->connect_timeout_ms <= SL_CONNECT_TIMEOUT_MAX);
		CHECK(cs->idle_timeout_s >= 1 && cs->idle_timeout_s <= SL_IDLE_TIMEOUT_MAX);
		CHECK(runtime ? cs->line >= 0 : cs->line >= 1);
		CHECK(!cs->nr_backends || cs->backends);
		CHECK(cs->maglev_size <= SL_MAGLEV_MAX);
		CHECK(cs->nr_backends ? cs->maglev_size >= cs->nr_backends && sl_is_prime(cs->maglev_size)
				      : cs->maglev_size == 0 || sl_is_prime(cs->maglev_size));
		for (t = 0; t < s; t++)
			CHECK(!fz_same_l4(&cs->vip, &c->services[t].vip));
		for (b = 0; b < cs->nr_backends; b++) {
			const struct sl_cfg_backend *cb = &cs->backends[b];

			fz_check_addr(&cb->addr);
			CHECK(cb->addr.family == cs->vip.family && cb->addr.proto == cs->vip.proto);
			CHECK(cb->weight <= 65535);
			CHECK(cb->max_conns <= SL_MAX_CONNS_LIMIT && cb->max_pending <= SL_MAX_CONNS_LIMIT);
			CHECK(runtime ? cb->line >= 0 : cb->line >= 1);
			/* one service per backend (NAT), and never at a VIP address */
			for (t = 0; t <= s; t++)
				for (u = 0; u < (t == s ? b : c->services[t].nr_backends); u++)
					CHECK(!fz_same_l4(&cb->addr, &c->services[t].backends[u].addr));
			for (t = 0; t < c->nr_services; t++)
				CHECK(cb->addr.family != c->services[t].vip.family ||
				      memcmp(cb->addr.addr, c->services[t].vip.addr, sizeof(cb->addr.addr)));
		}
	}

	/* sluiced builds one Maglev table per service from exactly this */
	for (s = 0; s < c->nr_services; s++) {
		const struct sl_cfg_service *cs = &c->services[s];
		struct sl_maglev_backend *mb;
		__u32 *table, M = cs->maglev_size;
		int weighted = 0;

		if (!M || slots + M > maglev_budget)
			continue;
		slots += M;
		mb = calloc(cs->nr_backends ? cs->nr_backends : 1, sizeof(*mb));
		table = calloc(M, sizeof(*table));
		CHECK(mb && table);
		for (b = 0; b < cs->nr_backends; b++) {
			mb[b].addr = cs->backends[b].addr;
			mb[b].weight = cs->backends[b].weight;
			mb[b].id = b + 1;
			weighted |= mb[b].weight > 0;
		}
		CHECK(sl_maglev_build(mb, cs->nr_backends, M, table) == 0);
		for (i = 0; i < M; i++) {
			/* every slot a weighted backend's, or all 0 when none is */
			if (weighted)
				CHECK(table[i] >= 1 && table[i] <= cs->nr_backends &&
				      mb[table[i] - 1].weight > 0);
			else
				CHECK(table[i] == 0);
		}
		free(mb);
		free(table);
	}
}

#endif
