/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's metric families, registered from one table so that their names, types and
 * labels are fixed in one place (docs/daemon.md lists them and says who fills each).
 *
 * Per-route and per-backend families mirror the kernel's counter objects: fill them each
 * scrape with metric_family_replace() (one sample per counter object read). Label values:
 * protocol = "TCP" or "UDP" (the listener's), namespace/route of the route, gateway = "<namespace>/<name>" of the parent Gateway,
 * listener = the section name, backend = "<namespace>/<service>:<port>" of the backendRef.
 */
#ifndef NFTGATE_AGENT_OBS_DAEMON_METRICS_H
#define NFTGATE_AGENT_OBS_DAEMON_METRICS_H

#include "agent/obs/metrics.h"

struct daemon_metrics {
	/* labels: protocol, namespace, route, gateway, listener */
	struct metric_family *route_connections;
	struct metric_family *route_rejects;
	struct metric_family *route_packets;
	struct metric_family *route_bytes;
	/* labels: protocol, namespace, route, gateway, listener, backend */
	struct metric_family *backend_connections;
	struct metric_family *backend_rejects;
	struct metric_family *backend_packets;
	struct metric_family *backend_bytes;
	struct metric_family *reconcile_seconds;  /* histogram, no labels */
	struct metric_family *reconcile_messages; /* histogram, no labels */
	struct metric_family *last_sync;          /* gauge, unix seconds */
	struct metric_family *objects;            /* gauge, label kind */
	struct metric_family *input_errors;       /* gauge, label file */
	struct metric_family *drift_repairs;      /* counter */
	struct metric_family *reconcile_failures; /* counter */
	struct metric_family *conntrack_flows_deleted;    /* counter */
	struct metric_family *conntrack_cleanup_failures; /* counter */
	struct metric_family *build_info;         /* gauge 1, label version */
};

/* Registers every family in m and sets build_info{version} to 1. On success fills *ret
 * (the families stay owned by m); -errno from the registry otherwise (m may then hold
 * some of them: free it). */
int daemon_metrics_register(struct metrics *m, const char *version, struct daemon_metrics *ret);

/* One input file and the errors of its last read, for daemon_metrics_input_errors(). */
struct input_file_errors {
	const char *file;        /* borrowed */
	double errors;           /* 0 once it parses */
};

/* Sets nftgate_input_errors to exactly the n files given, in one step: a file not among
 * them (deleted, or no longer listed) has no series any more, as a per-file gauge whose
 * file is gone ends its series in Prometheus (rather than going on with a stale value).
 * Returns 0, or -errno from metric_family_replace() (-EINVAL for a file given twice,
 * -ENOMEM), leaving the family as it was. */
int daemon_metrics_input_errors(const struct daemon_metrics *dm,
				const struct input_file_errors *files, size_t n);

#endif
