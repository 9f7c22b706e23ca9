/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): GatewayClasses, Gateways, listeners, addresses and conflicts
 * (reference/gateway-api.md §1, §7 traps 6, 7, 13, 16).
 */
#include "resolve_fixture.h"

#define GW_HEAD(name, ns)                                                                \
	"apiVersion: gateway.networking.k8s.io/v1\n"                                      \
	"kind: Gateway\n"                                                                 \
	"metadata: {name: " name ", namespace: " ns ", generation: 7}\n"                  \
	"spec:\n"                                                                         \
	"  gatewayClassName: nftgate\n"

static void class_of_ours_is_accepted(void **state)
{
	struct fx f = { 0 };
	const struct object_status *c;

	fx_run(&f, "apiVersion: gateway.networking.k8s.io/v1\n"
		   "kind: GatewayClass\n"
		   "metadata: {name: other}\n"
		   "spec: {controllerName: example.com/other}\n");
	c = st_find(&f, KIND_GATEWAY_CLASS, NULL, "nftgate");
	assert_non_null(c);
	assert_int_equal(OCOND(c, "Accepted", COND_TRUE, "Accepted")->observed_generation, 3);
	/* other controllers' classes get nothing from us */
	assert_null(st_find(&f, KIND_GATEWAY_CLASS, NULL, "other"));
	fx_free(&f);
}

static const char two_classes_gateways[] =
	"apiVersion: gateway.networking.k8s.io/v1\n"
	"kind: GatewayClass\n"
	"metadata: {name: theirs}\n"
	"spec: {controllerName: example.com/other}\n"
	"---\n"
	"apiVersion: gateway.networking.k8s.io/v1\n"
	"kind: Gateway\n"
	"metadata: {name: foreign, namespace: default}\n"
	"spec:\n"
	"  gatewayClassName: theirs\n"
	"  listeners: [{name: a, port: 9000, protocol: TCP}]\n"
	"---\n"
	"apiVersion: gateway.networking.k8s.io/v1\n"
	"kind: Gateway\n"
	"metadata: {name: claimed, namespace: default}\n"
	"spec:\n"
	"  gatewayClassName: by-name\n"
	"  listeners: [{name: a, port: 9001, protocol: TCP}]\n";

static void gateways_of_other_classes_are_ignored(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, two_classes_gateways);
	assert_null(st_find(&f, KIND_GATEWAY, "default", "foreign"));
	assert_null(st_find(&f, KIND_GATEWAY, "default", "claimed"));
	assert_int_equal(f.p->n, 0);
	fx_free(&f);
}

static void claimed_class_name_without_object(void **state)
{
	static const char *const names[] = { "by-name", "theirs" };
	struct resolve_opts o = { .claimed_classes = names, .n_claimed_classes = 2 };
	struct fx f = { 0 };

	fx_load(&f, two_classes_gateways);
	fx_resolve_opts(&f, &o);
	st_gw(&f, "default", "claimed");
	assert_non_null(plan_find(&f, "default/claimed/a"));
	/* a GatewayClass object of that name exists with another controller: not claimed */
	assert_null(st_find(&f, KIND_GATEWAY, "default", "foreign"));
	assert_null(plan_find(&f, "default/foreign/a"));
	/* no object, so no GatewayClass status either */
	assert_null(st_find(&f, KIND_GATEWAY_CLASS, NULL, "by-name"));
	fx_free(&f);
}

static void controller_name_option(void **state)
{
	struct resolve_opts o = { .controller_name = "example.com/other" };
	struct fx f = { 0 };

	fx_load(&f, CLASS_YAML);
	fx_load(&f, two_classes_gateways);
	fx_resolve_opts(&f, &o);
	assert_null(st_find(&f, KIND_GATEWAY_CLASS, NULL, "nftgate"));
	assert_non_null(st_find(&f, KIND_GATEWAY_CLASS, NULL, "theirs"));
	st_gw(&f, "default", "foreign");
	assert_string_equal(plan_get(&f, "default/foreign/a")->gateway, "default/foreign");
	fx_free(&f);
}

