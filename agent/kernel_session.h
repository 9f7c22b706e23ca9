/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What apply and rollback both need before touching the kernel: a netlink socket, a kernel
 * that has every feature the layout uses, the state directory, and which network namespace
 * the socket talks to; and what both do after a commit: write the committed record, delete
 * the UDP flows of the endpoints it removed. Apply
 * and `nftgate run` read that record back the same way (kernel_session_load_record).
 */
#ifndef NFTGATE_AGENT_KERNEL_SESSION_H
#define NFTGATE_AGENT_KERNEL_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/cli.h"
#include "nft/catalog.h"
#include "nft/error.h"
#include "nft/netlink.h"
#include "nft/snapshot.h"

struct kernel_session {
	struct nl_sock *nl;
	int dirfd;               /* the state directory, or -1 */
	struct nl_netns_id ns;   /* the socket's namespace; all zero when the kernel cannot
				  * name it (SO_NETNS_COOKIE: 5.14) */
	bool has_ns;
	int lock_fd;             /* holds the table's lock (nft/statedir.h), or -1 */
};

/* Opens the socket, probes the kernel, opens (creating if missing) the state directory and
 * takes the table's lock in it, so that no two nftgates change the table through it at
 * once; while `nftgate run` holds it, apply and rollback are refused (-EBUSY): they would
 * fight the daemon (docs/daemon.md). Returns 0, or -errno with e describing what failed;
 * the session is then closed. */
int kernel_session_open(const struct cli *c, struct kernel_session *ks, struct nft_error *e);

/* Releases what kernel_session_open acquired; safe on a zeroed or failed session. */
void kernel_session_close(struct kernel_session *ks);

/* Writes the committed record of content (borrowed) as of genid, for the namespace ns
 * names, into the state directory dirfd. Returns 0, or -errno with e. */
int kernel_session_save_record(int dirfd, const struct nl_netns_id *ns,
			       const struct snapshot *content, uint32_t genid, struct nft_error *e);

/* After a commit that is proven: the table now holds content (borrowed), as of genid, the
 * generation the commit produced. Writes the committed record (docs/rollback.md). Best
 * effort: without it the next apply dumps the table, which is only slower; a failure is a
 * note on stderr. Nothing is written when the namespace cannot be named. */
void kernel_session_record(const struct kernel_session *ks, const struct snapshot *content,
			   uint32_t genid);

/* The catalog of the table snap holds, for kernel_session_forget_flows(): NULL when it is
 * not a table nftgate can read element by element (its marks are not ours to judge) or
 * memory ran out (the cleanup is then skipped, which only lets flows time out). */
struct catalog *kernel_session_catalog(const struct snapshot *snap);

/* After a commit that took the table from before to after (either may be NULL: nothing to
 * do): deletes the UDP conntrack entries of the endpoints it removed or re-addressed
 * (nft/conntrack.h) and prints "conntrack: N UDP flows to removed backends deleted" when
 * it deleted any. Best effort: a failure is a warning on stderr, never the commit's. */
void kernel_session_forget_flows(const struct kernel_session *ks, const struct catalog *before,
				 const struct catalog *after);

/* The counterpart of kernel_session_record: the committed record of table in the state
 * directory dirfd, when it was written for that table in the network namespace and boot ns
 * names (the socket's, nl_netns_id()). NULL when there is none, or it cannot be read or
 * decoded, or it is another table's, boot's or namespace's, and when dirfd is -1 or ns is
 * NULL (the namespace cannot be named): any of these only means a dump of the table. The
 * snapshot is the caller's to free; whether the kernel is still at its generation is the
 * caller's to check (snapshot_take_from_record). */
struct snapshot *kernel_session_load_record(int dirfd, const struct nl_netns_id *ns,
					    const char *table);

#endif
