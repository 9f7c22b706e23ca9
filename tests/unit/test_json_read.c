/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects from the API server (store_load_json): every kind decoded from JSON equals the same
 * manifest decoded from YAML (each fixture is written once, in YAML, and turned into JSON
 * here); list responses with and without per-item apiVersion/kind; errors named by source,
 * object and field, worded as YAML's; JSON that json-c would accept but is not JSON; the
 * limits; allocation failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "agent/status_emit.h"
#include "model/plan.h"
#include "model/read.h"
#include "model/resolve.h"
#include "model/yaml_tree.h"
#include "alloc_fail.h"

#define SRC "api:/apis/gateway.networking.k8s.io/v1/namespaces/app/tcproutes"

/* One document per kind nftgate reads, as a user would write it. */
static const char *const docs[] = {
	"apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: nftgate\n"
	"spec:\n  controllerName: nftgate.io/agent\n",
	"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n"
	"  namespace: app\n  labels: {team: \"a\"}\n  generation: 3\n"
	"  creationTimestamp: \"2024-01-02T03:04:05Z\"\nspec:\n  gatewayClassName: nftgate\n"
	"  listeners:\n  - name: tcp\n    port: 8080\n    protocol: TCP\n    allowedRoutes:\n"
	"      namespaces: {from: All}\n  - name: udp\n    port: 5353\n    protocol: UDP\n",
	"apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n  name: t\n"
	"  namespace: app\nspec:\n  parentRefs:\n  - name: gw\n    sectionName: tcp\n  rules:\n"
	"  - backendRefs:\n    - name: web\n      namespace: back\n      port: 80\n      weight: 2\n",
	"apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata:\n  name: u\n"
	"  namespace: app\nspec:\n  parentRefs:\n  - name: gw\n    port: 5353\n  rules:\n"
	"  - backendRefs:\n    - name: dns\n      port: 53\n",
	"apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata:\n  name: g\n"
	"  namespace: back\nspec:\n  from:\n  - group: gateway.networking.k8s.io\n    kind: TCPRoute\n"
	"    namespace: app\n  to:\n  - group: \"\"\n    kind: Service\n",
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: back\nspec:\n"
	"  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n    protocol: TCP\n",
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: dns\n  namespace: app\nspec:\n"
	"  ports:\n  - port: 53\n    protocol: UDP\n",
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n"
	"  namespace: back\n  labels:\n    kubernetes.io/service-name: web\naddressType: IPv4\n"
	"ports:\n- name: http\n  port: 8080\n  protocol: TCP\nendpoints:\n- addresses: [10.0.0.1]\n"
	"  conditions: {ready: true, serving: true, terminating: false}\n- addresses: [10.0.0.2]\n"
	"  conditions: {ready: false}\n",
	"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n  labels: {env: prod}\n",
};
#define N_DOCS (sizeof(docs) / sizeof(docs[0]))

/* ---- YAML to JSON, for the fixtures: quoted scalars stay strings; plain ones that YAML's
 * JSON schema reads as numbers, booleans or null are written bare. */

static bool bare(const struct ynode *n)
{
	const char *s = n->str;

	if (!n->plain)
		return false;
	if (!strcmp(s, "true") || !strcmp(s, "false"))
		return true;
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (int dots = 0; *s; s++)
		if ((*s < '0' || *s > '9') && (*s != '.' || dots++))
			return false;
	return true;
}

static void put_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void to_json(FILE *f, const struct ynode *n)
{
	if (n->type == YN_SCALAR) {
		if (ynode_is_null(n))
			fputs("null", f);
		else if (bare(n))
			fputs(n->str, f);
		else
			put_string(f, n->str, n->len);
		return;
	}
	fputc(n->type == YN_MAP ? '{' : '[', f);
	for (size_t i = 0; i < n->n; i++) {
		if (i)
			fputc(',', f);
		if (n->type == YN_MAP) {
			put_string(f, n->kids[2 * i]->str, n->kids[2 * i]->len);
			fputc(':', f);
			to_json(f, n->kids[2 * i + 1]);
		} else {
			to_json(f, n->kids[i]);
		}
	}
	fputc(n->type == YN_MAP ? '}' : ']', f);
}

