/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The batch, without a kernel: message framing (ACK flag, seq = base + i, generation fence,
 * BEGIN first and END last), element lists split under the 64 KiB attribute limit, the
 * test hook, and the mapping of (fake) kernel error replies back to listener and route.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/uio.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/build.h"
#include "nft/layout.h"
#include "nft/netlink.h"
#include "nft/sets.h"
#include "test_nft_plans.h"

#define BASE 1000u

struct fix {
	struct ruleset *rs;
	struct nft_batch *nb;
};

static void make(struct fix *f, const struct plan *p, const struct apply_opts *o)
{
	struct nft_error e = { 0 };

	assert_int_equal(layout_build(p, "nftgate", true, &f->rs, &e), 0);
	assert_int_equal(batch_build_apply(f->rs, BASE, o, &f->nb, &e), 0);
}

static void unmake(struct fix *f)
{
	f->nb = batch_free(f->nb);
	f->rs = ruleset_free(f->rs);
}

static void framing(void **state)
{
	uint32_t genid = 0x01020304;
	struct apply_opts o = { .genid = &genid, .fail_at = -1 };
	struct fix f = { 0 };
	const struct nlattr *a;
	bool fenced = false;
	size_t bytes = 0;

	make(&f, &plan_basic, &o);
	assert_true(f.nb->n > 10);
	assert_int_equal(f.nb->msgs[0].what, W_BEGIN);
	assert_int_equal(f.nb->msgs[f.nb->n - 1].what, W_END);
	for (size_t i = 0; i < f.nb->n; i++) {
		const struct nlmsghdr *nlh = f.nb->msgs[i].nlh;

		assert_int_equal(nlh->nlmsg_seq, BASE + i);
		assert_true(nlh->nlmsg_flags & NLM_F_ACK);
		assert_true(nlh->nlmsg_flags & NLM_F_REQUEST);
		bytes += nlh->nlmsg_len;
	}
	assert_int_equal(bytes, f.nb->bytes);
	mnl_attr_for_each(a, f.nb->msgs[0].nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFNL_BATCH_GENID)
			fenced = ntohl(mnl_attr_get_u32(a)) == genid;
	assert_true(fenced);
	/* the full replace: ensure, delete, create, before anything else */
	assert_int_equal(f.nb->msgs[1].what, W_TABLE_ENSURE);
	assert_int_equal(f.nb->msgs[2].what, W_TABLE_DELETE);
	assert_int_equal(f.nb->msgs[3].what, W_TABLE);
	unmake(&f);
}

static uint32_t nested_count(const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *e;
	uint32_t n = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS) {
			assert_true(mnl_attr_get_len(a) <= UINT16_MAX);
			mnl_attr_for_each_nested(e, a)
				n++;
		}
	return n;
}

static void big_element_lists_are_split(void **state)
{
	size_t n = 4000;
	struct plan_endpoint *eps = many_v4_endpoints(n);
	struct plan_share sh = { .weight = 1, .backend = "Service ns/big:1", .n_endpoints = n };
	struct plan_listener l = w_listeners[0];
	struct plan p = { &l, 1 };
	struct apply_opts o = { .fail_at = -1 };
	struct fix f = { 0 };
	uint32_t seen = 0, msgs = 0;

	assert_non_null(eps);
	sh.endpoints = eps;
	l.shares = &sh;
	l.n_shares = 1;
	make(&f, &p, &o);
	for (size_t i = 0; i < f.nb->n; i++)
		if (f.nb->msgs[i].what == W_ELEMS && f.nb->msgs[i].sub == SET_ENDPOINT4) {
			assert_int_equal(f.nb->msgs[i].index, seen); /* first element of the message */
			seen += nested_count(f.nb->msgs[i].nlh);
			msgs++;
		}
	assert_int_equal(seen, n);
	assert_true(msgs >= 2);
	unmake(&f);
	free(eps);
}

/* ---- fake replies ---- */

