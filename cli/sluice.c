// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sluice [-j] [-p] [-s] [-R RUN_DIR] OBJECT COMMAND [ARGS]: the control CLI
 * of sluiced, in iproute2's grammar. Objects and commands are {name, func}
 * tables matched by prefix; the usage text comes from the same tables.
 * Exit: 0 ok, 1 usage, 2 refused or failed by the daemon, 3 unreachable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "print.h"
#include "view.h"

#define SLUICE_VERSION "0.1"
#define DEFAULT_RUN_DIR "/run/sluice"

enum { EXIT_USAGE = 1 };

static bool opt_json, opt_pretty, opt_stats;
static const char *run_dir = DEFAULT_RUN_DIR;

/* ---- fields: one print call each, from a table ---------------------------- */

/* How a field prints (JSON always has it, under its key). */
enum fkind {
	F_VAL = 0,      /* text: fmt with the value */
	F_IFSET,        /* text: only when non-empty / non-zero */
	F_FLAG,         /* JSON true/false; text: fmt (no value) when true */
	F_UNFLAG,       /* JSON true/false; text: fmt (no value) when false */
	F_AGE,          /* milliseconds; text: a duration (850ms, 12.3s, 5m02s, 3h12m, 2d04h) */
	F_BACKEND,      /* ADDR; text: ADDR:PORT ([ADDR]:PORT for IPv6) */
	F_COUNTERS,     /* nest of NAME/COUNT entries; JSON: an object; text: fmt, then "name value"s */
};

#define F_KIND    0xff
#define F_COUNTER 0x100         /* shown only with -s */

/* A reply attribute as it is printed: text label (NULL: JSON only), how
 * (enum fkind, | F_COUNTER). The JSON key is the attribute's name in lower
 * case. */
struct field {
	unsigned attr;
	const char *text;           /* printf format for the value (a string) */
	unsigned how;
};

static const struct field service_fields[] = {
	{ SL_A_SERVICE,     "%s", 0 },
	{ SL_A_VIP,         " vip %s", 0 },
	{ SL_A_PORT,        " port %s", 0 },
	{ SL_A_PROTO,       " %s", 0 },
	{ SL_A_MODE,        " mode %s", 0 },
	{ SL_A_SCHED,       " sched %s", 0 },
	{ SL_A_NR_BACKENDS, " backends %s", 0 },
	{ SL_A_MAX_CONNS,   " max_conns %s", 0 },
	{ SL_A_MAGLEV_SIZE, " maglev_size %s", 0 },
	{ SL_A_ID,          " id %s", 0 },
	{ SL_A_ACTIVE,      " active %s", 0 },
	{ SL_A_PACKETS,     "\n    packets %s", F_COUNTER },
	{ SL_A_BYTES,       " bytes %s", F_COUNTER },
	{ SL_A_NEW_FLOWS,   " new_flows %s", F_COUNTER },
	{ 0 }
};

static const struct field backend_fields[] = {
	{ SL_A_SERVICE,      "%s", 0 },
	{ SL_A_ADDR,         " %s", 0 },
	{ SL_A_PORT,         " port %s", 0 },
	{ SL_A_WEIGHT,       " weight %s", 0 },
	{ SL_A_STATE,        " state %s", 0 },
	{ SL_A_MAX_CONNS,    " max_conns %s", 0 },
	{ SL_A_MAX_PENDING,  " max_pending %s", 0 },
	{ SL_A_ID,           " id %s", 0 },
	{ SL_A_ACTIVE,       " active %s", 0 },
	{ SL_A_PENDING,      " pending %s", 0 },
	/* the resilience module's view, when sluiced runs it */
	{ SL_A_BREAKER,      "\n    breaker %s", 0 },
	{ SL_A_BREAKER_MODE, " mode %s", 0 },
	{ SL_A_GATE,         " gate %s", 0 },
	{ SL_A_CAPPED,       " capped", F_FLAG },
	{ SL_A_PANIC,        " panic", F_FLAG },
	{ SL_A_TRIPS,        " trips %s", 0 },
	{ SL_A_TRIAL_TOKENS, " trial_tokens %s", F_IFSET },
	{ SL_A_STATE_AGE_MS, " age %s", F_AGE },
	{ SL_A_BREAKER_REASON, " reason \"%s\"", F_IFSET },
	{ SL_A_HEALTH,       "\n    health %s", 0 },
	{ SL_A_CHECK,        " check %s", 0 },
	{ SL_A_CHECK_DETAIL, " detail \"%s\"", F_IFSET },
	{ SL_A_PACKETS,      "\n    packets %s", F_COUNTER },
	{ SL_A_BYTES,        " bytes %s", F_COUNTER },
	{ SL_A_NEW_FLOWS,    " new_flows %s", F_COUNTER },
	{ SL_A_CONN_REFUSED, " conn_refused %s", F_COUNTER },
	{ SL_A_CONN_TIMEOUT, " conn_timeout %s", F_COUNTER },
	{ SL_A_RESETS,       " resets %s", F_COUNTER },
	{ SL_A_COUNTERS,     "\n    breaker counters:", F_COUNTER | F_COUNTERS },
	{ 0 }
};

