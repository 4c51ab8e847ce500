/*
 * lkc: a node's side of the cluster-wide application locks (the
 * coordinator's side is meta/mds/mds_lock.c). It sends lock requests through
 * the metadata client, keeps a mirror of the locks this node holds (to
 * reclaim them from a new coordinator), and runs blocking requests: a
 * queued request is completed later, on lkc's worker thread, when the
 * coordinator's LOCK_WAKE push arrives (lkc_wake) and the request sent
 * again is granted — never by polling.
 *
 * How the kernel hands locks to FUSE (fs/fuse/file.c, libfuse 3.14
 * lib/fuse_lowlevel.c do_setlk_common/do_release; checked for this
 * design):
 *   - fcntl F_SETLK/F_SETLKW/F_GETLK and lockf: setlk/getlk with
 *     lock_owner = a hash of the process's files table (fl_owner);
 *     FUSE_SETLKW when the caller may sleep. The kernel keeps no copy of
 *     the lock once FUSE_CAP_POSIX_LOCKS is on.
 *   - OFD locks (F_OFD_SETLK...): the same setlk/getlk, with fl_owner =
 *     the open file (struct file), so lock_owner = a hash of the open
 *     file description; nothing marks them as OFD. Closing the file sends
 *     no unlock for them (the kernel's close-unlock goes through flush,
 *     which carries the process's owner): so lkc remembers which owners
 *     locked through each open file handle, and lkc_release_fh drops
 *     them at the release of that handle.
 *   - flock: with FUSE_CAP_FLOCK_LOCKS, sent as setlk with FUSE_LK_FLOCK
 *     (libfuse calls .flock with LOCK_SH/EX/UN, | LOCK_NB when it may not
 *     sleep), owner = hash of the open file; whole file, a class of its
 *     own. The release of the file carries FUSE_RELEASE_FLOCK_UNLOCK and
 *     that owner (fi->flock_release, fi->lock_owner).
 *   - A close of any fd sends flush with the process's lock_owner: POSIX
 *     says all its fcntl locks on the file go (lkc_release_owner).
 *   - A blocked FUSE_SETLKW is interrupted (FUSE_INTERRUPT) by any
 *     signal, including SIGKILL; the kernel then still waits for the
 *     reply, which is EINTR (restarted by the kernel for SA_RESTART).
 *   - F_GETLK's l_pid: the kernel maps the pid in the reply to a local
 *     process; a pid from another host means nothing here, so a holder on
 *     another node is reported with pid 0 (its node and pid are in the
 *     daemon's log and in the trusted.csvfs.locks xattr).
 *
 * Threads: every call is thread-safe; lkc_set and lkc_get block on the
 * coordinator; lkc_wake, lkc_cancel and lkc_reclaim never block.
 */
#ifndef CSVFS_FS_LKC_H
#define CSVFS_FS_LKC_H

#include <stdint.h>

#include "lockd/plock.h"

struct lkc;
struct mdc;

/* Completion of a queued request: 0 (granted), -EINTR, or -errno. */
typedef void (*lkc_done_fn)(void *arg, int rc);

/*
 * cluster: another coordinator may take over (reclaims; a first, empty
 * reclaim is sent at once so that a coordinator in its grace period does
 * not wait for this node). Returns 0 or -errno.
 */
int lkc_new(struct mdc *mdc, uint32_t node, int cluster, struct lkc **out);
/* Stops the worker; no call may be running. Completes nothing more. */
void lkc_free(struct lkc *l);

/* A fresh id for a request that may wait (unique on this node). */
uint64_t lkc_wait_id(struct lkc *l);
/*
 * Sets req (req->node is set to this node) on ino through the open file
 * handle fh. Returns 0 granted, -EAGAIN (conflict, wait not set),
 * -EDEADLK, -EINVAL, another -errno, or -EINPROGRESS when queued (wait
 * set): done(arg, rc) is then called exactly once, later, from another
 * thread (or from lkc_cancel's caller).
 */
int lkc_set(struct lkc *l, uint64_t ino, uint64_t fh, const struct plock *req,
	    int wait, uint64_t wait_id, lkc_done_fn done, void *arg);
/* F_GETLK: 0 with *found and *holder (holder->pid 0 if not ours). */
int lkc_get(struct lkc *l, uint64_t ino, const struct plock *req,
	    int *found, struct plock *holder);
/* Interrupt of request wait_id: completes it with -EINTR unless granted. */
void lkc_cancel(struct lkc *l, uint64_t wait_id);
/* The coordinator's LOCK_WAKE push. */
void lkc_wake(struct lkc *l, uint64_t wait_id);
/* The coordinator changed or the connection was remade: reclaim. */
void lkc_reclaim(struct lkc *l);
/*
 * Close of an fd by the process owner (flush): its POSIX-class locks on
 * ino go. Only talks to the coordinator when the node holds some.
 */
int lkc_release_owner(struct lkc *l, uint64_t ino, uint64_t owner,
		      uint32_t cls);
/* Release of handle fh: the locks taken through it (OFD owners) go. */
int lkc_release_fh(struct lkc *l, uint64_t ino, uint64_t fh);
/* Locks this node holds (the mirror), for tests and status. */
unsigned long lkc_held(struct lkc *l);

#endif /* CSVFS_FS_LKC_H */
