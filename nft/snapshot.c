/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/msgcheck.h"
#include "nft/snapshot.h"

#define TAKE_TRIES 5

struct snapshot *snapshot_new(const char *table, bool present)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->table = strdup(table);
	if (!s->table) {
		free(s);
		return NULL;
	}
	s->present = present;
	s->taken = (int64_t)time(NULL);
	return s;
}

struct snapshot *snapshot_free(struct snapshot *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		free(s->msgs[i].data);
	free(s->msgs);
	free(s->table);
	free(s);
	return NULL;
}

static int add_raw(struct snapshot *s, const void *data, uint32_t len)
{
	uint8_t *copy;

	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *nv = reallocarray(s->msgs, nc, sizeof(*s->msgs));

		if (!nv)
			return -ENOMEM;
		s->msgs = nv;
		s->cap = nc;
	}
	/* A NUL after the message: strings in it are read with strcmp() and strdup(), here and
	 * in libnftnl, before or without msg_check(); an unterminated one stops there. */
	copy = malloc((size_t)len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	copy[len] = '\0';
	s->msgs[s->n].len = len;
	s->msgs[s->n].data = copy;
	s->n++;
	return 0;
}

int snapshot_add_msg(struct snapshot *s, const struct nlmsghdr *nlh)
{
	return add_raw(s, nlh, nlh->nlmsg_len);
}

static uint16_t msg_type(const struct snap_msg *m)
{
	const struct nlmsghdr *nlh = (const void *)m->data;

	return NFNL_MSG_TYPE(nlh->nlmsg_type);
}

/* ---- taking ---- */

struct take_ctx {
	struct snapshot *s;
	const char *table;
	int err;
};

static const char *attr_str(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == type)
			return mnl_attr_get_str(a);
	return NULL;
}

/* Chain dumps ignore the table filter: keep only ours (family inet is asked for). */
static int keep_cb(const struct nlmsghdr *nlh, void *data)
{
	struct take_ctx *c = data;
	uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	uint16_t table_attr = type == NFT_MSG_NEWCHAIN ? NFTA_CHAIN_TABLE : 0;
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);

	if (nfg->nfgen_family != NFPROTO_INET)
		return 0;
	if (table_attr) {
		const char *t = attr_str(nlh, table_attr);

		if (!t || strcmp(t, c->table))
			return 0;
	}
	return snapshot_add_msg(c->s, nlh);
}

static struct nlmsghdr *req_hdr(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags, seq);
}

static int dump_table(struct nl_sock *nl, struct take_ctx *c, bool *present)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!t)
		return -ENOMEM;
	nlh = req_hdr(buf, NFT_MSG_GETTABLE, NLM_F_ACK, nl_seq_reserve(nl, 1));
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, c->table);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	r = nl_request(nl, nlh, keep_cb, c);
	*present = r == 0;
	return r == -ENOENT ? 0 : r;
}

static int dump_kind(struct nl_sock *nl, struct take_ctx *c, uint16_t type, const char *set)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = req_hdr(buf, type, NLM_F_DUMP, nl_seq_reserve(nl, 1));

	switch (type) {
	case NFT_MSG_GETCHAIN:
		break;
	case NFT_MSG_GETOBJ:
		mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, c->table);
		break;
	case NFT_MSG_GETSET:
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, c->table);
		break;
	case NFT_MSG_GETSETELEM:
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, c->table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
		break;
	case NFT_MSG_GETRULE:
		mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, c->table);
		break;
	}
	return nl_request(nl, nlh, keep_cb, c);
}

static int dump_all(struct nl_sock *nl, struct take_ctx *c)
{
	bool present = false;
	size_t first_set, end_set;
	int r;

	r = dump_table(nl, c, &present);
	if (r < 0 || !present)
		return r;
	c->s->present = true;
	r = dump_kind(nl, c, NFT_MSG_GETCHAIN, NULL);
	if (r >= 0)
		r = dump_kind(nl, c, NFT_MSG_GETOBJ, NULL);
	first_set = c->s->n;
	if (r >= 0)
		r = dump_kind(nl, c, NFT_MSG_GETSET, NULL);
	end_set = c->s->n;
	for (size_t i = first_set; r >= 0 && i < end_set; i++) {
		const char *name = attr_str((const void *)c->s->msgs[i].data, NFTA_SET_NAME);

		if (!name)
			return -EPROTO;
		r = dump_kind(nl, c, NFT_MSG_GETSETELEM, name);
	}
	if (r >= 0)
		r = dump_kind(nl, c, NFT_MSG_GETRULE, NULL);
	return r;
}

