/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reader of nftables notifications (nft/events.h), without a kernel and without root.
 * nft_events_open() makes its real netlink socket, but this binary is linked with
 * --wrap=recv and --wrap=mnl_socket_setsockopt (Makefile): joining the nftables group
 * succeeds without joining it, and every receive on that socket takes the next step of a
 * script instead: a datagram the test built, or an errno (ENOBUFS: the kernel dropped
 * notifications), and EAGAIN once the script is used up, which ends the read.
 *
 * Covers: a transaction of another process that touches our table is drift and names the
 * committer; our own, another table's, another family's and a table named alike are not;
 * a transaction split over reads; after lost notifications (ENOBUFS, a datagram that
 * cannot be read) nothing read before the socket is drained is taken as drift (the part
 * of a transaction queued before the gap does not make the next one drift) and, once
 * drained (or the read ends on an error), drift is told again; receive errors.
 *
 * `test_nft_events PATTERN` runs only the tests matching PATTERN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/events.h"

#define SELF 4242               /* the daemon's pid, as the tests pass it */
#define OTHER 1234              /* another program's */
#define STEPS 16
#define SPIN_CAP 1000           /* receives in one test: more is a spinning loop */

struct dgram {
	uint8_t buf[4096] __attribute__((aligned(8)));
	size_t len;
};

/* One receive: a datagram, or (err != 0) a failure with that errno. */
struct step {
	int err;
	struct dgram d;
};

static struct fake {
	int fd;                  /* the events socket (-1: none yet) */
	struct step steps[STEPS];
	int n, next;             /* steps scripted, the next one to receive */
	int calls;
} F = { .fd = -1 };

/* ---- the script ---- */

static void script_reset(int fd)
{
	memset(&F, 0, sizeof(F));
	F.fd = fd;
}

static struct dgram *script_dgram(void)
{
	assert_true(F.n < STEPS);
	return &F.steps[F.n++].d;
}

static void script_err(int err)
{
	assert_true(F.n < STEPS);
	F.steps[F.n++].err = err;
}

ssize_t __real_recv(int fd, void *buf, size_t len, int flags);
ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags);
int __real_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf,
				 socklen_t len);
int __wrap_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf,
				 socklen_t len);

ssize_t __wrap_recv(int fd, void *buf, size_t len, int flags)
{
	const struct step *s;

	if (fd < 0 || fd != F.fd)
		return __real_recv(fd, buf, len, flags);
	if (++F.calls > SPIN_CAP)
		fail_msg("%d receives: the read loop spins", F.calls);
	if (F.next == F.n) {
		errno = EAGAIN;
		return -1;
	}
	s = &F.steps[F.next++];
	if (s->err) {
		errno = s->err;
		return -1;
	}
	assert_true(s->d.len <= len);
	memcpy(buf, s->d.buf, s->d.len);
	return (ssize_t)s->d.len;
}

/* Joining NFNLGRP_NFTABLES needs CAP_NET_ADMIN; the script stands for the group. */
int __wrap_mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf,
				 socklen_t len)
{
	if (type == NETLINK_ADD_MEMBERSHIP)
		return 0;
	return __real_mnl_socket_setsockopt(nl, type, buf, len);
}

/* ---- notifications, as the kernel writes them ---- */

static struct nlmsghdr *msg_put(struct dgram *d, uint16_t type, uint8_t family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static void msg_end(struct dgram *d, const struct nlmsghdr *nlh)
{
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
	assert_true(d->len <= sizeof(d->buf));
}

/* An element added to a map of table `family table`. */
static void put_elem(struct dgram *d, uint8_t family, const char *table)
{
	struct nlmsghdr *nlh = msg_put(d, NFT_MSG_NEWSETELEM, family);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "endpoint4");
	msg_end(d, nlh);
}

static void put_table(struct dgram *d, uint8_t family, const char *table)
{
	struct nlmsghdr *nlh = msg_put(d, NFT_MSG_NEWTABLE, family);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
	msg_end(d, nlh);
}

/* The end of a transaction: the generation it made and who committed it. */
static void put_gen(struct dgram *d, uint32_t genid, uint32_t pid, const char *name)
{
	struct nlmsghdr *nlh = msg_put(d, NFT_MSG_NEWGEN, NFPROTO_UNSPEC);

	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(genid));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
	mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, name);
	msg_end(d, nlh);
}

/* Bytes that are no message: a header claiming more than the datagram holds. */
static void put_garbage(struct dgram *d)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);

	nlh->nlmsg_len = 4000;
	d->len += sizeof(*nlh);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct nft_events *ev = NULL;
	struct nft_error e = { 0 };

	assert_int_equal(nft_events_open("nftgate", &ev, &e), 0);
	script_reset(nft_events_fd(ev));
	*state = ev;
	return 0;
}

static int teardown(void **state)
{
	nft_events_close(*state);
	F.fd = -1;
	return 0;
}

/* Reads what is scripted; every step must have been received. */
static void read_all(struct nft_events *ev, struct nft_events_seen *seen)
{
	assert_int_equal(nft_events_read(ev, SELF, seen), 0);
	assert_int_equal(F.next, F.n);
	script_reset(F.fd);
}

/* ---- tests ---- */

static void foreign_change_of_our_table_is_drift(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d = script_dgram();

	put_elem(d, NFPROTO_INET, "nftgate");
	put_gen(d, 77, OTHER, "nft");
	read_all(*state, &seen);
	assert_true(seen.foreign);
	assert_false(seen.lost);
	assert_int_equal(seen.genid, 77);
	assert_string_equal(seen.who, "nft[1234]");
}

