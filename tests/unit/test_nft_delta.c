/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Catalogs and element-level transactions, without a kernel: the two catalog producers
 * agree, equal tables give no transaction, and a small change gives a small one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/catalog.h"
#include "nft/delta.h"
#include "nft/ids.h"
#include "tests/unit/test_nft_plans.h"

static struct ruleset *build(const struct plan *p, bool masq)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;

	assert_int_equal(layout_build(p, "nftgate", masq, &rs, &e), 0);
	return rs;
}

/* What a dump of the table would hold right after a full apply: the batch's content. */
static struct catalog *catalog_via_batch(const struct ruleset *rs)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nft_error e = { 0 };
	struct nft_batch *nb = NULL;
	struct snapshot *s = NULL;
	struct catalog *c = NULL;

	assert_int_equal(batch_build_apply(rs, 1, &o, &nb, &e), 0);
	assert_int_equal(snapshot_from_batch(nb, 7, &s), 0);
	assert_int_equal(catalog_from_snapshot(s, &c, &e), 0);
	snapshot_free(s);
	batch_free(nb);
	return c;
}

static void producers_agree(const struct plan *p, bool masq)
{
	struct ruleset *rs = build(p, masq);
	struct catalog *a = NULL, *b = catalog_via_batch(rs);
	char why[512] = "";
	size_t total = 0;

	assert_int_equal(catalog_from_ruleset(rs, &a), 0);
	if (!catalog_same(a, b, why, sizeof(why)))
		fail_msg("catalogs differ: %s", why);
	for (int s = 0; s < SET__COUNT; s++) {
		assert_int_equal(a->sets[s].n, set_count(rs, (enum set_index)s));
		total += a->sets[s].n;
	}
	assert_true(total > 0);
	assert_true(a->n_counters > 0);
	assert_true(a->n_picks > 0);
	catalog_free(a);
	catalog_free(b);
	ruleset_free(rs);
}

static void agree_basic(void **state) { producers_agree(&plan_basic, true); }
static void agree_weights(void **state) { producers_agree(&plan_weights, true); }
static void agree_addresses(void **state) { producers_agree(&plan_addresses, true); }
static void agree_rejects(void **state) { producers_agree(&plan_rejects, true); }
static void agree_never(void **state) { producers_agree(&plan_basic, false); }
static void agree_udp(void **state) { producers_agree(&plan_udp, true); }
static void agree_tcp_udp(void **state) { producers_agree(&plan_tcp_udp, true); }

static void equal_tables_give_no_transaction(void **state)
{
	struct ruleset *rs = build(&plan_weights, true);
	struct catalog *want = NULL, *have = catalog_via_batch(rs);
	struct nft_error e = { 0 };
	struct delta *d = NULL;
	char line[256];

	assert_int_equal(catalog_from_ruleset(rs, &want), 0);
	assert_int_equal(delta_build(have, want, rs, 100, NULL, &d, &e), 0);
	assert_null(d->nb);
	delta_stats_format(&d->st, line, sizeof(line));
	assert_string_equal(line, "no change");
	delta_free(d);
	catalog_free(want);
	catalog_free(have);
	ruleset_free(rs);
}

/* A message's type, without the subsystem. */
static unsigned msg_type(const struct nft_batch *nb, size_t i)
{
	return NFNL_MSG_TYPE(nb->msgs[i].nlh->nlmsg_type);
}

