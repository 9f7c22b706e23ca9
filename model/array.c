/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Array allocation for model/: calloc that means "out of memory" only, and geometric growth.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/array.h"

void *calloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size ? size : 1);
}

int array_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *nv;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (size && ncap > SIZE_MAX / size)
		return -ENOMEM;
	nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}
