/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two catalogs -> one element-level transaction (delta.h). Order inside the batch: new
 * counters and pick chains first (elements refer to them), then every element delete,
 * then every element add (a changed element is deleted and re-added: one transaction, so
 * no packet sees it missing), then the counters nothing refers to any more.
 */
#include <errno.h>
#include <stdarg.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft/delta.h"
#include "nft/rules.h"

struct delta *delta_free(struct delta *d)
{
	if (!d)
		return NULL;
	batch_free(d->nb);
	for (size_t i = 0; i < d->n_what; i++)
		free(d->what[i]);
	free(d->what);
	free(d);
	return NULL;
}

static void describe(const void *ctx, uint32_t index, char *buf, size_t len)
{
	const struct delta *d = ctx;

	snprintf(buf, len, "%s", index < d->n_what ? d->what[index] : "an element change");
}

/* Records what the next W_REPLAY message is; returns its index or -ENOMEM. */
static int what_push(struct delta *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int what_push(struct delta *d, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (d->n_what == d->cap_what) {
		size_t cap = d->cap_what ? d->cap_what * 2 : 16;
		char **v = reallocarray(d->what, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->what = v;
		d->cap_what = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	d->what[d->n_what] = s;
	return (int)d->n_what++;
}

static int start(struct delta *d, const char *table, uint32_t seq_base, const uint32_t *genid)
{
	int r;

	if (d->nb)
		return 0;
	r = batch_start(table, seq_base, genid, &d->nb);
	if (r < 0)
		return r;
	d->nb->describe_replay = describe;
	d->nb->replay_ctx = d;
	return 0;
}

/* ---- elements ---- */

static struct nftnl_set_elem *elem_of(const struct cat_elem *c, bool key_only)
{
	struct set_elem el = { .key_len = c->key_len, .data_len = key_only ? 0 : c->data_len };

	memcpy(el.key, c->key, c->key_len);
	if (key_only) {
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();

		if (e)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el.key, el.key_len);
		return e;
	}
	if (c->data_len > sizeof(el.data) || c->key_len > sizeof(el.key))
		return NULL;
	memcpy(el.data, c->data, c->data_len);
	if (c->ref[0]) {
		if (c->jump)
			el.chain = c->ref;
		else
			el.objref = c->ref;
	}
	el.comment = c->comment[0] ? c->comment : NULL;
	return batch_elem_new(&el);
}

/* Sends the elements of s in as many messages as the attribute limit needs. */
static int emit_elems(struct delta *d, struct nftnl_set *s, uint16_t type, enum set_index si,
		      size_t n)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	int r = 0, more;

	if (!it)
		return -ENOMEM;
	do {
		struct nlmsghdr *nlh;
		int w = what_push(d, "%s %zu element%s %s map %s",
				  type == NFT_MSG_NEWSETELEM ? "adding" : "deleting", n,
				  n == 1 ? "" : "s", type == NFT_MSG_NEWSETELEM ? "to" : "from",
				  set_defs[si].name);

		if (w < 0) {
			r = w;
			break;
		}
		nlh = nftnl_nlmsg_build_hdr(batch_next_buf(d->nb), type, NFPROTO_INET,
					    type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, 0);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		if (more < 0) {
			r = -ENOMEM;
			break;
		}
		r = batch_commit_msg(d->nb, nlh, W_REPLAY, (uint32_t)w);
	} while (r >= 0 && more > 0);
	nftnl_set_elems_iter_destroy(it);
	return r;
}

static struct nftnl_set *set_header(const char *table, enum set_index si)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set_defs[si].name);
	return s;
}

/* The element changes of one set, found in one merge walk of both sorted lists: keys only
 * `have` holds go to del, keys only `want` holds to add, and an element whose data,
 * reference or comment changed to both (deleted and re-added in the same transaction). */
struct set_changes {
	struct nftnl_set *del, *add;
	size_t n_del, n_add;
};

