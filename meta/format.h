/*
 * format: lays out a new volume (the library behind mkfs.csvfs), and reads
 * and checks an existing volume's superblock.
 */
#ifndef CSVFS_FORMAT_H
#define CSVFS_FORMAT_H

#include <stdint.h>
#include "csvfs/ondisk.h"

struct dev;

struct fmt_opts {
	unsigned block_shift;	/* 20..23, 0 = 20 (1 MiB) */
	unsigned max_nodes;	/* 0 = CSVFS_DEFAULT_NODES */
	uint64_t journal_bytes;	/* 0 = by volume size */
	const char *label;	/* NULL = none */
	const uint8_t *uuid;	/* NULL = random */
	/* Progress (done of total, ending with done == total); may be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
};

/*
 * The smallest device size (bytes) that holds a volume with these options;
 * fmt_volume refuses smaller devices with -CSVFS_ETOOSMALL.
 */
uint64_t fmt_min_size(const struct fmt_opts *o);
/*
 * Formats the whole device: superblock and backup, state block, heartbeat
 * and client slots, journal, bitmap, the first meta chunk and an empty root
 * directory; zeroes the data area. Returns 0 or -errno / -CSVFS_E*; on
 * error the device may hold a partial volume with no valid superblock.
 */
int fmt_volume(struct dev *d, const struct fmt_opts *o,
	       struct csvfs_super *out);
/*
 * Reads and checks the superblock (falling back to nothing: see
 * fmt_read_backup). Returns -CSVFS_ENOTCSVFS when no csvfs magic is there,
 * -CSVFS_EVERSION for an unsupported version, -CSVFS_ETOOSMALL when the
 * device is smaller than the volume, or a checksum error.
 */
int fmt_read_super(struct dev *d, struct csvfs_super *sb);
/*
 * The one superblock validator (mount, mkfs and fsck): checks a raw
 * superblock read from mblk (magic, checksum, block number, version) and
 * decodes it into *sb, then checks its layout (block size, node count,
 * every region in order and inside the volume, no overflow of the volume
 * size in bytes). Does not look at the device. Returns 0,
 * -CSVFS_ENOTCSVFS (no superblock magic), an od_check error,
 * -CSVFS_EVERSION (*sb decoded) or -CSVFS_ECORRUPT (*sb decoded; *why, if
 * why is not NULL, names the fault, else NULL). Any thread.
 */
int fmt_check_super(const void *raw, uint64_t mblk, struct csvfs_super *sb,
		    const char **why);
/* Reads the backup copy (at the end of large block 0 for each size). */
int fmt_read_backup(struct dev *d, struct csvfs_super *sb);
/* Writes the superblock (and, if both, the backup) and flushes. */
int fmt_write_super(struct dev *d, const struct csvfs_super *sb, int both);

#endif /* CSVFS_FORMAT_H */
