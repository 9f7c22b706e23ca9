/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "agent/obs/notify.h"

struct notify {
	bool enabled; /* NOTIFY_SOCKET is set */
	struct logger *lg;
	struct loop_timer *watchdog;
	uint64_t interval_ns;
};

static void watchdog_ping(struct loop *l, struct loop_timer *t, void *data)
{
	struct notify *n = data;
	int r = sd_notify(0, "WATCHDOG=1");

	if (r < 0)
		log_at(n->lg, LOG_LEVEL_WARN, "watchdog ping failed", "watchdog",
		       LOG_ERRNO("error", r));
	r = loop_timer_arm(t, n->interval_ns);
	if (r < 0)
		log_at(n->lg, LOG_LEVEL_ERROR, "watchdog timer failed", "watchdog",
		       LOG_ERRNO("error", r));
}

static int start_watchdog(struct loop *l, struct notify *n)
{
	uint64_t usec = 0;
	int r = sd_watchdog_enabled(0, &usec);

	if (r <= 0 || usec == 0)
		return r < 0 ? r : 0;
	/* Half the interval, as sd_watchdog_enabled(3) advises: one late ping is no restart. */
	n->interval_ns = usec * 1000 / 2;
	r = loop_timer_add(l, watchdog_ping, n, &n->watchdog);
	if (r < 0)
		return r;
	return loop_timer_arm(n->watchdog, n->interval_ns);
}

int notify_new(struct loop *l, struct logger *lg, struct notify **ret)
{
	struct notify *n = calloc(1, sizeof(*n));
	int r = 0;

	if (!n)
		return -ENOMEM;
	n->lg = lg;
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	if (n->enabled)
		r = start_watchdog(l, n);
	if (r < 0) {
		notify_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

struct notify *notify_free(struct notify *n)
{
	if (!n)
		return NULL;
	loop_timer_free(n->watchdog);
	free(n);
	return NULL;
}

uint64_t notify_watchdog_interval_ns(const struct notify *n)
{
	return n->watchdog ? n->interval_ns : 0;
}

/* "\nSTATUS=<status>" made safe: one line, bounded. */
static void put_status(char *buf, size_t len, size_t *o, const char *status)
{
	int w;

	if (!status)
		return;
	w = snprintf(buf + *o, len - *o, "%sSTATUS=", *o ? "\n" : "");
	if (w < 0 || (size_t)w >= len - *o)
		return;
	*o += (size_t)w;
	for (size_t i = 0; status[i] && i < NOTIFY_STATUS_MAX && *o + 1 < len; i++) {
		unsigned char c = (unsigned char)status[i];

		buf[(*o)++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	buf[*o] = '\0';
}

static int send_state(struct notify *n, const char *head, const char *status)
{
	char buf[NOTIFY_STATUS_MAX + 128];
	size_t o = 0;
	int r;

	if (!n->enabled)
		return 0;
	buf[0] = '\0';
	if (head) {
		r = snprintf(buf, sizeof(buf), "%s", head);
		o = r > 0 ? (size_t)r : 0;
	}
	put_status(buf, sizeof(buf), &o, status);
	if (o == 0)
		return 0;
	r = sd_notify(0, buf);
	return r < 0 ? r : 0;
}

int notify_ready(struct notify *n, const char *status)
{
	return send_state(n, "READY=1", status);
}

int notify_status(struct notify *n, const char *status)
{
	return send_state(n, NULL, status);
}

int notify_reloading(struct notify *n, const char *status)
{
	char head[64];

	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 loop_now() / 1000);
	return send_state(n, head, status);
}

int notify_stopping(struct notify *n, const char *status)
{
	return send_state(n, "STOPPING=1", status);
}
