/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Assignments of share ids, route ids and endpoint indexes (nft/ids.h): kept from a ruleset
 * or read back from a snapshot of the table, and the allocator layout.c numbers with.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/ids.h"
#include "nft/layout.h"
#include "nft/sets.h"
#include "nft/snapshot.h"

struct ids_ep {
	uint8_t addr[16];               /* network order; 4 bytes used for IPv4, rest zero */
	uint16_t port;                  /* host order */
	uint16_t index;
};

struct ids_entry {
	uint64_t tag;
	uint32_t id;
	char *key;                      /* NULL when read from the kernel */
	struct ids_ep *eps[2];          /* [0] IPv4, [1] IPv6; sorted by (addr, port) */
	size_t n_eps[2], cap_eps[2];
	bool bad;                       /* contradicted: dropped by normalize() */
};

struct lay_ids {
	struct ids_entry *v[IDS__SPACES]; /* sorted by tag; tags and ids unique */
	size_t n[IDS__SPACES], cap[IDS__SPACES];
};

static const uint32_t space_max[IDS__SPACES] = { LAYOUT_MAX_SHARES, LAYOUT_MAX_ROUTES };

/* ---- tags ---- */

static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* A seed per depth (the FNV offset basis at depth 0): keys whose FNV state collides under
 * one seed almost never collide under another. fmix64 is a bijection that spreads every
 * input bit over the whole tag. */
static uint64_t tag_hash(const char *key, unsigned depth)
{
	uint64_t h = 14695981039346656037ull ^ ((uint64_t)depth * 0x9e3779b97f4a7c15ull);

	for (const char *p = key; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 1099511628211ull;
	}
	return fmix64(h);
}

void ids_req_init(struct ids_req *q, const char *key, uint32_t start)
{
	memset(q, 0, sizeof(*q));
	q->key = key;
	q->start = start;
	q->prev = IDS_NONE;
	for (unsigned d = 0; d < IDS_TAG_DEPTH; d++)
		q->tags[d] = tag_hash(key, d);
}

/* ---- building and normalising an assignment ---- */

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

static void entry_clear(struct ids_entry *en)
{
	free(en->key);
	free(en->eps[0]);
	free(en->eps[1]);
}

struct lay_ids *lay_ids_free(struct lay_ids *ids)
{
	if (!ids)
		return NULL;
	for (int sp = 0; sp < IDS__SPACES; sp++) {
		for (size_t i = 0; i < ids->n[sp]; i++)
			entry_clear(&ids->v[sp][i]);
		free(ids->v[sp]);
	}
	free(ids);
	return NULL;
}

/* Appends an entry; key (may be NULL) is copied. */
static int entry_add(struct lay_ids *ids, enum ids_space sp, uint64_t tag, uint32_t id,
		     const char *key)
{
	struct ids_entry *en;
	char *k = NULL;

	if (key && !(k = strdup(key)))
		return -ENOMEM;
	if (grow(&ids->v[sp], &ids->cap[sp], ids->n[sp] + 1, sizeof(*ids->v[sp])) < 0) {
		free(k);
		return -ENOMEM;
	}
	en = &ids->v[sp][ids->n[sp]++];
	memset(en, 0, sizeof(*en));
	en->tag = tag;
	en->id = id;
	en->key = k;
	return 0;
}

static int ep_add(struct ids_entry *en, int f, const uint8_t *addr, uint16_t port,
		  uint16_t index)
{
	struct ids_ep *ep;

	if (grow(&en->eps[f], &en->cap_eps[f], en->n_eps[f] + 1, sizeof(*ep)) < 0)
		return -ENOMEM;
	ep = &en->eps[f][en->n_eps[f]++];
	memset(ep, 0, sizeof(*ep));
	memcpy(ep->addr, addr, f ? 16 : 4);
	ep->port = port;
	ep->index = index;
	return 0;
}

