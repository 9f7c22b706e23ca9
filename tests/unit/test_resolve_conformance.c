/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve() on the eight TCPRoute and the nine UDPRoute conformance scenarios
 * (reference/gateway-api.md §5.1, §5.2), at the status and plan level, with compact manifests shaped like the upstream ones (the e2e
 * test tests/e2e/test_status_conformance.py runs the unmodified upstream files).
 */
#include "resolve_fixture.h"

#define GW_OPEN(name, ns)                                                                \
	"---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"                 \
	"metadata: {name: " name ", namespace: " ns "}\n"                                \
	"spec:\n  gatewayClassName: nftgate\n  listeners:\n"
#define TCP_LISTENER(name, port)                                                         \
	"  - {name: " name ", protocol: TCP, port: " #port ", allowedRoutes: {kinds: [{kind: TCPRoute}]}}\n"
#define SVC_SLICE(ns, name, addr)                                                        \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns "}\n" \
	"spec: {ports: [{name: tcp, port: 3000}]}\n"                                      \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                    \
	"metadata: {name: " name "-x, namespace: " ns ", labels: {kubernetes.io/service-name: " name "}}\n" \
	"addressType: IPv4\nports: [{name: tcp, port: 3000}]\nendpoints: [{addresses: [" addr "]}]\n"
#define ROUTE(ns, name, created, parent, refs)                                           \
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"          \
	"metadata: {name: " name ", namespace: " ns ", creationTimestamp: \"" created "\"}\n" \
	"spec: {parentRefs: [" parent "], rules: [{backendRefs: " refs "}]}\n"

#define INFRA "gateway-conformance-infra"
#define WEB "gateway-conformance-web-backend"

/* GatewayAndTCPRoutesMustBeAccepted: every listener Accepted, Programmed, ResolvedRefs. */
static void listeners_healthy(const struct object_status *g, const char *kind)
{
	OCOND(g, "Accepted", COND_TRUE, "Accepted");
	OCOND(g, "Programmed", COND_TRUE, "Programmed");
	for (size_t i = 0; i < g->n_listeners; i++) {
		const struct listener_status *l = &g->listeners[i];

		LCOND(l, "Accepted", COND_TRUE, "Accepted");
		LCOND(l, "Programmed", COND_TRUE, "Programmed");
		LCOND(l, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
		assert_int_equal(l->n_supported_kinds, 1);
		assert_string_equal(l->supported_kinds[0].kind, kind);
	}
}

static void listeners_all_healthy(const struct object_status *g)
{
	listeners_healthy(g, "TCPRoute");
}

static void route_accepted_resolved(const struct fx *f, const char *name)
{
	const struct object_status *r = st_route(f, INFRA, name);

	assert_int_equal(r->n_parents, 1);
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
}

static void forwards_to(const struct fx *f, const char *key, const char *route, const char *ep)
{
	const struct plan_listener *pl = plan_get(f, key);

	assert_int_equal(pl->action, PLAN_FORWARD);
	assert_string_equal(pl->route, route);
	assert_int_equal(pl->n_shares, 1);
	assert_false(pl->shares[0].reject);
	share_endpoints_are(&pl->shares[0], 1, ep);
}

static void parentref_attach_all(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	static const char *const keys[] = { INFRA "/tcp-attach-all-gateway/one",
					    INFRA "/tcp-attach-all-gateway/two",
					    INFRA "/tcp-attach-all-gateway/three",
					    INFRA "/tcp-attach-all-gateway/four" };

	fx_run(&f, GW_OPEN("tcp-attach-all-gateway", INFRA)
	       TCP_LISTENER("one", 9310) TCP_LISTENER("two", 9311)
	       TCP_LISTENER("three", 9312) TCP_LISTENER("four", 9313)
	       SVC_SLICE(INFRA, "tcp-echo-attach-all", "10.0.0.1")
	       ROUTE(INFRA, "tcp-route-attach-all", "2026-01-01T00:00:00Z",
		     "{name: tcp-attach-all-gateway}", "[{name: tcp-echo-attach-all, port: 3000}]"));
	g = st_gw(&f, INFRA, "tcp-attach-all-gateway");
	listeners_all_healthy(g);
	route_accepted_resolved(&f, "tcp-route-attach-all");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(g->listeners[i].attached_routes, 1);
		forwards_to(&f, keys[i], INFRA "/tcp-route-attach-all", "10.0.0.1:3000");
	}
	fx_free(&f);
}

static void parentref_port_and_section_name(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_OPEN("gw", INFRA)
	       TCP_LISTENER("one", 9300) TCP_LISTENER("two", 9301) TCP_LISTENER("three", 9302)
	       SVC_SLICE(INFRA, "tcp-echo-one", "10.0.0.1")
	       SVC_SLICE(INFRA, "tcp-echo-two", "10.0.0.2")
	       SVC_SLICE(INFRA, "tcp-echo-three", "10.0.0.3")
	       ROUTE(INFRA, "by-port", "2026-01-01T00:00:00Z", "{name: gw, port: 9300}",
		     "[{name: tcp-echo-one, port: 3000}]")
	       ROUTE(INFRA, "by-section", "2026-01-01T00:00:00Z", "{name: gw, sectionName: two}",
		     "[{name: tcp-echo-two, port: 3000}]")
	       ROUTE(INFRA, "by-both", "2026-01-01T00:00:00Z",
		     "{name: gw, sectionName: three, port: 9302}",
		     "[{name: tcp-echo-three, port: 3000}]"));
	g = st_gw(&f, INFRA, "gw");
	listeners_all_healthy(g);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(g->listeners[i].attached_routes, 1);
	route_accepted_resolved(&f, "by-port");
	route_accepted_resolved(&f, "by-section");
	route_accepted_resolved(&f, "by-both");
	forwards_to(&f, INFRA "/gw/one", INFRA "/by-port", "10.0.0.1:3000");
	forwards_to(&f, INFRA "/gw/two", INFRA "/by-section", "10.0.0.2:3000");
	forwards_to(&f, INFRA "/gw/three", INFRA "/by-both", "10.0.0.3:3000");
	fx_free(&f);
}

