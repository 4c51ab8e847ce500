/*
 * own: the node's side of the file-ownership protocol, in one place.
 *
 * The rules (who may hold a file in which mode) are lockd/lockd.c's; the
 * coordinator applies them (meta/mds/mds_own.c) and, to hand a file from
 * this node to another (HANDOFF), pushes a RECALL here (payload codec:
 * net/msg.c msg_recall_decode). This node then
 *   1. closes the file's write gate (own_gate_revoke, through
 *      fs/data.c data_recall): no write reaches the device any more;
 *   2. flushes: the device first, then the WRITE_DONE report of what was
 *      written (data_recall);
 *   3. answers RECALL_DONE with the outcome (own_recall_answer).
 * Steps 1-3 run on a thread of their own (own_recall_spawn): the recall
 * sends RPCs, whose replies the push reader thread delivers.
 *
 * A revoked gate opens again only when the coordinator says this node
 * owns the file once more (a handoff back): own_gate_enter asks it. The
 * gate is also closed on every open file when the node was fenced and is
 * unfenced (data_fence): its holds may have been broken meanwhile.
 */
#ifndef CSVFS_FS_OWN_H
#define CSVFS_FS_OWN_H

#include <pthread.h>
#include <stdint.h>

#include "csvfs/proto.h"

struct mdc;

/* The write gate of one open file. */
struct own_gate {
	/*
	 * Writes hold lock for reading while they reach the device; a
	 * recall takes it for writing to set revoked. Writer-preferring: a
	 * recall must not starve behind a stream of writes.
	 */
	pthread_rwlock_t lock;
	int revoked;		/* handed off: writes get EIO */
};

void own_gate_init(struct own_gate *g);
void own_gate_destroy(struct own_gate *g);
/* Closes the gate: waits for the writes inside it. Any thread. */
void own_gate_revoke(struct own_gate *g);
/*
 * Lets a write of ino through the gate: 0 with the gate held (leave with
 * own_gate_leave), or -EIO when the file is revoked and the coordinator
 * (mdc_getattr) does not name this node (node) its writer nor the file
 * multi-writer. When a revoked gate opens again, restored(arg, attr) runs
 * first with the gate held exclusively, to drop what the node cached of
 * the file while it was not the owner.
 */
int own_gate_enter(struct own_gate *g, struct mdc *mdc, uint64_t ino,
		   uint32_t node,
		   void (*restored)(void *arg, const struct csvfs_attr *a),
		   void *arg);
void own_gate_leave(struct own_gate *g);

/*
 * Runs fn(ctx, ino) -- the daemon's recall of ino -- on a detached thread
 * of its own. 0, -ENOMEM or -errno of pthread_create.
 */
int own_recall_spawn(void (*fn)(void *ctx, uint64_t ino), void *ctx,
		     uint64_t ino);
/*
 * Step 3: tells the coordinator (RECALL_DONE) how the recall of ino
 * ended (rc: 0 or -errno of the flush). Logs either failure.
 */
void own_recall_answer(struct mdc *mdc, uint64_t ino, int rc);

#endif /* CSVFS_FS_OWN_H */
