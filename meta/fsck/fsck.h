/*
 * fsck: checks a csvfs volume and repairs it (the library behind
 * fsck.csvfs).
 *
 * The check runs in passes over an unmounted volume:
 *   0  superblock (primary, else the backup that fits the device) against
 *      its backup; journal superblock; the journal itself (replayed with
 *      -y/-p, counted with -n: then the checks see the volume without it)
 *   1  the meta chunk list (loops, headers, lost chunks) and the bitmap
 *      blocks; every metadata block in use is read and classified (inode,
 *      extent block, directory index, directory bucket); checksum failures
 *   2  each inode: file type, flags, xattr area, extent map (sorted,
 *      inside the data area), block count, directory structure
 *      (dir_check), symlink and inline sizes; then blocks owned twice (two
 *      files, a file and a chunk, or a metadata block of two inodes)
 *   3  the orphan list; the tree from the root: entries point at live
 *      inodes of the right type, one name per directory, ".." right;
 *      inodes in no directory
 *   4  link counts (files: names; directories: 2 + subdirectories);
 *      orphans; the state block's generation counter
 *   5  the allocation bitmap and the chunk maps against what is owned
 *   6  heartbeat and client slots
 *
 * Repairs (-y, and the safe subset with -p) run as journaled operations
 * (JRNL_NO_THREAD, committed as each pass ends); the superblock and
 * heartbeat slots, which are never journaled, are written in place. What
 * the fixes choose:
 *   - a block owned twice stays with the first owner (system area, then a
 *     meta chunk, then the lower inode number); the other file gets a hole
 *     there and loses those bytes;
 *   - a damaged directory is rebuilt from the entries that can still be
 *     read and whose name hash is right; a damaged extent map keeps the
 *     extents that can still be read; a missing root is recreated with the
 *     entries its buckets still hold; a damaged chunk header is rebuilt
 *     from the chunk's blocks, and chunks lost from the list are found by
 *     their headers and linked again (the check then starts over);
 *   - an inode in no directory is reconnected as /lost+found/#INO (never
 *     freed: no data is thrown away); a file with no link on the orphan
 *     list is legal and is freed, as the next mount would;
 *   - a block whose only fault is its checksum is resealed when its
 *     contents pass every structural check; an inode that does not is
 *     cleared, other blocks are rebuilt with their owner;
 *   - blocks marked in use that nothing owns are freed last, zeroed and
 *     the zeroes flushed first (the volume's stale-data rule), and only
 *     when nothing else is left broken: they may be what a later repair
 *     needs, or belong to a lost chunk's files.
 * Journal replay and orphan reclaim are recovery, not errors: with nothing
 * else to fix the result is 0.
 */
#ifndef CSVFS_FSCK_H
#define CSVFS_FSCK_H

#include <stdint.h>
#include <stdio.h>

struct dev;
struct csvfs_super;

/* Exit codes, as e2fsck's. */
#define FSCK_EXIT_CLEAN		0	/* no errors */
#define FSCK_EXIT_FIXED		1	/* errors found, all fixed */
#define FSCK_EXIT_UNFIXED	4	/* errors left uncorrected */
#define FSCK_EXIT_OPERROR	8	/* cannot open, not csvfs, I/O */
#define FSCK_EXIT_USAGE		16	/* bad command line */

enum fsck_mode {
	FSCK_MODE_CHECK = 0,	/* no option: as -n, suggests -y */
	FSCK_MODE_NO,		/* -n: read-only, no journal replay */
	FSCK_MODE_YES,		/* -y: replay, repair everything */
	FSCK_MODE_PREEN,	/* -p: replay, repair what is safe */
};

struct fsck_opts {
	enum fsck_mode mode;
	int force;		/* -f: check a clean volume under -p too */
	int verbose;		/* print the "Pass N: ..." lines */
	int progress;		/* progress lines on stderr (a terminal) */
	FILE *out;		/* problems and summary; NULL = stdout */
	const char *name;	/* device name in messages; NULL = its path */
};

struct fsck_report {
	unsigned errors;		/* problems found */
	unsigned fixed;			/* of which repaired */
	uint64_t journal_pending;	/* -n: transactions not applied */
	uint64_t journal_replayed;	/* -y/-p: transactions applied */
	uint64_t orphans;		/* on the orphan list */
	uint64_t orphans_freed;
	uint64_t inodes, dirs, files, symlinks;
	uint64_t blocks_used, blocks_total;	/* data area, large blocks */
	int sb_from_backup;		/* the primary superblock was bad */
	int skipped;			/* -p, volume clean: not checked */
	int exit_code;			/* FSCK_EXIT_*, also returned */
};

/*
 * Checks (and with FSCK_MODE_YES / FSCK_MODE_PREEN repairs) the volume on
 * d, which must be open read-write for a repairing mode. Prints one line
 * per problem and a summary to o->out; fills *r (may be NULL).
 * Returns FSCK_EXIT_CLEAN, _FIXED, _UNFIXED or _OPERROR.
 * Not thread-safe; the volume must not be in use (a repairing mode refuses
 * a volume whose heartbeat shows a live node).
 */
int fsck_run(struct dev *d, const struct fsck_opts *o, struct fsck_report *r);

/*
 * Counts the committed transactions in the journal of sb that a replay
 * would apply, reading only. Returns 0 with *ntx set, or -errno /
 * -CSVFS_E* (-CSVFS_EJOURNAL or a block error for a damaged journal
 * superblock).
 */
int fsck_journal_pending(struct dev *d, const struct csvfs_super *sb,
			 uint64_t *ntx);

/*
 * Prints the superblock, the bitmap's free count, the chunk list and the
 * journal state; with have_ino, inode ino's fields and its extents,
 * directory entries or symlink target. Read-only. Returns 0 or a negative
 * error (also printed).
 */
int fsck_dump(struct dev *d, int have_ino, uint64_t ino, FILE *out);

#endif /* CSVFS_FSCK_H */
