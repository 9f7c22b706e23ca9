/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: bytes -> store_load_json (small limits), as an API response -> store_check ->
 * resolve(). Any crash, leak or undefined behaviour is a bug.
 */
#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "model/read.h"
#include "model/resolve.h"
#include "model/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct read_limits lim = {
		.max_input_bytes = 1 << 20,
		.max_doc_bytes = 256 << 10,
		.max_depth = 32,
		.max_objects = 2000,
		.max_string = 4096,
		.max_items = 5000,
	};
	static const char *const claimed[] = { "nftgate" };
	struct resolve_opts o = { .claimed_classes = claimed, .n_claimed_classes = 1 };
	struct store *s = store_new();
	struct diags d = { 0 };
	struct plan *p = NULL;
	struct status_set *st = NULL;

	if (!s)
		return 0;
	store_load_json(s, "api:/apis/gateway.networking.k8s.io/v1/tcproutes", (const char *)data,
			size, &lim, &d);
	store_check(s, &d);
	if (resolve(s, &o, &p, &st) == 0) {
		plan_free(p);
		status_set_free(st);
	}
	diags_clear(&d);
	store_free(s);
	return 0;
}
