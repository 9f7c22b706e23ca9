/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status a Gateway API controller must report, as computed by resolve(): one entry per
 * GatewayClass, Gateway, TCPRoute and UDPRoute this controller owns or is referenced by.
 * lastTransitionTime is not here: it is the writer's clock, added when status is emitted.
 */
#ifndef NFTGATE_MODEL_STATUS_H
#define NFTGATE_MODEL_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "objects.h"

#define STATUS_MAX_CONDITIONS 8

enum cond_status { COND_TRUE, COND_FALSE, COND_UNKNOWN };

const char *cond_status_name(enum cond_status s); /* "True", "False", "Unknown" */

struct condition {
	const char *type;     /* static, e.g. "Accepted" */
	enum cond_status status;
	const char *reason;   /* static, e.g. "NotAllowedByListeners" */
	char *message;        /* owned, never NULL */
	int64_t observed_generation;
};

struct listener_status {
	char *name;
	struct route_group_kind *supported_kinds; /* owned; {GATEWAY_GROUP, TCPRoute or UDPRoute} */
	size_t n_supported_kinds;
	int32_t attached_routes;
	struct condition conds[STATUS_MAX_CONDITIONS];
	size_t n_conds;
};

/* One entry per (parentRef, controller) of a route. ref is a full copy with group, kind and
 * namespace filled in, as conformance requires. */
struct parent_status {
	struct parent_ref ref;
	char *controller_name;
	struct condition conds[STATUS_MAX_CONDITIONS];
	size_t n_conds;
};

struct object_status {
	enum kind kind;          /* KIND_GATEWAY_CLASS, KIND_GATEWAY, KIND_TCP_ROUTE, KIND_UDP_ROUTE */
	char *api_version;       /* of the object as read */
	char *name;
	char *namespace;         /* NULL for GatewayClass */
	int64_t generation;
	struct condition conds[STATUS_MAX_CONDITIONS];
	size_t n_conds;
	struct listener_status *listeners; /* Gateway only, in spec order */
	size_t n_listeners;
	struct parent_status *parents;     /* routes only, in spec.parentRefs order */
	size_t n_parents;
	struct gateway_address *addresses; /* Gateway only: status.addresses (owned copies) */
	size_t n_addresses;
};

/* Ordered: GatewayClasses, then Gateways, then TCPRoutes, then UDPRoutes, each by
 * namespace/name. */
struct status_set {
	struct object_status *v;
	size_t n;
};

/* Frees everything; accepts NULL; returns NULL. */
struct status_set *status_set_free(struct status_set *s);

#endif
