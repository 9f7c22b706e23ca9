/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan -> ruleset: share ids, slot tables and map elements. Pure: no kernel, no I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nft/ids.h"
#include "nft/layout.h"

#define COMMENT_MAX 127 /* nft refuses comments past 128 bytes (NFTNL_UDATA_COMMENT_MAXLEN) */

static const char *const kind_names[LAY__KINDS] = { "any4", "any6", "addr4", "addr6" };

const char *lay_kind_name(enum lay_kind k)
{
	return k < LAY__KINDS ? kind_names[k] : "?";
}

const char *lay_proto_name(uint8_t protocol)
{
	return protocol == IPPROTO_TCP ? "tcp" : protocol == IPPROTO_UDP ? "udp" : "?";
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

struct frac_ctx {
	const uint64_t *rem;
	const uint64_t *den;
};

/* Largest remainder first; equal remainders keep group order, so the result is
 * deterministic. */
static int cmp_remainder(const void *a, const void *b, void *data)
{
	const struct frac_ctx *c = data;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	unsigned __int128 l = (unsigned __int128)c->rem[i] * c->den[j];
	unsigned __int128 r = (unsigned __int128)c->rem[j] * c->den[i];

	if (l != r)
		return l > r ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* The smallest total S such that every unit's probability is exact, or 0 past cap. */
static uint64_t exact_total(const uint32_t *w, const uint32_t *n, size_t k, uint64_t g,
			    uint64_t wsum, uint32_t cap)
{
	uint64_t s = 1;

	for (size_t i = 0; i < k; i++) {
		uint64_t wi, den, need;

		if (!w[i])
			continue;
		wi = w[i] / g;
		den = wsum * n[i];
		need = den / gcd64(wi, den);
		s = s / gcd64(s, need) * need;
		if (s > cap)
			return 0;
	}
	return s;
}

static int apportion_capped(const uint32_t *w, const uint32_t *n, size_t k, uint32_t cap,
			    uint64_t g, uint64_t wsum, uint32_t *counts)
{
	uint64_t *rem = calloc(k, sizeof(*rem)), *den = calloc(k, sizeof(*den));
	size_t *order = calloc(k, sizeof(*order)), *first = calloc(k, sizeof(*first));
	uint64_t given = 0, left;
	size_t u = 0;
	int r = -ENOMEM;

	if (!rem || !den || !order || !first)
		goto out;
	for (size_t i = 0; i < k; i++) {
		uint64_t wi = w[i] / g, fl;

		den[i] = wsum * n[i];
		fl = w[i] ? (uint64_t)cap * wi / den[i] : 0;
		rem[i] = w[i] ? (uint64_t)cap * wi % den[i] : 0;
		first[i] = u;
		for (uint32_t j = 0; j < n[i]; j++)
			counts[u++] = (uint32_t)fl;
		given += fl * n[i];
		order[i] = i;
	}
	qsort_r(order, k, sizeof(*order), cmp_remainder, &(struct frac_ctx){ rem, den });
	/* The remainders sum to less than one slot per unit, so this loop ends inside. */
	left = cap - given;
	for (size_t o = 0; o < k && left; o++) {
		size_t i = order[o];

		if (!rem[i])
			break;
		for (uint32_t j = 0; j < n[i] && left; j++, left--)
			counts[first[i] + j]++;
	}
	r = 0;
out:
	free(rem);
	free(den);
	free(order);
	free(first);
	return r;
}

int layout_apportion(const uint32_t *w, const uint32_t *n, size_t k, uint32_t cap,
		     uint32_t *counts, uint32_t *ret_total)
{
	uint64_t g = 0, wsum = 0, s;
	size_t u = 0;
	int r;

	if (!cap)
		return -EINVAL;
	for (size_t i = 0; i < k; i++) {
		if (!n[i])
			return -EINVAL;
		if (w[i])
			g = gcd64(g, w[i]);
	}
	if (!g)
		return -EINVAL;
	for (size_t i = 0; i < k; i++)
		wsum += w[i] / g;
	s = exact_total(w, n, k, g, wsum, cap);
	if (!s) {
		r = apportion_capped(w, n, k, cap, g, wsum, counts);
		if (r < 0)
			return r;
		*ret_total = cap;
		return 0;
	}
	for (size_t i = 0; i < k; i++)
		for (uint32_t j = 0; j < n[i]; j++)
			counts[u++] = w[i] ? (uint32_t)(s * (w[i] / g) / (wsum * n[i])) : 0;
	*ret_total = (uint32_t)s;
	return 0;
}

/* ---- building ---- */

/* Per plan listener: its shares in rs->shares and its slot table per family. */
struct lay_listener {
	size_t first, n_shares;
	const uint32_t *marks[2];
	uint32_t n_slots[2];
};

struct lay_builder {
	struct ruleset *rs;
	const struct lay_ids *prev;     /* NULL: a fresh assignment */
	struct lay_listener *ls;        /* one per plan listener */
	uint32_t *start;                /* per share: where a new id's search starts */
	size_t cap_start, cap_routes, cap_shares, cap_endpoints[2], cap_entries[LAY__KINDS];
	size_t cap_tables;
	struct nft_error *e;
};

static int grow(void *pv, size_t *cap, size_t need, size_t size)
{
	void **v = pv;
	size_t nc;
	void *nv;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	nv = reallocarray(*v, nc, size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* Comments end up inside nft text ("..."): keep them printable, quote-free and short. */
static char *comment_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *comment_new(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	for (char *p = s; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '_';
	if (n > COMMENT_MAX)
		s[COMMENT_MAX] = '\0';
	return s;
}

/* An identity key (nft/ids.h): exact, never shortened. */
static char *key_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *key_new(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* A UDP listener is carried by a UDPRoute: its route's identity and comments say so, so
 * that a TCPRoute and a UDPRoute of one name are two routes. A TCPRoute's stay what they
 * always were (its ids, tags and counter names survive an upgrade). */
static bool carried_by_udproute(const struct plan_listener *l)
{
	return l->protocol == IPPROTO_UDP;
}

static const char *route_key_prefix(const struct plan_listener *l)
{
	return carried_by_udproute(l) ? "udproute\n" : "";
}

static const char *route_word(const struct plan_listener *l)
{
	return carried_by_udproute(l) ? "udproute" : "route";
}

/* Where a new share's id search starts: a hash of what the share is (the same hash ids
 * always started from, so a fresh layout numbers as before). */
static uint32_t share_start(const struct plan_listener *l, const struct plan_share *s)
{
	char num[64];
	uint32_t h = 2166136261u;

	h = fnv1a(h, l->key);
	h = fnv1a(h, "\n");
	if (s) {
		snprintf(num, sizeof(num), "\n%u\n%u\n", s->rule, s->ref);
		h = fnv1a(h, route_key_prefix(l));
		h = fnv1a(h, l->route);
		h = fnv1a(h, num);
		h = fnv1a(h, s->backend);
	} else {
		h = fnv1a(h, "#listener");
	}
	return h % LAYOUT_MAX_SHARES + 1;
}

/* Appends a share; takes ownership of key and comment (NULL: out of memory), freeing them
 * on failure. */
static int push_share(struct lay_builder *b, size_t li, const struct plan_share *s, char *key,
		      char *comment, uint32_t start, size_t *ret_index)
{
	struct ruleset *rs = b->rs;
	struct lay_share *sh;
	int r = -ENOMEM;

	if (key && comment)
		r = grow(&rs->shares, &b->cap_shares, rs->n_shares + 1, sizeof(*rs->shares));
	if (r >= 0)
		r = grow(&b->start, &b->cap_start, rs->n_shares + 1, sizeof(*b->start));
	if (r < 0) {
		free(key);
		free(comment);
		return r;
	}
	sh = &rs->shares[rs->n_shares];
	memset(sh, 0, sizeof(*sh));
	sh->key = key;
	sh->comment = comment;
	sh->listener = li;
	sh->share = s;
	sh->route = LAY_NO_ROUTE;
	b->start[rs->n_shares] = start;
	*ret_index = rs->n_shares++;
	return 0;
}

/* A share of listener li: backendRef s, or (s NULL) the listener rejecting as a whole. */
static int add_share(struct lay_builder *b, size_t li, const struct plan_share *s)
{
	const struct plan_listener *l = &b->rs->plan->v[li];
	const char *route = l->route ? l->route : "-";
	char *key, *comment;
	size_t idx;

	/* A counter's comment names what it counts, never why it resets: the kernel cannot
	 * change an object's comment, and a backend losing its last ready endpoint must stay
	 * an element update (docs/layout.md). Reasons go on elements (sets.c). */
	if (!s) {
		key = key_new("listener\n%s", l->key);
		comment = comment_new("listener %s rejects", l->key);
	} else {
		key = key_new("ref\n%s\n%s%s\n%u\n%u\n%s", l->key, route_key_prefix(l), route,
			      s->rule, s->ref, s->backend ? s->backend : "-");
		comment = comment_new("%s %s rule %u ref %u %s", route_word(l), route, s->rule,
				      s->ref, s->backend ? s->backend : "-");
	}
	return push_share(b, li, s, key, comment, share_start(l, s), &idx);
}

/* resolve() refuses (as a located input error) and rejects any share the index bits cannot
 * number, so the check in check_endpoints() is only a guard against a plan from elsewhere. */
_Static_assert(LAYOUT_MAX_SHARE_ENDPOINTS == PLAN_MAX_SHARE_ENDPOINTS,
	       "model/plan.h and nft/layout.h disagree on the endpoints per share");

static int check_endpoints(struct lay_builder *b, const struct plan_listener *l,
			   const struct plan_share *s)
{
	uint32_t count[2] = { 0, 0 };

	for (size_t i = 0; i < s->n_endpoints; i++) {
		const struct plan_endpoint *ep = &s->endpoints[i];
		int f = ep->family == AF_INET6;

		if (ep->family != AF_INET && ep->family != AF_INET6)
			return nft_error_set(b->e, -EINVAL, "listener %s: %s: endpoint %zu has "
					     "address family %u", l->key, s->backend, i, ep->family);
		if (count[f]++ >= LAYOUT_MAX_SHARE_ENDPOINTS)
			return nft_error_set(b->e, -E2BIG, "listener %s route %s: %s has more than "
					     "%u IPv%d endpoints", l->key, l->route, s->backend,
					     LAYOUT_MAX_SHARE_ENDPOINTS, f ? 6 : 4);
	}
	return 0;
}

/* An element of listen_<k> for listener li; its marks come once ids are known. */
static int add_entry(struct lay_builder *b, enum lay_kind k, size_t li, const uint8_t *addr)
{
	const struct plan_listener *l = &b->rs->plan->v[li];
	struct ruleset *rs = b->rs;
	struct lay_entry *en;
	int r;

	r = grow(&rs->entries[k], &b->cap_entries[k], rs->n_entries[k] + 1, sizeof(*en));
	if (r < 0)
		return r;
	en = &rs->entries[k][rs->n_entries[k]];
	memset(en, 0, sizeof(*en));
	if (addr)
		memcpy(en->addr, addr, lay_kind_v6(k) ? 16 : 4);
	en->protocol = l->protocol;
	en->port = l->port;
	en->listener = li;
	en->first_share = b->ls[li].first;
	en->n_shares = b->ls[li].n_shares;
	if (l->action == PLAN_FORWARD && l->route)
		en->comment = comment_new("listener %s route %s", l->key, l->route);
	else
		en->comment = comment_new("listener %s rejects: %s", l->key,
					  l->action == PLAN_REJECT && l->reject_reason ?
						  l->reject_reason : "no route carries traffic");
	if (!en->comment)
		return -ENOMEM;
	rs->n_entries[k]++;
	return 0;
}

static bool listener_rejects_all(const struct plan_listener *l)
{
	uint64_t sum = 0;

	if (l->action == PLAN_REJECT)
		return true;
	for (size_t i = 0; i < l->n_shares; i++)
		sum += l->shares[i].weight;
	return sum == 0;
}

/* The listener's shares and map elements (ids, endpoints and slots come later). */
static int add_listener(struct lay_builder *b, size_t li)
{
	const struct plan_listener *l = &b->rs->plan->v[li];
	struct ruleset *rs = b->rs;
	int r;

	if (l->protocol != IPPROTO_TCP && l->protocol != IPPROTO_UDP)
		return nft_error_set(b->e, -EINVAL, "listener %s: protocol %u is neither TCP nor "
				     "UDP", l->key, l->protocol);
	if (!l->port)
		return nft_error_set(b->e, -EINVAL, "listener %s: port 0", l->key);
	b->ls[li].first = rs->n_shares;
	if (listener_rejects_all(l)) {
		r = add_share(b, li, NULL);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < l->n_shares; i++) {
			if (!l->shares[i].weight)
				continue; /* weight 0 gets nothing: no slot, no counter */
			if (!l->shares[i].reject) {
				r = check_endpoints(b, l, &l->shares[i]);
				if (r < 0)
					return r;
			}
			r = add_share(b, li, &l->shares[i]);
			if (r < 0)
				return r;
		}
	}
	b->ls[li].n_shares = rs->n_shares - b->ls[li].first;
	if (!l->n_addrs) {
		r = add_entry(b, LAY_ANY4, li, NULL);
		if (r >= 0)
			r = add_entry(b, LAY_ANY6, li, NULL);
		return r;
	}
	for (size_t a = 0; a < l->n_addrs; a++) {
		int f = l->addrs[a].family == AF_INET6;

		if (l->addrs[a].family != AF_INET && l->addrs[a].family != AF_INET6)
			return nft_error_set(b->e, -EINVAL, "listener %s: address %zu has family %u",
					     l->key, a, l->addrs[a].family);
		r = add_entry(b, f ? LAY_ADDR6 : LAY_ADDR4, li, l->addrs[a].addr);
		if (r < 0)
			return r;
	}
	return 0;
}

static size_t addr_len_of(enum lay_kind k)
{
	return lay_kind_addr(k) ? (lay_kind_v6(k) ? 16 : 4) : 0;
}

static int cmp_entry(const void *a, const void *b, void *data)
{
	const struct lay_entry *x = a, *y = b;
	size_t alen = *(const size_t *)data;
	int c = memcmp(x->addr, y->addr, alen);

	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->protocol != y->protocol)
		return x->protocol < y->protocol ? -1 : 1;
	return x->listener < y->listener ? -1 : x->listener > y->listener;
}

/* Two listeners that own the same map key (protocol and port, or address, protocol and
 * port) conflict: the model rejects both, and the kernel can hold one element. When every
 * one of them rejects, the first one's element stands for all; if any would forward, a
 * conflict share (its identity: the map key) resets the key (never forward a port two
 * listeners claim). The others' comments are freed here and their pointers cleared, so
 * that a failure at any point leaves every comment owned exactly once. */
static int merge_conflict(struct lay_builder *b, enum lay_kind k, size_t first, size_t n)
{
	struct ruleset *rs = b->rs;
	struct lay_entry *en = &rs->entries[k][first];
	const struct plan_listener *l0 = &rs->plan->v[en->listener];
	const struct plan_listener *l1 = &rs->plan->v[rs->entries[k][first + 1].listener];
	char addr[INET6_ADDRSTRLEN] = "*", *key;
	bool all_reject = true;
	size_t idx;
	int r;

	for (size_t i = first; i < first + n; i++)
		all_reject &= listener_rejects_all(&rs->plan->v[rs->entries[k][i].listener]);
	for (size_t i = first + 1; i < first + n; i++) {
		free(rs->entries[k][i].comment);
		rs->entries[k][i].comment = NULL;
	}
	if (!all_reject) {
		if (lay_kind_addr(k))
			inet_ntop(lay_kind_v6(k) ? AF_INET6 : AF_INET, en->addr, addr,
				  sizeof(addr));
		/* a TCP key's identity is what it always was; a UDP one's names its protocol */
		key = key_new("conflict\n%s\n%s\n%u%s", lay_kind_name(k), addr, l0->port,
			      en->protocol == IPPROTO_UDP ? "\nudp" : "");
		r = push_share(b, en->listener, NULL, key,
			       /* named by the key it resets; who conflicts is on the element */
			       comment_new("%s port %u on %s: conflict rejects",
					   en->protocol == IPPROTO_UDP ? "UDP" : "TCP", l0->port,
					   lay_kind_addr(k) ? addr : lay_kind_v6(k) ? "any IPv6 address" :
					   "any IPv4 address"),
			       key ? fnv1a(2166136261u, key) % LAYOUT_MAX_SHARES + 1 : 1, &idx);
		if (r < 0)
			return r;
		en->conflict = true;
		en->first_share = idx;
		en->n_shares = 1;
	}
	free(en->comment);
	en->comment = comment_new("listeners %s and %s%s conflict", l0->key, l1->key,
				  n > 2 ? " and more" : "");
	return en->comment ? 0 : -ENOMEM;
}

/* Sorts the elements (their order is the batch's and the text's) and merges conflicting
 * listeners. An element moved down leaves a NULL comment behind (owned once, see above);
 * n_entries shrinks only at the end, over slots whose comments are all moved or freed. */
static int merge_kind(struct lay_builder *b, enum lay_kind k)
{
	struct ruleset *rs = b->rs;
	struct lay_entry *v = rs->entries[k];
	size_t alen = addr_len_of(k), n = rs->n_entries[k], out = 0;

	if (n > 1)
		qsort_r(v, n, sizeof(struct lay_entry), cmp_entry, &alen);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		int r;

		while (j < n && v[j].port == v[i].port && v[j].protocol == v[i].protocol &&
		       !memcmp(v[j].addr, v[i].addr, alen))
			j++;
		if (j - i > 1) {
			r = merge_conflict(b, k, i, j - i);
			if (r < 0)
				return r;
		}
		if (out != i) {
			v[out] = v[i];
			v[i].comment = NULL;
		}
		out++;
		i = j;
	}
	rs->n_entries[k] = out;
	return 0;
}

struct route_ref {
	const char *name;
	uint8_t protocol;       /* its listener's: which kind of route */
	size_t share;           /* index in rs->shares */
};

static int cmp_route_id(const struct route_ref *x, const struct route_ref *y)
{
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return (x->protocol > y->protocol) - (x->protocol < y->protocol);
}

static int cmp_route_ref(const void *a, const void *b)
{
	const struct route_ref *x = a, *y = b;
	int c = cmp_route_id(x, y);

	if (c)
		return c;
	return x->share < y->share ? -1 : x->share > y->share;
}

static int cmp_route_head(const void *a, const void *b)
{
	const struct route_ref *x = a, *y = b;

	return x->share < y->share ? -1 : x->share > y->share;
}

/* The routes the shares with a backendRef belong to (a share always has a route: the nat
 * rules count it on both), in order of first appearance. */
static int collect_routes(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	struct route_ref *refs = calloc(rs->n_shares ? rs->n_shares : 1, sizeof(*refs));
	struct route_ref *heads = calloc(rs->n_shares ? rs->n_shares : 1, sizeof(*heads));
	size_t n = 0, n_heads = 0;
	int r = -ENOMEM;

	if (!refs || !heads)
		goto out;
	for (size_t i = 0; i < rs->n_shares; i++) {
		const struct plan_listener *l = &rs->plan->v[rs->shares[i].listener];

		if (rs->shares[i].share)
			refs[n++] = (struct route_ref){ l->route ? l->route : "-", l->protocol, i };
	}
	qsort(refs, n, sizeof(*refs), cmp_route_ref);
	for (size_t i = 0; i < n; i++)
		if (!i || cmp_route_id(&refs[i], &refs[i - 1]))
			heads[n_heads++] = refs[i]; /* its first share: the group's smallest */
	qsort(heads, n_heads, sizeof(*heads), cmp_route_head);
	r = grow(&rs->routes, &b->cap_routes, n_heads, sizeof(*rs->routes));
	for (size_t k = 0; r >= 0 && k < n_heads; k++) {
		struct lay_route *rt = &rs->routes[k];

		const struct plan_listener *l = &rs->plan->v[rs->shares[heads[k].share].listener];

		memset(rt, 0, sizeof(*rt));
		rt->name = heads[k].name;
		rt->protocol = heads[k].protocol;
		rt->key = key_new("%s%s", route_key_prefix(l), rt->name);
		rt->comment = comment_new("%s %s", route_word(l), rt->name);
		rs->n_routes++; /* counted first: ruleset_free() frees what it got */
		if (!rt->key || !rt->comment) {
			r = -ENOMEM;
			break;
		}
		/* the group of this head in refs: the shares of this route */
		for (struct route_ref *g = bsearch(&heads[k], refs, n, sizeof(*refs),
						   cmp_route_ref);
		     g < refs + n && !cmp_route_id(g, &heads[k]); g++)
			rs->shares[g->share].route = k;
	}
out:
	free(refs);
	free(heads);
	return r;
}

/* Route ids, then share ids and endpoint indexes, from the previous assignment. */
static int number_routes(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	struct ids_req *q = calloc(rs->n_routes ? rs->n_routes : 1, sizeof(*q));
	int r = -ENOMEM;

	if (!q)
		return r;
	for (size_t i = 0; i < rs->n_routes; i++)
		ids_req_init(&q[i], rs->routes[i].key,
			     fnv1a(2166136261u, rs->routes[i].key) % LAYOUT_MAX_ROUTES + 1);
	r = ids_assign(b->prev, IDS_ROUTES, q, rs->n_routes, LAYOUT_MAX_ROUTES);
	if (r == -E2BIG)
		nft_error_set(b->e, r, "more than %u routes in the plan", LAYOUT_MAX_ROUTES);
	else if (r == -EEXIST)
		nft_error_set(b->e, r, "route %s: every candidate counter tag is taken",
			      rs->routes[0].name);
	for (size_t i = 0; r >= 0 && i < rs->n_routes; i++) {
		rs->routes[i].id = q[i].id;
		rs->routes[i].tag = q[i].tag;
	}
	free(q);
	return r;
}

static int number_shares(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	struct ids_req *q = calloc(rs->n_shares ? rs->n_shares : 1, sizeof(*q));
	int r = -ENOMEM;

	if (!q)
		return r;
	for (size_t i = 0; i < rs->n_shares; i++)
		ids_req_init(&q[i], rs->shares[i].key, b->start[i]);
	r = ids_assign(b->prev, IDS_SHARES, q, rs->n_shares, LAYOUT_MAX_SHARES);
	if (r == -E2BIG)
		nft_error_set(b->e, r, "more than %u shares in the plan", LAYOUT_MAX_SHARES);
	else if (r == -EEXIST)
		nft_error_set(b->e, r, "a share's every candidate counter tag is taken");
	for (size_t i = 0; r >= 0 && i < rs->n_shares; i++) {
		struct lay_share *sh = &rs->shares[i];
		const struct plan_share *s = sh->share;

		sh->id = q[i].id;
		sh->tag = q[i].tag;
		if (!s || s->reject || !s->n_endpoints)
			continue;
		sh->ep_index = calloc(s->n_endpoints, sizeof(*sh->ep_index));
		if (!sh->ep_index) {
			r = -ENOMEM;
			break;
		}
		r = ids_assign_endpoints(b->prev, q[i].prev, s->endpoints, s->n_endpoints,
					 sh->ep_index);
	}
	free(q);
	return r;
}

static uint32_t mark_of(const struct lay_share *sh, size_t endpoint)
{
	return sh->id << LAYOUT_SHARE_SHIFT | sh->ep_index[endpoint];
}

/* endpoint4 / endpoint6: every endpoint of every forwarding share, sorted by mark. */
static int add_endpoints(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	int r;

	for (size_t si = 0; si < rs->n_shares; si++) {
		struct lay_share *sh = &rs->shares[si];
		const struct plan_share *s = sh->share;

		if (!sh->ep_index)
			continue;
		for (size_t i = 0; i < s->n_endpoints; i++) {
			int f = s->endpoints[i].family == AF_INET6;
			struct lay_endpoint *le;

			r = grow(&rs->endpoints[f], &b->cap_endpoints[f], rs->n_endpoints[f] + 1,
				 sizeof(*rs->endpoints[f]));
			if (r < 0)
				return r;
			le = &rs->endpoints[f][rs->n_endpoints[f]++];
			memset(le, 0, sizeof(*le));
			le->mark = mark_of(sh, i);
			memcpy(le->addr, s->endpoints[i].addr, f ? 16 : 4);
			le->port = s->endpoints[i].port;
			le->share = si;
		}
		sh->forwards = true;
		rs->n_plan_endpoints += s->n_endpoints;
	}
	return 0;
}

static size_t family_count(const struct plan_share *s, int family)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_endpoints; i++)
		n += s->endpoints[i].family == family;
	return n;
}

/* The endpoints of sh's family `family` that slot_table() draws from; 0 for a share that
 * resets (reject share, listener share, no endpoint of that family). */
static size_t units_of(const struct lay_share *sh, int family)
{
	return sh->share && !sh->share->reject ? family_count(sh->share, family) : 0;
}

static uint32_t *fill(uint32_t *at, uint32_t count, uint32_t mark)
{
	for (uint32_t c = 0; c < count; c++)
		*at++ = mark;
	return at;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Fills the slots of sh's endpoints of `family` in the order of their indexes, not of
 * their addresses: a pod replaced by one at another address takes the freed index, and so
 * the same slots, and only its endpoint element changes. counts holds a count per unit;
 * *u is advanced past sh's units. Returns the end of the filled slots, or NULL (-ENOMEM). */
static uint32_t *fill_share(uint32_t *at, const struct lay_share *sh, int family,
			    const uint32_t *counts, size_t *u)
{
	const struct plan_share *s = sh->share;
	uint32_t *order = calloc(family_count(s, family), sizeof(*order));
	size_t n = 0;

	if (!order)
		return NULL;
	for (size_t e = 0; e < s->n_endpoints; e++)
		if (s->endpoints[e].family == family)
			order[n++] = mark_of(sh, e);
	qsort(order, n, sizeof(*order), cmp_u32);
	for (size_t i = 0; i < n; i++)
		at = fill(at, counts[(*u)++], order[i]);
	free(order);
	return at;
}

/* Slots of one (listener, family): shares [first, first + n) of rs->shares, all with
 * weight > 0. Units are endpoints of that family (in the order of their own, stable
 * index), or one reset unit for a share that has none (or is a reject share). */
static int slot_table(struct lay_builder *b, size_t first, size_t n, int family,
		      uint32_t **ret_marks, uint32_t *ret_n)
{
	struct ruleset *rs = b->rs;
	uint32_t *w = calloc(n ? n : 1, sizeof(*w)), *units = calloc(n ? n : 1, sizeof(*units));
	uint32_t *counts = NULL, *marks = NULL, *at, total = 0;
	size_t n_units = 0, u = 0;
	int r = -ENOMEM;

	if (!w || !units)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct lay_share *sh = &rs->shares[first + i];
		size_t nf = units_of(sh, family);

		w[i] = sh->share ? sh->share->weight : 1;
		units[i] = nf ? (uint32_t)nf : 1;
		n_units += units[i];
	}
	counts = calloc(n_units ? n_units : 1, sizeof(*counts));
	if (!counts)
		goto out;
	r = layout_apportion(w, units, n, LAYOUT_SLOT_CAP, counts, &total);
	if (r < 0)
		goto out;
	at = marks = calloc(total, sizeof(*marks));
	if (!marks) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lay_share *sh = &rs->shares[first + i];

		if (!units_of(sh, family)) {
			sh->rejects |= counts[u] > 0;
			at = fill(at, counts[u++], sh->id << LAYOUT_SHARE_SHIFT | LAYOUT_REJECT);
			continue;
		}
		at = fill_share(at, sh, family, counts, &u);
		if (!at) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret_marks = marks;
	*ret_n = total;
	marks = NULL;
	r = 0;
out:
	free(w);
	free(units);
	free(counts);
	free(marks);
	return r;
}

/* Takes ownership of marks (freed on failure). */
static int keep_table(struct lay_builder *b, uint32_t *marks)
{
	struct ruleset *rs = b->rs;
	int r = grow(&rs->slot_tables, &b->cap_tables, rs->n_slot_tables + 1,
		     sizeof(*rs->slot_tables));

	if (r < 0) {
		free(marks);
		return r;
	}
	rs->slot_tables[rs->n_slot_tables++] = marks;
	return 0;
}

/* Every listener's slot table per family it has elements of (also when a conflict took its
 * elements: its shares' counters exist all the same), then each element's. */
static int add_slots(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	int r;

	for (size_t li = 0; li < rs->plan->n; li++) {
		const struct plan_listener *l = &rs->plan->v[li];
		struct lay_listener *ls = &b->ls[li];

		for (int f = 0; f < 2; f++) {
			bool wanted = !l->n_addrs;
			uint32_t *marks = NULL;

			for (size_t a = 0; a < l->n_addrs; a++)
				wanted |= l->addrs[a].family == (f ? AF_INET6 : AF_INET);
			if (!wanted)
				continue;
			r = slot_table(b, ls->first, ls->n_shares, f ? AF_INET6 : AF_INET, &marks,
				       &ls->n_slots[f]);
			if (r >= 0)
				r = keep_table(b, marks);
			if (r < 0)
				return r;
			ls->marks[f] = marks;
		}
	}
	for (int k = 0; k < LAY__KINDS; k++)
		for (size_t i = 0; i < rs->n_entries[k]; i++) {
			struct lay_entry *en = &rs->entries[k][i];
			struct lay_share *sh = &rs->shares[en->first_share];
			uint32_t *marks;

			if (!en->conflict) {
				en->marks = b->ls[en->listener].marks[lay_kind_v6(k)];
				en->n_slots = b->ls[en->listener].n_slots[lay_kind_v6(k)];
				continue;
			}
			marks = calloc(1, sizeof(*marks));
			r = marks ? keep_table(b, marks) : -ENOMEM;
			if (r < 0)
				return r;
			marks[0] = sh->id << LAYOUT_SHARE_SHIFT | LAYOUT_REJECT;
			sh->rejects = true;
			en->marks = marks;
			en->n_slots = 1;
		}
	return 0;
}

static int cmp_endpoint(const void *a, const void *b)
{
	const struct lay_endpoint *x = a, *y = b;

	return x->mark < y->mark ? -1 : x->mark > y->mark;
}

/* The distinct slot counts of kind k, ascending: one pick chain each. */
static int list_moduli(struct ruleset *rs, enum lay_kind k)
{
	size_t n = rs->n_entries[k];

	rs->moduli[k] = calloc(n ? n : 1, sizeof(uint32_t));
	if (!rs->moduli[k])
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		rs->moduli[k][i] = rs->entries[k][i].n_slots;
	if (n > 1)
		qsort(rs->moduli[k], n, sizeof(uint32_t), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (!rs->n_moduli[k] || rs->moduli[k][rs->n_moduli[k] - 1] != rs->moduli[k][i])
			rs->moduli[k][rs->n_moduli[k]++] = rs->moduli[k][i];
	return 0;
}

/* A route has a counter of a kind when one of its shares has one (after the slot tables
 * decided which shares reset), so a route that only resets has no conn/traffic counters. */
static void route_flags(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n_shares; i++) {
		const struct lay_share *sh = &rs->shares[i];

		if (sh->route == LAY_NO_ROUTE)
			continue;
		rs->routes[sh->route].forwards |= sh->forwards;
		rs->routes[sh->route].rejects |= sh->rejects;
	}
}

/* nft 1.0.6 parses table names only as bare identifiers (no quoted form): accept what the
 * dry-run script can name, so that it always loads. */
static bool table_name_ok(const char *t)
{
	if (!t || !((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || *t == '_'))
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= '0' && *t <= '9') || *t == '_' || *t == '-' || *t == '.'))
			return false;
	return true;
}

