/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nft/sets.h"

/* nft datatype ids (nftables include/datatype.h); a concatenation is (a << 6) | b. */
#define T_IPV4 7u
#define T_IPV6 8u
#define T_PROTO 12u
#define T_SERVICE 13u
#define T_MARK 19u
#define CAT2(a, b) (((a) << 6) | (b))
#define CAT3(a, b, c) ((CAT2(a, b) << 6) | (c))
#define CAT4(a, b, c, d) ((CAT3(a, b, c) << 6) | (d))

/* Byte orders as nft records them: concatenations are "invalid" (0), mark is host (1),
 * inet_service and addresses big endian (2). */
const struct set_def set_defs[SET__COUNT] = {
	/* keyed by the layer-4 protocol too, as `meta l4proto . th dport` loads it: a TCP
	 * and a UDP listener on one port are two keys, one lookup per new flow either way */
	[SET_LISTEN_ANY4] = { "listen_any4", "inet_proto . inet_service : verdict", false,
			      NFT_SET_MAP, CAT2(T_PROTO, T_SERVICE), 8, NFT_DATA_VERDICT, 0, 0, 0,
			      0, true, false },
	[SET_LISTEN_ANY6] = { "listen_any6", "inet_proto . inet_service : verdict", false,
			      NFT_SET_MAP, CAT2(T_PROTO, T_SERVICE), 8, NFT_DATA_VERDICT, 0, 0, 0,
			      0, true, false },
	[SET_LISTEN_ADDR4] = { "listen_addr4", "ipv4_addr . inet_proto . inet_service : verdict",
			       false, NFT_SET_MAP, CAT3(T_IPV4, T_PROTO, T_SERVICE), 12,
			       NFT_DATA_VERDICT, 0, 0, 0, 0, true, false },
	[SET_LISTEN_ADDR6] = { "listen_addr6", "ipv6_addr . inet_proto . inet_service : verdict",
			       false, NFT_SET_MAP, CAT3(T_IPV6, T_PROTO, T_SERVICE), 24,
			       NFT_DATA_VERDICT, 0, 0, 0, 0, true, false },
	[SET_SLOT_ANY4] = { "slot_any4", "inet_proto . inet_service . mark : mark", false,
			    NFT_SET_MAP, CAT3(T_PROTO, T_SERVICE, T_MARK), 12, T_MARK, 4, 0, 0, 1,
			    true, false },
	[SET_SLOT_ANY6] = { "slot_any6", "inet_proto . inet_service . mark : mark", false,
			    NFT_SET_MAP, CAT3(T_PROTO, T_SERVICE, T_MARK), 12, T_MARK, 4, 0, 0, 1,
			    true, false },
	[SET_SLOT_ADDR4] = { "slot_addr4", "ipv4_addr . inet_proto . inet_service . mark : mark",
			     false, NFT_SET_MAP, CAT4(T_IPV4, T_PROTO, T_SERVICE, T_MARK), 16,
			     T_MARK, 4, 0, 0, 1, true, false },
	[SET_SLOT_ADDR6] = { "slot_addr6", "ipv6_addr . inet_proto . inet_service . mark : mark",
			     false, NFT_SET_MAP, CAT4(T_IPV6, T_PROTO, T_SERVICE, T_MARK), 28,
			     T_MARK, 4, 0, 0, 1, true, false },
	[SET_ENDPOINT4] = { "endpoint4", "mark : ipv4_addr . inet_service", false, NFT_SET_MAP,
			    T_MARK, 4, CAT2(T_IPV4, T_SERVICE), 8, 0, 1, 0, false, true },
	[SET_ENDPOINT6] = { "endpoint6", "mark : ipv6_addr . inet_service", false, NFT_SET_MAP,
			    T_MARK, 4, CAT2(T_IPV6, T_SERVICE), 20, 0, 1, 0, false, true },
	[SET_SHARE_CONN] = { "share_conn", "mark : counter", false, NFT_SET_OBJECT, T_MARK, 4, 0,
			     0, NFT_OBJECT_COUNTER, 1, -1, false, false },
	[SET_SHARE_REJECT] = { "share_reject", "mark : counter", false, NFT_SET_OBJECT, T_MARK, 4,
			       0, 0, NFT_OBJECT_COUNTER, 1, -1, false, false },
	[SET_SHARE_TRAFFIC] = { "share_traffic", "mark : counter", false, NFT_SET_OBJECT, T_MARK,
				4, 0, 0, NFT_OBJECT_COUNTER, 1, -1, false, false },
	[SET_SHARE_MASQ] = { "share_masq", "mark", true, 0, T_MARK, 4, 0, 0, 0, 1, -1, false,
			     false },
	[SET_ROUTE_CONN] = { "route_conn", "mark : counter", false, NFT_SET_OBJECT, T_MARK, 4, 0,
			     0, NFT_OBJECT_COUNTER, 1, -1, false, false },
	[SET_ROUTE_REJECT] = { "route_reject", "mark : counter", false, NFT_SET_OBJECT, T_MARK, 4,
			       0, 0, NFT_OBJECT_COUNTER, 1, -1, false, false },
	[SET_ROUTE_TRAFFIC] = { "route_traffic", "mark : counter", false, NFT_SET_OBJECT, T_MARK,
				4, 0, 0, NFT_OBJECT_COUNTER, 1, -1, false, false },
};

