/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The only part of the CLI that sees sockets: find sluiced (its port id
 * file), send a request, collect the replies (re-asking for the rest of a
 * paged dump), and turn NLMSG_ERROR and its extended ack into a message.
 */
#ifndef SLUICE_CLI_IPC_H
#define SLUICE_CLI_IPC_H

#include <stdint.h>
#include <sluice/proto.h>

enum { IPC_OK = 0, IPC_REFUSED = 2, IPC_UNREACHABLE = 3 };   /* = the CLI's exit codes */

struct ipc;

/* Called for every data reply, checked against the protocol table. */
typedef int (*ipc_cb)(const struct nlmsghdr *nlh, const struct nlattr **tb, void *data);

struct ipc *ipc_open(const char *run_dir);
void ipc_close(struct ipc *ipc);
/* A new request of cmd (flags beyond NLM_F_REQUEST | NLM_F_ACK, e.g.
 * NLM_F_DUMP); add attributes with sl_put_* and IPC_BUFSZ. */
#define IPC_BUFSZ 8192
struct nlmsghdr *ipc_request(struct ipc *ipc, unsigned cmd, uint16_t flags);
/* Send the request and run cb on every reply: IPC_OK, IPC_REFUSED (the
 * daemon said no, or cb failed) or IPC_UNREACHABLE; ipc_error() says why. */
int ipc_call(struct ipc *ipc, ipc_cb cb, void *data);
const char *ipc_error(const struct ipc *ipc);

/*
 * Follow the daemon's events: join the multicast group (needs
 * CAP_NET_ADMIN) or, refused that, SUBSCRIBE for unicast events. Only
 * messages from the daemon's port id count (anyone may send to the
 * group). started() runs once listening (how: "group" or "subscription");
 * cb runs for every EVENT until it returns non-zero or count events were
 * seen (0: no limit). IPC_OK, IPC_REFUSED or IPC_UNREACHABLE.
 */
int ipc_monitor(struct ipc *ipc, void (*started)(const char *how), ipc_cb cb, void *data,
		unsigned long count);

#endif
