/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint addresses the API server refuses (Kubernetes ValidateEndpointIP and
 * IsValidIPv6Address, see model/validate.c) and the per-share endpoint limit
 * (PLAN_MAX_SHARE_ENDPOINTS): the predicate, the reader's located errors, and resolve(),
 * which never programs a refused address and reports an oversized share at its backendRef.
 */
#include <errno.h>
#include <sys/socket.h>

#include "resolve_fixture.h"
#include "model/validate.h"

/* ---- the predicate ------------------------------------------------------------------ */

struct addr_case {
	int family;
	const char *text;
	const char *refusal; /* a word of the reason, NULL: accepted */
};

static const struct addr_case addr_cases[] = {
	/* refused: what ValidateEndpointIP refuses */
	{ AF_INET, "0.0.0.0", "unspecified" },
	{ AF_INET, "127.0.0.1", "loopback" },
	{ AF_INET, "127.255.0.9", "loopback" },
	{ AF_INET, "169.254.169.254", "link-local range" },
	{ AF_INET, "169.254.0.1", "link-local range" },
	{ AF_INET, "224.0.0.1", "link-local multicast" },
	{ AF_INET, "224.0.0.255", "link-local multicast" },
	{ AF_INET6, "::", "unspecified" },
	{ AF_INET6, "::1", "loopback" },
	{ AF_INET6, "fe80::1", "link-local range" },
	{ AF_INET6, "febf:ffff::1", "link-local range" },
	{ AF_INET6, "ff02::1", "link-local multicast" },
	{ AF_INET6, "ff12::1:2", "link-local multicast" }, /* Go: any flags nibble */
	/* IsValidIPv6Address: an IPv4-mapped address is IPv4, however it is spelled */
	{ AF_INET6, "::ffff:10.244.1.10", "IPv4-mapped" },
	{ AF_INET6, "::ffff:a00:1", "IPv4-mapped" },
	{ AF_INET6, "::ffff:127.0.0.1", "IPv4-mapped" },
	/* not an address of the slice's family */
	{ AF_INET, "::1", "not a valid IPv4" },
	{ AF_INET, "10.0.0.256", "not a valid IPv4" },
	{ AF_INET6, "10.0.0.1", "not a valid IPv6" },
	/* accepted: pod addresses, and what the API server lets through */
	{ AF_INET, "10.244.1.10", NULL },
	{ AF_INET, "10.0.0.1", NULL },
	{ AF_INET, "192.168.1.1", NULL },
	{ AF_INET, "0.0.0.1", NULL },         /* IsUnspecified is 0.0.0.0 only */
	{ AF_INET, "126.255.255.255", NULL },
	{ AF_INET, "128.0.0.1", NULL },
	{ AF_INET, "169.253.255.255", NULL },
	{ AF_INET, "169.255.0.1", NULL },
	{ AF_INET, "224.0.1.1", NULL },       /* global multicast passes the API server */
	{ AF_INET6, "fd00::1", NULL },
	{ AF_INET6, "2001:db8::1", NULL },
	{ AF_INET6, "fd00:244:1::10", NULL },
	{ AF_INET6, "::2", NULL },
	{ AF_INET6, "::10.0.0.1", NULL },     /* IPv4-compatible is not IPv4-mapped */
	{ AF_INET6, "fec0::1", NULL },        /* just past fe80::/10 */
	{ AF_INET6, "fe7f::1", NULL },
	{ AF_INET6, "ff05::1", NULL },
	{ AF_INET6, "ff03::1", NULL },
	{ AF_INET6, "::fffe:10.0.0.1", NULL },
};

static void predicate_matches_kubernetes(void **state)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *t = &addr_cases[i];
		const char *why = endpoint_address_refusal(t->family, t->text);

		if (!t->refusal && why)
			fail_msg("%s refused (%s), must be accepted", t->text, why);
		if (t->refusal && (!why || !strstr(why, t->refusal)))
			fail_msg("%s: want a refusal with \"%s\", got %s", t->text, t->refusal,
				 why ? why : "accepted");
	}
	assert_non_null(endpoint_address_refusal(AF_UNIX, "10.0.0.1"));
}

