/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate apply: manifests -> plan -> layout -> one netlink transaction (or, with
 * --dry-run, the same table as an `nft -f` script). Before each transaction the table as
 * it is in the kernel is saved in the state directory, pending; it becomes history for
 * `nftgate rollback` once the transaction is known to have committed (agent/history.h).
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
#include "agent/history.h"
#include "agent/kernel_session.h"
#include "agent/seams.h"
#include "nft/build.h"
#include "nft/catalog.h"
#include "nft/ids.h"
#include "nft/layout.h"
#include "nft/netlink.h"
#include "nft/render.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"

#define APPLY_TRIES 5 /* generation changed under us (ERESTART): re-read and retry */

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
	struct ruleset *rs;      /* the layout, numbered as the table holds it */
	struct snapshot *snap;
	struct counter_values carry;
	struct nft_batch *nb;
	struct nl_acks acks;
	char saved[STATEDIR_NAME_MAX]; /* the pending snapshot; "" when none */
	int lock;                /* holds saved's lock (statedir_save_pending), or -1 */
	double commit_ms, snap_ms;
	uint32_t genid;          /* the batch's fence */
	bool from_record;        /* the snapshot came from the committed record */
	bool sent;               /* the batch reached the kernel: it may have committed */
	char why[NFT_ERROR_MAX]; /* nl_send_batch's reason when the replies were not all read */
};

static void attempt_clear(struct attempt *a)
{
	a->rs = ruleset_free(a->rs);
	a->snap = snapshot_free(a->snap);
	counter_values_clear(&a->carry);
	a->nb = batch_free(a->nb);
	nl_acks_clear(&a->acks);
	a->saved[0] = '\0';
	if (a->lock >= 0)
		close(a->lock);
	a->lock = -1;
	a->sent = false;
	a->why[0] = '\0';
}

/* The transaction did not commit: its snapshot describes the current table and is not
 * history. Removed before its lock is let go, so that no other nftgate settles it. */
static void drop_pending(const struct kernel_session *ks, struct attempt *a)
{
	if (a->saved[0])
		statedir_remove(ks->dirfd, a->saved, NULL);
	attempt_clear(a);
}

/* The table as the kernel holds it: from the committed record when the generation shows
 * nothing changed since that commit (then only counters are read), else a full dump. The
 * record serves once: a retry means the generation moved, and a record that no longer
 * matches never will again (generations only grow). */
static int take_snapshot(const struct kernel_session *ks, const char *table,
			 struct snapshot **rec, struct attempt *a, struct nft_error *e)
{
	double t0 = now_ms();
	int r = -ESTALE;

	if (*rec) {
		r = snapshot_take_from_record(ks->nl, *rec, &a->snap, &a->genid, e);
		*rec = snapshot_free(*rec);
	}
	a->from_record = r == 0;
	if (r == -ESTALE)
		r = snapshot_take(ks->nl, table, &a->snap, &a->genid, e);
	a->snap_ms = now_ms() - t0;
	if (r >= 0)
		a->snap->ns = ks->ns; /* so that rollback can tell another namespace's apart */
	return r;
}

static int save_pending(const struct kernel_session *ks, const char *table, struct attempt *a,
			struct nft_error *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = snapshot_encode(a->snap, &buf, &len);

	if (r < 0)
		return nft_error_set(e, r, "encoding the snapshot: %s", strerror(-r));
	r = statedir_save_pending(ks->dirfd, table, buf, len, a->saved, &a->lock, e);
	free(buf);
	return r;
}

