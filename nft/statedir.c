/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nft/statedir.h"

#define SNAP_SUFFIX ".snap"
#define PENDING_SUFFIX ".pending"

static bool safe_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

size_t statedir_prefix_len(const char *table)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)table; *p; p++)
		n += safe_byte(*p) ? 1 : 3;
	return n;
}

/* Table names may hold any byte; file names get the safe ones as is, others hex-escaped.
 * -ENAMETOOLONG when the result would not leave room for the longest suffix. */
static int file_prefix(const char *table, char buf[STATEDIR_PREFIX_MAX + 1])
{
	size_t o = 0;

	if (statedir_prefix_len(table) > STATEDIR_PREFIX_MAX)
		return -ENAMETOOLONG;
	for (const unsigned char *p = (const unsigned char *)table; *p; p++) {
		if (safe_byte(*p))
			buf[o++] = (char)*p;
		else
			o += (size_t)snprintf(buf + o, STATEDIR_PREFIX_MAX + 1 - o, "%%%02x", *p);
	}
	buf[o] = '\0';
	return 0;
}

static int prefix_or_error(const char *table, char *prefix, struct nft_error *e)
{
	if (file_prefix(table, prefix) < 0)
		return nft_error_set(e, -ENAMETOOLONG, "table name too long for the state "
				     "directory's file names: %zu bytes as written there (bytes "
				     "outside [A-Za-z0-9_-] take 3), at most %d",
				     statedir_prefix_len(table), STATEDIR_PREFIX_MAX);
	return 0;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whoever can put a file in the state directory chooses what the next rollback replays
 * with CAP_NET_ADMIN: only its owner (us or root) may write there. An existing directory
 * is not chmod'ed: --state-dir /tmp must not make /tmp private. */
static int check_private(int fd, const char *path, struct nft_error *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return nft_error_set(e, -errno, "checking the state directory %s: %s", path,
				     strerror(errno));
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return nft_error_set(e, -EPERM, "the state directory %s is writable by group or "
				     "others (mode %04o): anyone who can write there chooses what "
				     "a rollback restores; chmod 0700 it or use another "
				     "--state-dir", path, (unsigned)(st.st_mode & 07777));
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return nft_error_set(e, -EPERM, "the state directory %s belongs to uid %u, not to "
				     "this user or root; use another --state-dir", path,
				     (unsigned)st.st_uid);
	return 0;
}

int statedir_open(const char *path, int *ret_fd, struct nft_error *e)
{
	int r = mkdir_p(path), fd;

	if (r < 0)
		return nft_error_set(e, r, "creating the state directory %s: %s", path,
				     strerror(-r));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return nft_error_set(e, -errno, "opening the state directory %s: %s", path,
				     strerror(errno));
	r = check_private(fd, path, e);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Parses "<prefix>.<seq><suffix>"; returns the sequence or -1. */
static int64_t name_seq(const char *name, const char *prefix, const char *suffix)
{
	size_t pl = strlen(prefix);
	const char *p;
	char *end;
	unsigned long long v;

	if (strncmp(name, prefix, pl) || name[pl] != '.')
		return -1;
	p = name + pl + 1;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || strcmp(end, suffix) || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

struct listing {
	int64_t *seqs;
	size_t n, cap;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int listing_add(struct listing *l, int64_t s)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		int64_t *nv = reallocarray(l->seqs, nc, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->seqs = nv;
		l->cap = nc;
	}
	l->seqs[l->n++] = s;
	return 0;
}

/* The sequences of prefix's files with suffix (both suffixes when suffix is NULL), sorted. */
static int list_seqs(int dirfd, const char *prefix, const char *suffix, struct listing *ret)
{
	struct listing l = { 0 };
	/* A new open, not dup(): a dup shares the directory offset with dirfd (and with every
	 * process that inherited it). */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (r >= 0 && (de = readdir(d))) {
		int64_t s = -1;

		if (!suffix || !strcmp(suffix, SNAP_SUFFIX))
			s = name_seq(de->d_name, prefix, SNAP_SUFFIX);
		if (s < 0 && (!suffix || !strcmp(suffix, PENDING_SUFFIX)))
			s = name_seq(de->d_name, prefix, PENDING_SUFFIX);
		if (s >= 0)
			r = listing_add(&l, s);
	}
	closedir(d);
	if (r < 0) {
		free(l.seqs);
		return r;
	}
	if (l.n > 1)
		qsort(l.seqs, l.n, sizeof(*l.seqs), cmp_i64);
	*ret = l;
	return 0;
}

static void seq_name(const char *prefix, int64_t seq, const char *suffix, char *buf)
{
	snprintf(buf, STATEDIR_NAME_MAX, "%s.%010" PRId64 "%s", prefix, seq, suffix);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The next free name: one more than the highest sequence present, pending or not. */
static int next_name(int dirfd, const char *prefix, const char *suffix, char *name)
{
	struct listing l = { 0 };
	int r = list_seqs(dirfd, prefix, NULL, &l);

	if (r < 0)
		return r;
	seq_name(prefix, l.n ? l.seqs[l.n - 1] + 1 : 1, suffix, name);
	free(l.seqs);
	return 0;
}

/* Moves tmp to name, the next free name when taken. RENAME_NOREPLACE: a concurrent apply
 * that took that sequence meanwhile makes this one pick again instead of replacing the
 * other's snapshot. */
static int publish(int dirfd, const char *prefix, const char *suffix, const char *tmp,
		   char *name)
{
	for (int tries = 0; tries < 100; tries++) {
		int r;

		if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		r = next_name(dirfd, prefix, suffix, name);
		if (r < 0)
			return r;
	}
	return -EBUSY;
}

/* A new temporary file, named independently of the table so that its name is never longer
 * than the files it becomes. O_EXCL: a name left by a dead process with our pid is skipped. */
static int open_tmp(int dirfd, char tmp[STATEDIR_NAME_MAX])
{
	static unsigned n;

	for (int tries = 0; tries < 100; tries++) {
		int fd;

		snprintf(tmp, STATEDIR_NAME_MAX, ".nftgate-%ld-%u.tmp", (long)getpid(), n++);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* Written under a temporary name, flushed, (locked,) then renamed: a crash leaves either
 * no file or the whole file, never a torn one. */
static int save_file(int dirfd, const char *table, const char *suffix, const uint8_t *buf,
		     size_t len, char *ret_name, int *ret_lock, struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1], name[STATEDIR_NAME_MAX], tmp[STATEDIR_NAME_MAX];
	int fd, r;

	r = prefix_or_error(table, prefix, e);
	if (r < 0)
		return r;
	r = next_name(dirfd, prefix, suffix, name);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	fd = open_tmp(dirfd, tmp);
	if (fd < 0)
		return nft_error_set(e, fd, "creating a snapshot in the state directory: %s",
				     strerror(-fd));
	r = write_all(fd, buf, len);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	/* before the rename: the pending file never exists unlocked while we live */
	if (r >= 0 && ret_lock && flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = -errno;
	if (r >= 0)
		r = publish(dirfd, prefix, suffix, tmp, name);
	if (r >= 0 && fsync(dirfd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		close(fd);
		return nft_error_set(e, r, "writing snapshot %s: %s", name, strerror(-r));
	}
	if (ret_lock) {
		*ret_lock = fd;
	} else if (close(fd) < 0) {
		r = -errno;
		return nft_error_set(e, r, "writing snapshot %s: %s", name, strerror(-r));
	}
	snprintf(ret_name, STATEDIR_NAME_MAX, "%s", name);
	return 0;
}

int statedir_save(int dirfd, const char *table, const uint8_t *buf, size_t len, char *ret_name,
		  struct nft_error *e)
{
	return save_file(dirfd, table, SNAP_SUFFIX, buf, len, ret_name, NULL, e);
}

int statedir_save_pending(int dirfd, const char *table, const uint8_t *buf, size_t len,
			  char *ret_name, int *ret_lock, struct nft_error *e)
{
	return save_file(dirfd, table, PENDING_SUFFIX, buf, len, ret_name, ret_lock, e);
}

int statedir_promote(int dirfd, const char *name, char *ret_name, struct nft_error *e)
{
	size_t n = strlen(name), sl = strlen(PENDING_SUFFIX);
	char to[STATEDIR_NAME_MAX];

	if (n < sl || n - sl + strlen(SNAP_SUFFIX) >= sizeof(to) ||
	    strcmp(name + n - sl, PENDING_SUFFIX))
		return nft_error_set(e, -EINVAL, "%s is not a pending snapshot", name);
	snprintf(to, sizeof(to), "%.*s%s", (int)(n - sl), name, SNAP_SUFFIX);
	if (renameat2(dirfd, name, dirfd, to, RENAME_NOREPLACE) < 0)
		return nft_error_set(e, -errno, "making %s history (as %s): %s", name, to,
				     strerror(errno));
	if (fsync(dirfd) < 0)
		return nft_error_set(e, -errno, "syncing the state directory: %s", strerror(errno));
	snprintf(ret_name, STATEDIR_NAME_MAX, "%s", to);
	return 0;
}

void statedir_names_clear(struct statedir_names *names)
{
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

int statedir_pending(int dirfd, const char *table, struct statedir_names *ret,
		     struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1];
	struct statedir_names names = { 0 };
	struct listing l = { 0 };
	int r;

	r = prefix_or_error(table, prefix, e);
	if (r < 0)
		return r;
	r = list_seqs(dirfd, prefix, PENDING_SUFFIX, &l);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	if (l.n) {
		names.v = calloc(l.n, sizeof(*names.v));
		if (!names.v) {
			free(l.seqs);
			return nft_error_set(e, -ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < l.n; i++)
		seq_name(prefix, l.seqs[i], PENDING_SUFFIX, names.v[i]);
	names.n = l.n;
	free(l.seqs);
	*ret = names;
	return 0;
}

/* Opens name for reading without following a link or waiting on a FIFO, and only if it is
 * a regular file: whatever else sits under a snapshot's name is refused. */
static int open_regular(int dirfd, const char *name, struct stat *st, struct nft_error *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);

	if (fd < 0) {
		int r = errno == ELOOP ? -EINVAL : -errno;

		if (r == -ENOENT)
			return nft_error_set(e, r, "opening snapshot %s: %s", name, strerror(-r));
		return nft_error_set(e, r, "opening snapshot %s: %s", name, r == -EINVAL ?
				     "it is a symbolic link, not a regular file" : strerror(-r));
	}
	if (fstat(fd, st) < 0) {
		int r = -errno;

		close(fd);
		return nft_error_set(e, r, "reading snapshot %s: %s", name, strerror(-r));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return nft_error_set(e, -EINVAL, "snapshot %s is not a regular file (mode %06o)",
				     name, (unsigned)st->st_mode);
	}
	return fd;
}

int statedir_lock(int dirfd, const char *name, int *ret_lock, struct nft_error *e)
{
	struct stat st;
	int fd = open_regular(dirfd, name, &st, e);

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return nft_error_set(e, r, "locking %s: %s", name, r == -EBUSY ?
				     "a running nftgate holds it" : strerror(-r));
	}
	*ret_lock = fd;
	return 0;
}

int statedir_newest(int dirfd, const char *table, char *ret_name, struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1];
	struct listing l = { 0 };
	int r;

	r = prefix_or_error(table, prefix, e);
	if (r < 0)
		return r;
	r = list_seqs(dirfd, prefix, SNAP_SUFFIX, &l);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	if (!l.n) {
		free(l.seqs);
		return -ENOENT;
	}
	seq_name(prefix, l.seqs[l.n - 1], SNAP_SUFFIX, ret_name);
	free(l.seqs);
	return 0;
}

int statedir_read(int dirfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len,
		  struct nft_error *e)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t off = 0;
	int fd = open_regular(dirfd, name, &st, e), r = 0;

	if (fd < 0)
		return fd;
	if ((size_t)st.st_size > max) {
		r = nft_error_set(e, -EFBIG, "snapshot %s is %lld bytes, more than %zu", name,
				  (long long)st.st_size, max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	*ret_buf = buf;
	*ret_len = off;
	buf = NULL;
out:
	if (r < 0 && r != -EFBIG)
		nft_error_set(e, r, "reading snapshot %s: %s", name, strerror(-r));
	free(buf);
	close(fd);
	return r;
}

int statedir_remove(int dirfd, const char *name, struct nft_error *e)
{
	if (unlinkat(dirfd, name, 0) < 0)
		return nft_error_set(e, -errno, "removing snapshot %s: %s", name, strerror(errno));
	if (fsync(dirfd) < 0)
		return nft_error_set(e, -errno, "syncing the state directory: %s", strerror(errno));
	return 0;
}

int statedir_prune(int dirfd, const char *table, size_t keep, struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1], name[STATEDIR_NAME_MAX];
	struct listing l = { 0 };
	int r;

	r = prefix_or_error(table, prefix, e);
	if (r < 0)
		return r;
	r = list_seqs(dirfd, prefix, SNAP_SUFFIX, &l);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	for (size_t i = 0; r >= 0 && l.n > keep && i < l.n - keep; i++) {
		seq_name(prefix, l.seqs[i], SNAP_SUFFIX, name);
		r = statedir_remove(dirfd, name, e);
	}
	free(l.seqs);
	return r;
}

static int record_name(const char *table, char *buf, struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1];
	int r = prefix_or_error(table, prefix, e);

	if (r >= 0)
		snprintf(buf, STATEDIR_NAME_MAX, "%s.committed", prefix);
	return r;
}

int statedir_record_save(int dirfd, const char *table, const uint8_t *buf, size_t len,
			 struct nft_error *e)
{
	char name[STATEDIR_NAME_MAX], tmp[STATEDIR_NAME_MAX];
	int fd, r;

	r = record_name(table, name, e);
	if (r < 0)
		return r;
	fd = open_tmp(dirfd, tmp);
	if (fd < 0)
		return nft_error_set(e, fd, "creating %s: %s", tmp, strerror(-fd));
	r = write_all(fd, buf, len);
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	/* Replacing is right here: every record states a truth (content at a generation);
	 * of two concurrent writers the older generation can only ever be stale. */
	if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return nft_error_set(e, r, "writing %s: %s", name, strerror(-r));
	}
	return 0;
}

int statedir_record_read(int dirfd, const char *table, size_t max, uint8_t **ret_buf,
			 size_t *ret_len, struct nft_error *e)
{
	char name[STATEDIR_NAME_MAX];
	struct stat st;
	int r = record_name(table, name, e);

	if (r < 0)
		return r;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ENOENT :
		       nft_error_set(e, -errno, "reading %s: %s", name, strerror(errno));
	return statedir_read(dirfd, name, max, ret_buf, ret_len, e);
}

/* ---- the table's lock ---- */

#define LOCK_WAIT_MS 30000 /* how long a short holder (an apply, a rollback) is waited for */

static int read_holder(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int take_lock(int fd, const char *me)
{
	size_t n = strlen(me);

	if (ftruncate(fd, 0) < 0)
		return -errno;
	errno = 0;
	if (pwrite(fd, me, n, 0) != (ssize_t)n)
		return errno ? -errno : -EIO;
	return 0;
}

int statedir_lock_table(int dirfd, const char *table, const char *me, int *ret_fd,
			char *ret_holder, size_t holder_len, struct nft_error *e)
{
	char prefix[STATEDIR_PREFIX_MAX + 1], name[STATEDIR_NAME_MAX];
	struct stat st;
	int fd, r;

	ret_holder[0] = '\0';
	r = prefix_or_error(table, prefix, e);
	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "%s.lock", prefix);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return nft_error_set(e, -errno, "opening the lock %s: %s", name, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return nft_error_set(e, -EINVAL, "the lock %s is not a regular file", name);
	}
	/* A daemon holds the lock for its life: never wait for it. Anything else holds it for
	 * one bounded command: wait, re-reading who holds it (a daemon may take over). */
	for (int waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			close(fd);
			return nft_error_set(e, r, "locking %s: %s", name, strerror(-r));
		}
		read_holder(fd, ret_holder, holder_len);
		if (!strncmp(ret_holder, "run ", 4) || waited >= LOCK_WAIT_MS) {
			close(fd);
			return nft_error_set(e, -EBUSY, "table inet %s is in use by nftgate %s",
					     table, ret_holder[0] ? ret_holder : "(starting)");
		}
		usleep(10000);
	}
	r = take_lock(fd, me);
	if (r < 0) {
		close(fd);
		return nft_error_set(e, r, "writing the lock %s: %s", name, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}