static void one_endpoint_removed_is_a_few_messages(void **state)
{
	static struct plan_endpoint fewer[] = {
		V4(10, 244, 1, 10, 7000), V6(0x10, 7000), V6(0x11, 7000),
	};
	struct plan_share sh = basic_foo_shares[0];
	struct plan_listener ls[2] = { basic_listeners[0], basic_listeners[1] };
	struct plan after = { ls, 2 };
	struct ruleset *rs0 = build(&plan_basic, true), *rs1;
	struct catalog *have = NULL, *want = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL;
	size_t dels = 0, adds = 0;

	sh.endpoints = fewer;
	sh.n_endpoints = 3;
	ls[1].shares = &sh;
	rs1 = build(&after, true);
	assert_int_equal(catalog_from_ruleset(rs0, &have), 0);
	assert_int_equal(catalog_from_ruleset(rs1, &want), 0);
	assert_int_equal(delta_build(have, want, rs1, 100, NULL, &d, &e), 0);
	assert_non_null(d->nb);
	for (size_t i = 0; i < d->nb->n; i++) {
		dels += msg_type(d->nb, i) == NFT_MSG_DELSETELEM;
		adds += msg_type(d->nb, i) == NFT_MSG_NEWSETELEM;
		/* nothing but elements and the stale pick chain's removal later */
		assert_true(msg_type(d->nb, i) != NFT_MSG_DELTABLE);
		assert_true(msg_type(d->nb, i) != NFT_MSG_NEWTABLE);
	}
	assert_int_equal(d->st.removed[SET_ENDPOINT4], 1);
	assert_int_equal(d->st.added[SET_ENDPOINT4], 0);
	assert_int_equal(d->st.removed[SET_ENDPOINT6] + d->st.added[SET_ENDPOINT6], 0);
	assert_true(dels >= 1 && adds >= 1);
	/* BEGIN, END, and at most a delete and an add per touched set, plus one new pick
	 * chain with its three rules */
	assert_true(d->nb->n <= 2 + 2 * 3 + 4);
	delta_free(d);
	catalog_free(have);
	catalog_free(want);
	ruleset_free(rs0);
	ruleset_free(rs1);
}

/* A pod replaced by one at another address (a rollout): the newcomer takes the freed
 * index and so the same slots; only its endpoint element changes, although its address
 * sorts after the others'. */
static void replaced_pod_changes_its_endpoint_only(void **state)
{
	static struct plan_endpoint rolled[] = {
		V4(10, 244, 1, 11, 7000), V4(10, 244, 1, 99, 7000), V6(0x10, 7000), V6(0x11, 7000),
	};
	struct plan_share sh = basic_foo_shares[0];
	struct plan_listener ls[2] = { basic_listeners[0], basic_listeners[1] };
	struct plan after = { ls, 2 };
	struct ruleset *rs0 = build(&plan_basic, true), *rs1 = NULL;
	struct catalog *have = NULL, *want = NULL;
	struct lay_ids *ids = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL;
	char line[256];

	sh.endpoints = rolled;
	ls[1].shares = &sh;
	assert_int_equal(lay_ids_from_ruleset(rs0, &ids), 0);
	assert_int_equal(layout_build_from(&after, "nftgate", true, ids, &rs1, &e), 0);
	assert_int_equal(catalog_from_ruleset(rs0, &have), 0);
	assert_int_equal(catalog_from_ruleset(rs1, &want), 0);
	assert_int_equal(delta_build(have, want, rs1, 100, NULL, &d, &e), 0);
	assert_non_null(d->nb);
	delta_stats_format(&d->st, line, sizeof(line));
	assert_string_equal(line, "endpoint4 +0 -0 ~1");
	assert_int_equal(d->nb->n, 4); /* BEGIN, its delete, its add, END */
	delta_free(d);
	catalog_free(have);
	catalog_free(want);
	lay_ids_free(ids);
	ruleset_free(rs0);
	ruleset_free(rs1);
}

/* A third IPv4 pod for the UDP listener that shares its port with a TCP one: the UDP
 * listener's elements change (S 2 -> 3: a new pick chain), the TCP one's stay; the same
 * message count as TCP's (docs/layout.md "Incremental updates"). */
