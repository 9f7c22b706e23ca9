/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> one nf_tables message -> msg_check() -> when it passes, everything
 * nftgate does with a decoded snapshot (fuzz_use_snapshot(): the catalog, the ids, the
 * replay through libnftnl). msg_check() promises that libnftnl can parse what it lets by,
 * so an exit(), abort or memory error here is a message it should have refused. The
 * snapshot and record fuzzers reach the same code through a whole file; this one mutates a
 * single message, so it reaches each expression's attributes far sooner. The input is the
 * message itself (its length field is made right). Seeds are the messages of real
 * snapshots (tests/fuzz/corpus-msgcheck/).
 */
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/msgcheck.h"
#include "tests/fuzz/fuzz_common.h"

/* The table message a dump starts with, so that the replay goes on to the one under test. */
static const uint8_t table_msg[] __attribute__((aligned(4))) = {
	/* nlmsghdr: length 32, NEWTABLE */
	32, 0, 0, 0, NFT_MSG_NEWTABLE, NFNL_SUBSYS_NFTABLES, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* nfgenmsg: inet */
	1, 0, 0, 0,
	/* NFTA_TABLE_NAME "nftgate" */
	12, 0, NFTA_TABLE_NAME, 0, 'n', 'f', 't', 'g', 'a', 't', 'e', 0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot *s = NULL;
	struct nlmsghdr *nlh;
	uint8_t *buf;

	if (size < NLMSG_SPACE(sizeof(struct nfgenmsg)) || size > UINT16_MAX)
		return 0;
	buf = fuzz_copy(data, size);
	if (!buf)
		return 0;
	nlh = (struct nlmsghdr *)(void *)buf;
	nlh->nlmsg_len = (uint32_t)size;
	/* as snapshot_decode() does: refused messages are never parsed */
	if (msg_check(nlh, NULL) < 0)
		goto out;
	s = snapshot_new("nftgate", true);
	if (s && snapshot_add_msg(s, (const void *)table_msg) == 0 &&
	    snapshot_add_msg(s, nlh) == 0)
		fuzz_use_snapshot(s);
	snapshot_free(s);
out:
	free(buf);
	return 0;
}
