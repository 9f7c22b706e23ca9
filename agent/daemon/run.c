/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `nftgate run`: the node agent. One loop (agent/daemon/loop.h) turns inotify events into
 * debounced reconciles (files -> resolve -> element changes, agent/daemon/sync.h), repairs
 * what another program changes in our table (nftables notifications), and serves health
 * and metrics. It leaves the table in place when it stops: the data plane outlives the
 * agent, and the next start adopts it without a flush (docs/daemon.md).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "agent/cli.h"
#include "agent/daemon/counters.h"
#include "agent/daemon/files.h"
#include "agent/daemon/loop.h"
#include "agent/daemon/run.h"
#include "agent/daemon/sync.h"
#include "agent/kernel_session.h"
#include "agent/obs/daemon_metrics.h"
#include "agent/obs/http.h"
#include "agent/obs/log.h"
#include "agent/obs/notify.h"
#include "agent/seams.h"
#include "model/resolve.h"
#include "model/store_view.h"
#include "nft/events.h"

#define DEBOUNCE_NS (20 * LOOP_NSEC_PER_MSEC)   /* quiet time that ends a burst */
#define DEBOUNCE_MAX_NS (200 * LOOP_NSEC_PER_MSEC) /* a burst never waits longer */
#define RETRY_MIN_NS (100 * LOOP_NSEC_PER_MSEC)
#define RETRY_MAX_NS (30 * LOOP_NSEC_PER_SEC)
#define TRIM_NS (1 * LOOP_NSEC_PER_SEC)         /* memory given back after changes pause */
#define GC_DELAY_NS (1 * LOOP_NSEC_PER_SEC)     /* stale chains wait this long (< 6.2) */
#define HEALTH_BOUND_NS (30 * LOOP_NSEC_PER_SEC)
#define FLUSH_NS (10 * LOOP_NSEC_PER_SEC)       /* held-back log repeats are said this often */

struct daemon {
	const struct cli *c;
	struct loop *loop;
	struct logger *log;
	struct metrics *m;
	struct daemon_metrics dm;
	struct http_server *http;
	struct notify *notify;
	struct kernel_session ks;
	struct sync *sync;
	struct nft_events *ev;
	struct nft_events_seen seen;
	bool unheard;            /* a full replace ran muted and the generation moved past it */
	bool held_empty;         /* the inputs hold no Gateway API object: nothing is applied */
	struct loop_io *ev_io, *files_io;
	struct files *files;
	struct loop_timer *debounce, *retry, *gc, *repair, *flush, *trim;
	uint64_t burst_start;     /* 0: no burst under way */
	uint64_t backoff_ns;
	bool dirty;               /* inputs changed since the last committed reconcile */
	bool ready;
	bool notified_ready;
	bool synced;              /* a reconcile has committed since the start */
	int exit_code;
};

/* ---- readiness ---- */

static void set_ready(struct daemon *d, bool ready, const char *why)
{
	d->ready = ready;
	if (d->http)
		http_server_set_ready(d->http, ready, why);
	if (ready && !d->notified_ready) {
		notify_ready(d->notify, "first sync done");
		d->notified_ready = true;
	} else {
		notify_status(d->notify, ready ? "in sync" : why);
	}
}

/* ---- input errors ---- */

static void log_diags(struct daemon *d, const struct diags *ds, const char *what)
{
	for (size_t i = 0; i < ds->n; i++) {
		const struct diag *g = &ds->v[i];

		log_at(d->log, LOG_LEVEL_ERROR, what, g->file,
		       LOG_STR("file", g->file), LOG_UINT("line", g->line),
		       LOG_STR("object", g->object ? g->object : ""),
		       LOG_STR("field", g->field ? g->field : ""), LOG_STR("error", g->message));
	}
	if (ds->dropped)
		log_error(d->log, what, LOG_UINT("more_errors", ds->dropped));
}

/* nftgate_input_errors for the files the last rescan listed: a file gone since has no
 * series any more. Out of memory leaves the family as the previous rescan set it. */
static void count_input_errors(struct daemon *d)
{
	struct input_file_errors *v = calloc(d->files->n ? d->files->n : 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < d->files->n; i++) {
		const struct file_src *s = &d->files->v[i];

		v[i].file = s->path;
		v[i].errors = s->bad ? (double)(s->errors.n + s->errors.dropped) : 0;
	}
	(void)daemon_metrics_input_errors(&d->dm, v, d->files->n);
	free(v);
}

