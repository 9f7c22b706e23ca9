/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attaching TCPRoutes and UDPRoutes to listeners (reference/gateway-api.md §2.2, §2.4, §4.4
 * steps 4-6): relevant listeners by sectionName/port, admission by protocol, kind and
 * namespace, and
 * the oldest attached route of each listener as the one that carries traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/resolve_internal.h"

static const char *from_name(enum from_namespaces f)
{
	return f == FROM_ALL ? "All" : f == FROM_SAME ? "Same" : "Selector";
}

/* Whether a listener refuses route r; appends why to `why`. A listener carries the kind of
 * its protocol only, so a UDPRoute is refused by TCP listeners and a TCPRoute by UDP ones. */
static bool listener_refuses(const struct rctx *c, const struct lst_state *ls,
			     const struct route *r, struct sbuf *why)
{
	const char *sep = why->len ? "; " : "", *kind = kind_name(r->kind);
	const char *route_ns = r->m.namespace;

	if (!ls->proto || ls->route_kind != r->kind) {
		sbuf_addf(why, "%slistener \"%s\" has protocol \"%s\", which cannot carry a %s",
			  sep, ls->l->name, ls->l->protocol, kind);
		return true;
	}
	if (!ls->admits_kind) {
		sbuf_addf(why, "%slistener \"%s\" does not allow kind %s (allowedRoutes.kinds)",
			  sep, ls->l->name, kind);
		return true;
	}
	if (!listener_admits_namespace(c, ls, route_ns)) {
		sbuf_addf(why, "%slistener \"%s\" does not allow routes from namespace \"%s\" "
			  "(allowedRoutes.namespaces.from: %s)", sep, ls->l->name, route_ns,
			  from_name(ls->l->from));
		return true;
	}
	return false;
}

/* Counts the route once per listener (§1.7) and keeps the oldest as winner (§2.4). */
static void attach(struct lst_state *ls, const struct route *r, size_t idx)
{
	if (ls->last_route == idx + 1)
		return;
	ls->last_route = idx + 1;
	ls->attached++;
	if (!ls->winner || route_older_cmp(r, ls->winner) < 0)
		ls->winner = r;
}

static bool relevant(const struct parent_ref *p, const struct listener *l)
{
	if (p->section && strcmp(p->section, l->name))
		return false;
	/* Port selects listeners on that port whatever their protocol; one that cannot carry
	 * the route's kind then refuses, giving NotAllowedByListeners as sectionName does
	 * (docs/status.md). */
	return !p->port || p->port == l->port;
}

static void no_matching_parent(const struct parent_ref *p, struct sbuf *b)
{
	sbuf_addf(b, "Gateway %s/%s has no listener", p->namespace, p->name);
	if (p->section)
		sbuf_addf(b, " named \"%s\"", p->section);
	if (p->section && p->port)
		sbuf_addf(b, " and");
	if (p->port)
		sbuf_addf(b, " on port %u", p->port);
}

static void accepted_message(const struct route *r, struct sbuf *names, struct sbuf *b)
{
	sbuf_addf(b, "attached to listener%s %s", strchr(names->s ? names->s : "", ',') ? "s" : "",
		  names->s ? names->s : "");
	/* §7 trap 15: the spec gives several v1alpha2 rules no meaning; the first one wins, as
	 * the oldest route wins among several on one listener. */
	if (r->n_rules > 1)
		sbuf_addf(b, "; only spec.rules[0] carries traffic, spec.rules[1..%zu] are ignored "
			  "(a %s rule has no matches to choose between rules)", r->n_rules - 1,
			  kind_name(r->kind));
}

