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
	double took, limit = 0.5;
	size_t forwarding = 0;

#if defined(__SANITIZE_ADDRESS__)
	limit = 3.0; /* instrumented builds are several times slower */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	limit = 3.0;
#endif
#endif
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
	assert_true(took < limit);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deterministic_under_shuffle),
		cmocka_unit_test(ten_thousand_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
