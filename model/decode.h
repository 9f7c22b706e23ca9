/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to model/: per-kind decoders from a yaml_tree document to a typed object, the
 * typed field getters they share, and the per-object destructors the store uses too.
 *
 * One convention for every function here and every decoder built on them: an input error
 * is reported in x (x->errors counts it) and decoding goes on, so that one run reports every
 * problem; the return value is 0, or -ENOMEM, which stops decoding. An output is written
 * only when its field is present and valid: an absent field and a reported one both leave
 * it untouched, and dec_has() tells them apart where a default or "is required" depends on
 * it. Getters type a scalar by the field it fills (read.h); null means absent.
 */
#ifndef NFTGATE_MODEL_DECODE_H
#define NFTGATE_MODEL_DECODE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/array.h"
#include "model/diag.h"
#include "model/objects.h"
#include "model/yaml_tree.h"

#define FIELD_MAX 512

/* One object being decoded. */
struct dec {
	struct diags *d;
	const char *file;      /* the store's name of the input (s->inputs[].name) */
	const char *api_version;
	char object[640];      /* "TCPRoute default/tcp-app-1", for every message */
	unsigned line;         /* the object's line: where an error about an absent field points */
	unsigned errors;       /* errors reported for this object */
};

/* Reports an error at node `at` (its line; the object's line when NULL, as for a field whose
 * parent mapping is absent too). Returns 0, or -ENOMEM when it could not be recorded. */
