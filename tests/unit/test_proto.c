// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The control protocol's tables, encoders and policy (include/sluice/
 * proto.h): every command and attribute goes through the real encode and
 * check/decode functions, and every kind of policy violation is refused
 * with its errno and a message naming the attribute.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>
#include <sluice/proto.h>

#include "breaker.h"

#define BUFSZ 4096

static char buf[BUFSZ];

static uint64_t type_max(enum sl_attr_type t)
{
	return t == SL_T_U64 ? UINT64_MAX : (1ull << (8 * sl_type_size(t))) - 1;
}

/* A value within the attribute's request bounds. */
static void put_valid(struct nlmsghdr *nlh, unsigned a)
{
	const struct sl_attr_desc *d = &sl_attrs[a];
	char s[300];

	memset(s, 'x', sizeof(s));
	switch (d->type) {
	case SL_T_STRING:
		s[d->min ? d->min : 1] = 0;
		assert_true(sl_put_str(nlh, BUFSZ, a, s));
		break;
	case SL_T_BINARY:
		assert_true(sl_put_bin(nlh, BUFSZ, a, s, d->min ? d->min : 1));
		break;
	case SL_T_NESTED:
		mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, a));
		break;
	default:
		assert_true(sl_put_uint(nlh, BUFSZ, a, d->max ? d->max : 1));
	}
}

/* A request of cmd with every required attribute except skip. */
static struct nlmsghdr *request(unsigned cmd, unsigned skip)
{
	struct nlmsghdr *nlh = sl_msg_start(buf, cmd, NLM_F_REQUEST, 7);
	unsigned a;

	for (a = 1; a <= SL_A_MAX; a++)
		if (a != skip && (sl_attrs[a].requires & (1u << cmd)))
			put_valid(nlh, a);
	return nlh;
}

static int check(struct nlmsghdr *nlh, struct sl_proto_err *e, const struct nlattr **tb)
{
	return sl_proto_check(nlh, SL_CHECK_REQUEST, tb, e);
}

static void assert_msg_has(const struct sl_proto_err *e, const char *what)
{
	if (!strstr(e->msg, what))
		fail_msg("message '%s' does not name '%s'", e->msg, what);
}

/* ---- encode / decode -------------------------------------------------------- */

static void test_tables(void **state)
{
	unsigned c, a;

	for (c = 1; c < SL_CMD_MAX; c++)
		assert_non_null(sl_cmds[c].name);
	for (a = 1; a <= SL_A_MAX; a++) {
		const struct sl_attr_desc *d = &sl_attrs[a];

		assert_non_null(d->name);
		assert_true(!(d->requires & ~d->takes));        /* required implies taken */
		if (d->type <= SL_T_U64 && (d->min || d->max))
			assert_true(d->min <= d->max && d->max <= type_max(d->type));
	}
	assert_true(SL_A_MAX < 64);     /* sl_check_attrs' "seen" bitmask */
}

static void test_every_command_encodes(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned c;

	for (c = 1; c < SL_CMD_MAX; c++) {
		struct nlmsghdr *nlh = request(c, 0);

		if (sl_cmds[c].flags & SL_CF_EVENT) {
			/* the daemon's to send: refused as a request, read as a reply */
			assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);
			assert_msg_has(&e, "sent by the daemon");
			assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
			continue;
		}
		assert_int_equal(check(nlh, &e, tb), 0);
		assert_int_equal(sl_msg_cmd(nlh), c);
		assert_int_equal(nlh->nlmsg_seq, 7);
		if (sl_cmds[c].flags & SL_CF_DUMP) {
			nlh->nlmsg_flags |= NLM_F_DUMP;
			assert_int_equal(check(nlh, &e, tb), 0);
		}
	}
}

/* Every attribute, in a reply, at the edges of its type; and in every
 * request that takes it, at the edges of its bounds. */