/* sluice -j breaker show: the backend's identity and its breaker */
static const struct field breaker_fields[] = {
	{ SL_A_SERVICE,      NULL, 0 },
	{ SL_A_ADDR,         NULL, 0 },
	{ SL_A_PORT,         NULL, 0 },
	{ SL_A_ID,           NULL, 0 },
	{ SL_A_STATE,        NULL, 0 },
	{ SL_A_WEIGHT,       NULL, 0 },
	{ SL_A_BREAKER,      NULL, 0 },
	{ SL_A_BREAKER_MODE, NULL, 0 },
	{ SL_A_GATE,         NULL, 0 },
	{ SL_A_CAPPED,       NULL, F_FLAG },
	{ SL_A_PANIC,        NULL, F_FLAG },
	{ SL_A_TRIPS,        NULL, 0 },
	{ SL_A_TRIAL_TOKENS, NULL, 0 },
	{ SL_A_STATE_AGE_MS, NULL, 0 },
	{ SL_A_BREAKER_REASON, NULL, 0 },
	{ SL_A_HEALTH,       NULL, 0 },
	{ SL_A_CHECK,        NULL, 0 },
	{ SL_A_CHECK_DETAIL, NULL, 0 },
	{ SL_A_ACTIVE,       NULL, 0 },
	{ SL_A_PENDING,      NULL, 0 },
	{ SL_A_COUNTERS,     NULL, F_COUNTER | F_COUNTERS },
	{ 0 }
};

static const struct field version_fields[] = {
	{ SL_A_VERSION,       "sluiced %s", 0 },
	{ SL_A_PROTO_VERSION, " protocol %s", 0 },
	{ SL_A_CONFIG_FILE,   "\nconfig %s", 0 },
	{ SL_A_CONFIG_HASH,   " hash %s", 0 },
	{ SL_A_NR_SERVICES,   " services %s", 0 },
	{ 0 }
};

static const struct field stats_fields[] = {
	{ SL_A_NR_SERVICES, "services %s", 0 },
	{ SL_A_PACKETS,     " packets %s", 0 },
	{ SL_A_BYTES,       " bytes %s", 0 },
	{ SL_A_NEW_FLOWS,   " new_flows %s", 0 },
	{ 0 }
};

static const struct field event_fields[] = {
	{ SL_A_EVENT,       "%s", 0 },
	{ SL_A_SERVICE,     " %s", 0 },
	{ SL_A_VIP,         " vip %s", 0 },
	{ SL_A_ADDR,        " %s", 0 },
	{ SL_A_PORT,        " port %s", 0 },
	{ SL_A_PROTO,       " %s", 0 },
	{ SL_A_WEIGHT,      " weight %s", 0 },
	{ SL_A_CONFIG_FILE, " file %s", 0 },
	{ SL_A_CONFIG_HASH, " hash %s", 0 },
	{ SL_A_NR_SERVICES, " services %s", 0 },
	{ SL_A_CAUSE,       " cause %s", 0 },
	{ SL_A_UID,         " uid %s", 0 },
	{ SL_A_PID,         " pid %s", 0 },
	{ 0 }
};

/* A breaker or health transition (EVENT breaker/health) */
static const struct field resil_event_fields[] = {
	{ SL_A_EVENT,       "%s", 0 },
	{ SL_A_SERVICE,     " %s", 0 },
	{ SL_A_ADDR,        " %s", F_BACKEND },
	{ SL_A_PORT,        NULL, 0 },
	{ SL_A_ID,          NULL, 0 },
	{ SL_A_FROM,        " %s", 0 },
	{ SL_A_TO,          " -> %s", 0 },
	{ SL_A_ENFORCED,    " (not enforced)", F_UNFLAG },
	{ SL_A_SIGNAL,      " signal %s", F_IFSET },
	{ SL_A_WHY,         " reason \"%s\"", F_IFSET },
	{ SL_A_CAUSE,       " cause %s", 0 },
	{ SL_A_UID,         " uid %s", 0 },
	{ SL_A_PID,         " pid %s", 0 },
	{ 0 }
};

static const char *json_key(unsigned attr)
{
	static char buf[64];
	const char *n = sl_attr_name(attr);
	size_t i;

	for (i = 0; n[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] - 'A' + 'a' : n[i]);
	buf[i] = 0;
	return buf;
}

/* A duration of ms milliseconds, short: 850ms 12.3s 5m02s 3h12m 2d04h */
static const char *fmt_age(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%llu.%llus", (unsigned long long)s, (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	return buf;
}

/* "198.19.0.11:80", "[2001:2::11]:80", or the address alone without a port */
static const char *fmt_backend(const struct nlattr **tb, char *buf, size_t len)
{
	const char *a = tb[SL_A_ADDR] ? sl_get_str(tb[SL_A_ADDR]) : "?";

	if (!tb[SL_A_PORT])
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, strchr(a, ':') ? "[%s]:%llu" : "%s:%llu", a,
			 (unsigned long long)sl_get_uint(tb[SL_A_PORT]));
	return buf;
}

/* NAME/COUNT entries: JSON {"name": count, ...}; text " name count"... */
static void print_counters(const char *key, const char *fmt, const struct nlattr *list)
{
	const struct nlattr *r;

	print_open_object(key);
	if (fmt)
		print_text(fmt);
	mnl_attr_for_each_nested(r, list) {
		const char *name;
		uint64_t count;

		sl_get_name_count(r, &name, &count);
		if (!name)
			continue;
		if (fmt)
			printf(" %s", name);
		print_u64(name, fmt ? " %s" : NULL, count);
	}
	print_close_object();
}

