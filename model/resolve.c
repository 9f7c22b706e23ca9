/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): the stages in the order of reference/gateway-api.md §4.4: index the objects,
 * pick our Gateways and their listeners, mark conflicts, attach routes and resolve their
 * backends, then derive the plan and the status from that one state.
 */
#include <errno.h>
#include <stdlib.h>

#include "model/resolve_internal.h"

static void rctx_free(struct rctx *c)
{
	routes_free(c);
	gateways_free(c);
	index_free(c);
}

int resolve(const struct store *s, const struct resolve_opts *o, struct plan **ret_plan,
	    struct status_set **ret_status)
{
	static const struct resolve_opts no_opts;
	struct rctx c = { .s = s, .o = o ? o : &no_opts };
	struct plan *p = NULL;
	struct status_set *st = NULL;
	int r;

	c.controller = c.o->controller_name ? c.o->controller_name : DEFAULT_CONTROLLER;
	r = index_build(&c);
	if (r < 0)
		goto out;
	r = gateways_build(&c);
	if (r < 0)
		goto out;
	r = conflicts_mark(&c);
	if (r < 0)
		goto out;
	r = routes_build(&c);
	if (r < 0)
		goto out;
	r = plan_build(&c, &p);
	if (r < 0)
		goto out;
	r = status_build(&c, &st);
	if (r < 0)
		goto out;
	*ret_plan = p;
	*ret_status = st;
	p = NULL;
	st = NULL;
out:
	plan_free(p);
	status_set_free(st);
	rctx_free(&c);
	return r;
}
