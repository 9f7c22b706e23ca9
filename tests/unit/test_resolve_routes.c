/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): attaching TCPRoutes and UDPRoutes (reference/gateway-api.md §1.7, §2, §4, §5.2;
 * §7 traps 1, 8, 9, 10, 12, 15).
 */
#include "resolve_fixture.h"

/* Gateway "gw" in "infra": three TCP listeners and an HTTP one, routes from All. */
#define GW4 \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: gw, namespace: infra, generation: 2}\n" \
	"spec:\n" \
	"  gatewayClassName: nftgate\n" \
	"  listeners:\n" \
	"  - {name: one, port: 9300, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n" \
	"  - {name: two, port: 9301, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n" \
	"  - {name: three, port: 9302, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n" \
	"  - {name: web, port: 9303, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}\n" \
	"---\n" \
	"apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: infra}\n" \
	"spec: {ports: [{name: tcp, port: 3000}]}\n" \
	"---\n"

#define ROUTE(ns, name, parents)                                                        \
	"---\n"                                                                         \
	"apiVersion: gateway.networking.k8s.io/v1alpha2\n"                              \
	"kind: TCPRoute\n"                                                              \
	"metadata: {name: " name ", namespace: " ns ", generation: 5}\n"                \
	"spec:\n"                                                                       \
	"  parentRefs: " parents "\n"                                                   \
	"  rules: [{backendRefs: [{name: svc, namespace: infra, port: 3000}]}]\n"

