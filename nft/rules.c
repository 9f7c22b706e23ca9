/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_ipv4.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "nft/rules.h"
#include "nft/sets.h"

#define CHAIN_MAX (8 + 4 * 8)

static struct chain_def *chain_add(struct chain_list *cl, size_t cap, const char *name,
				   const char *type, uint32_t hook, int32_t prio)
{
	struct chain_def *c;

	if (cl->n == cap)
		return NULL;
	c = &cl->v[cl->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->type = type;
	c->hook = hook;
	c->prio = prio;
	return c;
}

static struct rule_def *rule_add(struct chain_def *c, enum rule_tmpl t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct rule_def *rule_add(struct chain_def *c, enum rule_tmpl t, const char *fmt, ...)
{
	struct rule_def *d = &c->rules[c->n_rules++];
	va_list ap;

	memset(d, 0, sizeof(*d));
	d->tmpl = t;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
	return d;
}

static const char *const slot_key_text[LAY__KINDS] = {
	"meta l4proto . th dport", "meta l4proto . th dport",
	"ip daddr . meta l4proto . th dport", "ip6 daddr . meta l4proto . th dport",
};

static void pick_chain(struct chain_def *c, enum lay_kind k, uint32_t m)
{
	struct rule_def *d;
	bool v6 = lay_kind_v6(k);

	d = rule_add(c, R_PICK_NUMGEN, "ct mark set numgen random mod %u", m);
	d->modulus = m;
	d = rule_add(c, R_PICK_SLOT, "ct mark set %s . ct mark map @slot_%s", slot_key_text[k],
		     lay_kind_name(k));
	d->kind = k;
	d = rule_add(c, R_PICK_GOTO, "goto nat%d", v6 ? 6 : 4);
	d->v6 = v6;
}

/* How a flow of each protocol is turned away: a TCP reset, or for UDP an ICMP (ICMPv6)
 * port-unreachable (inet's `reject` with no argument, icmpx, which nft prints back as
 * `reject`). */
static const char *reject_text(uint8_t protocol)
{
	return protocol == IPPROTO_UDP ? "reject" : "reject with tcp reset";
}

/* Each counting rule counts the share, then its route, both from the share part of the mark
 * (one more objref lookup on the same register value). A listener that rejects as a whole
 * has no route, so its mark misses route_reject: the miss ends the reject rule after the
 * share counter counted it, the dnat rule misses share_conn, and the chain's last rules
 * turn it away. Every rule matches its protocol first (nft needs one before a dnat with a
 * port, and each protocol is turned away its own way): one rule per protocol, TCP's then
 * UDP's, since an anonymous set of protocols would be one more set per rule. */
static void nat_chain(struct chain_def *c, bool v6)
{
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
	struct rule_def *d;

	for (int i = 0; i < 2; i++) {
		d = rule_add(c, R_NAT_REJECT, "meta l4proto %s ct mark & 0x%08x == 0x%08x counter "
			     "name ct mark & 0x%08x map @share_reject counter name ct mark & "
			     "0x%08x map @route_reject %s", lay_proto_name(protos[i]),
			     LAYOUT_INDEX_MASK, LAYOUT_REJECT, LAYOUT_SHARE_MASK, LAYOUT_SHARE_MASK,
			     reject_text(protos[i]));
		d->v6 = v6;
		d->protocol = protos[i];
	}
	for (int i = 0; i < 2; i++) {
		d = rule_add(c, R_NAT_DNAT, "meta l4proto %s counter name ct mark & 0x%08x map "
			     "@share_conn counter name ct mark & 0x%08x map @route_conn dnat %s to "
			     "ct mark map @endpoint%d", lay_proto_name(protos[i]), LAYOUT_SHARE_MASK,
			     LAYOUT_SHARE_MASK, v6 ? "ip6" : "ip", v6 ? 6 : 4);
		d->v6 = v6;
		d->protocol = protos[i];
	}
	/* Turns away the marks without a route (above) and, should a mark have no endpoint
	 * element, keeps the flow from reaching a local process on the listener's port. */
	for (int i = 0; i < 2; i++) {
		d = rule_add(c, R_NAT_RESET, "meta l4proto %s %s", lay_proto_name(protos[i]),
			     reject_text(protos[i]));
		d->v6 = v6;
		d->protocol = protos[i];
	}
}

/* Packets of other connections miss share_traffic and stop there: only ours pay for the
 * route lookup. */
static void traffic_rule(struct chain_def *c)
{
	rule_add(c, R_TRAFFIC, "counter name ct mark & 0x%08x map @share_traffic counter name "
		 "ct mark & 0x%08x map @route_traffic", LAYOUT_SHARE_MASK, LAYOUT_SHARE_MASK);
}

int chain_list_build(const struct ruleset *rs, struct chain_list *ret)
{
	size_t cap = CHAIN_MAX;
	struct chain_list cl = { 0 };
	struct chain_def *c;
	char name[32];

	for (int k = 0; k < LAY__KINDS; k++)
		cap += rs->n_moduli[k];
	cl.v = calloc(cap, sizeof(*cl.v));
	if (!cl.v)
		return -ENOMEM;
	/* One rule per protocol: `meta l4proto { tcp, udp }` would be an anonymous set. */
	c = chain_add(&cl, cap, "prerouting", "nat", NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST);
	rule_add(c, R_JUMP_LISTENERS, "meta l4proto tcp jump listeners")->protocol = IPPROTO_TCP;
	rule_add(c, R_JUMP_LISTENERS, "meta l4proto udp jump listeners")->protocol = IPPROTO_UDP;
	c = chain_add(&cl, cap, "output", "nat", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST);
	rule_add(c, R_JUMP_LISTENERS, "meta l4proto tcp jump listeners")->protocol = IPPROTO_TCP;
	rule_add(c, R_JUMP_LISTENERS, "meta l4proto udp jump listeners")->protocol = IPPROTO_UDP;
	if (rs->masquerade) {
		c = chain_add(&cl, cap, "postrouting", "nat", NF_INET_POST_ROUTING,
			      NF_IP_PRI_NAT_SRC);
		rule_add(c, R_MASQUERADE, "ct mark & 0x%08x @share_masq masquerade",
			 LAYOUT_SHARE_MASK);
	}
	/* After DNAT (dstnat + 10) so the first packet already carries its share's mark. */
	c = chain_add(&cl, cap, "traffic_in", "filter", NF_INET_PRE_ROUTING,
		      NF_IP_PRI_NAT_DST + 10);
	traffic_rule(c);
	c = chain_add(&cl, cap, "traffic_out", "filter", NF_INET_LOCAL_OUT,
		      NF_IP_PRI_NAT_DST + 10);
	traffic_rule(c);
	c = chain_add(&cl, cap, "listeners", NULL, 0, 0);
	/* spec.addresses listeners first: a specific address wins over "every address". */
	rule_add(c, R_LISTEN_ADDR4, "ip daddr . meta l4proto . th dport vmap @listen_addr4");
	rule_add(c, R_LISTEN_ADDR6, "ip6 daddr . meta l4proto . th dport vmap @listen_addr6");
	rule_add(c, R_LISTEN_ANY4, "ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . "
		 "th dport vmap @listen_any4");
	rule_add(c, R_LISTEN_ANY6, "ip6 daddr != ::1 fib daddr type local meta l4proto . th "
		 "dport vmap @listen_any6");
	for (int k = 0; k < LAY__KINDS; k++)
		for (size_t i = 0; i < rs->n_moduli[k]; i++) {
			pick_chain_name((enum lay_kind)k, rs->moduli[k][i], name, sizeof(name));
			c = chain_add(&cl, cap, name, NULL, 0, 0);
			pick_chain(c, (enum lay_kind)k, rs->moduli[k][i]);
		}
	nat_chain(chain_add(&cl, cap, "nat4", NULL, 0, 0), false);
	nat_chain(chain_add(&cl, cap, "nat6", NULL, 0, 0), true);
	*ret = cl;
	return 0;
}

void chain_list_clear(struct chain_list *cl)
{
	free(cl->v);
	cl->v = NULL;
	cl->n = 0;
}

/* ---- bytecode ---- */

/* nft's register allocation: a field at 4-byte unit u of a concatenation uses the 16-byte
 * register when aligned to one, else the 32-bit register (reg 9 = NFT_REG32_01). */
static uint32_t reg_unit(uint32_t u)
{
	return u % 4 ? NFT_REG32_00 + u : NFT_REG_1 + u / 4;
}

struct ex {
	struct nftnl_rule *r;
	int err;
};

static struct nftnl_expr *ex_new(struct ex *x, const char *name)
{
	struct nftnl_expr *e = x->err ? NULL : nftnl_expr_alloc(name);

	if (!e && !x->err)
		x->err = -ENOMEM;
	return e;
}

static void ex_add(struct ex *x, struct nftnl_expr *e)
{
	if (e)
		nftnl_rule_add_expr(x->r, e);
}

static void meta_load(struct ex *x, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = ex_new(x, "meta");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	ex_add(x, e);
}

static void cmp(struct ex *x, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = ex_new(x, "cmp");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	ex_add(x, e);
}

static void cmp_u8(struct ex *x, uint8_t v)
{
	cmp(x, NFT_CMP_EQ, &v, 1);
}

static void payload(struct ex *x, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = ex_new(x, "payload");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	ex_add(x, e);
}

static void ct_load(struct ex *x, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = ex_new(x, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	ex_add(x, e);
}

static void ct_set_mark(struct ex *x)
{
	struct nftnl_expr *e = ex_new(x, "ct");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
	ex_add(x, e);
}

/* reg 1 = ct mark & mask (nft writes the xor 0 explicitly). */
static void ct_mark_masked(struct ex *x, uint32_t mask)
{
	struct nftnl_expr *e;
	uint32_t zero = 0;

	ct_load(x, NFT_CT_MARK, NFT_REG_1);
	e = ex_new(x, "bitwise");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	ex_add(x, e);
}

static void lookup(struct ex *x, enum set_index s, const uint32_t *ids, int dreg)
{
	struct nftnl_expr *e = ex_new(x, "lookup");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_defs[s].name);
	if (ids && ids[s])
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, ids[s]);
	ex_add(x, e);
}

static void objref_map(struct ex *x, enum set_index s, const uint32_t *ids)
{
	struct nftnl_expr *e = ex_new(x, "objref");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_SET_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_SET_NAME, set_defs[s].name);
	if (ids && ids[s])
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_SET_ID, ids[s]);
	ex_add(x, e);
}

