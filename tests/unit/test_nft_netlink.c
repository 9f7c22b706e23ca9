/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The netlink socket against a fake kernel, without a kernel. The nl_sock is built
 * (nl_open_fd) over one end of a SOCK_SEQPACKET socketpair and the test holds the other.
 * Like nfnetlink, which answers inside the sender's sendmsg(), the fake has answered
 * everything sent before the caller reads: this binary is linked with --wrap=recv and
 * --wrap=recvmsg (Makefile), so each receive on the nl_sock first lets the fake answer,
 * counts the attempt (a receive loop that spins fails the test instead of hanging it) and
 * may return an injected error instead.
 *
 * Covers: a peer that never answers (bounded, -ETIMEDOUT), persistent receive errors and
 * end of file (no retry), replies to other seqs and port ids (skipped; leftovers of an
 * abandoned call drained), overruns (-ENOBUFS, then usable again), malformed replies
 * (-EBADMSG), the batch's "sent, outcome unknown" (NL_SENT_UNKNOWN) against "not sent",
 * and sequence numbers that never hold 0.
 *
 * `test_nft_netlink PATTERN` runs only the tests matching PATTERN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/netlink.h"

#define PORTID 4242u
#define SEQ0 1000u
#define SPIN_CAP 1000           /* receive attempts in one test: more is a spinning loop */
#define SHORT_MS 20             /* the bound for tests whose peer never answers */

typedef void (*answer_fn)(const struct nlmsghdr *req);

static struct fake {
	int u, k;                /* the nl_sock's end (watched), the kernel's end */
	answer_fn answer;        /* called for every request message; NULL: never answers */
	int calls;               /* receive attempts on u */
	int requests;            /* request messages the fake read */
	int inject_errno;        /* receive attempts inject_at.. fail with it, */
	int inject_at, inject_n; /* inject_n times (-1: always) */
	uint32_t genid;          /* the next NEWGEN's generation */
	int cb_calls, cb_fail_at;
} F = { .u = -1, .k = -1 };

/* ---- the fake kernel ---- */

struct dgram {
	uint8_t buf[16384] __attribute__((aligned(8)));
	size_t len;
};

static struct nlmsghdr *dg_put(struct dgram *d, uint16_t type, uint16_t flags, uint32_t seq,
			       uint32_t pid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	return nlh;
}

static void dg_end(struct dgram *d, const struct nlmsghdr *nlh)
{
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void dg_err(struct dgram *d, uint32_t seq, uint32_t pid, int err)
{
	struct nlmsghdr *nlh = dg_put(d, NLMSG_ERROR, NLM_F_CAPPED, seq, pid);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = err;
	e->msg.nlmsg_len = sizeof(e->msg);
	e->msg.nlmsg_seq = seq;
	dg_end(d, nlh);
}

static void dg_gen(struct dgram *d, uint32_t seq, uint32_t pid, uint32_t genid)
{
	struct nlmsghdr *nlh = dg_put(d, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN, 0, seq,
				      pid);
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->version = NFNETLINK_V0;
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(genid));
	dg_end(d, nlh);
}

static void dg_table(struct dgram *d, uint32_t seq, uint16_t flags)
{
	struct nlmsghdr *nlh = dg_put(d, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE,
				      NLM_F_MULTI | flags, seq, PORTID);
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));

	g->nfgen_family = NFPROTO_INET;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "t");
	dg_end(d, nlh);
}

static void dg_done(struct dgram *d, uint32_t seq)
{
	struct nlmsghdr *nlh = dg_put(d, NLMSG_DONE, NLM_F_MULTI, seq, PORTID);
	int *v = mnl_nlmsg_put_extra_header(nlh, sizeof(*v));

	*v = 0;
	dg_end(d, nlh);
}

static void fake_send(const struct dgram *d)
{
	assert_int_equal(write(F.k, d->buf, d->len), (ssize_t)d->len);
}

/* Lets the fake read and answer every request queued for it. */
static void pump(void)
{
	static uint8_t buf[256 * 1024] __attribute__((aligned(8)));
	ssize_t n;

	while (F.k >= 0 && (n = read(F.k, buf, sizeof(buf))) > 0) {
		const struct nlmsghdr *nlh = (const void *)buf;
		int left = (int)n;

		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			F.requests++;
			if (F.answer)
				F.answer(nlh);
		}
	}
}

ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __real_recvmsg(int fd, struct msghdr *m, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags);

