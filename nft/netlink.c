/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
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

/* Big enough for one dump part (the kernel makes them at most 32 KiB) and for a burst of
 * capped error replies. */
#define RECV_BUF (128 * 1024)
/* Kernel memory per queued reply (skb truesize, not payload), as nft assumes. */
#define REPLY_TRUESIZE 1024
/* The kernel's largest errno (MAX_ERRNO): any other value in an error reply is malformed. */
#define KERNEL_MAX_ERRNO 4095

struct nl_sock {
	struct mnl_socket *mnl;  /* NULL when built over a given fd */
	int fd;
	uint32_t portid;
	uint32_t seq;
	int timeout_ms;
	bool dirty;              /* a call ended mid-conversation: drain before the next one */
	size_t sndbuf, rcvbuf;
	char *buf;
};

static struct nl_sock *sock_new(void)
{
	struct nl_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->buf = malloc(RECV_BUF + 1);
	if (!s->buf) {
		free(s);
		return NULL;
	}
	s->fd = -1;
	s->timeout_ms = NL_TIMEOUT_MS;
	return s;
}

int nl_open(struct nl_sock **ret, struct nft_error *e)
{
	struct nl_sock *s = sock_new();
	int one = 1, r;

	if (!s)
		return nft_error_set(e, -ENOMEM, "out of memory");
	s->mnl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->mnl) {
		r = nft_error_set(e, -errno, "opening a netlink socket to nf_tables: %s",
				  strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(s->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = nft_error_set(e, -errno, "binding the netlink socket: %s", strerror(errno));
		goto fail;
	}
	s->fd = mnl_socket_get_fd(s->mnl);
	/* Best effort: without them errors are only less precise (no offset, whole echo). */
	setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->mnl);
	s->seq = (uint32_t)time(NULL);
	*ret = s;
	return 0;
fail:
	nl_close(s);
	return r;
}

int nl_open_fd(int fd, uint32_t portid, uint32_t first_seq, struct nl_sock **ret)
{
	struct nl_sock *s = sock_new();

	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->portid = portid;
	s->seq = first_seq;
	*ret = s;
	return 0;
}

struct nl_sock *nl_close(struct nl_sock *s)
{
	if (!s)
		return NULL;
	if (s->mnl)
		mnl_socket_close(s->mnl);
	else if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
	free(s);
	return NULL;
}

void nl_set_timeout(struct nl_sock *s, int ms)
{
	s->timeout_ms = ms > 0 ? ms : 1;
}

uint32_t nl_seq_reserve(struct nl_sock *s, uint32_t n)
{
	uint32_t base = s->seq;

	if (!n)
		n = 1;
	/* [base, base + n - 1] must not hold 0: restart at 1 rather than run through it */
	if (!base || (uint32_t)(base + n - 1) < base)
		base = 1;
	s->seq = base + n;
	return base;
}

