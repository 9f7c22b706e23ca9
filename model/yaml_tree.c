/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libyaml events -> a bounded node tree, one document at a time. Nodes and scalar text live
 * in a per-document arena, so a document costs a handful of mallocs and frees at once. The
 * children of open containers wait on one shared pointer stack and are copied into the arena
 * when their container closes, so no per-container growth and no quadratic copying.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/array.h"
#include "model/yaml_tree.h"

#define ARENA_CHUNK (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct frame {
	struct ynode *node;
	size_t first; /* index of its first child on the pointer stack */
};

/* The input's encoding, for turning libyaml's character positions into byte offsets. */
enum yenc { YENC_UTF8, YENC_UTF16LE, YENC_UTF16BE };

struct yreader {
	yaml_parser_t parser;
	const struct read_limits *lim;
	const unsigned char *buf;  /* the input, borrowed */
	size_t len;
	enum yenc enc;
	size_t first;              /* byte of character 0: after a byte order mark */
	size_t pos_char, pos_byte; /* character pos_char of the stream starts at byte pos_byte */
	struct chunk *arena;
	struct ynode **stack; /* children of open containers */
	size_t n_stack, cap_stack;
	struct frame *frames;
	size_t n_frames, cap_frames;
	bool done;
};

static void arena_reset(struct yreader *r)
{
	while (r->arena) {
		struct chunk *c = r->arena;

		r->arena = c->next;
		free(c);
	}
}

static void *arena_alloc(struct yreader *r, size_t size)
{
	struct chunk *c = r->arena;
	size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (!c || c->size - c->used < size) {
		size_t want = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + want);
		if (!c)
			return NULL;
		c->size = want;
		c->used = 0;
		c->next = r->arena;
		r->arena = c;
	}
	c->used += size;
	return (char *)c->data + c->used - size;
}

struct yreader *yreader_new(const char *buf, size_t len, const struct read_limits *lim)
{
	struct yreader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	if (!yaml_parser_initialize(&r->parser)) {
		free(r);
		return NULL;
	}
	yaml_parser_set_input_string(&r->parser, (const unsigned char *)buf, len);
	r->lim = lim;
	r->buf = (const unsigned char *)buf;
	r->len = len;
	/* libyaml's encoding detection: a UTF-16 byte order mark, else UTF-8. Its character
	 * positions start after the mark. */
	if (len >= 2 && r->buf[0] == 0xff && r->buf[1] == 0xfe)
		r->enc = YENC_UTF16LE, r->first = 2;
	else if (len >= 2 && r->buf[0] == 0xfe && r->buf[1] == 0xff)
		r->enc = YENC_UTF16BE, r->first = 2;
	else if (len >= 3 && !memcmp(r->buf, "\xef\xbb\xbf", 3))
		r->first = 3;
	r->pos_byte = r->first;
	return r;
}

static unsigned utf16_unit(const struct yreader *r, size_t b)
{
	const unsigned char *s = r->buf + b;

	return r->enc == YENC_UTF16LE ? (unsigned)(s[0] | s[1] << 8) : (unsigned)(s[0] << 8 | s[1]);
}

/* Bytes taken by the character starting at byte b (< len). libyaml has checked the input up
 * to every position it reports, so the lead byte or unit tells. */
static size_t char_width(const struct yreader *r, size_t b)
{
	size_t w;

	if (r->enc != YENC_UTF8) {
		w = r->len - b >= 2 && utf16_unit(r, b) >= 0xd800 && utf16_unit(r, b) <= 0xdbff ? 4 : 2;
	} else {
		unsigned char c = r->buf[b];

		w = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	}
	return w < r->len - b ? w : r->len - b;
}

/* The byte offset of character `index` of the stream (libyaml's marks count characters,
 * read_limits count bytes). Marks come in nearly increasing order, so walking from the last
 * answer keeps a whole document linear. */
