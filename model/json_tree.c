/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON bytes -> json-c -> the decoders' node tree. json-c is lenient even in strict mode
 * (it takes 'single quotes', NaN, comments and raw control bytes, and cuts a key at \u0000),
 * so a byte scan refuses those first; json-c then parses. The tree is measured in a first
 * walk (limits checked there) and filled in a second, in one allocation that is freed at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "model/diag.h"
#include "model/json_tree.h"

struct json_tree {
	struct ynode *root;
	/* nodes, then child pointers, then scalar text, in the same allocation */
	max_align_t data[];
};

static int scan_err(struct json_parse_error *err, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int scan_err(struct json_parse_error *err, size_t off, const char *fmt, ...)
{
	va_list ap;

	err->offset = off;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int hex4(const unsigned char *s, size_t left, unsigned *v)
{
	*v = 0;
	if (left < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return 0;
}

/* A \u escape at s[i] ('u'); returns the bytes it takes after the backslash, or <0. */
static int scan_escape(const unsigned char *s, size_t len, size_t i, struct json_parse_error *err)
{
	unsigned v, lo;

	if (hex4(s + i + 1, len - i - 1, &v) < 0)
		return 1; /* json-c reports a bad escape */
	if (v == 0)
		return scan_err(err, i - 1, "\\u0000 (a NUL character) is not allowed in a value or key");
	if (v >= 0xdc00 && v <= 0xdfff)
		return scan_err(err, i - 1, "a UTF-16 low surrogate (\\u%04x) without its high one", v);
	if (v < 0xd800 || v > 0xdbff)
		return 5;
	if (len - i < 11 || s[i + 5] != '\\' || s[i + 6] != 'u' ||
	    hex4(s + i + 7, len - i - 7, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return scan_err(err, i - 1, "a UTF-16 high surrogate (\\u%04x) without its low one", v);
	return 11;
}

/* Refuses what json-c would accept although it is not JSON, or not what a manifest may hold. */
static int scan(const char *buf, size_t len, struct json_parse_error *err)
{
	static const char outside[] = " \t\r\n{}[]:,0123456789+-.eEtrufalsn";
	const unsigned char *s = (const unsigned char *)buf;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;
		int e;

		if (!in_str) {
			in_str = c == '"';
			if (in_str || (c && strchr(outside, c)))
				continue;
			return scan_err(err, i, "%s", c == '\'' ? "single quotes are not JSON" :
					c == '/' ? "comments are not JSON" :
					"unexpected character (not JSON)");
		}
		if (c == '"') {
			in_str = false;
		} else if (c < 0x20) {
			return scan_err(err, i, "a raw control character (0x%02x) in a string", c);
		} else if (c >= 0x80) {
			n = utf8_char(s + i, len - i, &cp);
			if (!n)
				return scan_err(err, i, "invalid UTF-8 (0x%02x)", c);
			i += n - 1;
		} else if (c == '\\' && i + 1 < len) {
			if (s[++i] != 'u')
				continue;
			e = scan_escape(s, len, i, err);
			if (e < 0)
				return e;
			i += (size_t)e - 1;
		}
	}
	return 0;
}

static bool only_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]) || !s[i])
			return false;
	return true;
}

int json_parse_value(const char *buf, size_t len, unsigned max_depth, struct json_object **ret,
		     struct json_parse_error *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error je;
	size_t end;
	int r = scan(buf, len, err);

	*ret = NULL;
	if (r < 0)
		return r;
	if (only_space(buf, len))
		return scan_err(err, len, "no JSON value");
	if (len > INT_MAX - 1 || max_depth > INT_MAX - 1)
		return (scan_err(err, 0, "input larger than json-c can parse"), -E2BIG);
	/* json-c's depth counts its own outermost state too */
	tok = json_tokener_new_ex((int)max_depth + 1);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* a value at the very end ("8080") waits for a byte that ends it */
	if (je == json_tokener_continue) {
		o = json_tokener_parse_ex(tok, " ", 1);
		je = json_tokener_get_error(tok);
		end = len;
	}
	if (je == json_tokener_success && !only_space(buf + end, len - end))
		r = scan_err(err, end, "bytes after the JSON value");
	else if (je == json_tokener_continue)
		r = scan_err(err, len, "the input ends inside a JSON value");
	else if (je == json_tokener_error_depth)
		r = (scan_err(err, end, "nesting deeper than %u levels (limit max_depth)", max_depth),
		     -E2BIG);
	else if (je != json_tokener_success)
		r = scan_err(err, end, "%s", json_tokener_error_desc(je));
	json_tokener_free(tok);
	if (r < 0)
		json_object_put(o);
	else
		*ret = o;
	return r;
}

