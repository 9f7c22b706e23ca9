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
#include "agent/kernel_session.h"
#include "nft/build.h"
#include "nft/netlink.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"

#define ROLLBACK_TRIES 5

static void describe_replay(const void *ctx, uint32_t index, char *buf, size_t len)
{
	snapshot_describe_msg(ctx, index, buf, len);
}

/* Sets *ret_genid to the generation the transaction was fenced with. */
static int restore_once(struct nl_sock *nl, const struct snapshot *s, uint32_t *ret_genid,
			struct nft_error *e)
{
	struct nft_batch *nb = NULL;
	struct nl_acks acks = { 0 };
	uint32_t genid;
	int r;

	r = nl_getgen(nl, &genid, e);
	if (r < 0)
		return r;
	r = batch_start(s->table, nl_seq_reserve(nl, 1u << 24), &genid, &nb);
	if (r < 0)
		return nft_error_set(e, r, "out of memory");
	nb->describe_replay = describe_replay;
	nb->replay_ctx = s;
	r = batch_add_delete_table(nb);
	if (r < 0) {
		nft_error_set(e, r, "out of memory");
		goto out;
	}
	if (s->present) {
		r = snapshot_add_restore(s, nb, e);
		if (r < 0)
			goto out;
	}
	r = batch_finish(nb);
	if (r < 0) {
		nft_error_set(e, r, "out of memory");
		goto out;
	}
	r = nl_send_batch(nl, nb->b, nb->n, nb->seq_base + (uint32_t)nb->n - 1, &acks, e);
	if (r >= 0)
		r = batch_outcome(nb, &acks, e);
	if (r >= 0)
		*ret_genid = genid;
out:
	nl_acks_clear(&acks);
	batch_free(nb);
	return r;
}

static int load_newest(int dirfd, const struct cli *c, char *name, struct snapshot **ret,
		       struct nft_error *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = statedir_newest(dirfd, c->table, name, e);
	if (r == -ENOENT)
		return nft_error_set(e, -ENOENT, "nothing to roll back: %s holds no snapshot of "
				     "table inet %s", c->state_dir, c->table);
	if (r < 0)
		return r;
	r = statedir_read(dirfd, name, SNAPSHOT_MAX_BYTES, &buf, &len, e);
	if (r < 0)
		return r;
	r = snapshot_decode(buf, len, ret, e);
	free(buf);
	if (r < 0) {
		nft_error_append(e, "in %s/%s; the kernel was not touched (move that file away "
				 "to roll back to the snapshot before it)", c->state_dir, name);
		return r;
	}
	if (strcmp((*ret)->table, c->table)) {
		nft_error_set(e, -EINVAL, "%s/%s is a snapshot of table %s, not %s", c->state_dir,
			      name, (*ret)->table, c->table);
		*ret = snapshot_free(*ret);
		return -EINVAL;
	}
	return snapshot_check(*ret, e);
}

/* The table now holds exactly the replay of s: record that, as of the generation the
 * restore produced, so that the next apply need not dump it. Best effort, as in apply. */
static void save_record(struct nl_sock *nl, int dirfd, const struct snapshot *s, uint32_t genid)
{
	struct nft_error e = { 0 };
	struct nl_netns_id id;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = nl_netns_id(nl, &id);
	if (r == -ENOPROTOOPT)
		return;
	if (r >= 0)
		r = record_encode(&id, s, nl_gen_after_commit(genid), &buf, &len);
	if (r >= 0)
		r = statedir_record_save(dirfd, s->table, buf, len, &e);
	if (r < 0)
		cli_error("note: the committed record was not saved (%s); the next apply will "
			  "dump the table", e.msg[0] ? e.msg : strerror(-r));
	free(buf);
}

int cmd_rollback(const struct cli *c)
{
	char name[STATEDIR_NAME_MAX], when[64] = "?";
	struct nft_error e = { 0 };
	struct snapshot *s = NULL;
	struct kernel_session ks = { .dirfd = -1 };
	int r;
	uint32_t genid = 0;
	struct tm tm;
	time_t t;

	/* The probe first, as apply does: a snapshot replays the same layout. */
	r = kernel_session_open(c, &ks, &e);
	if (r >= 0)
		r = load_newest(ks.dirfd, c, name, &s, &e);
	for (int tries = 0; r >= 0 && tries < ROLLBACK_TRIES; tries++) {
		r = restore_once(ks.nl, s, &genid, &e);
		if (r != -ERESTART)
			break;
	}
	if (r < 0) {
		cli_error("rollback of table inet %s failed: %s", c->table, e.msg[0] ? e.msg :
			  strerror(-r));
		r = EXIT_REFUSED;
		goto out;
	}
	save_record(ks.nl, ks.dirfd, s, genid);
	/* Only now: a refused restore keeps its snapshot for the next attempt. */
	if (statedir_remove(ks.dirfd, name, &e) < 0)
		cli_error("rolled back, but %s", e.msg);
	t = (time_t)s->taken;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("rolled back table inet %s to %s (snapshot %s taken %s)\n", c->table,
	       s->present ? "its saved content" : "no table", name, when);
	r = EXIT_OK;
out:
	snapshot_free(s);
	kernel_session_close(&ks);
	return r;
}
