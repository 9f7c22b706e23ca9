/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout, without a kernel: weights -> slots (exact and capped), share ids and marks
 * (unique, stable when the plan grows), route counters (stable ids, only for routes that
 * carry traffic), element contents, and the limits it enforces.
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

#include "nft/layout.h"
#include "nft/sets.h"
#include "test_nft_plans.h"

/* Every unit of group i must get probability exactly w[i] / W / n[i]. */
static void assert_exact(const uint32_t *w, const uint32_t *n, size_t k, const uint32_t *counts,
			 uint32_t total)
{
	uint64_t wsum = 0, sum = 0;
	size_t u = 0;

	for (size_t i = 0; i < k; i++)
		wsum += w[i];
	for (size_t i = 0; i < k; i++)
		for (uint32_t j = 0; j < n[i]; j++, u++) {
			assert_true((uint64_t)counts[u] * wsum * n[i] == (uint64_t)total * w[i]);
			sum += counts[u];
		}
	assert_int_equal(sum, total);
}

static void apportion_exact_small(void **state)
{
	uint32_t w[] = { 1, 2 }, n[] = { 1, 1 }, counts[2], total = 0;

	assert_int_equal(layout_apportion(w, n, 2, 4096, counts, &total), 0);
	assert_int_equal(total, 3); /* 1:2 needs three slots, no fewer */
	assert_exact(w, n, 2, counts, total);
}

static void apportion_exact_endpoints(void **state)
{
	/* 3:1 over 2 and 3 endpoints: units 3/8 3/8 1/12 1/12 1/12 -> 24 slots (lcm 8, 12) */
	uint32_t w[] = { 3, 1 }, n[] = { 2, 3 }, counts[5], total = 0;

	assert_int_equal(layout_apportion(w, n, 2, 4096, counts, &total), 0);
	assert_int_equal(total, 24);
	assert_exact(w, n, 2, counts, total);
	assert_int_equal(counts[0], 9);
	assert_int_equal(counts[4], 2);
}

static void apportion_gcd_and_zero(void **state)
{
	uint32_t w[] = { 500000, 0, 1000000 }, n[] = { 1, 7, 1 }, counts[9], total = 0;

	assert_int_equal(layout_apportion(w, n, 3, 4096, counts, &total), 0);
	assert_int_equal(total, 3); /* gcd-reduced to 1 : 0 : 2 */
	for (int u = 1; u < 8; u++)
		assert_int_equal(counts[u], 0); /* weight 0 gets nothing */
	assert_exact(w, n, 3, counts, total);
}

static void apportion_all_zero(void **state)
{
	uint32_t w[] = { 0, 0 }, n[] = { 1, 2 }, counts[3], total = 77;

	assert_int_equal(layout_apportion(w, n, 2, 4096, counts, &total), -EINVAL);
	assert_int_equal(total, 77); /* outputs untouched on failure */
}

static void apportion_capped_weights(void **state)
{
	uint32_t w[] = { 999983, 1, 7 }, n[] = { 1, 1, 3 }, counts[5], total = 0;
	uint64_t wsum = 999983 + 1 + 7, sum = 0;
	size_t u = 0;

	assert_int_equal(layout_apportion(w, n, 3, 4096, counts, &total), 0);
	assert_int_equal(total, 4096);
	for (size_t i = 0; i < 3; i++)
		for (uint32_t j = 0; j < n[i]; j++, u++) {
			/* |count - quota| < 1, quota = cap * w / W / n (compare scaled by W n) */
			int64_t scaled = (int64_t)counts[u] * (int64_t)(wsum * n[i]);
			int64_t quota = 4096 * (int64_t)w[i];

			assert_true(llabs(scaled - quota) < (int64_t)(wsum * n[i]));
			sum += counts[u];
		}
	assert_int_equal(sum, 4096);
}

static void apportion_capped_endpoints(void **state)
{
	static uint32_t counts[5000];
	uint32_t w[] = { 1 }, n[] = { 5000 }, total = 0, ones = 0;

	assert_int_equal(layout_apportion(w, n, 1, 4096, counts, &total), 0);
	assert_int_equal(total, 4096);
	for (int i = 0; i < 5000; i++) {
		assert_true(counts[i] <= 1);
		ones += counts[i];
	}
	assert_int_equal(ones, 4096);
	/* ties go to the earlier units: deterministic */
	assert_int_equal(counts[0], 1);
	assert_int_equal(counts[4999], 0);
}