/* counter name ct mark & SHARE map @share_X counter name ct mark & SHARE map @route_X:
 * nft 1.0.6 reloads and masks the mark for the second statement, and so do we. */
static void count_share_route(struct ex *x, enum set_index share, enum set_index route,
			      const uint32_t *ids)
{
	ct_mark_masked(x, LAYOUT_SHARE_MASK);
	objref_map(x, share, ids);
	ct_mark_masked(x, LAYOUT_SHARE_MASK);
	objref_map(x, route, ids);
}

static void verdict(struct ex *x, int code, const char *chain)
{
	struct nftnl_expr *e = ex_new(x, "immediate");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	ex_add(x, e);
}

/* reject with tcp reset | reject (icmpx port-unreachable, for UDP) */
static void reject(struct ex *x, uint8_t protocol)
{
	struct nftnl_expr *e = ex_new(x, "reject");
	bool udp = protocol == IPPROTO_UDP;

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, udp ? NFT_REJECT_ICMPX_UNREACH :
							    NFT_REJECT_TCP_RST);
	/* u8: see nftables-netlink.md §1 */
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, udp ? NFT_REJECT_ICMPX_PORT_UNREACH : 0);
	ex_add(x, e);
}

static void l4proto_is(struct ex *x, uint8_t protocol)
{
	meta_load(x, NFT_META_L4PROTO, NFT_REG_1);
	cmp_u8(x, protocol);
}