/* Builds the batch fenced by the snapshot's generation, sends it, reads the outcome. */
static int send_batch(const struct kernel_session *ks, const struct cli *c,
		      const struct ruleset *rs, struct attempt *a, struct nft_error *e)
{
	struct apply_opts o = { .genid = &a->genid, .fail_at = seam_fail_at(c->seams) };
	double t0;
	int r;

	r = snapshot_counters(a->snap, &a->carry);
	if (r < 0)
		return nft_error_set(e, r, "out of memory");
	o.carry = &a->carry;
	r = batch_build_apply(rs, nl_seq_reserve(ks->nl, 1u << 24), &o, &a->nb, e);
	if (r < 0)
		return r;
	seam_at(c->seams, SEAM_BEFORE_SEND, ks->nl, NULL);
	t0 = now_ms();
	r = nl_send_batch(ks->nl, a->nb->b, a->nb->n, a->nb->seq_base + (uint32_t)a->nb->n - 1,
			  &a->acks, e);
	a->commit_ms = now_ms() - t0;
	a->sent = r == 0 || r == NL_SENT_UNKNOWN;
	if (!a->sent)
		return r;
	if (r == NL_SENT_UNKNOWN)
		snprintf(a->why, sizeof(a->why), "%s", e->msg);
	seam_at(c->seams, SEAM_SENT, ks->nl, &a->acks);
	return batch_outcome(a->nb, &a->acks, e);
}

/* The layout of fresh's plan numbered as the table in snap holds it (docs/layout.md,
 * "Ids"): every share, route and endpoint the table has keeps its id, so its counters keep
 * their names and values and established connections their meaning. A table whose ids
 * cannot be read (not written by this nftgate) only gets fresh ones. */
static int layout_from(const struct ruleset *fresh, const struct snapshot *snap,
		       struct ruleset **ret, struct nft_error *e)
{
	struct lay_ids *ids = NULL;
	int r;

	if (snap && snap->present && lay_ids_from_snapshot(snap, &ids, NULL) < 0)
		ids = NULL;
	r = layout_build_from(fresh->plan, fresh->table, fresh->masquerade, ids, ret, e);
	lay_ids_free(ids);
	return r;
}

/* The layout numbered as the live table holds it, when the table can be read (as root):
 * then the dry run prints what apply would send. Unprivileged, or without a table, NULL:
 * the fresh numbering is printed. Never changes anything. */
static struct ruleset *dry_run_layout(const struct cli *c, const struct ruleset *fresh)
{
	struct nft_error e = { 0 };
	struct nl_sock *nl = NULL;
	struct snapshot *snap = NULL;
	struct ruleset *rs = NULL;
	uint32_t genid;

	if (nl_open(&nl, &e) >= 0 && snapshot_take(nl, c->table, &snap, &genid, &e) >= 0 &&
	    snap->present && layout_from(fresh, snap, &rs, &e) < 0)
		rs = NULL;
	snapshot_free(snap);
	nl_close(nl);
	return rs;
}

/* Snapshot the table, save it (pending), then build, send and read the outcome. */
static int attempt_once(const struct kernel_session *ks, const struct cli *c,
			const struct ruleset *rs, struct snapshot **rec, struct attempt *a,
			struct nft_error *e)
{
	int r = take_snapshot(ks, rs->table, rec, a, e);

	if (r >= 0)
		r = layout_from(rs, a->snap, &a->rs, e);
	if (r >= 0)
		r = save_pending(ks, rs->table, a, e);
	if (r < 0)
		return r;
	seam_at(c->seams, SEAM_SAVED, ks->nl, NULL);
	return send_batch(ks, c, a->rs, a, e);
}

/* Sent, and the replies prove neither a commit nor an abort (batch_outcome()'s -EIO with
 * no refusal among them). */
static bool outcome_unknown(const struct attempt *a, int r)
{
	return a->sent && r == NL_SENT_UNKNOWN && !a->acks.n_errors;
}

/* The replies were lost: ask the kernel. Returns EXIT_OK when the transaction proves to
 * have committed (the caller goes on as after any commit), else the exit status, having
 * said what happened. The snapshot is kept (as history) whenever the batch may have
 * committed. */
static int settle_unknown(const struct kernel_session *ks, const struct cli *c,
			  struct attempt *a, const char *why)
{
	struct nft_error e = { 0 };
	struct snapshot *intended = NULL;
	enum outcome oc = OUTCOME_UNKNOWN;
	char hist[STATEDIR_NAME_MAX];
	uint32_t gen = 0;
	int r = snapshot_from_batch(a->nb, 0, &intended);

