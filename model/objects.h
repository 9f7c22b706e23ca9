/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed objects nftgate reads: the whole data model in one header.
 *
 * Every object is decoded from a manifest with CRD/API-server defaults already applied
 * (reference/gateway-api.md §5.4), so nothing downstream ever sees an "unset" field that
 * has a default. Strings are NUL-terminated, owned by the object and freed by store_free().
 * Optional strings that are absent are NULL; present-but-empty strings are "".
 */
#ifndef NFTGATE_MODEL_OBJECTS_H
#define NFTGATE_MODEL_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_GROUP "gateway.networking.k8s.io"
#define DEFAULT_CONTROLLER "nftgate.io/agent"

/* Where an object (or a field of it) came from, for error messages and status. */
struct src_loc {
	const char *file; /* borrowed from the store's interned file names; "-" for stdin */
	unsigned line;    /* 1-based; 0 when unknown */
};

struct label {
	char *key;
	char *value;
};

struct labels {
	struct label *v;
	size_t n;
};

/* Common metadata. namespace is NULL for cluster-scoped kinds and "default" when a
 * namespaced object omits it (what kubectl apply would do). */
struct meta {
	char *name;
	char *namespace;
	int64_t generation;   /* metadata.generation; 1 when absent (a new object's value) */
	int64_t created;      /* metadata.creationTimestamp as Unix seconds; INT64_MAX when absent */
	char *created_text;   /* the timestamp as written, NULL when absent */
	struct labels labels;
	char *api_version;    /* as written, e.g. "gateway.networking.k8s.io/v1" */
	struct src_loc loc;   /* the line of the document's first key */
};

enum kind {
	KIND_GATEWAY_CLASS,
	KIND_GATEWAY,
	KIND_TCP_ROUTE,
	KIND_UDP_ROUTE,
	KIND_REFERENCE_GRANT,
	KIND_SERVICE,
	KIND_ENDPOINT_SLICE,
	KIND_NAMESPACE,
	KIND__COUNT,
};

const char *kind_name(enum kind k); /* "Gateway", ... */

struct gateway_class {
	struct meta m;
	char *controller_name; /* spec.controllerName */
};

/* {group, kind} of a route kind; group is "" for the core group. */
struct route_group_kind {
	char *group;
	char *kind;
};

enum selector_op { SEL_IN, SEL_NOT_IN, SEL_EXISTS, SEL_DOES_NOT_EXIST };

struct selector_requirement {
	char *key;
	enum selector_op op;
	char **values;
	size_t n_values;
};

/* metav1.LabelSelector. An empty selector ({}) matches everything. */
struct label_selector {
	struct labels match_labels;
	struct selector_requirement *exprs;
	size_t n_exprs;
};

enum from_namespaces { FROM_SAME, FROM_ALL, FROM_SELECTOR };

struct listener {
	char *name;
	uint16_t port;
	char *protocol;             /* as written: "TCP", "HTTP", "example.com/foo", ... */
	char *hostname;             /* NULL when absent */
	bool has_tls;               /* a tls block was present */
	enum from_namespaces from;  /* default FROM_SAME */
	struct label_selector *selector; /* NULL when absent (FROM_SELECTOR then matches nothing) */
	struct route_group_kind *kinds;  /* allowedRoutes.kinds, group defaulted; may be empty */
	size_t n_kinds;
	struct src_loc loc;
};

struct gateway_address {
	char *type;  /* default "IPAddress" */
	char *value; /* may be "" (Gateway API allows an empty value for some types) */
};

struct gateway {
	struct meta m;
	char *class_name;
	struct listener *listeners;
	size_t n_listeners;
	struct gateway_address *addresses;
	size_t n_addresses;
};

/* A route's parentRef with defaults applied: group, kind, namespace are never NULL. */
struct parent_ref {
	char *group;      /* default GATEWAY_GROUP */
	char *kind;       /* default "Gateway" */
	char *namespace;  /* default: the route's namespace */
	char *name;
	char *section;    /* NULL when absent */
	uint16_t port;    /* 0 when absent */
	bool namespace_set, group_set, kind_set; /* as written, for echoing the ref in status */
};

struct backend_ref {
	char *group;      /* default "" */
	char *kind;       /* default "Service" */
	char *name;
	char *namespace;  /* default: the route's namespace */
	uint16_t port;    /* 0 when absent (allowed only for non-Service kinds) */
	uint32_t weight;  /* default 1, 0..1000000 */
	struct src_loc loc;
};

