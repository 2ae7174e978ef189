/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The control protocol between sluiced and sluice: generic-netlink framing
 * (nlmsghdr + genlmsghdr + attributes) over a NETLINK_USERSOCK socket.
 *
 * Two tables are the protocol: SL_COMMANDS and SL_ATTRS. The daemon's
 * validation (sl_proto_check), the CLI's reply parsing and
 * docs/protocol.md (`sluice protocol-doc`) are all generated from them;
 * nothing else lists commands or attributes.
 *
 * The encode/decode/check functions are static inline so that the daemon
 * (which links libbpf) and the CLI (which must not) share one copy of the
 * code without a shared library. Userspace only, with libmnl.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/genetlink.h>
#include <libmnl/libmnl.h>

#define SL_PROTO_VERSION   1
#define SL_PROTO_MSG_TYPE  0x5e1c      /* nlmsg_type of every sluice request and reply (>= NLMSG_MIN_TYPE) */
#define SL_PROTO_PORTID_FILE "ctl.portid"
#define SL_PROTO_BATCH     32768       /* bytes of reply messages per datagram */
#define SL_PROTO_MCGROUP   1           /* NETLINK_USERSOCK multicast group of EVENT messages */
#define SL_PROTO_SUBSCRIBERS 64        /* unicast event subscribers the daemon keeps */

enum sl_cmd_flags {
	SL_CF_MUTATING = 1 << 0,        /* changes state: uid 0 or the config's control_group */
	SL_CF_DUMP     = 1 << 1,        /* NLM_F_DUMP lists every object */
	SL_CF_EVENT    = 1 << 2,        /* sent by the daemon only, never a request */
};

/* X(ENUM, FLAGS, "doc") */
#define SL_COMMANDS(X)                                                                \
	X(VERSION,     0,              "daemon and protocol version, running config file and hash") \
	X(SERVICE_GET, SL_CF_DUMP,     "one service by name, or all with NLM_F_DUMP") \
	X(BACKEND_GET, SL_CF_DUMP,     "one backend by service and address, or all (of a service) with NLM_F_DUMP") \
	X(BACKEND_SET, SL_CF_MUTATING, "runtime change of a backend's weight; the config file is unchanged, RELOAD returns to it") \
	X(RELOAD,      SL_CF_MUTATING, "re-read the config file and apply it as a transaction (what SIGHUP does)") \
	X(STATS_GET,   0,              "totals over all services and the per-reason drop/pass counters") \
	X(SERVICE_ADD, SL_CF_MUTATING, "runtime change: add a service (no backends yet), validated as the file is") \
	X(SERVICE_DEL, SL_CF_MUTATING, "runtime change: remove a service; its backends drain (established flows finish)") \
	X(BACKEND_ADD, SL_CF_MUTATING, "runtime change: add a backend to a service, validated as the file is") \
	X(BACKEND_DEL, SL_CF_MUTATING, "runtime change: remove a backend; no new flows, established ones finish") \
	X(SUBSCRIBE,   0,              "send EVENT messages to the sender's port id (for readers who cannot join the multicast group); dropped when the port goes away") \
	X(EVENT,       SL_CF_EVENT,    "an event, from the daemon to the multicast group and to subscribers: EVENT, TIME_NS, CAUSE and the object") \
	X(BREAKER_SET, SL_CF_MUTATING, "set a backend's breaker mode (auto releases it to the automaton); not part of the config file")

#define SL_CMD_ENUM(e, f, d) SL_CMD_##e,
enum sl_cmd { SL_CMD_UNSPEC, SL_COMMANDS(SL_CMD_ENUM) SL_CMD_MAX };
#undef SL_CMD_ENUM

enum sl_attr_type {
	SL_T_U8, SL_T_U16, SL_T_U32, SL_T_U64, SL_T_STRING, SL_T_BINARY, SL_T_NESTED,
};

#define SL_C(cmd) (1u << SL_CMD_##cmd)

/*
 * X(ENUM, TYPE, MIN, MAX, TAKES, REQUIRES, "doc")
 * MIN/MAX: the value for integers, the length (without the NUL) for
 * strings, the length for binaries; 0, 0 for "any". They bound requests.
 * TAKES: commands whose requests may carry it; REQUIRES: those that must.
 * Everything may appear in replies.
 */
