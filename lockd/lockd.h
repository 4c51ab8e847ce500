/*
 * lockd: the file ownership rules of DESIGN.md ("File ownership"), as pure
 * functions on a decoded ownership state. No I/O and no locking: the
 * coordinator reads the state from the inode, asks lockd, and journals the
 * new state when a call says it changed.
 *
 * The rules (revised for QEMU's live migration, issue 11):
 *   single-writer  (CSVFS_OWN_WRITER) one node, the writer, holds the file
 *                  with write access; any other node may hold it read-only
 *                  at the same time (holders). A read-write open on another
 *                  node is refused with EBUSY while the writer holds it.
 *                  When the writer's last read-write handle closes, the
 *                  writer drops to a reader and the next read-write open
 *                  anywhere is granted at once. This is exactly QEMU's
 *                  migration: the target opens the image read-only at
 *                  start-up, the source reopens it read-only when it
 *                  inactivates, and the target then reopens it read-write.
 *   readers        (CSVFS_OWN_READERS) nodes hold the file read-only and
 *                  nobody writes; holders is the node bitmap.
 *   multi-writer   (CSVFS_OWN_MULTI) the inode carries
 *                  CSVFS_IFL_MULTIWRITER (set by the admin): every node may
 *                  read and write; holders as above.
 *   strict         CSVFS_IFL_STRICT (set by the admin): the writer's node is
 *                  the only one that may even read while it writes; a read
 *                  open elsewhere is EBUSY, as is a write open while other
 *                  nodes read.
 *   reserved       CSVFS_IFL_HANDOFF: a handoff made node the writer before
 *                  it opened the file for writing. The reservation lasts
 *                  until that node's first read-write open (which clears the
 *                  flag), a handoff elsewhere (cancel), or LOCKD_RESERVE_NS
 *                  after the handoff; closing read-only handles does not end
 *                  it, so no third node can take the file in between.
 *
 * Nodes are 1..LOCKD_MAX_NODE in the bitmap (the default volume has 64
 * heartbeat slots); a writer may be any node id above 0 but readers and
 * multi-writer holders must fit the bitmap.
 *
 * Threads: any; the caller serializes calls on one state (the coordinator
 * holds its metadata lock).
 *
 * Return convention: 1 = granted and the state changed (journal it),
 * 0 = granted with nothing to change, or a negative errno (state
 * untouched).
 */
#ifndef CSVFS_LOCKD_H
#define CSVFS_LOCKD_H

#include <stdint.h>

#define LOCKD_MAX_NODE	64

/* A handoff's reservation of the target lapses this long after the
 * handoff if the target never opened the file for writing. */
#define LOCKD_RESERVE_NS	(120ull * 1000000000ull)

/* Requested access. */
#define LOCKD_READ	0
#define LOCKD_WRITE	1

/* What a release gives up (lockd_release). */
#define LOCKD_DROP_WRITE	1	/* the node's last read-write handle */
#define LOCKD_DROP_ALL		2	/* the node's last handle of any kind */

/* Ownership state of one inode (the inode's own_* fields and flags). */
struct lockd_state {
	uint32_t node;		/* single-writer: the writer; shared modes:
				 * the first holder (informational); 0 = none */
	uint32_t mode;		/* CSVFS_OWN_* */
	uint32_t count;		/* number of holder nodes in holders */
	uint64_t holders;	/* bit (n - 1) for node n: readers (and, in
				 * multi-writer mode, writers) other than
				 * the single writer */
	uint64_t epoch;		/* bumps on every change */
	uint64_t since_ns;	/* when the current mode/writer began */
	uint32_t iflags;	/* CSVFS_IFL_*: MULTIWRITER, PINNED, STRICT
				 * are read; HANDOFF is read and written */
};

/*
 * Asks for access by node (access LOCKD_READ or LOCKD_WRITE) at time now_ns.
 * Returns 1 (granted, *s changed), 0 (granted, already held), -EINVAL (node
 * 0 or bad access), -ERANGE (node > LOCKD_MAX_NODE and the bitmap is
 * needed), -EBUSY (another node holds a conflicting mode: *owner, if not
 * NULL, names it -- the writer, or the lowest other holder).
 */
int lockd_acquire(struct lockd_state *s, uint32_t node, int access,
		  uint64_t now_ns, uint32_t *owner);

/*
 * Gives up what node held (what: LOCKD_DROP_WRITE when its last read-write
 * handle closed and read-only ones stay open; LOCKD_DROP_ALL when its last
 * handle closed). The writer that drops write access but keeps read-only
 * handles becomes a reader. A pinned file (CSVFS_IFL_PINNED) keeps its
 * writer; a reserved one (CSVFS_IFL_HANDOFF) keeps it on LOCKD_DROP_ALL
 * (the target closed a read-only probe before its read-write open). A
 * node that holds nothing changes nothing. Returns 1 if *s changed, 0 if
 * not, -EINVAL for node 0 or a bad what.
 */
int lockd_release(struct lockd_state *s, uint32_t node, int what,
		  uint64_t now_ns);

/*
 * Takes a dead node's holds away (DESIGN.md "Owner death": it left the
 * membership and its heartbeat stopped), pinned or reserved or not.
 * Returns 1 if *s changed, 0 if node held nothing, -EINVAL for node 0.
 */
int lockd_break(struct lockd_state *s, uint32_t node, uint64_t now_ns);

/*
 * Moves the write right from node "from" to node "to" (membership of "to"
 * is the caller's to check) and reserves it for "to" until its first
 * read-write open (CSVFS_IFL_HANDOFF). A file nobody writes may be handed
 * with from == 0; readers stay. If from still has handles (from_open),
 * it stays a reader (its handles lose write access on the node). Returns
 * 1 (moved), 0 (from == to, nothing to do), -EINVAL (to == 0), -ENOLCK
 * (from is not the writer: the caller's view is out of date), -EBUSY
 * (multi-writer mode), -ERANGE (from_open and from does not fit the
 * bitmap).
 */
int lockd_handoff(struct lockd_state *s, uint32_t from, uint32_t to,
		  int from_open, uint64_t now_ns);

/*
 * May node change the file's data or size without an open (truncate,
 * fallocate, punch)? Yes when nobody holds it, when node is the writer,
 * when only readers hold it and node is the only one (a shrink frees
 * blocks that readers' maps point at), or in multi-writer mode when node
 * is a holder -- and the only one if the change frees blocks (frees != 0).
 * Otherwise -EBUSY (*owner, if not NULL, names a holder). A writer whose
 * readers are elsewhere may still shrink: readers revalidate their maps
 * after the coordinator's invalidation (DESIGN.md: readers see the writer's
 * changes).
 */
int lockd_may_modify(const struct lockd_state *s, uint32_t node, int frees,
		     uint32_t *owner);

/* Does node hold the file in any mode (writer or holder)? */
int lockd_holds(const struct lockd_state *s, uint32_t node);

/* Is node the file's writer (single-writer mode, reserved or not)? */
int lockd_is_writer(const struct lockd_state *s, uint32_t node);

/* "single-writer", "readers", "multi-writer", "none"; never NULL. */
const char *lockd_mode_name(uint32_t mode);

#endif /* CSVFS_LOCKD_H */