static void print_fields(const struct field *f, const struct nlattr **tb)
{
	char buf[128];

	for (; f->attr; f++) {
		const struct nlattr *na = tb[f->attr];
		const char *key = json_key(f->attr);
		bool str = sl_attrs[f->attr].type == SL_T_STRING;
		uint64_t v = 0;

		if (!na || ((f->how & F_COUNTER) && !opt_stats))
			continue;
		if (sl_attrs[f->attr].type <= SL_T_U64)
			v = sl_get_uint(na);
		switch (f->how & F_KIND) {
		case F_IFSET:
			if (str)
				print_string(key, *sl_get_str(na) ? f->text : NULL, sl_get_str(na));
			else
				print_u64(key, v ? f->text : NULL, v);
			break;
		case F_FLAG:
		case F_UNFLAG:
			print_bool(key, !v == ((f->how & F_KIND) == F_UNFLAG) ? f->text : NULL, v != 0);
			break;
		case F_AGE:
			if (print_json())
				print_u64(key, NULL, v);
			else if (f->text)
				printf(f->text, fmt_age(v, buf, sizeof(buf)));
			break;
		case F_BACKEND:
			if (print_json())
				print_string(key, NULL, sl_get_str(na));
			else if (f->text)
				printf(f->text, fmt_backend(tb, buf, sizeof(buf)));
			break;
		case F_COUNTERS:
			print_counters(key, print_json() ? NULL : f->text, na);
			break;
		default:
			if (str)
				print_string(key, f->text, sl_get_str(na));
			else
				print_u64(key, f->text, v);
		}
	}
}

static int print_object_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	print_open_object(NULL);
	print_fields(data, tb);
	print_close_object();
	print_text("\n");
	return 0;
}

/* ---- talking to the daemon ------------------------------------------------ */

static struct ipc *ipc;

static int report(int rc)
{
	if (rc)
		fprintf(stderr, "sluice: %s\n", ipc_error(ipc));
	return rc;
}

/* Send the request built in nlh; list: the replies form a JSON array. */
static int call(const struct field *fields, bool list)
{
	int rc;

	if (list)
		print_open_array(NULL);
	rc = ipc_call(ipc, print_object_cb, (void *)fields);
	if (list)
		print_close_array();
	if (!rc)
		print_finish();
	return report(rc);
}

/* ---- arguments ------------------------------------------------------------ */

static bool matches(const char *arg, const char *name)
{
	return *arg && !strncmp(arg, name, strlen(arg));
}

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "sluice: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (sluice help)\n");
	return EXIT_USAGE;
}

static int parse_u32(const char *s, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * A backend as the daemon prints it: "198.19.0.11:80" or "[2001:2::11]:80"
 * into address and port (*port 0: none given; a bare IPv6 address has
 * none). -1: a port that is not one.
 */
static int split_addr_port(const char *arg, char *addr, size_t len, uint32_t *port)
{
	const char *colon = strrchr(arg, ':'), *start = arg, *end;

	*port = 0;
	if (*arg == '[') {
		end = strchr(arg, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		start = arg + 1;
		if (end[1] && (parse_u32(end + 2, 65535, port) || !*port))
			return -1;
	} else if (colon && strchr(arg, ':') == colon) {
		end = colon;
		if (parse_u32(colon + 1, 65535, port) || !*port)
			return -1;
	} else {
		end = arg + strlen(arg);
	}
	snprintf(addr, len, "%.*s", (int)(end - start), start);
	return 0;
}

/* SERVICE ADDR[:PORT] [port PORT] [weight N] into a request; weight only if wanted. */
static int backend_args(struct nlmsghdr *nlh, int argc, char **argv, bool want_weight, const char *what)
{
	bool have_weight = false, have_port;
	char addr[128];
	uint32_t v;

	if (argc < 2)
		return usage_err("%s: give SERVICE ADDR", what);
	if (split_addr_port(argv[1], addr, sizeof(addr), &v))
		return usage_err("bad backend '%s' (ADDR, ADDR:PORT or [ADDR]:PORT)", argv[1]);
	have_port = v != 0;
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]) ||
	    !sl_put_str(nlh, IPC_BUFSZ, SL_A_ADDR, addr))
		return usage_err("%s: argument too long", argv[0]);
	if (have_port)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_PORT, v);
	for (argc -= 2, argv += 2; argc >= 2; argc -= 2, argv += 2) {
		if (matches(argv[0], "port")) {
			if (parse_u32(argv[1], 65535, &v) || !v)
				return usage_err("bad port '%s'", argv[1]);
			if (have_port)
				return usage_err("port given twice ('%s')", argv[1]);
			have_port = true;
			sl_put_uint(nlh, IPC_BUFSZ, SL_A_PORT, v);
		} else if (want_weight && matches(argv[0], "weight")) {
			if (parse_u32(argv[1], 65535, &v))
				return usage_err("bad weight '%s' (0..65535)", argv[1]);
			sl_put_uint(nlh, IPC_BUFSZ, SL_A_WEIGHT, v);
			have_weight = true;
		} else {
			return usage_err("unknown argument '%s'", argv[0]);
		}
	}
	if (argc)
		return usage_err("'%s' needs a value", argv[0]);
	if (want_weight && !have_weight)
		return usage_err("%s: give weight N", what);
	return 0;
}