static void udp_endpoint_added_is_a_few_messages(void **state)
{
	static struct plan_endpoint more[] = {
		V4(10, 2, 1, 1, 9000), V4(10, 2, 1, 2, 9000), V4(10, 2, 1, 3, 9000),
	};
	struct plan_share sh = mixed_udp_shares[0];
	struct plan_listener ls[3] = { mixed_listeners[0], mixed_listeners[1],
				       mixed_listeners[2] };
	struct plan after = { ls, 3 };
	struct ruleset *rs0 = build(&plan_tcp_udp, true), *rs1 = NULL;
	struct catalog *have = NULL, *want = NULL;
	struct lay_ids *ids = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL;
	char line[256];

	sh.endpoints = more;
	sh.n_endpoints = 3;
	ls[1].shares = &sh;
	assert_int_equal(lay_ids_from_ruleset(rs0, &ids), 0);
	assert_int_equal(layout_build_from(&after, "nftgate", true, ids, &rs1, &e), 0);
	assert_int_equal(catalog_from_ruleset(rs0, &have), 0);
	assert_int_equal(catalog_from_ruleset(rs1, &want), 0);
	assert_int_equal(delta_build(have, want, rs1, 100, NULL, &d, &e), 0);
	assert_non_null(d->nb);
	delta_stats_format(&d->st, line, sizeof(line));
	assert_string_equal(line, "listen_any4 +0 -0 ~1, slot_any4 +1 -0 ~0, endpoint4 +1 -0 ~0, "
			    "chains +1 -0");
	/* BEGIN, the chain and its 3 rules, the listener element's delete and add, 1 slot
	 * add, 1 endpoint add, END */
	assert_int_equal(d->nb->n, 10);
	delta_free(d);
	catalog_free(have);
	catalog_free(want);
	lay_ids_free(ids);
	ruleset_free(rs0);
	ruleset_free(rs1);
}

static void masquerade_change_needs_replace(void **state)
{
	struct ruleset *rs0 = build(&plan_basic, true), *rs1 = build(&plan_basic, false);
	struct catalog *have = NULL, *want = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL;

	assert_int_equal(catalog_from_ruleset(rs0, &have), 0);
	assert_int_equal(catalog_from_ruleset(rs1, &want), 0);
	assert_int_equal(delta_build(have, want, rs1, 100, NULL, &d, &e), DELTA_NEEDS_REPLACE);
	assert_null(d);
	assert_non_null(strstr(e.msg, "chains, rules or set definitions"));
	catalog_free(have);
	catalog_free(want);
	ruleset_free(rs0);
	ruleset_free(rs1);
}

static void absent_table_needs_replace(void **state)
{
	struct ruleset *rs = build(&plan_basic, true);
	struct snapshot *none = snapshot_new("nftgate", false);
	struct catalog *have = NULL, *want = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL;

	assert_non_null(none);
	assert_int_equal(catalog_from_snapshot(none, &have, &e), 0);
	assert_false(have->present);
	assert_int_equal(catalog_from_ruleset(rs, &want), 0);
	assert_int_equal(delta_build(have, want, rs, 100, NULL, &d, &e), DELTA_NEEDS_REPLACE);
	snapshot_free(none);
	catalog_free(have);
	catalog_free(want);
	ruleset_free(rs);
}

static void stale_pick_chains_are_collected_later(void **state)
{
	/* weights 3:1:0 + reject 2 needs 36 slots; the basic plan does not: its pick chains
	 * differ, and the old ones are only removed by the gc transaction */
	struct ruleset *rs0 = build(&plan_weights, true), *rs1 = build(&plan_basic, true);
	struct catalog *have = NULL, *want = NULL;
	struct nft_error e = { 0 };
	struct delta *d = NULL, *gc = NULL;
	size_t delchains = 0;

	assert_int_equal(catalog_from_ruleset(rs0, &have), 0);
	assert_int_equal(catalog_from_ruleset(rs1, &want), 0);
	assert_int_equal(delta_build(have, want, rs1, 100, NULL, &d, &e), 0);
	assert_true(d->st.stale_chains > 0);
	assert_int_equal(d->st.chains_removed, 0);
	for (size_t i = 0; i < d->nb->n; i++)
		assert_true(msg_type(d->nb, i) != NFT_MSG_DELCHAIN);
	assert_int_equal(delta_build_gc(have, want, 500, NULL, &gc, &e), 0);
	assert_non_null(gc->nb);
	for (size_t i = 0; i < gc->nb->n; i++)
		delchains += msg_type(gc->nb, i) == NFT_MSG_DELCHAIN;
	assert_int_equal(delchains, d->st.stale_chains);
	delta_free(d);
	delta_free(gc);
	catalog_free(have);
	catalog_free(want);
	ruleset_free(rs0);
	ruleset_free(rs1);
}

