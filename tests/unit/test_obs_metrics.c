/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics registry: exact Prometheus 0.0.4 text (order, escaping, histograms, number
 * formatting), name validation, whole-family replacement that is all or nothing.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/obs/daemon_metrics.h"
#include "agent/obs/metrics.h"
#include "tests/unit/alloc_fail.h"

#define L(...) ((const char *const[]){ __VA_ARGS__ })

static char *render(const struct metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(metrics_render(m, f), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void expect(const struct metrics *m, const char *want)
{
	char *got = render(m);

	assert_string_equal(got, want);
	free(got);
}

static void renders_sorted_exact_text(void **state)
{
	static const double bounds[] = { 0.001, 0.01, 0.1, 1 };
	struct metric_family *conn = NULL, *sync = NULL, *dur = NULL, *objs = NULL;
	struct metrics *m = metrics_new();

	assert_non_null(m);
	/* Registered out of order: rendered by name. */
	assert_int_equal(metrics_histogram(m, "nftgate_reconcile_duration_seconds",
					   "Time from input change to kernel commit.", NULL, bounds,
					   4, &dur),
			 0);
	assert_int_equal(metrics_gauge(m, "nftgate_last_sync_timestamp_seconds",
				       "When the kernel last matched the inputs.", NULL, &sync),
			 0);
	assert_int_equal(metrics_counter(m, "nftgate_route_connections_total",
					 "New connections per route.",
					 L("namespace", "route", NULL), &conn),
			 0);
	assert_int_equal(metrics_gauge(m, "nftgate_objects", "Objects by kind.", L("kind", NULL),
				       &objs),
			 0);
	assert_int_equal(metric_add(conn, L("default", "tcp-app-2"), 3), 0);
	assert_int_equal(metric_add(conn, L("default", "tcp-app-1"), 1), 0);
	assert_int_equal(metric_add(conn, L("default", "tcp-app-1"), 1), 0);
	assert_int_equal(metric_add(conn, L("apps", "z"), 0), 0);
	assert_int_equal(metric_set(sync, NULL, 1764658862.123), 0);
	assert_int_equal(metric_observe(dur, NULL, 0.0008), 0);
	assert_int_equal(metric_observe(dur, NULL, 0.01), 0); /* on a bound: le counts it */
	assert_int_equal(metric_observe(dur, NULL, 0.05), 0);
	assert_int_equal(metric_observe(dur, NULL, 7), 0);    /* above all: only +Inf */
	expect(m,
	       "# HELP nftgate_last_sync_timestamp_seconds When the kernel last matched the inputs.\n"
	       "# TYPE nftgate_last_sync_timestamp_seconds gauge\n"
	       "nftgate_last_sync_timestamp_seconds 1764658862.123\n"
	       "# HELP nftgate_objects Objects by kind.\n"
	       "# TYPE nftgate_objects gauge\n"
	       "# HELP nftgate_reconcile_duration_seconds Time from input change to kernel commit.\n"
	       "# TYPE nftgate_reconcile_duration_seconds histogram\n"
	       "nftgate_reconcile_duration_seconds_bucket{le=\"0.001\"} 1\n"
	       "nftgate_reconcile_duration_seconds_bucket{le=\"0.01\"} 2\n"
	       "nftgate_reconcile_duration_seconds_bucket{le=\"0.1\"} 3\n"
	       "nftgate_reconcile_duration_seconds_bucket{le=\"1\"} 3\n"
	       "nftgate_reconcile_duration_seconds_bucket{le=\"+Inf\"} 4\n"
	       "nftgate_reconcile_duration_seconds_sum 7.0608\n"
	       "nftgate_reconcile_duration_seconds_count 4\n"
	       "# HELP nftgate_route_connections_total New connections per route.\n"
	       "# TYPE nftgate_route_connections_total counter\n"
	       "nftgate_route_connections_total{namespace=\"apps\",route=\"z\"} 0\n"
	       "nftgate_route_connections_total{namespace=\"default\",route=\"tcp-app-1\"} 2\n"
	       "nftgate_route_connections_total{namespace=\"default\",route=\"tcp-app-2\"} 3\n");
	assert_null(metrics_free(m));
}

static void labelled_histograms(void **state)
{
	static const double bounds[] = { 1, 10 };
	struct metric_family *h = NULL;
	struct metrics *m = metrics_new();
	double v = 0;

	assert_int_equal(metrics_histogram(m, "msgs", "Netlink messages per reconcile.",
					   L("table", NULL), bounds, 2, &h),
			 0);
	assert_int_equal(metric_observe(h, L("t2"), 10), 0);
	assert_int_equal(metric_observe(h, L("t1"), 2), 0);
	assert_int_equal(metric_observe(h, L("t1"), 200), 0);
	assert_int_equal(metric_get(h, L("t1"), &v), 0);
	assert_true(v == 2);
	expect(m, "# HELP msgs Netlink messages per reconcile.\n"
		  "# TYPE msgs histogram\n"
		  "msgs_bucket{table=\"t1\",le=\"1\"} 0\n"
		  "msgs_bucket{table=\"t1\",le=\"10\"} 1\n"
		  "msgs_bucket{table=\"t1\",le=\"+Inf\"} 2\n"
		  "msgs_sum{table=\"t1\"} 202\n"
		  "msgs_count{table=\"t1\"} 2\n"
		  "msgs_bucket{table=\"t2\",le=\"1\"} 0\n"
		  "msgs_bucket{table=\"t2\",le=\"10\"} 1\n"
		  "msgs_bucket{table=\"t2\",le=\"+Inf\"} 1\n"
		  "msgs_sum{table=\"t2\"} 10\n"
		  "msgs_count{table=\"t2\"} 1\n");
	metrics_free(m);
}

static void escapes_label_values_and_help(void **state)
{
	struct metric_family *f = NULL;
	struct metrics *m = metrics_new();

	assert_int_equal(metrics_gauge(m, "nftgate_input_errors", "Errors per file; a \\ and\na newline.",
				       L("file", NULL), &f),
			 0);
	assert_int_equal(metric_set(f, L("/etc/a \"b\"\\c\nd.yaml"), 2), 0);
	assert_int_equal(metric_set(f, L("bad\xff.yaml"), 1), 0);
	assert_int_equal(metric_set(f, L("h\xc3\xa9.yaml"), 1), 0);
	expect(m, "# HELP nftgate_input_errors Errors per file; a \\\\ and\\na newline.\n"
		  "# TYPE nftgate_input_errors gauge\n"
		  "nftgate_input_errors{file=\"/etc/a \\\"b\\\"\\\\c\\nd.yaml\"} 2\n"
		  "nftgate_input_errors{file=\"bad\xef\xbf\xbd.yaml\"} 1\n"
		  "nftgate_input_errors{file=\"h\xc3\xa9.yaml\"} 1\n");
	metrics_free(m);
}

static void formats_numbers_so_they_read_back(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 0, "0" }, { -0.0, "0" }, { 42, "42" }, { -7, "-7" }, { 0.1, "0.1" },
		{ 1.5, "1.5" }, { 9007199254740992.0, "9007199254740992" }, { 1e20, "1e+20" },
		{ 0.1 + 0.2, "0.30000000000000004" }, { 1.0 / 0.0, "+Inf" },
		{ -1.0 / 0.0, "-Inf" }, { 0.0 / 0.0, "NaN" },
	};
	char want[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics *m = metrics_new();
		struct metric_family *g = NULL;

		assert_int_equal(metrics_gauge(m, "g", "", NULL, &g), 0);
		assert_int_equal(metric_set(g, NULL, cases[i].v), 0);
		snprintf(want, sizeof(want), "# HELP g \n# TYPE g gauge\ng %s\n", cases[i].text);
		expect(m, want);
		metrics_free(m);
	}
}