static int change_push(struct nftnl_set **s, size_t *n, const char *table, enum set_index si,
		       const struct cat_elem *el, bool key_only)
{
	struct nftnl_set_elem *e;

	if (!*s && !(*s = set_header(table, si)))
		return -ENOMEM;
	e = elem_of(el, key_only);
	if (!e)
		return -ENOMEM;
	nftnl_set_elem_add(*s, e);
	(*n)++;
	return 0;
}

static int set_walk(struct delta *d, const struct cat_set *have, const struct cat_set *want,
		    enum set_index si, const char *table, struct set_changes *ch)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (r >= 0 && (i < have->n || j < want->n)) {
		struct cat_elem a, b;
		int c;

		if (i < have->n)
			cat_set_get(have, i, &a);
		if (j < want->n)
			cat_set_get(want, j, &b);
		c = i >= have->n ? 1 : j >= want->n ? -1 : cat_elem_cmp_key(&a, &b);
		if (c < 0) {
			r = change_push(&ch->del, &ch->n_del, table, si, &a, true);
			d->st.removed[si]++;
			i++;
		} else if (c > 0) {
			r = change_push(&ch->add, &ch->n_add, table, si, &b, false);
			d->st.added[si]++;
			j++;
		} else {
			if (!cat_elem_same(&a, &b)) {
				r = change_push(&ch->del, &ch->n_del, table, si, &a, true);
				if (r >= 0)
					r = change_push(&ch->add, &ch->n_add, table, si, &b, false);
				d->st.changed[si]++;
			}
			i++;
			j++;
		}
	}
	return r;
}

/* Every set's deletes, then every set's adds. */
static int set_changes(struct delta *d, const struct catalog *have, const struct catalog *want,
		       const char *table, uint32_t seq_base, const uint32_t *genid)
{
	struct set_changes ch[SET__COUNT] = { 0 };
	int r = 0;

	for (int s = 0; r >= 0 && s < SET__COUNT; s++)
		r = set_walk(d, &have->sets[s], &want->sets[s], (enum set_index)s, table, &ch[s]);
	for (int s = 0; r >= 0 && s < SET__COUNT; s++)
		if (ch[s].n_del && (r = start(d, table, seq_base, genid)) >= 0)
			r = emit_elems(d, ch[s].del, NFT_MSG_DELSETELEM, (enum set_index)s,
				       ch[s].n_del);
	for (int s = 0; r >= 0 && s < SET__COUNT; s++)
		if (ch[s].n_add && (r = start(d, table, seq_base, genid)) >= 0)
			r = emit_elems(d, ch[s].add, NFT_MSG_NEWSETELEM, (enum set_index)s,
				       ch[s].n_add);
	for (int s = 0; s < SET__COUNT; s++) {
		if (ch[s].del)
			nftnl_set_free(ch[s].del);
		if (ch[s].add)
			nftnl_set_free(ch[s].add);
	}
	return r;
}

/* ---- counters ---- */

struct counter_add {
	struct delta *d;
	const struct catalog *have;
	const char *table;
	uint32_t seq_base;
	const uint32_t *genid;
};

static int add_new_counter(const struct counter_obj *c, void *data)
{
	struct counter_add *x = data;
	int r;

	if (catalog_counter(x->have, c->name))
		return 0;
	r = start(x->d, x->table, x->seq_base, x->genid);
	if (r < 0)
		return r;
	x->d->st.counters_added++;
	return batch_add_counter(x->d->nb, c, NULL);
}

static int del_counter(struct delta *d, const char *name)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int w, r;

	if (!o)
		return -ENOMEM;
	w = what_push(d, "deleting counter %s", name);
	if (w < 0) {
		nftnl_obj_free(o);
		return w;
	}
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, d->nb->table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nlh = nftnl_nlmsg_build_hdr(batch_next_buf(d->nb), NFT_MSG_DELOBJ, NFPROTO_INET, 0, 0);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	r = batch_commit_msg(d->nb, nlh, W_REPLAY, (uint32_t)w);
	if (r >= 0)
		d->st.counters_removed++;
	return r;
}

/* Both counter lists are sorted by name: one merge walk finds what only want has (to
 * add), what only have has (to delete, when del is not NULL) and the first counter whose
 * comment changed. Linear, so that a reconcile at 10,000 routes does not pay a search per
 * counter. */
