/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate apply: manifests -> plan -> layout -> one netlink transaction (or, with
 * --dry-run, the same table as an `nft -f` script). Before each transaction the table as
 * it is in the kernel is saved in the state directory for `nftgate rollback`.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/kernel_session.h"
#include "nft/build.h"
#include "nft/layout.h"
#include "nft/netlink.h"
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
	double commit_ms, snap_ms;
	uint32_t genid;          /* the batch's fence */
	bool from_record;        /* the snapshot came from the committed record */
};

static void attempt_clear(struct attempt *a)
{
	a->snap = snapshot_free(a->snap);
	counter_values_clear(&a->carry);
	a->nb = batch_free(a->nb);
	nl_acks_clear(&a->acks);
	a->saved[0] = '\0';
}

/* The table as the kernel holds it: from the committed record when the generation shows
 * nothing changed since that commit (then only counters are read), else a full dump. The
 * record serves once: a retry means the generation moved, and a record that no longer
 * matches never will again (generations only grow). */
static int take_snapshot(struct nl_sock *nl, const char *table, struct snapshot **rec,
			 struct attempt *a, struct nft_error *e)
{
	double t0 = now_ms();
	int r = -ESTALE;

	if (*rec) {
		r = snapshot_take_from_record(nl, *rec, &a->snap, &a->genid, e);
		*rec = snapshot_free(*rec);
	}
	a->from_record = r == 0;
	if (r == -ESTALE)
		r = snapshot_take(nl, table, &a->snap, &a->genid, e);
	a->snap_ms = now_ms() - t0;
	return r;
}

/* Snapshot the table, save it, build the batch fenced by the snapshot's generation, send. */
static int attempt_once(struct nl_sock *nl, int dirfd, const struct ruleset *rs, int fail_at,
			struct snapshot **rec, struct attempt *a, struct nft_error *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct apply_opts o = { .genid = &a->genid, .fail_at = fail_at };
	double t0;
	int r;

	r = take_snapshot(nl, rs->table, rec, a, e);
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

/* The committed record of this table in this netns, or NULL: a missing, unreadable or
 * damaged record, or one of another table, boot or netns, only means a full dump. */
static struct snapshot *load_record(struct nl_sock *nl, int dirfd, const char *table)
{
	struct nl_netns_id here, there;
	struct snapshot *rec = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (nl_netns_id(nl, &here) < 0 ||
	    statedir_record_read(dirfd, table, SNAPSHOT_MAX_BYTES, &buf, &len, NULL) < 0)
		return NULL;
	if (record_decode(buf, len, &there, &rec, NULL) < 0)
		rec = NULL;
	free(buf);
	if (rec && (strcmp(rec->table, table) || strcmp(here.boot, there.boot) ||
		    here.cookie != there.cookie))
		rec = snapshot_free(rec);
	return rec;
}

/* After a commit: what the table now holds, as of the generation the commit produced.
 * Best effort: without it the next apply dumps the table, which is only slower. */
static void save_record(struct nl_sock *nl, int dirfd, const struct attempt *a)
{
	struct nft_error e = { 0 };
	struct nl_netns_id id;
	struct snapshot *s = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = nl_netns_id(nl, &id);
	if (r == -ENOPROTOOPT)
		return; /* before 5.14 the netns cannot be named: every apply dumps */
	if (r >= 0)
		r = snapshot_from_batch(a->nb, nl_gen_after_commit(a->genid), &s);
	if (r >= 0)
		r = record_encode(&id, s, s->genid, &buf, &len);
	if (r >= 0)
		r = statedir_record_save(dirfd, a->nb->table, buf, len, &e);
	if (r < 0)
		cli_error("note: the committed record was not saved (%s); the next apply will "
			  "dump the table", e.msg[0] ? e.msg : strerror(-r));
	free(buf);
	snapshot_free(s);
}

static int apply_kernel(const struct cli *c, const struct ruleset *rs)
{
	struct nft_error e = { 0 };
	struct attempt a = { 0 };
	struct kernel_session ks = { .dirfd = -1 };
	struct snapshot *rec = NULL;
	int r, fail_at = test_fail_at();

	r = kernel_session_open(c, &ks, &e);
	if (r >= 0)
		rec = load_record(ks.nl, ks.dirfd, c->table);
	for (int tries = 0; r >= 0 && tries < APPLY_TRIES; tries++) {
		nft_error_set(&e, 0, "%s", "");
		r = attempt_once(ks.nl, ks.dirfd, rs, fail_at, &rec, &a, &e);
		if (r == 0)
			break;
		/* The transaction did not commit: its snapshot describes the current table and
		 * is not history; drop it so rollback only walks real applies. */
		if (a.saved[0])
			statedir_remove(ks.dirfd, a.saved, NULL);
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
	a.snap = snapshot_free(a.snap); /* saved; only its memory is left */
	counter_values_clear(&a.carry);
	save_record(ks.nl, ks.dirfd, &a);
	statedir_prune(ks.dirfd, c->table, STATEDIR_KEEP, NULL);
	printf("applied table inet %s: %zu listeners, %zu shares, %zu endpoints; one transaction "
	       "of %zu messages (%zu bytes) committed in %.1f ms, generation %u; snapshot %s %s "
	       "in %.1f ms\n", c->table, rs->plan->n, rs->n_shares, rs->n_plan_endpoints, a.nb->n,
	       a.nb->bytes, a.commit_ms, nl_gen_after_commit(a.genid), a.saved,
	       a.from_record ? "from the committed record" : "by dump", a.snap_ms);
	r = EXIT_OK;
out:
	snapshot_free(rec);
	attempt_clear(&a);
	kernel_session_close(&ks);
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
