/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> the kernel's conntrack dump replies, as ct_forget_udp() reads them.
 * Input: one byte choosing the reader, the first sequence number and the port id (u32,
 * little-endian), a count of stale marks (u8) and each mark (u32 little-endian, then a
 * byte: odd = ipv6), then datagrams, each a u16 little-endian length and its bytes:
 *   0  ct_match_entry() of every message of every datagram;
 *   1  ct_forget_udp() over a socketpair that stands in for the kernel (nl_open_fd()), the
 *      datagrams queued before it runs, which then stops sending: every read ends without
 *      waiting, every delete it sends is checked to be a delete by original tuple.
 * Seeds are replies of a real kernel (tests/fuzz/corpus-conntrack/, recorded with
 * tests/fuzz/ct_seeds_from_strace.py).
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "nft/conntrack.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

struct input {
	const uint8_t *p;
	size_t left;
};

static uint32_t get_u32(struct input *in)
{
	uint32_t v = 0;

	for (int i = 0; i < 4 && in->left; i++, in->p++, in->left--)
		v |= (uint32_t)*in->p << (8 * i);
	return v;
}

static uint8_t get_u8(struct input *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = *in->p++;
		in->left--;
	}
	return v;
}

static int next_dgram(struct input *in, const uint8_t **ret, size_t *len)
{
	size_t n;

	if (in->left < 2)
		return 0;
	n = (size_t)in->p[0] | (size_t)in->p[1] << 8;
	in->p += 2;
	in->left -= 2;
	if (n > in->left)
		n = in->left;
	*ret = in->p;
	*len = n;
	in->p += n;
	in->left -= n;
	return 1;
}

static int cmp_mark(const void *x, const void *y)
{
	const struct ct_mark *a = x, *b = y;

	if (a->mark != b->mark)
		return a->mark < b->mark ? -1 : 1;
	return (a->family > b->family) - (a->family < b->family);
}

/* Sorted and unique, as ct_stale_marks() gives them. */
static size_t get_marks(struct input *in, struct ct_mark *v)
{
	size_t n = get_u8(in), k = 0;

	for (size_t i = 0; i < n; i++) {
		v[i].mark = get_u32(in);
		v[i].family = get_u8(in) & 1 ? AF_INET6 : AF_INET;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_mark);
	for (size_t i = 0; i < n; i++)
		if (!k || cmp_mark(&v[k - 1], &v[i]))
			v[k++] = v[i];
	return k;
}

/* A delete must name its entry: one without a tuple would flush the family, one without
 * the id hit whatever entry holds the tuple. */
static int orig_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
		*(int *)data |= 1;
	if (mnl_attr_get_type(a) == CTA_ID)
		*(int *)data |= 2;
	return MNL_CB_OK;
}

static void check_delete(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int orig = 0;

	if (len < NLMSG_HDRLEN || nlh->nlmsg_len != len ||
	    nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE))
		abort();
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), orig_cb, &orig);
	if (orig != 3)
		abort();
}

static void parse_only(struct input *in, const struct ct_mark *marks, size_t n)
{
	const uint8_t *d;
	size_t len;

	while (next_dgram(in, &d, &len)) {
		uint8_t *copy = fuzz_copy(d, len);
		size_t off = 0;

		if (!copy)
			break;
		/* each message within the datagram, as nl_request() hands them on */
		while (off < len && len - off >= NLMSG_HDRLEN) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)(copy + off);
			uint8_t out[CT_DELETE_MAX] __attribute__((aligned(8)));
			size_t out_len = 0;
			int kept;

			if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - off)
				break;
			if (ct_match_entry(nlh, marks, n, out, sizeof(out), &out_len, &kept) == 1)
				check_delete(out, out_len);
			off += NLMSG_ALIGN(nlh->nlmsg_len);
		}
		free(copy);
	}
}

/* The deletes ct_forget_udp() sent, read back from the fake kernel's end. */
static void check_sent(int k)
{
	uint8_t buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = recv(k, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;

		if (nlh->nlmsg_type == ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE))
			check_delete(buf, (size_t)n);
	}
}

static void over_socket(struct input *in, uint32_t first_seq, uint32_t portid,
			const struct ct_mark *marks, size_t n)
{
	struct nft_error e = { 0 };
	struct ct_result res;
	struct nl_sock *nl = NULL;
	const uint8_t *d;
	size_t len;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return;
	while (next_dgram(in, &d, &len))
		if (write(sv[1], d, len) < 0)
			break;
	shutdown(sv[1], SHUT_WR);
	if (nl_open_fd(sv[0], portid, first_seq, &nl) < 0) {
		close(sv[1]);
		return;
	}
	ct_forget_udp(nl, marks, n, &res, &e);
	check_sent(sv[1]);
	nl_close(nl);
	close(sv[1]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct ct_mark marks[256];
	uint32_t first_seq, portid;
	size_t n;
	int mode;

	if (!size)
		return 0;
	mode = get_u8(&in) % 2;
	first_seq = get_u32(&in);
	portid = get_u32(&in);
	n = get_marks(&in, marks);
	if (mode == 0)
		parse_only(&in, marks, n);
	else
		over_socket(&in, first_seq, portid, marks, n);
	return 0;
}
