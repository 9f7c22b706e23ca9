/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The element-level transaction that turns the table a catalog describes (`have`) into the
 * one another describes (`want`): new counters and pick chains, element deletes and adds
 * in the named maps, removed counters. Nothing else in the table is touched, so every
 * connection whose share and endpoint survive keeps its mark, its NAT binding and its
 * counters (docs/layout.md, "Incremental updates").
 *
 * Pick chains that `want` no longer uses are left in place by delta_build(): on kernels
 * before 6.2 a chain cannot be deleted in the transaction that deletes the last vmap
 * element jumping to it (EBUSY). delta_build_gc() deletes them in a later transaction.
 */
#ifndef NFTGATE_NFT_DELTA_H
#define NFTGATE_NFT_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/build.h"
#include "nft/catalog.h"

struct delta_stats {
	size_t added[SET__COUNT], removed[SET__COUNT], changed[SET__COUNT];
	size_t counters_added, counters_removed;
	size_t chains_added, chains_removed;
	size_t stale_chains;     /* pick chains `want` does not use, left for delta_build_gc */
};

/* A built transaction and what its messages are, for error reports. */
struct delta {
	struct nft_batch *nb;    /* NULL when nothing differs */
	struct delta_stats st;
	char **what;             /* what[i] describes the W_REPLAY message with index i */
	size_t n_what, cap_what;
};

#define DELTA_NEEDS_REPLACE 1

/* Builds the transaction from have to want; want_rs is the ruleset want was built from
 * (borrowed: keep it and both catalogs alive while the delta lives). Returns 0 and sets
 * *ret (ret->nb NULL when the tables are equal), DELTA_NEEDS_REPLACE with e saying why when
 * element updates cannot do it (the table is absent, its shape differs, a counter's
 * comment changed), or -ENOMEM. The batch is fenced with genid when genid is not NULL. */
int delta_build(const struct catalog *have, const struct catalog *want,
		const struct ruleset *want_rs, uint32_t seq_base, const uint32_t *genid,
		struct delta **ret, struct nft_error *e);

/* The transaction deleting the pick chains `have` holds and `want` does not (ret->nb NULL
 * when there are none). Same contract as delta_build. */
int delta_build_gc(const struct catalog *have, const struct catalog *want,
		   uint32_t seq_base, const uint32_t *genid, struct delta **ret,
		   struct nft_error *e);

/* One line for logs: "endpoint4 +1 -0 ~0, slot_any4 +2 -2 ~0, counters +3 -0". */
void delta_stats_format(const struct delta_stats *st, char *buf, size_t len);

/* True when the two catalogs describe the same table (counter values aside); else writes
 * the first difference to why. */
bool catalog_same(const struct catalog *a, const struct catalog *b, char *why, size_t len);

struct delta *delta_free(struct delta *d);

#endif