/* The steps, in order: what exists (shares, elements, conflicts, routes), then who is who
 * (ids), then what the kernel holds (endpoints, slots, pick chains, counter flags). */
static int build(struct lay_builder *b)
{
	struct ruleset *rs = b->rs;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < rs->plan->n; i++)
		r = add_listener(b, i);
	for (int k = 0; r >= 0 && k < LAY__KINDS; k++)
		r = merge_kind(b, (enum lay_kind)k);
	if (r >= 0)
		r = collect_routes(b);
	if (r >= 0)
		r = number_routes(b);
	if (r >= 0)
		r = number_shares(b);
	if (r >= 0)
		r = add_endpoints(b);
	if (r >= 0)
		r = add_slots(b);
	for (int k = 0; r >= 0 && k < LAY__KINDS; k++)
		r = list_moduli(rs, (enum lay_kind)k);
	if (r < 0)
		return r;
	for (int f = 0; f < 2; f++)
		if (rs->n_endpoints[f] > 1)
			qsort(rs->endpoints[f], rs->n_endpoints[f], sizeof(struct lay_endpoint),
			      cmp_endpoint);
	route_flags(rs);
	return 0;
}

int layout_build_from(const struct plan *p, const char *table, bool masquerade,
		      const struct lay_ids *prev, struct ruleset **ret, struct nft_error *e)
{
	struct lay_builder b = { .prev = prev, .e = e };
	int r = -ENOMEM;

	if (!table_name_ok(table) || strlen(table) > 255)
		return nft_error_set(e, -EINVAL, "--table: '%s' is not a table name nftgate can "
				     "use: a letter or _ then letters, digits, _ - . (at most 255)",
				     table ? table : "");

	b.rs = calloc(1, sizeof(*b.rs));
	b.ls = calloc(p->n ? p->n : 1, sizeof(*b.ls));
	if (!b.rs || !b.ls)
		goto out;
	b.rs->plan = p;
	b.rs->masquerade = masquerade;
	b.rs->table = strdup(table);
	if (!b.rs->table)
		goto out;
	r = build(&b);
	if (r < 0)
		goto out;
	*ret = b.rs;
	b.rs = NULL;
out:
	if (r == -ENOMEM)
		nft_error_set(e, r, "out of memory building the layout");
	free(b.ls);
	free(b.start);
	ruleset_free(b.rs);
	return r;
}

int layout_build(const struct plan *p, const char *table, bool masquerade,
		 struct ruleset **ret, struct nft_error *e)
{
	return layout_build_from(p, table, masquerade, NULL, ret, e);
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	for (size_t i = 0; i < rs->n_shares; i++) {
		free(rs->shares[i].key);
		free(rs->shares[i].comment);
		free(rs->shares[i].ep_index);
	}
	free(rs->shares);
	for (size_t i = 0; i < rs->n_routes; i++) {
		free(rs->routes[i].key);
		free(rs->routes[i].comment);
	}
	free(rs->routes);
	for (int f = 0; f < 2; f++)
		free(rs->endpoints[f]);
	for (int k = 0; k < LAY__KINDS; k++) {
		for (size_t i = 0; i < rs->n_entries[k]; i++)
			free(rs->entries[k][i].comment);
		free(rs->entries[k]);
		free(rs->moduli[k]);
	}
	for (size_t i = 0; i < rs->n_slot_tables; i++)
		free(rs->slot_tables[i]);
	free(rs->slot_tables);
	free(rs->table);
	free(rs);
	return NULL;
}
