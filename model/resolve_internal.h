/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to resolve(): the working state shared by its stages (index, listeners, routes,
 * backends, output). Every lookup goes through sorted pointer arrays and bsearch, so the
 * whole resolution is O(n log n) in the number of objects and independent of input order.
 */
#ifndef NFTGATE_MODEL_RESOLVE_INTERNAL_H
#define NFTGATE_MODEL_RESOLVE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/array.h"
#include "model/plan.h"
#include "model/resolve.h"
#include "model/status.h"

/* A message builder; on allocation failure it raises the context's sticky error instead of
 * returning one, so that the many condition builders stay linear. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (caller owns it, never NULL unless oom) and resets b. */
char *sbuf_take(struct sbuf *b);

struct gw_state;

struct lst_state {
	const struct listener *l;
	struct gw_state *gw;
	uint8_t proto;         /* IPPROTO_TCP or IPPROTO_UDP, the protocols nftgate serves; else 0 */
	enum kind route_kind;  /* with proto: the one kind it can carry, TCPRoute or UDPRoute */
	bool kinds_invalid;    /* allowedRoutes.kinds lists a kind this listener cannot carry */
	bool admits_kind;      /* route_kind is among the supported kinds */
	bool conflicted;
	int32_t attached;      /* Accepted routes attached here */
	size_t last_route;     /* 1 + index of the last route counted, to count a route once */
	const struct route *winner;     /* oldest attached route: the one that carries traffic */
	struct label_selector *sel;     /* owned: l->selector with sorted values (selector_sorted) */
};

enum gw_addr_problem { ADDR_OK, ADDR_NOT_USABLE, ADDR_NOT_ASSIGNED };

struct gw_state {
	const struct gateway *g;
	bool unsupported_address;      /* some spec.addresses type is not IPAddress */
	enum gw_addr_problem addr_problem;
	char *addr_message;            /* owned; why the addresses were refused, else NULL */
	struct plan_addr *addrs;       /* parsed IPAddress values; none = every local address */
	size_t n_addrs;
	bool usable;                   /* in scope and its addresses can be programmed */
	struct lst_state *ls;          /* parallel to g->listeners */
};

/* The outcome of one backendRef: reason NULL when it resolves. */
struct ref_result {
	const char *reason;            /* static ResolvedRefs reason */
	char *message;                 /* owned, NULL when fine */
	const struct service *svc;
	const struct service_port *sp;
};

struct parent_result {
	bool in_scope;                 /* names a Gateway this controller serves */
	bool accepted;
	const char *reason;
	char *message;                 /* owned */
};

struct route_state {
	const struct route *r;
	bool has_status;
	struct parent_result *parents; /* parallel to r->parents */
	struct ref_result **refs;      /* [rule][ref] */
};

/* One permission a ReferenceGrant in `ns` gives (§3.4): routes of kind `from` in from_ns may
 * reference the Service `name` there (NULL: every Service). Flattened so that a check is a
 * lookup, not a scan of every grant in the namespace. Strings borrowed from the store. */
struct grant_perm {
	enum kind from;
	const char *ns;
	const char *from_ns;
	const char *name;
};

struct rctx {
	const struct store *s;
	const char *controller;
	const struct resolve_opts *o;
	bool oom;

	/* indexes: sorted pointer arrays */
	const struct gateway_class **classes; size_t n_classes;   /* by name */
	const struct service **svcs; size_t n_svcs;               /* by ns/name */
	const struct endpoint_slice **slices; size_t n_slices;    /* by ns, service, name */
	struct grant_perm *perms; size_t n_perms;                 /* by ns, from_ns, name */
	const struct namespace_obj **nss; size_t n_nss;           /* by name */
	struct labels *ns_labels;  /* parallel to nss: each one's labels sorted by key (shallow) */

	struct gw_state *gws; size_t n_gws;   /* in-scope Gateways, by ns/name */
	struct route_state *routes; size_t n_routes; /* every route, by kind, ns/name */
};

/* resolve_index.c */
int ns_name_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b);
int index_build(struct rctx *c);
void index_free(struct rctx *c);
const struct gateway_class *find_class(const struct rctx *c, const char *name);
const struct service *find_service(const struct rctx *c, const char *ns, const char *name);
const struct namespace_obj *find_namespace(const struct rctx *c, const char *name);
/* The labels of Namespace `name` sorted by key, or NULL when there is no such object. */
const struct labels *namespace_labels(const struct rctx *c, const char *name);
/* The slices labelled for Service ns/name: sets *first and returns how many follow. */
size_t find_slices(const struct rctx *c, const char *ns, const char *svc,
		   const struct endpoint_slice *const **first);
/* Whether some grant in ns lets routes of kind `from` in from_ns reference Service ns/name. */
bool grant_permits(const struct rctx *c, enum kind from, const char *ns, const char *from_ns,
		   const char *name);
struct gw_state *find_gateway(const struct rctx *c, const char *ns, const char *name);
/* Creation order used for route precedence: oldest, then namespace/name. */
int route_older_cmp(const struct route *a, const struct route *b);
/* The order of c->routes (and of route status): kind, then namespace/name. */
int route_cmp(const struct route *a, const struct route *b);
/* "TCP" for a TCPRoute, "UDP" for a UDPRoute: the protocol its listeners and backends have. */
const char *route_protocol(enum kind k);

/* selector.c */
/* sel must come from selector_sorted() and l be sorted by key (namespace_labels()): keys
 * and values are looked up, not scanned, since every route is checked against them. */
bool selector_matches(const struct label_selector *sel, const struct labels *l);
/* A copy of sel whose In/NotIn value lists are sorted; shallow (strings borrowed from sel).
 * Borrows sel; NULL only for out-of-memory. */
struct label_selector *selector_sorted(const struct label_selector *sel);
/* Frees a selector_sorted() copy; accepts NULL; returns NULL. */
struct label_selector *selector_sorted_free(struct label_selector *s);
/* Labels of a namespace by name; a namespace with no object only has its name label. */
bool namespace_selected(const struct rctx *c, const struct label_selector *sel,
			const char *ns);

/* resolve_listeners.c */
bool class_is_ours(const struct rctx *c, const char *class_name);
/* Whether allowedRoutes.kinds entry k names the kind ls can carry (ls->proto set). */
bool listener_kind_valid(const struct lst_state *ls, const struct route_group_kind *k);
int gateways_build(struct rctx *c);
int conflicts_mark(struct rctx *c);
void gateways_free(struct rctx *c);
bool listener_admits_namespace(const struct rctx *c, const struct lst_state *ls,
			       const char *route_ns);

/* resolve_routes.c */
int routes_build(struct rctx *c);
void routes_free(struct rctx *c);

/* resolve_backends.c */
void ref_resolve(struct rctx *c, const struct route *r, const struct backend_ref *b,
		 struct ref_result *out);
/* Fills share (weight, backend, endpoints or reject) for one backendRef. */
int share_build(struct rctx *c, const struct backend_ref *b, const struct ref_result *rr,
		struct plan_share *share);

/* resolve_plan.c, resolve_status.c */
int plan_build(struct rctx *c, struct plan **ret);
int status_build(struct rctx *c, struct status_set **ret);
void condition_set(struct rctx *c, struct condition *cond, const char *type,
		   enum cond_status st, const char *reason, int64_t gen, char *message);

#endif
