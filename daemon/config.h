/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * sluiced's configuration: libconfig syntax, parsed and validated in one
 * go into plain structs. The grammar is documented in sluice.conf(5).
 *
 * Every error is "FILE:LINE: message", LINE being the line of the offending
 * setting (of the enclosing group for a missing one, 1 for a missing
 * top-level one).
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <linux/types.h>
#include <sluice/maps.h>
#include "breaker.h"

#define SL_NAME_MAX 32
#define SL_PATH_MAX 256

#define SL_DEFAULT_PIN_ROOT      "/sys/fs/bpf/sluice"
#define SL_DEFAULT_RUN_DIR       "/run/sluice"
#define SL_DEFAULT_METRICS_LISTEN "127.0.0.1:9469"
#define SL_LISTEN_MAX            64         /* "[v6]:PORT" text, NUL included */
#define SL_CONN_TABLE_MIN        1024
#define SL_CONN_TABLE_MAX        16777216
#define SL_MAX_CONNS_LIMIT       10000000   /* max_conns, max_pending */
#define SL_CONNECT_TIMEOUT_MAX   60000      /* ms */
#define SL_IDLE_TIMEOUT_MAX      86400      /* s */
#define SL_DEFAULT_CONNECT_TIMEOUT_MS 200
#define SL_DEFAULT_IDLE_TIMEOUT_TCP   300
#define SL_DEFAULT_IDLE_TIMEOUT_UDP   30
#define SL_DEFAULT_MAX_EJECTION_PCT   50
#define SL_DEFAULT_REDISPATCH_MAX     2       /* connect attempts moved to another backend */
#define SL_REDISPATCH_MAX             3       /* a flow remembers the last 3 backends it left */
#define SL_DEFAULT_TICK_MS            100     /* passive signals read, breakers ticked */
#define SL_DEFAULT_RECONCILE_MS       1000    /* reaper: idle expiry and counter reconciliation */
#define SL_DEFAULT_PENDING_SCAN_MS    10      /* reaper: pending map scanned for connect timeouts */
#define SL_DEFAULT_CLOSING_TIMEOUT_S  10      /* a CLOSING entry (FIN/RST seen) lives this long idle */
#define SL_PENDING_TABLE_MIN          1024
#define SL_PENDING_TABLE_MAX          16777216
#define SL_TICK_MS_MIN                10
#define SL_TICK_MS_MAX                10000
#define SL_RECONCILE_MS_MIN           100
#define SL_RECONCILE_MS_MAX           600000
#define SL_PENDING_SCAN_MS_MIN        1
#define SL_PENDING_SCAN_MS_MAX        1000
#define SL_CLOSING_TIMEOUT_MAX        3600    /* s */
#define SL_DRAIN_TIMEOUT_MAX          86400000 /* ms */

/* Active checks (sluice.conf(5), "CHECK SETTINGS") */
#define SL_CHECK_INTERVAL_MIN         10      /* ms */
#define SL_CHECK_INTERVAL_MAX         3600000
#define SL_CHECK_DEFAULT_INTERVAL_MS  1000
#define SL_CHECK_DEFAULT_TIMEOUT_MS   1000    /* capped at interval_ms */
#define SL_CHECK_RISE_FALL_MAX        1000
#define SL_CHECK_DEFAULT_RISE         2
#define SL_CHECK_DEFAULT_FALL         2
#define SL_CHECK_DEFAULT_JITTER_PCT   10
#define SL_CHECK_DEFAULT_EXPECT_LO    200
#define SL_CHECK_DEFAULT_EXPECT_HI    399
#define SL_CHECK_STR_MAX              128     /* path and host, NUL included */

/* Breakers (sluice.conf(5), "BREAKER SETTINGS"); the rest is breaker.h's */
#define SL_BRK_CONSECUTIVE_MAX        1000
#define SL_BRK_OPEN_MAX_MS            3600000
#define SL_BRK_MIN_VOLUME_TIME_MAX    1000000 /* a time window's min_volume */

enum sl_check_type { SL_CHECK_NONE = 0, SL_CHECK_TCP, SL_CHECK_HTTP, SL_CHECK_HTTPS };

/* An active health check: a service's, copied into each of its backends
 * and overridden there key by key ("check" group inside a backend). */
struct sl_cfg_check {
	__u8  type;                 /* enum sl_check_type; NONE: no active check */
	__u8  tls_verify;           /* HTTPS: verify the certificate (default 0) */
	__u16 port;                 /* host order; 0: the backend's port */
	__u16 expect_lo, expect_hi; /* HTTP status accepted (default 200-399) */
	__u32 interval_ms;          /* default 1000 */
	__u32 timeout_ms;           /* default 1000, <= interval_ms */
	__u32 rise, fall;           /* default 2, 2 */
	__u32 jitter_pct;           /* each interval += [0, jitter% of it); default 10 */
	char  path[128];            /* HTTP(S): default "/" */
	char  host[128];            /* HTTP(S) Host header; "": the backend's address */
};

struct sl_cfg_backend {
	struct sl_l4addr addr;      /* port in network order, proto = the service's */
	__u32 weight, max_conns, max_pending;
	struct sl_cfg_check check;  /* resolved: the service's, with this backend's overrides */
	__u8 check_set;             /* the backend had its own check group */
	int line;                   /* of the backend's group; 0: added at run time */
};

