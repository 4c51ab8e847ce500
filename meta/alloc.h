/*
 * alloc: space on the volume. Large blocks come from the allocation bitmap
 * (one bit per large block); 4 KiB metadata blocks come from meta chunks,
 * large blocks given over to metadata until they are empty again (then
 * they go back in two steps, see meta/subblk.h); 4 KiB data sub-blocks
 * come from sub chunks (meta/subblk.h), whose state alloc holds.
 *
 * Every change goes through the caller's operation (struct jop); the bitmap
 * and chunk headers are read through the block cache, so an operation that
 * fails is undone by jop_end. The in-memory counters are then stale: call
 * alloc_resync after a failed operation that allocated or freed.
 * All functions need the metadata lock (an open jop).
 */
#ifndef CSVFS_ALLOC_H
#define CSVFS_ALLOC_H

#include <stdint.h>
#include "csvfs/ondisk.h"

struct jop;
struct alloc;

/* Loads counters and the chunk list. */
int alloc_load(struct jop *op, const struct csvfs_super *sb,
	       struct alloc **out);
void alloc_release(struct alloc *a);
/* Recounts from the (cached) blocks after an undone operation. */
int alloc_resync(struct alloc *a, struct jop *op);

/*
 * Allocates one contiguous run of at least min and at most max large
 * blocks, as close after goal as possible (goal 0 = allocator's choice).
 * reserve_ok: the run may use blocks held back for reservations.
 * Returns 0 with *start and *len set, or -ENOSPC when no run of min blocks is
 * free.
 */
int alloc_blocks(struct alloc *a, struct jop *op, uint64_t goal,
		 uint64_t min, uint64_t max, int reserve_ok,
		 uint64_t *start, uint64_t *len);
/*
 * As alloc_blocks for a file that may use "own" of the blocks held back
 * for reservations (its unused reservation; UINT64_MAX = all of them, as
 * reserve_ok). The others' reservations stay untouched.
 */
int alloc_blocks_own(struct alloc *a, struct jop *op, uint64_t goal,
		     uint64_t min, uint64_t max, uint64_t own,
		     uint64_t *start, uint64_t *len);
/*
 * Marks [start, start+len) free. The caller must have zeroed the blocks on
 * the device, durably, first (the volume's stale-data rule).
 */
int alloc_free(struct alloc *a, struct jop *op, uint64_t start, uint64_t len);
/* Allocates one metadata block (a new meta chunk when all are full). */
int alloc_mblk(struct alloc *a, struct jop *op, uint64_t *mblk);
int alloc_free_mblk(struct alloc *a, struct jop *op, uint64_t mblk);

/* Whether large block b is marked in use (for fsck). */
int alloc_test(struct alloc *a, struct jop *op, uint64_t b, int *used);
/* Whether mblk is a metadata block marked in use in its chunk. */
int alloc_mblk_test(struct alloc *a, struct jop *op, uint64_t mblk,
		    int *used);

struct alloc_stats {
	uint64_t total_blocks;	/* data area */
	uint64_t free_blocks;
	uint64_t reserved_blocks;
	uint64_t chunks;
	uint64_t mblks_used, mblks_free;
	uint64_t chunks_empty;	/* meta chunks with no block in use (not
				 * the first): their headers are free too */
};
void alloc_get_stats(struct alloc *a, struct alloc_stats *st);
/* Sets the blocks held back for per-file reservations. */
void alloc_set_reserved(struct alloc *a, uint64_t blocks);
/* Iterates chunks: the large block of chunk i, 0 past the end. */
uint64_t alloc_chunk_blk(struct alloc *a, uint64_t i);

/* The sub-block allocator of the volume (meta/subblk.h). */
struct subblk *alloc_sub(struct alloc *a);
/*
 * Step 1 of giving an empty meta chunk back (meta/subblk.h explains the
 * two steps): takes it off the chunk list (the first chunk and "spare"
 * empty ones stay) and names it in vstate.release_blk. Returns 0 with *blk,
 * -ENOENT when no chunk can go, -EBUSY while another release is pending.
 */
int alloc_take_empty_chunk(struct alloc *a, struct jop *op, unsigned spare,
			   uint64_t *blk);

/*
 * Online grow, in two steps. The largest total_blocks the bitmap region
 * (between bitmap_mblk and data_start) can describe.
 */
uint64_t alloc_max_blocks(const struct alloc *a);
/*
 * Step 1, in the caller's operation: makes the bitmap describe new_total
 * blocks (clears the past-the-end bits of the last block in use, creates
 * the new bitmap blocks). The allocator keeps using the old size, so the
 * volume stays consistent at the old size until the superblock says
 * otherwise. The caller has zeroed the new blocks durably first. Returns
 * 0, -EINVAL (not larger), -EFBIG (above alloc_max_blocks) or an error.
 */
int alloc_grow_bitmap(struct alloc *a, struct jop *op, uint64_t new_total);
/*
 * Step 2, once step 1 is committed and the superblock with new_total is
 * durable: the new blocks become allocatable. Needs the metadata lock.
 */
void alloc_grow_done(struct alloc *a, uint64_t new_total);

#endif /* CSVFS_ALLOC_H */
