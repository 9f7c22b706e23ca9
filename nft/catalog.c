/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Catalogs of a table's contents (catalog.h): from a ruleset, from a snapshot's messages.
 * Both producers write elements in one packed form, so a catalog of what we want and one
 * of what the kernel holds compare byte for byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft/build.h"
#include "nft/catalog.h"
#include "nft/msgcheck.h"

#define ELEM_HDR 6 /* key_len, data_len, jump, ref_len, comment_len (2) */

/* ---- growing text ---- */

struct text {
	char *s;
	size_t len, cap;
};

static int text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 1024;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->s, cap);
		if (!p)
			return -ENOMEM;
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return 0;
}

static int text_str(struct text *t, const char *s)
{
	return text_add(t, s, strlen(s));
}

/* ---- packed elements ---- */

static int arena_reserve(struct cat_set *s, size_t n)
{
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		uint8_t *p;

		while (cap < s->len + n)
			cap *= 2;
		p = realloc(s->arena, cap);
		if (!p)
			return -ENOMEM;
		s->arena = p;
		s->cap = cap;
	}
	if (s->n == s->off_cap) {
		size_t cap = s->off_cap ? s->off_cap * 2 : 256;
		uint32_t *p = reallocarray(s->off, cap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->off = p;
		s->off_cap = cap;
	}
	return 0;
}

/* Appends one element; lengths beyond what our sets use are refused (-EINVAL). */
static int cat_set_add(struct cat_set *s, const void *key, size_t klen, const void *data,
		       size_t dlen, bool jump, const char *ref, const char *comment)
{
	size_t rlen = ref ? strlen(ref) : 0, clen = comment ? strlen(comment) : 0;
	size_t need = ELEM_HDR + klen + dlen + rlen + 1 + clen + 1;
	uint8_t *p;
	int r;

	if (klen > 255 || dlen > 255 || rlen > 255 || clen > 65535)
		return -EINVAL;
	if (s->len + need > UINT32_MAX)
		return -E2BIG;
	r = arena_reserve(s, need);
	if (r < 0)
		return r;
	s->off[s->n++] = (uint32_t)s->len;
	p = s->arena + s->len;
	p[0] = (uint8_t)klen;
	p[1] = (uint8_t)dlen;
	p[2] = jump;
	p[3] = (uint8_t)rlen;
	p[4] = (uint8_t)(clen & 0xff);
	p[5] = (uint8_t)(clen >> 8);
	p += ELEM_HDR;
	memcpy(p, key, klen);
	p += klen;
	if (dlen)
		memcpy(p, data, dlen);
	p += dlen;
	if (rlen)
		memcpy(p, ref, rlen);
	p[rlen] = '\0';
	p += rlen + 1;
	if (clen)
		memcpy(p, comment, clen);
	p[clen] = '\0';
	s->len += need;
	return 0;
}

static void elem_at(const uint8_t *arena, uint32_t off, struct cat_elem *ret)
{
	const uint8_t *p = arena + off;

	ret->key_len = p[0];
	ret->data_len = p[1];
	ret->jump = p[2];
	ret->key = p + ELEM_HDR;
	ret->data = ret->key + ret->key_len;
	ret->ref = (const char *)ret->data + ret->data_len;
	ret->comment = ret->ref + p[3] + 1;
}

void cat_set_get(const struct cat_set *s, size_t i, struct cat_elem *ret)
{
	elem_at(s->arena, s->off[i], ret);
}

int cat_elem_cmp_key(const struct cat_elem *a, const struct cat_elem *b)
{
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);

	if (c)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Packed elements are the same when their bytes are: header (lengths, jump), key, data,
 * reference and comment lie in one run (cat_set_add()). */
bool cat_elem_same(const struct cat_elem *a, const struct cat_elem *b)
{
	const uint8_t *pa = a->key - ELEM_HDR, *pb = b->key - ELEM_HDR;
	size_t body = (size_t)pa[0] + pa[1] + pa[3] + 1 + (pa[4] | (size_t)pa[5] << 8);

	return !memcmp(pa, pb, ELEM_HDR) && !memcmp(pa + ELEM_HDR, pb + ELEM_HDR, body);
}

