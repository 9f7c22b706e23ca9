/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctnetlink cleanup of UDP flows (docs/layout.md, "Stale UDP flows"). UDP has no teardown:
 * a conntrack entry keeps DNATing a client's datagrams to the backend its mark names until
 * it times out, even after that backend left the table. After a commit that removed or
 * re-addressed endpoints, the conntrack entries carrying exactly their marks, in their
 * address family, whose original l4 protocol is UDP, are deleted; nothing else (TCP flows
 * keep going, or get reset by the backend: they have a teardown) is touched.
 */
#ifndef NFTGATE_NFT_CONNTRACK_H
#define NFTGATE_NFT_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "nft/catalog.h"
#include "nft/error.h"
#include "nft/netlink.h"

/* An endpoint's connection mark in one address family: endpoint4's and endpoint6's indexes
 * are counted apart, so one mark can name a v4 and a v6 endpoint at once. */
struct ct_mark {
	uint32_t mark;
	uint8_t family;          /* AF_INET or AF_INET6 */
};

/* Above this many stale marks, one unfiltered dump matched against the list is cheaper
 * than a filtered dump per mark (each of which walks the whole conntrack table). */
#define CT_FILTERED_DUMPS_MAX 64

/* The marks whose endpoint4/endpoint6 element is in before but not in after, or is in
 * both with other data (a pod replaced at another address takes the freed index: same
 * mark, new address). Sorted by mark then family, unique. Works from any two catalogs
 * (a dump, the record, a ruleset). Sets *ret (NULL when *ret_n is 0; the caller frees).
 * Returns 0 or -ENOMEM. */
int ct_stale_marks(const struct catalog *before, const struct catalog *after,
		   struct ct_mark **ret, size_t *ret_n);

struct ct_result {
	size_t deleted;          /* UDP entries deleted */
	size_t gone;             /* UDP entries gone before their delete (ENOENT) */
	size_t kept;             /* entries with a stale mark of another protocol: left alone */
	size_t dumps;            /* dump requests */
	size_t parts;            /* conntrack entries the dumps returned */
};

/* Deletes the UDP conntrack entries whose mark and family are one of marks[0..n) (sorted
 * as ct_stale_marks() returns them), each by its original tuple, zone and id (so that an
 * entry that replaced it under the same tuple is not hit). Every wait is bounded by s's
 * timeout. res counts what was done, also on failure. Returns 0, or -errno with e naming
 * what failed (the dump: nl_request()'s errors, -EBADMSG for a reply that is not a
 * conntrack entry; a delete: the kernel's refusal other than ENOENT). */
int ct_forget_udp(struct nl_sock *s, const struct ct_mark *marks, size_t n,
		  struct ct_result *res, struct nft_error *e);

/* ct_stale_marks(before, after) then ct_forget_udp() of them: the cleanup after a commit
 * from before to after (either NULL: nothing to compare, nothing done). *n_stale gets the
 * number of stale marks. Returns 0 or -errno with e (-ENOMEM listing the marks, or
 * ct_forget_udp()'s errors). */
int ct_forget_stale(struct nl_sock *s, const struct catalog *before, const struct catalog *after,
		    size_t *n_stale, struct ct_result *res, struct nft_error *e);

/* One message of a dump reply against marks[0..n): 1 and *ret (the entry to delete: a
 * request of type IPCTNL_MSG_CT_DELETE, flags and seq left 0, written into buf of len
 * bytes, *ret_len long) when it is a UDP entry with one of the marks, 0 when it is another
 * entry (*kept set when it has one of the marks), -EBADMSG when it is not a conntrack
 * entry nftgate can read, -ENOMEM. For ct_forget_udp() and the fuzzer. */
int ct_match_entry(const struct nlmsghdr *nlh, const struct ct_mark *marks, size_t n,
		   void *buf, size_t len, size_t *ret_len, int *kept);

/* The delete requests are at most this long (a tuple of two IPv6 addresses, zone, id). */
#define CT_DELETE_MAX 256

#endif
