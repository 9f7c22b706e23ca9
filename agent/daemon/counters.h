/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's counter objects as the per-route and per-backend metric families: read on
 * each scrape (one GETOBJ dump of our table's counters), labelled from the committed
 * layout, so /metrics reports exactly what the kernel counted, never an estimate.
 */
#ifndef NFTGATE_AGENT_DAEMON_COUNTERS_H
#define NFTGATE_AGENT_DAEMON_COUNTERS_H

#include "agent/obs/daemon_metrics.h"
#include "nft/layout.h"
#include "nft/netlink.h"

/* Replaces the route_* and backend_* families of dm with the values of rs's counters as
 * the kernel holds them now. Returns 0 or -errno (the families are then left as they were). */
int daemon_counters_fill(struct daemon_metrics *dm, struct nl_sock *nl, const struct ruleset *rs);

#endif
