/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up feature probe: sends the real layout (one listener, every map, chain and
 * expression nftgate uses) for a scratch table, ending with a message the kernel must
 * refuse, so the transaction is always aborted and nothing is ever created. A refusal of
 * any other message names the missing kernel feature and what to load.
 */
#ifndef NFTGATE_NFT_PROBE_H
#define NFTGATE_NFT_PROBE_H

#include <stdint.h>

#include "nft/error.h"
#include "nft/netlink.h"

struct nft_batch;
struct probe;

/* Returns 0 when the kernel has everything; -EPERM without CAP_NET_ADMIN; -EOPNOTSUPP (or
 * the kernel's -errno) with e naming the feature, module and config option otherwise. */
int probe_kernel(struct nl_sock *nl, struct nft_error *e);

/* The two halves of probe_kernel(), for tests: the probe batch (seq numbers from seq_base),
 * and the verdict on the kernel's replies to it. */
int probe_new(uint32_t seq_base, struct probe **ret, struct nft_error *e);
const struct nft_batch *probe_batch(const struct probe *p);
int probe_verdict(const struct probe *p, const struct nl_acks *acks, struct nft_error *e);
struct probe *probe_free(struct probe *p);

#endif
