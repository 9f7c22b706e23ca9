/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/obs/log.h"
#include "agent/obs/text.h"

/* One (msg, key) being rate-limited. tail is the last held-back event's fields, already
 * rendered, so the report can repeat them. */
struct repeat {
	char *msg;
	char *key;
	enum log_level level;
	uint64_t window_start;
	uint64_t held;
	char *tail;
};

struct logger {
	FILE *out;
	enum log_format format;
	enum log_level min_level;
	uint64_t window;
	const struct log_clock *clock;
	struct repeat repeats[LOG_REPEAT_KEYS_MAX];
	size_t n_repeats;
};

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const format_names[] = { "logfmt", "json" };

static int parse_name(const char *s, const char *const *names, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -EINVAL;
}

int log_level_parse(const char *s, enum log_level *ret)
{
	int i = parse_name(s, level_names, 4);

	if (i < 0)
		return i;
	*ret = (enum log_level)i;
	return 0;
}

int log_format_parse(const char *s, enum log_format *ret)
{
	int i = parse_name(s, format_names, 2);

	if (i < 0)
		return i;
	*ret = (enum log_format)i;
	return 0;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level <= LOG_LEVEL_ERROR ? level_names[level] : "?";
}

static uint64_t mono_now(const struct logger *lg)
{
	struct timespec ts;

	if (lg->clock && lg->clock->monotonic_ns)
		return lg->clock->monotonic_ns(lg->clock->data);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t real_now(const struct logger *lg)
{
	struct timespec ts;

	if (lg->clock && lg->clock->realtime_ns)
		return lg->clock->realtime_ns(lg->clock->data);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int log_new(const struct log_config *c, struct logger **ret)
{
	struct logger *lg;

	if (!c->out || (unsigned)c->format > LOG_FORMAT_JSON ||
	    (unsigned)c->min_level > LOG_LEVEL_ERROR)
		return -EINVAL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	lg->out = c->out;
	lg->format = c->format;
	lg->min_level = c->min_level;
	lg->window = c->repeat_window_ns ? c->repeat_window_ns : LOG_REPEAT_WINDOW_DEFAULT;
	lg->clock = c->clock;
	*ret = lg;
	return 0;
}

bool log_enabled(const struct logger *lg, enum log_level level)
{
	return lg && level >= lg->min_level;
}

/* ---- escaping ---- */

/* Whether a logfmt value can go unquoted: no space, '=', quote, backslash, control
 * (C0, DEL, C1) or invalid UTF-8. */
static bool logfmt_plain(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len == 0 || c <= ' ' || c == '=' || c == '"' || c == '\\' ||
		    (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += len;
	}
	return true;
}

/* The body of a quoted string, same escapes for logfmt and JSON: \" \\ \n \r \t, other
 * C0/C1 controls and DEL as \u00XX, invalid UTF-8 as \ufffd. */
static void put_escaped(struct strbuf *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len == 0) {
			strbuf_puts(b, "\\ufffd");
			i++;
			continue;
		}
		if (c == '"' || c == '\\') {
			strbuf_putc(b, '\\');
			strbuf_putc(b, (char)c);
		} else if (c == '\n') {
			strbuf_puts(b, "\\n");
		} else if (c == '\r') {
			strbuf_puts(b, "\\r");
		} else if (c == '\t') {
			strbuf_puts(b, "\\t");
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			strbuf_printf(b, "\\u%04" PRIx32, cp);
		} else {
			strbuf_put(b, s + i, len);
		}
		i += len;
	}
}

static void put_string(struct strbuf *b, enum log_format f, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool cut = n > LOG_VALUE_MAX;

	if (cut)
		n = LOG_VALUE_MAX;
	if (f == LOG_FORMAT_LOGFMT && !cut && logfmt_plain(s, n)) {
		strbuf_put(b, s, n);
		return;
	}
	strbuf_putc(b, '"');
	put_escaped(b, s ? s : "", n);
	if (cut)
		strbuf_puts(b, "...");
	strbuf_putc(b, '"');
}

static void put_key(struct strbuf *b, enum log_format f, const char *key)
{
	strbuf_puts(b, f == LOG_FORMAT_JSON ? ",\"" : " ");
	for (const char *p = key ? key : ""; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

		strbuf_putc(b, ok ? c : '_');
	}
	strbuf_puts(b, f == LOG_FORMAT_JSON ? "\":" : "=");
}

