/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeping history true, against a fake kernel (agent/history.h): what an apply whose
 * replies were lost did (outcome_find), and what becomes of the pending snapshot an apply
 * left when it died between saving it and committing (history_settle_pending). The kernel
 * cannot be made to lose the replies of a commit; here a forked peer on a SOCK_SEQPACKET
 * socketpair (nl_open_fd) answers GETGEN with the generations a case scripts and GETTABLE
 * with "no such table".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "agent/history.h"
#include "agent/kernel_session.h"
#include "nft/build.h"
#include "nft/layout.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"
#include "test_nft_plans.h"

#define PORTID 4242u
#define BOOT "0b1e2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
#define OTHER_BOOT "11111111-2222-4333-8444-555555555555"

struct peer {
	pid_t pid;
	int requests_fd;         /* the peer writes how many requests it answered on exit */
};

static size_t put_err(uint8_t *buf, uint32_t seq, int err)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	e->msg.nlmsg_len = sizeof(e->msg);
	e->msg.nlmsg_seq = seq;
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

static size_t put_gen(uint8_t *buf, uint32_t seq, uint32_t genid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->version = NFNETLINK_V0;
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(genid));
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The peer: GETGEN -> the next scripted generation (-EPERM when the script is out),
 * GETTABLE -> ENOENT, anything else -> EOPNOTSUPP. */
static void serve(int fd, const uint32_t *gens, size_t n_gens, int report)
{
	static uint8_t in[65536] __attribute__((aligned(8))), out[65536] __attribute__((aligned(8)));
	size_t next = 0;
	int requests = 0;
	ssize_t n;

	while ((n = recv(fd, in, sizeof(in), 0)) > 0) {
		const struct nlmsghdr *nlh = (const void *)in;
		int left = (int)n;
		size_t len = 0;

		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			uint16_t t = NFNL_MSG_TYPE(nlh->nlmsg_type);

			requests++;
			if (t == NFT_MSG_GETGEN && next < n_gens) {
				len += put_gen(out + len, nlh->nlmsg_seq, gens[next++]);
				len += put_err(out + len, nlh->nlmsg_seq, 0);
			} else if (t == NFT_MSG_GETGEN) {
				len += put_err(out + len, nlh->nlmsg_seq, -EPERM);
			} else if (t == NFT_MSG_GETTABLE) {
				len += put_err(out + len, nlh->nlmsg_seq, -ENOENT);
			} else {
				len += put_err(out + len, nlh->nlmsg_seq, -EOPNOTSUPP);
			}
		}
		if (len && send(fd, out, len, 0) < 0)
			break;
	}
	if (write(report, &requests, sizeof(requests)) != sizeof(requests))
		_exit(1);
	_exit(0);
}

static struct nl_sock *fake_kernel(const uint32_t *gens, size_t n_gens, struct peer *p)
{
	struct nl_sock *s = NULL;
	int sv[2], rp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(pipe(rp), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		close(sv[0]);
		close(rp[0]);
		serve(sv[1], gens, n_gens, rp[1]);
	}
	close(sv[1]);
	close(rp[1]);
	p->requests_fd = rp[0];
	assert_int_equal(nl_open_fd(sv[0], PORTID, 100, &s), 0);
	return s;
}

/* Closes the socket, waits for the peer, returns how many requests it answered. */
static int peer_done(struct nl_sock *s, struct peer *p)
{
	int requests = -1, status = 0;

	nl_close(s);
	assert_int_equal(read(p->requests_fd, &requests, sizeof(requests)), sizeof(requests));
	close(p->requests_fd);
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return requests;
}

/* A table as an apply of plan_weights would commit it. */
static struct snapshot *present_snapshot(uint32_t genid)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;
	struct nft_batch *nb = NULL;
	struct snapshot *s = NULL;

	assert_int_equal(layout_build(&plan_weights, "nftgate", true, &rs, &e), 0);
	assert_int_equal(batch_build_apply(rs, 1, &o, &nb, &e), 0);
	assert_int_equal(snapshot_from_batch(nb, genid, &s), 0);
	batch_free(nb);
	ruleset_free(rs);
	return s;
}

static struct snapshot *absent_snapshot(uint32_t genid)
{
	struct snapshot *s = snapshot_new("nftgate", false);

	assert_non_null(s);
	s->genid = genid;
	return s;
}

/* ---- outcome_find: the replies of a sent batch were lost ---- */

static void unmoved_generation_means_not_committed(void **state)
{
	static const uint32_t gens[] = { 7 };
	struct snapshot *intended = present_snapshot(0);
	struct nft_error e = { 0 };
	enum outcome oc = OUTCOME_COMMITTED;
	struct peer p;
	struct nl_sock *nl = fake_kernel(gens, 1, &p);
	uint32_t gen = 0;

	assert_int_equal(outcome_find(nl, 7, intended, &oc, &gen, &e), 0);
	assert_int_equal(oc, OUTCOME_NOT_COMMITTED);
	assert_int_equal(gen, 7);
	assert_int_equal(peer_done(nl, &p), 1); /* the generation alone told it */
	snapshot_free(intended);
}

