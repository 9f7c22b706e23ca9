/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chains of our table and their rules. Each rule template carries its nft text and
 * the builder of its bytecode, side by side, so render.c and build.c emit the same rule;
 * the bytecode is what nft 1.0.6 emits for that text (the golden files under tests/golden).
 */
#ifndef NFTGATE_NFT_RULES_H
#define NFTGATE_NFT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/layout.h"

struct nftnl_rule;

enum rule_tmpl {
	R_JUMP_LISTENERS,
	R_MASQUERADE,
	R_TRAFFIC,
	R_LISTEN_ADDR4, R_LISTEN_ADDR6, R_LISTEN_ANY4, R_LISTEN_ANY6,
	R_PICK_NUMGEN, R_PICK_SLOT, R_PICK_GOTO,
	R_NAT_REJECT, R_NAT_DNAT, R_NAT_RESET,
};

struct rule_def {
	enum rule_tmpl tmpl;
	enum lay_kind kind;     /* R_PICK_*: which listener map */
	uint32_t modulus;       /* R_PICK_NUMGEN */
	bool v6;                /* R_NAT_*, R_PICK_GOTO */
	uint8_t protocol;       /* R_JUMP_LISTENERS, R_NAT_*: IPPROTO_TCP or IPPROTO_UDP */
	char text[256];
};

struct chain_def {
	char name[32];
	const char *type;       /* "nat" / "filter"; NULL for a regular chain */
	uint32_t hook;          /* NF_INET_* */
	int32_t prio;
	struct rule_def rules[6];
	size_t n_rules;
};

struct chain_list {
	struct chain_def *v;
	size_t n;
};

/* The chains of rs in creation order. Returns 0 or -ENOMEM; free with chain_list_clear(). */
int chain_list_build(const struct ruleset *rs, struct chain_list *ret);
void chain_list_clear(struct chain_list *cl);

/* Appends the bytecode of d to r (the rule's table and chain are the caller's). Set ids
 * (set_ids[i], 0 = none) let lookups find sets created in the same batch. Returns 0 or
 * -ENOMEM. */
int rule_build_exprs(struct nftnl_rule *r, const struct rule_def *d, const uint32_t *set_ids);

#endif