static struct ruleset *build(const struct plan *p, bool masq)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;

	assert_int_equal(layout_build(p, "nftgate", masq, &rs, &e), 0);
	assert_non_null(rs);
	return rs;
}

static void shares_and_marks(void **state)
{
	struct ruleset *rs = build(&plan_weights, true);
	uint32_t per_share[8] = { 0 };
	const struct lay_entry *en;

	/* weight 0 gets no share; the reject share has a share (its counter) */
	assert_int_equal(rs->n_shares, 3);
	for (size_t i = 0; i < rs->n_shares; i++) {
		assert_true(rs->shares[i].id >= 1 && rs->shares[i].id <= LAYOUT_MAX_SHARES);
		for (size_t j = 0; j < i; j++)
			assert_true(rs->shares[i].id != rs->shares[j].id);
	}
	/* share 0 forwards IPv4 and, having no IPv6 endpoint, resets its IPv6 share */
	assert_true(rs->shares[0].forwards && rs->shares[0].rejects);
	assert_true(!rs->shares[2].forwards && rs->shares[2].rejects);
	assert_non_null(strstr(rs->shares[2].comment, "BackendNotFound"));
	assert_non_null(strstr(rs->shares[0].comment, "route ns/weighted"));
	/* endpoints: mark = share id << 12 | index */
	assert_int_equal(rs->n_endpoints[0], 5);
	for (size_t i = 0; i < rs->n_endpoints[0]; i++) {
		const struct lay_endpoint *ep = &rs->endpoints[0][i];

		assert_int_equal(ep->mark >> LAYOUT_SHARE_SHIFT, rs->shares[ep->share].id);
		assert_true((ep->mark & LAYOUT_INDEX_MASK) < LAYOUT_REJECT);
	}
	/* IPv4 slots: weights 3 : 1 : 2 (reset) over 2, 3, 1 units */
	assert_int_equal(rs->n_entries[LAY_ANY4], 1);
	en = &rs->entries[LAY_ANY4][0];
	for (uint32_t s = 0; s < en->n_slots; s++)
		for (size_t i = 0; i < rs->n_shares; i++)
			if (en->marks[s] >> LAYOUT_SHARE_SHIFT == rs->shares[i].id)
				per_share[i]++;
	assert_int_equal(per_share[0] * 6, en->n_slots * 3);
	assert_int_equal(per_share[1] * 6, en->n_slots * 1);
	assert_int_equal(per_share[2] * 6, en->n_slots * 2);
	/* IPv6: no share has IPv6 endpoints, so every slot resets, weighted the same way */
	en = &rs->entries[LAY_ANY6][0];
	for (uint32_t s = 0; s < en->n_slots; s++)
		assert_int_equal(en->marks[s] & LAYOUT_INDEX_MASK, LAYOUT_REJECT);
	ruleset_free(rs);
}

static void rejecting_listeners(void **state)
{
	struct ruleset *rs = build(&plan_rejects, true);

	/* one listener-level share each, only a reject counter, one reset slot per family */
	assert_int_equal(rs->n_shares, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_null(rs->shares[i].share);
		assert_true(rs->shares[i].rejects && !rs->shares[i].forwards);
	}
	assert_non_null(strstr(rs->shares[0].comment, "ProtocolConflict"));
	assert_int_equal(rs->n_entries[LAY_ANY4], 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(rs->entries[LAY_ANY4][i].n_slots, 1);
		assert_int_equal(rs->entries[LAY_ANY4][i].marks[0] & LAYOUT_INDEX_MASK, LAYOUT_REJECT);
	}
	assert_int_equal(set_count(rs, SET_SHARE_CONN), 0);
	assert_int_equal(set_count(rs, SET_SHARE_REJECT), 3);
	ruleset_free(rs);
}

static void addresses_only_their_families(void **state)
{
	struct ruleset *rs = build(&plan_addresses, true);

	assert_int_equal(rs->n_entries[LAY_ANY4] + rs->n_entries[LAY_ANY6], 0);
	assert_int_equal(rs->n_entries[LAY_ADDR4], 1);
	assert_int_equal(rs->n_entries[LAY_ADDR6], 1);
	assert_int_equal(rs->entries[LAY_ADDR4][0].addr[0], 192);
	/* the IPv6-only backend resets IPv4 connections, forwards IPv6 ones */
	assert_int_equal(rs->entries[LAY_ADDR4][0].marks[0] & LAYOUT_INDEX_MASK, LAYOUT_REJECT);
	assert_int_equal(rs->entries[LAY_ADDR6][0].n_slots, 2);
	assert_true((rs->entries[LAY_ADDR6][0].marks[0] & LAYOUT_INDEX_MASK) < LAYOUT_REJECT);
	assert_int_equal(rs->n_moduli[LAY_ADDR6], 1);
	ruleset_free(rs);
}