static int cmp_off(const void *x, const void *y, void *arena)
{
	struct cat_elem a, b;

	elem_at(arena, *(const uint32_t *)x, &a);
	elem_at(arena, *(const uint32_t *)y, &b);
	return cat_elem_cmp_key(&a, &b);
}

/* Sorts by key; two elements with one key (never from the kernel, which refuses them)
 * make the catalog unusable for diffs: -EEXIST. */
static int cat_set_sort(struct cat_set *s)
{
	if (s->n > 1)
		qsort_r(s->off, s->n, sizeof(*s->off), cmp_off, s->arena);
	for (size_t i = 1; i < s->n; i++) {
		struct cat_elem a, b;

		cat_set_get(s, i - 1, &a);
		cat_set_get(s, i, &b);
		if (!cat_elem_cmp_key(&a, &b))
			return -EEXIST;
	}
	return 0;
}

static void cat_set_clear(struct cat_set *s)
{
	free(s->arena);
	free(s->off);
	memset(s, 0, sizeof(*s));
}

/* ---- counters and pick chains ---- */

static int cmp_counter(const void *a, const void *b)
{
	return strcmp(((const struct cat_counter *)a)->name, ((const struct cat_counter *)b)->name);
}

static int cmp_chain(const void *a, const void *b)
{
	return strcmp(((const struct cat_chain *)a)->name, ((const struct cat_chain *)b)->name);
}

static int add_counter(struct catalog *c, size_t *cap, const char *name, const char *comment,
		       uint64_t packets, uint64_t bytes)
{
	struct cat_counter *k;

	if (c->n_counters == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		struct cat_counter *p = reallocarray(c->counters, n, sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->counters = p;
		*cap = n;
	}
	k = &c->counters[c->n_counters];
	k->name = strdup(name);
	k->comment = strdup(comment ? comment : "");
	if (!k->name || !k->comment) {
		free(k->name);
		free(k->comment);
		return -ENOMEM;
	}
	k->packets = packets;
	k->bytes = bytes;
	c->n_counters++;
	return 0;
}

const struct cat_counter *catalog_counter(const struct catalog *c, const char *name)
{
	struct cat_counter key = { .name = (char *)name };

	return bsearch(&key, c->counters, c->n_counters, sizeof(key), cmp_counter);
}

static bool is_pick(const char *chain)
{
	return !strncmp(chain, "pick_", 5);
}

static struct cat_chain *pick_find(struct catalog *c, const char *name)
{
	for (size_t i = 0; i < c->n_picks; i++)
		if (!strcmp(c->picks[i].name, name))
			return &c->picks[i];
	return NULL;
}

/* ---- parsing a snapshot's messages ---- */

struct parse {
	struct catalog *c;
	struct text shape;
	size_t counters_cap;
	size_t picks_cap;
	struct nft_error *e;
};

static int parse_fail(struct parse *p, uint16_t type)
{
	return nft_error_set(p->e, -EINVAL, "cannot parse a %u message of the table", type);
}

/* The comment of type `type` in a userdata blob, or "" (absent, or not a string). The
 * blob is a list of (type, length, value) with one-byte type and length, as libnftnl
 * writes it; it is walked here with every bound checked, because libnftnl 1.2.4's
 * nftnl_udata_parse() reads an attribute's header and value past the blob's end. */
static const char *udata_comment(const void *ud, uint32_t len, uint8_t type)
{
	const uint8_t *p = ud;
	uint32_t off = 0;

	while (ud && off + 2 <= len) {
		uint8_t t = p[off], n = p[off + 1];

		if (off + 2 + n > len)
			return "";
		if (t == type)
			return n && p[off + 2 + n - 1] == '\0' ? (const char *)p + off + 2 : "";
		off += 2u + n;
	}
	return "";
}

static int parse_table(struct parse *p, const struct nlmsghdr *nlh)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char line[64];
	int r = -ENOMEM;

	if (!t)
		return r;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0) {
		r = parse_fail(p, NFT_MSG_NEWTABLE);
		goto out;
	}
	/* NFT_TABLE_F_OWNER and friends change who may edit the table: part of its shape */
	snprintf(line, sizeof(line), "table flags %u\n", nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS));
	r = text_str(&p->shape, line);
