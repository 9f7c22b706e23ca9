/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wrappers behind tests/unit/alloc_fail.h. The Makefile links this file, with
 * -Wl,--wrap for each function below, into the unit tests only.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "alloc_fail.h"

#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_FAIL_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_FAIL_LSAN 1
#endif
#endif
#ifdef ALLOC_FAIL_LSAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#define LEAK_CHECK_EVERY 32

static unsigned long fail_at, seen;
static bool fired;
static const char *running;     /* what alloc_fail_each() runs, for a crash report */
static unsigned long running_n;

void alloc_fail_arm(unsigned long n)
{
	fail_at = n;
	seen = 0;
	fired = false;
}

bool alloc_fail_fired(void)
{
	return fired;
}

unsigned long alloc_fail_seen(void)
{
	return seen;
}

/* Counts the call; true when this one must fail (errno is then ENOMEM, as libc sets it). */
static bool fail_now(void)
{
	if (!fail_at)
		return false;
	if (++seen != fail_at)
		return false;
	fired = true;
	errno = ENOMEM;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **ret, const char *fmt, va_list ap);
FILE *__real_open_memstream(char **ret, size_t *ret_len);

/* Declared here only: nothing else calls the wrappers by name. */
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_reallocarray(void *p, size_t n, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **ret, const char *fmt, va_list ap);
int __wrap_asprintf(char **ret, const char *fmt, ...);
FILE *__wrap_open_memstream(char **ret, size_t *ret_len);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
	return fail_now() ? NULL : __real_reallocarray(p, n, size);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **ret, const char *fmt, va_list ap)
{
	return fail_now() ? -1 : __real_vasprintf(ret, fmt, ap);
}

/* asprintf is not wrapped through __real_asprintf: a variadic call cannot be forwarded. */
int __wrap_asprintf(char **ret, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (fail_now())
		return -1;
	va_start(ap, fmt);
	n = __real_vasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}

FILE *__wrap_open_memstream(char **ret, size_t *ret_len)
{
	return fail_now() ? NULL : __real_open_memstream(ret, ret_len);
}

#ifdef ALLOC_FAIL_LSAN
/* A sanitizer report ends the process: say which run it was. */
static void on_death(void)
{
	if (running)
		fprintf(stderr, "alloc_fail: the report above is from %s with allocation %lu "
			"failing\n", running, running_n);
}
#endif

static bool accepted(int r, const int *errs)
{
	static const int enomem_only[] = { -ENOMEM, 0 };

	for (const int *e = errs ? errs : enomem_only; *e; e++)
		if (r == *e)
			return true;
	return false;
}

unsigned long alloc_fail_each(const char *what, alloc_fail_fn f, void *ctx, const int *errs)
{
#ifdef ALLOC_FAIL_LSAN
	unsigned long checked = 0;

	__sanitizer_set_death_callback(on_death);
#endif
	running = what;
	for (unsigned long n = 1;; n++) {
		int r;
		bool hit;

		running_n = n;
		alloc_fail_arm(n);
		r = f(ctx);
		hit = alloc_fail_fired();
		alloc_fail_arm(0);
#ifdef ALLOC_FAIL_LSAN
		/* A leak stays found: checking every LEAK_CHECK_EVERY runs (a heap scan each)
		 * and at the end narrows it to a range, and LeakSanitizer prints the stacks. */
		if ((n % LEAK_CHECK_EVERY == 0 || !hit) && __lsan_do_recoverable_leak_check())
			fail_msg("%s leaked with one of allocations %lu..%lu failing", what,
				 checked + 1, n);
		if (n % LEAK_CHECK_EVERY == 0)
			checked = n;
#endif
		if (!hit) {
			if (r != 0)
				fail_msg("%s returned %d without a failed allocation (%lu made)",
					 what, r, n - 1);
			running = NULL;
			return n - 1;
		}
		if (!accepted(r, errs))
			fail_msg("%s returned %d with allocation %lu failing", what, r, n);
	}
}