/* ---- commands ------------------------------------------------------------- */

static int version_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	print_fields(version_fields, tb);
	print_text("\n");
	return 0;
}

static int do_version(int argc, char **argv)
{
	int rc;

	if (argc)
		return usage_err("version takes no argument ('%s')", argv[0]);
	ipc_request(ipc, SL_CMD_VERSION, 0);
	print_open_object(NULL);
	print_string("cli_version", "sluice " SLUICE_VERSION "\n", SLUICE_VERSION);
	rc = ipc_call(ipc, version_cb, NULL);
	print_close_object();
	if (!rc)
		print_finish();
	return report(rc);
}

static int service_list(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_SERVICE_GET, NLM_F_DUMP);

	if (argc)
		return usage_err("service list takes no argument ('%s')", argv[0]);
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(service_fields, true);
}

static int service_show(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_SERVICE_GET, 0);

	if (argc != 1)
		return usage_err("%s: give one SERVICE", "service show");
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]))
		return usage_err("'%s': too long", argv[0]);
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(service_fields, false);
}

/* backend list/show: text is the per-service table of view.c (always with
 * counters; -s adds the passive failure counters); JSON is one object per
 * backend as ever (counters with -s). */
static int backend_list(int argc, char **argv)
{
	struct nlmsghdr *nlh;
	struct snap s = { 0 };
	int rc;

	if (argc > 1)
		return usage_err("%s: at most one SERVICE", "backend list");
	if (!print_json()) {
		if (argc && strlen(argv[0]) > 31)
			return usage_err("'%s': too long", argv[0]);
		rc = snap_services(ipc, &s, argc ? argv[0] : NULL);
		if (!rc) {
			nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, NLM_F_DUMP);
			if (argc)
				sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]);
			sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
			rc = snap_backends(ipc, &s);
		}
		if (!rc)
			view_backend_table(&s, false, opt_stats);
		snap_free(&s);
		return report(rc);
	}
	nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, NLM_F_DUMP);
	if (argc && !sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]))
		return usage_err("'%s': too long", argv[0]);
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(backend_fields, true);
}

static int backend_show(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, 0);
	int rc = backend_args(nlh, argc, argv, false, "backend show");
	struct snap s = { 0 };

	if (rc)
		return rc;
	if (!print_json()) {
		/* the service's line first, then the backend's request again */
		rc = snap_services(ipc, &s, argv[0]);
		if (!rc) {
			nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, 0);
			backend_args(nlh, argc, argv, false, "backend show");
			sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
			rc = snap_backends(ipc, &s);
		}
		if (!rc)
			view_backend_table(&s, true, opt_stats);
		snap_free(&s);
		return report(rc);
	}
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(backend_fields, false);
}

static int backend_set(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_SET, 0);
	int rc = backend_args(nlh, argc, argv, true, "backend set");

	return rc ? rc : report(ipc_call(ipc, NULL, NULL));
}

/* SERVICE ADDR port PORT [weight N] [max_conns N] [max_pending N] */
static int backend_add(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_ADD, 0);
	static const struct { const char *name; unsigned attr; unsigned long max; } opts[] = {
		{ "port", SL_A_PORT, 65535 }, { "weight", SL_A_WEIGHT, 65535 },
		{ "max_conns", SL_A_MAX_CONNS, 10000000 }, { "max_pending", SL_A_MAX_PENDING, 10000000 },
	};
	bool have_port = false;
	uint32_t v;
	size_t i;

	if (argc < 2)
		return usage_err("%s: give SERVICE ADDR port PORT", "backend add");
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]) ||
	    !sl_put_str(nlh, IPC_BUFSZ, SL_A_ADDR, argv[1]))
		return usage_err("%s: argument too long", argv[0]);
	for (argc -= 2, argv += 2; argc >= 2; argc -= 2, argv += 2) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]) && !matches(argv[0], opts[i].name); i++)
			;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return usage_err("unknown argument '%s'", argv[0]);
		if (parse_u32(argv[1], opts[i].max, &v) || (opts[i].attr == SL_A_PORT && !v))
			return usage_err("bad value '%s'", argv[1]);
		sl_put_uint(nlh, IPC_BUFSZ, opts[i].attr, v);
		have_port |= opts[i].attr == SL_A_PORT;
	}
	if (argc)
		return usage_err("'%s' needs a value", argv[0]);
	if (!have_port)
		return usage_err("%s: give port PORT", "backend add");
	return report(ipc_call(ipc, NULL, NULL));
}

static int backend_del(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_DEL, 0);
	int rc = backend_args(nlh, argc, argv, false, "backend del");

	return rc ? rc : report(ipc_call(ipc, NULL, NULL));
}