static void moved_generation_and_the_sent_table_means_committed(void **state)
{
	/* the restore of "no table" was sent; the kernel is past the fence and has no table */
	static const uint32_t gens[] = { 8, 8, 8 };
	struct snapshot *intended = absent_snapshot(0);
	struct nft_error e = { 0 };
	enum outcome oc = OUTCOME_UNKNOWN;
	struct peer p;
	struct nl_sock *nl = fake_kernel(gens, 3, &p);
	uint32_t gen = 0;

	assert_int_equal(outcome_find(nl, 7, intended, &oc, &gen, &e), 0);
	assert_int_equal(oc, OUTCOME_COMMITTED);
	assert_int_equal(gen, 8);
	assert_int_equal(peer_done(nl, &p), 4); /* GETGEN, then the dump: GETGEN GETTABLE GETGEN */
	snapshot_free(intended);
}

static void moved_generation_and_another_table_means_unknown(void **state)
{
	static const uint32_t gens[] = { 9, 9, 9 };
	struct snapshot *intended = present_snapshot(0);
	struct nft_error e = { 0 };
	enum outcome oc = OUTCOME_COMMITTED;
	struct peer p;
	struct nl_sock *nl = fake_kernel(gens, 3, &p);
	uint32_t gen = 0;

	assert_int_equal(outcome_find(nl, 7, intended, &oc, &gen, &e), 0);
	assert_int_equal(oc, OUTCOME_UNKNOWN);
	assert_int_equal(gen, 9);
	peer_done(nl, &p);
	snapshot_free(intended);
}

static void kernel_that_cannot_be_asked_is_an_error(void **state)
{
	struct snapshot *intended = present_snapshot(0);
	struct nft_error e = { 0 };
	enum outcome oc = OUTCOME_COMMITTED;
	struct peer p;
	struct nl_sock *nl = fake_kernel(NULL, 0, &p);
	uint32_t gen = 0;

	assert_int_equal(outcome_find(nl, 7, intended, &oc, &gen, &e), -EPERM);
	assert_int_equal(oc, OUTCOME_COMMITTED); /* untouched */
	assert_non_null(strstr(e.msg, "generation"));
	peer_done(nl, &p);
	snapshot_free(intended);
}

/* ---- history_settle_pending: the snapshot of an apply that died ---- */

struct dir {
	char path[64];
	struct kernel_session ks;
	struct peer p;
};

static void dir_open(struct dir *d, const uint32_t *gens, size_t n_gens)
{
	struct nft_error e = { 0 };

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "/tmp/nftgate-test-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	assert_int_equal(statedir_open(d->path, &d->ks.dirfd, &e), 0);
	d->ks.nl = fake_kernel(gens, n_gens, &d->p);
	memcpy(d->ks.ns.boot, BOOT, sizeof(BOOT));
	d->ks.ns.cookie = 5;
	d->ks.has_ns = true;
}

