/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printing the status set (agent/status_emit.c): the List shape in YAML and JSON, the same
 * content in both, and memory that does not grow with the whole output.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/status_emit.h"
#include "model/read.h"
#include "model/resolve.h"

#define NOW "2026-01-02T03:04:05Z"

static struct status_set *resolve_text(const char *yaml)
{
	struct store *s = store_new();
	struct diags d = { 0 };
	struct plan *p = NULL;
	struct status_set *st = NULL;

	assert_non_null(s);
	assert_int_equal(store_load_buffer(s, "t.yaml", yaml, strlen(yaml), NULL, &d), 0);
	assert_int_equal(resolve(s, &(struct resolve_opts){ 0 }, &p, &st), 0);
	plan_free(p);
	store_free(s);
	diags_clear(&d);
	return st;
}

static char *emit_to_string(const struct status_set *st, enum output_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(status_emit(st, f, NOW, out), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

#define CLASS "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n" \
	      "metadata: {name: c}\nspec: {controllerName: nftgate.io/agent}\n"

static const char small[] = CLASS "---\n"
	"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: apps}\n"
	"spec:\n  gatewayClassName: c\n  listeners: [{name: a, port: 80, protocol: TCP}]\n---\n"
	"apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: r, namespace: apps}\n"
	"spec:\n  parentRefs: [{name: g}]\n  rules: [{backendRefs: [{name: s, port: 1}]}]\n";

/* §4.1, issue item 6: a v1 List; each item with apiVersion, kind, metadata and status. */
static void test_yaml_shape(void **state)
{
	struct status_set *st = resolve_text(small);
	char *y = emit_to_string(st, OUTPUT_YAML);

	assert_non_null(strstr(y, "apiVersion: v1\nkind: List\nitems:\n- apiVersion: "
				  "gateway.networking.k8s.io/v1\n  kind: GatewayClass\n"));
	assert_non_null(strstr(y, "- apiVersion: gateway.networking.k8s.io/v1alpha2\n  kind: TCPRoute\n"
				  "  metadata:\n    name: r\n    namespace: apps\n    generation: 1\n"));
	assert_non_null(strstr(y, "    - parentRef:\n        group: gateway.networking.k8s.io\n"
				  "        kind: Gateway\n        namespace: apps\n        name: g\n"
				  "      controllerName: nftgate.io/agent\n"));
	assert_non_null(strstr(y, "lastTransitionTime: '" NOW "'"));
	assert_non_null(strstr(y, "    listeners:\n    - name: a\n      supportedKinds:\n"));
	assert_non_null(strstr(y, "      attachedRoutes: 1\n"));
	free(y);
	status_set_free(st);
}

/* JSON: the same List; an empty one is still a complete document. */
static void test_json_shape(void **state)
{
	struct status_set *st = resolve_text(small);
	struct status_set empty = { 0 };
	char *j = emit_to_string(st, OUTPUT_JSON);
	char *e = emit_to_string(&empty, OUTPUT_JSON);
	char *ey = emit_to_string(&empty, OUTPUT_YAML);

	assert_non_null(strstr(j, "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n"
				  "    {\n      \"apiVersion\": \"gateway.networking.k8s.io/v1\",\n"
				  "      \"kind\": \"GatewayClass\",\n"));
	assert_non_null(strstr(j, "    },\n    {\n      \"apiVersion\": \"gateway.networking.k8s.io/v1\",\n"
				  "      \"kind\": \"Gateway\",\n"));
	assert_non_null(strstr(j, "\"attachedRoutes\": 1,"));
	assert_non_null(strstr(j, "    }\n  ]\n}\n"));
	assert_string_equal(e, "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n  ]\n}\n");
	assert_string_equal(ey, "apiVersion: v1\nkind: List\nitems: []\n");
	free(j);
	free(e);
	free(ey);
	status_set_free(st);
}

static const char udp[] = CLASS "---\n"
	"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g, namespace: apps}\n"
	"spec:\n  gatewayClassName: c\n  listeners: [{name: dns, port: 53, protocol: UDP}]\n---\n"
	"apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata: {name: u, namespace: apps}\n"
	"spec:\n  parentRefs: [{name: g, sectionName: dns}]\n  rules: [{backendRefs: [{name: s, port: 1}]}]\n";

/* A UDPRoute is printed as a TCPRoute is: its kind and apiVersion as written, and parents. */
static void test_udp_route_item(void **state)
{
	struct status_set *st = resolve_text(udp);
	char *y = emit_to_string(st, OUTPUT_YAML);
	char *j = emit_to_string(st, OUTPUT_JSON);

	assert_non_null(strstr(y, "- apiVersion: gateway.networking.k8s.io/v1alpha2\n  kind: UDPRoute\n"
				  "  metadata:\n    name: u\n    namespace: apps\n    generation: 1\n"
				  "  status:\n    parents:\n"
				  "    - parentRef:\n        group: gateway.networking.k8s.io\n"
				  "        kind: Gateway\n        namespace: apps\n        name: g\n"
				  "        sectionName: dns\n"
				  "      controllerName: nftgate.io/agent\n"));
	assert_non_null(strstr(y, "      supportedKinds:\n      - group: gateway.networking.k8s.io\n"
				  "        kind: UDPRoute\n"));
	assert_non_null(strstr(y, "      attachedRoutes: 1\n"));
	assert_non_null(strstr(j, "\"kind\": \"UDPRoute\",\n"));
	assert_non_null(strstr(j, "\"reason\": \"BackendNotFound\""));
	free(y);
	free(j);
	status_set_free(st);
}

/* A FILE whose writes note the heap in use at that moment. */
struct probe {
	size_t base, peak;
};

static ssize_t probe_write(void *cookie, const char *buf, size_t size)
{
	struct probe *p = cookie;
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks > p->base && mi.uordblks - p->base > p->peak)
		p->peak = mi.uordblks - p->base;
	return (ssize_t)size;
}

/* 300 Gateways of 64 conflicting listeners: about 80 MB of YAML. The List is written item
 * by item, so the heap while writing stays near one Gateway's worth; building the whole
 * output tree first took hundreds of megabytes here (gigabytes at 5,000 Gateways). Under
 * AddressSanitizer mallinfo2() does not see the heap and this checks nothing more than
 * that the output is written. */
static void test_memory_does_not_grow_with_output(void **state)
{
	size_t cap = 300 * (64 * 48 + 256) + 512, o;
	char *yaml = malloc(cap);
	struct status_set *st;
	struct probe p = { 0 };
	FILE *out;

	assert_non_null(yaml);
	o = (size_t)snprintf(yaml, cap, CLASS);
	for (int g = 0; g < 300; g++) {
		o += (size_t)snprintf(yaml + o, cap - o, "---\napiVersion: gateway.networking.k8s.io/v1\n"
				      "kind: Gateway\nmetadata: {name: g%d}\nspec:\n  gatewayClassName: c\n"
				      "  listeners:\n", g);
		for (int l = 0; l < 64; l++)
			o += (size_t)snprintf(yaml + o, cap - o, "  - {name: l%d, port: %d, protocol: TCP}\n",
					      l, 1000 + l);
	}
	st = resolve_text(yaml);
	free(yaml);
	assert_int_equal(st->n, 301);
	for (int f = 0; f < 2; f++) {
		out = fopencookie(&p, "w", (cookie_io_functions_t){ .write = probe_write });
		assert_non_null(out);
		p.base = mallinfo2().uordblks;
		p.peak = 0;
		assert_int_equal(status_emit(st, f ? OUTPUT_JSON : OUTPUT_YAML, NOW, out), 0);
		assert_int_equal(fclose(out), 0);
		assert_true(p.peak < 32u << 20);
	}
	status_set_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_shape),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_udp_route_item),
		cmocka_unit_test(test_memory_does_not_grow_with_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
