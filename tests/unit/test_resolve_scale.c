/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve() is deterministic (the same objects in any order give the same plan and status)
 * and fast (10,000 routes, Services and EndpointSlices of 10 endpoints in well under 0.5 s).
 */
#include <inttypes.h>
#include <time.h>

#include "resolve_fixture.h"

/* Every field of the plan and status, as text, so two resolutions can be compared. */
static void dump_conds(FILE *o, const struct condition *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(o, "  cond %s %s %s %" PRId64 " [%s]\n", c[i].type,
			cond_status_name(c[i].status), c[i].reason, c[i].observed_generation,
			c[i].message);
}

static void dump_status(FILE *o, const struct status_set *st)
{
	for (size_t i = 0; i < st->n; i++) {
		const struct object_status *s = &st->v[i];

		fprintf(o, "%s %s/%s %s %" PRId64 "\n", kind_name(s->kind),
			s->namespace ? s->namespace : "", s->name, s->api_version, s->generation);
		dump_conds(o, s->conds, s->n_conds);
		for (size_t j = 0; j < s->n_addresses; j++)
			fprintf(o, " addr %s %s\n", s->addresses[j].type, s->addresses[j].value);
		for (size_t j = 0; j < s->n_listeners; j++) {
			const struct listener_status *l = &s->listeners[j];

			fprintf(o, " listener %s %d\n", l->name, l->attached_routes);
			for (size_t k = 0; k < l->n_supported_kinds; k++)
				fprintf(o, "  kind %s/%s\n", l->supported_kinds[k].group,
					l->supported_kinds[k].kind);
			dump_conds(o, l->conds, l->n_conds);
		}
		for (size_t j = 0; j < s->n_parents; j++) {
			const struct parent_status *p = &s->parents[j];

			fprintf(o, " parent %s %s %s/%s %s %u %s\n", p->ref.group, p->ref.kind,
				p->ref.namespace, p->ref.name, p->ref.section ? p->ref.section : "-",
				p->ref.port, p->controller_name);
			dump_conds(o, p->conds, p->n_conds);
		}
	}
}

static void dump_plan(FILE *o, const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_listener *l = &p->v[i];

		fprintf(o, "%s %s %s %u %u %d %s %s\n", l->key, l->gateway, l->listener, l->protocol,
			l->port, l->action, l->reject_reason ? l->reject_reason : "-",
			l->route ? l->route : "-");
		for (size_t j = 0; j < l->n_addrs; j++) {
			fprintf(o, " addr %u", l->addrs[j].family);
			for (size_t k = 0; k < 16; k++)
				fprintf(o, "%02x", l->addrs[j].addr[k]);
			fputc('\n', o);
		}
		for (size_t j = 0; j < l->n_shares; j++) {
			const struct plan_share *s = &l->shares[j];

			fprintf(o, " share %u %d %s %s %u %u:", s->weight, s->reject,
				s->reason ? s->reason : "-", s->backend, s->rule, s->ref);
			for (size_t k = 0; k < s->n_endpoints; k++) {
				char a[INET6_ADDRSTRLEN];

				inet_ntop(s->endpoints[k].family, s->endpoints[k].addr, a, sizeof(a));
				fprintf(o, " %s/%u", a, s->endpoints[k].port);
			}
			fputc('\n', o);
		}
	}
}

static char *dump(const struct fx *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	assert_non_null(o);
	dump_plan(o, f->p);
	dump_status(o, f->st);
	fclose(o);
	return buf;
}

#define SHUFFLE(v, n, seed)                                                              \
	do {                                                                             \
		for (size_t i_ = (n); i_ > 1; i_--) {                                    \
			size_t j_ = (size_t)rand_r(seed) % i_;                           \
			__typeof__((v)[0]) t_ = (v)[i_ - 1];                             \
			(v)[i_ - 1] = (v)[j_];                                           \
			(v)[j_] = t_;                                                    \
		}                                                                        \
	} while (0)

