/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: one YAML (or JSON) document at a time as a small node tree built from
 * libyaml events, bounded by read_limits. Scalars keep their text, whether they were written
 * plain (unquoted, so a number or null may be meant) and their line. No anchors, no aliases,
 * no merge keys, no duplicate keys, no NUL in any scalar. Documents are bounded in bytes (not
 * characters). The tree of a document lives until the next yreader_next() or free.
 */
#ifndef NFTGATE_MODEL_YAML_TREE_H
#define NFTGATE_MODEL_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/diag.h"
#include "model/read.h"

enum ynode_type { YN_SCALAR, YN_SEQ, YN_MAP };

struct ynode {
	enum ynode_type type;
	bool plain;         /* scalar written without quotes and without a !!str tag */
	unsigned line;      /* 1-based line of the node's first character */
	size_t len;         /* scalar: bytes in str (NUL-terminated, and holding no other NUL) */
	char *str;          /* scalar text */
	size_t n;           /* seq: items; map: key/value pairs */
	struct ynode **kids; /* seq: n items; map: 2n entries, key then value */
};

struct yreader;

/* Borrows buf (it must outlive the reader) and lim. NULL only for out-of-memory. */
struct yreader *yreader_new(const char *buf, size_t len, const struct read_limits *lim);
struct yreader *yreader_free(struct yreader *r);

/* The next document: returns 1 and *ret_root (NULL for an empty document), 0 at the end of
 * the stream, -EINVAL for a syntax error, -E2BIG for a limit or -ENOMEM. Errors are added to
 * d with `file` and the line; after an error the reader stays at the end. The previous
 * document's tree is freed. */
int yreader_next(struct yreader *r, const char *file, struct diags *d, const struct ynode **ret_root);

/* The value of key in a mapping, or NULL when absent. */
const struct ynode *ymap_get(const struct ynode *map, const char *key);

/* A plain `~`, `null`, `Null`, `NULL` or empty scalar: YAML's null, meaning "absent". */
bool ynode_is_null(const struct ynode *n);

/* "a mapping", "a sequence", "a string" ... for type errors. */
const char *ynode_describe(const struct ynode *n);

#endif
