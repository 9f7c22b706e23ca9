/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel feature probe without a kernel: its batch holds every template of the layout
 * and ends with the abort marker; fake refusals of a message map to the missing feature and
 * what to load; no refusal of the marker, or EPERM, are reported as such.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "nft/build.h"
#include "nft/netlink.h"
#include "nft/probe.h"
#include "nft/rules.h"

#define BASE 7000u

static size_t put_reply(uint8_t *buf, uint32_t seq, int err)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	return nlh->nlmsg_len;
}

static size_t find(const struct nft_batch *nb, enum batch_what w, int tmpl, const char *type)
{
	const struct chain_list *cl = nb->chains;

	for (size_t i = 0; i < nb->n; i++) {
		const struct batch_msg *m = &nb->msgs[i];

		if (m->what != w)
			continue;
		if (w == W_RULE && (int)cl->v[m->index].rules[m->index2].tmpl != tmpl)
			continue;
		if (w == W_CHAIN && (!cl->v[m->index].type || strcmp(cl->v[m->index].type, type)))
			continue;
		return i;
	}
	fail_msg("no such message in the probe batch");
	return 0;
}

/* The verdict when message idx is refused (and the marker is, as always). */
static int verdict_for(const struct probe *p, size_t idx, int err, struct nft_error *e)
{
	const struct nft_batch *nb = probe_batch(p);
	struct nl_acks acks = { 0 };
	uint8_t buf[256];
	size_t len = 0;
	int r;

	if (idx != SIZE_MAX)
		len += put_reply(buf, BASE + (uint32_t)idx, err);
	len += put_reply(buf + len, BASE + (uint32_t)find(nb, W_ABORT, -1, NULL), -ENOENT);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	r = probe_verdict(p, &acks, e);
	nl_acks_clear(&acks);
	return r;
}

static void probe_covers_the_layout(void **state)
{
	struct nft_error e = { 0 };
	struct probe *p = NULL;
	const struct nft_batch *nb;
	bool seen[R_NAT_RESET + 1] = { false }, udp[R_NAT_RESET + 1] = { false };
	size_t udp_listeners = 0;

	assert_int_equal(probe_new(BASE, &p, &e), 0);
	nb = probe_batch(p);
	for (size_t i = 0; i < nb->n; i++) {
		const struct batch_msg *m = &nb->msgs[i];
		const struct chain_list *cl = nb->chains;
		const struct rule_def *d;

		if (m->what != W_RULE)
			continue;
		d = &cl->v[m->index].rules[m->index2];
		seen[d->tmpl] = true;
		udp[d->tmpl] |= d->protocol == IPPROTO_UDP;
	}
	for (int t = 0; t <= R_NAT_RESET; t++)
		assert_true(seen[t]);
	/* the UDP path too: its jump, its reject (icmpx) and its dnat rules, a UDP listener */
	assert_true(udp[R_JUMP_LISTENERS] && udp[R_NAT_REJECT] && udp[R_NAT_DNAT] &&
		    udp[R_NAT_RESET]);
	for (size_t i = 0; i < nb->rs->n_entries[LAY_ANY4]; i++)
		udp_listeners += nb->rs->entries[LAY_ANY4][i].protocol == IPPROTO_UDP;
	assert_int_equal(udp_listeners, 1);
	/* the abort marker comes last, just before END */
	assert_int_equal(nb->msgs[nb->n - 2].what, W_ABORT);
	assert_int_equal(nb->msgs[nb->n - 1].what, W_END);
	assert_non_null(strstr(nb->table, "nftgate-probe-"));
	/* only the marker refused: everything is there */
	assert_int_equal(verdict_for(p, SIZE_MAX, 0, &e), 0);
	probe_free(p);
}

static void missing_features_are_named(void **state)
{
	static const struct {
		int tmpl;
		const char *module;
	} cases[] = {
		{ R_LISTEN_ANY4, "modprobe nft_fib_inet (CONFIG_NFT_FIB_INET)" },
		{ R_PICK_NUMGEN, "nft_numgen" },
		{ R_PICK_SLOT, "nft_ct" },
		{ R_TRAFFIC, "nft_objref" },
		{ R_NAT_RESET, "nft_reject_inet" },
		{ R_NAT_DNAT, "modprobe nft_nat" },
		{ R_MASQUERADE, "nft_masq" },
	};
	struct nft_error e = { 0 };
	struct probe *p = NULL;

	assert_int_equal(probe_new(BASE, &p, &e), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t idx = find(probe_batch(p), W_RULE, cases[i].tmpl, NULL);

		assert_int_equal(verdict_for(p, idx, -ENOENT, &e), -ENOENT);
		assert_non_null(strstr(e.msg, "the kernel lacks"));
		assert_non_null(strstr(e.msg, cases[i].module));
	}
	assert_int_equal(verdict_for(p, find(probe_batch(p), W_CHAIN, -1, "nat"), -EOPNOTSUPP,
				     &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "nft_chain_nat"));
	probe_free(p);
}

static void permission_and_no_marker(void **state)
{
	struct nft_error e = { 0 };
	struct nl_acks acks = { 0 };
	struct probe *p = NULL;
	uint8_t buf[64];
	size_t len;

	assert_int_equal(probe_new(BASE, &p, &e), 0);
	len = put_reply(buf, BASE, -EPERM);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(probe_verdict(p, &acks, &e), -EPERM);
	assert_non_null(strstr(e.msg, "CAP_NET_ADMIN"));
	nl_acks_clear(&acks);
	assert_int_equal(probe_verdict(p, &acks, &e), -EPROTO); /* nothing refused at all */
	probe_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(probe_covers_the_layout),
		cmocka_unit_test(missing_features_are_named),
		cmocka_unit_test(permission_and_no_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
