/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots without a kernel: a fake dump (our own batch's messages with the handles and
 * use counts the kernel would add) goes through the file encoding and back, and its replay
 * must equal the original messages with everything kernel-assigned stripped. Corrupt files
 * and unreplayable content are refused; the state directory keeps its modes and limit.
 * Two snapshots are the same table whichever form (dump or batch) each came in; a snapshot
 * records its namespace and version 1 files are still read; pending snapshots are not
 * history until promoted and are locked by their writer; only regular files are read; table
 * names are limited by the file names they become.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <endian.h>
#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <unistd.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/build.h"
#include "nft/layout.h"
#include "nft/snapshot.h"
#include "nft/statedir.h"
#include "test_nft_plans.h"

struct fix {
	struct ruleset *rs;
	struct nft_batch *nb;
	struct snapshot *s;
	char counter[64];      /* the counter whose values the fake dump sets */
};

static uint16_t type_of(const struct nlmsghdr *nlh)
{
	return NFNL_MSG_TYPE(nlh->nlmsg_type);
}

/* Re-encodes one of our messages as a dump reply would carry it: with a handle (and use
 * count, base-chain flag, counter values) that the replay must not send back. */
static void add_as_dumped(struct fix *f, const struct nlmsghdr *in, uint64_t handle)
{
	static char buf[70000];
	struct nlmsghdr *out;

	memset(buf, 0, sizeof(buf)); /* deterministic attribute padding */
	out = nftnl_nlmsg_build_hdr(buf, type_of(in), NFPROTO_INET,
						     NLM_F_MULTI, 0);

	switch (type_of(in)) {
	case NFT_MSG_NEWTABLE: {
		struct nftnl_table *t = nftnl_table_alloc();

		assert_int_equal(nftnl_table_nlmsg_parse(in, t), 0);
		nftnl_table_set_u64(t, NFTNL_TABLE_HANDLE, handle);
		nftnl_table_set_u32(t, NFTNL_TABLE_USE, 40);
		nftnl_table_nlmsg_build_payload(out, t);
		nftnl_table_free(t);
		break;
	}
	case NFT_MSG_NEWCHAIN: {
		struct nftnl_chain *c = nftnl_chain_alloc();

		assert_int_equal(nftnl_chain_nlmsg_parse(in, c), 0);
		nftnl_chain_set_u64(c, NFTNL_CHAIN_HANDLE, handle);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_USE, 2);
		if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
			nftnl_chain_set_u32(c, NFTNL_CHAIN_FLAGS, NFT_CHAIN_BASE);
		nftnl_chain_nlmsg_build_payload(out, c);
		nftnl_chain_free(c);
		break;
	}
	case NFT_MSG_NEWOBJ: {
		struct nftnl_obj *o = nftnl_obj_alloc();

		assert_int_equal(nftnl_obj_nlmsg_parse(in, o), 0);
		nftnl_obj_set_u64(o, NFTNL_OBJ_HANDLE, handle);
		nftnl_obj_set_u32(o, NFTNL_OBJ_USE, 1);
		if (!f->counter[0]) {
			snprintf(f->counter, sizeof(f->counter), "%s",
				 nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
			nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, 5);
			nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, 300);
		}
		nftnl_obj_nlmsg_build_payload(out, o);
		nftnl_obj_free(o);
		break;
	}
	case NFT_MSG_NEWSET: {
		struct nftnl_set *s = nftnl_set_alloc();

		assert_int_equal(nftnl_set_nlmsg_parse(in, s), 0);
		nftnl_set_set_u64(s, NFTNL_SET_HANDLE, handle);
		nftnl_set_unset(s, NFTNL_SET_ID); /* dumps carry no id */
		nftnl_set_nlmsg_build_payload(out, s);
		nftnl_set_free(s);
		break;
	}
	case NFT_MSG_NEWRULE: {
		struct nftnl_rule *r = nftnl_rule_alloc();

		assert_int_equal(nftnl_rule_nlmsg_parse(in, r), 0);
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
		nftnl_rule_nlmsg_build_payload(out, r);
		nftnl_rule_free(r);
		break;
	}
	default: {
		struct nlattr *a, *el;

		/* libnftnl's builder numbers the elements 1, 2, ...; the kernel dumps each as
		 * NFTA_LIST_ELEM, which is also all libnftnl's parser accepts */
		memcpy(buf, in, in->nlmsg_len);
		out = (struct nlmsghdr *)buf;
		mnl_attr_for_each(a, out, sizeof(struct nfgenmsg))
			if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
				mnl_attr_for_each_nested(el, a)
					el->nla_type = (uint16_t)((el->nla_type & ~NLA_TYPE_MASK) |
								  NFTA_LIST_ELEM);
		break;
	}
	}
	assert_int_equal(snapshot_add_msg(f->s, out), 0);
}

