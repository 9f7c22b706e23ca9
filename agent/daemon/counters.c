/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel counters -> metric samples (counters.h).
 *
 * A share's counters are one backendRef's: connections (the nat chain counts a
 * connection's first packet), resets, and packets/bytes of both directions. A route's
 * counters sum its shares over every listener it carries; its gateway and listener labels
 * name them when there is one, and are "" when the route carries several. The protocol
 * label ("TCP", "UDP": the listener's) keeps a TCPRoute and a UDPRoute of one name apart.
 */
#include <errno.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/object.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/daemon/counters.h"
#include "nft/sets.h"

#define LABELS 7 /* protocol, namespace, route, gateway, listener, backend, NULL */

struct value {
	char name[64];
	uint64_t packets, bytes;
};

struct dump {
	struct value *v;
	size_t n, cap;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct nftnl_obj *o = nftnl_obj_alloc();
	const char *name;
	int r = 0;

	if (!o)
		return -ENOMEM;
	if (nftnl_obj_nlmsg_parse(nlh, o) < 0 || !(name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME)))
		goto out;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct value *v = reallocarray(d->v, cap, sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		d->v = v;
		d->cap = cap;
	}
	snprintf(d->v[d->n].name, sizeof(d->v[d->n].name), "%s", name);
	d->v[d->n].packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
	d->v[d->n].bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
	d->n++;
out:
	nftnl_obj_free(o);
	return r;
}

static int cmp_value(const void *a, const void *b)
{
	return strcmp(((const struct value *)a)->name, ((const struct value *)b)->name);
}

static int read_counters(struct nl_sock *nl, const char *table, struct dump *d)
{
	char buf[512];
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (!o)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETOBJ, NFPROTO_INET, NLM_F_DUMP,
				    nl_seq_reserve(nl, 1));
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	r = nl_request(nl, nlh, dump_cb, d);
	if (r >= 0 && d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), cmp_value);
	return r;
}

/* One family's samples, with the label strings they point at. */
struct family {
	struct metric_sample *s;
	const char *(*labels)[LABELS];
	size_t n;
};

struct fill {
	const struct ruleset *rs;
	const struct dump *d;
	struct family f[8];      /* route conn, rej, packets, bytes; backend the same */
	char **strs;             /* owned label strings */
	size_t n_strs, cap_strs;
	int err;
};

static const char *keep(struct fill *x, char *s)
{
	if (!s)
		return NULL;
	if (x->n_strs == x->cap_strs) {
		size_t cap = x->cap_strs ? x->cap_strs * 2 : 256;
		char **v = reallocarray(x->strs, cap, sizeof(*v));

		if (!v) {
			free(s);
			return NULL;
		}
		x->strs = v;
		x->cap_strs = cap;
	}
	x->strs[x->n_strs++] = s;
	return s;
}

static int push(struct family *f, size_t cap, const char *const *labels, double v)
{
	if (f->n == cap)
		return -E2BIG;
	memcpy(f->labels[f->n], labels, sizeof(f->labels[0]));
	f->s[f->n].labels = f->labels[f->n];
	f->s[f->n].value = v;
	f->n++;
	return 0;
}

static const struct value *find(const struct dump *d, const char *name)
{
	struct value key;

	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, d->v, d->n, sizeof(key), cmp_value);
}

/* "ns/name" -> ns and name (copies). */
static void split(struct fill *x, const char *s, const char **ns, const char **name)
{
	const char *slash = s ? strchr(s, '/') : NULL;

	*ns = keep(x, slash ? strndup(s, (size_t)(slash - s)) : strdup(""));
	*name = keep(x, strdup(slash ? slash + 1 : s ? s : ""));
}

static const char *proto_name(uint8_t protocol)
{
	return protocol == IPPROTO_UDP ? "UDP" : protocol == IPPROTO_TCP ? "TCP" : "";
}

/* The protocol, gateway and listener of a route: the one listener its shares serve, else
 * "" (the protocol: the one all its listeners have, else ""). */
