// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sluice.conf: libconfig syntax, parsed and validated into struct
 * sl_config. The grammar is in docs/sluice.conf.5; every rule below has an
 * error naming FILE:LINE of the offending setting.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "maglev.h"

#define SL_CONFIG_FILE_MAX (64u << 20)   /* refuse bigger files */

/* An integer literal without the L suffix that does not fit 32 bits:
 * libconfig 1.5 wraps it silently, so the source text is checked. */
struct wrapped {
	int line;                   /* of the setting's name, as libconfig counts */
	char name[32];              /* the setting it is assigned to */
	char text[32];              /* the literal as written */
};

struct ctx {
	const char *name;           /* file name for messages */
	char *err;
	size_t errlen;
	struct wrapped *wraps;
	unsigned nr_wraps;
	int include_line;           /* first @include, 0 if none */
	int runtime;                /* validating a config built in memory: no FILE:LINE prefix */
};

static int fail(struct ctx *x, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *x, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!x->err || !x->errlen)
		return -EINVAL;
	if (x->runtime)
		n = snprintf(x->err, x->errlen, "%s: ", x->name);
	else
		n = snprintf(x->err, x->errlen, "%s:%d: ", x->name, line > 0 ? line : 1);
	if (n < 0 || (size_t)n >= x->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int line_of(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 1;
}

/* ---- addresses ---------------------------------------------------------- */

int sl_addr_parse(const char *s, struct sl_l4addr *a)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!s || !a)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(a->addr, 0, sizeof(a->addr));
		a->addr[0] = a4.s_addr;
		a->family = SL_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(a->addr, &a6, sizeof(a->addr));
		a->family = SL_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int sl_addr_format(const struct sl_l4addr *a, char *buf, size_t len)
{
	int af;

	if (!a || !buf)
		return -EINVAL;
	if (a->family == SL_AF_INET)
		af = AF_INET;
	else if (a->family == SL_AF_INET6)
		af = AF_INET6;
	else
		return -EINVAL;
	if (!inet_ntop(af, a->addr, buf, len > INT32_MAX ? INT32_MAX : (socklen_t)len))
		return errno == ENOSPC ? -ENOSPC : -EINVAL;
	return 0;
}

/* Why an address cannot be a VIP or a backend, or NULL if it can. */
static const char *not_unicast(const struct sl_l4addr *a)
{
	if (a->family == SL_AF_INET) {
		__u32 v = ntohl(a->addr[0]);

		if ((v >> 24) == 0)
			return "is in 0.0.0.0/8, not a unicast address";
		if ((v >> 24) == 127)
			return "is a loopback address";
		if ((v >> 28) == 0xe)
			return "is a multicast address";
		if ((v >> 28) == 0xf)
			return "is a reserved or broadcast address";
		return NULL;
	}
	{
		const __u8 *b = (const __u8 *)a->addr;
		static const __u8 zero[16], loop[16] = { [15] = 1 };
		static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (!memcmp(b, zero, 16))
			return "is the unspecified address";
		if (!memcmp(b, loop, 16))
			return "is a loopback address";
		if (b[0] == 0xff)
			return "is a multicast address";
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return "is link-local (needs a scope): not supported";
		if (!memcmp(b, mapped, 12))
			return "is IPv4-mapped: write the IPv4 address";
	}
	return NULL;
}

static const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* "198.18.1.100 port 80/tcp", "2001:2::1 port 53/udp" */
static const char *fmt_l4(const struct sl_l4addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sl_addr_format(a, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	snprintf(buf, len, "%s port %u/%s", ip, ntohs(a->port), proto_name(a->proto));
	return buf;
}

static const char *fmt_ip(const struct sl_l4addr *a, char *buf, size_t len)
{
	if (sl_addr_format(a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* ---- the source text: wrapped integers and @include --------------------- */

static int is_ident_start(int c)
{
	return isalpha(c) || c == '*';
}

static int is_ident(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '*';
}

/* Does an integer literal (sign, digits, no suffix) fit libconfig's int? */
static int fits_int(const char *p, size_t n, int hex)
{
	unsigned long long v = 0;
	int neg = 0;

	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
		n--;
	}
	if (hex) {
		p += 2;
		n -= 2;
		for (; n; p++, n--) {
			int d = isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;

			v = v * 16 + d;
			if (v > 0x7fffffffull)
				return 0;
		}
		return 1;
	}
	for (; n; p++, n--) {
		v = v * 10 + (*p - '0');
		if (v > 0x80000000ull)
			return 0;
	}
	return neg ? v <= 0x80000000ull : v <= 0x7fffffffull;
}

/*
 * Walk the text like libconfig's scanner does (comments, strings,
 * identifiers, numbers) and record integer literals that libconfig would
 * wrap, with the name of the setting they belong to, and @include.
 */
static int scan_source(struct ctx *x, const char *t)
{
	const char *p = t;
	char last[32] = "";
	int line = 1, last_line = 1;

	while (*p) {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
				line += *p == '\n';
			if (*p)
				p += 2;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				line += *p == '\n';
			}
			if (*p)
				p++;
		} else if (*p == '@') {
			if (!strncmp(p, "@include", 8) && !x->include_line)
				x->include_line = line;
			p++;
		} else if (is_ident_start((unsigned char)*p)) {
			const char *s = p;

			while (is_ident((unsigned char)*p))
				p++;
			snprintf(last, sizeof(last), "%.*s", (int)(p - s), s);
			last_line = line;
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+' || *p == '.') && isdigit((unsigned char)p[1])) ||
			   ((*p == '-' || *p == '+') && p[1] == '.' && isdigit((unsigned char)p[2]))) {
			const char *s = p;
			const char *d = (*p == '-' || *p == '+') ? p + 1 : p;
			int hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X') && isxdigit((unsigned char)d[2]);
			size_t n;

			p = d;
			if (hex) {
				for (p += 2; isxdigit((unsigned char)*p); p++)
					;
			} else {
				while (isdigit((unsigned char)*p))
					p++;
				if (*p == '.' || *p == 'e' || *p == 'E') {      /* a float */
					while (isalnum((unsigned char)*p) || *p == '.' ||
					       ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')))
						p++;
					continue;
				}
			}
			n = p - s;
			if (*p == 'L') {                                   /* 64-bit */
				p += p[1] == 'L' ? 2 : 1;
				continue;
			}
			if (!fits_int(s, n, hex)) {
				struct wrapped *w = realloc(x->wraps, (x->nr_wraps + 1) * sizeof(*w));

				if (!w)
					return -ENOMEM;
				x->wraps = w;
				w += x->nr_wraps++;
				w->line = last_line;
				snprintf(w->name, sizeof(w->name), "%s", last);
				snprintf(w->text, sizeof(w->text), "%.*s", (int)(n < 31 ? n : 31), s);
			}
		} else {
			p++;
		}
	}
	return 0;
}

static const struct wrapped *find_wrap(const struct ctx *x, const config_setting_t *s)
{
	const char *name = config_setting_name(s);

	for (unsigned i = 0; i < x->nr_wraps; i++)
		if (x->wraps[i].line == line_of(s) && name && !strcmp(x->wraps[i].name, name))
			return &x->wraps[i];
	return NULL;
}

/* ---- typed access -------------------------------------------------------- */

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT: return "an integer";
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a floating-point number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

/* Integer setting NAME of group G in [lo, hi]; *present says whether it was
 * there (an absent one leaves *v alone). */
static int get_int(struct ctx *x, const config_setting_t *g, const char *name,
		   long long lo, long long hi, __u32 *v, int *present)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	const struct wrapped *w;
	long long val;

	if (present)
		*present = !!s;
	if (!s)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		w = find_wrap(x, s);
		if (w)
			return fail(x, line_of(s), "%s: %s is out of range (%lld..%lld)",
				    name, w->text, lo, hi);
		val = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		val = config_setting_get_int64(s);
		break;
	default:
		return fail(x, line_of(s), "%s: expected an integer, not %s",
			    name, type_name(config_setting_type(s)));
	}
	if (val < lo || val > hi)
		return fail(x, line_of(s), "%s: %lld is out of range (%lld..%lld)", name, val, lo, hi);
	*v = (__u32)val;
	return 0;
}

static int get_string(struct ctx *x, const config_setting_t *g, const char *name,
		      const char **v, const config_setting_t **where)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (where)
		*where = s;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, line_of(s), "%s: expected a string, not %s",
			    name, type_name(config_setting_type(s)));
	*v = config_setting_get_string(s);
	return 0;
}

static int get_bool(struct ctx *x, const config_setting_t *g, const char *name,
		    __u8 *v, const config_setting_t **where)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (where)
		*where = s;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, line_of(s), "%s: expected a boolean (true or false), not %s",
			    name, type_name(config_setting_type(s)));
	*v = !!config_setting_get_bool(s);
	return 0;
}

/* Group setting NAME of G, or *out NULL when absent. */
static int get_group(struct ctx *x, const config_setting_t *g, const char *name,
		     const config_setting_t **out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	*out = NULL;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail(x, line_of(s), "%s: expected a group { ... }, not %s",
			    name, type_name(config_setting_type(s)));
	*out = s;
	return 0;
}

struct choice {
	const char *name;
	int value;                  /* -1: recognised, not supported yet */
};

