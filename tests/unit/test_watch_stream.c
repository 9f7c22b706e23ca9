/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watch body parser: the same events whatever the pieces (split at every byte, one byte
 * at a time, a UTF-8 name cut inside a character, \r\n), BOOKMARK, ERROR 410, an over-long
 * event, invalid JSON at its offset, a cut-off last event, the callback stopping it, and
 * allocation failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "agent/kube/watch_stream.h"
#include "model/read.h"
#include "alloc_fail.h"

static const char body[] =
	"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
	"{\"name\":\"caf\xc3\xa9-\xf0\x9f\x98\x80\",\"resourceVersion\":\"11\"}}}\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
	"{\"name\":\"app\",\"resourceVersion\":\"12\",\"labels\":{\"env\":\"prod\"}}}}\r\n"
	"\n"
	"{\"type\":\"DELETED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
	"{\"name\":\"app\",\"resourceVersion\":\"13\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
	"{\"resourceVersion\":\"14\"}}}\n"
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	"\"status\":\"Failure\",\"message\":\"too old resource version: 1 (3171407)\","
	"\"reason\":\"Expired\",\"code\":410}}\n";

struct seen {
	char text[2048];
	size_t len;
	int stop_at; /* callback returns -ECANCELED at this event (1-based), 0 never */
	int n;
};

static int on_event(const struct watch_event *ev, void *ctx)
{
	struct seen *s = ctx;
	struct json_object *md, *name = NULL;

	s->n++;
	if (json_object_object_get_ex(ev->object, "metadata", &md))
		json_object_object_get_ex(md, "name", &name);
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len,
				   "%s rv=%s name=%s code=%d reason=%s at=%llu\n", watch_type_name(ev->type),
				   ev->resource_version ? ev->resource_version : "-",
				   name ? json_object_get_string(name) : "-", ev->code,
				   ev->reason ? ev->reason : "-", (unsigned long long)ev->offset);
	return s->stop_at == s->n ? -ECANCELED : 0;
}

static void feed_split(const char *buf, size_t len, size_t cut, struct seen *s)
{
	struct watch_stream *w = watch_stream_new(NULL, on_event, s);

	assert_non_null(w);
	assert_int_equal(watch_stream_feed(w, buf, cut), 0);
	assert_int_equal(watch_stream_feed(w, buf + cut, len - cut), 0);
	assert_int_equal(watch_stream_finish(w), 0);
	assert_null(watch_stream_error(w));
	watch_stream_free(w);
}

static void every_split(void **state)
{
	struct seen whole = { 0 };
	size_t len = strlen(body);
	struct watch_stream *w;

	feed_split(body, len, len, &whole);
	assert_int_equal(whole.n, 5);
	assert_non_null(strstr(whole.text, "ADDED rv=11 name=caf\xc3\xa9-\xf0\x9f\x98\x80 code=0 reason=- at=0\n"));
	assert_non_null(strstr(whole.text, "MODIFIED rv=12 name=app"));
	assert_non_null(strstr(whole.text, "DELETED rv=13 name=app"));
	assert_non_null(strstr(whole.text, "BOOKMARK rv=14 name=-"));
	assert_non_null(strstr(whole.text, "ERROR rv=- name=- code=410 reason=Expired"));
	for (size_t cut = 0; cut <= len; cut++) {
		struct seen s = { 0 };

		feed_split(body, len, cut, &s);
		assert_string_equal(s.text, whole.text);
	}
	/* one byte at a time */
	{
		struct seen s = { 0 };

		w = watch_stream_new(NULL, on_event, &s);
		for (size_t i = 0; i < len; i++)
			assert_int_equal(watch_stream_feed(w, body + i, 1), 0);
		assert_int_equal(watch_stream_finish(w), 0);
		assert_string_equal(s.text, whole.text);
		watch_stream_free(w);
	}
	/* the last event without its newline, at the clean end of the body */
	{
		struct seen s = { 0 };

		w = watch_stream_new(NULL, on_event, &s);
		assert_int_equal(watch_stream_feed(w, body, len - 1), 0);
		assert_int_equal(s.n, 4);
		assert_int_equal(watch_stream_finish(w), 0);
		assert_string_equal(s.text, whole.text);
		watch_stream_free(w);
	}
}

/* feeds buf whole; returns the error, with *e a copy of the stream's */
static int feed_err(const char *buf, const struct read_limits *lim, struct watch_error *e,
		    struct seen *s)
{
	struct watch_stream *w = watch_stream_new(lim, on_event, s);
	int r = watch_stream_feed(w, buf, strlen(buf));

