/*
 * mds: the metadata service — the coordinator. It alone changes metadata on
 * the device. Requests arrive as encoded messages of include/csvfs/proto.h,
 * from the local FUSE daemon (standalone: fs/local.h) or from other
 * nodes over TLS; mds_dispatch validates and decodes each through a table
 * indexed by type, runs the handler in one metadata transaction, and encodes
 * the reply.
 *
 * Lifecycle: mds_start replays the journal, loads the allocator and starts
 * the commit thread; mds_stop commits, checkpoints and marks the volume
 * clean.
 */
#ifndef CSVFS_MDS_H
#define CSVFS_MDS_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"

struct dev;
struct mds;

struct mds_opts {
	uint32_t node_id;	/* this node (1 in standalone mode) */
	int standalone;		/* refuse if another node's heartbeat lives */
	unsigned commit_ms;	/* group-commit interval, 0 = default 5 ms */
	int chunk_no_spare;	/* tests: give back every empty meta and sub
				 * chunk (else one of each kind is kept) */
	/*
	 * Cluster mode, file handoff (NULL: HANDOFF is refused). is_member:
	 * whether node is in the membership now. recall: asks node to
	 * recall ino (flush, drop caches, revoke handles) before it moves to
	 * node "to"; the node answers with a RECALL_DONE request. Returns 0
	 * once asked, or -errno (-ENOTCONN: the node is not connected).
	 * Called from a request thread without any mds lock held.
	 */
	int (*is_member)(void *ctx, uint32_t node);
	int (*recall)(void *ctx, uint32_t node, uint64_t ino, uint32_t to);
	void *own_ctx;
	unsigned recall_ms;	/* how long a handoff waits; 0 = 5000 */
	/* A node out of the membership whose heartbeat has not advanced
	 * this long is dead: its file ownership is broken; 0 =
	 * CSVFS_HB_DEAD_MS. */
	unsigned dead_ms;
	/*
	 * Cluster mode, client caches (NULL: nodes cache nothing). Sends an
	 * INVAL of inos[0..n-1] to node (include/csvfs/proto.h); id 0 wants
	 * no acknowledgement. Returns 0 once sent (node then answers with
	 * INVAL_ACK id), 1 when done at once (this node's own cache), or
	 * -errno. Called from a request thread without any mds lock held.
	 */
	int (*inval)(void *ctx, uint32_t node, uint64_t id,
		     const uint64_t *inos, uint32_t n);
	/* Lease of the nodes' cache entries; 0 = CSVFS_CACHE_LEASE_MS. */
	unsigned lease_ms;
	/*
	 * Low-space warning: logged once when the space free for general
	 * allocation falls below this percentage of the volume, and again
	 * when it recovers. 0 = 10 %, negative = never.
	 */
	int lowspace_pct;
	/*
	 * Application locks (meta/mds/mds_lock.c): tells node that its queued
	 * lock request wait_id may be granted now (a LOCK_WAKE push; for
	 * this node's own daemon a direct call). Returns 0 once sent or
	 * -errno. Called without any mds lock held; must not wait for a
	 * request of the node. NULL: nobody is woken (standalone without a
	 * daemon, tests).
	 */
	int (*lock_wake)(void *ctx, uint32_t node, uint64_t wait_id);
	void *lock_ctx;
	/* Cluster mode: the locks' grace period after a start; 0 = 10 s. */
	unsigned lock_grace_ms;
	/*
	 * Cluster mode: wait this long after the epoch bump before the
	 * replay (the replaced coordinator was deposed, not ended: its
	 * writes under an older epoch proof end in this time; lockd/hb.h
	 * CSVFS_FENCE_WAIT_MS). 0: no wait.
	 */
	unsigned fence_wait_ms;
};

/*
 * Opens the coordinator on an open device: checks the superblock, bumps
 * the coordinator epoch on disk, replays the journal, reclaims orphans and
 * starts the commit thread. Returns 0 or -errno / -CSVFS_E*; on error a
 * message naming the cause has been logged.
 */
int mds_start(struct dev *dev, const struct mds_opts *o, struct mds **out);
/* Commits everything, marks the volume clean, frees m. */
int mds_stop(struct mds *m);
/*
 * The role was taken away (this coordinator was deposed): frees m and
 * writes nothing at all, neither a commit nor the clean state; changes
 * not yet committed are lost as in a crash (their requests were not
 * answered as durable: nodes resend unanswered ones to the new
 * coordinator). Caller guarantees no request runs in m any more.
 */
void mds_abandon(struct mds *m);
/*
 * The first step of mds_abandon, for while requests may still run in m:
 * from its return on nothing of m reaches the device. Any thread.
 */
void mds_fence(struct mds *m);
/* The coordinator epoch mds_start wrote on disk. */
uint64_t mds_epoch(const struct mds *m);

/*
 * Handles one request. payload has hdr->length bytes. On return *reply
 * (malloc'd, may be NULL when empty) holds the reply payload. Returns the
 * reply status: 0 or a negative errno. Thread-safe.
 */
int mds_dispatch(struct mds *m, const struct csvfs_msg_hdr *hdr,
		 const uint8_t *payload, uint8_t **reply, size_t *reply_len);

/*
 * Whether mds_dispatch answers requests of this type (anything else gets
 * -EOPNOTSUPP). Any thread; for the checks of tests/unit/proto_test.c.
 */
int mds_handles(unsigned type);


#endif /* CSVFS_MDS_H */