static int get_choice(struct ctx *x, const config_setting_t *g, const char *name,
		      const struct choice *ch, __u8 *v)
{
	const config_setting_t *s;
	const char *str = NULL;
	char list[128] = "";
	int rc;

	rc = get_string(x, g, name, &str, &s);
	if (rc || !s)
		return rc;
	for (const struct choice *c = ch; c->name; c++) {
		if (strcmp(c->name, str))
			continue;
		if (c->value < 0)
			return fail(x, line_of(s), "%s %s is not supported yet", name, str);
		*v = (__u8)c->value;
		return 0;
	}
	for (const struct choice *c = ch; c->name; c++) {
		size_t n = strlen(list);

		snprintf(list + n, sizeof(list) - n, "%s\"%s\"", n ? ", " : "", c->name);
	}
	return fail(x, line_of(s), "%s: \"%s\" is not one of %s", name, str, list);
}

/* ---- unknown settings ---------------------------------------------------- */

static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Every member of group G must be in known[] (NULL-terminated). */
static int check_keys(struct ctx *x, const config_setting_t *g,
		      const char *const *known, const char *where)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const char *name = config_setting_name(s), *best = NULL;
		unsigned bestd = 3;
		const char *const *k;

		for (k = known; *k; k++)
			if (!strcmp(*k, name))
				break;
		if (*k)
			continue;
		for (k = known; *k; k++) {
			unsigned d = edit_distance(name, *k);

			if (d < bestd) {
				bestd = d;
				best = *k;
			}
		}
		if (best)
			return fail(x, line_of(s), "unknown setting '%s' %s (did you mean '%s'?)",
				    name, where, best);
		return fail(x, line_of(s), "unknown setting '%s' %s", name, where);
	}
	return 0;
}

/* ---- the parts ----------------------------------------------------------- */

static const struct choice proto_choices[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { NULL, 0 } };
static const struct choice mode_choices[] = {
	{ "nat", SL_MODE_NAT }, { "dsr", -1 }, { NULL, 0 } };
static const struct choice sched_choices[] = {
	{ "maglev", SL_SCHED_MAGLEV }, { "p2c", -1 }, { NULL, 0 } };
static const struct choice reject_choices[] = {
	{ "rst", SL_REJECT_RST }, { "drop", SL_REJECT_DROP }, { NULL, 0 } };
static const struct choice trip_choices[] = {
	{ "reset", SL_TRIP_RESET }, { "keep", SL_TRIP_KEEP }, { NULL, 0 } };
static const struct choice xdp_choices[] = {
	{ "native", 0 }, { "generic", 1 }, { NULL, 0 } };

static const struct choice check_type_choices[] = {
	{ "tcp", SL_CHECK_TCP }, { "http", SL_CHECK_HTTP }, { "https", SL_CHECK_HTTPS }, { NULL, 0 } };
static const struct choice panic_choices[] = {
	{ "fail_open", SL_BRK_PANIC_FAIL_OPEN }, { "fail_closed", SL_BRK_PANIC_FAIL_CLOSED },
	{ NULL, 0 } };
static const struct choice brk_mode_choices[] = {
	{ "auto", SL_BRKM_AUTO }, { "metrics_only", SL_BRKM_METRICS_ONLY }, { NULL, 0 } };

static const char *const top_keys[] = {
	"interfaces", "pin_root", "run_dir", "conn_table_size", "pending_table_size", "xdp_mode",
	"control_group", "tick_ms", "reconcile_ms", "pending_scan_ms", "closing_timeout_s",
	"metrics_listen", "services", NULL };
static const char *const svc_keys[] = {
	"name", "vip", "port", "proto", "mode", "scheduler", "maglev_size", "max_conns",
	"connect_timeout_ms", "idle_timeout_s", "reject", "on_trip", "max_ejection_percent",
	"panic", "drain_timeout_ms", "redispatch_max", "backends", "check", "breaker", NULL };
static const char *const bk_keys[] = {
	"addr", "port", "weight", "max_conns", "max_pending", "check", NULL };

/* A check group's settings, indexed by enum ck_key. */
enum ck_key {
	CK_TYPE, CK_PATH, CK_HOST, CK_EXPECT, CK_PORT, CK_INTERVAL, CK_TIMEOUT, CK_RISE, CK_FALL,
	CK_JITTER, CK_TLS, CK_NR
};
static const char *const chk_keys[CK_NR + 1] = {
	[CK_TYPE] = "type", [CK_PATH] = "path", [CK_HOST] = "host", [CK_EXPECT] = "expect",
	[CK_PORT] = "port", [CK_INTERVAL] = "interval_ms", [CK_TIMEOUT] = "timeout_ms",
	[CK_RISE] = "rise", [CK_FALL] = "fall", [CK_JITTER] = "jitter_pct",
	[CK_TLS] = "tls_verify", [CK_NR] = NULL };
static const char *const brk_keys[] = {
	"consecutive_failures", "failure_rate", "window", "window_ms", "min_volume", "open_ms",
	"open_max_ms", "jitter_pct", "half_open_trials", "mode", "slow_call_ms", "slow_call_rate",
	NULL };

static int valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return 0;
	return 1;
}

static int parse_interfaces(struct ctx *x, const config_setting_t *root, struct sl_config *c)
{
	const config_setting_t *l = config_setting_get_member(root, "interfaces");
	int n;

	if (!l)
		return fail(x, 1, "missing required setting 'interfaces'");
	if (config_setting_type(l) != CONFIG_TYPE_LIST && config_setting_type(l) != CONFIG_TYPE_ARRAY)
		return fail(x, line_of(l), "interfaces: expected a list of names ( \"eth0\", ... ), not %s",
			    type_name(config_setting_type(l)));
	n = config_setting_length(l);
	if (n == 0)
		return fail(x, line_of(l), "interfaces: at least one interface is required");
	if (n > SL_MAX_IFACES)
		return fail(x, line_of(l), "interfaces: %d names, at most %d", n, SL_MAX_IFACES);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(l, i);
		const char *name;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fail(x, line_of(e), "interfaces: element %d is %s, expected a string",
				    i + 1, type_name(config_setting_type(e)));
		name = config_setting_get_string(e);
		if (!valid_ifname(name))
			return fail(x, line_of(e), "interfaces: \"%s\" is not a valid interface name (1..15 characters, no '/', ':' or spaces)",
				    name);
		for (unsigned j = 0; j < c->nr_ifaces; j++)
			if (!strcmp(c->ifaces[j], name))
				return fail(x, line_of(e), "interfaces: \"%s\" is listed twice", name);
		snprintf(c->ifaces[c->nr_ifaces++], sizeof(c->ifaces[0]), "%s", name);
	}
	return 0;
}

static int parse_path(struct ctx *x, const config_setting_t *root, const char *key,
		      char *dst, const char *def)
{
	const config_setting_t *s;
	const char *v = def;
	size_t n;
	int rc;

	rc = get_string(x, root, key, &v, &s);
	if (rc)
		return rc;
	n = strlen(v);
	if (v[0] != '/')
		return fail(x, line_of(s), "%s: \"%s\" is not an absolute path", key, v);
	if (n >= SL_PATH_MAX)
		return fail(x, line_of(s), "%s: longer than %d characters", key, SL_PATH_MAX - 1);
	while (n > 1 && v[n - 1] == '/')        /* "/run/sluice/" -> "/run/sluice" */
		n--;
	memcpy(dst, v, n);
	dst[n] = 0;
	return 0;
}

static int valid_svc_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SL_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return 0;
	return 1;
}

/* An address setting: parsed, unicast. */
static int get_addr(struct ctx *x, const config_setting_t *g, const char *key,
		    struct sl_l4addr *a, const config_setting_t **where)
{
	const char *v = NULL, *why;
	int rc;

	rc = get_string(x, g, key, &v, where);
	if (rc)
		return rc;
	if (!*where)
		return fail(x, line_of(g), "missing required setting '%s'", key);
	if (sl_addr_parse(v, a))
		return fail(x, line_of(*where), "%s: \"%s\" is not an IPv4 or IPv6 address", key, v);
	why = not_unicast(a);
	if (why)
		return fail(x, line_of(*where), "%s: %s %s", key, v, why);
	return 0;
}

struct ref {                    /* where an address was defined */
	struct sl_l4addr a;
	int line;                   /* of the addr/vip setting */
	unsigned svc;
};

struct parse {
	struct ref *bks;            /* every backend, in file order */
	unsigned nr_bks, cap_bks;
	int *svc_vip_line;          /* per service: line of its vip setting */
	int *svc_name_line;
};

/* ---- health checks and breakers ------------------------------------------ */

static const char *check_type_name(__u8 t)
{
	switch (t) {
	case SL_CHECK_TCP: return "tcp";
	case SL_CHECK_HTTP: return "http";
	case SL_CHECK_HTTPS: return "https";
	default: return "none";
	}
}

/* Why S cannot be a check's path (ASCII "/..." without spaces or control
 * characters, shorter than SL_CHECK_STR_MAX) or host (the same, any first
 * character, may be empty), or NULL if it can. */
static const char *bad_check_str(const char *s, int path, char *buf, size_t len)
{
	size_t n = strnlen(s, SL_CHECK_STR_MAX);

	if (n >= SL_CHECK_STR_MAX) {
		snprintf(buf, len, "longer than %d characters", SL_CHECK_STR_MAX - 1);
		return buf;
	}
	if (path && s[0] != '/')
		return "does not start with '/'";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c <= ' ' || c >= 0x7f) {
			snprintf(buf, len, "character %zu is a space, a control character or not ASCII",
				 i + 1);
			return buf;
		}
	}
	return NULL;
}

