/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/ (and agent/kube/, which frames watch events): JSON from the API server
 * into the node tree the decoders take (yaml_tree.h), through json-c.
 *
 * json_parse_value() is the one way API bytes become a json-c tree: it refuses what json-c
 * would let through although it is not JSON or not what a manifest may hold (single quotes,
 * comments, NaN, raw control bytes in strings, a lone UTF-16 surrogate, \u0000 anywhere,
 * trailing bytes), so that a value reads as it would from a YAML manifest. json_tree_build()
 * then gives the decoders the same tree a manifest gives: strings are quoted scalars, numbers,
 * true/false and null plain ones (null = absent), every node at line 0 (JSON has no lines:
 * errors are located by the source name, the object and the field).
 */
#ifndef NFTGATE_MODEL_JSON_TREE_H
#define NFTGATE_MODEL_JSON_TREE_H

#include <stddef.h>

#include "model/diag.h"
#include "model/read.h"
#include "model/yaml_tree.h"

struct json_object;

/* Why json_parse_value() refused its input. */
struct json_parse_error {
	size_t offset;     /* byte of buf where the problem was seen */
	char message[160]; /* "a raw control character in a string", json-c's wording, ... */
};

/* Parses buf[0..len), which must hold exactly one JSON value (whitespace around it allowed),
 * nested at most max_depth containers deep. Returns 0 and a new reference in *ret (put it
 * with json_object_put()), -EINVAL (not JSON), -E2BIG (too deep) or -ENOMEM, with *err
 * filled on -EINVAL and -E2BIG. */
int json_parse_value(const char *buf, size_t len, unsigned max_depth, struct json_object **ret,
		     struct json_parse_error *err);

struct json_tree;

/* The node tree of o (borrowed: it is not kept), built in one allocation, or NULL for
 * out-of-memory. Values refused by lim (strings, entries, depth) or holding a NUL are added
 * to d as errors at `file` (as yaml_tree reports them) and return -E2BIG or -EINVAL. When
 * api_version / kind are not NULL they fill a mapping root's apiVersion / kind where it has
 * none (the items of an API list response). Returns 0 or -errno. */
int json_tree_build(struct json_object *o, const struct read_limits *lim, const char *file,
		    const char *api_version, const char *kind, struct diags *d,
		    struct json_tree **ret);

/* The root of t: never NULL (JSON's null is a plain "null" scalar). */
const struct ynode *json_tree_root(const struct json_tree *t);

struct json_tree *json_tree_free(struct json_tree *t);

#endif