/* The byte form agrees with the text form (resolve() uses the bytes). */
static void byte_form_agrees(void **state)
{
	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		const struct addr_case *t = &addr_cases[i];
		uint8_t a[16];

		if (inet_pton(t->family, t->text, a) != 1)
			continue;
		assert_true(!endpoint_ip_refusal(t->family, a) == !t->refusal);
	}
}

/* ---- the reader ----------------------------------------------------------------------- */

static int load(const char *yaml, struct diags *d)
{
	struct store *s = store_new();
	int r;

	assert_non_null(s);
	r = store_load_buffer(s, "eps.yaml", yaml, strlen(yaml), &read_limits_default, d);
	store_free(s);
	return r;
}

#define SLICE_HEAD(type)                                                                \
	"apiVersion: discovery.k8s.io/v1\n"                                             \
	"kind: EndpointSlice\n"                                                         \
	"metadata: {name: s-1, namespace: app, labels: {kubernetes.io/service-name: s}}\n" \
	"addressType: " type "\n"                                                       \
	"ports: [{port: 80}]\n"                                                         \
	"endpoints:\n"

/* Every refused address is an error at its own line and field, quoting it. */
static void reader_refuses_with_location(void **state)
{
	static const char yaml[] =
		SLICE_HEAD("IPv4")
		"  - addresses: [10.0.0.1]\n"               /* line 7 */
		"  - addresses: [127.0.0.1]\n"              /* line 8 */
		"  - addresses:\n"
		"      - 10.0.0.2\n"
		"      - 169.254.169.254\n"                 /* line 11: any address, not just the first */
		"  - addresses: [0.0.0.0]\n"                /* line 12 */
		"  - addresses: [224.0.0.1]\n";             /* line 13 */
	static const struct {
		unsigned line;
		const char *field, *text;
	} want[] = {
		{ 8, "endpoints[1].addresses[0]", "\"127.0.0.1\" may not be an endpoint address: "
						  "it is in the loopback range (127.0.0.0/8, ::1/128)" },
		{ 11, "endpoints[2].addresses[1]", "\"169.254.169.254\" may not be an endpoint "
						   "address: it is in the link-local range" },
		{ 12, "endpoints[3].addresses[0]", "\"0.0.0.0\" may not be an endpoint address: "
						   "it is unspecified" },
		{ 13, "endpoints[4].addresses[0]", "\"224.0.0.1\" may not be an endpoint address: "
						   "it is in the link-local multicast range" },
	};
	struct diags d = { 0 };

	assert_int_equal(load(yaml, &d), -EINVAL);
	if (d.n != sizeof(want) / sizeof(want[0]))
		diags_print(&d, stderr);
	assert_int_equal(d.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < d.n; i++) {
		assert_string_equal(d.v[i].file, "eps.yaml");
		assert_int_equal(d.v[i].line, want[i].line);
		assert_string_equal(d.v[i].object, "EndpointSlice app/s-1");
		assert_string_equal(d.v[i].field, want[i].field);
		if (!strstr(d.v[i].message, want[i].text))
			fail_msg("message \"%s\" lacks \"%s\"", d.v[i].message, want[i].text);
	}
	diags_clear(&d);
}

static void reader_refuses_ipv6_classes_and_mapped(void **state)
{
	static const char yaml[] =
		SLICE_HEAD("IPv6")
		"  - addresses: [\"fd00::1\"]\n"
		"  - addresses: [\"2001:db8::1\"]\n"
		"  - addresses: [\"::\"]\n"
		"  - addresses: [\"::1\"]\n"
		"  - addresses: [\"fe80::1\"]\n"
		"  - addresses: [\"ff02::1\"]\n"
		"  - addresses: [\"::ffff:10.244.1.10\"]\n"; /* line 13 */
	struct diags d = { 0 };

	assert_int_equal(load(yaml, &d), -EINVAL);
	assert_int_equal(d.n, 5);
	assert_string_equal(d.v[0].field, "endpoints[2].addresses[0]");
	assert_non_null(strstr(d.v[0].message, "unspecified"));
	assert_non_null(strstr(d.v[1].message, "loopback"));
	assert_non_null(strstr(d.v[2].message, "link-local range"));
	assert_non_null(strstr(d.v[3].message, "link-local multicast"));
	assert_int_equal(d.v[4].line, 13);
	assert_string_equal(d.v[4].field, "endpoints[6].addresses[0]");
	assert_non_null(strstr(d.v[4].message, "\"::ffff:10.244.1.10\" may not be an endpoint "
					       "address: it is an IPv4-mapped IPv6 address"));
	diags_clear(&d);
}