struct sl_cfg_service {
	char name[SL_NAME_MAX];
	struct sl_l4addr vip;
	__u8 mode, sched, reject, on_trip, max_ejection_pct;   /* enums from maps.h */
	__u32 max_conns, connect_timeout_ms, idle_timeout_s, maglev_size; /* maglev_size resolved: explicit or default */
	__u8 maglev_size_set;       /* maglev_size was given: a runtime change keeps it */
	__u8 panic;                 /* enum sl_brk_panic: "fail_open" (default) or "fail_closed" */
	__u8 breaker_mode;          /* enum sl_brk_mode: SL_BRKM_AUTO (default) or SL_BRKM_METRICS_ONLY */
	__u32 drain_timeout_ms;     /* DRAINING: reset what is left after this; 0: never */
	__u8 redispatch_max;        /* a pending flow moves at most this often (refused, timed out) */
	struct sl_cfg_check check;  /* type NONE when the service has none */
	struct sl_brk_cfg breaker;  /* sl_brk_cfg_defaults() unless set */
	int line;                   /* of the service's group; 0: added at run time */
	struct sl_cfg_backend *backends;
	unsigned nr_backends;
};

struct sl_config {
	char file[SL_PATH_MAX];
	char ifaces[SL_MAX_IFACES][16];
	unsigned nr_ifaces;
	char pin_root[SL_PATH_MAX];
	char run_dir[SL_PATH_MAX];
	__u32 conn_table_size;
	__u32 pending_table_size;   /* sl_pending entries (default SL_PENDING_DEFAULT) */
	__u32 tick_ms, reconcile_ms, pending_scan_ms, closing_timeout_s;
	int xdp_generic;
	char control_group[SL_NAME_MAX];  /* "": uid 0 only may change state */
	__u32 control_gid;                /* control_group resolved when the config was loaded */
	char metrics_listen[SL_LISTEN_MAX]; /* "ADDR:PORT" / "[V6]:PORT" of /metrics; "": off */
	struct sl_l4addr metrics_addr;    /* metrics_listen parsed (proto TCP); family 0: off */
	struct sl_cfg_service *services;
	unsigned nr_services;
	__u64 hash;   /* FNV-1a 64 over a canonical serialisation of everything parsed (not line numbers, not file name) */
};

/*
 * On error: return negative errno (-EINVAL for a bad config, -ENOMEM, or
 * the errno of reading the file), write "FILE:LINE: message" into err
 * (FILE is the path or the name given; an unreadable file gives
 * "FILE: message"), *out untouched.
 */
int  sl_config_load_file(const char *path, struct sl_config **out, char *err, size_t errlen);
int  sl_config_load_string(const char *text, const char *name, struct sl_config **out, char *err, size_t errlen);
void sl_config_free(struct sl_config *c);
const struct sl_cfg_service *sl_config_find_service(const struct sl_config *c, const char *name);

/*
 * Validate a config built or changed in memory (a runtime change) with
 * the rules the file obeys: per-service and per-backend values (checks,
 * breakers, panic, drain_timeout_ms and the top-level timers included),
 * Maglev sizes, limits, and the checks across services (names, VIPs,
 * backends unique; no backend at a VIP). A service whose maglev_size was
 * not given gets the default for its backend count; a backend without a
 * check group of its own (check_set 0) gets its service's check
 * (sl_config_backend_inherit). Recomputes c->hash. 0 or
 * -EINVAL with "runtime change: message" (lines, where known, are the
 * config file's) in err.
 */
int  sl_config_validate(struct sl_config *c, char *err, size_t errlen);

/* Defaults of a service of protocol proto (IPPROTO_TCP/UDP): what the file
 * gives a service that sets nothing but name, vip and port. */
void sl_config_service_defaults(struct sl_cfg_service *s, __u8 proto);

/* A backend without a check group of its own (check_set 0), such as one
 * added at run time, gets its service's check. sl_config_validate() calls
 * it for every backend. */
void sl_config_backend_inherit(const struct sl_cfg_service *s, struct sl_cfg_backend *b);

/* The value of an enumerated setting ("proto", "mode", "scheduler",
 * "reject", "on_trip", "panic", "breaker.mode") from its text, as the file
 * takes it. 0 or -EINVAL with the reason in err. */
int  sl_config_choice(const char *setting, const char *text, __u8 *out, char *err, size_t errlen);

/* "198.18.1.1" or "2001:2::1": fills addr[] (network order, IPv4 in
 * addr[0], the rest zero) and family; port and proto are left alone.
 * 0 or -EINVAL. */
int  sl_addr_parse(const char *s, struct sl_l4addr *a);

/* "ADDR:PORT" or "[V6ADDR]:PORT" (port 1..65535) into addr, port
 * (network order), family; proto TCP. 0 or -EINVAL. */
int  sl_listen_parse(const char *s, struct sl_l4addr *a);

/* The address only, no port: 0, -EINVAL (bad family) or -ENOSPC. */
int  sl_addr_format(const struct sl_l4addr *a, char *buf, size_t len);

/* "198.19.0.11:80" or "[2001:2::11]:80" (names in logs, events, metrics). */
void sl_l4addr_format(const struct sl_l4addr *a, char *buf, size_t len);

/* a's address with port (network order) as a sockaddr_in or sockaddr_in6
 * in *ss: its length, or 0 for a family that is neither. */
struct sockaddr_storage;
unsigned sl_l4addr_sockaddr(const struct sl_l4addr *a, __be16 port, struct sockaddr_storage *ss);

#endif
