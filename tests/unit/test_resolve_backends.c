/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve(): backendRefs, ReferenceGrants, endpoints and weights (reference/gateway-api.md
 * §3, §4.2; reference/kubernetes-api.md §6; §7 traps 3, 4, 5, 6, 10, 11).
 */
#include "resolve_fixture.h"

#define GW \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: gw, namespace: app}\n" \
	"spec:\n" \
	"  gatewayClassName: nftgate\n" \
	"  listeners: [{name: l, port: 8080, protocol: TCP}]\n" \
	"---\n"

#define ROUTE_REFS(refs)                                                                \
	"---\n"                                                                         \
	"apiVersion: gateway.networking.k8s.io/v1alpha2\n"                              \
	"kind: TCPRoute\n"                                                              \
	"metadata: {name: r, namespace: app}\n"                                         \
	"spec:\n"                                                                       \
	"  parentRefs: [{name: gw}]\n"                                                  \
	"  rules: [{backendRefs: " refs "}]\n"

#define SVC(ns, name, ports)                                                            \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns "}\n" \
	"spec:\n  ports: " ports "\n"

#define SLICE(ns, name, svc, type, ports, endpoints)                                    \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                   \
	"metadata: {name: " name ", namespace: " ns ", labels: {kubernetes.io/service-name: " svc "}}\n" \
	"addressType: " type "\nports: " ports "\nendpoints: " endpoints "\n"

#define GRANT(ns, from, to)                                                             \
	"---\napiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\n"    \
	"metadata: {name: g, namespace: " ns "}\n"                                      \
	"spec: {from: " from ", to: " to "}\n"

static const struct plan_listener *forwarding(const struct fx *f)
{
	const struct plan_listener *pl = plan_get(f, "app/gw/l");

	assert_int_equal(pl->action, PLAN_FORWARD);
	assert_string_equal(pl->route, "app/r");
	return pl;
}

/* §3.4: kind, then permission, then existence; one aggregated ResolvedRefs. */
static void backend_check_order_and_aggregation(void **state)
{
	struct fx f = { 0 };
	const struct object_status *r;
	const struct condition *c;
	const struct plan_listener *pl;

	fx_run(&f, GW
	       SVC("app", "ext", "[{port: 80}]") "  type: ExternalName\n  externalName: example.com\n"
	       SVC("app", "ok", "[{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]")
	       SVC("other", "hidden", "[{port: 80}]")
	       ROUTE_REFS("[{group: example.io, kind: Bucket, name: b, port: 1},"
			  " {name: hidden, namespace: other, port: 80},"
			  " {name: nowhere, namespace: other, port: 80},"
			  " {name: missing, port: 80},"
			  " {name: ext, port: 80},"
			  " {name: ok, port: 81},"
			  " {name: ok, port: 53},"
			  " {name: ok, port: 80}]"));
	r = st_route(&f, "app", "r");
	/* bad backends never make the route unaccepted */
	PCOND(r, 0, "Accepted", COND_TRUE, "Accepted");
	c = PCOND(r, 0, "ResolvedRefs", COND_FALSE, "InvalidKind");
	assert_true(message_has(c, "spec.rules[0].backendRefs[0]"));
	assert_true(message_has(c, "backendRefs[1]: Service other/hidden: no ReferenceGrant"));
	/* §7 trap 10: not permitted, even though it does not exist */
	assert_true(message_has(c, "backendRefs[2]: Service other/nowhere: no ReferenceGrant"));
	assert_true(message_has(c, "backendRefs[3]: Service app/missing not found"));
	assert_true(message_has(c, "ExternalName"));
	assert_true(message_has(c, "backendRefs[5]: Service app/ok has no port 81"));
	assert_true(message_has(c, "backendRefs[6]: Service app/ok port 53 has protocol UDP, not TCP"));
	assert_null(strstr(c->message, "backendRefs[7]"));
	pl = forwarding(&f);
	assert_int_equal(pl->n_shares, 8);
	{
		static const char *const reasons[] = { "InvalidKind", "RefNotPermitted",
						       "RefNotPermitted", "BackendNotFound",
						       "BackendNotFound", "BackendNotFound",
						       "BackendNotFound", "NoEndpoints" };

		for (size_t i = 0; i < 8; i++) {
			assert_true(pl->shares[i].reject);
			assert_string_equal(pl->shares[i].reason, reasons[i]);
			assert_int_equal(pl->shares[i].weight, 1);
			assert_int_equal(pl->shares[i].ref, i);
			assert_int_equal(pl->shares[i].rule, 0);
		}
	}
	assert_string_equal(pl->shares[1].backend, "Service other/hidden:80");
	fx_free(&f);
}

