/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/build.h"
#include "nft/rules.h"
#include "nft/sets.h"

#define BATCH_PAGE (2 * 1024 * 1024)
#define USERDATA_MAX 256 /* NFT_USERDATA_MAXLEN; libnftnl 1.2.4 checks the total size */

/* nft's userdata ids for sets (libnftnl udata.h) and its expression type for a concat. */
#define EXPR_CONCAT_TYPE 13

void counter_values_clear(struct counter_values *cv)
{
	free(cv->v);
	cv->v = NULL;
	cv->n = 0;
}

/* ---- the batch and its side table ---- */

static uint32_t page_overrun(void)
{
	return UINT16_MAX + (uint32_t)getpagesize();
}

/* libmnl 1.0.4 does not zero attribute padding: every page is zeroed before messages are
 * written into it, so that the same ruleset always gives the same bytes (golden tests,
 * snapshots, the committed record). A page after the first starts with a copy of the
 * message that overflowed the one before (nftnl_batch_update()): only the rest of it is
 * zeroed. Pages are malloc()ed, so without this the padding of every message on them held
 * whatever the heap held. */
static void zero_rest_of_page(struct nft_batch *nb)
{
	memset(nftnl_batch_buffer(nb->b), 0,
	       BATCH_PAGE + page_overrun() - nftnl_batch_buffer_len(nb->b));
}

static int msg_push(struct nft_batch *nb, struct nlmsghdr *nlh, enum batch_what what,
		    uint8_t sub, uint32_t index, uint32_t index2)
{
	struct batch_msg *m;
	char *next;

	if (nb->n == nb->cap) {
		size_t nc = nb->cap ? nb->cap * 2 : 256;
		void *nv = reallocarray(nb->msgs, nc, sizeof(*nb->msgs));

		if (!nv)
			return -ENOMEM;
		nb->msgs = nv;
		nb->cap = nc;
	}
	m = &nb->msgs[nb->n++];
	m->what = (uint8_t)what;
	m->sub = sub;
	m->index = index;
	m->index2 = index2;
	m->nlh = nlh;
	nb->bytes += nlh->nlmsg_len;
	/* a page is never moved: nlh stays valid until the batch is freed (when it overflowed
	 * its page, a copy of it on the next page is what is sent) */
	next = (char *)nlh + nlh->nlmsg_len;
	if (nftnl_batch_update(nb->b) < 0)
		return -ENOMEM; /* no next page: nothing more may be written */
	if (nftnl_batch_buffer(nb->b) != next)
		zero_rest_of_page(nb);
	return 0;
}

static uint32_t next_seq(const struct nft_batch *nb)
{
	return nb->seq_base + (uint32_t)nb->n;
}

static struct nlmsghdr *hdr(struct nft_batch *nb, uint16_t type, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(nb->b), type, NFPROTO_INET,
				     flags | NLM_F_ACK, next_seq(nb));
}

static int add_refused_message(struct nft_batch *nb, enum batch_what what);

/* A fault a test asked for (apply_opts.fail_at) goes in at the requested index. */
static int before_msg(struct nft_batch *nb)
{
	if (nb->fail_at >= 0 && (size_t)nb->fail_at == nb->n) {
		nb->fail_at = -1;
		return add_refused_message(nb, W_FAULT);
	}
	return 0;
}

void *batch_next_buf(struct nft_batch *nb)
{
	return nftnl_batch_buffer(nb->b);
}

int batch_commit_msg(struct nft_batch *nb, struct nlmsghdr *nlh, enum batch_what what,
		     uint32_t index)
{
	nlh->nlmsg_seq = next_seq(nb);
	nlh->nlmsg_flags |= NLM_F_ACK;
	return msg_push(nb, nlh, what, 0, index, 0);
}

