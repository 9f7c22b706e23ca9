/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layout, without a kernel: weights -> slots (exact and capped), share ids and marks
 * (unique, stable when the plan grows), route counters (stable ids, only for routes that
 * carry traffic), element contents, and the limits it enforces; ids kept from a previous
 * assignment (nft/ids.h: colliding newcomers, removed endpoints, the kernel's copy, tag
 * collisions, counters carried by name); every allocation failing in turn.
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
#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/build.h"
#include "nft/ids.h"
#include "nft/layout.h"
#include "nft/render.h"
#include "nft/sets.h"
#include "nft/snapshot.h"
#include "alloc_fail.h"
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
	/* a counter's comment names the backendRef, never why it resets: that can change
	 * by element updates only (the reason is on the reset slots' elements) */
	assert_null(strstr(rs->shares[2].comment, "BackendNotFound"));
	assert_non_null(strstr(rs->shares[2].comment, "route ns/weighted rule 1 ref 0"));
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
	assert_null(strstr(rs->shares[0].comment, "ProtocolConflict"));
	assert_int_equal(rs->n_entries[LAY_ANY4], 3);
	assert_non_null(strstr(rs->entries[LAY_ANY4][0].comment, "ProtocolConflict"));
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
	int lo;

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
	/* a fresh assignment numbers in name order, not plan order: the smaller name keeps
	 * its hash, the other takes the next id */
	lo = strcmp(n1, n2) < 0 ? 0 : 1;
	assert_int_equal(a->routes[lo].id, start_id(n1));
	assert_int_equal(a->routes[1 - lo].id, start_id(n1) % 0xfffffu + 1);
	assert_int_equal(b->routes[0].id, a->routes[0].id);
	assert_int_equal(b->routes[1].id, a->routes[1].id);
	/* alone, a route has its hash */
	p.n = 1;
	c = build(&p, true);
	assert_int_equal(c->routes[0].id, start_id(n1));
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

/* ---- ids that never move (nft/ids.h) ---- */

/* Every shape at once: dual-stack forwarding listeners, two forwarding listeners on one
 * port (a conflict), spec.addresses, listeners rejecting as a whole, weights with a reset
 * share. Sorted by key, as resolve() makes plans. */
static void rich(struct plan_listener *v, struct plan *p)
{
	v[0] = basic_listeners[0];
	v[1] = basic_listeners[1];
	v[2] = basic_listeners[1];
	v[2].key = "default/my-tcp-gateway/foo2";
	v[2].listener = "foo2";
	v[3] = addr_listeners[0];
	v[4] = rej_listeners[0];
	v[5] = rej_listeners[1];
	v[6] = w_listeners[0];
	v[7] = rej_listeners[2];
	p->v = v;
	p->n = 8;
}

static struct ruleset *build_from(const struct plan *p, const struct lay_ids *prev)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;

	assert_int_equal(layout_build_from(p, "nftgate", true, prev, &rs, &e), 0);
	assert_non_null(rs);
	return rs;
}

static struct lay_ids *ids_of(const struct ruleset *rs)
{
	struct lay_ids *ids = NULL;

	assert_int_equal(lay_ids_from_ruleset(rs, &ids), 0);
	assert_non_null(ids);
	return ids;
}

/* The snapshot the kernel would give of rs's table after the apply (no kernel needed). */
static struct snapshot *snapshot_of(const struct ruleset *rs, const struct counter_values *cv)
{
	struct apply_opts o = { .fail_at = -1, .carry = cv };
	struct nft_error e = { 0 };
	struct nft_batch *nb = NULL;
	struct snapshot *s = NULL;

	assert_int_equal(batch_build_apply(rs, 1, &o, &nb, &e), 0);
	assert_int_equal(snapshot_from_batch(nb, 1, &s), 0);
	batch_free(nb);
	return s;
}

static struct lay_ids *kernel_ids_of(const struct ruleset *rs)
{
	struct snapshot *s = snapshot_of(rs, NULL);
	struct nft_error e = { 0 };
	struct lay_ids *ids = NULL;

	assert_int_equal(lay_ids_from_snapshot(s, &ids, &e), 0);
	assert_non_null(ids);
	snapshot_free(s);
	return ids;
}

static char *ids_text(const struct lay_ids *ids)
{
	char *t = NULL;

	assert_int_equal(lay_ids_format(ids, &t), 0);
	assert_non_null(t);
	return t;
}

static const struct lay_share *share_keyed(const struct ruleset *rs, const char *key)
{
	for (size_t i = 0; i < rs->n_shares; i++)
		if (!strcmp(rs->shares[i].key, key))
			return &rs->shares[i];
	return NULL;
}

