/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cleanup of stale UDP flows without a kernel: ct_stale_marks() on hand-made catalogs,
 * and ct_forget_udp() against a fake kernel: one end of a SOCK_SEQPACKET socketpair under
 * an nl_sock (nl_open_fd()), the other the test's. The sequence numbers an nl_sock hands
 * out are known (SEQ0 for the first dump, then one per request), so every answer is queued
 * before the call, in the order the kernel would send it; afterwards the test reads what
 * was sent (the dump requests, the deletes) from its end. The entries are encoded with
 * libnetfilter_conntrack, an encoder independent of the product's reader.
 *
 * `test_nft_conntrack PATTERN` runs only the tests matching PATTERN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
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
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "nft/conntrack.h"

#define PORTID 4242u
#define SEQ0 1000u
#define CT_NEW ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)
#define CT_GET ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET)
#define CT_DELETE ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE)

/* ---- hand-made catalogs: elements packed as nft/catalog.c packs them ---- */

#define ELEM_HDR 6 /* key_len, data_len, jump, ref_len, comment_len (2) */

static void set_add(struct cat_set *s, uint32_t mark, const uint8_t *addr, size_t alen,
		    uint16_t port, const char *comment)
{
	size_t clen = strlen(comment), need = ELEM_HDR + 4 + alen + 2 + 1 + clen + 1;
	uint8_t *p;

	s->arena = realloc(s->arena, s->len + need);
	s->off = realloc(s->off, (s->n + 1) * sizeof(*s->off));
	assert_non_null(s->arena);
	assert_non_null(s->off);
	p = s->arena + s->len;
	p[0] = 4;
	p[1] = (uint8_t)(alen + 2);
	p[2] = 0;
	p[3] = 0;
	p[4] = (uint8_t)clen;
	p[5] = 0;
	memcpy(p + ELEM_HDR, &mark, 4); /* host order, as the layout writes marks */
	memcpy(p + ELEM_HDR + 4, addr, alen);
	port = htons(port);
	memcpy(p + ELEM_HDR + 4 + alen, &port, 2);
	p[ELEM_HDR + 4 + alen + 2] = '\0';
	memcpy(p + ELEM_HDR + 4 + alen + 3, comment, clen + 1);
	s->off[s->n++] = (uint32_t)s->len;
	s->len += need;
}

static int cmp_key(const void *x, const void *y, void *arena)
{
	return memcmp((const uint8_t *)arena + *(const uint32_t *)x + ELEM_HDR,
		      (const uint8_t *)arena + *(const uint32_t *)y + ELEM_HDR, 4);
}

/* Sorted by key, as every catalog is. */
static void set_sort(struct cat_set *s)
{
	if (s->n)
		qsort_r(s->off, s->n, sizeof(*s->off), cmp_key, s->arena);
}

static struct catalog *cat_new(void)
{
	struct catalog *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->present = true;
	return c;
}

static void cat_done(struct catalog *c)
{
	for (int i = 0; i < SET__COUNT; i++)
		set_sort(&c->sets[i]);
}

static void cat_drop(struct catalog *c)
{
	for (int i = 0; i < SET__COUNT; i++) {
		free(c->sets[i].arena);
		free(c->sets[i].off);
	}
	free(c);
}

static const uint8_t A4[] = { 10, 244, 1, 10 }, B4[] = { 10, 244, 1, 11 },
		     C4[] = { 10, 244, 1, 12 }, D4[] = { 10, 244, 1, 99 };
static const uint8_t A6[16] = { 0xfd, [15] = 0x10 }, B6[16] = { 0xfd, [15] = 0x11 };

static void v4(struct catalog *c, uint32_t mark, const uint8_t *a, uint16_t port,
	       const char *comment)
{
	set_add(&c->sets[SET_ENDPOINT4], mark, a, 4, port, comment);
}

static void v6(struct catalog *c, uint32_t mark, const uint8_t *a, uint16_t port)
{
	set_add(&c->sets[SET_ENDPOINT6], mark, a, 16, port, "");
}

static void assert_mark(const struct ct_mark *m, uint32_t mark, uint8_t family)
{
	assert_int_equal(m->mark, mark);
	assert_int_equal(m->family, family);
}

