// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Backend next hops from the kernel's route, neighbour and link tables,
 * followed through libnl-route's cache manager: the XDP program redirects
 * with what is written here and calls bpf_fib_lookup only when a backend
 * has no next hop yet (its neighbour unresolved: the kernel resolves it
 * when the program hands it the packet, and the change lands here).
 *
 * Route choice is the main table's longest prefix, then lowest metric;
 * policy routing is not consulted (docs/decisions.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

#include "nexthop.h"
#include "dataplane.h"
#include "log.h"

struct sl_nh {
	struct sl_dp *dp;
	struct nl_cache_mngr *mngr;
	struct nl_cache *links, *neighs, *routes;
	bool dirty;             /* resolve backends again */
	bool bump;              /* per-flow reverse next hops may be stale */
};

static void on_change(struct nl_cache *cache, struct nl_object *obj, int action, void *arg)
{
	struct sl_nh *nh = arg;

	nh->dirty = true;
	if (cache == nh->links) {
		struct rtnl_link *l = (struct rtnl_link *)obj;
		const char *name = rtnl_link_get_name(l);
		int ifindex = rtnl_link_get_ifindex(l);

		/* A configured interface deleted and created again comes back
		 * with a new ifindex: the program goes back on it. */
		if (action == NL_ACT_DEL)
			sl_dp_iface_gone(nh->dp, ifindex);
		else if (name && ifindex > 0)
			sl_dp_iface_seen(nh->dp, name, ifindex);
	}
	if (cache == nh->neighs) {
		struct rtnl_neigh *n = (struct rtnl_neigh *)obj;

		/* Neighbours go REACHABLE <-> STALE all the time; only their
		 * coming, going and failing can move a client's next hop. */
		if (action == NL_ACT_CHANGE && !(rtnl_neigh_get_state(n) & NUD_FAILED))
			return;
	}
	nh->bump = true;
}

static bool addr_in_prefix(const unsigned char *a, const unsigned char *p, unsigned plen)
{
	unsigned full = plen / 8, rem = plen % 8;

	if (memcmp(a, p, full))
		return false;
	if (!rem)
		return true;
	return ((a[full] ^ p[full]) & (0xff << (8 - rem))) == 0;
}

struct route_q {
	int family;
	const unsigned char *addr;
	unsigned alen;
	int best_plen;
	__u32 best_prio;
	struct rtnl_route *best;
};

static void route_match(struct nl_object *obj, void *arg)
{
	struct rtnl_route *r = (struct rtnl_route *)obj;
	struct route_q *q = arg;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	unsigned plen;

	if (rtnl_route_get_family(r) != q->family || rtnl_route_get_table(r) != RT_TABLE_MAIN ||
	    rtnl_route_get_type(r) != RTN_UNICAST || !dst || rtnl_route_get_nnexthops(r) < 1)
		return;
	plen = nl_addr_get_prefixlen(dst);
	if (plen > q->alen * 8)
		return;
	if (plen && (nl_addr_get_len(dst) < q->alen ||
		     !addr_in_prefix(q->addr, nl_addr_get_binary_addr(dst), plen)))
		return;
	if ((int)plen > q->best_plen ||
	    ((int)plen == q->best_plen && rtnl_route_get_priority(r) < q->best_prio)) {
		q->best_plen = plen;
		q->best_prio = rtnl_route_get_priority(r);
		q->best = r;
	}
}

/* Next hop of one backend: 0 and ifindex set, or -ENOENT (leave to fib). */
static int resolve(struct sl_nh *nh, const struct sl_backend *bk, __u32 *ifindex,
		   __u8 *dmac, __u8 *smac)
{
	int family = bk->addr.family == SL_AF_INET ? AF_INET : AF_INET6;
	unsigned alen = family == AF_INET ? 4 : 16;
	struct route_q q = { family, (const unsigned char *)bk->addr.addr, alen, -1, 0, NULL };
	struct rtnl_nexthop *hop;
	struct nl_addr *gw, *target = NULL;
	struct rtnl_neigh *n;
	struct rtnl_link *l;
	struct nl_addr *ll;
	int rc = -ENOENT, oif;

	nl_cache_foreach(nh->routes, route_match, &q);
	if (!q.best)
		return -ENOENT;
	hop = rtnl_route_nexthop_n(q.best, 0);
	if (!hop)
		return -ENOENT;
	oif = rtnl_route_nh_get_ifindex(hop);
	gw = rtnl_route_nh_get_gateway(hop);
	target = gw ? nl_addr_clone(gw) : nl_addr_build(family, bk->addr.addr, alen);
	if (!target)
		return -ENOMEM;
	n = rtnl_neigh_get(nh->neighs, oif, target);
	if (n) {
		ll = rtnl_neigh_get_lladdr(n);
		if (ll && nl_addr_get_len(ll) == 6 &&
		    (rtnl_neigh_get_state(n) & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
						NUD_PERMANENT | NUD_NOARP))) {
			memcpy(dmac, nl_addr_get_binary_addr(ll), 6);
			l = rtnl_link_get(nh->links, oif);
			if (l) {
				struct nl_addr *la = rtnl_link_get_addr(l);

				if (la && nl_addr_get_len(la) == 6) {
					memcpy(smac, nl_addr_get_binary_addr(la), 6);
					*ifindex = oif;
					rc = 0;
				}
				rtnl_link_put(l);
			}
		}
		rtnl_neigh_put(n);
	}
	nl_addr_put(target);
	return rc;
}