static void make(struct fix *f)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nft_error e = { 0 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(layout_build(&plan_weights, "nftgate", true, &f->rs, &e), 0);
	assert_int_equal(batch_build_apply(f->rs, 1, &o, &f->nb, &e), 0);
	f->s = snapshot_new("nftgate", true);
	assert_non_null(f->s);
	f->s->genid = 77;
	for (size_t i = 0; i < f->nb->n; i++) {
		uint8_t w = f->nb->msgs[i].what;

		if (w == W_TABLE || w == W_CHAIN || w == W_OBJ || w == W_SET || w == W_ELEMS ||
		    w == W_RULE)
			add_as_dumped(f, f->nb->msgs[i].nlh, 1000 + i);
	}
}

static void unmake(struct fix *f)
{
	f->s = snapshot_free(f->s);
	f->nb = batch_free(f->nb);
	f->rs = ruleset_free(f->rs);
}

static void encode_decode_round_trip(void **state)
{
	struct nft_error e = { 0 };
	struct snapshot *back = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct fix f;

	make(&f);
	if (snapshot_check(f.s, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(snapshot_encode(f.s, &buf, &len), 0);
	assert_int_equal(snapshot_decode(buf, len, &back, &e), 0);
	assert_string_equal(back->table, "nftgate");
	assert_true(back->present);
	assert_int_equal(back->genid, 77);
	assert_int_equal(back->taken, f.s->taken);
	assert_int_equal(back->n, f.s->n);
	for (size_t i = 0; i < f.s->n; i++) {
		assert_int_equal(back->msgs[i].len, f.s->msgs[i].len);
		assert_memory_equal(back->msgs[i].data, f.s->msgs[i].data, f.s->msgs[i].len);
	}
	snapshot_free(back);
	/* one flipped byte, or a missing tail, is refused */
	buf[len / 2] ^= 0x40;
	assert_int_equal(snapshot_decode(buf, len, &back, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "corrupt"));
	buf[len / 2] ^= 0x40;
	assert_int_equal(snapshot_decode(buf, len - 1, &back, &e), -EINVAL);
	assert_int_equal(snapshot_decode(buf, 5, &back, &e), -EINVAL);
	free(buf);
	unmake(&f);
}

static void no_table_round_trip(void **state)
{
	struct snapshot *s = snapshot_new("x y/z", false), *back = NULL;
	struct nft_error e = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_non_null(s);
	assert_int_equal(snapshot_encode(s, &buf, &len), 0);
	assert_int_equal(snapshot_decode(buf, len, &back, &e), 0);
	assert_false(back->present);
	assert_int_equal(back->n, 0);
	assert_string_equal(back->table, "x y/z");
	free(buf);
	snapshot_free(s);
	snapshot_free(back);
}

static bool has_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == type)
			return true;
	return false;
}

/* Rules are compared as nft --debug=netlink prints them: libnftnl 1.2.4 sends the set name
 * of lookup/objref without its NUL (the kernel goes by the attribute length and dumps it
 * NUL-terminated), so re-parsing our own message is not byte-exact. */