/* Removed, re-addressed (same mark, other address or port) and unchanged elements, in both
 * families; a comment is not what a flow is sent to. */
static void stale_marks_removed_and_changed(void **state)
{
	struct catalog *before = cat_new(), *after = cat_new();
	struct ct_mark *m = NULL;
	size_t n = 99;

	/* marks whose bytes sort otherwise than their values (the catalog sorts bytes) */
	v4(before, 0x00002001, A4, 7000, "");
	v4(before, 0x00001002, B4, 7000, "");  /* removed */
	v4(before, 0x00003001, C4, 7000, "a");  /* comment changes only */
	v4(before, 0x00000101, C4, 7000, "");  /* replaced at another address */
	v4(before, 0x00000102, C4, 7000, "");  /* moved to another port */
	v6(before, 0x00002001, A6, 7000);      /* the same mark in v6: removed */
	v6(before, 0x00001002, B6, 7000);      /* kept in v6 while removed in v4 */
	v4(after, 0x00002001, A4, 7000, "");
	v4(after, 0x00003001, C4, 7000, "b");
	v4(after, 0x00000101, D4, 7000, "");
	v4(after, 0x00000102, C4, 7001, "");
	v4(after, 0x00004001, A4, 7000, "");   /* added: no flow can carry it yet */
	v6(after, 0x00001002, B6, 7000);
	cat_done(before);
	cat_done(after);
	assert_int_equal(ct_stale_marks(before, after, &m, &n), 0);
	assert_int_equal(n, 4);
	assert_mark(&m[0], 0x00000101, AF_INET);
	assert_mark(&m[1], 0x00000102, AF_INET);
	assert_mark(&m[2], 0x00001002, AF_INET);
	assert_mark(&m[3], 0x00002001, AF_INET6);
	free(m);
	/* the other way round: only what after held and before did not, or held otherwise */
	assert_int_equal(ct_stale_marks(after, before, &m, &n), 0);
	assert_int_equal(n, 3);
	assert_mark(&m[0], 0x00000101, AF_INET);
	assert_mark(&m[1], 0x00000102, AF_INET);
	assert_mark(&m[2], 0x00004001, AF_INET);
	free(m);
	cat_drop(before);
	cat_drop(after);
}

static void stale_marks_none(void **state)
{
	struct catalog *a = cat_new(), *b = cat_new(), *empty = cat_new();
	struct ct_mark *m = (void *)1;
	size_t n = 99;

	v4(a, 0x1001, A4, 80, "");
	v6(a, 0x1001, A6, 80);
	v4(b, 0x1001, A4, 80, "");
	v6(b, 0x1001, A6, 80);
	cat_done(a);
	cat_done(b);
	assert_int_equal(ct_stale_marks(a, b, &m, &n), 0);
	assert_int_equal(n, 0);
	assert_null(m);
	/* an absent table before: nothing could carry a mark */
	assert_int_equal(ct_stale_marks(empty, a, &m, &n), 0);
	assert_int_equal(n, 0);
	/* every endpoint gone (the table deleted): every mark, each family */
	assert_int_equal(ct_stale_marks(a, empty, &m, &n), 0);
	assert_int_equal(n, 2);
	assert_mark(&m[0], 0x1001, AF_INET);
	assert_mark(&m[1], 0x1001, AF_INET6);
	free(m);
	cat_drop(a);
	cat_drop(b);
	cat_drop(empty);
}

/* ---- the fake kernel ---- */

static struct fake {
	int k;                   /* the kernel's end */
	struct nl_sock *nl;
} F = { .k = -1 };

struct dgram {
	uint8_t buf[8192] __attribute__((aligned(8)));
	size_t len;
};

static int setup(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(nl_open_fd(sv[0], PORTID, SEQ0, &F.nl), 0);
	F.k = sv[1];
	nl_set_timeout(F.nl, 200);
	return 0;
}

static int teardown(void **state)
{
	F.nl = nl_close(F.nl);
	close(F.k);
	F.k = -1;
	return 0;
}

struct flow {
	uint8_t family, proto;
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint32_t mark, id;
	int zone;                /* -1: none */
};

