/*
 * inode: reading, writing, allocating and freeing inodes, and the two
 * small stores kept inside the inode block: extended attributes (xattr
 * area) and inline data (body of small files and symlinks).
 * All functions run inside an operation (metadata lock held) and return
 * 0 or -errno / -CSVFS_E*.
 */
#ifndef CSVFS_INODE_H
#define CSVFS_INODE_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/ondisk.h"

struct jop;
struct alloc;
struct mbuf;

/*
 * Reads inode ino into *in; *mb (may be NULL) gets its cached block for
 * ino_put. -ESTALE when ino is not an inode in use.
 */
int ino_get(struct jop *op, struct alloc *a, uint64_t ino,
	    struct csvfs_inode *in, struct mbuf **mb);
/* Writes *in back into its block (declares the block changed). */
int ino_put(struct jop *op, struct mbuf *mb, const struct csvfs_inode *in);
/* Allocates a metadata block for a new inode and zero-initializes *in. */
int ino_alloc(struct jop *op, struct alloc *a, uint64_t *ino,
	      struct csvfs_inode *in, struct mbuf **mb);
/* Frees the inode's block (its data and extents must be gone). */
int ino_free(struct jop *op, struct alloc *a, uint64_t ino);

/* Extended attributes. Values up to what fits in the xattr area. */
int ino_xattr_get(const struct csvfs_inode *in, const char *name,
		  void *value, size_t size);	/* returns length */
int ino_xattr_set(struct csvfs_inode *in, const char *name,
		  const void *value, size_t size, int flags);
int ino_xattr_list(const struct csvfs_inode *in, char *list,
		   size_t size);			/* returns length */
int ino_xattr_remove(struct csvfs_inode *in, const char *name);

/* Sets the inode's ctime (and mtime if both) to now. */
void ino_touch(struct csvfs_inode *in, int mtime_too);
/* The mode's directory entry type (CSVFS_DT_*). */
uint8_t ino_dtype(uint32_t mode);

#endif /* CSVFS_INODE_H */