/* Before a receive on the nl_sock: count it, let the fake answer, and say whether to fail
 * it with the injected errno instead. */
static bool before_recv(int fd)
{
	if (fd < 0 || fd != F.u)
		return false;
	if (++F.calls > SPIN_CAP)
		fail_msg("%d receive attempts: the receive loop spins", F.calls);
	pump();
	if (F.inject_n && F.calls >= F.inject_at) {
		if (F.inject_n > 0)
			F.inject_n--;
		errno = F.inject_errno;
		return true;
	}
	return false;
}

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	return before_recv(fd) ? -1 : __real_recv(fd, buf, len, flags);
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags)
{
	return before_recv(fd) ? -1 : __real_recvmsg(fd, m, flags);
}

static void inject(int err, int at, int times)
{
	F.inject_errno = err;
	F.inject_at = at;
	F.inject_n = times;
}

static struct nl_sock *fake_open(answer_fn answer, uint32_t first_seq)
{
	struct nl_sock *s = NULL;
	int sv[2];

	memset(&F, 0, sizeof(F));
	F.u = F.k = -1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	F.u = sv[0];
	F.k = sv[1];
	F.answer = answer;
	F.genid = 100;
	F.cb_fail_at = -1;
	assert_int_equal(nl_open_fd(sv[0], PORTID, first_seq, &s), 0);
	return s;
}

static void fake_close(struct nl_sock *s)
{
	nl_close(s);
	if (F.k >= 0)
		close(F.k);
	F.u = F.k = -1;
}

static void fake_hang_up(void)
{
	close(F.k);
	F.k = -1;
}

/* ---- answers ---- */

static bool is_nft(const struct nlmsghdr *req, uint16_t type)
{
	return req->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | type);
}

/* GETGEN as the kernel answers it: NEWGEN, then the ACK. */
static void answer_gen(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };

	assert_true(is_nft(req, NFT_MSG_GETGEN));
	dg_gen(&d, req->nlmsg_seq, PORTID, F.genid++);
	dg_err(&d, req->nlmsg_seq, PORTID, 0);
	fake_send(&d);
}

static void answer_hang_up(const struct nlmsghdr *req)
{
	fake_hang_up();
}

/* A GETTABLE dump in two parts, as the kernel splits a long one. */
static void answer_dump(const struct nlmsghdr *req)
{
	struct dgram a = { .len = 0 }, b = { .len = 0 };

	if (is_nft(req, NFT_MSG_GETGEN)) {
		answer_gen(req);
		return;
	}
	dg_table(&a, req->nlmsg_seq, 0);
	dg_table(&a, req->nlmsg_seq, 0);
	fake_send(&a);
	dg_table(&b, req->nlmsg_seq, 0);
	dg_done(&b, req->nlmsg_seq);
	fake_send(&b);
}

/* The same dump, in which the ruleset changed (NLM_F_DUMP_INTR). */
static void answer_dump_intr(const struct nlmsghdr *req)
{
	struct dgram a = { .len = 0 }, b = { .len = 0 };

	if (is_nft(req, NFT_MSG_GETGEN)) {
		answer_gen(req);
		return;
	}
	dg_table(&a, req->nlmsg_seq, NLM_F_DUMP_INTR);
	fake_send(&a);
	dg_table(&b, req->nlmsg_seq, NLM_F_DUMP_INTR);
	dg_done(&b, req->nlmsg_seq);
	fake_send(&b);
}

/* Replies to other seqs and to another socket first, then the real one. */
static void answer_gen_foreign_first(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 }, e = { .len = 0 };

	dg_gen(&d, req->nlmsg_seq - 1, PORTID, 1);
	dg_err(&d, req->nlmsg_seq - 1, PORTID, 0);
	dg_gen(&d, req->nlmsg_seq, PORTID + 1, 2);
	dg_err(&d, req->nlmsg_seq, PORTID + 1, -EPERM);
	fake_send(&d);
	dg_err(&e, req->nlmsg_seq + 1, PORTID, -ENOENT);
	dg_gen(&e, req->nlmsg_seq, PORTID, 3);
	dg_err(&e, req->nlmsg_seq, PORTID, 0);
	fake_send(&e);
}