/* The mark of share sh's endpoint (family f, address, port) in rs; 0 when absent. */
static uint32_t endpoint_mark(const struct ruleset *rs, const struct lay_share *sh, int f,
			      const uint8_t *addr, uint16_t port)
{
	for (size_t i = 0; i < rs->n_endpoints[f]; i++) {
		const struct lay_endpoint *ep = &rs->endpoints[f][i];

		if (&rs->shares[ep->share] == sh && ep->port == port &&
		    !memcmp(ep->addr, addr, f ? 16 : 4))
			return ep->mark;
	}
	return 0;
}

/* Every share, route and endpoint of a that b still has kept its id, tag and mark (so its
 * counters' names); returns how many shares survived. */
static size_t assert_survivors_kept(const struct ruleset *a, const struct ruleset *b)
{
	size_t kept = 0;

	for (size_t i = 0; i < a->n_shares; i++) {
		const struct lay_share *sa = &a->shares[i], *sb = share_keyed(b, sa->key);

		if (!sb)
			continue;
		kept++;
		assert_int_equal(sb->id, sa->id);
		assert_true(sb->tag == sa->tag);
		for (int f = 0; f < 2; f++)
			for (size_t j = 0; j < a->n_endpoints[f]; j++) {
				const struct lay_endpoint *ep = &a->endpoints[f][j];
				uint32_t m;

				if (&a->shares[ep->share] != sa)
					continue;
				m = endpoint_mark(b, sb, f, ep->addr, ep->port);
				assert_true(m == 0 || m == ep->mark);
			}
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		const struct lay_route *rb = route_named(b, a->routes[i].name);

		if (!rb)
			continue;
		assert_int_equal(rb->id, a->routes[i].id);
		assert_true(rb->tag == a->routes[i].tag);
	}
	return kept;
}

/* The id a share's search starts from (FNV-1a 32 of listener "\n" route "\n" rule "\n"
 * ref "\n" backend, mod 2^20 - 1, plus 1), written here independently. */
static uint32_t share_start_id(const char *listener, const char *route, unsigned rule,
			       unsigned ref, const char *backend)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s\n%s\n%u\n%u\n%s", listener, route, rule, ref, backend);
	return start_id(buf);
}

static bool is_id_of_ref_share(const struct ruleset *rs, uint32_t id, const bool *taken,
			       size_t *ret)
{
	for (size_t i = 0; i < rs->n_shares; i++)
		if (rs->shares[i].share && rs->shares[i].id == id && !taken[i]) {
			*ret = i;
			return true;
		}
	return false;
}

#define NEWCOMERS 3

/* Issue: a new share whose hash collides with an existing id and that sorts earlier took
 * that id, pushing the existing share (its counters then went to the newcomer, its
 * connections' marks to another share). With the previous assignment nothing moves. */
static void ids_survive_colliding_newcomers(void **state)
{
	static char keys[NEWCOMERS][64], route[64];
	struct plan_listener v[8 + NEWCOMERS];
	struct plan p1, p2 = { v, 8 + NEWCOMERS };
	struct ruleset *l1, *l2, *fresh;
	struct lay_ids *ids;
	bool taken[64] = { false };
	size_t found = 0, moved = 0, at, hit = 0;

	rich(v + NEWCOMERS, &p1);
	l1 = build(&p1, true);
	assert_true(l1->n_shares < 64);
	/* a route named to collide with one of l1's routes, sorting before them all */
	for (unsigned i = 0; !route[0]; i++) {
		char name[64];

		assert_true(i < 50000000);
		snprintf(name, sizeof(name), "default/a-route-%u", i);
		for (size_t r = 0; r < l1->n_routes; r++)
			if (start_id(name) == l1->routes[r].id) {
				snprintf(route, sizeof(route), "%s", name);
				hit = r;
			}
	}
	/* listeners sorting first whose one share starts at the id of one of l1's */
	for (unsigned i = 0; found < NEWCOMERS; i++) {
		char key[64];
		uint32_t id;

		assert_true(i < 50000000);
		snprintf(key, sizeof(key), "default/a-%u/l", i);
		id = share_start_id(key, route, 0, 0, basic_foo_shares[0].backend);
		if (!is_id_of_ref_share(l1, id, taken, &at))
			continue;
		taken[at] = true;
		snprintf(keys[found], sizeof(keys[found]), "%s", key);
		v[found] = basic_listeners[1];
		v[found].key = keys[found];
		v[found].route = route;
		v[found].port = (uint16_t)(6001 + found);
		found++;
	}
	/* without the previous assignment the newcomers take those ids: the hazard */
	fresh = build(&p2, true);
	for (size_t i = 0; i < l1->n_shares; i++)
		moved += share_keyed(fresh, l1->shares[i].key)->id != l1->shares[i].id;
	assert_true(moved >= NEWCOMERS);
	assert_int_not_equal(route_named(fresh, l1->routes[hit].name)->id, l1->routes[hit].id);
	/* with it, every survivor keeps id, tag and endpoint marks */
	ids = ids_of(l1);
	l2 = build_from(&p2, ids);
	assert_int_equal(assert_survivors_kept(l1, l2), l1->n_shares);
	for (size_t r = 0; r < l1->n_routes; r++)
		assert_non_null(route_named(l2, l1->routes[r].name));
	/* ... and the newcomers got ids no survivor holds */
	for (size_t i = 0; i < NEWCOMERS; i++) {
		const struct lay_share *sh = &l2->shares[i];

		assert_ptr_equal(sh->share, &basic_foo_shares[0]);
		for (size_t j = NEWCOMERS; j < l2->n_shares; j++)
			assert_int_not_equal(sh->id, l2->shares[j].id);
	}
	assert_int_not_equal(route_named(l2, route)->id, 0);
	for (size_t r = 0; r < l2->n_routes; r++)
		for (size_t q = 0; q < r; q++)
			assert_int_not_equal(l2->routes[r].id, l2->routes[q].id);
	lay_ids_free(ids);
	ruleset_free(fresh);
	ruleset_free(l2);
	ruleset_free(l1);
}

