/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's side of the kernel (sync.h): adopt, apply by element changes, repair.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/daemon/sync.h"
#include "agent/kernel_session.h"
#include "agent/seams.h"
#include "nft/build.h"
#include "nft/delta.h"
#include "nft/events.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"

#define SYNC_TRIES 3             /* generation changes survived by one call */
#define SEQ_SPAN (1u << 24)      /* sequence numbers reserved for one batch */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int sync_new(struct nl_sock *nl, int dirfd, const char *table, bool masquerade,
	     struct sync **ret)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->table = strdup(table);
	if (!s->table) {
		free(s);
		return -ENOMEM;
	}
	s->nl = nl;
	s->dirfd = dirfd;
	s->masquerade = masquerade;
	*ret = s;
	return 0;
}

struct sync *sync_free(struct sync *s)
{
	if (!s)
		return NULL;
	catalog_free(s->cat);
	ruleset_free(s->rs);
	plan_free(s->plan);
	lay_ids_free(s->ids);
	free(s->table);
	free(s);
	return NULL;
}

/* ---- reading what the kernel holds ---- */

/* The table as the kernel holds it now, with the generation it is of: from the committed
 * record of our table in this netns and boot when use_record and there is one, else (or
 * when the kernel has moved past it) by a dump. */
static int take_live(struct sync *s, bool use_record, struct snapshot **ret, uint32_t *genid,
		     struct nft_error *e)
{
	struct nl_netns_id here;
	struct snapshot *rec = use_record && nl_netns_id(s->nl, &here) >= 0 ?
		kernel_session_load_record(s->dirfd, &here, s->table) : NULL;
	int r = -ESTALE;

	if (rec)
		r = snapshot_take_from_record(s->nl, rec, ret, genid, e);
	snapshot_free(rec);
	if (r == -ESTALE)
		r = snapshot_take(s->nl, s->table, ret, genid, e);
	return r;
}

/* A table we cannot read element by element (not written by this nftgate) still gets a
 * catalog: present, of a shape no layout has, so the first apply replaces it. */
static int catalog_of(const struct snapshot *snap, struct catalog **ret, struct nft_error *e)
{
	struct nft_error ignored = { 0 };
	struct snapshot *empty;
	int r = catalog_from_snapshot(snap, ret, &ignored);

	if (r != -EINVAL)
		return r < 0 ? nft_error_set(e, r, "out of memory reading the table") : 0;
	empty = snapshot_new(snap->table, true);
	if (!empty)
		return nft_error_set(e, -ENOMEM, "out of memory");
	r = catalog_from_snapshot(empty, ret, e);
	snapshot_free(empty);
	if (r < 0)
		return r;
	free((*ret)->shape);
	(*ret)->shape = strdup("(a table nftgate cannot update element by element)");
	return (*ret)->shape ? 0 : nft_error_set(e, -ENOMEM, "out of memory");
}

/* Reads the table into s->cat and s->genid. */
static int refresh(struct sync *s, struct snapshot **keep, struct nft_error *e)
{
	struct snapshot *snap = NULL;
	struct catalog *c = NULL;
	uint32_t genid = 0;
	int r;

	r = take_live(s, keep != NULL, &snap, &genid, e);
	if (r >= 0)
		r = catalog_of(snap, &c, e);
	if (r < 0) {
		snapshot_free(snap);
		return r;
	}
	catalog_free(s->cat);
	s->cat = c;
	s->genid = genid;
	s->known = true;
	if (keep)
		*keep = snap;
	else
		snapshot_free(snap);
	return 0;
}

void sync_advance(struct sync *s, uint32_t gen)
{
	if (gen && s->known && (int32_t)(gen - s->genid) > 0)
		s->genid = gen;
}

bool sync_current(struct sync *s)
{
	uint32_t g;

	return s->known && nl_getgen(s->nl, &g, NULL) >= 0 && g == s->genid;
}

int sync_adopt(struct sync *s, struct nft_error *e)
{
	struct snapshot *snap = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = refresh(s, &snap, e);
	if (r < 0)
		return r;
	lay_ids_free(s->ids);
	s->ids = NULL;
	if (snap->present && lay_ids_from_snapshot(snap, &s->ids, NULL) < 0)
		s->ids = NULL; /* ids that cannot be read are only fresh ids: counters restart */
	/* The rollback point is worth having, not worth refusing to run for: an unwritable
	 * state directory is reported (1) and the agent goes on programming. */
	if (s->dirfd >= 0) {
		r = snapshot_encode(snap, &buf, &len);
		if (r >= 0)
			r = statedir_save(s->dirfd, s->table, buf, len, s->start_snapshot, e);
		else
			nft_error_set(e, r, "encoding the snapshot: %s", strerror(-r));
		free(buf);
		if (r >= 0)
			statedir_prune(s->dirfd, s->table, STATEDIR_KEEP, NULL);
		else
			s->start_snapshot[0] = '\0';
	}
	snapshot_free(snap);
	return s->dirfd >= 0 && r < 0 ? 1 : 0;
}