static void invalid_non_tcp_listener(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_OPEN("tcp-mixed-protocol-gateway", INFRA)
	       "  - {name: only-allow-http-routes, protocol: HTTP, port: 5300,"
	       " allowedRoutes: {kinds: [{kind: HTTPRoute}]}}\n"
	       ROUTE(INFRA, "tcp-route", "2026-01-01T00:00:00Z",
		     "{name: tcp-mixed-protocol-gateway, sectionName: only-allow-http-routes}",
		     "[{name: tcp-echo-backend, port: 8080}]"));
	g = st_gw(&f, INFRA, "tcp-mixed-protocol-gateway");
	assert_int_equal(g->listeners[0].attached_routes, 0);
	PCOND(st_route(&f, INFRA, "tcp-route"), 0, "Accepted", COND_FALSE, "NotAllowedByListeners");
	assert_int_equal(f.p->n, 0);
	fx_free(&f);
}

static void invalid_backendref_nonexistent(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;

	fx_run(&f, GW_OPEN("tcp-gateway-invalid-backend", INFRA) TCP_LISTENER("tcp", 9300)
	       ROUTE(INFRA, "r", "2026-01-01T00:00:00Z",
		     "{name: tcp-gateway-invalid-backend, sectionName: tcp}",
		     "[{name: nonexistent-service, port: 8080}]"));
	listeners_all_healthy(st_gw(&f, INFRA, "tcp-gateway-invalid-backend"));
	r = st_route(&f, INFRA, "r");
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(plan_get(&f, INFRA "/tcp-gateway-invalid-backend/tcp")->shares[0].reject);
	fx_free(&f);
}

static const char xns[] =
	GW_OPEN("xns", INFRA) TCP_LISTENER("tcp", 9321)
	SVC_SLICE(WEB, "tcp-backend", "10.0.9.9")
	ROUTE(INFRA, "r", "2026-01-01T00:00:00Z", "{name: xns, sectionName: tcp}",
	      "[{name: tcp-backend, namespace: " WEB ", port: 3000}]");

static void invalid_cross_namespace_backend_ref(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;

	fx_run(&f, xns);
	listeners_all_healthy(st_gw(&f, INFRA, "xns"));
	assert_int_equal(st_gw(&f, INFRA, "xns")->listeners[0].attached_routes, 1);
	r = st_route(&f, INFRA, "r");
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_FALSE, "RefNotPermitted");
	assert_string_equal(plan_get(&f, INFRA "/xns/tcp")->shares[0].reason, "RefNotPermitted");
	fx_free(&f);
}

