// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests: sluice.conf parsing and validation. Configs are multi-line
 * strings, one source line per C line, so the line numbers in the expected
 * errors can be read off the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "config.h"
#include "maglev.h"

#define NAME "t.conf"

static struct sl_config *load_ok(const char *text)
{
	struct sl_config *c = NULL;
	char err[512] = "";
	int rc = sl_config_load_string(text, NAME, &c, err, sizeof(err));

	if (rc)
		fail_msg("expected success, got %d: %s", rc, err);
	assert_non_null(c);
	return c;
}

/* The load fails with "t.conf:LINE: ..." containing needle; *out untouched. */
static void expect_err(const char *text, int line, const char *needle)
{
	struct sl_config sentinel, *c = &sentinel;
	char err[512] = "", prefix[64];
	int rc = sl_config_load_string(text, NAME, &c, err, sizeof(err));

	snprintf(prefix, sizeof(prefix), NAME ":%d: ", line);
	if (rc != -EINVAL)
		fail_msg("expected -EINVAL with \"%s%s\", got %d (%s)", prefix, needle, rc, err);
	if (c != &sentinel)
		fail_msg("*out was written on error");
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, needle))
		fail_msg("expected \"%s...%s...\", got \"%s\"", prefix, needle, err);
}

static __u32 ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static int same_ip6(const struct sl_l4addr *a, const char *s)
{
	struct in6_addr b;

	assert_int_equal(inet_pton(AF_INET6, s, &b), 1);
	return a->family == SL_AF_INET6 && !memcmp(a->addr, &b, 16);
}

/* ---- a full config ------------------------------------------------------- */

static const char full[] =
	"# sluice test config\n"                                          /* 1 */
	"interfaces = ( \"gw-c\", \"gw-b1\",\n"                           /* 2 */
	"               \"gw-b2\" );\n"                                   /* 3 */
	"pin_root = \"/sys/fs/bpf/lab1/\";\n"                             /* 4 */
	"run_dir = \"/run/lab1\";\n"                                      /* 5 */
	"conn_table_size = 65536;\n"                                      /* 6 */
	"xdp_mode = \"generic\";\n"                                       /* 7 */
	"services = (\n"                                                  /* 8 */
	"  { name = \"web\";\n"                                           /* 9 */
	"    vip = \"198.18.1.100\"; port = 80; proto = \"tcp\";\n"       /* 10 */
	"    mode = \"nat\"; scheduler = \"maglev\"; maglev_size = 1009;\n" /* 11 */
	"    max_conns = 10000; connect_timeout_ms = 150;\n"              /* 12 */
	"    idle_timeout_s = 600; reject = \"drop\"; on_trip = \"keep\";\n" /* 13 */
	"    max_ejection_percent = 33;\n"                                /* 14 */
	"    backends = (\n"                                              /* 15 */
	"      { addr = \"198.19.0.11\"; port = 8080; weight = 1;\n"      /* 16 */
	"        max_conns = 500; max_pending = 64; },\n"                 /* 17 */
	"      { addr = \"198.19.0.12\"; port = 8080; weight = 2; },\n"   /* 18 */
	"      {\n"                                                       /* 19 */
	"        addr = \"198.19.0.13\";\n"                               /* 20 */
	"        port = 8080;\n"                                          /* 21 */
	"        weight = 0;\n"                                           /* 22 */
	"      } ); },\n"                                                 /* 23 */
	"  { name = \"dns6\"; vip = \"2001:2:0:1::53\"; port = 53; proto = \"udp\";\n" /* 24 */
	"    backends = ( { addr = \"2001:2:0:2::11\"; port = 5353; weight = 65535;\n" /* 25 */
	"                   max_conns = 10000000; max_pending = 0; } ); },\n" /* 26 */
	"  { name = \"web-udp.v4_1\"; vip = \"198.18.1.100\"; port = 80; proto = \"udp\"; }\n" /* 27 */
	");\n";                                                           /* 28 */

static void test_full(void **state)
{
	struct sl_config *c = load_ok(full);
	const struct sl_cfg_service *s;
	const struct sl_cfg_backend *b;

	assert_string_equal(c->file, NAME);
	assert_int_equal(c->nr_ifaces, 3);
	assert_string_equal(c->ifaces[0], "gw-c");
	assert_string_equal(c->ifaces[1], "gw-b1");
	assert_string_equal(c->ifaces[2], "gw-b2");
	assert_string_equal(c->pin_root, "/sys/fs/bpf/lab1");   /* trailing '/' dropped */
	assert_string_equal(c->run_dir, "/run/lab1");
	assert_int_equal(c->conn_table_size, 65536);
	assert_int_equal(c->xdp_generic, 1);
	assert_int_equal(c->nr_services, 3);

	s = &c->services[0];
	assert_string_equal(s->name, "web");
	assert_int_equal(s->line, 9);
	assert_int_equal(s->vip.family, SL_AF_INET);
	assert_int_equal(s->vip.addr[0], ip4("198.18.1.100"));
	assert_int_equal(s->vip.addr[1] | s->vip.addr[2] | s->vip.addr[3], 0);
	assert_int_equal(s->vip.port, htons(80));
	assert_int_equal(s->vip.proto, IPPROTO_TCP);
	assert_int_equal(s->mode, SL_MODE_NAT);
	assert_int_equal(s->sched, SL_SCHED_MAGLEV);
	assert_int_equal(s->maglev_size, 1009);
	assert_int_equal(s->max_conns, 10000);
	assert_int_equal(s->connect_timeout_ms, 150);
	assert_int_equal(s->idle_timeout_s, 600);
	assert_int_equal(s->reject, SL_REJECT_DROP);
	assert_int_equal(s->on_trip, SL_TRIP_KEEP);
	assert_int_equal(s->max_ejection_pct, 33);
	assert_int_equal(s->nr_backends, 3);
	b = &s->backends[0];
	assert_int_equal(b->line, 16);
	assert_int_equal(b->addr.family, SL_AF_INET);
	assert_int_equal(b->addr.addr[0], ip4("198.19.0.11"));
	assert_int_equal(b->addr.addr[1] | b->addr.addr[2] | b->addr.addr[3], 0);
	assert_int_equal(b->addr.port, htons(8080));
	assert_int_equal(b->addr.proto, IPPROTO_TCP);
	assert_int_equal(b->weight, 1);
	assert_int_equal(b->max_conns, 500);
	assert_int_equal(b->max_pending, 64);
	b = &s->backends[1];
	assert_int_equal(b->line, 18);
	assert_int_equal(b->addr.addr[0], ip4("198.19.0.12"));
	assert_int_equal(b->weight, 2);
	assert_int_equal(b->max_conns, 0);
	assert_int_equal(b->max_pending, 0);
	b = &s->backends[2];
	assert_int_equal(b->line, 19);                  /* the group's '{' */
	assert_int_equal(b->weight, 0);

	s = &c->services[1];
	assert_string_equal(s->name, "dns6");
	assert_int_equal(s->line, 24);
	assert_true(same_ip6(&s->vip, "2001:2:0:1::53"));
	assert_int_equal(s->vip.port, htons(53));
	assert_int_equal(s->vip.proto, IPPROTO_UDP);
	assert_int_equal(s->idle_timeout_s, 30);        /* udp default */
	assert_int_equal(s->connect_timeout_ms, 200);
	assert_int_equal(s->maglev_size, 101);          /* default for 1 backend */
	assert_int_equal(s->nr_backends, 1);
	b = &s->backends[0];
	assert_int_equal(b->line, 25);
	assert_true(same_ip6(&b->addr, "2001:2:0:2::11"));
	assert_int_equal(b->addr.port, htons(5353));
	assert_int_equal(b->addr.proto, IPPROTO_UDP);
	assert_int_equal(b->weight, 65535);
	assert_int_equal(b->max_conns, 10000000);

	/* same VIP and port, other protocol: a different service */
	s = &c->services[2];
	assert_string_equal(s->name, "web-udp.v4_1");
	assert_int_equal(s->vip.proto, IPPROTO_UDP);
	assert_int_equal(s->nr_backends, 0);
	assert_null(s->backends);
	assert_int_equal(s->maglev_size, 0);

	assert_ptr_equal(sl_config_find_service(c, "dns6"), &c->services[1]);
	assert_ptr_equal(sl_config_find_service(c, "web"), &c->services[0]);
	assert_null(sl_config_find_service(c, "nope"));
	assert_null(sl_config_find_service(c, NULL));
	sl_config_free(c);
}

static void test_defaults(void **state)
{
	struct sl_config *c = load_ok(
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 443;\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 443; },\n"
		"               { addr = \"198.19.0.2\"; port = 443; } ); },\n"
		"  { name = \"u\"; vip = \"198.18.0.1\"; port = 443; proto = \"udp\"; } );\n");
	const struct sl_cfg_service *s = &c->services[0];

	assert_string_equal(c->pin_root, SL_DEFAULT_PIN_ROOT);
	assert_string_equal(c->pin_root, "/sys/fs/bpf/sluice");
	assert_string_equal(c->run_dir, "/run/sluice");
	assert_int_equal(c->conn_table_size, SL_CONN_DEFAULT);
	assert_int_equal(c->xdp_generic, 0);
	assert_int_equal(s->vip.proto, IPPROTO_TCP);
	assert_int_equal(s->mode, SL_MODE_NAT);
	assert_int_equal(s->sched, SL_SCHED_MAGLEV);
	assert_int_equal(s->reject, SL_REJECT_RST);
	assert_int_equal(s->on_trip, SL_TRIP_RESET);
	assert_int_equal(s->max_ejection_pct, 50);
	assert_int_equal(s->max_conns, 0);
	assert_int_equal(s->connect_timeout_ms, 200);
	assert_int_equal(s->idle_timeout_s, 300);
	assert_int_equal(s->maglev_size, sl_maglev_default_size(2));
	assert_int_equal(s->maglev_size, 211);
	assert_int_equal(s->backends[0].weight, 1);
	assert_int_equal(s->backends[0].max_conns, 0);
	assert_int_equal(s->backends[0].max_pending, 0);
	assert_int_equal(c->services[1].idle_timeout_s, 30);
	assert_int_equal(c->services[1].reject, SL_REJECT_RST);
	sl_config_free(c);

	/* the smallest config: interfaces only */
	c = load_ok("interfaces = [ \"lo0\" ];\n");
	assert_int_equal(c->nr_ifaces, 1);
	assert_int_equal(c->nr_services, 0);
	assert_null(c->services);
	sl_config_free(c);

	c = load_ok("interfaces = ( \"a\" ); services = ( );\n");
	assert_int_equal(c->nr_services, 0);
	sl_config_free(c);
	c = load_ok("interfaces = ( \"a\" ); services = [ ];\n");
	assert_int_equal(c->nr_services, 0);
	sl_config_free(c);
	c = load_ok("interfaces = ( \"a\" );\n"
		    "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80; backends = [ ]; } );\n");
	assert_int_equal(c->services[0].nr_backends, 0);
	assert_int_equal(c->services[0].maglev_size, 0);
	sl_config_free(c);
}

/* Integers may carry libconfig's L suffix; within range they are fine. */
static void test_int64_values(void **state)
{
	struct sl_config *c = load_ok(
		"interfaces = ( \"a\" ); conn_table_size = 16777216L;\n"
		"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 0x50;\n"
		"  max_conns = 10000000L; } );\n");

	assert_int_equal(c->conn_table_size, 16777216);
	assert_int_equal(c->services[0].vip.port, htons(80));
	assert_int_equal(c->services[0].max_conns, 10000000);
	sl_config_free(c);
}

/* ---- hash ---------------------------------------------------------------- */

static const char hbase[] =
	"interfaces = ( \"gw-c\", \"gw-b1\" );\n"
	"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
	"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
	"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n";

static __u64 hash_of(const char *text)
{
	struct sl_config *c = load_ok(text);
	__u64 h = c->hash;

	sl_config_free(c);
	return h;
}

