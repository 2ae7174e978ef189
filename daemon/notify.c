// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "notify.h"
#include "log.h"

unsigned long long sl_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static void notify(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		sl_log(LOG_WARNING, "sd_notify: %s", strerror(-rc));
}

static void vnotify(const char *head, const char *fmt, va_list ap)
{
	char status[256], msg[320];

	vsnprintf(status, sizeof(status), fmt, ap);
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, status);
	notify(msg);
}

void sl_notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnotify("READY=1\n", fmt, ap);
	va_end(ap);
}

void sl_notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnotify("", fmt, ap);
	va_end(ap);
}

void sl_notify_reloading(void)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
		 sl_monotonic_us());
	notify(msg);
}

void sl_notify_stopping(void)
{
	notify("STOPPING=1\nSTATUS=stopping: program stays attached, maps stay pinned");
}
