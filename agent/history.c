/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/history.h"
#include "nft/statedir.h"

/* Whether anything committed since generation fence (moved) and, if so, whether the table
 * now holds what s holds (same). The kernel bumps the generation once per commit of the
 * namespace and never otherwise, so an unmoved generation proves nothing committed. */
static int look(struct nl_sock *nl, uint32_t fence, const struct snapshot *s, bool *moved,
		bool *same, uint32_t *ret_gen, struct nft_error *e)
{
	struct nft_error scratch = { 0 };
	struct snapshot *now = NULL;
	uint32_t gen, at;
	int r;

	*same = false;
	r = nl_getgen(nl, &gen, e);
	if (r < 0)
		return r;
	*ret_gen = gen;
	*moved = gen != fence;
	if (!*moved)
		return 0;
	r = snapshot_take(nl, s->table, &now, &at, &scratch);
	/* a table holding what nftgate cannot replay is not what a snapshot holds */
	if (r == -EOPNOTSUPP)
		return 0;
	if (r < 0) {
		*e = scratch;
		return r;
	}
	*ret_gen = at;
	r = snapshot_same_content(now, s, same);
	snapshot_free(now);
	if (r == -EINVAL) { /* s does not parse: it cannot be what the kernel holds */
		*same = false;
		r = 0;
	}
	if (r < 0)
		return nft_error_set(e, r, "out of memory");
	return 0;
}

int outcome_find(struct nl_sock *nl, uint32_t fence, const struct snapshot *intended,
		 enum outcome *ret, uint32_t *ret_gen, struct nft_error *e)
{
	bool moved = false, same = false;
	uint32_t gen = 0;
	int r = look(nl, fence, intended, &moved, &same, &gen, e);

	if (r < 0)
		return r;
	/* The same content after a commit: ours, or another's of exactly what ours sent,
	 * which leaves the table as ours would have. */
	*ret = !moved ? OUTCOME_NOT_COMMITTED : same ? OUTCOME_COMMITTED : OUTCOME_UNKNOWN;
	*ret_gen = gen;
	return 0;
}

bool history_foreign(const struct nl_netns_id *taken, const struct nl_netns_id *here)
{
	return taken->boot[0] && !strcmp(taken->boot, here->boot) && taken->cookie &&
	       here->cookie && taken->cookie != here->cookie;
}

static bool other_boot(const struct nl_netns_id *taken, const struct nl_netns_id *here)
{
	return taken->boot[0] && here->boot[0] && strcmp(taken->boot, here->boot);
}

/* What became of the apply that saved pending snapshot p: the table it was taken of is
 * still there (nothing committed, or the table is as it was) or it changed. */
static int settle(const struct kernel_session *ks, const char *state_dir, const char *name,
		  const struct snapshot *p, struct nft_error *e)
{
	char hist[STATEDIR_NAME_MAX];
	bool moved = false, same = false;
	uint32_t gen = 0;
	int r;

	if (other_boot(&p->ns, &ks->ns)) {
		r = statedir_remove(ks->dirfd, name, e);
		if (r >= 0)
			cli_error("note: removed %s/%s, the snapshot of an apply that did not finish "
				  "before the machine restarted: whether it committed can no longer "
				  "be known", state_dir, name);
		return r;
	}
	if (history_foreign(&p->ns, &ks->ns))
		return 0; /* another namespace's apply: only it can tell */
	r = look(ks->nl, p->genid, p, &moved, &same, &gen, e);
	if (r < 0)
		return r;
	if (!moved || same) {
		r = statedir_remove(ks->dirfd, name, e);
		if (r >= 0)
			cli_error("note: removed %s/%s, the snapshot of an apply that did not finish "
				  "(killed?): %s", state_dir, name, !moved ?
				  "nothing was committed after it" :
				  "the table is still as it was before that apply");
		return r;
	}
	r = statedir_promote(ks->dirfd, name, hist, e);
	if (r >= 0)
		cli_error("note: %s/%s, the snapshot of an apply that did not finish (killed?), "
			  "is history now (as %s): the table changed after it was taken "
			  "(generation %u, now %u)", state_dir, name, hist, p->genid, gen);
	return r;
}

static int settle_one(const struct kernel_session *ks, const char *state_dir,
		      const char *table, const char *name, struct nft_error *e)
{
	struct nft_error why = { 0 };
	struct snapshot *p = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int lock = -1, r;

	r = statedir_lock(ks->dirfd, name, &lock, &why);
	if (r == -EBUSY || r == -ENOENT)
		return 0; /* a running apply's, or settled by another nftgate meanwhile */
	if (r < 0) {
		*e = why;
		return r;
	}
	r = statedir_read(ks->dirfd, name, SNAPSHOT_MAX_BYTES, &buf, &len, e);
	if (r >= 0) {
		r = snapshot_decode(buf, len, &p, &why);
		free(buf);
		if (r >= 0 && strcmp(p->table, table)) {
			nft_error_set(&why, -EINVAL, "a snapshot of table %s", p->table);
			p = snapshot_free(p);
			r = -EINVAL;
		}
		if (r == -ENOMEM) {
			*e = why;
		} else if (r < 0) {
			/* never history: a damaged file cannot be replayed */
			r = statedir_remove(ks->dirfd, name, e);
			if (r >= 0)
				cli_error("note: removed %s/%s, the damaged snapshot of an apply that "
					  "did not finish: %s", state_dir, name, why.msg);
		} else {
			r = settle(ks, state_dir, name, p, e);
		}
	}
	snapshot_free(p);
	close(lock);
	return r;
}

int history_settle_pending(const struct kernel_session *ks, const char *state_dir,
			   const char *table, struct nft_error *e)
{
	struct statedir_names pending = { 0 };
	int r = statedir_pending(ks->dirfd, table, &pending, e);

	for (size_t i = 0; r >= 0 && i < pending.n; i++)
		r = settle_one(ks, state_dir, table, pending.v[i], e);
	statedir_names_clear(&pending);
	return r;
}