/* The JSON of a one-document YAML text, malloc'd. */
static char *json_of(const char *yaml)
{
	struct yreader *r = yreader_new(yaml, strlen(yaml), &read_limits_default);
	const struct ynode *root = NULL;
	struct diags d = { 0 };
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(r);
	assert_int_equal(yreader_next(r, "t.yaml", &d, &root), 1);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	to_json(f, root);
	fclose(f);
	yreader_free(r);
	diags_clear(&d);
	return out;
}

/* ---- what a store holds, as text: every object's metadata, and the status and plan that
 * resolve() makes of it, so that any field decoded differently shows. */

static void put_meta(FILE *f, const struct meta *m)
{
	fprintf(f, "%s/%s gen=%lld created=%lld/%s av=%s labels=",
		m->namespace ? m->namespace : "-", m->name, (long long)m->generation,
		(long long)m->created, m->created_text ? m->created_text : "-", m->api_version);
	for (size_t i = 0; i < m->labels.n; i++)
		fprintf(f, "%s=%s,", m->labels.v[i].key, m->labels.v[i].value);
	fputc('\n', f);
}

static char *describe(const struct store *s)
{
	static const char *const claimed[] = { "nftgate" };
	struct resolve_opts o = { .claimed_classes = claimed, .n_claimed_classes = 1 };
	struct status_set *st = NULL;
	struct plan *p = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	fprintf(f, "classes %zu gateways %zu routes %zu grants %zu services %zu slices %zu ns %zu\n",
		s->n_classes, s->n_gateways, s->n_routes, s->n_grants, s->n_services, s->n_slices,
		s->n_namespaces);
	for (size_t i = 0; i < s->n_classes; i++)
		put_meta(f, &s->classes[i].m);
	for (size_t i = 0; i < s->n_gateways; i++)
		put_meta(f, &s->gateways[i].m);
	for (size_t i = 0; i < s->n_routes; i++)
		put_meta(f, &s->routes[i].m);
	for (size_t i = 0; i < s->n_grants; i++)
		put_meta(f, &s->grants[i].m);
	for (size_t i = 0; i < s->n_services; i++)
		put_meta(f, &s->services[i].m);
	for (size_t i = 0; i < s->n_slices; i++)
		put_meta(f, &s->slices[i].m);
	for (size_t i = 0; i < s->n_namespaces; i++)
		put_meta(f, &s->namespaces[i].m);
	assert_int_equal(resolve(s, &o, &p, &st), 0);
	fprintf(f, "plan listeners %zu\n", p->n);
	assert_int_equal(status_emit(st, OUTPUT_JSON, "2026-01-01T00:00:00Z", f), 0);
	fclose(f);
	plan_free(p);
	status_set_free(st);
	return out;
}

/* Every fixture into one store from YAML and into another from JSON (each object alone, or
 * in one list built by `list`), which must describe the same. */
static void compare(char *(*list)(void))
{
	struct store *y = store_new(), *j = store_new();
	struct diags d = { 0 };
	char *a, *b;

	assert_non_null(y);
	assert_non_null(j);
	for (size_t i = 0; i < N_DOCS; i++)
		assert_int_equal(store_load_buffer(y, "t.yaml", docs[i], strlen(docs[i]), NULL, &d), 0);
	if (list) {
		char *js = list();

		assert_int_equal(store_load_json(j, SRC, js, strlen(js), NULL, &d), 0);
		free(js);
	} else {
		for (size_t i = 0; i < N_DOCS; i++) {
			char *js = json_of(docs[i]);

			if (store_load_json(j, SRC, js, strlen(js), NULL, &d)) { diags_print(&d, stderr); fprintf(stderr, "%s\n", js); fail(); }
			free(js);
		}
	}
	if (d.n)
		diags_print(&d, stderr);
	assert_int_equal(d.n, 0);
	a = describe(y);
	b = describe(j);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "routes 2")); /* the fixture did resolve into something */
	assert_int_equal(j->inputs[j->n_inputs - 1].refused, 0);
	free(a);
	free(b);
	diags_clear(&d);
	store_free(y);
	store_free(j);
}

