/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one netlink socket to nf_tables: open, read the generation, dump, and send a batch
 * as one sendmsg() then drain its replies without blocking. Knows nothing of our layout.
 */
#ifndef NFTGATE_NFT_NETLINK_H
#define NFTGATE_NFT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/error.h"

struct nlmsghdr;
struct nftnl_batch;
struct nl_sock;

/* One error reply of a batch: the seq it answers, -errno, and the extended ACK. */
struct nl_reply_err {
	uint32_t seq;
	int err;                 /* negative errno */
	bool has_offset;
	uint32_t offset;         /* NLMSGERR_ATTR_OFFS: byte offset into the refused message */
	char msg[128];           /* NLMSGERR_ATTR_MSG, "" when absent */
};

struct nl_acks {
	struct nl_reply_err *v;  /* the first NL_ACKS_KEEP errors */
	size_t n;
	size_t n_errors;         /* all errors, kept or not */
	size_t n_acks;           /* positive ACKs */
	bool end_acked;          /* the END message was ACKed: commit proven (kernel >= 6.10) */
	bool lost;               /* replies were lost (ENOBUFS): the outcome is unknown */
};

#define NL_ACKS_KEEP 64

/* Opens a NETLINK_NETFILTER socket (SOCK_CLOEXEC, NETLINK_EXT_ACK, NETLINK_CAP_ACK). Needs
 * no privilege; the kernel checks CAP_NET_ADMIN per request. Returns 0 or -errno with e. */
int nl_open(struct nl_sock **ret, struct nft_error *e);
struct nl_sock *nl_close(struct nl_sock *s);

/* Reserves n consecutive sequence numbers and returns the first. */
uint32_t nl_seq_reserve(struct nl_sock *s, uint32_t n);

/* NFT_MSG_GETGEN. Returns 0 and sets *ret_genid, or -errno (-EPERM without CAP_NET_ADMIN)
 * with e (which may be NULL: callers that retry or report otherwise). */
int nl_getgen(struct nl_sock *s, uint32_t *ret_genid, struct nft_error *e);

/* The generation after a batch fenced with NFNL_BATCH_GENID = g commits: the kernel holds its
 * commit mutex from the fence check to the commit and bumps the generation once per commit,
 * skipping 0 (nf_tables_commit()), so it is exactly g + 1 (1 after 0xffffffff). */
static inline uint32_t nl_gen_after_commit(uint32_t g)
{
	return g + 1 ? g + 1 : 1;
}

/* Which network namespace, in which boot, the socket talks to: generations are per netns and
 * restart at 1 with it, so a generation alone does not name a ruleset. */
struct nl_netns_id {
	char boot[37];           /* /proc/sys/kernel/random/boot_id */
	uint64_t cookie;         /* SO_NETNS_COOKIE: never reused within a boot (kernel 5.14) */
};

/* Returns 0 and sets *ret, or -errno (-ENOPROTOOPT before 5.14, or no boot id). */
int nl_netns_id(struct nl_sock *s, struct nl_netns_id *ret);

typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends the request req (seq and flags already set; NLM_F_DUMP for dumps) and calls cb for
 * every data message of the reply until NLMSG_DONE or the ACK. Returns 0, the reply's
 * -errno, -EINTR when a dump was interrupted by a ruleset change (retry), or cb's error. */
int nl_request(struct nl_sock *s, const struct nlmsghdr *req, nl_msg_cb cb, void *data);

/* Sends n non-dump requests built back to back in buf (consecutive seqs from the first's)
 * in one send, and calls cb for every data reply; then drains every reply. Linear where a
 * dump, which the kernel answers in parts and restarts for each part, is not. Returns 0,
 * the first refused request's -errno, -ENOBUFS when replies were lost, or cb's error. */
int nl_request_each(struct nl_sock *s, const void *buf, size_t len, size_t n, nl_msg_cb cb,
		    void *data);

/* Sends the whole batch in one sendmsg() (raising SO_SNDBUF to its size and SO_RCVBUF for
 * n_msgs replies), then drains every reply without blocking into acks (caller clears with
 * nl_acks_clear()). seq_end is the END message's seq. Returns 0 when sent (the outcome is
 * in acks: committed iff no error, nothing lost and every message ACKed, which
 * batch_outcome() decides) or -errno with e. */
int nl_send_batch(struct nl_sock *s, struct nftnl_batch *b, size_t n_msgs, uint32_t seq_end,
		  struct nl_acks *acks, struct nft_error *e);

/* Parses a buffer of replies (NLMSG_ERROR messages) into acks; exposed for tests. */
int nl_parse_replies(const void *buf, size_t len, uint32_t seq_end, struct nl_acks *acks);

void nl_acks_clear(struct nl_acks *acks);

#endif
