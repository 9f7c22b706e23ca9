/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifest reader: typing, defaults, every validation rule, bounds and bad input.
 * Each case loads a YAML string and checks the store or the error it must produce.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/read.h"
#include "model/store_view.h"
#include "alloc_fail.h"

struct ctx {
	struct store *s;
	struct diags d;
	int r;
};

static struct ctx C;

static int setup(void **state)
{
	C.s = store_new();
	memset(&C.d, 0, sizeof(C.d));
	C.r = 0;
	return C.s ? 0 : -1;
}

static int teardown(void **state)
{
	C.s = store_free(C.s);
	diags_clear(&C.d);
	return 0;
}

static int load_lim(const char *yaml, const struct read_limits *lim)
{
	C.r = store_load_buffer(C.s, "t.yaml", yaml, strlen(yaml), lim, &C.d);
	return C.r;
}

static int load(const char *yaml)
{
	return load_lim(yaml, &read_limits_default);
}

/* True when some error mentions every one of the given fragments. */
static bool has_error(const char *a, const char *b)
{
	for (size_t i = 0; i < C.d.n; i++) {
		char buf[2048];

		snprintf(buf, sizeof(buf), "%s:%u: %s: %s: %s", C.d.v[i].file, C.d.v[i].line,
			 C.d.v[i].object ? C.d.v[i].object : "", C.d.v[i].field ? C.d.v[i].field : "",
			 C.d.v[i].message);
		if (strstr(buf, a) && (!b || strstr(buf, b)))
			return true;
	}
	diags_print(&C.d, stderr);
	return false;
}

#define ROUTE_HEAD "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n  name: r\n"
#define ROUTE_ALPHA "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata:\n  name: r\n"
#define GW_HEAD "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: g\n" \
		"spec:\n  gatewayClassName: c\n"
#define SVC_HEAD "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"
#define SVC_PORTS "spec:\n  ports: [{port: 80}]\n"
#define SLICE_HEAD "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s-1\n" \
		   "  labels: {kubernetes.io/service-name: s}\n"
#define NS_DOC_T(n) "apiVersion: v1\nkind: Namespace\nmetadata: {name: " n "}\n"

/* Loads one bad object: it must be refused with an error naming both fragments. */
static size_t n_objects(void)
{
	return C.s->n_routes + C.s->n_gateways + C.s->n_services + C.s->n_slices +
	       C.s->n_classes + C.s->n_grants + C.s->n_namespaces;
}

static void expect_error(const char *yaml, const char *frag1, const char *frag2)
{
	size_t before = n_objects();

	assert_int_equal(load(yaml), -EINVAL);
	assert_true(has_error(frag1, frag2));
	assert_int_equal(n_objects(), before);
}

/* True when no error mentions both fragments. */
static bool no_error(const char *a, const char *b)
{
	for (size_t i = 0; i < C.d.n; i++) {
		char buf[2048];

		snprintf(buf, sizeof(buf), "%s:%u: %s: %s: %s", C.d.v[i].file, C.d.v[i].line,
			 C.d.v[i].object ? C.d.v[i].object : "", C.d.v[i].field ? C.d.v[i].field : "",
			 C.d.v[i].message);
		if (strstr(buf, a) && (!b || strstr(buf, b))) {
			diags_print(&C.d, stderr);
			return false;
		}
	}
	return true;
}

static void expect_ok(const char *yaml)
{
	int r = load(yaml);

	if (r)
		diags_print(&C.d, stderr);
	assert_int_equal(r, 0);
	assert_int_equal(C.d.n, 0);
}

/* ---------- defaults ---------- */

static void test_basic_route_defaults(void **state)
{
	const struct route *r;

	expect_ok(ROUTE_HEAD "spec:\n  parentRefs:\n  - name: gw\n    sectionName: foo\n"
		  "  rules:\n  - backendRefs:\n    - name: svc\n      port: 6000\n");
	assert_int_equal(C.s->n_routes, 1);
	r = &C.s->routes[0];
	assert_string_equal(r->m.namespace, "default");
	assert_int_equal(r->m.generation, 1);
	assert_true(r->m.created == INT64_MAX);
	assert_null(r->m.created_text);
	assert_string_equal(r->m.api_version, "gateway.networking.k8s.io/v1");
	assert_int_equal(r->m.loc.line, 1);
	assert_string_equal(r->m.loc.file, "t.yaml");
	assert_string_equal(r->parents[0].group, "gateway.networking.k8s.io");
	assert_string_equal(r->parents[0].kind, "Gateway");
	assert_string_equal(r->parents[0].namespace, "default");
	assert_false(r->parents[0].group_set || r->parents[0].kind_set || r->parents[0].namespace_set);
	assert_string_equal(r->parents[0].section, "foo");
	assert_int_equal(r->parents[0].port, 0);
	assert_string_equal(r->rules[0].refs[0].group, "");
	assert_string_equal(r->rules[0].refs[0].kind, "Service");
	assert_string_equal(r->rules[0].refs[0].namespace, "default");
	assert_int_equal(r->rules[0].refs[0].weight, 1);
	assert_int_equal(r->rules[0].refs[0].port, 6000);
	assert_int_equal(r->rules[0].refs[0].loc.line, 11);
	assert_null(r->rules[0].name);
}

static void test_route_explicit_fields(void **state)
{
	const struct route *r;

	expect_ok("apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n  name: r\n"
		  "  namespace: apps\n  generation: 7\n  creationTimestamp: \"2024-01-02T03:04:05Z\"\n"
		  "spec:\n  parentRefs:\n  - {name: gw, namespace: infra, group: gateway.networking.k8s.io,"
		  " kind: Gateway, port: 8080}\n"
		  "  rules:\n  - name: main\n    backendRefs:\n    - {name: svc, namespace: other, port: 1, weight: 0}\n");
	r = &C.s->routes[0];
	assert_string_equal(r->m.namespace, "apps");
	assert_int_equal(r->m.generation, 7);
	assert_true(r->m.created == 1704164645);
	assert_true(r->parents[0].namespace_set && r->parents[0].group_set && r->parents[0].kind_set);
	assert_string_equal(r->parents[0].namespace, "infra");
	assert_int_equal(r->parents[0].port, 8080);
	assert_string_equal(r->rules[0].name, "main");
	assert_string_equal(r->rules[0].refs[0].namespace, "other");
	assert_int_equal(r->rules[0].refs[0].weight, 0);
}

static void test_timestamps(void **state)
{
	static const struct { const char *text; int64_t t; } ok[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-01-02T03:04:05.123456Z", 1704164645 },
		{ "2024-01-02T04:04:05+01:00", 1704164645 },
		{ "2024-01-01T22:04:05-05:00", 1704164645 },
		{ "2000-02-29T00:00:00Z", 951782400 },
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n%zu\n"
			 "  creationTimestamp: %s\n", i, ok[i].text);
		expect_ok(buf);
		assert_true(C.s->namespaces[i].m.created == ok[i].t);
		assert_string_equal(C.s->namespaces[i].m.created_text, ok[i].text);
	}
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bad\n"
		     "  creationTimestamp: 2023-02-29T00:00:00Z\n", "creationTimestamp", "RFC 3339");
}

static void test_gateway_defaults(void **state)
{
	const struct gateway *g;

	expect_ok(GW_HEAD "  listeners:\n  - {name: a, port: 80, protocol: TCP}\n"
		  "  - {name: b, port: 81, protocol: TCP, allowedRoutes: {}}\n"
		  "  - {name: c, port: 82, protocol: TCP, allowedRoutes: {namespaces: {}}}\n"
		  "  - {name: d, port: 83, protocol: TCP, allowedRoutes: {namespaces: {from: All},"
		  " kinds: [{kind: TCPRoute}, {group: '', kind: TCPRoute}]}}\n"
		  "  addresses:\n  - value: 10.0.0.1\n  - {type: Hostname, value: a.example.com}\n");
	g = &C.s->gateways[0];
	assert_string_equal(g->class_name, "c");
	assert_int_equal(g->n_listeners, 4);
	assert_int_equal(g->listeners[0].from, FROM_SAME);
	assert_int_equal(g->listeners[1].from, FROM_SAME);
	assert_int_equal(g->listeners[2].from, FROM_SAME);
	assert_int_equal(g->listeners[3].from, FROM_ALL);
	assert_null(g->listeners[0].selector);
	assert_int_equal(g->listeners[0].n_kinds, 0);
	assert_int_equal(g->listeners[3].n_kinds, 2);
	assert_string_equal(g->listeners[3].kinds[0].group, "gateway.networking.k8s.io");
	assert_string_equal(g->listeners[3].kinds[1].group, "");
	assert_string_equal(g->addresses[0].type, "IPAddress");
	assert_string_equal(g->addresses[1].type, "Hostname");
	assert_int_equal(g->listeners[0].port, 80);
	assert_string_equal(g->listeners[0].protocol, "TCP");
	assert_null(g->listeners[0].hostname);
	assert_false(g->listeners[0].has_tls);
}

static void test_gateway_selector(void **state)
{
	const struct listener *l;

	expect_ok(GW_HEAD "  listeners:\n  - name: a\n    port: 80\n    protocol: TCP\n"
		  "    allowedRoutes:\n      namespaces:\n        from: Selector\n        selector:\n"
		  "          matchLabels: {team: a}\n          matchExpressions:\n"
		  "          - {key: env, operator: In, values: [prod, 'yes']}\n"
		  "          - {key: x, operator: DoesNotExist}\n");
	l = &C.s->gateways[0].listeners[0];
	assert_int_equal(l->from, FROM_SELECTOR);
	assert_non_null(l->selector);
	assert_int_equal(l->selector->match_labels.n, 1);
	assert_string_equal(l->selector->match_labels.v[0].value, "a");
	assert_int_equal(l->selector->n_exprs, 2);
	assert_int_equal(l->selector->exprs[0].op, SEL_IN);
	assert_int_equal(l->selector->exprs[0].n_values, 2);
	assert_string_equal(l->selector->exprs[0].values[1], "yes");
	assert_int_equal(l->selector->exprs[1].op, SEL_DOES_NOT_EXIST);
}

