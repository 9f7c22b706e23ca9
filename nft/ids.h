/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ids that never move (docs/layout.md, "Ids"): which share id, route id and endpoint index
 * each object of a layout holds, and how the next layout keeps them.
 *
 * An assignment (struct lay_ids) maps
 *   a share's identity  -> its share id (the mark's bits 31..12) and tag,
 *   a route's identity  -> its route id and tag,
 *   a share's endpoint (family, address, port) -> its index (the mark's bits 11..0).
 * layout_build_from() given a previous assignment keeps the id, tag and index of every
 * share, route and endpoint that still exists, gives new ones ids nothing surviving holds,
 * and frees those of removed ones. So a share's mark, the marks of its surviving endpoints
 * and its counters' names (hence their values, carried by name) stay while it exists.
 *
 * Identity: a share is its key (lay_share.key: the listener, carrying route, rule and
 * backendRef index and backend; or the listener that rejects as a whole; or the map key
 * two listeners conflict on), a route its lay_route.key ("namespace/name" for a TCPRoute,
 * "udproute\nnamespace/name" for a UDPRoute). The kernel holds no key: every
 * counter object is named s<id>_<tag>_<kind> or r<id>_<tag>_<kind> (nft/sets.c), the tag
 * being a 64-bit hash of the key, and the endpoint maps give each mark's address and port.
 * That is enough to rebuild the assignment from a dump of the table alone.
 *
 * Tags are unique among the objects of one layout. A tag is the first of IDS_TAG_DEPTH
 * hashes of the key (each with its own seed) that no surviving or previous object holds,
 * so two keys whose first hashes collide still get different tags (and names), and a
 * survivor is recognised by the deepest of its hashes the previous assignment holds
 * (docs/layout.md explains the one case this cannot tell apart).
 */
#ifndef NFTGATE_NFT_IDS_H
#define NFTGATE_NFT_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "nft/error.h"

struct lay_ids;
struct ruleset;
struct snapshot;

/* The assignment rs holds: every share and route that has a counter object (the others
 * appear nowhere in the kernel: no mark, no name) and their endpoints. Keys are copied,
 * so rs may be freed first. Returns 0 and sets *ret, or -ENOMEM. */
int lay_ids_from_ruleset(const struct ruleset *rs, struct lay_ids **ret);

/* The assignment a snapshot of our table holds (a dump, the committed record or
 * snapshot_from_batch()): ids and tags from the counter objects' names, endpoint indexes
 * from endpoint4/endpoint6. Objects named otherwise are not ours and are skipped, so a
 * table written before ids were kept gives an empty assignment. Entries the table
 * contradicts (one id with two tags, one tag with two ids, one endpoint with two indexes
 * or two endpoints with one index) are dropped: their objects get new ids. Keys are not in
 * the kernel, so survivors are found by tag. An absent table gives an empty assignment.
 * Returns 0 and sets *ret, -ENOMEM, or -EBADMSG with e (may be NULL) naming a counter or
 * endpoint-map message that is cut short or libnftnl cannot parse. Borrows s. */
int lay_ids_from_snapshot(const struct snapshot *s, struct lay_ids **ret, struct nft_error *e);

/* Frees ids; accepts NULL; returns NULL. */
struct lay_ids *lay_ids_free(struct lay_ids *ids);

/* The assignment as text, one line per share ("share <id> <tag> v4 <addr>:<port>=<index>
 * ...") then per route ("route <id> <tag>"), sorted by id, keys left out: two assignments
 * are the same exactly when their texts are. For tests and debugging. Returns 0 and sets
 * *ret_text (caller frees), or -ENOMEM. */
int lay_ids_format(const struct lay_ids *ids, char **ret_text);

/* ---- the allocator, for nft/layout.c (and the tests of its collision handling) ---- */

#define IDS_TAG_DEPTH 4 /* hashes tried per key; a fifth would need four 64-bit collisions */
#define IDS_NONE ((size_t)-1)

enum ids_space { IDS_SHARES, IDS_ROUTES, IDS__SPACES };

/* One object to number. ids_req_init() fills key, start and tags; ids_assign() the rest. */
struct ids_req {
	const char *key;                /* identity, borrowed */
	uint32_t start;                 /* where a new id's search starts, 1..max */
	uint64_t tags[IDS_TAG_DEPTH];   /* its candidate tags, first preferred */
	uint32_t id;                    /* out: 1..max */
	uint64_t tag;                   /* out: one of tags, or its previous tag */
	size_t prev;                    /* out: its entry in the previous assignment (for
					 * ids_assign_endpoints()), IDS_NONE when new */
};

/* Sets q->key, q->start and the candidate tags of key (FNV-1a 64 seeded per depth, then
 * MurmurHash3's fmix64; docs/layout.md). */
void ids_req_init(struct ids_req *q, const char *key, uint32_t start);

/* Numbers v[0..n) in space sp, ids 1..max: survivors of prev (NULL: none) keep their id
 * and tag; the others, in key order, take the first candidate tag no survivor, previous
 * object or earlier new one holds, and the first id from start (linear probing) that no
 * survivor or earlier new one holds, avoiding ids of removed objects while others are
 * free. Deterministic: the result depends on the set of keys, not on their order in v.
 * Returns 0, -E2BIG (n > max), -EEXIST (every candidate tag of some key taken) or -ENOMEM;
 * on failure v's outputs are unspecified. */
int ids_assign(const struct lay_ids *prev, enum ids_space sp, struct ids_req *v, size_t n,
	       uint32_t max);

/* Indexes for the n endpoints eps (one share's, any order of families) written to
 * ret_index: within each family, an endpoint that entry prev_share of prev (IDS_NONE: a
 * new share) holds keeps its index, the others take the lowest free ones in the order of
 * eps. Returns 0, or -E2BIG when a family has more than LAYOUT_MAX_SHARE_ENDPOINTS. */
int ids_assign_endpoints(const struct lay_ids *prev, size_t prev_share,
			 const struct plan_endpoint *eps, size_t n, uint16_t *ret_index);

#endif