/* One reply per request of nl_request_each (a counter's NEWOBJ stands in as a table). */
static void answer_each(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };

	dg_table(&d, req->nlmsg_seq, 0);
	fake_send(&d);
}

static void answer_each_foreign_first(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };

	dg_err(&d, req->nlmsg_seq - 100, PORTID, -ENOENT);
	dg_err(&d, req->nlmsg_seq, PORTID + 1, -ENOENT);
	fake_send(&d);
	answer_each(req);
}

/* Batches, as kernels >= 6.10 answer them: an ACK per message. */
static void answer_ack(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };

	dg_err(&d, req->nlmsg_seq, PORTID, 0);
	fake_send(&d);
}

/* Before the batch's first ACK: a late refusal of an earlier request and a refusal
 * addressed to another socket, neither of which is about this batch. */
static void answer_ack_foreign_first(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };

	if (req->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
		dg_err(&d, req->nlmsg_seq - 7, PORTID, -ENOENT);
		dg_err(&d, req->nlmsg_seq + 1, PORTID + 1, -EINVAL);
		fake_send(&d);
	}
	answer_ack(req);
}

static void answer_gen_then_malformed(const struct nlmsghdr *req);

/* ---- helpers ---- */

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	if (F.cb_calls++ == F.cb_fail_at)
		return -ENOMEM;
	return 0;
}

static struct nlmsghdr *dump_req(char *buf, struct nl_sock *s)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = nl_seq_reserve(s, 1);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_INET;
	return nlh;
}

/* n GETOBJ-like requests (no ACK flag) back to back; returns their length. */
static size_t each_reqs(char *buf, struct nl_sock *s, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + len);
		struct nfgenmsg *g;

		nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		nlh->nlmsg_seq = nl_seq_reserve(s, 1);
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->nfgen_family = NFPROTO_INET;
		len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	return len;
}

struct tbatch {
	struct nftnl_batch *b;
	uint32_t base;
	size_t n;
};

/* BEGIN, one NEWTABLE, END: the smallest real batch, every message with NLM_F_ACK. */
static void tbatch_make(struct tbatch *t, struct nl_sock *s)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;

	t->b = nftnl_batch_alloc(16384, 16384);
	assert_non_null(t->b);
	t->n = 3;
	t->base = nl_seq_reserve(s, (uint32_t)t->n);
	nlh = nftnl_batch_begin(nftnl_batch_buffer(t->b), t->base);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nftnl_batch_update(t->b);
	nlh = mnl_nlmsg_put_header(nftnl_batch_buffer(t->b));
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
	nlh->nlmsg_seq = t->base + 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_INET;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, "t");
	nftnl_batch_update(t->b);
	nlh = nftnl_batch_end(nftnl_batch_buffer(t->b), t->base + 2);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nftnl_batch_update(t->b);
}

static int tbatch_send(struct tbatch *t, struct nl_sock *s, struct nl_acks *acks,
		       struct nft_error *e)
{
	return nl_send_batch(s, t->b, t->n, t->base + (uint32_t)t->n - 1, acks, e);
}

static void tbatch_free(struct tbatch *t)
{
	nftnl_batch_free(t->b);
}

/* ---- the working paths (positive controls for the fake) ---- */

static void requests_dumps_and_batches_work(void **state)
{
	struct nl_sock *s = fake_open(answer_dump, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;
	char buf[4096];
	uint32_t g = 0;

	assert_int_equal(nl_getgen(s, &g, &e), 0);
	assert_int_equal(g, 100);
	assert_int_equal(nl_request(s, dump_req(buf, s), count_cb, NULL), 0);
	assert_int_equal(F.cb_calls, 3);
	fake_close(s);

	s = fake_open(answer_each, SEQ0);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 5), 5, count_cb, NULL), 0);
	assert_int_equal(F.cb_calls, 5);
	fake_close(s);

	s = fake_open(answer_ack, SEQ0);
	tbatch_make(&t, s);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), 0);
	assert_int_equal(acks.n_acks, 3);
	assert_int_equal(acks.n_errors, 0);
	assert_true(acks.end_acked);
	assert_false(acks.lost);
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* ---- (a) a peer that never answers ---- */