static void test_hash(void **state)
{
	__u64 h = hash_of(hbase);

	assert_true(h != 0);
	assert_true(h == hash_of(hbase));               /* stable */
	/* layout, comments, separators and the file name do not count */
	assert_true(h == hash_of(
		"# a comment\n"
		"interfaces = (\"gw-c\",\"gw-b1\")\n"
		"\n"
		"/* block\n comment */ services = (\n"
		"  {\n"
		"    name = \"web\"   // trailing\n"
		"    vip = \"198.18.1.100\"\n"
		"    port = 80\n"
		"    backends = (\n"
		"      { port = 80; addr = \"198.19.0.11\"; },\n"
		"      { addr = \"198.19.0.12\"; port = 0x50; weight = 2L; }\n"
		"    )\n"
		"  }\n"
		");\n"));
	{
		struct sl_config *c = NULL;
		char err[256];

		assert_int_equal(sl_config_load_string(hbase, "other-name", &c, err, sizeof(err)), 0);
		assert_true(c->hash == h);
		sl_config_free(c);
	}
	/* an explicit default is the same config as an implicit one */
	assert_true(h == hash_of(
		"interfaces = ( \"gw-c\", \"gw-b1\" ); pin_root = \"/sys/fs/bpf/sluice\";\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80; proto = \"tcp\";\n"
		"  idle_timeout_s = 300; maglev_size = 211;\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n"));

	/* anything that matters changes it */
	assert_true(h != hash_of(
		"interfaces = ( \"gw-c\", \"gw-b1\" );\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 3; } ); } );\n"));
	assert_true(h != hash_of(
		"interfaces = ( \"gw-c\", \"gw-b1\" );\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; max_pending = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n"));
	assert_true(h != hash_of(
		"interfaces = ( \"gw-c\", \"gw-b2\" );\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n"));
	assert_true(h != hash_of(
		"interfaces = ( \"gw-c\", \"gw-b1\" );\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80; reject = \"drop\";\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n"));
	assert_true(h != hash_of(
		"interfaces = ( \"gw-c\", \"gw-b1\" ); xdp_mode = \"generic\";\n"
		"services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.11\"; port = 80; weight = 1; },\n"
		"               { addr = \"198.19.0.12\"; port = 80; weight = 2; } ); } );\n"));
}

/* ---- files ----------------------------------------------------------------- */

static void test_file(void **state)
{
	char path[] = "/tmp/sluice-test-config-XXXXXX", err[512], want[600];
	struct sl_config *c = NULL;
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(full, f);
	fclose(f);
	assert_int_equal(sl_config_load_file(path, &c, err, sizeof(err)), 0);
	assert_string_equal(c->file, path);
	assert_int_equal(c->nr_services, 3);
	{
		struct sl_config *d = load_ok(full);

		assert_true(c->hash == d->hash);
		sl_config_free(d);
	}
	sl_config_free(c);

	/* errors name the path */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("interfaces = ( \"a\" );\n\nconn_table_size = 5;\n", f);
	fclose(f);
	c = NULL;
	assert_int_equal(sl_config_load_file(path, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	snprintf(want, sizeof(want), "%s:3: conn_table_size: 5 is out of range (1024..16777216)", path);
	assert_string_equal(err, want);

	/* a NUL byte would silently cut the file short */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("interfaces = ( \"a\" );\n", f);
	fputc(0, f);
	fputs("services = ( { name = \"x\"; } );\n", f);
	fclose(f);
	assert_int_equal(sl_config_load_file(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: NUL byte", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);

	assert_int_equal(sl_config_load_file(path, &c, err, sizeof(err)), -ENOENT);
	assert_null(c);
	snprintf(want, sizeof(want), "%s: cannot open: ", path);
	assert_memory_equal(err, want, strlen(want));
}

/* The example from the man page, kept as a fixture. */
static void test_example_file(void **state)
{
	static const char *paths[] = { "tests/unit/configs/example.conf", "configs/example.conf",
				       "../../tests/unit/configs/example.conf" };
	struct sl_config *c = NULL;
	char err[512] = "";
	int rc = -ENOENT;

	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]) && rc == -ENOENT; i++)
		rc = sl_config_load_file(paths[i], &c, err, sizeof(err));
	if (rc)
		fail_msg("example.conf: %d %s", rc, err);
	assert_int_equal(c->nr_services, 2);
	assert_non_null(sl_config_find_service(c, "web"));
	assert_non_null(sl_config_find_service(c, "dns"));
	{
		const struct sl_cfg_service *w = sl_config_find_service(c, "web");

		assert_int_equal(w->check.type, SL_CHECK_HTTP);
		assert_string_equal(w->check.path, "/healthz");
		assert_int_equal(w->check.timeout_ms, 150);
		assert_int_equal(w->backends[0].check_set, 1);
		assert_string_equal(w->backends[0].check.path, "/status");
		assert_int_equal(w->backends[0].check.interval_ms, 200);
		assert_string_equal(w->backends[1].check.path, "/healthz");
		assert_int_equal(sl_config_find_service(c, "dns")->check.type, SL_CHECK_NONE);
	}
	sl_config_free(c);
}

/* ---- addresses -------------------------------------------------------------- */

static void test_addr(void **state)
{
	struct sl_l4addr a;
	char buf[64];

	memset(&a, 0xaa, sizeof(a));
	assert_int_equal(sl_addr_parse("198.18.1.1", &a), 0);
	assert_int_equal(a.family, SL_AF_INET);
	assert_int_equal(a.addr[0], ip4("198.18.1.1"));
	assert_int_equal(a.addr[1] | a.addr[2] | a.addr[3], 0);
	assert_int_equal(a.port, 0xaaaa);                /* left alone */
	assert_int_equal(sl_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "198.18.1.1");

	assert_int_equal(sl_addr_parse("2001:2::1", &a), 0);
	assert_int_equal(a.family, SL_AF_INET6);
	assert_true(same_ip6(&a, "2001:2::1"));
	assert_int_equal(sl_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2001:2::1");
	assert_int_equal(sl_addr_format(&a, buf, 5), -ENOSPC);

	assert_int_equal(sl_addr_parse("198.18.1", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("198.18.1.1 ", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("gw-c", &a), -EINVAL);
	assert_int_equal(sl_addr_parse("2001:2::1::2", &a), -EINVAL);
	assert_int_equal(sl_addr_parse(NULL, &a), -EINVAL);
	a.family = 5;
	assert_int_equal(sl_addr_format(&a, buf, sizeof(buf)), -EINVAL);
}

/* ---- errors ---------------------------------------------------------------- */

#define IF "interfaces = ( \"gw-c\" );\n"      /* line 1 of most error configs */

static void test_err_syntax(void **state)
{
	expect_err(IF
		   "services = ( { name = \"a\";\n"
		   "  port = ; } );\n", 3, "syntax error");
	expect_err(IF "services = ( { name = \"a\"; }\n", 3, "syntax error");
	expect_err(IF "a = 1;\na = 2;\n", 3, "duplicate setting name");
	expect_err(IF "\n@include \"other.conf\"\n", 3, "@include is not supported");
	expect_err("", 1, "missing required setting 'interfaces'");
	expect_err("# nothing\n\n", 1, "missing required setting 'interfaces'");
}

static void test_err_unknown(void **state)
{
	expect_err("interface = ( \"gw-c\" );\n", 1,
		   "unknown setting 'interface' at the top level (did you mean 'interfaces'?)");
	expect_err(IF "\nfoo = 1;\n", 3, "unknown setting 'foo' at the top level");
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "    sheduler = \"maglev\"; } );\n", 4,
		   "unknown setting 'sheduler' in a service (did you mean 'scheduler'?)");
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "    backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "                 { addr = \"198.19.0.2\"; port = 80;\n"
		   "                   wieght = 2; } ); } );\n", 6,
		   "unknown setting 'wieght' in a backend (did you mean 'weight'?)");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  check = { type = \"http\";\n"
		   "            intervall_ms = 100; }; } );\n", 4,
		   "unknown setting 'intervall_ms' in a check (did you mean 'interval_ms'?)");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  breaker = { open_ms = 1000;\n"
		   "              retries = 3; }; } );\n", 4,
		   "unknown setting 'retries' in a breaker");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    check = { type = \"tcp\"; rize = 3; }; } ); } );\n", 4,
		   "unknown setting 'rize' in a check (did you mean 'rise'?)");
	expect_err(IF "tik_ms = 100;\n", 2,
		   "unknown setting 'tik_ms' at the top level (did you mean 'tick_ms'?)");
}

static void test_err_types(void **state)
{
	expect_err("interfaces = \"gw-c\";\n", 1, "interfaces: expected a list of names");
	expect_err("interfaces = ( \"gw-c\",\n  7 );\n", 2,
		   "interfaces: element 2 is an integer, expected a string");
	expect_err(IF "pin_root = 5;\n", 2, "pin_root: expected a string, not an integer");
	expect_err(IF "conn_table_size = \"big\";\n", 2,
		   "conn_table_size: expected an integer, not a string");
	expect_err(IF "conn_table_size = 65536.0;\n", 2,
		   "conn_table_size: expected an integer, not a floating-point number");
	expect_err(IF "xdp_mode = true;\n", 2, "xdp_mode: expected a string, not a boolean");
	expect_err(IF "services = { name = \"a\"; };\n", 2,
		   "services: expected a list ( { ... }, ... ), not a group");
	expect_err(IF "services = (\n  \"web\" );\n", 3, "services: expected groups");
	expect_err(IF "services = ( { name = 5; } );\n", 2, "name: expected a string, not an integer");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\";\n"
		   "  port = \"80\"; } );\n", 3, "port: expected an integer, not a string");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = { addr = \"198.19.0.1\"; }; } );\n", 3,
		   "backends: expected a list");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( \"198.19.0.1\" ); } );\n", 3, "backends: expected groups");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    weight = 1.5; } ); } );\n", 4,
		   "weight: expected an integer, not a floating-point number");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    max_conns = [ 1 ]; } ); } );\n", 4,
		   "max_conns: expected an integer, not an array");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = 198; port = 80; } );\n", 2,
		   "vip: expected a string, not an integer");
}

/* One service line 2-3; the setting under test on line 3. */
#define SVC(x) IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n  " x " } );\n"
/* One backend; the setting under test on line 4. */
#define BK(x) IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n" \
	"  backends = ( { addr = \"198.19.0.1\"; port = 80;\n    " x " } ); } );\n"

static void test_err_ranges(void **state)
{
	expect_err(IF "conn_table_size = 1023;\n", 2, "conn_table_size: 1023 is out of range (1024..16777216)");
	expect_err(IF "conn_table_size = 16777217;\n", 2, "conn_table_size: 16777217 is out of range");
	expect_err(IF "conn_table_size = -1;\n", 2, "conn_table_size: -1 is out of range");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\";\n  port = 0; } );\n", 3,
		   "port: 0 is out of range (1..65535)");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\";\n  port = 65536; } );\n", 3,
		   "port: 65536 is out of range (1..65535)");
	expect_err(SVC("max_conns = 10000001;"), 3, "max_conns: 10000001 is out of range (0..10000000)");
	expect_err(SVC("max_conns = -1;"), 3, "max_conns: -1 is out of range");
	expect_err(SVC("connect_timeout_ms = 0;"), 3, "connect_timeout_ms: 0 is out of range (1..60000)");
	expect_err(SVC("connect_timeout_ms = 60001;"), 3, "connect_timeout_ms: 60001 is out of range");
	expect_err(SVC("idle_timeout_s = 0;"), 3, "idle_timeout_s: 0 is out of range (1..86400)");
	expect_err(SVC("idle_timeout_s = 86401;"), 3, "idle_timeout_s: 86401 is out of range");
	expect_err(SVC("max_ejection_percent = 101;"), 3, "max_ejection_percent: 101 is out of range (0..100)");
	expect_err(SVC("maglev_size = 65539;"), 3, "maglev_size: 65539 is out of range (1..65537)");
	expect_err(SVC("maglev_size = 0;"), 3, "maglev_size: 0 is out of range");
	expect_err(BK("weight = 65536;"), 4, "weight: 65536 is out of range (0..65535)");
	expect_err(BK("weight = -1;"), 4, "weight: -1 is out of range");
	expect_err(BK("max_conns = 10000001;"), 4, "max_conns: 10000001 is out of range (0..10000000)");
	expect_err(BK("max_pending = 10000001;"), 4, "max_pending: 10000001 is out of range (0..10000000)");
	expect_err(BK("max_pending = -5;"), 4, "max_pending: -5 is out of range");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\";\n    port = 0; } ); } );\n", 4,
		   "port: 0 is out of range (1..65535)");
}