static void test_service_slice_namespace_defaults(void **state)
{
	const struct endpoint_slice *e;

	expect_ok(SVC_HEAD "spec:\n  ports:\n  - port: 6000\n---\n" SLICE_HEAD
		  "addressType: IPv4\nports:\n- port: 8080\n- name: x\nendpoints:\n"
		  "- addresses: [10.0.0.1]\n- addresses: [10.0.0.2]\n"
		  "  conditions: {ready: false, serving: false, terminating: true}\n---\n"
		  "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps, labels: {team: a}}\n---\n"
		  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n  namespace: ignored\n"
		  "  labels: {kubernetes.io/metadata.name: other}\n");
	assert_string_equal(C.s->services[0].type, "ClusterIP");
	assert_string_equal(C.s->services[0].ports[0].protocol, "TCP");
	assert_string_equal(C.s->services[0].ports[0].name, "");
	e = &C.s->slices[0];
	assert_string_equal(e->service_name, "s");
	assert_int_equal(e->address_type, ADDR_IPV4);
	assert_string_equal(e->ports[0].name, "");
	assert_string_equal(e->ports[0].protocol, "TCP");
	assert_int_equal(e->ports[0].port, 8080);
	assert_int_equal(e->ports[1].port, -1);
	assert_true(e->endpoints[0].ready && e->endpoints[0].serving && !e->endpoints[0].terminating);
	assert_true(!e->endpoints[1].ready && !e->endpoints[1].serving && e->endpoints[1].terminating);
	assert_int_equal(C.s->n_namespaces, 2);
	assert_null(C.s->namespaces[0].m.namespace);
	assert_int_equal(C.s->namespaces[0].m.labels.n, 2);
	assert_string_equal(C.s->namespaces[0].m.labels.v[1].key, "kubernetes.io/metadata.name");
	assert_string_equal(C.s->namespaces[0].m.labels.v[1].value, "apps");
	assert_null(C.s->namespaces[1].m.namespace);
	assert_int_equal(C.s->namespaces[1].m.labels.n, 1);
}

static void test_class_and_grant(void **state)
{
	expect_ok("apiVersion: gateway.networking.k8s.io/v1beta1\nkind: GatewayClass\nmetadata: {name: c}\n"
		  "spec: {controllerName: nftgate.io/agent, description: short}\n---\n"
		  "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
		  "metadata: {name: g, namespace: b}\nspec:\n  from:\n  - {group: gateway.networking.k8s.io,"
		  " kind: TCPRoute, namespace: a}\n  to:\n  - {group: '', kind: Service}\n");
	assert_string_equal(C.s->classes[0].controller_name, "nftgate.io/agent");
	assert_null(C.s->classes[0].m.namespace);
	assert_string_equal(C.s->grants[0].from[0].namespace, "a");
	assert_string_equal(C.s->grants[0].to[0].group, "");
	assert_null(C.s->grants[0].to[0].name);
}

/* ---------- typing ---------- */

static void test_typing_strings(void **state)
{
	expect_ok(GW_HEAD "  listeners:\n  - {name: a, port: 80, protocol: TCP}\n"
		  "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: on\n  labels: {a: yes, b: no,"
		  " c: 0x10, d: 123, e: 'on'}\n");
	assert_string_equal(C.s->namespaces[0].m.name, "on");
	assert_string_equal(C.s->namespaces[0].m.labels.v[0].value, "yes");
	assert_string_equal(C.s->namespaces[0].m.labels.v[1].value, "no");
	assert_string_equal(C.s->namespaces[0].m.labels.v[2].value, "0x10");
	assert_string_equal(C.s->namespaces[0].m.labels.v[3].value, "123");
}

static void test_typing_quoted_int(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: svc\n      port: \"8080\"\n",
		     "t.yaml:9: TCPRoute default/r: spec.rules[0].backendRefs[0].port",
		     "must be an integer, got the string \"8080\"");
}

static void test_typing_int_traps(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: svc\n      port: 0x10\n",
		     "port", "must be an integer");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: svc\n      port: 80.0\n",
		     "port", "must be an integer");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: svc\n      port: {a: 1}\n",
		     "port", "got a mapping");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: svc\n      port: 1\n"
		     "      weight: 99999999999999999999999\n", "weight", "out of range");
}

static void test_typing_bool(void **state)
{
	expect_error(SLICE_HEAD "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n"
		     "  conditions: {ready: yes}\n", "conditions.ready", "true or false");
	expect_error(SLICE_HEAD "addressType: IPv4\nendpoints:\n- addresses: [10.0.0.1]\n"
		     "  conditions: {ready: \"true\"}\n", "conditions.ready", "true or false");
}

static void test_typing_null_means_absent(void **state)
{
	expect_ok(ROUTE_HEAD "  namespace: ~\nspec:\n  parentRefs: null\n  rules:\n  - name:\n    backendRefs:\n"
		  "    - {name: svc, port: 1, weight: ~, namespace: null}\n");
	assert_string_equal(C.s->routes[0].m.namespace, "default");
	assert_int_equal(C.s->routes[0].n_parents, 0);
	assert_int_equal(C.s->routes[0].rules[0].refs[0].weight, 1);
	assert_null(C.s->routes[0].rules[0].name);
}

static void test_typing_shape_mismatch(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  rules: {a: b}\n", "spec.rules", "must be a list, got a mapping");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: [x]\n      port: 1\n",
		     "backendRefs[0].name", "must be a string, got a sequence");
	expect_error(ROUTE_HEAD "spec: hello\n", "spec", "must be a mapping");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - 42\n", "spec.rules[0]", "must be a mapping");
}

/* ---------- TCPRoute validation ---------- */

#define RULE1 "  rules:\n  - backendRefs:\n    - {name: svc, port: 1}\n"

static void test_route_spec_and_rules_required(void **state)
{
	expect_error(ROUTE_HEAD, "TCPRoute default/r: spec", "is required");
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g}]\n", "spec.rules", "is required");
	expect_error(ROUTE_HEAD "spec:\n  rules: []\n", "spec.rules", "at least 1");
}

static void test_route_rule_count_by_version(void **state)
{
	const char *two = "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1}]\n"
			  "  - backendRefs: [{name: b, port: 1}]\n";
	char buf[1024];

	snprintf(buf, sizeof(buf), ROUTE_HEAD "%s", two);
	expect_error(buf, "spec.rules", "has 2 entries, must have 1..1");
	diags_clear(&C.d);
	snprintf(buf, sizeof(buf), ROUTE_ALPHA "%s", two);
	expect_ok(buf);
	assert_int_equal(C.s->routes[0].n_rules, 2);
}

/* A v1 route written with several rules (a v1alpha2 habit): the rules are still checked,
 * so that one run reports their errors too, as the API server would. */
static void test_route_v1_extra_rules_still_checked(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1}]\n"
		     "  - backendRefs: [{name: b}]\n", "spec.rules", "has 2 entries, must have 1..1");
	assert_true(has_error("spec.rules[1].backendRefs[0].port", "is required"));
	assert_int_equal(C.d.n, 2);
}

static void test_route_alpha_17_rules(void **state)
{
	char buf[4096];
	int o = snprintf(buf, sizeof(buf), ROUTE_ALPHA "spec:\n  rules:\n");

	for (int i = 0; i < 17; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "  - backendRefs: [{name: a, port: 1}]\n");
	expect_error(buf, "spec.rules", "has 17 entries, must have 1..16");
}

static void test_route_rule_name(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - name: Bad_Name\n    backendRefs: [{name: a, port: 1}]\n",
		     "spec.rules[0].name", "\"Bad_Name\" is not a valid section name");
	expect_error(ROUTE_ALPHA "spec:\n  rules:\n  - name: x\n    backendRefs: [{name: a, port: 1}]\n"
		     "  - name: x\n    backendRefs: [{name: b, port: 1}]\n",
		     "spec.rules[1].name", "must be unique");
}

static void test_route_backend_rules(void **state)
{
	char buf[4096];
	int o;

	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: []\n", "backendRefs", "at least 1");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - name: a\n", "backendRefs", "is required");
	o = snprintf(buf, sizeof(buf), ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n");
	for (int i = 0; i < 17; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "    - {name: a%d, port: 1}\n", i);
	expect_error(buf, "backendRefs", "has 17 entries, must have 1..16");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{port: 1}]\n", "backendRefs[0].name",
		     "is required");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: '', port: 1}]\n",
		     "backendRefs[0].name", "is not a valid name");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, group: Foo.Bar}]\n",
		     "backendRefs[0].group", "not a valid group");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, kind: 9Svc}]\n",
		     "backendRefs[0].kind", "not a valid kind");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, namespace: A_b}]\n",
		     "backendRefs[0].namespace", "not a valid namespace");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - name: a\n      port: 70000\n",
		     "t.yaml:9: TCPRoute default/r: spec.rules[0].backendRefs[0].port",
		     "70000 is out of range (1..65535)");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 0}]\n", "port",
		     "out of range");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a}]\n", "backendRefs[0].port",
		     "is required for a Service reference");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, weight: 1000001}]\n",
		     "weight", "out of range (0..1000000)");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, weight: -1}]\n",
		     "weight", "out of range");
}

static void test_route_backend_port_optional_for_other_kinds(void **state)
{
	expect_ok(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, group: example.com, kind: Thing}]\n");
	assert_int_equal(C.s->routes[0].rules[0].refs[0].port, 0);
}