/* Three decimal digits at p: the number, or -1. */
static int three_digits(const char *p)
{
	for (int i = 0; i < 3; i++)
		if (!isdigit((unsigned char)p[i]))
			return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* expect = "NNN" or "NNN-NNN", statuses 100..599, lo <= hi. */
static int parse_expect(struct ctx *x, const config_setting_t *s, const char *v,
			__u16 *lo, __u16 *hi)
{
	size_t n = strlen(v);
	int a = -1, b = -1;

	if (n == 3) {
		a = b = three_digits(v);
	} else if (n == 7 && v[3] == '-') {
		a = three_digits(v);
		b = three_digits(v + 4);
	}
	if (a < 0 || b < 0)
		return fail(x, line_of(s), "expect: \"%s\" is not a status \"NNN\" or a range \"NNN-NNN\"", v);
	if (a < 100 || a > 599)
		return fail(x, line_of(s), "expect: %d is out of range (100..599)", a);
	if (b < 100 || b > 599)
		return fail(x, line_of(s), "expect: %d is out of range (100..599)", b);
	if (a > b)
		return fail(x, line_of(s), "expect: \"%s\" is an empty range (%d is more than %d)", v, a, b);
	*lo = (__u16)a;
	*hi = (__u16)b;
	return 0;
}

/* A check group's settings as written: the service's, or a backend's
 * merged over its service's. */
struct check_src {
	struct sl_cfg_check v;      /* values given (the rest is 0) */
	int line[CK_NR];            /* line of each setting given; 0: not given */
	__u8 own[CK_NR];            /* given in the group being resolved, not inherited */
	int group_line;             /* of that check group */
};

/* Read check group G over src (each setting checked on its own). */
static int read_check(struct ctx *x, const config_setting_t *g, struct check_src *src)
{
	const config_setting_t *s;
	const char *str, *why;
	char buf[96];
	__u32 u;
	int rc, present;

	memset(src->own, 0, sizeof(src->own));
	src->group_line = line_of(g);
	rc = check_keys(x, g, chk_keys, "in a check");
	if (rc)
		return rc;
#define GIVEN(k, s) (src->line[k] = line_of(s), src->own[k] = 1)
	rc = get_choice(x, g, chk_keys[CK_TYPE], check_type_choices, &src->v.type);
	if (rc)
		return rc;
	if ((s = config_setting_get_member(g, chk_keys[CK_TYPE])))
		GIVEN(CK_TYPE, s);
	for (int k = CK_PATH; k <= CK_HOST; k++) {
		rc = get_string(x, g, chk_keys[k], &str, &s);
		if (rc)
			return rc;
		if (!s)
			continue;
		if (k == CK_PATH && str[0] != '/')
			return fail(x, line_of(s), "path: \"%s\" does not start with '/'", str);
		why = bad_check_str(str, k == CK_PATH, buf, sizeof(buf));
		if (why)
			return fail(x, line_of(s), "%s: %s", chk_keys[k], why);
		snprintf(k == CK_PATH ? src->v.path : src->v.host, SL_CHECK_STR_MAX, "%s", str);
		GIVEN(k, s);
	}
	rc = get_string(x, g, chk_keys[CK_EXPECT], &str, &s);
	if (rc)
		return rc;
	if (s) {
		rc = parse_expect(x, s, str, &src->v.expect_lo, &src->v.expect_hi);
		if (rc)
			return rc;
		GIVEN(CK_EXPECT, s);
	}
	rc = get_int(x, g, chk_keys[CK_PORT], 1, 65535, &u, &present);
	if (rc)
		return rc;
	if (present) {
		src->v.port = (__u16)u;
		GIVEN(CK_PORT, config_setting_get_member(g, chk_keys[CK_PORT]));
	}
	{
		static const struct {
			int k;
			__u32 lo, hi;
			size_t off;
		} ints[] = {
			{ CK_INTERVAL, SL_CHECK_INTERVAL_MIN, SL_CHECK_INTERVAL_MAX,
			  offsetof(struct sl_cfg_check, interval_ms) },
			{ CK_TIMEOUT, 1, SL_CHECK_INTERVAL_MAX, offsetof(struct sl_cfg_check, timeout_ms) },
			{ CK_RISE, 1, SL_CHECK_RISE_FALL_MAX, offsetof(struct sl_cfg_check, rise) },
			{ CK_FALL, 1, SL_CHECK_RISE_FALL_MAX, offsetof(struct sl_cfg_check, fall) },
			{ CK_JITTER, 0, 100, offsetof(struct sl_cfg_check, jitter_pct) },
		};

		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
			rc = get_int(x, g, chk_keys[ints[i].k], ints[i].lo, ints[i].hi,
				     (__u32 *)((char *)&src->v + ints[i].off), &present);
			if (rc)
				return rc;
			if (present)
				GIVEN(ints[i].k, config_setting_get_member(g, chk_keys[ints[i].k]));
		}
	}
	rc = get_bool(x, g, chk_keys[CK_TLS], &src->v.tls_verify, &s);
	if (rc)
		return rc;
	if (s)
		GIVEN(CK_TLS, s);
#undef GIVEN
	return 0;
}

/*
 * The check src describes, defaults filled in, and the rules across
 * settings. Settings that do not apply to the resulting type are refused
 * when written in the group being resolved, and dropped when inherited
 * from the service's check (a backend overriding "http" with "tcp").
 */
static int resolve_check(struct ctx *x, const struct check_src *src, __u8 proto,
			 struct sl_cfg_check *out)
{
	static const int http_only[] = { CK_PATH, CK_HOST, CK_EXPECT, CK_TLS };
	const struct sl_cfg_check *v = &src->v;
	int http;

	memset(out, 0, sizeof(*out));
	if (!src->line[CK_TYPE])
		return fail(x, src->group_line, "missing required setting 'type'");
	out->type = v->type;
	http = out->type == SL_CHECK_HTTP || out->type == SL_CHECK_HTTPS;
	for (size_t i = 0; i < sizeof(http_only) / sizeof(http_only[0]); i++) {
		int k = http_only[i];
		int applies = k == CK_TLS ? out->type == SL_CHECK_HTTPS : http;

		if (src->line[k] && !applies && src->own[k])
			return fail(x, src->line[k], "%s: only for %s checks, not \"%s\"", chk_keys[k],
				    k == CK_TLS ? "https" : "http and https", check_type_name(out->type));
	}
	out->port = src->line[CK_PORT] ? v->port : 0;
	out->interval_ms = src->line[CK_INTERVAL] ? v->interval_ms : SL_CHECK_DEFAULT_INTERVAL_MS;
	if (src->line[CK_TIMEOUT]) {
		out->timeout_ms = v->timeout_ms;
	} else {
		out->timeout_ms = SL_CHECK_DEFAULT_TIMEOUT_MS;
		if (out->timeout_ms > out->interval_ms)
			out->timeout_ms = out->interval_ms;
	}
	if (out->timeout_ms > out->interval_ms) {
		/* name the setting of the group being resolved, else timeout_ms */
		int line = src->line[CK_INTERVAL] && src->own[CK_INTERVAL] && !src->own[CK_TIMEOUT] ?
			   src->line[CK_INTERVAL] : src->line[CK_TIMEOUT];

		return fail(x, line, "timeout_ms: %u is more than interval_ms (%u)",
			    out->timeout_ms, out->interval_ms);
	}
	out->rise = src->line[CK_RISE] ? v->rise : SL_CHECK_DEFAULT_RISE;
	out->fall = src->line[CK_FALL] ? v->fall : SL_CHECK_DEFAULT_FALL;
	out->jitter_pct = src->line[CK_JITTER] ? v->jitter_pct : SL_CHECK_DEFAULT_JITTER_PCT;
	if (http) {
		snprintf(out->path, sizeof(out->path), "%s", src->line[CK_PATH] ? v->path : "/");
		if (src->line[CK_HOST])
			snprintf(out->host, sizeof(out->host), "%s", v->host);
		out->expect_lo = src->line[CK_EXPECT] ? v->expect_lo : SL_CHECK_DEFAULT_EXPECT_LO;
		out->expect_hi = src->line[CK_EXPECT] ? v->expect_hi : SL_CHECK_DEFAULT_EXPECT_HI;
	}
	if (out->type == SL_CHECK_HTTPS && src->line[CK_TLS])
		out->tls_verify = v->tls_verify;
	if (proto == IPPROTO_UDP && !out->port)
		return fail(x, src->group_line,
			    "check: a %s check of a udp service needs 'port' (the backends' udp port has no TCP listener)",
			    check_type_name(out->type));
	return 0;
}

