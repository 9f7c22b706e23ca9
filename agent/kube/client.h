/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP calls to the API server on the daemon's loop: a libcurl multi handle whose sockets
 * and timer are loop sources (agent/daemon/loop.h), so every list, watch and status write
 * shares the one thread with inotify, netlink and the metrics server. HTTP/2 when the server
 * offers it (all calls then share one connection), TLS verified against the config's CA,
 * TCP keepalive, a connect timeout, and the bearer token of the config: on a 401 the token
 * file is re-read and, when the token changed, the call is sent once more before it is
 * reported.
 *
 * A call ends exactly once, in on_done, unless it is cancelled first; after on_done returns
 * the call is gone. Callbacks run from loop callbacks; starting new calls and cancelling
 * others from inside them is allowed.
 */
#ifndef NFTGATE_AGENT_KUBE_CLIENT_H
#define NFTGATE_AGENT_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_config;
struct logger;
struct loop;

struct kube_client;
struct kube_call;

/* How a call ended. */
struct kube_reply {
	long status;          /* the HTTP status; 0 when no response came (see err) */
	int err;              /* 0 when a response came complete; else the transport's failure:
			       * -ETIMEDOUT (connect, whole-call or stall bound), -ECONNREFUSED,
			       * -EHOSTUNREACH, -ECONNRESET (cut, also mid-body), -EPROTO (TLS),
			       * -ECANCELED (on_data stopped it), -ENOMEM, -EIO (other) */
	const char *error;    /* for logs: what failed ("" when nothing did) */
	const char *body;     /* the whole body, NUL-terminated, when the request had no
			       * on_data (also for error statuses); else NULL */
	size_t body_len;
	uint64_t retry_after_ms; /* the Retry-After header, 0 when absent */
	bool http2;           /* the response came over HTTP/2 */
};

/* Streamed body bytes (only for a 2xx response; an error status's body is buffered into the
 * reply instead). Return 0 to go on, <0 to stop the call (it then ends with -ECANCELED). */
typedef int kube_data_fn(const char *buf, size_t len, void *ctx);
/* The call's end; the reply and everything it points to live during the callback only. */
typedef void kube_done_fn(const struct kube_reply *r, void *ctx);

struct kube_request {
	const char *method;      /* "GET" when NULL; "PUT", "POST", "PATCH", "DELETE" */
	const char *path;        /* "/apis/...?...", query already escaped; copied */
	const char *body;        /* copied; NULL: none */
	size_t body_len;
	const char *content_type; /* "application/json" when NULL and there is a body */
	uint64_t timeout_ms;     /* whole call, 0: none (watches carry their own bound) */
	uint64_t stall_ms;       /* ends the call with -ETIMEDOUT when no byte came for this
				  * long, 0: never */
	size_t max_body;         /* bound on a buffered body (0: 64 MiB); more is -E2BIG */
	kube_data_fn *on_data;   /* NULL: the body is buffered into the reply */
	kube_done_fn *on_done;   /* required */
	void *ctx;
};

/* A client for cfg (borrowed: outlives the client; its token is refreshed in place). log is
 * borrowed and may be NULL. Returns 0 or -errno (-ENOMEM, or what curl refused). */
int kube_client_new(struct loop *l, struct kube_config *cfg, struct logger *log,
		    struct kube_client **ret);

/* Cancels every call (no on_done) and frees the client. Accepts NULL; returns NULL. */
struct kube_client *kube_client_free(struct kube_client *c);

/* Starts a call. *ret (may be NULL) names it for kube_call_cancel() until on_done runs.
 * Returns 0 or -errno; on failure on_done is never called. */
int kube_call_start(struct kube_client *c, const struct kube_request *rq, struct kube_call **ret);

/* Ends the call now, without on_done. Safe from any callback; accepts NULL. */
void kube_call_cancel(struct kube_call *call);

/* The number of calls under way (for tests and /metrics). */
size_t kube_client_calls(const struct kube_client *c);

/* URL-escapes s into a new string (for selectors and continue tokens in a path), or NULL. */
char *kube_escape(const char *s);

#endif