static void healthy_tcp_listener(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;
	const struct plan_listener *pl;

	fx_run(&f, GW_HEAD("gw", "default") "  listeners: [{name: foo, port: 8080, protocol: TCP}]\n");
	g = st_gw(&f, "default", "gw");
	assert_int_equal(g->generation, 7);
	assert_int_equal(OCOND(g, "Accepted", COND_TRUE, "Accepted")->observed_generation, 7);
	assert_int_equal(OCOND(g, "Programmed", COND_TRUE, "Programmed")->observed_generation, 7);
	assert_int_equal(g->n_addresses, 0);
	l = st_listener(g, "foo");
	/* §7 trap 13: absent kinds mean TCPRoute; healthy listeners carry ResolvedRefs=True */
	assert_int_equal(l->n_supported_kinds, 1);
	assert_string_equal(l->supported_kinds[0].group, "gateway.networking.k8s.io");
	assert_string_equal(l->supported_kinds[0].kind, "TCPRoute");
	assert_int_equal(l->attached_routes, 0);
	LCOND(l, "Accepted", COND_TRUE, "Accepted");
	LCOND(l, "Programmed", COND_TRUE, "Programmed");
	assert_int_equal(LCOND(l, "ResolvedRefs", COND_TRUE, "ResolvedRefs")->observed_generation, 7);
	LCOND(l, "Conflicted", COND_FALSE, "NoConflicts");
	/* §7 trap 6: no route, still in the plan, rejecting */
	pl = plan_get(&f, "default/gw/foo");
	assert_int_equal(pl->action, PLAN_REJECT);
	assert_string_equal(pl->reject_reason, "NoRoute");
	assert_int_equal(pl->port, 8080);
	assert_int_equal(pl->protocol, IPPROTO_TCP);
	assert_int_equal(pl->n_addrs, 0);
	assert_null(pl->route);
	fx_free(&f);
}

static void unsupported_protocol_listener(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;

	fx_run(&f, GW_HEAD("mixed", "default")
		   "  listeners:\n"
		   "  - {name: web, port: 80, protocol: HTTP}\n"
		   "  - {name: tcp, port: 9000, protocol: TCP}\n"
		   "---\n" GW_HEAD("http-only", "default")
		   "  listeners: [{name: web, port: 81, protocol: HTTP}]\n");
	g = st_gw(&f, "default", "mixed");
	l = st_listener(g, "web");
	assert_int_equal(l->n_supported_kinds, 0);
	assert_int_equal(l->attached_routes, 0);
	LCOND(l, "Accepted", COND_FALSE, "UnsupportedProtocol");
	LCOND(l, "Programmed", COND_FALSE, "Invalid");
	/* §1.4, §1.5: partially valid Gateway */
	OCOND(g, "Accepted", COND_TRUE, "ListenersNotValid");
	OCOND(g, "Programmed", COND_TRUE, "Programmed");
	g = st_gw(&f, "default", "http-only");
	OCOND(g, "Accepted", COND_FALSE, "ListenersNotValid");
	OCOND(g, "Programmed", COND_FALSE, "Invalid");
	/* unsupported listeners are not in the plan: nftgate leaves their port alone */
	assert_int_equal(f.p->n, 1);
	assert_string_equal(f.p->v[0].key, "default/mixed/tcp");
	fx_free(&f);
}