/* One parentRef (§2.2): in scope only when it names a Gateway we serve. */
static void parent_attach(struct rctx *c, struct route_state *rs, size_t idx, size_t pi)
{
	const struct route *r = rs->r;
	const struct parent_ref *p = &r->parents[pi];
	struct parent_result *pr = &rs->parents[pi];
	struct sbuf why = { 0 }, names = { 0 }, msg = { 0 };
	size_t n_relevant = 0, n_admitted = 0;
	struct gw_state *gs;

	if (strcmp(p->group, GATEWAY_GROUP) || strcmp(p->kind, "Gateway"))
		return;
	gs = find_gateway(c, p->namespace, p->name);
	if (!gs)
		return;
	pr->in_scope = rs->has_status = true;
	for (size_t i = 0; i < gs->g->n_listeners; i++) {
		struct lst_state *ls = &gs->ls[i];

		if (!relevant(p, ls->l))
			continue;
		n_relevant++;
		if (listener_refuses(c, ls, r, &why))
			continue;
		n_admitted++;
		sbuf_addf(&names, "%s\"%s\"", names.len ? ", " : "", ls->l->name);
		attach(ls, r, idx);
	}
	if (!n_relevant) {
		pr->reason = "NoMatchingParent";
		no_matching_parent(p, &msg);
	} else if (!n_admitted) {
		pr->reason = "NotAllowedByListeners";
		sbuf_addf(&msg, "%s", why.s ? why.s : "");
	} else {
		pr->accepted = true;
		pr->reason = "Accepted";
		accepted_message(r, &names, &msg);
	}
	pr->message = sbuf_take(&msg);
	if (!pr->message || why.oom || names.oom)
		c->oom = true;
	free(why.s);
	free(names.s);
}

static int refs_resolve(struct rctx *c, struct route_state *rs)
{
	const struct route *r = rs->r;

	rs->refs = calloc_array(r->n_rules, sizeof(*rs->refs));
	if (!rs->refs)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct route_rule *rule = &r->rules[i];

		rs->refs[i] = calloc_array(rule->n_refs, sizeof(**rs->refs));
		if (!rs->refs[i])
			return -ENOMEM;
		for (size_t j = 0; j < rule->n_refs; j++)
			ref_resolve(c, r, &rule->refs[j], &rs->refs[i][j]);
	}
	return 0;
}

static int rt_ptr_cmp(const void *a, const void *b)
{
	return route_cmp(*(const struct route *const *)a, *(const struct route *const *)b);
}

/* The located warning for a parentRef of ours that does not attach (resolve_opts.warnings):
 * a parentRef has no line of its own, so it is located at the route. */
static void parent_warn(struct rctx *c, const struct route_state *rs, size_t i)
{
	const struct route *r = rs->r;
	char object[400], field[48];

	snprintf(object, sizeof(object), "%s %s/%s", kind_name(r->kind), r->m.namespace,
		 r->m.name);
	snprintf(field, sizeof(field), "spec.parentRefs[%zu]", i);
	if (diags_add(c->o->warnings, r->m.loc.file, r->m.loc.line, object, field,
		      "%s (Accepted=False, reason %s)", rs->parents[i].message,
		      rs->parents[i].reason) < 0)
		c->oom = true;
}

static int route_state(struct rctx *c, struct route_state *rs, size_t idx)
{
	rs->parents = calloc_array(rs->r->n_parents, sizeof(*rs->parents));
	if (!rs->parents)
		return -ENOMEM;
	for (size_t i = 0; i < rs->r->n_parents; i++) {
		const struct parent_result *p = &rs->parents[i];

		parent_attach(c, rs, idx, i);
		if (c->o->warnings && p->in_scope && !p->accepted && p->message && p->reason)
			parent_warn(c, rs, i);
	}
	/* Backends are resolved once per route (§4.4 step 5), and only for routes we report. */
	return rs->has_status ? refs_resolve(c, rs) : 0;
}

int routes_build(struct rctx *c)
{
	const struct store *s = c->s;
	const struct route **v = calloc_array(s->n_routes, sizeof(*v));
	int r = -ENOMEM;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_routes; i++)
		v[i] = &s->routes[i];
	qsort(v, s->n_routes, sizeof(*v), rt_ptr_cmp);
	c->routes = calloc_array(s->n_routes, sizeof(*c->routes));
	if (!c->routes)
		goto out;
	c->n_routes = s->n_routes;
	for (size_t i = 0; i < s->n_routes; i++) {
		c->routes[i].r = v[i];
		r = route_state(c, &c->routes[i], i);
		if (r < 0)
			goto out;
	}
	r = c->oom ? -ENOMEM : 0;
out:
	free(v);
	return r;
}

void routes_free(struct rctx *c)
{
	for (size_t i = 0; i < c->n_routes; i++) {
		struct route_state *rs = &c->routes[i];

		for (size_t j = 0; rs->parents && j < rs->r->n_parents; j++)
			free(rs->parents[j].message);
		free(rs->parents);
		for (size_t j = 0; rs->refs && j < rs->r->n_rules; j++) {
			for (size_t k = 0; rs->refs[j] && k < rs->r->rules[j].n_refs; k++)
				free(rs->refs[j][k].message);
			free(rs->refs[j]);
		}
		free(rs->refs);
	}
	free(c->routes);
}
