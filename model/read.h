/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading manifests (YAML or JSON, multi-document, `kind: List`) and objects from the API
 * server (JSON) into a store.
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

/* Objects from the API server: buf holds one JSON value, an object or a list response
 * ({"kind":"XList","apiVersion":...,"items":[...]}, whose items take the list's apiVersion
 * and kind less "List" when they have none; `kind: List` is read as in a manifest). Decoded,
 * defaulted, validated, skipped and counted as store_load_buffer() does, with the same
 * limits (buf is one document: max_doc_bytes applies to all of it). JSON has no lines:
 * errors name `source` (e.g. "api:/apis/gateway.networking.k8s.io/v1/tcproutes"), line 0,
 * and the object and field. A key twice in one JSON object: the last one is read (json-c).
 * Returns as store_load_buffer(). */
int store_load_json(struct store *s, const char *source, const char *buf, size_t len,
		    const struct read_limits *lim, struct diags *d);

/* As store_load_json() for a value already parsed (a watch event's object, see
 * agent/kube/watch_stream.h; json_parse_value() in model/json_tree.h), borrowed. */
struct json_object;
int store_load_json_object(struct store *s, const char *source, struct json_object *obj,
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