static void route_where(struct fill *x, size_t route, const char **proto, const char **gw,
			const char **ls)
{
	const struct plan_listener *one = NULL;
	bool several = false, mixed = false;

	*proto = *gw = *ls = "";
	for (size_t i = 0; i < x->rs->n_shares; i++) {
		const struct plan_listener *l;

		if (x->rs->shares[i].route != route)
			continue;
		l = &x->rs->plan->v[x->rs->shares[i].listener];
		if (one && one != l && strcmp(one->key, l->key))
			several = true;
		mixed |= one && one->protocol != l->protocol;
		if (!one)
			one = l;
	}
	if (!one)
		return;
	if (!mixed)
		*proto = proto_name(one->protocol);
	if (!several) {
		*gw = one->gateway;
		*ls = one->listener;
	}
}

static int sample_cb(const struct counter_obj *c, void *data)
{
	struct fill *x = data;
	const struct value *v = find(x->d, c->name);
	const char *labels[LABELS] = { 0 };
	bool route = c->sub >= 3;
	int kind = route ? c->sub - 3 : c->sub, base = route ? 0 : 4;
	size_t cap = x->rs->n_shares * 3 + x->rs->n_routes * 3;
	int r;

	if (!v)
		return 0; /* not (yet) in the kernel: no sample rather than a made-up 0 */
	if (route) {
		const struct lay_route *rt = &x->rs->routes[c->index];

		split(x, rt->name, &labels[1], &labels[2]);
		route_where(x, c->index, &labels[0], &labels[3], &labels[4]);
	} else {
		const struct lay_share *sh = &x->rs->shares[c->index];
		const struct plan_listener *l = &x->rs->plan->v[sh->listener];
		const char *b = sh->share && sh->share->backend ? sh->share->backend : "";
		const char *sp = strchr(b, ' ');

		labels[0] = proto_name(l->protocol);
		split(x, l->route ? l->route : "", &labels[1], &labels[2]);
		labels[3] = l->gateway;
		labels[4] = l->listener;
		labels[5] = sp ? sp + 1 : b; /* "Service ns/name:port" -> "ns/name:port" */
	}
	for (int i = 0; i < (route ? 5 : 6); i++)
		if (!labels[i])
			return -ENOMEM;
	if (kind == 2) { /* traffic: packets and bytes */
		r = push(&x->f[base + 2], cap, labels, (double)v->packets);
		if (r >= 0)
			r = push(&x->f[base + 3], cap, labels, (double)v->bytes);
		return r;
	}
	return push(&x->f[base + kind], cap, labels, (double)v->packets);
}

int daemon_counters_fill(struct daemon_metrics *dm, struct nl_sock *nl, const struct ruleset *rs)
{
	struct metric_family *fam[8] = {
		dm->route_connections, dm->route_rejects, dm->route_packets, dm->route_bytes,
		dm->backend_connections, dm->backend_rejects, dm->backend_packets, dm->backend_bytes,
	};
	struct dump d = { 0 };
	struct fill x = { .rs = rs, .d = &d };
	size_t cap = rs->n_shares * 3 + rs->n_routes * 3 + 1;
	int r;

	r = read_counters(nl, rs->table, &d);
	for (int i = 0; r >= 0 && i < 8; i++) {
		x.f[i].s = calloc(cap, sizeof(*x.f[i].s));
		x.f[i].labels = calloc(cap, sizeof(*x.f[i].labels));
		if (!x.f[i].s || !x.f[i].labels)
			r = -ENOMEM;
	}
	if (r >= 0)
		r = counter_foreach(rs, sample_cb, &x);
	for (int i = 0; r >= 0 && i < 8; i++)
		r = metric_family_replace(fam[i], x.f[i].s, x.f[i].n);
	for (int i = 0; i < 8; i++) {
		free(x.f[i].s);
		free(x.f[i].labels);
	}
	for (size_t i = 0; i < x.n_strs; i++)
		free(x.strs[i]);
	free(x.strs);
	free(d.v);
	return r;
}
