/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookup indexes for resolve(): sorted pointer arrays searched with bsearch. Sorting by
 * name also makes every later iteration independent of the order objects were read in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/resolve_internal.h"

static const char *nz(const char *s)
{
	return s ? s : "";
}

int ns_name_cmp(const char *ns_a, const char *name_a, const char *ns_b, const char *name_b)
{
	int r = strcmp(nz(ns_a), nz(ns_b));

	return r ? r : strcmp(nz(name_a), nz(name_b));
}

static int meta_cmp(const struct meta *a, const struct meta *b)
{
	return ns_name_cmp(a->namespace, a->name, b->namespace, b->name);
}

int route_cmp(const struct route *a, const struct route *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return meta_cmp(&a->m, &b->m);
}

int route_older_cmp(const struct route *a, const struct route *b)
{
	int r;

	if (a->m.created != b->m.created)
		return a->m.created < b->m.created ? -1 : 1;
	r = meta_cmp(&a->m, &b->m);
	/* one listener carries one kind: the kind only makes the order total */
	return r ? r : route_cmp(a, b);
}

const char *route_protocol(enum kind k)
{
	return k == KIND_UDP_ROUTE ? "UDP" : "TCP";
}

/* Every indexed struct starts with its struct meta, so one comparator serves them all. */
static int ptr_meta_cmp(const void *a, const void *b)
{
	return meta_cmp(*(const struct meta *const *)a, *(const struct meta *const *)b);
}

static int slice_cmp(const void *a, const void *b)
{
	const struct endpoint_slice *x = *(const struct endpoint_slice *const *)a;
	const struct endpoint_slice *y = *(const struct endpoint_slice *const *)b;
	int r = ns_name_cmp(x->m.namespace, x->service_name, y->m.namespace, y->service_name);

	return r ? r : strcmp(x->m.name, y->m.name);
}

/* Builds a sorted array of pointers to the n elements of base (each `size` bytes). */
static int sorted_ptrs(const void *base, size_t n, size_t size,
		       int (*cmp)(const void *, const void *), const void ***ret)
{
	const void **v = calloc_array(n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (const char *)base + i * size;
	qsort(v, n, sizeof(*v), cmp);
	*ret = v;
	return 0;
}

/* The route kind a `from` entry names (§3.4: it grants that kind only), or KIND__COUNT. */
static enum kind grant_from_kind(const struct grant_from *f)
{
	if (strcmp(f->group, GATEWAY_GROUP))
		return KIND__COUNT;
	if (!strcmp(f->kind, kind_name(KIND_TCP_ROUTE)))
		return KIND_TCP_ROUTE;
	if (!strcmp(f->kind, kind_name(KIND_UDP_ROUTE)))
		return KIND_UDP_ROUTE;
	return KIND__COUNT;
}

static bool grant_to_ok(const struct grant_to *t)
{
	return !strcmp(t->group, "") && !strcmp(t->kind, "Service");
}

static int perm_cmp(const void *a, const void *b)
{
	const struct grant_perm *x = a, *y = b;
	int r = x->from != y->from ? (x->from < y->from ? -1 : 1) : strcmp(x->ns, y->ns);

	if (!r)
		r = strcmp(x->from_ns, y->from_ns);
	if (r || x->name == y->name)
		return r;
	if (!x->name || !y->name) /* "every Service" sorts first */
		return x->name ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* The permissions of one grant: each route `from` (kind, namespace) times each Service `to`
 * name; a `to` without a name stands for every name, so it alone is kept. Returns how many
 * were (or, with v NULL, would be) written. */
static size_t grant_perms(const struct reference_grant *g, struct grant_perm *v)
{
	bool every = false;
	size_t n = 0;

	for (size_t t = 0; t < g->n_to; t++)
		every = every || (grant_to_ok(&g->to[t]) && !g->to[t].name);
	for (size_t f = 0; f < g->n_from; f++) {
		enum kind from = grant_from_kind(&g->from[f]);

		if (from == KIND__COUNT)
			continue;
		for (size_t t = 0; t < g->n_to; t++) {
			if (!grant_to_ok(&g->to[t]) || (every && g->to[t].name))
				continue;
			if (v)
				v[n] = (struct grant_perm){ from, g->m.namespace,
							    g->from[f].namespace, g->to[t].name };
			n++;
		}
	}
	return n;
}

static int label_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->key, ((const struct label *)b)->key);
}

/* Selectors look keys up by binary search: a Namespace may carry many labels and every
 * route from it is checked against every Selector listener it names. */
static int ns_labels_build(struct rctx *c)
{
	c->ns_labels = calloc_array(c->n_nss, sizeof(*c->ns_labels));
	if (!c->ns_labels)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_nss; i++) {
		const struct labels *l = &c->nss[i]->m.labels;
		struct labels *out = &c->ns_labels[i];

		if (!l->n)
			continue;
		out->v = malloc(l->n * sizeof(*out->v));
		if (!out->v)
			return -ENOMEM;
		memcpy(out->v, l->v, l->n * sizeof(*out->v));
		out->n = l->n;
		qsort(out->v, out->n, sizeof(*out->v), label_key_cmp);
	}
	return 0;
}

static int perms_build(struct rctx *c)
{
	const struct store *s = c->s;
	size_t n = 0;

	for (size_t i = 0; i < s->n_grants; i++)
		n += grant_perms(&s->grants[i], NULL);
	c->perms = calloc_array(n, sizeof(*c->perms));
	if (!c->perms)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < s->n_grants; i++)
		n += grant_perms(&s->grants[i], c->perms + n);
	qsort(c->perms, n, sizeof(*c->perms), perm_cmp);
	c->n_perms = n;
	return 0;
}

