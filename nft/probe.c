/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include "nft/build.h"
#include "nft/layout.h"
#include "nft/probe.h"
#include "nft/rules.h"
#include "nft/sets.h"

struct feature {
	const char *what;
	const char *fix;
};

static const struct feature f_inet = { "nf_tables with inet tables",
	"modprobe nf_tables (CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET)" };
static const struct feature f_natchain = { "nat chains in inet tables",
	"modprobe nft_chain_nat (CONFIG_NFT_NAT; kernel >= 5.2)" };
static const struct feature f_filter = { "filter base chains", "modprobe nf_tables" };
static const struct feature f_counter = { "named counter objects",
	"CONFIG_NF_TABLES on kernel >= 4.10" };
static const struct feature f_vmap = { "maps and verdict maps",
	"CONFIG_NF_TABLES (set backends nft_set_hash)" };
static const struct feature f_objmap = { "object maps (counter by key)",
	"CONFIG_NF_TABLES on kernel >= 4.10" };
static const struct feature f_fib = { "nft_fib_inet",
	"modprobe nft_fib_inet (CONFIG_NFT_FIB_INET)" };
static const struct feature f_numgen = { "nft_numgen and ct mark set",
	"modprobe nft_numgen nft_ct (CONFIG_NFT_NUMGEN, CONFIG_NFT_CT)" };
static const struct feature f_ct = { "nft_ct (ct mark)", "modprobe nft_ct (CONFIG_NFT_CT)" };
static const struct feature f_objref = { "nft_objref (counter name ... map)",
	"modprobe nft_objref (CONFIG_NFT_OBJREF)" };
static const struct feature f_reject = { "nft_reject_inet (reject with tcp reset, and "
	"icmpx port-unreachable for UDP; in prerouting since kernel 5.x)",
	"modprobe nft_reject_inet (CONFIG_NFT_REJECT_INET)" };
static const struct feature f_nat = { "nft_nat (dnat to a map)",
	"modprobe nft_nat (CONFIG_NFT_NAT)" };
static const struct feature f_masq = { "nft_masq (masquerade)",
	"modprobe nft_masq (CONFIG_NFT_MASQ)" };

static const struct feature *rule_feature(enum rule_tmpl t)
{
	switch (t) {
	case R_LISTEN_ANY4:
	case R_LISTEN_ANY6: return &f_fib;
	case R_PICK_NUMGEN: return &f_numgen;
	case R_PICK_SLOT: return &f_ct;
	case R_TRAFFIC: return &f_objref;
	case R_NAT_REJECT:
	case R_NAT_RESET: return &f_reject;
	case R_NAT_DNAT: return &f_nat;
	case R_MASQUERADE: return &f_masq;
	default: return &f_vmap;
	}
}

static const struct feature *msg_feature(const struct nft_batch *nb, const struct batch_msg *m)
{
	const struct chain_list *cl = nb->chains;

	switch (m->what) {
	case W_TABLE_ENSURE:
	case W_TABLE_DELETE:
	case W_TABLE: return &f_inet;
	case W_CHAIN:
		if (!cl || m->index >= cl->n || !cl->v[m->index].type)
			return &f_inet;
		return strcmp(cl->v[m->index].type, "nat") ? &f_filter : &f_natchain;
	case W_OBJ: return &f_counter;
	case W_SET:
	case W_ELEMS:
		if (m->sub < SET__COUNT && (set_defs[m->sub].flags & NFT_SET_OBJECT))
			return &f_objmap;
		return &f_vmap;
	case W_RULE:
		if (cl && m->index < cl->n && m->index2 < cl->v[m->index].n_rules)
			return rule_feature(cl->v[m->index].rules[m->index2].tmpl);
		return &f_inet;
	default: return NULL;
	}
}

struct probe {
	struct plan_endpoint ep[2];
	struct plan_share sh[2];
	struct plan_listener l[2];
	struct plan p;
	struct ruleset *rs;
	struct nft_batch *nb;
};

/* A TCP and a UDP listener, each with an IPv4 and an IPv6 endpoint and a reject share:
 * every set, chain and rule template of the layout and elements of both protocols, in a
 * scratch table that is never committed. */
