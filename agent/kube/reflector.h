/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One resource kept in step with the API server: list (paged with limit/continue), then
 * watch from the list's resourceVersion with allowWatchBookmarks and a randomised
 * timeoutSeconds, for ever. The reflector knows each object's key (namespace/name), uid and
 * resourceVersion, so that a relist (after 410 Gone: an HTTP status or an ERROR event in a 200
 * stream; or an expired continue token) reports exactly the objects that were added, changed
 * or deleted meanwhile. A watch that ends cleanly is re-opened from the last resourceVersion
 * without a relist; a failure (refused, cut, stalled: no byte for longer than the watch's own
 * bound plus the bookmark interval, 5xx, 429 with Retry-After) waits a jittered exponential
 * backoff first (0.8 s doubling to 30 s, reset after a healthy watch). 401/403 are logged
 * once per change with the verb, resource and namespace and retried slowly (60 s).
 */
#ifndef NFTGATE_AGENT_KUBE_REFLECTOR_H
#define NFTGATE_AGENT_KUBE_REFLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct kube_client;
struct logger;
struct loop;
struct reflector;

enum reflector_change { REFLECTOR_UPSERT, REFLECTOR_DELETE };

/* An object added or changed (obj: the whole object, borrowed for the call, apiVersion and
 * kind filled in even where list items lack them), or deleted (obj: its last state as the
 * server sent it, or NULL when the deletion was found by a relist). ns is "" for
 * cluster-scoped objects. */
typedef void reflector_change_fn(struct reflector *r, enum reflector_change what,
				 const char *ns, const char *name, struct json_object *obj,
				 void *ctx);
/* The first list (synced = true) has been reported in full; later relists call it too. */
typedef void reflector_synced_fn(struct reflector *r, void *ctx);

struct reflector_config {
	const char *resource;    /* plural, for logs and messages: "tcproutes" */
	const char *api_version; /* "gateway.networking.k8s.io/v1", "v1": filled into objects */
	const char *kind;        /* "TCPRoute": filled into list items that lack it */
	const char *path;        /* the collection: "/apis/gateway.networking.k8s.io/v1/tcproutes"
				  * or ".../namespaces/NS/tcproutes" */
	const char *label_selector; /* NULL: none */
	uint32_t page_limit;     /* items per list page, 0: 500 */
	uint32_t watch_min_s, watch_max_s; /* timeoutSeconds drawn from [min, max]; 0: 300..600 */
	reflector_change_fn *on_change;
	reflector_synced_fn *on_synced;
	void *ctx;
};

/* Counters for logs and /metrics. */
struct reflector_stats {
	uint64_t lists;          /* list passes started (the first included) */
	uint64_t relists;        /* of those, after 410 or an expired continue token */
	uint64_t watches;        /* watch requests started */
	uint64_t events;         /* ADDED/MODIFIED/DELETED applied */
	uint64_t bookmarks;
	uint64_t failures;       /* requests that failed (transport, non-2xx, bad stream) */
	long last_status;        /* HTTP status of the last failure, 0: transport or none */
	char last_error[256];    /* "" when the last request succeeded */
};

/* Copies cfg (strings included). Starts nothing. */
int reflector_new(struct loop *l, struct kube_client *c, struct logger *log,
		  const struct reflector_config *cfg, struct reflector **ret);
/* Cancels its calls and timers. Accepts NULL; returns NULL. */
struct reflector *reflector_free(struct reflector *r);

/* Lists, then watches. */
int reflector_start(struct reflector *r);

/* Drops the watch and lists again (SIGHUP); deletions meanwhile are found by the diff. */
void reflector_relist(struct reflector *r);

bool reflector_synced(const struct reflector *r);       /* the first list has completed */
size_t reflector_size(const struct reflector *r);       /* objects known */
const char *reflector_resource(const struct reflector *r);
const char *reflector_resource_version(const struct reflector *r); /* last seen, "" before */
const struct reflector_stats *reflector_stats(const struct reflector *r);

#endif