static void test_every_attribute_roundtrips(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned a, c;

	for (a = 1; a <= SL_A_MAX; a++) {
		const struct sl_attr_desc *d = &sl_attrs[a];
		struct nlmsghdr *nlh = sl_msg_start(buf, SL_CMD_VERSION, 0, 1);
		uint64_t v = type_max(d->type);

		switch (d->type) {
		case SL_T_STRING:
			assert_true(sl_put_str(nlh, BUFSZ, a, "198.18.1.100"));
			assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
			assert_string_equal(sl_get_str(tb[a]), "198.18.1.100");
			break;
		case SL_T_BINARY:
			assert_true(sl_put_bin(nlh, BUFSZ, a, "\1\2\3", 3));
			assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
			assert_memory_equal(mnl_attr_get_payload(tb[a]), "\1\2\3", 3);
			break;
		case SL_T_NESTED: {
			struct nlattr *n = mnl_attr_nest_start(nlh, a);
			const struct nlattr *in;

			assert_true(sl_put_str(nlh, BUFSZ, SL_A_NAME, "fragment"));
			assert_true(sl_put_uint(nlh, BUFSZ, SL_A_COUNT, 42));
			mnl_attr_nest_end(nlh, n);
			assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
			in = mnl_attr_get_payload(tb[a]);
			assert_string_equal(sl_get_str(in), "fragment");
			break;
		}
		default:
			assert_true(sl_put_uint(nlh, BUFSZ, a, v));
			assert_false(sl_put_str(nlh, BUFSZ, a, "x"));  /* the table's type is enforced */
			assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
			assert_int_equal(mnl_attr_get_payload_len(tb[a]), sl_type_size(d->type));
			assert_true(sl_get_uint(tb[a]) == v);
		}

		for (c = 1; c < SL_CMD_MAX; c++) {
			if (!(d->takes & (1u << c)))
				continue;
			nlh = request(c, a);
			put_valid(nlh, a);
			assert_int_equal(check(nlh, &e, tb), 0);
			assert_non_null(tb[a]);
			if (d->type <= SL_T_U64 && (d->min || d->max)) {
				nlh = request(c, a);
				sl_put_uint(nlh, BUFSZ, a, d->min);
				assert_int_equal(check(nlh, &e, tb), 0);
				assert_true(sl_get_uint(tb[a]) == d->min);
			}
		}
	}
}

/* ---- policy violations -------------------------------------------------------- */

static void test_missing_attribute(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned a, c, n = 0;

	for (c = 1; c < SL_CMD_MAX; c++)
		for (a = 1; a <= SL_A_MAX; a++) {
			if (!(sl_attrs[a].requires & (1u << c)))
				continue;
			assert_int_equal(check(request(c, a), &e, tb), -EINVAL);
			assert_int_equal(e.miss, a);
			assert_msg_has(&e, sl_attrs[a].name);
			assert_msg_has(&e, sl_cmds[c].name);
			n++;
		}
	assert_true(n > 0);
}

/* An event as the daemon builds it decodes in reply mode with every
 * attribute in place; no request takes an event attribute. */
static void test_event_decodes(void **state)
{
	static char buf[8192];
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	struct nlmsghdr *nlh = sl_msg_start(buf, SL_CMD_EVENT, 0, 42);
	unsigned c;

	assert_true(sl_put_str(nlh, sizeof(buf), SL_A_EVENT, "backend_added"));
	assert_true(sl_put_uint(nlh, sizeof(buf), SL_A_TIME_NS, 1700000000123456789ull));
	assert_true(sl_put_str(nlh, sizeof(buf), SL_A_CAUSE, "runtime"));
	assert_true(sl_put_uint(nlh, sizeof(buf), SL_A_UID, 0));
	assert_true(sl_put_uint(nlh, sizeof(buf), SL_A_PID, 4242));
	assert_true(sl_put_str(nlh, sizeof(buf), SL_A_SERVICE, "web"));
	assert_true(sl_put_str(nlh, sizeof(buf), SL_A_ADDR, "198.19.0.13"));
	assert_true(sl_put_uint(nlh, sizeof(buf), SL_A_PORT, 80));
	assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
	assert_string_equal(sl_get_str(tb[SL_A_EVENT]), "backend_added");
	assert_true(sl_get_uint(tb[SL_A_TIME_NS]) == 1700000000123456789ull);
	assert_string_equal(sl_get_str(tb[SL_A_CAUSE]), "runtime");
	assert_int_equal(sl_get_uint(tb[SL_A_PID]), 4242);
	assert_string_equal(sl_get_str(tb[SL_A_ADDR]), "198.19.0.13");
	assert_int_equal(sl_get_uint(tb[SL_A_PORT]), 80);
	for (c = 1; c < SL_CMD_MAX; c++) {
		assert_false(sl_attrs[SL_A_EVENT].takes & (1u << c));
		assert_false(sl_attrs[SL_A_TIME_NS].takes & (1u << c));
		assert_false(sl_attrs[SL_A_CAUSE].takes & (1u << c));
	}
}