/* Logs the errors of every file whose content was just read and failed, once. */
static void report_files(struct daemon *d)
{
	count_input_errors(d);
	for (size_t i = 0; i < d->files->n; i++) {
		struct file_src *s = &d->files->v[i];

		if (!s->fresh_errors)
			continue;
		s->fresh_errors = false;
		log_diags(d, &s->errors, s->good ? "input error; the file's last good objects "
			  "stay in use" : "input error; the file is not used until it parses");
	}
	for (size_t i = 0; i < d->files->notes.n_notes; i++)
		log_at(d->log, LOG_LEVEL_WARN, "input skipped", d->files->notes.notes[i].file,
		       LOG_STR("file", d->files->notes.notes[i].file),
		       LOG_STR("note", d->files->notes.notes[i].message));
}

static void count_objects(struct daemon *d, const struct store *v)
{
	size_t n[KIND__COUNT] = {
		[KIND_GATEWAY_CLASS] = v->n_classes, [KIND_GATEWAY] = v->n_gateways,
		[KIND_REFERENCE_GRANT] = v->n_grants, [KIND_SERVICE] = v->n_services,
		[KIND_ENDPOINT_SLICE] = v->n_slices, [KIND_NAMESPACE] = v->n_namespaces,
	};

	/* one array holds both route kinds */
	for (size_t i = 0; i < v->n_routes; i++)
		n[v->routes[i].kind]++;
	for (int k = 0; k < KIND__COUNT; k++) {
		const char *const labels[] = { kind_name((enum kind)k), NULL };

		metric_set(d->dm.objects, labels, (double)n[k]);
	}
}

static size_t gateway_api_objects(const struct store *v)
{
	return v->n_classes + v->n_gateways + v->n_routes + v->n_grants;
}

/* ---- reconcile ---- */

/* The delay the next arm_retry() waits (before jitter). */
static uint64_t next_backoff(const struct daemon *d)
{
	uint64_t ns = d->backoff_ns ? d->backoff_ns * 2 : RETRY_MIN_NS;

	return ns > RETRY_MAX_NS ? RETRY_MAX_NS : ns;
}

static void arm_retry(struct daemon *d)
{
	d->backoff_ns = next_backoff(d);
	/* jitter: a quarter of the delay, from the clock's low bits */
	loop_timer_arm(d->retry, d->backoff_ns - d->backoff_ns / 4 +
				 loop_now() % (d->backoff_ns / 4 + 1));
}

/* A full replace is sent with notifications off (sync.ev): if the generation moved past
 * our commit meanwhile, someone else committed unheard, and the table is compared as after
 * lost notifications. */
static void check_unheard(struct daemon *d, const struct sync_result *res)
{
	if (d->sync->deaf)
		log_error(d->log, "joining the nftables notifications again failed; drift is "
			  "found at the next reconcile or SIGHUP until it works");
	if (!res->unwatched || d->sync->deaf || sync_current(d->sync))
		return;
	d->unheard = true;
	if (!loop_timer_armed(d->repair))
		loop_timer_arm(d->repair, 10 * LOOP_NSEC_PER_MSEC);
}

/* The commit's cleanup of UDP flows to endpoints it removed (nft/conntrack.h): logged and
 * counted, a failure only warned about (the flows then live until they time out). */
static void report_flows(struct daemon *d, const struct sync_result *res)
{
	if (res->ct.deleted)
		metric_add(d->dm.conntrack_flows_deleted, NULL, (double)res->ct.deleted);
	if (res->ct_err) {
		metric_add(d->dm.conntrack_cleanup_failures, NULL, 1);
		log_warn(d->log, "deleting the UDP flows of removed endpoints failed; they last "
			 "until they time out", LOG_STR("error", res->ct_msg),
			 LOG_UINT("deleted", res->ct.deleted));
	} else if (res->ct.deleted || res->ct.gone) {
		log_info(d->log, "conntrack: UDP flows to removed endpoints deleted",
			 LOG_UINT("deleted", res->ct.deleted), LOG_UINT("gone", res->ct.gone),
			 LOG_UINT("marks", res->stale_marks), LOG_UINT("dumps", res->ct.dumps),
			 LOG_UINT("entries_read", res->ct.parts));
	}
}