static void reader_accepts_good_addresses(void **state)
{
	static const char v4[] = SLICE_HEAD("IPv4")
		"  - addresses: [10.244.1.10, 192.168.0.1, 172.16.0.1, 224.0.1.1]\n";
	static const char v6[] = SLICE_HEAD("IPv6")
		"  - addresses: [\"fd00::1\", \"2001:db8::1\", \"fd00:244:1::10\", \"::10.0.0.1\"]\n";
	static const char fqdn[] = SLICE_HEAD("FQDN") "  - addresses: [localhost]\n";
	struct diags d = { 0 };

	assert_int_equal(load(v4, &d), 0);
	assert_int_equal(load(v6, &d), 0);
	/* FQDN slices are never programmed; the API server checks only the name's syntax */
	assert_int_equal(load(fqdn, &d), 0);
	assert_int_equal(d.n, 0);
}

/* ---- resolve(): refused addresses never programmed -------------------------------- */

#define GW                                                                              \
	"apiVersion: gateway.networking.k8s.io/v1\n"                                    \
	"kind: Gateway\n"                                                               \
	"metadata: {name: gw, namespace: app}\n"                                        \
	"spec:\n"                                                                       \
	"  gatewayClassName: nftgate\n"                                                 \
	"  listeners: [{name: l, port: 8080, protocol: TCP}]\n"

#define SVC(name)                                                                       \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: app}\n" \
	"spec: {ports: [{port: 80}]}\n"

#define SLICE(name, svc, type, endpoints)                                               \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                   \
	"metadata: {name: " name ", namespace: app, labels: {kubernetes.io/service-name: " svc "}}\n" \
	"addressType: " type "\nports: [{port: 7000}]\nendpoints: " endpoints "\n"

#define ROUTE(refs)                                                                     \
	"---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\n"         \
	"metadata: {name: r, namespace: app}\n"                                         \
	"spec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: " refs "}]\n"

/* The reader refuses these addresses, so to see what resolve() does with one that reached
 * the store another way (the daemon keeps the rest of a bad object), the test swaps it in. */
static void store_set_address(struct store *s, const char *slice, size_t ep, const char *addr)
{
	for (size_t i = 0; i < s->n_slices; i++) {
		struct endpoint_slice *es = &s->slices[i];

		if (strcmp(es->m.name, slice))
			continue;
		assert_true(ep < es->n_endpoints);
		free(es->endpoints[ep].addresses[0]);
		es->endpoints[ep].addresses[0] = strdup(addr);
		assert_non_null(es->endpoints[ep].addresses[0]);
		return;
	}
	fail_msg("no slice %s", slice);
}

static const struct plan_listener *forwarding(const struct fx *f)
{
	const struct plan_listener *pl = plan_get(f, "app/gw/l");

	assert_int_equal(pl->action, PLAN_FORWARD);
	return pl;
}

