/*
 * plock: the rules of application locks (POSIX fcntl/lockf, OFD and flock)
 * as pure functions on in-memory tables. No I/O, no threads: the
 * coordinator (meta/mds/mds_lock.c) keeps the cluster's locks in a plock_tab
 * under its own mutex, and every node (fs/lkc.c) keeps a mirror of the
 * locks it holds in one, to reclaim them from a new coordinator.
 *
 * A lock is held by an owner = (node, owner id, class). The owner id is
 * the kernel's lock_owner: for fcntl locks the process (its files table),
 * for OFD locks and flock the open file description (see fs/lkc.h for how
 * the kernel hands them to FUSE). Two classes are kept apart as Linux
 * does: POSIX (fcntl, lockf and OFD, which do conflict with each other)
 * and FLOCK (whole-file, conflicts only with flock); a lock of one class
 * never conflicts with one of the other.
 *
 * Ranges are [start, end], end inclusive; PLOCK_EOF as end means "to the
 * end of the file, however it grows". Locks of one owner never overlap:
 * setting a range replaces what the owner held there (splitting a larger
 * lock, converting read <-> write) and merges adjacent ranges of the same
 * type, so an owner's locks are always the fewest ranges (as fs/locks.c
 * does). Unlocking is setting type PLOCK_UN.
 *
 * Threads: any; the caller serializes access to one table.
 */
#ifndef CSVFS_PLOCK_H
#define CSVFS_PLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "csvfs/proto.h"

#define PLOCK_EOF	UINT64_MAX

/* Lock types (the wire values of include/csvfs/proto.h). */
#define PLOCK_UN	0
#define PLOCK_RD	1
#define PLOCK_WR	2

/* Classes. */
#define PLOCK_POSIX	0
#define PLOCK_FLOCK	1

struct plock {
	uint32_t node;		/* holder's node */
	uint32_t pid;		/* holder's process, for F_GETLK */
	uint64_t owner;		/* lock_owner on that node */
	uint32_t type;		/* PLOCK_UN / RD / WR */
	uint32_t cls;		/* PLOCK_POSIX / FLOCK */
	uint64_t start, end;	/* inclusive */
};

struct plock_ent {
	struct plock l;
	struct plock_ent *next;
};

/* A blocked request (F_SETLKW, flock without LOCK_NB), FIFO per file. */
struct plock_wait {
	struct plock l;
	uint64_t wait_id;	/* chosen by the node, unique there */
	struct plock_wait *next;
};

/* The locks and waiters of one inode. */
struct plock_file {
	uint64_t ino;
	struct plock_ent *locks;
	struct plock_wait *waits;
	struct plock_file *next;	/* hash chain */
};

struct plock_tab {
	struct plock_file **slots;
	size_t nslots;		/* power of two, 0 before the first insert */
	size_t count;
};

/*
 * A well-formed request: known type and class, start <= end, a flock
 * spans the whole file. 0 or -EINVAL.
 */
int plock_check(const struct plock *l);
/* Same owner: node, owner id and class. */
int plock_same_owner(const struct plock *a, const struct plock *b);
/* Whether a and b (locks, not unlocks) conflict. */
int plock_conflicts(const struct plock *a, const struct plock *b);
/*
 * Whether req could be granted now: 0, or 1 with the first conflicting
 * lock that starts first copied to *holder (may be NULL) — what F_GETLK
 * reports.
 */
int plock_test(const struct plock_file *f, const struct plock *req,
	       struct plock *holder);
/*
 * Sets req's range to req->type for its owner (PLOCK_UN: unlocks),
 * splitting and merging the owner's ranges. Does not check conflicts (call
 * plock_test first). 0 or -ENOMEM (nothing changed).
 */
int plock_apply(struct plock_file *f, const struct plock *req);
/*
 * Drops every lock and waiter of node (owner ignored) when all is set,
 * else of (node, owner) in class cls. Returns the number of locks dropped.
 */
int plock_drop(struct plock_file *f, uint32_t node, int all, uint64_t owner,
	       uint32_t cls);
/* The locks of f counted, and those of node (0 = every node). */
size_t plock_count(const struct plock_file *f, uint32_t node);

/*
 * Queues req as waiter wait_id of its node; a waiter of the same node and
 * wait_id is replaced (a resent request). 0 or -ENOMEM.
 */
int plock_wait_add(struct plock_file *f, const struct plock *req,
		   uint64_t wait_id);
/* Removes node's waiter wait_id: 1 if it was there, else 0. */
int plock_wait_del(struct plock_file *f, uint32_t node, uint64_t wait_id);
/*
 * Removes the waiters that could be granted now — in FIFO order, each
 * also checked against the waiters taken before it, so two waiters that
 * conflict with each other are not both taken — and returns them as a
 * list (the caller frees each with free()).
 */
struct plock_wait *plock_wake(struct plock_file *f);

/* An empty table; needs no allocation. */
void plock_tab_init(struct plock_tab *t);
/* The file of ino; created empty when create is set (NULL: -ENOMEM). */
struct plock_file *plock_tab_get(struct plock_tab *t, uint64_t ino,
				 int create);
/* Removes and frees f if it holds neither locks nor waiters. */
void plock_tab_put(struct plock_tab *t, struct plock_file *f);
/*
 * Calls fn on every file; fn may not add or remove files. Stops at and
 * returns the first non-zero value fn returns.
 */
int plock_tab_each(const struct plock_tab *t,
		   int (*fn)(struct plock_file *f, void *arg), void *arg);
/* Frees every file, lock and waiter. */
void plock_tab_release(struct plock_tab *t);

/* A lock to and from its wire form (include/csvfs/proto.h); from_wire
 * takes the holder's node from the caller (the coordinator trusts the
 * request header, not the payload). */
void plock_to_wire(const struct plock *l, struct csvfs_wlock *w);
void plock_from_wire(const struct csvfs_wlock *w, uint32_t node,
		     struct plock *l);

#endif /* CSVFS_PLOCK_H */