int batch_start(const char *table, uint32_t seq_base, const uint32_t *genid,
		struct nft_batch **ret)
{
	struct nft_batch *nb = calloc(1, sizeof(*nb));
	struct nlmsghdr *nlh;
	int r = -ENOMEM;

	if (!nb)
		return -ENOMEM;
	nb->fail_at = -1;
	nb->seq_base = seq_base;
	snprintf(nb->table, sizeof(nb->table), "%s", table);
	/* The overrun must hold the largest single message: an element list of up to 64 KiB. */
	nb->b = nftnl_batch_alloc(BATCH_PAGE, page_overrun());
	if (!nb->b)
		goto fail;
	zero_rest_of_page(nb);
	nlh = nftnl_batch_begin(nftnl_batch_buffer(nb->b), seq_base);
	nlh->nlmsg_flags |= NLM_F_ACK; /* ACKed by kernels >= 6.10 */
	if (genid) {
		struct nlattr *a = (struct nlattr *)((char *)nlh + nlh->nlmsg_len);

		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*genid));
		nb->fence = mnl_attr_get_payload(a);
	}
	r = msg_push(nb, nlh, W_BEGIN, 0, 0, 0);
	if (r < 0)
		goto fail;
	*ret = nb;
	return 0;
fail:
	batch_free(nb);
	return r;
}

int batch_finish(struct nft_batch *nb)
{
	struct nlmsghdr *nlh;
	int r = before_msg(nb);

	if (r >= 0 && nb->abort)
		r = add_refused_message(nb, W_ABORT);
	if (r < 0)
		return r;
	nlh = nftnl_batch_end(nftnl_batch_buffer(nb->b), next_seq(nb));
	nlh->nlmsg_flags |= NLM_F_ACK; /* ACKed only after a successful commit (>= 6.10) */
	return msg_push(nb, nlh, W_END, 0, 0, 0);
}

void batch_set_fence(struct nft_batch *nb, uint32_t genid)
{
	uint32_t be = htonl(genid);

	memcpy(nb->fence, &be, sizeof(be)); /* the page is only byte-aligned for us */
}

struct nft_batch *batch_free(struct nft_batch *nb)
{
	if (!nb)
		return NULL;
	if (nb->b)
		nftnl_batch_free(nb->b);
	if (nb->chains) {
		chain_list_clear(nb->chains);
		free(nb->chains);
	}
	free(nb->msgs);
	free(nb);
	return NULL;
}

/* ---- table ---- */

static int add_table_msg(struct nft_batch *nb, uint16_t type, bool with_flags,
			 enum batch_what what)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!t)
		return -ENOMEM;
	r = before_msg(nb);
	if (r < 0)
		goto out;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, nb->table);
	/* flags 0: no NFT_TABLE_F_OWNER, so the table (and forwarding) outlives the agent;
	 * no DORMANT. Set only on the final NEWTABLE: the ensure step must not edit flags. */
	if (with_flags)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	nlh = hdr(nb, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	r = msg_push(nb, nlh, what, 0, 0, 0);
out:
	nftnl_table_free(t);
	return r;
}

int batch_add_delete_table(struct nft_batch *nb)
{
	int r = add_table_msg(nb, NFT_MSG_NEWTABLE, false, W_TABLE_ENSURE);

	if (r >= 0)
		r = add_table_msg(nb, NFT_MSG_DELTABLE, false, W_TABLE_DELETE);
	return r;
}

/* ---- chains ---- */

static int add_chain(struct nft_batch *nb, const struct chain_def *c, uint32_t index)
{
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!ch)
		return -ENOMEM;
	r = before_msg(nb);
	if (r < 0)
		goto out;
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, nb->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	if (c->type) {
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c->type);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = hdr(nb, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	r = msg_push(nb, nlh, W_CHAIN, 0, index, 0);
out:
	nftnl_chain_free(ch);
	return r;
}

/* ---- counters ---- */

