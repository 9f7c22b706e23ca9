/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Input errors as records with a location, collected (not printed) by model/ so that the
 * agent can report every one of them at once, as `file:line: Kind ns/name: field: message`.
 */
#ifndef NFTGATE_MODEL_DIAG_H
#define NFTGATE_MODEL_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define DIAG_MAX 1000 /* past this many errors the rest are counted, not kept */

struct diag {
	char *file;    /* owned copy */
	unsigned line; /* 0 = unknown */
	char *object;  /* "TCPRoute default/tcp-app-1", or NULL when not known yet */
	char *field;   /* "spec.rules[0].backendRefs[1].port", or NULL */
	char *message; /* what is wrong, with the bad value quoted and the rule it breaks */
};

struct diags {
	struct diag *v;
	size_t n;
	size_t dropped; /* errors past DIAG_MAX */
};

/* Appends one error. Every string is copied. Returns 0 or -ENOMEM. */
int diags_add(struct diags *d, const char *file, unsigned line, const char *object,
	      const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int diags_addv(struct diags *d, const char *file, unsigned line, const char *object,
	       const char *field, const char *fmt, va_list ap);

/* Prints every error, one per line, in input order, then a count when some were dropped. */
void diags_print(const struct diags *d, FILE *out);

/* Frees the contents (not the struct itself); the struct is left empty and reusable. */
void diags_clear(struct diags *d);

#endif
