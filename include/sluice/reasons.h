/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every packet the XDP program does not forward itself is counted under one
 * reason. One table: the enum, the verdict and the names users see
 * (counters, metrics, docs) all come from it.
 *
 * X(ENUM, VERDICT, "name", "what it means")
 * PASS: handed to the kernel unchanged (or, for no_neigh, already rewritten);
 * DROP: ours and malformed or refused, dropped here (a refused TCP packet
 *       may instead be turned into an RST sent back out of its interface: the
 *       service's reject = "rst", and trip_reset).
 */
#ifndef SLUICE_REASONS_H
#define SLUICE_REASONS_H

#define SL_REASONS(X)                                                              \
	X(NOT_IP,         PASS, "not_ip",         "not IPv4 or IPv6 (ARP, LLDP, ...)")        \
	X(NOT_OURS,       PASS, "not_ours",       "IP traffic to no service and from no backend") \
	X(VLAN_STACKED,   PASS, "vlan_stacked",   "more than one VLAN tag")                    \
	X(TTL_EXCEEDED,   PASS, "ttl_exceeded",   "TTL or hop limit would expire: the kernel answers") \
	X(NO_NEIGH,       PASS, "no_neigh",       "next hop unresolved: rewritten packet given to the kernel") \
	X(UNMANAGED,      PASS, "egress_unmanaged", "next hop on an interface sluice does not manage: rewritten packet given to the kernel") \
	X(L2_TRUNC,       DROP, "l2_truncated",   "frame shorter than its Ethernet/VLAN header") \
	X(L3_TRUNC,       DROP, "l3_truncated",   "frame shorter than its IP header")          \
	X(L3_MALFORMED,   DROP, "l3_malformed",   "bad IP version, header or total length")     \
	X(FRAGMENT,       DROP, "fragment",       "IP fragment addressed to a VIP")             \
	X(IPV6_EXT_LIMIT, DROP, "ipv6_ext_limit", "more IPv6 extension headers than the bound") \
	X(L4_TRUNC,       DROP, "l4_truncated",   "frame shorter than its TCP/UDP/ICMP header") \
	X(L4_MALFORMED,   DROP, "l4_malformed",   "bad TCP data offset or UDP length")          \
	X(PROTO,          DROP, "proto_unsupported", "protocol other than TCP, UDP, ICMP to a VIP") \
	X(NO_SERVICE,     DROP, "no_service",     "VIP address, but no service on that port/protocol") \
	X(NO_BACKEND,     DROP, "no_backend",     "service has no backend that can take the flow") \
	X(NO_FLOW,        DROP, "no_flow",        "backend reply for a flow not in the table")  \
	X(ICMP_UNMATCHED, DROP, "icmp_unmatched", "ICMP error about no known flow, or ICMP to a VIP that is not an error") \
	X(ICMP_MALFORMED, DROP, "icmp_malformed", "ICMP error whose quoted packet cannot be parsed") \
	X(FIB_FAILED,     DROP, "fib_failed",     "no route towards the backend or client") \
	X(BREAKER_OPEN,   DROP, "breaker_open",   "new flow refused: every candidate's breaker is open, half-open without tokens, or draining") \
	X(BULKHEAD_BACKEND, DROP, "bulkhead_backend", "new flow refused: every candidate backend is at max_conns") \
	X(PENDING_FULL,   DROP, "pending_full",   "new flow refused: every candidate backend is at max_pending") \
	X(BULKHEAD_SERVICE, DROP, "bulkhead_service", "new flow refused: the service is at max_conns") \
	X(TRIP_RESET,     DROP, "trip_reset",     "packet of a flow whose backend tripped or drained out: answered with an RST") \
	X(TO_GATEWAY,     PASS, "to_gateway",     "from a backend to an address of the gateway itself (its health checks): given to the kernel") \
	X(REDISPATCH_LATE, DROP, "redispatch_late", "answer from a backend a pending flow has left (redispatch): an RST is dropped, anything else answered with an RST")

#define SL_R_ENUM(e, v, n, d) SL_R_##e,
enum sl_reason { SL_REASONS(SL_R_ENUM) SL_R_MAX };
#undef SL_R_ENUM

#endif
