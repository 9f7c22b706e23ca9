/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one netlink socket to nf_tables: open, read the generation, dump, and send a batch
 * as one sendmsg() then drain its replies without blocking. Knows nothing of our layout.
 *
 * A socket can live as long as the process (the daemon keeps one):
 * - every call is bounded in time: all its waits share one deadline, nl_set_timeout()
 *   (NL_TIMEOUT_MS by default); nothing blocks in recv(). Only the send of a batch is not
 *   bounded: the kernel runs the whole transaction inside it.
 * - nothing is retried forever: a signal (EINTR) is retried within the deadline, every other
 *   receive error ends the call at once with its -errno (end of file: -ECONNRESET).
 * - replies are matched by sequence number and port id; anything else (a late answer to an
 *   earlier call) is skipped. A call that ends before its conversation did (a time-out, an
 *   error, a malformed reply) marks the socket, and the next call first drains what is
 *   still queued (the rest of an abandoned dump included), so no stale reply and no
 *   half-read dump (which makes the kernel refuse the next dump with EBUSY) survive it.
 * - -ENOBUFS means the kernel dropped replies (receive buffer overrun): the socket has
 *   been resynchronised and stays usable; the request's answer is lost, retry it.
 * - a malformed reply (a message longer than its datagram, a short or impossible error
 *   message, a truncated datagram) is -EBADMSG; nothing past the datagram is read.
 */
#ifndef NFTGATE_NFT_NETLINK_H
#define NFTGATE_NFT_NETLINK_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/error.h"

struct nlmsghdr;
struct nftnl_batch;
struct nl_sock;

/* The default bound of one call, ms. The kernel answers within its send (requests, batches)
 * or as fast as the dump is read, so only a broken peer ever reaches it. */
#define NL_TIMEOUT_MS 30000

/* nl_send_batch(): the batch was handed to the kernel but its replies could not all be read;
 * it may have committed. The same value batch_outcome() gives for "outcome unknown". No
 * function here returns it before a batch was sent. */
#define NL_SENT_UNKNOWN (-EIO)

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
	bool lost;               /* replies were lost or could not be read: the outcome is
				  * unknown unless an error reply proves the abort */
};

#define NL_ACKS_KEEP 64

/* Opens a NETLINK_NETFILTER socket (SOCK_CLOEXEC, NETLINK_EXT_ACK, NETLINK_CAP_ACK). Needs
 * no privilege; the kernel checks CAP_NET_ADMIN per request. Returns 0 or -errno with e. */
int nl_open(struct nl_sock **ret, struct nft_error *e);

/* An nl_sock over fd, a connected socket that keeps datagram boundaries (for a test's fake
 * kernel: one end of socketpair(AF_UNIX, SOCK_SEQPACKET)); replies must carry portid, and
 * the first sequence number handed out is first_seq (or 1). Takes ownership of fd, also
 * on failure. Returns 0 or -ENOMEM. */
int nl_open_fd(int fd, uint32_t portid, uint32_t first_seq, struct nl_sock **ret);

struct nl_sock *nl_close(struct nl_sock *s);

/* The bound of each later call, ms (>= 1). */
void nl_set_timeout(struct nl_sock *s, int ms);

/* Reserves n consecutive sequence numbers (1 <= n < 2^31; 0 counts as 1) and returns the
 * first. A range never contains 0 (which libmnl and nft read as "any sequence"): when it
 * would run past 2^32 - 1 it starts again at 1. With every call draining what it left, a
 * reply can only be confused with another after 2^32 numbers, which no queued reply lives
 * through. */
uint32_t nl_seq_reserve(struct nl_sock *s, uint32_t n);

/* NFT_MSG_GETGEN. Returns 0 and sets *ret_genid, or -errno (-EPERM without CAP_NET_ADMIN;
 * -EPROTO when the reply lacks the generation; nl_request()'s errors) with e (which may be
 * NULL: callers that retry or report otherwise). */
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

/* Sends the request req (seq from nl_seq_reserve() and flags already set: NLM_F_DUMP for a
 * dump, else NLM_F_ACK, or neither for a request answered by exactly one message) and
 * calls cb for every data message of the reply until NLMSG_DONE or the ACK. After cb fails
 * or a dump is interrupted, the rest of the reply is read (not passed to cb) so that the
 * socket is left clean. Returns (the first three win over a failure that follows them):
 *   0            the whole reply was read and cb accepted every message;
 *   -errno       the kernel's refusal (-ENOENT, -EPERM, ...), or cb's error;
 *   -EINTR       the dump was interrupted by a ruleset change (NLM_F_DUMP_INTR): retry;
 *   -ETIMEDOUT   no complete reply within the bound;
 *   -ENOBUFS     the reply was dropped (overrun): the socket is resynchronised, retry;
 *   -EBADMSG     a malformed reply;
 *   -ECONNRESET  the socket reached end of file;
 *   other        sendmsg()'s or recvmsg()'s -errno (not retried). */
int nl_request(struct nl_sock *s, const struct nlmsghdr *req, nl_msg_cb cb, void *data);

/* Sends n non-dump requests without NLM_F_ACK (one reply each) built back to back in buf
 * (consecutive seqs from the first's) in one send, and calls cb for every data reply; then
 * reads every reply. Linear where a dump, which the kernel answers in parts and restarts
 * for each part, is not. Returns 0; the first refused request's -errno or cb's error;
 * else -ENOBUFS when replies were lost (the socket is resynchronised), or, as nl_request(),
 * -ETIMEDOUT, -EBADMSG, -ECONNRESET, a send or receive -errno. */
int nl_request_each(struct nl_sock *s, const void *buf, size_t len, size_t n, nl_msg_cb cb,
		    void *data);

/* Sends the whole batch in one sendmsg() (raising SO_SNDBUF to its size and SO_RCVBUF for
 * n_msgs replies), then reads, without waiting, every reply whose seq is in
 * [seq_end - n_msgs + 1, seq_end] into acks (caller clears with nl_acks_clear()). The kernel
 * runs the transaction inside sendmsg(), so all replies are queued when it returns. Returns:
 *   0                the batch was sent and every queued reply read: acks holds the
 *                    outcome (committed iff no error, nothing lost and every message
 *                    ACKed, which batch_outcome() decides);
 *   NL_SENT_UNKNOWN  (-EIO) sent, but the replies could not all be read (the kernel dropped
 *                    some, a receive error, a malformed reply, the bound): the batch MAY
 *                    HAVE COMMITTED. acks holds what was read, with lost set (an error
 *                    reply among them still proves the abort: batch_outcome() knows);
 *   other -errno     not sent (nothing reached the kernel, nothing changed): -ENOMEM,
 *                    sendmsg()'s error (-EMSGSIZE, ...), or -ETIMEDOUT / a receive error
 *                    while draining what an earlier call left.
 * Sets e on every failure. */
int nl_send_batch(struct nl_sock *s, struct nftnl_batch *b, size_t n_msgs, uint32_t seq_end,
		  struct nl_acks *acks, struct nft_error *e);

/* Parses one datagram of batch replies into acks, whatever their seq and port id (seq_end
 * marks END); for tests and the fuzzer. Returns 0, -ENOMEM, or -EBADMSG when malformed
 * (what precedes the bad message is kept in acks). */
int nl_parse_replies(const void *buf, size_t len, uint32_t seq_end, struct nl_acks *acks);

void nl_acks_clear(struct nl_acks *acks);

#endif