int snapshot_take(struct nl_sock *nl, const char *table, struct snapshot **ret,
		  uint32_t *ret_genid, struct nft_error *e)
{
	for (int tries = 0; tries < TAKE_TRIES; tries++) {
		struct take_ctx c = { .table = table };
		uint32_t g1, g2;
		int r;

		r = nl_getgen(nl, &g1, e);
		if (r < 0)
			return r;
		c.s = snapshot_new(table, false);
		if (!c.s)
			return nft_error_set(e, -ENOMEM, "out of memory");
		r = dump_all(nl, &c);
		if (r >= 0)
			r = nl_getgen(nl, &g2, NULL);
		if (r == -EINTR || (r >= 0 && g1 != g2)) {
			snapshot_free(c.s);
			continue; /* the ruleset changed under the dump: read it again */
		}
		if (r < 0) {
			snapshot_free(c.s);
			return nft_error_set(e, r, "reading table inet %s: %s", table, strerror(-r));
		}
		c.s->genid = g1;
		r = snapshot_check(c.s, e);
		if (r < 0) {
			snapshot_free(c.s);
			return r;
		}
		*ret = c.s;
		*ret_genid = g1;
		return 0;
	}
	return nft_error_set(e, -EAGAIN, "table inet %s kept changing while nftgate read it "
			     "(%d tries)", table, TAKE_TRIES);
}

/* ---- from the committed record ---- */

/* libnftnl's builder numbers the elements of a NEWSETELEM 1, 2, ...; the kernel ignores the
 * type of those nested attributes, dumps each as NFTA_LIST_ELEM, and libnftnl's parser only
 * accepts that. Give the copy the dump's form. */
static void elems_as_dumped(struct snap_msg *m)
{
	struct nlmsghdr *nlh = (void *)m->data;
	struct nlattr *a, *el;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			mnl_attr_for_each_nested(el, a)
				el->nla_type = (uint16_t)((el->nla_type & ~NLA_TYPE_MASK) |
							  NFTA_LIST_ELEM);
}

int snapshot_from_batch(const struct nft_batch *nb, uint32_t genid, struct snapshot **ret)
{
	struct snapshot *s = snapshot_new(nb->table, true);
	int r = 0;

	if (!s)
		return -ENOMEM;
	/* BEGIN, END, the ensure-NEWTABLE and the DELTABLE are how, not what, it commits */
	for (size_t i = 0; r >= 0 && i < nb->n; i++)
		switch (nb->msgs[i].what) {
		case W_ELEMS:
			r = snapshot_add_msg(s, nb->msgs[i].nlh);
			if (r >= 0)
				elems_as_dumped(&s->msgs[s->n - 1]);
			break;
		case W_TABLE: case W_CHAIN: case W_OBJ: case W_SET: case W_RULE:
			r = snapshot_add_msg(s, nb->msgs[i].nlh);
			break;
		}
	if (r < 0)
		return snapshot_free(s), r;
	s->genid = genid;
	*ret = s;
	return 0;
}

#define GET_CHUNK 1024 /* requests per send: replies of about 1 KiB truesize each queue up */

/* Only the counter objects: the one part of the table that changes without a commit. Not a
 * GETOBJ dump: the kernel answers it in 32 KiB parts and walks the table's object list from
 * its start for each part (quadratic, 0.25 s for 30,000 counters); one GETOBJ per recorded
 * counter, sent GET_CHUNK at a time, is a hash lookup each. */
