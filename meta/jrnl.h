/*
 * jrnl: the metadata block cache and the write-ahead journal.
 *
 * The coordinator is the only writer of metadata. Every change runs inside
 * an operation (struct jop) that holds the volume's metadata lock from
 * jop_begin to jop_end. An operation reads blocks through the cache
 * (checked: magic, block number, UUID, checksum), declares each block it is
 * about to change with jop_write (which saves an undo image), and changes
 * the raw bytes through the od_*_encode functions. jop_end with an error
 * puts every changed block back as it was, so handlers need not order their
 * checks before their changes.
 *
 * Changed blocks join the running transaction. The commit thread (group
 * commit) seals them, writes descriptor + images + commit record to the
 * journal, flushes the device, then writes the blocks in place. A
 * checkpoint (flush, then advance the journal superblock) frees journal
 * space. Replay applies every committed transaction from the journal
 * superblock's start in order and stops at the first torn or missing one.
 *
 * Replay and freed chunks: a replayed block image must only land on a
 * metadata block. Meta and sub chunks do go back to the data pool once
 * empty, but only after jrnl_checkpoint has left no transaction in the
 * journal that holds an image of their blocks (meta/subblk.h): so no
 * revoke records are needed.
 */
#ifndef CSVFS_JRNL_H
#define CSVFS_JRNL_H

#include <stdint.h>
#include "csvfs/ondisk.h"

struct dev;
struct jrnl;

/* A cached 4 KiB metadata block (raw, little-endian bytes). */
struct mbuf {
	uint64_t mblk;
	uint8_t *data;
};

#define JOP_MAX_BLOCKS	1024	/* blocks one operation may change */

struct jop_undo {
	struct mbuf *b;
	uint8_t *saved;		/* image before the operation */
	int was_dirty;
	int fresh;		/* not cached before (jop_new): drop on undo */
};

/* One metadata operation; lives on the caller's stack. */
struct jop {
	struct jrnl *j;
	unsigned nundo, cap;
	struct jop_undo *undo;
	int failed;
};

struct jrnl_stats {
	uint64_t commits, blocks, checkpoints, flushes;
	uint64_t replayed_tx, replayed_blocks;
	uint64_t cache_hits, cache_misses;
	uint64_t epoch_checks;		/* superblock reads (jrnl_fence_epoch) */
};

#define JRNL_RDONLY	0x1	/* no writes at all (fsck -n, dump) */
#define JRNL_NO_THREAD	0x2	/* commits only on jrnl_commit (tools) */

/*
 * Replays the journal of the volume described by sb (decoded superblock):
 * applies each committed transaction in place, flushes, and resets the
 * journal superblock. *ntx gets the number of transactions applied.
 * Returns 0 or -errno / -CSVFS_E*. Calling it twice is a no-op the second
 * time.
 */
int jrnl_replay(struct dev *d, const struct csvfs_super *sb, uint64_t *ntx);

/*
 * Counts the committed transactions replay would apply, writing nothing
 * (fsck -n). Returns 0, -CSVFS_EJOURNAL when a damaged transaction is
 * followed by committed ones, or -errno.
 */
int jrnl_pending(struct dev *d, const struct csvfs_super *sb, uint64_t *ntx);

/*
 * Empties the journal without replaying it (fsck -y, after replay found a
 * damaged transaction followed by committed ones): the next transaction id
 * is moved past any the journal can hold, so nothing in it replays again.
 */
int jrnl_reset(struct dev *d, const struct csvfs_super *sb);

/*
 * Opens the cache and journal of a volume whose journal has been replayed.
 * Starts the commit thread unless JRNL_NO_THREAD or JRNL_RDONLY.
 */
int jrnl_open(struct dev *d, const struct csvfs_super *sb, int flags,
	      struct jrnl **out);
/* Commits what is pending, checkpoints, stops the thread, frees j. */
int jrnl_close(struct jrnl *j);

/* Starts an operation: takes the metadata lock. */
void jop_begin(struct jrnl *j, struct jop *op);
/*
 * Gets block mblk through the cache, checked against magic (0 = any valid
 * csvfs block of this volume). The buffer stays valid until jop_end.
 */
int jop_read(struct jop *op, uint64_t mblk, uint32_t magic, struct mbuf **b);
/* Declares that b is about to change (saves its undo image). */
int jop_write(struct jop *op, struct mbuf *b);
/*
 * Gets block mblk zero-filled, for a block being initialized, already
 * declared for writing (its old content is not read nor checked).
 */
int jop_new(struct jop *op, uint64_t mblk, struct mbuf **b);
/*
 * Ends the operation and drops the lock. err != 0 restores every block the
 * operation changed. Returns the transaction id that makes the changes
 * durable (for jrnl_wait), 0 if nothing changed.
 */
uint64_t jop_end(struct jop *op, int err);
/*
 * Ordered data: the device writes the operation made before this call
 * (e.g. zeroes in blocks it hands out) are flushed before the journal
 * transaction that holds the operation is written, so they are durable
 * before it is; one flush per group commit instead of one per operation.
 */
void jop_order_data(struct jop *op);

/* Waits until transaction tid is durable. Returns 0 or the commit error. */
int jrnl_wait(struct jrnl *j, uint64_t tid);
/* Commits the running transaction now and waits for it. */
int jrnl_commit(struct jrnl *j);
/*
 * Commits the running transaction, then empties the journal (every
 * in-place write flushed, the journal superblock advanced): afterwards no
 * replay can write any image committed so far. Without the metadata lock.
 */
int jrnl_checkpoint(struct jrnl *j);
/*
 * Epoch fencing (DESIGN: "a coordinator that sees a higher epoch on disk
 * stops at once"): from now on every group commit and checkpoint first
 * reads the superblock (one 4 KiB read per group) and, when its
 * coordinator epoch is no longer epoch, writes nothing, not even the
 * journal: the commit fails with -CSVFS_ESTALEEPOCH, which sticks
 * (jrnl_error, jrnl_close), so no later change is written either.
 * 0 turns it off. Any thread.
 */
void jrnl_fence_epoch(struct jrnl *j, uint64_t epoch);
/*
 * Before a metadata write outside the journal (zeroing freed or new
 * blocks, a superblock): 0 when the epoch was proven ours within
 * CSVFS_FENCE_PROOF_MS (else it reads the superblock again), or
 * -CSVFS_ESTALEEPOCH, which then sticks as the journal's error. Any
 * thread, with or without the metadata lock (it takes neither lock).
 */
int jrnl_fence_check(struct jrnl *j);
/*
 * The role was taken away (deposed: another node may already serve):
 * from now on nothing is written, not even at jrnl_close; a group being
 * written when it is called has finished or failed when it returns.
 * Any thread not holding the metadata lock.
 */
void jrnl_abandon(struct jrnl *j);
/* The volume UUID, for building blocks. */
const uint8_t *jrnl_uuid(const struct jrnl *j);
void jrnl_get_stats(struct jrnl *j, struct jrnl_stats *st);
/* The sticky commit error (a failed journal write stops all changes). */
int jrnl_error(struct jrnl *j);

#endif /* CSVFS_JRNL_H */
