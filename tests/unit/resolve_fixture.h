/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the test_resolve*.c programs: load YAML text through the real reader, resolve,
 * and look things up in the plan and status. Functions are static inline so that each
 * test program may use any subset of them.
 */
#ifndef NFTGATE_TESTS_RESOLVE_FIXTURE_H
#define NFTGATE_TESTS_RESOLVE_FIXTURE_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/read.h"
#include "model/resolve.h"

#define CTRL "nftgate.io/agent"

/* A GatewayClass of ours named "nftgate" and namespaces with labels, used by most cases. */
#define CLASS_YAML                                                                        \
	"apiVersion: gateway.networking.k8s.io/v1\n"                                      \
	"kind: GatewayClass\n"                                                            \
	"metadata: {name: nftgate, generation: 3}\n"                                      \
	"spec: {controllerName: " CTRL "}\n"                                              \
	"---\n"

struct fx {
	struct store *s;
	struct plan *p;
	struct status_set *st;
};

static inline void fx_load(struct fx *f, const char *yaml)
{
	struct diags d = { 0 };
	int r;

	if (!f->s)
		f->s = store_new();
	assert_non_null(f->s);
	r = store_load_buffer(f->s, "test.yaml", yaml, strlen(yaml), &read_limits_default, &d);
	if (r != 0 || d.n) {
		diags_print(&d, stderr);
		fprintf(stderr, "input was:\n%s\n", yaml);
	}
	assert_int_equal(d.n, 0);
	assert_int_equal(r, 0);
	diags_clear(&d);
}

static inline void fx_resolve_opts(struct fx *f, const struct resolve_opts *o)
{
	plan_free(f->p);
	status_set_free(f->st);
	f->p = NULL;
	f->st = NULL;
	assert_int_equal(resolve(f->s, o, &f->p, &f->st), 0);
	assert_non_null(f->p);
	assert_non_null(f->st);
}

static inline void fx_resolve(struct fx *f)
{
	fx_resolve_opts(f, NULL);
}

/* Loads CLASS_YAML + yaml and resolves with default options. */
static inline void fx_run(struct fx *f, const char *yaml)
{
	fx_load(f, CLASS_YAML);
	fx_load(f, yaml);
	fx_resolve(f);
}

static inline void fx_free(struct fx *f)
{
	plan_free(f->p);
	status_set_free(f->st);
	store_free(f->s);
	memset(f, 0, sizeof(*f));
}

static inline const struct object_status *st_find(const struct fx *f, enum kind k,
						  const char *ns, const char *name)
{
	for (size_t i = 0; i < f->st->n; i++) {
		const struct object_status *o = &f->st->v[i];

		if (o->kind == k && !strcmp(o->name, name) &&
		    ((!ns && !o->namespace) || (ns && o->namespace && !strcmp(ns, o->namespace))))
			return o;
	}
	return NULL;
}

static inline const struct object_status *st_gw(const struct fx *f, const char *ns,
						const char *name)
{
	const struct object_status *o = st_find(f, KIND_GATEWAY, ns, name);

	if (!o)
		fail_msg("no status for Gateway %s/%s", ns, name);
	return o;
}

static inline const struct object_status *st_route_of(const struct fx *f, enum kind k,
						      const char *ns, const char *name)
{
	const struct object_status *o = st_find(f, k, ns, name);

	if (!o)
		fail_msg("no status for %s %s/%s", kind_name(k), ns, name);
	return o;
}

static inline const struct object_status *st_route(const struct fx *f, const char *ns,
						   const char *name)
{
	return st_route_of(f, KIND_TCP_ROUTE, ns, name);
}

static inline const struct object_status *st_udp_route(const struct fx *f, const char *ns,
						       const char *name)
{
	return st_route_of(f, KIND_UDP_ROUTE, ns, name);
}

static inline const struct condition *cond_find(const struct condition *v, size_t n,
						const char *type)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].type, type))
			return &v[i];
	return NULL;
}

/* Asserts a condition of that type exists with that status and reason; returns it. */
static inline const struct condition *cond_check(const struct condition *v, size_t n,
						 const char *type, enum cond_status status,
						 const char *reason)
{
	const struct condition *c = cond_find(v, n, type);

	if (!c)
		fail_msg("no %s condition", type);
	if (c->status != status || strcmp(c->reason, reason))
		fail_msg("%s: want %s/%s, got %s/%s (%s)", type, cond_status_name(status), reason,
			 cond_status_name(c->status), c->reason, c->message);
	assert_non_null(c->message);
	return c;
}

static inline const struct listener_status *st_listener(const struct object_status *gw,
							 const char *name)
{
	for (size_t i = 0; i < gw->n_listeners; i++)
		if (!strcmp(gw->listeners[i].name, name))
			return &gw->listeners[i];
	fail_msg("no listener status %s", name);
	return NULL;
}

#define LCOND(l, type, status, reason) cond_check((l)->conds, (l)->n_conds, type, status, reason)
#define OCOND(o, type, status, reason) cond_check((o)->conds, (o)->n_conds, type, status, reason)
#define PCOND(r, i, type, status, reason)                                                 \
	cond_check((r)->parents[i].conds, (r)->parents[i].n_conds, type, status, reason)

static inline const struct plan_listener *plan_find(const struct fx *f, const char *key)
{
	for (size_t i = 0; i < f->p->n; i++)
		if (!strcmp(f->p->v[i].key, key))
			return &f->p->v[i];
	return NULL;
}

static inline const struct plan_listener *plan_get(const struct fx *f, const char *key)
{
	const struct plan_listener *l = plan_find(f, key);

	if (!l)
		fail_msg("no plan listener %s", key);
	return l;
}

/* Asserts the share's endpoints are exactly the "addr:port" strings given (sorted order). */
static inline void share_endpoints_are(const struct plan_share *sh, size_t n, ...)
{
	va_list ap;

	assert_int_equal(sh->n_endpoints, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		char text[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];

		inet_ntop(sh->endpoints[i].family, sh->endpoints[i].addr, addr, sizeof(addr));
		snprintf(text, sizeof(text), "%s:%u", addr, sh->endpoints[i].port);
		assert_string_equal(text, want);
	}
	va_end(ap);
}

static inline bool message_has(const struct condition *c, const char *needle)
{
	if (!strstr(c->message, needle)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", c->message, needle);
		return false;
	}
	return true;
}

#endif