static void assert_rules_equal(const struct nlmsghdr *a, const struct nlmsghdr *b)
{
	struct nftnl_rule *ra = nftnl_rule_alloc(), *rb = nftnl_rule_alloc();
	char ta[4096], tb[4096];

	assert_int_equal(nftnl_rule_nlmsg_parse(a, ra), 0);
	assert_int_equal(nftnl_rule_nlmsg_parse(b, rb), 0);
	assert_false(nftnl_rule_is_set(ra, NFTNL_RULE_HANDLE));
	nftnl_rule_snprintf(ta, sizeof(ta), ra, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_snprintf(tb, sizeof(tb), rb, NFTNL_OUTPUT_DEFAULT, 0);
	assert_string_equal(ta, tb);
	nftnl_rule_free(ra);
	nftnl_rule_free(rb);
}

static const uint8_t *payload_of(const struct nlmsghdr *nlh)
{
	return (const uint8_t *)nlh + sizeof(*nlh);
}

static void replay_strips_kernel_fields(void **state)
{
	struct nft_batch *rb = NULL;
	struct nft_error e = { 0 };
	struct counter_values cv = { 0 };
	size_t j = 0, objs = 0, kept_counter = 0;
	struct fix f;

	make(&f);
	assert_int_equal(batch_start("nftgate", 500, NULL, &rb), 0);
	assert_int_equal(batch_add_delete_table(rb), 0);
	assert_int_equal(snapshot_add_restore(f.s, rb, &e), 0);
	assert_int_equal(batch_finish(rb), 0);
	/* replay = BEGIN, ensure, delete, then the original's messages from its NEWTABLE on */
	for (size_t i = 0; i < f.nb->n && f.nb->msgs[i].what != W_TABLE; i++)
		j++;
	assert_int_equal(rb->n, f.nb->n);
	for (size_t i = 3; i + 1 < rb->n; i++, j++) {
		const struct nlmsghdr *a = rb->msgs[i].nlh, *b = f.nb->msgs[j].nlh;

		assert_int_equal(rb->msgs[i].what, W_REPLAY);
		assert_int_equal(type_of(a), type_of(b));
		assert_false(has_attr(a, type_of(a) == NFT_MSG_NEWTABLE ? NFTA_TABLE_HANDLE :
					 type_of(a) == NFT_MSG_NEWCHAIN ? NFTA_CHAIN_HANDLE :
					 type_of(a) == NFT_MSG_NEWRULE ? NFTA_RULE_HANDLE :
					 type_of(a) == NFT_MSG_NEWSET ? NFTA_SET_HANDLE :
					 type_of(a) == NFT_MSG_NEWOBJ ? NFTA_OBJ_HANDLE : 0xffff));
		if (type_of(a) == NFT_MSG_NEWOBJ) {
			struct nftnl_obj *o = nftnl_obj_alloc();

			objs++;
			assert_int_equal(nftnl_obj_nlmsg_parse(a, o), 0);
			if (!strcmp(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), f.counter)) {
				assert_int_equal(nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS), 5);
				assert_int_equal(nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES), 300);
				kept_counter++;
				nftnl_obj_free(o);
				continue;
			}
			nftnl_obj_free(o);
		}
		if (type_of(a) == NFT_MSG_NEWRULE) {
			assert_rules_equal(a, b);
			continue;
		}
		/* everything else comes back exactly as nftgate first sent it */
		if (a->nlmsg_len != b->nlmsg_len)
			fail_msg("message %zu type %u: %u != %u", i, type_of(a), a->nlmsg_len, b->nlmsg_len);
		assert_memory_equal(payload_of(a), payload_of(b), a->nlmsg_len - sizeof(*a));
	}
	assert_true(objs >= 3);
	assert_int_equal(kept_counter, 1);
	assert_int_equal(snapshot_counters(f.s, &cv), 0);
	assert_int_equal(cv.n, objs);
	for (size_t i = 0; i < cv.n; i++) {
		if (i)
			assert_true(strcmp(cv.v[i - 1].name, cv.v[i].name) < 0);
		if (!strcmp(cv.v[i].name, f.counter))
			assert_int_equal(cv.v[i].packets, 5);
	}
	counter_values_clear(&cv);
	batch_free(rb);
	unmake(&f);
}

/* The committed record holds the batch as sent; replayed, it must give what a replay of
 * the kernel's dump of the same table gives (counter values aside: the fast path always
 * takes those from the kernel). */