int dec_err(struct dec *x, const struct ynode *at, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reports that node n is not of the wanted shape ("an integer", "a mapping"...). */
int dec_type_err(struct dec *x, const struct ynode *n, const char *field, const char *want);

/* Writes "<parent>.<key>" or "<parent>[i]" into buf (FIELD_MAX bytes). */
const char *field_key(char *buf, const char *parent, const char *key);
const char *field_idx(char *buf, const char *parent, size_t i);

/* Whether map[key] is there and not null (a value that was reported as bad included). */
bool dec_has(const struct ynode *map, const char *key);

/* map[key] with the type checked; `node` is the value, NULL when absent (reported when
 * `required`) or of another type (reported). */
int dec_map(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    bool required, const struct ynode **node);
int dec_seq(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    bool required, const struct ynode **node);
/* A string field: any scalar, as written. *out is a new copy; left NULL when absent. */
int dec_str(struct dec *x, const struct ynode *map, const char *key, const char *field, char **out);
/* A string from a scalar node directly (sequence items, label values). */
int dec_str_node(struct dec *x, const struct ynode *n, const char *field, char **out);
/* An integer field: plain decimal digits only, no leading zero (YAML 1.1 readers, kubectl's
 * among them, take 010 as octal 8), within [min, max]. */
int dec_int(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    int64_t min, int64_t max, bool required, int64_t *out);
/* A boolean field: plain true or false only. */
int dec_bool(struct dec *x, const struct ynode *map, const char *key, const char *field, bool *out);
/* A string-to-string mapping (labels, matchLabels); `check` validates label keys/values. */
int dec_labels(struct dec *x, const struct ynode *map, const char *key, const char *field,
	       bool check, struct labels *out);
/* A string field checked by `valid` (NULL: any), described by `what` in the error;
 * `required` reports an absent field. */
int dec_str_checked(struct dec *x, const struct ynode *map, const char *key, const char *field,
		    bool required, bool (*valid)(const char *), const char *what, char **out);
/* The item of a list that must be a mapping; NULL (after reporting; *r is 0 or -ENOMEM)
 * when it is not. */
const struct ynode *dec_item_map(struct dec *x, const struct ynode *seq, size_t i, const char *field,
				 int *r);
/* Reports a missing required field. */
int dec_required(struct dec *x, const struct ynode *parent, const char *field);
/* Reports a sequence that has not min..max entries. */
int dec_count(struct dec *x, const struct ynode *seq, const char *field, size_t min, size_t max);

/*
 * Lists of mappings (spec.listeners, rules, backendRefs, ...). A list is decoded in two steps
 * so that a kind can check its own things in between (counts, sibling lists):
 * dec_list_open() finds it, dec_list_items() decodes its items into a caller-allocated array.
 */

/* Finds map[key], a list whose path "<parent>.<key>" is written into f (FIELD_MAX bytes);
 * reports it when absent and `required`, or when it has not min..max entries. *seq is the
 * list, NULL when absent or rejected. */
int dec_list_open(struct dec *x, const struct ynode *map, const char *parent, const char *key,
		  bool required, size_t min, size_t max, char *f, const struct ynode **seq);

/* Decodes input item i, the mapping m at field path f (valid during the call), into elem
 * (zeroed); ctx is the caller's, borrowed. */
typedef int dec_item_fn(struct dec *x, const struct ynode *m, const char *f, size_t i, void *elem,
			void *ctx);

/* What an item that is not a mapping does to the array (it is reported either way). */
enum dec_list_mode {
	DEC_LIST_COMPACT, /* it is left out: elements are the mapping items, in order */
	DEC_LIST_ALIGNED, /* it keeps a zeroed element, so element i is input item i */
};

/* Reports every item of seq (at path f) that is not a mapping and decodes the others with
 * `item` into arr, an array of seq->n elements of `size` bytes (borrowed; NULL, a failed
 * allocation, returns -ENOMEM). *n counts the elements used, each before it is decoded, so
 * that the owner's destructor frees what a failure left. */
int dec_list_items(struct dec *x, const struct ynode *seq, const char *f, enum dec_list_mode mode,
		   void *arr, size_t size, size_t *n, dec_item_fn *item, void *ctx);

/* The wording of the rules shared by several kinds' reference fields, for dec_str_checked(). */
#define WHAT_SECTION "a valid section name (lowercase RFC 1123 subdomain, 1..253 characters)"
#define WHAT_GROUP "a valid group (empty or a lowercase RFC 1123 subdomain, at most 253 characters)"
#define WHAT_KIND "a valid kind (a letter, then letters, digits or '-', ending with a letter or " \
		  "digit, 1..63 characters)"
#define WHAT_NAME "a valid name (1..253 characters)"

/* The name of a referenced object (WHAT_NAME): 1..253 characters. */
bool valid_object_name(const char *s);

/* Sets *p to a copy of def when *p is NULL (a defaulted field). def may be NULL when it came
 * from an invalid namespace (the object is dropped anyway): *p stays NULL. Returns 0 or -ENOMEM. */
int dec_default(char **p, const char *def);

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

/* RFC 3339 to Unix seconds. Returns 0 or -EINVAL (a plain check: it reports nothing). */
int parse_rfc3339(const char *s, int64_t *ret);

/* Per-kind spec decoders: fill out (already holding its meta); errors go to x. */
int decode_gateway_class(struct dec *x, const struct ynode *root, struct gateway_class *out);
int decode_gateway(struct dec *x, const struct ynode *root, struct gateway *out);
/* A TCPRoute or UDPRoute (kind, which out->kind is set to): the same schema. */
int decode_route(struct dec *x, const struct ynode *root, enum kind kind, struct route *out);
int decode_reference_grant(struct dec *x, const struct ynode *root, struct reference_grant *out);
int decode_service(struct dec *x, const struct ynode *root, struct service *out);
int decode_endpoint_slice(struct dec *x, const struct ynode *root, struct endpoint_slice *out);
int decode_namespace(struct dec *x, const struct ynode *root, struct namespace_obj *out);

/* Free what an object owns (not the object itself); safe on a zeroed or half-built object. */
void gateway_class_free_contents(struct gateway_class *c);
void gateway_free_contents(struct gateway *g);
void route_free_contents(struct route *r);
void reference_grant_free_contents(struct reference_grant *g);
void service_free_contents(struct service *s);
void endpoint_slice_free_contents(struct endpoint_slice *e);
void namespace_free_contents(struct namespace_obj *n);

#endif