out:
	nftnl_table_free(t);
	return r;
}

static int parse_chain(struct parse *p, const struct nlmsghdr *nlh)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	const char *name, *type;
	char line[256];
	int r = -ENOMEM;

	if (!ch)
		return r;
	if (nftnl_chain_nlmsg_parse(nlh, ch) < 0 || !(name = nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME))) {
		r = parse_fail(p, NFT_MSG_NEWCHAIN);
		goto out;
	}
	if (is_pick(name)) {
		struct cat_chain *k;

		if (p->c->n_picks == p->picks_cap) {
			size_t n = p->picks_cap ? p->picks_cap * 2 : 16;
			struct cat_chain *v = reallocarray(p->c->picks, n, sizeof(*v));

			if (!v)
				goto out;
			p->c->picks = v;
			p->picks_cap = n;
		}
		k = &p->c->picks[p->c->n_picks];
		k->name = strdup(name);
		k->rules = strdup("");
		if (!k->name || !k->rules) {
			free(k->name);
			free(k->rules);
			goto out;
		}
		p->c->n_picks++;
		r = 0;
		goto out;
	}
	type = nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE);
	if (type)
		snprintf(line, sizeof(line), "chain %s type %s hook %u prio %d policy %u\n", name,
			 type, nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM),
			 nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO),
			 nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY));
	else
		snprintf(line, sizeof(line), "chain %s\n", name);
	r = text_str(&p->shape, line);
out:
	nftnl_chain_free(ch);
	return r;
}

static int parse_obj(struct parse *p, const struct nlmsghdr *nlh)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	const void *ud;
	uint32_t udlen = 0;
	const char *name;
	int r = -ENOMEM;

	if (!o)
		return r;
	if (nftnl_obj_nlmsg_parse(nlh, o) < 0 || !(name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME))) {
		r = parse_fail(p, NFT_MSG_NEWOBJ);
		goto out;
	}
	if (nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) != NFT_OBJECT_COUNTER) {
		r = nft_error_set(p->e, -EINVAL, "object %s is not a counter", name);
		goto out;
	}
	ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &udlen);
	r = add_counter(p->c, &p->counters_cap, name,
			udata_comment(ud, udlen, NFTNL_UDATA_OBJ_COMMENT),
			nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS),
			nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES));
out:
	nftnl_obj_free(o);
	return r;
}

static int hex_add(struct text *t, const uint8_t *d, size_t n)
{
	char b[3];
	int r = 0;

	for (size_t i = 0; r >= 0 && i < n; i++) {
		snprintf(b, sizeof(b), "%02x", d[i]);
		r = text_add(t, b, 2);
	}
	return r;
}

static int parse_set(struct parse *p, const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();
	const void *ud;
	uint32_t udlen = 0;
	const char *name;
	char line[256];
	int r = -ENOMEM;

	if (!s)
		return r;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0 || !(name = nftnl_set_get_str(s, NFTNL_SET_NAME))) {
		r = parse_fail(p, NFT_MSG_NEWSET);
		goto out;
	}
	/* a verdict map's data length is the kernel's (it reports 16), not ours to set */
	snprintf(line, sizeof(line), "set %s flags %#x key %u/%u data %u/%u obj %u ud ", name,
		 nftnl_set_get_u32(s, NFTNL_SET_FLAGS), nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
		 nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE),
		 nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE) == NFT_DATA_VERDICT ? 0 :
			 nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN),
		 nftnl_set_get_u32(s, NFTNL_SET_OBJ_TYPE));
	ud = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &udlen);
	r = text_str(&p->shape, line);
	if (r >= 0 && ud)
		r = hex_add(&p->shape, ud, udlen);
	if (r >= 0)
		r = text_str(&p->shape, "\n");
