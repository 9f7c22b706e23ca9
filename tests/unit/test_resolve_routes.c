/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): attaching TCPRoutes (reference/gateway-api.md §1.7, §2, §4; §7 traps 1, 8, 9,
 * 10, 12, 15).
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