static void test_route_parent_rules(void **state)
{
	char buf[8192];
	int o;

	o = snprintf(buf, sizeof(buf), ROUTE_HEAD "spec:\n  parentRefs:\n");
	for (int i = 0; i < 33; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "  - {name: g%d}\n", i);
	snprintf(buf + o, sizeof(buf) - o, RULE1);
	expect_error(buf, "spec.parentRefs", "has 33 entries, must have 0..32");
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{sectionName: a}]\n" RULE1, "parentRefs[0].name",
		     "is required");
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g, sectionName: -a}]\n" RULE1,
		     "parentRefs[0].sectionName", "not a valid section name");
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g, port: 65536}]\n" RULE1,
		     "parentRefs[0].port", "out of range");
}

static void test_route_parent_distinct_v1(void **state)
{
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g}, {name: g, sectionName: a}]\n" RULE1,
		     "parentRefs[1]", "sectionName must be specified");
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g, sectionName: a}, {name: g, sectionName: a}]\n"
		     RULE1, "parentRefs[1]", "sectionName must be unique");
	/* v1 only looks at sectionName: the same section on two ports is a duplicate */
	expect_error(ROUTE_HEAD "spec:\n  parentRefs: [{name: g, sectionName: a, port: 1},"
		     " {name: g, sectionName: a, port: 2}]\n" RULE1, "parentRefs[1]", "must be unique");
	diags_clear(&C.d);
	expect_ok(ROUTE_HEAD "spec:\n  parentRefs: [{name: g, sectionName: a}, {name: g, sectionName: b},"
		  " {name: h}, {name: g, namespace: other}]\n" RULE1);
}

static void test_route_parent_distinct_alpha(void **state)
{
	expect_ok(ROUTE_ALPHA "spec:\n  parentRefs: [{name: g, sectionName: a, port: 1},"
		  " {name: g, sectionName: a, port: 2}]\n" RULE1);
	expect_error(ROUTE_ALPHA "spec:\n  parentRefs: [{name: g, port: 1}, {name: g, sectionName: a}]\n"
		     RULE1, "parentRefs[1]", "sectionName or port must be specified");
	expect_error(ROUTE_ALPHA "spec:\n  parentRefs: [{name: g, port: 1}, {name: g, port: 1}]\n"
		     RULE1, "parentRefs[1]", "sectionName or port must be unique");
}

/* ---------- Gateway validation ---------- */

static void test_gateway_required(void **state)
{
	expect_error("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\n"
		     "spec:\n  listeners: [{name: a, port: 1, protocol: TCP}]\n",
		     "spec.gatewayClassName", "is required");
	expect_error(GW_HEAD, "spec.listeners", "is required");
	expect_error(GW_HEAD "  listeners: []\n", "spec.listeners", "at least 1");
	expect_error(GW_HEAD "  listeners: [{name: a, protocol: TCP}]\n", "listeners[0].port", "is required");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1}]\n", "listeners[0].protocol", "is required");
	expect_error(GW_HEAD "  listeners: [{port: 1, protocol: TCP}]\n", "listeners[0].name", "is required");
}

static void test_gateway_listener_count(void **state)
{
	char buf[8192];
	int o = snprintf(buf, sizeof(buf), GW_HEAD "  listeners:\n");

	for (int i = 0; i < 65; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "  - {name: l%d, port: %d, protocol: TCP}\n", i, i + 1);
	expect_error(buf, "spec.listeners", "has 65 entries, must have 1..64");
}

static void test_gateway_listener_rules(void **state)
{
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}, {name: a, port: 2, protocol: TCP}]\n",
		     "listeners[1]", "names must be unique");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}, {name: b, port: 1, protocol: TCP}]\n",
		     "listeners[1]", "combination must be unique");
	expect_error(GW_HEAD "  listeners: [{name: A, port: 1, protocol: TCP}]\n", "listeners[0].name",
		     "not a valid section name");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 0, protocol: TCP}]\n", "listeners[0].port",
		     "out of range (1..65535)");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: 'T CP'}]\n", "listeners[0].protocol",
		     "not a valid protocol");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, hostname: a.com}]\n",
		     "listeners[0].hostname", "must not be set for protocol TCP");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: UDP, tls: {}}]\n",
		     "listeners[0].tls", "must not be set for protocol UDP");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: HTTP, tls: {mode: Terminate}}]\n",
		     "listeners[0].tls", "must not be set for protocol HTTP");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TLS}]\n", "listeners[0].tls.mode",
		     "is required for protocol TLS");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: HTTPS, tls: {mode: Passthrough}}]\n",
		     "listeners[0].tls.mode", "must be Terminate");
	diags_clear(&C.d);
	/* TCP and UDP on one port are distinct; HTTP, HTTPS and custom protocols parse */
	expect_ok(GW_HEAD "  listeners:\n  - {name: a, port: 1, protocol: TCP}\n"
		  "  - {name: b, port: 1, protocol: UDP}\n  - {name: c, port: 2, protocol: HTTP, hostname: '*.a.com'}\n"
		  "  - {name: d, port: 3, protocol: TLS, tls: {mode: Passthrough}}\n"
		  "  - {name: e, port: 4, protocol: example.com/proto}\n");
	assert_true(C.s->gateways[0].listeners[3].has_tls);
}

static void test_gateway_allowed_routes(void **state)
{
	char buf[4096];
	int o;

	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces: {from: None}}}]\n",
		     "allowedRoutes.namespaces.from", "\"None\" is not one of All, Selector, Same");
	o = snprintf(buf, sizeof(buf), GW_HEAD "  listeners:\n  - name: a\n    port: 1\n    protocol: TCP\n"
		     "    allowedRoutes:\n      kinds:\n");
	for (int i = 0; i < 9; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "      - kind: K%d\n", i);
	expect_error(buf, "allowedRoutes.kinds", "has 9 entries, must have 0..8");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {kinds: [{group: x}]}}]\n",
		     "allowedRoutes.kinds[0].kind", "is required");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces:"
		     " {from: Selector, selector: {matchExpressions: [{key: a, operator: Is}]}}}}]\n",
		     "matchExpressions[0].operator", "not one of In, NotIn, Exists, DoesNotExist");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces:"
		     " {from: Selector, selector: {matchExpressions: [{key: a, operator: In}]}}}}]\n",
		     "matchExpressions[0].values", "non-empty for operator In");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces:"
		     " {from: Selector, selector: {matchExpressions: [{key: a, operator: NotIn, values: []}]}}}}]\n",
		     "matchExpressions[0].values", "non-empty");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces:"
		     " {from: Selector, selector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}}}]\n",
		     "matchExpressions[0].values", "must be empty for operator Exists");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP, allowedRoutes: {namespaces:"
		     " {from: Selector, selector: {matchExpressions: [{key: a, operator: DoesNotExist, values: [x]}]}}}}]\n",
		     "matchExpressions[0].values", "must be empty");
}

static void test_gateway_addresses(void **state)
{
	char buf[4096];
	int o;

	o = snprintf(buf, sizeof(buf), GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n  addresses:\n");
	for (int i = 0; i < 17; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "  - value: 10.0.0.%d\n", i + 1);
	expect_error(buf, "spec.addresses", "has 17 entries, must have 0..16");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n  addresses: [{value: 10.0.0.256}]\n",
		     "addresses[0].value", "\"10.0.0.256\" is not a valid IPv4 or IPv6 address");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n  addresses: [{value: '010.0.0.1'}]\n",
		     "addresses[0].value", "not a valid IPv4");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n"
		     "  addresses: [{value: 'fd00::1'}, {type: IPAddress, value: 'fd00::1'}]\n",
		     "addresses[1].value", "must be unique");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n"
		     "  addresses: [{type: Hostname, value: a.com}, {type: Hostname, value: a.com}]\n",
		     "addresses[1].value", "must be unique");
	expect_error(GW_HEAD "  listeners: [{name: a, port: 1, protocol: TCP}]\n"
		     "  addresses: [{type: Hostname, value: 'A_B'}]\n", "addresses[0].value", "not a valid hostname");
}

static void test_gateway_class_rules(void **state)
{
	expect_error("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\nspec: {}\n",
		     "spec.controllerName", "is required");
	expect_error("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\n"
		     "spec: {controllerName: nodomain}\n", "spec.controllerName", "not a valid controller name");
	expect_error("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\n"
		     "spec: {controllerName: a.io/x, description: "
		     "'0123456789012345678901234567890123456789012345678901234567890123456789'}\n",
		     "spec.description", "at most 64");
}

static void test_reference_grant_rules(void **state)
{
	const char *head = "apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\n"
			   "metadata: {name: g}\n";
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", head);
	expect_error(buf, "ReferenceGrant default/g: spec", "is required");
	snprintf(buf, sizeof(buf), "%sspec:\n  to: [{group: '', kind: Service}]\n", head);
	expect_error(buf, "spec.from", "is required");
	snprintf(buf, sizeof(buf), "%sspec:\n  from: []\n  to: [{group: '', kind: Service}]\n", head);
	expect_error(buf, "spec.from", "at least 1");
	snprintf(buf, sizeof(buf), "%sspec:\n  from: [{group: '', kind: TCPRoute}]\n"
		 "  to: [{group: '', kind: Service}]\n", head);
	expect_error(buf, "spec.from[0].namespace", "is required");
	snprintf(buf, sizeof(buf), "%sspec:\n  from: [{kind: TCPRoute, namespace: a}]\n"
		 "  to: [{group: '', kind: Service}]\n", head);
	expect_error(buf, "spec.from[0].group", "is required");
	snprintf(buf, sizeof(buf), "%sspec:\n  from: [{group: '', kind: TCPRoute, namespace: a}]\n"
		 "  to: [{group: ''}]\n", head);
	expect_error(buf, "spec.to[0].kind", "is required");
}

/* ---------- core kinds ---------- */

