/*
 * fmap: a file's cached extent map (sorted, non-overlapping runs of large
 * blocks) and a set of block ranges (the written ranges not yet reported
 * to the coordinator). Plain data structures for fs/data.c.
 *
 * Not thread-safe: the caller holds the file's lock. Functions returning
 * int return 0 or -ENOMEM; on failure the structure is unchanged.
 */
#ifndef CSVFS_FS_FMAP_H
#define CSVFS_FS_FMAP_H

#include <stdint.h>
#include "csvfs/proto.h"

struct mdc_range;

struct fmap {
	struct csvfs_wext *ext;	/* sorted by lblk, no overlaps */
	uint32_t n, cap;
};

/* Block ranges, sorted and coalesced (touching ranges merge). */
struct fmap_ranges {
	struct mdc_range *r;
	uint32_t n, cap;
};

void fmap_init(struct fmap *m);
/* Frees the entries; m is empty afterwards. */
void fmap_release(struct fmap *m);
/*
 * Finds the extent holding lblk: returns 1 and its index, or 0 and the
 * index of the first extent after lblk (m->n if none).
 */
int fmap_find(const struct fmap *m, uint64_t lblk, uint32_t *idx);
/* The block after the last extent (0 for an empty map). */
uint64_t fmap_end(const struct fmap *m);
/* Appends e, which must start at or after fmap_end(m) (a map fetch). */
int fmap_push(struct fmap *m, const struct csvfs_wext *e);
/*
 * Puts e into the map; cached extents it overlaps are trimmed (e is the
 * newer truth), neighbours that continue each other are merged.
 */
int fmap_insert(struct fmap *m, const struct csvfs_wext *e);
/*
 * Clears UNWRITTEN on the extents within [lb, le) and adds each range it
 * cleared to pend. Blocks already written or unmapped are skipped.
 */
int fmap_mark_written(struct fmap *m, uint64_t lb, uint64_t le,
			struct fmap_ranges *pend);

void fmap_ranges_init(struct fmap_ranges *s);
void fmap_ranges_release(struct fmap_ranges *s);
/* Adds [lblk, lblk+count), merging with overlapping or touching ranges. */
int fmap_ranges_add(struct fmap_ranges *s, uint64_t lblk,
		      uint64_t count);

#endif /* CSVFS_FS_FMAP_H */