static const struct counter_value *carry_find(const struct counter_values *cv, const char *name)
{
	size_t lo = 0, hi = cv ? cv->n : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, cv->v[mid].name);

		if (!c)
			return &cv->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int set_comment(void (*setter)(void *, uint16_t, const void *, uint32_t), void *obj,
		       uint16_t attr, uint8_t type, const char *comment)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(USERDATA_MAX);

	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_strz(ud, type, comment)) {
		nftnl_udata_buf_free(ud);
		return -E2BIG;
	}
	setter(obj, attr, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return 0;
}

static void obj_set_data(void *o, uint16_t a, const void *d, uint32_t l)
{
	nftnl_obj_set_data(o, a, d, l);
}

static void elem_set_data(void *o, uint16_t a, const void *d, uint32_t l)
{
	nftnl_set_elem_set(o, a, d, l);
}

struct counter_ctx {
	struct nft_batch *nb;
	const struct counter_values *carry; /* may be NULL */
};

/* A counter_foreach() callback; the message's sub and index are the counter's. */
static int add_counter(const struct counter_obj *c, void *data)
{
	const struct counter_ctx *x = data;
	struct nft_batch *nb = x->nb;
	struct nftnl_obj *o = nftnl_obj_alloc();
	const struct counter_value *cv;
	struct nlmsghdr *nlh;
	int r;

	if (!o)
		return -ENOMEM;
	r = before_msg(nb);
	if (r < 0)
		goto out;
	cv = carry_find(x->carry, c->name);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, nb->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, c->name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	/* The table is re-created, so a share or route that persists gets its values back. */
	nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, cv ? cv->bytes : 0);
	nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, cv ? cv->packets : 0);
	r = set_comment(obj_set_data, o, NFTNL_OBJ_USERDATA, NFTNL_UDATA_OBJ_COMMENT, c->comment);
	if (r < 0)
		goto out;
	nlh = hdr(nb, NFT_MSG_NEWOBJ, NLM_F_CREATE);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	r = msg_push(nb, nlh, W_OBJ, (uint8_t)c->sub, c->index, 0);
out:
	nftnl_obj_free(o);
	return r;
}

/* ---- sets ---- */

/* The userdata nft 1.0.6 writes for `type ...` sets, so that nft lists them as it would
 * list its own: byte orders, a typeof marker for concatenations, the data-interval flag. */
static int set_userdata(struct nftnl_set *s, const struct set_def *d)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(USERDATA_MAX);
	bool ok;

	if (!ud)
		return -ENOMEM;
	ok = nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, d->key_order);
	if (ok && d->data_order >= 0)
		ok = nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER,
					 (uint32_t)d->data_order);
	for (int i = 0; ok && i < 2; i++) {
		struct nftnl_udata *n1, *n2;

		if (!(i ? d->data_concat : d->key_concat))
			continue;
		n1 = nftnl_udata_nest_start(ud, i ? NFTNL_UDATA_SET_DATA_TYPEOF :
						    NFTNL_UDATA_SET_KEY_TYPEOF);
		ok = n1 && nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_TYPEOF_EXPR, EXPR_CONCAT_TYPE);
		n2 = ok ? nftnl_udata_nest_start(ud, NFTNL_UDATA_SET_TYPEOF_DATA) : NULL;
		ok = n2 != NULL;
		if (ok) {
			nftnl_udata_nest_end(ud, n2);
			nftnl_udata_nest_end(ud, n1);
		}
	}
	if (ok && (d->flags & (NFT_SET_MAP | NFT_SET_OBJECT)))
		ok = nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATA_INTERVAL, 0);
	if (ok)
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return ok ? 0 : -E2BIG;
}

static struct nftnl_set *set_new(const char *table, enum set_index si, bool full)
{
	const struct set_def *d = &set_defs[si];
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)si + 1);
	if (!full)
		return s;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, d->flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
	if (d->flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, d->data_type);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->data_len);
	}
	if (d->flags & NFT_SET_OBJECT)
		nftnl_set_set_u32(s, NFTNL_SET_OBJ_TYPE, d->obj_type);
	if (set_userdata(s, d) < 0)
		return nftnl_set_free(s), NULL;
	return s;
}