/* NAME vip ADDR port PORT [proto tcp|udp] [mode M] [scheduler S] [max_conns N] */
static int service_add(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_SERVICE_ADD, 0);
	static const struct { const char *name; unsigned attr; } opts[] = {
		{ "vip", SL_A_VIP }, { "port", SL_A_PORT }, { "proto", SL_A_PROTO },
		{ "mode", SL_A_MODE }, { "scheduler", SL_A_SCHED }, { "max_conns", SL_A_MAX_CONNS },
	};
	uint32_t v;
	size_t i;

	if (argc < 1)
		return usage_err("%s: give NAME vip ADDR port PORT", "service add");
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]))
		return usage_err("'%s': too long", argv[0]);
	for (argc--, argv++; argc >= 2; argc -= 2, argv += 2) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]) && !matches(argv[0], opts[i].name); i++)
			;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return usage_err("unknown argument '%s'", argv[0]);
		if (sl_attrs[opts[i].attr].type == SL_T_STRING) {
			if (!sl_put_str(nlh, IPC_BUFSZ, opts[i].attr, argv[1]))
				return usage_err("'%s': too long", argv[1]);
			continue;
		}
		if (parse_u32(argv[1], opts[i].attr == SL_A_PORT ? 65535 : 10000000, &v) ||
		    (opts[i].attr == SL_A_PORT && !v))
			return usage_err("bad value '%s'", argv[1]);
		sl_put_uint(nlh, IPC_BUFSZ, opts[i].attr, v);
	}
	if (argc)
		return usage_err("'%s' needs a value", argv[0]);
	/* vip and port missing: the daemon names the attribute */
	return report(ipc_call(ipc, NULL, NULL));
}

static int service_del(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_SERVICE_DEL, 0);

	if (argc != 1)
		return usage_err("%s: give one SERVICE", "service del");
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]))
		return usage_err("'%s': too long", argv[0]);
	return report(ipc_call(ipc, NULL, NULL));
}

static int event_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	print_init(opt_json, opt_pretty);
	print_open_object(NULL);
	if (tb[SL_A_TIME_NS]) {
		uint64_t ns = sl_get_uint(tb[SL_A_TIME_NS]);

		if (print_json()) {
			print_u64("time_ns", NULL, ns);
		} else {
			time_t t = (time_t)(ns / 1000000000ull);
			struct tm tm;
			char buf[48];

			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
			printf("[%s.%03u] ", buf, (unsigned)(ns / 1000000 % 1000));
		}
	}
	/* a backend's transition has a line of its own */
	print_fields(tb[SL_A_FROM] || tb[SL_A_TO] ? resil_event_fields : event_fields, tb);
	print_close_object();
	print_text("\n");
	print_finish();
	return 0;
}

static void monitor_started(const char *how)
{
	fprintf(stderr, "sluice: monitoring events (%s)\n", how);
}

static int do_monitor(int argc, char **argv)
{
	uint32_t count = 0;

	if (argc == 2 && matches(argv[0], "count")) {
		if (parse_u32(argv[1], 0xffffffffu, &count) || !count)
			return usage_err("bad count '%s'", argv[1]);
	} else if (argc) {
		return usage_err("monitor takes [count N] ('%s')", argv[0]);
	}
	return report(ipc_monitor(ipc, monitor_started, event_cb, NULL, count));
}

/* ---- breakers ---------------------------------------------------------------- */

/* breaker show, text: one row per backend; "-" where sluiced has no breaker */
#define BREAKER_ROW "%-10s %-21s %-13s %-13s %-9s %-7s %-9s %-5s %-7s %s\n"

static int breaker_row_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	char backend[128], ap[48], trips[24], age[24], reason[320];
	const char *r = tb[SL_A_BREAKER_REASON] ? sl_get_str(tb[SL_A_BREAKER_REASON]) : "";

	if (print_json()) {
		print_open_object(NULL);
		print_fields(breaker_fields, tb);
		print_close_object();
		return 0;
	}
#define S(a) (tb[a] ? sl_get_str(tb[a]) : "-")
	snprintf(ap, sizeof(ap), "%llu/%llu",
		 (unsigned long long)(tb[SL_A_ACTIVE] ? sl_get_uint(tb[SL_A_ACTIVE]) : 0),
		 (unsigned long long)(tb[SL_A_PENDING] ? sl_get_uint(tb[SL_A_PENDING]) : 0));
	if (!tb[SL_A_ACTIVE])
		snprintf(ap, sizeof(ap), "-");
	snprintf(trips, sizeof(trips), "%llu", (unsigned long long)(tb[SL_A_TRIPS] ? sl_get_uint(tb[SL_A_TRIPS]) : 0));
	if (tb[SL_A_STATE_AGE_MS])
		fmt_age(sl_get_uint(tb[SL_A_STATE_AGE_MS]), age, sizeof(age));
	else
		snprintf(age, sizeof(age), "-");
	snprintf(reason, sizeof(reason), "%s%s%s",
		 tb[SL_A_CAPPED] && sl_get_uint(tb[SL_A_CAPPED]) ? "[capped] " : "",
		 tb[SL_A_PANIC] && sl_get_uint(tb[SL_A_PANIC]) ? "[panic] " : "", *r ? r : "-");
	printf(BREAKER_ROW, S(SL_A_SERVICE), fmt_backend(tb, backend, sizeof(backend)), S(SL_A_BREAKER),
	       S(SL_A_BREAKER_MODE), S(SL_A_GATE), S(SL_A_HEALTH), ap, tb[SL_A_TRIPS] ? trips : "-", age, reason);
#undef S
	return 0;
}