static int fetch_counters(struct nl_sock *nl, const struct snapshot *rec, struct take_ctx *c)
{
	size_t cap = (size_t)GET_CHUNK * (64 + 2 * 260), len = 0, n = 0;
	char *buf = malloc(cap);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; r >= 0 && i <= rec->n; i++) {
		const char *name = NULL;
		struct nlmsghdr *nlh;

		if (i < rec->n && msg_type(&rec->msgs[i]) == NFT_MSG_NEWOBJ) {
			name = attr_str((const void *)rec->msgs[i].data, NFTA_OBJ_NAME);
			if (!name || strlen(name) > 256) {
				r = -ESTALE;
				break;
			}
			nlh = req_hdr(buf + len, NFT_MSG_GETOBJ, 0, nl_seq_reserve(nl, 1));
			mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, c->table);
			mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
			mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
			len += nlh->nlmsg_len;
			n++;
		}
		if (n && (n == GET_CHUNK || i == rec->n)) {
			r = nl_request_each(nl, buf, len, n, keep_cb, c);
			len = n = 0;
		}
	}
	free(buf);
	return r;
}

/* rec with its NEWOBJ messages replaced by the kernel's answers, which must name the same
 * counters in the same order. */
static int merge_counters(const struct snapshot *rec, const struct snapshot *objs,
			  struct snapshot *out)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < rec->n; i++) {
		const struct nlmsghdr *nlh = (const void *)rec->msgs[i].data;
		const char *want, *got;

		if (msg_type(&rec->msgs[i]) != NFT_MSG_NEWOBJ) {
			r = add_raw(out, rec->msgs[i].data, rec->msgs[i].len);
			continue;
		}
		if (k == objs->n)
			return -ESTALE;
		want = attr_str(nlh, NFTA_OBJ_NAME);
		got = attr_str((const void *)objs->msgs[k].data, NFTA_OBJ_NAME);
		if (!want || !got || strcmp(want, got))
			return -ESTALE;
		r = add_raw(out, objs->msgs[k].data, objs->msgs[k].len);
		k++;
	}
	if (r < 0)
		return r;
	return k == objs->n ? 0 : -ESTALE;
}

int snapshot_take_from_record(struct nl_sock *nl, const struct snapshot *rec,
			      struct snapshot **ret, uint32_t *ret_genid, struct nft_error *e)
{
	struct take_ctx c = { .table = rec->table };
	struct snapshot *out = NULL;
	uint32_t g1, g2;
	int r;

