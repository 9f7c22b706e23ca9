/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of a watch response, parsed as it arrives: one JSON event per line,
 * {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}\n (Go's json.Encoder ends
 * each with a newline, and JSON strings cannot hold a raw one). Feed it the bytes in pieces
 * cut anywhere; each complete event goes to the callback. An event is bounded in bytes and
 * depth (read_limits: max_doc_bytes, max_depth for its object). Any error (not JSON, an event
 * of another shape, an over-long event, the callback's own) leaves the stream unusable: the
 * caller reconnects (or relists, on an ERROR event with code 410).
 */
#ifndef NFTGATE_AGENT_KUBE_WATCH_STREAM_H
#define NFTGATE_AGENT_KUBE_WATCH_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "model/read.h"

struct json_object;

enum watch_type { WATCH_ADDED, WATCH_MODIFIED, WATCH_DELETED, WATCH_BOOKMARK, WATCH_ERROR };

/* One event, valid during the callback only (json_object_get() the object to keep it). */
struct watch_event {
	enum watch_type type;
	struct json_object *object;   /* the object, or for ERROR the Status; never NULL */
	const char *resource_version; /* object.metadata.resourceVersion, NULL when absent (never
				       * for BOOKMARK) */
	/* ERROR only (0 / NULL otherwise or when absent): the Status, 410 = Expired, relist */
	int code;
	const char *reason;           /* "Expired", "Gone", "InternalError", ... */
	const char *message;          /* for people: never parse it */
	uint64_t offset;              /* byte of the stream where the event starts */
};

/* Returns 0 to go on, or <0 to stop: the stream then fails with that value. */
typedef int watch_event_fn(const struct watch_event *ev, void *ctx);

/* Why the stream failed: err (-EINVAL not JSON or not an event, -E2BIG too long or too deep,
 * -ENOMEM, or the callback's value), the byte of the stream where it was seen, and what. */
struct watch_error {
	int err;
	uint64_t offset;
	char message[256];
};

struct watch_stream;

/* lim is copied (NULL: read_limits_default); fn(ev, ctx) is called per event. NULL only for
 * out-of-memory. */
struct watch_stream *watch_stream_new(const struct read_limits *lim, watch_event_fn *fn, void *ctx);
struct watch_stream *watch_stream_free(struct watch_stream *w);

/* Takes the next len bytes of the body: calls fn for every event they complete, in order.
 * Returns 0, or the stream's error (watch_stream_error()), now and on every later call. */
int watch_stream_feed(struct watch_stream *w, const char *buf, size_t len);

/* The body ended cleanly: an event left without its newline is parsed as the last one (a
 * cut-off event is then an error, -EINVAL). Returns as watch_stream_feed(). */
int watch_stream_finish(struct watch_stream *w);

/* The error that stopped the stream, or NULL. */
const struct watch_error *watch_stream_error(const struct watch_stream *w);

const char *watch_type_name(enum watch_type t); /* "ADDED", ... */

#endif
