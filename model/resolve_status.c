/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From resolved state to the status set: GatewayClass, Gateway and listener conditions
 * (reference/gateway-api.md §1.1, §1.5-1.7) and route parent entries (§4.1, §4.2).
 * Every condition and reason written here is listed, with its rule, in docs/status.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/resolve_internal.h"

/* Takes ownership of message; a NULL message is an allocation failure. */
void condition_set(struct rctx *c, struct condition *cond, const char *type,
		   enum cond_status st, const char *reason, int64_t gen, char *message)
{
	cond->type = type;
	cond->status = st;
	cond->reason = reason;
	cond->observed_generation = gen;
	cond->message = message;
	if (!message)
		c->oom = true;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *dupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static void add_cond(struct rctx *c, struct condition *conds, size_t *n, const char *type,
		     enum cond_status st, const char *reason, int64_t gen, char *message)
{
	condition_set(c, &conds[(*n)++], type, st, reason, gen, message);
}

static int object_init(struct object_status *o, enum kind k, const struct meta *m)
{
	o->kind = k;
	o->generation = m->generation;
	o->api_version = strdup(m->api_version ? m->api_version : "");
	o->name = strdup(m->name);
	o->namespace = m->namespace ? strdup(m->namespace) : NULL;
	if (!o->api_version || !o->name || (m->namespace && !o->namespace))
		return -ENOMEM;
	return 0;
}

/* §1.1: every class naming our controller is Accepted. */
static int class_status(struct rctx *c, const struct gateway_class *gc, struct object_status *o)
{
	int r = object_init(o, KIND_GATEWAY_CLASS, &gc->m);

	if (r < 0)
		return r;
	add_cond(c, o->conds, &o->n_conds, "Accepted", COND_TRUE, "Accepted", gc->m.generation,
		 dupf("handled by %s", c->controller));
	return 0;
}

static bool listener_valid(const struct lst_state *ls)
{
	return ls->proto && !ls->conflicted;
}

static char *invalid_kinds_message(const struct lst_state *ls)
{
	const struct listener *l = ls->l;
	struct sbuf b = { 0 };

	for (size_t i = 0; i < l->n_kinds; i++) {
		const struct route_group_kind *k = &l->kinds[i];

		if (listener_kind_valid(ls, k))
			continue;
		sbuf_addf(&b, "%sallowedRoutes.kinds[%zu] {group: \"%s\", kind: \"%s\"}", b.len ? ", " : "",
			  i, k->group, k->kind);
	}
	sbuf_addf(&b, ": a %s listener can only carry %s/%s", l->protocol, GATEWAY_GROUP,
		  kind_name(ls->route_kind));
	return sbuf_take(&b);
}

static int supported_kinds(const struct lst_state *ls, struct listener_status *st)
{
	/* §1.3: invalid kinds are left out; a TCP (UDP) listener supports at most TCPRoute
	 * (UDPRoute), listed once however often it was written. */
	if (!ls->proto || !ls->admits_kind)
		return 0;
	st->supported_kinds = calloc(1, sizeof(*st->supported_kinds));
	if (!st->supported_kinds)
		return -ENOMEM;
	st->n_supported_kinds = 1;
	st->supported_kinds[0].group = strdup(GATEWAY_GROUP);
	st->supported_kinds[0].kind = strdup(kind_name(ls->route_kind));
	if (!st->supported_kinds[0].group || !st->supported_kinds[0].kind)
		return -ENOMEM;
	return 0;
}

static void listener_accepted(struct rctx *c, const struct lst_state *ls, int64_t gen,
			      struct listener_status *st)
{
	const struct listener *l = ls->l;

	if (!ls->proto)
		add_cond(c, st->conds, &st->n_conds, "Accepted", COND_FALSE, "UnsupportedProtocol",
			 gen, dupf("protocol \"%s\" is not supported: nftgate serves TCP and UDP "
				   "listeners only", l->protocol));
	else if (ls->conflicted)
		add_cond(c, st->conds, &st->n_conds, "Accepted", COND_FALSE, "ProtocolConflict", gen,
			 dupf("%s port %u overlaps another %s listener on this node", l->protocol,
			      l->port, l->protocol));
	else
		add_cond(c, st->conds, &st->n_conds, "Accepted", COND_TRUE, "Accepted", gen,
			 strdup(""));
}

static void listener_programmed(struct rctx *c, const struct lst_state *ls, int64_t gen,
				struct listener_status *st)
{
	const char *why = NULL;

