/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctnetlink cleanup of UDP flows (conntrack.h): which marks went stale, a dump of the
 * entries that carry them, a delete of each UDP one by original tuple and id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "nft/conntrack.h"

#define CT_TRIES 3               /* dumps interrupted (NLM_F_DUMP_INTR) survived by one call */

/* ---- which marks went stale ---- */

struct mark_list {
	struct ct_mark *v;
	size_t n, cap;
};

static int mark_push(struct mark_list *l, const struct cat_elem *el, uint8_t family)
{
	uint32_t mark;

	if (el->key_len != 4)
		return 0; /* not a mark: no conntrack entry can carry it */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct ct_mark *v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(&mark, el->key, 4); /* host order, as the kernel compares ct mark */
	l->v[l->n++] = (struct ct_mark){ .mark = mark, .family = family };
	return 0;
}

static bool same_data(const struct cat_elem *a, const struct cat_elem *b)
{
	return a->data_len == b->data_len && !memcmp(a->data, b->data, a->data_len);
}

/* Merges two key-sorted sets: an element of before that after lacks or maps elsewhere. */
static int stale_in(const struct cat_set *before, const struct cat_set *after, uint8_t family,
		    struct mark_list *l)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (r >= 0 && i < before->n) {
		struct cat_elem a, b;
		int c = 1;

		cat_set_get(before, i, &a);
		if (j < after->n) {
			cat_set_get(after, j, &b);
			c = cat_elem_cmp_key(&a, &b);
		} else {
			c = -1;
		}
		if (c > 0) {
			j++;
			continue;
		}
		if (c < 0 || !same_data(&a, &b))
			r = mark_push(l, &a, family);
		i++;
		j += c == 0;
	}
	return r;
}

static int cmp_mark(const void *x, const void *y)
{
	const struct ct_mark *a = x, *b = y;

	if (a->mark != b->mark)
		return a->mark < b->mark ? -1 : 1;
	return (a->family > b->family) - (a->family < b->family);
}

int ct_stale_marks(const struct catalog *before, const struct catalog *after,
		   struct ct_mark **ret, size_t *ret_n)
{
	struct mark_list l = { 0 };
	size_t n = 0;
	int r;

	r = stale_in(&before->sets[SET_ENDPOINT4], &after->sets[SET_ENDPOINT4], AF_INET, &l);
	if (r >= 0)
		r = stale_in(&before->sets[SET_ENDPOINT6], &after->sets[SET_ENDPOINT6], AF_INET6,
			     &l);
	if (r < 0) {
		free(l.v);
		return r;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_mark);
	for (size_t i = 0; i < l.n; i++)
		if (!n || cmp_mark(&l.v[n - 1], &l.v[i]))
			l.v[n++] = l.v[i];
	if (!n) {
		free(l.v);
		l.v = NULL;
	}
	*ret = l.v;
	*ret_n = n;
	return 0;
}

/* ---- one entry of a dump ---- */

/*
 * The reply is read with libmnl, every attribute checked before use: libnetfilter_conntrack's
 * nfct_nlmsg_parse() calls exit() on an attribute of the wrong size ("ctnetlink kernel ABI
 * is broken"), which bytes from outside must never do to the daemon. It only builds the
 * delete, from the values read here.
 */
struct entry {
	uint8_t family;
	uint32_t mark, id;       /* host order */
	bool has_mark, has_id, has_zone, has_tuple_zone;
	uint16_t zone, tuple_zone;
	uint8_t src[16], dst[16];
	bool has_src, has_dst, has_proto, has_sport, has_dport;
	uint8_t proto;
	uint16_t sport, dport;   /* network order */
};