#define SL_ATTRS(X)                                                                   \
	X(VERSION,       SL_T_STRING, 0, 0, 0, 0, "sluiced's version")                      \
	X(PROTO_VERSION, SL_T_U32,    0, 0, 0, 0, "SL_PROTO_VERSION of the daemon")          \
	X(CONFIG_FILE,   SL_T_STRING, 0, 0, 0, 0, "path of the config file")               \
	X(CONFIG_HASH,   SL_T_U64,    0, 0, 0, 0, "hash of the running config (differs from the file's after a runtime change)") \
	X(SERVICE,       SL_T_STRING, 1, 31, SL_C(SERVICE_GET) | SL_C(BACKEND_GET) | SL_C(BACKEND_SET) | \
	  SL_C(SERVICE_ADD) | SL_C(SERVICE_DEL) | SL_C(BACKEND_ADD) | SL_C(BACKEND_DEL) | SL_C(BREAKER_SET), \
	  SL_C(BACKEND_SET) | SL_C(SERVICE_ADD) | SL_C(SERVICE_DEL) | SL_C(BACKEND_ADD) | SL_C(BACKEND_DEL) | \
	  SL_C(BREAKER_SET),                                                            \
	  "service name")                                                               \
	X(ADDR,          SL_T_STRING, 2, 45, SL_C(BACKEND_GET) | SL_C(BACKEND_SET) | SL_C(BACKEND_ADD) | \
	  SL_C(BACKEND_DEL) | SL_C(BREAKER_SET),                                        \
	  SL_C(BACKEND_SET) | SL_C(BACKEND_ADD) | SL_C(BACKEND_DEL) | SL_C(BREAKER_SET), \
	  "backend address, IPv4 or IPv6 text form")                                    \
	X(PORT,          SL_T_U16,    1, 65535, SL_C(BACKEND_GET) | SL_C(BACKEND_SET) | SL_C(BACKEND_DEL) | \
	  SL_C(SERVICE_ADD) | SL_C(BACKEND_ADD) | SL_C(BREAKER_SET), SL_C(SERVICE_ADD) | SL_C(BACKEND_ADD), \
	  "port (request: picks among backends sharing an address; the new object's port for *_ADD)") \
	X(WEIGHT,        SL_T_U32,    0, 65535, SL_C(BACKEND_SET) | SL_C(BACKEND_ADD), SL_C(BACKEND_SET), \
	  "backend weight; 0: no new flows (BACKEND_ADD: default 1)")                  \
	X(STATS,         SL_T_U8,     0, 1, SL_C(SERVICE_GET) | SL_C(BACKEND_GET), 0,    \
	  "1: add counters to the reply")                                              \
	X(VIP,           SL_T_STRING, 2, 45, SL_C(SERVICE_ADD), SL_C(SERVICE_ADD), "service address") \
	X(PROTO,         SL_T_STRING, 3, 3, SL_C(SERVICE_ADD), 0, "tcp or udp (SERVICE_ADD: default tcp)") \
	X(MODE,          SL_T_STRING, 3, 3, SL_C(SERVICE_ADD), 0, "nat or dsr (SERVICE_ADD: default nat)") \
	X(SCHED,         SL_T_STRING, 3, 6, SL_C(SERVICE_ADD), 0, "maglev or p2c (SERVICE_ADD: default maglev)") \
	X(ID,            SL_T_U32,    0, 0, 0, 0, "service or backend id in the maps")     \
	X(STATE,         SL_T_STRING, 0, 0, 0, 0, "backend state: active, gone, missing")  \
	X(MAX_CONNS,     SL_T_U32,    0, 10000000, SL_C(SERVICE_ADD) | SL_C(BACKEND_ADD), 0, \
	  "connection limit, 0: none")                                                 \
	X(MAX_PENDING,   SL_T_U32,    0, 10000000, SL_C(BACKEND_ADD), 0,                  \
	  "pending-connection limit, 0: none")                                         \
	X(MAGLEV_SIZE,   SL_T_U32,    0, 0, 0, 0, "Maglev table size")                     \
	X(NR_BACKENDS,   SL_T_U32,    0, 0, 0, 0, "backends of a service")                 \
	X(NR_SERVICES,   SL_T_U32,    0, 0, 0, 0, "services in the running config")        \
	X(ACTIVE,        SL_T_U32,    0, 0, 0, 0, "live connections (established + pending)") \
	X(PENDING,       SL_T_U32,    0, 0, 0, 0, "connections awaiting the backend's SYN-ACK") \
	X(PACKETS,       SL_T_U64,    0, 0, 0, 0, "packets forwarded")                     \
	X(BYTES,         SL_T_U64,    0, 0, 0, 0, "bytes forwarded")                       \
	X(NEW_FLOWS,     SL_T_U64,    0, 0, 0, 0, "flows created")                         \
	X(CONN_REFUSED,  SL_T_U64,    0, 0, 0, 0, "connects refused by the backend")       \
	X(CONN_TIMEOUT,  SL_T_U64,    0, 0, 0, 0, "connects that timed out")               \
	X(RESETS,        SL_T_U64,    0, 0, 0, 0, "resets after establishment")            \
	X(REASONS,       SL_T_NESTED, 0, 0, 0, 0, "REASON entries, one per reason")        \
	X(REASON,        SL_T_NESTED, 0, 0, 0, 0, "NAME and COUNT of one reason")          \
	X(NAME,          SL_T_STRING, 0, 0, 0, 0, "name (of a reason or a counter)")        \
	X(COUNT,         SL_T_U64,    0, 0, 0, 0, "packets counted (under a reason), or a counter's value") \
	X(EVENT,         SL_T_STRING, 0, 0, 0, 0, "what happened: config_applied, service_added, service_removed, backend_added, backend_removed; breaker, health (a backend's transition: FROM, TO, SIGNAL, WHY, ENFORCED)") \
	X(TIME_NS,       SL_T_U64,    0, 0, 0, 0, "when, CLOCK_REALTIME nanoseconds")      \
	X(CAUSE,         SL_T_STRING, 0, 0, 0, 0, "why: sighup, reload (the RELOAD command), runtime (a runtime change or BREAKER_SET), automatic (breaker and health transitions of the daemon's own)") \
	X(UID,           SL_T_U32,    0, 0, 0, 0, "uid of the sender of the request that caused it") \
	X(PID,           SL_T_U32,    0, 0, 0, 0, "pid of the sender of the request that caused it") \
	X(BREAKER,       SL_T_STRING, 0, 0, 0, 0, "breaker state: closed, open, half_open (the automaton); draining, forced_open, forced_closed, metrics_only (an operator's mode)") \
	X(BREAKER_MODE,  SL_T_STRING, 4, 13, SL_C(BREAKER_SET), SL_C(BREAKER_SET),          \
	  "breaker mode: auto (the automaton decides), draining, forced_open, forced_closed, metrics_only (the automaton runs but is not enforced)") \
	X(GATE,          SL_T_STRING, 0, 0, 0, 0, "what the data path does with new flows: closed (admits), open (refuses), half_open (trial flows only), draining (none; established flows stay)") \
	X(CAPPED,        SL_T_U8,     0, 0, 0, 0, "1: the breaker would eject the backend, but the service's max_ejection_percent keeps it serving") \
	X(PANIC,         SL_T_U8,     0, 0, 0, 0, "1: the gate was decided by the service's panic setting (every backend unhealthy)") \
	X(BREAKER_REASON, SL_T_STRING, 0, 0, 0, 0, "the last breaker transition's reason (signal, threshold), empty before the first") \
	X(STATE_AGE_MS,  SL_T_U64,    0, 0, 0, 0, "milliseconds since the breaker's last transition (absent before the first)") \
	X(TRIPS,         SL_T_U64,    0, 0, 0, 0, "breaker trips since it last closed through trials") \
	X(TRIAL_TOKENS,  SL_T_U32,    0, 0, 0, 0, "half-open trial admissions left in the data path") \
	X(HEALTH,        SL_T_STRING, 0, 0, 0, 0, "active health check verdict: unknown (no check, or not decided yet), up, down") \
	X(CHECK,         SL_T_STRING, 0, 0, 0, 0, "active health check type: none, tcp, http, https") \
	X(CHECK_DETAIL,  SL_T_STRING, 0, 0, 0, 0, "the last check's result: ok, status 503, connection refused, timeout after 150 ms...") \
	X(COUNTERS,      SL_T_NESTED, 0, 0, 0, 0, "COUNTER entries, a backend's resilience totals since sluiced began watching it (with STATS): connect_refused, connect_timeout, icmp_unreachable, reset, handshake, reconciled") \
	X(COUNTER,       SL_T_NESTED, 0, 0, 0, 0, "NAME and COUNT of one counter")              \
	X(FROM,          SL_T_STRING, 0, 0, 0, 0, "a transition's state before (breaker: as BREAKER; health: as HEALTH)") \
	X(TO,            SL_T_STRING, 0, 0, 0, 0, "a transition's state after")                 \
	X(SIGNAL,        SL_T_STRING, 0, 0, 0, 0, "what caused a transition: check, flow, connect_refused, connect_timeout, icmp_unreachable, reset, slow_call, manual, policy") \
	X(WHY,           SL_T_STRING, 0, 0, 0, 0, "a transition's reason in words: which signal and threshold (breaker), the check's result (health)") \
	X(ENFORCED,      SL_T_U8,     0, 0, 0, 0, "1: the data path now does what TO says; 0: metrics_only (reported, not enforced)")