/* Why a resolved check (in memory) breaks the file's rules, or NULL. */
static const char *bad_check(const struct sl_cfg_check *ck, __u8 proto, char *buf, size_t len)
{
	int http = ck->type == SL_CHECK_HTTP || ck->type == SL_CHECK_HTTPS;
	const char *why;
	char sub[64];

	if (ck->type == SL_CHECK_NONE)
		return NULL;            /* no check: the rest is not used */
	if (ck->type > SL_CHECK_HTTPS) {
		snprintf(buf, len, "type %u is not tcp, http or https", ck->type);
		return buf;
	}
	if (ck->interval_ms < SL_CHECK_INTERVAL_MIN || ck->interval_ms > SL_CHECK_INTERVAL_MAX ||
	    ck->timeout_ms < 1 || ck->timeout_ms > ck->interval_ms) {
		snprintf(buf, len, "interval_ms %u, timeout_ms %u: out of range (%u..%u, 1..interval_ms)",
			 ck->interval_ms, ck->timeout_ms, SL_CHECK_INTERVAL_MIN, SL_CHECK_INTERVAL_MAX);
		return buf;
	}
	if (ck->rise < 1 || ck->rise > SL_CHECK_RISE_FALL_MAX || ck->fall < 1 ||
	    ck->fall > SL_CHECK_RISE_FALL_MAX || ck->jitter_pct > 100) {
		snprintf(buf, len, "rise %u, fall %u, jitter_pct %u: out of range (1..%u, 1..%u, 0..100)",
			 ck->rise, ck->fall, ck->jitter_pct, SL_CHECK_RISE_FALL_MAX, SL_CHECK_RISE_FALL_MAX);
		return buf;
	}
	if (proto == IPPROTO_UDP && !ck->port)
		return "a check of a udp service needs 'port'";
	if (ck->tls_verify > (ck->type == SL_CHECK_HTTPS))
		return "tls_verify is only for https checks (0 or 1)";
	if (!http) {
		if (ck->path[0] || ck->host[0] || ck->expect_lo || ck->expect_hi)
			return "path, host and expect are only for http and https checks";
		return NULL;
	}
	if (!memchr(ck->path, 0, sizeof(ck->path)) || !memchr(ck->host, 0, sizeof(ck->host)))
		return "path or host not terminated";
	why = bad_check_str(ck->path, 1, sub, sizeof(sub));
	if (!why)
		why = bad_check_str(ck->host, 0, sub, sizeof(sub));
	if (why) {
		snprintf(buf, len, "path or host: %s", why);
		return buf;
	}
	if (ck->expect_lo < 100 || ck->expect_hi > 599 || ck->expect_lo > ck->expect_hi) {
		snprintf(buf, len, "expect %u-%u: not a range within 100..599", ck->expect_lo, ck->expect_hi);
		return buf;
	}
	return NULL;
}

void sl_config_backend_inherit(const struct sl_cfg_service *s, struct sl_cfg_backend *b)
{
	if (!b->check_set)
		b->check = s->check;
}

/* The service's check group, if any, into svc->check and src (what its
 * backends' groups override). */
static int parse_service_check(struct ctx *x, const config_setting_t *g, struct sl_cfg_service *svc,
			       struct check_src *src)
{
	const config_setting_t *cg;
	int rc;

	memset(src, 0, sizeof(*src));
	rc = get_group(x, g, "check", &cg);
	if (rc || !cg)
		return rc;
	rc = read_check(x, cg, src);
	if (rc)
		return rc;
	return resolve_check(x, src, svc->vip.proto, &svc->check);
}

/* A backend's check: its own group over the service's, or the service's. */
static int parse_backend_check(struct ctx *x, const config_setting_t *g,
			       const struct sl_cfg_service *svc, const struct check_src *svc_src,
			       struct sl_cfg_backend *b)
{
	const config_setting_t *cg;
	struct check_src src = *svc_src;
	int rc;

	rc = get_group(x, g, "check", &cg);
	if (rc)
		return rc;
	if (!cg) {
		b->check = svc->check;
		b->check_set = 0;
		return 0;
	}
	rc = read_check(x, cg, &src);
	if (rc)
		return rc;
	b->check_set = 1;
	return resolve_check(x, &src, svc->vip.proto, &b->check);
}

/* Why a breaker config (in memory) breaks the file's rules, or NULL:
 * the file's ranges, then sl_brk_cfg_check's rules across settings. */
static const char *bad_breaker(const struct sl_brk_cfg *b, __u8 mode, char *buf, size_t len)
{
	int count = b->window_kind == SL_BRK_WIN_COUNT;

	if (mode != SL_BRKM_AUTO && mode != SL_BRKM_METRICS_ONLY)
		return "mode is not auto or metrics_only";
	if (b->consecutive_failures > SL_BRK_CONSECUTIVE_MAX) {
		snprintf(buf, len, "consecutive_failures %u: must be 0 (off) to %u",
			 b->consecutive_failures, SL_BRK_CONSECUTIVE_MAX);
		return buf;
	}
	if (count ? b->window < 1 || b->window > SL_BRK_COUNT_WINDOW_MAX :
		    b->window_kind != SL_BRK_WIN_TIME || b->window < SL_BRK_TIME_WINDOW_MIN ||
		    b->window > SL_BRK_TIME_WINDOW_MAX) {
		snprintf(buf, len, "window %u (%s): out of range", b->window, count ? "count" : "ms");
		return buf;
	}
	if (b->min_volume < 1 || b->min_volume > (count ? b->window : SL_BRK_MIN_VOLUME_TIME_MAX)) {
		snprintf(buf, len, "min_volume %u: must be 1 to %u", b->min_volume,
			 count ? b->window : SL_BRK_MIN_VOLUME_TIME_MAX);
		return buf;
	}
	if (b->open_ms > SL_BRK_OPEN_MAX_MS || b->open_max_ms > SL_BRK_OPEN_MAX_MS) {
		snprintf(buf, len, "open_ms %u, open_max_ms %u: at most %u", b->open_ms,
			 b->open_max_ms, SL_BRK_OPEN_MAX_MS);
		return buf;
	}
	if (sl_brk_cfg_check(b, buf, len))
		return buf;
	return NULL;
}

static int parse_breaker(struct ctx *x, const config_setting_t *g, struct sl_cfg_service *svc)
{
	const config_setting_t *bg, *w, *wm;
	struct sl_brk_cfg *b = &svc->breaker;
	char why[SL_BRK_REASON_MAX + 64];
	int rc, present;

	rc = get_group(x, g, "breaker", &bg);
	if (rc || !bg)
		return rc;
	rc = check_keys(x, bg, brk_keys, "in a breaker");
	if (rc)
		return rc;
	if ((rc = get_int(x, bg, "consecutive_failures", 0, SL_BRK_CONSECUTIVE_MAX,
			  &b->consecutive_failures, NULL)) ||
	    (rc = get_int(x, bg, "failure_rate", 0, 100, &b->failure_rate, NULL)))
		return rc;
	w = config_setting_get_member(bg, "window");
	wm = config_setting_get_member(bg, "window_ms");
	if (w && wm)
		return fail(x, line_of(wm) >= line_of(w) ? line_of(wm) : line_of(w),
			    "window and window_ms: a count window or a time window, not both");
	if (wm) {
		b->window_kind = SL_BRK_WIN_TIME;
		rc = get_int(x, bg, "window_ms", SL_BRK_TIME_WINDOW_MIN, SL_BRK_TIME_WINDOW_MAX,
			     &b->window, NULL);
	} else {
		rc = get_int(x, bg, "window", 1, SL_BRK_COUNT_WINDOW_MAX, &b->window, NULL);
	}
	if (rc)
		return rc;
	rc = get_int(x, bg, "min_volume", 1, SL_BRK_MIN_VOLUME_TIME_MAX, &b->min_volume, &present);
	if (rc)
		return rc;
	if (b->window_kind == SL_BRK_WIN_COUNT && b->min_volume > b->window) {
		if (present)
			return fail(x, line_of(config_setting_get_member(bg, "min_volume")),
				    "min_volume: %u is more than the window (%u outcomes): the rate could never trip",
				    b->min_volume, b->window);
		b->min_volume = b->window;      /* the default, for a small window */
	}
	rc = get_int(x, bg, "open_ms", 1, SL_BRK_OPEN_MAX_MS, &b->open_ms, NULL);
	if (rc)
		return rc;
	rc = get_int(x, bg, "open_max_ms", 1, SL_BRK_OPEN_MAX_MS, &b->open_max_ms, &present);
	if (rc)
		return rc;
	if (b->open_max_ms < b->open_ms) {
		if (present)
			return fail(x, line_of(config_setting_get_member(bg, "open_max_ms")),
				    "open_max_ms: %u is less than open_ms (%u)", b->open_max_ms, b->open_ms);
		b->open_max_ms = b->open_ms;    /* the default, for a long open_ms */
	}
	if ((rc = get_int(x, bg, "jitter_pct", 0, SL_BRK_JITTER_MAX, &b->jitter_pct, NULL)) ||
	    (rc = get_int(x, bg, "half_open_trials", 1, SL_BRK_TRIALS_MAX, &b->half_open_trials, NULL)) ||
	    (rc = get_int(x, bg, "slow_call_ms", 1, SL_CONNECT_TIMEOUT_MAX, &b->slow_call_ms, NULL)) ||
	    (rc = get_int(x, bg, "slow_call_rate", 0, 100, &b->slow_call_rate, NULL)) ||
	    (rc = get_choice(x, bg, "mode", brk_mode_choices, &svc->breaker_mode)))
		return rc;
	if (sl_brk_cfg_check(b, why, sizeof(why)))
		return fail(x, line_of(bg), "breaker: %s", why);
	return 0;
}

