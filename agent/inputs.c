/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From -f paths to a resolved plan and status: the one place that reports input errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/cli.h"
#include "model/read.h"
#include "model/resolve.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("nftgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Reads every path even after an error, so that one run reports every bad input. */
static int load_all(const struct cli *c, struct store *s, struct diags *d)
{
	int worst = 0, r;

	for (size_t i = 0; i < c->n_paths; i++) {
		r = store_load_path(s, c->paths[i], &read_limits_default, d);

		if (r == -ENOMEM)
			return r;
		if (r < 0 && !worst)
			worst = r;
	}
	/* Duplicates are reported even when some input was bad: every error, at once. */
	r = store_check(s, d);
	if (r == -ENOMEM)
		return r;
	return worst ? worst : r;
}

static int input_errors(const struct diags *d)
{
	diags_print(d, stderr);
	cli_error("%zu input error%s; nothing was changed", d->n + d->dropped,
		  d->n + d->dropped == 1 ? "" : "s");
	return EXIT_INPUT;
}

/* A command that programs the kernel says where the inputs do not forward as written
 * (`status` prints the same as conditions): not errors, a Gateway API controller applies
 * the rest and reports these in status, so do we. */
static void route_warnings(const struct diags *w)
{
	size_t n = w->n + w->dropped;

	if (!n)
		return;
	diags_print(w, stderr);
	cli_error("warning: %zu route reference%s above do%s not resolve or attach (`nftgate "
		  "status` shows the conditions); everything else is as written", n,
		  n == 1 ? "" : "s", n == 1 ? "es" : "");
}

int cli_load(const struct cli *c, struct store **ret_store, struct plan **ret_plan,
	     struct status_set **ret_status)
{
	struct resolve_opts ro = {
		.controller_name = c->controller,
		.claimed_classes = c->classes,
		.n_claimed_classes = c->n_classes,
	};
	struct diags d = { 0 }, w = { 0 };
	struct store *s = store_new();
	struct plan *p = NULL;
	struct status_set *st = NULL;
	int r;

	if (!s) {
		cli_error("out of memory");
		return EXIT_REFUSED;
	}
	r = load_all(c, s, &d);
	/* directory entries that were not read (FIFOs, devices): said, not errors */
	diags_print_notes(&d, stderr);
	if (r == -ENOMEM) {
		cli_error("out of memory reading the input");
		r = EXIT_REFUSED;
		goto out;
	}
	if (r < 0 || d.n) {
		r = input_errors(&d);
		goto out;
	}
	/* resolve() reports what only the whole input shows (a share's endpoint limit) */
	ro.diags = &d;
	if (strcmp(c->command, "status"))
		ro.warnings = &w;
	r = resolve(s, &ro, &p, &st);
	if (r < 0) {
		cli_error("resolving the input: %s", strerror(-r));
		r = EXIT_REFUSED;
		goto out;
	}
	if (d.n) {
		r = input_errors(&d);
		goto out;
	}
	route_warnings(&w);
	if (ret_plan) {
		*ret_plan = p;
		p = NULL;
	}
	if (ret_status) {
		*ret_status = st;
		st = NULL;
	}
	if (ret_store) {
		*ret_store = s;
		s = NULL;
	}
	r = EXIT_OK;
out:
	diags_clear(&w);
	diags_clear(&d);
	plan_free(p);
	status_set_free(st);
	store_free(s);
	return r;
}