/* ---- receiving, bounded ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(const struct nl_sock *s)
{
	return now_ms() + s->timeout_ms;
}

/* Waits until a datagram is queued: 0, -ETIMEDOUT at the deadline, or poll()'s -errno. */
static int wait_readable(const struct nl_sock *s, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return p.revents & POLLNVAL ? -EBADF : 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* One datagram into s->buf, followed by a NUL: callbacks read string attributes with
 * strcmp() and libnftnl with strdup(), so an unterminated one must stop inside the buffer.
 * Returns its length (> 0), or -EAGAIN (nothing queued, and !wait),
 * -ETIMEDOUT, -ENOBUFS (the kernel dropped replies; the queue goes on after it),
 * -EBADMSG (the datagram did not fit: truncated), -ECONNRESET (end of file), or
 * recvmsg()'s -errno. Only a signal is retried, and only until the deadline. */
static ssize_t recv_one(struct nl_sock *s, int64_t deadline, bool wait)
{
	for (;;) {
		struct iovec iov = { .iov_base = s->buf, .iov_len = RECV_BUF };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(s->fd, &m, MSG_DONTWAIT);
		int r;

		if (n > 0) {
			s->buf[n] = '\0';
			return m.msg_flags & MSG_TRUNC ? -EBADMSG : n;
		}
		if (n == 0)
			return -ECONNRESET;
		r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (r != -EAGAIN && r != -EINTR)
			return r;
		if (r == -EAGAIN && !wait)
			return -EAGAIN;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		if (r == -EAGAIN) {
			r = wait_readable(s, deadline);
			if (r < 0)
				return r;
		}
	}
}

/* Reads and drops whatever is queued; reading is also what makes the kernel produce the
 * rest of an abandoned dump, which this therefore consumes. 0 once the queue is empty
 * (the socket is clean), else the receive error that stopped it. */
static int drain(struct nl_sock *s, int64_t deadline)
{
	for (;;) {
		ssize_t n = recv_one(s, deadline, false);

		if (n == -EAGAIN) {
			s->dirty = false;
			return 0;
		}
		if (n < 0 && n != -ENOBUFS && n != -EBADMSG)
			return (int)n;
	}
}

static int resync(struct nl_sock *s, int64_t deadline)
{
	return s->dirty ? drain(s, deadline) : 0;
}

/* One datagram to the kernel (the address is ignored by a connected test socket). */
static int send_iov(struct nl_sock *s, struct iovec *iov, size_t n_iov, int64_t deadline)
{
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr m = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			    .msg_iovlen = n_iov };

	while (sendmsg(s->fd, &m, 0) < 0) {
		if (errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
	}
	return 0;
}

/* The next message of a datagram: 1 and *ret, 0 at its end, or -EBADMSG when what is left
 * is not a whole message. The last message may lack its alignment padding. */
static int next_msg(const uint8_t **p, size_t *left, const struct nlmsghdr **ret)
{
	const struct nlmsghdr *nlh = (const void *)*p;
	size_t step;

	if (!*left)
		return 0;
	if (*left < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > *left)
		return -EBADMSG;
	step = ((size_t)nlh->nlmsg_len + NLMSG_ALIGNTO - 1) & ~(size_t)(NLMSG_ALIGNTO - 1);
	if (step > *left)
		step = *left;
	*p += step;
	*left -= step;
	*ret = nlh;
	return 1;
}

/* The error of an NLMSG_ERROR message into *ret (0: an ACK), or -EBADMSG. */
static int msg_error(const struct nlmsghdr *nlh, int *ret)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)) || err->error > 0 ||
	    err->error < -KERNEL_MAX_ERRNO)
		return -EBADMSG;
	*ret = err->error;
	return 0;
}

/* The error an NLMSG_DONE carries (the dump's own, since 4.x; absent before), or -EBADMSG. */
static int done_error(const struct nlmsghdr *nlh, int *ret)
{
	int v = 0;

	if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(v)))
		memcpy(&v, NLMSG_DATA(nlh), sizeof(v));
	if (v > 0 || v < -KERNEL_MAX_ERRNO)
		return -EBADMSG;
	*ret = v;
	return 0;
}

/* ---- requests ---- */

struct conv {
	uint32_t seq;
	bool dump, ack;
	nl_msg_cb cb;
	void *data;
	int err;                 /* the first failure: the kernel's, cb's, or -EINTR */
	bool done;               /* the reply's last message was read */
};

/* One datagram of the reply to a request. 0 or -EBADMSG. */
static int conv_take(const struct nl_sock *s, struct conv *c, size_t len)
{
	const uint8_t *p = (const uint8_t *)s->buf;
	const struct nlmsghdr *nlh;
	int r = 0;

	while (!c->done && (r = next_msg(&p, &len, &nlh)) > 0) {
		int v = 0;

		if (nlh->nlmsg_seq != c->seq || nlh->nlmsg_pid != s->portid)
			continue; /* not ours: a late answer to an earlier call */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR && !c->err)
			c->err = -EINTR;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if (msg_error(nlh, &v) < 0)
				return -EBADMSG;
			c->done = true;
		} else if (nlh->nlmsg_type == NLMSG_DONE) {
			if (done_error(nlh, &v) < 0)
				return -EBADMSG;
			c->done = true;
		} else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			if (c->cb && !c->err)
				v = c->cb(nlh, c->data);
			c->done = !c->dump && !c->ack;
		}
		if (v < 0 && !c->err)
			c->err = v;
	}
	return r < 0 ? r : 0;
}

