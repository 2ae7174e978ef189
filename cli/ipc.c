// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ipc.h"

#define IPC_TIMEOUT_S 5

struct ipc {
	struct mnl_socket *nl;
	uint32_t daemon;            /* its port id */
	uint32_t seq;
	char req[IPC_BUFSZ];
	char rx[SL_PROTO_BATCH + 8192];
	char err[512];
	int unreachable_errno;
};

static int fail(struct ipc *ipc, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ipc *ipc, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ipc->err, sizeof(ipc->err), fmt, ap);
	va_end(ap);
	return rc;
}

const char *ipc_error(const struct ipc *ipc)
{
	return ipc->err;
}

struct ipc *ipc_open(const char *run_dir)
{
	struct ipc *ipc = calloc(1, sizeof(*ipc));
	struct timeval tv = { IPC_TIMEOUT_S, 0 };
	char path[512];
	FILE *f;

	if (!ipc)
		return NULL;
	ipc->seq = (uint32_t)time(NULL);
	snprintf(path, sizeof(path), "%s/%s", run_dir, SL_PROTO_PORTID_FILE);
	f = fopen(path, "r");
	if (!f) {
		fail(ipc, 0, "cannot read %s: %s (is sluiced running?)", path, strerror(errno));
		return ipc;
	}
	if (fscanf(f, "%u", &ipc->daemon) != 1 || !ipc->daemon)
		fail(ipc, 0, "%s: no port id in it", path);
	fclose(f);
	if (!ipc->daemon)
		return ipc;
	ipc->nl = mnl_socket_open2(NETLINK_USERSOCK, SOCK_CLOEXEC);
	if (!ipc->nl || mnl_socket_bind(ipc->nl, 0, MNL_SOCKET_AUTOPID) ||
	    setsockopt(mnl_socket_get_fd(ipc->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		fail(ipc, 0, "netlink socket: %s", strerror(errno));
		if (ipc->nl)
			mnl_socket_close(ipc->nl);
		ipc->nl = NULL;
	}
	return ipc;
}

void ipc_close(struct ipc *ipc)
{
	if (!ipc)
		return;
	if (ipc->nl)
		mnl_socket_close(ipc->nl);
	free(ipc);
}

struct nlmsghdr *ipc_request(struct ipc *ipc, unsigned cmd, uint16_t flags)
{
	/* Dumps end with NLMSG_DONE, everything else with an ack. */
	if ((flags & NLM_F_DUMP) != NLM_F_DUMP)
		flags |= NLM_F_ACK;
	return sl_msg_start(ipc->req, cmd, NLM_F_REQUEST | flags, ++ipc->seq);
}

/* NLMSG_ERROR: 0 for an ack, else IPC_REFUSED with the daemon's text. */
static int error_msg(struct ipc *ipc, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *ne = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *na;
	const char *text = NULL;
	size_t off;

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*ne))
		return fail(ipc, IPC_REFUSED, "truncated error message from sluiced");
	if (!ne->error)
		return 0;
	/* libmnl 1.0.4 has no extended-ack helpers: the TLVs follow the
	 * echoed request (its header only when NLM_F_CAPPED). */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		off = sizeof(*ne);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += ne->msg.nlmsg_len - sizeof(ne->msg);
		mnl_attr_for_each(na, nlh, MNL_ALIGN(off)) {
			if (mnl_attr_get_type(na) == NLMSGERR_ATTR_MSG &&
			    mnl_attr_validate(na, MNL_TYPE_NUL_STRING) == 0)
				text = mnl_attr_get_str(na);
		}
	}
	return fail(ipc, IPC_REFUSED, "%s%s%s", strerror(-ne->error), text ? ": " : "", text ? text : "");
}

