/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The health and metrics endpoint: real libmicrohttpd on loopback (port 0), driven by our
 * loop, with a plain-socket client on the same loop. Status codes, bodies, content types,
 * HEAD, 404/405, the --listen parser, bind errors, close-on-exec and no leaked fds.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/loop.h"
#include "agent/obs/http.h"
#include "agent/obs/metrics.h"

#define HOUR (3600 * LOOP_NSEC_PER_SEC)

struct fx {
	struct loop *l;
	struct http_server *h;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct metrics *m;
	int metrics_calls;
	int metrics_error;
};

struct response {
	int status;
	char head[4096];
	char body[65536];
	size_t body_len;
};

static int render_metrics(FILE *out, void *data)
{
	struct fx *f = data;

	f->metrics_calls++;
	if (f->metrics_error)
		return f->metrics_error;
	return metrics_render(f->m, out);
}

static void loopback4(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*len = sizeof(*a);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static int start(struct fx *f, uint64_t bound)
{
	struct http_config c = {
		.addr = (struct sockaddr *)&f->addr,
		.addr_len = f->addr_len,
		.health_bound_ns = bound,
		.metrics = render_metrics,
		.metrics_data = f,
	};
	int r = http_server_new(f->l, &c, &f->h);

	if (r == 0)
		set_port(&f->addr, http_server_port(f->h));
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct metric_family *g = NULL;

	assert_non_null(f);
	assert_int_equal(loop_new(&f->l), 0);
	f->m = metrics_new();
	assert_int_equal(metrics_gauge(f->m, "nftgate_up", "Whether nftgate runs.", NULL, &g), 0);
	assert_int_equal(metric_set(g, NULL, 1), 0);
	loopback4(&f->addr, &f->addr_len);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_server_free(f->h);
	loop_free(f->l);
	metrics_free(f->m);
	free(f);
	return 0;
}

struct client {
	char buf[70000];
	size_t len;
};

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	struct client *c = data;
	ssize_t n;

	while ((n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len)) > 0)
		c->len += (size_t)n;
	if (n == 0 || (n < 0 && errno != EAGAIN) || c->len == sizeof(c->buf) - 1)
		loop_stop(l);
}

static void on_deadline(struct loop *l, struct loop_timer *t, void *data)
{
	fail_msg("no complete HTTP response within the deadline");
}

static int connect_to(const struct fx *f)
{
	int fd = socket(f->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	/* Loopback: the kernel completes the handshake into the listen backlog at once. */
	assert_int_equal(connect(fd, (const struct sockaddr *)&f->addr, f->addr_len), 0);
	return fd;
}

static void parse(struct client *c, struct response *r)
{
	char *sep;

	c->buf[c->len] = '\0';
	assert_int_equal(sscanf(c->buf, "HTTP/1.%*d %d", &r->status), 1);
	sep = strstr(c->buf, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - c->buf), c->buf);
	r->body_len = c->len - (size_t)(sep + 4 - c->buf);
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
}

/* Sends raw request text and runs the loop until the server closes the connection. */
static void exchange(struct fx *f, const char *request, struct response *r)
{
	struct client *c = calloc(1, sizeof(*c));
	struct loop_io *io = NULL;
	struct loop_timer *deadline = NULL;
	int fd = connect_to(f);

	assert_non_null(c);
	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(loop_io_add(f->l, fd, EPOLLIN, on_client, c, &io), 0);
	assert_int_equal(loop_timer_add(f->l, on_deadline, NULL, &deadline), 0);
	assert_int_equal(loop_timer_arm(deadline, 60 * LOOP_NSEC_PER_SEC), 0);
	assert_int_equal(loop_run(f->l), 0);
	loop_timer_free(deadline);
	loop_io_free(io);
	close(fd);
	memset(r, 0, sizeof(*r));
	parse(c, r);
	free(c);
}

static void get(struct fx *f, const char *method, const char *path, struct response *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
		 method, path);
	exchange(f, req, r);
}

/* The value of a response header (case-insensitive name), or NULL. */
static const char *header(const struct response *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p, "\r\n")) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", end ? (int)(end - v) : (int)strlen(v), v);
			return buf;
		}
	}
	return NULL;
}

static void expect_header(const struct response *r, const char *name, const char *want)
{
	char buf[256];

	assert_non_null(header(r, name, buf, sizeof(buf)));
	assert_string_equal(buf, want);
}