static int dir_close(struct dir *d)
{
	char cmd[128];
	int requests = peer_done(d->ks.nl, &d->p);

	close(d->ks.dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	return requests;
}

/* Saves s as the pending snapshot a dead apply left: its lock is let go. Returns its lock
 * when keep_lock (a live apply), else -1. */
static int leave_pending(struct dir *d, struct snapshot *s, const char *boot, uint64_t cookie,
			 bool keep_lock)
{
	struct nft_error e = { 0 };
	char name[STATEDIR_NAME_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int lock = -1;

	memcpy(s->ns.boot, boot, 37);
	s->ns.cookie = cookie;
	assert_int_equal(snapshot_encode(s, &buf, &len), 0);
	assert_int_equal(statedir_save_pending(d->ks.dirfd, "nftgate", buf, len, name, &lock, &e),
			 0);
	free(buf);
	snapshot_free(s);
	if (keep_lock)
		return lock;
	close(lock);
	return -1;
}

static size_t n_pending(struct dir *d)
{
	struct statedir_names names = { 0 };
	struct nft_error e = { 0 };
	size_t n;

	assert_int_equal(statedir_pending(d->ks.dirfd, "nftgate", &names, &e), 0);
	n = names.n;
	statedir_names_clear(&names);
	return n;
}

static bool has_history(struct dir *d)
{
	char name[STATEDIR_NAME_MAX];

	return statedir_newest(d->ks.dirfd, "nftgate", name, NULL) == 0;
}

static void settle(struct dir *d)
{
	struct nft_error e = { 0 };

	if (history_settle_pending(&d->ks, d->path, "nftgate", &e) < 0)
		fail_msg("%s", e.msg);
}

static void killed_before_its_commit_is_removed(void **state)
{
	static const uint32_t gens[] = { 5 };
	struct dir d;

	dir_open(&d, gens, 1);
	leave_pending(&d, present_snapshot(5), BOOT, 5, false);
	settle(&d);
	assert_int_equal(n_pending(&d), 0);
	assert_false(has_history(&d));
	assert_int_equal(dir_close(&d), 1);
}

static void table_as_it_was_is_removed(void **state)
{
	/* something committed since, but the table is still the snapshot's ("no table") */
	static const uint32_t gens[] = { 6, 6, 6 };
	struct dir d;

	dir_open(&d, gens, 3);
	leave_pending(&d, absent_snapshot(5), BOOT, 5, false);
	settle(&d);
	assert_int_equal(n_pending(&d), 0);
	assert_false(has_history(&d));
	dir_close(&d);
}

static void table_changed_since_becomes_history(void **state)
{
	/* killed after its commit: the generation moved and the table is not the snapshot's */
	static const uint32_t gens[] = { 6, 6, 6 };
	char name[STATEDIR_NAME_MAX];
	struct dir d;

	dir_open(&d, gens, 3);
	leave_pending(&d, present_snapshot(5), BOOT, 5, false);
	settle(&d);
	assert_int_equal(n_pending(&d), 0);
	assert_int_equal(statedir_newest(d.ks.dirfd, "nftgate", name, NULL), 0);
	assert_string_equal(name, "nftgate.0000000001.snap"); /* its place in the sequence */
	dir_close(&d);
}

static void other_boot_is_removed_without_asking(void **state)
{
	struct dir d;

	dir_open(&d, NULL, 0);
	leave_pending(&d, present_snapshot(5), OTHER_BOOT, 5, false);
	settle(&d);
	assert_int_equal(n_pending(&d), 0);
	assert_false(has_history(&d));
	assert_int_equal(dir_close(&d), 0);
}

static void other_namespace_and_live_apply_are_left_alone(void **state)
{
	struct dir d;
	int lock;

	dir_open(&d, NULL, 0);
	leave_pending(&d, present_snapshot(5), BOOT, 9, false); /* another netns's */
	lock = leave_pending(&d, present_snapshot(5), BOOT, 5, true); /* a running apply's */
	settle(&d);
	assert_int_equal(n_pending(&d), 2);
	assert_false(has_history(&d));
	close(lock);
	assert_int_equal(dir_close(&d), 0);
}

static void damaged_pending_is_removed(void **state)
{
	static const uint8_t junk[] = "not a snapshot";
	char name[STATEDIR_NAME_MAX];
	struct nft_error e = { 0 };
	struct dir d;
	int lock = -1;

	dir_open(&d, NULL, 0);
	assert_int_equal(statedir_save_pending(d.ks.dirfd, "nftgate", junk, sizeof(junk), name,
					       &lock, &e), 0);
	close(lock);
	settle(&d);
	assert_int_equal(n_pending(&d), 0);
	assert_false(has_history(&d));
	assert_int_equal(dir_close(&d), 0);
}

static void foreign_is_same_boot_other_cookie(void **state)
{
	struct nl_netns_id here = { .boot = BOOT, .cookie = 5 }, there = here;

	assert_false(history_foreign(&there, &here));
	there.cookie = 6;
	assert_true(history_foreign(&there, &here));
	/* another boot: nothing names the namespace; no cookie (before 5.14): nor */
	memcpy(there.boot, OTHER_BOOT, sizeof(OTHER_BOOT));
	assert_false(history_foreign(&there, &here));
	there = here;
	there.cookie = 0;
	assert_false(history_foreign(&there, &here));
	there.cookie = 6;
	here.cookie = 0;
	assert_false(history_foreign(&there, &here));
	memset(&there, 0, sizeof(there)); /* a version 1 snapshot */
	here.cookie = 5;
	assert_false(history_foreign(&there, &here));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unmoved_generation_means_not_committed),
		cmocka_unit_test(moved_generation_and_the_sent_table_means_committed),
		cmocka_unit_test(moved_generation_and_another_table_means_unknown),
		cmocka_unit_test(kernel_that_cannot_be_asked_is_an_error),
		cmocka_unit_test(killed_before_its_commit_is_removed),
		cmocka_unit_test(table_as_it_was_is_removed),
		cmocka_unit_test(table_changed_since_becomes_history),
		cmocka_unit_test(other_boot_is_removed_without_asking),
		cmocka_unit_test(other_namespace_and_live_apply_are_left_alone),
		cmocka_unit_test(damaged_pending_is_removed),
		cmocka_unit_test(foreign_is_same_boot_other_cookie),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
