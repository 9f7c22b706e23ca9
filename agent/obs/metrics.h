/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small metrics registry, rendered in the Prometheus text exposition format 0.0.4.
 * Pure: no I/O but the FILE* metrics_render() writes to, no clock, no globals.
 *
 * A family is one metric name with its help text, type and label names: a counter, a
 * gauge, or a histogram with fixed bucket bounds. A series is one set of label values
 * within a family. Values are doubles, as Prometheus keeps them (integers are exact up
 * to 2^53).
 *
 * Rendering is deterministic: families sorted by name, series by their label values
 * (bytewise, label by label), each family as "# HELP", "# TYPE", then its samples;
 * histograms as <name>_bucket{...,le="..."} (cumulative, ending with le="+Inf"),
 * <name>_sum and <name>_count. Label values escape \ " and newline (and invalid UTF-8
 * becomes U+FFFD); help text escapes \ and newline. A family without labels has its one
 * series from the start (value 0); a labelled family with no series renders its HELP and
 * TYPE lines only.
 *
 * Label values are passed as an array of exactly the family's label count, in the
 * order of its label names (NULL when it has none; NULL for a labelled family is
 * -EINVAL); they are copied.
 */
#ifndef NFTGATE_AGENT_OBS_METRICS_H
#define NFTGATE_AGENT_OBS_METRICS_H

#include <stddef.h>
#include <stdio.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRICS_MAX_LABELS 16
#define METRICS_MAX_BUCKETS 64
#define METRICS_MAX_SERIES (1u << 20) /* per family */

struct metrics;
struct metric_family;

/* One series for metric_family_replace(): labels as described above. */
struct metric_sample {
	const char *const *labels;
	double value;
};

/* NULL only when out of memory. */
struct metrics *metrics_new(void);
/* Frees the registry and its families. Accepts NULL; returns NULL. */
struct metrics *metrics_free(struct metrics *m);

/* Registers a family; *ret stays owned by the registry and lives as long as it does.
 * name: [a-zA-Z_:][a-zA-Z0-9_:]*; label names (a NULL-terminated list, or NULL):
 * [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no duplicates, and not "le" for a
 * histogram. help: any text. -EINVAL for a bad name, -EEXIST for a name already
 * registered, -E2BIG past METRICS_MAX_LABELS, -ENOMEM. */
int metrics_counter(struct metrics *m, const char *name, const char *help,
		    const char *const *label_names, struct metric_family **ret);
int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  const char *const *label_names, struct metric_family **ret);
/* bounds: n_bounds finite upper bounds, strictly increasing (+Inf is implied), at most
 * METRICS_MAX_BUCKETS. */
int metrics_histogram(struct metrics *m, const char *name, const char *help,
		      const char *const *label_names, const double *bounds, size_t n_bounds,
		      struct metric_family **ret);

/* Adds delta to a counter (delta >= 0, else -EINVAL) or a gauge, creating the series at
 * 0 first if needed. -EINVAL on a histogram, -E2BIG past METRICS_MAX_SERIES, -ENOMEM. */
int metric_add(struct metric_family *f, const char *const *labels, double delta);

/* Sets a gauge, or a counter mirrored from elsewhere (kernel counter objects). */
int metric_set(struct metric_family *f, const char *const *labels, double value);

/* Records one observation in a histogram: the first bucket whose bound is >= value, the
 * sum and the count. -EINVAL for NaN or on a counter or gauge. */
int metric_observe(struct metric_family *f, const char *const *labels, double value);

/* Replaces every series of a counter or gauge with samples, in one step: on error
 * (-EINVAL for a histogram or two samples with the same labels, -E2BIG, -ENOMEM) the
 * family is left as it was. n 0 empties the family (an unlabelled one goes back to 0). */
int metric_family_replace(struct metric_family *f, const struct metric_sample *samples,
			  size_t n);

/* The value of a counter or gauge series, or the count of a histogram series: 0, or
 * -ENOENT if there is no such series. */
int metric_get(const struct metric_family *f, const char *const *labels, double *ret);

/* Writes every family in the text format. 0, or -EIO if the stream failed. */
int metrics_render(const struct metrics *m, FILE *out);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
