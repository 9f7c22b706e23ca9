/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate rollback: restores the newest snapshot of the table in one transaction (delete
 * the table, replay the saved content, or only delete when the snapshot is "no table"),
 * and removes that snapshot once the commit succeeded, so that repeated rollbacks walk
 * back through history (docs/rollback.md).
 */
#include <errno.h>
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
#include "nft/netlink.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"

#define ROLLBACK_TRIES 5 /* generation changed under us (ERESTART): re-read and retry */

struct restore {
	uint32_t genid;          /* the fence */
	bool sent;               /* the batch reached the kernel */
	bool unknown;            /* ... and its replies prove neither commit nor abort */
	char why[NFT_ERROR_MAX];
};

static void describe_replay(const void *ctx, uint32_t index, char *buf, size_t len)
{
	snapshot_describe_msg(ctx, index, buf, len);
}

static int build_restore(const struct snapshot *s, uint32_t seq, const uint32_t *genid,
			 struct nft_batch **ret, struct nft_error *e)
{
	struct nft_batch *nb = NULL;
	int r = batch_start(s->table, seq, genid, &nb);

	if (r < 0)
		return nft_error_set(e, r, "out of memory");
	nb->describe_replay = describe_replay;
	nb->replay_ctx = s;
	r = batch_add_delete_table(nb);
	if (r >= 0 && s->present)
		r = snapshot_add_restore(s, nb, e);
	else if (r < 0)
		nft_error_set(e, r, "out of memory");
	if (r >= 0 && (r = batch_finish(nb)) < 0)
		nft_error_set(e, r, "out of memory");
	if (r < 0) {
		batch_free(nb);
		return r;
	}
	*ret = nb;
	return 0;
}

/* One fenced transaction: build, read the generation, send, read the outcome. The restore
 * does not depend on what the ruleset holds, so the fence is read last: between it and the
 * send only the other programs' commits of those few microseconds refuse the batch. */
static int restore_once(const struct kernel_session *ks, const struct cli *c,
			const struct snapshot *s, struct restore *o, struct nft_error *e)
{
	struct nft_batch *nb = NULL;
	struct nl_acks acks = { 0 };
	int r;

	memset(o, 0, sizeof(*o));
	r = build_restore(s, nl_seq_reserve(ks->nl, 1u << 24), &o->genid, &nb, e);
	if (r >= 0 && (r = nl_getgen(ks->nl, &o->genid, e)) >= 0)
		batch_set_fence(nb, o->genid);
	if (r < 0) {
		batch_free(nb);
		return r;
	}
	seam_at(c->seams, SEAM_BEFORE_SEND, ks->nl, NULL);
	r = nl_send_batch(ks->nl, nb->b, nb->n, nb->seq_base + (uint32_t)nb->n - 1, &acks, e);
	o->sent = r == 0 || r == NL_SENT_UNKNOWN;
	if (r == NL_SENT_UNKNOWN)
		snprintf(o->why, sizeof(o->why), "%s", e->msg);
	if (o->sent) {
		seam_at(c->seams, SEAM_SENT, ks->nl, &acks);
		r = batch_outcome(nb, &acks, e);
		o->unknown = r == NL_SENT_UNKNOWN && !acks.n_errors;
		if (o->unknown && !o->why[0])
			snprintf(o->why, sizeof(o->why), "%s", e->msg);
	}
	nl_acks_clear(&acks);
	batch_free(nb);
	return r;
}

/* A snapshot saved in another namespace would install that namespace's listeners here. */
static int refuse_foreign(const struct kernel_session *ks, const struct cli *c,
			  const char *name, const struct snapshot *s, struct nft_error *e)
{
	if (!history_foreign(&s->ns, &ks->ns))
		return 0;
	return nft_error_set(e, -EXDEV, "%s/%s was saved in another network namespace (netns "
			     "cookie %llu; this one is %llu): the state directory is shared "
			     "between namespaces, which mixes their histories; the kernel was not "
			     "touched. Give each namespace its own --state-dir", c->state_dir, name,
			     (unsigned long long)s->ns.cookie, (unsigned long long)ks->ns.cookie);
}

