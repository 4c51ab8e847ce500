/*
 * elect: the coordinator election, a state machine driven only by what
 * Corosync CPG delivers to every member of the volume's group in one total
 * order (configuration changes and CPG_TYPE_AGREED messages: virtual
 * synchrony), plus this node's quorum and one timer. It does no I/O of its
 * own: it calls back to multicast, to start or stop the role and to follow
 * a coordinator (fs/cluster.c), so the unit test drives it through
 * simulated total orders.
 *
 * Thread: one caller at a time (cluster.c holds its lock and calls from
 * the Corosync dispatch thread, or from any thread for elect_move and
 * elect_leave). The callbacks run inside these calls.
 */
#ifndef CSVFS_FS_ELECT_H
#define CSVFS_FS_ELECT_H

#include <stddef.h>
#include <stdint.h>
#include "csvfs/proto.h"
#include "net/memb.h"
#include "net/msg.h"

enum elect_state {
	ELECT_JOINING,		/* joined, no configuration delivered yet */
	ELECT_SYNC,		/* a round runs: every member's STATE awaited */
	ELECT_WAIT_RESIGN,	/* elected; another member still serves */
	ELECT_GRACE,		/* elected; the last coordinator vanished with
				 * its node: wait until it has fenced itself */
	ELECT_START_FAILED,	/* elected, but the role did not start: a new
				 * round after a pause */
	ELECT_SERVING,		/* this node is the coordinator */
	ELECT_WAIT_ANNOUNCE,	/* another node is elected: wait for it */
	ELECT_FOLLOWING,	/* the coordinator is known and serves */
	ELECT_NO_QUORUM,	/* no quorum here: neither serve nor follow */
	ELECT_LEAVING,		/* unmounting: never serve again */
};

struct elect_ops {
	/* Multicasts an encoded election message in the total order. */
	int (*send)(void *ctx, const void *msg, size_t len);
	/*
	 * Starts the role (bumps the epoch on disk, replays the journal,
	 * listens). Returns 0 with *epoch set to the epoch now on disk, or
	 * -errno.
	 */
	int (*start)(void *ctx, uint64_t *epoch);
	/* Stops the role: commits, checkpoints, stops listening. */
	void (*stop)(void *ctx, const char *why);
	/*
	 * Requests go to node (listening on port, serving with epoch) from
	 * now on; node 0: no coordinator is known, requests wait.
	 */
	void (*follow)(void *ctx, uint32_t node, uint16_t port, uint64_t epoch);
	/* Arms the one timer (elect_timer after ms); ms < 0 disarms it. */
	void (*timer)(void *ctx, int ms);
	/*
	 * This node was deposed (its process was frozen while the others
	 * waited for it): drops the role writing nothing more, since
	 * another node may already serve. NULL: stop is called instead.
	 */
	void (*abandon)(void *ctx, const char *why);
};

struct elect_opts {
	uint32_t node;		/* this node's id */
	uint32_t pid;		/* this daemon's pid in the group */
	uint16_t port;		/* where this node serves when elected */
	uint64_t disk_epoch;	/* the coordinator epoch read at mount */
	/* After a coordinator went away with its node: wait this long
	 * before taking over (it loses quorum and stops in that time). */
	unsigned grace_ms;
	unsigned retry_ms;	/* after a failed start; 0 = 1000 */
};

struct elect_round {
	int seen;
	uint32_t flags;		/* CSVFS_ELECTF_* of the member's STATE */
	uint32_t preferred;
	uint64_t epoch;
};

