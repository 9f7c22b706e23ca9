/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ruleset -> one netlink transaction (libnftnl objects serialised into a batch), with a side
 * table from each message's index to what it creates and which listener or route it
 * concerns, so that a kernel refusal is reported in the user's terms.
 */
#ifndef NFTGATE_NFT_BUILD_H
#define NFTGATE_NFT_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/error.h"
#include "nft/layout.h"
#include "nft/netlink.h"

struct nftnl_batch;

/* Counter values to carry into re-created counter objects (from the table being replaced),
 * sorted by name. */
struct counter_value {
	char name[64];
	uint64_t packets, bytes;
};

struct counter_values {
	struct counter_value *v;
	size_t n;
};

void counter_values_clear(struct counter_values *cv);

/* What a batch message is, for error reports. W_FAULT is the message apply_opts.fail_at
 * inserts (a fault a test asks for); W_ABORT is the probe's final message, which the kernel
 * refuses so that the transaction is checked and then aborted. */
enum batch_what {
	W_BEGIN, W_END, W_TABLE_ENSURE, W_TABLE_DELETE, W_TABLE, W_CHAIN, W_OBJ, W_SET, W_ELEMS,
	W_RULE, W_FAULT, W_ABORT, W_REPLAY,
};

struct batch_msg {
	uint8_t what;            /* enum batch_what */
	uint8_t sub;             /* W_OBJ: counter kind; W_ELEMS: set index */
	uint32_t index;          /* chain / share / rule / first element / replayed message */
	uint32_t index2;         /* W_RULE: rule within the chain */
	const struct nlmsghdr *nlh; /* inside the batch pages */
};

struct nft_batch {
	struct nftnl_batch *b;
	uint32_t *fence;         /* BEGIN's NFNL_BATCH_GENID payload, or NULL (no fence) */
	uint32_t seq_base;       /* message i has seq seq_base + i */
	struct batch_msg *msgs;
	size_t n, cap;
	size_t bytes;
	const struct ruleset *rs; /* borrowed, NULL for a replay batch */
	void *chains;            /* struct chain_list, for rule descriptions */
	char table[260];
	int fail_at;
	bool abort;
	/* W_REPLAY messages: how to name snapshot message `index` in error reports */
	void (*describe_replay)(const void *ctx, uint32_t index, char *buf, size_t len);
	const void *replay_ctx;
};

struct apply_opts {
	const uint32_t *genid;   /* fence the batch with NFNL_BATCH_GENID; NULL: no fence */
	const struct counter_values *carry; /* may be NULL */
	int fail_at;             /* a test fault: insert a message the kernel refuses at this
				  * index (unit tests, tests/faults); -1 none */
	bool abort;              /* end with an invalid message: the kernel checks, then aborts */
	bool shape_only;         /* no counters, no elements: the table's shape, for catalogs
				  * (never sent) */
};

/* Builds the full-replace transaction of rs: BEGIN, ensure table, delete table, table,
 * chains, counters, sets, elements, rules, END. Borrows rs (keep it alive while the batch
 * lives). Returns 0 and sets *ret, or -ENOMEM with e. */
int batch_build_apply(const struct ruleset *rs, uint32_t seq_base, const struct apply_opts *o,
		      struct nft_batch **ret, struct nft_error *e);

/* Starts an empty batch for `table inet <table>` (BEGIN, fenced when genid) that the caller
 * fills with batch_add_*() and closes with batch_finish(). */
int batch_start(const char *table, uint32_t seq_base, const uint32_t *genid,
		struct nft_batch **ret);
/* Appends the ensure-exists NEWTABLE and the DELTABLE of our table. */
int batch_add_delete_table(struct nft_batch *nb);
/* Returns a buffer to build the next message into; then call batch_commit_msg(). */
void *batch_next_buf(struct nft_batch *nb);
int batch_commit_msg(struct nft_batch *nb, struct nlmsghdr *nlh, enum batch_what what,
		     uint32_t index);
int batch_finish(struct nft_batch *nb);
/* Sets the generation a fenced batch (batch_start() with a genid) commits against: a batch
 * built first and fenced just before it is sent leaves others the least time to move it. */
void batch_set_fence(struct nft_batch *nb, uint32_t genid);

struct nft_batch *batch_free(struct nft_batch *nb);

/* Describes the message a reply answers, in the user's terms: "element 3 of map
 * listen_any4 (listener default/gw/foo, route default/r)". */
void batch_describe(const struct nft_batch *nb, const struct nl_reply_err *re, char *buf,
		    size_t len);

/* Turns the acks of a sent batch into 0 (committed: no refusal, nothing lost, every message
 * ACKed) or -errno with e describing the first refusals (-EIO when the outcome is unknown).
 * ERESTART (generation changed) returns -ERESTART with a short message. */
int batch_outcome(const struct nft_batch *nb, const struct nl_acks *acks, struct nft_error *e);

/* Parts of a batch for element-level transactions (nft/delta.c). The chain and rule are
 * described by chain_index/rule_index in nb->chains, the counter by c->index/c->sub in
 * nb->rs; carry may be NULL. batch_elem_new returns NULL only for out of memory. */
struct chain_def;
struct rule_def;
struct counter_obj;
struct set_elem;
struct nftnl_set_elem;
int batch_add_chain(struct nft_batch *nb, const struct chain_def *c, uint32_t index);
int batch_add_rule(struct nft_batch *nb, const struct chain_def *c, const struct rule_def *d,
		   uint32_t chain_index, uint32_t rule_index);
int batch_add_counter(struct nft_batch *nb, const struct counter_obj *c,
		      const struct counter_values *carry);
struct nftnl_set_elem *batch_elem_new(const struct set_elem *el);

/* Every rule of rs as `nft --debug=netlink` prints it ("inet <table> <chain>" then the
 * expressions), for --debug=netlink and the golden tests. Caller frees *ret_text. */
int batch_debug_rules(const struct ruleset *rs, char **ret_text);

/* Every set definition of rs as nftnl_set_snprintf prints it, for the golden tests. */
int batch_debug_sets(const struct ruleset *rs, char **ret_text);

#endif
