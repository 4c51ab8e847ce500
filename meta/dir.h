/*
 * dir: directories as extendible hash tables (see include/csvfs/ondisk.h).
 * A lookup reads the directory inode, one index block and one bucket, at
 * any size. Entries are kept in hash order, so readdir cookies are name
 * hashes and stay valid across inserts, removals and bucket splits.
 *
 * The directory part of an inode body is: le32 depth, le32 nindex,
 * nindex x le64 index mblks; dir_* functions read and update it in the
 * caller's decoded inode (the caller writes the inode back).
 * All functions run inside an operation (metadata lock held) and return
 * 0 or -errno / -CSVFS_E*.
 */
#ifndef CSVFS_DIR_H
#define CSVFS_DIR_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/ondisk.h"

struct jop;
struct alloc;

/* Cookies below this are "." (0) and ".." (1, 2 = first real entry). */
#define DIR_COOKIE_FIRST 3

/* The 62-bit name hash (>= DIR_COOKIE_FIRST) under the volume's seed. */
uint64_t dir_hash(uint64_t seed, const char *name, size_t len);

/* Makes dir (inode ino) an empty directory: one index block, one bucket. */
int dir_create(struct jop *op, struct alloc *a, uint64_t ino,
	       struct csvfs_inode *dir);
/* -ENOENT if absent. */
int dir_lookup(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
	       const char *name, size_t len, uint64_t *ino, uint8_t *type);
/*
 * dir->size counts the bytes of the entries (their rec_len), kept by
 * dir_add and dir_remove (the caller writes dir); stat adds
 * DIR_DOTS_BYTES for "." and "..", which are not stored.
 */
#define DIR_DOTS_BYTES	48
/* -EEXIST if present; -ENOSPC if the directory cannot grow further. */
int dir_add(struct jop *op, struct alloc *a, uint64_t dir_ino,
	    struct csvfs_inode *dir, uint64_t seed, const char *name,
	    size_t len, uint64_t ino, uint8_t type);
/* Removes name; *ino gets what it pointed to. -ENOENT if absent. */
int dir_remove(struct jop *op, struct alloc *a, struct csvfs_inode *dir,
	       uint64_t seed, const char *name, size_t len, uint64_t *ino);
/* Points an existing entry at another inode (rename over a name). */
int dir_replace(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
		const char *name, size_t len, uint64_t ino, uint8_t type);

/*
 * Calls cb for each entry with hash >= cookie (cookie < DIR_COOKIE_FIRST:
 * from the first), in hash order, until cb returns non-zero (which is
 * returned) or the entries end (0). next_cookie continues after the entry.
 */
typedef int (*dir_iter_fn)(void *ctx, const char *name, size_t len,
			   uint64_t ino, uint8_t type, uint64_t next_cookie);
int dir_iterate(struct jop *op, const struct csvfs_inode *dir,
		uint64_t cookie, dir_iter_fn cb, void *ctx);
int dir_is_empty(struct jop *op, const struct csvfs_inode *dir, int *empty);
/* Frees every index block and bucket of an empty directory. */
int dir_destroy(struct jop *op, struct alloc *a, struct csvfs_inode *dir);
/*
 * For fsck: calls cb once for every metadata block of the directory
 * (index blocks and distinct buckets) and checks the structure (depths,
 * entries in the right bucket, hash order, record lengths). Returns
 * -CSVFS_ECORRUPT with a description in why (size len) on a fault.
 */
int dir_check(struct jop *op, const struct csvfs_inode *dir, uint64_t seed,
	      void (*cb)(void *ctx, uint64_t mblk), void *ctx, char *why,
	      size_t len);

#endif /* CSVFS_DIR_H */
