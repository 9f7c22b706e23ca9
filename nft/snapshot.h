/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots of our table for rollback: the kernel's own dump of `table inet <name>`
 * (table, chains, counter objects with values, sets, elements, rules) kept as the raw
 * NEW* messages, in replay order, with a versioned, checksummed file encoding. Restoring
 * replays them with handles stripped (docs/rollback.md).
 */
#ifndef NFTGATE_NFT_SNAPSHOT_H
#define NFTGATE_NFT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/build.h"
#include "nft/error.h"
#include "nft/netlink.h"

#define SNAPSHOT_MAGIC "NFTGSNAP"
#define SNAPSHOT_VERSION 2u       /* 2 added the network namespace; 1 is still read */
#define SNAPSHOT_MAX_BYTES (1024u * 1024 * 1024)

struct snap_msg {
	uint32_t len;
	uint8_t *data;           /* a whole netlink message, header included */
};

struct snapshot {
	char *table;
	bool present;            /* false: the table did not exist */
	uint32_t genid;          /* the ruleset generation the dump saw */
	int64_t taken;           /* Unix seconds */
	struct nl_netns_id ns;   /* where it was taken; boot "" and cookie 0 when unknown
				  * (a version 1 file; cookie 0 alone: a kernel before 5.14) */
	struct snap_msg *msgs;   /* NEWTABLE, NEWCHAIN*, NEWOBJ*, NEWSET*, NEWSETELEM*, NEWRULE* */
	size_t n, cap;
};

struct snapshot *snapshot_new(const char *table, bool present);
struct snapshot *snapshot_free(struct snapshot *s);

/* Copies one message into s (no check of its type). Returns 0 or -ENOMEM. */
int snapshot_add_msg(struct snapshot *s, const struct nlmsghdr *nlh);

/* Dumps `table inet <table>` with a consistent view: the generation is read before and
 * after the dumps and they are retried when it moved. Sets *ret and *ret_genid (the
 * generation the snapshot is of, to fence the next batch with). Refuses (-EOPNOTSUPP with
 * e) what it could not replay. Returns 0 or -errno with e. */
int snapshot_take(struct nl_sock *nl, const char *table, struct snapshot **ret,
		  uint32_t *ret_genid, struct nft_error *e);

/* Checks that every message can be replayed (-EOPNOTSUPP with e naming the object when
 * not: anonymous sets, owned tables, chain bindings, unparseable messages). */
int snapshot_check(const struct snapshot *s, struct nft_error *e);

/* The counter objects' values, sorted by name, for carrying into a re-created table. */
int snapshot_counters(const struct snapshot *s, struct counter_values *ret);

/* Appends the replay of s (after batch_add_delete_table()) to nb. Returns 0 or -errno with e. */
int snapshot_add_restore(const struct snapshot *s, struct nft_batch *nb, struct nft_error *e);

/* File encoding: see docs/rollback.md. encode returns 0 or -ENOMEM; decode returns 0 or
 * -EINVAL / -ENOMEM with e (bad magic, version, checksum, truncation). */
int snapshot_encode(const struct snapshot *s, uint8_t **ret_buf, size_t *ret_len);
int snapshot_decode(const uint8_t *buf, size_t len, struct snapshot **ret, struct nft_error *e);

/* Whether a and b hold the same table (present or not, and the same table, chains,
 * objects, sets, elements and rules), whichever of them came from a dump and which from a
 * batch as sent; counter values are not compared (nft/catalog.h does the work; defined in
 * nft/delta.c). A message that does not parse, or names a set nftgate does not write, makes
 * them not the same. Returns 0 and sets *ret_same, or -ENOMEM. */
int snapshot_same_content(const struct snapshot *a, const struct snapshot *b, bool *ret_same);

/* "NEWCHAIN prerouting" for error reports. */
void snapshot_describe_msg(const struct snapshot *s, size_t i, char *buf, size_t len);

/* ---- the committed record (docs/rollback.md, "The committed record") ----
 * What a successful apply or rollback just committed to the table, and the generation right
 * after that commit, in the netns it was committed to. While the kernel's generation still
 * equals it, nothing in that netns's ruleset has changed, so the table holds exactly that
 * content and only counter values can differ. */

#define RECORD_MAGIC "NFTGCOMM"
#define RECORD_VERSION 1u

/* The content a full-replace batch commits (its NEWTABLE after the DELTABLE, chains,
 * counters, sets, elements and rules), as a snapshot of generation genid. Borrows nb.
 * Returns 0 or -ENOMEM. */
int snapshot_from_batch(const struct nft_batch *nb, uint32_t genid, struct snapshot **ret);

/* The snapshot of the table as snapshot_take() would give it, built from the record rec
 * (borrowed) and the current values of the recorded counter objects (one GETOBJ each: a
 * GETOBJ dump is quadratic). Returns -ESTALE, without touching e, when it cannot vouch for
 * the result (the generation is not rec->genid or moved meanwhile, a counter is missing or
 * a reply was lost): take a full dump then. */
int snapshot_take_from_record(struct nl_sock *nl, const struct snapshot *rec,
			      struct snapshot **ret, uint32_t *ret_genid, struct nft_error *e);

/* Record file: magic, version, boot id, netns cookie, a header checksum, then the
 * snapshot's own encoding with genid as its generation. encode returns 0 or -ENOMEM;
 * decode returns 0 or -EINVAL / -ENOMEM with e. */
int record_encode(const struct nl_netns_id *id, const struct snapshot *s, uint32_t genid,
		  uint8_t **ret_buf, size_t *ret_len);
int record_decode(const uint8_t *buf, size_t len, struct nl_netns_id *ret_id,
		  struct snapshot **ret, struct nft_error *e);

#endif
