/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What libnftnl 1.2.4 must never be handed, and that nftgate refuses instead: the inputs
 * the fuzzers (tests/fuzz/) found crashing or exiting the process, and their kin found by
 * reading libnftnl. Each is built as a message, checked with msg_check(), put into a
 * snapshot (snapshot_check() must refuse it, not die), and into a snapshot file (the decoder
 * must refuse it). Real snapshots (the fuzzers' seeds, dumps of a real kernel) pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/msgcheck.h"
#include "nft/snapshot.h"

struct msg {
	uint8_t buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
};

static struct nlmsghdr *msg_start(struct msg *m, uint16_t type)
{
	struct nfgenmsg *g;

	memset(m->buf, 0, sizeof(m->buf));
	m->nlh = mnl_nlmsg_put_header(m->buf);
	m->nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	g = mnl_nlmsg_put_extra_header(m->nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_INET;
	return m->nlh;
}

/* An attribute of any length, as a damaged file may hold one. */
static void put_raw(struct nlmsghdr *nlh, uint16_t type, const void *data, size_t len)
{
	mnl_attr_put(nlh, type, len, data);
}

/* m: a NEWSETELEM of one element of set s whose data is a verdict of the n codes given,
 * and no chain. */
static void verdict_elem(struct msg *m, const uint32_t *codes, size_t n)
{
	struct nlattr *a, *b, *c, *d;

	msg_start(m, NFT_MSG_NEWSETELEM);
	mnl_attr_put_strz(m->nlh, NFTA_SET_ELEM_LIST_TABLE, "nftgate");
	mnl_attr_put_strz(m->nlh, NFTA_SET_ELEM_LIST_SET, "s");
	a = mnl_attr_nest_start(m->nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	b = mnl_attr_nest_start(m->nlh, NFTA_LIST_ELEM);
	c = mnl_attr_nest_start(m->nlh, NFTA_SET_ELEM_DATA);
	d = mnl_attr_nest_start(m->nlh, NFTA_DATA_VERDICT);
	for (size_t i = 0; i < n; i++)
		put_raw(m->nlh, NFTA_VERDICT_CODE, &codes[i], sizeof(codes[i]));
	mnl_attr_nest_end(m->nlh, d);
	mnl_attr_nest_end(m->nlh, c);
	mnl_attr_nest_end(m->nlh, b);
	mnl_attr_nest_end(m->nlh, a);
}

/* A set description's concatenation of `fields` fields of 4 bytes. */
static void put_concat(struct nlmsghdr *nlh, int fields)
{
	struct nlattr *c = mnl_attr_nest_start(nlh, NFTA_SET_DESC_CONCAT);

	for (int i = 0; i < fields; i++) {
		struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

		mnl_attr_put_u32(nlh, NFTA_SET_FIELD_LEN, htonl(4));
		mnl_attr_nest_end(nlh, el);
	}
	mnl_attr_nest_end(nlh, c);
}

/* The messages a table needs before the one under test, as a dump starts. */
static struct snapshot *snap_with(const struct nlmsghdr *bad)
{
	struct snapshot *s = snapshot_new("nftgate", true);
	struct msg t;

	assert_non_null(s);
	msg_start(&t, NFT_MSG_NEWTABLE);
	mnl_attr_put_strz(t.nlh, NFTA_TABLE_NAME, "nftgate");
	mnl_attr_put_u32(t.nlh, NFTA_TABLE_FLAGS, 0);
	assert_int_equal(snapshot_add_msg(s, t.nlh), 0);
	assert_int_equal(snapshot_add_msg(s, bad), 0);
	return s;
}

/* The message is refused by the check, by the replay and by the file decoder. */
static void refused(const struct nlmsghdr *nlh, int want)
{
	struct snapshot *s = snap_with(nlh), *back = NULL;
	struct nft_error e = { 0 };
	const char *why = NULL;
	uint8_t *file = NULL;
	size_t len = 0;

	assert_int_equal(msg_check(nlh, &why), want);
	assert_non_null(why);
	assert_true(snapshot_check(s, &e) < 0);
	assert_non_null(strstr(e.msg, why));
	assert_int_equal(snapshot_encode(s, &file, &len), 0);
	assert_int_equal(snapshot_decode(file, len, &back, &e), -EINVAL);
	assert_null(back);
	assert_non_null(strstr(e.msg, "message 1"));
	free(file);
	snapshot_free(s);
}

/* Whether libnftnl dies parsing the message (an exit() from abi_breakage(), or a signal):
 * in a child, which this test outlives. It shows that what msg_check() refuses is what
 * libnftnl would have died on, not mere strictness. */
static bool libnftnl_dies_on(const struct nlmsghdr *nlh)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) /* its "kernel ABI is broken" line */
			dup2(null, STDERR_FILENO);
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE)
			nftnl_rule_nlmsg_parse(nlh, nftnl_rule_alloc());
		else
			nftnl_obj_nlmsg_parse(nlh, nftnl_obj_alloc());
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

static void put_expr(struct nlmsghdr *nlh, const char *name, bool with_name)
{
	struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	struct nlattr *data;

	if (with_name)
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(NFT_META_NFPROTO));
	mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, list);
}

