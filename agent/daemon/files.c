/* SPDX-License-Identifier: Apache-2.0 */
/*
 * -f paths under inotify, one source per file, last good objects kept (files.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent/daemon/files.h"
#include "model/read.h"
#include "model/store_view.h"

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | \
		    IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

static void src_clear(struct file_src *s)
{
	free(s->path);
	store_free(s->good);
	diags_clear(&s->errors);
	memset(s, 0, sizeof(*s));
}

int files_open(const char *const *paths, size_t n, struct files **ret)
{
	struct files *f;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(paths[i], "-"))
			return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = -1;
	f->roots = calloc(n ? n : 1, sizeof(*f->roots));
	if (!f->roots)
		goto nomem;
	for (; f->n_roots < n; f->n_roots++) {
		f->roots[f->n_roots] = strdup(paths[f->n_roots]);
		if (!f->roots[f->n_roots])
			goto nomem;
	}
	f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->fd < 0) {
		int r = -errno;

		files_free(f);
		return r;
	}
	*ret = f;
	return 0;
nomem:
	files_free(f);
	return -ENOMEM;
}

struct files *files_free(struct files *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; i < f->n; i++)
		src_clear(&f->v[i]);
	free(f->v);
	for (size_t i = 0; i < f->n_roots; i++)
		free(f->roots[i]);
	free(f->roots);
	diags_clear(&f->notes);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return NULL;
}

int files_drain(struct files *f)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int seen = 0;

	for (;;) {
		ssize_t n = read(f->fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return seen;
			return -errno;
		}
		if (n == 0)
			return seen;
		/* Every event (an overflow included) means "look again": the rescan compares
		 * identities, so an unrelated event in a watched directory costs a few stats. */
		seen = 1;
	}
}

/* ---- the list of files the paths name ---- */

struct cand {
	char **v;
	size_t n, cap;
};

static int cand_add(struct cand *c, const char *dir, const char *name)
{
	char *p;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **v = reallocarray(c->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	if (dir ? asprintf(&p, "%s/%s", dir, name) < 0 : !(p = strdup(name)))
		return -ENOMEM;
	c->v[c->n++] = p;
	return 0;
}

static void cand_clear(struct cand *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i]);
	free(c->v);
}

static bool manifest_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false; /* hidden files, editors' temporaries, ConfigMap's ..data */
	return (len > 5 && !strcmp(n + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(n + len - 4, ".yml")) ||
	       (len > 5 && !strcmp(n + len - 5, ".json"));
}

/* The regular files of directory `dir` with a manifest name; other entries with such a
 * name are noted (a FIFO named b.yaml is never opened). */
static int list_dir(struct files *f, const char *dir, struct cand *c)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r >= 0 && (de = readdir(d))) {
		struct stat st;

		if (!manifest_name(de->d_name))
			continue;
		/* follow symlinks: a ConfigMap volume's files are links into ..data */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue; /* gone meanwhile, or a dangling link: nothing to read */
		if (!S_ISREG(st.st_mode)) {
			r = diags_note(&f->notes, dir, "skipped %s: not a regular file", de->d_name);
			continue;
		}
		r = cand_add(c, dir, de->d_name);
	}
	closedir(d);
	return r;
}

static void watch(struct files *f, const char *path, bool dir)
{
	/* Failure only means fewer events; the next event in the directory still leads to a full rescan */
	(void)inotify_add_watch(f->fd, path, WATCH_MASK | (dir ? IN_ONLYDIR : 0));
}