static void test_attribute_not_allowed(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned a, c;

	for (c = 1; c < SL_CMD_MAX; c++)
		for (a = 1; a <= SL_A_MAX; a++) {
			struct nlmsghdr *nlh;
			unsigned off;

			if ((sl_attrs[a].takes & (1u << c)) || (sl_cmds[c].flags & SL_CF_EVENT))
				continue;
			nlh = request(c, 0);
			off = nlh->nlmsg_len;
			put_valid(nlh, a);
			assert_int_equal(check(nlh, &e, tb), -EINVAL);
			assert_msg_has(&e, sl_attrs[a].name);
			assert_msg_has(&e, "not allowed");
			assert_int_equal(e.off, off);
		}
}

static void test_wrong_type_or_length(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned a, c;

	for (a = 1; a <= SL_A_MAX; a++) {
		const struct sl_attr_desc *d = &sl_attrs[a];
		struct nlmsghdr *nlh;
		uint64_t junk = 0;

		for (c = 1; c < SL_CMD_MAX && !(d->takes & (1u << c)); c++)
			;
		if (c == SL_CMD_MAX)
			continue;
		nlh = request(c, a);
		switch (d->type) {
		case SL_T_STRING:       /* no NUL */
			mnl_attr_put(nlh, a, 4, "abcd");
			break;
		case SL_T_U64:
			mnl_attr_put(nlh, a, 4, &junk);
			break;
		default:                /* an integer one byte too wide */
			mnl_attr_put(nlh, a, sl_type_size(d->type) + 1, &junk);
		}
		assert_int_equal(check(nlh, &e, tb), -EINVAL);
		assert_msg_has(&e, d->name);
	}
}

static void test_out_of_bounds(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	unsigned a, c, n = 0;
	char s[300];

	for (a = 1; a <= SL_A_MAX; a++) {
		const struct sl_attr_desc *d = &sl_attrs[a];

		for (c = 1; c < SL_CMD_MAX && !(d->takes & (1u << c)); c++)
			;
		if (c == SL_CMD_MAX || !(d->min || d->max))
			continue;
		if (d->type == SL_T_STRING) {
			memset(s, 'x', sizeof(s));
			s[d->max + 1] = 0;
			sl_put_str(request(c, a), BUFSZ, a, s);
			assert_int_equal(check((struct nlmsghdr *)buf, &e, tb), -ERANGE);
			assert_msg_has(&e, d->name);
			n++;
			if (d->min > 0) {
				s[d->min - 1] = 0;
				sl_put_str(request(c, a), BUFSZ, a, s);
				assert_int_equal(check((struct nlmsghdr *)buf, &e, tb), -ERANGE);
				n++;
			}
			continue;
		}
		if (d->max < type_max(d->type)) {
			sl_put_uint(request(c, a), BUFSZ, a, d->max + 1);
			assert_int_equal(check((struct nlmsghdr *)buf, &e, tb), -ERANGE);
			assert_msg_has(&e, d->name);
			n++;
		}
		if (d->min > 0) {
			sl_put_uint(request(c, a), BUFSZ, a, d->min - 1);
			assert_int_equal(check((struct nlmsghdr *)buf, &e, tb), -ERANGE);
			assert_msg_has(&e, d->name);
			n++;
		}
	}
	assert_true(n >= 4);
}

static void test_malformed_messages(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	nlh = sl_msg_start(buf, SL_CMD_MAX, NLM_F_REQUEST, 1);
	assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);
	assert_msg_has(&e, "unknown command");

	nlh = request(SL_CMD_VERSION, 0);
	g = mnl_nlmsg_get_payload(nlh);
	g->version = SL_PROTO_VERSION + 1;
	assert_int_equal(check(nlh, &e, tb), -EPROTO);

	nlh = request(SL_CMD_VERSION, 0);
	nlh->nlmsg_type = NLMSG_MIN_TYPE;
	assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);

	nlh = request(SL_CMD_RELOAD, 0);
	nlh->nlmsg_flags |= NLM_F_DUMP;
	assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);
	assert_msg_has(&e, "RELOAD");

	nlh = request(SL_CMD_VERSION, 0);
	mnl_attr_put_u32(nlh, SL_A_MAX + 1, 0);
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_msg_has(&e, "unknown attribute");

	nlh = request(SL_CMD_SERVICE_GET, 0);
	sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web");
	sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web");
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_msg_has(&e, "twice");

	nlh = request(SL_CMD_SERVICE_GET, 0);
	sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web");
	((struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + GENL_HDRLEN))->nla_len = 200;
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_msg_has(&e, "bad length");

	nlh = request(SL_CMD_VERSION, 0);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	assert_int_equal(check(nlh, &e, tb), -EINVAL);

	/* replies are lenient about what they do not know */
	nlh = sl_msg_start(buf, SL_CMD_VERSION, 0, 1);
	mnl_attr_put_u32(nlh, SL_A_MAX + 1, 0);
	assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
}