/* Removing one pod renumbered the rest of its share (index = position): every later
 * endpoint's mark moved. Now the survivors keep theirs and a newcomer takes the hole. */
static void endpoint_removed_from_the_middle(void **state)
{
	static struct plan_endpoint all[] = {
		V4(10, 9, 0, 1, 80), V4(10, 9, 0, 2, 80), V4(10, 9, 0, 3, 80), V4(10, 9, 0, 4, 80),
		V4(10, 9, 0, 5, 80), V6(0x51, 80), V6(0x52, 80),
	};
	struct plan_endpoint less[6], more[7];
	struct plan_share sh = { .weight = 1, .backend = "Service ns/five:80", .endpoints = all,
				 .n_endpoints = 7 };
	struct plan_listener l = w_listeners[0];
	struct plan p = { &l, 1 };
	struct ruleset *l1, *l2, *l3, *fresh;
	struct lay_ids *ids;
	const struct lay_entry *en;
	uint32_t hole;

	l.shares = &sh;
	l.n_shares = 1;
	l1 = build(&p, true);
	hole = endpoint_mark(l1, &l1->shares[0], 0, all[2].addr, 80);
	memcpy(less, all, 2 * sizeof(*all));
	memcpy(less + 2, all + 3, 4 * sizeof(*all));
	sh.endpoints = less;
	sh.n_endpoints = 6;
	fresh = build(&p, true);
	assert_int_not_equal(endpoint_mark(fresh, &fresh->shares[0], 0, all[3].addr, 80),
			     endpoint_mark(l1, &l1->shares[0], 0, all[3].addr, 80));
	ids = ids_of(l1);
	l2 = build_from(&p, ids);
	assert_int_equal(l2->n_endpoints[0], 4);
	for (size_t i = 0; i < 6; i++) {
		int f = less[i].family == AF_INET6;
		uint32_t m = endpoint_mark(l2, &l2->shares[0], f, less[i].addr, 80);

		assert_int_equal(m, endpoint_mark(l1, &l1->shares[0], f, less[i].addr, 80));
	}
	/* the slots reference the survivors only, each as often as before (uniform) */
	en = &l2->entries[LAY_ANY4][0];
	assert_int_equal(en->n_slots, 4);
	for (uint32_t s = 0; s < en->n_slots; s++) {
		assert_int_not_equal(en->marks[s], hole);
		for (uint32_t t = 0; t < s; t++)
			assert_int_not_equal(en->marks[s], en->marks[t]);
	}
	/* a new pod takes the free index */
	memcpy(more, less, sizeof(less));
	more[6] = (struct plan_endpoint)V4(10, 9, 0, 9, 80);
	sh.endpoints = more;
	sh.n_endpoints = 7;
	lay_ids_free(ids);
	ids = ids_of(l2);
	l3 = build_from(&p, ids);
	assert_int_equal(endpoint_mark(l3, &l3->shares[0], 0, more[6].addr, 80), hole);
	assert_survivors_kept(l2, l3);
	lay_ids_free(ids);
	ruleset_free(l1);
	ruleset_free(l2);
	ruleset_free(l3);
	ruleset_free(fresh);
}

/* The kernel table alone gives back the assignment: a snapshot of l1's batch (what the
 * dump after the apply, or the committed record, holds) reads as lay_ids_from_ruleset(l1),
 * and the next layout built from either is the same, byte for byte. */
static int first_elem(const struct set_elem *el, void *data)
{
	*(struct set_elem *)data = *el;
	return 1;
}

