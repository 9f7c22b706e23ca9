/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "agent/obs/metrics.h"
#include "agent/obs/text.h"

struct series {
	char **labels;
	double value;      /* counter, gauge */
	double sum;        /* histogram */
	uint64_t count;    /* histogram */
	uint64_t *buckets; /* histogram: per bound, not cumulative */
};

struct metric_family {
	char *name;
	char *help;
	enum metric_type type;
	char **label_names;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	struct series *s; /* sorted by labels */
	size_t n, cap;
};

struct metrics {
	struct metric_family **f; /* sorted by name */
	size_t n, cap;
};

/* ---- names ---- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (colon && c == ':')))
			return false;
	}
	return true;
}

static int check_labels(const char *const *names, enum metric_type type, size_t *ret_n)
{
	size_t n = 0;

	for (; names && names[n]; n++) {
		if (n == METRICS_MAX_LABELS)
			return -E2BIG;
		if (!name_ok(names[n], false) || !strncmp(names[n], "__", 2) ||
		    (type == METRIC_HISTOGRAM && !strcmp(names[n], "le")))
			return -EINVAL;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(names[j], names[n]))
				return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

static int check_bounds(const double *b, size_t n)
{
	if (n > METRICS_MAX_BUCKETS || (n && !b))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(b[i]) || (i && b[i] <= b[i - 1]))
			return -EINVAL;
	return 0;
}

/* ---- series ---- */

static char **strv_copy(const char *const *v, size_t n)
{
	char **c = calloc(n ? n : 1, sizeof(*c));

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i] ? v[i] : "");
		if (!c[i]) {
			while (i--)
				free(c[i]);
			free(c);
			return NULL;
		}
	}
	return c;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void series_clear(struct series *s, size_t n_labels)
{
	strv_free(s->labels, n_labels);
	free(s->buckets);
	*s = (struct series){ 0 };
}

static int series_init(const struct metric_family *f, struct series *s,
		       const char *const *labels)
{
	*s = (struct series){ 0 };
	if (f->n_labels && !labels)
		return -EINVAL;
	s->labels = strv_copy(labels, f->n_labels);
	if (!s->labels)
		return -ENOMEM;
	if (f->type == METRIC_HISTOGRAM) {
		s->buckets = calloc(f->n_bounds ? f->n_bounds : 1, sizeof(*s->buckets));
		if (!s->buckets) {
			series_clear(s, f->n_labels);
			return -ENOMEM;
		}
	}
	return 0;
}

static int labels_cmp(char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a[i], b[i] ? b[i] : "");

		if (c)
			return c;
	}
	return 0;
}

/* Binary search: the index of the series with labels, or -1 with *pos where it goes. */
static ssize_t series_find(const struct metric_family *f, const char *const *labels,
			   size_t *pos)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = labels_cmp(f->s[mid].labels, labels, f->n_labels);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return -1;
}

static int series_get(struct metric_family *f, const char *const *labels, struct series **ret)
{
	size_t pos = 0;
	ssize_t i;
	int r;

	if (f->n_labels && !labels)
		return -EINVAL;
	i = series_find(f, labels, &pos);
	if (i >= 0) {
		*ret = &f->s[i];
		return 0;
	}
	if (f->n >= METRICS_MAX_SERIES)
		return -E2BIG;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		struct series *s = realloc(f->s, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		f->s = s;
		f->cap = cap;
	}
	memmove(&f->s[pos + 1], &f->s[pos], (f->n - pos) * sizeof(*f->s));
	r = series_init(f, &f->s[pos], labels);
	if (r < 0) {
		memmove(&f->s[pos], &f->s[pos + 1], (f->n - pos) * sizeof(*f->s));
		return r;
	}
	f->n++;
	*ret = &f->s[pos];
	return 0;
}

static void series_all_free(struct series *s, size_t n, size_t n_labels)
{
	for (size_t i = 0; i < n; i++)
		series_clear(&s[i], n_labels);
	free(s);
}

/* ---- families ---- */

static struct metric_family *family_free(struct metric_family *f)
{
	if (!f)
		return NULL;
	series_all_free(f->s, f->n, f->n_labels);
	strv_free(f->label_names, f->n_labels);
	free(f->bounds);
	free(f->help);
	free(f->name);
	free(f);
	return NULL;
}

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		family_free(m->f[i]);
	free(m->f);
	free(m);
	return NULL;
}

