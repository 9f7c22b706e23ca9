/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's file source and store views, on a temporary directory: last good objects
 * per file, removal, skipped entries, duplicates across files, identity-based re-reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/daemon/files.h"
#include "model/store_view.h"

static const char svc_a[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
			    "spec: {ports: [{port: 80}]}\n";
static const char svc_b[] = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
			    "spec: {ports: [{port: 81}]}\n";
static const char broken[] = "apiVersion: v1\nkind: Service\nmetadata: [name\n";

struct dir {
	char path[64];
};

static void put(const struct dir *d, const char *name, const char *text)
{
	char p[128], tmp[160];
	FILE *f;

	/* as editors do: a temporary file renamed over the old one */
	snprintf(p, sizeof(p), "%s/%s", d->path, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d->path, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, p), 0);
}

static void rm(const struct dir *d, const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", d->path, name);
	assert_int_equal(unlink(p), 0);
}

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	snprintf(d->path, sizeof(d->path), "/tmp/nftgate-files-XXXXXX");
	assert_non_null(mkdtemp(d->path));
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

static size_t services_in_use(const struct files *f)
{
	struct diags dg = { 0 };
	struct store *v = NULL;
	size_t n;

	assert_int_equal(files_view(f, &v, &dg), 0);
	n = v->n_services;
	store_view_free(v);
	diags_clear(&dg);
	return n;
}

static struct files *open_dir(const struct dir *d)
{
	const char *paths[] = { d->path };
	struct files *f = NULL;

	assert_int_equal(files_open(paths, 1, &f), 0);
	return f;
}

static void bad_file_keeps_last_good(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	struct files *f;

	put(d, "a.yaml", svc_a);
	put(d, "b.yaml", svc_b);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.read, 2);
	assert_true(chg.objects);
	assert_true(files_all_good_once(f));
	assert_int_equal(services_in_use(f), 2);

	put(d, "b.yaml", broken);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.read, 1);
	assert_int_equal(chg.failed, 1);
	assert_false(chg.objects);
	assert_int_equal(files_bad(f), 1);
	assert_true(f->v[1].fresh_errors);
	assert_true(f->v[1].errors.n > 0);
	assert_true(f->v[1].errors.v[0].line > 0);
	assert_int_equal(services_in_use(f), 2); /* b's last good Service stays */

	rm(d, "b.yaml");
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.removed, 1);
	assert_true(chg.objects);
	assert_int_equal(services_in_use(f), 1);
	files_free(f);
}

static void unchanged_files_are_not_read_again(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	struct files *f;

	put(d, "a.yaml", svc_a);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.read, 1);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.read, 0);
	assert_false(chg.objects);
	files_forget(f);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(chg.read, 1);
	files_free(f);
}

static void never_parsed_file_is_not_good_once(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	struct files *f;

	put(d, "a.yaml", broken);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_false(files_all_good_once(f));
	put(d, "a.yaml", svc_a);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_true(files_all_good_once(f));
	files_free(f);
}

static void fifo_is_skipped_with_a_note(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	char p[128];
	struct files *f;

	put(d, "a.yaml", svc_a);
	snprintf(p, sizeof(p), "%s/b.yaml", d->path);
	assert_int_equal(mkfifo(p, 0600), 0);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0); /* would hang if the FIFO were opened */
	assert_int_equal(f->n, 1);
	assert_int_equal(f->notes.n_notes, 1);
	assert_non_null(strstr(f->notes.notes[0].message, "not a regular file"));
	files_free(f);
}

static void duplicate_across_files_first_wins(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	struct diags dg = { 0 };
	struct store *v = NULL;
	struct files *f;

	put(d, "a.yaml", svc_a);
	put(d, "z.yaml", svc_a);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(files_view(f, &v, &dg), 0);
	assert_int_equal(v->n_services, 1);
	assert_non_null(strstr(v->services[0].m.loc.file, "a.yaml"));
	assert_int_equal(dg.n, 1);
	assert_non_null(strstr(dg.v[0].file, "z.yaml"));
	assert_non_null(strstr(dg.v[0].message, "defined again"));
	store_view_free(v);
	diags_clear(&dg);
	files_free(f);
}

static void stdin_cannot_be_watched(void **state)
{
	const char *paths[] = { "-" };
	struct files *f = NULL;

	assert_int_equal(files_open(paths, 1, &f), -EINVAL);
	assert_null(f);
}

static void inotify_sees_a_rename_over(void **state)
{
	struct dir *d = *state;
	struct files_change chg;
	struct files *f;

	put(d, "a.yaml", svc_a);
	f = open_dir(d);
	assert_int_equal(files_rescan(f, &chg), 0);
	assert_int_equal(files_drain(f), 0);
	put(d, "a.yaml", svc_b);
	assert_int_equal(files_drain(f), 1); /* the events are queued when rename returns */
	files_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bad_file_keeps_last_good, setup, teardown),
		cmocka_unit_test_setup_teardown(unchanged_files_are_not_read_again, setup, teardown),
		cmocka_unit_test_setup_teardown(never_parsed_file_is_not_good_once, setup, teardown),
		cmocka_unit_test_setup_teardown(fifo_is_skipped_with_a_note, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_across_files_first_wins, setup, teardown),
		cmocka_unit_test(stdin_cannot_be_watched),
		cmocka_unit_test_setup_teardown(inotify_sees_a_rename_over, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
