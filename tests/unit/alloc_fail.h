/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation-failure injection for the unit tests.
 *
 * Every unit test binary is linked with tests/unit/alloc_fail.c and -Wl,--wrap=<f> for the
 * allocation functions nftgate's code calls (the Makefile's ALLOC_WRAP list): the linker
 * sends every call to them from the test and from libnftgate.a through this file.
 * build/nftgate is linked without either, so the product has no switch to flip. Nothing
 * fails until a test arms a failure; allocations made inside shared libraries (libc's own,
 * libyaml, libnftnl) are not seen.
 */
#ifndef NFTGATE_TEST_ALLOC_FAIL_H
#define NFTGATE_TEST_ALLOC_FAIL_H

#include <stdbool.h>

/* From now on, let n - 1 allocations succeed and fail the n-th (only that one); n = 0
 * disarms. Resets the counters below. */
void alloc_fail_arm(unsigned long n);

/* Whether the armed allocation has failed since alloc_fail_arm(). */
bool alloc_fail_fired(void);

/* Allocations seen since alloc_fail_arm(), the failed one included. */
unsigned long alloc_fail_seen(void);

typedef int (*alloc_fail_fn)(void *ctx);

/* Runs f(ctx) failing its n-th allocation, for n = 1, 2, ... until a run makes fewer than
 * n allocations; that run must return 0. Every run in which the allocation failed must
 * return one of errs (a list ending with 0; NULL means just -ENOMEM), must not crash and
 * (under LeakSanitizer, `make asan`) must leak nothing: f frees what it built, whatever it
 * returned. what names f in failure messages. Fails the current cmocka test otherwise;
 * returns the number of allocations of the successful run. */
unsigned long alloc_fail_each(const char *what, alloc_fail_fn f, void *ctx, const int *errs);

#endif