/* One conntrack entry of a dump, as the kernel sends it. */
static void put_entry(struct dgram *d, uint32_t seq, const struct flow *f)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct nf_conntrack *ct = nfct_new();
	struct nfgenmsg *nfg;

	assert_non_null(ct);
	nlh->nlmsg_type = CT_NEW;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = f->family;
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, f->family);
	if (f->family == AF_INET) {
		uint32_t a;

		memcpy(&a, f->src, 4);
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, a);
		memcpy(&a, f->dst, 4);
		nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, a);
	} else {
		nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, f->src);
		nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, f->dst);
	}
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, f->proto);
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(f->sport));
	nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(f->dport));
	nfct_set_attr_u32(ct, ATTR_MARK, f->mark);
	nfct_set_attr_u32(ct, ATTR_TIMEOUT, 100);
	if (f->zone >= 0)
		nfct_set_attr_u16(ct, ATTR_ZONE, (uint16_t)f->zone);
	assert_int_equal(nfct_nlmsg_build(nlh, ct), 0);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(f->id)); /* which nfct_nlmsg_build() never writes */
	nfct_destroy(ct);
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static struct nlmsghdr *put_hdr(struct dgram *d, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	return nlh;
}

static void put_done(struct dgram *d, uint32_t seq)
{
	struct nlmsghdr *nlh = put_hdr(d, NLMSG_DONE, NLM_F_MULTI, seq);
	int32_t zero = 0;

	memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(zero)), &zero, sizeof(zero));
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* An ACK (err 0) or an error reply to seq. */
static void put_ack(struct dgram *d, uint32_t seq, int err)
{
	struct nlmsghdr *nlh = put_hdr(d, NLMSG_ERROR, NLM_F_CAPPED, seq);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = err;
	e->msg.nlmsg_len = NLMSG_HDRLEN;
	e->msg.nlmsg_seq = seq;
	e->msg.nlmsg_pid = PORTID;
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void send_dgram(struct dgram *d)
{
	assert_int_equal(send(F.k, d->buf, d->len, 0), (ssize_t)d->len);
	d->len = 0;
}

/* The next message the nl_sock sent; false when none is queued. */
static bool sent(struct dgram *d)
{
	ssize_t n = recv(F.k, d->buf, sizeof(d->buf), MSG_DONTWAIT);

	if (n <= 0)
		return false;
	d->len = (size_t)n;
	return true;
}

struct req_attrs {
	bool mark, mask;
	uint32_t mark_v, mask_v;
};

static int req_cb(const struct nlattr *a, void *data)
{
	struct req_attrs *x = data;

	if (mnl_attr_get_type(a) == CTA_MARK) {
		x->mark = true;
		x->mark_v = ntohl(mnl_attr_get_u32(a));
	} else if (mnl_attr_get_type(a) == CTA_MARK_MASK) {
		x->mask = true;
		x->mask_v = ntohl(mnl_attr_get_u32(a));
	}
	return MNL_CB_OK;
}

/* The next request is a dump of mark (in family), or of everything (mark 0, AF_UNSPEC). */
static void assert_dump_sent(uint32_t seq, uint8_t family, uint32_t mark)
{
	struct dgram d;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)d.buf;
	const struct nfgenmsg *nfg;
	struct req_attrs x = { 0 };

	assert_true(sent(&d));
	assert_int_equal(nlh->nlmsg_type, CT_GET);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_seq, seq);
	nfg = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nfg->nfgen_family, family);
	mnl_attr_parse(nlh, sizeof(*nfg), req_cb, &x);
	assert_int_equal(x.mark, family != AF_UNSPEC);
	assert_int_equal(x.mask, family != AF_UNSPEC);
	if (family != AF_UNSPEC) {
		assert_int_equal(x.mark_v, mark);
		assert_int_equal(x.mask_v, 0xffffffff);
	}
}

