/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/gen.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nft/netlink.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Big enough for one dump part and for a burst of capped error replies. */
#define RECV_BUF (128 * 1024)
/* Kernel memory per queued reply (skb truesize, not payload), as nft assumes. */
#define REPLY_TRUESIZE 1024

struct nl_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	size_t sndbuf, rcvbuf;
	char *buf;
};

int nl_open(struct nl_sock **ret, struct nft_error *e)
{
	struct nl_sock *s = calloc(1, sizeof(*s));
	int one = 1, r;

	if (!s || !(s->buf = malloc(RECV_BUF))) {
		r = nft_error_set(e, -ENOMEM, "out of memory");
		goto fail;
	}
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl) {
		r = nft_error_set(e, -errno, "opening a netlink socket to nf_tables: %s",
				  strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = nft_error_set(e, -errno, "binding the netlink socket: %s", strerror(errno));
		goto fail;
	}
	/* Best effort: without them errors are only less precise (no offset, whole echo). */
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	*ret = s;
	return 0;
fail:
	nl_close(s);
	return r;
}

struct nl_sock *nl_close(struct nl_sock *s)
{
	if (!s)
		return NULL;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	free(s);
	return NULL;
}

uint32_t nl_seq_reserve(struct nl_sock *s, uint32_t n)
{
	uint32_t base = s->seq;

	s->seq += n;
	return base;
}

static int recv_some(struct nl_sock *s, int flags, ssize_t *ret_n)
{
	ssize_t n = recv(mnl_socket_get_fd(s->nl), s->buf, RECV_BUF, flags);

	if (n < 0)
		return -errno;
	*ret_n = n;
	return 0;
}

struct req_state {
	nl_msg_cb cb;
	void *data;
	int err;
};

static int req_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct req_state *st = data;
	int r;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
		st->err = -EINTR;
		return MNL_CB_ERROR;
	}
	if (!st->cb)
		return MNL_CB_OK;
	r = st->cb(nlh, st->data);
	if (r < 0) {
		st->err = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int nl_request(struct nl_sock *s, const struct nlmsghdr *req, nl_msg_cb cb, void *data)
{
	struct req_state st = { cb, data, 0 };
	int r;

	if (mnl_socket_sendto(s->nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = 0;

		r = recv_some(s, 0, &n);
		if (r < 0)
			return r;
		r = mnl_cb_run(s->buf, (size_t)n, req->nlmsg_seq, s->portid, req_data_cb, &st);
		if (r == MNL_CB_STOP)
			return 0;
		if (r == MNL_CB_ERROR || r < 0)
			return st.err ? st.err : -errno;
		/* a non-dump request ends with its ACK, which libmnl reports as STOP */
	}
}

struct gen_state {
	uint32_t genid;
	bool got;
};

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gen_state *g = data;
	struct nftnl_gen *gen = nftnl_gen_alloc();

	if (!gen)
		return -ENOMEM;
	if (nftnl_gen_nlmsg_parse(nlh, gen) == 0) {
		g->genid = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
		g->got = true;
	}
	nftnl_gen_free(gen);
	return 0;
}

int nl_getgen(struct nl_sock *s, uint32_t *ret_genid, struct nft_error *e)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct gen_state g = { 0 };
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int r;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = nl_seq_reserve(s, 1);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	r = nl_request(s, nlh, gen_cb, &g);
	if (r >= 0 && !g.got)
		r = -EPROTO;
	if (r < 0)
		return nft_error_set(e, r, "reading the ruleset generation: %s%s", strerror(-r),
				     r == -EPERM ? " (nftgate needs CAP_NET_ADMIN; run it as root)" :
						   "");
	*ret_genid = g.genid;
	return 0;
}

static int read_boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if (n < 36)
		return -EPROTO;
	buf[36] = '\0';
	return 0;
}

int nl_netns_id(struct nl_sock *s, struct nl_netns_id *ret)
{
	struct nl_netns_id id = { 0 };
	socklen_t len = sizeof(id.cookie);
	int r;

	if (getsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_NETNS_COOKIE, &id.cookie,
		       &len) < 0)
		return -errno;
	if (len != sizeof(id.cookie))
		return -EPROTO;
	r = read_boot_id(id.boot, sizeof(id.boot));
	if (r < 0)
		return r;
	*ret = id;
	return 0;
}

/* ---- batches ---- */

struct ext_ack {
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
};

static int ext_attr_cb(const struct nlattr *attr, void *data)
{
	struct ext_ack *x = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= NLMSGERR_ATTR_MAX)
		x->tb[type] = attr;
	return MNL_CB_OK;
}

static void record_error(struct nl_acks *acks, const struct nlmsghdr *nlh,
			 const struct nlmsgerr *err)
{
	struct ext_ack x = { 0 };
	struct nl_reply_err *re;
	unsigned hlen = sizeof(*err);

	acks->n_errors++;
	if (acks->n >= NL_ACKS_KEEP)
		return;
	re = &acks->v[acks->n++];
	memset(re, 0, sizeof(*re));
	re->seq = nlh->nlmsg_seq;
	re->err = err->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += mnl_nlmsg_get_payload_len(&err->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    mnl_nlmsg_get_payload_len(nlh) >= hlen &&
	    mnl_attr_parse(nlh, hlen, ext_attr_cb, &x) >= 0) {
		if (x.tb[NLMSGERR_ATTR_OFFS] &&
		    mnl_attr_get_payload_len(x.tb[NLMSGERR_ATTR_OFFS]) >= 4) {
			re->has_offset = true;
			re->offset = mnl_attr_get_u32(x.tb[NLMSGERR_ATTR_OFFS]);
		}
		if (x.tb[NLMSGERR_ATTR_MSG])
			snprintf(re->msg, sizeof(re->msg), "%.*s",
				 (int)mnl_attr_get_payload_len(x.tb[NLMSGERR_ATTR_MSG]),
				 (const char *)mnl_attr_get_payload(x.tb[NLMSGERR_ATTR_MSG]));
	}
}