/* ---- breakers ------------------------------------------------------------------ */

static struct nlmsghdr *breaker_set(const char *mode)
{
	struct nlmsghdr *nlh = sl_msg_start(buf, SL_CMD_BREAKER_SET, NLM_F_REQUEST | NLM_F_ACK, 9);

	assert_true(sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_ADDR, "198.19.0.12"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_PORT, 80));
	if (mode)
		assert_true(sl_put_str(nlh, BUFSZ, SL_A_BREAKER_MODE, mode));
	return nlh;
}

/* The wire's mode names are breaker.c's, in enum sl_brk_mode's order, and
 * each fits BREAKER_MODE's bounds. */
static void test_breaker_modes_are_breakers(void **state)
{
	const struct sl_attr_desc *d = &sl_attrs[SL_A_BREAKER_MODE];
	unsigned m;

	assert_int_equal(SL_BREAKER_MODES, SL_BRKM_MAX);
	for (m = 0; m < SL_BRKM_MAX; m++) {
		assert_string_equal(sl_breaker_modes[m], sl_brk_mode_name((enum sl_brk_mode)m));
		assert_true(strlen(sl_breaker_modes[m]) >= d->min && strlen(sl_breaker_modes[m]) <= d->max);
	}
	assert_true(sl_cmds[SL_CMD_BREAKER_SET].flags & SL_CF_MUTATING);
	assert_false(sl_cmds[SL_CMD_BREAKER_SET].flags & SL_CF_DUMP);
}

static void test_breaker_set(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	struct nlmsghdr *nlh;
	unsigned m, off;

	for (m = 0; m < SL_BREAKER_MODES; m++) {
		nlh = breaker_set(sl_breaker_modes[m]);
		assert_int_equal(check(nlh, &e, tb), 0);
		assert_string_equal(sl_get_str(tb[SL_A_SERVICE]), "web");
		assert_string_equal(sl_get_str(tb[SL_A_ADDR]), "198.19.0.12");
		assert_int_equal(sl_get_uint(tb[SL_A_PORT]), 80);
		assert_int_equal(sl_breaker_mode_parse(nlh, tb[SL_A_BREAKER_MODE], &e), m);
	}
	/* PORT is optional, as for BACKEND_SET */
	nlh = sl_msg_start(buf, SL_CMD_BREAKER_SET, NLM_F_REQUEST, 9);
	sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web");
	sl_put_str(nlh, BUFSZ, SL_A_ADDR, "2001:2:0:2::11");
	sl_put_str(nlh, BUFSZ, SL_A_BREAKER_MODE, "auto");
	assert_int_equal(check(nlh, &e, tb), 0);
	assert_null(tb[SL_A_PORT]);

	/* a word of the right length that is not a mode: refused by the
	 * daemon with the attribute's offset and the modes there are */
	nlh = breaker_set("sideways");
	assert_int_equal(check(nlh, &e, tb), 0);
	off = (unsigned)((const char *)tb[SL_A_BREAKER_MODE] - (const char *)nlh);
	assert_int_equal(sl_breaker_mode_parse(nlh, tb[SL_A_BREAKER_MODE], &e), -EINVAL);
	assert_int_equal(e.err, -EINVAL);
	assert_int_equal(e.off, off);
	assert_msg_has(&e, "attribute BREAKER_MODE: 'sideways' is not a breaker mode");
	for (m = 0; m < SL_BREAKER_MODES; m++)
		assert_msg_has(&e, sl_breaker_modes[m]);
	/* the CLI's words are not the wire's */
	nlh = breaker_set("open");
	assert_int_equal(check(nlh, &e, tb), 0);
	assert_int_equal(sl_breaker_mode_parse(nlh, tb[SL_A_BREAKER_MODE], &e), -EINVAL);
	nlh = breaker_set("AUTO");
	assert_int_equal(check(nlh, &e, tb), 0);
	assert_int_equal(sl_breaker_mode_parse(nlh, tb[SL_A_BREAKER_MODE], &e), -EINVAL);

	/* the tables: length, presence, what else it takes, no dump */
	assert_int_equal(check(breaker_set("on"), &e, tb), -ERANGE);
	assert_msg_has(&e, "BREAKER_MODE");
	assert_int_equal(check(breaker_set("forced_closed_"), &e, tb), -ERANGE);
	assert_msg_has(&e, "BREAKER_MODE");
	assert_int_equal(check(breaker_set(NULL), &e, tb), -EINVAL);
	assert_int_equal(e.miss, SL_A_BREAKER_MODE);
	assert_msg_has(&e, "command BREAKER_SET needs attribute BREAKER_MODE");
	nlh = breaker_set("draining");
	sl_put_uint(nlh, BUFSZ, SL_A_WEIGHT, 1);
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_msg_has(&e, "attribute WEIGHT is not allowed with command BREAKER_SET");
	nlh = breaker_set("draining");
	nlh->nlmsg_flags |= NLM_F_DUMP;
	assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);
	assert_msg_has(&e, "BREAKER_SET cannot dump");
	nlh = sl_msg_start(buf, SL_CMD_BACKEND_SET, NLM_F_REQUEST, 9);
	sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web");
	sl_put_str(nlh, BUFSZ, SL_A_ADDR, "198.19.0.12");
	sl_put_uint(nlh, BUFSZ, SL_A_WEIGHT, 1);
	sl_put_str(nlh, BUFSZ, SL_A_BREAKER_MODE, "draining");
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_msg_has(&e, "attribute BREAKER_MODE is not allowed with command BACKEND_SET");
	nlh = sl_msg_start(buf, SL_CMD_BREAKER_SET, NLM_F_REQUEST, 9);
	sl_put_str(nlh, BUFSZ, SL_A_ADDR, "198.19.0.12");
	sl_put_str(nlh, BUFSZ, SL_A_BREAKER_MODE, "draining");
	assert_int_equal(check(nlh, &e, tb), -EINVAL);
	assert_int_equal(e.miss, SL_A_SERVICE);
}