static size_t byte_offset(struct yreader *r, size_t index)
{
	size_t start = r->first;

	while (r->pos_char < index && r->pos_byte < r->len) {
		r->pos_byte += char_width(r, r->pos_byte);
		r->pos_char++;
	}
	while (r->pos_char > index && r->pos_byte > start) {
		if (r->enc == YENC_UTF8) {
			do
				r->pos_byte--;
			while (r->pos_byte > start && (r->buf[r->pos_byte] & 0xc0) == 0x80);
		} else {
			r->pos_byte -= 2;
			if (r->pos_byte >= start + 2 && utf16_unit(r, r->pos_byte) >= 0xdc00 &&
			    utf16_unit(r, r->pos_byte) <= 0xdfff && utf16_unit(r, r->pos_byte - 2) >= 0xd800 &&
			    utf16_unit(r, r->pos_byte - 2) <= 0xdbff)
				r->pos_byte -= 2;
		}
		r->pos_char--;
	}
	return r->pos_byte;
}

struct yreader *yreader_free(struct yreader *r)
{
	if (!r)
		return NULL;
	yaml_parser_delete(&r->parser);
	arena_reset(r);
	free(r->stack);
	free(r->frames);
	free(r);
	return NULL;
}

static int fail(struct yreader *r, struct diags *d, const char *file, unsigned line, int err,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Stops the reader and records why. */
static int fail(struct yreader *r, struct diags *d, const char *file, unsigned line, int err,
		const char *fmt, ...)
{
	va_list ap;
	int e;

	r->done = true;
	if (err == -ENOMEM)
		return err;
	va_start(ap, fmt);
	e = diags_addv(d, file, line, NULL, NULL, fmt, ap);
	va_end(ap);
	return e < 0 ? e : err;
}

/* Adds a finished node to its parent's children, or makes it the root. */
static int push_node(struct yreader *r, struct ynode *n, struct ynode **root)
{
	if (r->n_frames == 0) {
		*root = n;
		return 0;
	}
	if (ARRAY_GROW(r->stack, r->cap_stack, r->n_stack + 1) < 0)
		return -ENOMEM;
	r->stack[r->n_stack++] = n;
	return 0;
}

static bool key_equal(const struct ynode *a, const struct ynode *b)
{
	return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct ynode *a = *(struct ynode *const *)pa, *b = *(struct ynode *const *)pb;
	size_t l = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->str, b->str, l);

	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	/* equal keys: the later line is the duplicate */
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Returns the duplicate key (the later one) or NULL. Sorting keeps big mappings O(n log n). */
static int find_duplicate(struct ynode *map, const struct ynode **ret)
{
	struct ynode **keys;

	*ret = NULL;
	if (map->n <= 16) {
		for (size_t i = 1; i < map->n; i++)
			for (size_t j = 0; j < i; j++)
				if (key_equal(map->kids[2 * i], map->kids[2 * j])) {
					*ret = map->kids[2 * i];
					return 0;
				}
		return 0;
	}
	keys = malloc(map->n * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < map->n; i++)
		keys[i] = map->kids[2 * i];
	qsort(keys, map->n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < map->n && !*ret; i++)
		if (key_equal(keys[i], keys[i - 1]))
			*ret = keys[i];
	free(keys);
	return 0;
}

static int close_container(struct yreader *r, struct diags *d, const char *file,
			   struct ynode **root)
{
	struct frame *f = &r->frames[--r->n_frames];
	struct ynode *n = f->node;
	size_t count = r->n_stack - f->first;
	const struct ynode *dup;
	char q[128];
	int e;

	n->kids = arena_alloc(r, (count ? count : 1) * sizeof(*n->kids));
	if (!n->kids)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	if (count)
		memcpy(n->kids, r->stack + f->first, count * sizeof(*n->kids));
	r->n_stack = f->first;
	if (n->type == YN_MAP) {
		n->n = count / 2;
		for (size_t i = 0; i < n->n; i++) {
			const struct ynode *k = n->kids[2 * i];

			if (k->type != YN_SCALAR)
				return fail(r, d, file, k->line, -EINVAL,
					    "mapping keys must be scalars, got %s", ynode_describe(k));
			/* YAML 1.1's merge key; read as a plain key it would hide the fields it
			 * merges and surface as "is required" errors far from the cause */
			if (k->plain && k->len == 2 && !memcmp(k->str, "<<", 2))
				return fail(r, d, file, k->line, -EINVAL,
					    "YAML merge keys (<<) are not supported; write the keys out");
		}
		e = find_duplicate(n, &dup);
		if (e < 0)
			return fail(r, d, file, 0, e, "out of memory");
		if (dup)
			return fail(r, d, file, dup->line, -EINVAL,
				    "duplicate key %s in one mapping",
				    diag_quote(q, sizeof(q), dup->str, dup->len));
	} else {
		n->n = count;
	}
	return push_node(r, n, root);
}

static int open_container(struct yreader *r, struct diags *d, const char *file,
			  const yaml_event_t *ev, enum ynode_type t)
{
	struct ynode *n;

	if (r->n_frames >= r->lim->max_depth)
		return fail(r, d, file, ev->start_mark.line + 1, -E2BIG,
			    "nesting deeper than %u levels (limit max_depth)", r->lim->max_depth);
	if (ARRAY_GROW(r->frames, r->cap_frames, r->n_frames + 1) < 0)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	n = arena_alloc(r, sizeof(*n));
	if (!n)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	memset(n, 0, sizeof(*n));
	n->type = t;
	n->line = ev->start_mark.line + 1;
	r->frames[r->n_frames++] = (struct frame){ .node = n, .first = r->n_stack };
	return 0;
}

static int add_scalar(struct yreader *r, struct diags *d, const char *file, const yaml_event_t *ev,
		      struct ynode **root)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct ynode *n;
	char q[128];

	if (len > r->lim->max_string)
		return fail(r, d, file, ev->start_mark.line + 1, -E2BIG,
			    "a scalar is longer than %zu bytes (limit max_string)", r->lim->max_string);
	/* No Kubernetes field holds a NUL ("\0", "\x00" or JSON's "\u0000"), and C strings would
	 * silently end at it: `kind: "Service\0zzz"` would read as a Service. */
	if (memchr(value, '\0', len))
		return fail(r, d, file, ev->start_mark.line + 1, -EINVAL,
			    "%s: a NUL character is not allowed in a value or key",
			    diag_quote(q, sizeof(q), value, len));
	n = arena_alloc(r, sizeof(*n));
	if (!n)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	memset(n, 0, sizeof(*n));
	n->str = arena_alloc(r, len + 1);
	if (!n->str)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	memcpy(n->str, value, len);
	n->str[len] = '\0';
	n->len = len;
	n->type = YN_SCALAR;
	n->line = ev->start_mark.line + 1;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		   !(tag && strcmp(tag, YAML_STR_TAG) == 0);
	if (push_node(r, n, root) < 0)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	return 0;
}

