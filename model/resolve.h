/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): a pure, deterministic function from a store of objects to the forwarding plan
 * and the status set (reference/gateway-api.md §4.4). The same objects in any order give
 * the same plan and status. No I/O, no globals, no clock.
 */
#ifndef NFTGATE_MODEL_RESOLVE_H
#define NFTGATE_MODEL_RESOLVE_H

#include <stddef.h>

#include "diag.h"
#include "objects.h"
#include "plan.h"
#include "status.h"

struct resolve_opts {
	const char *controller_name;        /* default DEFAULT_CONTROLLER when NULL */
	const char *const *claimed_classes; /* --gateway-class: claim these class names when no
					       GatewayClass object of that name exists */
	size_t n_claimed_classes;
	struct diags *diags;                /* when set, input errors only resolution can see
					       are appended here, located (a backendRef with more
					       than PLAN_MAX_SHARE_ENDPOINTS endpoints); the plan
					       and status are made all the same, the share of such
					       a backendRef rejected */
	struct diags *warnings;             /* when set, what status reports as a route's
					       failure is appended here too, located: a parentRef
					       that does not attach (at the route) and a backendRef
					       that does not resolve (at the backendRef), so that
					       a command can name the file and line; the plan and
					       status do not depend on it */
};

/* Borrows s and o. On success returns 0 and sets *ret_plan and *ret_status (caller frees
 * with plan_free() and status_set_free()); on failure returns -ENOMEM and sets nothing. */
int resolve(const struct store *s, const struct resolve_opts *o, struct plan **ret_plan,
	    struct status_set **ret_status);

#endif