struct counter_walk {
	size_t only_want, only_have;
	const struct cat_counter *recommented; /* have's, or NULL */
	const char *comment;                   /* want's comment for it */
};

static int counters_walk(const struct catalog *have, const struct catalog *want,
			 struct counter_walk *w, struct delta *del, const char *table,
			 uint32_t seq_base, const uint32_t *genid)
{
	size_t i = 0, j = 0;
	int r = 0;

	memset(w, 0, sizeof(*w));
	while (r >= 0 && (i < have->n_counters || j < want->n_counters)) {
		const struct cat_counter *a = i < have->n_counters ? &have->counters[i] : NULL;
		const struct cat_counter *b = j < want->n_counters ? &want->counters[j] : NULL;
		int c = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);

		if (c > 0) {
			w->only_want++;
			j++;
			continue;
		}
		i++;
		if (c < 0) {
			w->only_have++;
			if (del && (r = start(del, table, seq_base, genid)) >= 0)
				r = del_counter(del, a->name);
			continue;
		}
		j++;
		if (!w->recommented && strcmp(a->comment, b->comment)) {
			w->recommented = a;
			w->comment = b->comment;
		}
	}
	return r;
}

/* ---- pick chains ---- */

static const struct cat_chain *pick_of(const struct catalog *c, const char *name)
{
	struct cat_chain key = { .name = (char *)name };
	size_t lo = 0, hi = c->n_picks;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int k = strcmp(key.name, c->picks[mid].name);

		if (!k)
			return &c->picks[mid];
		if (k < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Creates the pick chains want has and have lacks, from want_rs's chain list (which the
 * batch keeps, so that a refused rule is described by its text). */
static int add_new_picks(struct delta *d, const struct catalog *have, const struct catalog *want,
			 const struct ruleset *want_rs, uint32_t seq_base, const uint32_t *genid)
{
	struct chain_list *cl = NULL;
	int r = 0;

	for (size_t i = 0; i < want->n_picks; i++)
		if (!pick_of(have, want->picks[i].name))
			break;
		else if (i + 1 == want->n_picks)
			return 0;
	if (!want->n_picks)
		return 0;
	r = start(d, want_rs->table, seq_base, genid);
	if (r < 0)
		return r;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	r = chain_list_build(want_rs, cl);
	if (r < 0) {
		free(cl);
		return r;
	}
	d->nb->chains = cl;
	for (size_t i = 0; r >= 0 && i < cl->n; i++) {
		const struct chain_def *c = &cl->v[i];

		if (strncmp(c->name, "pick_", 5) || pick_of(have, c->name))
			continue;
		r = batch_add_chain(d->nb, c, (uint32_t)i);
		for (size_t j = 0; r >= 0 && j < c->n_rules; j++)
			r = batch_add_rule(d->nb, c, &c->rules[j], (uint32_t)i, (uint32_t)j);
		if (r >= 0)
			d->st.chains_added++;
	}
	return r;
}

static int del_chain(struct delta *d, const char *name)
{
	struct nftnl_rule *rl = nftnl_rule_alloc();
	struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int w, r = -ENOMEM;

	if (!rl || !ch)
		goto out;
	/* DELRULE with only table and chain flushes the chain; DELCHAIN needs it empty */
	w = what_push(d, "flushing chain %s", name);
	if (w < 0)
		goto out;
	nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, d->nb->table);
	nftnl_rule_set_str(rl, NFTNL_RULE_CHAIN, name);
	nlh = nftnl_nlmsg_build_hdr(batch_next_buf(d->nb), NFT_MSG_DELRULE, NFPROTO_INET, 0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, rl);
	r = batch_commit_msg(d->nb, nlh, W_REPLAY, (uint32_t)w);
	if (r < 0)
		goto out;
	w = what_push(d, "deleting chain %s", name);
	if (w < 0) {
		r = w;
		goto out;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, d->nb->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(batch_next_buf(d->nb), NFT_MSG_DELCHAIN, NFPROTO_INET, 0, 0);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	r = batch_commit_msg(d->nb, nlh, W_REPLAY, (uint32_t)w);
	if (r >= 0)
		d->st.chains_removed++;
out:
	if (rl)
		nftnl_rule_free(rl);
	if (ch)
		nftnl_chain_free(ch);
	return r;
}

/* ---- the whole transaction ---- */

/* Element updates keep everything but elements, counters and pick chains: anything else
 * that differs (or a counter whose comment changed: the kernel cannot edit an object's
 * userdata) needs the table replaced. */
static int replace_reason(const struct catalog *have, const struct catalog *want,
			  const struct counter_walk *w, struct nft_error *e)
{
	if (!have->present)
		return nft_error_set(e, DELTA_NEEDS_REPLACE, "the table does not exist");
	if (strcmp(have->shape, want->shape))
		return nft_error_set(e, DELTA_NEEDS_REPLACE, "the table's chains, rules or set "
				     "definitions differ from what nftgate writes");
	for (size_t i = 0; i < want->n_picks; i++) {
		const struct cat_chain *p = pick_of(have, want->picks[i].name);

		if (p && strcmp(p->rules, want->picks[i].rules))
			return nft_error_set(e, DELTA_NEEDS_REPLACE, "chain %s holds other "
					     "rules than nftgate writes", p->name);
	}
	if (w->recommented)
		return nft_error_set(e, DELTA_NEEDS_REPLACE, "counter %s is now \"%s\"",
				     w->recommented->name, w->comment);
	return 0;
}

static int build_body(struct delta *d, const struct catalog *have, const struct catalog *want,
		      const struct counter_walk *w, const struct ruleset *want_rs,
		      uint32_t seq_base, const uint32_t *genid)
{
	struct counter_add x = { d, have, want_rs->table, seq_base, genid };
	int r = 0;

	if (w->only_want) /* new routes or shares: rare, so a search per counter is fine */
		r = counter_foreach(want_rs, add_new_counter, &x);
	if (r >= 0)
		r = add_new_picks(d, have, want, want_rs, seq_base, genid);
	if (r >= 0)
		r = set_changes(d, have, want, want_rs->table, seq_base, genid);
	if (r >= 0 && w->only_have) {
		struct counter_walk again;

		r = counters_walk(have, want, &again, d, want_rs->table, seq_base, genid);
	}
	for (size_t i = 0; i < have->n_picks; i++)
		if (!pick_of(want, have->picks[i].name))
			d->st.stale_chains++;
	return r;
}

int delta_build(const struct catalog *have, const struct catalog *want,
		const struct ruleset *want_rs, uint32_t seq_base, const uint32_t *genid,
		struct delta **ret, struct nft_error *e)
{
	struct counter_walk w;
	struct delta *d;
	int r;

	counters_walk(have, want, &w, NULL, NULL, 0, NULL); /* counts only: cannot fail */
	r = replace_reason(have, want, &w, e);
	if (r)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return nft_error_set(e, -ENOMEM, "out of memory");
	r = build_body(d, have, want, &w, want_rs, seq_base, genid);
	if (r >= 0 && d->nb)
		r = batch_finish(d->nb);
	if (r < 0) {
		delta_free(d);
		return nft_error_set(e, r, "building the element changes: %s", strerror(-r));
	}
	*ret = d;
	return 0;
}

int delta_build_gc(const struct catalog *have, const struct catalog *want,
		   uint32_t seq_base, const uint32_t *genid, struct delta **ret,
		   struct nft_error *e)
{
	struct delta *d = calloc(1, sizeof(*d));
	int r = 0;

	if (!d)
		return nft_error_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < have->n_picks; i++) {
		if (pick_of(want, have->picks[i].name))
			continue;
		r = start(d, want->table, seq_base, genid);
		if (r >= 0)
			r = del_chain(d, have->picks[i].name);
	}
	if (r >= 0 && d->nb)
		r = batch_finish(d->nb);
	if (r < 0) {
		delta_free(d);
		return nft_error_set(e, r, "building the chain removals: %s", strerror(-r));
	}
	*ret = d;
	return 0;
}

