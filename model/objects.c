/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: owns every object and every string in it. Freeing is deep and accepts NULL
 * everywhere, so a half-built object (a decode error midway) frees the same way.
 */
#include <stdlib.h>

#include "model/decode.h"
#include "model/objects.h"

/* The one table of kind names: the reader matches `kind:` against it too. */
static const char *const kind_names[KIND__COUNT] = {
	[KIND_GATEWAY_CLASS] = "GatewayClass",
	[KIND_GATEWAY] = "Gateway",
	[KIND_TCP_ROUTE] = "TCPRoute",
	[KIND_UDP_ROUTE] = "UDPRoute",
	[KIND_REFERENCE_GRANT] = "ReferenceGrant",
	[KIND_SERVICE] = "Service",
	[KIND_ENDPOINT_SLICE] = "EndpointSlice",
	[KIND_NAMESPACE] = "Namespace",
};

const char *kind_name(enum kind k)
{
	if ((unsigned)k >= KIND__COUNT)
		return "?";
	return kind_names[k];
}

static const enum store_array arrays[KIND__COUNT] = {
	[KIND_GATEWAY_CLASS] = ARR_CLASSES,
	[KIND_GATEWAY] = ARR_GATEWAYS,
	[KIND_TCP_ROUTE] = ARR_ROUTES,
	[KIND_UDP_ROUTE] = ARR_ROUTES,
	[KIND_REFERENCE_GRANT] = ARR_GRANTS,
	[KIND_SERVICE] = ARR_SERVICES,
	[KIND_ENDPOINT_SLICE] = ARR_SLICES,
	[KIND_NAMESPACE] = ARR_NAMESPACES,
};

enum store_array kind_array(enum kind k)
{
	return arrays[k];
}

enum kind store_object_kind(enum store_array a, const void *obj)
{
	static const enum kind fixed[ARR__COUNT] = {
		[ARR_CLASSES] = KIND_GATEWAY_CLASS,
		[ARR_GATEWAYS] = KIND_GATEWAY,
		[ARR_GRANTS] = KIND_REFERENCE_GRANT,
		[ARR_SERVICES] = KIND_SERVICE,
		[ARR_SLICES] = KIND_ENDPOINT_SLICE,
		[ARR_NAMESPACES] = KIND_NAMESPACE,
	};

	return a == ARR_ROUTES ? ((const struct route *)obj)->kind : fixed[a];
}

struct store *store_new(void)
{
	return calloc(1, sizeof(struct store));
}

static void labels_free(struct labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void meta_free(struct meta *m)
{
	free(m->name);
	free(m->namespace);
	free(m->created_text);
	free(m->api_version);
	labels_free(&m->labels);
}

static void selector_free(struct label_selector *sel)
{
	if (!sel)
		return;
	labels_free(&sel->match_labels);
	for (size_t i = 0; i < sel->n_exprs; i++) {
		free(sel->exprs[i].key);
		strv_free(sel->exprs[i].values, sel->exprs[i].n_values);
	}
	free(sel->exprs);
	free(sel);
}

void gateway_class_free_contents(struct gateway_class *c)
{
	meta_free(&c->m);
	free(c->controller_name);
}

static void listener_free_contents(struct listener *l)
{
	free(l->name);
	free(l->protocol);
	free(l->hostname);
	selector_free(l->selector);
	for (size_t i = 0; i < l->n_kinds; i++) {
		free(l->kinds[i].group);
		free(l->kinds[i].kind);
	}
	free(l->kinds);
}

void gateway_free_contents(struct gateway *g)
{
	meta_free(&g->m);
	free(g->class_name);
	for (size_t i = 0; i < g->n_listeners; i++)
		listener_free_contents(&g->listeners[i]);
	free(g->listeners);
	for (size_t i = 0; i < g->n_addresses; i++) {
		free(g->addresses[i].type);
		free(g->addresses[i].value);
	}
	free(g->addresses);
}

void route_free_contents(struct route *r)
{
	meta_free(&r->m);
	for (size_t i = 0; i < r->n_parents; i++) {
		struct parent_ref *p = &r->parents[i];
		free(p->group);
		free(p->kind);
		free(p->namespace);
		free(p->name);
		free(p->section);
	}
	free(r->parents);
	for (size_t i = 0; i < r->n_rules; i++) {
		struct route_rule *rule = &r->rules[i];
		free(rule->name);
		for (size_t j = 0; j < rule->n_refs; j++) {
			free(rule->refs[j].group);
			free(rule->refs[j].kind);
			free(rule->refs[j].name);
			free(rule->refs[j].namespace);
		}
		free(rule->refs);
	}
	free(r->rules);
}

void reference_grant_free_contents(struct reference_grant *g)
{
	meta_free(&g->m);
	for (size_t i = 0; i < g->n_from; i++) {
		free(g->from[i].group);
		free(g->from[i].kind);
		free(g->from[i].namespace);
	}
	free(g->from);
	for (size_t i = 0; i < g->n_to; i++) {
		free(g->to[i].group);
		free(g->to[i].kind);
		free(g->to[i].name);
	}
	free(g->to);
}

void service_free_contents(struct service *s)
{
	meta_free(&s->m);
	free(s->type);
	for (size_t i = 0; i < s->n_ports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].protocol);
	}
	free(s->ports);
}

void endpoint_slice_free_contents(struct endpoint_slice *e)
{
	meta_free(&e->m);
	free(e->service_name);
	for (size_t i = 0; i < e->n_ports; i++) {
		free(e->ports[i].name);
		free(e->ports[i].protocol);
	}
	free(e->ports);
	for (size_t i = 0; i < e->n_endpoints; i++)
		strv_free(e->endpoints[i].addresses, e->endpoints[i].n_addresses);
	free(e->endpoints);
}

void namespace_free_contents(struct namespace_obj *n)
{
	meta_free(&n->m);
}

struct store *store_free(struct store *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_classes; i++)
		gateway_class_free_contents(&s->classes[i]);
	free(s->classes);
	for (size_t i = 0; i < s->n_gateways; i++)
		gateway_free_contents(&s->gateways[i]);
	free(s->gateways);
	for (size_t i = 0; i < s->n_routes; i++)
		route_free_contents(&s->routes[i]);
	free(s->routes);
	for (size_t i = 0; i < s->n_grants; i++)
		reference_grant_free_contents(&s->grants[i]);
	free(s->grants);
	for (size_t i = 0; i < s->n_services; i++)
		service_free_contents(&s->services[i]);
	free(s->services);
	for (size_t i = 0; i < s->n_slices; i++)
		endpoint_slice_free_contents(&s->slices[i]);
	free(s->slices);
	for (size_t i = 0; i < s->n_namespaces; i++)
		namespace_free_contents(&s->namespaces[i]);
	free(s->namespaces);
	for (size_t i = 0; i < s->n_inputs; i++)
		free(s->inputs[i].name);
	free(s->inputs);
	free(s);
	return NULL;
}