static void shuffle_store(struct store *s, unsigned *seed)
{
	SHUFFLE(s->classes, s->n_classes, seed);
	SHUFFLE(s->gateways, s->n_gateways, seed);
	SHUFFLE(s->routes, s->n_routes, seed);
	SHUFFLE(s->grants, s->n_grants, seed);
	SHUFFLE(s->services, s->n_services, seed);
	SHUFFLE(s->slices, s->n_slices, seed);
	SHUFFLE(s->namespaces, s->n_namespaces, seed);
	for (size_t i = 0; i < s->n_slices; i++)
		SHUFFLE(s->slices[i].endpoints, s->slices[i].n_endpoints, seed);
	for (size_t i = 0; i < s->n_grants; i++) {
		SHUFFLE(s->grants[i].from, s->grants[i].n_from, seed);
		SHUFFLE(s->grants[i].to, s->grants[i].n_to, seed);
	}
}

/* A bit of everything: conflicts, several routes per listener, grants, slices. */
static const char mixed[] =
	"apiVersion: v1\nkind: Namespace\nmetadata: {name: blue, labels: {team: blue}}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\n"
	"metadata: {name: second}\nspec: {controllerName: " CTRL "}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
	"metadata: {name: a, namespace: infra}\n"
	"spec:\n  gatewayClassName: nftgate\n  listeners:\n"
	"  - {name: x, port: 80, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}\n"
	"  - {name: y, port: 81, protocol: TCP, allowedRoutes: {namespaces: {from: Selector,"
	" selector: {matchLabels: {team: blue}}}}}\n"
	"  - {name: h, port: 82, protocol: HTTP}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
	"metadata: {name: b, namespace: infra}\n"
	"spec:\n  gatewayClassName: second\n  listeners: [{name: x, port: 81, protocol: TCP}]\n"
	"---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
	"metadata: {name: c, namespace: infra}\n"
	"spec:\n  gatewayClassName: second\n  addresses: [{value: 192.0.2.1}]\n"
	"  listeners: [{name: x, port: 90, protocol: TCP, allowedRoutes: {namespaces: {from: All}}}]\n"
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	"metadata: {name: r1, namespace: blue}\n"
	"spec: {parentRefs: [{name: a, namespace: infra}, {name: c, namespace: infra}],"
	" rules: [{backendRefs: [{name: s, port: 1, weight: 2}, {name: t, namespace: red, port: 1}]}]}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	"metadata: {name: r2, namespace: blue}\n"
	"spec: {parentRefs: [{name: a, namespace: infra, sectionName: x}],"
	" rules: [{backendRefs: [{name: s, port: 1}]}]}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
	"metadata: {name: r0, namespace: red, creationTimestamp: \"2020-01-01T00:00:00Z\"}\n"
	"spec: {parentRefs: [{name: c, namespace: infra}], rules: [{backendRefs: [{name: t, port: 1}]}]}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: blue}\n"
	"spec: {ports: [{port: 1}]}\n"
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: t, namespace: red}\n"
	"spec: {ports: [{port: 1}]}\n"
	"---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
	"metadata: {name: g, namespace: red}\n"
	"spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: blue},"
	" {group: gateway.networking.k8s.io, kind: TCPRoute, namespace: blue}],"
	" to: [{group: \"\", kind: Secret}, {group: \"\", kind: Service, name: t}]}\n"
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	"metadata: {name: s1, namespace: blue, labels: {kubernetes.io/service-name: s}}\n"
	"addressType: IPv4\nports: [{port: 5}]\n"
	"endpoints: [{addresses: [10.0.0.3]}, {addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}]\n"
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	"metadata: {name: s2, namespace: blue, labels: {kubernetes.io/service-name: s}}\n"
	"addressType: IPv6\nports: [{port: 5}]\n"
	"endpoints: [{addresses: [\"fd00::2\"]}, {addresses: [\"fd00::1\"]}]\n"
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	"metadata: {name: s3, namespace: blue, labels: {kubernetes.io/service-name: s}}\n"
	"addressType: IPv4\nports: [{port: 5}]\nendpoints: [{addresses: [10.0.0.2]}]\n"
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	"metadata: {name: t1, namespace: red, labels: {kubernetes.io/service-name: t}}\n"
	"addressType: IPv4\nports: [{port: 7}]\nendpoints: [{addresses: [10.9.0.1]}]\n";

