// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writes fuzz_proto's seed corpus (tests/fuzz/corpus/proto, checked in):
 * one datagram per file, built with the protocol's own encoders. Every
 * command is there, valid (against fuzz_proto's test config: services
 * web, dns6, empty, bulk) and refused in each way the tables refuse; a
 * datagram of several requests; replies and events (what the CLI checks).
 * nlmsg_pid chooses the sender: bit 0, uid 65534 instead of root; bit 1,
 * gid 0, the test config's control_group; bit 2, a server without the
 * resilience module (see fuzz_proto.c).
 *
 *   make fuzz-corpus       (build/fuzz/gen_proto_corpus DIR)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sluice/proto.h>

#define BUFSZ 4096

static char buf[BUFSZ] __attribute__((aligned(8)));
static size_t used;             /* bytes of buf in the datagram being built */
static const char *dir;

static struct nlmsghdr *msg(unsigned cmd, uint16_t flags)
{
	static uint32_t seq = 100;

	return sl_msg_start(buf + used, cmd, NLM_F_REQUEST | flags, ++seq);
}

static void str(struct nlmsghdr *nlh, unsigned a, const char *s)
{
	if (!sl_put_str(nlh, BUFSZ - used, a, s))
		abort();
}

static void num(struct nlmsghdr *nlh, unsigned a, uint64_t v)
{
	if (!sl_put_uint(nlh, BUFSZ - used, a, v))
		abort();
}

/* The message joins the datagram (for several in one). */
static void add(struct nlmsghdr *nlh)
{
	used += nlh->nlmsg_len;
}

/* Write the datagram so far (plus nlh, if given) as DIR/NAME, start anew. */
static void emit(const char *name, struct nlmsghdr *nlh)
{
	char path[512];
	FILE *f;

	if (nlh)
		add(nlh);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, used, f) != used || fclose(f)) {
		perror(path);
		exit(1);
	}
	used = 0;
	memset(buf, 0, sizeof(buf));
}

static struct nlmsghdr *backend(unsigned cmd, uint16_t flags, const char *svc, const char *addr, int port)
{
	struct nlmsghdr *nlh = msg(cmd, flags);

	str(nlh, SL_A_SERVICE, svc);
	str(nlh, SL_A_ADDR, addr);
	if (port)
		num(nlh, SL_A_PORT, (unsigned)port);
	return nlh;
}