/* UDP listeners: their own map keys (protocol . port), slots like TCP's, a UDP conflict
 * share named by its protocol. */
static void udp_listeners_and_slots(void **state)
{
	struct plan_listener two[2] = { udp_listeners[0], udp_listeners[0] };
	struct plan p = { two, 2 };
	struct ruleset *rs = build(&plan_udp, true);
	const struct lay_entry *en;
	struct set_elem first;
	size_t n = 0;

	assert_int_equal(rs->n_entries[LAY_ANY4], 1);
	assert_int_equal(rs->n_entries[LAY_ANY6], 1);
	assert_int_equal(rs->n_entries[LAY_ADDR4], 1);
	assert_int_equal(rs->n_entries[LAY_ADDR6], 0);
	en = &rs->entries[LAY_ANY4][0];
	assert_int_equal(en->protocol, IPPROTO_UDP);
	assert_int_equal(en->n_slots, 2); /* two IPv4 pods */
	assert_int_equal(rs->entries[LAY_ANY6][0].n_slots, 1);
	assert_int_equal(rs->entries[LAY_ADDR4][0].protocol, IPPROTO_UDP);
	assert_int_equal(set_count(rs, SET_SLOT_ANY4), 2);
	assert_int_equal(set_count(rs, SET_SLOT_ADDR4), 1);
	assert_int_equal(set_count(rs, SET_ENDPOINT4), 3);
	assert_int_equal(set_count(rs, SET_ENDPOINT6), 1);
	/* the key is protocol (one byte, padded to 4) . port (padded to 4) . slot */
	set_foreach(rs, SET_SLOT_ANY4, first_elem, &first);
	assert_int_equal(first.key_len, 12);
	assert_int_equal(first.key[0], IPPROTO_UDP);
	assert_int_equal(first.key[1] | first.key[2] | first.key[3], 0);
	assert_int_equal(first.key[4] << 8 | first.key[5], 53);
	assert_int_equal(strncmp(first.text, "udp . 53 . 0x00000000 : 0x", 26), 0);
	for (size_t i = 0; i < rs->n_shares; i++)
		n += !strncmp(rs->shares[i].comment, "udproute ns/", 12);
	assert_int_equal(n, 2);
	ruleset_free(rs);
	/* two forwarding UDP listeners on one port conflict; the key names UDP */
	two[1].key = "ns/udp-gw/dns2";
	two[1].listener = "dns2";
	rs = build(&p, true);
	assert_int_equal(rs->n_entries[LAY_ANY4], 1);
	en = &rs->entries[LAY_ANY4][0];
	assert_true(en->conflict);
	assert_int_equal(en->marks[0] & LAYOUT_INDEX_MASK, LAYOUT_REJECT);
	assert_string_equal(rs->shares[en->first_share].key, "conflict\nany4\n*\n53\nudp");
	assert_string_equal(rs->shares[en->first_share].comment,
			    "UDP port 53 on any IPv4 address: conflict rejects");
	ruleset_free(rs);
}

/* A TCP and a UDP listener on one port are two keys, not a conflict; a TCPRoute and a
 * UDPRoute of one name are two routes with their own ids, tags and counters, also as read
 * back from the kernel; a TCP route's key is its name, as before UDP. */
static void tcp_and_udp_on_one_port(void **state)
{
	struct ruleset *rs = build(&plan_tcp_udp, true), *again;
	const struct lay_route *rt[2] = { NULL, NULL };
	struct lay_ids *from_kernel;
	char na[32], nb[32], *t1 = NULL, *t2 = NULL;
	size_t len;

	assert_int_equal(rs->n_entries[LAY_ANY4], 3);
	for (size_t i = 0; i < rs->n_entries[LAY_ANY4]; i++)
		assert_false(rs->entries[LAY_ANY4][i].conflict);
	assert_int_equal(rs->entries[LAY_ANY4][0].protocol, IPPROTO_TCP);
	assert_int_equal(rs->entries[LAY_ANY4][1].protocol, IPPROTO_UDP);
	assert_int_equal(rs->entries[LAY_ANY4][0].port, rs->entries[LAY_ANY4][1].port);
	assert_int_equal(rs->n_routes, 2);
	for (size_t i = 0; i < rs->n_routes; i++)
		rt[rs->routes[i].protocol == IPPROTO_UDP] = &rs->routes[i];
	assert_non_null(rt[0]);
	assert_non_null(rt[1]);
	assert_string_equal(rt[0]->name, "ns/app");
	assert_string_equal(rt[1]->name, "ns/app");
	assert_string_equal(rt[0]->key, "ns/app");
	assert_string_equal(rt[1]->key, "udproute\nns/app");
	assert_string_equal(rt[0]->comment, "route ns/app");
	assert_string_equal(rt[1]->comment, "udproute ns/app");
	assert_int_not_equal(rt[0]->id, rt[1]->id);
	assert_true(rt[0]->tag != rt[1]->tag);
	assert_int_equal(rt[0]->id, start_id("ns/app")); /* TCP: numbered as it always was */
	route_counter_name(rt[0], 0, na, sizeof(na));
	route_counter_name(rt[1], 0, nb, sizeof(nb));
	assert_string_not_equal(na, nb);
	/* the UDP share's key holds the UDPRoute's identity */
	for (size_t i = 0; i < rs->n_shares; i++)
		if (rs->shares[i].share && rs->plan->v[rs->shares[i].listener].protocol ==
					   IPPROTO_UDP)
			assert_non_null(strstr(rs->shares[i].key, "\nudproute\nns/app\n"));
	/* read back from the kernel alone, the next layout keeps both routes apart */
	from_kernel = kernel_ids_of(rs);
	again = build_from(&plan_tcp_udp, from_kernel);
	assert_int_equal(render_text(rs, &t1, &len), 0);
	assert_int_equal(render_text(again, &t2, &len), 0);
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	lay_ids_free(from_kernel);
	ruleset_free(again);
	ruleset_free(rs);
}