/* [SERVICE [ADDR[:PORT] [port PORT]]] */
static int breaker_show(int argc, char **argv)
{
	bool one = argc >= 2;
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, one ? 0 : NLM_F_DUMP);
	int rc;

	if (one) {
		rc = backend_args(nlh, argc, argv, false, "breaker show");
		if (rc)
			return rc;
	} else if (argc && !sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0])) {
		return usage_err("'%s': too long", argv[0]);
	}
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	if (!one)
		print_open_array(NULL);
	if (!print_json())
		printf(BREAKER_ROW, "SERVICE", "BACKEND", "STATE", "MODE", "GATE", "HEALTH", "ACT/PEND",
		       "TRIPS", "AGE", "REASON");
	rc = ipc_call(ipc, breaker_row_cb, NULL);
	if (!one)
		print_close_array();
	if (!rc)
		print_finish();
	return report(rc);
}

/* breaker open|close|auto|drain|metrics-only SERVICE ADDR[:PORT] [port PORT] */
static int breaker_set(int argc, char **argv, const char *mode)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BREAKER_SET, 0);
	int rc = backend_args(nlh, argc, argv, false, "breaker");

	if (rc)
		return rc;
	sl_put_str(nlh, IPC_BUFSZ, SL_A_BREAKER_MODE, mode);
	return report(ipc_call(ipc, NULL, NULL));
}

static int breaker_open(int argc, char **argv) { return breaker_set(argc, argv, "forced_open"); }
static int breaker_close(int argc, char **argv) { return breaker_set(argc, argv, "forced_closed"); }
static int breaker_auto(int argc, char **argv) { return breaker_set(argc, argv, "auto"); }
static int breaker_drain(int argc, char **argv) { return breaker_set(argc, argv, "draining"); }
static int breaker_metrics(int argc, char **argv) { return breaker_set(argc, argv, "metrics_only"); }

static int stats_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	const struct nlattr *r;

	print_open_object(NULL);
	print_fields(stats_fields, tb);
	print_text("\n");
	print_open_object("reasons");
	if (tb[SL_A_REASONS]) {
		mnl_attr_for_each_nested(r, tb[SL_A_REASONS]) {
			const char *name;
			uint64_t count;

			sl_get_name_count(r, &name, &count);
			if (!name || (!count && !print_json()))
				continue;       /* text: non-zero reasons only */
			if (!print_json())
				printf("  %-20s", name);
			print_u64(name, "%s\n", count);
		}
	}
	print_close_object();
	print_close_object();
	return 0;
}

static struct ipc *reopen_ipc(void)
{
	return ipc_open(run_dir);
}

/* SECONDS: 0.1 to 86400, decimals allowed; into milliseconds */
static int parse_interval(const char *arg, unsigned *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= 0.1 && v <= 86400))
		return -1;
	*ms = (unsigned)(v * 1000 + 0.5);
	return 0;
}

/* stats [-w SECONDS | watch SECONDS] [-c COUNT | count COUNT] */
static int do_stats(int argc, char **argv)
{
	unsigned interval_ms = 0;
	uint32_t count = 0;
	int rc;

	for (; argc; argc -= 2, argv += 2) {
		if (argc < 2)
			return usage_err("'%s' needs a value", argv[0]);
		if (!strcmp(argv[0], "-w") || matches(argv[0], "watch")) {
			if (parse_interval(argv[1], &interval_ms))
				return usage_err("bad interval '%s' (seconds, 0.1 to 86400)", argv[1]);
		} else if (!strcmp(argv[0], "-c") || matches(argv[0], "count")) {
			if (parse_u32(argv[1], 0xffffffffu, &count) || !count)
				return usage_err("bad count '%s'", argv[1]);
		} else {
			return usage_err("stats takes [-w SECONDS] [-c COUNT] ('%s')", argv[0]);
		}
	}
	if (count && !interval_ms)
		return usage_err("%s: a count needs an interval (-w SECONDS)", "stats");
	if (interval_ms)
		return view_watch(&ipc, reopen_ipc, interval_ms, count, opt_json, opt_pretty);
	ipc_request(ipc, SL_CMD_STATS_GET, 0);
	rc = ipc_call(ipc, stats_cb, NULL);
	if (!rc)
		print_finish();
	return report(rc);
}

static int do_reload(int argc, char **argv)
{
	if (argc)
		return usage_err("reload takes no argument ('%s')", argv[0]);
	ipc_request(ipc, SL_CMD_RELOAD, 0);
	return report(ipc_call(ipc, NULL, NULL));
}

static void protocol_doc(void);

static int do_protocol(int argc, char **argv)
{
	if (argc != 1 || !matches(argv[0], "doc"))
		return usage_err("%s: the only command is 'doc'", "protocol");
	protocol_doc();
	return 0;
}

/* ---- tables --------------------------------------------------------------- */

struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);
	const char *args;
};

static const struct cmd service_cmds[] = {
	{ "list", service_list, "" },
	{ "show", service_show, "SERVICE" },
	{ "add",  service_add,  "NAME vip ADDR port PORT [proto tcp|udp] [mode nat] [scheduler maglev] [max_conns N]" },
	{ "del",  service_del,  "SERVICE" },
	{ NULL }
};

static const struct cmd backend_cmds[] = {
	{ "list", backend_list, "[SERVICE]" },
	{ "show", backend_show, "SERVICE ADDR[:PORT] [port PORT]" },
	{ "set",  backend_set,  "SERVICE ADDR[:PORT] [port PORT] weight N" },
	{ "add",  backend_add,  "SERVICE ADDR port PORT [weight N] [max_conns N] [max_pending N]" },
	{ "del",  backend_del,  "SERVICE ADDR[:PORT] [port PORT]" },
	{ NULL }
};