static void test_service_rules(void **state)
{
	expect_error("apiVersion: v1\nkind: Service\nmetadata: {name: 1abc}\n", "metadata.name",
		     "not an RFC 1035 label");
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, name: a}, {port: 2}]\n", "spec.ports[1].name",
		     "more than one port");
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, name: a}, {port: 2, name: a}]\n",
		     "spec.ports[1].name", "must be unique");
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 65536}]\n", "spec.ports[0].port", "out of range");
	expect_error(SVC_HEAD "spec:\n  ports: [{name: a}]\n", "spec.ports[0].port", "is required");
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, protocol: ICMP}]\n", "spec.ports[0].protocol",
		     "one of TCP, UDP, SCTP");
	expect_error(SVC_HEAD "spec:\n  type: Magic\n", "spec.type", "one of ClusterIP");
}

/* A bad port name is reported as bad, not also as missing. */
static void test_service_port_name_reported_once(void **state)
{
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, name: a}, {port: 2, name: A}]\n",
		     "spec.ports[1].name", "not a valid port name");
	assert_true(no_error("spec.ports[1].name", "more than one port"));
	assert_int_equal(C.d.n, 1);
}

/* ValidateService: ports are required unless the Service is headless or ExternalName. */
static void test_service_ports_required(void **state)
{
	expect_error(SVC_HEAD, "spec.ports", "is required");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  ports: []\n", "spec.ports", "is required");
	diags_clear(&C.d);
	expect_ok(SVC_HEAD "spec:\n  clusterIP: None\n");
	expect_ok("apiVersion: v1\nkind: Service\nmetadata: {name: ext}\n"
		  "spec:\n  type: ExternalName\n  externalName: db.example.com\n");
	assert_int_equal(C.s->n_services, 2);
	assert_int_equal(C.s->services[0].n_ports, 0);
}

/* ValidateService: an ExternalName Service needs a DNS name in spec.externalName. */
static void test_service_external_name(void **state)
{
	expect_error(SVC_HEAD "spec:\n  type: ExternalName\n", "spec.externalName", "is required");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  type: ExternalName\n  externalName: Bad_Name\n",
		     "spec.externalName", "\"Bad_Name\" is not");
	diags_clear(&C.d);
	expect_ok(SVC_HEAD "spec:\n  type: ExternalName\n  externalName: db.example.com.\n");
}

/* targetPort is an int-or-string: a number 1..65535 (0 means "same as port") or a port name
 * (IANA service name: at most 15 of [-a-z0-9] with a letter, no leading, trailing or double
 * '-'). Typed by how it is written: "8080" in quotes is a name, and not a valid one. */
static void test_service_target_port(void **state)
{
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: 70000}]\n",
		     "spec.ports[0].targetPort", "out of range");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: '8080'}]\n",
		     "spec.ports[0].targetPort", "\"8080\" is not");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: a--b}]\n",
		     "spec.ports[0].targetPort", "\"a--b\" is not");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: averyveryverylongname}]\n",
		     "spec.ports[0].targetPort", "is not");
	diags_clear(&C.d);
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: [1]}]\n",
		     "spec.ports[0].targetPort", "a sequence");
	diags_clear(&C.d);
	expect_ok(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: http-alt, name: a}, "
		  "{port: 2, targetPort: 8080, name: b}, {port: 3, targetPort: 0, name: c}]\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The API server sets no maximum on Service ports, so up to max_items of them can come in:
 * the name and port/protocol uniqueness checks must not be quadratic (40,000 ports took
 * seconds when they were). The duplicates are still found, each against its first use. */
static void test_service_many_ports(void **state)
{
	size_t n = 40000, cap = n * 40 + 256, o;
	char *buf = malloc(cap);
	double t0;

	assert_non_null(buf);
	o = (size_t)snprintf(buf, cap, SVC_HEAD "spec:\n  ports:\n");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o, "  - {port: %zu, name: p%zu}\n", i % 60000 + 1, i);
	o += (size_t)snprintf(buf + o, cap - o, "  - {port: 60002, name: p3}\n  - {port: 60001, name: x}\n"
			      "  - {port: 5, name: y, protocol: UDP}\n  - {port: 5, name: z, protocol: UDP}\n");
	t0 = now_s();
	expect_error(buf, "spec.ports[40000].name", "\"p3\" is used twice (also spec.ports[3])");
	fprintf(stderr, "%zu Service ports checked in %.3f s\n", n, now_s() - t0);
	assert_true(has_error("spec.ports[40003]:", "port 5/UDP is listed twice (also spec.ports[40002])"));
	assert_int_equal(C.d.n, 2);
	free(buf);
}

/* An unknown addressType does not hide the other errors of the slice's endpoints. */
static void test_slice_errors_with_bad_address_type(void **state)
{
	expect_error(SLICE_HEAD "addressType: IPv5\nendpoints:\n- addresses: []\n"
		     "- addresses: [10.0.0.1]\n  conditions: {ready: 'yes'}\n",
		     "addressType", "not one of IPv4, IPv6, FQDN");
	assert_true(has_error("endpoints[0].addresses", "at least 1"));
	assert_true(has_error("endpoints[1].conditions.ready", "true or false"));
	assert_int_equal(C.d.n, 3);
}

static void test_slice_rules(void **state)
{
	char buf[16384];
	int o;

	expect_error(SLICE_HEAD "endpoints: []\n", "addressType", "is required");
	expect_error(SLICE_HEAD "addressType: IPv5\n", "addressType", "not one of IPv4, IPv6, FQDN");
	expect_error(SLICE_HEAD "addressType: IPv4\nendpoints:\n- addresses: []\n", "endpoints[0].addresses",
		     "at least 1");
	expect_error(SLICE_HEAD "addressType: IPv4\nendpoints:\n- addresses: ['fd00::1']\n",
		     "endpoints[0].addresses[0]", "not a valid IPv4 address");
	expect_error(SLICE_HEAD "addressType: IPv6\nendpoints:\n- addresses: [10.0.0.1]\n",
		     "endpoints[0].addresses[0]", "not a valid IPv6 address");
	expect_error(SLICE_HEAD "addressType: IPv4\nports: [{port: 65536}]\n", "ports[0].port", "out of range (0..65535)");
	expect_error(SLICE_HEAD "addressType: IPv4\nports: [{name: a, port: 1}, {name: a, port: 2}]\n",
		     "ports[1].name", "must be unique");
	/* a bad item before them must not hide a duplicate, and indexes are the input's */
	expect_error(SLICE_HEAD "addressType: IPv4\nports: [{name: a, port: 1}, x, {name: a, port: 2}]\n",
		     "ports[2].name", "\"a\" is used twice (also ports[0])");
	o = snprintf(buf, sizeof(buf), SLICE_HEAD "addressType: IPv4\nendpoints:\n- addresses: [");
	for (int i = 0; i < 101; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "%s10.0.0.%d", i ? ", " : "", i % 250 + 1);
	snprintf(buf + o, sizeof(buf) - o, "]\n");
	expect_error(buf, "endpoints[0].addresses", "has 101 entries, must have 1..100");
	o = snprintf(buf, sizeof(buf), SLICE_HEAD "addressType: IPv4\nports:\n");
	for (int i = 0; i < 101; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "- {name: p%d, port: %d}\n", i, i + 1);
	expect_error(buf, "ports", "has 101 entries, must have 0..100");
	diags_clear(&C.d);
	expect_ok(SLICE_HEAD "addressType: FQDN\nendpoints:\n- addresses: [a.example.com]\n---\n"
		  "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: nolabel}\n"
		  "addressType: IPv6\nports: [{port: 0}]\nendpoints:\n- addresses: ['fd00::1']\n");
	assert_null(C.s->slices[1].service_name);
	assert_int_equal(C.s->slices[1].ports[0].port, 0);
}

static void test_slice_endpoint_count(void **state)
{
	size_t cap = 1001 * 40 + 512, o;
	char *buf = malloc(cap);

	assert_non_null(buf);
	o = (size_t)snprintf(buf, cap, SLICE_HEAD "addressType: IPv4\nendpoints:\n");
	for (int i = 0; i < 1001; i++)
		o += (size_t)snprintf(buf + o, cap - o, "- addresses: [10.0.%d.%d]\n", i / 250, i % 250 + 1);
	expect_error(buf, "endpoints", "has 1001 entries, must have 0..1000");
	free(buf);
}

static void test_metadata_rules(void **state)
{
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n", "metadata.name", "is required");
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", "metadata.name",
		     "not an RFC 1123 label");
	expect_error(ROUTE_HEAD "  namespace: Bad\nspec:\n" RULE1, "metadata.namespace", "not an RFC 1123 label");
	expect_error("apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata: {name: UPPER}\n"
		     "spec:\n" RULE1, "metadata.name", "not an RFC 1123 subdomain");
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {'-bad': x}}\n",
		     "metadata.labels", "not a valid label key");
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {good: 'a b'}}\n",
		     "metadata.labels.good", "not a valid label value");
	expect_error("apiVersion: v1\nkind: Namespace\n", "metadata.name", "is required");
}

/* ---------- documents, kinds, versions ---------- */

static void test_doc_kind_and_version(void **state)
{
	expect_error("kind: Service\nmetadata: {name: a}\n", "t.yaml:1", "apiVersion: is required");
	diags_clear(&C.d);
	expect_error("apiVersion: v1\nmetadata: {name: a}\n", "kind", "is required");
	diags_clear(&C.d);
	expect_error("apiVersion: gateway.networking.k8s.io/v2\nkind: TCPRoute\nmetadata: {name: a}\n",
		     "TCPRoute default/a: apiVersion", "not a supported version of TCPRoute");
	diags_clear(&C.d);
	expect_error("apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: Gateway\nmetadata: {name: a}\n",
		     "apiVersion", "not a supported version of Gateway");
	diags_clear(&C.d);
	expect_error("- a\n- b\n", "t.yaml:1", "must be a mapping");
}