static void ids_from_snapshot_equal_ids_from_ruleset(void **state)
{
	struct plan_listener v[8], w[8];
	struct plan p1, p2;
	struct ruleset *l1, *a, *b;
	struct lay_ids *from_rs, *from_kernel;
	char *t1, *t2, *x1, *x2;
	size_t len, shares = 0;

	rich(v, &p1);
	l1 = build(&p1, true);
	from_rs = ids_of(l1);
	from_kernel = kernel_ids_of(l1);
	t1 = ids_text(from_rs);
	t2 = ids_text(from_kernel);
	assert_string_equal(t1, t2);
	for (const char *c = t1; (c = strstr(c, "share ")); c++)
		shares++;
	assert_int_equal(shares, l1->n_shares); /* each of them has a counter */
	assert_non_null(strstr(t1, " v6 "));
	assert_non_null(strstr(t1, "route "));
	/* the next plan: one listener gone, the weights changed */
	memcpy(w, v, sizeof(v));
	memmove(w + 1, w + 2, 6 * sizeof(*w));
	p2 = (struct plan){ w, 7 };
	a = build_from(&p2, from_rs);
	b = build_from(&p2, from_kernel);
	assert_int_equal(render_text(a, &x1, &len), 0);
	assert_int_equal(render_text(b, &x2, &len), 0);
	assert_string_equal(x1, x2);
	assert_survivors_kept(l1, a);
	free(x1);
	free(x2);
	free(t1);
	free(t2);
	lay_ids_free(from_rs);
	lay_ids_free(from_kernel);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(l1);
}

/* An absent table, or one whose counters are named otherwise (an older nftgate's, someone
 * else's), holds no ids. */
static void ids_from_foreign_or_absent_tables(void **state)
{
	struct snapshot *s = snapshot_new("nftgate", false);
	struct nft_error e = { 0 };
	struct lay_ids *ids = NULL;
	struct ruleset *rs = build(&plan_basic, true);
	char *t;

	assert_non_null(s);
	assert_int_equal(lay_ids_from_snapshot(s, &ids, &e), 0);
	t = ids_text(ids);
	assert_string_equal(t, "");
	free(t);
	ids = lay_ids_free(ids);
	snapshot_free(s);
	/* counters named s<id>_conn (before ids were kept): nothing to keep */
	s = snapshot_of(rs, NULL);
	for (size_t i = 0; i < s->n; i++)
		for (uint8_t *p = s->msgs[i].data; p + 24 <= s->msgs[i].data + s->msgs[i].len; p++)
			if ((p[0] == 's' || p[0] == 'r') && p[6] == '_' && p[23] == '_')
				p[6] = 'x';
	assert_int_equal(lay_ids_from_snapshot(s, &ids, &e), 0);
	t = ids_text(ids);
	assert_string_equal(t, "");
	free(t);
	ids = lay_ids_free(ids);
	/* a counter message cut short is refused, named, not read past its end */
	for (size_t i = 0; i < s->n; i++) {
		struct nlmsghdr *nlh = (void *)s->msgs[i].data;

		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWOBJ) {
			s->msgs[i].len = nlh->nlmsg_len - 8;
			break;
		}
	}
	assert_int_equal(lay_ids_from_snapshot(s, &ids, &e), -EBADMSG);
	assert_null(ids);
	assert_non_null(strstr(e.msg, "cannot be parsed"));
	snapshot_free(s);
	ruleset_free(rs);
}

/* A fresh assignment numbers as ids always were: from the hash of what the share is, so
 * the golden files' ids did not change (only the tags were added to the names). */