out:
	nftnl_set_free(s);
	return r;
}

/* A rule message's expressions as raw attributes, walked beside libnftnl's list of them
 * (nftnl_rule_nlmsg_parse() makes one expression per NFTA_LIST_ELEM, in order, and fails
 * on anything else in the list), for what libnftnl reads back wrong. */
struct raw_exprs {
	const struct nlattr *cur;
	size_t left;
};

static void raw_exprs_init(struct raw_exprs *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	w->cur = NULL;
	w->left = 0;
	/* of an attribute given twice libnftnl keeps the last: so does this walk */
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_RULE_EXPRESSIONS) {
			w->cur = mnl_attr_get_payload(a);
			w->left = mnl_attr_get_payload_len(a);
		}
}

/* The next NFTA_LIST_ELEM, or NULL after the last. */
static const struct nlattr *raw_exprs_next(struct raw_exprs *w)
{
	const struct nlattr *a = w->cur;
	size_t step;

	if (!a || !mnl_attr_ok(a, (int)w->left)) /* left < 64 KiB: a message's attribute */
		return NULL;
	step = MNL_ALIGN(a->nla_len);
	w->left = step < w->left ? w->left - step : 0;
	w->cur = mnl_attr_next(a);
	return a;
}

/* The set name of the objref expression el, no longer than its attribute (the kernel's
 * dump ends it with a NUL, a batch's message does not) and cut at the first byte that
 * cannot be in one of our set names: a message libnftnl parsed and built again carries
 * what it read past the end ("share_reject\x08", the next attribute's length) inside
 * the attribute. Returns its length, or -1 when el holds none. */
