/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> record_decode() -> what apply does with the committed record short of
 * the kernel (fuzz_use_snapshot()), and the record must encode and read back. The harness
 * makes both checksums right (the header's, then the embedded snapshot's at the end), as
 * the fuzzer could not. Seeds are real records (tests/fuzz/corpus-record/).
 */
#include "tests/fuzz/fuzz_common.h"

/* magic, version, boot id, netns cookie (docs/rollback.md, "The committed record") */
#define HEADER (8 + 4 + 36 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	struct nl_netns_id id;
	struct snapshot *s = NULL;

	if (!buf)
		return 0;
	if (size >= HEADER + 8) {
		fuzz_fix_sum(buf, 0, HEADER + 8);
		fuzz_fix_sum(buf, HEADER + 8, size);
	}
	if (record_decode(buf, size, &id, &s, NULL) == 0) {
		uint8_t *enc = NULL;
		size_t len = 0;

		fuzz_use_snapshot(s);
		if (record_encode(&id, s, s->genid, &enc, &len) == 0) {
			struct snapshot *again = NULL;

			if (record_decode(enc, len, &id, &again, NULL) != 0)
				abort(); /* a record nftgate wrote that it cannot read back */
			snapshot_free(again);
			free(enc);
		}
		snapshot_free(s);
	}
	free(buf);
	return 0;
}
