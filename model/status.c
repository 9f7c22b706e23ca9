/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status set owns every string in it, except condition types and reasons, which are
 * static; freeing is deep and accepts NULL.
 */
#include <stdlib.h>

#include "model/status.h"

const char *cond_status_name(enum cond_status s)
{
	switch (s) {
	case COND_TRUE:
		return "True";
	case COND_FALSE:
		return "False";
	case COND_UNKNOWN:
		return "Unknown";
	}
	return "Unknown";
}

static void conds_free(struct condition *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].message);
}

static void parent_free_contents(struct parent_status *p)
{
	free(p->ref.group);
	free(p->ref.kind);
	free(p->ref.namespace);
	free(p->ref.name);
	free(p->ref.section);
	free(p->controller_name);
	conds_free(p->conds, p->n_conds);
}

static void listener_free_contents(struct listener_status *l)
{
	free(l->name);
	for (size_t i = 0; l->supported_kinds && i < l->n_supported_kinds; i++) {
		free(l->supported_kinds[i].group);
		free(l->supported_kinds[i].kind);
	}
	free(l->supported_kinds);
	conds_free(l->conds, l->n_conds);
}

static void object_free_contents(struct object_status *o)
{
	free(o->api_version);
	free(o->name);
	free(o->namespace);
	conds_free(o->conds, o->n_conds);
	for (size_t i = 0; o->listeners && i < o->n_listeners; i++)
		listener_free_contents(&o->listeners[i]);
	free(o->listeners);
	for (size_t i = 0; o->parents && i < o->n_parents; i++)
		parent_free_contents(&o->parents[i]);
	free(o->parents);
	for (size_t i = 0; o->addresses && i < o->n_addresses; i++) {
		free(o->addresses[i].type);
		free(o->addresses[i].value);
	}
	free(o->addresses);
}

struct status_set *status_set_free(struct status_set *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; s->v && i < s->n; i++)
		object_free_contents(&s->v[i]);
	free(s->v);
	free(s);
	return NULL;
}