static void record_replays_as_the_dump_does(void **state)
{
	struct nft_batch *from_dump = NULL, *from_record = NULL;
	struct snapshot *rec = NULL;
	struct nft_error e = { 0 };
	size_t objs = 0;
	struct fix f;

	make(&f);
	assert_int_equal(snapshot_from_batch(f.nb, 43, &rec), 0);
	assert_int_equal(rec->genid, 43);
	assert_true(rec->present);
	assert_string_equal(rec->table, "nftgate");
	assert_int_equal(rec->n, f.s->n);
	if (snapshot_check(rec, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(batch_start("nftgate", 500, NULL, &from_dump), 0);
	assert_int_equal(batch_start("nftgate", 500, NULL, &from_record), 0);
	assert_int_equal(snapshot_add_restore(f.s, from_dump, &e), 0);
	assert_int_equal(snapshot_add_restore(rec, from_record, &e), 0);
	assert_int_equal(from_record->n, from_dump->n);
	for (size_t i = 1; i < from_dump->n; i++) {
		const struct nlmsghdr *a = from_record->msgs[i].nlh, *b = from_dump->msgs[i].nlh;
		struct nftnl_obj *oa, *ob;

		assert_int_equal(type_of(a), type_of(b));
		switch (type_of(a)) {
		case NFT_MSG_NEWRULE:
			assert_rules_equal(a, b);
			break;
		case NFT_MSG_NEWOBJ:
			oa = nftnl_obj_alloc();
			ob = nftnl_obj_alloc();
			assert_int_equal(nftnl_obj_nlmsg_parse(a, oa), 0);
			assert_int_equal(nftnl_obj_nlmsg_parse(b, ob), 0);
			assert_string_equal(nftnl_obj_get_str(oa, NFTNL_OBJ_NAME),
					    nftnl_obj_get_str(ob, NFTNL_OBJ_NAME));
			nftnl_obj_free(oa);
			nftnl_obj_free(ob);
			objs++;
			break;
		default:
			if (a->nlmsg_len != b->nlmsg_len)
				fail_msg("message %zu type %u: %u != %u", i, type_of(a),
					 a->nlmsg_len, b->nlmsg_len);
			assert_memory_equal(payload_of(a), payload_of(b), a->nlmsg_len - sizeof(*a));
		}
	}
	assert_true(objs >= 3);
	batch_free(from_dump);
	batch_free(from_record);
	snapshot_free(rec);
	unmake(&f);
}

static void record_round_trip_and_damage(void **state)
{
	struct nl_netns_id id = { .cookie = 0x0102030405060708ull }, back_id;
	struct snapshot *rec = NULL, *back = NULL;
	struct nft_error e = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	struct fix f;

	memcpy(id.boot, "0b1e2c3d-4e5f-4061-8293-a4b5c6d7e8f9", 37);
	make(&f);
	assert_int_equal(snapshot_from_batch(f.nb, 9, &rec), 0);
	assert_int_equal(record_encode(&id, rec, 10, &buf, &len), 0);
	assert_int_equal(rec->genid, 9); /* the record's generation is the argument's */
	assert_int_equal(record_decode(buf, len, &back_id, &back, &e), 0);
	assert_string_equal(back_id.boot, id.boot);
	assert_true(back_id.cookie == id.cookie);
	assert_int_equal(back->genid, 10);
	assert_string_equal(back->table, "nftgate");
	assert_true(back->present);
	assert_int_equal(back->n, rec->n);
	for (size_t i = 0; i < rec->n; i++) {
		assert_int_equal(back->msgs[i].len, rec->msgs[i].len);
		assert_memory_equal(back->msgs[i].data, rec->msgs[i].data, rec->msgs[i].len);
	}
	back = snapshot_free(back);
	/* a flipped byte anywhere (header, boot id, cookie, content, checksums), a missing
	 * tail, another magic: refused, nothing returned */
	for (size_t at = 0; at < len; at += at < 80 ? 1 : len / 7) {
		buf[at] ^= 0x10;
		assert_int_equal(record_decode(buf, len, &back_id, &back, &e), -EINVAL);
		assert_null(back);
		buf[at] ^= 0x10;
	}
	for (size_t cut = 0; cut < len; cut += cut < 80 ? 1 : len / 5) {
		assert_int_equal(record_decode(buf, cut, &back_id, &back, &e), -EINVAL);
		assert_null(back);
	}
	memcpy(buf, SNAPSHOT_MAGIC, 8); /* a snapshot file is not a record */
	assert_int_equal(record_decode(buf, len, &back_id, &back, &e), -EINVAL);
	free(buf);
	/* "no table" is a record too */
	snapshot_free(rec);
	rec = snapshot_new("edge gw", false);
	assert_int_equal(record_encode(&id, rec, 3, &buf, &len), 0);
	assert_int_equal(record_decode(buf, len, &back_id, &back, &e), 0);
	assert_false(back->present);
	assert_int_equal(back->n, 0);
	assert_int_equal(back->genid, 3);
	assert_string_equal(back->table, "edge gw");
	free(buf);
	snapshot_free(back);
	snapshot_free(rec);
	unmake(&f);
}

static void statedir_record_replaced_atomically(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", path[300], cmd[300];
	uint8_t one[4] = { 1, 1, 1, 1 }, two[2] = { 2, 2 }, *back = NULL;
	struct nft_error e = { 0 };
	size_t len = 0, files = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	assert_int_equal(statedir_record_read(fd, "nftgate", 100, &back, &len, &e), -ENOENT);
	assert_int_equal(statedir_record_save(fd, "nftgate", one, sizeof(one), &e), 0);
	assert_int_equal(statedir_record_save(fd, "nftgate", two, sizeof(two), &e), 0);
	assert_int_equal(statedir_record_save(fd, "../other", one, sizeof(one), &e), 0);
	assert_int_equal(statedir_record_read(fd, "nftgate", 100, &back, &len, &e), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(back, two, 2);
	free(back);
	assert_int_equal(statedir_record_read(fd, "../other", 100, &back, &len, &e), 0);
	assert_int_equal(len, 4);
	free(back);
	assert_int_equal(statedir_record_read(fd, "nftgate", 1, &back, &len, &e), -EFBIG);
	d = opendir(tmpl);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		assert_int_equal(de->d_name[0] == '.', 0); /* no temporary file left */
		assert_null(strchr(de->d_name, '/'));
		snprintf(path, sizeof(path), "%s/%s", tmpl, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		files++;
	}
	closedir(d);
	assert_int_equal(files, 2);
	/* the record is not a snapshot: rollback history does not see it */
	assert_int_equal(statedir_newest(fd, "nftgate", path, &e), -ENOENT);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

static void unreplayable_refused(void **state)
{
	struct nft_error e = { 0 };
	char buf[4096];
	struct nlmsghdr *nlh;
	struct fix f;

	make(&f);
	/* an anonymous set */
	{
		struct nftnl_set *s = nftnl_set_alloc();

		nftnl_set_set_str(s, NFTNL_SET_TABLE, "nftgate");
		nftnl_set_set_str(s, NFTNL_SET_NAME, "__set0");
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 13);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, 0, 0);
		nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
	}
	assert_int_equal(snapshot_add_msg(f.s, nlh), 0);
	assert_int_equal(snapshot_check(f.s, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "anonymous"));
	assert_non_null(strstr(e.msg, "__set0"));
	unmake(&f);
	/* an owned table */
	f.s = snapshot_new("nftgate", true);
	{
		struct nftnl_table *t = nftnl_table_alloc();

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, "nftgate");
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET, 0, 0);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
	}
	assert_int_equal(snapshot_add_msg(f.s, nlh), 0);
	assert_int_equal(snapshot_check(f.s, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "owner"));
	snapshot_free(f.s);
}