static void after_commit(struct daemon *d, const char *what, const struct sync_result *res)
{
	metric_observe(d->dm.reconcile_seconds, NULL, res->ms / 1e3);
	metric_observe(d->dm.reconcile_messages, NULL, (double)res->msgs);
	metric_set(d->dm.last_sync, NULL, (double)time(NULL));
	log_info(d->log, what, LOG_UINT("msgs", res->msgs), LOG_UINT("bytes", res->bytes),
		 LOG_DOUBLE("ms", res->ms), LOG_UINT("attempts", res->attempts),
		 LOG_BOOL("replaced", res->replaced),
		 LOG_STR("changes", res->summary));
	report_flows(d, res);
	if (d->sync->gc_pending && !loop_timer_armed(d->gc))
		loop_timer_arm(d->gc, GC_DELAY_NS);
	check_unheard(d, res);
}

/* Inputs emptied of every Gateway API object would remove every listener: held as a start
 * refuses them (a directory wiped by mistake, a config tool between two states), unless
 * --allow-empty. True while held; logged once per hold. */
static bool hold_empty(struct daemon *d, const struct store *view)
{
	static const char why[] = "the inputs hold no Gateway API object; the table is held "
				  "as it is (--allow-empty applies that)";

	if (gateway_api_objects(view) || d->c->allow_empty) {
		d->held_empty = false;
		return false;
	}
	if (!d->held_empty)
		log_warn(d->log, why, LOG_UINT("files", d->files->n));
	d->held_empty = true;
	d->dirty = false;
	set_ready(d, false, why);
	return true;
}

/* Resolves the objects in use and brings the kernel to their plan. */
static int reconcile_once(struct daemon *d)
{
	struct resolve_opts ro = {
		.controller_name = d->c->controller,
		.claimed_classes = d->c->classes,
		.n_claimed_classes = d->c->n_classes,
	};
	struct nft_error e = { 0 };
	struct sync_result res;
	struct diags dup = { 0 }, rd = { 0 };
	struct store *view = NULL;
	struct status_set *st = NULL;
	struct plan *p = NULL;
	char why[600];
	int r;

	ro.diags = &rd;
	r = files_view(d->files, &view, &dup);
	if (r >= 0 && hold_empty(d, view)) {
		store_view_free(view);
		diags_clear(&dup);
		return 0;
	}
	if (r >= 0) {
		log_diags(d, &dup, "input error; the first definition is used");
		count_objects(d, view);
		r = resolve(view, &ro, &p, &st);
	}
	/* a backendRef past the data plane's limits: its share resets, the rest goes on */
	log_diags(d, &rd, "input error; that backendRef's share resets");
	store_view_free(view);
	status_set_free(st);
	diags_clear(&dup);
	diags_clear(&rd);
	if (r < 0) {
		log_error(d->log, "resolve failed", LOG_ERRNO("error", r));
		arm_retry(d);
		return r;
	}
	r = sync_apply(d->sync, p, &res, &e);
	if (r < 0) {
		log_error(d->log, "reconcile failed; the kernel keeps the last good ruleset",
			  LOG_STR("error", e.msg[0] ? e.msg : strerror(-r)),
			  LOG_UINT("msgs", res.msgs),
			  LOG_DOUBLE("retry_s", (double)next_backoff(d) / 1e9));
		snprintf(why, sizeof(why), "the last reconcile failed: %.500s",
			 e.msg[0] ? e.msg : strerror(-r));
		metric_add(d->dm.reconcile_failures, NULL, 1);
		set_ready(d, false, why);
		arm_retry(d);
		return r;
	}
	d->dirty = false;
	d->synced = true;
	d->backoff_ns = 0;
	loop_timer_disarm(d->retry);
	after_commit(d, "reconcile", &res);
	set_ready(d, true, NULL);
	return 0;
}

/* A reconcile builds the new plan, layout and catalogs beside the old ones and then frees
 * the old: at 10,000 routes some 60 MiB that glibc keeps mapped, and only the next
 * reconcile reuses. Given back once the changes pause (TRIM_NS after the last), not after
 * each, so that a burst of changes does not fault the same pages in again for every one. */
static int reconcile(struct daemon *d)
{
	int r = reconcile_once(d);

	loop_timer_arm(d->trim, TRIM_NS);
	return r;
}

static void on_trim(struct loop *l, struct loop_timer *t, void *data)
{
	malloc_trim(0);
}

