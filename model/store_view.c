/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store views (store_view.h): each of the store's arrays, shallow copies, first definition of
 * a (kind, namespace, name) wins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/store_view.h"

/* Where each array lives in a store, by enum store_array; every object struct starts with
 * its meta. */
static const struct {
	size_t size, arr_off, n_off;
} layout[ARR__COUNT] = {
#define L(a, type, arr) [a] = { sizeof(type), offsetof(struct store, arr), \
				offsetof(struct store, n_##arr) }
	L(ARR_CLASSES, struct gateway_class, classes),
	L(ARR_GATEWAYS, struct gateway, gateways),
	L(ARR_ROUTES, struct route, routes),
	L(ARR_GRANTS, struct reference_grant, grants),
	L(ARR_SERVICES, struct service, services),
	L(ARR_SLICES, struct endpoint_slice, slices),
	L(ARR_NAMESPACES, struct namespace_obj, namespaces),
#undef L
};

static char *arr_of(const struct store *s, int k)
{
	return *(char *const *)((const char *)s + layout[k].arr_off);
}

static size_t *n_of(struct store *s, int k)
{
	return (size_t *)((char *)s + layout[k].n_off);
}

static size_t count_of(const struct store *s, int k)
{
	return *(const size_t *)((const char *)s + layout[k].n_off);
}

struct ref {
	const struct meta *m;
	enum kind kind;          /* one array holds both route kinds */
	size_t seq;              /* position in part order: the earlier one wins */
};

static int cmp_key(const struct ref *x, const struct ref *y)
{
	const struct meta *a = x->m, *b = y->m;
	int c = strcmp(a->namespace ? a->namespace : "", b->namespace ? b->namespace : "");

	if (!c)
		c = strcmp(a->name, b->name);
	return c ? c : (x->kind > y->kind) - (x->kind < y->kind);
}

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = cmp_key(x, y);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int report(struct diags *d, enum kind k, const struct meta *again,
		  const struct meta *first)
{
	char obj[600];

	snprintf(obj, sizeof(obj), "%s %s%s%s", kind_name(k),
		 again->namespace ? again->namespace : "", again->namespace ? "/" : "", again->name);
	return diags_add(d, again->loc.file, again->loc.line, obj, NULL,
			 "defined again (first at %s:%u); this one is ignored",
			 first->loc.file ? first->loc.file : "?", first->loc.line);
}

/* Fills the view's array k (enum store_array): every part's objects, duplicates left out. */
static int view_kind(struct store *v, const struct store *const *parts, size_t n, int k,
		     struct diags *d)
{
	size_t total = 0, seq = 0, out = 0;
	struct ref *refs;
	char *arr;
	int r = 0;

	for (size_t p = 0; p < n; p++)
		total += count_of(parts[p], k);
	refs = calloc(total ? total : 1, sizeof(*refs));
	arr = calloc(total ? total : 1, layout[k].size);
	if (!refs || !arr) {
		free(refs);
		free(arr);
		return -ENOMEM;
	}
	for (size_t p = 0; p < n; p++)
		for (size_t i = 0; i < count_of(parts[p], k); i++, seq++) {
			refs[seq].m = (const void *)(arr_of(parts[p], k) + i * layout[k].size);
			refs[seq].kind = store_object_kind((enum store_array)k, refs[seq].m);
			refs[seq].seq = seq;
		}
	if (total > 1)
		qsort(refs, total, sizeof(*refs), cmp_ref);
	for (size_t i = 0; i < total; i++) {
		/* sorted by key, then part order: the first of a run of equal keys wins */
		if (out && !cmp_key(&refs[i], &refs[out - 1])) {
			r = report(d, refs[i].kind, refs[i].m, refs[out - 1].m);
			if (r < 0)
				break;
			continue;
		}
		refs[out++] = refs[i];
	}
	if (r >= 0) {
		/* part order again, so a view of one part lists objects as that part does */
		qsort(refs, out, sizeof(*refs), cmp_seq);
		for (size_t i = 0; i < out; i++)
			memcpy(arr + i * layout[k].size, refs[i].m, layout[k].size);
		*(char **)((char *)v + layout[k].arr_off) = arr;
		*n_of(v, k) = out;
		v->cap[k] = total;
		arr = NULL;
	}
	free(refs);
	free(arr);
	return r;
}

int store_view_build(const struct store *const *parts, size_t n, struct store **ret,
		     struct diags *d)
{
	struct store *v = calloc(1, sizeof(*v));
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (int k = 0; r >= 0 && k < ARR__COUNT; k++)
		r = view_kind(v, parts, n, k, d);
	if (r < 0) {
		store_view_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

struct store *store_view_free(struct store *v)
{
	if (!v)
		return NULL;
	for (int k = 0; k < ARR__COUNT; k++)
		free(arr_of(v, k));
	free(v);
	return NULL;
}
