// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sluiced: one thread, one epoll loop owning all state. It makes the pinned
 * maps say what the config says, keeps backend next hops current, and
 * leaves the program attached and the maps pinned when it exits, so traffic
 * keeps flowing while it is away and a new sluiced adopts the maps.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "dataplane.h"
#include "nexthop.h"
#include "notify.h"
#include "ctl.h"
#include "resil.h"
#include "health.h"
#include "metrics.h"
#include "log.h"

#define SL_TICK_MS        1000
#define SL_REAP_TICKS     5

struct daemon {
	const char *config_path;
	const char *pin_root;           /* from --pin-root, else the config's */
	const char *run_dir;            /* from --run-dir, else the config's */
	struct sl_config *cfg;
	struct sl_dp *dp;
	struct sl_nh *nh;
	struct sl_ctl *ctl;
	struct sl_resil *resil;
	struct sl_metrics *metrics;
	int epfd, sigfd, tfd;
	unsigned long ticks;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced --config FILE [--pin-root DIR] [--run-dir DIR] [--check-config | --detach]\n"
		"  --config FILE     configuration (sluice.conf(5))\n"
		"  --pin-root DIR    where maps are pinned (default: the config's pin_root)\n"
		"  --run-dir DIR     where ctl.portid is written (default: the config's run_dir)\n"
		"  --check-config    validate FILE and exit\n"
		"  --detach          one-shot teardown: detach the program, remove the pins\n"
		"Runs in the foreground; SIGHUP reloads FILE; SIGTERM exits leaving the\n"
		"program attached and the maps pinned.\n");
}

static int apply(struct daemon *d, struct sl_config *cfg)
{
	char err[512];
	int rc;

	rc = sl_dp_apply(d->dp, cfg, err, sizeof(err));
	if (!rc)
		rc = sl_dp_attach(d->dp, cfg, err, sizeof(err));
	if (rc) {
		sl_log(LOG_ERR, "%s", err);
		return rc;
	}
	/* Next hops depend on backend addresses only: a change of weights
	 * or limits needs no walk over every backend. */
	if (d->nh && d->dp->nh_dirty) {
		sl_nh_refresh(d->nh);
		d->dp->nh_dirty = false;
	}
	if (d->resil)
		sl_resil_config(d->resil, cfg);
	return 0;
}

static int metrics_open(struct daemon *d, const struct sl_config *cfg);
static int add_fd(int epfd, int fd);

/* cause: "sighup" or "reload" (the command), for the events; why (may be
 * NULL): the reason of a failure, for `sluice reload`. */
static int reload(struct daemon *d, const char *cause, char *why, size_t whylen)
{
	unsigned long long t0 = sl_monotonic_us(), t1;
	struct sl_config *cfg;
	char err[512];

	sl_notify_reloading();
	if (sl_config_load_file(d->config_path, &cfg, err, sizeof(err))) {
		sl_log(LOG_ERR, "reload refused, running config kept: %s", err);
		sl_notify_ready("reload refused, running config kept: %s", err);
		if (why)
			snprintf(why, whylen, "reload refused, running config kept: %s", err);
		return -EINVAL;
	}
	t1 = sl_monotonic_us();
	if (apply(d, cfg)) {
		sl_log(LOG_ERR, "reload of %s failed while applying", d->config_path);
		sl_notify_ready("reload of %s failed while applying", d->config_path);
		sl_config_free(cfg);
		if (why)
			snprintf(why, whylen, "reload of %s failed while applying (see sluiced's log)", d->config_path);
		return -EIO;
	}
	sl_log(LOG_INFO, "config applied: %u services from %s (parsed in %.3f ms) in %.3f ms",
	       cfg->nr_services, d->config_path, (t1 - t0) / 1000.0, (sl_monotonic_us() - t0) / 1000.0);
	sl_ctl_applied(d->ctl, d->cfg, cfg, cause);
	if (strcmp(d->cfg->metrics_listen, cfg->metrics_listen))
		metrics_open(d, cfg);   /* a failure is logged: metrics off until a reload */
	sl_config_free(d->cfg);
	d->cfg = cfg;
	sl_notify_ready("running: %u services, config reloaded", cfg->nr_services);
	return 0;
}

/* Breaker and health transitions go out on the event group (once the
 * control server is up). */
static void resil_event(void *ctx, const struct sl_resil_event *e)
{
	struct daemon *d = ctx;

	sl_ctl_publish_resil(d->ctl, e);
}