static int add_set(struct nft_batch *nb, enum set_index si)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	int r = before_msg(nb);

	if (r < 0)
		return r;
	s = set_new(nb->table, si, true);
	if (!s)
		return -ENOMEM;
	nlh = hdr(nb, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return msg_push(nb, nlh, W_SET, (uint8_t)si, (uint32_t)si, 0);
}

static struct nftnl_set_elem *elem_new(const struct set_elem *el)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->key, el->key_len);
	if (el->data_len)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, el->data, el->data_len);
	if (el->chain) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_GOTO);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, el->chain);
	}
	if (el->objref)
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_OBJREF, el->objref);
	if (el->comment && set_comment(elem_set_data, e, NFTNL_SET_ELEM_USERDATA,
				       NFTNL_UDATA_SET_ELEM_COMMENT, el->comment) < 0) {
		nftnl_set_elem_free(e);
		return NULL;
	}
	return e;
}

struct collect {
	struct nftnl_set *s;
	size_t n;
};

static int collect_elem(const struct set_elem *el, void *data)
{
	struct collect *c = data;
	struct nftnl_set_elem *e = elem_new(el);

	if (!e)
		return -ENOMEM;
	nftnl_set_elem_add(c->s, e);
	c->n++;
	return 0;
}

/* Elements inside one NEWSETELEM message, and which of them starts at or before offset. */
static uint32_t count_elems(const struct nlmsghdr *nlh, uint32_t offset, uint32_t *ret_at)
{
	const struct nlattr *a, *e;
	uint32_t n = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			uint32_t at = (uint32_t)((const char *)e - (const char *)nlh);

			if (ret_at && offset >= at)
				*ret_at = n;
			n++;
		}
	}
	return n;
}

/* NEWSETELEM in as many messages as the 64 KiB attribute limit needs. */
static int add_elems(struct nft_batch *nb, enum set_index si)
{
	struct nftnl_set_elems_iter *it = NULL;
	struct collect c = { set_new(nb->table, si, false), 0 };
	uint32_t first = 0;
	int r, more;

	if (!c.s)
		return -ENOMEM;
	/* counted while collecting: a second walk would format every element's text again */
	r = set_foreach(nb->rs, si, collect_elem, &c);
	if (r < 0 || !c.n)
		goto out;
	it = nftnl_set_elems_iter_create(c.s);
	if (!it) {
		r = -ENOMEM;
		goto out;
	}
	do {
		struct nlmsghdr *nlh;

		r = before_msg(nb);
		if (r < 0)
			goto out;
		nlh = hdr(nb, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		if (more < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = msg_push(nb, nlh, W_ELEMS, (uint8_t)si, first, 0);
		if (r < 0)
			goto out;
		first += count_elems(nlh, 0, NULL);
	} while (more > 0);
	r = 0;
out:
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(c.s);
	return r;
}

/* A message the kernel always refuses: an element of listen_any4 whose verdict jumps to a
 * chain that does not exist. As the probe's final message (W_ABORT) it makes the kernel
 * check the whole batch and then abort it; as a test fault (W_FAULT) it is attributed to the
 * plan's first listener, as a real refusal of that listener's element would be. */
static int add_refused_message(struct nft_batch *nb, enum batch_what what)
{
	struct nftnl_set *s = set_new(nb->table, SET_LISTEN_ANY4, false);
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	const struct plan_listener *l = nb->rs && nb->rs->plan->n ? &nb->rs->plan->v[0] : NULL;
	uint16_t port = htons(l ? l->port : 1);
	uint8_t key[8] = { l ? l->protocol : IPPROTO_TCP }; /* protocol . port, 4 bytes each */
	struct nlmsghdr *nlh;
	int r;

	if (!s || !e) {
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		return -ENOMEM;
	}
	nftnl_set_unset(s, NFTNL_SET_ID);
	memcpy(key + 4, &port, sizeof(port));
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key));
	nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_GOTO);
	nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, "nftgate-no-such-chain");
	nftnl_set_elem_add(s, e);
	nlh = hdr(nb, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = msg_push(nb, nlh, what, 0, 0, 0);
	return r;
}