static const struct cmd breaker_cmds[] = {
	{ "show",         breaker_show,    "[SERVICE [ADDR[:PORT] [port PORT]]]" },
	{ "open",         breaker_open,    "SERVICE ADDR[:PORT] [port PORT]   (forced_open: no new flows)" },
	{ "close",        breaker_close,   "SERVICE ADDR[:PORT] [port PORT]   (forced_closed: always admit)" },
	{ "drain",        breaker_drain,   "SERVICE ADDR[:PORT] [port PORT]   (draining: no new flows, old ones stay)" },
	{ "metrics-only", breaker_metrics, "SERVICE ADDR[:PORT] [port PORT]   (evaluate and report, never enforce)" },
	{ "auto",         breaker_auto,    "SERVICE ADDR[:PORT] [port PORT]   (release to the automaton)" },
	{ NULL }
};

struct object {
	const char *name;
	const struct cmd *cmds;     /* NULL: func takes the arguments */
	int (*func)(int argc, char **argv);
	const char *args;
	bool daemon;                /* needs sluiced */
};

static int do_help(int argc, char **argv);

static const struct object objects[] = {
	{ "service",  service_cmds, NULL, NULL, true },
	{ "backend",  backend_cmds, NULL, NULL, true },
	{ "breaker",  breaker_cmds, NULL, NULL, true },
	{ "stats",    NULL, do_stats, "[-w SECONDS [-c COUNT]]   (-w: rates every SECONDS, as ipvsadm --rate)", true },
	{ "reload",   NULL, do_reload, "", true },
	{ "monitor",  NULL, do_monitor, "[count N]", true },
	{ "version",  NULL, do_version, "", true },
	{ "protocol", NULL, do_protocol, "doc", false },
	{ "help",     NULL, do_help, "", false },
	{ NULL }
};

static void usage(FILE *f)
{
	const struct object *o;
	const struct cmd *c;

	fprintf(f, "usage: sluice [-j] [-p] [-s] [-R RUN_DIR] OBJECT COMMAND [ARGS]\n"
		"  -j  JSON   -p  pretty JSON   -s  add counters\n"
		"  -R  sluiced's run directory (default %s, or $SLUICE_RUN_DIR)\n", DEFAULT_RUN_DIR);
	for (o = objects; o->name; o++) {
		if (!o->cmds) {
			fprintf(f, "  sluice %s%s%s\n", o->name, *o->args ? " " : "", o->args);
			continue;
		}
		for (c = o->cmds; c->name; c++)
			fprintf(f, "  sluice %s %s%s%s\n", o->name, c->name, *c->args ? " " : "", c->args);
	}
	fprintf(f, "Changes made here are runtime changes: 'sluice reload' returns to the config file.\n"
		"Exit: 0 ok, 1 usage, 2 refused or failed by sluiced, 3 sluiced unreachable.\n");
}

static int do_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

/* ---- protocol reference, from the tables ---------------------------------- */