int sl_nh_refresh(struct sl_nh *nh)
{
	__u32 id, ifindex;
	__u8 dmac[6], smac[6];
	int known = 0;

	for (id = 1; id < SL_MAX_BACKENDS; id++) {
		const struct sl_backend *bk = sl_dp_backend(nh->dp, id);

		if (!bk)
			continue;
		if (resolve(nh, bk, &ifindex, dmac, smac) == 0) {
			sl_dp_set_nexthop(nh->dp, id, ifindex, dmac, smac);
			known++;
		} else {
			sl_dp_set_nexthop(nh->dp, id, 0, NULL, NULL);
		}
	}
	if (nh->bump)
		sl_dp_bump_nh_gen(nh->dp);
	nh->dirty = nh->bump = false;
	return known;
}

int sl_nh_open(struct sl_nh **out, struct sl_dp *dp, char *err, size_t errlen)
{
	struct sl_nh *nh = calloc(1, sizeof(*nh));
	int rc;

	if (!nh)
		return -ENOMEM;
	nh->dp = dp;
	rc = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE, &nh->mngr);
	if (!rc)
		rc = nl_cache_mngr_add(nh->mngr, "route/link", on_change, nh, &nh->links);
	if (!rc)
		rc = nl_cache_mngr_add(nh->mngr, "route/neigh", on_change, nh, &nh->neighs);
	if (!rc)
		rc = nl_cache_mngr_add(nh->mngr, "route/route", on_change, nh, &nh->routes);
	if (rc) {
		snprintf(err, errlen, "cannot follow route/neighbour/link tables: %s", nl_geterror(rc));
		sl_nh_close(nh);
		return -EIO;
	}
	*out = nh;
	return 0;
}

int sl_nh_fd(const struct sl_nh *nh)
{
	return nl_cache_mngr_get_fd(nh->mngr);
}

int sl_nh_event(struct sl_nh *nh)
{
	int rc = nl_cache_mngr_data_ready(nh->mngr);

	if (rc < 0)
		sl_log(LOG_WARNING, "route/neighbour update: %s", nl_geterror(rc));
	if (nh->dirty)
		sl_nh_refresh(nh);
	return 0;
}

void sl_nh_close(struct sl_nh *nh)
{
	if (!nh)
		return;
	if (nh->mngr)
		nl_cache_mngr_free(nh->mngr);
	free(nh);
}