/* ---- sending ---- */

static int commit_batch(struct sync *s, struct nft_batch *nb, struct sync_result *res,
		struct nft_error *e)
{
	struct nl_acks acks = { 0 };
	int r;

	seam_batch(s->seams, nb);
	seam_at(s->seams, SEAM_BEFORE_SEND, s->nl, NULL);
	r = nl_send_batch(s->nl, nb->b, nb->n, nb->seq_base + (uint32_t)nb->n - 1, &acks, e);
	if (r == 0 || r == NL_SENT_UNKNOWN) {
		/* replies lost may still hold the refusal that proves the abort */
		seam_at(s->seams, SEAM_SENT, s->nl, &acks);
		r = batch_outcome(nb, &acks, e);
	}
	nl_acks_clear(&acks);
	res->msgs += nb->n;
	res->bytes += nb->bytes;
	if (r == 0)
		s->genid = nl_gen_after_commit(s->genid);
	else if (r != -ERESTART && r != NL_SENT_UNKNOWN)
		return r; /* refused: the kernel holds what it held, our picture still stands */
	if (r)
		s->known = false; /* moved under us, or may have committed: read it again */
	return r;
}

/* The whole table again, counters carried: for an absent or reshaped table. */
static int replace(struct sync *s, const struct ruleset *rs, struct sync_result *res,
		   struct nft_error *e)
{
	struct counter_values carry = { 0 };
	struct snapshot *snap = NULL;
	struct nft_batch *nb = NULL;
	uint32_t genid = 0;
	int r;

	/* a fresh dump: the values to carry must be the kernel's, not our picture's */
	r = snapshot_take(s->nl, s->table, &snap, &genid, e);
	if (r >= 0)
		r = snapshot_counters(snap, &carry) < 0 ? -ENOMEM : 0;
	if (r >= 0) {
		struct apply_opts o = { .genid = &genid, .carry = &carry, .fail_at = -1 };

		r = batch_build_apply(rs, nl_seq_reserve(s->nl, SEQ_SPAN), &o, &nb, e);
	}
	if (r >= 0) {
		/* our own notifications of every element would cost the kernel most of the
		 * commit; without them, the caller compares generations afterwards */
		res->unwatched = s->ev && nft_events_mute(s->ev, true) == 0;
		s->genid = genid;
		s->known = true;
		r = commit_batch(s, nb, res, e);
		if (res->unwatched)
			s->deaf = nft_events_mute(s->ev, false) < 0; /* tried again next time */
	}
	res->replaced = true;
	batch_free(nb);
	counter_values_clear(&carry);
	snapshot_free(snap);
	return r;
}

/* After a commit from before to after: deletes the UDP flows still pointing at endpoints
 * that left (nft/conntrack.h). Never fails the commit: what it did and what failed is in
 * res, for the caller to log and count. */
static void forget_flows(struct sync *s, const struct catalog *before,
			 const struct catalog *after, struct sync_result *res)
{
	struct nft_error e = { 0 };
	int r = ct_forget_stale(s->nl, before, after, &res->stale_marks, &res->ct, &e);

	res->ct_err = r < 0 ? r : 0;
	if (r < 0)
		snprintf(res->ct_msg, sizeof(res->ct_msg), "%.255s", e.msg);
}

/* want into the kernel, from what s->cat says it holds; retried when the generation moved. */
static int converge(struct sync *s, const struct ruleset *rs, const struct catalog *want,
		    struct sync_result *res, struct nft_error *e)
{
	int r = 0;

	for (int tries = 0; tries < SYNC_TRIES; tries++) {
		struct delta *d = NULL;

		nft_error_set(e, 0, "%s", "");
		res->attempts = (unsigned)tries + 1;
		if (!s->known) {
			r = refresh(s, NULL, e);
			if (r < 0)
				return r;
		}
		r = delta_build(s->cat, want, rs, nl_seq_reserve(s->nl, SEQ_SPAN), &s->genid, &d,
				e);
		if (r == DELTA_NEEDS_REPLACE) {
			snprintf(res->summary, sizeof(res->summary), "table replaced: %.400s", e->msg);
			r = replace(s, rs, res, e);
		} else if (r == 0) {
			delta_stats_format(&d->st, res->summary, sizeof(res->summary));
			if (d->nb)
				r = commit_batch(s, d->nb, res, e);
			s->gc_pending |= r == 0 && d->st.stale_chains > 0;
		}
		delta_free(d);
		if (r != -ERESTART)
			return r;
	}
	return nft_error_append(e, "gave up after %d attempts: something else keeps changing "
				"the ruleset", SYNC_TRIES), -ERESTART;
}

