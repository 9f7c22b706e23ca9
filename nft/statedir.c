/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nft/statedir.h"

/* Table names may hold any byte; file names get the safe ones as is, others hex-escaped. */
static void file_prefix(const char *table, char *buf, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)table; *p && o + 4 < len; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			buf[o++] = (char)*p;
		else
			o += (size_t)snprintf(buf + o, len - o, "%%%02x", *p);
	}
	buf[o] = '\0';
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

/* Parses "<prefix>.<seq>.snap"; returns the sequence or -1. */
static int64_t name_seq(const char *name, const char *prefix)
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
	if (errno || strcmp(end, ".snap") || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

struct listing {
	int64_t *seqs;
	size_t n;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int list_seqs(int dirfd, const char *prefix, struct listing *ret)
{
	struct listing l = { 0 };
	size_t cap = 0;
	/* A new open, not dup(): a dup shares the directory offset with dirfd (and with every
	 * process that inherited it). */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
	while ((de = readdir(d))) {
		int64_t s = name_seq(de->d_name, prefix);

		if (s < 0)
			continue;
		if (l.n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			int64_t *nv = reallocarray(l.seqs, nc, sizeof(*nv));

			if (!nv) {
				closedir(d);
				free(l.seqs);
				return -ENOMEM;
			}
			l.seqs = nv;
			cap = nc;
		}
		l.seqs[l.n++] = s;
	}
	closedir(d);
	if (l.n > 1)
		qsort(l.seqs, l.n, sizeof(*l.seqs), cmp_i64);
	*ret = l;
	return 0;
}

static void seq_name(const char *prefix, int64_t seq, char *buf)
{
	snprintf(buf, STATEDIR_NAME_MAX, "%s.%010" PRId64 ".snap", prefix, seq);
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

/* The next free name for table's snapshot: one more than the highest sequence present. */
static int next_name(int dirfd, const char *prefix, char *name)
{
	struct listing l = { 0 };
	int r = list_seqs(dirfd, prefix, &l);

	if (r < 0)
		return r;
	seq_name(prefix, l.n ? l.seqs[l.n - 1] + 1 : 1, name);
	free(l.seqs);
	return 0;
}

/* Moves tmp to name, the next free name when listed. RENAME_NOREPLACE: a concurrent apply
 * that took that sequence meanwhile makes this one pick again instead of replacing the
 * other's snapshot. */
static int publish(int dirfd, const char *prefix, const char *tmp, char *name)
{
	for (int tries = 0; tries < 100; tries++) {
		int r;

		if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		r = next_name(dirfd, prefix, name);
		if (r < 0)
			return r;
	}
	return -EBUSY;
}

int statedir_save(int dirfd, const char *table, const uint8_t *buf, size_t len, char *ret_name,
		  struct nft_error *e)
{
	char prefix[STATEDIR_NAME_MAX / 2], name[STATEDIR_NAME_MAX], tmp[STATEDIR_NAME_MAX + 32];
	int fd = -1, r;

	file_prefix(table, prefix, sizeof(prefix));
	r = next_name(dirfd, prefix, name);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", name, (long)getpid());
	/* Written under a temporary name, flushed, then renamed: a crash leaves either no
	 * file or the whole file, never a torn one. */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return nft_error_set(e, -errno, "creating snapshot %s: %s", tmp, strerror(errno));
	r = write_all(fd, buf, len);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r >= 0)
		r = -errno;
	if (r >= 0)
		r = publish(dirfd, prefix, tmp, name);
	if (r >= 0 && fsync(dirfd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return nft_error_set(e, r, "writing snapshot %s: %s", name, strerror(-r));
	}
	snprintf(ret_name, STATEDIR_NAME_MAX, "%s", name);
	return 0;
}

int statedir_newest(int dirfd, const char *table, char *ret_name, struct nft_error *e)
{
	char prefix[STATEDIR_NAME_MAX / 2];
	struct listing l = { 0 };
	int r;

	file_prefix(table, prefix, sizeof(prefix));
	r = list_seqs(dirfd, prefix, &l);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	if (!l.n) {
		free(l.seqs);
		return -ENOENT;
	}
	seq_name(prefix, l.seqs[l.n - 1], ret_name);
	free(l.seqs);
	return 0;
}

int statedir_read(int dirfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len,
		  struct nft_error *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	struct stat st;
	size_t off = 0;
	int r = 0;

	if (fd < 0)
		return nft_error_set(e, -errno, "opening snapshot %s: %s", name, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
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
	char prefix[STATEDIR_NAME_MAX / 2], name[STATEDIR_NAME_MAX];
	struct listing l = { 0 };
	int r;

	file_prefix(table, prefix, sizeof(prefix));
	r = list_seqs(dirfd, prefix, &l);
	if (r < 0)
		return nft_error_set(e, r, "listing the state directory: %s", strerror(-r));
	for (size_t i = 0; r >= 0 && l.n > keep && i < l.n - keep; i++) {
		seq_name(prefix, l.seqs[i], name);
		r = statedir_remove(dirfd, name, e);
	}
	free(l.seqs);
	return r;
}

static void record_name(const char *table, char *buf)
{
	char prefix[STATEDIR_NAME_MAX / 2];

	file_prefix(table, prefix, sizeof(prefix));
	snprintf(buf, STATEDIR_NAME_MAX, "%s.committed", prefix);
}

int statedir_record_save(int dirfd, const char *table, const uint8_t *buf, size_t len,
			 struct nft_error *e)
{
	char name[STATEDIR_NAME_MAX], tmp[STATEDIR_NAME_MAX + 32];
	int fd, r;

	record_name(table, name);
	snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", name, (long)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return nft_error_set(e, -errno, "creating %s: %s", tmp, strerror(errno));
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

	record_name(table, name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? -ENOENT :
		       nft_error_set(e, -errno, "reading %s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nft_error_set(e, -EINVAL, "%s is not a regular file", name);
	return statedir_read(dirfd, name, max, ret_buf, ret_len, e);
}
