/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed plans for the nft/ unit tests, built directly as structs (static storage: never
 * passed to plan_free()). Each covers one shape the layout must handle.
 */
#ifndef NFTGATE_TEST_NFT_PLANS_H
#define NFTGATE_TEST_NFT_PLANS_H

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model/plan.h"

#define V4(a, b, c, d, p) { .family = AF_INET, .addr = { a, b, c, d }, .port = p }
#define V6(last, p) { .family = AF_INET6, .addr = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
							0, 0, last }, .port = p }

/* The example: foo:8080 -> my-foo-service (2 pods, dual stack), bar:8090 -> my-bar-service. */
static struct plan_endpoint basic_foo_eps[] = {
	V4(10, 244, 1, 10, 7000), V4(10, 244, 1, 11, 7000), V6(0x10, 7000), V6(0x11, 7000),
};
static struct plan_endpoint basic_bar_eps[] = { V4(10, 244, 2, 10, 7001) };
static struct plan_share basic_foo_shares[] = {
	{ .weight = 1, .backend = "Service default/my-foo-service:6000", .endpoints = basic_foo_eps,
	  .n_endpoints = 4 },
};
static struct plan_share basic_bar_shares[] = {
	{ .weight = 1, .backend = "Service default/my-bar-service:6000", .endpoints = basic_bar_eps,
	  .n_endpoints = 1 },
};
static struct plan_listener basic_listeners[] = {
	{ .key = "default/my-tcp-gateway/bar", .gateway = "default/my-tcp-gateway",
	  .listener = "bar", .protocol = IPPROTO_TCP, .port = 8090, .action = PLAN_FORWARD,
	  .route = "default/tcp-app-2", .shares = basic_bar_shares, .n_shares = 1 },
	{ .key = "default/my-tcp-gateway/foo", .gateway = "default/my-tcp-gateway",
	  .listener = "foo", .protocol = IPPROTO_TCP, .port = 8080, .action = PLAN_FORWARD,
	  .route = "default/tcp-app-1", .shares = basic_foo_shares, .n_shares = 1 },
};
static const struct plan plan_basic = { basic_listeners, 2 };

/* Weights 3 : 1 : 0 plus an invalid backendRef of weight 2 (its share is reset). */
static struct plan_endpoint w_a_eps[] = { V4(10, 0, 0, 1, 80), V4(10, 0, 0, 2, 80) };
static struct plan_endpoint w_b_eps[] = { V4(10, 0, 1, 1, 81), V4(10, 0, 1, 2, 81),
					  V4(10, 0, 1, 3, 81) };
static struct plan_endpoint w_c_eps[] = { V4(10, 0, 2, 1, 82) };
static struct plan_share w_shares[] = {
	{ .weight = 3, .backend = "Service ns/a:80", .rule = 0, .ref = 0, .endpoints = w_a_eps,
	  .n_endpoints = 2 },
	{ .weight = 1, .backend = "Service ns/b:81", .rule = 0, .ref = 1, .endpoints = w_b_eps,
	  .n_endpoints = 3 },
	{ .weight = 0, .backend = "Service ns/c:82", .rule = 0, .ref = 2, .endpoints = w_c_eps,
	  .n_endpoints = 1 },
	{ .weight = 2, .reject = true, .reason = "BackendNotFound", .backend = "Service ns/gone:1",
	  .rule = 1, .ref = 0 },
};
static struct plan_listener w_listeners[] = {
	{ .key = "ns/gw/web", .gateway = "ns/gw", .listener = "web", .protocol = IPPROTO_TCP,
	  .port = 80, .action = PLAN_FORWARD, .route = "ns/weighted", .shares = w_shares,
	  .n_shares = 4 },
};
static const struct plan plan_weights = { w_listeners, 1 };

/* spec.addresses: one IPv4 and one IPv6 address; an IPv6-only backend. */
static struct plan_addr addr_addrs[] = {
	{ .family = AF_INET, .addr = { 192, 0, 2, 10 } },
	{ .family = AF_INET6, .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 } },
};
static struct plan_endpoint addr_eps[] = { V6(0x20, 9000), V6(0x21, 9000) };
static struct plan_share addr_shares[] = {
	{ .weight = 1, .backend = "Service ns/v6only:90", .endpoints = addr_eps, .n_endpoints = 2 },
};
static struct plan_listener addr_listeners[] = {
	{ .key = "ns/gw/addr", .gateway = "ns/gw", .listener = "addr", .protocol = IPPROTO_TCP,
	  .port = 9090, .addrs = addr_addrs, .n_addrs = 2, .action = PLAN_FORWARD,
	  .route = "ns/v6route", .shares = addr_shares, .n_shares = 1 },
};
static const struct plan plan_addresses = { addr_listeners, 1 };