	r = nl_getgen(nl, &g1, e);
	if (r < 0)
		return r;
	if (g1 != rec->genid)
		return -ESTALE;
	c.s = snapshot_new(rec->table, false);
	out = snapshot_new(rec->table, rec->present);
	if (!c.s || !out) {
		r = nft_error_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	r = rec->present ? fetch_counters(nl, rec, &c) : 0;
	if (r >= 0)
		r = nl_getgen(nl, &g2, NULL);
	/* a counter that is not there (ENOENT), a lost reply, a moved generation: whatever it
	 * was, the full dump finds out and says it better */
	if (r == -EPERM || r == -ENOMEM) {
		nft_error_set(e, r, "reading the counters of table inet %s: %s", rec->table,
			      strerror(-r));
		goto out;
	}
	if (r < 0 || g2 != g1) {
		r = -ESTALE;
		goto out;
	}
	r = merge_counters(rec, c.s, out);
	if (r == -ENOMEM)
		nft_error_set(e, r, "out of memory");
	/* As snapshot_take() does: never save what a rollback could not replay. A record that
	 * fails (another nftgate's, say) leaves it to the full dump, which checks again. */
	if (r >= 0) {
		struct nft_error ignored = { 0 };

		r = snapshot_check(out, &ignored);
		if (r < 0 && r != -ENOMEM)
			r = -ESTALE;
		else if (r < 0)
			nft_error_set(e, r, "out of memory");
	}
	if (r < 0)
		goto out;
	out->genid = g1;
	*ret = out;
	*ret_genid = g1;
	out = NULL;
out:
	snapshot_free(c.s);
	snapshot_free(out);
	return r;
}

/* ---- replay ---- */

static const char *type_name(uint16_t t)
{
	switch (t) {
	case NFT_MSG_NEWTABLE: return "table";
	case NFT_MSG_NEWCHAIN: return "chain";
	case NFT_MSG_NEWOBJ: return "object";
	case NFT_MSG_NEWSET: return "set";
	case NFT_MSG_NEWSETELEM: return "elements of set";
	case NFT_MSG_NEWRULE: return "rule in chain";
	default: return "message";
	}
}

void snapshot_describe_msg(const struct snapshot *s, size_t i, char *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	uint16_t t, a = 0;
	const char *name;

	if (i >= s->n) {
		snprintf(buf, len, "snapshot message %zu", i);
		return;
	}
	nlh = (const void *)s->msgs[i].data;
	t = NFNL_MSG_TYPE(nlh->nlmsg_type);
	switch (t) {
	case NFT_MSG_NEWTABLE: a = NFTA_TABLE_NAME; break;
	case NFT_MSG_NEWCHAIN: a = NFTA_CHAIN_NAME; break;
	case NFT_MSG_NEWOBJ: a = NFTA_OBJ_NAME; break;
	case NFT_MSG_NEWSET: a = NFTA_SET_NAME; break;
	case NFT_MSG_NEWSETELEM: a = NFTA_SET_ELEM_LIST_SET; break;
	case NFT_MSG_NEWRULE: a = NFTA_RULE_CHAIN; break;
	}
	name = a ? attr_str(nlh, a) : NULL;
	snprintf(buf, len, "snapshot message %zu (%s %s)", i, type_name(t), name ? name : "?");
}

static int refuse(struct nft_error *e, const struct snapshot *s, size_t i, const char *why)
{
	char what[200];

	snapshot_describe_msg(s, i, what, sizeof(what));
	return nft_error_set(e, -EOPNOTSUPP, "table inet %s cannot be saved for rollback: %s %s",
			     s->table, what, why);
}

/* Each builder parses one dumped message and writes its replay into nb (when not NULL),
 * with everything the kernel assigns (handles, use counts, positions, owner) removed. */
static int replay_table(const struct nlmsghdr *nlh, struct nft_batch *nb, char *buf,
			const char **why)
{
	struct nftnl_table *t = nftnl_table_alloc();
	int r = -ENOMEM;

	if (!t)
		return r;
	r = -EINVAL;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0)
		goto out;
	r = -EOPNOTSUPP;
	if (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_OWNER) {
		*why = "is owned by a process (flags owner): another agent controls it";
		goto out;
	}
	nftnl_table_unset(t, NFTNL_TABLE_HANDLE);
	nftnl_table_unset(t, NFTNL_TABLE_USE);
	nftnl_table_unset(t, NFTNL_TABLE_OWNER);
	if (nb) {
		struct nlmsghdr *out = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET,
							     NLM_F_CREATE, 0);

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, nb->table);
		nftnl_table_nlmsg_build_payload(out, t);
	}
	r = 0;
out:
	nftnl_table_free(t);
	return r;
}

static int replay_chain(const struct nlmsghdr *nlh, struct nft_batch *nb, char *buf,
			const char **why)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	uint32_t flags;
	int r = -ENOMEM;

	if (!c)
		return r;
	r = -EINVAL;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0)
		goto out;
	flags = nftnl_chain_get_u32(c, NFTNL_CHAIN_FLAGS);
	r = -EOPNOTSUPP;
	if (flags & NFT_CHAIN_BINDING) {
		*why = "is a chain binding (anonymous chain): it cannot be re-created by name";
		goto out;
	}
	nftnl_chain_unset(c, NFTNL_CHAIN_HANDLE);
	nftnl_chain_unset(c, NFTNL_CHAIN_USE);
	nftnl_chain_unset(c, NFTNL_CHAIN_ID);
	/* the kernel reports NFT_CHAIN_BASE on base chains; it is implied by the hook */
	nftnl_chain_unset(c, NFTNL_CHAIN_FLAGS);
	if (flags & ~(uint32_t)NFT_CHAIN_BASE)
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FLAGS, flags & ~(uint32_t)NFT_CHAIN_BASE);
	if (nb) {
		struct nlmsghdr *out = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_INET,
							     NLM_F_CREATE, 0);

		nftnl_chain_nlmsg_build_payload(out, c);
	}
	r = 0;
