/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From resolved listeners to the plan (reference/gateway-api.md §4.4 step 6, §3.3): every
 * TCP and UDP listener of a programmable Gateway forwards to its winning route's first rule or
 * rejects, so its port never falls through to a local process (§7 trap 6).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/resolve_internal.h"

static int route_key_cmp(const void *k, const void *e)
{
	return route_cmp(k, ((const struct route_state *)e)->r);
}

static const struct route_state *route_state_of(const struct rctx *c, const struct route *r)
{
	return bsearch(r, c->routes, c->n_routes, sizeof(*c->routes), route_key_cmp);
}

/* One share per backendRef of the carrying rule, in spec order. */
static int shares_build(struct rctx *c, const struct route_state *rs, struct plan_listener *pl)
{
	const struct route_rule *rule = &rs->r->rules[0];
	int r;

	pl->shares = calloc_array(rule->n_refs, sizeof(*pl->shares));
	if (!pl->shares)
		return -ENOMEM;
	for (size_t j = 0; j < rule->n_refs; j++) {
		pl->shares[j].rule = 0;
		pl->shares[j].ref = (unsigned)j;
		pl->n_shares = j + 1;
		r = share_build(c, &rule->refs[j], &rs->refs[0][j], &pl->shares[j]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int listener_action(struct rctx *c, const struct lst_state *ls, struct plan_listener *pl)
{
	const struct route_state *rs;

	pl->action = PLAN_REJECT;
	if (ls->conflicted) {
		pl->reject_reason = "ProtocolConflict";
		return 0;
	}
	rs = ls->winner ? route_state_of(c, ls->winner) : NULL;
	if (!rs || !rs->r->n_rules || !rs->refs) {
		pl->reject_reason = "NoRoute";
		return 0;
	}
	pl->action = PLAN_FORWARD;
	if (asprintf(&pl->route, "%s/%s", rs->r->m.namespace, rs->r->m.name) < 0) {
		pl->route = NULL;
		return -ENOMEM;
	}
	return shares_build(c, rs, pl);
}

static int listener_plan(struct rctx *c, const struct lst_state *ls, struct plan_listener *pl)
{
	const struct gw_state *gs = ls->gw;
	const struct gateway *g = gs->g;

	pl->protocol = ls->proto;
	pl->port = ls->l->port;
	if (asprintf(&pl->key, "%s/%s/%s", g->m.namespace, g->m.name, ls->l->name) < 0) {
		pl->key = NULL;
		return -ENOMEM;
	}
	if (asprintf(&pl->gateway, "%s/%s", g->m.namespace, g->m.name) < 0) {
		pl->gateway = NULL;
		return -ENOMEM;
	}
	pl->listener = strdup(ls->l->name);
	if (!pl->listener)
		return -ENOMEM;
	if (gs->n_addrs) {
		pl->addrs = calloc(gs->n_addrs, sizeof(*pl->addrs));
		if (!pl->addrs)
			return -ENOMEM;
		memcpy(pl->addrs, gs->addrs, gs->n_addrs * sizeof(*pl->addrs));
		pl->n_addrs = gs->n_addrs;
	}
	return listener_action(c, ls, pl);
}

static int plan_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct plan_listener *)a)->key, ((const struct plan_listener *)b)->key);
}

static size_t plan_count(const struct rctx *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_gws; i++)
		for (size_t j = 0; c->gws[i].usable && j < c->gws[i].g->n_listeners; j++)
			n += c->gws[i].ls[j].proto != 0;
	return n;
}

int plan_build(struct rctx *c, struct plan **ret)
{
	struct plan *p = calloc(1, sizeof(*p));
	size_t n = plan_count(c);
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->v = calloc_array(n, sizeof(*p->v));
	if (!p->v)
		goto out;
	for (size_t i = 0; i < c->n_gws; i++) {
		const struct gw_state *gs = &c->gws[i];

		for (size_t j = 0; gs->usable && j < gs->g->n_listeners; j++) {
			if (!gs->ls[j].proto)
				continue;
			p->n++;
			r = listener_plan(c, &gs->ls[j], &p->v[p->n - 1]);
			if (r < 0)
				goto out;
		}
	}
	qsort(p->v, p->n, sizeof(*p->v), plan_key_cmp);
	*ret = p;
	p = NULL;
	r = 0;
out:
	plan_free(p);
	return r;
}
