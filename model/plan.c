/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plan owns every string and array in it; freeing is deep and accepts NULL.
 */
#include <stdlib.h>

#include "model/plan.h"

static void listener_free_contents(struct plan_listener *l)
{
	free(l->key);
	free(l->gateway);
	free(l->listener);
	free(l->addrs);
	free(l->route);
	for (size_t i = 0; l->shares && i < l->n_shares; i++) {
		free(l->shares[i].backend);
		free(l->shares[i].endpoints);
	}
	free(l->shares);
}

struct plan *plan_free(struct plan *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; p->v && i < p->n; i++)
		listener_free_contents(&p->v[i]);
	free(p->v);
	free(p);
	return NULL;
}