/* Fills the padding after every objref set name in the rule messages of s with 'h', a byte
 * that could go on a name; returns how many names it found. Such bytes were in the
 * committed records of an nftgate that left a batch's pages after the first unzeroed, and
 * such a record can still be on disk when a fixed one starts. */
static size_t poison_objref_padding(struct snapshot *s)
{
	size_t found = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint8_t *m = s->msgs[i].data;
		size_t len = s->msgs[i].len;

		if (NFNL_MSG_TYPE(((struct nlmsghdr *)m)->nlmsg_type) != NFT_MSG_NEWRULE)
			continue;
		for (int k = 0; k < SET__COUNT; k++) {
			size_t n = strlen(set_defs[k].name), pad = (4 - n % 4) % 4;
			uint16_t hdr[2] = { (uint16_t)(4 + n), NFTA_OBJREF_SET_NAME };

			for (size_t at = 0; pad && at + 4 + n + pad <= len; at++)
				if (!memcmp(m + at, hdr, 4) && !memcmp(m + at + 4, set_defs[k].name, n)) {
					memset(m + at + 4 + n, 'h', pad);
					found++;
				}
		}
	}
	return found;
}

static void objref_set_names_end_with_their_attribute(void **state)
{
	/* libnftnl 1.2.4 reads an objref's set name back from a batch's message with strdup,
	 * past the attribute's end: "route_traffic" read as "route_traffichhh" made the
	 * committed record of a table nftgate wrote look reshaped, and a restart replaced it */
	struct ruleset *rs = build(&plan_basic, true);
	struct apply_opts o = { .fail_at = -1 };
	struct catalog *have = NULL, *want = NULL;
	struct nft_error e = { 0 };
	struct nft_batch *nb = NULL;
	struct snapshot *s = NULL;
	struct delta *d = NULL;
	char why[512] = "";

	assert_int_equal(batch_build_apply(rs, 1, &o, &nb, &e), 0);
	assert_int_equal(snapshot_from_batch(nb, 7, &s), 0);
	assert_true(poison_objref_padding(s) >= 4); /* share_ and route_ conn and traffic */
	assert_int_equal(catalog_from_snapshot(s, &have, &e), 0);
	assert_int_equal(catalog_from_ruleset(rs, &want), 0);
	assert_string_equal(have->shape, want->shape);
	if (!catalog_same(have, want, why, sizeof(why)))
		fail_msg("catalogs differ: %s", why);
	assert_int_equal(delta_build(have, want, rs, 100, NULL, &d, &e), 0);
	assert_null(d->nb);
	delta_free(d);
	catalog_free(have);
	catalog_free(want);
	snapshot_free(s);
	batch_free(nb);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agree_basic),
		cmocka_unit_test(agree_weights),
		cmocka_unit_test(agree_addresses),
		cmocka_unit_test(agree_rejects),
		cmocka_unit_test(agree_never),
		cmocka_unit_test(agree_udp),
		cmocka_unit_test(agree_tcp_udp),
		cmocka_unit_test(equal_tables_give_no_transaction),
		cmocka_unit_test(one_endpoint_removed_is_a_few_messages),
		cmocka_unit_test(replaced_pod_changes_its_endpoint_only),
		cmocka_unit_test(udp_endpoint_added_is_a_few_messages),
		cmocka_unit_test(masquerade_change_needs_replace),
		cmocka_unit_test(absent_table_needs_replace),
		cmocka_unit_test(stale_pick_chains_are_collected_later),
		cmocka_unit_test(objref_set_names_end_with_their_attribute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