/* What a walk needs: the limits and where to report, and (in the fill walk) the cursors. */
struct walk {
	const struct read_limits *lim;
	const char *file;
	struct diags *d;
	const char *api_version, *kind; /* defaults for the root mapping */
	size_t nodes, kids, text;       /* measured, then the fill walk's cursors */
	struct ynode *node_v;
	struct ynode **kid_v;
	char *text_v;
};

static int walk_err(struct walk *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int walk_err(struct walk *w, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diags_addv(w->d, w->file, 0, NULL, NULL, fmt, ap);
	va_end(ap);
	return r < 0 ? r : err;
}

/* The text of a scalar: strings as they are, other values as JSON writes them (json-c keeps
 * a parsed number's own text). */
static const char *scalar_text(struct json_object *o, size_t *len)
{
	const char *s;

	if (json_object_get_type(o) == json_type_null) {
		*len = 4;
		return "null";
	}
	if (json_object_is_type(o, json_type_string)) {
		*len = (size_t)json_object_get_string_len(o);
		return json_object_get_string(o);
	}
	s = json_object_get_string(o);
	*len = s ? strlen(s) : 0;
	return s ? s : "";
}

static int measure_scalar(struct walk *w, const char *s, size_t len)
{
	char q[128];

	if (len > w->lim->max_string)
		return walk_err(w, -E2BIG, "a scalar is longer than %zu bytes (limit max_string)",
				w->lim->max_string);
	if (memchr(s, '\0', len))
		return walk_err(w, -EINVAL, "%s: a NUL character is not allowed in a value or key",
				diag_quote(q, sizeof(q), s, len));
	w->nodes++;
	w->text += len + 1;
	return 0;
}

/* Whether the root's default for key (apiVersion / kind) is to be used: it has none. */
static bool use_default(struct json_object *root, const char *key, const char *def)
{
	struct json_object *v;

	return def && (!json_object_object_get_ex(root, key, &v) || !v);
}

static int measure(struct walk *w, struct json_object *o, unsigned depth, bool root)
{
	size_t n, len;
	const char *s;
	int r;

	switch (json_object_get_type(o)) {
	case json_type_object:
	case json_type_array:
		break;
	default:
		s = scalar_text(o, &len);
		return measure_scalar(w, s, len);
	}
	if (depth >= w->lim->max_depth)
		return walk_err(w, -E2BIG, "nesting deeper than %u levels (limit max_depth)",
				w->lim->max_depth);
	w->nodes++;
	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		if (n > w->lim->max_items)
			goto too_many;
		w->kids += n;
		for (size_t i = 0; i < n; i++)
			if ((r = measure(w, json_object_array_get_idx(o, i), depth + 1, false)) < 0)
				return r;
		return 0;
	}
	n = (size_t)json_object_object_length(o);
	if (n > w->lim->max_items)
		goto too_many;
	w->kids += 2 * n;
	json_object_object_foreach(o, key, val) {
		if ((r = measure_scalar(w, key, strlen(key))) < 0 || (r = measure(w, val, depth + 1, false)) < 0)
			return r;
	}
	if (root && use_default(o, "apiVersion", w->api_version))
		w->kids += 2, w->nodes += 2, w->text += strlen("apiVersion") + strlen(w->api_version) + 2;
	if (root && use_default(o, "kind", w->kind))
		w->kids += 2, w->nodes += 2, w->text += strlen("kind") + strlen(w->kind) + 2;
	return 0;
too_many:
	return walk_err(w, -E2BIG, "more than %zu entries in one sequence or mapping (limit max_items)",
			w->lim->max_items);
}