static void invalid_route_kinds(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;

	fx_run(&f, GW_HEAD("gw", "default")
		   "  listeners:\n"
		   "  - name: mixed\n"
		   "    port: 9000\n"
		   "    protocol: TCP\n"
		   "    allowedRoutes:\n"
		   "      kinds: [{kind: HTTPRoute}, {group: \"\", kind: TCPRoute}, {kind: TCPRoute}]\n"
		   "  - name: only-invalid\n"
		   "    port: 9001\n"
		   "    protocol: TCP\n"
		   "    allowedRoutes: {kinds: [{kind: UDPRoute}]}\n"
		   "---\n"
		   "apiVersion: gateway.networking.k8s.io/v1alpha2\n"
		   "kind: TCPRoute\n"
		   "metadata: {name: r, namespace: default}\n"
		   "spec:\n"
		   "  parentRefs: [{name: gw, sectionName: only-invalid}]\n"
		   "  rules: [{backendRefs: [{name: s, port: 80}]}]\n");
	g = st_gw(&f, "default", "gw");
	l = st_listener(g, "mixed");
	/* §1.3: invalid kinds left out, the valid one still listed */
	assert_int_equal(l->n_supported_kinds, 1);
	assert_string_equal(l->supported_kinds[0].kind, "TCPRoute");
	assert_string_equal(l->supported_kinds[0].group, "gateway.networking.k8s.io");
	LCOND(l, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds");
	l = st_listener(g, "only-invalid");
	assert_int_equal(l->n_supported_kinds, 0);
	assert_int_equal(l->attached_routes, 0);
	assert_true(message_has(LCOND(l, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds"),
				"UDPRoute"));
	PCOND(st_route(&f, "default", "r"), 0, "Accepted", COND_FALSE, "NotAllowedByListeners");
	assert_string_equal(plan_get(&f, "default/gw/only-invalid")->reject_reason, "NoRoute");
	fx_free(&f);
}

static void gateway_addresses(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct plan_listener *pl;
	char text[INET6_ADDRSTRLEN];

	fx_run(&f, GW_HEAD("ip", "default")
		   "  addresses: [{value: 192.0.2.10}, {type: IPAddress, value: \"2001:db8::1\"}]\n"
		   "  listeners: [{name: a, port: 9000, protocol: TCP}]\n"
		   "---\n" GW_HEAD("named", "default")
		   "  addresses: [{type: Hostname, value: gw.example.com}]\n"
		   "  listeners: [{name: a, port: 9000, protocol: TCP}]\n");
	g = st_gw(&f, "default", "ip");
	OCOND(g, "Accepted", COND_TRUE, "Accepted");
	/* §1.2: status.addresses always typed */
	assert_int_equal(g->n_addresses, 2);
	assert_string_equal(g->addresses[0].type, "IPAddress");
	assert_string_equal(g->addresses[0].value, "192.0.2.10");
	assert_string_equal(g->addresses[1].type, "IPAddress");
	assert_string_equal(g->addresses[1].value, "2001:db8::1");
	pl = plan_get(&f, "default/ip/a");
	assert_int_equal(pl->n_addrs, 2);
	assert_int_equal(pl->addrs[0].family, AF_INET);
	inet_ntop(AF_INET, pl->addrs[0].addr, text, sizeof(text));
	assert_string_equal(text, "192.0.2.10");
	assert_int_equal(pl->addrs[1].family, AF_INET6);
	g = st_gw(&f, "default", "named");
	OCOND(g, "Accepted", COND_FALSE, "UnsupportedAddress");
	OCOND(g, "Programmed", COND_FALSE, "Invalid");
	LCOND(st_listener(g, "a"), "Programmed", COND_FALSE, "Invalid");
	assert_null(plan_find(&f, "default/named/a"));
	/* the refused Gateway takes no port, so it does not conflict with "ip" */
	LCOND(st_listener(st_gw(&f, "default", "ip"), "a"), "Conflicted", COND_FALSE, "NoConflicts");
	fx_free(&f);
}

/* §1.4, §7 trap 7: two Gateways on one port of every address: both conflicted, no winner. */
static void conflicts_across_gateways(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;
	const struct plan_listener *pl;

	fx_run(&f, GW_HEAD("one", "a")
		   "  listeners: [{name: x, port: 8080, protocol: TCP}, {name: y, port: 8081, protocol: TCP}]\n"
		   "---\n" GW_HEAD("two", "b")
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n");
	g = st_gw(&f, "a", "one");
	l = st_listener(g, "x");
	LCOND(l, "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(l, "Accepted", COND_FALSE, "ProtocolConflict");
	LCOND(l, "Programmed", COND_FALSE, "Invalid");
	LCOND(st_listener(g, "y"), "Conflicted", COND_FALSE, "NoConflicts");
	OCOND(g, "Accepted", COND_TRUE, "ListenersNotValid");
	OCOND(g, "Programmed", COND_TRUE, "Programmed");
	g = st_gw(&f, "b", "two");
	LCOND(st_listener(g, "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	OCOND(g, "Accepted", COND_FALSE, "ListenersNotValid");
	OCOND(g, "Programmed", COND_FALSE, "Invalid");
	/* all conflicted listeners reject, even that of the Gateway left with none */
	pl = plan_get(&f, "a/one/x");
	assert_int_equal(pl->action, PLAN_REJECT);
	assert_string_equal(pl->reject_reason, "ProtocolConflict");
	pl = plan_get(&f, "b/two/x");
	assert_int_equal(pl->action, PLAN_REJECT);
	assert_string_equal(pl->reject_reason, "ProtocolConflict");
	assert_string_equal(plan_get(&f, "a/one/y")->reject_reason, "NoRoute");
	fx_free(&f);
}

static void conflicts_by_address(void **state)
{
	struct fx f = { 0 };

	/* distinct addresses on one port: distinct listeners */
	fx_run(&f, GW_HEAD("one", "a")
		   "  addresses: [{value: 192.0.2.1}]\n"
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n"
		   "---\n" GW_HEAD("two", "a")
		   "  addresses: [{value: 192.0.2.2}, {value: 192.0.2.3}]\n"
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n"
		   "---\n" GW_HEAD("three", "a")
		   "  addresses: [{value: 192.0.2.3}]\n"
		   "  listeners: [{name: x, port: 8080, protocol: TCP}, {name: z, port: 8090, protocol: TCP}]\n");
	LCOND(st_listener(st_gw(&f, "a", "one"), "x"), "Conflicted", COND_FALSE, "NoConflicts");
	LCOND(st_listener(st_gw(&f, "a", "two"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(st_listener(st_gw(&f, "a", "three"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(st_listener(st_gw(&f, "a", "three"), "z"), "Conflicted", COND_FALSE, "NoConflicts");
	assert_int_equal(plan_get(&f, "a/one/x")->action, PLAN_REJECT);
	assert_string_equal(plan_get(&f, "a/one/x")->reject_reason, "NoRoute");
	fx_free(&f);

	/* a Gateway without addresses listens everywhere: it overlaps all of them */
	fx_run(&f, GW_HEAD("one", "a")
		   "  addresses: [{value: 192.0.2.1}]\n"
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n"
		   "---\n" GW_HEAD("two", "a")
		   "  addresses: [{value: \"2001:db8::2\"}]\n"
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n"
		   "---\n" GW_HEAD("any", "a")
		   "  listeners: [{name: x, port: 8080, protocol: TCP}]\n");
	LCOND(st_listener(st_gw(&f, "a", "one"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(st_listener(st_gw(&f, "a", "two"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(st_listener(st_gw(&f, "a", "any"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	fx_free(&f);
}

/* §1.4, §7 trap 16: TCP and UDP on a port are distinct; HTTP (unsupported) is no conflict. */
static void no_conflict_with_other_protocols(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, GW_HEAD("gw", "a")
		   "  listeners:\n"
		   "  - {name: tcp, port: 5000, protocol: TCP}\n"
		   "  - {name: udp, port: 5000, protocol: UDP}\n"
		   "---\n" GW_HEAD("web", "a")
		   "  listeners: [{name: http, port: 5000, protocol: HTTP}]\n");
	g = st_gw(&f, "a", "gw");
	LCOND(st_listener(g, "tcp"), "Conflicted", COND_FALSE, "NoConflicts");
	LCOND(st_listener(g, "tcp"), "Accepted", COND_TRUE, "Accepted");
	LCOND(st_listener(g, "udp"), "Conflicted", COND_FALSE, "NoConflicts");
	LCOND(st_listener(g, "udp"), "Accepted", COND_TRUE, "Accepted");
	OCOND(g, "Accepted", COND_TRUE, "Accepted");
	LCOND(st_listener(st_gw(&f, "a", "web"), "http"), "Accepted", COND_FALSE,
	      "UnsupportedProtocol");
	assert_int_equal(f.p->n, 2);
	assert_int_equal(plan_get(&f, "a/gw/tcp")->protocol, IPPROTO_TCP);
	assert_int_equal(plan_get(&f, "a/gw/udp")->protocol, IPPROTO_UDP);
	assert_string_equal(plan_get(&f, "a/gw/tcp")->reject_reason, "NoRoute");
	assert_string_equal(plan_get(&f, "a/gw/udp")->reject_reason, "NoRoute");
	fx_free(&f);
}

/* A UDP listener is served as a TCP one is, carrying UDPRoutes (§1.3). */
static void healthy_udp_listener(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;
	const struct plan_listener *pl;

	fx_run(&f, GW_HEAD("gw", "default") "  addresses: [{value: 192.0.2.1}]\n"
		   "  listeners: [{name: dns, port: 53, protocol: UDP}]\n");
	g = st_gw(&f, "default", "gw");
	OCOND(g, "Accepted", COND_TRUE, "Accepted");
	OCOND(g, "Programmed", COND_TRUE, "Programmed");
	l = st_listener(g, "dns");
	assert_int_equal(l->n_supported_kinds, 1);
	assert_string_equal(l->supported_kinds[0].group, "gateway.networking.k8s.io");
	assert_string_equal(l->supported_kinds[0].kind, "UDPRoute");
	LCOND(l, "Accepted", COND_TRUE, "Accepted");
	LCOND(l, "Programmed", COND_TRUE, "Programmed");
	LCOND(l, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	LCOND(l, "Conflicted", COND_FALSE, "NoConflicts");
	pl = plan_get(&f, "default/gw/dns");
	assert_int_equal(pl->protocol, IPPROTO_UDP);
	assert_int_equal(pl->port, 53);
	assert_int_equal(pl->n_addrs, 1);
	assert_int_equal(pl->action, PLAN_REJECT);
	assert_string_equal(pl->reject_reason, "NoRoute");
	fx_free(&f);
}

/* allowedRoutes.kinds of a UDP listener: UDPRoute only (§1.3). */
static void udp_route_kinds(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;
	const struct listener_status *l;

	fx_run(&f, GW_HEAD("gw", "default")
		   "  listeners:\n"
		   "  - {name: mixed, port: 53, protocol: UDP, allowedRoutes: {kinds: [{kind: TCPRoute},"
		   " {kind: UDPRoute}, {group: \"\", kind: UDPRoute}]}}\n"
		   "  - {name: only-tcp, port: 54, protocol: UDP, allowedRoutes: {kinds: [{kind: TCPRoute}]}}\n"
		   "  - {name: tcp-udp, port: 55, protocol: TCP, allowedRoutes: {kinds: [{kind: UDPRoute}]}}\n");
	g = st_gw(&f, "default", "gw");
	l = st_listener(g, "mixed");
	assert_int_equal(l->n_supported_kinds, 1);
	assert_string_equal(l->supported_kinds[0].kind, "UDPRoute");
	assert_true(message_has(LCOND(l, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds"),
				"allowedRoutes.kinds[0] {group: \"gateway.networking.k8s.io\", kind: "
				"\"TCPRoute\"}, allowedRoutes.kinds[2] {group: \"\", kind: \"UDPRoute\"}: "
				"a UDP listener can only carry gateway.networking.k8s.io/UDPRoute"));
	l = st_listener(g, "only-tcp");
	assert_int_equal(l->n_supported_kinds, 0);
	LCOND(l, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds");
	LCOND(l, "Accepted", COND_TRUE, "Accepted");
	l = st_listener(g, "tcp-udp");
	assert_int_equal(l->n_supported_kinds, 0);
	assert_true(message_has(LCOND(l, "ResolvedRefs", COND_FALSE, "InvalidRouteKinds"),
				"a TCP listener can only carry gateway.networking.k8s.io/TCPRoute"));
	fx_free(&f);
}

/* §1.4: two UDP listeners on one port conflict, across Gateways too; a TCP one there does not. */
static void udp_conflicts(void **state)
{
	struct fx f = { 0 };
	const struct listener_status *l;

	fx_run(&f, GW_HEAD("one", "a") "  listeners: [{name: x, port: 53, protocol: UDP}]\n"
		   "---\n" GW_HEAD("two", "a") "  addresses: [{value: 192.0.2.1}]\n"
		   "  listeners: [{name: x, port: 53, protocol: UDP}, {name: y, port: 54, protocol: UDP}]\n"
		   "---\n" GW_HEAD("three", "a") "  listeners: [{name: x, port: 53, protocol: TCP}]\n");
	l = st_listener(st_gw(&f, "a", "one"), "x");
	LCOND(l, "Conflicted", COND_TRUE, "ProtocolConflict");
	assert_true(message_has(LCOND(l, "Accepted", COND_FALSE, "ProtocolConflict"),
				"UDP port 53 overlaps another UDP listener"));
	LCOND(st_listener(st_gw(&f, "a", "two"), "x"), "Conflicted", COND_TRUE, "ProtocolConflict");
	LCOND(st_listener(st_gw(&f, "a", "two"), "y"), "Conflicted", COND_FALSE, "NoConflicts");
	LCOND(st_listener(st_gw(&f, "a", "three"), "x"), "Conflicted", COND_FALSE, "NoConflicts");
	assert_true(message_has(OCOND(st_gw(&f, "a", "one"), "Accepted", COND_FALSE,
				      "ListenersNotValid"), "\"x\" (ProtocolConflict)"));
	assert_string_equal(plan_get(&f, "a/one/x")->reject_reason, "ProtocolConflict");
	assert_string_equal(plan_get(&f, "a/two/x")->reject_reason, "ProtocolConflict");
	assert_string_equal(plan_get(&f, "a/three/x")->reject_reason, "NoRoute");
	fx_free(&f);
}

/* §1.3, §7 trap 14: Selector on Namespace labels; a missing selector matches nothing. */
static void namespace_selectors(void **state)
{
	struct fx f = { 0 };
	const struct object_status *g;

	fx_run(&f, "apiVersion: v1\nkind: Namespace\n"
		   "metadata: {name: blue, labels: {team: blue, env: prod}}\n"
		   "---\napiVersion: v1\nkind: Namespace\n"
		   "metadata: {name: red, labels: {team: red}}\n"
		   "---\n" GW_HEAD("gw", "infra")
		   "  listeners:\n"
		   "  - {name: labels, port: 1, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchLabels: {team: blue}}}}}\n"
		   "  - {name: in, port: 2, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchExpressions: [{key: team, operator: In, values: [red, green]}]}}}}\n"
		   "  - {name: notin, port: 3, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchExpressions: [{key: team, operator: NotIn, values: [red]}]}}}}\n"
		   "  - {name: exists, port: 4, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchExpressions: [{key: env, operator: Exists}]}}}}\n"
		   "  - {name: absent, port: 5, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchExpressions: [{key: env, operator: DoesNotExist}]}}}}\n"
		   "  - {name: both, port: 6, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchLabels: {team: blue}, matchExpressions: [{key: env, operator: DoesNotExist}]}}}}\n"
		   "  - {name: missing, port: 7, protocol: TCP, allowedRoutes: {namespaces: {from: Selector}}}\n"
		   "  - {name: empty, port: 8, protocol: TCP, allowedRoutes: {namespaces: {from: Selector, selector: {}}}}\n"
		   "  - {name: byname, port: 9, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
		   " selector: {matchLabels: {kubernetes.io/metadata.name: ghost}}}}}\n"
		   "  - {name: same, port: 10, protocol: TCP}\n"
		   "  - {name: all, port: 11, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n"
		   "---\n"
		   "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
		   "metadata: {name: r, namespace: blue}\n"
		   "spec: {parentRefs: [{name: gw, namespace: infra}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\n"
		   "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
		   "metadata: {name: r, namespace: red}\n"
		   "spec: {parentRefs: [{name: gw, namespace: infra}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\n"
		   "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
		   "metadata: {name: r, namespace: ghost, labels: {team: blue}}\n"
		   "spec: {parentRefs: [{name: gw, namespace: infra}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n");
	g = st_gw(&f, "infra", "gw");
	/* blue: labels, notin, exists, empty, all; red: in, absent, empty, all; ghost (no
	 * Namespace object; the route's own labels do not count): notin, absent, empty, byname,
	 * all */
	assert_int_equal(st_listener(g, "labels")->attached_routes, 1);
	assert_int_equal(st_listener(g, "in")->attached_routes, 1);
	assert_int_equal(st_listener(g, "notin")->attached_routes, 2);
	assert_int_equal(st_listener(g, "exists")->attached_routes, 1);
	assert_int_equal(st_listener(g, "absent")->attached_routes, 2);
	assert_int_equal(st_listener(g, "both")->attached_routes, 0);
	assert_int_equal(st_listener(g, "missing")->attached_routes, 0);
	assert_int_equal(st_listener(g, "empty")->attached_routes, 3);
	assert_int_equal(st_listener(g, "byname")->attached_routes, 1);
	assert_int_equal(st_listener(g, "same")->attached_routes, 0);
	assert_int_equal(st_listener(g, "all")->attached_routes, 3);
	PCOND(st_route(&f, "blue", "r"), 0, "Accepted", COND_TRUE, "Accepted");
	assert_string_equal(plan_get(&f, "infra/gw/labels")->route, "blue/r");
	assert_string_equal(plan_get(&f, "infra/gw/byname")->route, "ghost/r");
	assert_string_equal(plan_get(&f, "infra/gw/missing")->reject_reason, "NoRoute");
	fx_free(&f);
}

static void status_order(void **state)
{
	struct fx f = { 0 };
	static const char *const want[][3] = {
		{ "GatewayClass", "", "a-class" }, { "GatewayClass", "", "nftgate" },
		{ "Gateway", "a", "z" },           { "Gateway", "b", "a" },
		{ "TCPRoute", "a", "r" },          { "TCPRoute", "b", "r" },
		{ "UDPRoute", "a", "r" },          { "UDPRoute", "a", "s" },
	};

	fx_run(&f, "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
		   "metadata: {name: a-class}\nspec: {controllerName: " CTRL "}\n"
		   "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
		   "metadata: {name: r, namespace: b}\n"
		   "spec: {parentRefs: [{name: a}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\n" GW_HEAD("a", "b") "  listeners: [{name: l, port: 1, protocol: TCP}]\n"
		   "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
		   "metadata: {name: r, namespace: a}\n"
		   "spec: {parentRefs: [{name: z}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\n"
		   "metadata: {name: s, namespace: a}\n"
		   "spec: {parentRefs: [{name: z}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\n"
		   "metadata: {name: r, namespace: a}\n"
		   "spec: {parentRefs: [{name: z}], rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
		   "---\n" GW_HEAD("z", "a") "  listeners: [{name: l, port: 2, protocol: TCP}]\n");
	assert_int_equal(f.st->n, 8);
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(kind_name(f.st->v[i].kind), want[i][0]);
		assert_string_equal(f.st->v[i].namespace ? f.st->v[i].namespace : "", want[i][1]);
		assert_string_equal(f.st->v[i].name, want[i][2]);
	}
	/* plan sorted by key */
	assert_int_equal(f.p->n, 2);
	assert_string_equal(f.p->v[0].key, "a/z/l");
	assert_string_equal(f.p->v[1].key, "b/a/l");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(class_of_ours_is_accepted),
		cmocka_unit_test(gateways_of_other_classes_are_ignored),
		cmocka_unit_test(claimed_class_name_without_object),
		cmocka_unit_test(controller_name_option),
		cmocka_unit_test(healthy_tcp_listener),
		cmocka_unit_test(unsupported_protocol_listener),
		cmocka_unit_test(invalid_route_kinds),
		cmocka_unit_test(gateway_addresses),
		cmocka_unit_test(conflicts_across_gateways),
		cmocka_unit_test(conflicts_by_address),
		cmocka_unit_test(no_conflict_with_other_protocols),
		cmocka_unit_test(healthy_udp_listener),
		cmocka_unit_test(udp_route_kinds),
		cmocka_unit_test(udp_conflicts),
		cmocka_unit_test(namespace_selectors),
		cmocka_unit_test(status_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
