/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metav1.LabelSelector evaluation, for allowedRoutes.namespaces.from: Selector
 * (reference/gateway-api.md §1.3): matchLabels AND every matchExpression.
 */
#include <string.h>

#include "model/resolve_internal.h"

#define NAME_LABEL "kubernetes.io/metadata.name"

static const char *label_get(const struct labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].value;
	return NULL;
}

static bool in_values(const struct selector_requirement *req, const char *v)
{
	for (size_t i = 0; i < req->n_values; i++)
		if (!strcmp(req->values[i], v))
			return true;
	return false;
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

bool namespace_selected(const struct rctx *c, const struct label_selector *sel, const char *ns)
{
	const struct namespace_obj *o = find_namespace(c, ns);
	struct label only_name = { (char *)NAME_LABEL, (char *)ns };
	struct labels implied = { &only_name, 1 };

	/* Without a Namespace object the only label we can know is the one the API server
	 * always adds (docs/status.md). */
	return selector_matches(sel, o ? &o->m.labels : &implied);
}
