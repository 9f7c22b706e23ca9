/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCPRoute, UDPRoute and ReferenceGrant: CRD defaults and schema/CEL validation
 * (reference/gateway-api.md §2.1, §2.3, §3, §3.4, §5.4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/decode.h"
#include "model/validate.h"

#define WHAT_NAMESPACE "a valid namespace (RFC 1123 label: lowercase letters, digits and '-', " \
		       "1..63 characters)"

static bool is_v1alpha2(const struct dec *x)
{
	const char *v = strrchr(x->api_version, '/');

	return v && strcmp(v, "/v1alpha2") == 0;
}

/* ctx: the route, whose namespace is the default */
static int decode_parent(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
			 void *ctx)
{
	const struct route *rt = ctx;
	struct parent_ref *p = elem;
	int64_t port = 0;
	int r;

	if ((r = dec_str_checked(x, m, "group", f, false, valid_group, WHAT_GROUP, &p->group)) < 0 ||
	    (r = dec_str_checked(x, m, "kind", f, false, valid_kind, WHAT_KIND, &p->kind)) < 0 ||
	    (r = dec_str_checked(x, m, "namespace", f, false, valid_dns1123_label, WHAT_NAMESPACE,
				 &p->namespace)) < 0 ||
	    (r = dec_str_checked(x, m, "name", f, true, valid_object_name, WHAT_NAME, &p->name)) < 0 ||
	    (r = dec_str_checked(x, m, "sectionName", f, false, valid_section_name, WHAT_SECTION,
				 &p->section)) < 0 ||
	    (r = dec_int(x, m, "port", f, 1, 65535, false, &port)) < 0)
		return r;
	p->port = (uint16_t)port;
	p->group_set = ymap_get(m, "group") && p->group;
	p->kind_set = ymap_get(m, "kind") && p->kind;
	p->namespace_set = ymap_get(m, "namespace") && p->namespace;
	/* defaults of §2.1: the route's own namespace, a Gateway of the Gateway API group */
	if (dec_default(&p->group, GATEWAY_GROUP) < 0 || dec_default(&p->kind, "Gateway") < 0 ||
	    dec_default(&p->namespace, rt->m.namespace) < 0)
		return -ENOMEM;
	return 0;
}

/* Same parent as the CRD's CEL sees it: group, kind, name, and namespace as written. */
static bool same_parent(const struct parent_ref *a, const struct parent_ref *b)
{
	bool a_ns = a->namespace_set && a->namespace[0], b_ns = b->namespace_set && b->namespace[0];

	if (!a->name || !b->name || strcmp(a->group, b->group) || strcmp(a->kind, b->kind) ||
	    strcmp(a->name, b->name))
		return false;
	if (!a_ns && !b_ns)
		return true;
	return a_ns && b_ns && strcmp(a->namespace, b->namespace) == 0;
}

static bool same_section(const struct parent_ref *a, const struct parent_ref *b)
{
	bool as = a->section && a->section[0], bs = b->section && b->section[0];

	return (!as && !bs) || (as && bs && strcmp(a->section, b->section) == 0);
}

/*
 * §2.3: two refs to the same parent must both set the distinguishing fields and differ in
 * them. Standard (v1): sectionName. Experimental (v1alpha2): sectionName and port.
 */
static int check_parents_distinct(struct dec *x, const struct ynode *seq, const char *f,
				  const struct route *rt, bool with_port)
{
	const char *what = with_port ? "sectionName or port" : "sectionName";
	char fi[FIELD_MAX];

	for (size_t i = 1; i < rt->n_parents; i++) {
		for (size_t j = 0; j < i; j++) {
			const struct parent_ref *a = &rt->parents[j], *b = &rt->parents[i];
			bool set_a = a->section && a->section[0], set_b = b->section && b->section[0];

			if (!a->group || !b->group || !same_parent(a, b))
				continue;
			/* the first clash is the one reported: the CRD rejects the whole list */
			if (set_a != set_b || (with_port && (a->port != 0) != (b->port != 0)))
				return dec_err(x, seq->kids[i], field_idx(fi, f, i),
					       "%s must be specified when parentRefs includes 2 or more "
					       "references to the same parent (also %s[%zu])", what, f, j);
			if (same_section(a, b) && (!with_port || a->port == b->port))
				return dec_err(x, seq->kids[i], field_idx(fi, f, i),
					       "%s must be unique when parentRefs includes 2 or more "
					       "references to the same parent (same as %s[%zu])", what, f, j);
		}
	}
	return 0;
}

static int decode_parents(struct dec *x, const struct ynode *spec, struct route *rt)
{
	const struct ynode *seq;
	char f[FIELD_MAX];
	int r = dec_list_open(x, spec, "spec", "parentRefs", false, 0, 32, f, &seq);

	if (r < 0 || !seq)
		return r;
	rt->parents = calloc_array(seq->n, sizeof(*rt->parents));
	/* aligned with the input for the distinctness messages */
	r = dec_list_items(x, seq, f, DEC_LIST_ALIGNED, rt->parents, sizeof(*rt->parents),
			   &rt->n_parents, decode_parent, rt);
	if (r < 0)
		return r;
	return check_parents_distinct(x, seq, f, rt, is_v1alpha2(x));
}

/* ctx: the route, whose namespace is the default */
static int decode_backend(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
			  void *ctx)
{
	const struct route *rt = ctx;
	struct backend_ref *b = elem;
	int64_t port = 0, weight = 1;
	char fp[FIELD_MAX];
	int r;

	b->loc = (struct src_loc){ .file = x->file, .line = m->line };
	if ((r = dec_str_checked(x, m, "group", f, false, valid_group, WHAT_GROUP, &b->group)) < 0 ||
	    (r = dec_str_checked(x, m, "kind", f, false, valid_kind, WHAT_KIND, &b->kind)) < 0 ||
	    (r = dec_str_checked(x, m, "name", f, true, valid_object_name, WHAT_NAME, &b->name)) < 0 ||
	    (r = dec_str_checked(x, m, "namespace", f, false, valid_dns1123_label, WHAT_NAMESPACE,
				 &b->namespace)) < 0 ||
	    (r = dec_int(x, m, "port", f, 1, 65535, false, &port)) < 0 ||
	    (r = dec_int(x, m, "weight", f, 0, 1000000, false, &weight)) < 0)
		return r;
	b->port = (uint16_t)port;
	b->weight = (uint32_t)weight;
	if (dec_default(&b->group, "") < 0 || dec_default(&b->kind, "Service") < 0 ||
	    dec_default(&b->namespace, rt->m.namespace) < 0)
		return -ENOMEM;
	/* the CRD's CEL: "Must have port for Service reference" (a bad port is reported already) */
	if (!dec_has(m, "port") && b->group[0] == '\0' && strcmp(b->kind, "Service") == 0)
		return dec_err(x, m, field_key(fp, f, "port"),
			       "is required for a Service reference (group \"\", kind Service)");
	return 0;
}

static int decode_rule(struct dec *x, const struct ynode *m, const char *f, struct route *rt,
		       struct route_rule *rule)
{
	const struct ynode *seq;
	char fb[FIELD_MAX];
	int r;

	r = dec_str_checked(x, m, "name", f, false, valid_section_name, WHAT_SECTION, &rule->name);
	if (r < 0)
		return r;
	r = dec_list_open(x, m, f, "backendRefs", true, 1, 16, fb, &seq);
	if (r < 0 || !seq)
		return r;
	rule->refs = calloc_array(seq->n, sizeof(*rule->refs));
	return dec_list_items(x, seq, fb, DEC_LIST_COMPACT, rule->refs, sizeof(*rule->refs),
			      &rule->n_refs, decode_backend, rt);
}

/* ctx: the route, whose earlier rules this one's name must differ from */
static int rule_item(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
		     void *ctx)
{
	struct route *rt = ctx;
	struct route_rule *rule = elem;
	char fn[FIELD_MAX], q[128];
	int r = decode_rule(x, m, f, rt, rule);

	if (r < 0)
		return r;
	for (size_t j = 0; rule->name && j + 1 < rt->n_rules; j++)
		if (rt->rules[j].name && strcmp(rt->rules[j].name, rule->name) == 0 &&
		    (r = dec_err(x, ymap_get(m, "name"), field_key(fn, f, "name"),
				 "rule name %s is used twice; rule names must be unique",
				 diag_quote(q, sizeof(q), rule->name, strlen(rule->name)))) < 0)
			return r;
	return 0;
}

static int decode_rules(struct dec *x, const struct ynode *spec, struct route *rt)
{
	const struct ynode *seq;
	char f[FIELD_MAX];
	int r = dec_list_open(x, spec, "spec", "rules", true, 0, SIZE_MAX, f, &seq);

	if (r < 0 || !seq)
		return r;
	/* v1 allows exactly one rule, v1alpha2 up to 16 (§0). Past the v1 limit but within 16
	 * the rules are still checked, so that their errors are reported too. */
	r = dec_count(x, seq, f, 1, is_v1alpha2(x) ? 16 : 1);
	if (r < 0 || seq->n == 0 || seq->n > 16)
		return r;
	rt->rules = calloc_array(seq->n, sizeof(*rt->rules));
	return dec_list_items(x, seq, f, DEC_LIST_COMPACT, rt->rules, sizeof(*rt->rules), &rt->n_rules,
			      rule_item, rt);
}

/* UDPRoute's CRD is TCPRoute's with another kind name (§5.2): same fields, defaults, limits. */
int decode_route(struct dec *x, const struct ynode *root, enum kind kind, struct route *out)
{
	const struct ynode *spec;
	int r;

	out->kind = kind;
	r = dec_map(x, root, "spec", "", true, &spec);

	if (r < 0 || !spec || (r = decode_parents(x, spec, out)) < 0)
		return r;
	return decode_rules(x, spec, out);
}

static int decode_grant_from(struct dec *x, const struct ynode *m, const char *f, size_t i,
			     void *elem, void *ctx)
{
	struct grant_from *g = elem;
	int r;

	if ((r = dec_str_checked(x, m, "group", f, true, valid_group, WHAT_GROUP, &g->group)) < 0 ||
	    (r = dec_str_checked(x, m, "kind", f, true, valid_kind, WHAT_KIND, &g->kind)) < 0)
		return r;
	return dec_str_checked(x, m, "namespace", f, true, valid_dns1123_label, WHAT_NAMESPACE,
			       &g->namespace);
}

static int decode_grant_to(struct dec *x, const struct ynode *m, const char *f, size_t i,
			   void *elem, void *ctx)
{
	struct grant_to *g = elem;
	int r;

	if ((r = dec_str_checked(x, m, "group", f, true, valid_group, WHAT_GROUP, &g->group)) < 0 ||
	    (r = dec_str_checked(x, m, "kind", f, true, valid_kind, WHAT_KIND, &g->kind)) < 0)
		return r;
	return dec_str_checked(x, m, "name", f, false, valid_object_name, WHAT_NAME, &g->name);
}

int decode_reference_grant(struct dec *x, const struct ynode *root, struct reference_grant *out)
{
	const struct ynode *spec, *from = NULL, *to = NULL;
	char ff[FIELD_MAX], ft[FIELD_MAX];
	int r = dec_map(x, root, "spec", "", true, &spec); /* required since v1.6 (§5.4) */

	if (r < 0 || !spec)
		return r;
	/* both lists are checked before their items, so their errors come first */
	if ((r = dec_list_open(x, spec, "spec", "from", true, 1, 16, ff, &from)) < 0 ||
	    (r = dec_list_open(x, spec, "spec", "to", true, 1, 16, ft, &to)) < 0)
		return r;
	out->from = calloc_array(from ? from->n : 0, sizeof(*out->from));
	out->to = calloc_array(to ? to->n : 0, sizeof(*out->to));
	if (!out->from || !out->to)
		return -ENOMEM;
	if (from && (r = dec_list_items(x, from, ff, DEC_LIST_COMPACT, out->from, sizeof(*out->from),
					&out->n_from, decode_grant_from, NULL)) < 0)
		return r;
	if (!to)
		return 0;
	return dec_list_items(x, to, ft, DEC_LIST_COMPACT, out->to, sizeof(*out->to), &out->n_to,
			      decode_grant_to, NULL);
}