static void attach_by_section_port_both_neither(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g, *r;

	fx_run(&f, GW4
	       ROUTE("infra", "by-port", "[{name: gw, port: 9300}]")
	       ROUTE("infra", "by-section", "[{name: gw, sectionName: two}]")
	       ROUTE("infra", "by-both", "[{name: gw, sectionName: three, port: 9302}]")
	       ROUTE("infra", "all", "[{name: gw}]"));
	g = st_gw(&f, "infra", "gw");
	/* §7 trap 9: the sectionName-less ref attaches to every TCP listener, not HTTP */
	assert_int_equal(st_listener(g, "one")->attached_routes, 2);
	assert_int_equal(st_listener(g, "two")->attached_routes, 2);
	assert_int_equal(st_listener(g, "three")->attached_routes, 2);
	assert_int_equal(st_listener(g, "web")->attached_routes, 0);
	r = st_route(&f, "infra", "all");
	assert_int_equal(r->n_parents, 1);
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(st_route(&f, "infra", "by-port"), 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(st_route(&f, "infra", "by-section"), 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(st_route(&f, "infra", "by-both"), 0, "Accepted", COND_TRUE, "Accepted");
	fx_free(&f);
}

/* §2.2, §7 trap 10: no listener by that name/port vs listeners that refuse. */
static void no_matching_parent_vs_not_allowed(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;

	fx_run(&f, GW4
	       ROUTE("infra", "bad-section", "[{name: gw, sectionName: nope}]")
	       ROUTE("infra", "bad-port", "[{name: gw, port: 1}]")
	       ROUTE("infra", "mismatch", "[{name: gw, sectionName: one, port: 9301}]")
	       ROUTE("infra", "http", "[{name: gw, sectionName: web}]")
	       ROUTE("infra", "http-port", "[{name: gw, port: 9303}]"));
	PCOND(st_route(&f, "infra", "bad-section"), 0, "Accepted", COND_FALSE, "NoMatchingParent");
	PCOND(st_route(&f, "infra", "bad-port"), 0, "Accepted", COND_FALSE, "NoMatchingParent");
	PCOND(st_route(&f, "infra", "mismatch"), 0, "Accepted", COND_FALSE, "NoMatchingParent");
	r = st_route(&f, "infra", "http");
	assert_true(message_has(PCOND(r, 0, "Accepted", COND_FALSE, "NotAllowedByListeners"),
				"HTTP"));
	/* a refused route still gets its ResolvedRefs */
	PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	PCOND(st_route(&f, "infra", "http-port"), 0, "Accepted", COND_FALSE,
	      "NotAllowedByListeners");
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(st_gw(&f, "infra", "gw")->listeners[i].attached_routes, 0);
	fx_free(&f);
}

/* §7 trap 10: a cross-namespace parentRef is governed by allowedRoutes, not ReferenceGrant. */
static void cross_namespace_parent(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		   "metadata: {name: same, namespace: infra}\n"
		   "spec: {gatewayClassName: nftgate, listeners: [{name: l, port: 1, protocol: TCP}]}\n"
		   "---\n"
		   "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		   "metadata: {name: all, namespace: infra}\n"
		   "spec: {gatewayClassName: nftgate, listeners: [{name: l, port: 2, protocol: TCP,"
		   " allowedRoutes: {namespaces: {from: All}}}]}\n"
		   ROUTE("apps", "r", "[{name: same, namespace: infra}, {name: all, namespace: infra}]"));
	PCOND(st_route(&f, "apps", "r"), 0, "Accepted", COND_FALSE, "NotAllowedByListeners");
	PCOND(st_route(&f, "apps", "r"), 1, "Accepted", COND_TRUE, "Accepted");
	assert_string_equal(plan_get(&f, "infra/all/l")->route, "apps/r");
	fx_free(&f);
}

/* §4.1, §7 traps 1 and 12: full parentRef, controllerName, route generation; only
 * parentRefs naming our Gateways get entries. */
static void parent_status_shape(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;
	const struct parent_status *p;

	fx_run(&f, GW4
	       "---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
	       "metadata: {name: theirs}\nspec: {controllerName: example.com/x}\n"
	       "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
	       "metadata: {name: foreign, namespace: infra}\n"
	       "spec: {gatewayClassName: theirs, listeners: [{name: l, port: 1, protocol: TCP}]}\n"
	       ROUTE("infra", "r", "[{name: missing}, {name: foreign}, {group: example.io, kind: Mesh,"
		     " name: m}, {name: gw, sectionName: two, port: 9301}, {name: gw, sectionName: one, port: 9300}]")
	       ROUTE("infra", "invisible", "[{name: missing}, {name: foreign}]"));
	r = st_route(&f, "infra", "r");
	assert_int_equal(r->generation, 5);
	assert_int_equal(r->n_parents, 2);
	p = &r->parents[0];
	assert_string_equal(p->ref.group, "gateway.networking.k8s.io");
	assert_string_equal(p->ref.kind, "Gateway");
	assert_string_equal(p->ref.namespace, "infra");
	assert_string_equal(p->ref.name, "gw");
	assert_string_equal(p->ref.section, "two");
	assert_int_equal(p->ref.port, 9301);
	assert_string_equal(p->controller_name, CTRL);
	assert_int_equal(PCOND(r, 0, "Accepted", COND_TRUE, "Accepted")->observed_generation, 5);
	assert_int_equal(PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs")->observed_generation,
			 5);
	assert_string_equal(r->parents[1].ref.section, "one");
	assert_int_equal(r->parents[1].ref.port, 9300);
	/* a route with no parentRef to our Gateways gets no status at all */
	assert_null(st_find(&f, KIND_TCP_ROUTE, "infra", "invisible"));
	fx_free(&f);
}

/* §2.4, §7 trap 8: every route Accepted and counted, the oldest carries traffic. */
static void multiple_routes_oldest_wins(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW4
	       "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	       "metadata: {name: a-newer, namespace: infra, creationTimestamp: \"2026-01-02T00:00:00Z\"}\n"
	       "spec: {parentRefs: [{name: gw, sectionName: one}], rules: [{backendRefs: [{name: svc, port: 3000}]}]}\n"
	       "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	       "metadata: {name: z-older, namespace: infra, creationTimestamp: \"2026-01-01T00:00:00Z\"}\n"
	       "spec: {parentRefs: [{name: gw, sectionName: one}], rules: [{backendRefs: [{name: svc, port: 3000}]}]}\n"
	       "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	       "metadata: {name: b-tie, namespace: infra, creationTimestamp: \"2026-01-01T00:00:00Z\"}\n"
	       "spec: {parentRefs: [{name: gw, sectionName: two}], rules: [{backendRefs: [{name: svc, port: 3000}]}]}\n"
	       "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	       "metadata: {name: a-tie, namespace: infra, creationTimestamp: \"2026-01-01T00:00:00Z\"}\n"
	       "spec: {parentRefs: [{name: gw, sectionName: two}], rules: [{backendRefs: [{name: svc, port: 3000}]}]}\n");
	g = st_gw(&f, "infra", "gw");
	assert_int_equal(st_listener(g, "one")->attached_routes, 2);
	assert_int_equal(st_listener(g, "two")->attached_routes, 2);
	PCOND(st_route(&f, "infra", "a-newer"), 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(st_route(&f, "infra", "z-older"), 0, "Accepted", COND_TRUE, "Accepted");
	assert_string_equal(plan_get(&f, "infra/gw/one")->route, "infra/z-older");
	/* same timestamp: namespace/name decides */
	assert_string_equal(plan_get(&f, "infra/gw/two")->route, "infra/a-tie");
	fx_free(&f);
}

/* A route on a conflicted listener is Accepted (the listener admits it) but nothing forwards. */
static void route_on_conflicted_listener(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW4
	       "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
	       "metadata: {name: rival, namespace: other}\n"
	       "spec: {gatewayClassName: nftgate, listeners: [{name: l, port: 9300, protocol: TCP}]}\n"
	       ROUTE("infra", "r", "[{name: gw, sectionName: one}]"));
	PCOND(st_route(&f, "infra", "r"), 0, "Accepted", COND_TRUE, "Accepted");
	assert_int_equal(st_listener(st_gw(&f, "infra", "gw"), "one")->attached_routes, 1);
	pl = plan_get(&f, "infra/gw/one");
	assert_int_equal(pl->action, PLAN_REJECT);
	assert_string_equal(pl->reject_reason, "ProtocolConflict");
	assert_int_equal(pl->n_shares, 0);
	fx_free(&f);
}

/* §7 trap 15: v1alpha2 with several rules: the first carries traffic, and status says so. */
static void several_rules_first_wins(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;
	const struct condition *c;

	fx_run(&f, GW4
	       "---\napiVersion: v1\nkind: Service\nmetadata: {name: second, namespace: infra}\n"
	       "spec: {ports: [{port: 4000}]}\n"
	       "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	       "metadata: {name: r, namespace: infra}\n"
	       "spec:\n"
	       "  parentRefs: [{name: gw, sectionName: one}]\n"
	       "  rules:\n"
	       "  - backendRefs: [{name: svc, port: 3000}]\n"
	       "  - backendRefs: [{name: second, port: 4000}, {name: gone, port: 1}]\n");
	pl = plan_get(&f, "infra/gw/one");
	assert_int_equal(pl->action, PLAN_FORWARD);
	assert_int_equal(pl->n_shares, 1);
	assert_string_equal(pl->shares[0].backend, "Service infra/svc:3000");
	c = PCOND(st_route(&f, "infra", "r"), 0, "Accepted", COND_TRUE, "Accepted");
	assert_true(message_has(c, "only spec.rules[0] carries traffic"));
	/* refs of every rule are still checked and reported */
	c = PCOND(st_route(&f, "infra", "r"), 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(message_has(c, "spec.rules[1].backendRefs[1]"));
	fx_free(&f);
}

/* §7 trap 15: TCPRoute v1 works the same as v1alpha2. */
static void v1_route(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, GW4
	       "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
	       "metadata: {name: r, namespace: infra}\n"
	       "spec: {parentRefs: [{name: gw, sectionName: three}], rules: [{backendRefs: [{name: svc, port: 3000}]}]}\n");
	PCOND(st_route(&f, "infra", "r"), 0, "Accepted", COND_TRUE, "Accepted");
	assert_string_equal(st_route(&f, "infra", "r")->api_version, "gateway.networking.k8s.io/v1");
	assert_string_equal(plan_get(&f, "infra/gw/three")->route, "infra/r");
	fx_free(&f);
}


/* Gateway "mix" in "infra": TCP and UDP listeners, a UDP one allowing TCPRoutes only, TLS. */
#define GW_MIX \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: mix, namespace: infra}\n" \
	"spec:\n" \
	"  gatewayClassName: nftgate\n" \
	"  listeners:\n" \
	"  - {name: tcp, port: 5000, protocol: TCP}\n" \
	"  - {name: udp, port: 5000, protocol: UDP}\n" \
	"  - {name: udp2, port: 5001, protocol: UDP}\n" \
	"  - {name: udp-no, port: 5002, protocol: UDP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}\n" \
	"  - {name: tls, port: 443, protocol: TLS, tls: {mode: Passthrough}}\n" \
	"---\n" \
	"apiVersion: v1\nkind: Service\nmetadata: {name: dns, namespace: infra}\n" \
	"spec: {ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53}]}\n" \
	"---\n" \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n" \
	"metadata: {name: dns-1, namespace: infra, labels: {kubernetes.io/service-name: dns}}\n" \
	"addressType: IPv4\n" \
	"ports: [{name: dns, port: 5353, protocol: UDP}, {name: dns-tcp, port: 5354}]\n" \
	"endpoints: [{addresses: [10.0.0.1]}]\n"

#define KROUTE(kind, name, parents)                                                     \
	"---\n"                                                                         \
	"apiVersion: gateway.networking.k8s.io/v1alpha2\n"                              \
	"kind: " kind "\n"                                                              \
	"metadata: {name: " name ", namespace: infra, generation: 4}\n"                 \
	"spec:\n"                                                                       \
	"  parentRefs: " parents "\n"                                                   \
	"  rules: [{backendRefs: [{name: dns, port: 53}]}]\n"

/* A UDPRoute attaches to UDP listeners that allow UDPRoute only; a TCPRoute never to UDP. */
static void udp_route_attaches_to_udp_listeners(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g, *r;
	const struct plan_listener *pl;
	const struct condition *c;

	fx_run(&f, GW_MIX
	       KROUTE("UDPRoute", "all", "[{name: mix}]")
	       KROUTE("UDPRoute", "by-port", "[{name: mix, port: 5000}]")
	       KROUTE("UDPRoute", "to-tcp", "[{name: mix, sectionName: tcp}]")
	       KROUTE("UDPRoute", "to-tls", "[{name: mix, sectionName: tls}]")
	       KROUTE("UDPRoute", "to-udp-no", "[{name: mix, sectionName: udp-no}]")
	       KROUTE("TCPRoute", "tcp-all", "[{name: mix}]")
	       KROUTE("TCPRoute", "tcp-to-udp", "[{name: mix, sectionName: udp}]"));
	g = st_gw(&f, "infra", "mix");
	assert_int_equal(st_listener(g, "tcp")->attached_routes, 1);
	assert_int_equal(st_listener(g, "udp")->attached_routes, 2);
	assert_int_equal(st_listener(g, "udp2")->attached_routes, 1);
	assert_int_equal(st_listener(g, "udp-no")->attached_routes, 0);
	assert_int_equal(st_listener(g, "tls")->attached_routes, 0);
	r = st_udp_route(&f, "infra", "all");
	assert_true(message_has(PCOND(r, 0, "Accepted", COND_TRUE, "Accepted"),
				"attached to listeners \"udp\", \"udp2\""));
	PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	assert_true(message_has(PCOND(st_udp_route(&f, "infra", "by-port"), 0, "Accepted",
				      COND_TRUE, "Accepted"), "attached to listener \"udp\""));
	c = PCOND(st_udp_route(&f, "infra", "to-tcp"), 0, "Accepted", COND_FALSE,
		  "NotAllowedByListeners");
	assert_true(message_has(c, "listener \"tcp\" has protocol \"TCP\", which cannot carry a "
				   "UDPRoute"));
	c = PCOND(st_udp_route(&f, "infra", "to-tls"), 0, "Accepted", COND_FALSE,
		  "NotAllowedByListeners");
	assert_true(message_has(c, "has protocol \"TLS\", which cannot carry a UDPRoute"));
	c = PCOND(st_udp_route(&f, "infra", "to-udp-no"), 0, "Accepted", COND_FALSE,
		  "NotAllowedByListeners");
	assert_true(message_has(c, "does not allow kind UDPRoute (allowedRoutes.kinds)"));
	assert_true(message_has(PCOND(st_route(&f, "infra", "tcp-all"), 0, "Accepted", COND_TRUE,
				      "Accepted"), "attached to listener \"tcp\""));
	c = PCOND(st_route(&f, "infra", "tcp-to-udp"), 0, "Accepted", COND_FALSE,
		  "NotAllowedByListeners");
	assert_true(message_has(c, "has protocol \"UDP\", which cannot carry a TCPRoute"));
	/* each listener forwards to its own kind's route, to the port of its protocol */
	pl = plan_get(&f, "infra/mix/udp");
	assert_int_equal(pl->protocol, IPPROTO_UDP);
	assert_string_equal(pl->route, "infra/all");
	share_endpoints_are(&pl->shares[0], 1, "10.0.0.1:5353");
	pl = plan_get(&f, "infra/mix/tcp");
	assert_int_equal(pl->protocol, IPPROTO_TCP);
	assert_string_equal(pl->route, "infra/tcp-all");
	share_endpoints_are(&pl->shares[0], 1, "10.0.0.1:5354");
	assert_string_equal(plan_get(&f, "infra/mix/udp-no")->reject_reason, "NoRoute");
	assert_null(plan_find(&f, "infra/mix/tls"));
	fx_free(&f);
}

/* A TCPRoute and a UDPRoute may share a namespace/name: two routes, two statuses. */
static void udp_and_tcp_route_of_one_name(void **state)
{
	struct fx f = { 0 };
	const struct object_status *t, *u;

	fx_run(&f, GW_MIX
	       KROUTE("UDPRoute", "r", "[{name: mix, sectionName: udp}]")
	       KROUTE("TCPRoute", "r", "[{name: mix, sectionName: tcp}]"));
	t = st_route(&f, "infra", "r");
	u = st_udp_route(&f, "infra", "r");
	assert_ptr_not_equal(t, u);
	PCOND(t, 0, "Accepted", COND_TRUE, "Accepted");
	PCOND(u, 0, "Accepted", COND_TRUE, "Accepted");
	assert_string_equal(u->parents[0].ref.section, "udp");
	assert_string_equal(t->parents[0].ref.section, "tcp");
	assert_int_equal(plan_get(&f, "infra/mix/udp")->protocol, IPPROTO_UDP);
	assert_string_equal(plan_get(&f, "infra/mix/udp")->route, "infra/r");
	share_endpoints_are(&plan_get(&f, "infra/mix/udp")->shares[0], 1, "10.0.0.1:5353");
	share_endpoints_are(&plan_get(&f, "infra/mix/tcp")->shares[0], 1, "10.0.0.1:5354");
	fx_free(&f);
}

/* §4.1: a UDPRoute's parent entries are shaped as a TCPRoute's. */
static void udp_route_status_shape(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;
	const struct parent_status *p;

	fx_run(&f, GW_MIX KROUTE("UDPRoute", "u", "[{name: mix, sectionName: udp2}, {name: missing}]"));
	r = st_udp_route(&f, "infra", "u");
	assert_string_equal(kind_name(r->kind), "UDPRoute");
	assert_string_equal(r->api_version, "gateway.networking.k8s.io/v1alpha2");
	assert_int_equal(r->generation, 4);
	assert_int_equal(r->n_parents, 1);
	p = &r->parents[0];
	assert_string_equal(p->ref.group, "gateway.networking.k8s.io");
	assert_string_equal(p->ref.kind, "Gateway");
	assert_string_equal(p->ref.namespace, "infra");
	assert_string_equal(p->ref.name, "mix");
	assert_string_equal(p->controller_name, CTRL);
	assert_int_equal(PCOND(r, 0, "Accepted", COND_TRUE, "Accepted")->observed_generation, 4);
	PCOND(r, 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	assert_null(st_find(&f, KIND_TCP_ROUTE, "infra", "u"));
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(attach_by_section_port_both_neither),
		cmocka_unit_test(no_matching_parent_vs_not_allowed),
		cmocka_unit_test(cross_namespace_parent),
		cmocka_unit_test(parent_status_shape),
		cmocka_unit_test(multiple_routes_oldest_wins),
		cmocka_unit_test(route_on_conflicted_listener),
		cmocka_unit_test(several_rules_first_wins),
		cmocka_unit_test(v1_route),
		cmocka_unit_test(udp_route_attaches_to_udp_listeners),
		cmocka_unit_test(udp_and_tcp_route_of_one_name),
		cmocka_unit_test(udp_route_status_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