/* Listeners that reject everything: conflicted, no route, all weights 0. */
static struct plan_share zero_shares[] = {
	{ .weight = 0, .backend = "Service ns/a:80", .endpoints = w_a_eps, .n_endpoints = 2 },
};
static struct plan_listener rej_listeners[] = {
	{ .key = "ns/gw/conflict", .gateway = "ns/gw", .listener = "conflict",
	  .protocol = IPPROTO_TCP, .port = 7001, .action = PLAN_REJECT,
	  .reject_reason = "ProtocolConflict" },
	{ .key = "ns/gw/noroute", .gateway = "ns/gw", .listener = "noroute",
	  .protocol = IPPROTO_TCP, .port = 7002, .action = PLAN_REJECT, .reject_reason = "NoRoute" },
	{ .key = "ns/gw/zero", .gateway = "ns/gw", .listener = "zero", .protocol = IPPROTO_TCP,
	  .port = 7003, .action = PLAN_FORWARD, .route = "ns/zero", .shares = zero_shares,
	  .n_shares = 1 },
};
static const struct plan plan_rejects = { rej_listeners, 3 };

/* UDP: dns:53 on every address -> ns/dns (2 IPv4 pods, 1 IPv6), syslog:514 on one IPv4
 * address -> ns/syslog (1 pod). */
static struct plan_endpoint udp_dns_eps[] = {
	V4(10, 1, 0, 1, 5353), V4(10, 1, 0, 2, 5353), V6(0x53, 5353),
};
static struct plan_endpoint udp_syslog_eps[] = { V4(10, 1, 1, 1, 5514) };
static struct plan_share udp_dns_shares[] = {
	{ .weight = 1, .backend = "Service ns/dns:53", .endpoints = udp_dns_eps, .n_endpoints = 3 },
};
static struct plan_share udp_syslog_shares[] = {
	{ .weight = 1, .backend = "Service ns/syslog:514", .endpoints = udp_syslog_eps,
	  .n_endpoints = 1 },
};
static struct plan_addr udp_syslog_addrs[] = { { .family = AF_INET, .addr = { 192, 0, 2, 10 } } };
static struct plan_listener udp_listeners[] = {
	{ .key = "ns/udp-gw/dns", .gateway = "ns/udp-gw", .listener = "dns",
	  .protocol = IPPROTO_UDP, .port = 53, .action = PLAN_FORWARD, .route = "ns/dns",
	  .shares = udp_dns_shares, .n_shares = 1 },
	{ .key = "ns/udp-gw/syslog", .gateway = "ns/udp-gw", .listener = "syslog",
	  .protocol = IPPROTO_UDP, .port = 514, .addrs = udp_syslog_addrs, .n_addrs = 1,
	  .action = PLAN_FORWARD, .route = "ns/syslog", .shares = udp_syslog_shares,
	  .n_shares = 1 },
};
static const struct plan plan_udp = { udp_listeners, 2 };

/* A TCP and a UDP listener on port 5000, carried by a TCPRoute and a UDPRoute that are both
 * named ns/app (two routes), plus a UDP listener no route carries. */
static struct plan_endpoint mixed_tcp_eps[] = { V4(10, 2, 0, 1, 8000), V6(0x80, 8000) };
static struct plan_endpoint mixed_udp_eps[] = { V4(10, 2, 1, 1, 9000), V4(10, 2, 1, 2, 9000) };
static struct plan_share mixed_tcp_shares[] = {
	{ .weight = 1, .backend = "Service ns/app-tcp:5000", .endpoints = mixed_tcp_eps,
	  .n_endpoints = 2 },
};
static struct plan_share mixed_udp_shares[] = {
	{ .weight = 1, .backend = "Service ns/app-udp:5000", .endpoints = mixed_udp_eps,
	  .n_endpoints = 2 },
};
static struct plan_listener mixed_listeners[] = {
	{ .key = "ns/gw/app-tcp", .gateway = "ns/gw", .listener = "app-tcp",
	  .protocol = IPPROTO_TCP, .port = 5000, .action = PLAN_FORWARD, .route = "ns/app",
	  .shares = mixed_tcp_shares, .n_shares = 1 },
	{ .key = "ns/gw/app-udp", .gateway = "ns/gw", .listener = "app-udp",
	  .protocol = IPPROTO_UDP, .port = 5000, .action = PLAN_FORWARD, .route = "ns/app",
	  .shares = mixed_udp_shares, .n_shares = 1 },
	{ .key = "ns/gw/udp-noroute", .gateway = "ns/gw", .listener = "udp-noroute",
	  .protocol = IPPROTO_UDP, .port = 5001, .action = PLAN_REJECT,
	  .reject_reason = "NoRoute" },
};
static const struct plan plan_tcp_udp = { mixed_listeners, 3 };

/* n distinct IPv4 endpoints 10.0.x.y:1, for share-size limits; the caller frees them. */
static inline struct plan_endpoint *many_v4_endpoints(size_t n)
{
	struct plan_endpoint *eps = calloc(n, sizeof(*eps));

	for (size_t i = 0; eps && i < n; i++) {
		eps[i].family = AF_INET;
		eps[i].addr[0] = 10;
		eps[i].addr[2] = (uint8_t)(i >> 8);
		eps[i].addr[3] = (uint8_t)i;
		eps[i].port = 1;
	}
	return eps;
}

#endif
