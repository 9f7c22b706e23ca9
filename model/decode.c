/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed field getters and metadata. The typing rule (read.h): a scalar is typed by the field
 * it fills. String fields take any scalar as written (`on`, `0x10`, `123` stay strings);
 * integer fields take only plain decimal digits, so `"8080"` is a type error as on the API
 * server; booleans only plain true/false; null means absent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/decode.h"
#include "model/validate.h"

const struct name_rule name_subdomain = {
	valid_dns1123_subdomain,
	"an RFC 1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending "
	"with a letter or digit, at most 253 characters)",
};
const struct name_rule name_label1123 = {
	valid_dns1123_label,
	"an RFC 1123 label (lowercase letters, digits and '-', starting and ending with a letter "
	"or digit, at most 63 characters)",
};
const struct name_rule name_label1035 = {
	valid_dns1035_label,
	"an RFC 1035 label (lowercase letters, digits and '-', starting with a letter, ending "
	"with a letter or digit, at most 63 characters)",
};

int dec_err(struct dec *x, const struct ynode *at, const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	x->errors++;
	va_start(ap, fmt);
	r = diags_addv(x->d, x->file, at && at->line ? at->line : x->line,
		       x->object[0] ? x->object : NULL, field, fmt, ap);
	va_end(ap);
	return r;
}

const char *field_key(char *buf, const char *parent, const char *key)
{
	int n;

	/* a truncated path still points the user at the right place */
	if (parent && parent[0])
		n = snprintf(buf, FIELD_MAX, "%s.%s", parent, key);
	else
		n = snprintf(buf, FIELD_MAX, "%s", key);
	if (n < 0)
		buf[0] = '\0';
	return buf;
}

const char *field_idx(char *buf, const char *parent, size_t i)
{
	if (snprintf(buf, FIELD_MAX, "%s[%zu]", parent, i) < 0)
		buf[0] = '\0';
	return buf;
}

int dec_type_err(struct dec *x, const struct ynode *n, const char *field, const char *want)
{
	char q[128];

	if (n->type == YN_SCALAR)
		return dec_err(x, n, field, "must be %s, got %s %s", want,
			       n->plain ? "the value" : "the string", diag_quote(q, sizeof(q), n->str, n->len));
	return dec_err(x, n, field, "must be %s, got %s", want, ynode_describe(n));
}

bool dec_has(const struct ynode *map, const char *key)
{
	return !ynode_is_null(ymap_get(map, key));
}

static int typed_child(struct dec *x, const struct ynode *map, const char *key, const char *field,
		       bool required, enum ynode_type t, const char *want, const struct ynode **node)
{
	const struct ynode *n = ymap_get(map, key);
	char f[FIELD_MAX];

	*node = NULL;
	if (ynode_is_null(n))
		return required ? dec_required(x, map, field_key(f, field, key)) : 0;
	if (n->type != t)
		return dec_type_err(x, n, field_key(f, field, key), want);
	*node = n;
	return 0;
}

int dec_map(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    bool required, const struct ynode **node)
{
	return typed_child(x, map, key, field, required, YN_MAP, "a mapping", node);
}

int dec_seq(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    bool required, const struct ynode **node)
{
	return typed_child(x, map, key, field, required, YN_SEQ, "a list", node);
}

