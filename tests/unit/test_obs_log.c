/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event log: exact logfmt and JSON lines, escaping of every hostile value (JSON lines
 * checked with json-c), levels, repeat suppression and its reports, allocation failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent/obs/log.h"
#include "tests/unit/alloc_fail.h"

#define SEC UINT64_C(1000000000)

struct fake_clock {
	uint64_t mono;
	int64_t real;
};

static uint64_t fake_mono(void *data)
{
	return ((struct fake_clock *)data)->mono;
}

static int64_t fake_real(void *data)
{
	return ((struct fake_clock *)data)->real;
}

/* 2026-12-02T07:01:02.123456789Z */
static int64_t example_time(void)
{
	struct tm tm = { .tm_year = 126, .tm_mon = 11, .tm_mday = 2, .tm_hour = 7, .tm_min = 1,
			 .tm_sec = 2 };

	return (int64_t)timegm(&tm) * 1000000000 + 123456789;
}

struct fx {
	char *buf;
	size_t len;
	FILE *out;
	struct fake_clock clk;
	struct log_clock clock;
	struct logger *lg;
};

static void fx_open(struct fx *f, enum log_format format, enum log_level min)
{
	struct log_config c = { .format = format, .min_level = min, .clock = &f->clock };

	memset(f, 0, sizeof(*f));
	f->clk.real = example_time();
	f->clock = (struct log_clock){ fake_mono, fake_real, &f->clk };
	f->out = open_memstream(&f->buf, &f->len);
	assert_non_null(f->out);
	c.out = f->out;
	assert_int_equal(log_new(&c, &f->lg), 0);
}

/* Everything written since the last call, as a string the caller frees. */
static char *fx_take(struct fx *f)
{
	char *s;

	fflush(f->out);
	s = strndup(f->buf, f->len);
	assert_non_null(s);
	rewind(f->out);
	fflush(f->out);
	f->len = 0;
	f->buf[0] = '\0';
	return s;
}

static void fx_expect(struct fx *f, const char *want)
{
	char *got = fx_take(f);

	assert_string_equal(got, want);
	free(got);
}

static void fx_close(struct fx *f)
{
	assert_null(log_free(f->lg));
	fclose(f->out);
	free(f->buf);
}

#define TS "2026-12-02T07:01:02.123Z"

static void logfmt_line_is_exact(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_DEBUG);
	log_info(f.lg, "reconcile", LOG_UINT("msgs", 4), LOG_DOUBLE("ms", 0.8));
	fx_expect(&f, "ts=" TS " level=info msg=reconcile msgs=4 ms=0.8\n");
	log_info(f.lg, "reconcile", LOG_DOUBLE("ms", 287963274.000213 / 1e6));
	fx_expect(&f, "ts=" TS " level=info msg=reconcile ms=287.963\n"); /* six digits */
	log_error(f.lg, "apply failed", LOG_INT("delta", -3), LOG_BOOL("retry", true),
		  LOG_ERRNO("error", -EPERM));
	fx_expect(&f, "ts=" TS " level=error msg=\"apply failed\" delta=-3 retry=true "
		      "error=\"Operation not permitted\"\n");
	log_debug(f.lg, "tick");
	fx_expect(&f, "ts=" TS " level=debug msg=tick\n");
	log_warn(f.lg, "odd", LOG_DOUBLE("nan", 0.0 / 0.0), LOG_DOUBLE("inf", 1.0 / 0.0),
		 LOG_STR("null", NULL));
	fx_expect(&f, "ts=" TS " level=warn msg=odd nan=NaN inf=+Inf null=\"\"\n");
	fx_close(&f);
}