static void reference_grant(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, "apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\n"
		   "metadata: {name: g, namespace: " WEB "}\n"
		   "spec:\n"
		   "  from: [{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: " INFRA "}]\n"
		   "  to: [{group: \"\", kind: Service, name: tcp-backend}]\n"
		   "---\n");
	fx_load(&f, xns);
	fx_resolve(&f);
	listeners_all_healthy(st_gw(&f, INFRA, "xns"));
	route_accepted_resolved(&f, "r");
	forwards_to(&f, INFRA "/xns/tcp", INFRA "/r", "10.0.9.9:3000");
	fx_free(&f);
}

static void weighted_routing(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW_OPEN("tcp-weighted-gateway", INFRA) TCP_LISTENER("tcp", 9300)
	       SVC_SLICE(INFRA, "v1", "10.0.0.1") SVC_SLICE(INFRA, "v2", "10.0.0.2")
	       SVC_SLICE(INFRA, "v3", "10.0.0.3")
	       ROUTE(INFRA, "tcp-weighted-route", "2026-01-01T00:00:00Z",
		     "{name: tcp-weighted-gateway, sectionName: tcp}",
		     "[{name: v1, port: 3000, weight: 70}, {name: v2, port: 3000, weight: 30},"
		     " {name: v3, port: 3000, weight: 0}]"));
	route_accepted_resolved(&f, "tcp-weighted-route");
	pl = plan_get(&f, INFRA "/tcp-weighted-gateway/tcp");
	assert_int_equal(pl->n_shares, 3);
	assert_int_equal(pl->shares[0].weight, 70);
	assert_int_equal(pl->shares[1].weight, 30);
	assert_int_equal(pl->shares[2].weight, 0);
	share_endpoints_are(&pl->shares[0], 1, "10.0.0.1:3000");
	share_endpoints_are(&pl->shares[1], 1, "10.0.0.2:3000");
	fx_free(&f);
}

static void multiple_routes_attachment(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_OPEN("gw", INFRA)
	       "  - {name: tcp, protocol: TCP, port: 9310, allowedRoutes: {kinds: [{kind: TCPRoute,"
	       " group: gateway.networking.k8s.io}], namespaces: {from: Same}}}\n"
	       SVC_SLICE(INFRA, "b1", "10.0.0.1") SVC_SLICE(INFRA, "b2", "10.0.0.2")
	       ROUTE(INFRA, "tcproute-attach-older", "2026-01-01T00:00:00Z",
		     "{name: gw, sectionName: tcp}", "[{name: b1, port: 3000}]")
	       ROUTE(INFRA, "tcproute-attach-newer", "2026-01-01T00:00:01Z",
		     "{name: gw, sectionName: tcp}", "[{name: b2, port: 3000}]"));
	g = st_gw(&f, INFRA, "gw");
	listeners_all_healthy(g);
	assert_int_equal(g->listeners[0].attached_routes, 2);
	route_accepted_resolved(&f, "tcproute-attach-older");
	route_accepted_resolved(&f, "tcproute-attach-newer");
	forwards_to(&f, INFRA "/gw/tcp", INFRA "/tcproute-attach-older", "10.0.0.1:3000");
	fx_free(&f);
}


/* ---- UDPRoute (§5.2): the same scenarios, upstream's names, ports and backends ---- */

#define UDP_LISTENER(name, port)                                                         \
	"  - {name: " name ", protocol: UDP, port: " #port ", allowedRoutes: {kinds: [{kind: UDPRoute}]}}\n"
#define USVC_SLICE(ns, name, port, addr)                                                 \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns "}\n" \
	"spec: {ports: [{name: udp, protocol: UDP, port: " #port ", targetPort: " #port "}]}\n" \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                    \
	"metadata: {name: " name "-x, namespace: " ns ", labels: {kubernetes.io/service-name: " name "}}\n" \
	"addressType: IPv4\nports: [{name: udp, protocol: UDP, port: " #port "}]\n"       \
	"endpoints: [{addresses: [" addr "]}]\n"
