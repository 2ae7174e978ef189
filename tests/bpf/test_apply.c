// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Config diffing against real maps: applying a config writes only what
 * differs from what the maps hold. Ids of what stays are kept, tables of
 * services that did not change are not touched, a removed backend drains.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice.skel.h"
#include "config.h"
#include "dataplane.h"

#define SVC(name, vip, b1, w1, b2, w2) \
	"  { name = \"" name "\"; vip = \"" vip "\"; port = 80; proto = \"tcp\";\n" \
	"    backends = ( { addr = \"" b1 "\"; port = 80; weight = " #w1 "; },\n" \
	"                 { addr = \"" b2 "\"; port = 80; weight = " #w2 "; } ); }"

#define HEAD "interfaces = ( \"lo\" );\nservices = (\n"
#define A_CFG HEAD SVC("a", "198.18.1.1", "198.19.1.1", 1, "198.19.1.2", 1) ",\n" \
	SVC("b", "198.18.1.2", "198.19.2.1", 1, "198.19.2.2", 1) ",\n" \
	SVC("c", "198.18.1.3", "198.19.3.1", 1, "198.19.3.2", 1) ");\n"
/* b's second backend weighs 3 */
#define B_CFG HEAD SVC("a", "198.18.1.1", "198.19.1.1", 1, "198.19.1.2", 1) ",\n" \
	SVC("b", "198.18.1.2", "198.19.2.1", 1, "198.19.2.2", 3) ",\n" \
	SVC("c", "198.18.1.3", "198.19.3.1", 1, "198.19.3.2", 1) ");\n"
/* a loses 198.19.1.2 (weight 0 would keep it in the config: leave it out) */
#define C_CFG HEAD \
	"  { name = \"a\"; vip = \"198.18.1.1\"; port = 80; proto = \"tcp\";\n" \
	"    backends = ( { addr = \"198.19.1.1\"; port = 80; weight = 1; } ); },\n" \
	SVC("b", "198.18.1.2", "198.19.2.1", 1, "198.19.2.2", 1) ",\n" \
	SVC("c", "198.18.1.3", "198.19.3.1", 1, "198.19.3.2", 1) ");\n"

static const char *addrs[] = {
	"198.19.1.1", "198.19.1.2", "198.19.2.1", "198.19.2.2", "198.19.3.1", "198.19.3.2",
};
static const char *vips[] = { "198.18.1.1", "198.18.1.2", "198.18.1.3" };

/* What the maps say, for comparing one apply with the next. */
struct snap {
	__u32 bk_id[6];
	struct sl_backend bk[6];
	struct sl_svc svc[3];
	__u32 table_id[3];              /* inner map id per service */
	__u32 *table[3];                /* its slots, M + 1 */
	__u32 len[3];
};

static struct sl_dp *dp;

static void apply(const char *text)
{
	struct sl_config *cfg;
	char err[512];

	if (sl_config_load_string(text, "test.conf", &cfg, err, sizeof(err)))
		fail_msg("config: %s", err);
	if (sl_dp_apply(dp, cfg, err, sizeof(err)))
		fail_msg("apply: %s", err);
	sl_config_free(cfg);
}

static void l4(struct sl_l4addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(sl_addr_parse(s, a), 0);
	a->port = htons(80);
	a->proto = 6;
}