static void own_change_is_not_drift(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d = script_dgram();

	put_table(d, NFPROTO_INET, "nftgate");
	put_elem(d, NFPROTO_INET, "nftgate");
	put_gen(d, 78, SELF, "nftgate");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	assert_false(seen.lost);
	assert_int_equal(seen.genid, 78);
}

static void other_tables_are_not_drift(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d = script_dgram();

	put_elem(d, NFPROTO_INET, "other");
	put_elem(d, NFPROTO_INET, "nftgat");
	put_elem(d, NFPROTO_INET, "nftgate2");
	put_table(d, NFPROTO_IPV4, "nftgate");  /* ip nftgate is not inet nftgate */
	put_gen(d, 79, OTHER, "nft");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	assert_int_equal(seen.genid, 79);
	/* and the next transaction starts clean */
	put_gen(script_dgram(), 80, OTHER, "nft");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	assert_int_equal(seen.genid, 80);
}

/* A transaction's messages and its NEWGEN read in different calls: nothing was lost, so
 * draining the socket between them changes nothing. */
static void transaction_split_over_reads(void **state)
{
	struct nft_events_seen seen = { 0 };

	put_elem(script_dgram(), NFPROTO_INET, "nftgate");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	put_gen(script_dgram(), 81, OTHER, "nft");
	read_all(*state, &seen);
	assert_true(seen.foreign);
	assert_false(seen.lost);
}

/* Our own commit overflows the socket: the kernel reports ENOBUFS first, then the part of
 * the transaction still queued, whose NEWGEN was dropped. A later commit of another
 * program to another table must not be taken as drift (it was, before this was fixed). */
static void overrun_then_another_tables_commit_is_not_drift(void **state)
{
	struct nft_events_seen seen = { 0 };

	put_table(script_dgram(), NFPROTO_INET, "nftgate");
	script_err(ENOBUFS);
	put_elem(script_dgram(), NFPROTO_INET, "nftgate");
	read_all(*state, &seen);
	assert_true(seen.lost);
	assert_false(seen.foreign);

	memset(&seen, 0, sizeof(seen)); /* the daemon's check of the table */
	put_table(script_dgram(), NFPROTO_IPV4, "unrelated");
	put_gen(script_dgram(), 90, OTHER, "nft");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	assert_false(seen.lost);
	assert_int_equal(seen.genid, 90);
}

/* Between the overrun and the drain, where the gap lies cannot be told: a NEWGEN there may
 * close a transaction other than the one whose messages precede it. No drift is named
 * (seen.lost has the table checked); after the drain, drift is named again. */
static void nothing_is_drift_until_drained_after_an_overrun(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d;

	script_err(ENOBUFS);
	d = script_dgram();
	put_elem(d, NFPROTO_INET, "nftgate");
	put_gen(d, 91, OTHER, "nft");
	put_elem(script_dgram(), NFPROTO_INET, "nftgate");
	read_all(*state, &seen);
	assert_true(seen.lost);
	assert_false(seen.foreign);
	assert_int_equal(seen.genid, 91);

	memset(&seen, 0, sizeof(seen));
	d = script_dgram();
	put_gen(d, 92, OTHER, "nft");       /* closes the half-read one: not told */
	put_elem(d, NFPROTO_INET, "nftgate");
	put_gen(d, 93, OTHER, "nft");       /* sent after the drain: drift */
	read_all(*state, &seen);
	assert_true(seen.foreign);
	assert_false(seen.lost);
	assert_int_equal(seen.genid, 93);
}

/* A datagram that cannot be read may have held the NEWGEN of the messages before the bad
 * bytes: lost, as an overrun is. */
static void unreadable_datagram_is_lost(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d = script_dgram();

	put_elem(d, NFPROTO_INET, "nftgate");
	put_garbage(d);
	read_all(*state, &seen);
	assert_true(seen.lost);
	assert_false(seen.foreign);

	memset(&seen, 0, sizeof(seen));
	put_gen(script_dgram(), 94, OTHER, "nft");
	read_all(*state, &seen);
	assert_false(seen.foreign);
	assert_false(seen.lost);
}

static void receive_errors_end_the_read(void **state)
{
	struct nft_events_seen seen = { 0 };
	struct dgram *d;

	script_err(EINTR);              /* retried */
	script_err(EIO);
	assert_int_equal(nft_events_read(*state, SELF, &seen), -EIO);
	assert_int_equal(F.next, 2);
	assert_false(seen.lost);
	assert_false(seen.foreign);

	/* a read cut short after an overrun ends the doubt too: the caller checks the table
	 * after it, so what the next read finds is told apart again, not left unchecked */
	script_reset(F.fd);
	script_err(ENOBUFS);
	put_elem(script_dgram(), NFPROTO_INET, "nftgate");
	script_err(EIO);
	assert_int_equal(nft_events_read(*state, SELF, &seen), -EIO);
	assert_true(seen.lost);
	assert_false(seen.foreign);
	memset(&seen, 0, sizeof(seen));
	d = script_dgram();
	put_gen(d, 95, OTHER, "nft");
	put_elem(d, NFPROTO_INET, "nftgate");
	put_gen(d, 96, OTHER, "nft");
	read_all(*state, &seen);
	assert_true(seen.foreign);
	assert_false(seen.lost);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(foreign_change_of_our_table_is_drift),
		T(own_change_is_not_drift),
		T(other_tables_are_not_drift),
		T(transaction_split_over_reads),
		T(overrun_then_another_tables_commit_is_not_drift),
		T(nothing_is_drift_until_drained_after_an_overrun),
		T(unreadable_datagram_is_lost),
		T(receive_errors_end_the_read),
#undef T
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
