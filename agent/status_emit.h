/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rendering a status set as a `kind: List` of objects with a Gateway API `status`, in YAML
 * (libyaml's emitter, so quoting is always right) or JSON (json-c, 2-space indent).
 */
#ifndef NFTGATE_AGENT_STATUS_EMIT_H
#define NFTGATE_AGENT_STATUS_EMIT_H

#include <stdio.h>
#include <time.h>

#include "agent/cli.h"
#include "model/status.h"

/* Formats t as RFC 3339 UTC ("2026-11-26T13:00:00Z") into buf (at least 21 bytes). */
void status_time(time_t t, char *buf, size_t size);

/* Borrows st; `now` is every condition's lastTransitionTime (one per run). Returns 0,
 * -ENOMEM, or -EIO when out could not be written. */
int status_emit(const struct status_set *st, enum output_format f, const char *now, FILE *out);

#endif