static void nfproto(struct ex *x, bool v6)
{
	meta_load(x, NFT_META_NFPROTO, NFT_REG_1);
	cmp_u8(x, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
}

static void daddr(struct ex *x, bool v6, uint32_t dreg)
{
	payload(x, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, v6 ? 16 : 4, dreg);
}

static void dport(struct ex *x, uint32_t dreg)
{
	payload(x, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, dreg);
}

/* ip daddr != 127.0.0.0/8 | ip6 daddr != ::1 ; fib daddr type local */
static void local_not_loopback(struct ex *x, bool v6)
{
	struct nftnl_expr *e;
	uint32_t local = RTN_LOCAL;

	nfproto(x, v6);
	if (v6) {
		uint8_t lo[16] = { [15] = 1 };

		daddr(x, true, NFT_REG_1);
		cmp(x, NFT_CMP_NEQ, lo, 16);
	} else {
		uint8_t net = 127;

		/* nft turns a /8 prefix into a 1-byte load and compare */
		payload(x, NFT_PAYLOAD_NETWORK_HEADER, 16, 1, NFT_REG_1);
		cmp(x, NFT_CMP_NEQ, &net, 1);
	}
	e = ex_new(x, "fib");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	ex_add(x, e);
	cmp(x, NFT_CMP_EQ, &local, 4);
}

static void numgen(struct ex *x, uint32_t modulus)
{
	struct nftnl_expr *e = ex_new(x, "numgen");

	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
	ex_add(x, e);
}

/* [ip daddr .] meta l4proto . th dport into the registers from reg 1 on (no protocol
 * dependency: the key holds the protocol); returns the 4-byte unit after it. */
static uint32_t listen_key(struct ex *x, enum lay_kind k)
{
	uint32_t u = 0;

	if (lay_kind_addr(k)) {
		daddr(x, lay_kind_v6(k), NFT_REG_1);
		u = lay_kind_v6(k) ? 4 : 1;
	}
	meta_load(x, NFT_META_L4PROTO, reg_unit(u));
	dport(x, reg_unit(u + 1));
	return u + 2;
}

static void pick_slot(struct ex *x, enum lay_kind k, const uint32_t *ids)
{
	static const enum set_index slot_set[LAY__KINDS] = {
		SET_SLOT_ANY4, SET_SLOT_ANY6, SET_SLOT_ADDR4, SET_SLOT_ADDR6,
	};
	uint32_t u;

	if (lay_kind_addr(k))
		nfproto(x, lay_kind_v6(k));
	u = listen_key(x, k);
	ct_load(x, NFT_CT_MARK, reg_unit(u));
	lookup(x, slot_set[k], ids, NFT_REG_1);
	ct_set_mark(x);
}

static void listen_addr(struct ex *x, bool v6, const uint32_t *ids)
{
	nfproto(x, v6);
	listen_key(x, v6 ? LAY_ADDR6 : LAY_ADDR4);
	lookup(x, v6 ? SET_LISTEN_ADDR6 : SET_LISTEN_ADDR4, ids, NFT_REG_VERDICT);
}

static void listen_any(struct ex *x, bool v6, const uint32_t *ids)
{
	local_not_loopback(x, v6);
	listen_key(x, v6 ? LAY_ANY6 : LAY_ANY4);
	lookup(x, v6 ? SET_LISTEN_ANY6 : SET_LISTEN_ANY4, ids, NFT_REG_VERDICT);
}

static void nat_dnat(struct ex *x, bool v6, uint8_t protocol, const uint32_t *ids)
{
	struct nftnl_expr *e;

	l4proto_is(x, protocol);
	count_share_route(x, SET_SHARE_CONN, SET_ROUTE_CONN, ids);
	ct_load(x, NFT_CT_MARK, NFT_REG_1);
	lookup(x, v6 ? SET_ENDPOINT6 : SET_ENDPOINT4, ids, NFT_REG_1);
	e = ex_new(x, "nat");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	/* the port follows the address in the map's data: reg 9 after 4 bytes, reg 2 after 16 */
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_unit(v6 ? 4 : 1));
	ex_add(x, e);
}