static void resolve_skips_refused_addresses(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;
	const struct condition *c;

	fx_load(&f, CLASS_YAML);
	fx_load(&f, GW SVC("mixed") SVC("bad") SVC("drain")
		SLICE("mixed-4", "mixed", "IPv4", "[{addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}]")
		SLICE("mixed-6", "mixed", "IPv6", "[{addresses: [\"fd00::1\"]}, {addresses: [\"fd00::2\"]}]")
		SLICE("bad-4", "bad", "IPv4", "[{addresses: [10.1.0.1]}, {addresses: [10.1.0.2]},"
		      " {addresses: [10.1.0.3], conditions: {ready: false}}]")
		SLICE("bad-6", "bad", "IPv6", "[{addresses: [\"fd01::1\"]}]")
		SLICE("drain-4", "drain", "IPv4", "[{addresses: [10.2.0.1]},"
		      " {addresses: [10.2.0.2], conditions: {ready: false, serving: true, terminating: true}}]")
		ROUTE("[{name: mixed, port: 80}, {name: bad, port: 80}, {name: drain, port: 80}]"));
	store_set_address(f.s, "mixed-4", 1, "127.0.0.1");
	store_set_address(f.s, "mixed-6", 0, "::ffff:10.0.0.9");
	store_set_address(f.s, "bad-4", 0, "169.254.169.254");
	store_set_address(f.s, "bad-4", 1, "0.0.0.0");
	/* (bad-4's third endpoint is not ready nor terminating: never a candidate anyway) */
	store_set_address(f.s, "bad-6", 0, "fe80::1");
	/* the ready one refused: the terminating one drains as if none were ready */
	store_set_address(f.s, "drain-4", 0, "127.0.0.2");
	fx_resolve(&f);
	pl = forwarding(&f);
	share_endpoints_are(&pl->shares[0], 2, "10.0.0.1:7000", "fd00::2:7000");
	assert_false(pl->shares[0].reject);
	/* every endpoint that could carry traffic is refused: no valid endpoint */
	assert_true(pl->shares[1].reject);
	assert_int_equal(pl->shares[1].n_endpoints, 0);
	assert_string_equal(pl->shares[1].reason, "BackendNotFound");
	share_endpoints_are(&pl->shares[2], 1, "10.2.0.2:7000");
	c = PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_FALSE, "BackendNotFound");
	assert_true(message_has(c, "spec.rules[0].backendRefs[1]: Service app/bad has no valid "
				   "endpoint"));
	assert_true(message_has(c, "\"169.254.169.254\" is in the link-local range"));
	assert_true(message_has(c, "and so are the others"));
	assert_null(strstr(c->message, "backendRefs[0]"));
	assert_null(strstr(c->message, "backendRefs[2]"));
	PCOND(st_route(&f, "app", "r"), 0, "Accepted", COND_TRUE, "Accepted");
	fx_free(&f);
}

/* No endpoint at all stays what it was: NoEndpoints, ResolvedRefs True (§4.2). */
static void no_endpoints_is_not_invalid(void **state)
{
	struct fx f = { 0 };
	const struct plan_listener *pl;

	fx_run(&f, GW SVC("empty") SLICE("empty-4", "empty", "IPv4",
					 "[{addresses: [10.0.0.1], conditions: {ready: false}}]")
	       ROUTE("[{name: empty, port: 80}]"));
	pl = forwarding(&f);
	assert_string_equal(pl->shares[0].reason, "NoEndpoints");
	PCOND(st_route(&f, "app", "r"), 0, "ResolvedRefs", COND_TRUE, "ResolvedRefs");
	fx_free(&f);
}

/* ---- resolve(): the per-share endpoint limit ----------------------------------------- */

struct text {
	char *s;
	size_t len;
};

static void text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *more = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&more, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	t->s = realloc(t->s, t->len + (size_t)n + 1);
	assert_non_null(t->s);
	memcpy(t->s + t->len, more, (size_t)n + 1);
	t->len += (size_t)n;
	free(more);
}

/*
 * Service "big" with n_v4 distinct IPv4 endpoints (plus `dups` of them again in another
 * slice) and n_v6 IPv6 ones, in slices of at most 1000 (the API's limit); then a route
 * whose backendRef to it is on line *ref_line of the text.
 */
static char *big_input(size_t n_v4, size_t dups, size_t n_v6, unsigned *ref_line)
{
	struct text t = { 0 };
	size_t made = 0, slice = 0;

	text_addf(&t, GW SVC("big") SVC("small")
		  SLICE("small-4", "small", "IPv4", "[{addresses: [10.9.0.1]}]"));
	while (made < n_v4 + dups) {
		text_addf(&t, SLICE("big-%zu", "big", "IPv4", "") "\n", slice++);
		for (size_t i = 0; i < 1000 && made < n_v4 + dups; i++, made++) {
			size_t k = made < n_v4 ? made : made - n_v4;

			text_addf(&t, "  - {addresses: [10.%zu.%zu.%zu]}\n", 100 + k / 65536,
				  k / 256 % 256, k % 256);
		}
	}
	for (made = 0; made < n_v6;) {
		text_addf(&t, SLICE("big6-%zu", "big", "IPv6", "") "\n", slice++);
		for (size_t i = 0; i < 1000 && made < n_v6; i++, made++)
			text_addf(&t, "  - {addresses: [\"fd00::%zx\"]}\n", made + 1);
	}
	text_addf(&t, "---\napiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute\n"
		  "metadata: {name: r, namespace: app}\n"
		  "spec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs:\n"
		  "    - {name: small, port: 80}\n");
	*ref_line = 1;
	for (size_t i = 0; i < t.len; i++)
		*ref_line += t.s[i] == '\n';
	text_addf(&t, "    - {name: big, port: 80, weight: 3}\n");
	return t.s;
}