static struct ynode *new_scalar(struct walk *w, const char *s, size_t len, bool plain)
{
	struct ynode *n = &w->node_v[w->nodes++];

	n->type = YN_SCALAR;
	n->plain = plain;
	n->str = w->text_v + w->text;
	memcpy(n->str, s, len);
	n->str[len] = '\0';
	n->len = len;
	w->text += len + 1;
	return n;
}

static void add_pair(struct walk *w, struct ynode *map, const char *key, const char *value)
{
	map->kids[2 * map->n] = new_scalar(w, key, strlen(key), false);
	map->kids[2 * map->n + 1] = new_scalar(w, value, strlen(value), false);
	map->n++;
}

/* The second walk: measure() has checked everything and sized every array. */
static struct ynode *fill(struct walk *w, struct json_object *o, bool root)
{
	enum json_type t = json_object_get_type(o);
	struct ynode *n;
	size_t len;
	const char *s;

	if (t != json_type_object && t != json_type_array) {
		s = scalar_text(o, &len);
		return new_scalar(w, s, len, t != json_type_string);
	}
	n = &w->node_v[w->nodes++];
	n->type = t == json_type_object ? YN_MAP : YN_SEQ;
	n->kids = w->kid_v + w->kids;
	if (t == json_type_array) {
		n->n = json_object_array_length(o);
		w->kids += n->n;
		for (size_t i = 0; i < n->n; i++)
			n->kids[i] = fill(w, json_object_array_get_idx(o, i), false);
		return n;
	}
	len = (size_t)json_object_object_length(o);
	if (root)
		len += use_default(o, "apiVersion", w->api_version) + use_default(o, "kind", w->kind);
	w->kids += 2 * len;
	json_object_object_foreach(o, key, val) {
		/* a null apiVersion or kind of a list item is the list's, as an absent one */
		if (root && !val && ((!strcmp(key, "apiVersion") && w->api_version) ||
				     (!strcmp(key, "kind") && w->kind)))
			continue;
		n->kids[2 * n->n] = new_scalar(w, key, strlen(key), false);
		n->kids[2 * n->n + 1] = fill(w, val, false);
		n->n++;
	}
	if (root && use_default(o, "apiVersion", w->api_version))
		add_pair(w, n, "apiVersion", w->api_version);
	if (root && use_default(o, "kind", w->kind))
		add_pair(w, n, "kind", w->kind);
	return n;
}

int json_tree_build(struct json_object *o, const struct read_limits *lim, const char *file,
		    const char *api_version, const char *kind, struct diags *d,
		    struct json_tree **ret)
{
	struct walk w = { .lim = lim ? lim : &read_limits_default, .file = file, .d = d,
			  .api_version = api_version, .kind = kind };
	bool map = json_object_is_type(o, json_type_object);
	struct json_tree *t;
	size_t nodes_b, kids_b;
	int r;

	*ret = NULL;
	r = measure(&w, o, 0, map);
	if (r < 0)
		return r;
	/* every count is bounded by the input's size, far from overflowing */
	nodes_b = w.nodes * sizeof(struct ynode);
	kids_b = w.kids * sizeof(struct ynode *);
	t = calloc(1, sizeof(*t) + nodes_b + kids_b + w.text);
	if (!t)
		return -ENOMEM;
	w.node_v = (struct ynode *)t->data;
	w.kid_v = (struct ynode **)((char *)t->data + nodes_b);
	w.text_v = (char *)t->data + nodes_b + kids_b;
	w.nodes = w.kids = w.text = 0;
	t->root = fill(&w, o, map);
	*ret = t;
	return 0;
}

const struct ynode *json_tree_root(const struct json_tree *t)
{
	return t->root;
}

struct json_tree *json_tree_free(struct json_tree *t)
{
	free(t);
	return NULL;
}
