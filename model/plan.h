/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The forwarding plan: the only thing that crosses from model/ to nft/.
 *
 * One plan_listener per TCP or UDP listener this node must program, keyed by a stable string
 * so that two plans can be diffed. A listener either forwards (weighted shares, each share a
 * backendRef of the route that carries traffic) or rejects every new connection. The plan
 * owns every string and array in it; plan_free() releases all of it.
 */
#ifndef NFTGATE_MODEL_PLAN_H
#define NFTGATE_MODEL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* At most this many endpoints of one family in one share. The data plane numbers a share's
 * endpoints of each family in 12 bits, 0xfff meaning "reset" (nft/layout.h
 * LAYOUT_MAX_SHARE_ENDPOINTS must equal it). resolve() never makes a bigger share: it
 * reports the backendRef as an input error and rejects its share instead. */
#define PLAN_MAX_SHARE_ENDPOINTS 4095u

/* One backend pod address. family is AF_INET or AF_INET6; addr is in network order
 * (4 or 16 bytes used); port is the pod port in host order. */
struct plan_endpoint {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
};

/* A backendRef of the carrying route. Gets weight/sum(weights) of the listener's new
 * connections (UDP: new flows); within a share, endpoints are chosen uniformly. A reject
 * share's connections are refused (TCP: a reset): the backendRef is invalid or has no
 * usable endpoint. A share with endpoints of one family only rejects its share of the
 * other family's connections. */
struct plan_share {
	uint32_t weight;         /* 0..1000000; 0 gets nothing */
	bool reject;
	const char *reason;      /* static; why a reject share rejects, else NULL */
	char *backend;           /* "Service ns/name:port" as referenced, for comments */
	unsigned rule;           /* index in the route's spec.rules */
	unsigned ref;            /* index in that rule's backendRefs */
	struct plan_endpoint *endpoints; /* sorted by (family, addr, port), no duplicates */
	size_t n_endpoints;
};

struct plan_addr {
	uint8_t family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];        /* network order */
};

enum plan_action {
	PLAN_FORWARD, /* weighted shares; a listener whose weights sum to 0 rejects everything */
	PLAN_REJECT,  /* conflicted, or no route carries traffic: refuse every new connection */
};

/* A TCP listener's route is a TCPRoute, a UDP listener's a UDPRoute. The two kinds may share
 * a namespace/name, so a route is identified by (protocol, route). */
struct plan_listener {
	char *key;               /* "ns/gateway/listener", unique in the plan */
	char *gateway;           /* "ns/name" */
	char *listener;          /* listener name */
	uint8_t protocol;        /* IPPROTO_TCP or IPPROTO_UDP (listener protocol TCP, UDP) */
	uint16_t port;           /* host order */
	struct plan_addr *addrs; /* the Gateway's spec.addresses; none = every local address */
	size_t n_addrs;
	enum plan_action action;
	const char *reject_reason; /* static, for PLAN_REJECT: "ProtocolConflict", "NoRoute" */
	char *route;             /* "ns/name" of the route carrying traffic, NULL when none */
	struct plan_share *shares;
	size_t n_shares;
};

/* Sorted by key. Listeners that the model refuses entirely (unsupported protocol, not
 * ours) are absent: nftgate does not touch their port. */
struct plan {
	struct plan_listener *v;
	size_t n;
};

/* Frees the plan and everything in it; accepts NULL; returns NULL. */
struct plan *plan_free(struct plan *p);

#endif
