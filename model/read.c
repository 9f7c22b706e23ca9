/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Manifests into the store: inputs (file, directory, stdin) -> documents (yaml_tree) ->
 * objects (a table of per-kind decoders) -> the store's arrays. Every object is decoded
 * fully even after an error so that one run reports every problem; an object with an
 * error is dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/array.h"
#include "model/decode.h"
#include "model/read.h"
#include "model/read_internal.h"
#include "model/yaml_tree.h"

const struct read_limits read_limits_default = {
	.max_input_bytes = 64u << 20,
	.max_doc_bytes = 4u << 20,
	.max_depth = 64,
	.max_objects = 500000,
	.max_string = 64u << 10,
	.max_items = 100000,
};

#define WRAP(fn, type)                                                                  \
	static int fn##_any(struct dec *x, const struct ynode *r, void *o)              \
	{                                                                               \
		return fn(x, r, (type *)o);                                             \
	}
WRAP(decode_gateway_class, struct gateway_class)
WRAP(decode_gateway, struct gateway)
WRAP(decode_reference_grant, struct reference_grant)
WRAP(decode_service, struct service)
WRAP(decode_endpoint_slice, struct endpoint_slice)
WRAP(decode_namespace, struct namespace_obj)

static int decode_tcp_route_any(struct dec *x, const struct ynode *r, void *o)
{
	return decode_route(x, r, KIND_TCP_ROUTE, o);
}

static int decode_udp_route_any(struct dec *x, const struct ynode *r, void *o)
{
	return decode_route(x, r, KIND_UDP_ROUTE, o);
}
#define WRAP_FREE(fn, type)                                                             \
	static void fn##_any(void *o)                                                   \
	{                                                                               \
		fn((type *)o);                                                          \
	}
WRAP_FREE(gateway_class_free_contents, struct gateway_class)
WRAP_FREE(gateway_free_contents, struct gateway)
WRAP_FREE(route_free_contents, struct route)
WRAP_FREE(reference_grant_free_contents, struct reference_grant)
WRAP_FREE(service_free_contents, struct service)
WRAP_FREE(endpoint_slice_free_contents, struct endpoint_slice)
WRAP_FREE(namespace_free_contents, struct namespace_obj)

/* Every kind nftgate reads, indexed by enum kind (its name is kind_name()); each object
 * struct starts with its struct meta. Both route kinds fill the one routes array. */
struct kind_ops {
	const char *versions[3];
	bool namespaced;
	const struct name_rule *name_rule;
	size_t size, arr_off, n_off;
	int (*decode)(struct dec *x, const struct ynode *root, void *obj);
	void (*free_contents)(void *obj);
};

