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
/* Frees the inode's block and its blob chains (its data and extents
 * must be gone). */
int ino_free(struct jop *op, struct alloc *a, uint64_t ino);

/*
 * Extended attributes: the records of an inode, wherever they are kept
 * (its xattr area, or a blob chain once they outgrow it). Load, read or
 * change, store (after a change), done.
 */
struct ino_xattrs {
	uint8_t *p;		/* the records */
	uint32_t len;		/* bytes in use */
	uint32_t cap;		/* bytes p can hold */
	int heap;		/* p is malloc'd (ino_xattr_done frees it) */
};
/* A view of the records in in's xattr area (no blob), for tests. */
void ino_xattr_view(struct csvfs_inode *in, struct ino_xattrs *x);
/* Loads in's records; change: room for CSVFS_XATTR_TOTAL_MAX bytes. */
int ino_xattr_load(struct jop *op, uint64_t ino, struct csvfs_inode *in,
		   int change, struct ino_xattrs *x);
/* Stores changed records into *in (caller writes it): in the area when
 * they fit, else in a new blob chain; the old chain is freed. */
int ino_xattr_store(struct jop *op, struct alloc *a, uint64_t ino,
		    struct csvfs_inode *in, const struct ino_xattrs *x);
void ino_xattr_done(struct ino_xattrs *x);
int ino_xattr_get(const struct ino_xattrs *x, const char *name,
		  void *value, size_t size);	/* returns length */
/* -E2BIG over CSVFS_XATTR_VALUE_MAX, -ENOSPC when x is full. */
int ino_xattr_set(struct ino_xattrs *x, const char *name,
		  const void *value, size_t size, int flags);
int ino_xattr_list(const struct ino_xattrs *x, char *list,
		   size_t size);			/* returns length */
int ino_xattr_remove(struct ino_xattrs *x, const char *name);

/*
 * Inline file data (include/csvfs/ondisk.h): body[] first, then xattr[]
 * when the inode has no xattr records. cap: how many bytes the inode can
 * hold (CSVFS_INLINE_XMAX or CSVFS_INLINE_MAX). read/write: bytes
 * [off, off + len) of the data, within the cap.
 */
/*
 * An area of an inode stored in two pieces (inline data, tails): bytes
 * [0, first_len) at first, [first_len, total) at second. ino_area_copy
 * copies [off, off + len) out to buf, or into the area from buf (NULL
 * zeroes); off + len <= total.
 */
struct ino_area {
	uint8_t *first;
	uint32_t first_len;
	uint8_t *second;
	uint32_t total;
};
void ino_area_copy(const struct ino_area *a, uint32_t off, void *buf,
		   uint32_t len, int into_area);
uint32_t ino_inline_cap(const struct csvfs_inode *in);
void ino_inline_read(const struct csvfs_inode *in, uint32_t off, void *buf,
		     uint32_t len);
void ino_inline_write(struct csvfs_inode *in, uint32_t off, const void *buf,
		      uint32_t len);	/* buf NULL: zeroes */

/* Sets the inode's ctime (and mtime if both) to now. */
void ino_touch(struct csvfs_inode *in, int mtime_too);
/* The mode's directory entry type (CSVFS_DT_*). */
uint8_t ino_dtype(uint32_t mode);

#endif /* CSVFS_INODE_H */