static void deterministic_under_shuffle(void **state)
{
	struct fx f = { 0 };
	char *first, *again;
	unsigned seed = 12345;

	fx_run(&f, mixed);
	first = dump(&f);
	/* sanity: the scenario exercises what it should */
	assert_non_null(strstr(first, "infra/a/y infra/a y 6 81 1 ProtocolConflict -"));
	assert_non_null(strstr(first, "infra/a/x infra/a x 6 80 0 - blue/r1"));
	assert_non_null(strstr(first, "infra/c/x infra/c x 6 90 0 - red/r0"));
	assert_non_null(strstr(first, "10.0.0.1/5 10.0.0.2/5 10.0.0.3/5 fd00::1/5 fd00::2/5"));
	for (int round = 0; round < 20; round++) {
		shuffle_store(f.s, &seed);
		fx_resolve(&f);
		again = dump(&f);
		assert_string_equal(first, again);
		free(again);
	}
	free(first);
	fx_free(&f);
}

/* Loads n objects made by gen(i) in chunks, as the reader's limits on one buffer allow. */
static void load_generated(struct fx *f, size_t n, void (*gen)(FILE *, size_t))
{
	for (size_t i = 0; i < n;) {
		char *buf = NULL;
		size_t len = 0;
		FILE *o = open_memstream(&buf, &len);

		assert_non_null(o);
		for (size_t k = 0; k < 200 && i < n; k++, i++)
			gen(o, i);
		fclose(o);
		fx_load(f, buf);
		free(buf);
	}
}

#define N 10000
#define NS 100
#define GWS 200
#define LISTENERS 50

static void gen_gateway(FILE *o, size_t g)
{
	fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		   "metadata: {name: gw-%zu, namespace: ns-%zu}\n"
		   "spec:\n  gatewayClassName: nftgate\n  addresses: [{value: 10.%zu.%zu.1}]\n"
		   "  listeners:\n", g, g % NS, g / 250, g % 250);
	for (size_t l = 0; l < LISTENERS; l++)
		fprintf(o, "  - {name: l%zu, port: %zu, protocol: TCP}\n", l, 1000 + l);
}

static void gen_route(FILE *o, size_t i)
{
	size_t g = i % GWS;

	fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
		   "metadata: {name: r-%zu, namespace: ns-%zu}\n"
		   "spec: {parentRefs: [{name: gw-%zu, sectionName: l%zu}],"
		   " rules: [{backendRefs: [{name: svc-%zu, port: 80}]}]}\n",
		i, g % NS, g, (i / GWS) % LISTENERS, i);
}