static int check(const struct nlattr *a, enum mnl_attr_data_type t, size_t len)
{
	int r = len ? mnl_attr_validate2(a, t, len) : mnl_attr_validate(a, t);

	return r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int ip_cb(const struct nlattr *a, void *data)
{
	struct entry *x = data;
	size_t alen = x->family == AF_INET ? 4 : 16;
	uint16_t t = mnl_attr_get_type(a);
	bool v4 = t == CTA_IP_V4_SRC || t == CTA_IP_V4_DST;
	bool v6 = t == CTA_IP_V6_SRC || t == CTA_IP_V6_DST;

	if (!v4 && !v6)
		return MNL_CB_OK;
	if (v4 != (x->family == AF_INET) || check(a, MNL_TYPE_BINARY, alen) < 0)
		return MNL_CB_ERROR; /* an address of the other family, or of another size */
	if (t == CTA_IP_V4_SRC || t == CTA_IP_V6_SRC) {
		memcpy(x->src, mnl_attr_get_payload(a), alen);
		x->has_src = true;
	} else {
		memcpy(x->dst, mnl_attr_get_payload(a), alen);
		x->has_dst = true;
	}
	return MNL_CB_OK;
}

static int proto_cb(const struct nlattr *a, void *data)
{
	struct entry *x = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_PROTO_NUM:
		if (check(a, MNL_TYPE_U8, 0) < 0)
			return MNL_CB_ERROR;
		x->proto = mnl_attr_get_u8(a);
		x->has_proto = true;
		break;
	case CTA_PROTO_SRC_PORT:
		if (check(a, MNL_TYPE_U16, 0) < 0)
			return MNL_CB_ERROR;
		x->sport = mnl_attr_get_u16(a);
		x->has_sport = true;
		break;
	case CTA_PROTO_DST_PORT:
		if (check(a, MNL_TYPE_U16, 0) < 0)
			return MNL_CB_ERROR;
		x->dport = mnl_attr_get_u16(a);
		x->has_dport = true;
		break;
	}
	return MNL_CB_OK;
}

static int tuple_cb(const struct nlattr *a, void *data)
{
	struct entry *x = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_IP:
		if (check(a, MNL_TYPE_NESTED, 0) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, ip_cb, x);
	case CTA_TUPLE_PROTO:
		if (check(a, MNL_TYPE_NESTED, 0) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, proto_cb, x);
	case CTA_TUPLE_ZONE:
		if (check(a, MNL_TYPE_U16, 0) < 0)
			return MNL_CB_ERROR;
		x->tuple_zone = ntohs(mnl_attr_get_u16(a));
		x->has_tuple_zone = true;
		break;
	}
	return MNL_CB_OK;
}

static int entry_cb(const struct nlattr *a, void *data)
{
	struct entry *x = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_ORIG:
		if (check(a, MNL_TYPE_NESTED, 0) < 0)
			return MNL_CB_ERROR;
		return mnl_attr_parse_nested(a, tuple_cb, x);
	case CTA_MARK:
		if (check(a, MNL_TYPE_U32, 0) < 0)
			return MNL_CB_ERROR;
		x->mark = ntohl(mnl_attr_get_u32(a));
		x->has_mark = true;
		break;
	case CTA_ID:
		if (check(a, MNL_TYPE_U32, 0) < 0)
			return MNL_CB_ERROR;
		x->id = ntohl(mnl_attr_get_u32(a));
		x->has_id = true;
		break;
	case CTA_ZONE:
		if (check(a, MNL_TYPE_U16, 0) < 0)
			return MNL_CB_ERROR;
		x->zone = ntohs(mnl_attr_get_u16(a));
		x->has_zone = true;
		break;
	}
	return MNL_CB_OK;
}

/* 0 and *x, or -EBADMSG. */
static int read_entry(const struct nlmsghdr *nlh, struct entry *x)
{
	const struct nfgenmsg *nfg;

	memset(x, 0, sizeof(*x));
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW) ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	x->family = nfg->nfgen_family;
	if (x->family != AF_INET && x->family != AF_INET6)
		return -EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(*nfg), entry_cb, x) < 0)
		return -EBADMSG;
	return 0;
}

/* The entry's identity in a conntrack object: the original tuple (which the kernel looks
 * the entry up by) and its zones; the id is added to the request (build_delete()). */
static void identity(const struct entry *x, struct nf_conntrack *d)
{
	nfct_set_attr_u8(d, ATTR_ORIG_L3PROTO, x->family);
	if (x->family == AF_INET) {
		uint32_t a;

		memcpy(&a, x->src, 4);
		nfct_set_attr_u32(d, ATTR_ORIG_IPV4_SRC, a);
		memcpy(&a, x->dst, 4);
		nfct_set_attr_u32(d, ATTR_ORIG_IPV4_DST, a);
	} else {
		nfct_set_attr(d, ATTR_ORIG_IPV6_SRC, x->src);
		nfct_set_attr(d, ATTR_ORIG_IPV6_DST, x->dst);
	}
	nfct_set_attr_u8(d, ATTR_ORIG_L4PROTO, x->proto);
	nfct_set_attr_u16(d, ATTR_ORIG_PORT_SRC, x->sport);
	nfct_set_attr_u16(d, ATTR_ORIG_PORT_DST, x->dport);
	if (x->has_zone)
		nfct_set_attr_u16(d, ATTR_ZONE, x->zone);
	if (x->has_tuple_zone)
		nfct_set_attr_u16(d, ATTR_ORIG_ZONE, x->tuple_zone);
}

