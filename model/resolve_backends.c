/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backendRefs (reference/gateway-api.md §3.2-3.4): kind, then ReferenceGrant permission,
 * then existence, so a ref that is not permitted never reveals whether its Service exists;
 * then the endpoints behind the Service port (reference/kubernetes-api.md §6.2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/resolve_internal.h"

/* §3.4: some grant in the target namespace must match both from and to. */
static bool ref_permitted(const struct rctx *c, const char *route_ns,
			  const struct backend_ref *b)
{
	return !strcmp(route_ns, b->namespace) || grant_permits(c, b->namespace, route_ns, b->name);
}

/* The TCP port of svc numbered `port`; *other set when the number exists for another
 * protocol only. */
static const struct service_port *service_tcp_port(const struct service *svc, uint16_t port,
						   const char **other)
{
	*other = NULL;
	for (size_t i = 0; i < svc->n_ports; i++) {
		if (svc->ports[i].port != port)
			continue;
		if (!strcmp(svc->ports[i].protocol, "TCP"))
			return &svc->ports[i];
		*other = svc->ports[i].protocol;
	}
	return NULL;
}

static void fail(struct rctx *c, struct ref_result *out, const char *reason, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

static void fail(struct rctx *c, struct ref_result *out, const char *reason, const char *fmt, ...)
{
	va_list ap;

	out->reason = reason;
	va_start(ap, fmt);
	if (vasprintf(&out->message, fmt, ap) < 0) {
		out->message = NULL;
		c->oom = true;
	}
	va_end(ap);
}

void ref_resolve(struct rctx *c, const struct tcp_route *r, const struct backend_ref *b,
		 struct ref_result *out)
{
	const struct service *svc;
	const struct service_port *sp;
	const char *other;

	if (strcmp(b->group, "") || strcmp(b->kind, "Service")) {
		fail(c, out, "InvalidKind", "%s%s%s %s/%s: only core Services can be backends",
		     b->group, *b->group ? "/" : "", b->kind, b->namespace, b->name);
		return;
	}
	if (!ref_permitted(c, r->m.namespace, b)) {
		fail(c, out, "RefNotPermitted", "Service %s/%s: no ReferenceGrant in namespace \"%s\" "
		     "allows TCPRoutes from namespace \"%s\" to reference it", b->namespace, b->name,
		     b->namespace, r->m.namespace);
		return;
	}
	svc = find_service(c, b->namespace, b->name);
	if (!svc) {
		fail(c, out, "BackendNotFound", "Service %s/%s not found", b->namespace, b->name);
		return;
	}
	/* §3.2: ExternalName Services are refused (CVE-2021-25740); docs/status.md. */
	if (!strcmp(svc->type, "ExternalName")) {
		fail(c, out, "BackendNotFound", "Service %s/%s is of type ExternalName, which is "
		     "not supported as a backend (CVE-2021-25740)", b->namespace, b->name);
		return;
	}
	sp = service_tcp_port(svc, b->port, &other);
	if (!sp) {
		if (other)
			fail(c, out, "BackendNotFound", "Service %s/%s port %u is %s, not TCP",
			     b->namespace, b->name, b->port, other);
		else
			fail(c, out, "BackendNotFound", "Service %s/%s has no port %u", b->namespace,
			     b->name, b->port);
		return;
	}
	out->svc = svc;
	out->sp = sp;
}

static int endpoint_cmp(const void *a, const void *b)
{
	const struct plan_endpoint *x = a, *y = b;
	int r;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	r = memcmp(x->addr, y->addr, sizeof(x->addr));
	if (r)
		return r;
	return x->port < y->port ? -1 : x->port > y->port;
}

/* The slice port carrying Service port sp: same name and protocol (kubernetes-api.md §6.1). */
static int slice_port(const struct endpoint_slice *es, const struct service_port *sp)
{
	for (size_t i = 0; i < es->n_ports; i++)
		if (!strcmp(es->ports[i].name, sp->name) &&
		    !strcmp(es->ports[i].protocol, sp->protocol))
			return es->ports[i].port >= 1 && es->ports[i].port <= 65535 ?
				       es->ports[i].port : -1;
	return -1;
}

/* Ready endpoints first; only when a Service has none, the terminating ones that still
 * serve, so that connections drain gracefully during a rollout (kubernetes-api.md §6.1,
 * kube-proxy's fallback). A not-ready endpoint that is not terminating gets nothing. */
static bool endpoint_usable(const struct slice_endpoint *e, bool want_ready)
{
	return e->n_addresses && (want_ready ? e->ready : e->serving && e->terminating);
}

/* Appends the endpoints of one slice to v (room for all of them is reserved). */
static size_t slice_endpoints(const struct endpoint_slice *es, const struct service_port *sp,
			      bool want_ready, struct plan_endpoint *v)
{
	int af = es->address_type == ADDR_IPV4 ? AF_INET : AF_INET6;
	int port = slice_port(es, sp);
	size_t n = 0;

	/* FQDN slices have no defined meaning; kube-proxy ignores them too. */
	if (es->address_type == ADDR_FQDN || port < 0)
		return 0;
	for (size_t i = 0; i < es->n_endpoints; i++) {
		const struct slice_endpoint *e = &es->endpoints[i];

		if (!endpoint_usable(e, want_ready))
			continue;
		/* Only the first address has a defined meaning (kubernetes-api.md §6.1). */
		if (inet_pton(af, e->addresses[0], v[n].addr) != 1)
			continue;
		v[n].family = (uint8_t)af;
		v[n].port = (uint16_t)port;
		n++;
	}
	return n;
}

static size_t collect(const struct endpoint_slice *const *sl, size_t n_sl,
		      const struct service_port *sp, bool want_ready, struct plan_endpoint *v)
{
	size_t n = 0;

	for (size_t i = 0; i < n_sl; i++)
		n += slice_endpoints(sl[i], sp, want_ready, v + n);
	return n;
}

/* Ready endpoints; when none is ready, serving ones (including terminating) so that
 * connections drain (kubernetes-api.md §6.1). Sorted, duplicates across slices removed. */
static int endpoints_build(const struct rctx *c, const struct ref_result *rr,
			   struct plan_share *share)
{
	const struct endpoint_slice *const *sl;
	size_t n_sl = find_slices(c, rr->svc->m.namespace, rr->svc->m.name, &sl);
	size_t total = 0, n, u = 0;
	struct plan_endpoint *v;

	for (size_t i = 0; i < n_sl; i++)
		total += sl[i]->n_endpoints;
	v = calloc_array(total, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = collect(sl, n_sl, rr->sp, true, v);
	if (!n)
		n = collect(sl, n_sl, rr->sp, false, v);
	qsort(v, n, sizeof(*v), endpoint_cmp);
	for (size_t i = 0; i < n; i++)
		if (!u || endpoint_cmp(&v[u - 1], &v[i]))
			v[u++] = v[i];
	if (!u) {
		free(v);
		v = NULL;
	}
	share->endpoints = v;
	share->n_endpoints = u;
	return 0;
}

int share_build(struct rctx *c, const struct backend_ref *b, const struct ref_result *rr,
		struct plan_share *share)
{
	int r;

	share->weight = b->weight;
	if (asprintf(&share->backend, "%s %s/%s:%u", b->kind, b->namespace, b->name, b->port) < 0) {
		share->backend = NULL;
		return -ENOMEM;
	}
	/* §3.3: an invalid ref keeps its share, and that share is rejected. */
	if (rr->reason) {
		share->reject = true;
		share->reason = rr->reason;
		return 0;
	}
	r = endpoints_build(c, rr, share);
	if (r < 0)
		return r;
	if (!share->n_endpoints) {
		share->reject = true;
		share->reason = "NoEndpoints";
	}
	return 0;
}