static int parse_backend(struct ctx *x, const config_setting_t *g, struct sl_cfg_service *svc,
			 const struct check_src *svc_ck, struct sl_cfg_backend *b, struct parse *ps,
			 unsigned svc_idx)
{
	const config_setting_t *as;
	char ip[INET6_ADDRSTRLEN], vip[INET6_ADDRSTRLEN];
	__u32 port = 0;
	int rc, present;

	if (!config_setting_is_group(g))
		return fail(x, line_of(g), "backends: expected groups { addr = ...; port = ...; }, not %s",
			    type_name(config_setting_type(g)));
	rc = check_keys(x, g, bk_keys, "in a backend");
	if (rc)
		return rc;
	b->line = line_of(g);
	b->weight = 1;
	rc = get_addr(x, g, "addr", &b->addr, &as);
	if (rc)
		return rc;
	if (b->addr.family != svc->vip.family)
		return fail(x, line_of(as), "addr: %s is IPv%u but the service's vip %s is IPv%u",
			    fmt_ip(&b->addr, ip, sizeof(ip)), b->addr.family,
			    fmt_ip(&svc->vip, vip, sizeof(vip)), svc->vip.family);
	rc = get_int(x, g, "port", 1, 65535, &port, &present);
	if (rc)
		return rc;
	if (!present)
		return fail(x, line_of(g), "missing required setting 'port'");
	b->addr.port = htons((__u16)port);
	b->addr.proto = svc->vip.proto;
	if ((rc = get_int(x, g, "weight", 0, 65535, &b->weight, NULL)) ||
	    (rc = get_int(x, g, "max_conns", 0, SL_MAX_CONNS_LIMIT, &b->max_conns, NULL)) ||
	    (rc = get_int(x, g, "max_pending", 0, SL_MAX_CONNS_LIMIT, &b->max_pending, NULL)) ||
	    (rc = parse_backend_check(x, g, svc, svc_ck, b)))
		return rc;

	if (ps->nr_bks >= SL_MAX_BACKENDS - 1)
		return fail(x, line_of(g), "too many backends: at most %d in all services together",
			    SL_MAX_BACKENDS - 1);
	if (ps->nr_bks == ps->cap_bks) {
		unsigned cap = ps->cap_bks ? ps->cap_bks * 2 : 64;
		struct ref *r = realloc(ps->bks, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		ps->bks = r;
		ps->cap_bks = cap;
	}
	ps->bks[ps->nr_bks].a = b->addr;
	ps->bks[ps->nr_bks].line = line_of(as);
	ps->bks[ps->nr_bks].svc = svc_idx;
	ps->nr_bks++;
	return 0;
}

static int parse_service(struct ctx *x, const config_setting_t *g, struct sl_cfg_service *svc,
			 struct parse *ps, unsigned idx)
{
	const config_setting_t *s, *vs, *bl;
	const char *name = NULL;
	struct check_src ck;
	__u32 port = 0, msize = 0, ejp = SL_DEFAULT_MAX_EJECTION_PCT, rdm = SL_DEFAULT_REDISPATCH_MAX;
	__u8 proto = IPPROTO_TCP;
	int rc, present, msize_set;

	if (!config_setting_is_group(g))
		return fail(x, line_of(g), "services: expected groups { name = ...; ... }, not %s",
			    type_name(config_setting_type(g)));
	rc = check_keys(x, g, svc_keys, "in a service");
	if (rc)
		return rc;
	svc->line = line_of(g);

	rc = get_string(x, g, "name", &name, &s);
	if (rc)
		return rc;
	if (!s)
		return fail(x, line_of(g), "missing required setting 'name'");
	if (!valid_svc_name(name))
		return fail(x, line_of(s), "name: \"%s\" is not a valid service name (1..%d characters of A-Z a-z 0-9 _ . -)",
			    name, SL_NAME_MAX - 1);
	snprintf(svc->name, sizeof(svc->name), "%s", name);
	ps->svc_name_line[idx] = line_of(s);

	rc = get_choice(x, g, "proto", proto_choices, &proto);
	if (rc)
		return rc;
	rc = get_addr(x, g, "vip", &svc->vip, &vs);
	if (rc)
		return rc;
	ps->svc_vip_line[idx] = line_of(vs);
	rc = get_int(x, g, "port", 1, 65535, &port, &present);
	if (rc)
		return rc;
	if (!present)
		return fail(x, line_of(g), "missing required setting 'port'");
	svc->vip.port = htons((__u16)port);
	svc->vip.proto = proto;

	sl_config_service_defaults(svc, proto);
	if ((rc = get_choice(x, g, "mode", mode_choices, &svc->mode)) ||
	    (rc = get_choice(x, g, "scheduler", sched_choices, &svc->sched)) ||
	    (rc = get_int(x, g, "maglev_size", 1, SL_MAGLEV_MAX, &msize, &msize_set)) ||
	    (rc = get_int(x, g, "max_conns", 0, SL_MAX_CONNS_LIMIT, &svc->max_conns, NULL)) ||
	    (rc = get_int(x, g, "connect_timeout_ms", 1, SL_CONNECT_TIMEOUT_MAX,
			  &svc->connect_timeout_ms, NULL)) ||
	    (rc = get_int(x, g, "idle_timeout_s", 1, SL_IDLE_TIMEOUT_MAX,
			  &svc->idle_timeout_s, NULL)) ||
	    (rc = get_choice(x, g, "reject", reject_choices, &svc->reject)) ||
	    (rc = get_choice(x, g, "on_trip", trip_choices, &svc->on_trip)) ||
	    (rc = get_int(x, g, "max_ejection_percent", 0, 100, &ejp, NULL)) ||
	    (rc = get_choice(x, g, "panic", panic_choices, &svc->panic)) ||
	    (rc = get_int(x, g, "drain_timeout_ms", 0, SL_DRAIN_TIMEOUT_MAX,
			  &svc->drain_timeout_ms, NULL)) ||
	    (rc = get_int(x, g, "redispatch_max", 0, SL_REDISPATCH_MAX, &rdm, NULL)) ||
	    (rc = parse_service_check(x, g, svc, &ck)) ||
	    (rc = parse_breaker(x, g, svc)))
		return rc;
	svc->max_ejection_pct = (__u8)ejp;
	svc->redispatch_max = (__u8)rdm;

	bl = config_setting_get_member(g, "backends");
	if (bl && config_setting_type(bl) == CONFIG_TYPE_ARRAY && !config_setting_length(bl))
		bl = NULL;              /* "[ ]": empty too */
	if (bl) {
		int n;

		if (config_setting_type(bl) != CONFIG_TYPE_LIST)
			return fail(x, line_of(bl), "backends: expected a list ( { ... }, ... ), not %s",
				    type_name(config_setting_type(bl)));
		n = config_setting_length(bl);
		if (n > 0) {
			svc->backends = calloc(n, sizeof(*svc->backends));
			if (!svc->backends)
				return -ENOMEM;
		}
		for (int i = 0; i < n; i++) {
			rc = parse_backend(x, config_setting_get_elem(bl, i), svc, &ck,
					   &svc->backends[i], ps, idx);
			if (rc)
				return rc;
			svc->nr_backends++;
		}
	}

	if (msize_set) {
		s = config_setting_get_member(g, "maglev_size");
		if (!sl_is_prime(msize))
			return fail(x, line_of(s), "maglev_size: %u is not prime", msize);
		if (msize < svc->nr_backends)
			return fail(x, line_of(s), "maglev_size: %u is smaller than the number of backends (%u)",
				    msize, svc->nr_backends);
		svc->maglev_size = msize;
		svc->maglev_size_set = 1;
	} else {
		svc->maglev_size = sl_maglev_default_size(svc->nr_backends);
	}
	return 0;
}

/* ---- checks across services ---------------------------------------------- */

static int cmp_l4(const struct sl_l4addr *a, const struct sl_l4addr *b, int with_port)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (r || !with_port)
		return r;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

static int cmp_ref_l4(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;
	int r = cmp_l4(&a->a, &b->a, 1);

	return r ? r : (a->line > b->line) - (a->line < b->line);
}

static int cmp_ref_ip(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;

	return cmp_l4(&a->a, &b->a, 0);
}

/* The same (addr, port, proto) twice: report the earliest repeat in the file. */
static const struct ref *first_repeat(struct ref *r, unsigned n, const struct ref **orig)
{
	const struct ref *best = NULL;

	if (n < 2)
		return NULL;
	qsort(r, n, sizeof(*r), cmp_ref_l4);
	for (unsigned i = 1; i < n; i++) {
		unsigned j = i;

		if (cmp_l4(&r[i].a, &r[i - 1].a, 1))
			continue;
		while (j > 0 && !cmp_l4(&r[j - 1].a, &r[i].a, 1))
			j--;
		if (!best || r[i].line < best->line) {
			best = &r[i];
			*orig = &r[j];
		}
	}
	return best;
}

static const struct sl_config *names_cfg;      /* for cmp_name (qsort has no context) */

static int cmp_name(const void *pa, const void *pb)
{
	unsigned a = *(const unsigned *)pa, b = *(const unsigned *)pb;
	int r = strcmp(names_cfg->services[a].name, names_cfg->services[b].name);

	return r ? r : (a > b) - (a < b);
}

/* Service names are unique: sorted, so n log n (a reload of thousands of
 * services must stay cheap); the repeat reported is the earliest in the
 * file, naming the first definition. */
static int unique_names(struct ctx *x, const struct sl_config *c, const struct parse *ps)
{
	unsigned *idx, i, dup = ~0u, orig = 0;

	if (c->nr_services < 2)
		return 0;
	idx = malloc(c->nr_services * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < c->nr_services; i++)
		idx[i] = i;
	names_cfg = c;
	qsort(idx, c->nr_services, sizeof(*idx), cmp_name);
	for (i = 1; i < c->nr_services; i++) {
		unsigned j = i;

		if (strcmp(c->services[idx[i]].name, c->services[idx[i - 1]].name))
			continue;
		while (j > 0 && !strcmp(c->services[idx[j - 1]].name, c->services[idx[i]].name))
			j--;
		/* idx[j] is the first definition, idx[j + 1] its first repeat */
		if (i == j + 1 && idx[i] < dup) {
			dup = idx[i];
			orig = idx[j];
		}
	}
	free(idx);
	if (dup == ~0u)
		return 0;
	if (!ps->svc_name_line[dup])
		return fail(x, 0, "name: service \"%s\" exists already", c->services[dup].name);
	return fail(x, ps->svc_name_line[dup], "name: service \"%s\" is already defined at line %d",
		    c->services[dup].name, ps->svc_name_line[orig]);
}

static int cross_checks(struct ctx *x, struct sl_config *c, struct parse *ps)
{
	struct ref *v = NULL;
	const struct ref *dup, *orig = NULL;
	char buf[96];
	int rc = 0;

	rc = unique_names(x, c, ps);
	if (rc)
		return rc;
	if (c->nr_services) {
		v = calloc(c->nr_services, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < c->nr_services; i++) {
		v[i].a = c->services[i].vip;
		v[i].line = ps->svc_vip_line[i];
		v[i].svc = i;
	}
	dup = first_repeat(v, c->nr_services, &orig);
	if (dup) {
		rc = fail(x, dup->line, "vip: %s is already the vip of service \"%s\" (line %d)",
			  fmt_l4(&dup->a, buf, sizeof(buf)), c->services[orig->svc].name, orig->line);
		goto out;
	}

	dup = first_repeat(ps->bks, ps->nr_bks, &orig);
	if (dup) {
		rc = fail(x, dup->line, "addr: %s is already a backend of service \"%s\" (line %d): in NAT mode a backend belongs to one service",
			  fmt_l4(&dup->a, buf, sizeof(buf)), c->services[orig->svc].name, orig->line);
		goto out;
	}

	/* a backend's address is nobody's VIP; v is sorted by address */
	{
		const struct ref *hit = NULL, *worst = NULL;

		for (unsigned i = 0; i < ps->nr_bks; i++) {
			const struct ref *h = bsearch(&ps->bks[i], v, c->nr_services, sizeof(*v),
						      cmp_ref_ip);

			if (h && (!worst || ps->bks[i].line < worst->line)) {
				worst = &ps->bks[i];
				hit = h;
			}
		}
		if (worst)
			rc = fail(x, worst->line, "addr: %s is the vip of service \"%s\" (line %d)",
				  fmt_ip(&worst->a, buf, sizeof(buf)), c->services[hit->svc].name,
				  hit->line);
	}
out:
	free(v);
	return rc;
}

/* ---- hash ---------------------------------------------------------------- */

struct fnv {
	__u64 h;
};

static void fnv_bytes(struct fnv *f, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		f->h ^= b[i];
		f->h *= 0x100000001b3ull;
	}
}

static void fnv_u32(struct fnv *f, __u32 v)   /* little endian, whatever the host */
{
	unsigned char b[4] = { v, v >> 8, v >> 16, v >> 24 };

	fnv_bytes(f, b, 4);
}

static void fnv_str(struct fnv *f, const char *s)
{
	size_t n = strlen(s);

	fnv_u32(f, (__u32)n);
	fnv_bytes(f, s, n);
}

static void fnv_l4(struct fnv *f, const struct sl_l4addr *a)
{
	fnv_u32(f, a->family);
	fnv_bytes(f, a->addr, sizeof(a->addr));       /* network order already */
	fnv_bytes(f, &a->port, sizeof(a->port));
	fnv_u32(f, a->proto);
}

static void fnv_check(struct fnv *f, const struct sl_cfg_check *ck)
{
	fnv_u32(f, ck->type);
	if (ck->type == SL_CHECK_NONE)
		return;
	fnv_u32(f, ck->port);
	fnv_u32(f, ck->interval_ms);
	fnv_u32(f, ck->timeout_ms);
	fnv_u32(f, ck->rise);
	fnv_u32(f, ck->fall);
	fnv_u32(f, ck->jitter_pct);
	fnv_u32(f, ck->expect_lo);
	fnv_u32(f, ck->expect_hi);
	fnv_u32(f, ck->tls_verify);
	fnv_str(f, ck->path);
	fnv_str(f, ck->host);
}

static void fnv_breaker(struct fnv *f, const struct sl_brk_cfg *b)
{
	fnv_u32(f, b->consecutive_failures);
	fnv_u32(f, b->failure_rate);
	fnv_u32(f, b->window_kind);
	fnv_u32(f, b->window);
	fnv_u32(f, b->min_volume);
	fnv_u32(f, b->open_ms);
	fnv_u32(f, b->open_max_ms);
	fnv_u32(f, b->jitter_pct);
	fnv_u32(f, b->half_open_trials);
	fnv_u32(f, b->slow_call_ms);
	fnv_u32(f, b->slow_call_rate);
}

static __u64 config_hash(const struct sl_config *c)
{
	struct fnv f = { 0xcbf29ce484222325ull };

	fnv_str(&f, "sluice.conf/2");         /* 2: the resilience settings */
	fnv_u32(&f, c->nr_ifaces);
	for (unsigned i = 0; i < c->nr_ifaces; i++)
		fnv_str(&f, c->ifaces[i]);
	fnv_str(&f, c->pin_root);
	fnv_str(&f, c->run_dir);
	fnv_u32(&f, c->conn_table_size);
	fnv_u32(&f, c->xdp_generic);
	if (c->control_group[0])        /* only when set: older configs keep their hash */
		fnv_str(&f, c->control_group);
	if (strcmp(c->metrics_listen, SL_DEFAULT_METRICS_LISTEN))  /* likewise, when not the default */
		fnv_str(&f, c->metrics_listen[0] ? c->metrics_listen : "off");
	fnv_u32(&f, c->pending_table_size);
	fnv_u32(&f, c->tick_ms);
	fnv_u32(&f, c->reconcile_ms);
	fnv_u32(&f, c->pending_scan_ms);
	fnv_u32(&f, c->closing_timeout_s);
	fnv_u32(&f, c->nr_services);
	for (unsigned i = 0; i < c->nr_services; i++) {
		const struct sl_cfg_service *s = &c->services[i];

		fnv_str(&f, s->name);
		fnv_l4(&f, &s->vip);
		fnv_u32(&f, s->mode);
		fnv_u32(&f, s->sched);
		fnv_u32(&f, s->reject);
		fnv_u32(&f, s->on_trip);
		fnv_u32(&f, s->max_ejection_pct);
		fnv_u32(&f, s->max_conns);
		fnv_u32(&f, s->connect_timeout_ms);
		fnv_u32(&f, s->idle_timeout_s);
		fnv_u32(&f, s->maglev_size);
		fnv_u32(&f, s->panic);
		fnv_u32(&f, s->drain_timeout_ms);
		fnv_u32(&f, s->redispatch_max);
		fnv_u32(&f, s->breaker_mode);
		fnv_breaker(&f, &s->breaker);
		fnv_check(&f, &s->check);
		fnv_u32(&f, s->nr_backends);
		for (unsigned j = 0; j < s->nr_backends; j++) {
			const struct sl_cfg_backend *b = &s->backends[j];

			fnv_l4(&f, &b->addr);
			fnv_u32(&f, b->weight);
			fnv_u32(&f, b->max_conns);
			fnv_u32(&f, b->max_pending);
			fnv_check(&f, &b->check);       /* resolved; check_set is not content */
		}
	}
	return f.h;
}

/* ---- entry points -------------------------------------------------------- */

void sl_config_free(struct sl_config *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nr_services; i++)
		free(c->services[i].backends);
	free(c->services);
	free(c);
}