int sync_apply(struct sync *s, struct plan *p, struct sync_result *res, struct nft_error *e)
{
	struct lay_ids *prev = NULL;
	struct ruleset *rs = NULL;
	struct catalog *want = NULL;
	double t0 = now_ms();
	int r;

	memset(res, 0, sizeof(*res));
	if (s->deaf)
		s->deaf = nft_events_mute(s->ev, false) < 0;
	r = s->rs ? lay_ids_from_ruleset(s->rs, &prev) : 0;
	if (r < 0) {
		r = nft_error_set(e, r, "out of memory");
		goto out;
	}
	r = layout_build_from(p, s->table, s->masquerade, s->rs ? prev : s->ids, &rs, e);
	if (r < 0)
		goto out;
	r = catalog_from_ruleset(rs, &want);
	if (r < 0) {
		r = nft_error_set(e, r, "listing the layout: %s", strerror(-r));
		goto out;
	}
	r = converge(s, rs, want, res, e);
	if (r >= 0 && !res->replaced && s->cat)
		r = catalog_keep_picks(want, s->cat) < 0 ? -ENOMEM : 0;
	if (r < 0) {
		if (r == -ENOMEM)
			s->known = false; /* committed, but our picture of it is lost: re-read */
		goto out;
	}
	/* committed: the new plan, its layout and catalog are what the kernel holds */
	forget_flows(s, s->cat, want, res);
	catalog_free(s->cat);
	s->cat = want;
	want = NULL;
	ruleset_free(s->rs);
	s->rs = rs;
	rs = NULL;
	plan_free(s->plan);
	s->plan = p;
	p = NULL;
	s->ids = lay_ids_free(s->ids);
out:
	res->ms = now_ms() - t0;
	lay_ids_free(prev);
	catalog_free(want);
	ruleset_free(rs);
	plan_free(p);
	return r;
}

int sync_gc(struct sync *s, struct sync_result *res, struct nft_error *e)
{
	struct delta *d = NULL;
	double t0 = now_ms();
	int r;
	struct catalog *want = NULL;

	memset(res, 0, sizeof(*res));
	if (!s->gc_pending || !s->known || !s->rs)
		return 0;
	/* want: the committed layout's own catalog, which has no stale chain */
	r = catalog_from_ruleset(s->rs, &want);
	if (r < 0)
		return nft_error_set(e, r, "listing the layout: %s", strerror(-r));
	r = delta_build_gc(s->cat, want, nl_seq_reserve(s->nl, SEQ_SPAN), &s->genid, &d, e);
	if (r == 0 && d->nb) {
		delta_stats_format(&d->st, res->summary, sizeof(res->summary));
		r = commit_batch(s, d->nb, res, e);
	}
	if (r == 0) {
		catalog_free(s->cat);
		s->cat = want;
		want = NULL;
		s->gc_pending = false;
	}
	delta_free(d);
	catalog_free(want);
	res->ms = now_ms() - t0;
	return r;
}

int sync_repair(struct sync *s, struct sync_result *res, struct nft_error *e)
{
	struct catalog *want = NULL;
	char why[512];
	double t0 = now_ms();
	int r;

	memset(res, 0, sizeof(*res));
	r = refresh(s, NULL, e);
	if (r < 0 || !s->rs)
		return r;
	r = catalog_from_ruleset(s->rs, &want);
	if (r < 0)
		return nft_error_set(e, r, "listing the layout: %s", strerror(-r));
	if (catalog_same(s->cat, want, why, sizeof(why))) {
		catalog_free(s->cat);
		s->cat = want; /* the same table; keeps no stale chain */
		s->gc_pending = false;
		res->ms = now_ms() - t0;
		return 0;
	}
	r = converge(s, s->rs, want, res, e);
	if (r == 0 && !res->replaced && s->cat && catalog_keep_picks(want, s->cat) < 0) {
		s->known = false;
		r = nft_error_set(e, -ENOMEM, "out of memory");
	}
	if (r == 0) {
		forget_flows(s, s->cat, want, res);
		catalog_free(s->cat);
		s->cat = want;
		want = NULL;
	}
	catalog_free(want);
	res->ms = now_ms() - t0;
	return r;
}

int sync_save_record(struct sync *s, struct nft_error *e)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nft_batch *nb = NULL;
	struct snapshot *snap = NULL;
	struct nl_netns_id id;
	int r;

	if (s->dirfd < 0 || !s->rs || s->gc_pending || !sync_current(s))
		return 0; /* nothing we can vouch for: the next start dumps */
	r = nl_netns_id(s->nl, &id);
	if (r < 0)
		return r == -ENOPROTOOPT ? 0 : nft_error_set(e, r, "naming the netns");
	r = batch_build_apply(s->rs, 1, &o, &nb, e);
	if (r >= 0)
		r = snapshot_from_batch(nb, s->genid, &snap);
	if (r >= 0)
		r = kernel_session_save_record(s->dirfd, &id, snap, s->genid, e);
	snapshot_free(snap);
	batch_free(nb);
	return r;
}