static void fresh_ids_are_the_hashes(void **state)
{
	const struct plan *plans[] = { &plan_basic, &plan_weights, &plan_addresses,
				       &plan_rejects };

	for (size_t k = 0; k < sizeof(plans) / sizeof(plans[0]); k++) {
		struct ruleset *rs = build(plans[k], true);

		for (size_t i = 0; i < rs->n_shares; i++) {
			const struct lay_share *sh = &rs->shares[i];
			const struct plan_listener *l = &plans[k]->v[sh->listener];
			char buf[256];

			if (sh->share) {
				assert_int_equal(sh->id, share_start_id(l->key, l->route,
									sh->share->rule,
									sh->share->ref,
									sh->share->backend));
				continue;
			}
			snprintf(buf, sizeof(buf), "%s\n#listener", l->key);
			assert_int_equal(sh->id, start_id(buf));
		}
		for (size_t i = 0; i < rs->n_routes; i++)
			assert_int_equal(rs->routes[i].id, start_id(rs->routes[i].name));
		ruleset_free(rs);
	}
}

/* The same listeners in another order give every share and route the same id and tag and
 * every endpoint the same mark, fresh or from a previous assignment. */
static void ids_independent_of_plan_order(void **state)
{
	struct plan_listener v[8], rev[8];
	struct plan p, q = { rev, 8 };
	struct ruleset *a, *b, *c, *d;
	struct lay_ids *ids;

	rich(v, &p);
	for (size_t i = 0; i < 8; i++)
		rev[i] = v[7 - i];
	a = build(&p, true);
	b = build(&q, true);
	assert_int_equal(assert_survivors_kept(a, b), a->n_shares);
	assert_int_equal(b->n_shares, a->n_shares);
	ids = ids_of(a);
	c = build_from(&p, ids);
	d = build_from(&q, ids);
	assert_int_equal(assert_survivors_kept(c, d), c->n_shares);
	lay_ids_free(ids);
	ruleset_free(a);
	ruleset_free(b);
	ruleset_free(c);
	ruleset_free(d);
}

struct owner_values {
	char owner[300];
	int sub;
	uint64_t packets, bytes;
};

static const char *owner_of(const struct ruleset *rs, const struct counter_obj *c)
{
	return c->sub < 3 ? rs->shares[c->index].key : rs->routes[c->index].name;
}

struct carry_ctx {
	const struct ruleset *rs;
	struct counter_values *cv;
	struct owner_values *ov;
	size_t n;
};

static int give_values(const struct counter_obj *c, void *data)
{
	struct carry_ctx *x = data;
	struct counter_value *v = &x->cv->v[x->cv->n++];
	struct owner_values *o = &x->ov[x->n++];

	snprintf(v->name, sizeof(v->name), "%s", c->name);
	v->packets = 1000 + x->n;
	v->bytes = 100000 + x->n;
	snprintf(o->owner, sizeof(o->owner), "%s", owner_of(x->rs, c));
	o->sub = c->sub;
	o->packets = v->packets;
	o->bytes = v->bytes;
	return 0;
}

static int cmp_cv_name(const void *a, const void *b)
{
	return strcmp(((const struct counter_value *)a)->name,
		      ((const struct counter_value *)b)->name);
}

struct check_ctx {
	const struct ruleset *rs;
	const struct owner_values *ov;
	size_t n_ov;
	const struct counter_values *now;
	size_t carried;
};

static int check_values(const struct counter_obj *c, void *data)
{
	struct check_ctx *x = data;
	const struct counter_value *now = NULL;
	uint64_t packets = 0, bytes = 0;

	for (size_t i = 0; i < x->now->n; i++)
		if (!strcmp(x->now->v[i].name, c->name))
			now = &x->now->v[i];
	assert_non_null(now);
	for (size_t i = 0; i < x->n_ov; i++)
		if (x->ov[i].sub == c->sub && !strcmp(x->ov[i].owner, owner_of(x->rs, c))) {
			packets = x->ov[i].packets;
			bytes = x->ov[i].bytes;
			x->carried++;
		}
	assert_true(now->packets == packets && now->bytes == bytes);
	return 0;
}

/* Counters are carried over by name (build.c): with the previous assignment a value goes
 * to the counter of the same share (or route) and kind, and newcomers start from zero,
 * also when their hashes collide with survivors' ids. */
