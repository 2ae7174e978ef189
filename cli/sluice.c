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

#define SLUICE_VERSION "0.1"
#define DEFAULT_RUN_DIR "/run/sluice"

enum { EXIT_USAGE = 1 };

static bool opt_json, opt_pretty, opt_stats;
static const char *run_dir = DEFAULT_RUN_DIR;

/* ---- fields: one print call each, from a table ---------------------------- */

/* A reply attribute as it is printed: text label (NULL: value only, first
 * on the line), whether it is a counter shown only with -s. The JSON key is
 * the attribute's name in lower case. */
struct field {
	unsigned attr;
	const char *text;           /* printf format for the value (a string) */
	bool counter;
};

static const struct field service_fields[] = {
	{ SL_A_SERVICE,     "%s", false },
	{ SL_A_VIP,         " vip %s", false },
	{ SL_A_PORT,        " port %s", false },
	{ SL_A_PROTO,       " %s", false },
	{ SL_A_MODE,        " mode %s", false },
	{ SL_A_SCHED,       " sched %s", false },
	{ SL_A_NR_BACKENDS, " backends %s", false },
	{ SL_A_MAX_CONNS,   " max_conns %s", false },
	{ SL_A_MAGLEV_SIZE, " maglev_size %s", false },
	{ SL_A_ID,          " id %s", false },
	{ SL_A_ACTIVE,      " active %s", false },
	{ SL_A_PACKETS,     "\n    packets %s", true },
	{ SL_A_BYTES,       " bytes %s", true },
	{ SL_A_NEW_FLOWS,   " new_flows %s", true },
	{ 0 }
};

static const struct field backend_fields[] = {
	{ SL_A_SERVICE,      "%s", false },
	{ SL_A_ADDR,         " %s", false },
	{ SL_A_PORT,         " port %s", false },
	{ SL_A_WEIGHT,       " weight %s", false },
	{ SL_A_STATE,        " state %s", false },
	{ SL_A_MAX_CONNS,    " max_conns %s", false },
	{ SL_A_MAX_PENDING,  " max_pending %s", false },
	{ SL_A_ID,           " id %s", false },
	{ SL_A_ACTIVE,       " active %s", false },
	{ SL_A_PENDING,      " pending %s", false },
	{ SL_A_PACKETS,      "\n    packets %s", true },
	{ SL_A_BYTES,        " bytes %s", true },
	{ SL_A_NEW_FLOWS,    " new_flows %s", true },
	{ SL_A_CONN_REFUSED, " conn_refused %s", true },
	{ SL_A_CONN_TIMEOUT, " conn_timeout %s", true },
	{ SL_A_RESETS,       " resets %s", true },
	{ 0 }
};

static const struct field version_fields[] = {
	{ SL_A_VERSION,       "sluiced %s", false },
	{ SL_A_PROTO_VERSION, " protocol %s", false },
	{ SL_A_CONFIG_FILE,   "\nconfig %s", false },
	{ SL_A_CONFIG_HASH,   " hash %s", false },
	{ SL_A_NR_SERVICES,   " services %s", false },
	{ 0 }
};

static const struct field stats_fields[] = {
	{ SL_A_NR_SERVICES, "services %s", false },
	{ SL_A_PACKETS,     " packets %s", false },
	{ SL_A_BYTES,       " bytes %s", false },
	{ SL_A_NEW_FLOWS,   " new_flows %s", false },
	{ 0 }
};

static const struct field event_fields[] = {
	{ SL_A_EVENT,       "%s", false },
	{ SL_A_SERVICE,     " %s", false },
	{ SL_A_VIP,         " vip %s", false },
	{ SL_A_ADDR,        " %s", false },
	{ SL_A_PORT,        " port %s", false },
	{ SL_A_PROTO,       " %s", false },
	{ SL_A_WEIGHT,      " weight %s", false },
	{ SL_A_CONFIG_FILE, " file %s", false },
	{ SL_A_CONFIG_HASH, " hash %s", false },
	{ SL_A_NR_SERVICES, " services %s", false },
	{ SL_A_CAUSE,       " cause %s", false },
	{ SL_A_UID,         " uid %s", false },
	{ SL_A_PID,         " pid %s", false },
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

static void print_fields(const struct field *f, const struct nlattr **tb)
{
	for (; f->attr; f++) {
		const struct nlattr *na = tb[f->attr];

		if (!na || (f->counter && !opt_stats))
			continue;
		if (sl_attrs[f->attr].type == SL_T_STRING)
			print_string(json_key(f->attr), f->text, sl_get_str(na));
		else
			print_u64(json_key(f->attr), f->text, sl_get_uint(na));
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

/* SERVICE ADDR [port PORT] [weight N] into a request; weight only if wanted. */
static int backend_args(struct nlmsghdr *nlh, int argc, char **argv, bool want_weight)
{
	bool have_weight = false;
	uint32_t v;

	if (argc < 2)
		return usage_err("%s: give SERVICE ADDR", "backend");
	if (!sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]) ||
	    !sl_put_str(nlh, IPC_BUFSZ, SL_A_ADDR, argv[1]))
		return usage_err("%s: argument too long", argv[0]);
	for (argc -= 2, argv += 2; argc >= 2; argc -= 2, argv += 2) {
		if (matches(argv[0], "port")) {
			if (parse_u32(argv[1], 65535, &v) || !v)
				return usage_err("bad port '%s'", argv[1]);
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
		return usage_err("%s: give weight N", "backend set");
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

static int backend_list(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, NLM_F_DUMP);

	if (argc > 1)
		return usage_err("%s: at most one SERVICE", "backend list");
	if (argc && !sl_put_str(nlh, IPC_BUFSZ, SL_A_SERVICE, argv[0]))
		return usage_err("'%s': too long", argv[0]);
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(backend_fields, true);
}

static int backend_show(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_GET, 0);
	int rc = backend_args(nlh, argc, argv, false);

	if (rc)
		return rc;
	if (opt_stats)
		sl_put_uint(nlh, IPC_BUFSZ, SL_A_STATS, 1);
	return call(backend_fields, false);
}

static int backend_set(int argc, char **argv)
{
	struct nlmsghdr *nlh = ipc_request(ipc, SL_CMD_BACKEND_SET, 0);
	int rc = backend_args(nlh, argc, argv, true);

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
	int rc = backend_args(nlh, argc, argv, false);

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
	print_fields(event_fields, tb);
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

static int stats_cb(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data)
{
	const struct nlattr *r, *na;

	print_open_object(NULL);
	print_fields(stats_fields, tb);
	print_text("\n");
	print_open_object("reasons");
	if (tb[SL_A_REASONS]) {
		mnl_attr_for_each_nested(r, tb[SL_A_REASONS]) {
			const char *name = NULL;
			uint64_t count = 0;

			mnl_attr_for_each_nested(na, r) {
				if (mnl_attr_get_type(na) == SL_A_NAME)
					name = sl_get_str(na);
				else if (mnl_attr_get_type(na) == SL_A_COUNT)
					count = sl_get_uint(na);
			}
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

static int do_stats(int argc, char **argv)
{
	int rc;

	if (argc)
		return usage_err("stats takes no argument ('%s')", argv[0]);
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
	{ "show", backend_show, "SERVICE ADDR [port PORT]" },
	{ "set",  backend_set,  "SERVICE ADDR [port PORT] weight N" },
	{ "add",  backend_add,  "SERVICE ADDR port PORT [weight N] [max_conns N] [max_pending N]" },
	{ "del",  backend_del,  "SERVICE ADDR [port PORT]" },
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
	{ "stats",    NULL, do_stats, "", true },
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