#define GW(v) GATEWAY_GROUP "/" v
#define OPS(k, ns, rule, type, arr, dec, fr, ...)                                        \
	[k] = { { __VA_ARGS__ }, ns, rule, sizeof(type), offsetof(struct store, arr),    \
		offsetof(struct store, n_##arr), dec##_any, fr##_any }

static const struct kind_ops kinds[KIND__COUNT] = {
	OPS(KIND_GATEWAY_CLASS, false, &name_subdomain, struct gateway_class, classes,
	    decode_gateway_class, gateway_class_free_contents, GW("v1"), GW("v1beta1")),
	OPS(KIND_GATEWAY, true, &name_subdomain, struct gateway, gateways, decode_gateway,
	    gateway_free_contents, GW("v1"), GW("v1beta1")),
	OPS(KIND_TCP_ROUTE, true, &name_subdomain, struct route, routes, decode_tcp_route,
	    route_free_contents, GW("v1"), GW("v1alpha2")),
	OPS(KIND_UDP_ROUTE, true, &name_subdomain, struct route, routes, decode_udp_route,
	    route_free_contents, GW("v1"), GW("v1alpha2")),
	OPS(KIND_REFERENCE_GRANT, true, &name_subdomain, struct reference_grant, grants,
	    decode_reference_grant, reference_grant_free_contents, GW("v1"), GW("v1beta1")),
	OPS(KIND_SERVICE, true, &name_label1035, struct service, services, decode_service,
	    service_free_contents, "v1"),
	OPS(KIND_ENDPOINT_SLICE, true, &name_subdomain, struct endpoint_slice, slices,
	    decode_endpoint_slice, endpoint_slice_free_contents, "discovery.k8s.io/v1"),
	OPS(KIND_NAMESPACE, false, &name_label1123, struct namespace_obj, namespaces,
	    decode_namespace, namespace_free_contents, "v1"),
};

/* One input being read. */
struct load {
	struct store *s;
	const char *file; /* s->inputs[in].name */
	size_t in;        /* its entry in s->inputs, for the counts */
	const struct read_limits *lim;
	struct diags *d;
	int worst;        /* -ENOMEM > -E2BIG > -EINVAL > 0 */
};

static int severity(int r)
{
	return r == 0 ? 0 : r == -ENOMEM ? 3 : r == -E2BIG ? 2 : 1;
}

/* Keeps the most severe result: -ENOMEM, then -E2BIG, then any input error. */
static void note(struct load *l, int r)
{
	if (severity(r) > severity(l->worst))
		l->worst = r;
}

/* Whether k is the first kind its array holds, so that a walk over kinds that skips the
 * others visits each array once (the route kinds share one). */
static bool first_of_array(int k)
{
	for (int j = 0; j < k; j++)
		if (kind_array(j) == kind_array(k))
			return false;
	return true;
}

static size_t store_count(const struct store *s)
{
	size_t n = 0;

	for (int k = 0; k < KIND__COUNT; k++)
		if (first_of_array(k))
			n += *(const size_t *)((const char *)s + kinds[k].n_off);
	return n;
}

/* Appends a copy of obj's bytes (the store then owns what obj owned). The capacity is the
 * store's own record (s->cap), never guessed from the allocator. */
static int store_append(struct store *s, enum kind k, const void *obj)
{
	const struct kind_ops *ops = &kinds[k];
	void **arr = (void **)((char *)s + ops->arr_off);
	size_t *n = (size_t *)((char *)s + ops->n_off);

	if (array_grow(arr, &s->cap[kind_array(k)], *n + 1, ops->size) < 0)
		return -ENOMEM;
	memcpy((char *)*arr + *n * ops->size, obj, ops->size);
	(*n)++;
	return 0;
}

/* A document (or List item) refused with an input error: counted for "what was read". */
static int refused(struct load *l, int r)
{
	if (r != -ENOMEM)
		l->s->inputs[l->in].refused++;
	return r;
}

static int decode_object(struct load *l, enum kind k, const char *api_version,
			 const struct ynode *root)
{
	const struct kind_ops *ops = &kinds[k];
	struct dec x = { .d = l->d, .file = l->file, .api_version = api_version, .line = root->line };
	void *obj;
	int r;

	if (store_count(l->s) >= l->lim->max_objects) {
		r = diags_add(l->d, l->file, root->line, NULL, NULL,
			      "more than %zu objects in the input (limit max_objects)",
			      l->lim->max_objects);
		return refused(l, r < 0 ? r : -E2BIG);
	}
	obj = calloc(1, ops->size);
	if (!obj)
		return -ENOMEM;
	r = decode_meta(&x, root, kind_name(k), ops->namespaced, ops->name_rule, obj);
	if (r == 0)
		r = ops->decode(&x, root, obj);
	if (r == 0 && x.errors == 0)
		r = store_append(l->s, k, obj);
	else
		r = r < 0 ? r : -EINVAL;
	/* on every failure the object's contents are still obj's to free */
	if (r < 0)
		ops->free_contents(obj);
	free(obj);
	if (r == 0)
		l->s->inputs[l->in].objects[k]++;
	return r ? refused(l, r) : 0;
}

static int doc_str(struct load *l, const struct ynode *root, const char *key, const char **out)
{
	const struct ynode *n = ymap_get(root, key);
	int r;

	*out = NULL;
	if (ynode_is_null(n)) {
		r = diags_add(l->d, l->file, root->line, NULL, key,
			      "is required (every document needs apiVersion and kind)");
		return r < 0 ? r : -EINVAL;
	}
	if (n->type != YN_SCALAR) {
		r = diags_add(l->d, l->file, n->line, NULL, key, "must be a string, got %s",
			      ynode_describe(n));
		return r < 0 ? r : -EINVAL;
	}
	*out = n->str;
	return 0;
}

static int decode_doc(struct load *l, const struct ynode *root, bool in_list);

static int decode_list(struct load *l, const struct ynode *root, const char *api_version)
{
	const struct ynode *items = ymap_get(root, "items");
	char q[128];
	int r, worst = 0;

	if (strcmp(api_version, "v1") != 0) {
		r = diags_add(l->d, l->file, root->line, "List", "apiVersion",
			      "%s is not supported for List (use v1)",
			      diag_quote(q, sizeof(q), api_version, strlen(api_version)));
		return refused(l, r < 0 ? r : -EINVAL);
	}
	if (ynode_is_null(items))
		return 0;
	if (items->type != YN_SEQ) {
		r = diags_add(l->d, l->file, items->line, "List", "items", "must be a list, got %s",
			      ynode_describe(items));
		return refused(l, r < 0 ? r : -EINVAL);
	}
	for (size_t i = 0; i < items->n; i++) {
		r = decode_doc(l, items->kids[i], true);
		if (r == -ENOMEM || r == -E2BIG)
			return r;
		if (r < 0)
			worst = r;
	}
	return worst;
}

/* "Kind ns/name" from a document whose apiVersion is refused, best effort: the parts that
 * cannot be read (metadata not a mapping, name not a string) are left out. */
static const char *doc_object(enum kind k, const struct ynode *root, char *buf, size_t size)
{
	const struct kind_ops *ops = &kinds[k];
	const struct ynode *m = ymap_get(root, "metadata");
	const struct ynode *name = m && m->type == YN_MAP ? ymap_get(m, "name") : NULL;
	const struct ynode *ns = m && m->type == YN_MAP ? ymap_get(m, "namespace") : NULL;
	const char *nss = ns && ns->type == YN_SCALAR && !ynode_is_null(ns) ? ns->str : "default";

	if (!name || name->type != YN_SCALAR || ynode_is_null(name))
		snprintf(buf, size, "%s", kind_name(k));
	else if (ops->namespaced)
		snprintf(buf, size, "%s %.253s/%.253s", kind_name(k), nss, name->str);
	else
		snprintf(buf, size, "%s %.253s", kind_name(k), name->str);
	return buf;
}

static int decode_doc(struct load *l, const struct ynode *root, bool in_list)
{
	char obj[600], q[128];
	const char *kind, *api_version;
	int r, r2;

	if (root->type != YN_MAP) {
		r = diags_add(l->d, l->file, root->line, NULL, NULL,
			      "%s must be a mapping with apiVersion and kind, got %s",
			      in_list ? "a List item" : "a document", ynode_describe(root));
		return refused(l, r < 0 ? r : -EINVAL);
	}
	r = doc_str(l, root, "apiVersion", &api_version);
	r2 = doc_str(l, root, "kind", &kind);
	if (r < 0 || r2 < 0)
		return refused(l, r == -ENOMEM || r2 == -ENOMEM ? -ENOMEM : -EINVAL);
	/* Lists nest (kubectl flattens them); the depth limit bounds the recursion */
	if (strcmp(kind, "List") == 0)
		return decode_list(l, root, api_version);
	for (int k = 0; k < KIND__COUNT; k++) {
		const struct kind_ops *ops = &kinds[k];

		if (strcmp(kind, kind_name(k)) != 0)
			continue;
		for (size_t v = 0; v < 3 && ops->versions[v]; v++)
			if (strcmp(api_version, ops->versions[v]) == 0)
				return decode_object(l, k, api_version, root);
		r = diags_add(l->d, l->file, ymap_get(root, "apiVersion")->line,
			      doc_object(k, root, obj, sizeof(obj)), "apiVersion",
			      "%s is not a supported version of %s (supported: %s%s%s)",
			      diag_quote(q, sizeof(q), api_version, strlen(api_version)), kind_name(k),
			      ops->versions[0], ops->versions[1] ? ", " : "",
			      ops->versions[1] ? ops->versions[1] : "");
		return refused(l, r < 0 ? r : -EINVAL);
	}
	/* Deployments, Secrets, HTTPRoutes...: users point -f at folders of mixed manifests */
	l->s->inputs[l->in].other++;
	return 0;
}

/* The s->inputs entry for `file`: the last one when it has that name (the same buffer loaded
 * again), else a new one. Returns its index, or -ENOMEM. */
static int input_entry(struct store *s, const char *file, size_t *ret)
{
	struct store_input *in;

	if (s->n_inputs && strcmp(s->inputs[s->n_inputs - 1].name, file) == 0) {
		*ret = s->n_inputs - 1;
		return 0;
	}
	if (ARRAY_GROW(s->inputs, s->cap_inputs, s->n_inputs + 1) < 0)
		return -ENOMEM;
	in = &s->inputs[s->n_inputs];
	*in = (struct store_input){ .name = strdup(file) };
	if (!in->name)
		return -ENOMEM;
	*ret = s->n_inputs++;
	return 0;
}

int store_load_buffer(struct store *s, const char *file, const char *buf, size_t len,
		      const struct read_limits *lim, struct diags *d)
{
	struct load l = { .s = s, .lim = lim ? lim : &read_limits_default, .d = d };
	struct yreader *yr = NULL;
	const struct ynode *root;
	int r;

	if (input_entry(s, file ? file : "-", &l.in) < 0)
		return -ENOMEM;
	l.file = s->inputs[l.in].name;
	if (len > l.lim->max_input_bytes) {
		r = diags_add(d, l.file, 0, NULL, NULL,
			      "input is larger than %zu bytes (limit max_input_bytes)",
			      l.lim->max_input_bytes);
		return r < 0 ? r : -E2BIG;
	}
	yr = yreader_new(buf, len, l.lim);
	if (!yr)
		return -ENOMEM;
	while ((r = yreader_next(yr, l.file, d, &root)) > 0) {
		if (ynode_is_null(root))
			continue; /* empty document, e.g. after a trailing "---" */
		r = decode_doc(&l, root, false);
		note(&l, r);
		if (r == -ENOMEM || r == -E2BIG)
			break;
	}
	note(&l, r);
	yreader_free(yr);
	return l.worst;
}

int store_input_entry(struct store *s, const char *file, size_t *ret)
{
	return input_entry(s, file, ret);
}

int store_load_tree(struct store *s, const char *file, const struct ynode *root, bool in_list,
		    const struct read_limits *lim, struct diags *d)
{
	struct load l = { .s = s, .lim = lim ? lim : &read_limits_default, .d = d };

	if (input_entry(s, file ? file : "-", &l.in) < 0)
		return -ENOMEM;
	l.file = s->inputs[l.in].name;
	if (!ynode_is_null(root))
		note(&l, decode_doc(&l, root, in_list));
	return l.worst;
}

static int io_error(struct diags *d, const char *path, const char *what, int err)
{
	int r = diags_add(d, path, 0, NULL, NULL, "%s: %s", what, strerror(err));

	return r < 0 ? r : -err;
}

/* Reads all of fd, refusing more than max bytes. */
static int read_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	ssize_t n;

	for (;;) {
		if (ARRAY_GROW(buf, cap, len < 64 * 1024 ? 64 * 1024 : len + 1) < 0) {
			free(buf);
			return -ENOMEM;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			free(buf);
			return -E2BIG;
		}
	}
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

static int load_fd(struct store *s, const char *path, int fd, const struct read_limits *lim,
		   struct diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_all(fd, lim->max_input_bytes, &buf, &len);

	if (r == -E2BIG) {
		r = diags_add(d, path, 0, NULL, NULL,
			      "input is larger than %zu bytes (limit max_input_bytes)",
			      lim->max_input_bytes);
		return r < 0 ? r : -E2BIG;
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return io_error(d, path, "reading", -r);
	r = store_load_buffer(s, path, buf, len, lim, d);
	free(buf);
	return r;
}

static bool manifest_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false;
	return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) ||
	       (len > 4 && strcmp(n + len - 4, ".yml") == 0) ||
	       (len > 5 && strcmp(n + len - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *file_type(mode_t m)
{
	return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
	       S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

static int load_file(struct store *s, const char *path, const struct read_limits *lim,
		     struct diags *d, bool in_dir);

/* A directory entry: only regular files are read, so that a FIFO or a device named b.yaml
 * can neither hang the reader nor feed it endlessly; each one skipped is noted. stat()
 * first, so that nothing is opened that is not read (opening a device can act on it);
 * load_file() checks again on the opened file, as the entry may change in between. */
static int load_entry(struct store *s, int dfd, const char *name, const char *path,
		      const struct read_limits *lim, struct diags *d)
{
	struct stat st;

	if (fstatat(dfd, name, &st, 0) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return 0; /* not recursive */
		return diags_note(d, path, "skipped: %s, not a regular file", file_type(st.st_mode));
	}
	/* a failed stat (a dangling link) is reported by the open that follows */
	return load_file(s, path, lim, d, true);
}

static int load_dir(struct store *s, const char *path, int fd, const struct read_limits *lim,
		    struct diags *d)
{
	DIR *dir = fdopendir(fd);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0, worst = 0;

	if (!dir) {
		r = io_error(d, path, "reading the directory", errno);
		close(fd);
		return r;
	}
	while ((de = readdir(dir))) {
		if (!manifest_name(de->d_name))
			continue;
		if (ARRAY_GROW(names, cap, n + 1) < 0 || !(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *p;

		if (asprintf(&p, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
			     names[i]) < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = load_entry(s, dirfd(dir), names[i], p, lim, d);
		free(p);
		if (r == -ENOMEM)
			goto out;
		if (severity(r) > severity(worst))
			worst = r;
	}
	r = worst;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return r;
}

/* A path: a regular file, a directory, or a pipe (-f <(...)) when named directly. Opened
 * non-blocking, as opening a FIFO without a writer would wait forever, and typed on the
 * open file; a pipe then reads blocking until its writers are done (EOF at once without
 * any writer). Devices and sockets are refused: they need not ever end. */
static int load_file(struct store *s, const char *path, const struct read_limits *lim,
		     struct diags *d, bool in_dir)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r, fl;

	if (fd < 0)
		return io_error(d, path, "opening", errno);
	if (fstat(fd, &st) < 0) {
		r = io_error(d, path, "reading", errno);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		if (in_dir) { /* not recursive */
			r = 0;
			goto out;
		}
		return load_dir(s, path, fd, lim, d);
	}
	if (!S_ISREG(st.st_mode) && in_dir) {
		r = diags_note(d, path, "skipped: %s, not a regular file", file_type(st.st_mode));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		r = diags_add(d, path, 0, NULL, NULL,
			      "cannot be read: %s (only regular files, directories, pipes and - for "
			      "standard input are)", file_type(st.st_mode));
		r = r < 0 ? r : -EINVAL;
		goto out;
	}
	if (S_ISFIFO(st.st_mode) && ((fl = fcntl(fd, F_GETFL)) < 0 ||
				     fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
		r = io_error(d, path, "reading", errno);
		goto out;
	}
	r = load_fd(s, path, fd, lim, d);
out:
	close(fd);
	return r;
}

int store_load_path(struct store *s, const char *path, const struct read_limits *lim,
		    struct diags *d)
{
	if (!lim)
		lim = &read_limits_default;
	if (strcmp(path, "-") == 0)
		return load_fd(s, "-", STDIN_FILENO, lim, d);
	return load_file(s, path, lim, d, false);
}

struct key_ref {
	const struct meta *m;
	enum kind kind;
};

static int cmp_meta(const void *pa, const void *pb)
{
	const struct key_ref *x = pa, *y = pb;
	const struct meta *a = x->m, *b = y->m;
	int c = strcmp(a->namespace ? a->namespace : "", b->namespace ? b->namespace : "");

	if (c)
		return c;
	c = strcmp(a->name, b->name);
	if (c)
		return c;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	/* input order among equals, so "also at" names the first definition */
	return (a > b) - (a < b);
}

static bool same_key(const struct key_ref *x, const struct key_ref *y)
{
	const struct meta *a = x->m, *b = y->m;

	return x->kind == y->kind && !strcmp(a->name, b->name) &&
	       !strcmp(a->namespace ? a->namespace : "", b->namespace ? b->namespace : "");
}

int store_check(const struct store *s, struct diags *d)
{
	int worst = 0;

	for (int k = 0; k < KIND__COUNT; k++) {
		const struct kind_ops *ops = &kinds[k];
		const char *arr = *(char *const *)((const char *)s + ops->arr_off);
		size_t n = *(const size_t *)((const char *)s + ops->n_off);
		struct key_ref *v;

		if (n < 2 || !first_of_array(k))
			continue;
		v = malloc(n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			v[i].m = (const struct meta *)(arr + i * ops->size);
			v[i].kind = store_object_kind(kind_array(k), v[i].m);
		}
		qsort(v, n, sizeof(*v), cmp_meta);
		for (size_t i = 1; i < n; i++) {
			const struct meta *a = v[i - 1].m, *b = v[i].m;
			char obj[600];
			int r;

			if (!same_key(&v[i - 1], &v[i]))
				continue;
			snprintf(obj, sizeof(obj), "%s %s%s%s", kind_name(v[i].kind),
				 b->namespace ? b->namespace : "", b->namespace ? "/" : "", b->name);
			r = diags_add(d, b->loc.file, b->loc.line, obj, NULL,
				      "defined twice (also at %s:%u)", a->loc.file ? a->loc.file : "?",
				      a->loc.line);
			if (r < 0) {
				free(v);
				return r;
			}
			worst = -EINVAL;
		}
		free(v);
	}
	return worst;
}