	if (r == 0)
		r = watch_stream_finish(w);
	if (r) {
		assert_non_null(watch_stream_error(w));
		*e = *watch_stream_error(w);
		assert_int_equal(e->err, r);
		/* unusable from now on */
		assert_int_equal(watch_stream_feed(w, "\n", 1), r);
		assert_int_equal(watch_stream_finish(w), r);
	}
	watch_stream_free(w);
	return r;
}

static void errors(void **state)
{
	struct read_limits lim = read_limits_default;
	struct watch_error e;
	struct seen s = { 0 };
	char big[300];
	size_t first = strchr(body, '\n') - body + 1;

	/* invalid JSON in the second event: its offset in the stream */
	snprintf(big, sizeof(big), "%.*s{\"type\":\"ADDED\",\"object\":{'a':1}}\n", (int)first, body);
	assert_int_equal(feed_err(big, NULL, &e, &s), -EINVAL);
	assert_int_equal(s.n, 1);
	assert_int_equal(e.offset, first + 26);
	assert_non_null(strstr(e.message, "single quotes"));
	/* shapes */
	memset(&s, 0, sizeof(s));
	assert_int_equal(feed_err("{\"type\":\"UPDATED\",\"object\":{}}\n", NULL, &e, &s), -EINVAL);
	assert_non_null(strstr(e.message, "unknown event type \"UPDATED\""));
	assert_int_equal(feed_err("{\"type\":\"ADDED\"}\n", NULL, &e, &s), -EINVAL);
	assert_int_equal(feed_err("[1]\n", NULL, &e, &s), -EINVAL);
	assert_int_equal(feed_err("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}\n", NULL, &e, &s),
			 -EINVAL);
	assert_int_equal(s.n, 0);
	/* cut off at the end of the body */
	assert_int_equal(feed_err("{\"type\":\"ADDED\",\"obj", NULL, &e, &s), -EINVAL);
	assert_non_null(strstr(e.message, "ends inside"));
	/* over-long: refused before its end arrives, whatever the pieces */
	lim.max_doc_bytes = 100;
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed_err(big, &lim, &e, &s), -E2BIG);
	assert_non_null(strstr(e.message, "longer than 100 bytes (limit max_doc_bytes)"));
	/* depth: an object may be max_depth deep, the event around it one more */
	lim = read_limits_default;
	lim.max_depth = 2;
	assert_int_equal(feed_err("{\"type\":\"ADDED\",\"object\":{\"a\":{}}}\n", &lim, &e, &s), 0);
	assert_int_equal(feed_err("{\"type\":\"ADDED\",\"object\":{\"a\":{\"b\":[1]}}}\n", &lim, &e, &s),
			 -E2BIG);
	/* the callback stops it */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(feed_err(body, NULL, &e, &s), -ECANCELED);
	assert_int_equal(s.n, 2);
	assert_int_equal(e.offset, first);
}

/* An event's object goes to the store as a list item would. */
static void object_to_store(void **state)
{
	static const char ev[] =
		"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
		"{\"name\":\"app\",\"labels\":{\"env\":\"prod\"}}}}\n";
	struct json_object *o = json_tokener_parse(ev), *obj;
	struct store *s = store_new();
	struct diags d = { 0 };

	assert_true(json_object_object_get_ex(o, "object", &obj));
	assert_int_equal(store_load_json_object(s, "api:/api/v1/namespaces?watch=1", obj, NULL, &d), 0);
	assert_int_equal(s->n_namespaces, 1);
	assert_string_equal(s->namespaces[0].m.labels.v[0].value, "prod");
	json_object_put(o);
	store_free(s);
	diags_clear(&d);
}

static int run_split(void *ctx)
{
	struct seen s = { 0 };
	struct watch_stream *w = watch_stream_new(NULL, on_event, &s);
	size_t len = strlen(body), cut = *(size_t *)ctx;
	int r;

	if (!w)
		return -ENOMEM;
	r = watch_stream_feed(w, body, cut);
	if (r == 0)
		r = watch_stream_feed(w, body + cut, len - cut);
	if (r == 0)
		r = watch_stream_finish(w);
	watch_stream_free(w);
	return r;
}

static void alloc_failures(void **state)
{
	size_t cut = 17; /* inside the first event: the line buffer is used */

	assert_true(alloc_fail_each("watch_stream", run_split, &cut, NULL) >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_split),
		cmocka_unit_test(errors),
		cmocka_unit_test(object_to_store),
		cmocka_unit_test(alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
