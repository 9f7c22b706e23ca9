/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeping rollback history true: a snapshot becomes history only once the transaction it
 * precedes is known to have committed (docs/rollback.md, "History is what committed").
 * Two things can leave that unknown: a process that dies between saving its snapshot and
 * making it history (the snapshot stays pending), and a transaction whose replies were lost.
 * Both are settled the same way: the ruleset generation (the kernel bumps it once per
 * commit) and, when it moved, the table itself.
 */
#ifndef NFTGATE_AGENT_HISTORY_H
#define NFTGATE_AGENT_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/kernel_session.h"
#include "nft/error.h"
#include "nft/netlink.h"
#include "nft/snapshot.h"

enum outcome {
	OUTCOME_NOT_COMMITTED,   /* the generation never moved: nothing committed */
	OUTCOME_COMMITTED,       /* the table holds exactly what the transaction sent */
	OUTCOME_UNKNOWN,         /* something committed, and the table is not what was sent */
};

/* The outcome of a transaction fenced with generation fence that was sent, but whose
 * replies prove neither a commit nor an abort. intended (borrowed) is what it commits: the
 * table's content as it would be after it. The generation still at fence: not committed.
 * Else the table is dumped and compared with intended. Returns 0 and sets *ret and
 * *ret_gen (the generation read), or -errno with e when the kernel could not be asked. */
int outcome_find(struct nl_sock *nl, uint32_t fence, const struct snapshot *intended,
		 enum outcome *ret, uint32_t *ret_gen, struct nft_error *e);

/* Whether a snapshot taken in namespace `taken` comes from another namespace than `here`:
 * in the same boot, with both cookies known and different. (A cookie is never reused
 * within a boot; across boots nothing names a namespace, and before 5.14 nothing at all.) */
bool history_foreign(const struct nl_netns_id *taken, const struct nl_netns_id *here);

/* Settles the pending snapshots of table that no running nftgate holds: each was saved by
 * an apply that did not live to make it history. Not committed (the generation never
 * moved past the snapshot's, or the table is still as the snapshot has it): removed.
 * Else the table changed after it was taken: it becomes history. One of another boot is
 * removed (its outcome can no longer be known); one of another namespace is left to it.
 * Prints a note for each. Returns 0, or -errno with e (the kernel or the directory
 * failed); a pending snapshot then stays for the next run. */
int history_settle_pending(const struct kernel_session *ks, const char *state_dir,
			   const char *table, struct nft_error *e);

#endif
