/*
 * subblk: 4 KiB sub-blocks for small files, carved from "sub chunks"
 * (large blocks given over to small-file data, listed from
 * vstate.sub_head; include/csvfs/ondisk.h has the format).
 *
 * Why 4 KiB units, and the threshold. The unit is the data path's
 * alignment (DEV_ALIGN), so direct I/O on a sub-block file is the same
 * aligned I/O as on a large-block file and a file wastes less than one
 * unit, as on a 4 KiB-cluster file system. A file stays in sub-blocks while
 * it fits in CSVFS_SUB_MAX bytes (half a large block, below 1 MiB).
 * Computed from the file sizes of /usr/include on the build machine
 * (8,056 files, 116 MB; a 4 KiB inode each, files up to 2816 bytes
 * inline), space over apparent size with 1 / 4 / 8 MiB blocks:
 * 4 KiB units 1.35x / 1.35x / 1.39x, 8 KiB units 1.44x / 1.44x / 1.48x,
 * 64 KiB units (VMFS-3) 3.50x / 3.51x / 3.55x. The 4 KiB inodes alone are
 * 0.28x of it; directories add about 0.06x (tests/bench/smallfiles.sh
 * measures the whole). Larger files take large blocks: a VM image written
 * in 1 MiB requests never sees a sub-block; one written in small pieces
 * moves to a large block once it passes the threshold (a copy of at most
 * 1 MiB, once).
 *
 * A file's sub-block run is contiguous and lies in one chunk. Growing a
 * run extends it in place when the units after it are free, else moves it
 * (mds_sub.c copies the data, then switches the extent and frees the old
 * run, marked dirty, in one transaction; see ondisk.h on dirty units).
 *
 * Chunk release. A chunk whose units are all free goes back to the bitmap
 * (one spare of each kind is kept, so a create/unlink loop does not flap).
 * Its header (and, for a meta chunk, its metadata blocks) may have images
 * in the journal; a replay writing one of them onto a block that became
 * file data would destroy that data. So the release is done in two
 * operations: (1) unlink the chunk from its list and name it in
 * vstate.release_blk (its bitmap bit stays set: nothing can take it);
 * then commit and checkpoint the journal (jrnl_checkpoint: no transaction
 * left that could replay onto it), zero the block durably (the stale-data
 * rule), and (2) clear its bit and release_blk. A crash between the two
 * leaves release_blk set: start-up, after replay emptied the journal,
 * zeroes and frees it (mds_sub_startup).
 *
 * All functions that take a jop need the metadata lock.
 */
#ifndef CSVFS_SUBBLK_H
#define CSVFS_SUBBLK_H

#include <stdint.h>
#include "csvfs/ondisk.h"

struct jop;
struct alloc;
struct subblk;

/* Loads the sub chunk list from vstate.sub_head. */
int subblk_load(struct jop *op, const struct csvfs_super *sb,
		struct subblk **out);
void subblk_free_state(struct subblk *s);
/* Recounts from the (cached) blocks after an undone operation. */
int subblk_resync(struct subblk *s, struct jop *op);

/*
 * Allocates a run of n units (1 .. units per chunk - 1) in one chunk,
 * making a new sub chunk from the bitmap when none has room. *mblk gets
 * the first unit. *dirty = 1: some unit may hold old bytes, the caller
 * must zero the run durably before this operation commits. Returns 0,
 * -EINVAL or -ENOSPC.
 */
int subblk_alloc(struct subblk *s, struct alloc *a, struct jop *op,
		 uint32_t n, uint64_t *mblk, int *dirty);
/*
 * Extends the run [mblk, mblk+n) by "more" units in place: 0, or -ENOSPC
 * when the units after it are taken or past its chunk.
 */
int subblk_extend(struct subblk *s, struct jop *op, uint64_t mblk,
		  uint32_t n, uint32_t more, int *dirty);
/*
 * Marks [mblk, mblk+n) free and dirty (no zeroing needed: a dirty unit is
 * zeroed when it is handed out again). -CSVFS_ECORRUPT when a unit is not
 * in a sub chunk or already free.
 */
int subblk_free(struct subblk *s, struct jop *op, uint64_t mblk, uint32_t n);

struct subblk_stats {
	uint64_t chunks;
	uint64_t units_used;	/* file data units (headers not counted) */
	uint64_t units_free;
	uint64_t chunks_empty;	/* no unit used: the header is free too */
};
void subblk_get_stats(const struct subblk *s, struct subblk_stats *st);
/* Large block of sub chunk i, 0 past the end (fsck, df). */
uint64_t subblk_chunk_blk(const struct subblk *s, uint64_t i);
/* Units per chunk, header included. */
uint32_t subblk_units_per_chunk(const struct subblk *s);

/*
 * Step 1 of a chunk release (see above): takes an empty sub chunk off the
 * list ("spare" empty chunks stay) and sets vstate.release_blk. Returns 0 with
 * *blk, or -ENOENT when there is nothing to release.
 */
int subblk_take_empty(struct subblk *s, struct jop *op, unsigned spare,
		      uint64_t *blk);

/*
 * Step 2 (also used for meta chunks, see alloc_take_empty_chunk): once the
 * journal holds no image of blk and blk was zeroed durably, clears its
 * bitmap bit and vstate.release_blk.
 */
int subblk_release_done(struct alloc *a, struct jop *op, uint64_t blk);
/* vstate.release_blk: a chunk whose release did not finish, 0 if none. */
uint64_t subblk_release_pending(struct jop *op);

/* The SUB extent of an inode, if it has one: 1 and *e, else 0. */
int subblk_inode_run(const struct csvfs_inode *in, struct csvfs_extent *e);

/*
 * Tails (include/csvfs/ondisk.h): bytes of the tail area of an inode,
 * at offset off of the area (off + len <= CSVFS_TAIL_MAX).
 */
void subblk_tail_read(const struct csvfs_inode *in, uint32_t off, void *buf,
		      uint32_t len);
void subblk_tail_write(struct csvfs_inode *in, uint32_t off, const void *buf,
		       uint32_t len);
/* Zeroes the whole tail area (xattr[] and body[] past the extent). */
void subblk_tail_clear(struct csvfs_inode *in);
/*
 * The tail of a CSVFS_IFL_TAIL inode whose run is e: its length (size -
 * e->len units), 0 when the inode has no tail.
 */
uint64_t subblk_tail_len(const struct csvfs_inode *in,
			 const struct csvfs_extent *e);

#endif /* CSVFS_SUBBLK_H */
