/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "agent/obs/http.h"
#include "agent/obs/metrics.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

struct http_server {
	struct loop *l;
	struct MHD_Daemon *mhd;
	struct loop_io *io;       /* MHD's epoll descriptor */
	struct loop_timer *timer; /* MHD_get_timeout */
	uint16_t port;
	uint64_t health_bound_ns;
	http_metrics_fn metrics;
	void *metrics_data;
	bool ready;
	char reason[HTTP_REASON_MAX + 1];
};

/* ---- responses ---- */

/* Queues a response whose body is copied (or taken over when owned). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *rsp = MHD_create_response_from_buffer(
		len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!rsp) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(rsp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return reply(c, status, TEXT_PLAIN, (char *)text, strlen(text), false);
}

static enum MHD_Result serve_healthz(struct http_server *h, struct MHD_Connection *c)
{
	uint64_t stall = loop_stall_ns(h->l);
	char buf[128];

	if (stall <= h->health_bound_ns)
		return reply_text(c, MHD_HTTP_OK, "ok\n");
	snprintf(buf, sizeof(buf), "loop stalled for %.3f ms (bound %.3f ms)\n",
		 (double)stall / 1e6, (double)h->health_bound_ns / 1e6);
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, buf);
}

static enum MHD_Result serve_readyz(struct http_server *h, struct MHD_Connection *c)
{
	char buf[HTTP_REASON_MAX + 2];

	if (h->ready)
		return reply_text(c, MHD_HTTP_OK, "ready\n");
	snprintf(buf, sizeof(buf), "%s\n", h->reason);
	return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, buf);
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int r;

	if (!f)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	r = h->metrics ? h->metrics(f, h->metrics_data) : 0;
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "rendering metrics failed\n");
	}
	return reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len, true);
}

/* MHD calls this once the request line and headers are in. Our answers never depend on
 * a request body, so the first call answers (MHD then discards any body). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req)
{
	struct http_server *h = cls;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	static const struct {
		const char *path;
		enum MHD_Result (*serve)(struct http_server *h, struct MHD_Connection *c);
	} routes[] = {
		{ "/healthz", serve_healthz },
		{ "/readyz", serve_readyz },
		{ "/metrics", serve_metrics },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path))
			continue;
		if (!get)
			return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
		return routes[i].serve(h, c);
	}
	if (!get)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- driving MHD from the loop ---- */

/* After every MHD_run: MHD may have work due without socket activity (buffered data,
 * idle timeouts), and says by when. */
static void rearm(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		loop_timer_arm(h->timer, (uint64_t)ms * LOOP_NSEC_PER_MSEC);
	else
		loop_timer_disarm(h->timer);
}

static void run_mhd(struct http_server *h)
{
	MHD_run(h->mhd);
	rearm(h);
}

static void on_epoll(struct loop *l, int fd, uint32_t events, void *data)
{
	run_mhd(data);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *data)
{
	run_mhd(data);
}

/* ---- listening ---- */

static int listen_on(const struct sockaddr *a, socklen_t len)
{
	int one = 1, fd, r;

	if (a->sa_family != AF_INET && a->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A restarted daemon must not wait out TIME_WAIT on its own port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, a, len) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int start_mhd(struct http_server *h, int fd, int family)
{
	unsigned flags = MHD_USE_EPOLL | (family == AF_INET6 ? MHD_USE_IPv6 : 0);

	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd) {
		/* A daemon that failed to start may or may not have closed the socket it was
		 * given; nothing else ran in between, so a valid fd is still ours. */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		return -EIO;
	}
	return 0;
}

static int attach(struct http_server *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	int r;

	if (!info)
		return -EIO;
	r = loop_io_add(h->l, info->epoll_fd, EPOLLIN, on_epoll, h, &h->io);
	if (r < 0)
		return r;
	r = loop_timer_add(h->l, on_timer, h, &h->timer);
	if (r < 0)
		return r;
	rearm(h);
	return 0;
}

int http_server_new(struct loop *l, const struct http_config *c, struct http_server **ret)
{
	struct http_server *h = calloc(1, sizeof(*h));
	int fd, r;

	if (!h)
		return -ENOMEM;
	h->l = l;
	h->health_bound_ns = c->health_bound_ns;
	h->metrics = c->metrics;
	h->metrics_data = c->metrics_data;
	http_server_set_ready(h, false, "starting");
	fd = listen_on(c->addr, c->addr_len);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->port = bound_port(fd);
	r = start_mhd(h, fd, c->addr->sa_family);
	if (r >= 0)
		r = attach(h);
	if (r < 0) {
		http_server_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

struct http_server *http_server_free(struct http_server *h)
{
	if (!h)
		return NULL;
	loop_timer_free(h->timer);
	loop_io_free(h->io);
	if (h->mhd)
		MHD_stop_daemon(h->mhd); /* closes the listening socket too */
	free(h);
	return NULL;
}

void http_server_set_ready(struct http_server *h, bool ready, const char *reason)
{
	h->ready = ready;
	snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "not ready");
}

uint16_t http_server_port(const struct http_server *h)
{
	return h->port;
}

/* ---- --listen ---- */

static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* "--listen: 'VALUE': 'PART' is not ..." (what NULL: no PART), always -EINVAL. */
static int fail(char *err, size_t errlen, const char *s, const char *what, const char *why)
{
	if (what)
		snprintf(err, errlen, "--listen: '%s': '%s' %s (ADDR:PORT or [IPv6]:PORT)", s,
			 what, why);
	else
		snprintf(err, errlen, "--listen: '%s': %s (ADDR:PORT or [IPv6]:PORT)", s, why);
	return -EINVAL;
}

/* Splits "[v6]:port" or "v4:port" into host and port; *v6 tells which. */
static int split_listen(const char *s, char *host, size_t hostlen, const char **port,
			bool *v6, char *err, size_t errlen)
{
	const char *colon, *close;
	size_t n;

	*v6 = s[0] == '[';
	if (*v6) {
		close = strchr(s, ']');
		if (!close)
			return fail(err, errlen, s, NULL, "no closing ']'");
		if (close[1] != ':')
			return fail(err, errlen, s, NULL, "needs :PORT after ']'");
		n = (size_t)(close - s - 1);
		colon = close + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return fail(err, errlen, s, NULL, "needs a port");
		if (memchr(s, ':', (size_t)(colon - s)))
			return fail(err, errlen, s, NULL, "an IPv6 address needs brackets");
		n = (size_t)(colon - s);
	}
	if (n >= hostlen)
		return fail(err, errlen, *v6 ? s - 1 : s, NULL, "the address is too long");
	memcpy(host, s, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

int http_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
		      char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s = NULL;
	uint16_t port;
	bool v6 = false;
	int r = split_listen(s, host, sizeof(host), &port_s, &v6, err, errlen);

	if (r < 0)
		return r;
	if (parse_port(port_s, &port) < 0)
		return fail(err, errlen, s, port_s, "is not a port (1 to 65535)");
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return fail(err, errlen, s, host, "is not an IPv6 address");
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*ret_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return fail(err, errlen, s, host, "is not an IPv4 address");
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*ret_len = sizeof(*a);
	}
	*ret = ss;
	return 0;
}

void http_addr_format(const struct sockaddr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;

		inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a6->sin6_port));
	} else if (a->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;

		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a4->sin_port));
	} else {
		snprintf(buf, len, "(family %d)", a->sa_family);
	}
}
