/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metav1.LabelSelector evaluation, for allowedRoutes.namespaces.from: Selector
 * (reference/gateway-api.md §1.3): matchLabels AND every matchExpression.
 */
#include <stdlib.h>
#include <string.h>

#include "model/resolve_internal.h"

#define NAME_LABEL "kubernetes.io/metadata.name"

static int label_key_cmp(const void *k, const void *e)
{
	return strcmp((const char *)k, ((const struct label *)e)->key);
}

/* l is sorted by key (keys are unique: the reader refuses duplicate keys). */
static const char *label_get(const struct labels *l, const char *key)
{
	const struct label *hit = bsearch(key, l->v, l->n, sizeof(*l->v), label_key_cmp);

	return hit ? hit->value : NULL;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* req->values is sorted (selector_sorted()). */
static bool in_values(const struct selector_requirement *req, const char *v)
{
	return bsearch(&v, req->values, req->n_values, sizeof(*req->values), str_ptr_cmp) != NULL;
}

static bool requirement_matches(const struct selector_requirement *req, const struct labels *l)
{
	const char *v = label_get(l, req->key);

	switch (req->op) {
	case SEL_IN:
		return v && in_values(req, v);
	case SEL_NOT_IN:
		/* Kubernetes: NotIn also matches objects without the key. */
		return !v || !in_values(req, v);
	case SEL_EXISTS:
		return v != NULL;
	case SEL_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false;
}

bool selector_matches(const struct label_selector *sel, const struct labels *l)
{
	/* A missing selector under from: Selector is a misconfiguration: match nothing (§1.3). */
	if (!sel)
		return false;
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		const char *v = label_get(l, sel->match_labels.v[i].key);

		if (!v || strcmp(v, sel->match_labels.v[i].value))
			return false;
	}
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!requirement_matches(&sel->exprs[i], l))
			return false;
	return true;
}

struct label_selector *selector_sorted_free(struct label_selector *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_exprs; i++)
		free(s->exprs[i].values);
	free(s->exprs);
	free(s);
	return NULL;
}

struct label_selector *selector_sorted(const struct label_selector *sel)
{
	struct label_selector *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->match_labels = sel->match_labels;
	o->exprs = calloc(sel->n_exprs ? sel->n_exprs : 1, sizeof(*o->exprs));
	if (!o->exprs)
		return selector_sorted_free(o);
	for (size_t i = 0; i < sel->n_exprs; i++) {
		const struct selector_requirement *in = &sel->exprs[i];
		struct selector_requirement *r = &o->exprs[o->n_exprs++];

		*r = *in;
		r->values = NULL;
		if (!in->n_values)
			continue;
		r->values = malloc(in->n_values * sizeof(*r->values));
		if (!r->values) {
			r->n_values = 0;
			return selector_sorted_free(o);
		}
		memcpy(r->values, in->values, in->n_values * sizeof(*r->values));
		qsort(r->values, r->n_values, sizeof(*r->values), str_ptr_cmp);
	}
	return o;
}

bool namespace_selected(const struct rctx *c, const struct label_selector *sel, const char *ns)
{
	const struct labels *l = namespace_labels(c, ns);
	struct label only_name = { (char *)NAME_LABEL, (char *)ns };
	struct labels implied = { &only_name, 1 };

	/* Without a Namespace object the only label we can know is the one the API server
	 * always adds (docs/status.md). */
	return selector_matches(sel, l ? l : &implied);
}