#define UROUTE(ns, name, created, parent, refs)                                          \
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\n"          \
	"metadata: {name: " name ", namespace: " ns ", creationTimestamp: \"" created "\"}\n" \
	"spec: {parentRefs: [" parent "], rules: [{backendRefs: " refs "}]}\n"
#define APP "gateway-conformance-app-backend"

static void udp_accepted_resolved(const struct fx *f, const char *name)
{
	const struct object_status *r = st_udp_route(f, INFRA, name);

	assert_string_equal(r->api_version, "gateway.networking.k8s.io/v1alpha2");
	assert_int_equal(r->n_parents, 1);
	assert_string_equal(r->parents[0].ref.group, "gateway.networking.k8s.io");
	assert_string_equal(r->parents[0].ref.kind, "Gateway");
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
}

static void udp_forwards_to(const struct fx *f, const char *key, const char *route,
			    const char *ep)
{
	assert_int_equal(plan_get(f, key)->protocol, IPPROTO_UDP);
	forwards_to(f, key, route, ep);
}

static void udp_simple(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, GW_OPEN("udp-gateway", INFRA) UDP_LISTENER("coredns", 5300)
	       USVC_SLICE(INFRA, "coredns", 53, "10.0.0.53")
	       UROUTE(INFRA, "udp-coredns", "2026-01-01T00:00:00Z",
		      "{name: udp-gateway, sectionName: coredns}", "[{name: coredns, port: 53}]"));
	listeners_healthy(st_gw(&f, INFRA, "udp-gateway"), "UDPRoute");
	assert_int_equal(st_gw(&f, INFRA, "udp-gateway")->listeners[0].attached_routes, 1);
	udp_accepted_resolved(&f, "udp-coredns");
	udp_forwards_to(&f, INFRA "/udp-gateway/coredns", INFRA "/udp-coredns", "10.0.0.53:53");
	fx_free(&f);
}

static void udp_parentref_attach_all_listeners(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	static const char *const keys[] = { INFRA "/udp-attach-all-listeners-gateway/udp-1",
					    INFRA "/udp-attach-all-listeners-gateway/udp-2",
					    INFRA "/udp-attach-all-listeners-gateway/udp-3" };

	fx_run(&f, GW_OPEN("udp-attach-all-listeners-gateway", INFRA)
	       UDP_LISTENER("udp-1", 5310) UDP_LISTENER("udp-2", 5311) UDP_LISTENER("udp-3", 5312)
	       USVC_SLICE(INFRA, "udp-echo-attach-all", 8080, "10.0.0.1")
	       UROUTE(INFRA, "udp-route-attach-all", "2026-01-01T00:00:00Z",
		      "{name: udp-attach-all-listeners-gateway}",
		      "[{name: udp-echo-attach-all, port: 8080}]"));
	g = st_gw(&f, INFRA, "udp-attach-all-listeners-gateway");
	listeners_healthy(g, "UDPRoute");
	udp_accepted_resolved(&f, "udp-route-attach-all");
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(g->listeners[i].attached_routes, 1);
		udp_forwards_to(&f, keys[i], INFRA "/udp-route-attach-all", "10.0.0.1:8080");
	}
	fx_free(&f);
}

static void udp_parentref_port_and_section_name(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_OPEN("gw", INFRA)
	       UDP_LISTENER("one", 5300) UDP_LISTENER("two", 5301) UDP_LISTENER("three", 5302)
	       USVC_SLICE(INFRA, "udp-echo-by-port", 8080, "10.0.0.1")
	       USVC_SLICE(INFRA, "udp-echo-by-section", 8080, "10.0.0.2")
	       USVC_SLICE(INFRA, "udp-echo-by-section-and-port", 8080, "10.0.0.3")
	       UROUTE(INFRA, "by-port", "2026-01-01T00:00:00Z", "{name: gw, port: 5300}",
		      "[{name: udp-echo-by-port, port: 8080}]")
	       UROUTE(INFRA, "by-section", "2026-01-01T00:00:00Z", "{name: gw, sectionName: two}",
		      "[{name: udp-echo-by-section, port: 8080}]")
	       UROUTE(INFRA, "by-both", "2026-01-01T00:00:00Z",
		      "{name: gw, sectionName: three, port: 5302}",
		      "[{name: udp-echo-by-section-and-port, port: 8080}]"));
	g = st_gw(&f, INFRA, "gw");
	listeners_healthy(g, "UDPRoute");
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(g->listeners[i].attached_routes, 1);
	udp_accepted_resolved(&f, "by-port");
	udp_accepted_resolved(&f, "by-section");
	udp_accepted_resolved(&f, "by-both");
	udp_forwards_to(&f, INFRA "/gw/one", INFRA "/by-port", "10.0.0.1:8080");
	udp_forwards_to(&f, INFRA "/gw/two", INFRA "/by-section", "10.0.0.2:8080");
	udp_forwards_to(&f, INFRA "/gw/three", INFRA "/by-both", "10.0.0.3:8080");
	fx_free(&f);
}