static void gen_service(FILE *o, size_t i)
{
	fprintf(o, "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%zu, namespace: ns-%zu}\n"
		   "spec: {ports: [{name: web, port: 80}]}\n"
		   "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		   "metadata: {name: svc-%zu-x, namespace: ns-%zu, labels: {kubernetes.io/service-name: svc-%zu}}\n"
		   "addressType: IPv4\nports: [{name: web, port: 8080}]\nendpoints:\n",
		i, i % NS, i, i % NS, i);
	for (size_t e = 0; e < 10; e++)
		fprintf(o, "- addresses: [10.%zu.%zu.%zu]\n", 100 + i / 10000, (i / 100) % 100,
			(i % 100) * 2 + e);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void ten_thousand_routes(void **state)
{
	struct fx f = { 0 };
	struct timespec t0;
	double took;
	size_t forwarding = 0;

	fx_load(&f, CLASS_YAML);
	load_generated(&f, GWS, gen_gateway);
	load_generated(&f, N, gen_route);
	load_generated(&f, N, gen_service);
	assert_int_equal(f.s->n_routes, N);
	assert_int_equal(f.s->n_slices, N);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_resolve(&f);
	took = seconds_since(&t0);
	fprintf(stderr, "resolve: %zu routes, %zu listeners in %.3f s\n", f.s->n_routes, f.p->n,
		took);
	assert_int_equal(f.p->n, GWS * LISTENERS);
	for (size_t i = 0; i < f.p->n; i++)
		if (f.p->v[i].action == PLAN_FORWARD) {
			forwarding++;
			assert_int_equal(f.p->v[i].shares[0].n_endpoints, 10);
			assert_int_equal(f.p->v[i].shares[0].endpoints[0].port, 8080);
		}
	assert_int_equal(forwarding, GWS * LISTENERS);
	fx_free(&f);
}

#define GRANTS 20000

/* One ReferenceGrant per backend Service, the usual way to share Services across namespaces:
 * route r-i in "front" references Service svc-i in "back", permitted by grant g-i (from
 * front, to svc-i by name). Every odd grant also has a decoy entry from another namespace,
 * and the grants for i >= GRANTS - 10 come from "elsewhere" only: those refs must stay not
 * permitted. Checking each ref against every grant of the namespace was quadratic (7 s here). */
static void gen_grant_route(FILE *o, size_t i)
{
	fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"
		   "metadata: {name: r-%zu, namespace: front}\n"
		   "spec: {parentRefs: [{name: gw, sectionName: l%zu}],"
		   " rules: [{backendRefs: [{name: svc-%zu, namespace: back, port: 80}]}]}\n"
		   "---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"
		   "metadata: {name: g-%zu, namespace: back}\nspec:\n  from:\n"
		   "  - {group: gateway.networking.k8s.io, kind: TCPRoute, namespace: %s}\n%s"
		   "  to: [{group: '', kind: Service, name: svc-%zu}]\n",
		   i, i % 2, i, i, i >= GRANTS - 10 ? "elsewhere" : "front",
		   i % 2 ? "  - {group: gateway.networking.k8s.io, kind: TCPRoute, namespace: decoy}\n" : "",
		   i);
}