/* An unsupported apiVersion still names the object, as every input error must. */
static void test_bad_version_names_object(void **state)
{
	expect_error("apiVersion: v2\nkind: Service\nmetadata: {name: s, namespace: apps}\n",
		     "t.yaml:1: Service apps/s: apiVersion", "not a supported version of Service");
	diags_clear(&C.d);
	expect_error("apiVersion: v2\nkind: Service\nmetadata: {name: s}\n",
		     "Service default/s: apiVersion", "\"v2\"");
	diags_clear(&C.d);
	expect_error("apiVersion: v2\nkind: Namespace\nmetadata: {name: n}\n",
		     "Namespace n: apiVersion", "\"v2\"");
	diags_clear(&C.d);
	expect_error("apiVersion: v2\nkind: Namespace\nmetadata: [x]\n",
		     "Namespace: apiVersion", "\"v2\"");
}

/* A List inside a List (kubectl flattens them) is read, not skipped as an unknown kind. */
static void test_nested_list(void **state)
{
	assert_int_equal(load("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n"
			      "  - {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
			      "  - {apiVersion: v1, kind: Namespace, metadata: {name: B}}\n"), -EINVAL);
	assert_true(has_error("t.yaml:8", "metadata.name"));
	assert_int_equal(C.s->n_namespaces, 1);
	assert_string_equal(C.s->namespaces[0].m.name, "a");
}

static void test_skipped_kinds(void **state)
{
	expect_ok("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: '3'}\n---\n"
		  "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: UPPER}\n---\n"
		  "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n"
		  "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n");
	assert_int_equal(C.s->n_namespaces, 1);
}

static void test_list_and_multi_doc(void **state)
{
	expect_ok("---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n"
		  "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n"
		  "- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n"
		  "- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n---\n"
		  "apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n---\n");
	assert_int_equal(C.s->n_namespaces, 3);
	assert_string_equal(C.s->namespaces[1].m.name, "b");
	assert_int_equal(C.s->namespaces[1].m.loc.line, 13);
	assert_string_equal(C.s->namespaces[2].m.name, "c");
	/* one bad item does not stop the others */
	expect_error("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: A}\n",
		     "t.yaml:6", "metadata.name");
}

static void test_json_input(void **state)
{
	expect_ok("{\"apiVersion\": \"gateway.networking.k8s.io/v1\", \"kind\": \"TCPRoute\",\n"
		  " \"metadata\": {\"name\": \"r\", \"namespace\": \"apps\"},\n"
		  " \"spec\": {\"rules\": [{\"backendRefs\": [{\"name\": \"s\", \"port\": 6000, \"weight\": 3}]}]}}\n");
	assert_int_equal(C.s->routes[0].rules[0].refs[0].port, 6000);
	assert_int_equal(C.s->routes[0].rules[0].refs[0].weight, 3);
	expect_error("{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"},"
		     " \"spec\": {\"ports\": [{\"port\": \"80\"}]}}", "spec.ports[0].port",
		     "got the string \"80\"");
}

static void test_every_error_reported(void **state)
{
	assert_int_equal(load(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs:\n    - {name: a, port: 0}\n"
			      "    - {name: b, port: 70000, weight: -3}\n---\n"
			      "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n"
			      "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad}\n"), -EINVAL);
	assert_int_equal(C.d.n, 4);
	assert_int_equal(C.s->n_namespaces, 1);
	assert_int_equal(C.s->n_routes, 0);
}

/* ---------- malformed YAML ---------- */

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: \"a\n",      /* unclosed quote */
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n bad: 1\n", /* indentation */
		"apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: a\n",       /* tab */
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: [a, b\n",   /* truncated */
		"{\"apiVersion\": \"v1\", \"kind\": ",                          /* truncated JSON */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i]), -EINVAL);
		assert_true(has_error("t.yaml:", "YAML syntax error"));
		assert_int_equal(C.s->n_namespaces, 0);
		diags_clear(&C.d);
	}
}

static void test_duplicate_keys_and_aliases(void **state)
{
	char buf[8192];
	int o;

	expect_error("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n", "t.yaml:5",
		     "duplicate key \"name\"");
	diags_clear(&C.d);
	o = snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n");
	for (int i = 0; i < 40; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "    k%d: v\n", i);
	snprintf(buf + o, sizeof(buf) - o, "    k7: again\n");
	expect_error(buf, "t.yaml:46", "duplicate key \"k7\"");
	diags_clear(&C.d);
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: &m {name: a}\n", "t.yaml:3", "anchors and aliases");
	diags_clear(&C.d);
	expect_error("a: &x [1]\nb: *x\n", "t.yaml:1", "anchors and aliases");
	diags_clear(&C.d);
	expect_error("apiVersion: v1\nkind: Namespace\nmetadata: {? [a]: b}\n", "t.yaml:3", "keys must be scalars");
}

/* ---------- limits ---------- */

static void test_limits(void **state)
{
	struct read_limits lim = read_limits_default;
	char buf[4096];
	int o;

	lim.max_input_bytes = 10;
	assert_int_equal(load_lim("apiVersion: v1\n", &lim), -E2BIG);
	assert_true(has_error("t.yaml", "limit max_input_bytes"));

	lim = read_limits_default;
	lim.max_doc_bytes = 60;
	assert_int_equal(load_lim("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
				  "apiVersion: v1\nkind: Namespace\nmetadata: {name: b, labels: {x: '0123456789'}}\n",
				  &lim), -E2BIG);
	assert_true(has_error("t.yaml:", "limit max_doc_bytes"));
	assert_int_equal(C.s->n_namespaces, 1); /* the document before the bound is kept */

	lim = read_limits_default;
	lim.max_string = 12;
	assert_int_equal(load_lim("apiVersion: v1\nkind: Namespace\nmetadata: {name: abcdefghijklm}\n", &lim), -E2BIG);
	assert_true(has_error("t.yaml:3", "limit max_string"));

	lim = read_limits_default;
	lim.max_depth = 4;
	assert_int_equal(load_lim("a: {b: {c: {d: {e: 1}}}}\n", &lim), -E2BIG);
	assert_true(has_error("t.yaml:1", "limit max_depth"));
	o = 0;
	for (int i = 0; i < 1000; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "[");
	assert_int_equal(load(buf), -E2BIG);
	assert_true(has_error("t.yaml:1", "nesting deeper than 64"));

	lim = read_limits_default;
	lim.max_items = 3;
	assert_int_equal(load_lim("apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {a: 1, b: 2, c: 3, d: 4}}\n",
				  &lim), -E2BIG);
	assert_true(has_error("t.yaml:3", "limit max_items"));
	assert_int_equal(load_lim("[1, 2, 3, 4]\n", &lim), -E2BIG);

	lim = read_limits_default;
	lim.max_objects = n_objects() + 2; /* the bound counts the whole store */
	o = (int)C.s->n_namespaces;
	diags_clear(&C.d);
	assert_int_equal(load_lim("apiVersion: v1\nkind: List\nitems:\n"
				  "- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
				  "- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n"
				  "- {apiVersion: v1, kind: Namespace, metadata: {name: c}}\n", &lim), -E2BIG);
	assert_true(has_error("t.yaml:6", "limit max_objects"));
	assert_int_equal(C.s->n_namespaces, (size_t)o + 2);
}

/* ---------- store_check ---------- */

static void test_store_check_duplicates(void **state)
{
	expect_ok("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n"
		  SVC_HEAD SVC_PORTS "---\n" SVC_HEAD "  namespace: other\n" SVC_PORTS "---\n"
		  "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n");
	assert_int_equal(store_check(C.s, &C.d), 0);
	assert_int_equal(load("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n" SVC_PORTS), 0);
	assert_int_equal(store_check(C.s, &C.d), -EINVAL);
	assert_true(has_error("t.yaml:1: Service default/s", "defined twice (also at t.yaml:5)"));
	assert_int_equal(C.d.n, 1);
}


/* ---------- every error located, every input byte escaped ---------- */

/* An error about a field whose parent mapping is absent too points at the object's line
 * (here 3, after a comment), never at no line at all. */
static void test_every_error_located(void **state)
{
	static const char *const docs[] = {
		SVC_HEAD,
		SVC_HEAD "spec: {type: ExternalName}\n",
		"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\n",
		GW_HEAD,
		GW_HEAD "  listeners: [{}]\n",
		ROUTE_HEAD,
		ROUTE_HEAD "spec: {}\n",
		"apiVersion: gateway.networking.k8s.io/v1\nkind: ReferenceGrant\nmetadata: {name: g}\n",
		"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: c}\n",
		"apiVersion: v1\nkind: Namespace\n",
		SLICE_HEAD,
		SLICE_HEAD "addressType: IPv4\nendpoints:\n- {}\n",
		"apiVersion: v1\nkind: List\nitems: {}\n",
		"apiVersion: v1\nkind: List\nitems: [1]\n",
		"kind: Service\n",
		"apiVersion: v1\n",
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		snprintf(buf, sizeof(buf), "---\n# doc %zu\n%s", i, docs[i]);
		assert_int_equal(load(buf), -EINVAL);
		assert_true(C.d.n > 0);
		for (size_t k = 0; k < C.d.n; k++) {
			if (C.d.v[k].line < 3)
				diags_print(&C.d, stderr);
			assert_true(C.d.v[k].line >= 3);
		}
		diags_clear(&C.d);
	}
	assert_int_equal(load("---\n# a Service without spec\n" SVC_HEAD), -EINVAL);
	assert_true(has_error("t.yaml:3: Service default/s: spec.ports", "is required"));
}