static void udp_not_allowed_by_listeners(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, GW_OPEN("udproute-tls-only-gateway", INFRA)
	       "  - {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough},"
	       " allowedRoutes: {namespaces: {from: Same}}}\n"
	       UROUTE(INFRA, "udproute-not-allowed-by-listeners", "2026-01-01T00:00:00Z",
		      "{name: udproute-tls-only-gateway, sectionName: tls}",
		      "[{name: coredns, port: 53}]"));
	assert_int_equal(st_gw(&f, INFRA, "udproute-tls-only-gateway")->listeners[0].attached_routes,
			 0);
	PCOND(st_udp_route(&f, INFRA, "udproute-not-allowed-by-listeners"), 0, "Accepted",
	      COND_FALSE, "NotAllowedByListeners");
	assert_int_equal(f.p->n, 0);
	fx_free(&f);
}

static void udp_invalid_backendref_nonexistent(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;

	fx_run(&f, GW_OPEN("udp-gateway-invalid-backend", INFRA) UDP_LISTENER("udp", 5300)
	       UROUTE(INFRA, "udp-route-invalid-backend-ref-nonexistent", "2026-01-01T00:00:00Z",
		      "{name: udp-gateway-invalid-backend, sectionName: udp}",
		      "[{name: nonexistent-service, port: 8080}]"));
	listeners_healthy(st_gw(&f, INFRA, "udp-gateway-invalid-backend"), "UDPRoute");
	r = st_udp_route(&f, INFRA, "udp-route-invalid-backend-ref-nonexistent");
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(plan_get(&f, INFRA "/udp-gateway-invalid-backend/udp")->shares[0].reject);
	fx_free(&f);
}

static const char uxns[] =
	GW_OPEN("udp-gateway-xns", INFRA) UDP_LISTENER("udp", 5300)
	USVC_SLICE(APP, "udp-echo-reference-grant", 8080, "10.0.9.9")
	UROUTE(INFRA, "r", "2026-01-01T00:00:00Z", "{name: udp-gateway-xns, sectionName: udp}",
	       "[{name: udp-echo-reference-grant, namespace: " APP ", port: 8080}]");

static void udp_invalid_cross_namespace_backend_ref(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;

	fx_run(&f, uxns);
	listeners_healthy(st_gw(&f, INFRA, "udp-gateway-xns"), "UDPRoute");
	assert_int_equal(st_gw(&f, INFRA, "udp-gateway-xns")->listeners[0].attached_routes, 1);
	r = st_udp_route(&f, INFRA, "r");
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(r, 0, "ResolvedRefs", COND_FALSE, "RefNotPermitted");
	assert_string_equal(plan_get(&f, INFRA "/udp-gateway-xns/udp")->shares[0].reason,
			    "RefNotPermitted");
	fx_free(&f);
}

static void udp_reference_grant(void **state)
{
	static const char grant[] =
		"apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
		"metadata: {name: udp-reference-grant, namespace: " APP "}\n"
		"spec:\n"
		"  from: [{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: " INFRA "}]\n"
		"  to: [{group: \"\", kind: Service, name: udp-echo-reference-grant}]\n"
		"---\n";
	struct fx f = { 0 };

	fx_run(&f, grant);
	fx_load(&f, uxns);
	fx_resolve(&f);
	listeners_healthy(st_gw(&f, INFRA, "udp-gateway-xns"), "UDPRoute");
	udp_accepted_resolved(&f, "r");
	udp_forwards_to(&f, INFRA "/udp-gateway-xns/udp", INFRA "/r", "10.0.9.9:8080");
	fx_free(&f);
}

