/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Logging to stderr with sd-daemon priority prefixes ("<6>"), which
 * journald turns into priorities; a terminal shows them as they are. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <syslog.h>

void sl_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
