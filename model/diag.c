/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error records. Adding never fails silently: past DIAG_MAX the error is counted in
 * `dropped` so the user still learns how many there were.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/diag.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int diags_addv(struct diags *d, const char *file, unsigned line, const char *object,
	       const char *field, const char *fmt, va_list ap)
{
	struct diag x = { .line = line };
	int r = -ENOMEM;

	if (d->n >= DIAG_MAX) {
		d->dropped++;
		return 0;
	}
	x.file = dup_or_null(file);
	x.object = dup_or_null(object);
	x.field = dup_or_null(field);
	if (vasprintf(&x.message, fmt, ap) < 0)
		x.message = NULL;
	if ((file && !x.file) || (object && !x.object) || (field && !x.field) || !x.message)
		goto out;
	/* grow by doubling: DIAG_MAX bounds it anyway */
	if ((d->n & (d->n - 1)) == 0) {
		size_t cap = d->n ? d->n * 2 : 8;
		struct diag *v;

		if (cap < 8)
			cap = 8;
		v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			goto out;
		d->v = v;
	}
	d->v[d->n++] = x;
	return 0;
out:
	free(x.file);
	free(x.object);
	free(x.field);
	free(x.message);
	return r;
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

void diags_print(const struct diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag *x = &d->v[i];

		if (x->file && x->line)
			fprintf(out, "%s:%u: ", x->file, x->line);
		else if (x->file)
			fprintf(out, "%s: ", x->file);
		if (x->object)
			fprintf(out, "%s: ", x->object);
		if (x->field)
			fprintf(out, "%s: ", x->field);
		fprintf(out, "%s\n", x->message);
	}
	if (d->dropped)
		fprintf(out, "... and %zu more error%s\n", d->dropped, d->dropped == 1 ? "" : "s");
}

void diags_clear(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].object);
		free(d->v[i].field);
		free(d->v[i].message);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
	d->dropped = 0;
}