bool grant_permits(const struct rctx *c, enum kind from, const char *ns, const char *from_ns,
		   const char *name)
{
	struct grant_perm every = { from, ns, from_ns, NULL }, one = { from, ns, from_ns, name };

	return bsearch(&every, c->perms, c->n_perms, sizeof(*c->perms), perm_cmp) ||
	       bsearch(&one, c->perms, c->n_perms, sizeof(*c->perms), perm_cmp);
}

int index_build(struct rctx *c)
{
	const struct store *s = c->s;
	size_t n = 0;
	int r;

	r = sorted_ptrs(s->classes, s->n_classes, sizeof(*s->classes), ptr_meta_cmp,
			(const void ***)&c->classes);
	if (r < 0)
		return r;
	c->n_classes = s->n_classes;
	r = sorted_ptrs(s->services, s->n_services, sizeof(*s->services), ptr_meta_cmp,
			(const void ***)&c->svcs);
	if (r < 0)
		return r;
	c->n_svcs = s->n_services;
	r = perms_build(c);
	if (r < 0)
		return r;
	r = sorted_ptrs(s->namespaces, s->n_namespaces, sizeof(*s->namespaces), ptr_meta_cmp,
			(const void ***)&c->nss);
	if (r < 0)
		return r;
	c->n_nss = s->n_namespaces;
	r = ns_labels_build(c);
	if (r < 0)
		return r;
	/* Slices without the service-name label belong to no Service: leave them out. */
	c->slices = calloc_array(s->n_slices, sizeof(*c->slices));
	if (!c->slices)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_slices; i++)
		if (s->slices[i].service_name)
			c->slices[n++] = &s->slices[i];
	qsort(c->slices, n, sizeof(*c->slices), slice_cmp);
	c->n_slices = n;
	return 0;
}

void index_free(struct rctx *c)
{
	free(c->classes);
	free(c->svcs);
	free(c->perms);
	for (size_t i = 0; c->ns_labels && i < c->n_nss; i++)
		free(c->ns_labels[i].v);
	free(c->ns_labels);
	free(c->nss);
	free(c->slices);
}

struct key {
	const char *ns, *name;
};

static int key_meta_cmp(const void *k, const void *e)
{
	const struct key *key = k;
	const struct meta *m = *(const struct meta *const *)e;

	return ns_name_cmp(key->ns, key->name, m->namespace, m->name);
}

static const void *find_meta(const void *v, size_t n, const char *ns, const char *name)
{
	struct key k = { ns, name };
	const void *const *hit = bsearch(&k, v, n, sizeof(void *), key_meta_cmp);

	return hit ? *hit : NULL;
}

const struct gateway_class *find_class(const struct rctx *c, const char *name)
{
	return find_meta(c->classes, c->n_classes, NULL, name);
}

const struct service *find_service(const struct rctx *c, const char *ns, const char *name)
{
	return find_meta(c->svcs, c->n_svcs, ns, name);
}

const struct namespace_obj *find_namespace(const struct rctx *c, const char *name)
{
	return find_meta(c->nss, c->n_nss, NULL, name);
}

const struct labels *namespace_labels(const struct rctx *c, const char *name)
{
	struct key k = { NULL, name };
	const void *const *hit = bsearch(&k, c->nss, c->n_nss, sizeof(void *), key_meta_cmp);

	return hit ? &c->ns_labels[(const struct namespace_obj *const *)hit - c->nss] : NULL;
}

/* First index in v[0..n) whose key is >= k, by cmp(k, v[i]). */
static size_t lower_bound(const void *k, const void *const *v, size_t n,
			  int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(k, &v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int key_slice_cmp(const void *k, const void *e)
{
	const struct key *key = k;
	const struct endpoint_slice *x = *(const struct endpoint_slice *const *)e;

	return ns_name_cmp(key->ns, key->name, x->m.namespace, x->service_name);
}

size_t find_slices(const struct rctx *c, const char *ns, const char *svc,
		   const struct endpoint_slice *const **first)
{
	struct key k = { ns, svc };
	size_t lo = lower_bound(&k, (const void *const *)c->slices, c->n_slices, key_slice_cmp);
	size_t hi = lo;

	while (hi < c->n_slices && !key_slice_cmp(&k, &c->slices[hi]))
		hi++;
	*first = c->slices + lo;
	return hi - lo;
}

static int key_gw_cmp(const void *k, const void *e)
{
	const struct key *key = k;
	const struct gw_state *g = e;

	return ns_name_cmp(key->ns, key->name, g->g->m.namespace, g->g->m.name);
}

struct gw_state *find_gateway(const struct rctx *c, const char *ns, const char *name)
{
	struct key k = { ns, name };

	return bsearch(&k, c->gws, c->n_gws, sizeof(*c->gws), key_gw_cmp);
}

/* Messages are capped well below the API's 32768-byte limit on condition messages. */
#define MESSAGE_MAX 4096

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *t;
	int n;

	if (b->oom || b->len >= MESSAGE_MAX)
		return;
	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (!s) {
			free(t);
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, t, (size_t)n + 1);
	b->len += (size_t)n;
	free(t);
	if (b->len >= MESSAGE_MAX)
		strcpy(b->s + MESSAGE_MAX - 4, "...");
}

char *sbuf_take(struct sbuf *b)
{
	char *s = b->s;

	if (b->oom) {
		free(s);
		s = NULL;
	} else if (!s) {
		s = strdup("");
	}
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = false;
	return s;
}