int nl_parse_replies(const void *buf, size_t len, uint32_t seq_end, struct nl_acks *acks)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len;

	if (!acks->v) {
		acks->v = calloc(NL_ACKS_KEEP, sizeof(*acks->v));
		if (!acks->v)
			return -ENOMEM;
	}
	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		const struct nlmsgerr *err;

		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
			return -EPROTO;
		err = mnl_nlmsg_get_payload(nlh);
		if (err->error == 0) {
			acks->n_acks++;
			if (nlh->nlmsg_seq == seq_end)
				acks->end_acked = true;
			continue;
		}
		record_error(acks, nlh, err);
	}
	return 0;
}

void nl_acks_clear(struct nl_acks *acks)
{
	free(acks->v);
	memset(acks, 0, sizeof(*acks));
}

/* A batch is one skb: the socket must accept all of it at once (else EMSGSIZE), and the
 * replies queued during sendmsg() must fit, or they are dropped (ENOBUFS). FORCE needs
 * CAP_NET_ADMIN, which the batch needs anyway; fall back to the unforced option. */
static void size_buffers(struct nl_sock *s, size_t bytes, size_t n_msgs)
{
	int fd = mnl_socket_get_fd(s->nl);
	size_t want_snd = bytes + 65536, want_rcv = n_msgs * REPLY_TRUESIZE + 1024 * 1024;
	int v;

	if (want_snd > s->sndbuf) {
		v = want_snd > INT32_MAX ? INT32_MAX : (int)want_snd;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		s->sndbuf = want_snd;
	}
	if (want_rcv > s->rcvbuf) {
		v = want_rcv > INT32_MAX ? INT32_MAX : (int)want_rcv;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		s->rcvbuf = want_rcv;
	}
}

int nl_request_each(struct nl_sock *s, const void *buf, size_t len, size_t n, nl_msg_cb cb,
		    void *data)
{
	uint32_t first = ((const struct nlmsghdr *)buf)->nlmsg_seq;
	size_t answered = 0;
	int err = 0, r;

	size_buffers(s, len, n);
	if (mnl_socket_sendto(s->nl, buf, len) < 0)
		return -errno;
	/* nfnetlink answered every request inside the send: all replies are queued (or were
	 * dropped, which the socket reports once as ENOBUFS). Reading without blocking drains
	 * the queue whatever happens, so no stray reply is left for the next request. */
	for (;;) {
		const struct nlmsghdr *nlh;
		ssize_t got = 0;
		int left;

		r = recv_some(s, MSG_DONTWAIT, &got);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			break;
		if (r < 0) {
			if (!err)
				err = r;
			continue;
		}
		nlh = (const void *)s->buf;
		left = (int)got;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq - first >= n)
				continue; /* not ours: a late answer to an earlier request */
			answered++;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
					r = -EPROTO;
				else
					r = e->error;
			} else {
				r = cb && !err ? cb(nlh, data) : 0;
			}
			if (r < 0 && !err)
				err = r;
		}
	}
	if (!err && answered != n)
		err = -ENOBUFS;
	return err;
}

int nl_send_batch(struct nl_sock *s, struct nftnl_batch *b, size_t n_msgs, uint32_t seq_end,
		  struct nl_acks *acks, struct nft_error *e)
{
	int n_iov = nftnl_batch_iovec_len(b);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct iovec *iov = calloc((size_t)n_iov, sizeof(*iov));
	struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl) };
	size_t bytes = 0;
	int r;

	if (!iov)
		return nft_error_set(e, -ENOMEM, "out of memory");
	nftnl_batch_iovec(b, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		bytes += iov[i].iov_len;
	size_buffers(s, bytes, n_msgs);
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)n_iov;
	if (sendmsg(mnl_socket_get_fd(s->nl), &msg, 0) < 0) {
		r = nft_error_set(e, -errno, "sending the batch (%zu messages, %zu bytes): %s",
				  n_msgs, bytes, strerror(errno));
		goto out;
	}
	/* nfnetlink processed the batch inside sendmsg(): every reply is already queued. */
	for (;;) {
		ssize_t n = 0;

		r = recv_some(s, MSG_DONTWAIT, &n);
		if (r == -EAGAIN || r == -EWOULDBLOCK)
			break;
		if (r == -ENOBUFS) {
			acks->lost = true;
			continue;
		}
		if (r < 0) {
			nft_error_set(e, r, "reading the batch replies: %s", strerror(-r));
			goto out;
		}
		r = nl_parse_replies(s->buf, (size_t)n, seq_end, acks);
		if (r < 0) {
			nft_error_set(e, r, "parsing the batch replies: %s", strerror(-r));
			goto out;
		}
	}
	r = 0;
out:
	free(iov);
	return r;
}
