/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a watch body fed to the stream parser in pieces whose sizes the input's first
 * bytes choose; each event's object goes to a store as the watch loop will send it. The
 * same body fed whole must give the same number of events and the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/kube/watch_stream.h"
#include "model/read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct store *s;
	struct diags d;
	unsigned n;
};

static int on_event(const struct watch_event *ev, void *arg)
{
	struct ctx *c = arg;

	c->n++;
	if (ev->type != WATCH_ERROR && ev->type != WATCH_BOOKMARK && c->s)
		store_load_json_object(c->s, "api:/api/v1/services?watch=1", ev->object, NULL, &c->d);
	diags_clear(&c->d);
	return 0;
}

static int run(const uint8_t *body, size_t len, const uint8_t *sizes, size_t n_sizes,
	       unsigned *events)
{
	static const struct read_limits lim = {
		.max_input_bytes = 1 << 20, .max_doc_bytes = 16 << 10, .max_depth = 16,
		.max_objects = 2000, .max_string = 4096, .max_items = 500,
	};
	struct ctx c = { .s = store_new() };
	struct watch_stream *w = watch_stream_new(&lim, on_event, &c);
	size_t off = 0, i = 0;
	int r = 0;

	if (!w) {
		store_free(c.s);
		return -1;
	}
	while (off < len && r == 0) {
		size_t piece = n_sizes ? (size_t)sizes[i++ % n_sizes] + 1 : len;

		if (piece > len - off)
			piece = len - off;
		r = watch_stream_feed(w, (const char *)body + off, piece);
		off += piece;
	}
	if (r == 0)
		r = watch_stream_finish(w);
	watch_stream_free(w);
	store_free(c.s);
	diags_clear(&c.d);
	*events = c.n;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n_sizes = size ? data[0] % 8 : 0;
	unsigned a, b;
	uint8_t *body;
	int ra, rb;

	if (size < 1 + n_sizes)
		return 0;
	/* an exactly sized copy: the parser must not read past what it was given */
	body = malloc(size - 1 - n_sizes + 1);
	if (!body)
		return 0;
	memcpy(body, data + 1 + n_sizes, size - 1 - n_sizes);
	ra = run(body, size - 1 - n_sizes, data + 1, n_sizes, &a);
	rb = run(body, size - 1 - n_sizes, NULL, 0, &b);
	if (ra != -1 && rb != -1 && (ra != rb || a != b))
		abort(); /* the pieces changed what was read */
	free(body);
	return 0;
}