struct find_attr {
	uint16_t type;
	bool found;
};

static int find_cb(const struct nlattr *a, void *data)
{
	struct find_attr *f = data;

	f->found |= mnl_attr_get_type(a) == f->type;
	return MNL_CB_OK;
}

static bool has_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	struct find_attr f = { .type = type };

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), find_cb, &f);
	return f.found;
}

/* The delete of d into buf. A delete without a tuple is a flush of the whole family to
 * the kernel (ctnetlink_del_conntrack()), one without the id hits any entry of the tuple:
 * the request is checked to hold both. */
static int build_delete(const struct nf_conntrack *d, uint8_t family, uint32_t id, void *buf,
			size_t len, size_t *ret_len)
{
	/* nfct_nlmsg_build() writes without bounds: d holds only what identity() set, which
	 * fits with room to spare */
	char tmp[2 * CT_DELETE_MAX] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(tmp);
	struct nfgenmsg *nfg;
	bool orig = false, has_id = false;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (nfct_nlmsg_build(nlh, d) < 0)
		return -EBADMSG;
	/* nfct_nlmsg_build() leaves the id out (it builds creates and updates): without it
	 * the delete would hit whatever entry holds the tuple by then */
	mnl_attr_put_u32(nlh, CTA_ID, htonl(id));
	orig = has_attr(nlh, CTA_TUPLE_ORIG);
	has_id = has_attr(nlh, CTA_ID);
	if (!orig || !has_id || nlh->nlmsg_len > len || nlh->nlmsg_len > CT_DELETE_MAX)
		return -EBADMSG;
	memcpy(buf, tmp, nlh->nlmsg_len);
	*ret_len = nlh->nlmsg_len;
	return 0;
}

static bool wanted(const struct ct_mark *marks, size_t n, uint32_t mark, uint8_t family)
{
	struct ct_mark k = { .mark = mark, .family = family };

	return n && bsearch(&k, marks, n, sizeof(*marks), cmp_mark);
}

int ct_match_entry(const struct nlmsghdr *nlh, const struct ct_mark *marks, size_t n,
		   void *buf, size_t len, size_t *ret_len, int *kept)
{
	struct nf_conntrack *d;
	struct entry x;
	int r;

	*kept = 0;
	r = read_entry(nlh, &x);
	if (r < 0)
		return r;
	if (!x.has_mark || !wanted(marks, n, x.mark, x.family))
		return 0; /* another program's entry, or one of ours still in use */
	if (!x.has_proto || x.proto != IPPROTO_UDP) {
		*kept = 1; /* TCP and the rest have a teardown of their own */
		return 0;
	}
	if (!x.has_src || !x.has_dst || !x.has_sport || !x.has_dport || !x.has_id)
		return -EBADMSG; /* every UDP entry has them: the delete could not name it */
	d = nfct_new();
	if (!d)
		return -ENOMEM;
	identity(&x, d);
	r = build_delete(d, x.family, x.id, buf, len, ret_len);
	nfct_destroy(d);
	return r < 0 ? r : 1;
}

/* ---- dump, then delete ---- */

/* The deletes to send, packed back to back. */
struct victims {
	uint8_t *buf;
	size_t len, cap, n;
};

struct dump_ctx {
	const struct ct_mark *marks;
	size_t n;
	struct victims *v;
	struct ct_result *res;
};