/* What diags_print() writes, as one string (caller frees). */
static char *printed(void (*print)(const struct diags *, FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	print(&C.d, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* True when text holds no byte that a terminal acts on: no control character but the
 * newlines ending its `lines` lines, no C1 control, no bidi override. */
static bool inert(const char *text, size_t lines)
{
	size_t nl = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\n')
			nl++;
		else if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return nl == lines && !strstr(text, "\xc2\x9b") && !strstr(text, "\xe2\x80\xae");
}

/* Keys, values, object names and file names all come from the input: none of them may reach
 * the terminal raw, and a file name with a newline must not forge a line of its own. */
static void test_control_bytes_escaped(void **state)
{
	static const char evil_file[] = "a.yaml\nb.yaml:1: Namespace x: FAKE";
	static const char no_kind[] = "apiVersion: v1\n";
	char *text;

	assert_int_equal(load("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"
			      "  \"\\e[2J\\e[31mFAKE\": 1\n  \"\\e[2J\\e[31mFAKE\": 2\n"), -EINVAL);
	assert_int_equal(load("apiVersion: \"\\e[31mv2\"\nkind: Service\nmetadata: {name: \"\\e[1mx\"}\n"),
			 -EINVAL);
	assert_int_equal(load("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"a\\u009b2J\"\n"
			      "  labels: {\"\\u202ekey\": \"\\u2028v\"}\n"), -EINVAL);
	assert_int_equal(store_load_buffer(C.s, evil_file, no_kind, strlen(no_kind), NULL, &C.d), -EINVAL);
	assert_int_equal(store_load_buffer(C.s, "bad\xff\x1b.yaml", no_kind, strlen(no_kind), NULL, &C.d),
			 -EINVAL);
	text = printed(diags_print);
	if (!inert(text, C.d.n))
		fprintf(stderr, "%s", text);
	assert_true(inert(text, C.d.n));
	assert_non_null(strstr(text, "t.yaml:6: duplicate key \"\\x1b[2J\\x1b[31mFAKE\" in one mapping"));
	assert_non_null(strstr(text, "Service default/\\x1b[1mx: apiVersion: \"\\x1b[31mv2\" is not"));
	assert_non_null(strstr(text, "\"a\\u009b2J\" is not an RFC 1123 label"));
	assert_non_null(strstr(text, "key \"\\u202ekey\" is not a valid label key"));
	assert_non_null(strstr(text, "\"\\u2028v\" is not a valid label value"));
	assert_non_null(strstr(text, "a.yaml\\nb.yaml:1: Namespace x: FAKE:1: kind: is required"));
	assert_non_null(strstr(text, "bad\\xff\\x1b.yaml:1: kind: is required"));
	free(text);
}

/* The one quoting function: quotes, escapes, cuts long values with "...". */
static void test_diag_quote(void **state)
{
	char q[128], small[12], big[400];

	assert_string_equal(diag_quote(q, sizeof(q), "a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	assert_string_equal(diag_quote(q, sizeof(q), "\0\t\n\x7f", 4), "\"\\x00\\t\\n\\x7f\"");
	assert_string_equal(diag_quote(q, sizeof(q), "\xc3\xa9\xe2\x80\x8f\xc3", 6),
			    "\"\xc3\xa9\\u200f\\xc3\"");
	assert_string_equal(diag_quote(small, sizeof(small), "abcdefghijkl", 12), "\"abcdef...\"");
	memset(big, 'x', sizeof(big));
	diag_quote(q, sizeof(q), big, sizeof(big));
	assert_int_equal(strlen(q), 1 + 80 + 3 + 1);
	assert_string_equal(q + 81, "...\"");
}

/* ---------- NUL, leading zeros, merge keys ---------- */

/* `kind: "Service\0zzz"` must not read as a Service: a NUL in any scalar, key or value,
 * YAML or JSON escape, is refused at its line. */
static void test_nul_refused(void **state)
{
	static const struct { const char *doc; const char *where; } bad[] = {
		{ "apiVersion: v1\nkind: \"Service\\0zzz\"\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
		  "t.yaml:2:" },
		{ "apiVersion: \"v1\\0junk\"\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
		  "t.yaml:1:" },
		{ "apiVersion: v1\nkind: Service\nmetadata: {name: \"s\\x00\"}\nspec: {ports: [{port: 80}]}\n",
		  "t.yaml:3:" },
		{ "{\"apiVersion\": \"v1\",\n \"kind\": \"Service\\u0000zzz\", \"metadata\": {\"name\": \"s\"},"
		  " \"spec\": {\"ports\": [{\"port\": 80}]}}\n", "t.yaml:2:" },
		{ "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {\"a\\0b\": x}\n",
		  "t.yaml:5:" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load(bad[i].doc), -EINVAL);
		assert_true(has_error(bad[i].where, "a NUL character is not allowed"));
		assert_int_equal(n_objects(), 0);
		diags_clear(&C.d);
	}
}

/* 010 is 8 to kubectl (YAML 1.1 octal) and 10 to a YAML 1.2 reader: refused, as 0x10 is. */
static void test_leading_zeros(void **state)
{
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 010}]\n",
		     "t.yaml:6: Service default/s: spec.ports[0].port",
		     "must be an integer without leading zeros, got the value \"010\"");
	expect_error(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: 08}]\n", "spec.ports[0].targetPort",
		     "without leading zeros");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, weight: 00}]\n",
		     "backendRefs[0].weight", "without leading zeros");
	expect_error(ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1, weight: -01}]\n",
		     "backendRefs[0].weight", "without leading zeros");
	diags_clear(&C.d);
	/* 0 itself is a number like any other */
	expect_ok(SVC_HEAD "spec:\n  ports: [{port: 1, targetPort: 0}]\n---\n"
		  ROUTE_HEAD "spec:\n  rules:\n  - backendRefs: [{name: a, port: 10, weight: 0}]\n");
	assert_int_equal(C.s->routes[0].rules[0].refs[0].weight, 0);
	assert_int_equal(C.s->routes[0].rules[0].refs[0].port, 10);
}

/* YAML 1.1's `<<` would merge fields nftgate cannot see; it is refused where it is written
 * instead of surfacing as "port: is required". A quoted "<<" is an ordinary key. */
static void test_merge_keys_refused(void **state)
{
	assert_int_equal(load(SVC_HEAD "spec:\n  ports:\n  - <<: {port: 1}\n"), -EINVAL);
	assert_true(has_error("t.yaml:7", "YAML merge keys (<<) are not supported"));
	assert_true(no_error("port", "is required"));
	assert_int_equal(C.d.n, 1);
	diags_clear(&C.d);
	expect_ok(SVC_HEAD "spec:\n  ports: [{port: 1, \"<<\": x}]\n");
}

/* ---------- byte limits ---------- */

/* max_doc_bytes counts bytes: 4-byte UTF-8 characters count 4 each (libyaml's marks count
 * characters), in UTF-16 input 2 each, and a document after a wide one is measured from its
 * own first byte. */