void delta_stats_format(const struct delta_stats *st, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int s = 0; s < SET__COUNT && n < len; s++) {
		if (!st->added[s] && !st->removed[s] && !st->changed[s])
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s +%zu -%zu ~%zu", n ? ", " : "",
				      set_defs[s].name, st->added[s], st->removed[s],
				      st->changed[s]);
	}
	if (n < len && (st->counters_added || st->counters_removed))
		n += (size_t)snprintf(buf + n, len - n, "%scounters +%zu -%zu", n ? ", " : "",
				      st->counters_added, st->counters_removed);
	if (n < len && (st->chains_added || st->chains_removed))
		n += (size_t)snprintf(buf + n, len - n, "%schains +%zu -%zu", n ? ", " : "",
				      st->chains_added, st->chains_removed);
	if (!n)
		snprintf(buf, len, "no change");
}

static bool sets_same(const struct cat_set *a, const struct cat_set *b, enum set_index si,
		      char *why, size_t len)
{
	size_t i = 0, j = 0;

	while (i < a->n || j < b->n) {
		struct cat_elem x, y;
		char t[300];

		if (i < a->n)
			cat_set_get(a, i, &x);
		if (j < b->n)
			cat_set_get(b, j, &y);
		if (j >= b->n || (i < a->n && cat_elem_cmp_key(&x, &y) < 0)) {
			cat_elem_describe(si, &x, t, sizeof(t));
			snprintf(why, len, "only in the first: %s", t);
			return false;
		}
		if (i >= a->n || cat_elem_cmp_key(&x, &y) > 0) {
			cat_elem_describe(si, &y, t, sizeof(t));
			snprintf(why, len, "only in the second: %s", t);
			return false;
		}
		if (!cat_elem_same(&x, &y)) {
			cat_elem_describe(si, &x, t, sizeof(t));
			snprintf(why, len, "differs: %s", t);
			return false;
		}
		i++;
		j++;
	}
	return true;
}