static void rejects_bad_names_and_values(void **state)
{
	static const double up[] = { 1, 2 }, down[] = { 2, 1 }, nan_b[] = { NAN };
	struct metric_family *f = NULL, *c = NULL, *h = NULL;
	struct metrics *m = metrics_new();
	double v;

	assert_int_equal(metrics_counter(m, "", "", NULL, &f), -EINVAL);
	assert_int_equal(metrics_counter(m, "1abc", "", NULL, &f), -EINVAL);
	assert_int_equal(metrics_counter(m, "a-b", "", NULL, &f), -EINVAL);
	assert_int_equal(metrics_counter(m, "a", "", L("bad-label", NULL), &f), -EINVAL);
	assert_int_equal(metrics_counter(m, "a", "", L("__reserved", NULL), &f), -EINVAL);
	assert_int_equal(metrics_counter(m, "a", "", L("x", "x", NULL), &f), -EINVAL);
	assert_int_equal(metrics_histogram(m, "h", "", L("le", NULL), up, 2, &f), -EINVAL);
	assert_int_equal(metrics_histogram(m, "h", "", NULL, down, 2, &f), -EINVAL);
	assert_int_equal(metrics_histogram(m, "h", "", NULL, nan_b, 1, &f), -EINVAL);
	assert_int_equal(metrics_histogram(m, "h", "", NULL, up, METRICS_MAX_BUCKETS + 1, &f),
			 -EINVAL);
	assert_null(f);
	assert_int_equal(metrics_counter(m, "ns:c_total", "", L("x", NULL), &c), 0);
	assert_int_equal(metrics_gauge(m, "ns:c_total", "", NULL, &f), -EEXIST);
	assert_int_equal(metrics_histogram(m, "h", "", NULL, up, 2, &h), 0);

	assert_int_equal(metric_add(c, L("a"), -1), -EINVAL); /* counters only go up */
	assert_int_equal(metric_add(c, L("a"), NAN), -EINVAL);
	assert_int_equal(metric_add(c, NULL, 1), -EINVAL);    /* labels missing */
	assert_int_equal(metric_observe(c, L("a"), 1), -EINVAL);
	assert_int_equal(metric_set(h, NULL, 1), -EINVAL);
	assert_int_equal(metric_add(h, NULL, 1), -EINVAL);
	assert_int_equal(metric_observe(h, NULL, NAN), -EINVAL);
	assert_int_equal(metric_get(c, L("a"), &v), -ENOENT);
	assert_int_equal(metric_family_replace(h, NULL, 0), -EINVAL);
	metrics_free(m);
}