static void json_line_is_exact(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_JSON, LOG_LEVEL_DEBUG);
	log_info(f.lg, "reconcile", LOG_UINT("msgs", 4), LOG_DOUBLE("ms", 0.8));
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"reconcile\",\"msgs\":4,"
		      "\"ms\":0.8}\n");
	log_warn(f.lg, "odd", LOG_DOUBLE("nan", 0.0 / 0.0), LOG_BOOL("ok", false),
		 LOG_INT("n", -1));
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"odd\",\"nan\":null,"
		      "\"ok\":false,\"n\":-1}\n");
	fx_close(&f);
}

/* Values an input file could carry: quotes, newlines, '=', controls, DEL, C1, bad UTF-8. */
static const struct {
	const char *in;
	const char *logfmt;
	const char *json; /* NULL: JSON reads back exactly the input */
} hostile[] = {
	{ "plain", "plain", NULL },
	{ "", "\"\"", NULL },
	{ "two words", "\"two words\"", NULL },
	{ "a=b", "\"a=b\"", NULL },
	{ "say \"hi\"", "\"say \\\"hi\\\"\"", NULL },
	{ "back\\slash", "\"back\\\\slash\"", NULL },
	{ "line1\nline2\r\tend", "\"line1\\nline2\\r\\tend\"", NULL },
	{ "bell\x07" "esc\x1b" "del\x7f", "\"bell\\u0007esc\\u001bdel\\u007f\"", NULL },
	{ "c1\xc2\x85", "\"c1\\u0085\"", NULL },
	{ "h\xc3\xa9llo", "h\xc3\xa9llo", NULL },
	{ "bad\xff\xc3(", "\"bad\\ufffd\\ufffd(\"", "bad\xef\xbf\xbd\xef\xbf\xbd(" },
	{ "over\xc0\xaflong", "\"over\\ufffd\\ufffdlong\"", "over\xef\xbf\xbd\xef\xbf\xbdlong" },
	{ "surrogate\xed\xa0\x80", "\"surrogate\\ufffd\\ufffd\\ufffd\"",
	  "surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
};

static void no_raw_control_bytes(const char *line)
{
	size_t n = strlen(line);

	assert_true(n > 0 && line[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = (unsigned char)line[i];

		assert_true(c >= 0x20 && c != 0x7f);
	}
}

static void logfmt_escapes_every_value(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char want[256];
		char *got;

		log_info(f.lg, hostile[i].in, LOG_STR("file", hostile[i].in));
		got = fx_take(&f);
		snprintf(want, sizeof(want), "ts=" TS " level=info msg=%s file=%s\n",
			 hostile[i].logfmt, hostile[i].logfmt);
		assert_string_equal(got, want);
		no_raw_control_bytes(got);
		free(got);
	}
	fx_close(&f);
}

static void json_escapes_every_value(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		const char *want = hostile[i].json ? hostile[i].json : hostile[i].in;
		struct json_object *o, *v;
		char *got;

		log_info(f.lg, hostile[i].in, LOG_STR("file", hostile[i].in));
		got = fx_take(&f);
		no_raw_control_bytes(got);
		o = json_tokener_parse(got);
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "file", &v));
		assert_string_equal(json_object_get_string(v), want);
		assert_true(json_object_object_get_ex(o, "msg", &v));
		assert_string_equal(json_object_get_string(v), want);
		assert_true(json_object_object_get_ex(o, "level", &v));
		assert_string_equal(json_object_get_string(v), "info");
		json_object_put(o);
		free(got);
	}
	fx_close(&f);
}

static void long_values_and_odd_keys(void **state)
{
	char big[LOG_VALUE_MAX + 100], want[LOG_VALUE_MAX + 200];
	struct fx f;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
	log_info(f.lg, "m", LOG_STR("big", big));
	snprintf(want, sizeof(want), "ts=" TS " level=info msg=m big=\"%.*s...\"\n",
		 LOG_VALUE_MAX, big);
	fx_expect(&f, want);
	log_info(f.lg, "m", LOG_UINT("bad key=\"x\"\n", 1), LOG_UINT("ok.key-1_2", 2));
	fx_expect(&f, "ts=" TS " level=info msg=m bad_key__x__=1 ok.key-1_2=2\n");
	fx_close(&f);
}

