/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plan -> ruleset: share ids, slot tables and map elements. Pure: no kernel, no I/O.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nft/layout.h"

#define COMMENT_MAX 127 /* nft refuses comments past 128 bytes (NFTNL_UDATA_COMMENT_MAXLEN) */

static const char *const kind_names[LAY__KINDS] = { "any4", "any6", "addr4", "addr6" };

const char *lay_kind_name(enum lay_kind k)
{
	return k < LAY__KINDS ? kind_names[k] : "?";
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

struct lay_builder {
	struct ruleset *rs;
	uint8_t *used;              /* bitmap of taken share ids */
	uint32_t *route_at;         /* route id -> index in rs->routes + 1; 0: free */
	size_t cap_routes, cap_shares, cap_endpoints[2], cap_entries[LAY__KINDS], cap_tables;
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

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* A share id derived from what the share is, so that re-applying a plan where this share
 * persists gives it the same id (counters keep their names, marks keep their meaning).
 * Collisions probe linearly in plan order. */
static int share_id(struct lay_builder *b, const struct plan_listener *l,
		    const struct plan_share *s, uint32_t *ret)
{
	char num[64];
	uint32_t h = 2166136261u, id;

	h = fnv1a(h, l->key);
	h = fnv1a(h, "\n");
	if (s) {
		snprintf(num, sizeof(num), "\n%u\n%u\n", s->rule, s->ref);
		h = fnv1a(h, l->route);
		h = fnv1a(h, num);
		h = fnv1a(h, s->backend);
	} else {
		h = fnv1a(h, "#listener");
	}
	id = h % LAYOUT_MAX_SHARES + 1;
	for (uint32_t tries = 0; tries < LAYOUT_MAX_SHARES; tries++) {
		if (!(b->used[id >> 3] & (1u << (id & 7)))) {
			b->used[id >> 3] |= (uint8_t)(1u << (id & 7));
			*ret = id;
			return 0;
		}
		id = id % LAYOUT_MAX_SHARES + 1;
	}
	return nft_error_set(b->e, -E2BIG, "listener %s: more than %u shares in the plan",
			     l->key, LAYOUT_MAX_SHARES);
}

/* The route called name, added on first sight. Its id is a hash of the name alone (not of
 * the listeners it carries), probing linearly in plan order, so it stays the same across
 * applies while the route carries traffic: its counters keep their names and values. */
static int route_of(struct lay_builder *b, const char *name, size_t *ret_index)
{
	struct ruleset *rs = b->rs;
	uint32_t id = fnv1a(2166136261u, name) % LAYOUT_MAX_ROUTES + 1;
	struct lay_route *rt;
	int r;

	for (uint32_t tries = 0; b->route_at[id]; tries++) {
		if (!strcmp(rs->routes[b->route_at[id] - 1].name, name)) {
			*ret_index = b->route_at[id] - 1;
			return 0;
		}
		if (tries + 1 >= LAYOUT_MAX_ROUTES)
			return nft_error_set(b->e, -E2BIG, "route %s: more than %u routes in the "
					     "plan", name, LAYOUT_MAX_ROUTES);
		id = id % LAYOUT_MAX_ROUTES + 1;
	}
	r = grow(&rs->routes, &b->cap_routes, rs->n_routes + 1, sizeof(*rs->routes));
	if (r < 0)
		return r;
	rt = &rs->routes[rs->n_routes];
	memset(rt, 0, sizeof(*rt));
	rt->id = id;
	rt->name = name;
	rt->comment = comment_new("route %s", name);
	if (!rt->comment)
		return -ENOMEM;
	b->route_at[id] = (uint32_t)++rs->n_routes;
	*ret_index = rs->n_routes - 1;
	return 0;
}

static int add_share(struct lay_builder *b, size_t li, const struct plan_share *s,
		     size_t *ret_index)
{
	const struct plan_listener *l = &b->rs->plan->v[li];
	struct ruleset *rs = b->rs;
	struct lay_share *sh;
	int r;

	r = grow(&rs->shares, &b->cap_shares, rs->n_shares + 1, sizeof(*rs->shares));
	if (r < 0)
		return r;
	sh = &rs->shares[rs->n_shares];
	memset(sh, 0, sizeof(*sh));
	r = share_id(b, l, s, &sh->id);
	if (r < 0)
		return r;
	sh->listener = li;
	sh->share = s;
	sh->route = LAY_NO_ROUTE;
	/* A share with a backendRef always has a route: the nat rules count it on both. */
	if (s) {
		r = route_of(b, l->route ? l->route : "-", &sh->route);
		if (r < 0)
			return r;
	}
	if (!s)
		sh->comment = comment_new("listener %s rejects: %s", l->key,
					  l->action == PLAN_REJECT && l->reject_reason ?
						  l->reject_reason : "no route carries traffic");
	else if (s->reject)
		sh->comment = comment_new("route %s rule %u ref %u %s rejects: %s",
					  l->route ? l->route : "-", s->rule, s->ref,
					  s->backend ? s->backend : "-",
					  s->reason ? s->reason : "invalid backendRef");
	else
		sh->comment = comment_new("route %s rule %u ref %u %s", l->route ? l->route : "-",
					  s->rule, s->ref, s->backend ? s->backend : "-");
	if (!sh->comment)
		return -ENOMEM;
	rs->n_shares++;
	*ret_index = rs->n_shares - 1;
	return 0;
}

static int add_endpoints(struct lay_builder *b, size_t si)
{
	struct ruleset *rs = b->rs;
	struct lay_share *sh = &rs->shares[si];
	const struct plan_share *s = sh->share;
	uint32_t next[2] = { 0, 0 };
	int r;

	for (size_t i = 0; i < s->n_endpoints; i++) {
		const struct plan_endpoint *ep = &s->endpoints[i];
		int f = ep->family == AF_INET6;
		struct lay_endpoint *le;

		if (ep->family != AF_INET && ep->family != AF_INET6)
			return nft_error_set(b->e, -EINVAL, "listener %s: %s: endpoint %zu has "
					     "address family %u", rs->plan->v[sh->listener].key,
					     s->backend, i, ep->family);
		if (next[f] >= LAYOUT_MAX_SHARE_ENDPOINTS)
			return nft_error_set(b->e, -E2BIG, "listener %s route %s: %s has more than "
					     "%u IPv%d endpoints", rs->plan->v[sh->listener].key,
					     rs->plan->v[sh->listener].route, s->backend,
					     LAYOUT_MAX_SHARE_ENDPOINTS, f ? 6 : 4);
		r = grow(&rs->endpoints[f], &b->cap_endpoints[f], rs->n_endpoints[f] + 1,
			 sizeof(*rs->endpoints[f]));
		if (r < 0)
			return r;
		le = &rs->endpoints[f][rs->n_endpoints[f]++];
		memset(le, 0, sizeof(*le));
		le->mark = sh->id << LAYOUT_SHARE_SHIFT | next[f]++;
		memcpy(le->addr, ep->addr, f ? 16 : 4);
		le->port = ep->port;
		le->share = si;
		sh->forwards = true;
	}
	rs->n_plan_endpoints += s->n_endpoints;
	return 0;
}

static size_t family_count(const struct plan_share *s, int family)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_endpoints; i++)
		n += s->endpoints[i].family == family;
	return n;
}