static void take(struct snap *s)
{
	int fd_bk = bpf_map__fd(dp->skel->maps.sl_backend);
	int fd_svc = bpf_map__fd(dp->skel->maps.sl_svc);
	int fd_mg = bpf_map__fd(dp->skel->maps.sl_maglev);
	unsigned i, j;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 6; i++) {
		struct sl_l4addr a;

		l4(&a, addrs[i]);
		s->bk_id[i] = sl_dp_backend_id(dp, &a);
		if (s->bk_id[i])
			assert_int_equal(bpf_map_lookup_elem(fd_bk, &s->bk_id[i], &s->bk[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		struct sl_l4addr v;
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info);
		int ifd;

		l4(&v, vips[i]);
		assert_int_equal(bpf_map_lookup_elem(fd_svc, &v, &s->svc[i]), 0);
		assert_int_equal(bpf_map_lookup_elem(fd_mg, &s->svc[i].id, &s->table_id[i]), 0);
		ifd = bpf_map_get_fd_by_id(s->table_id[i]);
		assert_true(ifd >= 0);
		assert_int_equal(bpf_obj_get_info_by_fd(ifd, &info, &ilen), 0);
		s->len[i] = info.max_entries;
		s->table[i] = calloc(s->len[i], sizeof(__u32));
		for (j = 0; j < s->len[i]; j++)
			assert_int_equal(bpf_map_lookup_elem(ifd, &j, &s->table[i][j]), 0);
		close(ifd);
	}
}

static void drop(struct snap *s)
{
	for (int i = 0; i < 3; i++)
		free(s->table[i]);
}

static int table_same(const struct snap *x, const struct snap *y, int i)
{
	return x->len[i] == y->len[i] && !memcmp(x->table[i], y->table[i], x->len[i] * 4);
}

static int table_has(const struct snap *s, int svc, __u32 id)
{
	for (__u32 j = 1; j < s->len[svc]; j++)
		if (s->table[svc][j] == id)
			return 1;
	return 0;
}

static int setup(void **state)
{
	struct sl_dp_opts o = { .pin_root = NULL, .conn_table_size = 4096 };
	char err[512];

	(void)state;
	if (sl_dp_open(&dp, &o, err, sizeof(err))) {
		fprintf(stderr, "sl_dp_open: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_dp_close(dp);
	dp = NULL;
	return 0;
}

/* The same config twice: nothing moves, not even a table's map. */
static void same_config_writes_nothing(void **state)
{
	struct snap x, y;

	(void)state;
	apply(A_CFG);
	take(&x);
	apply(A_CFG);
	take(&y);
	assert_memory_equal(x.bk_id, y.bk_id, sizeof(x.bk_id));
	assert_memory_equal(x.bk, y.bk, sizeof(x.bk));
	assert_memory_equal(x.svc, y.svc, sizeof(x.svc));
	assert_memory_equal(x.table_id, y.table_id, sizeof(x.table_id));
	for (int i = 0; i < 3; i++)
		assert_true(table_same(&x, &y, i));
	drop(&x);
	drop(&y);
}

/* One weight: only that service's table changes, every id stays. */
static void reweight_touches_one_table(void **state)
{
	struct snap x, y;

	(void)state;
	apply(A_CFG);
	take(&x);
	apply(B_CFG);
	take(&y);
	assert_memory_equal(x.bk_id, y.bk_id, sizeof(x.bk_id));
	assert_memory_equal(x.svc, y.svc, sizeof(x.svc));
	assert_true(table_same(&x, &y, 0));
	assert_true(table_same(&x, &y, 2));
	assert_int_equal(x.table_id[0], y.table_id[0]);
	assert_int_equal(x.table_id[2], y.table_id[2]);
	assert_false(table_same(&x, &y, 1));
	assert_int_equal(y.bk[3].weight, 3);
	drop(&x);
	drop(&y);
	apply(A_CFG);
}

/* A removed backend leaves its service's table but keeps its id, marked
 * GONE, so its established flows finish; the other services are untouched. */
static void removed_backend_drains(void **state)
{
	struct snap x, y;

	(void)state;
	apply(A_CFG);
	take(&x);
	assert_true(table_has(&x, 0, x.bk_id[1]));
	apply(C_CFG);
	take(&y);
	assert_memory_equal(x.bk_id, y.bk_id, sizeof(x.bk_id));
	assert_true(y.bk[1].flags & SL_BK_F_GONE);
	assert_false(y.bk[0].flags & SL_BK_F_GONE);
	assert_false(table_has(&y, 0, y.bk_id[1]));
	assert_true(table_has(&y, 0, y.bk_id[0]));
	assert_true(table_same(&x, &y, 1));
	assert_true(table_same(&x, &y, 2));
	/* back in the config: the same id, no longer draining */
	apply(A_CFG);
	drop(&y);
	take(&y);
	assert_int_equal(y.bk_id[1], x.bk_id[1]);
	assert_false(y.bk[1].flags & SL_BK_F_GONE);
	assert_true(table_same(&x, &y, 0));
	drop(&x);
	drop(&y);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(same_config_writes_nothing),
		cmocka_unit_test(reweight_touches_one_table),
		cmocka_unit_test(removed_backend_drains),
	};

	return cmocka_run_group_tests_name("apply", t, setup, teardown);
}