out:
	nftnl_chain_free(c);
	return r;
}

/* libnftnl 1.2.4 does not export nftnl_obj_unset(): re-create the object from what the
 * kernel needs (our table only holds counters; other object types are refused). */
static int replay_obj(const struct nlmsghdr *nlh, struct nft_batch *nb, char *buf,
		      const char **why)
{
	struct nftnl_obj *o = nftnl_obj_alloc(), *out = nftnl_obj_alloc();
	const void *ud;
	uint32_t udlen = 0;
	int r = -ENOMEM;

	if (!o || !out)
		goto out;
	r = -EINVAL;
	/* the copy below sets both strings: libnftnl exit()s on a NULL one */
	if (nftnl_obj_nlmsg_parse(nlh, o) < 0 || !nftnl_obj_is_set(o, NFTNL_OBJ_NAME) ||
	    !nftnl_obj_is_set(o, NFTNL_OBJ_TABLE))
		goto out;
	r = -EOPNOTSUPP;
	if (nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) != NFT_OBJECT_COUNTER) {
		*why = "is a stateful object of a type nftgate does not replay (only counters)";
		goto out;
	}
	nftnl_obj_set_str(out, NFTNL_OBJ_TABLE, nftnl_obj_get_str(o, NFTNL_OBJ_TABLE));
	nftnl_obj_set_str(out, NFTNL_OBJ_NAME, nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
	nftnl_obj_set_u32(out, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_set_u64(out, NFTNL_OBJ_CTR_BYTES, nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES));
	nftnl_obj_set_u64(out, NFTNL_OBJ_CTR_PKTS, nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS));
	ud = nftnl_obj_get_data(o, NFTNL_OBJ_USERDATA, &udlen);
	if (ud && udlen)
		nftnl_obj_set_data(out, NFTNL_OBJ_USERDATA, ud, udlen);
	if (nb) {
		struct nlmsghdr *m = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWOBJ, NFPROTO_INET,
							   NLM_F_CREATE, 0);

		nftnl_obj_nlmsg_build_payload(m, out);
	}
	r = 0;
out:
	if (o)
		nftnl_obj_free(o);
	if (out)
		nftnl_obj_free(out);
	return r;
}

static int replay_set(const struct nlmsghdr *nlh, struct nft_batch *nb, char *buf,
		      const char **why, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();
	int r = -ENOMEM;

	if (!s)
		return r;
	r = -EINVAL;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0)
		goto out;
	r = -EOPNOTSUPP;
	if (nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) {
		*why = "is an anonymous set: its kernel-chosen name cannot be replayed";
		goto out;
	}
	nftnl_set_unset(s, NFTNL_SET_HANDLE);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (nb) {
		struct nlmsghdr *out = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET,
							     NLM_F_CREATE, 0);

		nftnl_set_nlmsg_build_payload(out, s);
	}
	r = 0;
out:
	nftnl_set_free(s);
	return r;
}

static int replay_rule(const struct nlmsghdr *nlh, struct nft_batch *nb, char *buf,
		       const char **why)
{
	struct nftnl_rule *rl = nftnl_rule_alloc();
	int r = -ENOMEM;

	if (!rl)
		return r;
	r = -EINVAL;
	if (nftnl_rule_nlmsg_parse(nlh, rl) < 0)
		goto out;
	nftnl_rule_unset(rl, NFTNL_RULE_HANDLE);
	nftnl_rule_unset(rl, NFTNL_RULE_POSITION);
	nftnl_rule_unset(rl, NFTNL_RULE_ID);
	nftnl_rule_unset(rl, NFTNL_RULE_POSITION_ID);
	if (nb) {
		struct nlmsghdr *out = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET,
							     NLM_F_CREATE | NLM_F_APPEND, 0);

		nftnl_rule_nlmsg_build_payload(out, rl);
	}
	r = 0;
out:
	nftnl_rule_free(rl);
	return r;
}

/* Elements go through the iterator: a dumped message may hold more than one NEWSETELEM can
 * carry once re-encoded. */