static size_t put_reply(uint8_t *buf, uint32_t seq, int err, int64_t offs, const char *msg)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	e->msg.nlmsg_len = sizeof(struct nlmsghdr);
	e->msg.nlmsg_seq = seq;
	if (offs >= 0 || msg)
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
	if (offs >= 0)
		mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, (uint32_t)offs);
	if (msg)
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	return nlh->nlmsg_len;
}

static size_t find_msg(const struct nft_batch *nb, enum batch_what w, int sub)
{
	for (size_t i = 0; i < nb->n; i++)
		if (nb->msgs[i].what == w && (sub < 0 || nb->msgs[i].sub == sub))
			return i;
	fail_msg("no such message");
	return 0;
}

/* Byte offset of the k-th element of a NEWSETELEM message, as the kernel reports it. */
static uint32_t elem_offset(const struct nlmsghdr *nlh, uint32_t k)
{
	const struct nlattr *a, *e;
	uint32_t i = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			mnl_attr_for_each_nested(e, a)
				if (i++ == k)
					return (uint32_t)((const char *)e - (const char *)nlh);
	fail_msg("no element %u", k);
	return 0;
}

static void element_refusal_names_route(void **state)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 };
	uint8_t buf[4096];
	size_t len = 0, m;

	make(&f, &plan_basic, &o);
	m = find_msg(f.nb, W_ELEMS, SET_LISTEN_ANY4);
	/* every message ACKed except element 1 of listen_any4 (port 8090: listener bar) */
	for (size_t i = 0; i + 1 < f.nb->n; i++)
		len += put_reply(buf + len, BASE + (uint32_t)i, i == m ? -ENOENT : 0,
				 i == m ? (int64_t)elem_offset(f.nb->msgs[m].nlh, 1) : -1,
				 i == m ? "no such chain" : NULL);
	assert_int_equal(nl_parse_replies(buf, len, BASE + (uint32_t)f.nb->n - 1, &acks), 0);
	assert_int_equal(acks.n_errors, 1);
	assert_false(acks.end_acked);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "listen_any4"));
	assert_non_null(strstr(e.msg, "default/my-tcp-gateway/bar"));
	assert_non_null(strstr(e.msg, "default/tcp-app-2"));
	assert_null(strstr(e.msg, "default/tcp-app-1"));
	assert_non_null(strstr(e.msg, "no such chain"));
	assert_non_null(strstr(e.msg, "nothing was changed"));
	nl_acks_clear(&acks);
	/* element 0 is listener foo */
	len = put_reply(buf, BASE + (uint32_t)m, -EEXIST, elem_offset(f.nb->msgs[m].nlh, 0), NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "default/tcp-app-1"));
	nl_acks_clear(&acks);
	unmake(&f);
}

static void counter_refusal_names_backend(void **state)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 };
	uint8_t buf[512];
	size_t len, m;

	make(&f, &plan_weights, &o);
	m = find_msg(f.nb, W_OBJ, -1);
	len = put_reply(buf, BASE + (uint32_t)m, -ENOMEM, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -ENOMEM);
	assert_non_null(strstr(e.msg, "Service ns/a:80"));
	assert_non_null(strstr(e.msg, "ns/gw/web"));
	nl_acks_clear(&acks);
	unmake(&f);
}

static void whole_batch_refusals(void **state)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 };
	uint8_t buf[4096];
	size_t len;

	make(&f, &plan_basic, &o);
	len = put_reply(buf, BASE, -ERESTART, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -ERESTART);
	nl_acks_clear(&acks);
	len = put_reply(buf, BASE, -EPERM, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EPERM);
	assert_non_null(strstr(e.msg, "CAP_NET_ADMIN"));
	nl_acks_clear(&acks);
	/* END ACKed but most messages not: not proven, whatever END says */
	len = 0;
	for (uint32_t i = 0; i < 3; i++)
		len += put_reply(buf + len, BASE + (uint32_t)f.nb->n - 1 - i, 0, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, BASE + (uint32_t)f.nb->n - 1, &acks), 0);
	assert_true(acks.end_acked);
	assert_int_equal(acks.n_acks, 3);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EIO);
	assert_non_null(strstr(e.msg, "acknowledged 3 of"));
	nl_acks_clear(&acks);
	unmake(&f);
}