/* control_group = "NAME": resolved now, so an unknown group is an error
 * of the file, not a surprise at the first request. */
static int parse_control_group(struct ctx *x, const config_setting_t *root, struct sl_config *c)
{
	const config_setting_t *s;
	const char *v = NULL;
	struct group gr, *res = NULL;
	char buf[4096];
	int rc;

	rc = get_string(x, root, "control_group", &v, &s);
	if (rc || !s)
		return rc;
	if (!*v || strlen(v) >= sizeof(c->control_group))
		return fail(x, line_of(s), "control_group: \"%s\" is not a group name (1..%d characters)",
			    v, SL_NAME_MAX - 1);
	rc = getgrnam_r(v, &gr, buf, sizeof(buf), &res);
	if (rc || !res)
		return fail(x, line_of(s), "control_group: no group named \"%s\"%s%s", v,
			    rc ? ": " : "", rc ? strerror(rc) : "");
	snprintf(c->control_group, sizeof(c->control_group), "%s", v);
	c->control_gid = (__u32)res->gr_gid;
	return 0;
}

int sl_listen_parse(const char *s, struct sl_l4addr *a)
{
	char host[SL_LISTEN_MAX], *end;
	const char *colon, *h = s;
	size_t n;
	unsigned long port;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;         /* no port, or an IPv6 address without brackets */
		n = (size_t)(colon - s);
	}
	if (!n || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = 0;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -EINVAL;
	if (sl_addr_parse(host, a))
		return -EINVAL;
	if ((s[0] == '[') != (a->family == SL_AF_INET6))
		return -EINVAL;         /* "[198.18.0.1]:1" */
	a->port = htons((__u16)port);
	a->proto = IPPROTO_TCP;
	return 0;
}