static void replace_swaps_a_whole_family(void **state)
{
	struct metric_family *f = NULL, *u = NULL;
	struct metrics *m = metrics_new();
	const struct metric_sample fill[] = {
		{ L("default", "b"), 20 }, { L("default", "a"), 10 }, { L("apps", "c"), 5 },
	};
	const struct metric_sample dup[] = {
		{ L("x", "y"), 1 }, { L("x", "y"), 2 },
	};
	double v = 0;

	assert_int_equal(metrics_counter(m, "bytes_total", "B.", L("namespace", "route", NULL),
					 &f),
			 0);
	assert_int_equal(metric_add(f, L("old", "gone"), 1), 0);
	assert_int_equal(metric_family_replace(f, fill, 3), 0);
	assert_int_equal(metric_get(f, L("old", "gone"), &v), -ENOENT);
	assert_int_equal(metric_get(f, L("default", "a"), &v), 0);
	assert_true(v == 10);
	expect(m, "# HELP bytes_total B.\n# TYPE bytes_total counter\n"
		  "bytes_total{namespace=\"apps\",route=\"c\"} 5\n"
		  "bytes_total{namespace=\"default\",route=\"a\"} 10\n"
		  "bytes_total{namespace=\"default\",route=\"b\"} 20\n");
	/* Two samples with the same labels: refused, and nothing changed. */
	assert_int_equal(metric_family_replace(f, dup, 2), -EINVAL);
	assert_int_equal(metric_get(f, L("default", "b"), &v), 0);
	assert_true(v == 20);
	/* Still a working sorted family after replacement. */
	assert_int_equal(metric_add(f, L("default", "aa"), 1), 0);
	assert_int_equal(metric_get(f, L("default", "aa"), &v), 0);
	assert_int_equal(metric_get(f, L("default", "b"), &v), 0);
	assert_true(v == 20);
	assert_int_equal(metric_family_replace(f, NULL, 0), 0);
	expect(m, "# HELP bytes_total B.\n# TYPE bytes_total counter\n");

	/* Unlabelled: empty means back to its one series at 0. */
	assert_int_equal(metrics_gauge(m, "up", "U.", NULL, &u), 0);
	assert_int_equal(metric_set(u, NULL, 1), 0);
	assert_int_equal(metric_family_replace(u, NULL, 0), 0);
	assert_int_equal(metric_get(u, NULL, &v), 0);
	assert_true(v == 0);
	metrics_free(m);
}