static uint32_t id_of(const struct ruleset *rs, const char *comment)
{
	for (size_t i = 0; i < rs->n_shares; i++)
		if (!strcmp(rs->shares[i].comment, comment))
			return rs->shares[i].id;
	return 0;
}

static void ids_stable_when_plan_grows(void **state)
{
	struct plan_listener grown[4];
	struct plan_share more[2];
	struct plan p = { grown, 4 };
	struct ruleset *a = build(&plan_basic, true), *b;

	/* a new listener that sorts first, and a second backendRef on foo */
	memcpy(&grown[1], basic_listeners, sizeof(basic_listeners));
	grown[0] = basic_listeners[0];
	grown[0].key = "default/a-first/x";
	grown[0].port = 7000;
	grown[0].route = "default/new-route";
	more[0] = basic_foo_shares[0];
	more[1] = basic_bar_shares[0];
	more[1].ref = 1;
	grown[2].shares = more;
	grown[2].n_shares = 2;
	grown[3] = w_listeners[0];
	b = build(&p, true);
	for (size_t i = 0; i < a->n_shares; i++) {
		uint32_t id = id_of(b, a->shares[i].comment);

		assert_int_equal(id, a->shares[i].id);
	}
	assert_int_equal(b->n_shares, a->n_shares + 1 + 1 + 3);
	ruleset_free(a);
	ruleset_free(b);
}

static const struct lay_route *route_named(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_routes; i++)
		if (!strcmp(rs->routes[i].name, name))
			return &rs->routes[i];
	return NULL;
}

struct objrefs {
	const struct ruleset *rs;
	size_t n;
	const char *names[16];
	uint32_t keys[16];
};

static int collect_objref(const struct set_elem *el, void *data)
{
	struct objrefs *o = data;
	uint32_t key;

	assert_true(o->n < 16);
	assert_int_equal(el->key_len, 4);
	memcpy(&key, el->key, 4);
	o->keys[o->n] = key;
	o->names[o->n++] = strdup(el->objref);
	return 0;
}

static void objrefs_clear(struct objrefs *o)
{
	for (size_t i = 0; i < o->n; i++)
		free((char *)o->names[i]);
	o->n = 0;
}

static void route_ids_stable_when_plan_grows(void **state)
{
	struct plan_listener grown[4];
	struct plan p = { grown, 4 };
	struct ruleset *a = build(&plan_basic, true), *b;
	char na[32], nb[32];

	/* a route that sorts first, and a second listener carried by tcp-app-2 */
	memcpy(&grown[1], basic_listeners, sizeof(basic_listeners));
	grown[0] = basic_listeners[0];
	grown[0].key = "default/a-first/x";
	grown[0].port = 7000;
	grown[0].route = "default/new-route";
	grown[3] = basic_listeners[0];
	grown[3].key = "default/my-tcp-gateway/zzz";
	grown[3].port = 9999;
	b = build(&p, true);
	assert_int_equal(a->n_routes, 2);
	assert_int_equal(b->n_routes, 3);
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct lay_route *rb = route_named(b, a->routes[i].name);

		assert_non_null(rb);
		assert_int_equal(rb->id, a->routes[i].id);
		for (int k = 0; k < 3; k++) {
			assert_int_equal(route_has_counter(rb, k), route_has_counter(&a->routes[i], k));
			route_counter_name(&a->routes[i], k, na, sizeof(na));
			route_counter_name(rb, k, nb, sizeof(nb));
			assert_string_equal(na, nb);
		}
		assert_string_equal(rb->comment, a->routes[i].comment);
	}
	assert_non_null(strstr(route_named(b, "default/tcp-app-1")->comment,
			       "route default/tcp-app-1"));
	ruleset_free(a);
	ruleset_free(b);
}

/* The hash the ids start from (FNV-1a 32 of the name, mod 2^20 - 1, plus 1), written here
 * independently to find two route names that collide. */
static uint32_t start_id(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h % 0xfffffu + 1;
}