/* metrics_listen = "ADDR:PORT" | "[V6]:PORT" | "" | "off" */
static int parse_metrics_listen(struct ctx *x, const config_setting_t *root, struct sl_config *c)
{
	const config_setting_t *s;
	const char *v = SL_DEFAULT_METRICS_LISTEN;
	int rc;

	rc = get_string(x, root, "metrics_listen", &v, &s);
	if (rc)
		return rc;
	if (!*v || !strcmp(v, "off")) {
		c->metrics_listen[0] = 0;
		memset(&c->metrics_addr, 0, sizeof(c->metrics_addr));
		return 0;
	}
	if (strlen(v) >= sizeof(c->metrics_listen) || sl_listen_parse(v, &c->metrics_addr))
		return fail(x, line_of(s), "metrics_listen: \"%.80s\" is not ADDR:PORT, [IPV6]:PORT "
			    "(port 1..65535), \"\" or \"off\"", v);
	snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s", v);
	return 0;
}

static int parse_root(struct ctx *x, const config_setting_t *root, struct sl_config *c)
{
	const config_setting_t *sl;
	struct parse ps = { 0 };
	__u8 xdp = 0;
	int rc;

	rc = check_keys(x, root, top_keys, "at the top level");
	if (rc)
		return rc;
	if ((rc = parse_interfaces(x, root, c)) ||
	    (rc = parse_path(x, root, "pin_root", c->pin_root, SL_DEFAULT_PIN_ROOT)) ||
	    (rc = parse_path(x, root, "run_dir", c->run_dir, SL_DEFAULT_RUN_DIR)))
		return rc;
	c->conn_table_size = SL_CONN_DEFAULT;
	c->pending_table_size = SL_PENDING_DEFAULT;
	c->tick_ms = SL_DEFAULT_TICK_MS;
	c->reconcile_ms = SL_DEFAULT_RECONCILE_MS;
	c->pending_scan_ms = SL_DEFAULT_PENDING_SCAN_MS;
	c->closing_timeout_s = SL_DEFAULT_CLOSING_TIMEOUT_S;
	if ((rc = get_int(x, root, "conn_table_size", SL_CONN_TABLE_MIN, SL_CONN_TABLE_MAX,
			  &c->conn_table_size, NULL)) ||
	    (rc = get_int(x, root, "pending_table_size", SL_PENDING_TABLE_MIN, SL_PENDING_TABLE_MAX,
			  &c->pending_table_size, NULL)) ||
	    (rc = get_int(x, root, "tick_ms", SL_TICK_MS_MIN, SL_TICK_MS_MAX, &c->tick_ms, NULL)) ||
	    (rc = get_int(x, root, "reconcile_ms", SL_RECONCILE_MS_MIN, SL_RECONCILE_MS_MAX,
			  &c->reconcile_ms, NULL)) ||
	    (rc = get_int(x, root, "pending_scan_ms", SL_PENDING_SCAN_MS_MIN, SL_PENDING_SCAN_MS_MAX,
			  &c->pending_scan_ms, NULL)) ||
	    (rc = get_int(x, root, "closing_timeout_s", 1, SL_CLOSING_TIMEOUT_MAX,
			  &c->closing_timeout_s, NULL)) ||
	    (rc = get_choice(x, root, "xdp_mode", xdp_choices, &xdp)))
		return rc;
	c->xdp_generic = xdp;
	rc = parse_control_group(x, root, c);
	if (!rc)
		rc = parse_metrics_listen(x, root, c);
	if (rc)
		return rc;

	sl = config_setting_get_member(root, "services");
	if (!sl || (config_setting_type(sl) == CONFIG_TYPE_ARRAY && !config_setting_length(sl)))
		return 0;               /* absent, "( )" or "[ ]": no services */
	if (config_setting_type(sl) != CONFIG_TYPE_LIST)
		return fail(x, line_of(sl), "services: expected a list ( { ... }, ... ), not %s",
			    type_name(config_setting_type(sl)));
	{
		int n = config_setting_length(sl);

		if (n > SL_MAX_SERVICES)
			return fail(x, line_of(config_setting_get_elem(sl, SL_MAX_SERVICES)),
				    "too many services: at most %d", SL_MAX_SERVICES);
		if (n == 0)
			return 0;
		c->services = calloc(n, sizeof(*c->services));
		ps.svc_vip_line = calloc(n, sizeof(int));
		ps.svc_name_line = calloc(n, sizeof(int));
		if (!c->services || !ps.svc_vip_line || !ps.svc_name_line) {
			rc = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			/* counted first, so a half-parsed one is freed too */
			c->nr_services++;
			rc = parse_service(x, config_setting_get_elem(sl, i), &c->services[i], &ps, i);
			if (rc)
				goto out;
		}
	}
	rc = cross_checks(x, c, &ps);
out:
	free(ps.svc_vip_line);
	free(ps.svc_name_line);
	free(ps.bks);
	return rc;
}

int sl_config_load_string(const char *text, const char *name, struct sl_config **out,
			  char *err, size_t errlen)
{
	struct ctx x = { .name = name ? name : "<string>", .err = err, .errlen = errlen };
	struct sl_config *c = NULL;
	config_t cfg;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!text || !out)
		return fail(&x, 1, "no configuration given");

	rc = scan_source(&x, text);
	if (rc)
		goto out_nocfg;
	if (x.include_line) {
		rc = fail(&x, x.include_line, "@include is not supported");
		goto out_nocfg;
	}

	config_init(&cfg);
	if (!config_read_string(&cfg, text)) {
		rc = fail(&x, config_error_line(&cfg), "%s", config_error_text(&cfg));
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(c->file, sizeof(c->file), "%s", x.name);
	rc = parse_root(&x, config_root_setting(&cfg), c);
	if (!rc && x.nr_wraps)          /* every integer is read above: not reached */
		rc = fail(&x, x.wraps[0].line, "%s: %s does not fit in 32 bits",
			  x.wraps[0].name, x.wraps[0].text);
	if (rc)
		goto out;
	c->hash = config_hash(c);
	*out = c;
	c = NULL;
out:
	config_destroy(&cfg);
out_nocfg:
	sl_config_free(c);
	free(x.wraps);
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: out of memory", x.name);
	return rc;
}

int sl_config_load_file(const char *path, struct sl_config **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int rc;

	if (!path) {
		if (err && errlen)
			snprintf(err, errlen, "no configuration file given");
		return -EINVAL;
	}
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *nb;

			cap = cap ? cap * 2 : 16384;
			if (cap > SL_CONFIG_FILE_MAX + 1) {
				fclose(f);
				free(buf);
				if (err && errlen)
					snprintf(err, errlen, "%s: bigger than %u MiB", path,
						 SL_CONFIG_FILE_MAX >> 20);
				return -EFBIG;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				if (err && errlen)
					snprintf(err, errlen, "%s: out of memory", path);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		fclose(f);
		free(buf);
		if (err && errlen)
			snprintf(err, errlen, "%s: read error", path);
		return rc;
	}
	fclose(f);
	buf[len] = 0;
	if (strlen(buf) != len) {
		int line = 1;

		for (const char *p = buf; *p; p++)
			line += *p == '\n';
		free(buf);
		if (err && errlen)
			snprintf(err, errlen, "%s:%d: NUL byte in the file", path, line);
		return -EINVAL;
	}
	rc = sl_config_load_string(buf, path, out, err, errlen);
	free(buf);
	return rc;
}

const struct sl_cfg_service *sl_config_find_service(const struct sl_config *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (unsigned i = 0; i < c->nr_services; i++)
		if (!strcmp(c->services[i].name, name))
			return &c->services[i];
	return NULL;
}

/* ---- configs built in memory (runtime changes) ----------------------------- */

void sl_config_service_defaults(struct sl_cfg_service *s, __u8 proto)
{
	s->vip.proto = proto;
	s->mode = SL_MODE_NAT;
	s->sched = SL_SCHED_MAGLEV;
	s->reject = SL_REJECT_RST;
	s->on_trip = SL_TRIP_RESET;
	s->connect_timeout_ms = SL_DEFAULT_CONNECT_TIMEOUT_MS;
	s->idle_timeout_s = proto == IPPROTO_UDP ? SL_DEFAULT_IDLE_TIMEOUT_UDP : SL_DEFAULT_IDLE_TIMEOUT_TCP;
	s->max_ejection_pct = SL_DEFAULT_MAX_EJECTION_PCT;
	s->panic = SL_BRK_PANIC_FAIL_OPEN;
	s->drain_timeout_ms = 0;
	s->redispatch_max = SL_DEFAULT_REDISPATCH_MAX;
	memset(&s->check, 0, sizeof(s->check));         /* SL_CHECK_NONE */
	sl_brk_cfg_defaults(&s->breaker);
	s->breaker_mode = SL_BRKM_AUTO;
}

static const struct {
	const char *setting;
	const struct choice *choices;
} choice_sets[] = {
	{ "proto", proto_choices }, { "mode", mode_choices }, { "scheduler", sched_choices },
	{ "reject", reject_choices }, { "on_trip", trip_choices }, { "panic", panic_choices },
	{ "breaker.mode", brk_mode_choices }, { "check.type", check_type_choices },
};