/* With any allocation failing, replace either succeeds or leaves the family exactly as
 * it rendered before. */
static int replace_or_keep(void *data)
{
	struct metric_family *f = data;
	const struct metric_sample next[] = {
		{ L("n1"), 1 }, { L("n2"), 2 }, { L("n3"), 3 },
	};
	double v = 0;
	int r = metric_family_replace(f, next, 3);

	if (r == 0) {
		assert_int_equal(metric_get(f, L("n2"), &v), 0);
		assert_true(v == 2);
		/* Back to the original for the next run. */
		alloc_fail_arm(0);
		assert_int_equal(metric_family_replace(f, (const struct metric_sample[]){
								   { L("o1"), 7 } },
						       1),
				 0);
		return 0;
	}
	assert_int_equal(metric_get(f, L("o1"), &v), 0);
	assert_true(v == 7);
	assert_int_equal(metric_get(f, L("n1"), &v), -ENOENT);
	return r;
}

static int build_registry(void *data)
{
	static const double b[] = { 1 };
	struct metrics *m = metrics_new();
	struct metric_family *f = NULL;
	int r;

	if (!m)
		return -ENOMEM;
	r = metrics_counter(m, "c", "C.", L("a", "b", NULL), &f);
	if (r >= 0)
		r = metric_add(f, L("x", "y"), 1);
	if (r >= 0)
		r = metrics_histogram(m, "h", "H.", L("a", NULL), b, 1, &f);
	if (r >= 0)
		r = metric_observe(f, L("x"), 1);
	if (r >= 0)
		r = metrics_gauge(m, "g", "G.", NULL, &f);
	metrics_free(m);
	return r;
}

static void allocation_failures(void **state)
{
	struct metrics *m = metrics_new();
	struct metric_family *f = NULL;

	assert_int_equal(metrics_gauge(m, "g", "", L("k", NULL), &f), 0);
	assert_int_equal(metric_set(f, L("o1"), 7), 0);
	assert_true(alloc_fail_each("metric_family_replace", replace_or_keep, f, NULL) > 0);
	metrics_free(m);
	assert_true(alloc_fail_each("registry", build_registry, NULL, NULL) > 5);
}

static int register_daemon(void *data)
{
	struct daemon_metrics dm;
	struct metrics *m = metrics_new();
	int r = m ? daemon_metrics_register(m, "v", &dm) : -ENOMEM;

	metrics_free(m);
	return r;
}