	if (!ls->proto)
		why = "the listener is not accepted";
	else if (ls->conflicted)
		why = "conflicted listeners are not programmed; new connections to the port are reset";
	else if (!ls->gw->usable)
		why = "the Gateway's addresses cannot be programmed";
	if (why)
		add_cond(c, st->conds, &st->n_conds, "Programmed", COND_FALSE, "Invalid", gen,
			 strdup(why));
	else
		add_cond(c, st->conds, &st->n_conds, "Programmed", COND_TRUE, "Programmed", gen,
			 strdup(""));
}

static int listener_status(struct rctx *c, const struct lst_state *ls, int64_t gen,
			   struct listener_status *st)
{
	st->name = strdup(ls->l->name);
	if (!st->name || supported_kinds(ls, st) < 0)
		return -ENOMEM;
	st->attached_routes = ls->attached;
	listener_accepted(c, ls, gen, st);
	listener_programmed(c, ls, gen, st);
	/* §1.6: conformance wants ResolvedRefs=True on every healthy TCP and UDP listener. */
	if (ls->proto && ls->kinds_invalid)
		add_cond(c, st->conds, &st->n_conds, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds",
			 gen, invalid_kinds_message(ls));
	else
		add_cond(c, st->conds, &st->n_conds, "ResolvedRefs", COND_TRUE, "ResolvedRefs", gen,
			 strdup(""));
	if (ls->conflicted)
		add_cond(c, st->conds, &st->n_conds, "Conflicted", COND_TRUE, "ProtocolConflict", gen,
			 dupf("another %s listener of a Gateway served by this node uses port %u on "
			      "an overlapping address", ls->l->protocol, ls->l->port));
	else
		add_cond(c, st->conds, &st->n_conds, "Conflicted", COND_FALSE, "NoConflicts", gen,
			 strdup(""));
	return 0;
}

static char *invalid_listeners_message(const struct gw_state *gs, size_t n_valid)
{
	struct sbuf b = { 0 };

	sbuf_addf(&b, "%zu of %zu listeners not valid:", gs->g->n_listeners - n_valid,
		  gs->g->n_listeners);
	for (size_t i = 0; i < gs->g->n_listeners; i++)
		if (!listener_valid(&gs->ls[i]))
			sbuf_addf(&b, " \"%s\" (%s)", gs->ls[i].l->name,
				  gs->ls[i].proto ? "ProtocolConflict" : "UnsupportedProtocol");
	return sbuf_take(&b);
}

/* §1.4, §1.5: Accepted and Programmed, always present. */
static void gateway_conditions(struct rctx *c, const struct gw_state *gs, struct object_status *o)
{
	int64_t gen = gs->g->m.generation;
	size_t n_valid = 0;
	bool accepted = true;

	for (size_t i = 0; i < gs->g->n_listeners; i++)
		n_valid += listener_valid(&gs->ls[i]);
	if (gs->unsupported_address) {
		accepted = false;
		add_cond(c, o->conds, &o->n_conds, "Accepted", COND_FALSE, "UnsupportedAddress", gen,
			 strdup(gs->addr_message ? gs->addr_message : ""));
	} else if (n_valid == gs->g->n_listeners) {
		add_cond(c, o->conds, &o->n_conds, "Accepted", COND_TRUE, "Accepted", gen, strdup(""));
	} else {
		accepted = n_valid > 0;
		add_cond(c, o->conds, &o->n_conds, "Accepted", accepted ? COND_TRUE : COND_FALSE,
			 "ListenersNotValid", gen, invalid_listeners_message(gs, n_valid));
	}
	if (!accepted)
		add_cond(c, o->conds, &o->n_conds, "Programmed", COND_FALSE, "Invalid", gen,
			 strdup("the Gateway is not accepted"));
	else if (gs->addr_problem != ADDR_OK)
		add_cond(c, o->conds, &o->n_conds, "Programmed", COND_FALSE,
			 gs->addr_problem == ADDR_NOT_USABLE ? "AddressNotUsable" : "AddressNotAssigned",
			 gen, strdup(gs->addr_message ? gs->addr_message : ""));
	else
		add_cond(c, o->conds, &o->n_conds, "Programmed", COND_TRUE, "Programmed", gen,
			 strdup(""));
}

/* status.addresses: the IPAddress entries we match on, always with their type (§1.2). */
static int gateway_addresses(const struct gw_state *gs, struct object_status *o)
{
	o->addresses = calloc_array(gs->n_addrs, sizeof(*o->addresses));
	if (!o->addresses)
		return -ENOMEM;
	for (size_t i = 0; i < gs->n_addrs; i++) {
		char text[INET6_ADDRSTRLEN];

		if (!inet_ntop(gs->addrs[i].family, gs->addrs[i].addr, text, sizeof(text)))
			return -EINVAL;
		o->addresses[i].type = strdup("IPAddress");
		o->addresses[i].value = strdup(text);
		o->n_addresses = i + 1;
		if (!o->addresses[i].type || !o->addresses[i].value)
			return -ENOMEM;
	}
	return 0;
}

static int gateway_status(struct rctx *c, const struct gw_state *gs, struct object_status *o)
{
	const struct gateway *g = gs->g;
	int r = object_init(o, KIND_GATEWAY, &g->m);

	if (r < 0)
		return r;
	gateway_conditions(c, gs, o);
	r = gateway_addresses(gs, o);
	if (r < 0)
		return r;
	o->listeners = calloc_array(g->n_listeners, sizeof(*o->listeners));
	if (!o->listeners)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_listeners; i++) {
		o->n_listeners = i + 1;
		r = listener_status(c, &gs->ls[i], g->m.generation, &o->listeners[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* §4.2: one ResolvedRefs for the route, the reason of the first bad ref, all of them listed. */
static const char *resolved_refs(const struct route_state *rs, struct sbuf *b)
{
	const char *reason = NULL;

	for (size_t i = 0; i < rs->r->n_rules; i++)
		for (size_t j = 0; j < rs->r->rules[i].n_refs; j++) {
			const struct ref_result *rr = &rs->refs[i][j];

			if (!rr->reason)
				continue;
			if (!reason)
				reason = rr->reason;
			sbuf_addf(b, "%sspec.rules[%zu].backendRefs[%zu]: %s", b->len ? "; " : "", i, j,
				  rr->message ? rr->message : rr->reason);
		}
	return reason;
}

static int ref_copy(const struct parent_ref *p, struct parent_ref *q)
{
	*q = *p;
	q->group = strdup(p->group);
	q->kind = strdup(p->kind);
	q->namespace = strdup(p->namespace);
	q->name = strdup(p->name);
	q->section = p->section ? strdup(p->section) : NULL;
	if (!q->group || !q->kind || !q->namespace || !q->name || (p->section && !q->section))
		return -ENOMEM;
	return 0;
}

static int parent_status(struct rctx *c, const struct route_state *rs, size_t pi,
			 const char *rr_reason, const char *rr_message, struct parent_status *ps)
{
	const struct parent_result *pr = &rs->parents[pi];
	int64_t gen = rs->r->m.generation;

	if (ref_copy(&rs->r->parents[pi], &ps->ref) < 0)
		return -ENOMEM;
	ps->controller_name = strdup(c->controller);
	if (!ps->controller_name)
		return -ENOMEM;
	add_cond(c, ps->conds, &ps->n_conds, "Accepted", pr->accepted ? COND_TRUE : COND_FALSE,
		 pr->reason, gen, strdup(pr->message));
	add_cond(c, ps->conds, &ps->n_conds, "ResolvedRefs", rr_reason ? COND_FALSE : COND_TRUE,
		 rr_reason ? rr_reason : "ResolvedRefs", gen, strdup(rr_message));
	return 0;
}

static int route_status(struct rctx *c, const struct route_state *rs, struct object_status *o)
{
	struct sbuf b = { 0 };
	const char *reason = resolved_refs(rs, &b);
	char *message = sbuf_take(&b);
	size_t n = 0;
	int r = object_init(o, rs->r->kind, &rs->r->m);

	if (!message)
		r = -ENOMEM;
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rs->r->n_parents; i++)
		n += rs->parents[i].in_scope;
	o->parents = calloc_array(n, sizeof(*o->parents));
	r = -ENOMEM;
	if (!o->parents)
		goto out;
	for (size_t i = 0; i < rs->r->n_parents; i++) {
		if (!rs->parents[i].in_scope)
			continue;
		r = parent_status(c, rs, i, reason, message, &o->parents[o->n_parents++]);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(message);
	return r;
}

static size_t status_count(const struct rctx *c)
{
	size_t n = c->n_gws;

	for (size_t i = 0; i < c->n_classes; i++)
		n += !strcmp(c->classes[i]->controller_name, c->controller);
	for (size_t i = 0; i < c->n_routes; i++)
		n += c->routes[i].has_status;
	return n;
}

static int status_fill(struct rctx *c, struct status_set *st)
{
	int r;

	for (size_t i = 0; i < c->n_classes; i++) {
		if (strcmp(c->classes[i]->controller_name, c->controller))
			continue;
		r = class_status(c, c->classes[i], &st->v[st->n++]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_gws; i++) {
		r = gateway_status(c, &c->gws[i], &st->v[st->n++]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		if (!c->routes[i].has_status)
			continue;
		r = route_status(c, &c->routes[i], &st->v[st->n++]);
		if (r < 0)
			return r;
	}
	return c->oom ? -ENOMEM : 0;
}

int status_build(struct rctx *c, struct status_set **ret)
{
	struct status_set *st = calloc(1, sizeof(*st));
	size_t n = status_count(c);
	int r = -ENOMEM;

	if (!st)
		return -ENOMEM;
	st->v = calloc_array(n, sizeof(*st->v));
	if (!st->v)
		goto out;
	r = status_fill(c, st);
	if (r < 0)
		goto out;
	*ret = st;
	st = NULL;
out:
	status_set_free(st);
	return r;
}