static void route_id_collisions_probe_deterministically(void **state)
{
	uint32_t *seen = calloc(0x100000, sizeof(*seen));
	static char n1[32], n2[32];
	struct plan_listener two[2] = { basic_listeners[0], basic_listeners[1] };
	struct plan p = { two, 2 };
	struct ruleset *a, *b, *c;

	assert_non_null(seen);
	for (uint32_t i = 1; !n2[0]; i++) {
		char name[32];
		uint32_t id;

		assert_true(i < 200000);
		snprintf(name, sizeof(name), "ns/r%u", i);
		id = start_id(name);
		if (seen[id]) {
			snprintf(n1, sizeof(n1), "ns/r%u", seen[id]);
			snprintf(n2, sizeof(n2), "%s", name);
		}
		seen[id] = i;
	}
	free(seen);
	two[0].route = n1;
	two[1].route = n2;
	a = build(&p, true);
	b = build(&p, true);
	assert_int_equal(a->n_routes, 2);
	/* plan order decides: the first keeps its hash, the second takes the next id */
	assert_int_equal(a->routes[0].id, start_id(n1));
	assert_int_equal(a->routes[1].id, start_id(n1) % 0xfffffu + 1);
	assert_int_equal(b->routes[0].id, a->routes[0].id);
	assert_int_equal(b->routes[1].id, a->routes[1].id);
	/* without the second, the first keeps its id */
	p.n = 1;
	c = build(&p, true);
	assert_int_equal(c->routes[0].id, a->routes[0].id);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(c);
}

static void route_counters_only_for_carrying_routes(void **state)
{
	struct ruleset *rs = build(&plan_rejects, true);
	struct plan_share only_reject[1] = { w_shares[3] };
	struct plan_listener l[3] = { w_listeners[0], w_listeners[0], basic_listeners[1] };
	struct plan p = { l, 3 };
	struct objrefs o = { 0 };
	const struct lay_route *rt, *rr;
	char name[32];

	/* conflicted, unrouted and all-weight-0 listeners reject as a whole: no route */
	assert_int_equal(rs->n_routes, 0);
	for (size_t i = 0; i < rs->n_shares; i++)
		assert_true(rs->shares[i].route == LAY_NO_ROUTE);
	assert_int_equal(set_count(rs, SET_ROUTE_CONN), 0);
	assert_int_equal(set_count(rs, SET_ROUTE_REJECT), 0);
	assert_int_equal(set_count(rs, SET_ROUTE_TRAFFIC), 0);
	ruleset_free(rs);

	/* ns/weighted on two listeners (one route, its counters shared), a route whose only
	 * backendRef is invalid, and tcp-app-1 */
	l[1].key = "ns/gw/web2";
	l[1].port = 81;
	l[2].route = "ns/only-invalid";
	l[2].shares = only_reject;
	l[2].n_shares = 1;
	rs = build(&p, true);
	assert_int_equal(rs->n_routes, 2);
	rt = route_named(rs, "ns/weighted");
	rr = route_named(rs, "ns/only-invalid");
	assert_non_null(rt);
	assert_non_null(rr);
	assert_true(rt->forwards && rt->rejects);
	assert_false(rr->forwards);
	assert_true(rr->rejects);
	/* ns/weighted: shares a and b on each listener forward (the weight-0 one has none) */
	set_foreach(rs, SET_ROUTE_CONN, collect_objref, &o);
	assert_int_equal(o.n, 4);
	route_counter_name(rt, 0, name, sizeof(name));
	for (size_t i = 0; i < o.n; i++) {
		const struct lay_share *sh = NULL;

		assert_string_equal(o.names[i], name);
		for (size_t j = 0; j < rs->n_shares; j++)
			if (rs->shares[j].id << LAYOUT_SHARE_SHIFT == o.keys[i])
				sh = &rs->shares[j];
		assert_non_null(sh);
		assert_true(sh->forwards);
		assert_ptr_equal(&rs->routes[sh->route], rt);
	}
	objrefs_clear(&o);
	/* resets: a, b (no IPv6 endpoint) and gone on both listeners, plus only-invalid */
	set_foreach(rs, SET_ROUTE_REJECT, collect_objref, &o);
	assert_int_equal(o.n, 7);
	route_counter_name(rr, 1, name, sizeof(name));
	assert_string_equal(o.names[6], name);
	objrefs_clear(&o);
	assert_int_equal(set_count(rs, SET_ROUTE_TRAFFIC), 4);
	/* every share element of a counter kind has its route's element, and the other way */
	assert_int_equal(set_count(rs, SET_ROUTE_CONN), set_count(rs, SET_SHARE_CONN));
	assert_int_equal(set_count(rs, SET_ROUTE_REJECT), set_count(rs, SET_SHARE_REJECT));
	ruleset_free(rs);
}