/* The daemon's families: the names, types and labels docs/daemon.md promises. */
static void daemon_families(void **state)
{
	static const char *const want[] = {
		"# TYPE nftgate_backend_bytes_total counter",
		"# TYPE nftgate_backend_connections_total counter",
		"# TYPE nftgate_backend_packets_total counter",
		"# TYPE nftgate_backend_rejects_total counter",
		"# TYPE nftgate_build_info gauge",
		"# TYPE nftgate_conntrack_cleanup_failures_total counter",
		"nftgate_conntrack_cleanup_failures_total 0",
		"# TYPE nftgate_conntrack_flows_deleted_total counter",
		"nftgate_conntrack_flows_deleted_total 0",
		"nftgate_build_info{version=\"1.2-test\"} 1",
		"# TYPE nftgate_drift_repairs_total counter",
		"nftgate_drift_repairs_total 0",
		"# TYPE nftgate_input_errors gauge",
		"# TYPE nftgate_last_sync_timestamp_seconds gauge",
		"# TYPE nftgate_objects gauge",
		"# TYPE nftgate_reconcile_duration_seconds histogram",
		"nftgate_reconcile_duration_seconds_bucket{le=\"0.0005\"} 0",
		"nftgate_reconcile_duration_seconds_count 0",
		"# TYPE nftgate_reconcile_failures_total counter",
		"nftgate_reconcile_failures_total 0",
		"# TYPE nftgate_reconcile_netlink_messages histogram",
		"# TYPE nftgate_route_bytes_total counter",
		"# TYPE nftgate_route_connections_total counter",
		"# TYPE nftgate_route_packets_total counter",
		"# TYPE nftgate_route_rejects_total counter",
	};
	struct daemon_metrics dm = { 0 }, again;
	struct metrics *m = metrics_new();
	const struct metric_sample routes[] = {
		{ L("TCP", "default", "tcp-app-1", "default/my-tcp-gateway", "foo"), 12 },
		{ L("UDP", "default", "tcp-app-1", "default/my-tcp-gateway", "foo"), 3 },
	};
	const struct metric_sample backends[] = {
		{ L("TCP", "default", "tcp-app-1", "default/my-tcp-gateway", "foo",
		    "default/my-foo-service:6000"), 12 },
	};
	char *text, *p;
	size_t n_types = 0;

	assert_int_equal(daemon_metrics_register(m, "1.2-test", &dm), 0);
	assert_int_equal(metric_family_replace(dm.route_connections, routes, 2), 0);
	assert_int_equal(metric_family_replace(dm.backend_connections, backends, 1), 0);
	assert_int_equal(metric_observe(dm.reconcile_messages, NULL, 0), 0);
	assert_int_equal(metric_set(dm.objects, L("TCPRoute"), 2), 0);
	assert_int_equal(metric_set(dm.input_errors, L("/etc/nftgate/manifests/a.yaml"), 1), 0);
	text = render(m);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char line[256];

		snprintf(line, sizeof(line), "%s\n", want[i]);
		assert_non_null(strstr(text, line));
	}
	for (p = text; (p = strstr(p, "# TYPE ")); p++)
		n_types++;
	assert_int_equal(n_types, 18);
	/* one route name, two protocols: two series */
	assert_non_null(strstr(text, "nftgate_route_connections_total{protocol=\"TCP\","
				     "namespace=\"default\",route=\"tcp-app-1\","
				     "gateway=\"default/my-tcp-gateway\",listener=\"foo\"} 12\n"));
	assert_non_null(strstr(text, "nftgate_route_connections_total{protocol=\"UDP\","
				     "namespace=\"default\",route=\"tcp-app-1\","
				     "gateway=\"default/my-tcp-gateway\",listener=\"foo\"} 3\n"));
	assert_non_null(strstr(text, ",listener=\"foo\",backend=\"default/my-foo-service:6000\"} 12\n"));
	assert_non_null(strstr(text, "nftgate_reconcile_netlink_messages_bucket{le=\"0\"} 1\n"));
	free(text);
	assert_int_equal(daemon_metrics_register(m, "x", &again), -EEXIST);
	metrics_free(m);
	assert_true(alloc_fail_each("daemon_metrics_register", register_daemon, NULL, NULL) > 15);
}