static void carried_counters_stay_with_their_share(void **state)
{
	struct plan_listener v[9];
	struct plan p1, p2 = { v, 9 };
	struct ruleset *l1, *l2;
	struct lay_ids *ids;
	struct counter_values cv = { 0 }, now = { 0 };
	struct owner_values ov[64];
	struct carry_ctx cx;
	struct check_ctx ck;
	struct snapshot *s;

	rich(v + 1, &p1);
	l1 = build(&p1, true);
	cv.v = calloc(64, sizeof(*cv.v));
	assert_non_null(cv.v);
	cx = (struct carry_ctx){ l1, &cv, ov, 0 };
	counter_foreach(l1, give_values, &cx);
	qsort(cv.v, cv.n, sizeof(*cv.v), cmp_cv_name);
	/* a newcomer sorting first that takes over the first share's route and backend */
	v[0] = basic_listeners[0];
	v[0].key = "default/a-new/x";
	v[0].port = 6000;
	ids = ids_of(l1);
	l2 = build_from(&p2, ids);
	s = snapshot_of(l2, &cv);
	assert_int_equal(snapshot_counters(s, &now), 0);
	ck = (struct check_ctx){ l2, ov, cx.n, &now, 0 };
	counter_foreach(l2, check_values, &ck);
	assert_int_equal(ck.carried, cx.n); /* every old counter went to its own owner */
	counter_values_clear(&cv);
	counter_values_clear(&now);
	snapshot_free(s);
	lay_ids_free(ids);
	ruleset_free(l1);
	ruleset_free(l2);
}

/* Two keys whose first tags collide: the allocator gives the second its next tag, never
 * two objects of one name, and reading the kernel back tells them apart. */
static void tag_collisions_resolved(void **state)
{
	struct ids_req q[2];
	struct ruleset *rs = build(&plan_rejects, true);
	struct lay_ids *prev;
	uint32_t x0 = rs->shares[0].id, x1 = rs->shares[1].id;

	/* fresh: both numbered, the smaller key keeps its first tag */
	ids_req_init(&q[0], "k2", 5);
	ids_req_init(&q[1], "k1", 5);
	q[0].tags[0] = q[1].tags[0];
	assert_int_equal(ids_assign(NULL, IDS_SHARES, q, 2, 100), 0);
	assert_true(q[1].tag == q[1].tags[0] && q[1].id == 5);
	assert_true(q[0].tag == q[0].tags[1] && q[0].id == 6);

	/* the kernel holds k1 with the shared first tag and k2 with its second: each finds
	 * its own (the deeper tag is the one k2 was given), in any order */
	rs->shares[0].tag = q[1].tags[0];
	rs->shares[1].tag = q[0].tags[1];
	prev = kernel_ids_of(rs);
	assert_int_equal(ids_assign(prev, IDS_SHARES, q, 2, LAYOUT_MAX_SHARES), 0);
	assert_true(q[1].id == x0 && q[1].tag == q[1].tags[0]);
	assert_true(q[0].id == x1 && q[0].tag == q[0].tags[1]);
	/* k1 gone: k2 still finds its own */
	assert_int_equal(ids_assign(prev, IDS_SHARES, q, 1, LAYOUT_MAX_SHARES), 0);
	assert_true(q[0].id == x1 && q[0].tag == q[0].tags[1]);
	lay_ids_free(prev);

	/* a newcomer k0 whose first tag is survivor k1's: from the kernel the two cannot be
	 * told apart (equal depth), the smaller key wins, the same way every time; the other
	 * gets a fresh id and a tag no previous object had */
	rs->shares[1].tag = 42;
	prev = kernel_ids_of(rs);
	ids_req_init(&q[0], "k1", 7);
	ids_req_init(&q[1], "k0", 7);
	q[1].tags[0] = q[0].tags[0];
	for (int round = 0; round < 2; round++) {
		struct ids_req *k1 = &q[round], *k0 = &q[1 - round], t;

		assert_int_equal(ids_assign(prev, IDS_SHARES, q, 2, LAYOUT_MAX_SHARES), 0);
		assert_true(k0->id == x0 && k0->tag == k1->tags[0]);
		assert_true(k1->id != x0 && k1->id != x1 && k1->tag == k1->tags[1]);
		t = q[0]; /* the same requests in the other order */
		q[0] = q[1];
		q[1] = t;
	}
	lay_ids_free(prev);
	/* from a ruleset the keys are known: the survivor keeps its id, exactly */
	free(rs->shares[0].key);
	rs->shares[0].key = strdup("k1");
	assert_non_null(rs->shares[0].key);
	prev = ids_of(rs);
	assert_int_equal(ids_assign(prev, IDS_SHARES, q, 2, LAYOUT_MAX_SHARES), 0);
	assert_true(q[0].id == x0 && q[0].tag == q[0].tags[0]);
	assert_true(q[1].id != x0 && q[1].tag == q[1].tags[1]);
	/* every candidate tag taken: refused, never a duplicate name */
	for (int d = 0; d < IDS_TAG_DEPTH; d++)
		q[1].tags[d] = q[0].tags[0];
	assert_int_equal(ids_assign(prev, IDS_SHARES, q, 2, LAYOUT_MAX_SHARES), -EEXIST);
	assert_int_equal(ids_assign(NULL, IDS_SHARES, q, 2, 1), -E2BIG);
	lay_ids_free(prev);
	ruleset_free(rs);
}