/* libconfig wraps integers beyond 32 bits without an L suffix: 4294967377
 * would read as 81, 4294968320 as 1024, 0x100000000 as 0. */
static void test_err_wrapped(void **state)
{
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\";\n  port = 4294967377; } );\n", 3,
		   "port: 4294967377 is out of range (1..65535)");
	expect_err(IF "conn_table_size = 4294968320;\n", 2,
		   "conn_table_size: 4294968320 is out of range (1024..16777216)");
	expect_err(BK("max_conns = 0x100000000;"), 4, "max_conns: 0x100000000 is out of range");
	expect_err(BK("weight = 2147483648;"), 4, "weight: 2147483648 is out of range");
	expect_err(BK("weight = -4294967295;"), 4, "weight: -4294967295 is out of range");
	/* the value on a line of its own: the setting's line is its name's */
	expect_err(BK("max_conns =\n      4294967396;"), 4, "max_conns: 4294967396 is out of range");
	expect_err(BK("max_pending = 99999999999999999999;"), 4,
		   "max_pending: 99999999999999999999 is out of range");
	/* with L, libconfig reads 64 bits: the value itself is out of range */
	expect_err(BK("max_conns = 4294967296L;"), 4, "max_conns: 4294967296 is out of range (0..10000000)");
	expect_err(BK("max_conns = 99999999999999999999L;"), 4, "max_conns: 9223372036854775807 is out of range");
	/* the check knows strings and comments from numbers */
	{
		struct sl_config *c = load_ok(
			"# 99999999999\n"
			"interfaces = ( \"gw-c\" ); /* 4294967377 */\n"
			"services = ( { name = \"n4294967377\"; vip = \"198.18.0.1\"; port = 80; // 5000000000\n"
			"  max_conns = 100; } );\n");

		assert_int_equal(c->services[0].max_conns, 100);
		sl_config_free(c);
	}
}

static void test_err_choices(void **state)
{
	expect_err(SVC("mode = \"dsr\";"), 3, "mode dsr is not supported yet");
	expect_err(SVC("mode = \"tun\";"), 3, "mode: \"tun\" is not one of \"nat\", \"dsr\"");
	expect_err(SVC("scheduler = \"p2c\";"), 3, "scheduler p2c is not supported yet");
	expect_err(SVC("scheduler = \"rr\";"), 3, "scheduler: \"rr\" is not one of \"maglev\", \"p2c\"");
	expect_err(SVC("proto = \"sctp\";"), 3, "proto: \"sctp\" is not one of \"tcp\", \"udp\"");
	expect_err(SVC("proto = \"TCP\";"), 3, "proto: \"TCP\" is not one of");
	expect_err(SVC("reject = \"reset\";"), 3, "reject: \"reset\" is not one of \"rst\", \"drop\"");
	expect_err(SVC("on_trip = \"drop\";"), 3, "on_trip: \"drop\" is not one of \"reset\", \"keep\"");
	expect_err(IF "xdp_mode = \"offload\";\n", 2, "xdp_mode: \"offload\" is not one of \"native\", \"generic\"");
}

static void test_err_required(void **state)
{
	expect_err(IF "services = (\n  { vip = \"198.18.0.1\"; port = 80; } );\n", 3,
		   "missing required setting 'name'");
	expect_err(IF "services = (\n  { name = \"a\";\n    port = 80; } );\n", 3,
		   "missing required setting 'vip'");
	expect_err(IF "services = (\n  { name = \"a\";\n    vip = \"198.18.0.1\"; } );\n", 3,
		   "missing required setting 'port'");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "    { port = 80; } ); } );\n", 4, "missing required setting 'addr'");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "    {\n      addr = \"198.19.0.2\"; } ); } );\n", 4, "missing required setting 'port'");
}

static void test_err_interfaces(void **state)
{
	expect_err("interfaces = ( );\n", 1, "interfaces: at least one interface is required");
	expect_err("interfaces = ( \"gw-c\",\n  \"gw-b1\",\n  \"gw-c\" );\n", 3,
		   "interfaces: \"gw-c\" is listed twice");
	expect_err("interfaces = ( \"gw-c\",\n  \"a-name-of-16-chr\" );\n", 2,
		   "interfaces: \"a-name-of-16-chr\" is not a valid interface name");
	expect_err("interfaces = ( \"\" );\n", 1, "interfaces: \"\" is not a valid interface name");
	expect_err("interfaces = ( \"eth0:1\" );\n", 1, "is not a valid interface name");
	expect_err("interfaces = ( \"a/b\" );\n", 1, "is not a valid interface name");
	expect_err("interfaces = ( \"a b\" );\n", 1, "is not a valid interface name");
	{
		/* 15 characters is the limit (IFNAMSIZ - 1) */
		struct sl_config *c = load_ok("interfaces = ( \"a-name-of-15-ch\" );\n");

		assert_string_equal(c->ifaces[0], "a-name-of-15-ch");
		sl_config_free(c);
	}
	{
		/* SL_MAX_IFACES names are fine, one more is not */
		size_t cap = 32 * (SL_MAX_IFACES + 2);
		char *t = malloc(cap);
		size_t n;

		assert_non_null(t);
		n = snprintf(t, cap, "interfaces = (\n");
		for (int i = 0; i < SL_MAX_IFACES; i++)
			n += snprintf(t + n, cap - n, "\"if%d\"%s", i, i + 1 < SL_MAX_IFACES ? ",\n" : "\n");
		snprintf(t + n, cap - n, ");\n");
		{
			struct sl_config *c = load_ok(t);

			assert_int_equal(c->nr_ifaces, SL_MAX_IFACES);
			assert_string_equal(c->ifaces[SL_MAX_IFACES - 1], "if255");
			sl_config_free(c);
		}
		snprintf(t + n - 1, cap - n + 1, ",\n\"one-more\" );\n");
		expect_err(t, 1, "interfaces: 257 names, at most 256");
		free(t);
	}
}

static void test_err_paths(void **state)
{
	expect_err(IF "pin_root = \"sys/fs/bpf\";\n", 2, "pin_root: \"sys/fs/bpf\" is not an absolute path");
	expect_err(IF "run_dir = \"\";\n", 2, "run_dir: \"\" is not an absolute path");
	{
		char t[600], longp[300];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = 0;
		snprintf(t, sizeof(t), IF "\nrun_dir = \"%s\";\n", longp);
		expect_err(t, 3, "run_dir: longer than 255 characters");
	}
}

static void test_err_names(void **state)
{
	expect_err(IF "services = (\n  { name = \"we b\"; vip = \"198.18.0.1\"; port = 80; } );\n", 3,
		   "name: \"we b\" is not a valid service name");
	expect_err(IF "services = (\n  { name = \"\"; vip = \"198.18.0.1\"; port = 80; } );\n", 3,
		   "name: \"\" is not a valid service name");
	expect_err(IF "services = (\n  { name = \"abcdefghijklmnopqrstuvwxyz012345\"; vip = \"198.18.0.1\"; port = 80; } );\n", 3,
		   "is not a valid service name (1..31 characters");
	expect_err(IF "services = (\n  { name = \"a/b\"; vip = \"198.18.0.1\"; port = 80; } );\n", 3,
		   "name: \"a/b\" is not a valid service name");
	{
		struct sl_config *c = load_ok(IF
			"services = ( { name = \"abcdefghijklmnopqrstuvwxyz01234\"; vip = \"198.18.0.1\"; port = 80; } );\n");

		assert_string_equal(c->services[0].name, "abcdefghijklmnopqrstuvwxyz01234");
		sl_config_free(c);
	}
	expect_err(IF
		   "services = (\n"
		   "  { name = \"web\"; vip = \"198.18.0.1\"; port = 80; },\n"
		   "  { name = \"api\"; vip = \"198.18.0.2\"; port = 80; },\n"
		   "  { vip = \"198.18.0.3\"; port = 80;\n"
		   "    name = \"web\"; } );\n", 6,
		   "name: service \"web\" is already defined at line 3");
}

static void test_err_addresses(void **state)
{
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"198.18.1\"; port = 80; } );\n", 3,
		   "vip: \"198.18.1\" is not an IPv4 or IPv6 address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"web.example\"; port = 80; } );\n", 3,
		   "vip: \"web.example\" is not an IPv4 or IPv6 address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"224.0.0.1\"; port = 80; } );\n", 3,
		   "vip: 224.0.0.1 is a multicast address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"0.0.0.0\"; port = 80; } );\n", 3,
		   "vip: 0.0.0.0 is in 0.0.0.0/8");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"127.0.0.1\"; port = 80; } );\n", 3,
		   "vip: 127.0.0.1 is a loopback address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"255.255.255.255\"; port = 80; } );\n", 3,
		   "vip: 255.255.255.255 is a reserved or broadcast address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"::\"; port = 80; } );\n", 3,
		   "vip: :: is the unspecified address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"ff02::1\"; port = 80; } );\n", 3,
		   "vip: ff02::1 is a multicast address");
	expect_err(IF "services = ( { name = \"a\";\n  vip = \"::ffff:198.18.0.1\"; port = 80; } );\n", 3,
		   "vip: ::ffff:198.18.0.1 is IPv4-mapped");
	expect_err(IF "services = ( { name = \"a\"; vip = \"2001:2::1\"; port = 80;\n"
		   "  backends = ( { addr = \"::1\"; port = 80; } ); } );\n", 3,
		   "addr: ::1 is a loopback address");
	expect_err(IF "services = ( { name = \"a\"; vip = \"2001:2::1\"; port = 80;\n"
		   "  backends = ( { addr = \"fe80::1\"; port = 80; } ); } );\n", 3,
		   "addr: fe80::1 is link-local");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.300\"; port = 80; } ); } );\n", 3,
		   "addr: \"198.19.0.300\" is not an IPv4 or IPv6 address");
	/* family */
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "    { addr = \"2001:2:0:2::1\"; port = 80; } ); } );\n", 4,
		   "addr: 2001:2:0:2::1 is IPv6 but the service's vip 198.18.0.1 is IPv4");
	expect_err(IF "services = ( { name = \"a\"; vip = \"2001:2::1\"; port = 80;\n"
		   "  backends = (\n"
		   "    { port = 80;\n"
		   "      addr = \"198.19.0.1\"; } ); } );\n", 5,
		   "addr: 198.19.0.1 is IPv4 but the service's vip 2001:2::1 is IPv6");
}

static void test_err_duplicates(void **state)
{
	/* the same (vip, port, proto) twice */
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80; },\n"
		   "  { name = \"b\"; vip = \"198.18.0.2\"; port = 80; },\n"
		   "  { name = \"c\"; port = 80;\n"
		   "    vip = \"198.18.0.1\"; } );\n", 6,
		   "vip: 198.18.0.1 port 80/tcp is already the vip of service \"a\" (line 3)");
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"2001:2::1\"; port = 53; proto = \"udp\"; },\n"
		   "  { name = \"b\";\n"
		   "    vip = \"2001:2:0::1\"; port = 53; proto = \"udp\"; } );\n", 5,
		   "vip: 2001:2::1 port 53/udp is already the vip of service \"a\" (line 3)");

	/* a backend twice in one service, and across services */
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "               { addr = \"198.19.0.2\"; port = 80; },\n"
		   "               { addr = \"198.19.0.1\"; port = 80; } ); } );\n", 5,
		   "addr: 198.19.0.1 port 80/tcp is already a backend of service \"a\" (line 3)");
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "    backends = ( { addr = \"198.19.0.1\"; port = 80; } ); },\n"
		   "  { name = \"b\"; vip = \"198.18.0.2\"; port = 80;\n"
		   "    backends = ( { addr = \"198.19.0.2\"; port = 80; },\n"
		   "      { port = 80;\n"
		   "        addr = \"198.19.0.1\"; } ); } );\n", 8,
		   "addr: 198.19.0.1 port 80/tcp is already a backend of service \"a\" (line 4)");
	/* the earliest repeat in the file is the one reported */
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "    backends = ( { addr = \"198.19.0.9\"; port = 80; },\n"
		   "                 { addr = \"198.19.0.1\"; port = 80; },\n"
		   "                 { addr = \"198.19.0.1\"; port = 80; },\n"
		   "                 { addr = \"198.19.0.9\"; port = 80; } ); } );\n", 6,
		   "addr: 198.19.0.1 port 80/tcp is already a backend of service \"a\" (line 5)");
	{
		/* other port or other protocol: a different backend */
		struct sl_config *c = load_ok(IF
			"services = (\n"
			"  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
			"    backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
			"                 { addr = \"198.19.0.1\"; port = 81; } ); },\n"
			"  { name = \"b\"; vip = \"198.18.0.1\"; port = 80; proto = \"udp\";\n"
			"    backends = ( { addr = \"198.19.0.1\"; port = 80; } ); } );\n");

		assert_int_equal(c->services[0].nr_backends, 2);
		assert_int_equal(c->services[1].backends[0].addr.proto, IPPROTO_UDP);
		sl_config_free(c);
	}

	/* a backend on a VIP address, whatever the port, defined before it too */
	expect_err(IF
		   "services = (\n"
		   "  { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "    backends = (\n"
		   "      { addr = \"198.18.0.2\"; port = 8080; } ); },\n"
		   "  { name = \"b\"; vip = \"198.18.0.2\"; port = 443; } );\n", 5,
		   "addr: 198.18.0.2 is the vip of service \"b\" (line 6)");
	expect_err(IF
		   "services = ( { name = \"a\"; vip = \"2001:2::1\"; port = 80;\n"
		   "  backends = ( { addr = \"2001:2::1\"; port = 81; } ); } );\n", 3,
		   "addr: 2001:2::1 is the vip of service \"a\" (line 2)");
}