int probe_new(uint32_t seq_base, struct probe **ret, struct nft_error *e)
{
	struct apply_opts o = { .fail_at = -1, .abort = true };
	struct probe *p = calloc(1, sizeof(*p));
	char table[64];
	int r;

	if (!p)
		return nft_error_set(e, -ENOMEM, "out of memory");
	snprintf(table, sizeof(table), "nftgate-probe-%ld", (long)getpid());
	p->ep[0] = (struct plan_endpoint){ .family = AF_INET, .addr = { 192, 0, 2, 1 }, .port = 1 };
	p->ep[1] = (struct plan_endpoint){ .family = AF_INET6, .addr = { 0x20, 0x01, 0x0d, 0xb8,
						   [15] = 1 }, .port = 1 };
	p->sh[0] = (struct plan_share){ .weight = 1, .backend = "probe", .endpoints = p->ep,
					.n_endpoints = 2 };
	p->sh[1] = (struct plan_share){ .weight = 1, .reject = true, .backend = "probe" };
	p->l[0] = (struct plan_listener){ .key = "probe", .gateway = "probe", .listener = "probe",
					  .protocol = IPPROTO_TCP, .port = 1,
					  .action = PLAN_FORWARD, .route = "probe",
					  .shares = p->sh, .n_shares = 2 };
	p->l[1] = p->l[0];
	p->l[1].key = "probe-udp";
	p->l[1].listener = "probe-udp";
	p->l[1].protocol = IPPROTO_UDP;
	p->p = (struct plan){ .v = p->l, .n = 2 };
	r = layout_build(&p->p, table, true, &p->rs, e);
	if (r >= 0)
		r = batch_build_apply(p->rs, seq_base, &o, &p->nb, e);
	if (r < 0) {
		probe_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

const struct nft_batch *probe_batch(const struct probe *p)
{
	return p->nb;
}

struct probe *probe_free(struct probe *p)
{
	if (!p)
		return NULL;
	batch_free(p->nb);
	ruleset_free(p->rs);
	free(p);
	return NULL;
}

int probe_verdict(const struct probe *p, const struct nl_acks *acks, struct nft_error *e)
{
	const struct nft_batch *nb = p->nb;
	bool marker = false;

	for (size_t i = 0; i < acks->n; i++) {
		const struct nl_reply_err *re = &acks->v[i];
		uint32_t idx = re->seq - nb->seq_base;
		const struct feature *f;
		char what[1200];

		if (idx >= nb->n)
			continue;
		if (idx == 0 && re->err == -EPERM)
			return nft_error_set(e, -EPERM, "permission denied: nftgate needs "
					     "CAP_NET_ADMIN in this network namespace (run it as "
					     "root)");
		if (nb->msgs[idx].what == W_ABORT) {
			marker = true;
			continue;
		}
		f = msg_feature(nb, &nb->msgs[idx]);
		batch_describe(nb, re, what, sizeof(what));
		return nft_error_set(e, re->err ? re->err : -EOPNOTSUPP, "the kernel lacks %s: %s "
				     "(refused %s: %s)", f ? f->what : "a feature nftgate needs",
				     f ? f->fix : "upgrade the kernel", what, strerror(-re->err));
	}
	if (!marker)
		return nft_error_set(e, -EPROTO, "the kernel feature probe got no refusal of its "
				     "final message%s", acks->lost ? " (replies were lost)" : "");
	return 0;
}

int probe_kernel(struct nl_sock *nl, struct nft_error *e)
{
	struct nl_acks acks = { 0 };
	struct probe *p = NULL;
	int r;

	r = probe_new(nl_seq_reserve(nl, 1u << 20), &p, e);
	if (r < 0)
		return r;
	r = nl_send_batch(nl, p->nb->b, p->nb->n, p->nb->seq_base + (uint32_t)p->nb->n - 1,
			  &acks, e);
	if (r >= 0)
		r = probe_verdict(p, &acks, e);
	nl_acks_clear(&acks);
	probe_free(p);
	return r;
}