bool catalog_same(const struct catalog *a, const struct catalog *b, char *why, size_t len)
{
	if (a->present != b->present) {
		snprintf(why, len, "the table is %s in the first", a->present ? "present" : "absent");
		return false;
	}
	if (strcmp(a->shape, b->shape)) {
		snprintf(why, len, "chains, rules or set definitions differ");
		return false;
	}
	if (a->n_picks != b->n_picks || a->n_counters != b->n_counters) {
		snprintf(why, len, "%zu/%zu pick chains, %zu/%zu counters", a->n_picks, b->n_picks,
			 a->n_counters, b->n_counters);
		return false;
	}
	for (size_t i = 0; i < a->n_picks; i++)
		if (strcmp(a->picks[i].name, b->picks[i].name) ||
		    strcmp(a->picks[i].rules, b->picks[i].rules)) {
			snprintf(why, len, "chain %s", a->picks[i].name);
			return false;
		}
	for (size_t i = 0; i < a->n_counters; i++)
		if (strcmp(a->counters[i].name, b->counters[i].name) ||
		    strcmp(a->counters[i].comment, b->counters[i].comment)) {
			snprintf(why, len, "counter %s", a->counters[i].name);
			return false;
		}
	for (int s = 0; s < SET__COUNT; s++)
		if (!sets_same(&a->sets[s], &b->sets[s], (enum set_index)s, why, len))
			return false;
	return true;
}

/* Catalogs compare what makes a table what it is, whatever form each snapshot came in (a
 * dump: handles, kernel-filled fields, elements in hash order; a batch: set ids, plan
 * order), so this is the one comparison of two tables. */
int snapshot_same_content(const struct snapshot *a, const struct snapshot *b, bool *ret_same)
{
	struct catalog *ca = NULL, *cb = NULL;
	char why[256];
	int r;

	r = catalog_from_snapshot(a, &ca, NULL);
	if (r >= 0)
		r = catalog_from_snapshot(b, &cb, NULL);
	if (r >= 0)
		*ret_same = !strcmp(a->table, b->table) && catalog_same(ca, cb, why, sizeof(why));
	else if (r == -EINVAL)
		*ret_same = false; /* a message nftgate cannot read is not a table it wrote */
	catalog_free(ca);
	catalog_free(cb);
	return r == -EINVAL ? 0 : r;
}