static void put_double(struct strbuf *b, enum log_format f, double d)
{
	if (isfinite(d))
		strbuf_printf(b, "%.6g", d); /* durations: µs of a reconcile, not float noise */
	else if (f == LOG_FORMAT_JSON)
		strbuf_puts(b, "null");
	else
		strbuf_puts(b, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
}

static void put_field(struct strbuf *b, enum log_format f, const struct log_field *fl)
{
	put_key(b, f, fl->key);
	switch (fl->type) {
	case LOG_T_STR: put_string(b, f, fl->v.s); break;
	case LOG_T_INT: strbuf_printf(b, "%" PRId64, fl->v.i); break;
	case LOG_T_UINT: strbuf_printf(b, "%" PRIu64, fl->v.u); break;
	case LOG_T_DOUBLE: put_double(b, f, fl->v.d); break;
	case LOG_T_BOOL: strbuf_puts(b, fl->v.b ? "true" : "false"); break;
	}
}

/* ---- lines ---- */

static void put_ts(struct strbuf *b, int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	long ms = (long)((ns % 1000000000) / 1000000);
	struct tm tm;
	char buf[32];

	if (ms < 0) {
		sec--;
		ms += 1000;
	}
	if (!gmtime_r(&sec, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(buf, sizeof(buf), "1970-01-01T00:00:00");
	strbuf_printf(b, "%s.%03ldZ", buf, ms);
}

static void write_line(struct logger *lg, enum log_level level, const char *msg,
		       const char *tail, uint64_t repeated)
{
	bool json = lg->format == LOG_FORMAT_JSON;
	struct strbuf b = { 0 };

	strbuf_puts(&b, json ? "{\"ts\":\"" : "ts=");
	put_ts(&b, real_now(lg));
	strbuf_puts(&b, json ? "\",\"level\":\"" : " level=");
	strbuf_puts(&b, log_level_name(level));
	strbuf_puts(&b, json ? "\",\"msg\":" : " msg=");
	put_string(&b, lg->format, msg);
	strbuf_puts(&b, tail);
	if (repeated) {
		put_key(&b, lg->format, "repeated");
		strbuf_printf(&b, "%" PRIu64, repeated);
	}
	strbuf_puts(&b, json ? "}\n" : "\n");
	/* One fwrite per line so that concurrent writers to the same stderr do not interleave
	 * within a line; flushed because stderr may be a fully buffered pipe or file. */
	if (!b.oom) {
		fwrite(b.p, 1, b.len, lg->out);
		fflush(lg->out);
	}
	strbuf_release(&b);
}

/* ---- repeats ---- */

static struct repeat *find_repeat(struct logger *lg, const char *msg, const char *key)
{
	for (size_t i = 0; i < lg->n_repeats; i++)
		if (!strcmp(lg->repeats[i].msg, msg) && !strcmp(lg->repeats[i].key, key))
			return &lg->repeats[i];
	return NULL;
}

static void repeat_clear(struct repeat *r)
{
	free(r->msg);
	free(r->key);
	free(r->tail);
	*r = (struct repeat){ 0 };
}

/* Starts tracking (msg, key); NULL when the table is full or memory is short, and the
 * event is then simply written. */
static struct repeat *add_repeat(struct logger *lg, const char *msg, const char *key,
				 enum log_level level, uint64_t now)
{
	struct repeat *r;

	if (lg->n_repeats == LOG_REPEAT_KEYS_MAX)
		return NULL;
	r = &lg->repeats[lg->n_repeats];
	r->msg = strdup(msg);
	r->key = strdup(key);
	if (!r->msg || !r->key) {
		repeat_clear(r);
		return NULL;
	}
	r->level = level;
	r->window_start = now;
	lg->n_repeats++;
	return r;
}

static void report_repeat(struct logger *lg, struct repeat *r)
{
	write_line(lg, r->level, r->msg, r->tail ? r->tail : "", r->held);
	r->held = 0;
	free(r->tail);
	r->tail = NULL;
}

void log_flush_repeats(struct logger *lg, bool all)
{
	uint64_t now;
	size_t keep = 0;

	if (!lg)
		return;
	now = mono_now(lg);
	for (size_t i = 0; i < lg->n_repeats; i++) {
		struct repeat *r = &lg->repeats[i];
		bool expired = now - r->window_start >= lg->window;

		if (r->held && (expired || all))
			report_repeat(lg, r);
		if (expired || all) {
			repeat_clear(r);
			continue;
		}
		if (keep != i) {
			lg->repeats[keep] = *r;
			*r = (struct repeat){ 0 };
		}
		keep++;
	}
	lg->n_repeats = keep;
}

/* Decides for an event with a key: true to write it now (*repeated set to the count to
 * report with it), false when it is held back (its rendered tail then kept). */
static bool admit(struct logger *lg, enum log_level level, const char *msg, const char *key,
		  struct strbuf *tail, uint64_t *repeated)
{
	uint64_t now = mono_now(lg);
	struct repeat *r = find_repeat(lg, msg, key);

	*repeated = 0;
	if (!r) {
		add_repeat(lg, msg, key, level, now);
		return true;
	}
	if (now - r->window_start >= lg->window) {
		*repeated = r->held;
		r->held = 0;
		free(r->tail);
		r->tail = NULL;
		r->window_start = now;
		r->level = level;
		return true;
	}
	r->held++;
	r->level = level;
	if (!tail->oom) {
		free(r->tail);
		r->tail = tail->p;
		*tail = (struct strbuf){ 0 };
	}
	return false;
}

void log_emit(struct logger *lg, enum log_level level, const char *msg, const char *key,
	      const struct log_field *fields, size_t n_fields)
{
	struct strbuf tail = { 0 };
	uint64_t repeated = 0;

	if (!log_enabled(lg, level))
		return;
	if (!msg)
		msg = "";
	strbuf_puts(&tail, "");
	for (size_t i = 0; i < n_fields; i++)
		put_field(&tail, lg->format, &fields[i]);
	if (!key || admit(lg, level, msg, key, &tail, &repeated))
		write_line(lg, level, msg, tail.oom ? "" : tail.p, repeated);
	strbuf_release(&tail);
	/* Reports other keys' bursts once their window has passed. */
	log_flush_repeats(lg, false);
}

struct logger *log_free(struct logger *lg)
{
	if (!lg)
		return NULL;
	log_flush_repeats(lg, true);
	free(lg);
	return NULL;
}
