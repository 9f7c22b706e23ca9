/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Change notifications for one table (events.h).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nft/events.h"

#define EVENTS_RCVBUF (16 * 1024 * 1024)

struct nft_events {
	struct mnl_socket *nl;
	struct nft_events_parser p;
};

int nft_events_mute(struct nft_events *ev, bool mute)
{
	int group = NFNLGRP_NFTABLES;

	if (mnl_socket_setsockopt(ev->nl, mute ? NETLINK_DROP_MEMBERSHIP : NETLINK_ADD_MEMBERSHIP,
				  &group, sizeof(group)) < 0)
		return -errno;
	return 0;
}

int nft_events_open(const char *table, struct nft_events **ret, struct nft_error *e)
{
	struct nft_events *ev = calloc(1, sizeof(*ev));
	int buf = EVENTS_RCVBUF, r;

	if (!ev)
		return nft_error_set(e, -ENOMEM, "out of memory");
	snprintf(ev->p.table, sizeof(ev->p.table), "%s", table);
	ev->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!ev->nl) {
		r = -errno;
		goto fail;
	}
	/* FORCE needs CAP_NET_ADMIN, which the daemon has; the plain one is capped by rmem_max */
	if (setsockopt(mnl_socket_get_fd(ev->nl), SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		(void)setsockopt(mnl_socket_get_fd(ev->nl), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (mnl_socket_bind(ev->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	r = nft_events_mute(ev, false);
	if (r < 0)
		goto fail;
	*ret = ev;
	return 0;
fail:
	nft_events_close(ev);
	return nft_error_set(e, r, "subscribing to nftables notifications: %s", strerror(-r));
}

struct nft_events *nft_events_close(struct nft_events *ev)
{
	if (!ev)
		return NULL;
	if (ev->nl)
		mnl_socket_close(ev->nl);
	free(ev);
	return NULL;
}

int nft_events_fd(const struct nft_events *ev)
{
	return mnl_socket_get_fd(ev->nl);
}

/* The attribute that names the table, per message type (all are attribute 1 today, but
 * say which one is meant). */
static int table_attr(uint16_t type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: case NFT_MSG_DELTABLE: return NFTA_TABLE_NAME;
	case NFT_MSG_NEWCHAIN: case NFT_MSG_DELCHAIN: return NFTA_CHAIN_TABLE;
	case NFT_MSG_NEWRULE: case NFT_MSG_DELRULE: return NFTA_RULE_TABLE;
	case NFT_MSG_NEWSET: case NFT_MSG_DELSET: return NFTA_SET_TABLE;
	case NFT_MSG_NEWSETELEM: case NFT_MSG_DELSETELEM: return NFTA_SET_ELEM_LIST_TABLE;
	case NFT_MSG_NEWOBJ: case NFT_MSG_DELOBJ: return NFTA_OBJ_TABLE;
	default: return -1;
	}
}

static const struct nlattr *find_attr(const struct nlmsghdr *nlh, int type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

/* Attribute iteration (mnl_attr_ok) keeps every attribute inside its message. */
static bool attr_is_str(const struct nlattr *a, const char *s)
{
	size_t n = mnl_attr_get_payload_len(a), len = strlen(s);
	const char *p = mnl_attr_get_payload(a);

	return n == len + 1 ? !memcmp(p, s, len + 1) : n == len && !memcmp(p, s, len);
}

static void end_of_transaction(struct nft_events_parser *ev, const struct nlmsghdr *nlh,
			       pid_t self, struct nft_events_seen *seen)
{
	const struct nlattr *id = find_attr(nlh, NFTA_GEN_ID);
	const struct nlattr *pid = find_attr(nlh, NFTA_GEN_PROC_PID);
	const struct nlattr *name = find_attr(nlh, NFTA_GEN_PROC_NAME);
	uint32_t who = pid && mnl_attr_get_payload_len(pid) == 4 ? ntohl(mnl_attr_get_u32(pid)) : 0;

	if (id && mnl_attr_get_payload_len(id) == 4)
		seen->genid = ntohl(mnl_attr_get_u32(id));
	if (ev->touched && !ev->unsure && who != (uint32_t)self) {
		seen->foreign = true;
		snprintf(seen->who, sizeof(seen->who), "%.*s[%u]",
			 name ? (int)strnlen(mnl_attr_get_payload(name),
					     mnl_attr_get_payload_len(name)) : 1,
			 name ? (const char *)mnl_attr_get_payload(name) : "?", who);
	}
	ev->touched = false;
}

int nft_events_parse(struct nft_events_parser *ev, const void *buf, size_t len, pid_t self,
		     struct nft_events_seen *seen)
{
	const uint8_t *p = buf;
	size_t left = len;

	/* Not mnl_nlmsg_ok(): it compares a length of 2^32 - 1 as -1, then loops forever (found
	 * by fuzzing: tests/fuzz/corpus-events/regress-huge-len). A length that is not a
	 * multiple of 4 (never the kernel's) would let the attribute walk run past the end. */
	while (left >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const void *)p;
		const struct nfgenmsg *nfg;
		const struct nlattr *t;
		uint16_t type;
		int at;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left ||
		    nlh->nlmsg_len % 4)
			break;
		p += nlh->nlmsg_len;
		left -= nlh->nlmsg_len;
		type = NFNL_MSG_TYPE(nlh->nlmsg_type);
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
		    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*nfg))
			continue;
		if (type == NFT_MSG_NEWGEN) {
			end_of_transaction(ev, nlh, self, seen);
			continue;
		}
		nfg = mnl_nlmsg_get_payload(nlh);
		at = table_attr(type);
		if (at < 0 || nfg->nfgen_family != NFPROTO_INET)
			continue;
		t = find_attr(nlh, at);
		if (t && attr_is_str(t, ev->table))
			ev->touched = true;
	}
	return left ? -EBADMSG : 0;
}

/* Notifications were lost. The kernel reports ENOBUFS before the datagrams still queued,
 * which may come from before or after the gap: the transaction being read may have lost
 * its NEWGEN, and a later NEWGEN its first messages. Until this read ends no NEWGEN is
 * taken as drift; the caller's check of the table covers those transactions. */
static void lost(struct nft_events_parser *p, struct nft_events_seen *seen)
{
	seen->lost = true;
	p->touched = false;
	p->unsure = true;
}

/* The end of a read: the caller checks the table after it, when every transaction read so
 * far has committed, so that check covers what was read since the gap, a transaction half
 * read included. Read normally (EAGAIN), nothing is queued: what comes next was sent after
 * the gap (a new overrun would be reported first), so it is told apart again. Read short
 * (an error), the next read may still be of queued datagrams; they are told apart too
 * rather than left unchecked, at worst a needless look at the table. */
static void end_of_read(struct nft_events_parser *p)
{
	if (p->unsure)
		p->touched = p->unsure = false;
}

/* Receives and parses until the socket is drained (0) or fails (-errno). */
static int read_queued(struct nft_events *ev, pid_t self, struct nft_events_seen *seen)
{
	static char buf[65536] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = recv(nft_events_fd(ev), buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if (errno == ENOBUFS) {
				lost(&ev->p, seen);
				continue;
			}
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (nft_events_parse(&ev->p, buf, (size_t)n, self, seen) < 0)
			lost(&ev->p, seen); /* a notification we cannot read: look at the table */
	}
}

int nft_events_read(struct nft_events *ev, pid_t self, struct nft_events_seen *seen)
{
	int r = read_queued(ev, self, seen);

	end_of_read(&ev->p);
	return r;
}
