/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> the kernel's netlink replies, as nftgate reads them. Input: one byte
 * choosing the reader, the first sequence number and the port id (u32, little-endian), then
 * datagrams, each a u16 little-endian length and its bytes:
 *   0  nl_parse_replies() of every datagram into one set of ACKs, then batch_outcome();
 *   1  snapshot_take(): GETGEN, the dumps of table inet nftgate, GETGEN; then what rollback
 *      does with the snapshot short of the kernel (fuzz_use_snapshot());
 *   2  nl_send_batch() of a small batch, then batch_outcome();
 *   3  probe_kernel(): the feature probe's batch and its verdict;
 *   4  nl_request_each() of three GETOBJ requests, the replies kept as a snapshot (as
 *      snapshot_take_from_record() keeps them), then fuzz_use_snapshot().
 * For 1 to 4 the datagrams are queued on a socketpair that stands in for the kernel
 * (nl_open_fd()), which then stops sending, so that every read ends without waiting. Seeds
 * are replies of a real kernel (tests/fuzz/corpus-netlink/, docs/testing.md).
 */
#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nft/probe.h"
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

/* The next datagram: 1 with *ret and *len, 0 at the end of the input. */
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

static void parse_only(struct input *in, struct nft_batch *nb)
{
	struct nl_acks acks = { 0 };
	struct nft_error e = { 0 };
	const uint8_t *d;
	size_t len;

	while (next_dgram(in, &d, &len)) {
		uint8_t *copy = fuzz_copy(d, len);

		if (!copy)
			break;
		nl_parse_replies(copy, len, nb->seq_base + (uint32_t)nb->n - 1, &acks);
		free(copy);
	}
	batch_outcome(nb, &acks, &e);
	nl_acks_clear(&acks);
}

/* A socketpair with the datagrams queued for the nl_sock's end, whose peer then shuts
 * down its sending side: reads get end of file once the queue is empty, and sends (which
 * fail rather than block once the peer's queue is full) still go through. */
static struct nl_sock *fake_kernel(struct input *in, uint32_t first_seq, uint32_t portid,
				   int *ret_k)
{
	struct nl_sock *nl = NULL;
	const uint8_t *d;
	size_t len;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return NULL;
	while (next_dgram(in, &d, &len))
		if (write(sv[1], d, len) < 0)
			break; /* the queue is full: the rest is dropped */
	shutdown(sv[1], SHUT_WR);
	if (nl_open_fd(sv[0], portid, first_seq, &nl) < 0) {
		close(sv[1]);
		return NULL;
	}
	*ret_k = sv[1];
	return nl;
}

/* As snapshot_take_from_record() keeps them: stored as they came, checked later. */
static int keep_cb(const struct nlmsghdr *nlh, void *data)
{
	return snapshot_add_msg(data, nlh);
}

static void request_each(struct nl_sock *nl)
{
	static const char *const names[] = { "a", "b", "c" };
	char buf[3 * 256] __attribute__((aligned(8)));
	struct snapshot *s = snapshot_new("nftgate", false);
	size_t len = 0;

	if (!s)
		return;
	for (size_t i = 0; i < 3; i++) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf + len, NFT_MSG_GETOBJ,
							     NFPROTO_INET, 0,
							     nl_seq_reserve(nl, 1));

		mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, "nftgate");
		mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, names[i]);
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
		len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	if (nl_request_each(nl, buf, len, 3, keep_cb, s) == 0)
		fuzz_use_snapshot(s);
	snapshot_free(s);
}

static void over_socket(int mode, struct input *in, uint32_t first_seq, uint32_t portid,
			struct nft_batch *nb)
{
	struct nft_error e = { 0 };
	struct nl_acks acks = { 0 };
	struct snapshot *s = NULL;
	struct nl_sock *nl;
	uint32_t genid;
	int k = -1, r;

	nl = fake_kernel(in, first_seq, portid, &k);
	if (!nl)
		return;
	switch (mode) {
	case 1:
		if (snapshot_take(nl, "nftgate", &s, &genid, &e) == 0) {
			fuzz_use_snapshot(s);
			snapshot_free(s);
		}
		break;
	case 2:
		r = nl_send_batch(nl, nb->b, nb->n, nb->seq_base + (uint32_t)nb->n - 1, &acks, &e);
		if (r == 0 || r == NL_SENT_UNKNOWN)
			batch_outcome(nb, &acks, &e);
		nl_acks_clear(&acks);
		break;
	case 3:
		probe_kernel(nl, &e);
		break;
	default:
		request_each(nl);
		break;
	}
	nl_close(nl);
	close(k);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	signal(SIGPIPE, SIG_IGN); /* a send after the fake kernel is gone fails with EPIPE */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct nft_batch *nb = NULL;
	uint32_t first_seq, portid, genid = 7;
	int mode;

	if (!size)
		return 0;
	mode = in.p[0] % 5;
	in.p++;
	in.left--;
	first_seq = get_u32(&in);
	portid = get_u32(&in);
	if (mode == 0 || mode == 2) {
		if (batch_start("nftgate", first_seq, &genid, &nb) < 0)
			return 0;
		if (batch_add_delete_table(nb) < 0 || batch_finish(nb) < 0) {
			batch_free(nb);
			return 0;
		}
	}
	if (mode == 0)
		parse_only(&in, nb);
	else
		over_socket(mode, &in, first_seq, portid, nb);
	batch_free(nb);
	return 0;
}