static void test_err_maglev_size(void **state)
{
	expect_err(SVC("maglev_size = 1000;"), 3, "maglev_size: 1000 is not prime");
	expect_err(SVC("maglev_size = 1;"), 3, "maglev_size: 1 is not prime");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  maglev_size = 2;\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		   "               { addr = \"198.19.0.2\"; port = 80; },\n"
		   "               { addr = \"198.19.0.3\"; port = 80; weight = 0; } ); } );\n", 3,
		   "maglev_size: 2 is smaller than the number of backends (3)");
	{
		struct sl_config *c = load_ok(IF
			"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
			"  maglev_size = 3;\n"
			"  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
			"               { addr = \"198.19.0.2\"; port = 80; },\n"
			"               { addr = \"198.19.0.3\"; port = 80; } ); },\n"
			" { name = \"b\"; vip = \"198.18.0.1\"; port = 81; maglev_size = 65537; } );\n");

		assert_int_equal(c->services[0].maglev_size, 3);
		assert_int_equal(c->services[1].maglev_size, 65537);
		sl_config_free(c);
	}
}

/* Generated configs at and over the limits. */
static char *gen(unsigned services, unsigned backends_each, unsigned extra_backends)
{
	size_t cap = 256 + (size_t)services * 128 + ((size_t)services * backends_each + extra_backends) * 64;
	char *t = malloc(cap);
	size_t n;
	unsigned b = 0;

	assert_non_null(t);
	n = snprintf(t, cap, "interfaces = ( \"gw-c\" );\nservices = (\n");
	for (unsigned s = 0; s < services; s++) {
		unsigned nb = backends_each + (s == services - 1 ? extra_backends : 0);

		n += snprintf(t + n, cap - n,
			      "{ name = \"s%u\"; vip = \"198.18.%u.%u\"; port = %u;\n  backends = (",
			      s, s / 250, s % 250 + 1, 80 + s % 7);
		for (unsigned i = 0; i < nb; i++, b++)
			n += snprintf(t + n, cap - n, "%s{ addr = \"198.19.%u.%u\"; port = %u; }",
				      i ? ",\n" : "\n", (b / 16) / 250, (b / 16) % 250 + 1,
				      1000 + b % 16);
		n += snprintf(t + n, cap - n, " ); }%s\n", s + 1 < services ? "," : "");
	}
	snprintf(t + n, cap - n, ");\n");
	return t;
}

static void test_limits(void **state)
{
	char *t;
	struct sl_config *c;

	/* SL_MAX_SERVICES services, SL_MAX_BACKENDS - 1 backends: fine */
	t = gen(SL_MAX_SERVICES, 15, SL_MAX_BACKENDS - 1 - SL_MAX_SERVICES * 15);
	c = load_ok(t);
	assert_int_equal(c->nr_services, SL_MAX_SERVICES);
	assert_int_equal(c->services[SL_MAX_SERVICES - 1].nr_backends,
			 SL_MAX_BACKENDS - 1 - (SL_MAX_SERVICES - 1) * 15);
	assert_int_equal(c->services[SL_MAX_SERVICES - 1].maglev_size, 65537);
	sl_config_free(c);
	free(t);

	/* one backend more: named at its line (the last service's last backend) */
	t = gen(2, 0, SL_MAX_BACKENDS);
	{
		/* 2 header lines, 2 for s0, 2 for s1's head: backend i on line 7 + i */
		int line = 7 + SL_MAX_BACKENDS - 1;

		expect_err(t, line, "too many backends: at most 65535 in all services together");
	}
	free(t);

	/* one service more: named at its line */
	t = gen(SL_MAX_SERVICES + 1, 0, 0);
	expect_err(t, 2 + 2 * SL_MAX_SERVICES + 1, "too many services: at most 4096");
	free(t);
}

/* Errors fit the buffer given, truncated, and a NULL err is fine. */
static void test_err_buffer(void **state)
{
	struct sl_config *c = NULL;
	char small[12];

	assert_int_equal(sl_config_load_string("interfaces = 1;", NAME, &c, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "t.conf:1: i");
	assert_int_equal(sl_config_load_string("interfaces = 1;", NAME, &c, NULL, 0), -EINVAL);
	assert_int_equal(sl_config_load_string("interfaces = 1;", NULL, &c, small, sizeof(small)), -EINVAL);
	assert_memory_equal(small, "<string>:1:", 11);
	assert_null(c);
	sl_config_free(NULL);
}

/* A config changed in memory obeys the file's rules, and its hash is the
 * hash the same content has when read from a file. */
static void test_validate_in_memory(void **state)
{
	static const char *two =
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.1.1\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 80; } ); },\n"
		"  { name = \"b\"; vip = \"198.18.1.2\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.2\"; port = 80; weight = 3; } ); } );\n";
	static const char *one =
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.1.1\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 80; } ); },\n"
		"  { name = \"b\"; vip = \"198.18.1.2\"; port = 80;\n"
		"  backends = ( { addr = \"198.19.0.2\"; port = 80; weight = 1; } ); } );\n";
	struct sl_config *c = load_ok(two), *d = load_ok(one);
	struct sl_cfg_backend keep;
	char err[512];
	__u8 v;

	c->services[1].backends[0].weight = 1;
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), 0);
	assert_true(c->hash == d->hash);
	snprintf(c->services[1].name, sizeof(c->services[1].name), "a");
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "runtime change: name: service \"a\" is already defined"));
	snprintf(c->services[1].name, sizeof(c->services[1].name), "b");
	keep = c->services[1].backends[0];
	c->services[1].backends[0].addr.addr[0] = ip4("198.18.1.1");
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is the vip of service \"a\""));
	c->services[1].backends[0] = keep;
	c->services[1].backends[0].addr.addr[0] = ip4("198.19.0.1");
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is already a backend of service"));
	c->services[1].backends[0].addr.addr[0] = ip4("127.0.0.1");
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "loopback"));
	c->services[1].backends[0] = keep;
	assert_int_equal(sl_config_choice("mode", "dsr", &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not supported yet"));
	assert_int_equal(sl_config_choice("proto", "udp", &v, err, sizeof(err)), 0);
	assert_int_equal(v, IPPROTO_UDP);
	sl_config_free(c);
	sl_config_free(d);
}

static void test_control_group(void **state)
{
	struct sl_config *c = load_ok("interfaces = ( \"eth0\" );\ncontrol_group = \"root\";\n");
	struct sl_config *d = load_ok("interfaces = ( \"eth0\" );\n");

	assert_string_equal(c->control_group, "root");
	assert_int_equal(c->control_gid, 0);
	assert_true(c->hash != d->hash);
	assert_int_equal(d->control_group[0], 0);
	expect_err("interfaces = ( \"eth0\" );\ncontrol_group = \"no-such-group-xyz\";\n", 2, "no group named");
	expect_err("interfaces = ( \"eth0\" );\ncontrol_group = 5;\n", 2, "expected a string");
	sl_config_free(c);
	sl_config_free(d);
}

static void test_metrics_listen(void **state)
{
	struct sl_config *d = load_ok("interfaces = ( \"eth0\" );\n");
	struct sl_config *c4 = load_ok("interfaces = ( \"eth0\" );\nmetrics_listen = \"198.18.0.1:9100\";\n");
	struct sl_config *c6 = load_ok("interfaces = ( \"eth0\" );\nmetrics_listen = \"[2001:2::1]:80\";\n");
	struct sl_config *off = load_ok("interfaces = ( \"eth0\" );\nmetrics_listen = \"off\";\n");
	struct sl_config *empty = load_ok("interfaces = ( \"eth0\" );\nmetrics_listen = \"\";\n");
	struct sl_config *same = load_ok("interfaces = ( \"eth0\" );\nmetrics_listen = \"127.0.0.1:9469\";\n");
	struct sl_l4addr a;
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
		"127.0.0.1:-1", "2001:2::1:80", "[2001:2::1]80", "[2001:2::1]", "[127.0.0.1]:80",
		"localhost:80", ":80", "[]:80", "127.0.0.1: 80", "300.1.1.1:80",
	};

	/* the default: 127.0.0.1:9469 */
	assert_string_equal(d->metrics_listen, "127.0.0.1:9469");
	assert_int_equal(d->metrics_addr.family, SL_AF_INET);
	assert_int_equal(d->metrics_addr.addr[0], ip4("127.0.0.1"));
	assert_int_equal(ntohs(d->metrics_addr.port), 9469);
	assert_int_equal(d->metrics_addr.proto, IPPROTO_TCP);
	assert_true(d->hash == same->hash);     /* the default written out changes nothing */
	assert_int_equal(c4->metrics_addr.addr[0], ip4("198.18.0.1"));
	assert_int_equal(ntohs(c4->metrics_addr.port), 9100);
	assert_true(c4->hash != d->hash);
	assert_int_equal(c6->metrics_addr.family, SL_AF_INET6);
	assert_int_equal(ntohs(c6->metrics_addr.port), 80);
	assert_string_equal(c6->metrics_listen, "[2001:2::1]:80");
	assert_int_equal(off->metrics_listen[0], 0);
	assert_int_equal(off->metrics_addr.family, 0);
	assert_int_equal(empty->metrics_addr.family, 0);
	assert_true(off->hash == empty->hash && off->hash != d->hash);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		if (!sl_listen_parse(bad[i], &a))
			fail_msg("\"%s\" parsed", bad[i]);
		snprintf(text, sizeof(text), "interfaces = ( \"eth0\" );\n\nmetrics_listen = \"%s\";\n", bad[i]);
		expect_err(text, 3, "metrics_listen: \"");
	}
	expect_err("interfaces = ( \"eth0\" );\nmetrics_listen = 9469;\n", 2, "expected a string");
	expect_err("interfaces = ( \"eth0\" );\nmetrics_listen = \"0123456789012345678901234567890123456789"
		   "012345678901234567890123456789:80\";\n", 2, "metrics_listen");
	sl_config_free(d);
	sl_config_free(c4);
	sl_config_free(c6);
	sl_config_free(off);
	sl_config_free(empty);
	sl_config_free(same);
}

/* ---- resilience: checks, breakers, panic, drain, timers ---------------------- */