static struct nlmsghdr *rule_start(struct msg *m)
{
	msg_start(m, NFT_MSG_NEWRULE);
	mnl_attr_put_strz(m->nlh, NFTA_RULE_TABLE, "nftgate");
	mnl_attr_put_strz(m->nlh, NFTA_RULE_CHAIN, "prerouting");
	return m->nlh;
}

/* fuzz_snapshot, fuzz_netlink: libnftnl looks the expression up by a name it does not
 * check is there (a NULL pointer's strcmp(), SEGV). */
static void expression_without_a_name(void **state)
{
	struct msg m;

	put_expr(rule_start(&m), "meta", false);
	refused(m.nlh, -EBADMSG);
	/* the same rule, named, is fine */
	put_expr(rule_start(&m), "meta", true);
	assert_int_equal(msg_check(m.nlh, NULL), 0);
}

/* fuzz_record: a set description's size of 2 bytes: libnftnl exit()s (abi_breakage()). */
static void set_attribute_of_the_wrong_size(void **state)
{
	uint16_t two = 1;
	struct nlattr *desc;
	struct msg m;

	msg_start(&m, NFT_MSG_NEWSET);
	mnl_attr_put_strz(m.nlh, NFTA_SET_TABLE, "nftgate");
	mnl_attr_put_strz(m.nlh, NFTA_SET_NAME, "s");
	desc = mnl_attr_nest_start(m.nlh, NFTA_SET_DESC);
	put_raw(m.nlh, NFTA_SET_DESC_SIZE, &two, sizeof(two));
	mnl_attr_nest_end(m.nlh, desc);
	refused(m.nlh, -EBADMSG);
}

/* fuzz_snapshot: an object without its table: the replay copied a NULL string into
 * libnftnl, which exit()s on it. msg_check() lets it by (the kernel would refuse it);
 * the replay refuses it. */