static void first_bad_reason_wins(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, GW ROUTE_REFS("[{name: missing, port: 80}, {name: x, namespace: other, port: 1}]"));
	PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	fx_free(&f);
	fx_run(&f, GW ROUTE_REFS("[{name: x, namespace: other, port: 1}, {name: missing, port: 80}]"));
	PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "RefNotPermitted");
	fx_free(&f);
}

/* §3.4, §7 trap 11: grants match from (group, kind, namespace) and to (group, kind, name?). */
static void reference_grants(void **state)
{
	static const struct {
		const char *grant;
		bool permitted;
	} cases[] = {
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			"[{group: \"\", kind: Service, name: s}]"), true },
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			"[{group: \"\", kind: Service}]"), true },
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: app},"
			" {group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			"[{group: \"\", kind: Secret}, {group: \"\", kind: Service, name: s}]"), true },
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			"[{group: \"\", kind: Service, name: t}]"), false },
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: app}]",
			"[{group: \"\", kind: Service}]"), false },
		{ GRANT("other", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: elsewhere}]",
			"[{group: \"\", kind: Service}]"), false },
		{ GRANT("app", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			"[{group: \"\", kind: Service}]"), false },
		{ "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f = { 0 };
		const struct plan_listener *pl;

		fx_run(&f, GW SVC("other", "s", "[{port: 5}]")
		       SLICE("other", "s-1", "s", "IPv4", "[{port: 5}]", "[{addresses: [10.1.0.1]}]"));
		fx_load(&f, cases[i].grant);
		fx_load(&f, ROUTE_REFS("[{name: s, namespace: other, port: 5}]"));
		fx_resolve(&f);
		pl = forwarding(&f);
		if (cases[i].permitted) {
			PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
			assert_false(pl->shares[0].reject);
			share_endpoints_are(&pl->shares[0], 1, "10.1.0.1:5");
		} else {
			PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE,
			      "RefNotPermitted");
			assert_true(pl->shares[0].reject);
			assert_string_equal(pl->shares[0].reason, "RefNotPermitted");
		}
		fx_free(&f);
	}
}

/* kubernetes-api.md §6, §7 trap 3: the pod port from the slice port of the same name, ready
 * endpoints, several slices, both families, duplicates removed, FQDN and UDP ignored. */
static void endpoints_from_slices(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW
	       SVC("app", "s", "[{name: web, port: 80}, {name: admin, port: 81}]")
	       SLICE("app", "s-a", "s", "IPv4", "[{name: web, port: 8080}, {name: admin, port: 9090}]",
		     "[{addresses: [10.0.0.2]}, {addresses: [10.0.0.1], conditions: {ready: true}},"
		     " {addresses: [10.0.0.9], conditions: {ready: false, serving: true, terminating: true}}]")
	       SLICE("app", "s-b", "s", "IPv4", "[{name: web, port: 8080}]",
		     "[{addresses: [10.0.0.1]}, {addresses: [10.0.0.3]}]")
	       SLICE("app", "s-6", "s", "IPv6", "[{name: web, port: 8080}]",
		     "[{addresses: [\"fd00::1\"]}]")
	       SLICE("app", "s-fqdn", "s", "FQDN", "[{name: web, port: 8080}]",
		     "[{addresses: [pod.example.com]}]")
	       SLICE("app", "s-udp", "s", "IPv4", "[{name: web, port: 7000, protocol: UDP}]",
		     "[{addresses: [10.0.0.7]}]")
	       SLICE("app", "s-other-port", "s", "IPv4", "[{name: other, port: 7001}]",
		     "[{addresses: [10.0.0.8]}]")
	       SLICE("elsewhere", "s-wrong-ns", "s", "IPv4", "[{name: web, port: 8080}]",
		     "[{addresses: [10.0.0.6]}]")
	       ROUTE_REFS("[{name: s, port: 80}, {name: s, port: 81}]"));
	pl = forwarding(&f);
	assert_int_equal(pl->n_shares, 2);
	assert_false(pl->shares[0].reject);
	share_endpoints_are(&pl->shares[0], 4, "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080",
			    "fd00::1:8080");
	share_endpoints_are(&pl->shares[1], 2, "10.0.0.1:9090", "10.0.0.2:9090");
	fx_free(&f);
}

