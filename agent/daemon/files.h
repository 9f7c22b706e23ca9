/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The -f paths of `nftgate run` as a source of objects, watched with inotify.
 *
 * Every regular file found (a path given, or a *.yaml / *.yml / *.json entry of a
 * directory given) is one source. A source's objects are replaced as a whole when its file
 * parses without error; while it does not, its last good objects stay in use (bad is set
 * and errors says why), so one broken file never takes down the traffic it was carrying. A
 * file that disappears takes its objects with it.
 *
 * inotify watches each path's directory (renames over it, deletes and re-creates are seen
 * there) and each directory path itself; any event only marks the source dirty: the owner
 * debounces and then calls files_rescan(), which compares every file's identity (device,
 * inode, size, mtime, ctime) with what it last read, so an event that is lost or merged
 * costs nothing but a re-stat.
 */
#ifndef NFTGATE_AGENT_DAEMON_FILES_H
#define NFTGATE_AGENT_DAEMON_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "model/diag.h"
#include "model/objects.h"

struct file_src {
	char *path;              /* owned */
	struct store *good;      /* the last objects that parsed cleanly; NULL before any */
	struct diags errors;     /* why the current content does not parse; empty when it does */
	bool bad;                /* the current content does not parse */
	bool fresh_errors;       /* errors were just (re)filled: the owner reports them once */
	bool present;            /* seen by the last rescan */
	struct stat id;          /* identity of the content read last */
};

struct files {
	char **roots;            /* the -f paths, owned */
	size_t n_roots;
	struct file_src *v;      /* sorted by path */
	size_t n, cap;
	int fd;                  /* inotify, non-blocking, close-on-exec */
	struct diags notes;      /* directory entries skipped by the last rescan */
};

/* What one rescan changed. */
struct files_change {
	size_t read;             /* files (re-)read */
	size_t failed;           /* of those, files whose new content does not parse */
	size_t removed;          /* files gone since the last rescan */
	bool objects;            /* the set of objects in use changed */
};

/* Opens the source for paths (copied), with its inotify descriptor, and no files read yet.
 * "-" (stdin) cannot be watched: -EINVAL. Returns 0 or -errno. */
int files_open(const char *const *paths, size_t n, struct files **ret);

struct files *files_free(struct files *f);

/* Reads the inotify events waiting (the descriptor is non-blocking). Returns 1 when some
 * event concerns our paths, 0 when none, or -errno (-ENOBUFS-like queue overflow counts as
 * an event: a rescan finds whatever happened). */
int files_drain(struct files *f);

/* Stats every path, lists directories, re-reads what changed, drops what is gone, and
 * (re-)adds the inotify watches. A path that is missing is not an error here (a file being
 * renamed over); a path that cannot be listed or read is reported in that source's errors.
 * Returns 0 and fills *chg, or -ENOMEM. */
int files_rescan(struct files *f, struct files_change *chg);

/* Forgets every file's identity, so that the next rescan reads every file again (SIGHUP). */
void files_forget(struct files *f);

/* True when every file has been parsed cleanly at least once (each has a good version). */
bool files_all_good_once(const struct files *f);

/* The number of files whose current content does not parse. */
size_t files_bad(const struct files *f);

/* The objects in use, as a store view (model/store_view.h) over every source's good
 * objects, in path order; an object defined again in a later file is left out and
 * reported in d. Free with store_view_free(). Returns 0 or -ENOMEM. */
int files_view(const struct files *f, struct store **ret, struct diags *d);

#endif