static int victims_reserve(struct victims *v)
{
	size_t cap = v->cap ? v->cap * 2 : 16 * CT_DELETE_MAX;
	uint8_t *p;

	if (v->cap - v->len >= CT_DELETE_MAX)
		return 0;
	p = realloc(v->buf, cap);
	if (!p)
		return -ENOMEM;
	v->buf = p;
	v->cap = cap;
	return 0;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *x = data;
	size_t len = 0;
	int kept = 0, r;

	x->res->parts++;
	r = victims_reserve(x->v);
	if (r < 0)
		return r;
	r = ct_match_entry(nlh, x->marks, x->n, x->v->buf + x->v->len, CT_DELETE_MAX, &len,
			   &kept);
	x->res->kept += (size_t)kept;
	if (r <= 0)
		return r;
	x->v->len += NLMSG_ALIGN(len);
	x->v->n++;
	return 0;
}

/* A dump of the entries with exactly m's mark in m's family, or (m NULL) of every entry. */
static int dump(struct nl_sock *s, const struct ct_mark *m, struct dump_ctx *x)
{
	char buf[128] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = nl_seq_reserve(s, 1);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = m ? m->family : AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (m) {
		mnl_attr_put_u32(nlh, CTA_MARK, htonl(m->mark));
		mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(0xffffffff));
	}
	x->res->dumps++;
	return nl_request(s, nlh, dump_cb, x);
}

static int dump_retried(struct nl_sock *s, const struct ct_mark *m, struct dump_ctx *x)
{
	size_t len = x->v->len, n = x->v->n;
	int r = -EINTR;

	/* interrupted: what it collected may be incomplete, never wrong; read it again */
	for (int tries = 0; r == -EINTR && tries < CT_TRIES; tries++) {
		x->v->len = len;
		x->v->n = n;
		r = dump(s, m, x);
	}
	return r;
}

static const char *mark_family(uint8_t family)
{
	return family == AF_INET ? "ipv4" : "ipv6";
}

static int collect(struct nl_sock *s, const struct ct_mark *marks, size_t n,
		   struct victims *v, struct ct_result *res, struct nft_error *e)
{
	struct dump_ctx x = { .marks = marks, .n = n, .v = v, .res = res };
	int r;

	if (n > CT_FILTERED_DUMPS_MAX) {
		r = dump_retried(s, NULL, &x);
		return r < 0 ? nft_error_set(e, r, "dumping the conntrack table: %s",
					     strerror(-r)) : 0;
	}
	for (size_t i = 0; i < n; i++) {
		r = dump_retried(s, &marks[i], &x);
		if (r < 0)
			return nft_error_set(e, r, "dumping the conntrack entries of mark 0x%08x "
					     "(%s): %s", marks[i].mark,
					     mark_family(marks[i].family), strerror(-r));
	}
	return 0;
}

static int forget(struct nl_sock *s, struct victims *v, struct ct_result *res,
		  struct nft_error *e)
{
	size_t off = 0;

	for (size_t i = 0; i < v->n; i++) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(v->buf + off);
		int r;

		off += NLMSG_ALIGN(nlh->nlmsg_len);
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
		nlh->nlmsg_seq = nl_seq_reserve(s, 1);
		r = nl_request(s, nlh, NULL, NULL);
		if (r == -ENOENT) {
			res->gone++; /* timed out, or deleted by someone else, meanwhile */
			continue;
		}
		if (r < 0)
			return nft_error_set(e, r, "deleting a UDP conntrack entry: %s (%zu of %zu "
					     "deleted)", strerror(-r), res->deleted, v->n);
		res->deleted++;
	}
	return 0;
}

int ct_forget_udp(struct nl_sock *s, const struct ct_mark *marks, size_t n,
		  struct ct_result *res, struct nft_error *e)
{
	struct victims v = { 0 };
	int r;

	memset(res, 0, sizeof(*res));
	if (!n)
		return 0;
	r = collect(s, marks, n, &v, res, e);
	if (r >= 0)
		r = forget(s, &v, res, e);
	free(v.buf);
	return r;
}

int ct_forget_stale(struct nl_sock *s, const struct catalog *before, const struct catalog *after,
		    size_t *n_stale, struct ct_result *res, struct nft_error *e)
{
	struct ct_mark *marks = NULL;
	size_t n = 0;
	int r;

	*n_stale = 0;
	if (!before || !after)
		return 0;
	r = ct_stale_marks(before, after, &marks, &n);
	if (r < 0)
		return nft_error_set(e, r, "listing the removed endpoints: out of memory");
	*n_stale = n;
	if (n)
		r = ct_forget_udp(s, marks, n, res, e);
	free(marks);
	return r;
}