static int set_input_errors(void *data)
{
	static const struct input_file_errors files[] = { { "a.yaml", 2 }, { "b.yaml", 0 } };
	struct daemon_metrics dm;
	struct metrics *m = metrics_new();
	int r = m ? daemon_metrics_register(m, "v", &dm) : -ENOMEM;

	if (r >= 0)
		r = daemon_metrics_input_errors(&dm, files, 2);
	metrics_free(m);
	return r;
}

/* The lines of one family in the registry's text, from its HELP to the next family's. */
static void expect_family(const struct metrics *m, const char *name, const char *want)
{
	char *text = render(m), *start, *end;
	char help[128];

	snprintf(help, sizeof(help), "# HELP %s ", name);
	start = strstr(text, help);
	assert_non_null(start);
	end = strstr(start + 1, "# HELP ");
	if (end)
		*end = '\0';
	assert_string_equal(start, want);
	free(text);
}

/* nftgate_input_errors holds the files given and no other: a file deleted (or no longer
 * listed) loses its series rather than keeping its last value. */
static void input_errors_follow_the_files(void **state)
{
	static const char head[] = "# HELP nftgate_input_errors Errors in the last read of "
				   "each input file.\n# TYPE nftgate_input_errors gauge\n";
	const struct input_file_errors three[] = {
		{ "/m/c.yaml", 1 }, { "/m/a.yaml", 3 }, { "/m/b.yaml", 0 },
	};
	const struct input_file_errors two[] = { { "/m/a.yaml", 0 }, { "/m/c.yaml", 1 } };
	const struct input_file_errors twice[] = { { "/m/a.yaml", 1 }, { "/m/a.yaml", 2 } };
	struct daemon_metrics dm = { 0 };
	struct metrics *m = metrics_new();
	char want[512];
	double v;

	assert_int_equal(daemon_metrics_register(m, "v", &dm), 0);
	assert_int_equal(daemon_metrics_input_errors(&dm, three, 3), 0);
	snprintf(want, sizeof(want), "%snftgate_input_errors{file=\"/m/a.yaml\"} 3\n"
		 "nftgate_input_errors{file=\"/m/b.yaml\"} 0\n"
		 "nftgate_input_errors{file=\"/m/c.yaml\"} 1\n", head);
	expect_family(m, "nftgate_input_errors", want);
	/* b.yaml deleted, a.yaml fixed */
	assert_int_equal(daemon_metrics_input_errors(&dm, two, 2), 0);
	snprintf(want, sizeof(want), "%snftgate_input_errors{file=\"/m/a.yaml\"} 0\n"
		 "nftgate_input_errors{file=\"/m/c.yaml\"} 1\n", head);
	expect_family(m, "nftgate_input_errors", want);
	assert_int_equal(metric_get(dm.input_errors, L("/m/b.yaml"), &v), -ENOENT);
	/* a file given twice: refused, nothing changes */
	assert_int_equal(daemon_metrics_input_errors(&dm, twice, 2), -EINVAL);
	expect_family(m, "nftgate_input_errors", want);
	/* no file left: no series */
	assert_int_equal(daemon_metrics_input_errors(&dm, NULL, 0), 0);
	expect_family(m, "nftgate_input_errors", head);
	metrics_free(m);
	assert_true(alloc_fail_each("daemon_metrics_input_errors", set_input_errors, NULL,
				    NULL) > 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renders_sorted_exact_text),
		cmocka_unit_test(labelled_histograms),
		cmocka_unit_test(escapes_label_values_and_help),
		cmocka_unit_test(formats_numbers_so_they_read_back),
		cmocka_unit_test(rejects_bad_names_and_values),
		cmocka_unit_test(replace_swaps_a_whole_family),
		cmocka_unit_test(allocation_failures),
		cmocka_unit_test(daemon_families),
		cmocka_unit_test(input_errors_follow_the_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