int ipc_call(struct ipc *ipc, ipc_cb cb, void *data)
{
	const struct nlmsghdr *req = (const struct nlmsghdr *)ipc->req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = ipc->daemon };
	const struct nlattr *tb[SL_A_TB];
	struct sl_proto_err e;
	int rc;

	if (!ipc->nl)
		return IPC_UNREACHABLE;
	for (;;) {     /* once per datagram of a paged dump */
		const struct nlmsghdr *nlh;
		socklen_t salen = sizeof(sa);
		ssize_t n;
		int len;

		if (sendto(mnl_socket_get_fd(ipc->nl), req, req->nlmsg_len, 0,
			   (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail(ipc, IPC_UNREACHABLE, "cannot reach sluiced (port %u): %s",
				    ipc->daemon, strerror(errno));
again:
		salen = sizeof(sa);
		n = recvfrom(mnl_socket_get_fd(ipc->nl), ipc->rx, sizeof(ipc->rx), 0,
			     (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EAGAIN)
				return fail(ipc, IPC_UNREACHABLE, "no answer from sluiced (port %u) within %d s",
					    ipc->daemon, IPC_TIMEOUT_S);
			return fail(ipc, IPC_UNREACHABLE, "cannot reach sluiced (port %u): %s",
				    ipc->daemon, strerror(errno));
		}
		if (sa.nl_pid != ipc->daemon) {
			sa.nl_pid = ipc->daemon;
			goto again;     /* only the daemon answers us */
		}
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)ipc->rx; sl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != req->nlmsg_seq)
				continue;       /* a late answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return error_msg(ipc, nlh);
			if (nlh->nlmsg_type == NLMSG_DONE)
				return IPC_OK;
			if (sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e))
				return fail(ipc, IPC_REFUSED, "bad reply from sluiced: %s", e.msg);
			rc = cb ? cb(nlh, tb, data) : 0;
			if (rc)
				return fail(ipc, IPC_REFUSED, "cannot handle the reply");
			if (!(nlh->nlmsg_flags & NLM_F_MULTI) && !(req->nlmsg_flags & NLM_F_ACK))
				return IPC_OK;
		}
		/* A dump datagram without NLMSG_DONE: ask for the rest. */
		if ((req->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP)
			continue;
		goto again;
	}
}

int ipc_monitor(struct ipc *ipc, void (*started)(const char *how), ipc_cb cb, void *data,
		unsigned long count)
{
	const struct nlattr *tb[SL_A_TB];
	struct timeval none = { 0, 0 };
	struct sl_proto_err e;
	unsigned group = SL_PROTO_MCGROUP;
	const char *how = "group";
	unsigned long seen = 0;
	int fd, rcvbuf = 4 << 20, rc;

	if (!ipc->nl)
		return IPC_UNREACHABLE;
	fd = mnl_socket_get_fd(ipc->nl);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group))) {
		if (errno != EPERM && errno != EACCES)
			return fail(ipc, IPC_UNREACHABLE, "cannot join group %u: %s", group, strerror(errno));
		/* unprivileged: unicast events to our port id */
		ipc_request(ipc, SL_CMD_SUBSCRIBE, 0);
		rc = ipc_call(ipc, NULL, NULL);
		if (rc)
			return rc;
		how = "subscription";
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)))
		return fail(ipc, IPC_UNREACHABLE, "netlink socket: %s", strerror(errno));
	if (started)
		started(how);
	for (;;) {
		struct sockaddr_nl sa;
		socklen_t salen = sizeof(sa);
		const struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		n = recvfrom(fd, ipc->rx, sizeof(ipc->rx), 0, (struct sockaddr *)&sa, &salen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {     /* we were too slow: say so, go on */
				fprintf(stderr, "sluice: events lost (receive buffer overrun)\n");
				continue;
			}
			return fail(ipc, IPC_UNREACHABLE, "receiving events: %s", strerror(errno));
		}
		if (sa.nl_pid != ipc->daemon)
			continue;       /* anyone can send to the group: only sluiced counts */
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)ipc->rx; sl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != SL_PROTO_MSG_TYPE ||
			    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + GENL_HDRLEN || sl_msg_cmd(nlh) != SL_CMD_EVENT)
				continue;
			if (sl_proto_check(nlh, SL_CHECK_REPLY, tb, &e)) {
				fprintf(stderr, "sluice: bad event from sluiced: %s\n", e.msg);
				continue;
			}
			if (cb && cb(nlh, tb, data))
				return IPC_OK;
			if (count && ++seen >= count)
				return IPC_OK;
		}
	}
}
