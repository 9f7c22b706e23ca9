/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `nftgate status`: resolve the inputs and print the status a controller would write,
 * without touching the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/cli.h"
#include "agent/status_emit.h"

int cmd_status(const struct cli *c)
{
	struct status_set *st = NULL;
	char now[32];
	int r = cli_load(c, NULL, NULL, &st);

	if (r != EXIT_OK)
		return r;
	/* One timestamp for the whole run: every condition changed "now" as far as a
	 * one-shot command knows. */
	status_time(time(NULL), now, sizeof(now));
	r = status_emit(st, c->output, now, stdout);
	status_set_free(st);
	if (r < 0) {
		cli_error("writing the status: %s", strerror(-r));
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}
