/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Objects from the API server into the store: JSON (json_tree.h) -> the node tree manifests
 * give -> read.c's document decoding, so that defaults, validation, skipping and counting
 * are the files'. A list response is decoded item by item, each item's tree built and freed
 * in turn, with the list's apiVersion and kind for items that lack them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "model/json_tree.h"
#include "model/read.h"
#include "model/read_internal.h"

static int severity(int r)
{
	return r == 0 ? 0 : r == -ENOMEM ? 3 : r == -E2BIG ? 2 : 1;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* "PodList", "TCPRouteList": the API's list kinds (kind: List is the manifests' own). */
static bool api_list_kind(const char *kind)
{
	size_t n = kind ? strlen(kind) : 0;

	return n > 4 && strcmp(kind + n - 4, "List") == 0;
}

/* Words of ynode_describe() for a json-c value. */
static const char *json_describe(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_object:
		return "a mapping";
	case json_type_array:
		return "a sequence";
	case json_type_string:
		return "a quoted string";
	default:
		return "a plain scalar";
	}
}

static int load_value(struct store *s, const char *file, struct json_object *o,
		      const char *api_version, const char *kind, bool in_list,
		      const struct read_limits *lim, struct diags *d)
{
	struct json_tree *t = NULL;
	int r = json_tree_build(o, lim, file, api_version, kind, d, &t);

	if (r == 0)
		r = store_load_tree(s, file, json_tree_root(t), in_list, lim, d);
	json_tree_free(t);
	return r;
}

static int load_api_list(struct store *s, const char *file, size_t in, struct json_object *list,
			 const char *api_version, const char *list_kind,
			 const struct read_limits *lim, struct diags *d)
{
	struct json_object *items = NULL;
	char *kind;
	size_t n;
	int r = 0, worst = 0;

	if (!json_object_object_get_ex(list, "items", &items) || !items)
		return 0; /* an empty page */
	if (!json_object_is_type(items, json_type_array)) {
		r = diags_add(d, file, 0, list_kind, "items", "must be a list, got %s",
			      json_describe(items));
		if (r < 0)
			return r;
		s->inputs[in].refused++;
		return -EINVAL;
	}
	n = json_object_array_length(items);
	if (n > lim->max_items) {
		r = diags_add(d, file, 0, list_kind, "items",
			      "more than %zu entries in one sequence or mapping (limit max_items)",
			      lim->max_items);
		return r < 0 ? r : -E2BIG;
	}
	kind = strndup(list_kind, strlen(list_kind) - 4);
	if (!kind)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = load_value(s, file, json_object_array_get_idx(items, i), api_version, kind, true,
			       lim, d);
		if (r == -ENOMEM || r == -E2BIG)
			break;
		if (severity(r) > severity(worst))
			worst = r;
		r = 0;
	}
	free(kind);
	return r < 0 ? r : worst;
}

int store_load_json_object(struct store *s, const char *source, struct json_object *obj,
			   const struct read_limits *lim, struct diags *d)
{
	const char *file, *kind, *api_version;
	size_t in;

	if (!lim)
		lim = &read_limits_default;
	if (store_input_entry(s, source ? source : "-", &in) < 0)
		return -ENOMEM;
	file = s->inputs[in].name;
	if (json_object_is_type(obj, json_type_object)) {
		kind = str_member(obj, "kind");
		api_version = str_member(obj, "apiVersion");
		/* an XList without a string apiVersion is refused as a document by read.c */
		if (api_list_kind(kind) && api_version)
			return load_api_list(s, file, in, obj, api_version, kind, lim, d);
	}
	return load_value(s, file, obj, NULL, NULL, false, lim, d);
}

int store_load_json(struct store *s, const char *source, const char *buf, size_t len,
		    const struct read_limits *lim, struct diags *d)
{
	struct json_parse_error err;
	struct json_object *o;
	const char *file;
	size_t in, skip = 0;
	int r;

	if (!lim)
		lim = &read_limits_default;
	if (store_input_entry(s, source ? source : "-", &in) < 0)
		return -ENOMEM;
	file = s->inputs[in].name;
	if (len > lim->max_input_bytes || len > lim->max_doc_bytes) {
		bool input = len > lim->max_input_bytes;

		r = diags_add(d, file, 0, NULL, NULL, "%s is larger than %zu bytes (limit %s)",
			      input ? "input" : "document",
			      input ? lim->max_input_bytes : lim->max_doc_bytes,
			      input ? "max_input_bytes" : "max_doc_bytes");
		return r < 0 ? r : -E2BIG;
	}
	/* a UTF-8 byte order mark, which a manifest may start with too */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		skip = 3;
	r = json_parse_value(buf + skip, len - skip, lim->max_depth, &o, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		int e = diags_add(d, file, 0, NULL, NULL, "%s%s (at byte %zu)",
				  r == -EINVAL ? "JSON syntax error: " : "", err.message,
				  err.offset + skip);

		return e < 0 ? e : r;
	}
	r = store_load_json_object(s, file, o, lim, d);
	json_object_put(o);
	return r;
}
