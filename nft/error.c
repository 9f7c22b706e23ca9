/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nft/error.h"

int nft_error_set(struct nft_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return err;
	e->err = err;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

void nft_error_append(struct nft_error *e, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!e)
		return;
	used = strnlen(e->msg, sizeof(e->msg));
	if (used + 3 >= sizeof(e->msg))
		return;
	if (used) {
		memcpy(e->msg + used, "; ", 2);
		used += 2;
		e->msg[used] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(e->msg + used, sizeof(e->msg) - used, fmt, ap);
	va_end(ap);
}