static int cmp_tag(const void *a, const void *b)
{
	const struct ids_entry *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_id(const void *a, const void *b)
{
	const struct ids_entry *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* Removes the entries marked bad, keeping the order of the rest. */
static void drop_bad(struct lay_ids *ids, enum ids_space sp)
{
	size_t out = 0;

	for (size_t i = 0; i < ids->n[sp]; i++) {
		if (ids->v[sp][i].bad)
			entry_clear(&ids->v[sp][i]);
		else
			ids->v[sp][out++] = ids->v[sp][i];
	}
	ids->n[sp] = out;
}

/* Sorts by tag; merges repeats of one (tag, id) (the three counters of one share name it
 * three times); drops both sides of a contradiction (one tag, two ids; one id, two tags). */
static void normalize(struct lay_ids *ids, enum ids_space sp)
{
	struct ids_entry *v = ids->v[sp];
	size_t out = 0;

	if (!ids->n[sp])
		return;
	qsort(v, ids->n[sp], sizeof(*v), cmp_tag);
	for (size_t i = 0; i < ids->n[sp]; i++) {
		if (out && v[out - 1].tag == v[i].tag && v[out - 1].id == v[i].id) {
			entry_clear(&v[i]); /* from a snapshot: endpoints are added later */
			continue;
		}
		v[out++] = v[i];
	}
	ids->n[sp] = out;
	for (size_t i = 1; i < out; i++)
		if (v[i].tag == v[i - 1].tag)
			v[i].bad = v[i - 1].bad = true;
	qsort(v, out, sizeof(*v), cmp_id);
	for (size_t i = 1; i < out; i++)
		if (v[i].id == v[i - 1].id)
			v[i].bad = v[i - 1].bad = true;
	drop_bad(ids, sp);
	qsort(ids->v[sp], ids->n[sp], sizeof(*v), cmp_tag);
}

static int cmp_ep_addr(const struct ids_ep *x, const uint8_t *addr, uint16_t port, size_t alen)
{
	int c = memcmp(x->addr, addr, alen);

	if (c)
		return c;
	return x->port < port ? -1 : x->port > port;
}

static int cmp_ep(const void *a, const void *b, void *data)
{
	const struct ids_ep *x = a, *y = b;

	return cmp_ep_addr(x, y->addr, y->port, *(const size_t *)data);
}

static int cmp_ep_index(const void *a, const void *b)
{
	const struct ids_ep *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorts a share's endpoints by (address, port); drops both of two entries for one endpoint
 * and both of two endpoints with one index. */
static void normalize_eps(struct ids_entry *en, int f)
{
	struct ids_ep *v = en->eps[f];
	size_t n = en->n_eps[f], alen = f ? 16 : 4, out = 0;

	if (n < 2)
		return;
	qsort_r(v, n, sizeof(*v), cmp_ep, &alen);
	/* mark through the index field's top bit: indexes are below 0x1000 */
	for (size_t i = 1; i < n; i++)
		if (!cmp_ep(&v[i], &v[i - 1], &alen)) {
			v[i].index |= 0x8000;
			v[i - 1].index |= 0x8000;
		}
	qsort(v, n, sizeof(*v), cmp_ep_index);
	for (size_t i = 1; i < n; i++)
		if ((v[i].index & 0x7fff) == (v[i - 1].index & 0x7fff)) {
			v[i].index |= 0x8000;
			v[i - 1].index |= 0x8000;
		}
	for (size_t i = 0; i < n; i++)
		if (!(v[i].index & 0x8000))
			v[out++] = v[i];
	en->n_eps[f] = out;
	qsort_r(v, out, sizeof(*v), cmp_ep, &alen);
}

static struct lay_ids *ids_new(void)
{
	return calloc(1, sizeof(struct lay_ids));
}

/* ---- from a ruleset ---- */

int lay_ids_from_ruleset(const struct ruleset *rs, struct lay_ids **ret)
{
	struct lay_ids *ids = ids_new();
	size_t *entry_of = calloc(rs->n_shares ? rs->n_shares : 1, sizeof(*entry_of));
	int r = -ENOMEM;

	if (!ids || !entry_of)
		goto out;
	for (size_t i = 0; i < rs->n_shares; i++) {
		const struct lay_share *sh = &rs->shares[i];

		entry_of[i] = IDS_NONE;
		if (!sh->forwards && !sh->rejects)
			continue; /* no counter, no mark: nothing in the kernel to keep */
		entry_of[i] = ids->n[IDS_SHARES];
		r = entry_add(ids, IDS_SHARES, sh->tag, sh->id, sh->key);
		if (r < 0)
			goto out;
	}
	for (int f = 0; f < 2; f++)
		for (size_t j = 0; j < rs->n_endpoints[f]; j++) {
			const struct lay_endpoint *ep = &rs->endpoints[f][j];
			size_t at = entry_of[ep->share];

			if (at == IDS_NONE)
				continue;
			r = ep_add(&ids->v[IDS_SHARES][at], f, ep->addr, ep->port,
				   (uint16_t)(ep->mark & LAYOUT_INDEX_MASK));
			if (r < 0)
				goto out;
		}
	for (size_t i = 0; i < rs->n_routes; i++) {
		const struct lay_route *rt = &rs->routes[i];

		if (!rt->forwards && !rt->rejects)
			continue;
		r = entry_add(ids, IDS_ROUTES, rt->tag, rt->id, rt->key);
		if (r < 0)
			goto out;
	}
	for (int sp = 0; sp < IDS__SPACES; sp++)
		normalize(ids, (enum ids_space)sp);
	for (size_t i = 0; i < ids->n[IDS_SHARES]; i++)
		for (int f = 0; f < 2; f++)
			normalize_eps(&ids->v[IDS_SHARES][i], f);
	*ret = ids;
	ids = NULL;
	r = 0;
out:
	free(entry_of);
	lay_ids_free(ids);
	return r;
}

/* ---- from a snapshot ---- */

static bool parse_hex(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	*ret = v;
	return true;
}

/* "s<5 hex>_<16 hex>_<kind>" (a share's counter) or "r..." (a route's), as sets.c names
 * them. */
static bool parse_counter_name(const char *name, enum ids_space *ret_sp, uint32_t *ret_id,
			       uint64_t *ret_tag)
{
	uint64_t id, tag;
	bool kind = false;

	if (strlen(name) < 24 || (name[0] != 's' && name[0] != 'r') || name[6] != '_' ||
	    name[23] != '_')
		return false;
	for (int k = 0; k < 3; k++)
		kind |= !strcmp(name + 24, share_counter_kinds[k]);
	if (!kind || !parse_hex(name + 1, 5, &id) || !parse_hex(name + 7, 16, &tag))
		return false;
	*ret_sp = name[0] == 's' ? IDS_SHARES : IDS_ROUTES;
	if (!id || id > space_max[*ret_sp])
		return false;
	*ret_id = (uint32_t)id;
	*ret_tag = tag;
	return true;
}

static int bad_msg(const struct snapshot *s, size_t i, struct nft_error *e)
{
	char what[128];

	snapshot_describe_msg(s, i, what, sizeof(what));
	return nft_error_set(e, -EBADMSG, "snapshot message %zu (%s) cannot be parsed", i, what);
}

/* A whole nfnetlink message inside its buffer, so that parsing it reads nothing beyond. */
static bool snap_msg_ok(const struct snap_msg *m)
{
	const struct nlmsghdr *nlh = (const void *)m->data;

	return m->len >= NLMSG_SPACE(sizeof(struct nfgenmsg)) &&
	       nlh->nlmsg_len >= NLMSG_SPACE(sizeof(struct nfgenmsg)) && nlh->nlmsg_len <= m->len;
}

/* The type of message i, 0 for one that is not whole. */
static uint16_t snap_msg_type(const struct snap_msg *m)
{
	if (m->len < sizeof(struct nlmsghdr))
		return 0;
	return NFNL_MSG_TYPE(((const struct nlmsghdr *)(const void *)m->data)->nlmsg_type);
}

static int read_counter(const struct snapshot *s, size_t i, struct lay_ids *ids,
			struct nft_error *e)
{
	struct nftnl_obj *o = nftnl_obj_alloc();
	enum ids_space sp;
	const char *name;
	uint64_t tag;
	uint32_t id;
	int r = 0;

	if (!o)
		return -ENOMEM;
	if (!snap_msg_ok(&s->msgs[i]) ||
	    nftnl_obj_nlmsg_parse((const void *)s->msgs[i].data, o) < 0) {
		r = bad_msg(s, i, e);
		goto out;
	}
	name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
	if (nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER && name &&
	    parse_counter_name(name, &sp, &id, &tag))
		r = entry_add(ids, sp, tag, id, NULL);
out:
	nftnl_obj_free(o);
	return r;
}

/* The set a NEWSETELEM message is for, without parsing its elements. */
static const char *elems_set_name(const struct snap_msg *m)
{
	const struct nlmsghdr *nlh = (const void *)m->data;
	const struct nlattr *a;

	if (!snap_msg_ok(m))
		return NULL;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(a);
	return NULL;
}

struct by_id {
	uint32_t id;
	size_t at;
};

static int cmp_by_id(const void *a, const void *b)
{
	const struct by_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One endpoint4/endpoint6 element: mark -> address . port, added to its share's entry. */
static int read_endpoint(struct lay_ids *ids, const struct by_id *ix, int f,
			 struct nftnl_set_elem *el)
{
	uint32_t klen = 0, dlen = 0, alen = f ? 16 : 4, mark;
	const uint8_t *key = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &klen);
	const uint8_t *data = nftnl_set_elem_get(el, NFTNL_SET_ELEM_DATA, &dlen);
	struct by_id want, *hit;
	uint16_t port;

	if (!key || !data || klen != 4 || dlen != alen + 4)
		return 0; /* not of the form we write: nothing to keep */
	memcpy(&mark, key, 4);
	memcpy(&port, data + alen, 2);
	want.id = mark >> LAYOUT_SHARE_SHIFT;
	hit = bsearch(&want, ix, ids->n[IDS_SHARES], sizeof(*ix), cmp_by_id);
	if (!hit || (mark & LAYOUT_INDEX_MASK) >= LAYOUT_MAX_SHARE_ENDPOINTS)
		return 0;
	return ep_add(&ids->v[IDS_SHARES][hit->at], f, data, ntohs(port),
		      (uint16_t)(mark & LAYOUT_INDEX_MASK));
}

static int read_endpoints(const struct snapshot *s, size_t i, int f, struct lay_ids *ids,
			  const struct by_id *ix, struct nft_error *e)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it = NULL;
	struct nftnl_set_elem *el;
	int r = -ENOMEM;

	if (!set)
		return r;
	/* a whole message: elems_set_name() found its set's name */
	if (nftnl_set_elems_nlmsg_parse((const void *)s->msgs[i].data, set) < 0) {
		r = bad_msg(s, i, e);
		goto out;
	}
	it = nftnl_set_elems_iter_create(set);
	if (!it)
		goto out;
	r = 0;
	while (r >= 0 && (el = nftnl_set_elems_iter_next(it)))
		r = read_endpoint(ids, ix, f, el);
out:
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(set);
	return r;
}

int lay_ids_from_snapshot(const struct snapshot *s, struct lay_ids **ret, struct nft_error *e)
{
	struct lay_ids *ids = ids_new();
	struct by_id *ix = NULL;
	int r = -ENOMEM;

	if (!ids)
		goto out;
	r = 0;
	for (size_t i = 0; r >= 0 && s->present && i < s->n; i++)
		if (snap_msg_type(&s->msgs[i]) == NFT_MSG_NEWOBJ)
			r = read_counter(s, i, ids, e);
	if (r < 0)
		goto out;
	for (int sp = 0; sp < IDS__SPACES; sp++)
		normalize(ids, (enum ids_space)sp);
	ix = calloc(ids->n[IDS_SHARES] ? ids->n[IDS_SHARES] : 1, sizeof(*ix));
	if (!ix) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ids->n[IDS_SHARES]; i++)
		ix[i] = (struct by_id){ ids->v[IDS_SHARES][i].id, i };
	qsort(ix, ids->n[IDS_SHARES], sizeof(*ix), cmp_by_id);
	for (size_t i = 0; r >= 0 && s->present && i < s->n; i++) {
		const char *set;

		if (snap_msg_type(&s->msgs[i]) != NFT_MSG_NEWSETELEM ||
		    !(set = elems_set_name(&s->msgs[i])))
			continue;
		if (!strcmp(set, set_defs[SET_ENDPOINT4].name))
			r = read_endpoints(s, i, 0, ids, ix, e);
		else if (!strcmp(set, set_defs[SET_ENDPOINT6].name))
			r = read_endpoints(s, i, 1, ids, ix, e);
	}
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ids->n[IDS_SHARES]; i++)
		for (int f = 0; f < 2; f++)
			normalize_eps(&ids->v[IDS_SHARES][i], f);
	*ret = ids;
	ids = NULL;
out:
	if (r == -ENOMEM)
		nft_error_set(e, r, "out of memory reading the ids of the table");
	free(ix);
	lay_ids_free(ids);
	return r;
}

