/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `table inet <name>` holds, in a form two tables can be compared in:
 *   - the shape: table flags, set definitions, the fixed chains and their rules' bytecode,
 *     as one text; two tables of different shape cannot be turned into each other by
 *     element updates (the daemon then replaces the table);
 *   - the contents: counter objects (name, comment, values), pick chains (name and rule
 *     bytecode), and the elements of every named set, each list sorted by its key.
 * A catalog is built from a ruleset (what we want the kernel to hold) or from a snapshot
 * (what it holds: a dump, the committed record, or a batch turned into a snapshot), so the
 * daemon can diff either against the other (nft/delta.h).
 */
#ifndef NFTGATE_NFT_CATALOG_H
#define NFTGATE_NFT_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/layout.h"
#include "nft/sets.h"
#include "nft/snapshot.h"

/* One set element, as the kernel compares and stores it. Pointers borrow the catalog. */
struct cat_elem {
	const uint8_t *key, *data;
	uint8_t key_len, data_len;
	bool jump;               /* verdict maps: goto ref */
	const char *ref;         /* goto target chain or objref counter; "" when none */
	const char *comment;     /* "" when none */
};

/* The elements of one named set, packed in one arena and sorted by key. */
struct cat_set {
	uint8_t *arena;
	size_t len, cap;
	uint32_t *off;           /* element i starts at arena + off[i] */
	size_t n, off_cap;
};

struct cat_counter {
	char *name;
	char *comment;           /* "" when none */
	uint64_t packets, bytes;
};

struct cat_chain {
	char *name;              /* a pick chain: "pick_any4_10" */
	char *rules;             /* its rules' bytecode, one line per expression */
};

struct catalog {
	char *table;             /* the table's name */
	bool present;            /* false: the table does not exist */
	char *shape;             /* everything element updates cannot change */
	struct cat_counter *counters;  /* sorted by name */
	size_t n_counters;
	struct cat_chain *picks;       /* sorted by name */
	size_t n_picks;
	struct cat_set sets[SET__COUNT];
};

/* The catalog of what rs puts in the kernel. Borrows rs. Returns 0 or -ENOMEM. */
int catalog_from_ruleset(const struct ruleset *rs, struct catalog **ret);

/* The catalog of the table a snapshot holds (s->present false: an absent table). Returns
 * 0, -ENOMEM, or -EINVAL with e when a message cannot be parsed or names a set that is
 * not one of ours (that table is not one nftgate can update element by element). */
int catalog_from_snapshot(const struct snapshot *s, struct catalog **ret,
			  struct nft_error *e);

struct catalog *catalog_free(struct catalog *c);

/* Adds to c the pick chains `from` holds and c does not: after an element-level commit,
 * the chains it left in place (delta.h) are still in the kernel. Returns 0 or -ENOMEM. */
int catalog_keep_picks(struct catalog *c, const struct catalog *from);

/* Element i of set s. */
void cat_set_get(const struct cat_set *s, size_t i, struct cat_elem *ret);

/* Orders two elements by key (the kernel's notion of "the same element"). */
int cat_elem_cmp_key(const struct cat_elem *a, const struct cat_elem *b);

/* True when a and b (both from cat_set_get()) are the same element in every respect the
 * kernel keeps. */
bool cat_elem_same(const struct cat_elem *a, const struct cat_elem *b);

/* The counter called name, or NULL. */
const struct cat_counter *catalog_counter(const struct catalog *c, const char *name);

/* Writes "<set>: <element in nft-like text>" for logs and error reports. */
void cat_elem_describe(enum set_index s, const struct cat_elem *el, char *buf, size_t len);

#endif
