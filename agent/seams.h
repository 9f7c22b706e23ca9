/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test seams: points in apply, rollback and run where a test can step in (kill the process,
 * commit something else, lose the kernel's replies, make the kernel refuse a message,
 * make the kernel drop nftables notifications).
 * nftgate itself never installs any (main() passes NULL); only the test binary
 * build/tests/nftgate-faults does (tests/faults/nftgate_faults.c), which is built for the
 * end-to-end tests and never installed. Nothing in the product reads the environment for
 * them.
 */
#ifndef NFTGATE_AGENT_SEAMS_H
#define NFTGATE_AGENT_SEAMS_H

#include "nft/netlink.h"

struct nft_batch;

enum seam_point {
	SEAM_SAVED,              /* apply: the pre-apply snapshot is saved (pending), nothing
				  * was sent */
	SEAM_BEFORE_SEND,        /* apply, rollback, run: the batch is built and fenced */
	SEAM_SENT,               /* apply, rollback, run: the batch was sent; acks hold the
				  * replies (the seam may change them) */
	SEAM_COMMITTED,          /* apply: committed, and the snapshot is not yet history */
};

struct seams {
	int fail_at;             /* apply: the batch message the kernel is made to refuse
				  * (apply_opts.fail_at); -1 none */
	/* Called at each point; nl is the session's socket, acks NULL but at SEAM_SENT. */
	void (*at)(const struct seams *s, enum seam_point p, struct nl_sock *nl,
		   struct nl_acks *acks);
	/* run: each batch the daemon is about to send, before SEAM_BEFORE_SEND. The seam may
	 * spoil a message of it so that the kernel refuses the whole transaction. NULL: none. */
	void (*batch)(const struct seams *s, struct nft_batch *nb);
	/* run: the socket nftables notifications arrive on, once subscribed (the seam may
	 * shrink its receive buffer so that the kernel drops them). NULL: none. */
	void (*events)(const struct seams *s, int fd);
	void *ctx;
};

static inline void seam_at(const struct seams *s, enum seam_point p, struct nl_sock *nl,
			   struct nl_acks *acks)
{
	if (s && s->at)
		s->at(s, p, nl, acks);
}

static inline void seam_batch(const struct seams *s, struct nft_batch *nb)
{
	if (s && s->batch)
		s->batch(s, nb);
}

static inline void seam_events(const struct seams *s, int fd)
{
	if (s && s->events)
		s->events(s, fd);
}

static inline int seam_fail_at(const struct seams *s)
{
	return s ? s->fail_at : -1;
}

#endif