int dec_str_node(struct dec *x, const struct ynode *n, const char *field, char **out)
{
	char *s;

	if (ynode_is_null(n))
		return 0;
	if (n->type != YN_SCALAR)
		return dec_type_err(x, n, field, "a string");
	s = strdup(n->str); /* the tree holds no NUL inside a scalar (yaml_tree.h) */
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

int dec_str(struct dec *x, const struct ynode *map, const char *key, const char *field, char **out)
{
	char f[FIELD_MAX];

	return dec_str_node(x, ymap_get(map, key), field_key(f, field, key), out);
}

static bool decimal(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* 010 is 10 to a YAML 1.2 reader and 8 to a YAML 1.1 one (kubectl's): refused, as 0x10 is,
 * so that nftgate never reads another number than the cluster would. */
static bool leading_zero(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return s[0] == '0' && s[1] != '\0';
}

int dec_int(struct dec *x, const struct ynode *map, const char *key, const char *field,
	    int64_t min, int64_t max, bool required, int64_t *out)
{
	const struct ynode *n = ymap_get(map, key);
	char f[FIELD_MAX], q[128];
	long long v;
	char *end;

	field_key(f, field, key);
	if (ynode_is_null(n))
		return required ? dec_required(x, map, f) : 0;
	if (n->type != YN_SCALAR || !n->plain || !decimal(n->str))
		return dec_type_err(x, n, f, "an integer");
	if (leading_zero(n->str))
		return dec_err(x, n, f, "must be an integer without leading zeros, got the value %s "
			       "(YAML 1.1 readers, kubectl's among them, read a leading 0 as octal)",
			       diag_quote(q, sizeof(q), n->str, n->len));
	errno = 0;
	v = strtoll(n->str, &end, 10);
	if (errno == ERANGE || v < min || v > max)
		return dec_err(x, n, f, "%.40s is out of range (%lld..%lld)", n->str, (long long)min,
			       (long long)max);
	*out = v;
	return 0;
}

int dec_bool(struct dec *x, const struct ynode *map, const char *key, const char *field, bool *out)
{
	const struct ynode *n = ymap_get(map, key);
	char f[FIELD_MAX];

	if (ynode_is_null(n))
		return 0;
	field_key(f, field, key);
	if (n->type != YN_SCALAR || !n->plain ||
	    (strcmp(n->str, "true") != 0 && strcmp(n->str, "false") != 0))
		return dec_type_err(x, n, f, "true or false");
	*out = n->str[0] == 't';
	return 0;
}

int dec_labels(struct dec *x, const struct ynode *map, const char *key, const char *field,
	       bool check, struct labels *out)
{
	const struct ynode *m;
	char f[FIELD_MAX], fk[FIELD_MAX], q[128];
	int r = dec_map(x, map, key, field, false, &m);

	if (r < 0 || !m)
		return r;
	field_key(f, field, key);
	out->v = calloc_array(m->n, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		const struct ynode *k = m->kids[2 * i], *v = m->kids[2 * i + 1];
		struct label l = { 0 };

		field_key(fk, f, k->str);
		if (check && !valid_label_key(k->str)) {
			r = dec_err(x, k, f, "key %s is not a valid label key (an optional DNS subdomain "
				    "prefix and '/', then 1..63 letters, digits, '-', '_' or '.', "
				    "starting and ending with a letter or digit)",
				    diag_quote(q, sizeof(q), k->str, k->len));
			if (r < 0)
				return r;
		}
		r = dec_str_node(x, v, fk, &l.value);
		if (r < 0)
			return r;
		if (!l.value && !ynode_is_null(v))
			continue; /* not a string: reported */
		if (!l.value && !(l.value = strdup("")))
			return -ENOMEM;
		if (check && !valid_label_value(l.value))
			r = dec_err(x, v, fk, "%s is not a valid label value (at most 63 letters, "
				    "digits, '-', '_' or '.', starting and ending with a letter or digit)",
				    diag_quote(q, sizeof(q), l.value, strlen(l.value)));
		if (r < 0 || !(l.key = strdup(k->str))) {
			free(l.value);
			return -ENOMEM;
		}
		out->v[out->n++] = l;
	}
	return 0;
}

int dec_required(struct dec *x, const struct ynode *parent, const char *field)
{
	return dec_err(x, parent, field, "is required");
}

int dec_count(struct dec *x, const struct ynode *seq, const char *field, size_t min, size_t max)
{
	size_t n = seq ? seq->n : 0;

	if (n >= min && n <= max)
		return 0;
	if (n < min && min == 1)
		return dec_err(x, seq, field, "must have at least 1 entry");
	return dec_err(x, seq, field, "has %zu entries, must have %zu..%zu", n, min, max);
}

bool valid_object_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 253;
}

int dec_default(char **p, const char *def)
{
	if (*p || !def)
		return 0;
	*p = strdup(def);
	return *p ? 0 : -ENOMEM;
}

int dec_list_open(struct dec *x, const struct ynode *map, const char *parent, const char *key,
		  bool required, size_t min, size_t max, char *f, const struct ynode **seq)
{
	int r = dec_seq(x, map, key, parent, required, seq);

	field_key(f, parent, key);
	if (r < 0 || !*seq)
		return r;
	if ((*seq)->n >= min && (*seq)->n <= max)
		return 0;
	r = dec_count(x, *seq, f, min, max);
	*seq = NULL;
	return r;
}

int dec_list_items(struct dec *x, const struct ynode *seq, const char *f, enum dec_list_mode mode,
		   void *arr, size_t size, size_t *n, dec_item_fn *item, void *ctx)
{
	char fi[FIELD_MAX];
	int r;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *it = dec_item_map(x, seq, i, f, &r);

		if (r < 0)
			return r;
		if (it || mode == DEC_LIST_ALIGNED)
			(*n)++;
		if (!it)
			continue;
		r = item(x, it, field_idx(fi, f, i), i, (char *)arr + (*n - 1) * size, ctx);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (no libc time zone state). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int parse_rfc3339(const char *s, int64_t *ret)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		if (!(p[1] >= '0' && p[1] <= '9'))
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;
	*ret = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

static int meta_name(struct dec *x, const struct ynode *md, const struct name_rule *rule,
		     struct meta *m)
{
	const struct ynode *n = ymap_get(md, "name");
	char q[128];
	int r = dec_str(x, md, "name", "metadata", &m->name);

	if (r < 0 || (!m->name && !ynode_is_null(n)))
		return r; /* out of memory, or not a string (reported) */
	if (!m->name || !m->name[0])
		return dec_err(x, n ? n : md, "metadata.name", "is required");
	if (!rule->valid(m->name))
		return dec_err(x, n, "metadata.name", "%s is not %s",
			       diag_quote(q, sizeof(q), m->name, strlen(m->name)), rule->what);
	return 0;
}

static int meta_namespace(struct dec *x, const struct ynode *md, bool namespaced, struct meta *m)
{
	char q[128];
	int r;

	if (!namespaced) /* the API server ignores a namespace on cluster-scoped kinds */
		return 0;
	r = dec_str(x, md, "namespace", "metadata", &m->namespace);
	if (r < 0 || (!m->namespace && dec_has(md, "namespace")))
		return r; /* out of memory, or not a string (reported): no namespace to show */
	if (!m->namespace || !m->namespace[0]) {
		free(m->namespace);
		m->namespace = strdup("default");
		return m->namespace ? 0 : -ENOMEM;
	}
	if (!valid_dns1123_label(m->namespace))
		return dec_err(x, ymap_get(md, "namespace"), "metadata.namespace", "%s is not %s",
			       diag_quote(q, sizeof(q), m->namespace, strlen(m->namespace)),
			       name_label1123.what);
	return 0;
}

static int meta_created(struct dec *x, const struct ynode *md, struct meta *m)
{
	char q[128];
	int r = dec_str(x, md, "creationTimestamp", "metadata", &m->created_text);

	m->created = INT64_MAX;
	if (r < 0 || !m->created_text)
		return r;
	if (parse_rfc3339(m->created_text, &m->created) < 0) {
		m->created = INT64_MAX;
		return dec_err(x, ymap_get(md, "creationTimestamp"), "metadata.creationTimestamp",
			       "%s is not an RFC 3339 time such as \"2024-01-02T03:04:05Z\"",
			       diag_quote(q, sizeof(q), m->created_text, strlen(m->created_text)));
	}
	return 0;
}

int decode_meta(struct dec *x, const struct ynode *root, const char *kind, bool namespaced,
		const struct name_rule *rule, struct meta *m)
{
	const struct ynode *md = NULL;
	int r;

	m->generation = 1;
	m->created = INT64_MAX;
	m->loc = (struct src_loc){ .file = x->file, .line = root->line };
	m->api_version = strdup(x->api_version);
	if (!m->api_version)
		return -ENOMEM;
	snprintf(x->object, sizeof(x->object), "%s", kind);
	r = dec_map(x, root, "metadata", "", false, &md);
	if (r < 0 || (!md && dec_has(root, "metadata")))
		return r; /* out of memory, or not a mapping (reported) */
	if (!md)
		return dec_err(x, root, "metadata.name", "is required");
	if ((r = meta_name(x, md, rule, m)) < 0 || (r = meta_namespace(x, md, namespaced, m)) < 0)
		return r;
	/* name every later message after the object, as far as it is known */
	snprintf(x->object, sizeof(x->object), "%s %s%s%.200s", kind,
		 m->namespace ? m->namespace : "", m->namespace ? "/" : "",
		 m->name && m->name[0] ? m->name : "(unnamed)");
	if ((r = dec_int(x, md, "generation", "metadata", 0, INT64_MAX, false, &m->generation)) < 0 ||
	    (r = meta_created(x, md, m)) < 0)
		return r;
	return dec_labels(x, md, "labels", "metadata", true, &m->labels);
}

int dec_str_checked(struct dec *x, const struct ynode *map, const char *key, const char *field,
		    bool required, bool (*valid)(const char *), const char *what, char **out)
{
	char f[FIELD_MAX], q[128];
	char *v = NULL;
	int r = dec_str(x, map, key, field, &v);

	if (r < 0)
		return r;
	field_key(f, field, key);
	if (!v) /* absent, or not a string (reported) */
		return required && !dec_has(map, key) ? dec_err(x, map, f, "is required") : 0;
	if (valid && !valid(v)) {
		r = dec_err(x, ymap_get(map, key), f, "%s is not %s",
			    diag_quote(q, sizeof(q), v, strlen(v)), what);
		free(v);
		return r;
	}
	*out = v;
	return 0;
}

const struct ynode *dec_item_map(struct dec *x, const struct ynode *seq, size_t i, const char *field,
				 int *r)
{
	const struct ynode *it = seq->kids[i];
	char f[FIELD_MAX];

	*r = 0;
	if (it->type == YN_MAP)
		return it;
	*r = dec_type_err(x, it, field_idx(f, field, i), "a mapping");
	return NULL;
}