static int replay_elems(const struct nlmsghdr *nlh, struct nft_batch *nb, size_t index,
			const char **why)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	int r = -ENOMEM, more;

	if (!s)
		return r;
	r = -EINVAL;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto out;
	r = 0;
	if (!nb)
		goto out;
	it = nftnl_set_elems_iter_create(s);
	if (!it) {
		r = -ENOMEM;
		goto out;
	}
	if (!nftnl_set_elems_iter_cur(it))
		goto out;
	do {
		struct nlmsghdr *out = nftnl_nlmsg_build_hdr(batch_next_buf(nb),
							     NFT_MSG_NEWSETELEM, NFPROTO_INET,
							     NLM_F_CREATE, 0);

		more = nftnl_set_elems_nlmsg_build_payload_iter(out, it);
		if (more < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = batch_commit_msg(nb, out, W_REPLAY, (uint32_t)index);
		if (r < 0)
			goto out;
	} while (more > 0);
out:
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return r;
}

static int replay_one(const struct snapshot *s, size_t i, struct nft_batch *nb, uint32_t *set_id,
		      const char **why)
{
	const struct nlmsghdr *nlh = (const void *)s->msgs[i].data;
	char *buf = nb ? batch_next_buf(nb) : NULL;
	int r;

	if (s->msgs[i].len < sizeof(*nlh) + sizeof(struct nfgenmsg) ||
	    nlh->nlmsg_len != s->msgs[i].len) {
		*why = "is truncated";
		return -EINVAL;
	}
	/* libnftnl exits or reads out of bounds on what msg_check() refuses */
	r = msg_check(nlh, why);
	if (r < 0)
		return r == -EOPNOTSUPP ? r : -EINVAL;
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case NFT_MSG_NEWTABLE: r = replay_table(nlh, nb, buf, why); break;
	case NFT_MSG_NEWCHAIN: r = replay_chain(nlh, nb, buf, why); break;
	case NFT_MSG_NEWOBJ: r = replay_obj(nlh, nb, buf, why); break;
	case NFT_MSG_NEWSET: r = replay_set(nlh, nb, buf, why, ++*set_id); break;
	case NFT_MSG_NEWRULE: r = replay_rule(nlh, nb, buf, why); break;
	case NFT_MSG_NEWSETELEM: return replay_elems(nlh, nb, i, why);
	default:
		*why = "has a message type nftgate does not replay";
		return -EOPNOTSUPP;
	}
	if (r < 0 || !nb)
		return r;
	return batch_commit_msg(nb, (struct nlmsghdr *)buf, W_REPLAY, (uint32_t)i);
}

static int replay_all(const struct snapshot *s, struct nft_batch *nb, struct nft_error *e)
{
	uint32_t set_id = 0;

	if (s->present && (!s->n || msg_type(&s->msgs[0]) != NFT_MSG_NEWTABLE))
		return refuse(e, s, 0, "is not the table: the snapshot does not start with it");
	for (size_t i = 0; i < s->n; i++) {
		const char *why = "could not be parsed";
		int r = replay_one(s, i, nb, &set_id, &why);

		if (r == -ENOMEM)
			return nft_error_set(e, r, "out of memory");
		if (r < 0)
			return refuse(e, s, i, why);
	}
	return 0;
}

int snapshot_check(const struct snapshot *s, struct nft_error *e)
{
	return replay_all(s, NULL, e);
}

int snapshot_add_restore(const struct snapshot *s, struct nft_batch *nb, struct nft_error *e)
{
	return replay_all(s, nb, e);
}

static int cmp_cv(const void *a, const void *b)
{
	return strcmp(((const struct counter_value *)a)->name,
		      ((const struct counter_value *)b)->name);
}

