/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: the one way model/ allocates and grows arrays. Sizes are checked for
 * overflow (an input controls most of them), and NULL always means out of memory.
 */
#ifndef NFTGATE_MODEL_ARRAY_H
#define NFTGATE_MODEL_ARRAY_H

#include <stddef.h>

/* n zeroed elements of `size` bytes. Never NULL for n == 0, so that NULL always means out of
 * memory (or n * size overflowing). */
void *calloc_array(size_t n, size_t size);

/* Makes room for `need` elements of `size` bytes in *v, whose allocated length (in elements)
 * is *cap, doubling it so that appending n elements one by one costs O(n). Returns 0, or
 * -ENOMEM with *v and *cap unchanged (also when the size would overflow). */
int array_grow(void **v, size_t *cap, size_t need, size_t size);

/* array_grow() for a typed pointer: ARRAY_GROW(s->v, s->cap, s->n + 1). */
#define ARRAY_GROW(v, cap, need) array_grow((void **)&(v), &(cap), (need), sizeof(*(v)))

#endif