static void watch_parent(struct files *f, const char *path)
{
	char *copy = strdup(path);

	if (copy) {
		watch(f, dirname(copy), true);
		free(copy);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int candidates(struct files *f, struct cand *c)
{
	int r = 0;

	diags_clear(&f->notes);
	for (size_t i = 0; r >= 0 && i < f->n_roots; i++) {
		struct stat st;

		watch_parent(f, f->roots[i]);
		if (stat(f->roots[i], &st) < 0)
			continue; /* renamed over right now, or deleted: its objects go */
		if (S_ISDIR(st.st_mode)) {
			watch(f, f->roots[i], true);
			r = list_dir(f, f->roots[i], c);
		} else if (S_ISREG(st.st_mode)) {
			r = cand_add(c, NULL, f->roots[i]);
		} else {
			r = diags_note(&f->notes, f->roots[i], "skipped: not a regular file or "
				       "directory");
		}
	}
	if (r < 0 && r != -ENOMEM)
		r = 0; /* an unlistable directory reads as empty this time; say so below */
	if (r >= 0 && c->n > 1) {
		size_t out = 1;

		qsort(c->v, c->n, sizeof(*c->v), cmp_str);
		for (size_t i = 1; i < c->n; i++) {
			if (!strcmp(c->v[i], c->v[out - 1]))
				free(c->v[i]);
			else
				c->v[out++] = c->v[i];
		}
		c->n = out;
	}
	return r;
}

/* ---- reading one file ---- */

static bool same_id(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static size_t objects_in(const struct store *s)
{
	return s ? s->n_classes + s->n_gateways + s->n_routes + s->n_grants + s->n_services +
			   s->n_slices + s->n_namespaces : 0;
}

/* Objects in use, not counting source `skip`: what one file may add to is bounded like
 * one apply's store (read_limits.max_objects), so many files cannot grow it without end. */
static size_t objects_but(const struct files *f, const struct file_src *skip)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		if (&f->v[i] != skip)
			n += objects_in(f->v[i].good);
	return n;
}

/* Parses the file into a fresh store: clean, it replaces the good objects; otherwise the
 * good ones stay and the errors are kept. Returns 1 when the objects in use changed. */
static int read_src(const struct files *f, struct file_src *s, const struct stat *id,
		    struct files_change *chg)
{
	struct diags d = { 0 };
	struct store *st = store_new();
	int r;

	if (!st)
		return -ENOMEM;
	r = store_load_path(st, s->path, &read_limits_default, &d);
	if (r != -ENOMEM)
		r = store_check(st, &d) == -ENOMEM ? -ENOMEM : r;
	if (r == -ENOMEM) {
		diags_clear(&d);
		store_free(st);
		return -ENOMEM;
	}
	if (r >= 0 && !d.n && objects_in(st) + objects_but(f, s) > read_limits_default.max_objects &&
	    diags_add(&d, s->path, 0, NULL, NULL, "with this file the inputs would hold more "
		      "than %zu objects (the limit of one store)",
		      read_limits_default.max_objects) < 0) {
		store_free(st);
		return -ENOMEM;
	}
	s->id = *id;
	chg->read++;
	diags_clear(&s->errors);
	if (r < 0 || d.n || d.dropped) {
		if (!d.n && !d.dropped)
			diags_add(&d, s->path, 0, NULL, NULL, "cannot be read (%s)", strerror(-r));
		s->errors = d;
		s->bad = true;
		s->fresh_errors = true;
		store_free(st);
		chg->failed++;
		return 0;
	}
	diags_clear(&d);
	store_free(s->good);
	s->good = st;
	s->bad = false;
	return 1;
}

static int src_insert(struct files *f, size_t at, char *path)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct file_src *v = reallocarray(f->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	memmove(&f->v[at + 1], &f->v[at], (f->n - at) * sizeof(*f->v));
	memset(&f->v[at], 0, sizeof(*f->v));
	f->v[at].path = path;
	f->n++;
	return 0;
}

static void src_remove(struct files *f, size_t at, struct files_change *chg)
{
	if (f->v[at].good)
		chg->objects = true;
	src_clear(&f->v[at]);
	memmove(&f->v[at], &f->v[at + 1], (f->n - at - 1) * sizeof(*f->v));
	f->n--;
	chg->removed++;
}

int files_rescan(struct files *f, struct files_change *chg)
{
	struct cand c = { 0 };
	size_t i = 0, j = 0;
	int r;

	memset(chg, 0, sizeof(*chg));
	r = candidates(f, &c);
	while (r >= 0 && (i < f->n || j < c.n)) {
		int k = i >= f->n ? 1 : j >= c.n ? -1 : strcmp(f->v[i].path, c.v[j]);
		struct stat st;

		if (k < 0) {
			src_remove(f, i, chg);
			continue;
		}
		if (k > 0) {
			r = src_insert(f, i, c.v[j]);
			if (r < 0)
				break;
			c.v[j] = NULL;
		}
		j++;
		if (stat(f->v[i].path, &st) < 0) {
			/* vanished between the listing and now: read as gone next time */
			i++;
			continue;
		}
		if (k > 0 || !same_id(&st, &f->v[i].id)) {
			r = read_src(f, &f->v[i], &st, chg);
			if (r > 0)
				chg->objects = true;
		}
		i++;
	}
	cand_clear(&c);
	return r < 0 ? r : 0;
}

void files_forget(struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		memset(&f->v[i].id, 0, sizeof(f->v[i].id));
}

bool files_all_good_once(const struct files *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (!f->v[i].good)
			return false;
	return true;
}

size_t files_bad(const struct files *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].bad;
	return n;
}

int files_view(const struct files *f, struct store **ret, struct diags *d)
{
	const struct store **parts = calloc(f->n ? f->n : 1, sizeof(*parts));
	size_t n = 0;
	int r;

	if (!parts)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].good)
			parts[n++] = f->v[i].good;
	r = store_view_build(parts, n, ret, d);
	free(parts);
	return r;
}
