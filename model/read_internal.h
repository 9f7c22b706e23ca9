/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: what read.c lends another front end (read_json.c) so that a document
 * from elsewhere is decoded, defaulted, validated and counted exactly as a manifest's.
 */
#ifndef NFTGATE_MODEL_READ_INTERNAL_H
#define NFTGATE_MODEL_READ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "model/read.h"
#include "model/yaml_tree.h"

/* The s->inputs entry for file: the last one when it has that name, else a new one.
 * Returns 0 and its index, or -ENOMEM. */
int store_input_entry(struct store *s, const char *file, size_t *ret);

/* One document (root; a null one is skipped) as store_load_buffer() reads each of its
 * documents: `in_list` when it is an item of a list. file names the input as there.
 * Returns 0, -EINVAL, -E2BIG or -ENOMEM, as store_load_buffer(). */
int store_load_tree(struct store *s, const char *file, const struct ynode *root, bool in_list,
		    const struct read_limits *lim, struct diags *d);

#endif
