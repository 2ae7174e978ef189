/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * systemd's service notification protocol (sd_notify(3)), for
 * Type=notify and Type=notify-reload units. Without $NOTIFY_SOCKET every
 * call does nothing.
 */
#ifndef SLUICE_NOTIFY_H
#define SLUICE_NOTIFY_H

/* READY=1 and a STATUS= line. */
void sl_notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC= (systemd 253+ wants it for
 * Type=notify-reload; older ones ignore it) and a STATUS= line. */
void sl_notify_reloading(void);

/* STOPPING=1 and a STATUS= line. */
void sl_notify_stopping(void);

/* A STATUS= line alone. */
void sl_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in microseconds, for elapsed-time log fields. */
unsigned long long sl_monotonic_us(void);

#endif
