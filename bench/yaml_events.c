/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark baseline: parse every file given with libyaml's event API and build nothing.
 * This is the floor for any libyaml-based manifest reader, so read_resolve_bench.py reports
 * nftgate's time as a multiple of it. Prints the number of events; exits 1 on any error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Reads the whole file into a malloc'd buffer; returns 0 or -errno. */
static int slurp(const char *path, unsigned char **ret_buf, size_t *ret_len)
{
	FILE *f = fopen(path, "rbe");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (cap - len < 65536) {
			unsigned char *nb = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = cap ? cap * 2 : 1 << 20;
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		r = -EIO;
		goto out;
	}
	*ret_buf = buf;
	*ret_len = len;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return r;
}

/* Adds the number of events in buf to *n; returns 0, -ENOMEM, or -EINVAL on a parse error
 * (then *n is unchanged). */
static int count_events(const unsigned char *buf, size_t len, unsigned long *n)
{
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned long k = 0;
	bool end = false;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, buf, len);
	while (!end) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		end = ev.type == YAML_STREAM_END_EVENT;
		k++;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (!end)
		return -EINVAL;
	*n += k;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = 0;

	for (int i = 1; i < argc; i++) {
		unsigned char *buf = NULL;
		size_t len = 0;
		int r = slurp(argv[i], &buf, &len);

		if (r == 0)
			r = count_events(buf, len, &n);
		free(buf);
		if (r < 0) {
			fprintf(stderr, "yaml_events: %s: %s\n", argv[i], strerror(-r));
			return 1;
		}
	}
	printf("%lu\n", n);
	return 0;
}