/* Rescans the inputs; reconciles when the objects in use changed (or always, `force`). */
static void inputs_changed(struct daemon *d, bool force)
{
	struct files_change chg;
	int r = files_rescan(d->files, &chg);

	if (r < 0) {
		log_error(d->log, "reading the inputs failed", LOG_ERRNO("error", r));
		arm_retry(d);
		return;
	}
	report_files(d);
	if (chg.objects)
		d->dirty = true;
	if (!d->synced && !files_all_good_once(d->files)) {
		/* at start, a file never parsed: the objects it held when the table was
		 * written are unknown, so nothing may be removed yet. Later, a new file that
		 * never parsed has no objects in use to lose. */
		set_ready(d, false, "some input has never parsed; the table is held as it is");
		return;
	}
	/* A failed reconcile waits for its retry: an event that changed no object (any event
	 * in a watched directory, the parent of the inputs included) must not defeat the
	 * backoff; new objects are worth trying at once. */
	if (force || chg.objects || (d->dirty && !loop_timer_armed(d->retry)))
		reconcile(d);
}

static void on_debounce(struct loop *l, struct loop_timer *t, void *data)
{
	struct daemon *d = data;

	d->burst_start = 0;
	inputs_changed(d, false);
}

static void on_retry(struct loop *l, struct loop_timer *t, void *data)
{
	inputs_changed(data, true);
}

static void on_files(struct loop *l, int fd, uint32_t events, void *data)
{
	struct daemon *d = data;
	uint64_t now = loop_now(), delay = DEBOUNCE_NS;
	int r = files_drain(d->files);

	if (r <= 0) {
		if (r < 0)
			log_error(d->log, "reading inotify events failed", LOG_ERRNO("error", r));
		return;
	}
	/* one reconcile per burst: DEBOUNCE_NS after the last event, never later than
	 * DEBOUNCE_MAX_NS after the first */
	if (!d->burst_start)
		d->burst_start = now;
	if (now + delay > d->burst_start + DEBOUNCE_MAX_NS)
		delay = d->burst_start + DEBOUNCE_MAX_NS > now ? d->burst_start + DEBOUNCE_MAX_NS - now : 0;
	loop_timer_arm(d->debounce, delay);
}

/* ---- drift ---- */

static void on_repair(struct loop *l, struct loop_timer *t, void *data)
{
	struct daemon *d = data;
	struct nft_error e = { 0 };
	struct sync_result res;
	const char *as_committed = d->seen.lost ? "notifications lost; the table is as committed" :
				   d->unheard ? "another commit ran during a full replace; the "
						"table is as committed" : NULL;
	int r;

	memset(&d->seen, 0, sizeof(d->seen));
	d->unheard = false;
	if (as_committed && sync_current(d->sync)) {
		/* notifications lost or a replace unheard, but nothing changed since our commit */
		log_info(d->log, as_committed, LOG_BOOL("dumped", false));
		return;
	}
	r = sync_repair(d->sync, &res, &e);
	if (r < 0) {
		log_error(d->log, "drift repair failed", LOG_STR("error", e.msg[0] ? e.msg : strerror(-r)));
		loop_timer_arm(d->repair, RETRY_MIN_NS * 10);
		return;
	}
	if (!res.msgs) {
		if (as_committed)
			log_info(d->log, as_committed, LOG_BOOL("dumped", true));
		return;
	}
	metric_add(d->dm.drift_repairs, NULL, 1);
	after_commit(d, "drift repaired", &res);
}

static void on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	struct daemon *d = data;
	int r = nft_events_read(d->ev, getpid(), &d->seen);

	if (r < 0)
		log_error(d->log, "reading nftables notifications failed", LOG_ERRNO("error", r));
	if (d->seen.foreign)
		log_warn(d->log, "table changed by another program", LOG_STR("by", d->seen.who));
	if (d->seen.foreign || d->seen.lost) {
		if (!loop_timer_armed(d->repair))
			loop_timer_arm(d->repair, 10 * LOOP_NSEC_PER_MSEC);
	} else if (!d->unheard) {
		/* every transaction read so far was ours or left our table alone */
		sync_advance(d->sync, d->seen.genid);
	}
}