static int raw_objref_set(const struct nlattr *el, const char **ret)
{
	static const char ident[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	const struct nlattr *x, *y;
	int n = -1;

	if (!el)
		return -1;
	mnl_attr_for_each_nested(x, el) {
		if (mnl_attr_get_type(x) != NFTA_EXPR_DATA)
			continue;
		mnl_attr_for_each_nested(y, x)
			if (mnl_attr_get_type(y) == NFTA_OBJREF_SET_NAME) {
				const char *p = mnl_attr_get_payload(y);
				uint16_t len = mnl_attr_get_payload_len(y), k = 0;

				while (k < len && p[k] && strchr(ident, p[k]))
					k++;
				*ret = p;
				n = k;
			}
	}
	return n;
}

/* What the kernel fills in when it stores an expression, left out so that the rule we send
 * and the rule a dump returns read the same (verified on 6.18; any other difference only
 * costs a full replace): a lookup's zero flags, and a nat's max registers and range flags,
 * which it derives from the min registers. raw is the expression's own attribute in the
 * message (NULL when not found). */
static int canonical_expr(const struct nftnl_expr *ex, const struct nlattr *raw, char *buf,
			  size_t len)
{
	const char *name = nftnl_expr_get_str(ex, NFTNL_EXPR_NAME);

	if (!strcmp(name, "lookup")) {
		const char *set = nftnl_expr_get_str(ex, NFTNL_EXPR_LOOKUP_SET);

		return snprintf(buf, len, "reg %u set %s dreg %d flags %u",
				nftnl_expr_get_u32(ex, NFTNL_EXPR_LOOKUP_SREG), set ? set : "",
				nftnl_expr_is_set(ex, NFTNL_EXPR_LOOKUP_DREG) ?
					(int)nftnl_expr_get_u32(ex, NFTNL_EXPR_LOOKUP_DREG) : -1,
				nftnl_expr_get_u32(ex, NFTNL_EXPR_LOOKUP_FLAGS));
	}
	if (!strcmp(name, "nat"))
		return snprintf(buf, len, "type %u family %u addr %d proto %d",
				nftnl_expr_get_u32(ex, NFTNL_EXPR_NAT_TYPE),
				nftnl_expr_get_u32(ex, NFTNL_EXPR_NAT_FAMILY),
				nftnl_expr_is_set(ex, NFTNL_EXPR_NAT_REG_ADDR_MIN) ?
					(int)nftnl_expr_get_u32(ex, NFTNL_EXPR_NAT_REG_ADDR_MIN) : -1,
				nftnl_expr_is_set(ex, NFTNL_EXPR_NAT_REG_PROTO_MIN) ?
					(int)nftnl_expr_get_u32(ex, NFTNL_EXPR_NAT_REG_PROTO_MIN) : -1);
	/* libnftnl 1.2.4 writes an objref's set name without its NUL (mnl_attr_put_str) and
	 * reads it back with strdup, so the name it parses from a batch's message (the
	 * committed record, a layout's catalog) runs on past the attribute: into its padding
	 * or the next attribute, whatever bytes are there. The kernel's dump has the NUL. So
	 * the name is read from the message, bounded by its attribute's length: "route_traffic"
	 * read as "route_traffich" made a table nftgate wrote look reshaped (a full replace). */
	if (!strcmp(name, "objref") && nftnl_expr_is_set(ex, NFTNL_EXPR_OBJREF_SET_NAME)) {
		const char *set = "";
		int n = raw_objref_set(raw, &set);

		return snprintf(buf, len, "sreg %u set %.*s",
				nftnl_expr_get_u32(ex, NFTNL_EXPR_OBJREF_SET_SREG),
				n < 0 ? 1 : n, n < 0 ? "?" : set);
	}
	return nftnl_expr_snprintf(buf, len, ex, NFTNL_OUTPUT_DEFAULT, 0);
}

/* The rule's expressions as nftnl prints them (nft --debug=netlink's notation), without
 * handle or position, which differ between a batch and a dump of the same rule. rl was
 * parsed from nlh. */
static int rule_text(const struct nftnl_rule *rl, const struct nlmsghdr *nlh, struct text *t)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(rl);
	struct nftnl_expr *ex;
	struct raw_exprs raw;
	char buf[512];
	int r = 0;

	if (!it)
		return -ENOMEM;
	raw_exprs_init(&raw, nlh);
	while (r >= 0 && (ex = nftnl_expr_iter_next(it))) {
		int n = canonical_expr(ex, raw_exprs_next(&raw), buf, sizeof(buf));

		if (n < 0 || (size_t)n >= sizeof(buf)) {
			r = -E2BIG;
			break;
		}
		r = text_str(t, " [ ");
		if (r >= 0)
			r = text_str(t, nftnl_expr_get_str(ex, NFTNL_EXPR_NAME));
		if (r >= 0)
			r = text_str(t, " ");
		if (r >= 0)
			r = text_add(t, buf, (size_t)n);
		if (r >= 0)
			r = text_str(t, "]");
	}
	nftnl_expr_iter_destroy(it);
	if (r >= 0)
		r = text_str(t, "\n");
	return r;
}

static int parse_rule(struct parse *p, const struct nlmsghdr *nlh)
{
	struct nftnl_rule *rl = nftnl_rule_alloc();
	struct text t = { 0 };
	struct cat_chain *pick;
	const char *chain;
	int r = -ENOMEM;

	if (!rl)
		return r;
	if (nftnl_rule_nlmsg_parse(nlh, rl) < 0 ||
	    !(chain = nftnl_rule_get_str(rl, NFTNL_RULE_CHAIN))) {
		r = parse_fail(p, NFT_MSG_NEWRULE);
		goto out;
	}
	r = text_str(&t, "rule ");
	if (r >= 0)
		r = text_str(&t, chain);
	if (r >= 0)
		r = rule_text(rl, nlh, &t);
	if (r < 0)
		goto out;
	pick = is_pick(chain) ? pick_find(p->c, chain) : NULL;
	if (pick) {
		char *s = NULL;

		if (asprintf(&s, "%s%s", pick->rules, t.s) < 0) {
			r = -ENOMEM;
			goto out;
		}
		free(pick->rules);
		pick->rules = s;
	} else {
		/* a rule in a pick chain we have not seen, or in a fixed chain: shape */
		r = text_str(&p->shape, t.s);
	}
out:
	free(t.s);
	nftnl_rule_free(rl);
	return r;
}