/* Replies for messages [from, to) of the batch, one datagram each (as the kernel queues). */
static void ack_range(const struct fix *f, size_t from, size_t to, struct nl_acks *acks)
{
	uint8_t buf[256];

	for (size_t i = from; i < to; i++) {
		size_t len = put_reply(buf, BASE + (uint32_t)i, 0, -1, NULL);

		assert_int_equal(nl_parse_replies(buf, len, BASE + (uint32_t)f->nb->n - 1, acks),
				 0);
	}
}

/* Every message must be ACKed: BEGIN and END only by kernels >= 6.10 (which ACK both), the
 * rest always; one missing ACK means the outcome is unknown. */
static void every_message_acked(void **state)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 };
	size_t n;

	make(&f, &plan_basic, &o);
	n = f.nb->n;
	assert_true(n > 10);
	/* >= 6.10: all n */
	ack_range(&f, 0, n, &acks);
	assert_true(acks.end_acked);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), 0);
	/* lost replies: outcome unknown */
	acks.lost = true;
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EIO);
	nl_acks_clear(&acks);
	/* < 6.10: all but BEGIN and END */
	ack_range(&f, 1, n - 1, &acks);
	assert_false(acks.end_acked);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), 0);
	nl_acks_clear(&acks);
	/* one in the middle missing, with or without END */
	ack_range(&f, 1, n / 2, &acks);
	ack_range(&f, n / 2 + 1, n - 1, &acks);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EIO);
	assert_non_null(strstr(e.msg, "outcome is unknown"));
	ack_range(&f, n - 1, n, &acks);
	assert_true(acks.end_acked);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EIO);
	nl_acks_clear(&acks);
	/* no reply at all */
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EIO);
	unmake(&f);
}

static void many_refusals_are_counted(void **state)
{
	struct apply_opts o = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 };
	uint8_t buf[8192];
	size_t len = 0;

	make(&f, &plan_basic, &o);
	for (uint32_t i = 3; i < 11; i++)
		len += put_reply(buf + len, BASE + i, -EINVAL, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(acks.n_errors, 8);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "and 3 more refusals"));
	nl_acks_clear(&acks);
	unmake(&f);
}

static void test_hook_inserts_invalid_message(void **state)
{
	struct apply_opts o = { .fail_at = 5 };
	struct apply_opts plain = { .fail_at = -1 };
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	struct fix f = { 0 }, g = { 0 };
	uint8_t buf[512];
	size_t len;

	make(&f, &plan_basic, &o);
	make(&g, &plan_basic, &plain);
	assert_int_equal(f.nb->n, g.nb->n + 1);
	assert_int_equal(f.nb->msgs[5].what, W_FAULT);
	assert_int_equal(f.nb->msgs[4].what, g.nb->msgs[4].what);
	assert_int_equal(f.nb->msgs[6].what, g.nb->msgs[5].what);
	len = put_reply(buf, BASE + 5, -ENOENT, -1, NULL);
	assert_int_equal(nl_parse_replies(buf, len, 0, &acks), 0);
	assert_int_equal(batch_outcome(f.nb, &acks, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "inserted as a test fault"));
	assert_non_null(strstr(e.msg, "route default/tcp-app-2"));
	nl_acks_clear(&acks);
	unmake(&f);
	unmake(&g);
}

/* ---- bytes ---- */

/* n listeners, each carried by its own route to one share of 10 endpoints. */
struct big_plan {
	struct plan p;
	struct plan_listener *l;
	struct plan_share *sh;
	struct plan_endpoint *eps;
	char (*names)[32];
};