static const char resil[] =
	"interfaces = ( \"gw-c\" );\n"                                                     /* 1 */
	"pending_table_size = 131072; tick_ms = 50; reconcile_ms = 2000;\n"                /* 2 */
	"pending_scan_ms = 5; closing_timeout_s = 20;\n"                                   /* 3 */
	"services = (\n"                                                                   /* 4 */
	"  { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"                         /* 5 */
	"    panic = \"fail_closed\"; drain_timeout_ms = 30000; max_ejection_percent = 34;\n" /* 6 */
	"    check = { type = \"https\"; path = \"/healthz?full=1\"; host = \"web.example\";\n" /* 7 */
	"              expect = \"204\"; port = 8443; interval_ms = 250; timeout_ms = 100;\n" /* 8 */
	"              rise = 3; fall = 4; jitter_pct = 0; tls_verify = true; };\n"       /* 9 */
	"    breaker = { consecutive_failures = 5; failure_rate = 40; window_ms = 10000;\n" /* 10 */
	"                min_volume = 50; open_ms = 500; open_max_ms = 60000; jitter_pct = 25;\n" /* 11 */
	"                half_open_trials = 7; mode = \"metrics_only\"; };\n"              /* 12 */
	"    backends = (\n"                                                               /* 13 */
	"      { addr = \"198.19.0.11\"; port = 80; },\n"                                  /* 14 */
	"      { addr = \"198.19.0.12\"; port = 80;\n"                                     /* 15 */
	"        check = { expect = \"200-299\"; interval_ms = 1000; tls_verify = false; }; },\n" /* 16 */
	"      { addr = \"198.19.0.13\"; port = 80;\n"                                     /* 17 */
	"        check = { type = \"tcp\"; port = 9000; }; } ); },\n"                      /* 18 */
	"  { name = \"dns\"; vip = \"198.18.1.53\"; port = 53; proto = \"udp\";\n"         /* 19 */
	"    check = { type = \"http\"; port = 8080; };\n"                                 /* 20 */
	"    breaker = { consecutive_failures = 0; window = 100; };\n"                     /* 21 */
	"    backends = ( { addr = \"198.19.0.53\"; port = 53; } ); } );\n";               /* 22 */

static void test_resil_full(void **state)
{
	struct sl_config *c = load_ok(resil);
	const struct sl_cfg_service *s = &c->services[0];
	const struct sl_cfg_check *k;
	const struct sl_brk_cfg *b;

	assert_int_equal(c->pending_table_size, 131072);
	assert_int_equal(c->tick_ms, 50);
	assert_int_equal(c->reconcile_ms, 2000);
	assert_int_equal(c->pending_scan_ms, 5);
	assert_int_equal(c->closing_timeout_s, 20);

	assert_int_equal(s->panic, SL_BRK_PANIC_FAIL_CLOSED);
	assert_int_equal(s->drain_timeout_ms, 30000);
	assert_int_equal(s->max_ejection_pct, 34);
	assert_int_equal(s->idle_timeout_s, 300);
	k = &s->check;
	assert_int_equal(k->type, SL_CHECK_HTTPS);
	assert_string_equal(k->path, "/healthz?full=1");
	assert_string_equal(k->host, "web.example");
	assert_int_equal(k->expect_lo, 204);
	assert_int_equal(k->expect_hi, 204);
	assert_int_equal(k->port, 8443);
	assert_int_equal(k->interval_ms, 250);
	assert_int_equal(k->timeout_ms, 100);
	assert_int_equal(k->rise, 3);
	assert_int_equal(k->fall, 4);
	assert_int_equal(k->jitter_pct, 0);
	assert_int_equal(k->tls_verify, 1);
	b = &s->breaker;
	assert_int_equal(b->consecutive_failures, 5);
	assert_int_equal(b->failure_rate, 40);
	assert_int_equal(b->window_kind, SL_BRK_WIN_TIME);
	assert_int_equal(b->window, 10000);
	assert_int_equal(b->min_volume, 50);
	assert_int_equal(b->open_ms, 500);
	assert_int_equal(b->open_max_ms, 60000);
	assert_int_equal(b->jitter_pct, 25);
	assert_int_equal(b->half_open_trials, 7);
	assert_int_equal(s->breaker_mode, SL_BRKM_METRICS_ONLY);

	/* no group of its own: the service's check */
	assert_int_equal(s->backends[0].check_set, 0);
	assert_memory_equal(&s->backends[0].check, &s->check, sizeof(s->check));
	/* its own group: the service's, key by key overridden */
	k = &s->backends[1].check;
	assert_int_equal(s->backends[1].check_set, 1);
	assert_int_equal(k->type, SL_CHECK_HTTPS);
	assert_string_equal(k->path, "/healthz?full=1");
	assert_string_equal(k->host, "web.example");
	assert_int_equal(k->expect_lo, 200);
	assert_int_equal(k->expect_hi, 299);
	assert_int_equal(k->port, 8443);
	assert_int_equal(k->interval_ms, 1000);
	assert_int_equal(k->timeout_ms, 100);           /* the service's, written there */
	assert_int_equal(k->rise, 3);
	assert_int_equal(k->fall, 4);
	assert_int_equal(k->jitter_pct, 0);
	assert_int_equal(k->tls_verify, 0);
	/* another type: the service's http settings are not inherited */
	k = &s->backends[2].check;
	assert_int_equal(s->backends[2].check_set, 1);
	assert_int_equal(k->type, SL_CHECK_TCP);
	assert_int_equal(k->port, 9000);
	assert_int_equal(k->interval_ms, 250);
	assert_int_equal(k->timeout_ms, 100);
	assert_int_equal(k->rise, 3);
	assert_int_equal(k->fall, 4);
	assert_string_equal(k->path, "");
	assert_string_equal(k->host, "");
	assert_int_equal(k->expect_lo | k->expect_hi | k->tls_verify, 0);

	s = &c->services[1];
	assert_int_equal(s->idle_timeout_s, 30);
	assert_int_equal(s->panic, SL_BRK_PANIC_FAIL_OPEN);
	assert_int_equal(s->drain_timeout_ms, 0);
	k = &s->check;
	assert_int_equal(k->type, SL_CHECK_HTTP);
	assert_int_equal(k->port, 8080);
	assert_string_equal(k->path, "/");
	assert_string_equal(k->host, "");
	assert_int_equal(k->expect_lo, 200);
	assert_int_equal(k->expect_hi, 399);
	assert_int_equal(k->interval_ms, 1000);
	assert_int_equal(k->timeout_ms, 1000);
	assert_int_equal(k->rise, 2);
	assert_int_equal(k->fall, 2);
	assert_int_equal(k->jitter_pct, 10);
	assert_int_equal(k->tls_verify, 0);
	b = &s->breaker;
	assert_int_equal(b->consecutive_failures, 0);
	assert_int_equal(b->failure_rate, 50);
	assert_int_equal(b->window_kind, SL_BRK_WIN_COUNT);
	assert_int_equal(b->window, 100);
	assert_int_equal(b->min_volume, 10);
	assert_int_equal(b->open_ms, 1000);
	assert_int_equal(b->open_max_ms, 30000);
	assert_int_equal(b->jitter_pct, 10);
	assert_int_equal(b->half_open_trials, 3);
	assert_int_equal(s->breaker_mode, SL_BRKM_AUTO);
	assert_int_equal(s->backends[0].check_set, 0);
	assert_memory_equal(&s->backends[0].check, &s->check, sizeof(s->check));
	sl_config_free(c);
}

static void test_resil_defaults(void **state)
{
	struct sl_config *c = load_ok(
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 443;\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 443; } ); },\n"
		"  { name = \"u\"; vip = \"198.18.0.1\"; port = 443; proto = \"udp\"; } );\n");
	static const struct sl_cfg_check none;
	struct sl_brk_cfg def;
	struct sl_cfg_service d;

	sl_brk_cfg_defaults(&def);
	assert_int_equal(c->pending_table_size, SL_PENDING_DEFAULT);
	assert_int_equal(c->tick_ms, SL_DEFAULT_TICK_MS);
	assert_int_equal(c->reconcile_ms, SL_DEFAULT_RECONCILE_MS);
	assert_int_equal(c->pending_scan_ms, SL_DEFAULT_PENDING_SCAN_MS);
	assert_int_equal(c->closing_timeout_s, SL_DEFAULT_CLOSING_TIMEOUT_S);
	for (unsigned i = 0; i < 2; i++) {
		const struct sl_cfg_service *s = &c->services[i];

		assert_memory_equal(&s->check, &none, sizeof(none));
		assert_int_equal(s->check.type, SL_CHECK_NONE);
		assert_memory_equal(&s->breaker, &def, sizeof(def));
		assert_int_equal(s->breaker_mode, SL_BRKM_AUTO);
		assert_int_equal(s->panic, SL_BRK_PANIC_FAIL_OPEN);
		assert_int_equal(s->drain_timeout_ms, 0);
		assert_int_equal(s->max_ejection_pct, SL_DEFAULT_MAX_EJECTION_PCT);
	}
	assert_int_equal(c->services[0].idle_timeout_s, SL_DEFAULT_IDLE_TIMEOUT_TCP);
	assert_int_equal(c->services[1].idle_timeout_s, SL_DEFAULT_IDLE_TIMEOUT_UDP);
	assert_int_equal(c->services[0].backends[0].check_set, 0);
	assert_memory_equal(&c->services[0].backends[0].check, &none, sizeof(none));

	/* sl_config_service_defaults gives what the file gives */
	memset(&d, 0xa5, sizeof(d));
	sl_config_service_defaults(&d, IPPROTO_TCP);
	assert_memory_equal(&d.check, &none, sizeof(none));
	assert_memory_equal(&d.breaker, &def, sizeof(def));
	assert_int_equal(d.breaker_mode, SL_BRKM_AUTO);
	assert_int_equal(d.panic, SL_BRK_PANIC_FAIL_OPEN);
	assert_int_equal(d.drain_timeout_ms, 0);
	assert_int_equal(d.idle_timeout_s, 300);
	sl_config_service_defaults(&d, IPPROTO_UDP);
	assert_int_equal(d.idle_timeout_s, 30);
	sl_config_free(c);

	/* defaults that follow other settings */
	c = load_ok(
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		"  check = { type = \"tcp\"; interval_ms = 300; };\n"
		"  breaker = { window = 4; open_ms = 45000; };\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 80; },\n"
		"    { addr = \"198.19.0.2\"; port = 80; check = { interval_ms = 5000; }; },\n"
		"    { addr = \"198.19.0.3\"; port = 80; check = { }; } ); },\n"
		"  { name = \"b\"; vip = \"198.18.0.2\"; port = 80;\n"
		"  breaker = { window_ms = 60000; };\n"
		"  backends = ( { addr = \"198.19.0.4\"; port = 80;\n"
		"    check = { type = \"http\"; timeout_ms = 20; }; } ); } );\n");
	{
		const struct sl_cfg_service *s = &c->services[0];

		assert_int_equal(s->check.timeout_ms, 300);     /* min(1000, interval) */
		assert_int_equal(s->breaker.min_volume, 4);     /* min(10, window) */
		assert_int_equal(s->breaker.open_max_ms, 45000); /* max(30000, open_ms) */
		assert_int_equal(s->backends[1].check.interval_ms, 5000);
		assert_int_equal(s->backends[1].check.timeout_ms, 1000); /* from its own interval */
		assert_int_equal(s->backends[2].check_set, 1);  /* an empty group: the service's */
		assert_memory_equal(&s->backends[2].check, &s->check, sizeof(s->check));
		s = &c->services[1];
		assert_int_equal(s->check.type, SL_CHECK_NONE);
		assert_int_equal(s->breaker.window_kind, SL_BRK_WIN_TIME);
		assert_int_equal(s->breaker.window, 60000);
		assert_int_equal(s->breaker.min_volume, 10);
		assert_int_equal(s->backends[0].check_set, 1);  /* a check where the service has none */
		assert_int_equal(s->backends[0].check.type, SL_CHECK_HTTP);
		assert_int_equal(s->backends[0].check.timeout_ms, 20);
		assert_int_equal(s->backends[0].check.interval_ms, 1000);
		assert_string_equal(s->backends[0].check.path, "/");
	}
	sl_config_free(c);
}

