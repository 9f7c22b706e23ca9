/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate apply: manifests -> plan -> layout -> one netlink transaction (or, with
 * --dry-run, the same table as an `nft -f` script). Before each transaction the table as
 * it is in the kernel is saved in the state directory for `nftgate rollback`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli.h"
#include "nft/build.h"
#include "nft/layout.h"
#include "nft/netlink.h"
#include "nft/probe.h"
#include "nft/render.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"

#define APPLY_TRIES 5 /* generation changed under us (ERESTART): re-read and retry */

/* Test hook (docs/rollback.md): NFTGATE_TEST_FAIL_AT=<index> makes the batch builder insert
 * a message the kernel refuses at that index, to exercise the refusal path end to end. */
static int test_fail_at(void)
{
	const char *v = getenv("NFTGATE_TEST_FAIL_AT");
	char *end;
	long n;

	if (!v || !*v)
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 1 || n > 1000000000)
		return -1;
	return (int)n;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int print_debug(const struct ruleset *rs)
{
	char *text = NULL;
	int r = batch_debug_rules(rs, &text);

	if (r < 0)
		return r;
	fputs(text, stderr);
	free(text);
	return 0;
}

static int dry_run(const struct ruleset *rs)
{
	char *text = NULL;
	size_t len = 0;
	int r = render_text(rs, &text, &len);

	if (r < 0) {
		cli_error("rendering the dry run: %s", strerror(-r));
		return EXIT_REFUSED;
	}
	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
		free(text);
		cli_error("writing the dry run: %s", strerror(errno));
		return EXIT_REFUSED;
	}
	free(text);
	return EXIT_OK;
}

struct attempt {
	struct snapshot *snap;
	struct counter_values carry;
	struct nft_batch *nb;
	struct nl_acks acks;
	char saved[STATEDIR_NAME_MAX];
	double commit_ms;
};

static void attempt_clear(struct attempt *a)
{
	a->snap = snapshot_free(a->snap);
	counter_values_clear(&a->carry);
	a->nb = batch_free(a->nb);
	nl_acks_clear(&a->acks);
	a->saved[0] = '\0';
}

/* Snapshot the table, save it, build the batch fenced by the snapshot's generation, send. */
static int attempt_once(struct nl_sock *nl, int dirfd, const struct ruleset *rs, int fail_at,
			struct attempt *a, struct nft_error *e)
{
	uint32_t genid = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct apply_opts o = { .genid = &genid, .fail_at = fail_at };
	double t0;
	int r;

	r = snapshot_take(nl, rs->table, &a->snap, &genid, e);
	if (r < 0)
		return r;
	r = snapshot_encode(a->snap, &buf, &len);
	if (r < 0)
		return nft_error_set(e, r, "encoding the snapshot: %s", strerror(-r));
	r = statedir_save(dirfd, rs->table, buf, len, a->saved, e);
	free(buf);
	if (r < 0)
		return r;
	r = snapshot_counters(a->snap, &a->carry);
	if (r < 0)
		return nft_error_set(e, r, "out of memory");
	o.carry = &a->carry;
	r = batch_build_apply(rs, nl_seq_reserve(nl, 1u << 24), &o, &a->nb, e);
	if (r < 0)
		return r;
	t0 = now_ms();
	r = nl_send_batch(nl, a->nb->b, a->nb->n, a->nb->seq_base + (uint32_t)a->nb->n - 1,
			  &a->acks, e);
	a->commit_ms = now_ms() - t0;
	if (r < 0)
		return r;
	return batch_outcome(a->nb, &a->acks, e);
}

static int apply_kernel(const struct cli *c, const struct ruleset *rs)
{
	struct nft_error e = { 0 };
	struct attempt a = { 0 };
	struct nl_sock *nl = NULL;
	int dirfd = -1, r, fail_at = test_fail_at();

	r = nl_open(&nl, &e);
	if (r >= 0)
		r = probe_kernel(nl, &e);
	if (r >= 0)
		r = statedir_open(c->state_dir, &dirfd, &e);
	for (int tries = 0; r >= 0 && tries < APPLY_TRIES; tries++) {
		nft_error_set(&e, 0, "%s", "");
		r = attempt_once(nl, dirfd, rs, fail_at, &a, &e);
		if (r == 0)
			break;
		/* The transaction did not commit: its snapshot describes the current table and
		 * is not history; drop it so rollback only walks real applies. */
		if (a.saved[0])
			statedir_remove(dirfd, a.saved, NULL);
		attempt_clear(&a);
		if (r != -ERESTART)
			break;
		if (tries + 1 < APPLY_TRIES)
			r = 0;
		else
			nft_error_append(&e, "gave up after %d attempts: something else keeps "
					 "changing the ruleset", APPLY_TRIES);
	}
	if (r < 0) {
		cli_error("apply to table inet %s failed: %s", c->table,
			  e.msg[0] ? e.msg : strerror(-r));
		r = EXIT_REFUSED;
		goto out;
	}
	statedir_prune(dirfd, c->table, STATEDIR_KEEP, NULL);
	printf("applied table inet %s: %zu listeners, %zu shares, %zu endpoints; one transaction "
	       "of %zu messages (%zu bytes) committed in %.1f ms; snapshot %s\n", c->table,
	       rs->plan->n, rs->n_shares, rs->n_plan_endpoints, a.nb->n, a.nb->bytes, a.commit_ms,
	       a.saved);
	r = EXIT_OK;
out:
	attempt_clear(&a);
	if (dirfd >= 0)
		close(dirfd);
	nl_close(nl);
	return r;
}

int cmd_apply(const struct cli *c)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;
	struct plan *p = NULL;
	int r;

	r = cli_load(c, NULL, &p, NULL);
	if (r != EXIT_OK)
		return r;
	r = layout_build(p, c->table, c->masquerade, &rs, &e);
	if (r < 0) {
		cli_error("%s%s", e.msg, r == -ENOMEM ? "" : "; nothing was changed");
		r = r == -ENOMEM ? EXIT_REFUSED : EXIT_INPUT;
		goto out;
	}
	if (c->debug_netlink && print_debug(rs) < 0) {
		cli_error("out of memory");
		r = EXIT_REFUSED;
		goto out;
	}
	r = c->dry_run ? dry_run(rs) : apply_kernel(c, rs);
out:
	ruleset_free(rs);
	plan_free(p);
	return r;
}