static void big_plan_make(struct big_plan *b, size_t n)
{
	b->l = calloc(n, sizeof(*b->l));
	b->sh = calloc(n, sizeof(*b->sh));
	b->names = calloc(n * 3, sizeof(*b->names));
	b->eps = many_v4_endpoints(10);
	assert_true(b->l && b->sh && b->names && b->eps);
	for (size_t i = 0; i < n; i++) {
		char *key = b->names[3 * i], *route = b->names[3 * i + 1], *be = b->names[3 * i + 2];

		snprintf(key, 32, "default/gw/l%05zu", i); /* sorted by key, as plans are */
		snprintf(route, 32, "default/r%05zu", i);
		snprintf(be, 32, "Service default/s%05zu:80", i);
		b->sh[i] = (struct plan_share){ .weight = 1, .backend = be, .endpoints = b->eps,
						.n_endpoints = 10 };
		b->l[i] = (struct plan_listener){ .key = key, .gateway = "default/gw",
						  .listener = key + 11, .protocol = IPPROTO_TCP,
						  .port = (uint16_t)(1000 + i), .action = PLAN_FORWARD,
						  .route = route, .shares = &b->sh[i], .n_shares = 1 };
	}
	b->p = (struct plan){ b->l, n };
}

static void big_plan_free(struct big_plan *b)
{
	free(b->l);
	free(b->sh);
	free(b->names);
	free(b->eps);
}

/* The bytes the batch sends, page after page; the caller frees them. */
static uint8_t *batch_bytes(const struct nft_batch *nb, size_t *ret_len, int *ret_pages)
{
	int pages = nftnl_batch_iovec_len(nb->b);
	struct iovec *iov = calloc((size_t)pages, sizeof(*iov));
	uint8_t *out = NULL;
	size_t len = 0;

	assert_non_null(iov);
	nftnl_batch_iovec(nb->b, iov, (uint32_t)pages);
	for (int i = 0; i < pages; i++)
		len += iov[i].iov_len;
	out = malloc(len);
	assert_non_null(out);
	len = 0;
	for (int i = 0; i < pages; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	free(iov);
	*ret_len = len;
	*ret_pages = pages;
	return out;
}

/* Leaves the heap's free memory filled with c: glibc hands it out again as it is. */
static void dirty_heap(int c)
{
	size_t n = 24u << 20;
	void *p = malloc(n);

	assert_non_null(p);
	memset(p, c, n);
	free(p);
}

static void same_bytes_on_every_page(void **state)
{
	/* libmnl 1.0.4 leaves attribute padding as the buffer held it and libnftnl mallocs the
	 * pages: a batch past its first page carried heap bytes in its padding, and an objref's
	 * set name read back from the committed record as "route_traffich" (a restart then
	 * replaced the table). Built twice over a heap dirtied with two different bytes, a
	 * batch of several pages must be the same bytes. */
	struct apply_opts o = { .fail_at = -1 };
	struct big_plan b = { 0 };
	uint8_t *bytes[2];
	size_t len[2];
	int pages[2];

	/* the heap, not mmap() (which gives zeroed pages), and no trimming of free memory */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	big_plan_make(&b, 3000);
	for (int k = 0; k < 2; k++) {
		struct fix f = { 0 };

		dirty_heap(k ? 'x' : 'h');
		make(&f, &b.p, &o);
		bytes[k] = batch_bytes(f.nb, &len[k], &pages[k]);
		unmake(&f);
	}
	assert_true(pages[0] >= 2);
	assert_int_equal(pages[0], pages[1]);
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(bytes[0], bytes[1], len[0]);
	free(bytes[0]);
	free(bytes[1]);
	big_plan_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(framing),
		cmocka_unit_test(big_element_lists_are_split),
		cmocka_unit_test(element_refusal_names_route),
		cmocka_unit_test(counter_refusal_names_backend),
		cmocka_unit_test(whole_batch_refusals),
		cmocka_unit_test(every_message_acked),
		cmocka_unit_test(many_refusals_are_counted),
		cmocka_unit_test(test_hook_inserts_invalid_message),
		cmocka_unit_test(same_bytes_on_every_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
