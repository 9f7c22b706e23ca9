/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Classes, Gateways and listeners (reference/gateway-api.md §1): which Gateways are ours,
 * what each listener supports, their addresses, and conflicts across every Gateway the node
 * serves (§1.4).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/resolve_internal.h"

bool class_is_ours(const struct rctx *c, const char *class_name)
{
	const struct gateway_class *gc = find_class(c, class_name);

	if (gc)
		return !strcmp(gc->controller_name, c->controller);
	/* --gateway-class claims a name only while no GatewayClass object has it (§1.1). */
	for (size_t i = 0; i < c->o->n_claimed_classes; i++)
		if (!strcmp(c->o->claimed_classes[i], class_name))
			return true;
	return false;
}

/* The protocols served, each carrying its one route kind (§1.3): TCP TCPRoute, UDP UDPRoute. */
static void listener_protocol(struct lst_state *ls)
{
	if (!strcmp(ls->l->protocol, "TCP")) {
		ls->proto = IPPROTO_TCP;
		ls->route_kind = KIND_TCP_ROUTE;
	} else if (!strcmp(ls->l->protocol, "UDP")) {
		ls->proto = IPPROTO_UDP;
		ls->route_kind = KIND_UDP_ROUTE;
	}
}

bool listener_kind_valid(const struct lst_state *ls, const struct route_group_kind *k)
{
	return !strcmp(k->group, GATEWAY_GROUP) && !strcmp(k->kind, kind_name(ls->route_kind));
}

/* allowedRoutes.kinds (§1.3): absent or empty means the protocol's kind. */
static void listener_kinds(struct lst_state *ls)
{
	const struct listener *l = ls->l;

	listener_protocol(ls);
	if (!ls->proto)
		return;
	ls->admits_kind = l->n_kinds == 0;
	for (size_t i = 0; i < l->n_kinds; i++) {
		if (listener_kind_valid(ls, &l->kinds[i]))
			ls->admits_kind = true;
		else
			ls->kinds_invalid = true;
	}
}

bool listener_admits_namespace(const struct rctx *c, const struct lst_state *ls,
			       const char *route_ns)
{
	switch (ls->l->from) {
	case FROM_ALL:
		return true;
	case FROM_SAME:
		return !strcmp(route_ns, ls->gw->g->m.namespace);
	case FROM_SELECTOR:
		return namespace_selected(c, ls->sel, route_ns);
	}
	return false;
}

/* spec.addresses (§1.2): only IPAddress is supported; values become the listener match. */
static int gateway_addresses(struct gw_state *gs)
{
	const struct gateway *g = gs->g;
	struct sbuf b = { 0 };

	gs->addrs = calloc_array(g->n_addresses, sizeof(*gs->addrs));
	if (!gs->addrs)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_addresses; i++) {
		const struct gateway_address *a = &g->addresses[i];
		struct plan_addr *pa = &gs->addrs[gs->n_addrs];

		if (strcmp(a->type, "IPAddress")) {
			if (!gs->unsupported_address)
				sbuf_addf(&b, "spec.addresses[%zu]: type \"%s\" is not supported "
					  "(only IPAddress)", i, a->type);
			gs->unsupported_address = true;
		} else if (!*a->value) {
			if (gs->addr_problem == ADDR_OK)
				gs->addr_problem = ADDR_NOT_ASSIGNED;
			sbuf_addf(&b, "%sspec.addresses[%zu]: an empty IPAddress cannot be "
				  "assigned by a node agent", b.len ? "; " : "", i);
		} else if (inet_pton(AF_INET, a->value, pa->addr) == 1) {
			pa->family = AF_INET;
			gs->n_addrs++;
		} else if (inet_pton(AF_INET6, a->value, pa->addr) == 1) {
			pa->family = AF_INET6;
			gs->n_addrs++;
		} else {
			if (gs->addr_problem == ADDR_OK)
				gs->addr_problem = ADDR_NOT_USABLE;
			sbuf_addf(&b, "%sspec.addresses[%zu]: \"%s\" is not an IP address",
				  b.len ? "; " : "", i, a->value);
		}
	}
	if (b.len || b.oom) {
		gs->addr_message = sbuf_take(&b);
		if (!gs->addr_message)
			return -ENOMEM;
	}
	return 0;
}

static int gateway_state(struct rctx *c, const struct gateway *g, struct gw_state *gs)
{
	int r;

	gs->g = g;
	gs->ls = calloc_array(g->n_listeners, sizeof(*gs->ls));
	if (!gs->ls)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_listeners; i++) {
		gs->ls[i].l = &g->listeners[i];
		gs->ls[i].gw = gs;
		listener_kinds(&gs->ls[i]);
		/* a missing selector stays NULL: it matches nothing (§1.3) */
		if (g->listeners[i].from == FROM_SELECTOR && g->listeners[i].selector &&
		    !(gs->ls[i].sel = selector_sorted(g->listeners[i].selector)))
			return -ENOMEM;
	}
	r = gateway_addresses(gs);
	if (r < 0)
		return r;
	gs->usable = !gs->unsupported_address && gs->addr_problem == ADDR_OK;
	return 0;
}