static void levels_below_the_minimum_are_dropped(void **state)
{
	enum log_level lv;
	enum log_format fm;
	struct fx f;

	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_WARN);
	assert_false(log_enabled(f.lg, LOG_LEVEL_INFO));
	assert_true(log_enabled(f.lg, LOG_LEVEL_ERROR));
	log_debug(f.lg, "d");
	log_info(f.lg, "i");
	log_warn(f.lg, "w");
	log_error(f.lg, "e");
	fx_expect(&f, "ts=" TS " level=warn msg=w\nts=" TS " level=error msg=e\n");
	fx_close(&f);

	log_info(NULL, "ignored"); /* a NULL logger discards */
	assert_false(log_enabled(NULL, LOG_LEVEL_ERROR));
	assert_int_equal(log_level_parse("warn", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("warning", &lv), -EINVAL);
	assert_int_equal(log_format_parse("json", &fm), 0);
	assert_int_equal(fm, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("text", &fm), -EINVAL);
	assert_int_equal(log_format_parse(NULL, &fm), -EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
}

#define ERR_LINE(file, line) \
	"ts=" TS " level=warn msg=\"input error\" file=" file " line=" line

static void repeats_are_held_and_counted(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "a.yaml", LOG_STR("file", "a.yaml"),
	       LOG_INT("line", 1));
	fx_expect(&f, ERR_LINE("a.yaml", "1") "\n");
	f.clk.mono += SEC;
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "a.yaml", LOG_STR("file", "a.yaml"),
	       LOG_INT("line", 2));
	f.clk.mono += SEC;
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "a.yaml", LOG_STR("file", "a.yaml"),
	       LOG_INT("line", 3));
	fx_expect(&f, ""); /* held back */
	/* Another key, or no key, is not held. */
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "b.yaml", LOG_STR("file", "b.yaml"),
	       LOG_INT("line", 1));
	log_at(f.lg, LOG_LEVEL_WARN, "input error", NULL, LOG_STR("file", "c.yaml"),
	       LOG_INT("line", 1));
	log_at(f.lg, LOG_LEVEL_WARN, "input error", NULL, LOG_STR("file", "c.yaml"),
	       LOG_INT("line", 1));
	fx_expect(&f, ERR_LINE("b.yaml", "1") "\n" ERR_LINE("c.yaml", "1") "\n"
		      ERR_LINE("c.yaml", "1") "\n");
	/* The first one after the window says how many were held back. */
	f.clk.mono = 10 * SEC;
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "a.yaml", LOG_STR("file", "a.yaml"),
	       LOG_INT("line", 4));
	fx_expect(&f, ERR_LINE("a.yaml", "4") " repeated=2\n");
	/* Which opened a new window. */
	log_at(f.lg, LOG_LEVEL_WARN, "input error", "a.yaml", LOG_STR("file", "a.yaml"),
	       LOG_INT("line", 5));
	fx_expect(&f, "");
	fx_close(&f); /* log_free reports it: checked in the next test */
}

