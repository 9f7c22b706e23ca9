/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Input errors as records with a location, collected (not printed) by model/ so that the
 * agent can report every one of them at once, as `file:line: Kind ns/name: field: message`.
 *
 * Everything in a record may come from the input (a file name with a newline, an object
 * name with terminal escapes): records keep it as read, values quoted into messages go
 * through diag_quote(), and diags_print() escapes every part again on the way out, so that
 * no input byte reaches the terminal raw and no input can forge an output line.
 */
#ifndef NFTGATE_MODEL_DIAG_H
#define NFTGATE_MODEL_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DIAG_MAX 1000 /* past this many errors (or notes) the rest are counted, not kept */

struct diag {
	char *file;    /* owned copy */
	unsigned line; /* 0 = unknown */
	char *object;  /* "TCPRoute default/tcp-app-1", or NULL when not known yet */
	char *field;   /* "spec.rules[0].backendRefs[1].port", or NULL */
	char *message; /* what is wrong, with the bad value quoted and the rule it breaks */
};

struct diags {
	struct diag *v;       /* errors */
	size_t n, cap;
	size_t dropped;       /* errors past DIAG_MAX */
	struct diag *notes;   /* not errors, worth saying: inputs that were skipped */
	size_t n_notes, cap_notes;
	size_t dropped_notes;
};

/* Appends one error. Every string is copied. Returns 0 or -ENOMEM. */
int diags_add(struct diags *d, const char *file, unsigned line, const char *object,
	      const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int diags_addv(struct diags *d, const char *file, unsigned line, const char *object,
	       const char *field, const char *fmt, va_list ap);

/* Appends one note (e.g. a directory entry that was not read). Returns 0 or -ENOMEM. */
int diags_note(struct diags *d, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prints every error, one per line, in input order, then a count when some were dropped.
 * Every part is escaped (see above). */
void diags_print(const struct diags *d, FILE *out);

/* Prints every note, one per line: `file: note: message`, escaped like diags_print(). */
void diags_print_notes(const struct diags *d, FILE *out);

/* Frees the contents (not the struct itself); the struct is left empty and reusable. */
void diags_clear(struct diags *d);

/* Quotes s[0..len) (which may hold any byte) for a message, into buf of `size` bytes:
 * in double quotes, with '"' and '\' escaped, control characters, invalid UTF-8 and the
 * Unicode characters that move or reorder text (C1 controls, line separators, bidi
 * overrides) written as \n, \xNN or \uNNNN, and cut with "..." after 80 bytes of s or when
 * buf is full. Returns buf. The one quoting function for anything taken from the input. */
const char *diag_quote(char *buf, size_t size, const char *s, size_t len);

/* One UTF-8 character at s (len > 0 bytes): its length and code point, or 0 when the bytes
 * are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF included). */
size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp);

#endif
