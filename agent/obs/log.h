/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event logs: one line per event, to a FILE* the caller gives (stderr in the daemon,
 * open_memstream in tests), each line written with one fwrite and flushed.
 *
 *   logfmt (default): ts=2026-12-02T07:01:02.123Z level=info msg=reconcile msgs=4 ms=0.8
 *   json:             {"ts":"2026-12-02T07:01:02.123Z","level":"info","msg":"reconcile","msgs":4,"ms":0.8}
 *
 * ts is UTC with milliseconds. Every string (msg included) is escaped for the format:
 * no raw control byte, newline or quote ever reaches the output, invalid UTF-8 becomes
 * U+FFFD, and a value longer than LOG_VALUE_MAX bytes is cut and ends in "...". logfmt
 * quotes a value only when it must (empty, space, '=', '"', '\', control or invalid
 * bytes); JSON always quotes strings. Keys come from code; any byte outside
 * [A-Za-z0-9_.-] in a key becomes '_'. Keys ts, level, msg and repeated are the logger's.
 *
 * Repeats: an event logged with a non-NULL key is rate-limited per (msg, key): the first
 * is written and opens a window; later ones inside the window are counted, not written.
 * The first one after the window is written with repeated=N (N = how many were held
 * back). Held-back repeats whose window has passed are also reported on the next
 * log_emit of any event, on log_flush_repeats(), and on log_free(): the last held-back
 * line is written then, with its fields and repeated=N. Events with a NULL key are
 * never held back.
 */
#ifndef NFTGATE_AGENT_OBS_LOG_H
#define NFTGATE_AGENT_OBS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Not LOG_INFO etc.: <syslog.h> (pulled in by libsystemd headers) defines those. */
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

#define LOG_VALUE_MAX 1024                                  /* bytes of one string value */
#define LOG_REPEAT_WINDOW_DEFAULT (UINT64_C(10) * 1000000000) /* ns */
#define LOG_REPEAT_KEYS_MAX 128 /* (msg, key) pairs tracked; beyond, events are not held */
#define LOG_LEVEL_NAMES "debug, info, warn, error"
#define LOG_FORMAT_NAMES "logfmt, json"

/* Where time comes from; NULL members (or a NULL clock) mean the real clocks. */
struct log_clock {
	uint64_t (*monotonic_ns)(void *data); /* for repeat windows */
	int64_t (*realtime_ns)(void *data);   /* for ts= (ns since the epoch) */
	void *data;
};

struct log_config {
	FILE *out;                   /* borrowed; must outlive the logger */
	enum log_format format;
	enum log_level min_level;    /* events below it are dropped (and never counted) */
	uint64_t repeat_window_ns;   /* 0: LOG_REPEAT_WINDOW_DEFAULT */
	const struct log_clock *clock; /* borrowed; NULL: real clocks */
};

enum log_field_type { LOG_T_STR, LOG_T_INT, LOG_T_UINT, LOG_T_DOUBLE, LOG_T_BOOL };

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s; /* NULL is written as an empty string */
		int64_t i;
		uint64_t u;
		double d;      /* NaN and infinities: logfmt NaN/+Inf/-Inf, JSON null */
		bool b;
	} v;
};

#define LOG_STR(k, x) ((struct log_field){ .key = (k), .type = LOG_T_STR, .v.s = (x) })
#define LOG_INT(k, x) ((struct log_field){ .key = (k), .type = LOG_T_INT, .v.i = (int64_t)(x) })
#define LOG_UINT(k, x) ((struct log_field){ .key = (k), .type = LOG_T_UINT, .v.u = (uint64_t)(x) })
#define LOG_DOUBLE(k, x) ((struct log_field){ .key = (k), .type = LOG_T_DOUBLE, .v.d = (double)(x) })
#define LOG_BOOL(k, x) ((struct log_field){ .key = (k), .type = LOG_T_BOOL, .v.b = (x) })
/* r is a -errno value; written as its strerror text. */
#define LOG_ERRNO(k, r) LOG_STR((k), strerror(-(r)))

struct logger;

/* A logger in *ret. 0, -EINVAL (no out, bad format or level) or -ENOMEM. */
int log_new(const struct log_config *c, struct logger **ret);

/* Reports held-back repeats (whatever their window), then frees. Accepts NULL; returns
 * NULL. Does not close out. */
struct logger *log_free(struct logger *lg);

/* Writes one event, unless below the minimum level or held back as a repeat (see
 * above). lg NULL: does nothing. key: NULL, or what makes this event "the same" as an
 * earlier one with the same msg (a file name, a route); copied. */
void log_emit(struct logger *lg, enum log_level level, const char *msg, const char *key,
	      const struct log_field *fields, size_t n_fields);

/* Writes the repeat reports whose window has passed (all of them if all is true) and
 * forgets idle keys. The daemon calls it from a timer so a burst's count is not held
 * back until the next event. */
void log_flush_repeats(struct logger *lg, bool all);

/* Whether an event at level would be written: to skip costly field preparation. */
bool log_enabled(const struct logger *lg, enum log_level level);

/* "debug" / "info" / "warn" / "error" and "logfmt" / "json" to the enums: 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *ret);
int log_format_parse(const char *s, enum log_format *ret);
const char *log_level_name(enum log_level level);

/* log_at(lg, LOG_LEVEL_WARN, "input error", path, LOG_STR("file", path), LOG_INT("line", 3));
 * The field list may be empty. */
#define LOG_FIELDS_(...) ((const struct log_field[]){ { 0 }, ##__VA_ARGS__ })
#define log_at(lg, level, msg, key, ...)                                                   \
	log_emit((lg), (level), (msg), (key), LOG_FIELDS_(__VA_ARGS__) + 1,                \
		 sizeof(LOG_FIELDS_(__VA_ARGS__)) / sizeof(struct log_field) - 1)
#define log_debug(lg, msg, ...) log_at((lg), LOG_LEVEL_DEBUG, (msg), NULL, ##__VA_ARGS__)
#define log_info(lg, msg, ...) log_at((lg), LOG_LEVEL_INFO, (msg), NULL, ##__VA_ARGS__)
#define log_warn(lg, msg, ...) log_at((lg), LOG_LEVEL_WARN, (msg), NULL, ##__VA_ARGS__)
#define log_error(lg, msg, ...) log_at((lg), LOG_LEVEL_ERROR, (msg), NULL, ##__VA_ARGS__)

#endif
