/*
 * extent: a file's extent map. The map is loaded into memory as one sorted
 * array (struct extmap), changed there, and stored back: inline in the
 * inode body while it fits (CSVFS_INLINE_EXTENTS), else in extent blocks
 * indexed from the body. Storing keeps the existing leaf boundaries, so a
 * change rewrites only the leaves it touched.
 * All functions that take a jop run inside an operation.
 */
#ifndef CSVFS_EXTENT_H
#define CSVFS_EXTENT_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/ondisk.h"

struct jop;
struct alloc;

struct ext_leaf {
	uint64_t first;		/* first lblk this leaf covers */
	uint64_t mblk;
};

struct extmap {
	struct csvfs_extent *e;
	size_t n, cap;
	struct ext_leaf *leaf;	/* leaves as loaded (EXTBLOCKS files) */
	size_t nleaf;
};

/* A physical run removed from a map, to be zeroed and freed. */
struct ext_run {
	uint64_t pblk, len;
};

int ext_load(struct jop *op, uint64_t ino, const struct csvfs_inode *in,
	     struct extmap *m);
/* Stores m into the inode (caller writes the inode) and its leaves. */
int ext_store(struct jop *op, struct alloc *a, uint64_t ino,
	      struct csvfs_inode *in, struct extmap *m);
void ext_free(struct extmap *m);

/* Index of the extent containing lblk, or -1; *after gets the insert pos. */
long ext_find(const struct extmap *m, uint64_t lblk, size_t *after);
/* Inserts a run that overlaps nothing, merging with neighbours. */
int ext_insert(struct extmap *m, const struct csvfs_extent *e);
/*
 * Removes [lblk, lblk+count) from the map; the physical runs taken out are
 * appended to *runs (malloc'd array, *nruns entries).
 */
int ext_remove(struct extmap *m, uint64_t lblk, uint64_t count,
	       struct ext_run **runs, size_t *nruns);
/* Clears the UNWRITTEN flag over [lblk, lblk+count) (splitting runs). */
int ext_mark_written(struct extmap *m, uint64_t lblk, uint64_t count);
/* Whether the map is one sub-block run (meta/subblk.h). */
int ext_is_sub(const struct extmap *m);
/* Large blocks mapped (a sub-block run counts none). */
uint64_t ext_blocks(const struct extmap *m);
/* Frees the leaves of an EXTBLOCKS inode (when the file goes away). */
int ext_drop_leaves(struct jop *op, struct alloc *a, struct extmap *m);

#endif /* CSVFS_EXTENT_H */