/* The next request is the delete of exactly f: by original tuple, zone and id. */
static void assert_delete_sent(uint32_t seq, const struct flow *f)
{
	struct dgram d;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)d.buf;
	struct nf_conntrack *ct = nfct_new();

	assert_true(sent(&d));
	assert_int_equal(nlh->nlmsg_type, CT_DELETE);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(nlh->nlmsg_seq, seq);
	assert_int_equal(((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family,
			 f->family);
	assert_int_equal(nfct_nlmsg_parse(nlh, ct), 0);
	assert_int_equal(nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO), f->family);
	if (f->family == AF_INET) {
		assert_memory_equal(nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), f->src, 4);
		assert_memory_equal(nfct_get_attr(ct, ATTR_ORIG_IPV4_DST), f->dst, 4);
	} else {
		assert_memory_equal(nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), f->src, 16);
		assert_memory_equal(nfct_get_attr(ct, ATTR_ORIG_IPV6_DST), f->dst, 16);
	}
	assert_int_equal(nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO), IPPROTO_UDP);
	assert_int_equal(ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC)), f->sport);
	assert_int_equal(ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)), f->dport);
	assert_int_equal(nfct_get_attr_u32(ct, ATTR_ID), f->id);
	assert_int_equal(nfct_attr_is_set(ct, ATTR_ZONE) > 0, f->zone >= 0);
	if (f->zone >= 0)
		assert_int_equal(nfct_get_attr_u16(ct, ATTR_ZONE), f->zone);
	/* nothing else: no reply tuple, no mark, no status to change */
	assert_false(nfct_attr_is_set(ct, ATTR_REPL_L4PROTO) > 0);
	assert_false(nfct_attr_is_set(ct, ATTR_MARK) > 0);
	nfct_destroy(ct);
}

static void assert_nothing_more_sent(void)
{
	struct dgram d;

	assert_false(sent(&d));
}

static const uint8_t CL4[] = { 192, 0, 2, 7 }, GW4[] = { 198, 51, 100, 1 };
static const uint8_t CL6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 },
		     GW6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
#define MARK 0x00005003u

/* The UDP entry of the mark goes, by tuple, zone and id; the TCP entry of the same mark and
 * an entry of another mark (a kernel that ignored the filter) stay. */
static void udp_entry_of_the_mark_is_deleted(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	const struct flow udp = { AF_INET, IPPROTO_UDP, CL4, GW4, 40000, 5353, MARK, 77, 5 };
	const struct flow tcp = { AF_INET, IPPROTO_TCP, CL4, GW4, 40001, 5353, MARK, 78, -1 };
	const struct flow other = { AF_INET, IPPROTO_UDP, CL4, GW4, 40002, 5353, MARK + 1, 79, -1 };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	put_entry(&d, SEQ0, &tcp);
	put_entry(&d, SEQ0, &udp);
	put_entry(&d, SEQ0, &other);
	send_dgram(&d);
	put_done(&d, SEQ0);
	send_dgram(&d);
	put_ack(&d, SEQ0 + 1, 0);
	send_dgram(&d);
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), 0);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.kept, 1);
	assert_int_equal(res.gone, 0);
	assert_int_equal(res.dumps, 1);
	assert_int_equal(res.parts, 3);
	assert_dump_sent(SEQ0, AF_INET, MARK);
	assert_delete_sent(SEQ0 + 1, &udp);
	assert_nothing_more_sent();
}

/* A dump in several datagrams, in IPv6; a delete answered ENOENT (the entry timed out in
 * between, or its tuple was reused: the id no longer matches) is no failure. */
static void multi_part_dump(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET6 } };
	struct flow f[4];
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	for (int i = 0; i < 4; i++)
		f[i] = (struct flow){ AF_INET6, IPPROTO_UDP, CL6, GW6, (uint16_t)(50000 + i), 53,
				      MARK, (uint32_t)(100 + i), -1 };
	put_entry(&d, SEQ0, &f[0]);
	put_entry(&d, SEQ0, &f[1]);
	send_dgram(&d);
	put_entry(&d, SEQ0, &f[2]);
	put_entry(&d, SEQ0, &f[3]);
	send_dgram(&d);
	put_done(&d, SEQ0);
	send_dgram(&d);
	for (uint32_t i = 0; i < 4; i++) {
		put_ack(&d, SEQ0 + 1 + i, i == 2 ? -ENOENT : 0);
		send_dgram(&d);
	}
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), 0);
	assert_int_equal(res.deleted, 3);
	assert_int_equal(res.gone, 1);
	assert_int_equal(res.parts, 4);
	assert_dump_sent(SEQ0, AF_INET6, MARK);
	for (uint32_t i = 0; i < 4; i++)
		assert_delete_sent(SEQ0 + 1 + i, &f[i]);
	assert_nothing_more_sent();
}