	r = r < 0 ? nft_error_set(&e, r, "out of memory") :
		    outcome_find(ks->nl, a->genid, intended, &oc, &gen, &e);
	snapshot_free(intended);
	if (r >= 0 && oc == OUTCOME_COMMITTED) {
		cli_error("note: %s; but the table holds exactly what this apply sent, and the "
			  "ruleset generation moved from %u to %u: it committed", why, a->genid, gen);
		return EXIT_OK;
	}
	if (r >= 0 && oc == OUTCOME_NOT_COMMITTED) {
		cli_error("apply to table inet %s failed: %s; the ruleset generation is still %u, "
			  "so nothing was committed: nothing was changed", c->table, why, gen);
		drop_pending(ks, a); /* why may be a->why */
		return EXIT_REFUSED;
	}
	if (statedir_promote(ks->dirfd, a->saved, hist, NULL) < 0)
		snprintf(hist, sizeof(hist), "%s", a->saved); /* settled by the next run */
	if (r < 0)
		cli_error("apply to table inet %s: the outcome is unknown: %s, and the kernel "
			  "could not be asked (%s). Snapshot %s is kept as history: `nftgate "
			  "rollback` restores the table as it was before this apply", c->table, why,
			  e.msg, hist);
	else
		cli_error("apply to table inet %s: the outcome is unknown: %s; the ruleset "
			  "generation moved from %u to %u but the table is not what this apply "
			  "sent: it may have committed and been changed since, or not have "
			  "committed. Snapshot %s is kept as history: `nftgate rollback` restores "
			  "the table as it was before this apply", c->table, why, a->genid, gen,
			  hist);
	return EXIT_UNKNOWN;
}

/* Committed: the snapshot becomes history, what was committed is recorded (when the
 * replies proved it: a commit found out by reading the table has no exact generation to
 * record), old history is pruned. */
static void finish_commit(const struct kernel_session *ks, const struct cli *c,
			  const struct ruleset *rs, struct attempt *a, bool proven)
{
	struct nft_error e = { 0 };
	struct snapshot *s = NULL;
	struct catalog *before = kernel_session_catalog(a->snap), *after = NULL;
	char hist[STATEDIR_NAME_MAX];
	uint32_t gen = nl_gen_after_commit(a->genid);

	seam_at(c->seams, SEAM_COMMITTED, ks->nl, NULL);
	if (statedir_promote(ks->dirfd, a->saved, hist, &e) < 0) {
		/* still pending: the next run finds the table changed and makes it history */
		cli_error("note: committed, but %s", e.msg);
		snprintf(hist, sizeof(hist), "%s", a->saved);
	}
	close(a->lock);
	a->lock = -1;
	a->snap = snapshot_free(a->snap); /* saved; only its memory is left */
	counter_values_clear(&a->carry);
	if (proven && snapshot_from_batch(a->nb, gen, &s) >= 0)
		kernel_session_record(ks, s, gen);
	snapshot_free(s);
	statedir_prune(ks->dirfd, c->table, STATEDIR_KEEP, NULL);
	printf("applied table inet %s: %zu listeners, %zu shares, %zu endpoints; one transaction "
	       "of %zu messages (%zu bytes) committed in %.1f ms, generation %u; snapshot %s %s "
	       "in %.1f ms\n", c->table, rs->plan->n, rs->n_shares, rs->n_plan_endpoints, a->nb->n,
	       a->nb->bytes, a->commit_ms, gen, hist,
	       a->from_record ? "from the committed record" : "by dump", a->snap_ms);
	/* UDP flows have no teardown: those to endpoints this apply removed go now */
	if (before && catalog_from_ruleset(rs, &after) < 0)
		after = NULL;
	kernel_session_forget_flows(ks, before, after);
	catalog_free(before);
	catalog_free(after);
}

