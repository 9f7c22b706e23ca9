/* SPDX-License-Identifier: Apache-2.0 */
#include <unistd.h>

#include "agent/kernel_session.h"
#include "nft/probe.h"
#include "nft/statedir.h"

int kernel_session_open(const struct cli *c, struct kernel_session *ks, struct nft_error *e)
{
	int r;

	ks->nl = NULL;
	ks->dirfd = -1;
	/* The probe comes first, so that a kernel lacking a feature is named before anything
	 * is read, saved or tried. */
	r = nl_open(&ks->nl, e);
	if (r >= 0)
		r = probe_kernel(ks->nl, e);
	if (r >= 0)
		r = statedir_open(c->state_dir, &ks->dirfd, e);
	if (r < 0)
		kernel_session_close(ks);
	return r;
}

void kernel_session_close(struct kernel_session *ks)
{
	if (ks->dirfd >= 0)
		close(ks->dirfd);
	ks->dirfd = -1;
	nl_close(ks->nl);
	ks->nl = NULL;
}