static void statedir_modes_and_history(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", path[256], name[STATEDIR_NAME_MAX];
	struct nft_error e = { 0 };
	uint8_t *back = NULL, data[3] = { 1, 2, 3 };
	size_t len = 0, files = 0;
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	assert_non_null(mkdtemp(tmpl));
	snprintf(path, sizeof(path), "%s/a/state", tmpl);
	assert_int_equal(statedir_open(path, &fd, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(statedir_newest(fd, "nftgate", name, &e), -ENOENT);
	for (int i = 1; i <= 12; i++) {
		data[0] = (uint8_t)i;
		assert_int_equal(statedir_save(fd, "nftgate", data, 3, name, &e), 0);
	}
	assert_int_equal(statedir_save(fd, "other", data, 3, name, &e), 0);
	assert_int_equal(statedir_newest(fd, "nftgate", name, &e), 0);
	assert_string_equal(name, "nftgate.0000000012.snap");
	assert_int_equal(statedir_read(fd, name, 100, &back, &len, &e), 0);
	assert_int_equal(len, 3);
	assert_int_equal(back[0], 12);
	free(back);
	assert_int_equal(statedir_read(fd, name, 2, &back, &len, &e), -EFBIG);
	assert_int_equal(statedir_prune(fd, "nftgate", STATEDIR_KEEP, &e), 0);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char full[600];

		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		assert_int_equal(de->d_name[0] == '.', 0); /* no temporary file left */
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		assert_int_equal(stat(full, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_null(strstr(de->d_name, "nftgate.0000000001.")); /* pruned */
		assert_null(strstr(de->d_name, "nftgate.0000000002."));
		files++;
	}
	closedir(d);
	assert_int_equal(files, STATEDIR_KEEP + 1); /* "other" is another table's history */
	assert_int_equal(statedir_remove(fd, "nftgate.0000000012.snap", &e), 0);
	assert_int_equal(statedir_newest(fd, "nftgate", name, &e), 0);
	assert_string_equal(name, "nftgate.0000000011.snap");
	/* odd table names stay inside the directory */
	assert_int_equal(statedir_save(fd, "../x", data, 3, name, &e), 0);
	assert_null(strchr(name, '/'));
	close(fd);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmpl);
	assert_int_equal(system(path), 0);
}

/* A state directory that others can write is refused: whoever can plant a file there
 * chooses what the next rollback replays as root. */
static void statedir_writable_by_others_refused(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", cmd[300];
	struct nft_error e = { 0 };
	int fd = -1;

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chmod(tmpl, 01777), 0);
	assert_int_equal(statedir_open(tmpl, &fd, &e), -EPERM);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(e.msg, "writable by group or others"));
	assert_non_null(strstr(e.msg, tmpl));
	assert_int_equal(chmod(tmpl, 0770), 0);
	assert_int_equal(statedir_open(tmpl, &fd, &e), -EPERM);
	/* readable by others is not a risk: the files themselves are 0600 */
	assert_int_equal(chmod(tmpl, 0755), 0);
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}

/* Two applies at once (their transactions are fenced by the generation, but their
 * snapshots are saved first) must never overwrite each other's snapshot file. */