int nl_request(struct nl_sock *s, const struct nlmsghdr *req, nl_msg_cb cb, void *data)
{
	struct conv c = { .seq = req->nlmsg_seq, .dump = req->nlmsg_flags & NLM_F_DUMP,
			  .ack = req->nlmsg_flags & NLM_F_ACK, .cb = cb, .data = data };
	struct iovec iov = { .iov_base = (void *)req, .iov_len = req->nlmsg_len };
	int64_t deadline = deadline_of(s);
	int r;

	r = resync(s, deadline);
	if (r < 0)
		return r;
	r = send_iov(s, &iov, 1, deadline);
	if (r < 0)
		return r;
	s->dirty = true;
	while (!c.done) {
		ssize_t n = recv_one(s, deadline, true);

		if (n == -ENOBUFS)
			drain(s, deadline); /* resynchronised: the reply is lost */
		r = n < 0 ? (int)n : conv_take(s, &c, (size_t)n);
		if (r < 0)
			return c.err ? c.err : r;
	}
	s->dirty = false;
	return c.err;
}

struct each {
	uint32_t first;
	size_t n, answered;
	nl_msg_cb cb;
	void *data;
	int err;                 /* the first refusal or cb error */
};

/* One datagram of replies to nl_request_each(). 0 or -EBADMSG. */
static int each_take(const struct nl_sock *s, struct each *x, size_t len)
{
	const uint8_t *p = (const uint8_t *)s->buf;
	const struct nlmsghdr *nlh;
	int r;

	while ((r = next_msg(&p, &len, &nlh)) > 0) {
		int v = 0;

		if (nlh->nlmsg_seq - x->first >= x->n || nlh->nlmsg_pid != s->portid)
			continue; /* not ours: a late answer to an earlier call */
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if (msg_error(nlh, &v) < 0)
				return -EBADMSG;
		} else if (nlh->nlmsg_type < NLMSG_MIN_TYPE) {
			continue;
		} else if (x->cb && !x->err) {
			v = x->cb(nlh, x->data);
		}
		x->answered++;
		if (v < 0 && !x->err)
			x->err = v;
	}
	return r;
}

/* A batch is one skb: the socket must accept all of it at once (else EMSGSIZE), and the
 * replies queued during sendmsg() must fit, or they are dropped (ENOBUFS). FORCE needs
 * CAP_NET_ADMIN, which the batch needs anyway; fall back to the unforced option. */
static void size_buffers(struct nl_sock *s, size_t bytes, size_t n_msgs)
{
	size_t want_snd = bytes + 65536, want_rcv = n_msgs * REPLY_TRUESIZE + 1024 * 1024;
	int v;

	if (want_snd > s->sndbuf) {
		v = want_snd > INT32_MAX ? INT32_MAX : (int)want_snd;
		if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		s->sndbuf = want_snd;
	}
	if (want_rcv > s->rcvbuf) {
		v = want_rcv > INT32_MAX ? INT32_MAX : (int)want_rcv;
		if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		s->rcvbuf = want_rcv;
	}
}

