/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A store that borrows the objects of several stores: the daemon keeps one store per
 * source (a file's last good objects) and resolves over their union. The view holds
 * shallow copies of the objects; every string and array inside them stays owned by the
 * part it came from, so the parts must outlive the view, and nothing may be loaded into
 * a part while a view of it exists.
 */
#ifndef NFTGATE_MODEL_STORE_VIEW_H
#define NFTGATE_MODEL_STORE_VIEW_H

#include <stddef.h>

#include "model/diag.h"
#include "model/objects.h"

/* The union of parts[0..n), in part order. An object whose kind, namespace and name an
 * earlier part already holds is left out and reported in d, at its own location ("defined
 * again (first at a.yaml:3); this one is ignored"). Returns 0 and sets *ret, or -ENOMEM. */
int store_view_build(const struct store *const *parts, size_t n, struct store **ret,
		     struct diags *d);

/* Frees the view (not the objects it borrows); accepts NULL; returns NULL. Never pass a
 * view to store_free(). */
struct store *store_view_free(struct store *v);

#endif