static void object_without_its_table(void **state)
{
	struct snapshot *s;
	struct nft_error e = { 0 };
	struct nlattr *data;
	struct msg m;

	msg_start(&m, NFT_MSG_NEWOBJ);
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_NAME, "c");
	mnl_attr_put_u32(m.nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	data = mnl_attr_nest_start(m.nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u64(m.nlh, NFTA_COUNTER_PACKETS, 0);
	mnl_attr_nest_end(m.nlh, data);
	assert_int_equal(msg_check(m.nlh, NULL), 0);
	s = snap_with(m.nlh);
	assert_true(snapshot_check(s, &e) < 0);
	snapshot_free(s);
}

/* fuzz_snapshot, fuzz_record: a table name "\0\0\0\0ate" decoded to "", which nftgate
 * then wrote as a file it could not read back. */
static void table_name_with_a_nul(void **state)
{
	struct snapshot *s = snapshot_new("nftgate", false), *back = NULL;
	struct nft_error e = { 0 };
	uint8_t *file = NULL;
	size_t len = 0;
	uint8_t *name;
	uint64_t sum = 14695981039346656037ull;

	assert_int_equal(snapshot_encode(s, &file, &len), 0);
	name = memmem(file, len, "nftgate", 7);
	assert_non_null(name);
	name[0] = '\0';
	for (size_t i = 0; i + 8 < len; i++) { /* the FNV-1a 64 checksum, made right again */
		sum ^= file[i];
		sum *= 1099511628211ull;
	}
	for (int i = 0; i < 8; i++)
		file[len - 8 + i] = (uint8_t)(sum >> (56 - 8 * i));
	assert_int_equal(snapshot_decode(file, len, &back, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "NUL"));
	free(file);
	snapshot_free(s);
}

static void put_elem_key(struct nlmsghdr *nlh, bool verdict, bool value)
{
	uint32_t jump = htonl(NFT_JUMP), k = htonl(7);
	struct nlattr *a, *b, *c, *d;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "nftgate");
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "s");
	a = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	b = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	c = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	if (value)
		put_raw(nlh, NFTA_DATA_VALUE, &k, sizeof(k));
	if (verdict) {
		d = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		put_raw(nlh, NFTA_VERDICT_CODE, &jump, sizeof(jump));
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, "c");
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, c);
	mnl_attr_nest_end(nlh, b);
	mnl_attr_nest_end(nlh, a);
}

/* fuzz_snapshot: a set element whose key is a jump: libnftnl copies the chain name and
 * never frees it (LeakSanitizer). Keys are values; a datum is one value or one verdict. */
static void key_that_is_a_verdict(void **state)
{
	struct msg m;

	msg_start(&m, NFT_MSG_NEWSETELEM);
	put_elem_key(m.nlh, true, false);
	refused(m.nlh, -EBADMSG);
	msg_start(&m, NFT_MSG_NEWSETELEM);
	put_elem_key(m.nlh, true, true);
	refused(m.nlh, -EBADMSG);
	msg_start(&m, NFT_MSG_NEWSETELEM);
	put_elem_key(m.nlh, false, false);
	refused(m.nlh, -EBADMSG);
	msg_start(&m, NFT_MSG_NEWSETELEM);
	put_elem_key(m.nlh, false, true);
	assert_int_equal(msg_check(m.nlh, NULL), 0);
}

/* By reading libnftnl 1.2.4: a verdict's code and a jump's chain are read from an array
 * it never clears; a concatenation of more than 16 fields overruns its field array; a
 * short object type is read as four bytes; an empty string makes it exit(). */
static void what_libnftnl_reads_blindly(void **state)
{
	uint32_t v = htonl(NFT_JUMP);
	struct nlattr *a;
	uint16_t short_type = 1;
	struct msg m;

	/* an element whose data is a verdict without a code, then a jump without a chain */
	for (size_t k = 0; k < 2; k++) {
		verdict_elem(&m, &v, k);
		refused(m.nlh, -EBADMSG);
	}
	/* 17 concatenated fields */
	msg_start(&m, NFT_MSG_NEWSET);
	mnl_attr_put_strz(m.nlh, NFTA_SET_NAME, "s");
	a = mnl_attr_nest_start(m.nlh, NFTA_SET_DESC);
	put_concat(m.nlh, 17);
	mnl_attr_nest_end(m.nlh, a);
	refused(m.nlh, -EBADMSG);
	/* an object type of two bytes */
	msg_start(&m, NFT_MSG_NEWOBJ);
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_TABLE, "nftgate");
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_NAME, "c");
	put_raw(m.nlh, NFTA_OBJ_TYPE, &short_type, sizeof(short_type));
	refused(m.nlh, -EBADMSG);
	/* an empty chain name (libnftnl exit()s) */
	msg_start(&m, NFT_MSG_NEWCHAIN);
	mnl_attr_put_strz(m.nlh, NFTA_CHAIN_TABLE, "nftgate");
	put_raw(m.nlh, NFTA_CHAIN_NAME, "", 0);
	refused(m.nlh, -EBADMSG);
	/* bytes after the last attribute that are no attribute */
	msg_start(&m, NFT_MSG_NEWCHAIN);
	mnl_attr_put_strz(m.nlh, NFTA_CHAIN_NAME, "prerouting");
	m.nlh->nlmsg_len += 3;
	refused(m.nlh, -EBADMSG);
}

