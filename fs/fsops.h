/*
 * fsops: the low-level FUSE operations of csvfsd. Each operation turns a
 * FUSE request into calls of the metadata client (net/mdc.h) and of the
 * data path (fs/data.h) and replies.
 *
 * Usage: fsops_init, then fuse_session_new(args, fsops_lowlevel_ops(),
 * sizeof(struct fuse_lowlevel_ops), ctx); after the session loop ended,
 * fsops_release (reports pending write state) and fsops_free.
 */
#ifndef CSVFS_FS_FSOPS_H
#define CSVFS_FS_FSOPS_H

#include <stdint.h>

struct mdc;
struct dev;
struct fuse_lowlevel_ops;
struct fuse_session;
struct fsops_ctx;

struct fsops_opts {
	struct mdc *mdc;	/* metadata client, connected (mdc_hello done) */
	struct dev *dev;	/* the shared device, for file data */
	uint64_t root_ino;	/* the volume's root, shown as FUSE_ROOT_ID */
	uint32_t block_shift;	/* log2 of the large block size */
	/*
	 * Kernel cache lifetimes in seconds. Standalone: every change goes
	 * through this daemon, 1.0 is safe. Cluster mode needs invalidations
	 * before these may be non-zero.
	 */
	double entry_timeout;
	double attr_timeout;
	double negative_timeout;
	uint32_t max_write;	/* largest write request; 0 = 1 MiB */
	/*
	 * Cluster mode: other nodes change files, so every open uses direct
	 * I/O (no page cache) and reads revalidate holes and EOF.
	 */
	int shared;
	uint32_t node_id;	/* this node (cluster: ownership) */
	/*
	 * Control channel: on the root directory, xattrs named
	 * FSOPS_CTL_PREFIX* are answered by these hooks instead of the
	 * coordinator (csvfsctl reads "trusted.csvfs.status" and writes
	 * "trusted.csvfs.move"). get returns the length or -errno, like
	 * getxattr (size 0 asks for the length); may be NULL.
	 */
	int (*ctl_get)(void *ctx, const char *name, char *buf, size_t size);
	int (*ctl_set)(void *ctx, const char *name, const char *val,
		       size_t len);
	void *ctl_ctx;
};

#define FSOPS_CTL_PREFIX "trusted.csvfs."

/*
 * File ownership xattrs, on any regular file of a cluster mount, answered
 * by fsops through the coordinator (see fs/client_api.h):
 *   trusted.csvfs.owner       get: "node=N mode=M since_ns=T epoch=E
 *                             readers=R" (node: the writer in
 *                             single-writer mode; R: other holders)
 *   trusted.csvfs.handoff     set "TO" or "FROM:TO": HANDOFF to node TO
 *                             (FROM: the owner in the caller's view;
 *                             without it the owner the coordinator
 *                             reports now)
 *   trusted.csvfs.multiwriter set "1" / "0"; get "0" / "1"
 *   trusted.csvfs.pinned      set "1" / "0"; get "0" / "1"
 *   trusted.csvfs.strict      set "1" / "0"; get "0" / "1": while a node
 *                             writes, no other node may even read
 */
#define FSOPS_XA_OWNER		"trusted.csvfs.owner"
#define FSOPS_XA_HANDOFF	"trusted.csvfs.handoff"
#define FSOPS_XA_MULTIWRITER	"trusted.csvfs.multiwriter"
#define FSOPS_XA_PINNED		"trusted.csvfs.pinned"
#define FSOPS_XA_STRICT		"trusted.csvfs.strict"

/*
 * Space management xattrs (fs/fsops_space.c), on standalone and cluster
 * mounts, answered through the coordinator:
 *   trusted.csvfs.reserve     on a file: set "BYTES" (decimal; 0 removes),
 *                             get the guaranteed bytes
 *   trusted.csvfs.preallocate on a file: set "BYTES": every block of
 *                             [0, BYTES) allocated as written zeroes
 *                             ("0" = the file's size)
 *   trusted.csvfs.grow        set (any value): grow the volume to the
 *                             device's size
 *   trusted.csvfs.space       get: "bsize=B blocks=N free=N avail=N
 *                             reserved=N provisioned=BYTES files=N ffree=N"
 *                             (blocks in large blocks)
 */
#define FSOPS_XA_RESERVE	"trusted.csvfs.reserve"
#define FSOPS_XA_PREALLOC	"trusted.csvfs.preallocate"
#define FSOPS_XA_GROW		"trusted.csvfs.grow"
#define FSOPS_XA_SPACE		"trusted.csvfs.space"

/*
 * Application locks (fs/fsops_lock.c), on any file:
 *   trusted.csvfs.locks       get: one line per lock held on the file,
 *                             "node=N pid=P posix|flock read|write
 *                             start=S end=E|eof"
 */
#define FSOPS_XA_LOCKS		"trusted.csvfs.locks"

/*
 * The one getxattr size probe for values a daemon formats itself (the
 * ctl_get hooks, the ownership and space xattrs): val holds n bytes as
 * snprintf returned them for a buffer of cap bytes; size 0 asks for the
 * length only. Returns the length, -ERANGE when the value was cut short
 * in val (n < 0 or n >= cap) or is longer than size. Any thread.
 */
int fsops_xa_reply(const char *val, int n, size_t cap, char *buf,
		   size_t size);

/*
 * Creates the operations' context (lookup-count table, data path).
 * Main thread, before fuse_session_new. Returns 0 or -errno.
 */
int fsops_init(const struct fsops_opts *o, struct fsops_ctx **out);
/* The operations table; pass the fsops_ctx as the session's userdata. */
const struct fuse_lowlevel_ops *fsops_lowlevel_ops(void);
/*
 * Reports the pending write state of every file still open (a session
 * ended by a signal or a lazy unmount). Main thread, after the session
 * loop returned. Returns the first error.
 */
int fsops_release(struct fsops_ctx *c);
/* The session, for cache invalidations (main thread, after creating it). */
void fsops_set_session(struct fsops_ctx *c, struct fuse_session *se);
/*
 * After fuse_session_mount: reads the session's requests through
 * fs/fsops_io.c, which lets O_TMPFILE reach fsops (libfuse 3.14 answers
 * it ENOSYS). 0 or -EIO.
 */
int fsops_custom_io(struct fuse_session *se);
/*
 * Recall of ino for a handoff (cluster mode): flushes every dirty byte
 * (data_recall), revokes the node's handles and drops the kernel's cached
 * pages of the file. Returns 0 or -errno. Not from a FUSE request thread
 * of the same file; typically from the recall thread of fs/cluster.c.
 */
int fsops_recall(struct fsops_ctx *c, uint64_t ino);
/*
 * Another node changed ino (a coordinator INVAL, fs/cluster.c): drops what
 * the data path cached of it (its extent map). Any thread; does not block
 * on I/O.
 */
void fsops_inval(struct fsops_ctx *c, uint64_t ino);
/*
 * Application locks: the coordinator's wake-up push for the queued lock
 * request wait_id, and "the coordinator changed or the connection was
 * remade": give it our locks again (fs/lkc.h). Any thread; never block.
 */
void fsops_lock_wake(struct fsops_ctx *c, uint64_t wait_id);
void fsops_lock_reclaim(struct fsops_ctx *c);
/* Self-fencing of the data path (data_fence). */
void fsops_fence(struct fsops_ctx *c, int on);
/* Frees c. Main thread, after fsops_release and fuse_session_destroy. */
void fsops_free(struct fsops_ctx *c);

#endif /* CSVFS_FS_FSOPS_H */