static void held_repeats_are_reported_later(void **state)
{
	struct fx f;

	fx_open(&f, LOG_FORMAT_JSON, LOG_LEVEL_INFO);
	log_at(f.lg, LOG_LEVEL_WARN, "watch failed", "api", LOG_INT("attempt", 1));
	log_at(f.lg, LOG_LEVEL_WARN, "watch failed", "api", LOG_INT("attempt", 2));
	log_at(f.lg, LOG_LEVEL_WARN, "watch failed", "api", LOG_INT("attempt", 3));
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"watch failed\","
		      "\"attempt\":1}\n");
	f.clk.mono = 9 * SEC;
	log_flush_repeats(f.lg, false); /* window not over */
	fx_expect(&f, "");
	f.clk.mono = 10 * SEC;
	log_flush_repeats(f.lg, false);
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"watch failed\","
		      "\"attempt\":3,\"repeated\":2}\n");
	/* Reported and forgotten: the next one is a first again. */
	log_at(f.lg, LOG_LEVEL_WARN, "watch failed", "api", LOG_INT("attempt", 4));
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"watch failed\","
		      "\"attempt\":4}\n");
	/* Any event reports other keys whose window is over. */
	log_at(f.lg, LOG_LEVEL_WARN, "watch failed", "api", LOG_INT("attempt", 5));
	f.clk.mono = 20 * SEC;
	log_info(f.lg, "other");
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"other\"}\n"
		      "{\"ts\":\"" TS "\",\"level\":\"warn\",\"msg\":\"watch failed\","
		      "\"attempt\":5,\"repeated\":1}\n");
	/* log_free reports what is still held, window or not. */
	log_at(f.lg, LOG_LEVEL_ERROR, "watch failed", "api", LOG_INT("attempt", 6));
	log_at(f.lg, LOG_LEVEL_ERROR, "watch failed", "api", LOG_INT("attempt", 7));
	free(fx_take(&f));
	assert_null(log_free(f.lg));
	fx_expect(&f, "{\"ts\":\"" TS "\",\"level\":\"error\",\"msg\":\"watch failed\","
		      "\"attempt\":7,\"repeated\":1}\n");
	fclose(f.out);
	free(f.buf);
}

static void repeat_table_is_bounded(void **state)
{
	char key[16];
	struct fx f;
	char *all;
	size_t lines = 0;

	fx_open(&f, LOG_FORMAT_LOGFMT, LOG_LEVEL_INFO);
	/* More keys than tracked: the untracked ones are simply written every time. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < LOG_REPEAT_KEYS_MAX + 10; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			log_at(f.lg, LOG_LEVEL_INFO, "m", key, LOG_STR("k", key));
		}
	all = fx_take(&f);
	for (char *p = all; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, LOG_REPEAT_KEYS_MAX + 10 + 10);
	free(all);
	fx_close(&f);
}

/* Under any failing allocation: -ENOMEM from log_new, or whole lines only (a line is
 * dropped, never cut). */
static int emit_some(void *data)
{
	const enum log_format *format = data;
	struct fake_clock clk = { .real = example_time() };
	struct log_clock clock = { fake_mono, fake_real, &clk };
	struct log_config cfg = { .format = *format, .clock = &clock };
	struct logger *lg = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	cfg.out = open_memstream(&buf, &len);
	if (!cfg.out)
		return -ENOMEM;
	r = log_new(&cfg, &lg);
	if (r == 0) {
		log_info(lg, "reconcile", LOG_STR("file", "a b"), LOG_UINT("n", 1));
		log_at(lg, LOG_LEVEL_WARN, "e", "k", LOG_INT("i", 1));
		log_at(lg, LOG_LEVEL_WARN, "e", "k", LOG_INT("i", 2));
		log_free(lg);
		if (alloc_fail_fired())
			r = -ENOMEM;
	}
	fclose(cfg.out);
	if (len)
		assert_int_equal(buf[len - 1], '\n');
	free(buf);
	return r;
}

static void allocation_failures(void **state)
{
	enum log_format formats[] = { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

	for (size_t i = 0; i < 2; i++)
		assert_true(alloc_fail_each("log", emit_some, &formats[i], NULL) > 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logfmt_line_is_exact),
		cmocka_unit_test(json_line_is_exact),
		cmocka_unit_test(logfmt_escapes_every_value),
		cmocka_unit_test(json_escapes_every_value),
		cmocka_unit_test(long_values_and_odd_keys),
		cmocka_unit_test(levels_below_the_minimum_are_dropped),
		cmocka_unit_test(repeats_are_held_and_counted),
		cmocka_unit_test(held_repeats_are_reported_later),
		cmocka_unit_test(repeat_table_is_bounded),
		cmocka_unit_test(allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