static void unanswered_request_times_out(void **state)
{
	struct nl_sock *s = fake_open(NULL, SEQ0);
	struct nft_error e = { 0 };
	uint32_t g = 0;

	nl_set_timeout(s, SHORT_MS);
	assert_int_equal(nl_getgen(s, &g, &e), -ETIMEDOUT);
	assert_int_equal(F.requests, 1);
	assert_non_null(strstr(e.msg, "generation"));
	/* the socket is still usable */
	F.answer = answer_gen;
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 100);
	fake_close(s);
}

static void unanswered_requests_each_time_out(void **state)
{
	struct nl_sock *s = fake_open(NULL, SEQ0);
	char buf[4096];

	nl_set_timeout(s, SHORT_MS);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 3), 3, NULL, NULL),
			 -ETIMEDOUT);
	assert_int_equal(F.requests, 3);
	fake_close(s);
}

/* The replies to a batch are all queued when sendmsg() returns: none means none. */
static void unanswered_batch_returns_at_once(void **state)
{
	struct nl_sock *s = fake_open(NULL, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), 0);
	assert_int_equal(F.requests, 3);
	assert_int_equal(acks.n_acks, 0);
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* ---- (b) errors that do not go away ---- */

static void end_of_file_ends_a_request(void **state)
{
	struct nl_sock *s = fake_open(answer_hang_up, SEQ0);
	uint32_t g = 0;

	assert_int_equal(nl_getgen(s, &g, NULL), -ECONNRESET);
	assert_true(F.calls <= 2);
	fake_close(s);
}

static void persistent_error_ends_a_request(void **state)
{
	struct nl_sock *s = fake_open(answer_gen, SEQ0);
	uint32_t g = 0;

	inject(EFAULT, 1, -1);
	assert_int_equal(nl_getgen(s, &g, NULL), -EFAULT);
	assert_int_equal(F.calls, 1);
	fake_close(s);
}

static void persistent_error_ends_requests_each(void **state)
{
	struct nl_sock *s = fake_open(answer_each, SEQ0);
	char buf[4096];

	inject(EFAULT, 1, -1);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 3), 3, NULL, NULL),
			 -EFAULT);
	assert_int_equal(F.calls, 1);
	fake_close(s);

	s = fake_open(answer_hang_up, SEQ0);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 3), 3, NULL, NULL),
			 -ECONNRESET);
	assert_true(F.calls <= 2);
	fake_close(s);
}

/* After the send, a failed receive means "sent, outcome unknown", never "not sent". */
static void batch_receive_failure_is_sent_unknown(void **state)
{
	struct nl_sock *s = fake_open(answer_hang_up, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), NL_SENT_UNKNOWN);
	assert_true(acks.lost);
	assert_true(F.calls <= 2);
	assert_non_null(strstr(e.msg, "outcome is unknown"));
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);

	s = fake_open(answer_ack, SEQ0);
	tbatch_make(&t, s);
	inject(EFAULT, 1, -1);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), NL_SENT_UNKNOWN);
	assert_true(acks.lost);
	assert_int_equal(F.calls, 1);
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

static void batch_send_failure_is_not_sent(void **state)
{
	struct nl_sock *s = fake_open(answer_ack, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;
	int r;

	tbatch_make(&t, s);
	fake_hang_up();
	r = tbatch_send(&t, s, &acks, &e);
	assert_int_equal(r, -EPIPE);
	assert_int_not_equal(r, NL_SENT_UNKNOWN);
	assert_int_equal(F.requests, 0);
	assert_non_null(strstr(e.msg, "sending the batch"));
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* ---- (c) replies that are not ours ---- */

static void foreign_replies_are_skipped(void **state)
{
	struct nl_sock *s = fake_open(answer_gen_foreign_first, SEQ0);
	uint32_t g = 0;

	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 3);
	fake_close(s);
}

static void foreign_replies_are_skipped_by_requests_each(void **state)
{
	struct nl_sock *s = fake_open(answer_each_foreign_first, SEQ0);
	char buf[4096];

	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 4), 4, count_cb, NULL), 0);
	assert_int_equal(F.cb_calls, 4);
	fake_close(s);
}