static void unnamed_port_and_fallbacks(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW
	       SVC("app", "single", "[{port: 6000}]")
	       SLICE("app", "single-1", "single", "IPv4", "[{port: 6001}]",
		     "[{addresses: [10.0.1.1]}]")
	       SVC("app", "draining", "[{port: 1}]")
	       SLICE("app", "draining-1", "draining", "IPv4", "[{port: 2}]",
		     "[{addresses: [10.0.2.1], conditions: {ready: false, serving: true, terminating: true}},"
		     " {addresses: [10.0.2.2], conditions: {ready: false, serving: false}}]")
	       SVC("app", "down", "[{port: 1}]")
	       SLICE("app", "down-1", "down", "IPv4", "[{port: 2}]",
		     "[{addresses: [10.0.3.1], conditions: {ready: false, serving: false}},"
		     /* serving by default but not terminating: just not ready, gets nothing */
		     " {addresses: [10.0.3.2], conditions: {ready: false}}]")
	       SVC("app", "empty", "[{port: 1}]")
	       ROUTE_REFS("[{name: single, port: 6000}, {name: draining, port: 1},"
			  " {name: down, port: 1}, {name: empty, port: 1}]"));
	pl = forwarding(&f);
	/* never the Service port: the slice's port for that (unnamed) port */
	share_endpoints_are(&pl->shares[0], 1, "10.0.1.1:6001");
	/* none ready: serving (terminating) endpoints drain */
	share_endpoints_are(&pl->shares[1], 1, "10.0.2.1:2");
	/* §7 trap 5: no usable endpoint is a rejected share, not a healthy one */
	assert_true(pl->shares[2].reject);
	assert_string_equal(pl->shares[2].reason, "NoEndpoints");
	assert_true(pl->shares[3].reject);
	assert_int_equal(pl->shares[3].n_endpoints, 0);
	/* ...and not a ResolvedRefs failure (§4.2) */
	PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	fx_free(&f);
}

/* §3.2, §3.3, §7 traps 4 and 5: one share per backendRef, weight as given. */
static void weights_per_backend_ref(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW
	       SVC("app", "big", "[{port: 1}]")
	       SLICE("app", "big-1", "big", "IPv4", "[{port: 1}]",
		     "[{addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}, {addresses: [10.0.0.3]}]")
	       SVC("app", "small", "[{port: 1}]")
	       SLICE("app", "small-1", "small", "IPv4", "[{port: 1}]", "[{addresses: [10.0.1.1]}]")
	       ROUTE_REFS("[{name: big, port: 1, weight: 70}, {name: small, port: 1, weight: 30},"
			  " {name: small, port: 1, weight: 0}, {name: missing, port: 1, weight: 80},"
			  " {name: big, port: 1}]"));
	pl = forwarding(&f);
	assert_int_equal(pl->n_shares, 5);
	assert_int_equal(pl->shares[0].weight, 70);
	assert_int_equal(pl->shares[0].n_endpoints, 3);
	assert_int_equal(pl->shares[1].weight, 30);
	assert_int_equal(pl->shares[1].n_endpoints, 1);
	/* weight 0 is kept with weight 0 */
	assert_int_equal(pl->shares[2].weight, 0);
	assert_false(pl->shares[2].reject);
	/* the missing backend keeps its 80 and rejects it: nothing is redistributed */
	assert_int_equal(pl->shares[3].weight, 80);
	assert_true(pl->shares[3].reject);
	assert_string_equal(pl->shares[3].reason, "BackendNotFound");
	assert_int_equal(pl->shares[4].weight, 1);
	fx_free(&f);
}