static void protocol_doc(void)
{
	unsigned c, a;

	printf("# sluice control protocol\n\n"
	       "<!-- Generated by `sluice protocol doc` from include/sluice/proto.h; do not edit. -->\n\n"
	       "Netlink over `NETLINK_USERSOCK`: every message is `nlmsghdr` (type 0x%x) +\n"
	       "`genlmsghdr` (`cmd`, `version` %u) + attributes. sluiced autobinds and writes\n"
	       "its port id to `RUN_DIR/%s` (default `/run/sluice`, mode 0644).\n\n"
	       "Replies carry the request's `nlmsg_seq`. A request ends with an\n"
	       "`NLMSG_ERROR` (error 0 is the ack; `NLM_F_ACK` asks for it) or, for\n"
	       "`NLM_F_DUMP`, with `NLMSG_DONE`. Errors are negative errnos with an extended\n"
	       "ack: `NLMSGERR_ATTR_MSG` (text naming the attribute), `NLMSGERR_ATTR_OFFS`\n"
	       "(offset of the bad attribute) or `NLMSGERR_ATTR_MISS_TYPE` (a missing one);\n"
	       "the request is not echoed (`NLM_F_CAPPED`), `NLM_F_ACK_TLVS` marks the TLVs.\n\n"
	       "Dumps are paged: a datagram holds at most %u bytes of `NLM_F_MULTI`\n"
	       "messages. One that ends without `NLMSG_DONE` means: send the same request\n"
	       "again, with the same `nlmsg_seq`, for the next page. `NLM_F_DUMP_INTR`\n"
	       "marks pages of a dump during which the running config changed.\n\n"
	       "Mutating commands are accepted only from uid 0 or from members of the\n"
	       "config's `control_group` (the sender's real gid or a supplementary group of\n"
	       "its process), judged from the kernel's `SCM_CREDENTIALS`; others get `EPERM`\n"
	       "and are logged with uid and pid.\n\n"
	       "Events (`EVENT` messages, `nlmsg_seq` counting them) go to the `NETLINK_USERSOCK`\n"
	       "multicast group %u, which only CAP_NET_ADMIN may join; anyone may send to it, so\n"
	       "listeners accept events only from the daemon's port id. A reader without the\n"
	       "privilege sends `SUBSCRIBE` and gets them by unicast (at most %u subscribers;\n"
	       "one whose port is gone is dropped). Several events may share a datagram.\n\n"
	       "Breakers and health checks: when sluiced runs its resilience module, a\n"
	       "backend's replies carry the module's view of it (`BREAKER` ... `CHECK_DETAIL`,\n"
	       "and `COUNTERS` with `STATS`); otherwise those attributes are absent and\n"
	       "`BREAKER_SET` fails with `EOPNOTSUPP`. A mode set with `BREAKER_SET` is the\n"
	       "module's state, not the config's: `RELOAD` does not undo it, mode `auto` does.\n"
	       "Its transitions, and those of the breakers and checks themselves, are `EVENT`\n"
	       "messages with `EVENT` `breaker` or `health`, `SERVICE`, `ADDR`, `PORT`, `ID`,\n"
	       "`FROM`, `TO`, `SIGNAL`, `WHY` and `ENFORCED`; `CAUSE` is `automatic`, or\n"
	       "`runtime` / `reload` (with `UID` and `PID`) when a request caused them.\n\n"
	       "Counters of one kind are `NAME`/`COUNT` entries in a nest (`REASONS` of\n"
	       "`STATS_GET`, `COUNTERS` of a backend): a new counter costs no attribute, and a\n"
	       "client prints one it does not know by its name. Numbers never move: new\n"
	       "commands and attributes are appended to their tables; a reply attribute a\n"
	       "client does not know is skipped.\n\n"
	       "Request policy errors: unknown command, or `EVENT` sent as a request, `EOPNOTSUPP`;\n"
	       "wrong type or length,\n"
	       "attribute not taken by the command, repeated, unknown or missing `EINVAL`;\n"
	       "value or length out of bounds `ERANGE`.\n\n",
	       SL_PROTO_MSG_TYPE, SL_PROTO_VERSION, SL_PROTO_PORTID_FILE, SL_PROTO_BATCH,
	       SL_PROTO_MCGROUP, SL_PROTO_SUBSCRIBERS);
	printf("## Commands\n\n| # | command | flags | request attributes | what |\n|---|---|---|---|---|\n");
	for (c = 1; c < SL_CMD_MAX; c++) {
		bool any = false;

		printf("| %u | `%s` | %s%s%s%s | ", c, sl_cmds[c].name,
		       sl_cmds[c].flags & SL_CF_MUTATING ? "mutating (uid 0, control_group)" : "",
		       (sl_cmds[c].flags & SL_CF_MUTATING) && (sl_cmds[c].flags & SL_CF_DUMP) ? ", " : "",
		       sl_cmds[c].flags & SL_CF_DUMP ? "dump" : "",
		       sl_cmds[c].flags & SL_CF_EVENT ? "event (daemon to listeners)" : "");
		for (a = 1; a <= SL_A_MAX; a++) {
			if (!(sl_attrs[a].takes & (1u << c)))
				continue;
			printf("%s%s`%s`%s", any ? ", " : "",
			       sl_attrs[a].requires & (1u << c) ? "**" : "", sl_attrs[a].name,
			       sl_attrs[a].requires & (1u << c) ? "**" : "");
			any = true;
		}
		printf("%s | %s |\n", any ? "" : "-", sl_cmds[c].doc);
	}
	printf("\n**Bold**: required.\n\n## Attributes\n\n"
	       "| # | attribute | type | request bounds | what |\n|---|---|---|---|---|\n");
	for (a = 1; a <= SL_A_MAX; a++) {
		const struct sl_attr_desc *d = &sl_attrs[a];
		char bounds[64] = "-";

		if (d->takes && (d->min || d->max))
			snprintf(bounds, sizeof(bounds), "%s%llu..%llu",
				 d->type == SL_T_STRING || d->type == SL_T_BINARY ? "length " : "",
				 (unsigned long long)d->min, (unsigned long long)d->max);
		else if (d->takes)
			snprintf(bounds, sizeof(bounds), "any");
		printf("| %u | `%s` | %s | %s | %s |\n", a, d->name, sl_type_names[d->type], bounds, d->doc);
	}
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const struct object *o;
	const struct cmd *c;
	int opt, rc;

	if (getenv("SLUICE_RUN_DIR") && *getenv("SLUICE_RUN_DIR"))
		run_dir = getenv("SLUICE_RUN_DIR");
	while ((opt = getopt_long(argc, argv, "+jpsR:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': opt_json = true; break;
		case 'p': opt_json = opt_pretty = true; break;
		case 's': opt_stats = true; break;
		case 'R': run_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (!argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (o = objects; o->name && !matches(argv[0], o->name); o++)
		;
	if (!o->name)
		return usage_err("unknown object '%s'", argv[0]);
	argc--;
	argv++;
	c = NULL;
	if (o->cmds) {
		if (!argc) {
			c = &o->cmds[0];        /* "sluice service" lists, as "ip link" does */
		} else {
			for (c = o->cmds; c->name && !matches(argv[0], c->name); c++)
				;
			if (!c->name)
				return usage_err("unknown command '%s'", argv[0]);
			argc--;
			argv++;
		}
	}
	print_init(opt_json, opt_pretty);
	if (o->daemon) {
		ipc = ipc_open(run_dir);
		if (!ipc) {
			fprintf(stderr, "sluice: out of memory\n");
			return IPC_UNREACHABLE;
		}
	}
	rc = c ? c->func(argc, argv) : o->func(argc, argv);
	ipc_close(ipc);
	return rc;
}