static void foreign_replies_are_not_the_batch(void **state)
{
	struct nl_sock *s = fake_open(answer_ack_foreign_first, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), 0);
	assert_int_equal(acks.n_errors, 0);
	assert_int_equal(acks.n_acks, 3);
	assert_true(acks.end_acked);
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* A reply left over from a call that gave up, carrying the seq the next request gets (as
 * after a wrap): drained before that request is sent, never taken for its answer. */
static void leftover_reply_is_drained(void **state)
{
	struct nl_sock *s = fake_open(NULL, SEQ0);
	struct dgram d = { .len = 0 };
	uint32_t g = 0;

	nl_set_timeout(s, SHORT_MS);
	assert_int_equal(nl_getgen(s, &g, NULL), -ETIMEDOUT);
	dg_gen(&d, SEQ0 + 1, PORTID, 666);
	dg_err(&d, SEQ0 + 1, PORTID, 0);
	fake_send(&d);
	F.answer = answer_gen;
	F.genid = 42;
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 42);
	fake_close(s);
}

/* A callback that fails mid-dump: its error is returned, the rest of the dump is read, and
 * the next request gets its own answer. */
static void failed_callback_reads_the_rest(void **state)
{
	struct nl_sock *s = fake_open(answer_dump, SEQ0);
	char buf[4096];
	uint32_t g = 0;

	F.cb_fail_at = 0;
	assert_int_equal(nl_request(s, dump_req(buf, s), count_cb, NULL), -ENOMEM);
	assert_int_equal(F.cb_calls, 1);
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 100);
	fake_close(s);
}

static void interrupted_dump_is_eintr_and_read_out(void **state)
{
	struct nl_sock *s = fake_open(answer_dump_intr, SEQ0);
	char buf[4096];
	uint32_t g = 0;

	assert_int_equal(nl_request(s, dump_req(buf, s), count_cb, NULL), -EINTR);
	assert_int_equal(F.cb_calls, 0);
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 100);
	fake_close(s);
}

/* A signal is retried, not reported as an interrupted dump (-EINTR). */
static void signal_is_retried(void **state)
{
	struct nl_sock *s = fake_open(answer_gen, SEQ0);
	uint32_t g = 0;

	inject(EINTR, 1, 1);
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 100);
	fake_close(s);
}

/* ---- (d) overruns ---- */

static void overrun_is_enobufs_then_resynchronised(void **state)
{
	struct nl_sock *s = fake_open(answer_gen, SEQ0);
	char buf[4096];
	uint32_t g = 0;

	inject(ENOBUFS, 1, 1);
	assert_int_equal(nl_getgen(s, &g, NULL), -ENOBUFS);
	assert_int_equal(nl_getgen(s, &g, NULL), 0);
	assert_int_equal(g, 101);
	fake_close(s);

	s = fake_open(answer_each, SEQ0);
	inject(ENOBUFS, 1, 1);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 3), 3, NULL, NULL),
			 -ENOBUFS);
	assert_int_equal(nl_request_each(s, buf, each_reqs(buf, s, 2), 2, count_cb, NULL), 0);
	assert_int_equal(F.cb_calls, 2);
	fake_close(s);
}

static void batch_overrun_is_sent_unknown(void **state)
{
	struct nl_sock *s = fake_open(answer_ack, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	inject(ENOBUFS, 1, 1);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), NL_SENT_UNKNOWN);
	assert_true(acks.lost);
	assert_int_equal(acks.n_acks, 3); /* what came after the overrun was still read */
	assert_non_null(strstr(e.msg, "dropped"));
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* ---- (e) malformed replies ---- */

static int malformed_kind;

