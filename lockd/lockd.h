/*
 * lockd: the file ownership rules of DESIGN.md ("File ownership"), as pure
 * functions on a decoded ownership state. No I/O and no locking: the
 * coordinator reads the state from the inode, asks lockd, and journals the
 * new state when a call says it changed.
 *
 * Modes (CSVFS_OWN_* of include/csvfs/ondisk.h):
 *   exclusive    one node reads and writes; the default for an open with
 *                write access. own_node is the owner.
 *   shared-read  any number of nodes read, nobody writes. holders is the
 *                node bitmap, count the number of holder nodes.
 *   multi-writer the inode carries CSVFS_IFL_MULTIWRITER (set by the
 *                admin): every node may read and write; holders as above.
 *
 * Nodes are 1..LOCKD_MAX_NODE in the shared modes (a 64-bit bitmap; the
 * default volume has 64 heartbeat slots). An exclusive owner may be any
 * node id above 0.
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

/* Requested access. */
#define LOCKD_READ	0
#define LOCKD_WRITE	1

/* Ownership state of one inode (the inode's own_* fields and flags). */
struct lockd_state {
	uint32_t node;		/* exclusive owner; 0 = none */
	uint32_t mode;		/* CSVFS_OWN_* */
	uint32_t count;		/* shared modes: number of holder nodes */
	uint64_t holders;	/* shared modes: bit (n - 1) for node n */
	uint64_t epoch;		/* bumps on every change */
	uint64_t since_ns;	/* when the current mode/owner began */
	uint32_t iflags;	/* CSVFS_IFL_* (MULTIWRITER, PINNED read) */
};

/*
 * Asks for access by node (access LOCKD_READ or LOCKD_WRITE) at time now_ns.
 * Returns 1 (granted, *s changed), 0 (granted, already held), -EINVAL (node
 * 0 or bad access), -ERANGE (node > LOCKD_MAX_NODE and a shared mode is
 * needed), -EBUSY (another node holds a conflicting mode: *owner, if not
 * NULL, names it — the exclusive owner, or the lowest other holder).
 */
int lockd_acquire(struct lockd_state *s, uint32_t node, int access,
		  uint64_t now_ns, uint32_t *owner);

/*
 * Drops node's hold (its last open closed). The last holder clears the
 * state unless the inode is CSVFS_IFL_PINNED. A node that holds nothing
 * (e.g. after a handoff took the file away) changes nothing. Returns 1 if
 * *s changed, 0 if not, -EINVAL for node 0.
 */
int lockd_release(struct lockd_state *s, uint32_t node);

/*
 * Takes a dead node's hold away (DESIGN.md "Owner death": it left the
 * membership and its heartbeat stopped): as lockd_release, pinned or not.
 * Returns 1 if *s changed, 0 if node held nothing, -EINVAL for node 0.
 */
int lockd_break(struct lockd_state *s, uint32_t node);

/*
 * Moves exclusive ownership from node "from" to node "to" (membership of
 * "to" is the caller's to check). A file owned by nobody may be handed
 * with from == 0. Returns 1 (moved), 0 (from == to, nothing to do),
 * -EINVAL (to == 0), -ENOLCK (from is not the exclusive owner: the
 * caller's view is out of date), -EBUSY (the file is in a shared mode).
 */
int lockd_handoff(struct lockd_state *s, uint32_t from, uint32_t to,
		  uint64_t now_ns);

/*
 * May node change the file's data or size without an open (truncate,
 * fallocate, punch)? Yes when nobody holds it, when node is the exclusive
 * owner, or in multi-writer mode when node is a holder -- and the only one
 * if the change frees blocks (frees != 0: a shrinking truncate, a punch).
 * Otherwise -EBUSY (*owner, if not NULL, names a holder): other nodes hold
 * block maps that a truncate would make point at freed blocks.
 */
int lockd_may_modify(const struct lockd_state *s, uint32_t node, int frees,
		     uint32_t *owner);

/* Does node hold the file in any mode? */
int lockd_holds(const struct lockd_state *s, uint32_t node);

/* "exclusive", "shared-read", "multi-writer", "none"; never NULL. */
const char *lockd_mode_name(uint32_t mode);

#endif /* CSVFS_LOCKD_H */
