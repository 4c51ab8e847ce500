/*
 * blob: byte strings an inode cannot keep in itself (format 1.2): a
 * symlink target longer than the inode body, and the xattr records once
 * they outgrow the inode's xattr area. A blob is a chain of metadata
 * blocks (struct csvfs_blob) owned by one inode; it is never changed in
 * place: a new value is a new chain, and the old one is freed in the same
 * operation, so a crash leaves either whole.
 * All functions run inside an operation (metadata lock held) and return
 * 0 or -errno / -CSVFS_E*.
 */
#ifndef CSVFS_BLOB_H
#define CSVFS_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct jop;
struct alloc;

/* Stores len bytes (1..kind's limit) as a new chain of ino; *head gets
 * its first mblk. */
int blob_store(struct jop *op, struct alloc *a, uint64_t ino, uint32_t kind,
	       const void *data, size_t len, uint64_t *head);
/* Reads the len bytes of ino's chain at head into buf; -CSVFS_ECORRUPT
 * when the chain is not ino's, of kind, or not len bytes. */
int blob_load(struct jop *op, uint64_t head, uint64_t ino, uint32_t kind,
	      void *buf, size_t len);
/* Frees ino's chain at head (0: nothing). */
int blob_free(struct jop *op, struct alloc *a, uint64_t head, uint64_t ino,
	      uint32_t kind);
/*
 * fsck: walks ino's chain at head, expecting len bytes of kind, and
 * calls cb(ctx, mblk) for each block read (also the ones before a
 * fault). Returns 0, or -CSVFS_ECORRUPT with why (a sentence) filled.
 */
int blob_check(struct jop *op, uint64_t head, uint64_t ino, uint32_t kind,
	       size_t len, int (*cb)(void *ctx, uint64_t mblk), void *ctx,
	       char *why, size_t wlen);
/* The largest value of kind (CSVFS_BLOB_*). */
size_t blob_max(uint32_t kind);

#endif /* CSVFS_BLOB_H */