static void answer_gen_then_malformed(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };
	struct nlmsghdr *nlh;
	struct nlmsgerr *err;

	switch (malformed_kind) {
	case 0: /* a message longer than its datagram */
		dg_gen(&d, req->nlmsg_seq, PORTID, 7);
		((struct nlmsghdr *)d.buf)->nlmsg_len += 64;
		break;
	case 1: /* an error message too short for its struct nlmsgerr */
		nlh = dg_put(&d, NLMSG_ERROR, 0, req->nlmsg_seq, PORTID);
		nlh->nlmsg_len += 2;
		dg_end(&d, nlh);
		break;
	case 2: /* an error that is no errno */
	case 3:
		nlh = dg_put(&d, NLMSG_ERROR, NLM_F_CAPPED, req->nlmsg_seq, PORTID);
		err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
		err->error = malformed_kind == 2 ? 5 : INT_MIN;
		dg_end(&d, nlh);
		break;
	case 4: /* a header that cannot be: shorter than itself */
		nlh = dg_put(&d, NLMSG_DONE, 0, req->nlmsg_seq, PORTID);
		nlh->nlmsg_len = 8;
		d.len = 16;
		break;
	case 5: { /* a datagram larger than any reply (144 KiB): cut by the receive */
		static uint8_t huge[144 * 1024] __attribute__((aligned(8)));
		struct nlmsghdr *h = (void *)huge;

		h->nlmsg_len = sizeof(huge);
		h->nlmsg_type = NLMSG_DONE;
		h->nlmsg_seq = req->nlmsg_seq;
		h->nlmsg_pid = PORTID;
		assert_int_equal(write(F.k, huge, sizeof(huge)), (ssize_t)sizeof(huge));
		return;
	}
	}
	fake_send(&d);
}

static void malformed_replies_are_ebadmsg(void **state)
{
	for (malformed_kind = 0; malformed_kind <= 5; malformed_kind++) {
		struct nl_sock *s = fake_open(answer_gen_then_malformed, SEQ0);
		uint32_t g = 0;

		if (nl_getgen(s, &g, NULL) != -EBADMSG)
			fail_msg("malformed reply %d not refused", malformed_kind);
		/* and the socket recovers */
		F.answer = answer_gen;
		assert_int_equal(nl_getgen(s, &g, NULL), 0);
		fake_close(s);
	}
}

static size_t put_err(uint8_t *buf, uint32_t seq, int err, uint16_t flags, uint32_t echo_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags = flags;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	e->msg.nlmsg_len = echo_len;
	return nlh->nlmsg_len;
}

static void malformed_batch_replies(void **state)
{
	uint8_t buf[1024] __attribute__((aligned(8))) = { 0 };
	struct nl_acks acks = { 0 };
	struct nlmsghdr *nlh;
	size_t len;

	/* a well-formed refusal with its extended ACK: parsed */
	len = put_err(buf, 5, -EINVAL, NLM_F_CAPPED | NLM_F_ACK_TLVS, 16);
	nlh = (void *)buf;
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 40);
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "bad");
	len = nlh->nlmsg_len;
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(acks.n_errors, 1);
	assert_true(acks.v[0].has_offset);
	assert_int_equal(acks.v[0].offset, 40);
	assert_string_equal(acks.v[0].msg, "bad");
	nl_acks_clear(&acks);
	/* the last message cut short: what came before it is kept */
	len = put_err(buf, 5, 0, NLM_F_CAPPED, 16);
	len += put_err(buf + len, 6, -EINVAL, NLM_F_CAPPED, 16);
	assert_int_equal(nl_parse_replies(buf, len - 4, 0, &acks), -EBADMSG);
	assert_int_equal(acks.n_acks, 1);
	assert_int_equal(acks.n_errors, 0);
	nl_acks_clear(&acks);
	/* trailing bytes that are no message */
	len = put_err(buf, 5, 0, NLM_F_CAPPED, 16);
	assert_int_equal(nl_parse_replies(buf, len + 8, 0, &acks), -EBADMSG);
	nl_acks_clear(&acks);
	/* an uncapped echo shorter than a header, or longer than the reply */
	len = put_err(buf, 5, -EINVAL, NLM_F_ACK_TLVS, 0);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), -EBADMSG);
	assert_int_equal(acks.n_errors, 0);
	nl_acks_clear(&acks);
	len = put_err(buf, 5, -EINVAL, NLM_F_ACK_TLVS, 4000);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), -EBADMSG);
	nl_acks_clear(&acks);
	/* errors that are no errno */
	len = put_err(buf, 5, 3, NLM_F_CAPPED, 16);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), -EBADMSG);
	nl_acks_clear(&acks);
	len = put_err(buf, 5, INT_MIN, NLM_F_CAPPED, 16);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), -EBADMSG);
	nl_acks_clear(&acks);
}