/* A backend reply with its breaker, health and counters, as put_resil
 * (daemon/ctl.c) builds it; none of those is a request attribute. */
static void test_backend_breaker_reply(void **state)
{
	static const unsigned reply_only[] = {
		SL_A_BREAKER, SL_A_GATE, SL_A_CAPPED, SL_A_PANIC, SL_A_BREAKER_REASON, SL_A_STATE_AGE_MS,
		SL_A_TRIPS, SL_A_TRIAL_TOKENS, SL_A_HEALTH, SL_A_CHECK, SL_A_CHECK_DETAIL, SL_A_COUNTERS,
		SL_A_COUNTER, SL_A_FROM, SL_A_TO, SL_A_SIGNAL, SL_A_WHY, SL_A_ENFORCED,
	};
	const char *names[] = { "connect_refused", "handshake" };
	const struct nlattr *tb[SL_A_TB], *r, *na;
	struct sl_proto_err e;
	struct nlmsghdr *nlh = sl_msg_start(buf, SL_CMD_BACKEND_GET, NLM_F_MULTI, 3);
	struct nlattr *outer, *inner;
	unsigned i, n = 0;

	assert_true(sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_ADDR, "198.19.0.12"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_PORT, 80));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_BREAKER, "half_open"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_BREAKER_MODE, "auto"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_GATE, "half_open"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_CAPPED, 1));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_PANIC, 0));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_BREAKER_REASON, "3 consecutive failures (connect_refused)"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_STATE_AGE_MS, 1500));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_TRIPS, 2));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_TRIAL_TOKENS, 3));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_HEALTH, "down"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_CHECK, "http"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_CHECK_DETAIL, "status 503"));
	outer = mnl_attr_nest_start(nlh, SL_A_COUNTERS);
	for (i = 0; i < 2; i++) {
		inner = mnl_attr_nest_start(nlh, SL_A_COUNTER);
		assert_true(sl_put_str(nlh, BUFSZ, SL_A_NAME, names[i]));
		assert_true(sl_put_uint(nlh, BUFSZ, SL_A_COUNT, 40 + i));
		mnl_attr_nest_end(nlh, inner);
	}
	mnl_attr_nest_end(nlh, outer);
	assert_false(sl_put_uint(nlh, BUFSZ, SL_A_BREAKER, 1));     /* a string attribute */
	assert_false(sl_put_str(nlh, BUFSZ, SL_A_TRIPS, "2"));      /* an integer one */

	assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
	assert_string_equal(sl_get_str(tb[SL_A_BREAKER]), "half_open");
	assert_string_equal(sl_get_str(tb[SL_A_BREAKER_MODE]), "auto");
	assert_string_equal(sl_get_str(tb[SL_A_GATE]), "half_open");
	assert_int_equal(sl_get_uint(tb[SL_A_CAPPED]), 1);
	assert_int_equal(mnl_attr_get_payload_len(tb[SL_A_CAPPED]), 1);
	assert_int_equal(sl_get_uint(tb[SL_A_STATE_AGE_MS]), 1500);
	assert_int_equal(mnl_attr_get_payload_len(tb[SL_A_STATE_AGE_MS]), 8);
	assert_int_equal(sl_get_uint(tb[SL_A_TRIAL_TOKENS]), 3);
	assert_string_equal(sl_get_str(tb[SL_A_HEALTH]), "down");
	assert_string_equal(sl_get_str(tb[SL_A_CHECK_DETAIL]), "status 503");
	mnl_attr_for_each_nested(r, tb[SL_A_COUNTERS]) {
		assert_int_equal(mnl_attr_get_type(r), SL_A_COUNTER);
		mnl_attr_for_each_nested(na, r) {
			if (mnl_attr_get_type(na) == SL_A_NAME)
				assert_string_equal(sl_get_str(na), names[n]);
			else
				assert_int_equal(sl_get_uint(na), 40 + n);
		}
		n++;
	}
	assert_int_equal(n, 2);
	/* a counter entry that is malformed fails the whole reply */
	nlh = sl_msg_start(buf, SL_CMD_BACKEND_GET, 0, 3);
	outer = mnl_attr_nest_start(nlh, SL_A_COUNTERS);
	inner = mnl_attr_nest_start(nlh, SL_A_COUNTER);
	mnl_attr_put_u32(nlh, SL_A_COUNT, 7);       /* u64 in the table */
	mnl_attr_nest_end(nlh, inner);
	mnl_attr_nest_end(nlh, outer);
	assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), -EINVAL);
	assert_msg_has(&e, "COUNT");

	for (i = 0; i < sizeof(reply_only) / sizeof(reply_only[0]); i++)
		assert_int_equal(sl_attrs[reply_only[i]].takes, 0);
	assert_int_equal(sl_attrs[SL_A_BREAKER_MODE].takes, 1u << SL_CMD_BREAKER_SET);
}

