/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `nftgate run -f PATH...`: the node agent (docs/daemon.md). Returns an exit status: 0
 * after SIGTERM/SIGINT (the table stays in place), 1 when the system refused (the kernel,
 * the state dir, the listen address), 2 for bad usage or inputs it must not start with.
 */
#ifndef NFTGATE_AGENT_DAEMON_RUN_H
#define NFTGATE_AGENT_DAEMON_RUN_H

#include "agent/cli.h"

int cmd_run(const struct cli *c);

#endif