/* A string without its NUL is the ABI's NLA_STRING (libnftnl builds some so): accepted,
 * and read no further than the message, which is stored with a NUL after it (ASan). */
static void unterminated_string_stops_at_the_message_end(void **state)
{
	struct nft_error e = { 0 };
	struct snapshot *s;
	struct msg m;

	msg_start(&m, NFT_MSG_NEWCHAIN);
	mnl_attr_put_strz(m.nlh, NFTA_CHAIN_TABLE, "nftgate");
	put_raw(m.nlh, NFTA_CHAIN_NAME, "prerouting", 10);
	m.nlh->nlmsg_len -= 2; /* no padding either: the name ends the message */
	assert_int_equal(msg_check(m.nlh, NULL), 0);
	s = snap_with(m.nlh);
	assert_int_equal(snapshot_check(s, &e), 0);
	snapshot_free(s);
}

/* One expression in a rule: its name, one data nest holding what put() writes, then an
 * attribute of raw bytes (after: a NAME or a DATA given a second time), if any. */
static struct nlmsghdr *rule_with(struct msg *m, const char *name,
				  void (*put)(struct nlmsghdr *nlh), uint16_t after,
				  const void *raw, size_t raw_len)
{
	struct nlattr *list, *el, *data;

	rule_start(m);
	list = mnl_attr_nest_start(m->nlh, NFTA_RULE_EXPRESSIONS);
	el = mnl_attr_nest_start(m->nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(m->nlh, NFTA_EXPR_NAME, name);
	data = mnl_attr_nest_start(m->nlh, NFTA_EXPR_DATA);
	put(m->nlh);
	mnl_attr_nest_end(m->nlh, data);
	if (raw)
		put_raw(m->nlh, after, raw, raw_len);
	mnl_attr_nest_end(m->nlh, el);
	mnl_attr_nest_end(m->nlh, list);
	return m->nlh;
}

static void put_reject(struct nlmsghdr *nlh)
{
	mnl_attr_put_u32(nlh, NFTA_REJECT_TYPE, htonl(NFT_REJECT_TCP_RST));
}

static void put_counter(struct nlmsghdr *nlh)
{
	mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, 0);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, 0);
}

static void put_match(struct nlmsghdr *nlh)
{
	put_raw(nlh, NFTA_MATCH_NAME, "tcp", 3); /* no NUL */
	mnl_attr_put_u32(nlh, NFTA_MATCH_REV, 0);
}

/* fuzz_snapshot (tests/fuzz/corpus-snapshot/regress-expr-data-twice): a reject expression
 * whose data nest was cut short, its last attribute left behind as a second, one-byte
 * NFTA_EXPR_DATA. libnftnl validates every copy and exit()s on that one; the check read
 * only the first. */
