/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> snapshot_decode() -> what rollback does with the decoded snapshot
 * short of the kernel (fuzz_use_snapshot()). A snapshot is a file in the state directory:
 * anything may have damaged or written it, and its checksum only catches accidents, so the
 * harness makes the checksum (the last 8 bytes) right before decoding. Seeds are real
 * snapshot files (tests/fuzz/corpus-snapshot/).
 */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_copy(data, size);
	struct snapshot *s = NULL;

	if (!buf)
		return 0;
	fuzz_fix_sum(buf, 0, size);
	if (snapshot_decode(buf, size, &s, NULL) == 0) {
		fuzz_use_snapshot(s);
		snapshot_free(s);
	}
	free(buf);
	return 0;
}