/* One dump per mark up to CT_FILTERED_DUMPS_MAX; past it, one dump of everything, matched
 * against the list by mark and family. */
static void many_marks_one_unfiltered_dump(void **state)
{
	struct ct_mark marks[CT_FILTERED_DUMPS_MAX + 1];
	const struct flow hit = { AF_INET, IPPROTO_UDP, CL4, GW4, 1, 53, 0x1000 + 7, 9, -1 };
	const struct flow miss = { AF_INET, IPPROTO_UDP, CL4, GW4, 2, 53, 0x1000 + 900, 10, -1 };
	const struct flow family = { AF_INET6, IPPROTO_UDP, CL6, GW6, 3, 53, 0x1000 + 7, 11, -1 };
	const struct flow unmarked = { AF_INET, IPPROTO_UDP, CL4, GW4, 4, 53, 0, 12, -1 };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	for (uint32_t i = 0; i < CT_FILTERED_DUMPS_MAX + 1; i++)
		marks[i] = (struct ct_mark){ 0x1000 + i, AF_INET };
	put_entry(&d, SEQ0, &unmarked);
	put_entry(&d, SEQ0, &miss);
	put_entry(&d, SEQ0, &family);
	put_entry(&d, SEQ0, &hit);
	put_done(&d, SEQ0);
	send_dgram(&d);
	put_ack(&d, SEQ0 + 1, 0);
	send_dgram(&d);
	assert_int_equal(ct_forget_udp(F.nl, marks, CT_FILTERED_DUMPS_MAX + 1, &res, &e), 0);
	assert_int_equal(res.dumps, 1);
	assert_int_equal(res.parts, 4);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.kept, 0);
	assert_dump_sent(SEQ0, AF_UNSPEC, 0);
	assert_delete_sent(SEQ0 + 1, &hit);
	assert_nothing_more_sent();
}

static void filtered_dump_per_mark(void **state)
{
	const struct ct_mark marks[] = { { 0x2001, AF_INET }, { 0x2001, AF_INET6 },
					 { 0x3001, AF_INET } };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	for (uint32_t i = 0; i < 3; i++) {
		put_done(&d, SEQ0 + i);
		send_dgram(&d);
	}
	assert_int_equal(ct_forget_udp(F.nl, marks, 3, &res, &e), 0);
	assert_int_equal(res.dumps, 3);
	assert_int_equal(res.deleted, 0);
	assert_dump_sent(SEQ0, AF_INET, 0x2001);
	assert_dump_sent(SEQ0 + 1, AF_INET6, 0x2001);
	assert_dump_sent(SEQ0 + 2, AF_INET, 0x3001);
	assert_nothing_more_sent();
	/* nothing stale: nothing asked */
	assert_int_equal(ct_forget_udp(F.nl, marks, 0, &res, &e), 0);
	assert_int_equal(res.dumps, 0);
	assert_nothing_more_sent();
}

/* An entry whose mark attribute has the wrong size: -EBADMSG, nothing deleted (and no
 * exit(), which libnetfilter_conntrack's own parser would do). */
static void malformed_entry_is_ebadmsg(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	const struct flow udp = { AF_INET, IPPROTO_UDP, CL4, GW4, 40000, 5353, MARK, 77, -1 };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };
	struct nlmsghdr *nlh = put_hdr(&d, CT_NEW, NLM_F_MULTI, SEQ0);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));

	nfg->nfgen_family = AF_INET;
	mnl_attr_put_u16(nlh, CTA_MARK, 1);
	d.len += NLMSG_ALIGN(nlh->nlmsg_len);
	put_entry(&d, SEQ0, &udp);
	put_done(&d, SEQ0);
	send_dgram(&d);
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "mark 0x00005003 (ipv4)"));
	assert_int_equal(res.deleted, 0);
	assert_dump_sent(SEQ0, AF_INET, MARK);
	assert_nothing_more_sent();
}