#define SL_A_ENUM(e, t, lo, hi, takes, req, d) SL_A_##e,
enum sl_attr { SL_A_UNSPEC, SL_ATTRS(SL_A_ENUM) SL_A__END };
#undef SL_A_ENUM
#define SL_A_MAX (SL_A__END - 1)
#define SL_A_TB  SL_A__END           /* entries of a tb[] array */

/* TAKES/REQUIRES are 32-bit masks of commands; sl_check_attrs keeps a
 * 64-bit mask of attributes seen.
 *
 * Attribute budget: a closed set of typed values (a breaker's state, mode,
 * gate...) gets one attribute each; an open-ended set of counters of the
 * same kind is a nest of NAME/COUNT entries (REASONS of STATS_GET, COUNTERS
 * of a backend), so a new counter costs no attribute and an old CLI prints
 * it by name. Numbers are never reused or reordered: new commands and
 * attributes go at the end of their table. */
_Static_assert(SL_CMD_MAX <= 32, "a command does not fit the TAKES/REQUIRES masks");
_Static_assert(SL_A_MAX < 64, "an attribute does not fit the seen mask");

struct sl_cmd_desc {
	const char *name;
	unsigned flags;
	const char *doc;
};

struct sl_attr_desc {
	const char *name;
	enum sl_attr_type type;
	uint64_t min, max;
	uint32_t takes, requires;
	const char *doc;
};

