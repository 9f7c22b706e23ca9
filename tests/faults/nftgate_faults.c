/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftgate-faults: nftgate with test seams (agent/seams.h), for the end-to-end tests only.
 * Built as build/tests/nftgate-faults from the same library as nftgate; never installed.
 * NFTGATE_FAULTS, a comma-separated list, picks what happens:
 *   fail-at=N          apply: the kernel refuses batch message N (BEGIN is 0)
 *   kill-after-save    apply: SIGKILL once the pre-apply snapshot is saved (pending)
 *   stop-after-save    apply: SIGSTOP there, once (the test goes on with SIGCONT)
 *   kill-after-commit  apply: SIGKILL once committed, before the snapshot is history
 *   lose-replies       apply, rollback: every reply to the batch is lost after the send
 *   commit-after-send  apply, rollback: another commit in the namespace right after the
 *                      send (with lose-replies: the generation moved, the outcome unknown)
 *   restarts=N         apply, rollback, run: before each of the first N sends, another
 *                      commit in the namespace (a scratch table made and deleted), so the
 *                      fenced batch is refused with ERESTART
 *   refuse-while=PATH  run: while PATH exists, the kernel refuses every transaction the
 *                      daemon sends: the last message before END is given a message type
 *                      nf_tables has no handler for, so the kernel processes the batch up
 *                      to it, answers EINVAL for it (reported as a refusal of the message
 *                      it replaced) and aborts the whole transaction
 *   lose-events        run: the notification socket's receive buffer is cut to the
 *                      kernel's minimum, so the kernel drops notifications (ENOBUFS)
 *                      whenever more than a few are queued
 * (lose-replies and commit-after-send apply to run's sends too.)
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/seams.h"
#include "nft/build.h"
#include "nft/netlink.h"

struct faults {
	bool kill_after_save, stop_after_save, kill_after_commit, lose_replies, commit_after;
	bool lose_events;
	int restarts;
	const char *refuse_while; /* a path: refuse while it exists; NULL: never */
};

/* Another committer: one transaction on a socket of its own. */
static void commit_elsewhere(void)
{
	struct nft_error e = { 0 };
	struct nl_acks acks = { 0 };
	struct nft_batch *nb = NULL;
	struct nl_sock *nl = NULL;
	int r = nl_open(&nl, &e);

	if (r >= 0)
		r = batch_start("nftgate-faults-scratch", nl_seq_reserve(nl, 1u << 16), NULL, &nb);
	if (r >= 0)
		r = batch_add_delete_table(nb);
	if (r >= 0)
		r = batch_finish(nb);
	if (r >= 0)
		r = nl_send_batch(nl, nb->b, nb->n, nb->seq_base + (uint32_t)nb->n - 1, &acks, &e);
	if (r >= 0)
		r = batch_outcome(nb, &acks, &e);
	if (r < 0) {
		fprintf(stderr, "nftgate-faults: the other commit failed: %s\n", e.msg);
		abort();
	}
	nl_acks_clear(&acks);
	batch_free(nb);
	nl_close(nl);
}

static void at(const struct seams *s, enum seam_point p, struct nl_sock *nl,
	       struct nl_acks *acks)
{
	struct faults *f = s->ctx;

	switch (p) {
	case SEAM_SAVED:
		if (f->kill_after_save)
			raise(SIGKILL);
		if (f->stop_after_save) {
			f->stop_after_save = false; /* once: a retry goes on */
			raise(SIGSTOP);
		}
		break;
	case SEAM_BEFORE_SEND:
		if (f->restarts > 0) {
			f->restarts--;
			commit_elsewhere();
		}
		break;
	case SEAM_SENT:
		if (f->lose_replies) {
			nl_acks_clear(acks);
			acks->lost = true;
		}
		if (f->commit_after)
			commit_elsewhere();
		break;
	case SEAM_COMMITTED:
		if (f->kill_after_commit)
			raise(SIGKILL);
		break;
	}
}

/* run: a message type nf_tables has no handler for (ids are below 0xff) makes nfnetlink
 * refuse that message with EINVAL and abort the transaction: a real refusal of a batch the
 * kernel has processed up to there, the same path as any other refused message. */
static void batch(const struct seams *s, struct nft_batch *nb)
{
	const struct faults *f = s->ctx;
	struct nlmsghdr *nlh;

	if (!f->refuse_while || access(f->refuse_while, F_OK) < 0 || nb->n < 3)
		return;
	nlh = (struct nlmsghdr *)nb->msgs[nb->n - 2].nlh; /* the page is ours: not const */
	nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | 0xff);
}

/* run: the smallest receive buffer the kernel allows (it doubles the value and keeps a
 * floor of about 2 KiB); broadcasts past it are dropped and the socket reports ENOBUFS. */
static void events(const struct seams *s, int fd)
{
	const struct faults *f = s->ctx;
	int one = 1;

	if (f->lose_events && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one)) < 0) {
		perror("nftgate-faults: shrinking the notification socket's buffer");
		abort();
	}
}

static int parse(char *spec, struct faults *f, struct seams *s)
{
	for (char *save = NULL, *w = strtok_r(spec, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		if (!strncmp(w, "fail-at=", 8))
			s->fail_at = atoi(w + 8);
		else if (!strncmp(w, "restarts=", 9))
			f->restarts = atoi(w + 9);
		else if (!strncmp(w, "refuse-while=", 13) && w[13])
			f->refuse_while = w + 13;
		else if (!strcmp(w, "lose-events"))
			f->lose_events = true;
		else if (!strcmp(w, "kill-after-save"))
			f->kill_after_save = true;
		else if (!strcmp(w, "stop-after-save"))
			f->stop_after_save = true;
		else if (!strcmp(w, "kill-after-commit"))
			f->kill_after_commit = true;
		else if (!strcmp(w, "lose-replies"))
			f->lose_replies = true;
		else if (!strcmp(w, "commit-after-send"))
			f->commit_after = true;
		else {
			fprintf(stderr, "nftgate-faults: unknown fault '%s'\n", w);
			return -EINVAL;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct faults f;
	static struct seams s = { .fail_at = -1, .at = at, .batch = batch, .events = events,
				  .ctx = &f };
	const char *env = getenv("NFTGATE_FAULTS");
	char *spec = strdup(env ? env : "");
	int r;

	if (!spec || parse(spec, &f, &s) < 0)
		return 2;
	r = cli_main(argc, argv, &s);
	free(spec);
	return r;
}
