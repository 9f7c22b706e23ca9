/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/kernel_session.h"
#include "nft/conntrack.h"
#include "nft/probe.h"
#include "nft/statedir.h"

int kernel_session_open(const struct cli *c, struct kernel_session *ks, struct nft_error *e)
{
	int r;

	char me[64], holder[128];

	memset(ks, 0, sizeof(*ks));
	ks->dirfd = -1;
	ks->lock_fd = -1;
	/* The probe comes first, so that a kernel lacking a feature is named before anything
	 * is read, saved or tried. */
	r = nl_open(&ks->nl, e);
	if (r >= 0)
		r = probe_kernel(ks->nl, e);
	if (r >= 0)
		r = statedir_open(c->state_dir, &ks->dirfd, e);
	if (r >= 0) {
		snprintf(me, sizeof(me), "%s %ld", c->command ? c->command : "nftgate",
			 (long)getpid());
		r = statedir_lock_table(ks->dirfd, c->table, me, &ks->lock_fd, holder,
					sizeof(holder), e);
		if (r == -EBUSY && !strncmp(holder, "run ", 4))
			nft_error_append(e, "(state dir %s); %s", c->state_dir,
					 c->command && !strcmp(c->command, "run") ?
						 "one daemon per table and state dir" :
						 "the daemon owns the table: stop it first, or "
						 "change its inputs");
	}
	if (r < 0) {
		kernel_session_close(ks);
		return r;
	}
	/* Before 5.14 the namespace cannot be named: snapshots then record none, and nothing
	 * tells two namespaces sharing a state directory apart (docs/rollback.md). */
	ks->has_ns = nl_netns_id(ks->nl, &ks->ns) == 0;
	if (!ks->has_ns)
		memset(&ks->ns, 0, sizeof(ks->ns));
	return 0;
}

void kernel_session_close(struct kernel_session *ks)
{
	if (ks->lock_fd >= 0)
		close(ks->lock_fd);
	ks->lock_fd = -1;
	if (ks->dirfd >= 0)
		close(ks->dirfd);
	ks->dirfd = -1;
	ks->nl = nl_close(ks->nl);
}

int kernel_session_save_record(int dirfd, const struct nl_netns_id *ns,
			       const struct snapshot *content, uint32_t genid, struct nft_error *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = record_encode(ns, content, genid, &buf, &len);

	if (r < 0)
		return nft_error_set(e, r, "encoding the committed record: %s", strerror(-r));
	r = statedir_record_save(dirfd, content->table, buf, len, e);
	free(buf);
	return r;
}

void kernel_session_record(const struct kernel_session *ks, const struct snapshot *content,
			   uint32_t genid)
{
	struct nft_error e = { 0 };
	int r;

	if (!ks->has_ns)
		return; /* a record that cannot name its namespace could stand in for another's */
	r = kernel_session_save_record(ks->dirfd, &ks->ns, content, genid, &e);
	if (r < 0)
		cli_error("note: the committed record was not saved (%s); the next apply will "
			  "dump the table", e.msg[0] ? e.msg : strerror(-r));
}

struct catalog *kernel_session_catalog(const struct snapshot *snap)
{
	struct catalog *c = NULL;

	if (!snap || catalog_from_snapshot(snap, &c, NULL) < 0)
		return NULL;
	return c;
}

void kernel_session_forget_flows(const struct kernel_session *ks, const struct catalog *before,
				 const struct catalog *after)
{
	struct nft_error e = { 0 };
	struct ct_result res = { 0 };
	size_t n;

	if (ct_forget_stale(ks->nl, before, after, &n, &res, &e) < 0)
		cli_error("warning: committed, but the UDP flows to removed backends were not all "
			  "deleted (they last until they time out): %s", e.msg);
	if (res.deleted)
		printf("conntrack: %zu UDP flow%s to removed backends deleted\n", res.deleted,
		       res.deleted == 1 ? "" : "s");
}

struct snapshot *kernel_session_load_record(int dirfd, const struct nl_netns_id *ns,
					    const char *table)
{
	struct nl_netns_id there;
	struct snapshot *rec = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (dirfd < 0 || !ns ||
	    statedir_record_read(dirfd, table, SNAPSHOT_MAX_BYTES, &buf, &len, NULL) < 0)
		return NULL;
	if (record_decode(buf, len, &there, &rec, NULL) < 0)
		rec = NULL;
	free(buf);
	if (rec && (strcmp(rec->table, table) || strcmp(ns->boot, there.boot) ||
		    ns->cookie != there.cookie))
		rec = snapshot_free(rec);
	return rec;
}
