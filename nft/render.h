/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ruleset -> `nft -f` text: the dry-run. A replace script (create, delete, define) so it
 * loads whether or not the table exists, and lists exactly as the netlink path does.
 */
#ifndef NFTGATE_NFT_RENDER_H
#define NFTGATE_NFT_RENDER_H

#include <stddef.h>

#include "nft/layout.h"

/* Renders rs. On success returns 0 and sets *ret_text (NUL-terminated, caller frees) and
 * *ret_len; returns -ENOMEM otherwise. */
int render_text(const struct ruleset *rs, char **ret_text, size_t *ret_len);

#endif
