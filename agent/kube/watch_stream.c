/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch bodies split on newlines, each line parsed whole by json_parse_value(), rather than
 * fed to json-c's incremental tokener: a line is bounded in bytes before any parsing (json-c
 * would hold an over-long string in its own buffer, unbounded), the same strict checks as
 * list responses apply to it, errors get exact stream offsets, and a piece boundary inside
 * an event (or a UTF-8 character) only means waiting for more bytes. A line that arrives
 * whole in one piece is parsed in place, without a copy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "agent/kube/watch_stream.h"
#include "model/array.h"
#include "model/diag.h"
#include "model/json_tree.h"

struct watch_stream {
	struct read_limits lim;
	watch_event_fn *fn;
	void *ctx;
	char *line;        /* the event being assembled, without its newline */
	size_t len, cap;
	uint64_t start;    /* byte of the stream where line[0] is */
	bool failed;
	struct watch_error e;
};

static const char *const type_names[] = {
	[WATCH_ADDED] = "ADDED",
	[WATCH_MODIFIED] = "MODIFIED",
	[WATCH_DELETED] = "DELETED",
	[WATCH_BOOKMARK] = "BOOKMARK",
	[WATCH_ERROR] = "ERROR",
};

const char *watch_type_name(enum watch_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

struct watch_stream *watch_stream_new(const struct read_limits *lim, watch_event_fn *fn, void *ctx)
{
	struct watch_stream *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->lim = lim ? *lim : read_limits_default;
	w->fn = fn;
	w->ctx = ctx;
	return w;
}

struct watch_stream *watch_stream_free(struct watch_stream *w)
{
	if (w) {
		free(w->line);
		free(w);
	}
	return NULL;
}

const struct watch_error *watch_stream_error(const struct watch_stream *w)
{
	return w->failed ? &w->e : NULL;
}

static int fail(struct watch_stream *w, int err, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Stops the stream for good and records why. */
static int fail(struct watch_stream *w, int err, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	w->failed = true;
	w->e.err = err;
	w->e.offset = offset;
	va_start(ap, fmt);
	vsnprintf(w->e.message, sizeof(w->e.message), fmt, ap);
	va_end(ap);
	return err;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static const char *resource_version(struct json_object *obj)
{
	struct json_object *md;

	if (!json_object_object_get_ex(obj, "metadata", &md) || !json_object_is_type(md, json_type_object))
		return NULL;
	return str_member(md, "resourceVersion");
}

/* The envelope of a parsed event into ev; -EINVAL (recorded) when it is not one. */
static int event_shape(struct watch_stream *w, struct json_object *o, struct watch_event *ev)
{
	struct json_object *type, *code;
	char q[128];
	const char *t;

	if (!json_object_is_type(o, json_type_object))
		return fail(w, -EINVAL, w->start, "an event must be a JSON object");
	if (!json_object_object_get_ex(o, "type", &type) || !json_object_is_type(type, json_type_string))
		return fail(w, -EINVAL, w->start, "an event without a string \"type\"");
	t = json_object_get_string(type);
	ev->type = WATCH_ERROR + 1;
	for (unsigned i = 0; i <= WATCH_ERROR; i++)
		if (!strcmp(t, type_names[i]))
			ev->type = i;
	if (ev->type > WATCH_ERROR)
		return fail(w, -EINVAL, w->start, "unknown event type %s",
			    diag_quote(q, sizeof(q), t, (size_t)json_object_get_string_len(type)));
	if (!json_object_object_get_ex(o, "object", &ev->object) ||
	    !json_object_is_type(ev->object, json_type_object))
		return fail(w, -EINVAL, w->start, "a %s event without an \"object\" object", t);
	ev->resource_version = resource_version(ev->object);
	if (ev->type == WATCH_BOOKMARK && !ev->resource_version)
		return fail(w, -EINVAL, w->start,
			    "a BOOKMARK event without object.metadata.resourceVersion");
	if (ev->type != WATCH_ERROR)
		return 0;
	if (json_object_object_get_ex(ev->object, "code", &code) &&
	    json_object_is_type(code, json_type_int))
		ev->code = json_object_get_int(code);
	ev->reason = str_member(ev->object, "reason");
	ev->message = str_member(ev->object, "message");
	return 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* One line of the body (its newline excluded), starting at byte w->start. */
static int event(struct watch_stream *w, const char *p, size_t n)
{
	struct watch_event ev = { .offset = w->start };
	struct json_parse_error pe;
	struct json_object *o;
	int r;

	if (blank(p, n))
		return 0; /* keep-alive newlines, a \r\n line end */
	/* one level more than an object may have: the event around it */
	r = json_parse_value(p, n, w->lim.max_depth + 1, &o, &pe);
	if (r == -ENOMEM)
		return fail(w, r, w->start, "out of memory");
	if (r < 0)
		return fail(w, r, w->start + pe.offset, "%s%s", r == -EINVAL ? "JSON syntax error: " : "",
			    pe.message);
	r = event_shape(w, o, &ev);
	if (r == 0) {
		r = w->fn(&ev, w->ctx);
		if (r < 0)
			fail(w, r, w->start, "the %s event was refused: %s", type_names[ev.type],
			     strerror(-r));
	}
	json_object_put(o);
	return r;
}

static int append(struct watch_stream *w, const char *p, size_t n)
{
	if (ARRAY_GROW(w->line, w->cap, w->len + n) < 0)
		return fail(w, -ENOMEM, w->start, "out of memory");
	memcpy(w->line + w->len, p, n);
	w->len += n;
	return 0;
}

int watch_stream_feed(struct watch_stream *w, const char *buf, size_t len)
{
	int r;

	if (w->failed)
		return w->e.err;
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t piece = nl ? (size_t)(nl - buf) : len;
		size_t line_len = w->len + piece;

		if (piece > w->lim.max_doc_bytes - w->len)
			return fail(w, -E2BIG, w->start,
				    "an event is longer than %zu bytes (limit max_doc_bytes)",
				    w->lim.max_doc_bytes);
		if (!nl)
			return append(w, buf, piece);
		if (w->len == 0) {
			r = event(w, buf, piece);
		} else {
			r = append(w, buf, piece);
			if (r == 0)
				r = event(w, w->line, w->len);
			w->len = 0;
		}
		if (r < 0)
			return r;
		w->start += line_len + 1;
		buf += piece + 1;
		len -= piece + 1;
	}
	return 0;
}

int watch_stream_finish(struct watch_stream *w)
{
	int r;

	if (w->failed)
		return w->e.err;
	if (!w->len)
		return 0;
	r = event(w, w->line, w->len);
	w->start += w->len;
	w->len = 0;
	return r;
}
