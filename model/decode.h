/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: per-kind decoders from a yaml_tree document to a typed object, and
 * the per-object destructors the store and the decoders share.
 */
#ifndef NFTGATE_MODEL_DECODE_H
#define NFTGATE_MODEL_DECODE_H

#include "model/objects.h"

/* Free what an object owns (not the object itself); safe on a zeroed or half-built object. */
void gateway_class_free_contents(struct gateway_class *c);
void gateway_free_contents(struct gateway *g);
void tcp_route_free_contents(struct tcp_route *r);
void reference_grant_free_contents(struct reference_grant *g);
void service_free_contents(struct service *s);
void endpoint_slice_free_contents(struct endpoint_slice *e);
void namespace_free_contents(struct namespace_obj *n);

#endif
