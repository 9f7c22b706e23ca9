// SPDX-License-Identifier: Apache-2.0
/*
 * latency_client HOST PORT N: N sequential TCP connections to HOST:PORT (IPv4). Each sends a
 * one-line HTTP/1.0 request, reads the response to EOF and closes. Prints one JSON object:
 * count, errors, connect p50/p99 (connect() start to established) and first byte p50/p99
 * (connect() start to the first byte of the response), in microseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile of n sorted values. */
static double pct(const double *v, int n, double p)
{
	int k = (int)(p / 100.0 * n + 0.5);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* One connection; 0 and both times on success, -errno otherwise. */
static int one(const struct sockaddr_in *sa, double *conn_us, double *fb_us)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[4096];
	double t0;
	ssize_t r;
	int fd, err = 0, first = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	t0 = now_us();
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		err = -errno;
		goto out;
	}
	*conn_us = now_us() - t0;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		err = -EIO;
		goto out;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (first)
			*fb_us = now_us() - t0;
		first = 0;
	}
	if (r < 0 || first)
		err = r < 0 ? -errno : -ENODATA;
out:
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	double *conn, *fb;
	int n, i, ok = 0, errors = 0;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || atoi(argv[3]) < 1) {
		fprintf(stderr, "usage: latency_client IPV4 PORT N\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	n = atoi(argv[3]);
	conn = calloc(n, sizeof(*conn));
	fb = calloc(n, sizeof(*fb));
	if (!conn || !fb)
		return 1;
	for (i = 0; i < n; i++) {
		if (one(&sa, &conn[ok], &fb[ok]) == 0)
			ok++;
		else
			errors++;
	}
	if (!ok) {
		printf("{\"count\": 0, \"errors\": %d}\n", errors);
		return 1;
	}
	qsort(conn, ok, sizeof(*conn), cmp_double);
	qsort(fb, ok, sizeof(*fb), cmp_double);
	printf("{\"count\": %d, \"errors\": %d, \"connect_p50_us\": %.1f, \"connect_p99_us\": %.1f, "
	       "\"first_byte_p50_us\": %.1f, \"first_byte_p99_us\": %.1f}\n", ok, errors,
	       pct(conn, ok, 50), pct(conn, ok, 99), pct(fb, ok, 50), pct(fb, ok, 99));
	free(conn);
	free(fb);
	return 0;
}