static void concurrent_saves_never_overwrite(void **state)
{
	enum { WRITERS = 4, EACH = 40 };
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", name[STATEDIR_NAME_MAX], cmd[300];
	bool seen[WRITERS * EACH] = { false };
	struct nft_error e = { 0 };
	size_t files = 0;
	struct dirent *de;
	pid_t pids[WRITERS];
	DIR *d;
	int fd;

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			/* its own open, as another nftgate process would have */
			if (statedir_open(tmpl, &fd, &e) < 0)
				_exit(1);
			for (int i = 0; i < EACH; i++) {
				uint16_t v = (uint16_t)(w * EACH + i);

				if (statedir_save(fd, "nftgate", (const uint8_t *)&v, sizeof(v),
						  name, &e) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (int w = 0; w < WRITERS; w++) {
		int status = 0;

		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	d = fdopendir(dup(fd));
	assert_non_null(d);
	rewinddir(d); /* the dup shares the offset that statedir's own listings moved */
	while ((de = readdir(d))) {
		uint8_t *back = NULL;
		size_t len = 0;
		uint16_t v;

		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(statedir_read(fd, de->d_name, 16, &back, &len, &e), 0);
		assert_int_equal(len, sizeof(v));
		memcpy(&v, back, sizeof(v));
		free(back);
		assert_true(v < WRITERS * EACH);
		assert_false(seen[v]);
		seen[v] = true;
		files++;
	}
	closedir(d);
	assert_int_equal(files, WRITERS * EACH); /* every save kept its own file */
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	assert_int_equal(system(cmd), 0);
}


/* ---- whether two snapshots hold the same table, whichever form each came in ---- */

static void same_content_whatever_the_form(void **state)
{
	struct snapshot *rec = NULL, *other = NULL, *absent = snapshot_new("nftgate", false);
	bool same = false;
	struct fix f;

	make(&f);
	assert_int_equal(snapshot_from_batch(f.nb, 43, &rec), 0);
	/* the (fake) dump, with handles, use counts and counter values, against the batch */
	assert_int_equal(snapshot_same_content(f.s, rec, &same), 0);
	assert_true(same);
	assert_int_equal(snapshot_same_content(rec, rec, &same), 0);
	assert_true(same);
	/* elements in another order are the same set */
	assert_int_equal(snapshot_from_batch(f.nb, 43, &other), 0);
	for (size_t i = 0, j = other->n - 1; i < other->n; i++) {
		const struct nlmsghdr *nlh = (const void *)other->msgs[i].data;

		if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM)
			continue;
		while (j > i && NFNL_MSG_TYPE(((const struct nlmsghdr *)other->msgs[j].data)
						  ->nlmsg_type) != NFT_MSG_NEWSETELEM)
			j--;
		if (j > i) {
			struct snap_msg t = other->msgs[i];

			other->msgs[i] = other->msgs[j];
			other->msgs[j] = t;
		}
		break;
	}
	assert_int_equal(snapshot_same_content(other, rec, &same), 0);
	assert_true(same);
	/* one message less (a rule, an element list, anything) is another table */
	for (size_t drop = 0; drop < rec->n; drop += 7) {
		other = snapshot_free(other);
		assert_int_equal(snapshot_from_batch(f.nb, 43, &other), 0);
		free(other->msgs[drop].data);
		memmove(&other->msgs[drop], &other->msgs[drop + 1],
			(other->n - drop - 1) * sizeof(*other->msgs));
		other->n--;
		assert_int_equal(snapshot_same_content(other, rec, &same), 0);
		assert_false(same);
	}
	/* no table is not the table */
	assert_int_equal(snapshot_same_content(absent, rec, &same), 0);
	assert_false(same);
	other = snapshot_free(other);
	other = snapshot_new("nftgate", false);
	assert_int_equal(snapshot_same_content(absent, other, &same), 0);
	assert_true(same);
	snapshot_free(other);
	snapshot_free(absent);
	snapshot_free(rec);
	unmake(&f);
}

static void add_built(struct snapshot *s, struct nlmsghdr *nlh)
{
	assert_int_equal(snapshot_add_msg(s, nlh), 0);
}

/* A verdict map and a rule with a lookup and a nat, as nftgate sends them (kernel_view
 * false) or as the kernel dumps them (true): it adds a verdict's data length, the lookup's
 * flags, and the nat's upper registers and range flags. */
static void add_kernel_defaults_case(struct snapshot *s, bool kernel_view, uint32_t nat_reg)
{
	static char buf[8192];
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *lk = nftnl_expr_alloc("lookup"), *nat = nftnl_expr_alloc("nat");
	struct nlmsghdr *nlh;

	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(set, NFTNL_SET_TABLE, "nftgate");
	nftnl_set_set_str(set, NFTNL_SET_NAME, "m");
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, 13);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, 2);
	nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	if (kernel_view)
		nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, 16);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, 0, 0);
	nftnl_set_nlmsg_build_payload(nlh, set);
	add_built(s, nlh);
	nftnl_set_free(set);

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "nftgate");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "c");
	nftnl_expr_set_u32(lk, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(lk, NFTNL_EXPR_LOOKUP_SET, "m");
	if (kernel_view)
		nftnl_expr_set_u32(lk, NFTNL_EXPR_LOOKUP_FLAGS, 0);
	nftnl_rule_add_expr(r, lk);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN, nat_reg);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
	if (kernel_view) {
		nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MAX, nat_reg);
		nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_PROTO_MAX, NFT_REG32_01);
		nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FLAGS, 0x3);
	}
	nftnl_rule_add_expr(r, nat);
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	add_built(s, nlh);
	nftnl_rule_free(r);
}