/* A UDP entry without its id cannot be deleted exactly: refused, not deleted by tuple. */
static void entry_without_id_is_ebadmsg(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	struct dgram d = { .len = 0 };
	struct nlmsghdr *nlh = put_hdr(&d, CT_NEW, NLM_F_MULTI, SEQ0);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	struct nlattr *t, *ip, *proto;
	uint8_t out[CT_DELETE_MAX];
	size_t len = 0;
	int kept = 9;

	nfg->nfgen_family = AF_INET;
	t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, CL4);
	mnl_attr_put(nlh, CTA_IP_V4_DST, 4, GW4);
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_UDP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(1));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(2));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, t);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(MARK));
	assert_int_equal(ct_match_entry(nlh, marks, 1, out, sizeof(out), &len, &kept), -EBADMSG);
	assert_int_equal(kept, 0);
	/* with it, the delete */
	mnl_attr_put_u32(nlh, CTA_ID, htonl(5));
	assert_int_equal(ct_match_entry(nlh, marks, 1, out, sizeof(out), &len, &kept), 1);
	assert_true(len > NLMSG_HDRLEN);
	/* an IPv6 address in an IPv4 entry */
	nfg->nfgen_family = AF_INET6;
	assert_int_equal(ct_match_entry(nlh, marks, 1, out, sizeof(out), &len, &kept), -EBADMSG);
}

/* The kernel refuses the dump (no CAP_NET_ADMIN): its errno, and what was asked. */
static void error_reply(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET }, { MARK + 1, AF_INET } };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	put_ack(&d, SEQ0, -EPERM);
	send_dgram(&d);
	assert_int_equal(ct_forget_udp(F.nl, marks, 2, &res, &e), -EPERM);
	assert_non_null(strstr(e.msg, "dumping the conntrack entries of mark 0x00005003"));
	assert_int_equal(res.dumps, 1);
	assert_dump_sent(SEQ0, AF_INET, MARK);
	assert_nothing_more_sent();
}

/* A refused delete (other than ENOENT) ends the call, counting what was deleted. */
static void refused_delete(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	const struct flow a = { AF_INET, IPPROTO_UDP, CL4, GW4, 1, 53, MARK, 1, -1 };
	const struct flow b = { AF_INET, IPPROTO_UDP, CL4, GW4, 2, 53, MARK, 2, -1 };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	put_entry(&d, SEQ0, &a);
	put_entry(&d, SEQ0, &b);
	put_done(&d, SEQ0);
	send_dgram(&d);
	put_ack(&d, SEQ0 + 1, 0);
	send_dgram(&d);
	put_ack(&d, SEQ0 + 2, -EPERM);
	send_dgram(&d);
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), -EPERM);
	assert_int_equal(res.deleted, 1);
	assert_non_null(strstr(e.msg, "deleting a UDP conntrack entry"));
	assert_non_null(strstr(e.msg, "1 of 2 deleted"));
}

/* No answer at all: the dump ends at the socket's bound, nothing is deleted. */
static void lost_reply_is_bounded(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	struct nft_error e = { 0 };
	struct ct_result res;

	nl_set_timeout(F.nl, 20);
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), -ETIMEDOUT);
	assert_non_null(strstr(e.msg, "mark 0x00005003"));
	assert_dump_sent(SEQ0, AF_INET, MARK);
	assert_nothing_more_sent();
}

/* A dump cut short by the end of the socket: the entries read so far are not deleted. */
static void dump_without_end(void **state)
{
	const struct ct_mark marks[] = { { MARK, AF_INET } };
	const struct flow a = { AF_INET, IPPROTO_UDP, CL4, GW4, 1, 53, MARK, 1, -1 };
	struct nft_error e = { 0 };
	struct ct_result res;
	struct dgram d = { .len = 0 };

	put_entry(&d, SEQ0, &a);
	send_dgram(&d);
	shutdown(F.k, SHUT_WR);
	assert_int_equal(ct_forget_udp(F.nl, marks, 1, &res, &e), -ECONNRESET);
	assert_int_equal(res.deleted, 0);
	assert_dump_sent(SEQ0, AF_INET, MARK);
	assert_nothing_more_sent();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stale_marks_removed_and_changed),
		cmocka_unit_test(stale_marks_none),
		T(udp_entry_of_the_mark_is_deleted),
		T(multi_part_dump),
		T(many_marks_one_unfiltered_dump),
		T(filtered_dump_per_mark),
		T(malformed_entry_is_ebadmsg),
		cmocka_unit_test(entry_without_id_is_ebadmsg),
		T(error_reply),
		T(refused_delete),
		T(lost_reply_is_bounded),
		T(dump_without_end),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