static int load_newest(const struct kernel_session *ks, const struct cli *c, char *name,
		       struct snapshot **ret, struct nft_error *e)
{
	struct snapshot *s = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = statedir_newest(ks->dirfd, c->table, name, e);
	if (r == -ENOENT)
		return nft_error_set(e, -ENOENT, "nothing to roll back: %s holds no snapshot of "
				     "table inet %s", c->state_dir, c->table);
	if (r >= 0)
		r = statedir_read(ks->dirfd, name, SNAPSHOT_MAX_BYTES, &buf, &len, e);
	if (r >= 0) {
		r = snapshot_decode(buf, len, &s, e);
		free(buf);
	}
	if (r < 0) {
		nft_error_append(e, "in %s/%s; the kernel was not touched (move that file away "
				 "to roll back to the snapshot before it)", c->state_dir, name);
		return r;
	}
	if (strcmp(s->table, c->table))
		r = nft_error_set(e, -EINVAL, "%s/%s is a snapshot of table %s, not %s",
				  c->state_dir, name, s->table, c->table);
	if (r >= 0)
		r = refuse_foreign(ks, c, name, s, e);
	if (r >= 0)
		r = snapshot_check(s, e);
	if (r < 0) {
		snapshot_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* Fenced by the generation: a ruleset change by anyone between reading it and the commit
 * makes the kernel refuse the batch (ERESTART), and then it is read again. */
static int restore(const struct kernel_session *ks, const struct cli *c, const struct snapshot *s,
		   struct restore *o, struct nft_error *e)
{
	int r = -ERESTART;

	for (int tries = 0; r == -ERESTART && tries < ROLLBACK_TRIES; tries++)
		r = restore_once(ks, c, s, o, e);
	if (r == -ERESTART)
		nft_error_append(e, "gave up after %d attempts: something else keeps changing the "
				 "ruleset", ROLLBACK_TRIES);
	return r;
}

/* The replies were lost: ask the kernel. EXIT_OK when the restore proves to have
 * committed; else the exit status, having said what happened (the snapshot stays). */
static int settle_unknown(const struct kernel_session *ks, const struct cli *c,
			  const struct snapshot *s, const char *name, const struct restore *o)
{
	struct nft_error e = { 0 };
	enum outcome oc = OUTCOME_UNKNOWN;
	uint32_t gen = 0;
	int r = outcome_find(ks->nl, o->genid, s, &oc, &gen, &e);

	if (r >= 0 && oc == OUTCOME_COMMITTED) {
		cli_error("note: %s; but the table holds exactly the snapshot's content, and the "
			  "ruleset generation moved from %u to %u: it committed", o->why, o->genid,
			  gen);
		return EXIT_OK;
	}
	if (r >= 0 && oc == OUTCOME_NOT_COMMITTED) {
		cli_error("rollback of table inet %s failed: %s; the ruleset generation is still "
			  "%u, so nothing was committed: nothing was changed", c->table, o->why, gen);
		return EXIT_REFUSED;
	}
	if (r < 0)
		cli_error("rollback of table inet %s: the outcome is unknown: %s, and the kernel "
			  "could not be asked (%s). Snapshot %s is kept", c->table, o->why, e.msg,
			  name);
	else
		cli_error("rollback of table inet %s: the outcome is unknown: %s; the ruleset "
			  "generation moved from %u to %u but the table is not the snapshot's "
			  "content: it may have been restored and changed since, or not have been. "
			  "Snapshot %s is kept", c->table, o->why, o->genid, gen, name);
	return EXIT_UNKNOWN;
}

/* What the table holds before the restore, for the cleanup of UDP flows after it: from the
 * committed record when the generation proves it current (only counters are read), else a
 * dump. NULL (no cleanup, the restore goes on) when it cannot be read. */
static struct catalog *catalog_before(const struct kernel_session *ks, const struct cli *c)
{
	struct nft_error e = { 0 };
	struct snapshot *rec = kernel_session_load_record(ks->dirfd, ks->has_ns ? &ks->ns : NULL,
							  c->table), *now = NULL;
	struct catalog *cat;
	uint32_t genid;
	int r = -ESTALE;

	if (rec)
		r = snapshot_take_from_record(ks->nl, rec, &now, &genid, &e);
	snapshot_free(rec);
	if (r == -ESTALE)
		r = snapshot_take(ks->nl, c->table, &now, &genid, &e);
	if (r < 0) {
		cli_error("warning: reading table inet %s before the rollback failed (%s): UDP "
			  "flows to backends it removes are not deleted", c->table, e.msg);
		return NULL;
	}
	cat = kernel_session_catalog(now);
	snapshot_free(now);
	return cat;
}

/* Restored: the snapshot is used up (only now: a refused restore keeps it for the next
 * attempt). */
static void finish_restore(const struct kernel_session *ks, const struct cli *c,
			   const struct snapshot *s, const char *name)
{
	struct nft_error e = { 0 };
	char when[64] = "?";
	time_t t = (time_t)s->taken;
	struct tm tm;

	if (statedir_remove(ks->dirfd, name, &e) < 0)
		cli_error("rolled back, but %s", e.msg);
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("rolled back table inet %s to %s (snapshot %s taken %s)\n", c->table,
	       s->present ? "its saved content" : "no table", name, when);
}

int cmd_rollback(const struct cli *c)
{
	char name[STATEDIR_NAME_MAX];
	struct nft_error e = { 0 };
	struct snapshot *s = NULL;
	struct kernel_session ks = { .dirfd = -1 };
	struct restore o = { 0 };
	struct catalog *before = NULL, *after = NULL;
	int r;

	/* The probe first, as apply does: a snapshot replays the same layout. Then the
	 * snapshots of applies that did not finish, which may be the newest history. */
	r = kernel_session_open(c, &ks, &e);
	if (r >= 0)
		r = history_settle_pending(&ks, c->state_dir, c->table, &e);
	if (r >= 0)
		r = load_newest(&ks, c, name, &s, &e);
	if (r >= 0)
		before = catalog_before(&ks, c);
	if (r >= 0)
		r = restore(&ks, c, s, &o, &e);
	if (r < 0 && o.unknown) {
		r = settle_unknown(&ks, c, s, name, &o);
		if (r != EXIT_OK)
			goto out;
	} else if (r < 0) {
		cli_error("rollback of table inet %s failed: %s", c->table, e.msg[0] ? e.msg :
			  strerror(-r));
		r = EXIT_REFUSED;
		goto out;
	} else {
		kernel_session_record(&ks, s, nl_gen_after_commit(o.genid));
	}
	finish_restore(&ks, c, s, name);
	/* UDP flows have no teardown: those to endpoints the restore removed go now */
	after = before ? kernel_session_catalog(s) : NULL;
	kernel_session_forget_flows(&ks, before, after);
	r = EXIT_OK;
out:
	catalog_free(before);
	catalog_free(after);
	snapshot_free(s);
	kernel_session_close(&ks);
	return r;
}