static const char *anchor_of(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	case YAML_ALIAS_EVENT:
		return (const char *)ev->data.alias.anchor;
	default:
		return NULL;
	}
}

/* One event into the tree; doc_start is the byte offset of its document. Returns 1 when
 * the document ended, 0 to go on, <0 on error. */
static int on_event(struct yreader *r, struct diags *d, const char *file, const yaml_event_t *ev,
		    size_t doc_start, struct ynode **root)
{
	const char *anchor = anchor_of(ev);
	unsigned line = ev->start_mark.line + 1;
	char q[128];

	if (anchor)
		/* aliases only serve to build expansion bombs in manifests like these */
		return fail(r, d, file, line, -EINVAL, "YAML anchors and aliases are not supported (%s)",
			    diag_quote(q, sizeof(q), anchor, strlen(anchor)));
	if (byte_offset(r, ev->end_mark.index) - doc_start > r->lim->max_doc_bytes)
		return fail(r, d, file, line, -E2BIG,
			    "document is larger than %zu bytes (limit max_doc_bytes)",
			    r->lim->max_doc_bytes);
	if (r->n_frames && r->n_stack - r->frames[r->n_frames - 1].first >=
	    (r->frames[r->n_frames - 1].node->type == YN_MAP ? 2 : 1) * r->lim->max_items &&
	    ev->type != YAML_SEQUENCE_END_EVENT && ev->type != YAML_MAPPING_END_EVENT)
		return fail(r, d, file, line, -E2BIG,
			    "more than %zu entries in one sequence or mapping (limit max_items)",
			    r->lim->max_items);
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return add_scalar(r, d, file, ev, root);
	case YAML_SEQUENCE_START_EVENT:
		return open_container(r, d, file, ev, YN_SEQ);
	case YAML_MAPPING_START_EVENT:
		return open_container(r, d, file, ev, YN_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_container(r, d, file, root);
	case YAML_DOCUMENT_END_EVENT:
		return 1;
	default:
		return 0;
	}
}

