/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixed set of named maps and sets in our table, the elements a ruleset puts in each,
 * and its counter objects. One enumeration of each feeds the nft text (render.c), the
 * netlink batch (build.c) and the mapping of a refused element back to its listener
 * (build.c), so they cannot differ.
 */
#ifndef NFTGATE_NFT_SETS_H
#define NFTGATE_NFT_SETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/layout.h"

enum set_index {
	SET_LISTEN_ANY4, SET_LISTEN_ANY6, SET_LISTEN_ADDR4, SET_LISTEN_ADDR6,
	SET_SLOT_ANY4, SET_SLOT_ANY6, SET_SLOT_ADDR4, SET_SLOT_ADDR6,
	SET_ENDPOINT4, SET_ENDPOINT6,
	SET_SHARE_CONN, SET_SHARE_REJECT, SET_SHARE_TRAFFIC, SET_SHARE_MASQ,
	/* share mark -> its route's counter; last, so the ids of the sets above stay as they
	 * were before routes had counters */
	SET_ROUTE_CONN, SET_ROUTE_REJECT, SET_ROUTE_TRAFFIC,
	SET__COUNT,
};

/* How nft 1.0.6 itself encodes `type <text_type>` for this set (ids from nft's datatype.h,
 * byte orders and typeof markers as nft writes them into the set's userdata). */
struct set_def {
	const char *name;
	const char *text_type;  /* "inet_service : verdict" */
	bool is_set;            /* `set`, not `map` */
	uint32_t flags;         /* NFT_SET_MAP / NFT_SET_OBJECT */
	uint32_t key_type, key_len;
	uint32_t data_type, data_len; /* data_type 0: none */
	uint32_t obj_type;      /* NFT_OBJECT_COUNTER for objref maps, else 0 */
	uint32_t key_order;     /* nft's byteorder enum: 0 invalid (concat), 1 host, 2 big */
	int data_order;         /* -1: not written */
	bool key_concat, data_concat;
};

extern const struct set_def set_defs[SET__COUNT];

/* One element, as both the text and the batch need it. Pointers are valid only during the
 * callback. */
struct set_elem {
	uint8_t key[40];
	uint32_t key_len;
	uint8_t data[24];
	uint32_t data_len;      /* 0: no data (set, verdict or objref) */
	const char *chain;      /* verdict maps: goto target */
	const char *objref;     /* objref maps: counter name */
	const char *comment;    /* NULL: none */
	size_t listener;        /* the plan listener it serves */
	const struct lay_share *share; /* NULL when the element serves a whole listener */
	char text[512];         /* the element in nft syntax */
};

typedef int (*set_elem_cb)(const struct set_elem *el, void *data);

/* Calls cb for every element of set s, in batch order; stops at and returns the first
 * non-zero result. Elements of SET_SHARE_MASQ exist only when rs->masquerade. */
int set_foreach(const struct ruleset *rs, enum set_index s, set_elem_cb cb, void *data);

/* Number of elements set_foreach() would produce. */
size_t set_count(const struct ruleset *rs, enum set_index s);

/* Counter object names of a share ("s<id>_<tag>_conn", 31 bytes at most): kind 0 conn,
 * 1 rej, 2 traffic. */
void share_counter_name(const struct lay_share *sh, int kind, char *buf, size_t len);
extern const char *const share_counter_kinds[3];
bool share_has_counter(const struct lay_share *sh, int kind);

/* Counter object names of a route ("r<id>_<tag>_conn", ...), same kinds. */
void route_counter_name(const struct lay_route *rt, int kind, char *buf, size_t len);
bool route_has_counter(const struct lay_route *rt, int kind);

/* One counter object of a ruleset. Pointers are valid only during the callback. */
struct counter_obj {
	char name[32];
	const char *comment;
	uint32_t index;          /* the share's index, or the route's when sub >= 3 */
	int sub;                 /* the kind (0 conn, 1 rej, 2 traffic) of a share, kind + 3 of a route */
};

typedef int (*counter_cb)(const struct counter_obj *c, void *data);

/* Calls cb for every counter object of rs: the shares' then the routes', in batch order;
 * stops at and returns the first non-zero result. Feeds both the text and the batch. */
int counter_foreach(const struct ruleset *rs, counter_cb cb, void *data);

/* The pick chain of (kind, modulus): "pick_any4_10". */
void pick_chain_name(enum lay_kind k, uint32_t modulus, char *buf, size_t len);

#endif