static void every_kind_alone(void **state)
{
	compare(NULL);
}

/* {"kind":"List","apiVersion":"v1","items":[...]}: items carry their own apiVersion and kind. */
static char *plain_list(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fputs("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[", f);
	for (size_t i = 0; i < N_DOCS; i++) {
		char *js = json_of(docs[i]);

		fprintf(f, "%s%s", i ? "," : "", js);
		free(js);
	}
	fputs("]}\n", f);
	fclose(f);
	return out;
}

static void every_kind_in_list(void **state)
{
	compare(plain_list);
}

/* An API list response per kind: items without apiVersion and kind, which come from the
 * list; loaded one list after the other under one source name. */
static void every_kind_in_api_lists(void **state)
{
	struct store *y = store_new(), *j = store_new();
	struct diags d = { 0 };
	char *a, *b;

	for (size_t i = 0; i < N_DOCS; i++) {
		struct json_object *o, *list, *items;
		const char *text;
		char kind[64], *js = json_of(docs[i]);

		assert_int_equal(store_load_buffer(y, "t.yaml", docs[i], strlen(docs[i]), NULL, &d), 0);
		o = json_tokener_parse(js);
		assert_non_null(o);
		snprintf(kind, sizeof(kind), "%sList",
			 json_object_get_string(json_object_object_get(o, "kind")));
		list = json_object_new_object();
		items = json_object_new_array();
		json_object_object_add(list, "kind", json_object_new_string(kind));
		json_object_object_add(list, "apiVersion",
				       json_object_get(json_object_object_get(o, "apiVersion")));
		json_object_object_del(o, "kind");
		json_object_object_del(o, "apiVersion");
		json_object_array_add(items, o);
		json_object_object_add(list, "items", items);
		text = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
		assert_int_equal(store_load_json(j, SRC, text, strlen(text), NULL, &d), 0);
		json_object_put(list);
		free(js);
	}
	assert_int_equal(d.n, 0);
	assert_int_equal(j->n_inputs, 1);
	a = describe(y);
	b = describe(j);
	assert_string_equal(a, b);
	free(a);
	free(b);
	diags_clear(&d);
	store_free(y);
	store_free(j);
}

/* ---- one store, loads checked by their errors */

struct ctx {
	struct store *s;
	struct diags d;
	char *printed;
};
static struct ctx C;

static int setup(void **state)
{
	C.s = store_new();
	memset(&C.d, 0, sizeof(C.d));
	C.printed = NULL;
	return C.s ? 0 : -1;
}

static int teardown(void **state)
{
	C.s = store_free(C.s);
	diags_clear(&C.d);
	free(C.printed);
	return 0;
}

static int load_lim(const char *json, const struct read_limits *lim)
{
	return store_load_json(C.s, SRC, json, strlen(json), lim, &C.d);
}

/* diags_print()'s text of C.d */
static const char *printed(struct diags *d)
{
	size_t len = 0;
	FILE *f;

	free(C.printed);
	C.printed = NULL;
	f = open_memstream(&C.printed, &len);
	diags_print(d, f);
	fclose(f);
	return C.printed;
}

/* The message of the one error a YAML text gives, after its "t.yaml:LINE: " */
static char *yaml_error(const char *yaml)
{
	struct store *s = store_new();
	struct diags d = { 0 };
	const char *p;
	char *m;

	assert_int_equal(store_load_buffer(s, "t.yaml", yaml, strlen(yaml), NULL, &d), -EINVAL);
	assert_int_equal(d.n, 1);
	p = printed(&d);
	p = strchr(p, ' ');
	m = strdup(p + 1);
	diags_clear(&d);
	store_free(s);
	return m;
}

static const char route_yaml[] =
	"apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\nmetadata:\n  name: t\n"
	"  namespace: app\nspec:\n  parentRefs:\n  - name: gw\n  rules:\n"
	"  - backendRefs:\n    - name: web\n      port: %s\n";

