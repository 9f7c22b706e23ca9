/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors with context from nft/: the layer never prints, so a failing function returns
 * -errno and, when the caller passed a struct nft_error, a sentence saying what refused and
 * which listener or route it concerns. agent/ prints it once.
 */
#ifndef NFTGATE_NFT_ERROR_H
#define NFTGATE_NFT_ERROR_H

#include <stddef.h>

#define NFT_ERROR_MAX 1024

struct nft_error {
	int err;                 /* the -errno returned, 0 when nothing was recorded */
	char msg[NFT_ERROR_MAX]; /* "" when nothing was recorded */
};

/* Records -err and a formatted message into e (which may be NULL); returns err so that
 * callers can write `return nft_error_set(e, -EINVAL, "...")`. */
int nft_error_set(struct nft_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends "; <text>" to an already recorded message (e may be NULL). */
void nft_error_append(struct nft_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