static ssize_t family_pos(const struct metrics *m, const char *name, size_t *pos)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->f[mid]->name, name);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return -1;
}

static struct metric_family *family_new(const char *name, const char *help,
					enum metric_type type, const char *const *label_names,
					size_t n_labels, const double *bounds, size_t n_bounds)
{
	struct metric_family *f = calloc(1, sizeof(*f));
	struct series *s = NULL;

	if (!f)
		return NULL;
	f->type = type;
	f->n_labels = n_labels;
	f->n_bounds = n_bounds;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->label_names = strv_copy(label_names, n_labels);
	f->bounds = calloc(n_bounds ? n_bounds : 1, sizeof(*f->bounds));
	if (!f->name || !f->help || !f->label_names || !f->bounds)
		return family_free(f);
	if (n_bounds)
		memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
	/* An unlabelled family is one series, there from the start. */
	if (n_labels == 0 && series_get(f, NULL, &s) < 0)
		return family_free(f);
	return f;
}

static int family_add(struct metrics *m, const char *name, const char *help,
		      enum metric_type type, const char *const *label_names,
		      const double *bounds, size_t n_bounds, struct metric_family **ret)
{
	struct metric_family *f;
	size_t n_labels = 0, pos = 0;
	int r;

	if (!name_ok(name, true))
		return -EINVAL;
	r = check_labels(label_names, type, &n_labels);
	if (r < 0)
		return r;
	r = check_bounds(bounds, n_bounds);
	if (r < 0)
		return r;
	if (family_pos(m, name, &pos) >= 0)
		return -EEXIST;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct metric_family **v = realloc(m->f, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->f = v;
		m->cap = cap;
	}
	f = family_new(name, help, type, label_names, n_labels, bounds, n_bounds);
	if (!f)
		return -ENOMEM;
	memmove(&m->f[pos + 1], &m->f[pos], (m->n - pos) * sizeof(*m->f));
	m->f[pos] = f;
	m->n++;
	*ret = f;
	return 0;
}

int metrics_counter(struct metrics *m, const char *name, const char *help,
		    const char *const *label_names, struct metric_family **ret)
{
	return family_add(m, name, help, METRIC_COUNTER, label_names, NULL, 0, ret);
}

int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  const char *const *label_names, struct metric_family **ret)
{
	return family_add(m, name, help, METRIC_GAUGE, label_names, NULL, 0, ret);
}

int metrics_histogram(struct metrics *m, const char *name, const char *help,
		      const char *const *label_names, const double *bounds, size_t n_bounds,
		      struct metric_family **ret)
{
	return family_add(m, name, help, METRIC_HISTOGRAM, label_names, bounds, n_bounds, ret);
}

/* ---- values ---- */

int metric_add(struct metric_family *f, const char *const *labels, double delta)
{
	struct series *s;
	int r;

	if (f->type == METRIC_HISTOGRAM || isnan(delta) ||
	    (f->type == METRIC_COUNTER && delta < 0))
		return -EINVAL;
	r = series_get(f, labels, &s);
	if (r < 0)
		return r;
	s->value += delta;
	return 0;
}

int metric_set(struct metric_family *f, const char *const *labels, double value)
{
	struct series *s;
	int r;

	if (f->type == METRIC_HISTOGRAM)
		return -EINVAL;
	r = series_get(f, labels, &s);
	if (r < 0)
		return r;
	s->value = value;
	return 0;
}

int metric_observe(struct metric_family *f, const char *const *labels, double value)
{
	struct series *s;
	size_t b = 0;
	int r;

	if (f->type != METRIC_HISTOGRAM || isnan(value))
		return -EINVAL;
	r = series_get(f, labels, &s);
	if (r < 0)
		return r;
	while (b < f->n_bounds && value > f->bounds[b])
		b++;
	if (b < f->n_bounds)
		s->buckets[b]++;
	s->sum += value;
	s->count++;
	return 0;
}

int metric_get(const struct metric_family *f, const char *const *labels, double *ret)
{
	ssize_t i;

	if (f->n_labels && !labels)
		return -EINVAL;
	i = series_find(f, labels, NULL);
	if (i < 0)
		return -ENOENT;
	*ret = f->type == METRIC_HISTOGRAM ? (double)f->s[i].count : f->s[i].value;
	return 0;
}

static int sample_cmp(const void *a, const void *b, void *n_labels)
{
	const struct series *x = a, *y = b;

	return labels_cmp(x->labels, (const char *const *)y->labels, *(size_t *)n_labels);
}