struct elect {
	struct elect_opts o;
	struct elect_ops ops;
	void *ctx;
	enum elect_state state;
	int quorate;
	int synced;		/* took part in a decided round */
	/* The configuration and the round within it. */
	struct msg_elect_member view[CSVFS_ELECT_MAX_MEMBERS];
	uint32_t nview;
	uint32_t round;
	struct elect_round st[CSVFS_ELECT_MAX_MEMBERS];
	uint32_t nseen;
	/* What the members agree on (after a decided round). */
	struct msg_elect_member target;	/* node 0: nobody */
	uint32_t preferred;		/* csvfsctl coordinator move */
	uint64_t epoch;			/* the highest epoch known */
	/* The coordinator followed (node 0: none). */
	struct msg_elect_member coord;
	uint16_t coord_port;
	uint32_t lost;			/* CSVFS_ELECTF_LOST_* */
	/* The role here. */
	int serving;
	uint64_t serve_epoch;
	uint64_t rounds;		/* decided rounds (statistics) */
	/*
	 * Deposed members of this configuration (ELECT_DEPOSE; by view
	 * index): their STATEs do not count, they are never the target.
	 * Cleared at every configuration change, which all members see at
	 * the same position of the order (a member that joins knows none).
	 */
	uint8_t deposed[CSVFS_ELECT_MAX_MEMBERS];
	uint32_t ndeposed;
	uint64_t conf_gen;		/* configuration changes seen */
	uint64_t depose_sent;		/* (conf_gen, round, node) sent last */
	uint32_t depose_sent_node;
	uint32_t depose_sent_round;
	uint64_t deposes;		/* members deposed (statistics) */
	/* ELECT_GRACE: the node of the coordinator that went away with it. */
	uint32_t grace_node;
	/* The quorum known is the current ring's (elect_ring). */
	int ring_current;
	/* During ops.start: the last coordinator may still write under an
	 * old epoch proof (it was deposed, or the grace ran out without
	 * proof that it stopped): wait before replay. */
	int start_fence;
};

void elect_init(struct elect *e, const struct elect_opts *o,
		const struct elect_ops *ops, void *ctx);
/* A configuration change (memb_cb.confchg; members sorted by node, pid). */
void elect_confchg(struct elect *e, const struct memb_member *members,
		   size_t n, const struct memb_member *left, size_t nleft);
/* This node's quorum changed. */
void elect_quorum(struct elect *e, int quorate);
/*
 * Whether this node's quorum is known for the ring it is in
 * (memb_cb.ring). Once it is, and quorate, the grace after a lost
 * coordinator node ends at once: the grace is only the time in which a
 * node cut off alone learns that it lost quorum.
 */
void elect_ring(struct elect *e, int current, int quorate);
/* A multicast message from member (node, pid) of the group. */
void elect_deliver(struct elect *e, uint32_t node, uint32_t pid,
		   const void *msg, size_t len);
/* The timer ran out. */
void elect_timer(struct elect *e);
/*
 * Asks every member to move the role to node (a new round). Returns 0,
 * -EHOSTUNREACH (node is not a member) or the send error.
 */
int elect_move(struct elect *e, uint32_t node);
/*
 * The members this node waits for and whose heartbeats it should watch:
 * the coordinator it follows, the target it waits for, a member that
 * still serves and has not resigned, in a running round the members
 * whose STATE has not come, and during the grace the node of the lost
 * coordinator (no longer a member). Writes up to max node ids to nodes (never
 * this node's own); returns how many.
 */
int elect_waiting_for(const struct elect *e, uint32_t *nodes, int max);
/*
 * Multicasts ELECT_DEPOSE for node's member: its heartbeat has not
 * advanced for CSVFS_DEPOSE_MS while this node waits for it. Returns 0
 * once sent, -EALREADY when sent in this round already, -ENOENT when
 * node is not one elect_waiting_for names, or the send error.
 */
int elect_depose(struct elect *e, uint32_t node);
/*
 * node's heartbeat has stood still for CSVFS_GRACE_HB_MS: when it is the
 * lost coordinator's node this node waits the grace for, that node has
 * fenced itself (it stops its role before its stamps), so the grace ends
 * now. Otherwise nothing.
 */
void elect_fenced(struct elect *e, uint32_t node);
/* Unmount: stops and resigns the role if held; never serves again. */
void elect_leave(struct elect *e);
/* "sync", "serving"...: the state's name for logs and status. */
const char *elect_state_name(enum elect_state s);

#endif /* CSVFS_FS_ELECT_H */