static void udp_weighted_routing(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW_OPEN("udp-weighted-gateway", INFRA) UDP_LISTENER("udp", 5300)
	       USVC_SLICE(INFRA, "udp-backend-v1", 8080, "10.0.0.1")
	       USVC_SLICE(INFRA, "udp-backend-v2", 8080, "10.0.0.2")
	       USVC_SLICE(INFRA, "udp-backend-v3", 8080, "10.0.0.3")
	       UROUTE(INFRA, "udp-weighted-route", "2026-01-01T00:00:00Z",
		      "{name: udp-weighted-gateway, sectionName: udp}",
		      "[{name: udp-backend-v1, port: 8080, weight: 70},"
		      " {name: udp-backend-v2, port: 8080, weight: 30},"
		      " {name: udp-backend-v3, port: 8080, weight: 0}]"));
	udp_accepted_resolved(&f, "udp-weighted-route");
	pl = plan_get(&f, INFRA "/udp-weighted-gateway/udp");
	assert_int_equal(pl->protocol, IPPROTO_UDP);
	assert_int_equal(pl->n_shares, 3);
	assert_int_equal(pl->shares[0].weight, 70);
	assert_int_equal(pl->shares[1].weight, 30);
	assert_int_equal(pl->shares[2].weight, 0);
	share_endpoints_are(&pl->shares[0], 1, "10.0.0.1:8080");
	share_endpoints_are(&pl->shares[1], 1, "10.0.0.2:8080");
	fx_free(&f);
}

static void udp_multiple_routes_attachment(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_OPEN("udp-multi-route-attach-gateway", INFRA)
	       "  - {name: udp, protocol: UDP, port: 5301, allowedRoutes: {kinds: [{kind: UDPRoute,"
	       " group: gateway.networking.k8s.io}], namespaces: {from: Same}}}\n"
	       USVC_SLICE(INFRA, "udp-attach-backend-1", 8080, "10.0.0.1")
	       USVC_SLICE(INFRA, "udp-attach-backend-2", 8080, "10.0.0.2")
	       UROUTE(INFRA, "udproute-attach-newer", "2026-01-01T00:00:01Z",
		      "{name: udp-multi-route-attach-gateway, sectionName: udp}",
		      "[{name: udp-attach-backend-2, port: 8080}]")
	       UROUTE(INFRA, "udproute-attach-older", "2026-01-01T00:00:00Z",
		      "{name: udp-multi-route-attach-gateway, sectionName: udp}",
		      "[{name: udp-attach-backend-1, port: 8080}]"));
	g = st_gw(&f, INFRA, "udp-multi-route-attach-gateway");
	listeners_healthy(g, "UDPRoute");
	assert_int_equal(g->listeners[0].attached_routes, 2);
	udp_accepted_resolved(&f, "udproute-attach-older");
	udp_accepted_resolved(&f, "udproute-attach-newer");
	udp_forwards_to(&f, INFRA "/udp-multi-route-attach-gateway/udp",
			INFRA "/udproute-attach-older", "10.0.0.1:8080");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parentref_attach_all),
		cmocka_unit_test(parentref_port_and_section_name),
		cmocka_unit_test(invalid_non_tcp_listener),
		cmocka_unit_test(invalid_backendref_nonexistent),
		cmocka_unit_test(invalid_cross_namespace_backend_ref),
		cmocka_unit_test(reference_grant),
		cmocka_unit_test(weighted_routing),
		cmocka_unit_test(multiple_routes_attachment),
		cmocka_unit_test(udp_simple),
		cmocka_unit_test(udp_parentref_attach_all_listeners),
		cmocka_unit_test(udp_parentref_port_and_section_name),
		cmocka_unit_test(udp_not_allowed_by_listeners),
		cmocka_unit_test(udp_invalid_backendref_nonexistent),
		cmocka_unit_test(udp_invalid_cross_namespace_backend_ref),
		cmocka_unit_test(udp_reference_grant),
		cmocka_unit_test(udp_weighted_routing),
		cmocka_unit_test(udp_multiple_routes_attachment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