/* The new series, sorted; -EINVAL if two have the same labels. */
static int build_series(struct metric_family *f, const struct metric_sample *samples,
			size_t n, struct series **ret)
{
	struct series *s = calloc(n ? n : 1, sizeof(*s));
	size_t done = 0;
	int r = 0;

	if (!s)
		return -ENOMEM;
	for (; done < n; done++) {
		r = series_init(f, &s[done], samples[done].labels);
		if (r < 0)
			goto out;
		s[done].value = samples[done].value;
	}
	qsort_r(s, n, sizeof(*s), sample_cmp, &f->n_labels);
	for (size_t i = 1; i < n; i++)
		if (!sample_cmp(&s[i - 1], &s[i], &f->n_labels)) {
			r = -EINVAL;
			goto out;
		}
	*ret = s;
	s = NULL;
out:
	if (s)
		series_all_free(s, done, f->n_labels);
	return r;
}

int metric_family_replace(struct metric_family *f, const struct metric_sample *samples,
			  size_t n)
{
	static const struct metric_sample zero = { .labels = NULL, .value = 0 };
	struct series *s = NULL;
	int r;

	if (f->type == METRIC_HISTOGRAM)
		return -EINVAL;
	if (n > METRICS_MAX_SERIES)
		return -E2BIG;
	if (f->n_labels == 0 && n == 0) {
		samples = &zero;
		n = 1;
	}
	r = build_series(f, samples, n, &s);
	if (r < 0)
		return r;
	series_all_free(f->s, f->n, f->n_labels);
	f->s = s;
	f->n = f->cap = n;
	return 0;
}

/* ---- rendering ---- */

/* The shortest text that reads back as the same double; integers without a fraction. */
static void fmt_value(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
		snprintf(buf, len, "%.0f", v == 0 ? 0.0 : v);
	} else {
		snprintf(buf, len, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, len, "%.17g", v);
	}
}

static void put_label_value(FILE *out, const char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		uint32_t cp;
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len == 0) {
			fputs("\xef\xbf\xbd", out); /* U+FFFD: the format is UTF-8 */
			i++;
		} else if (s[i] == '\\' || s[i] == '"') {
			fputc('\\', out);
			fputc(s[i++], out);
		} else if (s[i] == '\n') {
			fputs("\\n", out);
			i++;
		} else {
			fwrite(s + i, 1, len, out);
			i += len;
		}
	}
}

static void put_help(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* {a="x",b="y"} plus an optional le; nothing at all when there is neither. */
static void put_labels(FILE *out, const struct metric_family *f, const struct series *s,
		       const char *le)
{
	if (!f->n_labels && !le)
		return;
	fputc('{', out);
	for (size_t i = 0; i < f->n_labels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "", f->label_names[i]);
		put_label_value(out, s->labels[i]);
		fputc('"', out);
	}
	if (le)
		fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	fputc('}', out);
}

static void put_sample(FILE *out, const struct metric_family *f, const char *suffix,
		       const struct series *s, const char *le, double v)
{
	char buf[64];

	fmt_value(buf, sizeof(buf), v);
	fprintf(out, "%s%s", f->name, suffix);
	put_labels(out, f, s, le);
	fprintf(out, " %s\n", buf);
}

static void put_histogram(FILE *out, const struct metric_family *f, const struct series *s)
{
	uint64_t cum = 0;
	char le[64];

	for (size_t b = 0; b < f->n_bounds; b++) {
		cum += s->buckets[b];
		fmt_value(le, sizeof(le), f->bounds[b]);
		put_sample(out, f, "_bucket", s, le, (double)cum);
	}
	put_sample(out, f, "_bucket", s, "+Inf", (double)s->count);
	put_sample(out, f, "_sum", s, NULL, s->sum);
	put_sample(out, f, "_count", s, NULL, (double)s->count);
}

static void put_family(FILE *out, const struct metric_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	fprintf(out, "# HELP %s ", f->name);
	put_help(out, f->help);
	fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (size_t i = 0; i < f->n; i++) {
		if (f->type == METRIC_HISTOGRAM)
			put_histogram(out, f, &f->s[i]);
		else
			put_sample(out, f, "", &f->s[i], NULL, f->s[i].value);
	}
}

int metrics_render(const struct metrics *m, FILE *out)
{
	for (size_t i = 0; i < m->n; i++)
		put_family(out, m->f[i]);
	return ferror(out) ? -EIO : 0;
}
