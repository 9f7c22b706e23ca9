/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "agent/obs/daemon_metrics.h"

/* protocol first: a TCPRoute and a UDPRoute of one name are different series */
#define ROUTE_LABELS "protocol", "namespace", "route", "gateway", "listener"

static const char *const route_labels[] = { ROUTE_LABELS, NULL };
static const char *const backend_labels[] = { ROUTE_LABELS, "backend", NULL };
static const char *const kind_labels[] = { "kind", NULL };
static const char *const file_labels[] = { "file", NULL };
static const char *const version_labels[] = { "version", NULL };

/* Seconds: from well under a millisecond for a few objects to seconds for tens of
 * thousands of routes. */
static const double seconds_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
/* Netlink messages in one transaction: 0 when nothing changed; grows with what changed. */
static const double message_buckets[] = { 0, 1, 10, 100, 1000, 10000, 100000 };

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct family_def {
	const char *name;
	const char *help;
	enum metric_type type;
	const char *const *labels;
	const double *buckets;
	size_t n_buckets;
	size_t offset; /* of the pointer in struct daemon_metrics */
};

#define F(field) offsetof(struct daemon_metrics, field)

static const struct family_def defs[] = {
	{ "nftgate_route_connections_total", "New connections (UDP: new flows) accepted for a route (kernel counter).",
	  METRIC_COUNTER, route_labels, NULL, 0, F(route_connections) },
	{ "nftgate_route_rejects_total", "New connections of a route refused: TCP reset, or for UDP each datagram answered "
	  "with ICMP port-unreachable.",
	  METRIC_COUNTER, route_labels, NULL, 0, F(route_rejects) },
	{ "nftgate_route_packets_total", "Packets of a route's new connections (kernel counter).",
	  METRIC_COUNTER, route_labels, NULL, 0, F(route_packets) },
	{ "nftgate_route_bytes_total", "Bytes of a route's new connections (kernel counter).",
	  METRIC_COUNTER, route_labels, NULL, 0, F(route_bytes) },
	{ "nftgate_backend_connections_total", "New connections (UDP: new flows) sent to a backendRef.",
	  METRIC_COUNTER, backend_labels, NULL, 0, F(backend_connections) },
	{ "nftgate_backend_rejects_total", "New connections of a backendRef's share rejected "
	  "(invalid backend or no ready endpoint).",
	  METRIC_COUNTER, backend_labels, NULL, 0, F(backend_rejects) },
	{ "nftgate_backend_packets_total", "Packets counted for a backendRef.",
	  METRIC_COUNTER, backend_labels, NULL, 0, F(backend_packets) },
	{ "nftgate_backend_bytes_total", "Bytes counted for a backendRef.",
	  METRIC_COUNTER, backend_labels, NULL, 0, F(backend_bytes) },
	{ "nftgate_reconcile_duration_seconds", "Time from the start of a reconcile to the "
	  "kernel's answer.",
	  METRIC_HISTOGRAM, NULL, seconds_buckets, N(seconds_buckets), F(reconcile_seconds) },
	{ "nftgate_reconcile_netlink_messages", "Netlink messages sent by one reconcile.",
	  METRIC_HISTOGRAM, NULL, message_buckets, N(message_buckets), F(reconcile_messages) },
	{ "nftgate_last_sync_timestamp_seconds", "When the kernel last matched the last good "
	  "inputs (unix time).",
	  METRIC_GAUGE, NULL, NULL, 0, F(last_sync) },
	{ "nftgate_objects", "Objects in the store, by kind.",
	  METRIC_GAUGE, kind_labels, NULL, 0, F(objects) },
	{ "nftgate_input_errors", "Errors in the last read of each input file.",
	  METRIC_GAUGE, file_labels, NULL, 0, F(input_errors) },
	{ "nftgate_drift_repairs_total", "Times the kernel was found changed behind nftgate's "
	  "back and put right.",
	  METRIC_COUNTER, NULL, NULL, 0, F(drift_repairs) },
	{ "nftgate_reconcile_failures_total", "Reconciles that failed (the kernel refused the "
	  "transaction, its outcome was unknown, or the plan could not be laid out); each is "
	  "retried with backoff.",
	  METRIC_COUNTER, NULL, NULL, 0, F(reconcile_failures) },
	{ "nftgate_conntrack_flows_deleted_total", "UDP conntrack entries deleted after a commit "
	  "removed or moved their endpoint (they would go on reaching it until they time out).",
	  METRIC_COUNTER, NULL, NULL, 0, F(conntrack_flows_deleted) },
	{ "nftgate_conntrack_cleanup_failures_total", "Commits after which deleting the UDP "
	  "conntrack entries of removed endpoints failed (the commit stands; the entries time "
	  "out).",
	  METRIC_COUNTER, NULL, NULL, 0, F(conntrack_cleanup_failures) },
	{ "nftgate_build_info", "Always 1; the version label says which nftgate runs.",
	  METRIC_GAUGE, version_labels, NULL, 0, F(build_info) },
};

static int add(struct metrics *m, const struct family_def *d, struct metric_family **ret)
{
	switch (d->type) {
	case METRIC_COUNTER: return metrics_counter(m, d->name, d->help, d->labels, ret);
	case METRIC_GAUGE: return metrics_gauge(m, d->name, d->help, d->labels, ret);
	case METRIC_HISTOGRAM:
		return metrics_histogram(m, d->name, d->help, d->labels, d->buckets, d->n_buckets,
					 ret);
	}
	return -EINVAL;
}

int daemon_metrics_register(struct metrics *m, const char *version, struct daemon_metrics *ret)
{
	struct daemon_metrics dm = { 0 };
	int r;

	for (size_t i = 0; i < N(defs); i++) {
		r = add(m, &defs[i], (struct metric_family **)((char *)&dm + defs[i].offset));
		if (r < 0)
			return r;
	}
	r = metric_set(dm.build_info, (const char *const[]){ version }, 1);
	if (r < 0)
		return r;
	*ret = dm;
	return 0;
}

int daemon_metrics_input_errors(const struct daemon_metrics *dm,
				const struct input_file_errors *files, size_t n)
{
	struct metric_sample *v = calloc(n ? n : 1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i].labels = &files[i].file; /* the family's one label */
		v[i].value = files[i].errors;
	}
	r = metric_family_replace(dm->input_errors, v, n);
	free(v);
	return r;
}