/* A removed share's id is not given to a newcomer while others are free (its connections
 * may still carry its marks), only when nothing else is left. */
static void removed_ids_reused_last(void **state)
{
	struct lay_share sh[2] = {
		{ .id = 1, .tag = 11, .key = "a", .forwards = true },
		{ .id = 2, .tag = 12, .key = "b", .forwards = true },
	};
	struct ruleset fake = { .shares = sh, .n_shares = 2 };
	struct lay_ids *prev = ids_of(&fake);
	struct ids_req q[2];

	ids_req_init(&q[0], "c", 1);
	ids_req_init(&q[1], "d", 1);
	assert_int_equal(ids_assign(prev, IDS_SHARES, q, 2, 3), 0);
	assert_int_equal(q[0].id, 3);
	assert_int_equal(q[1].id, 1);
	lay_ids_free(prev);
}

/* ---- allocation failures (tests/unit/alloc_fail.h) ---- */

struct af_build {
	const struct plan *p;
	const struct lay_ids *prev;
};

static int af_build(void *ctx)
{
	struct af_build *x = ctx;
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;
	int r = layout_build_from(x->p, "nftgate", true, x->prev, &rs, &e);

	if (r == 0 && !rs)
		r = -EFAULT;
	ruleset_free(rs);
	return r;
}

static int af_ids_from_ruleset(void *ctx)
{
	struct lay_ids *ids = NULL;
	char *text = NULL;
	int r = lay_ids_from_ruleset(ctx, &ids);

	if (r == 0)
		r = lay_ids_format(ids, &text);
	free(text);
	lay_ids_free(ids);
	return r;
}

static int af_ids_from_snapshot(void *ctx)
{
	struct nft_error e = { 0 };
	struct lay_ids *ids = NULL;
	int r = lay_ids_from_snapshot(ctx, &ids, &e);

	lay_ids_free(ids);
	return r;
}

/* Issue: merge_conflict freed the merged entries' comments, then a failed allocation left
 * n_entries unshrunk and ruleset_free freed them again. Every allocation of every step
 * now fails in turn, for each shape of plan, fresh and from previous assignments. */
static void layout_allocation_failures(void **state)
{
	struct plan_listener v[8], w[8];
	struct plan rp, moved;
	struct ruleset *l1;
	struct lay_ids *ids, *kids;
	struct snapshot *s;
	const struct plan *plans[] = { &rp, &plan_basic, &plan_weights, &plan_addresses,
				       &plan_rejects };
	struct af_build x = { 0 };

	rich(v, &rp);
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		x.p = plans[i];
		assert_true(alloc_fail_each("layout_build", af_build, &x, NULL) > 10);
	}
	l1 = build(&rp, true);
	ids = ids_of(l1);
	kids = kernel_ids_of(l1);
	s = snapshot_of(l1, NULL);
	memcpy(w, v, sizeof(v));
	memmove(w + 1, w + 2, 6 * sizeof(*w));
	moved = (struct plan){ w, 7 };
	x = (struct af_build){ &moved, ids };
	alloc_fail_each("layout_build_from(ruleset ids)", af_build, &x, NULL);
	x.prev = kids;
	alloc_fail_each("layout_build_from(kernel ids)", af_build, &x, NULL);
	alloc_fail_each("lay_ids_from_ruleset", af_ids_from_ruleset, l1, NULL);
	alloc_fail_each("lay_ids_from_snapshot", af_ids_from_snapshot, s, NULL);
	snapshot_free(s);
	lay_ids_free(ids);
	lay_ids_free(kids);
	ruleset_free(l1);
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
		cmocka_unit_test(udp_listeners_and_slots),
		cmocka_unit_test(tcp_and_udp_on_one_port),
		cmocka_unit_test(too_many_endpoints_refused),
		cmocka_unit_test(masquerade_never_has_no_masq_elements),
		cmocka_unit_test(table_name_must_be_nft_syntax),
		cmocka_unit_test(ids_survive_colliding_newcomers),
		cmocka_unit_test(endpoint_removed_from_the_middle),
		cmocka_unit_test(ids_from_snapshot_equal_ids_from_ruleset),
		cmocka_unit_test(ids_from_foreign_or_absent_tables),
		cmocka_unit_test(fresh_ids_are_the_hashes),
		cmocka_unit_test(ids_independent_of_plan_order),
		cmocka_unit_test(carried_counters_stay_with_their_share),
		cmocka_unit_test(tag_collisions_resolved),
		cmocka_unit_test(removed_ids_reused_last),
		cmocka_unit_test(layout_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