/* §7 trap 6: an all-invalid route still forwards to reject shares only. */
static void all_invalid_route_rejects(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW ROUTE_REFS("[{name: a, port: 1}, {name: b, port: 1, weight: 3}]"));
	pl = forwarding(&f);
	assert_int_equal(pl->n_shares, 2);
	assert_true(pl->shares[0].reject && pl->shares[1].reject);
	fx_free(&f);
}

#define GRANT_BASE \
		"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n" \
		"metadata: {name: gw, namespace: app}\n" \
		"spec: {gatewayClassName: nftgate, listeners: [{name: l, port: 8080, protocol: TCP}]}\n" \
		SVC("other", "s", "[{port: 5}]") \
		SLICE("other", "s-1", "s", "IPv4", "[{port: 5}]", "[{addresses: [10.1.0.1]}]") \
		ROUTE_REFS("[{name: s, namespace: other, port: 5}]")

/* §7 trap 11: deleting a grant revokes access on the next resolve. */
static void grant_deleted_revokes(void **state)
{
	struct fx f = { 0 };

	fx_run(&f, GRANT_BASE GRANT("other", "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]",
			      "[{group: \"\", kind: Service, name: s}]"));
	assert_false(forwarding(&f)->shares[0].reject);
	fx_free(&f);
	fx_run(&f, GRANT_BASE);
	assert_true(forwarding(&f)->shares[0].reject);
	PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "RefNotPermitted");
	fx_free(&f);
}


#define UDP_GW \
	"apiVersion: gateway.networking.k8s.io/v1\n" \
	"kind: Gateway\n" \
	"metadata: {name: gw, namespace: app}\n" \
	"spec:\n" \
	"  gatewayClassName: nftgate\n" \
	"  listeners: [{name: u, port: 53, protocol: UDP}]\n" \
	"---\n"

#define UDP_ROUTE_REFS(refs)                                                            \
	"---\n"                                                                         \
	"apiVersion: gateway.networking.k8s.io/v1alpha2\n"                              \
	"kind: UDPRoute\n"                                                              \
	"metadata: {name: r, namespace: app}\n"                                         \
	"spec:\n"                                                                       \
	"  parentRefs: [{name: gw}]\n"                                                  \
	"  rules: [{backendRefs: " refs "}]\n"

static const struct plan_listener *udp_forwarding(const struct fx *f)
{
	const struct plan_listener *pl = plan_get(f, "app/gw/u");

	assert_int_equal(pl->action, PLAN_FORWARD);
	assert_int_equal(pl->protocol, IPPROTO_UDP);
	assert_string_equal(pl->route, "app/r");
	return pl;
}

/* A UDPRoute's backend is a Service port of protocol UDP, as a TCPRoute's is one of TCP;
 * the slice port must match it by name and protocol. */