/* Every bound, low and high, is accepted. */
static void test_resil_bounds(void **state)
{
	struct sl_config *c = load_ok(
		"interfaces = ( \"eth0\" );\n"
		"pending_table_size = 16777216; tick_ms = 10000; reconcile_ms = 600000;\n"
		"pending_scan_ms = 1000; closing_timeout_s = 3600;\n"
		"services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80; drain_timeout_ms = 86400000;\n"
		"  check = { type = \"https\"; interval_ms = 3600000; timeout_ms = 3600000; rise = 1000;\n"
		"    fall = 1000; jitter_pct = 100; port = 65535; expect = \"599\";\n"
		"    path = \"/0123456789012345678901234567890123456789012345678901234567890123456789"
		"01234567890123456789012345678901234567890123456789012345\"; };\n"
		"  breaker = { consecutive_failures = 1000; failure_rate = 100; window = 1024;\n"
		"    min_volume = 1024; open_ms = 3600000; open_max_ms = 3600000; jitter_pct = 100;\n"
		"    half_open_trials = 1000; }; },\n"
		"  { name = \"b\"; vip = \"198.18.0.2\"; port = 80; drain_timeout_ms = 0;\n"
		"  check = { type = \"http\"; interval_ms = 10; timeout_ms = 1; rise = 1; fall = 1;\n"
		"    jitter_pct = 0; port = 1; expect = \"100\"; };\n"
		"  breaker = { consecutive_failures = 0; failure_rate = 1; window = 1; min_volume = 1;\n"
		"    open_ms = 1; open_max_ms = 1; jitter_pct = 0; half_open_trials = 1; }; },\n"
		"  { name = \"c\"; vip = \"198.18.0.3\"; port = 80;\n"
		"  breaker = { consecutive_failures = 1; failure_rate = 0; window_ms = 10;\n"
		"    min_volume = 1000000; }; },\n"
		"  { name = \"d\"; vip = \"198.18.0.4\"; port = 80;\n"
		"  breaker = { window_ms = 3600000L; }; } );\n");

	assert_int_equal(c->pending_table_size, 16777216);
	assert_int_equal(c->services[0].drain_timeout_ms, 86400000);
	assert_int_equal(strlen(c->services[0].check.path), 127);
	assert_int_equal(c->services[0].check.interval_ms, 3600000);
	assert_int_equal(c->services[0].breaker.min_volume, 1024);
	assert_int_equal(c->services[1].check.timeout_ms, 1);
	assert_int_equal(c->services[1].breaker.open_max_ms, 1);
	assert_int_equal(c->services[2].breaker.min_volume, 1000000);
	assert_int_equal(c->services[3].breaker.window, 3600000);
	sl_config_free(c);

	c = load_ok("interfaces = ( \"eth0\" );\n"
		    "pending_table_size = 1024; tick_ms = 10; reconcile_ms = 100;\n"
		    "pending_scan_ms = 1; closing_timeout_s = 1;\n");
	assert_int_equal(c->pending_table_size, 1024);
	assert_int_equal(c->tick_ms, 10);
	assert_int_equal(c->reconcile_ms, 100);
	assert_int_equal(c->pending_scan_ms, 1);
	assert_int_equal(c->closing_timeout_s, 1);
	sl_config_free(c);
}

/* A service's check group on line 3, the setting under test on line 4. */
#define CHK(type, x) SVC("check = { type = \"" type "\";\n    " x " };")
/* A service's breaker group on line 3, the setting under test on line 4. */
#define BRK(x) SVC("breaker = {\n    " x " };")

static void test_err_resil_top(void **state)
{
	expect_err(IF "pending_table_size = 1023;\n", 2, "pending_table_size: 1023 is out of range (1024..16777216)");
	expect_err(IF "pending_table_size = 16777217;\n", 2, "pending_table_size: 16777217 is out of range (1024..16777216)");
	expect_err(IF "pending_table_size = 4294967297;\n", 2, "pending_table_size: 4294967297 is out of range (1024..16777216)");
	expect_err(IF "pending_table_size = \"big\";\n", 2, "pending_table_size: expected an integer, not a string");
	expect_err(IF "tick_ms = 9;\n", 2, "tick_ms: 9 is out of range (10..10000)");
	expect_err(IF "tick_ms = 10001;\n", 2, "tick_ms: 10001 is out of range (10..10000)");
	expect_err(IF "tick_ms = 4294967297;\n", 2, "tick_ms: 4294967297 is out of range (10..10000)");
	expect_err(IF "tick_ms = 1.5;\n", 2, "tick_ms: expected an integer, not a floating-point number");
	expect_err(IF "reconcile_ms = 99;\n", 2, "reconcile_ms: 99 is out of range (100..600000)");
	expect_err(IF "reconcile_ms = 600001;\n", 2, "reconcile_ms: 600001 is out of range (100..600000)");
	expect_err(IF "reconcile_ms = 4294967297;\n", 2, "reconcile_ms: 4294967297 is out of range");
	expect_err(IF "pending_scan_ms = 0;\n", 2, "pending_scan_ms: 0 is out of range (1..1000)");
	expect_err(IF "pending_scan_ms = 1001;\n", 2, "pending_scan_ms: 1001 is out of range (1..1000)");
	expect_err(IF "pending_scan_ms = 4294967297;\n", 2, "pending_scan_ms: 4294967297 is out of range");
	expect_err(IF "closing_timeout_s = 0;\n", 2, "closing_timeout_s: 0 is out of range (1..3600)");
	expect_err(IF "closing_timeout_s = 3601;\n", 2, "closing_timeout_s: 3601 is out of range (1..3600)");
	expect_err(IF "closing_timeout_s = 4294967297;\n", 2, "closing_timeout_s: 4294967297 is out of range");
	expect_err(IF "closing_timeout_s = true;\n", 2, "closing_timeout_s: expected an integer, not a boolean");

	expect_err(SVC("panic = \"fail-open\";"), 3,
		   "panic: \"fail-open\" is not one of \"fail_open\", \"fail_closed\"");
	expect_err(SVC("panic = 1;"), 3, "panic: expected a string, not an integer");
	expect_err(SVC("drain_timeout_ms = -1;"), 3, "drain_timeout_ms: -1 is out of range (0..86400000)");
	expect_err(SVC("drain_timeout_ms = 86400001;"), 3, "drain_timeout_ms: 86400001 is out of range (0..86400000)");
	expect_err(SVC("drain_timeout_ms = 4294967297;"), 3, "drain_timeout_ms: 4294967297 is out of range (0..86400000)");
	expect_err(SVC("drain_timeout_ms = \"30s\";"), 3, "drain_timeout_ms: expected an integer, not a string");
	expect_err(SVC("redispatch_max = -1;"), 3, "redispatch_max: -1 is out of range (0..3)");
	expect_err(SVC("redispatch_max = 4;"), 3, "redispatch_max: 4 is out of range (0..3)");
	expect_err(SVC("redispatch_max = 4294967298;"), 3, "redispatch_max: 4294967298 is out of range (0..3)");
}

/* Redispatch and slow calls: values, defaults, the hash. */
static void test_redispatch_slow(void **state)
{
	struct sl_config *c = load_ok(
		IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80; redispatch_max = 0;\n"
		"  breaker = { slow_call_ms = 250; slow_call_rate = 40; }; },\n"
		"  { name = \"b\"; vip = \"198.18.0.2\"; port = 80; } );\n");
	struct sl_config *d = load_ok(
		IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80; redispatch_max = 1;\n"
		"  breaker = { slow_call_ms = 250; slow_call_rate = 40; }; },\n"
		"  { name = \"b\"; vip = \"198.18.0.2\"; port = 80; } );\n");

	(void)state;
	assert_int_equal(c->services[0].redispatch_max, 0);
	assert_int_equal(c->services[0].breaker.slow_call_ms, 250);
	assert_int_equal(c->services[0].breaker.slow_call_rate, 40);
	assert_int_equal(c->services[1].redispatch_max, SL_DEFAULT_REDISPATCH_MAX);
	assert_int_equal(c->services[1].breaker.slow_call_ms, 0);
	assert_int_equal(c->services[1].breaker.slow_call_rate, 0);
	assert_true(c->hash != d->hash);
	sl_config_free(c);
	sl_config_free(d);
	expect_err(BRK("slow_call_ms = 0;"), 4, "slow_call_ms: 0 is out of range (1..60000)");
	expect_err(BRK("slow_call_rate = 101;"), 4, "slow_call_rate: 101 is out of range (0..100)");
	expect_err(BRK("slow_call_rate = 30;"), 3,
		   "breaker: slow_call_rate without slow_call_ms: no call could be slow");
}