static void on_gc(struct loop *l, struct loop_timer *t, void *data)
{
	struct daemon *d = data;
	struct nft_error e = { 0 };
	struct sync_result res;
	int r = sync_gc(d->sync, &res, &e);

	if (r < 0)
		log_warn(d->log, "removing unused chains failed; will retry",
			 LOG_STR("error", e.msg[0] ? e.msg : strerror(-r)));
	else if (res.msgs)
		log_debug(d->log, "unused chains removed", LOG_UINT("msgs", res.msgs));
	if (d->sync->gc_pending)
		loop_timer_arm(d->gc, GC_DELAY_NS * 5);
}

static void on_flush(struct loop *l, struct loop_timer *t, void *data)
{
	struct daemon *d = data;

	log_flush_repeats(d->log, false);
	loop_timer_arm(t, FLUSH_NS);
}

/* ---- signals ---- */

static void on_stop(struct loop *l, int signo, void *data)
{
	struct daemon *d = data;

	log_info(d->log, "stopping; the table stays in place", LOG_STR("signal", strsignal(signo)));
	notify_stopping(d->notify, "stopping");
	loop_stop(l);
}

static void on_hup(struct loop *l, int signo, void *data)
{
	struct daemon *d = data;

	log_info(d->log, "SIGHUP: re-reading every input");
	notify_reloading(d->notify, "re-reading every input");
	files_forget(d->files);
	inputs_changed(d, true);
	if (!loop_timer_armed(d->repair))
		loop_timer_arm(d->repair, 0);
	/* systemd waits for READY=1 to end a reload */
	notify_ready(d->notify, d->ready ? "in sync" : "not ready");
}

/* ---- metrics ---- */

static int render_metrics(FILE *out, void *data)
{
	struct daemon *d = data;

	if (d->sync->rs)
		daemon_counters_fill(&d->dm, d->ks.nl, d->sync->rs);
	return metrics_render(d->m, out);
}

/* ---- set-up ---- */

static int setup_obs(struct daemon *d)
{
	struct log_config lc = { .out = stderr, .format = d->c->log_format,
				 .min_level = d->c->log_level };
	struct sockaddr_storage sa;
	socklen_t sl;
	char err[256];
	int r;

	r = log_new(&lc, &d->log);
	if (r < 0)
		return r;
	d->m = metrics_new();
	if (!d->m)
		return -ENOMEM;
	r = daemon_metrics_register(d->m, NFTGATE_VERSION, &d->dm);
	if (r < 0)
		return r;
	r = notify_new(d->loop, d->log, &d->notify);
	if (r < 0)
		return r;
	r = http_listen_parse(d->c->listen ? d->c->listen : HTTP_LISTEN_DEFAULT, &sa, &sl, err,
			      sizeof(err));
	if (r < 0) {
		cli_error("%s", err);
		return r;
	}
	struct http_config hc = { .addr = (const struct sockaddr *)&sa, .addr_len = sl,
				  .health_bound_ns = HEALTH_BOUND_NS,
				  .metrics = render_metrics, .metrics_data = d };

	r = http_server_new(d->loop, &hc, &d->http);
	if (r < 0) {
		http_addr_format((const struct sockaddr *)&sa, err, sizeof(err));
		cli_error("--listen %s: %s", err, strerror(-r));
		return r;
	}
	http_server_set_ready(d->http, false, "starting");
	return 0;
}

static int setup_loop(struct daemon *d)
{
	int r;

	r = loop_new(&d->loop);
	if (r >= 0)
		r = loop_signal_add(d->loop, SIGTERM, on_stop, d);
	if (r >= 0)
		r = loop_signal_add(d->loop, SIGINT, on_stop, d);
	if (r >= 0)
		r = loop_signal_add(d->loop, SIGHUP, on_hup, d);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_debounce, d, &d->debounce);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_retry, d, &d->retry);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_gc, d, &d->gc);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_repair, d, &d->repair);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_flush, d, &d->flush);
	if (r >= 0)
		r = loop_timer_add(d->loop, on_trim, d, &d->trim);
	if (r >= 0)
		r = loop_timer_arm(d->flush, FLUSH_NS);
	return r;
}

