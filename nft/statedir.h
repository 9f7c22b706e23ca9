/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory that holds rollback snapshots: created 0700, files 0600 written
 * atomically (temporary file, fsync, rename, fsync of the directory), named
 * "<table>.<sequence>.snap" so that the newest is the highest sequence.
 */
#ifndef NFTGATE_NFT_STATEDIR_H
#define NFTGATE_NFT_STATEDIR_H

#include <stddef.h>
#include <stdint.h>

#include "nft/error.h"

#define STATEDIR_KEEP 10
#define STATEDIR_NAME_MAX 600

/* Opens (creating it and missing parents with mode 0700) the directory. Returns 0 and an
 * O_CLOEXEC directory fd in *ret_fd, or -errno with e: -EPERM when the directory is
 * writable by group or others, or owned by someone other than this user or root. */
int statedir_open(const char *path, int *ret_fd, struct nft_error *e);

/* Writes buf as the next snapshot of table; sets ret_name (STATEDIR_NAME_MAX bytes). */
int statedir_save(int dirfd, const char *table, const uint8_t *buf, size_t len, char *ret_name,
		  struct nft_error *e);

/* The newest snapshot of table: 0 with its name, -ENOENT when there is none. */
int statedir_newest(int dirfd, const char *table, char *ret_name, struct nft_error *e);

/* Reads a whole snapshot file (at most max bytes). Caller frees *ret_buf. */
int statedir_read(int dirfd, const char *name, size_t max, uint8_t **ret_buf, size_t *ret_len,
		  struct nft_error *e);

/* Removes one snapshot and makes the removal durable. */
int statedir_remove(int dirfd, const char *name, struct nft_error *e);

/* Removes all but the newest `keep` snapshots of table. */
int statedir_prune(int dirfd, const char *table, size_t keep, struct nft_error *e);

/* The committed record of table (docs/rollback.md): one file, "<table>.committed", replaced
 * atomically (temporary file, rename) but not fsynced: after a crash of the machine the boot
 * id it holds no longer matches, and a torn file fails its checksum. */
int statedir_record_save(int dirfd, const char *table, const uint8_t *buf, size_t len,
			 struct nft_error *e);
/* Reads it (at most max bytes); -ENOENT when there is none. Caller frees *ret_buf. */
int statedir_record_read(int dirfd, const char *table, size_t max, uint8_t **ret_buf,
			 size_t *ret_len, struct nft_error *e);

#endif
