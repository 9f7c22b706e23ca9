/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> nft_events_parse(), the reader of nftables notifications (drift):
 * datagrams the kernel sends about every program's transactions. Seeds are real
 * notifications of an apply, recorded in a network namespace (tests/fuzz/corpus-events/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nft/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nft_events_parser p = { .table = "nftgate" };
	struct nft_events_seen seen = { 0 };
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	/* a heap copy of exactly size bytes: ASan sees any read past the datagram */
	memcpy(buf, data, size);
	nft_events_parse(&p, buf, size, 1, &seen);
	if (seen.who[sizeof(seen.who) - 1] != '\0')
		abort();
	free(buf);
	return 0;
}
