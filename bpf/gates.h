/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Gates for a new flow (DESIGN.md, "Gates for a new flow"): the service's
 * max_conns, then along the Maglev candidates each backend's breaker and
 * bulkheads. Units are reserved with atomic fetch-adds that return the old
 * value, so two CPUs never both take the last unit: one sees the limit
 * reached and gives its unit back.
 */
#ifndef SL_BPF_GATES_H
#define SL_BPF_GATES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"
#include "sluice/hash.h"

/* sl_admit's answer: the backend id in the low 16 bits, this bit when a
 * half-open trial token was taken; <= 0: minus the refusal reason. */
#define SL_ADMIT_TRIAL   (1u << 16)
#define SL_ADMIT_ID(r)   ((__u32)(r) & 0xffff)

/* sl_admit's flags */
#define SL_ADMIT_F_SYN   1          /* a SYN: the backend's max_pending too */
#define SL_ADMIT_F_MOVE  2          /* a redispatch: the flow keeps the service unit it
                                       holds, so the service's max_conns is not met again */

/* 1 when id is one of the (up to four, 16 bits each) ids in skip, else 0;
 * branchless: a branch per id would multiply the states the verifier walks
 * through the probe loop. z(x) = (x - 1) >> 63 is 1 only for x == 0. */
static __always_inline __u64 skip_has(__u64 skip, __u32 id)
{
	__u64 x0 = (skip & 0xffff) ^ id, x1 = ((skip >> 16) & 0xffff) ^ id;
	__u64 x2 = ((skip >> 32) & 0xffff) ^ id, x3 = (skip >> 48) ^ id;

	return ((x0 - 1) >> 63) | ((x1 - 1) >> 63) | ((x2 - 1) >> 63) | ((x3 - 1) >> 63);
}

/* One candidate: 0 admitted, 1 admitted on a trial token, else the reason
 * it refuses (every reason is > 1), with nothing kept. */
static __always_inline int gate(__u32 bk_id, __u32 svc_id, __u32 syn)
{
	struct sl_backend *bk = bpf_map_lookup_elem(&sl_backend, &bk_id);
	struct sl_bk_live *bl;
	__u32 max_conns, max_pending;
	__s32 old;
	int trial = 0, r;
	__u8 brk;

	if (!bk || (bk->flags & (SL_BK_F_ACTIVE | SL_BK_F_GONE)) != SL_BK_F_ACTIVE ||
	    bk->svc_id != svc_id || !bk->weight)
		return SL_R_NO_BACKEND;
	brk = *(volatile __u8 *)&bk->breaker;
	if (brk != SL_BRK_CLOSED && brk != SL_BRK_HALF_OPEN)
		return SL_R_BREAKER_OPEN;       /* OPEN, DRAINING */
	bl = bpf_map_lookup_elem(&sl_bk_live, &bk_id);
	if (!bl)
		return SL_R_NO_BACKEND;
	if (brk == SL_BRK_HALF_OPEN) {
		if (__sync_fetch_and_add(&bl->trial_tokens, -1) <= 0) {
			__sync_fetch_and_add(&bl->trial_tokens, 1);
			return SL_R_BREAKER_OPEN;
		}
		trial = 1;
	}
	max_conns = bk->max_conns;
	max_pending = bk->max_pending;
	old = __sync_fetch_and_add(&bl->active, 1);
	if (max_conns && old >= (__s32)max_conns) {
		__sync_fetch_and_add(&bl->active, -1);
		r = SL_R_BULKHEAD_BACKEND;
		goto refuse;
	}
	if (syn) {
		old = __sync_fetch_and_add(&bl->pending, 1);
		if (max_pending && old >= (__s32)max_pending) {
			__sync_fetch_and_add(&bl->pending, -1);
			__sync_fetch_and_add(&bl->active, -1);
			r = SL_R_PENDING_FULL;
			goto refuse;
		}
	}
	return trial;
refuse:
	if (trial)
		__sync_fetch_and_add(&bl->trial_tokens, 1);
	return r;
}