static void kernel_defaults_are_no_difference(void **state)
{
	struct snapshot *ours = snapshot_new("nftgate", true), *dumped = snapshot_new("nftgate", true),
			*other = snapshot_new("nftgate", true);
	bool same = false;

	add_kernel_defaults_case(ours, false, NFT_REG_1);
	add_kernel_defaults_case(dumped, true, NFT_REG_1);
	add_kernel_defaults_case(other, true, NFT_REG_2);
	assert_int_equal(snapshot_same_content(ours, dumped, &same), 0);
	assert_true(same);
	/* but another register is another rule */
	assert_int_equal(snapshot_same_content(ours, other, &same), 0);
	assert_false(same);
	snapshot_free(ours);
	snapshot_free(dumped);
	snapshot_free(other);
}

/* ---- the file format: the namespace, and version 1 files ---- */

static uint64_t fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void netns_round_trip_and_version_1(void **state)
{
	struct snapshot *s = snapshot_new("nftgate", false), *back = NULL;
	struct nft_error e = { 0 };
	uint8_t *buf = NULL, v1[128], *p = v1;
	size_t len = 0;
	uint64_t be;
	uint32_t u;

	memcpy(s->ns.boot, "0b1e2c3d-4e5f-4061-8293-a4b5c6d7e8f9", 37);
	s->ns.cookie = 0x1122334455667788ull;
	assert_int_equal(snapshot_encode(s, &buf, &len), 0);
	assert_int_equal(buf[11], 2); /* version 2 */
	assert_int_equal(snapshot_decode(buf, len, &back, &e), 0);
	assert_string_equal(back->ns.boot, s->ns.boot);
	assert_true(back->ns.cookie == s->ns.cookie);
	back = snapshot_free(back);
	free(buf);
	snapshot_free(s);
	/* version 1, as nftgate wrote it before: read, with no namespace */
	memcpy(p, SNAPSHOT_MAGIC, 8), p += 8;
	u = htonl(1), memcpy(p, &u, 4), p += 4;     /* version */
	u = htonl(0), memcpy(p, &u, 4), p += 4;     /* flags: no table */
	u = htonl(3), memcpy(p, &u, 4), p += 4;     /* generation */
	be = htobe64(4), memcpy(p, &be, 8), p += 8; /* taken */
	u = htonl(7), memcpy(p, &u, 4), p += 4;
	memcpy(p, "nftgate", 7), p += 7;
	u = htonl(0), memcpy(p, &u, 4), p += 4;     /* messages */
	be = htobe64(fnv64(v1, (size_t)(p - v1))), memcpy(p, &be, 8), p += 8;
	assert_int_equal(snapshot_decode(v1, (size_t)(p - v1), &back, &e), 0);
	assert_string_equal(back->table, "nftgate");
	assert_int_equal(back->genid, 3);
	assert_string_equal(back->ns.boot, "");
	assert_true(back->ns.cookie == 0);
	snapshot_free(back);
	/* a version nftgate does not know */
	v1[11] = 3;
	be = htobe64(fnv64(v1, (size_t)(p - v1) - 8)), memcpy(p - 8, &be, 8);
	assert_int_equal(snapshot_decode(v1, (size_t)(p - v1), &back, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "version 3"));
}

/* ---- the state directory: pending snapshots, what it reads, how long names can be ---- */

static void rm_rf(const char *path)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void statedir_pending_until_promoted(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", name[STATEDIR_NAME_MAX], hist[STATEDIR_NAME_MAX];
	char other[STATEDIR_NAME_MAX];
	struct statedir_names names = { 0 };
	struct nft_error e = { 0 };
	uint8_t data[3] = { 1, 2, 3 };
	int fd, lock = -1, lock2 = -1, status = 0;
	pid_t pid;

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	assert_int_equal(statedir_save_pending(fd, "nftgate", data, 3, name, &lock, &e), 0);
	assert_string_equal(name, "nftgate.0000000001.pending");
	assert_true(lock >= 0);
	/* not history, but it holds its place in the sequence */
	assert_int_equal(statedir_newest(fd, "nftgate", hist, &e), -ENOENT);
	assert_int_equal(statedir_save(fd, "nftgate", data, 3, other, &e), 0);
	assert_string_equal(other, "nftgate.0000000002.snap");
	assert_int_equal(statedir_pending(fd, "nftgate", &names, &e), 0);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.v[0], name);
	statedir_names_clear(&names);
	/* its writer holds the lock: another nftgate leaves it alone */
	assert_int_equal(statedir_lock(fd, name, &lock2, &e), -EBUSY);
	/* pruning counts history only */
	assert_int_equal(statedir_prune(fd, "nftgate", 0, &e), 0);
	assert_int_equal(statedir_newest(fd, "nftgate", hist, &e), -ENOENT);
	assert_int_equal(statedir_promote(fd, name, hist, &e), 0);
	assert_string_equal(hist, "nftgate.0000000001.snap");
	assert_int_equal(statedir_newest(fd, "nftgate", other, &e), 0);
	assert_string_equal(other, hist);
	assert_int_equal(statedir_promote(fd, hist, other, &e), -EINVAL); /* not pending */
	close(lock);
	/* a writer killed with its lock: the lock goes with it */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (statedir_save_pending(fd, "nftgate", data, 3, name, &lock, &e) < 0)
			_exit(1);
		raise(SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(statedir_pending(fd, "nftgate", &names, &e), 0);
	assert_int_equal(names.n, 1);
	assert_int_equal(statedir_lock(fd, names.v[0], &lock2, &e), 0);
	close(lock2);
	statedir_names_clear(&names);
	close(fd);
	rm_rf(tmpl);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* a read that waits on a FIFO never returns: fail instead of hanging */
	fprintf(stderr, "statedir_read blocked on a FIFO\n");
	_exit(1);
}