static void udp_backend_ports(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;
	const struct condition *c;

	fx_run(&f, UDP_GW
	       SVC("app", "tcp-only", "[{name: dns, port: 53}]")
	       SVC("app", "both", "[{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53}]")
	       SLICE("app", "both-1", "both", "IPv4",
		     "[{name: dns, port: 5353, protocol: UDP}, {name: dns-tcp, port: 5354}]",
		     "[{addresses: [10.0.0.1]}]")
	       SVC("app", "skew", "[{name: dns, port: 53, protocol: UDP}]")
	       SLICE("app", "skew-1", "skew", "IPv4", "[{name: dns, port: 5353, protocol: TCP}]",
		     "[{addresses: [10.0.0.2]}]")
	       UDP_ROUTE_REFS("[{name: tcp-only, port: 53}, {name: both, port: 53},"
			      " {name: both, port: 54}, {name: skew, port: 53}]"));
	c = PCOND(st_udp_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(message_has(c, "spec.rules[0].backendRefs[0]: Service app/tcp-only port 53 has "
				   "protocol TCP, not UDP"));
	assert_true(message_has(c, "spec.rules[0].backendRefs[2]: Service app/both has no port 54"));
	assert_null(strstr(c->message, "backendRefs[1]"));
	assert_null(strstr(c->message, "backendRefs[3]"));
	pl = udp_forwarding(&f);
	assert_int_equal(pl->n_shares, 4);
	assert_string_equal(pl->shares[0].reason, "BackendNotFound");
	assert_false(pl->shares[1].reject);
	share_endpoints_are(&pl->shares[1], 1, "10.0.0.1:5353");
	assert_string_equal(pl->shares[2].reason, "BackendNotFound");
	/* the slice's port of that name is TCP: no endpoint carries the UDP port */
	assert_string_equal(pl->shares[3].reason, "NoEndpoints");
	fx_free(&f);

	/* and the other way round: a TCPRoute to a UDP-only port */
	fx_run(&f, GW SVC("app", "udp-only", "[{name: dns, port: 53, protocol: UDP}]")
	       ROUTE_REFS("[{name: udp-only, port: 53}]"));
	c = PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(message_has(c, "Service app/udp-only port 53 has protocol UDP, not TCP"));
	fx_free(&f);
}

/* resolve_opts.warnings: a backendRef that does not resolve is located at its own line, a
 * parentRef that does not attach at its route's; nothing for what resolves, nothing for
 * routes of other controllers, and the plan is the same with or without them. */
static void warnings_are_located(void **state)
{
	static const char yaml[] =
		"apiVersion: gateway.networking.k8s.io/v1\n"             /* 1 */
		"kind: Gateway\n"
		"metadata: {name: gw, namespace: app}\n"
		"spec:\n"
		"  gatewayClassName: nftgate\n"                           /* 5 */
		"  listeners:\n"
		"    - {name: t, protocol: TCP, port: 80}\n"
		"    - {name: u, protocol: UDP, port: 53}\n"
		"---\n"
		"apiVersion: v1\n"                                        /* 10 */
		"kind: Service\n"
		"metadata: {name: dns, namespace: app}\n"
		"spec: {ports: [{name: dns, port: 53, protocol: UDP}, {name: tcp, port: 80}]}\n"
		"---\n"
		"apiVersion: gateway.networking.k8s.io/v1\n"             /* 15 */
		"kind: UDPRoute\n"
		"metadata: {name: r, namespace: app}\n"
		"spec:\n"
		"  parentRefs: [{name: gw, sectionName: u}, {name: gw, sectionName: t}]\n"
		"  rules:\n"                                              /* 20 */
		"    - backendRefs:\n"
		"        - {name: dns, port: 80}\n"
		"        - {name: dns, port: 53}\n"
		"        - {name: gone, port: 53}\n"
		"---\n"                                                   /* 25 */
		"apiVersion: gateway.networking.k8s.io/v1\n"
		"kind: UDPRoute\n"
		"metadata: {name: other, namespace: app}\n"
		"spec:\n"
		"  parentRefs: [{name: not-ours}]\n"                      /* 30 */
		"  rules: [{backendRefs: [{name: gone, port: 53}]}]\n";
	struct diags w = { 0 };
	struct resolve_opts o = { .warnings = &w };
	struct fx f = { 0 };

	fx_load(&f, CLASS_YAML);
	fx_load(&f, yaml);
	fx_resolve_opts(&f, &o);
	assert_int_equal(w.n, 3);
	/* in the order resolve meets them: the route's parentRefs, then its backendRefs */
	assert_int_equal(w.v[0].line, 15);
	assert_string_equal(w.v[0].object, "UDPRoute app/r");
	assert_string_equal(w.v[0].field, "spec.parentRefs[1]");
	assert_non_null(strstr(w.v[0].message, "reason NotAllowedByListeners"));
	assert_int_equal(w.v[1].line, 22);
	assert_string_equal(w.v[1].field, "spec.rules[0].backendRefs[0]");
	assert_non_null(strstr(w.v[1].message, "port 80 has protocol TCP, not UDP"));
	assert_int_equal(w.v[2].line, 24);
	assert_non_null(strstr(w.v[2].message, "Service app/gone not found (ResolvedRefs=False, "
						"reason BackendNotFound"));
	assert_string_equal(w.v[2].file, "test.yaml");
	diags_clear(&w);
	fx_free(&f);
}

/* §3.4: a grant's `from` kind is the route kind it covers: TCPRoute and UDPRoute apart. */
static void grants_by_route_kind(void **state)
{
	static const struct {
		const char *from;
		bool tcp, udp;
	} cases[] = {
		{ "[{group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]", true, false },
		{ "[{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: app}]", false, true },
		{ "[{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: app},"
		  " {group: gateway.networking.k8s.io, kind: TCPRoute, namespace: app}]", true, true },
		{ "[{group: example.io, kind: UDPRoute, namespace: app}]", false, false },
		{ "[{group: gateway.networking.k8s.io, kind: UDPRoute, namespace: elsewhere}]", false,
		  false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f = { 0 };
		char grant[512];

		snprintf(grant, sizeof(grant), GRANT("other", "%s", "[{group: \"\", kind: Service}]"),
			 cases[i].from);
		fx_run(&f, "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
		       "metadata: {name: gw, namespace: app}\n"
		       "spec:\n  gatewayClassName: nftgate\n"
		       "  listeners: [{name: u, port: 53, protocol: UDP}, {name: l, port: 8080, protocol: TCP}]\n"
		       SVC("other", "s", "[{name: t, port: 5}, {name: u, port: 5, protocol: UDP}]")
		       SLICE("other", "s-1", "s", "IPv4", "[{name: t, port: 5}, {name: u, port: 6, protocol: UDP}]",
			     "[{addresses: [10.1.0.1]}]"));
		fx_load(&f, grant);
		fx_load(&f, ROUTE_REFS("[{name: s, namespace: other, port: 5}]"));
		fx_load(&f, UDP_ROUTE_REFS("[{name: s, namespace: other, port: 5}]"));
		fx_resolve(&f);
		PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", cases[i].tcp ? COND_TRUE : COND_FALSE,
		      cases[i].tcp ? "ResolvedRefs" : "RefNotPermitted");
		PCOND(st_udp_route(&f, "app", "r"), 0, "ResolvedRefs",
		      cases[i].udp ? COND_TRUE : COND_FALSE,
		      cases[i].udp ? "ResolvedRefs" : "RefNotPermitted");
		if (!cases[i].udp)
			assert_true(message_has(cond_find(st_udp_route(&f, "app", "r")->parents[0].conds,
							  2, "ResolvedRefs"),
						"allows UDPRoutes from namespace \"app\""));
		else
			share_endpoints_are(&udp_forwarding(&f)->shares[0], 1, "10.1.0.1:6");
		if (cases[i].tcp)
			share_endpoints_are(&forwarding(&f)->shares[0], 1, "10.1.0.1:5");
		fx_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backend_check_order_and_aggregation),
		cmocka_unit_test(first_bad_reason_wins),
		cmocka_unit_test(reference_grants),
		cmocka_unit_test(endpoints_from_slices),
		cmocka_unit_test(unnamed_port_and_fallbacks),
		cmocka_unit_test(weights_per_backend_ref),
		cmocka_unit_test(all_invalid_route_rejects),
		cmocka_unit_test(grant_deleted_revokes),
		cmocka_unit_test(udp_backend_ports),
		cmocka_unit_test(grants_by_route_kind),
		cmocka_unit_test(warnings_are_located),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
