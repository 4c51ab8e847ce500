/*
 * data: the direct I/O data path of the FUSE daemon. File data moves
 * between the FUSE request and the shared device at offsets given by the
 * file's extent map; the coordinator is asked only to allocate and is told
 * afterwards what was written (mdc_write_done).
 *
 * One struct data per mount; one struct data_file per inode that has open
 * handles, shared by all of them and reference counted. All functions may
 * be called from any FUSE worker thread; the locks they take are internal
 * (see data.c), none is held on return.
 *
 * Return values: 0 or a negative errno (device failures are reported as
 * -EIO after a log line naming the inode and offset).
 */
#ifndef CSVFS_FS_DATA_H
#define CSVFS_FS_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct mdc;
struct dev;
struct data;
struct data_file;

struct data_opts {
	struct mdc *mdc;	/* metadata client (allocation, write_done) */
	struct dev *dev;	/* the shared device, opened O_DIRECT */
	uint32_t block_shift;	/* log2 of the large block size */
	size_t max_io;		/* largest read/write request expected */
	unsigned pending_max;	/* report written ranges beyond this many;
				 * 0 = 64 */
	int shared;		/* other nodes may change files (cluster):
				 * a read that meets a hole or EOF asks the
				 * coordinator again before answering */
	uint32_t node_id;	/* this node (cluster: ownership checks) */
};

/* Creates the data path of one mount. Main thread, before the session. */
int data_new(const struct data_opts *o, struct data **out);
/*
 * Frees d and every file state still referenced (after data_flush_all).
 * Main thread, after the session loop ended (no worker thread left).
 */
void data_free(struct data *d);

/*
 * Takes a reference on the state of ino for one open handle, creating it
 * from the attributes the coordinator returned for the open. An existing
 * state keeps its local view (size grown by unreported writes, inline
 * flag). *out is valid until data_close.
 */
int data_open(struct data *d, uint64_t ino, const struct csvfs_attr *a,
	      struct data_file **out);
/*
 * Reports pending write state, then drops the handle's reference. Returns
 * the report's error (the reference is dropped anyway; unreported state
 * of the last handle is lost with a log line).
 */
int data_close(struct data *d, struct data_file *f);

/*
 * Reads up to len bytes at off. On success *buf points to *n bytes (0 at
 * or beyond EOF) inside this thread's bounce buffer: reply with it before
 * the thread calls any other data_ function.
 */
int data_read(struct data *d, struct data_file *f, uint64_t off, size_t len,
	      const void **buf, size_t *n);
/*
 * Writes len bytes at off: allocates unmapped blocks through the
 * coordinator, copies into an aligned bounce buffer, read-modify-writes
 * unaligned edges, writes to the device. All or nothing: 0 means len bytes
 * were written.
 */
int data_write(struct data *d, struct data_file *f, uint64_t off,
	       const void *buf, size_t len);
/* Reports pending write state (size, mtime, written ranges). */
int data_flush(struct data *d, struct data_file *f);
/* Makes the file durable: device flush, pending report, journal commit. */
int data_fsync(struct data *d, struct data_file *f);
/*
 * Lost writes: a report the coordinator refused because this node no
 * longer owns the file (CSVFS_ELEASE) is dropped, not kept, and bumps
 * the file's loss count. A handle remembers the count it saw
 * (data_lost_seq at open); data_lost_check returns -EIO once when the
 * count moved since, and records it -- so each open handle's next fsync
 * or close fails once, as a failed writeback does on Linux.
 */
unsigned data_lost_seq(struct data_file *f);
int data_lost_check(struct data_file *f, unsigned *seen);
/* data_flush for ino if it has state; 0 if it has none. */
int data_flush_ino(struct data *d, uint64_t ino);
/*
 * SET_IFLAGS of ino (mdc_set_iflags) with this node's I/O of the file, if
 * open here, held back: the coordinator may move its data (multi-writer
 * takes a file out of sub-blocks).
 */
int data_set_iflags(struct data *d, uint64_t ino, uint32_t set,
		    uint32_t clear, struct csvfs_attr *a);
/*
 * Recall of ino (its ownership moves to another node): waits for writes
 * in flight, revokes every handle of ino (later writes fail with -EIO and
 * reach nothing, until this node owns the file again), flushes the device
 * and reports pending write state, and drops the cached extent map.
 * Returns 0 or the first error. Any thread but a FUSE request's own.
 */
int data_recall(struct data *d, uint64_t ino);
/*
 * Another node changed ino's blocks (a coordinator INVAL): drops the cached
 * extent map, re-fetched at the next I/O. Any thread.
 */
void data_map_inval(struct data *d, uint64_t ino);
/*
 * Setuid/setgid (issue 19), for direct-I/O writes. data_has_privs: 1 when
 * the file's mode, as this node knows it, has setuid, or setgid with
 * group-execute; 0 when not; -errno. No request unless a coordinator
 * INVAL of the file made the mode stale (then one GETATTR). The mode
 * comes from the open and from data_note_mode (this node's setattrs).
 * data_kill_privs: asks the coordinator to clear them (SETATTR
 * CSVFS_SA_KILL_SUIDGID) before the write goes on: 1 when done, or
 * -errno. FUSE worker threads.
 */
int data_has_privs(struct data *d, struct data_file *f);
int data_kill_privs(struct data *d, struct data_file *f);
void data_note_mode(struct data *d, uint64_t ino, uint32_t mode);
/*
 * Self-fencing (DESIGN.md): on, no byte reaches the device any more (writes
 * fail with EIO) -- at once, without waiting for anything; off (quorum is
 * back), every file open now must first prove with the coordinator that
 * this node still owns it (its hold may have been broken meanwhile).
 */
void data_fence(struct data *d, int on);
/* data_flush of every open file; returns the first error. */
int data_flush_all(struct data *d);

/*
 * Replaces size and mtime of a by the local view when local writes have
 * not been reported yet, so no reply ever shrinks a file the kernel knows.
 */
void data_fix_attr(struct data *d, struct csvfs_attr *a);
/*
 * After a change of size or mapping made through the coordinator (setattr
 * size, open with O_TRUNC, fallocate): takes size and inline flag from a
 * and drops the cached extent map, re-fetched when next needed.
 */
void data_attr_changed(struct data *d, uint64_t ino,
		       const struct csvfs_attr *a);

#endif /* CSVFS_FS_DATA_H */
