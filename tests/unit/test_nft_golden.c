/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Golden files: the dry-run text (.nft), every rule's bytecode as nft --debug=netlink prints
 * it (.netlink) and every set's encoding (.sets) for fixed plans, compared with the files
 * under tests/golden. Those were generated once with NFTGATE_UPDATE_GOLDEN=1 and reviewed
 * against `nft --debug=netlink -f` of the same text in a network namespace; the test
 * compares, it does not regenerate (unless that variable is set).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nft/build.h"
#include "nft/layout.h"
#include "nft/render.h"
#include "test_nft_plans.h"

static const char *golden_dir(void)
{
	const char *d = getenv("NFTGATE_GOLDEN_DIR");

	return d && *d ? d : "tests/golden";
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void compare(const char *name, const char *ext, const char *got)
{
	char path[512];
	char *want;

	snprintf(path, sizeof(path), "%s/%s.%s", golden_dir(), name, ext);
	if (getenv("NFTGATE_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		fputs(got, f);
		assert_int_equal(fclose(f), 0);
		return;
	}
	want = read_file(path);
	if (!want)
		fail_msg("missing golden file %s (generate with NFTGATE_UPDATE_GOLDEN=1, review "
			 "with nft --debug=netlink)", path);
	if (strcmp(want, got)) {
		size_t i = 0;

		while (want[i] && want[i] == got[i])
			i++;
		fail_msg("%s differs from the output at byte %zu:\n--- golden: %.120s\n--- got:    "
			 "%.120s", path, i, want + i, got + i);
	}
	free(want);
}

static void check_plan(const char *name, const struct plan *p, bool masq, const char *table)
{
	struct nft_error e = { 0 };
	struct ruleset *rs = NULL;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(layout_build(p, table, masq, &rs, &e), 0);
	assert_int_equal(render_text(rs, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	compare(name, "nft", text);
	free(text);
	assert_int_equal(batch_debug_rules(rs, &text), 0);
	compare(name, "netlink", text);
	free(text);
	assert_int_equal(batch_debug_sets(rs, &text), 0);
	compare(name, "sets", text);
	free(text);
	ruleset_free(rs);
}

static void golden_basic(void **state) { check_plan("basic", &plan_basic, true, "nftgate"); }
static void golden_weights(void **state) { check_plan("weights", &plan_weights, true, "nftgate"); }
static void golden_addresses(void **state)
{
	check_plan("addresses", &plan_addresses, true, "nftgate");
}
static void golden_rejects(void **state) { check_plan("rejects", &plan_rejects, true, "nftgate"); }
static void golden_udp(void **state) { check_plan("udp", &plan_udp, true, "nftgate"); }
static void golden_tcp_udp(void **state)
{
	check_plan("tcp-udp", &plan_tcp_udp, true, "nftgate");
}
static void golden_never(void **state)
{
	check_plan("masquerade-never", &plan_basic, false, "gw2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_basic),
		cmocka_unit_test(golden_weights),
		cmocka_unit_test(golden_addresses),
		cmocka_unit_test(golden_rejects),
		cmocka_unit_test(golden_never),
		cmocka_unit_test(golden_udp),
		cmocka_unit_test(golden_tcp_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
