/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The control server: sluice's requests over NETLINK_USERSOCK (the
 * protocol is include/sluice/proto.h), answered from the running config
 * and the maps. The loop owns the state; the server reaches it only
 * through sl_ctl_ops, called from sl_ctl_event in the loop's thread.
 */
#ifndef SLUICE_CTL_H
#define SLUICE_CTL_H

#include <stddef.h>

struct sl_config;
struct sl_dp;
struct sl_ctl;
struct sl_resil;
struct sl_resil_event;

struct sl_ctl_ops {
	const char *version;
	const struct sl_config *(*config)(void *ctx);   /* the running config */
	struct sl_dp *(*dp)(void *ctx);
	/* Re-read the config file and apply it: what SIGHUP does. 0 or a
	 * negative errno with the reason in err. */
	int (*reload)(void *ctx, char *err, size_t errlen);
	/* Apply cfg as the running config (a runtime change); on success
	 * the loop owns cfg, on failure the caller frees it. */
	int (*replace)(void *ctx, struct sl_config *cfg, char *err, size_t errlen);
	/* The resilience module (breakers, health checks), or NULL when it
	 * is not running (the member may be NULL too): backend replies then
	 * carry no breaker or health attributes and BREAKER_SET is refused
	 * (EOPNOTSUPP). sl_resil_set_mode() may call the loop's event
	 * callback, and so sl_ctl_publish_resil(), before it returns. */
	struct sl_resil *(*resil)(void *ctx);
};

/* Autobind a NETLINK_USERSOCK socket, record its port id in
 * RUN_DIR/ctl.portid (run_dir created 0755, the file 0644). */
int  sl_ctl_open(struct sl_ctl **out, const char *run_dir, const struct sl_ctl_ops *ops,
		 void *ctx, char *err, size_t errlen);
int  sl_ctl_fd(const struct sl_ctl *c);
/* Answer every request waiting on the socket; never blocks. */
void sl_ctl_event(struct sl_ctl *c);
void sl_ctl_close(struct sl_ctl *c);

/* A deep copy of a config (for runtime changes), NULL on ENOMEM. */
struct sl_config *sl_ctl_config_dup(const struct sl_config *c);

/*
 * The loop applied cur in place of old (old NULL: everything in cur is new): send
 * the events that say so to the multicast group and to subscribers:
 * service_added/removed and backend_added/removed for the difference, then
 * config_applied. cause: "sighup", "reload" or "runtime"; the
 * sender of the request being answered, if any, goes in UID and PID.
 * c may be NULL (before the server is open): nothing is sent.
 */
void sl_ctl_applied(struct sl_ctl *c, const struct sl_config *old, const struct sl_config *cur,
		    const char *cause);

/*
 * A breaker or health transition (the resilience module's event
 * callback): send an EVENT "breaker" or "health" with SERVICE, ADDR, PORT,
 * ID, FROM, TO, SIGNAL, WHY, ENFORCED and TIME_NS (e->at_ns turned into
 * CLOCK_REALTIME) to the multicast group and to subscribers, at once.
 * CAUSE is "runtime" (with the sender's UID and PID) when it happens while
 * a request is answered (BREAKER_SET), "reload" during RELOAD, else
 * "automatic". c may be NULL: nothing is sent.
 */
void sl_ctl_publish_resil(struct sl_ctl *c, const struct sl_resil_event *e);

#endif