static void expression_data_given_twice(void **state)
{
	struct nft_error e = { 0 };
	struct snapshot *s, *back = NULL;
	const char *why = NULL;
	uint8_t *file = NULL, one = 0;
	size_t len = 0;
	struct msg m;

	rule_with(&m, "reject", put_reject, NFTA_EXPR_DATA, &one, 1);
	assert_true(libnftnl_dies_on(m.nlh));
	refused(m.nlh, -EBADMSG);
	/* the error names the message, the attribute and the expression */
	assert_int_equal(msg_check(m.nlh, &why), -EBADMSG);
	assert_string_equal(why, "holds an attribute twice, at attribute 4.1.2 of "
			    "expression reject");
	s = snap_with(m.nlh);
	assert_int_equal(snapshot_encode(s, &file, &len), 0);
	assert_int_equal(snapshot_decode(file, len, &back, &e), -EINVAL);
	assert_string_equal(e.msg, "the snapshot is malformed: message 1 holds an attribute "
			    "twice, at attribute 4.1.2 of expression reject");
	free(file);
	snapshot_free(s);
	/* the same rule, its data once, is fine */
	rule_with(&m, "reject", put_reject, 0, NULL, 0);
	assert_int_equal(msg_check(m.nlh, NULL), 0);
	assert_false(libnftnl_dies_on(m.nlh));
}

/* Found by reading libnftnl 1.2.4, and by tests/fuzz/fuzz_msgcheck.c on the old check: of
 * any attribute given twice it keeps the last, while the check judged the first. */
static void attributes_given_twice(void **state)
{
	static const char meta[] = "meta";
	uint32_t codes[] = { htonl(NF_ACCEPT), htonl(NFT_JUMP) };
	struct nlattr *a, *b;
	const char *why = NULL;
	struct msg m;

	/* an expression named twice: its counter's data is parsed as a meta's, whose
	 * registers are four bytes long, not eight: exit() */
	rule_with(&m, "counter", put_counter, NFTA_EXPR_NAME, meta, sizeof(meta));
	assert_true(libnftnl_dies_on(m.nlh));
	refused(m.nlh, -EBADMSG);
	/* an object typed twice, counter then quota: the counter's data is parsed as a
	 * quota's (its flags are four bytes): exit() (fuzz_msgcheck, regress-obj-data-twice,
	 * had its data twice) */
	msg_start(&m, NFT_MSG_NEWOBJ);
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_TABLE, "nftgate");
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_NAME, "c");
	mnl_attr_put_u32(m.nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	mnl_attr_put_u32(m.nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_QUOTA));
	a = mnl_attr_nest_start(m.nlh, NFTA_OBJ_DATA);
	put_counter(m.nlh);
	mnl_attr_nest_end(m.nlh, a);
	assert_true(libnftnl_dies_on(m.nlh));
	refused(m.nlh, -EBADMSG);
	assert_int_equal(msg_check(m.nlh, &why), -EBADMSG);
	assert_string_equal(why, "holds an attribute twice, at attribute 3");
	/* a verdict coded accept, then jump, without a chain: libnftnl reads the chain from
	 * an array it never cleared */
	verdict_elem(&m, codes, 2);
	refused(m.nlh, -EBADMSG);
	assert_int_equal(msg_check(m.nlh, &why), -EBADMSG);
	assert_string_equal(why, "holds an attribute twice, at attribute 3.1.2.2.1");
	/* two concatenations of 16 fields: libnftnl counts the fields of both into its
	 * array of 16 */
	msg_start(&m, NFT_MSG_NEWSET);
	mnl_attr_put_strz(m.nlh, NFTA_SET_NAME, "s");
	a = mnl_attr_nest_start(m.nlh, NFTA_SET_DESC);
	put_concat(m.nlh, 16);
	put_concat(m.nlh, 16);
	mnl_attr_nest_end(m.nlh, a);
	refused(m.nlh, -EBADMSG);
	/* a chain's devices are the one list of repeated names, and pass */
	msg_start(&m, NFT_MSG_NEWCHAIN);
	mnl_attr_put_strz(m.nlh, NFTA_CHAIN_TABLE, "nftgate");
	mnl_attr_put_strz(m.nlh, NFTA_CHAIN_NAME, "ingress");
	a = mnl_attr_nest_start(m.nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(m.nlh, NFTA_HOOK_HOOKNUM, htonl(NF_NETDEV_INGRESS));
	mnl_attr_put_u32(m.nlh, NFTA_HOOK_PRIORITY, 0);
	b = mnl_attr_nest_start(m.nlh, NFTA_HOOK_DEVS);
	mnl_attr_put_strz(m.nlh, NFTA_DEVICE_NAME, "eth0");
	mnl_attr_put_strz(m.nlh, NFTA_DEVICE_NAME, "eth1");
	mnl_attr_nest_end(m.nlh, b);
	mnl_attr_nest_end(m.nlh, a);
	assert_int_equal(msg_check(m.nlh, NULL), 0);
}