struct route_rule {
	char *name; /* NULL when absent */
	struct backend_ref *refs;
	size_t n_refs;
};

/* A TCPRoute or a UDPRoute: the two kinds have one shape (reference/gateway-api.md §5.2). */
struct route {
	struct meta m;
	enum kind kind;   /* KIND_TCP_ROUTE or KIND_UDP_ROUTE */
	struct parent_ref *parents;
	size_t n_parents;
	struct route_rule *rules;
	size_t n_rules;
};

struct grant_from {
	char *group;
	char *kind;
	char *namespace;
};

struct grant_to {
	char *group;
	char *kind;
	char *name; /* NULL = every object of that group/kind in the grant's namespace */
};

struct reference_grant {
	struct meta m;
	struct grant_from *from;
	size_t n_from;
	struct grant_to *to;
	size_t n_to;
};

struct service_port {
	char *name;      /* "" when unnamed (allowed only for a single-port Service) */
	char *protocol;  /* default "TCP" */
	uint16_t port;
};

struct service {
	struct meta m;
	char *type;      /* default "ClusterIP"; "ExternalName" is refused as a backend */
	struct service_port *ports;
	size_t n_ports;
};

enum address_type { ADDR_IPV4, ADDR_IPV6, ADDR_FQDN };

struct slice_port {
	char *name;      /* "" when absent */
	char *protocol;  /* default "TCP" */
	int32_t port;    /* -1 when absent ("all ports", unusable for DNAT) */
};

/* Endpoint conditions with EndpointSlice semantics: absent ready/serving mean true,
 * absent terminating means false. */
struct slice_endpoint {
	char **addresses;
	size_t n_addresses;
	bool ready;
	bool serving;
	bool terminating;
};

struct endpoint_slice {
	struct meta m;
	char *service_name;  /* label kubernetes.io/service-name; NULL when absent */
	enum address_type address_type;
	struct slice_port *ports;
	size_t n_ports;
	struct slice_endpoint *endpoints;
	size_t n_endpoints;
};

struct namespace_obj {
	struct meta m; /* labels; kubernetes.io/metadata.name is added when missing */
};

/* One input the reader read (a file, or "-" for stdin) and what it held, so that a command
 * can say what was read ("a.yaml: 2 Services, 3 documents of other kinds"). */
struct store_input {
	char *name;                  /* owned; every src_loc.file from this input points here */
	size_t objects[KIND__COUNT]; /* objects added to the store, by enum kind */
	size_t other;                /* documents of kinds nftgate does not read, skipped */
	size_t refused;              /* objects and documents refused with an error */
};

/* The store's object arrays, for code that walks each of them once (the reader, store views):
 * one per kind, except that routes holds both route kinds. */
enum store_array {
	ARR_CLASSES,
	ARR_GATEWAYS,
	ARR_ROUTES,
	ARR_GRANTS,
	ARR_SERVICES,
	ARR_SLICES,
	ARR_NAMESPACES,
	ARR__COUNT,
};

/* The array that holds objects of kind k. */
enum store_array kind_array(enum kind k);

/* The kind of obj, an element of array a (a route says its own). */
enum kind store_object_kind(enum store_array a, const void *obj);

/*
 * Everything read from the inputs. Arrays grow as objects are added; the store owns
 * every object and every string in it.
 *
 * Borrowing rule: adding objects (store_load_*) may move the arrays, so a pointer to an
 * object (&s->routes[i]) is valid only until the next load; hold an index to keep one
 * longer. Strings and the arrays inside an object never move while the store lives.
 * resolve() borrows the store only for its call: the plan and status it returns own copies.
 */
struct store {
	struct gateway_class *classes;   size_t n_classes;
	struct gateway *gateways;        size_t n_gateways;
	struct route *routes;            size_t n_routes; /* TCPRoutes and UDPRoutes */
	struct reference_grant *grants;  size_t n_grants;
	struct service *services;        size_t n_services;
	struct endpoint_slice *slices;   size_t n_slices;
	struct namespace_obj *namespaces; size_t n_namespaces;
	size_t cap[ARR__COUNT];          /* allocated length of each array above, by store_array */
	struct store_input *inputs;      size_t n_inputs, cap_inputs; /* in reading order */
};

struct store *store_new(void);
/* Frees the store and everything in it; accepts NULL; returns NULL. */
struct store *store_free(struct store *s);

#endif
