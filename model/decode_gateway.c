/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GatewayClass and Gateway: CRD defaults and schema/CEL validation
 * (reference/gateway-api.md §1.1-§1.3, §5.4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/decode.h"
#include "model/validate.h"

#define WHAT_HOSTNAME "a valid hostname (optional \"*.\" then a lowercase RFC 1123 subdomain, " \
		      "1..253 characters)"

static bool valid_description(const char *s)
{
	return strlen(s) <= 64;
}

int decode_gateway_class(struct dec *x, const struct ynode *root, struct gateway_class *out)
{
	const struct ynode *spec;
	char *desc = NULL;
	int r = dec_map(x, root, "spec", "", true, &spec);

	if (r < 0 || !spec)
		return r;
	r = dec_str_checked(x, spec, "controllerName", "spec", true, valid_controller_name,
			    "a valid controller name (a lowercase domain, '/', then a path; at most "
			    "253 characters), e.g. \"example.net/gateway-controller\"",
			    &out->controller_name);
	if (r < 0)
		return r;
	r = dec_str_checked(x, spec, "description", "spec", false, valid_description,
			    "at most 64 characters long", &desc);
	free(desc);
	return r;
}

static const struct {
	const char *name;
	enum selector_op op;
} selector_ops[] = {
	{ "In", SEL_IN }, { "NotIn", SEL_NOT_IN },
	{ "Exists", SEL_EXISTS }, { "DoesNotExist", SEL_DOES_NOT_EXIST },
};

static bool valid_operator(const char *s)
{
	for (size_t i = 0; i < sizeof(selector_ops) / sizeof(selector_ops[0]); i++)
		if (strcmp(s, selector_ops[i].name) == 0)
			return true;
	return false;
}

static enum selector_op op_of(const char *s)
{
	for (size_t i = 0; i < sizeof(selector_ops) / sizeof(selector_ops[0]); i++)
		if (strcmp(s, selector_ops[i].name) == 0)
			return selector_ops[i].op;
	return SEL_IN;
}

static int decode_requirement(struct dec *x, const struct ynode *m, const char *f, size_t i,
			      void *elem, void *ctx)
{
	struct selector_requirement *req = elem;
	const struct ynode *vals;
	char *op = NULL;
	char fv[FIELD_MAX];
	int r;

	r = dec_str_checked(x, m, "key", f, true, valid_label_key, "a valid label key", &req->key);
	if (r < 0)
		return r;
	r = dec_str_checked(x, m, "operator", f, true, valid_operator,
			    "one of In, NotIn, Exists, DoesNotExist", &op);
	if (r < 0 || !op)
		return r; /* the values cannot be checked without a valid operator */
	req->op = op_of(op);
	free(op);
	r = dec_seq(x, m, "values", f, false, &vals);
	if (r < 0 || (!vals && dec_has(m, "values")))
		return r; /* out of memory, or not a list (reported) */
	field_key(fv, f, "values");
	if ((req->op == SEL_IN || req->op == SEL_NOT_IN) && (!vals || vals->n == 0))
		return dec_err(x, m, fv, "must be non-empty for operator In or NotIn");
	if ((req->op == SEL_EXISTS || req->op == SEL_DOES_NOT_EXIST) && vals && vals->n)
		return dec_err(x, vals, fv, "must be empty for operator Exists or DoesNotExist");
	if (!vals)
		return 0;
	req->values = calloc_array(vals->n, sizeof(char *));
	if (!req->values)
		return -ENOMEM;
	for (size_t k = 0; k < vals->n; k++) {
		char fi[FIELD_MAX], *v = NULL;

		r = dec_str_node(x, vals->kids[k], field_idx(fi, fv, k), &v);
		if (r < 0)
			return r;
		if (!v)
			v = strdup("");
		if (!v)
			return -ENOMEM;
		req->values[req->n_values++] = v;
	}
	return 0;
}

static int decode_selector(struct dec *x, const struct ynode *m, const char *f,
			   struct label_selector *sel)
{
	const struct ynode *exprs;
	char fe[FIELD_MAX];
	int r = dec_labels(x, m, "matchLabels", f, true, &sel->match_labels);

	if (r < 0)
		return r;
	r = dec_list_open(x, m, f, "matchExpressions", false, 0, SIZE_MAX, fe, &exprs);
	if (r < 0 || !exprs)
		return r;
	sel->exprs = calloc_array(exprs->n, sizeof(*sel->exprs));
	return dec_list_items(x, exprs, fe, DEC_LIST_COMPACT, sel->exprs, sizeof(*sel->exprs),
			      &sel->n_exprs, decode_requirement, NULL);
}

static int decode_namespaces(struct dec *x, const struct ynode *ar, const char *f, struct listener *l)
{
	const struct ynode *ns, *sel;
	char fn[FIELD_MAX], fs[FIELD_MAX], q[128];
	char *from = NULL;
	int r = dec_map(x, ar, "namespaces", f, false, &ns);

	l->from = FROM_SAME; /* CRD default, also when namespaces or from is missing (§1.3) */
	if (r < 0 || !ns)
		return r;
	field_key(fn, f, "namespaces");
	r = dec_str(x, ns, "from", fn, &from);
	if (r < 0 || (!from && dec_has(ns, "from")))
		return r; /* out of memory, or not a string (reported) */
	if (from && strcmp(from, "All") == 0)
		l->from = FROM_ALL;
	else if (from && strcmp(from, "Selector") == 0)
		l->from = FROM_SELECTOR;
	else if (from && strcmp(from, "Same") != 0)
		r = dec_err(x, ymap_get(ns, "from"), field_key(fs, fn, "from"),
			    "%s is not one of All, Selector, Same", diag_quote(q, sizeof(q), from, strlen(from)));
	free(from);
	if (r < 0)
		return r;
	r = dec_map(x, ns, "selector", fn, false, &sel);
	if (r < 0 || !sel)
		return r;
	l->selector = calloc(1, sizeof(*l->selector));
	if (!l->selector)
		return -ENOMEM;
	return decode_selector(x, sel, field_key(fs, fn, "selector"), l->selector);
}

static int decode_kind(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
		       void *ctx)
{
	struct route_group_kind *k = elem;
	int r;

	if ((r = dec_str_checked(x, m, "group", f, false, valid_group, WHAT_GROUP, &k->group)) < 0 ||
	    (r = dec_str_checked(x, m, "kind", f, true, valid_kind, WHAT_KIND, &k->kind)) < 0)
		return r;
	return dec_default(&k->group, GATEWAY_GROUP);
}

static int decode_kinds(struct dec *x, const struct ynode *ar, const char *f, struct listener *l)
{
	const struct ynode *kinds;
	char fk[FIELD_MAX];
	int r = dec_list_open(x, ar, f, "kinds", false, 0, 8, fk, &kinds);

	if (r < 0 || !kinds)
		return r;
	l->kinds = calloc_array(kinds->n, sizeof(*l->kinds));
	return dec_list_items(x, kinds, fk, DEC_LIST_COMPACT, l->kinds, sizeof(*l->kinds), &l->n_kinds,
			      decode_kind, NULL);
}

static int decode_listener(struct dec *x, const struct ynode *m, const char *f, struct listener *l)
{
	const struct ynode *ar, *tls;
	char fa[FIELD_MAX];
	int64_t port = 0;
	int r;

	l->loc = (struct src_loc){ .file = x->file, .line = m->line };
	if ((r = dec_str_checked(x, m, "name", f, true, valid_section_name, WHAT_SECTION, &l->name)) < 0 ||
	    (r = dec_str_checked(x, m, "hostname", f, false, valid_hostname, WHAT_HOSTNAME,
				 &l->hostname)) < 0 ||
	    (r = dec_str_checked(x, m, "protocol", f, true, valid_protocol,
				 "a valid protocol (TCP, UDP, HTTP, HTTPS, TLS or a "
				 "domain-prefixed name such as example.com/proto; 1..255 characters)",
				 &l->protocol)) < 0 ||
	    (r = dec_int(x, m, "port", f, 1, 65535, true, &port)) < 0)
		return r;
	l->port = (uint16_t)port;
	if ((r = dec_map(x, m, "tls", f, false, &tls)) < 0)
		return r;
	l->has_tls = tls != NULL;
	r = dec_map(x, m, "allowedRoutes", f, false, &ar);
	if (r < 0 || !ar)
		return r;
	field_key(fa, f, "allowedRoutes");
	r = decode_namespaces(x, ar, fa, l);
	if (r < 0)
		return r;
	return decode_kinds(x, ar, fa, l);
}

/* The protocol-specific CEL rules of a listener (§1.2, §5.4). */
static int check_listener_protocol(struct dec *x, const struct ynode *m, const char *f,
				   const struct listener *l)
{
	const struct ynode *tls = ymap_get(m, "tls");
	const char *p = l->protocol;
	char *mode = NULL;
	char ft[FIELD_MAX], fm[FIELD_MAX], q[128];
	int r = 0;

	if (!p)
		return 0;
	if ((strcmp(p, "TCP") == 0 || strcmp(p, "UDP") == 0) && l->hostname &&
	    (r = dec_err(x, ymap_get(m, "hostname"), field_key(ft, f, "hostname"),
			 "must not be set for protocol %s", p)) < 0)
		return r;
	field_key(ft, f, "tls");
	if ((strcmp(p, "TCP") == 0 || strcmp(p, "UDP") == 0 || strcmp(p, "HTTP") == 0) && l->has_tls)
		return dec_err(x, tls, ft, "must not be set for protocol %s", p);
	if (l->has_tls && (r = dec_str(x, tls, "mode", ft, &mode)) < 0)
		return r;
	field_key(fm, ft, "mode");
	if (strcmp(p, "TLS") == 0 && !l->has_tls)
		r = dec_err(x, m, fm, "is required for protocol TLS");
	else if (mode && strcmp(mode, "Terminate") != 0 && strcmp(mode, "Passthrough") != 0)
		r = dec_err(x, ymap_get(tls, "mode"), fm, "%s is not one of Terminate, Passthrough",
			    diag_quote(q, sizeof(q), mode, strlen(mode)));
	else if (mode && strcmp(p, "HTTPS") == 0 && strcmp(mode, "Terminate") != 0)
		r = dec_err(x, ymap_get(tls, "mode"), fm, "must be Terminate for protocol HTTPS, got %s",
			    diag_quote(q, sizeof(q), mode, strlen(mode)));
	free(mode);
	return r;
}

static bool same_hostname(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Listener names unique; (port, protocol, hostname) unique. At most 64 listeners. */
static int check_listeners_distinct(struct dec *x, const struct ynode *seq, const char *f,
				    const struct gateway *g)
{
	char fi[FIELD_MAX], q[128];
	int r;

	for (size_t i = 0; i < g->n_listeners; i++) {
		const struct listener *a = &g->listeners[i];

		for (size_t j = 0; j < i; j++) {
			const struct listener *b = &g->listeners[j];
			bool same_name, same_triple;

			if (!a->name || !b->name || !a->protocol || !b->protocol)
				continue;
			same_name = strcmp(a->name, b->name) == 0;
			same_triple = a->port == b->port && strcmp(a->protocol, b->protocol) == 0 &&
				      same_hostname(a->hostname, b->hostname);
			if (same_name)
				r = dec_err(x, seq->kids[i], field_idx(fi, f, i),
					    "listener name %s is used twice (also %s[%zu]); names must be unique",
					    diag_quote(q, sizeof(q), a->name, strlen(a->name)), f, j);
			else if (same_triple)
				r = dec_err(x, seq->kids[i], field_idx(fi, f, i),
					    "port %u, protocol %s and hostname %s are the same as %s[%zu]; "
					    "the combination must be unique", a->port, a->protocol,
					    a->hostname ? a->hostname : "(none)", f, j);
			else
				continue;
			if (r < 0)
				return r;
			break; /* one message per listener, against its first clash */
		}
	}
	return 0;
}

static int listener_item(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
			 void *ctx)
{
	int r = decode_listener(x, m, f, elem);

	return r < 0 ? r : check_listener_protocol(x, m, f, elem);
}

static int decode_listeners(struct dec *x, const struct ynode *spec, struct gateway *g)
{
	const struct ynode *seq;
	char f[FIELD_MAX];
	int r = dec_list_open(x, spec, "spec", "listeners", true, 1, 64, f, &seq);

	if (r < 0 || !seq)
		return r;
	g->listeners = calloc_array(seq->n, sizeof(*g->listeners));
	/* aligned with the input for the distinctness messages */
	r = dec_list_items(x, seq, f, DEC_LIST_ALIGNED, g->listeners, sizeof(*g->listeners),
			   &g->n_listeners, listener_item, NULL);
	if (r < 0)
		return r;
	return check_listeners_distinct(x, seq, f, g);
}

static bool valid_address_type(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	if (!strcmp(s, "IPAddress") || !strcmp(s, "Hostname") || !strcmp(s, "NamedAddress"))
		return true;
	return strchr(s, '/') && valid_protocol(s);
}

static bool valid_address_value(const char *s)
{
	return strlen(s) <= 253;
}

static int check_address(struct dec *x, const struct ynode *it, const char *fi,
			 const struct gateway_address *a, const struct gateway *g, size_t i)
{
	char fv[FIELD_MAX], q[128];

	field_key(fv, fi, "value");
	if (!a->value[0])
		return 0;
	if (strcmp(a->type, "IPAddress") == 0 && !valid_ipv4(a->value) && !valid_ipv6(a->value))
		return dec_err(x, ymap_get(it, "value"), fv, "%s is not a valid IPv4 or IPv6 address",
			       diag_quote(q, sizeof(q), a->value, strlen(a->value)));
	if (strcmp(a->type, "Hostname") == 0 && !valid_hostname(a->value))
		return dec_err(x, ymap_get(it, "value"), fv, "%s is not %s",
			       diag_quote(q, sizeof(q), a->value, strlen(a->value)), WHAT_HOSTNAME);
	if (strcmp(a->type, "IPAddress") != 0 && strcmp(a->type, "Hostname") != 0)
		return 0;
	for (size_t j = 0; j < i; j++)
		if (g->addresses[j].type && g->addresses[j].value &&
		    strcmp(g->addresses[j].type, a->type) == 0 &&
		    strcmp(g->addresses[j].value, a->value) == 0)
			return dec_err(x, ymap_get(it, "value"), fv,
				       "%s appears twice (also entry %zu); %s values must be unique",
				       diag_quote(q, sizeof(q), a->value, strlen(a->value)), j, a->type);
	return 0;
}

/* ctx: the gateway, whose earlier addresses are checked against this one */
static int decode_address(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
			  void *ctx)
{
	const struct gateway *g = ctx;
	struct gateway_address *a = elem;
	int r;

	if ((r = dec_str_checked(x, m, "type", f, false, valid_address_type,
				 "a valid address type (IPAddress, Hostname, NamedAddress or a "
				 "domain-prefixed name)", &a->type)) < 0 ||
	    (r = dec_str_checked(x, m, "value", f, false, valid_address_value,
				 "at most 253 characters long", &a->value)) < 0)
		return r;
	/* the default only for an absent type: a bad one stays NULL and is not checked further */
	if ((!dec_has(m, "type") && dec_default(&a->type, "IPAddress") < 0) ||
	    dec_default(&a->value, "") < 0)
		return -ENOMEM;
	return a->type ? check_address(x, m, f, a, g, g->n_addresses - 1) : 0;
}

static int decode_addresses(struct dec *x, const struct ynode *spec, struct gateway *g)
{
	const struct ynode *seq;
	char f[FIELD_MAX];
	int r = dec_list_open(x, spec, "spec", "addresses", false, 0, 16, f, &seq);

	if (r < 0 || !seq)
		return r;
	g->addresses = calloc_array(seq->n, sizeof(*g->addresses));
	return dec_list_items(x, seq, f, DEC_LIST_COMPACT, g->addresses, sizeof(*g->addresses),
			      &g->n_addresses, decode_address, g);
}

int decode_gateway(struct dec *x, const struct ynode *root, struct gateway *out)
{
	const struct ynode *spec;
	int r = dec_map(x, root, "spec", "", true, &spec);

	if (r < 0 || !spec)
		return r;
	if ((r = dec_str_checked(x, spec, "gatewayClassName", "spec", true, valid_object_name,
				 WHAT_NAME, &out->class_name)) < 0 ||
	    (r = decode_listeners(x, spec, out)) < 0)
		return r;
	return decode_addresses(x, spec, out);
}
