/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: per-kind decoders from a yaml_tree document to a typed object, the
 * typed field getters they share, and the per-object destructors the store uses too.
 *
 * Getters type a scalar by the field it fills (read.h): they report a bad field in the
 * decoder's diags and return -EINVAL, return -ENOMEM when memory ran out, and 0 otherwise
 * (an absent or null field leaves the output untouched and *present false).
 */
#ifndef NFTGATE_MODEL_DECODE_H
#define NFTGATE_MODEL_DECODE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/diag.h"
#include "model/objects.h"
#include "model/yaml_tree.h"

#define FIELD_MAX 512

/* One object being decoded. */
struct dec {
	struct diags *d;
	const char *file;      /* interned in the store */
	const char *api_version;
	char object[640];      /* "TCPRoute default/tcp-app-1", for every message */
	unsigned errors;       /* errors reported for this object */
};

/* Reports an error at node `at` (its line; the object's line when NULL). Returns -EINVAL,
 * or -ENOMEM when the error could not be recorded. */
int dec_err(struct dec *x, const struct ynode *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reports that node n is not of the wanted shape ("an integer", "a mapping"...). */
int dec_type_err(struct dec *x, const struct ynode *n, const char *field, const char *want);

/* Writes "<parent>.<key>" or "<parent>[i]" into buf (FIELD_MAX bytes). */
const char *field_key(char *buf, const char *parent, const char *key);
const char *field_idx(char *buf, const char *parent, size_t i);

/* Quotes a value for a message: escaped, truncated to 80 characters. */
const char *dec_quote(char *buf, size_t size, const char *s, size_t len);

/* map[key] with the type checked; `node` is the value or NULL when absent/null. */
int dec_map(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    const struct ynode **node);
int dec_seq(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    const struct ynode **node);
/* A string field: any scalar, as written. *out is a new copy; left NULL when absent. */
int dec_str(struct dec *x, const struct ynode *map, const char *key, const char *field, char **out);
/* A string from a scalar node directly (sequence items, label values). */
int dec_str_node(struct dec *x, const struct ynode *n, const char *field, char **out);
/* An integer field: plain decimal digits only, within [min, max]. */
int dec_int(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    int64_t min, int64_t max, int64_t *out, bool *present);
/* A boolean field: plain true or false only. */
int dec_bool(struct dec *x, const struct ynode *map, const char *key, const char *field,
	     bool *out, bool *present);
/* A string-to-string mapping (labels, matchLabels); `check` validates label keys/values. */
int dec_labels(struct dec *x, const struct ynode *map, const char *key, const char *field,
	       bool check, struct labels *out);
/* A string field checked by `valid` (NULL: any), described by `what` in the error;
 * `required` reports an absent field. */
int dec_str_checked(struct dec *x, const struct ynode *map, const char *key, const char *field,
		    bool required, bool (*valid)(const char *), const char *what, char **out);
/* The item of a list that must be a mapping; NULL (after reporting) when it is not. */
const struct ynode *dec_item_map(struct dec *x, const struct ynode *seq, size_t i, const char *field,
				 int *r);
/* Reports a missing required field. */
int dec_required(struct dec *x, const struct ynode *parent, const char *field);
/* Checks that a sequence has min..max entries. */
int dec_count(struct dec *x, const struct ynode *seq, const char *field, size_t min, size_t max);
/* Allocates n zeroed elements (n may be 0: returns a valid NULL-able pointer, see .c). */
void *dec_calloc(size_t n, size_t size);
/* Returns -ENOMEM if r is, else 0: errors already reported let decoding go on. */
static inline int dec_fatal(int r)
{
	return r == -ENOMEM ? r : 0;
}

/* A name rule of a kind (metadata.name), e.g. valid_dns1123_subdomain and its wording. */
struct name_rule {
	bool (*valid)(const char *s);
	const char *what; /* "an RFC 1123 subdomain (lowercase letters, digits, '-', '.'; at most 253)" */
};
extern const struct name_rule name_subdomain, name_label1123, name_label1035;

/* metadata: name (required, by rule), namespace (defaulted to "default" when namespaced,
 * NULL otherwise), generation, creationTimestamp, labels; sets x->object. */
int decode_meta(struct dec *x, const struct ynode *root, const char *kind, bool namespaced,
		const struct name_rule *rule, struct meta *m);

/* RFC 3339 to Unix seconds. Returns 0 or -EINVAL. */
int parse_rfc3339(const char *s, int64_t *ret);

/* Per-kind spec decoders: fill out (already holding its meta); errors go to x. */
int decode_gateway_class(struct dec *x, const struct ynode *root, struct gateway_class *out);
int decode_gateway(struct dec *x, const struct ynode *root, struct gateway *out);
int decode_tcp_route(struct dec *x, const struct ynode *root, struct tcp_route *out);
int decode_reference_grant(struct dec *x, const struct ynode *root, struct reference_grant *out);
int decode_service(struct dec *x, const struct ynode *root, struct service *out);
int decode_endpoint_slice(struct dec *x, const struct ynode *root, struct endpoint_slice *out);
int decode_namespace(struct dec *x, const struct ynode *root, struct namespace_obj *out);

/* Free what an object owns (not the object itself); safe on a zeroed or half-built object. */
void gateway_class_free_contents(struct gateway_class *c);
void gateway_free_contents(struct gateway *g);
void tcp_route_free_contents(struct tcp_route *r);
void reference_grant_free_contents(struct reference_grant *g);
void service_free_contents(struct service *s);
void endpoint_slice_free_contents(struct endpoint_slice *e);
void namespace_free_contents(struct namespace_obj *n);

#endif
