/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status set as a json-c tree, printed as JSON or walked into libyaml emitter events.
 * One tree for both formats keeps the two outputs identical in content and key order
 * (json-c objects iterate in insertion order).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <yaml.h>

#include "agent/status_emit.h"

void status_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* Adds v under k; false (and v freed) when v is NULL or the add fails. */
static bool put(struct json_object *o, const char *k, struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, k, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool push(struct json_object *a, struct json_object *v)
{
	if (!a || !v || json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool put_str(struct json_object *o, const char *k, const char *v)
{
	return put(o, k, json_object_new_string(v ? v : ""));
}

static bool put_int(struct json_object *o, const char *k, int64_t v)
{
	return put(o, k, json_object_new_int64(v));
}

/* obj when every field went in, else NULL (and obj freed). */
#define BUILD(obj, ok) ((ok) ? (obj) : (json_object_put(obj), (struct json_object *)NULL))

static struct json_object *condition_json(const struct condition *c, const char *now)
{
	struct json_object *o = json_object_new_object();
	bool ok = put_str(o, "type", c->type) &&
		  put_str(o, "status", cond_status_name(c->status)) &&
		  put_str(o, "reason", c->reason) && put_str(o, "message", c->message) &&
		  put_int(o, "observedGeneration", c->observed_generation) &&
		  put_str(o, "lastTransitionTime", now);

	return BUILD(o, ok);
}

static struct json_object *conditions_json(const struct condition *v, size_t n, const char *now)
{
	struct json_object *a = json_object_new_array();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = push(a, condition_json(&v[i], now));
	return BUILD(a, ok);
}

static struct json_object *kinds_json(const struct listener_status *l)
{
	struct json_object *a = json_object_new_array();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < l->n_supported_kinds; i++) {
		struct json_object *k = json_object_new_object();

		ok = put_str(k, "group", l->supported_kinds[i].group) &&
		     put_str(k, "kind", l->supported_kinds[i].kind);
		ok = ok ? push(a, k) : (json_object_put(k), false);
	}
	return BUILD(a, ok);
}

static struct json_object *listener_json(const struct listener_status *l, const char *now)
{
	struct json_object *o = json_object_new_object();
	bool ok = put_str(o, "name", l->name) && put(o, "supportedKinds", kinds_json(l)) &&
		  put_int(o, "attachedRoutes", l->attached_routes) &&
		  put(o, "conditions", conditions_json(l->conds, l->n_conds, now));

	return BUILD(o, ok);
}

static bool put_gateway(struct json_object *st, const struct object_status *g, const char *now)
{
	struct json_object *addrs, *ls;
	bool ok = true;

	if (g->n_addresses) {
		addrs = json_object_new_array();
		ok = addrs != NULL;
		for (size_t i = 0; ok && i < g->n_addresses; i++) {
			struct json_object *a = json_object_new_object();

			ok = put_str(a, "type", g->addresses[i].type) &&
			     put_str(a, "value", g->addresses[i].value);
			ok = ok ? push(addrs, a) : (json_object_put(a), false);
		}
		ok = ok ? put(st, "addresses", addrs) : (json_object_put(addrs), false);
	}
	ok = ok && put(st, "conditions", conditions_json(g->conds, g->n_conds, now));
	ls = json_object_new_array();
	for (size_t i = 0; ok && ls && i < g->n_listeners; i++)
		ok = push(ls, listener_json(&g->listeners[i], now));
	return ok ? put(st, "listeners", ls) : (json_object_put(ls), false);
}

static struct json_object *parent_ref_json(const struct parent_ref *r)
{
	struct json_object *o = json_object_new_object();
	/* §4.1: group, kind and namespace are always written, as conformance requires. */
	bool ok = put_str(o, "group", r->group) && put_str(o, "kind", r->kind) &&
		  put_str(o, "namespace", r->namespace) && put_str(o, "name", r->name);

	if (ok && r->section)
		ok = put_str(o, "sectionName", r->section);
	if (ok && r->port)
		ok = put_int(o, "port", r->port);
	return BUILD(o, ok);
}

static bool put_route(struct json_object *st, const struct object_status *r, const char *now)
{
	struct json_object *a = json_object_new_array();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < r->n_parents; i++) {
		const struct parent_status *p = &r->parents[i];
		struct json_object *o = json_object_new_object();

		ok = put(o, "parentRef", parent_ref_json(&p->ref)) &&
		     put_str(o, "controllerName", p->controller_name) &&
		     put(o, "conditions", conditions_json(p->conds, p->n_conds, now));
		ok = ok ? push(a, o) : (json_object_put(o), false);
	}
	return ok ? put(st, "parents", a) : (json_object_put(a), false);
}

static struct json_object *metadata_json(const struct object_status *s)
{
	struct json_object *o = json_object_new_object();
	bool ok = put_str(o, "name", s->name);

	if (ok && s->namespace)
		ok = put_str(o, "namespace", s->namespace);
	ok = ok && put_int(o, "generation", s->generation);
	return BUILD(o, ok);
}

static struct json_object *item_json(const struct object_status *s, const char *now)
{
	struct json_object *o = json_object_new_object();
	struct json_object *st = json_object_new_object();
	bool ok = put_str(o, "apiVersion", s->api_version) && put_str(o, "kind", kind_name(s->kind)) &&
		  put(o, "metadata", metadata_json(s));

	switch (s->kind) {
	case KIND_GATEWAY:
		ok = ok && put_gateway(st, s, now);
		break;
	case KIND_TCP_ROUTE:
	case KIND_UDP_ROUTE:
		ok = ok && put_route(st, s, now);
		break;
	default:
		ok = ok && put(st, "conditions", conditions_json(s->conds, s->n_conds, now));
		break;
	}
	ok = ok ? put(o, "status", st) : (json_object_put(st), false);
	return BUILD(o, ok);
}

/* A string that YAML 1.1 (PyYAML) or 1.2 would read back as something else when plain:
 * booleans, nulls, numbers, timestamps, merge/value keys. */
static bool needs_quotes(const char *s)
{
	static const char *const words[] = { "y", "yes", "n", "no", "true", "false", "on", "off",
					     "null", "~", "=", "<<" };

	if (!*s || strchr("0123456789+-.~", *s))
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

static int emit(yaml_emitter_t *e, yaml_event_t *ev, int ok)
{
	if (!ok)
		return -ENOMEM;
	return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool is_string)
{
	yaml_event_t ev;
	bool plain = !is_string || !needs_quotes(s);

	/* plain_implicit=0 with quoted_implicit=1 makes libyaml quote the value, so it
	 * reads back as a string; otherwise libyaml still quotes when plain is not allowed. */
	return emit(e, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
							 (int)strlen(s), plain, 1,
							 YAML_ANY_SCALAR_STYLE));
}

static int emit_node(yaml_emitter_t *e, struct json_object *v);

static int emit_mapping(yaml_emitter_t *e, struct json_object *v)
{
	yaml_event_t ev;
	int r = emit(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
								 YAML_BLOCK_MAPPING_STYLE));

	json_object_object_foreach(v, key, val) {
		if (r < 0)
			return r;
		r = emit_scalar(e, key, true);
		if (r == 0)
			r = emit_node(e, val);
	}
	if (r < 0)
		return r;
	return emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

static int emit_sequence(yaml_emitter_t *e, struct json_object *v)
{
	yaml_event_t ev;
	size_t n = json_object_array_length(v);
	int r = emit(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
								  YAML_BLOCK_SEQUENCE_STYLE));

	for (size_t i = 0; r == 0 && i < n; i++)
		r = emit_node(e, json_object_array_get_idx(v, i));
	if (r < 0)
		return r;
	return emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

static int emit_node(yaml_emitter_t *e, struct json_object *v)
{
	char num[32];

	switch (json_object_get_type(v)) {
	case json_type_object:
		return emit_mapping(e, v);
	case json_type_array:
		return emit_sequence(e, v);
	case json_type_string:
		return emit_scalar(e, json_object_get_string(v), true);
	case json_type_int:
		snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
		return emit_scalar(e, num, false);
	case json_type_boolean:
		return emit_scalar(e, json_object_get_boolean(v) ? "true" : "false", false);
	default:
		return emit_scalar(e, "null", false);
	}
}

/* The List is written one item at a time: only one object's tree is ever in memory, so
 * memory stays proportional to the largest object, not to the whole output (a full tree of
 * 64,000 listeners' conditions took gigabytes). */
static int emit_yaml(const struct status_set *set, const char *now, FILE *out)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int r;

	if (!yaml_emitter_initialize(&e))
		return -ENOMEM;
	yaml_emitter_set_output_file(&e, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* never fold long messages */
	yaml_emitter_set_indent(&e, 2);
	r = emit(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	if (r == 0)
		r = emit(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	if (r == 0)
		r = emit(&e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
								      YAML_BLOCK_MAPPING_STYLE));
	if (r == 0 && (r = emit_scalar(&e, "apiVersion", true)) == 0 &&
	    (r = emit_scalar(&e, "v1", true)) == 0 && (r = emit_scalar(&e, "kind", true)) == 0 &&
	    (r = emit_scalar(&e, "List", true)) == 0 && (r = emit_scalar(&e, "items", true)) == 0)
		r = emit(&e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
								       YAML_BLOCK_SEQUENCE_STYLE));
	for (size_t i = 0; r == 0 && i < set->n; i++) {
		struct json_object *item = item_json(&set->v[i], now);

		r = item ? emit_node(&e, item) : -ENOMEM;
		json_object_put(item);
	}
	if (r == 0)
		r = emit(&e, &ev, yaml_sequence_end_event_initialize(&ev));
	if (r == 0)
		r = emit(&e, &ev, yaml_mapping_end_event_initialize(&ev));
	if (r == 0)
		r = emit(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
	if (r == 0)
		r = emit(&e, &ev, yaml_stream_end_event_initialize(&ev));
	if (r == 0 && !yaml_emitter_flush(&e))
		r = -EIO;
	yaml_emitter_delete(&e);
	return r;
}

/* One item, pretty-printed by json-c, indented to its place in the List. JSON strings hold
 * no raw newline, so every newline in s is a line break of the layout. */
static int emit_json_item(struct json_object *item, FILE *out)
{
	const char *s = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s)
		return -ENOMEM;
	if (fputs("    ", out) < 0)
		return -EIO;
	for (; *s; s++)
		if (fputc(*s, out) == EOF || (*s == '\n' && fputs("    ", out) < 0))
			return -EIO;
	return 0;
}

static int emit_json(const struct status_set *set, const char *now, FILE *out)
{
	int r = 0;

	if (fputs("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n", out) < 0)
		return -EIO;
	for (size_t i = 0; r == 0 && i < set->n; i++) {
		struct json_object *item = item_json(&set->v[i], now);

		r = item ? emit_json_item(item, out) : -ENOMEM;
		json_object_put(item);
		if (r == 0 && fputs(i + 1 < set->n ? ",\n" : "\n", out) < 0)
			r = -EIO;
	}
	if (r == 0 && fputs("  ]\n}\n", out) < 0)
		r = -EIO;
	return r;
}

int status_emit(const struct status_set *st, enum output_format f, const char *now, FILE *out)
{
	int r = f == OUTPUT_JSON ? emit_json(st, now, out) : emit_yaml(st, now, out);

	if (r == 0 && fflush(out) != 0)
		r = -EIO;
	return r;
}