/* The control server's view of the loop's state (daemon/ctl.h). */
static const struct sl_config *ctl_config(void *ctx) { return ((struct daemon *)ctx)->cfg; }
static struct sl_resil *ctl_resil(void *ctx) { return ((struct daemon *)ctx)->resil; }
static struct sl_dp *ctl_dp(void *ctx) { return ((struct daemon *)ctx)->dp; }
static int ctl_reload(void *ctx, char *err, size_t len) { return reload(ctx, "reload", err, len); }

static int ctl_replace(void *ctx, struct sl_config *cfg, char *err, size_t len)
{
	struct daemon *d = ctx;

	if (apply(d, cfg)) {
		snprintf(err, len, "applying the change failed (see sluiced's log); running config kept");
		return -EIO;
	}
	sl_ctl_applied(d->ctl, d->cfg, cfg, "runtime");
	sl_config_free(d->cfg);
	d->cfg = cfg;
	return 0;
}

static int metrics_health_info(void *ctx, __u32 bk_id, struct sl_health_info *out)
{
	struct daemon *d = ctx;

	return d->resil ? sl_health_info(sl_resil_health(d->resil), bk_id, out) : -ENOENT;
}

/* /metrics: the same views as the control server's. */
static const struct sl_metrics_src metrics_src = {
	.version = "0.1", .config = ctl_config, .dp = ctl_dp, .resil = ctl_resil,
	.health_info = metrics_health_info,
};

/* (Re)open the metrics server at cfg's metrics_listen, closing any other. */
static int metrics_open(struct daemon *d, const struct sl_config *cfg)
{
	struct sl_metrics_src src = metrics_src;
	char err[256];

	if (d->metrics) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, sl_metrics_fd(d->metrics), NULL);
		sl_metrics_close(d->metrics);
		d->metrics = NULL;
	}
	if (!cfg->metrics_addr.family) {
		sl_log(LOG_INFO, "metrics: off (metrics_listen)");
		return 0;
	}
	src.ctx = d;
	if (sl_metrics_open(&d->metrics, &cfg->metrics_addr, &src, err, sizeof(err))) {
		sl_log(LOG_ERR, "%s", err);
		return -1;
	}
	if (add_fd(d->epfd, sl_metrics_fd(d->metrics))) {
		sl_log(LOG_ERR, "event loop setup: %s", strerror(errno));
		sl_metrics_close(d->metrics);
		d->metrics = NULL;
		return -1;
	}
	sl_log(LOG_INFO, "metrics: http://%s/metrics", sl_metrics_addr(d->metrics));
	return 0;
}

static const struct sl_ctl_ops ctl_ops = {
	.version = "0.1", .config = ctl_config, .dp = ctl_dp,
	.reload = ctl_reload, .replace = ctl_replace, .resil = ctl_resil,
};

/* First state at start: pins whose config hash is this config's are
 * adopted as they are (nothing derived from the config is written; the new
 * program instance replaces the old one atomically and the devmap is
 * filled again); anything else gets the difference applied. */