#define SL_CMD_DESC(e, f, d) [SL_CMD_##e] = { #e, f, d },
static const struct sl_cmd_desc sl_cmds[SL_CMD_MAX] = { SL_COMMANDS(SL_CMD_DESC) };
#undef SL_CMD_DESC

#define SL_A_DESC(e, t, lo, hi, tk, rq, d) [SL_A_##e] = { #e, t, lo, hi, tk, rq, d },
static const struct sl_attr_desc sl_attrs[SL_A_TB] = { SL_ATTRS(SL_A_DESC) };
#undef SL_A_DESC

/*
 * Breaker modes on the wire (BREAKER_MODE), in the order of enum
 * sl_brk_mode (daemon/breaker.h, which the CLI cannot include;
 * tests/unit/test_proto.c checks that the names agree with
 * sl_brk_mode_name()).
 */
static const char *const sl_breaker_modes[] = {
	"auto", "draining", "forced_open", "forced_closed", "metrics_only",
};
#define SL_BREAKER_MODES (sizeof(sl_breaker_modes) / sizeof(sl_breaker_modes[0]))

static const char *const sl_type_names[] = {
	[SL_T_U8] = "u8", [SL_T_U16] = "u16", [SL_T_U32] = "u32", [SL_T_U64] = "u64",
	[SL_T_STRING] = "string", [SL_T_BINARY] = "binary", [SL_T_NESTED] = "nested",
};

/*
 * One message of a received datagram fits in what is left of it. libmnl
 * 1.0.4's mnl_nlmsg_ok compares (int)nlmsg_len with len, so a length of 2^31
 * or more passes and mnl_nlmsg_next leaves the buffer: use this instead.
 */
static inline bool sl_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)len;
}

static inline unsigned sl_type_size(enum sl_attr_type t)
{
	switch (t) {
	case SL_T_U8:  return 1;
	case SL_T_U16: return 2;
	case SL_T_U32: return 4;
	case SL_T_U64: return 8;
	default:       return 0;
	}
}