/* The line of byte offset `off`: libyaml's reader errors (bad bytes, invalid UTF-8) give a
 * byte offset, not a mark. */
static unsigned line_of_offset(const struct yreader *r, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < r->len; i++)
		line += r->buf[i] == '\n';
	return line;
}

static int syntax_error(struct yreader *r, struct diags *d, const char *file)
{
	const yaml_parser_t *p = &r->parser;
	unsigned line = (unsigned)p->problem_mark.line + 1;
	int e;

	if (p->error == YAML_MEMORY_ERROR)
		return fail(r, d, file, 0, -ENOMEM, "out of memory");
	if (p->error == YAML_READER_ERROR && p->problem_value >= 0)
		e = diags_add(d, file, line_of_offset(r, p->problem_offset), NULL, NULL,
			      "YAML syntax error: %s (0x%02x at byte %zu)",
			      p->problem ? p->problem : "invalid input", (unsigned)p->problem_value,
			      p->problem_offset);
	else if (p->error == YAML_READER_ERROR)
		e = diags_add(d, file, line_of_offset(r, p->problem_offset), NULL, NULL,
			      "YAML syntax error: %s (at byte %zu)",
			      p->problem ? p->problem : "invalid input", p->problem_offset);
	else if (p->context)
		e = diags_add(d, file, line, NULL, NULL, "YAML syntax error: %s %s (line %zu)",
			      p->problem ? p->problem : "invalid input", p->context,
			      p->context_mark.line + 1);
	else
		e = diags_add(d, file, line, NULL, NULL, "YAML syntax error: %s",
			      p->problem ? p->problem : "invalid input");
	r->done = true;
	return e < 0 ? e : -EINVAL;
}

int yreader_next(struct yreader *r, const char *file, struct diags *d, const struct ynode **ret_root)
{
	struct ynode *root = NULL;
	bool in_doc = false;
	size_t doc_start = 0;
	int e;

	arena_reset(r);
	r->n_stack = 0;
	r->n_frames = 0;
	while (!r->done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&r->parser, &ev))
			return syntax_error(r, d, file);
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			r->done = true;
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			in_doc = true;
			doc_start = byte_offset(r, ev.start_mark.index);
		}
		e = in_doc ? on_event(r, d, file, &ev, doc_start, &root) : 0;
		yaml_event_delete(&ev);
		if (e < 0)
			return e;
		if (e == 1) {
			*ret_root = root;
			return 1;
		}
	}
	return 0;
}

const struct ynode *ymap_get(const struct ynode *map, const char *key)
{
	size_t len = strlen(key);

	if (!map || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->kids[2 * i];

		if (k->len == len && memcmp(k->str, key, len) == 0)
			return map->kids[2 * i + 1];
	}
	return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n)
		return true;
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const char *ynode_describe(const struct ynode *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YN_MAP:
		return "a mapping";
	case YN_SEQ:
		return "a sequence";
	default:
		return n->plain ? "a plain scalar" : "a quoted string";
	}
}