static void statedir_reads_only_regular_files(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", path[300], name[STATEDIR_NAME_MAX];
	struct nft_error e = { 0 };
	uint8_t *back = NULL;
	size_t len = 0;
	int fd, lock = -1;

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	snprintf(path, sizeof(path), "%s/nftgate.0000000001.snap", tmpl);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(statedir_newest(fd, "nftgate", name, &e), 0);
	signal(SIGALRM, on_alarm);
	alarm(10);
	assert_int_equal(statedir_read(fd, name, 1000, &back, &len, &e), -EINVAL);
	assert_non_null(strstr(e.msg, name));
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(statedir_lock(fd, name, &lock, &e), -EINVAL);
	alarm(0);
	snprintf(path, sizeof(path), "%s/nftgate.0000000002.snap", tmpl);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(statedir_read(fd, "nftgate.0000000002.snap", 1000, &back, &len, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "nftgate.0000000002.snap"));
	assert_non_null(strstr(e.msg, "symbolic link"));
	close(fd);
	rm_rf(tmpl);
}

static void statedir_table_name_limit(void **state)
{
	char tmpl[] = "/tmp/nftgate-test-XXXXXX", name[STATEDIR_NAME_MAX], table[300];
	struct nft_error e = { 0 };
	uint8_t data[1] = { 1 };
	int fd, lock = -1;

	assert_int_equal(STATEDIR_PREFIX_MAX, 227);
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(statedir_open(tmpl, &fd, &e), 0);
	memset(table, 't', 227);
	table[227] = '\0';
	assert_int_equal(statedir_prefix_len(table), 227);
	assert_int_equal(statedir_save_pending(fd, table, data, 1, name, &lock, &e), 0);
	assert_true(strlen(name) <= 255);
	close(lock);
	assert_int_equal(statedir_promote(fd, name, name, &e), 0);
	assert_int_equal(statedir_save(fd, table, data, 1, name, &e), 0);
	assert_int_equal(statedir_record_save(fd, table, data, 1, &e), 0);
	table[227] = 't';
	table[228] = '\0';
	assert_int_equal(statedir_save(fd, table, data, 1, name, &e), -ENAMETOOLONG);
	assert_non_null(strstr(e.msg, "227"));
	assert_int_equal(statedir_record_save(fd, table, data, 1, &e), -ENAMETOOLONG);
	/* a byte outside [A-Za-z0-9_-] is written as %xx */
	snprintf(table, sizeof(table), "t%.*st", 75, "..........................................."
		 "................................");
	assert_int_equal(statedir_prefix_len(table), 227);
	assert_int_equal(statedir_save(fd, table, data, 1, name, &e), 0);
	assert_non_null(strstr(name, "t%2e%2e"));
	strcat(table, ".");
	assert_int_equal(statedir_prefix_len(table), 230);
	assert_int_equal(statedir_save(fd, table, data, 1, name, &e), -ENAMETOOLONG);
	close(fd);
	rm_rf(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_decode_round_trip),
		cmocka_unit_test(no_table_round_trip),
		cmocka_unit_test(replay_strips_kernel_fields),
		cmocka_unit_test(unreplayable_refused),
		cmocka_unit_test(record_replays_as_the_dump_does),
		cmocka_unit_test(record_round_trip_and_damage),
		cmocka_unit_test(statedir_record_replaced_atomically),
		cmocka_unit_test(statedir_modes_and_history),
		cmocka_unit_test(concurrent_saves_never_overwrite),
		cmocka_unit_test(statedir_writable_by_others_refused),
		cmocka_unit_test(same_content_whatever_the_form),
		cmocka_unit_test(kernel_defaults_are_no_difference),
		cmocka_unit_test(netns_round_trip_and_version_1),
		cmocka_unit_test(statedir_pending_until_promoted),
		cmocka_unit_test(statedir_reads_only_regular_files),
		cmocka_unit_test(statedir_table_name_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