const char *const share_counter_kinds[3] = { "conn", "rej", "traffic" };

/* s<id>_<tag>_<kind>: the id for people matching a ct mark to its counters, the tag for
 * telling which share it is from the kernel alone (nft/ids.h reads both back). */
void share_counter_name(const struct lay_share *sh, int kind, char *buf, size_t len)
{
	snprintf(buf, len, "s%05x_%016" PRIx64 "_%s", sh->id, sh->tag, share_counter_kinds[kind]);
}

bool share_has_counter(const struct lay_share *sh, int kind)
{
	return kind == 1 ? sh->rejects : sh->forwards;
}

void route_counter_name(const struct lay_route *rt, int kind, char *buf, size_t len)
{
	snprintf(buf, len, "r%05x_%016" PRIx64 "_%s", rt->id, rt->tag, share_counter_kinds[kind]);
}

bool route_has_counter(const struct lay_route *rt, int kind)
{
	return kind == 1 ? rt->rejects : rt->forwards;
}

int counter_foreach(const struct ruleset *rs, counter_cb cb, void *data)
{
	struct counter_obj c;
	int r;

	for (size_t i = 0; i < rs->n_shares; i++)
		for (int k = 0; k < 3; k++) {
			if (!share_has_counter(&rs->shares[i], k))
				continue;
			share_counter_name(&rs->shares[i], k, c.name, sizeof(c.name));
			c.comment = rs->shares[i].comment;
			c.index = (uint32_t)i;
			c.sub = k;
			r = cb(&c, data);
			if (r)
				return r;
		}
	for (size_t i = 0; i < rs->n_routes; i++)
		for (int k = 0; k < 3; k++) {
			if (!route_has_counter(&rs->routes[i], k))
				continue;
			route_counter_name(&rs->routes[i], k, c.name, sizeof(c.name));
			c.comment = rs->routes[i].comment;
			c.index = (uint32_t)i;
			c.sub = k + 3;
			r = cb(&c, data);
			if (r)
				return r;
		}
	return 0;
}

void pick_chain_name(enum lay_kind k, uint32_t modulus, char *buf, size_t len)
{
	snprintf(buf, len, "pick_%s_%u", lay_kind_name(k), modulus);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* host order: marks, numgen slots (what the kernel compares with) */
}

static int addr_text(char *buf, size_t len, bool v6, const uint8_t *addr)
{
	return inet_ntop(v6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len) ? 0 : -1;
}

static void put_port(uint8_t *p, uint16_t port)
{
	uint16_t be = htons(port);

	memset(p, 0, 4); /* concatenation fields are padded to 4 bytes */
	memcpy(p, &be, 2);
}

/* [address .] protocol . port, as `[ip daddr .] meta l4proto . th dport` loads it (the
 * protocol one byte, padded to 4); returns the length, writes its text to buf. */
