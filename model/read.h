/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading manifests (YAML or JSON, multi-document, `kind: List`) into a store.
 *
 * Scalars are typed by the field they fill, never by YAML 1.1 guessing. Kinds nftgate does
 * not use are skipped; an unknown apiVersion of a kind it does use is an error. Every object
 * is defaulted and validated as the CRD schema/CEL and the API server would; an object with
 * any error is reported in `d` and not added. Every input is bounded by read_limits.
 */
#ifndef NFTGATE_MODEL_READ_H
#define NFTGATE_MODEL_READ_H

#include <stddef.h>

#include "diag.h"
#include "objects.h"

struct read_limits {
	size_t max_input_bytes;  /* one file or stdin */
	size_t max_doc_bytes;    /* one YAML document */
	unsigned max_depth;      /* nesting of mappings and sequences */
	size_t max_objects;      /* objects in the whole store */
	size_t max_string;       /* bytes in one scalar */
	size_t max_items;        /* entries in one sequence or mapping */
};

extern const struct read_limits read_limits_default;

/* Decodes every document of buf into s. `file` names the input in errors (interned in s).
 * Returns 0 when the input had no error, -EINVAL when errors were added to d (the objects
 * without errors are still added), -ENOMEM, or -E2BIG when a limit refused the input. */
int store_load_buffer(struct store *s, const char *file, const char *buf, size_t len,
		      const struct read_limits *lim, struct diags *d);

/* As store_load_buffer for a path: a regular file, a directory (its *.yaml, *.yml and *.json
 * files, sorted by name, not recursive) or "-" for stdin. I/O errors are reported in d with
 * the path and strerror, and return -errno. */
int store_load_path(struct store *s, const char *path, const struct read_limits *lim,
		    struct diags *d);

/* Checks that need every object: the same kind/namespace/name twice. Call once, after the
 * last load. Returns 0 or -EINVAL with errors in d. */
int store_check(const struct store *s, struct diags *d);

#endif