static void healthz_while_the_loop_turns(void **state)
{
	struct fx *f = *state;
	struct response r;

	assert_int_equal(start(f, HOUR), 0);
	get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	expect_header(&r, "Content-Type", "text/plain; charset=utf-8");
	get(f, "GET", "/healthz?verbose=1", &r); /* a query string does not change the path */
	assert_int_equal(r.status, 200);
	get(f, "HEAD", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	expect_header(&r, "Content-Length", "3");
}

static void healthz_past_the_bound(void **state)
{
	struct fx *f = *state;
	struct response r;

	/* Bound 0: any time spent in the loop's turns is over it. */
	assert_int_equal(start(f, 0), 0);
	get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 503);
	assert_int_equal(strncmp(r.body, "loop stalled for ", 17), 0);
	assert_non_null(strstr(r.body, "(bound 0.000 ms)\n"));
}

static void readyz_follows_the_caller(void **state)
{
	struct fx *f = *state;
	struct response r;

	assert_int_equal(start(f, HOUR), 0);
	get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "starting\n");
	http_server_set_ready(f->h, false, "waiting for the first full sync: 2 input errors");
	get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "waiting for the first full sync: 2 input errors\n");
	http_server_set_ready(f->h, true, NULL);
	get(f, "GET", "/readyz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ready\n");
	http_server_set_ready(f->h, false, NULL);
	get(f, "HEAD", "/readyz", &r);
	assert_int_equal(r.status, 503);
	assert_int_equal(r.body_len, 0);
}

static void metrics_body_and_type(void **state)
{
	struct fx *f = *state;
	struct response r;
	char *want = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&want, &len);

	assert_int_equal(metrics_render(f->m, out), 0);
	fclose(out);
	assert_int_equal(start(f, HOUR), 0);
	get(f, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, want);
	expect_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(f->metrics_calls, 1);
	f->metrics_error = -EIO;
	get(f, "GET", "/metrics", &r);
	assert_int_equal(r.status, 500);
	free(want);
}

