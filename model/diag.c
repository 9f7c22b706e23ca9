/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error records. Adding never fails silently: past DIAG_MAX the error is counted in
 * `dropped` so the user still learns how many there were. Printing escapes what came from
 * the input (diag.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/diag.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void diag_free_contents(struct diag *x)
{
	free(x->file);
	free(x->object);
	free(x->field);
	free(x->message);
}

/* Appends to one list (errors or notes) of d. */
static int list_add(struct diag **v, size_t *n, size_t *cap, size_t *dropped, const char *file,
		    unsigned line, const char *object, const char *field, const char *fmt,
		    va_list ap)
{
	struct diag x = { .line = line };

	if (*n >= DIAG_MAX) {
		(*dropped)++;
		return 0;
	}
	x.file = dup_or_null(file);
	x.object = dup_or_null(object);
	x.field = dup_or_null(field);
	if (vasprintf(&x.message, fmt, ap) < 0)
		x.message = NULL;
	if ((file && !x.file) || (object && !x.object) || (field && !x.field) || !x.message ||
	    ARRAY_GROW(*v, *cap, *n + 1) < 0) {
		diag_free_contents(&x);
		return -ENOMEM;
	}
	(*v)[(*n)++] = x;
	return 0;
}

int diags_addv(struct diags *d, const char *file, unsigned line, const char *object,
	       const char *field, const char *fmt, va_list ap)
{
	return list_add(&d->v, &d->n, &d->cap, &d->dropped, file, line, object, field, fmt, ap);
}

int diags_add(struct diags *d, const char *file, unsigned line, const char *object,
	      const char *field, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = diags_addv(d, file, line, object, field, fmt, ap);
	va_end(ap);
	return r;
}

int diags_note(struct diags *d, const char *file, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = list_add(&d->notes, &d->n_notes, &d->cap_notes, &d->dropped_notes, file, 0, NULL, NULL,
		     fmt, ap);
	va_end(ap);
	return r;
}

/* One UTF-8 character at s (len > 0 bytes): its length and code point, or 0 when the bytes
 * are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included). */
size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t v, min;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, v = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, v = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, v = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Characters a terminal or viewer acts on rather than shows: C1 controls (0x9b is a CSI),
 * line and paragraph separators, and the bidi controls that reorder what is displayed. */
static bool moves_text(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* How the character at s (len > 0 bytes) is written. Returns how many bytes of s it takes;
 * esc gets its escape, or "" when the bytes are written as they are. `quoting` also
 * escapes '"' and '\' (inside diag_quote's quotes). */
static size_t escape_next(const unsigned char *s, size_t len, bool quoting, char esc[12])
{
	uint32_t cp;
	size_t n = utf8_char(s, len, &cp);

	esc[0] = '\0';
	if (n == 0) {
		snprintf(esc, 12, "\\x%02x", s[0]);
		return 1;
	}
	if (cp == '\n' || cp == '\t' || cp == '\r')
		snprintf(esc, 12, "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
	else if (cp < 0x20 || cp == 0x7f)
		snprintf(esc, 12, "\\x%02x", (unsigned)cp);
	else if (moves_text(cp))
		snprintf(esc, 12, "\\u%04x", (unsigned)cp);
	else if (quoting && (cp == '"' || cp == '\\'))
		snprintf(esc, 12, "\\%c", (char)cp);
	return n;
}

const char *diag_quote(char *buf, size_t size, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	while (i < len) {
		char esc[12];
		size_t n = escape_next(u + i, len - i, true, esc);
		size_t w = esc[0] ? strlen(esc) : n;

		/* room for this character and for a closing `..."` */
		if (i >= 80 || o + w + 5 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc[0] ? esc : (const char *)u + i, w);
		o += w;
		i += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Writes s, whatever it holds, with control characters and invalid UTF-8 escaped. */
static void put_escaped(FILE *out, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		char esc[12];
		size_t n = escape_next(u + i, len - i, false, esc);

		if (esc[0])
			fputs(esc, out);
		else
			fwrite(u + i, 1, n, out);
		i += n;
	}
}

static void print_one(const struct diag *x, const char *tag, FILE *out)
{
	if (x->file) {
		put_escaped(out, x->file);
		if (x->line)
			fprintf(out, ":%u", x->line);
		fputs(": ", out);
	}
	if (tag)
		fprintf(out, "%s: ", tag);
	if (x->object) {
		put_escaped(out, x->object);
		fputs(": ", out);
	}
	if (x->field) {
		put_escaped(out, x->field);
		fputs(": ", out);
	}
	put_escaped(out, x->message);
	fputc('\n', out);
}

void diags_print(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++)
		print_one(&d->v[i], NULL, out);
	if (d->dropped)
		fprintf(out, "... and %zu more error%s\n", d->dropped, d->dropped == 1 ? "" : "s");
}

void diags_print_notes(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n_notes; i++)
		print_one(&d->notes[i], "note", out);
	if (d->dropped_notes)
		fprintf(out, "... and %zu more note%s\n", d->dropped_notes,
			d->dropped_notes == 1 ? "" : "s");
}

void diags_clear(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		diag_free_contents(&d->v[i]);
	for (size_t i = 0; i < d->n_notes; i++)
		diag_free_contents(&d->notes[i]);
	free(d->v);
	free(d->notes);
	*d = (struct diags){ 0 };
}
