/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the snapshot and record fuzzers share: the file checksum (FNV-1a 64, big-endian,
 * docs/rollback.md), which they make right so that mutations reach the decoder, and what
 * nftgate does with a decoded snapshot short of the kernel.
 */
#ifndef NFTGATE_FUZZ_COMMON_H
#define NFTGATE_FUZZ_COMMON_H

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft/build.h"
#include "nft/catalog.h"
#include "nft/ids.h"
#include "nft/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline uint64_t fuzz_fnv64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Writes the checksum of buf[from, end - 8) into buf[end - 8, end). */
static inline void fuzz_fix_sum(uint8_t *buf, size_t from, size_t end)
{
	uint64_t h;

	if (end < from + 8)
		return;
	h = htobe64(fuzz_fnv64(buf + from, end - 8 - from));
	memcpy(buf + end - 8, &h, 8);
}

/* A private, exactly sized copy: the decoders must not read past what they were given. */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	if (p && size)
		memcpy(p, data, size);
	return p;
}

/* What rollback, apply and status do with a decoded snapshot without the kernel: describe
 * its messages, read its counters, check and replay it into a batch; and a snapshot that
 * passes the check (what nftgate saves) must read back. */
static inline void fuzz_use_snapshot(const struct snapshot *s)
{
	struct counter_values cv = { 0 };
	struct snapshot *again = NULL;
	struct nft_batch *nb = NULL;
	uint32_t genid = 1;
	uint8_t *enc = NULL;
	char text[256];
	size_t len = 0;

	struct catalog *cat = NULL;
	struct lay_ids *ids = NULL;
	bool same = false;

	for (size_t i = 0; i < s->n; i++)
		snapshot_describe_msg(s, i, text, sizeof(text));
	/* what the daemon does with a table it adopts: its catalog and its ids */
	if (lay_ids_from_snapshot(s, &ids, NULL) == 0)
		lay_ids_free(ids);
	if (catalog_from_snapshot(s, &cat, NULL) == 0) {
		/* a table nftgate can read is the same as itself */
		if (snapshot_same_content(s, s, &same) != 0 || !same)
			abort();
		catalog_free(cat);
	}
	if (snapshot_counters(s, &cv) == 0)
		counter_values_clear(&cv);
	if (snapshot_check(s, NULL) < 0)
		return; /* refused: what nftgate never saves */
	if (batch_start(s->table, 1, &genid, &nb) == 0) {
		if (batch_add_delete_table(nb) == 0 &&
		    (!s->present || snapshot_add_restore(s, nb, NULL) == 0))
			batch_finish(nb);
		batch_free(nb);
	}
	if (snapshot_encode(s, &enc, &len) == 0) {
		if (snapshot_decode(enc, len, &again, NULL) != 0)
			abort(); /* a snapshot nftgate would save that it cannot read back */
		snapshot_free(again);
		free(enc);
	}
}

#endif