static void test_doc_limit_counts_bytes(void **state)
{
	static const char head[] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  annotations: {x: '";
	struct read_limits lim = read_limits_default;
	char buf[1024], u16[512];
	size_t o, n16 = 0;

	/* 98 characters, 188 bytes (annotations are not read: the limit alone refuses it) */
	o = (size_t)snprintf(buf, sizeof(buf), "%s", head);
	for (int i = 0; i < 30; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\xf0\x9f\x98\x80");
	snprintf(buf + o, sizeof(buf) - o, "'}\n");
	lim.max_doc_bytes = 150;
	assert_int_equal(load_lim(buf, &lim), -E2BIG);
	assert_true(has_error("t.yaml:", "document is larger than 150 bytes (limit max_doc_bytes)"));
	diags_clear(&C.d);
	lim.max_doc_bytes = 200;
	assert_int_equal(load_lim(buf, &lim), 0);

	/* a first document of 118 bytes (85 characters), then one of 118 bytes from its "---":
	 * measured from its own first byte, not from the first one's character count */
	o = (size_t)snprintf(buf, sizeof(buf), "%s", head);
	for (int i = 0; i < 11; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\xf0\x9f\x98\x80");
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "'}\n---\napiVersion: v1\nkind: Namespace\n"
			      "metadata:\n  name: b\n  annotations: {x: '%040d'}\n", 0);
	lim.max_doc_bytes = 125;
	assert_int_equal(load_lim(buf, &lim), 0);
	assert_string_equal(C.s->namespaces[C.s->n_namespaces - 1].m.name, "b");

	/* UTF-16LE with a byte order mark: 51 characters, 102 bytes after the mark */
	u16[n16++] = (char)0xff;
	u16[n16++] = (char)0xfe;
	for (const char *p = "apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n"; *p; p++) {
		u16[n16++] = *p;
		u16[n16++] = 0;
	}
	lim.max_doc_bytes = 80;
	assert_int_equal(store_load_buffer(C.s, "t.yaml", u16, n16, &lim, &C.d), -E2BIG);
	assert_true(has_error("t.yaml:", "limit max_doc_bytes"));
	diags_clear(&C.d);
	lim.max_doc_bytes = 110;
	assert_int_equal(store_load_buffer(C.s, "t.yaml", u16, n16, &lim, &C.d), 0);
	assert_int_equal(C.s->n_namespaces, 4);
	assert_string_equal(C.s->namespaces[3].m.name, "c");
	lim.max_doc_bytes = 101;
	assert_int_equal(store_load_buffer(C.s, "t.yaml", u16, n16, &lim, &C.d), -E2BIG);
}

/* A byte libyaml refuses (a raw NUL here) is reported at its own line, not line 1. */
static void test_bad_byte_located(void **state)
{
	static const char doc[] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {x: \"a\0b\"}}\n";

	assert_int_equal(store_load_buffer(C.s, "t.yaml", doc, sizeof(doc) - 1, NULL, &C.d), -EINVAL);
	assert_true(has_error("t.yaml:3: ", "control characters are not allowed (0x00 at byte 65)"));
}

/* ---------- what was read ---------- */

/* Per input: objects added by kind, documents of other kinds, documents refused. */
static void test_input_counts(void **state)
{
	const struct store_input *in;

	assert_int_equal(load(NS_DOC_T("a") "---\n" SVC_HEAD SVC_PORTS "---\n"
			      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n"
			      NS_DOC_T("Bad") "---\napiVersion: v1\nkind: List\nitems:\n"
			      "- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n"
			      "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
			      "- {apiVersion: v2, kind: Service, metadata: {name: x}}\n"), -EINVAL);
	assert_int_equal(C.s->n_inputs, 1);
	in = &C.s->inputs[0];
	assert_string_equal(in->name, "t.yaml");
	assert_ptr_equal(C.s->namespaces[0].m.loc.file, in->name);
	assert_int_equal(in->objects[KIND_NAMESPACE], 2);
	assert_int_equal(in->objects[KIND_SERVICE], 1);
	assert_int_equal(in->objects[KIND_GATEWAY], 0);
	assert_int_equal(in->other, 2);
	assert_int_equal(in->refused, 2);
	assert_int_equal(store_load_buffer(C.s, "u.yaml", "", 0, NULL, &C.d), 0);
	assert_int_equal(C.s->n_inputs, 2);
	assert_string_equal(C.s->inputs[1].name, "u.yaml");
	assert_int_equal(C.s->inputs[1].objects[KIND_NAMESPACE] + C.s->inputs[1].other, 0);
}

/* The store keeps its own capacity (no allocator guessing) and grows it geometrically. */
static void test_store_capacity_tracked(void **state)
{
	char buf[128];

	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: Namespace\nmetadata: {name: n%d}\n", i);
		expect_ok(buf);
		assert_true(C.s->cap[ARR_NAMESPACES] >= C.s->n_namespaces);
		assert_true(C.s->cap[ARR_NAMESPACES] <= 2 * C.s->n_namespaces + 8);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "n%d", i);
		assert_string_equal(C.s->namespaces[i].m.name, buf);
	}
	assert_int_equal(C.s->cap[ARR_SERVICES], 0);
}

/* Nine Namespaces, so that the store's array grows twice (at the 1st and the 9th). */
static int load_nine(void *ctx)
{
	struct store *s = store_new();
	struct diags d = { 0 };
	char buf[1024];
	size_t o = 0;
	int r;

	if (!s)
		return -ENOMEM;
	for (int i = 0; i < 9; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "---\napiVersion: v1\nkind: Namespace\n"
				      "metadata: {name: n%d, labels: {a: b}}\n", i);
	r = store_load_buffer(s, "t.yaml", buf, o, NULL, &d);
	/* what was added before a failure is whole */
	for (size_t i = 0; i < s->n_namespaces; i++)
		assert_int_equal(s->namespaces[i].m.labels.n, 2);
	if (r == 0 && (s->n_namespaces != 9 || d.n))
		r = -EINVAL;
	diags_clear(&d);
	store_free(s);
	return r;
}

/* Every allocation of a load failing in turn, the store's own growth included: each run
 * returns -ENOMEM and leaks nothing (LeakSanitizer, `make asan`): an object that could not
 * be appended is freed with everything it owns. */
static void test_load_allocation_failures(void **state)
{
	assert_true(alloc_fail_each("store_load_buffer(9 Namespaces)", load_nine, NULL, NULL) > 0);
}

/* ---------- paths and upstream manifests ---------- */

static const char *shared_dir(void)
{
	const char *e = getenv("NFTGATE_SHARED");

	return e && e[0] ? e : "../shared";
}

static void load_upstream(const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/upstream/gateway-api/%s", shared_dir(), rel);
	if (stat(path, &st) < 0) {
		print_message("skipping %s: not found (set NFTGATE_SHARED)\n", path);
		skip();
	}
	if (store_load_path(C.s, path, NULL, &C.d) != 0 || C.d.n)
		diags_print(&C.d, stderr);
	assert_int_equal(C.d.n, 0);
	assert_int_equal(store_check(C.s, &C.d), 0);
}

static void test_upstream_basic_tcp(void **state)
{
	load_upstream("examples/basic-tcp.yaml");
	assert_int_equal(C.s->n_gateways, 1);
	assert_int_equal(C.s->n_routes, 2);
	assert_int_equal(C.s->gateways[0].listeners[1].port, 8090);
	assert_string_equal(C.s->routes[1].parents[0].section, "bar");
	assert_int_equal(C.s->routes[1].rules[0].refs[0].port, 6000);
}

static void test_upstream_conformance_base(void **state)
{
	load_upstream("conformance/base/manifests.yaml");
	assert_true(C.s->n_gateways >= 4);
	assert_true(C.s->n_services >= 5);
	assert_true(C.s->n_namespaces >= 3);
}

static void test_upstream_conformance_tests_dir(void **state)
{
	size_t udp = 0;

	load_upstream("conformance/tests");
	assert_true(C.s->n_routes >= 8);
	/* the nine udproute-*.yaml files hold at least one UDPRoute each (v1alpha2) */
	for (size_t i = 0; i < C.s->n_routes; i++)
		udp += C.s->routes[i].kind == KIND_UDP_ROUTE;
	assert_true(udp >= 9);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

#define NS_DOC(n) "apiVersion: v1\nkind: Namespace\nmetadata: {name: " n "}\n"

/* A directory: its *.yaml, *.yml and *.json files in name order; hidden files, other
 * extensions and subdirectories are not read (each of those holds broken YAML here). */
static void test_directory_input(void **state)
{
	char dir[] = "/tmp/nftgate-test-dir-XXXXXX", sub[600], cmd[700];

	assert_non_null(mkdtemp(dir));
	write_file(dir, "c.yaml", NS_DOC("c"));
	write_file(dir, "a.json", "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
		   "\"metadata\": {\"name\": \"a\"}}");
	write_file(dir, "b.yml", NS_DOC("b"));
	write_file(dir, "d.txt", "broken: [");
	write_file(dir, ".e.yaml", "broken: [");
	snprintf(sub, sizeof(sub), "%s/f.yaml", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(sub, "g.yaml", "broken: [");
	C.r = store_load_path(C.s, dir, NULL, &C.d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	if (C.r || C.d.n)
		diags_print(&C.d, stderr);
	assert_int_equal(C.r, 0);
	assert_int_equal(C.s->n_namespaces, 3);
	assert_string_equal(C.s->namespaces[0].m.name, "a");
	assert_string_equal(C.s->namespaces[1].m.name, "b");
	assert_string_equal(C.s->namespaces[2].m.name, "c");
	assert_non_null(strstr(C.s->namespaces[1].m.loc.file, "/b.yml"));
}

/* A FIFO or a device named *.yaml in a directory would hang the reader (opening a FIFO waits
 * for a writer) or feed it forever: only regular files are read from a directory, each other
 * entry is skipped with a note that names it. A hang is the bug, so a watchdog turns one into
 * a failure instead of a stuck run (it measures nothing). */
static void test_directory_skips_non_regular(void **state)
{
	char dir[] = "/tmp/nftgate-test-fifo-XXXXXX", path[600], cmd[700], want[2048];
	char *text;

	assert_non_null(mkdtemp(dir));
	write_file(dir, "a.yaml", NS_DOC("a"));
	snprintf(path, sizeof(path), "%s/b.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/c.yml", dir);
	assert_int_equal(symlink("/dev/null", path), 0);
	write_file(dir, "d.json", "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", "
		   "\"metadata\": {\"name\": \"d\"}}");
	alarm(60);
	C.r = store_load_path(C.s, dir, NULL, &C.d);
	alarm(0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	if (C.r || C.d.n)
		diags_print(&C.d, stderr);
	assert_int_equal(C.r, 0);
	assert_int_equal(C.s->n_namespaces, 2);
	assert_string_equal(C.s->namespaces[1].m.name, "d");
	text = printed(diags_print_notes);
	snprintf(want, sizeof(want), "%s/b.yaml: note: skipped: a FIFO, not a regular file\n"
		 "%s/c.yml: note: skipped: a character device, not a regular file\n", dir, dir);
	assert_string_equal(text, want);
	free(text);
}

/* Named directly, a pipe is read (what `-f <(...)` gives), a FIFO without a writer reads as
 * empty at once instead of waiting, and a device is refused. */
static void test_special_files_named_directly(void **state)
{
	static const char text[] = NS_DOC("from-pipe");
	char dir[] = "/tmp/nftgate-test-fifo-XXXXXX", path[600], cmd[700];
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(p[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	assert_int_equal(store_load_path(C.s, path, NULL, &C.d), 0);
	close(p[0]);
	assert_int_equal(C.s->n_namespaces, 1);
	assert_string_equal(C.s->namespaces[0].m.name, "from-pipe");

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/in.yaml", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(60); /* a watchdog, as above */
	C.r = store_load_path(C.s, path, NULL, &C.d);
	alarm(0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(C.r, 0);
	assert_int_equal(C.d.n, 0);

	assert_int_equal(store_load_path(C.s, "/dev/null", NULL, &C.d), -EINVAL);
	assert_true(has_error("/dev/null:0: ", "cannot be read: a character device"));
	assert_int_equal(C.s->n_namespaces, 1);
}

/* "-" reads standard input; errors name it "-". */
static void test_stdin_input(void **state)
{
	static const char text[] = NS_DOC("from-stdin") "---\n" NS_DOC("Bad");
	int p[2], saved = dup(STDIN_FILENO);

	assert_true(saved >= 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(p[1]);
	assert_int_equal(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	C.r = store_load_path(C.s, "-", NULL, &C.d);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	assert_int_equal(C.r, -EINVAL);
	assert_int_equal(C.s->n_namespaces, 1);
	assert_string_equal(C.s->namespaces[0].m.name, "from-stdin");
	assert_true(has_error("-:7: Namespace: metadata.name", "\"Bad\" is not"));
}

static void test_path_errors(void **state)
{
	assert_true(store_load_path(C.s, "/nonexistent/nftgate/x.yaml", NULL, &C.d) == -ENOENT);
	assert_true(has_error("/nonexistent/nftgate/x.yaml", "No such file"));
}


/* ---------- UDPRoute ---------- */

#define UDP_HEAD(v, name) "apiVersion: gateway.networking.k8s.io/" v "\nkind: UDPRoute\n" \
			  "metadata:\n  name: " name "\n"

/* Both versions, TCPRoute's defaults, and its own kind and input count. */
static void test_udp_route_read(void **state)
{
	const struct route *r;

	expect_ok(UDP_HEAD("v1alpha2", "u") "spec:\n  parentRefs: [{name: gw, port: 53}]\n"
		  "  rules:\n  - backendRefs: [{name: dns, port: 53}]\n"
		  "  - backendRefs: [{name: dns, port: 54, weight: 0}]\n"
		  "---\n" UDP_HEAD("v1", "v") "spec:\n  rules: [{backendRefs: [{name: d, port: 1}]}]\n"
		  "---\n" ROUTE_HEAD "spec:\n  rules: [{backendRefs: [{name: d, port: 1}]}]\n");
	assert_int_equal(C.s->n_routes, 3);
	r = &C.s->routes[0];
	assert_int_equal(r->kind, KIND_UDP_ROUTE);
	assert_string_equal(r->m.api_version, "gateway.networking.k8s.io/v1alpha2");
	assert_string_equal(r->m.namespace, "default");
	assert_string_equal(r->parents[0].group, "gateway.networking.k8s.io");
	assert_string_equal(r->parents[0].kind, "Gateway");
	assert_string_equal(r->parents[0].namespace, "default");
	assert_int_equal(r->parents[0].port, 53);
	assert_int_equal(r->n_rules, 2);
	assert_string_equal(r->rules[0].refs[0].kind, "Service");
	assert_string_equal(r->rules[0].refs[0].group, "");
	assert_int_equal(r->rules[0].refs[0].weight, 1);
	assert_int_equal(r->rules[1].refs[0].weight, 0);
	assert_int_equal(C.s->routes[1].kind, KIND_UDP_ROUTE);
	assert_string_equal(C.s->routes[1].m.api_version, "gateway.networking.k8s.io/v1");
	assert_int_equal(C.s->routes[2].kind, KIND_TCP_ROUTE);
	assert_int_equal(C.s->inputs[0].objects[KIND_UDP_ROUTE], 2);
	assert_int_equal(C.s->inputs[0].objects[KIND_TCP_ROUTE], 1);
	assert_int_equal(C.s->inputs[0].other, 0);
}

/* TCPRoute's limits, reported under the UDPRoute's name. */
static void test_udp_route_rules(void **state)
{
	expect_error(UDP_HEAD("v1", "u") "spec:\n  rules:\n  - backendRefs: [{name: a, port: 1}]\n"
		     "  - backendRefs: [{name: a, port: 1}]\n",
		     "t.yaml:7: UDPRoute default/u: spec.rules", "must have 1..1");
	expect_error(UDP_HEAD("v1alpha2", "u") "spec:\n  rules:\n  - backendRefs: [{name: a}]\n",
		     "t.yaml:7: UDPRoute default/u: spec.rules[0].backendRefs[0].port",
		     "is required for a Service reference");
	expect_error(UDP_HEAD("v1alpha2", "u") "spec:\n  rules:\n"
		     "  - backendRefs: [{name: a, port: 1, weight: 1000001}]\n",
		     "UDPRoute default/u: spec.rules[0].backendRefs[0].weight", NULL);
	expect_error(UDP_HEAD("v1", "u") "spec:\n  parentRefs: [{name: gw}, {name: gw}]\n"
		     "  rules: [{backendRefs: [{name: a, port: 1}]}]\n",
		     "UDPRoute default/u: spec.parentRefs[1]", "sectionName must be unique");
	expect_error(UDP_HEAD("v1beta1", "u") "spec: {}\n", "UDPRoute default/u: apiVersion",
		     "is not a supported version of UDPRoute");
	assert_int_equal(C.s->n_routes, 0);
}

/* Identity is (kind, namespace, name): a TCPRoute and a UDPRoute may share a name. */
static void test_udp_route_identity(void **state)
{
	static const char again[] = UDP_HEAD("v1", "r")
		"spec:\n  rules: [{backendRefs: [{name: e, port: 2}]}]\n";
	const struct store *parts[2];
	struct store *other = store_new(), *v = NULL;

	assert_non_null(other);
	expect_ok(ROUTE_HEAD "spec:\n  rules: [{backendRefs: [{name: d, port: 1}]}]\n---\n"
		  UDP_HEAD("v1", "r") "spec:\n  rules: [{backendRefs: [{name: d, port: 1}]}]\n");
	assert_int_equal(store_check(C.s, &C.d), 0);
	assert_int_equal(C.d.n, 0);
	assert_int_equal(store_load_buffer(other, "o.yaml", again, strlen(again), NULL, &C.d), 0);
	/* a view: the second part's UDPRoute r is the first's again, the TCPRoute r is not */
	parts[0] = C.s;
	parts[1] = other;
	assert_int_equal(store_view_build(parts, 2, &v, &C.d), 0);
	assert_int_equal(v->n_routes, 2);
	assert_int_equal(C.d.n, 1);
	assert_true(has_error("o.yaml:1: UDPRoute default/r", "defined again (first at t.yaml:8)"));
	v = store_view_free(v);
	diags_clear(&C.d);
	assert_int_equal(load(UDP_HEAD("v1", "r") "spec:\n  rules: [{backendRefs: "
			      "[{name: d, port: 1}]}]\n"), 0);
	assert_int_equal(store_check(C.s, &C.d), -EINVAL);
	assert_int_equal(C.d.n, 1);
	assert_true(has_error("t.yaml:1: UDPRoute default/r", "defined twice (also at t.yaml:8)"));
	store_free(other);
}

/* Both route kinds fill one array, whose capacity is the store's own record. */
static void test_route_capacity_both_kinds(void **state)
{
	char buf[256];

	for (int i = 0; i < 60; i++) {
		snprintf(buf, sizeof(buf), "apiVersion: gateway.networking.k8s.io/v1\nkind: %s\n"
			 "metadata: {name: r%d}\nspec: {rules: [{backendRefs: [{name: d, port: 1}]}]}\n",
			 i % 2 ? "UDPRoute" : "TCPRoute", i);
		expect_ok(buf);
		assert_int_equal(C.s->n_routes, (size_t)i + 1);
		assert_true(C.s->cap[ARR_ROUTES] >= C.s->n_routes);
		assert_true(C.s->cap[ARR_ROUTES] <= 2 * C.s->n_routes + 8);
		assert_int_equal(C.s->routes[i].kind, i % 2 ? KIND_UDP_ROUTE : KIND_TCP_ROUTE);
	}
	assert_int_equal(C.s->inputs[0].objects[KIND_UDP_ROUTE], 30);
	assert_int_equal(C.s->inputs[0].objects[KIND_TCP_ROUTE], 30);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_basic_route_defaults), T(test_route_explicit_fields), T(test_timestamps),
		T(test_gateway_defaults), T(test_gateway_selector),
		T(test_service_slice_namespace_defaults), T(test_class_and_grant),
		T(test_typing_strings), T(test_typing_quoted_int), T(test_typing_int_traps),
		T(test_typing_bool), T(test_typing_null_means_absent), T(test_typing_shape_mismatch),
		T(test_route_spec_and_rules_required), T(test_route_rule_count_by_version),
		T(test_route_v1_extra_rules_still_checked),
		T(test_route_alpha_17_rules), T(test_route_rule_name), T(test_route_backend_rules),
		T(test_route_backend_port_optional_for_other_kinds), T(test_route_parent_rules),
		T(test_route_parent_distinct_v1), T(test_route_parent_distinct_alpha),
		T(test_gateway_required), T(test_gateway_listener_count), T(test_gateway_listener_rules),
		T(test_gateway_allowed_routes), T(test_gateway_addresses), T(test_gateway_class_rules),
		T(test_reference_grant_rules), T(test_service_rules),
		T(test_service_port_name_reported_once), T(test_service_ports_required),
		T(test_service_external_name), T(test_service_target_port),
		T(test_slice_errors_with_bad_address_type), T(test_service_many_ports), T(test_slice_rules),
		T(test_slice_endpoint_count), T(test_metadata_rules), T(test_doc_kind_and_version),
		T(test_bad_version_names_object), T(test_nested_list),
		T(test_skipped_kinds), T(test_list_and_multi_doc), T(test_json_input),
		T(test_every_error_reported), T(test_malformed), T(test_duplicate_keys_and_aliases),
		T(test_limits), T(test_store_check_duplicates), T(test_upstream_basic_tcp),
		T(test_upstream_conformance_base), T(test_upstream_conformance_tests_dir),
		T(test_directory_input), T(test_stdin_input), T(test_path_errors),
		T(test_every_error_located), T(test_control_bytes_escaped), T(test_diag_quote),
		T(test_nul_refused), T(test_leading_zeros), T(test_merge_keys_refused),
		T(test_doc_limit_counts_bytes), T(test_bad_byte_located), T(test_input_counts),
		T(test_store_capacity_tracked), T(test_directory_skips_non_regular),
		T(test_special_files_named_directly), T(test_load_allocation_failures),
		T(test_udp_route_read), T(test_udp_route_rules), T(test_udp_route_identity),
		T(test_route_capacity_both_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