/* The same bad value from YAML and JSON: the same error, at the source, object and field. */
static void same_error(const char *yaml_value, const char *json_value, const char *want)
{
	static size_t refused;
	char yaml[512], *js, *ym, *at;
	const char *p;

	snprintf(yaml, sizeof(yaml), route_yaml, yaml_value);
	ym = yaml_error(yaml);
	js = json_of(yaml);
	at = strstr(js, "\"port\":");
	assert_non_null(at);
	/* the converted value replaced by the JSON spelling under test */
	{
		char buf[1024];
		const char *end = strchr(at + 7, '}');

		snprintf(buf, sizeof(buf), "%.*s\"port\":%s%s", (int)(at - js), js, json_value, end);
		assert_int_equal(load_lim(buf, NULL), -EINVAL);
	}
	assert_int_equal(C.d.n, 1);
	assert_int_equal(C.d.v[0].line, 0);
	p = printed(&C.d);
	assert_true(strncmp(p, SRC ": ", strlen(SRC) + 2) == 0);
	assert_string_equal(p + strlen(SRC) + 2, ym);
	assert_non_null(strstr(p, want));
	assert_int_equal(C.s->inputs[0].refused, ++refused);
	diags_clear(&C.d);
	free(js);
	free(ym);
}

static void errors_match_yaml(void **state)
{
	same_error("\"8080\"", "\"8080\"", "TCPRoute app/t: spec.rules[0].backendRefs[0].port: "
		   "must be an integer, got the string \"8080\"");
	same_error("70000", "70000", "70000 is out of range");
	same_error("80.0", "80.0", "must be an integer, got the value \"80.0\"");
	same_error("1e3", "1e3", "got the value \"1e3\"");
	same_error("true", "true", "got the value \"true\"");
	same_error("[80]", "[80]", "got a sequence");
}