static int gw_ptr_cmp(const void *a, const void *b)
{
	const struct gateway *x = *(const struct gateway *const *)a;
	const struct gateway *y = *(const struct gateway *const *)b;

	return ns_name_cmp(x->m.namespace, x->m.name, y->m.namespace, y->m.name);
}

/* The Gateways in scope (§1.1), sorted by namespace/name. */
int gateways_build(struct rctx *c)
{
	const struct store *s = c->s;
	const struct gateway **v = calloc_array(s->n_gateways, sizeof(*v));
	size_t n = 0;
	int r = -ENOMEM;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_gateways; i++)
		if (class_is_ours(c, s->gateways[i].class_name))
			v[n++] = &s->gateways[i];
	qsort(v, n, sizeof(*v), gw_ptr_cmp);
	c->gws = calloc_array(n, sizeof(*c->gws));
	if (!c->gws)
		goto out;
	c->n_gws = n;
	for (size_t i = 0; i < n; i++) {
		r = gateway_state(c, v[i], &c->gws[i]);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	free(v);
	return r;
}

void gateways_free(struct rctx *c)
{
	for (size_t i = 0; i < c->n_gws; i++) {
		for (size_t j = 0; c->gws[i].ls && j < c->gws[i].g->n_listeners; j++)
			selector_sorted_free(c->gws[i].ls[j].sel);
		free(c->gws[i].ls);
		free(c->gws[i].addrs);
		free(c->gws[i].addr_message);
	}
	free(c->gws);
}

/* One (protocol, port, address) a listener listens on; wildcard = every local address. */
struct bind {
	uint8_t proto;
	uint16_t port;
	bool wildcard;
	struct plan_addr addr;
	struct lst_state *ls;
};

static int bind_cmp(const void *a, const void *b)
{
	const struct bind *x = a, *y = b;
	int r;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->wildcard != y->wildcard)
		return x->wildcard ? -1 : 1;
	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	r = memcmp(x->addr.addr, y->addr.addr, sizeof(x->addr.addr));
	if (r)
		return r;
	/* only makes the order total: which listeners conflict does not depend on it */
	return x->ls < y->ls ? -1 : x->ls > y->ls;
}

/* Marks every listener of v[lo..hi) conflicted when more than one listener is there. */
static void mark_run(struct bind *v, size_t lo, size_t hi)
{
	bool several = false;

	for (size_t i = lo + 1; i < hi; i++)
		if (v[i].ls != v[lo].ls)
			several = true;
	if (!several)
		return;
	for (size_t i = lo; i < hi; i++)
		v[i].ls->conflicted = true;
}

static void mark_port(struct bind *v, size_t lo, size_t hi)
{
	/* A wildcard listener overlaps every address on its port: the whole port conflicts. */
	if (v[lo].wildcard) {
		mark_run(v, lo, hi);
		return;
	}
	for (size_t i = lo; i < hi;) {
		size_t j = i + 1;

		while (j < hi && v[j].addr.family == v[i].addr.family &&
		       !memcmp(v[j].addr.addr, v[i].addr.addr, sizeof(v[i].addr.addr)))
			j++;
		mark_run(v, i, j);
		i = j;
	}
}

static size_t binds_count(const struct rctx *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_gws; i++)
		if (c->gws[i].usable)
			n += c->gws[i].g->n_listeners * (c->gws[i].n_addrs ? c->gws[i].n_addrs : 1);
	return n;
}

/* §1.4: listeners of every programmed Gateway whose (protocol, port, address) overlap are all
 * conflicted; no winner. TCP and UDP on one port are distinct (§7 trap 16); listeners of
 * other protocols are unsupported, so never conflict with either. */
int conflicts_mark(struct rctx *c)
{
	struct bind *v = calloc(binds_count(c) + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_gws; i++) {
		struct gw_state *gs = &c->gws[i];

		if (!gs->usable)
			continue;
		for (size_t j = 0; j < gs->g->n_listeners; j++) {
			struct lst_state *ls = &gs->ls[j];

			if (!ls->proto)
				continue;
			if (!gs->n_addrs)
				v[n++] = (struct bind){ .proto = ls->proto, .port = ls->l->port,
							.wildcard = true, .ls = ls };
			for (size_t k = 0; k < gs->n_addrs; k++)
				v[n++] = (struct bind){ .proto = ls->proto, .port = ls->l->port,
							.addr = gs->addrs[k], .ls = ls };
		}
	}
	qsort(v, n, sizeof(*v), bind_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && v[j].proto == v[i].proto && v[j].port == v[i].port)
			j++;
		mark_port(v, i, j);
		i = j;
	}
	free(v);
	return 0;
}
