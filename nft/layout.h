/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel layout, computed from a plan without touching the kernel: which counters,
 * map elements and pick chains `table inet <name>` holds (docs/layout.md explains why).
 *
 * Every new connection to a listener gets a connection mark (ct mark):
 *   bits 31..12  share id: one per backendRef share (or per listener that rejects as a
 *                whole, or per conflicting map key);
 *   bits 11..0   the endpoint's index within that share and family, or 0xfff = reset.
 * Ids and indexes never move while their object exists, given the previous assignment
 * (layout_build_from(), nft/ids.h), so counters and the marks of established connections
 * keep their meaning.
 * A listener's new connection draws a slot uniformly in [0, S) (numgen); slot_* maps the
 * slot to a mark, endpoint* maps the mark to the pod address and port. Weights become slot
 * counts (layout_apportion()).
 *
 * Counters are named objects per share and per route; a route's counters are reached from
 * the same share part of the mark (route_* maps: share -> its route's counter), so no bits
 * of the mark are spent on the route.
 */
#ifndef NFTGATE_NFT_LAYOUT_H
#define NFTGATE_NFT_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "nft/error.h"

#define LAYOUT_SLOT_CAP 4096u            /* slots per listener and family, at most */
#define LAYOUT_SHARE_SHIFT 12
#define LAYOUT_INDEX_MASK 0xfffu
#define LAYOUT_SHARE_MASK 0xfffff000u
#define LAYOUT_REJECT 0xfffu             /* endpoint index meaning "reject": a TCP reset,
					 * for UDP an ICMP port-unreachable */
#define LAYOUT_MAX_SHARE_ENDPOINTS 4095u /* per share and family: indexes 0..0xffe */
#define LAYOUT_MAX_SHARES 0xfffffu       /* share ids are 1..2^20-1 */
#define LAYOUT_MAX_ROUTES 0xfffffu       /* route ids are 1..2^20-1 */
#define LAY_NO_ROUTE ((size_t)-1)

/* The four listener maps: address family x (every local address | spec.addresses). */
enum lay_kind { LAY_ANY4, LAY_ANY6, LAY_ADDR4, LAY_ADDR6, LAY__KINDS };

struct lay_share {
	uint32_t id;                    /* 1..LAYOUT_MAX_SHARES; mark = id << 12 | index */
	uint64_t tag;                   /* in its counters' names: a hash of key (nft/ids.h) */
	char *key;                      /* its identity: "ref\n<listener>\n<route key>\n<rule>\n
					 * <ref>\n<backend>", "listener\n<listener>" or
					 * "conflict\n<kind>\n<addr or *>\n<port>" (UDP: then
					 * "\nudp"); route key as in lay_route */
	size_t listener;                /* index in the plan */
	const struct plan_share *share; /* borrowed; NULL: the listener rejects as a whole, or
					 * (listener = the first of them) a conflict */
	uint16_t *ep_index;             /* per share->endpoints[i]: its index within its family
					 * (mark = id << 12 | ep_index[i]); NULL when the share
					 * has no endpoints or rejects */
	char *comment;                  /* route and backend (or listener and reason) */
	bool forwards;                  /* some endpoint: has conn and traffic counters */
	bool rejects;                   /* some slot resets: has a reject counter */
	size_t route;                   /* index in ruleset.routes; LAY_NO_ROUTE when share is
					 * NULL (the listener rejects as a whole) */
};

/* A route that carries some listener's traffic: its counters sum its shares (of every
 * listener it carries). A listener's protocol tells its routes' kind: a TCP listener is
 * carried by a TCPRoute, a UDP one by a UDPRoute, so a TCPRoute and a UDPRoute of one
 * namespace/name are two routes. */
struct lay_route {
	uint32_t id;                    /* 1..LAYOUT_MAX_ROUTES: stable (nft/ids.h) */
	uint64_t tag;                   /* in its counters' names: a hash of key */
	const char *name;               /* "ns/name", borrowed from the plan */
	uint8_t protocol;               /* IPPROTO_TCP or IPPROTO_UDP: its listeners' */
	char *key;                      /* its identity: "ns/name" for a TCPRoute (what it
					 * always was), "udproute\nns/name" for a UDPRoute */
	char *comment;                  /* "route ns/name" / "udproute ns/name" */
	bool forwards;                  /* some share forwards: has conn and traffic counters */
	bool rejects;                   /* some share resets: has a reject counter */
};

/* An element of endpoint4 / endpoint6: mark -> pod address . pod port. */
struct lay_endpoint {
	uint32_t mark;
	uint8_t addr[16];               /* network order; 4 bytes used for IPv4 */
	uint16_t port;                  /* host order */
	size_t share;                   /* index in ruleset.shares */
};

/* An element of listen_<kind> (-> goto pick_<kind>_<n_slots>) and, with it, n_slots
 * elements of slot_<kind> (key . slot -> mark). The key is [address .] protocol . port. */
struct lay_entry {
	uint8_t addr[16];               /* LAY_ADDR*: the destination address */
	uint8_t protocol;               /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;                  /* host order */
	size_t listener;                /* index in the plan */
	size_t first_share, n_shares;   /* the listener's shares in ruleset.shares */
	uint32_t n_slots;
	const uint32_t *marks;          /* n_slots marks, owned by the ruleset */
	char *comment;                  /* listener and route */
	bool conflict;                  /* listeners conflict on this key: one reset slot of
					 * the conflict share first_share */
};

struct ruleset {
	char *table;
	bool masquerade;
	const struct plan *plan;        /* borrowed */
	struct lay_share *shares;       /* in plan order, then the conflicts' */
	size_t n_shares;
	struct lay_route *routes;       /* in order of first appearance in the plan */
	size_t n_routes;
	struct lay_endpoint *endpoints[2]; /* [0] IPv4, [1] IPv6, sorted by mark */
	size_t n_endpoints[2];
	struct lay_entry *entries[LAY__KINDS]; /* sorted by (addr, port, protocol) */
	size_t n_entries[LAY__KINDS];
	uint32_t *moduli[LAY__KINDS];   /* distinct n_slots, ascending: one pick chain each */
	size_t n_moduli[LAY__KINDS];
	uint32_t **slot_tables;         /* owned storage behind lay_entry.marks */
	size_t n_slot_tables;
	size_t n_plan_endpoints;        /* distinct (share, endpoint) pairs, for the summary */
};

struct lay_ids;

/* Builds the layout of plan p (borrowed: keep it alive while the ruleset lives) for
 * `table inet <table>`, numbering from prev (borrowed; NULL: a fresh assignment): every
 * share, route and endpoint prev holds that p still has keeps its id, tag and index, new
 * ones take ids no survivor holds (nft/ids.h). Pure and deterministic: the same plan and
 * prev give the same ruleset. Listeners are TCP or UDP; listeners claiming the same
 * protocol and port (and address) conflict: that key resets. Returns 0 and sets *ret,
 * -ENOMEM, or -EINVAL / -E2BIG with e naming the listener (too many endpoints or shares, a
 * bad address family or protocol). */
int layout_build_from(const struct plan *p, const char *table, bool masquerade,
		      const struct lay_ids *prev, struct ruleset **ret, struct nft_error *e);

/* layout_build_from() with a fresh assignment (prev NULL). */
int layout_build(const struct plan *p, const char *table, bool masquerade,
		 struct ruleset **ret, struct nft_error *e);

/* Frees the ruleset; accepts NULL; returns NULL. */
struct ruleset *ruleset_free(struct ruleset *rs);

/* Turns weights into slot counts. Group i has weight w[i] and n[i] >= 1 units (endpoints,
 * or 1 for a reject share); each unit of group i must get probability w[i]/sum(w)/n[i].
 * Writes the slot count of every unit (groups in order, sum(n) entries) to counts and the
 * total to *ret_total. Exact (the smallest such total) when that total is <= cap; otherwise
 * the total is cap and each unit gets its quota rounded by largest remainder (error below
 * one slot). Returns 0, or -EINVAL when every weight is 0 or cap is 0. */
int layout_apportion(const uint32_t *w, const uint32_t *n, size_t k, uint32_t cap,
		     uint32_t *counts, uint32_t *ret_total);

/* "any4", "any6", "addr4", "addr6". */
const char *lay_kind_name(enum lay_kind k);

/* "tcp" or "udp", as nft names them (inet_proto); "?" for anything else. */
const char *lay_proto_name(uint8_t protocol);

/* The family of a kind: 4 or 6. */
static inline int lay_kind_v6(enum lay_kind k) { return k == LAY_ANY6 || k == LAY_ADDR6; }
static inline int lay_kind_addr(enum lay_kind k) { return k == LAY_ADDR4 || k == LAY_ADDR6; }

#endif