static inline const char *sl_cmd_name(unsigned cmd)
{
	return cmd > SL_CMD_UNSPEC && cmd < SL_CMD_MAX ? sl_cmds[cmd].name : "?";
}

static inline const char *sl_attr_name(unsigned a)
{
	return a > SL_A_UNSPEC && a <= SL_A_MAX ? sl_attrs[a].name : "?";
}

/* ---- encode ------------------------------------------------------------- */

/* Start a message in buf (at least MNL_SOCKET_BUFFER_SIZE or the size
 * given to the put functions): nlmsghdr + genlmsghdr. */
static inline struct nlmsghdr *sl_msg_start(void *buf, unsigned cmd, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = SL_PROTO_MSG_TYPE;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = SL_PROTO_VERSION;
	return nlh;
}

/* An integer attribute, its width taken from the table. false: no room, or
 * not an integer attribute. */
static inline bool sl_put_uint(struct nlmsghdr *nlh, size_t buflen, unsigned a, uint64_t v)
{
	if (a == SL_A_UNSPEC || a > SL_A_MAX)
		return false;
	switch (sl_attrs[a].type) {
	case SL_T_U8:  return mnl_attr_put_u8_check(nlh, buflen, a, (uint8_t)v);
	case SL_T_U16: return mnl_attr_put_u16_check(nlh, buflen, a, (uint16_t)v);
	case SL_T_U32: return mnl_attr_put_u32_check(nlh, buflen, a, (uint32_t)v);
	case SL_T_U64: return mnl_attr_put_u64_check(nlh, buflen, a, v);
	default:       return false;
	}
}

static inline bool sl_put_str(struct nlmsghdr *nlh, size_t buflen, unsigned a, const char *s)
{
	if (a == SL_A_UNSPEC || a > SL_A_MAX || sl_attrs[a].type != SL_T_STRING)
		return false;
	return mnl_attr_put_strz_check(nlh, buflen, a, s);
}

static inline bool sl_put_bin(struct nlmsghdr *nlh, size_t buflen, unsigned a, const void *p, size_t len)
{
	if (a == SL_A_UNSPEC || a > SL_A_MAX || sl_attrs[a].type != SL_T_BINARY)
		return false;
	return mnl_attr_put_check(nlh, buflen, a, len, p);
}

/* ---- decode ------------------------------------------------------------- */

/* An integer attribute that passed sl_proto_check, whatever its width. */
static inline uint64_t sl_get_uint(const struct nlattr *na)
{
	switch (mnl_attr_get_payload_len(na)) {
	case 1:  return mnl_attr_get_u8(na);
	case 2:  return mnl_attr_get_u16(na);
	case 4:  return mnl_attr_get_u32(na);
	case 8:  return mnl_attr_get_u64(na);
	default: return 0;
	}
}

static inline const char *sl_get_str(const struct nlattr *na)
{
	return mnl_attr_get_str(na);
}

/* A NAME/COUNT nest (a reason or a counter of a list): *name NULL when it
 * has none. */
static inline void sl_get_name_count(const struct nlattr *nest, const char **name, uint64_t *count)
{
	const struct nlattr *na;

	*name = NULL;
	*count = 0;
	mnl_attr_for_each_nested(na, nest) {
		if (mnl_attr_get_type(na) == SL_A_NAME)
			*name = sl_get_str(na);
		else if (mnl_attr_get_type(na) == SL_A_COUNT)
			*count = sl_get_uint(na);
	}
}

static inline unsigned sl_msg_cmd(const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	return g->cmd;
}

/* ---- validation ----------------------------------------------------------- */

/* Why a message was refused: the errno (negative) and the text for
 * NLMSGERR_ATTR_MSG; off is the bad attribute's offset from the start of
 * the message (for NLMSGERR_ATTR_OFFS), 0 if none. */
struct sl_proto_err {
	int err;
	unsigned off;
	unsigned miss;          /* a missing required attribute (NLMSGERR_ATTR_MISS_TYPE), 0 if none */
	char msg[200];
};