static void test_err_check(void **state)
{
	/* types */
	expect_err(SVC("check = 5;"), 3, "check: expected a group { ... }, not an integer");
	expect_err(SVC("check = ( \"tcp\" );"), 3, "check: expected a group { ... }, not a list ( )");
	expect_err(SVC("check = {\n    type = 1; };"), 4, "type: expected a string, not an integer");
	expect_err(CHK("http", "path = 5;"), 4, "path: expected a string, not an integer");
	expect_err(CHK("http", "host = [ \"a\" ];"), 4, "host: expected a string, not an array [ ]");
	expect_err(CHK("http", "expect = 200;"), 4, "expect: expected a string, not an integer");
	expect_err(CHK("https", "tls_verify = 1;"), 4, "tls_verify: expected a boolean (true or false), not an integer");
	expect_err(CHK("https", "tls_verify = \"yes\";"), 4, "tls_verify: expected a boolean (true or false), not a string");
	expect_err(CHK("tcp", "interval_ms = \"1s\";"), 4, "interval_ms: expected an integer, not a string");
	expect_err(CHK("tcp", "rise = 2.0;"), 4, "rise: expected an integer, not a floating-point number");
	expect_err(CHK("tcp", "check = { };"), 4, "unknown setting 'check' in a check");

	/* type */
	expect_err(CHK("udp", ""), 3, "type: \"udp\" is not one of \"tcp\", \"http\", \"https\"");
	expect_err(CHK("HTTP", ""), 3, "type: \"HTTP\" is not one of");
	expect_err(SVC("check = {\n    interval_ms = 100; };"), 3, "missing required setting 'type'");
	expect_err(SVC("check = { };"), 3, "missing required setting 'type'");

	/* ranges, both ends, and beyond 32 bits in the source */
	expect_err(CHK("tcp", "interval_ms = 9;"), 4, "interval_ms: 9 is out of range (10..3600000)");
	expect_err(CHK("tcp", "interval_ms = 3600001;"), 4, "interval_ms: 3600001 is out of range (10..3600000)");
	expect_err(CHK("tcp", "interval_ms = 4294967297;"), 4, "interval_ms: 4294967297 is out of range (10..3600000)");
	expect_err(CHK("tcp", "interval_ms = 4294967297L;"), 4, "interval_ms: 4294967297 is out of range (10..3600000)");
	expect_err(CHK("tcp", "timeout_ms = 0;"), 4, "timeout_ms: 0 is out of range (1..3600000)");
	expect_err(CHK("tcp", "timeout_ms = 3600001;"), 4, "timeout_ms: 3600001 is out of range (1..3600000)");
	expect_err(CHK("tcp", "timeout_ms = 4294967297;"), 4, "timeout_ms: 4294967297 is out of range");
	expect_err(CHK("tcp", "rise = 0;"), 4, "rise: 0 is out of range (1..1000)");
	expect_err(CHK("tcp", "rise = 1001;"), 4, "rise: 1001 is out of range (1..1000)");
	expect_err(CHK("tcp", "rise = 4294967297;"), 4, "rise: 4294967297 is out of range (1..1000)");
	expect_err(CHK("tcp", "fall = 0;"), 4, "fall: 0 is out of range (1..1000)");
	expect_err(CHK("tcp", "fall = 1001;"), 4, "fall: 1001 is out of range (1..1000)");
	expect_err(CHK("tcp", "fall = 4294967297;"), 4, "fall: 4294967297 is out of range");
	expect_err(CHK("tcp", "jitter_pct = -1;"), 4, "jitter_pct: -1 is out of range (0..100)");
	expect_err(CHK("tcp", "jitter_pct = 101;"), 4, "jitter_pct: 101 is out of range (0..100)");
	expect_err(CHK("tcp", "jitter_pct = 4294967297;"), 4, "jitter_pct: 4294967297 is out of range");
	expect_err(CHK("tcp", "port = 0;"), 4, "port: 0 is out of range (1..65535)");
	expect_err(CHK("tcp", "port = 65536;"), 4, "port: 65536 is out of range (1..65535)");
	expect_err(CHK("tcp", "port = 4294967297;"), 4, "port: 4294967297 is out of range (1..65535)");

	/* timeout_ms <= interval_ms, named at timeout_ms */
	expect_err(CHK("tcp", "interval_ms = 200;\n    timeout_ms = 201;"), 5,
		   "timeout_ms: 201 is more than interval_ms (200)");
	expect_err(CHK("tcp", "timeout_ms = 1001;"), 4,            /* the default interval */
		   "timeout_ms: 1001 is more than interval_ms (1000)");

	/* path */
	expect_err(CHK("http", "path = \"healthz\";"), 4, "path: \"healthz\" does not start with '/'");
	expect_err(CHK("http", "path = \"\";"), 4, "path: \"\" does not start with '/'");
	expect_err(CHK("http", "path = \"/a b\";"), 4, "path: character 3 is a space, a control character or not ASCII");
	expect_err(CHK("http", "path = \"/a\\tb\";"), 4, "path: character 3 is a space");
	expect_err(CHK("http", "path = \"/\\x7f\";"), 4, "path: character 2 is a space");
	expect_err(CHK("http", "path = \"/caf\xc3\xa9\";"), 4, "path: character 5 is a space, a control character or not ASCII");
	expect_err(CHK("http", "path = \"/0123456789012345678901234567890123456789012345678901234567890123456789"
		       "012345678901234567890123456789012345678901234567890123456\";"), 4,
		   "path: longer than 127 characters");
	/* host */
	expect_err(CHK("http", "host = \"a b\";"), 4, "host: character 2 is a space, a control character or not ASCII");
	expect_err(CHK("http", "host = \"a\\nb\";"), 4, "host: character 2 is a space");
	expect_err(CHK("http", "host = \"0123456789012345678901234567890123456789012345678901234567890123456789"
		       "0123456789012345678901234567890123456789012345678901234567\";"), 4,
		   "host: longer than 127 characters");
	/* expect */
	expect_err(CHK("http", "expect = \"2xx\";"), 4, "expect: \"2xx\" is not a status \"NNN\" or a range \"NNN-NNN\"");
	expect_err(CHK("http", "expect = \"\";"), 4, "expect: \"\" is not a status");
	expect_err(CHK("http", "expect = \"20\";"), 4, "expect: \"20\" is not a status");
	expect_err(CHK("http", "expect = \"2000\";"), 4, "expect: \"2000\" is not a status");
	expect_err(CHK("http", "expect = \"200-\";"), 4, "expect: \"200-\" is not a status");
	expect_err(CHK("http", "expect = \"200-30\";"), 4, "expect: \"200-30\" is not a status");
	expect_err(CHK("http", "expect = \"200 399\";"), 4, "expect: \"200 399\" is not a status");
	expect_err(CHK("http", "expect = \"200..399\";"), 4, "expect: \"200..399\" is not a status");
	expect_err(CHK("http", "expect = \"+20-399\";"), 4, "expect: \"+20-399\" is not a status");
	expect_err(CHK("http", "expect = \"099\";"), 4, "expect: 99 is out of range (100..599)");
	expect_err(CHK("http", "expect = \"600\";"), 4, "expect: 600 is out of range (100..599)");
	expect_err(CHK("http", "expect = \"200-600\";"), 4, "expect: 600 is out of range (100..599)");
	expect_err(CHK("http", "expect = \"399-200\";"), 4, "expect: \"399-200\" is an empty range (399 is more than 200)");

	/* settings of other check types */
	expect_err(CHK("tcp", "path = \"/\";"), 4, "path: only for http and https checks, not \"tcp\"");
	expect_err(CHK("tcp", "host = \"a\";"), 4, "host: only for http and https checks, not \"tcp\"");
	expect_err(CHK("tcp", "expect = \"200\";"), 4, "expect: only for http and https checks, not \"tcp\"");
	expect_err(CHK("tcp", "tls_verify = false;"), 4, "tls_verify: only for https checks, not \"tcp\"");
	expect_err(CHK("http", "tls_verify = true;"), 4, "tls_verify: only for https checks, not \"http\"");

	/* a udp service: the check needs its own port */
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 53; proto = \"udp\";\n"
		   "  check = { type = \"tcp\"; interval_ms = 100; }; } );\n", 3,
		   "check: a tcp check of a udp service needs 'port' (the backends' udp port has no TCP listener)");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 53; proto = \"udp\";\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 53;\n"
		   "    check = { type = \"http\"; }; } ); } );\n", 4,
		   "check: a http check of a udp service needs 'port'");

	/* backends' check groups */
	expect_err(BK("check = \"tcp\";"), 4, "check: expected a group { ... }, not a string");
	expect_err(BK("check = {\n      rise = 3; };"), 4, "missing required setting 'type'");
	expect_err(BK("check = { type = \"tcp\";\n      rise = 0; };"), 5, "rise: 0 is out of range (1..1000)");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  check = { type = \"tcp\"; };\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    check = { path = \"/x\"; }; } ); } );\n", 5,
		   "path: only for http and https checks, not \"tcp\"");
	/* an interval that makes the service's timeout too long: named at the backend */
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  check = { type = \"tcp\"; interval_ms = 500; timeout_ms = 400; };\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    check = {\n"
		   "      interval_ms = 300; }; } ); } );\n", 6,
		   "timeout_ms: 400 is more than interval_ms (300)");
	expect_err(IF "services = ( { name = \"a\"; vip = \"198.18.0.1\"; port = 80;\n"
		   "  check = { type = \"tcp\"; interval_ms = 500; };\n"
		   "  backends = ( { addr = \"198.19.0.1\"; port = 80;\n"
		   "    check = {\n"
		   "      timeout_ms = 600; }; } ); } );\n", 6,
		   "timeout_ms: 600 is more than interval_ms (500)");
}

static void test_err_breaker(void **state)
{
	/* types */
	expect_err(SVC("breaker = 1;"), 3, "breaker: expected a group { ... }, not an integer");
	expect_err(SVC("breaker = ( );"), 3, "breaker: expected a group { ... }, not a list ( )");
	expect_err(BRK("window = \"20\";"), 4, "window: expected an integer, not a string");
	expect_err(BRK("mode = 1;"), 4, "mode: expected a string, not an integer");
	expect_err(BRK("failure_rate = 0.5;"), 4, "failure_rate: expected an integer, not a floating-point number");
	expect_err(BRK("windows = 20;"), 4, "unknown setting 'windows' in a breaker (did you mean 'window'?)");
	expect_err(BK("breaker = { };"), 4, "unknown setting 'breaker' in a backend");

	/* ranges, both ends, and beyond 32 bits in the source */
	expect_err(BRK("consecutive_failures = -1;"), 4, "consecutive_failures: -1 is out of range (0..1000)");
	expect_err(BRK("consecutive_failures = 1001;"), 4, "consecutive_failures: 1001 is out of range (0..1000)");
	expect_err(BRK("consecutive_failures = 4294967297;"), 4, "consecutive_failures: 4294967297 is out of range (0..1000)");
	expect_err(BRK("failure_rate = -1;"), 4, "failure_rate: -1 is out of range (0..100)");
	expect_err(BRK("failure_rate = 101;"), 4, "failure_rate: 101 is out of range (0..100)");
	expect_err(BRK("failure_rate = 4294967297;"), 4, "failure_rate: 4294967297 is out of range (0..100)");
	expect_err(BRK("window = 0;"), 4, "window: 0 is out of range (1..1024)");
	expect_err(BRK("window = 1025;"), 4, "window: 1025 is out of range (1..1024)");
	expect_err(BRK("window = 4294967297;"), 4, "window: 4294967297 is out of range (1..1024)");
	expect_err(BRK("window_ms = 9;"), 4, "window_ms: 9 is out of range (10..3600000)");
	expect_err(BRK("window_ms = 3600001;"), 4, "window_ms: 3600001 is out of range (10..3600000)");
	expect_err(BRK("window_ms = 4294967297;"), 4, "window_ms: 4294967297 is out of range (10..3600000)");
	expect_err(BRK("min_volume = 0;"), 4, "min_volume: 0 is out of range (1..1000000)");
	expect_err(BRK("window_ms = 1000; min_volume = 1000001;"), 4, "min_volume: 1000001 is out of range (1..1000000)");
	expect_err(BRK("min_volume = 4294967297;"), 4, "min_volume: 4294967297 is out of range");
	expect_err(BRK("open_ms = 0;"), 4, "open_ms: 0 is out of range (1..3600000)");
	expect_err(BRK("open_ms = 3600001;"), 4, "open_ms: 3600001 is out of range (1..3600000)");
	expect_err(BRK("open_ms = 4294967297;"), 4, "open_ms: 4294967297 is out of range (1..3600000)");
	expect_err(BRK("open_max_ms = 3600001;"), 4, "open_max_ms: 3600001 is out of range (1..3600000)");
	expect_err(BRK("open_max_ms = 4294967297;"), 4, "open_max_ms: 4294967297 is out of range");
	expect_err(BRK("jitter_pct = -1;"), 4, "jitter_pct: -1 is out of range (0..100)");
	expect_err(BRK("jitter_pct = 101;"), 4, "jitter_pct: 101 is out of range (0..100)");
	expect_err(BRK("jitter_pct = 4294967297;"), 4, "jitter_pct: 4294967297 is out of range");
	expect_err(BRK("half_open_trials = 0;"), 4, "half_open_trials: 0 is out of range (1..1000)");
	expect_err(BRK("half_open_trials = 1001;"), 4, "half_open_trials: 1001 is out of range (1..1000)");
	expect_err(BRK("half_open_trials = 4294967297;"), 4, "half_open_trials: 4294967297 is out of range");

	/* across settings */
	expect_err(BRK("window = 20;\n    window_ms = 1000;"), 5,
		   "window and window_ms: a count window or a time window, not both");
	expect_err(BRK("window_ms = 1000;\n    window = 20;"), 5,
		   "window and window_ms: a count window or a time window, not both");
	expect_err(BRK("window = 20;\n    min_volume = 21;"), 5,
		   "min_volume: 21 is more than the window (20 outcomes): the rate could never trip");
	expect_err(BRK("min_volume = 21;"), 4,               /* the default window, 20 */
		   "min_volume: 21 is more than the window (20 outcomes)");
	expect_err(BRK("open_ms = 1000;\n    open_max_ms = 999;"), 5, "open_max_ms: 999 is less than open_ms (1000)");
	expect_err(BRK("open_max_ms = 999;"), 4, "open_max_ms: 999 is less than open_ms (1000)");
	/* sl_brk_cfg_check's rules, named at the group */
	expect_err(BRK("consecutive_failures = 0;\n    failure_rate = 0;"), 3,
		   "breaker: consecutive_failures, failure_rate and slow_call_rate all 0: the breaker could never trip");

	/* mode */
	expect_err(BRK("mode = \"forced_open\";"), 4,
		   "mode: \"forced_open\" is not one of \"auto\", \"metrics_only\"");
	expect_err(BRK("mode = \"AUTO\";"), 4, "mode: \"AUTO\" is not one of");
}

/* ---- resilience: hash ------------------------------------------------------ */

static char *resil_text(const char *top, const char *svc, const char *chk, const char *brk, const char *bk)
{
	static char t[2048];

	snprintf(t, sizeof(t),
		 "interfaces = ( \"gw-c\" ); %s\n"
		 "services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80; %s\n"
		 "  check = { %s };\n"
		 "  breaker = { %s };\n"
		 "  backends = ( { addr = \"198.19.0.11\"; port = 80; %s } ); } );\n",
		 top, svc, chk ? chk : "type = \"http\"; path = \"/h\";",
		 brk ? brk : "consecutive_failures = 3;", bk);
	return t;
}