/*
 * Choose and admit a new flow of service svc_id (flow hash h): the
 * service's max_conns first, then Maglev slot h mod M and up to SL_PROBES
 * further distinct backends at (h + i*step) mod M (the daemon's
 * sl_maglev_candidate() is the same walk), the first that passes every
 * gate taking the flow. An admitted flow holds a unit of the service's and
 * the backend's active, and for a SYN (syn != 0) one of the backend's
 * pending. When every candidate refuses, the packet's reason is the first
 * candidate's (the flow's own backend: why it could not go where it
 * belongs); with no candidate at all, no_backend.
 *
 * flags: SL_ADMIT_F_SYN, SL_ADMIT_F_MOVE (no service unit taken or met).
 * skip: up to four backend ids (16 bits each) that are not candidates (a
 * redispatch skips the backends the flow tried); they take no probe.
 *
 * A global function: the verifier checks it once. Returns what
 * SL_ADMIT_ID / SL_ADMIT_TRIAL take apart, or minus a reason.
 */
__attribute__((noinline)) int sl_admit(__u32 svc_id, __u32 h, __u32 max_conns, __u32 flags,
				       __u64 skip)
{
	__u32 M, slot, n = 0, i, zero = 0, t0 = 0, t1 = 0, t2 = 0, first = 0;
	struct sl_svc_live *sl;
	__u32 *mp;
	__s32 old;
	void *tbl;
	int g;

	sl = bpf_map_lookup_elem(&sl_svc_live, &svc_id);
	if (!sl)
		return -SL_R_NO_BACKEND;
	if (!(flags & SL_ADMIT_F_MOVE)) {
		old = __sync_fetch_and_add(&sl->active, 1);
		if (max_conns && old >= (__s32)max_conns) {
			__sync_fetch_and_add(&sl->active, -1);
			return -SL_R_BULKHEAD_SERVICE;
		}
	}

	tbl = bpf_map_lookup_elem(&sl_maglev, &svc_id);
	if (!tbl)
		goto refused;
	mp = bpf_map_lookup_elem(tbl, &zero);
	if (!mp || !*mp)
		goto refused;
	M = *mp;

	for (i = 0; i < SL_PROBE_SLOTS; i++) {
		__u32 idx, id;

		slot = sl_probe_slot(h, i, M);
		idx = slot + 1;
		__u32 *idp = bpf_map_lookup_elem(tbl, &idx);

		if (!idp)
			goto refused;
		id = *idp;
		if (!(n > 0 && id == t0) && !(n > 1 && id == t1) && !(n > 2 && id == t2) &&
		    !skip_has(skip, id)) {
			g = gate(id, svc_id, flags & SL_ADMIT_F_SYN);
			if (g <= 1)
				return (int)((id & 0xffff) | (g ? SL_ADMIT_TRIAL : 0));
			if (!first)
				first = g;
			if (++n > SL_PROBES)
				goto refused;
			if (n == 1)
				t0 = id;
			else if (n == 2)
				t1 = id;
			else
				t2 = id;
		}
		if (M == 1)
			goto refused;
	}
refused:
	if (!(flags & SL_ADMIT_F_MOVE))
		__sync_fetch_and_add(&sl->active, -1);
	return -(int)(first ? first : SL_R_NO_BACKEND);
}

/* Give back what sl_admit reserved for a flow whose entry was not made
 * (another CPU's came first): the units its flags say, and the token. */
__attribute__((noinline)) int sl_unreserve(__u32 bk_id, __u32 svc_id, __u32 flags)
{
	struct sl_svc_live *sl = bpf_map_lookup_elem(&sl_svc_live, &svc_id);
	struct sl_bk_live *bl = bpf_map_lookup_elem(&sl_bk_live, &bk_id);

	if (!sl || !bl)
		return 0;
	if (flags & SL_CONN_F_COUNTED) {
		__sync_fetch_and_add(&bl->active, -1);
		__sync_fetch_and_add(&sl->active, -1);
	}
	if (flags & SL_CONN_F_PEND)
		__sync_fetch_and_add(&bl->pending, -1);
	if (flags & SL_CONN_F_TRIAL)
		__sync_fetch_and_add(&bl->trial_tokens, 1);
	return 1;
}

#endif