static uint32_t put_listen_key(uint8_t *p, const struct lay_entry *en, enum lay_kind k,
			       char *buf, size_t len)
{
	bool v6 = lay_kind_v6(k);
	uint32_t alen = lay_kind_addr(k) ? (v6 ? 16 : 4) : 0;
	char a[INET6_ADDRSTRLEN] = "";

	memcpy(p, en->addr, alen);
	memset(p + alen, 0, 4);
	p[alen] = en->protocol;
	put_port(p + alen + 4, en->port);
	if (alen)
		addr_text(a, sizeof(a), v6, en->addr);
	snprintf(buf, len, "%s%s%s . %u", a, alen ? " . " : "", lay_proto_name(en->protocol),
		 en->port);
	return alen + 8;
}

static void add_comment(struct set_elem *el, const char *comment)
{
	size_t n = strlen(el->text);

	el->comment = comment;
	if (comment)
		snprintf(el->text + n, sizeof(el->text) - n, " comment \"%s\"", comment);
}

static int listen_elems(const struct ruleset *rs, enum lay_kind k, set_elem_cb cb, void *data)
{
	char chain[64];

	for (size_t i = 0; i < rs->n_entries[k]; i++) {
		const struct lay_entry *en = &rs->entries[k][i];
		struct set_elem el = { .listener = en->listener };
		size_t n;
		int r;

		pick_chain_name(k, en->n_slots, chain, sizeof(chain));
		el.key_len = put_listen_key(el.key, en, k, el.text, sizeof(el.text));
		el.chain = chain;
		add_comment(&el, en->comment);
		n = strlen(el.text);
		snprintf(el.text + n, sizeof(el.text) - n, " : goto %s", chain);
		r = cb(&el, data);
		if (r)
			return r;
	}
	return 0;
}

static const struct lay_share *share_of_mark(const struct ruleset *rs,
					     const struct lay_entry *en, uint32_t mark)
{
	for (size_t i = en->first_share; i < en->first_share + en->n_shares; i++)
		if (rs->shares[i].id == mark >> LAYOUT_SHARE_SHIFT)
			return &rs->shares[i];
	return NULL;
}

static int slot_elems(const struct ruleset *rs, enum lay_kind k, set_elem_cb cb, void *data)
{
	char reason[96];

	for (size_t i = 0; i < rs->n_entries[k]; i++) {
		const struct lay_entry *en = &rs->entries[k][i];

		for (uint32_t s = 0; s < en->n_slots; s++) {
			struct set_elem el = { .listener = en->listener };
			size_t n;
			int r;

			el.key_len = put_listen_key(el.key, en, k, el.text, sizeof(el.text));
			put_u32(el.key + el.key_len, s);
			el.key_len += 4;
			put_u32(el.data, en->marks[s]);
			el.data_len = 4;
			el.share = share_of_mark(rs, en, en->marks[s]);
			n = strlen(el.text);
			snprintf(el.text + n, sizeof(el.text) - n, " . 0x%08x", s);
			/* why a backendRef's slots reset lives here, not on its counters, so
			 * that it can change by element updates (a whole listener's reason is
			 * on its listen element) */
			if ((en->marks[s] & LAYOUT_INDEX_MASK) == LAYOUT_REJECT && el.share &&
			    el.share->share) {
				const char *why = el.share->share->reason;

				snprintf(reason, sizeof(reason), "rejects: %s",
					 why ? why : "no endpoint of this family");
				add_comment(&el, reason);
			}
			n = strlen(el.text);
			snprintf(el.text + n, sizeof(el.text) - n, " : 0x%08x", en->marks[s]);
			r = cb(&el, data);
			if (r)
				return r;
		}
	}
	return 0;
}

static int endpoint_elems(const struct ruleset *rs, int f, set_elem_cb cb, void *data)
{
	size_t alen = f ? 16 : 4;
	char a[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < rs->n_endpoints[f]; i++) {
		const struct lay_endpoint *ep = &rs->endpoints[f][i];
		const struct lay_share *sh = &rs->shares[ep->share];
		struct set_elem el = { .listener = sh->listener, .share = sh };
		int r;

		put_u32(el.key, ep->mark);
		el.key_len = 4;
		memcpy(el.data, ep->addr, alen);
		put_port(el.data + alen, ep->port);
		el.data_len = (uint32_t)alen + 4;
		addr_text(a, sizeof(a), f, ep->addr);
		snprintf(el.text, sizeof(el.text), "0x%08x : %s . %u", ep->mark, a, ep->port);
		r = cb(&el, data);
		if (r)
			return r;
	}
	return 0;
}