static void same_port_conflict_resets(void **state)
{
	struct plan_listener two[2] = { basic_listeners[0], basic_listeners[1] };
	struct plan p = { two, 2 };
	struct ruleset *rs;
	const struct lay_entry *en;

	/* two forwarding listeners on one port: one element, a conflict share that resets */
	two[1].port = two[0].port;
	rs = build(&p, true);
	assert_int_equal(rs->n_entries[LAY_ANY4], 1);
	assert_int_equal(rs->n_entries[LAY_ANY6], 1);
	en = &rs->entries[LAY_ANY4][0];
	assert_int_equal(en->n_slots, 1);
	assert_int_equal(en->marks[0] & LAYOUT_INDEX_MASK, LAYOUT_REJECT);
	assert_non_null(strstr(en->comment, "default/my-tcp-gateway/bar"));
	assert_non_null(strstr(en->comment, "default/my-tcp-gateway/foo"));
	assert_non_null(strstr(rs->shares[en->first_share].comment, "conflict"));
	assert_true(rs->shares[en->first_share].rejects);
	assert_int_equal(rs->n_moduli[LAY_ANY4], 1);
	ruleset_free(rs);
	/* two rejecting listeners on one port: the first element stands for both */
	two[0] = rej_listeners[0];
	two[1] = rej_listeners[1];
	two[1].port = two[0].port;
	rs = build(&p, true);
	assert_int_equal(rs->n_shares, 2);
	assert_int_equal(rs->n_entries[LAY_ANY4], 1);
	assert_int_equal(rs->entries[LAY_ANY4][0].marks[0] >> LAYOUT_SHARE_SHIFT,
			 rs->shares[0].id);
	ruleset_free(rs);
}

static void too_many_endpoints_refused(void **state)
{
	size_t n = LAYOUT_MAX_SHARE_ENDPOINTS + 1;
	struct plan_endpoint *eps = many_v4_endpoints(n);
	struct plan_share sh = { .weight = 1, .backend = "Service ns/big:1", .n_endpoints = n };
	struct plan_listener l = w_listeners[0];
	struct plan p = { &l, 1 };
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;

	assert_non_null(eps);
	sh.endpoints = eps;
	l.shares = &sh;
	l.n_shares = 1;
	assert_int_equal(layout_build(&p, "nftgate", true, &rs, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "Service ns/big:1"));
	/* one fewer fits */
	sh.n_endpoints = n - 1;
	assert_int_equal(layout_build(&p, "nftgate", true, &rs, &e), 0);
	assert_int_equal(rs->n_endpoints[0], n - 1);
	ruleset_free(rs);
	free(eps);
}

static void masquerade_never_has_no_masq_elements(void **state)
{
	struct ruleset *on = build(&plan_basic, true), *off = build(&plan_basic, false);

	assert_int_equal(set_count(on, SET_SHARE_MASQ), 2);
	assert_int_equal(set_count(off, SET_SHARE_MASQ), 0);
	ruleset_free(on);
	ruleset_free(off);
}

static void table_name_must_be_nft_syntax(void **state)
{
	static const char *const bad[] = { "a b", "1abc", "", "x\"y", "counter;flush" };
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(layout_build(&plan_basic, bad[i], true, &rs, &e), -EINVAL);
		assert_null(rs);
		assert_non_null(strstr(e.msg, "--table"));
	}
	assert_int_equal(layout_build(&plan_basic, "edge-gw.v2_x", true, &rs, &e), 0);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(apportion_exact_small),
		cmocka_unit_test(apportion_exact_endpoints),
		cmocka_unit_test(apportion_gcd_and_zero),
		cmocka_unit_test(apportion_all_zero),
		cmocka_unit_test(apportion_capped_weights),
		cmocka_unit_test(apportion_capped_endpoints),
		cmocka_unit_test(shares_and_marks),
		cmocka_unit_test(rejecting_listeners),
		cmocka_unit_test(addresses_only_their_families),
		cmocka_unit_test(ids_stable_when_plan_grows),
		cmocka_unit_test(route_ids_stable_when_plan_grows),
		cmocka_unit_test(route_id_collisions_probe_deterministically),
		cmocka_unit_test(route_counters_only_for_carrying_routes),
		cmocka_unit_test(same_port_conflict_resets),
		cmocka_unit_test(too_many_endpoints_refused),
		cmocka_unit_test(masquerade_never_has_no_masq_elements),
		cmocka_unit_test(table_name_must_be_nft_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