static int set_index_of(const char *name)
{
	for (int i = 0; i < SET__COUNT; i++)
		if (!strcmp(set_defs[i].name, name))
			return i;
	return -1;
}

/* ---- elements, read with libmnl ----
 * A table's elements are the bulk of a dump (hundreds of thousands at 10,000 routes):
 * they are read straight from the attributes, every length checked, with no allocation
 * per element (libnftnl allocates an object per element, and its parser has crashed on
 * malformed input that got past msg_check in fuzzing). */

/* The payload of the only NFTA_DATA_VALUE inside nested attribute a, or NULL. */
static const struct nlattr *data_value(const struct nlattr *a)
{
	const struct nlattr *x, *v = NULL;

	mnl_attr_for_each_nested(x, a) {
		if (mnl_attr_get_type(x) != NFTA_DATA_VALUE || v)
			return NULL;
		v = x;
	}
	return v;
}

/* A verdict "goto <chain>": its chain name, or NULL for any other verdict. */
static const char *goto_chain(const struct nlattr *a)
{
	const struct nlattr *x, *v = NULL, *code = NULL, *chain = NULL;

	mnl_attr_for_each_nested(x, a) {
		if (mnl_attr_get_type(x) != NFTA_DATA_VERDICT || v)
			return NULL;
		v = x;
	}
	if (!v)
		return NULL;
	mnl_attr_for_each_nested(x, v) {
		if (mnl_attr_get_type(x) == NFTA_VERDICT_CODE)
			code = x;
		else if (mnl_attr_get_type(x) == NFTA_VERDICT_CHAIN)
			chain = x;
	}
	if (!code || mnl_attr_validate(code, MNL_TYPE_U32) < 0 ||
	    (int32_t)ntohl(mnl_attr_get_u32(code)) != NFT_GOTO || !chain ||
	    mnl_attr_validate(chain, MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(chain);
}

static int add_parsed_elem(struct cat_set *cs, const struct nlattr *el)
{
	const struct nlattr *x, *key = NULL, *data = NULL, *ud = NULL;
	const char *ref = NULL;
	bool jump = false;

	mnl_attr_for_each_nested(x, el) {
		switch (mnl_attr_get_type(x)) {
		case NFTA_SET_ELEM_KEY:
			key = data_value(x);
			if (!key)
				return -EINVAL;
			break;
		case NFTA_SET_ELEM_DATA:
			data = data_value(x);
			if (!data) {
				ref = goto_chain(x);
				if (!ref)
					return -EINVAL; /* a verdict other than goto: never ours */
				jump = true;
			}
			break;
		case NFTA_SET_ELEM_OBJREF:
			if (mnl_attr_validate(x, MNL_TYPE_NUL_STRING) < 0)
				return -EINVAL;
			ref = mnl_attr_get_str(x);
			break;
		case NFTA_SET_ELEM_USERDATA:
			ud = x;
			break;
		default:
			break; /* flags, timeouts, expressions: not in our elements */
		}
	}
	if (!key || (jump && data))
		return -EINVAL;
	return cat_set_add(cs, mnl_attr_get_payload(key), mnl_attr_get_payload_len(key),
			   data ? mnl_attr_get_payload(data) : NULL,
			   data ? mnl_attr_get_payload_len(data) : 0, jump, ref,
			   ud ? udata_comment(mnl_attr_get_payload(ud), mnl_attr_get_payload_len(ud),
					      NFTNL_UDATA_SET_ELEM_COMMENT) : "");
}

/* One NEWSETELEM: the set it names and its elements. */
static int parse_elems(struct parse *p, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *set = NULL, *list = NULL, *el;
	int r = 0, si;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
			set = a;
		else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	}
	if (!set || mnl_attr_validate(set, MNL_TYPE_NUL_STRING) < 0)
		return parse_fail(p, NFT_MSG_NEWSETELEM);
	si = set_index_of(mnl_attr_get_str(set));
	if (si < 0)
		return nft_error_set(p->e, -EINVAL, "set %s is not one of nftgate's",
				     mnl_attr_get_str(set));
	if (!list)
		return 0;
	mnl_attr_for_each_nested(el, list) {
		r = add_parsed_elem(&p->c->sets[si], el);
		if (r < 0)
			break;
	}
	if (r == -EINVAL)
		nft_error_set(p->e, r, "an element of set %s is not of a form nftgate writes",
			      set_defs[si].name);
	return r;
}

static int parse_msg(struct parse *p, const struct snap_msg *m)
{
	const struct nlmsghdr *nlh = (const void *)m->data;
	const char *why = NULL;

	/* a dump can hold what another program wrote: libnftnl must not see what it cannot
	 * parse safely (nft/msgcheck.h) */
	if (msg_check(nlh, &why) < 0)
		return nft_error_set(p->e, -EINVAL, "the table holds a message nftgate cannot "
				     "read: %s", why ? why : "malformed");
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case NFT_MSG_NEWTABLE: return parse_table(p, nlh);
	case NFT_MSG_NEWCHAIN: return parse_chain(p, nlh);
	case NFT_MSG_NEWOBJ: return parse_obj(p, nlh);
	case NFT_MSG_NEWSET: return parse_set(p, nlh);
	case NFT_MSG_NEWSETELEM: return parse_elems(p, nlh);
	case NFT_MSG_NEWRULE: return parse_rule(p, nlh);
	default: return nft_error_set(p->e, -EINVAL, "unexpected message type %u in the table",
				      NFNL_MSG_TYPE(nlh->nlmsg_type));
	}
}