int sl_config_choice(const char *setting, const char *text, __u8 *out, char *err, size_t errlen)
{
	struct ctx x = { .name = "runtime change", .err = err, .errlen = errlen, .runtime = 1 };
	config_t cfg;
	config_setting_t *grp, *g;
	int rc = -EINVAL;

	/* get_choice itself, on a one-setting group: the same words, the same
	 * "not supported yet" and the same message as the file gets. A dotted
	 * name ("breaker.mode") is the setting "mode" of the group "breaker". */
	for (size_t i = 0; i < sizeof(choice_sets) / sizeof(choice_sets[0]); i++) {
		const char *dot, *key = setting;
		char group[16];

		if (strcmp(choice_sets[i].setting, setting))
			continue;
		config_init(&cfg);
		grp = config_root_setting(&cfg);
		dot = strchr(setting, '.');
		if (dot) {
			snprintf(group, sizeof(group), "%.*s", (int)(dot - setting), setting);
			key = dot + 1;
			grp = config_setting_add(grp, group, CONFIG_TYPE_GROUP);
		}
		g = grp ? config_setting_add(grp, key, CONFIG_TYPE_STRING) : NULL;
		if (g && config_setting_set_string(g, text) == CONFIG_TRUE)
			rc = get_choice(&x, grp, key, choice_sets[i].choices, out);
		else
			rc = -ENOMEM;
		config_destroy(&cfg);
		return rc;
	}
	return fail(&x, 0, "%s is not an enumerated setting", setting);
}

/* The rules of parse_service and parse_backend for values that did not
 * come through libconfig; lines (0 for what was added at run time) only
 * locate what came from the file. */
static int check_service(struct ctx *x, struct sl_cfg_service *s, unsigned *nr_bks)
{
	char ip[INET6_ADDRSTRLEN], vip[INET6_ADDRSTRLEN], buf[SL_BRK_REASON_MAX + 64];
	const char *why;

	if (!valid_svc_name(s->name))
		return fail(x, s->line, "name: \"%s\" is not a valid service name (1..%d characters of A-Z a-z 0-9 _ . -)",
			    s->name, SL_NAME_MAX - 1);
	why = not_unicast(&s->vip);
	if (why)
		return fail(x, s->line, "vip: %s %s", fmt_ip(&s->vip, vip, sizeof(vip)), why);
	if (!s->vip.port)
		return fail(x, s->line, "service %s: port 0", s->name);
	if (s->mode != SL_MODE_NAT || s->sched != SL_SCHED_MAGLEV)
		return fail(x, s->line, "service %s: only mode nat and scheduler maglev are supported yet", s->name);
	if (s->max_conns > SL_MAX_CONNS_LIMIT)
		return fail(x, s->line, "max_conns: %u is more than %u", s->max_conns, SL_MAX_CONNS_LIMIT);
	if (s->max_ejection_pct > 100)
		return fail(x, s->line, "service %s: max_ejection_percent %u is more than 100",
			    s->name, s->max_ejection_pct);
	if (s->redispatch_max > SL_REDISPATCH_MAX)
		return fail(x, s->line, "service %s: redispatch_max %u is more than %u",
			    s->name, s->redispatch_max, SL_REDISPATCH_MAX);
	if (s->panic != SL_BRK_PANIC_FAIL_OPEN && s->panic != SL_BRK_PANIC_FAIL_CLOSED)
		return fail(x, s->line, "service %s: panic %u is not fail_open or fail_closed",
			    s->name, s->panic);
	if (s->drain_timeout_ms > SL_DRAIN_TIMEOUT_MAX)
		return fail(x, s->line, "service %s: drain_timeout_ms %u is more than %u",
			    s->name, s->drain_timeout_ms, SL_DRAIN_TIMEOUT_MAX);
	why = bad_breaker(&s->breaker, s->breaker_mode, buf, sizeof(buf));
	if (why)
		return fail(x, s->line, "service %s: breaker: %s", s->name, why);
	why = bad_check(&s->check, s->vip.proto, buf, sizeof(buf));
	if (why)
		return fail(x, s->line, "service %s: check: %s", s->name, why);
	for (unsigned b = 0; b < s->nr_backends; b++) {
		struct sl_cfg_backend *k = &s->backends[b];

		why = not_unicast(&k->addr);
		if (why)
			return fail(x, k->line, "addr: %s %s", fmt_ip(&k->addr, ip, sizeof(ip)), why);
		if (k->addr.family != s->vip.family)
			return fail(x, k->line, "addr: %s is IPv%u but the service's vip %s is IPv%u",
				    fmt_ip(&k->addr, ip, sizeof(ip)), k->addr.family,
				    fmt_ip(&s->vip, vip, sizeof(vip)), s->vip.family);
		if (!k->addr.port || k->addr.proto != s->vip.proto)
			return fail(x, k->line, "backend %s of service %s: port 0 or protocol not the service's",
				    fmt_ip(&k->addr, ip, sizeof(ip)), s->name);
		if (k->weight > 65535 || k->max_conns > SL_MAX_CONNS_LIMIT || k->max_pending > SL_MAX_CONNS_LIMIT)
			return fail(x, k->line, "backend %s of service %s: weight over 65535 or a limit over %u",
				    fmt_ip(&k->addr, ip, sizeof(ip)), s->name, SL_MAX_CONNS_LIMIT);
		sl_config_backend_inherit(s, k);        /* added at run time: the service's check */
		if (k->check_set && k->check.type == SL_CHECK_NONE)
			return fail(x, k->line, "backend %s of service %s: a check group without a type",
				    fmt_ip(&k->addr, ip, sizeof(ip)), s->name);
		why = bad_check(&k->check, s->vip.proto, buf, sizeof(buf));
		if (why)
			return fail(x, k->line, "backend %s of service %s: check: %s",
				    fmt_ip(&k->addr, ip, sizeof(ip)), s->name, why);
		if (++*nr_bks >= SL_MAX_BACKENDS)
			return fail(x, k->line, "too many backends: at most %d in all services together",
				    SL_MAX_BACKENDS - 1);
	}
	if (!s->maglev_size_set) {
		s->maglev_size = sl_maglev_default_size(s->nr_backends);
	} else if (!sl_is_prime(s->maglev_size)) {
		return fail(x, s->line, "maglev_size: %u is not prime", s->maglev_size);
	} else if (s->maglev_size < s->nr_backends) {
		return fail(x, s->line, "maglev_size: %u is smaller than the number of backends (%u)",
			    s->maglev_size, s->nr_backends);
	}
	return 0;
}

int sl_config_validate(struct sl_config *c, char *err, size_t errlen)
{
	struct ctx x = { .name = "runtime change", .err = err, .errlen = errlen, .runtime = 1 };
	struct parse ps = { 0 };
	unsigned nbk = 0, total = 0, s, b;
	int rc = 0;

	if (err && errlen)
		err[0] = 0;
	if (c->nr_services > SL_MAX_SERVICES)
		return fail(&x, 0, "too many services: at most %d", SL_MAX_SERVICES);
	if (c->pending_table_size < SL_PENDING_TABLE_MIN || c->pending_table_size > SL_PENDING_TABLE_MAX ||
	    c->tick_ms < SL_TICK_MS_MIN || c->tick_ms > SL_TICK_MS_MAX ||
	    c->reconcile_ms < SL_RECONCILE_MS_MIN || c->reconcile_ms > SL_RECONCILE_MS_MAX ||
	    c->pending_scan_ms < SL_PENDING_SCAN_MS_MIN || c->pending_scan_ms > SL_PENDING_SCAN_MS_MAX ||
	    c->closing_timeout_s < 1 || c->closing_timeout_s > SL_CLOSING_TIMEOUT_MAX)
		return fail(&x, 0, "pending_table_size, tick_ms, reconcile_ms, pending_scan_ms or closing_timeout_s out of range");
	for (s = 0; s < c->nr_services; s++)
		total += c->services[s].nr_backends;
	ps.svc_vip_line = calloc(c->nr_services + 1, sizeof(int));
	ps.svc_name_line = calloc(c->nr_services + 1, sizeof(int));
	ps.bks = calloc(total + 1, sizeof(*ps.bks));
	if (!ps.svc_vip_line || !ps.svc_name_line || !ps.bks) {
		rc = -ENOMEM;
		goto out;
	}
	for (s = 0; s < c->nr_services && !rc; s++) {
		struct sl_cfg_service *cs = &c->services[s];

		rc = check_service(&x, cs, &nbk);
		ps.svc_vip_line[s] = ps.svc_name_line[s] = cs->line;
		for (b = 0; b < cs->nr_backends && !rc; b++) {
			ps.bks[ps.nr_bks].a = cs->backends[b].addr;
			ps.bks[ps.nr_bks].line = cs->backends[b].line;
			ps.bks[ps.nr_bks++].svc = s;
		}
	}
	if (!rc)
		rc = cross_checks(&x, c, &ps);
	if (!rc)
		c->hash = config_hash(c);
out:
	free(ps.svc_vip_line);
	free(ps.svc_name_line);
	free(ps.bks);
	if (rc == -ENOMEM && err && errlen)
		snprintf(err, errlen, "runtime change: out of memory");
	return rc;
}

unsigned sl_l4addr_sockaddr(const struct sl_l4addr *a, __be16 port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == SL_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = port;
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
	if (a->family == SL_AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = port;
		memcpy(&s4->sin_addr, a->addr, 4);
		return sizeof(*s4);
	}
	return 0;
}

void sl_l4addr_format(const struct sl_l4addr *a, char *buf, size_t len)
{
	char ip[64] = "?";

	sl_addr_format(a, ip, sizeof(ip));
	if (a->family == SL_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->port));
	else
		snprintf(buf, len, "%s:%u", ip, ntohs(a->port));
}