/* By reading libnftnl 1.2.4: the names of match and target must end in their NUL
 * (MNL_TYPE_NUL_STRING), or it exit()s; other strings need not. */
static void match_name_without_its_nul(void **state)
{
	const char *why = NULL;
	struct msg m;

	rule_with(&m, "match", put_match, 0, NULL, 0);
	assert_true(libnftnl_dies_on(m.nlh));
	refused(m.nlh, -EBADMSG);
	assert_int_equal(msg_check(m.nlh, &why), -EBADMSG);
	assert_string_equal(why, "holds a name without its NUL, at attribute 4.1.2.1 of "
			    "expression match");
}

/* What the check does not know it refuses, with the reason the replay always gave. */
static void unknown_kinds_are_not_supported(void **state)
{
	const char *why = NULL;
	struct nlattr *data;
	struct msg m;

	put_expr(rule_start(&m), "osf", true);
	refused(m.nlh, -EOPNOTSUPP);
	put_expr(rule_start(&m), "no-such-expression", true);
	refused(m.nlh, -EOPNOTSUPP);
	msg_start(&m, NFT_MSG_NEWOBJ);
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_TABLE, "nftgate");
	mnl_attr_put_strz(m.nlh, NFTA_OBJ_NAME, "q");
	mnl_attr_put_u32(m.nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_QUOTA));
	data = mnl_attr_nest_start(m.nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u64(m.nlh, NFTA_QUOTA_BYTES, 0);
	mnl_attr_nest_end(m.nlh, data);
	refused(m.nlh, -EOPNOTSUPP);
	assert_int_equal(msg_check(m.nlh, &why), -EOPNOTSUPP);
	assert_non_null(strstr(why, "only counters"));
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* Snapshots a real kernel dumped, and one made from the committed record, pass. */
static void real_snapshots_pass(void **state)
{
	static const char *const files[] = {
		"tests/fuzz/corpus-snapshot/v1-dumped.snap",
		"tests/fuzz/corpus-snapshot/v1-from-record.snap",
	};

	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		struct nft_error e = { 0 };
		struct snapshot *s = NULL;
		size_t len = 0;
		uint8_t *buf = read_file(files[k], &len);

		assert_int_equal(snapshot_decode(buf, len, &s, &e), 0);
		assert_true(s->n > 10);
		for (size_t i = 0; i < s->n; i++)
			assert_int_equal(msg_check((const void *)s->msgs[i].data, NULL), 0);
		assert_int_equal(snapshot_check(s, &e), 0);
		snapshot_free(s);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(real_snapshots_pass),
		cmocka_unit_test(expression_without_a_name),
		cmocka_unit_test(set_attribute_of_the_wrong_size),
		cmocka_unit_test(object_without_its_table),
		cmocka_unit_test(key_that_is_a_verdict),
		cmocka_unit_test(table_name_with_a_nul),
		cmocka_unit_test(what_libnftnl_reads_blindly),
		cmocka_unit_test(unterminated_string_stops_at_the_message_end),
		cmocka_unit_test(unknown_kinds_are_not_supported),
		cmocka_unit_test(expression_data_given_twice),
		cmocka_unit_test(attributes_given_twice),
		cmocka_unit_test(match_name_without_its_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