static struct catalog *catalog_new(const char *table, bool present)
{
	struct catalog *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->present = present;
	c->table = strdup(table ? table : "");
	if (!c->table) {
		free(c);
		return NULL;
	}
	return c;
}

/* Sorts every list; a duplicate key is a table the kernel would not hold. */
static int catalog_finish(struct catalog *c, struct nft_error *e)
{
	int r;

	if (c->n_counters > 1)
		qsort(c->counters, c->n_counters, sizeof(*c->counters), cmp_counter);
	if (c->n_picks > 1)
		qsort(c->picks, c->n_picks, sizeof(*c->picks), cmp_chain);
	for (int i = 0; i < SET__COUNT; i++) {
		r = cat_set_sort(&c->sets[i]);
		if (r < 0)
			return nft_error_set(e, r, "set %s has two elements with one key",
					     set_defs[i].name);
	}
	return 0;
}

int catalog_from_snapshot(const struct snapshot *s, struct catalog **ret, struct nft_error *e)
{
	struct parse p = { .e = e };
	int r = -ENOMEM;

	p.c = catalog_new(s->table, s->present);
	if (!p.c)
		goto out;
	r = text_str(&p.shape, "");
	for (size_t i = 0; r >= 0 && i < s->n; i++)
		r = parse_msg(&p, &s->msgs[i]);
	if (r >= 0)
		r = catalog_finish(p.c, e);
	if (r < 0)
		goto out;
	p.c->shape = p.shape.s;
	p.shape.s = NULL;
	*ret = p.c;
	p.c = NULL;
out:
	if (r == -ENOMEM)
		nft_error_set(e, r, "out of memory reading the table");
	free(p.shape.s);
	catalog_free(p.c);
	return r;
}

/* ---- from a ruleset ---- */