static int start_state(struct daemon *d)
{
	char err[512];
	__u64 pinned = 0;

	if (!d->dp->adopted || sl_dp_pinned_hash(d->dp, &pinned) || !pinned ||
	    pinned != d->cfg->hash) {
		if (d->dp->adopted)
			sl_log(LOG_INFO, "pinned state is of config %016llx, this is %016llx: applying the difference",
			       (unsigned long long)pinned, (unsigned long long)d->cfg->hash);
		return apply(d, d->cfg);
	}
	if (sl_dp_attach(d->dp, d->cfg, err, sizeof(err))) {
		sl_log(LOG_ERR, "%s", err);
		return -1;
	}
	if (d->nh)
		sl_nh_refresh(d->nh);
	sl_log(LOG_INFO, "adopted pinned state, config unchanged (%016llx)", (unsigned long long)pinned);
	return 0;
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int loop(struct daemon *d)
{
	struct epoll_event evs[8];
	int n, i;

	for (;;) {
		n = epoll_wait(d->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			sl_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == d->sigfd) {
				struct signalfd_siginfo si;

				if (read(fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(d, "sighup", NULL, 0);
					continue;
				}
				sl_log(LOG_INFO, "exiting on signal %u: program stays attached, maps stay pinned",
				       si.ssi_signo);
				return 0;
			} else if (fd == d->tfd) {
				__u64 exp;
				int freed;

				if (read(fd, &exp, sizeof(exp)) != sizeof(exp))
					continue;
				sl_dp_tick(d->dp);
				if (++d->ticks % SL_REAP_TICKS)
					continue;
				freed = sl_dp_reap_gone(d->dp);
				if (freed > 0)
					sl_log(LOG_INFO, "freed %d removed backend(s) whose flows have ended", freed);
			} else if (d->nh && fd == sl_nh_fd(d->nh)) {
				sl_nh_event(d->nh);
			} else if (d->ctl && fd == sl_ctl_fd(d->ctl)) {
				sl_ctl_event(d->ctl);
			} else if (d->resil && fd == sl_resil_fd(d->resil)) {
				sl_resil_dispatch(d->resil);
			} else if (d->metrics && fd == sl_metrics_fd(d->metrics)) {
				sl_metrics_dispatch(d->metrics);
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "run-dir", required_argument, NULL, 'R' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "detach", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct daemon d = { .epfd = -1, .sigfd = -1, .tfd = -1 };
	struct sl_dp_opts dopts = {};
	struct itimerspec its = { { SL_TICK_MS / 1000, 0 }, { SL_TICK_MS / 1000, 0 } };
	bool check = false, detach = false;
	unsigned long long t0 = sl_monotonic_us();
	char err[512];
	sigset_t mask;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "c:P:R:CDh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.config_path = optarg; break;
		case 'P': d.pin_root = optarg; break;
		case 'R': d.run_dir = optarg; break;
		case 'C': check = true; break;
		case 'D': detach = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (!d.config_path || optind != argc || (check && detach)) {
		usage(stderr);
		return 1;
	}
	if (sl_config_load_file(d.config_path, &d.cfg, err, sizeof(err))) {
		sl_log(LOG_ERR, "%s", err);
		return 1;
	}
	if (!d.pin_root)
		d.pin_root = d.cfg->pin_root;
	if (!d.run_dir)
		d.run_dir = d.cfg->run_dir;
	if (check) {
		sl_log(LOG_INFO, "%s: ok (%u services)", d.config_path, d.cfg->nr_services);
		rc = 0;
		goto out;
	}
	if (detach) {
		rc = sl_dp_teardown(d.cfg, d.pin_root, err, sizeof(err)) ? 1 : 0;
		if (rc)
			sl_log(LOG_ERR, "%s", err);
		else
			sl_log(LOG_INFO, "detached; pins under %s removed", d.pin_root);
		goto out;
	}

	/* health checks hold a socket each while they run */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d.sigfd < 0 || d.tfd < 0 || d.epfd < 0 || timerfd_settime(d.tfd, 0, &its, NULL) ||
	    add_fd(d.epfd, d.sigfd) || add_fd(d.epfd, d.tfd)) {
		sl_log(LOG_ERR, "event loop setup: %s", strerror(errno));
		goto out;
	}

	dopts.pin_root = d.pin_root;
	dopts.conn_table_size = d.cfg->conn_table_size;
	dopts.pending_table_size = d.cfg->pending_table_size;
	if (sl_dp_open(&d.dp, &dopts, err, sizeof(err))) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	sl_log(LOG_INFO, "%s maps under %s", d.dp->adopted ? "adopted pinned" : "created", d.pin_root);
	sl_dp_tick(d.dp);
	if (sl_nh_open(&d.nh, d.dp, err, sizeof(err)) || add_fd(d.epfd, sl_nh_fd(d.nh))) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	if (start_state(&d))
		goto out;
	if (sl_resil_open(&d.resil, d.dp, resil_event, &d, err, sizeof(err)) ||
	    add_fd(d.epfd, sl_resil_fd(d.resil))) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	sl_resil_config(d.resil, d.cfg);
	if (metrics_open(&d, d.cfg))
		goto out;
	if (sl_ctl_open(&d.ctl, d.run_dir, &ctl_ops, &d, err, sizeof(err))) {
		sl_log(LOG_ERR, "%s", err);
		goto out;
	}
	if (add_fd(d.epfd, sl_ctl_fd(d.ctl))) {
		sl_log(LOG_ERR, "event loop setup: %s", strerror(errno));
		goto out;
	}
	sl_log(LOG_INFO, "ready: %u services, attached to %u interface(s) in %.3f ms",
	       d.cfg->nr_services, d.cfg->nr_ifaces, (sl_monotonic_us() - t0) / 1000.0);
	sl_notify_ready("running: %u services on %u interface(s)", d.cfg->nr_services, d.cfg->nr_ifaces);
	rc = loop(&d);
	sl_notify_stopping();
out:
	sl_metrics_close(d.metrics);
	sl_ctl_close(d.ctl);
	sl_resil_close(d.resil);
	sl_nh_close(d.nh);
	sl_dp_close(d.dp);
	sl_config_free(d.cfg);
	if (d.epfd >= 0)
		close(d.epfd);
	if (d.sigfd >= 0)
		close(d.sigfd);
	if (d.tfd >= 0)
		close(d.tfd);
	return rc;
}