int main(int argc, char **argv)
{
	struct nlmsghdr *nlh;
	struct nlattr *outer, *inner;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];

	/* every command, as the CLI sends it */
	emit("version", msg(SL_CMD_VERSION, NLM_F_ACK));
	emit("version-noack", msg(SL_CMD_VERSION, 0));

	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "web");
	num(nlh, SL_A_STATS, 1);
	emit("service-get", nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "dns6");
	emit("service-get-v6", nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "nope");
	emit("service-get-missing", nlh);
	emit("service-get-noname", msg(SL_CMD_SERVICE_GET, NLM_F_ACK));
	emit("service-dump", msg(SL_CMD_SERVICE_GET, NLM_F_DUMP));
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_DUMP);
	str(nlh, SL_A_SERVICE, "bulk");
	num(nlh, SL_A_STATS, 1);
	emit("service-dump-one", nlh);

	nlh = backend(SL_CMD_BACKEND_GET, NLM_F_ACK, "web", "198.19.0.12", 8080);
	num(nlh, SL_A_STATS, 1);
	emit("backend-get", nlh);
	emit("backend-get-ambiguous", backend(SL_CMD_BACKEND_GET, NLM_F_ACK, "web", "198.19.0.12", 0));
	emit("backend-get-v6", backend(SL_CMD_BACKEND_GET, NLM_F_ACK, "dns6", "2001:2:0:2::12", 0));
	emit("backend-get-badaddr", backend(SL_CMD_BACKEND_GET, NLM_F_ACK, "web", "198.19.0.299", 0));
	emit("backend-get-missing", backend(SL_CMD_BACKEND_GET, NLM_F_ACK, "web", "198.19.0.99", 80));
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	num(nlh, SL_A_STATS, 1);
	emit("backend-dump", nlh);              /* more than one datagram */
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	str(nlh, SL_A_SERVICE, "web");
	emit("backend-dump-web", nlh);
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	str(nlh, SL_A_SERVICE, "empty");
	emit("backend-dump-empty", nlh);

	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	num(nlh, SL_A_WEIGHT, 7);
	emit("backend-set", nlh);
	nlh = backend(SL_CMD_BACKEND_SET, 0, "dns6", "2001:2:0:2::11", 0);
	num(nlh, SL_A_WEIGHT, 0);
	emit("backend-set-noack", nlh);
	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	num(nlh, SL_A_WEIGHT, 7);
	nlh->nlmsg_pid = 1;                     /* uid 65534 */
	emit("backend-set-unpriv", nlh);

	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.12", 80);
	num(nlh, SL_A_WEIGHT, 4);
	nlh->nlmsg_pid = 3;                     /* uid 65534 in the control group */
	emit("backend-set-group", nlh);
	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "bulk", "198.20.0.7", 443);
	num(nlh, SL_A_WEIGHT, 13);              /* fuzz_proto's apply fails */
	emit("backend-set-apply-fails", nlh);

	emit("reload", msg(SL_CMD_RELOAD, NLM_F_ACK));
	nlh = msg(SL_CMD_RELOAD, NLM_F_ACK);
	nlh->nlmsg_pid = 1;
	emit("reload-unpriv", nlh);
	emit("stats", msg(SL_CMD_STATS_GET, NLM_F_ACK));

	/* runtime changes */
	nlh = msg(SL_CMD_SERVICE_ADD, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "api");
	str(nlh, SL_A_VIP, "198.18.4.1");
	num(nlh, SL_A_PORT, 8443);
	str(nlh, SL_A_PROTO, "tcp");
	str(nlh, SL_A_MODE, "nat");
	str(nlh, SL_A_SCHED, "maglev");
	num(nlh, SL_A_MAX_CONNS, 1000);
	emit("service-add", nlh);
	nlh = msg(SL_CMD_SERVICE_ADD, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "api6");
	str(nlh, SL_A_VIP, "2001:2:0:1::80");
	num(nlh, SL_A_PORT, 80);
	str(nlh, SL_A_PROTO, "udp");
	emit("service-add-v6", nlh);
	nlh = msg(SL_CMD_SERVICE_ADD, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "web2");
	str(nlh, SL_A_VIP, "198.18.1.100");     /* web's VIP */
	num(nlh, SL_A_PORT, 80);
	emit("service-add-dup-vip", nlh);
	nlh = msg(SL_CMD_SERVICE_ADD, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "dsr");
	str(nlh, SL_A_VIP, "198.18.4.2");
	num(nlh, SL_A_PORT, 80);
	str(nlh, SL_A_MODE, "dsr");             /* not supported yet */
	emit("service-add-dsr", nlh);
	nlh = msg(SL_CMD_SERVICE_DEL, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "web");
	emit("service-del", nlh);
	nlh = backend(SL_CMD_BACKEND_ADD, NLM_F_ACK, "web", "198.19.0.14", 80);
	num(nlh, SL_A_WEIGHT, 2);
	num(nlh, SL_A_MAX_CONNS, 100);
	num(nlh, SL_A_MAX_PENDING, 10);
	emit("backend-add", nlh);
	emit("backend-add-at-vip", backend(SL_CMD_BACKEND_ADD, NLM_F_ACK, "web", "198.18.2.1", 80));
	emit("backend-add-family", backend(SL_CMD_BACKEND_ADD, NLM_F_ACK, "web", "2001:2:0:2::99", 80));
	emit("backend-del", backend(SL_CMD_BACKEND_DEL, NLM_F_ACK, "web", "198.19.0.11", 0));
	emit("backend-del-v6", backend(SL_CMD_BACKEND_DEL, 0, "dns6", "2001:2:0:2::12", 5353));
	emit("subscribe", msg(SL_CMD_SUBSCRIBE, NLM_F_ACK));

	/* a session of changes in one datagram: subscribe (the events come
	 * back), add a backend, list, remove one, add a service, show it.
	 * (A runtime change after the service without backends is added
	 * stops on a known bug: tests/fuzz/README.md.) */
	add(msg(SL_CMD_SUBSCRIBE, 0));
	add(backend(SL_CMD_BACKEND_ADD, NLM_F_ACK, "web", "198.19.0.14", 80));
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	str(nlh, SL_A_SERVICE, "web");
	add(nlh);
	add(backend(SL_CMD_BACKEND_DEL, NLM_F_ACK, "web", "198.19.0.12", 8080));
	nlh = msg(SL_CMD_SERVICE_ADD, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "api");
	str(nlh, SL_A_VIP, "198.18.4.1");
	num(nlh, SL_A_PORT, 443);
	add(nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "api");
	emit("session", nlh);

	/* refused by the tables */
	emit("bad-event", msg(SL_CMD_EVENT, NLM_F_ACK));
	emit("bad-missing-weight", backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.11", 80));
	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	num(nlh, SL_A_WEIGHT, 70000);
	emit("bad-range", nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "web");
	str(nlh, SL_A_SERVICE, "dns6");
	emit("bad-twice", nlh);
	nlh = msg(SL_CMD_VERSION, NLM_F_ACK);
	str(nlh, SL_A_SERVICE, "web");
	emit("bad-not-allowed", nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	mnl_attr_put_u32(nlh, 200, 1);
	emit("bad-unknown-attr", nlh);
	nlh = msg(SL_CMD_SERVICE_GET, NLM_F_ACK);
	mnl_attr_put_u32(nlh, SL_A_SERVICE, 0x41414141);   /* a string without its NUL */
	emit("bad-string", nlh);
	nlh = msg(SL_CMD_VERSION, NLM_F_ACK);
	((struct genlmsghdr *)mnl_nlmsg_get_payload(nlh))->version = SL_PROTO_VERSION + 1;
	emit("bad-version", nlh);
	emit("bad-dump", msg(SL_CMD_STATS_GET, NLM_F_DUMP));
	emit("bad-command", msg(SL_CMD_MAX, NLM_F_ACK));
	nlh = msg(SL_CMD_VERSION, NLM_F_ACK);
	nlh->nlmsg_type = NLMSG_MIN_TYPE + 1;
	emit("bad-type", nlh);

	/* several requests in one datagram */
	add(msg(SL_CMD_VERSION, 0));
	add(msg(SL_CMD_SERVICE_GET, NLM_F_DUMP));
	nlh = backend(SL_CMD_BACKEND_SET, NLM_F_ACK, "web", "198.19.0.12", 8080);
	num(nlh, SL_A_WEIGHT, 2);
	add(nlh);
	emit("multi", msg(SL_CMD_STATS_GET, 0));

	/* breaker modes (after the older seeds, whose seqs stay): set (each
	 * backend of web, and others), refused by the daemon in each way and
	 * by the tables */
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 0);
	str(nlh, SL_A_BREAKER_MODE, "draining");
	emit("breaker-set", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.12", 8080);
	str(nlh, SL_A_BREAKER_MODE, "forced_open");
	emit("breaker-set-port", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, 0, "dns6", "2001:2:0:2::11", 53);
	str(nlh, SL_A_BREAKER_MODE, "auto");
	emit("breaker-set-v6-noack", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "bulk", "198.20.0.7", 443);
	str(nlh, SL_A_BREAKER_MODE, "metrics_only");
	emit("breaker-set-bulk", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "bulk", "198.20.0.8", 0);
	str(nlh, SL_A_BREAKER_MODE, "forced_closed");
	emit("breaker-set-bulk2", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "sideways");    /* not a mode */
	emit("breaker-set-badmode", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.99", 80);
	str(nlh, SL_A_BREAKER_MODE, "draining");
	emit("breaker-set-missing", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.13", 80);
	str(nlh, SL_A_BREAKER_MODE, "draining");    /* not in the (fake) data path */
	emit("breaker-set-noid", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.12", 0);
	str(nlh, SL_A_BREAKER_MODE, "draining");
	emit("breaker-set-ambiguous", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "forced_open");
	nlh->nlmsg_pid = 1;                     /* uid 65534 */
	emit("breaker-set-unpriv", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "forced_open");
	nlh->nlmsg_pid = 4;                     /* no resilience module */
	emit("breaker-set-noresil", nlh);
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	str(nlh, SL_A_SERVICE, "web");
	num(nlh, SL_A_STATS, 1);
	nlh->nlmsg_pid = 4;
	emit("backend-dump-noresil", nlh);

	/* subscribed, a mode set comes back as a breaker event */
	add(msg(SL_CMD_SUBSCRIBE, 0));
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "draining");
	add(nlh);
	nlh = msg(SL_CMD_BACKEND_GET, NLM_F_DUMP);
	num(nlh, SL_A_STATS, 1);
	add(nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "auto");
	emit("session-breaker", nlh);

	emit("bad-missing-mode", backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80));
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "on");     /* shorter than any mode */
	emit("bad-range-mode", nlh);
	nlh = backend(SL_CMD_BREAKER_SET, NLM_F_ACK, "web", "198.19.0.11", 80);
	str(nlh, SL_A_BREAKER_MODE, "draining");
	num(nlh, SL_A_WEIGHT, 1);               /* not taken by BREAKER_SET */
	emit("bad-breaker-weight", nlh);

	/* replies, as the daemon sends them (the daemon ignores them) */
	nlh = sl_msg_start(buf, SL_CMD_STATS_GET, 0, 5);
	num(nlh, SL_A_NR_SERVICES, 4);
	num(nlh, SL_A_PACKETS, 1000);
	outer = mnl_attr_nest_start(nlh, SL_A_REASONS);
	inner = mnl_attr_nest_start(nlh, SL_A_REASON);
	str(nlh, SL_A_NAME, "pass");
	num(nlh, SL_A_COUNT, 17);
	mnl_attr_nest_end(nlh, inner);
	mnl_attr_nest_end(nlh, outer);
	emit("reply-stats", nlh);
	nlh = sl_msg_start(buf, SL_CMD_BACKEND_GET, NLM_F_MULTI, 6);
	str(nlh, SL_A_SERVICE, "web");
	str(nlh, SL_A_ADDR, "198.19.0.11");
	num(nlh, SL_A_PORT, 80);
	num(nlh, SL_A_WEIGHT, 1);
	str(nlh, SL_A_STATE, "active");
	num(nlh, SL_A_ACTIVE, 3);
	add(nlh);
	nlh = mnl_nlmsg_put_header(buf + used);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 6;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
	emit("reply-backend-dump", nlh);

	/* a backend with its breaker, and a breaker event, as the daemon sends them */
	nlh = sl_msg_start(buf, SL_CMD_BACKEND_GET, 0, 7);
	str(nlh, SL_A_SERVICE, "web");
	str(nlh, SL_A_ADDR, "198.19.0.12");
	num(nlh, SL_A_PORT, 80);
	str(nlh, SL_A_STATE, "active");
	str(nlh, SL_A_BREAKER, "half_open");
	str(nlh, SL_A_BREAKER_MODE, "auto");
	str(nlh, SL_A_GATE, "half_open");
	num(nlh, SL_A_CAPPED, 0);
	num(nlh, SL_A_PANIC, 0);
	str(nlh, SL_A_BREAKER_REASON, "open 1000 ms elapsed");
	num(nlh, SL_A_STATE_AGE_MS, 250);
	num(nlh, SL_A_TRIPS, 2);
	num(nlh, SL_A_TRIAL_TOKENS, 3);
	str(nlh, SL_A_HEALTH, "up");
	str(nlh, SL_A_CHECK, "http");
	str(nlh, SL_A_CHECK_DETAIL, "ok");
	outer = mnl_attr_nest_start(nlh, SL_A_COUNTERS);
	inner = mnl_attr_nest_start(nlh, SL_A_COUNTER);
	str(nlh, SL_A_NAME, "connect_refused");
	num(nlh, SL_A_COUNT, 4);
	mnl_attr_nest_end(nlh, inner);
	mnl_attr_nest_end(nlh, outer);
	emit("reply-backend-breaker", nlh);
	nlh = sl_msg_start(buf, SL_CMD_EVENT, 0, 8);
	str(nlh, SL_A_EVENT, "breaker");
	num(nlh, SL_A_TIME_NS, 1700000000123456789ull);
	str(nlh, SL_A_CAUSE, "automatic");
	str(nlh, SL_A_SERVICE, "web");
	str(nlh, SL_A_ADDR, "198.19.0.12");
	num(nlh, SL_A_PORT, 80);
	num(nlh, SL_A_ID, 2);
	str(nlh, SL_A_FROM, "closed");
	str(nlh, SL_A_TO, "open");
	str(nlh, SL_A_SIGNAL, "connect_refused");
	str(nlh, SL_A_WHY, "3 consecutive failures (connect_refused)");
	num(nlh, SL_A_ENFORCED, 1);
	emit("reply-event-breaker", nlh);
	return 0;
}