/* SET_SHARE_MASQ: one element per share that forwards, when masquerading at all. */
static int masq_elems(const struct ruleset *rs, set_elem_cb cb, void *data)
{
	if (!rs->masquerade)
		return 0;
	for (size_t i = 0; i < rs->n_shares; i++) {
		const struct lay_share *sh = &rs->shares[i];
		struct set_elem el = { .listener = sh->listener, .share = sh };
		uint32_t key = sh->id << LAYOUT_SHARE_SHIFT;
		int r;

		if (!sh->forwards)
			continue;
		put_u32(el.key, key);
		el.key_len = 4;
		snprintf(el.text, sizeof(el.text), "0x%08x", key);
		r = cb(&el, data);
		if (r)
			return r;
	}
	return 0;
}

/* share mark -> counter of this kind: the share's own, or (by_route) its route's. A route
 * map has one element per share that has a counter of this kind: its route has one too (a
 * route's flags are the union of its shares'). Shares without a route (listeners rejecting
 * as a whole) have no element there: see the nat chains in rules.c for why that is safe. */
static int counter_elems(const struct ruleset *rs, int kind, bool by_route, set_elem_cb cb,
			 void *data)
{
	char name[32];

	for (size_t i = 0; i < rs->n_shares; i++) {
		const struct lay_share *sh = &rs->shares[i];
		struct set_elem el = { .listener = sh->listener, .share = sh };
		uint32_t key = sh->id << LAYOUT_SHARE_SHIFT;
		int r;

		if ((by_route && sh->route == LAY_NO_ROUTE) || !share_has_counter(sh, kind))
			continue;
		put_u32(el.key, key);
		el.key_len = 4;
		if (by_route)
			route_counter_name(&rs->routes[sh->route], kind, name, sizeof(name));
		else
			share_counter_name(sh, kind, name, sizeof(name));
		el.objref = name;
		snprintf(el.text, sizeof(el.text), "0x%08x : \"%s\"", key, name);
		r = cb(&el, data);
		if (r)
			return r;
	}
	return 0;
}

int set_foreach(const struct ruleset *rs, enum set_index s, set_elem_cb cb, void *data)
{
	switch (s) {
	case SET_LISTEN_ANY4: return listen_elems(rs, LAY_ANY4, cb, data);
	case SET_LISTEN_ANY6: return listen_elems(rs, LAY_ANY6, cb, data);
	case SET_LISTEN_ADDR4: return listen_elems(rs, LAY_ADDR4, cb, data);
	case SET_LISTEN_ADDR6: return listen_elems(rs, LAY_ADDR6, cb, data);
	case SET_SLOT_ANY4: return slot_elems(rs, LAY_ANY4, cb, data);
	case SET_SLOT_ANY6: return slot_elems(rs, LAY_ANY6, cb, data);
	case SET_SLOT_ADDR4: return slot_elems(rs, LAY_ADDR4, cb, data);
	case SET_SLOT_ADDR6: return slot_elems(rs, LAY_ADDR6, cb, data);
	case SET_ENDPOINT4: return endpoint_elems(rs, 0, cb, data);
	case SET_ENDPOINT6: return endpoint_elems(rs, 1, cb, data);
	case SET_SHARE_CONN:
	case SET_SHARE_REJECT:
	case SET_SHARE_TRAFFIC: return counter_elems(rs, s - SET_SHARE_CONN, false, cb, data);
	case SET_SHARE_MASQ: return masq_elems(rs, cb, data);
	case SET_ROUTE_CONN:
	case SET_ROUTE_REJECT:
	case SET_ROUTE_TRAFFIC: return counter_elems(rs, s - SET_ROUTE_CONN, true, cb, data);
	default: return 0;
	}
}

static int count_cb(const struct set_elem *el, void *data)
{
	(*(size_t *)data)++;
	return 0;
}

size_t set_count(const struct ruleset *rs, enum set_index s)
{
	size_t n = 0;

	set_foreach(rs, s, count_cb, &n);
	return n;
}