static void unknown_paths_and_methods(void **state)
{
	struct fx *f = *state;
	struct response r;

	assert_int_equal(start(f, HOUR), 0);
	get(f, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	get(f, "GET", "/healthz/extra", &r);
	assert_int_equal(r.status, 404);
	get(f, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	expect_header(&r, "Allow", "GET, HEAD");
	get(f, "DELETE", "/readyz", &r);
	assert_int_equal(r.status, 405);
	exchange(f, "PUT /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		    "Content-Length: 5\r\n\r\nhello", &r);
	assert_int_equal(r.status, 405);
	assert_int_equal(f->metrics_calls, 0);
}

/* An idle client holds a connection slot, not the loop: the next client is served. */
static void idle_client_does_not_block_others(void **state)
{
	struct fx *f = *state;
	struct response r;
	int idle;

	assert_int_equal(start(f, HOUR), 0);
	idle = connect_to(f);
	assert_int_equal(write(idle, "GET /hea", 8), 8);
	get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	close(idle);
}

static void ipv6_loopback(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&f->addr;
	struct response r;
	int rc;

	memset(&f->addr, 0, sizeof(f->addr));
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
	f->addr_len = sizeof(*a);
	rc = start(f, HOUR);
	if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
		skip(); /* no IPv6 loopback here */
	assert_int_equal(rc, 0);
	get(f, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
}

static void bind_errors(void **state)
{
	struct fx *f = *state;
	struct http_server *second = NULL;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct http_config c = { .addr = (struct sockaddr *)&f->addr, .addr_len = f->addr_len };

	assert_int_equal(start(f, HOUR), 0);
	c.addr_len = f->addr_len;
	assert_int_equal(http_server_new(f->l, &c, &second), -EADDRINUSE);
	assert_null(second);
	c.addr = (struct sockaddr *)&un;
	c.addr_len = sizeof(un);
	assert_int_equal(http_server_new(f->l, &c, &second), -EAFNOSUPPORT);
}

static void open_fds(unsigned char *map)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self = dirfd(d);

	memset(map, 0, 1024);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd != self && fd < 1024)
			map[fd] = 1;
	}
	closedir(d);
}

static void cloexec_and_no_leaks(void **state)
{
	struct fx *f = *state;
	unsigned char before[1024], during[1024], after[1024];
	struct response r;
	int n_new = 0;

	open_fds(before);
	assert_int_equal(start(f, HOUR), 0);
	get(f, "GET", "/metrics", &r);
	open_fds(during);
	for (int fd = 0; fd < 1024; fd++) {
		if (!during[fd] || before[fd])
			continue;
		n_new++;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	assert_true(n_new >= 3); /* listening socket, MHD's epoll, our timerfd */
	f->h = http_server_free(f->h);
	open_fds(after);
	assert_memory_equal(before, after, sizeof(before));
}

static void listen_values(void **state)
{
	static const struct {
		const char *in;
		int family;
		const char *canonical;
	} good[] = {
		{ "127.0.0.1:9107", AF_INET, "127.0.0.1:9107" },
		{ "0.0.0.0:65535", AF_INET, "0.0.0.0:65535" },
		{ "[::1]:80", AF_INET6, "[::1]:80" },
		{ "[::]:1", AF_INET6, "[::]:1" },
		{ "[2001:DB8::a]:8080", AF_INET6, "[2001:db8::a]:8080" },
		{ HTTP_LISTEN_DEFAULT, AF_INET, HTTP_LISTEN_DEFAULT },
	};
	static const struct {
		const char *in;
		const char *err;
	} bad[] = {
		{ "", "--listen: '': needs a port (ADDR:PORT or [IPv6]:PORT)" },
		{ "1.2.3.4", "--listen: '1.2.3.4': needs a port (ADDR:PORT or [IPv6]:PORT)" },
		{ "1.2.3.4:", "--listen: '1.2.3.4:': '' is not a port (1 to 65535) (ADDR:PORT or [IPv6]:PORT)" },
		{ "1.2.3.4:0", "--listen: '1.2.3.4:0': '0' is not a port (1 to 65535) (ADDR:PORT or [IPv6]:PORT)" },
		{ "1.2.3.4:65536", NULL },
		{ "1.2.3.4:+80", NULL },
		{ "1.2.3.4:80x", NULL },
		{ "1.2.3.4:0000080", NULL },
		{ "localhost:80", "--listen: 'localhost:80': 'localhost' is not an IPv4 address (ADDR:PORT or [IPv6]:PORT)" },
		{ " 1.2.3.4:80", NULL },
		{ "1.2.3:80", NULL },
		{ "::1:80", "--listen: '::1:80': an IPv6 address needs brackets (ADDR:PORT or [IPv6]:PORT)" },
		{ "[::1]80", "--listen: '[::1]80': needs :PORT after ']' (ADDR:PORT or [IPv6]:PORT)" },
		{ "[::1", "--listen: '[::1': no closing ']' (ADDR:PORT or [IPv6]:PORT)" },
		{ "[1.2.3.4]:80", "--listen: '[1.2.3.4]:80': '1.2.3.4' is not an IPv6 address (ADDR:PORT or [IPv6]:PORT)" },
		{ "[fe80::1%eth0]:80", NULL },
		{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:1]:80", NULL },
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], text[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(http_listen_parse(good[i].in, &ss, &len, err, sizeof(err)), 0);
		assert_int_equal(ss.ss_family, good[i].family);
		assert_int_equal(len, good[i].family == AF_INET ? sizeof(struct sockaddr_in) :
								 sizeof(struct sockaddr_in6));
		http_addr_format((struct sockaddr *)&ss, text, sizeof(text));
		assert_string_equal(text, good[i].canonical);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char quoted[128];

		err[0] = '\0';
		ss.ss_family = AF_UNSPEC;
		assert_int_equal(http_listen_parse(bad[i].in, &ss, &len, err, sizeof(err)), -EINVAL);
		assert_int_equal(ss.ss_family, AF_UNSPEC); /* nothing written on failure */
		snprintf(quoted, sizeof(quoted), "--listen: '%s': ", bad[i].in);
		assert_int_equal(strncmp(err, quoted, strlen(quoted)), 0);
		if (bad[i].err)
			assert_string_equal(err, bad[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(healthz_while_the_loop_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(healthz_past_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(readyz_follows_the_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics_body_and_type, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_paths_and_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(idle_client_does_not_block_others, setup, teardown),
		cmocka_unit_test_setup_teardown(ipv6_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(bind_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(cloexec_and_no_leaks, setup, teardown),
		cmocka_unit_test(listen_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