static int apply_kernel(const struct cli *c, const struct ruleset *rs)
{
	struct nft_error e = { 0 };
	struct attempt a = { .lock = -1 };
	struct kernel_session ks = { .dirfd = -1 };
	struct snapshot *rec = NULL;
	bool proven = true;
	int r;

	r = kernel_session_open(c, &ks, &e);
	if (r >= 0)
		r = history_settle_pending(&ks, c->state_dir, c->table, &e);
	if (r >= 0)
		rec = kernel_session_load_record(ks.dirfd, ks.has_ns ? &ks.ns : NULL, c->table);
	for (int tries = 0; r >= 0 && tries < APPLY_TRIES; tries++) {
		nft_error_set(&e, 0, "%s", "");
		r = attempt_once(&ks, c, rs, &rec, &a, &e);
		if (r == 0 || outcome_unknown(&a, r))
			break;
		drop_pending(&ks, &a);
		if (r != -ERESTART)
			break;
		if (tries + 1 < APPLY_TRIES)
			r = 0;
		else
			nft_error_append(&e, "gave up after %d attempts: something else keeps "
					 "changing the ruleset", APPLY_TRIES);
	}
	if (r < 0 && outcome_unknown(&a, r)) {
		r = settle_unknown(&ks, c, &a, a.why[0] ? a.why : e.msg);
		if (r != EXIT_OK)
			goto out;
		proven = false;
	} else if (r < 0) {
		cli_error("apply to table inet %s failed: %s", c->table,
			  e.msg[0] ? e.msg : strerror(-r));
		r = EXIT_REFUSED;
		goto out;
	}
	finish_commit(&ks, c, a.rs, &a, proven);
	r = EXIT_OK;
out:
	snapshot_free(rec);
	attempt_clear(&a);
	kernel_session_close(&ks);
	return r;
}

/* How many of the inputs read came from -f path (the file itself, or a directory's). */
static size_t inputs_from(const struct store *s, const char *path)
{
	size_t n = 0, len = strlen(path);

	for (size_t i = 0; i < s->n_inputs; i++)
		if (!strncmp(s->inputs[i].name, path, len) &&
		    (!s->inputs[i].name[len] || s->inputs[i].name[len] == '/' ||
		     (len && path[len - 1] == '/')))
			n++;
	return n;
}

/* An input without any Gateway API object gives a plan without listeners: applied, it
 * removes every listener. That is what a mistyped path or an empty directory looks like,
 * so it takes --allow-empty. */
static int refuse_empty(const struct cli *c, const struct store *s)
{
	if (c->allow_empty || s->n_classes || s->n_gateways || s->n_routes || s->n_grants)
		return EXIT_OK;
	cli_error("the inputs hold no Gateway API object (GatewayClass, Gateway, TCPRoute, "
		  "UDPRoute, ReferenceGrant): applied, they would remove every listener of table inet %s. "
		  "Nothing was changed; pass --allow-empty to apply them anyway. What was read:",
		  c->table);
	for (size_t i = 0; i < c->n_paths; i++)
		if (!inputs_from(s, c->paths[i]))
			fprintf(stderr, "  %s: no file to read\n", c->paths[i]);
	for (size_t i = 0; i < s->n_inputs; i++) {
		const struct store_input *in = &s->inputs[i];
		size_t n = 0;

		fprintf(stderr, "  %s:", in->name);
		for (int k = 0; k < KIND__COUNT; k++)
			if (in->objects[k])
				fprintf(stderr, "%s %zu %s", n++ ? "," : "", in->objects[k],
					kind_name((enum kind)k));
		if (in->other)
			fprintf(stderr, "%s %zu document%s of other kinds", n++ ? "," : "",
				in->other, in->other == 1 ? "" : "s");
		fprintf(stderr, "%s\n", n ? "" : " nothing");
	}
	return EXIT_INPUT;
}

int cmd_apply(const struct cli *c)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;
	struct store *s = NULL;
	struct plan *p = NULL;
	int r;

	r = cli_load(c, &s, &p, NULL);
	if (r != EXIT_OK)
		return r;
	r = refuse_empty(c, s);
	if (r != EXIT_OK)
		goto out;
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
	if (c->dry_run) {
		struct ruleset *numbered = dry_run_layout(c, rs);

		r = dry_run(numbered ? numbered : rs);
		ruleset_free(numbered);
	} else {
		r = apply_kernel(c, rs);
	}
out:
	ruleset_free(rs);
	plan_free(p);
	store_free(s);
	return r;
}