static void resolve_with_diags(struct fx *f, const char *yaml, struct diags *d)
{
	struct resolve_opts o = { .diags = d };

	fx_load(f, CLASS_YAML);
	fx_load(f, yaml);
	fx_resolve_opts(f, &o);
}

static void share_over_limit_is_located_input_error(void **state)
{
	struct diags d = { 0 };
	struct fx f = { 0 };
	const struct plan_listener *pl;
	unsigned line;
	char *yaml = big_input(PLAN_MAX_SHARE_ENDPOINTS + 1, 0, 0, &line);

	resolve_with_diags(&f, yaml, &d);
	if (d.n != 1)
		diags_print(&d, stderr);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "test.yaml");
	assert_int_equal(d.v[0].line, line);
	assert_string_equal(d.v[0].object, "TCPRoute app/r");
	assert_string_equal(d.v[0].field, "spec.rules[0].backendRefs[1]");
	assert_string_equal(d.v[0].message, "Service app/big port 80 has 4096 IPv4 endpoints; a "
			    "backendRef can have at most 4095 per address family (limit "
			    "PLAN_MAX_SHARE_ENDPOINTS)");
	/* the plan never holds a share nft/ cannot number: it is rejected, weight kept */
	pl = forwarding(&f);
	assert_true(pl->shares[1].reject);
	assert_string_equal(pl->shares[1].reason, "TooManyEndpoints");
	assert_int_equal(pl->shares[1].n_endpoints, 0);
	assert_int_equal(pl->shares[1].weight, 3);
	assert_false(pl->shares[0].reject);
	/* without a diags sink (a caller that does not ask) the plan is just as safe */
	fx_resolve(&f);
	assert_string_equal(forwarding(&f)->shares[1].reason, "TooManyEndpoints");
	diags_clear(&d);
	fx_free(&f);
	free(yaml);
}

static void share_at_limit_fits(void **state)
{
	static const struct {
		size_t v4, dups, v6;
	} cases[] = {
		{ PLAN_MAX_SHARE_ENDPOINTS, 0, 0 },
		/* duplicates across slices count once: 4100 listed, 4095 distinct */
		{ PLAN_MAX_SHARE_ENDPOINTS, 5, 0 },
		/* the limit is per family */
		{ PLAN_MAX_SHARE_ENDPOINTS, 0, PLAN_MAX_SHARE_ENDPOINTS },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diags d = { 0 };
		struct fx f = { 0 };
		const struct plan_listener *pl;
		unsigned line;
		char *yaml = big_input(cases[i].v4, cases[i].dups, cases[i].v6, &line);

		resolve_with_diags(&f, yaml, &d);
		if (d.n)
			diags_print(&d, stderr);
		assert_int_equal(d.n, 0);
		pl = forwarding(&f);
		assert_false(pl->shares[1].reject);
		assert_int_equal(pl->shares[1].n_endpoints, cases[i].v4 + cases[i].v6);
		fx_free(&f);
		free(yaml);
	}
}

static void ipv6_over_limit(void **state)
{
	struct diags d = { 0 };
	struct fx f = { 0 };
	unsigned line;
	char *yaml = big_input(10, 0, PLAN_MAX_SHARE_ENDPOINTS + 2, &line);

	resolve_with_diags(&f, yaml, &d);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, line);
	assert_non_null(strstr(d.v[0].message, "has 4097 IPv6 endpoints"));
	assert_string_equal(forwarding(&f)->shares[1].reason, "TooManyEndpoints");
	diags_clear(&d);
	fx_free(&f);
	free(yaml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(predicate_matches_kubernetes),
		cmocka_unit_test(byte_form_agrees),
		cmocka_unit_test(reader_refuses_with_location),
		cmocka_unit_test(reader_refuses_ipv6_classes_and_mapped),
		cmocka_unit_test(reader_accepts_good_addresses),
		cmocka_unit_test(resolve_skips_refused_addresses),
		cmocka_unit_test(no_endpoints_is_not_invalid),
		cmocka_unit_test(share_over_limit_is_located_input_error),
		cmocka_unit_test(share_at_limit_fits),
		cmocka_unit_test(ipv6_over_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
