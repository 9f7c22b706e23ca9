/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health and metrics endpoint (libmicrohttpd), driven by the daemon's own loop:
 *
 *   GET|HEAD /healthz  200 "ok" while loop_stall_ns() <= the health bound, else 503
 *                      naming the stall and the bound (process alive, loop turning)
 *   GET|HEAD /readyz   200 "ready" once the caller says so, else 503 with its reason
 *   GET|HEAD /metrics  200, Content-Type: text/plain; version=0.0.4, the body the
 *                      caller's callback renders (500 if it fails)
 *   other paths        404;  other methods  405 with Allow: GET, HEAD
 *
 * Why MHD's epoll mode: MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD starts no
 * thread; MHD keeps its listening and client sockets in an epoll set of its own whose
 * one descriptor (MHD_DAEMON_INFO_EPOLL_FD) we watch on our loop, calling MHD_run() when
 * it is readable and when the timeout MHD_get_timeout() asks for expires (a loop timer,
 * re-armed after every run). That is one descriptor on our loop whatever the number of
 * clients, no fd_set size limit (select mode breaks past FD_SETSIZE), and no re-syncing
 * of descriptor sets each turn. Every callback therefore runs on the loop's thread, so
 * the ready state and the metrics registry need no locks.
 *
 * We create the listening socket (SOCK_CLOEXEC, SO_REUSEADDR) and hand it to MHD, so a
 * bind error is an errno of ours; MHD's own sockets and epoll set are also close-on-exec.
 * Clients are bounded: HTTP_MAX_CONNECTIONS at once, HTTP_IDLE_TIMEOUT_S idle each.
 */
#ifndef NFTGATE_AGENT_OBS_HTTP_H
#define NFTGATE_AGENT_OBS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "agent/daemon/loop.h"

/* 127.0.0.1:9107 is the Prometheus consul_exporter's registered default; this port is
 * outside the exporters' range (9100-9999, all allocated), is no Kubernetes component's
 * (10248-10259) and is not in /etc/services. */
#define HTTP_LISTEN_DEFAULT "127.0.0.1:10266"
#define HTTP_MAX_CONNECTIONS 32
#define HTTP_IDLE_TIMEOUT_S 10
#define HTTP_REASON_MAX 512

/* Writes the /metrics body to out; 0 or -errno (the client then gets a 500). */
typedef int (*http_metrics_fn)(FILE *out, void *data);

struct http_config {
	const struct sockaddr *addr; /* where to listen (port 0: any free port) */
	socklen_t addr_len;
	uint64_t health_bound_ns;    /* /healthz is 503 while loop_stall_ns() exceeds it */
	http_metrics_fn metrics;     /* NULL: /metrics is an empty body */
	void *metrics_data;
};

struct http_server;

/* Binds, listens and starts serving on l. Not ready until http_server_set_ready(): until
 * then /readyz says "starting". 0, or -errno: from socket/bind/listen (-EADDRINUSE,
 * -EACCES, -EADDRNOTAVAIL), -EAFNOSUPPORT for a family other than IPv4/IPv6, -ENOMEM,
 * -EIO if libmicrohttpd refused to start. */
int http_server_new(struct loop *l, const struct http_config *c, struct http_server **ret);

/* Stops serving, closes every connection and the listening socket. Accepts NULL;
 * returns NULL. */
struct http_server *http_server_free(struct http_server *h);

/* What /readyz answers: ready, or not with reason (copied, cut at HTTP_REASON_MAX; NULL
 * means "not ready"). */
void http_server_set_ready(struct http_server *h, bool ready, const char *reason);

/* The port actually bound (useful after port 0). */
uint16_t http_server_port(const struct http_server *h);

/* Parses a --listen value: "ADDR:PORT" with an IPv4 address or "[ADDR]:PORT" with an
 * IPv6 one, PORT 1 to 65535. On success fills *ret and *ret_len and returns 0; else
 * returns -EINVAL and writes to err (errlen bytes) a message naming the bad value, e.g.
 * "--listen: 'localhost:80': 'localhost' is not an IPv4 address (ADDR:PORT or
 * [IPv6]:PORT)". */
int http_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		      char *err, size_t errlen);

/* "127.0.0.1:10266" or "[::1]:10266" into buf (at least 64 bytes, else cut). */
void http_addr_format(const struct sockaddr *a, char *buf, size_t len);

#endif
