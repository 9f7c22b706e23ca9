/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nf_tables change notifications (NFNLGRP_NFTABLES), read to notice another program
 * editing or deleting our table. Every transaction's notifications end with a NEWGEN that
 * names the process that committed it: changes to our table in a transaction of another
 * process are drift; our own are not.
 */
#ifndef NFTGATE_NFT_EVENTS_H
#define NFTGATE_NFT_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "nft/error.h"

struct nft_events;

/* What the notifications read so far said about our table. */
struct nft_events_seen {
	bool foreign;            /* a transaction of another process changed it */
	bool lost;               /* notifications were dropped (ENOBUFS): anything may have */
	uint32_t genid;          /* the last generation announced (0: none yet) */
	char who[64];            /* the last foreign committer: "nft[1234]" */
};

/* Subscribes a non-blocking socket to the notifications about `table inet <table>`, with a
 * large receive buffer (a full replace of a big table notifies every element). Returns 0
 * or -errno with e. */
int nft_events_open(const char *table, struct nft_events **ret, struct nft_error *e);

struct nft_events *nft_events_close(struct nft_events *ev);

int nft_events_fd(const struct nft_events *ev);

/* Leaves (mute) or joins again the notification group. With a member, the kernel builds
 * a notification of every element a transaction adds: most of a full replace's commit at
 * 10,000 routes (7.9 s against 1.5 s without). While muted nothing arrives, so the caller
 * checks the generation itself once joined again. Returns 0 or -errno. */
int nft_events_mute(struct nft_events *ev, bool mute);

/* Reads every queued notification into *seen (flags accumulate until the caller clears
 * them); changes committed by process self are ours. Returns 0 or -errno (not -ENOBUFS:
 * that sets seen->lost).
 *
 * Once notifications are lost (ENOBUFS, or a datagram that cannot be read), nothing more
 * this call reads is taken as drift: the kernel reports the overrun before the datagrams
 * still queued, so where the gap lies among them (a NEWGEN dropped, its transaction's
 * messages read) cannot be told, and one transaction's changes could be credited to the
 * next one's committer. seen->lost stands for all of it: the caller checks the table
 * itself after this call returns, when every transaction read so far has committed. */
int nft_events_read(struct nft_events *ev, pid_t self, struct nft_events_seen *seen);

/* The state of reading one table's notifications: a transaction's messages touch the
 * table, then its NEWGEN says whose it was. */
struct nft_events_parser {
	char table[260];
	bool touched;            /* our table changed in the transaction being read */
	bool unsure;             /* notifications were lost in the read going on: a NEWGEN
				  * names no drift (seen->lost covers it) */
};

/* Parses one datagram of notifications into *seen (for the reader and the fuzzer).
 * Returns 0, or -EBADMSG when bytes remain that are no message (what precedes is used). */
int nft_events_parse(struct nft_events_parser *p, const void *buf, size_t len, pid_t self,
		     struct nft_events_seen *seen);

#endif
