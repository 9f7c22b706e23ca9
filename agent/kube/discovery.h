/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which version of each kind the API server serves, from discovery (GET /apis/GROUP/VERSION
 * for the versions nftgate reads, newest first): TCPRoute and UDPRoute v1 or v1alpha2,
 * ReferenceGrant v1 or v1beta1, GatewayClass and Gateway v1, EndpointSlice discovery.k8s.io/v1,
 * Service and Namespace v1. A kind whose group/version is not served (404: the CRD is not
 * installed) is reported missing; the caller retries discovery later.
 */
#ifndef NFTGATE_AGENT_KUBE_DISCOVERY_H
#define NFTGATE_AGENT_KUBE_DISCOVERY_H

#include <stdbool.h>

#include "model/objects.h"

struct kube_client;

/* One kind as served. */
struct served_kind {
	enum kind kind;
	const char *resource;    /* "tcproutes" (static) */
	char api_version[64];    /* "gateway.networking.k8s.io/v1", "v1"; "" when not served */
	char base[96];           /* "/apis/gateway.networking.k8s.io/v1", "/api/v1" */
	bool namespaced;
	bool status;             /* the resource has a /status subresource */
};

struct discovery {
	struct served_kind kinds[KIND__COUNT]; /* indexed by enum kind */
	int err;                 /* 0, or why the last pass failed (-errno, -EACCES on 403...) */
	char error[256];
};

typedef void discovery_done_fn(struct discovery *d, void *ctx);

/* Runs one discovery pass (several GETs) and calls done once with d filled in; d is the
 * caller's and must outlive the pass. Returns 0 or -errno (done is then never called). */
int discovery_run(struct kube_client *c, struct discovery *d, discovery_done_fn *done, void *ctx);

/* Every kind has a served version. */
bool discovery_complete(const struct discovery *d);

#endif