__attribute__((format(printf, 4, 5)))
static inline int sl_proto_fail(struct sl_proto_err *e, int err, unsigned off, const char *fmt, ...)
{
	va_list ap;

	e->err = err;
	e->off = off;
	e->miss = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

enum sl_check_mode { SL_CHECK_REQUEST, SL_CHECK_REPLY };

/*
 * The BREAKER_MODE attribute na (checked by sl_proto_check) of message
 * nlh: its index in sl_breaker_modes (= enum sl_brk_mode), or -EINVAL
 * with e naming the attribute, its offset and the modes there are.
 */
static inline int sl_breaker_mode_parse(const struct nlmsghdr *nlh, const struct nlattr *na,
					struct sl_proto_err *e)
{
	const char *s = mnl_attr_get_str(na);
	char modes[80];
	size_t n = 0;
	unsigned i;

	for (i = 0; i < SL_BREAKER_MODES; i++)
		if (!strcmp(s, sl_breaker_modes[i]))
			return (int)i;
	for (i = 0, modes[0] = 0; i < SL_BREAKER_MODES && n < sizeof(modes); i++)
		n += (size_t)snprintf(modes + n, sizeof(modes) - n, "%s%s", i ? ", " : "", sl_breaker_modes[i]);
	return sl_proto_fail(e, -EINVAL, (unsigned)((const char *)na - (const char *)nlh),
			     "attribute BREAKER_MODE: '%s' is not a breaker mode (%s)", s, modes);
}

/* One attribute's type and length (both modes) and bounds (requests). */
static inline int sl_check_attr(const struct nlattr *na, unsigned off, unsigned cmd,
				enum sl_check_mode mode, struct sl_proto_err *e)
{
	unsigned a = mnl_attr_get_type(na), len = mnl_attr_get_payload_len(na);
	const struct sl_attr_desc *d;
	const char *s;
	uint64_t v;

	d = &sl_attrs[a];
	if (mode == SL_CHECK_REQUEST && !(d->takes & (1u << cmd)))
		return sl_proto_fail(e, -EINVAL, off, "attribute %s is not allowed with command %s",
				     d->name, sl_cmd_name(cmd));
	switch (d->type) {
	case SL_T_U8: case SL_T_U16: case SL_T_U32: case SL_T_U64:
		if (len != sl_type_size(d->type))
			return sl_proto_fail(e, -EINVAL, off, "attribute %s: expected %s (%u bytes), got %u bytes",
					     d->name, sl_type_names[d->type], sl_type_size(d->type), len);
		v = sl_get_uint(na);
		if (mode == SL_CHECK_REQUEST && (d->min || d->max) && (v < d->min || v > d->max))
			return sl_proto_fail(e, -ERANGE, off, "attribute %s: %llu out of range %llu..%llu",
					     d->name, (unsigned long long)v, (unsigned long long)d->min,
					     (unsigned long long)d->max);
		break;
	case SL_T_STRING:
		s = mnl_attr_get_payload(na);
		if (!len || strnlen(s, len) != len - 1)
			return sl_proto_fail(e, -EINVAL, off, "attribute %s: expected a NUL-terminated string",
					     d->name);
		if (mode == SL_CHECK_REQUEST && (d->min || d->max) && (len - 1 < d->min || len - 1 > d->max))
			return sl_proto_fail(e, -ERANGE, off, "attribute %s: length %u out of range %llu..%llu",
					     d->name, len - 1, (unsigned long long)d->min,
					     (unsigned long long)d->max);
		break;
	case SL_T_BINARY:
		if (mode == SL_CHECK_REQUEST && (d->min || d->max) && (len < d->min || len > d->max))
			return sl_proto_fail(e, -ERANGE, off, "attribute %s: length %u out of range %llu..%llu",
					     d->name, len, (unsigned long long)d->min, (unsigned long long)d->max);
		break;
	case SL_T_NESTED:
		break;
	}
	return 0;
}

/*
 * Walk the attributes in [start, start + len): every one well formed, of
 * its table type; in a request also allowed for cmd, within bounds, not
 * repeated. tb (SL_A_TB entries, may be NULL) gets the last of each.
 * Nested attributes are walked too (reply mode).
 */
static inline int sl_check_attrs(const struct nlmsghdr *nlh, const void *start, int len,
				 unsigned cmd, enum sl_check_mode mode,
				 const struct nlattr **tb, struct sl_proto_err *e)
{
	const struct nlattr *na = start;
	uint64_t seen = 0;
	int rc;

	while (len >= (int)sizeof(*na)) {
		unsigned off = (unsigned)((const char *)na - (const char *)nlh);
		unsigned a = mnl_attr_get_type(na);

		if (na->nla_len < sizeof(*na) || na->nla_len > len)
			return sl_proto_fail(e, -EINVAL, off, "attribute at offset %u: bad length %u", off,
					     na->nla_len);
		if (a == SL_A_UNSPEC || a > SL_A_MAX) {
			if (mode == SL_CHECK_REQUEST)
				return sl_proto_fail(e, -EINVAL, off, "unknown attribute %u", a);
			goto next;      /* a newer daemon's reply: skip what we do not know */
		}
		if (mode == SL_CHECK_REQUEST && (seen & (1ull << a)))
			return sl_proto_fail(e, -EINVAL, off, "attribute %s given twice", sl_attrs[a].name);
		seen |= 1ull << a;
		rc = sl_check_attr(na, off, cmd, mode, e);
		if (rc)
			return rc;
		if (sl_attrs[a].type == SL_T_NESTED) {
			rc = sl_check_attrs(nlh, mnl_attr_get_payload(na), mnl_attr_get_payload_len(na),
					    cmd, mode, NULL, e);
			if (rc)
				return rc;
		}
		if (tb)
			tb[a] = na;
next:
		len -= MNL_ALIGN(na->nla_len);
		na = (const struct nlattr *)((const char *)na + MNL_ALIGN(na->nla_len));
	}
	if (len > 0)
		return sl_proto_fail(e, -EINVAL, 0, "%d trailing bytes after the attributes", len);
	return 0;
}

/*
 * Check a whole message against the tables and fill tb (SL_A_TB
 * entries). Requests: known command, dump only where the command dumps,
 * every attribute allowed, in bounds, and every required one present.
 * 0 or a negative errno with e filled.
 */
static inline int sl_proto_check(const struct nlmsghdr *nlh, enum sl_check_mode mode,
				 const struct nlattr **tb, struct sl_proto_err *e)
{
	const struct genlmsghdr *g;
	unsigned cmd, a;
	int rc;

	memset(tb, 0, SL_A_TB * sizeof(*tb));
	e->err = 0;
	e->off = 0;
	e->miss = 0;
	e->msg[0] = 0;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDRLEN)
		return sl_proto_fail(e, -EINVAL, 0, "message too short for a generic netlink header");
	if (nlh->nlmsg_type != SL_PROTO_MSG_TYPE)
		return sl_proto_fail(e, -EOPNOTSUPP, 0, "message type 0x%x is not sluice's", nlh->nlmsg_type);
	g = mnl_nlmsg_get_payload(nlh);
	cmd = g->cmd;
	if (cmd == SL_CMD_UNSPEC || cmd >= SL_CMD_MAX)
		return sl_proto_fail(e, -EOPNOTSUPP, 0, "unknown command %u", cmd);
	if (mode == SL_CHECK_REQUEST && (sl_cmds[cmd].flags & SL_CF_EVENT))
		return sl_proto_fail(e, -EOPNOTSUPP, 0, "command %s is sent by the daemon, not a request",
				     sl_cmds[cmd].name);
	if (mode == SL_CHECK_REQUEST && g->version != SL_PROTO_VERSION)
		return sl_proto_fail(e, -EPROTO, 0, "protocol version %u, the daemon speaks %u",
				     g->version, SL_PROTO_VERSION);
	if (mode == SL_CHECK_REQUEST && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP &&
	    !(sl_cmds[cmd].flags & SL_CF_DUMP))
		return sl_proto_fail(e, -EOPNOTSUPP, 0, "command %s cannot dump", sl_cmds[cmd].name);
	rc = sl_check_attrs(nlh, (const char *)g + GENL_HDRLEN,
			    (int)(nlh->nlmsg_len - MNL_NLMSG_HDRLEN - GENL_HDRLEN), cmd, mode, tb, e);
	if (rc)
		return rc;
	if (mode == SL_CHECK_REQUEST)
		for (a = 1; a <= SL_A_MAX; a++)
			if ((sl_attrs[a].requires & (1u << cmd)) && !tb[a]) {
				sl_proto_fail(e, -EINVAL, 0, "command %s needs attribute %s",
					      sl_cmds[cmd].name, sl_attrs[a].name);
				e->miss = a;
				return e->err;
			}
	return 0;
}

#endif