static void answer_malformed_ack(const struct nlmsghdr *req)
{
	struct dgram d = { .len = 0 };
	struct nlmsghdr *nlh = dg_put(&d, NLMSG_ERROR, 0, req->nlmsg_seq, PORTID);

	nlh->nlmsg_len += 2;
	dg_end(&d, nlh);
	fake_send(&d);
}

static void batch_malformed_reply_is_sent_unknown(void **state)
{
	struct nl_sock *s = fake_open(answer_malformed_ack, SEQ0);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), NL_SENT_UNKNOWN);
	assert_true(acks.lost);
	assert_non_null(strstr(e.msg, "malformed"));
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

/* ---- sequence numbers ---- */

static void sequence_ranges_never_hold_zero(void **state)
{
	struct nl_sock *s = fake_open(NULL, 0xffffff00u);

	assert_int_equal(nl_seq_reserve(s, 1u << 24), 1);
	assert_int_equal(nl_seq_reserve(s, 1), 1 + (1u << 24));
	fake_close(s);

	s = fake_open(NULL, 0xfffffff0u);
	assert_int_equal(nl_seq_reserve(s, 16), 0xfffffff0u); /* ends at 0xffffffff */
	assert_int_equal(nl_seq_reserve(s, 1), 1);
	assert_int_equal(nl_seq_reserve(s, 0), 2);            /* 0 counts as 1 */
	assert_int_equal(nl_seq_reserve(s, 1), 3);
	fake_close(s);

	s = fake_open(NULL, 0);
	assert_int_equal(nl_seq_reserve(s, 1), 1);
	fake_close(s);
}

/* A batch near the end of the sequence space is matched by its own range. */
static void batch_at_the_top_of_the_seq_space(void **state)
{
	struct nl_sock *s = fake_open(answer_ack, 0xfffffffdu);
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct tbatch t;

	tbatch_make(&t, s);
	assert_int_equal(t.base, 0xfffffffdu);
	assert_int_equal(tbatch_send(&t, s, &acks, &e), 0);
	assert_int_equal(acks.n_acks, 3);
	assert_true(acks.end_acked);
	nl_acks_clear(&acks);
	tbatch_free(&t);
	fake_close(s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(requests_dumps_and_batches_work),
		cmocka_unit_test(sequence_ranges_never_hold_zero),
		cmocka_unit_test(batch_at_the_top_of_the_seq_space),
		cmocka_unit_test(unanswered_request_times_out),
		cmocka_unit_test(unanswered_requests_each_time_out),
		cmocka_unit_test(unanswered_batch_returns_at_once),
		cmocka_unit_test(end_of_file_ends_a_request),
		cmocka_unit_test(persistent_error_ends_a_request),
		cmocka_unit_test(persistent_error_ends_requests_each),
		cmocka_unit_test(batch_receive_failure_is_sent_unknown),
		cmocka_unit_test(batch_send_failure_is_not_sent),
		cmocka_unit_test(foreign_replies_are_skipped),
		cmocka_unit_test(foreign_replies_are_skipped_by_requests_each),
		cmocka_unit_test(foreign_replies_are_not_the_batch),
		cmocka_unit_test(leftover_reply_is_drained),
		cmocka_unit_test(failed_callback_reads_the_rest),
		cmocka_unit_test(interrupted_dump_is_eintr_and_read_out),
		cmocka_unit_test(signal_is_retried),
		cmocka_unit_test(overrun_is_enobufs_then_resynchronised),
		cmocka_unit_test(batch_overrun_is_sent_unknown),
		cmocka_unit_test(malformed_replies_are_ebadmsg),
		cmocka_unit_test(malformed_batch_replies),
		cmocka_unit_test(batch_malformed_reply_is_sent_unknown),
	};

	/* a send to a peer that hung up must fail with EPIPE, not kill the test */
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
