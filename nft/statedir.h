/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory that holds rollback snapshots: created 0700, files 0600 written
 * atomically (temporary file, fsync, rename, fsync of the directory).
 *
 * A table's files are named after it (bytes outside [A-Za-z0-9_-] written as %xx):
 *   <table>.<seq>.pending  the snapshot an apply saved before its transaction; it becomes
 *                          history only once that transaction is known to have committed
 *   <table>.<seq>.snap     history: the newest is the highest sequence
 *   <table>.committed      the committed record (docs/rollback.md)
 * Sequences are shared by .pending and .snap, so a promoted snapshot keeps its place.
 */
#ifndef NFTGATE_NFT_STATEDIR_H
#define NFTGATE_NFT_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nft/error.h"

#define STATEDIR_KEEP 10
#define STATEDIR_NAME_MAX 256    /* a file name (NAME_MAX) and its NUL */
/* The longest table name, as written in file names, whose files all fit NAME_MAX (255):
 * "<table>.<sequence of up to 19 digits>.pending" adds 28 bytes. */
#define STATEDIR_PREFIX_MAX (255 - 28)

/* How many bytes table takes in file names: one per byte of [A-Za-z0-9_-], three for any
 * other. The state directory can hold the table's files iff this is <= STATEDIR_PREFIX_MAX. */
size_t statedir_prefix_len(const char *table);

/* Opens (creating it and missing parents with mode 0700) the directory. Returns 0 and an
 * O_CLOEXEC directory fd in *ret_fd, or -errno with e: -EPERM when the directory is
 * writable by group or others, or owned by someone other than this user or root. */
int statedir_open(const char *path, int *ret_fd, struct nft_error *e);

/* Writes buf as the next snapshot of table, as history (.snap); sets ret_name
 * (STATEDIR_NAME_MAX bytes). -ENAMETOOLONG when the table's name does not fit. */
int statedir_save(int dirfd, const char *table, const uint8_t *buf, size_t len, char *ret_name,
		  struct nft_error *e);

/* As statedir_save, but as a pending snapshot (.pending), locked: *ret_lock is an fd
 * holding flock(LOCK_EX) on it, taken before the file appeared under its name. Keep it
 * open until the snapshot is promoted or removed: a process that dies (even by SIGKILL)
 * releases it, which is how the next nftgate tells a dead apply's snapshot from a live one. */
int statedir_save_pending(int dirfd, const char *table, const uint8_t *buf, size_t len,
			  char *ret_name, int *ret_lock, struct nft_error *e);

/* Makes the pending snapshot `name` history: renamed to .snap (same sequence, never
 * replacing a file), durably. Sets ret_name to the new name. */
int statedir_promote(int dirfd, const char *name, char *ret_name, struct nft_error *e);

/* The pending snapshots of table, oldest first. */
struct statedir_names {
	char (*v)[STATEDIR_NAME_MAX];
	size_t n;
};
int statedir_pending(int dirfd, const char *table, struct statedir_names *ret,
		     struct nft_error *e);
void statedir_names_clear(struct statedir_names *names);

/* Takes the lock of the pending snapshot `name` without waiting: 0 and an fd in *ret_lock
 * (the caller closes it), -EBUSY when a live process holds it, -ENOENT when it is gone. */
int statedir_lock(int dirfd, const char *name, int *ret_lock, struct nft_error *e);

/* The newest snapshot (history) of table: 0 with its name, -ENOENT when there is none. */
int statedir_newest(int dirfd, const char *table, char *ret_name, struct nft_error *e);

/* Reads a whole snapshot file (at most max bytes). Only a regular file is read: anything
 * else (a FIFO, a device, a symbolic link) is refused with -EINVAL, never waited on.
 * Caller frees *ret_buf. */
int statedir_read(int dirfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len,
		  struct nft_error *e);

/* Removes one snapshot and makes the removal durable. */
int statedir_remove(int dirfd, const char *name, struct nft_error *e);

/* Removes all but the newest `keep` snapshots (history) of table; pending ones are not
 * history and not counted. */
int statedir_prune(int dirfd, const char *table, size_t keep, struct nft_error *e);

/* The committed record of table (docs/rollback.md): one file, "<table>.committed", replaced
 * atomically (temporary file, rename) but not fsynced: after a crash of the machine the boot
 * id it holds no longer matches, and a torn file fails its checksum. */
int statedir_record_save(int dirfd, const char *table, const uint8_t *buf, size_t len,
			 struct nft_error *e);
/* Reads it (at most max bytes); -ENOENT when there is none. Caller frees *ret_buf. */
int statedir_record_read(int dirfd, const char *table, size_t max, uint8_t **ret_buf,
			 size_t *ret_len, struct nft_error *e);

/* The lock of table's files, "<table>.lock": one nftgate at a time changes the table
 * through this directory. On success *ret_fd holds flock(LOCK_EX) (released when it is
 * closed, or the process dies) and the file says who holds it (me: "apply 1234",
 * "run 1234"). Held by a daemon ("run ..."): -EBUSY at once, with the holder in
 * ret_holder and e. Held by a one-shot command: waited for, up to 30 s. */
int statedir_lock_table(int dirfd, const char *table, const char *me, int *ret_fd,
			char *ret_holder, size_t holder_len, struct nft_error *e);

#endif