/* ---- text ---- */

static int cmp_entry_ptr_id(const void *a, const void *b)
{
	const struct ids_entry *x = *(const struct ids_entry *const *)a;
	const struct ids_entry *y = *(const struct ids_entry *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void format_entry(FILE *f, const char *what, const struct ids_entry *en)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(f, "%s %05x %016" PRIx64, what, en->id, en->tag);
	for (int fam = 0; fam < 2; fam++)
		for (size_t i = 0; i < en->n_eps[fam]; i++) {
			const struct ids_ep *ep = &en->eps[fam][i];

			inet_ntop(fam ? AF_INET6 : AF_INET, ep->addr, a, sizeof(a));
			fprintf(f, " v%d %s:%u=%u", fam ? 6 : 4, a, ep->port, ep->index);
		}
	fputc('\n', f);
}

int lay_ids_format(const struct lay_ids *ids, char **ret_text)
{
	static const char *const what[IDS__SPACES] = { "share", "route" };
	const struct ids_entry **v = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r = -ENOMEM;

	if (!f)
		return -ENOMEM;
	for (int sp = 0; sp < IDS__SPACES; sp++) {
		size_t n = ids->n[sp];

		free(v);
		v = calloc(n ? n : 1, sizeof(*v));
		if (!v)
			goto out;
		for (size_t i = 0; i < n; i++)
			v[i] = &ids->v[sp][i];
		qsort(v, n, sizeof(*v), cmp_entry_ptr_id);
		for (size_t i = 0; i < n; i++)
			format_entry(f, what[sp], v[i]);
	}
	r = 0;
out:
	free(v);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*ret_text = text;
	return 0;
}

/* ---- the allocator ---- */

struct claim {
	size_t entry;           /* in prev->v[sp] */
	unsigned depth;         /* the depth of the candidate tag that found it */
	size_t req;
	const char *key;
};

/* Deeper claims first: a key holds tags[d] only because tags[0..d) were taken when it was
 * numbered, so the key that reaches an entry at the greater depth is its owner. Equal
 * depths (a new key whose first hash collides with a survivor's) cannot be told apart
 * from the kernel: the smaller key wins, deterministically. */
static int cmp_claim(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;
	int c;

	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->req < y->req ? -1 : x->req > y->req;
}

static size_t find_tag(const struct lay_ids *ids, enum ids_space sp, uint64_t tag)
{
	size_t lo = 0, hi = ids ? ids->n[sp] : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t t = ids->v[sp][mid].tag;

		if (t == tag)
			return mid;
		if (t < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return IDS_NONE;
}

/* The entry of prev that q's key held, if any: a keyed entry (from a ruleset) must have the
 * same key; a keyless one (from the kernel) is the deepest tag it finds. An id beyond max
 * (another space's limit) is no one's. */
static bool find_claim(const struct lay_ids *prev, enum ids_space sp, uint32_t max,
		       const struct ids_req *q, struct claim *ret)
{
	bool found = false;

	for (unsigned d = 0; d < IDS_TAG_DEPTH; d++) {
		size_t at = find_tag(prev, sp, q->tags[d]);
		const struct ids_entry *en;

		if (at == IDS_NONE)
			continue;
		en = &prev->v[sp][at];
		if ((en->key && strcmp(en->key, q->key)) || en->id > max)
			continue; /* another key's tag */
		ret->entry = at;
		ret->depth = d;
		found = true;
		if (en->key)
			break;
	}
	return found;
}

static bool bit(const uint8_t *map, uint32_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

static void set_bit(uint8_t *map, uint32_t i)
{
	map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Tags given to new objects in this call: open addressing, sized for all of them. */
struct tagset {
	uint64_t *v;
	uint8_t *used;
	size_t mask;
};

static int tagset_init(struct tagset *t, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	t->v = calloc(cap, sizeof(*t->v));
	t->used = calloc(cap, 1);
	t->mask = cap - 1;
	return t->v && t->used ? 0 : -ENOMEM;
}

static void tagset_clear(struct tagset *t)
{
	free(t->v);
	free(t->used);
}

/* Adds tag; false when it was there already. */
static bool tagset_add(struct tagset *t, uint64_t tag)
{
	size_t i = (size_t)fmix64(tag) & t->mask;

	for (; t->used[i]; i = (i + 1) & t->mask)
		if (t->v[i] == tag)
			return false;
	t->used[i] = 1;
	t->v[i] = tag;
	return true;
}

static bool tagset_has(const struct tagset *t, uint64_t tag)
{
	for (size_t i = (size_t)fmix64(tag) & t->mask; t->used[i]; i = (i + 1) & t->mask)
		if (t->v[i] == tag)
			return true;
	return false;
}

struct numbering {
	const struct lay_ids *prev;
	enum ids_space sp;
	struct ids_req *v;
	uint32_t max;
	uint8_t *held;          /* ids of survivors and of new objects numbered so far */
	uint8_t *retired;       /* ids of previous objects that did not survive */
	size_t n_held, n_retired_free; /* retired ids no one holds yet */
	struct tagset tags;
};

/* Matches v against prev: each entry goes to at most one request (cmp_claim). */
static int keep_survivors(struct numbering *nb, size_t n)
{
	struct claim *c = calloc(n ? n : 1, sizeof(*c));
	size_t nc = 0, np = nb->prev ? nb->prev->n[nb->sp] : 0;

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (find_claim(nb->prev, nb->sp, nb->max, &nb->v[i], &c[nc])) {
			c[nc].req = i;
			c[nc].key = nb->v[i].key;
			nc++;
		}
	qsort(c, nc, sizeof(*c), cmp_claim);
	for (size_t i = 0; i < nc; i++) {
		const struct ids_entry *en = &nb->prev->v[nb->sp][c[i].entry];
		struct ids_req *q = &nb->v[c[i].req];

		if (i && c[i - 1].entry == c[i].entry)
			continue; /* taken by a deeper or smaller claim */
		q->prev = c[i].entry;
		q->id = en->id;
		q->tag = en->tag;
		set_bit(nb->held, en->id);
		nb->n_held++;
	}
	free(c);
	for (size_t i = 0; i < np; i++) {
		uint32_t id = nb->prev->v[nb->sp][i].id;

		if (id <= nb->max && !bit(nb->held, id) && !bit(nb->retired, id)) {
			set_bit(nb->retired, id);
			nb->n_retired_free++;
		}
	}
	return 0;
}

static int cmp_req_key(const void *a, const void *b, void *data)
{
	const struct ids_req *v = data;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(v[i].key, v[j].key);

	if (c)
		return c;
	return i < j ? -1 : i > j;
}

/* A new object's tag: its first candidate that no object of prev (survivor or removed:
 * a removed one's counters must not pass to it by name) and no earlier new one holds. */
static int new_tag(struct numbering *nb, struct ids_req *q)
{
	for (unsigned d = 0; d < IDS_TAG_DEPTH; d++) {
		uint64_t t = q->tags[d];

		if (find_tag(nb->prev, nb->sp, t) != IDS_NONE || tagset_has(&nb->tags, t))
			continue;
		tagset_add(&nb->tags, t);
		q->tag = t;
		return 0;
	}
	return -EEXIST;
}

/* A new object's id: the first from start that no one holds, passing over the ids of
 * removed objects while other ids are free (their connections may still carry the old
 * marks: counting those on a newcomer is what stable ids avoid). n <= max keeps a free
 * id in reach. */
static void new_id(struct numbering *nb, struct ids_req *q)
{
	bool reuse = nb->n_held + nb->n_retired_free >= nb->max;
	uint32_t id = q->start >= 1 && q->start <= nb->max ? q->start : 1;

	while (bit(nb->held, id) || (!reuse && bit(nb->retired, id)))
		id = id % nb->max + 1;
	if (bit(nb->retired, id))
		nb->n_retired_free--;
	set_bit(nb->held, id);
	nb->n_held++;
	q->id = id;
}

int ids_assign(const struct lay_ids *prev, enum ids_space sp, struct ids_req *v, size_t n,
	       uint32_t max)
{
	struct numbering nb = { .prev = prev, .sp = sp, .v = v, .max = max };
	size_t *order = NULL, n_new = 0;
	int r = -E2BIG;

	if (n > max || !max)
		return r;
	r = -ENOMEM;
	nb.held = calloc(max / 8 + 1, 1);
	nb.retired = calloc(max / 8 + 1, 1);
	order = calloc(n ? n : 1, sizeof(*order));
	if (!nb.held || !nb.retired || !order || tagset_init(&nb.tags, n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		v[i].prev = IDS_NONE;
	r = keep_survivors(&nb, n);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (v[i].prev == IDS_NONE)
			order[n_new++] = i;
	/* key order, not plan order: the same keys get the same ids however they come */
	qsort_r(order, n_new, sizeof(*order), cmp_req_key, v);
	for (size_t k = 0; k < n_new; k++) {
		r = new_tag(&nb, &v[order[k]]);
		if (r < 0)
			goto out;
		new_id(&nb, &v[order[k]]);
	}
	r = 0;
out:
	free(nb.held);
	free(nb.retired);
	free(order);
	tagset_clear(&nb.tags);
	return r;
}

static int find_ep(const struct ids_entry *en, int f, const struct plan_endpoint *ep)
{
	size_t lo = 0, hi = en ? en->n_eps[f] : 0, alen = f ? 16 : 4;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_ep_addr(&en->eps[f][mid], ep->addr, ep->port, alen);

		if (!c)
			return en->eps[f][mid].index;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

#define NO_INDEX 0xffffu

int ids_assign_endpoints(const struct lay_ids *prev, size_t prev_share,
			 const struct plan_endpoint *eps, size_t n, uint16_t *ret_index)
{
	const struct ids_entry *en = prev && prev_share != IDS_NONE &&
					     prev_share < prev->n[IDS_SHARES] ?
					     &prev->v[IDS_SHARES][prev_share] : NULL;

	for (int f = 0; f < 2; f++) {
		uint8_t used[LAYOUT_MAX_SHARE_ENDPOINTS / 8 + 1] = { 0 };
		int family = f ? AF_INET6 : AF_INET;
		uint32_t next = 0;

		for (size_t i = 0; i < n; i++) {
			int x;

			if (eps[i].family != family)
				continue;
			ret_index[i] = NO_INDEX;
			x = find_ep(en, f, &eps[i]);
			/* a duplicate endpoint must not take the same index twice */
			if (x >= 0 && !bit(used, (uint32_t)x)) {
				ret_index[i] = (uint16_t)x;
				set_bit(used, (uint32_t)x);
			}
		}
		for (size_t i = 0; i < n; i++) {
			if (eps[i].family != family || ret_index[i] != NO_INDEX)
				continue;
			while (next < LAYOUT_MAX_SHARE_ENDPOINTS && bit(used, next))
				next++;
			if (next >= LAYOUT_MAX_SHARE_ENDPOINTS)
				return -E2BIG;
			ret_index[i] = (uint16_t)next;
			set_bit(used, next);
		}
	}
	return 0;
}