int nl_request_each(struct nl_sock *s, const void *buf, size_t len, size_t n, nl_msg_cb cb,
		    void *data)
{
	struct each x = { .first = ((const struct nlmsghdr *)buf)->nlmsg_seq, .n = n,
			  .cb = cb, .data = data };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int64_t deadline = deadline_of(s);
	bool lost = false;
	int r;

	r = resync(s, deadline);
	if (r < 0)
		return r;
	size_buffers(s, len, n);
	r = send_iov(s, &iov, 1, deadline);
	if (r < 0)
		return r;
	s->dirty = true;
	/* nfnetlink answered every request inside the send: all replies are queued, or were
	 * dropped, which the socket reports once as ENOBUFS; after that, the queue holds all
	 * that is left and is read without waiting. */
	while (x.answered < n) {
		ssize_t got = recv_one(s, deadline, !lost);

		if (got == -EAGAIN)
			break;
		if (got == -ENOBUFS) {
			lost = true;
			continue;
		}
		r = got < 0 ? (int)got : each_take(s, &x, (size_t)got);
		if (r < 0)
			return x.err ? x.err : r;
	}
	if (lost) {
		drain(s, deadline);
		return x.err ? x.err : -ENOBUFS;
	}
	s->dirty = false;
	return x.err;
}

/* ---- the generation and the namespace ---- */

struct gen_state {
	uint32_t genid;
	bool got;
};

/* NEWGEN carries NFTA_GEN_ID (u32, network order). Read here rather than by libnftnl,
 * which exit()s on an attribute of the wrong size. */
static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gen_state *g = data;
	const struct nlattr *a;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_get_payload_len(a) == 4) {
			g->genid = ntohl(mnl_attr_get_u32(a));
			g->got = true;
		}
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

	if (getsockopt(s->fd, SOL_SOCKET, SO_NETNS_COOKIE, &id.cookie, &len) < 0)
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

/* The extended ACK of an error reply into re: attributes after the echoed request (only
 * its header when NLM_F_CAPPED). 0, or -EBADMSG when the echo does not fit the reply. */
static int parse_ext_ack(const struct nlmsghdr *nlh, struct nl_reply_err *re)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);
	struct ext_ack x = { 0 };
	size_t hlen = sizeof(*err);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return 0;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
		if (err->msg.nlmsg_len < sizeof(err->msg))
			return -EBADMSG;
		hlen += err->msg.nlmsg_len - sizeof(err->msg);
	}
	if (hlen > mnl_nlmsg_get_payload_len(nlh))
		return -EBADMSG;
	mnl_attr_parse(nlh, (unsigned)hlen, ext_attr_cb, &x);
	if (x.tb[NLMSGERR_ATTR_OFFS] && mnl_attr_get_payload_len(x.tb[NLMSGERR_ATTR_OFFS]) >= 4) {
		re->has_offset = true;
		re->offset = mnl_attr_get_u32(x.tb[NLMSGERR_ATTR_OFFS]);
	}
	if (x.tb[NLMSGERR_ATTR_MSG])
		snprintf(re->msg, sizeof(re->msg), "%.*s",
			 (int)mnl_attr_get_payload_len(x.tb[NLMSGERR_ATTR_MSG]),
			 (const char *)mnl_attr_get_payload(x.tb[NLMSGERR_ATTR_MSG]));
	return 0;
}

/* Which replies belong to the batch: seqs first..end (wrap-safe) from portid; all if any. */
struct reply_filter {
	uint32_t first, end, portid;
	bool any;
};

static int parse_replies(const void *buf, size_t len, const struct reply_filter *f,
			 struct nl_acks *acks)
{
	const uint8_t *p = buf;
	const struct nlmsghdr *nlh;
	int r;

	if (!acks->v) {
		acks->v = calloc(NL_ACKS_KEEP, sizeof(*acks->v));
		if (!acks->v)
			return -ENOMEM;
	}
	while ((r = next_msg(&p, &len, &nlh)) > 0) {
		struct nl_reply_err re = { .seq = nlh->nlmsg_seq };

		if (!f->any && (nlh->nlmsg_seq - f->first > f->end - f->first ||
				nlh->nlmsg_pid != f->portid))
			continue; /* not ours: a late answer to an earlier call */
		if (nlh->nlmsg_type != NLMSG_ERROR)
			continue;
		if (msg_error(nlh, &re.err) < 0)
			return -EBADMSG;
		if (!re.err) {
			acks->n_acks++;
			if (nlh->nlmsg_seq == f->end)
				acks->end_acked = true;
			continue;
		}
		if (parse_ext_ack(nlh, &re) < 0)
			return -EBADMSG;
		acks->n_errors++;
		if (acks->n < NL_ACKS_KEEP)
			acks->v[acks->n++] = re;
	}
	return r;
}