/* A breaker transition as sl_ctl_publish_resil sends it. */
static void test_resil_event_decodes(void **state)
{
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	struct nlmsghdr *nlh = sl_msg_start(buf, SL_CMD_EVENT, 0, 43);

	assert_true(sl_put_str(nlh, BUFSZ, SL_A_EVENT, "breaker"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_TIME_NS, 1700000000123456789ull));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_CAUSE, "runtime"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_UID, 0));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_PID, 77));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_SERVICE, "web"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_ADDR, "2001:2:0:2::11"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_PORT, 80));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_ID, 12));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_FROM, "closed"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_TO, "draining"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_SIGNAL, "manual"));
	assert_true(sl_put_str(nlh, BUFSZ, SL_A_WHY, "manual: draining"));
	assert_true(sl_put_uint(nlh, BUFSZ, SL_A_ENFORCED, 1));
	assert_int_equal(sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e), 0);
	assert_string_equal(sl_get_str(tb[SL_A_EVENT]), "breaker");
	assert_string_equal(sl_get_str(tb[SL_A_FROM]), "closed");
	assert_string_equal(sl_get_str(tb[SL_A_TO]), "draining");
	assert_string_equal(sl_get_str(tb[SL_A_SIGNAL]), "manual");
	assert_string_equal(sl_get_str(tb[SL_A_WHY]), "manual: draining");
	assert_int_equal(sl_get_uint(tb[SL_A_ENFORCED]), 1);
	assert_int_equal(sl_get_uint(tb[SL_A_ID]), 12);
	/* and is still refused as a request */
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	assert_int_equal(check(nlh, &e, tb), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_every_command_encodes),
		cmocka_unit_test(test_every_attribute_roundtrips),
		cmocka_unit_test(test_missing_attribute),
		cmocka_unit_test(test_attribute_not_allowed),
		cmocka_unit_test(test_wrong_type_or_length),
		cmocka_unit_test(test_out_of_bounds),
		cmocka_unit_test(test_malformed_messages),
		cmocka_unit_test(test_event_decodes),
		cmocka_unit_test(test_breaker_modes_are_breakers),
		cmocka_unit_test(test_breaker_set),
		cmocka_unit_test(test_backend_breaker_reply),
		cmocka_unit_test(test_resil_event_decodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
