/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Backend next hops, kept current from the kernel's tables (nexthop.c). */
#ifndef SLUICE_NEXTHOP_H
#define SLUICE_NEXTHOP_H

#include <stddef.h>

struct sl_dp;
struct sl_nh;

int  sl_nh_open(struct sl_nh **out, struct sl_dp *dp, char *err, size_t errlen);
int  sl_nh_fd(const struct sl_nh *nh);      /* readable: call sl_nh_event */
int  sl_nh_event(struct sl_nh *nh);
int  sl_nh_refresh(struct sl_nh *nh);       /* resolve every backend; returns how many resolved */
void sl_nh_close(struct sl_nh *nh);

#endif
