/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifest reader and resolve() with every allocation failing in turn
 * (tests/unit/alloc_fail.h): each run must return -ENOMEM, never crash, and leak nothing
 * (LeakSanitizer in `make asan`). Inputs: the example, the conflicted and weighted e2e
 * scenarios and the UDPRoute fuzz seed, read from files as `nftgate apply -f` reads them. The layout's own runs
 * are in test_nft_layout.c.
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

#include "model/plan.h"
#include "model/read.h"
#include "model/resolve.h"
#include "alloc_fail.h"

struct input {
	const char *const *paths;
	size_t n;
	size_t want_listeners;   /* in the plan of the successful run */
	size_t got_listeners;
};

/* What cli_load() does, without the CLI: read every path, check, resolve, free. */
static int read_resolve(void *ctx)
{
	struct input *in = ctx;
	struct resolve_opts ro = { 0 };
	struct diags d = { 0 };
	struct store *s = store_new();
	struct plan *p = NULL;
	struct status_set *st = NULL;
	int r = -ENOMEM;

	if (!s)
		goto out;
	for (size_t i = 0; i < in->n; i++) {
		r = store_load_path(s, in->paths[i], &read_limits_default, &d);
		if (r < 0)
			goto out;
	}
	r = store_check(s, &d);
	if (r < 0)
		goto out;
	r = resolve(s, &ro, &p, &st);
	if (r < 0)
		goto out;
	/* an input error here would mean a failed allocation was reported as the input's */
	r = d.n ? -EINVAL : 0;
	in->got_listeners = p->n;
out:
	diags_clear(&d);
	plan_free(p);
	status_set_free(st);
	store_free(s);
	return r;
}

static void run(const char *what, struct input *in)
{
	unsigned long n = alloc_fail_each(what, read_resolve, in, NULL);

	fprintf(stderr, "%s: %lu allocations\n", what, n);

	assert_true(n > 0);
	assert_int_equal(in->got_listeners, in->want_listeners);
}

static void example(void **state)
{
	static const char *const paths[] = { "examples/basic-tcp" };
	struct input in = { paths, 1, 2, 0 };

	run("read+resolve(examples/basic-tcp)", &in);
}

static void conflicted(void **state)
{
	static const char *const paths[] = { "tests/e2e/manifests/common",
					     "tests/e2e/manifests/conflicted" };
	struct input in = { paths, 2, 3, 0 };

	run("read+resolve(conflicted)", &in);
}

static void weighted(void **state)
{
	static const char *const paths[] = { "tests/e2e/manifests/common",
					     "tests/e2e/manifests/weights" };
	struct input in = { paths, 2, 1, 0 };

	run("read+resolve(weights)", &in);
}

/* UDP and TCP listeners on one port, a UDPRoute and a TCPRoute of one name, a grant. */
static void udp(void **state)
{
	static const char *const paths[] = { "tests/fuzz/corpus-manifest/udproute.yaml" };
	struct input in = { paths, 1, 3, 0 };

	run("read+resolve(udproute)", &in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example),
		cmocka_unit_test(conflicted),
		cmocka_unit_test(weighted),
		cmocka_unit_test(udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
