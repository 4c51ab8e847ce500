/*
 * memb: cluster membership and ordered messages through Corosync: one CPG
 * process group per volume ("csvfs-" + volume UUID), quorum from
 * votequorum. A dispatch thread polls both Corosync fds and calls back;
 * callbacks run on that thread, one at a time, in Corosync's total order,
 * so every member sees the same sequence of membership changes and
 * messages (the basis of a deterministic coordinator choice).
 */
#ifndef CSVFS_MEMB_H
#define CSVFS_MEMB_H

#include <stddef.h>
#include <stdint.h>

struct memb;

/* A group member: one daemon (process) on one node. */
struct memb_member {
	uint32_t node;
	uint32_t pid;
	uint32_t reason;	/* left members: MEMB_LEFT_* */
};

/* Why a member left the group. */
#define MEMB_LEFT_CLEAN	1	/* it left (cpg_leave): unmounted */
#define MEMB_LEFT_PROC	2	/* its process ended; its node stays */
#define MEMB_LEFT_NODE	3	/* its node left the membership */

struct memb_cb {
	/*
	 * The group's configuration changed: members (sorted by node, then
	 * pid) and the members that left since the last call. n 0: the
	 * connection to corosync is lost.
	 */
	void (*confchg)(void *ctx, const struct memb_member *members,
			size_t n, const struct memb_member *left,
			size_t nleft);
	/* The cluster's quorum changed (votequorum; not in the total order). */
	void (*quorum)(void *ctx, int quorate);
	/*
	 * Whether the quorum this process knows is the quorum of the ring
	 * it is in (current 1) or may be older (0). A group change that
	 * says a member's node left the membership makes it 0 (this call
	 * comes before that confchg); it is 1 again once Corosync delivered
	 * that ring's totem membership (it follows the ring's group
	 * changes) and a quorum notification for that ring or a later one
	 * (the two arrive on separate connections, in either order). So a
	 * node cut off alone, which may see the group change before its
	 * quorum loss, learns from current == 1 that quorate is final. As
	 * dlm_controld waits for its quorum ring to match its CPG ring.
	 */
	void (*ring)(void *ctx, int current, int quorate);
	/* A message multicast by a member (including this process). */
	void (*message)(void *ctx, uint32_t node, uint32_t pid,
			const void *msg, size_t len);
	/* The timer armed with memb_timer ran out. */
	void (*timer)(void *ctx);
};

/*
 * Connects to the local corosync, joins group and starts tracking quorum.
 * *out is set before the first callback can run. Returns 0 or -errno
 * (-ENOTCONN when corosync is not running).
 */
int memb_start(const char *group, const struct memb_cb *cb, void *ctx,
	       struct memb **out);
/* Leaves the group and stops the dispatch thread. */
void memb_stop(struct memb *m);
uint32_t memb_local_node(const struct memb *m);
/* This process's id as the group lists it. */
uint32_t memb_local_pid(const struct memb *m);
/*
 * Arms the one timer: cb->timer runs on the dispatch thread after ms
 * milliseconds; ms < 0 disarms it. Only from a callback (the dispatch
 * thread), so timer events are ordered with the others.
 */
void memb_timer(struct memb *m, int ms);
/*
 * The ring0 address of node (from corosync's nodelist) into addr.
 * Returns 0, -ENOENT if the node is not in the nodelist, or -errno.
 */
int memb_node_addr(uint32_t node, char *addr, size_t len);
/* Multicasts msg to the group in total order (retries CS_ERR_TRY_AGAIN). */
int memb_send(struct memb *m, const void *msg, size_t len);

#endif /* CSVFS_MEMB_H */