static int setup_kernel(struct daemon *d)
{
	struct nft_error e = { 0 };
	int r;

	r = kernel_session_open(d->c, &d->ks, &e);
	if (r < 0) {
		cli_error("%s", e.msg[0] ? e.msg : strerror(-r));
		return r;
	}
	r = nft_events_open(d->c->table, &d->ev, &e);
	if (r >= 0)
		seam_events(d->c->seams, nft_events_fd(d->ev));
	if (r >= 0)
		r = loop_io_add(d->loop, nft_events_fd(d->ev), EPOLLIN, on_events, d, &d->ev_io);
	if (r >= 0)
		r = sync_new(d->ks.nl, d->ks.dirfd, d->c->table, d->c->masquerade, &d->sync);
	if (r >= 0) {
		d->sync->seams = d->c->seams;
		d->sync->ev = d->ev;
		r = sync_adopt(d->sync, &e);
	}
	if (r < 0) {
		cli_error("%s", e.msg[0] ? e.msg : strerror(-r));
		return r;
	}
	if (r > 0)
		log_warn(d->log, "no rollback point saved for this run; programming goes on",
			 LOG_STR("error", e.msg));
	log_info(d->log, "adopted", LOG_STR("table", d->c->table),
		 LOG_BOOL("present", d->sync->cat->present), LOG_UINT("generation", d->sync->genid),
		 LOG_STR("rollback_point", d->sync->start_snapshot));
	return 0;
}

static int setup_files(struct daemon *d)
{
	struct files_change chg;
	struct store *view = NULL;
	struct diags dup = { 0 };
	size_t n;
	int r;

	r = files_open(d->c->paths, d->c->n_paths, &d->files);
	if (r == -EINVAL) {
		cli_error("run: -f - (stdin) cannot be watched; name files or directories");
		d->exit_code = EXIT_INPUT;
		return -EINVAL;
	}
	if (r >= 0)
		r = loop_io_add(d->loop, d->files->fd, EPOLLIN, on_files, d, &d->files_io);
	if (r >= 0)
		r = files_rescan(d->files, &chg);
	if (r < 0)
		return r;
	report_files(d);
	r = files_view(d->files, &view, &dup);
	if (r < 0)
		return r;
	n = gateway_api_objects(view);
	store_view_free(view);
	diags_clear(&dup);
	/* the same guard as apply's: a mistyped path must not take the node's listeners
	 * down; a file that does not parse yet does not count as empty */
	if (!n && !files_bad(d->files) && !d->c->allow_empty) {
		cli_error("run: the inputs (%zu file%s) hold no Gateway API object; refusing to "
			  "start, which would remove every listener (--allow-empty to run anyway)",
			  d->files->n, d->files->n == 1 ? "" : "s");
		d->exit_code = EXIT_INPUT;
		return -EINVAL;
	}
	return 0;
}

static void teardown(struct daemon *d)
{
	struct nft_error e = { 0 };

	if (d->sync && sync_save_record(d->sync, &e) < 0 && d->log)
		log_warn(d->log, "the committed record was not saved; the next start dumps the "
			 "table", LOG_STR("error", e.msg));
	loop_timer_free(d->debounce);
	loop_timer_free(d->retry);
	loop_timer_free(d->gc);
	loop_timer_free(d->repair);
	loop_timer_free(d->flush);
	loop_timer_free(d->trim);
	loop_io_free(d->files_io);
	loop_io_free(d->ev_io);
	http_server_free(d->http);
	notify_free(d->notify);
	files_free(d->files);
	nft_events_close(d->ev);
	sync_free(d->sync);
	kernel_session_close(&d->ks);
	metrics_free(d->m);
	log_free(d->log);
	loop_free(d->loop);
}

int cmd_run(const struct cli *c)
{
	struct daemon d = { .c = c, .ks = { .dirfd = -1, .lock_fd = -1 }, .exit_code = EXIT_REFUSED };
	int r;

	/* a client closing its metrics connection early must not kill the agent */
	signal(SIGPIPE, SIG_IGN);
	r = setup_loop(&d);
	if (r >= 0)
		r = setup_obs(&d);
	/* inputs first: a start refused for them touches neither kernel nor state dir */
	if (r >= 0)
		r = setup_files(&d);
	if (r >= 0)
		r = setup_kernel(&d);
	if (r < 0) {
		if (r == -ENOMEM)
			cli_error("out of memory");
		teardown(&d);
		return d.exit_code;
	}
	log_info(d.log, "started", LOG_STR("table", c->table), LOG_UINT("files", d.files->n),
		 LOG_UINT("port", http_server_port(d.http)));
	inputs_changed(&d, true);
	r = loop_run(d.loop);
	if (r < 0)
		log_error(d.log, "event loop failed", LOG_ERRNO("error", r));
	teardown(&d);
	return r < 0 ? EXIT_REFUSED : EXIT_OK;
}