/* ---- rules ---- */

static struct nftnl_rule *rule_new(const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static int add_rule(struct nft_batch *nb, const struct chain_def *c, const struct rule_def *d,
		    uint32_t chain_index, uint32_t rule_index, const uint32_t *ids)
{
	struct nftnl_rule *rule;
	struct nlmsghdr *nlh;
	int r = before_msg(nb);

	if (r < 0)
		return r;
	rule = rule_new(nb->table, c->name);
	if (!rule)
		return -ENOMEM;
	r = rule_build_exprs(rule, d, ids);
	if (r < 0)
		goto out;
	nlh = hdr(nb, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	r = msg_push(nb, nlh, W_RULE, 0, chain_index, rule_index);
out:
	nftnl_rule_free(rule);
	return r;
}

static int build_body(struct nft_batch *nb, const struct chain_list *cl,
		      const struct apply_opts *o)
{
	uint32_t ids[SET__COUNT];
	int r;

	for (int i = 0; i < SET__COUNT; i++)
		ids[i] = (uint32_t)i + 1;
	r = batch_add_delete_table(nb);
	if (r >= 0)
		r = add_table_msg(nb, NFT_MSG_NEWTABLE, true, W_TABLE);
	for (size_t i = 0; r >= 0 && i < cl->n; i++)
		r = add_chain(nb, &cl->v[i], (uint32_t)i);
	if (r >= 0 && !o->shape_only) {
		struct counter_ctx x = { nb, o->carry };

		r = counter_foreach(nb->rs, add_counter, &x);
	}
	for (int s = 0; r >= 0 && s < SET__COUNT; s++)
		r = add_set(nb, (enum set_index)s);
	for (int s = 0; r >= 0 && !o->shape_only && s < SET__COUNT; s++)
		r = add_elems(nb, (enum set_index)s);
	for (size_t i = 0; r >= 0 && i < cl->n; i++)
		for (size_t j = 0; r >= 0 && j < cl->v[i].n_rules; j++)
			r = add_rule(nb, &cl->v[i], &cl->v[i].rules[j], (uint32_t)i, (uint32_t)j,
				     ids);
	return r;
}

int batch_build_apply(const struct ruleset *rs, uint32_t seq_base, const struct apply_opts *o,
		      struct nft_batch **ret, struct nft_error *e)
{
	struct nft_batch *nb = NULL;
	struct chain_list *cl = calloc(1, sizeof(*cl));
	int r = -ENOMEM;

	if (!cl)
		goto out;
	r = chain_list_build(rs, cl);
	if (r < 0)
		goto out;
	r = batch_start(rs->table, seq_base, o->genid, &nb);
	if (r < 0)
		goto out;
	nb->rs = rs;
	nb->chains = cl;
	cl = NULL;
	nb->fail_at = o->fail_at;
	nb->abort = o->abort;
	r = build_body(nb, nb->chains, o);
	if (r >= 0)
		r = batch_finish(nb);
	if (r < 0)
		goto out;
	*ret = nb;
	nb = NULL;
out:
	if (r < 0)
		nft_error_set(e, r, "building the netlink batch: %s", strerror(-r));
	if (cl) {
		chain_list_clear(cl);
		free(cl);
	}
	batch_free(nb);
	return r;
}

/* ---- error reports ---- */

struct find_elem {
	uint32_t want, at;
	size_t listener;
	char text[600];
};

static int find_elem_cb(const struct set_elem *el, void *data)
{
	struct find_elem *f = data;

	if (f->at++ != f->want)
		return 0;
	f->listener = el->listener;
	snprintf(f->text, sizeof(f->text), "`%s`%s%s", el->text, el->share ? ", " : "",
		 el->share ? el->share->comment : "");
	return 1;
}

static void describe_listener(const struct ruleset *rs, size_t li, char *buf, size_t len)
{
	const struct plan_listener *l;
	bool udp;

	if (!rs || li >= rs->plan->n) {
		snprintf(buf, len, "no listener");
		return;
	}
	l = &rs->plan->v[li];
	udp = l->protocol == IPPROTO_UDP;
	snprintf(buf, len, "listener %s port %u%s, %s %s", l->key, l->port, udp ? "/udp" : "",
		 udp ? "udproute" : "route", l->route ? l->route : "(none)");
}

/* Returns true, with the listener the element serves in *ret_listener, when the refused
 * element was found in rs. */
static bool describe_elems(const struct nft_batch *nb, const struct batch_msg *m,
			   const struct nl_reply_err *re, char *buf, size_t len,
			   size_t *ret_listener)
{
	struct find_elem f = { 0 };
	uint32_t k = 0, n = count_elems(m->nlh, re->has_offset ? re->offset : 0, &k);

	if (!nb->rs) {
		snprintf(buf, len, "elements of map %s", set_defs[m->sub].name);
		return false;
	}
	f.want = m->index + (re->has_offset ? k : 0);
	if (set_foreach(nb->rs, (enum set_index)m->sub, find_elem_cb, &f) != 1) {
		snprintf(buf, len, "elements %u..%u of map %s", m->index, m->index + n - 1,
			 set_defs[m->sub].name);
		return false;
	}
	snprintf(buf, len, "%selement %u of map %s: %s", re->has_offset ? "" : "the first ",
		 f.want, set_defs[m->sub].name, f.text);
	*ret_listener = f.listener;
	return true;
}

void batch_describe(const struct nft_batch *nb, const struct nl_reply_err *re, char *buf,
		    size_t len)
{
	uint32_t i = re->seq - nb->seq_base;
	const struct batch_msg *m;
	const struct chain_list *cl = nb->chains;
	char who[300], name[32];

	if (i >= nb->n) {
		snprintf(buf, len, "an unknown message (seq %u)", re->seq);
		return;
	}
	m = &nb->msgs[i];
	switch (m->what) {
	case W_BEGIN: snprintf(buf, len, "the transaction"); break;
	case W_END: snprintf(buf, len, "the commit"); break;
	case W_TABLE_ENSURE: snprintf(buf, len, "creating table inet %s", nb->table); break;
	case W_TABLE_DELETE: snprintf(buf, len, "deleting table inet %s", nb->table); break;
	case W_TABLE: snprintf(buf, len, "table inet %s", nb->table); break;
	case W_CHAIN:
		snprintf(buf, len, "chain %s", cl && m->index < cl->n ? cl->v[m->index].name : "?");
		break;
	case W_OBJ:
		if (nb->rs && m->sub >= 3 && m->index < nb->rs->n_routes) {
			route_counter_name(&nb->rs->routes[m->index], m->sub - 3, name,
					   sizeof(name));
			snprintf(buf, len, "counter %s (%s)", name, nb->rs->routes[m->index].comment);
		} else if (nb->rs && m->sub < 3 && m->index < nb->rs->n_shares) {
			const struct lay_share *sh = &nb->rs->shares[m->index];

			share_counter_name(sh, m->sub, name, sizeof(name));
			describe_listener(nb->rs, sh->listener, who, sizeof(who));
			snprintf(buf, len, "counter %s (%s; %s)", name, sh->comment, who);
		} else {
			snprintf(buf, len, "a counter");
		}
		break;
	case W_SET: snprintf(buf, len, "map %s", set_defs[m->sub].name); break;
	case W_ELEMS: {
		char el[700];
		size_t listener;

		if (describe_elems(nb, m, re, el, sizeof(el), &listener)) {
			describe_listener(nb->rs, listener, who, sizeof(who));
			snprintf(buf, len, "%s (%s)", el, who);
		} else {
			snprintf(buf, len, "%s", el);
		}
		break;
	}
	case W_RULE:
		if (cl && m->index < cl->n && m->index2 < cl->v[m->index].n_rules)
			snprintf(buf, len, "rule %u of chain %s `%s`", m->index2 + 1,
				 cl->v[m->index].name, cl->v[m->index].rules[m->index2].text);
		else
			snprintf(buf, len, "a rule");
		break;
	case W_FAULT:
		describe_listener(nb->rs, 0, who, sizeof(who));
		snprintf(buf, len, "message %u, an element of map listen_any4 inserted as a test "
			 "fault (%s)", i, who);
		break;
	case W_ABORT:
		snprintf(buf, len, "message %u, the probe's abort marker", i);
		break;
	case W_REPLAY:
		if (nb->describe_replay)
			nb->describe_replay(nb->replay_ctx, m->index, buf, len);
		else
			snprintf(buf, len, "snapshot message %u", m->index);
		break;
	default: snprintf(buf, len, "message %u", i); break;
	}
}

int batch_outcome(const struct nft_batch *nb, const struct nl_acks *acks, struct nft_error *e)
{
	char what[1200];

	if (!acks->n_errors && !acks->lost) {
		/* Every message but BEGIN and END is ACKed; kernels >= 6.10 ACK those two as
		 * well (END only after the commit). Fewer ACKs than that proves nothing. */
		size_t want = acks->end_acked ? nb->n : nb->n - 2;

		if (nb->n >= 2 && acks->n_acks >= want)
			return 0;
		return nft_error_set(e, -EIO, "the kernel acknowledged %zu of the batch's %zu "
				     "messages: the outcome is unknown", acks->n_acks, nb->n);
	}
	if (!acks->n_errors)
		return nft_error_set(e, -EIO, "the kernel's replies to the batch were lost "
				     "(receive buffer overrun): the outcome is unknown");
	for (size_t i = 0; i < acks->n; i++) {
		const struct nl_reply_err *re = &acks->v[i];

		if (re->seq == nb->seq_base && re->err == -ERESTART)
			return nft_error_set(e, -ERESTART, "the ruleset changed while nftgate was "
					     "preparing the transaction (generation mismatch)");
		if (re->seq == nb->seq_base && re->err == -EPERM)
			return nft_error_set(e, -EPERM, "the kernel refused the transaction: "
					     "permission denied (nftgate needs CAP_NET_ADMIN in the "
					     "network namespace; run it as root)");
	}
	for (size_t i = 0; i < acks->n && i < 5; i++) {
		const struct nl_reply_err *re = &acks->v[i];

		batch_describe(nb, re, what, sizeof(what));
		if (!i)
			nft_error_set(e, re->err, "the kernel refused %s: %s", what,
				      strerror(-re->err));
		else
			nft_error_append(e, "also refused %s: %s", what, strerror(-re->err));
		if (re->msg[0])
			nft_error_append(e, "kernel says: %s", re->msg);
		if (re->has_offset)
			nft_error_append(e, "at byte %u of message %u", re->offset,
					 re->seq - nb->seq_base);
	}
	if (acks->n_errors > 5)
		nft_error_append(e, "and %zu more refusals", acks->n_errors - 5);
	nft_error_append(e, "the transaction was aborted: nothing was changed");
	return acks->v[0].err;
}

/* ---- debug text ---- */

int batch_debug_rules(const struct ruleset *rs, char **ret_text)
{
	struct chain_list cl = { 0 };
	char *out = NULL, *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = chain_list_build(rs, &cl);
	if (r < 0)
		return r;
	f = open_memstream(&out, &len);
	buf = malloc(65536);
	if (!f || !buf) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < cl.n; i++)
		for (size_t j = 0; j < cl.v[i].n_rules; j++) {
			struct nftnl_rule *rule = rule_new(rs->table, cl.v[i].name);
			size_t n;

			if (!rule || rule_build_exprs(rule, &cl.v[i].rules[j], NULL) < 0) {
				nftnl_rule_free(rule);
				r = -ENOMEM;
				goto out;
			}
			nftnl_rule_snprintf(buf, 65536, rule, NFTNL_OUTPUT_DEFAULT, 0);
			nftnl_rule_free(rule);
			/* libnftnl 1.2.8 stopped ending the text with a newline: normalise */
			n = strlen(buf);
			while (n && buf[n - 1] == '\n')
				buf[--n] = '\0';
			fprintf(f, "%s\n\n", buf);
		}
	r = 0;
out:
	chain_list_clear(&cl);
	free(buf);
	if (f && fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(out);
		return r;
	}
	*ret_text = out;
	return 0;
}

int batch_debug_sets(const struct ruleset *rs, char **ret_text)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return -ENOMEM;
	for (int s = 0; s < SET__COUNT; s++) {
		struct nftnl_set *set = set_new(rs->table, (enum set_index)s, true);
		const uint8_t *ud;
		uint32_t udlen = 0;
		char line[512];

		if (!set) {
			fclose(f);
			free(out);
			return -ENOMEM;
		}
		nftnl_set_snprintf(line, sizeof(line), set, NFTNL_OUTPUT_DEFAULT, 0);
		line[strcspn(line, "\n")] = '\0';
		fprintf(f, "%s\n  key type 0x%x len %u", line,
			nftnl_set_get_u32(set, NFTNL_SET_KEY_TYPE),
			nftnl_set_get_u32(set, NFTNL_SET_KEY_LEN));
		if (nftnl_set_is_set(set, NFTNL_SET_DATA_TYPE))
			fprintf(f, " data type 0x%x len %u",
				nftnl_set_get_u32(set, NFTNL_SET_DATA_TYPE),
				nftnl_set_get_u32(set, NFTNL_SET_DATA_LEN));
		if (nftnl_set_is_set(set, NFTNL_SET_OBJ_TYPE))
			fprintf(f, " obj type %u", nftnl_set_get_u32(set, NFTNL_SET_OBJ_TYPE));
		ud = nftnl_set_get_data(set, NFTNL_SET_USERDATA, &udlen);
		fprintf(f, "\n  userdata ");
		for (uint32_t i = 0; ud && i < udlen; i++)
			fprintf(f, "%02x", ud[i]);
		fprintf(f, "\n  elements %zu\n\n", set_count(rs, (enum set_index)s));
		nftnl_set_free(set);
	}
	if (fclose(f) != 0) {
		free(out);
		return -ENOMEM;
	}
	*ret_text = out;
	return 0;
}

/* ---- parts of a batch, for element-level transactions (nft/delta.c) ---- */

int batch_add_chain(struct nft_batch *nb, const struct chain_def *c, uint32_t index)
{
	return add_chain(nb, c, index);
}

int batch_add_rule(struct nft_batch *nb, const struct chain_def *c, const struct rule_def *d,
		   uint32_t chain_index, uint32_t rule_index)
{
	static const uint32_t no_ids[SET__COUNT]; /* the sets exist: found by name */

	return add_rule(nb, c, d, chain_index, rule_index, no_ids);
}

int batch_add_counter(struct nft_batch *nb, const struct counter_obj *c,
		      const struct counter_values *carry)
{
	struct counter_ctx x = { nb, carry };

	return add_counter(c, &x);
}

struct nftnl_set_elem *batch_elem_new(const struct set_elem *el)
{
	return elem_new(el);
}