static int rs_elem_cb(const struct set_elem *el, void *data)
{
	struct cat_set *s = data;

	return cat_set_add(s, el->key, el->key_len, el->data, el->data_len, el->chain != NULL,
			   el->chain ? el->chain : el->objref, el->comment);
}

static int rs_counter_cb(const struct counter_obj *o, void *data)
{
	void **x = data;

	return add_counter(x[0], x[1], o->name, o->comment, 0, 0);
}

/* The shape and pick chains go through the same parser as a dump's: a batch of just the
 * table, chains, sets and rules, turned into a snapshot. Elements and counters, the bulk,
 * come straight from the ruleset's own enumerations. */
int catalog_from_ruleset(const struct ruleset *rs, struct catalog **ret)
{
	struct apply_opts o = { .fail_at = -1, .shape_only = true };
	struct nft_error e = { 0 };
	struct nft_batch *nb = NULL;
	struct snapshot *snap = NULL;
	struct catalog *c = NULL;
	size_t cap = 0;
	int r;

	r = batch_build_apply(rs, 0, &o, &nb, &e);
	if (r >= 0)
		r = snapshot_from_batch(nb, 0, &snap);
	if (r >= 0)
		r = catalog_from_snapshot(snap, &c, &e);
	if (r >= 0) {
		void *x[2] = { c, &cap };

		r = counter_foreach(rs, rs_counter_cb, x);
	}
	for (int i = 0; r >= 0 && i < SET__COUNT; i++)
		r = set_foreach(rs, (enum set_index)i, rs_elem_cb, &c->sets[i]);
	if (r >= 0)
		r = catalog_finish(c, &e);
	if (r < 0)
		goto out;
	*ret = c;
	c = NULL;
out:
	batch_free(nb);
	snapshot_free(snap);
	catalog_free(c);
	return r < 0 ? (r == -ENOMEM ? r : -EINVAL) : 0;
}

int catalog_keep_picks(struct catalog *c, const struct catalog *from)
{
	size_t n = c->n_picks;

	for (size_t i = 0; i < from->n_picks; i++) {
		struct cat_chain key = { .name = from->picks[i].name }, *v;

		if (bsearch(&key, c->picks, n, sizeof(key), cmp_chain))
			continue;
		v = reallocarray(c->picks, c->n_picks + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->picks = v;
		v = &c->picks[c->n_picks];
		v->name = strdup(from->picks[i].name);
		v->rules = strdup(from->picks[i].rules);
		if (!v->name || !v->rules) {
			free(v->name);
			free(v->rules);
			return -ENOMEM;
		}
		c->n_picks++;
	}
	if (c->n_picks > 1)
		qsort(c->picks, c->n_picks, sizeof(*c->picks), cmp_chain);
	return 0;
}

struct catalog *catalog_free(struct catalog *c)
{
	if (!c)
		return NULL;
	free(c->table);
	free(c->shape);
	for (size_t i = 0; i < c->n_counters; i++) {
		free(c->counters[i].name);
		free(c->counters[i].comment);
	}
	free(c->counters);
	for (size_t i = 0; i < c->n_picks; i++) {
		free(c->picks[i].name);
		free(c->picks[i].rules);
	}
	free(c->picks);
	for (int i = 0; i < SET__COUNT; i++)
		cat_set_clear(&c->sets[i]);
	free(c);
	return NULL;
}

void cat_elem_describe(enum set_index s, const struct cat_elem *el, char *buf, size_t len)
{
	size_t n;

	n = (size_t)snprintf(buf, len, "%s: key 0x", s < SET__COUNT ? set_defs[s].name : "?");
	for (size_t i = 0; i < el->key_len && n + 3 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%02x", el->key[i]);
	if (el->ref[0] && n < len)
		n += (size_t)snprintf(buf + n, len - n, " -> %s%s", el->jump ? "goto " : "",
				      el->ref);
	if (el->comment[0] && n < len)
		snprintf(buf + n, len - n, " comment \"%s\"", el->comment);
}
