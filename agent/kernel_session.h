/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What apply and rollback both need before touching the kernel: a netlink socket, a kernel
 * that has every feature the layout uses, and the state directory.
 */
#ifndef NFTGATE_AGENT_KERNEL_SESSION_H
#define NFTGATE_AGENT_KERNEL_SESSION_H

#include "agent/cli.h"
#include "nft/error.h"
#include "nft/netlink.h"

struct kernel_session {
	struct nl_sock *nl;
	int dirfd; /* the state directory, or -1 */
};

/* Opens the socket, probes the kernel, opens (creating if missing) the state directory.
 * Returns 0, or -errno with e describing what failed; the session is then closed. */
int kernel_session_open(const struct cli *c, struct kernel_session *ks, struct nft_error *e);

/* Releases what kernel_session_open acquired; safe on a zeroed or failed session. */
void kernel_session_close(struct kernel_session *ks);

#endif