int nl_parse_replies(const void *buf, size_t len, uint32_t seq_end, struct nl_acks *acks)
{
	struct reply_filter f = { .end = seq_end, .any = true };

	return parse_replies(buf, len, &f, acks);
}

void nl_acks_clear(struct nl_acks *acks)
{
	free(acks->v);
	memset(acks, 0, sizeof(*acks));
}

/* After the send. nfnetlink ran the batch inside sendmsg(), so every reply is queued or was
 * dropped (reported once as ENOBUFS): read until the queue is empty, never waiting. */
static int read_batch_replies(struct nl_sock *s, const struct reply_filter *f,
			      struct nl_acks *acks, struct nft_error *e)
{
	int64_t deadline = deadline_of(s);
	bool dropped = false;

	for (;;) {
		ssize_t n = recv_one(s, deadline, false);

		if (n == -EAGAIN)
			break;
		if (n == -ENOBUFS) {
			dropped = true;
			continue;
		}
		if (n >= 0 && parse_replies(s->buf, (size_t)n, f, acks) < 0)
			n = -EBADMSG;
		if (n < 0) {
			acks->lost = true;
			return nft_error_set(e, NL_SENT_UNKNOWN, "reading the kernel's replies to "
					     "the batch: %s: the outcome is unknown",
					     n == -EBADMSG ? "malformed reply" : strerror((int)-n));
		}
	}
	s->dirty = false;
	if (!dropped)
		return 0;
	acks->lost = true;
	return nft_error_set(e, NL_SENT_UNKNOWN, "the kernel dropped replies to the batch "
			     "(receive buffer overrun): the outcome is unknown");
}

/* Before the send, -EIO must not say "sent": no such send error exists for netlink, but the
 * contract must not depend on that. */
static int unsent(int r)
{
	return r == NL_SENT_UNKNOWN ? -ECOMM : r;
}

int nl_send_batch(struct nl_sock *s, struct nftnl_batch *b, size_t n_msgs, uint32_t seq_end,
		  struct nl_acks *acks, struct nft_error *e)
{
	int n_iov = nftnl_batch_iovec_len(b);
	struct iovec *iov = calloc((size_t)n_iov, sizeof(*iov));
	struct reply_filter f = { .first = seq_end - (uint32_t)(n_msgs ? n_msgs - 1 : 0),
				  .end = seq_end, .portid = s->portid };
	size_t bytes = 0;
	int r;

	if (!acks->v)
		acks->v = calloc(NL_ACKS_KEEP, sizeof(*acks->v));
	if (!iov || !acks->v) {
		r = nft_error_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	r = resync(s, deadline_of(s));
	if (r < 0) {
		r = nft_error_set(e, unsent(r), "clearing the netlink socket before the batch: "
				  "%s", strerror(-r));
		goto out;
	}
	nftnl_batch_iovec(b, iov, (uint32_t)n_iov);
	for (int i = 0; i < n_iov; i++)
		bytes += iov[i].iov_len;
	size_buffers(s, bytes, n_msgs);
	r = send_iov(s, iov, (size_t)n_iov, deadline_of(s));
	if (r < 0) {
		r = nft_error_set(e, unsent(r), "sending the batch (%zu messages, %zu bytes): %s",
				  n_msgs, bytes, strerror(-r));
		goto out;
	}
	s->dirty = true;
	r = read_batch_replies(s, &f, acks, e);
out:
	free(iov);
	return r;
}
