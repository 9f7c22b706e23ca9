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
#include "model/validate.h"

/* §3.4: some grant in the target namespace must match both from and to. */
static bool ref_permitted(const struct rctx *c, const struct route *r,
			  const struct backend_ref *b)
{
	return !strcmp(r->m.namespace, b->namespace) ||
	       grant_permits(c, r->kind, b->namespace, r->m.namespace, b->name);
}

/* The port of svc numbered `port` with protocol proto ("TCP", "UDP"); *other set when the
 * number exists for another protocol only. */
static const struct service_port *service_port(const struct service *svc, uint16_t port,
					       const char *proto, const char **other)
{
	*other = NULL;
	for (size_t i = 0; i < svc->n_ports; i++) {
		if (svc->ports[i].port != port)
			continue;
		if (!strcmp(svc->ports[i].protocol, proto))
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

static int slice_family(const struct endpoint_slice *es)
{
	return es->address_type == ADDR_IPV4 ? AF_INET : AF_INET6;
}

/* The slice's pod port for sp, or -1 when the slice carries nothing for it: FQDN slices have
 * no defined meaning (kube-proxy ignores them too), and a slice without that port. */
static int slice_target(const struct endpoint_slice *es, const struct service_port *sp)
{
	return es->address_type == ADDR_FQDN ? -1 : slice_port(es, sp);
}

/* Parses the address an endpoint is reached at: only the first has a defined meaning
 * (kubernetes-api.md §6.1). NULL when it may be programmed; else why not. The reader
 * refuses these addresses already; this keeps resolve() from ever programming one that
 * reached the store another way (the daemon keeps the rest of a bad object), since DNAT to
 * a loopback or link-local address reaches the node itself. */
static const char *endpoint_addr(const struct endpoint_slice *es, const struct slice_endpoint *e,
				 uint8_t addr[16])
{
	int af = slice_family(es);

	if (inet_pton(af, e->addresses[0], addr) != 1)
		return af == AF_INET ? "not a valid IPv4 address" : "not a valid IPv6 address";
	return endpoint_ip_refusal(af, addr);
}

/* Appends the endpoints of one slice to v (room for all of them is reserved). */
static size_t slice_endpoints(const struct endpoint_slice *es, const struct service_port *sp,
			      bool want_ready, struct plan_endpoint *v)
{
	int port = slice_target(es, sp);
	size_t n = 0;

	if (port < 0)
		return 0;
	for (size_t i = 0; i < es->n_endpoints; i++) {
		const struct slice_endpoint *e = &es->endpoints[i];
		/* zeroed: an IPv4 address fills 4 bytes, and sorting compares all 16 */
		uint8_t addr[16] = { 0 };

		if (!endpoint_usable(e, want_ready) || endpoint_addr(es, e, addr))
			continue;
		memcpy(v[n].addr, addr, sizeof(addr));
		v[n].family = (uint8_t)slice_family(es);
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

/* The endpoints of a resolved ref: ready ones; when none is ready, serving ones (including
 * terminating) so that connections drain (kubernetes-api.md §6.1). Sorted, duplicates across
 * slices removed, refused addresses left out. *ret is NULL when there are none. */
static int endpoint_set(const struct rctx *c, const struct ref_result *rr,
			struct plan_endpoint **ret, size_t *ret_n)
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
	*ret = v;
	*ret_n = u;
	return 0;
}

/* What the slices of a resolved ref hold, before de-duplication: endpoints that could carry
 * traffic (ready, or serving and terminating) per family, those of them whose address may be
 * programmed, and the first refused one, for the message. */
struct endpoint_census {
	size_t candidates[2];   /* [0] IPv4, [1] IPv6 */
	size_t valid;
	size_t refused;
	const struct endpoint_slice *slice;     /* of the first refused endpoint */
	size_t index;
	const char *why;
};

static void census_slice(const struct endpoint_slice *es, const struct service_port *sp,
			 struct endpoint_census *k)
{
	uint8_t addr[16];

	if (slice_target(es, sp) < 0)
		return;
	for (size_t i = 0; i < es->n_endpoints; i++) {
		const struct slice_endpoint *e = &es->endpoints[i];
		const char *why;

		if (!endpoint_usable(e, true) && !endpoint_usable(e, false))
			continue;
		k->candidates[es->address_type == ADDR_IPV6]++;
		/* one valid endpoint settles it: the common case parses a single address */
		if (k->valid)
			continue;
		why = endpoint_addr(es, e, addr);
		if (!why) {
			k->valid++;
			continue;
		}
		if (!k->refused++) {
			k->slice = es;
			k->index = i;
			k->why = why;
		}
	}
}

/* spec.rules[i].backendRefs[j] of b in r, for messages. */
static void ref_field(const struct route *r, const struct backend_ref *b, char *buf,
		      size_t size)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct route_rule *rule = &r->rules[i];

		if (b >= rule->refs && b < rule->refs + rule->n_refs) {
			snprintf(buf, size, "spec.rules[%zu].backendRefs[%zu]", i,
				 (size_t)(b - rule->refs));
			return;
		}
	}
	snprintf(buf, size, "spec.rules");
}

/* The share of rr would hold more endpoints of one family than the data plane can number
 * (PLAN_MAX_SHARE_ENDPOINTS): an input error located at the backendRef, since only here are
 * the route, the ref and every slice of the Service known together. Counting before
 * de-duplication is a bound; the exact set is only built when the bound is passed. */
static void check_share_size(struct rctx *c, const struct route *r,
			     const struct backend_ref *b, const struct ref_result *rr,
			     const struct endpoint_census *k)
{
	struct plan_endpoint *v = NULL;
	size_t n = 0, fam[2] = { 0, 0 };
	char field[96];

	if (!c->o->diags || (k->candidates[0] <= PLAN_MAX_SHARE_ENDPOINTS &&
			     k->candidates[1] <= PLAN_MAX_SHARE_ENDPOINTS))
		return;
	if (endpoint_set(c, rr, &v, &n) < 0) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		fam[v[i].family == AF_INET6]++;
	free(v);
	ref_field(r, b, field, sizeof(field));
	for (int f = 0; f < 2; f++) {
		char object[400];

		if (fam[f] <= PLAN_MAX_SHARE_ENDPOINTS)
			continue;
		snprintf(object, sizeof(object), "%s %s/%s", kind_name(r->kind), r->m.namespace,
			 r->m.name);
		if (diags_add(c->o->diags, b->loc.file, b->loc.line, object, field,
			      "Service %s/%s port %u has %zu IPv%d endpoints; a backendRef can have "
			      "at most %u per address family (limit PLAN_MAX_SHARE_ENDPOINTS)",
			      b->namespace, b->name, b->port, fam[f], f ? 6 : 4,
			      PLAN_MAX_SHARE_ENDPOINTS) < 0)
			c->oom = true;
	}
}

/*
 * The endpoints behind a resolved ref. Choice (docs/status.md): a Service whose every
 * endpoint that could carry traffic has an address the API server refuses has no valid
 * endpoint; that is a broken backend rather than one waiting for pods (§4.2 exempts only
 * the latter), so it is BackendNotFound like an ExternalName Service, and its share is
 * rejected. Some valid endpoints: the refused ones are just left out.
 */
static void endpoints_check(struct rctx *c, const struct route *r,
			    const struct backend_ref *b, struct ref_result *out)
{
	const struct endpoint_slice *const *sl;
	size_t n_sl = find_slices(c, out->svc->m.namespace, out->svc->m.name, &sl);
	struct endpoint_census k = { 0 };

	for (size_t i = 0; i < n_sl; i++)
		census_slice(sl[i], out->sp, &k);
	if (!k.valid && k.refused) {
		fail(c, out, "BackendNotFound", "Service %s/%s has no valid endpoint: EndpointSlice "
		     "%s/%s endpoints[%zu] address \"%s\" is %s%s", b->namespace, b->name,
		     k.slice->m.namespace, k.slice->m.name, k.index,
		     k.slice->endpoints[k.index].addresses[0], k.why,
		     k.refused > 1 ? ", and so are the others" : "");
		out->svc = NULL;
		out->sp = NULL;
		return;
	}
	check_share_size(c, r, b, out, &k);
}

static void ref_check(struct rctx *c, const struct route *r, const struct backend_ref *b,
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
	if (!ref_permitted(c, r, b)) {
		fail(c, out, "RefNotPermitted", "Service %s/%s: no ReferenceGrant in namespace \"%s\" "
		     "allows %ss from namespace \"%s\" to reference it", b->namespace, b->name,
		     b->namespace, kind_name(r->kind), r->m.namespace);
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
	/* a route's backend port has the route's protocol: kube-proxy forwards only that one */
	sp = service_port(svc, b->port, route_protocol(r->kind), &other);
	if (!sp) {
		if (other)
			fail(c, out, "BackendNotFound", "Service %s/%s port %u has protocol %s, not %s",
			     b->namespace, b->name, b->port, other, route_protocol(r->kind));
		else
			fail(c, out, "BackendNotFound", "Service %s/%s has no port %u", b->namespace,
			     b->name, b->port);
		return;
	}
	out->svc = svc;
	out->sp = sp;
	endpoints_check(c, r, b, out);
}

/* The located warning for a backendRef that does not resolve (resolve_opts.warnings). */
static void ref_warn(struct rctx *c, const struct route *r, const struct backend_ref *b,
		     const struct ref_result *rr)
{
	char object[400], field[96];

	snprintf(object, sizeof(object), "%s %s/%s", kind_name(r->kind), r->m.namespace,
		 r->m.name);
	ref_field(r, b, field, sizeof(field));
	if (diags_add(c->o->warnings, b->loc.file, b->loc.line, object, field,
		      "%s (ResolvedRefs=False, reason %s: its share of the traffic is refused)",
		      rr->message, rr->reason) < 0)
		c->oom = true;
}

void ref_resolve(struct rctx *c, const struct route *r, const struct backend_ref *b,
		 struct ref_result *out)
{
	ref_check(c, r, b, out);
	if (out->reason && out->message && c->o->warnings)
		ref_warn(c, r, b, out);
}

static bool share_too_big(const struct plan_share *share)
{
	size_t fam[2] = { 0, 0 };

	for (size_t i = 0; i < share->n_endpoints; i++)
		fam[share->endpoints[i].family == AF_INET6]++;
	return fam[0] > PLAN_MAX_SHARE_ENDPOINTS || fam[1] > PLAN_MAX_SHARE_ENDPOINTS;
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
	r = endpoint_set(c, rr, &share->endpoints, &share->n_endpoints);
	if (r < 0)
		return r;
	if (share_too_big(share)) {
		/* reported by check_share_size(); the plan stays within what nft/ can number */
		free(share->endpoints);
		share->endpoints = NULL;
		share->n_endpoints = 0;
		share->reject = true;
		share->reason = "TooManyEndpoints";
	} else if (!share->n_endpoints) {
		share->reject = true;
		share->reason = "NoEndpoints";
	}
	return 0;
}