static void test_resil_hash(void **state)
{
	static const char *const top[] = {
		"pending_table_size = 1024;", "tick_ms = 20;", "reconcile_ms = 500;",
		"pending_scan_ms = 20;", "closing_timeout_s = 11;" };
	static const char *const svc[] = { "panic = \"fail_closed\";", "drain_timeout_ms = 1;" };
	static const char *const chk[] = {   /* each after type = "http"; path = "/h"; */
		"host = \"h\";", "expect = \"200\";", "expect = \"200-400\";", "port = 81;",
		"interval_ms = 999;", "timeout_ms = 999;", "rise = 3;", "fall = 3;", "jitter_pct = 11;" };
	char buf[128];
	static const char *const brk[] = {   /* each after consecutive_failures = 3; */
		"failure_rate = 51;", "window = 21;", "window_ms = 20;",
		"min_volume = 11;", "open_ms = 1001;", "open_max_ms = 30001;", "jitter_pct = 11;",
		"half_open_trials = 4;", "mode = \"metrics_only\";" };
	__u64 h[64];
	unsigned n = 0, i, j;

	h[n++] = hash_of(resil_text("", "", NULL, NULL, ""));
	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		h[n++] = hash_of(resil_text(top[i], "", NULL, NULL, ""));
	for (i = 0; i < sizeof(svc) / sizeof(svc[0]); i++)
		h[n++] = hash_of(resil_text("", svc[i], NULL, NULL, ""));
	for (i = 0; i < sizeof(chk) / sizeof(chk[0]); i++) {
		snprintf(buf, sizeof(buf), "type = \"http\"; path = \"/h\"; %s", chk[i]);
		h[n++] = hash_of(resil_text("", "", buf, NULL, ""));
	}
	h[n++] = hash_of(resil_text("", "", "type = \"http\"; path = \"/i\";", NULL, ""));
	h[n++] = hash_of(resil_text("", "", "type = \"http\";", NULL, ""));         /* path "/" */
	h[n++] = hash_of(resil_text("", "", "type = \"https\"; path = \"/h\";", NULL, ""));
	h[n++] = hash_of(resil_text("", "", "type = \"https\"; path = \"/h\"; tls_verify = true;", NULL, ""));
	h[n++] = hash_of(resil_text("", "", "type = \"tcp\";", NULL, ""));
	for (i = 0; i < sizeof(brk) / sizeof(brk[0]); i++)
	{
		snprintf(buf, sizeof(buf), "consecutive_failures = 3; %s", brk[i]);
		h[n++] = hash_of(resil_text("", "", NULL, buf, ""));
	}
	h[n++] = hash_of(resil_text("", "", NULL, "consecutive_failures = 4;", ""));
	h[n++] = hash_of(resil_text("", "", NULL, NULL, "check = { rise = 5; };"));
	h[n++] = hash_of(resil_text("", "", NULL, NULL, "check = { type = \"tcp\"; };"));
	/* the service without a check: another config */
	h[n++] = hash_of("interfaces = ( \"gw-c\" );\n"
			 "services = ( { name = \"web\"; vip = \"198.18.1.100\"; port = 80;\n"
			 "  breaker = { consecutive_failures = 3; };\n"
			 "  backends = ( { addr = \"198.19.0.11\"; port = 80; } ); } );\n");
	/* every change gives its own hash */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (h[i] == h[j])
				fail_msg("hash %u == hash %u", i, j);

	/* layout, lines, order and explicit defaults do not count */
	assert_true(h[0] == hash_of(
		"# the same config\n"
		"interfaces = ( \"gw-c\" )\n"
		"services = (\n"
		"  {\n"
		"    name = \"web\"\n"
		"    vip = \"198.18.1.100\"\n"
		"    port = 80\n"
		"    backends = ( { port = 80; addr = \"198.19.0.11\"; } )\n"
		"    breaker = {\n"
		"      consecutive_failures = 3   // trips after 3\n"
		"    }\n"
		"    check = {\n"
		"      path = \"/h\"\n"
		"      /* http */ type = \"http\"\n"
		"    }\n"
		"  }\n"
		");\n"));
	assert_true(h[0] == hash_of(resil_text(
		"pending_table_size = 65536; tick_ms = 100; reconcile_ms = 1000; pending_scan_ms = 10;"
		" closing_timeout_s = 10;",
		"panic = \"fail_open\"; drain_timeout_ms = 0;",
		"type = \"http\"; path = \"/h\"; interval_ms = 1000; timeout_ms = 1000; rise = 2;"
		" fall = 2; jitter_pct = 10; expect = \"200-399\"; host = \"\";",
		"consecutive_failures = 3; failure_rate = 50; window = 20; min_volume = 10; open_ms = 1000; open_max_ms = 30000;"
		" jitter_pct = 10; half_open_trials = 3; mode = \"auto\";",
		/* a backend group repeating the service's: the same resolved check */
		"check = { type = \"http\"; path = \"/h\"; };")));
	assert_true(h[0] == hash_of(resil_text("", "", NULL, NULL, "check = { };")));
	assert_true(hash_of(resil_text("", "", NULL, "window = 4;", "")) ==
		    hash_of(resil_text("", "", NULL, "window = 4; min_volume = 4;", "")));
	/* the consecutive_failures = 3 of the base is the default too */
	assert_true(h[0] == hash_of(resil_text("", "", NULL, "", "")));
}

/* ---- resilience: configs changed in memory --------------------------------- */

static void test_resil_validate(void **state)
{
	static const char *one =
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.1.1\"; port = 80;\n"
		"  check = { type = \"http\"; path = \"/ok\"; interval_ms = 500; };\n"
		"  breaker = { window_ms = 5000; };\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 80; check = { type = \"tcp\"; }; } ); } );\n";
	static const char *two =
		"interfaces = ( \"eth0\" );\n"
		"services = ( { name = \"a\"; vip = \"198.18.1.1\"; port = 80;\n"
		"  check = { type = \"http\"; path = \"/ok\"; interval_ms = 500; };\n"
		"  breaker = { window_ms = 5000; };\n"
		"  backends = ( { addr = \"198.19.0.1\"; port = 80; check = { type = \"tcp\"; }; },\n"
		"               { addr = \"198.19.0.2\"; port = 80; } ); },\n"
		"  { name = \"u\"; vip = \"198.18.1.2\"; port = 53; proto = \"udp\"; } );\n";
	struct sl_config *c = load_ok(one), *d = load_ok(two);
	struct sl_cfg_service *s, *ns, keep_s;
	struct sl_cfg_backend keep_b;
	struct sl_cfg_backend *nb, bk = { .weight = 1 };
	char err[512];
	__u8 v;

	/* what daemon/ctl.c does for "backend add" and "service add" */
	s = &c->services[0];
	nb = realloc(s->backends, 2 * sizeof(*nb));
	assert_non_null(nb);
	s->backends = nb;
	assert_int_equal(sl_addr_parse("198.19.0.2", &bk.addr), 0);
	bk.addr.port = htons(80);
	bk.addr.proto = IPPROTO_TCP;
	s->backends[s->nr_backends++] = bk;
	ns = realloc(c->services, 2 * sizeof(*ns));
	assert_non_null(ns);
	c->services = ns;
	memset(&ns[1], 0, sizeof(ns[1]));
	sl_config_service_defaults(&ns[1], IPPROTO_UDP);
	snprintf(ns[1].name, sizeof(ns[1].name), "u");
	assert_int_equal(sl_addr_parse("198.18.1.2", &ns[1].vip), 0);
	ns[1].vip.port = htons(53);
	c->nr_services = 2;
	s = &c->services[0];
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), 0);
	/* the new backend has the service's check, not a neighbour's */
	assert_int_equal(s->backends[1].check_set, 0);
	assert_memory_equal(&s->backends[1].check, &s->check, sizeof(s->check));
	assert_int_equal(s->backends[0].check.type, SL_CHECK_TCP);
	assert_true(c->hash == d->hash);

	/* sl_config_backend_inherit leaves a backend's own check alone */
	bk = s->backends[0];
	sl_config_backend_inherit(s, &bk);
	assert_int_equal(bk.check.type, SL_CHECK_TCP);
	bk.check_set = 0;
	sl_config_backend_inherit(s, &bk);
	assert_int_equal(bk.check.type, SL_CHECK_HTTP);

	/* the file's rules, in memory */
	keep_s = *s;
	keep_b = s->backends[0];
#define BAD(change, needle)                                                           \
	do {                                                                           \
		change;                                                                \
		assert_int_equal(sl_config_validate(c, err, sizeof(err)), -EINVAL);    \
		if (!strstr(err, needle) || strncmp(err, "runtime change: ", 16))      \
			fail_msg("expected \"%s\", got \"%s\"", needle, err);          \
		*s = keep_s;                                                           \
		s->backends[0] = keep_b;                                               \
	} while (0)
	BAD(s->panic = 2, "service a: panic 2 is not fail_open or fail_closed");
	BAD(s->drain_timeout_ms = 86400001, "service a: drain_timeout_ms 86400001 is more than 86400000");
	BAD(s->breaker_mode = SL_BRKM_FORCED_OPEN, "service a: breaker: mode is not auto or metrics_only");
	BAD(s->breaker.min_volume = 0, "service a: breaker: min_volume 0");
	BAD(s->breaker.window = 9, "service a: breaker: window 9");
	BAD((s->breaker.consecutive_failures = 0, s->breaker.failure_rate = 0),
	    "service a: breaker: consecutive_failures, failure_rate and slow_call_rate all 0");
	BAD(s->breaker.open_max_ms = 1, "service a: breaker: open_max_ms 1 < open_ms 1000");
	BAD(s->check.interval_ms = 5, "service a: check: interval_ms 5");
	BAD(s->check.timeout_ms = 501, "service a: check: interval_ms 500, timeout_ms 501");
	BAD(s->check.type = 7, "service a: check: type 7");
	BAD(s->check.expect_lo = 400, "service a: check: expect 400-399");
	BAD(s->check.path[0] = 'x', "service a: check: path or host: does not start with '/'");
	BAD(s->check.tls_verify = 1, "service a: check: tls_verify is only for https checks");
	BAD(s->backends[0].check.path[0] = '/', "backend 198.19.0.1 of service a: check: path, host and expect are only for http and https checks");
	BAD(s->backends[0].check.type = SL_CHECK_NONE, "backend 198.19.0.1 of service a: a check group without a type");
	BAD(c->services[1].check = s->check, "service u: check: a check of a udp service needs 'port'");
	c->services[1].check = (struct sl_cfg_check){ 0 };
	BAD(c->tick_ms = 0, "tick_ms");
	c->tick_ms = SL_DEFAULT_TICK_MS;
	BAD(c->pending_table_size = 1023, "pending_table_size");
	c->pending_table_size = SL_PENDING_DEFAULT;
#undef BAD
	assert_int_equal(sl_config_validate(c, err, sizeof(err)), 0);
	assert_true(c->hash == d->hash);

	/* the enumerated words, as the file takes them */
	assert_int_equal(sl_config_choice("panic", "fail_closed", &v, err, sizeof(err)), 0);
	assert_int_equal(v, SL_BRK_PANIC_FAIL_CLOSED);
	assert_int_equal(sl_config_choice("breaker.mode", "metrics_only", &v, err, sizeof(err)), 0);
	assert_int_equal(v, SL_BRKM_METRICS_ONLY);
	assert_int_equal(sl_config_choice("breaker.mode", "draining", &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "runtime change: mode: \"draining\" is not one of \"auto\", \"metrics_only\"");
	assert_int_equal(sl_config_choice("check.type", "https", &v, err, sizeof(err)), 0);
	assert_int_equal(v, SL_CHECK_HTTPS);
	assert_int_equal(sl_config_choice("panic", "open", &v, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "panic: \"open\" is not one of \"fail_open\", \"fail_closed\""));
	sl_config_free(c);
	sl_config_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_int64_values),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_unknown),
		cmocka_unit_test(test_err_types),
		cmocka_unit_test(test_err_ranges),
		cmocka_unit_test(test_err_wrapped),
		cmocka_unit_test(test_err_choices),
		cmocka_unit_test(test_err_required),
		cmocka_unit_test(test_err_interfaces),
		cmocka_unit_test(test_err_paths),
		cmocka_unit_test(test_err_names),
		cmocka_unit_test(test_err_addresses),
		cmocka_unit_test(test_err_duplicates),
		cmocka_unit_test(test_err_maglev_size),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_validate_in_memory),
		cmocka_unit_test(test_control_group),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_resil_full),
		cmocka_unit_test(test_resil_defaults),
		cmocka_unit_test(test_resil_bounds),
		cmocka_unit_test(test_err_resil_top),
		cmocka_unit_test(test_err_check),
		cmocka_unit_test(test_err_breaker),
		cmocka_unit_test(test_redispatch_slow),
		cmocka_unit_test(test_resil_hash),
		cmocka_unit_test(test_resil_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