/* Slots of one (listener, family): shares [first, first + n) of rs->shares, all with
 * weight > 0. Units are endpoints of that family, or one reset unit for a share that has
 * none (or is a reject share). */
static int slot_table(struct lay_builder *b, size_t first, size_t n, int family,
		      uint32_t **ret_marks, uint32_t *ret_n)
{
	struct ruleset *rs = b->rs;
	uint32_t *w = calloc(n ? n : 1, sizeof(*w)), *units = calloc(n ? n : 1, sizeof(*units));
	uint32_t *counts = NULL, *marks = NULL, total = 0;
	size_t n_units = 0, u = 0, m = 0;
	int r = -ENOMEM;

	if (!w || !units)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct lay_share *sh = &rs->shares[first + i];
		size_t nf = sh->share && !sh->share->reject ? family_count(sh->share, family) : 0;

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
	marks = calloc(total, sizeof(*marks));
	if (!marks) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct lay_share *sh = &rs->shares[first + i];
		size_t nf = sh->share && !sh->share->reject ? family_count(sh->share, family) : 0;

		for (uint32_t j = 0; j < units[i]; j++, u++) {
			uint32_t mark = sh->id << LAYOUT_SHARE_SHIFT | (nf ? j : LAYOUT_REJECT);

			if (!nf && counts[u])
				sh->rejects = true;
			for (uint32_t c = 0; c < counts[u]; c++)
				marks[m++] = mark;
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

static int add_entry(struct lay_builder *b, enum lay_kind k, size_t li, size_t first,
		     const uint8_t *addr, const uint32_t *marks, uint32_t n_slots)
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
	en->port = l->port;
	en->listener = li;
	en->first_share = first;
	en->n_shares = rs->n_shares - first;
	en->marks = marks;
	en->n_slots = n_slots;
	if (l->action == PLAN_FORWARD && l->route)
		en->comment = comment_new("listener %s route %s", l->key, l->route);
	else
		en->comment = comment_new("listener %s", l->key);
	if (!en->comment)
		return -ENOMEM;
	rs->n_entries[k]++;
	return 0;
}

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

static bool listener_rejects_all(const struct plan_listener *l)
{
	uint64_t sum = 0;

	if (l->action == PLAN_REJECT)
		return true;
	for (size_t i = 0; i < l->n_shares; i++)
		sum += l->shares[i].weight;
	return sum == 0;
}

static int add_listener(struct lay_builder *b, size_t li)
{
	const struct plan_listener *l = &b->rs->plan->v[li];
	struct ruleset *rs = b->rs;
	size_t first = rs->n_shares, idx;
	uint32_t *marks[2] = { NULL, NULL }, n_slots[2] = { 0, 0 };
	int r;

	if (l->protocol != IPPROTO_TCP)
		return nft_error_set(b->e, -EINVAL, "listener %s: protocol %u is not TCP", l->key,
				     l->protocol);
	if (!l->port)
		return nft_error_set(b->e, -EINVAL, "listener %s: port 0", l->key);
	if (listener_rejects_all(l)) {
		r = add_share(b, li, NULL, &idx);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < l->n_shares; i++) {
			if (!l->shares[i].weight)
				continue; /* weight 0 gets nothing: no slot, no counter */
			r = add_share(b, li, &l->shares[i], &idx);
			if (r < 0)
				return r;
			if (!l->shares[i].reject) {
				r = add_endpoints(b, idx);
				if (r < 0)
					return r;
			}
		}
	}
	for (int f = 0; f < 2; f++) {
		bool wanted = !l->n_addrs;

		for (size_t a = 0; a < l->n_addrs; a++)
			wanted |= l->addrs[a].family == (f ? AF_INET6 : AF_INET);
		if (!wanted)
			continue;
		r = slot_table(b, first, rs->n_shares - first, f ? AF_INET6 : AF_INET, &marks[f],
			       &n_slots[f]);
		if (r < 0)
			return r;
		r = keep_table(b, marks[f]);
		if (r < 0)
			return r;
	}
	if (!l->n_addrs) {
		r = add_entry(b, LAY_ANY4, li, first, NULL, marks[0], n_slots[0]);
		if (r >= 0)
			r = add_entry(b, LAY_ANY6, li, first, NULL, marks[1], n_slots[1]);
		return r;
	}
	for (size_t a = 0; a < l->n_addrs; a++) {
		int f = l->addrs[a].family == AF_INET6;

		if (l->addrs[a].family != AF_INET && l->addrs[a].family != AF_INET6)
			return nft_error_set(b->e, -EINVAL, "listener %s: address %zu has family %u",
					     l->key, a, l->addrs[a].family);
		r = add_entry(b, f ? LAY_ADDR6 : LAY_ADDR4, li, first, l->addrs[a].addr, marks[f],
			      n_slots[f]);
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
	return x->listener < y->listener ? -1 : x->listener > y->listener;
}

static int cmp_endpoint(const void *a, const void *b)
{
	const struct lay_endpoint *x = a, *y = b;

	return x->mark < y->mark ? -1 : x->mark > y->mark;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Two listeners that own the same map key (port, or address and port) conflict: the model
 * rejects both, and the kernel can hold one element. When every one of them rejects, the
 * first one's element stands for all; if any would forward, a conflict share resets the
 * key (never forward a port two listeners claim). */
static int merge_conflict(struct lay_builder *b, enum lay_kind k, size_t first, size_t n)
{
	struct ruleset *rs = b->rs;
	struct lay_entry *en = &rs->entries[k][first];
	const struct plan_listener *l0 = &rs->plan->v[en->listener];
	const struct plan_listener *l1 = &rs->plan->v[rs->entries[k][first + 1].listener];
	bool all_reject = true;
	uint32_t *marks;
	size_t idx;
	int r;

	for (size_t i = first; i < first + n; i++)
		all_reject &= listener_rejects_all(&rs->plan->v[rs->entries[k][i].listener]);
	for (size_t i = first + 1; i < first + n; i++)
		free(rs->entries[k][i].comment);
	if (!all_reject) {
		r = add_share(b, en->listener, NULL, &idx);
		if (r < 0)
			return r;
		free(rs->shares[idx].comment);
		rs->shares[idx].comment = comment_new("listeners %s and %s claim TCP port %u: "
						      "conflict rejects", l0->key, l1->key,
						      l0->port);
		if (!rs->shares[idx].comment)
			return -ENOMEM;
		rs->shares[idx].rejects = true;
		marks = calloc(1, sizeof(*marks));
		if (!marks)
			return -ENOMEM;
		marks[0] = rs->shares[idx].id << LAYOUT_SHARE_SHIFT | LAYOUT_REJECT;
		r = keep_table(b, marks);
		if (r < 0)
			return r;
		en->marks = marks;
		en->n_slots = 1;
		en->first_share = idx;
		en->n_shares = 1;
	}
	free(en->comment);
	en->comment = comment_new("listeners %s and %s%s conflict", l0->key, l1->key,
				  n > 2 ? " and more" : "");
	return en->comment ? 0 : -ENOMEM;
}

/* Sorts the elements (their order is the batch's and the text's), merges conflicting
 * listeners, and lists the distinct slot counts (one pick chain each). */
static int finish_kind(struct lay_builder *b, enum lay_kind k)
{
	struct ruleset *rs = b->rs;
	size_t alen = addr_len_of(k), n = rs->n_entries[k], out = 0;

	if (n > 1)
		qsort_r(rs->entries[k], n, sizeof(struct lay_entry), cmp_entry, &alen);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		int r;

		while (j < n && rs->entries[k][j].port == rs->entries[k][i].port &&
		       !memcmp(rs->entries[k][j].addr, rs->entries[k][i].addr, alen))
			j++;
		if (j - i > 1) {
			r = merge_conflict(b, k, i, j - i);
			if (r < 0)
				return r;
		}
		rs->entries[k][out++] = rs->entries[k][i];
		i = j;
	}
	rs->n_entries[k] = n = out;
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

int layout_build(const struct plan *p, const char *table, bool masquerade,
		 struct ruleset **ret, struct nft_error *e)
{
	struct lay_builder b = { .e = e };
	int r = -ENOMEM;

	if (!table_name_ok(table) || strlen(table) > 255)
		return nft_error_set(e, -EINVAL, "--table: '%s' is not a table name nftgate can "
				     "use: a letter or _ then letters, digits, _ - . (at most 255)",
				     table ? table : "");

	b.rs = calloc(1, sizeof(*b.rs));
	b.used = calloc((LAYOUT_MAX_SHARES >> 3) + 1, 1);
	b.route_at = calloc(LAYOUT_MAX_ROUTES + 1, sizeof(*b.route_at));
	if (!b.rs || !b.used || !b.route_at)
		goto out;
	b.rs->plan = p;
	b.rs->masquerade = masquerade;
	b.rs->table = strdup(table);
	if (!b.rs->table)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		r = add_listener(&b, i);
		if (r < 0)
			goto out;
	}
	for (int f = 0; f < 2; f++)
		if (b.rs->n_endpoints[f] > 1)
			qsort(b.rs->endpoints[f], b.rs->n_endpoints[f],
			      sizeof(struct lay_endpoint), cmp_endpoint);
	for (int k = 0; k < LAY__KINDS; k++) {
		r = finish_kind(&b, (enum lay_kind)k);
		if (r < 0)
			goto out;
	}
	route_flags(b.rs);
	*ret = b.rs;
	b.rs = NULL;
	r = 0;
out:
	if (r == -ENOMEM)
		nft_error_set(e, r, "out of memory building the layout");
	free(b.used);
	free(b.route_at);
	ruleset_free(b.rs);
	return r;
}

struct ruleset *ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return NULL;
	for (size_t i = 0; i < rs->n_shares; i++)
		free(rs->shares[i].comment);
	free(rs->shares);
	for (size_t i = 0; i < rs->n_routes; i++)
		free(rs->routes[i].comment);
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