int rule_build_exprs(struct nftnl_rule *r, const struct rule_def *d, const uint32_t *ids)
{
	struct ex x = { .r = r };
	uint32_t m;

	switch (d->tmpl) {
	case R_JUMP_LISTENERS:
		l4proto_is(&x, d->protocol);
		verdict(&x, NFT_JUMP, "listeners");
		break;
	case R_MASQUERADE:
		ct_mark_masked(&x, LAYOUT_SHARE_MASK);
		lookup(&x, SET_SHARE_MASQ, ids, -1);
		ex_add(&x, ex_new(&x, "masq"));
		break;
	case R_TRAFFIC:
		count_share_route(&x, SET_SHARE_TRAFFIC, SET_ROUTE_TRAFFIC, ids);
		break;
	case R_LISTEN_ADDR4: listen_addr(&x, false, ids); break;
	case R_LISTEN_ADDR6: listen_addr(&x, true, ids); break;
	case R_LISTEN_ANY4: listen_any(&x, false, ids); break;
	case R_LISTEN_ANY6: listen_any(&x, true, ids); break;
	case R_PICK_NUMGEN:
		numgen(&x, d->modulus);
		ct_set_mark(&x);
		break;
	case R_PICK_SLOT: pick_slot(&x, d->kind, ids); break;
	case R_PICK_GOTO: verdict(&x, NFT_GOTO, d->v6 ? "nat6" : "nat4"); break;
	case R_NAT_REJECT:
		l4proto_is(&x, d->protocol);
		ct_mark_masked(&x, LAYOUT_INDEX_MASK);
		m = LAYOUT_REJECT;
		cmp(&x, NFT_CMP_EQ, &m, 4);
		count_share_route(&x, SET_SHARE_REJECT, SET_ROUTE_REJECT, ids);
		reject(&x, d->protocol);
		break;
	case R_NAT_DNAT: nat_dnat(&x, d->v6, d->protocol, ids); break;
	case R_NAT_RESET:
		l4proto_is(&x, d->protocol);
		reject(&x, d->protocol);
		break;
	}
	return x.err;
}