int snapshot_counters(const struct snapshot *s, struct counter_values *ret)
{
	struct counter_values cv = { 0 };

	cv.v = calloc(s->n ? s->n : 1, sizeof(*cv.v));
	if (!cv.v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		struct nftnl_obj *o;
		const char *name;

		if (msg_type(&s->msgs[i]) != NFT_MSG_NEWOBJ)
			continue;
		o = nftnl_obj_alloc();
		if (!o) {
			free(cv.v);
			return -ENOMEM;
		}
		if (msg_check((const void *)s->msgs[i].data, NULL) == 0 &&
		    nftnl_obj_nlmsg_parse((const void *)s->msgs[i].data, o) == 0 &&
		    nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER &&
		    (name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME)) &&
		    strlen(name) < sizeof(cv.v[0].name)) {
			snprintf(cv.v[cv.n].name, sizeof(cv.v[0].name), "%s", name);
			cv.v[cv.n].packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
			cv.v[cv.n].bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
			cv.n++;
		}
		nftnl_obj_free(o);
	}
	if (cv.n > 1)
		qsort(cv.v, cv.n, sizeof(*cv.v), cmp_cv);
	*ret = cv;
	return 0;
}

/* ---- file encoding: big-endian integers, FNV-1a 64 checksum at the end ---- */

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap : 4096;
		uint8_t *np;

		while (nc < w->len + n)
			nc *= 2;
		np = realloc(w->p, nc);
		if (!np) {
			w->oom = true;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put32(struct wbuf *w, uint32_t v)
{
	v = htobe32(v);
	put(w, &v, 4);
}

static void put64(struct wbuf *w, uint64_t v)
{
	v = htobe64(v);
	put(w, &v, 8);
}

int snapshot_encode(const struct snapshot *s, uint8_t **ret_buf, size_t *ret_len)
{
	struct wbuf w = { 0 };

	put(&w, SNAPSHOT_MAGIC, 8);
	put32(&w, SNAPSHOT_VERSION);
	put32(&w, s->present ? 1 : 0);
	put32(&w, s->genid);
	put64(&w, (uint64_t)s->taken);
	put(&w, s->ns.boot, 36);
	put64(&w, s->ns.cookie);
	put32(&w, (uint32_t)strlen(s->table));
	put(&w, s->table, strlen(s->table));
	put32(&w, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++) {
		put32(&w, s->msgs[i].len);
		put(&w, s->msgs[i].data, s->msgs[i].len);
	}
	if (!w.oom)
		put64(&w, fnv64(w.p, w.len));
	if (w.oom) {
		free(w.p);
		return -ENOMEM;
	}
	*ret_buf = w.p;
	*ret_len = w.len;
	return 0;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *take(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint32_t get32(struct rbuf *r)
{
	const uint8_t *p = take(r, 4);
	uint32_t v = 0;

	if (p)
		memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(struct rbuf *r)
{
	const uint8_t *p = take(r, 8);
	uint64_t v = 0;

	if (p)
		memcpy(&v, p, 8);
	return be64toh(v);
}

int snapshot_decode(const uint8_t *buf, size_t len, struct snapshot **ret, struct nft_error *e)
{
	struct rbuf r = { buf, len, 0, false };
	struct snapshot *s = NULL;
	uint32_t version, flags, genid, tlen, n;
	uint64_t sum, taken, cookie = 0;
	const uint8_t *magic, *tname, *boot = NULL;
	const char *why = "";
	char table[257];
	int err = -EINVAL;

	if (len < 8 + 8 || fnv64(buf, len - 8) != (memcpy(&sum, buf + len - 8, 8), be64toh(sum)))
		return nft_error_set(e, -EINVAL, "the snapshot is corrupt (checksum mismatch or "
				     "truncated)");
	r.len = len - 8;
	magic = take(&r, 8);
	if (!magic || memcmp(magic, SNAPSHOT_MAGIC, 8))
		return nft_error_set(e, -EINVAL, "not an nftgate snapshot (bad magic)");
	version = get32(&r);
	if (version != SNAPSHOT_VERSION && version != 1)
		return nft_error_set(e, -EINVAL, "snapshot version %u is not supported (this "
				     "nftgate reads versions 1 to %u)", version, SNAPSHOT_VERSION);
	flags = get32(&r);
	genid = get32(&r);
	taken = get64(&r);
	if (version >= 2) {
		boot = take(&r, 36);
		cookie = get64(&r);
	}
	tlen = get32(&r);
	if (tlen == 0 || tlen > 256)
		return nft_error_set(e, -EINVAL, "the snapshot's table name is %u bytes long", tlen);
	tname = take(&r, tlen);
	n = get32(&r);
	if (r.bad)
		goto bad;
	if (memchr(tname, '\0', tlen)) /* the name would not be what the file says */
		return nft_error_set(e, -EINVAL, "the snapshot's table name holds a NUL byte");
	memcpy(table, tname, tlen);
	table[tlen] = '\0';
	s = snapshot_new(table, flags & 1);
	if (!s)
		return nft_error_set(e, -ENOMEM, "out of memory");
	s->genid = genid;
	s->taken = (int64_t)taken;
	if (boot)
		memcpy(s->ns.boot, boot, 36);
	s->ns.cookie = cookie;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t mlen = get32(&r);
		const uint8_t *m = take(&r, mlen);
		struct nlmsghdr h;

		if (!m || mlen < sizeof(h))
			goto bad;
		memcpy(&h, m, sizeof(h));
		if (h.nlmsg_len != mlen)
			goto bad;
		err = add_raw(s, m, mlen);
		if (err < 0) {
			snapshot_free(s);
			return nft_error_set(e, err, "out of memory");
		}
		/* what libnftnl would exit or overrun on (a damaged file, with its checksum
		 * recomputed) is refused here, before anything parses it */
		if (msg_check((const void *)s->msgs[s->n - 1].data, &why) < 0) {
			snapshot_free(s);
			return nft_error_set(e, -EINVAL, "the snapshot is malformed: message %u %s",
					     i, why);
		}
	}
	if (r.off != r.len)
		goto bad;
	*ret = s;
	return 0;
bad:
	snapshot_free(s);
	return nft_error_set(e, -EINVAL, "the snapshot is malformed at byte %zu", r.off);
}

/* ---- the committed record's file: a small checksummed header, then a snapshot file ---- */

#define RECORD_HEADER (8 + 4 + 36 + 8)

int record_encode(const struct nl_netns_id *id, const struct snapshot *s, uint32_t genid,
		  uint8_t **ret_buf, size_t *ret_len)
{
	struct snapshot as_of = *s; /* shallow: only the generation differs */
	struct wbuf w = { 0 };
	uint8_t *snap = NULL;
	size_t snap_len = 0;
	int r;

	as_of.genid = genid;
	r = snapshot_encode(&as_of, &snap, &snap_len);
	if (r < 0)
		return r;
	put(&w, RECORD_MAGIC, 8);
	put32(&w, RECORD_VERSION);
	put(&w, id->boot, 36);
	put64(&w, id->cookie);
	if (!w.oom)
		put64(&w, fnv64(w.p, w.len));
	put(&w, snap, snap_len);
	free(snap);
	if (w.oom) {
		free(w.p);
		return -ENOMEM;
	}
	*ret_buf = w.p;
	*ret_len = w.len;
	return 0;
}

int record_decode(const uint8_t *buf, size_t len, struct nl_netns_id *ret_id,
		  struct snapshot **ret, struct nft_error *e)
{
	struct rbuf r = { buf, len, 0, false };
	struct nl_netns_id id = { 0 };
	const uint8_t *magic, *boot;
	uint64_t sum;
	int err;

	if (len < RECORD_HEADER + 8)
		return nft_error_set(e, -EINVAL, "the committed record is truncated");
	sum = fnv64(buf, RECORD_HEADER);
	magic = take(&r, 8);
	if (memcmp(magic, RECORD_MAGIC, 8))
		return nft_error_set(e, -EINVAL, "not an nftgate committed record (bad magic)");
	if (get32(&r) != RECORD_VERSION)
		return nft_error_set(e, -EINVAL, "committed record of another version");
	boot = take(&r, 36);
	id.cookie = get64(&r);
	if (r.bad || get64(&r) != sum)
		return nft_error_set(e, -EINVAL, "the committed record is corrupt (header checksum)");
	memcpy(id.boot, boot, 36);
	err = snapshot_decode(buf + r.off, len - r.off, ret, e);
	if (err < 0)
		return err;
	*ret_id = id;
	return 0;
}
