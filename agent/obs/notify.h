/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Telling systemd how the service is doing (sd_notify, libsystemd): READY=1 after the
 * first full sync, STATUS= lines, RELOADING=1 on SIGHUP, STOPPING=1 on the way out, and
 * WATCHDOG=1 from a loop timer at half the interval systemd asked for (WatchdogSec=), so
 * that a stuck loop stops the pings and systemd restarts the service.
 *
 * Without NOTIFY_SOCKET in the environment (not started by systemd, or not Type=notify)
 * every call does nothing and returns 0, and no watchdog timer is armed.
 *
 * Each call sends one datagram, exactly (STATUS= only when status is not NULL):
 *   notify_ready:     "READY=1\nSTATUS=<status>"
 *   notify_status:    "STATUS=<status>"
 *   notify_reloading: "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now, us>\nSTATUS=<status>"
 *                     (MONOTONIC_USEC is what Type=notify-reload wants, systemd >= 253;
 *                     older ones ignore it). Send notify_ready() when the reload is done.
 *   notify_stopping:  "STOPPING=1\nSTATUS=<status>"
 *   the watchdog:     "WATCHDOG=1"
 * A status is one line: newlines and other control bytes become spaces (a newline would
 * start another assignment), and it is cut at NOTIFY_STATUS_MAX bytes.
 */
#ifndef NFTGATE_AGENT_OBS_NOTIFY_H
#define NFTGATE_AGENT_OBS_NOTIFY_H

#include <stdint.h>

#include "agent/daemon/loop.h"
#include "agent/obs/log.h"

#define NOTIFY_STATUS_MAX 512

struct notify;

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled) and, when
 * both say so, arms the watchdog timer on l. lg (borrowed, may be NULL) gets a
 * rate-limited warning when a watchdog ping cannot be sent. 0, or -errno. */
int notify_new(struct loop *l, struct logger *lg, struct notify **ret);

/* Stops the watchdog timer. Accepts NULL; returns NULL. */
struct notify *notify_free(struct notify *n);

/* 0 (also when there is no NOTIFY_SOCKET), or the -errno sd_notify returned. */
int notify_ready(struct notify *n, const char *status);
int notify_status(struct notify *n, const char *status);
int notify_reloading(struct notify *n, const char *status);
int notify_stopping(struct notify *n, const char *status);

/* The ping period (half of WATCHDOG_USEC) in ns, or 0 when the watchdog is off. */
uint64_t notify_watchdog_interval_ns(const struct notify *n);

#endif
