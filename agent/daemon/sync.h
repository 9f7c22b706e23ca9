/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeps `table inet <name>` equal to the layout of the latest plan, for `nftgate run`:
 * takes over what the kernel already holds at start (adoption: nothing is flushed, no id
 * moves), sends only element changes (nft/delta.h), replaces the table only when element
 * changes cannot do it, and repairs what another program changed (drift).
 *
 * What the kernel holds is known as a catalog plus the generation right after our last
 * commit or look: every batch is fenced with that generation, so a transaction built on a
 * stale picture is refused (ERESTART) instead of applied; the picture is then read again.
 */
#ifndef NFTGATE_AGENT_DAEMON_SYNC_H
#define NFTGATE_AGENT_DAEMON_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "nft/catalog.h"
#include "nft/conntrack.h"
#include "nft/error.h"
#include "nft/ids.h"
#include "nft/layout.h"
#include "nft/netlink.h"

/* What one call sent. */
struct sync_result {
	size_t msgs, bytes;      /* 0, 0: nothing needed changing */
	bool replaced;           /* a full replace, not element changes */
	bool unwatched;          /* it was sent with notifications muted (sync.ev): whether
				  * another program committed meanwhile is the caller's to check
				  * (sync_current()) */
	double ms;               /* building and committing */
	unsigned attempts;       /* transactions built: more than 1 when the generation moved
				  * under one (ERESTART) and the table was read again */
	char summary[512];       /* the changes, for the log */
	/* after the commit: the UDP conntrack entries of endpoints it removed or moved,
	 * deleted (nft/conntrack.h); a failure there leaves the commit standing */
	size_t stale_marks;      /* marks whose entries were looked for */
	struct ct_result ct;
	int ct_err;              /* 0, or the cleanup's -errno, ct_msg saying what failed */
	char ct_msg[256];
};

struct seams;

struct sync {
	struct nl_sock *nl;      /* borrowed */
	int dirfd;               /* the state directory (borrowed), -1: none */
	char *table;
	bool masquerade;
	struct plan *plan;       /* committed, owned; NULL before the first */
	struct ruleset *rs;      /* layout of plan, owned */
	struct catalog *cat;     /* what the kernel holds as far as we know, owned */
	struct lay_ids *ids;     /* ids found in the table at adoption, until the first plan */
	uint32_t genid;          /* the generation cat describes */
	bool known;              /* cat and genid are current */
	bool gc_pending;         /* pick chains no element uses wait for sync_gc() */
	char start_snapshot[256]; /* the rollback point saved at adoption, "" when none */
	struct nft_events *ev;   /* borrowed, may be NULL: muted around a full replace */
	bool deaf;               /* joining ev's group again after it failed */
	const struct seams *seams; /* test seams around each send (agent/seams.h), borrowed;
				    * NULL but in tests/faults */
};

/* A sync for table over nl (both borrowed, as is dirfd). Reads nothing yet. */
int sync_new(struct nl_sock *nl, int dirfd, const char *table, bool masquerade,
	     struct sync **ret);
struct sync *sync_free(struct sync *s);

/* Other programs' transactions that left our table alone (their notifications say so)
 * moved the ruleset to generation gen: what we know of the table holds for gen too, so the
 * next batch is fenced with it and not refused. Ignored unless gen is newer and our picture
 * current. */
void sync_advance(struct sync *s, uint32_t gen);

/* Reads what the kernel holds (the committed record when its generation proves it current,
 * else a dump), keeps its ids for the first plan, and saves it in the state directory as
 * the rollback point of this run. Returns 0, 1 when all but the save succeeded (e says
 * why; the agent can still program the kernel), or -errno with e. */
int sync_adopt(struct sync *s, struct nft_error *e);

/* Makes the kernel hold the layout of p (takes ownership, also on failure). On success
 * the plan is committed. On failure the kernel holds what it held (a refusal) or its state
 * is unknown (then the next call reads it again); the previous plan stays committed.
 * Returns 0, -EINVAL with e when the plan cannot be laid out (too many shares...), or the
 * kernel's -errno with e. */
int sync_apply(struct sync *s, struct plan *p, struct sync_result *res, struct nft_error *e);

/* Deletes the pick chains the committed layout no longer uses (a separate transaction:
 * kernels before 6.2 refuse it in the one that removed their last reference). */
int sync_gc(struct sync *s, struct sync_result *res, struct nft_error *e);

/* Reads the table and, when it differs from what was committed, puts the committed layout
 * back (element changes, or a full replace when the table is gone or reshaped).
 * res->msgs is 0 when nothing differed; res->summary names what was repaired. */
int sync_repair(struct sync *s, struct sync_result *res, struct nft_error *e);

/* The generation the kernel has now equals the one our picture describes. */
bool sync_current(struct sync *s);

/* Writes the committed record (nft/snapshot.h) so that the next start adopts without a
 * dump; only when the kernel's generation proves the table is what we committed. */
int sync_save_record(struct sync *s, struct nft_error *e);

#endif