static void list_items_kinds(void **state)
{
	static const char j[] =
		"{\"kind\":\"TCPRouteList\",\"apiVersion\":\"gateway.networking.k8s.io/v1\","
		"\"metadata\":{\"resourceVersion\":\"9\"},\"items\":["
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"app\"},\"spec\":{\"parentRefs\":[{\"name\":\"gw\"}],"
		"\"rules\":[{\"backendRefs\":[{\"name\":\"web\",\"port\":80}]}]}},"
		/* its own apiVersion and kind win, as in a kubectl List */
		"{\"apiVersion\":\"gateway.networking.k8s.io/v1alpha2\",\"kind\":\"UDPRoute\",\"metadata\":"
		"{\"name\":\"b\",\"namespace\":\"app\"},\"spec\":{\"parentRefs\":[{\"name\":\"gw\"}],"
		"\"rules\":[{\"backendRefs\":[{\"name\":\"dns\",\"port\":53}]}]}},"
		/* null is absent */
		"{\"apiVersion\":null,\"kind\":null,\"metadata\":{\"name\":\"c\",\"namespace\":\"app\"},"
		"\"spec\":{\"parentRefs\":[{\"name\":\"gw\"}],\"rules\":[{\"backendRefs\":[{\"name\":\"w\",\"port\":1}]}]}}]}";
	static const char deployments[] =
		"{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"items\":[{\"metadata\":"
		"{\"name\":\"x\"}},{\"metadata\":{\"name\":\"y\"}}]}";

	assert_int_equal(load_lim(j, NULL), 0);
	assert_int_equal(C.s->n_routes, 3);
	assert_int_equal(C.s->routes[0].kind, KIND_TCP_ROUTE);
	assert_string_equal(C.s->routes[0].m.api_version, "gateway.networking.k8s.io/v1");
	assert_int_equal(C.s->routes[1].kind, KIND_UDP_ROUTE);
	assert_string_equal(C.s->routes[1].m.api_version, "gateway.networking.k8s.io/v1alpha2");
	assert_int_equal(C.s->routes[2].kind, KIND_TCP_ROUTE);
	assert_string_equal(C.s->routes[0].m.loc.file, SRC);
	assert_int_equal(C.s->routes[0].m.loc.line, 0);
	assert_int_equal(C.s->inputs[0].objects[KIND_TCP_ROUTE], 2);
	/* kinds nftgate does not read are skipped and counted, as in files */
	assert_int_equal(load_lim(deployments, NULL), 0);
	assert_int_equal(C.s->inputs[0].other, 2);
	assert_int_equal(C.d.n, 0);
	/* an empty page; a page of a kind whose items are not mappings */
	assert_int_equal(load_lim("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":[]}", NULL), 0);
	assert_int_equal(load_lim("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":null}", NULL), 0);
	assert_int_equal(load_lim("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":{}}", NULL),
			 -EINVAL);
	assert_non_null(strstr(printed(&C.d), SRC ": ServiceList: items: must be a list, got a mapping"));
	diags_clear(&C.d);
	assert_int_equal(load_lim("{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":[7]}", NULL),
			 -EINVAL);
	assert_non_null(strstr(printed(&C.d), "a List item must be a mapping"));
	diags_clear(&C.d);
	/* kind: List keeps the manifests' rule: items need their own */
	assert_int_equal(load_lim("{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{}}]}",
				  NULL), -EINVAL);
	assert_non_null(strstr(printed(&C.d), "apiVersion: is required"));
}

static void api_object_errors(void **state)
{
	/* a bad object among good ones: only it is refused, named */
	static const char j[] =
		"{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":["
		"{\"metadata\":{\"name\":\"ok\",\"namespace\":\"n\"},\"spec\":{\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"name\":\"Bad_Name\",\"namespace\":\"n\"},\"spec\":{\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"resourceVersion\":\"5\",\"managedFields\":"
		"[{\"fieldsV1\":{\"f:spec\":{\".\":{}}}}]},\"spec\":{\"ports\":[{\"port\":\"http\"}]}}]}";
	const char *p;

	assert_int_equal(load_lim(j, NULL), -EINVAL);
	assert_int_equal(C.s->n_services, 1);
	assert_int_equal(C.d.n, 2);
	p = printed(&C.d);
	assert_non_null(strstr(p, SRC ": Service: metadata.name: \"Bad_Name\" is not"));
	assert_non_null(strstr(p, SRC ": Service n/p: spec.ports[0].port: must be an integer, got the "
			       "string \"http\"\n"));
	assert_int_equal(C.s->inputs[0].refused, 2);
}

static void not_json(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "no JSON value (at byte 0)" },
		{ "  \n", "no JSON value" },
		{ "{\"a\":1", "ends inside a JSON value" },
		{ "{\"a\":1} {}", "(at byte 8)" },
		{ "{'a':1}", "single quotes are not JSON (at byte 1)" },
		{ "{\"a\":NaN}", "unexpected character (not JSON) (at byte 5)" },
		{ "{\"a\":1,}", "JSON syntax error" },
		{ "[010]", "JSON syntax error" },
		{ "/* c */{}", "comments are not JSON" },
		{ "{\"a\":\"x\ty\"}", "a raw control character (0x09) in a string (at byte 7)" },
		{ "{\"kind\\u0000x\":\"Service\"}", "\\u0000 (a NUL character) is not allowed in a value or key (at byte 6)" },
		{ "{\"a\":\"\\ud800\"}", "high surrogate" },
		{ "{\"a\":\"\\udc00\"}", "low surrogate" },
		{ "{\"a\":\"\xc0\xaf\"}", "invalid UTF-8 (0xc0) (at byte 6)" },
		{ "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p;

		assert_int_equal(load_lim(cases[i].in, NULL), -EINVAL);
		p = printed(&C.d);
		if (!strstr(p, cases[i].want))
			fail_msg("%s: %s", cases[i].in, p);
		assert_true(strncmp(p, SRC ": JSON syntax error: ", strlen(SRC) + 21) == 0);
		diags_clear(&C.d);
	}
	/* JSON that is fine: surrogate pairs, DEL and C1 raw (Go writes them), a BOM, \/ */
	assert_int_equal(load_lim("\xef\xbb\xbf{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"a\":"
				  "\"\\ud83d\\ude00\x7f\xc2\x85\\/\"}", NULL), 0);
	assert_int_equal(C.s->inputs[0].other, 1);
}

/* A depth of nested lists inside a Secret's data (not read, but bounded all the same). */
static char *nested(const char *fmt_open, const char *close, unsigned depth, bool json)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fputs(json ? "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"x\":" : "{kind: Secret, apiVersion: v1, x: ", f);
	for (unsigned i = 0; i < depth - 1; i++)
		fputs(fmt_open, f);
	fputs("1", f);
	for (unsigned i = 0; i < depth - 1; i++)
		fputs(close, f);
	fputs("}", f);
	fclose(f);
	return out;
}

static void limits_as_yaml(void **state)
{
	struct read_limits lim = read_limits_default;
	char *j, big[200];

	lim.max_depth = 8;
	for (unsigned depth = 7; depth <= 9; depth++) {
		struct store *s = store_new();
		struct diags d = { 0 };
		char *y = nested("[", "]", depth, false);
		int ry = store_load_buffer(s, "t.yaml", y, strlen(y), &lim, &d);

		j = nested("[", "]", depth, true);
		assert_int_equal(load_lim(j, &lim), ry);
		assert_int_equal(ry, depth <= 8 ? 0 : -E2BIG);
		if (ry)
			assert_non_null(strstr(printed(&C.d), "nesting deeper than 8 levels (limit max_depth)"));
		diags_clear(&C.d);
		diags_clear(&d);
		store_free(s);
		free(y);
		free(j);
	}
	lim = read_limits_default;
	lim.max_string = 10;
	assert_int_equal(load_lim("{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"x\":\"12345678901\"}", &lim),
			 -E2BIG);
	assert_non_null(strstr(printed(&C.d), SRC ": a scalar is longer than 10 bytes (limit max_string)"));
	diags_clear(&C.d);
	assert_int_equal(load_lim("{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"x\":\"1234567890\"}", &lim), 0);
	lim = read_limits_default;
	lim.max_items = 3;
	assert_int_equal(load_lim("{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"x\":[1,2,3,4]}", &lim), -E2BIG);
	assert_non_null(strstr(printed(&C.d), "more than 3 entries"));
	diags_clear(&C.d);
	assert_int_equal(load_lim("{\"kind\":\"SecretList\",\"apiVersion\":\"v1\",\"items\":[{},{},{},{}]}",
				  &lim), -E2BIG);
	diags_clear(&C.d);
	lim = read_limits_default;
	lim.max_doc_bytes = 100;
	memset(big, ' ', sizeof(big));
	memcpy(big, "{}", 2);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(load_lim(big, &lim), -E2BIG);
	assert_non_null(strstr(printed(&C.d), "document is larger than 100 bytes (limit max_doc_bytes)"));
	diags_clear(&C.d);
	lim = read_limits_default;
	lim.max_objects = 1;
	assert_int_equal(load_lim("{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"items\":["
				  "{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}", &lim),
			 -E2BIG);
	assert_int_equal(C.s->n_namespaces, 1);
}

/* ---- allocation failures */

static int load_all(void *ctx)
{
	char *list = ctx;
	struct store *s = store_new();
	struct diags d = { 0 };
	int r = -ENOMEM;

	if (s)
		r = store_load_json(s, SRC, list, strlen(list), NULL, &d);
	if (r == 0 && d.n)
		r = -EINVAL; /* a failed allocation reported as the input's */
	diags_clear(&d);
	store_free(s);
	return r;
}

static void alloc_failures(void **state)
{
	char *list = plain_list();
	unsigned long n = alloc_fail_each("store_load_json(list)", load_all, list, NULL);

	assert_true(n > 10);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind_alone),
		cmocka_unit_test(every_kind_in_list),
		cmocka_unit_test(every_kind_in_api_lists),
		cmocka_unit_test_setup_teardown(errors_match_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(list_items_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(api_object_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(not_json, setup, teardown),
		cmocka_unit_test_setup_teardown(limits_as_yaml, setup, teardown),
		cmocka_unit_test(alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
