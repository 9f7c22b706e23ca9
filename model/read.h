/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading manifests (YAML or JSON, multi-document, `kind: List`) into a store.
 *
 * Scalars are typed by the field they fill, never by YAML 1.1 guessing. Kinds nftgate does
 * not use are skipped; an unknown apiVersion of a kind it does use is an error. Every object
 * is defaulted and validated as the CRD schema/CEL and the API server would; an object with
 * any error is reported in `d` and not added. Every input is bounded by read_limits.
 *
 * What was read is recorded per input in s->inputs (struct store_input, objects.h): the
 * objects added by kind, the documents of other kinds skipped and those refused, so that a
 * caller can say what an input held (an apply of inputs without any Gateway API object,
 * say). Loading may move the store's arrays (the borrowing rule in objects.h).
 */
#ifndef NFTGATE_MODEL_READ_H
#define NFTGATE_MODEL_READ_H

#include <stddef.h>

#include "diag.h"
#include "objects.h"

struct read_limits {
	size_t max_input_bytes;  /* one file or stdin */
	size_t max_doc_bytes;    /* one YAML document, in bytes (not characters) */
	unsigned max_depth;      /* nesting of mappings and sequences */
	size_t max_objects;      /* objects in the whole store */
	size_t max_string;       /* bytes in one scalar */
	size_t max_items;        /* entries in one sequence or mapping */
};

extern const struct read_limits read_limits_default;

/* Decodes every document of buf into s. `file` names the input in errors and in s->inputs
 * (the last entry when it has the same name, else a new one). Returns 0 when the input had
 * no error, -EINVAL when errors were added to d (the objects without errors are still
 * added), -ENOMEM, or -E2BIG when a limit refused the input. */
int store_load_buffer(struct store *s, const char *file, const char *buf, size_t len,
		      const struct read_limits *lim, struct diags *d);

/* As store_load_buffer for a path: a regular file, a directory (its *.yaml, *.yml and *.json
 * regular files, sorted by name, not recursive; other entries of those names, FIFOs and
 * devices, are skipped with a note in d, see diags_note()), a pipe named directly (-f <(...))
 * or "-" for stdin. Nothing is opened in a way that can wait for a writer. A device or
 * socket named directly is an input error (-EINVAL). I/O errors are reported in d with the
 * path and strerror, and return -errno. */
int store_load_path(struct store *s, const char *path, const struct read_limits *lim,
		    struct diags *d);

/* Checks that need every object: the same kind/namespace/name twice. Call once, after the
 * last load. Returns 0 or -EINVAL with errors in d. */
int store_check(const struct store *s, struct diags *d);

#endif