static void many_reference_grants(void **state)
{
	struct fx f = { 0 };
	struct timespec t0;
	double took;
	size_t not_permitted = 0;

	fx_load(&f, CLASS_YAML "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		    "metadata: {name: gw, namespace: front}\nspec:\n  gatewayClassName: nftgate\n"
		    "  listeners:\n  - {name: l0, port: 80, protocol: TCP}\n"
		    "  - {name: l1, port: 81, protocol: TCP}\n");
	load_generated(&f, GRANTS, gen_grant_route);
	assert_int_equal(f.s->n_grants, GRANTS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_resolve(&f);
	took = seconds_since(&t0);
	fprintf(stderr, "resolve: %d cross-namespace refs, %d grants in %.3f s\n", GRANTS, GRANTS, took);
	for (size_t i = 0; i < f.st->n; i++) {
		const struct object_status *r = &f.st->v[i];
		const struct condition *c;

		if (r->kind != KIND_TCP_ROUTE)
			continue;
		c = cond_find(r->parents[0].conds, r->parents[0].n_conds, "ResolvedRefs");
		assert_non_null(c);
		/* permitted refs get as far as the existence check: no Services here */
		assert_string_equal(c->reason, strcmp(r->name, "r-19990") >= 0 &&
				    strlen(r->name) == 7 ? "RefNotPermitted" : "BackendNotFound");
		not_permitted += !strcmp(c->reason, "RefNotPermitted");
	}
	assert_int_equal(not_permitted, 10);
	fx_free(&f);
}

#define LABELS 30000

/* A Namespace with many labels and a listener selecting on as many: each route's check looks
 * labels up instead of scanning them (a scan per selector key took seconds per route). The
 * last route's namespace lacks one label and must not be admitted. */
static void big_label_selector(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	struct fx f = { 0 };
	struct timespec t0;
	double took;

	assert_non_null(o);
	for (int ns = 0; ns < 2; ns++) {
		fprintf(o, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-%d\n  labels:\n", ns);
		for (int i = LABELS - 1; i >= ns; i--) /* team-1 lacks k0 */
			fprintf(o, "    k%d: v%d\n", i, i);
	}
	fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		   "metadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: nftgate\n"
		   "  listeners:\n  - name: l\n    port: 80\n    protocol: TCP\n"
		   "    allowedRoutes:\n      namespaces:\n        from: Selector\n        selector:\n"
		   "          matchExpressions: [{key: k1, operator: Exists}]\n          matchLabels:\n");
	for (int i = 0; i < LABELS; i++)
		fprintf(o, "            k%d: v%d\n", i, i);
	for (int r = 0; r < 40; r++)
		fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
			   "metadata: {name: r%d, namespace: team-%d}\n"
			   "spec: {parentRefs: [{name: gw, namespace: infra}],"
			   " rules: [{backendRefs: [{name: s, port: 1}]}]}\n", r, r == 39);
	fclose(o);
	fx_load(&f, CLASS_YAML);
	fx_load(&f, buf);
	free(buf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_resolve(&f);
	took = seconds_since(&t0);
	fprintf(stderr, "resolve: 40 routes, a %d-label selector in %.3f s\n", LABELS, took);
	assert_int_equal(st_listener(st_gw(&f, "infra", "gw"), "l")->attached_routes, 39);
	cond_check(st_route(&f, "team-1", "r39")->parents[0].conds,
		   st_route(&f, "team-1", "r39")->parents[0].n_conds, "Accepted", COND_FALSE,
		   "NotAllowedByListeners");
	fx_free(&f);
}

#define VALUES 60000
#define SEL_ROUTES 10000

/* A listener admitting namespaces by a long In list, and routes from many namespaces: each
 * check looks the namespace up in the (sorted) list instead of scanning it (3 s here when
 * it did). Routes from team-i are admitted for even i only (the odd names are not listed),
 * and a NotIn on the same list admits exactly the others. */
static void big_value_list_selector(void **state)
{
	char *buf = NULL;
	size_t len = 0, attached_in = 0;
	FILE *o = open_memstream(&buf, &len);
	struct fx f = { 0 };
	struct timespec t0;
	double took;

	assert_non_null(o);
	fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		   "metadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: nftgate\n"
		   "  listeners:\n");
	for (int l = 0; l < 2; l++) {
		fprintf(o, "  - name: l%d\n    port: %d\n    protocol: TCP\n    allowedRoutes:\n"
			   "      namespaces:\n        from: Selector\n        selector:\n"
			   "          matchExpressions:\n          - key: kubernetes.io/metadata.name\n"
			   "            operator: %s\n            values:\n", l, 80 + l, l ? "NotIn" : "In");
		for (int i = VALUES - 1; i >= 0; i--)
			fprintf(o, "            - team-%d\n", 2 * i);
	}
	fclose(o);
	fx_load(&f, CLASS_YAML);
	fx_load(&f, buf);
	free(buf);
	for (int i = 0; i < SEL_ROUTES;) {
		buf = NULL;
		o = open_memstream(&buf, &len);
		assert_non_null(o);
		for (int k = 0; k < 500; k++, i++)
			fprintf(o, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
				   "metadata: {name: r, namespace: team-%d}\n"
				   "spec: {parentRefs: [{name: gw, namespace: infra}],"
				   " rules: [{backendRefs: [{name: s, port: 1}]}]}\n", i);
		fclose(o);
		fx_load(&f, buf);
		free(buf);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fx_resolve(&f);
	took = seconds_since(&t0);
	fprintf(stderr, "resolve: %d routes, a %d-value selector in %.3f s\n", SEL_ROUTES, VALUES, took);
	attached_in = (size_t)st_listener(st_gw(&f, "infra", "gw"), "l0")->attached_routes;
	assert_int_equal(attached_in, SEL_ROUTES / 2);
	assert_int_equal(st_listener(st_gw(&f, "infra", "gw"), "l1")->attached_routes, SEL_ROUTES / 2);
	assert_true(message_has(&st_route(&f, "team-3", "r")->parents[0].conds[0], "\"l1\""));
	assert_true(message_has(&st_route(&f, "team-4", "r")->parents[0].conds[0], "\"l0\""));
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deterministic_under_shuffle),
		cmocka_unit_test(ten_thousand_routes),
		cmocka_unit_test(many_reference_grants),
		cmocka_unit_test(big_label_selector),
		cmocka_unit_test(big_value_list_selector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
